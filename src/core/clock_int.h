/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clock_int.h - the one clock of the library and the tool: monotonic
 * time for durations and deadlines, wall-clock time for rows and file
 * ages, ISO 8601 timestamps, and sleeping until a monotonic deadline.
 *
 * Every duration in imgstream (batch timings, retry deadlines, pacing,
 * progress redraws) is measured on CLOCK_MONOTONIC, which never jumps
 * when the wall clock is set; only what a user reads as a date comes from
 * CLOCK_REALTIME.
 *
 * Threading: no state.
 */
#ifndef IMS_CORE_CLOCK_INT_H
#define IMS_CORE_CLOCK_INT_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic time, ns (an arbitrary origin: only differences mean
 * anything). */
uint64_t ims__now_mono_ns(void);

/* Wall-clock now, milliseconds since the Unix epoch. */
int64_t ims__now_epoch_ms(void);

/* "2025-01-31T12:34:56.789Z" (UTC) into out (>= 32 bytes). */
void ims__iso8601_ms(int64_t epoch_ms, char *out, size_t cap);

/* "YYYY-MM-DDTHH:MM:SS[.fff]Z" (UTC; S3's LastModified, the rows'
 * times) to epoch ms. 0, or -1 if malformed. */
int ims__parse_iso8601_ms(const char *s, int64_t *ms_out);

/* Sleep until the monotonic time deadline_ns (ims__now_mono_ns's scale);
 * returns at once if it has passed. Returns early, with -1, when a signal
 * interrupts the sleep (so a SIGINT handler's flag is seen at once);
 * 0 when the deadline was reached. */
int ims__sleep_until_ns(uint64_t deadline_ns);

#endif /* IMS_CORE_CLOCK_INT_H */
