/* SPDX-License-Identifier: Apache-2.0 */
/*
 * source_nats.c - the JetStream source of the stream engine (the
 * ims__source_ops of stream_int.h), adapting the work-queue consumer of
 * src/nats/queue.c: a batch is one fetch from the durable pull consumer
 * every worker shares.
 *
 * Its part of the protocol (fetch -> keepalive -> sinks -> ack/term):
 *   take       waits out the trigger interval (in 50 ms slices, so a
 *              stop request is seen), then fetches up to `max` images,
 *              waiting at most 200 ms for the first; the next batch's
 *              pull request goes out at once (queue.c: prefetch)
 *   keepalive  after classifying: restarts the ack wait of the batch's
 *              images and of those prefetched when a third of it has
 *              passed (queue.c)
 *   settle     after every sink has the rows: ack each image, terminate
 *              the ones that gave an error row (never redelivered)
 * There is no replay and no begin step: JetStream's acks are the
 * checkpoint, and an image not acked (the worker died, or the batch
 * failed) is redelivered by JetStream after the ack wait.
 *
 * Bodies: the images are in the fetched messages already; the engine
 * classifies them from memory.
 *
 * Not here: NATS calls (src/nats/), what is done with a batch
 * (stream.c).
 *
 * Threading: the engine's thread.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "stream/stream_int.h"
#include "nats/nats_int.h"

#define FETCH_WAIT_MS 200                /* longest wait for a first image */
#define SLEEP_SLICE_NS (50u * 1000000u)  /* longest sleep between stop
                                            checks */

typedef struct nats_source {
  ims__queue *queue;                 /* owned: the pull consumer */
  const volatile sig_atomic_t *stop; /* BORROWED: the engine's stop flag */
  int64_t next_id;                   /* id of the next batch */
  ims__source_batch cur;             /* the batch in flight; its objects
                                        array is `objects` */
  size_t cap;                        /* images per fetch at most */
  ims_object *objects;               /* owned: cap; keys owned while in
                                        cur (cur.in.count of them) */
  const void **data;                 /* owned: cap bodies (BORROWED from
                                        the queue's messages) */
  size_t *sizes;                     /* owned: cap sizes */
  const char **names;                /* owned: cap pointers to the keys */
  bool *gone;                        /* owned: cap, all false (a message
                                        has its body) */
} nats_source;

/* Free the keys of the batch handed out last; the array is kept. */
static void drop_batch(nats_source *ns) {
  for (size_t i = 0; i < ns->cur.in.count; i++) {
    free(ns->objects[i].key);
    ns->objects[i].key = NULL;
  }
  ns->cur.in.count = 0;
}

static ims_status nats_replay(void *state, const ims__source_batch **out,
                              ims_error *err) {
  *out = NULL; /* JetStream redelivers what was not acked */
  return IMS_OK;
}

static ims_status nats_take(void *state, const ims__take_plan *plan,
                            const ims__source_batch **out, ims_error *err) {
  nats_source *ns = state;
  uint64_t now = ims__now_mono_ns();
  *out = NULL;
  while (now < plan->not_before_ns && !*ns->stop) {
    uint64_t until = now + SLEEP_SLICE_NS;
    ims__sleep_until_ns(plan->not_before_ns < until ? plan->not_before_ns
                                                    : until);
    now = ims__now_mono_ns();
  }
  if (now < plan->not_before_ns) return IMS_OK; /* stopped meanwhile */
  drop_batch(ns);
  size_t n = 0;
  ims_status st = ims__queue_fetch(ns->queue, plan->max, FETCH_WAIT_MS,
                                   ns->objects, ns->data, &n, err);
  if (st != IMS_OK || n == 0) return st;
  for (size_t i = 0; i < n; i++) {
    ns->sizes[i] = (size_t)ns->objects[i].size;
    ns->names[i] = ns->objects[i].key;
  }
  ns->cur.in.count = n;
  ns->cur.in.id = ns->next_id++;
  ns->cur.trigger_ns = now;
  *out = &ns->cur;
  return IMS_OK;
}

/* Nothing to record before a batch: the fetch leased its images. */
static ims_status nats_begin(void *state, const ims__source_batch *b,
                             ims_error *err) {
  return IMS_OK;
}

/* Nothing begun to wait for, nothing settled to flush: acks are sent at
 * settle. */
static ims_status nats_ready(void *state, const ims__source_batch *b,
                             ims_error *err) {
  return IMS_OK;
}

static ims_status nats_flush(void *state, ims_error *err) { return IMS_OK; }

static ims_status nats_bodies(void *state, const ims__source_batch *b,
                              ims__bodies *out, ims_error *err) {
  nats_source *ns = state;
  out->paths = NULL;
  out->data = ns->data;
  out->sizes = ns->sizes;
  out->names = ns->names;
  out->gone = ns->gone;
  return IMS_OK;
}

static void nats_keepalive(void *state) {
  nats_source *ns = state;
  ims__queue_keepalive(ns->queue);
}

/* Acks are best effort: one lost to a disconnect is a redelivery, whose
 * duplicate result JetStream drops (queue.c). */
static ims_status nats_settle(void *state, const ims__source_batch *b,
                              const bool *failed, const char *extra,
                              ims_error *err) {
  nats_source *ns = state;
  ims__queue_settle(ns->queue, failed);
  return IMS_OK;
}

/* JetStream's acks are the checkpoint. */
static ims__checkpoint *nats_checkpoint(void *state) { return NULL; }

/* The consumer's pending count, from the last message's metadata: no
 * request of its own. */
static long nats_backlog(const void *state) {
  const nats_source *ns = state;
  return ims__queue_pending(ns->queue);
}

static bool nats_can_deliver(const void *state, char *why, size_t cap) {
  const nats_source *ns = state;
  return ims__queue_connected(ns->queue, why, cap);
}

static uint64_t nats_discovery_ns(const void *state) {
  const nats_source *ns = state;
  return ims__queue_fetch_ns(ns->queue);
}

static void nats_destroy(void *state) {
  nats_source *ns = state;
  if (ns == NULL) return;
  ims__queue_destroy(ns->queue);
  if (ns->objects != NULL) drop_batch(ns);
  free(ns->objects);
  free(ns->data);
  free(ns->sizes);
  free(ns->names);
  free(ns->gone);
  free(ns);
}

static const ims__source_ops nats_ops = {
    .name = "nats",
    .replay = nats_replay,
    .take = nats_take,
    .begin = nats_begin,
    .ready = nats_ready,
    .bodies = nats_bodies,
    .keepalive = nats_keepalive,
    .settle = nats_settle,
    .flush = nats_flush,
    .checkpoint = nats_checkpoint,
    .backlog = nats_backlog,
    .can_deliver = nats_can_deliver,
    .discovery_ns = nats_discovery_ns,
    .destroy = nats_destroy,
};

ims_status ims__source_nats_create(ims_nats *n,
                                   const ims_nats_consumer_options *o,
                                   size_t cap,
                                   const volatile sig_atomic_t *stop,
                                   ims__source *out, ims_error *err) {
  nats_source *ns = calloc(1, sizeof *ns);
  if (ns == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  ns->stop = stop;
  ns->cap = cap;
  ns->objects = calloc(cap, sizeof *ns->objects);
  ns->data = calloc(cap, sizeof *ns->data);
  ns->sizes = calloc(cap, sizeof *ns->sizes);
  ns->names = calloc(cap, sizeof *ns->names);
  ns->gone = calloc(cap, sizeof *ns->gone);
  ns->cur.in.objects = ns->objects;
  ims_status st = IMS_OK;
  if (ns->objects == NULL || ns->data == NULL || ns->sizes == NULL ||
      ns->names == NULL || ns->gone == NULL)
    st = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  if (st == IMS_OK) st = ims__queue_create(n, o, cap, &ns->queue, err);
  if (st != IMS_OK) {
    nats_destroy(ns);
    return st;
  }
  out->ops = &nats_ops;
  out->state = ns;
  return IMS_OK;
}
