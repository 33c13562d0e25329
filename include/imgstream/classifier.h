/* SPDX-License-Identifier: Apache-2.0 */
/*
 * classifier.h - the whole classification pipeline in one object: decode +
 * preprocess (ims_batch_prep) -> inference (ims_engine) -> top-K
 * decoding against the labels, the way Keras' decode_predictions does it.
 * `imgstream classify` and the stream engine both run images through it.
 *
 * Lifecycle: ims_classifier_create (loads the model and labels once,
 * creates the engine, the decoder pool and every buffer for max_batch
 * images) -> ims_classifier_run_files / _run_memory (repeatable, up to
 * max_batch images per call; nothing is allocated after the first run) ->
 * ims_classifier_destroy.
 *
 * Failed images: an image that cannot be read or decoded gets its own
 * error in its result and is packed out of the engine batch; the others
 * are classified as usual.
 *
 * Threading: one caller thread at a time per classifier; each run is split
 * by image over one lane (decoder + single-threaded engine) per thread.
 */
#ifndef IMGSTREAM_CLASSIFIER_H
#define IMGSTREAM_CLASSIFIER_H

#include "imgstream/image.h"
#include "imgstream/labels.h"
#include "imgstream/limits.h"
#include "imgstream/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ims_classifier ims_classifier;

/* Options of ims_classifier_create. Zero fields take the defaults. */
typedef struct ims_classifier_options {
  const char *model_path;  /* input: TFLite or ONNX file. Required.
                              COPIED. */
  const char *labels_path; /* input: Keras JSON or text labels. Required.
                              COPIED. */
  uint32_t threads;        /* input: decode and inference workers;
                              0 = all online cores. A run is split by
                              image, one single-threaded decoder + engine
                              per worker */
  uint32_t max_batch;      /* input: most images per run; 0 = 1 */
  uint32_t top_k;          /* input: predictions per image; 0 = 1; clamped
                              to the number of labels */
  ims_decode_options decode;         /* input: decoder limits */
  ims_preprocess_options preprocess; /* input: crop 0 = the model's input
                                        size; resize 0 = crop * 256/224
                                        (torchvision's ratio) */
  uint32_t engine_flags;   /* input: IMS_ENGINE_FLAG_* for every engine;
                              IMS_ENGINE_FLAG_FEATURES also fills each
                              result's features */
  const char *feature_layer; /* input: with IMS_ENGINE_FLAG_FEATURES, the
                              tensor to read them from; NULL = found from
                              the graph (ims_model_feature_layer).
                              BORROWED for the call */
  float mean[3];           /* input: float models: per-channel mean of the
                              [0,1] RGB input; used when std is set */
  float std[3];            /* input: float models: per-channel std; all 0
                              = torchvision's ImageNet mean/std (see
                              ims_engine_options) */
  const ims_limits *limits; /* input: BORROWED for the call; NULL = the
                              defaults (limits.h). Bounds the model
                              (max_model_bytes, max_tensors,
                              max_operators) and the batch
                              (max_batch_bytes); its max_pixels and
                              max_file_bytes apply where `decode` leaves
                              them 0 */
} ims_classifier_options;

/* One prediction of an image. */
typedef struct ims_class_prediction {
  uint32_t index;       /* output: position in the label list */
  float score;          /* output: probability (a softmax over the model's
                           outputs when the model gives raw scores, as
                           ONNX classifiers do: ims_model_info's
                           output_logits) */
  const char *class_id; /* output: WordNet id (Keras labels) or the name;
                           BORROWED from the classifier's labels */
  const char *desc;     /* output: human-readable name; BORROWED */
} ims_class_prediction;

/* What happened to one input image. */
typedef struct ims_class_result {
  ims_error error;                 /* output: error.status IMS_OK, or why
                                      the image failed (message starts with
                                      the path for files) */
  size_t k;                        /* output: entries in top (0 if failed) */
  const ims_class_prediction *top; /* output: best first; BORROWED, valid
                                      until the next run or destroy */
  const float *features;           /* output: with IMS_ENGINE_FLAG_FEATURES,
                                      the image's penultimate features
                                      (ims_engine_run_features), else
                                      NULL (and if failed); BORROWED as
                                      top */
  size_t feature_count;            /* output: floats at features */
  const uint8_t *pixels;           /* output: the image as the model saw
                                      it (resized, cropped RGB, input_height
                                      x input_width x 3, ims_model_info),
                                      NULL if failed; BORROWED as top */
} ims_class_result;

/* Wall-clock split of the latest run. */
typedef struct ims_classifier_stats {
  uint64_t decode_ns;    /* output: read + decode + preprocess */
  uint64_t inference_ns; /* output: engine run + top-K */
} ims_classifier_stats;

/// Load the model and labels and build the pipeline.
/// @param options  COPIED (paths too). Not NULL.
/// @param out      set only on IMS_OK. Free with ims_classifier_destroy().
/// @retval IMS_OK
/// @retval IMS_ERR_NOT_FOUND, IMS_ERR_IO, IMS_ERR_BAD_MODEL,
///         IMS_ERR_UNSUPPORTED   the model cannot be loaded or run; the
///                               message starts "cannot load model PATH"
/// @retval IMS_ERR_BAD_LABELS    labels unreadable or not matching the
///                               model's output count (message names both)
/// @retval IMS_ERR_INVALID_ARG   NULL paths, or preprocess.crop_* is not
///                               the model's input size, or resize < crop
/// @retval IMS_ERR_BACKEND, IMS_ERR_NO_MEMORY
IMS_API ims_status ims_classifier_create(const ims_classifier_options *options,
                                         ims_classifier **out,
                                         ims_error *err);

/// Free the classifier, its model, labels and pools. NULL is a no-op.
IMS_API void ims_classifier_destroy(ims_classifier *c);

/// Largest count a run takes (options.max_batch).
IMS_API size_t ims_classifier_max_batch(const ims_classifier *c);

/// The label list. BORROWED: lives as long as the classifier.
IMS_API const ims_labels *ims_classifier_labels(const ims_classifier *c);

/// The model. BORROWED: lives as long as the classifier.
IMS_API const ims_model *ims_classifier_model(const ims_classifier *c);

/// Features per image (with IMS_ENGINE_FLAG_FEATURES), else 0.
IMS_API size_t ims_classifier_feature_count(const ims_classifier *c);

/// Name of the tensor the features come from (with
/// IMS_ENGINE_FLAG_FEATURES; "" if unnamed), else NULL. BORROWED.
IMS_API const char *ims_classifier_feature_layer(const ims_classifier *c);

/// Classify `count` files (1 <= count <= max_batch).
/// @param paths        BORROWED for the call.
/// @param results_out  `count` results, in input order. BORROWED: valid
///                     until the next run or destroy. Set only on IMS_OK,
///                     which is returned even when some images failed.
/// @retval IMS_OK
/// @retval IMS_ERR_INVALID_ARG  count is 0 or above max_batch
/// @retval IMS_ERR_BACKEND      the engine failed: no image of the call
///                              has a result
IMS_API ims_status ims_classifier_run_files(
    ims_classifier *c, size_t count, const char *const *paths,
    const ims_class_result **results_out, ims_error *err);

/// Same for encoded images in memory (data[i], sizes[i]; BORROWED).
IMS_API ims_status ims_classifier_run_memory(
    ims_classifier *c, size_t count, const void *const *data,
    const size_t *sizes, const ims_class_result **results_out,
    ims_error *err);

/// Timings of the latest run. Never fails.
IMS_API void ims_classifier_get_stats(const ims_classifier *c,
                                      ims_classifier_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* IMGSTREAM_CLASSIFIER_H */
