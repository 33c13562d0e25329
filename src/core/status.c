/* SPDX-License-Identifier: Apache-2.0 */
/*
 * status.c - names and messages of ims_status codes, the version string,
 * and ims__fail(), the one place that fills an ims_error.
 *
 * Every table here is generated from IMS_STATUS_MAP in status.h, so codes,
 * names and messages cannot drift apart.
 *
 * Threading: pure functions over const tables; thread-safe.
 */
#include "core/error_int.h"

#include <stdarg.h>
#include <stdio.h>

#include "imgstream/imgstream.h"

const char *ims_status_name(ims_status status) {
  switch (status) {
#define IMS_XX(e, n, name, msg) \
  case IMS_##e:                 \
    return name;
    IMS_STATUS_MAP(IMS_XX)
#undef IMS_XX
  }
  return "unknown";
}

const char *ims_status_str(ims_status status) {
  switch (status) {
#define IMS_XX(e, n, name, msg) \
  case IMS_##e:                 \
    return msg;
    IMS_STATUS_MAP(IMS_XX)
#undef IMS_XX
  }
  return "unknown status";
}

const char *ims_version(void) { return IMS_VERSION_STRING; }

ims_status ims__fail(ims_error *err, ims_status status, const char *fmt,
                     ...) {
  if (err != NULL) {
    va_list ap;
    va_start(ap, fmt);
    err->status = status;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return status;
}
