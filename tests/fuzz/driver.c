/* SPDX-License-Identifier: Apache-2.0 */
/*
 * driver.c - a main() that replays inputs through a harness's
 * LLVMFuzzerTestOneInput without libFuzzer: every file named on the
 * command line, and every regular file (sorted by name) in every folder
 * named there. A missing folder counts as empty. Used by the
 * fuzz_regress_* CTest tests on tests/fuzz/regressions/<harness>/, so a
 * crash once found stays fixed under any compiler and sanitizer.
 *
 * Exit: 0 when every input ran (a crash aborts the process), 2 when a
 * file cannot be read.
 *
 * Threading: single-threaded.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  while (buf != NULL) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    uint8_t *grown = realloc(buf, cap * 2);
    if (grown == NULL) {
      free(buf);
      buf = NULL;
    }
    buf = grown;
    cap *= 2;
  }
  int bad = ferror(f);
  fclose(f);
  if (buf == NULL || bad) {
    fprintf(stderr, "%s: cannot read\n", path);
    free(buf);
    return -1;
  }
  fprintf(stderr, "replay %s (%zu bytes)\n", path, n);
  /* an exact-size copy, so ASan sees reads past the end of the input */
  uint8_t *exact = malloc(n > 0 ? n : 1);
  if (exact == NULL) {
    free(buf);
    return -1;
  }
  memcpy(exact, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, int *count) {
  struct dirent **names = NULL;
  int n = scandir(dir, &names, NULL, NULL);
  if (n < 0) return errno == ENOENT ? 0 : -1;
  char **paths = calloc((size_t)n + 1, sizeof *paths);
  int k = 0, rc = 0;
  for (int i = 0; i < n; i++) {
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
    if (paths != NULL && names[i]->d_name[0] != '.' &&
        stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
      paths[k++] = strdup(path);
    free(names[i]);
  }
  free(names);
  if (paths == NULL) return -1;
  qsort(paths, (size_t)k, sizeof *paths, by_name);
  for (int i = 0; i < k; i++) {
    if (paths[i] == NULL || run_file(paths[i]) != 0) rc = -1;
    else (*count)++;
    free(paths[i]);
  }
  free(paths);
  return rc;
}

int main(int argc, char **argv) {
  int count = 0, rc = 0;
  for (int i = 1; i < argc; i++) {
    struct stat sb;
    if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
      if (run_dir(argv[i], &count) != 0) rc = 2;
    } else if (stat(argv[i], &sb) != 0 && errno == ENOENT) {
      continue; /* no regressions recorded yet */
    } else if (run_file(argv[i]) != 0) {
      rc = 2;
    } else {
      count++;
    }
  }
  fprintf(stderr, "%d input(s) replayed\n", count);
  return rc;
}
