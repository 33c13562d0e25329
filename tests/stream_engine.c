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
 * The checkpoint writes on helper threads, off the row's path
 * (checkpoint.c's I1-I5); section 5 checks that: the order of every file
 * call of a run (no sink write of batch N before offsets/N is durable,
 * no offsets/N+1 before commits/N is durable, no commit before the
 * sinks' fsync, compaction after its commit), a background offsets or
 * commit write that fails (a clear error, no row of the batch in flight,
 * nothing written after it), and SIGKILL at each new interleaving - a
 * child runs the stream and a hook kills it there (offsets written but
 * not renamed; renamed but the folder not synced; a commit in flight
 * while the next batch is classified; a compaction while later batches
 * run) - after which a restart gives every image exactly once.
 *
 * Sections: 1. helpers  2. sinks  3. injected failures  4. compaction
 *           5. the checkpoint off the row's path
 *
 * Threading: the engine's thread; the checkpoint's helper threads call
 * the hook tables (fault_io and the trace are thread-safe); crash cases
 * fork a child before it makes its classifier.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* ---- 5. the checkpoint off the row's path ---- */

/* The batches held by a JSONL sink file: bit b set = batch b has rows. */
static uint64_t batches_in(const char *path) {
  uint64_t set = 0;
  char *text = test_read_text(path);
  for (char *l = strtok(text, "\n"); l != NULL; l = strtok(NULL, "\n")) {
    long long b = -1;
    ASSERT_EQ(sscanf(l, "{\"batch\":%lld", &b), 1);
    ASSERT(b >= 0 && b < 64);
    set |= (uint64_t)1 << b;
  }
  free(text);
  return set;
}

static bool ckpt_has(const char *ckpt, const char *rel) {
  char path[4300];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", ckpt, rel);
  return stat(path, &st) == 0;
}

/* A background write fails: the error names the file, the batch in
 * flight has no row, nothing queued after the failure is written; then
 * a restart gives every image once. */
static void background_case(const char *name, fault *f, int64_t id,
                            const char *want, uint64_t want_batches,
                            const char *absent) {
  ims_classifier *clf = classifier();
  char ckpt[4200], out[4200];
  snprintf(ckpt, sizeof ckpt, "%s_ckpt", tmp_path(name));
  snprintf(out, sizeof out, "%s.jsonl", tmp_path(name));
  rm_rf(ckpt);
  unlink(out);
  ims_stream_io io = fault_io(f);
  ims_error err = {0};
  run_opts ro = {0, 0};
  ASSERT_EQ(run_stream(clf, ckpt, out, NULL, &io, ro, &err), IMS_ERR_IO);
  fprintf(stderr, "%s: %s\n", name, err.message);
  ASSERT_EQ(f->fired, 1);
  ASSERT_CONTAINS(err.message, want);
  ASSERT_CONTAINS(err.message, strerror(EIO));
  char batch[64];
  snprintf(batch, sizeof batch, "batch %lld", (long long)id);
  ASSERT_CONTAINS(err.message, batch);
  ASSERT_EQ(batches_in(out), want_batches);
  ASSERT(!ckpt_has(ckpt, absent));
  memset(&err, 0, sizeof err);
  ASSERT_OK(run_stream(clf, ckpt, out, NULL, NULL, ro, &err), &err);
  check_exactly_once(out);
  ims_classifier_destroy(clf);
}

TEST(stream_background_offsets_fail) {
  /* offsets/2's fsync fails while batch 2 is classified: no row of
   * batch 2, and its offsets file never appears. */
  background_case("bg_offsets", fault_new("/offsets/", 's', 2, EIO), 2,
                  "fsync ", 0x3, "offsets/2");
}

TEST(stream_background_commit_fail) {
  /* commits/2's fsync fails while batch 3 runs: batch 2's rows are out
   * (its commit came after them), batch 3 has none, and offsets/3 -
   * queued behind the failed commit - is never written. */
  background_case("bg_commit", fault_new("/commits/", 's', 2, EIO), 3,
                  "commits/2", 0x7, "offsets/3");
}

/* -- the order of every file call of a run (a "power cut" model: a file
 * is there after a crash only once its folder was fsync()ed after its
 * rename) -- */

#define TRACE_MAX 4096

typedef struct trace_event {
  char op;         /* 'o' open, 'w' write, 's' fsync, 'r' rename, 'u' */
  char path[300];  /* the fd's path (w, s), the target (o, r, u) */
  long long batch; /* 'w' to the sink: the batch of its first row */
} trace_event;

typedef struct trace {
  pthread_mutex_t lock;            /* guards everything below */
  char names[256][300];            /* path of each open fd */
  trace_event ev[TRACE_MAX];       /* in the order they happened */
  size_t count;                    /* events */
} trace;

static trace the_trace = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void trace_add(trace *t, char op, const char *path, long long b) {
  pthread_mutex_lock(&t->lock);
  if (t->count < TRACE_MAX) {
    trace_event *e = &t->ev[t->count++];
    e->op = op;
    snprintf(e->path, sizeof e->path, "%s", path);
    e->batch = b;
  }
  pthread_mutex_unlock(&t->lock);
}

/* Each call is recorded just before it is made: the order of the
 * records is an order the calls can have happened in (the ones that
 * matter are on one thread, or ordered by the queue's lock). */
static int trace_open(void *ctx, const char *path, int flags, int mode) {
  trace *t = ctx;
  trace_add(t, 'o', path, -1);
  int fd = open(path, flags | O_CLOEXEC, (mode_t)mode);
  pthread_mutex_lock(&t->lock);
  if (fd >= 0 && fd < 256) snprintf(t->names[fd], 300, "%s", path);
  pthread_mutex_unlock(&t->lock);
  return fd;
}

static const char *trace_name(trace *t, int fd, char *buf) {
  pthread_mutex_lock(&t->lock);
  snprintf(buf, 300, "%s", fd >= 0 && fd < 256 ? t->names[fd] : "?");
  pthread_mutex_unlock(&t->lock);
  return buf;
}

static long trace_write(void *ctx, int fd, const void *buf, size_t n) {
  char name[300], head[32];
  long long b = -1;
  size_t h = n < sizeof head - 1 ? n : sizeof head - 1;
  memcpy(head, buf, h); /* buf need not end in NUL */
  head[h] = '\0';
  if (sscanf(head, "{\"batch\":%lld", &b) != 1) b = -1;
  trace_add(ctx, 'w', trace_name(ctx, fd, name), b);
  return (long)write(fd, buf, n);
}

/* A checkpoint fsync takes 20 ms here (a slow disk): longer than a
 * batch's classification, so a sink that did not wait for it would
 * write first and the order checks would see it. */
static int trace_fsync(void *ctx, int fd) {
  char name[300];
  trace_add(ctx, 's', trace_name(ctx, fd, name), -1);
  if (strstr(name, "order_ckpt") != NULL) {
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
  }
  return fsync(fd);
}

static int trace_rename(void *ctx, const char *from, const char *to) {
  trace_add(ctx, 'r', to, -1);
  return rename(from, to);
}

static int trace_ftruncate(void *ctx, int fd, int64_t len) {
  return ftruncate(fd, (off_t)len);
}

static int trace_close(void *ctx, int fd) { return close(fd); }

static int trace_unlink(void *ctx, const char *path) {
  trace_add(ctx, 'u', path, -1);
  return unlink(path);
}

/* Index of the first event `op` on `path` at or after `from`; -1 none. */
static long find_ev(const trace *t, size_t from, char op, const char *path) {
  for (size_t i = from; i < t->count; i++)
    if (t->ev[i].op == op && strcmp(t->ev[i].path, path) == 0)
      return (long)i;
  return -1;
}

/* When `dir/name` became durable: the first fsync of `dir` after its
 * rename. Fails the test if it never did. */
static long durable_at(const trace *t, const char *dir, const char *name) {
  char file[4400];
  snprintf(file, sizeof file, "%s/%s", dir, name);
  long r = find_ev(t, 0, 'r', file);
  ASSERT(r >= 0);
  long d = find_ev(t, (size_t)r, 's', dir);
  ASSERT(d > r);
  return d;
}

/* The first write of batch b to the sink, and the sink's fsync after
 * its last one. */
static void sink_span(const trace *t, const char *sink, long long b,
                      long *first, long *synced) {
  long last = -1;
  *first = -1;
  for (size_t i = 0; i < t->count; i++) {
    if (t->ev[i].op != 'w' || strcmp(t->ev[i].path, sink) != 0 ||
        t->ev[i].batch != b)
      continue;
    if (*first < 0) *first = (long)i;
    last = (long)i;
  }
  ASSERT(*first >= 0);
  *synced = find_ev(t, (size_t)last, 's', sink);
  ASSERT(*synced > last);
}

TEST(stream_checkpoint_io_order) {
  ims_classifier *clf = classifier();
  char ckpt[4200], out[4200], offsets[4300], commits[4300];
  snprintf(ckpt, sizeof ckpt, "%s", tmp_path("order_ckpt"));
  snprintf(out, sizeof out, "%s", tmp_path("order.jsonl"));
  snprintf(offsets, sizeof offsets, "%s/offsets", ckpt);
  snprintf(commits, sizeof commits, "%s/commits", ckpt);
  rm_rf(ckpt);
  unlink(out);
  trace *t = &the_trace;
  t->count = 0;
  ims_stream_io io = {t,            trace_open,      trace_write,
                      trace_fsync,  trace_rename,    trace_ftruncate,
                      trace_close,  trace_unlink};
  ims_error err = {0};
  run_opts ro = {2, 0}; /* compactions after batches 1, 3 and 5 */
  ASSERT_OK(run_stream(clf, ckpt, out, &io, &io, ro, &err), &err);
  check_exactly_once(out);
  ASSERT(t->count < TRACE_MAX);
  for (int64_t b = 0; b < NIMAGES / 4; b++) {
    char name[32], tmp[4400];
    long first, synced;
    snprintf(name, sizeof name, "%lld", (long long)b);
    sink_span(t, out, b, &first, &synced);
    /* I1: offsets/b durable before the first row of b is written */
    ASSERT(durable_at(t, offsets, name) < first);
    /* I2: the commit after the sink's fsync */
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", commits, name);
    ASSERT(synced < find_ev(t, 0, 'o', tmp));
    long committed = durable_at(t, commits, name);
    /* I3: offsets/b+1 not even begun before commits/b is durable */
    snprintf(tmp, sizeof tmp, "%s/.%lld.tmp", offsets, (long long)b + 1);
    long next = find_ev(t, 0, 'o', tmp);
    ASSERT(next < 0 || committed < next);
    /* I5: compaction b begins after commits/b is durable */
    snprintf(tmp, sizeof tmp, "%s/.compact-%lld.tmp", offsets,
             (long long)b);
    long snap = find_ev(t, 0, 'o', tmp);
    ASSERT_EQ(snap >= 0, b % 2 == 1);
    ASSERT(snap < 0 || committed < snap);
  }
  ims_classifier_destroy(clf);
}

/* -- SIGKILL at the new interleavings -- */

/* Run the stream in a child whose checkpoint hooks kill it as `f` says;
 * returns once it died of SIGKILL. The child makes its own classifier
 * (the parent's threads do not survive fork). */
static void crash_child(const char *ckpt, const char *out, fault *f,
                        run_opts ro) {
  ims_bucket *warm = flower_bucket(); /* made here, not in the child */
  ims_bucket_close(warm);
  fflush(NULL);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    /* A failed assertion in the child must not run more cases. */
    if (setjmp(test__jump) != 0) _exit(4);
    ims_classifier *clf = classifier();
    ims_stream_io io = fault_io(f);
    ims_error err = {0};
    run_stream(clf, ckpt, out, NULL, &io, ro, &err);
    fprintf(stderr, "child not killed: %s\n", err.message);
    _exit(3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* Kill as `f` says, check what is on disk (`present`, `absent`: files
 * under the checkpoint, NULL none; the sink's batches), restart, check
 * every image came out once. */
static void kill_case(const char *name, fault *f, uint32_t compact,
                      const char *present, const char *absent,
                      uint64_t batches) {
  char ckpt[4200], out[4200];
  snprintf(ckpt, sizeof ckpt, "%s_ckpt", tmp_path(name));
  snprintf(out, sizeof out, "%s.jsonl", tmp_path(name));
  rm_rf(ckpt);
  unlink(out);
  run_opts ro = {compact, 0};
  ims_classifier *clf = classifier(); /* skips here if there is no model */
  crash_child(ckpt, out, f, ro);
  if (present != NULL) ASSERT(ckpt_has(ckpt, present));
  if (absent != NULL) ASSERT(!ckpt_has(ckpt, absent));
  if (batches != 0) ASSERT_EQ(batches_in(out), batches);
  ims_error err = {0};
  ASSERT_OK(run_stream(clf, ckpt, out, NULL, NULL, ro, &err), &err);
  check_exactly_once(out);
  ims_classifier_destroy(clf);
}

TEST(stream_kill_offsets_not_durable) {
  /* offsets/2 written to its temporary file, killed at its fsync, 100
   * ms late (the batch is classified meanwhile and waits): batch 2 has
   * no row; its images go into a new batch 2. */
  kill_case("kill_offsets", fault_crash("/offsets/", 's', 2, 100), 0,
            "offsets/.2.tmp", "offsets/2", 0x3);
}

TEST(stream_kill_offsets_folder_sync) {
  /* offsets/2 renamed, killed at the folder's fsync (offsets/.0.tmp,
   * offsets, .1.tmp, offsets pass), 100 ms late: no row of batch 2;
   * it is replayed. */
  kill_case("kill_offsets_dir", fault_crash("kill_offsets_dir_ckpt/offsets",
                                            's', 5, 100),
            0, "offsets/2", "commits/2", 0x3);
}

TEST(stream_kill_commit_in_flight) {
  /* commits/2's fsync, 100 ms late: meanwhile batch 3 is taken and
   * classified and waits for its offsets, queued behind the commit. */
  kill_case("kill_commit", fault_crash("/commits/", 's', 2, 100), 0,
            "commits/.2.tmp", "offsets/3", 0x7);
}

TEST(stream_kill_commit_folder_sync) {
  /* commits/2 renamed, killed at the folder's fsync, 100 ms late. */
  kill_case("kill_commit_dir", fault_crash("kill_commit_dir_ckpt/commits",
                                           's', 5, 100),
            0, "commits/2", "offsets/3", 0x7);
}

TEST(stream_kill_compaction) {
  /* Compaction 1 (on its own thread) killed at its third deletion, 50 ms
   * late, while batch 2 runs. */
  kill_case("kill_compact", fault_crash("kill_compact_ckpt/", 'u', 2, 50),
            2, "offsets/compact-1", NULL, 0);
}

TEST_MAIN(stream_sink_jsonl_torn_line, stream_sink_replay_truncates,
          stream_sink_csv, stream_sink_bad_spec, stream_fault_commit_fsync,
          stream_fault_offsets_write, stream_fault_offsets_rename,
          stream_fault_sink_write, stream_fault_sink_fsync,
          stream_compaction_restart, stream_fault_compact_fsync,
          stream_fault_compact_rename, stream_fault_compact_unlink,
          stream_background_offsets_fail, stream_background_commit_fail,
          stream_checkpoint_io_order, stream_kill_offsets_not_durable,
          stream_kill_offsets_folder_sync, stream_kill_commit_in_flight,
          stream_kill_commit_folder_sync, stream_kill_compaction)
