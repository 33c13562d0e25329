/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c - the metrics registry and its Prometheus text exposition
 * (format 0.0.4: # HELP / # TYPE lines, then samples; histograms as
 * cumulative _bucket{le=...} lines, _sum and _count).
 *
 * The engine records a batch (ims__metrics_batch) under the mutex; a
 * render copies the numbers (a plain struct) under it and formats the
 * copy outside it, so the engine waits at most for a memcpy. The
 * process_* metrics are read from /proc at render time, as the Go and
 * Python clients do on Linux.
 *
 * Threading: all calls from any thread.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/error_int.h"
#include "core/io_int.h"
#include "core/json_int.h"
#include "http/http_int.h"
#include "imgstream/imgstream.h"

/* ---- 1. the registry ---- */

/* Upper bounds (seconds) of the histograms' buckets; +Inf is implied. */
static const double latency_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                    0.5,   1,    2.5,   5,    10,  30, 60};
static const double duration_le[] = {0.001, 0.0025, 0.005, 0.01,
                                     0.025, 0.05,   0.1,   0.25,
                                     0.5,   1,      2.5,   5};
#define NLAT (sizeof latency_le / sizeof latency_le[0])
#define NDUR (sizeof duration_le / sizeof duration_le[0])
#define NBUCKETS NLAT /* room for either */

typedef struct histogram {
  uint64_t bucket[NBUCKETS + 1]; /* not cumulative; the last is +Inf */
  uint64_t count;
  double sum;
} histogram;

/* Everything a render prints, copied in one go. */
typedef struct numbers {
  uint64_t images_ok, images_error, images_replayed, batches;
  histogram latency, batch, decode, inference;
  int64_t last_batch; /* -1 none */
  long backlog;       /* -1 unknown */
  bool learning;
  double learned_accuracy;
  uint64_t learned_seen;
} numbers;

/* One row of the recent window, copied (the engine's strings live only
 * for its batch). Long strings are cut. */
typedef struct recent_row {
  uint64_t id;
  int64_t batch, event_ms, processing_ms;
  float score, learned_score;
  bool has_prediction, has_learned;
  char path[256], label[128], class_id[64], desc[128], learned[128];
  char error[256];
} recent_row;

struct ims_metrics {
  pthread_mutex_t lock;
  recent_row *recent; /* owned: IMS__RECENT_ROWS, a ring */
  uint64_t rows_seen; /* rows numbered so far (the last id) */
  numbers n;
  char *model_path, *model_format, *model_fingerprint; /* owned */
  char *progress; /* owned: the latest progress record, or NULL */
  bool ready;
  char *not_ready; /* owned: why not */
};

ims_status ims_metrics_create(ims_metrics **out, ims_error *err) {
  ims_metrics *m = calloc(1, sizeof *m);
  if (m == NULL || pthread_mutex_init(&m->lock, NULL) != 0) {
    free(m);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "metrics: out of memory");
  }
  m->n.last_batch = -1;
  m->n.backlog = -1;
  m->recent = calloc(IMS__RECENT_ROWS, sizeof *m->recent);
  if (m->recent == NULL) {
    ims_metrics_destroy(m);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "metrics: out of memory");
  }
  *out = m;
  return IMS_OK;
}

void ims_metrics_destroy(ims_metrics *m) {
  if (m == NULL) return;
  pthread_mutex_destroy(&m->lock);
  free(m->recent);
  free(m->model_path);
  free(m->model_format);
  free(m->model_fingerprint);
  free(m->progress);
  free(m->not_ready);
  free(m);
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

void ims_metrics_set_model(ims_metrics *m, const char *path,
                           const char *format, const char *fingerprint) {
  char *p = dup_or_empty(path), *f = dup_or_empty(format),
       *h = dup_or_empty(fingerprint);
  pthread_mutex_lock(&m->lock);
  free(m->model_path);
  free(m->model_format);
  free(m->model_fingerprint);
  m->model_path = p;
  m->model_format = f;
  m->model_fingerprint = h;
  pthread_mutex_unlock(&m->lock);
}

static void observe(histogram *h, const double *le, size_t nle, double v,
                    uint64_t times) {
  size_t b = 0;
  while (b < nle && v > le[b]) b++;
  h->bucket[b] += times;
  h->count += times;
  h->sum += v * (double)times;
}

void ims__metrics_batch(ims_metrics *m, const ims__batch_metrics *b) {
  if (m == NULL) return;
  size_t ok = b->rows - b->errors;
  double per_decode = b->rows ? b->decode_seconds / (double)b->rows : 0;
  double per_infer = ok ? b->inference_seconds / (double)ok : 0;
  pthread_mutex_lock(&m->lock);
  numbers *n = &m->n;
  n->batches++;
  n->images_ok += ok;
  n->images_error += b->errors;
  if (b->replay) n->images_replayed += b->rows;
  observe(&n->batch, duration_le, NDUR, b->seconds, 1);
  /* per image: the batch's time shared out (the engine times batches) */
  if (b->rows) observe(&n->decode, duration_le, NDUR, per_decode, b->rows);
  if (ok) observe(&n->inference, duration_le, NDUR, per_infer, ok);
  for (size_t i = 0; b->latency_ms != NULL && i < b->rows; i++)
    observe(&n->latency, latency_le, NLAT,
            (double)b->latency_ms[i] / 1000.0, 1);
  n->last_batch = b->id;
  n->backlog = b->backlog;
  n->learning = b->learning;
  n->learned_accuracy = b->learned_accuracy;
  n->learned_seen = b->learned_seen;
  pthread_mutex_unlock(&m->lock);
}

static void copy_cut(char *dst, size_t cap, const char *s) {
  snprintf(dst, cap, "%s", s ? s : "");
}

void ims__metrics_rows(ims_metrics *m, const ims_stream_row *rows,
                       size_t n) {
  if (m == NULL) return;
  pthread_mutex_lock(&m->lock);
  for (size_t i = 0; i < n; i++) {
    const ims_stream_row *r = &rows[i];
    recent_row *k = &m->recent[m->rows_seen % IMS__RECENT_ROWS];
    k->id = ++m->rows_seen;
    k->batch = r->batch;
    k->event_ms = r->event_time_ms;
    k->processing_ms = r->processing_time_ms;
    k->has_prediction = r->error == NULL && r->class_id != NULL;
    k->score = r->score;
    k->has_learned = r->learned_label != NULL;
    k->learned_score = r->learned_score;
    copy_cut(k->path, sizeof k->path, r->path);
    copy_cut(k->label, sizeof k->label, r->label);
    copy_cut(k->class_id, sizeof k->class_id, r->class_id);
    copy_cut(k->desc, sizeof k->desc, r->desc);
    copy_cut(k->learned, sizeof k->learned, r->learned_label);
    copy_cut(k->error, sizeof k->error, r->error);
  }
  pthread_mutex_unlock(&m->lock);
}

static json_t *row_json(const recent_row *k) {
  json_t *o = json_pack("{s:I, s:I, s:o, s:o, s:I, s:I}", "id",
                        (json_int_t)k->id, "batch", (json_int_t)k->batch,
                        "path", ims__json_str_lossy(k->path), "label",
                        ims__json_str_lossy(k->label), "event_time_ms",
                        (json_int_t)k->event_ms, "processing_time_ms",
                        (json_int_t)k->processing_ms);
  if (o == NULL) return NULL;
  if (k->has_prediction)
    json_object_set_new(o, "prediction",
                        json_pack("{s:o, s:o, s:f}", "class",
                                  ims__json_str_lossy(k->class_id), "desc",
                                  ims__json_str_lossy(k->desc), "score",
                                  (double)k->score));
  if (k->error[0] != '\0')
    json_object_set_new(o, "error", ims__json_str_lossy(k->error));
  if (k->has_learned)
    json_object_set_new(o, "learned",
                        json_pack("{s:o, s:f}", "label",
                                  ims__json_str_lossy(k->learned), "score",
                                  (double)k->learned_score));
  return o;
}

char *ims__metrics_rows_json(ims_metrics *m, uint64_t after) {
  json_t *rows = json_array();
  pthread_mutex_lock(&m->lock);
  uint64_t last = m->rows_seen;
  uint64_t first = last > IMS__RECENT_ROWS ? last - IMS__RECENT_ROWS + 1 : 1;
  if (after + 1 > first) first = after + 1;
  for (uint64_t id = first; rows != NULL && id <= last; id++)
    json_array_append_new(rows,
                          row_json(&m->recent[(id - 1) % IMS__RECENT_ROWS]));
  pthread_mutex_unlock(&m->lock);
  json_t *o = rows ? json_pack("{s:o, s:I}", "rows", rows, "last",
                               (json_int_t)last)
                   : NULL;
  char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
  json_decref(o);
  return text;
}

void ims__metrics_progress(ims_metrics *m, const char *json) {
  if (m == NULL) return;
  char *copy = strdup(json);
  pthread_mutex_lock(&m->lock);
  free(m->progress);
  m->progress = copy; /* NULL out of memory: /api/progress says none */
  pthread_mutex_unlock(&m->lock);
}

char *ims__metrics_progress_copy(ims_metrics *m) {
  pthread_mutex_lock(&m->lock);
  char *copy = m->progress ? strdup(m->progress) : NULL;
  pthread_mutex_unlock(&m->lock);
  return copy;
}

void ims_metrics_set_ready(ims_metrics *m, bool ready, const char *why) {
  if (m == NULL) return;
  char *copy = ready ? NULL : dup_or_empty(why);
  pthread_mutex_lock(&m->lock);
  m->ready = ready;
  free(m->not_ready);
  m->not_ready = copy;
  pthread_mutex_unlock(&m->lock);
}

bool ims__metrics_is_ready(ims_metrics *m, char **why_out) {
  pthread_mutex_lock(&m->lock);
  bool ready = m->ready;
  *why_out = ready ? NULL
                   : strdup(m->not_ready ? m->not_ready : "starting");
  pthread_mutex_unlock(&m->lock);
  return ready;
}

/* ---- 2. the exposition ---- */

typedef struct out {
  char *buf;
  size_t len, cap;
  bool failed;
} out;

static void put(out *o, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof line ||
      ims__buf_append(&o->buf, &o->len, &o->cap, line, (size_t)n) != 0)
    o->failed = true;
}

/* A label value with \, " and newlines escaped, cut to 300 bytes. */
static void escape(const char *s, char *dst, size_t cap) {
  size_t j = 0;
  for (; *s && j + 3 < cap && j < 300; s++) {
    if (*s == '\\' || *s == '"') dst[j++] = '\\', dst[j++] = *s;
    else if (*s == '\n') dst[j++] = '\\', dst[j++] = 'n';
    else dst[j++] = *s;
  }
  dst[j] = '\0';
}

static void family(out *o, const char *name, const char *type,
                   const char *help) {
  put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_histogram(out *o, const char *name, const char *help,
                          const histogram *h, const double *le, size_t nle) {
  family(o, name, "histogram", help);
  uint64_t cum = 0;
  for (size_t b = 0; b < nle; b++) {
    cum += h->bucket[b];
    put(o, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, le[b], cum);
  }
  put(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
  put(o, "%s_sum %.9g\n%s_count %" PRIu64 "\n", name, h->sum, name,
      h->count);
}

static void put_stream(out *o, const numbers *n) {
  family(o, "imgstream_images_total", "counter",
         "Images classified, by outcome (replayed: rows of a checkpoint's "
         "uncommitted batch, redone; also counted as ok or error).");
  put(o, "imgstream_images_total{outcome=\"ok\"} %" PRIu64 "\n",
      n->images_ok);
  put(o, "imgstream_images_total{outcome=\"error\"} %" PRIu64 "\n",
      n->images_error);
  put(o, "imgstream_images_total{outcome=\"replayed\"} %" PRIu64 "\n",
      n->images_replayed);
  family(o, "imgstream_batches_total", "counter",
         "Micro-batches committed.");
  put(o, "imgstream_batches_total %" PRIu64 "\n", n->batches);
  put_histogram(o, "imgstream_latency_seconds",
                "From an image landing in the source to its row.",
                &n->latency, latency_le, NLAT);
  put_histogram(o, "imgstream_batch_duration_seconds",
                "One micro-batch, taken to committed.", &n->batch,
                duration_le, NDUR);
  put_histogram(o, "imgstream_decode_seconds",
                "Read, decode and preprocess, per image.", &n->decode,
                duration_le, NDUR);
  put_histogram(o, "imgstream_inference_seconds",
                "Inference and top-K, per image.", &n->inference,
                duration_le, NDUR);
  family(o, "imgstream_last_committed_batch", "gauge",
         "Id of the last committed batch (-1: none yet).");
  put(o, "imgstream_last_committed_batch %" PRId64 "\n", n->last_batch);
  if (n->backlog >= 0) {
    family(o, "imgstream_backlog_images", "gauge",
           "Images seen in the source and not yet taken into a batch.");
    put(o, "imgstream_backlog_images %ld\n", n->backlog);
  }
  if (n->learning) {
    family(o, "imgstream_learned_accuracy", "gauge",
           "The learned head's accuracy over the last 100 labeled rows, "
           "each predicted before its label was learned.");
    put(o, "imgstream_learned_accuracy %.6g\n", n->learned_accuracy);
    family(o, "imgstream_learned_samples_total", "counter",
           "Samples the learned head has learned.");
    put(o, "imgstream_learned_samples_total %" PRIu64 "\n", n->learned_seen);
  }
}

/* ---- 3. process_* (Linux /proc) ---- */

static long open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return -1;
  long n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n += e->d_name[0] != '.';
  closedir(d);
  return n - 1; /* the one opendir holds */
}

/* utime, stime (ticks), starttime (ticks after boot), vsize, rss (pages)
 * from /proc/self/stat; false if unreadable. */
static bool self_stat(double *cpu_s, double *start_ticks, double *vsize,
                      double *rss_pages) {
  char buf[2048];
  FILE *f = fopen("/proc/self/stat", "r");
  if (f == NULL) return false;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* the command may hold spaces */
  if (p == NULL) return false;
  unsigned long long v[24] = {0};
  /* fields from 3 (state) on; v[k] = field k + 3 */
  char state;
  if (sscanf(p + 2, "%c", &state) != 1) return false;
  p += 4;
  for (int k = 1; k < 22; k++) {
    char *end;
    v[k] = strtoull(p, &end, 10);
    if (end == p) return false;
    p = end + 1;
  }
  double tick = (double)sysconf(_SC_CLK_TCK);
  *cpu_s = (double)(v[11] + v[12]) / tick; /* fields 14, 15 */
  *start_ticks = (double)v[19];            /* field 22 */
  *vsize = (double)v[20];                  /* field 23 */
  *rss_pages = (double)v[21];              /* field 24 */
  return true;
}

static double boot_time(void) {
  FILE *f = fopen("/proc/stat", "r");
  char line[256];
  double bt = 0;
  while (f != NULL && fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "btime %lf", &bt) == 1) break;
  if (f != NULL) fclose(f);
  return bt;
}

static void put_process(out *o) {
  double cpu, start, vsize, rss;
  if (self_stat(&cpu, &start, &vsize, &rss)) {
    family(o, "process_cpu_seconds_total", "counter",
           "Total user and system CPU time spent in seconds.");
    put(o, "process_cpu_seconds_total %.3f\n", cpu);
    family(o, "process_resident_memory_bytes", "gauge",
           "Resident memory size in bytes.");
    put(o, "process_resident_memory_bytes %.0f\n",
        rss * (double)sysconf(_SC_PAGESIZE));
    family(o, "process_virtual_memory_bytes", "gauge",
           "Virtual memory size in bytes.");
    put(o, "process_virtual_memory_bytes %.0f\n", vsize);
    family(o, "process_start_time_seconds", "gauge",
           "Start time of the process since unix epoch in seconds.");
    put(o, "process_start_time_seconds %.2f\n",
        boot_time() + start / (double)sysconf(_SC_CLK_TCK));
  }
  long fds = open_fds();
  if (fds >= 0) {
    family(o, "process_open_fds", "gauge", "Number of open file descriptors.");
    put(o, "process_open_fds %ld\n", fds);
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    family(o, "process_max_fds", "gauge",
           "Maximum number of open file descriptors.");
    put(o, "process_max_fds %.0f\n", (double)rl.rlim_cur);
  }
}

static void put_info(out *o, const char *path, const char *format,
                     const char *fingerprint) {
  char p[640], f[640], h[640];
  escape(path, p, sizeof p);
  escape(format, f, sizeof f);
  escape(fingerprint, h, sizeof h);
  family(o, "imgstream_model_info", "gauge",
         "The model the stream runs (value always 1).");
  put(o, "imgstream_model_info{path=\"%s\",format=\"%s\",sha256=\"%s\"} 1\n",
      p, f, h);
  family(o, "imgstream_build_info", "gauge",
         "The imgstream build (value always 1).");
  put(o, "imgstream_build_info{version=\"%s\",compiler=\"%s\"} 1\n",
      ims_version(), __VERSION__);
}

ims_status ims_metrics_render(ims_metrics *m, char **text_out,
                              size_t *len_out, ims_error *err) {
  numbers n;
  pthread_mutex_lock(&m->lock);
  n = m->n;
  char *path = dup_or_empty(m->model_path), *fmt = dup_or_empty(m->model_format),
       *sha = dup_or_empty(m->model_fingerprint);
  pthread_mutex_unlock(&m->lock);
  out o = {0};
  put_stream(&o, &n);
  if (path && fmt && sha) {
    const char *h = strncmp(sha, "sha256:", 7) == 0 ? sha + 7 : sha;
    put_info(&o, path, fmt, h);
  }
  put_process(&o);
  free(path);
  free(fmt);
  free(sha);
  if (o.failed || o.buf == NULL) {
    free(o.buf);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "metrics: out of memory");
  }
  *text_out = o.buf;
  *len_out = o.len;
  return IMS_OK;
}
