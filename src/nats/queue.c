/* SPDX-License-Identifier: Apache-2.0 */
/*
 * queue.c - the durable pull consumer a stream worker takes its
 * micro-batches from (nats_int.h). Every worker binds the same durable
 * consumer, so JetStream hands each image to one of them; this file turns
 * delivered messages into keys, event times and bodies, keeps them leased
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
 * Fetching: we own the pull, and never call natsSubscription_Fetch.
 * libnats 3.4.1 (Debian's) has a heap overflow in Fetch's _fetch: it
 * first takes the c messages already pending in the subscription, lowers
 * req->Batch to Batch - c, then loops while count != req->Batch with
 * count already c, so for c > Batch/2 it writes msgs[count++] past its
 * Batch-sized array as messages arrive (fixed upstream after 3.4.1:
 * nats.c commit 8099b5c9, "Fix heap buffer overflow in _fetch (#749)").
 * Messages are pending when an earlier pull request's messages arrive
 * after its Fetch gave up, which a caller cannot rule out. So:
 *   - js_PullSubscribe still creates/binds the durable consumer (its
 *     config stays the library's); its subscription is never read;
 *   - a plain subscription on "<inbox>.*" of our own receives; a pull
 *     request is a publish of {"batch":N,"expires":NS} to
 *     $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer> with reply
 *     "<inbox>.<request id>", so a status message (404, 408, 409: the
 *     request ended; 100: heartbeat) names its request;
 *   - messages are read one by one with natsSubscription_NextMsg into
 *     OUR ring of max_batch entries, only while it has room: a message
 *     that does not fit stays in the subscription for the next batch;
 *   - at most one request is outstanding, for at most the room left, so
 *     what it brings fits; one that saw no end by expires + 250 ms (lost
 *     to a reconnect) is forgotten, and its late messages are still read
 *     as any others (bounded);
 *   - prefetch: as soon as a batch is taken (before it is classified) the
 *     next request goes out, so its images arrive while the engine works;
 *   - acks are ours too: "+ACK", "+TERM", "+WPI", "-NAK" published to the
 *     message's $JS.ACK reply subject (JetStream's ack protocol; 3.4.1's
 *     natsMsg_Ack & co. dereference the subscription's JetStream state,
 *     which a plain subscription has not). A message whose reply is not a
 *     $JS.ACK subject is not a delivery and is dropped, never answered.
 * Leases: a prefetched message (or one read ahead, as it did not fit)
 * has its ack wait running from its delivery, so keepalive restarts it
 * together with the batch's, timed from the oldest lease (a message read
 * from the subscription was delivered after the last time the
 * subscription was seen empty). One never taken (the worker stops) is
 * NAKed at destroy: redelivered at once, to another worker. Left: a
 * message the server delivers to a stopped worker's still-open prefetch
 * (up to PREFETCH_MS after its last batch) waits out the ack wait.
 *
 * Threading: the engine's thread.
 */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats/nats_int.h"

#define KEY_MAX 1024          /* longest header accepted as a key */
#define FILL_WAIT_MS 5        /* wait for each image after a batch's first */
#define PREFETCH_MS 1000      /* how long a prefetch request stays open */
#define LOST_SLACK_NS (250u * 1000000u) /* a request with no end by its
                                           expiry + this is forgotten */
#define ACK_PREFIX "$JS.ACK."

typedef struct held {
  natsMsg *m;       /* owned */
  uint64_t lease_ns; /* its ack wait started at or after this */
} held;

struct ims__queue {
  ims_nats *n;            /* BORROWED */
  natsSubscription *js;   /* owned: binds the durable consumer; unread */
  natsSubscription *sub;  /* owned: "<inbox>.*", where messages come */
  char inbox[128];        /* the inbox (natsInbox) */
  char next_subj[400];    /* $JS.API.CONSUMER.MSG.NEXT.<stream>.<name> */
  size_t max_batch;       /* most messages per fetch: ring and batch cap */
  held *ring;             /* owned: max_batch; read, not yet taken */
  size_t head, count;     /* ring's first entry and entries */
  held *batch;            /* owned: max_batch; the batch in flight */
  size_t batch_count;     /* entries of batch */
  uint64_t req_id;        /* the outstanding request's id; 0: none */
  uint64_t last_id;       /* last request id used */
  int req_left;           /* messages it may still bring */
  uint64_t req_lost_ns;   /* when it is taken as lost */
  uint64_t empty_ns;      /* when the subscription was last seen empty */
  uint64_t fetch_ns;      /* time spent fetching */
  uint64_t ack_wait_ns;   /* the consumer's ack wait */
  uint64_t touched_ns;    /* oldest lease of batch and ring */
  long pending;           /* the consumer's pending count after the last
                             message taken; -1 before the first */
};

static ims_status open_inbox(ims__queue *q, const char *name,
                             ims_error *err) {
  natsInbox *inbox = NULL;
  natsStatus s = natsInbox_Create(&inbox);
  if (s == NATS_OK) {
    snprintf(q->inbox, sizeof q->inbox, "%s", inbox);
    natsInbox_Destroy(inbox);
    char subj[sizeof q->inbox + 4];
    snprintf(subj, sizeof subj, "%s.*", q->inbox);
    s = natsConnection_SubscribeSync(&q->sub, ims__nats_conn(q->n), subj);
  }
  /* libnats drops messages beyond 64 MiB pending (redelivered after the
   * ack wait): room for two batches of the largest messages */
  int64_t bytes = 2 * (int64_t)q->max_batch * ims_nats_max_payload(q->n);
  if (s == NATS_OK && bytes > 64 * 1024 * 1024)
    s = natsSubscription_SetPendingLimits(
        q->sub, 65536, bytes > INT_MAX ? INT_MAX : (int)bytes);
  /* the server has the interest before create returns (our own requests
   * would follow the SUB anyway; a test's from another connection not) */
  if (s == NATS_OK)
    s = natsConnection_FlushTimeout(ims__nats_conn(q->n),
                                    ims__nats_timeout_ms(q->n));
  if (s != NATS_OK)
    return ims__nats_fail(err, s, 0, "subscribing for consumer %s at %s",
                          name, ims__nats_url(q->n));
  q->empty_ns = ims__now_mono_ns();
  return IMS_OK;
}

/* Create or bind the durable consumer, retrying what a cluster's leader
 * election or a reconnect answers (a timeout, "JetStream not available")
 * until the connection's retry time: a worker started while a server
 * dies waits for the new leader instead of exiting. */
static natsStatus bind_consumer(ims__queue *q, const char *subject,
                                const char *name, jsSubOptions *so,
                                jsErrCode *code) {
  uint64_t deadline =
      ims__now_mono_ns() + (uint64_t)ims__nats_retry_ms(q->n) * 1000000u;
  for (unsigned attempt = 0;; attempt++) {
    *code = 0;
    natsStatus s = js_PullSubscribe(&q->js, ims__nats_js(q->n), subject,
                                    name, NULL, so, code);
    /* a missing stream is not transient: it ends the loop too */
    if (s == NATS_OK || !ims__nats_transient(s, *code) ||
        !ims__nats_backoff(q->n, attempt, deadline))
      return s;
  }
}

ims_status ims__queue_create(ims_nats *n, const ims_nats_consumer_options *o,
                             size_t max_batch, ims__queue **out,
                             ims_error *err) {
  const char *name = o != NULL && o->name != NULL ? o->name : "imgstream";
  if (*name == '\0' || strpbrk(name, ". *>\t\r\n") != NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "consumer name '%s': no "
                     "'.', '*', '>' or spaces", name);
  if (max_batch == 0 || max_batch > INT_MAX)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "batch of %zu", max_batch);
  ims__queue *q = calloc(1, sizeof *q);
  if (q == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  q->n = n;
  q->max_batch = max_batch;
  q->pending = -1;
  q->ring = calloc(max_batch, sizeof *q->ring);
  q->batch = calloc(max_batch, sizeof *q->batch);
  if (q->ring == NULL || q->batch == NULL) {
    ims__queue_destroy(q);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  snprintf(q->next_subj, sizeof q->next_subj,
           "$JS.API.CONSUMER.MSG.NEXT.%s.%s", ims_nats_stream_name(n), name);
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
  natsStatus s = bind_consumer(q, subject, name, &so, &code);
  if (s != NATS_OK) {
    ims__queue_destroy(q);
    if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr)
      return ims__fail(err, IMS_ERR_NOT_FOUND, "no stream %s on %s",
                       ims_nats_stream_name(n), ims__nats_url(n));
    return ims__nats_fail(err, s, code, "consumer %s on stream %s at %s",
                          name, ims_nats_stream_name(n), ims__nats_url(n));
  }
  ims_status st = open_inbox(q, name, err);
  if (st != IMS_OK) {
    ims__queue_destroy(q);
    return st;
  }
  *out = q;
  return IMS_OK;
}

/* Publish `what` ("+ACK", "+TERM", "+WPI", "-NAK") to m's ack subject
 * (checked to be one when m was read). Best effort. */
static void answer(ims__queue *q, natsMsg *m, const char *what) {
  natsConnection_PublishString(ims__nats_conn(q->n), natsMsg_GetReply(m),
                               what);
}

/* Destroy the batch's messages (settled or not: an unsettled batch is
 * redelivered after the ack wait). */
static void drop_batch(ims__queue *q) {
  for (size_t i = 0; i < q->batch_count; i++) natsMsg_Destroy(q->batch[i].m);
  q->batch_count = 0;
}

void ims__queue_destroy(ims__queue *q) {
  if (q == NULL) return;
  if (q->batch != NULL) drop_batch(q);
  /* messages prefetched and never taken: back to the consumer at once */
  for (; q->ring != NULL && q->count > 0; q->count--) {
    natsMsg *m = q->ring[q->head].m;
    answer(q, m, "-NAK");
    natsMsg_Destroy(m);
    q->head = (q->head + 1) % q->max_batch;
  }
  natsMsg *m = NULL;
  while (q->sub != NULL && natsSubscription_NextMsg(&m, q->sub, 0) ==
                               NATS_OK) {
    const char *r = natsMsg_GetReply(m);
    if (r != NULL && strncmp(r, ACK_PREFIX, strlen(ACK_PREFIX)) == 0)
      answer(q, m, "-NAK");
    natsMsg_Destroy(m);
  }
  if (q->sub != NULL) {
    natsConnection_FlushTimeout(ims__nats_conn(q->n),
                                ims__nats_timeout_ms(q->n));
    natsSubscription_Unsubscribe(q->sub);
    natsSubscription_Destroy(q->sub);
  }
  /* Destroy, not Unsubscribe: the durable consumer must stay for the
   * other workers and the next start. */
  natsSubscription_Destroy(q->js);
  free(q->ring);
  free(q->batch);
  free(q);
}

uint64_t ims__queue_fetch_ns(const ims__queue *q) { return q->fetch_ns; }

long ims__queue_pending(const ims__queue *q) { return q->pending; }

const char *ims__queue_inbox(const ims__queue *q) { return q->inbox; }

natsSubscription *ims__queue_subscription(ims__queue *q) { return q->sub; }

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

/* Send a pull request for `batch` messages, open for expires_ms. */
static void request(ims__queue *q, int batch, int expires_ms) {
  char reply[sizeof q->inbox + 24], body[96];
  uint64_t id = q->last_id + 1;
  snprintf(reply, sizeof reply, "%s.%llu", q->inbox, (unsigned long long)id);
  snprintf(body, sizeof body, "{\"batch\":%d,\"expires\":%lld}", batch,
           (long long)expires_ms * 1000000);
  if (natsConnection_PublishRequestString(ims__nats_conn(q->n), q->next_subj,
                                          reply, body) != NATS_OK)
    return; /* the connection is away: the next fetch asks again */
  q->last_id = id;
  q->req_id = id;
  q->req_left = batch;
  q->req_lost_ns =
      ims__now_mono_ns() + (uint64_t)expires_ms * 1000000u + LOST_SLACK_NS;
}

/* Whether m answers our outstanding request ("<inbox>.<req_id>"). */
static bool for_request(const ims__queue *q, natsMsg *m) {
  const char *subj = natsMsg_GetSubject(m);
  const char *dot = subj != NULL ? strrchr(subj, '.') : NULL;
  return q->req_id != 0 && dot != NULL &&
         strtoull(dot + 1, NULL, 10) == q->req_id;
}

/* One message from the subscription, waiting up to wait_ms (0: only one
 * already there); the caller made sure the ring has room. A delivery
 * goes into the ring; a status message ends its request (408 timeout,
 * 404 none, 409 ...; 100 is a heartbeat); anything else is dropped.
 * Returns NextMsg's status. */
static natsStatus read_one(ims__queue *q, int wait_ms) {
  natsMsg *m = NULL;
  natsStatus s = natsSubscription_NextMsg(&m, q->sub, wait_ms);
  if (s == NATS_TIMEOUT) q->empty_ns = ims__now_mono_ns();
  if (s != NATS_OK) return s;
  const char *status = NULL;
  const char *reply = natsMsg_GetReply(m);
  bool js = reply != NULL && strncmp(reply, ACK_PREFIX,
                                     strlen(ACK_PREFIX)) == 0;
  /* a status has no reply (an empty image with a Status header is an
   * image: it gets its error row and is terminated) */
  if (!js && natsMsg_GetDataLength(m) == 0 &&
      natsMsgHeader_Get(m, "Status", &status) == NATS_OK) {
    if (strncmp(status, "100", 3) != 0 && for_request(q, m)) q->req_id = 0;
    natsMsg_Destroy(m);
    return NATS_OK;
  }
  if (!js) {
    natsMsg_Destroy(m); /* not a JetStream delivery */
    return NATS_OK;
  }
  held *h = &q->ring[(q->head + q->count++) % q->max_batch];
  h->m = m;
  h->lease_ns = q->empty_ns;
  if (q->req_id != 0 && --q->req_left <= 0) q->req_id = 0;
  return NATS_OK;
}

/* Read what is in the subscription already, while the ring has room. */
static void drain(ims__queue *q) {
  while (q->count < q->max_batch && read_one(q, 0) == NATS_OK) {
  }
}

/* The oldest lease of the batch and the ring (now if none). */
static uint64_t oldest_lease(const ims__queue *q) {
  uint64_t t = ims__now_mono_ns();
  for (size_t i = 0; i < q->batch_count; i++)
    if (q->batch[i].lease_ns < t) t = q->batch[i].lease_ns;
  for (size_t i = 0; i < q->count; i++) {
    const held *h = &q->ring[(q->head + i) % q->max_batch];
    if (h->lease_ns < t) t = h->lease_ns;
  }
  return t;
}

/* Ask for what the ring has room for beyond what is already waiting in
 * the subscription, unless a request is outstanding (and not lost).
 * Whether a request was sent. */
static bool ask(ims__queue *q, int expires_ms) {
  if (q->req_id != 0 && ims__now_mono_ns() < q->req_lost_ns) return false;
  q->req_id = 0;
  int waiting = 0;
  if (natsSubscription_GetPending(q->sub, &waiting, NULL) != NATS_OK)
    waiting = 0;
  long room = (long)(q->max_batch - q->count) - waiting;
  if (room <= 0) return false;
  request(q, (int)room, expires_ms > 0 ? expires_ms : 1);
  return q->req_id != 0;
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

/* Move up to `max` messages from the ring's front to the batch, and fill
 * objects[] and data[] from them. */
static ims_status take_all(ims__queue *q, size_t max, ims_object *objects,
                           const void **data, size_t *count_out,
                           ims_error *err) {
  for (; q->batch_count < max && q->count > 0; q->count--) {
    q->batch[q->batch_count++] = q->ring[q->head];
    q->head = (q->head + 1) % q->max_batch;
  }
  for (size_t i = 0; i < q->batch_count; i++) {
    if (take_message(q->batch[i].m, &objects[i], &data[i], &q->pending) !=
        0) {
      while (i-- > 0) { /* the keys made so far */
        free(objects[i].key);
        objects[i].key = NULL;
      }
      return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
    }
  }
  *count_out = q->batch_count;
  return IMS_OK;
}

/* Read into the ring until it holds `max`: the first message waits until
 * deadline_ns, the others FILL_WAIT_MS each, and only while a request is
 * outstanding. Asks when no request is outstanding (or it is lost) and
 * nothing came yet, three times at most. Returns the NextMsg error that
 * ended it (NATS_OK: none). */
static natsStatus fill(ims__queue *q, size_t max, uint64_t deadline_ns) {
  int asks = 0;
  while (q->count < max) {
    uint64_t now = ims__now_mono_ns();
    if (q->count > 0 && q->req_id == 0) break; /* no more coming */
    if (q->count == 0 && asks < 3 && deadline_ns > now + 10u * 1000000u &&
        ask(q, (int)((deadline_ns - now) / 1000000u)))
      asks++;
    uint64_t until =
        q->count == 0 ? deadline_ns : now + FILL_WAIT_MS * 1000000u;
    if (until <= now) break;
    natsStatus s = read_one(q, (int)((until - now + 999999u) / 1000000u));
    if (s == NATS_TIMEOUT && q->count > 0) break;
    if (s != NATS_OK && s != NATS_TIMEOUT && s != NATS_SLOW_CONSUMER)
      return s;
  }
  return NATS_OK;
}

ims_status ims__queue_fetch(ims__queue *q, size_t max, int wait_ms,
                            ims_object *objects, const void **data,
                            size_t *count_out, ims_error *err) {
  if (max > q->max_batch) max = q->max_batch;
  drop_batch(q); /* a batch not settled (engine failed) */
  *count_out = 0;
  uint64_t t0 = ims__now_mono_ns();
  drain(q);
  natsStatus s = fill(q, max, t0 + (uint64_t)(wait_ms > 0 ? wait_ms : 1) *
                                       1000000u);
  q->fetch_ns += ims__now_mono_ns() - t0;
  if (s == NATS_CONNECTION_CLOSED || s == NATS_INVALID_SUBSCRIPTION)
    return ims__nats_fail(err, s, 0, "fetching from stream %s on %s",
                          ims_nats_stream_name(q->n), ims__nats_url(q->n));
  if (q->count == 0) {
    /* nothing came, or the server is away: a dead connection is not a
     * busy loop (the wait above, or this back-off), then the engine asks
     * again */
    if (s != NATS_OK) ims__nats_backoff(q->n, 3, UINT64_MAX);
    return IMS_OK;
  }
  ims_status st = take_all(q, max, objects, data, count_out, err);
  ask(q, PREFETCH_MS); /* prefetch: arrives while this batch is worked */
  q->touched_ns = oldest_lease(q);
  return st;
}

void ims__queue_keepalive(ims__queue *q) {
  uint64_t now = ims__now_mono_ns();
  if (now - q->touched_ns < q->ack_wait_ns / 3) return;
  drain(q); /* prefetched messages are leased too */
  for (size_t i = 0; i < q->batch_count; i++) {
    answer(q, q->batch[i].m, "+WPI");
    q->batch[i].lease_ns = now;
  }
  for (size_t i = 0; i < q->count; i++) {
    held *h = &q->ring[(q->head + i) % q->max_batch];
    answer(q, h->m, "+WPI");
    h->lease_ns = now;
  }
  q->touched_ns = now;
}

void ims__queue_settle(ims__queue *q, const bool *failed) {
  for (size_t i = 0; i < q->batch_count; i++)
    answer(q, q->batch[i].m, failed[i] ? "+TERM" : "+ACK");
  /* Acks are fire-and-forget; flushing bounds how many a crash can lose
   * (each lost one is only a redelivery and a dropped duplicate). */
  natsConnection_FlushTimeout(ims__nats_conn(q->n),
                              ims__nats_timeout_ms(q->n));
  drop_batch(q);
}
