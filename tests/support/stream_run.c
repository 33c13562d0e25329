/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/stream_run.c - runs of `imgstream stream` from a test; see
 * stream_run.h.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "imgstream/imgstream.h"
#include "support/stream_run.h"
#include "support/tool.h"
#include "test.h"

void srun_need(char *model_out, size_t cap) {
  const char *bin = getenv("IMGSTREAM_BIN");
  if (bin == NULL || access(bin, X_OK) != 0)
    RETURN_SKIP("IMGSTREAM_BIN is not an executable");
  snprintf(model_out, cap, "%s",
           shared_path("models/mobilenet_v2_1.0_224_quant.tflite"));
  if (access(model_out, R_OK) != 0) RETURN_SKIP("no shared model");
  if (access(shared_path("data/flowers/daisy"), R_OK) != 0)
    RETURN_SKIP("no shared flowers");
}

/* Start the tool with args (NULL-terminated); stdout/stderr to files
 * "<name>.out"/"<name>.err" under the test tmp folder. fsize_limit > 0
 * sets the soft RLIMIT_FSIZE in the child (SIGXFSZ ignored: writes fail
 * EFBIG). */
pid_t srun_start(const char *name, long fsize_limit,
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
int srun_finish(pid_t pid) {
  int st = 0;
  ASSERT(waitpid(pid, &st, 0) == pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void srun_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static bool reaped(pid_t pid) { return waitpid(pid, NULL, WNOHANG) == pid; }

int srun_announced_port(const char *name, pid_t pid, bool (*gone)(pid_t)) {
  static const char key[] = "serving http://127.0.0.1:";
  const char *err = test_strf("%s.err", tmp_path(name));
  for (int i = 0; i < 12000; i++) {
    char *t = test_read_text(err);
    const char *p = t ? strstr(t, key) : NULL;
    int port = p ? atoi(p + sizeof key - 1) : 0;
    free(t);
    if (port > 0) return port;
    if ((gone != NULL ? gone : reaped)(pid)) return 0;
    srun_sleep_ms(10);
  }
  return 0;
}

long srun_file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* Wait (at most 120 s: sanitizer builds are slow) until `path` grows past
 * `size` or the child exits. Returns true if it grew. */
bool srun_wait_growth(const char *path, long size, pid_t pid) {
  for (int i = 0; i < 12000; i++) {
    if (srun_file_size(path) > size) return true;
    if (waitpid(pid, NULL, WNOHANG) == pid) return false;
    srun_sleep_ms(10);
  }
  TEST__FAIL("%s did not grow in 120 s", path);
}

static const char *const cats[5] = {"daisy", "dandelion", "rose",
                                    "sunflower", "tulip"};

void srun_fresh_case_files(srun_case_files *f, const char *name,
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
void srun_make_bucket(srun_bucket *bi, const char *name, size_t n) {
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
json_t *srun_rows_text(const char *what, const char *text, json_t *counts) {
  char *copy = strdup(text);
  if (copy == NULL) abort();
  json_t *rows = json_object();
  char *save = NULL;
  for (char *l = strtok_r(copy, "\n", &save); l != NULL;
       l = strtok_r(NULL, "\n", &save)) {
    json_t *o = json_loads(l, 0, NULL);
    if (o == NULL) TEST__FAIL("%s: not JSON: %s", what, l);
    const char *p = json_string_value(json_object_get(o, "path"));
    if (p == NULL) TEST__FAIL("%s: no path: %s", what, l);
    if (counts == NULL && json_object_get(rows, p) != NULL)
      TEST__FAIL("%s: %s twice", what, p);
    if (counts != NULL)
      json_object_set_new(
          counts, p,
          json_integer(json_integer_value(json_object_get(counts, p)) + 1));
    json_object_set_new(rows, p, o);
  }
  free(copy);
  return rows;
}

json_t *srun_sink_rows(const char *path) {
  char *text = test_read_text(path);
  json_t *rows = srun_rows_text(path, text, NULL);
  free(text);
  return rows;
}
