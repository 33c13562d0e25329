/* SPDX-License-Identifier: Apache-2.0 */
/*
 * checkpoint.c - the stream's write-ahead log, laid out like Spark's
 * checkpointLocation:
 *
 *   DIR/offsets/<id>  {"batchId":N,"files":[{"path":"daisy/a.jpg",
 *                      "eventTime":1700000000123}, ...]}
 *                     written before batch N is processed
 *   DIR/commits/<id>  {"batchId":N}   written after every sink has it
 *
 * Both are written with ims__io_write_durable (tmp, fsync, rename, fsync
 * folder) through the engine's ims_stream_io hooks. Names starting with
 * '.' are temporary files of an interrupted write and are ignored.
 *
 * Recovery rules: every commit has its offsets; at most one offsets file
 * lacks a commit and it is the newest (the batch to replay); ids are
 * contiguous from the first one kept. Anything else is reported as a
 * damaged checkpoint rather than guessed at.
 *
 * Not here (later): compaction of old offsets files into one snapshot;
 * for now recovery reads every offsets file, O(total keys).
 *
 * Sections: 1. JSON encode/decode  2. listing ids  3. public calls
 *
 * Threading: one thread (the engine's).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "stream/internal.h"

struct ims__checkpoint {
  const ims_stream_io *io; /* BORROWED hooks */
  char offsets[4096];      /* DIR/offsets */
  char commits[4096];      /* DIR/commits */
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
  json_t *root = json_load_file(path, 0, &je);
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
    return ims__fail(err, st, "checkpoint %s: bad file entry", path);
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

/* The numeric file names of `dir`, sorted. */
static ims_status list_ids(const char *dir, id_list *out, ims_error *err) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return ims__fail(err, IMS_ERR_IO, "checkpoint %s: %s", dir,
                     strerror(errno));
  size_t cap = 0;
  ims_status st = IMS_OK;
  out->ids = NULL;
  out->count = 0;
  for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
    char *end = NULL;
    long long v = strtoll(e->d_name, &end, 10);
    if (e->d_name[0] < '0' || e->d_name[0] > '9' || *end != '\0') continue;
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

/* ---- 3. public calls ---- */

static ims_status make_dir(const char *path, ims_error *err) {
  if (mkdir(path, 0755) != 0 && errno != EEXIST)
    return ims__fail(err, IMS_ERR_IO, "checkpoint: mkdir %s: %s", path,
                     strerror(errno));
  return IMS_OK;
}

ims_status ims__checkpoint_open(const char *dir, const ims_stream_io *io,
                                ims__checkpoint **out, ims_error *err) {
  ims__checkpoint *cp = calloc(1, sizeof *cp);
  if (cp == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  cp->io = io;
  snprintf(cp->offsets, sizeof cp->offsets, "%s/offsets", dir);
  snprintf(cp->commits, sizeof cp->commits, "%s/commits", dir);
  ims_status st = make_dir(dir, err);
  if (st == IMS_OK) st = make_dir(cp->offsets, err);
  if (st == IMS_OK) st = make_dir(cp->commits, err);
  if (st != IMS_OK) {
    free(cp);
    return st;
  }
  *out = cp;
  return IMS_OK;
}

void ims__checkpoint_close(ims__checkpoint *cp) { free(cp); }

/* Check the rules of the header on the two sorted id lists. */
static ims_status check_history(const ims__checkpoint *cp, const id_list *o,
                                const id_list *c, ims_error *err) {
  if (c->count > o->count || c->count + 1 < o->count)
    return ims__fail(err, IMS_ERR_IO,
                     "checkpoint %s: %zu offsets but %zu commits",
                     cp->offsets, o->count, c->count);
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

ims_status ims__checkpoint_recover(ims__checkpoint *cp,
                                   ims__keyset *committed,
                                   ims__batch_input *pending_out,
                                   int64_t *next_id_out, ims_error *err) {
  id_list o = {0}, c = {0};
  ims__batch_input pending = {0};
  ims_status st = list_ids(cp->offsets, &o, err);
  if (st == IMS_OK) st = list_ids(cp->commits, &c, err);
  if (st == IMS_OK) st = check_history(cp, &o, &c, err);
  for (size_t i = 0; st == IMS_OK && i < c.count; i++)
    st = add_committed(cp, c.ids[i], committed, err);
  if (st == IMS_OK && o.count > c.count) {
    char path[4200];
    int64_t id = o.ids[o.count - 1];
    snprintf(path, sizeof path, "%s/%lld", cp->offsets, (long long)id);
    st = decode_offsets(path, id, &pending, err);
  }
  if (st != IMS_OK) goto fail;
  *next_id_out = o.count > 0 ? o.ids[o.count - 1] + 1 : 0;
  *pending_out = pending;
  free(o.ids);
  free(c.ids);
  return IMS_OK;
fail:
  free(o.ids);
  free(c.ids);
  return st;
}

ims_status ims__checkpoint_write_offsets(ims__checkpoint *cp,
                                         const ims__batch_input *b,
                                         ims_error *err) {
  json_t *j = encode_offsets(b);
  char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (text == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  char name[32];
  snprintf(name, sizeof name, "%lld", (long long)b->id);
  ims_status st = ims__io_write_durable(cp->io, cp->offsets, name, text,
                                        strlen(text), err);
  free(text);
  return st;
}

ims_status ims__checkpoint_commit(ims__checkpoint *cp, int64_t id,
                                  ims_error *err) {
  char name[32], text[64];
  snprintf(name, sizeof name, "%lld", (long long)id);
  int n = snprintf(text, sizeof text, "{\"batchId\":%lld}", (long long)id);
  return ims__io_write_durable(cp->io, cp->commits, name, text, (size_t)n,
                               err);
}
