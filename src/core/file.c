/* SPDX-License-Identifier: Apache-2.0 */
/*
 * file.c - read a whole file into memory (see file_int.h).
 *
 * Reads with read(2) in a loop rather than trusting st_size alone, so a
 * file that changes size underneath is handled. Non-regular files (FIFOs,
 * devices, sockets, folders) are refused before the first read.
 */
#define _POSIX_C_SOURCE 200809L
#include "core/file_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error_int.h"

static ims_status open_error(const char *path, int e, ims_error *err) {
  ims_status st = (e == ENOENT) ? IMS_ERR_NOT_FOUND : IMS_ERR_IO;
  return ims__fail(err, st, "%s: %s", path, strerror(e));
}

static const char *kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a plain file";
}

ims_status ims__file_open_regular(const char *path, int *fd_out,
                                  uint64_t *size_out, ims_error *err) {
  /* O_NONBLOCK: opening a FIFO without a writer returns at once instead
   * of waiting for one; it changes nothing for regular files. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return open_error(path, errno, err);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ims_status status = open_error(path, errno, err);
    close(fd);
    return status;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return ims__fail(err, IMS_ERR_IO, "%s: is %s, not a regular file", path,
                     kind_of(st.st_mode));
  }
  *fd_out = fd;
  *size_out = st.st_size > 0 ? (uint64_t)st.st_size : 0;
  return IMS_OK;
}

ims_status ims__file_read(const char *path, size_t max_size, void **data_out,
                          size_t *size_out, ims_error *err) {
  int fd = -1;
  uint64_t size = 0;
  ims_status status = ims__file_open_regular(path, &fd, &size, err);
  if (status != IMS_OK) return status;
  unsigned char *buf = NULL;
  size_t cap = 0, len = 0;
  if (size > max_size) {
    status = ims__fail(err, IMS_ERR_TOO_LARGE,
                       "%s: file of %llu bytes, larger than the limit of %zu "
                       "bytes",
                       path, (unsigned long long)size, max_size);
    goto fail;
  }
  cap = (size_t)size + 1;
  for (;;) {
    if (len + 1 > max_size + 1 || cap > max_size + 1) {
      status = ims__fail(err, IMS_ERR_TOO_LARGE,
                         "%s: file larger than the limit of %zu bytes", path,
                         max_size);
      goto fail;
    }
    unsigned char *grown = realloc(buf, cap);
    if (grown == NULL) {
      status = ims__fail(err, IMS_ERR_NO_MEMORY, "%s: out of memory", path);
      goto fail;
    }
    buf = grown;
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = ims__fail(err, IMS_ERR_IO, "%s: read: %s", path,
                         strerror(errno));
      goto fail;
    }
    if (n == 0) break;
    len += (size_t)n;
    if (len == cap) cap *= 2;
  }
  close(fd);
  *data_out = buf;
  *size_out = len;
  return IMS_OK;
fail:
  free(buf);
  close(fd);
  return status;
}
