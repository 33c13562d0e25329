/* SPDX-License-Identifier: Apache-2.0 */
/*
 * png.c - the PNG backend of ims_decoder, over libspng.
 *
 * Every PNG colour type and bit depth (palette, gray, gray+alpha, RGB,
 * RGBA, 1..16 bits, interlaced or not) is decoded to 8-bit RGB with
 * libspng's SPNG_FMT_RGB8 conversion: alpha and tRNS are dropped without
 * compositing (like PIL's convert('RGB')), 16-bit samples keep their high
 * byte, and no gamma correction is applied.
 *
 * The dimensions are read from IHDR and checked against max_pixels before
 * the pixel buffer is sized; libspng's chunk limits bound the memory that
 * ancillary chunks (text, ICC, ...) may take.
 *
 * Not here: format detection, resizing. Not supported: APNG frames beyond
 * the default image (libspng ignores them).
 *
 * Threading: stateless; libspng's context lives only inside one call.
 */
#include <stdio.h>

#include <spng.h>

#include "core/error_int.h"
#include "image/codec_int.h"

#define CHUNK_SIZE_LIMIT (16u << 20)  /* bytes in one ancillary chunk */
#define CHUNK_CACHE_LIMIT (64u << 20) /* bytes of ancillary chunks kept */

/* Describe a libspng error code for a message. */
static ims_status spng_failure(int rc, const char *during, ims_error *err) {
  if (rc == SPNG_IO_EOF || rc == SPNG_EOF)
    return ims__fail(err, IMS_ERR_BAD_IMAGE,
                     "truncated PNG data (ended while reading %s)", during);
  return ims__fail(err, IMS_ERR_BAD_IMAGE, "corrupt PNG data (%s): %s",
                   during, spng_strerror(rc));
}

static ims_status png_decode(void *state, const ims__decode_ctx *ctx,
                             ims_image *image_out, ims_error *err) {
  (void)state;
  ims_status st = IMS_OK;
  struct spng_ihdr ihdr;
  size_t bytes = 0;
  spng_ctx *p = spng_ctx_new(0);
  if (p == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory (PNG)");
  spng_set_chunk_limits(p, CHUNK_SIZE_LIMIT, CHUNK_CACHE_LIMIT);
  int rc = spng_set_png_buffer(p, ctx->data, ctx->size);
  if (rc == 0) rc = spng_get_ihdr(p, &ihdr);
  if (rc != 0) {
    st = spng_failure(rc, "the header", err);
    goto fail;
  }
  st = ims__check_pixels(ctx, "PNG", ihdr.width, ihdr.height, err);
  if (st != IMS_OK) goto fail;
  rc = spng_decoded_image_size(p, SPNG_FMT_RGB8, &bytes);
  if (rc != 0) {
    st = spng_failure(rc, "the header", err);
    goto fail;
  }
  st = ims__buf_reserve(ctx->pixels, bytes, err);
  if (st != IMS_OK) goto fail;
  rc = spng_decode_image(p, ctx->pixels->data, bytes, SPNG_FMT_RGB8, 0);
  if (rc != 0) {
    st = spng_failure(rc, "the image data", err);
    goto fail;
  }
  image_out->width = ihdr.width;
  image_out->height = ihdr.height;
  image_out->stride = (size_t)ihdr.width * 3;
  image_out->pixels = ctx->pixels->data;
fail:
  spng_ctx_free(p);
  return st;
}

const ims__codec ims__codec_png = {
    .name = "PNG",
    .create = NULL,
    .destroy = NULL,
    .decode = png_decode,
};
