/* SPDX-License-Identifier: Apache-2.0 */
/*
 * io_int.h - durable file writes through an ims_stream_io hook table
 * (io.c), shared by the stream's checkpoint and sinks and the learned
 * head's file; the same writes queued to a helper thread, in order
 * (io_queue.c); and the growing buffer they encode into.
 *
 * Threading: io.c has no shared state; an ims__ioq is used from one
 * thread and runs its writes on its own.
 */
#ifndef IMS_CORE_IO_INT_H
#define IMS_CORE_IO_INT_H

#include "imgstream/stream.h"

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

/* Remove a file through io->unlink (POSIX unlink when the hook is NULL).
 * A file that is already gone is success (deletions are idempotent).
 * 0 or -1 (errno). */
int ims__io_unlink(const ims_stream_io *io, const char *path);

/* fsync a directory through the hooks. 0 or -1 (errno). */
int ims__io_fsync_dir(const ims_stream_io *io, const char *dir);

/* ---- io_queue.c: durable writes in order on a helper thread ---- */

typedef struct ims__ioq ims__ioq;

/* Start the helper thread. io: BORROWED, must outlive the queue; its
 * hooks are called from the helper thread. Submit from one thread; wait
 * and check from any. */
ims_status ims__ioq_create(const ims_stream_io *io, ims__ioq **out,
                           ims_error *err);

/* Run what is still queued (unless a write failed), then stop the
 * thread. NULL does nothing. */
void ims__ioq_destroy(ims__ioq *q);

/* Queue a durable write of `dir/name` (both COPIED) with `data`
 * (TRANSFERRED, malloc()ed; freed also when this fails). Jobs run one
 * after the other in submission order, each durable before the next
 * starts. *ticket_out: the job's ticket for ims__ioq_wait. Fails with the
 * first failed write's status and message once one has failed (nothing
 * is queued after a failure), or IMS_ERR_NO_MEMORY. */
ims_status ims__ioq_submit(ims__ioq *q, const char *dir, const char *name,
                           char *data, size_t len, uint64_t *ticket_out,
                           ims_error *err);

/* A job run by the helper thread: IMS_OK, or a status and a message in
 * *err naming what failed. */
typedef ims_status (*ims__ioq_fn)(void *ctx, ims_error *err);

/* Queue fn(ctx) behind the jobs queued so far. ctx: TRANSFERRED, freed
 * with free_ctx (NULL: not freed) once fn has run or been skipped (after
 * a failure), or when this fails. Errors as ims__ioq_submit. */
ims_status ims__ioq_submit_fn(ims__ioq *q, ims__ioq_fn fn, void *ctx,
                              void (*free_ctx)(void *ctx),
                              uint64_t *ticket_out, ims_error *err);

/* Block until job `ticket` and every job before it are durable: IMS_OK;
 * or one of them failed: its status and message (as
 * ims__io_write_durable's: the step and the file). Ticket 0: IMS_OK. */
ims_status ims__ioq_wait(ims__ioq *q, uint64_t ticket, ims_error *err);

/* Without blocking: the first failure so far, or IMS_OK. */
ims_status ims__ioq_check(ims__ioq *q, ims_error *err);

/* ims__ioq_wait for the last job submitted so far. */
ims_status ims__ioq_wait_all(ims__ioq *q, ims_error *err);

/* Append bytes to a growing buffer. 0 or -1 out of memory. */
int ims__buf_append(char **buf, size_t *len, size_t *cap, const char *s,
                    size_t n);

#endif /* IMS_CORE_IO_INT_H */
