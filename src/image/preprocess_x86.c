/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preprocess_x86.c - the x86 kernels of the preprocessor's two resampling
 * passes: SSE4.1, AVX2 and AVX-512 (F+BW+VBMI), each function compiled
 * for its own instruction set (core/cpu_int.h's IMS__TARGET_*), so the
 * rest of the library stays baseline x86-64. preprocess.c picks the path
 * at run time (ims__cpu_has) and calls in only when the CPU has it.
 *
 * They compute the very same int32 sums as the portable C passes in
 * preprocess.c (pixel * 22-bit weight fits in 31 bits, and a normalized
 * window's sum stays below 2^31, so pmulld is exact), and srai + packs +
 * packus is clip8, so every path gives the same bytes. The horizontal
 * kernels split the crop's output bytes into groups of 4: a group's bytes
 * lie in at most two neighbouring pixels, so (for shrink factors up to
 * ~4) one 16-byte load per tap plus a pshufb that zero-extends each byte
 * into a dword feeds pmulld; AVX-512 does 16 output bytes from one
 * 64-byte load with a masked vpermb per tap. The tables (preprocess.c's
 * build_hsimd) only list groups whose loads stay inside the row, so no
 * load ever reads outside the input. The vertical kernels are the
 * byte-parallel loop with pmovzxbd + pmulld.
 *
 * Not here: the tables, the portable passes and whatever part of a row
 * these kernels leave (preprocess.c). Without IMS_HAVE_X86_SIMD (another
 * architecture or compiler, or -DIMS_NO_SIMD) this file is empty.
 *
 * Sections: 1. SSE4.1 2. AVX2 3. AVX-512 4. widest first.
 *
 * Threading: pure functions of their arguments.
 */
#include "image/preprocess_int.h"

#ifdef IMS_HAVE_X86_SIMD
#include <immintrin.h>

#define BIAS (1 << (IMS__PRE_PRECISION_BITS - 1))

/* Loads from byte pointers; the intrinsics allow any alignment. */
#define LD128(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define LD64(p) _mm_loadl_epi64((const __m128i *)(const void *)(p))
#define LD256(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))

/* ---- 1. SSE4.1 --------------------------------------------------------- */

/* Four dword vectors of sums (output bytes in order) -> 16 clipped bytes:
 * srai + signed/unsigned saturating packs is exactly clip8. */
IMS__TARGET_SSE41 static inline __m128i pack16_sse41(__m128i a, __m128i b,
                                                     __m128i c, __m128i d) {
  a = _mm_srai_epi32(a, IMS__PRE_PRECISION_BITS);
  b = _mm_srai_epi32(b, IMS__PRE_PRECISION_BITS);
  c = _mm_srai_epi32(c, IMS__PRE_PRECISION_BITS);
  d = _mm_srai_epi32(d, IMS__PRE_PRECISION_BITS);
  return _mm_packus_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d));
}

/* Horizontal pass, groups g0 .. g1 - 1 (multiples of 4) of every row. */
IMS__TARGET_SSE41 static void hpass_sse41(const ims_image *src, uint32_t row0,
                                          uint32_t rows,
                                          const ims__hsimd_table *h,
                                          uint32_t taps, uint32_t g0,
                                          uint32_t g1, size_t rowb,
                                          uint8_t *tmp) {
  const uint32_t *off = (const uint32_t *)(const void *)h->off.data;
  const int32_t *hc = (const int32_t *)(const void *)h->coef.data;
  for (uint32_t r = 0; r < rows; r++) {
    const uint8_t *in = src->pixels + (size_t)(row0 + r) * src->stride;
    uint8_t *o = tmp + r * rowb;
    for (uint32_t g = g0; g < g1; g += 4) {
      __m128i a[4];
      for (uint32_t q = 0; q < 4; q++) {
        const uint8_t *p = in + off[g + q];
        const int32_t *k = hc + (size_t)(g / 4) * taps * 16 + q * 4;
        __m128i ctl = LD128(h->ctl.data + (size_t)(g + q) * 16);
        __m128i acc = _mm_set1_epi32(BIAS);
        for (uint32_t j = 0; j < taps; j++, p += 3, k += 16) {
          __m128i v = _mm_shuffle_epi8(LD128(p), ctl);
          acc = _mm_add_epi32(acc, _mm_mullo_epi32(v, LD128(k)));
        }
        a[q] = acc;
      }
      _mm_storeu_si128((__m128i *)(void *)(o + g * IMS__PRE_GROUP),
                       pack16_sse41(a[0], a[1], a[2], a[3]));
    }
  }
}

/* Vertical pass, bytes [0, n) (a multiple of 16) of one output row. */
IMS__TARGET_SSE41 static void vrow_sse41(const uint8_t *base, const int32_t *k,
                                         uint32_t taps, size_t rowb, size_t i0,
                                         size_t n, uint8_t *dst) {
  for (size_t i = i0; i < n; i += 16) {
    __m128i a0 = _mm_set1_epi32(BIAS), a1 = a0, a2 = a0, a3 = a0;
    for (uint32_t j = 0; j < taps; j++) {
      __m128i v = LD128(base + j * rowb + i), w = _mm_set1_epi32(k[j]);
      a0 = _mm_add_epi32(a0, _mm_mullo_epi32(_mm_cvtepu8_epi32(v), w));
      v = _mm_srli_si128(v, 4);
      a1 = _mm_add_epi32(a1, _mm_mullo_epi32(_mm_cvtepu8_epi32(v), w));
      v = _mm_srli_si128(v, 4);
      a2 = _mm_add_epi32(a2, _mm_mullo_epi32(_mm_cvtepu8_epi32(v), w));
      v = _mm_srli_si128(v, 4);
      a3 = _mm_add_epi32(a3, _mm_mullo_epi32(_mm_cvtepu8_epi32(v), w));
    }
    _mm_storeu_si128((__m128i *)(void *)(dst + i),
                     pack16_sse41(a0, a1, a2, a3));
  }
}

/* ---- 2. AVX2 ----------------------------------------------------------- */

/* Four dword vectors (output bytes 0-7, 8-15, ... in order) -> 32 bytes.
 * The packs work per 128-bit lane; vpermd puts the dwords back. */
IMS__TARGET_AVX2 static inline __m256i pack32_avx2(__m256i a, __m256i b,
                                                   __m256i c, __m256i d) {
  a = _mm256_srai_epi32(a, IMS__PRE_PRECISION_BITS);
  b = _mm256_srai_epi32(b, IMS__PRE_PRECISION_BITS);
  c = _mm256_srai_epi32(c, IMS__PRE_PRECISION_BITS);
  d = _mm256_srai_epi32(d, IMS__PRE_PRECISION_BITS);
  __m256i v =
      _mm256_packus_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
  return _mm256_permutevar8x32_epi32(v,
                                     _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Horizontal pass, groups g0 .. g1 - 1 (multiples of 8) of every row:
 * two groups per ymm, one 16-byte load per group and tap. */
IMS__TARGET_AVX2 static void hpass_avx2(const ims_image *src, uint32_t row0,
                                        uint32_t rows,
                                        const ims__hsimd_table *h,
                                        uint32_t taps, uint32_t g0, uint32_t g1,
                                        size_t rowb, uint8_t *tmp) {
  const uint32_t *off = (const uint32_t *)(const void *)h->off.data;
  const int32_t *hc = (const int32_t *)(const void *)h->coef.data;
  for (uint32_t r = 0; r < rows; r++) {
    const uint8_t *in = src->pixels + (size_t)(row0 + r) * src->stride;
    uint8_t *o = tmp + r * rowb;
    for (uint32_t g = g0; g < g1; g += 8) {
      __m256i a[4];
      for (uint32_t q = 0; q < 4; q++) {
        uint32_t gg = g + 2 * q;
        const uint8_t *p0 = in + off[gg], *p1 = in + off[gg + 1];
        const int32_t *k = hc + (size_t)(gg / 4) * taps * 16 + (gg % 4) * 4;
        __m256i ctl = LD256(h->ctl.data + (size_t)gg * 16);
        __m256i acc = _mm256_set1_epi32(BIAS);
        for (uint32_t j = 0; j < taps; j++, k += 16) {
          __m256i v = _mm256_inserti128_si256(
              _mm256_castsi128_si256(LD128(p0 + 3 * j)), LD128(p1 + 3 * j), 1);
          v = _mm256_shuffle_epi8(v, ctl);
          acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(v, LD256(k)));
        }
        a[q] = acc;
      }
      _mm256_storeu_si256((__m256i *)(void *)(o + g * IMS__PRE_GROUP),
                          pack32_avx2(a[0], a[1], a[2], a[3]));
    }
  }
}

/* Vertical pass, bytes [i0, n) (n - i0 a multiple of 32) of one row. */
IMS__TARGET_AVX2 static void vrow_avx2(const uint8_t *base, const int32_t *k,
                                       uint32_t taps, size_t rowb, size_t i0,
                                       size_t n, uint8_t *dst) {
  for (size_t i = i0; i < n; i += 32) {
    __m256i a0 = _mm256_set1_epi32(BIAS), a1 = a0, a2 = a0, a3 = a0;
    for (uint32_t j = 0; j < taps; j++) {
      const uint8_t *r = base + j * rowb + i;
      __m256i w = _mm256_set1_epi32(k[j]);
      a0 = _mm256_add_epi32(
          a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(LD64(r)), w));
      a1 = _mm256_add_epi32(
          a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(LD64(r + 8)), w));
      a2 = _mm256_add_epi32(
          a2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(LD64(r + 16)), w));
      a3 = _mm256_add_epi32(
          a3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(LD64(r + 24)), w));
    }
    _mm256_storeu_si256((__m256i *)(void *)(dst + i),
                        pack32_avx2(a0, a1, a2, a3));
  }
}

/* ---- 3. AVX-512 (F+BW+VBMI) -------------------------------------------- */

/* 16 dword sums -> 16 clipped bytes (vpmovusdb after clamping at 0). */
IMS__TARGET_AVX512_VBMI static inline __m128i pack16_avx512(__m512i a) {
  a = _mm512_max_epi32(_mm512_srai_epi32(a, IMS__PRE_PRECISION_BITS),
                       _mm512_setzero_si512());
  return _mm512_cvtusepi32_epi8(a);
}

/* Horizontal pass, blocks 0 .. nb - 1 (16 output bytes each) of every
 * row: one 64-byte load per block, then per tap a masked vpermb that
 * zero-extends the 16 wanted bytes into dwords. */
IMS__TARGET_AVX512_VBMI static void hpass_avx512(const ims_image *src,
                                                 uint32_t row0, uint32_t rows,
                                                 const ims__hsimd_table *h,
                                                 uint32_t taps, uint32_t nb,
                                                 size_t rowb, uint8_t *tmp) {
  const uint32_t *off = (const uint32_t *)(const void *)h->off.data;
  const int32_t *hc = (const int32_t *)(const void *)h->coef.data;
  const __m512i three = _mm512_set1_epi8(3);
  for (uint32_t r = 0; r < rows; r++) {
    const uint8_t *in = src->pixels + (size_t)(row0 + r) * src->stride;
    uint8_t *o = tmp + r * rowb;
    for (uint32_t b = 0; b < nb; b++) {
      __m512i data = _mm512_loadu_si512(in + off[b * 4]);
      __m512i idx = _mm512_loadu_si512(h->zctl.data + (size_t)b * 64);
      const int32_t *k = hc + (size_t)b * taps * 16;
      __m512i acc = _mm512_set1_epi32(BIAS);
      for (uint32_t j = 0; j < taps; j++, k += 16) {
        __m512i v =
            _mm512_maskz_permutexvar_epi8(0x1111111111111111ull, idx, data);
        acc =
            _mm512_add_epi32(acc, _mm512_mullo_epi32(v, _mm512_loadu_si512(k)));
        idx = _mm512_add_epi8(idx, three);
      }
      _mm_storeu_si128((__m128i *)(void *)(o + b * IMS__PRE_ZBLOCK),
                       pack16_avx512(acc));
    }
  }
}

/* Vertical pass, bytes [0, n) (a multiple of 64) of one output row. */
IMS__TARGET_AVX512_VBMI static void vrow_avx512(const uint8_t *base,
                                                const int32_t *k, uint32_t taps,
                                                size_t rowb, size_t n,
                                                uint8_t *dst) {
  for (size_t i = 0; i < n; i += 64) {
    __m512i a0 = _mm512_set1_epi32(BIAS), a1 = a0, a2 = a0, a3 = a0;
    for (uint32_t j = 0; j < taps; j++) {
      const uint8_t *r = base + j * rowb + i;
      __m512i w = _mm512_set1_epi32(k[j]);
      a0 = _mm512_add_epi32(
          a0, _mm512_mullo_epi32(_mm512_cvtepu8_epi32(LD128(r)), w));
      a1 = _mm512_add_epi32(
          a1, _mm512_mullo_epi32(_mm512_cvtepu8_epi32(LD128(r + 16)), w));
      a2 = _mm512_add_epi32(
          a2, _mm512_mullo_epi32(_mm512_cvtepu8_epi32(LD128(r + 32)), w));
      a3 = _mm512_add_epi32(
          a3, _mm512_mullo_epi32(_mm512_cvtepu8_epi32(LD128(r + 48)), w));
    }
    _mm_storeu_si128((__m128i *)(void *)(dst + i), pack16_avx512(a0));
    _mm_storeu_si128((__m128i *)(void *)(dst + i + 16), pack16_avx512(a1));
    _mm_storeu_si128((__m128i *)(void *)(dst + i + 32), pack16_avx512(a2));
    _mm_storeu_si128((__m128i *)(void *)(dst + i + 48), pack16_avx512(a3));
  }
}

/* ---- 4. widest first --------------------------------------------------- */

/* Run the SIMD horizontal kernels `path` allows, widest first; returns
 * the groups of each row done (the rest is left to portable C). */
uint32_t ims__hpass_x86(ims__preprocess_path path, const ims_image *src,
                        uint32_t row0, uint32_t rows, const ims__hsimd_table *h,
                        uint32_t taps, size_t rowb, uint8_t *tmp) {
  uint32_t g = 0, n;
  if (path >= IMS__PATH_AVX512 && h->blocks > 0) {
    hpass_avx512(src, row0, rows, h, taps, h->blocks, rowb, tmp);
    g = h->blocks * 4;
  }
  n = (h->groups - g) & ~7u;
  if (path >= IMS__PATH_AVX2 && n > 0) {
    hpass_avx2(src, row0, rows, h, taps, g, g + n, rowb, tmp);
    g += n;
  }
  n = (h->groups - g) & ~3u;
  if (path >= IMS__PATH_SSE41 && n > 0) {
    hpass_sse41(src, row0, rows, h, taps, g, g + n, rowb, tmp);
    g += n;
  }
  return g;
}

/* Same for one row of the vertical pass; returns the bytes done. */
size_t ims__vrow_x86(ims__preprocess_path path, const uint8_t *base,
                     const int32_t *k, uint32_t taps, size_t rowb,
                     uint8_t *dst) {
  size_t i = 0, n;
  if (path >= IMS__PATH_AVX512) {
    i = rowb & ~(size_t)63;
    vrow_avx512(base, k, taps, rowb, i, dst);
  }
  n = (rowb - i) & ~(size_t)31;
  if (path >= IMS__PATH_AVX2 && n > 0) {
    vrow_avx2(base, k, taps, rowb, i, i + n, dst);
    i += n;
  }
  n = (rowb - i) & ~(size_t)15;
  if (path >= IMS__PATH_SSE41 && n > 0) {
    vrow_sse41(base, k, taps, rowb, i, i + n, dst);
    i += n;
  }
  return i;
}

#endif /* IMS_HAVE_X86_SIMD */
