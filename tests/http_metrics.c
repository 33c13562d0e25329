/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_metrics.c - `imgstream stream --http`: the real binary on real
 * flowers, its server checked with libcurl, Debian's promtool and a real
 * Prometheus server, all on 127.0.0.1.
 *
 *   endpoints     40 flowers: /metrics passes `promtool check metrics`
 *                 and counts 40 images ok, 40 latencies, the model's
 *                 sha256; /healthz 200; /readyz 200 while running;
 *                 /api/progress the last progress record; /api/rows the
 *                 40 rows (and those after an id; 400 for a bad id); 404
 *                 for other
 *                 paths (../ included), 405 for POST, 400 for a malformed
 *                 request line, an oversized request refused, 200 idle
 *                 connections held open while /metrics still answers;
 *                 the stream still exits 0
 *   prometheus    a Prometheus server scraping the stream every second:
 *                 its HTTP API reports imgstream_images_total{outcome=
 *                 "ok"} = the images streamed
 *   bind_errors   a port already taken (exit 1, the address named) and a
 *                 malformed --http (exit 2)
 *   live_page_api 80 flowers, paced: /events gives every row once, in
 *                 order, with batch events; a 33rd event stream is
 *                 refused (503); an event stream left open
 *                 does not hold up the tool's exit; read_bytes_total is
 *                 the bucket's bytes; /api/info, /api/history (one
 *                 record per batch), rows marked right/wrong against
 *                 their folder, /thumb/ID a 112x112 JPEG for the last 64
 *                 rows, 404 for others, 400 for anything not digits
 *                 (traversal included); / serves the page
 *   render        the library alone: an empty registry and one with a
 *                 model path full of quotes pass promtool
 *
 * Threading: single-threaded; the tool and the servers are children.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "imgstream/imgstream.h"
#include "support/http_get.h"
#include "support/stream_run.h"
#include "support/tool.h"
#include "test.h"

static char model_path[4096];

/* ---- 1. HTTP from the test ---- */

/* Send raw bytes on a fresh connection; the first line of the answer
 * (static buffer), "" if the server closed without one. */
static const char *raw(int port, const char *req, size_t n) {
  static char line[256];
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
  signal(SIGPIPE, SIG_IGN);
  for (size_t off = 0; off < n;) {
    ssize_t w = write(fd, req + off, n - off);
    if (w <= 0) break; /* the server may close early: fine */
    off += (size_t)w;
  }
  shutdown(fd, SHUT_WR);
  ssize_t r = read(fd, line, sizeof line - 1);
  close(fd);
  line[r > 0 ? r : 0] = '\0';
  line[strcspn(line, "\r\n")] = '\0';
  return line;
}

/* `promtool check metrics` on text: its exit code (77: no promtool). */
static int promtool(const char *text) {
  if (access("/usr/bin/promtool", X_OK) != 0) return 77;
  const char *file = tmp_path("http_metrics.prom");
  ASSERT_EQ(test_write_file(file, text, strlen(text)), 0);
  char cmd[4400];
  snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < '%s' >&2",
           file);
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* ---- 2. the stream ---- */

static pid_t start_stream(const char *name, const srun_bucket *bi,
                          const char *until_idle) {
  const char *const args[] = {"stream", "--source", bi->url, "--model",
                              model_path, "--http", "127.0.0.1:0",
                              "--max-files-per-trigger", "4",
                              "--until-idle", until_idle, "--sink",
                              test_strf("jsonl:%s.jsonl", tmp_path(name)),
                              NULL};
  unlink(test_strf("%s.jsonl", tmp_path(name)));
  unlink(test_strf("%s.err", tmp_path(name))); /* the tool appends */
  return srun_start(name, 0, args);
}

/* Poll /metrics until `images` are counted ok; returns the exposition. */
static char *metrics_once_done(int port, size_t images) {
  for (int i = 0; i < 1200; i++) {
    char *text = NULL;
    if (hget("GET", test_strf("http://127.0.0.1:%d/metrics", port), &text) ==
            200 &&
        hget_sample(text, "imgstream_images_total{outcome=\"ok\"}") ==
            (double)images)
      return text;
    free(text);
    srun_sleep_ms(100);
  }
  TEST__FAIL("/metrics never counted %zu images", images);
}

TEST(http_endpoints) {
  srun_need(model_path, sizeof model_path);
  srun_bucket bi;
  srun_make_bucket(&bi, "http_e_bucket", 40);
  pid_t pid = start_stream("http_e", &bi, "6000");
  int port = srun_announced_port("http_e", pid, NULL);
  ASSERT(port > 0);
  char *text = metrics_once_done(port, 40);
  ASSERT_EQ(hget_sample(text, "imgstream_latency_seconds_count"), 40);
  ASSERT_EQ(hget_sample(text, "imgstream_images_total{outcome=\"error\"}"), 0);
  ASSERT(hget_sample(text, "imgstream_batches_total") >= 10);
  ASSERT(strstr(text, "imgstream_model_info{path=") != NULL);
  ASSERT(strstr(text, "sha256=\"") != NULL);
  ASSERT(hget_sample(text, "process_resident_memory_bytes") > 1e6);
  int rc = promtool(text);
  free(text);
  if (rc != 77) ASSERT_EQ(rc, 0);
  char *b = NULL;
  ASSERT_EQ(hget("GET", test_strf("http://127.0.0.1:%d/healthz", port), &b),
            200);
  ASSERT_STR_EQ(b, "ok\n");
  free(b);
  ASSERT_EQ(hget("GET", test_strf("http://127.0.0.1:%d/readyz", port), NULL),
            200);
  ASSERT_EQ(
      hget("GET", test_strf("http://127.0.0.1:%d/api/progress", port), &b),
      200);
  ASSERT(strstr(b, "\"batchId\":") != NULL);
  free(b);
  /* the recent rows: all 40, each with its label and prediction; after
   * row 35, five; a bad id is 400 */
  ASSERT_EQ(hget("GET", test_strf("http://127.0.0.1:%d/api/rows", port), &b),
            200);
  json_t *j = json_loads(b, 0, NULL);
  free(b);
  ASSERT(j != NULL);
  ASSERT_EQ(json_array_size(json_object_get(j, "rows")), 40);
  ASSERT_EQ(json_integer_value(json_object_get(j, "last")), 40);
  size_t i;
  json_t *row;
  json_array_foreach(json_object_get(j, "rows"), i, row) {
    ASSERT_EQ(json_integer_value(json_object_get(row, "id")), (long)i + 1);
    const char *path = json_string_value(json_object_get(row, "path"));
    const char *label = json_string_value(json_object_get(row, "label"));
    ASSERT(path != NULL && label != NULL);
    ASSERT(strncmp(path, label, strlen(label)) == 0); /* its folder */
    ASSERT(json_object_get(row, "prediction") != NULL);
  }
  json_decref(j);
  ASSERT_EQ(hget("GET",
                 test_strf("http://127.0.0.1:%d/api/rows?after=35", port),
                 &b),
            200);
  j = json_loads(b, 0, NULL);
  free(b);
  ASSERT_EQ(json_array_size(json_object_get(j, "rows")), 5);
  json_decref(j);
  ASSERT_EQ(hget("GET",
                 test_strf("http://127.0.0.1:%d/api/rows?after=-1", port),
                 NULL),
            400);
  ASSERT_EQ(hget("GET", test_strf("http://127.0.0.1:%d/nope", port), NULL),
            404);
  ASSERT_EQ(hget("POST", test_strf("http://127.0.0.1:%d/metrics", port),
                 NULL),
            405);
  const char traversal[] = "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT(strstr(raw(port, traversal, sizeof traversal - 1), " 404") != NULL);
  const char garbage[] = "THIS IS NOT HTTP\r\n\r\n";
  ASSERT(strstr(raw(port, garbage, sizeof garbage - 1), " 400") != NULL);
  size_t big = 64 * 1024;
  char *huge = malloc(big + 64);
  ASSERT(huge != NULL);
  int n = snprintf(huge, big, "GET /metrics HTTP/1.1\r\nX-Big: ");
  memset(huge + n, 'a', big - (size_t)n - 4);
  memcpy(huge + big - 4, "\r\n\r\n", 4);
  const char *first = raw(port, huge, big);
  free(huge);
  /* refused: a 4xx status line, or the connection closed unanswered */
  ASSERT(first[0] == '\0' || strstr(first, " 4") != NULL);
  /* 200 idle connections held open: the server still answers */
  int idle[200];
  for (int k = 0; k < 200; k++) {
    idle[k] = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT(idle[k] >= 0 &&
           connect(idle[k], (struct sockaddr *)&a, sizeof a) == 0);
  }
  ASSERT_EQ(hget("GET", test_strf("http://127.0.0.1:%d/metrics", port), NULL),
            200);
  for (int k = 0; k < 200; k++) close(idle[k]);
  /* still serving, and the stream ends as usual */
  ASSERT_EQ(hget("GET", test_strf("http://127.0.0.1:%d/healthz", port), NULL),
            200);
  ASSERT_EQ(srun_finish(pid), 0);
}

/* ---- 3. the live page's side ---- */

/* An SSE reader: counts row events, checks their ids run 1, 2, ... and
 * stops (returns 0: curl aborts) once `want` rows came. */
typedef struct sse {
  char line[8192];
  size_t len;
  long rows, batches, want;
  bool in_order;
} sse;

static void sse_line(sse *e) {
  e->line[e->len] = '\0';
  if (strncmp(e->line, "id: ", 4) == 0) {
    long id = atol(e->line + 4);
    e->in_order = e->in_order && id == e->rows + 1;
    e->rows++;
  } else if (strcmp(e->line, "event: batch") == 0) {
    e->batches++;
  }
  e->len = 0;
}

static size_t sse_collect(char *d, size_t size, size_t n, void *ctx) {
  sse *e = ctx;
  for (size_t i = 0; i < size * n; i++) {
    if (d[i] == '\n') sse_line(e);
    else if (e->len + 1 < sizeof e->line) e->line[e->len++] = d[i];
  }
  return e->rows >= e->want ? 0 : size * n;
}

/* Read /events?after=0 until `want` rows came (or 120 s passed). */
static sse read_events(int port, long want) {
  sse e = {.want = want, .in_order = true};
  CURL *c = curl_easy_init();
  ASSERT(c != NULL);
  curl_easy_setopt(c, CURLOPT_URL,
                   test_strf("http://127.0.0.1:%d/events?after=0", port));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &e);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_perform(c);
  curl_easy_cleanup(c);
  return e;
}

/* Encoded bytes of every object in the bucket. */
static double bucket_bytes(const srun_bucket *bi) {
  ims_error err = {0};
  ims_bucket *b = NULL;
  ims_object *objs = NULL;
  size_t n = 0;
  ASSERT_OK(ims_bucket_open(bi->url, 0, &b, &err), &err);
  ASSERT_OK(ims_bucket_list(b, &objs, &n, &err), &err);
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += (double)objs[i].size;
  ims_bucket_list_free(objs, n);
  ims_bucket_close(b);
  return sum;
}

/* GET /thumb/ID: decodes as a JPEG of the model's input shrunk to
 * 112 x 112. */
static void check_thumb(int port, long id) {
  char *b = NULL;
  CURL *c = curl_easy_init();
  hget_body got = {calloc(1, 1), 0};
  char *type = NULL;
  curl_easy_setopt(c, CURLOPT_URL,
                   test_strf("http://127.0.0.1:%d/thumb/%ld", port, id));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, hget_collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  ASSERT_EQ(curl_easy_perform(c), CURLE_OK);
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
  ASSERT_STR_EQ(type, "image/jpeg");
  curl_easy_cleanup(c);
  ims_decoder *d = NULL;
  ims_error err = {0};
  ims_image im;
  ASSERT_OK(ims_decoder_create(NULL, &d, &err), &err);
  ASSERT_OK(ims_decoder_decode(d, got.p, got.n, &im, &err), &err);
  ASSERT_EQ(im.width, 112);
  ASSERT_EQ(im.height, 112);
  ims_decoder_destroy(d);
  free(got.p);
  free(b);
}

TEST(http_live_page_api) {
  srun_need(model_path, sizeof model_path);
  srun_bucket bi;
  srun_make_bucket(&bi, "http_l_bucket", 80);
  const char *const args[] = {
      "stream", "--source", bi.url, "--model", model_path, "--http",
      "127.0.0.1:0", "--max-files-per-trigger", "4", "--trigger-interval",
      "100", "--until-idle", "3000", "--sink",
      test_strf("jsonl:%s.jsonl", tmp_path("http_l")), NULL};
  unlink(test_strf("%s.jsonl", tmp_path("http_l")));
  unlink(test_strf("%s.err", tmp_path("http_l")));
  pid_t pid = srun_start("http_l", 0, args);
  int port = srun_announced_port("http_l", pid, NULL);
  ASSERT(port > 0);
  /* the events: every row once, in order, live, with batch events */
  sse e = read_events(port, 80);
  fprintf(stderr, "/events: %ld rows, %ld batches\n", e.rows, e.batches);
  ASSERT_EQ(e.rows, 80);
  ASSERT(e.in_order);
  ASSERT(e.batches >= 1);
  /* an event stream left open while the stream ends: it must not hold
   * the tool up (the server ends suspended streams when it stops) */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
  const char ev[] = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(fd, ev, sizeof ev - 1), (ssize_t)(sizeof ev - 1));
  /* at most 32 event streams: 31 more fill them, the next is 503 */
  int more[31];
  for (int k = 0; k < 31; k++) {
    more[k] = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(more[k] >= 0 &&
           connect(more[k], (struct sockaddr *)&a, sizeof a) == 0);
    ASSERT_EQ(write(more[k], ev, sizeof ev - 1), (ssize_t)(sizeof ev - 1));
    char head[64];
    ASSERT(read(more[k], head, sizeof head) > 0); /* its 200 came */
  }
  ASSERT_EQ(hget("GET", test_strf("http://127.0.0.1:%d/events", port), NULL),
            503);
  for (int k = 0; k < 31; k++) close(more[k]);
  char *text = metrics_once_done(port, 80);
  ASSERT_EQ(hget_sample(text, "imgstream_read_bytes_total"), bucket_bytes(&bi));
  free(text);
  /* /api/info */
  char *b = NULL;
  ASSERT_EQ(hget("GET", test_strf("http://127.0.0.1:%d/api/info", port), &b),
            200);
  json_t *j = json_loads(b, 0, NULL);
  free(b);
  ASSERT(j != NULL);
  ASSERT_STR_EQ(json_string_value(json_object_get(j, "mode")), "stream");
  ASSERT_STR_EQ(json_string_value(json_object_get(j, "source")), bi.url);
  json_t *totals = json_object_get(j, "totals");
  ASSERT_EQ(json_integer_value(json_object_get(totals, "images_ok")), 80);
  long batches = (long)json_integer_value(json_object_get(totals, "batches"));
  json_decref(j);
  /* /api/history: one record per batch */
  ASSERT_EQ(
      hget("GET", test_strf("http://127.0.0.1:%d/api/history", port), &b),
      200);
  j = json_loads(b, 0, NULL);
  free(b);
  ASSERT_EQ((long)json_array_size(json_object_get(j, "batches")), batches);
  json_decref(j);
  /* rows: right/wrong against the folder label; a thumbnail for the
   * last 64 only */
  ASSERT_EQ(hget("GET", test_strf("http://127.0.0.1:%d/api/rows", port), &b),
            200);
  j = json_loads(b, 0, NULL);
  free(b);
  size_t i, right = 0, wrong = 0;
  json_t *row;
  json_array_foreach(json_object_get(j, "rows"), i, row) {
    json_t *pred = json_object_get(row, "prediction");
    const char *label = json_string_value(json_object_get(row, "label"));
    const char *desc = json_string_value(json_object_get(pred, "desc"));
    bool correct = json_is_true(json_object_get(pred, "correct"));
    ASSERT(json_is_boolean(json_object_get(pred, "correct")));
    ASSERT_EQ(correct, strcmp(label, desc) == 0);
    right += correct;
    wrong += !correct;
    ASSERT_EQ(json_is_true(json_object_get(row, "thumb")), i >= 16);
  }
  json_decref(j);
  fprintf(stderr, "ImageNet right %zu, wrong %zu\n", right, wrong);
  ASSERT(right > 0 && wrong > 0);
  check_thumb(port, 80);
  check_thumb(port, 17);
  const char *missing[] = {"16", "81", "0", "99999999999999999999"};
  for (size_t k = 0; k < 4; k++)
    ASSERT_EQ(hget("GET",
                   test_strf("http://127.0.0.1:%d/thumb/%s", port,
                             missing[k]),
                   NULL),
              k < 3 ? 404 : 400);
  const char *bad[] = {"abc", "", "-1", "1x", "%2e%2e%2fetc%2fpasswd"};
  for (size_t k = 0; k < 5; k++)
    ASSERT_EQ(hget("GET",
                   test_strf("http://127.0.0.1:%d/thumb/%s", port, bad[k]),
                   NULL),
              400);
  const char trav[] = "GET /thumb/1/../../../etc/passwd HTTP/1.1\r\n"
                      "Host: x\r\n\r\n";
  ASSERT(strstr(raw(port, trav, sizeof trav - 1), " 400") != NULL);
  /* the page itself, built in */
  ASSERT_EQ(hget("GET", test_strf("http://127.0.0.1:%d/", port), &b), 200);
  ASSERT(strstr(b, "<html") != NULL);
  free(b);
  ASSERT_EQ(srun_finish(pid), 0);
  char rest[4096];
  ssize_t got = 0, r;
  while ((r = read(fd, rest, sizeof rest)) > 0) got += r;
  close(fd);
  ASSERT(got > 0); /* the event stream's headers, then its end */
}

/* ---- 4. a real Prometheus ---- */

static int free_port(void) {
  int port = 0;
  int fd = tool_listen_loopback(&port);
  ASSERT(fd >= 0);
  close(fd);
  return port;
}

TEST(http_prometheus_scrapes) {
  srun_need(model_path, sizeof model_path);
  if (access("/usr/bin/prometheus", X_OK) != 0)
    RETURN_SKIP("no /usr/bin/prometheus (Debian package prometheus)");
  srun_bucket bi;
  srun_make_bucket(&bi, "http_p_bucket", 30);
  pid_t pid = start_stream("http_p", &bi, "8000");
  int port = srun_announced_port("http_p", pid, NULL);
  ASSERT(port > 0);
  char conf[4400], data[4400];
  snprintf(conf, sizeof conf, "%s", tmp_path("http_p_prometheus.yml"));
  snprintf(data, sizeof data, "%s", tmp_path("http_p_tsdb"));
  tool_rm_rf(data);
  char *yml = test_strf("global:\n  scrape_interval: 1s\nscrape_configs:\n"
                        "  - job_name: imgstream\n    static_configs:\n"
                        "      - targets: ['127.0.0.1:%d']\n",
                        port);
  ASSERT_EQ(test_write_file(conf, yml, strlen(yml)), 0);
  int web = free_port();
  char listen[64], cfg[4500], tsdb[4500];
  snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", web);
  snprintf(cfg, sizeof cfg, "--config.file=%s", conf);
  snprintf(tsdb, sizeof tsdb, "--storage.tsdb.path=%s", data);
  fflush(NULL);
  pid_t prom = fork();
  ASSERT(prom >= 0);
  if (prom == 0) {
    freopen(tmp_path("http_p_prometheus.log"), "w", stderr);
    execl("/usr/bin/prometheus", "prometheus", cfg, tsdb, listen,
          (char *)NULL);
    _exit(127);
  }
  double got = -1;
  const char *q = test_strf(
      "http://127.0.0.1:%d/api/v1/query?query=imgstream_images_total%%7B"
      "outcome%%3D%%22ok%%22%%7D",
      web);
  for (int i = 0; i < 600 && got != 30; i++) {
    char *b = NULL;
    if (hget("GET", q, &b) == 200 && strstr(b, "\"value\":[") != NULL) {
      const char *v = strstr(b, "\"value\":[");
      v = strchr(v, ',');
      got = v ? atof(v + 2) : -1; /* ,"30" */
    }
    free(b);
    if (got != 30) srun_sleep_ms(100);
  }
  kill(prom, SIGTERM);
  waitpid(prom, NULL, 0);
  fprintf(stderr, "Prometheus says imgstream_images_total{ok} = %g\n", got);
  ASSERT_EQ(got, 30);
  ASSERT_EQ(srun_finish(pid), 0);
}

/* ---- 5. errors and the library alone ---- */

TEST(http_bind_errors) {
  srun_need(model_path, sizeof model_path);
  srun_bucket bi;
  srun_make_bucket(&bi, "http_b_bucket", 2);
  int port = 0;
  int fd = tool_listen_loopback(&port); /* taken */
  ASSERT(fd >= 0);
  char bind[64];
  snprintf(bind, sizeof bind, "127.0.0.1:%d", port);
  const char *const taken[] = {"stream", "--source", bi.url, "--model",
                               model_path, "--http", bind, "--until-idle",
                               "300", NULL};
  ASSERT_EQ(srun_finish(srun_start("http_b", 0, taken)), 1);
  char *err = test_read_text(tmp_path("http_b.err"));
  ASSERT(strstr(err, bind) != NULL && strstr(err, "cannot listen") != NULL);
  free(err);
  close(fd);
  const char *const bad[] = {"stream", "--source", bi.url, "--model",
                             model_path, "--http", "localhost:80x",
                             "--until-idle", "300", NULL};
  ASSERT_EQ(srun_finish(srun_start("http_b2", 0, bad)), 2);
}

TEST(http_render) {
  ims_metrics *m = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_metrics_create(&m, &err), &err);
  char *text = NULL;
  size_t len = 0;
  ASSERT_OK(ims_metrics_render(m, &text, &len, &err), &err);
  ASSERT_EQ(strlen(text), len);
  ASSERT_EQ(hget_sample(text, "imgstream_images_total{outcome=\"ok\"}"), 0);
  ASSERT_EQ(hget_sample(text, "imgstream_last_committed_batch"), -1);
  int rc = promtool(text);
  free(text);
  if (rc != 77) ASSERT_EQ(rc, 0);
  ims_metrics_set_model(m, "dir \"with\" quotes\\and\nnewline", "tflite",
                        "sha256:00ff");
  ASSERT_OK(ims_metrics_render(m, &text, &len, &err), &err);
  ASSERT(strstr(text, "path=\"dir \\\"with\\\" quotes\\\\and\\nnewline\"") !=
         NULL);
  rc = promtool(text);
  free(text);
  if (rc != 77) ASSERT_EQ(rc, 0);
  ims_metrics_destroy(m);
}

TEST_MAIN(http_endpoints, http_live_page_api, http_prometheus_scrapes,
          http_bind_errors, http_render)
