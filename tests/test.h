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

static jmp_buf test__jump;
static int test__skipped;

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

static inline const char *test__env_or(const char *name, const char *def) {
  const char *v = getenv(name);
  return (v != NULL && v[0] != '\0') ? v : def;
}

static inline const char *shared_path(const char *rel) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s",
           test__env_or("IMGSTREAM_SHARED", "../shared"), rel);
  return buf;
}

static inline const char *tmp_path(const char *rel) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s", test__env_or("IMGSTREAM_TEST_TMP", "/tmp"),
           rel);
  return buf;
}

/* Read a whole file; returns malloc()ed bytes (caller frees) or NULL. */
static inline unsigned char *test_read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
  if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf != NULL) *size = (size_t)n;
  return buf;
}

/* The file at `path` as a NUL-terminated string; "" if it cannot be
 * read. Free with free(). */
static inline char *test_read_text(const char *path) {
  size_t n = 0;
  unsigned char *d = test_read_file(path, &n);
  char *s = malloc(n + 1);
  ASSERT(s != NULL);
  if (d != NULL) memcpy(s, d, n);
  s[d != NULL ? n : 0] = '\0';
  free(d);
  return s;
}

/* printf into one of 64 static buffers used in turn: the result stays
 * valid for the next 63 calls, plenty for one test case, and nothing
 * needs freeing. */
static inline char *test_strf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static inline char *test_strf(const char *fmt, ...) {
  static char ring[64][4400];
  static unsigned next;
  char *s = ring[next++ % 64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s, sizeof ring[0], fmt, ap);
  va_end(ap);
  return s;
}

/* Seconds on the monotonic clock. */
static inline double test_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep ms milliseconds, through signals. */
static inline void test_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Write bytes to a file; returns 0 on success. */
static inline int test_write_file(const char *path, const void *data,
                                  size_t size) {
  FILE *f = fopen(path, "wb");
  if (f == NULL) return -1;
  size_t n = fwrite(data, 1, size, f);
  return (fclose(f) == 0 && n == size) ? 0 : -1;
}

typedef struct test__case {
  const char *name;
  void (*fn)(void);
} test__case;

static inline int test__run(const test__case *cases, int n, int argc,
                            char **argv) {
  volatile int failed = 0, skipped = 0, passed = 0;
  for (volatile int i = 0; i < n; i++) {
    int selected = 1, excluded = 0;
    for (int a = 1; a < argc; a++) {
      if (argv[a][0] == '-')
        excluded |= strcmp(argv[a] + 1, cases[i].name) == 0;
      else
        selected = 0; /* a name given: only the named cases */
    }
    for (int a = 1; a < argc && !selected; a++)
      selected = strcmp(argv[a], cases[i].name) == 0;
    if (excluded) selected = 0;
    if (!selected) continue;
    test__skipped = 0;
    int r = setjmp(test__jump);
    if (r == 0) {
      cases[i].fn();
      passed++;
      fprintf(stderr, "ok   %s\n", cases[i].name);
    } else if (test__skipped) {
      skipped++;
      fprintf(stderr, "skip %s\n", cases[i].name);
    } else {
      failed++;
      fprintf(stderr, "FAIL %s\n", cases[i].name);
    }
  }
  if (failed) return 1;
  return skipped && !passed ? 77 : 0;
}


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
