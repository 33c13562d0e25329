/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/http_load.c - ims_http_load, a load generator for the HTTP
 * server of `imgstream stream --http` (issue 16: hostile HTTP at 1,000
 * requests per second during a stream). Built by tests/http_load.cmake;
 * run by the http_load test and bench/bench_http.sh.
 *
 *   ims_http_load --port P [--host 127.0.0.1] [--rate 1000]
 *                 [--seconds 10] [--connections 8] [--json] [--while-up]
 *
 * --while-up (for benchmarks): the run also ends at the first refused
 * connection, the server being gone (requests in flight then count as
 * unanswered; those not sent are not an error).
 *
 * How it works: request i of the run (rate x seconds of them) is due at
 * start + i / rate. One thread, one poll() loop over `connections`
 * keep-alive TCP connections (non-blocking; a closed one is reopened
 * when a request needs it): each due request goes out on an idle
 * connection, one request in flight per connection, no pipelining. A
 * request that finds every connection busy waits and goes late (the
 * report says how late); the schedule does not skip it, so a slow
 * server shows as a lower achieved rate, never as fewer requests.
 * Answers are read with the bounded parser of http_reply.h
 * (Content-Length, chunked, or until close) and timed from the
 * request's first byte to the answer's last.
 *
 * The requests: a fixed cycle of the kinds in kinds[] below, request i
 * being kinds[i % N], so every run sends the same mix. Each kind says
 * which answers are right: 2xx for the valid ones (404 too for
 * /api/progress before the first batch and for /thumb/1, whose row may
 * have left the recent window; 503 too for /readyz while the model
 * loads), a 4xx for the hostile ones, and for the three that are not
 * HTTP at all (a malformed request line, a header over the server's
 * 16 KB, garbage bytes) a 4xx or the connection closed unanswered.
 * Their connection is closed after them either way.
 *
 * It reports requests sent, answers by status, the connections closed
 * unanswered where that is right, the unexpected outcomes (a 5xx but
 * /readyz's 503, a 2xx to a hostile request, a 4xx to a valid one, no
 * answer or a malformed or late (> 10 s) one to a request that needed
 * one, bytes after an answer), the achieved rate and latency p50/p99;
 * the first 10 unexpected outcomes are described on stderr. Exit 0 if
 * every request was sent and answered as expected, 1 if not, 2 on a
 * usage error.
 *
 * Not here: HTTP/2, TLS, HEAD, request bodies streamed slowly.
 *
 * Sections: 1. the requests  2. the tally  3. connections  4. the run
 * 5. the report  6. main
 *
 * Threading: single-threaded; all state is in one `load`.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "support/http_reply.h"

#define REPLY_TIMEOUT_S 10.0 /* an answer later than this: unexpected */
#define SEND_GRACE_S 10.0    /* past seconds: stop sending what is left */
#define RETRY_CONNECT_S 0.01 /* after a failed connect */
#define BIG_HEADER 20000     /* the oversized request's header, bytes */
#define MAX_REQUESTS 10000000L
#define MAX_REPORTED 10      /* unexpected outcomes described on stderr */

/* ---- 1. the requests ---- */

enum {
  EXPECT_2XX = 1,   /* any 2xx */
  EXPECT_404 = 2,   /* a 404 */
  EXPECT_503 = 4,   /* a 503 (/readyz while not ready) */
  EXPECT_4XX = 8,   /* any 4xx */
  EXPECT_CLOSE = 16 /* closed unanswered; the connection is closed after */
};

typedef struct request_kind {
  const char *name;  /* in reports */
  const char *bytes; /* the request; NULL: the oversized one (built) */
  size_t len;        /* its bytes (0: strlen) */
  unsigned expect;   /* EXPECT_* bits: the right answers */
} request_kind;

#define GET(path)                                                 \
  "GET " path " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: "      \
  "ims_http_load\r\nAccept: */*\r\n\r\n"
#define POST_BODY "imgstream=hostile&body=yes" /* 26 bytes */
#define GARBAGE                                                   \
  "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x00\xff\xfe\r\n" \
  "\x80\x81\x00 \x7f\r\n\r\n"

/* The cycle: 9 valid requests, 11 hostile ones. */
static const request_kind kinds[] = {
    {"GET /metrics", GET("/metrics"), 0, EXPECT_2XX},
    {"GET /healthz", GET("/healthz"), 0, EXPECT_2XX},
    {"GET /no/such/path", GET("/no/such/path"), 0, EXPECT_4XX},
    {"GET /readyz", GET("/readyz"), 0, EXPECT_2XX | EXPECT_503},
    {"GET /../etc/passwd", GET("/../etc/passwd"), 0, EXPECT_4XX},
    {"GET /api/progress", GET("/api/progress"), 0, EXPECT_2XX | EXPECT_404},
    {"GET /thumb/../../etc/passwd", GET("/thumb/../../etc/passwd"), 0,
     EXPECT_4XX},
    {"GET /api/rows?after=0", GET("/api/rows?after=0"), 0, EXPECT_2XX},
    {"GET /thumb/abc", GET("/thumb/abc"), 0, EXPECT_4XX},
    {"GET /thumb/1", GET("/thumb/1"), 0, EXPECT_2XX | EXPECT_404},
    {"GET /thumb/99999999999", GET("/thumb/99999999999"), 0, EXPECT_4XX},
    {"GET /metrics", GET("/metrics"), 0, EXPECT_2XX},
    {"GET /api/rows?after=-1", GET("/api/rows?after=-1"), 0, EXPECT_4XX},
    {"GET /api/rows?after=250", GET("/api/rows?after=250"), 0, EXPECT_2XX},
    {"GET /api/rows?after=%00", GET("/api/rows?after=%00"), 0, EXPECT_4XX},
    {"POST /metrics with a body",
     "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
     "application/x-www-form-urlencoded\r\nContent-Length: 26\r\n\r\n"
     POST_BODY, 0, EXPECT_4XX},
    {"malformed request line",
     "GET /metrics HTTP/1.1 junk\r\nHost: 127.0.0.1\r\n\r\n", 0,
     EXPECT_4XX | EXPECT_CLOSE},
    {"GET /healthz", GET("/healthz"), 0, EXPECT_2XX},
    {"oversized header (20 KB)", NULL, 0, EXPECT_4XX | EXPECT_CLOSE},
    {"garbage bytes", GARBAGE, sizeof GARBAGE - 1, EXPECT_4XX | EXPECT_CLOSE},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])
_Static_assert(NKINDS <= 32, "tally.by_kind has room for 32 kinds");

/* ---- 2. the tally ---- */

enum {
  U_5XX,         /* a 5xx, other than /readyz's 503 */
  U_2XX_HOSTILE, /* a 2xx to a hostile request */
  U_4XX_VALID,   /* a 4xx to a valid request (but a 404 allowed) */
  U_OTHER,       /* 1xx (final), 3xx or unknown */
  U_NO_ANSWER,   /* closed unanswered, the request needed an answer */
  U_BAD_ANSWER,  /* not HTTP, cut short, or bytes after it */
  U_TIMEOUT,     /* no answer in REPLY_TIMEOUT_S */
  U_COUNT
};
static const char *const unexpected_names[U_COUNT] = {
    "5xx", "2xx_to_hostile", "4xx_to_valid", "other_status",
    "no_answer", "bad_answer", "timeout"};

typedef struct tally {
  long planned;          /* rate x seconds */
  long sent;             /* requests whose first byte went out */
  long answered;         /* complete answers */
  long closed_ok;        /* closed unanswered where that is right */
  long unexpected[U_COUNT];
  long by_status[600];   /* answers by status code */
  long by_kind[32][6];   /* per kinds[] entry: [0] closed unanswered,
                            [1..5] answers by class (1xx..5xx) */
  long connects;         /* connections opened */
  long connect_errors;   /* connect() failures */
  double *latency;       /* owned: seconds, one per answer */
  double max_late;       /* seconds a send was behind its schedule */
  double t_last_send;    /* when the last request went out */
  double t_end;          /* when the run ended */
  int reported;          /* unexpected outcomes described so far */
} tally;

static long unexpected_total(const tally *t) {
  long n = 0;
  for (int u = 0; u < U_COUNT; u++) n += t->unexpected[u];
  return n;
}

/* Count outcome u of request `req` (of kind k; NULL: bytes on an idle
 * connection); describe the first ones on stderr. */
static void unexpected(tally *t, int u, long req, const request_kind *k,
                       int status) {
  t->unexpected[u]++;
  if (t->reported++ >= MAX_REPORTED) return;
  fprintf(stderr, "ims_http_load: unexpected: request %ld (%s): %s", req,
          k ? k->name : "none in flight", unexpected_names[u]);
  if (status > 0) fprintf(stderr, " (status %d)", status);
  fputc('\n', stderr);
}

/* Whether status s answers kind k as expected; else the U_* why. */
static int judge(const request_kind *k, int s) {
  if (s >= 200 && s < 300) return k->expect & EXPECT_2XX ? -1 : U_2XX_HOSTILE;
  if (s == 404 && (k->expect & (EXPECT_404 | EXPECT_4XX))) return -1;
  if (s == 503 && (k->expect & EXPECT_503)) return -1;
  if (s >= 500) return U_5XX;
  if (s >= 400) return k->expect & EXPECT_4XX ? -1 : U_4XX_VALID;
  return U_OTHER;
}

/* ---- 3. connections ---- */

typedef struct conn {
  int fd;                   /* -1: closed */
  bool connecting;          /* a non-blocking connect() under way */
  double retry_at;          /* closed after a failed connect: not before */
  long req;                 /* request in flight, -1: idle */
  const request_kind *kind; /* its kind */
  const char *bytes;        /* BORROWED: its bytes */
  size_t len, sent;         /* its length, bytes written */
  double t_sent;            /* when its first byte went */
  http_reply reply;         /* its answer so far */
} conn;

typedef struct load {
  const char *host;        /* --host, numeric IPv4 */
  int port;                /* --port */
  double rate, seconds;    /* --rate, --seconds */
  int nconns;              /* --connections */
  bool json;               /* --json */
  bool while_up;           /* --while-up */
  bool gone;               /* while_up: a connection was refused */
  struct sockaddr_in addr; /* host:port */
  conn *c;                 /* owned: nconns of them */
  char *big;               /* owned: the oversized request */
  size_t big_len;
  long next;               /* the next request to send */
  double t0;               /* when request 0 was due */
  tally t;
} load;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void conn_close(conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->connecting = false;
  c->req = -1;
}

/* c's connect failed with errno e: closed, retried later. */
static void connect_failed(load *L, conn *c, double t, int e) {
  L->t.connect_errors++;
  if (e == ECONNREFUSED && L->while_up) L->gone = true;
  conn_close(c);
  c->retry_at = t + RETRY_CONNECT_S;
}

/* Start a non-blocking connect on closed connection c. */
static void conn_open(load *L, conn *c, double t) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    L->t.connect_errors++;
    c->retry_at = t + RETRY_CONNECT_S;
    return;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  L->t.connects++;
  int rc = connect(c->fd, (struct sockaddr *)&L->addr, sizeof L->addr);
  if (rc == 0) return;
  if (errno == EINPROGRESS) {
    c->connecting = true;
    return;
  }
  connect_failed(L, c, t, errno);
}

/* A connect under way is writable: done, or failed (closed). */
static void conn_connected(load *L, conn *c, double t) {
  int e = 0;
  socklen_t n = sizeof e;
  c->connecting = false;
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &n) == 0 && e == 0) return;
  connect_failed(L, c, t, e);
}

/* Write what is left of c's request; false if the connection broke. */
static bool conn_write(conn *c) {
  while (c->sent < c->len) {
    ssize_t w = send(c->fd, c->bytes + c->sent, c->len - c->sent,
                     MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (w <= 0) return false;
    c->sent += (size_t)w;
  }
  return true;
}

/* ---- 4. the run ---- */

/* c's request ended: answered (status > 0), or closed unanswered
 * (status 0). Tallies it, then readies or closes c. */
static void finish(load *L, conn *c, int status, double t) {
  tally *T = &L->t;
  const request_kind *k = c->kind;
  T->by_kind[k - kinds][status / 100]++;
  if (status > 0) {
    T->answered++;
    T->by_status[status]++;
    T->latency[T->answered - 1] = t - c->t_sent;
    int u = judge(k, status);
    if (u >= 0) unexpected(T, u, c->req, k, status);
  } else if (k->expect & EXPECT_CLOSE) {
    T->closed_ok++;
  } else {
    unexpected(T, U_NO_ANSWER, c->req, k, 0);
  }
  bool keep = status > 0 && !c->reply.close && !(k->expect & EXPECT_CLOSE);
  c->req = -1;
  if (!keep) conn_close(c);
}

/* Request i on idle connection c. */
static void send_request(load *L, conn *c, long i, double t) {
  const request_kind *k = &kinds[(size_t)i % NKINDS];
  c->req = i;
  c->kind = k;
  c->bytes = k->bytes != NULL ? k->bytes : L->big;
  c->len = k->bytes == NULL ? L->big_len : k->len ? k->len : strlen(k->bytes);
  c->sent = 0;
  c->t_sent = t;
  http_reply_init(&c->reply);
  L->t.sent++;
  L->t.t_last_send = t;
  double late = t - (L->t0 + (double)i / L->rate);
  if (late > L->t.max_late) L->t.max_late = late;
  if (!conn_write(c)) finish(L, c, 0, t); /* closed before it all went */
}

/* Send every due request an idle connection can take; open closed
 * connections while requests wait. */
static void dispatch(load *L, double t) {
  for (int j = 0; j < L->nconns; j++) {
    conn *c = &L->c[j];
    if (L->next >= L->t.planned || L->t0 + (double)L->next / L->rate > t)
      return;
    if (c->fd < 0 && t >= c->retry_at) conn_open(L, c, t);
    if (c->fd >= 0 && !c->connecting && c->req < 0)
      send_request(L, c, L->next++, t);
  }
}

/* Bytes arrived on c (POLLIN or POLLHUP): feed its request's answer. */
static void conn_read(load *L, conn *c, double t) {
  char buf[65536];
  ssize_t r = recv(c->fd, buf, sizeof buf, 0);
  if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (c->req < 0) { /* idle: the server closed it, or spoke unasked */
    if (r > 0) unexpected(&L->t, U_BAD_ANSWER, -1, NULL, 0);
    conn_close(c);
    return;
  }
  if (r <= 0) {
    http_reply_result e = http_reply_eof(&c->reply);
    if (e == HTTP_REPLY_DONE) finish(L, c, c->reply.status, t);
    else if (e == HTTP_REPLY_MORE) finish(L, c, 0, t);
    else if (c->kind->expect & EXPECT_CLOSE) /* cut: judged by its head */
      finish(L, c, c->reply.status, t);
    else {
      unexpected(&L->t, U_BAD_ANSWER, c->req, c->kind, 0);
      conn_close(c);
    }
    return;
  }
  size_t used = 0;
  http_reply_result res = http_reply_feed(&c->reply, buf, (size_t)r, &used);
  if (res == HTTP_REPLY_DONE && used == (size_t)r) {
    finish(L, c, c->reply.status, t);
  } else if (res != HTTP_REPLY_MORE) { /* not HTTP, or bytes after it */
    unexpected(&L->t, U_BAD_ANSWER, c->req, c->kind, c->reply.status);
    conn_close(c);
  }
}

/* Requests unanswered for REPLY_TIMEOUT_S: unexpected, connection
 * closed. */
static void expire(load *L, double t) {
  for (int j = 0; j < L->nconns; j++) {
    conn *c = &L->c[j];
    if (c->req >= 0 && t - c->t_sent > REPLY_TIMEOUT_S) {
      unexpected(&L->t, U_TIMEOUT, c->req, c->kind, 0);
      conn_close(c);
    }
  }
}

static int in_flight(const load *L) {
  int n = 0;
  for (int j = 0; j < L->nconns; j++) n += L->c[j].req >= 0;
  return n;
}

/* How long to wait for the sockets: until the next request is due; if
 * it is due already (dispatch found no connection for it), until a
 * connection is free: an answer, or a closed one's retry time. At most
 * 50 ms, so that expire() runs. */
static double next_wait(const load *L, double t) {
  double wait = 0.05;
  if (L->next >= L->t.planned) return wait;
  double due = L->t0 + (double)L->next / L->rate - t;
  if (due > 0) return due < wait ? due : wait;
  for (int j = 0; j < L->nconns; j++) {
    const conn *c = &L->c[j];
    if (c->fd < 0 && c->retry_at - t < wait)
      wait = c->retry_at - t > 0 ? c->retry_at - t : 0;
  }
  return wait;
}

/* Wait for the sockets (next_wait), then serve what they have. */
static void wait_io(load *L, double t) {
  struct pollfd p[256];
  int n = 0;
  for (int j = 0; j < L->nconns; j++) {
    conn *c = &L->c[j];
    bool writing = c->connecting || (c->req >= 0 && c->sent < c->len);
    p[j] = (struct pollfd){c->fd, (short)(POLLIN | (writing ? POLLOUT : 0)),
                           0};
    n += c->fd >= 0;
  }
  double wait = next_wait(L, t);
  struct timespec ts = {0, (long)(wait * 1e9)};
  if (ppoll(p, (nfds_t)L->nconns, &ts, NULL) <= 0 || n == 0) return;
  double t2 = now();
  for (int j = 0; j < L->nconns; j++) {
    conn *c = &L->c[j];
    if (c->fd < 0 || p[j].revents == 0) continue;
    if (c->connecting) conn_connected(L, c, t2);
    else if (p[j].revents & (POLLIN | POLLHUP | POLLERR)) conn_read(L, c, t2);
    else if (c->req >= 0 && !conn_write(c)) finish(L, c, 0, t2);
  }
}

/* The whole run: send on schedule, then wait for the last answers. */
static void run(load *L) {
  L->t0 = now();
  double stop_sending = L->t0 + L->seconds + SEND_GRACE_S;
  for (;;) {
    double t = now();
    if (t < stop_sending && !L->gone) dispatch(L, t);
    expire(L, t);
    bool sending = L->next < L->t.planned && t < stop_sending && !L->gone;
    if (!sending && in_flight(L) == 0) break;
    wait_io(L, t);
  }
  L->t.t_end = now();
  for (int j = 0; j < L->nconns; j++) conn_close(&L->c[j]);
}

/* ---- 5. the report ---- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Quantile q of the sorted v[0..n), in ms; 0 if empty. */
static double quantile_ms(const double *v, long n, double q) {
  if (n == 0) return 0;
  long i = (long)(q * (double)(n - 1) + 0.5);
  return v[i] * 1e3;
}

/* CPU seconds (user + system) this process used. */
static double cpu_seconds(void) {
  struct rusage u;
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
  return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

static double achieved_rate(const load *L) {
  if (L->t.sent == 0) return 0;
  return (double)L->t.sent / (L->t.t_last_send - L->t0 + 1.0 / L->rate);
}

static void report_text(const load *L, double p50, double p99) {
  const tally *T = &L->t;
  printf("ims_http_load: %s:%d, %ld requests at %g/s over %g s, %d "
         "connections\n", L->host, L->port, T->planned, L->rate, L->seconds,
         L->nconns);
  printf("sent %ld (%.1f/s achieved, up to %.1f ms behind schedule), "
         "not sent %ld\n", T->sent, achieved_rate(L), T->max_late * 1e3,
         T->planned - T->sent);
  printf("answered %ld, closed unanswered as allowed %ld; connections "
         "opened %ld (%ld failed); %.2f s, %.2f CPU s\n", T->answered,
         T->closed_ok, T->connects, T->connect_errors, T->t_end - L->t0,
         cpu_seconds());
  printf("status:");
  for (int s = 0; s < 600; s++)
    if (T->by_status[s] > 0) printf(" %d: %ld", s, T->by_status[s]);
  printf("\n");
  for (size_t k = 0; k < NKINDS; k++) {
    const long *b = T->by_kind[k];
    printf("  %-28s 2xx %5ld  4xx %5ld  5xx %5ld  closed %5ld\n",
           kinds[k].name, b[2], b[4], b[5], b[0]);
  }
  printf("latency p50 %.3f ms, p99 %.3f ms\nunexpected %ld:", p50, p99,
         unexpected_total(T));
  for (int u = 0; u < U_COUNT; u++)
    printf(" %s %ld", unexpected_names[u], T->unexpected[u]);
  printf("\n");
}

static void report_json(const load *L, double p50, double p99) {
  const tally *T = &L->t;
  printf("{\"planned\":%ld,\"sent\":%ld,\"answered\":%ld,\"closed_ok\":%ld,"
         "\"unexpected\":%ld,\"rate\":%.1f,\"seconds\":%.3f,"
         "\"max_late_ms\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
         "\"connects\":%ld,\"connect_errors\":%ld,\"cpu_s\":%.3f,"
         "\"status\":{",
         T->planned, T->sent, T->answered, T->closed_ok, unexpected_total(T),
         achieved_rate(L), T->t_end - L->t0, T->max_late * 1e3, p50, p99,
         T->connects, T->connect_errors, cpu_seconds());
  const char *sep = "";
  for (int s = 0; s < 600; s++) {
    if (T->by_status[s] == 0) continue;
    printf("%s\"%d\":%ld", sep, s, T->by_status[s]);
    sep = ",";
  }
  printf("},\"unexpected_by\":{");
  for (int u = 0; u < U_COUNT; u++)
    printf("%s\"%s\":%ld", u ? "," : "", unexpected_names[u],
           T->unexpected[u]);
  printf("},\"kinds\":[");
  for (size_t k = 0; k < NKINDS; k++) {
    const long *b = T->by_kind[k];
    printf("%s{\"name\":\"%s\",\"2xx\":%ld,\"4xx\":%ld,\"5xx\":%ld,"
           "\"closed\":%ld}", k ? "," : "", kinds[k].name, b[2], b[4], b[5],
           b[0]);
  }
  printf("]}\n");
}

/* Print the report; returns the exit code. */
static int report(load *L) {
  tally *T = &L->t;
  qsort(T->latency, (size_t)T->answered, sizeof *T->latency, cmp_double);
  double p50 = quantile_ms(T->latency, T->answered, 0.50);
  double p99 = quantile_ms(T->latency, T->answered, 0.99);
  if (L->json) report_json(L, p50, p99);
  else report_text(L, p50, p99);
  bool unsent_ok = L->while_up && L->gone;
  if (T->sent < T->planned && !unsent_ok)
    fprintf(stderr, "ims_http_load: %ld requests not sent within %g s\n",
            T->planned - T->sent, L->seconds + SEND_GRACE_S);
  if (fflush(stdout) != 0 || ferror(stdout)) return 1;
  return unexpected_total(T) == 0 && (T->sent == T->planned || unsent_ok)
             ? 0
             : 1;
}

/* ---- 6. main ---- */

/* The usage on `out`; returns the exit code: 0 for --help, else 2. */
static int usage(FILE *out, const char *why) {
  if (why != NULL) fprintf(stderr, "ims_http_load: %s\n", why);
  fprintf(out,
          "usage: ims_http_load --port P [--host 127.0.0.1] [--rate 1000]\n"
          "                     [--seconds 10] [--connections 8] [--json]\n"
          "                     [--while-up]\n");
  return out == stdout ? 0 : 2;
}

/* The command line into *L; -1, or the exit code (--help, a usage
 * error). */
static int parse_args(load *L, int argc, char **argv) {
  static const struct option opts[] = {
      {"connections", required_argument, NULL, 'c'},
      {"help", no_argument, NULL, 'h'},
      {"host", required_argument, NULL, 'H'},
      {"json", no_argument, NULL, 'j'},
      {"port", required_argument, NULL, 'p'},
      {"rate", required_argument, NULL, 'r'},
      {"seconds", required_argument, NULL, 's'},
      {"while-up", no_argument, NULL, 'w'},
      {NULL, 0, NULL, 0}};
  int o;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'c': L->nconns = atoi(optarg); break;
    case 'H': L->host = optarg; break;
    case 'j': L->json = true; break;
    case 'p': L->port = atoi(optarg); break;
    case 'r': L->rate = atof(optarg); break;
    case 's': L->seconds = atof(optarg); break;
    case 'w': L->while_up = true; break;
    case 'h': return usage(stdout, NULL);
    default: return usage(stderr, NULL);
    }
  }
  if (optind != argc) return usage(stderr, "unexpected arguments");
  if (L->port <= 0 || L->port > 65535)
    return usage(stderr, "--port 1..65535");
  if (!(L->rate >= 1 && L->rate <= 100000))
    return usage(stderr, "--rate 1..100000");
  if (!(L->seconds > 0 && L->rate * L->seconds <= MAX_REQUESTS))
    return usage(stderr, "--seconds > 0, rate x seconds <= 10,000,000");
  if (L->nconns < 1 || L->nconns > 256)
    return usage(stderr, "--connections 1..256");
  L->addr.sin_family = AF_INET;
  L->addr.sin_port = htons((uint16_t)L->port);
  if (inet_pton(AF_INET, L->host, &L->addr.sin_addr) != 1)
    return usage(stderr, "--host: a numeric IPv4 address");
  return -1;
}

/* The oversized request: a valid GET whose one header passes 16 KB. */
static char *make_big(size_t *len_out) {
  static const char head[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "X-Oversized: ";
  size_t len = sizeof head - 1 + BIG_HEADER + 4;
  char *b = malloc(len);
  if (b == NULL) return NULL;
  memcpy(b, head, sizeof head - 1);
  memset(b + sizeof head - 1, 'a', BIG_HEADER);
  memcpy(b + len - 4, "\r\n\r\n", 4);
  *len_out = len;
  return b;
}

int main(int argc, char **argv) {
  load L = {.host = "127.0.0.1", .rate = 1000, .seconds = 10, .nconns = 8};
  int rc = parse_args(&L, argc, argv);
  if (rc >= 0) return rc;
  L.t.planned = (long)(L.rate * L.seconds + 0.5);
  L.c = calloc((size_t)L.nconns, sizeof *L.c);
  L.t.latency = calloc((size_t)L.t.planned + 1, sizeof *L.t.latency);
  L.big = make_big(&L.big_len);
  if (L.c == NULL || L.t.latency == NULL || L.big == NULL) {
    fprintf(stderr, "ims_http_load: out of memory\n");
    rc = 1;
    goto done;
  }
  for (int j = 0; j < L.nconns; j++) L.c[j] = (conn){.fd = -1, .req = -1};
  run(&L);
  rc = report(&L);
done:
  free(L.c);
  free(L.t.latency);
  free(L.big);
  return rc;
}
