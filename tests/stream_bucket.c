/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream_bucket.c - the dir:// bucket: atomic puts, listings that never
 * show temporary files, key validation, inotify wake-ups, and a put that
 * fails half-way (file-size limit) leaving nothing visible.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "imgstream/bucket.h"
#include "bucket/bucket_int.h"
#include "test.h"

static const char *fresh_bucket(const char *name) {
  static char url[4200];
  char cmd[4300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_path(name));
  ASSERT(system(cmd) == 0);
  snprintf(url, sizeof url, "dir://%s", tmp_path(name));
  return url;
}

TEST(stream_bucket_put_list_read) {
  ims_error err = {0};
  ims_bucket *b = NULL;
  const char *url = fresh_bucket("bucket_basic");
  ASSERT_EQ(ims_bucket_open(url, 0, &b, &err), IMS_ERR_NOT_FOUND);
  ASSERT_OK(ims_bucket_open(url, IMS_BUCKET_CREATE, &b, &err), &err);
  ASSERT_OK(ims_bucket_put(b, "daisy/a.jpg", "AAAA", 4, &err), &err);
  usleep(20000); /* distinct mtimes order the listing */
  ASSERT_OK(ims_bucket_put(b, "rose/b.jpg", "BB", 2, &err), &err);
  ims_object *objs = NULL;
  size_t n = 0;
  ASSERT_OK(ims_bucket_list(b, &objs, &n, &err), &err);
  ASSERT_EQ(n, 2);
  ASSERT_STR_EQ(objs[0].key, "daisy/a.jpg");
  ASSERT_EQ(objs[0].size, 4);
  ASSERT_STR_EQ(objs[1].key, "rose/b.jpg");
  ASSERT(objs[0].event_time_ms <= objs[1].event_time_ms);
  ims_bucket_list_free(objs, n);
  void *data = NULL;
  size_t size = 0;
  ASSERT_OK(ims_bucket_read(b, "rose/b.jpg", &data, &size, &err), &err);
  ASSERT_EQ(size, 2);
  ASSERT(memcmp(data, "BB", 2) == 0);
  free(data);
  ASSERT_EQ(ims_bucket_read(b, "rose/none.jpg", &data, &size, &err),
            IMS_ERR_NOT_FOUND);
  ASSERT_CONTAINS(err.message, "rose/none.jpg");
  ims_bucket_close(b);
}

/* Skips the key it is asked about when it ends in "a.jpg"; counts calls. */
static bool skip_a(void *calls, const char *key) {
  (*(int *)calls)++;
  size_t n = strlen(key);
  return n >= 5 && strcmp(key + n - 5, "a.jpg") == 0;
}

/* A listing of new objects leaves out the files the caller knows (asked
 * once per file, never about folders) and lists the rest as a full
 * listing does; with nothing to skip it is the full listing. */
TEST(stream_bucket_list_new_skips_known) {
  ims_error err = {0};
  ims_bucket *b = NULL;
  ASSERT_OK(ims_bucket_open(fresh_bucket("bucket_list_new"),
                            IMS_BUCKET_CREATE, &b, &err),
            &err);
  ASSERT_OK(ims_bucket_put(b, "daisy/a.jpg", "AAAA", 4, &err), &err);
  ASSERT_OK(ims_bucket_put(b, "rose/a.jpg", "A", 1, &err), &err);
  usleep(20000);
  ASSERT_OK(ims_bucket_put(b, "rose/b.jpg", "BB", 2, &err), &err);
  ims_object *objs = NULL;
  size_t n = 0;
  int calls = 0;
  ASSERT_OK(ims__bucket_list_new(b, skip_a, &calls, &objs, &n, &err), &err);
  ASSERT_EQ(n, 1);
  ASSERT_STR_EQ(objs[0].key, "rose/b.jpg");
  ASSERT_EQ(objs[0].size, 2);
  ASSERT(objs[0].event_time_ms > 0);
  ASSERT_EQ(calls, 3);
  ims_bucket_list_free(objs, n);
  ASSERT_OK(ims__bucket_list_new(b, NULL, NULL, &objs, &n, &err), &err);
  ASSERT_EQ(n, 3);
  ASSERT_STR_EQ(objs[2].key, "rose/b.jpg");
  ims_bucket_list_free(objs, n);
  ims_bucket_close(b);
}

TEST(stream_bucket_rejects_bad_keys_and_urls) {
  ims_error err = {0};
  ims_bucket *b = NULL;
  ASSERT_EQ(ims_bucket_open("nowhere", 0, &b, &err), IMS_ERR_INVALID_ARG);
  ASSERT_EQ(ims_bucket_open("ftp://x", 0, &b, &err), IMS_ERR_INVALID_ARG);
  ASSERT_CONTAINS(err.message, "unknown scheme");
  ASSERT_OK(ims_bucket_open(fresh_bucket("bucket_keys"), IMS_BUCKET_CREATE,
                            &b, &err), &err);
  const char *bad[] = {"", "/abs", "../x", "a/../b", "a//b", ".hidden",
                       "a/.tmp", "a/"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ASSERT_EQ(ims_bucket_put(b, bad[i], "x", 1, &err), IMS_ERR_INVALID_ARG);
  ims_object *objs = NULL;
  size_t n = 9;
  ASSERT_OK(ims_bucket_list(b, &objs, &n, &err), &err);
  ASSERT_EQ(n, 0);
  ims_bucket_list_free(objs, n);
  ims_bucket_close(b);
}

TEST(stream_bucket_hides_temporary_files) {
  ims_error err = {0};
  ims_bucket *b = NULL;
  const char *url = fresh_bucket("bucket_tmp");
  ASSERT_OK(ims_bucket_open(url, IMS_BUCKET_CREATE, &b, &err), &err);
  ASSERT_OK(ims_bucket_put(b, "tulip/c.jpg", "C", 1, &err), &err);
  char path[4200];
  int len = snprintf(path, sizeof path, "%s/tulip/.d.jpg.123.0.tmp", url + 6);
  ASSERT(len > 0 && (size_t)len < sizeof path);
  ASSERT(test_write_file(path, "partial", 7) == 0);
  ims_object *objs = NULL;
  size_t n = 0;
  ASSERT_OK(ims_bucket_list(b, &objs, &n, &err), &err);
  ASSERT_EQ(n, 1);
  ASSERT_STR_EQ(objs[0].key, "tulip/c.jpg");
  ims_bucket_list_free(objs, n);
  ims_bucket_close(b);
}

TEST(stream_bucket_failed_put_leaves_nothing) {
  ims_error err = {0};
  ims_bucket *b = NULL;
  ASSERT_OK(ims_bucket_open(fresh_bucket("bucket_full"), IMS_BUCKET_CREATE,
                            &b, &err), &err);
  /* A file-size limit makes write() fail with EFBIG part-way, as a full
   * disk would with ENOSPC. Only the soft limit is lowered: a user who
   * is not root cannot raise a hard limit back, and the later cases of
   * this process would inherit it. */
  struct rlimit old, lim, now;
  ASSERT(getrlimit(RLIMIT_FSIZE, &old) == 0);
  lim = old;
  lim.rlim_cur = old.rlim_max < 4096 ? old.rlim_max : 4096;
  signal(SIGXFSZ, SIG_IGN);
  ASSERT(setrlimit(RLIMIT_FSIZE, &lim) == 0);
  static char big[65536];
  ims_status st = ims_bucket_put(b, "rose/big.jpg", big, sizeof big, &err);
  ASSERT(setrlimit(RLIMIT_FSIZE, &old) == 0);
  signal(SIGXFSZ, SIG_DFL);
  ASSERT(getrlimit(RLIMIT_FSIZE, &now) == 0);
  ASSERT(now.rlim_cur == old.rlim_cur && now.rlim_max == old.rlim_max);
  ASSERT_EQ(st, IMS_ERR_IO);
  ASSERT_CONTAINS(err.message, "File too large");
  ims_object *objs = NULL;
  size_t n = 9;
  ASSERT_OK(ims_bucket_list(b, &objs, &n, &err), &err);
  ASSERT_EQ(n, 0);
  ims_bucket_list_free(objs, n);
  ims_bucket_close(b);
}

TEST(stream_bucket_wait_wakes_on_new_object) {
  ims_error err = {0};
  ims_bucket *reader = NULL, *writer = NULL;
  const char *url = fresh_bucket("bucket_watch");
  ASSERT_OK(ims_bucket_open(url, IMS_BUCKET_CREATE, &writer, &err), &err);
  ASSERT_OK(ims_bucket_open(url, IMS_BUCKET_WATCH, &reader, &err), &err);
  /* A new category folder, then a file in it: both must wake the reader
   * (the second one proves the new folder got a watch). */
  for (int round = 0; round < 2; round++) {
    pid_t child = fork();
    ASSERT(child >= 0);
    if (child == 0) {
      usleep(100000);
      ims_bucket_put(writer, round ? "new/two.jpg" : "new/one.jpg", "x", 1,
                     NULL);
      _exit(0);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ASSERT_OK(ims_bucket_wait(reader, 30000, &err), &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited = (double)(t1.tv_sec - t0.tv_sec) +
                    (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    ASSERT_LE(waited, 20.0); /* woken by the event, not the timeout */
    int status = 0;
    waitpid(child, &status, 0);
    usleep(50000);
    ims_bucket_wait(reader, 0, &err); /* drain */
  }
  ims_bucket_close(reader);
  ims_bucket_close(writer);
}

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A put's landing time lies within the put, to the millisecond: the
 * kernel's own stamps come from its tick, up to several ms early. */
TEST(stream_bucket_put_stamps_landing_time) {
  ims_error err = {0};
  ims_bucket *b = NULL;
  ASSERT_OK(ims_bucket_open(fresh_bucket("bucket_stamp"), IMS_BUCKET_CREATE,
                            &b, &err), &err);
  for (int i = 0; i < 20; i++) {
    char key[32];
    snprintf(key, sizeof key, "rose/%02d.jpg", i);
    int64_t before = now_ms();
    ASSERT_OK(ims_bucket_put(b, key, "x", 1, &err), &err);
    int64_t after = now_ms();
    ims_object *objs = NULL;
    size_t n = 0;
    ASSERT_OK(ims__bucket_list_new(b, NULL, NULL, &objs, &n, &err), &err);
    ASSERT_EQ(n, (size_t)i + 1);
    ASSERT_STR_EQ(objs[n - 1].key, key);
    if (objs[n - 1].event_time_ms < before || objs[n - 1].event_time_ms > after)
      TEST__FAIL("%s landed at %lld, put from %lld to %lld", key,
                 (long long)objs[n - 1].event_time_ms, (long long)before,
                 (long long)after);
    ims_bucket_list_free(objs, n);
    usleep(3000);
  }
  ims_bucket_close(b);
}

/* Write `key` in place (open, write, close: IN_CLOSE_WRITE), as a tool
 * that does not rename would. */
static void write_in_place(const char *bucket, const char *key,
                           const char *text) {
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", tmp_path(bucket), key);
  ASSERT_EQ(test_write_file(path, text, strlen(text)), 0);
}

/* What the watch saw land, through ims__bucket_list_changes. */
static ims_object *changes(ims_bucket *b, size_t *n, bool *known) {
  ims_error err = {0};
  ims_object *objs = NULL;
  ASSERT_OK(ims__bucket_list_changes(b, skip_a, &(int){0}, &objs, n, known,
                                     &err), &err);
  return objs;
}

/* The files the events named since the last listing, each once, without
 * the known ones (skip), temporary names or files deleted since; unknown
 * before the first listing, after a new folder, and without a watch. */
TEST(stream_bucket_list_changes) {
  ims_error err = {0};
  ims_bucket *b = NULL, *unwatched = NULL;
  const char *url = fresh_bucket("bucket_changes");
  ASSERT_OK(ims_bucket_open(url, IMS_BUCKET_CREATE, &unwatched, &err), &err);
  ASSERT_OK(ims_bucket_put(unwatched, "daisy/old.jpg", "O", 1, &err), &err);
  ASSERT_OK(ims_bucket_open(url, IMS_BUCKET_WATCH, &b, &err), &err);
  size_t n = 0;
  bool known = true;
  ims_object *objs = changes(b, &n, &known);
  ASSERT(!known && n == 0 && objs == NULL); /* no listing yet */
  ASSERT_OK(ims__bucket_list_new(b, NULL, NULL, &objs, &n, &err), &err);
  ims_bucket_list_free(objs, n);
  ASSERT_OK(ims_bucket_put(unwatched, "daisy/p.jpg", "PP", 2, &err), &err);
  ASSERT_OK(ims_bucket_put(unwatched, "daisy/p.jpg", "PPP", 3, &err), &err);
  ASSERT_OK(ims_bucket_put(unwatched, "daisy/a.jpg", "A", 1, &err), &err);
  write_in_place("bucket_changes", "daisy/w.jpg", "WWWW");
  write_in_place("bucket_changes", "daisy/.hidden.tmp", "T");
  write_in_place("bucket_changes", "daisy/gone.jpg", "G");
  char gone[4400];
  snprintf(gone, sizeof gone, "%s/daisy/gone.jpg", tmp_path("bucket_changes"));
  ASSERT_EQ(unlink(gone), 0);
  ASSERT_OK(ims_bucket_wait(b, 1000, &err), &err);
  objs = changes(b, &n, &known);
  ASSERT(known);
  ASSERT_EQ(n, 2); /* p.jpg once (put twice), w.jpg; a.jpg skipped */
  ASSERT_STR_EQ(objs[0].key, "daisy/p.jpg");
  ASSERT_EQ(objs[0].size, 3);
  ASSERT_STR_EQ(objs[1].key, "daisy/w.jpg");
  ASSERT_EQ(objs[1].size, 4);
  ims_bucket_list_free(objs, n);
  objs = changes(b, &n, &known); /* taken: nothing new */
  ASSERT(known && n == 0);
  /* A new folder: its files may predate its watch, so a listing. */
  ASSERT_OK(ims_bucket_put(unwatched, "tulip/t.jpg", "T", 1, &err), &err);
  ASSERT_OK(ims_bucket_wait(b, 1000, &err), &err);
  objs = changes(b, &n, &known);
  ASSERT(!known && n == 0);
  ASSERT_OK(ims__bucket_list_new(b, NULL, NULL, &objs, &n, &err), &err);
  ASSERT_EQ(n, 5);
  ims_bucket_list_free(objs, n);
  ASSERT_OK(ims_bucket_put(unwatched, "tulip/u.jpg", "U", 1, &err), &err);
  ASSERT_OK(ims_bucket_wait(b, 1000, &err), &err);
  objs = changes(b, &n, &known); /* the new folder is watched now */
  ASSERT(known && n == 1);
  ASSERT_STR_EQ(objs[0].key, "tulip/u.jpg");
  ims_bucket_list_free(objs, n);
  objs = changes(unwatched, &n, &known);
  ASSERT(!known && n == 0);
  ims_bucket_close(b);
  ims_bucket_close(unwatched);
}

/* More files between two looks than the record keeps: unknown, so the
 * caller lists, and the listing has them all. */
TEST(stream_bucket_list_changes_overflow) {
  ims_error err = {0};
  ims_bucket *b = NULL;
  const char *url = fresh_bucket("bucket_changes_many");
  ASSERT_OK(ims_bucket_open(url, IMS_BUCKET_CREATE | IMS_BUCKET_WATCH, &b,
                            &err), &err);
  ASSERT_OK(ims_bucket_put(b, "rose/first.jpg", "F", 1, &err), &err);
  ims_object *objs = NULL;
  size_t n = 0;
  ASSERT_OK(ims__bucket_list_new(b, NULL, NULL, &objs, &n, &err), &err);
  ims_bucket_list_free(objs, n);
  enum { MANY = 4200 }; /* dir_watch.c keeps 4096 */
  for (int i = 0; i < MANY; i++) {
    char key[64];
    snprintf(key, sizeof key, "rose/%05d.jpg", i);
    write_in_place("bucket_changes_many", key, "x");
  }
  bool known = true;
  objs = changes(b, &n, &known);
  ASSERT(!known && n == 0);
  ASSERT_OK(ims__bucket_list_new(b, NULL, NULL, &objs, &n, &err), &err);
  ASSERT_EQ(n, MANY + 1);
  ims_bucket_list_free(objs, n);
  ims_bucket_close(b);
}

TEST_MAIN(stream_bucket_put_list_read, stream_bucket_list_new_skips_known,
          stream_bucket_rejects_bad_keys_and_urls,
          stream_bucket_hides_temporary_files,
          stream_bucket_failed_put_leaves_nothing,
          stream_bucket_wait_wakes_on_new_object, stream_bucket_list_changes,
          stream_bucket_list_changes_overflow,
          stream_bucket_put_stamps_landing_time)
