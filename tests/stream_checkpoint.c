/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream_checkpoint.c - the checkpoint's compaction through the internal
 * API (stream/stream_int.h), no model needed: fake batches of fake keys are
 * written, committed, compacted and recovered.
 *
 *   snapshot_format      round trip (keys with spaces and newlines); a
 *                        flipped byte, a torn file, a newer version and a
 *                        wrong id are each refused with a clear reason
 *   compaction_bounded   100 batches at interval 5: a handful of files,
 *                        every key recovered, the right next id
 *   pending_kept         an uncommitted batch after a snapshot comes back
 *                        with its id and keys
 *   crash_*              a failure injected through the hook table at
 *                        each step of compaction (snapshot write, fsync,
 *                        rename, half the deletions, the folder fsync);
 *                        recovery then finds every committed key once
 *   corrupt_*            a damaged snapshot: skipped while the batch files
 *                        it covers exist, reported once they are gone
 *
 * Sections: 1. helpers  2. cases
 *
 * Threading: single-threaded.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "stream/stream_int.h"
#include "test.h"
#include "support/fault_io.h"

/* ---- 1. helpers ---- */

static void rm_rf(const char *path) {
  char cmd[8300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
  ASSERT(system(cmd) == 0);
}

/* Files (not '.' names) in dir. */
static size_t count_files(const char *dir) {
  DIR *d = opendir(dir);
  ASSERT(d != NULL);
  size_t n = 0;
  for (struct dirent *e = readdir(d); e != NULL; e = readdir(d))
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static bool exists(const char *dir, const char *sub, const char *name) {
  char p[4400];
  snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
  return access(p, F_OK) == 0;
}

#define KEYS_PER_BATCH 3

static void key_of(int64_t batch, size_t i, char *out, size_t cap) {
  snprintf(out, cap, "cat %lld/img\n%zu.jpg", (long long)batch, i);
}

/* Write offsets/<id> of a fake batch; commit it too if `commit`. */
static ims_status fake_batch(ims__checkpoint *cp, int64_t id, bool commit,
                             ims_error *err) {
  ims_object objs[KEYS_PER_BATCH];
  char keys[KEYS_PER_BATCH][64];
  for (size_t i = 0; i < KEYS_PER_BATCH; i++) {
    key_of(id, i, keys[i], sizeof keys[i]);
    objs[i].key = keys[i];
    objs[i].event_time_ms = 1700000000000 + id * 10 + (int64_t)i;
    objs[i].size = 0;
  }
  ims__batch_input b = {id, KEYS_PER_BATCH, objs};
  ims_status st = ims__checkpoint_write_offsets(cp, &b, err);
  if (st == IMS_OK && commit) st = ims__checkpoint_commit(cp, id, NULL, err);
  return st;
}

/* Recover a fresh checkpoint object on `dir`; expect batches [0, done)
 * committed, `pending` (-1 none) to replay. */
static void check_recover(const char *dir, int64_t done, int64_t pending) {
  ims__checkpoint *cp = NULL;
  ims__keyset *set = NULL;
  ims__batch_input p = {0};
  int64_t next = -1;
  ims_error err = {0};
  ASSERT_OK(ims__checkpoint_open(dir, NULL, 5, &cp, &err), &err);
  ASSERT_OK(ims__keyset_create(&set, &err), &err);
  ASSERT_OK(ims__checkpoint_recover(cp, set, &p, &next, &err), &err);
  ASSERT_EQ(ims__keyset_count(set), done * KEYS_PER_BATCH);
  for (int64_t id = 0; id < done + 1; id++) {
    char key[64];
    key_of(id, KEYS_PER_BATCH - 1, key, sizeof key);
    ASSERT_EQ(ims__keyset_has(set, key), id < done);
  }
  ASSERT_EQ(p.count, pending >= 0 ? KEYS_PER_BATCH : 0);
  if (pending >= 0) {
    char key[64];
    key_of(pending, 1, key, sizeof key);
    ASSERT_EQ(p.id, pending);
    ASSERT_STR_EQ(p.objects[1].key, key);
    ASSERT_EQ(p.objects[1].event_time_ms, 1700000000001 + pending * 10);
  }
  ASSERT_EQ(next, pending >= 0 ? pending + 1 : done);
  ims__batch_input_clear(&p);
  ims__keyset_destroy(set);
  ims__checkpoint_close(cp);
}

/* A hook table failing one kind of call ('w' write, 's' fsync, 'r'
 * rename, 'u' unlink) on paths containing `match` after `after` of them
 * succeeded. Paths of open fds are remembered for write and fsync. */
static const char *fresh_dir(const char *name) {
  static char dir[4200];
  snprintf(dir, sizeof dir, "%s", tmp_path(name));
  rm_rf(dir);
  return dir;
}

/* Batches 0..9 at interval 5: 0..4 compact at 4, then the fault (armed
 * for batch 9 only, counting its matching calls) fails the compaction at
 * 9 with EIO. Recovery (POSIX hooks) must then find batches 0..9, and the
 * next batches go on and compact. */
static void crash_case(const char *name, const char *match, char op,
                       int after, const char *want) {
  const char *dir = fresh_dir(name);
  static fault f;
  memset(&f, 0, sizeof f);
  f.match = match;
  f.op = op;
  f.after = after;
  ims_stream_io io = fault_io(&f);
  ims__checkpoint *cp = NULL;
  ims_error err = {0};
  ASSERT_OK(ims__checkpoint_open(dir, &io, 5, &cp, &err), &err);
  f.seen = -1000000; /* armed before batch 9 */
  for (int64_t id = 0; id < 9; id++)
    ASSERT_OK(fake_batch(cp, id, true, &err), &err);
  ASSERT_EQ(ims__checkpoint_snapshot_id(cp), 4);
  f.seen = 0;
  ASSERT_EQ(fake_batch(cp, 9, true, &err), IMS_ERR_IO);
  fprintf(stderr, "%s: %s\n", name, err.message);
  ASSERT_EQ(f.fired, 1);
  ASSERT_CONTAINS(err.message, "checkpoint compaction: ");
  ASSERT_CONTAINS(err.message, want);
  ASSERT_CONTAINS(err.message, strerror(EIO));
  ims__checkpoint_close(cp);
  check_recover(dir, 10, -1);
  /* And the stream goes on (as an engine does: recover, then batches);
   * the next compaction tidies up. */
  ims__keyset *set = NULL;
  ims__batch_input p = {0};
  int64_t next = -1;
  ASSERT_OK(ims__checkpoint_open(dir, NULL, 5, &cp, &err), &err);
  ASSERT_OK(ims__keyset_create(&set, &err), &err);
  ASSERT_OK(ims__checkpoint_recover(cp, set, &p, &next, &err), &err);
  ims__keyset_destroy(set);
  ASSERT_EQ(next, 10);
  for (int64_t id = 10; id < 15; id++)
    ASSERT_OK(fake_batch(cp, id, true, &err), &err);
  ims__checkpoint_close(cp);
  char sub[4300];
  snprintf(sub, sizeof sub, "%s/offsets", dir);
  ASSERT_LE(count_files(sub), 5);
  ASSERT(!exists(dir, "offsets", "compact-4"));
  ASSERT(!exists(dir, "offsets", ".compact-9.tmp"));
  check_recover(dir, 15, -1);
}

/* Flip one byte of offsets/compact-<id> in the middle. */
static void damage_snapshot(const char *dir, int64_t id) {
  char p[4400];
  snprintf(p, sizeof p, "%s/offsets/compact-%lld", dir, (long long)id);
  FILE *f = fopen(p, "r+b");
  ASSERT(f != NULL);
  ASSERT(fseek(f, 40, SEEK_SET) == 0);
  int c = fgetc(f);
  ASSERT(c != EOF);
  ASSERT(fseek(f, 40, SEEK_SET) == 0);
  fputc(c ^ 0x20, f);
  fclose(f);
}

/* ---- 2. cases ---- */

TEST(stream_checkpoint_snapshot_format) {
  char *buf = NULL;
  size_t len = 0, cap = 0;
  ASSERT_EQ(ims__snapshot_begin(&buf, &len, &cap, 41), 0);
  ASSERT_EQ(ims__snapshot_add(&buf, &len, &cap, "a b/c\nd.jpg", -5), 0);
  ASSERT_EQ(ims__snapshot_add(&buf, &len, &cap, "x/y.png", 1700000000123),
            0);
  ASSERT_EQ(ims__snapshot_finish(&buf, &len, &cap, 2), 0);
  ASSERT(strncmp(buf, "imgstream-snapshot 1 41\n-5 11 a b/c\nd.jpg\n", 42) ==
         0);
  const char *path = tmp_path("snapshot_format");
  struct variant {
    size_t at;        /* byte to change, or (size_t)-1 */
    char to;          /* new value */
    size_t keep;      /* bytes written (len = all) */
    int64_t id;       /* id the name says */
    const char *want; /* NULL = loads */
  } v[] = {{(size_t)-1, 0, len, 41, NULL},
           {30, 'Q', len, 41, "checksum mismatch"},
           {(size_t)-1, 0, len - 5, 41, "truncated"},
           {19, '2', len, 41, "unknown format version"},
           {(size_t)-1, 0, len, 40, "does not match the file name"},
           {(size_t)-1, 0, 0, 41, "not a snapshot"}};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char *copy = malloc(len);
    ASSERT(copy != NULL);
    memcpy(copy, buf, len);
    if (v[i].at != (size_t)-1) copy[v[i].at] = v[i].to;
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fwrite(copy, 1, v[i].keep, f), v[i].keep);
    fclose(f);
    free(copy);
    ims__snapshot s;
    ims_error err = {0};
    ims_status st = ims__snapshot_load(path, v[i].id, &s, &err);
    if (v[i].want == NULL) {
      ASSERT_OK(st, &err);
      ASSERT_EQ(s.count, 2);
      ASSERT_EQ(s.id, 41);
      ims__snapshot_clear(&s);
    } else {
      ASSERT_EQ(st, IMS_ERR_IO);
      ASSERT_CONTAINS(err.message, v[i].want);
      ASSERT_CONTAINS(err.message, path);
    }
  }
  free(buf);
}

TEST(stream_checkpoint_compaction_bounded) {
  const char *dir = fresh_dir("ck_bounded");
  ims__checkpoint *cp = NULL;
  ims_error err = {0};
  ASSERT_OK(ims__checkpoint_open(dir, NULL, 5, &cp, &err), &err);
  char offs[4300], coms[4300];
  snprintf(offs, sizeof offs, "%s/offsets", dir);
  snprintf(coms, sizeof coms, "%s/commits", dir);
  for (int64_t id = 0; id < 102; id++) {
    ASSERT_OK(fake_batch(cp, id, true, &err), &err);
    /* Never more than the interval's files plus the snapshot. */
    ASSERT_LE(count_files(offs), 5);
    ASSERT_LE(count_files(coms), 4);
  }
  ASSERT_EQ(ims__checkpoint_snapshot_id(cp), 99);
  ims__checkpoint_close(cp);
  ASSERT(exists(dir, "offsets", "compact-99"));
  ASSERT(exists(dir, "offsets", "101"));
  ASSERT(!exists(dir, "offsets", "99"));
  ASSERT(!exists(dir, "offsets", "compact-94"));
  check_recover(dir, 102, -1);
}

TEST(stream_checkpoint_pending_kept) {
  const char *dir = fresh_dir("ck_pending");
  ims__checkpoint *cp = NULL;
  ims_error err = {0};
  ASSERT_OK(ims__checkpoint_open(dir, NULL, 5, &cp, &err), &err);
  for (int64_t id = 0; id < 10; id++)
    ASSERT_OK(fake_batch(cp, id, true, &err), &err);
  /* Batch 10's offsets written, then the process died. */
  ASSERT_OK(fake_batch(cp, 10, false, &err), &err);
  ims__checkpoint_close(cp);
  check_recover(dir, 10, 10);
  /* Right after a compaction, with nothing after it. */
  dir = fresh_dir("ck_pending_none");
  ASSERT_OK(ims__checkpoint_open(dir, NULL, 5, &cp, &err), &err);
  for (int64_t id = 0; id < 5; id++)
    ASSERT_OK(fake_batch(cp, id, true, &err), &err);
  ims__checkpoint_close(cp);
  check_recover(dir, 5, -1);
}

TEST(stream_checkpoint_crash_snapshot_write) {
  crash_case("ck_crash_write", "compact-", 'w', 0, "write ");
}

TEST(stream_checkpoint_crash_snapshot_fsync) {
  crash_case("ck_crash_fsync", "compact-", 's', 0, "fsync ");
}

TEST(stream_checkpoint_crash_snapshot_rename) {
  crash_case("ck_crash_rename", "compact-", 'r', 0, "rename ");
}

TEST(stream_checkpoint_crash_half_deleted) {
  /* Compaction 9 deletes offsets 5..9, commits 5..9 and compact-4:
   * fail the 6th unlink. */
  crash_case("ck_crash_unlink", "ck_crash_unlink", 'u', 5, "unlink ");
}

TEST(stream_checkpoint_crash_folder_fsync) {
  /* The folder fsync after the deletions. Batch 9 fsyncs offsets/.9.tmp
   * and offsets/, then the snapshot and offsets/ again: let those pass. */
  crash_case("ck_crash_dirsync", "ck_crash_dirsync/offsets", 's', 4,
             "fsync ");
}

TEST(stream_checkpoint_corrupt_skipped) {
  /* Snapshot 9 written, its deletions never ran (first unlink failed),
   * then the snapshot was damaged: its batches are still there, so it is
   * skipped and snapshot 4 + batches 5..9 are used. */
  const char *dir = fresh_dir("ck_corrupt_skip");
  static fault f;
  memset(&f, 0, sizeof f);
  f.match = "ck_corrupt_skip";
  f.op = 'u';
  f.seen = -1000000;
  ims_stream_io io = fault_io(&f);
  ims__checkpoint *cp = NULL;
  ims_error err = {0};
  ASSERT_OK(ims__checkpoint_open(dir, &io, 5, &cp, &err), &err);
  for (int64_t id = 0; id < 9; id++)
    ASSERT_OK(fake_batch(cp, id, true, &err), &err);
  f.seen = 0;
  ASSERT_EQ(fake_batch(cp, 9, true, &err), IMS_ERR_IO);
  ims__checkpoint_close(cp);
  ASSERT(exists(dir, "offsets", "compact-4"));
  ASSERT(exists(dir, "offsets", "compact-9"));
  damage_snapshot(dir, 9);
  check_recover(dir, 10, -1);
}

TEST(stream_checkpoint_corrupt_reported) {
  /* The newest snapshot is damaged and the files it covers are gone: an
   * error naming the snapshot, not a silent restart from scratch. */
  const char *dir = fresh_dir("ck_corrupt_report");
  ims__checkpoint *cp = NULL;
  ims_error err = {0};
  ASSERT_OK(ims__checkpoint_open(dir, NULL, 5, &cp, &err), &err);
  for (int64_t id = 0; id < 12; id++)
    ASSERT_OK(fake_batch(cp, id, true, &err), &err);
  ims__checkpoint_close(cp);
  damage_snapshot(dir, 9);
  ims__keyset *set = NULL;
  ims__batch_input p = {0};
  int64_t next = -1;
  ASSERT_OK(ims__checkpoint_open(dir, NULL, 5, &cp, &err), &err);
  ASSERT_OK(ims__keyset_create(&set, &err), &err);
  ASSERT_EQ(ims__checkpoint_recover(cp, set, &p, &next, &err), IMS_ERR_IO);
  fprintf(stderr, "corrupt: %s\n", err.message);
  ASSERT_CONTAINS(err.message, "compact-9: checksum mismatch");
  ASSERT_CONTAINS(err.message, "refusing to start");
  ASSERT_EQ(next, -1);
  ims__keyset_destroy(set);
  ims__checkpoint_close(cp);
  /* Nothing was deleted by the failed start. */
  ASSERT(exists(dir, "offsets", "compact-9"));
  ASSERT(exists(dir, "offsets", "10"));
}

TEST(stream_checkpoint_hole_reported) {
  /* A missing per-batch file after the snapshot is a hole, as before. */
  const char *dir = fresh_dir("ck_hole");
  ims__checkpoint *cp = NULL;
  ims_error err = {0};
  ASSERT_OK(ims__checkpoint_open(dir, NULL, 5, &cp, &err), &err);
  for (int64_t id = 0; id < 8; id++)
    ASSERT_OK(fake_batch(cp, id, true, &err), &err);
  ims__checkpoint_close(cp);
  char p[4400];
  snprintf(p, sizeof p, "%s/offsets/5", dir);
  ASSERT_EQ(unlink(p), 0);
  snprintf(p, sizeof p, "%s/commits/5", dir);
  ASSERT_EQ(unlink(p), 0);
  ims__keyset *set = NULL;
  ims__batch_input pb = {0};
  int64_t next = -1;
  ASSERT_OK(ims__checkpoint_open(dir, NULL, 5, &cp, &err), &err);
  ASSERT_OK(ims__keyset_create(&set, &err), &err);
  ASSERT_EQ(ims__checkpoint_recover(cp, set, &pb, &next, &err), IMS_ERR_IO);
  ASSERT_CONTAINS(err.message, "batch 5 missing");
  ims__keyset_destroy(set);
  ims__checkpoint_close(cp);
}

TEST_MAIN(stream_checkpoint_snapshot_format,
          stream_checkpoint_compaction_bounded, stream_checkpoint_pending_kept,
          stream_checkpoint_crash_snapshot_write,
          stream_checkpoint_crash_snapshot_fsync,
          stream_checkpoint_crash_snapshot_rename,
          stream_checkpoint_crash_half_deleted,
          stream_checkpoint_crash_folder_fsync,
          stream_checkpoint_corrupt_skipped,
          stream_checkpoint_corrupt_reported, stream_checkpoint_hole_reported)
