/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink_nats.c - the results sink on NATS JetStream (ims_sink_open_nats,
 * nats.h): one implementation of ims__sink_ops (stream_int.h).
 *
 * A batch's rows become one message each: the body is the row's jsonl:
 * JSON object (sink_jsonl.c) without its newline, the subject
 * "RESULTS.<category>" (the row's label), the Nats-Msg-Id the row's
 * path - the image's key - so JetStream's de-duplication keeps one result
 * per image: a replayed or redelivered batch publishes the same ids, and
 * the copies are dropped. That is what the replay cut does for a file.
 * Publishing, acks and retries are src/nats/publish.c's.
 *
 * The bodies of a batch are formatted once into one buffer, and the
 * message table is grown as needed; both are kept from batch to batch.
 *
 * Not here: the connection (the caller's ims_nats, BORROWED).
 *
 * Threading: one thread at a time per sink (the ims_nats's thread).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "stream/stream_int.h"
#include "nats/nats_int.h"

typedef struct nats_sink {
  ims_nats *n;               /* BORROWED: the results stream */
  char *buf;                 /* owned: the batch's bodies, back to back */
  size_t len, cap;           /* used / allocated bytes of buf */
  ims__nats_result *results; /* owned: one per row, into buf */
  size_t nresults;           /* entries allocated in results */
} nats_sink;

/* Room for n results. 0 or -1 out of memory. */
static int reserve(nats_sink *s, size_t n) {
  if (n <= s->nresults) return 0;
  ims__nats_result *grown = realloc(s->results, n * sizeof *grown);
  if (grown == NULL) return -1;
  s->results = grown;
  s->nresults = n;
  return 0;
}

/* The bodies of rows[0..n) into s->buf, and s->results pointing at them.
 * 0 or -1 out of memory. */
static int make_results(nats_sink *s, const ims_stream_row *rows,
                        size_t n) {
  if (reserve(s, n) != 0) return -1;
  s->len = 0;
  for (size_t i = 0; i < n; i++) {
    size_t start = s->len;
    if (ims__sink_jsonl.format(&rows[i], 1, 0, &s->buf, &s->len,
                               &s->cap) != 0)
      return -1;
    if (s->len > start && s->buf[s->len - 1] == '\n') s->len--;
    s->results[i].size = s->len - start;
  }
  /* buf may have moved while it grew: point into it only now */
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    s->results[i].id = rows[i].path;
    s->results[i].category = rows[i].label;
    s->results[i].data = s->buf + off;
    off += s->results[i].size;
  }
  return 0;
}

static ims_status nats_write(void *state, const char *name, int64_t batch,
                             const ims_stream_row *rows, size_t n,
                             ims_error *err) {
  nats_sink *s = state;
  if (make_results(s, rows, n) != 0)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  return ims__nats_publish_results(s->n, s->results, n, err);
}

static void nats_close(void *state) {
  nats_sink *s = state;
  if (s == NULL) return;
  free(s->buf);
  free(s->results);
  free(s);
}

static const ims__sink_ops nats_ops = {
    .kind = "nats", .write = nats_write, .close = nats_close};

ims_status ims_sink_open_nats(ims_nats *results, ims_sink **out,
                              ims_error *err) {
  nats_sink *s = calloc(1, sizeof *s);
  if (s == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  s->n = results;
  return ims__sink_new(ims__nats_url(results), &nats_ops, s, out, err);
}
