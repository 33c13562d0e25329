/* SPDX-License-Identifier: Apache-2.0 */
/*
 * file.h - reading a whole file into memory, with errors that name the path.
 *
 * Threading: no shared state.
 */
#ifndef IMS_CORE_FILE_H
#define IMS_CORE_FILE_H

#include <stddef.h>

#include "imgstream/status.h"

/* Read `path` into a new malloc()ed buffer (TRANSFERRED to the caller, free
 * with free()). Files larger than max_size fail with IMS_ERR_TOO_LARGE.
 * A zero-byte file succeeds with *size_out == 0 and a non-NULL buffer. */
ims_status ims__file_read(const char *path, size_t max_size, void **data_out,
                          size_t *size_out, ims_error *err);

#endif /* IMS_CORE_FILE_H */
