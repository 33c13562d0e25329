/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core_base64.c - core/base64.c, the encoding of the learned samples in
 * checkpoint commits: RFC 4648's test vectors both ways, every length of
 * a binary round trip, and the strict decoder refusing what is not
 * canonical base64 (a damaged commit must be an error, never other
 * data).
 */
#include <string.h>

#include "core/base64_int.h"
#include "test.h"

TEST(base64_rfc4648_vectors) {
  static const char *const plain[] = {"", "f", "fo", "foo", "foob",
                                      "fooba", "foobar"};
  static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; i++) {
    char out[16] = {0};
    size_t n = strlen(plain[i]);
    ASSERT_EQ(ims__base64_size(n), strlen(coded[i]));
    ims__base64_encode(plain[i], n, out);
    ASSERT_STR_EQ(out, coded[i]);
    char back[16] = {0};
    ASSERT_EQ(ims__base64_decode(coded[i], strlen(coded[i]), back),
              (long)n);
    ASSERT(memcmp(back, plain[i], n) == 0);
  }
}

TEST(base64_round_trip_every_length) {
  unsigned char in[64], back[64];
  char coded[96];
  for (size_t i = 0; i < sizeof in; i++) in[i] = (unsigned char)(i * 37 + 5);
  for (size_t n = 0; n <= sizeof in; n++) {
    ims__base64_encode(in, n, coded);
    ASSERT_EQ(ims__base64_decode(coded, ims__base64_size(n), back), (long)n);
    ASSERT(memcmp(in, back, n) == 0);
  }
}

TEST(base64_refuses_what_is_not_canonical) {
  static const char *const bad[] = {
      "Zg=",      /* length not a multiple of 4 */
      "Zm9v!A==", /* outside the alphabet */
      "Zg==Zg==", /* padding before the end */
      "Z===",     /* three padding characters */
      "Zh==",     /* bits padding drops are not zero */
      "Zm9=",     /* the same with one '=' */
      "Zm=v",     /* '=' then a character */
      "Zm9\n",    /* a line break */
  };
  unsigned char out[16];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (ims__base64_decode(bad[i], strlen(bad[i]), out) != -1)
      TEST__FAIL("\"%s\" was accepted", bad[i]);
}

TEST_MAIN(base64_rfc4648_vectors, base64_round_trip_every_length,
          base64_refuses_what_is_not_canonical)
