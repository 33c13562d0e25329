/* SPDX-License-Identifier: Apache-2.0 */
/*
 * features.c - which tensor of a classifier holds its penultimate
 * features: the data input of its final classifier layer (MobileNetV2:
 * the 1280 values after global average pooling), for
 * ims_model_feature_layer() and the engine's IMS_ENGINE_FLAG_FEATURES.
 *
 * Found from the graph, whatever the format: walk back from the graph's
 * output through the operators that only reshape or normalise scores
 * (softmax, reshape/squeeze/flatten, quantize/dequantize) to the first
 * CONV_2D or FULLY_CONNECTED; its data input is the tensor. The quantized
 * TFLite MobileNetV2 ends AveragePool -> Conv 1x1 -> Reshape -> Softmax,
 * Keras' Mean -> FullyConnected -> Softmax (-> Quantize), a PyTorch ONNX
 * export GlobalAveragePool -> Flatten -> Gemm. Or a tensor named by the
 * caller (its name in the file, which loaders keep).
 *
 * Not here: copying the values out during a run (infer/engine.c).
 *
 * Threading: reads an immutable model; no shared state.
 */
#include <stdbool.h>
#include <string.h>

#include "core/error_int.h"
#include "model/graph_int.h"

/* Index of the node writing tensor t, or node_count for none. */
static uint32_t producer(const ims_model *m, uint32_t t) {
  for (uint32_t i = 0; i < m->node_count; i++)
    if (m->nodes[i].output == t) return i;
  return m->node_count;
}

static bool passes_scores(ims__op op) {
  return op == IMS__OP_SOFTMAX || op == IMS__OP_RESHAPE ||
         op == IMS__OP_QUANTIZE || op == IMS__OP_DEQUANTIZE;
}

/* Walk back from the output to the classifier's data input. */
static ims_status find_classifier(const ims_model *m, uint32_t *tensor_out,
                                  ims_error *err) {
  uint32_t t = m->output;
  for (uint32_t steps = 0; steps <= m->node_count; steps++) {
    uint32_t p = producer(m, t);
    if (p == m->node_count) break;
    const ims__node *n = &m->nodes[p];
    if (n->op == IMS__OP_CONV_2D || n->op == IMS__OP_FULLY_CONNECTED) {
      *tensor_out = n->inputs[0];
      return IMS_OK;
    }
    if (!passes_scores(n->op))
      return ims__fail(err, IMS_ERR_NOT_FOUND,
                       "no classifier layer: the output comes from %s "
                       "(operator %u), not a fully connected or 1x1 "
                       "convolution; name the feature layer",
                       n->source_name, n->source_index);
    t = n->inputs[0];
  }
  return ims__fail(err, IMS_ERR_NOT_FOUND,
                   "no classifier layer before the model's output; name "
                   "the feature layer");
}

static ims_status find_named(const ims_model *m, const char *name,
                             uint32_t *tensor_out, ims_error *err) {
  for (uint32_t t = 0; t < m->tensor_count; t++) {
    if (m->tensors[t].name == NULL || strcmp(m->tensors[t].name, name) != 0)
      continue;
    if (m->tensors[t].data != NULL || t == m->input)
      return ims__fail(err, IMS_ERR_INVALID_ARG,
                       "feature layer '%s' is %s, not a layer's output",
                       name, t == m->input ? "the model's input"
                                           : "a constant");
    *tensor_out = t;
    return IMS_OK;
  }
  return ims__fail(err, IMS_ERR_NOT_FOUND,
                   "feature layer '%s': no tensor of that name in the model",
                   name);
}

ims_status ims__feature_find(const ims_model *m, const char *name,
                             ims__feature_layer *out, ims_error *err) {
  uint32_t t = 0;
  ims_status st = name != NULL ? find_named(m, name, &t, err)
                               : find_classifier(m, &t, err);
  if (st != IMS_OK) return st;
  const ims__tensor *x = &m->tensors[t];
  uint32_t p = producer(m, t);
  if (p == m->node_count || x->type == IMS_TENSOR_I32)
    return ims__fail(err, IMS_ERR_UNSUPPORTED,
                     "feature layer '%s': %s", x->name,
                     p == m->node_count ? "no operator writes it"
                                        : "int32 values");
  size_t n = ims__tensor_elements(x);
  if (x->rank > 0 && x->shape[0] > 0) n /= x->shape[0];
  *out = (ims__feature_layer){t, p, n};
  return IMS_OK;
}

ims_status ims_model_feature_layer(const ims_model *model, const char *name,
                                   ims_model_feature_info *info_out,
                                   ims_error *err) {
  if (model == NULL || info_out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "NULL model or info_out");
  ims__feature_layer f;
  ims_status st = ims__feature_find(model, name, &f, err);
  if (st != IMS_OK) return st;
  const ims__tensor *t = &model->tensors[f.tensor];
  *info_out = (ims_model_feature_info){
      .tensor_name = t->name != NULL ? t->name : "",
      .count = (uint32_t)f.count,
      .type = t->type,
      .scale = t->scale,
      .zero_point = t->zero_point,
  };
  return IMS_OK;
}
