/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_stream.c - `imgstream stream` end to end: the real binary on buckets
 * of the real shared flowers with the real model.
 *
 *   exactly_once   200 images -> each once in the JSONL sink, right label,
 *                  same top-1 as `imgstream classify --json` on the file
 *   with_producer  `imgstream produce --interval 0` running alongside:
 *                  each of its 200 uploads once
 *   sigkill        300 images, SIGKILL at 10 seeded random moments, restart
 *                  each time: JSONL and CSV sinks hold each image once;
 *                  --compact-interval 7, so kills also land in checkpoint
 *                  compactions, and the checkpoint ends compacted
 *   sigterm        SIGTERM mid-stream: exit 0, every batch taken committed
 *   bad_files      corrupt, truncated, text and empty files: error rows and
 *                  dead-letter lines, committed once, the stream goes on
 *   file_too_large RLIMIT_FSIZE on the stream: clear error naming the sink
 *                  file, non-zero exit; restart without it: exactly once
 *
 * Sections: 1. processes  2. buckets and sinks  3. cases
 *
 * Threading: single-threaded; the tool runs as a child process.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "imgstream/imgstream.h"
#include "test.h"
#include "support/tool.h"

/* ---- 1. processes ---- */

static char model_path[4096];

static void need_all(void) {
  const char *bin = getenv("IMGSTREAM_BIN");
  if (bin == NULL || access(bin, X_OK) != 0)
    RETURN_SKIP("IMGSTREAM_BIN is not an executable");
  snprintf(model_path, sizeof model_path, "%s",
           shared_path("models/mobilenet_v2_1.0_224_quant.tflite"));
  if (access(model_path, R_OK) != 0) RETURN_SKIP("no shared model");
  if (access(shared_path("data/flowers/daisy"), R_OK) != 0)
    RETURN_SKIP("no shared flowers");
}

/* Start the tool with args (NULL-terminated); stdout/stderr to files
 * "<name>.out"/"<name>.err" under the test tmp folder. fsize_limit > 0
 * sets the soft RLIMIT_FSIZE in the child (SIGXFSZ ignored: writes fail
 * EFBIG). */
static pid_t start(const char *name, long fsize_limit,
                   const char *const *args) {
  char out[4200], err[4200];
  snprintf(out, sizeof out, "%s.out", tmp_path(name));
  snprintf(err, sizeof err, "%s.err", tmp_path(name));
  fflush(NULL);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid > 0) return pid;
  if (fsize_limit > 0) {
    /* the soft limit only, as a user's `ulimit -S -f` would */
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(125);
    if ((rlim_t)fsize_limit < rl.rlim_max) rl.rlim_cur = (rlim_t)fsize_limit;
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(125);
  }
  tool_exec(args, out, false, err, true);
  return -1; /* not reached */
}

/* Exit code, or 128 + signal. */
static int finish(pid_t pid) {
  int st = 0;
  ASSERT(waitpid(pid, &st, 0) == pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* Wait (at most 120 s: sanitizer builds are slow) until `path` grows past
 * `size` or the child exits. Returns true if it grew. */
static bool wait_growth(const char *path, long size, pid_t pid) {
  for (int i = 0; i < 12000; i++) {
    if (file_size(path) > size) return true;
    if (waitpid(pid, NULL, WNOHANG) == pid) return false;
    sleep_ms(10);
  }
  TEST__FAIL("%s did not grow in 120 s", path);
}

/* ---- 2. buckets and sinks ---- */

static const char *const cats[5] = {"daisy", "dandelion", "rose",
                                    "sunflower", "tulip"};

typedef struct bucket_info {
  char dir[4096];  /* bucket folder */
  char url[4200];  /* dir://... */
  size_t count;    /* objects */
} bucket_info;

/* A stream case's files in the test tmp folder, removed so that it
 * starts from nothing: <name>_ckpt, <name>.jsonl (sink: its "jsonl:"
 * spec) and <name>.<ext> for each extension in ext (up to two). */
typedef struct case_files {
  char ckpt[4200], out[4200], sink[4300], extra[2][4200];
} case_files;

static void fresh_case_files(case_files *f, const char *name,
                             const char *ext0, const char *ext1) {
  snprintf(f->ckpt, sizeof f->ckpt, "%s_ckpt", tmp_path(name));
  snprintf(f->out, sizeof f->out, "%s.jsonl", tmp_path(name));
  snprintf(f->sink, sizeof f->sink, "jsonl:%s.jsonl", tmp_path(name));
  tool_rm_rf(f->ckpt);
  unlink(f->out);
  const char *ext[2] = {ext0, ext1};
  for (int i = 0; i < 2; i++) {
    f->extra[i][0] = '\0';
    if (ext[i] == NULL) continue;
    snprintf(f->extra[i], sizeof f->extra[i], "%s.%s", tmp_path(name),
             ext[i]);
    unlink(f->extra[i]);
  }
}

/* A fresh bucket with n flowers, taken round-robin from the categories
 * (so labels vary), stored with ims_bucket_put. */
static void make_bucket(bucket_info *bi, const char *name, size_t n) {
  snprintf(bi->dir, sizeof bi->dir, "%s", tmp_path(name));
  snprintf(bi->url, sizeof bi->url, "dir://%s", tmp_path(name));
  tool_rm_rf(bi->dir);
  ims_error err = {0};
  ims_bucket *b = NULL;
  ASSERT_OK(ims_bucket_open(bi->url, IMS_BUCKET_CREATE, &b, &err), &err);
  char cmd[4300], line[1024], key[1200];
  snprintf(cmd, sizeof cmd, "cd '%s' && ls -1 */*.jpg",
           shared_path("data/flowers"));
  FILE *ls = popen(cmd, "r");
  ASSERT(ls != NULL);
  char *names[5][100];
  size_t counts[5] = {0};
  while (fgets(line, sizeof line, ls) != NULL) {
    line[strcspn(line, "\n")] = '\0';
    for (int c = 0; c < 5; c++) {
      size_t len = strlen(cats[c]);
      if (strncmp(line, cats[c], len) == 0 && line[len] == '/' &&
          counts[c] < 100)
        names[c][counts[c]++] = strdup(line);
    }
  }
  pclose(ls);
  bi->count = 0;
  for (size_t i = 0; bi->count < n && i < 100; i++) {
    for (int c = 0; c < 5 && bi->count < n; c++) {
      if (i >= counts[c]) continue;
      snprintf(key, sizeof key, "data/flowers/%s", names[c][i]);
      size_t size = 0;
      unsigned char *d = test_read_file(shared_path(key), &size);
      ASSERT(d != NULL);
      ASSERT_OK(ims_bucket_put(b, names[c][i], d, size, &err), &err);
      free(d);
      bi->count++;
    }
  }
  for (int c = 0; c < 5; c++)
    for (size_t i = 0; i < counts[c]; i++) free(names[c][i]);
  ims_bucket_close(b);
  ASSERT_EQ(bi->count, n);
}

/* Parse a JSONL sink into {path: row}; fails on a duplicate path or a
 * line that is not JSON. Returns a new reference. */
static json_t *sink_rows(const char *path) {
  char *text = test_read_text(path);
  json_t *rows = json_object();
  char *save = NULL;
  for (char *l = strtok_r(text, "\n", &save); l != NULL;
       l = strtok_r(NULL, "\n", &save)) {
    json_t *o = json_loads(l, 0, NULL);
    if (o == NULL) TEST__FAIL("%s: not JSON: %s", path, l);
    const char *p = json_string_value(json_object_get(o, "path"));
    ASSERT(p != NULL);
    if (json_object_get(rows, p) != NULL) TEST__FAIL("%s: %s twice", path, p);
    json_object_set_new(rows, p, o);
  }
  free(text);
  return rows;
}

/* Each object of the bucket once in rows, with its folder as label and
 * a prediction (or an error if `errors_ok`). */
static void check_rows(json_t *rows, const bucket_info *bi) {
  ASSERT_EQ(json_object_size(rows), bi->count);
  const char *key;
  json_t *o;
  json_object_foreach(rows, key, o) {
    char file[4200];
    snprintf(file, sizeof file, "%s/%s", bi->dir, key);
    ASSERT(access(file, R_OK) == 0);
    const char *label = json_string_value(json_object_get(o, "label"));
    ASSERT(label != NULL && strncmp(key, label, strlen(label)) == 0 &&
           key[strlen(label)] == '/');
    ASSERT(json_object_get(o, "batch") != NULL);
  }
}

/* CSV sink: the header and each key exactly once. */
static void check_csv(const char *path, const bucket_info *bi) {
  char *text = test_read_text(path);
  json_t *seen = json_object();
  char *save = NULL;
  size_t lines = 0;
  for (char *l = strtok_r(text, "\n", &save); l != NULL;
       l = strtok_r(NULL, "\n", &save), lines++) {
    if (lines == 0) {
      ASSERT(strncmp(l, "batch,path,label,", 17) == 0);
      continue;
    }
    char *p = strchr(l, ',');
    ASSERT(p != NULL);
    char *end = strchr(p + 1, ',');
    ASSERT(end != NULL);
    *end = '\0';
    if (json_object_get(seen, p + 1) != NULL)
      TEST__FAIL("%s: %s twice", path, p + 1);
    json_object_set_new(seen, p + 1, json_true());
  }
  ASSERT_EQ(json_object_size(seen), bi->count);
  json_decref(seen);
  free(text);
}

/* The newest snapshot (offsets/compact-<id>) of a checkpoint, -1 none;
 * *files_out: files in offsets/ (not '.' names). */
static long long newest_snapshot(const char *ckpt, size_t *files_out) {
  char dir[4300];
  snprintf(dir, sizeof dir, "%s/offsets", ckpt);
  DIR *d = opendir(dir);
  ASSERT(d != NULL);
  long long best = -1, id = 0;
  *files_out = 0;
  for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
    *files_out += e->d_name[0] != '.';
    if (sscanf(e->d_name, "compact-%lld", &id) == 1 && id > best) best = id;
  }
  closedir(d);
  return best;
}

/* Every offsets/<id> of the checkpoint after its snapshot has its
 * commits/<id>. Returns the number of batches. */
static size_t check_all_committed(const char *ckpt) {
  size_t files = 0;
  size_t n = (size_t)(newest_snapshot(ckpt, &files) + 1);
  for (;; n++) {
    char o[4300], c[4300];
    snprintf(o, sizeof o, "%s/offsets/%zu", ckpt, n);
    snprintf(c, sizeof c, "%s/commits/%zu", ckpt, n);
    if (access(o, R_OK) != 0) break;
    if (access(c, R_OK) != 0) TEST__FAIL("batch %zu not committed", n);
  }
  return n;
}

/* ---- 3. cases ---- */

TEST(cli_stream_help) {
  need_all();
  const char *const h[] = {"stream", "--help", NULL};
  ASSERT_EQ(finish(start("stream_help", 0, h)), 0);
  char *out = test_read_text(tmp_path("stream_help.out"));
  ASSERT_CONTAINS(out, "usage: imgstream stream --source");
  ASSERT_CONTAINS(out, "--checkpoint DIR");
  free(out);
  const char *const bad[] = {"stream", "--max-files-per-trigger", "0",
                             "--source", "dir:///nonexistent", NULL};
  ASSERT_EQ(finish(start("stream_bad", 0, bad)), 2);
  const char *const nosrc[] = {"stream", NULL};
  ASSERT_EQ(finish(start("stream_nosrc", 0, nosrc)), 2);
  const char *const sink[] = {"stream", "--source", "dir:///tmp",
                              "--model", model_path, "--sink", "kafka:x",
                              NULL};
  ASSERT_EQ(finish(start("stream_sink", 0, sink)), 2);
  char *err = test_read_text(tmp_path("stream_sink.err"));
  ASSERT_CONTAINS(err, "nats://HOST:PORT/RESULTS");
  free(err);
  /* an unknown --source scheme: the message names every one taken */
  const char *const scheme[] = {"stream", "--source", "http://x", NULL};
  ASSERT_EQ(finish(start("stream_scheme", 0, scheme)), 2);
  err = test_read_text(tmp_path("stream_scheme.err"));
  ASSERT_CONTAINS(err, "supported: dir://, s3://, nats://, tls://");
  free(err);
}

/* `imgstream classify --json` over the bucket's files: {key: class}. */
static json_t *classify_all(const bucket_info *bi) {
  static char paths[300][5200];
  const char *args[320];
  int n = 0;
  args[n++] = "classify";
  args[n++] = "--json";
  args[n++] = "--threads";
  args[n++] = "2";
  args[n++] = "--model";
  args[n++] = model_path;
  {
    char cmd[4300], line[1024];
    snprintf(cmd, sizeof cmd, "cd '%s' && ls -1 */*", bi->dir);
    FILE *ls = popen(cmd, "r");
    ASSERT(ls != NULL);
    for (size_t i = 0; i < 300 && fgets(line, sizeof line, ls) != NULL;
         i++) {
      line[strcspn(line, "\n")] = '\0';
      snprintf(paths[i], sizeof paths[i], "%s/%s", bi->dir, line);
      args[n++] = paths[i];
    }
    pclose(ls);
  }
  args[n] = NULL;
  ASSERT_EQ(finish(start("stream_classify", 0, args)), 0);
  char *out = test_read_text(tmp_path("stream_classify.out"));
  json_t *by_key = json_object();
  char *save = NULL;
  for (char *l = strtok_r(out, "\n", &save); l != NULL;
       l = strtok_r(NULL, "\n", &save)) {
    json_t *o = json_loads(l, 0, NULL);
    ASSERT(o != NULL);
    const char *p = json_string_value(json_object_get(o, "path"));
    json_t *top = json_array_get(json_object_get(o, "top"), 0);
    ASSERT(p != NULL && top != NULL);
    json_object_set(by_key, p + strlen(bi->dir) + 1,
                    json_object_get(top, "class"));
    json_decref(o);
  }
  free(out);
  return by_key;
}

TEST(cli_stream_exactly_once) {
  need_all();
  bucket_info bi;
  make_bucket(&bi, "stream_a_bucket", 200);
  case_files f;
  fresh_case_files(&f, "stream_a", NULL, NULL);
  const char *ckpt = f.ckpt, *out = f.out;
  const char *const args[] = {"stream", "--source", bi.url, "--model",
                              model_path, "--checkpoint", ckpt, "--sink",
                              f.sink, "--max-files-per-trigger", "16",
                              "--threads", "2", "--until-idle", "500", NULL};
  ASSERT_EQ(finish(start("stream_a", 0, args)), 0);
  json_t *rows = sink_rows(out);
  check_rows(rows, &bi);
  ASSERT_EQ(check_all_committed(ckpt), (200 + 15) / 16);
  json_t *want = classify_all(&bi);
  ASSERT_EQ(json_object_size(want), 200);
  const char *key;
  json_t *o;
  json_object_foreach(rows, key, o) {
    const char *got = json_string_value(
        json_object_get(json_object_get(o, "prediction"), "class"));
    const char *exp = json_string_value(json_object_get(want, key));
    if (got == NULL || exp == NULL || strcmp(got, exp) != 0)
      TEST__FAIL("%s: stream says %s, classify says %s", key,
                 got ? got : "(none)", exp ? exp : "(none)");
  }
  json_decref(want);
  json_decref(rows);
  /* A second run on the same checkpoint takes nothing again. */
  ASSERT_EQ(finish(start("stream_a", 0, args)), 0);
  rows = sink_rows(out);
  ASSERT_EQ(json_object_size(rows), 200);
  json_decref(rows);
}

TEST(cli_stream_sigkill) {
  need_all();
  bucket_info bi;
  make_bucket(&bi, "stream_b_bucket", 300);
  case_files f;
  fresh_case_files(&f, "stream_b", "csv", "progress");
  const char *ckpt = f.ckpt, *out = f.out, *csv = f.extra[0],
             *prog = f.extra[1];
  char s2[4300];
  snprintf(s2, sizeof s2, "csv:%s", csv);
  const char *const args[] = {"stream", "--source", bi.url, "--model",
                              model_path, "--checkpoint", ckpt, "--sink",
                              f.sink, "--sink", s2, "--progress", prog,
                              "--max-files-per-trigger", "3", "--threads",
                              "2", "--until-idle", "500",
                              "--compact-interval", "7", NULL};
  srand(20240601);
  int kills = 0;
  for (int round = 0; round < 10; round++) {
    long before = file_size(prog);
    pid_t pid = start("stream_b", 0, args);
    /* Kill after it made progress, at a random moment 0-150 ms later. */
    if (wait_growth(prog, before, pid)) {
      sleep_ms(rand() % 150);
      kill(pid, SIGKILL);
      kills += finish(pid) == 128 + SIGKILL;
    }
  }
  fprintf(stderr, "killed %d times\n", kills);
  ASSERT(kills >= 5); /* most rounds must have died mid-stream */
  ASSERT_EQ(finish(start("stream_b", 0, args)), 0);
  json_t *rows = sink_rows(out);
  check_rows(rows, &bi);
  json_decref(rows);
  check_csv(csv, &bi);
  ASSERT_EQ(check_all_committed(ckpt), 100);
  /* Compacted: the snapshot, then fewer than 7 batches after it. */
  size_t files = 0;
  ASSERT(newest_snapshot(ckpt, &files) >= 90);
  ASSERT_LE(files, 7);
}

TEST(cli_stream_sigterm) {
  need_all();
  bucket_info bi;
  make_bucket(&bi, "stream_c_bucket", 100);
  case_files f;
  fresh_case_files(&f, "stream_c", "progress", NULL);
  const char *ckpt = f.ckpt, *out = f.out, *prog = f.extra[0];
  const char *const args[] = {"stream", "--source", bi.url, "--model",
                              model_path, "--checkpoint", ckpt, "--sink",
                              f.sink, "--progress", prog,
                              "--max-files-per-trigger", "2", "--threads",
                              "2", NULL};
  pid_t pid = start("stream_c", 0, args);
  ASSERT(wait_growth(prog, 0, pid));
  kill(pid, SIGTERM);
  ASSERT_EQ(finish(pid), 0);
  size_t batches = check_all_committed(ckpt);
  ASSERT(batches >= 1);
  json_t *rows = sink_rows(out);
  ASSERT_EQ(json_object_size(rows), batches * 2 < 100 ? batches * 2 : 100);
  json_decref(rows);
}

TEST(cli_stream_bad_files) {
  need_all();
  bucket_info bi;
  make_bucket(&bi, "stream_d_bucket", 20);
  ims_error err = {0};
  ims_bucket *b = NULL;
  ASSERT_OK(ims_bucket_open(bi.url, 0, &b, &err), &err);
  size_t n = 0;
  unsigned char *jpg = test_read_file(
      shared_path("data/flowers/daisy/10993818044_4c19b86c82.jpg"), &n);
  ASSERT(jpg != NULL && n > 2000);
  ASSERT_OK(ims_bucket_put(b, "daisy/truncated.jpg", jpg, n / 3, &err),
            &err);
  for (size_t i = 600; i < n; i += 7) jpg[i] ^= 0x5a;
  ASSERT_OK(ims_bucket_put(b, "rose/corrupt.jpg", jpg, n, &err), &err);
  ASSERT_OK(ims_bucket_put(b, "tulip/notes.txt", "not an image\n", 13, &err),
            &err);
  ASSERT_OK(ims_bucket_put(b, "tulip/empty.jpg", "", 0, &err), &err);
  free(jpg);
  ims_bucket_close(b);
  bi.count = 24;
  case_files f;
  fresh_case_files(&f, "stream_d", "dead", NULL);
  const char *ckpt = f.ckpt, *out = f.out, *dl = f.extra[0];
  const char *const args[] = {"stream", "--source", bi.url, "--model",
                              model_path, "--checkpoint", ckpt, "--sink",
                              f.sink, "--dead-letter", dl,
                              "--max-files-per-trigger", "4", "--threads",
                              "2", "--until-idle", "500", NULL};
  for (int run = 0; run < 2; run++) {
    ASSERT_EQ(finish(start("stream_d", 0, args)), 0);
    json_t *rows = sink_rows(out);
    check_rows(rows, &bi);
    size_t errors = 0;
    const char *key;
    json_t *o;
    json_object_foreach(rows, key, o) {
      bool bad = json_object_get(o, "error") != NULL;
      errors += bad;
      ASSERT_EQ(bad, json_object_get(o, "prediction") == NULL);
    }
    ASSERT_EQ(errors, 4);
    ASSERT(json_object_get(json_object_get(rows, "tulip/notes.txt"),
                           "error") != NULL);
    json_decref(rows);
    json_t *dead = sink_rows(dl);
    ASSERT_EQ(json_object_size(dead), 4);
    ASSERT(json_object_get(dead, "daisy/truncated.jpg") != NULL);
    ASSERT(json_object_get(dead, "rose/corrupt.jpg") != NULL);
    ASSERT(json_object_get(dead, "tulip/empty.jpg") != NULL);
    json_decref(dead);
  }
}

TEST(cli_stream_file_too_large) {
  need_all();
  bucket_info bi;
  make_bucket(&bi, "stream_e_bucket", 60);
  case_files f;
  fresh_case_files(&f, "stream_e", "err", NULL);
  const char *ckpt = f.ckpt, *out = f.out;
  const char *const args[] = {"stream", "--source", bi.url, "--model",
                              model_path, "--checkpoint", ckpt, "--sink",
                              f.sink, "--max-files-per-trigger", "4",
                              "--threads", "2", "--until-idle", "500", NULL};
  /* Rows are ~280 bytes: the sink fills up after ~30 images. */
  ASSERT_EQ(finish(start("stream_e", 8000, args)), 1);
  char *err = test_read_text(tmp_path("stream_e.err"));
  ASSERT_CONTAINS(err, out);
  ASSERT_CONTAINS(err, "File too large");
  free(err);
  ASSERT(file_size(out) <= 8000);
  json_t *rows = sink_rows(out);
  size_t partial = json_object_size(rows);
  json_decref(rows);
  ASSERT(partial > 0 && partial < 60);
  ASSERT_EQ(finish(start("stream_e", 0, args)), 0);
  rows = sink_rows(out);
  check_rows(rows, &bi);
  json_decref(rows);
  check_all_committed(ckpt);
}

/* The pipeline: `imgstream produce --interval 0` filling the
 * bucket while the stream runs; each of the 200 images once. */
TEST(cli_stream_with_producer) {
  need_all();
  bucket_info bi;
  snprintf(bi.dir, sizeof bi.dir, "%s", tmp_path("stream_p_bucket"));
  snprintf(bi.url, sizeof bi.url, "dir://%s", tmp_path("stream_p_bucket"));
  bi.count = 200;
  tool_rm_rf(bi.dir);
  ASSERT_EQ(mkdir(bi.dir, 0755), 0);
  case_files f;
  fresh_case_files(&f, "stream_p", NULL, NULL);
  const char *ckpt = f.ckpt, *out = f.out;
  char flowers[4096];
  snprintf(flowers, sizeof flowers, "%s", shared_path("data/flowers"));
  const char *const stream[] = {"stream", "--source", bi.url, "--model",
                                model_path, "--checkpoint", ckpt, "--sink",
                                f.sink, "--max-files-per-trigger", "16",
                                "--threads", "2", "--until-idle", "3000",
                                NULL};
  const char *const produce[] = {"produce", "--from", flowers, "--to",
                                 bi.url, "--interval", "0", "--limit", "200",
                                 "--seed", "3", "--quiet", NULL};
  pid_t sp = start("stream_p", 0, stream);
  ASSERT_EQ(finish(start("stream_p_produce", 0, produce)), 0);
  ASSERT_EQ(finish(sp), 0);
  json_t *rows = sink_rows(out);
  check_rows(rows, &bi);
  json_decref(rows);
  check_all_committed(ckpt);
}

TEST_MAIN(cli_stream_help, cli_stream_exactly_once, cli_stream_with_producer,
          cli_stream_sigkill,
          cli_stream_sigterm, cli_stream_bad_files, cli_stream_file_too_large)
