/* SPDX-License-Identifier: Apache-2.0 */
/*
 * infer_int.h - internals of the executor (src/infer/), shared by its
 * files:
 *   engine.c    ims_engine: lifecycle, input/output conversion, the run
 *               loop, threads;
 *   plan.c      activation memory: where in the arena each tensor lives;
 *   step.c      the steps: which kind runs each node (the one place that
 *               chooses), and the calls through the kind's ops table;
 *   xnn_ops.c   kind "xnnpack": graph nodes as XNNPACK operators;
 *   dnnl_ops.c  kind "onednn": int8/float convolutions and fully
 *               connected layers on oneDNN;
 *   dw_ops.c    kind "dw": our 3x3 depthwise kernel (its x86 kernels in
 *               dw_x86.c, its insides in dw_int.h);
 *   pw_ops.c    kind "pw": our 8-bit 1x1 convolution for CPUs without
 *               VNNI (its AVX2 kernel in pw_x86.c, insides in pw_int.h);
 *   fuse_ops.c  kinds "fused" and "fused-away": a pw layer and the 3x3
 *               depthwise layer reading it, run together a few rows at a
 *               time (the expanded tensor never leaves the caches);
 *   kernels.c   the small portable kinds: views, 8-bit tables, 8-bit
 *               softmax, float hard sigmoid and concatenation.
 *
 * How a graph runs: every node becomes one `ims__step` of one kind, and
 * every kind is an ims__step_ops table (create / setup / run / destroy);
 * the engine and step.c call a step only through its table, and no kind
 * calls another's functions. ims__step_choose picks the kind: our
 * depthwise kernel where it takes the node and the CPU has a SIMD path
 * for it, else oneDNN where it takes the node and has a fast, exact
 * kernel, else a portable kernel for the few nodes that have one, else
 * XNNPACK. XNNPACK operators and oneDNN primitives are created once with
 * their weights (packed then) and set up again only when the batch size
 * changes; 8-bit requantizations are 256-entry lookup tables; reshapes
 * are views and cost nothing. Activations live at fixed offsets in one
 * arena sized for max_batch, so a run allocates nothing.
 *
 * Not here: the graph itself (model/graph_int.h), the public contract
 * (include/imgstream/model.h).
 *
 * Threading: an engine and its steps belong to one thread at a time;
 * XNNPACK fans each operator out over the engine's pthreadpool, and
 * dnnl_ops.c and dw_ops.c split each of their layers over the same pool.
 * One image on an engine lent a team (ims__engine_lend_team) has the
 * layers of our own kernels split over the team instead (ims__par).
 */
#ifndef IMS_INFER_INFER_INT_H
#define IMS_INFER_INFER_INT_H

#include <math.h>
#include <pthreadpool.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xnnpack.h>

#include "core/team_int.h"
#include "model/graph_int.h"

/* Where a layer's work runs: over `pool` (a threaded engine), else over
 * `team` (one image on an engine lent a team: our own kernels only;
 * XNNPACK and oneDNN steps run on the calling thread), else on the
 * calling thread. A NULL ims__par: the calling thread. */
typedef struct ims__par {
  pthreadpool_t pool;
  ims__team *team;
} ims__par;

/* Threads a layer may be split over. */
size_t ims__par_threads(const ims__par *par);

/* task(ctx, i) for every i in [0, n), over par. */
void ims__par_for(const ims__par *par, void (*task)(void *, size_t),
                  void *ctx, size_t n);

/* The pthreadpool of par, or NULL (XNNPACK and oneDNN take only that). */
pthreadpool_t ims__par_pool(const ims__par *par);

typedef struct ims__step_ops ims__step_ops;   /* a kind of step */
typedef struct ims__dnnl_ctx ims__dnnl_ctx;   /* engine-wide oneDNN state */
typedef struct ims__dnnl_step ims__dnnl_step; /* one oneDNN layer */
typedef struct ims__dw_layer ims__dw_layer;   /* one dw_ops.c layer */
typedef struct ims__pw_layer ims__pw_layer;   /* one pw_ops.c layer */
typedef struct ims__fused ims__fused;         /* one fuse_ops.c pair */

typedef struct ims__step {
  const ims__step_ops *ops; /* its kind; NULL until created */
  const ims__node *node;  /* BORROWED from the model */
  union {                 /* the kind's own object, owned: */
    xnn_operator_t op;    /* ims__step_xnn */
    ims__dnnl_step *dnnl; /* ims__step_dnnl */
    ims__dw_layer *dw;    /* ims__step_dw */
    ims__pw_layer *pw;    /* ims__step_pw */
    ims__fused *fused;    /* ims__step_fused */
  };
  unsigned variant;       /* ims__step_xnn: which xnn_setup_* */
  void *in;               /* first input activation (arena or weights) */
  void *in2;              /* second input (ADD/MUL/SUB/DIV), else NULL */
  void *ins[IMS__MAX_NODE_INPUTS]; /* every input, in node order */
  size_t parts[IMS__MAX_NODE_INPUTS]; /* concat: channels of each input */
  void *out;              /* output activation in the arena */
  size_t in_per_image;    /* elements of `in` per image */
  size_t out_per_image;   /* elements of `out` per image */
  uint8_t lut[256];       /* lut8: out = lut[in] */
  float flut[256];        /* dequant8 / softmax_q8: real values */
  size_t rows;            /* softmax_q8, concat: rows per image */
  size_t channels;        /* softmax_q8: row length (the engine's float
                             scratch holds the longest) */
  float out_scale;        /* softmax_q8: output quantization */
  int32_t out_zero_point; /* softmax_q8 */
  bool out_u8;            /* softmax_q8: uint8 output (else int8) */
} ims__step;

/* What creating a step may use besides its node. */
typedef struct ims__step_env {
  const ims_model *model; /* BORROWED */
  ims__dnnl_ctx *dnnl;    /* BORROWED: the engine's oneDNN state; NULL
                             when oneDNN is not used */
  uint32_t flags;         /* IMS_ENGINE_FLAG_* (include/imgstream/model.h) */
  uint32_t keep_tensor;   /* an activation the engine reads between steps
                             (features), never fused away; UINT32_MAX:
                             none */
} ims__step_env;

/* One kind of step. Lifecycle: create (weights packed, tables filled) ->
 * setup for a batch size (again when it changes) -> run (repeatable) ->
 * destroy. */
struct ims__step_ops {
  const char *name; /* "xnnpack", "onednn", "dw", "lut8", ... */
  /* Make `s` (node, in/out resolved) a step of this kind, and set s->ops
   * to this table. A kind may decline a node only it can judge (oneDNN:
   * no fast, exact kernel on this CPU): it returns IMS_OK and leaves
   * s->ops NULL, owning nothing. On failure it owns nothing either. */
  ims_status (*create)(const ims__step_env *env, ims__step *s,
                       ims_error *err);
  /* Bind to `batch` images. NULL: nothing to bind. */
  ims_status (*setup)(const ims_model *m, ims__step *s, size_t batch,
                      pthreadpool_t pool, ims_error *err);
  /* Run over `batch` images, on `par` (NULL: this thread). `scratch`
   * holds s->channels floats (the engine's; steps do not allocate). */
  ims_status (*run)(ims__step *s, size_t batch, const ims__par *par,
                    float *scratch, ims_error *err);
  /* Free what create made. NULL: it made nothing. */
  void (*destroy)(ims__step *s);
};

extern const ims__step_ops ims__step_xnn;          /* xnn_ops.c */
extern const ims__step_ops ims__step_dnnl;         /* dnnl_ops.c */
extern const ims__step_ops ims__step_dw;           /* dw_ops.c */
extern const ims__step_ops ims__step_pw;           /* pw_ops.c */
extern const ims__step_ops ims__step_fused;        /* fuse_ops.c ... */
extern const ims__step_ops ims__step_fused_away;
extern const ims__step_ops ims__step_view;         /* kernels.c ... */
extern const ims__step_ops ims__step_lut8;
extern const ims__step_ops ims__step_dequant8;
extern const ims__step_ops ims__step_softmax_q8;
extern const ims__step_ops ims__step_hard_sigmoid;
extern const ims__step_ops ims__step_concat;

/* ---- steps (step.c) -------------------------------------------------- */

/* Choose the kind for s's node (in/out resolved) and create s through its
 * table. `next`: the step after it (in/out resolved, not created), or
 * NULL; when s's kind is ims__step_fused, s has taken next's node too and
 * the caller makes next an ims__step_fused_away step. The kinds: our depthwise kernel, unless a flag in env says otherwise, where
 * it takes the node and the CPU has a SIMD path for it (its C path is
 * slower than XNNPACK); else oneDNN, with env->dnnl, where it takes the
 * node (depthwise only when forced) and has a fast, exact kernel; else a
 * portable kernel (kernels.c) for the nodes that have one; else XNNPACK.
 * With IMS_ENGINE_FLAG_FORCE_ONEDNN, a node oneDNN takes but has no
 * kernel for fails (IMS_ERR_UNSUPPORTED). */
ims_status ims__step_choose(const ims__step_env *env, ims__step *s,
                            ims__step *next, ims_error *err);

/* The baseline: as ims__step_choose with XNNPACK and the portable kernels
 * only (no oneDNN, no depthwise kernel), what the other kinds are checked
 * against (tests, bench/bench_dw.c). */
ims_status ims__step_create(const ims_model *model, ims__step *step,
                            ims_error *err);

/* Bind a created step to `batch` images. Called when batch changes. */
ims_status ims__step_setup(const ims_model *model, ims__step *step,
                           size_t batch, pthreadpool_t pool, ims_error *err);

/* Run one step over `batch` images. `scratch` holds at least the longest
 * softmax row in floats (the engine's; steps do not allocate). */
ims_status ims__step_run(ims__step *step, size_t batch, const ims__par *par,
                         float *scratch, ims_error *err);

/* Free what the step owns; a step never created (ops NULL): no-op. */
void ims__step_destroy(ims__step *step);

/* Fails `err` with IMS_ERR_UNSUPPORTED: "<node> (operator N): not
 * supported: <why>". */
ims_status ims__step_unsupported(const ims__step *s, const char *why,
                                 ims_error *err);

/* A layer's packed arrays carved out of one zeroed, 64-byte aligned
 * block: one allocation to fail and free instead of ten (an engine packs
 * ~50 layers). A layout function takes each array in turn with
 * ims__carve_take; run once on a carve with no base it only sizes the
 * block, run again after ims__carve_alloc it hands out the pointers. */
typedef struct ims__carve {
  uint8_t *base; /* the block; NULL while sizing */
  size_t used;   /* bytes taken so far, each array rounded up to 64 */
} ims__carve;

static inline void *ims__carve_take(ims__carve *c, size_t bytes) {
  size_t at = c->used;
  c->used += (bytes + 63) & ~(size_t)63;
  return c->base != NULL ? c->base + at : NULL;
}

/* The block for the sizes taken so far, zeroed, and the carve rewound to
 * hand it out; NULL (out of memory) or the block, which the caller owns. */
static inline void *ims__carve_alloc(ims__carve *c) {
  size_t bytes = c->used > 0 ? c->used : 64;
  c->base = aligned_alloc(64, bytes);
  if (c->base != NULL) memset(c->base, 0, bytes);
  c->used = 0;
  return c->base;
}

/* XNNPACK's fp32 requantization of one exact int32 accumulator, which our
 * kernels' C paths and tails reproduce: (float)acc * scale clamped to
 * [fmin, fmax] (the output range less zy), rounded half to even, plus
 * zy, clamped to [lo, hi]. */
static inline int32_t ims__requant_fp32(int32_t acc, float scale, float fmin,
                                        float fmax, int32_t zy, int32_t lo,
                                        int32_t hi) {
  float f = (float)acc * scale;
  f = f < fmax ? f : fmax;
  f = f > fmin ? f : fmin;
  int32_t y = (int32_t)lrintf(f) + zy;
  y = y < lo ? lo : y;
  return y > hi ? hi : y;
}

/* Quantized clamp bounds [*lo, *hi] of 8-bit output t with fused `act`. */
void ims__q8_range(const ims__tensor *t, ims__activation act, int32_t *lo,
                   int32_t *hi);

static inline bool ims__is_q8(ims_tensor_type t) {
  return t == IMS_TENSOR_U8 || t == IMS_TENSOR_I8;
}

/* ---- teams (engine.c) -------------------------------------------------
 * A one-thread engine lent a team (core/team_int.h) splits the layers of
 * its one-image runs over it (our own kernels: pw_ops.c, dw_ops.c); the
 * classifier lends its team to its first lane's engine for runs of one
 * image, when the other lanes are idle. NULL takes it back. An engine
 * with a pool of its own ignores this. */
void ims__engine_lend_team(ims_engine *e, ims__team *team);

/* ---- profiling (engine.c) ---------------------------------------------
 * For bench/bench_macs.c --layers: where an image's time goes, step by
 * step. Run one image (the model's input layout, as ims_engine_run takes
 * it) through every step on the calling thread, adding each step's
 * nanoseconds to ns[i] (node_count entries). */
ims_status ims__engine_time_steps(ims_engine *e, const uint8_t *image,
                                  double *ns, ims_error *err);
/* The kind name ("xnnpack", "dw", ...) of step i. */
const char *ims__engine_step_kind(const ims_engine *e, uint32_t i);

/* ---- activation memory (plan.c) -------------------------------------- */

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

/* ---- XNNPACK operators (xnn_ops.c) ----------------------------------- */

/* Message for an xnn_status ("unsupported parameter"). */
const char *ims__xnn_status_str(enum xnn_status s);

/* ---- oneDNN layers (dnnl_ops.c) -----------------------------------------
 * Lifecycle: ctx_create -> steps of kind ims__step_dnnl (created with
 * env->dnnl, which must outlive them) -> ctx_destroy. */

/* oneDNN state shared by an engine's layers: CPU engine, one stream and
 * scratchpad per worker. `threads` >= 1 is the engine's pool size.
 * IMS_ERR_BACKEND if oneDNN cannot start. */
ims_status ims__dnnl_ctx_create(size_t threads, ims__dnnl_ctx **ctx_out,
                                ims_error *err);
void ims__dnnl_ctx_destroy(ims__dnnl_ctx *ctx); /* NULL: no-op */

/* Whether dnnl_ops.c can run this node at all: a 1x1 stride-1 unpadded
 * CONV_2D or a FULLY_CONNECTED (int8 or uint8), or another int8 CONV_2D /
 * depthwise (multiplier 1) with symmetric weights, or a dense float
 * CONV_2D. Pure; no oneDNN calls. Its create still declines nodes for
 * which oneDNN has only a reference kernel, or for 8-bit ones no VNNI or
 * AMX kernel (the others are not exact). */
bool ims__dnnl_eligible(const ims_model *model, const ims__node *node);

/* Implementation name oneDNN chose for a step ("brg:avx512_core_vnni"),
 * BORROWED from the step; "" for steps of other kinds. */
const char *ims__dnnl_step_impl(const ims__step *step);

/* ---- 3x3 depthwise convolutions (dw_ops.c) ------------------------------
 * Bit-identical to XNNPACK's qu8/qc8 depthwise operators. Steps of kind
 * ims__step_dw wrap one layer each; tests and benchmarks also use layers
 * alone. Lifecycle: layer_create (packs weights) -> layer_run
 * (repeatable, any batch) -> layer_destroy. Layers are immutable after
 * creation. */

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
 * `par` (NULL: this thread). Never fails, never allocates. */
void ims__dw_layer_run(const ims__dw_layer *l, const void *in, void *out,
                       size_t batch, const ims__par *par);
void ims__dw_layer_destroy(ims__dw_layer *l); /* NULL: no-op */
/* The path a layer runs (never AUTO). */
ims__dw_path ims__dw_layer_path(const ims__dw_layer *l);

/* Output row from input rows rows[0..2] of one image (NULL: above or
 * below the image, the padding), for a kind that makes the input a row
 * at a time (fuse_ops.c). One thread; never allocates. */
void ims__dw_layer_run_row(const ims__dw_layer *l, const uint8_t *const *rows,
                           void *out);
/* The layer's parameters (weights/bias/scales NULL) and output size. */
void ims__dw_layer_geometry(const ims__dw_layer *l, ims__dw_params *p,
                            size_t *oh, size_t *ow);

/* Whether dw_ops.c can run node n. Pure. */
bool ims__dw_eligible(const ims_model *m, const ims__node *n);
/* Make `step` (in/out resolved, node eligible) an ims__step_dw step
 * running `path` (ims__step_dw's create: AUTO). */
ims_status ims__dw_step_create(const ims_model *m, ims__step *s,
                               ims__dw_path path, ims_error *err);

/* ---- 1x1 convolutions (pw_ops.c) ----------------------------------------
 * Bit-identical to XNNPACK's qu8/qc8 1x1 convolutions. Steps of kind
 * ims__step_pw wrap one layer each; tests and benchmarks also use layers
 * alone. Lifecycle as depthwise layers: create (packs) -> run -> destroy;
 * immutable after creation. */

typedef enum ims__pw_path {
  IMS__PW_PATH_AUTO,
  IMS__PW_PATH_C,       /* portable C, the reference */
  IMS__PW_PATH_AVX2     /* AVX2 vpmaddubsw + exact 16-bit rest */
} ims__pw_path;

/* One layer, NHWC, 8-bit. 1x1 (kh = kw = 0): out[p][n] from in[p][0..k),
 * k % 4 == 0. Other kernels (kh, kw >= 1, small k): each output pixel's
 * taps are gathered into a row of k = kh * kw * c bytes first (padding:
 * the input zero point), then run as a 1x1 layer (the first layer of
 * MobileNetV2: 3x3, 3 channels, stride 2). */
typedef struct ims__pw_params {
  size_t k, n;              /* bytes per input row / output channels */
  size_t kh, kw;            /* kernel rows / columns; 0: 1x1 */
  size_t h, w, c;           /* kh > 0: input of one image */
  size_t stride;            /* kh > 0: both dimensions */
  size_t pad_top, pad_left, pad_bottom, pad_right; /* kh > 0 */
  bool s8;                  /* int8 activations and weights, else uint8 */
  int32_t in_zero_point;    /* zx */
  float in_scale;           /* sx */
  int32_t w_zero_point;     /* zw (0 for int8) */
  float w_scale;            /* per-tensor weight scale, if no w_scales */
  const float *w_scales;    /* per-channel [n], or NULL; BORROWED for the
                               create call only */
  int32_t out_zero_point;   /* zy */
  float out_scale;          /* sy */
  int32_t out_min, out_max; /* quantized clamp (fused activation) */
  const void *weights;      /* {n, k} bytes; BORROWED for create only */
  const int32_t *bias;      /* [n] or NULL; BORROWED for create only */
} ims__pw_params;

/* Can this build and CPU run `path`? AUTO and C: always. */
bool ims__pw_path_supported(ims__pw_path path);
/* Whether the engine should take eligible layers by default: the AVX2
 * kernel runs here (the C path is slower than XNNPACK). */
bool ims__pw_preferred(void);
/* IMS_ERR_INVALID_ARG (bad shape), IMS_ERR_UNSUPPORTED (path not here),
 * IMS_ERR_NO_MEMORY. */
ims_status ims__pw_layer_create(const ims__pw_params *p, ims__pw_path path,
                                ims__pw_layer **layer_out, ims_error *err);
/* `pixels` rows (of all images) from `in` to `out`, split into chunks of
 * pixels over `par` (NULL: this thread). Never fails, never allocates. */
void ims__pw_layer_run(const ims__pw_layer *l, const void *in, void *out,
                       size_t pixels, const ims__par *par);
void ims__pw_layer_destroy(ims__pw_layer *l); /* NULL: no-op */
/* Output rows [first, first + count) of one image (1x1: rows of k bytes
 * from `image`) into `out`, on this thread: for a kind that needs the
 * output a few rows at a time (fuse_ops.c). Never allocates. */
void ims__pw_layer_run_range(const ims__pw_layer *l, const void *image,
                             void *out, size_t first, size_t count);
ims__pw_path ims__pw_layer_path(const ims__pw_layer *l);
/* Fraction of the layer's multiply-adds on the exact 16-bit path (the
 * rest take vpmaddubsw), for tests and benchmarks; 0 for the C path. */
double ims__pw_layer_rest_share(const ims__pw_layer *l);
/* Whether pw_ops.c can run node n. Pure. */
bool ims__pw_eligible(const ims_model *m, const ims__node *n);
/* The layer parameters of eligible node n (weights, bias and scales
 * BORROWED from the model), as the engine's steps take them. */
void ims__pw_node_params(const ims_model *m, const ims__node *n,
                         ims__pw_params *p);

/* ---- fused layers (fuse_ops.c) -------------------------------------- */

/* Whether s's node (a pw_ops.c layer) and next's (a 3x3 depthwise layer
 * reading only its output) can run as one ims__step_fused step. Pure. */
bool ims__fuse_eligible(const ims__step_env *env, const ims__step *s,
                        const ims__step *next);
/* Make s an ims__step_fused step over s's and next's nodes (writing
 * next->out). */
ims_status ims__fused_create(const ims__step_env *env, ims__step *s,
                             const ims__step *next, ims_error *err);

#endif /* IMS_INFER_INFER_INT_H */
