/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pw_ops.c - 8-bit 1x1 convolutions, the step kind "pw" (ims__step_pw):
 * our own kernel for CPUs without VNNI, bit-identical to XNNPACK's
 * qu8/qc8 operators. 1x1 convolutions are ~90% of MobileNetV2's
 * multiply-adds.
 *
 * What it takes: CONV_2D with 1x1 weights, stride 1, input channels a
 * multiple of 4; or any other undilated kernel whose taps per output
 * pixel (kh * kw * c) are few, as in first layers (MobileNetV2's: 3x3x3,
 * where XNNPACK ran at ~7 GMAC/s): each output pixel's taps are
 * gathered into a row (padding: the input zero point), a chunk of rows
 * at a time, and run as a 1x1 layer. uint8 activations with per-tensor uint8 weights and a
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
#define MAX_K 65536       /* longest input row a layer takes */

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

/* The vpmaddubsw part of weight j (0 or 1) of the pair at w. */
static int32_t pair_a(const int16_t *w, size_t j) {
  return pair_exact(w[0], w[1]) ? w[j] : clamp64(w[j]);
}

/* The vpmaddubsw part of weight k of channel c (0 past the channels),
 * with every pair in the rest if `off`. */
static int32_t a_part(const ims__pw_layer *l, size_t c, size_t k, bool off) {
  if (off || c >= l->p.n) return 0;
  return pair_a(l->w16 + c * l->kp + (k & ~(size_t)1), k & 1);
}

/* Mark each pair (k, k + 1) of each block that has a rest in any of its
 * channels: pair_rest[b * kp / 2 + k / 2]. Row by row, as w16 lies. */
static void mark_rest(ims__pw_layer *l) {
  size_t pairs = l->kp / 2;
  for (size_t c = 0; c < l->p.n; c++) {
    const int16_t *w = l->w16 + c * l->kp;
    uint8_t *mark = l->pair_rest + c / NR * pairs;
    for (size_t k = 0; k < l->kp; k += 2)
      mark[k / 2] |= !pair_exact(w[k], w[k + 1]);
  }
}

/* Whether block b runs every pair on the 16-bit path (a_off), and the
 * number of pairs it lists in the rest. */
static size_t block_rest(const ims__pw_layer *l, size_t b, bool *off) {
  size_t pairs = l->kp / 2, rest = 0;
  for (size_t k = 0; k < pairs; k++) rest += l->pair_rest[b * pairs + k];
  *off = rest * 8 > pairs * 3;
  return *off ? pairs : rest;
}

/* The SIMD arrays, for `rest` listed pairs in all (see carve_take). */
static void lay_out_blocks(ims__pw_layer *l, size_t rest, ims__carve *c) {
  l->apack = ims__carve_take(c, l->blocks * l->kp * NR);
  l->rk = ims__carve_take(c, rest * sizeof *l->rk);
  l->rpack = ims__carve_take(c, rest * 2 * NR * sizeof *l->rpack);
  l->bpack = ims__carve_take(c, l->np * sizeof *l->bpack);
  l->spack = ims__carve_take(c, l->np * sizeof *l->spack);
}

/* a_off and rstart of every block (the rest's pairs listed by block). */
static void plan_rest(ims__pw_layer *l) {
  mark_rest(l);
  size_t total = 0;
  for (size_t b = 0; b < l->blocks; b++) {
    l->rstart[b] = (uint32_t)total;
    total += block_rest(l, b, &l->a_off[b]);
  }
  l->rstart[l->blocks] = (uint32_t)total;
}

/* apack of block b: channel by channel, each weight to its place in the
 * [k / 4][q][i][k % 4] layout (acc_channel's inverse); 0 past the
 * channels and in a_off blocks, as the block came zeroed. */
static void pack_a(ims__pw_layer *l, size_t b) {
  if (l->a_off[b]) return;
  int8_t *a = l->apack + b * l->kp * NR;
  for (size_t ch = 0; ch < NR && b * NR + ch < l->p.n; ch++) {
    size_t q = ch % 8 / 4, i = ch / 8 * 4 + ch % 4;
    const int16_t *w = l->w16 + (b * NR + ch) * l->kp;
    for (size_t k = 0; k < l->kp; k += 2) {
      int8_t *to = a + (k / 4 * 2 + q) * 32 + i * 4 + k % 4;
      to[0] = (int8_t)pair_a(w + k, 0);
      to[1] = (int8_t)pair_a(w + k, 1);
    }
  }
}

/* apack, rk and rpack of block b. */
static void pack_block(ims__pw_layer *l, size_t b) {
  bool off = l->a_off[b];
  const uint8_t *mark = l->pair_rest + b * (l->kp / 2);
  pack_a(l, b);
  size_t r = l->rstart[b], end = l->rstart[b + 1];
  for (size_t k = 0; k < l->kp && r < end; k += 2) {
    if (!off && !mark[k / 2]) continue;
    l->rk[r] = (uint32_t)k;
    int16_t *v = l->rpack + r * 2 * NR;
    for (size_t q = 0; q < 2; q++)
      for (size_t i = 0; i < 8; i++)
        for (size_t j = 0; j < 2; j++) {
          size_t c = b * NR + acc_channel(q, i);
          int32_t w = c < l->p.n ? l->w16[c * l->kp + k + j] : 0;
          *v++ = (int16_t)(w - a_part(l, c, k + j, off));
        }
    r++;
  }
}

/* SIMD forms: apack, the rest, bias and scales in accumulator order, in
 * one block (l->simd). The kernels flip int8 inputs' top bit (x + 128 is
 * unsigned); the bias takes back the 128 * sum(w - zw) that adds. */
static ims_status pack_blocks(ims__pw_layer *l) {
  int32_t flip = l->p.s8 ? 0x80 : 0;
  plan_rest(l);
  size_t rest = l->rstart[l->blocks];
  ims__carve carve = {0};
  lay_out_blocks(l, rest, &carve);
  if ((l->simd = ims__carve_alloc(&carve)) == NULL) return IMS_ERR_NO_MEMORY;
  lay_out_blocks(l, rest, &carve);
  for (size_t b = 0; b < l->blocks; b++) {
    pack_block(l, b);
    for (size_t q = 0; q < 2; q++)
      for (size_t i = 0; i < 8; i++) {
        size_t c = b * NR + acc_channel(q, i), at = b * NR + q * 8 + i;
        int32_t sum = 0;
        for (size_t k = 0; c < l->p.n && k < l->kp; k++)
          sum += l->w16[c * l->kp + k];
        l->bpack[at] = l->bias[c] - flip * sum;
        l->spack[at] = l->scale[c];
      }
  }
  return IMS_OK;
}

/* The arrays every path uses, the gathered rows and the plan of the
 * rest, whose size sizes the SIMD block (see carve_take). */
static void lay_out_plain(ims__pw_layer *l, ims__carve *c) {
  l->w16 = ims__carve_take(c, l->np * l->kp * sizeof *l->w16);
  l->bias = ims__carve_take(c, l->np * sizeof *l->bias);
  l->scale = ims__carve_take(c, l->np * sizeof *l->scale);
  if (l->p.kh > 0) l->cols = ims__carve_take(c, l->oh * l->ow * l->kp);
  l->a_off = ims__carve_take(c, l->blocks * sizeof *l->a_off);
  l->rstart = ims__carve_take(c, (l->blocks + 1) * sizeof *l->rstart);
  l->pair_rest = ims__carve_take(c, l->blocks * (l->kp / 2));
}

/* Plain per-channel arrays: w - zw, folded bias, scales, in one block
 * (l->plain) with the gathered rows. */
static ims_status pack_plain(ims__pw_layer *l, const ims__pw_params *p) {
  ims__carve carve = {0};
  lay_out_plain(l, &carve);
  if ((l->plain = ims__carve_alloc(&carve)) == NULL) return IMS_ERR_NO_MEMORY;
  lay_out_plain(l, &carve);
  const uint8_t *w = p->weights;
  for (size_t c = 0; c < p->n; c++) {
    int32_t sum = 0;
    for (size_t k = 0; k < p->k; k++) {
      uint8_t byte = w[c * p->k + k];
      int32_t q = p->s8 ? (int8_t)byte : byte;
      int16_t d = (int16_t)(q - p->w_zero_point);
      l->w16[c * l->kp + k] = d;
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
  for (size_t px = 0; px < pixels; px++, in += l->kp, out += l->p.n)
    for (size_t c = 0; c < l->p.n; c++) {
      const int16_t *w = l->w16 + c * l->kp;
      int32_t acc = l->bias[c];
      for (size_t k = 0; k < l->kp; k++)
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
  const uint8_t *in;        /* 1x1: rows of k bytes; else one image */
  uint8_t *out;             /* rows of n bytes */
  size_t pixels, chunk;     /* output rows; rows per task */
} run_ctx;

/* `span` bytes from src to dst; the first layers' spans (kw * c: 9 for
 * 3x3x3) as fixed-size copies the compiler inlines, the call to memcpy
 * costing as much as the copy. */
static inline void copy_span(uint8_t *dst, const uint8_t *src, size_t span) {
  switch (span) {
    case 3: memcpy(dst, src, 3); break;
    case 9: memcpy(dst, src, 9); break;
    case 12: memcpy(dst, src, 12); break;
    default: memcpy(dst, src, span);
  }
}

/* The taps of output pixel (oy, ox) into `row`: weight order (ky, kx,
 * channel), the input zero point off the edges and past k. */
static void fill_row(const ims__pw_layer *l, const uint8_t *img, size_t oy,
                     size_t ox, uint8_t *row) {
  const ims__pw_params *p = &l->p;
  const uint8_t zx = (uint8_t)p->in_zero_point;
  const size_t span = p->kw * p->c;
  long ix0 = (long)(ox * p->stride) - (long)p->pad_left;
  bool inside = ix0 >= 0 && ix0 + (long)p->kw <= (long)p->w;
  for (size_t ky = 0; ky < p->kh; ky++, row += span) {
    long iy = (long)(oy * p->stride + ky) - (long)p->pad_top;
    if (iy < 0 || iy >= (long)p->h) {
      memset(row, zx, span);
      continue;
    }
    const uint8_t *src = img + (size_t)iy * p->w * p->c;
    if (inside) { /* the kx taps lie side by side */
      copy_span(row, src + (size_t)ix0 * p->c, span);
      continue;
    }
    for (size_t kx = 0; kx < p->kw; kx++) {
      long ix = ix0 + (long)kx;
      if (ix < 0 || ix >= (long)p->w) memset(row + kx * p->c, zx, p->c);
      else memcpy(row + kx * p->c, src + (size_t)ix * p->c, p->c);
    }
  }
  for (size_t k = p->k; k < l->kp; k++) *row++ = zx;
}

/* Output rows [first, first + count) of one image into l->cols. */
static void fill_cols(const ims__pw_layer *l, const uint8_t *img,
                      size_t first, size_t count) {
  size_t oy = first / l->ow, ox = first % l->ow;
  uint8_t *row = l->cols + first * l->kp;
  for (size_t i = 0; i < count; i++, row += l->kp) {
    fill_row(l, img, oy, ox, row);
    if (++ox == l->ow) ox = 0, oy++;
  }
}

/* pthreadpool task: chunk i of the rows. */
static void run_chunk(void *arg, size_t i) {
  const run_ctx *x = arg;
  const ims__pw_layer *l = x->l;
  size_t first = i * x->chunk;
  size_t count = x->pixels - first < x->chunk ? x->pixels - first : x->chunk;
  const uint8_t *rows = x->in + first * l->kp;
  if (l->cols != NULL) {
    fill_cols(l, x->in, first, count);
    rows = l->cols + first * l->kp;
  }
  l->run(l, rows, x->out + first * l->p.n, count);
}

void ims__pw_layer_run_range(const ims__pw_layer *l, const void *image,
                             void *out, size_t first, size_t count) {
  const uint8_t *rows = (const uint8_t *)image + first * l->kp;
  if (l->cols != NULL) {
    fill_cols(l, image, first, count);
    rows = l->cols + first * l->kp;
  }
  l->run(l, rows, out, count);
}

/* `pixels` output rows of `in` (1x1) or of one image (cols) into out. */
static void run_rows(const ims__pw_layer *l, const uint8_t *in,
                     uint8_t *out, size_t pixels, const ims__par *par) {
  size_t chunk = CHUNK_BYTES / l->kp;
  chunk = chunk < 4 ? 4 : chunk & ~(size_t)3;
  size_t threads = ims__par_threads(par);
  if (threads > 1 && pixels < chunk * 2 * threads) /* room to balance */
    chunk = ((pixels + 2 * threads - 1) / (2 * threads) + 3) & ~(size_t)3;
  run_ctx x = {l, in, out, pixels, chunk};
  size_t tasks = (pixels + chunk - 1) / chunk;
  if (threads == 1) {
    for (size_t i = 0; i < tasks; i++) run_chunk(&x, i);
    return;
  }
  ims__par_for(par, run_chunk, &x, tasks);
}

void ims__pw_layer_run(const ims__pw_layer *l, const void *in, void *out,
                       size_t pixels, const ims__par *par) {
  if (l->cols == NULL) {
    run_rows(l, in, out, pixels, par);
    return;
  }
  size_t per_image = l->oh * l->ow;
  size_t in_bytes = l->p.h * l->p.w * l->p.c, out_bytes = per_image * l->p.n;
  for (size_t i = 0; i < pixels / per_image; i++)
    run_rows(l, (const uint8_t *)in + i * in_bytes,
             (uint8_t *)out + i * out_bytes, per_image, par);
}

/* kh > 0: the output size (pack_plain makes the rows buffer). */
static ims_status plan_cols(ims__pw_layer *l) {
  const ims__pw_params *p = &l->p;
  if (p->stride == 0 || p->c == 0 || p->kh * p->kw * p->c != p->k ||
      p->h + p->pad_top + p->pad_bottom < p->kh ||
      p->w + p->pad_left + p->pad_right < p->kw)
    return IMS_ERR_INVALID_ARG;
  l->oh = (p->h + p->pad_top + p->pad_bottom - p->kh) / p->stride + 1;
  l->ow = (p->w + p->pad_left + p->pad_right - p->kw) / p->stride + 1;
  return IMS_OK;
}

ims_status ims__pw_layer_create(const ims__pw_params *p, ims__pw_path path,
                                ims__pw_layer **layer_out, ims_error *err) {
  if (p->k == 0 || (p->kh == 0 && p->k % 4 != 0) || p->n == 0 ||
      p->k > MAX_K)
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
  l->kp = (p->k + 3) & ~(size_t)3;
  l->blocks = (p->n + NR - 1) / NR;
  l->np = l->blocks * NR;
  l->fmax = (float)(p->out_max - p->out_zero_point);
  l->fmin = (float)(p->out_min - p->out_zero_point);
  ims_status st = p->kh > 0 ? plan_cols(l) : IMS_OK;
  if (st == IMS_OK) st = pack_plain(l, p);
  if (st == IMS_OK && l->path != IMS__PW_PATH_C) st = pack_blocks(l);
  if (st != IMS_OK) {
    ims__pw_layer_destroy(l);
    return ims__fail(err, st, st == IMS_ERR_INVALID_ARG
                                  ? "convolution: bad shape"
                                  : "out of memory");
  }
  *layer_out = l;
  return IMS_OK;
}

void ims__pw_layer_destroy(ims__pw_layer *l) {
  if (l == NULL) return;
  free(l->plain);
  free(l->simd);
  free(l);
}

ims__pw_path ims__pw_layer_path(const ims__pw_layer *l) { return l->path; }

double ims__pw_layer_rest_share(const ims__pw_layer *l) {
  return (double)l->rstart[l->blocks] / ((double)l->blocks * l->kp / 2);
}

/* ---- 4. engine steps, the ops table ---------------------------------- */

static const ims__tensor *tin(const ims_model *m, const ims__node *n, int k) {
  return &m->tensors[n->inputs[k]];
}

/* Largest row of taps (kh * kw * c) taken for kernels other than 1x1:
 * small-channel first layers, where XNNPACK's kernel runs at a fraction
 * of its 1x1 speed (MobileNetV2's: 3x3x3 = 27). */
#define MAX_TAPS 64

/* Whether node n is a 1x1 stride-1 convolution over whole channels. */
static bool is_pointwise(const ims__tensor *in, const ims__tensor *w,
                         const ims__node *n) {
  return w->shape[1] == 1 && w->shape[2] == 1 && in->shape[3] % 4 == 0 &&
         in->shape[3] <= MAX_K &&
         n->stride_h <= 1 && n->stride_w <= 1 &&
         (n->padding != IMS__PAD_EXPLICIT ||
          !(n->pad_top || n->pad_bottom || n->pad_left || n->pad_right));
}

bool ims__pw_eligible(const ims_model *m, const ims__node *n) {
  if (n->op != IMS__OP_CONV_2D || n->input_count < 2) return false;
  const ims__tensor *in = tin(m, n, 0), *w = tin(m, n, 1);
  const ims__tensor *o = &m->tensors[n->output];
  if (in->type != w->type || in->type != o->type || w->data == NULL)
    return false;
  if (in->rank != 4 || w->rank != 4 || o->rank != 4) return false;
  if (w->shape[3] != in->shape[3] || o->shape[3] != w->shape[0])
    return false;
  if (n->dilation_h > 1 || n->dilation_w > 1) return false;
  if (!is_pointwise(in, w, n) &&
      ((size_t)w->shape[1] * w->shape[2] * w->shape[3] > MAX_TAPS ||
       n->stride_h != n->stride_w))
    return false;
  if (n->input_count > 2 && tin(m, n, 2)->type != IMS_TENSOR_I32)
    return false;
  if (in->type == IMS_TENSOR_U8) return w->channel_scales == NULL;
  if (in->type != IMS_TENSOR_I8 || w->zero_point != 0) return false;
  return w->channel_scales == NULL || w->channel_count == w->shape[0];
}

/* TensorFlow SAME padding of one dimension: before / after. */
static void same_pad(size_t in, size_t kernel, size_t stride, size_t *before,
                     size_t *after) {
  size_t out = (in + stride - 1) / stride;
  size_t need = (out - 1) * stride + kernel;
  size_t total = need > in ? need - in : 0;
  *before = total / 2;
  *after = total - total / 2;
}

/* Kernels other than 1x1: the gathering geometry of node n into p. */
static void cols_params(const ims__tensor *in, const ims__tensor *w,
                        const ims__node *n, ims__pw_params *p) {
  p->kh = w->shape[1], p->kw = w->shape[2];
  p->h = in->shape[1], p->w = in->shape[2], p->c = in->shape[3];
  p->stride = n->stride_h ? n->stride_h : 1;
  if (n->padding == IMS__PAD_SAME) {
    same_pad(p->h, p->kh, p->stride, &p->pad_top, &p->pad_bottom);
    same_pad(p->w, p->kw, p->stride, &p->pad_left, &p->pad_right);
  } else if (n->padding == IMS__PAD_EXPLICIT) {
    p->pad_top = n->pad_top, p->pad_bottom = n->pad_bottom;
    p->pad_left = n->pad_left, p->pad_right = n->pad_right;
  }
}

void ims__pw_node_params(const ims_model *m, const ims__node *n,
                         ims__pw_params *out) {
  const ims__tensor *in = tin(m, n, 0), *w = tin(m, n, 1);
  const ims__tensor *o = &m->tensors[n->output];
  ims__pw_params p = {
      .k = (size_t)w->shape[1] * w->shape[2] * w->shape[3],
      .n = o->shape[3], .s8 = in->type == IMS_TENSOR_I8,
      .in_zero_point = in->zero_point, .in_scale = in->scale,
      .w_zero_point = w->zero_point, .w_scale = w->scale,
      .w_scales = w->channel_scales, .out_zero_point = o->zero_point,
      .out_scale = o->scale, .weights = w->data,
      .bias = n->input_count > 2 ? tin(m, n, 2)->data : NULL};
  if (!is_pointwise(in, w, n)) cols_params(in, w, n, &p);
  ims__q8_range(o, n->activation, &p.out_min, &p.out_max);
  *out = p;
}

static ims_status pw_create(const ims__step_env *env, ims__step *s,
                            ims_error *err) {
  const ims__node *n = s->node;
  const ims__tensor *o = &env->model->tensors[n->output];
  ims__pw_params p;
  ims__pw_node_params(env->model, n, &p);
  ims_status st = ims__pw_layer_create(&p, IMS__PW_PATH_AUTO, &s->pw, err);
  if (st != IMS_OK) return st;
  if (p.kh > 0 && (s->pw->oh != o->shape[1] || s->pw->ow != o->shape[2])) {
    ims__pw_layer_destroy(s->pw);
    s->pw = NULL;
    return ims__fail(err, IMS_ERR_UNSUPPORTED,
                     "%s (operator %u): output shape does not match padding",
                     n->source_name, n->source_index);
  }
  s->ops = &ims__step_pw;
  return IMS_OK;
}

static ims_status pw_run(ims__step *s, size_t batch, const ims__par *par,
                         float *scratch, ims_error *err) {
  (void)scratch, (void)err;
  size_t pixels = s->out_per_image / s->pw->p.n * batch;
  ims__pw_layer_run(s->pw, s->in, s->out, pixels, par);
  return IMS_OK;
}

static void pw_destroy(ims__step *s) {
  ims__pw_layer_destroy(s->pw);
  s->pw = NULL;
}

/* No setup: a run takes any batch. */
const ims__step_ops ims__step_pw = {"pw", pw_create, NULL, pw_run,
                                    pw_destroy};
