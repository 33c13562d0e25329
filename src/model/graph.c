/* SPDX-License-Identifier: Apache-2.0 */
/*
 * graph.c - helpers for the graph form of graph_int.h that every loader
 * and the executor share: names and sizes, the model-owned arena,
 * appending tensors and nodes, and freeing the graph.
 *
 * Not here: reading any file format (tflite.c, onnx*.c), format
 * detection and the ims_model object's lifecycle (model.c), running a
 * graph (src/infer/).
 *
 * The arena is a chain of blocks, each a 16-byte aligned header followed
 * by its payload, for whatever a loader needs to outlive the load
 * (per-channel scales, realigned or converted weights, names): one list
 * to free instead of one pointer per allocation.
 *
 * Sections (keep this order):
 *   1. names and sizes (op names, type names, element counts)
 *   2. the arena
 *   3. appending tensors and nodes
 *   4. freeing the graph
 *
 * Threading: no shared state. The queries only read; the rest write the
 * one model a load is filling.
 */
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "model/graph_int.h"

/* ---- 1. names and sizes ----------------------------------------------- */

const char *ims__op_name(ims__op op) {
  switch (op) {
    case IMS__OP_CONV_2D: return "CONV_2D";
    case IMS__OP_DEPTHWISE_CONV_2D: return "DEPTHWISE_CONV_2D";
    case IMS__OP_ADD: return "ADD";
    case IMS__OP_AVERAGE_POOL_2D: return "AVERAGE_POOL_2D";
    case IMS__OP_MEAN: return "MEAN";
    case IMS__OP_FULLY_CONNECTED: return "FULLY_CONNECTED";
    case IMS__OP_RESHAPE: return "RESHAPE";
    case IMS__OP_SOFTMAX: return "SOFTMAX";
    case IMS__OP_QUANTIZE: return "QUANTIZE";
    case IMS__OP_DEQUANTIZE: return "DEQUANTIZE";
    case IMS__OP_PAD: return "PAD";
    case IMS__OP_MUL: return "MUL";
    case IMS__OP_SUB: return "SUB";
    case IMS__OP_DIV: return "DIV";
    case IMS__OP_SIGMOID: return "SIGMOID";
    case IMS__OP_HARD_SIGMOID: return "HARD_SIGMOID";
    case IMS__OP_HARD_SWISH: return "HARD_SWISH";
    case IMS__OP_CLAMP: return "CLAMP";
    case IMS__OP_MAX_POOL_2D: return "MAX_POOL_2D";
    case IMS__OP_CONCATENATE: return "CONCATENATE";
    case IMS__OP_COUNT: break;
  }
  return "UNKNOWN";
}

const char *ims__type_name(ims_tensor_type type) {
  switch (type) {
    case IMS_TENSOR_F32: return "FLOAT32";
    case IMS_TENSOR_U8: return "UINT8";
    case IMS_TENSOR_I8: return "INT8";
    case IMS_TENSOR_I32: return "INT32";
  }
  return "?";
}

size_t ims__tensor_elements(const ims__tensor *t) {
  size_t n = 1;
  for (uint32_t d = 0; d < t->rank; d++) n *= t->shape[d];
  return n;
}

size_t ims__type_size(ims_tensor_type type) {
  switch (type) {
    case IMS_TENSOR_F32: return 4;
    case IMS_TENSOR_U8: return 1;
    case IMS_TENSOR_I8: return 1;
    case IMS_TENSOR_I32: return 4;
  }
  return 0;
}

/* ---- 2. the arena ----------------------------------------------------- */

typedef struct arena_block {
  alignas(16) struct arena_block *next; /* older block, or NULL */
} arena_block;

void *ims__model_alloc(ims_model *model, size_t size) {
  if (size > SIZE_MAX - sizeof(arena_block)) return NULL;
  arena_block *b = calloc(1, sizeof *b + size);
  if (b == NULL) return NULL;
  b->next = model->arena;
  model->arena = b;
  return b + 1;
}

static void arena_free(void *arena) {
  arena_block *b = arena;
  while (b != NULL) {
    arena_block *next = b->next;
    free(b);
    b = next;
  }
}

/* ---- 3. appending tensors and nodes ----------------------------------- */

/* Room for entry `count` in *array of *cap entries of `size` bytes:
 * doubled (from 64) when full, the new entries zeroed. */
static ims_status grow(void **array, uint32_t *cap, uint32_t count,
                       size_t size, ims_error *err) {
  if (count < *cap) return IMS_OK;
  uint32_t next = *cap ? *cap * 2 : 64;
  void *p = realloc(*array, (size_t)next * size);
  if (p == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  memset((char *)p + (size_t)*cap * size, 0, (size_t)(next - *cap) * size);
  *array = p;
  *cap = next;
  return IMS_OK;
}

ims_status ims__graph_tensor_add(ims_model *model, uint32_t *cap,
                                 ims_error *err, uint32_t *id_out) {
  ims_status st = grow((void **)&model->tensors, cap, model->tensor_count,
                       sizeof *model->tensors, err);
  if (st != IMS_OK) return st;
  memset(&model->tensors[model->tensor_count], 0, sizeof *model->tensors);
  *id_out = model->tensor_count++;
  return IMS_OK;
}

ims_status ims__graph_node_add(ims_model *model, uint32_t *cap,
                               ims_error *err, uint32_t *index_out) {
  ims_status st = grow((void **)&model->nodes, cap, model->node_count,
                       sizeof *model->nodes, err);
  if (st != IMS_OK) return st;
  memset(&model->nodes[model->node_count], 0, sizeof *model->nodes);
  *index_out = model->node_count++;
  return IMS_OK;
}

/* ---- 4. freeing the graph --------------------------------------------- */

void ims__graph_free(ims_model *model) {
  arena_free(model->arena);
  free(model->tensors);
  free(model->nodes);
  model->arena = NULL;
  model->tensors = NULL;
  model->nodes = NULL;
  model->tensor_count = model->node_count = 0;
}
