/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_results.c - --http on a fleet over a real nats-server (started
 * by the test on 127.0.0.1), with the real tool, model and flowers:
 *
 *   backlog   40 images in IMAGES, one worker with --http taking up to
 *             4 a batch: imgstream_backlog_images is its consumer's
 *             pending count, seen falling (36, 32, ...) to 0
 *   readyz    a worker with --http whose nats-server is SIGKILLed:
 *             /readyz turns 503 naming NATS and the URL, and 200 again
 *             once the server is back; SIGTERM ends the worker with 0
 *   results   `imgstream results --follow --http` on the worker's
 *             RESULTS: /api/rows holds the 40 rows, /metrics counts 40
 *             images ok, /api/info says mode "results" and the source;
 *             rows have no thumbnail (404); SIGTERM ends it with 0;
 *             --http without --follow is a usage error (2)
 *
 * Threading: single-threaded; the tool and the server are children.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "support/http_get.h"
#include "support/nats_server.h"
#include "support/stream_run.h"

enum { N = 40 };

/* GET http://127.0.0.1:port/path (hget). */
static long get(int port, const char *path, char **out) {
  return hget("GET", test_strf("http://127.0.0.1:%d%s", port, path), out);
}

/* Start the tool as `name` with no stale stderr: the child truncates
 * its files only once it runs, and an earlier run's port must not be
 * read meanwhile. */
static void forget(const char *name) {
  unlink(test_strf("%s.err", tmp_path(name)));
}

/* Scrape the worker until it exits: the backlog seen never rises and is
 * below N once a batch is taken (a batch may hold fewer than 4 when the
 * machine is busy: it takes what came within 5 ms); at least one value
 * above 0 is seen, the last is 0. */
static void watch_backlog(pid_t worker, int port) {
  double last = -1;
  int above_zero = 0;
  while (!nchild_gone(worker)) {
    char *text = NULL;
    if (get(port, "/metrics", &text) == 200) {
      double v = hget_sample(text, "imgstream_backlog_images");
      if (v >= 0) {
        if (v > N - 1 || (last >= 0 && v > last))
          TEST__FAIL("backlog %g after %g: not falling from N", v, last);
        above_zero += v > 0;
        last = v;
      }
    }
    free(text);
    test_sleep_ms(20);
  }
  fprintf(stderr, "backlog: %d scrapes above 0, last %g\n", above_zero,
          last);
  ASSERT(above_zero > 0);
  ASSERT_EQ(last, 0);
}

/* A nats-server `name`_srv whose IMAGES holds `limit` shared flowers
 * (produced by the tool as `name`_produce). */
static void start_with_images(nsrv *s, const char *name, const char *limit) {
  nscen_need();
  nsrv_start(s, test_strf("%s_srv", name), 1, 0);
  char from[4400];
  snprintf(from, sizeof from, "%s", shared_path("data/flowers"));
  nargs p = {{0}, 0};
  nargs_add(&p, "produce", "--from", from, "--to", nsrv_url(s, "IMAGES"),
            "--rate", "1000", "--limit", limit, "--seed", "1", NULL);
  const char *producer = test_strf("%s_produce", name);
  nwait_ok(producer, ntool_start(producer, p.v), 120);
}

TEST(http_results_follow) {
  nsrv s;
  start_with_images(&s, "http_r", "40");

  const char *const extra[] = {"--http", "127.0.0.1:0",
                               "--max-files-per-trigger", "4",
                               "--trigger-interval", "300", "--until-idle",
                               "2000", NULL};
  forget("http_r_w0");
  pid_t w = nworker_start("http_r", 0, &s, extra);
  int port = srun_announced_port("http_r_w0", w, nchild_gone);
  ASSERT(port > 0);
  watch_backlog(w, port);
  nwait_ok("http_r_w0", w, 60);

  const char *const bad[] = {"results", "--source", nsrv_url(&s, "RESULTS"),
                             "--http", "127.0.0.1:0", NULL};
  ASSERT_EQ(ntool_run("http_r_bad", bad, 60), 2);
  const char *const follow[] = {"results", "--source",
                                nsrv_url(&s, "RESULTS"), "--json",
                                "--follow", "--http", "127.0.0.1:0", NULL};
  forget("http_r_follow");
  pid_t f = ntool_start("http_r_follow", follow);
  port = srun_announced_port("http_r_follow", f, nchild_gone);
  ASSERT(port > 0);
  json_t *rows = NULL;
  for (int i = 0; i < 600; i++) {
    char *b = NULL;
    json_decref(rows);
    rows = get(port, "/api/rows", &b) == 200 ? json_loads(b, 0, NULL) : NULL;
    free(b);
    if (json_array_size(json_object_get(rows, "rows")) == N) break;
    test_sleep_ms(100);
  }
  ASSERT_EQ(json_array_size(json_object_get(rows, "rows")), N);
  size_t i;
  json_t *row;
  json_array_foreach(json_object_get(rows, "rows"), i, row) {
    ASSERT(json_object_get(row, "prediction") != NULL);
    ASSERT(json_is_false(json_object_get(row, "thumb")));
    ASSERT(json_integer_value(json_object_get(row, "event_time_ms")) > 0);
  }
  json_decref(rows);
  char *text = NULL;
  ASSERT_EQ(get(port, "/metrics", &text), 200);
  ASSERT_EQ(hget_sample(text, "imgstream_images_total{outcome=\"ok\"}"), N);
  ASSERT_EQ(hget_sample(text, "imgstream_latency_seconds_count"), N);
  free(text);
  ASSERT_EQ(get(port, "/api/info", &text), 200);
  json_t *info = json_loads(text, 0, NULL);
  free(text);
  ASSERT_STR_EQ(json_string_value(json_object_get(info, "mode")), "results");
  ASSERT_STR_EQ(json_string_value(json_object_get(info, "source")),
                nsrv_url(&s, "RESULTS"));
  json_decref(info);
  ASSERT_EQ(get(port, "/thumb/1", NULL), 404);
  ASSERT_EQ(get(port, "/readyz", NULL), 200);
  kill(f, SIGTERM);
  ASSERT_EQ(ntool_wait("http_r_follow", f, 30), 0);
  nsrv_stop(&s);
}

/* Poll /readyz until it answers `code` (60 s at most); the body. */
static char *readyz_until(int port, long code) {
  for (int i = 0; i < 600; i++) {
    char *b = NULL;
    if (get(port, "/readyz", &b) == code) return b;
    free(b);
    test_sleep_ms(100);
  }
  TEST__FAIL("/readyz never answered %ld", code);
}

TEST(http_results_readyz_follows_nats) {
  nsrv s;
  start_with_images(&s, "http_y", "4");
  const char *const extra[] = {"--http", "127.0.0.1:0", "--until-idle",
                               "600000", NULL};
  forget("http_y_w0");
  pid_t w = nworker_start("http_y", 0, &s, extra);
  int port = srun_announced_port("http_y_w0", w, nchild_gone);
  ASSERT(port > 0);
  free(readyz_until(port, 200));
  nsrv_kill(&s, 0);
  char *why = readyz_until(port, 503);
  fprintf(stderr, "server killed: /readyz says %s", why);
  ASSERT(strstr(why, "NATS") != NULL && strstr(why, "127.0.0.1") != NULL);
  free(why);
  nsrv_restart(&s, 0);
  free(readyz_until(port, 200));
  ASSERT(!nchild_gone(w));
  kill(w, SIGTERM);
  ASSERT_EQ(ntool_wait("http_y_w0", w, 60), 0);
  nsrv_stop(&s);
}

TEST_MAIN(http_results_follow, http_results_readyz_follows_nats)
