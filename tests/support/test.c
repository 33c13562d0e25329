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

bool test_same_file(const char *a, const char *b) {
  size_t na = 0, nb = 0;
  unsigned char *da = test_read_file(a, &na), *db = test_read_file(b, &nb);
  bool same = da != NULL && db != NULL && na == nb && memcmp(da, db, na) == 0;
  free(da);
  free(db);
  return same;
}

/* ---- the runner ---- */

/* Index of the case called `name`, -1 if there is none. */
static int test__find(const char *const *names, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(names[i], name) == 0) return i;
  return -1;
}

/* Split TEST_MAIN's "a, b,\n c" into names[0..n). Returns the buffer that
 * holds them (the caller frees), NULL if the count is not n. */
static char *test__split(const char *list, const char **names, int n) {
  char *buf = strdup(list);
  if (buf == NULL) return NULL;
  int k = 0;
  char *save = NULL;
  for (char *t = strtok_r(buf, ", \t\n", &save); t != NULL;
       t = strtok_r(NULL, ", \t\n", &save)) {
    if (k == n) break;
    names[k++] = t;
  }
  if (k != n) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* Check argv before anything runs: every argument names a case of this
 * binary (optionally with a leading '-'). Reports every bad one. */
static int test__check_args(const char *const *names, int n, int argc,
                            char **argv) {
  int bad = 0;
  for (int a = 1; a < argc; a++) {
    const char *arg = argv[a];
    if (arg[0] == '-' && arg[1] == '-') {
      fprintf(stderr,
              "%s: unknown option %s\n"
              "usage: %s [--list] [CASE | -CASE]...\n",
              argv[0], arg, argv[0]);
      bad = 1;
    } else if (test__find(names, n, arg[0] == '-' ? arg + 1 : arg) < 0) {
      fprintf(stderr, "No test with that name: %s\n", arg);
      bad = 1;
    }
  }
  return bad;
}

/* Is case `name` selected by argv (already checked)? */
static int test__selected(const char *name, int argc, char **argv) {
  int named = 0, any_named = 0;
  for (int a = 1; a < argc; a++) {
    if (argv[a][0] == '-') {
      if (strcmp(argv[a] + 1, name) == 0) return 0; /* excluded */
    } else {
      any_named = 1;
      named |= strcmp(argv[a], name) == 0;
    }
  }
  return !any_named || named;
}

/* Run the selected cases; main()'s exit code. */
static int test__run(const char *const *names, void (*const *fns)(void),
                     int n, int argc, char **argv) {
  volatile int failed = 0, skipped = 0, passed = 0;
  for (volatile int i = 0; i < n; i++) {
    if (!test__selected(names[i], argc, argv)) continue;
    test__skipped = 0;
    int r = setjmp(test__jump);
    if (r == 0) {
      fns[i]();
      passed++;
      fprintf(stderr, "ok   %s\n", names[i]);
    } else if (test__skipped) {
      skipped++;
      fprintf(stderr, "skip %s\n", names[i]);
    } else {
      failed++;
      fprintf(stderr, "FAIL %s\n", names[i]);
    }
  }
  if (failed + skipped + passed == 0) {
    fprintf(stderr, "%s: the arguments leave no case to run\n", argv[0]);
    return 1;
  }
  if (failed) return 1;
  return skipped && !passed ? 77 : 0;
}

int test__main(const char *list, void (*const *fns)(void), int n, int argc,
               char **argv) {
  const char **names = calloc((size_t)n, sizeof *names);
  char *buf = names != NULL ? test__split(list, names, n) : NULL;
  int code = 1;
  if (buf == NULL) {
    fprintf(stderr, "%s: TEST_MAIN's list is not %d names\n", argv[0], n);
    goto done;
  }
  for (int i = 0; i < n; i++) {
    if (test__find(names, i, names[i]) >= 0) {
      fprintf(stderr, "%s: %s is listed twice in TEST_MAIN\n", argv[0],
              names[i]);
      goto done;
    }
  }
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (int i = 0; i < n; i++) printf("%s\n", names[i]);
    code = fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
    goto done;
  }
  if (test__check_args(names, n, argc, argv)) goto done;
  code = test__run(names, fns, n, argc, argv);
done:
  free(buf);
  free(names);
  return code;
}
