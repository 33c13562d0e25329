/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_checkpoint.c - fuzz harness for checkpoint recovery
 * (src/stream/checkpoint.c): the input describes a checkpoint folder -
 * offsets/<id> JSON files, commits/<id>, offsets/compact-<id> snapshots,
 * temporary files and arbitrary names - which is laid out in the scratch
 * folder, opened with ims__checkpoint_open and read with
 * ims__checkpoint_recover, as a restarted `imgstream stream` does. When
 * recovery succeeds the harness goes on like the engine: it commits the
 * pending batch, if any, then compacts everything committed.
 *
 * Input format (records back to back; a short record ends the input):
 *   kind (1 byte): bit 0 = folder (0 offsets/, 1 commits/);
 *                  bits 1-2 = name: 0 "<id>", 1 "compact-<id>",
 *                  2 ".compact-<id>.tmp", 3 raw (next byte = length,
 *                  then that many name bytes; '/' and NUL become '_')
 *   id (1 byte, names 0-2)
 *   length (2 bytes, little-endian), then that many content bytes.
 * tests/fuzz/make_seeds.py writes seeds in this format.
 *
 * fsync is a no-op here (the checkpoint's durability is not under test,
 * and real fsyncs would make each run take milliseconds).
 *
 * Invariants: failures carry a message; a recovered pending batch has the
 * id before the next one.
 *
 * Threading: single-threaded.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "stream/stream_int.h"

static int no_fsync(void *ctx, int fd) {
  (void)ctx;
  (void)fd;
  return 0;
}

/* Lay one record out; returns bytes consumed, 0 at the end. */
static size_t put_record(const uint8_t *p, size_t n, const char *root) {
  char name[300], path[4400];
  size_t at = 2;
  if (n < 4) return 0;
  unsigned kind = (p[0] >> 1) & 3;
  if (kind == 0) snprintf(name, sizeof name, "%u", p[1]);
  else if (kind == 1) snprintf(name, sizeof name, "compact-%u", p[1]);
  else if (kind == 2) snprintf(name, sizeof name, ".compact-%u.tmp", p[1]);
  else {
    size_t len = p[1];
    if (at + len > n) return 0;
    for (size_t i = 0; i < len; i++)
      name[i] = (p[at + i] == '/' || p[at + i] == 0) ? '_' : (char)p[at + i];
    name[len] = '\0';
    at += len;
    if (len == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
      snprintf(name, sizeof name, "_");
  }
  if (at + 2 > n) return 0;
  size_t size = (size_t)p[at] | (size_t)p[at + 1] << 8;
  at += 2;
  if (size > n - at) size = n - at;
  snprintf(path, sizeof path, "%s/%s/%s", root,
           (p[0] & 1) ? "commits" : "offsets", name);
  FILE *f = fopen(path, "wb");
  if (f == NULL) fuzz_fail("fopen", path);
  if ((size > 0 && fwrite(p + at, 1, size, f) != size) || fclose(f) != 0)
    fuzz_fail("write", path);
  return at + size;
}

static void expect_message(ims_status st, const ims_error *err) {
  if (st != IMS_OK && err->message[0] == '\0')
    fuzz_fail("failed silently", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char root[4200];
  fuzz_scratch_clear();
  snprintf(root, sizeof root, "%s/cp", fuzz_scratch_dir());
  mkdir(root, 0755);
  ims_stream_io io = *ims_stream_io_posix();
  io.fsync = no_fsync;
  ims__checkpoint *cp = NULL;
  ims_error err;
  memset(&err, 0, sizeof err);
  ims_status st = ims__checkpoint_open(root, &io, 1, &cp, &err);
  expect_message(st, &err);
  if (st != IMS_OK) return 0;
  for (size_t at = 0, used = 1; used > 0 && at < size; at += used)
    used = put_record(data + at, size - at, root);
  ims__keyset *committed = NULL;
  ims__batch_input pending = {0};
  int64_t next = -1;
  if (ims__keyset_create(&committed, NULL) != IMS_OK) fuzz_fail("oom", "");
  st = ims__checkpoint_recover(cp, committed, &pending, &next, &err);
  expect_message(st, &err);
  if (st == IMS_OK && pending.count > 0) {
    if (pending.id != next - 1) fuzz_fail("pending id", "not next - 1");
    memset(&err, 0, sizeof err);
    st = ims__checkpoint_commit(cp, pending.id, NULL, &err);
    expect_message(st, &err);
  }
  if (st == IMS_OK && next > 0) {
    memset(&err, 0, sizeof err);
    st = ims__checkpoint_compact(cp, next - 1, &err);
    expect_message(st, &err);
  }
  ims__batch_input_clear(&pending);
  ims__keyset_destroy(committed);
  ims__checkpoint_close(cp);
  return 0;
}
