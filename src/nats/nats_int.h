/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nats_int.h - private pieces of the JetStream layer (public:
 * include/imgstream/nats.h): what the producer (src/cli), the stream
 * engine's NATS source (src/stream/source_nats.c) and its results sink
 * (src/stream/sink_nats.c) use. Sections by file:
 *
 *   1. conn.c     the ims_nats connection, URLs, stream creation, the
 *                 retry loop every JetStream call goes through
 *   2. publish.c  image messages, result messages, reading results
 *   3. queue.c    the durable pull consumer: fetch, keep alive, ack/term
 *
 * Not here: batches, rows and their formats - those are the stream
 * engine's (src/stream/); this layer moves keys and bytes.
 *
 * Threading: everything belongs to the thread using the ims_nats.
 */
#ifndef IMS_NATS_NATS_INT_H
#define IMS_NATS_NATS_INT_H

#include <nats/nats.h>

#include "imgstream/nats.h"
#include "core/error_int.h"
#include "core/clock_int.h"

/* ---- 1. conn.c ---- */

/* The nats.c handles of a connection. BORROWED from n. */
natsConnection *ims__nats_conn(ims_nats *n);
jsCtx *ims__nats_js(ims_nats *n);

/* The URL for messages, passwords and tokens masked. BORROWED. */
const char *ims__nats_url(const ims_nats *n);

/* Asynchronous publishes of this connection that failed so far. */
int ims__nats_async_failures(const ims_nats *n);

/* options.retry_ms and options.timeout_ms (defaults applied). */
uint32_t ims__nats_retry_ms(const ims_nats *n);
uint32_t ims__nats_timeout_ms(const ims_nats *n);

/* Whether a failed call may succeed if repeated: the connection is away
 * or reconnecting, a request timed out, JetStream is electing a leader. */
bool ims__nats_transient(natsStatus s, jsErrCode code);

/* Sleep before attempt `attempt` (0-based) of a retry loop: 50 ms
 * doubling to 1 s, with equal jitter from n's random state (seeded per
 * process: core/backoff_int.h). Returns false once `deadline_ns`
 * (monotonic) has passed. */
bool ims__nats_backoff(ims_nats *n, unsigned attempt, uint64_t deadline_ns);

/* "what: status text (last error detail)" into err as IMS_ERR_IO. */
ims_status ims__nats_fail(ims_error *err, natsStatus s, jsErrCode code,
                          const char *fmt, ...) IMS__PRINTF(4, 5);

/* Append to `out` (cap bytes) the subject token for a category: letters,
 * digits, '-' and '_' kept, anything else '_'; "_" for an empty one. */
void ims__nats_subject(const char *stream, const char *category, char *out,
                       size_t cap);

/* ---- 2. publish.c ---- */

/* One result message (ims__nats_publish_results). */
typedef struct ims__nats_result {
  const char *id;       /* Nats-Msg-Id: the image's key (de-duplication) */
  const char *category; /* subject token source (ims__nats_subject) */
  const char *data;     /* body, BORROWED for the call */
  size_t size;          /* bytes of data */
} ims__nats_result;

/* Publish r[0..count) to subjects "STREAM.<category>" of n's stream: all
 * asynchronously with their acks awaited together (one round trip); if
 * any failed or the wait timed out, all of them again one by one with
 * retries - the same ids, so the ones stored the first time are dropped
 * as duplicates. IMS_ERR_IO once the retries are spent. */
ims_status ims__nats_publish_results(ims_nats *n, const ims__nats_result *r,
                                     size_t count, ims_error *err);

/* Sequence of the stream's last message now (0: empty).
 * IMS_ERR_NOT_FOUND: no such stream. */
ims_status ims__nats_last_seq(ims_nats *n, uint64_t *out, ims_error *err);

/* ---- 3. queue.c ---- */

typedef struct ims__queue ims__queue;

/* Bind (creating if absent) the durable pull consumer on the stream.
 * max_batch: most messages per fetch. IMS_ERR_NOT_FOUND: no stream. */
ims_status ims__queue_create(ims_nats *n, const ims_nats_consumer_options *o,
                             size_t max_batch, ims__queue **out,
                             ims_error *err);
void ims__queue_destroy(ims__queue *q);

/* Fetch up to `max` (at most max_batch) images, waiting at most wait_ms
 * for the first one (none if prefetched ones are there). Then the next
 * pull request goes out at once (prefetch), for what ims__queue_keepalive
 * also keeps leased and ims__queue_destroy gives back (-NAK). Fills
 * objects[0..*count_out) - key (malloc'd, TRANSFERRED), event time (when
 * JetStream stored it), size - and data[i], the bodies (BORROWED until
 * ims__queue_settle or the next fetch); both arrays need room for `max`. *count_out 0: nothing came,
 * or the connection is away (the next fetch retries). Only a closed
 * connection or memory is an error (then no key is left to free). */
ims_status ims__queue_fetch(ims__queue *q, size_t max, int wait_ms,
                            ims_object *objects, const void **data,
                            size_t *count_out, ims_error *err);

/* Between the steps of a batch: when a third of the ack wait has passed
 * since the fetch (or the last call that acted), tell JetStream the
 * batch's images are still being worked on, restarting their ack wait,
 * so a slow batch (large, or a loaded machine) is not handed to another
 * worker meanwhile. Best effort. */
void ims__queue_keepalive(ims__queue *q);

/* After every sink has the batch: ack each image, or terminate those
 * with failed[i] (bad images: never redelivered). Then the messages are
 * freed. An ack lost to a disconnect only means a redelivery (whose
 * duplicate result JetStream drops). */
void ims__queue_settle(ims__queue *q, const bool *failed);

/* The key a fetched image message gets (queue.c's header explains
 * the fallbacks); `seq` is its stream sequence. malloc'd; NULL when out
 * of memory. Exposed for the tests and fuzzers of hostile headers. */
char *ims__nats_message_key(natsMsg *m, uint64_t seq);

/* Nanoseconds spent in fetches so far. */
uint64_t ims__queue_fetch_ns(const ims__queue *q);

/* Messages of the consumer not yet delivered to any worker, as of the
 * last message fetched (its metadata); -1 before the first. */
long ims__queue_pending(const ims__queue *q);

/* True while the connection is up, else false and why not in why[cap]
 * ("NATS: reconnecting to URL"). Any thread: libnats locks the status,
 * and q's connection and URL do not change while q lives. */
bool ims__queue_connected(const ims__queue *q, char *why, size_t cap);

/* For tests: the inbox the queue's messages come to ("<inbox>.<request
 * id>" replies; a pull request of the test's own with reply "<inbox>.t"
 * puts messages pending in the subscription), and that subscription.
 * BORROWED from q. */
const char *ims__queue_inbox(const ims__queue *q);
natsSubscription *ims__queue_subscription(ims__queue *q);

/* ---- 4. samples.c: a stream read in order ---- */

typedef struct ims__samples ims__samples;

/* Read n's stream in sequence order from after `after_seq` (an ordered
 * consumer: ephemeral, flow-controlled, gap-free). */
ims_status ims__samples_open(ims_nats *n, uint64_t after_seq,
                             ims__samples **out, ims_error *err);
void ims__samples_close(ims__samples *s);

/* The next message, waiting at most wait_ms (0: only what has come).
 * *got false: none yet. *data (BORROWED until the next call or close),
 * *size, *seq (its stream sequence). A connection away is "none yet";
 * only a closed connection is an error. */
ims_status ims__samples_next(ims__samples *s, int wait_ms, const void **data,
                             size_t *size, uint64_t *seq, bool *got,
                             ims_error *err);

#endif /* IMS_NATS_NATS_INT_H */
