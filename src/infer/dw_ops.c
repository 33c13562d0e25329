/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dw_ops.c - quantized 3x3 depthwise convolutions, the step kind "dw"
 * (ims__step_dw): our own kernel, bit-identical to XNNPACK's qu8/qc8
 * operators.
 *
 * What it takes: DEPTHWISE_CONV_2D, 3x3, depth multiplier 1, no
 * dilation, equal strides 1 or 2, any padding (SAME, VALID, explicit;
 * padded pixels hold the input zero point, as in TFLite). Types: uint8
 * activations with per-tensor uint8 weights and a weight zero point, or
 * int8 activations with int8 symmetric weights, per channel or per
 * tensor. Fused ReLU / ReLU6 are the output clamp. Not here: other
 * kernel sizes, multipliers, float.
 *
 * The math, identical to XNNPACK's (2022 snapshot, fp32 requantization):
 *   acc  = bias[c] + sum_taps (x - zx) * (w - zw)          exact int32
 *   f    = (float)acc * scale[c],  scale[c] = sx * sw[c] / sy  (float)
 *   y    = clamp(round_half_even(min(f, hi - zy)) + zy, lo, hi)
 * computed as sum x * (w - zw) with bias' = bias - zx * sum (w - zw)
 * folded once per channel; a padded tap has x = zx and contributes
 * zx * (w - zw), which bias' cancels exactly, so padding needs no case.
 * Checked against the XNNPACK operator on every layer shape of both
 * models and random layers by tests/infer_dw.c, every path.
 *
 * The kernels: NHWC, vectorized over channels. x is widened to int16
 * (exact), weights (w - zw) are int16 (|w - zw| <= 255), and two taps
 * are interleaved per channel so one pmaddwd (AVX-512 VNNI: vpdpwssd,
 * multiply-add-accumulate) does 2 taps per channel into int32, exactly.
 * The interleave puts channels in an order that packssdw undoes, so
 * weights, bias and scales are packed once per layer in that order and
 * outputs come out in natural order.
 *   AVX-512 (BW+VL+VNNI): blocks of 64 channels (taps interleaved as
 *   bytes, widened by unpacking with zeros; int8 inputs have their top
 *   bit flipped to make them unsigned, x + 128, compensated in those
 *   blocks' bias), then blocks of 32 (vpmovzx/vpmovsx + unpack_epi16,
 *   masked tail), two output pixels per pass (two independent chains,
 *   shared weight loads). AVX2: 16 channels per block, one pixel, the
 *   channel tail in C. C: the reference.
 * The AVX-512 and AVX2 kernels are in dw_x86.c, compiled for their own
 * instruction sets; a layer takes its row kernel when it is created,
 * from what the CPU has (core/cpu_int.h), and keeps it.
 * Why not vpdpbusd (u8 x s8, 4 taps per instruction): the uint8 model's
 * w - zw needs 9 bits (its zw run 52..201 over full-range weights), so
 * it would need a second pass for zw * sum(x); and for int8, a version
 * with 4 accumulators per 16 channels (input bytes masked by position,
 * no shuffles) measured no faster than vpdpwssd for >= 192 channels and
 * 2.7x slower on the 32-channel layer (half-empty 64-byte blocks).
 * Each output pixel reads its 9 taps through pointers into the input or,
 * off the edge, into a row of zero-point bytes.
 *
 * Measured (bench/bench_dw.c: AMD EPYC Zen 5, 1 thread, batch 1, all 17
 * depthwise layers of MobileNetV2 1.0/224, microseconds per image):
 *                      XNNPACK     C    AVX2  AVX-512
 *   uint8 quant model     1315  20392   1037     574
 *   int8 tf2 model        1235  20335   1035     592
 * (XNNPACK's first layer varies run to run: 258-359 us.) AVX-512 is
 * 1.9-2.4x faster than XNNPACK on every one of the 17 layers, AVX2
 * 1.1-1.3x. So by default step.c's ims__step_choose gives this kind
 * every eligible layer when AVX2 or AVX-512 is there (ims__dw_preferred;
 * AUTO: AVX-512, else AVX2) and the layer to XNNPACK otherwise: the C
 * path is ~15x slower than XNNPACK, a reference for the tests and for
 * builds without x86 SIMD (ims__dw_layer_create still takes it when
 * asked).
 *
 * Threading: a layer is split by output rows (over all images of the
 * batch) on the engine's pthreadpool; layers are immutable after
 * creation, so runs only read them.
 *
 * Sections: 1. packing 2. portable C kernel 3. dispatch and run
 * 4. engine steps, the ops table.
 */
#include <stdlib.h>
#include <string.h>

#include "core/cpu_int.h"
#include "core/error_int.h"
#include "infer/dw_int.h"
#include "infer/infer_int.h"

/* ---- 1. packing ------------------------------------------------------ */

#define PAIRS IMS__DW_PAIRS
#define CALIGN 32  /* channels are padded to this in the plain arrays */

/* Channel (within its block) of int32 element i of accumulator q. The
 * kernels interleave two taps per channel within 128-bit lanes, so an
 * accumulator holds 4 channels per lane: lanes of G = 8 channels split
 * in 2 accumulators (16- and 32-channel blocks: vpmovzx + unpack_epi16)
 * or of G = 16 in 4 (64-channel blocks: unpack_epi8 twice). */
static size_t acc_channel(size_t i, size_t q, size_t g) {
  return g * (i / 4) + 4 * q + i % 4;
}

/* Pack `blocks` blocks of V channels from channel c0 on, G as above.
 * Every layout spends PAIRS * 2 int16 of weights per channel, so channel
 * c's block starts at wpack + c * PAIRS * 2 and at bpack/spack + c.
 * `shift`: the kernel sees x + shift instead of x (int8 inputs in the
 * 64-channel blocks), so the bias takes off shift * sum(w - zw). */
static void pack_range(ims__dw_layer *l, size_t c0, size_t blocks,
                       size_t v, size_t g, int32_t shift) {
  size_t nacc = g / 4, e_per = 2 * (v / nacc); /* int16 per vector */
  for (size_t b = 0, base = c0; b < blocks; b++, base += v) {
    int16_t *w = l->wpack + base * PAIRS * 2;
    for (size_t p = 0; p < PAIRS; p++)
      for (size_t q = 0; q < nacc; q++)
        for (size_t e = 0; e < e_per; e++) {
          size_t tap = 2 * p + e % 2;
          size_t c = base + acc_channel(e / 2, q, g);
          w[(p * nacc + q) * e_per + e] =
              tap < 9 ? l->w16[tap * l->cp + c] : 0;
        }
    for (size_t q = 0; q < nacc; q++)
      for (size_t i = 0; i < e_per / 2; i++) {
        size_t c = base + acc_channel(i, q, g);
        int32_t sum = 0;
        for (size_t tap = 0; tap < 9; tap++) sum += l->w16[tap * l->cp + c];
        l->bpack[base + q * e_per / 2 + i] = l->bias[c] - shift * sum;
        l->spack[base + q * e_per / 2 + i] = l->scale[c];
      }
  }
}

/* SIMD forms: AVX2 blocks of 16; AVX-512 blocks of 64 for as many whole
 * 64s as the layer has, then blocks of 32 (the last one masked). */
static void pack_blocks(ims__dw_layer *l) {
  if (l->path != IMS__DW_PATH_AVX512) {
    pack_range(l, 0, l->cp / 16, 16, 8, 0);
    return;
  }
  size_t n64 = l->p.c / 64;
  pack_range(l, 0, n64, 64, 16, l->p.s8 ? 128 : 0);
  pack_range(l, n64 * 64, (l->cp - n64 * 64) / 32, 32, 8, 0);
}

/* Every array of the layer, the SIMD ones but for the C kernel (see
 * ims__carve_take). */
static void lay_out(ims__dw_layer *l, ims__carve *c) {
  l->w16 = ims__carve_take(c, 9 * l->cp * sizeof *l->w16);
  l->bias = ims__carve_take(c, l->cp * sizeof *l->bias);
  l->scale = ims__carve_take(c, l->cp * sizeof *l->scale);
  l->padrow = ims__carve_take(c, l->p.w * l->p.c);
  if (l->path == IMS__DW_PATH_C) return;
  l->wpack = ims__carve_take(c, l->cp * PAIRS * 2 * sizeof *l->wpack);
  l->bpack = ims__carve_take(c, l->cp * sizeof *l->bpack);
  l->spack = ims__carve_take(c, l->cp * sizeof *l->spack);
}

/* Plain per-channel arrays: w - zw, folded bias, scales. */
static void pack_plain(ims__dw_layer *l, const ims__dw_params *p) {
  /* all of its 64-byte rounded size: vector loads may run past w * c */
  size_t row = (p->w * p->c + 63) & ~(size_t)63;
  memset(l->padrow, (uint8_t)p->in_zero_point, row);
  for (size_t c = 0; c < p->c; c++) {
    int32_t sum = 0;
    for (size_t t = 0; t < 9; t++) {
      const uint8_t *w = p->weights;
      int32_t q = p->s8 ? (int8_t)w[t * p->c + c] : w[t * p->c + c];
      int16_t d = (int16_t)(q - p->w_zero_point);
      l->w16[t * l->cp + c] = d;
      sum += d;
    }
    l->bias[c] = (p->bias ? p->bias[c] : 0) - p->in_zero_point * sum;
    float ws = p->w_scales ? p->w_scales[c] : p->w_scale;
    l->scale[c] = p->in_scale * ws / p->out_scale; /* XNNPACK's order */
  }
}

/* ---- 2. portable C kernel -------------------------------------------- */

/* One output row, every channel in C: the reference. */
static void row_c(const ims__dw_layer *l, const uint8_t *const *r,
                  uint8_t *out) {
  IMS__DW_ROW_LOOP(ims__dw_pixel_c(l, t, out, 0))
}

/* ---- 3. dispatch and run --------------------------------------------- */

bool ims__dw_path_supported(ims__dw_path path) {
  switch (path) {
    case IMS__DW_PATH_AUTO:
    case IMS__DW_PATH_C: return true;
    case IMS__DW_PATH_AVX2: return ims__cpu_has(IMS__CPU_FOR_AVX2);
    case IMS__DW_PATH_AVX512: return ims__cpu_has(IMS__CPU_FOR_AVX512_VNNI);
  }
  return false;
}

bool ims__dw_preferred(void) {
  return ims__dw_path_supported(IMS__DW_PATH_AVX2) ||
         ims__dw_path_supported(IMS__DW_PATH_AVX512);
}

static ims__dw_path best_path(void) {
  if (ims__dw_path_supported(IMS__DW_PATH_AVX512)) return IMS__DW_PATH_AVX512;
  if (ims__dw_path_supported(IMS__DW_PATH_AVX2)) return IMS__DW_PATH_AVX2;
  return IMS__DW_PATH_C;
}

/* The row kernel of `path` (supported, not AUTO). */
static ims__dw_row_fn row_kernel(ims__dw_path path) {
  switch (path) {
#ifdef IMS_HAVE_X86_SIMD
    case IMS__DW_PATH_AVX512: return ims__dw_row_avx512;
    case IMS__DW_PATH_AVX2: return ims__dw_row_avx2;
#endif
    default: return row_c;
  }
}

typedef struct run_ctx {
  const ims__dw_layer *l;   /* the layer */
  const uint8_t *in;        /* batch of NHWC inputs */
  uint8_t *out;             /* batch of NHWC outputs */
} run_ctx;

/* pthreadpool task: output row i of the batch (image i / oh). */
static void run_row(void *arg, size_t i) {
  const run_ctx *x = arg;
  const ims__dw_layer *l = x->l;
  size_t n = i / l->oh, oy = i % l->oh, rowb = l->p.w * l->p.c;
  const uint8_t *img = x->in + n * l->p.h * rowb;
  const uint8_t *r[3];
  for (int ky = 0; ky < 3; ky++) {
    long iy = (long)(oy * l->p.stride) + ky - (long)l->p.pad_top;
    r[ky] = iy >= 0 && iy < (long)l->p.h ? img + (size_t)iy * rowb
                                         : l->padrow;
  }
  l->row(l, r, x->out + i * l->ow * l->p.c);
}

void ims__dw_layer_run(const ims__dw_layer *l, const void *in, void *out,
                       size_t batch, const ims__par *par) {
  run_ctx x = {l, in, out};
  ims__par_for(par, run_row, &x, batch * l->oh);
}

ims_status ims__dw_layer_create(const ims__dw_params *p, ims__dw_path path,
                                ims__dw_layer **layer_out, ims_error *err) {
  if (p->c == 0 || p->h == 0 || p->w == 0 ||
      (p->stride != 1 && p->stride != 2))
    return ims__fail(err, IMS_ERR_INVALID_ARG, "depthwise: bad shape");
  if (!ims__dw_path_supported(path))
    return ims__fail(err, IMS_ERR_UNSUPPORTED,
                     "depthwise: kernel path %d not available", (int)path);
  ims__dw_layer *l = calloc(1, sizeof *l);
  if (l == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  l->p = *p;
  l->p.weights = NULL; /* not kept: packed below */
  l->p.bias = NULL;
  l->p.w_scales = NULL;
  l->path = path == IMS__DW_PATH_AUTO ? best_path() : path;
  l->row = row_kernel(l->path);
  l->oh = (p->h + p->pad_top + p->pad_bottom - 3) / p->stride + 1;
  l->ow = (p->w + p->pad_left + p->pad_right - 3) / p->stride + 1;
  l->cp = (p->c + CALIGN - 1) / CALIGN * CALIGN;
  l->fmax = (float)(p->out_max - p->out_zero_point);
  l->fmin = (float)(p->out_min - p->out_zero_point);
  ims__carve c = {0};
  lay_out(l, &c);
  if ((l->mem = ims__carve_alloc(&c)) == NULL) {
    ims__dw_layer_destroy(l);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  lay_out(l, &c);
  pack_plain(l, p);
  if (l->path != IMS__DW_PATH_C) pack_blocks(l);
  *layer_out = l;
  return IMS_OK;
}

void ims__dw_layer_destroy(ims__dw_layer *l) {
  if (l == NULL) return;
  free(l->mem);
  free(l);
}

ims__dw_path ims__dw_layer_path(const ims__dw_layer *l) { return l->path; }

void ims__dw_layer_run_row(const ims__dw_layer *l, const uint8_t *const *rows,
                           void *out) {
  const uint8_t *r[3];
  for (int ky = 0; ky < 3; ky++) r[ky] = rows[ky] ? rows[ky] : l->padrow;
  l->row(l, r, out);
}

void ims__dw_layer_geometry(const ims__dw_layer *l, ims__dw_params *p,
                            size_t *oh, size_t *ow) {
  *p = l->p;
  *oh = l->oh, *ow = l->ow;
}

/* ---- 4. engine steps, the ops table ---------------------------------- */

static const ims__tensor *tin(const ims_model *m, const ims__node *n, int k) {
  return &m->tensors[n->inputs[k]];
}

bool ims__dw_eligible(const ims_model *m, const ims__node *n) {
  if (n->op != IMS__OP_DEPTHWISE_CONV_2D || n->input_count < 2) return false;
  const ims__tensor *in = tin(m, n, 0), *w = tin(m, n, 1);
  const ims__tensor *o = &m->tensors[n->output];
  if (in->type != w->type || in->type != o->type) return false;
  if (in->rank != 4 || w->rank != 4 || o->rank != 4) return false;
  if (w->shape[0] != 1 || w->shape[1] != 3 || w->shape[2] != 3 ||
      w->shape[3] != in->shape[3] || o->shape[3] != in->shape[3])
    return false;
  if (n->dilation_h > 1 || n->dilation_w > 1) return false;
  uint32_t sh = n->stride_h ? n->stride_h : 1;
  uint32_t sw = n->stride_w ? n->stride_w : 1;
  if (sh != sw || sh > 2) return false;
  if (n->input_count > 2 && tin(m, n, 2)->type != IMS_TENSOR_I32)
    return false;
  if (in->type == IMS_TENSOR_U8) return w->channel_scales == NULL;
  if (in->type != IMS_TENSOR_I8 || w->zero_point != 0) return false;
  return w->channel_scales == NULL || w->channel_count == w->shape[3];
}

/* TensorFlow SAME padding of one dimension: before / after. */
static void same_pad(size_t in, size_t stride, size_t *before,
                     size_t *after) {
  size_t out = (in + stride - 1) / stride;
  size_t need = (out - 1) * stride + 3;
  size_t total = need > in ? need - in : 0;
  *before = total / 2;
  *after = total - total / 2;
}

/* The kernel's parameters for node n of model m. */
static void node_params(const ims_model *m, const ims__node *n,
                        ims__dw_params *p) {
  const ims__tensor *in = tin(m, n, 0), *w = tin(m, n, 1);
  const ims__tensor *o = &m->tensors[n->output];
  memset(p, 0, sizeof *p);
  p->h = in->shape[1], p->w = in->shape[2], p->c = in->shape[3];
  p->stride = n->stride_h ? n->stride_h : 1;
  if (n->padding == IMS__PAD_SAME) {
    same_pad(p->h, p->stride, &p->pad_top, &p->pad_bottom);
    same_pad(p->w, p->stride, &p->pad_left, &p->pad_right);
  } else if (n->padding == IMS__PAD_EXPLICIT) {
    p->pad_top = n->pad_top, p->pad_bottom = n->pad_bottom;
    p->pad_left = n->pad_left, p->pad_right = n->pad_right;
  }
  p->s8 = in->type == IMS_TENSOR_I8;
  p->in_zero_point = in->zero_point, p->in_scale = in->scale;
  p->w_zero_point = w->zero_point, p->w_scale = w->scale;
  p->w_scales = w->channel_scales;
  p->out_zero_point = o->zero_point, p->out_scale = o->scale;
  p->weights = w->data;
  p->bias = n->input_count > 2 ? tin(m, n, 2)->data : NULL;
  ims__q8_range(o, n->activation, &p->out_min, &p->out_max);
}

ims_status ims__dw_step_create(const ims_model *m, ims__step *s,
                               ims__dw_path path, ims_error *err) {
  ims__dw_params p;
  node_params(m, s->node, &p);
  ims__dw_layer *l = NULL;
  ims_status st = ims__dw_layer_create(&p, path, &l, err);
  if (st != IMS_OK) return st;
  const ims__tensor *o = &m->tensors[s->node->output];
  if (l->oh != o->shape[1] || l->ow != o->shape[2]) {
    ims__dw_layer_destroy(l);
    return ims__fail(err, IMS_ERR_UNSUPPORTED,
                     "%s (operator %u): output shape does not match padding",
                     s->node->source_name, s->node->source_index);
  }
  s->dw = l;
  s->ops = &ims__step_dw;
  return IMS_OK;
}

static ims_status dw_create(const ims__step_env *env, ims__step *s,
                            ims_error *err) {
  return ims__dw_step_create(env->model, s, IMS__DW_PATH_AUTO, err);
}

static ims_status dw_run(ims__step *s, size_t batch, const ims__par *par,
                         float *scratch, ims_error *err) {
  ims__dw_layer_run(s->dw, s->in, s->out, batch, par);
  return IMS_OK;
}

static void dw_destroy(ims__step *s) {
  ims__dw_layer_destroy(s->dw);
  s->dw = NULL;
}

/* No setup: a run takes any batch. */
const ims__step_ops ims__step_dw = {"dw", dw_create, NULL, dw_run,
                                    dw_destroy};
