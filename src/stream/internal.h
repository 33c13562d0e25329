/* SPDX-License-Identifier: Apache-2.0 */
/*
 * internal.h - private pieces of the stream engine (public: stream.h):
 *
 *   1. io.c          durable file helpers over an ims_stream_io table
 *   2. keyset.c      a hash set of object keys
 *   3. checkpoint.c  offsets/ and commits/ under the checkpoint folder
 *   4. source.c      discovering new bucket objects in arrival order
 *   5. sink.c        the ims_sink object and the file-sink formats vtable
 *                    (sink_jsonl.c, sink_csv.c; sink_console.c)
 *   6. small helpers shared by the sinks and the engine (time formats)
 *
 * Threading: everything here belongs to the engine's thread.
 */
#ifndef IMS_STREAM_INTERNAL_H
#define IMS_STREAM_INTERNAL_H

#include "imgstream/stream.h"

/* ---- 1. io.c ---- */

/* Write all of buf through io->write (retrying short writes and EINTR).
 * Returns 0, or -1 with errno set (a short write with no errno = ENOSPC). */
int ims__io_write_all(const ims_stream_io *io, int fd, const void *buf,
                      size_t n);

/* Write `dir/name` atomically and durably: "dir/.name.tmp", write, fsync,
 * close, rename, fsync(dir). On failure the message names the file and
 * the step; the temporary file may be left behind (ignored by readers). */
ims_status ims__io_write_durable(const ims_stream_io *io, const char *dir,
                                 const char *name, const void *data,
                                 size_t n, ims_error *err);

/* fsync a directory through the hooks. 0 or -1 (errno). */
int ims__io_fsync_dir(const ims_stream_io *io, const char *dir);

/* ---- 2. keyset.c ---- */

typedef struct ims__keyset ims__keyset;

ims_status ims__keyset_create(ims__keyset **out, ims_error *err);
void ims__keyset_destroy(ims__keyset *set);
/* Add a copy of key. Returns 1 if added, 0 if present, -1 out of memory.
 * O(1) on average. */
int ims__keyset_add(ims__keyset *set, const char *key);
bool ims__keyset_has(const ims__keyset *set, const char *key);
size_t ims__keyset_count(const ims__keyset *set);

/* ---- 3. checkpoint.c ---- */

/* One batch's input: its id and objects (keys and event times owned). */
typedef struct ims__batch_input {
  int64_t id;          /* batch id */
  size_t count;        /* objects */
  ims_object *objects; /* owned: keys and event times (size unused) */
} ims__batch_input;

void ims__batch_input_clear(ims__batch_input *b);

typedef struct ims__checkpoint ims__checkpoint;

/* Open (creating offsets/ and commits/ if needed) the checkpoint in dir.
 * io: BORROWED, must outlive it. */
ims_status ims__checkpoint_open(const char *dir, const ims_stream_io *io,
                                ims__checkpoint **out, ims_error *err);
void ims__checkpoint_close(ims__checkpoint *cp);

/* Read the checkpoint: every key of a committed batch goes into
 * `committed`; *pending_out gets the uncommitted last batch (count 0 if
 * none; TRANSFERRED, clear with ims__batch_input_clear); *next_id_out the
 * id of the next new batch. Reads every offsets file: O(total keys).
 * IMS_ERR_IO when a file is unreadable or the history has a hole. */
ims_status ims__checkpoint_recover(ims__checkpoint *cp,
                                   ims__keyset *committed,
                                   ims__batch_input *pending_out,
                                   int64_t *next_id_out, ims_error *err);

/* Durably write offsets/<id> (before the batch is processed). */
ims_status ims__checkpoint_write_offsets(ims__checkpoint *cp,
                                         const ims__batch_input *b,
                                         ims_error *err);

/* Durably write commits/<id> (after every sink has the batch). */
ims_status ims__checkpoint_commit(ims__checkpoint *cp, int64_t id,
                                  ims_error *err);

/* ---- 4. source.c ---- */

typedef struct ims__source ims__source;

/* bucket: BORROWED. The source keeps the set of keys it has handed out
 * or queued; keys never come out twice. */
ims_status ims__source_create(ims_bucket *bucket, ims__source **out,
                              ims_error *err);
void ims__source_destroy(ims__source *src);

/* Mark a key as taken (committed or replayed). -1 out of memory. */
int ims__source_mark(ims__source *src, const char *key);

/* The set of keys seen (for the checkpoint to fill). BORROWED. */
ims__keyset *ims__source_seen(ims__source *src);

/* Total time spent listing the bucket so far, ns. */
uint64_t ims__source_list_ns(const ims__source *src);

/* Look for new objects: if `wait_ms` > 0, first wait that long for a
 * bucket change (inotify) - the listing is then skipped when nothing woke
 * the wait and the last listing is younger than `relist_ms`. Appends new
 * objects to the queue in (event time, key) order. Cost: one bucket
 * listing, O(objects). */
ims_status ims__source_refresh(ims__source *src, int wait_ms, int relist_ms,
                               ims_error *err);

/* Objects queued and not yet taken. */
size_t ims__source_pending(const ims__source *src);

/* Milliseconds since the last listing (monotonic). */
int64_t ims__source_listing_age_ms(const ims__source *src);

/* Move up to max queued objects into b->objects (keys TRANSFERRED).
 * Returns the number taken, or -1 out of memory. */
long ims__source_take(ims__source *src, size_t max, ims__batch_input *b);

/* ---- 5. sink.c ---- */

/* A file format: rows to bytes, and a line back to its batch id. */
typedef struct ims__sink_format {
  const char *prefix; /* "jsonl:" */
  const char *header; /* first line of a new file, or NULL */
  /* Append the lines of rows[0..n) to *buf (realloc'd; *len, *cap).
   * Returns 0 or -1 out of memory. */
  int (*format)(const ims_stream_row *rows, size_t n, char **buf,
                size_t *len, size_t *cap);
  /* Batch id of one complete line (without '\n'), -1 if none (header). */
  int64_t (*line_batch)(const char *line, size_t len);
} ims__sink_format;

extern const ims__sink_format ims__sink_jsonl;
extern const ims__sink_format ims__sink_dead_letter;
extern const ims__sink_format ims__sink_csv;

/* The console table (sink_console.c): rows of one batch to *buf. */
int ims__console_format(int64_t batch, const ims_stream_row *rows, size_t n,
                        char **buf, size_t *len, size_t *cap);

/* Append bytes to a growing buffer. 0 or -1 out of memory. */
int ims__buf_append(char **buf, size_t *len, size_t *cap, const char *s,
                    size_t n);

/* ---- 6. time formats ---- */

/* "2025-01-31T12:34:56.789Z" (UTC) into out (>= 32 bytes). */
void ims__iso8601_ms(int64_t epoch_ms, char *out, size_t cap);

/* Wall-clock now in epoch ms, and a monotonic clock in ns. */
int64_t ims__now_epoch_ms(void);
uint64_t ims__now_mono_ns(void);

#endif /* IMS_STREAM_INTERNAL_H */
