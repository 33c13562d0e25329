/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dnnl_ops.c - the step kind "onednn" (ims__step_dnnl): convolutions and
 * fully connected layers on oneDNN: 1x1 convolutions and fully connected
 * layers as int8 matrix multiplications, other int8 convolutions with
 * symmetric weights (3x3, depthwise) as oneDNN convolutions, and float
 * 1x1 convolutions as f32 matrix multiplications, other dense float ones
 * as f32 oneDNN convolutions.
 *
 * Why float: oneDNN's JIT f32 GEMM runs MobileNetV2's 1x1 layers well
 * ahead of the XNNPACK snapshot's f32 kernels: the float ONNX model,
 * inference alone, 1 thread, went from ~30 to ~55-70 images/s on an
 * AVX2-only EPYC (ONNX Runtime: 50-70 in the same runs), and a 1x1
 * layer from 64 to 90 GMAC/s on AVX-512 (../shared/notes/performance.md).
 * Its direct f32 convolution (jit:avx2) runs the other dense layers 2-3x
 * faster than XNNPACK's: MobileNetV2's first layer (3x3, 3 -> 32
 * channels, stride 2) 680 -> 250 us, all of ResNet18 10 -> 23 images/s on
 * one thread. Its f32 depthwise kernels measured no faster, so XNNPACK
 * keeps those. Float sums come out in another order than XNNPACK's: results
 * differ in the last bits, well inside the float tests' tolerances.
 *
 * Why: on CPUs with AVX-512 VNNI, oneDNN's JIT int8 kernels
 * ("brg:avx512_core_vnni") run these layers ~1.7x faster than the XNNPACK
 * snapshot we build with, which has no VNNI kernels, and 1x1 convolutions
 * are ~90 % of MobileNetV2's multiply-adds. step.c's ims__step_choose
 * offers this kind the nodes ims__dnnl_eligible accepts (depthwise ones
 * only when forced); create declines, without error, those for which
 * oneDNN has no fast, exact kernel (impl_wanted), and step.c then gives
 * them to another kind.
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
 * Other convolutions (int8 models only: oneDNN convolutions take no
 * weights zero point) run as oneDNN convolutions over the same NHWC
 * buffers, weights {O,KH,KW,I} or depthwise {1,KH,KW,C} described by
 * strides, groups = C for depthwise. oneDNN treats padding as the src zero
 * point, as TFLite does. Measured ~3.5x faster than XNNPACK's qc8 kernel
 * on the 3-channel first layer; depthwise layers run no faster, so they
 * stay on XNNPACK unless IMS_ENGINE_FLAG_FORCE_ONEDNN.
 *
 * Not here: uint8 convolutions other than 1x1 (asymmetric weights; they
 * stay on XNNPACK), dilated ones, depthwise with a multiplier.
 *
 * Threading: oneDNN (libgomp build) would start its own OpenMP team, and
 * two spinning pools on a 2-core machine fight badly. So every oneDNN
 * primitive is created and run with OpenMP limited to one thread, and a
 * layer is split into one chunk per worker of the engine's pthreadpool -
 * the pool XNNPACK uses - each chunk running its own primitive with its
 * own stream and user-managed scratchpad: matmuls by rows (pixels),
 * convolutions by images, or for one image by output rows (the chunk's
 * input rows overlap, and only the outer chunks get the padding). The
 * calling thread's OpenMP thread count is restored after each call.
 *
 * Sections: 1. helpers 2. context 3. create (weights packed once)
 * 4. setup (primitives per batch size) 5. run 6. destroy, the ops table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "core/error_int.h"
#include "infer/infer_int.h"

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

/* Shape of a convolution (CONV steps) in NHWC terms. */
typedef struct conv_geom {
  size_t h, w, c;           /* input of one image */
  size_t oh, ow, oc;        /* output of one image */
  size_t kh, kw, sh, sw;    /* kernel, strides */
  size_t pt, pl, pb, pr;    /* padding: top, left, bottom, right */
  size_t groups;            /* 1, or c for depthwise */
} conv_geom;

/* One chunk of a layer: the rows or images it covers. */
typedef struct chunk {
  size_t n;                 /* images (conv) */
  size_t rows;              /* matmul rows, or conv output rows */
  size_t in_rows;           /* conv input rows read */
  size_t pt, pb;            /* conv padding at its top / bottom */
  size_t src_off, dst_off;  /* element offsets into the step's in / out */
} chunk;

struct ims__dnnl_step {
  ims__dnnl_ctx *ctx;           /* BORROWED from the engine */
  dnnl_primitive_attr_t attr;   /* owned: scales, zero points, clip */
  dnnl_data_type_t type;        /* activations: dnnl_s8, u8 or f32 */
  dnnl_data_type_t wtype;       /* weights: dnnl_s8 or dnnl_f32 */
  dnnl_data_type_t btype;       /* bias: dnnl_s32 or dnnl_f32 */
  bool conv;                    /* a convolution, else a matmul */
  conv_geom g;                  /* conv: its shape */
  size_t k, n;                  /* matmul: input / output channels */
  size_t rows_per_image;        /* matmul: M of one image */
  dnnl_memory_desc_t wmd;       /* packed weights layout */
  dnnl_memory_t weights;        /* owned packed weights */
  dnnl_memory_t bias;           /* owned view of the model's bias, or NULL */
  char impl[48];                /* oneDNN's implementation name */
  size_t chunks;                /* chunks of the current batch; 0 = none */
  dnnl_primitive_t *prims;      /* owned, one per chunk (ctx->threads) */
  dnnl_memory_t *src, *dst;     /* owned views, one per chunk */
  dnnl_memory_t *pad;           /* owned scratchpad views, per chunk */
  int failed;                   /* run: a chunk's dnnl_status_t, or 0 */
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

/* The 1x1 stride-1 unpadded ungrouped convolutions and fully connected
 * layers that run as matmuls (int8 or uint8). */
static bool matmul_shaped(const ims_model *m, const ims__node *n) {
  const ims__tensor *in = tin(m, n, 0), *w = tin(m, n, 1);
  if (n->op == IMS__OP_FULLY_CONNECTED) return w->rank == 2;
  if (n->op != IMS__OP_CONV_2D) return false;
  bool pads = n->padding == IMS__PAD_EXPLICIT &&
              (n->pad_top | n->pad_left | n->pad_bottom | n->pad_right);
  return w->rank == 4 && w->shape[1] == 1 && w->shape[2] == 1 &&
         in->rank == 4 && w->shape[3] == in->shape[3] && !pads &&
         n->stride_h <= 1 && n->stride_w <= 1;
}

/* Convolutions oneDNN runs as convolutions, no dilation: int8 dense
 * (ungrouped) or depthwise with multiplier 1; float dense only (its f32
 * depthwise kernels measured no faster than XNNPACK's). */
static bool conv_shaped(const ims_model *m, const ims__node *n) {
  const ims__tensor *in = tin(m, n, 0), *w = tin(m, n, 1);
  if (in->rank != 4 || w->rank != 4) return false;
  if (n->dilation_h > 1 || n->dilation_w > 1) return false;
  if (n->op == IMS__OP_DEPTHWISE_CONV_2D)
    return in->type == IMS_TENSOR_I8 && w->shape[0] == 1 &&
           w->shape[3] == in->shape[3];
  return (in->type == IMS_TENSOR_I8 || in->type == IMS_TENSOR_F32) &&
         n->op == IMS__OP_CONV_2D && w->shape[3] == in->shape[3];
}

bool ims__dnnl_eligible(const ims_model *m, const ims__node *n) {
  if (n->input_count < 2) return false;
  const ims__tensor *in = tin(m, n, 0), *w = tin(m, n, 1);
  const ims__tensor *out = &m->tensors[n->output];
  if (in->type != w->type || in->type != out->type) return false;
  if (in->type == IMS_TENSOR_F32) /* convolutions only: measured */
    return n->op == IMS__OP_CONV_2D &&
           (matmul_shaped(m, n) || conv_shaped(m, n)) &&
           (n->input_count < 3 || tin(m, n, 2)->type == IMS_TENSOR_F32);
  if (n->input_count > 2 && tin(m, n, 2)->type != IMS_TENSOR_I32)
    return false;
  size_t oc = n->op == IMS__OP_DEPTHWISE_CONV_2D ? w->shape[3] : w->shape[0];
  if (in->type == IMS_TENSOR_U8) {
    if (w->channel_scales != NULL) return false;
  } else if (in->type == IMS_TENSOR_I8) {
    if (w->zero_point != 0) return false;
    if (w->channel_scales != NULL && w->channel_count != oc) return false;
  } else {
    return false;
  }
  return matmul_shaped(m, n) || conv_shaped(m, n);
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

/* Float layers: the fused activation as a post-op, nothing else. */
static dnnl_status_t fill_attr_f32(const ims__node *n,
                                   dnnl_primitive_attr_t attr) {
  dnnl_post_ops_t po = NULL;
  dnnl_status_t ds =
      dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
  if (ds != dnnl_success || n->activation == IMS__ACT_NONE) return ds;
  ds = dnnl_post_ops_create(&po);
  if (ds == dnnl_success && n->activation == IMS__ACT_RELU)
    ds = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0, 0);
  else if (ds == dnnl_success)
    ds = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip, 0, 6);
  if (ds == dnnl_success) ds = dnnl_primitive_attr_set_post_ops(attr, po);
  if (po != NULL) dnnl_post_ops_destroy(po);
  return ds;
}

/* Activation descriptors of chunk c: matmul {rows, K} -> {rows, N};
 * conv NHWC {n, C, in_rows, W} -> {n, OC, rows, OW}. */
static dnnl_status_t chunk_mds(const ims__dnnl_step *d, const chunk *c,
                               dnnl_memory_desc_t *src,
                               dnnl_memory_desc_t *dst) {
  if (!d->conv) {
    dnnl_status_t ds = matrix_md(src, c->rows, d->k, d->type, dnnl_ab);
    if (ds != dnnl_success) return ds;
    return matrix_md(dst, c->rows, d->n, d->type, dnnl_ab);
  }
  const conv_geom *g = &d->g;
  dnnl_dims_t sd = {(dnnl_dim_t)c->n, (dnnl_dim_t)g->c,
                    (dnnl_dim_t)c->in_rows, (dnnl_dim_t)g->w};
  dnnl_dims_t dd = {(dnnl_dim_t)c->n, (dnnl_dim_t)g->oc, (dnnl_dim_t)c->rows,
                    (dnnl_dim_t)g->ow};
  dnnl_status_t ds = dnnl_memory_desc_init_by_tag(src, 4, sd, d->type,
                                                  dnnl_nhwc);
  if (ds != dnnl_success) return ds;
  return dnnl_memory_desc_init_by_tag(dst, 4, dd, d->type, dnnl_nhwc);
}

/* Weights descriptor: the layout oneDNN prefers (format any) or, with
 * `user`, the model's own: matmul {K, N} stored as {N, K}; conv OHWI, or
 * depthwise {1, KH, KW, C} as {G=C, 1, 1, KH, KW}. */
static dnnl_status_t weights_md(const ims__dnnl_step *d, bool user,
                                dnnl_memory_desc_t *md) {
  const conv_geom *g = &d->g;
  if (!d->conv)
    return matrix_md(md, d->k, d->n, d->wtype,
                     user ? dnnl_ba : dnnl_format_tag_any);
  dnnl_dim_t kh = (dnnl_dim_t)g->kh, kw = (dnnl_dim_t)g->kw;
  dnnl_dim_t c = (dnnl_dim_t)g->c, oc = (dnnl_dim_t)g->oc;
  if (g->groups > 1) {
    dnnl_dims_t dims = {c, 1, 1, kh, kw};
    dnnl_dims_t strides = {1, c, c, kw * c, c};
    if (user)
      return dnnl_memory_desc_init_by_strides(md, 5, dims, d->wtype, strides);
    return dnnl_memory_desc_init_by_tag(md, 5, dims, d->wtype,
                                        dnnl_format_tag_any);
  }
  dnnl_dims_t dims = {oc, c, kh, kw};
  dnnl_dims_t strides = {kh * kw * c, 1, kw * c, c};
  if (user)
    return dnnl_memory_desc_init_by_strides(md, 4, dims, d->wtype, strides);
  return dnnl_memory_desc_init_by_tag(md, 4, dims, d->wtype,
                                      dnnl_format_tag_any);
}

/* Operation descriptor of chunk c, weights as `wmd`. */
static dnnl_status_t op_desc(const ims__dnnl_step *d, const chunk *c,
                             const dnnl_memory_desc_t *wmd, void *desc) {
  dnnl_memory_desc_t src, dst, bias;
  dnnl_status_t ds = chunk_mds(d, c, &src, &dst);
  if (ds != dnnl_success) return ds;
  if (!d->conv) {
    dnnl_dims_t bias_dims = {1, (dnnl_dim_t)d->n};
    ds = dnnl_memory_desc_init_by_tag(&bias, 2, bias_dims, d->btype,
                                      dnnl_ab);
    if (ds != dnnl_success) return ds;
    return dnnl_matmul_desc_init(desc, &src, wmd, d->bias ? &bias : NULL,
                                 &dst);
  }
  const conv_geom *g = &d->g;
  dnnl_dims_t bias_dims = {(dnnl_dim_t)g->oc};
  dnnl_dims_t strides = {(dnnl_dim_t)g->sh, (dnnl_dim_t)g->sw};
  dnnl_dims_t pad_l = {(dnnl_dim_t)c->pt, (dnnl_dim_t)g->pl};
  dnnl_dims_t pad_r = {(dnnl_dim_t)c->pb, (dnnl_dim_t)g->pr};
  ds = dnnl_memory_desc_init_by_tag(&bias, 1, bias_dims, d->btype, dnnl_a);
  if (ds != dnnl_success) return ds;
  return dnnl_convolution_forward_desc_init(
      desc, dnnl_forward_inference, dnnl_convolution_direct, &src, wmd,
      d->bias ? &bias : NULL, &dst, strides, pad_l, pad_r);
}

/* Primitive descriptor for chunk c; weights in the packed layout if `wmd`
 * is given, else in the layout oneDNN prefers. Call with OpenMP at one
 * thread: oneDNN fixes a primitive's thread count here. */
static dnnl_status_t make_pd(const ims__dnnl_step *d, const chunk *c,
                             const dnnl_memory_desc_t *wmd,
                             dnnl_primitive_desc_t *pd_out) {
  dnnl_memory_desc_t wany;
  union {
    dnnl_matmul_desc_t mm;
    dnnl_convolution_desc_t conv;
  } desc;
  dnnl_status_t ds = dnnl_success;
  if (wmd == NULL) ds = weights_md(d, false, &wany);
  if (ds == dnnl_success) ds = op_desc(d, c, wmd ? wmd : &wany, &desc);
  if (ds == dnnl_success)
    ds = dnnl_primitive_desc_create(pd_out, &desc, d->attr, d->ctx->engine,
                                    NULL);
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
  size_t count = ims__tensor_elements(w);
  int8_t *shifted = NULL;
  void *bytes = (void *)(uintptr_t)w->data; /* oneDNN only reads it */
  dnnl_status_t ds = dnnl_out_of_memory;
  if (d->type == dnnl_u8) { /* u8 w -> s8 w - 128, exact */
    const uint8_t *u = w->data;
    shifted = malloc(count);
    if (shifted == NULL) goto done;
    for (size_t i = 0; i < count; i++) shifted[i] = (int8_t)((int)u[i] - 128);
    bytes = shifted;
  }
  ds = weights_md(d, true, &user);
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

/* Whether implementation `impl` may take a layer from XNNPACK. 8-bit
 * layers: only VNNI/AMX kernels, forced or not. They are the measured
 * wins, and the only exact ones: without VNNI (AVX2, AVX-512F alone)
 * oneDNN multiplies u8 x s8 pairs with vpmaddubsw, whose 16-bit sums
 * saturate, so results drift from TFLite's (seen on an AVX2-only EPYC: a
 * probability of 0.62 where the reference has 0.19). Float 1x1 layers:
 * any JIT kernel. */
static bool impl_wanted(const char *impl, bool f32) {
  if (impl == NULL || strncmp(impl, "ref", 3) == 0) return false;
  if (f32) return true;
  return strstr(impl, "vnni") != NULL || strstr(impl, "amx") != NULL;
}

/* TensorFlow SAME padding of one dimension: before / after. */
static void same_pad(size_t in, size_t k, size_t stride, size_t *before,
                     size_t *after) {
  size_t out = (in + stride - 1) / stride;
  size_t need = (out - 1) * stride + k;
  size_t total = need > in ? need - in : 0;
  *before = total / 2;
  *after = total - total / 2;
}

static void init_geom(conv_geom *g, const ims_model *m, const ims__node *n) {
  const ims__tensor *in = tin(m, n, 0), *w = tin(m, n, 1);
  const ims__tensor *o = &m->tensors[n->output];
  g->h = in->shape[1], g->w = in->shape[2], g->c = in->shape[3];
  g->oh = o->shape[1], g->ow = o->shape[2], g->oc = o->shape[3];
  g->kh = w->shape[1], g->kw = w->shape[2];
  g->sh = n->stride_h ? n->stride_h : 1, g->sw = n->stride_w ? n->stride_w : 1;
  g->groups = n->op == IMS__OP_DEPTHWISE_CONV_2D ? g->c : 1;
  g->pt = g->pl = g->pb = g->pr = 0;
  if (n->padding == IMS__PAD_SAME) {
    same_pad(g->h, g->kh, g->sh, &g->pt, &g->pb);
    same_pad(g->w, g->kw, g->sw, &g->pl, &g->pr);
  } else if (n->padding == IMS__PAD_EXPLICIT) {
    g->pt = n->pad_top, g->pl = n->pad_left;
    g->pb = n->pad_bottom, g->pr = n->pad_right;
  }
}

/* Fields of d that depend only on the node; bias as a oneDNN memory. */
static dnnl_status_t init_layer(ims__dnnl_step *d, const ims_model *m,
                                const ims__step *s) {
  const ims__node *n = s->node;
  const ims__tensor *w = tin(m, n, 1);
  ims_tensor_type in_type = tin(m, n, 0)->type;
  d->type = in_type == IMS_TENSOR_U8   ? dnnl_u8
            : in_type == IMS_TENSOR_F32 ? dnnl_f32
                                        : dnnl_s8;
  d->wtype = d->type == dnnl_f32 ? dnnl_f32 : dnnl_s8;
  d->btype = d->type == dnnl_f32 ? dnnl_f32 : dnnl_s32;
  d->conv = !matmul_shaped(m, n);
  if (d->conv) init_geom(&d->g, m, n);
  d->n = d->conv ? d->g.oc : w->shape[0];
  d->k = n->op == IMS__OP_FULLY_CONNECTED ? w->shape[1] : w->shape[3];
  d->rows_per_image = s->in_per_image / d->k;
  size_t t = d->ctx->threads;
  d->prims = calloc(t, sizeof *d->prims);
  d->src = calloc(t, sizeof *d->src);
  d->dst = calloc(t, sizeof *d->dst);
  d->pad = calloc(t, sizeof *d->pad);
  if (!d->prims || !d->src || !d->dst || !d->pad) return dnnl_out_of_memory;
  dnnl_status_t ds = dnnl_primitive_attr_create(&d->attr);
  if (ds == dnnl_success)
    ds = d->type == dnnl_f32 ? fill_attr_f32(n, d->attr)
                             : fill_attr(m, n, d->attr);
  if (ds == dnnl_success && n->input_count > 2) {
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {(dnnl_dim_t)d->n};
    ds = dnnl_memory_desc_init_by_tag(&md, 1, dims, d->btype, dnnl_a);
    if (ds == dnnl_success)
      ds = dnnl_memory_create(&d->bias, &md, d->ctx->engine,
                              (void *)(uintptr_t)tin(m, n, 2)->data);
  }
  return ds;
}

/* The chunk that covers one whole image (for choosing the weights
 * layout). */
static chunk whole_image(const ims__dnnl_step *d) {
  chunk c = {1, d->rows_per_image, 0, 0, 0, 0, 0};
  if (d->conv)
    c = (chunk){1, d->g.oh, d->g.h, d->g.pt, d->g.pb, 0, 0};
  return c;
}

static void layer_destroy(ims__dnnl_step *d); /* section 6 */

/* Node s->node on oneDNN, or declined (IMS_OK, s->ops left NULL) when
 * oneDNN has no kernel impl_wanted takes. */
static ims_status dnnl_create(const ims__step_env *env, ims__step *s,
                              ims_error *err) {
  dnnl_primitive_desc_t pd = NULL;
  const char *impl = NULL;
  int omp = omp_single_begin();
  ims__dnnl_step *d = calloc(1, sizeof *d);
  dnnl_status_t ds = dnnl_out_of_memory;
  if (d == NULL) goto fail;
  d->ctx = env->dnnl;
  ds = init_layer(d, env->model, s);
  chunk one = whole_image(d);
  if (ds == dnnl_success) ds = make_pd(d, &one, NULL, &pd);
  if (ds == dnnl_success)
    ds = dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
  if (ds == dnnl_unimplemented ||
      (ds == dnnl_success && !impl_wanted(impl, d->type == dnnl_f32))) {
    ds = dnnl_success; /* declined: another kind takes the layer */
    goto fail;
  }
  if (ds == dnnl_success) {
    snprintf(d->impl, sizeof d->impl, "%s", impl);
    d->wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    ds = pack_weights(d, tin(env->model, s->node, 1));
  }
  if (ds != dnnl_success) goto fail;
  dnnl_primitive_desc_destroy(pd);
  omp_single_end(omp);
  s->dnnl = d;
  s->ops = &ims__step_dnnl;
  return IMS_OK;
fail:
  if (pd != NULL) dnnl_primitive_desc_destroy(pd);
  layer_destroy(d);
  omp_single_end(omp);
  if (ds == dnnl_success) return IMS_OK;
  return dnnl_fail(ds, s->node, "primitive creation", err);
}

/* ---- 4. setup -------------------------------------------------------- */

/* Drop the primitives and buffer views of the previous batch size. */
static void release_batch(ims__dnnl_step *d) {
  /* The four arrays are allocated together: any may be missing after an
   * allocation failed. */
  if (!d->prims || !d->src || !d->dst || !d->pad) return;
  for (size_t i = 0; i < d->ctx->threads; i++) {
    if (d->prims[i] != NULL) dnnl_primitive_destroy(d->prims[i]);
    if (d->src[i] != NULL) dnnl_memory_destroy(d->src[i]);
    if (d->dst[i] != NULL) dnnl_memory_destroy(d->dst[i]);
    if (d->pad[i] != NULL) dnnl_memory_destroy(d->pad[i]);
    d->prims[i] = NULL;
    d->src[i] = d->dst[i] = d->pad[i] = NULL;
  }
  d->chunks = 0;
}

/* Conv chunk of output rows [r0, r1) of one image: the input rows they
 * read, and whatever of the padding falls inside the chunk. */
static chunk conv_rows(const conv_geom *g, size_t r0, size_t r1) {
  long first = (long)(r0 * g->sh) - (long)g->pt;
  long end = (long)((r1 - 1) * g->sh + g->kh) - (long)g->pt;
  long lo = first < 0 ? 0 : first, hi = end > (long)g->h ? (long)g->h : end;
  chunk c = {1, r1 - r0, (size_t)(hi - lo), (size_t)(lo - first),
             (size_t)(end - hi), 0, 0};
  c.src_off = (size_t)lo * g->w * g->c;
  c.dst_off = r0 * g->ow * g->oc;
  return c;
}

/* Split `batch` images' work into at most ctx->threads chunks: matmul
 * rows; conv images, or output rows when there is one image. Returns the
 * number of chunks written to `out`. */
static size_t plan_chunks(const ims__dnnl_step *d, size_t batch,
                          chunk *out) {
  size_t t = d->ctx->threads;
  size_t total = d->conv ? (batch > 1 ? batch : d->g.oh)
                         : batch * d->rows_per_image;
  size_t per = (total + (t < total ? t : total) - 1) / (t < total ? t : total);
  size_t count = (total + per - 1) / per;
  for (size_t i = 0; i < count; i++) {
    size_t a = i * per, b = a + per < total ? a + per : total;
    if (!d->conv) {
      out[i] = (chunk){0, b - a, 0, 0, 0, a * d->k, a * d->n};
    } else if (batch == 1) {
      out[i] = conv_rows(&d->g, a, b);
    } else {
      out[i] = whole_image(d);
      out[i].n = b - a;
      out[i].src_off = a * d->g.h * d->g.w * d->g.c;
      out[i].dst_off = a * d->g.oh * d->g.ow * d->g.oc;
    }
  }
  return count;
}

/* Chunk i: its primitive, its views of `in`/`out`, and a view of its
 * scratchpad (the buffer is bound at run: it may move while later steps
 * are set up). */
static dnnl_status_t make_chunk(ims__dnnl_step *d, size_t i, const chunk *c,
                                uint8_t *in, uint8_t *out) {
  dnnl_primitive_desc_t pd = NULL;
  dnnl_memory_desc_t src, dst;
  dnnl_engine_t eng = d->ctx->engine;
  dnnl_status_t ds = make_pd(d, c, &d->wmd, &pd);
  if (ds == dnnl_success) ds = dnnl_primitive_create(&d->prims[i], pd);
  if (ds == dnnl_success) {
    const dnnl_memory_desc_t *pad =
        dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    ds = ctx_reserve(d->ctx, dnnl_memory_desc_get_size(pad));
    if (ds == dnnl_success)
      ds = dnnl_memory_create(&d->pad[i], pad, eng, DNNL_MEMORY_NONE);
  }
  if (ds == dnnl_success) ds = chunk_mds(d, c, &src, &dst);
  size_t esize = d->type == dnnl_f32 ? sizeof(float) : 1;
  if (ds == dnnl_success)
    ds = dnnl_memory_create(&d->src[i], &src, eng, in + c->src_off * esize);
  if (ds == dnnl_success)
    ds = dnnl_memory_create(&d->dst[i], &dst, eng, out + c->dst_off * esize);
  if (pd != NULL) dnnl_primitive_desc_destroy(pd);
  return ds;
}

static ims_status dnnl_setup(const ims_model *m, ims__step *s, size_t batch,
                             pthreadpool_t pool, ims_error *err) {
  ims__dnnl_step *d = s->dnnl;
  chunk *plan = calloc(d->ctx->threads, sizeof *plan);
  dnnl_status_t ds = dnnl_out_of_memory;
  int omp = omp_single_begin();
  release_batch(d);
  size_t count = plan != NULL ? plan_chunks(d, batch, plan) : 0;
  if (plan != NULL) ds = dnnl_success;
  for (size_t i = 0; ds == dnnl_success && i < count; i++)
    ds = make_chunk(d, i, &plan[i], s->in, s->out);
  omp_single_end(omp);
  free(plan);
  if (ds != dnnl_success) {
    release_batch(d);
    return dnnl_fail(ds, s->node, "setup", err);
  }
  d->chunks = count;
  return IMS_OK;
}

/* ---- 5. run ---------------------------------------------------------- */

/* pthreadpool task: chunk i on its own stream and scratchpad. A worker
 * may run several chunks one after the other, never one chunk twice. */
static void run_chunk(void *arg, size_t i) {
  ims__dnnl_step *d = arg;
  int omp = omp_single_begin();
  dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, d->src[i]},
                             {DNNL_ARG_WEIGHTS, d->weights},
                             {DNNL_ARG_DST, d->dst[i]},
                             {DNNL_ARG_SCRATCHPAD, d->pad[i]},
                             {DNNL_ARG_BIAS, d->bias}};
  dnnl_status_t ds = dnnl_memory_set_data_handle(d->pad[i],
                                                 d->ctx->scratch[i]);
  if (ds == dnnl_success)
    ds = dnnl_primitive_execute(d->prims[i], d->ctx->streams[i],
                                d->bias != NULL ? 5 : 4, args);
  if (ds == dnnl_success) ds = dnnl_stream_wait(d->ctx->streams[i]);
  if (ds != dnnl_success)
    __atomic_store_n(&d->failed, (int)ds, __ATOMIC_RELAXED);
  omp_single_end(omp);
}

static ims_status dnnl_run(ims__step *s, size_t batch, const ims__par *par,
                           float *scratch, ims_error *err) {
  ims__dnnl_step *d = s->dnnl;
  pthreadpool_t pool = ims__par_pool(par); /* chunks are per pool thread */
  d->failed = 0;
  if (pool == NULL || d->chunks == 1) {
    for (size_t i = 0; i < d->chunks; i++) run_chunk(d, i);
  } else {
    pthreadpool_parallelize_1d(pool, run_chunk, d, d->chunks, 0);
  }
  if (d->failed == 0) return IMS_OK;
  return dnnl_fail((dnnl_status_t)d->failed, s->node, "run", err);
}

const char *ims__dnnl_step_impl(const ims__step *s) {
  return s->ops == &ims__step_dnnl ? s->dnnl->impl : "";
}

/* ---- 6. destroy, the ops table --------------------------------------- */

static void layer_destroy(ims__dnnl_step *d) {
  if (d == NULL) return;
  release_batch(d);
  free(d->prims);
  free(d->src);
  free(d->dst);
  free(d->pad);
  if (d->weights != NULL) dnnl_memory_destroy(d->weights);
  if (d->bias != NULL) dnnl_memory_destroy(d->bias);
  if (d->attr != NULL) dnnl_primitive_attr_destroy(d->attr);
  free(d);
}

static void dnnl_destroy(ims__step *s) {
  layer_destroy(s->dnnl);
  s->dnnl = NULL;
}

const ims__step_ops ims__step_dnnl = {"onednn", dnnl_create, dnnl_setup,
                                      dnnl_run, dnnl_destroy};
