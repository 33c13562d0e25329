/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report.c - printing the results of `imgstream classify`.
 *
 * Plain mode (stdout), one header line, then per image:
 *   --top 1:  image  index  class  score  description     (one row)
 *   --top K:  the path on its own line, then K indented rows
 * Scores have 4 decimals. Failed images go to stderr as
 * "imgstream: PATH: MESSAGE".
 *
 * JSON mode (stdout), one compact object per line, built with jansson:
 *   {"path":"p.jpg","top":[{"index":88,"class":"n01818515",
 *    "desc":"macaw","score":0.9961}, ...]}
 *   {"path":"x.jpg","error":"truncated JPEG data at byte 1234"}
 * `index` is the position in the label list. Scores are rounded to 4
 * decimals. Strings that are not valid UTF-8 have their non-ASCII bytes
 * replaced by '?', since JSON text must be UTF-8.
 *
 * Progress ("classified N/M", rewritten with \r) goes to stderr, only when
 * it is a terminal and $CI is unset. No colors are used anywhere, so
 * NO_COLOR is honoured trivially.
 *
 * Sections: 1. JSON helpers  2. plain table  3. progress  4. public calls
 */
#include "cli/report_int.h"
#include "core/json_int.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- 1. JSON helpers ---- */

static double round4(float score) { return round((double)score * 1e4) / 1e4; }

/* The "top" array of one image. New reference or NULL. */
static json_t *json_top(const cli_report *r, const cli_result *res) {
  json_t *arr = json_array();
  for (size_t i = 0; arr != NULL && i < res->k; i++) {
    size_t idx = res->top[i].index;
    json_t *o = json_pack("{s:I, s:o, s:o, s:f}", "index", (json_int_t)idx,
                          "class",
                          ims__json_str_lossy(ims_labels_class(r->labels, idx)),
                          "desc",
                          ims__json_str_lossy(ims_labels_desc(r->labels, idx)),
                          "score", round4(res->top[i].score));
    if (o == NULL || json_array_append_new(arr, o) != 0) {
      json_decref(arr);
      arr = NULL;
    }
  }
  return arr;
}

/* The "features" array of one image. New reference or NULL. */
static json_t *json_features(const cli_result *res) {
  json_t *arr = json_array();
  for (size_t i = 0; arr != NULL && i < res->feature_count; i++)
    if (json_array_append_new(arr, json_real(res->features[i])) != 0) {
      json_decref(arr);
      arr = NULL;
    }
  return arr;
}

static int print_json(const cli_report *r, const cli_result *res) {
  json_t *obj;
  if (res->error != NULL)
    obj = json_pack("{s:o, s:o}", "path", ims__json_str_lossy(res->path),
                    "error", ims__json_str_lossy(res->error));
  else
    obj = json_pack("{s:o, s:o}", "path", ims__json_str_lossy(res->path), "top",
                    json_top(r, res));
  if (obj != NULL && res->error == NULL && res->features != NULL &&
      json_object_set_new(obj, "features", json_features(res)) != 0) {
    json_decref(obj);
    obj = NULL;
  }
  if (obj == NULL) return -1;
  /* Features keep a float's 9 digits; rows without them print as ever
   * (the scores are rounded to 4 decimals either way). */
  size_t digits = res->features != NULL ? 9 : 4;
  int rc = json_dumpf(obj, stdout,
                      JSON_COMPACT | JSON_REAL_PRECISION(digits));
  json_decref(obj);
  putchar('\n');
  return rc == 0 ? 0 : -1;
}

/* ---- 2. plain table ---- */

static const char *or_empty(const char *s) { return s != NULL ? s : ""; }

static void print_plain(const cli_report *r, const cli_result *res) {
  if (res->error != NULL) {
    fprintf(stderr, "imgstream: %s: %s\n", res->path, res->error);
    return;
  }
  if (r->top_k > 1) printf("%s\n", res->path);
  for (size_t i = 0; i < res->k; i++) {
    size_t idx = res->top[i].index;
    if (r->top_k > 1)
      printf("  %-*zu", r->path_width - 2, i + 1);
    else
      printf("%-*s", r->path_width, res->path);
    printf("  %5zu  %-9s  %6.4f  %s\n", idx,
           or_empty(ims_labels_class(r->labels, idx)),
           (double)res->top[i].score,
           or_empty(ims_labels_desc(r->labels, idx)));
  }
}

/* ---- 3. progress ---- */

bool cli_report_want_progress(void) {
  const char *ci = getenv("CI");
  if (ci != NULL && ci[0] != '\0') return false;
  return isatty(STDERR_FILENO) == 1;
}

static void progress_clear(cli_report *r) {
  if (!r->progress_shown) return;
  fprintf(stderr, "\r%40s\r", "");
  r->progress_shown = false;
}

/* ---- 4. public calls ---- */

void cli_report_begin(cli_report *r) {
  if (r->json) return;
  const char *first = r->top_k > 1 ? "image / rank" : "image";
  printf("%-*s  %5s  %-9s  %6s  %s\n", r->path_width, first, "index",
         "class", "score", "description");
}

int cli_report_result(cli_report *r, const cli_result *res) {
  r->done++;
  progress_clear(r);
  if (r->json) return print_json(r, res);
  print_plain(r, res);
  return 0;
}

void cli_report_progress(cli_report *r) {
  if (!r->progress) return;
  fflush(stdout);
  fprintf(stderr, "\rclassified %zu/%zu", r->done, r->total);
  fflush(stderr);
  r->progress_shown = true;
}

void cli_report_end(cli_report *r) { progress_clear(r); }
