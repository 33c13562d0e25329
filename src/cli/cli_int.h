/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_int.h - what the subcommands of the imgstream tool share: exit codes,
 * the subcommand entry points, model lookup and small output helpers.
 *
 * Not here: anything of the library; the tool uses only the public API in
 * include/imgstream/.
 *
 * Threading: the tool is single-threaded (the engine has its own pool).
 */
#ifndef IMS_CLI_CLI_INT_H
#define IMS_CLI_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
  IMS_EXIT_OK = 0,      /* everything succeeded */
  IMS_EXIT_FAILED = 1,  /* the run finished, but some inputs failed */
  IMS_EXIT_USAGE = 2,   /* bad command line */
  IMS_EXIT_MODEL = 3,   /* model, labels or learned head unusable */
  IMS_EXIT_OUTPUT = 4   /* writing the results failed */
};

/* The exit-code paragraph every --help prints (same text as main.c). */
#define CLI_EXIT_CODES_HELP                                          \
  "exit codes: 0 ok, 1 some inputs failed, 2 usage error,\n"         \
  "            3 model, labels or head unusable, 4 output not written\n"

/* ---- config files (config.c) ---- */

struct option;

/* --config FILE, in every command's long-option table. */
enum { CLI_OPT_CONFIG = 700 };
#define CLI_CONFIG_LONG_OPTION \
  {"config", required_argument, NULL, CLI_OPT_CONFIG}
/* A command line with a config file's options put before it. */
typedef struct cli_config {
  int argc;         /* the arguments to parse */
  char **argv;      /* argv[0] is the command; owned if argv_owned */
  bool argv_owned;  /* private: argv was allocated here */
  const char *cmd;  /* BORROWED: the command's name, for messages */
  const char *file; /* BORROWED (from argv): --config's FILE, or NULL */
  char **owned;     /* owned: nowned arguments made from the file */
  unsigned *lines;  /* owned: the file line of each of owned[] */
  size_t nowned;    /* entries of owned[] and lines[] */
} cli_config;

/* What main.c needs of a command to read its config file: its long
 * options (alphasorted, with CLI_CONFIG_LONG_OPTION) and getopt's short
 * option string. */
typedef struct cli_options {
  const struct option *long_options; /* terminated by a NULL name */
  const char *short_options;         /* as passed to getopt_long */
} cli_options;

/* The command line argv[0..argc) of command `cmd` (argv[0] its name),
 * with --config FILE's options in front of it (config.c's comment has
 * the format) into *out; without --config, *out is argc and argv as
 * they are. Returns 0, or IMS_EXIT_USAGE after printing what is wrong
 * with the file (naming it and the line), IMS_EXIT_FAILED out of memory
 * (IMS_EXIT_USAGE, "FILE:LINE: out of memory", while reading a line).
 * Free *out with cli_config_free either way. */
int cli_config_load(const char *cmd, const struct option *opts,
                    const char *shortopts, int argc, char **argv,
                    cli_config *out);

/* A command refused the value `arg` (argv[optind - 1]): if it came from
 * the file, say which line ("imgstream CMD: FILE:N: ARG was set here"). */
void cli_config_blame(const cli_config *c, const char *arg);

void cli_config_free(cli_config *c);

/* ---- the commands ---- */

/* Each parses cfg->argc, cfg->argv (what cli_config_load made). */
int cmd_classify(const cli_config *cfg);
int cmd_produce(const cli_config *cfg);
int cmd_stream(const cli_config *cfg);
int cmd_results(const cli_config *cfg);
extern const cli_options cli_classify_options;
extern const cli_options cli_produce_options;
extern const cli_options cli_stream_options;
extern const cli_options cli_results_options;

/* --help prints usage(stdout), --version "imgstream VERSION"; either
 * returns 1 (the command then exits 0 without doing anything else), else
 * 0. --help wins when both are given. */
int cli_help_or_version(bool help, bool version, void (*usage)(FILE *out));

/* Parse option --name's value `arg` as a decimal whole number (or a
 * finite decimal) in [min, max] into *out. Returns 0, or -1 after printing
 * "imgstream CMD: --NAME wants a number from MIN to MAX, got 'ARG'". */
int cli_parse_u64(const char *cmd, const char *name, const char *arg,
                  uint64_t min, uint64_t max, uint64_t *out);
int cli_parse_double(const char *cmd, const char *name, const char *arg,
                     double min, double max, double *out);

/* Flush and check stdout; returns IMS_EXIT_OUTPUT (with a message on
 * stderr) if anything written to it was lost, else `code`. */
int cli_finish_stdout(int code);

/* A library message often starts with the path it is about ("PATH: ...");
 * the rest of it, for a command that prints the path itself. */
const char *cli_strip_path(const char *msg, const char *path);

/* ---- classify's inputs (inputs.c) ---- */

/* Image paths from the command line, folders walked. */
typedef struct cli_inputs {
  char **paths;  /* owned: count paths, each owned */
  size_t count;  /* paths in order */
  size_t cap;    /* private: room in paths */
  bool failed;   /* a folder was unreadable or held no image (reported) */
} cli_inputs;

/* Expand args[0..nargs) into *in: a folder becomes its images (walked
 * recursively, hidden names and non-image names skipped, symbolic links to
 * folders not followed, sorted by strcmp); anything else is taken as
 * given. Problems with a folder are printed on stderr and set in->failed.
 * Returns 0, or -1 if out of memory; free *in with cli_inputs_free
 * either way. */
int cli_inputs_expand(cli_inputs *in, char **args, size_t nargs);
void cli_inputs_free(cli_inputs *in);

/* ---- NATS JetStream options (cli_nats.c) ---- */

/* Options of every subcommand that talks to NATS. Their long-option
 * entries are CLI_NATS_LONG_OPTIONS, to be put in each table where
 * "nats-" sorts. */
enum {
  CLI_OPT_NATS_CA = 512, CLI_OPT_NATS_CERT, CLI_OPT_NATS_CREDS,
  CLI_OPT_NATS_KEY, CLI_OPT_NATS_PASSWORD, CLI_OPT_NATS_TLS,
  CLI_OPT_NATS_TOKEN, CLI_OPT_NATS_USER
};

#define CLI_NATS_LONG_OPTIONS                                        \
  {"nats-ca", required_argument, NULL, CLI_OPT_NATS_CA},             \
  {"nats-cert", required_argument, NULL, CLI_OPT_NATS_CERT},         \
  {"nats-creds", required_argument, NULL, CLI_OPT_NATS_CREDS},       \
  {"nats-key", required_argument, NULL, CLI_OPT_NATS_KEY},           \
  {"nats-password", required_argument, NULL, CLI_OPT_NATS_PASSWORD}, \
  {"nats-tls", no_argument, NULL, CLI_OPT_NATS_TLS},                 \
  {"nats-token", required_argument, NULL, CLI_OPT_NATS_TOKEN},       \
  {"nats-user", required_argument, NULL, CLI_OPT_NATS_USER}

#define CLI_NATS_HELP                                                      \
  "NATS connection (nats://HOST:PORT[,HOST:PORT...]/STREAM URLs):\n"       \
  "      --nats-creds FILE        credentials file (JWT + NKey)\n"         \
  "      --nats-user USER         user name; --nats-password PW its "       \
  "password\n"                                                             \
  "      --nats-token TOKEN       authentication token\n"                  \
  "      --nats-tls               require TLS (also: tls:// URLs)\n"        \
  "      --nats-ca FILE           CA certificates (PEM) to trust\n"        \
  "      --nats-cert FILE         client certificate chain (PEM), with\n"  \
  "      --nats-key FILE          its private key\n"

struct ims_nats_options;
struct ims_nats;

/* Apply NATS option `c` (getopt_long's result, optarg its value) to *o.
 * Returns 1 if c was a NATS option, 0 if not. */
int cli_nats_option(struct ims_nats_options *o, int c);

/* Is `url` a NATS URL (nats:// or tls://)? */
int cli_is_nats_url(const char *url);

/* Connect for subcommand `cmd`; on failure prints the error and returns
 * IMS_EXIT_USAGE (malformed URL) or IMS_EXIT_FAILED, else 0. */
int cli_nats_connect(const char *cmd, const char *url,
                     const struct ims_nats_options *o, struct ims_nats **out);

/* ---- S3 bucket options (cli_s3.c) ---- */

/* Options of every subcommand that opens buckets; their long-option
 * entries are CLI_S3_LONG_OPTIONS, to be put in each table where "s3-"
 * sorts. Credentials are read from the environment only (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN): a secret on the command line
 * would show in `ps`. */
enum { CLI_OPT_S3_ENDPOINT = 640, CLI_OPT_S3_REGION, CLI_OPT_S3_RETRY };

#define CLI_S3_LONG_OPTIONS                                          \
  {"s3-endpoint", required_argument, NULL, CLI_OPT_S3_ENDPOINT},     \
  {"s3-region", required_argument, NULL, CLI_OPT_S3_REGION},         \
  {"s3-retry", required_argument, NULL, CLI_OPT_S3_RETRY}

#define CLI_S3_HELP                                                        \
  "S3-protocol buckets (s3://BUCKET[/PREFIX]; credentials from\n"         \
  "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN):\n"       \
  "      --s3-endpoint URL        server, http(s)://HOST[:PORT] (default\n" \
  "                               $AWS_ENDPOINT_URL, else AWS)\n"          \
  "      --s3-region NAME         signing region (default $AWS_REGION,\n"  \
  "                               else us-east-1)\n"                       \
  "      --s3-retry MS            keep retrying a failing request (5xx,\n" \
  "                               SlowDown, network) this long (default\n" \
  "                               60000)\n"

struct ims_s3_options;
struct ims_bucket;

/* Apply S3 option `c` (getopt_long's result, optarg its value) to *o.
 * Returns 1 if c was an S3 option, 0 if not, -1 (after a message) if its
 * value is bad. */
int cli_s3_option(const char *cmd, struct ims_s3_options *o, int c);

/* Open the bucket `url` (dir:// or s3://) for subcommand `cmd`, s3://
 * with *o and retries reported on stderr. On failure prints the error and
 * returns IMS_EXIT_USAGE (malformed URL) or IMS_EXIT_FAILED, else 0.
 * Every caller (stream --source, produce --to) also takes a NATS URL,
 * which it opens itself, so an unknown scheme is reported with the whole
 * list: dir://, s3://, nats://, tls://. */
int cli_open_bucket(const char *cmd, const char *url, uint32_t flags,
                    struct ims_s3_options *o, struct ims_bucket **out);

/* ---- fitting images to the model (model_opts.c) ---- */

/* Option ids of --crop, --mean, --resize, --std: each command puts
 * {"crop", required_argument, NULL, CLI_OPT_CROP} etc. in its own
 * alphasorted table. */
enum { CLI_OPT_CROP = 660, CLI_OPT_MEAN, CLI_OPT_RESIZE, CLI_OPT_STD };

/* Their --help lines (same text in every command). */
#define CLI_MODEL_HELP                                                      \
  "      --resize N               shorter side after resizing (default:\n"  \
  "                               crop * 256/224, i.e. 256)\n"              \
  "      --crop N                 center crop: the model's input size\n"    \
  "                               (default: read from the model)\n"         \
  "      --mean R,G,B             float models: mean of the [0,1] pixels\n" \
  "                               (default ImageNet 0.485,0.456,0.406);\n"  \
  "                               needs --std\n"                            \
  "      --std R,G,B              float models: std (default ImageNet\n"    \
  "                               0.229,0.224,0.225)\n"

/* What the four options set; zero = the defaults. */
typedef struct cli_model_opts {
  uint32_t resize; /* --resize: shorter side, 0 = from the crop */
  uint32_t crop;   /* --crop: square crop, 0 = the model's input */
  float mean[3];   /* --mean R,G,B */
  float std[3];    /* --std R,G,B */
  bool has_mean;   /* --mean given */
  bool has_std;    /* --std given */
} cli_model_opts;

struct ims_classifier_options;

/* Apply option `c` (getopt_long's result; `arg` its value) of command
 * `cmd` to *o. Returns 0 if applied, -1 after printing why the value is
 * wrong, 1 if `c` is not one of these options. */
int cli_model_option(const char *cmd, cli_model_opts *o, int c,
                     const char *arg);

/* After parsing: --mean without --std, or --resize below --crop, is a
 * usage error (printed; returns -1). Else 0. */
int cli_model_opts_check(const char *cmd, const cli_model_opts *o);

/* Copy *o into the classifier options (preprocess sizes, mean/std). */
void cli_model_opts_apply(const cli_model_opts *o,
                          struct ims_classifier_options *co);

/* ---- resource limits (cli_limits.c, docs/SECURITY.md) ---- */

/* Option ids of the limits; each subcommand puts the CLI_LIMIT_* entries
 * it takes into its alphasorted long-option table. */
enum {
  CLI_OPT_MAX_BATCH_BYTES = 600, CLI_OPT_MAX_FILE_BYTES,
  CLI_OPT_MAX_MODEL_BYTES, CLI_OPT_MAX_OPERATORS, CLI_OPT_MAX_PIXELS,
  CLI_OPT_MAX_TENSORS
};

#define CLI_LIMIT_BATCH_BYTES \
  {"max-batch-bytes", required_argument, NULL, CLI_OPT_MAX_BATCH_BYTES}
#define CLI_LIMIT_FILE_BYTES \
  {"max-file-bytes", required_argument, NULL, CLI_OPT_MAX_FILE_BYTES}
#define CLI_LIMIT_MODEL_BYTES \
  {"max-model-bytes", required_argument, NULL, CLI_OPT_MAX_MODEL_BYTES}
#define CLI_LIMIT_OPERATORS \
  {"max-operators", required_argument, NULL, CLI_OPT_MAX_OPERATORS}
#define CLI_LIMIT_PIXELS \
  {"max-pixels", required_argument, NULL, CLI_OPT_MAX_PIXELS}
#define CLI_LIMIT_TENSORS \
  {"max-tensors", required_argument, NULL, CLI_OPT_MAX_TENSORS}

#define CLI_LIMITS_HELP                                                    \
  "resource limits (docs/SECURITY.md; exceeding one fails that input):\n" \
  "      --max-file-bytes N       largest image file or message body\n"    \
  "                               (default 512 MiB)\n"                     \
  "      --max-model-bytes N      largest model file (default 1 GiB)\n"    \
  "      --max-tensors N          tensors in a model (default 100000)\n"   \
  "      --max-operators N        operators in a model (default 100000)\n" \
  "      --max-batch-bytes N      memory for one batch's inputs and\n"     \
  "                               scores (default 2 GiB)\n"

struct ims_limits;

/* Apply limit option `c` (optarg its value) to *l. Returns 1 if c was a
 * limit option and its value is good, -1 if its value is bad (message
 * printed, prefixed "imgstream CMD:"), 0 if c is not a limit option. */
int cli_limits_option(const char *cmd, int c, struct ims_limits *l);

/* ---- model location (locate.c) ---- */

#define CLI_DEFAULT_MODEL "mobilenet_v2_1.0_224_quant.tflite"
#define CLI_DEFAULT_LABELS "imagenet_class_index.json"
/* Where scripts/fetch-model gets the default model: google-coral/test_data,
 * the origin of the copy in ../shared/models that the tests check against,
 * and that copy's SHA-256. */
#define CLI_MODEL_URL                                                  \
  "https://github.com/google-coral/test_data/raw/master/"              \
  "mobilenet_v2_1.0_224_quant.tflite"
#define CLI_MODEL_SHA256                                               \
  "7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776"

#define CLI_PATH_MAX 4096
#define CLI_MAX_DIRS 5

/* The models directories searched, in order: $IMGSTREAM_MODELS, the source
 * tree's ../shared/models, ./../shared/models, the per-user cache. */
typedef struct cli_dirs {
  char dir[CLI_MAX_DIRS][CLI_PATH_MAX]; /* candidate directories */
  size_t count;                         /* entries used */
} cli_dirs;

/* Fill *dirs with the candidate models directories. Never fails; entries
 * whose environment variables are unset are left out. */
void cli_models_dirs(cli_dirs *dirs);

/* Find `name` in the first directory of *dirs that has it; writes the full
 * path to out (size CLI_PATH_MAX). Returns 0 if found, -1 if not. */
int cli_find_in_dirs(const cli_dirs *dirs, const char *name, char *out);

/* Resolve the labels file: the default name next to `model_path`, else in
 * the models directories. Returns 0 and writes out, or -1. */
int cli_find_labels(const char *model_path, const cli_dirs *dirs, char *out);

/* Print "looked in:" and every directory of *dirs to `f`. */
void cli_print_dirs(FILE *f, const cli_dirs *dirs, const char *name);

/* ---- cli_head.c ---- */

/* The learned head at `path` for classifier clf (made with features):
 * loaded, with its identity checked against the model; with `create`, a
 * new empty head when the file does not exist. On failure explains on
 * stderr (naming the file) and returns IMS_EXIT_MODEL (IMS_EXIT_FAILED
 * out of memory); else 0 and *out (free with ims_head_destroy). */
struct ims_classifier;
struct ims_head;
int cli_open_head(const char *cmd, const char *path,
                  struct ims_classifier *clf, uint32_t max_classes,
                  bool create, struct ims_head **out);

/* ---- cli_http.c ---- */

struct ims_metrics;
struct ims_http_server;
typedef struct cli_http {
  struct ims_metrics *metrics;    /* owned: what the server serves */
  struct ims_http_server *server; /* owned */
} cli_http;

/* --http BIND for command `cmd`: a registry (its /api/info says `mode`,
 * "stream" or "results", and `source`) served on BIND, not ready yet,
 * announced on stderr. 0, or IMS_EXIT_USAGE (malformed BIND) /
 * IMS_EXIT_FAILED (cannot listen) after explaining on stderr. */
int cli_http_start(const char *cmd, const char *bind, const char *mode,
                   const char *source, cli_http *out);

/* Stop the server, then free the registry. A zeroed h is a no-op. */
void cli_http_stop(cli_http *h);

/* Resolve --model and --labels (NULL = the defaults, searched as above)
 * into model_out and labels_out (CLI_PATH_MAX bytes each). Returns 0, or
 * IMS_EXIT_MODEL after explaining on stderr where it looked and how to get
 * the model. */
int cli_resolve_model(const char *model, const char *labels,
                      char *model_out, char *labels_out);

#endif /* IMS_CLI_CLI_INT_H */
