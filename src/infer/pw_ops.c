/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pw_ops.c - 8-bit 1x1 convolutions, the step kind "pw" (ims__step_pw):
 * our own kernel for CPUs without VNNI, bit-identical to XNNPACK's
 * qu8/qc8 operators. 1x1 convolutions are ~90% of MobileNetV2's
 * multiply-adds.
 *
 * What it takes: CONV_2D with 1x1 weights, stride 1, input channels a
 * multiple of 4; uint8 activations with per-tensor uint8 weights and a
 * weight zero point, or int8 activations with int8 symmetric weights, per
 * channel or per tensor. Fused ReLU / ReLU6 are the output clamp.
 *
 * The math, identical to XNNPACK's (2022 snapshot, fp32 requantization):
 *   acc  = bias[n] + sum_k (x - zx) * (w - zw)          exact int32
 *   f    = (float)acc * scale[n],  scale[n] = sx * sw[n] / sy  (float)
 *   y    = clamp(round_half_even(min(f, hi - zy)) + zy, lo, hi)
 * computed as sum_k x * (w - zw) with bias' = bias - zx * sum (w - zw)
 * folded once per channel.
 *
 * Why not XNNPACK's kernel: without VNNI, XNNPACK (and oneDNN, whose
 * non-VNNI int8 kernels saturate) widen both operands to 16 bits and use
 * vpmaddwd, 16 multiply-adds per instruction. vpmaddubsw takes the bytes
 * as they are (u8 x s8, 32 per instruction, pairs summed into int16),
 * but saturates the pair sum. It is exact when 255 * (|w1| + |w2|) <=
 * 32767, i.e. |w1| + |w2| <= 128 for every pair of adjacent weights -
 * checked here, once, at packing. So each weight pair (w - zw at k, k+1)
 * is split into a part that passes (a: the pair itself if it does, else
 * each weight clamped to [-64, 64]) and the rest (r = w - zw - a, mostly
 * 0; in the uint8 MobileNetV2 0.002-3% of pairs have any). The kernel
 * sums vpmaddubsw(x, a) (widened with vpmaddwd by 1s) and, for the pairs
 * where a block of 16 output channels has any rest, vpmaddwd(x, r) on
 * 16-bit values - exact, as a whole. A block where the rest would be
 * more than 3/8 of its pairs (int8 models: their weights use the full
 * range, 2-24% of pairs do not pass) puts every pair in the rest: the
 * 16-bit path alone, as XNNPACK's.
 * int8 activations: vpmaddubsw's first operand is unsigned, so the kernel
 * flips their top bit (x + 128), and bias' takes off 128 * sum(w - zw)
 * as well.
 *
 * Packed layouts (per block of 16 output channels): the kernel keeps two
 * accumulators of 8 int32 per pixel, acc0 holding channels 0-3 and 8-11,
 * acc1 4-7 and 12-15, the order in which vpackssdw + vpackuswb +
 * vpermq leave them natural. apack: per 4 input channels, 2 x 32 bytes,
 * each 8 channels x a[n][k..k+3] (one broadcast 4-byte x in each 32-bit
 * lane); rpack: per listed pair, 2 x 8 channels x r[n][k], r[n][k+1] as
 * int16 (x widened by unpacking with zeros). bpack / spack: bias' and
 * scales in accumulator order.
 *
 * Work split: chunks of pixels (about 16 KB of input each, so a chunk
 * stays in L1 while every block of weights passes over it), each chunk
 * block by block, 4 pixels at a time; chunks over the engine's pool.
 *
 * Threading: layers are immutable after creation; runs only read them.
 *
 * Sections: 1. packing 2. portable C kernel 3. dispatch and run
 * 4. engine steps, the ops table.
 */
#include <stdlib.h>
#include <string.h>

#include "core/cpu_int.h"
#include "core/error_int.h"
#include "infer/infer_int.h"
#include "infer/pw_int.h"

/* ---- 1. packing ------------------------------------------------------ */

#define NR IMS__PW_NR
#define CHUNK_BYTES 16384 /* input bytes per chunk of pixels */

/* Channel (within its block) of element i of accumulator q (0 or 1). */
static size_t acc_channel(size_t q, size_t i) {
  return (i / 4) * 8 + q * 4 + i % 4;
}

/* Whether vpmaddubsw takes the pair (w1, w2) exactly for any x in 0..255. */
static bool pair_exact(int32_t w1, int32_t w2) {
  return w1 >= -128 && w1 <= 127 && w2 >= -128 && w2 <= 127 &&
         abs(w1) + abs(w2) <= 128;
}

static int32_t clamp64(int32_t w) { return w < -64 ? -64 : w > 64 ? 64 : w; }

/* The vpmaddubsw part of weight k of channel c (0 past the channels), and
 * whether that pair has a rest, with every pair in the rest if `off`. */
static int32_t a_part(const ims__pw_layer *l, size_t c, size_t k, bool off) {
  if (off || c >= l->p.n) return 0;
  const int16_t *w = l->w16 + c * l->p.k + (k & ~(size_t)1);
  return pair_exact(w[0], w[1]) ? l->w16[c * l->p.k + k]
                                : clamp64(l->w16[c * l->p.k + k]);
}

/* Whether pair k (even) of block b has a rest in any channel. */
static bool pair_has_rest(const ims__pw_layer *l, size_t b, size_t k) {
  for (size_t c = b * NR; c < (b + 1) * NR && c < l->p.n; c++) {
    const int16_t *w = l->w16 + c * l->p.k + k;
    if (!pair_exact(w[0], w[1])) return true;
  }
  return false;
}

/* Count the rest's pairs of every block, choose a_off, size rk/rpack. */
static ims_status plan_rest(ims__pw_layer *l) {
  size_t pairs = l->p.k / 2, total = 0;
  l->rstart = calloc(l->blocks + 1, sizeof *l->rstart);
  l->a_off = calloc(l->blocks, sizeof *l->a_off);
  if (!l->rstart || !l->a_off) return IMS_ERR_NO_MEMORY;
  for (size_t b = 0; b < l->blocks; b++) {
    size_t rest = 0;
    for (size_t k = 0; k < l->p.k; k += 2) rest += pair_has_rest(l, b, k);
    l->a_off[b] = rest * 8 > pairs * 3;
    l->rstart[b] = (uint32_t)total;
    total += l->a_off[b] ? pairs : rest;
  }
  l->rstart[l->blocks] = (uint32_t)total;
  l->rk = malloc((total ? total : 1) * sizeof *l->rk);
  l->rpack = aligned_alloc(64, (total ? total : 1) * 2 * NR * sizeof(int16_t));
  return l->rk && l->rpack ? IMS_OK : IMS_ERR_NO_MEMORY;
}

/* apack, rk and rpack of block b. */
static void pack_block(ims__pw_layer *l, size_t b) {
  bool off = l->a_off[b];
  int8_t *a = l->apack + b * l->p.k * NR;
  for (size_t k = 0; k < l->p.k; k += 4)
    for (size_t q = 0; q < 2; q++)
      for (size_t i = 0; i < 8; i++)
        for (size_t j = 0; j < 4; j++)
          *a++ = (int8_t)a_part(l, b * NR + acc_channel(q, i), k + j, off);
  size_t r = l->rstart[b];
  for (size_t k = 0; k < l->p.k; k += 2) {
    if (!off && !pair_has_rest(l, b, k)) continue;
    l->rk[r] = (uint32_t)k;
    int16_t *v = l->rpack + r * 2 * NR;
    for (size_t q = 0; q < 2; q++)
      for (size_t i = 0; i < 8; i++)
        for (size_t j = 0; j < 2; j++) {
          size_t c = b * NR + acc_channel(q, i);
          int32_t w = c < l->p.n ? l->w16[c * l->p.k + k + j] : 0;
          *v++ = (int16_t)(w - a_part(l, c, k + j, off));
        }
    r++;
  }
}

/* SIMD forms: apack, the rest, bias and scales in accumulator order. */
static ims_status pack_blocks(ims__pw_layer *l) {
  l->flip = l->p.s8 ? 0x80 : 0;
  l->apack = aligned_alloc(64, l->blocks * l->p.k * NR);
  l->bpack = aligned_alloc(64, l->np * sizeof *l->bpack);
  l->spack = aligned_alloc(64, l->np * sizeof *l->spack);
  if (!l->apack || !l->bpack || !l->spack) return IMS_ERR_NO_MEMORY;
  ims_status st = plan_rest(l);
  if (st != IMS_OK) return st;
  for (size_t b = 0; b < l->blocks; b++) {
    pack_block(l, b);
    for (size_t q = 0; q < 2; q++)
      for (size_t i = 0; i < 8; i++) {
        size_t c = b * NR + acc_channel(q, i), at = b * NR + q * 8 + i;
        int32_t sum = 0;
        for (size_t k = 0; c < l->p.n && k < l->p.k; k++)
          sum += l->w16[c * l->p.k + k];
        l->bpack[at] = l->bias[c] - (int32_t)l->flip * sum;
        l->spack[at] = l->scale[c];
      }
  }
  return IMS_OK;
}

/* Plain per-channel arrays: w - zw, folded bias, scales. */
static ims_status pack_plain(ims__pw_layer *l, const ims__pw_params *p) {
  l->w16 = calloc(l->np * p->k, sizeof *l->w16);
  l->bias = calloc(l->np, sizeof *l->bias);
  l->scale = calloc(l->np, sizeof *l->scale);
  if (!l->w16 || !l->bias || !l->scale) return IMS_ERR_NO_MEMORY;
  const uint8_t *w = p->weights;
  for (size_t c = 0; c < p->n; c++) {
    int32_t sum = 0;
    for (size_t k = 0; k < p->k; k++) {
      uint8_t byte = w[c * p->k + k];
      int32_t q = p->s8 ? (int8_t)byte : byte;
      int16_t d = (int16_t)(q - p->w_zero_point);
      l->w16[c * p->k + k] = d;
      sum += d;
    }
    l->bias[c] = (p->bias ? p->bias[c] : 0) - p->in_zero_point * sum;
    float ws = p->w_scales ? p->w_scales[c] : p->w_scale;
    l->scale[c] = p->in_scale * ws / p->out_scale; /* XNNPACK's order */
  }
  return IMS_OK;
}

/* ---- 2. portable C kernel -------------------------------------------- */

/* Every pixel and channel in C: the reference. */
static void kernel_c(const ims__pw_layer *l, const uint8_t *in, uint8_t *out,
                     size_t pixels) {
  for (size_t px = 0; px < pixels; px++, in += l->p.k, out += l->p.n)
    for (size_t c = 0; c < l->p.n; c++) {
      const int16_t *w = l->w16 + c * l->p.k;
      int32_t acc = l->bias[c];
      for (size_t k = 0; k < l->p.k; k++)
        acc += (l->p.s8 ? (int8_t)in[k] : in[k]) * w[k];
      out[c] = (uint8_t)ims__pw_requant(l, acc, c);
    }
}

/* ---- 3. dispatch and run --------------------------------------------- */

bool ims__pw_path_supported(ims__pw_path path) {
  switch (path) {
    case IMS__PW_PATH_AUTO:
    case IMS__PW_PATH_C: return true;
    case IMS__PW_PATH_AVX2: return ims__cpu_has(IMS__CPU_FOR_AVX2);
  }
  return false;
}

bool ims__pw_preferred(void) {
  return ims__pw_path_supported(IMS__PW_PATH_AVX2);
}

static ims__pw_kernel_fn kernel_of(ims__pw_path path) {
#ifdef IMS_HAVE_X86_SIMD
  if (path == IMS__PW_PATH_AVX2) return ims__pw_kernel_avx2;
#endif
  (void)path;
  return kernel_c;
}

typedef struct run_ctx {
  const ims__pw_layer *l;   /* the layer */
  const uint8_t *in;        /* rows of k bytes */
  uint8_t *out;             /* rows of n bytes */
  size_t pixels, chunk;     /* rows; rows per task */
} run_ctx;

/* pthreadpool task: chunk i of the rows. */
static void run_chunk(void *arg, size_t i) {
  const run_ctx *x = arg;
  size_t first = i * x->chunk;
  size_t count = x->pixels - first < x->chunk ? x->pixels - first : x->chunk;
  x->l->run(x->l, x->in + first * x->l->p.k, x->out + first * x->l->p.n,
            count);
}

void ims__pw_layer_run(const ims__pw_layer *l, const void *in, void *out,
                       size_t pixels, pthreadpool_t pool) {
  size_t chunk = CHUNK_BYTES / l->p.k;
  chunk = chunk < 4 ? 4 : chunk & ~(size_t)3;
  size_t threads = pool != NULL ? pthreadpool_get_threads_count(pool) : 1;
  if (threads > 1 && pixels < chunk * 2 * threads) /* room to balance */
    chunk = ((pixels + 2 * threads - 1) / (2 * threads) + 3) & ~(size_t)3;
  run_ctx x = {l, in, out, pixels, chunk};
  size_t tasks = (pixels + chunk - 1) / chunk;
  if (threads == 1) {
    for (size_t i = 0; i < tasks; i++) run_chunk(&x, i);
    return;
  }
  pthreadpool_parallelize_1d(pool, run_chunk, &x, tasks, 0);
}

ims_status ims__pw_layer_create(const ims__pw_params *p, ims__pw_path path,
                                ims__pw_layer **layer_out, ims_error *err) {
  if (p->k == 0 || p->k % 4 != 0 || p->n == 0 || p->k > 65536)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "1x1 convolution: bad shape");
  if (!ims__pw_path_supported(path))
    return ims__fail(err, IMS_ERR_UNSUPPORTED,
                     "1x1 convolution: kernel path %d not available",
                     (int)path);
  ims__pw_layer *l = calloc(1, sizeof *l);
  if (l == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  l->p = *p;
  l->p.weights = NULL; /* not kept: packed below */
  l->p.bias = NULL;
  l->p.w_scales = NULL;
  l->path = path != IMS__PW_PATH_AUTO ? path
            : ims__pw_preferred()     ? IMS__PW_PATH_AVX2
                                      : IMS__PW_PATH_C;
  l->run = kernel_of(l->path);
  l->blocks = (p->n + NR - 1) / NR;
  l->np = l->blocks * NR;
  l->fmax = (float)(p->out_max - p->out_zero_point);
  l->fmin = (float)(p->out_min - p->out_zero_point);
  ims_status st = pack_plain(l, p);
  if (st == IMS_OK && l->path != IMS__PW_PATH_C) st = pack_blocks(l);
  if (st != IMS_OK) {
    ims__pw_layer_destroy(l);
    return ims__fail(err, st, "out of memory");
  }
  *layer_out = l;
  return IMS_OK;
}

void ims__pw_layer_destroy(ims__pw_layer *l) {
  if (l == NULL) return;
  free(l->w16);
  free(l->bias);
  free(l->scale);
  free(l->apack);
  free(l->a_off);
  free(l->rpack);
  free(l->rk);
  free(l->rstart);
  free(l->bpack);
  free(l->spack);
  free(l);
}

ims__pw_path ims__pw_layer_path(const ims__pw_layer *l) { return l->path; }

double ims__pw_layer_rest_share(const ims__pw_layer *l) {
  if (l->rstart == NULL) return 0;
  return (double)l->rstart[l->blocks] / ((double)l->blocks * l->p.k / 2);
}

/* ---- 4. engine steps, the ops table ---------------------------------- */

static const ims__tensor *tin(const ims_model *m, const ims__node *n, int k) {
  return &m->tensors[n->inputs[k]];
}

bool ims__pw_eligible(const ims_model *m, const ims__node *n) {
  if (n->op != IMS__OP_CONV_2D || n->input_count < 2) return false;
  const ims__tensor *in = tin(m, n, 0), *w = tin(m, n, 1);
  const ims__tensor *o = &m->tensors[n->output];
  if (in->type != w->type || in->type != o->type || w->data == NULL)
    return false;
  if (in->rank != 4 || w->rank != 4 || o->rank != 4) return false;
  if (w->shape[1] != 1 || w->shape[2] != 1 || w->shape[3] != in->shape[3] ||
      o->shape[3] != w->shape[0] || in->shape[3] % 4 != 0)
    return false;
  if ((n->stride_h > 1 || n->stride_w > 1) ||
      o->shape[1] != in->shape[1] || o->shape[2] != in->shape[2])
    return false;
  if (n->padding == IMS__PAD_EXPLICIT &&
      (n->pad_top || n->pad_bottom || n->pad_left || n->pad_right))
    return false;
  if (n->input_count > 2 && tin(m, n, 2)->type != IMS_TENSOR_I32)
    return false;
  if (in->type == IMS_TENSOR_U8) return w->channel_scales == NULL;
  if (in->type != IMS_TENSOR_I8 || w->zero_point != 0) return false;
  return w->channel_scales == NULL || w->channel_count == w->shape[0];
}

static ims_status pw_create(const ims__step_env *env, ims__step *s,
                            ims_error *err) {
  const ims_model *m = env->model;
  const ims__node *n = s->node;
  const ims__tensor *in = tin(m, n, 0), *w = tin(m, n, 1);
  const ims__tensor *o = &m->tensors[n->output];
  ims__pw_params p = {
      .k = in->shape[3], .n = o->shape[3], .s8 = in->type == IMS_TENSOR_I8,
      .in_zero_point = in->zero_point, .in_scale = in->scale,
      .w_zero_point = w->zero_point, .w_scale = w->scale,
      .w_scales = w->channel_scales, .out_zero_point = o->zero_point,
      .out_scale = o->scale, .weights = w->data,
      .bias = n->input_count > 2 ? tin(m, n, 2)->data : NULL};
  ims__q8_range(o, n->activation, &p.out_min, &p.out_max);
  ims_status st = ims__pw_layer_create(&p, IMS__PW_PATH_AUTO, &s->pw, err);
  if (st == IMS_OK) s->ops = &ims__step_pw;
  return st;
}

static ims_status pw_run(ims__step *s, size_t batch, pthreadpool_t pool,
                         float *scratch, ims_error *err) {
  (void)scratch, (void)err;
  size_t pixels = s->out_per_image / s->pw->p.n * batch;
  ims__pw_layer_run(s->pw, s->in, s->out, pixels, pool);
  return IMS_OK;
}

static void pw_destroy(ims__step *s) {
  ims__pw_layer_destroy(s->pw);
  s->pw = NULL;
}

/* No setup: a run takes any batch. */
const ims__step_ops ims__step_pw = {"pw", pw_create, NULL, pw_run,
                                    pw_destroy};
