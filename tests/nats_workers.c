/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nats_workers.c - one producer, three stream workers sharing a durable
 * consumer over a real JetStream server (docs/NATS.md), the real tool and
 * the real model:
 *
 *   one_result_each  a 300-image run (--limit 300): every image of the
 *                    image stream is the file's bytes with the documented
 *                    headers; every image has exactly one result - read
 *                    with `imgstream results --json` and straight from the
 *                    results stream (300 messages, 300 paths) - with the
 *                    top-1 class of `imgstream classify --json`; nothing
 *                    redelivered, nothing pending
 *   sigkill          100 images at 20/s, --ack-wait 2000: one worker
 *                    SIGKILLed after its first results while it holds
 *                    images (delivered, not acked); the two others get
 *                    them again after the ack wait: still exactly one
 *                    result each, nothing left pending
 *
 * Threading: single-threaded; the tool and the servers are children.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/types.h>

#include "support/nats_server.h"

TEST(nats_workers_one_result_each) {
  nscen_need();
  enum { N = 300, W = 3 };
  nsrv s;
  nsrv_start(&s, "nats_a_srv", 1, 0);
  nconn c = nconn_open(&s);
  const char *root = shared_path("data/flowers");
  char from[4400];
  snprintf(from, sizeof from, "%s", root);
  nargs p = {{0}, 0};
  nargs_add(&p, "produce", "--from", from, "--to", nsrv_url(&s, "IMAGES"),
            "--interval", "0", "--limit", "300", "--seed", "11", "--json",
            NULL);
  double t0 = test_now();
  pid_t prod = ntool_start("nats_a_produce", p.v);
  if (!nstream_wait_exists(&c, "IMAGES", 120, prod)) {
    char *err = ntool_text("nats_a_produce", "err");
    TEST__FAIL("the producer did not create IMAGES: %s", err);
  }
  pid_t w[W];
  const char *const extra[] = {"--max-files-per-trigger", "8",
                               "--until-idle", "3000", NULL};
  for (int i = 0; i < W; i++) w[i] = nworker_start("nats_a", i, &s, extra);
  nwait_ok("nats_a_produce", prod, 300);
  for (int i = 0; i < W; i++) nwait_ok(test_strf("nats_a_w%d", i), w[i], 600);
  fprintf(stderr, "produce + 3 workers: %.1f s\n", test_now() - t0);

  /* The images: each once, as the contract says; the producer's --json
   * lines name the same 300. */
  json_t *images = nimages(&c, "IMAGES", root);
  ASSERT_EQ(json_object_size(images), N);
  char *pj = ntool_text("nats_a_produce", "out");
  size_t lines = 0;
  char *save = NULL;
  for (char *l = strtok_r(pj, "\n", &save); l != NULL;
       l = strtok_r(NULL, "\n", &save), lines++) {
    json_t *o = json_loads(l, 0, NULL);
    ASSERT(o != NULL);
    const char *key = json_string_value(json_object_get(o, "key"));
    ASSERT(key != NULL && json_object_get(images, key) != NULL);
    json_decref(o);
  }
  free(pj);
  ASSERT_EQ(lines, N);

  /* The results stream, read directly: 300 messages, 300 paths. */
  size_t msgs = 0;
  json_t *stored = nresults(&c, "RESULTS", &msgs);
  ASSERT_EQ(msgs, N);
  ASSERT_EQ(json_object_size(stored), N);
  ASSERT_EQ(nstream_count(&c, "RESULTS"), N);
  /* ... and through `imgstream results --json`: the same rows. */
  json_t *listed = nresults_cli("nats_a_results", nsrv_url(&s, "RESULTS"));
  ASSERT_EQ(json_object_size(listed), N);
  json_t *want = nclassify("nats_a_classify", root, images);
  ncheck_rows("RESULTS stream", stored, images, want);
  ncheck_rows("imgstream results", listed, images, want);
  const char *key;
  json_t *row;
  json_object_foreach(listed, key, row) {
    if (!json_equal(row, json_object_get(stored, key)))
      TEST__FAIL("%s: imgstream results and the stream differ", key);
  }

  /* No faults: each image went to one worker once. */
  json_t *counts = njsonl_counts("nats_a", W);
  ASSERT_EQ(json_object_size(counts), N);
  json_t *cnt;
  json_object_foreach(counts, key, cnt) {
    if (json_integer_value(cnt) != 1)
      TEST__FAIL("%s written %lld times by the workers", key,
                 (long long)json_integer_value(cnt));
  }
  for (int i = 0; i < W; i++)
    fprintf(stderr, "worker %d: %zu rows\n", i,
            nlines(test_strf("%s_w%d.jsonl", tmp_path("nats_a"), i)));
  jsConsumerInfo *ci = nconsumer_info(&c, "IMAGES", "workers");
  ASSERT_EQ(ci->NumPending, 0);
  ASSERT_EQ(ci->NumAckPending, 0);
  ASSERT_EQ(ci->NumRedelivered, 0);
  ASSERT_EQ(ci->AckFloor.Stream, N);
  /* The documented configuration: one durable pull consumer, explicit
   * acks, 30 s ack wait and 5 deliveries by default ... */
  ASSERT_STR_EQ(ci->Config->Durable, "workers");
  ASSERT_EQ(ci->Config->AckPolicy, js_AckExplicit);
  ASSERT_EQ(ci->Config->AckWait, (int64_t)30000 * 1000000);
  ASSERT_EQ(ci->Config->MaxDeliver, 5);
  ASSERT(ci->Config->DeliverSubject == NULL);
  jsConsumerInfo_Destroy(ci);
  /* ... and streams: STREAM.>, file storage, 1 replica by default, limits
   * retention; images up to the server's max payload; results with a
   * 10-minute duplicate window. */
  const char *names[2] = {"IMAGES", "RESULTS"};
  for (int i = 0; i < 2; i++) {
    jsStreamInfo *si = nstream_info(&c, names[i], 30);
    ASSERT(si != NULL);
    ASSERT_EQ(si->Config->SubjectsLen, 1);
    ASSERT_STR_EQ(si->Config->Subjects[0], test_strf("%s.>", names[i]));
    ASSERT_EQ(si->Config->Storage, js_FileStorage);
    ASSERT_EQ(si->Config->Replicas, 1);
    ASSERT_EQ(si->Config->Retention, js_LimitsPolicy);
    if (i == 0)
      ASSERT_EQ(si->Config->MaxMsgSize, natsConnection_GetMaxPayload(c.nc));
    else
      ASSERT_EQ(si->Config->Duplicates, (int64_t)600 * 1000000000);
    jsStreamInfo_Destroy(si);
  }

  json_decref(counts);
  json_decref(want);
  json_decref(listed);
  json_decref(stored);
  json_decref(images);
  nconn_close(&c);
  nsrv_stop(&s);
}

TEST(nats_workers_sigkill) {
  nscen_need();
  enum { N = 100, W = 3 };
  nsrv s;
  nsrv_start(&s, "nats_b_srv", 1, 0);
  nconn c = nconn_open(&s);
  const char *root = shared_path("data/flowers");
  char from[4400];
  snprintf(from, sizeof from, "%s", root);
  nargs p = {{0}, 0};
  nargs_add(&p, "produce", "--from", from, "--to", nsrv_url(&s, "IMAGES"),
            "--rate", "20", "--limit", "100", "--seed", "12", NULL);
  double t0 = test_now();
  pid_t prod = ntool_start("nats_b_produce", p.v);
  if (!nstream_wait_exists(&c, "IMAGES", 120, prod))
    TEST__FAIL("the producer did not create IMAGES");
  pid_t w[W];
  const char *const extra[] = {"--max-files-per-trigger", "4",
                               "--ack-wait", "2000", "--until-idle", "8000",
                               NULL};
  /* Worker 0 starts alone. Once it has written results, it is caught
   * holding images (SIGSTOP until the consumer has images delivered and
   * not acked: worker 0's, as no other worker runs yet), then SIGKILLed:
   * no chance to ack or say goodbye. The two others start after: they
   * get the rest, and worker 0's images after the ack wait. */
  w[0] = nworker_start("nats_b", 0, &s, extra);
  char w0[4400];
  snprintf(w0, sizeof w0, "%s_w0.jsonl", tmp_path("nats_b"));
  double end = test_now() + 300;
  while (nlines(w0) < 3 && !nchild_gone(w[0]) && test_now() < end)
    test_sleep_ms(5);
  if (nchild_gone(w[0]) || nlines(w0) < 3)
    TEST__FAIL("worker 0 wrote %zu rows and %s", nlines(w0),
               nchild_gone(w[0]) ? "exited" : "is stuck");
  int64_t held = 0;
  for (int tries = 0; tries < 50 && held == 0; tries++) {
    ASSERT(kill(w[0], SIGSTOP) == 0);
    for (double until = test_now() + 1.5; held == 0 && test_now() < until;) {
      jsConsumerInfo *ci = nconsumer_info(&c, "IMAGES", "workers");
      held = ci->NumAckPending;
      jsConsumerInfo_Destroy(ci);
      if (held == 0) test_sleep_ms(50);
    }
    if (held == 0) {
      kill(w[0], SIGCONT);
      test_sleep_ms(20 + 10 * tries);
    }
  }
  if (held == 0) TEST__FAIL("worker 0 was never caught holding images");
  nchild_kill(w[0]);
  size_t killed_rows = nlines(w0);
  jsStreamInfo *si = nstream_info(&c, "RESULTS", 30);
  fprintf(stderr,
          "worker 0 killed after %zu rows, holding %lld images; %llu results "
          "stored\n",
          killed_rows, (long long)held,
          si ? (unsigned long long)si->State.Msgs : 0ULL);
  jsStreamInfo_Destroy(si);
  for (int i = 1; i < W; i++) w[i] = nworker_start("nats_b", i, &s, extra);

  nwait_ok("nats_b_produce", prod, 300);
  for (int i = 1; i < W; i++) nwait_ok(test_strf("nats_b_w%d", i), w[i], 600);
  fprintf(stderr, "run: %.1f s\n", test_now() - t0);

  json_t *images = nimages(&c, "IMAGES", root);
  ASSERT_EQ(json_object_size(images), N);
  size_t msgs = 0;
  json_t *stored = nresults(&c, "RESULTS", &msgs);
  ASSERT_EQ(msgs, N);
  json_t *listed = nresults_cli("nats_b_results", nsrv_url(&s, "RESULTS"));
  json_t *want = nclassify("nats_b_classify", root, images);
  ncheck_rows("RESULTS stream", stored, images, want);
  ncheck_rows("imgstream results", listed, images, want);
  /* Every image reached some worker's sink (worker 0's count too). */
  json_t *counts = njsonl_counts("nats_b", W);
  ASSERT_EQ(json_object_size(counts), N);
  jsConsumerInfo *ci = nconsumer_info(&c, "IMAGES", "workers");
  ASSERT_EQ(ci->NumPending, 0);
  ASSERT_EQ(ci->NumAckPending, 0);
  ASSERT_EQ(ci->Config->AckWait, (int64_t)2000 * 1000000);
  jsConsumerInfo_Destroy(ci);

  json_decref(counts);
  json_decref(want);
  json_decref(listed);
  json_decref(stored);
  json_decref(images);
  nconn_close(&c);
  nsrv_stop(&s);
}

TEST_MAIN(nats_workers_one_result_each, nats_workers_sigkill)
