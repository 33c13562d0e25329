/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_head.c - fuzz harness for the learned head's file reader
 * (ims_head_decode, src/learn/head_file.c): the input is a head file, as
 * `imgstream classify --head` and `stream --learn` load it.
 *
 * A fuzzer cannot forge a CRC-32, and a file whose checksum fails stops
 * before most of the checks. So each input is decoded twice: as it is,
 * and as a copy whose last 4 bytes are replaced by the CRC of the rest,
 * which reaches the checks behind the checksum. Each decode runs without
 * an `expect` and with one (the seeds' model identity, at most 8
 * classes), which adds the identity and class-limit paths.
 *
 * Invariants: a failure carries a message and writes no head; a head
 * decoded encodes back to exactly the bytes decoded (the format has one
 * encoding per state); its accessors agree with each other; after it
 * predicts and learns a few samples (a new class, a known one, a NaN
 * feature) and refits, its file decodes again - or, when the hostile
 * numbers it was given overflowed in the arithmetic, is refused as not
 * finite, and for no other reason.
 *
 * Seeds: small valid heads (feature_count 4..16) written by fuzz_seeds
 * (seeds.c); dictionary head.dict.
 *
 * Threading: single-threaded.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz.h"
#include "imgstream/head.h"

#define FUZZ_MODEL "sha256:fuzz-seed-model"

static void check_accessors(const ims_head *h) {
  size_t n = ims_head_class_count(h);
  uint64_t seen = 0;
  for (size_t c = 0; c < n; c++) {
    const char *label = ims_head_class_label(h, c);
    if (label == NULL || label[0] == '\0' || strlen(label) > 255)
      fuzz_fail("class label", label);
    if (ims_head_class_seen(h, c) == 0) fuzz_fail("class seen", label);
    seen += ims_head_class_seen(h, c);
  }
  if (seen != ims_head_seen(h)) fuzz_fail("seen", "not the class sum");
  if (ims_head_class_label(h, n) != NULL) fuzz_fail("label", "past the end");
  if (ims_head_model_id(h) == NULL || ims_head_feature_layer(h) == NULL)
    fuzz_fail("identity", "NULL");
}

/* Predict, learn and refit; the head's own file must decode again. */
static void learn_more(ims_head *h) {
  uint32_t d = ims_head_feature_count(h);
  float *x = malloc(2 * (size_t)d * sizeof *x);
  if (x == NULL) fuzz_fail("oom", "");
  for (uint32_t i = 0; i < 2 * d; i++) x[i] = (float)(i * 7 % 5) * 0.25f;
  x[d] = NAN; /* learned as zeros */
  const float *rows[3] = {x, x + d, x};
  const char *known = ims_head_class_count(h) ? ims_head_class_label(h, 0)
                                              : "fuzz";
  const char *labels[3] = {"fuzz-new", known, NULL};
  ims_head_result res[3];
  ims_error err = {0};
  if (ims_head_step(h, 3, rows, labels, res, &err) != IMS_OK)
    fuzz_fail("step", err.message);
  if (ims_head_fit(h, &err) != IMS_OK) fuzz_fail("fit", err.message);
  void *data = NULL;
  size_t size = 0;
  if (ims_head_encode(h, &data, &size, &err) != IMS_OK)
    fuzz_fail("encode", err.message);
  ims_head *again = NULL;
  if (ims_head_decode(data, size, NULL, &again, &err) != IMS_OK &&
      strstr(err.message, "not finite") == NULL)
    fuzz_fail("own file refused", err.message);
  ims_head_destroy(again);
  free(data);
  free(x);
}

static void decode_one(const uint8_t *data, size_t size,
                       const ims_head_options *expect) {
  ims_head *h = NULL;
  ims_error err;
  memset(&err, 0, sizeof err);
  if (ims_head_decode(data, size, expect, &h, &err) != IMS_OK) {
    if (err.message[0] == '\0') fuzz_fail("decode failed silently", NULL);
    if (h != NULL) fuzz_fail("decode failed", "but wrote a head");
    return;
  }
  void *back = NULL;
  size_t n = 0;
  if (ims_head_encode(h, &back, &n, &err) != IMS_OK)
    fuzz_fail("encode", err.message);
  if (n != size || memcmp(back, data, size) != 0)
    fuzz_fail("encode", "not the bytes decoded");
  free(back);
  check_accessors(h);
  learn_more(h);
  ims_head_destroy(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const ims_head_options expect = {.model_id = FUZZ_MODEL,
                                   .feature_layer = "", .max_classes = 8};
  decode_one(data, size, NULL);
  decode_one(data, size, &expect);
  if (size < 12) return 0;
  uint8_t *fixed = malloc(size);
  if (fixed == NULL) return 0;
  memcpy(fixed, data, size);
  uint32_t crc = (uint32_t)crc32(0L, fixed, (uInt)(size - 4));
  for (int i = 0; i < 4; i++) fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
  decode_one(fixed, size, NULL);
  decode_one(fixed, size, &expect);
  free(fixed);
  return 0;
}
