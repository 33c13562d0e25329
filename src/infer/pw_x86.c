/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pw_x86.c - the AVX2 kernel of the 8-bit 1x1 convolution (pw_ops.c),
 * compiled for AVX2 alone (core/cpu_int.h's IMS__TARGET_AVX2) so the rest
 * of the library stays baseline x86-64; pw_ops.c calls it only on CPUs
 * that have AVX2.
 *
 * How it works (the math and the packed layouts: pw_ops.c's header): per
 * block of 16 output channels, up to 4 pixels at a time, two int32
 * accumulators per pixel. For every 4 input channels, the pixel's 4
 * bytes are broadcast to all lanes and vpmaddubsw multiplies them with
 * the block's packed part a (8 channels x 4 weights per register),
 * vpmaddwd by 1s widens the pair sums to int32, exactly (pw_ops.c checked
 * every pair at packing). Then the block's listed pairs with a rest: the
 * pair's 2 bytes, widened to int16 by unpacking with zeros, through
 * vpmaddwd with the rest. The output step requantizes as XNNPACK does
 * (float multiply, min, round to nearest even, saturating add of the
 * zero point, clamp) and stores 16 bytes per pixel.
 *
 * Not here: packing, the C kernel, dispatch (pw_ops.c). Without
 * IMS_HAVE_X86_SIMD this file is empty.
 *
 * Threading: pure functions of an immutable layer and their buffers.
 */
#include <string.h>

#include "infer/pw_int.h"

#ifdef IMS_HAVE_X86_SIMD
#include <immintrin.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))
#define NR IMS__PW_NR

/* x's 4 bytes at p broadcast to every 32-bit lane, top bits flipped
 * for int8 (a constant where inlined: uint8 layers pay nothing). */
IMS__TARGET_AVX2 static ALWAYS_INLINE __m256i bcast4(const uint8_t *p,
                                                      bool s8) {
  int32_t v;
  memcpy(&v, p, 4);
  __m256i b = _mm256_set1_epi32(v);
  return s8 ? _mm256_xor_si256(b, _mm256_set1_epi8((char)0x80)) : b;
}

/* x's 2 bytes at p, flipped for int8, as two int16 in every 32-bit
 * lane. */
IMS__TARGET_AVX2 static ALWAYS_INLINE __m256i bcast2(const uint8_t *p,
                                                      bool s8) {
  int16_t v;
  memcpy(&v, p, 2);
  __m256i b = _mm256_set1_epi16(v);
  if (s8) b = _mm256_xor_si256(b, _mm256_set1_epi8((char)0x80));
  return _mm256_unpacklo_epi8(b, _mm256_setzero_si256());
}

/* Requantize one pixel's accumulators and store its `valid` channels. */
IMS__TARGET_AVX2 static ALWAYS_INLINE void store_pixel(
    const ims__pw_layer *l, const float *scale, __m256i acc0, __m256i acc1,
    uint8_t *out, size_t valid) {
  const __m256 fmax = _mm256_set1_ps(l->fmax);
  __m256 f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(acc0), _mm256_load_ps(scale));
  __m256 f1 =
      _mm256_mul_ps(_mm256_cvtepi32_ps(acc1), _mm256_load_ps(scale + 8));
  __m256i y = _mm256_packs_epi32(_mm256_cvtps_epi32(_mm256_min_ps(f0, fmax)),
                                 _mm256_cvtps_epi32(_mm256_min_ps(f1, fmax)));
  y = _mm256_adds_epi16(y, _mm256_set1_epi16((int16_t)l->p.out_zero_point));
  y = _mm256_max_epi16(y, _mm256_set1_epi16((int16_t)l->p.out_min));
  y = _mm256_min_epi16(y, _mm256_set1_epi16((int16_t)l->p.out_max));
  /* y is within the output type's range: either pack is exact. */
  __m256i b = l->p.s8 ? _mm256_packs_epi16(y, y) : _mm256_packus_epi16(y, y);
  __m128i q = _mm256_castsi256_si128(_mm256_permute4x64_epi64(b, 0x08));
  if (valid == NR) {
    _mm_storeu_si128((__m128i *)out, q);
    return;
  }
  uint8_t tmp[NR];
  _mm_storeu_si128((__m128i *)tmp, q);
  memcpy(out, tmp, valid);
}

/* MR pixels (rows of k bytes at x) through block b into out (rows of n
 * bytes, at the block's first channel). MR and S8 are constants where
 * it is inlined, so the accumulators live in registers. */
IMS__TARGET_AVX2 static ALWAYS_INLINE void tile(const ims__pw_layer *l,
                                                size_t b, const uint8_t *x,
                                                uint8_t *out, const int MR,
                                                const bool S8) {
  const size_t k = l->kp;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[4][2];
  const __m256i b0 = _mm256_load_si256((const __m256i *)(l->bpack + b * NR));
  const __m256i b1 =
      _mm256_load_si256((const __m256i *)(l->bpack + b * NR + 8));
#pragma GCC unroll 4
  for (int m = 0; m < MR; m++) acc[m][0] = b0, acc[m][1] = b1;
  if (!l->a_off[b]) {
    const __m256i *w = (const __m256i *)(l->apack + b * k * NR);
    for (size_t c = 0; c < k; c += 4, w += 2) {
      const __m256i w0 = _mm256_load_si256(w);
      const __m256i w1 = _mm256_load_si256(w + 1);
#pragma GCC unroll 4
      for (int m = 0; m < MR; m++) {
        __m256i v = bcast4(x + m * k + c, S8);
        acc[m][0] = _mm256_add_epi32(
            acc[m][0], _mm256_madd_epi16(_mm256_maddubs_epi16(v, w0), ones));
        acc[m][1] = _mm256_add_epi32(
            acc[m][1], _mm256_madd_epi16(_mm256_maddubs_epi16(v, w1), ones));
      }
    }
  }
  for (uint32_t r = l->rstart[b]; r < l->rstart[b + 1]; r++) {
    const __m256i *w = (const __m256i *)(l->rpack + (size_t)r * 2 * NR);
    const __m256i w0 = _mm256_load_si256(w);
    const __m256i w1 = _mm256_load_si256(w + 1);
    const size_t c = l->rk[r];
#pragma GCC unroll 4
    for (int m = 0; m < MR; m++) {
      __m256i v = bcast2(x + m * k + c, S8);
      acc[m][0] = _mm256_add_epi32(acc[m][0], _mm256_madd_epi16(v, w0));
      acc[m][1] = _mm256_add_epi32(acc[m][1], _mm256_madd_epi16(v, w1));
    }
  }
  size_t valid = l->p.n - b * NR < NR ? l->p.n - b * NR : NR;
  const float *scale = l->spack + b * NR;
#pragma GCC unroll 4
  for (int m = 0; m < MR; m++)
    store_pixel(l, scale, acc[m][0], acc[m][1], out + m * l->p.n, valid);
}

/* Every block over `pixels` rows, 4 at a time, then the 1-3 left. */
IMS__TARGET_AVX2 static ALWAYS_INLINE void blocks(const ims__pw_layer *l,
                                                  const uint8_t *in,
                                                  uint8_t *out, size_t pixels,
                                                  const bool S8) {
  const size_t k = l->kp, n = l->p.n;
  for (size_t b = 0; b < l->blocks; b++) {
    size_t px = 0;
    for (; px + 4 <= pixels; px += 4)
      tile(l, b, in + px * k, out + px * n + b * NR, 4, S8);
    switch (pixels - px) {
      case 3: tile(l, b, in + px * k, out + px * n + b * NR, 3, S8); break;
      case 2: tile(l, b, in + px * k, out + px * n + b * NR, 2, S8); break;
      case 1: tile(l, b, in + px * k, out + px * n + b * NR, 1, S8); break;
      default: break;
    }
  }
}

IMS__TARGET_AVX2 void ims__pw_kernel_avx2(const ims__pw_layer *l,
                                          const uint8_t *in, uint8_t *out,
                                          size_t pixels) {
  if (l->p.s8) blocks(l, in, out, pixels, true);
  else blocks(l, in, out, pixels, false);
}

#endif /* IMS_HAVE_X86_SIMD */
