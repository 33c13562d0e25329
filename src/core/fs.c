/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fs.c - mkdir -p and rm -rf (see fs_int.h).
 *
 * Paths longer than PATH_MAX fail with ENAMETOOLONG rather than being
 * cut: a cut path would create or remove the wrong folder.
 *
 * Threading: no state.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fs_int.h"

int ims__mkdirs(const char *path) {
  char buf[PATH_MAX];
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, path, len + 1);
  for (char *p = buf + 1; *p != '\0'; p++) {
    if (*p != '/') continue;
    *p = '\0';
    int rc = mkdir(buf, 0755);
    *p = '/';
    if (rc != 0 && errno != EEXIST) return -1;
  }
  if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
  return 0;
}

int ims__mkdirs_parent(const char *path) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL || slash == path) return 0;
  char dir[PATH_MAX];
  if ((size_t)(slash - path) >= sizeof dir) {
    errno = ENAMETOOLONG;
    return -1;
  }
  snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  return ims__mkdirs(dir);
}

static int remove_one(const char *path, const struct stat *sb, int flag,
                      struct FTW *ftw) {
  remove(path);
  return 0;
}

int ims__remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
  nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
  return lstat(path, &st) != 0 && errno == ENOENT ? 0 : -1;
}
