/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nats_failover.c - JetStream servers dying under a running producer and
 * three stream workers (docs/NATS.md: the clients reconnect for ever and
 * retry, so a server restart costs time, never data):
 *
 *   cluster  3 servers, both streams with 3 replicas: the image stream's
 *            leader SIGKILLed mid-run and restarted 3 s later on its
 *            store; every image stored once, exactly one result each;
 *            then a stream with more replicas than servers refused
 *   restart  the single server SIGKILLed mid-run, restarted on the same
 *            store and port: producer and workers reconnect and finish;
 *            nothing lost, nothing twice
 *   no_quorum  a worker started while 2 of 3 servers are down waits
 *            for its consumer (retried) and classifies once one is back
 *
 * Both: 100 images at 10/s, the server killed after the first 5 results
 * (so normally with the producer mid-run too), --ack-wait 2000 (acks lost with
 * the server come back quickly as redeliveries, whose duplicate results
 * JetStream drops), --until-idle 15000 (longer than the outage).
 *
 * Threading: single-threaded; the tool and the servers are children.
 */
#define _GNU_SOURCE
#include <unistd.h>

#include "support/nats_server.h"
#include "support/stream_run.h"

enum { N = 100, W = 3 };

/* The producer and W workers on the set; returns when RESULTS holds
 * `results_before` results (the moment to strike). */
static void start_run(const char *prefix, nsrv *s, nconn *c,
                      const char *replicas, pid_t *prod, pid_t *w,
                      uint64_t results_before) {
  static char from[4400];
  snprintf(from, sizeof from, "%s", shared_path("data/flowers"));
  nargs p = {{0}, 0};
  nargs_add(&p, "produce", "--from", from, "--to", nsrv_url(s, "IMAGES"),
            "--rate", "10", "--limit", "100", "--seed", "13", "--replicas",
            replicas, NULL);
  *prod = ntool_start(test_strf("%s_produce", prefix), p.v);
  if (!nstream_wait_exists(c, "IMAGES", 120, *prod)) {
    ntail(tmp_path(test_strf("%s_produce.err", prefix)), 3000);
    TEST__FAIL("the producer did not create IMAGES");
  }
  const char *const extra[] = {"--max-files-per-trigger", "4", "--ack-wait",
                               "2000", "--until-idle", "15000", "--replicas",
                               replicas, NULL};
  for (int i = 0; i < W; i++) w[i] = nworker_start(prefix, i, s, extra);
  if (!nstream_wait_count(c, "RESULTS", results_before, 300))
    TEST__FAIL("no %llu results in 300 s", (unsigned long long)results_before);
}

/* Everything finished: exactly one result per image, as classify says. */
static void finish_run(const char *prefix, nsrv *s, nconn *c, pid_t prod,
                       const pid_t *w) {
  nwait_ok(test_strf("%s_produce", prefix), prod, 600);
  for (int i = 0; i < W; i++)
    nwait_ok(test_strf("%s_w%d", prefix, i), w[i], 600);
  const char *root = shared_path("data/flowers");
  json_t *images = nimages(c, "IMAGES", root);
  ASSERT_EQ(json_object_size(images), N);
  size_t msgs = 0;
  json_t *stored = nresults(c, "RESULTS", &msgs);
  ASSERT_EQ(msgs, N);
  json_t *listed =
      nresults_cli(test_strf("%s_results", prefix), nsrv_url(s, "RESULTS"));
  json_t *want = nclassify(test_strf("%s_classify", prefix), root, images);
  ncheck_rows("RESULTS stream", stored, images, want);
  ncheck_rows("imgstream results", listed, images, want);
  json_t *counts = njsonl_counts(prefix, W);
  ASSERT_EQ(json_object_size(counts), N);
  size_t written = 0;
  const char *key;
  json_t *v;
  json_object_foreach(counts, key, v) written += (size_t)json_integer_value(v);
  fprintf(stderr, "rows written by the workers: %zu for %d images\n", written,
          N);
  jsConsumerInfo *ci = nconsumer_info(c, "IMAGES", "workers");
  ASSERT_EQ(ci->NumPending, 0);
  ASSERT_EQ(ci->NumAckPending, 0);
  jsConsumerInfo_Destroy(ci);
  json_decref(counts);
  json_decref(want);
  json_decref(listed);
  json_decref(stored);
  json_decref(images);
}

/* More replicas than servers: the placement refusal is retried only
 * briefly (a forming cluster gives it too), then explained. */
static void too_many_replicas(nsrv *s) {
  nargs p = {{0}, 0};
  nargs_add(&p, "produce", "--from", shared_path("data/flowers"), "--to",
            nsrv_url(s, "WIDE"), "--limit", "1", "--replicas", "5", NULL);
  double t0 = test_now();
  int code = ntool_run("nats_c_wide", p.v, 120);
  char *err = ntool_text("nats_c_wide", "err");
  if (code != 1 || strstr(err, "with 5 replicas") == NULL)
    TEST__FAIL("--replicas 5 on 3 servers: exit %d (want 1):\n%s", code, err);
  fprintf(stderr, "--replicas 5 on 3 servers (%.1f s): %s", test_now() - t0,
          err);
  free(err);
}

TEST(nats_failover_cluster) {
  nscen_need();
  nsrv s;
  nsrv_start(&s, "nats_c_srv", 3, 0);
  nconn c = nconn_open(&s);
  pid_t prod, w[W];
  double t0 = test_now();
  start_run("nats_c", &s, &c, "3", &prod, w, 5);
  jsStreamInfo *si = nstream_info(&c, "IMAGES", 30);
  ASSERT(si != NULL && si->Config->Replicas == 3);
  jsStreamInfo_Destroy(si);
  int victim = nstream_leader(&c, &s, "IMAGES");
  ASSERT(victim >= 0);
  bool producing = !nchild_gone(prod);
  nsrv_kill(&s, victim);
  fprintf(stderr, "killed %s (IMAGES leader) at %.1f s, %s\n",
          s.node[victim].name, test_now() - t0,
          producing ? "the producer still sending"
                    : "the producer done (a slow machine)");
  test_sleep_ms(3000);
  nsrv_restart(&s, victim);
  fprintf(stderr, "restarted at %.1f s\n", test_now() - t0);
  finish_run("nats_c", &s, &c, prod, w);
  fprintf(stderr, "run: %.1f s\n", test_now() - t0);
  /* The restarted server caught up on both streams. */
  nstream_wait_current(&c, "IMAGES", 3);
  si = nstream_info(&c, "RESULTS", 30);
  ASSERT(si != NULL && si->Config->Replicas == 3);
  jsStreamInfo_Destroy(si);
  nstream_wait_current(&c, "RESULTS", 3);
  too_many_replicas(&s);
  nconn_close(&c);
  nsrv_stop(&s);
}

TEST(nats_failover_restart) {
  nscen_need();
  nsrv s;
  nsrv_start(&s, "nats_d_srv", 1, 0);
  nconn c = nconn_open(&s);
  pid_t prod, w[W];
  double t0 = test_now();
  start_run("nats_d", &s, &c, "1", &prod, w, 5);
  bool producing = !nchild_gone(prod);
  nsrv_kill(&s, 0);
  fprintf(stderr, "killed the server at %.1f s, %s\n", test_now() - t0,
          producing ? "the producer still sending"
                    : "the producer done (a slow machine)");
  test_sleep_ms(1500);
  /* Everyone is still there, waiting for it. */
  if (producing) ASSERT(!nchild_gone(prod));
  for (int i = 0; i < W; i++) ASSERT(!nchild_gone(w[i]));
  nsrv_restart(&s, 0);
  fprintf(stderr, "restarted at %.1f s\n", test_now() - t0);
  finish_run("nats_d", &s, &c, prod, w);
  fprintf(stderr, "run: %.1f s\n", test_now() - t0);
  nconn_close(&c);
  nsrv_stop(&s);
}

/* A worker started while the cluster has no quorum: its consumer cannot
 * be created (JetStream answers a timeout or "temporarily unavailable"),
 * which it retries until a server is back, then finishes the stream. Its
 * only sink is a file, so nothing else it does first waits for quorum.
 * --until-idle 15000 as above: the re-formed cluster may take seconds to
 * elect the stream's and the consumer's leaders and deliver. */
TEST(nats_failover_no_quorum) {
  nscen_need();
  nsrv s;
  nsrv_start(&s, "nats_q_srv", 3, 0);
  double t0 = test_now();
  nargs p = {{0}, 0};
  nargs_add(&p, "produce", "--from", shared_path("data/flowers"), "--to",
            nsrv_url(&s, "IMAGES"), "--limit", "5", "--interval", "0",
            "--replicas", "3", NULL);
  ASSERT_EQ(ntool_run("nats_q_produce", p.v, 120), 0);
  nsrv_kill(&s, 1);
  nsrv_kill(&s, 2);
  fprintf(stderr, "5 images stored, 2 of 3 servers killed at %.1f s\n",
          test_now() - t0);
  char jsonl[4400];
  snprintf(jsonl, sizeof jsonl, "jsonl:%s", tmp_path("nats_q_w.jsonl"));
  unlink(jsonl + 6);
  nargs a = {{0}, 0};
  nargs_add(&a, "stream", "--source", nsrv_url(&s, "IMAGES"), "--sink", jsonl,
            "--consumer", "workers", "--model", nmodel, "-t", "1",
            "--until-idle", "15000", NULL);
  pid_t w = ntool_start("nats_q_w", a.v);
  test_sleep_ms(3000);
  if (nchild_gone(w)) {
    char *err = ntool_text("nats_q_w", "err");
    TEST__FAIL("the worker gave up without quorum:\n%s", err);
  }
  nsrv_restart(&s, 1);
  fprintf(stderr, "one restarted at %.1f s\n", test_now() - t0);
  nwait_ok("nats_q_w", w, 300);
  fprintf(stderr, "the worker done at %.1f s\n", test_now() - t0);
  nconn c = nconn_open(&s);
  json_t *images = nimages(&c, "IMAGES", shared_path("data/flowers"));
  ASSERT_EQ(json_object_size(images), 5);
  json_t *rows = srun_sink_rows(jsonl + 6);
  json_t *want = nclassify("nats_q_classify", shared_path("data/flowers"),
                           images);
  ncheck_rows("the worker's rows", rows, images, want);
  json_decref(want);
  json_decref(rows);
  json_decref(images);
  nconn_close(&c);
  nsrv_stop(&s);
}

TEST_MAIN(nats_failover_cluster, nats_failover_restart,
          nats_failover_no_quorum)
