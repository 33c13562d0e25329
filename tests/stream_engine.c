/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream_engine.c - the stream engine through the library API: file sinks'
 * recovery (torn last line, replay truncation, CSV quoting), and failures
 * injected through the ims_stream_io hook table (ENOSPC/EIO on the
 * checkpoint and on a sink) - the engine must stop with an error naming
 * the file, and a restart on the same checkpoint must end with every image
 * in the sink exactly once. The same with checkpoint compaction every 2
 * batches: restarts across snapshots, and a failure at each step of a
 * compaction (snapshot fsync, rename, half the deletions).
 *
 * Sections: 1. helpers  2. sinks  3. injected failures  4. compaction
 *
 * Threading: single-threaded (the classifier has its own pools).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "imgstream/imgstream.h"
#include "test.h"
#include "support/fault_io.h"

/* ---- 1. helpers ---- */

static void rm_rf(const char *path) {
  char cmd[8300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
  ASSERT(system(cmd) == 0);
}

static size_t count_lines(const char *s) {
  size_t n = 0;
  for (; *s != '\0'; s++) n += *s == '\n';
  return n;
}

static ims_stream_row row(int64_t batch, const char *path) {
  ims_stream_row r;
  memset(&r, 0, sizeof r);
  r.batch = batch;
  r.path = path;
  r.label = "daisy";
  r.class_id = "n11939491";
  r.desc = "daisy";
  r.score = 0.5f;
  r.event_time_ms = 1700000000000;
  r.processing_time_ms = 1700000000012;
  return r;
}

static void write_batch(ims_sink *s, int64_t batch, const char *a,
                        const char *b) {
  ims_error err = {0};
  ims_stream_row rows[2] = {row(batch, a), row(batch, b)};
  ASSERT_OK(ims_sink_write(s, batch, rows, 2, &err), &err);
}

static const char *spec(const char *kind, const char *path) {
  static char buf[4200];
  snprintf(buf, sizeof buf, "%s:%s", kind, path);
  return buf;
}

static const char *path_spec_jsonl(const char *path) {
  return spec("jsonl", path);
}

/* ---- 2. sinks ---- */

TEST(stream_sink_jsonl_torn_line) {
  char path[4096];
  snprintf(path, sizeof path, "%s", tmp_path("sink_torn.jsonl"));
  unlink(path);
  ims_error err = {0};
  ims_sink *s = NULL;
  ASSERT_OK(ims_sink_open(path_spec_jsonl(path), IMS_SINK_TRUNCATE_REPLAY,
                          NULL, &s, &err), &err);
  write_batch(s, 0, "daisy/a.jpg", "daisy/b.jpg");
  ims_sink_close(s);
  /* A killed writer left half a line. */
  FILE *f = fopen(path, "a");
  ASSERT(f != NULL);
  fputs("{\"batch\":1,\"path\":\"daisy/c.j", f);
  fclose(f);
  ASSERT_OK(ims_sink_open(path_spec_jsonl(path), IMS_SINK_TRUNCATE_REPLAY,
                          NULL, &s, &err), &err);
  char *text = test_read_text(path);
  ASSERT_EQ(count_lines(text), 2);
  ASSERT_EQ(text[strlen(text) - 1], '\n');
  free(text);
  write_batch(s, 1, "daisy/c.jpg", "daisy/d.jpg");
  ims_sink_close(s);
  text = test_read_text(path);
  ASSERT_EQ(count_lines(text), 4);
  ASSERT_CONTAINS(text, "\"path\":\"daisy/d.jpg\"");
  ASSERT(strstr(text, "daisy/c.j{") == NULL);
  free(text);
}

TEST(stream_sink_replay_truncates) {
  char path[4096];
  snprintf(path, sizeof path, "%s", tmp_path("sink_replay.jsonl"));
  unlink(path);
  ims_error err = {0};
  ims_sink *s = NULL;
  ASSERT_OK(ims_sink_open(path_spec_jsonl(path), IMS_SINK_TRUNCATE_REPLAY,
                          NULL, &s, &err), &err);
  write_batch(s, 0, "a/0.jpg", "a/1.jpg");
  write_batch(s, 1, "a/2.jpg", "a/3.jpg");
  write_batch(s, 2, "a/4.jpg", "a/5.jpg");
  ims_sink_close(s);
  /* The engine replays batch 1: rows of batches 1 and 2 must go. */
  ASSERT_OK(ims_sink_open(path_spec_jsonl(path), IMS_SINK_TRUNCATE_REPLAY,
                          NULL, &s, &err), &err);
  write_batch(s, 1, "a/2.jpg", "a/3.jpg");
  ims_sink_close(s);
  char *text = test_read_text(path);
  ASSERT_EQ(count_lines(text), 4);
  ASSERT(strstr(text, "a/4.jpg") == NULL);
  ASSERT(strstr(text, "\"batch\":2") == NULL);
  ASSERT_CONTAINS(strstr(text, "a/1.jpg"), "a/2.jpg");
  free(text);
  /* Without the flag a sink only appends. */
  ASSERT_OK(ims_sink_open(path_spec_jsonl(path), 0, NULL, &s, &err), &err);
  write_batch(s, 0, "b/0.jpg", "b/1.jpg");
  ims_sink_close(s);
  text = test_read_text(path);
  ASSERT_EQ(count_lines(text), 6);
  free(text);
}

TEST(stream_sink_csv) {
  char path[4096];
  snprintf(path, sizeof path, "%s", tmp_path("sink.csv"));
  unlink(path);
  ims_error err = {0};
  ims_sink *s = NULL;
  ASSERT_OK(ims_sink_open(spec("csv", path), IMS_SINK_TRUNCATE_REPLAY, NULL,
                          &s, &err), &err);
  ims_stream_row rows[2] = {row(0, "rose/a,b.jpg"), row(0, "rose/x.jpg")};
  rows[1].error = "bad \"quote\"\nline";
  ASSERT_OK(ims_sink_write(s, 0, rows, 2, &err), &err);
  write_batch(s, 1, "rose/c.jpg", "rose/d.jpg");
  ims_sink_close(s);
  ASSERT_OK(ims_sink_open(spec("csv", path), IMS_SINK_TRUNCATE_REPLAY, NULL,
                          &s, &err), &err);
  write_batch(s, 1, "rose/c.jpg", "rose/e.jpg");
  ims_sink_close(s);
  char *text = test_read_text(path);
  ASSERT(strncmp(text, "batch,path,label,class,desc,score,processing_time,"
                       "event_time,latency_ms,error\r\n", 76) == 0);
  ASSERT_CONTAINS(text, "0,\"rose/a,b.jpg\",daisy,n11939491,daisy,0.5000,"
                        "2023-11-14T22:13:20.012Z,2023-11-14T22:13:20.000Z,"
                        "12,\r\n");
  ASSERT_CONTAINS(text, ",,,,2023-11-14T22:13:20.012Z,2023-11-14T22:13:20."
                        "000Z,12,\"bad \"\"quote\"\" line\"\r\n");
  ASSERT(strstr(text, "rose/d.jpg") == NULL);
  ASSERT_CONTAINS(text, "rose/e.jpg");
  ASSERT_EQ(count_lines(text), 5);
  free(text);
}

TEST(stream_sink_bad_spec) {
  ims_error err = {0};
  ims_sink *s = NULL;
  ASSERT_EQ(ims_sink_open("parquet:x", 0, NULL, &s, &err),
            IMS_ERR_INVALID_ARG);
  ASSERT_EQ(ims_sink_open("jsonl:", 0, NULL, &s, &err), IMS_ERR_INVALID_ARG);
  ASSERT_EQ(ims_sink_open(spec("jsonl", tmp_path("no/such/dir/x.jsonl")), 0,
                          NULL, &s, &err), IMS_ERR_IO);
  ASSERT_CONTAINS(err.message, "no/such/dir/x.jsonl");
}

/* ---- 3. injected failures ---- */

/* A hook table that fails one kind of call on paths containing `match`
 * after `after` successful ones. */
#define NIMAGES 24

/* A bucket with NIMAGES flowers (daisy and tulip), made once. */
static ims_bucket *flower_bucket(void) {
  static char url[4200];
  ims_error err = {0};
  ims_bucket *b = NULL;
  if (url[0] == '\0') {
    rm_rf(tmp_path("engine_bucket"));
    snprintf(url, sizeof url, "dir://%s", tmp_path("engine_bucket"));
    ASSERT_OK(ims_bucket_open(url, IMS_BUCKET_CREATE, &b, &err), &err);
    FILE *ls = NULL;
    char name[512], src[4200], key[600];
    const char *cats[2] = {"daisy", "tulip"};
    for (int c = 0; c < 2; c++) {
      char cmd[4300];
      snprintf(cmd, sizeof cmd, "ls -1 '%s' | head -%d",
               shared_path(c == 0 ? "data/flowers/daisy" :
                           "data/flowers/tulip"), NIMAGES / 2);
      if (ls != NULL) pclose(ls);
      ls = popen(cmd, "r");
      ASSERT(ls != NULL);
      while (fgets(name, sizeof name, ls) != NULL) {
        name[strcspn(name, "\n")] = '\0';
        snprintf(key, sizeof key, "data/flowers/%s/%s", cats[c], name);
        snprintf(src, sizeof src, "%s", shared_path(key));
        size_t n = 0;
        unsigned char *d = test_read_file(src, &n);
        if (d == NULL) RETURN_SKIP("no shared flowers");
        snprintf(key, sizeof key, "%s/%s", cats[c], name);
        ASSERT_OK(ims_bucket_put(b, key, d, n, &err), &err);
        free(d);
      }
    }
    if (ls != NULL) pclose(ls);
    ims_bucket_close(b);
  }
  ASSERT_OK(ims_bucket_open(url, IMS_BUCKET_WATCH, &b, &err), &err);
  return b;
}

static ims_classifier *classifier(void) {
  char model[4096], labels[4096];
  snprintf(model, sizeof model, "%s",
           shared_path("models/mobilenet_v2_1.0_224_quant.tflite"));
  snprintf(labels, sizeof labels, "%s",
           shared_path("models/imagenet_class_index.json"));
  if (access(model, R_OK) != 0) RETURN_SKIP("no shared model");
  ims_classifier_options o;
  memset(&o, 0, sizeof o);
  o.model_path = model;
  o.labels_path = labels;
  o.threads = 2;
  o.max_batch = 4;
  ims_classifier *c = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_classifier_create(&o, &c, &err), &err);
  return c;
}

/* Every image of the bucket exactly once in the JSONL file. */
static void check_exactly_once(const char *path) {
  char *text = test_read_text(path);
  json_t *seen = json_object();
  size_t rows = 0;
  for (char *line = strtok(text, "\n"); line != NULL;
       line = strtok(NULL, "\n")) {
    json_t *o = json_loads(line, 0, NULL);
    ASSERT(o != NULL);
    const char *p = json_string_value(json_object_get(o, "path"));
    ASSERT(p != NULL);
    if (json_object_get(seen, p) != NULL) TEST__FAIL("%s twice", p);
    json_object_set_new(seen, p, json_true());
    const char *label = json_string_value(json_object_get(o, "label"));
    ASSERT(strncmp(p, label, strlen(label)) == 0);
    json_decref(o);
    rows++;
  }
  json_decref(seen);
  free(text);
  ASSERT_EQ(rows, NIMAGES);
}

/* Knobs of one run. */
typedef struct run_opts {
  uint32_t compact;     /* compact_interval (0 = default) */
  uint64_t max_batches; /* 0 = until idle */
} run_opts;

/* Run a stream until idle; `sink_io` / `ckpt_io` NULL = POSIX. */
static ims_status run_stream(ims_classifier *clf, const char *ckpt,
                             const char *out, const ims_stream_io *sink_io,
                             const ims_stream_io *ckpt_io, run_opts ro,
                             ims_error *err) {
  ims_bucket *b = flower_bucket();
  ims_sink *sink = NULL;
  ims_stream *s = NULL;
  ASSERT_OK(ims_sink_open(path_spec_jsonl(out), IMS_SINK_TRUNCATE_REPLAY,
                          sink_io, &sink, err), err);
  ims_stream_options o;
  memset(&o, 0, sizeof o);
  o.max_files_per_trigger = 4;
  o.checkpoint_dir = ckpt;
  o.io = ckpt_io;
  o.until_idle_ms = 300;
  o.compact_interval = ro.compact;
  o.max_batches = ro.max_batches;
  ASSERT_OK(ims_stream_create(b, clf, &sink, 1, &o, &s, err), err);
  ims_status st = ims_stream_run(s, err);
  ims_stream_destroy(s);
  ims_sink_close(sink);
  ims_bucket_close(b);
  return st;
}

/* Fail as `f` says, expect a clear error, restart cleanly, check. */
static void fault_case(const char *name, fault *f, bool on_sink,
                       uint32_t compact, const char *want_in_message) {
  ims_classifier *clf = classifier();
  char ckpt[4200], out[4200];
  snprintf(ckpt, sizeof ckpt, "%s_ckpt", tmp_path(name));
  snprintf(out, sizeof out, "%s.jsonl", tmp_path(name));
  rm_rf(ckpt);
  unlink(out);
  ims_stream_io io = fault_io(f);
  ims_error err = {0};
  run_opts ro = {compact, 0};
  ims_status st = run_stream(clf, ckpt, out, on_sink ? &io : NULL,
                             on_sink ? NULL : &io, ro, &err);
  fprintf(stderr, "%s: %s\n", name, err.message);
  ASSERT_EQ(st, IMS_ERR_IO);
  ASSERT(f->fired >= 1);
  ASSERT_CONTAINS(err.message, want_in_message);
  ASSERT_CONTAINS(err.message, strerror(f->error));
  memset(&err, 0, sizeof err);
  ASSERT_OK(run_stream(clf, ckpt, out, NULL, NULL, ro, &err), &err);
  check_exactly_once(out);
  ims_classifier_destroy(clf);
}

TEST(stream_fault_commit_fsync) {
  fault_case("fault_commit", fault_new("/commits/", 's', 2, EIO), false,
             0, "commits/");
}

TEST(stream_fault_offsets_write) {
  fault_case("fault_offsets", fault_new("/offsets/", 'w', 3, ENOSPC),
             false, 0, "offsets/");
}

TEST(stream_fault_offsets_rename) {
  fault_case("fault_rename", fault_new("/offsets/", 'r', 1, EIO), false,
             0, "offsets/");
}

TEST(stream_fault_sink_write) {
  fault_case("fault_sink", fault_new("fault_sink.jsonl", 'w', 2, ENOSPC),
             true, 0, "sink jsonl:");
}

TEST(stream_fault_sink_fsync) {
  fault_case("fault_sink_fsync",
             fault_new("fault_sink_fsync.jsonl", 's', 3, EIO), true, 0,
             "fault_sink_fsync.jsonl");
}

/* ---- 4. compaction ---- */

/* Files (not '.' names) in ckpt/sub. */
static size_t count_files(const char *ckpt, const char *sub) {
  char dir[4300];
  snprintf(dir, sizeof dir, "%s/%s", ckpt, sub);
  DIR *d = opendir(dir);
  ASSERT(d != NULL);
  size_t n = 0;
  for (struct dirent *e = readdir(d); e != NULL; e = readdir(d))
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

TEST(stream_compaction_restart) {
  ims_classifier *clf = classifier();
  char ckpt[4200], out[4200];
  snprintf(ckpt, sizeof ckpt, "%s", tmp_path("compact_ckpt"));
  snprintf(out, sizeof out, "%s", tmp_path("compact.jsonl"));
  rm_rf(ckpt);
  unlink(out);
  ims_error err = {0};
  /* 6 batches of 4, a snapshot every 2; stopped after 3, then resumed. */
  run_opts first = {2, 3}, rest = {2, 0};
  ASSERT_OK(run_stream(clf, ckpt, out, NULL, NULL, first, &err), &err);
  char *text = test_read_text(out);
  ASSERT_EQ(count_lines(text), 12);
  free(text);
  ASSERT_EQ(count_files(ckpt, "offsets"), 2); /* compact-1, 2 */
  ASSERT_EQ(count_files(ckpt, "commits"), 1);
  ASSERT_OK(run_stream(clf, ckpt, out, NULL, NULL, rest, &err), &err);
  check_exactly_once(out);
  ASSERT_EQ(count_files(ckpt, "offsets"), 1); /* compact-5 */
  ASSERT_EQ(count_files(ckpt, "commits"), 0);
  /* Nothing new: a third run takes nothing again. */
  ASSERT_OK(run_stream(clf, ckpt, out, NULL, NULL, rest, &err), &err);
  check_exactly_once(out);
  ims_classifier_destroy(clf);
}

TEST(stream_fault_compact_fsync) {
  fault_case("fault_compact_fsync", fault_new("compact-", 's', 0, EIO),
             false, 2, "checkpoint compaction: fsync");
}

TEST(stream_fault_compact_rename) {
  fault_case("fault_compact_rename", fault_new("compact-", 'r', 1, EIO),
             false, 2, "checkpoint compaction: rename");
}

TEST(stream_fault_compact_unlink) {
  /* The first compaction deletes offsets/0, 1 and commits/0, 1: fail
   * after two of them. */
  fault_case("fault_compact_unlink",
             fault_new("fault_compact_unlink_ckpt/", 'u', 2, EIO), false, 2,
             "checkpoint compaction: unlink");
}

TEST_MAIN(stream_sink_jsonl_torn_line, stream_sink_replay_truncates,
          stream_sink_csv, stream_sink_bad_spec, stream_fault_commit_fsync,
          stream_fault_offsets_write, stream_fault_offsets_rename,
          stream_fault_sink_write, stream_fault_sink_fsync,
          stream_compaction_restart, stream_fault_compact_fsync,
          stream_fault_compact_rename, stream_fault_compact_unlink)
