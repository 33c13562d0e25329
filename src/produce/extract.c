/* SPDX-License-Identifier: Apache-2.0 */
/*
 * extract.c - unpack a dataset archive with libarchive into a folder,
 * refusing every entry that could write outside it.
 *
 * We write entries ourselves instead of using archive_write_disk, so the
 * whole policy sits in one place (check_entry) and nothing depends on the
 * process's working folder. The policy (public: ims_dataset_download):
 *   - paths: relative, no ".." component ("./" and "//" are tidied away);
 *   - symbolic links: relative targets without "..", so a link only ever
 *     points down into the tree and a path through links stays inside
 *     (a lexical check of "up" links cannot be sound: "a/up -> .." then
 *     "t -> a/up/../.." escapes through the real parent);
 *   - hard links: to a path that passes the path rule;
 *   - devices, FIFOs, sockets: refused;
 *   - regular files: O_CREAT | O_EXCL | O_NOFOLLOW, mode 0644; a later
 *     entry with the same name replaces the earlier one (tar semantics).
 * Any refused entry fails the whole extraction; the caller throws the
 * folder away.
 *
 * Sections: 1. path checks  2. writing entries  3. ims__archive_extract
 *
 * Threading: no shared state.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error_int.h"
#include "produce/produce_int.h"

#define PATH_CAP 4096

/* ---- 1. path checks ---- */

/* Tidy an archive path into `out` ("./a//b/" -> "a/b"). Returns NULL if
 * it is safe (out may be "" for the top folder itself), else why not. */
static const char *tidy_path(const char *in, char *out, size_t cap) {
  if (in == NULL || in[0] == '\0') return "has no name";
  if (in[0] == '/') return "has an absolute path";
  size_t o = 0;
  const char *p = in;
  while (*p != '\0') {
    const char *slash = strchr(p, '/');
    size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
    if (len == 2 && p[0] == '.' && p[1] == '.') return "has a '..' component";
    if (len > 0 && !(len == 1 && p[0] == '.')) {
      if (o + len + 2 > cap) return "has a path that is too long";
      if (o > 0) out[o++] = '/';
      memcpy(out + o, p, len);
      o += len;
    }
    p += len;
    if (*p == '/') p++;
  }
  out[o] = '\0';
  return NULL;
}

/* A symbolic link target is safe when it is relative and never goes up. */
static const char *link_target_check(const char *target) {
  char tidy[PATH_CAP];
  if (target == NULL || target[0] == '\0') return "has no target";
  const char *why = tidy_path(target, tidy, sizeof tidy);
  if (why != NULL) return why;
  return NULL;
}

/* Decide what to do with one entry: NULL = allowed (rel filled),
 * else the reason it is refused. */
static const char *check_entry(struct archive_entry *e, char *rel,
                               char *hard, size_t cap) {
  const char *why = tidy_path(archive_entry_pathname(e), rel, cap);
  if (why != NULL) return why;
  hard[0] = '\0';
  const char *hl = archive_entry_hardlink(e);
  if (hl != NULL) {
    why = tidy_path(hl, hard, cap);
    if (why == NULL && hard[0] == '\0') why = "a hard link to the top";
    return why != NULL ? "is a hard link leaving the folder" : NULL;
  }
  switch (archive_entry_filetype(e)) {
    case AE_IFREG:
    case AE_IFDIR:
      return NULL;
    case AE_IFLNK:
      why = link_target_check(archive_entry_symlink(e));
      return why != NULL ? "is a symbolic link leaving the folder" : NULL;
    default:
      return "is a device, FIFO or socket";
  }
}

/* ---- 2. writing entries ---- */

/* Open `full` for writing as a new file, replacing a non-folder that an
 * earlier entry left there. Returns the fd or -1. */
static int create_file(const char *full) {
  int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int fd = open(full, flags, 0644);
  struct stat st;
  if (fd < 0 && errno == EEXIST && lstat(full, &st) == 0 &&
      !S_ISDIR(st.st_mode) && unlink(full) == 0)
    fd = open(full, flags, 0644);
  return fd;
}

/* Copy the entry's data into `full`. */
static ims_status write_data(struct archive *a, const char *full,
                             uint64_t *total, uint64_t max_bytes,
                             const volatile int *stop, ims_error *err) {
  int fd = create_file(full);
  if (fd < 0)
    return ims__fail(err, IMS_ERR_IO, "create %s: %s", full, strerror(errno));
  ims_status st = IMS_OK;
  for (;;) {
    const void *buf = NULL;
    size_t size = 0;
    la_int64_t offset = 0;
    int r = archive_read_data_block(a, &buf, &size, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN || offset < 0) {
      st = ims__fail(err, IMS_ERR_IO, "archive data of %s: %s", full,
                     archive_error_string(a));
      break;
    }
    *total += size;
    if (*total > max_bytes) {
      st = ims__fail(err, IMS_ERR_TOO_LARGE,
                     "archive unpacks to more than %llu bytes",
                     (unsigned long long)max_bytes);
      break;
    }
    if (stop != NULL && *stop) {
      st = ims__fail(err, IMS_ERR_IO, "extraction interrupted");
      break;
    }
    ssize_t w = size > 0 ? pwrite(fd, buf, size, (off_t)offset) : 0;
    if (w < 0 || (size_t)w != size) {
      st = ims__fail(err, IMS_ERR_IO, "write %s: %s", full,
                     w < 0 ? strerror(errno) : "short write");
      break;
    }
  }
  if (close(fd) != 0 && st == IMS_OK)
    st = ims__fail(err, IMS_ERR_IO, "close %s: %s", full, strerror(errno));
  return st;
}

/* Make one checked entry (rel, hard from check_entry) under dest. */
static ims_status write_entry(struct archive *a, struct archive_entry *e,
                              const char *dest, const char *rel,
                              const char *hard, uint64_t *total,
                              uint64_t max_bytes, const volatile int *stop,
                              ims_error *err) {
  char full[PATH_CAP * 2], target[PATH_CAP * 2];
  snprintf(full, sizeof full, "%s/%s", dest, rel);
  if (rel[0] == '\0') return IMS_OK; /* the top folder itself */
  if (ims__mkdirs_parent(full) != 0)
    return ims__fail(err, IMS_ERR_IO, "mkdir for %s: %s", full,
                     strerror(errno));
  if (hard[0] != '\0') {
    snprintf(target, sizeof target, "%s/%s", dest, hard);
    if (linkat(AT_FDCWD, target, AT_FDCWD, full, 0) == 0) return IMS_OK;
    return ims__fail(err, IMS_ERR_IO, "hard link %s: %s", full,
                     strerror(errno));
  }
  mode_t type = archive_entry_filetype(e);
  if (type == AE_IFDIR) {
    if (ims__mkdirs(full) == 0) return IMS_OK;
    return ims__fail(err, IMS_ERR_IO, "mkdir %s: %s", full, strerror(errno));
  }
  if (type == AE_IFLNK) {
    if (symlink(archive_entry_symlink(e), full) == 0) return IMS_OK;
    return ims__fail(err, IMS_ERR_IO, "symlink %s: %s", full,
                     strerror(errno));
  }
  return write_data(a, full, total, max_bytes, stop, err);
}

/* ---- 3. ims__archive_extract ---- */

ims_status ims__archive_extract(const char *archive, const char *dest,
                                uint64_t max_bytes, const volatile int *stop,
                                ims_error *err) {
  ims_status st = IMS_OK;
  uint64_t total = 0;
  struct archive *a = archive_read_new();
  if (a == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  archive_read_support_filter_all(a);
  archive_read_support_format_all(a);
  if (archive_read_open_filename(a, archive, 65536) != ARCHIVE_OK) {
    st = ims__fail(err, IMS_ERR_IO, "not a readable archive: %s",
                   archive_error_string(a));
    goto fail;
  }
  for (;;) {
    struct archive_entry *e = NULL;
    char rel[PATH_CAP], hard[PATH_CAP];
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      st = ims__fail(err, IMS_ERR_IO, "damaged archive: %s",
                     archive_error_string(a));
      goto fail;
    }
    const char *why = check_entry(e, rel, hard, sizeof rel);
    if (why != NULL) {
      const char *name = archive_entry_pathname(e);
      const char *target = archive_entry_symlink(e);
      if (target == NULL) target = archive_entry_hardlink(e);
      st = ims__fail(err, IMS_ERR_INVALID_ARG,
                     "refusing archive: entry '%s' %s%s%s%s",
                     name ? name : "", why, target ? " (-> '" : "",
                     target ? target : "", target ? "')" : "");
      goto fail;
    }
    st = write_entry(a, e, dest, rel, hard, &total, max_bytes, stop, err);
    if (st != IMS_OK) goto fail;
  }
fail:
  archive_read_free(a);
  return st;
}
