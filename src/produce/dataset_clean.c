/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dataset_clean.c - leftovers of killed producers: the rule that tells a
 * stale temporary file from one in use, ims_dataset_clean_bucket(),.
 * (see produce_int.h).
 *
 * A leftover's name carries the PID of the process that made it (bucket
 * puts: ".NAME.PID.N.tmp", see src/bucket/dir.c; downloads:
 * ".NAME.PID.download" and ".NAME.PID.partial"). It is stale when that
 * process no longer runs here, or (bucket files) when it is older than
 * the caller's limit - which also covers a PID reused since.
 *
 * Sections: 1. helpers  2. ims_dataset_clean_bucket
 *
 * Threading: no shared state.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error_int.h"
#include "produce/produce_int.h"
#include "core/clock_int.h"

/* ---- 1. helpers ---- */

bool ims__pid_gone(long pid) {
  if (pid <= 0) return false;
  return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

long ims__leftover_pid(const char *name, int skip) {
  const char *end = name + strlen(name);
  const char *dot = NULL;
  /* Step back over the suffix and `skip` more parts. */
  for (int part = 0; part <= skip; part++) {
    dot = NULL;
    for (const char *p = end - 1; p >= name; p--) {
      if (*p == '.') {
        dot = p;
        break;
      }
    }
    if (dot == NULL) return -1;
    end = dot;
  }
  const char *start = end - 1;
  while (start >= name && *start >= '0' && *start <= '9') start--;
  if (start == end - 1 || start < name || *start != '.') return -1;
  long pid = 0;
  for (const char *p = start + 1; p < end && pid < 100000000; p++)
    pid = pid * 10 + (*p - '0');
  return pid;
}

/* ---- 2. ims_dataset_clean_bucket ---- */

/* Remove the stale ".*.PID.N.tmp" files of folder `dir`. A missing folder
 * has nothing to clean. */
static ims_status clean_folder(const char *dir, int64_t max_age_ms,
                               size_t *removed, ims_error *err) {
  DIR *d = opendir(dir);
  if (d == NULL && errno == ENOENT) return IMS_OK;
  if (d == NULL)
    return ims__fail(err, IMS_ERR_IO, "bucket folder %s: %s", dir,
                     strerror(errno));
  int64_t now = ims__now_epoch_ms();
  for (;;) {
    struct dirent *ent = readdir(d);
    if (ent == NULL) break;
    const char *name = ent->d_name;
    size_t len = strlen(name);
    if (name[0] != '.' || len < 5 || strcmp(name + len - 4, ".tmp") != 0)
      continue;
    char path[4096 + 256];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000 +
                    st.st_mtim.tv_nsec / 1000000;
    long pid = ims__leftover_pid(name, 1);
    bool stale = now - mtime >= max_age_ms || ims__pid_gone(pid);
    if (pid == (long)getpid()) stale = false;
    if (stale && unlink(path) == 0) (*removed)++;
  }
  closedir(d);
  return IMS_OK;
}

ims_status ims_dataset_clean_bucket(ims_bucket *bucket,
                                    const ims_dataset *dataset,
                                    int64_t max_age_ms, size_t *removed_out,
                                    ims_error *err) {
  size_t removed = 0;
  ims_status st = IMS_OK;
  for (size_t i = 0; i < ims_dataset_category_count(dataset); i++) {
    const char *cat = NULL;
    size_t count = 0;
    char key[1024], dir[4096];
    ims_dataset_category(dataset, i, &cat, &count, NULL);
    if (count == 0) continue;
    snprintf(key, sizeof key, "%s/x", cat);
    ims_error e = {0};
    st = ims_bucket_local_path(bucket, key, dir, sizeof dir, &e);
    if (st == IMS_ERR_UNSUPPORTED) {
      st = IMS_OK;
      break;
    }
    if (st != IMS_OK) {
      if (err != NULL) *err = e;
      break;
    }
    dir[strlen(dir) - 2] = '\0'; /* drop "/x" */
    st = clean_folder(dir, max_age_ms, &removed, err);
    if (st != IMS_OK) break;
  }
  if (st == IMS_OK && removed_out != NULL) *removed_out = removed;
  return st;
}
