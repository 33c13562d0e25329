/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dataset.c - ims_dataset: scan a dataset root (one folder per category),
 * keep the images, shuffle them reproducibly, read them, name their keys.
 * The layout, the order and the shuffle algorithm are specified in
 * include/imgstream/dataset.h.
 *
 * Images are recognised by content: the same signatures decoder.c sniffs
 * (JPEG FF D8 FF, PNG's 8-byte signature, BMP "BM"). The original producer
 * globbed "*.jpg"; sniffing also takes PNG and BMP files and keeps text
 * files named .jpg out of the bucket, for one small read per file.
 *
 * Not here: downloading (download.c), bucket cleanup (dataset_clean.c).
 *
 * Sections: 1. growing arrays and names  2. scan  3. accessors
 *           4. shuffle  5. read and keys
 *
 * Threading: one thread at a time per dataset.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error_int.h"
#include "core/file_int.h"
#include "produce/produce_int.h"

#define MAX_IMAGE_BYTES ((size_t)1 << 30)

typedef struct category {
  char *name;   /* owned: folder name */
  size_t count; /* images in it */
} category;

struct ims_dataset {
  char *root;               /* owned: root as given, no trailing '/' */
  category *cats;           /* owned: sorted by name */
  size_t ncats, cats_cap;   /* used / allocated */
  ims_dataset_item *items;  /* owned: sorted by (category, name); path is
                               owned, name points into it, category into
                               cats[] */
  size_t nitems, items_cap; /* used / allocated */
  size_t *order;            /* owned: nitems indexes, current order */
  ims_dataset_skip *skips;  /* owned: both strings owned */
  size_t nskips, skips_cap; /* used / allocated */
};

/* ---- 1. growing arrays and names ---- */

/* Make room for one more element in *arr (count used, *cap allocated).
 * Returns 0 or -1 (out of memory, *arr untouched). */
static int grow(void **arr, size_t count, size_t *cap, size_t elem) {
  if (count < *cap) return 0;
  size_t ncap = *cap ? *cap * 2 : 64;
  void *p = realloc(*arr, ncap * elem);
  if (p == NULL) return -1;
  *arr = p;
  *cap = ncap;
  return 0;
}

static int by_strcmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n) {
  for (size_t i = 0; names != NULL && i < n; i++) free(names[i]);
  free(names);
}

/* The names in folder `path` that do not start with '.', sorted by
 * strcmp. *names_out is TRANSFERRED (free_names). Returns 0, or -1 with
 * errno set. */
static int list_names(const char *path, char ***names_out, size_t *n_out) {
  DIR *dir = opendir(path);
  if (dir == NULL) return -1;
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *ent;
  int rc = 0;
  for (;;) {
    ent = readdir(dir);
    if (ent == NULL) break;
    if (ent->d_name[0] == '.') continue;
    char *copy = strdup(ent->d_name);
    if (copy == NULL || grow((void **)&names, n, &cap, sizeof *names) != 0) {
      free(copy);
      rc = -1;
      errno = ENOMEM;
      break;
    }
    names[n++] = copy;
  }
  closedir(dir);
  if (rc != 0) {
    free_names(names, n);
    return -1;
  }
  if (n > 1) qsort(names, n, sizeof *names, by_strcmp);
  *names_out = names;
  *n_out = n;
  return 0;
}

/* ---- 2. scan ---- */

/* Record a skipped entry (copies both strings). Returns 0 or -1. */
static int add_skip(ims_dataset *ds, const char *path, const char *reason) {
  if (grow((void **)&ds->skips, ds->nskips, &ds->skips_cap,
           sizeof *ds->skips) != 0)
    return -1;
  char *p = strdup(path), *r = strdup(reason);
  if (p == NULL || r == NULL) {
    free(p);
    free(r);
    return -1;
  }
  ds->skips[ds->nskips++] = (ims_dataset_skip){p, r};
  return 0;
}

/* Is the file at `path` an image? Returns 1 yes, 0 no, -1 unreadable
 * (errno set). */
static int sniff_image(const char *path) {
  unsigned char b[8] = {0};
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, b, sizeof b);
  int e = errno;
  close(fd);
  if (n < 0) {
    errno = e;
    return -1;
  }
  static const unsigned char png[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A,
                                       0x1A, 0x0A};
  if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return 1;
  if (n >= 8 && memcmp(b, png, 8) == 0) return 1;
  return n >= 2 && b[0] == 'B' && b[1] == 'M';
}

/* Look at one entry of a category folder: add it as an item or record why
 * it was skipped. `path` becomes owned by the dataset when added. Returns
 * 0 or -1 (out of memory; path freed). */
static int scan_file(ims_dataset *ds, size_t cat, char *path) {
  struct stat st;
  const char *why = NULL;
  int kind = 0;
  if (stat(path, &st) != 0) {
    why = strerror(errno);
  } else if (S_ISDIR(st.st_mode)) {
    why = "a folder inside a category (not scanned)";
  } else if (!S_ISREG(st.st_mode)) {
    why = "not a regular file";
  } else {
    kind = sniff_image(path);
    if (kind < 0) why = strerror(errno);
    if (kind == 0) why = "not a JPEG, PNG or BMP image";
  }
  if (why != NULL) {
    int rc = add_skip(ds, path, why);
    free(path);
    return rc;
  }
  if (grow((void **)&ds->items, ds->nitems, &ds->items_cap,
           sizeof *ds->items) != 0) {
    free(path);
    return -1;
  }
  ds->items[ds->nitems++] = (ims_dataset_item){
      ds->cats[cat].name, strrchr(path, '/') + 1, path, (uint64_t)st.st_size};
  ds->cats[cat].count++;
  return 0;
}

/* Scan category folder `name` (taking ownership of `name`). */
static ims_status scan_category(ims_dataset *ds, char *name, ims_error *err) {
  char dir[4096];
  char **files = NULL;
  size_t nfiles = 0;
  snprintf(dir, sizeof dir, "%s/%s", ds->root, name);
  if (grow((void **)&ds->cats, ds->ncats, &ds->cats_cap, sizeof *ds->cats)) {
    free(name);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  size_t cat = ds->ncats++;
  ds->cats[cat] = (category){name, 0};
  if (list_names(dir, &files, &nfiles) != 0) {
    if (errno == ENOMEM)
      return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory listing %s",
                       dir);
    return add_skip(ds, dir, strerror(errno)) == 0
               ? IMS_OK
               : ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  ims_status st = IMS_OK;
  for (size_t i = 0; i < nfiles && st == IMS_OK; i++) {
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, files[i]) < 0 ||
        scan_file(ds, cat, path) != 0)
      st = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory scanning %s",
                     dir);
  }
  free_names(files, nfiles);
  if (st == IMS_OK && ds->cats[cat].count == 0 &&
      add_skip(ds, dir, "no images") != 0)
    st = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  return st;
}

/* Scan every category folder under ds->root. */
static ims_status scan_root(ims_dataset *ds, ims_error *err) {
  char **names = NULL;
  size_t n = 0;
  if (list_names(ds->root, &names, &n) != 0)
    return ims__fail(err, errno == ENOENT   ? IMS_ERR_NOT_FOUND
                          : errno == ENOMEM ? IMS_ERR_NO_MEMORY
                                            : IMS_ERR_IO,
                     "dataset %s: %s", ds->root, strerror(errno));
  ims_status st = IMS_OK;
  size_t i = 0;
  for (; i < n && st == IMS_OK; i++) {
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", ds->root, names[i]);
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) continue;
    st = scan_category(ds, names[i], err);
    names[i] = NULL; /* taken by scan_category */
  }
  free_names(names, n);
  return st;
}

ims_status ims_dataset_scan(const char *root, ims_dataset **dataset_out,
                            ims_error *err) {
  if (root == NULL || root[0] == '\0' || dataset_out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "no dataset folder given");
  ims_status st = IMS_ERR_NO_MEMORY;
  ims_dataset *ds = calloc(1, sizeof *ds);
  if (ds == NULL) goto fail;
  ds->root = strdup(root);
  if (ds->root == NULL) goto fail;
  size_t len = strlen(ds->root);
  while (len > 1 && ds->root[len - 1] == '/') ds->root[--len] = '\0';
  st = scan_root(ds, err);
  if (st != IMS_OK) goto fail;
  st = IMS_ERR_NO_MEMORY;
  ds->order = malloc((ds->nitems ? ds->nitems : 1) * sizeof *ds->order);
  if (ds->order == NULL) goto fail;
  for (size_t i = 0; i < ds->nitems; i++) ds->order[i] = i;
  *dataset_out = ds;
  return IMS_OK;
fail:
  if (st == IMS_ERR_NO_MEMORY) ims__fail(err, st, "out of memory");
  ims_dataset_destroy(ds);
  return st;
}

void ims_dataset_destroy(ims_dataset *ds) {
  if (ds == NULL) return;
  for (size_t i = 0; i < ds->nitems; i++) free((char *)ds->items[i].path);
  for (size_t i = 0; i < ds->ncats; i++) free(ds->cats[i].name);
  for (size_t i = 0; i < ds->nskips; i++) {
    free((char *)ds->skips[i].path);
    free((char *)ds->skips[i].reason);
  }
  free(ds->items);
  free(ds->cats);
  free(ds->skips);
  free(ds->order);
  free(ds->root);
  free(ds);
}

/* ---- 3. accessors ---- */

size_t ims_dataset_count(const ims_dataset *ds) { return ds->nitems; }

const ims_dataset_item *ims_dataset_get(const ims_dataset *ds, size_t i) {
  return i < ds->nitems ? &ds->items[ds->order[i]] : NULL;
}

size_t ims_dataset_category_count(const ims_dataset *ds) {
  return ds->ncats;
}

ims_status ims_dataset_category(const ims_dataset *ds, size_t i,
                                const char **name_out, size_t *count_out,
                                ims_error *err) {
  if (i >= ds->ncats)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "no category %zu", i);
  *name_out = ds->cats[i].name;
  *count_out = ds->cats[i].count;
  return IMS_OK;
}

size_t ims_dataset_skipped_count(const ims_dataset *ds) {
  return ds->nskips;
}

const ims_dataset_skip *ims_dataset_skipped(const ims_dataset *ds,
                                            size_t i) {
  return i < ds->nskips ? &ds->skips[i] : NULL;
}

/* ---- 4. shuffle (algorithm fixed by include/imgstream/dataset.h) ---- */

static uint64_t splitmix64(uint64_t *s) {
  *s += 0x9E3779B97F4A7C15ull;
  uint64_t z = *s;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [0, bound), bound >= 1, by rejection (no modulo bias). */
static uint64_t uniform(uint64_t *s, uint64_t bound) {
  uint64_t threshold = (0 - bound) % bound; /* 2^64 mod bound */
  for (;;) {
    uint64_t r = splitmix64(s);
    if (r >= threshold) return r % bound;
  }
}

void ims_dataset_shuffle(ims_dataset *ds, uint64_t seed) {
  uint64_t s = seed;
  for (size_t i = 0; i < ds->nitems; i++) ds->order[i] = i;
  for (size_t i = ds->nitems; i > 1; i--) {
    size_t j = (size_t)uniform(&s, (uint64_t)i);
    size_t t = ds->order[i - 1];
    ds->order[i - 1] = ds->order[j];
    ds->order[j] = t;
  }
}

/* ---- 5. read and keys ---- */

ims_status ims_dataset_read(const ims_dataset *ds, size_t i, void **data_out,
                            size_t *size_out, ims_error *err) {
  const ims_dataset_item *it = ims_dataset_get(ds, i);
  if (it == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "no image %zu", i);
  return ims__file_read(it->path, MAX_IMAGE_BYTES, data_out, size_out, err);
}

ims_status ims_dataset_key(const ims_dataset *ds, size_t i, uint64_t round,
                           char *buf, size_t cap, ims_error *err) {
  const ims_dataset_item *it = ims_dataset_get(ds, i);
  if (it == NULL || buf == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "no image %zu", i);
  int n;
  if (round == 0) {
    n = snprintf(buf, cap, "%s/%s", it->category, it->name);
  } else {
    const char *dot = strrchr(it->name, '.');
    int stem = dot != NULL ? (int)(dot - it->name) : (int)strlen(it->name);
    n = snprintf(buf, cap, "%s/%.*s-r%llu%s", it->category, stem, it->name,
                 (unsigned long long)round, dot != NULL ? dot : "");
  }
  if (n < 0 || (size_t)n >= cap)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "key of %s too long",
                     it->path);
  return IMS_OK;
}
