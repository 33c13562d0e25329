/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dir.c - the dir:// bucket backend: a local folder whose files
 * (any depth, usually "category/filename") are the objects.
 *
 * put: write "<dir>/.<name>.<pid>.<n>.tmp" (O_EXCL), fsync, rename over
 * "<dir>/<name>", fsync the directory - a reader sees the whole object or
 * nothing, and a crash leaves at most a hidden temporary file, which list
 * never returns. list: a recursive walk skipping names that start with
 * '.'; event time = the later of mtime and ctime (rename sets ctime, so
 * this is when the object became visible). wait: with IMS_BUCKET_WATCH,
 * an inotify watch on every folder (dir_watch.c), polled with the
 * timeout; otherwise a plain sleep. list_changes: the files the watch's
 * events named since the last listing, stat()ed - not the whole bucket.
 *
 * Sections: 1. paths and helpers 2. put 3. list/read 4. watch/wait
 * 5. open/close and the vtable.
 *
 * Threading: one thread at a time per bucket.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error_int.h"
#include "core/file_int.h"
#include "bucket/bucket_int.h"
#include "bucket/dir_watch_int.h"
#include "core/clock_int.h"
#include "core/fs_int.h"

#define MAX_OBJECT_BYTES ((size_t)1 << 31)

typedef struct dir_bucket {
  char *root;          /* owned: folder path, no trailing '/' */
  ims__dir_watch *watch; /* owned; NULL unless watching */
  unsigned long seq;   /* temporary-name counter */
} dir_bucket;

/* ---- 1. paths and helpers -------------------------------------------- */

static ims_status join(const dir_bucket *d, const char *key, char *buf,
                       size_t cap, ims_error *err) {
  int n = snprintf(buf, cap, "%s/%s", d->root, key);
  if (n < 0 || (size_t)n >= cap)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "%s/%s: path too long",
                     d->root, key);
  return IMS_OK;
}

static ims_status io_fail(ims_error *err, const char *what, const char *path,
                          int e) {
  return ims__fail(err, e == ENOENT ? IMS_ERR_NOT_FOUND : IMS_ERR_IO,
                   "%s %s: %s", what, path, strerror(e));
}

/* mkdir -p for the folders of `path` (not its last component). */
static ims_status make_parents(const char *path, ims_error *err) {
  if (ims__mkdirs_parent(path) == 0) return IMS_OK;
  return io_fail(err, "mkdir for", path, errno);
}

static int fsync_dir_of(const char *path) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == NULL) return 0;
  *slash = '\0';
  int fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

/* ---- 2. put ---------------------------------------------------------- */

static int write_all(int fd, const unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void temp_name(dir_bucket *d, const char *final, char *buf,
                      size_t cap) {
  const char *slash = strrchr(final, '/');
  int dir_len = (int)(slash - final);
  snprintf(buf, cap, "%.*s/.%s.%ld.%lu.tmp", dir_len, final, slash + 1,
           (long)getpid(), d->seq++);
}

static ims_status dir_put(void *state, const char *key, const void *data,
                          size_t size, ims_error *err) {
  dir_bucket *d = state;
  char final[PATH_MAX], tmp[PATH_MAX + 64];
  ims_status st = join(d, key, final, sizeof final, err);
  if (st == IMS_OK) st = make_parents(final, err);
  if (st != IMS_OK) return st;
  temp_name(d, final, tmp, sizeof tmp);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return io_fail(err, "create", tmp, errno);
  if (write_all(fd, data, size) != 0 || fsync(fd) != 0) {
    int e = errno;
    close(fd);
    unlink(tmp);
    return io_fail(err, "write", tmp, e);
  }
  /* Stamp the landing time now, to the nanosecond: the kernel's own
   * stamps are coarse (its tick: up to 4-6 ms early on the project's
   * machine), and rename()'s ctime is as coarse, so a stream measured
   * landing-to-row latency from a time up to the tick plus this file's
   * fsync before the object was there. Best effort: a stamp that fails
   * leaves the kernel's. */
  struct timespec now[2];
  clock_gettime(CLOCK_REALTIME, &now[0]);
  now[1] = now[0];
  futimens(fd, now);
  if (close(fd) != 0 || rename(tmp, final) != 0) {
    int e = errno;
    unlink(tmp);
    return io_fail(err, "store", final, e);
  }
  if (fsync_dir_of(final) != 0) return io_fail(err, "fsync", final, errno);
  return IMS_OK;
}

/* ---- 3. list/read ---------------------------------------------------- */

typedef struct listing {
  ims_object *items;        /* growing array */
  size_t count, cap;        /* used / allocated */
  ims__bucket_skip_fn skip; /* files to leave out unseen; NULL = none */
  void *skip_ctx;
} listing;

static int add_object(listing *l, const char *key, const struct stat *st) {
  if (l->count == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 256;
    ims_object *grown = realloc(l->items, cap * sizeof *grown);
    if (grown == NULL) return -1;
    l->items = grown;
    l->cap = cap;
  }
  char *copy = strdup(key);
  if (copy == NULL) return -1;
  /* Landing time: the later of mtime and ctime. rename() sets ctime, so
   * an object put atomically counts from when it became visible, not
   * from when its temporary file was written (which would charge the
   * writer's fsync to the reader's latency) - to the kernel's tick,
   * which dir_put's own exact stamp of mtime refines. */
  const struct timespec *t =
      (st->st_ctim.tv_sec > st->st_mtim.tv_sec ||
       (st->st_ctim.tv_sec == st->st_mtim.tv_sec &&
        st->st_ctim.tv_nsec > st->st_mtim.tv_nsec)) ? &st->st_ctim
                                                     : &st->st_mtim;
  l->items[l->count++] = (ims_object){
      copy, (uint64_t)st->st_size,
      (int64_t)t->tv_sec * 1000 + t->tv_nsec / 1000000};
  return 0;
}

/* Walk `root/prefix` (prefix "" = the root), adding regular files. */
static ims_status walk(const char *root, const char *prefix, listing *l,
                       int depth, ims_error *err) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s%s%s", root, prefix[0] ? "/" : "", prefix);
  DIR *dir = opendir(path);
  if (dir == NULL) return io_fail(err, "list", path, errno);
  ims_status status = IMS_OK;
  struct dirent *ent;
  while (status == IMS_OK && (ent = readdir(dir)) != NULL) {
    if (ent->d_name[0] == '.') continue; /* ., .., temporary files */
    char key[PATH_MAX], full[PATH_MAX * 2];
    snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "/" : "",
             ent->d_name);
    if (ent->d_type == DT_REG && l->skip != NULL && l->skip(l->skip_ctx, key))
      continue; /* known: not worth a stat() */
    snprintf(full, sizeof full, "%s/%s", root, key);
    struct stat st;
    if (stat(full, &st) != 0) continue; /* vanished meanwhile */
    if (S_ISDIR(st.st_mode) && depth < 8)
      status = walk(root, key, l, depth + 1, err);
    else if (S_ISREG(st.st_mode) && add_object(l, key, &st) != 0)
      status = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory listing");
  }
  closedir(dir);
  return status;
}

static ims_status dir_list_new(void *state, ims__bucket_skip_fn skip,
                               void *ctx, ims_object **objects,
                               size_t *count, ims_error *err) {
  dir_bucket *d = state;
  listing l = {NULL, 0, 0, skip, ctx};
  if (d->watch != NULL) ims__dir_watch_reset(d->watch);
  ims_status st = walk(d->root, "", &l, 0, err);
  if (st != IMS_OK) {
    ims_bucket_list_free(l.items, l.count);
    return st;
  }
  if (l.count > 1)
    qsort(l.items, l.count, sizeof *l.items, ims__object_by_time_key);
  *objects = l.items;
  *count = l.count;
  return IMS_OK;
}

/* Equal keys next to each other after the sort by (time, key): the same
 * file named by two events. */
static void drop_repeats(listing *l) {
  size_t kept = 0;
  for (size_t i = 0; i < l->count; i++) {
    if (kept > 0 && strcmp(l->items[kept - 1].key, l->items[i].key) == 0) {
      free(l->items[i].key);
      continue;
    }
    l->items[kept++] = l->items[i];
  }
  l->count = kept;
}

static ims_status dir_list_changes(void *state, ims__bucket_skip_fn skip,
                                   void *ctx, ims_object **objects,
                                   size_t *count, bool *known,
                                   ims_error *err) {
  dir_bucket *d = state;
  const char *const *keys = NULL;
  size_t n = 0;
  *known = d->watch != NULL && ims__dir_watch_changes(d->watch, &keys, &n);
  if (!*known) return IMS_OK;
  listing l = {NULL, 0, 0, skip, ctx};
  ims_status status = IMS_OK;
  for (size_t i = 0; status == IMS_OK && i < n; i++) {
    char full[PATH_MAX * 2];
    struct stat st;
    if (skip != NULL && skip(ctx, keys[i])) continue;
    snprintf(full, sizeof full, "%s/%s", d->root, keys[i]);
    if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) continue; /* gone */
    if (add_object(&l, keys[i], &st) != 0)
      status = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory listing");
  }
  ims__dir_watch_taken(d->watch);
  if (status != IMS_OK) {
    ims_bucket_list_free(l.items, l.count);
    return status;
  }
  if (l.count > 1) {
    qsort(l.items, l.count, sizeof *l.items, ims__object_by_time_key);
    drop_repeats(&l);
  }
  *objects = l.items;
  *count = l.count;
  return IMS_OK;
}

static ims_status dir_list(void *state, ims_object **objects,
                           size_t *count, ims_error *err) {
  return dir_list_new(state, NULL, NULL, objects, count, err);
}

static ims_status dir_read(void *state, const char *key, void **data,
                           size_t *size, ims_error *err) {
  char path[PATH_MAX];
  ims_status st = join(state, key, path, sizeof path, err);
  if (st != IMS_OK) return st;
  return ims__file_read(path, MAX_OBJECT_BYTES, data, size, err);
}

static ims_status dir_local_path(void *state, const char *key, char *buf,
                                 size_t cap, ims_error *err) {
  return join(state, key, buf, cap, err);
}

/* ---- 4. watch/wait --------------------------------------------------- */

static ims_status dir_wait(void *state, int timeout_ms, ims_error *err) {
  dir_bucket *d = state;
  if (d->watch == NULL) {
    ims__sleep_until_ns(ims__now_mono_ns() +
                        (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u);
    return IMS_OK;
  }
  ims__dir_watch_wait(d->watch, timeout_ms);
  return IMS_OK;
}

/* ---- 5. open/close and the vtable ------------------------------------ */

static ims_status dir_open(const char *location, uint32_t flags,
                           void **state, ims_error *err) {
  struct stat st;
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/", location);
  if (stat(location, &st) != 0 && (flags & IMS_BUCKET_CREATE)) {
    ims_status s = make_parents(path, err);
    if (s != IMS_OK) return s;
  }
  if (stat(location, &st) != 0) return io_fail(err, "bucket", location, errno);
  if (!S_ISDIR(st.st_mode))
    return ims__fail(err, IMS_ERR_INVALID_ARG, "bucket %s: not a folder",
                     location);
  dir_bucket *d = calloc(1, sizeof *d);
  char *root = strdup(location);
  if (d == NULL || root == NULL) {
    free(d);
    free(root);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  d->root = root;
  size_t len = strlen(d->root);
  while (len > 1 && d->root[len - 1] == '/') d->root[--len] = '\0';
  if (flags & IMS_BUCKET_WATCH) {
    ims_status ws = ims__dir_watch_open(d->root, &d->watch, err);
    if (ws != IMS_OK) {
      free(d->root);
      free(d);
      return ws;
    }
  }
  *state = d;
  return IMS_OK;
}

static void dir_close(void *state) {
  dir_bucket *d = state;
  ims__dir_watch_close(d->watch);
  free(d->root);
  free(d);
}

const ims__bucket_ops ims__bucket_dir_ops = {
    "dir",    dir_open,       dir_close, dir_put, dir_list,
    dir_read, dir_local_path, dir_wait,  NULL,    NULL, NULL,
    dir_list_new, dir_list_changes};
