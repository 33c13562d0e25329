/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rng.h - the tests' pseudo-random numbers: xorshift64 from a fixed seed,
 * so a failing random case fails the same way on every machine and run.
 * Each test file keeps its own state (its own seed), passed explicitly.
 */
#ifndef IMS_TEST_RNG_H
#define IMS_TEST_RNG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct test_rng {
  uint64_t state; /* never 0 */
} test_rng;

/* The next 32 random bits. */
static inline uint32_t test_rng_next(test_rng *r) {
  r->state ^= r->state << 13;
  r->state ^= r->state >> 7;
  r->state ^= r->state << 17;
  return (uint32_t)(r->state >> 11);
}

/* Uniform in [lo, hi), in steps of (hi - lo) / 100000. */
static inline float test_rng_range(test_rng *r, float lo, float hi) {
  return lo + (hi - lo) * (float)(test_rng_next(r) % 100000u) / 100000.0f;
}

/* A random zero point of an int8 (s8) or uint8 tensor. */
static inline int32_t test_rng_zero_point(test_rng *r, bool s8) {
  int32_t q = (int32_t)(test_rng_next(r) % 256);
  return s8 ? q - 128 : q;
}

/* A random fused activation's clamp of an 8-bit output with zero point
 * zy, one of three: none (the type's range), ReLU ([zy, max]) or a
 * ReLU6-like [zy, zy + 1..100]. */
static inline void test_rng_clamp(test_rng *r, bool s8, int32_t zy,
                                  int32_t *lo, int32_t *hi) {
  int32_t qmin = s8 ? -128 : 0, qmax = s8 ? 127 : 255;
  unsigned act = test_rng_next(r) % 3;
  *lo = act ? zy : qmin;
  *hi = act == 2 ? zy + 1 + (int32_t)(test_rng_next(r) % 100) : qmax;
  if (*hi > qmax) *hi = qmax;
}

#endif /* IMS_TEST_RNG_H */
