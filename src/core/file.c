/* SPDX-License-Identifier: Apache-2.0 */
/*
 * file.c - read a whole file into memory (see file.h).
 *
 * Reads with read(2) in a loop rather than trusting st_size alone, so files
 * that change size underneath (or pipes) are handled.
 */
#define _POSIX_C_SOURCE 200809L
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

static ims_status open_error(const char *path, int e, ims_error *err) {
  ims_status st = (e == ENOENT) ? IMS_ERR_NOT_FOUND : IMS_ERR_IO;
  return ims__fail(err, st, "%s: %s", path, strerror(e));
}

ims_status ims__file_read(const char *path, size_t max_size, void **data_out,
                          size_t *size_out, ims_error *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return open_error(path, errno, err);
  struct stat st;
  ims_status status = IMS_OK;
  unsigned char *buf = NULL;
  size_t cap = 0, len = 0;
  if (fstat(fd, &st) != 0) {
    status = open_error(path, errno, err);
    goto fail;
  }
  if (S_ISDIR(st.st_mode)) {
    status = ims__fail(err, IMS_ERR_IO, "%s: is a directory", path);
    goto fail;
  }
  cap = (st.st_size > 0 ? (size_t)st.st_size : 0) + 1;
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
