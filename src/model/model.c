/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model.c - the ims_model object: loading (walk the table of formats,
 * then the chosen format's loader), the graph limits, destroy and
 * ims_model_get_info.
 *
 * Format detection is by content: each entry of `formats` below
 * (format_int.h) sniffs the bytes, in order, and the first that accepts
 * them loads the file: "TFL3" at bytes 4..7 is TFLite (tflite.c); a
 * protobuf message with a graph field (ModelProto field 7) is ONNX
 * (onnx.c). The file name is only used to find external data (its
 * folder).
 *
 * Not here: parsing (tflite.c, onnx*.c), the graph helpers and the arena
 * (graph.c), running (src/infer/).
 *
 * Memory: a model owns one copy of the file (malloc()ed, so 16-byte
 * aligned on the platforms we build for: constant tensors point into it
 * and XNNPACK reads them in place) and its graph (tensors, nodes and the
 * arena of graph.c, freed by ims__graph_free).
 *
 * Sections (keep this order):
 *   1. the table of formats
 *   2. load / destroy / get_info
 *
 * Threading: a loaded model is immutable; every function here is
 * thread-safe on distinct or read-only models. The table is const.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "core/file_int.h"
#include "model/format_int.h"
#include "model/graph_int.h"

/* ---- 1. the table of formats ------------------------------------------ */

/* Sniffed in this order: the first format that accepts a file loads it.
 * TFLite goes first: its check is exact, ONNX's is a heuristic. */
static const ims__model_format *const formats[] = {
    &ims__model_tflite,
    &ims__model_onnx,
};

#define FORMAT_COUNT (sizeof formats / sizeof formats[0])

/* The format that accepts these bytes, or NULL if none does. */
static const ims__model_format *sniff_format(const void *data, size_t size) {
  for (size_t k = 0; k < FORMAT_COUNT; k++) {
    if (formats[k]->sniff(data, size)) return formats[k];
  }
  return NULL;
}

/* IMS_ERR_BAD_MODEL for a file no format accepts, saying what each one
 * missed: "not a TFLite model (...) nor an ONNX model (...)". */
static ims_status unknown_format(ims_error *err) {
  char msg[sizeof err->message];
  size_t len = 0;
  msg[0] = '\0';
  for (size_t k = 0; k < FORMAT_COUNT && len < sizeof msg; k++) {
    int n = snprintf(msg + len, sizeof msg - len, "%s%s",
                     k == 0 ? "not " : " nor ", formats[k]->not_this);
    if (n < 0) break;
    len += (size_t)n;
  }
  return ims__fail(err, IMS_ERR_BAD_MODEL, "%s", msg);
}

/* ---- 2. load / destroy / get_info ------------------------------------- */

void ims_model_destroy(ims_model *model) {
  if (model == NULL) return;
  ims__graph_free(model);
  free(model->file);
  free(model);
}

/* The parsed graph within the tensor and operator limits? */
static ims_status check_graph(const ims_model *m, const ims_limits *l,
                              ims_error *err) {
  if (m->tensor_count > l->max_tensors)
    return ims__fail(err, IMS_ERR_TOO_LARGE,
                     "%s model has %u tensors, more than the limit of %u "
                     "(max_tensors)",
                     m->format, m->tensor_count, l->max_tensors);
  if (m->node_count > l->max_operators)
    return ims__fail(err, IMS_ERR_TOO_LARGE,
                     "%s model has %u operators, more than the limit of %u "
                     "(max_operators)",
                     m->format, m->node_count, l->max_operators);
  return IMS_OK;
}

/* Take ownership of `file` (malloc()ed) and parse it with the first
 * format that accepts it; `dir` is the file's folder (external data) or
 * NULL. On failure frees everything, `file` included. The graph limits
 * are checked after the parse: what a parse allocates is bounded by the
 * file's size, which max_model_bytes bounds. */
static ims_status load_owned(void *file, size_t size, const char *dir,
                             const ims_limits *limits, ims_model **model_out,
                             ims_error *err) {
  ims_status st;
  ims_model *m = calloc(1, sizeof *m);
  if (m == NULL) {
    free(file);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  m->file = file;
  m->file_size = size;
  const ims__model_format *format = sniff_format(file, size);
  if (format == NULL) {
    st = unknown_format(err);
  } else {
    m->format = format->name;
    st = format->load(m, dir, err);
  }
  if (st == IMS_OK) st = check_graph(m, limits, err);
  if (st != IMS_OK) goto fail;
  *model_out = m;
  return IMS_OK;
fail:
  ims_model_destroy(m);
  return st;
}

ims_status ims_model_load_file_limits(const char *path,
                                      const ims_limits *limits,
                                      ims_model **model_out, ims_error *err) {
  void *data = NULL;
  size_t size = 0;
  ims_limits l;
  if (path == NULL || model_out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "NULL path or model_out");
  ims_limits_resolve(limits, &l);
  size_t max = l.max_model_bytes > SIZE_MAX / 2 ? SIZE_MAX / 2
                                                : (size_t)l.max_model_bytes;
  ims_status st = ims__file_read(path, max, &data, &size, err);
  if (st == IMS_ERR_TOO_LARGE && err != NULL) {
    char msg[sizeof err->message];
    memcpy(msg, err->message, sizeof msg);
    ims__fail(err, st, "%.480s (max_model_bytes)", msg);
  }
  if (st != IMS_OK) return st;
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (slash == NULL)
    snprintf(dir, sizeof dir, ".");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path + (slash == path)),
             path);
  st = load_owned(data, size, dir, &l, model_out, err);
  if (st != IMS_OK && err != NULL) {
    /* Prefix the path so CLI messages say which file. */
    char msg[sizeof err->message];
    memcpy(msg, err->message, sizeof msg);
    ims__fail(err, st, "%s: %s", path, msg);
  }
  return st;
}

ims_status ims_model_load_file(const char *path, ims_model **model_out,
                               ims_error *err) {
  return ims_model_load_file_limits(path, NULL, model_out, err);
}

ims_status ims_model_load_memory_limits(const void *data, size_t size,
                                        const ims_limits *limits,
                                        ims_model **model_out, ims_error *err) {
  ims_limits l;
  if ((data == NULL && size != 0) || model_out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "NULL data or model_out");
  ims_limits_resolve(limits, &l);
  if (size > l.max_model_bytes)
    return ims__fail(err, IMS_ERR_TOO_LARGE,
                     "model of %zu bytes, larger than the limit of %llu "
                     "bytes (max_model_bytes)",
                     size, (unsigned long long)l.max_model_bytes);
  void *copy = malloc(size > 0 ? size : 1);
  if (copy == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory (%zu bytes)",
                     size);
  if (size > 0) memcpy(copy, data, size);
  return load_owned(copy, size, NULL, &l, model_out, err);
}

ims_status ims_model_load_memory(const void *data, size_t size,
                                 ims_model **model_out, ims_error *err) {
  return ims_model_load_memory_limits(data, size, NULL, model_out, err);
}

void ims_model_fingerprint(const ims_model *model,
                           char out[IMS_MODEL_FINGERPRINT_SIZE]) {
  unsigned char sha[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(model->file, model->file_size, sha, &len, EVP_sha256(), NULL);
  memcpy(out, "sha256:", 7);
  for (unsigned i = 0; i < len && i < 32; i++)
    snprintf(out + 7 + 2 * i, 3, "%02x", sha[i]);
  out[7 + 64] = '\0';
}

void ims_model_get_info(const ims_model *model, ims_model_info *out) {
  const ims__tensor *in = &model->tensors[model->input];
  const ims__tensor *o = &model->tensors[model->output];
  memset(out, 0, sizeof *out);
  out->format = model->format;
  out->input_height = in->shape[1];
  out->input_width = in->shape[2];
  out->input_channels = in->shape[3];
  out->input_type = in->type;
  out->input_scale = in->scale;
  out->input_zero_point = in->zero_point;
  size_t batch = o->rank >= 2 ? o->shape[0] : 1;
  out->output_count = (uint32_t)(ims__tensor_elements(o) / batch);
  out->output_type = o->type;
  out->operator_count = model->node_count;
  out->output_logits = model->output_logits ? 1 : 0;
}
