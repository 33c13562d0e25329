/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink.c - ims_sink: where the stream's rows go (see stream.h). An
 * ims_sink is a name and an implementation behind ims__sink_ops
 * (stream_int.h): the console and file sinks here, the NATS results sink
 * in sink_nats.c. This file also holds the file mechanics every file
 * sink shares; the formats (sink_jsonl.c, sink_csv.c) only turn rows into
 * lines and a line back into its batch id.
 *
 * A file sink's file is a sequence of complete lines, each holding one row
 * of one batch, batches in increasing order. That makes recovery simple:
 *   - open: a last line without '\n' is a torn write of a killed process;
 *     it is cut off. The last complete line gives the last batch held.
 *   - write(batch N) with IMS_SINK_TRUNCATE_REPLAY, when the file already
 *     holds batch >= N (N is being replayed after a crash): the file is
 *     cut back to just before the first such line, then N is written.
 *   - every write ends with fsync; a failed write is cut back off
 *     (best effort) and reported.
 * (A NATS sink has no file: there Nats-Msg-Id does what the replay cut
 * does for files; sink_nats.c.)
 *
 * So each batch is in the file exactly once whatever moment the process
 * died at, as long as the engine replays uncommitted batches.
 *
 * Cost: finding the replay cut scans the file from the start, once per
 * replay (i.e. once per restart after a crash).
 *
 * Sections: 1. the sink object  2. console and file sinks: state, file
 *           recovery  3. file and console writes  4. opening a console or
 *           file sink
 *
 * Threading: one thread at a time per sink.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error_int.h"
#include "stream/stream_int.h"

/* ---- 1. the sink object ---- */

struct ims_sink {
  const ims__sink_ops *ops; /* console, file or NATS */
  char *name;               /* owned: the spec (ims_sink_name) */
  void *state;              /* owned: ops->close frees it */
};

ims_status ims__sink_new(const char *name, const ims__sink_ops *ops,
                         void *state, ims_sink **out, ims_error *err) {
  ims_sink *s = calloc(1, sizeof *s);
  if (s != NULL) s->name = strdup(name);
  if (s == NULL || s->name == NULL) {
    free(s);
    ops->close(state);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  s->ops = ops;
  s->state = state;
  *out = s;
  return IMS_OK;
}

void ims_sink_close(ims_sink *s) {
  if (s == NULL) return;
  s->ops->close(s->state);
  free(s->name);
  free(s);
}

const char *ims_sink_name(const ims_sink *s) { return s->name; }

ims_status ims_sink_write(ims_sink *s, int64_t batch,
                          const ims_stream_row *rows, size_t n,
                          ims_error *err) {
  return s->ops->write(s->state, s->name, batch, rows, n, err);
}

/* ---- 2. console and file sinks: state, file recovery ---- */

/* The state of a console or file sink. */
typedef struct file_sink {
  const ims__sink_format *format; /* file format, NULL = console */
  char *path;                     /* owned: the file, NULL = console */
  const ims_stream_io *io;        /* BORROWED hooks */
  uint32_t flags;                 /* IMS_SINK_* */
  int fd;                         /* file (-1 until open), or 1 */
  int64_t size;                   /* bytes in the file */
  int64_t last_batch;             /* highest batch in the file, -1 none */
  char *buf;                      /* owned: formatting buffer */
  size_t len, cap;                /* used / allocated bytes of buf */
} file_sink;

static const ims__sink_format *const formats[] = {
    &ims__sink_jsonl, &ims__sink_csv, &ims__sink_dead_letter};

static ims_status sink_io_fail(const file_sink *s, const char *name,
                               const char *what, int e, ims_error *err) {
  return ims__fail(err, IMS_ERR_IO, "sink %s: %s %s: %s", name, what,
                   s->path != NULL ? s->path : "stdout", strerror(e));
}

/* Offset just after the last '\n' before `end` (so, for end = the file
 * size, the length of its complete lines); 0 if none, -1 on read errors. */
static int64_t last_newline(int fd, int64_t end) {
  char chunk[4096];
  while (end > 0) {
    int64_t start = end > (int64_t)sizeof chunk ? end - (int64_t)sizeof chunk
                                                : 0;
    ssize_t n = pread(fd, chunk, (size_t)(end - start), start);
    if (n <= 0) return -1;
    for (ssize_t i = n - 1; i >= 0; i--) {
      if (chunk[i] == '\n') return start + i + 1;
    }
    end = start;
  }
  return 0;
}

/* Batch id of the line that ends just before offset `end` ('\n' at end-1). */
static int64_t batch_of_line_before(const file_sink *s, int64_t end) {
  int64_t start = last_newline(s->fd, end - 1);
  char line[4096];
  size_t want = (size_t)(end - 1 - start);
  if (start < 0) return -1;
  if (want > sizeof line - 1) want = sizeof line - 1;
  ssize_t n = pread(s->fd, line, want, start);
  if (n < 0) return -1;
  line[n] = '\0';
  return s->format->line_batch(line, (size_t)n);
}

/* Cut a torn last line, learn the last batch, write a new file's header. */
static ims_status recover_file(file_sink *s, const char *name,
                               ims_error *err) {
  struct stat st;
  if (fstat(s->fd, &st) != 0) return sink_io_fail(s, name, "stat", errno, err);
  int64_t good = last_newline(s->fd, st.st_size);
  if (good < 0) return sink_io_fail(s, name, "read", errno, err);
  if (good != st.st_size &&
      (s->io->ftruncate(s->io->ctx, s->fd, good) != 0 ||
       s->io->fsync(s->io->ctx, s->fd) != 0))
    return sink_io_fail(s, name, "repair", errno, err);
  s->size = good;
  s->last_batch = good > 0 ? batch_of_line_before(s, good) : -1;
  const char *header = (s->flags & IMS_SINK_LEARNED)
                           ? s->format->header_learned
                           : s->format->header;
  if (good == 0 && header != NULL) {
    size_t n = strlen(header);
    if (ims__io_write_all(s->io, s->fd, header, n) != 0 ||
        s->io->fsync(s->io->ctx, s->fd) != 0)
      return sink_io_fail(s, name, "write", errno, err);
    s->size = (int64_t)n;
  }
  return IMS_OK;
}

/* Offset of the first line whose batch is >= batch (the file size if
 * none), scanning from the start. -1 on read errors. */
static int64_t replay_cut(const file_sink *s, int64_t batch) {
  FILE *f = fdopen(dup(s->fd), "rb"); /* shares the offset: cut_to resets */
  if (f == NULL || fseek(f, 0, SEEK_SET) != 0) {
    if (f != NULL) fclose(f);
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  int64_t off = 0, cut = s->size;
  for (;;) {
    ssize_t n = getline(&line, &cap, f);
    if (n <= 0 || off + n > s->size) break;
    if (line[n - 1] == '\n') line[--n] = '\0';
    int64_t b = s->format->line_batch(line, (size_t)n);
    if (b >= batch) {
      cut = off;
      break;
    }
    off += n + 1;
  }
  free(line);
  fclose(f);
  return cut;
}

/* ---- 3. file and console writes ---- */

/* Cut the file back to `size` bytes and sync it. */
static int cut_to(file_sink *s, int64_t size) {
  if (s->io->ftruncate(s->io->ctx, s->fd, size) != 0 ||
      s->io->fsync(s->io->ctx, s->fd) != 0 ||
      lseek(s->fd, size, SEEK_SET) < 0)
    return -1;
  s->size = size;
  return 0;
}

static ims_status file_write(void *state, const char *name, int64_t batch,
                             const ims_stream_row *rows, size_t n,
                             ims_error *err) {
  file_sink *s = state;
  if ((s->flags & IMS_SINK_TRUNCATE_REPLAY) && s->last_batch >= batch) {
    int64_t cut = replay_cut(s, batch);
    if (cut < 0 || cut_to(s, cut) != 0)
      return sink_io_fail(s, name, "replay cut of", errno, err);
  }
  s->len = 0;
  if (s->format->format(rows, n, s->flags, &s->buf, &s->len, &s->cap) != 0)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "sink %s: out of memory",
                     name);
  if (s->len == 0) return IMS_OK;
  if (ims__io_write_all(s->io, s->fd, s->buf, s->len) != 0 ||
      s->io->fsync(s->io->ctx, s->fd) != 0) {
    int e = errno;
    cut_to(s, s->size); /* best effort: drop the partial batch */
    return sink_io_fail(s, name, "write", e, err);
  }
  s->size += (int64_t)s->len;
  if (batch > s->last_batch) s->last_batch = batch;
  return IMS_OK;
}

static ims_status console_write(void *state, const char *name,
                                int64_t batch, const ims_stream_row *rows,
                                size_t n, ims_error *err) {
  file_sink *s = state;
  s->len = 0;
  if (ims__console_format(batch, rows, n, s->flags, &s->buf, &s->len,
                          &s->cap) != 0)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "sink console: out of memory");
  if (ims__io_write_all(s->io, s->fd, s->buf, s->len) != 0)
    return sink_io_fail(s, name, "write", errno, err);
  return IMS_OK;
}

static void file_close(void *state) {
  file_sink *s = state;
  if (s == NULL) return;
  if (s->format != NULL && s->fd >= 0) s->io->close(s->io->ctx, s->fd);
  free(s->buf);
  free(s->path);
  free(s);
}

static const ims__sink_ops console_ops = {
    .kind = "console", .write = console_write, .close = file_close};
static const ims__sink_ops file_ops = {
    .kind = "file", .write = file_write, .close = file_close};

/* ---- 4. opening a console or file sink ---- */

/* Pick the format and path from spec; console leaves s->format NULL. */
static ims_status parse_spec(file_sink *s, const char *spec,
                             ims_error *err) {
  if (strcmp(spec, "console") == 0) return IMS_OK;
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
    size_t n = strlen(formats[i]->prefix);
    if (strncmp(spec, formats[i]->prefix, n) != 0 || spec[n] == '\0')
      continue;
    s->format = formats[i];
    s->path = strdup(spec + n);
    if (s->path == NULL)
      return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
    return IMS_OK;
  }
  return ims__fail(err, IMS_ERR_INVALID_ARG,
                   "sink '%s': want console, jsonl:FILE, csv:FILE or "
                   "dead-letter:FILE", spec);
}

/* Open, repair and position the file of a file sink. */
static ims_status open_file(file_sink *s, const char *name,
                            ims_error *err) {
  s->fd = s->io->open(s->io->ctx, s->path, O_RDWR | O_CREAT, 0644);
  if (s->fd < 0) return sink_io_fail(s, name, "open", errno, err);
  ims_status st = recover_file(s, name, err);
  if (st == IMS_OK && lseek(s->fd, s->size, SEEK_SET) < 0)
    st = sink_io_fail(s, name, "seek", errno, err);
  return st;
}

ims_status ims_sink_open(const char *spec, uint32_t flags,
                         const ims_stream_io *io, ims_sink **out,
                         ims_error *err) {
  file_sink *f = calloc(1, sizeof *f);
  if (f == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  f->io = io != NULL ? io : ims_stream_io_posix();
  f->flags = flags;
  f->fd = -1;
  f->last_batch = -1;
  ims_sink *s = NULL;
  ims_status st = parse_spec(f, spec, err);
  if (st != IMS_OK) {
    file_close(f);
    return st;
  }
  if (f->format == NULL) f->fd = 1; /* the console: stdout */
  st = ims__sink_new(spec, f->format != NULL ? &file_ops : &console_ops, f,
                     &s, err);
  if (st == IMS_OK && f->format != NULL) st = open_file(f, s->name, err);
  if (st != IMS_OK) {
    ims_sink_close(s);
    return st;
  }
  *out = s;
  return IMS_OK;
}
