/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_stream.c - `imgstream stream`: the stream classifier. Watches a
 * bucket, classifies each new image once, in arrival order, in
 * micro-batches, and writes label / prediction / processing time rows to
 * the sinks (console table by default), with a checkpoint for
 * exactly-once results across crashes (libimgstream's ims_stream).
 *
 * SIGINT/SIGTERM: the handler only calls ims_stream_stop (async-signal-
 * safe); the batch in flight is finished and committed, then exit 0.
 *
 * Not here: anything of the engine; model lookup is locate.c.
 *
 * Sections: 1. options  2. setup  3. signals and progress  4. entry point
 *
 * Threading: main thread; the classifier runs on its own pools.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"
#include "imgstream/imgstream.h"
#include "imgstream/nats.h"
#include "imgstream/stream.h"

/* ---- 1. options ---- */

enum {
  OPT_ACK_WAIT = 256, OPT_CHECKPOINT, OPT_COMPACT, OPT_CONSUMER,
  OPT_DEAD_LETTER, OPT_DUP_WINDOW, OPT_MAX_BATCHES, OPT_MAX_DELIVER,
  OPT_MAX_FILES, OPT_POLL, OPT_PROGRESS, OPT_REPLICAS, OPT_SINK, OPT_SOURCE,
  OPT_TRIGGER, OPT_UNTIL_IDLE, OPT_LEARN, OPT_MAX_CLASSES, OPT_FEATURE_LAYER,
  OPT_LEARN_STREAM, OPT_HTTP
};

/* Long options. MUST stay alphasorted by name. */
static const struct option long_options[] = {
    {"ack-wait", required_argument, NULL, OPT_ACK_WAIT},
    {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
    {"compact-interval", required_argument, NULL, OPT_COMPACT},
    CLI_CONFIG_LONG_OPTION,
    {"consumer", required_argument, NULL, OPT_CONSUMER},
    {"crop", required_argument, NULL, CLI_OPT_CROP},
    {"dead-letter", required_argument, NULL, OPT_DEAD_LETTER},
    {"dup-window", required_argument, NULL, OPT_DUP_WINDOW},
    {"feature-layer", required_argument, NULL, OPT_FEATURE_LAYER},
    {"http", required_argument, NULL, OPT_HTTP},
    {"learn", required_argument, NULL, OPT_LEARN},
    {"learn-stream", required_argument, NULL, OPT_LEARN_STREAM},
    {"max-classes", required_argument, NULL, OPT_MAX_CLASSES},
    {"help", no_argument, NULL, 'h'},
    {"labels", required_argument, NULL, 'l'},
    CLI_LIMIT_BATCH_BYTES,
    {"max-batches", required_argument, NULL, OPT_MAX_BATCHES},
    {"max-deliver", required_argument, NULL, OPT_MAX_DELIVER},
    CLI_LIMIT_FILE_BYTES,
    {"max-files-per-trigger", required_argument, NULL, OPT_MAX_FILES},
    CLI_LIMIT_MODEL_BYTES,
    CLI_LIMIT_OPERATORS,
    CLI_LIMIT_PIXELS,
    CLI_LIMIT_TENSORS,
    {"mean", required_argument, NULL, CLI_OPT_MEAN},
    {"model", required_argument, NULL, 'm'},
    CLI_NATS_LONG_OPTIONS,
    {"poll-interval", required_argument, NULL, OPT_POLL},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"replicas", required_argument, NULL, OPT_REPLICAS},
    CLI_S3_LONG_OPTIONS,
    {"resize", required_argument, NULL, CLI_OPT_RESIZE},
    {"sink", required_argument, NULL, OPT_SINK},
    {"source", required_argument, NULL, OPT_SOURCE},
    {"std", required_argument, NULL, CLI_OPT_STD},
    {"threads", required_argument, NULL, 't'},
    {"trigger-interval", required_argument, NULL, OPT_TRIGGER},
    {"until-idle", required_argument, NULL, OPT_UNTIL_IDLE},
    {"verbose", no_argument, NULL, 'v'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0}};

#define SHORT_OPTIONS ":hl:m:t:v"
const cli_options cli_stream_options = {long_options, SHORT_OPTIONS};

#define MAX_SINKS 8

typedef struct stream_opts {
  const char *source;          /* --source URL */
  const char *model;           /* --model, NULL = default */
  const char *labels;          /* --labels, NULL = next to the model */
  const char *checkpoint;      /* --checkpoint DIR */
  const char *dead_letter;     /* --dead-letter FILE */
  const char *progress;        /* --progress FILE */
  const char *learn;           /* --learn HEAD */
  const char *learn_stream;    /* --learn-stream NAME (nats://) */
  const char *http;            /* --http [HOST:]PORT */
  const char *feature_layer;   /* --feature-layer NAME */
  uint64_t max_classes;        /* --max-classes, 0 = default */
  const char *sinks[MAX_SINKS];/* --sink SPEC, in order */
  size_t nsinks;               /* entries in sinks */
  uint64_t max_files;          /* --max-files-per-trigger */
  uint64_t trigger_ms;         /* --trigger-interval */
  uint64_t threads;            /* --threads, 0 = all cores */
  uint64_t max_batches;        /* --max-batches, 0 = no limit */
  uint64_t until_idle_ms;      /* --until-idle, 0 = never */
  uint64_t compact;            /* --compact-interval, 0 = default */
  uint64_t poll_ms;            /* --poll-interval, 0 = default */
  bool verbose;                /* -v: progress records on stderr */
  bool help, version;          /* --help, --version */
  cli_model_opts fit;          /* --resize, --crop, --mean, --std */
  ims_nats_options nats;       /* --nats-* */
  ims_nats_consumer_options consumer; /* --consumer, --ack-wait,
                                         --max-deliver */
  ims_nats_stream_config jets; /* --replicas, --dup-window */
  ims_s3_options s3;           /* --s3-* */
  ims_limits limits;           /* --max-pixels, --max-*-bytes, ... */
} stream_opts;

static void usage(FILE *out) {
  fprintf(out,
      "usage: imgstream stream --source dir://BUCKET [options]\n"
      "       imgstream stream --source s3://BUCKET[/PREFIX] [options]\n"
      "       imgstream stream --source nats://HOST:PORT/STREAM [options]\n\n"
      "Classify each new image of a bucket once, in arrival order, in\n"
      "micro-batches (like the user's Spark Structured Streaming job),\n"
      "and write label, prediction and processing time rows to sinks.\n\n"
      "options:\n"
      "      --source URL             bucket to read (dir://PATH or\n"
      "                               s3://BUCKET[/PREFIX]), or a JetStream\n"
      "                               stream to share with other workers\n"
      "                               (nats://HOST:PORT/STREAM)\n"
      "      --poll-interval MS       list the bucket for new images at\n"
      "                               least every MS when idle (default\n"
      "                               1000; dir:// also wakes on inotify)\n"
      "  -m, --model FILE             TFLite or ONNX model (default %s,\n"
      "                               found as for 'imgstream classify')\n"
      "  -l, --labels FILE            class labels (default: next to the "
      "model)\n"
      "      --max-files-per-trigger N  images per micro-batch (default 1)\n"
      "      --http [HOST:]PORT       serve a live page (/), /metrics\n"
      "                               (Prometheus), /healthz, /readyz,\n"
      "                               /events and /api/* (docs/METRICS.md);\n"
      "                               HOST defaults to 127.0.0.1 (0.0.0.0:\n"
      "                               all interfaces); PORT 0 = any free one\n"
      "      --learn HEAD             learn the labels (category folders)\n"
      "                               as they stream: each row also gets\n"
      "                               the learned head's prediction, made\n"
      "                               before its own label is learned.\n"
      "                               HEAD is loaded if it exists, else\n"
      "                               created; saved atomically (with a\n"
      "                               checkpoint, its state commits with\n"
      "                               each batch: docs/LEARNING.md)\n"
      "      --learn-stream NAME      nats:// workers share what they learn\n"
      "                               through this JetStream stream\n"
      "                               (default STREAM_LEARN)\n"
      "      --max-classes N          most classes the head learns "
      "(default\n"
      "                               1000); a row with a new label over\n"
      "                               it is an error row\n"
      "      --feature-layer NAME     tensor the head learns from "
      "(default:\n"
      "                               the final classifier layer's input)\n"
      "      --trigger-interval MS    0 (default): a batch as soon as "
      "images\n"
      "                               land; else at most one batch per MS\n"
      "      --checkpoint DIR         write-ahead log and commits: a "
      "restart\n"
      "                               neither loses nor repeats an image\n"
      "      --compact-interval N     snapshot the checkpoint every N "
      "batches\n"
      "                               (at least; default 100)\n"
      "      --sink SPEC              console (default), jsonl:FILE,\n"
      "                               csv:FILE or nats://HOST:PORT/RESULTS\n"
      "                               (one result per image, de-duplicated\n"
      "                               by JetStream); repeat for several\n"
      "      --dead-letter FILE       one JSON line per image that failed\n"
      "      --progress FILE          one JSON progress record per batch\n"
      "  -v, --verbose                progress records on stderr\n"
      "  -t, --threads N              decode/inference threads (default: "
      "all)\n"
      "      --max-batches N          stop after N batches\n"
      "      --until-idle MS          stop when nothing new came for MS\n"
      "      --config FILE            read options from FILE, 'key = value'\n"
      "                               lines (a long option without --);\n"
      "                               the command line wins\n"
      "  -h, --help                   show this help\n"
      "      --version                show the version\n"
      "fitting images to the model (TFLite and ONNX alike):\n"
      CLI_MODEL_HELP
      "with a nats:// source (docs/NATS.md):\n"
      "      --consumer NAME          durable consumer the workers share\n"
      "                               (default imgstream)\n"
      "      --ack-wait MS            redeliver an image not acked after MS\n"
      "                               (default 30000)\n"
      "      --max-deliver N          deliveries per image (default 5)\n"
      "      --replicas N             replicas of streams created (default "
      "1)\n"
      "      --dup-window MS          de-duplication window of a results\n"
      "                               stream created (default 600000)\n"
      CLI_NATS_HELP CLI_S3_HELP "\n"
      CLI_LIMITS_HELP
      "      --max-pixels N           refuse larger images (default "
      "100000000)\n\n"
      "SIGINT or SIGTERM finishes and commits the batch in flight, then\n"
      "exits 0. An image that cannot be decoded gives a row with an error\n"
      "(and a dead-letter line); the stream goes on.\n"
      "exit codes: 0 ok, 1 the stream stopped on an error (sink, "
      "checkpoint\n"
      "            or bucket), 2 usage error, 3 model, labels or learned\n"
      "            head unusable,\n"
      "            4 output not written\n",
      CLI_DEFAULT_MODEL);
}

static int add_sink(stream_opts *o, const char *spec) {
  if (o->nsinks == MAX_SINKS) {
    fprintf(stderr, "imgstream stream: at most %d sinks\n", MAX_SINKS);
    return -1;
  }
  o->sinks[o->nsinks++] = spec;
  return 0;
}

/* --NAME's value (optarg) as a number in [min, max] into *out. */
static int parse_u32(const char *name, uint32_t min, uint32_t max,
                     uint32_t *out) {
  uint64_t v = 0;
  int rc = cli_parse_u64("stream", name, optarg, min, max, &v);
  *out = (uint32_t)v;
  return rc;
}

static int apply_option(stream_opts *o, int c, char **argv) {
  switch (c) {
    case OPT_ACK_WAIT: return parse_u32("ack-wait", 1, 86400000,
                                        &o->consumer.ack_wait_ms);
    case OPT_CONSUMER: o->consumer.name = optarg; return 0;
    case OPT_DUP_WINDOW: {
      uint32_t v = 0;
      int rc = parse_u32("dup-window", 1000, 86400000, &v);
      o->jets.duplicate_window_ms = v;
      return rc;
    }
    case OPT_MAX_DELIVER: return parse_u32("max-deliver", 1, 1000,
                                           &o->consumer.max_deliver);
    case OPT_REPLICAS: return parse_u32("replicas", 1, 5, &o->jets.replicas);
    case OPT_CHECKPOINT: o->checkpoint = optarg; return 0;
    case OPT_COMPACT:
      return cli_parse_u64("stream", "compact-interval", optarg, 1,
                           UINT32_MAX - 1, &o->compact);
    case OPT_DEAD_LETTER: o->dead_letter = optarg; return 0;
    case OPT_FEATURE_LAYER: o->feature_layer = optarg; return 0;
    case OPT_LEARN: o->learn = optarg; return 0;
    case OPT_LEARN_STREAM: o->learn_stream = optarg; return 0;
    case OPT_HTTP: o->http = optarg; return 0;
    case OPT_MAX_CLASSES:
      return cli_parse_u64("stream", "max-classes", optarg, 1, 1000000,
                           &o->max_classes);
    case 'h': o->help = true; return 0;
    case 'l': o->labels = optarg; return 0;
    case OPT_MAX_BATCHES:
      return cli_parse_u64("stream", "max-batches", optarg, 1, UINT64_MAX / 2,
                           &o->max_batches);
    case OPT_MAX_FILES:
      return cli_parse_u64("stream", "max-files-per-trigger", optarg, 1, 4096,
                           &o->max_files);
    case 'm': o->model = optarg; return 0;
    case CLI_OPT_CONFIG: return 0; /* read by main.c (config.c) */
    case OPT_POLL:
      return cli_parse_u64("stream", "poll-interval", optarg, 1, 3600000,
                           &o->poll_ms);
    case OPT_PROGRESS: o->progress = optarg; return 0;
    case OPT_SINK: return add_sink(o, optarg);
    case OPT_SOURCE: o->source = optarg; return 0;
    case 't':
      return cli_parse_u64("stream", "threads", optarg, 1, 1024,
                           &o->threads);
    case OPT_TRIGGER:
      return cli_parse_u64("stream", "trigger-interval", optarg, 0, 86400000,
                           &o->trigger_ms);
    case OPT_UNTIL_IDLE:
      return cli_parse_u64("stream", "until-idle", optarg, 1, 86400000,
                           &o->until_idle_ms);
    case 'v': o->verbose = true; return 0;
    case 'V': o->version = true; return 0;
    case ':':
      fprintf(stderr, "imgstream stream: %s needs a value\n",
              argv[optind - 1]);
      return -1;
    default: {
      int s3 = cli_s3_option("stream", &o->s3, c);
      if (s3 != 0) return s3 < 0 ? -1 : 0;
      if (cli_nats_option(&o->nats, c)) return 0;
      int r = cli_model_option("stream", &o->fit, c, optarg);
      if (r <= 0) return r; /* applied, or a bad value (printed) */
      int lim = cli_limits_option("stream", c, &o->limits);
      if (lim != 0) return lim > 0 ? 0 : -1;
      fprintf(stderr, "imgstream stream: unknown option '%s'; see "
                      "'imgstream stream --help'\n", argv[optind - 1]);
      return -1;
    }
  }
}

static int parse_options(const cli_config *cfg, stream_opts *o) {
  int argc = cfg->argc;
  char **argv = cfg->argv;
  memset(o, 0, sizeof *o);
  o->max_files = 1;
  optind = 1;
  opterr = 0;
  for (;;) {
    int c = getopt_long(argc, argv, SHORT_OPTIONS, long_options, NULL);
    if (c == -1) break;
    if (apply_option(o, c, argv) != 0) {
      cli_config_blame(cfg, argv[optind - 1]);
      return -1;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "imgstream stream: unexpected argument '%s'\n",
            argv[optind]);
    return -1;
  }
  if (o->nsinks == 0) o->sinks[o->nsinks++] = "console";
  return cli_model_opts_check("stream", &o->fit);
}

/* ---- 2. setup ---- */

/* Everything one run holds. */
typedef struct stream_ctx {
  ims_bucket *bucket;           /* the source: a bucket, */
  ims_nats *source_nats;        /* or a JetStream stream */
  ims_nats *learn_nats;         /* --learn with nats://: the samples */
  ims_nats *sink_nats[MAX_SINKS]; /* connections of nats:// sinks */
  ims_classifier *clf;          /* model + decoders + engine */
  ims_sink *sinks[MAX_SINKS + 1]; /* --sink ones, then the dead letter */
  size_t nsinks;                /* entries in sinks */
  ims_stream *stream;           /* the engine */
  ims_head *head;               /* --learn, or NULL */
  cli_http http;                /* --http, or zeroed */
  ims_metrics *metrics;         /* BORROWED from http: NULL without */
  FILE *progress;               /* --progress file, or NULL */
  bool verbose;                 /* -v */
} stream_ctx;

static int open_classifier(stream_ctx *c, const stream_opts *o) {
  char model[CLI_PATH_MAX], labels[CLI_PATH_MAX];
  int rc = cli_resolve_model(o->model, o->labels, model, labels);
  if (rc != 0) return rc;
  ims_classifier_options co;
  memset(&co, 0, sizeof co);
  co.model_path = model;
  co.labels_path = labels;
  co.threads = (uint32_t)o->threads;
  co.max_batch = (uint32_t)o->max_files;
  co.top_k = 1;
  cli_model_opts_apply(&o->fit, &co);
  if (o->learn != NULL) co.engine_flags |= IMS_ENGINE_FLAG_FEATURES;
  co.feature_layer = o->feature_layer;
  co.limits = &o->limits;
  ims_error err = {0};
  ims_status st = ims_classifier_create(&co, &c->clf, &err);
  if (st == IMS_ERR_INVALID_ARG) { /* --crop or --resize vs the model */
    fprintf(stderr, "imgstream stream: %s\n", err.message);
    return IMS_EXIT_USAGE;
  }
  if (st != IMS_OK) {
    fprintf(stderr, "imgstream: %s\n", err.message);
    return st == IMS_ERR_NO_MEMORY ? IMS_EXIT_FAILED : IMS_EXIT_MODEL;
  }
  if (c->metrics != NULL) { /* for imgstream_model_info */
    char id[IMS_MODEL_FINGERPRINT_SIZE];
    ims_model_info info;
    ims_model_get_info(ims_classifier_model(c->clf), &info);
    ims_model_fingerprint(ims_classifier_model(c->clf), id);
    ims_metrics_set_model(c->metrics, model, info.format, id);
  }
  if (o->learn == NULL) return 0;
  return cli_open_head("stream", o->learn, c->clf,
                       (uint32_t)o->max_classes, true, &c->head);
}

/* A nats:// sink: connect, create the results stream if absent. */
static int open_nats_sink(stream_ctx *c, const stream_opts *o, size_t i) {
  int rc = cli_nats_connect("stream", o->sinks[i], &o->nats,
                            &c->sink_nats[i]);
  if (rc != 0) return rc;
  ims_error err = {0};
  if (ims_nats_ensure_stream(c->sink_nats[i], &o->jets, &err) != IMS_OK ||
      ims_sink_open_nats(c->sink_nats[i], &c->sinks[i], &err) != IMS_OK) {
    fprintf(stderr, "imgstream stream: %s\n", err.message);
    return IMS_EXIT_FAILED;
  }
  c->nsinks = i + 1;
  return 0;
}

/* Open the --sink sinks and the dead-letter file. */
static int open_sinks(stream_ctx *c, const stream_opts *o) {
  uint32_t flags = o->checkpoint != NULL ? IMS_SINK_TRUNCATE_REPLAY : 0;
  if (o->learn != NULL) flags |= IMS_SINK_LEARNED;
  char spec[CLI_PATH_MAX + 16];
  ims_error err = {0};
  for (size_t i = 0; i <= o->nsinks; i++) {
    if (i == o->nsinks && o->dead_letter == NULL) break;
    if (i < o->nsinks && cli_is_nats_url(o->sinks[i])) {
      int rc = open_nats_sink(c, o, i);
      if (rc != 0) return rc;
      continue;
    }
    if (i < o->nsinks)
      snprintf(spec, sizeof spec, "%s", o->sinks[i]);
    else
      snprintf(spec, sizeof spec, "dead-letter:%s", o->dead_letter);
    ims_status st = ims_sink_open(spec, flags, NULL, &c->sinks[i], &err);
    if (st == IMS_ERR_INVALID_ARG && i < o->nsinks) {
      /* the library's list lacks NATS: ims_sink_open_nats opens those */
      fprintf(stderr, "imgstream stream: --sink '%s': want console, "
                      "jsonl:FILE, csv:FILE, dead-letter:FILE or "
                      "nats://HOST:PORT/RESULTS\n", spec);
      return IMS_EXIT_USAGE;
    }
    if (st != IMS_OK) {
      fprintf(stderr, "imgstream stream: %s\n", err.message);
      return st == IMS_ERR_INVALID_ARG ? IMS_EXIT_USAGE : IMS_EXIT_FAILED;
    }
    c->nsinks = i + 1;
  }
  return 0;
}

/* ---- 3. signals and progress ---- */

/* The engine the signal handler stops. Written only by the main thread
 * before the handlers are installed and after they are reset. */
static ims_stream *volatile running;

static void on_signal(int sig) {
  (void)sig;
  ims_stream *s = running;
  if (s != NULL) ims_stream_stop(s);
}

/* SIGINT/SIGTERM -> graceful stop (poll/wait calls are not restarted);
 * SIGPIPE ignored so a closed stdout is an error, not a silent death. */
static void set_signals(bool install) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = install ? on_signal : SIG_DFL;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = install ? SIG_IGN : SIG_DFL;
  sigaction(SIGPIPE, &sa, NULL);
}

static void on_progress(void *ctx, const char *json) {
  stream_ctx *c = ctx;
  if (c->progress != NULL) {
    fprintf(c->progress, "%s\n", json);
    fflush(c->progress);
  }
  if (c->verbose) fprintf(stderr, "%s\n", json);
}

/* ---- 4. entry point ---- */

/* --learn on nats://HOST/STREAM: the workers' shared samples stream,
 * nats://HOST/NAME (--learn-stream, default STREAM_LEARN). */
static int connect_learn_stream(stream_ctx *c, const stream_opts *o) {
  char url[CLI_PATH_MAX];
  const char *slash = strrchr(o->source, '/');
  const char *stream = slash ? slash + 1 : "";
  int n = o->learn_stream != NULL
              ? snprintf(url, sizeof url, "%.*s/%s",
                         (int)(slash - o->source), o->source,
                         o->learn_stream)
              : snprintf(url, sizeof url, "%.*s/%s_LEARN",
                         (int)(slash - o->source), o->source, stream);
  if (slash == NULL || n < 0 || (size_t)n >= sizeof url) {
    fprintf(stderr, "imgstream stream: --learn: no stream name in %s\n",
            o->source);
    return IMS_EXIT_USAGE;
  }
  return cli_nats_connect("stream", url, &o->nats, &c->learn_nats);
}

/* Open the source: a bucket, or a stream (created if absent, so workers
 * may start before the producer). */
static int open_source(stream_ctx *c, const stream_opts *o) {
  ims_error err = {0};
  if (!cli_is_nats_url(o->source)) {
    ims_s3_options s3 = o->s3;
    int rc = cli_open_bucket("stream", o->source, IMS_BUCKET_WATCH, &s3,
                             &c->bucket);
    /* a dir:// that is not there is a usage error; an s3:// bucket may be
     * unreachable or refuse us (exit 1) */
    if (rc != 0 && strncmp(o->source, "s3://", 5) != 0) rc = IMS_EXIT_USAGE;
    return rc;
  }
  int rc = cli_nats_connect("stream", o->source, &o->nats, &c->source_nats);
  if (rc == 0 && o->learn != NULL) rc = connect_learn_stream(c, o);
  if (rc != 0) return rc;
  ims_nats_stream_config images;
  memset(&images, 0, sizeof images);
  images.replicas = o->jets.replicas;
  if (ims_nats_ensure_stream(c->source_nats, &images, &err) == IMS_OK)
    return 0;
  fprintf(stderr, "imgstream stream: %s\n", err.message);
  return IMS_EXIT_FAILED;
}

/* The engine, on the bucket or the stream. */
static int create_engine(stream_ctx *c, const stream_opts *o,
                         const ims_stream_options *so) {
  ims_error err = {0};
  ims_status st =
      c->source_nats != NULL
          ? ims_stream_create_nats(c->source_nats, &o->consumer, c->clf,
                                   c->sinks, c->nsinks, so, &c->stream, &err)
          : ims_stream_create(c->bucket, c->clf, c->sinks, c->nsinks, so,
                              &c->stream, &err);
  if (st == IMS_OK) return 0;
  fprintf(stderr, "imgstream stream: %s\n", err.message);
  /* the checkpoint's head is another model's, or over --max-classes */
  if (st == IMS_ERR_BAD_HEAD || st == IMS_ERR_TOO_LARGE) return IMS_EXIT_MODEL;
  return IMS_EXIT_FAILED;
}

static int open_all(stream_ctx *c, const stream_opts *o) {
  int rc = 0;
  if (o->http != NULL) { /* first, so /readyz can say it is loading */
    rc = cli_http_start("stream", o->http, "stream", o->source, &c->http);
    c->metrics = c->http.metrics;
  }
  if (rc == 0) rc = open_source(c, o);
  if (rc == 0) rc = open_classifier(c, o);
  if (rc == 0) rc = open_sinks(c, o);
  if (rc != 0) return rc;
  if (o->progress != NULL) {
    c->progress = fopen(o->progress, "a");
    if (c->progress == NULL) {
      fprintf(stderr, "imgstream stream: %s: %s\n", o->progress,
              strerror(errno));
      return IMS_EXIT_FAILED;
    }
  }
  ims_stream_options so;
  memset(&so, 0, sizeof so);
  so.max_files_per_trigger = (uint32_t)o->max_files;
  so.trigger_interval_ms = (uint32_t)o->trigger_ms;
  so.checkpoint_dir = o->checkpoint;
  so.max_batches = o->max_batches;
  so.until_idle_ms = (uint32_t)o->until_idle_ms;
  so.compact_interval = (uint32_t)o->compact;
  so.poll_interval_ms = (uint32_t)o->poll_ms;
  so.on_progress = on_progress;
  so.progress_ctx = c;
  so.head = c->head;
  so.learn_nats = c->learn_nats;
  so.metrics = c->metrics;
  so.head_path = o->learn;
  return create_engine(c, o, &so);
}

static void close_all(stream_ctx *c) {
  cli_http_stop(&c->http);
  ims_stream_destroy(c->stream);
  for (size_t i = 0; i < c->nsinks; i++) ims_sink_close(c->sinks[i]);
  ims_head_destroy(c->head);
  ims_classifier_destroy(c->clf);
  ims_bucket_close(c->bucket);
  bool nats = c->source_nats != NULL;
  ims_nats_close(c->source_nats);
  ims_nats_close(c->learn_nats);
  for (size_t i = 0; i < MAX_SINKS; i++) {
    nats = nats || c->sink_nats[i] != NULL;
    ims_nats_close(c->sink_nats[i]);
  }
  if (nats) ims_nats_library_close();
  if (c->progress != NULL) fclose(c->progress);
}

static int stream_run(const stream_opts *o) {
  stream_ctx c;
  memset(&c, 0, sizeof c);
  c.verbose = o->verbose;
  int rc = open_all(&c, o);
  if (rc != 0) goto fail;
  ims_error err = {0};
  running = c.stream;
  set_signals(true);
  ims_status st = ims_stream_run(c.stream, &err);
  set_signals(false);
  running = NULL;
  if (st != IMS_OK) {
    fprintf(stderr, "imgstream stream: stopped: %s\n", err.message);
    rc = IMS_EXIT_FAILED;
    goto fail;
  }
  fprintf(stderr, "imgstream stream: %" PRIu64 " batches, %" PRIu64
          " images\n", ims_stream_batches_done(c.stream),
          ims_stream_rows_done(c.stream));
  rc = IMS_EXIT_OK;
fail:
  close_all(&c);
  return rc;
}

int cmd_stream(const cli_config *cfg) {
  stream_opts o;
  if (parse_options(cfg, &o) != 0) return IMS_EXIT_USAGE;
  if (cli_help_or_version(o.help, o.version, usage)) return IMS_EXIT_OK;
  if (o.source == NULL) {
    fprintf(stderr, "imgstream stream: --source dir://BUCKET, "
                    "s3://BUCKET[/PREFIX] or nats://HOST:PORT/STREAM is "
                    "required; see 'imgstream stream --help'\n");
    return IMS_EXIT_USAGE;
  }
  if (o.checkpoint != NULL && cli_is_nats_url(o.source)) {
    fprintf(stderr, "imgstream stream: --checkpoint is for dir:// and "
                    "s3:// sources; with nats:// JetStream's acks are the "
                    "checkpoint\n");
    return IMS_EXIT_USAGE;
  }
  return stream_run(&o);
}
