/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/fault_io.c - see fault_io.h: the hook functions behind
 * fault_io()'s table, each a plain system call unless fault_hit() says
 * this is the call to fail.
 *
 * Threading: one fault at a time (fault_new's single instance), its
 * hooks callable from several threads (a mutex around the counters).
 */
#define _GNU_SOURCE
#include "support/fault_io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;

static bool fault_hit(fault *f, char op, const char *path) {
  if (op != f->op || path == NULL || strstr(path, f->match) == NULL)
    return false;
  pthread_mutex_lock(&fault_lock);
  bool hit = f->seen++ >= f->after;
  if (hit) f->fired++;
  pthread_mutex_unlock(&fault_lock);
  if (!hit) return false;
  if (f->crash) {
    struct timespec ts = {f->crash_delay_ms / 1000,
                          (long)(f->crash_delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    raise(SIGKILL);
  }
  errno = f->error != 0 ? f->error : EIO;
  return true;
}

static const char *fault_fd_name(fault *f, int fd) {
  return fd >= 0 && fd < 256 ? f->names[fd] : NULL;
}

static int fault_open(void *ctx, const char *path, int flags, int mode) {
  fault *f = ctx;
  int fd = open(path, flags | O_CLOEXEC, (mode_t)mode);
  if (fd >= 0 && fd < 256) snprintf(f->names[fd], 256, "%s", path);
  return fd;
}

static long fault_write(void *ctx, int fd, const void *buf, size_t n) {
  if (fault_hit(ctx, 'w', fault_fd_name(ctx, fd))) return -1;
  return (long)write(fd, buf, n);
}

static int fault_fsync(void *ctx, int fd) {
  if (fault_hit(ctx, 's', fault_fd_name(ctx, fd))) return -1;
  return fsync(fd);
}

static int fault_rename(void *ctx, const char *from, const char *to) {
  if (fault_hit(ctx, 'r', to)) return -1;
  return rename(from, to);
}

static int fault_ftruncate(void *ctx, int fd, int64_t len) {
  (void)ctx;
  return ftruncate(fd, (off_t)len);
}

static int fault_close(void *ctx, int fd) {
  fault *f = ctx;
  if (fd >= 0 && fd < 256) f->names[fd][0] = '\0';
  return close(fd);
}

static int fault_unlink(void *ctx, const char *path) {
  if (fault_hit(ctx, 'u', path)) return -1;
  return unlink(path);
}

fault *fault_new(const char *match, char op, int after, int error) {
  static fault f;
  memset(&f, 0, sizeof f);
  f.match = match;
  f.op = op;
  f.after = after;
  f.error = error;
  return &f;
}

fault *fault_crash(const char *match, char op, int after, int delay_ms) {
  fault *f = fault_new(match, op, after, 0);
  f->crash = true;
  f->crash_delay_ms = delay_ms;
  return f;
}

ims_stream_io fault_io(fault *f) {
  ims_stream_io io = {f,           fault_open,  fault_write,
                      fault_fsync, fault_rename, fault_ftruncate,
                      fault_close, fault_unlink};
  return io;
}

