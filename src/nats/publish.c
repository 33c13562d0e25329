/* SPDX-License-Identifier: Apache-2.0 */
/*
 * publish.c - everything imgstream writes to JetStream, and the
 * results reader:
 *   - image messages (the producer): subject STREAM.<category>, the
 *     image bytes as body, the headers of docs/NATS.md
 *   - result messages (for the results sink, src/stream/sink_nats.c,
 *     which makes each body: the jsonl: sink's JSON object), subject
 *     RESULTS.<category>, Nats-Msg-Id = the image's key
 *   - ims_nats_read_results: an ordered consumer over the results stream
 *
 * Every publish waits for JetStream's acknowledgement and is retried with
 * the same Nats-Msg-Id while the failure is transient (server away,
 * leader election): a retry of a publish that was in fact stored is
 * dropped by the stream's duplicate window, so retrying never duplicates.
 *
 * Sections: 1. publish with retries  2. images  3. results
 *           4. reading results
 *
 * Threading: the thread owning the ims_nats.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats/nats_int.h"

/* Room kept for the headers when checking an image against the server's
 * max payload (nats.c counts headers and body together). */
#define HEADER_ROOM 2048
#define SUBJECT_CAP 512

/* ---- 1. publish with retries ---- */

/* Publish m with MsgId `id`, retrying transient failures until the
 * connection's retry deadline. */
static ims_status publish(ims_nats *n, natsMsg *m, const char *id,
                          ims_nats_ack *ack, ims_error *err) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = id;
  po.ExpectStream = ims_nats_stream_name(n);
  po.MaxWait = ims__nats_timeout_ms(n);
  uint64_t deadline =
      ims__now_mono_ns() + (uint64_t)ims__nats_retry_ms(n) * 1000000u;
  natsStatus s;
  jsErrCode code = 0;
  for (unsigned attempt = 0;; attempt++) {
    jsPubAck *pa = NULL;
    code = 0;
    s = js_PublishMsg(&pa, ims__nats_js(n), m, &po, &code);
    if (s == NATS_OK) {
      if (ack != NULL) {
        ack->seq = pa->Sequence;
        ack->duplicate = pa->Duplicate;
      }
      jsPubAck_Destroy(pa);
      return IMS_OK;
    }
    if (!ims__nats_transient(s, code) ||
        !ims__nats_backoff(n, attempt, deadline))
      break;
  }
  return ims__nats_fail(err, s, code, "publish %s to stream %s on %s", id,
                        ims_nats_stream_name(n), ims__nats_url(n));
}

/* ---- 2. images ---- */

static natsStatus set_headers(natsMsg *m, const ims_nats_image *img) {
  char when[40];
  ims__iso8601_ms(img->upload_time_ms, when, sizeof when);
  natsStatus s = natsMsgHeader_Set(m, "Imgstream-Key", img->key);
  if (s == NATS_OK && img->label != NULL)
    s = natsMsgHeader_Set(m, "Imgstream-Label", img->label);
  if (s == NATS_OK && img->content_type != NULL)
    s = natsMsgHeader_Set(m, "Content-Type", img->content_type);
  if (s == NATS_OK) s = natsMsgHeader_Set(m, "Imgstream-Upload-Time", when);
  return s;
}

ims_status ims_nats_publish_image(ims_nats *n, const ims_nats_image *img,
                                  ims_nats_ack *ack_out, ims_error *err) {
  int64_t limit = ims_nats_max_payload(n);
  if ((int64_t)img->size + HEADER_ROOM > limit)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "%s: %zu bytes is more than the server's max payload "
                     "(%lld bytes, less %d for headers); raise max_payload "
                     "in the server's configuration",
                     img->key, img->size, (long long)limit, HEADER_ROOM);
  char subject[SUBJECT_CAP];
  ims__nats_subject(ims_nats_stream_name(n), img->label, subject,
                    sizeof subject);
  natsMsg *m = NULL;
  natsStatus s = natsMsg_Create(&m, subject, NULL, img->data, (int)img->size);
  if (s == NATS_OK) s = set_headers(m, img);
  ims_status st = s == NATS_OK
                      ? publish(n, m, img->id, ack_out, err)
                      : ims__nats_fail(err, s, 0, "message for %s", img->key);
  natsMsg_Destroy(m);
  return st;
}

/* ---- 3. results ----
 *
 * A batch's results are published asynchronously and their acks awaited
 * together (one round trip per batch instead of one per result); if any
 * of them failed or the wait timed out, the whole batch is published
 * again synchronously, with retries - the same Nats-Msg-Ids, so results
 * that were stored the first time are dropped as duplicates. */

/* Result r as a message on subject STREAM.<category>. */
static ims_status result_message(ims_nats *n, const ims__nats_result *r,
                                 natsMsg **out, ims_error *err) {
  char subject[SUBJECT_CAP];
  ims__nats_subject(ims_nats_stream_name(n), r->category, subject,
                    sizeof subject);
  natsStatus s = natsMsg_Create(out, subject, NULL, r->data, (int)r->size);
  return s == NATS_OK ? IMS_OK
                      : ims__nats_fail(err, s, 0, "result message");
}

/* The fast path: true if every result was acknowledged. */
static bool publish_async(ims_nats *n, const ims__nats_result *r,
                          size_t count) {
  int failures = ims__nats_async_failures(n);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.ExpectStream = ims_nats_stream_name(n);
  for (size_t i = 0; i < count; i++) {
    natsMsg *m = NULL;
    if (result_message(n, &r[i], &m, NULL) != IMS_OK) return false;
    po.MsgId = r[i].id;
    natsStatus s = js_PublishMsgAsync(ims__nats_js(n), &m, &po);
    natsMsg_Destroy(m); /* NULL once the library took it */
    if (s != NATS_OK) return false;
  }
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = ims__nats_timeout_ms(n);
  return js_PublishAsyncComplete(ims__nats_js(n), &wait) == NATS_OK &&
         ims__nats_async_failures(n) == failures;
}

ims_status ims__nats_publish_results(ims_nats *n, const ims__nats_result *r,
                                     size_t count, ims_error *err) {
  if (publish_async(n, r, count)) return IMS_OK;
  for (size_t i = 0; i < count; i++) {
    natsMsg *m = NULL;
    ims_status st = result_message(n, &r[i], &m, err);
    if (st == IMS_OK) st = publish(n, m, r[i].id, NULL, err);
    natsMsg_Destroy(m);
    if (st != IMS_OK) return st;
  }
  return IMS_OK;
}

/* ---- 4. reading results ---- */

ims_status ims__nats_last_seq(ims_nats *n, uint64_t *out, ims_error *err) {
  jsStreamInfo *si = NULL;
  jsErrCode code = 0;
  natsStatus s =
      js_GetStreamInfo(&si, ims__nats_js(n), ims_nats_stream_name(n), NULL,
                       &code);
  if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr)
    return ims__fail(err, IMS_ERR_NOT_FOUND, "no stream %s on %s",
                     ims_nats_stream_name(n), ims__nats_url(n));
  if (s != NATS_OK)
    return ims__nats_fail(err, s, code, "stream %s on %s",
                          ims_nats_stream_name(n), ims__nats_url(n));
  *out = si->State.Msgs > 0 ? si->State.LastSeq : 0;
  jsStreamInfo_Destroy(si);
  return IMS_OK;
}

static ims_status subscribe_all(ims_nats *n, natsSubscription **sub,
                                ims_error *err) {
  char subject[SUBJECT_CAP];
  snprintf(subject, sizeof subject, "%s.>", ims_nats_stream_name(n));
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = ims_nats_stream_name(n);
  so.Ordered = true; /* ephemeral, flow-controlled, gap-free */
  so.Config.DeliverPolicy = js_DeliverAll;
  jsErrCode code = 0;
  natsStatus s = js_SubscribeSync(sub, ims__nats_js(n), subject, NULL, &so,
                                  &code);
  if (s != NATS_OK)
    return ims__nats_fail(err, s, code, "reading stream %s on %s",
                          ims_nats_stream_name(n), ims__nats_url(n));
  return IMS_OK;
}

/* Hand one message to fn; *done when it was the last one wanted. */
static int deliver(natsMsg *m, uint64_t last, bool follow,
                   ims_nats_result_fn fn, void *ctx, bool *done) {
  jsMsgMetaData *meta = NULL;
  uint64_t seq = 0, pending = 1;
  if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
    seq = meta->Sequence.Stream;
    pending = meta->NumPending;
    jsMsgMetaData_Destroy(meta);
  }
  int rc = fn(ctx, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
  *done = rc != 0 || (!follow && (seq >= last || pending == 0));
  return rc;
}

ims_status ims_nats_read_results(ims_nats *n, bool follow,
                                 const volatile sig_atomic_t *stop,
                                 ims_nats_result_fn fn, void *ctx,
                                 ims_error *err) {
  uint64_t last = 0;
  ims_status st = ims__nats_last_seq(n, &last, err);
  if (st != IMS_OK || (last == 0 && !follow)) return st;
  natsSubscription *sub = NULL;
  st = subscribe_all(n, &sub, err);
  bool done = false;
  uint64_t deadline = 0;
  while (st == IMS_OK && !done && (stop == NULL || !*stop)) {
    natsMsg *m = NULL;
    natsStatus s = natsSubscription_NextMsg(&m, sub, 250);
    if (s == NATS_OK) {
      deliver(m, last, follow, fn, ctx, &done);
      natsMsg_Destroy(m);
      deadline = 0;
    } else if (s == NATS_TIMEOUT || ims__nats_transient(s, 0)) {
      /* without follow, a stream that stops delivering (its server
       * gone) is an error after the retry time, not a hang */
      uint64_t now = ims__now_mono_ns();
      if (deadline == 0)
        deadline = now + (uint64_t)ims__nats_retry_ms(n) * 1000000u;
      if (!follow && now > deadline)
        st = ims__fail(err, IMS_ERR_IO, "reading stream %s on %s: no "
                       "message for %u ms", ims_nats_stream_name(n),
                       ims__nats_url(n), ims__nats_retry_ms(n));
    } else {
      st = ims__nats_fail(err, s, 0, "reading stream %s on %s",
                          ims_nats_stream_name(n), ims__nats_url(n));
    }
  }
  natsSubscription_Destroy(sub);
  return st;
}
