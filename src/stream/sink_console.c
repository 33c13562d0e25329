/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink_console.c - the console sink's table, in the shape of Spark's
 * console sink in append mode (show(truncate = false)): per batch
 *
 *   -------------------------------------------
 *   Batch: 0
 *   -------------------------------------------
 *   +-----+--------------------------+-----------------------+
 *   |label|prediction                |processing_time        |
 *   +-----+--------------------------+-----------------------+
 *   |daisy|{n11939491, daisy, 0.9883}|2025-01-31 12:00:00.123|
 *   +-----+--------------------------+-----------------------+
 *   (blank line)
 *
 * A failed image shows {error: MESSAGE} (cut to 60 characters) as its
 * prediction. Times are UTC. Columns are as wide as their widest cell.
 *
 * Threading: pure functions.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "stream/stream_int.h"

#define NCOLS 3
#define CELL 160

typedef struct cells {
  char c[NCOLS][CELL]; /* label, prediction, processing_time */
} cells;

static void spark_time(int64_t ms, char *out, size_t cap) {
  char iso[40];
  ims__iso8601_ms(ms, iso, sizeof iso);
  iso[10] = ' ';
  iso[23] = '\0'; /* drop the 'Z' */
  snprintf(out, cap, "%s", iso);
}

static void fill(const ims_stream_row *r, cells *out) {
  snprintf(out->c[0], CELL, "%s", r->label != NULL ? r->label : "");
  if (r->error != NULL)
    snprintf(out->c[1], CELL, "{error: %.60s}", r->error);
  else
    snprintf(out->c[1], CELL, "{%s, %s, %.4f}", r->class_id, r->desc,
             (double)r->score);
  spark_time(r->processing_time_ms, out->c[2], CELL);
}

static int rule(const size_t *w, char **buf, size_t *len, size_t *cap) {
  char line[3 * CELL + 8];
  size_t n = 0;
  line[n++] = '+';
  for (int c = 0; c < NCOLS; c++) {
    memset(line + n, '-', w[c]);
    n += w[c];
    line[n++] = '+';
  }
  line[n++] = '\n';
  return ims__buf_append(buf, len, cap, line, n);
}

static int row(const size_t *w, const char *const *v, char **buf,
               size_t *len, size_t *cap) {
  char line[3 * CELL + 8];
  int n = snprintf(line, sizeof line, "|%-*s|%-*s|%-*s|\n", (int)w[0], v[0],
                   (int)w[1], v[1], (int)w[2], v[2]);
  return ims__buf_append(buf, len, cap, line, (size_t)n);
}

int ims__console_format(int64_t batch, const ims_stream_row *rows, size_t n,
                        char **buf, size_t *len, size_t *cap) {
  static const char *const names[NCOLS] = {"label", "prediction",
                                           "processing_time"};
  size_t w[NCOLS];
  cells cur;
  for (int c = 0; c < NCOLS; c++) w[c] = strlen(names[c]);
  for (size_t i = 0; i < n; i++) {
    fill(&rows[i], &cur);
    for (int c = 0; c < NCOLS; c++) {
      if (strlen(cur.c[c]) > w[c]) w[c] = strlen(cur.c[c]);
    }
  }
  char head[128];
  int hn = snprintf(head, sizeof head,
                    "-------------------------------------------\n"
                    "Batch: %lld\n"
                    "-------------------------------------------\n",
                    (long long)batch);
  int rc = ims__buf_append(buf, len, cap, head, (size_t)hn);
  if (rc == 0) rc = rule(w, buf, len, cap);
  if (rc == 0) rc = row(w, names, buf, len, cap);
  if (rc == 0) rc = rule(w, buf, len, cap);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    fill(&rows[i], &cur);
    const char *v[NCOLS] = {cur.c[0], cur.c[1], cur.c[2]};
    rc = row(w, v, buf, len, cap);
  }
  if (rc == 0) rc = rule(w, buf, len, cap);
  if (rc == 0) rc = ims__buf_append(buf, len, cap, "\n", 1);
  return rc;
}
