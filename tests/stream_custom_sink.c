/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream_custom_sink.c - ims_sink_custom (include/imgstream/stream.h), a
 * sink whose write is the caller's callback: a stream over a folder gives
 * it each image once with its label and prediction; a batch it refuses
 * stops the run with IMS_ERR_IO naming the sink, is not committed, and
 * the next engine on the checkpoint writes it again with the same id and
 * rows; bad arguments are refused and the ctx still freed.
 *
 * Threading: single-threaded (the engine calls the sink on this thread).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imgstream/imgstream.h"
#include "support/tool.h"
#include "test.h"

#define NIMAGES 5

/* What the sink saw. */
typedef struct seen {
  char path[32][128];  /* rows' paths, in order written */
  int64_t batch[32];   /* their batch ids */
  size_t rows;         /* rows written */
  int fail_calls;      /* refuse this many calls first */
  int calls;           /* calls so far */
  int closed;          /* close callback calls */
} seen;

static int write_rows(void *ctx, int64_t batch, const ims_stream_row *rows,
                      size_t n) {
  seen *s = ctx;
  s->calls++;
  if (s->fail_calls > 0) {
    s->fail_calls--;
    return 7;
  }
  for (size_t i = 0; i < n; i++) {
    ASSERT(s->rows < 32);
    ASSERT_EQ(rows[i].batch, batch);
    ASSERT(rows[i].error == NULL);
    ASSERT(strncmp(rows[i].path, rows[i].label, strlen(rows[i].label)) == 0);
    ASSERT(rows[i].class_id != NULL && rows[i].desc != NULL);
    snprintf(s->path[s->rows], sizeof s->path[0], "%s", rows[i].path);
    s->batch[s->rows++] = batch;
  }
  return 0;
}

static void close_seen(void *ctx) { ((seen *)ctx)->closed++; }

/* A folder bucket of NIMAGES daisies and tulips (made once). */
static const char *bucket_url(void) {
  static char url[4200];
  if (url[0] != '\0') return url;
  const char *dir = test_strf("%s", tmp_path("custom_sink_bucket"));
  tool_rm_rf(dir);
  ASSERT_EQ(system(test_strf(
                "mkdir -p '%s/daisy' '%s/tulip' && cd '%s' && for f in "
                "$(ls | head -3); do cp \"$f\" '%s/daisy/'; done && cd '%s' "
                "&& for f in $(ls | head -2); do cp \"$f\" '%s/tulip/'; done",
                dir, dir, shared_path("data/flowers/daisy"), dir,
                shared_path("data/flowers/tulip"), dir)), 0);
  snprintf(url, sizeof url, "dir://%s", dir);
  return url;
}

static ims_classifier *classifier(void) {
  const char *model = test_strf("%s", shared_path(
      "models/mobilenet_v2_1.0_224_quant.tflite"));
  if (access(model, R_OK) != 0) RETURN_SKIP("no shared model");
  ims_classifier_options o;
  memset(&o, 0, sizeof o);
  o.model_path = model;
  o.labels_path = test_strf("%s", shared_path(
      "models/imagenet_class_index.json"));
  o.threads = 2;
  o.max_batch = 2;
  ims_classifier *c = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_classifier_create(&o, &c, &err), &err);
  return c;
}

/* One engine until idle over the bucket into a custom sink on `s`. */
static ims_status run(ims_classifier *clf, seen *s, const char *ckpt,
                      ims_error *err) {
  ims_bucket *b = NULL;
  ims_sink *sink = NULL;
  ims_stream *st = NULL;
  ASSERT_OK(ims_bucket_open(bucket_url(), 0, &b, err), err);
  ASSERT_OK(ims_sink_custom("tally", write_rows, close_seen, s, &sink, err),
            err);
  ASSERT_STR_EQ(ims_sink_name(sink), "tally");
  ims_stream_options o;
  memset(&o, 0, sizeof o);
  o.max_files_per_trigger = 2;
  o.checkpoint_dir = ckpt;
  o.until_idle_ms = 200;
  ASSERT_OK(ims_stream_create(b, clf, &sink, 1, &o, &st, err), err);
  ims_status rc = ims_stream_run(st, err);
  ims_stream_destroy(st);
  ims_sink_close(sink);
  ims_bucket_close(b);
  return rc;
}

TEST(custom_sink_rows) {
  ims_classifier *clf = classifier();
  const char *ckpt = test_strf("%s", tmp_path("custom_sink_ckpt1"));
  tool_rm_rf(ckpt);
  seen s = {0};
  ims_error err = {0};
  ASSERT_OK(run(clf, &s, ckpt, &err), &err);
  ASSERT_EQ(s.rows, NIMAGES);
  ASSERT_EQ(s.closed, 1);
  for (size_t i = 0; i < s.rows; i++) {
    for (size_t j = 0; j < i; j++) ASSERT(strcmp(s.path[i], s.path[j]));
  }
  /* nothing new: a second engine writes nothing */
  seen again = {0};
  ASSERT_OK(run(clf, &again, ckpt, &err), &err);
  ASSERT_EQ(again.rows, 0);
  ims_classifier_destroy(clf);
}

TEST(custom_sink_refused_batch) {
  ims_classifier *clf = classifier();
  const char *ckpt = test_strf("%s", tmp_path("custom_sink_ckpt2"));
  tool_rm_rf(ckpt);
  seen s = {.fail_calls = 1};
  ims_error err = {0};
  ASSERT_EQ(run(clf, &s, ckpt, &err), IMS_ERR_IO);
  ASSERT_CONTAINS(err.message, "sink tally: writing batch 0 failed "
                               "(callback returned 7)");
  ASSERT_EQ(s.rows, 0);
  ASSERT_EQ(s.closed, 1);
  /* the next engine writes batch 0 again, then the rest: each once */
  seen t = {0};
  ASSERT_OK(run(clf, &t, ckpt, &err), &err);
  ASSERT_EQ(t.rows, NIMAGES);
  ASSERT_EQ(t.batch[0], 0);
  ims_classifier_destroy(clf);
}

TEST(custom_sink_bad_arguments) {
  ims_sink *sink = NULL;
  ims_error err = {0};
  seen s = {0};
  ASSERT_EQ(ims_sink_custom(NULL, write_rows, close_seen, &s, &sink, &err),
            IMS_ERR_INVALID_ARG);
  ASSERT_EQ(ims_sink_custom("x", NULL, close_seen, &s, &sink, &err),
            IMS_ERR_INVALID_ARG);
  ASSERT_CONTAINS(err.message, "name and write_fn are required");
  ASSERT(sink == NULL);
  ASSERT_EQ(s.closed, 2); /* ctx freed either way */
  /* no close callback: nothing to call */
  ASSERT_OK(ims_sink_custom("y", write_rows, NULL, &s, &sink, &err), &err);
  ims_sink_close(sink);
  ASSERT_EQ(s.closed, 2);
}

TEST_MAIN(custom_sink_rows, custom_sink_refused_batch,
          custom_sink_bad_arguments)
