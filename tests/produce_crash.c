/* SPDX-License-Identifier: Apache-2.0 */
/*
 * produce_crash.c - crash safety of `imgstream produce`: the producer
 * uploads ../shared/data/flowers at --rate 200 and is killed with SIGKILL
 * at random moments, then restarted with the same --seed each time, and
 * finally run to the end. Afterwards the bucket must hold every image
 * exactly once, byte-identical to its source, with no temporary or
 * partial file anywhere; and no key may have been uploaded by two runs
 * (a restart skips what is already there instead of uploading again).
 *
 * The kill times come from a PRNG whose seed is printed, so a failure
 * can be replayed with PRODUCE_CRASH_SEED=N.
 *
 * Threading: single-threaded; the tool runs as a forked child.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "support/produce_run.h"

const char prun_prefix[] = "produce_crash";

#define KILLS 8

/* Each run's "Uploaded KEY" lines go to their own file: run i -> out_i. */
static char *run_out_path(int i) {
  char name[64];
  snprintf(name, sizeof name, "out_%d", i);
  return ppath(name);
}

/* Does KEY appear as "Uploaded KEY" in two different runs' outputs? */
static void check_no_key_twice(int runs) {
  char *texts[KILLS + 1];
  for (int i = 0; i < runs; i++) texts[i] = test_read_text(run_out_path(i));
  for (int i = 0; i < runs; i++) {
    for (char *p = texts[i]; (p = strstr(p, "Uploaded ")) != NULL;) {
      char *nl = strchr(p, '\n');
      if (nl == NULL) break; /* a line cut by the kill */
      char line[4200];
      snprintf(line, sizeof line, "%.*s", (int)(nl - p + 1), p);
      for (int j = i + 1; j < runs; j++)
        if (strstr(texts[j], line) != NULL)
          TEST__FAIL("%.*s uploaded by runs %d and %d", (int)(nl - p), p,
                     i, j);
      p = nl;
    }
  }
  for (int i = 0; i < runs; i++) free(texts[i]);
}

TEST(produce_kill9_restart_exactly_once) {
  prun_need_tool();
  char flowers[4096];
  snprintf(flowers, sizeof flowers, "%s", shared_path("data/flowers"));
  struct stat st;
  if (stat(flowers, &st) != 0) RETURN_SKIP("no ../shared/data/flowers");
  static prun_files src;
  prun_walk(flowers, "", &src);
  ASSERT(src.count > 100);

  const char *env = getenv("PRODUCE_CRASH_SEED");
  unsigned seed = env ? (unsigned)strtoul(env, NULL, 10)
                      : (unsigned)time(NULL) ^ (unsigned)getpid();
  fprintf(stderr, "kill times from PRODUCE_CRASH_SEED=%u\n", seed);
  srand(seed);
  char b[4096], url[4200], err[4096];
  snprintf(b, sizeof b, "%s", ppath("bucket"));
  snprintf(err, sizeof err, "%s", ppath("err"));
  tool_rm_rf(b);
  unlink(err);
  snprintf(url, sizeof url, "dir://%s", b);
  const char *args[] = {"produce", "--from", flowers, "--to", url, "--rate",
                        "200", "--seed", "11", NULL};
  int runs = 0;
  for (int k = 0; k < KILLS; k++, runs++) {
    unlink(run_out_path(runs));
    pid_t pid = prun_spawn(args, run_out_path(runs), err);
    test_sleep_ms(20 + rand() % 300);
    kill(pid, SIGKILL);
    int code = prun_wait(pid);
    ASSERT(code == 128 + SIGKILL || code == 0);
  }
  unlink(run_out_path(runs));
  pid_t pid = prun_spawn(args, run_out_path(runs), err);
  ASSERT_EQ(prun_wait(pid), 0);
  runs++;

  static prun_files got;
  prun_walk(b, "", &got);
  ASSERT_EQ(got.hidden, 0); /* no temporary file left anywhere */
  ASSERT_EQ(got.count, src.count);
  for (size_t i = 0; i < got.count; i++) {
    char a[8192], c[8192];
    snprintf(a, sizeof a, "%s/%s", b, got.rel[i]);
    snprintf(c, sizeof c, "%s/%s", flowers, got.rel[i]);
    if (!test_same_file(a, c)) TEST__FAIL("%s differs from %s", a, c);
  }
  check_no_key_twice(runs);
  char *last = test_read_text(run_out_path(runs - 1));
  ASSERT_EQ(prun_count_lines(last, "Found "), 5);
  free(last);
  prun_files_free(&got);
  prun_files_free(&src);
}

TEST_MAIN(produce_kill9_restart_exactly_once)
