/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test.h - the test harness: assertions that print both operands and stay
 * on in release builds, a tiny test registry, and paths to shared data.
 *
 * A test file defines cases with TEST(name) and ends with
 *
 *   TEST_MAIN(case_a, case_b, ...)
 *
 * which makes main():
 *
 *   binary                   runs every case, in the order listed
 *   binary case_a case_b     runs only the named cases
 *   binary -case_a           runs all but the named ones (names and
 *                            -names can be mixed: exclusions win)
 *   binary --list            prints the case names, one a line, and
 *                            runs nothing (tests/CMakeLists.txt builds
 *                            the CTest entries from this list)
 *
 * A name, with or without '-', that is not a case of this binary is an
 * error: "No test with that name: X", exit 1, nothing run - so a CTest
 * entry or a command line naming a case that was renamed or removed
 * fails instead of passing having run nothing. So is a selection that
 * leaves no case to run. Otherwise the exit is 1 if any case failed, 77
 * (CTest's SKIP_RETURN_CODE, set on every test) if every case that ran
 * called RETURN_SKIP, else 0: a case skipped because this machine cannot
 * run it (no VNNI, running as root) does not hide the cases that ran. A
 * failed assertion ends its case at once.
 *
 * Data: shared_path("models/x.tflite") resolves under $IMGSTREAM_SHARED
 * (default ../shared); tmp_path("name") under $IMGSTREAM_TEST_TMP (default
 * /tmp). Both return a static buffer that the next call overwrites.
 *
 * Only the macros live here. The runner, the helpers declared below and
 * the jump buffer the assertions use are in support/test.c, built once
 * into ims_test_support with the other shared helpers (tests/support/),
 * which may assert and skip as a case does.
 */
#ifndef IMS_TEST_H
#define IMS_TEST_H

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Where a failed assertion or RETURN_SKIP jumps to: the runner's setjmp
 * around the current case (support/test.c). Shared by every object of
 * the test, the support library's helpers included. */
extern jmp_buf test__jump;
extern int test__skipped; /* the current case called RETURN_SKIP */

#define TEST(name) static void name(void)

#define TEST__FAIL(...)                                   \
  do {                                                    \
    fprintf(stderr, "%s:%d: FAILED: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__);                         \
    fputc('\n', stderr);                                  \
    longjmp(test__jump, 1);                               \
  } while (0)

#define ASSERT(cond) \
  do { if (!(cond)) TEST__FAIL("%s", #cond); } while (0)

#define ASSERT_EQ(a, b)                                                     \
  do {                                                                      \
    long long a_ = (long long)(a), b_ = (long long)(b);                     \
    if (a_ != b_) TEST__FAIL("%s == %s (%lld != %lld)", #a, #b, a_, b_);    \
  } while (0)

#define ASSERT_NE(a, b)                                                     \
  do {                                                                      \
    long long a_ = (long long)(a), b_ = (long long)(b);                     \
    if (a_ == b_) TEST__FAIL("%s != %s (both %lld)", #a, #b, a_);           \
  } while (0)

#define ASSERT_LE(a, b)                                                     \
  do {                                                                      \
    double a_ = (double)(a), b_ = (double)(b);                              \
    if (!(a_ <= b_)) TEST__FAIL("%s <= %s (%g > %g)", #a, #b, a_, b_);      \
  } while (0)

#define ASSERT_STR_EQ(a, b)                                                 \
  do {                                                                      \
    const char *a_ = (a), *b_ = (b);                                        \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                    \
      TEST__FAIL("%s == %s (\"%s\" != \"%s\")", #a, #b, a_ ? a_ : "(null)", \
                 b_ ? b_ : "(null)");                                      \
  } while (0)

#define ASSERT_CONTAINS(haystack, needle)                                   \
  do {                                                                      \
    const char *h_ = (haystack), *n_ = (needle);                            \
    if (h_ == NULL || strstr(h_, n_) == NULL)                               \
      TEST__FAIL("\"%s\" contains \"%s\"", h_ ? h_ : "(null)", n_);         \
  } while (0)

/* Assert that an ims_status call succeeded; prints the ims_error if not. */
#define ASSERT_OK(call, errp)                                              \
  do {                                                                     \
    int st_ = (int)(call);                                                 \
    if (st_ != 0) TEST__FAIL("%s -> status %d: %s", #call, st_,            \
                             (errp)->message);                             \
  } while (0)

#define RETURN_SKIP(why)                  \
  do {                                    \
    fprintf(stderr, "SKIP: %s\n", why);   \
    test__skipped = 1;                    \
    longjmp(test__jump, 2);               \
  } while (0)

/* $name, or def if it is unset or empty. */
const char *test__env_or(const char *name, const char *def);

const char *shared_path(const char *rel);
const char *tmp_path(const char *rel);

/* Read a whole file; returns malloc()ed bytes (caller frees) or NULL. */
unsigned char *test_read_file(const char *path, size_t *size);

/* The file at `path` as a NUL-terminated string; "" if it cannot be
 * read. Free with free(). */
char *test_read_text(const char *path);

/* printf into one of 64 static buffers used in turn: the result stays
 * valid for the next 63 calls, plenty for one test case, and nothing
 * needs freeing. */
char *test_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Seconds on the monotonic clock. */
double test_now(void);

/* Sleep ms milliseconds, through signals. */
void test_sleep_ms(long ms);

/* Write bytes to a file; returns 0 on success. */
int test_write_file(const char *path, const void *data, size_t size);

/* Both files readable and the same bytes. */
bool test_same_file(const char *a, const char *b);

/* main() of a test file: the cases fns[0..n), whose names are the
 * comma-separated identifiers in `names` (TEST_MAIN's #__VA_ARGS__), run
 * as argv asks. Returns main()'s exit code. */
int test__main(const char *names, void (*const *fns)(void), int n,
               int argc, char **argv);

/* TEST_MAIN(a, b, c): main() over the cases TEST(a), TEST(b), TEST(c).
 * The names come from the same list as the functions, so the two cannot
 * disagree. */
#define TEST_MAIN(...)                                                  \
  int main(int argc, char **argv) {                                     \
    static void (*const fns_[])(void) = {__VA_ARGS__};                  \
    return test__main(#__VA_ARGS__, fns_,                               \
                      (int)(sizeof fns_ / sizeof fns_[0]), argc, argv); \
  }

#endif /* IMS_TEST_H */
