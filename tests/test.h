/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test.h - the test harness: assertions that print both operands and stay
 * on in release builds, a tiny test registry, and paths to shared data.
 *
 * A test file defines cases with TEST(name) and ends with
 *
 *   TEST_MAIN(case_a, case_b, ...)
 *
 * which runs every case (or only those named on the command line, or all
 * but those named there with a leading '-') and exits 1 if any case
 * failed, 77 (CTest's SKIP_RETURN_CODE, set on every test) if every case
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

typedef struct test__case {
  const char *name;
  void (*fn)(void);
} test__case;

/* Runs the cases of cases[0..n) that argv selects; returns main()'s exit
 * code. */
int test__run(const test__case *cases, int n, int argc, char **argv);

/* TEST_MAIN(a, b, c): build the case table from a list of TEST names. */
#define TEST_MAIN(...)                                                   \
  int main(int argc, char **argv) {                                      \
    void (*fns_[])(void) = {__VA_ARGS__};                                \
    static const char names_[] = #__VA_ARGS__;                           \
    enum { n_ = sizeof fns_ / sizeof fns_[0] };                          \
    test__case cases_[n_];                                               \
    char namebuf_[sizeof names_];                                        \
    memcpy(namebuf_, names_, sizeof names_);                             \
    char *save_ = NULL, *tok_ = strtok_r(namebuf_, ", \n", &save_);      \
    for (int i_ = 0; i_ < n_; i_++) {                                    \
      cases_[i_].name = tok_ ? tok_ : "?";                               \
      cases_[i_].fn = fns_[i_];                                          \
      tok_ = strtok_r(NULL, ", \n", &save_);                             \
    }                                                                    \
    return test__run(cases_, n_, argc, argv);                            \
  }

#endif /* IMS_TEST_H */
