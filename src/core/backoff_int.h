/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backoff_int.h - the one retry backoff of imgstream (S3 requests and
 * NATS JetStream calls), and the random seeds behind it.
 *
 * Backoff: step = min(max, base * 2^attempt); wait = step/2 + a uniform
 * draw from [0, step/2] ("equal jitter": never less than half a step, so
 * retries do not hammer a struggling server, and spread so that many
 * workers do not retry in step). The draw comes from a xorshift64 state
 * the caller owns (one per connection or bucket), seeded per process by
 * ims__random_seed: workers started together draw different waits.
 *
 * Threading: no shared state; a random state belongs to its owner.
 */
#ifndef IMS_CORE_BACKOFF_INT_H
#define IMS_CORE_BACKOFF_INT_H

#include <stdint.h>

/* A seed nobody else has: getentropy(), or (when that fails) the time,
 * the pid and the address of a local mixed. Never 0. */
uint64_t ims__random_seed(void);

/* The next draw of a xorshift64 state (*state != 0). */
uint64_t ims__xorshift64(uint64_t *state);

/* Milliseconds to wait before retry `attempt` (0-based): equal jitter
 * over base_ms * 2^attempt, capped at max_ms. */
uint32_t ims__backoff_ms(unsigned attempt, uint32_t base_ms, uint32_t max_ms,
                         uint64_t *rng);

#endif /* IMS_CORE_BACKOFF_INT_H */
