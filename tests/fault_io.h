/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fault_io.h - an ims_stream_io hook table that fails one kind of call on
 * files whose path contains a substring, after a number of successes: the
 * tests' way to make the checkpoint and the sinks meet a full disk or an
 * I/O error at an exact point. Include after test.h.
 *
 *   fault *f = fault_new("/offsets/", 'w', 3, ENOSPC);
 *   ims_stream_io io = fault_io(f);
 *
 * ops: 'w' write, 's' fsync (both matched on the path the fd was opened
 * with), 'r' rename (matched on the target), 'u' unlink.
 */
#ifndef IMS_TEST_FAULT_IO_H
#define IMS_TEST_FAULT_IO_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>

#include "imgstream/stream.h"

typedef struct fault {
  const char *match;    /* substring of the file's path */
  char op;              /* which call fails: 'w', 's', 'r', 'u' */
  int after;            /* matching calls allowed to succeed first */
  int error;            /* errno to fail with; 0 = EIO */
  int seen;             /* matching calls so far */
  int fired;            /* failures injected */
  char names[256][256]; /* path of each open fd (fd < 256) */
} fault;

static inline bool fault_hit(fault *f, char op, const char *path) {
  if (op != f->op || path == NULL || strstr(path, f->match) == NULL)
    return false;
  if (f->seen++ < f->after) return false;
  f->fired++;
  errno = f->error != 0 ? f->error : EIO;
  return true;
}

static inline const char *fault_fd_name(fault *f, int fd) {
  return fd >= 0 && fd < 256 ? f->names[fd] : NULL;
}

static inline int fault_open(void *ctx, const char *path, int flags,
                             int mode) {
  fault *f = ctx;
  int fd = open(path, flags | O_CLOEXEC, (mode_t)mode);
  if (fd >= 0 && fd < 256) snprintf(f->names[fd], 256, "%s", path);
  return fd;
}

static inline long fault_write(void *ctx, int fd, const void *buf,
                               size_t n) {
  if (fault_hit(ctx, 'w', fault_fd_name(ctx, fd))) return -1;
  return (long)write(fd, buf, n);
}

static inline int fault_fsync(void *ctx, int fd) {
  if (fault_hit(ctx, 's', fault_fd_name(ctx, fd))) return -1;
  return fsync(fd);
}

static inline int fault_rename(void *ctx, const char *from, const char *to) {
  if (fault_hit(ctx, 'r', to)) return -1;
  return rename(from, to);
}

static inline int fault_ftruncate(void *ctx, int fd, int64_t len) {
  (void)ctx;
  return ftruncate(fd, (off_t)len);
}

static inline int fault_close(void *ctx, int fd) {
  fault *f = ctx;
  if (fd >= 0 && fd < 256) f->names[fd][0] = '\0';
  return close(fd);
}

static inline int fault_unlink(void *ctx, const char *path) {
  if (fault_hit(ctx, 'u', path)) return -1;
  return unlink(path);
}

/* A fresh fault (one static instance: tests run one at a time). */
static inline fault *fault_new(const char *match, char op, int after,
                               int error) {
  static fault f;
  memset(&f, 0, sizeof f);
  f.match = match;
  f.op = op;
  f.after = after;
  f.error = error;
  return &f;
}

/* The hook table over `f` (BORROWED: must outlive the table's users). */
static inline ims_stream_io fault_io(fault *f) {
  ims_stream_io io = {f,           fault_open,  fault_write,
                      fault_fsync, fault_rename, fault_ftruncate,
                      fault_close, fault_unlink};
  return io;
}

#endif /* IMS_TEST_FAULT_IO_H */
