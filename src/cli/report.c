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
 * `index` is the position in the label list (with --head, in the head's
 * classes, and `class` and `desc` are both the class's label; the plain
 * table's class and description columns too). Scores are rounded to 4
 * decimals. Strings that are not valid UTF-8 have their non-ASCII bytes
 * replaced by '?', since JSON text must be UTF-8.
 *
 * Progress ("classified N/M", rewritten with \r) goes to stderr, only when
 * it is a terminal and $CI is unset. No colors are used anywhere, so
 * NO_COLOR is honoured trivially.
 *
 * --accuracy keeps (parent folder name, top-1 description) per image and
 * ends the output with "top-1 accuracy: C/T = P%" and a confusion matrix
 * whose columns are the folder names plus "(other)" (a model has far more
 * classes than a folder has labels; with --head, the rows and columns
 * are the folder names and the head's classes, so a class no image is
 * of still shows), or with one JSON line:
 *   {"accuracy":{"correct":C,"total":T,"failed":F,"top1":0.2023,
 *    "labels":[..],"predicted":[..,"(other)"],"confusion":[[..],..]}}
 *
 * Sections: 1. JSON helpers  2. plain table  3. progress  4. accuracy
 * 5. public calls
 */
#define _GNU_SOURCE /* realpath, strdup */
#include "cli/report_int.h"
#include "core/json_int.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- 1. JSON helpers ---- */

/* The class id and description of prediction idx: the head's label
 * (--head), else the label file's. NULL if unknown. */
static const char *class_of(const cli_report *r, size_t idx) {
  if (r->head != NULL) return ims_head_class_label(r->head, idx);
  return ims_labels_class(r->labels, idx);
}
static const char *desc_of(const cli_report *r, size_t idx) {
  if (r->head != NULL) return ims_head_class_label(r->head, idx);
  return ims_labels_desc(r->labels, idx);
}

static double round4(float score) { return round((double)score * 1e4) / 1e4; }

/* The "top" array of one image. New reference or NULL. */
static json_t *json_top(const cli_report *r, const cli_result *res) {
  json_t *arr = json_array();
  for (size_t i = 0; arr != NULL && i < res->k; i++) {
    size_t idx = res->top[i].index;
    json_t *o = json_pack("{s:I, s:o, s:o, s:f}", "index", (json_int_t)idx,
                          "class", ims__json_str_lossy(class_of(r, idx)),
                          "desc", ims__json_str_lossy(desc_of(r, idx)),
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
    printf("  %5zu  %-9s  %6.4f  %s\n", idx, or_empty(class_of(r, idx)),
           (double)res->top[i].score, or_empty(desc_of(r, idx)));
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

/* ---- 4. accuracy ---- */

static const char *const OTHER = "(other)";

/* The name of path's parent folder, in a new string ("" if unknown).
 * "x.jpg", "./x.jpg" and "../x.jpg" name no folder, so those are asked of
 * the file system. */
static char *folder_name(const char *path) {
  const char *slash = strrchr(path, '/');
  size_t end = slash != NULL ? (size_t)(slash - path) : 0;
  while (end > 0 && path[end - 1] == '/') end--;
  size_t start = end;
  while (start > 0 && path[start - 1] != '/') start--;
  size_t len = end - start;
  const char *name = path + start;
  if (len > 0 && !(len == 1 && name[0] == '.') &&
      !(len == 2 && name[0] == '.' && name[1] == '.'))
    return strndup(name, len);
  char dir[PATH_MAX];
  if (slash == NULL)
    snprintf(dir, sizeof dir, ".");
  else
    snprintf(dir, sizeof dir, "%.*s/", (int)(slash - path), path);
  char *real = realpath(dir, NULL);
  if (real == NULL) return strdup("");
  const char *base = strrchr(real, '/');
  char *out = strdup(base != NULL ? base + 1 : real);
  free(real);
  return out;
}

/* Keep one image's outcome. Returns 0 or -1 (out of memory). */
static int keep(cli_report *r, const cli_result *res) {
  if (res->error != NULL || res->k == 0) {
    r->failed++;
    return 0;
  }
  if (r->nscored == r->capscored) {
    size_t cap = r->capscored ? r->capscored * 2 : 256;
    cli_scored *p = realloc(r->scored, cap * sizeof *p);
    if (p == NULL) return -1;
    r->scored = p;
    r->capscored = cap;
  }
  size_t idx = res->top[0].index;
  const char *pred = desc_of(r, idx);
  if (pred == NULL) pred = or_empty(class_of(r, idx));
  char *truth = folder_name(res->path);
  if (truth == NULL) return -1;
  r->scored[r->nscored++] = (cli_scored){truth, pred};
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The tallies: sorted distinct true labels (and head classes), and
 * counts[row * (n + 1) + col] where col n is "(other)". */
typedef struct tally {
  const char **labels; /* owned array; strings BORROWED from scored or
                          the head */
  size_t n;            /* distinct labels */
  size_t *counts;      /* owned: n x (n + 1) */
  size_t correct;      /* images whose top-1 is their label */
} tally;

static size_t find_label(const tally *t, const char *name) {
  const char **hit = bsearch(&name, t->labels, t->n, sizeof *t->labels,
                             cmp_str);
  return hit != NULL ? (size_t)(hit - t->labels) : t->n;
}

/* Fill *t from r->scored (and r->head's classes). Returns 0 or -1 (out
 * of memory). */
static int tally_make(const cli_report *r, tally *t) {
  memset(t, 0, sizeof *t);
  size_t nhead = r->head != NULL ? ims_head_class_count(r->head) : 0;
  size_t all = r->nscored + nhead;
  t->labels = malloc((all + 1) * sizeof *t->labels);
  if (t->labels == NULL) return -1;
  for (size_t i = 0; i < r->nscored; i++) t->labels[i] = r->scored[i].truth;
  for (size_t i = 0; i < nhead; i++)
    t->labels[r->nscored + i] = ims_head_class_label(r->head, i);
  qsort(t->labels, all, sizeof *t->labels, cmp_str);
  for (size_t i = 0; i < all; i++)
    if (t->n == 0 || strcmp(t->labels[t->n - 1], t->labels[i]) != 0)
      t->labels[t->n++] = t->labels[i];
  t->counts = calloc(t->n * (t->n + 1) + 1, sizeof *t->counts);
  if (t->counts == NULL) return -1;
  for (size_t i = 0; i < r->nscored; i++) {
    size_t row = find_label(t, r->scored[i].truth);
    size_t col = find_label(t, r->scored[i].pred);
    t->counts[row * (t->n + 1) + col]++;
    if (col == row) t->correct++;
  }
  return 0;
}

static void tally_free(tally *t) {
  free(t->labels);
  free(t->counts);
}

static const char *col_name(const tally *t, size_t col) {
  return col < t->n ? t->labels[col] : OTHER;
}

static void print_accuracy_plain(const cli_report *r, const tally *t) {
  size_t total = r->nscored;
  printf("\ntop-1 accuracy: %zu/%zu", t->correct, total);
  if (total > 0)
    printf(" = %.1f%%", 100.0 * (double)t->correct / (double)total);
  if (r->failed > 0)
    printf(" (%zu failed image%s not counted)", r->failed,
           r->failed == 1 ? "" : "s");
  putchar('\n');
  if (r->nscored == 0) return; /* no image classified: no matrix */
  if (r->head != NULL)
    printf("\nconfusion matrix: rows are the true labels (parent folder\n"
           "names) and the head's classes, columns the top-1 predictions;\n"
           "%s is any class that is none of these names\n\n", OTHER);
  else
    printf("\nconfusion matrix: rows are the true labels (parent folder\n"
           "names), columns the top-1 predictions; %s is any class\n"
           "that is not one of the folder names\n\n", OTHER);
  int w0 = (int)strlen("true \\ predicted");
  for (size_t i = 0; i < t->n; i++)
    if ((int)strlen(t->labels[i]) > w0) w0 = (int)strlen(t->labels[i]);
  printf("%-*s", w0, "true \\ predicted");
  for (size_t c = 0; c <= t->n; c++) printf("  %5s", col_name(t, c));
  putchar('\n');
  for (size_t row = 0; row < t->n; row++) {
    printf("%-*s", w0, t->labels[row]);
    for (size_t c = 0; c <= t->n; c++) {
      int w = (int)strlen(col_name(t, c));
      printf("  %*zu", w > 5 ? w : 5, t->counts[row * (t->n + 1) + c]);
    }
    putchar('\n');
  }
}

/* A JSON array of the names of columns 0..n (n + 1 for "(other)"). New
 * reference or NULL. */
static json_t *json_names(const tally *t, size_t n) {
  json_t *arr = json_array();
  for (size_t i = 0; arr != NULL && i < n; i++) {
    if (json_array_append_new(arr, ims__json_str_lossy(col_name(t, i))) != 0) {
      json_decref(arr);
      arr = NULL;
    }
  }
  return arr;
}

/* One row of the confusion matrix. New reference or NULL. */
static json_t *json_row(const tally *t, size_t row) {
  json_t *cells = json_array();
  for (size_t c = 0; cells != NULL && c <= t->n; c++) {
    json_int_t v = (json_int_t)t->counts[row * (t->n + 1) + c];
    if (json_array_append_new(cells, json_integer(v)) != 0) {
      json_decref(cells);
      cells = NULL;
    }
  }
  return cells;
}

static json_t *json_matrix(const tally *t) {
  json_t *rows = json_array();
  for (size_t row = 0; rows != NULL && row < t->n; row++) {
    if (json_array_append_new(rows, json_row(t, row)) != 0) {
      json_decref(rows);
      rows = NULL;
    }
  }
  return rows;
}

static int print_accuracy_json(const cli_report *r, const tally *t) {
  size_t total = r->nscored;
  double share = total > 0 ? (double)t->correct / (double)total : 0.0;
  json_t *top1 = total > 0 ? json_real(round(share * 1e4) / 1e4)
                           : json_null();
  json_t *obj = json_pack(
      "{s:{s:I, s:I, s:I, s:o, s:o, s:o, s:o}}", "accuracy", "correct",
      (json_int_t)t->correct, "total", (json_int_t)total, "failed",
      (json_int_t)r->failed, "top1", top1, "labels", json_names(t, t->n),
      "predicted", json_names(t, t->n + 1), "confusion", json_matrix(t));
  if (obj == NULL) return -1;
  int rc = json_dumpf(obj, stdout, JSON_COMPACT | JSON_REAL_PRECISION(4));
  json_decref(obj);
  putchar('\n');
  return rc == 0 ? 0 : -1;
}

/* ---- 5. public calls ---- */

void cli_report_begin(cli_report *r) {
  if (r->json) return;
  const char *first = r->top_k > 1 ? "image / rank" : "image";
  printf("%-*s  %5s  %-9s  %6s  %s\n", r->path_width, first, "index",
         "class", "score", "description");
}

int cli_report_result(cli_report *r, const cli_result *res) {
  r->done++;
  progress_clear(r);
  if (r->accuracy && keep(r, res) != 0) return -1;
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

int cli_report_accuracy(cli_report *r) {
  progress_clear(r);
  tally t;
  int rc = tally_make(r, &t);
  if (rc == 0 && r->json) rc = print_accuracy_json(r, &t);
  else if (rc == 0) print_accuracy_plain(r, &t);
  tally_free(&t);
  return rc;
}

void cli_report_end(cli_report *r) {
  progress_clear(r);
  for (size_t i = 0; i < r->nscored; i++) free(r->scored[i].truth);
  free(r->scored);
  r->scored = NULL;
  r->nscored = r->capscored = 0;
}
