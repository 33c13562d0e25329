/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dw_x86.c - the x86 kernels of the 3x3 depthwise convolution (dw_ops.c):
 * AVX-512 (BW+VL+VNNI) and AVX2 row kernels, each function compiled for
 * its own instruction set (core/cpu_int.h's IMS__TARGET_*), so the rest of
 * the library stays baseline x86-64. dw_ops.c picks a layer's kernel when
 * the layer is created (ims__dw_path_supported, from ims__cpu_has) and
 * calls these only on CPUs that have them.
 *
 * How they work (the math, the packed layouts, why not vpdpbusd, the
 * measurements: dw_ops.c's header): NHWC, vectorized over channels; x is
 * widened to int16, the weights (w - zw) are int16, and two taps are
 * interleaved per channel so one pmaddwd (VNNI: vpdpwssd) does two taps
 * per channel into int32, exactly. The packed weights, bias and scales
 * are in the order the interleave leaves the channels in, which packssdw
 * undoes, so outputs come out in natural order.
 *   AVX-512: blocks of 64 channels (taps interleaved as bytes, widened by
 *   unpacking with zeros; int8 inputs get their top bit flipped, x + 128,
 *   which those blocks' bias compensates), then blocks of 32 (vpmovzx /
 *   vpmovsx + unpack_epi16, the last one masked), two output pixels per
 *   pass (two independent chains sharing the weight loads).
 *   AVX2: blocks of 16 channels, one pixel at a time, the channel tail in
 *   C (ims__dw_pixel_c).
 *
 * Not here: packing, the C kernel, dispatch (dw_ops.c). Without
 * IMS_HAVE_X86_SIMD (another architecture or compiler, or -DIMS_NO_SIMD)
 * this file is empty and layers run the C kernel.
 *
 * Sections: 1. AVX-512 2. AVX2.
 *
 * Threading: pure functions of an immutable layer and their buffers.
 */
#include "infer/dw_int.h"

#ifdef IMS_HAVE_X86_SIMD
#include <immintrin.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* ---- 1. AVX-512 (BW+VL+VNNI) ----------------------------------------- */

/* Requantize one block's two accumulator halves and store its bytes
 * (mask m: the channels that exist). */
IMS__TARGET_AVX512_VNNI static ALWAYS_INLINE void store_avx512(
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
IMS__TARGET_AVX512_VNNI static ALWAYS_INLINE void taps_avx512(
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
IMS__TARGET_AVX512_VNNI static ALWAYS_INLINE void store64_avx512(
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
IMS__TARGET_AVX512_VNNI static ALWAYS_INLINE void taps64_avx512(
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
IMS__TARGET_AVX512_VNNI static ALWAYS_INLINE void block64_avx512(
    const ims__dw_layer *l, const uint8_t *const *t, const uint8_t *const *u,
    uint8_t *out, uint8_t *out2, size_t c, bool s8) {
  const int16_t *w = l->wpack + c * IMS__DW_PAIRS * 2;
  __m512i t0 = _mm512_load_si512(l->bpack + c);
  __m512i t1 = _mm512_load_si512(l->bpack + c + 16);
  __m512i t2 = _mm512_load_si512(l->bpack + c + 32);
  __m512i t3 = _mm512_load_si512(l->bpack + c + 48);
  __m512i u0 = t0, u1 = t1, u2 = t2, u3 = t3, v[4];
  for (int p = 0; p < IMS__DW_PAIRS; p++, w += 128) {
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
IMS__TARGET_AVX512_VNNI static ALWAYS_INLINE void pixels_avx512(
    const ims__dw_layer *l, const uint8_t *const *t, const uint8_t *const *u,
    uint8_t *out, uint8_t *out2, bool s8) {
  size_t n = l->p.c, c = 0;
  for (; c + 64 <= n; c += 64) block64_avx512(l, t, u, out, out2, c, s8);
  for (const int16_t *w = l->wpack + c * IMS__DW_PAIRS * 2; c < n;
       c += 32, w += IMS__DW_PAIRS * 64) {
    __mmask32 m = n - c >= 32 ? 0xFFFFFFFFu : (1u << (n - c)) - 1;
    __m512i t0 = _mm512_load_si512(l->bpack + c);
    __m512i t1 = _mm512_load_si512(l->bpack + c + 16);
    __m512i u0 = t0, u1 = t1, lo, hi;
    for (int p = 0; p < IMS__DW_PAIRS; p++) {
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

/* Pixels in pairs (see pixels_avx512); the last one alone if odd. */
IMS__TARGET_AVX512_VNNI void ims__dw_row_avx512(const ims__dw_layer *l,
                                                const uint8_t *const *r,
                                                uint8_t *out) {
  size_t ox = 0, c = l->p.c;
  const uint8_t *t[9], *u[9];
  for (; ox + 1 < l->ow; ox += 2, out += 2 * c) {
    ims__dw_pixel_taps(l, r, ox, t);
    ims__dw_pixel_taps(l, r, ox + 1, u);
    if (l->p.s8) pixels_avx512(l, t, u, out, out + c, true);
    else pixels_avx512(l, t, u, out, out + c, false);
  }
  if (ox < l->ow) {
    ims__dw_pixel_taps(l, r, ox, t);
    if (l->p.s8) pixels_avx512(l, t, NULL, out, NULL, true);
    else pixels_avx512(l, t, NULL, out, NULL, false);
  }
}

/* ---- 2. AVX2 --------------------------------------------------------- */

/* One output pixel, blocks of 16 channels; returns the channels done
 * (the tail is left to pixel_c). The same math as pixels_avx512 in
 * 256-bit vectors, one pixel at a time, without VNNI. */
IMS__TARGET_AVX2 static ALWAYS_INLINE size_t pixel_avx2(
    const ims__dw_layer *l, const uint8_t *const *t, uint8_t *out, bool s8) {
  const int16_t *w = l->wpack;
  const __m256 fmax = _mm256_set1_ps(l->fmax);
  const __m256i zy = _mm256_set1_epi16((int16_t)l->p.out_zero_point);
  const __m256i lo = _mm256_set1_epi16((int16_t)l->p.out_min);
  const __m256i hi = _mm256_set1_epi16((int16_t)l->p.out_max);
  const __m256i byte = _mm256_set1_epi16(0xFF);
  size_t c = 0;
  for (; c + 16 <= l->p.c; c += 16, w += IMS__DW_PAIRS * 32) {
    __m256i acc0 = _mm256_load_si256((const __m256i *)(l->bpack + c));
    __m256i acc1 = _mm256_load_si256((const __m256i *)(l->bpack + c + 8));
    /* unrolled: the tap pointers stay in registers and p < 4 folds */
#pragma GCC unroll 5
    for (int p = 0; p < IMS__DW_PAIRS; p++) {
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

/* One pixel at a time; the channels past the last block of 16 in C. */
IMS__TARGET_AVX2 void ims__dw_row_avx2(const ims__dw_layer *l,
                                       const uint8_t *const *r,
                                       uint8_t *out) {
  if (l->p.s8) {
    IMS__DW_ROW_LOOP(ims__dw_pixel_c(l, t, out, pixel_avx2(l, t, out, true)))
  } else {
    IMS__DW_ROW_LOOP(ims__dw_pixel_c(l, t, out, pixel_avx2(l, t, out, false)))
  }
}

#endif /* IMS_HAVE_X86_SIMD */
