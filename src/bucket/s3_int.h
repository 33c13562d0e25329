/* SPDX-License-Identifier: Apache-2.0 */
/*
 * s3_int.h - private pieces of the s3:// bucket backend (s3.c), each
 * pure and testable on its own:
 *
 *   1. s3_config.c  where requests go and who signs them: the s3:// URL,
 *                   ims_s3_options and the AWS_* environment resolved
 *                   into one ims__s3_config; request URLs (path-style for
 *                   custom endpoints, virtual-hosted for AWS) with keys
 *                   and query values percent-encoded the way SigV4
 *                   canonicalizes them
 *   2. s3_xml.c     ListObjectsV2 replies and <Error> bodies, parsed with
 *                   libxml2 (never string searches)
 *   3. s3_retry.c   which failures are worth retrying (the backoff is
 *                   core/backoff_int.h's, shared with NATS)
 *
 * The HTTP itself (libcurl, SigV4 via CURLOPT_AWS_SIGV4) is s3.c.
 *
 * Threading: no shared state; each function works on what it is given.
 */
#ifndef IMS_BUCKET_S3_INT_H
#define IMS_BUCKET_S3_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imgstream/bucket.h"

/* ---- 1. s3_config.c ---- */

/* Everything a request needs, resolved once at open. All strings owned
 * (freed by ims__s3_config_clear). */
typedef struct ims__s3_config {
  char *bucket;          /* bucket name */
  char *prefix;          /* key prefix without a trailing '/', "" = none */
  char *endpoint;        /* "https://host[:port]" without a trailing '/' */
  bool path_style;       /* endpoint/bucket/key (custom endpoints) rather
                            than bucket.endpoint-host/key (AWS) */
  char *region;          /* SigV4 region ("us-east-1", "auto") */
  char *key_id;          /* access key id, NULL = anonymous (unsigned) */
  char *secret;          /* secret access key, NULL = anonymous */
  char *token;           /* session token, NULL = none */
  char *cred_source;     /* where the credentials came from, for messages:
                            "the environment (AWS_ACCESS_KEY_ID=AKIA...)" */
  char *endpoint_source; /* "AWS_ENDPOINT_URL", "options", "default" */
  uint32_t retry_ms;     /* keep retrying transient failures this long */
} ims__s3_config;

/* Resolve `location` ("BUCKET[/PREFIX]", the URL after "s3://") with
 * `opt` (may be NULL; its NULL fields fall back to the environment:
 * AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN). IMS_ERR_INVALID_ARG with a
 * message for a bad bucket name, prefix or endpoint, or a key id without
 * its secret. */
ims_status ims__s3_config_resolve(const char *location,
                                  const ims_s3_options *opt,
                                  ims__s3_config *out, ims_error *err);
void ims__s3_config_clear(ims__s3_config *cfg);

/* Append `s` percent-encoded as SigV4 canonicalizes it (unreserved
 * A-Z a-z 0-9 - _ . ~ kept, '/' kept when keep_slash, every other byte
 * %XX upper-case) to out[*len..cap). Returns 0, or -1 if it does not fit
 * (out is then unspecified). */
int ims__s3_encode(const char *s, bool keep_slash, char *out, size_t *len,
                   size_t cap);

/* The URL of object `key` (the full key, prefix included; NULL = the
 * bucket itself) with `query` (already canonical: names sorted, values
 * encoded; NULL = none) into out. 0, or -1 if it does not fit. */
int ims__s3_url(const ims__s3_config *cfg, const char *key, const char *query,
                char *out, size_t cap);

/* The "bucket at endpoint, credentials from ..." phrase messages end
 * with, into out. */
void ims__s3_describe(const ims__s3_config *cfg, char *out, size_t cap);

/* ---- 2. s3_xml.c ---- */

/* One page of a ListObjectsV2 reply. */
typedef struct ims__s3_page {
  ims_object *items; /* owned: objects (keys without cfg prefix + '/') */
  size_t count, cap; /* used / allocated */
  bool truncated;    /* IsTruncated: more pages follow */
  char *next_token;  /* owned: NextContinuationToken, NULL if none */
  size_t skipped;    /* keys left out (folder markers, invalid names) */
} ims__s3_page;

/* Parse a ListObjectsV2 reply, appending its objects to page->items
 * (grown as needed; keys not under `prefix` + '/', when prefix is not "",
 * or not valid object keys are skipped) and setting truncated and
 * next_token. IMS_ERR_IO naming what is wrong for a reply that is not
 * XML, not a ListBucketResult, or has an entry without Key or with a bad
 * LastModified/Size. */
ims_status ims__s3_parse_list(const char *xml, size_t len, const char *prefix,
                              ims__s3_page *page, ims_error *err);
/* Free the items and the token; the page is then empty. */
void ims__s3_page_clear(ims__s3_page *page);

/* The Code and Message of an S3 <Error> body into code/msg (each
 * NUL-terminated, truncated to fit; "" when the body is not one). */
void ims__s3_parse_error(const char *xml, size_t len, char *code,
                         size_t code_cap, char *msg, size_t msg_cap);

/* ---- 3. s3_retry.c ---- */

/* Is this outcome worth another try? curl_code: the CURLcode (0 = the
 * server answered); http: the status (0 = none). Network failures
 * (refused, reset, timed out, cut mid-body), 500, 502, 503 (SlowDown),
 * 504 and 429 are; everything else (403, 404, 400 ...) is not. */
bool ims__s3_retryable(int curl_code, long http);

#endif /* IMS_BUCKET_S3_INT_H */
