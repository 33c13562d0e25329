/* SPDX-License-Identifier: Apache-2.0 */
/*
 * batch.h - decoding and preprocessing a batch of images on several
 * threads: the stage that feeds ims_engine_run.
 *
 * An ims_batch_prep owns one decoder and one preprocessor per thread and a
 * pthreadpool. ims_batch_prep_files() splits a batch into one contiguous
 * share per thread, so every image of the batch is read, decoded, resized
 * and cropped straight into its slot of the engine's input buffer; after
 * warm-up nothing is allocated.
 *
 * Lifecycle: create -> run (repeatable) -> destroy.
 * Threading: one caller thread at a time per object.
 */
#ifndef IMGSTREAM_BATCH_H
#define IMGSTREAM_BATCH_H

#include "imgstream/image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ims_batch_prep ims_batch_prep;

/// @param decode, preprocess  COPIED; NULL = defaults.
/// @param threads             workers; 0 = all online cores.
IMS_API ims_status ims_batch_prep_create(const ims_decode_options *decode,
                                         const ims_preprocess_options *pre,
                                         uint32_t threads,
                                         ims_batch_prep **out,
                                         ims_error *err);

/// Free the workers and their buffers. NULL is a no-op.
IMS_API void ims_batch_prep_destroy(ims_batch_prep *prep);

/// Bytes one preprocessed image occupies (crop_width * crop_height * 3).
IMS_API size_t ims_batch_prep_image_bytes(const ims_batch_prep *prep);

/// Read, decode and preprocess `count` files. Image i goes to
/// dst + i * ims_batch_prep_image_bytes(prep).
/// @param paths   BORROWED for the call.
/// @param errors  `count` records (BORROWED): errors[i].status is IMS_OK for
///                an image that succeeded, else its status and message (the
///                message starts with the path). A failed image's slot in
///                dst holds garbage; the others are unaffected.
/// @return the number of images that failed.
IMS_API size_t ims_batch_prep_files(ims_batch_prep *prep, size_t count,
                                    const char *const *paths, uint8_t *dst,
                                    ims_error *errors);

/// Same for images already in memory (`data[i]`, `sizes[i]`, BORROWED).
IMS_API size_t ims_batch_prep_memory(ims_batch_prep *prep, size_t count,
                                     const void *const *data,
                                     const size_t *sizes, uint8_t *dst,
                                     ims_error *errors);

#ifdef __cplusplus
}
#endif

#endif /* IMGSTREAM_BATCH_H */
