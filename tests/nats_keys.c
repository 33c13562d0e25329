/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nats_keys.c - the key a fetched image message gets
 * (ims__nats_message_key, src/nats/queue.c) when its headers are
 * missing or lie: Imgstream-Key if it is a sane key, else Nats-Msg-Id if
 * that is, else "<last subject token>/seq-<stream sequence>". No server:
 * messages are built with natsMsg_Create.
 */
#include <nats/nats.h>
#include <stdlib.h>
#include <string.h>

#include "nats/nats_int.h"
#include "test.h"

/* A message on `subject` with up to two headers (NULL name: none). */
static natsMsg *message(const char *subject, const char *h1, const char *v1,
                        const char *h2, const char *v2) {
  natsMsg *m = NULL;
  ASSERT(nats_Open(-1) == NATS_OK); /* idempotent; messages need it */
  ASSERT(natsMsg_Create(&m, subject, NULL, "x", 1) == NATS_OK);
  if (h1 != NULL) ASSERT(natsMsgHeader_Set(m, h1, v1) == NATS_OK);
  if (h2 != NULL) ASSERT(natsMsgHeader_Set(m, h2, v2) == NATS_OK);
  return m;
}

static void expect_key(natsMsg *m, uint64_t seq, const char *want) {
  char *k = ims__nats_message_key(m, seq);
  natsMsg_Destroy(m);
  ASSERT(k != NULL);
  if (strcmp(k, want) != 0) {
    fprintf(stderr, "key '%s', want '%s'\n", k, want);
    free(k);
    ASSERT(0);
  }
  free(k);
}

TEST(key_from_headers) {
  expect_key(message("IMAGES.daisy", "Imgstream-Key", "daisy/a.jpg",
                     "Nats-Msg-Id", "other"),
             7, "daisy/a.jpg");
  expect_key(message("IMAGES.daisy", "Nats-Msg-Id", "daisy/b.jpg", NULL,
                     NULL),
             7, "daisy/b.jpg");
}

TEST(key_when_headers_lie) {
  /* a control character, an empty value: not keys */
  expect_key(message("IMAGES.rose", "Imgstream-Key", "rose/\x01x.jpg",
                     "Nats-Msg-Id", "rose/c.jpg"),
             3, "rose/c.jpg");
  expect_key(message("IMAGES.rose", "Imgstream-Key", "", NULL, NULL), 3,
             "rose/seq-3");
  /* longer than any sane key */
  char *huge = malloc(5000);
  ASSERT(huge != NULL);
  memset(huge, 'k', 4999);
  huge[4999] = '\0';
  expect_key(message("IMAGES.tulip", "Imgstream-Key", huge, "Nats-Msg-Id",
                     huge),
             12, "tulip/seq-12");
  free(huge);
}

TEST(key_without_headers) {
  expect_key(message("IMAGES.sunflower", NULL, NULL, NULL, NULL), 42,
             "sunflower/seq-42");
  expect_key(message("plain", NULL, NULL, NULL, NULL), 1, "_/seq-1");
}

TEST_MAIN(key_from_headers, key_when_headers_lie, key_without_headers)
