/* SPDX-License-Identifier: Apache-2.0 */
/*
 * io_int.h - durable file writes through an ims_stream_io hook table
 * (io.c), shared by the stream's checkpoint and sinks and the learned
 * head's file; and the growing buffer they encode into.
 *
 * Threading: no shared state.
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

/* Append bytes to a growing buffer. 0 or -1 out of memory. */
int ims__buf_append(char **buf, size_t *len, size_t *cap, const char *s,
                    size_t n);

#endif /* IMS_CORE_IO_INT_H */
