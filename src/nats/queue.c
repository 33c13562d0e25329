/* SPDX-License-Identifier: Apache-2.0 */
/*
 * queue.c - the durable pull consumer a stream worker takes its
 * micro-batches from (nats_int.h). Every worker binds the same durable
 * consumer, so JetStream hands each image to one of them; this file turns
 * fetched messages into keys, event times and bodies, keeps them leased
 * while they are worked on, and settles them (ack, or term for a bad
 * image) when told to. What a batch is, and when to settle it, is the
 * stream engine's NATS source (src/stream/source_nats.c).
 *
 * An image's key comes from its Imgstream-Key header, else its
 * Nats-Msg-Id, else "<subject's last token>/seq-<stream sequence>" (a
 * message published by something else than imgstream still gets a row);
 * a header that is not a sane key (control characters, too long) is not
 * used. Its event time is when JetStream stored it (server clock), the
 * stream's equivalent of a bucket object's landing time.
 *
 * Fetching: one message per natsSubscription_Fetch (see fetch_one).
 *
 * Threading: the engine's thread.
 */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats/nats_int.h"

#define KEY_MAX 1024     /* longest header accepted as a key */
#define FILL_WAIT_MS 5   /* wait for each image after a batch's first */

struct ims__queue {
  ims_nats *n;            /* BORROWED */
  natsSubscription *sub;  /* owned: the pull subscription */
  natsMsgList list;       /* owned: the batch in flight */
  size_t max_batch;       /* most messages per fetch */
  uint64_t fetch_ns;      /* time spent fetching */
  uint64_t ack_wait_ns;   /* the consumer's ack wait */
  uint64_t touched_ns;    /* when the batch's ack waits last restarted */
  long pending;           /* the consumer's pending count after the last
                             message fetched; -1 before the first */
};

ims_status ims__queue_create(ims_nats *n, const ims_nats_consumer_options *o,
                             size_t max_batch, ims__queue **out,
                             ims_error *err) {
  const char *name = o != NULL && o->name != NULL ? o->name : "imgstream";
  if (*name == '\0' || strpbrk(name, ". *>\t\r\n") != NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "consumer name '%s': no "
                     "'.', '*', '>' or spaces", name);
  ims__queue *q = calloc(1, sizeof *q);
  if (q == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  q->n = n;
  q->max_batch = max_batch;
  q->pending = -1;
  char subject[300];
  snprintf(subject, sizeof subject, "%s.>", ims_nats_stream_name(n));
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = ims_nats_stream_name(n);
  so.Config.AckPolicy = js_AckExplicit;
  so.Config.DeliverPolicy = js_DeliverAll;
  q->ack_wait_ns =
      (uint64_t)(o != NULL && o->ack_wait_ms ? o->ack_wait_ms : 30000) *
      1000000u;
  so.Config.AckWait = (int64_t)q->ack_wait_ns;
  so.Config.MaxDeliver = o != NULL && o->max_deliver ? o->max_deliver : 5;
  jsErrCode code = 0;
  natsStatus s = js_PullSubscribe(&q->sub, ims__nats_js(n), subject, name,
                                  NULL, &so, &code);
  if (s != NATS_OK) {
    ims__queue_destroy(q);
    if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr)
      return ims__fail(err, IMS_ERR_NOT_FOUND, "no stream %s on %s",
                       ims_nats_stream_name(n), ims__nats_url(n));
    return ims__nats_fail(err, s, code, "consumer %s on stream %s at %s",
                          name, ims_nats_stream_name(n), ims__nats_url(n));
  }
  *out = q;
  return IMS_OK;
}

void ims__queue_destroy(ims__queue *q) {
  if (q == NULL) return;
  natsMsgList_Destroy(&q->list);
  /* Destroy, not Unsubscribe: the durable consumer must stay for the
   * other workers and the next start. */
  natsSubscription_Destroy(q->sub);
  free(q);
}

uint64_t ims__queue_fetch_ns(const ims__queue *q) { return q->fetch_ns; }

long ims__queue_pending(const ims__queue *q) { return q->pending; }

bool ims__queue_connected(const ims__queue *q, char *why, size_t cap) {
  natsConnStatus st = natsConnection_Status(ims__nats_conn(q->n));
  if (st == NATS_CONN_STATUS_CONNECTED) return true;
  snprintf(why, cap, "NATS: %s %s",
           st == NATS_CONN_STATUS_RECONNECTING ? "reconnecting to"
                                               : "not connected to",
           ims__nats_url(q->n));
  return false;
}

/* A header value usable as a key: printable, not empty, not too long. */
static bool sane_key(const char *k) {
  size_t n = 0;
  if (k == NULL) return false;
  for (; k[n] != '\0'; n++) {
    if ((unsigned char)k[n] < 0x20 || k[n] == 0x7f || n >= KEY_MAX)
      return false;
  }
  return n > 0;
}

char *ims__nats_message_key(natsMsg *m, uint64_t seq) {
  const char *v = NULL;
  if (natsMsgHeader_Get(m, "Imgstream-Key", &v) == NATS_OK && sane_key(v))
    return strdup(v);
  if (natsMsgHeader_Get(m, "Nats-Msg-Id", &v) == NATS_OK && sane_key(v))
    return strdup(v);
  const char *subject = natsMsg_GetSubject(m);
  const char *dot = subject != NULL ? strrchr(subject, '.') : NULL;
  char key[256];
  snprintf(key, sizeof key, "%.100s/seq-%llu", dot != NULL ? dot + 1 : "_",
           (unsigned long long)seq);
  return strdup(key);
}

/* Fill *o and *data from message m, and *pending from its metadata (the
 * consumer's messages not yet delivered: the fleet's backlog, for free).
 * -1 out of memory. */
static int take_message(natsMsg *m, ims_object *o, const void **data,
                        long *pending) {
  jsMsgMetaData *meta = NULL;
  uint64_t seq = 0;
  int64_t stored_ms = ims__now_epoch_ms();
  if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
    seq = meta->Sequence.Stream;
    stored_ms = meta->Timestamp / 1000000;
    *pending = meta->NumPending > (uint64_t)LONG_MAX ? LONG_MAX
                                                     : (long)meta->NumPending;
    jsMsgMetaData_Destroy(meta);
  }
  o->key = ims__nats_message_key(m, seq);
  o->event_time_ms = stored_ms;
  o->size = (uint64_t)natsMsg_GetDataLength(m);
  *data = natsMsg_GetData(m);
  return o->key != NULL ? 0 : -1;
}

/* One natsSubscription_Fetch of a single message, appended to q->list
 * (which has room). One at a time because libnats 3.4's Fetch of a batch
 * can write past its own array when messages are already pending in the
 * subscription as it starts (seen in tests/nats_failover.c: 9 messages in
 * a 4-entry array, heap corruption and abort); a Fetch of one cannot. */
static natsStatus fetch_one(ims__queue *q, int wait_ms, jsErrCode *code) {
  natsMsgList one = {NULL, 0};
  natsStatus s = natsSubscription_Fetch(&one, q->sub, 1,
                                        wait_ms > 0 ? wait_ms : 1, code);
  if (s == NATS_OK && one.Count > 0) {
    q->list.Msgs[q->list.Count++] = one.Msgs[0];
    one.Count = 0; /* taken: Destroy frees only the array */
  }
  natsMsgList_Destroy(&one);
  return s;
}

/* objects[0..list.Count) and data from the fetched messages. */
static ims_status take_all(ims__queue *q, ims_object *objects,
                           const void **data, size_t *count_out,
                           ims_error *err) {
  for (int i = 0; i < q->list.Count; i++) {
    if (take_message(q->list.Msgs[i], &objects[i], &data[i], &q->pending) !=
        0) {
      while (i-- > 0) { /* the keys made so far */
        free(objects[i].key);
        objects[i].key = NULL;
      }
      return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
    }
  }
  *count_out = (size_t)q->list.Count;
  return IMS_OK;
}

ims_status ims__queue_fetch(ims__queue *q, size_t max, int wait_ms,
                            ims_object *objects, const void **data,
                            size_t *count_out, ims_error *err) {
  if (max > q->max_batch) max = q->max_batch;
  natsMsgList_Destroy(&q->list); /* a batch not settled (engine failed) */
  *count_out = 0;
  uint64_t t0 = ims__now_mono_ns();
  jsErrCode code = 0;
  q->list.Msgs = calloc(max, sizeof *q->list.Msgs); /* freed by Destroy */
  if (q->list.Msgs == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  /* the first image waits up to wait_ms, the rest of the batch only for
   * what is there already */
  natsStatus s = fetch_one(q, wait_ms, &code);
  while (s == NATS_OK && q->list.Count > 0 && (size_t)q->list.Count < max &&
         fetch_one(q, FILL_WAIT_MS, &code) == NATS_OK) {
  }
  q->touched_ns = ims__now_mono_ns();
  q->fetch_ns += q->touched_ns - t0;
  if (s == NATS_CONNECTION_CLOSED || s == NATS_INVALID_SUBSCRIPTION)
    return ims__nats_fail(err, s, code, "fetching from stream %s on %s",
                          ims_nats_stream_name(q->n), ims__nats_url(q->n));
  if (s != NATS_OK || q->list.Count == 0) {
    /* nothing came, or the server is away: back off a little so a dead
     * connection is not a busy loop, then the engine asks again */
    if (s != NATS_OK && s != NATS_TIMEOUT)
      ims__nats_backoff(q->n, 3, UINT64_MAX);
    natsMsgList_Destroy(&q->list);
    return IMS_OK;
  }
  return take_all(q, objects, data, count_out, err);
}

void ims__queue_keepalive(ims__queue *q) {
  uint64_t now = ims__now_mono_ns();
  if (now - q->touched_ns < q->ack_wait_ns / 3) return;
  for (int i = 0; i < q->list.Count; i++)
    natsMsg_InProgress(q->list.Msgs[i], NULL);
  q->touched_ns = now;
}

void ims__queue_settle(ims__queue *q, const bool *failed) {
  for (int i = 0; i < q->list.Count; i++) {
    natsMsg *m = q->list.Msgs[i];
    if (failed[i])
      natsMsg_Term(m, NULL);
    else
      natsMsg_Ack(m, NULL);
  }
  /* Acks are fire-and-forget; flushing bounds how many a crash can lose
   * (each lost one is only a redelivery and a dropped duplicate). */
  natsConnection_FlushTimeout(ims__nats_conn(q->n),
                              ims__nats_timeout_ms(q->n));
  natsMsgList_Destroy(&q->list);
}
