/* SPDX-License-Identifier: Apache-2.0 */
/*
 * s3_config.c - where an s3:// bucket's requests go and who signs them
 * (see s3_int.h, section 1): the URL "s3://BUCKET[/PREFIX]", ims_s3_options
 * and the environment the AWS tools read, resolved once at open into an
 * ims__s3_config; then request URLs built from it.
 *
 * Precedence, per setting: the option, else the environment, else the
 * default. Credentials come as a whole from one place (options, or
 * AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN], or
 * none = anonymous requests), and that place is remembered so that an
 * "access denied" can say which key was used and where it came from.
 *
 * Addressing: a custom endpoint (MinIO, GCS, s3rver, Ceph) gets
 * path-style URLs, endpoint/bucket/key, which every S3-compatible server
 * accepts; AWS itself (no endpoint set) gets virtual-hosted ones,
 * https://bucket.s3.REGION.amazonaws.com/key, unless the bucket name has
 * a '.' (which breaks the wildcard TLS certificate).
 *
 * Encoding: keys and query values are percent-encoded exactly as SigV4
 * canonicalizes them, so the URL curl sends is already canonical and the
 * signature curl computes over it is the one the server computes.
 *
 * Sections: 1. helpers  2. resolve  3. URLs and descriptions
 *
 * Threading: no shared state.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "bucket/bucket_int.h"
#include "bucket/s3_int.h"

#define DEFAULT_RETRY_MS 60000
#define DEFAULT_REGION "us-east-1"

/* ---- 1. helpers ---- */

static const char *env(const char *name) {
  const char *v = getenv(name);
  return v != NULL && v[0] != '\0' ? v : NULL;
}

/* strdup that tolerates NULL; *failed set on out of memory. */
static char *dup_or_null(const char *s, bool *failed) {
  if (s == NULL) return NULL;
  char *d = strdup(s);
  if (d == NULL) *failed = true;
  return d;
}

/* Bucket names as S3 and GCS accept them: 3-63 of a-z 0-9 . - _,
 * starting and ending with a letter or digit. */
static bool bucket_name_ok(const char *s, size_t n) {
  if (n < 3 || n > 63) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && c != '.' && c != '-' && c != '_') return false;
    if (!alnum && (i == 0 || i == n - 1)) return false;
  }
  return true;
}

/* "http(s)://host[:port]" with nothing after but an optional '/'. */
static bool endpoint_ok(const char *e) {
  const char *host = NULL;
  if (strncmp(e, "http://", 7) == 0) host = e + 7;
  if (strncmp(e, "https://", 8) == 0) host = e + 8;
  if (host == NULL || host[0] == '\0' || host[0] == '/') return false;
  const char *slash = strchr(host, '/');
  return slash == NULL || slash[1] == '\0';
}

/* ---- 2. resolve ---- */

/* Bucket and prefix from "BUCKET[/PREFIX]". */
static ims_status parse_location(const char *location, ims__s3_config *cfg,
                                 ims_error *err) {
  const char *slash = strchr(location, '/');
  size_t n = slash ? (size_t)(slash - location) : strlen(location);
  if (!bucket_name_ok(location, n))
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "s3://%s: '%.*s' is not a bucket name (3-63 of a-z, "
                     "0-9, '.', '-', '_')",
                     location, (int)n, location);
  cfg->bucket = strndup(location, n);
  cfg->prefix = strdup(slash ? slash + 1 : "");
  if (cfg->bucket == NULL || cfg->prefix == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  size_t plen = strlen(cfg->prefix);
  while (plen > 0 && cfg->prefix[plen - 1] == '/') cfg->prefix[--plen] = 0;
  if (plen > 0 && !ims__bucket_key_ok(cfg->prefix))
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "s3://%s: bad prefix '%s' (empty, '.' or '..' parts)",
                     location, cfg->prefix);
  return IMS_OK;
}

/* Endpoint and addressing style. */
static ims_status resolve_endpoint(const ims_s3_options *opt,
                                   ims__s3_config *cfg, ims_error *err) {
  const char *e = opt != NULL ? opt->endpoint : NULL;
  const char *source = "options";
  if (e == NULL) {
    e = env("AWS_ENDPOINT_URL");
    source = "AWS_ENDPOINT_URL";
  }
  char aws[128];
  if (e == NULL) {
    snprintf(aws, sizeof aws, "https://s3.%.64s.amazonaws.com", cfg->region);
    e = aws;
    source = "default (AWS)";
  } else if (!endpoint_ok(e)) {
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "S3 endpoint '%s' (from %s) is not "
                     "http(s)://HOST[:PORT]",
                     e, source);
  }
  cfg->endpoint = strdup(e);
  cfg->endpoint_source = strdup(source);
  if (cfg->endpoint == NULL || cfg->endpoint_source == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  size_t n = strlen(cfg->endpoint);
  if (cfg->endpoint[n - 1] == '/') cfg->endpoint[n - 1] = '\0';
  cfg->path_style = e != aws || strchr(cfg->bucket, '.') != NULL;
  return IMS_OK;
}

/* Key id, secret, token and where they came from. */
static ims_status resolve_credentials(const ims_s3_options *opt,
                                      ims__s3_config *cfg, ims_error *err) {
  const char *id = NULL, *secret = NULL, *token = NULL, *from = NULL;
  char source[160];
  if (opt != NULL && opt->access_key_id != NULL) {
    id = opt->access_key_id;
    secret = opt->secret_access_key;
    token = opt->session_token;
    from = "options";
    if (secret == NULL)
      return ims__fail(err, IMS_ERR_INVALID_ARG,
                       "S3: an access key id was given without its secret");
  } else if (env("AWS_ACCESS_KEY_ID") != NULL) {
    id = env("AWS_ACCESS_KEY_ID");
    secret = env("AWS_SECRET_ACCESS_KEY");
    token = env("AWS_SESSION_TOKEN");
    from = "the environment";
    if (secret == NULL)
      return ims__fail(err, IMS_ERR_INVALID_ARG,
                       "S3: AWS_ACCESS_KEY_ID is set but "
                       "AWS_SECRET_ACCESS_KEY is not");
  }
  if (id != NULL)
    snprintf(source, sizeof source, "access key %.40s from %s%s", id, from,
             token != NULL ? ", with a session token" : "");
  else
    snprintf(source, sizeof source,
             "no credentials: anonymous requests (AWS_ACCESS_KEY_ID is not "
             "set)");
  bool failed = false;
  cfg->key_id = dup_or_null(id, &failed);
  cfg->secret = dup_or_null(secret, &failed);
  cfg->token = dup_or_null(token, &failed);
  cfg->cred_source = dup_or_null(source, &failed);
  if (failed) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  return IMS_OK;
}

ims_status ims__s3_config_resolve(const char *location,
                                  const ims_s3_options *opt,
                                  ims__s3_config *out, ims_error *err) {
  ims__s3_config cfg;
  memset(&cfg, 0, sizeof cfg);
  const char *region = opt != NULL ? opt->region : NULL;
  if (region == NULL) region = env("AWS_REGION");
  if (region == NULL) region = env("AWS_DEFAULT_REGION");
  if (region == NULL) region = DEFAULT_REGION;
  cfg.retry_ms =
      opt != NULL && opt->retry_ms ? opt->retry_ms : DEFAULT_RETRY_MS;
  ims_status st = parse_location(location, &cfg, err);
  if (st == IMS_OK) {
    cfg.region = strdup(region);
    if (cfg.region == NULL)
      st = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  if (st == IMS_OK) st = resolve_endpoint(opt, &cfg, err);
  if (st == IMS_OK) st = resolve_credentials(opt, &cfg, err);
  if (st != IMS_OK) {
    ims__s3_config_clear(&cfg);
    return st;
  }
  *out = cfg;
  return IMS_OK;
}

void ims__s3_config_clear(ims__s3_config *cfg) {
  free(cfg->bucket);
  free(cfg->prefix);
  free(cfg->endpoint);
  free(cfg->region);
  free(cfg->key_id);
  free(cfg->secret);
  free(cfg->token);
  free(cfg->cred_source);
  free(cfg->endpoint_source);
  memset(cfg, 0, sizeof *cfg);
}

/* ---- 3. URLs and descriptions ---- */

int ims__s3_encode(const char *s, bool keep_slash, char *out, size_t *len,
                   size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = *len;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    unsigned char c = *p;
    bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                 c == '~' || (keep_slash && c == '/');
    if (n + (plain ? 1 : 3) >= cap) return -1;
    if (plain) {
      out[n++] = (char)c;
    } else {
      out[n++] = '%';
      out[n++] = hex[c >> 4];
      out[n++] = hex[c & 15];
    }
  }
  out[n] = '\0';
  *len = n;
  return 0;
}

/* Append a plain string; -1 if it does not fit. */
static int append(const char *s, char *out, size_t *len, size_t cap) {
  size_t n = strlen(s);
  if (*len + n >= cap) return -1;
  memcpy(out + *len, s, n + 1);
  *len += n;
  return 0;
}

int ims__s3_url(const ims__s3_config *cfg, const char *key, const char *query,
                char *out, size_t cap) {
  size_t len = 0;
  out[0] = '\0';
  if (cfg->path_style) {
    if (append(cfg->endpoint, out, &len, cap) != 0 ||
        append("/", out, &len, cap) != 0 ||
        append(cfg->bucket, out, &len, cap) != 0)
      return -1;
  } else {
    const char *host = strstr(cfg->endpoint, "://") + 3;
    int n = snprintf(out, cap, "%.*s%s.%s", (int)(host - cfg->endpoint),
                     cfg->endpoint, cfg->bucket, host);
    if (n < 0 || (size_t)n >= cap) return -1;
    len = (size_t)n;
  }
  if (key != NULL || !cfg->path_style) {
    if (append("/", out, &len, cap) != 0) return -1;
  }
  if (key != NULL && ims__s3_encode(key, true, out, &len, cap) != 0) return -1;
  if (query != NULL &&
      (append("?", out, &len, cap) != 0 || append(query, out, &len, cap)))
    return -1;
  return 0;
}

void ims__s3_describe(const ims__s3_config *cfg, char *out, size_t cap) {
  snprintf(out, cap, "bucket '%s' at %s (endpoint from %s, region %s; %s)",
           cfg->bucket, cfg->endpoint, cfg->endpoint_source, cfg->region,
           cfg->cred_source);
}
