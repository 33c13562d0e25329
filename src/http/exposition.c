/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exposition.c - a registry's numbers in the Prometheus text exposition
 * format (version 0.0.4: # HELP / # TYPE lines, then samples; histograms
 * as cumulative _bucket{le=...} lines, _sum and _count), with the
 * standard process_* metrics read from /proc at render time, as the Go
 * and Python clients do on Linux.
 *
 * A render copies the numbers (a plain struct) under the registry's
 * mutex and formats the copy outside it, so the engine waits at most for
 * a memcpy.
 *
 * Threading: any thread.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/error_int.h"
#include "core/io_int.h"
#include "http/registry_int.h"
#include "imgstream/imgstream.h"

/* ---- 1. text ---- */

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
                          const ims__histogram *h, const double *le, size_t nle) {
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

static void put_stream(out *o, const ims__numbers *n) {
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
  family(o, "imgstream_read_bytes_total", "counter",
         "Encoded image bytes read from the source.");
  put(o, "imgstream_read_bytes_total %" PRIu64 "\n", n->bytes_read);
  put_histogram(o, "imgstream_latency_seconds",
                "From an image landing in the source to its row.",
                &n->latency, ims__latency_le, IMS__NLATENCY);
  put_histogram(o, "imgstream_batch_duration_seconds",
                "One micro-batch, taken to committed.", &n->batch,
                ims__duration_le, IMS__NDURATION);
  put_histogram(o, "imgstream_decode_seconds",
                "Read, decode and preprocess, per image.", &n->decode,
                ims__duration_le, IMS__NDURATION);
  put_histogram(o, "imgstream_inference_seconds",
                "Inference and top-K, per image.", &n->inference,
                ims__duration_le, IMS__NDURATION);
  family(o, "imgstream_last_committed_batch", "gauge",
         "Id of the last committed batch (-1: none yet).");
  put(o, "imgstream_last_committed_batch %" PRId64 "\n", n->last_batch);
  if (n->backlog >= 0) {
    family(o, "imgstream_backlog_images", "gauge",
           "Images waiting: seen in the bucket and not yet taken into a "
           "batch, or (NATS) the consumer's messages not yet delivered "
           "to any worker.");
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

/* ---- 2. process_* (Linux /proc) ---- */

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
  ims__numbers n;
  pthread_mutex_lock(&m->lock);
  n = m->n;
  char *path = ims__dup_or_empty(m->model_path), *fmt = ims__dup_or_empty(m->model_format),
       *sha = ims__dup_or_empty(m->model_fingerprint);
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
