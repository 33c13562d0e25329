/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_macs.c - multiply-accumulates per image of a model, counted from
 * the graph the library loads (TFLite, or ONNX once its loader is in).
 *
 *   bench_macs [--json] [--time S [--threads N] [--batch B | --team]] MODEL
 *
 * Loads MODEL through ims_model_load_file and walks the internal graph
 * (src/model/graph_int.h): each CONV_2D adds output elements (N*H*W*O) times
 * KH*KW*I (its weights' {O, KH, KW, I}), each DEPTHWISE_CONV_2D output
 * elements times KH*KW (weights {1, KH, KW, C*M}), each FULLY_CONNECTED
 * batch times O*I (weights {O, I}). Every other op (add, pooling, softmax,
 * quantization) is left out: they are a fraction of a percent of the work
 * and have no multiply-accumulate kernel to measure a peak against. The
 * graph's own batch is 1 (graph_int.h's convention); the count is divided by
 * the input's N anyway.
 *
 * Prints one line per op kind and the total, or with --json one object:
 * {"model":..., "format":..., "element":"f32|u8|i8", "macs": total,
 *  "conv": ..., "depthwise": ..., "fc": ..., "conv_1x1": ...}
 * where "element" is the type of the first convolution's weights (what
 * the work runs on: bench/run compares int8 models with the VNNI peak and
 * float ones with the FMA peak, bench/bench_peak.c).
 *
 * --time S also runs the model (ims_engine_run, N threads, default 1;
 * batch B, default 1) on one batch of mid-gray images for S seconds after
 * a warm-up run, and adds images/s and the achieved GMAC/s: inference
 * alone and nothing else, so `perf record` of it profiles the kernels
 * only (bench/run does that for a row where imgstream is behind).
 *
 * --layers S profiles instead (issue 17): a one-thread engine runs one
 * mid-gray image for S seconds, each step timed on its own
 * (ims__engine_time_steps, infer_int.h), and prints every node (op, the
 * kind of step that ran it, output shape, MACs, microseconds per image:
 * its fastest run, as other load on the machine only adds; GMAC/s) and a summary by part: 1x1 convolutions, other convolutions,
 * depthwise, adds, the rest. Step-by-step timing adds a clock read per
 * step (~50 ns), nothing else.
 *
 * --team (with --time, batch 1): a one-thread engine lent a team of N
 * threads (core/team_int.h), as the classifier runs one image, instead
 * of an engine with a pool of N.
 *
 * --flags F passes IMS_ENGINE_FLAG_* bits (include/imgstream/model.h) to
 * the engine, e.g. 0x40 (FUSE) or 0x24 (no own 1x1 or depthwise
 * kernel), to measure what each part brings.
 *
 * Threading: the engine's worker threads with --time; else one thread.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imgstream/imgstream.h"
#include "infer/infer_int.h"
#include "model/graph_int.h"

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

/* CPU seconds of this process (all its threads): unlike wall time, not
 * inflated while other processes hold the cores. */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Images/s of ims_engine_run on `batch` gray images for `secs` seconds;
 * -1 on an error (printed). */
static double time_engine(const ims_model *model, uint32_t threads,
                          uint32_t batch, double secs, uint32_t flags,
                          bool team, double *per_cpu_s) {
  ims_error err = {0};
  ims_model_info info;
  ims_model_get_info(model, &info);
  ims_engine_options opt = {.threads = team ? 1 : threads,
                            .max_batch = batch, .flags = flags};
  ims_engine *engine = NULL;
  ims__team *helpers = NULL;
  if (ims_engine_create(model, &opt, &engine, &err) != IMS_OK ||
      (team && ims__team_create(threads - 1, &helpers, &err) != IMS_OK)) {
    fprintf(stderr, "bench_macs: engine: %s\n", err.message);
    ims_engine_destroy(engine);
    return -1;
  }
  if (team) ims__engine_lend_team(engine, helpers);
  size_t in_bytes = (size_t)batch * info.input_height * info.input_width *
                    info.input_channels;
  uint8_t *images = malloc(in_bytes);
  float *scores = malloc((size_t)batch * info.output_count * sizeof *scores);
  double rate = -1;
  if (images != NULL && scores != NULL) {
    memset(images, 128, in_bytes);
    size_t done = 0;
    double t0, t = 0, c0;
    int ok = ims_engine_run(engine, images, batch, scores, &err) == IMS_OK;
    t0 = now_s();
    c0 = cpu_s();
    while (ok && t < secs) {
      ok = ims_engine_run(engine, images, batch, scores, &err) == IMS_OK;
      done += batch;
      t = now_s() - t0;
    }
    if (!ok)
      fprintf(stderr, "bench_macs: run: %s\n", err.message);
    else
      rate = (double)done / t;
    if (ok) *per_cpu_s = (double)done / (cpu_s() - c0);
  }
  free(images);
  free(scores);
  ims_engine_destroy(engine);
  ims__team_destroy(helpers);
  return rate;
}

/* --layers: which part of the summary node n belongs to. */
enum { PART_1X1, PART_CONV, PART_DW, PART_ADD, PART_REST, PART_COUNT };
static const char *const part_names[PART_COUNT] = {
    "1x1 convolutions", "other convolutions", "depthwise", "adds", "rest"};

static int part_of(const ims_model *m, const ims__node *n) {
  if (n->op == IMS__OP_DEPTHWISE_CONV_2D) return PART_DW;
  if (n->op == IMS__OP_ADD) return PART_ADD;
  if (n->op != IMS__OP_CONV_2D) return PART_REST;
  const ims__tensor *w = &m->tensors[n->inputs[1]];
  return w->rank == 4 && w->shape[1] == 1 && w->shape[2] == 1 ? PART_1X1
                                                              : PART_CONV;
}

/* --layers: per-step profile of one image on one thread for `secs`. */
static int profile_layers(const ims_model *m, double secs, uint32_t flags) {
  ims_error err = {0};
  ims_model_info info;
  ims_model_get_info(m, &info);
  ims_engine_options opt = {.threads = 1, .max_batch = 1, .flags = flags};
  ims_engine *e = NULL;
  if (ims_engine_create(m, &opt, &e, &err) != IMS_OK) {
    fprintf(stderr, "bench_macs: engine: %s\n", err.message);
    return 1;
  }
  size_t px = (size_t)info.input_height * info.input_width *
              info.input_channels;
  uint8_t *image = malloc(px);
  double *ns = calloc(m->node_count, sizeof *ns);
  double *one = calloc(m->node_count, sizeof *one);
  int rc = image == NULL || ns == NULL || one == NULL;
  if (!rc) memset(image, 128, px);
  size_t runs = 0;
  double t0 = now_s();
  /* Each step's fastest run: other load on the machine only adds. */
  for (int warm = 1; !rc && (warm || now_s() - t0 < secs); warm = 0) {
    memset(one, 0, m->node_count * sizeof *one);
    rc = ims__engine_time_steps(e, image, one, &err) != IMS_OK;
    for (uint32_t i = 0; !rc && !warm && i < m->node_count; i++)
      ns[i] = runs == 0 || one[i] < ns[i] ? one[i] : ns[i];
    if (warm) t0 = now_s();
    else runs++;
  }
  free(one);
  if (rc) fprintf(stderr, "bench_macs: run: %s\n", err.message);
  double part_us[PART_COUNT] = {0}, part_macs[PART_COUNT] = {0}, all = 0;
  if (!rc) {
    printf("| # | op | kind | output | MACs | us | GMAC/s |\n"
           "| ---: | --- | --- | --- | ---: | ---: | ---: |\n");
    for (uint32_t i = 0; i < m->node_count; i++) {
      const ims__node *n = &m->nodes[i];
      const ims__tensor *o = &m->tensors[n->output];
      mac_count c = {0};
      count_node(m, n, &c);
      double macs = c.conv + c.depthwise + c.fc, us = ns[i] / 1e3;
      int p = part_of(m, n);
      part_us[p] += us, part_macs[p] += macs, all += us;
      printf("| %u | %s | %s | %ux%ux%u | %.0f | %.1f | %.1f |\n", i,
             ims__op_name(n->op), ims__engine_step_kind(e, i),
             o->rank == 4 ? o->shape[1] : 1, o->rank == 4 ? o->shape[2] : 1,
             o->shape[o->rank - 1], macs, us,
             us > 0 ? macs / us / 1e3 : 0);
    }
    printf("\n| part | us per image | share | GMAC/s |\n"
           "| --- | ---: | ---: | ---: |\n");
    for (int p = 0; p < PART_COUNT; p++)
      printf("| %s | %.0f | %.1f%% | %.1f |\n", part_names[p], part_us[p],
             100 * part_us[p] / all,
             part_us[p] > 0 ? part_macs[p] / part_us[p] / 1e3 : 0);
    printf("| all (fastest of %zu runs, step by step) | %.0f | 100%% | |\n",
           runs, all);
  }
  free(image);
  free(ns);
  ims_engine_destroy(e);
  return rc;
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
  double secs = 0, layers = 0;
  uint32_t flags = 0;
  uint32_t threads = 1, batch = 1;
  bool team = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) json = 1;
    else if (strcmp(argv[i], "--team") == 0) team = true;
    else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc)
      secs = atof(argv[++i]);
    else if (strcmp(argv[i], "--flags") == 0 && i + 1 < argc)
      flags = (uint32_t)strtoul(argv[++i], NULL, 0);
    else if (strcmp(argv[i], "--layers") == 0 && i + 1 < argc)
      layers = atof(argv[++i]);
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      threads = (uint32_t)atoi(argv[++i]);
    else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
      batch = (uint32_t)atoi(argv[++i]);
    else if (argv[i][0] == '-' || path != NULL) bad = 1;
    else path = argv[i];
  }
  if (path == NULL || bad || secs < 0 || threads < 1 || batch < 1 ||
      (team && (threads < 2 || batch != 1))) {
    fprintf(stderr, "usage: bench_macs [--json] [--time S [--threads N] "
                    "[--batch B | --team]] [--layers S] [--flags F] "
                    "MODEL\n");
    return 2;
  }
  ims_error err = {0};
  ims_model *model = NULL;
  if (ims_model_load_file(path, &model, &err) != IMS_OK) {
    fprintf(stderr, "bench_macs: %s: %s\n", path, err.message);
    return 1;
  }
  if (layers > 0) {
    int rc = profile_layers(model, layers, flags);
    ims_model_destroy(model);
    return rc;
  }
  mac_count c = {0};
  for (uint32_t i = 0; i < model->node_count; i++)
    count_node(model, &model->nodes[i], &c);
  const ims__tensor *in = &model->tensors[model->input];
  double graph_n = in->rank > 0 && in->shape[0] > 0 ? in->shape[0] : 1;
  c.conv /= graph_n;
  c.conv_1x1 /= graph_n;
  c.depthwise /= graph_n;
  c.fc /= graph_n;
  double total = c.conv + c.depthwise + c.fc;
  double per_cpu = 0;
  double rate = secs > 0 ? time_engine(model, threads, batch, secs, flags, team,
                                        &per_cpu) : 0;
  if (rate < 0) {
    ims_model_destroy(model);
    return 1;
  }
  if (json) {
    printf("{\"model\":\"%s\",\"format\":\"%s\",\"element\":\"%s\","
           "\"nodes\":%u,\"macs\":%.0f,\"conv\":%.0f,\"conv_1x1\":%.0f,"
           "\"depthwise\":%.0f,\"fc\":%.0f",
           path, model->format, type_name(c.element), model->node_count,
           total, c.conv, c.conv_1x1, c.depthwise, c.fc);
    if (secs > 0)
      printf(",\"threads\":%u,\"batch\":%u,\"images_per_s\":%.2f,"
             "\"gmacs\":%.2f,\"images_per_cpu_s\":%.2f", threads, batch, rate,
             rate * total / 1e9, per_cpu);
    printf("}\n");
  } else {
    printf("model: %s (%s, %u nodes, %s weights)\n", path, model->format,
           model->node_count, type_name(c.element));
    printf("convolution       %12.0f MACs (1x1: %.0f)\n", c.conv,
           c.conv_1x1);
    printf("depthwise         %12.0f MACs\n", c.depthwise);
    printf("fully connected   %12.0f MACs\n", c.fc);
    printf("total per image   %12.0f MACs (%.1f M)\n", total, total / 1e6);
    if (secs > 0)
      printf("inference         %u thread(s)%s, batch %u: %.1f images/s, "
             "%.1f GMAC/s (%.1f images per CPU-second)\n", threads,
             team ? " (team)" : "", batch, rate, rate * total / 1e9,
             per_cpu);
  }
  ims_model_destroy(model);
  return 0;
}
