/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preprocess_int.h - internals of ims_preprocessor: the private knobs
 * tests and benchmarks turn (preprocess.c), and the interface between
 * preprocess.c and its x86 kernels (preprocess_x86.c).
 *
 * Sections: 1. knobs (geometry, kernel path) 2. x86 kernels.
 *
 * Threading: same as the preprocessor (one thread at a time).
 */
#ifndef IMS_IMAGE_PREPROCESS_INT_H
#define IMS_IMAGE_PREPROCESS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/cpu_int.h"
#include "image/codec_int.h"
#include "imgstream/image.h"

/* ---- 1. knobs ---------------------------------------------------------- */

/* How the resized size and the crop offsets are computed. The resampling
 * itself (Pillow BILINEAR) is the same in both. */
typedef enum ims__geometry {
  /* torchvision 0.21: long = int(resize * long / short) (truncated),
   * offset = int(round((size - crop) / 2.0)) (half to even). Default. */
  IMS__GEOMETRY_TORCHVISION = 0,
  /* The Arm NN reference tensors in shared/reference/armnn-cpuref:
   * long = round(resize * long / short) (half to even),
   * offset = (size - crop) // 2 (floor). */
  IMS__GEOMETRY_ROUNDED = 1,
} ims__geometry;

/* Switch the geometry convention; drops the cached coefficient tables. */
void ims__preprocessor_set_geometry(ims_preprocessor *pre, ims__geometry g);

/* Which kernels run the two passes. Every path computes the same integer
 * sums, so the output bytes never depend on the path; only speed does.
 * Each path also uses the narrower ones for what its width leaves. */
typedef enum ims__preprocess_path {
  IMS__PATH_AUTO = 0,   /* the best one this CPU supports (the default) */
  IMS__PATH_SCALAR = 1, /* portable C, any architecture */
  IMS__PATH_SSE41 = 2,  /* x86-64 SSE4.1 (pshufb, pmulld) */
  IMS__PATH_AVX2 = 3,   /* x86-64 AVX2 */
  IMS__PATH_AVX512 = 4, /* x86-64 AVX-512 F+BW+VBMI */
} ims__preprocess_path;

/* FORCE a path (tests and benchmarks compare them). AUTO picks again.
 * @retval IMS_OK
 * @retval IMS_ERR_UNSUPPORTED  not built in, or this CPU lacks it; the
 *                              preprocessor keeps its previous path. */
ims_status ims__preprocessor_set_path(ims_preprocessor *pre,
                                      ims__preprocess_path path,
                                      ims_error *err);

/* Name of the path in use ("scalar", "sse41", ...): a static string. */
const char *ims__preprocess_path_name(const ims_preprocessor *pre);

/* ---- 2. x86 kernels ----------------------------------------------------
 * preprocess.c builds the tables and runs the portable passes; the x86
 * kernels (preprocess_x86.c) do the leading part of each row they can,
 * and preprocess.c finishes the rest in C. See preprocess.c's header for
 * the arithmetic, which every kernel shares. */

#define IMS__PRE_PRECISION_BITS (32 - 8 - 2) /* Pillow's 8-bit fixed point */
#define IMS__PRE_GROUP 4   /* output bytes per SIMD group */
#define IMS__PRE_ZBLOCK 16 /* output bytes per AVX-512 block */

/* The horizontal weights rearranged for the x86 kernels. Group g is
 * output bytes 4g .. 4g+3 of a row; block b is groups 4b .. 4b+3 (16
 * output bytes). */
typedef struct ims__hsimd_table {
  uint32_t groups; /* leading groups the 16-byte kernels may do */
  uint32_t blocks; /* leading blocks the AVX-512 kernel may do */
  ims__buf off;    /* uint32_t[groups]: row byte offset of tap 0's load */
  ims__buf ctl;    /* uint8_t[groups * 16]: pshufb control, byte i of the
                      group -> dword i, zero-extended */
  ims__buf coef;   /* int32_t[blocks4 * taps * 16]: weight of each output
                      byte, per block of 4 groups and tap */
  ims__buf zctl;   /* uint8_t[blocks * 64]: tap 0's vpermb control (group
                      offsets relative to group 4b's load) */
} ims__hsimd_table;

#ifdef IMS_HAVE_X86_SIMD
/* Horizontal pass of input rows row0 .. row0 + rows - 1 into tmp (rows
 * of rowb bytes), with the kernels `path` allows, widest first. Returns
 * the groups of each row done; the rest is the caller's. */
uint32_t ims__hpass_x86(ims__preprocess_path path, const ims_image *src,
                        uint32_t row0, uint32_t rows,
                        const ims__hsimd_table *h, uint32_t taps,
                        size_t rowb, uint8_t *tmp);

/* One output row of the vertical pass: rowb bytes into dst from the
 * `taps` rows at base (rowb apart), weights k. Returns the leading bytes
 * done; the rest is the caller's. */
size_t ims__vrow_x86(ims__preprocess_path path, const uint8_t *base,
                     const int32_t *k, uint32_t taps, size_t rowb,
                     uint8_t *dst);
#endif

#endif /* IMS_IMAGE_PREPROCESS_INT_H */
