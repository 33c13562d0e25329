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

#define MAXCOLS 4
#define CELL 160

/* Columns: label, prediction, [learned,] processing_time. */
typedef struct cells {
  int n; /* columns in use */
  char c[MAXCOLS][CELL];
} cells;

static void spark_time(int64_t ms, char *out, size_t cap) {
  char iso[40];
  ims__iso8601_ms(ms, iso, sizeof iso);
  iso[10] = ' ';
  iso[23] = '\0'; /* drop the 'Z' */
  snprintf(out, cap, "%s", iso);
}

static void fill(const ims_stream_row *r, uint32_t flags, cells *out) {
  int c = 0;
  snprintf(out->c[c++], CELL, "%s", r->label != NULL ? r->label : "");
  if (r->error != NULL)
    snprintf(out->c[c++], CELL, "{error: %.60s}", r->error);
  else
    snprintf(out->c[c++], CELL, "{%s, %s, %.4f}", r->class_id, r->desc,
             (double)r->score);
  if (flags & IMS_SINK_LEARNED) {
    if (r->learned_label != NULL)
      snprintf(out->c[c++], CELL, "{%.100s, %.4f}", r->learned_label,
               (double)r->learned_score);
    else
      out->c[c++][0] = '\0';
  }
  spark_time(r->processing_time_ms, out->c[c++], CELL);
  out->n = c;
}

static int rule(const cells *w_of, const size_t *w, char **buf, size_t *len,
                size_t *cap) {
  char line[MAXCOLS * (CELL + 1) + 8];
  size_t n = 0;
  line[n++] = '+';
  for (int c = 0; c < w_of->n; c++) {
    memset(line + n, '-', w[c]);
    n += w[c];
    line[n++] = '+';
  }
  line[n++] = '\n';
  return ims__buf_append(buf, len, cap, line, n);
}

static int row(const cells *v, const size_t *w, char **buf, size_t *len,
               size_t *cap) {
  char line[MAXCOLS * (CELL + 1) + 8];
  size_t n = 0;
  line[n++] = '|';
  for (int c = 0; c < v->n; c++) {
    n += (size_t)snprintf(line + n, sizeof line - n, "%-*s|", (int)w[c],
                          v->c[c]);
  }
  line[n++] = '\n';
  return ims__buf_append(buf, len, cap, line, n);
}

static void names_of(uint32_t flags, cells *out) {
  static const char *const all[MAXCOLS] = {"label", "prediction", "learned",
                                           "processing_time"};
  int c = 0;
  for (int i = 0; i < MAXCOLS; i++) {
    if (i == 2 && !(flags & IMS_SINK_LEARNED))
      continue;
    snprintf(out->c[c++], CELL, "%s", all[i]);
  }
  out->n = c;
}

int ims__console_format(int64_t batch, const ims_stream_row *rows, size_t n,
                        uint32_t flags, char **buf, size_t *len, size_t *cap) {
  size_t w[MAXCOLS];
  cells names, cur;
  names_of(flags, &names);
  for (int c = 0; c < names.n; c++)
    w[c] = strlen(names.c[c]);
  for (size_t i = 0; i < n; i++) {
    fill(&rows[i], flags, &cur);
    for (int c = 0; c < cur.n; c++) {
      if (strlen(cur.c[c]) > w[c])
        w[c] = strlen(cur.c[c]);
    }
  }
  char head[128];
  int hn = snprintf(head, sizeof head,
                    "-------------------------------------------\n"
                    "Batch: %lld\n"
                    "-------------------------------------------\n",
                    (long long)batch);
  int rc = ims__buf_append(buf, len, cap, head, (size_t)hn);
  if (rc == 0)
    rc = rule(&names, w, buf, len, cap);
  if (rc == 0)
    rc = row(&names, w, buf, len, cap);
  if (rc == 0)
    rc = rule(&names, w, buf, len, cap);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    fill(&rows[i], flags, &cur);
    rc = row(&cur, w, buf, len, cap);
  }
  if (rc == 0)
    rc = rule(&names, w, buf, len, cap);
  if (rc == 0)
    rc = ims__buf_append(buf, len, cap, "\n", 1);
  return rc;
}
