/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dw_int.h - the inside of a 3x3 depthwise layer, shared by dw_ops.c
 * (packing, the portable C kernel, dispatch, the engine's step kind) and
 * its x86 kernels (dw_x86.c): the packed layer, the pieces of one output
 * pixel every kernel uses, and the row kernels dw_x86.c provides.
 *
 * The math and the packed layouts are described in dw_ops.c's header.
 * infer_int.h has the interface the engine, tests and benchmarks use.
 *
 * Threading: a layer is immutable after ims__dw_layer_create; kernels
 * only read it.
 */
#ifndef IMS_INFER_DW_INT_H
#define IMS_INFER_DW_INT_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cpu_int.h"
#include "infer/infer_int.h"

#define IMS__DW_PAIRS 5 /* 9 taps as 5 pairs; the 10th tap has weight 0 */

/* One output row of one image: taps from input rows r[0..2] (the
 * zero-point row above or below the image), l->ow pixels into out. */
typedef void (*ims__dw_row_fn)(const ims__dw_layer *l,
                               const uint8_t *const *r, uint8_t *out);

struct ims__dw_layer {
  ims__dw_params p;         /* copied; weights/bias/scales not kept */
  ims__dw_path path;        /* the kernel `row` is, never AUTO */
  ims__dw_row_fn row;       /* that kernel */
  size_t oh, ow;            /* output rows / columns of one image */
  size_t cp;                /* channels rounded up to CALIGN (32) */
  void *mem;                /* owned: the block of the arrays below */
  int16_t *w16;             /* [9][cp]: w - zw (C kernel, tails) */
  int32_t *bias;            /* [cp]: bias - zx * sum (w - zw) */
  float *scale;             /* [cp]: sx * sw[c] / sy */
  int16_t *wpack;           /* SIMD: per block [PAIRS][lo,hi][V] */
  int32_t *bpack;           /* SIMD: per block [V], acc order */
  float *spack;             /* SIMD: per block [V], acc order */
  uint8_t *padrow;          /* one input row (w * c bytes) of the
                               input zero point */
  float fmax;               /* hi - zy, as XNNPACK clamps before rounding */
  float fmin;               /* lo - zy */
};

/* Requantize one exact accumulator of channel c (see dw_ops.c). */
static inline int32_t ims__dw_requant(const ims__dw_layer *l, int32_t acc,
                                      size_t c) {
  return ims__requant_fp32(acc, l->scale[c], l->fmin, l->fmax,
                           l->p.out_zero_point, l->p.out_min, l->p.out_max);
}

/* Channels [c0, c) of one output pixel whose taps are t[0..8], in C: the
 * whole pixel for the C kernel, the channel tail for AVX2. */
static inline void ims__dw_pixel_c(const ims__dw_layer *l,
                                   const uint8_t *const *t, uint8_t *out,
                                   size_t c0) {
  for (size_t c = c0; c < l->p.c; c++) {
    int32_t acc = l->bias[c];
    for (size_t k = 0; k < 9; k++) {
      int32_t x = l->p.s8 ? (int8_t)t[k][c] : t[k][c];
      acc += x * l->w16[k * l->cp + c];
    }
    out[c] = (uint8_t)ims__dw_requant(l, acc, c);
  }
}

/* Tap pointers of output pixel ox: rows r[3] (the zero-point row above
 * or below the image); columns off the edge point at the zero-point
 * row too. */
static inline void ims__dw_pixel_taps(const ims__dw_layer *l,
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

/* The body of a row kernel (an ims__dw_row_fn, whose parameters it
 * uses): PIXEL once per output pixel, with its taps in t. Each kernel
 * expands it for its own target, so the pixel code inlines with its
 * constants. */
#define IMS__DW_ROW_LOOP(PIXEL)                                  \
  for (size_t ox = 0; ox < l->ow; ox++, out += l->p.c) {         \
    const uint8_t *t[9];                                         \
    ims__dw_pixel_taps(l, r, ox, t);                             \
    PIXEL;                                                       \
  }

#ifdef IMS_HAVE_X86_SIMD
/* dw_x86.c. Run only where ims__dw_path_supported() says so. */
void ims__dw_row_avx2(const ims__dw_layer *l, const uint8_t *const *r,
                      uint8_t *out);
void ims__dw_row_avx512(const ims__dw_layer *l, const uint8_t *const *r,
                        uint8_t *out);
#endif

#endif /* IMS_INFER_DW_INT_H */
