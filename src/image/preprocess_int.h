/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preprocess.h - private knobs of ims_preprocessor (preprocess.c), for tests
 * and for comparing against other reference pipelines.
 *
 * Threading: same as the preprocessor (one thread at a time).
 */
#ifndef IMS_IMAGE_PREPROCESS_INT_H
#define IMS_IMAGE_PREPROCESS_INT_H

#include "imgstream/image.h"

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
 * sums, so the output bytes never depend on the path; only speed does. */
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

#endif /* IMS_IMAGE_PREPROCESS_INT_H */
