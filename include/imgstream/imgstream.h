/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imgstream.h - umbrella header of libimgstream: the version and every
 * public sub-header. Include this one.
 *
 * In the order an image meets them (src/<area>/ implements each):
 *
 *   status.h      status codes, ims_error, IMS_API              (core)
 *   limits.h      resource limits on untrusted input            (core)
 *   dataset.h     the producer: dataset scan, seeded shuffle,
 *                 download, leftover clean-up                   (produce)
 *   bucket.h      buckets of images (dir://, s3://) the producer
 *                 fills and the stream reads                    (bucket)
 *   nats.h        NATS JetStream: publishing images, the shared
 *                 work queue, the results stream                (nats)
 *   image.h       decoding JPEG/PNG/BMP, resize/crop
 *                 preprocessing                                 (image)
 *   batch.h       decode + preprocess a batch on several
 *                 threads                                       (image)
 *   model.h       loading a model file into a graph and running
 *                 it (the engine)                               (model,
 *                                                               infer)
 *   labels.h      class label lists, top-K decoding             (model)
 *   classifier.h  decode + preprocess + inference + top-K as
 *                 one object                                    (classify)
 *   head.h        the user's own classes learned online from the
 *                 model's features                              (learn)
 *   metrics.h     Prometheus metrics and the HTTP server        (http)
 *   stream.h      the stream classifier: micro-batches,
 *                 checkpoint, sinks                             (stream)
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
#include "imgstream/head.h"
#include "imgstream/stream.h"
#include "imgstream/dataset.h"
#include "imgstream/nats.h"
#include "imgstream/metrics.h"

#endif /* IMGSTREAM_IMGSTREAM_H */
