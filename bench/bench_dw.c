/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_dw.c - time of every 3x3 depthwise layer of a model on XNNPACK
 * and on each path of src/infer/dw_ops.c (private header), one thread.
 *
 *   bench_dw [--model FILE] [--batch N] [--reps R]
 *
 * Prints a Markdown table: per layer (shape, stride) microseconds per
 * image for XNNPACK, C, AVX2 and AVX-512, and the totals. Inputs are
 * random bytes; the arithmetic does not depend on them.
 *
 * Threading: one thread (no pool), to compare kernels, not scaling.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imgstream/imgstream.h"
#include "infer/infer_int.h"

#define PATHS 3

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Microseconds per image of step s (already created) at `batch`. */
static double time_xnn(const ims_model *m, ims__step *s, size_t batch,
                       int reps) {
  ims_error err = {0};
  if (ims__step_setup(m, s, batch, NULL, &err) != IMS_OK) return -1;
  ims__step_run(s, batch, NULL, NULL, &err);
  double t0 = now_s();
  for (int r = 0; r < reps; r++) ims__step_run(s, batch, NULL, NULL, &err);
  return (now_s() - t0) * 1e6 / reps / (double)batch;
}

static double time_dw(const ims_model *m, ims__step *proto, ims__dw_path p,
                      size_t batch, int reps) {
  ims_error err = {0};
  ims__step s = *proto;
  if (!ims__dw_path_supported(p) ||
      ims__dw_step_create(m, &s, p, &err) != IMS_OK)
    return -1;
  ims__dw_layer_run(s.dw, s.in, s.out, batch, NULL);
  double t0 = now_s();
  for (int r = 0; r < reps; r++)
    ims__dw_layer_run(s.dw, s.in, s.out, batch, NULL);
  double us = (now_s() - t0) * 1e6 / reps / (double)batch;
  ims__dw_layer_destroy(s.dw);
  return us;
}

int main(int argc, char **argv) {
  const char *path = "../shared/models/mobilenet_v2_1.0_224_quant.tflite";
  size_t batch = 1;
  int reps = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--model") == 0) path = argv[i + 1];
    else if (strcmp(argv[i], "--batch") == 0) batch = (size_t)atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
  }
  ims_error err = {0};
  ims_model *m = NULL;
  if (batch < 1 || ims_model_load_file(path, &m, &err) != IMS_OK ||
      xnn_initialize(NULL) != xnn_status_success) {
    fprintf(stderr, "bench_dw: cannot load %s: %s\n", path, err.message);
    return 1;
  }
  printf("model: %s, batch %zu, 1 thread, us per image\n\n", path, batch);
  printf("| layer | XNNPACK | C | AVX2 | AVX-512 |\n| --- | ---: | ---: | "
         "---: | ---: |\n");
  double total[PATHS + 1] = {0};
  static const ims__dw_path paths[PATHS] = {
      IMS__DW_PATH_C, IMS__DW_PATH_AVX2, IMS__DW_PATH_AVX512};
  for (uint32_t i = 0; i < m->node_count; i++) {
    const ims__node *n = &m->nodes[i];
    if (!ims__dw_eligible(m, n)) continue;
    const ims__tensor *in = &m->tensors[n->inputs[0]];
    const ims__tensor *o = &m->tensors[n->output];
    size_t ib = ims__bytes_per_image(in) * batch + XNN_EXTRA_BYTES;
    size_t ob = ims__bytes_per_image(o) * batch;
    ims__step s = {.node = n, .in = calloc(1, ib), .out = calloc(1, ob)};
    s.in_per_image = ims__bytes_per_image(in);
    s.out_per_image = ims__bytes_per_image(o);
    double t[PATHS + 1];
    ims__step x = s;
    t[0] = ims__step_create(m, &x, &err) == IMS_OK
               ? time_xnn(m, &x, batch, reps) : -1;
    if (x.op != NULL) xnn_delete_operator(x.op);
    for (int k = 0; k < PATHS; k++)
      t[k + 1] = time_dw(m, &s, paths[k], batch, reps);
    printf("| %ux%ux%u /%u |", in->shape[1], in->shape[2], in->shape[3],
           n->stride_h);
    for (int k = 0; k <= PATHS; k++) {
      printf(" %.1f |", t[k]);
      total[k] += t[k];
    }
    printf("\n");
    free(s.in);
    free(s.out);
  }
  printf("| total |");
  for (int k = 0; k <= PATHS; k++) printf(" %.0f |", total[k]);
  printf("\n");
  xnn_deinitialize();
  ims_model_destroy(m);
  return 0;
}
