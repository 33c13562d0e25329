/* SPDX-License-Identifier: Apache-2.0 */
/*
 * head.h - a classifier of the user's own classes, learned online from a
 * model's penultimate features (ims_engine_run_features): streaming
 * linear discriminant analysis with shrinkage (Hayes & Kanan, CVPR
 * Workshops 2020), on square-rooted, L2-normalised features. Its
 * probabilities are temperature-scaled, the temperature chosen online by
 * the recent prequential log loss (docs/LEARNING.md).
 *
 * The head is test-then-train (prequential): ims_head_step predicts each
 * sample with what was learned before it, then learns its label. Its
 * state is sums (per class: count and feature sum; the features' second
 * moments) plus the calibration's decayed losses, so a replay of the same
 * samples in the same order gives the same bits. The shrunk within-class
 * covariance (its Cholesky factor) is refitted on a schedule of
 * learned-sample counts, never of batches: how samples are split into
 * calls changes nothing. docs/LEARNING.md has the algorithm, its
 * measurements against nearest class mean, and the file format.
 *
 * Lifecycle: ims_head_create (empty) or ims_head_decode / ims_head_load
 * (a file written by ims_head_encode / ims_head_save) -> ims_head_step /
 * ims_head_predict -> ims_head_destroy.
 *
 * Linear algebra: OpenBLAS and LAPACK (Debian's); the refit is a
 * Cholesky factorisation of a feature_count^2 matrix (1280: 12-13 ms on
 * one core, 9 ms on two, Sapphire Rapids), the per-sample cost one
 * triangular solve with the factor (about 0.15 ms), predicted or
 * learned, plus C dot products. The bits do not depend on OpenBLAS's thread count; they may
 * differ between CPUs of other instruction sets (OpenBLAS's kernels).
 *
 * Threading: one thread at a time per head.
 */
#ifndef IMGSTREAM_HEAD_H
#define IMGSTREAM_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "imgstream/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ims_head ims_head;

#define IMS_HEAD_MAX_CLASSES_DEFAULT 1000u /* ims_head_options.max_classes */
#define IMS_HEAD_LABEL_MAX 255u            /* bytes of a class label */

/* ims_head_options.flags */
/// Nearest class mean: never fit a covariance (the baseline LDA is
/// measured against).
#define IMS_HEAD_FLAG_NCM 0x1u
/// Features used as they come: no signed square root before the L2
/// normalisation.
#define IMS_HEAD_FLAG_NO_SQRT 0x2u

/* Options of ims_head_create; the identity ims_head_decode checks. Zero
 * fields take the defaults. */
typedef struct ims_head_options {
  const char *model_id;      /* input: identity of the model the features
                                come from (ims_model_fingerprint).
                                Required. COPIED */
  const char *feature_layer; /* input: name of the tensor the features
                                are read from (ims_classifier_feature_
                                layer); NULL = "". COPIED */
  uint32_t feature_count;    /* input: values per sample. Required */
  uint32_t max_classes;      /* input: most classes; 0 =
                                IMS_HEAD_MAX_CLASSES_DEFAULT */
  uint32_t flags;            /* input: IMS_HEAD_FLAG_*; create only (a
                                file keeps its own) */
  uint32_t refit_min;        /* input: fewest samples between refits;
                                0 = 10; create only */
  uint32_t refit_growth_pct; /* input: a refit when the samples learned
                                grew by this many percent since the last
                                one (and by refit_min); 0 = 50; create
                                only */
} ims_head_options;

/* What ims_head_step did with one sample. */
typedef struct ims_head_result {
  ims_status status;  /* output: IMS_OK, or IMS_ERR_TOO_LARGE: its label
                         would be a class over max_classes (predicted, not
                         learned); IMS_ERR_INVALID_ARG: its label is
                         longer than IMS_HEAD_LABEL_MAX or holds a control
                         character (predicted, not learned) */
  int32_t index;      /* output: predicted class, -1 while the head knows
                         no class */
  float score;        /* output: its probability (0 if index is -1) */
  const char *label;  /* output: its label, NULL if index is -1;
                         BORROWED: valid until the head is destroyed */
} ims_head_result;

/// A head that knows no class.
/// @param options  COPIED. Not NULL.
/// @retval IMS_ERR_INVALID_ARG  no model_id, feature_count 0 or above
///                              65536
/// @retval IMS_ERR_NO_MEMORY
IMS_API ims_status ims_head_create(const ims_head_options *options,
                                   ims_head **out, ims_error *err);

/// Free the head. NULL is a no-op.
IMS_API void ims_head_destroy(ims_head *head);

/// Predict, then learn, each of n samples in order: sample i is predicted
/// with what samples before it taught (those of earlier calls and of
/// this call), then learned if labels[i] is a label.
/// @param features  n vectors of feature_count floats; BORROWED.
/// @param labels    n labels, or NULL; labels[i] NULL or "" = an
///                  unlabeled sample (predicted only). BORROWED.
/// @param results   n results (an array of the caller's).
/// @retval IMS_OK   also when some samples were not learned (their
///                  result's status says why)
/// @retval IMS_ERR_NO_MEMORY  a new class, or the matrices of the first
///                  covariance refit, could not be stored: the head is
///                  unchanged from the sample before (results up to it
///                  stand)
IMS_API ims_status ims_head_step(ims_head *head, size_t n,
                                 const float *const *features,
                                 const char *const *labels,
                                 ims_head_result *results, ims_error *err);

/// Refit the covariance now, from every sample learned (the offline fit;
/// the next scheduled refit moves on as after any refit). A stream never
/// calls it: its refits depend on the sample count only, so replays give
/// the same bits.
/// @retval IMS_ERR_NO_MEMORY  no room for the refit's d x d matrices: the
///                            head is unchanged
IMS_API ims_status ims_head_fit(ims_head *head, ims_error *err);

/// Class probabilities of one sample, without learning it.
/// @param probs  ims_head_class_count(head) floats (none if 0).
IMS_API void ims_head_predict(ims_head *head, const float *features,
                              float *probs);

IMS_API size_t ims_head_class_count(const ims_head *head);
/// Label of class i (< class count). BORROWED.
IMS_API const char *ims_head_class_label(const ims_head *head, size_t i);
/// Samples learned for class i.
IMS_API uint64_t ims_head_class_seen(const ims_head *head, size_t i);
/// Samples learned in all.
IMS_API uint64_t ims_head_seen(const ims_head *head);
/// Covariance refits so far.
IMS_API uint64_t ims_head_refits(const ims_head *head);
IMS_API uint32_t ims_head_feature_count(const ims_head *head);
/// Identity given at creation (or read from the file). BORROWED.
IMS_API const char *ims_head_model_id(const ims_head *head);
IMS_API const char *ims_head_feature_layer(const ims_head *head);

/// The head as a file (format: docs/LEARNING.md), in a new malloc()ed
/// buffer (TRANSFERRED: free()). The same state gives the same bytes.
/// @retval IMS_ERR_NO_MEMORY
IMS_API ims_status ims_head_encode(const ims_head *head, void **data_out,
                                   size_t *size_out, ims_error *err);

/// Read a head file's bytes. When `expect` is not NULL, its model_id,
/// feature_count and feature_layer must match the file's, and the file may
/// hold at most expect->max_classes classes.
/// @retval IMS_ERR_BAD_HEAD   not a head file, another version, truncated,
///                            damaged (checksum) or inconsistent; a head of
///                            another model or feature layer (the message
///                            names both)
/// @retval IMS_ERR_TOO_LARGE  more classes than expect->max_classes
/// @retval IMS_ERR_NO_MEMORY
IMS_API ims_status ims_head_decode(const void *data, size_t size,
                                   const ims_head_options *expect,
                                   ims_head **out, ims_error *err);

/// ims_head_decode of a file; messages start with the path.
/// @retval IMS_ERR_NOT_FOUND, IMS_ERR_IO as well
IMS_API ims_status ims_head_load(const char *path,
                                 const ims_head_options *expect,
                                 ims_head **out, ims_error *err);

/// Write the head to `path` atomically and durably (a temporary file in
/// the same folder, fsync, rename, fsync of the folder).
/// @retval IMS_ERR_IO  the message names the file and the step
IMS_API ims_status ims_head_save(const ims_head *head, const char *path,
                                 ims_error *err);

#ifdef __cplusplus
}
#endif

#endif /* IMGSTREAM_HEAD_H */
