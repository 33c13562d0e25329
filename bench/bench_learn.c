/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_learn.c - how well, and at what cost, the learned head
 * (include/imgstream/head.h) learns the 430 shared flowers: the figures
 * of docs/LEARNING.md.
 *
 *   bench_learn [--shared DIR] [--json] [--png FILE] [--no-mirror]
 *               [--no-heldout]
 *
 * 1. Features, once: every flower through ims_classifier (the uint8
 *    MobileNetV2, 2 threads, batches of 16, IMS_ENGINE_FLAG_FEATURES: what
 *    `imgstream stream` runs), then through ims_batch_prep + ims_engine
 *    by hand, to get the features of the horizontally mirrored image
 *    (each row of the 224x224 crop reversed before the engine runs) and
 *    to check that the hand-made path gives the classifier's bits.
 * 2. Prequential accuracy in `imgstream produce --seed 1` order (test,
 *    then train, one image at a time): nearest class mean, LDA at refit
 *    growths 10/25/50/100%, LDA without the signed square root, and LDA
 *    with mirror features (image and mirror learned as two samples,
 *    predicted from the mean of their probabilities or of their
 *    features; or their mean learned as one sample). Accuracy over the
 *    last 100, a confusion matrix, and a learning curve (window of 50;
 *    --png draws it with gnuplot).
 * 3. Held out: for seeds 1..5, shuffle as `produce --seed S` does, learn
 *    the first 330 images, test the other 100 with ims_head_predict:
 *    nearest class mean, streaming LDA as it stands, LDA after
 *    ims_head_fit (the offline LDA), and an offline softmax regression
 *    written here (the anchor; below), each with and without mirror
 *    features.
 * 4. Cost: the classifier's time per image against the head's
 *    (ims_head_step per batch, as a stream calls it): each batch is
 *    classified, then classified again and stepped, back to back, over 3
 *    passes, averaged; the head alone on features in memory (steps of
 *    one sample, refits apart, with OpenBLAS on its default threads and
 *    on 1; one ims_head_fit at N = 430); the mirror option's extra
 *    inference. And determinism: the head's file bytes after the same
 *    samples in the same order must not depend on how the samples were
 *    split into calls, nor on OpenBLAS's threads.
 *
 * The softmax anchor: multinomial logistic regression on the head's own
 * transform of the features (signed square root, unit length) plus a
 * constant 1, with an L2 penalty lambda/2 |W|^2 on every weight.
 * Full-batch gradient descent with Nesterov momentum, run in the dual
 * form W = X^T A (the gradient of an L2-penalised loss lies in the span
 * of the samples, and with 330-660 samples of 1281 values the n x n
 * Gram matrix is the smaller problem): each step is one n x n by n x C
 * product. lambda comes from {1e-2, 1e-3, 1e-4, 1e-5} by 3-fold
 * cross-validation on the training part only (folds by image, so an
 * image and its mirror never sit on both sides); the test 100 are never
 * looked at until the final fit.
 *
 * Output: Markdown tables on stdout, or one JSON object with --json
 * (progress goes to stderr either way).
 *
 * Threading: the main thread; the classifier, engine and OpenBLAS run
 * their own workers.
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imgstream/imgstream.h"

#define BATCH 16       /* images per classifier run and head step */
#define THREADS 2      /* classifier and engine threads */
#define MAX_CLASSES 16 /* categories this bench takes */
#define TEST 100       /* held-out images per seed */
#define SEEDS 5        /* held-out seeds 1..SEEDS */
#define WINDOW 50      /* learning-curve window */
#define REPEATS 3      /* cost passes, averaged */
#define FOLDS 3        /* anchor's cross-validation folds */
#define LAMBDAS 4      /* anchor's penalty grid */

static const double lambda_grid[LAMBDAS] = {1e-2, 1e-3, 1e-4, 1e-5};

typedef struct flowers {
  size_t n;                      /* images */
  size_t d;                      /* features per image */
  size_t classes;                /* category folders */
  const char *names[MAX_CLASSES]; /* category names; BORROWED from ds */
  ims_dataset *ds;               /* owned: the scan, reshuffled per seed */
  char **paths;                  /* owned: n paths, sorted order */
  int *cls;                      /* owned: n category indexes */
  void **data;                   /* owned: n encoded images */
  size_t *size;                  /* owned: their sizes */
  float *feat;                   /* owned: n x d features */
  bool with_mirror;              /* mirrored features wanted */
  float *mirror;                 /* owned: n x d, mirrored; NULL if off */
  char model_id[IMS_MODEL_FINGERPRINT_SIZE]; /* the head's model_id */
  char *layer;                   /* owned: the feature layer's name */
} flowers;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The first three fields of /proc/loadavg ("?" if unreadable): the
 * figures mean little on a machine that other work keeps busy. */
static void load_average(char *buf, size_t cap) {
  FILE *f = fopen("/proc/loadavg", "r");
  double a, b, c;
  if (f != NULL && fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
    snprintf(buf, cap, "%.2f %.2f %.2f", a, b, c);
  else
    snprintf(buf, cap, "?");
  if (f != NULL) fclose(f);
}

static void die(const char *what, const char *msg);

/* The offline refit; the bench cannot go on without it. */
static void fit(ims_head *h) {
  ims_error err = {0};
  if (ims_head_fit(h, &err) != IMS_OK) die("ims_head_fit", err.message);
}

static void die(const char *what, const char *msg) {
  fprintf(stderr, "bench_learn: %s: %s\n", what, msg);
  exit(1);
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (p == NULL) die("calloc", "out of memory");
  return p;
}

/* ---- 1. data and features ---- */

/* Scan the flowers, read every file, note each image's category. */
static void load_flowers(const char *root, flowers *fl) {
  ims_error err = {0};
  if (ims_dataset_scan(root, &fl->ds, &err) != IMS_OK)
    die(root, err.message);
  fl->n = ims_dataset_count(fl->ds);
  fl->classes = ims_dataset_category_count(fl->ds);
  if (fl->n < TEST + 10 || fl->classes < 2 || fl->classes > MAX_CLASSES)
    die(root, "need 2..16 category folders and more than 110 images");
  for (size_t k = 0; k < fl->classes; k++) {
    size_t count;
    if (ims_dataset_category(fl->ds, k, &fl->names[k], &count, &err))
      die(root, err.message);
  }
  fl->paths = xcalloc(fl->n, sizeof *fl->paths);
  fl->cls = xcalloc(fl->n, sizeof *fl->cls);
  fl->data = xcalloc(fl->n, sizeof *fl->data);
  fl->size = xcalloc(fl->n, sizeof *fl->size);
  for (size_t i = 0; i < fl->n; i++) {
    const ims_dataset_item *it = ims_dataset_get(fl->ds, i);
    fl->paths[i] = strdup(it->path);
    for (size_t k = 0; k < fl->classes; k++)
      if (strcmp(it->category, fl->names[k]) == 0) fl->cls[i] = (int)k;
    if (ims_dataset_read(fl->ds, i, &fl->data[i], &fl->size[i], &err))
      die(it->path, err.message);
  }
}

/* order[i] = the sorted index of image i of `produce --seed seed`. */
static void seed_order(flowers *fl, uint64_t seed, size_t *order) {
  ims_dataset_shuffle(fl->ds, seed);
  for (size_t i = 0; i < fl->n; i++) {
    const char *p = ims_dataset_get(fl->ds, i)->path;
    for (size_t j = 0; j < fl->n; j++)
      if (strcmp(fl->paths[j], p) == 0) order[i] = j;
  }
}

static ims_classifier *make_classifier(const char *shared) {
  char model[4096], labels[4096];
  snprintf(model, sizeof model,
           "%s/models/mobilenet_v2_1.0_224_quant.tflite", shared);
  snprintf(labels, sizeof labels, "%s/models/imagenet_labels.txt", shared);
  ims_classifier_options o = {0};
  o.model_path = model;
  o.labels_path = labels;
  o.threads = THREADS;
  o.max_batch = BATCH;
  o.engine_flags = IMS_ENGINE_FLAG_FEATURES;
  ims_classifier *c = NULL;
  ims_error err = {0};
  if (ims_classifier_create(&o, &c, &err) != IMS_OK)
    die("classifier", err.message);
  return c;
}

static ims_head *new_head(const flowers *fl, uint32_t flags,
                          uint32_t growth) {
  ims_head_options o = {0};
  o.model_id = fl->model_id;
  o.feature_layer = fl->layer;
  o.feature_count = (uint32_t)fl->d;
  o.flags = flags;
  o.refit_growth_pct = growth;
  ims_head *h = NULL;
  ims_error err = {0};
  if (ims_head_create(&o, &h, &err) != IMS_OK) die("head", err.message);
  return h;
}

/* Classify images order[at..at+m) as one batch, as a stream does; their
 * features and labels into fv and lv (features BORROWED from the
 * classifier until its next run); keep: also copy the features into
 * fl->feat. */
static void classify_batch(flowers *fl, ims_classifier *c,
                           const size_t *order, size_t at, size_t m,
                           bool keep, const float **fv, const char **lv) {
  const void *data[BATCH];
  size_t sizes[BATCH];
  ims_error err = {0};
  for (size_t i = 0; i < m; i++) {
    data[i] = fl->data[order[at + i]];
    sizes[i] = fl->size[order[at + i]];
  }
  const ims_class_result *res = NULL;
  if (ims_classifier_run_memory(c, m, data, sizes, &res, &err) != IMS_OK)
    die("classify", err.message);
  for (size_t i = 0; i < m; i++) {
    if (res[i].error.status != IMS_OK || res[i].feature_count != fl->d)
      die(fl->paths[order[at + i]], "no features");
    fv[i] = res[i].features;
    lv[i] = fl->names[fl->cls[order[at + i]]];
    if (keep)
      memcpy(&fl->feat[order[at + i] * fl->d], fv[i],
             fl->d * sizeof *fl->feat);
  }
}

static size_t batch_at(const flowers *fl, size_t at) {
  return fl->n - at < BATCH ? fl->n - at : BATCH;
}

/* Reverse each row of each 224x224x3 crop: the mirror image. */
static void flip_rows(uint8_t *px, size_t images, size_t w, size_t h) {
  for (size_t r = 0; r < images * h; r++) {
    uint8_t *row = px + r * w * 3;
    for (size_t x = 0; x < w / 2; x++) {
      uint8_t *a = row + x * 3, *b = row + (w - 1 - x) * 3;
      for (int k = 0; k < 3; k++) {
        uint8_t t = a[k];
        a[k] = b[k];
        b[k] = t;
      }
    }
  }
}

/* The mirror features, by hand: preprocess (the classifier's settings:
 * shorter side 256, center crop 224), run the engine on the crop as it
 * is (its features must be the classifier's bits: *mismatch counts the
 * images that are not), flip, run again. Returns the seconds of the
 * mirrored runs alone: what the option adds per image. */
static double mirror_pass(flowers *fl, const ims_model *model,
                          size_t *mismatch) {
  ims_error err = {0}, errs[BATCH];
  ims_model_info info;
  ims_model_get_info(model, &info);
  ims_batch_prep *prep = NULL;
  if (ims_batch_prep_create(NULL, NULL, THREADS, &prep, &err) != IMS_OK)
    die("batch prep", err.message);
  ims_engine_options eo = {.threads = THREADS, .max_batch = BATCH,
                           .flags = IMS_ENGINE_FLAG_FEATURES};
  ims_engine *e = NULL;
  if (ims_engine_create(model, &eo, &e, &err) != IMS_OK)
    die("engine", err.message);
  size_t bytes = ims_batch_prep_image_bytes(prep), d = fl->d;
  uint8_t *px = xcalloc(BATCH, bytes);
  float *scores = xcalloc((size_t)BATCH * info.output_count, sizeof *scores);
  float *feats = xcalloc((size_t)BATCH * d, sizeof *feats);
  double t = 0;
  *mismatch = 0;
  for (size_t at = 0; at < fl->n; at += BATCH) {
    size_t m = fl->n - at < BATCH ? fl->n - at : BATCH;
    if (ims_batch_prep_memory(prep, m, (const void *const *)&fl->data[at],
                              &fl->size[at], px, errs) != 0)
      die("preprocess", errs[0].message);
    if (ims_engine_run_features(e, px, m, scores, feats, &err) != IMS_OK)
      die("engine", err.message);
    for (size_t i = 0; i < m; i++)
      if (memcmp(feats + i * d, fl->feat + (at + i) * d, d * 4) != 0)
        (*mismatch)++;
    flip_rows(px, m, info.input_width, info.input_height);
    double t0 = now_s();
    if (ims_engine_run_features(e, px, m, scores, fl->mirror + at * d,
                                &err) != IMS_OK)
      die("engine", err.message);
    t += now_s() - t0;
  }
  free(px);
  free(scores);
  free(feats);
  ims_engine_destroy(e);
  ims_batch_prep_destroy(prep);
  return t;
}

/* ---- 2. prequential ---- */

typedef enum mirror_mode {
  MIRROR_NONE,       /* the image alone */
  MIRROR_MEAN_PROBS, /* learn image and mirror; predict the mean of their
                        probabilities */
  MIRROR_MEAN_FEATS, /* learn both; predict the mean of their features */
  MIRROR_LEARN_MEAN  /* learn and predict the mean of the features, as
                        one sample */
} mirror_mode;

typedef struct preq_config {
  const char *name; /* table row */
  const char *key;  /* JSON key */
  uint32_t flags;   /* IMS_HEAD_FLAG_* */
  uint32_t growth;  /* refit_growth_pct; 0 = the default (50) */
  mirror_mode mirror;
} preq_config;

static const preq_config preq_configs[] = {
    {"nearest class mean", "ncm", IMS_HEAD_FLAG_NCM, 0, MIRROR_NONE},
    {"LDA, refit growth 10%", "lda_g10", 0, 10, MIRROR_NONE},
    {"LDA, refit growth 25%", "lda_g25", 0, 25, MIRROR_NONE},
    {"LDA, refit growth 50% (default)", "lda", 0, 0, MIRROR_NONE},
    {"LDA, refit growth 100%", "lda_g100", 0, 100, MIRROR_NONE},
    {"LDA, no signed sqrt", "lda_no_sqrt", IMS_HEAD_FLAG_NO_SQRT, 0,
     MIRROR_NONE},
    {"LDA + mirror, mean of probabilities", "lda_mirror_probs", 0, 0,
     MIRROR_MEAN_PROBS},
    {"LDA + mirror, mean of features", "lda_mirror_feats", 0, 0,
     MIRROR_MEAN_FEATS},
    {"LDA, mean of image + mirror as one sample", "lda_mirror_one", 0, 0,
     MIRROR_LEARN_MEAN},
};
#define PREQ_COUNT (sizeof preq_configs / sizeof preq_configs[0])
#define PREQ_DEFAULT 3 /* the default head's row */

typedef struct preq_result {
  bool done;            /* run (mirror rows need --mirror) */
  size_t right;         /* correct predictions */
  size_t right_last;    /* of the last TEST */
  uint64_t refits;      /* refits of the head */
  unsigned char *correct; /* owned: per image, in stream order */
  size_t confusion[MAX_CLASSES][MAX_CLASSES + 1]; /* [true][predicted];
                           column `classes` = no prediction */
  uint64_t hash;        /* FNV-1a of the head's file at the end */
} preq_result;

/* Category of head class i. */
static int category_of(const flowers *fl, const ims_head *h, size_t i) {
  const char *label = ims_head_class_label(h, i);
  for (size_t k = 0; k < fl->classes; k++)
    if (strcmp(label, fl->names[k]) == 0) return (int)k;
  return -1;
}

static int argmax_category(const flowers *fl, const ims_head *h,
                           const float *probs) {
  size_t classes = ims_head_class_count(h), best = 0;
  if (classes == 0) return -1;
  for (size_t c = 1; c < classes; c++)
    if (probs[c] > probs[best]) best = c;
  return category_of(fl, h, best);
}

static void mean_of(const float *a, const float *b, size_t d, float *out) {
  for (size_t i = 0; i < d; i++) out[i] = 0.5f * (a[i] + b[i]);
}

/* Predicted category of image i (not learned) under `mode`. */
static int predict_image(const flowers *fl, ims_head *h, size_t i,
                         mirror_mode mode, float *scratch) {
  size_t d = fl->d, classes = ims_head_class_count(h);
  float probs[MAX_CLASSES], other[MAX_CLASSES];
  const float *x = fl->feat + i * d, *y = fl->mirror ? fl->mirror + i * d
                                                      : NULL;
  if (classes == 0) return -1;
  if (mode == MIRROR_NONE) {
    ims_head_predict(h, x, probs);
  } else if (mode == MIRROR_MEAN_PROBS) {
    ims_head_predict(h, x, probs);
    ims_head_predict(h, y, other);
    for (size_t c = 0; c < classes; c++) probs[c] = 0.5f * (probs[c] +
                                                            other[c]);
  } else {
    mean_of(x, y, d, scratch);
    ims_head_predict(h, scratch, probs);
  }
  return argmax_category(fl, h, probs);
}

/* Learn image i under `mode` (one or two samples). */
static void learn_image(const flowers *fl, ims_head *h, size_t i,
                        mirror_mode mode, float *scratch) {
  size_t d = fl->d;
  const float *fv[2] = {fl->feat + i * d, NULL};
  const char *lv[2] = {fl->names[fl->cls[i]], fl->names[fl->cls[i]]};
  ims_head_result hr[2];
  ims_error err = {0};
  size_t m = 1;
  if (mode == MIRROR_LEARN_MEAN) {
    mean_of(fv[0], fl->mirror + i * d, d, scratch);
    fv[0] = scratch;
  } else if (mode != MIRROR_NONE) {
    fv[1] = fl->mirror + i * d;
    m = 2;
  }
  if (ims_head_step(h, m, fv, lv, hr, &err) != IMS_OK)
    die("head step", err.message);
}

static uint64_t head_hash(const ims_head *h) {
  void *data;
  size_t size;
  ims_error err = {0};
  if (ims_head_encode(h, &data, &size, &err) != IMS_OK)
    die("encode", err.message);
  uint64_t x = 0xcbf29ce484222325u;
  for (size_t i = 0; i < size; i++)
    x = (x ^ ((const unsigned char *)data)[i]) * 0x100000001b3u;
  free(data);
  return x;
}

/* Prequential run of `cfg` over `order`. Plain rows step the head a
 * batch at a time, as a stream does (the prediction is ims_head_step's);
 * mirror rows predict with ims_head_predict, then learn. */
static void run_prequential(const flowers *fl, const size_t *order,
                            const preq_config *cfg, preq_result *r) {
  ims_head *h = new_head(fl, cfg->flags, cfg->growth);
  float *scratch = xcalloc(fl->d, sizeof *scratch);
  int *pred = xcalloc(fl->n, sizeof *pred);
  const float *fv[BATCH];
  const char *lv[BATCH];
  ims_head_result hr[BATCH];
  ims_error err = {0};
  for (size_t at = 0; at < fl->n; at += BATCH) {
    size_t m = fl->n - at < BATCH ? fl->n - at : BATCH;
    for (size_t j = 0; j < m && cfg->mirror != MIRROR_NONE; j++) {
      pred[at + j] = predict_image(fl, h, order[at + j], cfg->mirror,
                                   scratch);
      learn_image(fl, h, order[at + j], cfg->mirror, scratch);
    }
    if (cfg->mirror != MIRROR_NONE) continue;
    for (size_t j = 0; j < m; j++) {
      fv[j] = fl->feat + order[at + j] * fl->d;
      lv[j] = fl->names[fl->cls[order[at + j]]];
    }
    if (ims_head_step(h, m, fv, lv, hr, &err) != IMS_OK)
      die("head step", err.message);
    for (size_t j = 0; j < m; j++)
      pred[at + j] = hr[j].index < 0 ? -1
                                     : category_of(fl, h,
                                                   (size_t)hr[j].index);
  }
  r->done = true;
  r->correct = xcalloc(fl->n, 1);
  for (size_t i = 0; i < fl->n; i++) {
    int truth = fl->cls[order[i]];
    r->correct[i] = pred[i] == truth;
    r->right += r->correct[i];
    if (i >= fl->n - TEST) r->right_last += r->correct[i];
    r->confusion[truth][pred[i] < 0 ? fl->classes : (size_t)pred[i]]++;
  }
  r->refits = ims_head_refits(h);
  r->hash = head_hash(h);
  free(pred);
  free(scratch);
  ims_head_destroy(h);
}

/* ---- 3. the softmax anchor ---- */

/* The head's transform (signed square root, unit length), then a
 * constant 1 (the bias), as doubles: out has d + 1 values. */
static void transform(const float *x, size_t d, double *out) {
  double norm = 0;
  for (size_t i = 0; i < d; i++) {
    double v = x[i] < 0 ? -sqrt(-(double)x[i]) : sqrt((double)x[i]);
    out[i] = v;
    norm += v * v;
  }
  double s = norm > 0 ? 1.0 / sqrt(norm) : 0;
  for (size_t i = 0; i < d; i++) out[i] *= s;
  out[d] = 1.0;
}

static void softmax_row(double *z, size_t c) {
  double top = z[0], total = 0;
  for (size_t k = 1; k < c; k++)
    if (z[k] > top) top = z[k];
  for (size_t k = 0; k < c; k++) {
    z[k] = exp(z[k] - top);
    total += z[k];
  }
  for (size_t k = 0; k < c; k++) z[k] /= total;
}

/* Largest eigenvalue of the n x n Gram matrix k (power iteration). */
static double top_eigenvalue(const double *k, size_t n) {
  double *v = xcalloc(n, sizeof *v), *w = xcalloc(n, sizeof *w), lam = 0;
  for (size_t i = 0; i < n; i++) v[i] = 1.0 / sqrt((double)n);
  for (int it = 0; it < 100; it++) {
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, k, (int)n,
                v, 1, 0.0, w, 1);
    lam = cblas_dnrm2((int)n, w, 1);
    for (size_t i = 0; i < n; i++) v[i] = w[i] / lam;
  }
  free(v);
  free(w);
  return lam;
}

/* Fit the anchor on n rows x (d1 values each) with labels y in [0, c):
 * minimise mean cross-entropy + lambda/2 |W|^2 by Nesterov's accelerated
 * gradient in the dual form (file comment), from `a` (n x c; zeros or a
 * warm start) until the gradient shrank 1e5-fold. Writes W (d1 x c) to
 * w; returns the iterations. Cost: ~sqrt(L / lambda) * 12 products of
 * n x n by n x c. */
static int softmax_fit(const double *x, const int *y, size_t n, size_t d1,
                       size_t c, double lambda, double *a, double *w) {
  double *k = xcalloc(n * n, sizeof *k), *z = xcalloc(n * c, sizeof *z);
  double *ya = xcalloc(n * c, sizeof *ya), *prev = xcalloc(n * c,
                                                           sizeof *prev);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n,
              (int)d1, 1.0, x, (int)d1, x, (int)d1, 0.0, k, (int)n);
  double lip = 0.5 * top_eigenvalue(k, n) / (double)n + lambda;
  double step = 1.0 / lip, beta = (sqrt(lip) - sqrt(lambda)) /
                                  (sqrt(lip) + sqrt(lambda));
  double g0 = -1;
  memcpy(ya, a, n * c * sizeof *ya);
  memcpy(prev, a, n * c * sizeof *prev);
  int it = 0;
  for (; it < 20000; it++) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)c,
                (int)n, 1.0, k, (int)n, ya, (int)c, 0.0, z, (int)c);
    double g2 = 0;
    for (size_t i = 0; i < n; i++) {
      softmax_row(&z[i * c], c);
      z[i * c + (size_t)y[i]] -= 1.0;
      for (size_t j = 0; j < c; j++) {
        double g = z[i * c + j] / (double)n + lambda * ya[i * c + j];
        a[i * c + j] = ya[i * c + j] - step * g;
        g2 += g * g;
      }
    }
    if (g0 < 0) g0 = g2;
    if (g2 < 1e-10 * g0) break;
    for (size_t i = 0; i < n * c; i++) {
      ya[i] = a[i] + beta * (a[i] - prev[i]);
      prev[i] = a[i];
    }
  }
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d1, (int)c,
              (int)n, 1.0, x, (int)d1, a, (int)c, 0.0, w, (int)c);
  free(k);
  free(z);
  free(ya);
  free(prev);
  return it;
}

/* Class probabilities of one transformed row under W. */
static void softmax_probs(const double *w, const double *row, size_t d1,
                          size_t c, double *p) {
  for (size_t j = 0; j < c; j++) p[j] = 0;
  for (size_t i = 0; i < d1; i++)
    for (size_t j = 0; j < c; j++) p[j] += row[i] * w[i * c + j];
  softmax_row(p, c);
}

/* The anchor's training set: transformed rows of images ids[0..m) (and
 * of their mirrors, right after each, when `mirror`). */
typedef struct sm_set {
  size_t n;  /* rows */
  double *x; /* owned: n x (d + 1) */
  int *y;    /* owned: n labels */
} sm_set;

static void sm_build(const flowers *fl, const size_t *ids, size_t m,
                     bool mirror, sm_set *s) {
  size_t d1 = fl->d + 1, per = mirror ? 2 : 1;
  s->n = m * per;
  s->x = xcalloc(s->n * d1, sizeof *s->x);
  s->y = xcalloc(s->n, sizeof *s->y);
  for (size_t i = 0; i < m; i++) {
    transform(fl->feat + ids[i] * fl->d, fl->d, &s->x[i * per * d1]);
    s->y[i * per] = fl->cls[ids[i]];
    if (!mirror) continue;
    transform(fl->mirror + ids[i] * fl->d, fl->d, &s->x[(i * 2 + 1) * d1]);
    s->y[i * 2 + 1] = fl->cls[ids[i]];
  }
}

static void sm_free(sm_set *s) {
  free(s->x);
  free(s->y);
}

/* Category the anchor predicts for image i under `mode`. */
static int sm_predict(const flowers *fl, const double *w, size_t i,
                      mirror_mode mode, double *row) {
  size_t d = fl->d, c = fl->classes;
  double p[MAX_CLASSES], q[MAX_CLASSES];
  float *mean = NULL;
  if (mode == MIRROR_MEAN_FEATS) {
    mean = xcalloc(d, sizeof *mean);
    mean_of(fl->feat + i * d, fl->mirror + i * d, d, mean);
  }
  transform(mean ? mean : fl->feat + i * d, d, row);
  softmax_probs(w, row, d + 1, c, p);
  if (mode == MIRROR_MEAN_PROBS) {
    transform(fl->mirror + i * d, d, row);
    softmax_probs(w, row, d + 1, c, q);
    for (size_t j = 0; j < c; j++) p[j] += q[j];
  }
  free(mean);
  size_t best = 0;
  for (size_t j = 1; j < c; j++)
    if (p[j] > p[best]) best = j;
  return (int)best;
}

/* Pick lambda by FOLDS-fold cross-validation over the training images
 * `ids` (m of them): the best validation accuracy, ties to the larger
 * lambda. Warm starts run from the largest lambda down. */
static double sm_choose_lambda(const flowers *fl, const size_t *ids,
                               size_t m, bool mirror, int *iters_max) {
  size_t right[LAMBDAS] = {0}, d1 = fl->d + 1;
  size_t *fit = xcalloc(m, sizeof *fit);
  double *w = xcalloc(d1 * fl->classes, sizeof *w);
  double *row = xcalloc(d1, sizeof *row);
  for (size_t f = 0; f < FOLDS; f++) {
    size_t nf = 0, lo = m * f / FOLDS, hi = m * (f + 1) / FOLDS;
    for (size_t i = 0; i < m; i++)
      if (i < lo || i >= hi) fit[nf++] = ids[i];
    sm_set s;
    sm_build(fl, fit, nf, mirror, &s);
    double *a = xcalloc(s.n * fl->classes, sizeof *a);
    for (size_t l = 0; l < LAMBDAS; l++) {
      int it = softmax_fit(s.x, s.y, s.n, d1, fl->classes, lambda_grid[l],
                           a, w);
      if (it > *iters_max) *iters_max = it;
      for (size_t i = lo; i < hi; i++)
        right[l] += sm_predict(fl, w, ids[i], mirror ? MIRROR_MEAN_PROBS
                                                     : MIRROR_NONE,
                               row) == fl->cls[ids[i]];
    }
    free(a);
    sm_free(&s);
  }
  size_t best = 0;
  for (size_t l = 1; l < LAMBDAS; l++)
    if (right[l] > right[best]) best = l;
  free(fit);
  free(w);
  free(row);
  return lambda_grid[best];
}

/* ---- 4. held out ---- */

enum { M_NCM, M_LDA, M_FIT, M_SOFTMAX, METHODS };
enum { V_PLAIN, V_PROBS, V_FEATS, VARIANTS };
static const char *const method_names[METHODS] = {
    "nearest class mean", "LDA, streaming (as learned)",
    "LDA + ims_head_fit (offline LDA)", "softmax regression (anchor)"};
static const char *const method_keys[METHODS] = {"ncm", "lda_stream",
                                                 "lda_fit", "softmax"};
static const char *const variant_keys[VARIANTS] = {
    "image", "mirror_mean_probs", "mirror_mean_feats"};

typedef struct heldout {
  bool done[VARIANTS];                  /* variant measured */
  size_t right[METHODS][VARIANTS][SEEDS]; /* correct of TEST */
  double lambda[2][SEEDS];              /* anchor's lambda: plain,
                                           mirror */
  int iters_max;                        /* most gradient steps of any
                                           anchor fit (cap: 20000) */
} heldout;

/* Test `h` on the last TEST of `order` under the variants of `mirror`. */
static void test_head(const flowers *fl, ims_head *h, const size_t *order,
                      bool mirror, size_t out[VARIANTS]) {
  float *scratch = xcalloc(fl->d, sizeof *scratch);
  for (size_t i = fl->n - TEST; i < fl->n; i++) {
    size_t id = order[i];
    for (int v = mirror ? V_PROBS : V_PLAIN; v <= (mirror ? V_FEATS : V_PLAIN);
         v++) {
      mirror_mode mode = v == V_PLAIN   ? MIRROR_NONE
                         : v == V_PROBS ? MIRROR_MEAN_PROBS
                                        : MIRROR_MEAN_FEATS;
      out[v] += predict_image(fl, h, id, mode, scratch) == fl->cls[id];
    }
  }
  free(scratch);
}

/* One seed, one of plain / mirror: learn the first n - TEST images of
 * `order` (image then mirror when `mirror`), test the rest. */
static void heldout_seed(const flowers *fl, const size_t *order, bool mirror,
                         int seed, heldout *ho) {
  size_t train = fl->n - TEST;
  float *scratch = xcalloc(fl->d, sizeof *scratch);
  ims_head *ncm = new_head(fl, IMS_HEAD_FLAG_NCM, 0);
  ims_head *lda = new_head(fl, 0, 0);
  mirror_mode learn = mirror ? MIRROR_MEAN_PROBS : MIRROR_NONE;
  for (size_t i = 0; i < train; i++) {
    learn_image(fl, ncm, order[i], learn, scratch);
    learn_image(fl, lda, order[i], learn, scratch);
  }
  size_t out[VARIANTS];
  memset(out, 0, sizeof out);
  test_head(fl, ncm, order, mirror, out);
  for (int v = 0; v < VARIANTS; v++) ho->right[M_NCM][v][seed] += out[v];
  memset(out, 0, sizeof out);
  test_head(fl, lda, order, mirror, out);
  for (int v = 0; v < VARIANTS; v++) ho->right[M_LDA][v][seed] += out[v];
  fit(lda);
  memset(out, 0, sizeof out);
  test_head(fl, lda, order, mirror, out);
  for (int v = 0; v < VARIANTS; v++) ho->right[M_FIT][v][seed] += out[v];
  ims_head_destroy(ncm);
  ims_head_destroy(lda);
  /* The anchor: lambda from the training part, then one fit on all of
   * it. */
  double lambda = sm_choose_lambda(fl, order, train, mirror,
                                   &ho->iters_max);
  ho->lambda[mirror][seed] = lambda;
  sm_set s;
  sm_build(fl, order, train, mirror, &s);
  size_t d1 = fl->d + 1;
  double *a = xcalloc(s.n * fl->classes, sizeof *a);
  double *w = xcalloc(d1 * fl->classes, sizeof *w);
  double *row = xcalloc(d1, sizeof *row);
  int it = softmax_fit(s.x, s.y, s.n, d1, fl->classes, lambda, a, w);
  if (it > ho->iters_max) ho->iters_max = it;
  for (size_t i = train; i < fl->n; i++)
    for (int v = mirror ? V_PROBS : V_PLAIN; v <= (mirror ? V_FEATS : V_PLAIN);
         v++)
      ho->right[M_SOFTMAX][v][seed] +=
          sm_predict(fl, w, order[i],
                     v == V_PLAIN   ? MIRROR_NONE
                     : v == V_PROBS ? MIRROR_MEAN_PROBS
                                    : MIRROR_MEAN_FEATS,
                     row) == fl->cls[order[i]];
  free(a);
  free(w);
  free(row);
  sm_free(&s);
  free(scratch);
}

static double heldout_mean(const heldout *ho, int m, int v) {
  double s = 0;
  for (int k = 0; k < SEEDS; k++) s += (double)ho->right[m][v][k];
  return 100.0 * s / (SEEDS * TEST);
}

/* ---- 5. cost ---- */

typedef struct cost {
  double classify_s;   /* classifier alone, all REPEATS passes */
  double together_s;   /* classifier + head step, all passes */
  double head_s;       /* the head steps of those */
  double fit_s[2];     /* median ims_head_fit at N = n: OpenBLAS default
                          threads, 1 thread */
  double mirror_s;     /* mirrored inference of the mirror pass */
  size_t mismatch;     /* images whose hand-made features differ */
  uint64_t refits;     /* refits of the default head over the n images */
  double refit_s[2];   /* their time: OpenBLAS default threads, 1 thread */
  double refit_max_s[2]; /* slowest refit */
  double sample_s[2];  /* mean step of one sample with no refit */
  int blas_threads;    /* OpenBLAS's default threads */
  char load[2][32];    /* load average at the start and the end */
  uint64_t hash[4];     /* head file hashes after the n images: steps of
                           16 (the prequential row), 1 and 7 samples on
                           OpenBLAS's default threads; steps of 16 on 1
                           thread */
} cost;

/* The default head over `order` in steps of `step` samples, timing each:
 * refits found by ims_head_refits moving. Sets refit and sample times of
 * column `col` (< 0: none) and the hash of the head at the end. */
static void time_refits(const flowers *fl, const size_t *order, size_t step,
                        cost *k, int col) {
  ims_head *h = new_head(fl, 0, 0);
  double *plain = xcalloc(fl->n, sizeof *plain);
  double *refit_t = xcalloc(fl->n, sizeof *refit_t);
  size_t *refit_m = xcalloc(fl->n, sizeof *refit_m), np = 0, nr = 0;
  const float *fv[BATCH];
  const char *lv[BATCH];
  ims_head_result hr[BATCH];
  ims_error err = {0};
  for (size_t at = 0; at < fl->n; at += step) {
    size_t m = fl->n - at < step ? fl->n - at : step;
    for (size_t j = 0; j < m; j++) {
      fv[j] = fl->feat + order[at + j] * fl->d;
      lv[j] = fl->names[fl->cls[order[at + j]]];
    }
    uint64_t before = ims_head_refits(h);
    double t0 = now_s();
    if (ims_head_step(h, m, fv, lv, hr, &err) != IMS_OK)
      die("head step", err.message);
    double t = now_s() - t0;
    if (ims_head_refits(h) != before) {
      refit_t[nr] = t;
      refit_m[nr++] = m;
    } else {
      plain[np++] = t / (double)m;
    }
  }
  double mean = 0, total = 0, top = 0;
  for (size_t i = 0; i < np; i++) mean += plain[i] / (double)np;
  for (size_t i = 0; i < nr; i++) {
    double r = refit_t[i] - mean * (double)refit_m[i];
    total += r;
    if (r > top) top = r;
  }
  k->refits = ims_head_refits(h);
  if (col >= 0) {
    k->refit_s[col] = total;
    k->refit_max_s[col] = top;
    k->sample_s[col] = mean;
  }
  k->hash[step == 1 ? 1 : step == 7 ? 2 : 3] = head_hash(h);
  free(plain);
  free(refit_t);
  free(refit_m);
  ims_head_destroy(h);
}

/* The classifier alone against the classifier followed by the head's
 * step, batch by batch as a stream runs them: each batch runs both ways
 * back to back (the machine may be shared: pairs see the same load),
 * over the images in `order`, REPEATS times, each time with a new head.
 * Averages of the passes. */
static void time_stream(flowers *fl, ims_classifier *c, const size_t *order,
                        cost *k) {
  const float *fv[BATCH];
  const char *lv[BATCH];
  ims_head_result hr[BATCH];
  ims_error err = {0};
  for (int r = 0; r < REPEATS; r++) {
    ims_head *h = new_head(fl, 0, 0);
    for (size_t at = 0; at < fl->n; at += BATCH) {
      size_t m = batch_at(fl, at);
      double t0 = now_s();
      classify_batch(fl, c, order, at, m, false, fv, lv);
      double t1 = now_s();
      classify_batch(fl, c, order, at, m, false, fv, lv);
      double t2 = now_s();
      if (ims_head_step(h, m, fv, lv, hr, &err) != IMS_OK)
        die("head step", err.message);
      double t3 = now_s();
      k->classify_s += t1 - t0;
      k->together_s += t3 - t1;
      k->head_s += t3 - t2;
    }
    ims_head_destroy(h);
  }
  k->classify_s /= REPEATS; /* one pass's worth */
  k->together_s /= REPEATS;
  k->head_s /= REPEATS;
}

/* Median time of `reps` ims_head_fit calls on a head that learned every
 * image (a refit at N = n, its largest here). */
static double time_fit(const flowers *fl, int reps) {
  ims_head *h = new_head(fl, 0, 0);
  float *scratch = xcalloc(fl->d, sizeof *scratch);
  for (size_t i = 0; i < fl->n; i++)
    learn_image(fl, h, i, MIRROR_NONE, scratch);
  double t[16];
  for (int r = 0; r < reps && r < 16; r++) {
    double t0 = now_s();
    fit(h);
    t[r] = now_s() - t0;
    for (int j = r; j > 0 && t[j] < t[j - 1]; j--) {
      double x = t[j];
      t[j] = t[j - 1];
      t[j - 1] = x;
    }
  }
  free(scratch);
  ims_head_destroy(h);
  return t[(reps < 16 ? reps : 16) / 2];
}

/* ---- 6. output ---- */

static bool split_same(const cost *k) {
  return k->hash[0] == k->hash[1] && k->hash[1] == k->hash[2];
}

static double pct(size_t a, size_t b) { return b ? 100.0 * a / b : 0; }

/* Running accuracy over the last WINDOW images (fewer at the start). */
static double window_acc(const unsigned char *correct, size_t i) {
  size_t lo = i + 1 > WINDOW ? i + 1 - WINDOW : 0, s = 0;
  for (size_t j = lo; j <= i; j++) s += correct[j];
  return 100.0 * (double)s / (double)(i + 1 - lo);
}

/* The learning curve as a PNG, through gnuplot: nearest class mean, the
 * default LDA and its best mirror variant. */
static void write_png(const flowers *fl, const preq_result *pr, int mirror,
                      const char *png) {
  char path[] = "/tmp/bench_learn.XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (f == NULL) die("curve data", "cannot create a temporary file");
  for (size_t i = 0; i < fl->n; i++)
    fprintf(f, "%zu %.2f %.2f %.2f\n", i + 1, window_acc(pr[0].correct, i),
            window_acc(pr[PREQ_DEFAULT].correct, i),
            mirror >= 0 ? window_acc(pr[mirror].correct, i) : 0);
  fclose(f);
  FILE *g = popen("gnuplot", "w");
  if (g == NULL) die("gnuplot", "cannot run");
  fprintf(g,
          "set terminal pngcairo size 720,400 font 'DejaVu Sans,10'\n"
          "set output '%s'\nset key bottom right\nset grid\n"
          "set xlabel 'images seen (produce --seed 1 order)'\n"
          "set ylabel 'accuracy over the last %d images (%%)'\n"
          "set yrange [0:100]\nset xrange [1:%zu]\n"
          "plot '%s' using 1:2 with lines lw 2 title 'nearest class mean', "
          "'' using 1:3 with lines lw 2 title 'LDA (default)'%s\n",
          png, WINDOW, fl->n, path,
          mirror >= 0 ? ", '' using 1:4 with lines lw 2 title "
                        "'LDA + mirror features'"
                      : "");
  int rc = pclose(g);
  unlink(path);
  if (rc != 0) die("gnuplot", "failed");
}

/* The held-out table and the per-seed figures. */
static void print_heldout(const flowers *fl, const heldout *ho) {
  printf("\n## Held out (learn %zu, test %d; mean of seeds 1-%d)\n\n"
         "| head | image | + mirror, mean of probabilities | + mirror, "
         "mean of features |\n| --- | ---: | ---: | ---: |\n",
         fl->n - TEST, TEST, SEEDS);
  for (int m = 0; m < METHODS; m++) {
    printf("| %s |", method_names[m]);
    for (int v = 0; v < VARIANTS; v++)
      if (ho->done[v]) printf(" %.1f%% |", heldout_mean(ho, m, v));
      else printf(" - |");
    printf("\n");
  }
  printf("\nper seed (image / mirror, mean of probabilities):");
  for (int m = 0; m < METHODS; m++) {
    printf("\n  %-34s", method_names[m]);
    for (int s = 0; s < SEEDS; s++)
      printf(" %3zu/%-3zu", ho->right[m][V_PLAIN][s],
             ho->right[m][V_PROBS][s]);
  }
  printf("\n  anchor lambda (image):");
  for (int s = 0; s < SEEDS; s++) printf(" %g", ho->lambda[0][s]);
  printf("\n  anchor lambda (mirror):");
  for (int s = 0; s < SEEDS; s++) printf(" %g", ho->lambda[1][s]);
  printf("\n  anchor fits: at most %d gradient steps (cap 20000)",
         ho->iters_max);
  printf("\n");
}

static void print_tables(const flowers *fl, const preq_result *pr,
                         const heldout *ho, const cost *k) {
  printf("\n## Prequential (produce --seed 1 order, %zu images)\n\n", fl->n);
  printf("| head | accuracy | last %d | refits |\n| --- | ---: | ---: | "
         "---: |\n", TEST);
  for (size_t i = 0; i < PREQ_COUNT; i++)
    if (pr[i].done)
      printf("| %s | %.1f%% | %.0f%% | %llu |\n", preq_configs[i].name,
             pct(pr[i].right, fl->n), pct(pr[i].right_last, TEST),
             (unsigned long long)pr[i].refits);
  printf("\n## Confusion, default LDA (rows: true; columns: predicted)\n\n"
         "| true |");
  for (size_t c = 0; c < fl->classes; c++) printf(" %s |", fl->names[c]);
  printf(" none | recall |\n| --- |");
  for (size_t c = 0; c <= fl->classes + 1; c++) printf(" ---: |");
  printf("\n");
  const preq_result *d = &pr[PREQ_DEFAULT];
  for (size_t t = 0; t < fl->classes; t++) {
    size_t row = 0;
    printf("| %s |", fl->names[t]);
    for (size_t c = 0; c <= fl->classes; c++) {
      printf(" %zu |", d->confusion[t][c]);
      row += d->confusion[t][c];
    }
    printf(" %.0f%% |\n", pct(d->confusion[t][t], row));
  }
  if (ho->done[V_PLAIN]) print_heldout(fl, ho);
  double per = 1e3 / (double)fl->n, cls = k->classify_s * per;
  printf("\n## Cost (classifier: %d threads, batch %d; mean of %d "
         "passes)\n\n| what | ms per image | %% of the classifier |\n"
         "| --- | ---: | ---: |\n", THREADS, BATCH, REPEATS);
  printf("| classifier (decode + preprocess + inference + features) | "
         "%.3f | 100%% |\n", cls);
  printf("| head in the stream: ims_head_step per batch, refits "
         "included | %.3f | %.1f%% |\n",
         k->head_s * per, 100 * k->head_s / k->classify_s);
  printf("| classifier + head, measured together: added | %.3f | "
         "%.1f%% |\n", (k->together_s - k->classify_s) * per,
         100 * (k->together_s - k->classify_s) / k->classify_s);
  printf("| head alone, per sample, no refit | %.3f | %.1f%% |\n",
         k->sample_s[0] * 1e3, 100 * k->sample_s[0] * 1e3 / cls);
  printf("| head alone, its %llu refits spread over the %zu images | "
         "%.3f | %.1f%% |\n", (unsigned long long)k->refits, fl->n,
         k->refit_s[0] * per, 100 * k->refit_s[0] / k->classify_s);
  if (fl->mirror)
    printf("| mirror option: the mirrored image's inference | %.3f | "
           "%.1f%% |\n", k->mirror_s * per, 100 * k->mirror_s /
                                                k->classify_s);
  printf("\nrefits: %llu, %.1f ms in all, slowest %.1f ms (OpenBLAS %d "
         "threads); %.1f ms, slowest %.1f ms (1 thread)\n",
         (unsigned long long)k->refits, k->refit_s[0] * 1e3,
         k->refit_max_s[0] * 1e3, k->blas_threads, k->refit_s[1] * 1e3,
         k->refit_max_s[1] * 1e3);
  printf("one refit at N = %zu (ims_head_fit, median of 9): %.1f ms "
         "(OpenBLAS %d threads), %.1f ms (1 thread)\n", fl->n,
         k->fit_s[0] * 1e3, k->blas_threads, k->fit_s[1] * 1e3);
  printf("determinism (head file after the %zu images): steps of %d, 1 "
         "and 7 samples: %s; OpenBLAS %d threads and 1: %s\n", fl->n, BATCH,
         split_same(k) ? "same bytes" : "DIFFERENT BYTES", k->blas_threads,
         k->hash[0] == k->hash[3] ? "same bytes" : "DIFFERENT BYTES");
  if (fl->mirror)
    printf("hand-made features equal to the classifier's: %s (%zu of %zu "
           "differ)\n", k->mismatch ? "NO" : "yes", k->mismatch, fl->n);
}

static void print_json(const flowers *fl, const preq_result *pr,
                       const heldout *ho, const cost *k) {
  printf("{\"images\":%zu,\"classes\":%zu,\"features\":%zu,"
         "\"test\":%d,\"seeds\":%d,\"load_average\":[\"%s\",\"%s\"],"
         "\"prequential\":{", fl->n, fl->classes, fl->d, TEST, SEEDS,
         k->load[0], k->load[1]);
  const char *sep = "";
  for (size_t i = 0; i < PREQ_COUNT; i++) {
    if (!pr[i].done) continue;
    printf("%s\"%s\":{\"accuracy\":%.4f,\"accuracy_last_100\":%.4f,"
           "\"refits\":%llu}", sep, preq_configs[i].key,
           pct(pr[i].right, fl->n) / 100, pct(pr[i].right_last, TEST) / 100,
           (unsigned long long)pr[i].refits);
    sep = ",";
  }
  printf("},\"confusion\":{\"labels\":[");
  for (size_t c = 0; c < fl->classes; c++)
    printf("%s\"%s\"", c ? "," : "", fl->names[c]);
  printf("],\"rows\":[");
  for (size_t t = 0; t < fl->classes; t++) {
    printf("%s[", t ? "," : "");
    for (size_t c = 0; c <= fl->classes; c++)
      printf("%s%zu", c ? "," : "", pr[PREQ_DEFAULT].confusion[t][c]);
    printf("]");
  }
  printf("]},\"heldout\":{");
  for (int m = 0; m < METHODS; m++) {
    printf("%s\"%s\":{", m ? "," : "", method_keys[m]);
    sep = "";
    for (int v = 0; v < VARIANTS; v++) {
      if (!ho->done[v]) continue;
      printf("%s\"%s\":{\"mean\":%.4f,\"per_seed\":[", sep, variant_keys[v],
             heldout_mean(ho, m, v) / 100);
      for (int s = 0; s < SEEDS; s++)
        printf("%s%.2f", s ? "," : "", (double)ho->right[m][v][s] / TEST);
      printf("]}");
      sep = ",";
    }
    printf("}");
  }
  printf(",\"softmax_lambda\":{\"image\":[");
  for (int s = 0; s < SEEDS; s++) printf("%s%g", s ? "," : "",
                                         ho->lambda[0][s]);
  printf("],\"mirror\":[");
  for (int s = 0; s < SEEDS; s++) printf("%s%g", s ? "," : "",
                                         ho->lambda[1][s]);
  printf("],\"steps_max\":%d}}", ho->iters_max);
  double per = 1e3 / (double)fl->n;
  printf(",\"cost\":{\"classifier_ms_per_image\":%.4f,"
         "\"head_ms_per_image\":%.4f,\"head_pct\":%.2f,"
         "\"together_added_pct\":%.2f,\"sample_ms_no_refit\":%.4f,"
         "\"refits\":%llu,\"refit_ms_total\":%.2f,\"refit_ms_max\":%.2f,"
         "\"refit_ms_total_1_thread\":%.2f,\"openblas_threads\":%d,"
         "\"fit_ms\":%.2f,\"fit_ms_1_thread\":%.2f",
         k->classify_s * per, k->head_s * per,
         100 * k->head_s / k->classify_s,
         100 * (k->together_s - k->classify_s) / k->classify_s,
         k->sample_s[0] * 1e3, (unsigned long long)k->refits,
         k->refit_s[0] * 1e3, k->refit_max_s[0] * 1e3, k->refit_s[1] * 1e3,
         k->blas_threads, k->fit_s[0] * 1e3, k->fit_s[1] * 1e3);
  if (fl->mirror)
    printf(",\"mirror_ms_per_image\":%.4f,\"mirror_pct\":%.2f,"
           "\"features_match\":%s", k->mirror_s * per,
           100 * k->mirror_s / k->classify_s, k->mismatch ? "false" : "true");
  printf("},\"same_bits_any_split\":%s,\"same_bits_any_blas_threads\":%s}"
         "\n", split_same(k) ? "true" : "false",
         k->hash[0] == k->hash[3] ? "true" : "false");
}

/* ---- 7. main ---- */

static void usage(FILE *out) {
  fprintf(out,
          "usage: bench_learn [--shared DIR] [--json] [--png FILE] "
          "[--no-mirror]\n"
          "  --shared DIR  shared data (default $IMGSTREAM_SHARED or "
          "../shared)\n"
          "  --json        one JSON object instead of the tables\n"
          "  --png FILE    write the learning curve (gnuplot)\n"
          "  --no-mirror   skip the mirrored features (half the "
          "inference)\n"
          "  --no-heldout  skip the held-out tests (most of the run)\n");
}

typedef struct options {
  const char *shared; /* --shared */
  const char *png;    /* --png or NULL */
  bool json;          /* --json */
  bool mirror;        /* not --no-mirror */
  bool heldout;       /* not --no-heldout */
} options;

static int parse_args(int argc, char **argv, options *o) {
  static const struct option opts[] = {
      {"help", no_argument, NULL, 'h'},
      {"json", no_argument, NULL, 'j'},
      {"no-heldout", no_argument, NULL, 'H'},
      {"no-mirror", no_argument, NULL, 'M'},
      {"png", required_argument, NULL, 'p'},
      {"shared", required_argument, NULL, 's'},
      {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "hHjMp:s:", opts, NULL)) != -1) {
    switch (c) {
      case 'h': usage(stdout); exit(0);
      case 'H': o->heldout = false; break;
      case 'j': o->json = true; break;
      case 'M': o->mirror = false; break;
      case 'p': o->png = optarg; break;
      case 's': o->shared = optarg; break;
      default: usage(stderr); return -1;
    }
  }
  if (optind != argc) {
    usage(stderr);
    return -1;
  }
  return 0;
}

/* Features of every image (and mirror), and the cost passes. */
static void extract(flowers *fl, ims_classifier *c, const size_t *order,
                    cost *k) {
  size_t *sorted = xcalloc(fl->n, sizeof *sorted);
  for (size_t i = 0; i < fl->n; i++) sorted[i] = i;
  const ims_model *model = ims_classifier_model(c);
  ims_model_fingerprint(model, fl->model_id);
  fl->layer = strdup(ims_classifier_feature_layer(c));
  ims_model_feature_info fi;
  ims_error err = {0};
  if (ims_model_feature_layer(model, NULL, &fi, &err) != IMS_OK)
    die("features", err.message);
  fl->d = fi.count;
  fl->feat = xcalloc(fl->n * fl->d, sizeof *fl->feat);
  const float *fv[BATCH];
  const char *lv[BATCH];
  double t = now_s();
  for (size_t at = 0; at < fl->n; at += BATCH)
    classify_batch(fl, c, sorted, at, batch_at(fl, at), true, fv, lv);
  t = now_s() - t;
  fprintf(stderr, "bench_learn: features of %zu images in %.2f s\n", fl->n,
          t);
  if (fl->with_mirror) {
    fl->mirror = xcalloc(fl->n * fl->d, sizeof *fl->mirror);
    k->mirror_s = mirror_pass(fl, model, &k->mismatch);
  }
  time_stream(fl, c, order, k);
  free(sorted);
}

int main(int argc, char **argv) {
  const char *env = getenv("IMGSTREAM_SHARED");
  options o = {env && env[0] ? env : "../shared", NULL, false, true, true};
  if (parse_args(argc, argv, &o) != 0) return 2;
  static flowers fl;
  char root[4096];
  snprintf(root, sizeof root, "%s/data/flowers", o.shared);
  load_flowers(root, &fl);
  ims_classifier *c = make_classifier(o.shared);
  size_t *order = xcalloc(fl.n, sizeof *order);
  seed_order(&fl, 1, order);
  static cost k;
  load_average(k.load[0], sizeof k.load[0]);
  fl.with_mirror = o.mirror;
  extract(&fl, c, order, &k);
  ims_classifier_destroy(c);

  static preq_result pr[PREQ_COUNT];
  int best_mirror = -1;
  for (size_t i = 0; i < PREQ_COUNT; i++) {
    if (preq_configs[i].mirror != MIRROR_NONE && fl.mirror == NULL) continue;
    run_prequential(&fl, order, &preq_configs[i], &pr[i]);
    if (preq_configs[i].mirror != MIRROR_NONE &&
        (best_mirror < 0 || pr[i].right > pr[best_mirror].right))
      best_mirror = (int)i;
  }
  fprintf(stderr, "bench_learn: prequential done\n");
  k.blas_threads = openblas_get_num_threads();
  k.hash[0] = pr[PREQ_DEFAULT].hash;
  time_refits(&fl, order, 1, &k, 0);
  time_refits(&fl, order, 7, &k, -1);
  k.fit_s[0] = time_fit(&fl, 9);
  openblas_set_num_threads(1);
  time_refits(&fl, order, BATCH, &k, 1);
  k.fit_s[1] = time_fit(&fl, 9);
  openblas_set_num_threads(k.blas_threads);

  static heldout ho;
  ho.done[V_PLAIN] = o.heldout;
  ho.done[V_PROBS] = ho.done[V_FEATS] = o.heldout && fl.mirror != NULL;
  size_t *sorder = xcalloc(fl.n, sizeof *sorder);
  for (int s = 0; s < SEEDS && o.heldout; s++) {
    seed_order(&fl, (uint64_t)s + 1, sorder);
    heldout_seed(&fl, sorder, false, s, &ho);
    if (fl.mirror) heldout_seed(&fl, sorder, true, s, &ho);
    fprintf(stderr, "bench_learn: held-out seed %d done\n", s + 1);
  }
  load_average(k.load[1], sizeof k.load[1]);
  if (o.png) write_png(&fl, pr, best_mirror, o.png);
  if (o.json) {
    print_json(&fl, pr, &ho, &k);
  } else {
    printf("bench_learn: %zu images, %zu classes, %zu features (%s)\n"
           "load average: %s at the start, %s at the end\n", fl.n,
           fl.classes, fl.d, fl.model_id, k.load[0], k.load[1]);
    print_tables(&fl, pr, &ho, &k);
  }
  return 0;
}
