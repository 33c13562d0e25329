/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dnnl_ops.c - 1x1 quantized convolutions and fully connected layers as
 * oneDNN int8 matrix multiplications (IMS__STEP_DNNL steps).
 *
 * Why: on CPUs with AVX-512 VNNI, oneDNN's JIT int8 kernels
 * ("brg:avx512_core_vnni") run these layers ~1.7x faster than the XNNPACK
 * snapshot we build with, which has no VNNI kernels, and 1x1 convolutions
 * are ~90 % of MobileNetV2's multiply-adds. Everything else stays on
 * XNNPACK (xnn_ops.c).
 *
 * The math: a 1x1 stride-1 convolution over NHWC activations is
 * dst[M x N] = src[M x K] * W[K x N] with M = batch * H * W pixels, K input
 * and N output channels; OHWI weights {N,1,1,K} are W's transpose as they
 * lie, so they need no copy. oneDNN's integer semantics match TFLite's:
 *   dst = sat(round_even(clip(scale[n] * (sum_k (x - zx) (w - zw)
 *                               + bias[n]))) + zd)
 * with clip the fused activation's range (a post-op) and the rounding an
 * explicit post-op, so zd is added to an integer as XNNPACK does.
 *  - int8 models: s8 activations with a src zero point, s8 symmetric
 *    per-channel weights (scale[n] = sx * sw[n] / sd, mask 1 << 1).
 *  - uint8 models: u8 activations, u8 weights with zero point zw. oneDNN
 *    takes only s8 weights, so they are stored as w - 128 (exact: the byte
 *    with its top bit flipped) with weights zero point zw - 128; then
 *    (w - 128) - (zw - 128) = w - zw exactly. One common scale.
 * The result is bit-identical to XNNPACK's fp32 requantization (checked
 * by tests/infer_backends.c) as long as (float)acc + (float)bias, which
 * oneDNN computes, equals (float)(acc + bias): true below 2^24.
 *
 * Not here: padded, strided or grouped convolutions (depthwise) - oneDNN
 * handles them but not faster than XNNPACK on our models.
 *
 * Threading: oneDNN (libgomp build) would start its own OpenMP team, and
 * two spinning pools on a 2-core machine fight badly. So every oneDNN
 * primitive is created and run with OpenMP limited to one thread, and a
 * layer's M rows are split into one chunk per worker of the engine's
 * pthreadpool - the pool XNNPACK uses - each chunk running with its own
 * stream and user-managed scratchpad. The calling thread's OpenMP thread
 * count is restored after each call.
 *
 * Sections: 1. helpers 2. context 3. create (weights packed once)
 * 4. setup (primitives per batch size) 5. run 6. destroy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "core/error.h"
#include "infer/infer.h"

/* libgomp's API, declared here rather than through <omp.h> so the file
 * builds without -fopenmp (clang's -fopenmp would link a second OpenMP
 * runtime, libomp, next to the libgomp libdnnl uses). */
extern int omp_get_max_threads(void);
extern void omp_set_num_threads(int n);

#define SCRATCH_ALIGN 64

struct ims__dnnl_ctx {
  dnnl_engine_t engine;     /* owned CPU engine */
  size_t threads;           /* workers = chunks per layer at most */
  dnnl_stream_t *streams;   /* owned, one per worker */
  void **scratch;           /* owned, one scratchpad per worker */
  size_t scratch_size;      /* bytes of each scratch[i] */
};

struct ims__dnnl_step {
  ims__dnnl_ctx *ctx;           /* BORROWED from the engine */
  dnnl_primitive_attr_t attr;   /* owned: scales, zero points, clip */
  dnnl_data_type_t type;        /* activations: dnnl_s8 or dnnl_u8 */
  size_t k, n;                  /* input / output channels */
  size_t rows_per_image;        /* M of one image */
  dnnl_memory_desc_t wmd;       /* packed weights layout */
  dnnl_memory_t weights;        /* owned packed weights */
  dnnl_memory_t bias;           /* owned view of the model's bias, or NULL */
  char impl[48];                /* oneDNN's implementation name */
  size_t chunks;                /* chunks of the current batch; 0 = none */
  size_t chunk_rows;            /* rows per chunk but the last */
  dnnl_primitive_t prim[2];     /* owned: full chunk, last chunk */
  dnnl_memory_t *src, *dst;     /* owned, one per chunk (ctx->threads) */
  dnnl_memory_t *pad;           /* owned scratchpad views, per chunk */
  ims_error *err;               /* run: where a chunk reports failure */
  int failed;                   /* run: a chunk failed */
};

/* ---- 1. helpers ------------------------------------------------------ */

static const char *dnnl_status_str(dnnl_status_t s) {
  switch (s) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    case dnnl_runtime_error: return "runtime error";
    default: return "oneDNN error";
  }
}

static ims_status dnnl_fail(dnnl_status_t ds, const ims__node *n,
                            const char *what, ims_error *err) {
  ims_status st = ds == dnnl_out_of_memory ? IMS_ERR_NO_MEMORY
                                           : IMS_ERR_BACKEND;
  if (n == NULL)
    return ims__fail(err, st, "oneDNN %s failed: %s", what,
                     dnnl_status_str(ds));
  return ims__fail(err, st, "%s (operator %u): oneDNN %s failed: %s",
                   n->source_name, n->source_index, what,
                   dnnl_status_str(ds));
}

/* OpenMP limited to one thread on this thread; returns the old count. */
static int omp_single_begin(void) {
  int prev = omp_get_max_threads();
  if (prev != 1) omp_set_num_threads(1);
  return prev;
}

static void omp_single_end(int prev) {
  if (prev != 1) omp_set_num_threads(prev);
}

static const ims__tensor *tin(const ims_model *m, const ims__node *n, int k) {
  return &m->tensors[n->inputs[k]];
}

/* Matrix descriptor {rows, cols} of 8-bit type t; row-major ("ab") or, for
 * weights given as {N, K} in memory, column-major ("ba"). */
static dnnl_status_t matrix_md(dnnl_memory_desc_t *md, size_t rows,
                               size_t cols, dnnl_data_type_t t,
                               dnnl_format_tag_t tag) {
  dnnl_dims_t dims = {(dnnl_dim_t)rows, (dnnl_dim_t)cols};
  return dnnl_memory_desc_init_by_tag(md, 2, dims, t, tag);
}

/* ---- 2. context ------------------------------------------------------ */

ims_status ims__dnnl_ctx_create(size_t threads, ims__dnnl_ctx **ctx_out,
                                ims_error *err) {
  dnnl_status_t ds = dnnl_success;
  ims__dnnl_ctx *c = calloc(1, sizeof *c);
  if (c == NULL) goto oom;
  c->threads = threads ? threads : 1;
  c->streams = calloc(c->threads, sizeof *c->streams);
  c->scratch = calloc(c->threads, sizeof *c->scratch);
  if (c->streams == NULL || c->scratch == NULL) goto oom;
  ds = dnnl_engine_create(&c->engine, dnnl_cpu, 0);
  for (size_t i = 0; ds == dnnl_success && i < c->threads; i++)
    ds = dnnl_stream_create(&c->streams[i], c->engine,
                            dnnl_stream_default_flags);
  if (ds != dnnl_success) goto fail;
  *ctx_out = c;
  return IMS_OK;
oom:
  ds = dnnl_out_of_memory;
fail:
  ims__dnnl_ctx_destroy(c);
  return dnnl_fail(ds, NULL, "engine creation", err);
}

void ims__dnnl_ctx_destroy(ims__dnnl_ctx *c) {
  if (c == NULL) return;
  for (size_t i = 0; i < c->threads; i++) {
    if (c->streams != NULL && c->streams[i] != NULL)
      dnnl_stream_destroy(c->streams[i]);
    if (c->scratch != NULL) free(c->scratch[i]);
  }
  free(c->streams);
  free(c->scratch);
  if (c->engine != NULL) dnnl_engine_destroy(c->engine);
  free(c);
}

/* Grow every worker's scratchpad to `size` bytes (setup time only). */
static dnnl_status_t ctx_reserve(ims__dnnl_ctx *c, size_t size) {
  if (size <= c->scratch_size) return dnnl_success;
  size = (size + SCRATCH_ALIGN - 1) / SCRATCH_ALIGN * SCRATCH_ALIGN;
  for (size_t i = 0; i < c->threads; i++) {
    free(c->scratch[i]);
    c->scratch[i] = aligned_alloc(SCRATCH_ALIGN, size);
    if (c->scratch[i] == NULL) {
      c->scratch_size = 0;
      return dnnl_out_of_memory;
    }
  }
  c->scratch_size = size;
  return dnnl_success;
}

/* ---- 3. create ------------------------------------------------------- */

bool ims__dnnl_eligible(const ims_model *m, const ims__node *n) {
  if (n->op != IMS__OP_CONV_2D && n->op != IMS__OP_FULLY_CONNECTED)
    return false;
  const ims__tensor *in = tin(m, n, 0), *w = tin(m, n, 1);
  const ims__tensor *out = &m->tensors[n->output];
  if (in->type != w->type || in->type != out->type) return false;
  if (n->input_count > 2 && tin(m, n, 2)->type != IMS_TENSOR_I32)
    return false;
  if (in->type == IMS_TENSOR_U8) {
    if (w->channel_scales != NULL) return false;
  } else if (in->type == IMS_TENSOR_I8) {
    if (w->zero_point != 0) return false;
    if (w->channel_scales != NULL && w->channel_count != w->shape[0])
      return false;
  } else {
    return false;
  }
  if (n->op == IMS__OP_FULLY_CONNECTED) return w->rank == 2;
  bool pads = n->padding == IMS__PAD_EXPLICIT &&
              (n->pad_top | n->pad_left | n->pad_bottom | n->pad_right);
  return w->rank == 4 && w->shape[1] == 1 && w->shape[2] == 1 &&
         in->rank == 4 && w->shape[3] == in->shape[3] && !pads &&
         (n->stride_h <= 1 && n->stride_w <= 1);
}

/* Output scales, zero points and fused clamp of node n into `attr`. */
static dnnl_status_t fill_attr(const ims_model *m, const ims__node *n,
                               dnnl_primitive_attr_t attr) {
  const ims__tensor *in = tin(m, n, 0), *w = tin(m, n, 1);
  const ims__tensor *o = &m->tensors[n->output];
  size_t count = w->channel_scales != NULL ? w->channel_count : 1;
  float *scales = malloc(count * sizeof *scales);
  dnnl_post_ops_t po = NULL;
  if (scales == NULL) return dnnl_out_of_memory;
  for (size_t i = 0; i < count; i++) /* XNNPACK's order of operations */
    scales[i] = in->scale * (w->channel_scales ? w->channel_scales[i]
                                               : w->scale) / o->scale;
  int32_t zx = in->zero_point, zd = o->zero_point;
  int32_t zw = in->type == IMS_TENSOR_U8 ? w->zero_point - 128 : 0;
  int32_t lo, hi;
  ims__q8_range(o, n->activation, &lo, &hi);
  dnnl_status_t ds = dnnl_primitive_attr_set_output_scales(
      attr, (dnnl_dim_t)count, count > 1 ? 1 << 1 : 0, scales);
  if (ds == dnnl_success && zx != 0)
    ds = dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_SRC, 1, 0, &zx);
  if (ds == dnnl_success && zw != 0)
    ds = dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_WEIGHTS, 1, 0,
                                             &zw);
  if (ds == dnnl_success && zd != 0)
    ds = dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_DST, 1, 0, &zd);
  if (ds == dnnl_success)
    ds = dnnl_primitive_attr_set_scratchpad_mode(attr,
                                                 dnnl_scratchpad_mode_user);
  /* Post-ops run before oneDNN adds zd in float and rounds. Round first,
   * like XNNPACK: rounding x + zd instead of x flips results where x is
   * just below .5 (38.49999 + 127 is 165.5 in float). The clamp bounds are
   * integers, so clamping before rounding equals clamping after. */
  if (ds == dnnl_success) ds = dnnl_post_ops_create(&po);
  if (ds == dnnl_success && n->activation != IMS__ACT_NONE)
    ds = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip,
                                      (float)(lo - zd), (float)(hi - zd));
  if (ds == dnnl_success)
    ds = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_round, 0, 0);
  if (ds == dnnl_success) ds = dnnl_primitive_attr_set_post_ops(attr, po);
  if (po != NULL) dnnl_post_ops_destroy(po);
  free(scales);
  return ds;
}

/* Primitive descriptor for `rows` rows; weights in the packed layout if
 * `wmd` is given, else in the layout oneDNN prefers. Call with OpenMP at
 * one thread: oneDNN fixes a primitive's thread count here. */
static dnnl_status_t make_pd(const ims__dnnl_step *d, size_t rows,
                             const dnnl_memory_desc_t *wmd,
                             dnnl_primitive_desc_t *pd_out) {
  dnnl_memory_desc_t src, wany, bias, dst;
  dnnl_matmul_desc_t desc;
  dnnl_dims_t bias_dims = {1, (dnnl_dim_t)d->n};
  dnnl_status_t ds = matrix_md(&src, rows, d->k, d->type, dnnl_ab);
  if (ds == dnnl_success)
    ds = matrix_md(&dst, rows, d->n, d->type, dnnl_ab);
  if (ds == dnnl_success && wmd == NULL)
    ds = matrix_md(&wany, d->k, d->n, dnnl_s8, dnnl_format_tag_any);
  if (ds == dnnl_success)
    ds = dnnl_memory_desc_init_by_tag(&bias, 2, bias_dims, dnnl_s32,
                                      dnnl_ab);
  if (ds == dnnl_success)
    ds = dnnl_matmul_desc_init(&desc, &src, wmd ? wmd : &wany,
                               d->bias ? &bias : NULL, &dst);
  if (ds == dnnl_success)
    ds = dnnl_primitive_desc_create(pd_out, &desc, d->attr,
                                    d->ctx->engine, NULL);
  return ds;
}

/* Pack the model's weights once into layout d->wmd. The reorder also
 * computes whatever compensation oneDNN's kernels keep next to them. */
static dnnl_status_t pack_weights(ims__dnnl_step *d, const ims__tensor *w) {
  dnnl_memory_desc_t user;
  dnnl_primitive_desc_t rpd = NULL;
  dnnl_primitive_t reorder = NULL;
  dnnl_memory_t from = NULL;
  dnnl_engine_t eng = d->ctx->engine;
  int8_t *shifted = NULL;
  void *bytes = (void *)(uintptr_t)w->data; /* oneDNN only reads it */
  dnnl_status_t ds = dnnl_out_of_memory;
  if (d->type == dnnl_u8) { /* u8 w -> s8 w - 128, exact */
    const uint8_t *u = w->data;
    shifted = malloc(d->k * d->n);
    if (shifted == NULL) goto done;
    for (size_t i = 0; i < d->k * d->n; i++)
      shifted[i] = (int8_t)((int)u[i] - 128);
    bytes = shifted;
  }
  ds = matrix_md(&user, d->k, d->n, dnnl_s8, dnnl_ba); /* {N, K} in memory */
  if (ds == dnnl_success) ds = dnnl_memory_create(&from, &user, eng, bytes);
  if (ds == dnnl_success)
    ds = dnnl_memory_create(&d->weights, &d->wmd, eng, DNNL_MEMORY_ALLOCATE);
  if (ds == dnnl_success)
    ds = dnnl_reorder_primitive_desc_create(&rpd, &user, eng, &d->wmd, eng,
                                            NULL);
  if (ds == dnnl_success) ds = dnnl_primitive_create(&reorder, rpd);
  if (ds == dnnl_success) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from},
                               {DNNL_ARG_TO, d->weights}};
    ds = dnnl_primitive_execute(reorder, d->ctx->streams[0], 2, args);
  }
  if (ds == dnnl_success) ds = dnnl_stream_wait(d->ctx->streams[0]);
done:
  if (reorder != NULL) dnnl_primitive_destroy(reorder);
  if (rpd != NULL) dnnl_primitive_desc_destroy(rpd);
  if (from != NULL) dnnl_memory_destroy(from);
  free(shifted);
  return ds;
}

/* Whether implementation `impl` is worth taking over XNNPACK. */
static bool impl_wanted(const char *impl, bool any_jit) {
  if (impl == NULL || strncmp(impl, "ref", 3) == 0) return false;
  return any_jit || strstr(impl, "vnni") != NULL ||
         strstr(impl, "amx") != NULL;
}

/* Fields of d that depend only on the node; bias as a oneDNN memory. */
static dnnl_status_t init_layer(ims__dnnl_step *d, const ims_model *m,
                                const ims__step *s) {
  const ims__node *n = s->node;
  const ims__tensor *w = tin(m, n, 1);
  d->type = tin(m, n, 0)->type == IMS_TENSOR_U8 ? dnnl_u8 : dnnl_s8;
  d->n = w->shape[0];
  d->k = n->op == IMS__OP_FULLY_CONNECTED ? w->shape[1] : w->shape[3];
  d->rows_per_image = s->in_per_image / d->k;
  size_t t = d->ctx->threads;
  d->src = calloc(t, sizeof *d->src);
  d->dst = calloc(t, sizeof *d->dst);
  d->pad = calloc(t, sizeof *d->pad);
  if (d->src == NULL || d->dst == NULL || d->pad == NULL)
    return dnnl_out_of_memory;
  dnnl_status_t ds = dnnl_primitive_attr_create(&d->attr);
  if (ds == dnnl_success) ds = fill_attr(m, n, d->attr);
  if (ds == dnnl_success && n->input_count > 2) {
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {1, (dnnl_dim_t)d->n};
    ds = dnnl_memory_desc_init_by_tag(&md, 2, dims, dnnl_s32, dnnl_ab);
    if (ds == dnnl_success)
      ds = dnnl_memory_create(&d->bias, &md, d->ctx->engine,
                              (void *)(uintptr_t)tin(m, n, 2)->data);
  }
  return ds;
}

ims_status ims__dnnl_step_create(ims__dnnl_ctx *ctx, const ims_model *m,
                                 ims__step *s, bool any_jit,
                                 bool *taken_out, ims_error *err) {
  dnnl_primitive_desc_t pd = NULL;
  const char *impl = NULL;
  int omp = omp_single_begin();
  ims__dnnl_step *d = calloc(1, sizeof *d);
  dnnl_status_t ds = dnnl_out_of_memory;
  *taken_out = false;
  if (d == NULL) goto fail;
  d->ctx = ctx;
  ds = init_layer(d, m, s);
  if (ds == dnnl_success) ds = make_pd(d, d->rows_per_image, NULL, &pd);
  if (ds == dnnl_success)
    ds = dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
  if (ds == dnnl_unimplemented || (ds == dnnl_success &&
                                   !impl_wanted(impl, any_jit))) {
    ds = dnnl_success; /* declined: XNNPACK takes the layer */
    goto fail;
  }
  if (ds == dnnl_success) {
    snprintf(d->impl, sizeof d->impl, "%s", impl);
    d->wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    ds = pack_weights(d, tin(m, s->node, 1));
  }
  if (ds != dnnl_success) goto fail;
  dnnl_primitive_desc_destroy(pd);
  omp_single_end(omp);
  s->kind = IMS__STEP_DNNL;
  s->dnnl = d;
  *taken_out = true;
  return IMS_OK;
fail:
  if (pd != NULL) dnnl_primitive_desc_destroy(pd);
  ims__dnnl_step_destroy(d);
  omp_single_end(omp);
  if (ds == dnnl_success) return IMS_OK;
  return dnnl_fail(ds, s->node, "matmul creation", err);
}

/* ---- 4. setup -------------------------------------------------------- */

/* Drop the primitives and buffer views of the previous batch size. */
static void release_batch(ims__dnnl_step *d) {
  for (int i = 0; i < 2; i++) {
    if (d->prim[i] != NULL) dnnl_primitive_destroy(d->prim[i]);
    d->prim[i] = NULL;
  }
  for (size_t i = 0; d->src != NULL && i < d->ctx->threads; i++) {
    if (d->src[i] != NULL) dnnl_memory_destroy(d->src[i]);
    if (d->dst[i] != NULL) dnnl_memory_destroy(d->dst[i]);
    if (d->pad[i] != NULL) dnnl_memory_destroy(d->pad[i]);
    d->src[i] = d->dst[i] = d->pad[i] = NULL;
  }
  d->chunks = 0;
}

/* Primitive for chunks of `rows` rows into d->prim[which]; its views of
 * chunk i's rows of `in`/`out` and of its scratchpad (bound at run). */
static dnnl_status_t make_chunk(ims__dnnl_step *d, int which, size_t rows,
                                size_t first, size_t count, uint8_t *in,
                                uint8_t *out) {
  dnnl_primitive_desc_t pd = NULL;
  dnnl_memory_desc_t src, dst;
  dnnl_engine_t eng = d->ctx->engine;
  const char *impl = NULL;
  dnnl_status_t ds = make_pd(d, rows, &d->wmd, &pd);
  if (ds == dnnl_success)
    ds = dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
  if (ds == dnnl_success) {
    snprintf(d->impl, sizeof d->impl, "%s", impl);
    ds = dnnl_primitive_create(&d->prim[which], pd);
  }
  if (ds == dnnl_success) {
    const dnnl_memory_desc_t *pad =
        dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    ds = ctx_reserve(d->ctx, dnnl_memory_desc_get_size(pad));
    for (size_t i = first; ds == dnnl_success && i < first + count; i++)
      ds = dnnl_memory_create(&d->pad[i], pad, eng, DNNL_MEMORY_NONE);
  }
  if (ds == dnnl_success) ds = matrix_md(&src, rows, d->k, d->type, dnnl_ab);
  if (ds == dnnl_success) ds = matrix_md(&dst, rows, d->n, d->type, dnnl_ab);
  for (size_t i = first; ds == dnnl_success && i < first + count; i++) {
    size_t row = i * d->chunk_rows;
    ds = dnnl_memory_create(&d->src[i], &src, eng, in + row * d->k);
    if (ds == dnnl_success)
      ds = dnnl_memory_create(&d->dst[i], &dst, eng, out + row * d->n);
  }
  if (pd != NULL) dnnl_primitive_desc_destroy(pd);
  return ds;
}

ims_status ims__dnnl_step_setup(ims__step *s, size_t batch, ims_error *err) {
  ims__dnnl_step *d = s->dnnl;
  size_t rows = batch * d->rows_per_image;
  size_t chunks = d->ctx->threads < rows ? d->ctx->threads : rows;
  int omp = omp_single_begin();
  release_batch(d);
  d->chunk_rows = (rows + chunks - 1) / chunks;
  chunks = (rows + d->chunk_rows - 1) / d->chunk_rows;
  size_t last = rows - (chunks - 1) * d->chunk_rows;
  dnnl_status_t ds = dnnl_success;
  if (chunks > 1 || last == d->chunk_rows)
    ds = make_chunk(d, 0, d->chunk_rows, 0,
                    last == d->chunk_rows ? chunks : chunks - 1, s->in,
                    s->out);
  if (ds == dnnl_success && last != d->chunk_rows)
    ds = make_chunk(d, 1, last, chunks - 1, 1, s->in, s->out);
  omp_single_end(omp);
  if (ds != dnnl_success) {
    release_batch(d);
    return dnnl_fail(ds, s->node, "matmul setup", err);
  }
  d->chunks = chunks;
  return IMS_OK;
}

/* ---- 5. run ---------------------------------------------------------- */

/* pthreadpool task: chunk i on its own stream and scratchpad. A worker
 * may run several chunks one after the other, never one chunk twice. */
static void run_chunk(void *arg, size_t i) {
  ims__dnnl_step *d = arg;
  int omp = omp_single_begin();
  bool last = i + 1 == d->chunks && d->prim[1] != NULL;
  dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, d->src[i]},
                             {DNNL_ARG_WEIGHTS, d->weights},
                             {DNNL_ARG_DST, d->dst[i]},
                             {DNNL_ARG_SCRATCHPAD, d->pad[i]},
                             {DNNL_ARG_BIAS, d->bias}};
  dnnl_status_t ds = dnnl_memory_set_data_handle(d->pad[i],
                                                 d->ctx->scratch[i]);
  if (ds == dnnl_success)
    ds = dnnl_primitive_execute(d->prim[last ? 1 : 0], d->ctx->streams[i],
                                d->bias != NULL ? 5 : 4, args);
  if (ds == dnnl_success) ds = dnnl_stream_wait(d->ctx->streams[i]);
  if (ds != dnnl_success) __atomic_store_n(&d->failed, (int)ds,
                                           __ATOMIC_RELAXED);
  omp_single_end(omp);
}

ims_status ims__dnnl_step_run(ims__step *s, pthreadpool_t pool,
                              ims_error *err) {
  ims__dnnl_step *d = s->dnnl;
  d->failed = 0;
  if (pool == NULL || d->chunks == 1) {
    for (size_t i = 0; i < d->chunks; i++) run_chunk(d, i);
  } else {
    pthreadpool_parallelize_1d(pool, run_chunk, d, d->chunks, 0);
  }
  if (d->failed == 0) return IMS_OK;
  return dnnl_fail((dnnl_status_t)d->failed, s->node, "matmul run", err);
}

const char *ims__dnnl_step_impl(const ims__step *s) {
  return s->kind == IMS__STEP_DNNL ? s->dnnl->impl : "";
}

/* ---- 6. destroy ------------------------------------------------------ */

void ims__dnnl_step_destroy(ims__dnnl_step *d) {
  if (d == NULL) return;
  release_batch(d);
  free(d->src);
  free(d->dst);
  free(d->pad);
  if (d->weights != NULL) dnnl_memory_destroy(d->weights);
  if (d->bias != NULL) dnnl_memory_destroy(d->bias);
  if (d->attr != NULL) dnnl_primitive_attr_destroy(d->attr);
  free(d);
}
