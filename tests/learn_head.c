/* SPDX-License-Identifier: Apache-2.0 */
/*
 * learn_head.c - the learned head (imgstream/head.h, src/learn/): what it
 * learns from real features, that it gives the same bits however samples
 * are split into calls, and that its file round-trips and refuses every
 * kind of damage with IMS_ERR_BAD_HEAD (or the status head.h names).
 *
 * Real features: the 1280 pooled features of the uint8 MobileNetV2 for
 * all 430 shared flowers, extracted once per process (about 1.5 s: the
 * whole set is cheap, and 430 is the set the figures are for).
 * Their labels are the flowers' folder names (ims_dataset_item.category),
 * never an earlier output of imgstream.
 *
 * Format cases use feature_count 16 and synthetic features (a few class
 * patterns plus noise from splitmix64), so a file is about 4 KB and every
 * cut point and every byte can be tried. A field is corrupted in the
 * encoded bytes, whose CRC is then recomputed, so that the check behind
 * the CRC is the one that fails; the offsets come from walking the file
 * as head_file.c's header comment lays it out.
 *
 * Sections: 1. synthetic samples  2. files as bytes  3. real features
 * 4. learning  5. determinism and round trips  6. damaged files
 * 7. identity and limits  8. files on disk
 *
 * Threading: single-threaded (OpenBLAS may use threads inside a call).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "imgstream/imgstream.h"
#include "test.h"

#define D 16      /* features of the synthetic samples */
#define NSYN 300  /* synthetic samples: several folds (32) and refits */
#define MODEL "sha256:0123456789abcdef-test-model"
#define LAYER "pool/features"

/* ---- 1. synthetic samples ---- */

static const char *const syn_classes[] = {"alpha", "beta", "gamma", "delta"};

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Samples 0..NSYN: features of class i % 4 patterns plus noise,
 * non-negative like pooled ReLU outputs; every 17th is unlabeled (NULL),
 * every 23rd labeled "" (unlabeled too). */
typedef struct synth {
  float x[NSYN][D];
  const float *rows[NSYN];
  const char *labels[NSYN];
} synth;

static const synth *synthetic(void) {
  static synth s;
  if (s.rows[0] != NULL) return &s;
  uint64_t seed = 42;
  for (size_t i = 0; i < NSYN; i++) {
    size_t c = (i * 7 + i / 5) % 4;
    for (size_t j = 0; j < D; j++) {
      double noise = (double)(splitmix(&seed) >> 11) / 9007199254740992.0;
      double mean = ((j + c) % 4 == 0) ? 2.0 : 0.3 * (double)((j * c) % 3);
      double v = mean + 1.5 * noise - 0.5;
      s.x[i][j] = (float)(v > 0 ? v : 0);
    }
    s.rows[i] = s.x[i];
    s.labels[i] = i % 17 == 5 ? NULL : i % 23 == 7 ? "" : syn_classes[c];
  }
  return &s;
}

static ims_head_options options(uint32_t d, uint32_t flags) {
  ims_head_options o = {.model_id = MODEL, .feature_layer = LAYER,
                        .feature_count = d, .flags = flags};
  return o;
}

static ims_head *new_head(uint32_t flags) {
  ims_head_options o = options(D, flags);
  ims_head *h = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_head_create(&o, &h, &err), &err);
  return h;
}

/* Step samples [from, to) of s in one call. */
static void step(ims_head *h, const synth *s, size_t from, size_t to,
                 ims_head_result *res) {
  ims_error err = {0};
  ASSERT_OK(ims_head_step(h, to - from, s->rows + from, s->labels + from,
                          res + from, &err),
            &err);
}

/* A head that has learned samples [0, n) of the synthetic set. */
static ims_head *learned_head(uint32_t flags, size_t n) {
  static ims_head_result res[NSYN];
  ims_head *h = new_head(flags);
  step(h, synthetic(), 0, n, res);
  return h;
}

/* ---- 2. files as bytes ---- */

typedef struct bytes {
  unsigned char *p;
  size_t n;
} bytes;

static bytes encode(const ims_head *h) {
  bytes b = {0};
  void *data = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_head_encode(h, &data, &b.n, &err), &err);
  b.p = data;
  return b;
}

static bool same_bytes(bytes a, bytes b) {
  return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t get64(const unsigned char *p) {
  return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Recompute the CRC-32 at the end of b. */
static void fix_crc(bytes b) {
  put32(b.p + b.n - 4, (uint32_t)crc32(0L, b.p, (uInt)(b.n - 4)));
}

/* Offsets of the fields of a version-1 file (head_file.c's table). */
enum { O_VERSION = 8, O_FLAGS = 12, O_D = 16, O_C = 20, O_FOLD = 24,
       O_PENDING = 28, O_REFIT_MIN = 32, O_GROWTH = 36, O_N = 40,
       O_NEXT = 48, O_REFITS = 56, O_CALIB = 64, O_SOURCE_SEQ = 232,
       O_MODEL = 240 };

typedef struct layout {
  size_t d, classes, pending;
  size_t layer;      /* u32 length of feature_layer */
  size_t label[8];   /* u32 length of each class label */
  size_t count[8];   /* u64 count of each class */
  size_t s, u, q, pend, p, crc; /* the arrays; p = crc if none */
} layout;

static layout walk(bytes b) {
  layout l = {.d = get32(b.p + O_D), .classes = get32(b.p + O_C),
              .pending = get32(b.p + O_PENDING)};
  ASSERT(l.classes <= 8);
  l.layer = O_MODEL + 4 + get32(b.p + O_MODEL);
  size_t at = l.layer + 4 + get32(b.p + l.layer);
  for (size_t c = 0; c < l.classes; c++) {
    l.label[c] = at;
    l.count[c] = at + 4 + get32(b.p + at);
    at = l.count[c] + 8;
  }
  size_t tri = l.d * (l.d + 1) / 2;
  l.s = at;
  l.u = l.s + l.classes * l.d * 8;
  l.q = l.u + l.classes * l.d * 8;
  l.pend = l.q + tri * 8;
  l.p = l.pend + l.pending * l.d * 4;
  l.crc = b.n - 4;
  return l;
}

/* A copy of b with bytes [at, at + len) replaced by `with` (wlen bytes). */
static bytes splice(bytes b, size_t at, size_t len, const void *with,
                    size_t wlen) {
  bytes o = {malloc(b.n - len + wlen), b.n - len + wlen};
  ASSERT(o.p != NULL);
  memcpy(o.p, b.p, at);
  memcpy(o.p + at, with, wlen);
  memcpy(o.p + at + wlen, b.p + at + len, b.n - at - len);
  return o;
}

/* b with the string whose u32 length is at `at` replaced by s (n bytes). */
static bytes set_str(bytes b, size_t at, const char *s, size_t n) {
  unsigned char *w = malloc(n + 4);
  ASSERT(w != NULL);
  put32(w, (uint32_t)n);
  memcpy(w + 4, s, n);
  bytes o = splice(b, at, 4 + get32(b.p + at), w, n + 4);
  free(w);
  fix_crc(o);
  return o;
}

/* Decode b; returns the status, with the message in *err. The head, if
 * any, is destroyed. */
static ims_status decode(bytes b, const ims_head_options *expect,
                         ims_error *err) {
  ims_head *h = NULL;
  memset(err, 0, sizeof *err);
  ims_status st = ims_head_decode(b.p, b.n, expect, &h, err);
  if (st == IMS_OK) ASSERT(h != NULL);
  else ASSERT(err->message[0] != '\0');
  ims_head_destroy(h);
  return st;
}

/* Decoding b fails with `status` and a message containing `what`. */
static void refused(bytes b, const ims_head_options *expect,
                    ims_status status, const char *what) {
  ims_error err;
  ims_status st = decode(b, expect, &err);
  if (st != status)
    TEST__FAIL("expected status %d (%s), got %d: %s", (int)status, what,
               (int)st, err.message);
  ASSERT_CONTAINS(err.message, what);
}

/* ---- 3. real features ---- */

#define NFLOWERS 430
#define FEATS 1280

/* The shared flowers in ims_dataset_shuffle(ds, 1) order: their features
 * (uint8 MobileNetV2, layer found from the graph), labels (folder names)
 * and the model's identity. */
typedef struct flowers {
  size_t n;
  float *x;                /* n * FEATS */
  const float *rows[NFLOWERS];
  char *labels[NFLOWERS];  /* owned */
  char model_id[IMS_MODEL_FINGERPRINT_SIZE];
  char layer[256];
} flowers;

static void extract(ims_classifier *c, const ims_dataset *ds, flowers *f) {
  ims_error err = {0};
  const char *paths[16];
  for (size_t i = 0; i < f->n; i += 16) {
    size_t k = f->n - i < 16 ? f->n - i : 16;
    for (size_t j = 0; j < k; j++) {
      const ims_dataset_item *it = ims_dataset_get(ds, i + j);
      paths[j] = it->path;
      f->labels[i + j] = strdup(it->category);
    }
    const ims_class_result *r = NULL;
    ASSERT_OK(ims_classifier_run_files(c, k, paths, &r, &err), &err);
    for (size_t j = 0; j < k; j++) {
      ASSERT_OK(r[j].error.status, &r[j].error);
      ASSERT_EQ(r[j].feature_count, FEATS);
      memcpy(f->x + (i + j) * FEATS, r[j].features, FEATS * sizeof(float));
      f->rows[i + j] = f->x + (i + j) * FEATS;
    }
  }
}

static const flowers *real_flowers(void) {
  static flowers f;
  if (f.n > 0) return &f;
  char model[4096], labels[4096];
  snprintf(model, sizeof model, "%s",
           shared_path("models/mobilenet_v2_1.0_224_quant.tflite"));
  snprintf(labels, sizeof labels, "%s",
           shared_path("models/imagenet_class_index.json"));
  if (access(model, R_OK) != 0) RETURN_SKIP("no shared model");
  ims_error err = {0};
  ims_dataset *ds = NULL;
  ASSERT_OK(ims_dataset_scan(shared_path("data/flowers"), &ds, &err), &err);
  ASSERT_EQ(ims_dataset_count(ds), NFLOWERS);
  ims_dataset_shuffle(ds, 1);
  ims_classifier_options o = {
      .model_path = model, .labels_path = labels, .max_batch = 16,
      .engine_flags = IMS_ENGINE_FLAG_FEATURES};
  ims_classifier *c = NULL;
  ASSERT_OK(ims_classifier_create(&o, &c, &err), &err);
  f.x = malloc((size_t)NFLOWERS * FEATS * sizeof(float));
  ASSERT(f.x != NULL);
  f.n = NFLOWERS;
  extract(c, ds, &f);
  ims_model_fingerprint(ims_classifier_model(c), f.model_id);
  snprintf(f.layer, sizeof f.layer, "%s", ims_classifier_feature_layer(c));
  ims_classifier_destroy(c);
  ims_dataset_destroy(ds);
  return &f;
}

static ims_head *flower_head(const flowers *f, uint32_t flags) {
  ims_head_options o = {.model_id = f->model_id, .feature_layer = f->layer,
                        .feature_count = FEATS, .flags = flags};
  ims_head *h = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_head_create(&o, &h, &err), &err);
  return h;
}

/* Prequential accuracy of a head over all flowers, in order. */
static double prequential(const flowers *f, uint32_t flags) {
  static ims_head_result res[NFLOWERS];
  ims_head *h = flower_head(f, flags);
  ims_error err = {0};
  ASSERT_OK(ims_head_step(h, f->n, f->rows, (const char *const *)f->labels,
                          res, &err),
            &err);
  size_t right = 0;
  for (size_t i = 0; i < f->n; i++) {
    ASSERT_EQ(res[i].status, IMS_OK);
    right += res[i].label != NULL && strcmp(res[i].label, f->labels[i]) == 0;
  }
  ASSERT_EQ(ims_head_seen(h), f->n);
  ASSERT_EQ(ims_head_class_count(h), 5);
  ims_head_destroy(h);
  return (double)right / (double)f->n;
}

/* ---- 4. learning ---- */

/* The default head (LDA) learns the flowers better than nearest class
 * mean, and both are far above chance (1 in 5). The issue measured 80.5%
 * and 75.8% on this order; the bars leave room for other CPUs' rounding. */
TEST(learn_head_flowers_prequential) {
  const flowers *f = real_flowers();
  double lda = prequential(f, 0), ncm = prequential(f, IMS_HEAD_FLAG_NCM);
  fprintf(stderr, "prequential over %zu flowers: LDA %.1f%%, NCM %.1f%%\n",
          f->n, 100 * lda, 100 * ncm);
  ASSERT(lda > ncm);
  ASSERT(lda >= 0.75);
  ASSERT(ncm >= 0.60);
}

/* Held out: learn the first 330, then ims_head_predict the other 100;
 * the probabilities sum to 1 and their best is the label most times. */
TEST(learn_head_flowers_held_out) {
  static ims_head_result res[NFLOWERS];
  const flowers *f = real_flowers();
  ims_head *h = flower_head(f, 0);
  ims_error err = {0};
  ASSERT_OK(ims_head_step(h, 330, f->rows, (const char *const *)f->labels,
                          res, &err),
            &err);
  ASSERT_OK(ims_head_fit(h, &err), &err);
  size_t right = 0;
  for (size_t i = 330; i < f->n; i++) {
    float probs[5];
    ims_head_predict(h, f->rows[i], probs);
    double sum = 0;
    size_t best = 0;
    for (size_t c = 0; c < 5; c++) {
      sum += probs[c];
      if (probs[c] > probs[best]) best = c;
    }
    ASSERT(fabs(sum - 1) < 1e-4);
    right += strcmp(ims_head_class_label(h, best), f->labels[i]) == 0;
  }
  fprintf(stderr, "held out: %zu/100\n", right);
  ASSERT(right >= 80);
  ims_head_destroy(h);
}

/* The scores mean something: over the prequential run, the expected
 * calibration error (10 bins of the score) stays small - LDA's raw
 * posteriors would say 1.0000 for nearly every row, right or wrong - and
 * right predictions score higher than wrong ones on average. */
TEST(learn_head_flowers_calibrated) {
  static ims_head_result res[NFLOWERS];
  const flowers *f = real_flowers();
  ims_head *h = flower_head(f, 0);
  ims_error err = {0};
  ASSERT_OK(ims_head_step(h, f->n, f->rows, (const char *const *)f->labels,
                          res, &err),
            &err);
  double n[10] = {0}, conf[10] = {0}, acc[10] = {0}, right = 0, wrong = 0;
  size_t nright = 0, nwrong = 0, sure = 0, scored = 0;
  for (size_t i = 0; i < f->n; i++) {
    if (res[i].label == NULL) continue;
    bool ok = strcmp(res[i].label, f->labels[i]) == 0;
    int b = res[i].score >= 1 ? 9 : (int)(res[i].score * 10);
    n[b]++;
    conf[b] += res[i].score;
    acc[b] += ok;
    if (ok) right += res[i].score, nright++;
    else wrong += res[i].score, nwrong++;
    sure += res[i].score > 0.999f;
    scored++;
  }
  double ece = 0;
  for (int b = 0; b < 10; b++)
    if (n[b] > 0) ece += fabs(conf[b] - acc[b]) / (double)scored;
  fprintf(stderr,
          "calibration: ECE %.3f, mean score right %.3f, wrong %.3f, "
          "%zu of %zu above 0.999\n",
          ece, right / (double)nright, wrong / (double)nwrong, sure, scored);
  ASSERT(ece < 0.2);
  ASSERT(right / (double)nright > wrong / (double)nwrong + 0.1);
  ASSERT(sure < scored / 4);
  ims_head_destroy(h);
}

/* ---- 5. determinism and round trips ---- */

static void same_results(const ims_head_result *a, const ims_head_result *b,
                         size_t n) {
  for (size_t i = 0; i < n; i++) {
    ASSERT_EQ(a[i].status, b[i].status);
    ASSERT_EQ(a[i].index, b[i].index);
    if (memcmp(&a[i].score, &b[i].score, sizeof(float)) != 0)
      TEST__FAIL("sample %zu: score %.9g != %.9g", i, (double)a[i].score,
                 (double)b[i].score);
    ASSERT((a[i].label == NULL) == (b[i].label == NULL));
    if (a[i].label != NULL) ASSERT_STR_EQ(a[i].label, b[i].label);
  }
}

/* Feed n samples in chunks of sizes[0], sizes[1], ... (cycled; 0 = all
 * at once); returns the encoded head. */
static bytes feed(ims_head *h, size_t n, const float *const *rows,
                  const char *const *labels, const size_t *sizes,
                  size_t nsizes, ims_head_result *res) {
  ims_error err = {0};
  for (size_t at = 0, k = 0; at < n; k++) {
    size_t len = sizes[k % nsizes] ? sizes[k % nsizes] : n;
    if (len > n - at) len = n - at;
    ASSERT_OK(ims_head_step(h, len, rows + at, labels + at, res + at, &err),
              &err);
    at += len;
  }
  return encode(h);
}

/* Three heads made by make(ctx) fed n samples one a call, all in one
 * call and in uneven chunks (some across a fold of 32) end with the same
 * bytes and gave the same results. `refits`: they refit (not NCM). */
static void check_chunking(ims_head *(*make)(void *), void *ctx, size_t n,
                           const float *const *rows,
                           const char *const *labels, bool refits) {
  static const size_t one[] = {1}, all[] = {0},
                      uneven[] = {3, 1, 31, 2, 33, 64, 5, 7};
  static ims_head_result r1[NFLOWERS], r2[NFLOWERS], r3[NFLOWERS];
  ims_head *a = make(ctx), *b = make(ctx), *c = make(ctx);
  bytes ea = feed(a, n, rows, labels, one, 1, r1);
  bytes eb = feed(b, n, rows, labels, all, 1, r2);
  bytes ec = feed(c, n, rows, labels, uneven, 8, r3);
  if (refits) ASSERT(ims_head_refits(a) >= 3);
  ASSERT(same_bytes(ea, eb));
  ASSERT(same_bytes(ea, ec));
  same_results(r1, r2, n);
  same_results(r1, r3, n);
  free(ea.p);
  free(eb.p);
  free(ec.p);
  ims_head_destroy(a);
  ims_head_destroy(b);
  ims_head_destroy(c);
}

static ims_head *make_synthetic(void *flags) {
  return new_head(*(uint32_t *)flags);
}

static ims_head *make_flower(void *f) { return flower_head(f, 0); }

/* One sample a call, all in one call, and uneven chunks give the same
 * bytes and the same results, bit for bit: synthetic (with unlabeled
 * samples) for each flag set, and the real features. */
TEST(learn_head_chunking_same_bits) {
  const synth *s = synthetic();
  uint32_t flag_sets[] = {0, IMS_HEAD_FLAG_NCM, IMS_HEAD_FLAG_NO_SQRT};
  for (size_t i = 0; i < 3; i++)
    check_chunking(make_synthetic, &flag_sets[i], NSYN, s->rows, s->labels,
                   flag_sets[i] != IMS_HEAD_FLAG_NCM);
  const flowers *f = real_flowers();
  check_chunking(make_flower, (void *)f, 150, f->rows,
                 (const char *const *)f->labels, true);
}

static ims_head *decode_ok(bytes b, const ims_head_options *expect) {
  ims_head *h = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_head_decode(b.p, b.n, expect, &h, &err), &err);
  return h;
}

/* encode -> decode -> encode gives the same bytes; then the original and
 * the decoded head learn samples [n, NSYN) alike (bytes and results). */
static void check_round_trip(uint32_t flags, size_t n) {
  static ims_head_result r1[NSYN], r2[NSYN];
  static const size_t one[] = {1};
  const synth *s = synthetic();
  ims_head *a = learned_head(flags, n);
  bytes e1 = encode(a);
  ims_head *b = decode_ok(e1, NULL);
  bytes e2 = encode(b);
  ASSERT(same_bytes(e1, e2));
  ASSERT_EQ(ims_head_seen(b), ims_head_seen(a));
  ASSERT_EQ(ims_head_refits(b), ims_head_refits(a));
  ASSERT_STR_EQ(ims_head_model_id(b), MODEL);
  ASSERT_STR_EQ(ims_head_feature_layer(b), LAYER);
  ASSERT_EQ(ims_head_feature_count(b), D);
  bytes f1 = feed(a, NSYN - n, s->rows + n, s->labels + n, one, 1, r1);
  bytes f2 = feed(b, NSYN - n, s->rows + n, s->labels + n, one, 1, r2);
  ASSERT(same_bytes(f1, f2));
  same_results(r1, r2, NSYN - n);
  free(e1.p);
  free(e2.p);
  free(f1.p);
  free(f2.p);
  ims_head_destroy(a);
  ims_head_destroy(b);
}

/* Round trips at every kind of state: empty, one class, before the first
 * refit, with samples pending a fold, after refits; per flag set. */
TEST(learn_head_round_trip) {
  static const size_t at[] = {0, 1, 5, 33, 64, 100, 250};
  uint32_t flag_sets[] = {0, IMS_HEAD_FLAG_NCM, IMS_HEAD_FLAG_NO_SQRT};
  for (size_t f = 0; f < 3; f++)
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
      check_round_trip(flag_sets[f], at[i]);
}

/* The files round-trip whatever the API lets a caller do: ims_head_fit
 * called again and again, and features that are not finite. */
TEST(learn_head_round_trip_odd_use) {
  ims_head *h = learned_head(0, 12);
  ims_error err = {0};
  for (int i = 0; i < 40; i++) ASSERT_OK(ims_head_fit(h, &err), &err);
  ASSERT(ims_head_refits(h) > ims_head_seen(h));
  bytes e = encode(h);
  ims_head_destroy(decode_ok(e, NULL));
  free(e.p);
  ims_head_destroy(h);

  h = learned_head(0, 40);
  float bad[3][D];
  for (size_t j = 0; j < D; j++) {
    bad[0][j] = j == 3 ? NAN : 1.0f;
    bad[1][j] = j == 5 ? INFINITY : 0.5f;
    bad[2][j] = -INFINITY;
  }
  const float *rows[3] = {bad[0], bad[1], bad[2]};
  const char *labels[3] = {"alpha", "beta", "epsilon"};
  ims_head_result res[3];
  ASSERT_OK(ims_head_step(h, 3, rows, labels, res, &err), &err);
  for (int i = 0; i < 3; i++) ASSERT(isfinite(res[i].score));
  ASSERT_OK(ims_head_fit(h, &err), &err);
  e = encode(h);
  ims_head *back = decode_ok(e, NULL);
  float probs[5];
  ims_head_predict(back, synthetic()->rows[0], probs);
  for (int c = 0; c < 5; c++) ASSERT(isfinite(probs[c]));
  ims_head_destroy(back);
  free(e.p);
  ims_head_destroy(h);
}

/* ---- 6. damaged files ---- */

/* A head with 4 classes, a covariance factor and samples pending: every
 * section of the file is present. */
static bytes full_file(void) {
  ims_head *h = learned_head(0, 100);
  bytes b = encode(h);
  ims_head_destroy(h);
  layout l = walk(b);
  ASSERT_EQ(l.classes, 4);
  ASSERT(l.pending > 0);
  ASSERT(get32(b.p + O_FLAGS) & 0x100u);
  return b;
}

/* Every cut point: as is (the last 4 bytes are then not the CRC), and
 * with a valid CRC over what is left, so the structure is what fails. */
TEST(learn_head_truncated) {
  bytes b = full_file();
  layout l = walk(b);
  for (size_t n = 0; n < b.n; n++) {
    refused((bytes){b.p, n}, NULL, IMS_ERR_BAD_HEAD, "");
    if (n < 12) continue;
    bytes t = splice(b, n - 4, b.n - n + 4, "\0\0\0\0", 4);
    fix_crc(t);
    const char *what = n - 4 < O_MODEL ? "truncated header"
                       : n - 4 < l.layer ? "model identity"
                       : n - 4 < l.label[0] ? "feature layer"
                       : n - 4 < l.s ? "class"
                                     : "truncated or oversized arrays";
    if (n - 4 < O_FLAGS) what = n - 4 < O_VERSION ? "signature" : "header";
    refused(t, NULL, IMS_ERR_BAD_HEAD, what);
    free(t.p);
  }
  bytes longer = splice(b, l.crc, 0, "x", 1);
  fix_crc(longer);
  refused(longer, NULL, IMS_ERR_BAD_HEAD, "truncated or oversized arrays");
  free(longer.p);
  free(b.p);
}

/* Any one byte changed: refused (the checksum, or a check before it). */
TEST(learn_head_flipped_byte) {
  bytes b = full_file();
  for (size_t i = 0; i < b.n; i++)
    for (unsigned bit = 1; bit < 256; bit <<= 3) {
      b.p[i] ^= (unsigned char)bit;
      refused(b, NULL, IMS_ERR_BAD_HEAD, "");
      b.p[i] ^= (unsigned char)bit;
    }
  ims_head_destroy(decode_ok(b, NULL)); /* each flip was undone */
  b.p[b.n / 2] ^= 0x40;
  refused(b, NULL, IMS_ERR_BAD_HEAD, "checksum");
  free(b.p);
}

TEST(learn_head_magic_and_version) {
  bytes b = full_file();
  b.p[0] = 'X';
  refused(b, NULL, IMS_ERR_BAD_HEAD, "no IMSHEAD signature");
  b.p[0] = 'I';
  put32(b.p + O_VERSION, 1); /* the inverse's format, before the factor */
  fix_crc(b);
  refused(b, NULL, IMS_ERR_BAD_HEAD, "version 1");
  refused(b, NULL, IMS_ERR_BAD_HEAD, "reads version 2");
  put32(b.p + O_VERSION, 3);
  fix_crc(b);
  refused(b, NULL, IMS_ERR_BAD_HEAD, "version 3");
  refused((bytes){(unsigned char *)"IMSHEAD\n", 8}, NULL, IMS_ERR_BAD_HEAD,
          "size");
  ims_head *h = NULL;
  ims_error err = {0};
  ASSERT_EQ(ims_head_decode(NULL, 10, NULL, &h, &err), IMS_ERR_INVALID_ARG);
  ASSERT_EQ(ims_head_decode(b.p, b.n, NULL, NULL, &err), IMS_ERR_INVALID_ARG);
  free(b.p);
}

/* c decodes without `expect`; then it is freed. */
static void accepted(bytes c) {
  ims_head_destroy(decode_ok(c, NULL));
  free(c.p);
}

/* Set the `width`-byte field at `at` of a copy of b to v, fix the CRC,
 * expect `what`. */
static void bad_field(bytes b, size_t at, int width, uint64_t v,
                      const char *what) {
  bytes c = splice(b, 0, 0, "", 0);
  if (width == 4) put32(c.p + at, (uint32_t)v);
  else put64(c.p + at, v);
  fix_crc(c);
  refused(c, NULL, IMS_ERR_BAD_HEAD, what);
  free(c.p);
}
static void bad_u32(bytes b, size_t at, uint32_t v, const char *what) {
  bad_field(b, at, 4, v, what);
}
static void bad_u64(bytes b, size_t at, uint64_t v, const char *what) {
  bad_field(b, at, 8, v, what);
}

TEST(learn_head_bad_header_fields) {
  bytes b = full_file();
  uint64_t n = get64(b.p + O_N);
  bad_u32(b, O_FLAGS, get32(b.p + O_FLAGS) | 0x4, "unknown flags");
  bad_u32(b, O_FLAGS, get32(b.p + O_FLAGS) & ~0x100u, "arrays");
  bad_u32(b, O_D, 0, "feature count out of range");
  bad_u32(b, O_D, 65537, "feature count out of range");
  bad_u32(b, O_D, D + 1, "truncated or oversized arrays");
  bad_u32(b, O_FOLD, 31, "pending samples out of range");
  bad_u32(b, O_PENDING, 32, "pending samples out of range");
  bad_u32(b, O_REFIT_MIN, 0, "refit schedule out of range");
  bad_u32(b, O_GROWTH, 0, "refit schedule out of range");
  bad_u32(b, O_GROWTH, 100001, "refit schedule out of range");
  bad_u64(b, O_NEXT, n, "refit schedule out of range");
  bad_u64(b, O_N, n + 1, "class counts do not add up");
  bad_u64(b, O_N, n - 1, "class counts do not add up");
  bad_u32(b, O_C, 3, "class counts do not add up");
  bad_u32(b, O_C, 5, "not a valid learned head");
  /* The calibration sums: negative, NaN, infinite. */
  bad_u64(b, O_CALIB + 8 * 3, 0xbff0000000000000ull,
          "calibration sums out of range");
  bad_u64(b, O_CALIB, 0x7ff8000000000000ull, "calibration sums out of range");
  bad_u64(b, O_CALIB + 8 * 20, 0x7ff0000000000000ull,
          "calibration sums out of range");
  free(b.p);

  ims_head *h = learned_head(0, 3); /* N = 3, all pending */
  b = encode(h);
  ims_head_destroy(h);
  ASSERT_EQ(get32(b.p + O_PENDING), 3);
  bad_u32(b, O_PENDING, 4, "pending samples out of range");
  free(b.p);
}

TEST(learn_head_bad_strings) {
  bytes b = full_file();
  layout l = walk(b);
  char big[1100];
  memset(big, 'm', sizeof big);
  struct {
    size_t at;
    const char *s;
    size_t n;
    const char *what;
  } cases[] = {
      {O_MODEL, "", 0, "bad model identity"},
      {O_MODEL, big, 1025, "bad model identity"},
      {O_MODEL, "a\0b", 3, "bad model identity"},
      {l.layer, big, 1025, "bad feature layer name"},
      {l.label[1], "", 0, "bad class label"},
      {l.label[1], big, 256, "bad class label"},
      {l.label[1], "ro\nse", 5, "bad class label"},
      {l.label[1], "ro\x7fse", 5, "bad class label"},
      {l.label[1], "ro\0se", 5, "bad class label"},
      {l.label[3], "alpha", 5, "a class label appears twice"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    bytes c = set_str(b, cases[i].at, cases[i].s, cases[i].n);
    refused(c, NULL, IMS_ERR_BAD_HEAD, cases[i].what);
    free(c.p);
  }
  /* the longest label and model identity are fine */
  accepted(set_str(b, l.label[1], big, 255));
  accepted(set_str(b, O_MODEL, big, 1024));
  free(b.p);
}

TEST(learn_head_bad_counts) {
  bytes b = full_file();
  layout l = walk(b);
  uint64_t c0 = get64(b.p + l.count[0]), c1 = get64(b.p + l.count[1]);
  bad_u64(b, l.count[0], 0, "class counts do not add up");
  bad_u64(b, l.count[0], c0 + 1, "class counts do not add up");
  bad_u64(b, l.count[0], UINT64_MAX, "class counts do not add up");
  /* moved from one class to another: consistent, so accepted */
  bytes c = splice(b, 0, 0, "", 0);
  put64(c.p + l.count[0], c0 + 1);
  put64(c.p + l.count[1], c1 - 1);
  fix_crc(c);
  accepted(c);
  free(b.p);
}

/* A non-finite number in each array, as a NaN, +inf and -inf. */
TEST(learn_head_not_finite) {
  bytes b = full_file();
  layout l = walk(b);
  struct {
    size_t at;
    int f32;
    const char *what;
  } cases[] = {
      {l.s + 8 * 3, 0, "a class sum is not finite"},
      {l.u + 8 * (D + 1), 0, "a class sum is not finite"},
      {l.q + 8 * 20, 0, "second moments are not finite"},
      {l.pend + 4 * 7, 1, "pending sample is not finite"},
      {l.p + 4 * 30, 1, "covariance factor is not finite"},
      {l.crc - 4, 1, "covariance factor is not finite"},
  };
  const uint64_t d_bits[] = {0x7ff8000000000000ull, 0x7ff0000000000000ull,
                             0xfff0000000000000ull};
  const uint32_t f_bits[] = {0x7fc00001u, 0x7f800000u, 0xff800000u};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (size_t k = 0; k < 3; k++) {
      if (cases[i].f32) bad_u32(b, cases[i].at, f_bits[k], cases[i].what);
      else bad_u64(b, cases[i].at, d_bits[k], cases[i].what);
    }
  /* The factor's first diagonal entry zero, then negative: every solve
   * would divide by it. */
  bad_u32(b, l.p, 0x00000000u, "diagonal is not positive");
  bad_u32(b, l.p, 0xbf800000u, "diagonal is not positive");
  free(b.p);
}

/* A file declaring `classes` classes of 7-byte labels ("0200000",
 * "0199999", ...: not sorted), d = 1; *labels_out = where the first
 * class entry is. */
static bytes many_classes(uint32_t classes, size_t *labels_out) {
  ims_head *h = NULL;
  ims_head_options o = options(1, IMS_HEAD_FLAG_NCM);
  ims_error err = {0};
  ASSERT_OK(ims_head_create(&o, &h, &err), &err);
  bytes e = encode(h);
  ims_head_destroy(h);
  size_t at = walk(e).s; /* 0 classes: the arrays are Q's one value */
  size_t n = at + (size_t)classes * (19 + 16) + 8 + 4;
  bytes b = {calloc(1, n), n};
  ASSERT(b.p != NULL);
  memcpy(b.p, e.p, at);
  put32(b.p + O_C, classes);
  put64(b.p + O_N, classes);
  put64(b.p + O_NEXT, (uint64_t)classes + 10);
  unsigned char *p = b.p + at;
  for (uint32_t c = 0; c < classes; c++, p += 19) {
    put32(p, 7);
    snprintf((char *)p + 4, 8, "%07u", classes - c);
    put64(p + 11, 1);
  }
  fix_crc(b);
  free(e.p);
  *labels_out = at;
  return b;
}

/* 200,000 classes: refused at once with a limit (before anything is
 * read), and without one read in a moment: the check for duplicate
 * labels is not quadratic (it was: about 2 * 10^10 comparisons). */
TEST(learn_head_many_classes) {
  enum { MANY = 200000 };
  size_t at;
  bytes b = many_classes(MANY, &at);
  ims_head_options expect = options(1, 0);
  refused(b, &expect, IMS_ERR_TOO_LARGE, "200000 classes");
  refused(b, &expect, IMS_ERR_TOO_LARGE, "limit 1000");
  double t0 = test_now();
  ims_head *h = decode_ok(b, NULL);
  double took = test_now() - t0;
  fprintf(stderr, "%d classes decoded in %.2f s\n", MANY, took);
  ASSERT(took < 10);
  ASSERT_EQ(ims_head_class_count(h), MANY);
  ims_head_destroy(h);
  /* a duplicate far apart is still found */
  memcpy(b.p + at + 19 * (MANY - 1) + 4, b.p + at + 4, 7);
  fix_crc(b);
  refused(b, NULL, IMS_ERR_BAD_HEAD, "a class label appears twice");
  free(b.p);
}

/* ---- 7. identity and limits ---- */

TEST(learn_head_identity) {
  bytes b = full_file();
  ims_head_options e = options(D, 0);
  ims_head_destroy(decode_ok(b, &e));
  e.model_id = "sha256:another";
  refused(b, &e, IMS_ERR_BAD_HEAD, "made with model " MODEL);
  refused(b, &e, IMS_ERR_BAD_HEAD, "this is sha256:another");
  e = options(D + 1, 0);
  refused(b, &e, IMS_ERR_BAD_HEAD, "16 features; the model gives 17");
  e = options(D, 0);
  e.feature_layer = "other/layer";
  refused(b, &e, IMS_ERR_BAD_HEAD, "\"" LAYER "\"");
  refused(b, &e, IMS_ERR_BAD_HEAD, "\"other/layer\"");
  e.feature_layer = NULL; /* "" = found from the graph: another name */
  refused(b, &e, IMS_ERR_BAD_HEAD, "feature layer");
  e = options(D, 0);
  e.max_classes = 3;
  refused(b, &e, IMS_ERR_TOO_LARGE, "4 classes, more than the limit 3");
  e.max_classes = 4;
  ims_head *h = decode_ok(b, &e);
  /* the limit holds for what the decoded head learns next */
  const float *row = synthetic()->rows[0];
  const char *label = "epsilon";
  ims_head_result r;
  ims_error err = {0};
  ASSERT_OK(ims_head_step(h, 1, &row, &label, &r, &err), &err);
  ASSERT_EQ(r.status, IMS_ERR_TOO_LARGE);
  ims_head_destroy(h);
  free(b.p);
}

/* A sample that cannot be learned is predicted and changes nothing: the
 * head that met it, then a sample of class "a", has the same bytes as a
 * copy that met only the second. */
static void not_learned(ims_head *h, const char *label, ims_status want) {
  bytes before = encode(h);
  ims_head *twin = decode_ok(before, NULL);
  const synth *s = synthetic();
  const float *rows[2] = {s->rows[0], s->rows[1]};
  const char *labels[2] = {label, "a"};
  ims_head_result r[2];
  ims_error err = {0};
  ASSERT_OK(ims_head_step(h, 2, rows, labels, r, &err), &err);
  ASSERT_EQ(r[0].status, want);
  ASSERT(r[0].index >= 0 && r[0].label != NULL);
  ASSERT_EQ(r[1].status, IMS_OK);
  ASSERT_OK(ims_head_step(twin, 1, rows + 1, labels + 1, r, &err), &err);
  bytes a = encode(h), b = encode(twin);
  ASSERT(same_bytes(a, b));
  free(before.p);
  free(a.p);
  free(b.p);
  ims_head_destroy(twin);
}

TEST(learn_head_step_limits) {
  ims_head_options o = options(D, 0);
  o.max_classes = 3;
  ims_head *h = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_head_create(&o, &h, &err), &err);
  const synth *s = synthetic();
  ims_head_result r[8];
  const char *labels[4] = {"a", "b", "c", "d"};
  ASSERT_OK(ims_head_step(h, 4, s->rows, labels, r, &err), &err);
  ASSERT_EQ(r[3].status, IMS_ERR_TOO_LARGE);
  ASSERT_EQ(ims_head_class_count(h), 3);
  ASSERT_EQ(ims_head_seen(h), 3);
  not_learned(h, "d", IMS_ERR_TOO_LARGE);
  char long_label[300];
  memset(long_label, 'x', sizeof long_label);
  long_label[256] = '\0';
  not_learned(h, long_label, IMS_ERR_INVALID_ARG);
  not_learned(h, "new\nline", IMS_ERR_INVALID_ARG);
  not_learned(h, "tab\there", IMS_ERR_INVALID_ARG);
  not_learned(h, "del\x7f", IMS_ERR_INVALID_ARG);
  not_learned(h, "", IMS_OK);
  not_learned(h, NULL, IMS_OK);
  /* a known class is learned even at the limit; 255 bytes is a label */
  const char *known = "b";
  ASSERT_OK(ims_head_step(h, 1, s->rows, &known, r, &err), &err);
  ASSERT_EQ(ims_head_seen(h), 3 + 7 + 1);
  ASSERT_EQ(ims_head_class_seen(h, 0), 1 + 7);
  ASSERT_EQ(ims_head_class_seen(h, 1), 2);
  ims_head_destroy(h);
  long_label[255] = '\0';
  h = new_head(0);
  const char *l255 = long_label;
  ASSERT_OK(ims_head_step(h, 1, s->rows, &l255, r, &err), &err);
  ASSERT_EQ(r[0].status, IMS_OK);
  ASSERT_EQ(r[0].index, -1); /* nothing known before it */
  ASSERT_STR_EQ(ims_head_class_label(h, 0), long_label);
  ims_head_destroy(h);
}

TEST(learn_head_create_errors) {
  ims_head *h = NULL;
  ims_error err = {0};
  ims_head_options o = options(D, 0);
  o.model_id = NULL;
  ASSERT_EQ(ims_head_create(&o, &h, &err), IMS_ERR_INVALID_ARG);
  ASSERT_CONTAINS(err.message, "model identity");
  o.model_id = "";
  ASSERT_EQ(ims_head_create(&o, &h, &err), IMS_ERR_INVALID_ARG);
  o = options(0, 0);
  ASSERT_EQ(ims_head_create(&o, &h, &err), IMS_ERR_INVALID_ARG);
  ASSERT_CONTAINS(err.message, "0 features");
  o = options(65537, 0);
  ASSERT_EQ(ims_head_create(&o, &h, &err), IMS_ERR_INVALID_ARG);
  /* what the file cannot hold is refused here, not when it is read */
  char big[1100];
  memset(big, 'm', sizeof big);
  big[1025] = '\0';
  o = options(D, 0);
  o.model_id = big;
  ASSERT_EQ(ims_head_create(&o, &h, &err), IMS_ERR_INVALID_ARG);
  ASSERT_CONTAINS(err.message, "model identity");
  o = options(D, 0);
  o.feature_layer = big;
  ASSERT_EQ(ims_head_create(&o, &h, &err), IMS_ERR_INVALID_ARG);
  ASSERT_CONTAINS(err.message, "feature layer");
  o = options(D, 0);
  o.refit_growth_pct = 100001;
  ASSERT_EQ(ims_head_create(&o, &h, &err), IMS_ERR_INVALID_ARG);
  ASSERT_CONTAINS(err.message, "growth");
  ASSERT(h == NULL);
  o.refit_growth_pct = 100000;
  o.refit_min = 1;
  ASSERT_OK(ims_head_create(&o, &h, &err), &err);
  bytes e = encode(h);
  ims_head_destroy(decode_ok(e, NULL));
  free(e.p);
  ims_head_destroy(h);
}

/* ---- 8. files on disk ---- */

TEST(learn_head_files) {
  ims_head *h = learned_head(0, 100);
  char path[4096], dir[4096];
  snprintf(path, sizeof path, "%s", tmp_path("learn_head.head"));
  snprintf(dir, sizeof dir, "%s", tmp_path("learn_head_dir"));
  ims_error err = {0};
  ASSERT_OK(ims_head_save(h, path, &err), &err);
  bytes e = encode(h), onfile = {0};
  onfile.p = test_read_file(path, &onfile.n);
  ASSERT(same_bytes(e, onfile));
  ims_head_options expect = options(D, 0);
  ims_head *back = NULL;
  ASSERT_OK(ims_head_load(path, &expect, &back, &err), &err);
  ims_head_destroy(back);
  /* damaged and foreign files: the message starts with the path */
  onfile.p[onfile.n - 1] ^= 1;
  ASSERT_EQ(test_write_file(path, onfile.p, onfile.n), 0);
  ASSERT_EQ(ims_head_load(path, &expect, &back, &err), IMS_ERR_BAD_HEAD);
  ASSERT_CONTAINS(err.message, test_strf("%s: not a valid", path));
  ASSERT_OK(ims_head_save(h, path, &err), &err);
  expect.model_id = "sha256:other";
  ASSERT_EQ(ims_head_load(path, &expect, &back, &err), IMS_ERR_BAD_HEAD);
  ASSERT_CONTAINS(err.message, test_strf("%s: learned head was made", path));
  /* missing file, a folder, a save into a missing folder */
  const char *missing = test_strf("%s/none.head", dir);
  rmdir(dir);
  ASSERT_EQ(ims_head_load(missing, NULL, &back, &err), IMS_ERR_NOT_FOUND);
  ASSERT_CONTAINS(err.message, missing);
  ASSERT_EQ(ims_head_save(h, missing, &err), IMS_ERR_IO);
  ASSERT_CONTAINS(err.message, missing);
  ASSERT_CONTAINS(err.message, "No such file or directory");
  ASSERT_EQ(mkdir(dir, 0755), 0);
  ASSERT_EQ(ims_head_load(dir, NULL, &back, &err), IMS_ERR_IO);
  ASSERT_CONTAINS(err.message, test_strf("%s: is a directory", dir));
  ASSERT_EQ(ims_head_save(h, test_strf("%s/", dir), &err),
            IMS_ERR_INVALID_ARG);
  ASSERT_EQ(ims_head_save(h, dir, &err), IMS_ERR_IO); /* rename fails */
  ASSERT_CONTAINS(err.message, dir);
  unlink(tmp_path(".learn_head_dir.tmp")); /* what the save left */
  rmdir(dir);
  unlink(path);
  free(e.p);
  free(onfile.p);
  ims_head_destroy(h);
}

TEST_MAIN(learn_head_flowers_prequential, learn_head_flowers_held_out,
          learn_head_flowers_calibrated,
          learn_head_chunking_same_bits, learn_head_round_trip,
          learn_head_round_trip_odd_use, learn_head_truncated,
          learn_head_flipped_byte, learn_head_magic_and_version,
          learn_head_bad_header_fields, learn_head_bad_strings,
          learn_head_bad_counts, learn_head_not_finite,
          learn_head_many_classes, learn_head_identity,
          learn_head_step_limits, learn_head_create_errors,
          learn_head_files)
