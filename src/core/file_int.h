/* SPDX-License-Identifier: Apache-2.0 */
/*
 * file_int.h - reading a whole file into memory, with errors naming the path.
 *
 * Only regular files are read: a FIFO would block open() or read() until
 * some writer came (a FIFO named x.jpg in a bucket folder hung a stream
 * worker), and a device such as /dev/zero never ends. Files are opened
 * with O_NONBLOCK, so even the open of a FIFO returns at once, and
 * anything but a regular file is refused (IMS_ERR_IO, "is a FIFO, not a
 * regular file").
 *
 * Threading: no shared state.
 */
#ifndef IMS_CORE_FILE_INT_H
#define IMS_CORE_FILE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "imgstream/status.h"

/* Open `path` read-only (O_NONBLOCK, O_CLOEXEC; symbolic links followed)
 * and check it is a regular file. On IMS_OK *fd_out is the descriptor
 * (TRANSFERRED: close it) and *size_out its size at open. Errors:
 * IMS_ERR_NOT_FOUND, IMS_ERR_IO (messages start with the path). */
ims_status ims__file_open_regular(const char *path, int *fd_out,
                                  uint64_t *size_out, ims_error *err);

/* Read `path` (a regular file: ims__file_open_regular) into a new
 * malloc()ed buffer (TRANSFERRED to the caller, free with free()). Files larger
 * than max_size fail with IMS_ERR_TOO_LARGE. A zero-byte file succeeds with
 * *size_out == 0 and a non-NULL buffer. The buffer always has *size_out + 1
 * bytes, so a caller may write a NUL terminator at data[*size_out]. */
ims_status ims__file_read(const char *path, size_t max_size, void **data_out,
                          size_t *size_out, ims_error *err);

#endif /* IMS_CORE_FILE_INT_H */
