/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imgstream.h - umbrella header of libimgstream: the version and every
 * public sub-header. Include this one.
 *
 *   status.h  status codes, ims_error, IMS_API
 *   image.h   decoding JPEG/PNG/BMP and the resize/crop preprocessing
 *   model.h   loading a model file into a graph and running it (the engine)
 *   labels.h  class label lists and top-K decoding of predictions
 *   batch.h   decode + preprocess a batch on several threads
 *   bucket.h  buckets of images (dir://) the producer fills, the stream reads
 *   classifier.h  decode + preprocess + inference + top-K as one object
 *   stream.h  the stream classifier: micro-batches, checkpoint, sinks
 *   dataset.h the producer: dataset scan, seeded shuffle, download
 */
#ifndef IMGSTREAM_IMGSTREAM_H
#define IMGSTREAM_IMGSTREAM_H

#include "imgstream/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IMS_VERSION_MAJOR 0
#define IMS_VERSION_MINOR 1
#define IMS_VERSION_PATCH 0
#define IMS_VERSION_STRING "0.1.0"

/// Library version as "MAJOR.MINOR.PATCH". Static string.
IMS_API const char *ims_version(void);

#ifdef __cplusplus
}
#endif

#include "imgstream/limits.h"
#include "imgstream/image.h"
#include "imgstream/model.h"
#include "imgstream/labels.h"
#include "imgstream/batch.h"
#include "imgstream/bucket.h"
#include "imgstream/classifier.h"
#include "imgstream/stream.h"
#include "imgstream/dataset.h"

#endif /* IMGSTREAM_IMGSTREAM_H */
