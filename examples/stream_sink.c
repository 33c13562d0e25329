/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream_sink.c - a stream classifier with a sink of its own: every new
 * image of a folder bucket is classified once, and the rows go to a
 * callback (ims_sink_custom) that keeps a per-label tally and prints one
 * line per row, "BATCH LABEL CLASS SCORE PATH". With a checkpoint folder
 * a second run takes only what is new. A batch the callback refused (or
 * that a crash cut short) is written again by the next run, with the
 * same id: a sink that must hold each row once skips ids it holds, as
 * this one does within a run.
 *
 * Only the public API (<imgstream/imgstream.h>); build it as
 * classify_one.c (examples/README.md).
 *
 * usage: stream_sink MODEL LABELS BUCKET_DIR CHECKPOINT_DIR
 *   runs until nothing new came for 500 ms (or SIGINT), then prints the
 *   tally, "LABEL: N rows"
 * exit: 0 done, 1 the stream failed, 2 usage, 3 the model failed
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <imgstream/imgstream.h>

/* The sink's state: rows per label, and the last batch written. */
typedef struct tally {
  char label[16][64]; /* the labels seen */
  unsigned rows[16];  /* rows of each */
  size_t count;       /* labels used */
  int64_t last_batch; /* highest batch id written, -1 none */
} tally;

/* ims_sink_write_fn: print the rows, count them by label. Returns 0:
 * stdout is flushed, the batch may be committed. */
static int write_rows(void *ctx, int64_t batch, const ims_stream_row *rows,
                      size_t n) {
  tally *t = ctx;
  if (batch <= t->last_batch) return 0; /* a replay of a batch we hold */
  for (size_t i = 0; i < n; i++) {
    const ims_stream_row *r = &rows[i];
    if (r->error != NULL)
      printf("%lld %s error %s\n", (long long)batch, r->label, r->path);
    else
      printf("%lld %s %s %.4f %s\n", (long long)batch, r->label, r->desc,
             r->score, r->path);
    size_t k = 0;
    while (k < t->count && strcmp(t->label[k], r->label) != 0) k++;
    if (k == t->count && t->count < 16) {
      snprintf(t->label[k], sizeof t->label[k], "%s", r->label);
      t->rows[k] = 0;
      t->count++;
    }
    if (k < t->count) t->rows[k]++;
  }
  t->last_batch = batch;
  return fflush(stdout) == 0 ? 0 : -1;
}

static ims_stream *running; /* for the SIGINT handler */

static void on_sigint(int sig) {
  (void)sig;
  if (running != NULL) ims_stream_stop(running); /* async-signal-safe */
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s MODEL LABELS BUCKET_DIR CHECKPOINT_DIR\n",
            argv[0]);
    return 2;
  }
  ims_error err = {0};
  ims_classifier_options co;
  memset(&co, 0, sizeof co);
  co.model_path = argv[1];
  co.labels_path = argv[2];
  co.max_batch = 4;
  ims_classifier *clf = NULL;
  if (ims_classifier_create(&co, &clf, &err) != IMS_OK) {
    fprintf(stderr, "stream_sink: %s\n", err.message);
    return 3;
  }

  int rc = 1;
  char url[4200];
  snprintf(url, sizeof url, "dir://%s", argv[3]);
  ims_bucket *bucket = NULL;
  ims_sink *sink = NULL;
  ims_stream *s = NULL;
  tally t = {.last_batch = -1};
  if (ims_bucket_open(url, IMS_BUCKET_WATCH, &bucket, &err) != IMS_OK)
    goto done;
  /* ctx is ours (on the stack), so no close callback */
  if (ims_sink_custom("tally", write_rows, NULL, &t, &sink, &err) != IMS_OK)
    goto done;
  ims_stream_options so;
  memset(&so, 0, sizeof so);
  so.max_files_per_trigger = 4;
  so.checkpoint_dir = argv[4];
  so.until_idle_ms = 500;
  if (ims_stream_create(bucket, clf, &sink, 1, &so, &s, &err) != IMS_OK)
    goto done;
  running = s;
  signal(SIGINT, on_sigint);
  if (ims_stream_run(s, &err) != IMS_OK) goto done;
  for (size_t k = 0; k < t.count; k++)
    printf("%s: %u rows\n", t.label[k], t.rows[k]);
  rc = 0;
done:
  if (rc != 0) fprintf(stderr, "stream_sink: %s\n", err.message);
  running = NULL;
  ims_stream_destroy(s);
  ims_sink_close(sink);
  ims_bucket_close(bucket);
  ims_classifier_destroy(clf);
  return rc;
}
