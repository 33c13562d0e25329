/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_util.c - the scratch folder and failure helper of fuzz.h, linked
 * into every harness (libFuzzer build and replay driver alike).
 *
 * Threading: one thread (libFuzzer runs inputs one at a time).
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static char scratch[4096];

void fuzz_fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz invariant broken: %s: %s\n", what,
          detail != NULL ? detail : "");
  abort();
}

static int remove_one(const char *path, const struct stat *sb, int flag,
                      struct FTW *ftw) {
  (void)sb;
  (void)flag;
  if (ftw->level == 0) return 0; /* keep the scratch folder itself */
  remove(path);
  return 0;
}

void fuzz_scratch_clear(void) {
  if (scratch[0] == '\0') return;
  nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_scratch(void) {
  fuzz_scratch_clear();
  rmdir(scratch);
}

const char *fuzz_scratch_dir(void) {
  if (scratch[0] != '\0') return scratch;
  const char *tmp = getenv("TMPDIR");
  snprintf(scratch, sizeof scratch, "%s/ims-fuzz-XXXXXX",
           tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
  if (mkdtemp(scratch) == NULL) fuzz_fail("mkdtemp", scratch);
  atexit(remove_scratch);
  return scratch;
}

const char *fuzz_scratch_write(const char *name, const void *data,
                               size_t size) {
  static char path[4352];
  snprintf(path, sizeof path, "%s/%s", fuzz_scratch_dir(), name);
  FILE *f = fopen(path, "wb");
  if (f == NULL) fuzz_fail("fopen", path);
  size_t n = size > 0 ? fwrite(data, 1, size, f) : 0;
  if (fclose(f) != 0 || n != size) fuzz_fail("write", path);
  return path;
}
