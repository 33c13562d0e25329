/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_nats.c - the broker's own cost per image for imgstream's
 * scale-out over NATS JetStream (docs/NATS.md), with a no-op classifier.
 * docs/SCALING.md turns its figures into "how many workers can one
 * server feed". bench/bench_nats.sh starts the servers and runs it.
 *
 *   bench_nats --url nats://127.0.0.1:PORT[,...] [--count N] [--size BYTES]
 *              [--image FILE] [--batch 1,16,64] [--workers 1,2]
 *              [--publishers LIST] [--replicas R] [--pids PID,PID,...]
 *              [--ack sync|async] [--results sync|async] [--iobuf BYTES]
 *              [--label TEXT]
 *
 * It starts no server. It (re)creates two streams the way docs/NATS.md
 * does: IMAGES (subjects IMAGES.>, file storage, limits retention, R
 * replicas) and RESULTS (subjects RESULTS.>, file storage, R replicas,
 * a 10-minute Nats-Msg-Id duplicate window). Then:
 *
 *   publish   for each --publishers P (default: the --workers list), a
 *             fresh IMAGES stream and N messages of --size bytes (--image
 *             cut or zero-padded to that size; a JPEG decoder ignores
 *             bytes after its end marker) to IMAGES.<category> with the
 *             producer's headers (Nats-Msg-Id, Imgstream-Key,
 *             Imgstream-Label, Content-Type, Imgstream-Upload-Time), by P
 *             threads with a connection each, every PubAck awaited before
 *             the next publish (P = 1 is `imgstream produce`; more stand
 *             for several producers); the last pass's stream stays;
 *   consume   for each --workers W and --batch B: a fresh durable pull
 *             consumer (explicit ack, ack wait 30 s, max deliver 5) and
 *             a fresh RESULTS stream; W threads, each with its own
 *             connection bound to the consumer, fetch B images per pull
 *             request, per image publish a ~230-byte JSON row (a jsonl:
 *             sink line) to RESULTS.<category> with Nats-Msg-Id = the
 *             image's id and await its PubAck, then ack the batch's
 *             images - the worker's protocol of docs/NATS.md with
 *             classification replaced by nothing (--ack sync: each ack
 *             awaits the server's reply, which a worker needs not do).
 *             --results async publishes the batch's results without
 *             waiting and then waits once for all their PubAcks (the same
 *             guarantee as awaiting each: nothing is acked before its
 *             result is stored) instead of one round trip per result.
 *
 * Reported per phase: wall time per image and images/s, the CPU time the
 * nats-server processes (--pids; utime + stime from /proc/PID/stat, all
 * threads, clock-tick resolution) spent per image - the broker's own
 * cost - summed over the servers and for the busiest one, and this
 * process's CPU per image (the client side of the protocol, which a real
 * worker pays on its own machine). "total" = publish with P = W (else
 * P = the first --publishers entry) + consume with W workers. After each
 * consume pass RESULTS must hold exactly N results (else exit 1).
 *
 * Not here: classification (bench_classify), the imgstream CLI (the
 * script's end-to-end part), starting or stopping servers.
 *
 * Sections: options, timing and /proc, streams, publish, workers, main.
 *
 * Threading: each pass runs its P publisher or W worker threads with one
 * connection each, sharing atomic counters and one mutex-guarded end
 * time; the main thread samples the clocks around them.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_LIST 8           /* entries of --batch, --workers, --pids */
#define STREAM_WAIT_MS 20000 /* a new cluster elects its leaders */
#define FETCH_WAIT_MS 500    /* pull request expiry */

/* ---- options ---- */

typedef struct options {
  const char *url;          /* --url: the servers */
  long count;               /* --count: images per pass */
  long size;                /* --size: bytes per image */
  const char *image;        /* --image: body source, NULL = pattern */
  int batch[MAX_LIST];      /* --batch: images per pull request */
  int nbatch;               /* entries of batch */
  int workers[MAX_LIST];    /* --workers: consumer threads */
  int nworkers;             /* entries of workers */
  int publishers[MAX_LIST]; /* --publishers: publishing threads */
  int npublishers;          /* entries of publishers (0: = workers) */
  int replicas;             /* --replicas: both streams */
  long pids[MAX_LIST];      /* --pids: nats-server processes */
  int npids;                /* entries of pids */
  int ack_sync;             /* --ack sync: wait for each ack's reply */
  int results_async;        /* --results async: one wait per batch */
  long iobuf;               /* --iobuf: client socket buffer, 0 = nats.c's */
  const char *label;        /* --label: first column of every row */
} options;

static void usage(void) {
  fprintf(stderr,
          "usage: bench_nats --url nats://HOST:PORT[,...] [--count N]\n"
          "         [--size BYTES] [--image FILE] [--batch 1,16,64]\n"
          "         [--workers 1,2] [--publishers LIST] [--replicas R]\n"
          "         [--pids PID,...] [--ack sync|async]\n"
          "         [--results sync|async] [--iobuf BYTES]\n"
          "         [--label TEXT]\n");
  exit(2);
}

/* "1,16,64" -> up to MAX_LIST positive numbers; returns the count. */
static int parse_list(const char *s, long *out) {
  int n = 0;
  const char *p = s;
  while (*p != '\0' && n < MAX_LIST) {
    char *end = NULL;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (end == p || errno != 0 || v <= 0) usage();
    out[n++] = v;
    if (*end == ',') end++;
    else if (*end != '\0') usage();
    p = end;
  }
  if (n == 0 || *p != '\0') usage();
  return n;
}

static long parse_long(const char *s) {
  long v[MAX_LIST];
  if (parse_list(s, v) != 1) usage();
  return v[0];
}

static void parse_options(int argc, char **argv, options *o) {
  long v[MAX_LIST];
  *o = (options){NULL, 5000, 51200, NULL, {1, 16, 64}, 3, {1, 2}, 2,
                 {0}, 0, 1, {0}, 0, 0, 0, 0, "local"};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (val == NULL) usage();
    i++;
    if (strcmp(a, "--url") == 0) o->url = val;
    else if (strcmp(a, "--count") == 0) o->count = parse_long(val);
    else if (strcmp(a, "--size") == 0) o->size = parse_long(val);
    else if (strcmp(a, "--image") == 0) o->image = val;
    else if (strcmp(a, "--replicas") == 0) o->replicas = (int)parse_long(val);
    else if (strcmp(a, "--label") == 0) o->label = val;
    else if (strcmp(a, "--ack") == 0) o->ack_sync = strcmp(val, "sync") == 0;
    else if (strcmp(a, "--iobuf") == 0) o->iobuf = parse_long(val);
    else if (strcmp(a, "--results") == 0)
      o->results_async = strcmp(val, "async") == 0;
    else if (strcmp(a, "--batch") == 0) {
      o->nbatch = parse_list(val, v);
      for (int k = 0; k < o->nbatch; k++) o->batch[k] = (int)v[k];
    } else if (strcmp(a, "--workers") == 0) {
      o->nworkers = parse_list(val, v);
      for (int k = 0; k < o->nworkers; k++) o->workers[k] = (int)v[k];
    } else if (strcmp(a, "--publishers") == 0) {
      o->npublishers = parse_list(val, v);
      for (int k = 0; k < o->npublishers; k++) o->publishers[k] = (int)v[k];
    } else if (strcmp(a, "--pids") == 0) {
      o->npids = parse_list(val, o->pids);
    } else usage();
  }
  if (o->url == NULL) usage();
  if (o->npublishers == 0) {
    o->npublishers = o->nworkers;
    memcpy(o->publishers, o->workers, sizeof o->workers);
  }
}

/* ---- timing and /proc ---- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds (user + system, every thread) of process `pid`, or -1. */
static double proc_cpu_s(long pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* Fields after the ")" closing the command name: state is field 3,
     utime field 14, stime field 15. */
  const char *p = strrchr(buf, ')');
  unsigned long long ut = 0, st = 0;
  if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
                                 "%*u %*u %llu %llu", &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* What a phase is measured from: wall clock, each server's CPU, ours. */
typedef struct sample {
  double wall;             /* monotonic seconds */
  double server[MAX_LIST]; /* CPU seconds per --pids entry */
  double self;             /* this process's CPU seconds */
} sample;

static void take_sample(const options *o, sample *s) {
  s->wall = now_s();
  for (int i = 0; i < o->npids; i++) s->server[i] = proc_cpu_s(o->pids[i]);
  s->self = self_cpu_s();
}

/* One result row of the report (a phase between two samples). */
typedef struct figures {
  double wall_us;             /* wall time per image */
  double server_us[MAX_LIST]; /* each server's CPU per image (-1: none) */
  int nservers;               /* entries of server_us */
  double client_us;           /* this process's CPU per image */
} figures;

static figures measure(const options *o, const sample *a, const sample *b,
                       double wall_end) {
  figures f = {(wall_end - a->wall) * 1e6 / (double)o->count, {0},
               o->npids, (b->self - a->self) * 1e6 / (double)o->count};
  for (int i = 0; i < o->npids; i++) {
    int ok = a->server[i] >= 0 && b->server[i] >= 0;
    f.server_us[i] =
        ok ? (b->server[i] - a->server[i]) * 1e6 / (double)o->count : -1;
  }
  return f;
}

/* Publish + consume: per-image figures add up. */
static figures add_figures(figures x, figures y) {
  figures t = x;
  t.wall_us += y.wall_us;
  t.client_us += y.client_us;
  for (int i = 0; i < t.nservers; i++) {
    int ok = x.server_us[i] >= 0 && y.server_us[i] >= 0;
    t.server_us[i] = ok ? x.server_us[i] + y.server_us[i] : -1;
  }
  return t;
}

static void print_header(void) {
  printf("| setup | phase | workers | batch | images/s | wall us/image | "
         "server CPU us/image (all) | busiest server | client CPU "
         "us/image |\n"
         "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
}

static void print_row(const options *o, const char *phase, int workers,
                      int batch, figures f) {
  char w[16] = "-", b[16] = "-", s[32] = "n/a", m[32] = "n/a";
  double sum = 0, max = -1;
  int ok = f.nservers > 0;
  for (int i = 0; i < f.nservers; i++) {
    if (f.server_us[i] < 0) ok = 0;
    sum += f.server_us[i];
    if (f.server_us[i] > max) max = f.server_us[i];
  }
  if (workers > 0) snprintf(w, sizeof w, "%d", workers);
  if (batch > 0) snprintf(b, sizeof b, "%d", batch);
  if (ok) snprintf(s, sizeof s, "%.0f", sum);
  if (ok) snprintf(m, sizeof m, "%.0f", max);
  printf("| %s | %s | %s | %s | %.0f | %.0f | %s | %s | %.0f |\n", o->label,
         phase, w, b, 1e6 / f.wall_us, f.wall_us, s, m, f.client_us);
  fflush(stdout);
}

/* ---- streams ---- */

static void die_status(const char *what, natsStatus s, jsErrCode jerr) {
  fprintf(stderr, "bench_nats: %s: %s (JetStream error %d)\n", what,
          natsStatus_GetText(s), (int)jerr);
  nats_PrintLastErrorStack(stderr);
  exit(1);
}

/* Delete `name` if present, then create it; retries while a new cluster
   has no JetStream leader yet. */
static void recreate_stream(jsCtx *js, const options *o, const char *name,
                            int64_t dup_window_ns) {
  char subject[64];
  const char *subjects[1] = {subject};
  jsStreamConfig cfg;
  jsErrCode jerr = 0;
  natsStatus s = NATS_OK;
  snprintf(subject, sizeof subject, "%s.>", name);
  jsStreamConfig_Init(&cfg);
  cfg.Name = name;
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Retention = js_LimitsPolicy;
  cfg.Replicas = o->replicas;
  cfg.Duplicates = dup_window_ns;
  js_DeleteStream(js, name, NULL, NULL);
  for (double until = now_s() + STREAM_WAIT_MS / 1e3;;) {
    jsStreamInfo *si = NULL;
    s = js_AddStream(&si, js, &cfg, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    if (s == NATS_OK || now_s() > until) break;
    nats_Sleep(250);
  }
  if (s != NATS_OK) die_status(name, s, jerr);
}

static uint64_t stream_msgs(jsCtx *js, const char *name) {
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  natsStatus s = js_GetStreamInfo(&si, js, name, NULL, &jerr);
  if (s != NATS_OK) die_status(name, s, jerr);
  uint64_t n = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  return n;
}

/* Async publish failures land here (closure: an atomic_long counter). */
static void count_async_error(jsCtx *js, jsPubAckErr *pae, void *closure) {
  (void)js;
  fprintf(stderr, "bench_nats: async publish: %s\n",
          pae->ErrText != NULL ? pae->ErrText : natsStatus_GetText(pae->Err));
  atomic_fetch_add((atomic_long *)closure, 1);
}

/* errors: where failed async publishes are counted, or NULL. */
static void connect_js(const options *o, natsConnection **nc, jsCtx **js,
                       atomic_long *errors) {
  jsOptions jo;
  natsOptions *no = NULL;
  char urls[1024], *save = NULL;
  const char *list[MAX_LIST];
  int n = 0;
  snprintf(urls, sizeof urls, "%s", o->url);
  for (char *u = strtok_r(urls, ",", &save); u != NULL && n < MAX_LIST;
       u = strtok_r(NULL, ",", &save))
    list[n++] = u;
  natsStatus s = natsOptions_Create(&no);
  /* Randomized order, as natsConnection_ConnectTo: clients spread over
     the cluster's servers. */
  if (s == NATS_OK) s = natsOptions_SetServers(no, list, n);
  if (s == NATS_OK && o->iobuf > 0)
    s = natsOptions_SetIOBufSize(no, (int)o->iobuf);
  if (s == NATS_OK) s = natsConnection_Connect(nc, no);
  natsOptions_Destroy(no);
  if (s != NATS_OK) die_status(o->url, s, 0);
  jsOptions_Init(&jo);
  jo.Wait = 10000;
  if (errors != NULL) {
    jo.PublishAsync.ErrHandler = count_async_error;
    jo.PublishAsync.ErrHandlerClosure = errors;
  }
  s = natsConnection_JetStream(js, *nc, &jo);
  if (s != NATS_OK) die_status("JetStream context", s, 0);
}

/* ---- publish ---- */

static const char *const categories[] = {"daisy", "dandelion", "rose",
                                          "sunflower", "tulip"};

/* The body: --image cut or zero-padded to --size, else a byte pattern. */
static unsigned char *load_body(const options *o) {
  unsigned char *body = calloc(1, (size_t)o->size);
  if (body == NULL) exit(1);
  if (o->image == NULL) {
    for (long i = 0; i < o->size; i++) body[i] = (unsigned char)(i * 131);
    return body;
  }
  FILE *f = fopen(o->image, "rb");
  if (f == NULL) {
    fprintf(stderr, "bench_nats: %s: %s\n", o->image, strerror(errno));
    exit(1);
  }
  size_t got = fread(body, 1, (size_t)o->size, f);
  fclose(f);
  if (got == 0) exit(1);
  return body;
}

static void iso8601_now(char *buf, size_t n) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + k, n - k, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Publish image `i` the producer's way and wait for its PubAck. */
static void publish_image(jsCtx *js, const options *o,
                          const unsigned char *body, long i) {
  const char *cat = categories[i % 5];
  char subject[64], key[96], when[40];
  natsMsg *m = NULL;
  jsPubAck *pa = NULL;
  jsErrCode jerr = 0;
  snprintf(subject, sizeof subject, "IMAGES.%s", cat);
  snprintf(key, sizeof key, "%s/image%06ld.jpg", cat, i);
  iso8601_now(when, sizeof when);
  natsStatus s = natsMsg_Create(&m, subject, NULL, (const char *)body,
                                (int)o->size);
  if (s == NATS_OK) s = natsMsgHeader_Set(m, "Nats-Msg-Id", key);
  if (s == NATS_OK) s = natsMsgHeader_Set(m, "Imgstream-Key", key);
  if (s == NATS_OK) s = natsMsgHeader_Set(m, "Imgstream-Label", cat);
  if (s == NATS_OK) s = natsMsgHeader_Set(m, "Content-Type", "image/jpeg");
  if (s == NATS_OK) s = natsMsgHeader_Set(m, "Imgstream-Upload-Time", when);
  if (s == NATS_OK) s = js_PublishMsg(&pa, js, m, NULL, &jerr);
  if (s != NATS_OK) die_status("publish image", s, jerr);
  if (pa->Duplicate) {
    fprintf(stderr, "bench_nats: %s stored twice?\n", key);
    exit(1);
  }
  jsPubAck_Destroy(pa);
  natsMsg_Destroy(m);
}

/* One publish pass, shared by its publisher threads. */
typedef struct pub_pass {
  const options *o;          /* the run's options */
  const unsigned char *body; /* the image bytes */
  int threads;               /* publishers */
  atomic_int next;           /* thread index handed out */
  atomic_int ready;          /* publishers connected */
  atomic_int go;             /* set once the start sample is taken */
} pub_pass;

/* Thread t publishes images t, t + P, t + 2P, ... */
static void *publisher_main(void *arg) {
  pub_pass *p = arg;
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  long t = atomic_fetch_add(&p->next, 1);
  connect_js(p->o, &nc, &js, NULL);
  atomic_fetch_add(&p->ready, 1);
  while (!atomic_load(&p->go)) nats_Sleep(1);
  for (long i = t; i < p->o->count; i += p->threads)
    publish_image(js, p->o, p->body, i);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return NULL;
}

/* A fresh IMAGES stream filled by `threads` publishers. */
static figures publish_pass(jsCtx *js, const options *o,
                            const unsigned char *body, int threads) {
  pthread_t th[MAX_LIST];
  sample a, b;
  pub_pass p = {.o = o, .body = body, .threads = threads};
  recreate_stream(js, o, "IMAGES", 0);
  for (int i = 0; i < threads; i++)
    pthread_create(&th[i], NULL, publisher_main, &p);
  while (atomic_load(&p.ready) < threads) nats_Sleep(1);
  take_sample(o, &a);
  atomic_store(&p.go, 1);
  for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
  take_sample(o, &b);
  if (stream_msgs(js, "IMAGES") != (uint64_t)o->count) {
    fprintf(stderr, "bench_nats: IMAGES lacks images\n");
    exit(1);
  }
  return measure(o, &a, &b, b.wall);
}

/* ---- workers ---- */

/* One consume pass, shared by its worker threads. */
typedef struct pass {
  const options *o;     /* the run's options */
  const char *durable;  /* consumer name */
  int batch;            /* images per fetch */
  atomic_long done;     /* images acked so far */
  atomic_int ready;     /* workers subscribed */
  atomic_int go;        /* set once the start sample is taken */
  atomic_long errors;   /* failed async result publishes */
  pthread_mutex_t lock; /* guards end */
  double end;           /* latest "my last ack is on the wire" time */
} pass;

/* The no-op classifier's row for `img`: what the jsonl: sink writes
   (~230 bytes), to RESULTS.<label> with the image's Nats-Msg-Id. */
static natsMsg *result_msg(natsMsg *img, long seq) {
  const char *id = NULL, *label = NULL, *up = NULL;
  char subject[64], json[512], when[40];
  natsMsg *m = NULL;
  natsMsgHeader_Get(img, "Nats-Msg-Id", &id);
  natsMsgHeader_Get(img, "Imgstream-Label", &label);
  natsMsgHeader_Get(img, "Imgstream-Upload-Time", &up);
  if (id == NULL || label == NULL || up == NULL) exit(1);
  iso8601_now(when, sizeof when);
  snprintf(subject, sizeof subject, "RESULTS.%s", label);
  int n = snprintf(json, sizeof json,
                   "{\"batch\":%ld,\"path\":\"%s\",\"label\":\"%s\","
                   "\"prediction\":{\"class\":\"n11939491\",\"desc\":"
                   "\"daisy\",\"score\":0.9883},\"processing_time\":\"%s\","
                   "\"event_time\":\"%s\",\"latency_ms\":11}",
                   seq, id, label, when, up);
  natsStatus s = natsMsg_Create(&m, subject, NULL, json, n);
  if (s == NATS_OK) s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
  if (s != NATS_OK) die_status("result message", s, 0);
  return m;
}

/* Store every result of the batch: one PubAck awaited per result, or
   (--results async) all published, then all PubAcks awaited at once. */
static void publish_results(pass *p, jsCtx *js, natsMsgList *list) {
  long seq = atomic_load(&p->done);
  jsErrCode jerr = 0;
  natsStatus s = NATS_OK;
  for (int i = 0; i < list->Count && s == NATS_OK; i++) {
    natsMsg *m = result_msg(list->Msgs[i], seq);
    jsPubAck *pa = NULL;
    if (p->o->results_async) {
      s = js_PublishMsgAsync(js, &m, NULL);
    } else {
      s = js_PublishMsg(&pa, js, m, NULL, &jerr);
      if (s == NATS_OK && pa->Duplicate) exit(1);
    }
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(m);
  }
  if (s == NATS_OK && p->o->results_async) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 10000;
    s = js_PublishAsyncComplete(js, &po);
    if (s == NATS_OK && atomic_load(&p->errors) > 0) s = NATS_ERR;
  }
  if (s != NATS_OK) die_status("publish result", s, jerr);
}

/* Fetch, publish results, ack: until the pass has every image. */
static void *worker_main(void *arg) {
  pass *p = arg;
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  natsSubscription *sub = NULL;
  jsSubOptions so;
  jsErrCode jerr = 0;
  double last = 0;
  connect_js(p->o, &nc, &js, &p->errors);
  jsSubOptions_Init(&so);
  so.Stream = "IMAGES";
  so.Consumer = p->durable;
  natsStatus s = js_PullSubscribe(&sub, js, "IMAGES.>", p->durable, NULL,
                                  &so, &jerr);
  if (s != NATS_OK) die_status("pull subscribe", s, jerr);
  atomic_fetch_add(&p->ready, 1);
  while (!atomic_load(&p->go)) nats_Sleep(1);
  while (atomic_load(&p->done) < p->o->count) {
    natsMsgList list = {0};
    s = natsSubscription_Fetch(&list, sub, p->batch, FETCH_WAIT_MS, &jerr);
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK) die_status("fetch", s, jerr);
    publish_results(p, js, &list);
    for (int i = 0; i < list.Count; i++) {
      s = p->o->ack_sync ? natsMsg_AckSync(list.Msgs[i], NULL, &jerr)
                         : natsMsg_Ack(list.Msgs[i], NULL);
      if (s != NATS_OK) die_status("ack", s, jerr);
    }
    long total = atomic_fetch_add(&p->done, list.Count) + list.Count;
    natsMsgList_Destroy(&list);
    /* Acks are fire-and-forget: the next pull request follows them on
       the wire; the worker that finishes flushes so its own have been
       read by the server before the clock stops. */
    if (total >= p->o->count) natsConnection_Flush(nc);
    last = now_s();
  }
  pthread_mutex_lock(&p->lock);
  if (last > p->end) p->end = last;
  pthread_mutex_unlock(&p->lock);
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return NULL;
}

static void add_consumer(jsCtx *js, const char *durable) {
  jsConsumerConfig cc;
  jsConsumerInfo *ci = NULL;
  jsErrCode jerr = 0;
  jsConsumerConfig_Init(&cc);
  cc.Durable = durable;
  cc.AckPolicy = js_AckExplicit;
  cc.DeliverPolicy = js_DeliverAll;
  cc.AckWait = (int64_t)30 * 1000000000;
  cc.MaxDeliver = 5;
  cc.FilterSubject = "IMAGES.>";
  natsStatus s = js_AddConsumer(&ci, js, "IMAGES", &cc, NULL, &jerr);
  if (s != NATS_OK) die_status("add consumer", s, jerr);
  jsConsumerInfo_Destroy(ci);
}

/* One consume pass: fresh consumer and RESULTS, W workers, batch B. */
static figures consume_pass(jsCtx *js, const options *o, int workers,
                            int batch) {
  char durable[32];
  pthread_t th[MAX_LIST];
  sample a, b;
  pass p = {.o = o, .durable = durable, .batch = batch};
  snprintf(durable, sizeof durable, "bench-w%d-b%d", workers, batch);
  pthread_mutex_init(&p.lock, NULL);
  recreate_stream(js, o, "RESULTS", (int64_t)600 * 1000000000);
  js_DeleteConsumer(js, "IMAGES", durable, NULL, NULL);
  add_consumer(js, durable);
  for (int i = 0; i < workers; i++)
    pthread_create(&th[i], NULL, worker_main, &p);
  while (atomic_load(&p.ready) < workers) nats_Sleep(1);
  take_sample(o, &a);
  atomic_store(&p.go, 1);
  for (int i = 0; i < workers; i++) pthread_join(th[i], NULL);
  take_sample(o, &b);
  uint64_t got = stream_msgs(js, "RESULTS");
  if (got != (uint64_t)o->count) {
    fprintf(stderr, "bench_nats: RESULTS holds %" PRIu64 " of %ld\n", got,
            o->count);
    exit(1);
  }
  pthread_mutex_destroy(&p.lock);
  return measure(o, &a, &b, p.end);
}

/* ---- main ---- */

int main(int argc, char **argv) {
  options o;
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  figures pub[MAX_LIST];
  parse_options(argc, argv, &o);
  unsigned char *body = load_body(&o);
  connect_js(&o, &nc, &js, NULL);
  print_header();
  for (int k = 0; k < o.npublishers; k++) {
    pub[k] = publish_pass(js, &o, body, o.publishers[k]);
    print_row(&o, "publish", o.publishers[k], 0, pub[k]);
  }
  for (int w = 0; w < o.nworkers; w++) {
    int pk = 0; /* the publish pass paired with W workers in "total" */
    for (int k = 0; k < o.npublishers; k++)
      if (o.publishers[k] == o.workers[w]) pk = k;
    for (int k = 0; k < o.nbatch; k++) {
      figures c = consume_pass(js, &o, o.workers[w], o.batch[k]);
      print_row(&o, "consume", o.workers[w], o.batch[k], c);
      print_row(&o, "total", o.workers[w], o.batch[k],
                add_figures(pub[pk], c));
    }
  }
  printf("\n%ld images of %ld bytes per pass, replicas %d, acks %s, "
         "results %s; publish: workers = publishing threads\n",
         o.count, o.size, o.replicas, o.ack_sync ? "sync" : "async",
         o.results_async ? "async (one wait per batch)" : "sync");
  js_DeleteStream(js, "RESULTS", NULL, NULL);
  js_DeleteStream(js, "IMAGES", NULL, NULL);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  free(body);
  nats_Close();
  return 0;
}
