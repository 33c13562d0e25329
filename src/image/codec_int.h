/* SPDX-License-Identifier: Apache-2.0 */
/*
 * codec_int.h - the private interface between decoder.c and its format
 * backends (jpeg.c, png.c, bmp.c), plus the grow-only buffer they share.
 *
 * decoder.c sniffs the format from the first bytes and calls one backend's
 * decode function through an ims__codec table entry. A backend writes RGB
 * pixels into ctx->pixels (and may use ctx->scratch), never allocating a
 * buffer of its own that outlives the call unless it is in its `state`.
 *
 * Not here: format detection (decoder.c), resizing (preprocess.c).
 *
 * Threading: everything hangs off one ims_decoder; no shared state.
 */
#ifndef IMS_IMAGE_CODEC_INT_H
#define IMS_IMAGE_CODEC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "imgstream/image.h"

/* A heap buffer that only ever grows; reused across decode calls. */
typedef struct ims__buf {
  uint8_t *data; /* private: malloc()ed, NULL until first reserve */
  size_t cap;    /* private: bytes allocated at data */
} ims__buf;

/* Make buf->data hold at least `size` bytes (contents not preserved).
 * Allocates only when growing. IMS_ERR_NO_MEMORY on failure. */
ims_status ims__buf_reserve(ims__buf *buf, size_t size, ims_error *err);

/* Free a buffer's memory and reset it to empty. */
void ims__buf_free(ims__buf *buf);

/* Everything one decode call gets from decoder.c. */
typedef struct ims__decode_ctx {
  const uint8_t *data;     /* input: encoded bytes, BORROWED */
  size_t size;             /* input: bytes at data (> 0) */
  uint64_t max_pixels;     /* input: width*height limit (non-zero) */
  uint32_t min_short_side; /* input: JPEG DCT-scaling hint, 0 = full size */
  ims__buf *pixels;        /* input: where the RGB result goes */
  ims__buf *scratch;       /* input: free scratch space for the backend */
} ims__decode_ctx;

/* One format backend. create/destroy may be NULL for stateless codecs. */
typedef struct ims__codec {
  const char *name;                              /* "JPEG", "PNG", "BMP" */
  ims_status (*create)(void **state_out);        /* lazily, on first use */
  void (*destroy)(void *state);                  /* NULL state is a no-op */
  ims_status (*decode)(void *state, const ims__decode_ctx *ctx,
                       ims_image *image_out, ims_error *err);
} ims__codec;

extern const ims__codec ims__codec_jpeg; /* jpeg.c */
extern const ims__codec ims__codec_png;  /* png.c */
extern const ims__codec ims__codec_bmp;  /* bmp.c */

/* Check width x height against ctx->max_pixels; IMS_ERR_TOO_LARGE with a
 * message naming `format` when over. Call before any large allocation. */
ims_status ims__check_pixels(const ims__decode_ctx *ctx, const char *format,
                             uint64_t width, uint64_t height,
                             ims_error *err);

#endif /* IMS_IMAGE_CODEC_INT_H */
