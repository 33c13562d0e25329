/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_archive.c - fuzz harness for the producer's archive extraction
 * (src/produce/extract.c, reached by `imgstream produce --download URL`):
 * the input is an archive file (tar, zip, cpio, ..., optionally gzip- or
 * otherwise compressed: libarchive sniffs it), extracted with
 * ims__archive_extract into an empty folder with a 1 MB content limit.
 *
 * Invariants: failures carry a message; nothing appears in the scratch
 * folder besides the archive and the extraction folder (no entry escaped
 * through "..", an absolute path or a link); every symbolic link left in
 * the extraction folder resolves, if at all, inside it.
 *
 * Threading: single-threaded.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "produce/produce_int.h"

static char out_real[PATH_MAX];

static int check_link(const char *path, const struct stat *sb, int flag,
                      struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  char real[PATH_MAX];
  if (flag != FTW_SL || realpath(path, real) == NULL) return 0;
  size_t n = strlen(out_real);
  if (strncmp(real, out_real, n) != 0 || (real[n] != '/' && real[n] != 0))
    fuzz_fail("symbolic link resolves outside the folder", real);
  return 0;
}

static void check_scratch(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) fuzz_fail("opendir", dir);
  for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
    const char *n = e->d_name;
    if (strcmp(n, ".") != 0 && strcmp(n, "..") != 0 &&
        strcmp(n, "archive") != 0 && strcmp(n, "out") != 0)
      fuzz_fail("an entry escaped the extraction folder", n);
  }
  closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char out[4200];
  fuzz_scratch_clear();
  const char *dir = fuzz_scratch_dir();
  const char *archive = fuzz_scratch_write("archive", data, size);
  snprintf(out, sizeof out, "%s/out", dir);
  if (mkdir(out, 0755) != 0 || realpath(out, out_real) == NULL)
    fuzz_fail("mkdir", out);
  ims_error err;
  memset(&err, 0, sizeof err);
  ims_status st = ims__archive_extract(archive, out, 1u << 20, NULL, &err);
  if (st != IMS_OK && err.message[0] == '\0')
    fuzz_fail("extraction failed silently", NULL);
  check_scratch(dir);
  nftw(out, check_link, 16, FTW_PHYS);
  return 0;
}
