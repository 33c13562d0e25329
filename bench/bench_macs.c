/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_macs.c - multiply-accumulates per image of a model, counted from
 * the graph the library loads (TFLite, or ONNX once its loader is in).
 *
 *   bench_macs [--json] MODEL
 *
 * Loads MODEL through ims_model_load_file and walks the internal graph
 * (src/model/graph.h): each CONV_2D adds output elements (N*H*W*O) times
 * KH*KW*I (its weights' {O, KH, KW, I}), each DEPTHWISE_CONV_2D output
 * elements times KH*KW (weights {1, KH, KW, C*M}), each FULLY_CONNECTED
 * batch times O*I (weights {O, I}). Every other op (add, pooling, softmax,
 * quantization) is left out: they are a fraction of a percent of the work
 * and have no multiply-accumulate kernel to measure a peak against. The
 * graph's own batch is 1 (graph.h's convention); the count is divided by
 * the input's N anyway.
 *
 * Prints one line per op kind and the total, or with --json one object:
 * {"model":..., "format":..., "element":"f32|u8|i8", "macs": total,
 *  "conv": ..., "depthwise": ..., "fc": ..., "conv_1x1": ...}
 * where "element" is the type of the first convolution's weights (what
 * the work runs on: bench/run compares int8 models with the VNNI peak and
 * float ones with the FMA peak, bench/bench_peak.c).
 *
 * Threading: single-threaded.
 */
#include <stdio.h>
#include <string.h>

#include "imgstream/imgstream.h"
#include "model/graph.h"

typedef struct mac_count {
  double conv;      /* CONV_2D, all kernel sizes */
  double conv_1x1;  /* the 1x1 part of conv */
  double depthwise; /* DEPTHWISE_CONV_2D */
  double fc;        /* FULLY_CONNECTED */
  ims_tensor_type element; /* weights of the first conv, or 0 */
} mac_count;

/* Product of dimensions [from, to) of a tensor's shape. */
static double dims(const ims__tensor *t, uint32_t from, uint32_t to) {
  double p = 1;
  for (uint32_t i = from; i < to && i < t->rank; i++) p *= t->shape[i];
  return p;
}

static void count_node(const ims_model *m, const ims__node *n,
                       mac_count *c) {
  if (n->input_count < 2) return;
  const ims__tensor *out = &m->tensors[n->output];
  const ims__tensor *w = &m->tensors[n->inputs[1]];
  double out_elems = (double)ims__tensor_elements(out);
  switch (n->op) {
    case IMS__OP_CONV_2D: {
      /* weights OHWI: each output element takes KH*KW*I products */
      double k = dims(w, 1, w->rank);
      c->conv += out_elems * k;
      if (w->rank == 4 && w->shape[1] == 1 && w->shape[2] == 1)
        c->conv_1x1 += out_elems * k;
      if (c->element == 0) c->element = w->type;
      break;
    }
    case IMS__OP_DEPTHWISE_CONV_2D:
      /* weights {1, KH, KW, C*M}: KH*KW products per output element */
      c->depthwise += out_elems * dims(w, 1, 3);
      break;
    case IMS__OP_FULLY_CONNECTED:
      /* weights {O, I}: output elements (batch * O) times I */
      c->fc += out_elems * (w->rank >= 2 ? w->shape[w->rank - 1] : 1);
      break;
    default:
      break;
  }
}

static const char *type_name(ims_tensor_type t) {
  switch (t) {
    case IMS_TENSOR_F32: return "f32";
    case IMS_TENSOR_U8: return "u8";
    case IMS_TENSOR_I8: return "i8";
    case IMS_TENSOR_I32: return "i32";
  }
  return "unknown";
}

int main(int argc, char **argv) {
  int json = 0;
  const char *path = NULL;
  int bad = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) json = 1;
    else if (argv[i][0] == '-' || path != NULL) bad = 1;
    else path = argv[i];
  }
  if (path == NULL || bad) {
    fprintf(stderr, "usage: bench_macs [--json] MODEL\n");
    return 2;
  }
  ims_error err = {0};
  ims_model *model = NULL;
  if (ims_model_load_file(path, &model, &err) != IMS_OK) {
    fprintf(stderr, "bench_macs: %s: %s\n", path, err.message);
    return 1;
  }
  mac_count c = {0};
  for (uint32_t i = 0; i < model->node_count; i++)
    count_node(model, &model->nodes[i], &c);
  const ims__tensor *in = &model->tensors[model->input];
  double batch = in->rank > 0 && in->shape[0] > 0 ? in->shape[0] : 1;
  c.conv /= batch;
  c.conv_1x1 /= batch;
  c.depthwise /= batch;
  c.fc /= batch;
  double total = c.conv + c.depthwise + c.fc;
  if (json) {
    printf("{\"model\":\"%s\",\"format\":\"%s\",\"element\":\"%s\","
           "\"nodes\":%u,\"macs\":%.0f,\"conv\":%.0f,\"conv_1x1\":%.0f,"
           "\"depthwise\":%.0f,\"fc\":%.0f}\n",
           path, model->format, type_name(c.element), model->node_count,
           total, c.conv, c.conv_1x1, c.depthwise, c.fc);
  } else {
    printf("model: %s (%s, %u nodes, %s weights)\n", path, model->format,
           model->node_count, type_name(c.element));
    printf("convolution       %12.0f MACs (1x1: %.0f)\n", c.conv,
           c.conv_1x1);
    printf("depthwise         %12.0f MACs\n", c.depthwise);
    printf("fully connected   %12.0f MACs\n", c.fc);
    printf("total per image   %12.0f MACs (%.1f M)\n", total, total / 1e6);
  }
  ims_model_destroy(model);
  return 0;
}
