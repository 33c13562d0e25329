/* SPDX-License-Identifier: Apache-2.0 */
/*
 * io.c - the file-system hook table (ims_stream_io) and the durable-write
 * helpers built on it, plus the growing buffer the sinks share.
 *
 * Every write the checkpoint and the file sinks make goes through an
 * ims_stream_io, as SQLite routes its system calls through aSyscall[]:
 * tests pass a table whose write or fsync fails (ENOSPC, EIO) at a chosen
 * moment and check that nothing committed is lost.
 *
 * Durable write (ims__io_write_durable): "dir/.name.tmp" is written,
 * fsync()ed and renamed over "dir/name", then the folder is fsync()ed, so
 * a reader sees the old file or the whole new one, never a torn one.
 *
 * Sections: 1. POSIX hooks  2. durable writes  3. buffers
 *
 * Threading: no shared state (the POSIX table is const).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error_int.h"
#include "core/io_int.h"

/* ---- 1. POSIX hooks ---- */

static int posix_open(void *ctx, const char *path, int flags, int mode) {
  return open(path, flags | O_CLOEXEC, (mode_t)mode);
}

static long posix_write(void *ctx, int fd, const void *buf, size_t n) {
  return (long)write(fd, buf, n);
}

static int posix_fsync(void *ctx, int fd) { return fsync(fd); }

static int posix_rename(void *ctx, const char *from, const char *to) {
  return rename(from, to);
}

static int posix_ftruncate(void *ctx, int fd, int64_t length) {
  return ftruncate(fd, (off_t)length);
}

static int posix_close(void *ctx, int fd) { return close(fd); }

static int posix_unlink(void *ctx, const char *path) { return unlink(path); }

static const ims_stream_io posix_io = {
    NULL,         posix_open,      posix_write, posix_fsync,
    posix_rename, posix_ftruncate, posix_close, posix_unlink};

const ims_stream_io *ims_stream_io_posix(void) { return &posix_io; }

/* ---- 2. durable writes ---- */

int ims__io_write_all(const ims_stream_io *io, int fd, const void *buf,
                      size_t n) {
  const char *p = buf;
  while (n > 0) {
    errno = 0;
    long w = io->write(io->ctx, fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (errno == 0) errno = ENOSPC;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int ims__io_unlink(const ims_stream_io *io, const char *path) {
  int rc = io->unlink != NULL ? io->unlink(io->ctx, path) : unlink(path);
  if (rc != 0 && errno == ENOENT) return 0;
  return rc;
}

int ims__io_fsync_dir(const ims_stream_io *io, const char *dir) {
  int fd = io->open(io->ctx, dir, O_RDONLY | O_DIRECTORY, 0);
  if (fd < 0) return -1;
  int rc = io->fsync(io->ctx, fd);
  int e = errno;
  io->close(io->ctx, fd);
  errno = e;
  return rc;
}

ims_status ims__io_write_durable(const ims_stream_io *io, const char *dir,
                                 const char *name, const void *data,
                                 size_t n, ims_error *err) {
  char tmp[4096], final[4096];
  const char *step = "create";
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
  snprintf(final, sizeof final, "%s/%s", dir, name);
  int fd = io->open(io->ctx, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) goto fail;
  step = "write";
  if (ims__io_write_all(io, fd, data, n) != 0) goto fail_close;
  step = "fsync";
  if (io->fsync(io->ctx, fd) != 0) goto fail_close;
  step = "close";
  if (io->close(io->ctx, fd) != 0) goto fail;
  step = "rename";
  if (io->rename(io->ctx, tmp, final) != 0) goto fail;
  step = "fsync folder of";
  if (ims__io_fsync_dir(io, dir) != 0) goto fail;
  return IMS_OK;
fail_close: {
  int e = errno;
  io->close(io->ctx, fd);
  errno = e;
}
fail:
  return ims__fail(err, IMS_ERR_IO, "%s %s: %s", step, final,
                   strerror(errno));
}

/* ---- 3. buffers and time ---- */

int ims__buf_append(char **buf, size_t *len, size_t *cap, const char *s,
                    size_t n) {
  if (*len + n + 1 > *cap) {
    size_t c = *cap ? *cap : 4096;
    while (c < *len + n + 1) c *= 2;
    char *grown = realloc(*buf, c);
    if (grown == NULL) return -1;
    *buf = grown;
    *cap = c;
  }
  memcpy(*buf + *len, s, n);
  *len += n;
  (*buf)[*len] = '\0';
  return 0;
}
