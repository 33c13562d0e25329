/* SPDX-License-Identifier: Apache-2.0 */
/*
 * assets_int.h - the live page's files (web/), built into the library by
 * cmake/embed_assets.cmake so GET / works with no network access and
 * nothing installed beside the binary.
 */
#ifndef IMS_HTTP_ASSETS_INT_H
#define IMS_HTTP_ASSETS_INT_H

#include <stddef.h>

typedef struct ims__asset {
  const char *url;          /* "/index.html" */
  const char *content_type; /* "text/html; charset=utf-8" */
  const unsigned char *data;
  size_t len;
} ims__asset;

/* The file served at `url` ("/" is /index.html), or NULL. */
const ims__asset *ims__http_asset(const char *url);

#endif /* IMS_HTTP_ASSETS_INT_H */
