/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_produce.c - `imgstream produce`: the producer of the user's system.
 * Scans a dataset (--from DIR, or --download URL unpacked into a cache),
 * prints "Found N images in CATEGORY category", shuffles, and uploads the
 * images one by one into a bucket as CATEGORY/FILE, printing
 * "Uploaded CATEGORY/FILE" and "Waiting 5.00 seconds..." like the
 * original script.
 *
 * Restart safety: the order comes from --seed only, and an image whose key
 * is already in the bucket with the same size is not uploaded again
 * (bucket puts are atomic), so a killed producer restarted with the same
 * --seed finishes the same job without duplicates. Stale temporary files
 * of killed puts are removed at start (ims_dataset_clean_bucket).
 *
 * Pacing: --interval sleeps after each upload (the original's
 * time.sleep); --rate N schedules upload k at start + k/N on the monotonic
 * clock, so the rate holds on average whatever each put costs. SIGINT and
 * SIGTERM end the run after the image in flight (exit 0).
 *
 * Not here: scanning, shuffling, downloading, bucket I/O (libimgstream:
 * include/imgstream/dataset.h, bucket.h).
 *
 * Sections: 1. options  2. signals and time  3. setup  4. upload loop
 *           5. entry point
 *
 * Threading: main thread only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_int.h"
#include "cli/report_int.h"
#include "imgstream/dataset.h"
#include "imgstream/imgstream.h"
#include "imgstream/nats.h"
#include "core/backoff_int.h"
#include "core/clock_int.h"

/* ---- 1. options ---- */

enum {
  OPT_CACHE = 256, OPT_LOOP, OPT_MAX_AGE, OPT_MAX_BYTES, OPT_MAX_MSG,
  OPT_REPLICAS, OPT_VERSION
};

/* Long options. MUST stay alphasorted by name. */
static const struct option long_options[] = {
    {"cache", required_argument, NULL, OPT_CACHE},
    CLI_CONFIG_LONG_OPTION,
    {"download", required_argument, NULL, 'd'},
    {"from", required_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {"interval", required_argument, NULL, 'i'},
    {"json", no_argument, NULL, 'j'},
    {"limit", required_argument, NULL, 'n'},
    {"loop", no_argument, NULL, OPT_LOOP},
    {"max-age", required_argument, NULL, OPT_MAX_AGE},
    {"max-bytes", required_argument, NULL, OPT_MAX_BYTES},
    {"max-msg-size", required_argument, NULL, OPT_MAX_MSG},
    CLI_NATS_LONG_OPTIONS,
    {"quiet", no_argument, NULL, 'q'},
    {"rate", required_argument, NULL, 'r'},
    {"replicas", required_argument, NULL, OPT_REPLICAS},
    CLI_S3_LONG_OPTIONS,
    {"seed", required_argument, NULL, 's'},
    {"to", required_argument, NULL, 't'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0}};

#define SHORT_OPTIONS ":d:f:hi:jn:qr:s:t:"
const cli_options cli_produce_options = {long_options, SHORT_OPTIONS};

#define DEFAULT_INTERVAL 5.0
#define STALE_TEMP_MS 60000 /* temporary files older than this are stale */

typedef struct produce_opts {
  const char *from;     /* --from: dataset root */
  const char *download; /* --download: archive URL */
  const char *to;       /* --to: bucket URL */
  const char *cache;    /* --cache: NULL = $XDG_CACHE_HOME/... */
  double interval;      /* --interval: seconds after each upload */
  bool interval_set;    /* --interval given */
  double rate;          /* --rate: images per second, 0 = use interval */
  uint64_t limit;       /* --limit: 0 = no limit */
  uint64_t seed;        /* --seed */
  bool seed_set;        /* --seed given */
  bool loop;            /* --loop */
  bool json;            /* --json */
  bool quiet;           /* -q */
  bool help;            /* --help */
  bool version;         /* --version */
  ims_nats_options nats;       /* --nats-* */
  ims_nats_stream_config jets; /* --replicas, --max-msg-size */
  ims_s3_options s3;           /* --s3-* */
} produce_opts;

static void usage(FILE *out) {
  fprintf(out,
      "usage: imgstream produce (--from DIR | --download URL)\n"
      "                         --to dir://BUCKET [options]\n\n"
      "Upload a labeled image dataset (one folder per category) into a\n"
      "bucket one image at a time, in shuffled order, as CATEGORY/FILE.\n\n"
      "options:\n"
      "  -f, --from DIR       dataset root: DIR/CATEGORY/FILE (JPEG, PNG,\n"
      "                       BMP, recognised by content)\n"
      "  -d, --download URL   fetch a dataset archive (tar, tgz, zip...) over\n"
      "                       http(s) and unpack it into the cache first\n"
      "      --cache DIR      where --download keeps datasets (default\n"
      "                       ${XDG_CACHE_HOME:-~/.cache}/imgstream/datasets)\n"
      "  -t, --to URL         the bucket, dir://PATH (created if missing)\n"
      "                       or s3://BUCKET[/PREFIX] (objects PREFIX/\n"
      "                       CATEGORY/FILE; the bucket must exist), or a\n"
      "                       JetStream stream, nats://HOST:PORT/STREAM\n"
      "                       (created if missing; docs/NATS.md)\n"
      "  -i, --interval SEC   wait after each upload (default 5; 0 = none)\n"
      "  -r, --rate N         N images per second instead of --interval\n"
      "  -n, --limit N        stop after the first N images of the order\n"
      "  -s, --seed S         shuffle seed (default: random, printed)\n"
      "      --loop           start over when done, reshuffled (seed\n"
      "                       S+round),"
      " keys CATEGORY/STEM-rROUND.EXT from round 1\n"
      "  -j, --json           one JSON object per uploaded image on stdout\n"
      "  -q, --quiet          print only warnings and errors\n"
      "      --replicas N     nats: replicas of a new stream (default 1)\n"
      "      --max-msg-size B nats: largest message of a new stream\n"
      "                       (default: the server's max payload)\n"
      "      --max-age SEC    nats: a new stream deletes images older than\n"
      "                       SEC (default: keeps them)\n"
      "      --max-bytes B    nats: a new stream deletes its oldest images\n"
      "                       beyond B bytes (default: no limit)\n"
      "      --config FILE    read options from FILE, 'key = value' lines\n"
      "                       (a long option without --); the command\n"
      "                       line wins\n"
      "  -h, --help           show this help\n"
      "      --version        show the version\n"
      CLI_NATS_HELP CLI_S3_HELP "\n"
      "Images already in the bucket with the same size are not uploaded\n"
      "again, so a run restarted with the same --seed resumes where it was\n"
      "stopped. SIGINT/SIGTERM stop after the image in flight (exit 0).\n"
      "exit codes: 0 ok (unreadable images are reported and skipped),\n"
      "            1 dataset, download or bucket failed (or images too\n"
      "            large for the stream), 2 usage error,\n"
      "            4 output not written\n");
}

/* Apply one option returned by getopt_long. Returns 0 or -1 (usage). */
static int apply_option(produce_opts *o, int c, char **argv) {
  switch (c) {
    case OPT_CACHE: o->cache = optarg; return 0;
    case 'd': o->download = optarg; return 0;
    case CLI_OPT_CONFIG: return 0; /* read by main.c (config.c) */
    case 'f': o->from = optarg; return 0;
    case 'h': o->help = true; return 0;
    case 'i':
      o->interval_set = true;
      return cli_parse_double("produce", "interval", optarg, 0, 86400,
                              &o->interval);
    case 'j': o->json = true; return 0;
    case 'n':
      return cli_parse_u64("produce", "limit", optarg, 1, UINT64_MAX,
                           &o->limit);
    case OPT_LOOP: o->loop = true; return 0;
    case OPT_MAX_AGE: {
      double v = 0;
      int rc = cli_parse_double("produce", "max-age", optarg, 1, 1e9, &v);
      o->jets.max_age_ms = (int64_t)(v * 1000);
      return rc;
    }
    case OPT_MAX_BYTES: {
      uint64_t v = 0;
      int rc = cli_parse_u64("produce", "max-bytes", optarg, 1 << 20,
                             INT64_MAX, &v);
      o->jets.max_bytes = (int64_t)v;
      return rc;
    }
    case OPT_MAX_MSG: {
      uint64_t v = 0;
      int rc = cli_parse_u64("produce", "max-msg-size", optarg, 1024,
                             INT32_MAX, &v);
      o->jets.max_msg_size = (int64_t)v;
      return rc;
    }
    case 'q': o->quiet = true; return 0;
    case 'r':
      return cli_parse_double("produce", "rate", optarg, 1e-6, 1e6,
                              &o->rate);
    case OPT_REPLICAS: {
      uint64_t v = 0;
      int rc = cli_parse_u64("produce", "replicas", optarg, 1, 5, &v);
      o->jets.replicas = (uint32_t)v;
      return rc;
    }
    case 's':
      o->seed_set = true;
      return cli_parse_u64("produce", "seed", optarg, 0, UINT64_MAX,
                           &o->seed);
    case 't': o->to = optarg; return 0;
    case OPT_VERSION: o->version = true; return 0;
    case ':':
      fprintf(stderr, "imgstream produce: %s needs a value\n",
              argv[optind - 1]);
      return -1;
    default: {
      int s3 = cli_s3_option("produce", &o->s3, c);
      if (s3 != 0) return s3 < 0 ? -1 : 0;
      if (cli_nats_option(&o->nats, c)) return 0;
      fprintf(stderr,
              "imgstream produce: unknown option '%s'; see "
              "'imgstream produce --help'\n", argv[optind - 1]);
      return -1;
    }
  }
}

/* The combinations apply_option cannot see. Returns 0 or -1. */
static int check_options(const produce_opts *o, int argc) {
  const char *why = NULL;
  if (optind < argc) why = "takes no arguments besides options";
  else if ((o->from == NULL) == (o->download == NULL))
    why = "needs exactly one of --from DIR and --download URL";
  else if (o->to == NULL)
    why = "needs --to dir://BUCKET, s3://BUCKET or nats://HOST:PORT/STREAM";
  else if (o->rate > 0 && o->interval_set)
    why = "takes --interval or --rate, not both";
  if (why == NULL) return 0;
  fprintf(stderr, "imgstream produce: %s; see 'imgstream produce --help'\n",
          why);
  return -1;
}

static int parse_options(const cli_config *cfg, produce_opts *o) {
  int argc = cfg->argc;
  char **argv = cfg->argv;
  memset(o, 0, sizeof *o);
  o->interval = DEFAULT_INTERVAL;
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
  if (o->help || o->version) return 0;
  return check_options(o, argc);
}

/* ---- 2. signals and time ---- */

/* Set by SIGINT/SIGTERM; the library polls it through a const volatile
 * int pointer (download), so it must have int's representation. */
static volatile sig_atomic_t stop_requested;
_Static_assert(sizeof(sig_atomic_t) == sizeof(int), "sig_atomic_t is int");

static void on_stop_signal(int sig) { stop_requested = 1; }

static void install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal; /* no SA_RESTART: sleeps wake up */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

static double mono_now(void) { return (double)ims__now_mono_ns() * 1e-9; }

/* Sleep until monotonic time `t` (seconds), or until a stop signal. */
static void sleep_until(double t) {
  uint64_t deadline = (uint64_t)(t * 1e9);
  while (!stop_requested && ims__sleep_until_ns(deadline) != 0) {
  }
}

/* ---- 3. setup ---- */

/* Everything one run holds. */
typedef struct produce_run {
  const produce_opts *o;  /* options */
  ims_dataset *ds;        /* the scanned images */
  ims_bucket *bucket;     /* where they go: a bucket, */
  ims_nats *nats;         /* or a JetStream stream */
  ims_object *existing;   /* objects in the bucket at start, by key */
  size_t nexisting;       /* entries of existing */
  uint64_t seed;          /* --seed or random */
  uint64_t position;      /* images of the order handled so far */
  uint64_t uploaded;      /* put into the bucket by this run */
  uint64_t present;       /* already in the bucket */
  uint64_t unreadable;    /* skipped: could not be read */
  uint64_t refused;       /* nats: larger than the server takes */
  double start;           /* monotonic time of the first upload */
} produce_run;

/* setup() result: a stop signal came before any upload (exit 0). */
#define STOPPED (-1)

/* The cache folder for --download: --cache or the XDG default. */
static int cache_dir(const produce_opts *o, char *buf, size_t cap) {
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  if (o->cache != NULL)
    snprintf(buf, cap, "%s", o->cache);
  else if (xdg != NULL && xdg[0] == '/')
    snprintf(buf, cap, "%s/imgstream/datasets", xdg);
  else if (home != NULL && home[0] != '\0')
    snprintf(buf, cap, "%s/.cache/imgstream/datasets", home);
  else
    return -1;
  return 0;
}

/* Fetch --download into the cache; *root_out is malloc()ed. */
static int fetch_dataset(const produce_opts *o, char **root_out) {
  char cache[CLI_PATH_MAX];
  if (cache_dir(o, cache, sizeof cache) != 0) {
    fprintf(stderr, "imgstream produce: no $HOME or $XDG_CACHE_HOME; "
                    "pass --cache DIR\n");
    return IMS_EXIT_USAGE;
  }
  ims_download_options d = {cache, -1, 0, 0,
                            (const volatile int *)&stop_requested};
  if (!o->quiet && cli_report_want_progress()) d.progress_fd = STDERR_FILENO;
  uint32_t flags = 0;
  ims_error err = {0};
  if (ims_dataset_download(o->download, &d, root_out, &flags, &err) !=
      IMS_OK) {
    fprintf(stderr, "imgstream produce: %s\n", err.message);
    return stop_requested ? STOPPED : IMS_EXIT_FAILED;
  }
  if (!o->quiet)
    fprintf(stderr, "imgstream produce: %s %s\n",
            (flags & IMS_DOWNLOAD_CACHED) ? "using the cached dataset"
                                          : "downloaded and unpacked to",
            *root_out);
  return 0;
}

/* Print the scan's warnings and the "Found N images" lines. */
static void report_scan(const produce_run *r) {
  for (size_t i = 0; i < ims_dataset_skipped_count(r->ds); i++) {
    const ims_dataset_skip *s = ims_dataset_skipped(r->ds, i);
    fprintf(stderr, "imgstream produce: warning: skipping %s: %s\n", s->path,
            s->reason);
  }
  FILE *out = r->o->json ? stderr : stdout;
  for (size_t i = 0; i < ims_dataset_category_count(r->ds) && !r->o->quiet;
       i++) {
    const char *name = NULL;
    size_t n = 0;
    ims_dataset_category(r->ds, i, &name, &n, NULL);
    if (n > 0) fprintf(out, "Found %zu images in %s category\n", n, name);
  }
}

static int by_key(const void *a, const void *b) {
  return strcmp(((const ims_object *)a)->key, ((const ims_object *)b)->key);
}

/* Connect to the stream and create it if absent. */
static int open_stream(produce_run *r) {
  int rc = cli_nats_connect("produce", r->o->to, &r->o->nats, &r->nats);
  if (rc != 0) return rc;
  ims_error err = {0};
  if (ims_nats_ensure_stream(r->nats, &r->o->jets, &err) != IMS_OK) {
    fprintf(stderr, "imgstream produce: %s\n", err.message);
    return IMS_EXIT_FAILED;
  }
  return 0;
}

/* Open the bucket, list what is there, remove stale temporary files. */
static int open_bucket(produce_run *r) {
  if (cli_is_nats_url(r->o->to)) return open_stream(r);
  ims_error err = {0};
  size_t removed = 0;
  ims_s3_options s3 = r->o->s3;
  int rc = cli_open_bucket("produce", r->o->to, IMS_BUCKET_CREATE, &s3,
                           &r->bucket);
  if (rc != 0) return IMS_EXIT_FAILED;
  if (ims_bucket_list(r->bucket, &r->existing, &r->nexisting, &err) !=
          IMS_OK ||
      ims_dataset_clean_bucket(r->bucket, r->ds, STALE_TEMP_MS, &removed,
                               &err) != IMS_OK) {
    fprintf(stderr, "imgstream produce: %s\n", err.message);
    return IMS_EXIT_FAILED;
  }
  if (r->nexisting > 1)
    qsort(r->existing, r->nexisting, sizeof *r->existing, by_key);
  if (removed > 0 && !r->o->quiet)
    fprintf(stderr, "imgstream produce: removed %zu stale temporary "
                    "file(s) of an interrupted run\n", removed);
  return 0;
}

/* Scan the dataset (after --download if asked) and open the bucket. */
static int setup(produce_run *r) {
  char *fetched = NULL;
  ims_error err = {0};
  int rc = 0;
  if (r->o->download != NULL) rc = fetch_dataset(r->o, &fetched);
  if (rc != 0) goto fail;
  const char *root = fetched != NULL ? fetched : r->o->from;
  if (ims_dataset_scan(root, &r->ds, &err) != IMS_OK) {
    fprintf(stderr, "imgstream produce: %s\n", err.message);
    rc = IMS_EXIT_FAILED;
    goto fail;
  }
  report_scan(r);
  if (ims_dataset_count(r->ds) == 0) {
    fprintf(stderr, "imgstream produce: no images in %s (expected "
                    "%s/CATEGORY/IMAGE)\n", root, root);
    rc = IMS_EXIT_FAILED;
    goto fail;
  }
  rc = open_bucket(r);
fail:
  free(fetched);
  return rc;
}

/* ---- 4. upload loop ---- */

/* Is `key` already in the bucket with `size` bytes? */
static bool already_there(const produce_run *r, const char *key,
                          uint64_t size) {
  if (r->nexisting == 0) return false;
  ims_object probe = {(char *)key, 0, 0};
  const ims_object *hit = bsearch(&probe, r->existing, r->nexisting,
                                  sizeof *r->existing, by_key);
  return hit != NULL && hit->size == size;
}

static void print_json(const produce_run *r, const char *key,
                       const ims_dataset_item *it, size_t size,
                       uint64_t round) {
  char when[64];
  ims__iso8601_ms(ims__now_epoch_ms(), when, sizeof when);
  json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "key", key,
                        "category", it->category, "source", it->path,
                        "bytes", (json_int_t)size, "round", (json_int_t)round,
                        "index", (json_int_t)(r->position - 1), "time", when);
  char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
  if (text != NULL) printf("%s\n", text);
  free(text);
  json_decref(j);
}

/* Wait after an upload: --rate schedule or --interval sleep. */
static void pace(produce_run *r) {
  const produce_opts *o = r->o;
  if (o->rate > 0) {
    sleep_until(r->start + (double)r->uploaded / o->rate);
  } else if (o->interval > 0) {
    if (!o->json && !o->quiet)
      printf("Waiting %.2f seconds...\n", o->interval);
    fflush(stdout);
    sleep_until(mono_now() + o->interval);
  }
}

/* The MIME type of an image from its first bytes (NULL: unknown). */
static const char *content_type(const unsigned char *p, size_t n) {
  if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
    return "image/jpeg";
  if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return "image/png";
  if (n >= 2 && p[0] == 'B' && p[1] == 'M') return "image/bmp";
  return NULL;
}

/* send_one/publish_one: not stored, but the run goes on (too large:
 * reported; or a duplicate). Apart from exit codes (which are >= 0). */
#define NOT_SENT (-2)

/* Publish one image to the stream: 0 stored, NOT_SENT, or
 * IMS_EXIT_FAILED. */
static int publish_one(produce_run *r, const char *key,
                       const ims_dataset_item *it, const void *data,
                       size_t size) {
  ims_nats_image img = {key, key, it->category, content_type(data, size),
                        0, data, size};
  img.upload_time_ms = ims__now_epoch_ms();
  ims_nats_ack ack = {0, false};
  ims_error err = {0};
  ims_status st = ims_nats_publish_image(r->nats, &img, &ack, &err);
  if (st == IMS_ERR_INVALID_ARG) {
    fprintf(stderr, "imgstream produce: not sent: %s\n", err.message);
    r->refused++;
    return NOT_SENT;
  }
  if (st != IMS_OK) {
    fprintf(stderr, "imgstream produce: cannot publish %s: %s\n", key,
            err.message);
    return IMS_EXIT_FAILED;
  }
  if (!ack.duplicate) return 0;
  r->present++; /* a restarted run: JetStream has this id already */
  return NOT_SENT;
}

/* Send one image to the bucket or the stream: 0 sent, NOT_SENT, or an
 * exit code. */
static int send_one(produce_run *r, const char *key,
                    const ims_dataset_item *it, const void *data,
                    size_t size) {
  if (r->nats != NULL) return publish_one(r, key, it, data, size);
  ims_error err = {0};
  if (ims_bucket_put(r->bucket, key, data, size, &err) == IMS_OK) return 0;
  fprintf(stderr, "imgstream produce: cannot upload %s: %s\n", key,
          err.message);
  return IMS_EXIT_FAILED;
}

/* Handle image `i` of round `round`. `last`: no wait afterwards.
 * Returns 0, or IMS_EXIT_FAILED when the bucket refused a put. */
static int upload_one(produce_run *r, size_t i, uint64_t round, bool last) {
  const ims_dataset_item *it = ims_dataset_get(r->ds, i);
  char key[CLI_PATH_MAX];
  ims_error err = {0};
  void *data = NULL;
  size_t size = 0;
  r->position++;
  if (ims_dataset_key(r->ds, i, round, key, sizeof key, &err) != IMS_OK ||
      ims_dataset_read(r->ds, i, &data, &size, &err) != IMS_OK) {
    fprintf(stderr, "imgstream produce: skipping %s: %s\n", it->path,
            err.message);
    r->unreadable++;
    return 0;
  }
  if (r->nats == NULL && already_there(r, key, size)) {
    r->present++;
    free(data);
    return 0;
  }
  if (r->uploaded == 0) r->start = mono_now();
  int rc = send_one(r, key, it, data, size);
  free(data);
  if (rc != 0) return rc == NOT_SENT ? 0 : rc;
  r->uploaded++;
  if (r->o->json)
    print_json(r, key, it, size, round);
  else if (!r->o->quiet)
    printf("Uploaded %s\n", key);
  if (!last) pace(r);
  return 0;
}

/* Upload rounds until done, --limit, or a stop signal. */
static int upload_all(produce_run *r) {
  const produce_opts *o = r->o;
  size_t n = ims_dataset_count(r->ds);
  for (uint64_t round = 0; !stop_requested; round++) {
    if (round > 0 && !o->loop) break;
    ims_dataset_shuffle(r->ds, r->seed + round);
    for (size_t i = 0; i < n && !stop_requested; i++) {
      if (o->limit != 0 && r->position >= o->limit) return 0;
      bool last = (o->limit != 0 && r->position + 1 == o->limit) ||
                  (!o->loop && i + 1 == n);
      int rc = upload_one(r, i, round, last);
      if (rc != 0) return rc;
      if (ferror(stdout)) return IMS_EXIT_OUTPUT;
    }
  }
  return 0;
}

/* ---- 5. entry point ---- */

static int produce(const produce_opts *o) {
  produce_run r;
  memset(&r, 0, sizeof r);
  r.o = o;
  r.seed = o->seed_set ? o->seed : ims__random_seed();
  setvbuf(stdout, NULL, _IOLBF, 0); /* a live feed, line by line */
  install_signals();
  int rc = setup(&r);
  if (rc != 0) goto fail;
  if (!o->seed_set && !o->quiet)
    fprintf(stderr, "imgstream produce: shuffle seed %" PRIu64
                    " (--seed %" PRIu64 " repeats this order)\n",
            r.seed, r.seed);
  rc = upload_all(&r);
  if (!o->quiet)
    fprintf(stderr, "imgstream produce: %s: uploaded %" PRIu64
                    ", already in the %s %" PRIu64 ", unreadable %" PRIu64
                    ", too large %" PRIu64 "\n",
            stop_requested ? "stopped by a signal"
            : rc != 0      ? "stopped by an error"
                           : "done",
            r.uploaded,
            r.nats != NULL ? "stream" : "bucket", r.present, r.unreadable,
            r.refused);
  if (rc == 0 && r.refused > 0) rc = IMS_EXIT_FAILED;
fail:
  if (rc == STOPPED) rc = IMS_EXIT_OK;
  ims_bucket_list_free(r.existing, r.nexisting);
  ims_bucket_close(r.bucket);
  if (r.nats != NULL) {
    ims_nats_close(r.nats);
    ims_nats_library_close();
  }
  ims_dataset_destroy(r.ds);
  return rc;
}

int cmd_produce(const cli_config *cfg) {
  produce_opts o;
  if (parse_options(cfg, &o) != 0) return IMS_EXIT_USAGE;
  if (cli_help_or_version(o.help, o.version, usage)) return IMS_EXIT_OK;
  return produce(&o);
}
