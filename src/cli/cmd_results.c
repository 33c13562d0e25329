/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_results.c - `imgstream results`: print the results a fleet of
 * stream workers published to a JetStream results stream (docs/NATS.md),
 * all in one place: every result the stream holds, then (--follow) new
 * ones as they come, until SIGINT/SIGTERM.
 *
 * Output: a table, one line per image (label, prediction, score,
 * latency, processing time, path), or with --json each result's JSON row
 * exactly as stored (the jsonl: sink's format).
 *
 * Threading: main thread.
 */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_int.h"
#include "imgstream/imgstream.h"
#include "imgstream/nats.h"

enum { OPT_SOURCE = 256, OPT_HTTP };

/* Long options. MUST stay alphasorted by name. */
static const struct option long_options[] = {
    CLI_CONFIG_LONG_OPTION,
    {"follow", no_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {"http", required_argument, NULL, OPT_HTTP},
    {"json", no_argument, NULL, 'j'},
    CLI_NATS_LONG_OPTIONS,
    {"source", required_argument, NULL, OPT_SOURCE},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0}};

#define SHORT_OPTIONS ":fhj"
const cli_options cli_results_options = {long_options, SHORT_OPTIONS};

typedef struct results_opts {
  const char *source;    /* --source URL */
  const char *http;      /* --http [HOST:]PORT (with --follow) */
  bool follow, json;     /* --follow, --json */
  bool help, version;    /* --help, --version */
  ims_nats_options nats; /* --nats-* */
} results_opts;

static void usage(FILE *out) {
  fprintf(out,
      "usage: imgstream results --source nats://HOST:PORT/RESULTS "
      "[options]\n\n"
      "Print the results that stream workers published to a JetStream\n"
      "results stream ('imgstream stream --sink nats://...'): every\n"
      "result it holds, one per image, then exit.\n\n"
      "options:\n"
      "      --source URL    the results stream\n"
      "  -j, --json          each result's JSON row, one per line\n"
      "  -f, --follow        keep printing new results until interrupted\n"
      "      --http [HOST:]PORT  with --follow: serve the results on a\n"
      "                      live page (/), /metrics, /events and /api/*\n"
      "                      as 'imgstream stream --http' does\n"
      "      --config FILE   read options from FILE, 'key = value' lines\n"
      "                      (a long option without --); the command\n"
      "                      line wins\n"
      "  -h, --help          show this help\n"
      "      --version       show the version\n"
      CLI_NATS_HELP "\n"
      "exit codes: 0 ok, 1 the stream is missing or unreadable, 2 usage "
      "error,\n"
      "            4 output not written\n");
}

static int parse_options(const cli_config *cfg, results_opts *o) {
  int argc = cfg->argc;
  char **argv = cfg->argv;
  memset(o, 0, sizeof *o);
  optind = 1;
  opterr = 0;
  for (;;) {
    int c = getopt_long(argc, argv, SHORT_OPTIONS, long_options, NULL);
    if (c == -1) break;
    if (c == 'f') o->follow = true;
    else if (c == 'h') o->help = true;
    else if (c == 'j') o->json = true;
    else if (c == 'V') o->version = true;
    else if (c == OPT_SOURCE) o->source = optarg;
    else if (c == OPT_HTTP) o->http = optarg;
    else if (c == CLI_OPT_CONFIG) continue; /* main.c read it */
    else if (!cli_nats_option(&o->nats, c)) {
      fprintf(stderr, "imgstream results: %s '%s'; see 'imgstream results "
              "--help'\n", c == ':' ? "missing value for" : "unknown option",
              argv[optind - 1]);
      return -1;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "imgstream results: unexpected argument '%s'\n",
            argv[optind]);
    return -1;
  }
  return 0;
}

/* ---- printing ---- */

typedef struct printer {
  ims_metrics *metrics; /* --http: the rows go there too; or NULL */
  bool json;      /* --json */
  uint64_t count; /* results printed */
  bool header;    /* the table header is out */
} printer;

static const char *str(json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s != NULL ? s : "";
}

/* One table line for a JSON row (a row that is not JSON is shown raw). */
static void print_row(printer *p, const char *text, size_t len) {
  json_t *o = json_loadb(text, len, 0, NULL);
  if (!p->header) {
    printf("%-12s %-28s %6s %8s %-23s %s\n", "label", "prediction", "score",
           "latency", "processing_time", "path");
    p->header = true;
  }
  if (o == NULL) {
    printf("(not a result row) %.*s\n", (int)len, text);
    return;
  }
  json_t *pred = json_object_get(o, "prediction");
  char what[160];
  double score = json_real_value(json_object_get(pred, "score"));
  if (pred != NULL)
    snprintf(what, sizeof what, "%s (%s)", str(pred, "desc"),
             str(pred, "class"));
  else
    snprintf(what, sizeof what, "error: %.60s", str(o, "error"));
  char latency[32];
  snprintf(latency, sizeof latency, "%" JSON_INTEGER_FORMAT "ms",
           json_integer_value(json_object_get(o, "latency_ms")));
  printf("%-12s %-28s %6.4f %8s %-23.23s %s\n", str(o, "label"), what, score,
         latency, str(o, "processing_time"), str(o, "path"));
  json_decref(o);
}

static int on_result(void *ctx, const char *json, size_t len) {
  printer *p = ctx;
  if (p->metrics != NULL) ims_metrics_record_result(p->metrics, json, len);
  if (p->json)
    printf("%.*s\n", (int)len, json);
  else
    print_row(p, json, len);
  p->count++;
  if (ferror(stdout)) return -1; /* a closed pipe: stop reading */
  fflush(stdout);
  return 0;
}

/* ---- entry point ---- */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static int read_results(const results_opts *o) {
  ims_nats *n = NULL;
  cli_http http = {0};
  int rc = o->http != NULL ? cli_http_start("results", o->http, "results",
                                            o->source, &http)
                           : 0;
  if (rc == 0) rc = cli_nats_connect("results", o->source, &o->nats, &n);
  if (rc != 0) {
    cli_http_stop(&http);
    return rc;
  }
  ims_metrics_set_ready(http.metrics, true, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  printer p = {http.metrics, o->json, 0, false};
  ims_error err = {0};
  ims_status st = ims_nats_read_results(n, o->follow, &stop_requested,
                                        on_result, &p, &err);
  if (st != IMS_OK) {
    fprintf(stderr, "imgstream results: %s\n", err.message);
    rc = IMS_EXIT_FAILED;
  } else if (!o->json) {
    fprintf(stderr, "imgstream results: %" PRIu64 " results\n", p.count);
  }
  ims_metrics_set_ready(http.metrics, false, "stopped");
  cli_http_stop(&http);
  ims_nats_close(n);
  ims_nats_library_close();
  return rc;
}

int cmd_results(const cli_config *cfg) {
  results_opts o;
  if (parse_options(cfg, &o) != 0) return IMS_EXIT_USAGE;
  if (cli_help_or_version(o.help, o.version, usage)) return IMS_EXIT_OK;
  if (o.source == NULL || !cli_is_nats_url(o.source)) {
    fprintf(stderr, "imgstream results: --source nats://HOST:PORT/STREAM is "
                    "required; see 'imgstream results --help'\n");
    return IMS_EXIT_USAGE;
  }
  if (o.http != NULL && !o.follow) {
    fprintf(stderr, "imgstream results: --http needs --follow (without it "
                    "the command exits once it has read the stream)\n");
    return IMS_EXIT_USAGE;
  }
  return read_results(&o);
}
