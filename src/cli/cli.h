/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h - what the subcommands of the imgstream tool share: exit codes,
 * the subcommand entry points, model lookup and small output helpers.
 *
 * Not here: anything of the library; the tool uses only the public API in
 * include/imgstream/.
 *
 * Threading: the tool is single-threaded (the engine has its own pool).
 */
#ifndef IMS_CLI_CLI_H
#define IMS_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
  IMS_EXIT_OK = 0,      /* everything succeeded */
  IMS_EXIT_FAILED = 1,  /* the run finished, but some inputs failed */
  IMS_EXIT_USAGE = 2,   /* bad command line */
  IMS_EXIT_MODEL = 3,   /* model or labels could not be loaded */
  IMS_EXIT_OUTPUT = 4   /* writing the results failed */
};

/* The exit-code paragraph every --help prints (same text as main.c). */
#define CLI_EXIT_CODES_HELP                                          \
  "exit codes: 0 ok, 1 some inputs failed, 2 usage error,\n"         \
  "            3 model or labels unusable, 4 output not written\n"

int cmd_classify(int argc, char **argv);
int cmd_produce(int argc, char **argv);
int cmd_stream(int argc, char **argv);
int cmd_results(int argc, char **argv);

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

/* Resolve --model and --labels (NULL = the defaults, searched as above)
 * into model_out and labels_out (CLI_PATH_MAX bytes each). Returns 0, or
 * IMS_EXIT_MODEL after explaining on stderr where it looked and how to get
 * the model. */
int cli_resolve_model(const char *model, const char *labels,
                      char *model_out, char *labels_out);

#endif /* IMS_CLI_CLI_H */
