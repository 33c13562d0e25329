/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conn.c - ims_nats: a connection to one JetStream stream, opened
 * from "nats://HOST:PORT[,HOST:PORT...]/STREAM" (see nats.h), and the
 * pieces every JetStream call shares: the retry loop's backoff, which
 * failures are worth retrying, error messages.
 *
 * Connection policy: the first connect fails fast with a clear message
 * (a typo in a URL must not hang a command); once connected, nats.c
 * reconnects for ever, every 250 ms plus jitter, trying each server of
 * the URL, and callers retry their calls while it does (ims__nats_backoff
 * up to options.retry_ms).
 *
 * Sections: 1. URLs  2. connect/close  3. streams  4. retries and errors
 *
 * Threading: one thread at a time per ims_nats.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nats/nats_int.h"
#include "core/backoff_int.h"

#define MAX_SERVERS 16
#define URL_CAP 1024
#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_RETRY_MS 120000
#define DEFAULT_DUP_WINDOW_MS 600000
/* How long "no suitable peers" is taken for a cluster still forming. */
#define PLACEMENT_RETRY_NS (10u * 1000000000ull)

struct ims_nats {
  natsConnection *nc;  /* owned */
  jsCtx *js;           /* owned */
  char stream[256];    /* stream name from the URL */
  char shown[URL_CAP]; /* the URL with secrets masked, for messages */
  uint32_t timeout_ms; /* connect/request timeout */
  uint32_t retry_ms;   /* how long calls retry */
  int64_t max_payload; /* the server's, bytes */
  int async_failures;  /* asynchronous publishes that failed; written
                          by nats.c's thread (__atomic builtins) */
  uint64_t rng;        /* retry jitter (core/backoff_int.h), per process */
};

/* ---- 1. URLs ---- */

static bool valid_name(const char *s) {
  if (*s == '\0') return false;
  for (; *s != '\0'; s++) {
    char c = *s;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  }
  return true;
}

/* Append n bytes of s to out at *o (cap bytes, always NUL-terminated). */
static void put(char *out, size_t cap, size_t *o, const char *s, size_t n) {
  int w = snprintf(out + *o, cap - *o, "%.*s", (int)n, s);
  if (w > 0) *o += (size_t)w < cap - *o ? (size_t)w : cap - *o - 1;
}

/* The URL with "user:secret@" and "token@" masked, into out. */
static void mask_secrets(const char *url, char *out, size_t cap) {
  size_t o = 0;
  out[0] = '\0';
  const char *p = strstr(url, "://");
  p = p != NULL ? p + 3 : url;
  put(out, cap, &o, url, (size_t)(p - url));
  while (*p != '\0' && *p != '/') {
    size_t seg = strcspn(p, ",/");
    const char *at = memchr(p, '@', seg);
    if (at != NULL) {
      const char *colon = memchr(p, ':', (size_t)(at - p));
      put(out, cap, &o, p, colon != NULL ? (size_t)(colon - p) + 1 : 0);
      put(out, cap, &o, "***", 3);
      put(out, cap, &o, at, seg - (size_t)(at - p));
    } else {
      put(out, cap, &o, p, seg);
    }
    p += seg;
    if (*p == ',') put(out, cap, &o, p++, 1);
  }
  put(out, cap, &o, p, strlen(p));
}

/* Split "scheme://a:1,b:2/STREAM" into servers "scheme://a:1" ... (in
 * `store`) and the stream name. */
static ims_status parse_url(const char *url, char *store, size_t store_cap,
                            const char **servers, int *nservers, char *stream,
                            size_t stream_cap, bool *tls, ims_error *err) {
  const char *sep = strstr(url, "://");
  size_t scheme_len = sep != NULL ? (size_t)(sep - url) : 0;
  *tls = scheme_len == 3 && strncmp(url, "tls", 3) == 0;
  if (sep == NULL ||
      !(*tls || (scheme_len == 4 && strncmp(url, "nats", 4) == 0)))
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "'%s': want nats://HOST:PORT[,HOST:PORT...]/STREAM "
                     "(or tls://... for TLS)", url);
  const char *hosts = sep + 3, *slash = strchr(hosts, '/');
  if (slash == NULL || slash == hosts || !valid_name(slash + 1) ||
      strlen(slash + 1) >= stream_cap)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "'%s': want nats://HOST:PORT/STREAM, the stream name "
                     "of letters, digits, '-' and '_'",
                     url);
  snprintf(stream, stream_cap, "%s", slash + 1);
  size_t o = 0;
  *nservers = 0;
  for (const char *h = hosts; h < slash && *nservers < MAX_SERVERS;) {
    const char *comma = memchr(h, ',', (size_t)(slash - h));
    const char *end = comma != NULL ? comma : slash;
    int w = snprintf(store + o, store_cap - o, "%.*s://%.*s", (int)scheme_len,
                     url, (int)(end - h), h);
    if (w < 0 || (size_t)w >= store_cap - o || end == h)
      return ims__fail(err, IMS_ERR_INVALID_ARG, "'%s': bad server list", url);
    servers[(*nservers)++] = store + o;
    o += (size_t)w + 1;
    h = end + 1;
  }
  return IMS_OK;
}

/* ---- 2. connect/close ---- */

/* Apply the credentials and TLS options to o. */
static natsStatus set_auth(natsOptions *o, const ims_nats_options *opt,
                           bool tls) {
  natsStatus s = NATS_OK;
  if (opt->creds_file != NULL)
    s = natsOptions_SetUserCredentialsFromFiles(o, opt->creds_file, NULL);
  if (s == NATS_OK && opt->user != NULL)
    s = natsOptions_SetUserInfo(o, opt->user, opt->password);
  if (s == NATS_OK && opt->token != NULL)
    s = natsOptions_SetToken(o, opt->token);
  if (s == NATS_OK && (tls || opt->tls || opt->tls_ca != NULL))
    s = natsOptions_SetSecure(o, true);
  if (s == NATS_OK && opt->tls_ca != NULL)
    s = natsOptions_LoadCATrustedCertificates(o, opt->tls_ca);
  if (s == NATS_OK && opt->tls_cert != NULL)
    s = natsOptions_LoadCertificatesChain(o, opt->tls_cert, opt->tls_key);
  return s;
}

static natsStatus make_options(natsOptions **out, const ims_nats_options *opt,
                               const char **servers, int nservers, bool tls,
                               uint32_t timeout_ms) {
  natsOptions *o = NULL;
  natsStatus s = natsOptions_Create(&o);
  if (s == NATS_OK) s = natsOptions_SetServers(o, servers, nservers);
  if (s == NATS_OK) s = natsOptions_SetTimeout(o, timeout_ms);
  if (s == NATS_OK)
    s = natsOptions_SetName(o, opt->name != NULL ? opt->name : "imgstream");
  if (s == NATS_OK) s = natsOptions_SetNoRandomize(o, true);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, -1); /* for ever */
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(o, 250);
  if (s == NATS_OK) s = natsOptions_SetReconnectJitter(o, 100, 1000);
  /* 2 s pings: a server that vanished without closing the socket (a cut
   * cable, a frozen VM) is noticed in seconds, not minutes. */
  if (s == NATS_OK) s = natsOptions_SetPingInterval(o, 2000);
  if (s == NATS_OK) s = set_auth(o, opt, tls);
  if (s != NATS_OK)
    natsOptions_Destroy(o);
  else
    *out = o;
  return s;
}

/* nats.c's thread: an asynchronous publish failed (no ack in time, or
 * refused). Counted; the publisher redoes its batch synchronously. */
static void on_async_error(jsCtx *js, jsPubAckErr *pae, void *closure) {
  (void)js;
  (void)pae;
  ims_nats *n = closure;
  __atomic_add_fetch(&n->async_failures, 1, __ATOMIC_RELAXED);
}

int ims__nats_async_failures(const ims_nats *n) {
  return __atomic_load_n(&n->async_failures, __ATOMIC_RELAXED);
}

static ims_status open_connection(ims_nats *n, const ims_nats_options *opt,
                                  const char **servers, int nservers, bool tls,
                                  ims_error *err) {
  natsOptions *o = NULL;
  natsStatus s = make_options(&o, opt, servers, nservers, tls, n->timeout_ms);
  if (s != NATS_OK)
    return ims__nats_fail(err, s, 0, "NATS options for %s", n->shown);
  s = natsConnection_Connect(&n->nc, o);
  natsOptions_Destroy(o);
  if (s != NATS_OK)
    return ims__nats_fail(err, s, 0, "cannot connect to %s", n->shown);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = n->timeout_ms;
  jo.PublishAsync.ErrHandler = on_async_error;
  jo.PublishAsync.ErrHandlerClosure = n;
  s = natsConnection_JetStream(&n->js, n->nc, &jo);
  if (s != NATS_OK)
    return ims__nats_fail(err, s, 0, "JetStream context for %s", n->shown);
  n->max_payload = natsConnection_GetMaxPayload(n->nc);
  return IMS_OK;
}

ims_status ims_nats_connect(const char *url, const ims_nats_options *options,
                            ims_nats **out, ims_error *err) {
  ims_nats_options opt;
  memset(&opt, 0, sizeof opt);
  if (options != NULL) opt = *options;
  ims_nats *n = calloc(1, sizeof *n);
  if (n == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  n->timeout_ms = opt.timeout_ms ? opt.timeout_ms : DEFAULT_TIMEOUT_MS;
  n->retry_ms = opt.retry_ms ? opt.retry_ms : DEFAULT_RETRY_MS;
  n->rng = ims__random_seed();
  mask_secrets(url, n->shown, sizeof n->shown);
  char store[URL_CAP + MAX_SERVERS * 8];
  const char *servers[MAX_SERVERS];
  int nservers = 0;
  bool tls = false;
  ims_status st = parse_url(url, store, sizeof store, servers, &nservers,
                            n->stream, sizeof n->stream, &tls, err);
  if (st == IMS_OK) st = open_connection(n, &opt, servers, nservers, tls, err);
  if (st != IMS_OK) {
    ims_nats_close(n);
    return st;
  }
  *out = n;
  return IMS_OK;
}

void ims_nats_close(ims_nats *n) {
  if (n == NULL) return;
  if (n->nc != NULL) {
    natsConnection_FlushTimeout(n->nc, n->timeout_ms);
    /* Closed first: closing joins the connection's reader thread, so no
     * late message (the PubAck of an async publish whose batch was
     * published again) is dispatched into the JetStream context while it
     * is destroyed - a worker's exit crashed in libnats' reader
     * (natsConn_processMsg, a mutex at 0x3a3) once under ASan. */
    natsConnection_Close(n->nc);
  }
  jsCtx_Destroy(n->js);
  natsConnection_Destroy(n->nc);
  free(n);
}

void ims_nats_library_close(void) { nats_CloseAndWait(2000); }

const char *ims_nats_stream_name(const ims_nats *n) { return n->stream; }

int64_t ims_nats_max_payload(const ims_nats *n) { return n->max_payload; }

natsConnection *ims__nats_conn(ims_nats *n) { return n->nc; }

jsCtx *ims__nats_js(ims_nats *n) { return n->js; }

const char *ims__nats_url(const ims_nats *n) { return n->shown; }

uint32_t ims__nats_retry_ms(const ims_nats *n) { return n->retry_ms; }

uint32_t ims__nats_timeout_ms(const ims_nats *n) { return n->timeout_ms; }

/* ---- 3. streams ---- */

static natsStatus add_stream(ims_nats *n, const ims_nats_stream_config *cfg,
                             jsErrCode *code) {
  char subject[300];
  snprintf(subject, sizeof subject, "%s.>", n->stream);
  const char *subjects[1] = {subject};
  jsStreamConfig c;
  jsStreamConfig_Init(&c);
  c.Name = n->stream;
  c.Subjects = subjects;
  c.SubjectsLen = 1;
  c.Storage = js_FileStorage;
  c.Retention = js_LimitsPolicy;
  c.Replicas = cfg->replicas ? cfg->replicas : 1;
  int64_t max = cfg->max_msg_size ? cfg->max_msg_size : n->max_payload;
  c.MaxMsgSize = max > INT32_MAX ? INT32_MAX : (int32_t)max;
  c.MaxAge = cfg->max_age_ms * 1000000;
  c.MaxBytes = cfg->max_bytes > 0 ? cfg->max_bytes : -1;
  c.Duplicates = (cfg->duplicate_window_ms ? cfg->duplicate_window_ms
                                           : DEFAULT_DUP_WINDOW_MS) *
                 1000000;
  jsStreamInfo *si = NULL;
  natsStatus s = js_AddStream(&si, n->js, &c, NULL, code);
  jsStreamInfo_Destroy(si);
  return s;
}

ims_status ims_nats_ensure_stream(ims_nats *n,
                                  const ims_nats_stream_config *cfg,
                                  ims_error *err) {
  ims_nats_stream_config none;
  memset(&none, 0, sizeof none);
  if (cfg == NULL) cfg = &none;
  uint64_t deadline = ims__now_mono_ns() + (uint64_t)n->retry_ms * 1000000u;
  uint64_t placement_deadline = ims__now_mono_ns() + PLACEMENT_RETRY_NS;
  natsStatus s;
  jsErrCode code = 0;
  for (unsigned attempt = 0;; attempt++) {
    jsStreamInfo *si = NULL;
    code = 0;
    s = js_GetStreamInfo(&si, n->js, n->stream, NULL, &code);
    jsStreamInfo_Destroy(si);
    if (s == NATS_OK) return IMS_OK;
    if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
      s = add_stream(n, cfg, &code);
      /* another process created it first: fine */
      if (s == NATS_OK || code == JSStreamNameExistErr) return IMS_OK;
    }
    /* A cluster that has just elected its meta leader may not yet know
     * its peers and refuses replicated streams "for placement" for a few
     * seconds; a cluster really too small gives the same answer, so
     * those are retried only briefly. */
    bool placement =
        code == JSClusterNoPeersErr || code == JSInsufficientResourcesErr;
    if (placement && ims__now_mono_ns() > placement_deadline) break;
    if ((!placement && !ims__nats_transient(s, code)) ||
        !ims__nats_backoff(n, attempt, deadline))
      break;
  }
  if (code == JSClusterNoPeersErr || code == JSInsufficientResourcesErr)
    return ims__nats_fail(err, s, code,
                          "cannot create stream %s on %s with %d replicas "
                          "(more than the cluster's servers?)",
                          n->stream, n->shown,
                          cfg->replicas ? cfg->replicas : 1);
  return ims__nats_fail(err, s, code, "cannot create stream %s on %s",
                        n->stream, n->shown);
}

/* ---- 4. retries and errors ---- */

bool ims__nats_transient(natsStatus s, jsErrCode code) {
  switch (s) {
    case NATS_TIMEOUT:
    case NATS_NO_RESPONDERS:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
    case NATS_IO_ERROR:
    case NATS_STALE_CONNECTION:
      return true;
    case NATS_ERR:
      /* 10008 JetStream temporarily unavailable (leader election), 503 */
      return code == JSClusterNotAvailErr || code == 10008 || code == 503 ||
             code == 0;
    default:
      return false;
  }
}

bool ims__nats_backoff(ims_nats *n, unsigned attempt, uint64_t deadline_ns) {
  uint64_t now = ims__now_mono_ns();
  if (now >= deadline_ns) return false;
  uint64_t ns = (uint64_t)ims__backoff_ms(attempt, 50, 1000, &n->rng);
  ns *= 1000000u;
  if (now + ns > deadline_ns) ns = deadline_ns - now;
  ims__sleep_until_ns(now + ns);
  return true;
}

ims_status ims__nats_fail(ims_error *err, natsStatus s, jsErrCode code,
                          const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  const char *detail = nats_GetLastError(NULL);
  if (detail == NULL || strcmp(detail, natsStatus_GetText(s)) == 0) detail = "";
  if (code != 0)
    return ims__fail(err, IMS_ERR_IO, "%s: %s (JetStream error %d)%s%s", what,
                     natsStatus_GetText(s), (int)code, *detail ? ": " : "",
                     detail);
  return ims__fail(err, IMS_ERR_IO, "%s: %s%s%s", what, natsStatus_GetText(s),
                   *detail ? ": " : "", detail);
}

void ims__nats_subject(const char *stream, const char *category, char *out,
                       size_t cap) {
  size_t o = (size_t)snprintf(out, cap, "%s.", stream);
  if (category == NULL || *category == '\0') category = "_";
  for (const char *p = category; *p != '\0' && o + 1 < cap; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_';
    out[o++] = ok ? c : '_';
  }
  out[o < cap ? o : cap - 1] = '\0';
}
