/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clock.c - monotonic and wall-clock time, timestamps, sleeping (see
 * clock_int.h).
 *
 * Threading: no state.
 */
#define _GNU_SOURCE /* strptime, timegm */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock_int.h"

uint64_t ims__now_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t ims__now_epoch_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ims__iso8601_ms(int64_t epoch_ms, char *out, size_t cap) {
  time_t secs = (time_t)(epoch_ms / 1000);
  int ms = (int)(epoch_ms % 1000);
  if (ms < 0) { /* before 1970: floor, not truncation */
    ms += 1000;
    secs -= 1;
  }
  struct tm tm;
  gmtime_r(&secs, &tm);
  snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

int ims__sleep_until_ns(uint64_t deadline_ns) {
  struct timespec ts = {(time_t)(deadline_ns / 1000000000u),
                        (long)(deadline_ns % 1000000000u)};
  if (ims__now_mono_ns() >= deadline_ns) return 0;
  int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
  return rc == EINTR ? -1 : 0;
}

int ims__parse_iso8601_ms(const char *s, int64_t *ms_out) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *rest = s != NULL ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
  if (rest == NULL) return -1;
  int64_t ms = 0;
  if (*rest == '.') {
    int digits = 0;
    for (rest++; *rest >= '0' && *rest <= '9'; rest++, digits++)
      if (digits < 3) ms = ms * 10 + (*rest - '0');
    if (digits == 0) return -1;
    for (; digits < 3; digits++) ms *= 10;
  }
  if (strcmp(rest, "Z") != 0) return -1;
  *ms_out = (int64_t)timegm(&tm) * 1000 + ms;
  return 0;
}
