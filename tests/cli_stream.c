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
#include "support/stream_run.h"
#include "support/tool.h"

/* ---- 1. processes ---- */

static char model_path[4096];

static void need_all(void) { srun_need(model_path, sizeof model_path); }

/* ---- 2. buckets and sinks ---- */

/* Each object of the bucket once in rows, with its folder as label and
 * a prediction (or an error if `errors_ok`). */
static void check_rows(json_t *rows, const srun_bucket *bi) {
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
static void check_csv(const char *path, const srun_bucket *bi) {
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
  ASSERT_EQ(srun_finish(srun_start("stream_help", 0, h)), 0);
  char *out = test_read_text(tmp_path("stream_help.out"));
  ASSERT_CONTAINS(out, "usage: imgstream stream --source");
  ASSERT_CONTAINS(out, "--checkpoint DIR");
  free(out);
  const char *const bad[] = {"stream", "--max-files-per-trigger", "0",
                             "--source", "dir:///nonexistent", NULL};
  ASSERT_EQ(srun_finish(srun_start("stream_bad", 0, bad)), 2);
  const char *const nosrc[] = {"stream", NULL};
  ASSERT_EQ(srun_finish(srun_start("stream_nosrc", 0, nosrc)), 2);
  const char *const sink[] = {"stream", "--source", "dir:///tmp",
                              "--model", model_path, "--sink", "kafka:x",
                              NULL};
  ASSERT_EQ(srun_finish(srun_start("stream_sink", 0, sink)), 2);
  char *err = test_read_text(tmp_path("stream_sink.err"));
  ASSERT_CONTAINS(err, "nats://HOST:PORT/RESULTS");
  free(err);
  /* an unknown --source scheme: the message names every one taken */
  const char *const scheme[] = {"stream", "--source", "http://x", NULL};
  ASSERT_EQ(srun_finish(srun_start("stream_scheme", 0, scheme)), 2);
  err = test_read_text(tmp_path("stream_scheme.err"));
  ASSERT_CONTAINS(err, "supported: dir://, s3://, nats://, tls://");
  free(err);
}

/* `imgstream classify --json` over the bucket's files: {key: class}. */
static json_t *classify_all(const srun_bucket *bi) {
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
  ASSERT_EQ(srun_finish(srun_start("stream_classify", 0, args)), 0);
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
  srun_bucket bi;
  srun_make_bucket(&bi, "stream_a_bucket", 200);
  srun_case_files f;
  srun_fresh_case_files(&f, "stream_a", NULL, NULL);
  const char *ckpt = f.ckpt, *out = f.out;
  const char *const args[] = {"stream", "--source", bi.url, "--model",
                              model_path, "--checkpoint", ckpt, "--sink",
                              f.sink, "--max-files-per-trigger", "16",
                              "--threads", "2", "--until-idle", "500", NULL};
  ASSERT_EQ(srun_finish(srun_start("stream_a", 0, args)), 0);
  json_t *rows = srun_sink_rows(out);
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
  ASSERT_EQ(srun_finish(srun_start("stream_a", 0, args)), 0);
  rows = srun_sink_rows(out);
  ASSERT_EQ(json_object_size(rows), 200);
  json_decref(rows);
}

TEST(cli_stream_sigkill) {
  need_all();
  srun_bucket bi;
  srun_make_bucket(&bi, "stream_b_bucket", 300);
  srun_case_files f;
  srun_fresh_case_files(&f, "stream_b", "csv", "progress");
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
    long before = srun_file_size(prog);
    pid_t pid = srun_start("stream_b", 0, args);
    /* Kill after it made progress, at a random moment 0-150 ms later. */
    if (srun_wait_growth(prog, before, pid)) {
      srun_sleep_ms(rand() % 150);
      kill(pid, SIGKILL);
      kills += srun_finish(pid) == 128 + SIGKILL;
    }
  }
  fprintf(stderr, "killed %d times\n", kills);
  ASSERT(kills >= 5); /* most rounds must have died mid-stream */
  ASSERT_EQ(srun_finish(srun_start("stream_b", 0, args)), 0);
  json_t *rows = srun_sink_rows(out);
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
  srun_bucket bi;
  srun_make_bucket(&bi, "stream_c_bucket", 100);
  srun_case_files f;
  srun_fresh_case_files(&f, "stream_c", "progress", NULL);
  const char *ckpt = f.ckpt, *out = f.out, *prog = f.extra[0];
  const char *const args[] = {"stream", "--source", bi.url, "--model",
                              model_path, "--checkpoint", ckpt, "--sink",
                              f.sink, "--progress", prog,
                              "--max-files-per-trigger", "2", "--threads",
                              "2", NULL};
  pid_t pid = srun_start("stream_c", 0, args);
  ASSERT(srun_wait_growth(prog, 0, pid));
  kill(pid, SIGTERM);
  ASSERT_EQ(srun_finish(pid), 0);
  size_t batches = check_all_committed(ckpt);
  ASSERT(batches >= 1);
  json_t *rows = srun_sink_rows(out);
  ASSERT_EQ(json_object_size(rows), batches * 2 < 100 ? batches * 2 : 100);
  json_decref(rows);
}

TEST(cli_stream_bad_files) {
  need_all();
  srun_bucket bi;
  srun_make_bucket(&bi, "stream_d_bucket", 20);
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
  srun_case_files f;
  srun_fresh_case_files(&f, "stream_d", "dead", NULL);
  const char *ckpt = f.ckpt, *out = f.out, *dl = f.extra[0];
  const char *const args[] = {"stream", "--source", bi.url, "--model",
                              model_path, "--checkpoint", ckpt, "--sink",
                              f.sink, "--dead-letter", dl,
                              "--max-files-per-trigger", "4", "--threads",
                              "2", "--until-idle", "500", NULL};
  for (int run = 0; run < 2; run++) {
    ASSERT_EQ(srun_finish(srun_start("stream_d", 0, args)), 0);
    json_t *rows = srun_sink_rows(out);
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
    json_t *dead = srun_sink_rows(dl);
    ASSERT_EQ(json_object_size(dead), 4);
    ASSERT(json_object_get(dead, "daisy/truncated.jpg") != NULL);
    ASSERT(json_object_get(dead, "rose/corrupt.jpg") != NULL);
    ASSERT(json_object_get(dead, "tulip/empty.jpg") != NULL);
    json_decref(dead);
  }
}

TEST(cli_stream_file_too_large) {
  need_all();
  srun_bucket bi;
  srun_make_bucket(&bi, "stream_e_bucket", 60);
  srun_case_files f;
  srun_fresh_case_files(&f, "stream_e", "err", NULL);
  const char *ckpt = f.ckpt, *out = f.out;
  const char *const args[] = {"stream", "--source", bi.url, "--model",
                              model_path, "--checkpoint", ckpt, "--sink",
                              f.sink, "--max-files-per-trigger", "4",
                              "--threads", "2", "--until-idle", "500", NULL};
  /* Rows are ~280 bytes: the sink fills up after ~30 images. */
  ASSERT_EQ(srun_finish(srun_start("stream_e", 8000, args)), 1);
  char *err = test_read_text(tmp_path("stream_e.err"));
  ASSERT_CONTAINS(err, out);
  ASSERT_CONTAINS(err, "File too large");
  free(err);
  ASSERT(srun_file_size(out) <= 8000);
  json_t *rows = srun_sink_rows(out);
  size_t partial = json_object_size(rows);
  json_decref(rows);
  ASSERT(partial > 0 && partial < 60);
  ASSERT_EQ(srun_finish(srun_start("stream_e", 0, args)), 0);
  rows = srun_sink_rows(out);
  check_rows(rows, &bi);
  json_decref(rows);
  check_all_committed(ckpt);
}

/* The pipeline: `imgstream produce --interval 0` filling the
 * bucket while the stream runs; each of the 200 images once. */
TEST(cli_stream_with_producer) {
  need_all();
  srun_bucket bi;
  snprintf(bi.dir, sizeof bi.dir, "%s", tmp_path("stream_p_bucket"));
  snprintf(bi.url, sizeof bi.url, "dir://%s", tmp_path("stream_p_bucket"));
  bi.count = 200;
  tool_rm_rf(bi.dir);
  ASSERT_EQ(mkdir(bi.dir, 0755), 0);
  srun_case_files f;
  srun_fresh_case_files(&f, "stream_p", NULL, NULL);
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
  pid_t sp = srun_start("stream_p", 0, stream);
  ASSERT_EQ(srun_finish(srun_start("stream_p_produce", 0, produce)), 0);
  ASSERT_EQ(srun_finish(sp), 0);
  json_t *rows = srun_sink_rows(out);
  check_rows(rows, &bi);
  json_decref(rows);
  check_all_committed(ckpt);
}

TEST_MAIN(cli_stream_help, cli_stream_exactly_once, cli_stream_with_producer,
          cli_stream_sigkill,
          cli_stream_sigterm, cli_stream_bad_files, cli_stream_file_too_large)
