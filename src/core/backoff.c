/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backoff.c - retry waits with equal jitter and their random state (see
 * backoff_int.h).
 *
 * Threading: no shared state.
 */
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "core/backoff_int.h"
#include "core/clock_int.h"

uint64_t ims__random_seed(void) {
  uint64_t s = 0;
  if (getentropy(&s, sizeof s) != 0) {
    int local;
    s = ims__now_mono_ns() ^ (uint64_t)ims__now_epoch_ms() * 1000000007u ^
        (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)&local;
  }
  return s != 0 ? s : 0x9e3779b97f4a7c15u;
}

uint64_t ims__xorshift64(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return x;
}

uint32_t ims__backoff_ms(unsigned attempt, uint32_t base_ms, uint32_t max_ms,
                         uint64_t *rng) {
  uint64_t step = base_ms;
  for (unsigned i = 0; i < attempt && step < max_ms; i++) step *= 2;
  if (step > max_ms) step = max_ms;
  uint64_t half = step / 2;
  return (uint32_t)(step - half + ims__xorshift64(rng) % (half + 1));
}
