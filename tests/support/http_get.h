/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/http_get.h - what the tests of --http ask a running tool:
 * one request through libcurl (no proxy, 10 s at most) and a sample's
 * value in a Prometheus exposition.
 *
 * Threading: single-threaded (curl_easy handles of their own).
 */
#ifndef IMS_TESTS_HTTP_GET_H
#define IMS_TESTS_HTTP_GET_H

#include <stddef.h>

/* One growing, NUL-terminated body (curl's write callback: hget_collect,
 * ctx a hget_body). */
typedef struct hget_body {
  char *p;
  size_t n;
} hget_body;
size_t hget_collect(char *data, size_t size, size_t n, void *ctx);

/* `method` url; returns the status (0: no answer); *out (if not NULL)
 * the body, NUL-terminated (free()). */
long hget(const char *method, const char *url, char **out);

/* The value of sample line `name` (labels included) in an exposition,
 * -1 if absent. */
double hget_sample(const char *text, const char *name);

#endif /* IMS_TESTS_HTTP_GET_H */
