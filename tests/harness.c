/* SPDX-License-Identifier: Apache-2.0 */
/*
 * harness.c - the test harness itself (test.h, support/test.c): this
 * binary runs itself (/proc/self/exe) with command lines and checks the
 * exit code and what the child printed.
 *
 *   --list              every case of TEST_MAIN, one a line, in order;
 *                       nothing run
 *   a name it lacks     "No test with that name", exit 1, nothing run;
 *                       the same for a '-name' exclusion naming nothing
 *   selection           named cases only; '-name' drops one; a selection
 *                       that leaves nothing fails
 *   exit codes          1 if a case failed, 77 if every case that ran
 *                       skipped, 0 if one passed and the rest skipped
 *
 * The probe_* cases are what the child runs: they pass, skip or fail
 * only when $IMS_HARNESS_CHILD is set, and pass at once otherwise (in
 * the parent's own run). The child never runs the harness_* cases, so
 * nothing recurses.
 *
 * Threading: single-threaded; each child is forked and exec'd.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static bool in_child(void) { return getenv("IMS_HARNESS_CHILD") != NULL; }

TEST(probe_pass) {}

TEST(probe_skip) {
  if (in_child()) RETURN_SKIP("probe");
}

TEST(probe_fail) {
  if (in_child()) TEST__FAIL("probe");
}

typedef struct child_run {
  int code;  /* exit status, or 128 + signal */
  char *out; /* stdout (free) */
  char *err; /* stderr (free) */
} child_run;

/* Run this binary with args (NULL-terminated) as a child. */
static child_run run_self(const char *const *args) {
  char out[4200], err[4200];
  snprintf(out, sizeof out, "%s", tmp_path("harness.out"));
  snprintf(err, sizeof err, "%s", tmp_path("harness.err"));
  fflush(NULL);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    const char *argv[16] = {"harness"};
    for (int i = 0; args[i] != NULL && i < 14; i++) argv[i + 1] = args[i];
    int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fo < 0 || fe < 0) _exit(126);
    dup2(fo, 1);
    dup2(fe, 2);
    setenv("IMS_HARNESS_CHILD", "1", 1);
    execv("/proc/self/exe", (char *const *)argv);
    _exit(127);
  }
  int st = 0;
  ASSERT(waitpid(pid, &st, 0) == pid);
  child_run r = {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
                 test_read_text(out), test_read_text(err)};
  unlink(out);
  unlink(err);
  return r;
}

#define RUN_SELF(...) run_self((const char *const[]){__VA_ARGS__, NULL})

static void child_free(child_run *r) {
  free(r->out);
  free(r->err);
}

/* Does text have a line that is exactly `line`? */
static bool has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = text; p != NULL && *p != '\0';) {
    if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
      return true;
    p = strchr(p, '\n');
    if (p != NULL) p++;
  }
  return false;
}

static size_t count_lines(const char *text) {
  size_t n = 0;
  for (const char *p = text; *p != '\0'; p++) n += *p == '\n';
  return n;
}

/* Nothing ran: no "ok", "skip" or "FAIL" line. */
static void assert_ran_nothing(const child_run *r) {
  ASSERT(strstr(r->err, "ok   ") == NULL);
  ASSERT(strstr(r->err, "skip ") == NULL);
  ASSERT(strstr(r->err, "FAIL ") == NULL);
}

TEST(harness_list) {
  child_run r = RUN_SELF("--list");
  ASSERT_EQ(r.code, 0);
  /* this file's TEST_MAIN, in its order (a new case goes here too) */
  ASSERT_STR_EQ(r.out, "probe_pass\nprobe_skip\nprobe_fail\nharness_list\n"
                       "harness_unknown_name\nharness_select\n"
                       "harness_exit_codes\n");
  assert_ran_nothing(&r);
  child_free(&r);
  r = RUN_SELF("--list", "probe_pass");
  ASSERT_EQ(r.code, 1);
  child_free(&r);
}

TEST(harness_unknown_name) {
  child_run r = RUN_SELF("probe_pass", "no_such_case");
  ASSERT_EQ(r.code, 1);
  ASSERT(has_line(r.err, "No test with that name: no_such_case"));
  assert_ran_nothing(&r);
  child_free(&r);
  r = RUN_SELF("-no_such_case");
  ASSERT_EQ(r.code, 1);
  ASSERT(has_line(r.err, "No test with that name: -no_such_case"));
  assert_ran_nothing(&r);
  child_free(&r);
  r = RUN_SELF("--no-such-option");
  ASSERT_EQ(r.code, 1);
  assert_ran_nothing(&r);
  child_free(&r);
}

TEST(harness_select) {
  child_run r = RUN_SELF("probe_pass");
  ASSERT_EQ(r.code, 0);
  ASSERT(has_line(r.err, "ok   probe_pass"));
  ASSERT_EQ(count_lines(r.err), 1);
  child_free(&r);
  /* an exclusion wins over a name */
  r = RUN_SELF("probe_pass", "probe_skip", "-probe_skip");
  ASSERT_EQ(r.code, 0);
  ASSERT(has_line(r.err, "ok   probe_pass"));
  ASSERT_EQ(count_lines(r.err), 1);
  child_free(&r);
  r = RUN_SELF("probe_pass", "-probe_pass");
  ASSERT_EQ(r.code, 1);
  assert_ran_nothing(&r);
  child_free(&r);
}

TEST(harness_exit_codes) {
  child_run r = RUN_SELF("probe_fail", "probe_pass");
  ASSERT_EQ(r.code, 1);
  ASSERT(has_line(r.err, "FAIL probe_fail"));
  ASSERT(has_line(r.err, "ok   probe_pass")); /* the next case still ran */
  child_free(&r);
  r = RUN_SELF("probe_skip");
  ASSERT_EQ(r.code, 77);
  child_free(&r);
  r = RUN_SELF("probe_skip", "probe_pass");
  ASSERT_EQ(r.code, 0);
  child_free(&r);
}

TEST_MAIN(probe_pass, probe_skip, probe_fail, harness_list,
          harness_unknown_name, harness_select, harness_exit_codes)
