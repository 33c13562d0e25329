/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dir_watch.c - change notification for the dir:// backend (dir.c): an
 * inotify watch on the bucket's folder and every folder below it, and
 * the keys of the files its events say have landed (dir_watch_int.h).
 *
 * Why keys and not only a wake-up: a stream woken by a new file used to
 * list the whole bucket to find it, O(files in the bucket) per image (1
 * ms with 430 files on the project's machine, on the row's path; far
 * more with a real bucket's 100,000). The events name the file: a file
 * written in place ends with IN_CLOSE_WRITE, one put atomically (dir.c's
 * put, most tools' uploads) with IN_MOVED_TO of its final name.
 *
 * The record is "complete" - every file landed since the last full
 * listing is among the keys - unless the events cannot say: the kernel's
 * queue overflowed (IN_Q_OVERFLOW), a folder appeared (its files may
 * have landed before its watch), an event came from a watch we do not
 * know, or more than MAX_CHANGES files landed between two looks. Then
 * the caller lists the bucket, which starts a new record. Names starting
 * with '.' (temporary files) are not objects and are not recorded.
 *
 * Threading: one thread at a time per watch (the bucket's).
 */
#define _GNU_SOURCE
#include "bucket/dir_watch_int.h"

#include <dirent.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error_int.h"

#define MAX_DEPTH 8        /* folders below the root watched */
#define MAX_CHANGES 4096   /* keys recorded before the record gives up */

typedef struct watched {
  int wd;       /* inotify watch descriptor */
  char *prefix; /* owned: the folder's key prefix, "" for the root */
} watched;

struct ims__dir_watch {
  int fd;              /* the inotify instance */
  char *root;          /* owned: the bucket's folder */
  watched *folders;    /* owned: one per watched folder */
  size_t folder_count, folder_cap;
  char **changes;      /* owned: keys of files landed, in event order */
  size_t change_count;
  bool complete;       /* see the file comment */
  bool out_of_memory;  /* a folder could not be remembered */
};

/* ---- folders ---- */

/* Remember watch `wd` of the folder `prefix` (known wds are kept). */
static int remember(ims__dir_watch *w, int wd, const char *prefix) {
  for (size_t i = 0; i < w->folder_count; i++)
    if (w->folders[i].wd == wd) return 0;
  if (w->folder_count == w->folder_cap) {
    size_t cap = w->folder_cap ? 2 * w->folder_cap : 16;
    watched *grown = realloc(w->folders, cap * sizeof *grown);
    if (grown == NULL) return -1;
    w->folders = grown;
    w->folder_cap = cap;
  }
  char *copy = strdup(prefix);
  if (copy == NULL) return -1;
  w->folders[w->folder_count++] = (watched){wd, copy};
  return 0;
}

static const char *prefix_of(const ims__dir_watch *w, int wd) {
  for (size_t i = 0; i < w->folder_count; i++)
    if (w->folders[i].wd == wd) return w->folders[i].prefix;
  return NULL;
}

/* Watch root/prefix and every folder below it. A failure only costs
 * latency (the periodic listing still finds everything): the record is
 * marked incomplete so the next look lists. */
static void watch_tree(ims__dir_watch *w, const char *prefix, int depth) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s%s%s", w->root, *prefix ? "/" : "", prefix);
  int wd = inotify_add_watch(w->fd, path,
                             IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE);
  if (wd >= 0 && remember(w, wd, prefix) != 0) w->out_of_memory = true;
  if (wd < 0 || w->out_of_memory) {
    w->complete = false;
    return;
  }
  DIR *dir = depth < MAX_DEPTH ? opendir(path) : NULL;
  struct dirent *ent;
  while (dir != NULL && (ent = readdir(dir)) != NULL) {
    if (ent->d_name[0] == '.') continue;
    char sub[PATH_MAX], full[PATH_MAX * 2];
    snprintf(sub, sizeof sub, "%s%s%s", prefix, *prefix ? "/" : "",
             ent->d_name);
    snprintf(full, sizeof full, "%s/%s", w->root, sub);
    struct stat st;
    if (stat(full, &st) == 0 && S_ISDIR(st.st_mode))
      watch_tree(w, sub, depth + 1);
  }
  if (dir != NULL) closedir(dir);
}

/* ---- the record ---- */

static void forget_changes(ims__dir_watch *w) {
  for (size_t i = 0; i < w->change_count; i++) free(w->changes[i]);
  w->change_count = 0;
}

static void record(ims__dir_watch *w, const struct inotify_event *ev) {
  if (!w->complete) return;
  const char *prefix = prefix_of(w, ev->wd);
  if (prefix == NULL || w->change_count == MAX_CHANGES) {
    w->complete = false;
    return;
  }
  char key[PATH_MAX];
  snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "/" : "", ev->name);
  if ((w->changes[w->change_count] = strdup(key)) == NULL) {
    w->complete = false;
    return;
  }
  w->change_count++;
}

/* Read every pending event into the record; a new folder is watched. */
static void drain(ims__dir_watch *w) {
  char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
  bool new_folder = false;
  ssize_t n;
  while ((n = read(w->fd, buf, sizeof buf)) > 0) {
    for (char *p = buf; p < buf + n;) {
      const struct inotify_event *ev = (const struct inotify_event *)p;
      p += sizeof *ev + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) w->complete = false;
      if (ev->len == 0 || ev->name[0] == '.') continue;
      if (ev->mask & IN_ISDIR) {
        new_folder |= (ev->mask & (IN_CREATE | IN_MOVED_TO)) != 0;
      } else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
        record(w, ev);
      }
    }
  }
  if (new_folder) {
    w->complete = false;
    watch_tree(w, "", 0);
  }
}

/* ---- calls ---- */

ims_status ims__dir_watch_open(const char *root, ims__dir_watch **out,
                               ims_error *err) {
  *out = NULL;
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return IMS_OK; /* no inotify here: waits sleep */
  ims__dir_watch *w = calloc(1, sizeof *w);
  if (w != NULL) {
    w->fd = fd;
    w->root = strdup(root);
    w->changes = calloc(MAX_CHANGES, sizeof *w->changes);
  }
  if (w != NULL && w->root != NULL && w->changes != NULL) watch_tree(w, "", 0);
  if (w == NULL || w->root == NULL || w->changes == NULL ||
      w->out_of_memory) {
    if (w == NULL) close(fd);
    ims__dir_watch_close(w);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory watching %s",
                     root);
  }
  *out = w;
  return IMS_OK;
}

void ims__dir_watch_close(ims__dir_watch *w) {
  if (w == NULL) return;
  close(w->fd);
  forget_changes(w);
  for (size_t i = 0; i < w->folder_count; i++) free(w->folders[i].prefix);
  free(w->folders);
  free(w->changes);
  free(w->root);
  free(w);
}

void ims__dir_watch_wait(ims__dir_watch *w, int timeout_ms) {
  struct pollfd p = {w->fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) > 0) drain(w);
}

void ims__dir_watch_reset(ims__dir_watch *w) {
  drain(w);
  forget_changes(w);
  w->complete = true;
}

bool ims__dir_watch_changes(ims__dir_watch *w, const char *const **keys,
                            size_t *count) {
  drain(w);
  *keys = (const char *const *)w->changes;
  *count = w->change_count;
  return w->complete;
}

void ims__dir_watch_taken(ims__dir_watch *w) { forget_changes(w); }
