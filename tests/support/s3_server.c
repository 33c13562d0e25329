/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/s3_server.c - see s3_server.h: s3rver under node as a child of
 * the test (nats_server.c's nchild_fork), a libcurl GET that bypasses
 * imgstream, and a forking TCP proxy that cuts connections and answers
 * 503 SlowDown.
 *
 * Sections: 1. the server  2. a proxy that cuts connections
 *
 * Threading: single-threaded; the proxy runs in child processes.
 */
#define _GNU_SOURCE
#include "support/s3_server.h"
#include "support/tool.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- 1. the server ---- */

const char *s3srv_script(void) {
  bool ci = strcmp(test__env_or("CI", ""), "true") == 0;
  if (system("command -v node >/dev/null 2>&1") != 0) {
    if (ci) TEST__FAIL("node is not installed (CI=true: not skipping)");
    RETURN_SKIP("node is not installed");
  }
  const char *js = getenv("IMGSTREAM_S3RVER");
  if (js == NULL || access(js, R_OK) != 0)
    TEST__FAIL(
        "IMGSTREAM_S3RVER=%s: not installed (the s3_server_install "
        "fixture runs tests/s3/setup.sh)",
        js ? js : "(unset)");
  return js;
}

static bool s3srv__up(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  if (fd >= 0) close(fd);
  return ok;
}

static void s3srv__spawn(s3srv *s) {
  const char *js = s3srv_script();
  pid_t pid = nchild_fork();
  if (pid == 0) {
    int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int in = open("/dev/null", O_RDONLY);
    if (fd < 0 || in < 0) _exit(126);
    dup2(in, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    execlp("node", "node", "--openssl-legacy-provider", js, "-d", s->dir, "-a",
           "127.0.0.1", "-p", port, "--configure-bucket", S3SRV_BUCKET,
           (char *)NULL);
    _exit(127);
  }
  s->pid = pid;
  double end = test_now() + 60;
  while (!s3srv__up(s->port)) {
    int code = 0;
    if (nchild_exited(pid, &code) || test_now() > end) {
      ntail(s->log, 3000);
      TEST__FAIL("s3rver on port %d did not start (exit %d)", s->port, code);
    }
    test_sleep_ms(50);
  }
}

void s3srv_start(s3srv *s, const char *name) {
  memset(s, 0, sizeof *s);
  s->port = nsrv_free_port();
  snprintf(s->dir, sizeof s->dir, "%s", tmp_path(test_strf("%s_s3data", name)));
  snprintf(s->log, sizeof s->log, "%s", tmp_path(test_strf("%s_s3.log", name)));
  snprintf(s->endpoint, sizeof s->endpoint, "http://127.0.0.1:%d", s->port);
  tool_rm_rf(s->dir);
  unlink(s->log);
  if (mkdir(s->dir, 0755) != 0) TEST__FAIL("mkdir %s", s->dir);
  setenv("AWS_ENDPOINT_URL", s->endpoint, 1);
  setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
  unsetenv("AWS_SESSION_TOKEN");
  unsetenv("AWS_REGION");
  s3srv__spawn(s);
}

void s3srv_kill(s3srv *s) {
  nchild_kill(s->pid);
  s->pid = 0;
}

void s3srv_restart(s3srv *s) { s3srv__spawn(s); }

const char *s3srv_url(const char *prefix) {
  return test_strf("s3://%s/%s", S3SRV_BUCKET, prefix);
}

typedef struct s3srv__buf {
  char *data; /* malloc'd, NUL-terminated */
  size_t len; /* bytes */
} s3srv__buf;

static size_t s3srv__body(char *p, size_t size, size_t n, void *ctx) {
  s3srv__buf *b = ctx;
  char *grown = realloc(b->data, b->len + size * n + 1);
  if (grown == NULL) return 0;
  memcpy(grown + b->len, p, size * n);
  b->len += size * n;
  grown[b->len] = '\0';
  b->data = grown;
  return size * n;
}

long s3srv_get(const s3srv *s, const char *key, char **body, size_t *len,
               char *type, size_t type_cap) {
  CURL *c = curl_easy_init();
  if (c == NULL) TEST__FAIL("curl_easy_init");
  s3srv__buf buf = {NULL, 0};
  char url[4400];
  snprintf(url, sizeof url, "%s/%s/%s", s->endpoint, S3SRV_BUCKET, key);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s3srv__body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
  long http = 0;
  char *ct = NULL;
  if (curl_easy_perform(c) != CURLE_OK) TEST__FAIL("GET %s", url);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
  snprintf(type, type_cap, "%s", ct ? ct : "");
  curl_easy_cleanup(c);
  *body = buf.data;
  *len = buf.len;
  return http;
}

/* ---- 2. a proxy that cuts connections ---- */

/* Copy up to n bytes; -1 on error/EOF. */
static long s3proxy__pass(int from, int to, long n) {
  char buf[16384];
  ssize_t r =
      read(from, buf, (size_t)(n < (long)sizeof buf ? n : (long)sizeof buf));
  if (r <= 0) return -1;
  for (ssize_t off = 0; off < r;) {
    ssize_t w = write(to, buf + off, (size_t)(r - off));
    if (w <= 0) return -1;
    off += w;
  }
  return (long)r;
}

/* Serve one client: forward to upstream_port until either side closes or
 * `budget` bytes went to the client; then reset the client (RST). */
static void s3proxy__serve(int client, int upstream_port, long budget) {
  int up = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)upstream_port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  long sent = 0;
  if (up >= 0 && connect(up, (struct sockaddr *)&a, sizeof a) == 0) {
    for (;;) {
      struct pollfd p[2] = {{client, POLLIN, 0}, {up, POLLIN, 0}};
      if (poll(p, 2, 60000) <= 0) break;
      if ((p[0].revents & (POLLIN | POLLHUP)) &&
          s3proxy__pass(client, up, 1L << 20) < 0)
        break;
      if (p[1].revents & (POLLIN | POLLHUP)) {
        long n = s3proxy__pass(up, client, budget - sent);
        if (n < 0) break;
        sent += n;
        if (sent >= budget) break;
      }
    }
  }
  struct linger l = {1, 0}; /* close with RST: a cut, not an end */
  setsockopt(client, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(client);
  if (up >= 0) close(up);
}

/* Answer the request on `client` with AWS's 503 SlowDown and close. */
static void s3proxy__slowdown(int client) {
  static const char reply[] =
      "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
      "Connection: close\r\nContent-Length: 126\r\n\r\n"
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown"
      "</Code><Message>Please reduce your request rate.</Message></Error>";
  char buf[8192];
  if (read(client, buf, sizeof buf) > 0 &&
      write(client, reply, sizeof reply - 1) < 0)
    perror("proxy write");
  close(client);
}

pid_t s3proxy_start(int upstream_port, long min_bytes, long max_bytes,
                    int slowdown_every, unsigned seed, int *port_out) {
  int fd = tool_listen_loopback(port_out);
  if (fd < 0) TEST__FAIL("proxy socket: %s", strerror(errno));
  pid_t pid = nchild_fork();
  if (pid == 0) {
    srand(seed);
    signal(SIGCHLD, SIG_IGN); /* connection processes reap themselves */
    for (long n = 1;; n++) {
      int c = accept(fd, NULL, NULL);
      if (c < 0) continue;
      long budget = min_bytes + rand() % (max_bytes - min_bytes + 1);
      if (fork() == 0) { /* one process per connection: curl keeps several
                            open at once, and idle ones alive */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(fd);
        if (slowdown_every > 0 && n % slowdown_every == 0)
          s3proxy__slowdown(c);
        else
          s3proxy__serve(c, upstream_port, budget);
        _exit(0);
      }
      close(c);
    }
  }
  close(fd);
  return pid;
}

