/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nats_queue.c - the work-queue consumer (src/nats/queue.c) driven
 * directly against a real nats-server, with messages PENDING in its
 * subscription before a fetch: the state in which libnats 3.4.1's
 * natsSubscription_Fetch overflows its array (nats.c commit 8099b5c9;
 * docs/SECURITY.md). queue.c owns its pulls instead; these cases make
 * that state on purpose - a pull request of the test's own, answered to
 * the queue's inbox, and a wait until natsSubscription_GetPending shows
 * the messages - then fetch in batches smaller than what is pending
 * (under ASan in the sanitizer build):
 *   nats_queue_pending_first    6 of 10 pending, batches of 4: each
 *                               message once, all acked
 *   nats_queue_pending_most     9 of 12 pending (more than twice the
 *                               batch, the overflow's case), batches of 4
 *   nats_queue_prefetch_back    a queue destroyed with prefetched
 *                               messages gives them back (-NAK): the
 *                               next queue has them at once, long before
 *                               the 30 s ack wait
 */
#define _POSIX_C_SOURCE 200809L
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats/nats_int.h"
#include "support/nats_server.h"
#include "test.h"

#define BATCH 4
#define MAX_IMAGES 16

typedef struct seen {
  char *keys[MAX_IMAGES]; /* owned: keys fetched so far */
  int count;              /* entries of keys */
} seen;

/* Stream "QS" with `total` messages keyed q/0 .. q/<total-1>. */
static void publish(nconn *c, int total) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = "QS";
  const char *subjects[] = {"QS.>"};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  jsErrCode jerr = 0;
  ASSERT(js_AddStream(NULL, c->js, &cfg, NULL, &jerr) == NATS_OK);
  for (int i = 0; i < total; i++) {
    natsMsg *m = NULL;
    char key[32];
    snprintf(key, sizeof key, "q/%d", i);
    ASSERT(natsMsg_Create(&m, "QS.q", NULL, "x", 1) == NATS_OK);
    ASSERT(natsMsgHeader_Set(m, "Imgstream-Key", key) == NATS_OK);
    ASSERT(js_PublishMsg(NULL, c->js, m, NULL, &jerr) == NATS_OK);
    natsMsg_Destroy(m);
  }
}

static ims__queue *open_queue(ims_nats *n) {
  ims_nats_consumer_options o = {.name = "q", .ack_wait_ms = 30000};
  ims__queue *q = NULL;
  ims_error err = {0};
  ASSERT(ims__queue_create(n, &o, BATCH, &q, &err) == IMS_OK);
  return q;
}

/* Make `count` messages pending in q's subscription before any fetch. */
static void make_pending(nconn *c, ims__queue *q, int count) {
  char reply[200], body[64];
  snprintf(reply, sizeof reply, "%s.t", ims__queue_inbox(q));
  snprintf(body, sizeof body, "{\"batch\":%d}", count);
  ASSERT(natsConnection_PublishRequestString(
             c->nc, "$JS.API.CONSUMER.MSG.NEXT.QS.q", reply, body) ==
         NATS_OK);
  int pending = 0;
  double end = test_now() + 10;
  while (pending < count && test_now() < end) {
    ASSERT(natsSubscription_GetPending(ims__queue_subscription(q), &pending,
                                       NULL) == NATS_OK);
    if (pending < count) test_sleep_ms(10);
  }
  ASSERT_EQ(pending, count);
}

/* One fetch of up to BATCH, recorded in *s (no key twice) and acked. */
static size_t fetch_ack(ims__queue *q, seen *s) {
  ims_object objects[BATCH];
  const void *data[BATCH];
  bool failed[BATCH] = {false};
  size_t n = 0;
  ims_error err = {0};
  ASSERT(ims__queue_fetch(q, BATCH, 200, objects, data, &n, &err) == IMS_OK);
  ASSERT_LE(n, (size_t)BATCH);
  for (size_t i = 0; i < n; i++) {
    ASSERT(memcmp(data[i], "x", 1) == 0);
    for (int j = 0; j < s->count; j++) ASSERT(strcmp(s->keys[j],
                                                     objects[i].key) != 0);
    ASSERT(s->count < MAX_IMAGES);
    s->keys[s->count++] = objects[i].key;
  }
  ims__queue_settle(q, failed);
  return n;
}

/* Fetch until `total` came (nothing twice), then one more fetch: none. */
static void fetch_all(ims__queue *q, seen *s, int total) {
  for (int tries = 0; s->count < total && tries < 50; tries++)
    fetch_ack(q, s);
  ASSERT_EQ(s->count, total);
  ASSERT_EQ(fetch_ack(q, s), 0);
}

/* Every message acked: nothing pending, nothing waiting for an ack. */
static void expect_all_acked(nconn *c) {
  double end = test_now() + 10;
  for (;;) {
    jsConsumerInfo *ci = nconsumer_info(c, "QS", "q");
    bool done = ci->NumAckPending == 0 && ci->NumPending == 0;
    if (!done && test_now() > end) {
      fprintf(stderr, "ack pending %lld, pending %llu\n",
              (long long)ci->NumAckPending,
              (unsigned long long)ci->NumPending);
    }
    jsConsumerInfo_Destroy(ci);
    if (done) return;
    ASSERT(test_now() <= end);
    test_sleep_ms(50);
  }
}

static void seen_free(seen *s) {
  for (int i = 0; i < s->count; i++) free(s->keys[i]);
  s->count = 0;
}

/* One case's world: a server with `total` images in QS, a connection
 * of the tool's kind, a queue with `pending` of them pending in its
 * subscription before any fetch. */
typedef struct world {
  nsrv srv;
  nconn c;
  ims_nats *n;
  ims__queue *q;
} world;

static void world_start(world *w, const char *name, int total, int pending) {
  nchild_kill_all();
  nsrv_start(&w->srv, name, 1, 0);
  w->c = nconn_open(&w->srv);
  publish(&w->c, total);
  ims_error err = {0};
  w->n = NULL;
  ASSERT(ims_nats_connect(nsrv_url(&w->srv, "QS"), NULL, &w->n, &err) ==
         IMS_OK);
  w->q = open_queue(w->n);
  make_pending(&w->c, w->q, pending);
}

static void world_stop(world *w) {
  ims__queue_destroy(w->q);
  ims_nats_close(w->n);
  nconn_close(&w->c);
  nsrv_stop(&w->srv);
}

/* `pending` of `total` messages pending first, then batches of BATCH. */
static void pending_first(const char *name, int pending, int total) {
  world w;
  world_start(&w, name, total, pending);
  seen s = {0};
  ASSERT_EQ(fetch_ack(w.q, &s), BATCH); /* from what was pending */
  fetch_all(w.q, &s, total);
  expect_all_acked(&w.c);
  seen_free(&s);
  world_stop(&w);
}

TEST(nats_queue_pending_first) { pending_first("nats_q_first", 6, 10); }

TEST(nats_queue_pending_most) { pending_first("nats_q_most", 9, 12); }

TEST(nats_queue_prefetch_back) {
  world w;
  world_start(&w, "nats_q_back", 10, 6);
  seen s = {0};
  ASSERT_EQ(fetch_ack(w.q, &s), BATCH);
  /* the 2 left pending and the prefetch's: delivered, never taken */
  test_sleep_ms(200);
  ims__queue_destroy(w.q);
  double t0 = test_now();
  w.q = open_queue(w.n);
  fetch_all(w.q, &s, 10);
  ASSERT(test_now() - t0 < 10); /* not after the 30 s ack wait */
  expect_all_acked(&w.c);
  seen_free(&s);
  world_stop(&w);
}

TEST_MAIN(nats_queue_pending_first, nats_queue_pending_most,
          nats_queue_prefetch_back)
