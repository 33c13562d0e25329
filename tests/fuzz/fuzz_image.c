/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_image.c - fuzz harness for image decoding and preprocessing: the
 * input is an encoded file (JPEG, PNG, BMP or anything else; the decoder
 * sniffs the format). It is decoded at full size, then - with the same
 * decoder, as a stream worker reuses one - with the reduced-scale JPEG
 * hint (min_short_side 224), and each result goes through the default
 * preprocessor (shorter side 256, center crop 224).
 *
 * The pixel limit is 4 megapixels instead of the default 100, so a header
 * claiming a large image costs 12 MB, not 300 MB, per run; the limit
 * check itself is the same code.
 *
 * Invariants: failures carry a message; a decoded image has non-zero
 * dimensions within the limit and a stride of at least 3 * width, and
 * every pixel byte is readable (the preprocessor and a checksum read
 * them all).
 *
 * Threading: single-threaded.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "imgstream/image.h"

#define FUZZ_MAX_PIXELS (4u << 20)

static void check_image(const ims_image *img) {
  if (img->width == 0 || img->height == 0)
    fuzz_fail("decoded an empty image", NULL);
  if ((uint64_t)img->width * img->height > FUZZ_MAX_PIXELS)
    fuzz_fail("decoded past max_pixels", NULL);
  if (img->stride < (size_t)img->width * 3)
    fuzz_fail("stride below 3 * width", NULL);
  /* touch the last row's bytes: ASan flags a short pixel buffer */
  const uint8_t *last = img->pixels + (img->height - 1) * img->stride;
  volatile unsigned sum = 0;
  for (size_t i = 0; i < (size_t)img->width * 3; i++) sum += last[i];
  (void)sum;
}

static void decode_once(ims_decoder *dec, ims_preprocessor *pre,
                        uint8_t *crop, const uint8_t *data, size_t size) {
  ims_image img;
  ims_error err;
  memset(&err, 0, sizeof err);
  ims_status st = ims_decoder_decode(dec, data, size, &img, &err);
  if (st != IMS_OK) {
    if (err.message[0] == '\0') fuzz_fail("decode failed silently", NULL);
    return;
  }
  check_image(&img);
  memset(&err, 0, sizeof err);
  st = ims_preprocess(pre, &img, crop, &err);
  if (st != IMS_OK && err.message[0] == '\0')
    fuzz_fail("preprocess failed silently", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t crop[224 * 224 * 3];
  ims_decoder *full = NULL, *scaled = NULL;
  ims_preprocessor *pre = NULL;
  ims_decode_options o = {.max_pixels = FUZZ_MAX_PIXELS};
  if (ims_decoder_create(&o, &full, NULL) != IMS_OK) abort();
  o.min_short_side = 224;
  if (ims_decoder_create(&o, &scaled, NULL) != IMS_OK) abort();
  if (ims_preprocessor_create(NULL, &pre, NULL) != IMS_OK) abort();
  decode_once(full, pre, crop, data, size);
  decode_once(scaled, pre, crop, data, size);
  /* the same decoder again: state left over by the first decode */
  decode_once(full, pre, crop, data, size);
  ims_preprocessor_destroy(pre);
  ims_decoder_destroy(scaled);
  ims_decoder_destroy(full);
  return 0;
}
