/* SPDX-License-Identifier: Apache-2.0 */
/*
 * produce_cli.c - `imgstream produce --from DIR` end to end: the real tool
 * uploads ../shared/data/flowers (or small datasets built here) into
 * dir:// buckets under the test tmp folder, and the tests check stdout,
 * stderr, exit codes and the bucket's files byte by byte.
 *
 * Sections: 1. helpers  2. flowers: counts, keys, seeds  3. bad inputs
 *           4. loop, JSON, restart, signals, stale temporaries  5. usage,
 *           and a bucket write that fails (a file-size limit)
 *
 * Threading: single-threaded; each case forks the tool.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "support/produce_run.h"

const char prun_prefix[] = "produce_cli";

/* ---- 1. helpers ---- */

static const char *const categories[] = {"daisy", "dandelion", "rose",
                                         "sunflower", "tulip"};

static char flowers[4096];

static void need_flowers(void) {
  prun_need_tool();
  snprintf(flowers, sizeof flowers, "%s", shared_path("data/flowers"));
  struct stat st;
  if (stat(flowers, &st) != 0) RETURN_SKIP("no ../shared/data/flowers");
}

/* Number of files in a folder (not hidden). */
static size_t count_files(const char *dir) {
  static prun_files f;
  prun_walk(dir, "", &f);
  size_t n = f.count;
  prun_files_free(&f);
  return n;
}

/* The "Uploaded KEY" keys of stdout, in order, as one '\n'-joined string
 * (malloc()ed). */
static char *uploaded_keys(const char *out) {
  size_t cap = strlen(out) + 1, n = 0;
  char *keys = calloc(cap, 1);
  for (const char *p = out; p != NULL && *p != '\0';) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (strncmp(p, "Uploaded ", 9) == 0) {
      memcpy(keys + n, p + 9, len - 9);
      n += len - 9;
      keys[n++] = '\n';
    }
    p = nl ? nl + 1 : NULL;
  }
  return keys;
}

/* Every file of bucket `dir` is the same as SOURCE/KEY; returns count. */
static size_t check_bucket_matches(const char *dir, const char *source) {
  static prun_files f;
  prun_walk(dir, "", &f);
  size_t n = f.count;
  for (size_t i = 0; i < f.count; i++) {
    char a[8192], b[8192];
    if (snprintf(a, sizeof a, "%s/%s", dir, f.rel[i]) >= (int)sizeof a ||
        snprintf(b, sizeof b, "%s/%s", source, f.rel[i]) >= (int)sizeof b)
      TEST__FAIL("path too long");
    if (!test_same_file(a, b)) TEST__FAIL("%s differs from %s", a, b);
  }
  ASSERT_EQ(f.hidden, 0);
  prun_files_free(&f);
  return n;
}

static char *bucket_url(const char *dir) { return test_strf("dir://%s", dir); }

/* ---- 2. flowers: counts, keys, seeds ---- */

TEST(produce_flowers_limit_seed) {
  need_flowers();
  char *b = ppath("b30");
  tool_rm_rf(b);
  const prun_out *r = PRUN("produce", "--from", flowers, "--to",
                           bucket_url(b), "--interval", "0", "--limit", "30",
                           "--seed", "7");
  ASSERT_EQ(r->code, 0);
  for (size_t i = 0; i < 5; i++) {
    char dir[4200], line[256];
    snprintf(dir, sizeof dir, "%s/%s", flowers, categories[i]);
    snprintf(line, sizeof line, "Found %zu images in %s category\n",
             count_files(dir), categories[i]);
    ASSERT_CONTAINS(r->out, line);
  }
  ASSERT(strstr(r->out, "Found 86 images in daisy category\n") == r->out);
  ASSERT_EQ(prun_count_lines(r->out, "Uploaded "), 30);
  ASSERT_EQ(prun_count_lines(r->out, "Waiting "), 0);
  ASSERT_EQ(check_bucket_matches(b, flowers), 30);
  /* The Uploaded keys are exactly the bucket's objects. */
  char *keys = uploaded_keys(r->out);
  for (char *k = keys; *k != '\0';) {
    char *nl = strchr(k, '\n');
    *nl = '\0';
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", b, k);
    ASSERT(access(path, R_OK) == 0);
    char *slash = strchr(k, '/');
    ASSERT(slash != NULL);
    *slash = '\0';
    int known = 0;
    for (size_t i = 0; i < 5; i++) known |= strcmp(k, categories[i]) == 0;
    ASSERT(known);
    k = nl + 1;
  }
  free(keys);
}

/* Keys uploaded by a run with `seed` into a fresh bucket, in order. */
static char *order_for(const char *seed, const char *bucket) {
  char *b = ppath(bucket);
  tool_rm_rf(b);
  const prun_out *r = PRUN("produce", "--from", flowers, "--to",
                           bucket_url(b), "--interval", "0", "--limit", "40",
                           "--seed", seed);
  ASSERT_EQ(r->code, 0);
  return uploaded_keys(r->out);
}

TEST(produce_same_seed_same_order) {
  need_flowers();
  char *a = order_for("7", "order_a");
  char *b = order_for("7", "order_b");
  char *c = order_for("8", "order_c");
  ASSERT_EQ(prun_count_lines(a, ""), 40);
  ASSERT_STR_EQ(a, b);
  ASSERT(strcmp(a, c) != 0);
  free(a);
  free(b);
  free(c);
}

/* ---- 3. bad inputs ---- */

/* DIR/keep: 2 JPEGs; DIR/empty: nothing; DIR/mixed: 1 JPEG, 1 BMP, a
 * text file, a text file named .jpg, a sub-folder, a hidden file. */
static char *make_messy_dataset(const char *name) {
  char *d = prun_fresh_dir(name);
  char p[8192], src[8192];
  snprintf(p, sizeof p, "%s/keep", d);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/empty", d);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/mixed", d);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/mixed/sub", d);
  mkdir(p, 0755);
  const char *jpegs[] = {"keep/a.jpg", "keep/b.jpg", "mixed/c.jpg"};
  for (int i = 0; i < 3; i++) {
    snprintf(src, sizeof src, "%s/daisy/10993818044_4c19b86c82.jpg",
             flowers);
    snprintf(p, sizeof p, "%s/%s", d, jpegs[i]);
    prun_copy(src, p);
  }
  snprintf(src, sizeof src, "%s", shared_path("data/images/sunflower.bmp"));
  snprintf(p, sizeof p, "%s/mixed/d.bmp", d);
  prun_copy(src, p);
  snprintf(p, sizeof p, "%s/mixed/notes.txt", d);
  test_write_file(p, "just text\n", 10);
  snprintf(p, sizeof p, "%s/mixed/fake.jpg", d);
  test_write_file(p, "not a jpeg\n", 11);
  snprintf(p, sizeof p, "%s/mixed/.hidden.jpg", d);
  test_write_file(p, "hidden\n", 7);
  snprintf(p, sizeof p, "%s/README.txt", d);
  test_write_file(p, "top-level file\n", 15);
  return d;
}

TEST(produce_skips_bad_files) {
  need_flowers();
  char *d = make_messy_dataset("messy");
  char *b = ppath("messy_bucket");
  tool_rm_rf(b);
  const prun_out *r = PRUN("produce", "--from", d, "--to", bucket_url(b),
                           "--interval", "0", "--seed", "1");
  ASSERT_EQ(r->code, 0);
  ASSERT_CONTAINS(r->out, "Found 2 images in keep category\n");
  ASSERT_CONTAINS(r->out, "Found 2 images in mixed category\n");
  ASSERT(strstr(r->out, "empty category") == NULL);
  ASSERT_EQ(prun_count_lines(r->out, "Uploaded "), 4);
  ASSERT_CONTAINS(r->err, "empty: no images");
  ASSERT_CONTAINS(r->err, "notes.txt: not a JPEG, PNG or BMP image");
  ASSERT_CONTAINS(r->err, "fake.jpg: not a JPEG, PNG or BMP image");
  ASSERT_CONTAINS(r->err, "mixed/sub: a folder inside a category");
  ASSERT(strstr(r->err, "hidden") == NULL);
  ASSERT(strstr(r->err, "README") == NULL);
  ASSERT_EQ(check_bucket_matches(b, d), 4);
}

TEST(produce_skips_unreadable_file) {
  need_flowers();
  char *d = make_messy_dataset("locked");
  char p[8192];
  snprintf(p, sizeof p, "%s/keep/b.jpg", d);
  ASSERT_EQ(chmod(p, 0), 0);
  int fd = open(p, O_RDONLY);
  if (fd >= 0) {
    close(fd);
    RETURN_SKIP("chmod 000 does not stop reads here (running as root)");
  }
  char *b = ppath("locked_bucket");
  tool_rm_rf(b);
  const prun_out *r = PRUN("produce", "--from", d, "--to", bucket_url(b),
                           "--interval", "0");
  ASSERT_EQ(r->code, 0);
  ASSERT_CONTAINS(r->err, "keep/b.jpg: Permission denied");
  ASSERT_CONTAINS(r->out, "Found 1 images in keep category\n");
  ASSERT_EQ(prun_count_lines(r->out, "Uploaded "), 3);
  ASSERT_EQ(check_bucket_matches(b, d), 3);
}

TEST(produce_no_images_fails) {
  prun_need_tool();
  char *d = prun_fresh_dir("nothing");
  char p[8192];
  snprintf(p, sizeof p, "%s/cat", d);
  mkdir(p, 0755);
  const prun_out *r = PRUN("produce", "--from", d, "--to",
                           bucket_url(ppath("nothing_bucket")));
  ASSERT_EQ(r->code, 1);
  ASSERT_CONTAINS(r->err, "no images in");
  r = PRUN("produce", "--from", ppath("does_not_exist"), "--to",
           bucket_url(ppath("nothing_bucket")));
  ASSERT_EQ(r->code, 1);
  ASSERT_CONTAINS(r->err, "does_not_exist");
  r = PRUN("produce", "--from", d, "--to", "s3://somewhere");
  ASSERT_EQ(r->code, 1);
}

/* ---- 4. loop, JSON, restart, signals, stale temporaries ---- */

TEST(produce_loop_rounds_get_new_names) {
  need_flowers();
  char *d = make_messy_dataset("loop"); /* 4 images */
  char *b = ppath("loop_bucket");
  tool_rm_rf(b);
  const prun_out *r = PRUN("produce", "--from", d, "--to", bucket_url(b),
                           "--interval", "0", "--loop", "--limit", "10");
  ASSERT_EQ(r->code, 0);
  ASSERT_EQ(prun_count_lines(r->out, "Uploaded "), 10);
  ASSERT_EQ(count_files(b), 10);
  char p[8192];
  snprintf(p, sizeof p, "%s/keep/a-r1.jpg", b);
  ASSERT(access(p, R_OK) == 0);
  snprintf(p, sizeof p, "%s/mixed/d-r1.bmp", b);
  ASSERT(access(p, R_OK) == 0);
  ASSERT_EQ(prun_count_lines(r->out, "Uploaded mixed/d.bmp"), 1);
  ASSERT_EQ(prun_count_lines(r->out, "Uploaded mixed/d-r1.bmp"), 1);
  tool_rm_rf(b); /* -q: warnings only */
  r = PRUN("produce", "--from", d, "--to", bucket_url(b), "--interval", "0",
           "--loop", "--limit", "6", "-q");
  ASSERT_EQ(r->code, 0);
  ASSERT_STR_EQ(r->out, "");
  ASSERT_EQ(prun_count_lines(r->err, "imgstream produce: warning: "), 4);
  ASSERT_EQ(prun_count_lines(r->err, ""), 4);
  ASSERT_EQ(count_files(b), 6);
}

TEST(produce_json_lines) {
  need_flowers();
  char *b = ppath("json_bucket");
  tool_rm_rf(b);
  const prun_out *r = PRUN("produce", "--from", flowers, "--to",
                           bucket_url(b), "--rate", "1000", "--limit", "3",
                           "--json", "--seed", "5");
  ASSERT_EQ(r->code, 0);
  ASSERT_CONTAINS(r->err, "Found 86 images in daisy category");
  const char *p = r->out;
  for (int i = 0; i < 3; i++) {
    json_error_t je;
    const char *nl = strchr(p, '\n');
    ASSERT(nl != NULL);
    json_t *j = json_loadb(p, (size_t)(nl - p), 0, &je);
    ASSERT(j != NULL);
    const char *key = json_string_value(json_object_get(j, "key"));
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", b, key);
    struct stat st;
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(json_integer_value(json_object_get(j, "bytes")), st.st_size);
    ASSERT_EQ(json_integer_value(json_object_get(j, "index")), i);
    ASSERT(json_string_value(json_object_get(j, "time")) != NULL);
    json_decref(j);
    p = nl + 1;
  }
  ASSERT_STR_EQ(p, "");
}

TEST(produce_restart_skips_present_objects) {
  need_flowers();
  char *b = ppath("restart_bucket");
  tool_rm_rf(b);
  const char *url = bucket_url(b);
  const prun_out *r = PRUN("produce", "--from", flowers, "--to", url,
                           "--interval", "0", "--limit", "10", "--seed", "3");
  ASSERT_EQ(r->code, 0);
  ASSERT_EQ(prun_count_lines(r->out, "Uploaded "), 10);
  r = PRUN("produce", "--from", flowers, "--to", url, "--interval", "0",
           "--limit", "12", "--seed", "3");
  ASSERT_EQ(r->code, 0);
  ASSERT_EQ(prun_count_lines(r->out, "Uploaded "), 2);
  ASSERT_CONTAINS(r->err, "uploaded 2, already in the bucket 10");
  ASSERT_EQ(check_bucket_matches(b, flowers), 12);
}

TEST(produce_sigterm_stops_after_current_image) {
  need_flowers();
  char *b = ppath("sig_bucket"), *out = ppath("sig_out"),
       *err = ppath("sig_err");
  tool_rm_rf(b);
  unlink(out);
  unlink(err);
  pid_t pid = prun_spawn((const char *const[]){"produce", "--from", flowers,
                                               "--to", bucket_url(b), NULL},
                         out, err);
  char *text = NULL;
  for (int i = 0; i < 500; i++) { /* wait for the first upload */
    free(text);
    text = test_read_text(out);
    if (strstr(text, "Waiting 5.00 seconds...\n") != NULL) break;
    test_sleep_ms(20);
  }
  ASSERT_CONTAINS(text, "Uploaded ");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  kill(pid, SIGTERM);
  ASSERT_EQ(prun_wait(pid), 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ASSERT_LE(t1.tv_sec - t0.tv_sec, 2); /* did not sit out the 5 s */
  ASSERT_EQ(count_files(b), 1);
  free(text);
  text = test_read_text(err);
  ASSERT_CONTAINS(text, "stopped by a signal: uploaded 1");
  free(text);
}

static double run_seconds(const char *const *args) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  prun(args);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
}

TEST(produce_pacing_rate_and_interval) {
  need_flowers();
  char *b = ppath("pace_bucket");
  tool_rm_rf(b);
  /* 26 images at 50/s: 25 gaps of 20 ms after the first upload. */
  double s = run_seconds((const char *const[]){
      "produce", "--from", flowers, "--to", bucket_url(b), "--rate", "50",
      "--limit", "26", NULL});
  ASSERT_EQ(prun_last.code, 0);
  ASSERT_EQ(prun_count_lines(prun_last.out, "Uploaded "), 26);
  ASSERT_EQ(prun_count_lines(prun_last.out, "Waiting "), 0);
  ASSERT_LE(0.49, s);
  ASSERT_LE(s, 3.0);
  tool_rm_rf(b);
  s = run_seconds((const char *const[]){"produce", "--from", flowers, "--to",
                                        bucket_url(b), "--interval", "0.2",
                                        "--limit", "3", NULL});
  ASSERT_EQ(prun_last.code, 0);
  ASSERT_EQ(prun_count_lines(prun_last.out, "Waiting 0.20 seconds...\n"), 2);
  ASSERT_LE(0.39, s);
  ASSERT_LE(s, 3.0);
}

TEST(produce_removes_stale_temporaries) {
  need_flowers();
  char *b = ppath("stale_bucket");
  tool_rm_rf(b);
  char dir[4096], dead[8192], live[8192];
  snprintf(dir, sizeof dir, "%s/daisy", b);
  ASSERT_EQ(mkdir(b, 0755), 0);
  ASSERT_EQ(mkdir(dir, 0755), 0);
  /* PID 2^22+1 is above Linux's pid_max: never a running process. */
  snprintf(dead, sizeof dead, "%s/.x.jpg.4194305.0.tmp", dir);
  snprintf(live, sizeof live, "%s/.y.jpg.%ld.0.tmp", dir, (long)getpid());
  ASSERT_EQ(test_write_file(dead, "half", 4), 0);
  ASSERT_EQ(test_write_file(live, "busy", 4), 0);
  const prun_out *r = PRUN("produce", "--from", flowers, "--to",
                           bucket_url(b), "--interval", "0", "--limit", "1");
  ASSERT_EQ(r->code, 0);
  ASSERT_CONTAINS(r->err, "removed 1 stale temporary file");
  ASSERT(access(dead, F_OK) != 0);
  ASSERT(access(live, F_OK) == 0); /* a live process's put: kept */
}

/* ---- 5. usage ---- */

TEST(produce_usage_and_exit_codes) {
  prun_need_tool();
  const prun_out *r = PRUN("produce", "--help");
  ASSERT_EQ(r->code, 0);
  ASSERT_CONTAINS(r->out, "usage: imgstream produce");
  ASSERT_CONTAINS(r->out, "exit codes:");
  r = PRUN("produce");
  ASSERT_EQ(r->code, 2);
  ASSERT_CONTAINS(r->err, "exactly one of --from DIR and --download URL");
  r = PRUN("produce", "--from", "a", "--download", "http://x/y.tgz", "--to",
           "dir://b");
  ASSERT_EQ(r->code, 2);
  r = PRUN("produce", "--from", "a");
  ASSERT_EQ(r->code, 2);
  ASSERT_CONTAINS(r->err, "needs --to");
  r = PRUN("produce", "--from", "a", "--to", "dir://b", "--interval", "-1");
  ASSERT_EQ(r->code, 2);
  ASSERT_CONTAINS(r->err, "--interval wants a number");
  r = PRUN("produce", "--from", "a", "--to", "dir://b", "--interval", "1",
           "--rate", "3");
  ASSERT_EQ(r->code, 2);
  r = PRUN("produce", "--from", "a", "--to", "dir://b", "--limit", "0");
  ASSERT_EQ(r->code, 2);
  r = PRUN("produce", "--from", "a", "--to", "dir://b", "--seed", "x");
  ASSERT_EQ(r->code, 2);
  r = PRUN("produce", "--from", "a", "--to", "dir://b", "--rate");
  ASSERT_EQ(r->code, 2);
  ASSERT_CONTAINS(r->err, "needs a value");
  r = PRUN("produce", "--nope");
  ASSERT_EQ(r->code, 2);
  ASSERT_CONTAINS(r->err, "unknown option '--nope'");
  r = PRUN("produce", "--from", "a", "--to", "dir://b", "extra");
  ASSERT_EQ(r->code, 2);
  r = PRUN("--help");
  ASSERT_CONTAINS(r->out, "produce");
}

/* A bucket write that fails (here: the file size limit, as a full disk
 * would) stops the producer with exit 1 and a message naming the key. */
TEST(produce_bucket_write_fails) {
  need_flowers();
  char *b = ppath("fsize_bucket");
  tool_rm_rf(b);
  /* The tool inherits the limit. Only the soft limit is lowered: a user
   * who is not root cannot raise a hard limit back, and the cases run
   * after this one would inherit it. */
  struct rlimit old, small, now;
  ASSERT(getrlimit(RLIMIT_FSIZE, &old) == 0);
  small = old;
  small.rlim_cur = old.rlim_max < 40 * 1024 ? old.rlim_max : 40 * 1024;
  signal(SIGXFSZ, SIG_IGN); /* write() fails with EFBIG instead */
  ASSERT(setrlimit(RLIMIT_FSIZE, &small) == 0);
  const prun_out *r = PRUN("produce", "--from", flowers, "--to",
                           bucket_url(b), "--interval", "0", "--seed", "1",
                           "--limit", "20");
  ASSERT(setrlimit(RLIMIT_FSIZE, &old) == 0);
  signal(SIGXFSZ, SIG_DFL);
  ASSERT(getrlimit(RLIMIT_FSIZE, &now) == 0);
  ASSERT(now.rlim_cur == old.rlim_cur && now.rlim_max == old.rlim_max);
  ASSERT_EQ(r->code, 1);
  ASSERT_CONTAINS(r->err, "cannot upload ");
  ASSERT_CONTAINS(r->err, "File too large");
  ASSERT_CONTAINS(r->err, "stopped by an error");
}

TEST_MAIN(produce_flowers_limit_seed, produce_same_seed_same_order,
          produce_skips_bad_files, produce_skips_unreadable_file,
          produce_no_images_fails, produce_loop_rounds_get_new_names,
          produce_json_lines, produce_restart_skips_present_objects,
          produce_sigterm_stops_after_current_image,
          produce_pacing_rate_and_interval, produce_removes_stale_temporaries,
          produce_usage_and_exit_codes, produce_bucket_write_fails)
