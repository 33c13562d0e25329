/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nats_harness.c - the nats-server harness of the nats_* tests
 * (tests/support/nats_server.h) checked on its own, through libnats only:
 *
 *   single       one JetStream server: a stream, publishes with
 *                Nats-Msg-Id (a repeated id is a duplicate), a durable
 *                pull consumer fetching and acking; SIGKILL and restart
 *                on the same store keep the messages and the consumer
 *   cluster      3 servers, a 3-replica stream: its leader SIGKILLed, the
 *                stream still takes publishes; restarted, it catches up
 *                and serves every message
 *   no_leftovers a process that started a server and died without
 *                cleaning up takes the server with it
 *
 * Threading: single-threaded (libnats has its own threads).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include "support/nats_server.h"

/* Publish "msg-<i>" to SUBJ with Nats-Msg-Id "id-<i>", retrying (same id,
 * so never stored twice) for up to timeout_s while a cluster elects. */
static jsPubAck *publish_retry(nconn *c, const char *subj, int i,
                               double timeout_s) {
  char body[64], id[64];
  snprintf(body, sizeof body, "msg-%d", i);
  snprintf(id, sizeof id, "id-%d", i);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = id;
  po.MaxWait = 2000;
  double end = test_now() + timeout_s;
  for (;;) {
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    natsStatus st =
        js_Publish(&pa, c->js, subj, body, (int)strlen(body), &po, &jerr);
    if (st == NATS_OK) return pa;
    if (test_now() > end)
      TEST__FAIL("publish %s %d: %s (%d)", subj, i, natsStatus_GetText(st),
                 (int)jerr);
    test_sleep_ms(200);
  }
}

static void add_stream(nconn *c, const char *name, int replicas) {
  char subj[64];
  snprintf(subj, sizeof subj, "%s.>", name);
  const char *subjects[1] = {subj};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name;
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = replicas;
  cfg.Duplicates = (int64_t)600 * 1000 * 1000 * 1000;
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  natsStatus st = NATS_ERR;
  double end = test_now() + 60;
  while ((st = js_AddStream(&si, c->js, &cfg, NULL, &jerr)) != NATS_OK &&
         test_now() < end)
    test_sleep_ms(200);
  if (st != NATS_OK)
    TEST__FAIL("add stream %s: %s (%d)", name, natsStatus_GetText(st),
               (int)jerr);
  ASSERT_EQ(si->Config->Replicas, replicas);
  jsStreamInfo_Destroy(si);
}

/* Fetch and ack until `want` messages came through the durable pull
 * consumer `durable` (at most 60 s); each body is "msg-<i>" with i <
 * want, each i once. */
static void fetch_all(nconn *c, const char *stream, const char *durable,
                      int want) {
  char subj[64];
  snprintf(subj, sizeof subj, "%s.>", stream);
  natsSubscription *sub = NULL;
  jsErrCode jerr = 0;
  natsStatus st = NATS_ERR;
  double end = test_now() + 60;
  while ((st = js_PullSubscribe(&sub, c->js, subj, durable, NULL, NULL,
                                &jerr)) != NATS_OK &&
         test_now() < end)
    test_sleep_ms(200);
  if (st != NATS_OK)
    TEST__FAIL("pull subscribe: %s (%d)", natsStatus_GetText(st), (int)jerr);
  char *seen = calloc((size_t)want, 1);
  ASSERT(seen != NULL);
  int got = 0;
  while (got < want && test_now() < end) {
    natsMsgList list = {NULL, 0};
    st = natsSubscription_Fetch(&list, sub, 16, 1000, &jerr);
    for (int i = 0; i < list.Count; i++) {
      natsMsg *m = list.Msgs[i];
      int k = -1;
      char body[32] = {0};
      int len = natsMsg_GetDataLength(m);
      if (len > 0 && len < (int)sizeof body)
        memcpy(body, natsMsg_GetData(m), (size_t)len);
      ASSERT(sscanf(body, "msg-%d", &k) == 1 && k >= 0 && k < want);
      const char *id = NULL;
      ASSERT(natsMsgHeader_Get(m, "Nats-Msg-Id", &id) == NATS_OK);
      ASSERT_STR_EQ(id, test_strf("id-%d", k));
      if (!seen[k]) got++;
      seen[k] = 1;
      ASSERT(natsMsg_AckSync(m, NULL, NULL) == NATS_OK);
    }
    natsMsgList_Destroy(&list);
  }
  free(seen);
  natsSubscription_Destroy(sub);
  ASSERT_EQ(got, want);
}

TEST(nats_harness_single) {
  nchild_kill_all();
  nsrv s;
  nsrv_start(&s, "nats_h_single", 1, 0);
  ASSERT(s.node[0].pid > 0);
  nconn c = nconn_open(&s);
  add_stream(&c, "H", 1);
  for (int i = 0; i < 10; i++) {
    jsPubAck *pa = publish_retry(&c, "H.x", i, 10);
    ASSERT_EQ(pa->Sequence, (uint64_t)i + 1);
    ASSERT(!pa->Duplicate);
    jsPubAck_Destroy(pa);
  }
  jsPubAck *dup = publish_retry(&c, "H.x", 3, 10);
  ASSERT(dup->Duplicate);
  jsPubAck_Destroy(dup);
  ASSERT_EQ(nstream_count(&c, "H"), 10);
  fetch_all(&c, "H", "w", 10);
  jsConsumerInfo *ci = nconsumer_info(&c, "H", "w");
  ASSERT_EQ(ci->NumAckPending, 0);
  ASSERT_EQ(ci->NumPending, 0);
  jsConsumerInfo_Destroy(ci);

  /* SIGKILL: gone at once; the client keeps trying. */
  pid_t old = s.node[0].pid;
  nsrv_kill(&s, 0);
  ASSERT(kill(old, 0) != 0);
  test_sleep_ms(300);
  ASSERT(natsConnection_Status(c.nc) != NATS_CONN_STATUS_CONNECTED);

  /* Same store, same port: the messages and the consumer are still
   * there. (Not necessarily its latest state: nats-server writes consumer
   * state lazily, so a SIGKILL can lose recent deliveries and acks, and
   * those messages are delivered again - what the results stream's
   * de-duplication is for.) A new consumer gets all 10. */
  nsrv_restart(&s, 0);
  ASSERT(s.node[0].pid > 0 && s.node[0].pid != old);
  ASSERT_EQ(nstream_count(&c, "H"), 10);
  ci = nconsumer_info(&c, "H", "w");
  ASSERT(ci->Delivered.Stream <= 10);
  ASSERT(ci->AckFloor.Stream <= ci->Delivered.Stream);
  jsConsumerInfo_Destroy(ci);
  fetch_all(&c, "H", "w2", 10);
  jsPubAck *pa = publish_retry(&c, "H.y", 10, 30);
  ASSERT_EQ(pa->Sequence, 11);
  jsPubAck_Destroy(pa);
  nconn_close(&c);
  nsrv_stop(&s);
  ASSERT(access(s.dir, F_OK) != 0);
}

TEST(nats_harness_cluster) {
  nchild_kill_all();
  nsrv s;
  nsrv_start(&s, "nats_h_cluster", 3, 0);
  for (int i = 0; i < 3; i++) ASSERT(s.node[i].pid > 0);
  ASSERT(strncmp(nsrv_url(&s, "X"), "nats://127.0.0.1:", 17) == 0);
  nconn c = nconn_open(&s);
  add_stream(&c, "HC", 3);
  for (int i = 0; i < 20; i++)
    jsPubAck_Destroy(publish_retry(&c, "HC.a", i, 30));
  nstream_wait_current(&c, "HC", 3);

  /* Kill the stream's leader: the other two elect a new one. */
  jsStreamInfo *si = nstream_info(&c, "HC", 30);
  ASSERT(si != NULL && si->Cluster != NULL);
  int leader = nsrv_index(&s, si->Cluster->Leader);
  jsStreamInfo_Destroy(si);
  ASSERT(leader >= 0);
  nsrv_kill(&s, leader);
  double t0 = test_now();
  for (int i = 20; i < 40; i++)
    jsPubAck_Destroy(publish_retry(&c, "HC.b", i, 60));
  fprintf(stderr, "20 publishes with %s down: %.1f s\n", s.node[leader].name,
          test_now() - t0);
  /* Re-sent ids are not stored twice. */
  jsPubAck *pa = publish_retry(&c, "HC.b", 25, 30);
  ASSERT(pa->Duplicate);
  jsPubAck_Destroy(pa);
  ASSERT_EQ(nstream_count(&c, "HC"), 40);
  si = nstream_info(&c, "HC", 30);
  ASSERT(si->Cluster != NULL && si->Cluster->Leader != NULL);
  ASSERT(strcmp(si->Cluster->Leader, s.node[leader].name) != 0);
  jsStreamInfo_Destroy(si);

  /* Back with its store: it catches up and serves all 40. */
  nsrv_restart(&s, leader);
  nstream_wait_current(&c, "HC", 3);
  nconn_close(&c);
  nsrv one = s; /* a client of the restarted server alone */
  one.n = 1;
  one.node[0] = s.node[leader];
  c = nconn_open(&one);
  fetch_all(&c, "HC", "w", 40);
  nconn_close(&c);
  nsrv_stop(&s);
}

/* 'R', 'S'... from /proc/PID/stat; 0 if there is no such process. */
static char proc_state(pid_t pid) {
  char path[64], buf[512] = {0};
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')');
  return p != NULL && p[1] == ' ' ? p[2] : 0;
}

TEST(nats_harness_no_leftovers) {
  nchild_kill_all();
  nsrv_binary();
  int fds[2];
  ASSERT(pipe(fds) == 0);
  pid_t child = nchild_fork();
  if (child == 0) {
    /* A "test" that starts a server and dies without cleaning up. */
    close(fds[0]);
    nsrv s;
    if (setjmp(test__jump) != 0) _exit(3);
    nsrv_start(&s, "nats_h_leftover", 1, 0);
    pid_t server = s.node[0].pid;
    if (write(fds[1], &server, sizeof server) != (ssize_t)sizeof server)
      _exit(4);
    raise(SIGKILL);
    _exit(5);
  }
  close(fds[1]);
  pid_t server = 0;
  ssize_t n = read(fds[0], &server, sizeof server);
  close(fds[0]);
  ASSERT_EQ(n, (ssize_t)sizeof server);
  ASSERT(server > 0);
  ASSERT_EQ(nchild_wait(child, 60), 128 + SIGKILL);
  double end = test_now() + 10;
  char st = proc_state(server);
  while (st != 0 && st != 'Z' && test_now() < end) {
    test_sleep_ms(50);
    st = proc_state(server);
  }
  if (st != 0 && st != 'Z') {
    kill(server, SIGKILL);
    TEST__FAIL("nats-server %d outlived its parent (state %c)", (int)server,
               st);
  }
  tool_rm_rf(tmp_path("nats_h_leftover"));
}

TEST_MAIN(nats_harness_single, nats_harness_cluster, nats_harness_no_leftovers)
