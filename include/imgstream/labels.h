/* SPDX-License-Identifier: Apache-2.0 */
/*
 * labels.h - class label lists and top-K decoding of a model's scores, the
 * way Keras' decode_predictions gives them: (WordNet id, name, score).
 *
 * Label files: the Keras JSON class index ({"0": ["n01440764", "tench"],
 * ...}), or plain text with one name per line. Output mapping: a model with
 * exactly one output more than the list has entries has a background class
 * at output 0, which is dropped; equal counts map output i to label i; any
 * other combination is an error.
 *
 * Threading: an ims_labels is immutable once loaded; share it freely.
 */
#ifndef IMGSTREAM_LABELS_H
#define IMGSTREAM_LABELS_H

#include "imgstream/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ims_labels ims_labels;

/// Load a label file (Keras JSON if it starts with '{', else text lines).
/// @retval IMS_OK, IMS_ERR_NOT_FOUND, IMS_ERR_IO
/// @retval IMS_ERR_BAD_LABELS  malformed JSON, missing or duplicate index,
///                             empty file; the message says where.
IMS_API ims_status ims_labels_load_file(const char *path,
                                        ims_labels **labels_out,
                                        ims_error *err);

/// Free a label list. NULL is a no-op.
IMS_API void ims_labels_destroy(ims_labels *labels);

/// Number of classes in the list.
IMS_API size_t ims_labels_count(const ims_labels *labels);

/// Class id of entry i (the WordNet id for Keras files; for text files the
/// name itself). BORROWED: lives as long as the list. NULL if i is out of
/// range.
IMS_API const char *ims_labels_class(const ims_labels *labels, size_t i);

/// Human-readable name of entry i. BORROWED. NULL if out of range.
IMS_API const char *ims_labels_desc(const ims_labels *labels, size_t i);

/// How outputs map to labels: *offset_out = 1 when output_count is
/// count + 1 (background at output 0), 0 when equal.
/// @retval IMS_ERR_BAD_LABELS  any other combination (message gives both).
IMS_API ims_status ims_labels_output_offset(const ims_labels *labels,
                                            size_t output_count,
                                            size_t *offset_out,
                                            ims_error *err);

/* One entry of a top-K list. */
typedef struct ims_prediction {
  uint32_t index; /* output: position in the score vector given */
  float score;    /* output: its score */
} ims_prediction;

/// The k highest of scores[0..n), best first; ties go to the lower index.
/// Writes min(k, n) entries to out and returns that number. O(n*k).
IMS_API size_t ims_top_k(const float *scores, size_t n, size_t k,
                         ims_prediction *out);

#ifdef __cplusplus
}
#endif

#endif /* IMGSTREAM_LABELS_H */
