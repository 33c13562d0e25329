/* SPDX-License-Identifier: Apache-2.0 */
/*
 * format_int.h - the table of model file formats: what model.c needs from
 * a loader to detect its format and load a file into the graph form of
 * graph_int.h.
 *
 * Each format defines one const ims__model_format next to its parser
 * (ims__model_tflite in tflite.c, ims__model_onnx in onnx.c); model.c
 * walks a const array of them, in order, and loads with the first whose
 * sniff() accepts the bytes. Adding a format is one entry there and one
 * declaration here; the dispatch code does not change.
 *
 * Not here: parsing (each format's own files), the ims_model lifecycle
 * and limits (model.c).
 *
 * Threading: const data; load() calls share no state (one call fills one
 * model).
 */
#ifndef IMS_MODEL_FORMAT_INT_H
#define IMS_MODEL_FORMAT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "model/graph_int.h"

typedef struct ims__model_format {
  const char *name;      /* "tflite": becomes ims_model_info.format and
                            starts the limit messages; static */
  const char *not_this;  /* what a file lacks when sniff() refuses it,
                            "a TFLite model (no TFL3 identifier)": model.c
                            joins these into "not A nor B" for a file no
                            format accepts */
  /* Do the `size` bytes at `data` look like this format? Cheap (a magic
   * number, the top level of a message); the bytes are BORROWED. A file
   * that is accepted but broken gets this loader's precise error. */
  bool (*sniff)(const void *data, size_t size);
  /* Parse model->file (model->file_size bytes) and fill tensors, nodes,
   * input, output (and output_logits). `dir` is the model file's folder,
   * for formats with external data, or NULL when loading from memory. On
   * failure the model may hold partial allocations; the caller destroys
   * it. Statuses: IMS_ERR_BAD_MODEL (malformed; the message says where),
   * IMS_ERR_UNSUPPORTED (outside the supported set; the message names it),
   * IMS_ERR_NO_MEMORY, and what the format's own header lists. */
  ims_status (*load)(ims_model *model, const char *dir, ims_error *err);
} ims__model_format;

/* TFLite FlatBuffers, schema version 3 (tflite.c). */
extern const ims__model_format ims__model_tflite;
/* ONNX ModelProto, IR version 3 and up (onnx.c). */
extern const ims__model_format ims__model_onnx;

#endif /* IMS_MODEL_FORMAT_INT_H */
