/* SPDX-License-Identifier: Apache-2.0 */
/*
 * head_file.c - the learned head's file: encode, decode (every field
 * checked: the file may be hostile), load and save.
 *
 * Format, version 2. Little-endian; f64/f32 are IEEE 754; str is a u32
 * byte count then the bytes (no NUL). docs/LEARNING.md has the same
 * table. (Version 1, refused, held the precision matrix P = Sigma^-1
 * and U_c = P S_c where version 2 holds L and V_c: the same sizes.)
 *
 *   magic       8 bytes "IMSHEAD\n"
 *   u32 version 2
 *   u32 flags   bit 0 NCM, bit 1 NO_SQRT, bit 8 has a covariance factor
 *   u32 d       features per sample (1..65536)
 *   u32 C       classes
 *   u32 fold    samples per fold into Q (32)
 *   u32 pending samples not yet folded (< fold, <= N)
 *   u32 refit_min, u32 refit_growth_pct
 *   u64 N       samples learned (= the sum of the class counts)
 *   u64 next_refit (> N), u64 refits (a count only: ims_head_fit may
 *       refit without new samples)
 *   f64 calib[21] the prequential log loss at temperatures 2^(k/2),
 *               summed (finite, >= 0)
 *   u64 source_seq  the last sequence of the JetStream stream of learned
 *               samples folded in (NATS workers), 0 = none
 *   str model_id (1..1024 bytes), str feature_layer (0..1024 bytes)
 *   C x { str label (1..255 bytes, no control character, unique),
 *         u64 count (>= 1) }
 *   f64 S[C][d]  class sums of the transformed features
 *   f64 V[C][d]  the same whitened: V_c = L^-1 S_c
 *   f64 Q, upper triangle by rows: (0,0..d-1), (1,1..d-1), ...
 *   f32 pending[pending][d]
 *   f32 L^T, upper triangle by rows (= L's lower triangle by
 *       columns; diagonal > 0), if flags bit 8: the Cholesky factor of
 *       the last refit's shrunk covariance, Sigma = L L^T
 *   u32 CRC-32 (zlib's) of every byte before it
 *
 * Every number must be finite. Encoding is deterministic: the same state
 * gives the same bytes, so an interrupted and an uninterrupted stream can
 * be compared byte for byte.
 *
 * Decoding reads the fields up to the CRC only (a truncated file is
 * reported as truncated, not misread from its checksum's bytes), checks
 * the class count against expect->max_classes before reading any class,
 * and finds duplicate labels by sorting (a hostile file of a million
 * classes must not cost 10^12 comparisons).
 *
 * Threading: no shared state.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/error_int.h"
#include "core/file_int.h"
#include "core/io_int.h"
#include "learn/learn_int.h"

#define MAGIC "IMSHEAD\n"
#define VERSION 2u
#define FLAG_FACTOR 0x100u
#define STR_MAX IMS__HEAD_STR_MAX
#define FILE_MAX ((size_t)1 << 31) /* d = 16384 with P: ~1.6 GB */

/* ---- 1. encoding ---- */

typedef struct writer {
  unsigned char *p;
} writer;

static void put(writer *w, const void *v, size_t n) {
  memcpy(w->p, v, n);
  w->p += n;
}
static void put_u32(writer *w, uint32_t v) {
  v = htole32(v);
  put(w, &v, 4);
}
static void put_u64(writer *w, uint64_t v) {
  v = htole64(v);
  put(w, &v, 8);
}
static void put_f64(writer *w, double v) {
  uint64_t b;
  memcpy(&b, &v, 8);
  put_u64(w, b);
}
static void put_f32(writer *w, float v) {
  uint32_t b;
  memcpy(&b, &v, 4);
  put_u32(w, b);
}
static void put_str(writer *w, const char *s) {
  size_t n = strlen(s);
  put_u32(w, (uint32_t)n);
  put(w, s, n);
}

static size_t tri(size_t d) { return d * (d + 1) / 2; }

static size_t encoded_size(const ims_head *h) {
  size_t d = h->d, n = 8 + 4 * 8 + 8 * 4 + 8 * IMS__HEAD_TEMPS;
  n += 4 + strlen(h->model_id) + 4 + strlen(h->feature_layer);
  for (size_t c = 0; c < h->class_count; c++)
    n += 4 + strlen(h->classes[c].label) + 8;
  n += h->class_count * d * 8 * 2 + tri(d) * 8;
  n += (size_t)h->pending_count * d * 4;
  if (h->has_factor) n += tri(d) * 4;
  return n + 4;
}

ims_status ims_head_encode(const ims_head *h, void **data_out,
                           size_t *size_out, ims_error *err) {
  size_t size = encoded_size(h), d = h->d;
  unsigned char *buf = malloc(size);
  if (buf == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY,
                     "learned head: out of memory (%zu bytes)", size);
  writer w = {buf};
  put(&w, MAGIC, 8);
  put_u32(&w, VERSION);
  put_u32(&w, h->flags | (h->has_factor ? FLAG_FACTOR : 0));
  put_u32(&w, h->d);
  put_u32(&w, (uint32_t)h->class_count);
  put_u32(&w, IMS__HEAD_FOLD);
  put_u32(&w, h->pending_count);
  put_u32(&w, h->refit_min);
  put_u32(&w, h->refit_growth_pct);
  put_u64(&w, h->learned);
  put_u64(&w, h->next_refit);
  put_u64(&w, h->refits);
  for (int k = 0; k < IMS__HEAD_TEMPS; k++) put_f64(&w, h->calib[k]);
  put_u64(&w, h->source_seq);
  put_str(&w, h->model_id);
  put_str(&w, h->feature_layer);
  for (size_t c = 0; c < h->class_count; c++) {
    put_str(&w, h->classes[c].label);
    put_u64(&w, h->classes[c].count);
  }
  for (size_t c = 0; c < h->class_count; c++)
    for (size_t i = 0; i < d; i++) put_f64(&w, h->classes[c].sum[i]);
  for (size_t c = 0; c < h->class_count; c++)
    for (size_t i = 0; i < d; i++) put_f64(&w, h->classes[c].vsum[i]);
  for (size_t i = 0; i < d; i++)
    for (size_t j = i; j < d; j++) put_f64(&w, h->q[i * d + j]);
  for (size_t i = 0; i < (size_t)h->pending_count * d; i++)
    put_f32(&w, h->pending[i]);
  if (h->has_factor)
    for (size_t i = 0; i < d; i++)
      for (size_t j = i; j < d; j++) put_f32(&w, h->factor[i * d + j]);
  put_u32(&w, (uint32_t)crc32(0L, buf, (uInt)(size - 4)));
  *data_out = buf;
  *size_out = size;
  return IMS_OK;
}

/* ---- 2. decoding ---- */

typedef struct reader {
  const unsigned char *p, *end;
} reader;

static bool take(reader *r, void *v, size_t n) {
  if ((size_t)(r->end - r->p) < n) return false;
  memcpy(v, r->p, n);
  r->p += n;
  return true;
}
static bool get_u32(reader *r, uint32_t *v) {
  if (!take(r, v, 4)) return false;
  *v = le32toh(*v);
  return true;
}
static bool get_u64(reader *r, uint64_t *v) {
  if (!take(r, v, 8)) return false;
  *v = le64toh(*v);
  return true;
}
static bool get_f64(reader *r, double *v) {
  uint64_t b;
  if (!get_u64(r, &b)) return false;
  memcpy(v, &b, 8);
  return isfinite(*v);
}
/* The calibration sums, checked by the caller (a bad value is not a
 * truncation). */
static bool get_calib(reader *r, double *v) {
  for (int k = 0; k < IMS__HEAD_TEMPS; k++) {
    uint64_t b;
    if (!get_u64(r, &b)) return false;
    memcpy(&v[k], &b, 8);
  }
  return true;
}

static bool calib_ok(const double *v) {
  for (int k = 0; k < IMS__HEAD_TEMPS; k++)
    if (!isfinite(v[k]) || v[k] < 0) return false;
  return true;
}

static bool get_f32(reader *r, float *v) {
  uint32_t b;
  if (!get_u32(r, &b)) return false;
  memcpy(v, &b, 4);
  return isfinite(*v);
}

static ims_status bad(ims_error *err, const char *what) {
  return ims__fail(err, IMS_ERR_BAD_HEAD, "not a valid learned head: %s",
                   what);
}

/* *out = a new string of 1..max bytes (0..max if may_be_empty), named
 * `what` in the message if the file's is not one. Copied with memcpy,
 * not strndup: the bytes have no NUL after them, and strndup may look
 * for one (ASan's strict_string_checks reports it). */
static ims_status get_str(reader *r, uint32_t max, bool may_be_empty,
                          const char *what, char **out, ims_error *err) {
  uint32_t n;
  if (!get_u32(r, &n) || n > max || (n == 0 && !may_be_empty) ||
      (size_t)(r->end - r->p) < n || memchr(r->p, '\0', n) != NULL)
    return bad(err, what);
  char *s = malloc((size_t)n + 1);
  if (s == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  memcpy(s, r->p, n);
  s[n] = '\0';
  r->p += n;
  *out = s;
  return IMS_OK;
}

typedef struct header {
  uint32_t version, flags, d, classes, fold, pending, refit_min, growth;
  uint64_t learned, next_refit, refits, source_seq;
  double calib[IMS__HEAD_TEMPS];
} header;

static ims_status read_header(reader *r, header *hd, ims_error *err) {
  char magic[8];
  if (!take(r, magic, 8) || memcmp(magic, MAGIC, 8) != 0)
    return bad(err, "no IMSHEAD signature");
  if (!get_u32(r, &hd->version)) return bad(err, "truncated header");
  if (hd->version != VERSION)
    return ims__fail(err, IMS_ERR_BAD_HEAD,
                     "learned head format version %u; this imgstream reads "
                     "version %u",
                     hd->version, VERSION);
  if (!get_u32(r, &hd->flags) || !get_u32(r, &hd->d) ||
      !get_u32(r, &hd->classes) || !get_u32(r, &hd->fold) ||
      !get_u32(r, &hd->pending) || !get_u32(r, &hd->refit_min) ||
      !get_u32(r, &hd->growth) || !get_u64(r, &hd->learned) ||
      !get_u64(r, &hd->next_refit) || !get_u64(r, &hd->refits) ||
      !get_calib(r, hd->calib) || !get_u64(r, &hd->source_seq))
    return bad(err, "truncated header");
  if (!calib_ok(hd->calib)) return bad(err, "calibration sums out of range");
  if (hd->flags & ~(IMS_HEAD_FLAG_NCM | IMS_HEAD_FLAG_NO_SQRT | FLAG_FACTOR))
    return bad(err, "unknown flags");
  if (hd->d == 0 || hd->d > IMS__HEAD_MAX_FEATURES)
    return bad(err, "feature count out of range");
  if (hd->fold != IMS__HEAD_FOLD || hd->pending >= hd->fold ||
      hd->pending > hd->learned)
    return bad(err, "pending samples out of range");
  if (hd->refit_min == 0 || hd->growth == 0 ||
      hd->growth > IMS__HEAD_GROWTH_MAX || hd->next_refit <= hd->learned)
    return bad(err, "refit schedule out of range");
  return IMS_OK;
}

/* Bytes the arrays after the class list take: checked against what is
 * left before the CRC before anything of that size is allocated, so a
 * hostile header cannot ask for gigabytes. */
static bool arrays_fit(const reader *r, const header *hd) {
  double d = hd->d, bytes = hd->classes * d * 16 + d * (d + 1) / 2 * 8 +
                            hd->pending * d * 4;
  if (hd->flags & FLAG_FACTOR) bytes += d * (d + 1) / 2 * 4;
  return bytes == (double)(r->end - r->p);
}

static int cmp_label(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Does a label appear twice? Sorted copies of the pointers, then
 * neighbours compared: O(C log C). -1 out of memory. */
static int has_duplicate(const ims_head *h) {
  if (h->class_count < 2) return 0;
  char **sorted = malloc(h->class_count * sizeof *sorted);
  if (sorted == NULL) return -1;
  for (size_t c = 0; c < h->class_count; c++)
    sorted[c] = h->classes[c].label;
  qsort(sorted, h->class_count, sizeof *sorted, cmp_label);
  int dup = 0;
  for (size_t c = 1; c < h->class_count && !dup; c++)
    dup = strcmp(sorted[c - 1], sorted[c]) == 0;
  free(sorted);
  return dup;
}

static ims_status read_classes(reader *r, ims_head *h, const header *hd,
                               ims_error *err) {
  uint64_t total = 0;
  for (uint32_t c = 0; c < hd->classes; c++) {
    if (ims__head_reserve_class(h) != 0)
      return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
    ims__head_class *k = &h->classes[h->class_count];
    memset(k, 0, sizeof *k);
    ims_status st = get_str(r, IMS_HEAD_LABEL_MAX, false, "bad class label",
                            &k->label, err);
    if (st != IMS_OK) return st;
    h->class_count++;
    for (const unsigned char *p = (unsigned char *)k->label; *p; p++)
      if (*p < 0x20 || *p == 0x7f) return bad(err, "bad class label");
    if (!get_u64(r, &k->count) || k->count == 0 ||
        k->count > hd->learned - total)
      return bad(err, "class counts do not add up");
    total += k->count;
  }
  if (total != hd->learned) return bad(err, "class counts do not add up");
  int dup = has_duplicate(h);
  if (dup < 0) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  if (dup) return bad(err, "a class label appears twice");
  return IMS_OK;
}

static bool read_doubles(reader *r, double *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!get_f64(r, &v[i])) return false;
  return true;
}

static ims_status read_arrays(reader *r, ims_head *h, const header *hd,
                              ims_error *err) {
  size_t d = h->d;
  for (size_t c = 0; c < h->class_count; c++) {
    h->classes[c].sum = malloc(d * sizeof(double));
    h->classes[c].vsum = malloc(d * sizeof(double));
    if (!h->classes[c].sum || !h->classes[c].vsum)
      return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  for (size_t c = 0; c < h->class_count; c++)
    if (!read_doubles(r, h->classes[c].sum, d))
      return bad(err, "a class sum is not finite");
  for (size_t c = 0; c < h->class_count; c++)
    if (!read_doubles(r, h->classes[c].vsum, d))
      return bad(err, "a class sum is not finite");
  for (size_t i = 0; i < d; i++)
    if (!read_doubles(r, &h->q[i * d + i], d - i))
      return bad(err, "the second moments are not finite");
  for (size_t i = 0; i < (size_t)hd->pending * d; i++)
    if (!get_f32(r, &h->pending[i]))
      return bad(err, "a pending sample is not finite");
  if (hd->flags & FLAG_FACTOR) {
    for (size_t i = 0; i < d; i++)
      for (size_t j = i; j < d; j++) {
        float v;
        if (!get_f32(r, &v))
          return bad(err, "the covariance factor is not finite");
        /* A zero would divide by zero in every solve. */
        if (j == i && !(v > 0))
          return bad(err, "the covariance factor's diagonal is not "
                          "positive");
        h->factor[i * d + j] = v;
      }
  }
  for (size_t c = 0; c < h->class_count; c++) ims__head_class_bias(h, c);
  return IMS_OK;
}

static uint32_t limit_of(const ims_head_options *e) {
  return e && e->max_classes ? e->max_classes : IMS_HEAD_MAX_CLASSES_DEFAULT;
}

static ims_status too_many(size_t classes, uint32_t max, ims_error *err) {
  return ims__fail(err, IMS_ERR_TOO_LARGE,
                   "learned head has %zu classes, more than the limit %u "
                   "(--max-classes)",
                   classes, max);
}

static ims_status check_expected(const ims_head *h,
                                 const ims_head_options *e, ims_error *err) {
  if (e == NULL) return IMS_OK;
  if (e->model_id && strcmp(e->model_id, h->model_id) != 0)
    return ims__fail(err, IMS_ERR_BAD_HEAD,
                     "learned head was made with model %s; this is %s",
                     h->model_id, e->model_id);
  const char *layer = e->feature_layer ? e->feature_layer : "";
  if (strcmp(layer, h->feature_layer) != 0)
    return ims__fail(err, IMS_ERR_BAD_HEAD,
                     "learned head was made on feature layer \"%s\"; this is "
                     "\"%s\"",
                     h->feature_layer, layer);
  if (e->feature_count && e->feature_count != h->d)
    return ims__fail(err, IMS_ERR_BAD_HEAD,
                     "learned head has %u features; the model gives %u", h->d,
                     e->feature_count);
  if (h->class_count > limit_of(e))
    return too_many(h->class_count, limit_of(e), err);
  return IMS_OK;
}

static ims_status decode_body(reader *r, ims_head *h, const header *hd,
                              ims_error *err) {
  ims_status st = get_str(r, STR_MAX, false, "bad model identity",
                          &h->model_id, err);
  if (st == IMS_OK)
    st = get_str(r, STR_MAX, true, "bad feature layer name",
                 &h->feature_layer, err);
  if (st == IMS_OK) st = read_classes(r, h, hd, err);
  if (st != IMS_OK) return st;
  if (!arrays_fit(r, hd)) return bad(err, "truncated or oversized arrays");
  st = ims__head_alloc(h, err);
  if (st != IMS_OK) return st;
  return read_arrays(r, h, hd, err);
}

ims_status ims_head_decode(const void *data, size_t size,
                           const ims_head_options *expect, ims_head **out,
                           ims_error *err) {
  if ((data == NULL && size > 0) || out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "learned head: no data");
  if (size < 12 || size > FILE_MAX) return bad(err, "size out of range");
  uint32_t crc;
  memcpy(&crc, (const unsigned char *)data + size - 4, 4);
  reader r = {data, (const unsigned char *)data + size - 4};
  header hd = {0};
  ims_status st = read_header(&r, &hd, err);
  if (st != IMS_OK) return st;
  if (le32toh(crc) != (uint32_t)crc32(0L, data, (uInt)(size - 4)))
    return bad(err, "checksum mismatch (damaged file)");
  /* Before any class is read: the limit bounds the work and memory. */
  if (expect != NULL && hd.classes > limit_of(expect))
    return too_many(hd.classes, limit_of(expect), err);
  ims_head *h = calloc(1, sizeof *h);
  if (h == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  h->d = hd.d;
  h->flags = hd.flags & (IMS_HEAD_FLAG_NCM | IMS_HEAD_FLAG_NO_SQRT);
  h->has_factor = (hd.flags & FLAG_FACTOR) != 0;
  h->pending_count = hd.pending;
  h->refit_min = hd.refit_min;
  h->refit_growth_pct = hd.growth;
  h->learned = hd.learned;
  h->next_refit = hd.next_refit;
  h->refits = hd.refits;
  h->source_seq = hd.source_seq;
  memcpy(h->calib, hd.calib, sizeof h->calib);
  h->max_classes = limit_of(expect);
  if (h->max_classes < hd.classes) h->max_classes = hd.classes;
  st = decode_body(&r, h, &hd, err);
  if (st == IMS_OK) st = check_expected(h, expect, err);
  if (st != IMS_OK) {
    ims_head_destroy(h);
    return st;
  }
  *out = h;
  return IMS_OK;
}

/* ---- 3. files ---- */

ims_status ims_head_load(const char *path, const ims_head_options *expect,
                         ims_head **out, ims_error *err) {
  void *data = NULL;
  size_t size = 0;
  ims_status st = ims__file_read(path, FILE_MAX, &data, &size, err);
  if (st != IMS_OK) return st;
  ims_error e = {0};
  st = ims_head_decode(data, size, expect, out, &e);
  free(data);
  if (st != IMS_OK) return ims__fail(err, st, "%s: %s", path, e.message);
  return IMS_OK;
}

ims_status ims_head_save(const ims_head *h, const char *path,
                         ims_error *err) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  const char *name = slash ? slash + 1 : path;
  int n = slash ? snprintf(dir, sizeof dir, "%.*s", (int)(slash - path),
                           path)
                : snprintf(dir, sizeof dir, ".");
  if (n < 0 || (size_t)n >= sizeof dir || name[0] == '\0')
    return ims__fail(err, IMS_ERR_INVALID_ARG, "%s: not a file path", path);
  if (dir[0] == '\0') strcpy(dir, "/");
  void *data;
  size_t size;
  ims_status st = ims_head_encode(h, &data, &size, err);
  if (st != IMS_OK) return st;
  st = ims__io_write_durable(ims_stream_io_posix(), dir, name, data, size,
                             err);
  free(data);
  return st;
}
