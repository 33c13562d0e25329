/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/http_get.c - requests and exposition samples for the --http
 * tests (http_get.h).
 */
#include "support/http_get.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

size_t hget_collect(char *data, size_t size, size_t n, void *ctx) {
  hget_body *b = ctx;
  char *grown = realloc(b->p, b->n + size * n + 1);
  if (grown == NULL) return 0;
  memcpy(grown + b->n, data, size * n);
  b->p = grown;
  b->n += size * n;
  b->p[b->n] = '\0';
  return size * n;
}

long hget(const char *method, const char *url, char **out) {
  CURL *c = curl_easy_init();
  ASSERT(c != NULL);
  hget_body b = {calloc(1, 1), 0};
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, hget_collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  long code = 0;
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  if (out != NULL) *out = b.p;
  else free(b.p);
  return code;
}

double hget_sample(const char *text, const char *name) {
  size_t n = strlen(name);
  for (const char *p = text; p != NULL && *p; p = strchr(p, '\n')) {
    if (*p == '\n') p++;
    if (strncmp(p, name, n) == 0 && p[n] == ' ') return atof(p + n + 1);
  }
  return -1;
}
