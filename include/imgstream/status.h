/* SPDX-License-Identifier: Apache-2.0 */
/*
 * status.h - status codes, the error record and export macro shared by every
 * public header of libimgstream.
 *
 * Status codes come from one X-macro, IMS_STATUS_MAP, which generates the
 * enum, ims_status_name() and ims_status_str(). Codes are only ever appended,
 * never renumbered (they are part of the ABI and of the CLI's exit codes).
 *
 * Errors: every fallible call returns ims_status and takes an optional
 * `ims_error *err` as its last parameter (NULL = caller does not want the
 * detail). On failure the call writes a human-readable message there
 * ("truncated JPEG data at byte 1234"); on success *err is left untouched.
 * There is no global "last error".
 *
 * Threading: everything here is thread-safe (pure functions, const tables).
 */
#ifndef IMGSTREAM_STATUS_H
#define IMGSTREAM_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#if defined(_WIN32)
#define IMS_API __declspec(dllexport)
#elif defined(__GNUC__)
#define IMS_API __attribute__((visibility("default")))
#else
#define IMS_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* XX(enum suffix, numeric value, short name, message). Append only. */
#define IMS_STATUS_MAP(XX)                                                   \
  XX(OK, 0, "ok", "success")                                                 \
  XX(ERR_INVALID_ARG, 1, "invalid-arg", "invalid argument")                  \
  XX(ERR_NO_MEMORY, 2, "no-memory", "out of memory")                         \
  XX(ERR_IO, 3, "io", "input/output error")                                  \
  XX(ERR_NOT_FOUND, 4, "not-found", "file not found")                        \
  XX(ERR_BAD_IMAGE, 5, "bad-image", "corrupt or unsupported image")          \
  XX(ERR_TOO_LARGE, 6, "too-large", "input exceeds a configured limit")      \
  XX(ERR_BAD_MODEL, 7, "bad-model", "malformed model file")                  \
  XX(ERR_UNSUPPORTED, 8, "unsupported", "unsupported model feature")         \
  XX(ERR_BAD_LABELS, 9, "bad-labels", "malformed or mismatched label file")  \
  XX(ERR_BACKEND, 10, "backend", "inference backend failure")                \
  XX(ERR_INVALID_STATE, 11, "invalid-state", "call made in the wrong state") \
  XX(ERR_BAD_HEAD, 12, "bad-head", "malformed or mismatched learned head")

typedef enum ims_status {
#define IMS_XX(e, n, name, msg) IMS_##e = n,
  IMS_STATUS_MAP(IMS_XX)
#undef IMS_XX
} ims_status;

/* Detail of a failed call. Fixed size so callers can keep it on the stack. */
typedef struct ims_error {
  ims_status status; /* output: the code the call returned */
  char message[512]; /* output: NUL-terminated, human-readable detail */
} ims_error;

/// Short stable name of a status ("bad-image"). Static string, never NULL.
IMS_API const char *ims_status_name(ims_status status);

/// One-line description of a status. Static string, never NULL.
IMS_API const char *ims_status_str(ims_status status);

#ifdef __cplusplus
}
#endif

#endif /* IMGSTREAM_STATUS_H */
