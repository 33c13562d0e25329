/* SPDX-License-Identifier: Apache-2.0 */
/*
 * s3.c - the s3:// bucket backend: any object store speaking the
 * S3 REST API (AWS S3, Google Cloud Storage's XML API with HMAC keys,
 * MinIO, Ceph, s3rver), over libcurl. Where requests go and with which
 * credentials is s3_config.c; replies are parsed by s3_xml.c; the retry
 * policy is s3_retry.c.
 *
 * Requests (all signed with AWS Signature V4 by libcurl's
 * CURLOPT_AWS_SIGV4 unless anonymous; x-amz-content-sha256 carries the
 * body's SHA-256 so the payload is signed too):
 *   open  GET /bucket?list-type=2&max-keys=1&prefix=P/  (can we list?)
 *   list  GET /bucket?continuation-token=T&list-type=2&prefix=P/, page
 *         after page (ListObjectsV2, up to 1000 keys each) until
 *         IsTruncated is false; sorted by (LastModified, key) as the dir
 *         backend sorts by landing time
 *   read  GET /bucket/P/key; the stream's batches (read_many): up to
 *         PARALLEL such GETs in flight at once on a curl multi handle
 *   put   PUT /bucket/P/key with Content-MD5 (the server refuses a body
 *         that does not match it: BadDigest) and Content-Type (from the
 *         image's magic bytes). A PutObject is atomic: readers see the
 *         whole object or none.
 *   wait  sleeps: S3 has no change notification to wait on; the stream
 *         finds new objects by listing every poll interval.
 *
 * One curl handle per bucket, reset between requests, keeps its
 * connection alive. Every request goes through perform(): failures worth
 * retrying (s3_retry.c) are retried with exponential backoff and jitter
 * for up to cfg.retry_ms, reporting each retry through on_retry; others
 * become one message naming the request, the server's error code and
 * message, the bucket, the endpoint and the credentials' source.
 *
 * Sections: 1. state  2. one request  3. with retries  3b. many objects
 *           at once  4. list/read/put  5. open/close and the vtable
 *
 * Threading: one thread at a time per bucket.
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error_int.h"
#include "bucket/bucket_int.h"
#include "core/backoff_int.h"
#include "core/clock_int.h"
#include "bucket/s3_int.h"

/* ---- 1. state ---- */

#define URL_CAP 8192
#define MAX_OBJECT_BYTES ((size_t)1 << 30) /* refuse bigger replies */
#define BACKOFF_BASE_MS 100
#define BACKOFF_MAX_MS 5000
#define CONNECT_TIMEOUT_MS 10000
#define STALL_SECONDS 30 /* a transfer below 1 byte/s this long is cut */
#define PARALLEL 8 /* object downloads in flight at once (read_many) */
#define EMPTY_SHA256 \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* One object of a read_many call. */
typedef struct s3_item {
  unsigned attempt;  /* attempts begun */
  uint64_t start_ns; /* when the first began (retry budget), 0 = not yet */
  uint64_t next_ns;  /* no attempt before this (backoff) */
  int state;         /* ITEM_WAITING, ITEM_ACTIVE or ITEM_DONE */
} s3_item;

enum { ITEM_WAITING, ITEM_ACTIVE, ITEM_DONE };

/* One download slot of the multi handle. */
typedef struct s3_xfer {
  CURL *curl;                /* owned, reset per object */
  size_t item;               /* the item it is fetching, if in flight */
  bool busy;                 /* in flight (added to the multi handle) */
  char err[CURL_ERROR_SIZE]; /* curl's detail of its last failure */
} s3_xfer;

typedef struct s3_bucket {
  ims__s3_config cfg;             /* where and who */
  CURL *curl;                     /* owned; reset per request */
  struct curl_slist *get_hdr;     /* owned: headers of every GET */
  char sigv4[128];                /* "aws:amz:REGION:s3" */
  ims_s3_retry_fn on_retry;       /* BORROWED callback, may be NULL */
  void *retry_ctx;                /* its argument */
  uint64_t rng;                   /* jitter state (xorshift64, never 0) */
  ims__bucket_buf reply;          /* listing and error bodies, reused */
  char url[URL_CAP];              /* scratch: the request's URL */
  char curl_err[CURL_ERROR_SIZE]; /* curl's detail of the last failure */
  CURLM *multi;                   /* owned: read_many's downloads; its
                                     connections stay alive between calls */
  s3_xfer xfer[PARALLEL];         /* its download slots */
  s3_item *items;                 /* owned: read_many's per-object state */
  size_t items_cap;               /* entries allocated (reused) */
  const volatile sig_atomic_t *cancel; /* BORROWED: nonzero = stop
                                          retrying (the stream's stop flag),
                                          NULL = none */
} s3_bucket;

/* One request. */
typedef struct s3_request {
  const char *method;     /* "GET" or "PUT" */
  const char *key;        /* full key (prefix included), NULL = bucket */
  const char *query;      /* canonical query string, NULL = none */
  const void *body;       /* PUT body */
  size_t body_len;        /* its bytes */
  struct curl_slist *hdr; /* BORROWED headers (GET: get_hdr) */
  ims__bucket_buf *out;   /* reply body goes here (reset first) */
} s3_request;

/* ---- 2. one request ---- */

static size_t on_body(char *data, size_t size, size_t n, void *ctx) {
  ims__bucket_buf *buf = ctx;
  size_t len = size * n;
  /* returning less than len ends the transfer: CURLE_WRITE_ERROR */
  if (buf->size + len > MAX_OBJECT_BYTES) {
    buf->refused = EFBIG;
    return 0;
  }
  if (buf->size + len + 1 > buf->cap) {
    size_t cap = buf->cap ? buf->cap : 64 * 1024;
    while (cap < buf->size + len + 1) cap *= 2;
    void *grown = realloc(buf->data, cap);
    if (grown == NULL) {
      buf->refused = ENOMEM;
      return 0;
    }
    buf->data = grown;
    buf->cap = cap;
  }
  memcpy((char *)buf->data + buf->size, data, len);
  buf->size += len;
  ((char *)buf->data)[buf->size] = '\0'; /* XML parsers like a NUL */
  return len;
}

/* Reset `c` and set it up for `r`: URL b->url (curl copies it), reply
 * body to r->out (emptied: a retry starts the body over), curl's detail
 * of a failure into errbuf (CURL_ERROR_SIZE bytes). */
static void setup(const s3_bucket *b, CURL *c, const s3_request *r,
                  char *errbuf) {
  curl_easy_reset(c); /* keeps the live connections */
  r->out->size = 0;
  r->out->refused = 0;
  errbuf[0] = '\0';
  curl_easy_setopt(c, CURLOPT_URL, b->url);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)STALL_SECONDS);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r->out);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->hdr);
  if (b->cfg.key_id != NULL) {
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, b->sigv4);
    curl_easy_setopt(c, CURLOPT_USERNAME, b->cfg.key_id);
    curl_easy_setopt(c, CURLOPT_PASSWORD, b->cfg.secret);
  }
  if (strcmp(r->method, "PUT") == 0) {
    /* POSTFIELDS (not UPLOAD) so the body is in memory for SigV4 and no
     * "Expect: 100-continue" round trip is made below 1 MiB. */
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
  }
}

/* Send `r` once: the CURLcode, and the HTTP status in *http (0 if no
 * answer). curl's detail of a failure is in b->curl_err. */
static CURLcode send_once(s3_bucket *b, const s3_request *r, long *http) {
  setup(b, b->curl, r, b->curl_err);
  *http = 0;
  CURLcode cc = curl_easy_perform(b->curl);
  curl_easy_getinfo(b->curl, CURLINFO_RESPONSE_CODE, http);
  return cc;
}

/* ---- 3. with retries ---- */

/* "HTTP 503 SlowDown: Please reduce your request rate" or curl's
 * "Failed to connect to 127.0.0.1 port 9 ..." into out. */
static void describe_outcome(const char *curl_err, const ims__bucket_buf *body,
                             CURLcode cc, long http, char *out, size_t cap) {
  if (cc != CURLE_OK) {
    snprintf(out, cap, "%s", curl_err[0] ? curl_err : curl_easy_strerror(cc));
    return;
  }
  char code[64], msg[160];
  ims__s3_parse_error(body->data, body->size, code, sizeof code, msg,
                      sizeof msg);
  snprintf(out, cap, "HTTP %ld%s%s%s%s", http, code[0] ? " " : "", code,
           msg[0] ? ": " : "", msg);
}

/* The final error of a request that will not be retried. */
static ims_status fail_request(const s3_bucket *b, const s3_request *r,
                               CURLcode cc, long http, const char *why,
                               ims_error *err) {
  char where[300];
  ims__s3_describe(&b->cfg, where, sizeof where);
  const char *key = r->key ? r->key : "";
  if (cc == CURLE_WRITE_ERROR && r->out->refused != 0)
    return ims__fail(err, r->out->refused == ENOMEM ? IMS_ERR_NO_MEMORY
                                                    : IMS_ERR_TOO_LARGE,
                     "s3 %s %s/%.200s: %s", r->method, b->cfg.bucket, key,
                     r->out->refused == ENOMEM ? "out of memory"
                                               : "reply larger than 1 GiB");
  if (cc == CURLE_OK && http == 404 && r->key != NULL &&
      strstr(why, "NoSuchBucket") == NULL)
    return ims__fail(err, IMS_ERR_NOT_FOUND, "s3 %s %s/%.200s: no such "
                     "object", r->method, b->cfg.bucket, key);
  if (cc == CURLE_OK && http == 404)
    return ims__fail(err, IMS_ERR_NOT_FOUND, "no such bucket: %s (%s)", where,
                     why);
  if (cc == CURLE_OK && http == 403)
    return ims__fail(err, IMS_ERR_IO, "access denied to %s: %s", where, why);
  return ims__fail(err, IMS_ERR_IO, "s3 %s %s/%s: %s (%s)", r->method,
                   b->cfg.bucket, key, why, where);
}

/* Sleep ms; false if a signal cut it short. */
static bool pause_ms(uint32_t ms) {
  return ims__sleep_until_ns(ims__now_mono_ns() + (uint64_t)ms * 1000000u) ==
         0;
}

/* After failed attempt number `attempt` of `r` (the first began at
 * start_ns), failing because of `why`: the wait before the next attempt
 * (reported through on_retry), or IMS_ERR_IO in *st when the retry time
 * would be spent. */
static uint32_t next_wait(s3_bucket *b, const s3_request *r, unsigned attempt,
                          uint64_t start_ns, const char *why, ims_status *st,
                          ims_error *err) {
  uint32_t wait =
      ims__backoff_ms(attempt - 1, BACKOFF_BASE_MS, BACKOFF_MAX_MS, &b->rng);
  uint64_t spent_ms = (ims__now_mono_ns() - start_ns) / 1000000u;
  const char *key = r->key ? r->key : "";
  *st = IMS_OK;
  if (b->cancel != NULL && *b->cancel) {
    *st = ims__fail(err, IMS_ERR_IO,
                    "s3 %s %s/%.200s: stop requested while retrying: %s",
                    r->method, b->cfg.bucket, key, why);
    return 0;
  }
  if (spent_ms + wait > b->cfg.retry_ms) {
    *st = ims__fail(err, IMS_ERR_IO,
                    "s3 %s %s/%.200s at %s: still failing after %u "
                    "attempts in %.1f s: %s",
                    r->method, b->cfg.bucket, key, b->cfg.endpoint, attempt,
                    (double)spent_ms / 1000.0, why);
    return 0;
  }
  if (b->on_retry != NULL) {
    char msg[600];
    snprintf(msg, sizeof msg, "s3 %s %s/%.200s: %s; retry %u in %u ms",
             r->method, b->cfg.bucket, key, why, attempt, wait);
    b->on_retry(b->retry_ctx, msg);
  }
  return wait;
}

/* Send `r` until it succeeds, fails for good, or cfg.retry_ms is spent. */
static ims_status perform(s3_bucket *b, const s3_request *r, ims_error *err) {
  if (ims__s3_url(&b->cfg, r->key, r->query, b->url, sizeof b->url) != 0)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "s3: key too long: %.200s",
                     r->key ? r->key : "");
  uint64_t start = ims__now_mono_ns();
  for (unsigned attempt = 1;; attempt++) {
    long http = 0;
    CURLcode cc = send_once(b, r, &http);
    if (cc == CURLE_OK && http >= 200 && http < 300) return IMS_OK;
    char why[256];
    describe_outcome(b->curl_err, r->out, cc, http, why, sizeof why);
    if (!ims__s3_retryable(cc, http))
      return fail_request(b, r, cc, http, why, err);
    ims_status st = IMS_OK;
    uint32_t wait = next_wait(b, r, attempt, start, why, &st, err);
    if (st != IMS_OK) return st;
    pause_ms(wait); /* a signal cuts it short: retry now; a stop request
                       is then seen by next_wait */
  }
}

/* The full key of object `key` (PREFIX/key) into out. */
static int full_key(const s3_bucket *b, const char *key, char *out,
                    size_t cap) {
  int n = snprintf(out, cap, "%s%s%s", b->cfg.prefix,
                   b->cfg.prefix[0] ? "/" : "", key);
  return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* ---- 3b. many objects at once (read_many) ----
 *
 * Up to PARALLEL GETs in flight on one curl multi handle, each object
 * with its own attempts, backoff and retry budget (as perform()): a batch
 * of objects costs about the slowest download, not the sum of them. */

/* One object's request (full key into `full`, 4096 bytes). */
static ims_status item_request(const s3_bucket *b, const char *key,
                               ims__bucket_buf *buf, char *full,
                               s3_request *r, ims_error *err) {
  if (full_key(b, key, full, 4096) != 0)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "s3: key too long: %.200s",
                     key);
  *r = (s3_request){"GET", full, NULL, NULL, 0, b->get_hdr, buf};
  return IMS_OK;
}

/* Put item i on idle slot x. */
static ims_status start_item(s3_bucket *b, s3_xfer *x, size_t i,
                             const char *key, ims__bucket_buf *buf,
                             ims_error *err) {
  char full[4096];
  s3_request r;
  ims_status st = item_request(b, key, buf, full, &r, err);
  if (st != IMS_OK) return st;
  if (ims__s3_url(&b->cfg, full, NULL, b->url, sizeof b->url) != 0)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "s3: key too long: %.200s",
                     key);
  setup(b, x->curl, &r, x->err);
  curl_easy_setopt(x->curl, CURLOPT_PRIVATE, (void *)x);
  if (curl_multi_add_handle(b->multi, x->curl) != CURLM_OK)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "s3: curl_multi_add_handle");
  s3_item *it = &b->items[i];
  it->state = ITEM_ACTIVE;
  it->attempt++;
  if (it->start_ns == 0) it->start_ns = ims__now_mono_ns();
  x->item = i;
  x->busy = true;
  return IMS_OK;
}

/* Fill the idle slots with items whose backoff is over. */
static ims_status start_ready(s3_bucket *b, size_t n, const char *const *keys,
                              ims__bucket_buf *bufs, ims_error *err) {
  uint64_t now = ims__now_mono_ns();
  size_t i = 0;
  for (int k = 0; k < PARALLEL; k++) {
    if (b->xfer[k].busy) continue;
    while (i < n && (b->items[i].state != ITEM_WAITING ||
                     b->items[i].next_ns > now))
      i++;
    if (i == n) break;
    ims_status st = start_item(b, &b->xfer[k], i, keys[i], &bufs[i], err);
    if (st != IMS_OK) return st;
  }
  return IMS_OK;
}

/* Slot x finished with cc: done, missing (404), to retry, or a failure. */
static ims_status finish_item(s3_bucket *b, s3_xfer *x, CURLcode cc,
                              const char *const *keys, ims__bucket_buf *bufs,
                              bool *missing, size_t *left, ims_error *err) {
  size_t i = x->item;
  s3_item *it = &b->items[i];
  long http = 0;
  curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &http);
  curl_multi_remove_handle(b->multi, x->curl);
  x->busy = false;
  it->state = ITEM_WAITING;
  if (cc == CURLE_OK && http >= 200 && http < 300) {
    it->state = ITEM_DONE;
    (*left)--;
    return IMS_OK;
  }
  char full[4096], why[256];
  s3_request r;
  ims_status st = item_request(b, keys[i], &bufs[i], full, &r, err);
  if (st != IMS_OK) return st;
  describe_outcome(x->err, &bufs[i], cc, http, why, sizeof why);
  if (!ims__s3_retryable(cc, http)) {
    st = fail_request(b, &r, cc, http, why, err);
    if (st != IMS_ERR_NOT_FOUND || strstr(why, "NoSuchBucket") != NULL)
      return st;
    missing[i] = true; /* deleted since it was listed */
    bufs[i].size = 0;
    it->state = ITEM_DONE;
    (*left)--;
    return IMS_OK;
  }
  uint32_t wait = next_wait(b, &r, it->attempt, it->start_ns, why, &st, err);
  it->next_ns = ims__now_mono_ns() + (uint64_t)wait * 1000000u;
  return st;
}

/* Handle every transfer that finished. */
static ims_status collect(s3_bucket *b, const char *const *keys,
                          ims__bucket_buf *bufs, bool *missing, size_t *left,
                          ims_error *err) {
  int queued = 0;
  for (CURLMsg *m = curl_multi_info_read(b->multi, &queued); m != NULL;
       m = curl_multi_info_read(b->multi, &queued)) {
    if (m->msg != CURLMSG_DONE) continue;
    void *priv = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
    ims_status st = finish_item(b, priv, m->data.result, keys, bufs, missing,
                                left, err);
    if (st != IMS_OK) return st;
  }
  return IMS_OK;
}

/* How long to wait for sockets: 0 when a slot is idle and an item is
 * ready for it, else until the next backoff ends (if a slot is idle), at
 * most 1 s; curl_multi_poll returns early on any transfer activity. */
static int poll_ms(const s3_bucket *b, size_t n) {
  bool idle = false;
  for (int k = 0; k < PARALLEL; k++) idle = idle || !b->xfer[k].busy;
  uint64_t now = ims__now_mono_ns(), soonest = now + 1000000000u;
  for (size_t i = 0; idle && i < n; i++) {
    const s3_item *it = &b->items[i];
    if (it->state != ITEM_WAITING) continue;
    if (it->next_ns <= now) return 0;
    if (it->next_ns < soonest) soonest = it->next_ns;
  }
  return (int)((soonest - now) / 1000000u);
}

/* Is an item waiting out a backoff (a retry pending)? */
static bool retrying(const s3_bucket *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (b->items[i].state == ITEM_WAITING && b->items[i].attempt > 0)
      return true;
  return false;
}

static ims_status s3_read_many(void *state, size_t n, const char *const *keys,
                               ims__bucket_buf *bufs, bool *missing,
                               ims_error *err) {
  s3_bucket *b = state;
  if (n > b->items_cap) {
    s3_item *grown = realloc(b->items, n * sizeof *grown);
    if (grown == NULL)
      return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
    b->items = grown;
    b->items_cap = n;
  }
  memset(b->items, 0, n * sizeof *b->items);
  memset(missing, 0, n * sizeof *missing);
  size_t left = n;
  ims_status st = IMS_OK;
  while (st == IMS_OK && left > 0) {
    int running = 0;
    st = start_ready(b, n, keys, bufs, err);
    if (st == IMS_OK && curl_multi_perform(b->multi, &running) != CURLM_OK)
      st = ims__fail(err, IMS_ERR_IO, "s3: curl_multi_perform failed");
    if (st == IMS_OK) st = collect(b, keys, bufs, missing, &left, err);
    if (st == IMS_OK && left > 0)
      curl_multi_poll(b->multi, NULL, 0, poll_ms(b, n), NULL);
    if (st == IMS_OK && b->cancel != NULL && *b->cancel && retrying(b, n))
      st = ims__fail(err, IMS_ERR_IO, "s3 GET %s: stop requested while "
                     "retrying downloads", b->cfg.bucket);
  }
  for (int k = 0; k < PARALLEL; k++) { /* after a failure: cancel the rest */
    if (b->xfer[k].busy) curl_multi_remove_handle(b->multi, b->xfer[k].curl);
    b->xfer[k].busy = false;
  }
  return st;
}

/* ---- 4. list/read/put ---- */

/* ListObjectsV2's query: names sorted (SigV4's canonical order). */
static int list_query(const s3_bucket *b, const char *token, int max_keys,
                      char *out, size_t cap) {
  size_t len = 0;
  out[0] = '\0';
  if (token != NULL) {
    memcpy(out, "continuation-token=", 20);
    len = 19;
    if (ims__s3_encode(token, false, out, &len, cap) != 0) return -1;
    out[len++] = '&';
  }
  int n = max_keys > 0 ? snprintf(out + len, cap - len,
                                  "list-type=2&max-keys=%d", max_keys)
                       : snprintf(out + len, cap - len, "list-type=2");
  if (n < 0 || (size_t)n >= cap - len) return -1;
  len += (size_t)n;
  if (b->cfg.prefix[0] == '\0') return 0;
  char pre[2048];
  snprintf(pre, sizeof pre, "%s/", b->cfg.prefix);
  if (len + 8 >= cap) return -1;
  memcpy(out + len, "&prefix=", 9);
  len += 8;
  return ims__s3_encode(pre, false, out, &len, cap);
}

/* One page of the listing after `token` (NULL: the first) into page. */
static ims_status list_page(s3_bucket *b, const char *token, int max_keys,
                            ims__s3_page *page, ims_error *err) {
  char query[4096];
  if (list_query(b, token, max_keys, query, sizeof query) != 0)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "s3: listing query too long");
  s3_request r = {"GET", NULL, query, NULL, 0, b->get_hdr, &b->reply};
  ims_status st = perform(b, &r, err);
  if (st != IMS_OK) return st;
  return ims__s3_parse_list(b->reply.data, b->reply.size, b->cfg.prefix, page,
                            err);
}

static ims_status s3_list(void *state, ims_object **objects, size_t *count,
                          ims_error *err) {
  s3_bucket *b = state;
  ims__s3_page page;
  memset(&page, 0, sizeof page);
  ims_status st = list_page(b, NULL, 0, &page, err);
  while (st == IMS_OK && page.truncated) {
    char *token = page.next_token;
    page.next_token = NULL;
    st = list_page(b, token, 0, &page, err);
    free(token);
  }
  if (st != IMS_OK) {
    ims__s3_page_clear(&page);
    return st;
  }
  if (page.count > 1)
    qsort(page.items, page.count, sizeof *page.items, ims__object_by_time_key);
  *objects = page.items;
  *count = page.count;
  free(page.next_token);
  return IMS_OK;
}

static ims_status s3_read_into(void *state, const char *key,
                               ims__bucket_buf *buf, ims_error *err) {
  s3_bucket *b = state;
  char full[4096];
  if (full_key(b, key, full, sizeof full) != 0)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "s3: key too long: %.200s", key);
  s3_request r = {"GET", full, NULL, NULL, 0, b->get_hdr, buf};
  return perform(b, &r, err);
}

static ims_status s3_read(void *state, const char *key, void **data,
                          size_t *size, ims_error *err) {
  ims__bucket_buf buf = {NULL, 0, 0, 0};
  ims_status st = s3_read_into(state, key, &buf, err);
  if (st != IMS_OK) {
    ims__bucket_buf_clear(&buf);
    return st;
  }
  *data = buf.data != NULL ? buf.data : malloc(1);
  *size = buf.size;
  if (*data == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  return IMS_OK;
}

/* The Content-Type of an image, from its first bytes. */
static const char *content_type(const unsigned char *p, size_t n) {
  if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
    return "image/jpeg";
  if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return "image/png";
  if (n >= 2 && p[0] == 'B' && p[1] == 'M') return "image/bmp";
  return "application/octet-stream";
}

/* The PUT's headers: Content-MD5 (base64), Content-Type and the body's
 * SHA-256 (hex) for SigV4, plus the session token. NULL out of memory. */
static struct curl_slist *put_headers(const s3_bucket *b, const void *data,
                                      size_t size) {
  unsigned char md5[EVP_MAX_MD_SIZE], sha[EVP_MAX_MD_SIZE];
  unsigned md5_len = 0, sha_len = 0;
  if (EVP_Digest(data, size, md5, &md5_len, EVP_md5(), NULL) != 1 ||
      EVP_Digest(data, size, sha, &sha_len, EVP_sha256(), NULL) != 1)
    return NULL;
  char line[256], b64[64];
  EVP_EncodeBlock((unsigned char *)b64, md5, (int)md5_len);
  struct curl_slist *h = NULL, *next = NULL;
  int n = snprintf(line, sizeof line, "x-amz-content-sha256: ");
  for (unsigned i = 0; i < sha_len; i++)
    n += snprintf(line + n, sizeof line - (size_t)n, "%02x", sha[i]);
  h = curl_slist_append(h, line);
  snprintf(line, sizeof line, "Content-MD5: %s", b64);
  next = h ? curl_slist_append(h, line) : NULL;
  snprintf(line, sizeof line, "Content-Type: %s", content_type(data, size));
  next = next ? curl_slist_append(next, line) : NULL;
  if (next != NULL && b->cfg.token != NULL) {
    char *tok = malloc(strlen(b->cfg.token) + 32);
    if (tok != NULL) sprintf(tok, "x-amz-security-token: %s", b->cfg.token);
    next = tok ? curl_slist_append(next, tok) : NULL;
    free(tok);
  }
  if (next == NULL) curl_slist_free_all(h);
  return next;
}

static ims_status s3_put(void *state, const char *key, const void *data,
                         size_t size, ims_error *err) {
  s3_bucket *b = state;
  char full[4096];
  if (full_key(b, key, full, sizeof full) != 0)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "s3: key too long: %.200s", key);
  struct curl_slist *hdr = put_headers(b, data, size);
  if (hdr == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  s3_request r = {"PUT", full, NULL, data, size, hdr, &b->reply};
  ims_status st = perform(b, &r, err);
  curl_slist_free_all(hdr);
  return st;
}

static ims_status s3_wait(void *state, int timeout_ms, ims_error *err) {
  pause_ms(timeout_ms > 0 ? (uint32_t)timeout_ms : 0);
  return IMS_OK;
}

/* ---- 5. open/close and the vtable ---- */

static void s3_close(void *state) {
  s3_bucket *b = state;
  if (b == NULL) return;
  for (int k = 0; k < PARALLEL; k++) {
    if (b->xfer[k].busy) curl_multi_remove_handle(b->multi, b->xfer[k].curl);
    curl_easy_cleanup(b->xfer[k].curl);
  }
  curl_multi_cleanup(b->multi);
  free(b->items);
  curl_slist_free_all(b->get_hdr);
  curl_easy_cleanup(b->curl);
  ims__bucket_buf_clear(&b->reply);
  ims__s3_config_clear(&b->cfg);
  free(b);
}

/* The curl handle and the GET headers. */
static ims_status setup_http(s3_bucket *b, ims_error *err) {
  b->curl = curl_easy_init();
  b->get_hdr = curl_slist_append(NULL, "x-amz-content-sha256: " EMPTY_SHA256);
  if (b->get_hdr != NULL && b->cfg.token != NULL) {
    char *tok = malloc(strlen(b->cfg.token) + 32);
    if (tok != NULL) sprintf(tok, "x-amz-security-token: %s", b->cfg.token);
    struct curl_slist *h = tok ? curl_slist_append(b->get_hdr, tok) : NULL;
    free(tok);
    if (h == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  b->multi = curl_multi_init();
  bool ok = b->curl != NULL && b->get_hdr != NULL && b->multi != NULL;
  for (int k = 0; k < PARALLEL; k++) {
    b->xfer[k].curl = curl_easy_init();
    ok = ok && b->xfer[k].curl != NULL;
  }
  if (!ok)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "s3: cannot set up libcurl");
  snprintf(b->sigv4, sizeof b->sigv4, "aws:amz:%.64s:s3", b->cfg.region);
  return IMS_OK;
}

ims_status ims__bucket_s3_open(const char *location,
                               const ims_s3_options *options, uint32_t flags,
                               void **state, ims_error *err) {
  s3_bucket *b = calloc(1, sizeof *b);
  if (b == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  ims_status st = ims__s3_config_resolve(location, options, &b->cfg, err);
  if (st != IMS_OK) {
    free(b);
    return st;
  }
  if (options != NULL) {
    b->on_retry = options->on_retry;
    b->retry_ctx = options->retry_ctx;
  }
  b->rng = ims__random_seed();
  st = setup_http(b, err);
  ims__s3_page probe;
  memset(&probe, 0, sizeof probe);
  if (st == IMS_OK) st = list_page(b, NULL, 1, &probe, err);
  ims__s3_page_clear(&probe);
  if (st != IMS_OK) {
    s3_close(b);
    return st;
  }
  *state = b;
  return IMS_OK;
}

static void s3_set_cancel(void *state, const volatile sig_atomic_t *flag) {
  ((s3_bucket *)state)->cancel = flag;
}

static ims_status s3_open(const char *location, uint32_t flags, void **state,
                          ims_error *err) {
  return ims__bucket_s3_open(location, NULL, flags, state, err);
}

const ims__bucket_ops ims__bucket_s3_ops = {"s3",   s3_open, s3_close,
                                            s3_put, s3_list, s3_read,
                                            NULL,   s3_wait, s3_read_into,
                                            s3_read_many, s3_set_cancel,
                                            NULL,   NULL};
