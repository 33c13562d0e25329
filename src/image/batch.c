/* SPDX-License-Identifier: Apache-2.0 */
/*
 * batch.c - ims_batch_prep: decode + preprocess a batch on a thread pool
 * (see batch.h).
 *
 * The batch is cut into `threads` contiguous shares with pthreadpool's
 * 1-D tiling; tile k always belongs to worker k, so each worker uses its
 * own decoder and preprocessor without locks. Decoding dominates (a
 * 499x665 JPEG is a few ms), so static shares balance well enough.
 *
 * Threading: one caller at a time; the workers touch only their slot.
 */
#include <pthreadpool.h>
#include <stdlib.h>

#include "core/cpu_int.h"
#include "core/error_int.h"
#include "imgstream/batch.h"

typedef struct worker {
  ims_decoder *decoder;  /* owned */
  ims_preprocessor *pre; /* owned */
} worker;

struct ims_batch_prep {
  pthreadpool_t pool;         /* owned; NULL for one thread */
  size_t threads;             /* workers */
  worker *workers;            /* owned array of `threads` */
  size_t image_bytes;         /* bytes per preprocessed image */
  /* The batch being processed (valid during a run only). */
  const char *const *paths;   /* file inputs, or NULL */
  const void *const *data;    /* memory inputs, or NULL */
  const size_t *sizes;        /* sizes of memory inputs */
  uint8_t *dst;               /* output slots */
  ims_error *errors;          /* per-image results */
  size_t tile;                /* images per worker share */
};

ims_status ims_batch_prep_create(const ims_decode_options *decode,
                                 const ims_preprocess_options *pre,
                                 uint32_t threads, ims_batch_prep **out,
                                 ims_error *err) {
  ims_status st = IMS_ERR_NO_MEMORY;
  ims_batch_prep *p = calloc(1, sizeof *p);
  if (p == NULL) goto fail;
  p->threads = threads ? threads : ims__cpu_online();
  p->workers = calloc(p->threads, sizeof *p->workers);
  if (p->workers == NULL) goto fail;
  for (size_t i = 0; i < p->threads; i++) {
    st = ims_decoder_create(decode, &p->workers[i].decoder, err);
    if (st != IMS_OK) goto fail;
    st = ims_preprocessor_create(pre, &p->workers[i].pre, err);
    if (st != IMS_OK) goto fail;
  }
  if (p->threads > 1) {
    p->pool = pthreadpool_create(p->threads);
    st = IMS_ERR_NO_MEMORY;
    if (p->pool == NULL) goto fail;
  }
  p->image_bytes = (size_t)(pre && pre->crop_width ? pre->crop_width : 224) *
                   (pre && pre->crop_height ? pre->crop_height : 224) * 3;
  *out = p;
  return IMS_OK;
fail:
  ims_batch_prep_destroy(p);
  if (st == IMS_ERR_NO_MEMORY)
    return ims__fail(err, st, "out of memory creating decode workers");
  return st;
}

void ims_batch_prep_destroy(ims_batch_prep *p) {
  if (p == NULL) return;
  for (size_t i = 0; p->workers != NULL && i < p->threads; i++) {
    ims_decoder_destroy(p->workers[i].decoder);
    ims_preprocessor_destroy(p->workers[i].pre);
  }
  free(p->workers);
  if (p->pool != NULL) pthreadpool_destroy(p->pool);
  free(p);
}

size_t ims_batch_prep_image_bytes(const ims_batch_prep *p) {
  return p->image_bytes;
}

static void prep_one(ims_batch_prep *p, worker *w, size_t i) {
  ims_image img;
  ims_error *e = &p->errors[i];
  ims_status st;
  if (p->paths != NULL)
    st = ims_decoder_decode_file(w->decoder, p->paths[i], &img, e);
  else
    st = ims_decoder_decode(w->decoder, p->data[i], p->sizes[i], &img, e);
  if (st == IMS_OK)
    st = ims_preprocess(w->pre, &img, p->dst + i * p->image_bytes, e);
  e->status = st;
  if (st == IMS_OK) e->message[0] = '\0';
}

/* pthreadpool task: one worker's share [start, start + count). */
static void prep_share(void *ctx, size_t start, size_t count) {
  ims_batch_prep *p = ctx;
  worker *w = &p->workers[start / p->tile];
  for (size_t i = start; i < start + count; i++) prep_one(p, w, i);
}

static size_t run_batch(ims_batch_prep *p, size_t count) {
  if (count == 0) return 0;
  p->tile = (count + p->threads - 1) / p->threads;
  if (p->pool != NULL)
    /* Workers sleep when the batch is done instead of spinning: the
     * engine's own pool needs these cores next. */
    pthreadpool_parallelize_1d_tile_1d(p->pool, prep_share, p, count,
                                       p->tile,
                                       PTHREADPOOL_FLAG_YIELD_WORKERS);
  else
    prep_share(p, 0, count);
  size_t failed = 0;
  for (size_t i = 0; i < count; i++) failed += p->errors[i].status != IMS_OK;
  return failed;
}

size_t ims_batch_prep_files(ims_batch_prep *p, size_t count,
                            const char *const *paths, uint8_t *dst,
                            ims_error *errors) {
  p->paths = paths;
  p->data = NULL;
  p->sizes = NULL;
  p->dst = dst;
  p->errors = errors;
  return run_batch(p, count);
}

size_t ims_batch_prep_memory(ims_batch_prep *p, size_t count,
                             const void *const *data, const size_t *sizes,
                             uint8_t *dst, ims_error *errors) {
  p->paths = NULL;
  p->data = data;
  p->sizes = sizes;
  p->dst = dst;
  p->errors = errors;
  return run_batch(p, count);
}
