/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink.c - ims_sink: where the stream's rows go (see stream.h), and the
 * file mechanics every file sink shares; the formats (sink_jsonl.c,
 * sink_csv.c) only turn rows into lines and a line back into its batch id.
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
 * A NATS sink (ims_sink_open_nats) has no file: its writes publish the
 * rows to a results stream (nats_publish.c), where Nats-Msg-Id does what
 * the replay cut does for files.
 *
 * So each batch is in the file exactly once whatever moment the process
 * died at, as long as the engine replays uncommitted batches.
 *
 * Cost: finding the replay cut scans the file from the start, once per
 * replay (i.e. once per restart after a crash).
 *
 * Sections: 1. the sink object  2. file recovery  3. file writes
 *           4. public calls
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
#include "nats/nats_int.h"

/* ---- 1. the sink object ---- */

struct ims_sink {
  char *spec;                     /* owned: as given to ims_sink_open */
  const char *path;               /* into spec: the file, NULL = console */
  const ims__sink_format *format; /* file format, NULL = console/NATS */
  ims_nats *nats;                 /* BORROWED: results stream, or NULL */
  const ims_stream_io *io;        /* BORROWED hooks */
  uint32_t flags;                 /* IMS_SINK_* */
  int fd;                         /* file, or 1 for the console */
  int64_t size;                   /* bytes in the file */
  int64_t last_batch;             /* highest batch in the file, -1 none */
  char *buf;                      /* owned: formatting buffer */
  size_t len, cap;                /* used / allocated bytes of buf */
};

static const ims__sink_format *const formats[] = {
    &ims__sink_jsonl, &ims__sink_csv, &ims__sink_dead_letter};

static ims_status sink_io_fail(const ims_sink *s, const char *what,
                               int e, ims_error *err) {
  return ims__fail(err, IMS_ERR_IO, "sink %s: %s %s: %s", s->spec, what,
                   s->path != NULL ? s->path : "stdout", strerror(e));
}

/* ---- 2. file recovery ---- */

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
static int64_t batch_of_line_before(const ims_sink *s, int64_t end) {
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
static ims_status recover_file(ims_sink *s, ims_error *err) {
  struct stat st;
  if (fstat(s->fd, &st) != 0) return sink_io_fail(s, "stat", errno, err);
  int64_t good = last_newline(s->fd, st.st_size);
  if (good < 0) return sink_io_fail(s, "read", errno, err);
  if (good != st.st_size &&
      (s->io->ftruncate(s->io->ctx, s->fd, good) != 0 ||
       s->io->fsync(s->io->ctx, s->fd) != 0))
    return sink_io_fail(s, "repair", errno, err);
  s->size = good;
  s->last_batch = good > 0 ? batch_of_line_before(s, good) : -1;
  if (good == 0 && s->format->header != NULL) {
    size_t n = strlen(s->format->header);
    if (ims__io_write_all(s->io, s->fd, s->format->header, n) != 0 ||
        s->io->fsync(s->io->ctx, s->fd) != 0)
      return sink_io_fail(s, "write", errno, err);
    s->size = (int64_t)n;
  }
  return IMS_OK;
}

/* Offset of the first line whose batch is >= batch (the file size if
 * none), scanning from the start. -1 on read errors. */
static int64_t replay_cut(const ims_sink *s, int64_t batch) {
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

/* ---- 3. file writes ---- */

/* Cut the file back to `size` bytes and sync it. */
static int cut_to(ims_sink *s, int64_t size) {
  if (s->io->ftruncate(s->io->ctx, s->fd, size) != 0 ||
      s->io->fsync(s->io->ctx, s->fd) != 0 ||
      lseek(s->fd, size, SEEK_SET) < 0)
    return -1;
  s->size = size;
  return 0;
}

static ims_status file_write(ims_sink *s, int64_t batch,
                             const ims_stream_row *rows, size_t n,
                             ims_error *err) {
  if ((s->flags & IMS_SINK_TRUNCATE_REPLAY) && s->last_batch >= batch) {
    int64_t cut = replay_cut(s, batch);
    if (cut < 0 || cut_to(s, cut) != 0)
      return sink_io_fail(s, "replay cut of", errno, err);
  }
  s->len = 0;
  if (s->format->format(rows, n, &s->buf, &s->len, &s->cap) != 0)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "sink %s: out of memory",
                     s->spec);
  if (s->len == 0) return IMS_OK;
  if (ims__io_write_all(s->io, s->fd, s->buf, s->len) != 0 ||
      s->io->fsync(s->io->ctx, s->fd) != 0) {
    int e = errno;
    cut_to(s, s->size); /* best effort: drop the partial batch */
    return sink_io_fail(s, "write", e, err);
  }
  s->size += (int64_t)s->len;
  if (batch > s->last_batch) s->last_batch = batch;
  return IMS_OK;
}

static ims_status console_write(ims_sink *s, int64_t batch,
                                const ims_stream_row *rows, size_t n,
                                ims_error *err) {
  s->len = 0;
  if (ims__console_format(batch, rows, n, &s->buf, &s->len, &s->cap) != 0)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "sink console: out of memory");
  if (ims__io_write_all(s->io, s->fd, s->buf, s->len) != 0)
    return sink_io_fail(s, "write", errno, err);
  return IMS_OK;
}

/* ---- 4. public calls ---- */

/* Pick the format from spec; console leaves s->format NULL. */
static ims_status parse_spec(ims_sink *s, ims_error *err) {
  if (strcmp(s->spec, "console") == 0) return IMS_OK;
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
    size_t n = strlen(formats[i]->prefix);
    if (strncmp(s->spec, formats[i]->prefix, n) == 0 && s->spec[n] != '\0') {
      s->format = formats[i];
      s->path = s->spec + n;
      return IMS_OK;
    }
  }
  return ims__fail(err, IMS_ERR_INVALID_ARG,
                   "sink '%s': want console, jsonl:FILE, csv:FILE or "
                   "dead-letter:FILE", s->spec);
}

ims_status ims_sink_open(const char *spec, uint32_t flags,
                         const ims_stream_io *io, ims_sink **out,
                         ims_error *err) {
  ims_sink *s = calloc(1, sizeof *s);
  if (s != NULL) s->spec = strdup(spec);
  if (s == NULL || s->spec == NULL) {
    free(s);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  s->io = io != NULL ? io : ims_stream_io_posix();
  s->flags = flags;
  s->fd = 1;
  s->last_batch = -1;
  ims_status st = parse_spec(s, err);
  if (st != IMS_OK || s->format == NULL) goto done;
  s->fd = s->io->open(s->io->ctx, s->path, O_RDWR | O_CREAT, 0644);
  if (s->fd < 0) {
    st = sink_io_fail(s, "open", errno, err);
    goto done;
  }
  st = recover_file(s, err);
  if (st == IMS_OK && lseek(s->fd, s->size, SEEK_SET) < 0)
    st = sink_io_fail(s, "seek", errno, err);
done:
  if (st != IMS_OK) {
    ims_sink_close(s);
    return st;
  }
  *out = s;
  return IMS_OK;
}

ims_status ims_sink_open_nats(ims_nats *results, ims_sink **out,
                              ims_error *err) {
  ims_sink *s = calloc(1, sizeof *s);
  if (s != NULL) s->spec = strdup(ims__nats_url(results));
  if (s == NULL || s->spec == NULL) {
    free(s);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  s->nats = results;
  s->fd = -1;
  s->last_batch = -1;
  *out = s;
  return IMS_OK;
}

void ims_sink_close(ims_sink *s) {
  if (s == NULL) return;
  if (s->format != NULL && s->fd >= 0) s->io->close(s->io->ctx, s->fd);
  free(s->buf);
  free(s->spec);
  free(s);
}

const char *ims_sink_name(const ims_sink *s) { return s->spec; }

ims_status ims_sink_write(ims_sink *s, int64_t batch,
                          const ims_stream_row *rows, size_t n,
                          ims_error *err) {
  if (s->nats != NULL)
    return ims__nats_publish_rows(s->nats, rows, n, &s->buf, &s->len,
                                  &s->cap, err);
  if (s->format == NULL) return console_write(s, batch, rows, n, err);
  return file_write(s, batch, rows, n, err);
}
