/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limits.h - resource limits on what untrusted input may make imgstream
 * allocate or do: the size of an encoded image (file, bucket object or
 * NATS message body), its pixels, a model file and its graph, and the
 * memory a classifier plans for one batch. Exceeding one is an
 * IMS_ERR_TOO_LARGE whose message names the limit and the input - never
 * an abort or an out-of-memory kill. docs/SECURITY.md lists them with
 * their defaults and the CLI options that set them.
 *
 * A plain value type, passed explicitly (no global state): fill one with
 * ims_limits_default(), change what you need, and hand it to
 * ims_model_load_file_limits(), ims_classifier_options.limits, or copy
 * max_pixels / max_file_bytes into ims_decode_options. A zero field means
 * that field's default.
 *
 * Threading: a value type; no shared state.
 */
#ifndef IMGSTREAM_LIMITS_H
#define IMGSTREAM_LIMITS_H

#include "imgstream/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Defaults (ims_limits_default). Files: 512 MiB (a 100-megapixel BMP is
 * 300 MB); models: 1 GiB; tensors and operators: 100,000 each
 * (MobileNetV2 has ~170 and ~65); batch buffers: 2 GiB (4096 images of
 * 224x224 uint8 use 0.7 GiB). */
#define IMS_DEFAULT_MAX_FILE_BYTES ((uint64_t)512 << 20)
#define IMS_DEFAULT_MAX_MODEL_BYTES ((uint64_t)1 << 30)
#define IMS_DEFAULT_MAX_TENSORS 100000u
#define IMS_DEFAULT_MAX_OPERATORS 100000u
#define IMS_DEFAULT_MAX_BATCH_BYTES ((uint64_t)2 << 30)

typedef struct ims_limits {
  uint64_t max_file_bytes;  /* input: largest encoded image read or
                               decoded: a file, a bucket object, a NATS
                               message body */
  uint64_t max_pixels;      /* input: width * height of an image, checked
                               from its header before any pixel buffer
                               (IMS_DEFAULT_MAX_PIXELS, image.h) */
  uint64_t max_model_bytes; /* input: largest model file (ONNX external
                               data not counted: it is read per tensor,
                               each checked against its file's size) */
  uint32_t max_tensors;     /* input: tensors (TFLite) or values (ONNX
                               inputs, initializers, node outputs) */
  uint32_t max_operators;   /* input: operators (TFLite) or nodes (ONNX)
                               after import */
  uint64_t max_batch_bytes; /* input: memory a classifier sets aside per
                               batch: max_batch x (a preprocessed image,
                               the engine's input - float for float
                               models - and the scores); refused at
                               create. Decoder lanes add up to threads x
                               max_pixels x 3 bytes on top, bounded by
                               max_pixels */
} ims_limits;

/// Fill *out with the defaults above. Never fails.
IMS_API void ims_limits_default(ims_limits *out);

/// Copy `in` (NULL = all defaults) into *out with every zero field set
/// to its default. Never fails.
IMS_API void ims_limits_resolve(const ims_limits *in, ims_limits *out);

#ifdef __cplusplus
}
#endif

#endif /* IMGSTREAM_LIMITS_H */
