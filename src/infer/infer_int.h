/* SPDX-License-Identifier: Apache-2.0 */
/*
 * infer.h - internals of the executor shared by engine.c (lifecycle and the
 * run loop), plan.c (activation memory), xnn_ops.c (graph nodes as XNNPACK
 * operators) and kernels.c (the few small portable kernels).
 *
 * How a graph runs: every node becomes one `ims__step`. Heavy nodes
 * (convolutions, adds, pooling, fully connected, softmax) are XNNPACK
 * operators created once with their weights and re-set-up only when the
 * batch size changes; 8-bit requantizations are 256-entry lookup tables;
 * reshapes are views and cost nothing. Activations live at fixed offsets in
 * one arena sized for max_batch, so a run allocates nothing.
 *
 * Quantized convolutions and fully connected layers may instead run on
 * oneDNN (dnnl_ops.c): IMS__STEP_DNNL steps, whose weights oneDNN packs
 * once at creation, sharing the arena's NHWC buffers. Quantized 3x3
 * depthwise convolutions run on our own kernel (dw_ops.c, IMS__STEP_DW),
 * bit-identical to XNNPACK's and faster.
 *
 * Threading: an engine and its steps belong to one thread at a time;
 * XNNPACK fans each operator out over the engine's pthreadpool, and
 * dnnl_ops.c and dw_ops.c split each of their layers over the same pool.
 */
#ifndef IMS_INFER_INFER_INT_H
#define IMS_INFER_INFER_INT_H

#include <pthreadpool.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xnnpack.h>

#include "model/graph_int.h"

typedef enum ims__step_kind {
  IMS__STEP_XNN,          /* an XNNPACK operator */
  IMS__STEP_VIEW,         /* reshape/squeeze: output aliases input */
  IMS__STEP_LUT8,         /* 8-bit -> 8-bit requantization by table */
  IMS__STEP_DEQUANT8,     /* 8-bit -> float32 by table */
  IMS__STEP_SOFTMAX_Q8,   /* 8-bit softmax, computed in float */
  IMS__STEP_DNNL,         /* oneDNN int8 matmul/conv (dnnl_ops.c) */
  IMS__STEP_DW,           /* 3x3 depthwise, our kernel (dw_ops.c) */
  IMS__STEP_HARD_SIGMOID, /* float clamp(alpha*x+beta, 0, 1) (kernels.c) */
  IMS__STEP_CONCAT        /* float rows joined along channels (kernels.c) */
} ims__step_kind;

typedef struct ims__dnnl_ctx ims__dnnl_ctx;   /* engine-wide oneDNN state */
typedef struct ims__dnnl_step ims__dnnl_step; /* one oneDNN layer */
typedef struct ims__dw_layer ims__dw_layer;   /* one dw_ops.c layer */

typedef struct ims__step {
  ims__step_kind kind;    /* how to run it */
  const ims__node *node;  /* BORROWED from the model */
  xnn_operator_t op;      /* IMS__STEP_XNN: owned operator */
  ims__dnnl_step *dnnl;   /* IMS__STEP_DNNL: owned layer */
  ims__dw_layer *dw;      /* IMS__STEP_DW: owned layer */
  unsigned variant;       /* IMS__STEP_XNN: which xnn_setup_* (xnn_ops.c) */
  void *in;               /* first input activation (arena or weights) */
  void *in2;              /* second input (ADD/MUL/SUB/DIV), else NULL */
  void *ins[IMS__MAX_NODE_INPUTS]; /* every input, in node order */
  size_t parts[IMS__MAX_NODE_INPUTS]; /* CONCAT: channels of each input */
  void *out;              /* output activation in the arena */
  size_t in_per_image;    /* elements of `in` per image */
  size_t out_per_image;   /* elements of `out` per image */
  uint8_t lut[256];       /* IMS__STEP_LUT8: out = lut[in] */
  float flut[256];        /* IMS__STEP_DEQUANT8 / SOFTMAX_Q8: real values */
  size_t rows;            /* SOFTMAX_Q8: rows per image */
  size_t channels;        /* SOFTMAX_Q8: row length */
  float out_scale;        /* SOFTMAX_Q8: output quantization */
  int32_t out_zero_point; /* SOFTMAX_Q8 */
  bool out_u8;            /* SOFTMAX_Q8: uint8 output (else int8) */
} ims__step;

/* Where each tensor lives: an offset into the arena, or constant data. */
typedef struct ims__layout {
  size_t *offset;       /* per tensor: byte offset in the arena */
  uint32_t *root;       /* per tensor: tensor whose storage it shares */
  size_t arena_size;    /* bytes the arena needs */
} ims__layout;

/* Bytes one image of tensor t occupies (shape[0] is the model's batch). */
size_t ims__bytes_per_image(const ims__tensor *t);

/* Assign arena offsets to every activation of `model` for `max_batch`
 * images, reusing memory of tensors whose last reader has run. Views share
 * their source's storage. Allocates layout->offset/root (free with
 * ims__layout_free). */
ims_status ims__layout_plan(const ims_model *model, size_t max_batch,
                            ims__layout *layout, ims_error *err);
void ims__layout_free(ims__layout *layout);

/* Turn one node into a step: create its XNNPACK operator or fill its table.
 * `in`, `in2`, `out` in step are already resolved by the caller. */
ims_status ims__step_create(const ims_model *model, ims__step *step,
                            ims_error *err);

/* Bind a step to `batch` images (xnn_setup_*). Called when batch changes. */
ims_status ims__step_setup(const ims_model *model, ims__step *step,
                           size_t batch, pthreadpool_t pool, ims_error *err);

/* Run one step over `batch` images. `scratch` holds at least the longest
 * softmax row in floats (the engine's; steps do not allocate). */
ims_status ims__step_run(ims__step *step, size_t batch, pthreadpool_t pool,
                         float *scratch, ims_error *err);

/* Message for an xnn_status ("unsupported parameter"). */
const char *ims__xnn_status_str(enum xnn_status s);

/* IMS_OK for xnn_status_success; otherwise fails `err` with "<node>
 * (operator N): XNNPACK <what> failed: <status>", as IMS_ERR_NO_MEMORY,
 * IMS_ERR_UNSUPPORTED or IMS_ERR_BACKEND after the status. */
ims_status ims__xnn_result(enum xnn_status xs, const ims__step *s,
                           const char *what, ims_error *err);

/* Quantized clamp bounds [*lo, *hi] of 8-bit output t with fused `act`. */
void ims__q8_range(const ims__tensor *t, ims__activation act, int32_t *lo,
                   int32_t *hi);

/* ---- oneDNN layers (dnnl_ops.c) ---------------------------------------
 * Lifecycle: ctx_create -> per node dnnl_step_create (packs weights) ->
 * dnnl_step_setup per batch size -> dnnl_step_run (repeatable) ->
 * dnnl_step_destroy -> ctx_destroy. */

/* oneDNN state shared by an engine's layers: CPU engine, one stream and
 * scratchpad per worker. `threads` >= 1 is the engine's pool size.
 * IMS_ERR_BACKEND if oneDNN cannot start. */
ims_status ims__dnnl_ctx_create(size_t threads, ims__dnnl_ctx **ctx_out,
                                ims_error *err);
void ims__dnnl_ctx_destroy(ims__dnnl_ctx *ctx); /* NULL: no-op */

/* Whether dnnl_ops.c can run this node at all: a 1x1 stride-1 unpadded
 * CONV_2D or a FULLY_CONNECTED (int8 or uint8), or another int8 CONV_2D /
 * depthwise (multiplier 1) with symmetric weights. Pure; no oneDNN calls. */
bool ims__dnnl_eligible(const ims_model *model, const ims__node *node);

/* Make `step` (in/out resolved) an IMS__STEP_DNNL step. *taken_out is set
 * false (and IMS_OK returned) when oneDNN only has a reference kernel or,
 * unless `forced`, when it is not measurably faster than XNNPACK (no
 * VNNI/AMX kernel; depthwise) - the caller then uses XNNPACK. `ctx` is
 * BORROWED and must outlive the step. */
ims_status ims__dnnl_step_create(ims__dnnl_ctx *ctx, const ims_model *model,
                                 ims__step *step, bool forced,
                                 bool *taken_out, ims_error *err);
ims_status ims__dnnl_step_setup(ims__step *step, size_t batch,
                                ims_error *err);
ims_status ims__dnnl_step_run(ims__step *step, pthreadpool_t pool,
                              ims_error *err);
void ims__dnnl_step_destroy(ims__dnnl_step *d); /* NULL: no-op */

/* Implementation name oneDNN chose for a step ("brg:avx512_core_vnni"),
 * BORROWED from the step; "" for steps that are not IMS__STEP_DNNL. */
const char *ims__dnnl_step_impl(const ims__step *step);

/* ---- 3x3 depthwise convolutions (dw_ops.c) ----------------------------
 * Bit-identical to XNNPACK's qu8/qc8 depthwise operators. Lifecycle:
 * layer_create (packs weights) -> layer_run (repeatable, any batch) ->
 * layer_destroy. Layers are immutable after creation. */

/* Which kernel a layer runs; AUTO picks the best this CPU supports. */
typedef enum ims__dw_path {
  IMS__DW_PATH_AUTO,
  IMS__DW_PATH_C,       /* portable C */
  IMS__DW_PATH_AVX2,    /* AVX2, 16 channels per block */
  IMS__DW_PATH_AVX512   /* AVX-512 BW/VL/VNNI, 32 channels per block */
} ims__dw_path;

/* One 3x3 depthwise layer (multiplier 1), NHWC, 8-bit. */
typedef struct ims__dw_params {
  size_t h, w, c;           /* input of one image */
  size_t stride;            /* 1 or 2, both dimensions */
  size_t pad_top, pad_left, pad_bottom, pad_right; /* padded with zx */
  bool s8;                  /* int8 activations and weights, else uint8 */
  int32_t in_zero_point;    /* zx */
  float in_scale;           /* sx */
  int32_t w_zero_point;     /* zw (0 for int8) */
  float w_scale;            /* per-tensor weight scale, if no w_scales */
  const float *w_scales;    /* per-channel scales [c], or NULL; BORROWED
                               for the create call only */
  int32_t out_zero_point;   /* zy */
  float out_scale;          /* sy */
  int32_t out_min, out_max; /* quantized clamp (fused activation) */
  const void *weights;      /* {3, 3, c} bytes; BORROWED for create only */
  const int32_t *bias;      /* [c] or NULL; BORROWED for create only */
} ims__dw_params;

/* Can this build and CPU run `path`? AUTO and C: always. */
bool ims__dw_path_supported(ims__dw_path path);
/* Whether the engine should take eligible layers by default: a SIMD path
 * exists here (the C path is slower than XNNPACK). */
bool ims__dw_preferred(void);

/* IMS_ERR_INVALID_ARG (bad shape), IMS_ERR_UNSUPPORTED (path not
 * available here), IMS_ERR_NO_MEMORY. */
ims_status ims__dw_layer_create(const ims__dw_params *p, ims__dw_path path,
                                ims__dw_layer **layer_out, ims_error *err);
/* `batch` images from `in` to `out` (NHWC), split by output rows over
 * `pool` (NULL: this thread). Never fails, never allocates. */
void ims__dw_layer_run(const ims__dw_layer *l, const void *in, void *out,
                       size_t batch, pthreadpool_t pool);
void ims__dw_layer_destroy(ims__dw_layer *l); /* NULL: no-op */
/* The path a layer runs (never AUTO). */
ims__dw_path ims__dw_layer_path(const ims__dw_layer *l);

/* Whether dw_ops.c can run node n. Pure. */
bool ims__dw_eligible(const ims_model *m, const ims__node *n);
/* Make `step` (in/out resolved, node eligible) an IMS__STEP_DW step. */
ims_status ims__dw_step_create(const ims_model *m, ims__step *s,
                               ims__dw_path path, ims_error *err);

#endif /* IMS_INFER_INFER_INT_H */
