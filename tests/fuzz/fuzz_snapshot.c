/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_snapshot.c - fuzz harness for the checkpoint snapshot reader
 * (src/stream/snapshot.c, format in its header): the input is the file
 * offsets/compact-<id>, written to the scratch folder and read with
 * ims__snapshot_load. The id it must carry is taken from the header line
 * when it has one ("imgstream-snapshot 1 <id>"), so fuzzing gets past the
 * id check; the mismatch path is covered by inputs without a header.
 *
 * Invariants: failures carry a message; a loaded snapshot's entry count
 * matches what ims__snapshot_each visits, and every key is non-empty.
 *
 * Threading: single-threaded.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "stream/stream_int.h"

/* The id in the header line, or 0. */
static int64_t header_id(const uint8_t *data, size_t size) {
  static const char magic[] = "imgstream-snapshot 1 ";
  char num[24];
  size_t m = sizeof magic - 1, n = 0;
  if (size <= m || memcmp(data, magic, m) != 0) return 0;
  while (n < sizeof num - 1 && m + n < size && data[m + n] != '\n') {
    num[n] = (char)data[m + n];
    n++;
  }
  num[n] = '\0';
  return (int64_t)strtoll(num, NULL, 10);
}

static int count_entry(void *ctx, const char *key, int64_t event_time_ms) {
  (void)event_time_ms;
  if (key == NULL || key[0] == '\0') fuzz_fail("empty key", NULL);
  (*(size_t *)ctx)++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_scratch_write("compact", data, size);
  ims__snapshot snap;
  ims_error err;
  memset(&err, 0, sizeof err);
  if (ims__snapshot_load(path, header_id(data, size), &snap, &err) !=
      IMS_OK) {
    if (err.message[0] == '\0') fuzz_fail("load failed silently", NULL);
    return 0;
  }
  size_t seen = 0;
  ims__snapshot_each(&snap, count_entry, &seen);
  if (seen != snap.count) fuzz_fail("entry count differs", NULL);
  ims__snapshot_clear(&snap);
  return 0;
}
