/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_learn.c - `imgstream stream --learn HEAD` end to end: the real
 * binary, the real model, real flowers whose folder names are the labels.
 *
 *   sigkill        120 flowers: one uninterrupted run (3 per batch) and one
 *                  SIGKILLed at 8 seeded random moments (4 per batch, so
 *                  batches differ too), --compact-interval 5 so kills land
 *                  around head snapshots: every row's "learned" value and
 *                  the final HEAD file are byte-identical; the learned
 *                  column is right well above chance (labels: folders)
 *   outputs        console `learned` column, CSV learned_label/score,
 *                  progress "learned" object; HEAD reloaded by a second
 *                  run goes on from where the first stopped
 *   max_classes    --max-classes 2 over 5 folders: rows of the 3 other
 *                  classes are error rows naming the limit; the stream goes
 *                  on and exits 0
 *   bad_head       a garbage HEAD file and a head of another model: exit 3,
 *                  the message names the file; nothing is overwritten; a
 *                  HEAD whose folder is missing cannot be saved: exit 1
 *   damaged_ckpt   a damaged head snapshot in the checkpoint (exit 3) and a
 *                  damaged learned sample in a commit (exit 1), each named
 *
 * Threading: single-threaded; the tool runs as a child process.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imgstream/imgstream.h"
#include "support/stream_run.h"
#include "support/tool.h"
#include "test.h"

static char model_path[4096];

static void need_all(void) { srun_need(model_path, sizeof model_path); }

/* `stream --learn` of bucket `url` with a checkpoint, compacted every 5
 * batches; `progress` may be NULL. */
typedef struct learn_run {
  char head[4200], sink[4300], files[16], url[4200];
  const char *args[24];
} learn_run;

static void learn_args(learn_run *r, const char *url, const char *ckpt,
                       const char *head, const char *jsonl,
                       const char *files, const char *progress) {
  snprintf(r->url, sizeof r->url, "%s", url);
  snprintf(r->head, sizeof r->head, "%s", head);
  snprintf(r->sink, sizeof r->sink, "jsonl:%s", jsonl);
  snprintf(r->files, sizeof r->files, "%s", files);
  const char *a[] = {"stream", "--source", r->url, "--model", model_path,
                     "--checkpoint", ckpt, "--learn", r->head, "--sink",
                     r->sink, "--max-files-per-trigger", r->files,
                     "--threads", "2", "--until-idle", "500",
                     "--compact-interval", "5", NULL};
  size_t n = 0;
  for (; a[n] != NULL; n++) r->args[n] = a[n];
  if (progress != NULL) {
    r->args[n++] = "--progress";
    r->args[n++] = progress;
  }
  r->args[n] = NULL;
}

/* {path: learned object} of a JSONL sink; every row must have one once
 * the head knows a class. */
static json_t *learned_of(const char *jsonl, size_t want_rows) {
  json_t *rows = srun_sink_rows(jsonl);
  ASSERT_EQ(json_object_size(rows), want_rows);
  json_t *out = json_object();
  const char *path;
  json_t *row;
  json_object_foreach(rows, path, row) {
    json_t *l = json_object_get(row, "learned");
    json_object_set(out, path, l != NULL ? l : json_null());
  }
  json_decref(rows);
  return out;
}

/* Share of rows whose learned label is the folder. */
static double accuracy_of(const json_t *learned) {
  size_t right = 0;
  const char *path;
  json_t *l;
  json_object_foreach((json_t *)learned, path, l) {
    const char *got = json_string_value(json_object_get(l, "label"));
    size_t n = strcspn(path, "/");
    right += got != NULL && strlen(got) == n && strncmp(got, path, n) == 0;
  }
  return (double)right / (double)json_object_size(learned);
}

static void write_text(const char *path, const char *text) {
  ASSERT_EQ(test_write_file(path, text, strlen(text)), 0);
}

TEST(cli_learn_sigkill) {
  need_all();
  srun_bucket bi;
  srun_make_bucket(&bi, "learn_k_bucket", 120);
  srun_case_files a, b;
  srun_fresh_case_files(&a, "learn_k_a", "head", "progress");
  srun_fresh_case_files(&b, "learn_k_b", "head", "progress");
  learn_run ra, rb;
  learn_args(&ra, bi.url, a.ckpt, a.extra[0], a.out, "3", a.extra[1]);
  learn_args(&rb, bi.url, b.ckpt, b.extra[0], b.out, "4", b.extra[1]);
  ASSERT_EQ(srun_finish(srun_start("learn_k_a", 0, ra.args)), 0);
  srand(20261207);
  int kills = 0;
  for (int round = 0; round < 8; round++) {
    long before = srun_file_size(b.extra[1]);
    pid_t pid = srun_start("learn_k_b", 0, rb.args);
    if (srun_wait_growth(b.extra[1], before, pid)) {
      srun_sleep_ms(rand() % 200);
      kill(pid, SIGKILL);
      kills += srun_finish(pid) == 128 + SIGKILL;
    }
  }
  fprintf(stderr, "killed %d times\n", kills);
  ASSERT(kills >= 4);
  ASSERT_EQ(srun_finish(srun_start("learn_k_b", 0, rb.args)), 0);
  json_t *la = learned_of(a.out, 120), *lb = learned_of(b.out, 120);
  const char *path;
  json_t *v;
  json_object_foreach(la, path, v) {
    char *sa = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(9));
    char *sb = json_dumps(json_object_get(lb, path),
                          JSON_ENCODE_ANY | JSON_REAL_PRECISION(9));
    if (sa == NULL || sb == NULL || strcmp(sa, sb) != 0)
      TEST__FAIL("%s: learned %s uninterrupted, %s after kills", path,
                 sa ? sa : "?", sb ? sb : "?");
    free(sa);
    free(sb);
  }
  ASSERT(test_same_file(a.extra[0], b.extra[0]));
  double acc = accuracy_of(la);
  fprintf(stderr, "prequential accuracy %.3f over 120\n", acc);
  ASSERT(acc > 0.5); /* chance: 0.2 */
  json_decref(la);
  json_decref(lb);
}

/* The last line of a file (static buffer). */
static const char *last_line(const char *path) {
  static char line[8192];
  char *text = test_read_text(path);
  char *end = text + strlen(text);
  while (end > text && end[-1] == '\n') *--end = '\0';
  char *start = strrchr(text, '\n');
  snprintf(line, sizeof line, "%s", start ? start + 1 : text);
  free(text);
  return line;
}

TEST(cli_learn_outputs) {
  need_all();
  srun_bucket bi;
  srun_make_bucket(&bi, "learn_o_bucket", 30);
  srun_case_files f;
  srun_fresh_case_files(&f, "learn_o", "head", "csv");
  char csv[4300], prog[4200];
  snprintf(csv, sizeof csv, "csv:%s", f.extra[1]);
  snprintf(prog, sizeof prog, "%s", tmp_path("learn_o.progress"));
  unlink(prog);
  const char *const args[] = {
      "stream", "--source", bi.url, "--model", model_path, "--learn",
      f.extra[0], "--sink", "console", "--sink", csv, "--progress", prog,
      "--max-files-per-trigger", "5", "--until-idle", "500", NULL};
  ASSERT_EQ(srun_finish(srun_start("learn_o", 0, args)), 0);
  char *console = test_read_text(tmp_path("learn_o.out"));
  ASSERT(strstr(console, "|label") != NULL);
  ASSERT(strstr(console, "|learned") != NULL);
  free(console);
  char *text = test_read_text(f.extra[1]);
  ASSERT(strncmp(text, "batch,path,label,class,desc,score,processing_time,"
                       "event_time,latency_ms,error,learned_label,"
                       "learned_score\r\n",
                 strlen("batch,path,label,class,desc,score,processing_time,"
                        "event_time,latency_ms,error,learned_label,"
                        "learned_score\r\n")) == 0);
  free(text);
  json_t *p = json_loads(last_line(prog), 0, NULL);
  ASSERT(p != NULL);
  json_t *l = json_object_get(p, "learned");
  ASSERT_EQ(json_integer_value(json_object_get(l, "classes")), 5);
  ASSERT_EQ(json_integer_value(json_object_get(l, "seen")), 30);
  ASSERT(json_is_number(json_object_get(l, "accuracy_last_100")));
  json_decref(p);
  /* A second run (no checkpoint) loads HEAD and goes on: 60 seen. */
  srun_bucket b2;
  srun_make_bucket(&b2, "learn_o_bucket2", 30);
  const char *const again[] = {"stream", "--source", b2.url, "--model",
                               model_path, "--learn", f.extra[0],
                               "--progress", prog, "--sink", "console",
                               "--max-files-per-trigger", "5",
                               "--until-idle", "500", NULL};
  ASSERT_EQ(srun_finish(srun_start("learn_o2", 0, again)), 0);
  p = json_loads(last_line(prog), 0, NULL);
  l = json_object_get(p, "learned");
  ASSERT_EQ(json_integer_value(json_object_get(l, "seen")), 60);
  json_decref(p);
}

TEST(cli_learn_max_classes) {
  need_all();
  srun_bucket bi;
  srun_make_bucket(&bi, "learn_m_bucket", 20);
  srun_case_files f;
  srun_fresh_case_files(&f, "learn_m", "head", NULL);
  const char *const args[] = {
      "stream", "--source", bi.url, "--model", model_path, "--learn",
      f.extra[0], "--max-classes", "2", "--sink", f.sink,
      "--max-files-per-trigger", "5", "--until-idle", "500", NULL};
  ASSERT_EQ(srun_finish(srun_start("learn_m", 0, args)), 0);
  json_t *rows = srun_sink_rows(f.out);
  ASSERT_EQ(json_object_size(rows), 20);
  size_t errors = 0;
  const char *path;
  json_t *row;
  json_object_foreach(rows, path, row) {
    const char *e = json_string_value(json_object_get(row, "error"));
    if (e == NULL) continue;
    ASSERT(strstr(e, "--max-classes") != NULL);
    errors++;
  }
  ASSERT_EQ(errors, 12); /* 3 of the 5 round-robin folders, 4 each */
  json_decref(rows);
}

/* Run the stream expecting exit `code` with `needle` in stderr. */
static void expect_failure(const char *name, const char *const *args,
                           int code, const char *needle) {
  char err[4300];
  snprintf(err, sizeof err, "%s.err", tmp_path(name));
  unlink(err);
  ASSERT_EQ(srun_finish(srun_start(name, 0, args)), code);
  char *text = test_read_text(err);
  if (strstr(text, needle) == NULL)
    TEST__FAIL("%s: stderr lacks \"%s\": %s", name, needle, text);
  free(text);
}

TEST(cli_learn_bad_head) {
  need_all();
  srun_bucket bi;
  srun_make_bucket(&bi, "learn_h_bucket", 5);
  char head[4200], other[4200], labels[4200], h2[4200];
  snprintf(head, sizeof head, "%s", tmp_path("learn_h.head"));
  write_text(head, "not a head at all\n");
  const char *const args[] = {"stream", "--source", bi.url, "--model",
                              model_path, "--learn", head,
                              "--until-idle", "300", NULL};
  expect_failure("learn_h", args, 3, head);
  char *text = test_read_text(head);
  ASSERT_STR_EQ(text, "not a head at all\n");
  free(text);
  /* A HEAD that cannot be saved (its folder is missing): the rows are
   * committed, the run ends with exit 1 naming the file. */
  char unsaved[4300];
  snprintf(unsaved, sizeof unsaved, "%s/no/such/folder/head",
           tmp_path("learn_h_missing"));
  const char *const nosave[] = {"stream", "--source", bi.url, "--model",
                                model_path, "--learn", unsaved,
                                "--until-idle", "300", NULL};
  expect_failure("learn_h4", nosave, 1, "no/such/folder");
  /* A head of the other shared model. */
  snprintf(other, sizeof other, "%s",
           shared_path("models/tf2_mobilenet_v2_1.0_224_ptq.tflite"));
  snprintf(labels, sizeof labels, "%s",
           shared_path("models/imagenet_labels.txt"));
  snprintf(h2, sizeof h2, "%s", tmp_path("learn_h2.head"));
  if (access(other, R_OK) != 0) return;
  unlink(h2);
  const char *const make[] = {"stream", "--source", bi.url, "--model",
                              other, "--labels", labels, "--learn", h2,
                              "--until-idle", "300", NULL};
  ASSERT_EQ(srun_finish(srun_start("learn_h2", 0, make)), 0);
  const char *const use[] = {"stream", "--source", bi.url, "--model",
                             model_path, "--learn", h2, "--until-idle",
                             "300", NULL};
  expect_failure("learn_h3", use, 3, "made with model");
}

TEST(cli_learn_damaged_checkpoint) {
  need_all();
  srun_bucket bi;
  srun_make_bucket(&bi, "learn_d_bucket", 10);
  srun_case_files f;
  srun_fresh_case_files(&f, "learn_d", "head", NULL);
  learn_run r;
  learn_args(&r, bi.url, f.ckpt, f.extra[0], f.out, "5", NULL);
  ASSERT_EQ(srun_finish(srun_start("learn_d", 0, r.args)), 0);
  /* A learned sample of commit 1 damaged: its base64 cut short. */
  char commit[4300];
  snprintf(commit, sizeof commit, "%s/commits/1", f.ckpt);
  char *text = test_read_text(commit);
  char *b64 = strstr(text, "\",\"");
  ASSERT(b64 != NULL);
  memmove(b64 + 3, b64 + 7, strlen(b64 + 7) + 1);
  write_text(commit, text);
  free(text);
  expect_failure("learn_d2", r.args, 1, "commits/1");
  /* The head snapshot itself damaged. */
  char snap[4300];
  snprintf(snap, sizeof snap, "%s/learn/head-0", f.ckpt);
  write_text(snap, "IMSHEAD\ngarbage");
  expect_failure("learn_d3", r.args, 3, "head-0");
}

TEST_MAIN(cli_learn_sigkill, cli_learn_outputs, cli_learn_max_classes,
          cli_learn_bad_head, cli_learn_damaged_checkpoint)
