/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inputs.c - turning `imgstream classify`'s arguments into image paths: a
 * folder argument is walked, anything else is taken as it is.
 *
 * A folder is walked recursively. Inside it, a file is taken when its
 * name ends in .jpg, .jpeg, .png or .bmp (any case) and it is a regular
 * file or a symbolic link (the decoder reports a link that leads nowhere
 * usable); names starting with '.' (files and folders) are skipped, like
 * a bucket's temporary files. Symbolic links to folders are not followed,
 * so a link loop cannot trap the walk. A folder's images are sorted by
 * path in byte order (strcmp), so the output order does not depend on the
 * file system; arguments keep their order. A file named as an argument is
 * always taken, whatever its name.
 *
 * Not here: reading images (the library does that).
 *
 * Sections: 1. the path list  2. walking  3. public call
 *
 * Threading: main thread only.
 */
#define _GNU_SOURCE /* strdup, strcasecmp */
#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli/cli_int.h"

/* ---- 1. the path list ---- */

/* Append a copy of path. Returns 0 or -1 (out of memory). */
static int list_add(cli_inputs *in, const char *path) {
  if (in->count == in->cap) {
    size_t cap = in->cap ? in->cap * 2 : 64;
    char **p = realloc(in->paths, cap * sizeof *p);
    if (p == NULL) return -1;
    in->paths = p;
    in->cap = cap;
  }
  char *copy = strdup(path);
  if (copy == NULL) return -1;
  in->paths[in->count++] = copy;
  return 0;
}

static int cmp_path(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool image_name(const char *name) {
  static const char *const exts[] = {".jpg", ".jpeg", ".png", ".bmp"};
  size_t n = strlen(name);
  for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
    size_t e = strlen(exts[i]);
    if (n > e && strcasecmp(name + n - e, exts[i]) == 0) return true;
  }
  return false;
}

/* ---- 2. walking ---- */

/* "dir/name" in a new string, without doubling a '/' the user typed. */
static char *join(const char *dir, const char *name) {
  size_t n = strlen(dir);
  const char *sep = n > 0 && dir[n - 1] == '/' ? "" : "/";
  size_t len = n + strlen(sep) + strlen(name) + 1;
  char *p = malloc(len);
  if (p != NULL) snprintf(p, len, "%s%s%s", dir, sep, name);
  return p;
}

static int walk(cli_inputs *in, const char *dir);

/* Take or descend into dir/name. Returns 0 or -1 (out of memory). */
static int visit(cli_inputs *in, const char *dir, const char *name) {
  char *path = join(dir, name);
  if (path == NULL) return -1;
  struct stat st;
  int rc = 0;
  if (lstat(path, &st) != 0) {
    /* gone since readdir: nothing to report */
  } else if (S_ISDIR(st.st_mode)) {
    rc = walk(in, path);
  } else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) &&
             image_name(name)) {
    if (S_ISLNK(st.st_mode) && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
      /* a link to a folder: not followed */
    } else {
      rc = list_add(in, path);
    }
  }
  free(path);
  return rc;
}

/* The names in dir, hidden ones left out; the folder is closed before the
 * caller descends, so the depth of a tree costs no descriptors. Returns
 * the count (names in *out, caller frees), or -1 with errno set (ENOMEM:
 * out of memory) and nothing in *out. */
static ptrdiff_t read_names(const char *dir, char ***out) {
  *out = NULL;
  DIR *d = opendir(dir);
  if (d == NULL) return -1;
  char **names = NULL;
  size_t n = 0, cap = 0;
  int err = 0;
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(d);
    if (e == NULL) {
      err = errno;
      break;
    }
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 32;
      char **p = realloc(names, cap * sizeof *p);
      if (p == NULL) {
        err = ENOMEM;
        break;
      }
      names = p;
    }
    names[n] = strdup(e->d_name);
    if (names[n] == NULL) {
      err = ENOMEM;
      break;
    }
    n++;
  }
  closedir(d);
  if (err == 0) {
    *out = names;
    return (ptrdiff_t)n;
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  errno = err;
  return -1;
}

/* Add dir's images, recursively. A folder that cannot be read is reported
 * and marks the inputs failed. Returns 0 or -1 (out of memory). */
static int walk(cli_inputs *in, const char *dir) {
  char **names = NULL;
  ptrdiff_t n = read_names(dir, &names);
  if (n < 0 && errno == ENOMEM) return -1;
  if (n < 0) {
    fprintf(stderr, "imgstream: %s: cannot read folder: %s\n", dir,
            strerror(errno));
    in->failed = true;
    return 0;
  }
  int rc = 0;
  for (ptrdiff_t i = 0; i < n && rc == 0; i++) rc = visit(in, dir, names[i]);
  for (ptrdiff_t i = 0; i < n; i++) free(names[i]);
  free(names);
  return rc;
}

/* ---- 3. public call ---- */

int cli_inputs_expand(cli_inputs *in, char **args, size_t nargs) {
  memset(in, 0, sizeof *in);
  for (size_t i = 0; i < nargs; i++) {
    struct stat st;
    if (stat(args[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
      if (list_add(in, args[i]) != 0) return -1;
      continue;
    }
    size_t first = in->count;
    if (walk(in, args[i]) != 0) return -1;
    if (in->count > first) /* paths may still be NULL: no image yet */
      qsort(in->paths + first, in->count - first, sizeof *in->paths,
            cmp_path);
    if (in->count == first) {
      fprintf(stderr,
              "imgstream: %s: no images (.jpg, .jpeg, .png, .bmp) in this "
              "folder\n", args[i]);
      in->failed = true;
    }
  }
  return 0;
}

void cli_inputs_free(cli_inputs *in) {
  for (size_t i = 0; i < in->count; i++) free(in->paths[i]);
  free(in->paths);
  memset(in, 0, sizeof *in);
}
