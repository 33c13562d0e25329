/* SPDX-License-Identifier: Apache-2.0 */
/*
 * checkpoint.c - the stream's write-ahead log, laid out like Spark's
 * checkpointLocation:
 *
 *   DIR/offsets/<id>  {"batchId":N,"files":[{"path":"daisy/a.jpg",
 *                      "eventTime":1700000000123}, ...]}
 *                     written before batch N is processed
 *   DIR/commits/<id>  {"batchId":N}   written after every sink has it
 *   DIR/offsets/compact-<id>
 *                     snapshot: every key of batches 0..id (format in
 *                     snapshot.c), written by compaction
 *
 * All are written with ims__io_write_durable (tmp, fsync, rename, fsync
 * folder) through the engine's ims_stream_io hooks. Names starting with
 * '.' are temporary files of an interrupted write and are ignored.
 *
 * Off the row's path: the offsets and commit files are not written by
 * the engine's thread but queued to a helper thread (core/io_queue.c),
 * which makes them durable one at a time in the order they were queued;
 * compactions run on a second one (the compactor). The engine queues
 * offsets/<id>, classifies the batch meanwhile, and waits
 * (ims__checkpoint_wait) only before its sinks get the rows; it queues
 * commits/<id> and goes on to the next batch, whose offsets queue behind
 * it. The invariant, which recovery below relies on:
 *   I1  offsets/<id> is durable before any sink gets a row of batch id
 *       (the engine waits for it);
 *   I2  commits/<id> is queued only after every sink has batch id
 *       durably (the engine's order);
 *   I3  the files become durable in queue order, each one completely
 *       (rename and folder fsync) before the next is created: so
 *       commits/<id> is durable before offsets/<id+1> exists, and at any
 *       crash at most one offsets file lacks its commit, the newest;
 *   I4  after a failed write nothing queued later is written, and the
 *       failure is returned by the next wait (or queue) call: the batch
 *       in flight then writes no rows, and the run stops; a failed
 *       compaction likewise stops the run at the next wait or flush
 *       (its batches are committed: nothing to replay);
 *   I5  compaction C (below) starts once commits/<C> is durable, and
 *       reads and deletes only files of batches <= C, which no queued
 *       write touches any more; offsets/commits of later batches are
 *       written meanwhile. Recovery takes either state: without the
 *       snapshot the files of 0..C are all there; with it, leftovers
 *       <= C are ignored (the table in docs/STREAM.md).
 * So the files on disk are always those of the synchronous protocol at
 * some moment of its run; only the engine's thread gets ahead of them,
 * never a sink.
 *
 * Compaction (after the commit of batch C, when due): write
 * offsets/compact-C = the previous snapshot's keys + the keys of
 * offsets/<prev+1..C>, durably; only then delete offsets/<id> and
 * commits/<id> for id <= C, older snapshots and their temporary files
 * (through io->unlink; a file already gone is fine, so deleting again
 * after a crash is harmless). Due: C - prev >= max(interval, keys in the
 * previous snapshot / IMS__COMPACT_KEYS_PER_BATCH). A fixed interval would
 * rewrite all N keys every K batches - O(N^2 / K) bytes over a stream's
 * life; growing the interval with the snapshot bounds the amortized cost
 * to ~1000 keys rewritten per batch, at the price of at most
 * 2 * N/1000 per-batch files between snapshots (2000 at a million keys).
 *
 * Recovery rules: the base is the newest snapshot that verifies (header,
 * checksum, every entry); per-batch files <= base are leftovers of an
 * interrupted deletion and are ignored (then deleted). After the base:
 * every commit has its offsets; at most one offsets file lacks a commit
 * and it is the newest (the batch to replay); ids run contiguously from
 * base + 1 (0 without a snapshot). A snapshot that fails to verify is
 * skipped only if those rules still hold without it and the commits
 * reach its id (its batch files are all still there); otherwise that is
 * damage and is reported - never guessed at, never silently lost.
 *
 * Sections: 1. JSON encode/decode  2. listing ids  3. recovery
 *           4. compaction  5. public calls
 *
 * Threading: one thread (the engine's) calls in; the queued writes run on
 * the checkpoint's helper thread, through the same hooks.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error_int.h"
#include "core/file_int.h"
#include "stream/stream_int.h"

/* Largest offsets/<id> file read (a batch of ~1M keys). */
#define OFFSETS_MAX_FILE ((size_t)1 << 30)

struct ims__checkpoint {
  const ims_stream_io *io; /* BORROWED hooks */
  char dir[4096];          /* DIR */
  char offsets[4096];      /* DIR/offsets */
  char commits[4096];      /* DIR/commits */
  uint32_t interval;       /* batches between snapshots, at least;
                              UINT32_MAX = never */
  int64_t snap_id;         /* snapshot in use (compact-<id>), -1 none;
                              written by compaction (the compactor's
                              thread): read elsewhere only when the
                              compactor is idle */
  size_t snap_keys;        /* keys it holds (as snap_id) */
  int64_t committed_end;   /* 1 + the last committed batch (recover) */
  ims__compact_hook hook;  /* before each compaction, or NULL */
  void *hook_ctx;          /* its context */
  ims__ioq *queue;         /* owned: the offsets and commit writes */
  ims__ioq *compactor;     /* owned: the compactions */
  int64_t compact_sent;    /* last compaction queued (or snap_id) */
};

/* ---- 1. JSON encode/decode ---- */

void ims__batch_input_clear(ims__batch_input *b) {
  ims_bucket_list_free(b->objects, b->count);
  memset(b, 0, sizeof *b);
}

static json_t *encode_offsets(const ims__batch_input *b) {
  json_t *files = json_array();
  for (size_t i = 0; files != NULL && i < b->count; i++) {
    json_t *f = json_pack("{s:s, s:I}", "path", b->objects[i].key,
                          "eventTime",
                          (json_int_t)b->objects[i].event_time_ms);
    if (f == NULL || json_array_append_new(files, f) != 0) {
      json_decref(files);
      files = NULL;
    }
  }
  if (files == NULL) return NULL;
  return json_pack("{s:I, s:o}", "batchId", (json_int_t)b->id, "files",
                   files);
}

/* Parse offsets/<id> into *b (objects owned). */
static ims_status decode_offsets(const char *path, int64_t id,
                                 ims__batch_input *b, ims_error *err) {
  json_error_t je;
  void *text = NULL;
  size_t size = 0;
  /* ims__file_read, not json_load_file: a FIFO in offsets/ must fail,
   * not block fopen() forever (tests/hostile.c) */
  ims_error why;
  ims_status rs = ims__file_read(path, OFFSETS_MAX_FILE, &text, &size, &why);
  if (rs != IMS_OK) /* out of memory is not a damaged checkpoint */
    return ims__fail(err, rs == IMS_ERR_NO_MEMORY ? rs : IMS_ERR_IO,
                     "checkpoint %s", why.message);
  json_t *root = json_loadb(text, size, 0, &je);
  free(text);
  json_t *files = json_object_get(root, "files");
  json_int_t got = json_integer_value(json_object_get(root, "batchId"));
  if (root == NULL || !json_is_array(files) || got != id) {
    json_decref(root);
    return ims__fail(err, IMS_ERR_IO, "checkpoint %s: unreadable: %s", path,
                     root == NULL ? je.text : "bad batchId or files");
  }
  size_t n = json_array_size(files);
  b->id = id;
  b->count = 0;
  b->objects = calloc(n ? n : 1, sizeof *b->objects);
  ims_status st = b->objects != NULL ? IMS_OK : IMS_ERR_NO_MEMORY;
  for (size_t i = 0; st == IMS_OK && i < n; i++) {
    json_t *f = json_array_get(files, i);
    const char *key = json_string_value(json_object_get(f, "path"));
    if (key == NULL) {
      st = IMS_ERR_IO;
      break;
    }
    b->objects[i].key = strdup(key);
    b->objects[i].event_time_ms =
        json_integer_value(json_object_get(f, "eventTime"));
    if (b->objects[i].key == NULL) st = IMS_ERR_NO_MEMORY;
    else b->count++;
  }
  json_decref(root);
  if (st != IMS_OK) {
    ims__batch_input_clear(b);
    return ims__fail(err, st, "checkpoint %s: %s", path,
                     st == IMS_ERR_NO_MEMORY ? "out of memory"
                                             : "bad file entry");
  }
  return IMS_OK;
}

/* ---- 2. listing ids ---- */

typedef struct id_list {
  int64_t *ids;  /* owned, sorted ascending */
  size_t count;  /* entries */
} id_list;

static int cmp_id(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* The id of a name "<prefix><digits><suffix>", if it is one. */
static bool name_id(const char *name, const char *prefix, const char *suffix,
                    int64_t *id) {
  size_t pl = strlen(prefix);
  if (strncmp(name, prefix, pl) != 0) return false;
  const char *s = name + pl;
  if (*s < '0' || *s > '9') return false;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || strcmp(end, suffix) != 0) return false;
  *id = v;
  return true;
}

/* The ids of the names "<prefix><id><suffix>" in `dir`, sorted. */
static ims_status list_ids(const char *dir, const char *prefix,
                           const char *suffix, id_list *out,
                           ims_error *err) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return ims__fail(err, IMS_ERR_IO, "checkpoint %s: %s", dir,
                     strerror(errno));
  size_t cap = 0;
  ims_status st = IMS_OK;
  out->ids = NULL;
  out->count = 0;
  for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
    int64_t v = 0;
    if (!name_id(e->d_name, prefix, suffix, &v)) continue;
    if (out->count == cap) {
      cap = cap ? cap * 2 : 64;
      int64_t *grown = realloc(out->ids, cap * sizeof *grown);
      if (grown == NULL) {
        st = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
        break;
      }
      out->ids = grown;
    }
    out->ids[out->count++] = v;
  }
  closedir(d);
  if (out->count > 1) qsort(out->ids, out->count, sizeof *out->ids, cmp_id);
  return st;
}

/* Drop the ids <= `upto` (the list is sorted). Returns how many. */
static size_t drop_upto(id_list *l, int64_t upto) {
  size_t n = 0;
  while (n < l->count && l->ids[n] <= upto) n++;
  if (n == 0) return 0;
  memmove(l->ids, l->ids + n, (l->count - n) * sizeof *l->ids);
  l->count -= n;
  return n;
}

/* ---- 3. recovery ---- */

/* What start-up found. */
typedef struct recovery {
  id_list o, c, snaps; /* offsets/, commits/ and snapshot ids */
  ims__snapshot base;  /* the newest snapshot that verified */
  int64_t base_id;     /* its id, -1 none */
  int64_t bad_id;      /* newest snapshot that did not verify, -1 none */
  ims_error bad;       /* why it did not */
  bool stale;          /* leftovers of an interrupted compaction */
} recovery;

static void recovery_free(recovery *r) {
  free(r->o.ids);
  free(r->c.ids);
  free(r->snaps.ids);
  ims__snapshot_clear(&r->base);
}

/* Pick the base: the newest snapshot that verifies. */
static ims_status load_base(const ims__checkpoint *cp, recovery *r,
                            ims_error *err) {
  r->base_id = r->bad_id = -1;
  for (size_t i = r->snaps.count; i-- > 0;) {
    char path[4200];
    ims_error e = {0};
    int64_t id = r->snaps.ids[i];
    snprintf(path, sizeof path, "%s/compact-%lld", cp->offsets,
             (long long)id);
    ims_status st = ims__snapshot_load(path, id, &r->base, &e);
    if (st == IMS_ERR_NO_MEMORY) return ims__fail(err, st, "%s", e.message);
    if (st == IMS_OK) {
      r->base_id = id;
      r->stale = i > 0;
      break;
    }
    if (r->bad_id < 0) {
      r->bad_id = id;
      r->bad = e;
    }
  }
  return IMS_OK;
}

/* The rules of the header on the sorted id lists after the base:
 * ids contiguous from `first`, commits matching, at most one pending. */
static ims_status check_history(const ims__checkpoint *cp, const id_list *o,
                                const id_list *c, int64_t first,
                                ims_error *err) {
  if (c->count > o->count || c->count + 1 < o->count)
    return ims__fail(err, IMS_ERR_IO,
                     "checkpoint %s: %zu offsets but %zu commits",
                     cp->offsets, o->count, c->count);
  if (o->count > 0 && o->ids[0] != first)
    return ims__fail(err, IMS_ERR_IO, "checkpoint %s: batch %lld missing",
                     cp->offsets, (long long)first);
  for (size_t i = 0; i < o->count; i++) {
    if (i > 0 && o->ids[i] != o->ids[i - 1] + 1)
      return ims__fail(err, IMS_ERR_IO,
                       "checkpoint %s: batch %lld missing", cp->offsets,
                       (long long)(o->ids[i - 1] + 1));
    if (i < c->count && c->ids[i] != o->ids[i])
      return ims__fail(err, IMS_ERR_IO,
                       "checkpoint %s: commit %lld without its offsets",
                       cp->commits, (long long)c->ids[i]);
  }
  return IMS_OK;
}

/* The history after the base, and whether a snapshot that did not verify
 * may be skipped: only if its batches are all still there as files. */
static ims_status check_recovery(const ims__checkpoint *cp, recovery *r,
                                 ims_error *err) {
  ims_error h = {0};
  r->stale |= drop_upto(&r->o, r->base_id) > 0;
  r->stale |= drop_upto(&r->c, r->base_id) > 0;
  ims_status st = check_history(cp, &r->o, &r->c, r->base_id + 1, &h);
  if (r->bad_id < 0) {
    if (st != IMS_OK) return ims__fail(err, st, "%s", h.message);
    return IMS_OK;
  }
  int64_t last = r->c.count > 0 ? r->c.ids[r->c.count - 1] : r->base_id;
  if (st == IMS_OK && r->bad_id <= last) return IMS_OK; /* superseded */
  return ims__fail(err, IMS_ERR_IO,
                   "%.200s - and the batch files it covers are gone (%.150s):"
                   " refusing to start, batches up to %lld would be lost or"
                   " repeated",
                   r->bad.message,
                   st != IMS_OK ? h.message : "no commit reaches it",
                   (long long)r->bad_id);
}

/* Read offsets/<id> and add its keys to `committed`. */
static ims_status add_committed(const ims__checkpoint *cp, int64_t id,
                                ims__keyset *committed, ims_error *err) {
  char path[4200];
  ims__batch_input b = {0};
  snprintf(path, sizeof path, "%s/%lld", cp->offsets, (long long)id);
  ims_status st = decode_offsets(path, id, &b, err);
  for (size_t i = 0; st == IMS_OK && i < b.count; i++) {
    if (ims__keyset_add(committed, b.objects[i].key) < 0)
      st = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  ims__batch_input_clear(&b);
  return st;
}

static int add_snapshot_key(void *ctx, const char *key, int64_t t) {
  return ims__keyset_add(ctx, key) < 0 ? -1 : 0;
}

/* Every committed key: the base's, then those of the commits after it. */
static ims_status add_all_committed(const ims__checkpoint *cp,
                                    const recovery *r,
                                    ims__keyset *committed, ims_error *err) {
  if (r->base_id >= 0 &&
      ims__snapshot_each(&r->base, add_snapshot_key, committed) != 0)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  for (size_t i = 0; i < r->c.count; i++) {
    ims_status st = add_committed(cp, r->c.ids[i], committed, err);
    if (st != IMS_OK) return st;
  }
  return IMS_OK;
}

static ims_status cleanup(ims__checkpoint *cp, int64_t upto, ims_error *err);

ims_status ims__checkpoint_recover(ims__checkpoint *cp,
                                   ims__keyset *committed,
                                   ims__batch_input *pending_out,
                                   int64_t *next_id_out, ims_error *err) {
  recovery r;
  memset(&r, 0, sizeof r);
  ims__batch_input pending = {0};
  ims_status st = list_ids(cp->offsets, "", "", &r.o, err);
  if (st == IMS_OK) st = list_ids(cp->commits, "", "", &r.c, err);
  if (st == IMS_OK) st = list_ids(cp->offsets, "compact-", "", &r.snaps, err);
  if (st == IMS_OK) st = load_base(cp, &r, err);
  if (st == IMS_OK) st = check_recovery(cp, &r, err);
  if (st == IMS_OK) st = add_all_committed(cp, &r, committed, err);
  if (st == IMS_OK && r.o.count > r.c.count) {
    char path[4200];
    int64_t id = r.o.ids[r.o.count - 1];
    snprintf(path, sizeof path, "%s/%lld", cp->offsets, (long long)id);
    st = decode_offsets(path, id, &pending, err);
  }
  cp->snap_id = cp->compact_sent = r.base_id;
  cp->snap_keys = r.base.count;
  if (st == IMS_OK && r.stale) st = cleanup(cp, r.base_id, err);
  if (st != IMS_OK) goto fail;
  *next_id_out = r.o.count > 0 ? r.o.ids[r.o.count - 1] + 1 : r.base_id + 1;
  cp->committed_end = r.base_id + 1;
  if (r.c.count > 0 && r.c.ids[r.c.count - 1] + 1 > cp->committed_end)
    cp->committed_end = r.c.ids[r.c.count - 1] + 1;
  *pending_out = pending;
  recovery_free(&r);
  return IMS_OK;
fail:
  ims__batch_input_clear(&pending);
  recovery_free(&r);
  return st;
}

/* ---- 4. compaction ---- */

/* Unlink the files "<prefix><id><suffix>" of dir with id < below. */
static ims_status unlink_below(const ims__checkpoint *cp, const char *dir,
                               const char *prefix, const char *suffix,
                               int64_t below, ims_error *err) {
  id_list l = {0};
  ims_status st = list_ids(dir, prefix, suffix, &l, err);
  for (size_t i = 0; st == IMS_OK && i < l.count && l.ids[i] < below; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s%lld%s", dir, prefix,
             (long long)l.ids[i], suffix);
    if (ims__io_unlink(cp->io, path) != 0)
      st = ims__fail(err, IMS_ERR_IO, "unlink %s: %s", path,
                     strerror(errno));
  }
  free(l.ids);
  return st;
}

/* Delete what snapshot `upto` covers: per-batch files <= upto, older
 * snapshots, temporary snapshot files. Idempotent. */
static ims_status cleanup(ims__checkpoint *cp, int64_t upto, ims_error *err) {
  ims_status st = unlink_below(cp, cp->offsets, "", "", upto + 1, err);
  if (st == IMS_OK) st = unlink_below(cp, cp->commits, "", "", upto + 1, err);
  if (st == IMS_OK)
    st = unlink_below(cp, cp->offsets, "compact-", "", upto, err);
  if (st == IMS_OK)
    st = unlink_below(cp, cp->offsets, ".compact-", ".tmp", upto + 1, err);
  if (st != IMS_OK) return st;
  if (ims__io_fsync_dir(cp->io, cp->offsets) != 0 ||
      ims__io_fsync_dir(cp->io, cp->commits) != 0)
    return ims__fail(err, IMS_ERR_IO, "fsync %s: %s", cp->offsets,
                     strerror(errno));
  return IMS_OK;
}

/* A snapshot being built. */
typedef struct snap_buf {
  char *buf;    /* owned */
  size_t len;   /* bytes used */
  size_t cap;   /* bytes allocated */
  size_t count; /* entries */
} snap_buf;

/* The keys of offsets/<id> into sb. */
static ims_status add_batch(const ims__checkpoint *cp, int64_t id,
                            snap_buf *sb, ims_error *err) {
  char path[4200];
  ims__batch_input b = {0};
  snprintf(path, sizeof path, "%s/%lld", cp->offsets, (long long)id);
  ims_status st = decode_offsets(path, id, &b, err);
  for (size_t i = 0; st == IMS_OK && i < b.count; i++) {
    if (ims__snapshot_add(&sb->buf, &sb->len, &sb->cap, b.objects[i].key,
                          b.objects[i].event_time_ms) != 0)
      st = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
    sb->count++;
  }
  ims__batch_input_clear(&b);
  return st;
}

/* Snapshot `upto` in memory: the previous one's entries (re-verified),
 * then those of the batches after it. */
static ims_status build_snapshot(const ims__checkpoint *cp, int64_t upto,
                                 snap_buf *sb, ims_error *err) {
  if (ims__snapshot_begin(&sb->buf, &sb->len, &sb->cap, upto) != 0)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  if (cp->snap_id >= 0) {
    char path[4200];
    ims__snapshot prev;
    snprintf(path, sizeof path, "%s/compact-%lld", cp->offsets,
             (long long)cp->snap_id);
    ims_status st = ims__snapshot_load(path, cp->snap_id, &prev, err);
    if (st != IMS_OK) return st;
    int rc = ims__buf_append(&sb->buf, &sb->len, &sb->cap,
                             prev.data + prev.body_off, prev.body_len);
    sb->count = prev.count;
    ims__snapshot_clear(&prev);
    if (rc != 0) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  for (int64_t id = cp->snap_id + 1; id <= upto; id++) {
    ims_status st = add_batch(cp, id, sb, err);
    if (st != IMS_OK) return st;
  }
  if (ims__snapshot_finish(&sb->buf, &sb->len, &sb->cap, sb->count) != 0)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  return IMS_OK;
}

ims_status ims__checkpoint_compact(ims__checkpoint *cp, int64_t upto,
                                   ims_error *err) {
  snap_buf sb;
  ims_error e = {0};
  char name[48];
  memset(&sb, 0, sizeof sb);
  ims_status st = build_snapshot(cp, upto, &sb, &e);
  snprintf(name, sizeof name, "compact-%lld", (long long)upto);
  if (st == IMS_OK)
    st = ims__io_write_durable(cp->io, cp->offsets, name, sb.buf, sb.len,
                               &e);
  free(sb.buf);
  if (st == IMS_OK) {
    /* Durable: from here on recovery starts from it. */
    cp->snap_id = upto;
    cp->snap_keys = sb.count;
    st = cleanup(cp, upto, &e);
  }
  if (st != IMS_OK)
    return ims__fail(err, st, "checkpoint compaction: %s", e.message);
  return IMS_OK;
}

/* ---- 5. public calls ---- */

static ims_status make_dir(const char *path, ims_error *err) {
  if (mkdir(path, 0755) != 0 && errno != EEXIST)
    return ims__fail(err, IMS_ERR_IO, "checkpoint: mkdir %s: %s", path,
                     strerror(errno));
  return IMS_OK;
}

ims_status ims__checkpoint_open(const char *dir, const ims_stream_io *io,
                                uint32_t compact_interval,
                                ims__checkpoint **out, ims_error *err) {
  ims__checkpoint *cp = calloc(1, sizeof *cp);
  if (cp == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  cp->io = io != NULL ? io : ims_stream_io_posix();
  cp->interval = compact_interval ? compact_interval : IMS__COMPACT_DEFAULT;
  cp->snap_id = cp->compact_sent = -1;
  snprintf(cp->dir, sizeof cp->dir, "%s", dir);
  snprintf(cp->offsets, sizeof cp->offsets, "%s/offsets", dir);
  snprintf(cp->commits, sizeof cp->commits, "%s/commits", dir);
  ims_status st = make_dir(dir, err);
  if (st == IMS_OK) st = make_dir(cp->offsets, err);
  if (st == IMS_OK) st = make_dir(cp->commits, err);
  if (st == IMS_OK) st = ims__ioq_create(cp->io, &cp->queue, err);
  if (st == IMS_OK) st = ims__ioq_create(cp->io, &cp->compactor, err);
  if (st != IMS_OK) {
    ims__checkpoint_close(cp);
    return st;
  }
  *out = cp;
  return IMS_OK;
}

void ims__checkpoint_close(ims__checkpoint *cp) {
  if (cp == NULL) return;
  /* What is queued is done first. The compactor first: its job may be
   * waiting for a commit of the other queue. */
  ims__ioq_destroy(cp->compactor);
  ims__ioq_destroy(cp->queue);
  free(cp);
}

int64_t ims__checkpoint_snapshot_id(const ims__checkpoint *cp) {
  return cp->snap_id;
}

ims_status ims__checkpoint_queue_offsets(ims__checkpoint *cp,
                                         const ims__batch_input *b,
                                         ims_error *err) {
  json_t *j = encode_offsets(b);
  char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (text == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  char name[32];
  uint64_t ticket;
  snprintf(name, sizeof name, "%lld", (long long)b->id);
  return ims__ioq_submit(cp->queue, cp->offsets, name, text, strlen(text),
                         &ticket, err);
}

ims_status ims__checkpoint_wait(ims__checkpoint *cp, ims_error *err) {
  ims_status st = ims__ioq_wait_all(cp->queue, err);
  if (st == IMS_OK) st = ims__ioq_check(cp->compactor, err);
  return st;
}

ims_status ims__checkpoint_flush(ims__checkpoint *cp, ims_error *err) {
  ims_status st = ims__ioq_wait_all(cp->queue, err);
  if (st == IMS_OK) st = ims__ioq_wait_all(cp->compactor, err);
  return st;
}

ims_status ims__checkpoint_write_offsets(ims__checkpoint *cp,
                                         const ims__batch_input *b,
                                         ims_error *err) {
  ims_status st = ims__checkpoint_queue_offsets(cp, b, err);
  if (st == IMS_OK) st = ims__checkpoint_wait(cp, err);
  return st;
}

/* Before a compaction deletes the commits up to `upto`, whoever keeps
 * state in them (the learned head) saves it. */
static ims_status run_hook(ims__checkpoint *cp, int64_t upto,
                           ims_error *err) {
  if (cp->hook == NULL) return IMS_OK;
  ims_error e = {0};
  ims_status st = cp->hook(cp->hook_ctx, upto, &e);
  if (st != IMS_OK)
    return ims__fail(err, st, "checkpoint compaction: %s", e.message);
  return IMS_OK;
}

/* {"batchId":N} or {"batchId":N,EXTRA}, malloc()ed; NULL out of memory. */
static char *commit_text(int64_t id, const char *extra, size_t *len) {
  char head[64];
  int n = snprintf(head, sizeof head, "{\"batchId\":%lld", (long long)id);
  char *text = NULL;
  size_t cap = 0;
  *len = 0;
  bool ok = ims__buf_append(&text, len, &cap, head, (size_t)n) == 0;
  if (ok && extra != NULL)
    ok = ims__buf_append(&text, len, &cap, ",", 1) == 0 &&
         ims__buf_append(&text, len, &cap, extra, strlen(extra)) == 0;
  if (ok) ok = ims__buf_append(&text, len, &cap, "}", 1) == 0;
  if (!ok) {
    free(text);
    return NULL;
  }
  return text;
}

/* A compaction queued to the compactor's thread. */
typedef struct compact_job {
  ims__checkpoint *cp; /* BORROWED */
  int64_t upto;        /* the batch it covers up to */
  uint64_t commit;     /* ticket of commits/<upto> in cp->queue */
} compact_job;

/* On the compactor's thread: once commits/<upto> is durable (I5). */
static ims_status run_compact_job(void *ctx, ims_error *err) {
  compact_job *j = ctx;
  ims_error e = {0};
  ims_status st = ims__ioq_wait(j->cp->queue, j->commit, &e);
  if (st != IMS_OK)
    return ims__fail(err, st, "checkpoint compaction: %s", e.message);
  return ims__checkpoint_compact(j->cp, j->upto, err);
}

/* After commits/<id> is queued (ticket `commit`): is a snapshot due
 * (header)? Then the hook (on this thread, once the commit is durable:
 * what it saves must not be newer than the commits), and the compaction
 * queued to the compactor. One in flight at a time: the next cannot be
 * due sooner than `interval` batches after it, and before deciding that
 * it is, the previous one is waited for (snap_id and snap_keys are then
 * its). */
static ims_status maybe_compact(ims__checkpoint *cp, int64_t id,
                                uint64_t commit, ims_error *err) {
  if (cp->interval == UINT32_MAX ||
      id - cp->compact_sent < (int64_t)cp->interval)
    return IMS_OK;
  ims_status st = ims__ioq_wait_all(cp->compactor, err);
  if (st != IMS_OK) return st;
  uint64_t due = cp->interval;
  uint64_t by_keys = cp->snap_keys / IMS__COMPACT_KEYS_PER_BATCH;
  if (by_keys > due) due = by_keys;
  if (id - cp->snap_id < (int64_t)due) return IMS_OK;
  if (cp->hook != NULL) {
    st = ims__ioq_wait(cp->queue, commit, err);
    if (st == IMS_OK) st = run_hook(cp, id, err);
    if (st != IMS_OK) return st;
  }
  compact_job *j = malloc(sizeof *j);
  if (j == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  *j = (compact_job){cp, id, commit};
  st = ims__ioq_submit_fn(cp->compactor, run_compact_job, j, free, NULL,
                          err);
  if (st == IMS_OK) cp->compact_sent = id;
  return st;
}

ims_status ims__checkpoint_queue_commit(ims__checkpoint *cp, int64_t id,
                                        const char *extra, ims_error *err) {
  char name[32];
  size_t len;
  uint64_t ticket;
  snprintf(name, sizeof name, "%lld", (long long)id);
  char *text = commit_text(id, extra, &len);
  if (text == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  ims_status st =
      ims__ioq_submit(cp->queue, cp->commits, name, text, len, &ticket, err);
  if (st != IMS_OK) return st;
  cp->committed_end = id + 1;
  return maybe_compact(cp, id, ticket, err);
}

ims_status ims__checkpoint_commit(ims__checkpoint *cp, int64_t id,
                                  const char *extra, ims_error *err) {
  ims_status st = ims__checkpoint_queue_commit(cp, id, extra, err);
  if (st == IMS_OK) st = ims__checkpoint_flush(cp, err);
  return st;
}

ims_status ims__checkpoint_read_commit(const ims__checkpoint *cp, int64_t id,
                                       json_t **out, ims_error *err) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%lld", cp->commits, (long long)id);
  json_error_t je;
  json_t *j = json_load_file(path, 0, &je);
  if (j == NULL || !json_is_object(j)) {
    json_decref(j);
    return ims__fail(err, IMS_ERR_IO, "checkpoint: %s: %s", path,
                     j == NULL ? je.text : "not a JSON object");
  }
  *out = j;
  return IMS_OK;
}

void ims__checkpoint_set_compact_hook(ims__checkpoint *cp,
                                      ims__compact_hook hook, void *ctx) {
  cp->hook = hook;
  cp->hook_ctx = ctx;
}

const char *ims__checkpoint_dir(const ims__checkpoint *cp) { return cp->dir; }

int64_t ims__checkpoint_committed_end(const ims__checkpoint *cp) {
  return cp->committed_end;
}
