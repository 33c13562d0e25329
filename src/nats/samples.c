/* SPDX-License-Identifier: Apache-2.0 */
/*
 * samples.c - reading a JetStream stream in sequence order from a given
 * point: how every NATS worker folds the stream of learned samples
 * (src/stream/learning.c) into its head, so that all of them fold the
 * same messages in the same order.
 *
 * An ordered consumer (ephemeral, flow-controlled; nats.c recreates it
 * from the last delivered sequence after a gap or a reconnect) starting
 * at after_seq + 1. Messages are polled with natsSubscription_NextMsg;
 * one is held until the next call, so its bytes need no copy.
 *
 * Threading: the thread using the ims_nats.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>

#include "nats/nats_int.h"

#define SUBJECT_CAP 512

struct ims__samples {
  ims_nats *n;            /* BORROWED */
  natsSubscription *sub;  /* owned */
  natsMsg *held;          /* owned: the message last handed out */
};

ims_status ims__samples_open(ims_nats *n, uint64_t after_seq,
                             ims__samples **out, ims_error *err) {
  ims__samples *s = calloc(1, sizeof *s);
  if (s == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  s->n = n;
  char subject[SUBJECT_CAP];
  snprintf(subject, sizeof subject, "%s.>", ims_nats_stream_name(n));
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = ims_nats_stream_name(n);
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = after_seq + 1;
  jsErrCode code = 0;
  natsStatus st = js_SubscribeSync(&s->sub, ims__nats_js(n), subject, NULL,
                                   &so, &code);
  if (st != NATS_OK) {
    free(s);
    return ims__nats_fail(err, st, code, "reading stream %s on %s",
                          ims_nats_stream_name(n), ims__nats_url(n));
  }
  *out = s;
  return IMS_OK;
}

void ims__samples_close(ims__samples *s) {
  if (s == NULL) return;
  natsMsg_Destroy(s->held);
  natsSubscription_Destroy(s->sub);
  free(s);
}

ims_status ims__samples_next(ims__samples *s, int wait_ms, const void **data,
                             size_t *size, uint64_t *seq, bool *got,
                             ims_error *err) {
  natsMsg_Destroy(s->held);
  s->held = NULL;
  *got = false;
  natsMsg *m = NULL;
  /* NextMsg needs a positive timeout; 1 ms is "what has come". */
  natsStatus st = natsSubscription_NextMsg(&m, s->sub, wait_ms > 0 ? wait_ms
                                                                  : 1);
  if (st == NATS_TIMEOUT || (st != NATS_OK && ims__nats_transient(st, 0)))
    return IMS_OK;
  if (st != NATS_OK)
    return ims__nats_fail(err, st, 0, "reading stream %s on %s",
                          ims_nats_stream_name(s->n), ims__nats_url(s->n));
  jsMsgMetaData *meta = NULL;
  if (natsMsg_GetMetaData(&meta, m) != NATS_OK) {
    natsMsg_Destroy(m); /* not a stream message: skipped */
    return IMS_OK;
  }
  *seq = meta->Sequence.Stream;
  jsMsgMetaData_Destroy(meta);
  s->held = m;
  *data = natsMsg_GetData(m);
  *size = (size_t)natsMsg_GetDataLength(m);
  *got = true;
  return IMS_OK;
}
