/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preprocess.h - private knobs of ims_preprocessor (preprocess.c), for tests
 * and for comparing against other reference pipelines.
 *
 * Threading: same as the preprocessor (one thread at a time).
 */
#ifndef IMS_IMAGE_PREPROCESS_H
#define IMS_IMAGE_PREPROCESS_H

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

#endif /* IMS_IMAGE_PREPROCESS_H */
