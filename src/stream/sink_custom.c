/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink_custom.c - ims_sink_custom: a sink whose write is the caller's
 * callback (include/imgstream/stream.h), for rows that go somewhere the
 * library does not know (a database, a queue of the caller's own).
 *
 * How: an ims__sink_ops over a struct holding the two callbacks and the
 * caller's ctx; a non-zero return of the write callback becomes
 * IMS_ERR_IO naming the sink, so the engine does not commit the batch.
 *
 * Not here: retries or buffering (the engine replays a failed batch).
 *
 * Threading: the engine's thread, as every sink.
 */
#include <stdlib.h>

#include "core/error_int.h"
#include "stream/stream_int.h"

typedef struct custom_sink {
  ims_sink_write_fn write; /* the caller's write */
  ims_sink_close_fn close; /* the caller's close, or NULL */
  void *ctx;               /* TRANSFERRED to close */
} custom_sink;

static ims_status custom_write(void *state, const char *name, int64_t batch,
                               const ims_stream_row *rows, size_t n,
                               ims_error *err) {
  custom_sink *c = state;
  int rc = c->write(c->ctx, batch, rows, n);
  if (rc != 0)
    return ims__fail(err, IMS_ERR_IO,
                     "sink %s: writing batch %lld failed (callback "
                     "returned %d)", name, (long long)batch, rc);
  return IMS_OK;
}

static void custom_close(void *state) {
  custom_sink *c = state;
  if (c == NULL) return;
  if (c->close != NULL) c->close(c->ctx);
  free(c);
}

static const ims__sink_ops custom_ops = {"custom", custom_write,
                                         custom_close};

ims_status ims_sink_custom(const char *name, ims_sink_write_fn write_fn,
                           ims_sink_close_fn close_fn, void *ctx,
                           ims_sink **out, ims_error *err) {
  if (name == NULL || write_fn == NULL || out == NULL) {
    if (close_fn != NULL) close_fn(ctx);
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "ims_sink_custom: name and write_fn are required");
  }
  custom_sink *c = malloc(sizeof *c);
  if (c == NULL) {
    if (close_fn != NULL) close_fn(ctx);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  c->write = write_fn;
  c->close = close_fn;
  c->ctx = ctx;
  return ims__sink_new(name, &custom_ops, c, out, err);
}
