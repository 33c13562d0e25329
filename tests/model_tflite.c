/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model_tflite.c - loading the two shared MobileNetV2 TFLite models into the
 * graph form, checked against facts known independently of this loader:
 *
 *  - shared/README.md: both take 1x224x224x3 uint8 and give 1001 uint8
 *    outputs (probability = q / 256); the quant model's input is scale
 *    1/128, zero point 128, per-tensor uint8 throughout; the tf2 model has
 *    int8 per-channel weights inside and QUANTIZE ops at both edges.
 *  - MobileNetV2's architecture (Sandler et al. 2018): a stride-2 3x3 stem
 *    conv; 17 inverted-residual blocks, the first without an expansion
 *    conv (1 depthwise + 1 project conv), the other 16 with (expand conv +
 *    depthwise + project conv); residual ADDs where stride is 1 and widths
 *    match: block repeats {1,2,3,4,3,3,1} give 0+1+2+3+2+2+0 = 10; a 1x1
 *    conv to 1280; global pooling; the 1001-way classifier (a 1x1 conv in
 *    both files); squeeze/reshape; softmax. So 1 + 1 + 32 + 1 + 1 = 36
 *    CONV_2D, 17 DEPTHWISE_CONV_2D, 10 ADD.
 *
 * Threading: single-threaded test.
 */
#include "imgstream/model.h"
#include "model/graph_int.h"
#include "test.h"

#define QUANT_MODEL "models/mobilenet_v2_1.0_224_quant.tflite"
#define TF2_MODEL "models/tf2_mobilenet_v2_1.0_224_ptq.tflite"

static ims_model *load(const char *rel) {
  ims_model *m = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_model_load_file(shared_path(rel), &m, &err), &err);
  ASSERT(m != NULL);
  return m;
}

static void count_ops(const ims_model *m, unsigned counts[IMS__OP_COUNT]) {
  memset(counts, 0, sizeof(unsigned) * IMS__OP_COUNT);
  for (uint32_t i = 0; i < m->node_count; i++) {
    ASSERT(m->nodes[i].op < IMS__OP_COUNT);
    counts[m->nodes[i].op]++;
  }
}

/* graph_int.h's conventions, checked for every node of a loaded model. */
static void check_graph_invariants(const ims_model *m) {
  unsigned char *ready = calloc(m->tensor_count, 1);
  ASSERT(ready != NULL);
  for (uint32_t t = 0; t < m->tensor_count; t++)
    ready[t] = m->tensors[t].data != NULL;
  ASSERT(m->tensors[m->input].data == NULL);
  ready[m->input] = 1;
  for (uint32_t i = 0; i < m->node_count; i++) {
    const ims__node *n = &m->nodes[i];
    ASSERT_EQ(n->source_index, i);
    const char *want = ims__op_name(n->op); /* SQUEEZE maps to RESHAPE */
    if (n->op == IMS__OP_RESHAPE && strcmp(n->source_name, "SQUEEZE") == 0)
      want = "SQUEEZE";
    ASSERT_STR_EQ(n->source_name, want);
    ASSERT(n->input_count >= 1 && n->input_count <= IMS__MAX_NODE_INPUTS);
    for (uint32_t k = 0; k < n->input_count; k++) {
      ASSERT(n->inputs[k] < m->tensor_count);
      ASSERT(ready[n->inputs[k]]);
    }
    ASSERT(n->output < m->tensor_count);
    ASSERT(!ready[n->output]);
    ready[n->output] = 1;
  }
  ASSERT(ready[m->output]);
  for (uint32_t t = 0; t < m->tensor_count; t++) {
    const ims__tensor *x = &m->tensors[t];
    if (x->data != NULL) {
      size_t bytes = ims__tensor_elements(x) * ims__type_size(x->type);
      ASSERT_EQ(x->data_size, bytes);
      ASSERT_EQ((uintptr_t)x->data % ims__type_size(x->type), 0);
    }
  }
  free(ready);
}

/* Both models: 1x224x224x3 uint8 in, 1001 uint8 out, probability q/256. */
static void check_common_io(const ims_model *m) {
  ims_model_info info;
  ims_model_get_info(m, &info);
  ASSERT_STR_EQ(info.format, "tflite");
  ASSERT_EQ(info.input_height, 224);
  ASSERT_EQ(info.input_width, 224);
  ASSERT_EQ(info.input_channels, 3);
  ASSERT_EQ(info.input_type, IMS_TENSOR_U8);
  ASSERT_EQ(info.output_count, 1001);
  ASSERT_EQ(info.output_type, IMS_TENSOR_U8);
  ASSERT_EQ(info.operator_count, m->node_count);
  const ims__tensor *in = &m->tensors[m->input];
  ASSERT_EQ(in->rank, 4);
  ASSERT_EQ(in->shape[0], 1);
  const ims__tensor *out = &m->tensors[m->output];
  ASSERT(out->scale == 1.0f / 256.0f);
  ASSERT_EQ(out->zero_point, 0);
  ASSERT(out->channel_scales == NULL);
}

TEST(model_quant_loads) {
  ims_model *m = load(QUANT_MODEL);
  check_common_io(m);
  check_graph_invariants(m);
  ims_model_info info;
  ims_model_get_info(m, &info);
  ASSERT(info.input_scale == 1.0f / 128.0f);
  ASSERT_EQ(info.input_zero_point, 128);
  unsigned c[IMS__OP_COUNT];
  count_ops(m, c);
  ASSERT_EQ(c[IMS__OP_CONV_2D], 36);
  ASSERT_EQ(c[IMS__OP_DEPTHWISE_CONV_2D], 17);
  ASSERT_EQ(c[IMS__OP_ADD], 10);
  ASSERT_EQ(c[IMS__OP_AVERAGE_POOL_2D], 1);
  ASSERT_EQ(c[IMS__OP_RESHAPE], 1);
  ASSERT_EQ(c[IMS__OP_SOFTMAX], 1);
  ASSERT_EQ(m->node_count, 66);
  /* The stem: 3x3 stride-2 SAME conv, 32 filters, fused RELU6. */
  const ims__node *stem = &m->nodes[0];
  ASSERT_EQ(stem->op, IMS__OP_CONV_2D);
  ASSERT_EQ(stem->inputs[0], m->input);
  ASSERT_EQ(stem->stride_h, 2);
  ASSERT_EQ(stem->stride_w, 2);
  ASSERT_EQ(stem->padding, IMS__PAD_SAME);
  ASSERT_EQ(stem->activation, IMS__ACT_RELU6);
  const ims__tensor *w = &m->tensors[stem->inputs[1]];
  ASSERT_EQ(w->shape[0], 32);
  ASSERT_EQ(w->shape[1], 3);
  ASSERT_EQ(w->shape[3], 3);
  /* The head: 7x7 average pool, then the classifier, squeeze, softmax. */
  const ims__node *last = &m->nodes[m->node_count - 1];
  ASSERT_EQ(last->op, IMS__OP_SOFTMAX);
  ASSERT_EQ(last->output, m->output);
  ASSERT(last->beta == 1.0f);
  for (uint32_t i = 0; i < m->node_count; i++) {
    const ims__node *n = &m->nodes[i];
    if (n->op != IMS__OP_AVERAGE_POOL_2D) continue;
    ASSERT_EQ(n->filter_h, 7);
    ASSERT_EQ(n->filter_w, 7);
    ASSERT_EQ(n->padding, IMS__PAD_VALID);
  }
  /* uint8 asymmetric, per-tensor: no channel scales anywhere. */
  for (uint32_t t = 0; t < m->tensor_count; t++) {
    ASSERT(m->tensors[t].channel_scales == NULL);
    ASSERT(m->tensors[t].type == IMS_TENSOR_U8 ||
           m->tensors[t].type == IMS_TENSOR_I32);
  }
  ims_model_destroy(m);
}

/* tf2 weights: int8, one scale per output channel (conv: dim 0 of OHWI;
 * depthwise: dim 3 of {1,KH,KW,C}), zero point 0; int32 biases likewise. */
static void check_per_channel(const ims_model *m, const ims__node *n) {
  const ims__tensor *w = &m->tensors[n->inputs[1]];
  const ims__tensor *b = &m->tensors[n->inputs[2]];
  uint32_t dim = n->op == IMS__OP_DEPTHWISE_CONV_2D ? 3 : 0;
  ASSERT_EQ(n->input_count, 3);
  ASSERT_EQ(w->type, IMS_TENSOR_I8);
  ASSERT(w->channel_scales != NULL);
  ASSERT_EQ(w->quant_dim, dim);
  ASSERT_EQ(w->channel_count, w->shape[dim]);
  ASSERT_EQ(w->zero_point, 0);
  ASSERT(w->scale == 0.0f);
  for (uint32_t c = 0; c < w->channel_count; c++)
    ASSERT(w->channel_scales[c] > 0.0f);
  ASSERT_EQ(b->type, IMS_TENSOR_I32);
  ASSERT_EQ(b->channel_count, w->shape[dim]);
}

TEST(model_tf2_loads) {
  ims_model *m = load(TF2_MODEL);
  check_common_io(m);
  check_graph_invariants(m);
  unsigned c[IMS__OP_COUNT];
  count_ops(m, c);
  ASSERT_EQ(c[IMS__OP_CONV_2D], 36);
  ASSERT_EQ(c[IMS__OP_DEPTHWISE_CONV_2D], 17);
  ASSERT_EQ(c[IMS__OP_ADD], 10);
  ASSERT_EQ(c[IMS__OP_QUANTIZE], 2);
  ASSERT_EQ(c[IMS__OP_SOFTMAX], 1);
  /* QUANTIZE at both edges: uint8 -> int8 in, int8 -> uint8 out. */
  const ims__node *first = &m->nodes[0];
  const ims__node *last = &m->nodes[m->node_count - 1];
  ASSERT_EQ(first->op, IMS__OP_QUANTIZE);
  ASSERT_EQ(first->inputs[0], m->input);
  ASSERT_EQ(m->tensors[first->output].type, IMS_TENSOR_I8);
  ASSERT_EQ(last->op, IMS__OP_QUANTIZE);
  ASSERT_EQ(last->output, m->output);
  ASSERT_EQ(m->tensors[last->inputs[0]].type, IMS_TENSOR_I8);
  for (uint32_t i = 0; i < m->node_count; i++) {
    const ims__node *n = &m->nodes[i];
    if (n->op == IMS__OP_CONV_2D || n->op == IMS__OP_DEPTHWISE_CONV_2D)
      check_per_channel(m, n);
  }
  ims_model_destroy(m);
}

TEST(model_load_memory_copies) {
  size_t size = 0;
  unsigned char *bytes = test_read_file(shared_path(QUANT_MODEL), &size);
  ASSERT(bytes != NULL);
  ims_model *m = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_model_load_memory(bytes, size, &m, &err), &err);
  memset(bytes, 0xAB, size); /* the model must not depend on our buffer */
  free(bytes);
  check_common_io(m);
  check_graph_invariants(m);
  ims_model_destroy(m);
}

TEST(model_missing_file) {
  ims_model *m = NULL;
  ims_error err = {0};
  ASSERT_EQ(ims_model_load_file(tmp_path("no-such-model.tflite"), &m, &err),
            IMS_ERR_NOT_FOUND);
  ASSERT(m == NULL);
  ASSERT_CONTAINS(err.message, "no-such-model.tflite");
  ims_model_destroy(NULL);
}

TEST_MAIN(model_quant_loads, model_tf2_loads, model_load_memory_copies,
          model_missing_file)
