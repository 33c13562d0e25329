/* SPDX-License-Identifier: Apache-2.0 */
/*
 * error_int.h - internal helpers for reporting failures through ims_error.
 *
 *   return ims__fail(err, IMS_ERR_BAD_IMAGE, "truncated at byte %zu", n);
 *
 * fills *err (when not NULL) and returns the status, so a failing path is
 * one line. Threading: no shared state.
 */
#ifndef IMS_CORE_ERROR_INT_H
#define IMS_CORE_ERROR_INT_H

#include "imgstream/status.h"

#if defined(__GNUC__)
#define IMS__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define IMS__PRINTF(a, b)
#endif

/* Write a formatted message and `status` into *err (if err != NULL) and
 * return `status`. */
ims_status ims__fail(ims_error *err, ims_status status, const char *fmt, ...)
    IMS__PRINTF(3, 4);

#endif /* IMS_CORE_ERROR_INT_H */
