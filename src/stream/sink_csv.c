/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink_csv.c - the CSV format of the file sinks (sink.c does the file
 * handling). RFC 4180: CRLF line ends, a header line, fields holding a
 * comma, quote, CR or LF are quoted with quotes doubled. CR and LF inside
 * fields are written as spaces so that every row is one line (file
 * recovery works line by line).
 *
 *   batch,path,label,class,desc,score,processing_time,event_time,
 *   latency_ms,error
 *
 * Failed images have empty class/desc/score and the message in `error`.
 *
 * Threading: pure functions.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/stream_int.h"

#define HEADER_FIELDS                                                     \
  "batch,path,label,class,desc,score,processing_time,event_time,"         \
  "latency_ms,error"
#define HEADER HEADER_FIELDS "\r\n"
#define HEADER_LEARNED HEADER_FIELDS ",learned_label,learned_score\r\n"

/* Append one field (quoted if needed) and a separator. */
static int field(const char *s, const char *sep, char **buf, size_t *len,
                 size_t *cap) {
  if (s == NULL) s = "";
  bool quote = strpbrk(s, ",\"\r\n") != NULL;
  int rc = quote ? ims__buf_append(buf, len, cap, "\"", 1) : 0;
  for (const char *p = s; rc == 0 && *p != '\0'; p++) {
    if (*p == '"') rc = ims__buf_append(buf, len, cap, "\"\"", 2);
    else if (*p == '\r' || *p == '\n') rc = ims__buf_append(buf, len, cap,
                                                            " ", 1);
    else rc = ims__buf_append(buf, len, cap, p, 1);
  }
  if (rc == 0 && quote) rc = ims__buf_append(buf, len, cap, "\"", 1);
  if (rc == 0) rc = ims__buf_append(buf, len, cap, sep, strlen(sep));
  return rc;
}

static int format_row(const ims_stream_row *r, uint32_t flags, char **buf,
                      size_t *len, size_t *cap) {
  char batch[32], score[32], pt[40], et[40], lat[32], learned[32] = "";
  snprintf(batch, sizeof batch, "%lld", (long long)r->batch);
  snprintf(score, sizeof score, "%.4f", (double)r->score);
  ims__iso8601_ms(r->processing_time_ms, pt, sizeof pt);
  ims__iso8601_ms(r->event_time_ms, et, sizeof et);
  snprintf(lat, sizeof lat, "%lld",
           (long long)(r->processing_time_ms - r->event_time_ms));
  if (r->learned_label != NULL)
    snprintf(learned, sizeof learned, "%.4f", (double)r->learned_score);
  bool ok = r->error == NULL;
  const char *const cells[] = {batch,  r->path, r->label,
                               ok ? r->class_id : "",
                               ok ? r->desc : "", ok ? score : "",
                               pt,     et,      lat,
                               ok ? "" : r->error,
                               r->learned_label, learned};
  enum { NCELLS = sizeof cells / sizeof cells[0] };
  int ncells = (flags & IMS_SINK_LEARNED) ? NCELLS : NCELLS - 2;
  for (int i = 0; i < ncells; i++) {
    if (field(cells[i], i + 1 < ncells ? "," : "\r\n", buf, len, cap) != 0)
      return -1;
  }
  return 0;
}

static int format_rows(const ims_stream_row *rows, size_t n, uint32_t flags,
                       char **buf, size_t *len, size_t *cap) {
  for (size_t i = 0; i < n; i++) {
    if (format_row(&rows[i], flags, buf, len, cap) != 0) return -1;
  }
  return 0;
}

/* The first field is the batch id; the header's "batch" gives -1. */
static int64_t line_batch(const char *line, size_t len) {
  char *end = NULL;
  if (len == 0 || line[0] < '0' || line[0] > '9') return -1;
  long long v = strtoll(line, &end, 10);
  return *end == ',' ? v : -1;
}

const ims__sink_format ims__sink_csv = {"csv:", HEADER, HEADER_LEARNED,
                                        format_rows, line_batch};
