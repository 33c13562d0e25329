/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot.c - the checkpoint snapshot format: every key committed up to
 * one batch, in one file (offsets/compact-<id>, written by checkpoint.c
 * when it compacts). Pure encode/verify/iterate over a memory buffer plus
 * one whole-file read; no writes here (checkpoint.c writes durably through
 * the ims_stream_io hooks).
 *
 * Format (version 1), bytes, "\n" line ends:
 *
 *   imgstream-snapshot 1 <id>\n          header: magic, version, last batch
 *   <eventTime> <len> <key>\n            one entry per committed key; len =
 *   ...                                  bytes of key (any bytes but NUL,
 *                                        '\n' included), eventTime in epoch
 *                                        ms, both decimal
 *   end <count> <fnv1a64>\n              trailer: entries, and the FNV-1a
 *                                        64-bit hash (16 lowercase hex
 *                                        digits) of every byte before "end"
 *
 * Why not JSON like offsets/<id>: a snapshot holds up to millions of keys;
 * jansson would build a tree of them (hundreds of bytes each) to write or
 * read it, and a JSON file has no checksum - a flipped byte inside a key
 * still parses. This format is written and read in one pass, keys are
 * length-prefixed so none needs escaping, the trailer catches a torn or
 * damaged file, and the version in the header lets a later format be told
 * apart. FNV-1a detects accidents (torn writes, bit rot), not tampering.
 *
 * Not here: which snapshot to trust, or deleting the files it covers
 * (checkpoint.c).
 *
 * Sections: 1. encode  2. parse  3. load
 *
 * Threading: no shared state.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error_int.h"
#include "core/file_int.h"
#include "stream/stream_int.h"

#define MAGIC "imgstream-snapshot"
#define KEY_MAX 4096 /* longest key an entry may hold, bytes */
#define SNAPSHOT_MAX_FILE ((size_t)16 << 30) /* ~100M keys */

static uint64_t fnv1a(const char *p, size_t n) {
  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 1099511628211u;
  }
  return h;
}

/* ---- 1. encode ---- */

int ims__snapshot_begin(char **buf, size_t *len, size_t *cap, int64_t id) {
  char line[80];
  int n = snprintf(line, sizeof line, "%s %d %" PRId64 "\n", MAGIC,
                   IMS__SNAPSHOT_VERSION, id);
  *len = 0;
  return ims__buf_append(buf, len, cap, line, (size_t)n);
}

int ims__snapshot_add(char **buf, size_t *len, size_t *cap, const char *key,
                      int64_t event_time_ms) {
  char head[64];
  size_t klen = strlen(key);
  int n = snprintf(head, sizeof head, "%" PRId64 " %zu ", event_time_ms,
                   klen);
  if (ims__buf_append(buf, len, cap, head, (size_t)n) != 0 ||
      ims__buf_append(buf, len, cap, key, klen) != 0)
    return -1;
  return ims__buf_append(buf, len, cap, "\n", 1);
}

int ims__snapshot_finish(char **buf, size_t *len, size_t *cap,
                         size_t count) {
  char line[80];
  int n = snprintf(line, sizeof line, "end %zu %016" PRIx64 "\n", count,
                   fnv1a(*buf, *len));
  return ims__buf_append(buf, len, cap, line, (size_t)n);
}

/* ---- 2. parse ---- */

/* A decimal (optionally negative) at *p, then `sep`. 0 or -1. */
static int parse_num(const char **p, const char *end, char sep,
                     int64_t *v) {
  const char *s = *p;
  bool neg = s < end && *s == '-';
  uint64_t x = 0;
  if (neg) s++;
  const char *digits = s;
  while (s < end && *s >= '0' && *s <= '9' && s - digits < 18) {
    x = x * 10 + (uint64_t)(*s - '0');
    s++;
  }
  if (s == digits || s >= end || *s != sep) return -1;
  *v = neg ? -(int64_t)x : (int64_t)x;
  *p = s + 1;
  return 0;
}

/* One entry at *p: its key (not NUL-terminated) and event time. */
static int next_entry(const char **p, const char *end, const char **key,
                      size_t *klen, int64_t *t) {
  int64_t n = 0;
  if (parse_num(p, end, ' ', t) != 0 || parse_num(p, end, ' ', &n) != 0)
    return -1;
  if (n <= 0 || n > KEY_MAX || end - *p < n + 1 || (*p)[n] != '\n' ||
      memchr(*p, '\0', (size_t)n) != NULL)
    return -1;
  *key = *p;
  *klen = (size_t)n;
  *p += n + 1;
  return 0;
}

int ims__snapshot_each(const ims__snapshot *s,
                       int (*fn)(void *ctx, const char *key,
                                 int64_t event_time_ms),
                       void *ctx) {
  char key[KEY_MAX + 1];
  const char *p = s->data + s->body_off;
  const char *end = p + s->body_len;
  while (p < end) {
    const char *k = NULL;
    size_t klen = 0;
    int64_t t = 0;
    if (next_entry(&p, end, &k, &klen, &t) != 0) return -1; /* verified */
    memcpy(key, k, klen);
    key[klen] = '\0';
    int rc = fn(ctx, key, t);
    if (rc != 0) return rc;
  }
  return 0;
}

/* Check header, trailer, hash and entries of s->data; fill the rest of
 * *s. Returns NULL or what is wrong. */
static const char *verify(ims__snapshot *s, int64_t want_id) {
  const char *d = s->data, *end = s->data + s->size;
  int64_t version = 0, id = 0, count = 0;
  size_t ml = strlen(MAGIC);
  if (s->size < ml + 1 || memcmp(d, MAGIC " ", ml + 1) != 0)
    return "not a snapshot (bad header)";
  const char *p = d + ml + 1;
  if (parse_num(&p, end, ' ', &version) != 0) return "bad header";
  if (version != IMS__SNAPSHOT_VERSION)
    return "unknown format version (written by a newer imgstream?)";
  if (parse_num(&p, end, '\n', &id) != 0 || id != want_id)
    return "batch id in the header does not match the file name";
  s->body_off = (size_t)(p - d);
  /* The trailer is the last line: "end <count> <16 hex>\n". */
  const char *t = end - 1;
  while (t > p && t[-1] != '\n') t--;
  if (end - t < 4 || end[-1] != '\n' || memcmp(t, "end ", 4) != 0)
    return "truncated (no trailer)";
  const char *q = t + 4;
  char want[17];
  if (parse_num(&q, end, ' ', &count) != 0 || end - q != 17)
    return "bad trailer";
  snprintf(want, sizeof want, "%016" PRIx64, fnv1a(d, (size_t)(t - d)));
  if (memcmp(q, want, 16) != 0) return "checksum mismatch";
  s->body_len = (size_t)(t - p);
  s->id = id;
  s->count = 0;
  while (p < t) {
    const char *k = NULL;
    size_t klen = 0;
    int64_t et = 0;
    if (next_entry(&p, t, &k, &klen, &et) != 0) return "bad entry";
    s->count++;
  }
  if ((int64_t)s->count != count) return "entry count mismatch";
  return NULL;
}

/* ---- 3. load ---- */

/* The whole file into s->data (NUL-terminated: ims__file_read leaves a
 * spare byte). Regular files only: a FIFO must not block the restart. */
static ims_status read_all(const char *path, ims__snapshot *s, ims_error *err) {
  void *data = NULL;
  size_t size = 0;
  ims_status st = ims__file_read(path, SNAPSHOT_MAX_FILE, &data, &size, err);
  if (st != IMS_OK) return st;
  s->data = data;
  s->data[size] = '\0';
  s->size = size;
  return IMS_OK;
}

ims_status ims__snapshot_load(const char *path, int64_t want_id,
                              ims__snapshot *out, ims_error *err) {
  ims__snapshot s;
  ims_error read_err;
  memset(&s, 0, sizeof s);
  const char *why = NULL;
  ims_status st = read_all(path, &s, &read_err);
  if (st != IMS_OK) {
    /* read_err's message starts with the path already */
    if (st != IMS_ERR_NO_MEMORY) st = IMS_ERR_IO;
    return ims__fail(err, st, "checkpoint snapshot %s", read_err.message);
  }
  st = IMS_ERR_IO;
  why = verify(&s, want_id);
  if (why != NULL) {
    ims__snapshot_clear(&s);
    return ims__fail(err, st, "checkpoint snapshot %s: %s", path, why);
  }
  *out = s;
  return IMS_OK;
}

void ims__snapshot_clear(ims__snapshot *s) {
  free(s->data);
  memset(s, 0, sizeof *s);
}
