/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pw_int.h - the inside of a 1x1 ("pointwise") 8-bit convolution layer,
 * shared by pw_ops.c (packing, the portable C kernel, dispatch, the
 * engine's step kind) and its AVX2 kernel (pw_x86.c): the packed layer
 * and the kernel type. The math and the packed layouts are described in
 * pw_ops.c's header; infer_int.h has the interface the engine, tests and
 * benchmarks use.
 *
 * Threading: a layer is immutable after ims__pw_layer_create, but for
 * the rows of `cols`, which a run rebuilds: one run at a time per layer
 * (the engine's rule for its steps); kernels only read it.
 */
#ifndef IMS_INFER_PW_INT_H
#define IMS_INFER_PW_INT_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cpu_int.h"
#include "infer/infer_int.h"

#define IMS__PW_NR 16 /* output channels per block */

/* `pixels` rows of l->kp input bytes at `in` into rows of l->p.n output
 * bytes at `out`, every block of output channels. */
typedef void (*ims__pw_kernel_fn)(const ims__pw_layer *l, const uint8_t *in,
                                  uint8_t *out, size_t pixels);

struct ims__pw_layer {
  ims__pw_params p;         /* copied; weights/bias/scales not kept */
  ims__pw_path path;        /* the kernel `run` is, never AUTO */
  ims__pw_kernel_fn run;    /* that kernel */
  size_t kp;                /* k rounded up to 4: bytes per input row
                               the kernels read (1x1: k itself) */
  size_t oh, ow;            /* output rows / columns of one image */
  void *plain;              /* owned: the block of w16, bias, scale,
                               cols, a_off, rstart, pair_rest */
  void *simd;               /* owned, SIMD paths: the block of apack, rk,
                               rpack, bpack, spack; NULL for the C kernel */
  uint8_t *cols;            /* kernels other than 1x1: one image's
                               input rows (oh * ow rows of kp bytes) as a
                               1x1 kernel reads them; else NULL */
  size_t blocks;            /* ceil(n / 16) */
  size_t np;                /* n rounded up to 16 */
  int16_t *w16;             /* [np][kp]: w - zw (C kernel) */
  int32_t *bias;            /* [np]: bias - zx * sum(w - zw) */
  float *scale;             /* [np]: sx * sw[c] / sy */
  /* SIMD (pw_ops.c's header has the layouts): */
  int8_t *apack;            /* per block [k/4][2][8][4]: the part
                               of w - zw that vpmaddubsw takes exactly */
  bool *a_off;              /* per block: no apack part at all */
  int16_t *rpack;           /* per listed pair [2][8][2]: the rest */
  uint32_t *rk;             /* per listed pair: its first k */
  uint8_t *pair_rest;       /* [blocks][kp / 2], packing only: 1 where
                               pair k / 2 of a block has a rest */
  uint32_t *rstart;         /* [blocks + 1]: block b's pairs are
                               rstart[b] .. rstart[b + 1] - 1 */
  int32_t *bpack;           /* [np], accumulator order: bias - (zx +
                               128 for int8) * sum(w - zw) */
  float *spack;             /* [np], accumulator order */
  float fmax;               /* hi - zy, as XNNPACK clamps before rounding */
  float fmin;               /* lo - zy */
};

/* Requantize one exact accumulator of channel c (see pw_ops.c). */
static inline int32_t ims__pw_requant(const ims__pw_layer *l, int32_t acc,
                                      size_t c) {
  return ims__requant_fp32(acc, l->scale[c], l->fmin, l->fmax,
                           l->p.out_zero_point, l->p.out_min, l->p.out_max);
}

#ifdef IMS_HAVE_X86_SIMD
/* pw_x86.c */
IMS__TARGET_AVX2 void ims__pw_kernel_avx2(const ims__pw_layer *l,
                                          const uint8_t *in, uint8_t *out,
                                          size_t pixels);
#endif

#endif /* IMS_INFER_PW_INT_H */
