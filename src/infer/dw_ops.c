/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dw_ops.c - quantized 3x3 depthwise convolutions (IMS__STEP_DW steps):
 * our own kernel, bit-identical to XNNPACK's qu8/qc8 operators.
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
 * 1.1-1.3x. So by default the engine takes this kernel for every
 * eligible layer when AVX2 or AVX-512 is there (AUTO: AVX-512, else
 * AVX2) and leaves the layer to XNNPACK otherwise: the C path is ~15x
 * slower than XNNPACK, a reference for the tests and for builds without
 * x86 SIMD (ims__dw_layer_create still takes it when asked).
 *
 * Threading: a layer is split by output rows (over all images of the
 * batch) on the engine's pthreadpool; layers are immutable after
 * creation, so runs only read them.
 *
 * Sections: 1. layer state and packing 2. portable C kernel 3. x86
 * kernels 4. dispatch and run 5. engine steps.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(IMS_NO_SIMD)
#define IMS_HAVE_X86_SIMD 1
#include <immintrin.h>
#endif

#include "core/error_int.h"
#include "infer/infer_int.h"

/* ---- 1. layer state and packing ------------------------------------- */

#define PAIRS 5    /* 9 taps as 5 pairs; the 10th tap has weight 0 */
#define CALIGN 32  /* channels are padded to this in the plain arrays */

struct ims__dw_layer {
  ims__dw_params p;         /* copied; weights/bias/scales not kept */
  ims__dw_path path;        /* the kernel runs() uses, never AUTO */
  size_t oh, ow;            /* output rows / columns of one image */
  size_t cp;                /* channels rounded up to CALIGN */
  int16_t *w16;             /* owned, [9][cp]: w - zw (C kernel, tails) */
  int32_t *bias;            /* owned, [cp]: bias - zx * sum (w - zw) */
  float *scale;             /* owned, [cp]: sx * sw[c] / sy */
  int16_t *wpack;           /* owned, SIMD: per block [PAIRS][lo,hi][V] */
  int32_t *bpack;           /* owned, SIMD: per block [V], acc order */
  float *spack;             /* owned, SIMD: per block [V], acc order */
  uint8_t *padrow;          /* owned: one input row (w * c bytes) of the
                               input zero point */
  float fmax;               /* hi - zy, as XNNPACK clamps before rounding */
  float fmin;               /* lo - zy */
};

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
static ims_status pack_blocks(ims__dw_layer *l) {
  l->wpack = aligned_alloc(64, l->cp * PAIRS * 2 * sizeof(int16_t));
  l->bpack = aligned_alloc(64, l->cp * sizeof(int32_t));
  l->spack = aligned_alloc(64, l->cp * sizeof(float));
  if (!l->wpack || !l->bpack || !l->spack) return IMS_ERR_NO_MEMORY;
  if (l->path != IMS__DW_PATH_AVX512) {
    pack_range(l, 0, l->cp / 16, 16, 8, 0);
    return IMS_OK;
  }
  size_t n64 = l->p.c / 64;
  pack_range(l, 0, n64, 64, 16, l->p.s8 ? 128 : 0);
  pack_range(l, n64 * 64, (l->cp - n64 * 64) / 32, 32, 8, 0);
  return IMS_OK;
}

/* Plain per-channel arrays: w - zw, folded bias, scales. */
static ims_status pack_plain(ims__dw_layer *l, const ims__dw_params *p) {
  l->w16 = calloc(9 * l->cp, sizeof *l->w16);
  l->bias = calloc(l->cp, sizeof *l->bias);
  l->scale = calloc(l->cp, sizeof *l->scale);
  size_t row = (p->w * p->c + 63) / 64 * 64;
  l->padrow = aligned_alloc(64, row);
  if (!l->w16 || !l->bias || !l->scale || !l->padrow)
    return IMS_ERR_NO_MEMORY;
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
  return IMS_OK;
}

/* ---- 2. portable C kernel -------------------------------------------- */

/* Requantize one exact accumulator (see the file header). */
static int32_t requant(const ims__dw_layer *l, int32_t acc, size_t c) {
  float f = (float)acc * l->scale[c];
  f = f < l->fmax ? f : l->fmax;
  f = f > l->fmin ? f : l->fmin;
  int32_t y = (int32_t)lrintf(f) + l->p.out_zero_point;
  y = y < l->p.out_min ? l->p.out_min : y;
  return y > l->p.out_max ? l->p.out_max : y;
}

/* Channels [c0, c) of one output pixel whose taps are t[0..8]. */
static void pixel_c(const ims__dw_layer *l, const uint8_t *const *t,
                    uint8_t *out, size_t c0) {
  for (size_t c = c0; c < l->p.c; c++) {
    int32_t acc = l->bias[c];
    for (size_t k = 0; k < 9; k++) {
      int32_t x = l->p.s8 ? (int8_t)t[k][c] : t[k][c];
      acc += x * l->w16[k * l->cp + c];
    }
    out[c] = (uint8_t)requant(l, acc, c);
  }
}

/* ---- 3. x86 kernels -------------------------------------------------- */
#ifdef IMS_HAVE_X86_SIMD

#define TARGET_AVX2 __attribute__((target("avx2")))
#define TARGET_AVX512 \
  __attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512vnni")))
#define ALWAYS_INLINE inline __attribute__((always_inline))

/* Requantize one block's two accumulator halves and store its bytes
 * (mask m: the channels that exist). */
TARGET_AVX512 static ALWAYS_INLINE void store_avx512(
    const ims__dw_layer *l, size_t c, __m512i acc0, __m512i acc1,
    __mmask32 m, uint8_t *out) {
  const __m512 fmax = _mm512_set1_ps(l->fmax);
  __m512 f0 = _mm512_mul_ps(_mm512_cvtepi32_ps(acc0),
                            _mm512_load_ps(l->spack + c));
  __m512 f1 = _mm512_mul_ps(_mm512_cvtepi32_ps(acc1),
                            _mm512_load_ps(l->spack + c + 16));
  acc0 = _mm512_cvtps_epi32(_mm512_min_ps(f0, fmax));
  acc1 = _mm512_cvtps_epi32(_mm512_min_ps(f1, fmax));
  __m512i y = _mm512_adds_epi16(
      _mm512_packs_epi32(acc0, acc1),
      _mm512_set1_epi16((int16_t)l->p.out_zero_point));
  y = _mm512_max_epi16(y, _mm512_set1_epi16((int16_t)l->p.out_min));
  y = _mm512_min_epi16(y, _mm512_set1_epi16((int16_t)l->p.out_max));
  _mm256_mask_storeu_epi8(out + c, m, _mm512_cvtepi16_epi8(y));
}

/* Taps 2p and 2p + 1 of one pixel, channels c.., widened to int16 and
 * interleaved per channel: *lo gets channels 8L+0..3 of each 128-bit
 * lane L, *hi 8L+4..7. Tap 9 does not exist: its weight is 0, so any
 * bytes do (tap 8 again). */
TARGET_AVX512 static ALWAYS_INLINE void taps_avx512(
    const uint8_t *const *t, int p, size_t c, __mmask32 m, bool s8,
    __m512i *lo, __m512i *hi) {
  __m256i ra = _mm256_maskz_loadu_epi8(m, t[2 * p] + c);
  __m256i rb = p < 4 ? _mm256_maskz_loadu_epi8(m, t[2 * p + 1] + c) : ra;
  __m512i a = s8 ? _mm512_cvtepi8_epi16(ra) : _mm512_cvtepu8_epi16(ra);
  __m512i b = s8 ? _mm512_cvtepi8_epi16(rb) : _mm512_cvtepu8_epi16(rb);
  *lo = _mm512_unpacklo_epi16(a, b);
  *hi = _mm512_unpackhi_epi16(a, b);
}

/* Requantize a 64-channel block's four accumulators and store them:
 * packs put each lane's 16 channels back in order. */
TARGET_AVX512 static ALWAYS_INLINE void store64_avx512(
    const ims__dw_layer *l, size_t c, __m512i a0, __m512i a1, __m512i a2,
    __m512i a3, uint8_t *out, bool s8) {
  const __m512 fmax = _mm512_set1_ps(l->fmax);
  const __m512i zy = _mm512_set1_epi16((int16_t)l->p.out_zero_point);
#define REQ(A, Q)                                                  \
  A = _mm512_cvtps_epi32(_mm512_min_ps(                            \
      _mm512_mul_ps(_mm512_cvtepi32_ps(A),                         \
                    _mm512_load_ps(l->spack + c + 16 * (Q))), fmax))
  REQ(a0, 0);
  REQ(a1, 1);
  REQ(a2, 2);
  REQ(a3, 3);
#undef REQ
  __m512i p01 = _mm512_adds_epi16(_mm512_packs_epi32(a0, a1), zy);
  __m512i p23 = _mm512_adds_epi16(_mm512_packs_epi32(a2, a3), zy);
  __m512i lo = _mm512_set1_epi8((char)l->p.out_min);
  __m512i hi = _mm512_set1_epi8((char)l->p.out_max);
  __m512i y;
  if (s8) {
    y = _mm512_packs_epi16(p01, p23);
    y = _mm512_min_epi8(_mm512_max_epi8(y, lo), hi);
  } else {
    y = _mm512_packus_epi16(p01, p23);
    y = _mm512_min_epu8(_mm512_max_epu8(y, lo), hi);
  }
  _mm512_storeu_si512(out + c, y);
}

/* Taps 2p and 2p + 1 of one pixel, 64 channels from c: bytes of the two
 * taps interleaved (unpack_epi8), then widened to int16 by unpacking
 * again with zeros: 6 shuffles per 64 channels where vpmovzx +
 * unpack_epi16 take 8. int8 inputs are first made unsigned, x + 128 (top
 * bit flipped), which the bias of these blocks compensates (pack_range).
 * v[q] gets channels 16L + 4q + 0..3 of each lane L. */
TARGET_AVX512 static ALWAYS_INLINE void taps64_avx512(
    const uint8_t *const *t, int p, size_t c, bool s8, __m512i *v) {
  __m512i xa = _mm512_loadu_si512(t[2 * p] + c);
  __m512i xb = p < 4 ? _mm512_loadu_si512(t[2 * p + 1] + c) : xa;
  __m512i ab0 = _mm512_unpacklo_epi8(xa, xb);
  __m512i ab1 = _mm512_unpackhi_epi8(xa, xb);
  __m512i z = _mm512_setzero_si512();
  if (s8) {
    __m512i flip = _mm512_set1_epi8((char)0x80);
    ab0 = _mm512_xor_si512(ab0, flip);
    ab1 = _mm512_xor_si512(ab1, flip);
  }
  v[0] = _mm512_unpacklo_epi8(ab0, z);
  v[1] = _mm512_unpackhi_epi8(ab0, z);
  v[2] = _mm512_unpacklo_epi8(ab1, z);
  v[3] = _mm512_unpackhi_epi8(ab1, z);
}

/* Pixels t and u (u NULL: t only), one block of 64 channels at c. */
TARGET_AVX512 static ALWAYS_INLINE void block64_avx512(
    const ims__dw_layer *l, const uint8_t *const *t, const uint8_t *const *u,
    uint8_t *out, uint8_t *out2, size_t c, bool s8) {
  const int16_t *w = l->wpack + c * PAIRS * 2;
  __m512i t0 = _mm512_load_si512(l->bpack + c);
  __m512i t1 = _mm512_load_si512(l->bpack + c + 16);
  __m512i t2 = _mm512_load_si512(l->bpack + c + 32);
  __m512i t3 = _mm512_load_si512(l->bpack + c + 48);
  __m512i u0 = t0, u1 = t1, u2 = t2, u3 = t3, v[4];
  for (int p = 0; p < PAIRS; p++, w += 128) {
    __m512i w0 = _mm512_load_si512(w), w1 = _mm512_load_si512(w + 32);
    __m512i w2 = _mm512_load_si512(w + 64), w3 = _mm512_load_si512(w + 96);
    taps64_avx512(t, p, c, s8, v);
    t0 = _mm512_dpwssd_epi32(t0, v[0], w0);
    t1 = _mm512_dpwssd_epi32(t1, v[1], w1);
    t2 = _mm512_dpwssd_epi32(t2, v[2], w2);
    t3 = _mm512_dpwssd_epi32(t3, v[3], w3);
    if (u != NULL) {
      taps64_avx512(u, p, c, s8, v);
      u0 = _mm512_dpwssd_epi32(u0, v[0], w0);
      u1 = _mm512_dpwssd_epi32(u1, v[1], w1);
      u2 = _mm512_dpwssd_epi32(u2, v[2], w2);
      u3 = _mm512_dpwssd_epi32(u3, v[3], w3);
    }
  }
  store64_avx512(l, c, t0, t1, t2, t3, out, s8);
  if (u != NULL) store64_avx512(l, c, u0, u1, u2, u3, out2, s8);
}

/* Output pixels with taps t and u (u NULL: t only): whole blocks of 64
 * channels, then blocks of 32. Two pixels per pass give the core two
 * independent chains of vpdpwssd and share the weight loads (measured
 * ~5 % faster than one at a time). s8 is a constant after inlining. */
TARGET_AVX512 static ALWAYS_INLINE void pixels_avx512(
    const ims__dw_layer *l, const uint8_t *const *t, const uint8_t *const *u,
    uint8_t *out, uint8_t *out2, bool s8) {
  size_t n = l->p.c, c = 0;
  for (; c + 64 <= n; c += 64) block64_avx512(l, t, u, out, out2, c, s8);
  for (const int16_t *w = l->wpack + c * PAIRS * 2; c < n;
       c += 32, w += PAIRS * 64) {
    __mmask32 m = n - c >= 32 ? 0xFFFFFFFFu : (1u << (n - c)) - 1;
    __m512i t0 = _mm512_load_si512(l->bpack + c);
    __m512i t1 = _mm512_load_si512(l->bpack + c + 16);
    __m512i u0 = t0, u1 = t1, lo, hi;
    for (int p = 0; p < PAIRS; p++) {
      __m512i wlo = _mm512_load_si512(w + p * 64);
      __m512i whi = _mm512_load_si512(w + p * 64 + 32);
      taps_avx512(t, p, c, m, s8, &lo, &hi);
      t0 = _mm512_dpwssd_epi32(t0, lo, wlo);
      t1 = _mm512_dpwssd_epi32(t1, hi, whi);
      if (u != NULL) {
        taps_avx512(u, p, c, m, s8, &lo, &hi);
        u0 = _mm512_dpwssd_epi32(u0, lo, wlo);
        u1 = _mm512_dpwssd_epi32(u1, hi, whi);
      }
    }
    store_avx512(l, c, t0, t1, m, out);
    if (u != NULL) store_avx512(l, c, u0, u1, m, out2);
  }
}

/* One output pixel, blocks of 16 channels; returns the channels done
 * (the tail is left to pixel_c). The same math as pixels_avx512 in
 * 256-bit vectors, one pixel at a time, without VNNI. */
TARGET_AVX2 static ALWAYS_INLINE size_t pixel_avx2(
    const ims__dw_layer *l, const uint8_t *const *t, uint8_t *out, bool s8) {
  const int16_t *w = l->wpack;
  const __m256 fmax = _mm256_set1_ps(l->fmax);
  const __m256i zy = _mm256_set1_epi16((int16_t)l->p.out_zero_point);
  const __m256i lo = _mm256_set1_epi16((int16_t)l->p.out_min);
  const __m256i hi = _mm256_set1_epi16((int16_t)l->p.out_max);
  const __m256i byte = _mm256_set1_epi16(0xFF);
  size_t c = 0;
  for (; c + 16 <= l->p.c; c += 16, w += PAIRS * 32) {
    __m256i acc0 = _mm256_load_si256((const __m256i *)(l->bpack + c));
    __m256i acc1 = _mm256_load_si256((const __m256i *)(l->bpack + c + 8));
    for (int p = 0; p < PAIRS; p++) {
      __m128i ra = _mm_loadu_si128((const __m128i *)(t[2 * p] + c));
      __m128i rb =
          p < 4 ? _mm_loadu_si128((const __m128i *)(t[2 * p + 1] + c)) : ra;
      __m256i a = s8 ? _mm256_cvtepi8_epi16(ra) : _mm256_cvtepu8_epi16(ra);
      __m256i b = s8 ? _mm256_cvtepi8_epi16(rb) : _mm256_cvtepu8_epi16(rb);
      const __m256i *wp = (const __m256i *)(w + p * 32);
      acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(
          _mm256_unpacklo_epi16(a, b), _mm256_load_si256(wp)));
      acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(
          _mm256_unpackhi_epi16(a, b), _mm256_load_si256(wp + 1)));
    }
    __m256 f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(acc0),
                              _mm256_load_ps(l->spack + c));
    __m256 f1 = _mm256_mul_ps(_mm256_cvtepi32_ps(acc1),
                              _mm256_load_ps(l->spack + c + 8));
    acc0 = _mm256_cvtps_epi32(_mm256_min_ps(f0, fmax));
    acc1 = _mm256_cvtps_epi32(_mm256_min_ps(f1, fmax));
    __m256i y = _mm256_adds_epi16(_mm256_packs_epi32(acc0, acc1), zy);
    y = _mm256_min_epi16(_mm256_max_epi16(y, lo), hi);
    y = _mm256_and_si256(y, byte); /* int8 outputs as their bytes */
    __m128i b8 = _mm_packus_epi16(_mm256_castsi256_si128(y),
                                  _mm256_extracti128_si256(y, 1));
    _mm_storeu_si128((__m128i *)(out + c), b8);
  }
  return c;
}

#endif /* IMS_HAVE_X86_SIMD */

/* ---- 4. dispatch and run --------------------------------------------- */

/* Tap pointers of output pixel ox: rows r[3] (the zero-point row above
 * or below the image); columns off the edge point at the zero-point
 * row too. */
static inline void pixel_taps(const ims__dw_layer *l,
                              const uint8_t *const *r, size_t ox,
                              const uint8_t **t) {
  size_t c = l->p.c;
  long ix0 = (long)(ox * l->p.stride) - (long)l->p.pad_left;
  if (ix0 >= 0 && ix0 + 2 < (long)l->p.w) { /* interior: no checks */
    for (int ky = 0; ky < 3; ky++) {
      const uint8_t *b = r[ky] + (size_t)ix0 * c;
      t[ky * 3] = b, t[ky * 3 + 1] = b + c, t[ky * 3 + 2] = b + 2 * c;
    }
    return;
  }
  for (int kx = 0; kx < 3; kx++) {
    long ix = ix0 + kx;
    bool in = ix >= 0 && ix < (long)l->p.w;
    for (int ky = 0; ky < 3; ky++)
      t[ky * 3 + kx] = in ? r[ky] + (size_t)ix * c : l->padrow;
  }
}

/* One output row per path; the row loop is instantiated per target so
 * the pixel kernel inlines with its constants. */
#define ROW_LOOP(PIXEL)                                          \
  for (size_t ox = 0; ox < l->ow; ox++, out += l->p.c) {         \
    const uint8_t *t[9];                                         \
    pixel_taps(l, r, ox, t);                                     \
    PIXEL;                                                       \
  }

static void row_c(const ims__dw_layer *l, const uint8_t *const *r,
                  uint8_t *out) {
  ROW_LOOP(pixel_c(l, t, out, 0))
}

#ifdef IMS_HAVE_X86_SIMD
/* Pixels in pairs (see pixels_avx512); the last one alone if odd. */
TARGET_AVX512 static void row_avx512(const ims__dw_layer *l,
                                     const uint8_t *const *r, uint8_t *out) {
  size_t ox = 0, c = l->p.c;
  const uint8_t *t[9], *u[9];
  for (; ox + 1 < l->ow; ox += 2, out += 2 * c) {
    pixel_taps(l, r, ox, t);
    pixel_taps(l, r, ox + 1, u);
    if (l->p.s8) pixels_avx512(l, t, u, out, out + c, true);
    else pixels_avx512(l, t, u, out, out + c, false);
  }
  if (ox < l->ow) {
    pixel_taps(l, r, ox, t);
    if (l->p.s8) pixels_avx512(l, t, NULL, out, NULL, true);
    else pixels_avx512(l, t, NULL, out, NULL, false);
  }
}

TARGET_AVX2 static void row_avx2(const ims__dw_layer *l,
                                 const uint8_t *const *r, uint8_t *out) {
  if (l->p.s8) {
    ROW_LOOP(pixel_c(l, t, out, pixel_avx2(l, t, out, true)))
  } else {
    ROW_LOOP(pixel_c(l, t, out, pixel_avx2(l, t, out, false)))
  }
}
#endif

bool ims__dw_path_supported(ims__dw_path path) {
  switch (path) {
    case IMS__DW_PATH_AUTO:
    case IMS__DW_PATH_C: return true;
#ifdef IMS_HAVE_X86_SIMD
    case IMS__DW_PATH_AVX2:
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx2");
    case IMS__DW_PATH_AVX512:
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx2") &&
             __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512vnni");
#endif
    default: return false;
  }
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
  uint8_t *out = x->out + i * l->ow * l->p.c;
  switch (l->path) {
#ifdef IMS_HAVE_X86_SIMD
    case IMS__DW_PATH_AVX512: row_avx512(l, r, out); break;
    case IMS__DW_PATH_AVX2: row_avx2(l, r, out); break;
#endif
    default: row_c(l, r, out); break;
  }
}

void ims__dw_layer_run(const ims__dw_layer *l, const void *in, void *out,
                       size_t batch, pthreadpool_t pool) {
  run_ctx x = {l, in, out};
  size_t rows = batch * l->oh;
  if (pool == NULL) {
    for (size_t i = 0; i < rows; i++) run_row(&x, i);
    return;
  }
  pthreadpool_parallelize_1d(pool, run_row, &x, rows, 0);
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
  l->oh = (p->h + p->pad_top + p->pad_bottom - 3) / p->stride + 1;
  l->ow = (p->w + p->pad_left + p->pad_right - 3) / p->stride + 1;
  l->cp = (p->c + CALIGN - 1) / CALIGN * CALIGN;
  l->fmax = (float)(p->out_max - p->out_zero_point);
  l->fmin = (float)(p->out_min - p->out_zero_point);
  ims_status st = pack_plain(l, p);
  if (st == IMS_OK && l->path != IMS__DW_PATH_C)
    st = pack_blocks(l);
  if (st != IMS_OK) {
    ims__dw_layer_destroy(l);
    return ims__fail(err, st, "out of memory");
  }
  *layer_out = l;
  return IMS_OK;
}

void ims__dw_layer_destroy(ims__dw_layer *l) {
  if (l == NULL) return;
  free(l->w16);
  free(l->bias);
  free(l->scale);
  free(l->wpack);
  free(l->bpack);
  free(l->spack);
  free(l->padrow);
  free(l);
}

ims__dw_path ims__dw_layer_path(const ims__dw_layer *l) { return l->path; }

/* ---- 5. engine steps ------------------------------------------------- */

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
  s->kind = IMS__STEP_DW;
  s->dw = l;
  return IMS_OK;
}
