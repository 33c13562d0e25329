/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.c - the stream's HTTP server (imgstream/metrics.h): Debian's
 * libmicrohttpd on its own polling thread, serving
 *
 *   GET /metrics       the Prometheus exposition (metrics.c)
 *   GET /healthz       200 "ok": the process answers
 *   GET /readyz        200 "ready", or 503 with the reason (the model is
 *                      loading, the source or checkpoint failed)
 *   GET /api/progress  the latest progress record (JSON), 404 before
 *                      the first batch
 *   GET /api/rows?after=ID  the recent rows (the last 256) after row ID,
 *                      oldest first: {"rows":[...],"last":N}
 *
 * and 404 for any other path, 405 for any other method. Requests are
 * bounded by libmicrohttpd: 16 KB of memory per connection (a larger
 * request is refused with 431/413), 256 connections, 10 s of idleness.
 * Nothing the server does takes the engine's time but the registry's
 * mutex for a copy (metrics.c).
 *
 * Threading: libmicrohttpd's thread calls `answer`; start/stop from the
 * owner's thread.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "http/assets_int.h"
#include "http/http_int.h"

#define CONNECTIONS 256
#define IDLE_SECONDS 10
#define MEMORY_PER_CONNECTION (16 * 1024)

struct ims_http_server {
  struct MHD_Daemon *daemon; /* owned */
  ims_metrics *metrics;      /* BORROWED */
  uint16_t port;
};

/* Queue `body` (TRANSFERRED, malloc()ed; NULL = out of memory: 500). */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned code,
                             const char *type, char *body, size_t len) {
  static const char oom[] = "out of memory\n";
  struct MHD_Response *r;
  if (body != NULL) {
    r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  } else {
    code = MHD_HTTP_INTERNAL_SERVER_ERROR;
    type = "text/plain";
    r = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom,
                                        MHD_RESPMEM_PERSISTENT);
  }
  if (r == NULL) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_add_response_header(r, "Cache-Control", "no-store");
  enum MHD_Result ret = MHD_queue_response(c, code, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned code,
                            const char *s) {
  char *body = strdup(s);
  return reply(c, code, "text/plain; charset=utf-8", body,
               body ? strlen(body) : 0);
}

static enum MHD_Result metrics(ims_http_server *s, struct MHD_Connection *c) {
  char *body = NULL;
  size_t len = 0;
  if (ims_metrics_render(s->metrics, &body, &len, NULL) != IMS_OK)
    body = NULL;
  return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
               body, len);
}

static enum MHD_Result ready(ims_http_server *s, struct MHD_Connection *c) {
  char *why = NULL;
  if (ims__metrics_is_ready(s->metrics, &why)) return text(c, 200, "ready\n");
  char msg[600];
  snprintf(msg, sizeof msg, "not ready: %s\n", why ? why : "out of memory");
  free(why);
  return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
}

static enum MHD_Result progress(ims_http_server *s, struct MHD_Connection *c) {
  char *json = ims__metrics_progress_copy(s->metrics);
  if (json == NULL)
    return text(c, MHD_HTTP_NOT_FOUND, "no batch committed yet\n");
  return reply(c, MHD_HTTP_OK, "application/json", json, strlen(json));
}

/* /api/rows?after=ID: the recent rows after ID (0 or absent: all). */
static enum MHD_Result rows(ims_http_server *s, struct MHD_Connection *c) {
  const char *after =
      MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
  uint64_t from = 0;
  if (after != NULL) {
    char *end = NULL;
    unsigned long long v = strtoull(after, &end, 10);
    if (*after < '0' || *after > '9' || *end != '\0' || strlen(after) > 19)
      return text(c, MHD_HTTP_BAD_REQUEST, "after: a row id (digits)\n");
    from = v;
  }
  char *json = ims__metrics_rows_json(s->metrics, from);
  return reply(c, MHD_HTTP_OK, "application/json", json,
               json ? strlen(json) : 0);
}

/* A file of the live page, from the binary (web/, assets_int.h). */
static enum MHD_Result asset(struct MHD_Connection *c, const ims__asset *a) {
  struct MHD_Response *r = MHD_create_response_from_buffer(
      a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
  if (r == NULL) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
  MHD_add_response_header(r, "Cache-Control", "no-cache");
  /* The page runs only its own files: no inline script, no third party. */
  MHD_add_response_header(r, "Content-Security-Policy",
                          "default-src 'self'; img-src 'self' data:; "
                          "style-src 'self'; script-src 'self'");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **state) {
  ims_http_server *s = cls;
  (void)version;
  (void)upload;
  if (*state == NULL) { /* first call: headers only; come back for body */
    static int seen;
    *state = &seen;
    return MHD_YES;
  }
  if (*upload_size != 0) { /* a body we do not want: drop it */
    *upload_size = 0;
    return MHD_YES;
  }
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
    return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
  if (strcmp(url, "/metrics") == 0) return metrics(s, c);
  if (strcmp(url, "/healthz") == 0) return text(c, MHD_HTTP_OK, "ok\n");
  if (strcmp(url, "/readyz") == 0) return ready(s, c);
  if (strcmp(url, "/api/progress") == 0) return progress(s, c);
  if (strcmp(url, "/api/rows") == 0) return rows(s, c);
  const ims__asset *a = ims__http_asset(url);
  if (a != NULL) return asset(c, a);
  return text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* "PORT" or "HOST:PORT" (numeric IPv4) into *sa. */
static ims_status parse_bind(const char *bind, struct sockaddr_in *sa,
                             ims_error *err) {
  char host[64] = "127.0.0.1";
  const char *colon = strrchr(bind, ':');
  const char *port = colon ? colon + 1 : bind;
  if (colon != NULL) {
    size_t n = (size_t)(colon - bind);
    if (n == 0 || n >= sizeof host) goto bad;
    memcpy(host, bind, n);
    host[n] = '\0';
  }
  char *end = NULL;
  long p = strtol(port, &end, 10);
  if (*port == '\0' || *end != '\0' || p < 0 || p > 65535) goto bad;
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_port = htons((uint16_t)p);
  if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) goto bad;
  return IMS_OK;
bad:
  return ims__fail(err, IMS_ERR_INVALID_ARG,
                   "http: '%s' is not [HOST:]PORT (HOST a numeric IPv4 "
                   "address, PORT 0..65535)",
                   bind);
}

ims_status ims_http_start(const char *bind, ims_metrics *m,
                          ims_http_server **out, ims_error *err) {
  struct sockaddr_in sa;
  if (bind == NULL || m == NULL || out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "http: no address");
  ims_status st = parse_bind(bind, &sa, err);
  if (st != IMS_OK) return st;
  ims_http_server *s = calloc(1, sizeof *s);
  if (s == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  s->metrics = m;
  errno = 0;
  s->daemon = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL, answer,
      s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_SECONDS,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MEMORY_PER_CONNECTION,
      MHD_OPTION_END);
  if (s->daemon == NULL) {
    int e = errno;
    free(s);
    return ims__fail(err, IMS_ERR_IO, "http: cannot listen on %s: %s", bind,
                     e ? strerror(e) : "libmicrohttpd refused");
  }
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : ntohs(sa.sin_port);
  *out = s;
  return IMS_OK;
}

uint16_t ims_http_port(const ims_http_server *s) { return s->port; }

void ims_http_stop(ims_http_server *s) {
  if (s == NULL) return;
  MHD_stop_daemon(s->daemon);
  free(s);
}
