/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_nats.c - fuzz harness for what a stream worker does with a fetched
 * NATS image message (src/nats/queue.c, take_message): the JetStream
 * metadata of its reply subject gives the stream sequence, its headers
 * (ims__nats_message_key) the object key, and its body goes to the image
 * decoder and preprocessor. No server: the message is built with
 * natsMsg_Create and natsMsgHeader_Add from the input.
 *
 * Input format (lines end in '\n'):
 *   line 1: subject ("" = "IMAGES.x")
 *   line 2: reply subject ("" = none; "$JS.ACK.<stream>.<consumer>.<...>"
 *           carries the metadata)
 *   then "Name: value" header lines (a line without ':' is a name with an
 *   empty value) up to an empty line; the rest is the body.
 * Headers nats.c refuses to set are skipped, as a real server would never
 * deliver them either.
 *
 * Invariants: a key always comes out, never empty and NUL-terminated; it
 * goes into a keyset (as the engine's seen-set) and is found there; the
 * decode path's failures carry a message.
 *
 * Threading: single-threaded.
 */
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "fuzz.h"
#include "imgstream/image.h"
#include "stream/stream_int.h"
#include "nats/nats_int.h"

/* Copy the next line (without '\n') of [*at, end) into a new string. */
static char *next_line(const uint8_t *data, size_t size, size_t *at,
                       int *ended) {
  size_t start = *at, i = start;
  while (i < size && data[i] != '\n') i++;
  char *s = malloc(i - start + 1);
  if (s == NULL) fuzz_fail("oom", "line");
  memcpy(s, data + start, i - start);
  s[i - start] = '\0';
  *ended = i >= size;
  *at = i < size ? i + 1 : i;
  return s;
}

static void add_header(natsMsg *m, char *line) {
  char *colon = strchr(line, ':');
  const char *value = "";
  if (colon != NULL) {
    *colon = '\0';
    value = colon + 1;
    while (*value == ' ') value++;
  }
  natsMsgHeader_Add(m, line, value); /* refused headers are skipped */
}

static void decode_body(const void *body, size_t len) {
  static uint8_t crop[224 * 224 * 3];
  ims_decoder *dec = NULL;
  ims_preprocessor *pre = NULL;
  ims_decode_options o = {.max_pixels = 4u << 20, .min_short_side = 224};
  ims_error err;
  ims_image img;
  memset(&err, 0, sizeof err);
  if (ims_decoder_create(&o, &dec, NULL) != IMS_OK ||
      ims_preprocessor_create(NULL, &pre, NULL) != IMS_OK)
    fuzz_fail("oom", "decoder");
  ims_status st = ims_decoder_decode(dec, body, len, &img, &err);
  if (st == IMS_OK) st = ims_preprocess(pre, &img, crop, &err);
  if (st != IMS_OK && err.message[0] == '\0')
    fuzz_fail("decode failed silently", NULL);
  ims_preprocessor_destroy(pre);
  ims_decoder_destroy(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int opened;
  if (!opened && nats_Open(-1) != NATS_OK) fuzz_fail("nats_Open", "");
  opened = 1;
  size_t at = 0;
  int ended = 0;
  char *subject = next_line(data, size, &at, &ended);
  char *reply = next_line(data, size, &at, &ended);
  natsMsg *m = NULL;
  const char *body = (const char *)data + at;
  if (natsMsg_Create(&m, subject[0] != '\0' ? subject : "IMAGES.x",
                     reply[0] != '\0' ? reply : NULL, NULL, 0) != NATS_OK) {
    free(subject);
    free(reply);
    return 0;
  }
  while (!ended) {
    char *line = next_line(data, size, &at, &ended);
    int blank = line[0] == '\0';
    if (!blank) add_header(m, line);
    free(line);
    if (blank) break;
  }
  body = (const char *)data + at;
  uint64_t seq = 0;
  jsMsgMetaData *meta = NULL;
  if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
    seq = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
  }
  char *key = ims__nats_message_key(m, seq);
  if (key == NULL || key[0] == '\0') fuzz_fail("no key", subject);
  ims__keyset *seen = NULL;
  if (ims__keyset_create(&seen, NULL) != IMS_OK ||
      ims__keyset_add(seen, key) != 1 || !ims__keyset_has(seen, key))
    fuzz_fail("keyset", key);
  ims__keyset_destroy(seen);
  decode_body(body, size - at);
  free(key);
  natsMsg_Destroy(m);
  free(subject);
  free(reply);
  return 0;
}
