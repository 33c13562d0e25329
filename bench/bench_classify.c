/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_classify.c - throughput of the classification path on this machine:
 * decode+preprocess, inference alone (batch 1 and 16), and end to end, each
 * with 1 and 2 threads, plus peak RSS. Prints a Markdown table (what
 * docs/BENCHMARKS.md holds) to stdout.
 *
 *   bench_classify [--model FILE] [--labels FILE] [--data DIR]
 *                  [--seconds S] [--batch N]
 *       [--backend auto|xnnpack|onednn|nodw|nopw|fuse] [--threads 1|2]
 *                  [--features]
 *
 * Images are read into memory first, so the figures measure the CPU work,
 * not the disk. Each measurement repeats over the data until at least
 * --seconds have passed (default 3) and reports images per second.
 *
 * End to end with T threads: ims_classifier_run_memory on batches of
 * --batch images - the pipeline `imgstream classify` and `imgstream
 * stream` run (with T >= 2 it splits each batch by image over T lanes).
 *
 * --backend picks the engine's IMS_ENGINE_FLAG_FORCE_* flag (auto: none,
 * oneDNN per layer where it has VNNI kernels; nodw: auto but depthwise
 * layers on XNNPACK instead of src/infer/dw_ops.c; nopw: 8-bit 1x1
 * layers on XNNPACK instead of src/infer/pw_ops.c; fuse: auto plus
 * expansions fused with their depthwise layers, src/infer/fuse_ops.c), for before/after
 * figures. --features makes the inference rows ask for the penultimate
 * features too (IMS_ENGINE_FLAG_FEATURES, ims_engine_run_features), to
 * measure what they cost; the other rows do not use them.
 *
 * Threading: the main thread plus short-lived decode workers.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "imgstream/imgstream.h"

#define MAX_FILES 4096
#define CROP 224
#define IMG_BYTES (CROP * CROP * 3)

typedef struct blob {
  unsigned char *data; /* owned file bytes */
  size_t size;         /* bytes */
} blob;

typedef struct dataset {
  blob files[MAX_FILES]; /* the encoded images */
  size_t count;          /* used entries */
} dataset;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, const ims_error *err) {
  fprintf(stderr, "bench_classify: %s: %s\n", what, err->message);
  exit(1);
}

static int read_blob(const char *path, blob *b) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  b->data = malloc(n > 0 ? (size_t)n : 1);
  b->size = (size_t)n;
  int ok = b->data != NULL && fread(b->data, 1, b->size, f) == b->size;
  fclose(f);
  return ok ? 0 : -1;
}

/* Every regular file one level below `dir` (the class folders). */
static void load_dataset(const char *dir, dataset *ds) {
  DIR *top = opendir(dir);
  struct dirent *c;
  if (top == NULL) {
    fprintf(stderr, "bench_classify: cannot open %s\n", dir);
    exit(1);
  }
  while ((c = readdir(top)) != NULL && ds->count < MAX_FILES) {
    if (c->d_name[0] == '.') continue;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", dir, c->d_name);
    DIR *d = opendir(sub);
    struct dirent *f;
    while (d != NULL && (f = readdir(d)) != NULL && ds->count < MAX_FILES) {
      char path[8192];
      if (f->d_name[0] == '.') continue;
      snprintf(path, sizeof path, "%s/%s", sub, f->d_name);
      if (read_blob(path, &ds->files[ds->count]) == 0) ds->count++;
    }
    if (d != NULL) closedir(d);
  }
  closedir(top);
}

typedef struct bench_config {
  const char *model_path; /* --model */
  const char *labels_path; /* --labels */
  const char *data_dir;   /* --data */
  double seconds;         /* --seconds: minimum time per measurement */
  uint32_t batch;         /* --batch: end-to-end and large-batch size */
  uint32_t flags;         /* --backend: IMS_ENGINE_FLAG_FORCE_* or 0 */
  uint32_t threads;       /* --threads: only this column; 0 = both */
  bool features;          /* --features: inference rows keep features */
} bench_config;

static uint32_t engine_flags; /* --backend, for every engine made here */
static bool with_features;    /* --features, for the inference rows */

/* Decode + preprocess only: images/s with `threads` workers. */
static double bench_prep(const dataset *ds, uint32_t threads, double secs,
                         uint32_t batch) {
  ims_error err = {0};
  ims_batch_prep *prep = NULL;
  if (ims_batch_prep_create(NULL, NULL, threads, &prep, &err) != IMS_OK)
    die("batch prep", &err);
  uint8_t *dst = malloc((size_t)batch * IMG_BYTES);
  ims_error *errs = calloc(batch, sizeof *errs);
  const void *data[256];
  size_t sizes[256], done = 0, at = 0;
  double t0 = now_s(), t;
  do {
    for (uint32_t i = 0; i < batch; i++, at = (at + 1) % ds->count) {
      data[i] = ds->files[at].data;
      sizes[i] = ds->files[at].size;
    }
    if (ims_batch_prep_memory(prep, batch, data, sizes, dst, errs) != 0)
      die("decode", &errs[0]);
    done += batch;
    t = now_s() - t0;
  } while (t < secs);
  free(dst);
  free(errs);
  ims_batch_prep_destroy(prep);
  return (double)done / t;
}

/* Inference alone on preprocessed tensors. */
static double bench_infer(const ims_model *model, const uint8_t *tensors,
                          uint32_t batch, uint32_t threads, double secs) {
  ims_error err = {0};
  ims_engine *engine = NULL;
  ims_engine_options opt = {.threads = threads, .max_batch = batch,
                            .flags = engine_flags};
  if (with_features) opt.flags |= IMS_ENGINE_FLAG_FEATURES;
  ims_model_info info;
  ims_model_get_info(model, &info);
  if (ims_engine_create(model, &opt, &engine, &err) != IMS_OK)
    die("engine", &err);
  float *scores = malloc((size_t)batch * info.output_count * sizeof *scores);
  float *feats =
      malloc((size_t)batch * (ims_engine_feature_count(engine) + 1) *
             sizeof *feats);
  size_t done = 0;
  ims_engine_run(engine, tensors, batch, scores, &err); /* warm-up */
  double t0 = now_s(), t;
  do {
    ims_status st =
        with_features
            ? ims_engine_run_features(engine, tensors, batch, scores, feats,
                                      &err)
            : ims_engine_run(engine, tensors, batch, scores, &err);
    if (st != IMS_OK) die("run", &err);
    done += batch;
    t = now_s() - t0;
  } while (t < secs);
  free(scores);
  free(feats);
  ims_engine_destroy(engine);
  return (double)done / t;
}

/* Read + decode + preprocess + infer, batch by batch. */
/* Decode + preprocess + infer + top-K through ims_classifier, the
 * pipeline `imgstream classify` and `imgstream stream` run. */
static double bench_e2e(const dataset *ds, const bench_config *cfg,
                        uint32_t threads) {
  ims_error err = {0};
  ims_classifier *c = NULL;
  ims_classifier_options o = {0};
  o.model_path = cfg->model_path;
  o.labels_path = cfg->labels_path;
  o.threads = threads;
  o.max_batch = cfg->batch;
  o.engine_flags = engine_flags;
  if (ims_classifier_create(&o, &c, &err) != IMS_OK) die("classifier", &err);
  const ims_class_result *res = NULL;
  const void *data[256];
  size_t sizes[256], done = 0, at = 0;
  double t0 = now_s(), t;
  do {
    for (uint32_t i = 0; i < cfg->batch; i++, at = (at + 1) % ds->count) {
      data[i] = ds->files[at].data;
      sizes[i] = ds->files[at].size;
    }
    if (ims_classifier_run_memory(c, cfg->batch, data, sizes, &res, &err) !=
            IMS_OK || res[0].error.status != IMS_OK)
      die("run", res ? &res[0].error : &err);
    done += cfg->batch;
    t = now_s() - t0;
  } while (t < cfg->seconds);
  ims_classifier_destroy(c);
  return (double)done / t;
}

/* A table cell: images/s, or "-" for a column --threads skipped. */
static const char *cell(char *buf, double v) {
  if (v < 0) return "-";
  snprintf(buf, 16, "%.0f", v);
  return buf;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: bench_classify [--model FILE] [--data DIR] [--seconds S]"
          " [--batch N]\n"
          "  --model FILE   model (default ../shared/models/"
          "mobilenet_v2_1.0_224_quant.tflite)\n"
          "  --labels FILE  labels for the end-to-end rows (default "
          "../shared/models/imagenet_class_index.json)\n"
          "  --data DIR     folder of class folders of images (default "
          "../shared/data/flowers)\n"
          "  --seconds S    minimum seconds per measurement (default 3)\n"
          "  --batch N      large batch size (default 16, max 256)\n"
          "  --backend B    auto (default), xnnpack, onednn, nodw, nopw or\n"
          "                 fuse\n"
          "  --threads T    measure only the T-thread column (1 or 2)\n"
          "  --features     inference rows also give the features\n");
}

static int parse_args(int argc, char **argv, bench_config *cfg) {
  static const struct option opts[] = {
      {"backend", required_argument, NULL, 'B'},
      {"batch", required_argument, NULL, 'b'},
      {"data", required_argument, NULL, 'd'},
      {"features", no_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},
      {"labels", required_argument, NULL, 'l'},
      {"model", required_argument, NULL, 'm'},
      {"seconds", required_argument, NULL, 's'},
      {"threads", required_argument, NULL, 't'},
      {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "B:b:d:fhl:m:s:t:", opts, NULL)) != -1) {
    switch (c) {
      case 'B':
        if (strcmp(optarg, "auto") == 0) cfg->flags = 0;
        else if (strcmp(optarg, "xnnpack") == 0)
          cfg->flags = IMS_ENGINE_FLAG_FORCE_XNNPACK;
        else if (strcmp(optarg, "onednn") == 0)
          cfg->flags = IMS_ENGINE_FLAG_FORCE_ONEDNN;
        else if (strcmp(optarg, "nodw") == 0)
          cfg->flags = IMS_ENGINE_FLAG_NO_DW_KERNEL;
        else if (strcmp(optarg, "nopw") == 0)
          cfg->flags = IMS_ENGINE_FLAG_NO_PW_KERNEL;
        else if (strcmp(optarg, "fuse") == 0)
          cfg->flags = IMS_ENGINE_FLAG_FUSE;
        else cfg->flags = UINT32_MAX;
        break;
      case 'b': cfg->batch = (uint32_t)atoi(optarg); break;
      case 'd': cfg->data_dir = optarg; break;
      case 'f': cfg->features = true; break;
      case 'l': cfg->labels_path = optarg; break;
      case 'm': cfg->model_path = optarg; break;
      case 's': cfg->seconds = atof(optarg); break;
      case 't': cfg->threads = (uint32_t)atoi(optarg); break;
      case 'h': usage(stdout); exit(0);
      default: usage(stderr); return -1;
    }
  }
  if (cfg->batch < 1 || cfg->batch > 256 || cfg->seconds <= 0 ||
      cfg->flags == UINT32_MAX || cfg->threads > 2) {
    usage(stderr);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  bench_config cfg = {
      "../shared/models/mobilenet_v2_1.0_224_quant.tflite",
      "../shared/models/imagenet_class_index.json", "../shared/data/flowers",
      3.0, 16, 0, 0, false};
  if (parse_args(argc, argv, &cfg) != 0) return 2;
  engine_flags = cfg.flags;
  with_features = cfg.features;
  static dataset ds;
  load_dataset(cfg.data_dir, &ds);
  if (ds.count == 0) {
    fprintf(stderr, "bench_classify: no images under %s\n", cfg.data_dir);
    return 1;
  }
  ims_error err = {0};
  ims_model *model = NULL;
  if (ims_model_load_file(cfg.model_path, &model, &err) != IMS_OK)
    die(cfg.model_path, &err);
  /* Inference input: the first `batch` flowers, preprocessed. */
  uint8_t *tensors = malloc((size_t)cfg.batch * IMG_BYTES);
  ims_batch_prep *prep = NULL;
  ims_error *errs = calloc(cfg.batch, sizeof *errs);
  const void *data[256];
  size_t sizes[256];
  for (uint32_t i = 0; i < cfg.batch; i++) {
    data[i] = ds.files[i % ds.count].data;
    sizes[i] = ds.files[i % ds.count].size;
  }
  if (ims_batch_prep_create(NULL, NULL, 1, &prep, &err) != IMS_OK ||
      ims_batch_prep_memory(prep, cfg.batch, data, sizes, tensors, errs))
    die("preparing tensors", &errs[0]);
  ims_batch_prep_destroy(prep);
  free(errs);

  printf("model: %s\ndata: %s (%zu images)\nbatch: %u, %.1f s per "
         "measurement, backend: %s%s\n\n", cfg.model_path, cfg.data_dir,
         ds.count, cfg.batch, cfg.seconds,
         cfg.flags == IMS_ENGINE_FLAG_FORCE_XNNPACK  ? "xnnpack"
         : cfg.flags == IMS_ENGINE_FLAG_FORCE_ONEDNN ? "onednn"
         : cfg.flags == IMS_ENGINE_FLAG_NO_DW_KERNEL ? "nodw"
         : cfg.flags == IMS_ENGINE_FLAG_NO_PW_KERNEL ? "nopw"
         : cfg.flags == IMS_ENGINE_FLAG_FUSE         ? "fuse"
                                                     : "auto",
         cfg.features ? ", inference with features" : "");
  printf("| stage | 1 thread (images/s) | 2 threads (images/s) |\n");
  printf("| --- | ---: | ---: |\n");
  double r[4][2];
  for (uint32_t t = 1; t <= 2; t++) {
    bool on = cfg.threads == 0 || cfg.threads == t;
    r[0][t - 1] = on ? bench_prep(&ds, t, cfg.seconds, cfg.batch) : -1;
    r[1][t - 1] = on ? bench_infer(model, tensors, 1, t, cfg.seconds) : -1;
    r[2][t - 1] =
        on ? bench_infer(model, tensors, cfg.batch, t, cfg.seconds) : -1;
    r[3][t - 1] = on ? bench_e2e(&ds, &cfg, t) : -1;
  }
  char a[16], b[16];
  printf("| decode + preprocess | %s | %s |\n", cell(a, r[0][0]),
         cell(b, r[0][1]));
  printf("| inference, batch 1 | %s | %s |\n", cell(a, r[1][0]),
         cell(b, r[1][1]));
  printf("| inference, batch %u | %s | %s |\n", cfg.batch, cell(a, r[2][0]),
         cell(b, r[2][1]));
  printf("| end to end, batch %u | %s | %s |\n", cfg.batch,
         cell(a, r[3][0]), cell(b, r[3][1]));
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("\npeak RSS: %.1f MiB (includes the %zu images held in memory)\n",
         (double)ru.ru_maxrss / 1024.0, ds.count);
  free(tensors);
  ims_model_destroy(model);
  for (size_t i = 0; i < ds.count; i++) free(ds.files[i].data);
  return 0;
}
