/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plan.c - activation memory: where in the engine's one arena each tensor
 * lives.
 *
 * Greedy by offset: walking the nodes in execution order, each new output
 * takes the lowest gap between live tensors that fits it; a tensor dies
 * one node after its last reader (find_lifetimes says why). Views
 * (reshape/squeeze) share their source's
 * storage and keep it alive as long as they are read. The graph's output
 * never dies. For MobileNetV2 this cuts the arena from the sum of all
 * activations (~6 MB per image) to roughly the largest live pair, which
 * keeps a batch's working set closer to the caches.
 *
 * Every slot gets XNN_EXTRA_BYTES of slack, because XNNPACK kernels may read
 * (never write) that far past the end of their inputs.
 *
 * Threading: pure planning; no shared state.
 */
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "infer/infer_int.h"

#define SLOT_ALIGN 64

typedef struct live_slot {
  size_t offset;  /* start in the arena */
  size_t size;    /* bytes reserved */
  uint32_t last;  /* index of the last node reading it */
} live_slot;

size_t ims__bytes_per_image(const ims__tensor *t) {
  size_t n = ims__tensor_elements(t);
  if (t->rank > 0 && t->shape[0] > 0) n /= t->shape[0];
  return n * ims__type_size(t->type);
}

static int by_offset(const void *a, const void *b) {
  const live_slot *x = a, *y = b;
  return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Drop slots whose last reader ran before node `now`; sort the rest. */
static size_t retire(live_slot *live, size_t n, uint32_t now) {
  size_t kept = 0;
  for (size_t i = 0; i < n; i++)
    if (live[i].last >= now) live[kept++] = live[i];
  qsort(live, kept, sizeof *live, by_offset);
  return kept;
}

/* Lowest offset where `size` bytes fit between the (sorted) live slots. */
static size_t first_fit(const live_slot *live, size_t n, size_t size) {
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    if (live[i].offset >= at + size) return at;
    size_t end = live[i].offset + live[i].size;
    if (end > at) at = end;
  }
  return at;
}

/* Find, for every activation's storage root, the node after the last one
 * that reads it: a tensor lives one node longer than its readers, so the
 * output of node i + 1 never shares memory with an input of node i - a
 * fused step (fuse_ops.c) runs nodes i and i + 1 together, writing the
 * second's output while it still reads the first's input. */
static void find_lifetimes(const ims_model *m, const uint32_t *root,
                           uint32_t *last) {
  for (uint32_t t = 0; t < m->tensor_count; t++) last[t] = 0;
  for (uint32_t i = 0; i < m->node_count; i++) {
    const ims__node *n = &m->nodes[i];
    for (uint32_t k = 0; k < n->input_count; k++) {
      uint32_t r = root[n->inputs[k]];
      if (last[r] < i + 1) last[r] = i + 1;
    }
  }
  last[root[m->output]] = UINT32_MAX;
}

static size_t slot_size(const ims__tensor *t, size_t max_batch) {
  size_t bytes = ims__bytes_per_image(t) * max_batch + XNN_EXTRA_BYTES;
  return (bytes + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN;
}

/* Place root tensor r, produced at node `now`, in the arena. */
static size_t place(live_slot *live, size_t *n_live, size_t size,
                    uint32_t now, uint32_t last, size_t *arena_size) {
  *n_live = retire(live, *n_live, now);
  size_t at = first_fit(live, *n_live, size);
  live[(*n_live)++] = (live_slot){at, size, last};
  if (at + size > *arena_size) *arena_size = at + size;
  return at;
}

ims_status ims__layout_plan(const ims_model *m, size_t max_batch,
                            ims__layout *layout, ims_error *err) {
  size_t nt = m->tensor_count;
  uint32_t *last = malloc(nt * sizeof *last);
  live_slot *live = malloc((nt + 1) * sizeof *live);
  layout->offset = calloc(nt, sizeof *layout->offset);
  layout->root = malloc(nt * sizeof *layout->root);
  layout->arena_size = 0;
  if (!last || !live || !layout->offset || !layout->root) goto fail;
  for (uint32_t t = 0; t < nt; t++) layout->root[t] = t;
  for (uint32_t i = 0; i < m->node_count; i++) {
    const ims__node *n = &m->nodes[i];
    if (n->op == IMS__OP_RESHAPE)
      layout->root[n->output] = layout->root[n->inputs[0]];
  }
  find_lifetimes(m, layout->root, last);
  size_t n_live = 0;
  layout->offset[m->input] =
      place(live, &n_live, slot_size(&m->tensors[m->input], max_batch), 0,
            last[m->input], &layout->arena_size);
  for (uint32_t i = 0; i < m->node_count; i++) {
    uint32_t out = m->nodes[i].output;
    if (layout->root[out] != out) continue; /* a view: storage exists */
    layout->offset[out] =
        place(live, &n_live, slot_size(&m->tensors[out], max_batch), i,
              last[out], &layout->arena_size);
  }
  for (uint32_t t = 0; t < nt; t++)
    layout->offset[t] = layout->offset[layout->root[t]];
  free(last);
  free(live);
  return IMS_OK;
fail:
  free(last);
  free(live);
  ims__layout_free(layout);
  return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory planning buffers");
}

void ims__layout_free(ims__layout *layout) {
  free(layout->offset);
  free(layout->root);
  layout->offset = NULL;
  layout->root = NULL;
}
