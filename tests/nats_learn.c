/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nats_learn.c - `imgstream stream --learn` on NATS workers: three workers
 * share one head through the stream of learned samples (IMAGES_LEARN),
 * over a real JetStream server, with the real tool, model and flowers.
 *
 *   one_head   150 images; worker 0 SIGKILLed mid-run and started again;
 *              when the stream has drained, the three HEAD files are
 *              byte-identical (one stream, folded in one order), each has
 *              learned every image once (the killed worker's redelivered
 *              images are de-duplicated by key), and after a refit from
 *              its sums each head predicts all 430 shared flowers like the
 *              head of one worker that saw all 150 images alone (same
 *              top-1; the largest probability difference is printed: the
 *              scores' temperature depends on the order samples came in);
 *              that lone worker's HEAD with an empty samples stream is
 *              refused as a head of another stream (exit 3)
 *
 * Threading: single-threaded; the tool and the server are children.
 */
#define _GNU_SOURCE
#include <math.h>
#include <signal.h>
#include <sys/types.h>

#include "imgstream/imgstream.h"
#include "support/nats_server.h"

enum { N = 150, W = 3 };

static const char *head_path(int i) {
  return test_strf("%s_h%d.head", tmp_path("nats_l"), i);
}

static pid_t start_worker(const nsrv *s, int i) {
  static char head[W + 1][4400];
  snprintf(head[i], sizeof head[i], "%s", head_path(i));
  const char *const extra[] = {"--learn", head[i], "--max-files-per-trigger",
                               "4", "--ack-wait", "2000", "--until-idle",
                               "8000", NULL};
  return nworker_start("nats_l", i, s, extra);
}

/* Features of every shared flower, from the default model. */
typedef struct flower_features {
  size_t n, d;
  float *f; /* n * d */
} flower_features;

static void extract(flower_features *ff, ims_classifier **clf_out) {
  ims_classifier_options o = {0};
  char model[4400], labels[4400];
  snprintf(model, sizeof model, "%s",
           shared_path("models/mobilenet_v2_1.0_224_quant.tflite"));
  snprintf(labels, sizeof labels, "%s",
           shared_path("models/imagenet_labels.txt"));
  o.model_path = model;
  o.labels_path = labels;
  o.engine_flags = IMS_ENGINE_FLAG_FEATURES;
  o.threads = 2;
  ims_error err = {0};
  ims_classifier *clf = NULL;
  ASSERT_OK(ims_classifier_create(&o, &clf, &err), &err);
  ims_dataset *ds = NULL;
  ASSERT_OK(ims_dataset_scan(shared_path("data/flowers"), &ds, &err), &err);
  ff->n = ims_dataset_count(ds);
  ff->d = ims_classifier_feature_count(clf);
  ff->f = malloc(ff->n * ff->d * sizeof *ff->f);
  for (size_t i = 0; i < ff->n; i++) {
    const char *p = ims_dataset_get(ds, i)->path;
    const ims_class_result *r = NULL;
    ASSERT_OK(ims_classifier_run_files(clf, 1, &p, &r, &err), &err);
    ASSERT_OK(r->error.status, &r->error);
    memcpy(ff->f + i * ff->d, r->features, ff->d * sizeof *ff->f);
  }
  ims_dataset_destroy(ds);
  *clf_out = clf;
}

static ims_head *load(const char *path) {
  ims_head *h = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_head_load(path, NULL, &h, &err), &err);
  return h;
}

/* Top-1 of every flower under heads a and b (refitted) must agree. */
static void compare_predictions(ims_head *a, ims_head *b,
                                const flower_features *ff) {
  size_t c = ims_head_class_count(a);
  ASSERT_EQ(ims_head_class_count(b), c);
  for (size_t k = 0; k < c; k++) {
    size_t kb = 0;
    while (kb < c && strcmp(ims_head_class_label(b, kb),
                            ims_head_class_label(a, k)) != 0)
      kb++;
    ASSERT(kb < c);
    ASSERT_EQ(ims_head_class_seen(a, k), ims_head_class_seen(b, kb));
  }
  ims_error err = {0};
  ASSERT_OK(ims_head_fit(a, &err), &err);
  ASSERT_OK(ims_head_fit(b, &err), &err);
  float pa[64], pb[64];
  ASSERT(c <= 64);
  double worst = 0;
  for (size_t i = 0; i < ff->n; i++) {
    ims_head_predict(a, ff->f + i * ff->d, pa);
    ims_head_predict(b, ff->f + i * ff->d, pb);
    size_t ta = 0, tb = 0;
    for (size_t k = 1; k < c; k++) {
      if (pa[k] > pa[ta]) ta = k;
      if (pb[k] > pb[tb]) tb = k;
    }
    if (strcmp(ims_head_class_label(a, ta), ims_head_class_label(b, tb)))
      TEST__FAIL("flower %zu: %s by the workers' head, %s by one worker's",
                 i, ims_head_class_label(a, ta), ims_head_class_label(b, tb));
    for (size_t k = 0; k < c; k++) {
      size_t kb = 0;
      while (strcmp(ims_head_class_label(b, kb), ims_head_class_label(a, k)))
        kb++;
      double diff = fabs((double)pa[k] - (double)pb[kb]);
      if (diff > worst) worst = diff;
    }
  }
  /* Not bounded: the temperature of the scores is chosen from the
   * prequential losses, which depend on the order the samples came in,
   * so a lone worker may score at another temperature (same ranking). */
  fprintf(stderr, "largest probability difference, 3 workers vs 1: %.3g\n",
          worst);
}

TEST(nats_learn_one_head) {
  nscen_need();
  nsrv s;
  nsrv_start(&s, "nats_l_srv", 1, 0);
  nconn c = nconn_open(&s);
  for (int i = 0; i <= W; i++) unlink(head_path(i));
  char from[4400];
  snprintf(from, sizeof from, "%s", shared_path("data/flowers"));
  nargs p = {{0}, 0};
  nargs_add(&p, "produce", "--from", from, "--to", nsrv_url(&s, "IMAGES"),
            "--rate", "40", "--limit", "150", "--seed", "1", NULL);
  pid_t prod = ntool_start("nats_l_produce", p.v);
  if (!nstream_wait_exists(&c, "IMAGES", 120, prod))
    TEST__FAIL("the producer did not create IMAGES");
  pid_t w[W];
  for (int i = 0; i < W; i++) w[i] = start_worker(&s, i);
  /* Worker 0 dies after some rows, holding images, then comes back. */
  char w0[4400];
  snprintf(w0, sizeof w0, "%s_w0.jsonl", tmp_path("nats_l"));
  double end = test_now() + 300;
  while (nlines(w0) < 8 && !nchild_gone(w[0]) && test_now() < end)
    test_sleep_ms(5);
  ASSERT(!nchild_gone(w[0]));
  nchild_kill(w[0]);
  fprintf(stderr, "worker 0 killed after %zu rows\n", nlines(w0));
  w[0] = start_worker(&s, 0);
  nwait_ok("nats_l_produce", prod, 300);
  for (int i = 0; i < W; i++) nwait_ok(test_strf("nats_l_w%d", i), w[i], 600);

  /* One head: the same bytes at every worker, every image learned once. */
  for (int i = 1; i < W; i++) {
    if (!test_same_file(head_path(0), head_path(i)))
      TEST__FAIL("worker %d's HEAD differs from worker 0's", i);
  }
  ims_head *shared = load(head_path(0));
  ASSERT_EQ(ims_head_seen(shared), N);
  ASSERT_EQ(nstream_count(&c, "IMAGES_LEARN"), N);

  /* One worker alone over the same images, through streams of its own. */
  char solo[4400];
  snprintf(solo, sizeof solo, "%s", head_path(W));
  nargs a = {{0}, 0};
  nargs_add(&a, "stream", "--source", nsrv_url(&s, "IMAGES"), "--consumer",
            "solo", "--learn", solo, "--learn-stream", "SOLO_LEARN",
            "--model", nmodel, "--max-files-per-trigger", "4",
            "--until-idle", "3000", "--sink",
            test_strf("jsonl:%s", tmp_path("nats_l_solo.jsonl")), NULL);
  nwait_ok("nats_l_solo", ntool_start("nats_l_solo", a.v), 600);
  ims_head *alone = load(solo);
  ASSERT_EQ(ims_head_seen(alone), N);

  /* That HEAD has folded 150 samples of SOLO_LEARN: with an empty
   * samples stream it is a head of another stream, refused (exit 3). */
  nargs o = {{0}, 0};
  nargs_add(&o, "stream", "--source", nsrv_url(&s, "IMAGES"), "--consumer",
            "other", "--learn", solo, "--learn-stream", "OTHER_LEARN",
            "--model", nmodel, "--until-idle", "1000", NULL);
  ASSERT_EQ(ntool_wait("nats_l_other", ntool_start("nats_l_other", o.v), 300),
            3);
  char *err = ntool_text("nats_l_other", "err");
  ASSERT(strstr(err, "a head of another stream") != NULL);
  free(err);

  flower_features ff;
  ims_classifier *clf = NULL;
  extract(&ff, &clf);
  compare_predictions(shared, alone, &ff);
  free(ff.f);
  ims_classifier_destroy(clf);
  ims_head_destroy(shared);
  ims_head_destroy(alone);
  nconn_close(&c);
  nsrv_stop(&s);
}

TEST_MAIN(nats_learn_one_head)
