/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/test.c - the harness behind tests/test.h, built once into
 * ims_test_support: the runner TEST_MAIN calls, the state a failed
 * assertion jumps through, and the small file, path, string and clock
 * helpers every test uses.
 *
 * Not here: the assertion macros (test.h: they need the caller's
 * __FILE__ and __LINE__).
 *
 * Threading: one case at a time on the main thread; test_strf's ring
 * and the path buffers are not thread-safe.
 */
#define _GNU_SOURCE
#include "test.h"

jmp_buf test__jump;
int test__skipped;

const char *test__env_or(const char *name, const char *def) {
  const char *v = getenv(name);
  return (v != NULL && v[0] != '\0') ? v : def;
}

const char *shared_path(const char *rel) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s",
           test__env_or("IMGSTREAM_SHARED", "../shared"), rel);
  return buf;
}

const char *tmp_path(const char *rel) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s", test__env_or("IMGSTREAM_TEST_TMP", "/tmp"),
           rel);
  return buf;
}

/* Read a whole file; returns malloc()ed bytes (caller frees) or NULL. */
unsigned char *test_read_file(const char *path, size_t *size) {
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
char *test_read_text(const char *path) {
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
char *test_strf(const char *fmt, ...) {
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
double test_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep ms milliseconds, through signals. */
void test_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Write bytes to a file; returns 0 on success. */
int test_write_file(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (f == NULL) return -1;
  size_t n = fwrite(data, 1, size, f);
  return (fclose(f) == 0 && n == size) ? 0 : -1;
}

int test__run(const test__case *cases, int n, int argc, char **argv) {
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
