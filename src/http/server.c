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
 *   GET /api/history   the last 600 progress records: {"batches":[...]}
 *   GET /api/info      source, model, uptime and totals
 *   GET /thumb/ID      row ID's image as the model saw it, shrunk, as a
 *                      JPEG (the last 64 rows; 404 otherwise): the id is
 *                      a number, never a path, so nothing on disk can be
 *                      reached through it
 *   GET /events[?after=ID]  Server-Sent Events: "row" per row, "batch"
 *                      per progress record, a ": ping" comment every 15 s
 *   GET /              the live page (web/, built in: assets_int.h)
 *
 * and 404 for any other path, 405 for any other method. Requests are
 * bounded by libmicrohttpd: 16 KB of memory per connection (a larger
 * request is refused with 431/413), 256 connections, 10 s of idleness.
 * Nothing the server does takes the engine's time but the registry's
 * mutex for a copy (metrics.c).
 *
 * libmicrohttpd runs in external polling mode (epoll: select would fail
 * on a descriptor over 1023), from a thread of ours
 * (serve: MHD_run_wait in a loop), not its internal one: stopping then
 * joins that thread before MHD_stop_daemon, so no request is being
 * answered while the daemon shuts down. libmicrohttpd 0.9.75 (Debian
 * 12) crashes when its internal thread answers a malformed request
 * with an error of its own during MHD_stop_daemon (fixed upstream in
 * 1.0.1); tests/http_load.c's stop-under-load case found it.
 *
 * Event streams never block the server's one thread: a stream with
 * nothing to send suspends its connection (MHD_suspend_connection) and
 * returns 0; the registry's listener (called after each batch) and a
 * ticker thread (every 15 s, for the pings and to notice clients gone)
 * resume the suspended ones. Only a suspended connection is ever resumed
 * from another thread, and libmicrohttpd closes none while suspended, so
 * no resume can reach a freed connection; a resume that comes between
 * our "suspended" mark and the suspend itself cancels the suspend
 * (libmicrohttpd's `resuming` flag), so no wake-up is lost. At most 32
 * event streams (503 beyond).
 *
 * Threading: serve()'s thread calls `answer` and the event readers
 * (through MHD_run_wait); the engine's thread calls the listener; the
 * ticker its own.
 * start/stop from the owner's thread.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/error_int.h"
#include "http/assets_int.h"
#include "core/io_int.h"
#include "http/http_int.h"

#define CONNECTIONS 256
#define IDLE_SECONDS 10
#define MEMORY_PER_CONNECTION (16 * 1024)
#define EVENT_STREAMS 32
#define PING_SECONDS 15
#define LOOP_WAIT_MS 100 /* serve()'s longest wait: how soon a stop ends it */
#define SERVE_NICE 10    /* serve()'s thread priority (nice) */
#define EVENT_ROWS 64 /* rows per read of an event stream */

typedef struct event_stream event_stream;

struct ims_http_server {
  struct MHD_Daemon *daemon; /* owned */
  ims_metrics *metrics;      /* BORROWED */
  uint16_t port;
  pthread_mutex_t lock;      /* guards the event streams' list and marks */
  pthread_cond_t tick;       /* the ticker's sleep; signalled at stop */
  pthread_t ticker;
  bool ticker_started;
  pthread_t loop;            /* serve(): runs the daemon */
  bool loop_started;
  atomic_bool quit;          /* ends serve() */
  bool stopping;
  uint64_t generation;       /* bumped by every wake */
  event_stream *streams;     /* open event streams, a list */
  size_t nstreams;
};

/* One GET /events connection. */
struct event_stream {
  ims_http_server *server;
  struct MHD_Connection *conn;
  uint64_t next_row, next_batch; /* the last ids sent */
  char *pending;                 /* owned: text not yet sent */
  size_t len, off;
  bool suspended;                /* marked by its reader, cleared by a
                                    waker (under server.lock) */
  bool ping_due;                 /* set by the ticker */
  event_stream *next;
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

/* A row id: 1 to 19 digits, nothing else. */
static bool parse_id(const char *s, uint64_t *out) {
  size_t n = strlen(s);
  if (n == 0 || n > 19 || strspn(s, "0123456789") != n) return false;
  *out = strtoull(s, NULL, 10);
  return true;
}

/* ?after=ID (absent: 0). False if malformed. */
static bool after_arg(struct MHD_Connection *c, uint64_t *out) {
  const char *after =
      MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
  *out = 0;
  return after == NULL || parse_id(after, out);
}

static enum MHD_Result json_reply(struct MHD_Connection *c, char *json) {
  return reply(c, MHD_HTTP_OK, "application/json", json,
               json ? strlen(json) : 0);
}

/* /api/rows?after=ID: the recent rows after ID (0 or absent: all). */
static enum MHD_Result rows(ims_http_server *s, struct MHD_Connection *c) {
  uint64_t after;
  if (!after_arg(c, &after))
    return text(c, MHD_HTTP_BAD_REQUEST, "after: a row id (digits)\n");
  return json_reply(c, ims__metrics_rows_json(s->metrics, after,
                                              IMS__RECENT_ROWS));
}

static enum MHD_Result history(ims_http_server *s, struct MHD_Connection *c) {
  uint64_t next;
  return json_reply(c, ims__metrics_history(s->metrics, 0, false, &next));
}

/* /thumb/ID: the row's thumbnail as a JPEG. */
static enum MHD_Result thumb(ims_http_server *s, struct MHD_Connection *c,
                             const char *id_text) {
  uint64_t id;
  if (!parse_id(id_text, &id))
    return text(c, MHD_HTTP_BAD_REQUEST, "thumb: a row id (digits)\n");
  uint8_t *px = malloc(IMS__THUMB_MAX * IMS__THUMB_MAX * 3);
  uint32_t h = 0, w = 0;
  if (px == NULL) return reply(c, 500, "text/plain", NULL, 0);
  if (!ims__metrics_thumb(s->metrics, id, px, &h, &w)) {
    free(px);
    return text(c, MHD_HTTP_NOT_FOUND,
                "no image for that row (not among the last 64 rows, or an "
                "error row)\n");
  }
  size_t len = 0;
  char *jpeg = ims__thumb_jpeg(px, h, w, &len);
  free(px);
  return reply(c, MHD_HTTP_OK, "image/jpeg", jpeg, len);
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

/* ---- event streams (GET /events) ---- */

/* Resume the suspended streams (all, or those with a ping due too).
 * Called with no lock of ours held by the caller. */
static void wake(ims_http_server *s, bool ping) {
  struct MHD_Connection *conns[EVENT_STREAMS];
  size_t n = 0;
  pthread_mutex_lock(&s->lock);
  s->generation++;
  for (event_stream *e = s->streams; e != NULL; e = e->next) {
    if (ping) e->ping_due = true;
    if (e->suspended && n < EVENT_STREAMS) {
      e->suspended = false;
      conns[n++] = e->conn;
    }
  }
  pthread_mutex_unlock(&s->lock);
  /* Suspended connections cannot be closed under us: safe unlocked. */
  for (size_t i = 0; i < n; i++) MHD_resume_connection(conns[i]);
}

/* The registry's listener: a batch or rows were recorded. */
static void on_recorded(void *ctx) { wake(ctx, false); }

static void *ticker(void *arg) {
  ims_http_server *s = arg;
  pthread_mutex_lock(&s->lock);
  while (!s->stopping) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += PING_SECONDS;
    int rc = 0;
    while (!s->stopping && rc == 0)
      rc = pthread_cond_timedwait(&s->tick, &s->lock, &until);
    if (s->stopping) break;
    pthread_mutex_unlock(&s->lock);
    wake(s, true);
    pthread_mutex_lock(&s->lock);
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

/* Put the next events in e->pending: new rows, new batches, a ping. */
static void refill(event_stream *e) {
  ims_metrics *m = e->server->metrics;
  free(e->pending);
  e->pending = NULL;
  e->len = e->off = 0;
  char *rows = ims__metrics_rows_sse(m, e->next_row, EVENT_ROWS,
                                     &e->next_row);
  char *batches = ims__metrics_history(m, e->next_batch, true,
                                       &e->next_batch);
  size_t cap = 0;
  bool ping = e->ping_due;
  e->ping_due = false;
  if ((rows && ims__buf_append(&e->pending, &e->len, &cap, rows,
                               strlen(rows))) ||
      (batches && ims__buf_append(&e->pending, &e->len, &cap, batches,
                                  strlen(batches))) ||
      (ping && ims__buf_append(&e->pending, &e->len, &cap, ": ping\n\n", 8)))
    e->len = 0; /* out of memory: what is lost comes again from /api */
  free(rows);
  free(batches);
}

static ssize_t event_read(void *cls, uint64_t pos, char *buf, size_t max) {
  event_stream *e = cls;
  ims_http_server *s = e->server;
  (void)pos;
  for (;;) {
    if (e->off < e->len) {
      size_t n = e->len - e->off < max ? e->len - e->off : max;
      memcpy(buf, e->pending + e->off, n);
      e->off += n;
      return (ssize_t)n;
    }
    pthread_mutex_lock(&s->lock);
    uint64_t seen = s->generation;
    pthread_mutex_unlock(&s->lock);
    refill(e);
    if (e->len > 0) continue;
    pthread_mutex_lock(&s->lock);
    if (s->stopping) {
      pthread_mutex_unlock(&s->lock);
      return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (s->generation != seen || e->ping_due) { /* woken meanwhile */
      pthread_mutex_unlock(&s->lock);
      continue;
    }
    e->suspended = true;
    pthread_mutex_unlock(&s->lock);
    MHD_suspend_connection(e->conn);
    return 0;
  }
}

/* libmicrohttpd is done with the stream (its connection closed). */
static void event_free(void *cls) {
  event_stream *e = cls;
  ims_http_server *s = e->server;
  pthread_mutex_lock(&s->lock);
  for (event_stream **p = &s->streams; *p != NULL; p = &(*p)->next) {
    if (*p == e) {
      *p = e->next;
      s->nstreams--;
      break;
    }
  }
  pthread_mutex_unlock(&s->lock);
  free(e->pending);
  free(e);
}

static enum MHD_Result events(ims_http_server *s, struct MHD_Connection *c) {
  uint64_t after;
  if (!after_arg(c, &after))
    return text(c, MHD_HTTP_BAD_REQUEST, "after: a row id (digits)\n");
  event_stream *e = calloc(1, sizeof *e);
  if (e == NULL) return reply(c, 500, "text/plain", NULL, 0);
  e->server = s;
  e->conn = c;
  uint64_t rows_now, records_now;
  ims__metrics_positions(s->metrics, &rows_now, &records_now);
  e->next_row = after != 0 ? after : rows_now;
  e->next_batch = records_now;
  pthread_mutex_lock(&s->lock);
  bool full = s->nstreams >= EVENT_STREAMS;
  if (!full) {
    e->next = s->streams;
    s->streams = e;
    s->nstreams++;
  }
  pthread_mutex_unlock(&s->lock);
  if (full) {
    free(e);
    return text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                "too many event streams open (32)\n");
  }
  struct MHD_Response *r = MHD_create_response_from_callback(
      MHD_SIZE_UNKNOWN, 4096, event_read, e, event_free);
  if (r == NULL) {
    event_free(e);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                          "text/event-stream");
  MHD_add_response_header(r, "Cache-Control", "no-store");
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
  if (strcmp(url, "/api/history") == 0) return history(s, c);
  if (strcmp(url, "/api/info") == 0)
    return json_reply(c, ims__metrics_info_json(s->metrics));
  if (strncmp(url, "/thumb/", 7) == 0) return thumb(s, c, url + 7);
  if (strcmp(url, "/events") == 0) return events(s, c);
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

/* The daemon's thread: every request is answered here. A resume wakes
 * MHD_run_wait at once (libmicrohttpd's inter-thread channel). */
static void *serve(void *arg) {
  ims_http_server *s = arg;
  /* Below the stream: on a busy core the scheduler lets inference run
   * on rather than preempt it for every request (Linux: a thread's own
   * nice value). Failure only means the default priority. */
  (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), SERVE_NICE);
  while (!atomic_load(&s->quit)) MHD_run_wait(s->daemon, LOOP_WAIT_MS);
  return NULL;
}

static void server_free(ims_http_server *s) {
  pthread_cond_destroy(&s->tick);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

static ims_http_server *server_new(ims_metrics *m) {
  ims_http_server *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  if (pthread_mutex_init(&s->lock, NULL) != 0) {
    free(s);
    return NULL;
  }
  if (pthread_cond_init(&s->tick, NULL) != 0) {
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
  }
  s->metrics = m;
  atomic_init(&s->quit, false);
  return s;
}

ims_status ims_http_start(const char *bind, ims_metrics *m,
                          ims_http_server **out, ims_error *err) {
  struct sockaddr_in sa;
  if (bind == NULL || m == NULL || out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "http: no address");
  ims_status st = parse_bind(bind, &sa, err);
  if (st != IMS_OK) return st;
  ims_http_server *s = server_new(m);
  if (s == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  errno = 0;
  s->daemon = MHD_start_daemon(
      MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME,
      0, NULL, NULL, answer, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_SECONDS,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MEMORY_PER_CONNECTION,
      MHD_OPTION_END);
  if (s->daemon == NULL) {
    int e = errno;
    server_free(s);
    return ims__fail(err, IMS_ERR_IO, "http: cannot listen on %s: %s", bind,
                     e ? strerror(e) : "libmicrohttpd refused");
  }
  s->loop_started = pthread_create(&s->loop, NULL, serve, s) == 0;
  s->ticker_started =
      s->loop_started && pthread_create(&s->ticker, NULL, ticker, s) == 0;
  if (!s->ticker_started) {
    ims_http_stop(s);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "http: cannot start a thread");
  }
  ims__metrics_listen(m, on_recorded, s);
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : ntohs(sa.sin_port);
  *out = s;
  return IMS_OK;
}

uint16_t ims_http_port(const ims_http_server *s) { return s->port; }

/* The listener goes first (it returns only when no call of it runs),
 * then the ticker and the daemon's thread; the suspended event streams
 * are resumed (libmicrohttpd refuses to stop with any suspended), and
 * the daemon stops with no thread of ours or its own inside it. */
void ims_http_stop(ims_http_server *s) {
  if (s == NULL) return;
  ims__metrics_listen(s->metrics, NULL, NULL);
  pthread_mutex_lock(&s->lock);
  s->stopping = true;
  pthread_cond_signal(&s->tick);
  pthread_mutex_unlock(&s->lock);
  if (s->ticker_started) pthread_join(s->ticker, NULL);
  atomic_store(&s->quit, true);
  if (s->loop_started) pthread_join(s->loop, NULL);
  wake(s, false);
  MHD_stop_daemon(s->daemon);
  server_free(s);
}
