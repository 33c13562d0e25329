/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink_jsonl.c - the JSON-lines formats of the file sinks (sink.c does
 * the file handling): one compact object per line, "batch" always first so
 * recovery can read a line's batch without parsing the rest.
 *
 *   jsonl:FILE, a classified image:
 *     {"batch":3,"path":"daisy/a.jpg","label":"daisy",
 *      "prediction":{"class":"n11939491","desc":"daisy","score":0.9883},
 *      "processing_time":"2025-01-31T12:00:00.123Z",
 *      "event_time":"2025-01-31T12:00:00.101Z","latency_ms":22}
 *   a failed image: "error":"..." instead of "prediction"
 *   dead-letter:FILE, failed images only:
 *     {"batch":3,"path":"daisy/x.jpg","error":"...","event_time":"..",
 *      "processing_time":".."}
 *
 * Scores are rounded to 4 decimals. Strings that are not UTF-8 get their
 * non-ASCII bytes replaced by '?'.
 *
 * Threading: pure functions.
 */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_int.h"
#include "stream/stream_int.h"

static json_t *prediction(const ims_stream_row *r) {
  return json_pack("{s:o, s:o, s:f}", "class", ims__json_str_lossy(r->class_id),
                   "desc", ims__json_str_lossy(r->desc), "score",
                   round((double)r->score * 1e4) / 1e4);
}

static json_t *row_object(const ims_stream_row *r) {
  char pt[40], et[40];
  ims__iso8601_ms(r->processing_time_ms, pt, sizeof pt);
  ims__iso8601_ms(r->event_time_ms, et, sizeof et);
  json_t *o = json_pack(
      "{s:I, s:o, s:o, s:o, s:s, s:s, s:I}", "batch", (json_int_t)r->batch,
      "path", ims__json_str_lossy(r->path), "label",
      ims__json_str_lossy(r->label), r->error != NULL ? "error" : "prediction",
      r->error != NULL ? ims__json_str_lossy(r->error) : prediction(r),
      "processing_time", pt, "event_time", et, "latency_ms",
      (json_int_t)(r->processing_time_ms - r->event_time_ms));
  if (o != NULL && r->learned_label != NULL &&
      json_object_set_new(
          o, "learned",
          json_pack("{s:o, s:f}", "label",
                    ims__json_str_lossy(r->learned_label), "score",
                    round((double)r->learned_score * 1e4) / 1e4)) != 0) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *dead_letter_object(const ims_stream_row *r) {
  char pt[40], et[40];
  ims__iso8601_ms(r->processing_time_ms, pt, sizeof pt);
  ims__iso8601_ms(r->event_time_ms, et, sizeof et);
  return json_pack("{s:I, s:o, s:o, s:s, s:s}", "batch", (json_int_t)r->batch,
                   "path", ims__json_str_lossy(r->path), "error",
                   ims__json_str_lossy(r->error), "event_time", et,
                   "processing_time", pt);
}

/* Append one object as a line. */
static int append_line(json_t *o, char **buf, size_t *len, size_t *cap) {
  char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6))
                         : NULL;
  json_decref(o);
  if (text == NULL) return -1;
  int rc = ims__buf_append(buf, len, cap, text, strlen(text));
  if (rc == 0) rc = ims__buf_append(buf, len, cap, "\n", 1);
  free(text);
  return rc;
}

static int format_rows(const ims_stream_row *rows, size_t n, uint32_t flags,
                       char **buf, size_t *len, size_t *cap) {
  for (size_t i = 0; i < n; i++) {
    if (append_line(row_object(&rows[i]), buf, len, cap) != 0) return -1;
  }
  return 0;
}

static int format_dead_letters(const ims_stream_row *rows, size_t n,
                               uint32_t flags, char **buf, size_t *len,
                               size_t *cap) {
  for (size_t i = 0; i < n; i++) {
    if (rows[i].error == NULL) continue;
    if (append_line(dead_letter_object(&rows[i]), buf, len, cap) != 0)
      return -1;
  }
  return 0;
}

/* {"batch":N,...: read N from the fixed prefix; other shapes are parsed. */
static int64_t line_batch(const char *line, size_t len) {
  static const char prefix[] = "{\"batch\":";
  if (len > sizeof prefix && strncmp(line, prefix, sizeof prefix - 1) == 0) {
    char *end = NULL;
    long long v = strtoll(line + sizeof prefix - 1, &end, 10);
    if (end != line + sizeof prefix - 1 && (*end == ',' || *end == '}'))
      return v;
  }
  json_t *o = json_loadb(line, len, 0, NULL);
  json_t *b = json_object_get(o, "batch");
  int64_t v = json_is_integer(b) ? (int64_t)json_integer_value(b) : -1;
  json_decref(o);
  return v;
}

const ims__sink_format ims__sink_jsonl = {"jsonl:", NULL, NULL, format_rows,
                                          line_batch};
const ims__sink_format ims__sink_dead_letter = {
    "dead-letter:", NULL, NULL, format_dead_letters, line_batch};
