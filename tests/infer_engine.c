/* SPDX-License-Identifier: Apache-2.0 */
/*
 * infer_engine.c - engine behavior beyond single-image accuracy: batches
 * give the same answers as single images, thread counts do not change
 * results, batch sizes outside 1..max_batch are refused, an engine
 * switches between batch sizes freely, a one-thread engine (which runs a
 * batch image by image) gives each image the bits a single run gives, for
 * quantized and float models, and adaptive threading (running on the
 * calling thread alone when that is faster) changes no result, nor
 * does splitting one image's layers over a team.
 */
#include "core/team_int.h"
#include "infer/infer_int.h"
#include "support/float_model.h"
#include "imgstream/imgstream.h"
#include "test.h"

#define IMG_BYTES (224 * 224 * 3)
#define BATCH 5

static const char *const inputs[BATCH] = {
    "images__parrot", "images__cat_720p", "images__grace_hopper",
    "flowers__daisy__10993818044_4c19b86c82", "images__sunflower"};

static unsigned char *load_batch(void) {
  unsigned char *buf = malloc(BATCH * IMG_BYTES);
  ASSERT(buf != NULL);
  for (int i = 0; i < BATCH; i++) {
    char rel[256];
    size_t size = 0;
    snprintf(rel, sizeof rel, "reference/armnn-cpuref/%s.rgb", inputs[i]);
    unsigned char *one = test_read_file(shared_path(rel), &size);
    ASSERT(one != NULL && size == IMG_BYTES);
    memcpy(buf + (size_t)i * IMG_BYTES, one, IMG_BYTES);
    free(one);
  }
  return buf;
}

static ims_engine *make_engine(ims_model *model, uint32_t threads,
                               uint32_t max_batch) {
  ims_error err = {0};
  ims_engine *engine = NULL;
  ims_engine_options opt = {.threads = threads, .max_batch = max_batch};
  ASSERT_OK(ims_engine_create(model, &opt, &engine, &err), &err);
  return engine;
}

/* Scores a and b of one image agree: the same bits (tol 0), or within
 * tol of the larger. */
static void same_scores(const float *a, const float *b, float tol) {
  for (int k = 0; k < 1001; k++) {
    if (tol == 0) {
      ASSERT(a[k] == b[k]);
    } else {
      float m = fabsf(a[k]) > fabsf(b[k]) ? fabsf(a[k]) : fabsf(b[k]);
      ASSERT_LE(fabsf(a[k] - b[k]), tol * m);
    }
  }
}

/* Every image of a batch run on `batched` scores as alone on `single`
 * (within tol); then the batched engine goes to batch 1 and back. */
static void check_batch(ims_engine *batched, ims_engine *single,
                        const unsigned char *rgb, float tol) {
  ims_error err = {0};
  static float all[BATCH * 1001], one[1001], again[BATCH * 1001];
  ASSERT_OK(ims_engine_run(batched, rgb, BATCH, all, &err), &err);
  for (int i = 0; i < BATCH; i++) {
    ASSERT_OK(ims_engine_run(single, rgb + (size_t)i * IMG_BYTES, 1, one,
                             &err), &err);
    same_scores(one, all + i * 1001, tol);
  }
  ASSERT_OK(ims_engine_run(batched, rgb + 2 * IMG_BYTES, 1, one, &err), &err);
  same_scores(one, all + 2 * 1001, tol);
  ASSERT_OK(ims_engine_run(batched, rgb, BATCH, again, &err), &err);
  for (int i = 0; i < BATCH; i++)
    same_scores(again + i * 1001, all + i * 1001, tol);
}

/* Batched engines on 2 threads (the batch split inside each layer) and
 * on 1 (image by image) against single-image runs. */
static void batch_matches_single(const char *model_file) {
  ims_error err = {0};
  ims_model *model = NULL;
  ASSERT_OK(ims_model_load_file(shared_path(model_file), &model, &err), &err);
  unsigned char *rgb = load_batch();
  ims_engine *single = make_engine(model, 1, 1);
  for (uint32_t threads = 1; threads <= 2; threads++) {
    ims_engine *batched = make_engine(model, threads, 16);
    check_batch(batched, single, rgb, 0);
    ims_engine_destroy(batched);
  }
  ims_engine_destroy(single);
  ims_model_destroy(model);
  free(rgb);
}

TEST(infer_batch_matches_single_quant) {
  batch_matches_single("models/mobilenet_v2_1.0_224_quant.tflite");
}

TEST(infer_batch_matches_single_tf2_ptq) {
  batch_matches_single("models/tf2_mobilenet_v2_1.0_224_ptq.tflite");
}

/* The float twin of the quantized model (float activations: 4.8 MB per
 * image at the widest layer, the case image-by-image runs are for),
 * batched against single, on one thread (the same bits) and on two
 * (within 1e-5: on two threads an image may run with its oneDNN layers
 * split by rows or whole, on a helper or alone, as adaptive threading
 * decides, and oneDNN's f32 GEMM sums a split layer in another order:
 * ~1e-6 relative). */
TEST(infer_batch_matches_single_float) {
  ims_error err = {0};
  ims_model *quant = NULL, *model = NULL;
  ASSERT_OK(ims_model_load_file(
                shared_path("models/mobilenet_v2_1.0_224_quant.tflite"),
                &quant, &err), &err);
  char why[256];
  size_t size = 0;
  uint8_t *bytes = fm_float_model(quant, &size, why, sizeof why);
  if (bytes == NULL) TEST__FAIL("fm_float_model: %s", why);
  ims_status st = ims_model_load_memory(bytes, size, &model, &err);
  free(bytes);
  ASSERT_OK(st, &err);
  unsigned char *rgb = load_batch();
  ims_engine *single = make_engine(model, 1, 1);
  for (uint32_t threads = 1; threads <= 2; threads++) {
    ims_engine *batched = make_engine(model, threads, 16);
    check_batch(batched, single, rgb, threads == 1 ? 0 : 1e-5f);
    ims_engine_destroy(batched);
  }
  ims_engine_destroy(single);
  ims_model_destroy(model);
  ims_model_destroy(quant);
  free(rgb);
}

TEST(infer_batch_out_of_range_refused) {
  ims_error err = {0};
  ims_model *model = NULL;
  ASSERT_OK(ims_model_load_file(
                shared_path("models/mobilenet_v2_1.0_224_quant.tflite"),
                &model, &err), &err);
  ims_engine *engine = make_engine(model, 1, 2);
  static unsigned char rgb[3 * IMG_BYTES];
  static float out[3 * 1001];
  ASSERT_EQ(ims_engine_run(engine, rgb, 0, out, &err), IMS_ERR_INVALID_ARG);
  ASSERT_EQ(ims_engine_run(engine, rgb, 3, out, &err), IMS_ERR_INVALID_ARG);
  ASSERT_CONTAINS(err.message, "1 to 2");
  ASSERT_OK(ims_engine_run(engine, rgb, 2, out, &err), &err);
  ims_engine_destroy(engine);
  ims_engine_destroy(NULL);
  ims_model_destroy(model);
}

/* Runs that skip the pool (the second run always does: it measures the
 * calling thread alone) give the same bytes as runs on the pool; with
 * IMS_ENGINE_FLAG_FIXED_THREADS every run uses the pool. */
static void adaptive_threads_same_results(const char *model_file) {
  ims_error err = {0};
  ims_model *model = NULL;
  ASSERT_OK(ims_model_load_file(shared_path(model_file), &model, &err), &err);
  unsigned char *rgb = load_batch();
  ims_engine *adaptive = make_engine(model, 2, BATCH);
  ims_engine *fixed = NULL;
  ims_engine_options opt = {.threads = 2, .max_batch = BATCH,
                            .flags = IMS_ENGINE_FLAG_FIXED_THREADS};
  ASSERT_OK(ims_engine_create(model, &opt, &fixed, &err), &err);
  static float want[BATCH * 1001], got[BATCH * 1001];
  ASSERT_OK(ims_engine_run(fixed, rgb, BATCH, want, &err), &err);
  int solo_runs = 0, pool_runs = 0;
  for (int run = 0; run < 40; run++) {
    ASSERT_OK(ims_engine_run(adaptive, rgb, BATCH, got, &err), &err);
    ASSERT(memcmp(got, want, sizeof want) == 0);
    uint32_t used = ims_engine_threads_in_use(adaptive);
    ASSERT(used == 1 || used == 2);
    if (run == 0) ASSERT_EQ(used, 2u);
    if (run == 1) ASSERT_EQ(used, 1u);
    solo_runs += used == 1;
    pool_runs += used == 2;
    ASSERT_OK(ims_engine_run(fixed, rgb, BATCH, got, &err), &err);
    ASSERT_EQ(ims_engine_threads_in_use(fixed), 2u);
  }
  fprintf(stderr, "%s: %d runs alone, %d on 2 threads\n", model_file,
          solo_runs, pool_runs);
  ims_engine_destroy(adaptive);
  ims_engine_destroy(fixed);
  ims_engine *one = make_engine(model, 1, 1);
  ASSERT_EQ(ims_engine_threads_in_use(one), 1u);
  ims_engine_destroy(one);
  ASSERT_EQ(ims_engine_threads_in_use(NULL), 1u);
  ims_model_destroy(model);
  free(rgb);
}

TEST(infer_adaptive_threads_quant) {
  adaptive_threads_same_results("models/mobilenet_v2_1.0_224_quant.tflite");
}

TEST(infer_adaptive_threads_tf2_ptq) {
  adaptive_threads_same_results("models/tf2_mobilenet_v2_1.0_224_ptq.tflite");
}

/* One-image runs of a one-thread engine lent a team (the classifier's
 * runs of one image) give the bytes of the same engine alone; while lent
 * (IMS_ENGINE_FLAG_FIXED_THREADS: every run on it) the engine reports
 * the team's threads, and 1 again once it is taken back. */
static void team_same_results(const char *model_file) {
  ims_error err = {0};
  ims_model *model = NULL;
  ASSERT_OK(ims_model_load_file(shared_path(model_file), &model, &err), &err);
  unsigned char *rgb = load_batch();
  ims_engine *alone = make_engine(model, 1, 1), *lent = NULL;
  ims_engine_options opt = {.threads = 1, .max_batch = 1,
                            .flags = IMS_ENGINE_FLAG_FIXED_THREADS};
  ASSERT_OK(ims_engine_create(model, &opt, &lent, &err), &err);
  ims__team *team = NULL;
  ASSERT_OK(ims__team_create(1, &team, &err), &err);
  static float want[1001], got[1001];
  for (int run = 0; run < 3 * BATCH; run++) {
    const unsigned char *img = rgb + (size_t)(run % BATCH) * IMG_BYTES;
    ASSERT_OK(ims_engine_run(alone, img, 1, want, &err), &err);
    ims__engine_lend_team(lent, team);
    ASSERT_OK(ims_engine_run(lent, img, 1, got, &err), &err);
    ASSERT_EQ(ims_engine_threads_in_use(lent), 2u);
    ASSERT(memcmp(got, want, sizeof want) == 0);
    ims__engine_lend_team(lent, NULL);
    ASSERT_OK(ims_engine_run(lent, img, 1, got, &err), &err);
    ASSERT_EQ(ims_engine_threads_in_use(lent), 1u);
    ASSERT(memcmp(got, want, sizeof want) == 0);
  }
  ims__team_destroy(team);
  ims_engine_destroy(lent);
  ims_engine_destroy(alone);
  ims_model_destroy(model);
  free(rgb);
}

TEST(infer_team_quant) {
  team_same_results("models/mobilenet_v2_1.0_224_quant.tflite");
}

TEST(infer_team_tf2_ptq) {
  team_same_results("models/tf2_mobilenet_v2_1.0_224_ptq.tflite");
}

TEST_MAIN(infer_batch_matches_single_quant, infer_batch_matches_single_tf2_ptq,
          infer_batch_matches_single_float, infer_batch_out_of_range_refused,
          infer_adaptive_threads_quant, infer_adaptive_threads_tf2_ptq,
          infer_team_quant, infer_team_tf2_ptq)
