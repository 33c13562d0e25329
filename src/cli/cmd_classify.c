/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_classify.c - `imgstream classify`: classify image files with a model,
 * printing the top-K ImageNet predictions per image (report.c formats them).
 * Folder arguments are walked for images (inputs.c); --accuracy ends the
 * run with top-1 accuracy against the images' folder names (report.c).
 *
 * --head FILE: the classes are a learned head's (imgstream/head.h, what
 * `stream --learn` wrote) instead of ImageNet's. The engine then gives
 * each image's features too; the head's probabilities of them, not the
 * model's scores, make the top-K, and the report names the classes by
 * the head's labels. The head must have been made with this model (its
 * fingerprint), feature layer and feature count, which ims_head_load
 * checks, else the run stops before any image, as for a bad model.
 *
 * Pipeline: one ims_classifier (model and labels loaded once, decoders
 * on --threads workers, one engine); then, for each chunk of up to --batch
 * images (input order), the classifier decodes + resizes + crops every
 * image into one buffer and runs the engine once for the whole chunk.
 * An image that fails to decode is reported and left out of the batch; the
 * run goes on, and the exit code is 1 at the end if any image failed.
 *
 * Not here: model lookup (locate.c), output formats (report.c), walking
 * folders (inputs.c), anything but the public API of libimgstream.
 *
 * Sections: 1. options  2. setup  3. the learned head  4. batches
 * 5. entry point
 *
 * Threading: main thread only; the engine runs on its own pool.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"
#include "cli/report_int.h"
#include "imgstream/classifier.h"
#include "imgstream/imgstream.h"

/* ---- 1. options ---- */

enum {
  OPT_MAX_PIXELS = 256, OPT_ACCURACY, OPT_FEATURES, OPT_FEATURE_LAYER,
  OPT_HEAD, OPT_MAX_CLASSES
};

/* Long options. MUST stay alphasorted by name. */
static const struct option long_options[] = {
    {"accuracy", no_argument, NULL, OPT_ACCURACY},
    {"batch", required_argument, NULL, 'b'},
    CLI_CONFIG_LONG_OPTION,
    {"crop", required_argument, NULL, CLI_OPT_CROP},
    {"feature-layer", required_argument, NULL, OPT_FEATURE_LAYER},
    {"features", no_argument, NULL, OPT_FEATURES},
    {"head", required_argument, NULL, OPT_HEAD},
    {"help", no_argument, NULL, 'h'},
    {"json", no_argument, NULL, 'j'},
    {"labels", required_argument, NULL, 'l'},
    CLI_LIMIT_BATCH_BYTES,
    {"max-classes", required_argument, NULL, OPT_MAX_CLASSES},
    CLI_LIMIT_FILE_BYTES,
    CLI_LIMIT_MODEL_BYTES,
    CLI_LIMIT_OPERATORS,
    {"max-pixels", required_argument, NULL, OPT_MAX_PIXELS},
    CLI_LIMIT_TENSORS,
    {"mean", required_argument, NULL, CLI_OPT_MEAN},
    {"model", required_argument, NULL, 'm'},
    {"resize", required_argument, NULL, CLI_OPT_RESIZE},
    {"std", required_argument, NULL, CLI_OPT_STD},
    {"threads", required_argument, NULL, 't'},
    {"top", required_argument, NULL, 'k'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0}};

#define SHORT_OPTIONS ":b:hjk:l:m:t:"
const cli_options cli_classify_options = {long_options, SHORT_OPTIONS};

#define DEFAULT_BATCH 16

typedef struct classify_opts {
  const char *model;    /* --model, NULL = search the models dirs */
  const char *labels;   /* --labels, NULL = next to the model */
  const char *head;     /* --head: a learned head's file, or NULL */
  const char *feature_layer; /* --feature-layer, NULL = from the graph */
  uint64_t max_classes; /* --max-classes: most classes a head may have */
  bool has_max_classes; /* --max-classes given */
  unsigned long top;    /* --top: predictions per image */
  unsigned long threads;/* --threads: 0 = all cores */
  unsigned long batch;  /* --batch: images per engine run */
  uint64_t max_pixels;  /* --max-pixels: decoder limit */
  cli_model_opts fit;   /* --resize, --crop, --mean, --std */
  ims_limits limits;    /* --max-*-bytes, --max-tensors, --max-operators */
  bool json;            /* --json */
  bool accuracy;        /* --accuracy */
  bool features;        /* --features (needs --json) */
  bool help;            /* --help */
  bool version;         /* --version */
} classify_opts;

static void usage(FILE *out) {
  fprintf(out,
      "usage: imgstream classify [options] IMAGE|FOLDER...\n\n"
      "Classify JPEG, PNG and BMP files; print the top-K ImageNet classes\n"
      "(WordNet id, name, probability) of each, in input order. A FOLDER\n"
      "is walked recursively for *.jpg, *.jpeg, *.png and *.bmp (any\n"
      "case), sorted by path; inside it, hidden names and links to\n"
      "folders are skipped.\n\n"
      "options:\n"
      "  -m, --model FILE     TFLite or ONNX model; default %s\n"
      "                       from the first of: $IMGSTREAM_MODELS,\n"
      "                       installed: <bin>/../share/imgstream/models\n"
      "                       (build tree: the source's ../shared/models),\n"
      "                       ../shared/models,\n"
      "                       ${XDG_CACHE_HOME:-~/.cache}/imgstream/models\n"
      "  -l, --labels FILE    Keras class-index JSON or one name per line;\n"
      "                       default %s next to\n"
      "                       the model, else in the directories above\n"
      "  -k, --top K          predictions per image (default 1)\n"
      "  -t, --threads N      inference threads (default: all cores)\n"
      "  -b, --batch N        images per inference run (default %d)\n"
      "      --max-pixels N   refuse larger images (default %u)\n"
      "  -j, --json           one JSON object per line instead of a table\n"
      "      --accuracy       end with the top-1 accuracy and a confusion\n"
      "                       matrix; an image's true label is its parent\n"
      "                       folder's name, matched against the top-1\n"
      "                       description\n"
      "      --features       with --json, also each image's penultimate\n"
      "                       features (the final classifier layer's\n"
      "                       input, as floats) as \"features\"\n"
      "      --head FILE      print the classes of a learned head (a file\n"
      "                       of 'imgstream stream --learn', made with\n"
      "                       this model) instead of ImageNet's: class\n"
      "                       and description are the head's label,\n"
      "                       scores its probabilities; --accuracy then\n"
      "                       counts over the head's classes\n"
      "      --feature-layer NAME\n"
      "                       with --features or --head: the tensor the\n"
      "                       features are read from (default: the final\n"
      "                       classifier layer's input); a head must have\n"
      "                       been learned on the same one\n"
      "      --max-classes N  with --head: refuse a head of more classes\n"
      "                       (default %u)\n"
      "      --config FILE    read options from FILE, 'key = value' lines\n"
      "                       (a long option without --); the command\n"
      "                       line wins\n"
      "  -h, --help           show this help\n"
      "      --version        show the version\n"
      "fitting images to the model (TFLite and ONNX alike):\n"
      CLI_MODEL_HELP "\n"
      CLI_LIMITS_HELP "\n"
      "A failed image is reported (stderr, or an \"error\" object with\n"
      "--json) and the run goes on; so is a folder without images (on\n"
      "stderr). Either makes the exit code 1.\n" CLI_EXIT_CODES_HELP,
      CLI_DEFAULT_MODEL, CLI_DEFAULT_LABELS, DEFAULT_BATCH,
      IMS_DEFAULT_MAX_PIXELS, IMS_HEAD_MAX_CLASSES_DEFAULT);
}

static int parse_ulong(const char *name, const char *arg, uint64_t min,
                       uint64_t max, unsigned long *out) {
  uint64_t v = 0;
  if (cli_parse_u64("classify", name, arg, min, max, &v) != 0) return -1;
  *out = (unsigned long)v;
  return 0;
}

/* Apply one option returned by getopt_long. Returns 0 or -1 (usage). */
static int apply_option(classify_opts *o, int c, char **argv) {
  switch (c) {
    case OPT_ACCURACY: o->accuracy = true; return 0;
    case 'b': return parse_ulong("batch", optarg, 1, 1024, &o->batch);
    case CLI_OPT_CONFIG: return 0; /* read by main.c (config.c) */
    case 'h': o->help = true; return 0;
    case 'j': o->json = true; return 0;
    case OPT_FEATURES: o->features = true; return 0;
    case OPT_FEATURE_LAYER: o->feature_layer = optarg; return 0;
    case OPT_HEAD: o->head = optarg; return 0;
    case OPT_MAX_CLASSES:
      o->has_max_classes = true;
      return cli_parse_u64("classify", "max-classes", optarg, 1, UINT32_MAX,
                           &o->max_classes);
    case 'l': o->labels = optarg; return 0;
    case OPT_MAX_PIXELS:
      return cli_parse_u64("classify", "max-pixels", optarg, 1, UINT64_MAX / 2,
                          &o->max_pixels);
    case 'm': o->model = optarg; return 0;
    case 't': return parse_ulong("threads", optarg, 1, 1024, &o->threads);
    case 'k': return parse_ulong("top", optarg, 1, 100000, &o->top);
    case 'V': o->version = true; return 0;
    case ':':
      fprintf(stderr, "imgstream classify: %s needs a value\n",
              argv[optind - 1]);
      return -1;
    default: {
      int r = cli_model_option("classify", &o->fit, c, optarg);
      if (r <= 0) return r; /* applied, or a bad value (printed) */
      int lim = cli_limits_option("classify", c, &o->limits);
      if (lim != 0) return lim > 0 ? 0 : -1;
      fprintf(stderr,
              "imgstream classify: unknown option '%s'; see "
              "'imgstream classify --help'\n",
              argv[optind - 1]);
      return -1;
    }
  }
}

/* Parse argv into *o; on return argv[optind..argc) are the images.
 * Returns 0 or -1 (usage error already printed). */
static int parse_options(const cli_config *cfg, classify_opts *o) {
  int argc = cfg->argc;
  char **argv = cfg->argv;
  memset(o, 0, sizeof *o);
  o->top = 1;
  o->batch = DEFAULT_BATCH;
  o->max_pixels = IMS_DEFAULT_MAX_PIXELS;
  o->max_classes = IMS_HEAD_MAX_CLASSES_DEFAULT;
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
  if (o->features && !o->json) {
    fprintf(stderr, "imgstream classify: --features needs --json\n");
    return -1;
  }
  if (o->feature_layer != NULL && !o->features && o->head == NULL) {
    fprintf(stderr,
            "imgstream classify: --feature-layer needs --features or "
            "--head\n");
    return -1;
  }
  if (o->has_max_classes && o->head == NULL) {
    fprintf(stderr, "imgstream classify: --max-classes needs --head\n");
    return -1;
  }
  return cli_model_opts_check("classify", &o->fit);
}

/* ---- 2. setup ---- */

/* Everything one run holds. */
typedef struct classify_ctx {
  ims_classifier *clf;      /* model + labels + decode pool + engine */
  ims_head *head;           /* --head, or NULL */
  float *probs;             /* --head: one probability per head class */
  ims_prediction *top;      /* top_k entries, for the report */
  size_t batch;             /* images per engine run */
  cli_report report;        /* output settings */
  bool print_features;      /* --features */
  bool any_failed;          /* some image failed */
} classify_ctx;

static int load_head(classify_ctx *c, const classify_opts *o);

/* Create the classifier for batches of min(nimages, --batch), and load
 * --head. Returns 0 or an exit code (message printed). */
static int create_pipeline(classify_ctx *c, const classify_opts *o,
                           size_t nimages) {
  char model_path[CLI_PATH_MAX], labels_path[CLI_PATH_MAX];
  int rc = cli_resolve_model(o->model, o->labels, model_path, labels_path);
  if (rc != 0) return rc;
  c->batch = nimages < o->batch ? nimages : o->batch;
  c->print_features = o->features;
  ims_classifier_options co;
  memset(&co, 0, sizeof co);
  co.model_path = model_path;
  co.labels_path = labels_path;
  co.threads = (uint32_t)o->threads;
  co.max_batch = (uint32_t)c->batch;
  /* with a head, the model's own ranking is not printed */
  co.top_k = o->head != NULL ? 1
                             : (uint32_t)(o->top < UINT32_MAX ? o->top
                                                               : UINT32_MAX);
  co.decode.max_pixels = o->max_pixels;
  cli_model_opts_apply(&o->fit, &co);
  if (o->features || o->head != NULL)
    co.engine_flags |= IMS_ENGINE_FLAG_FEATURES;
  co.feature_layer = o->feature_layer;
  co.limits = &o->limits;
  ims_error err = {0};
  ims_status st = ims_classifier_create(&co, &c->clf, &err);
  if (st == IMS_ERR_INVALID_ARG) {
    fprintf(stderr, "imgstream classify: %s\n", err.message);
    return IMS_EXIT_USAGE;
  }
  if (st != IMS_OK) {
    fprintf(stderr, "imgstream: %s\n", err.message);
    return st == IMS_ERR_NO_MEMORY ? IMS_EXIT_FAILED : IMS_EXIT_MODEL;
  }
  if (o->head != NULL) {
    rc = load_head(c, o);
    if (rc != 0) return rc;
  }
  c->top = calloc(o->top, sizeof *c->top);
  if (c->top == NULL) {
    fprintf(stderr, "imgstream: out of memory\n");
    return IMS_EXIT_FAILED;
  }
  return 0;
}

static void destroy_pipeline(classify_ctx *c) {
  ims_classifier_destroy(c->clf);
  ims_head_destroy(c->head);
  free(c->probs);
  free(c->top);
}

/* ---- 3. the learned head ---- */

static int head_error(const char *path, ims_status st, const char *why) {
  fprintf(stderr, "imgstream: cannot load learned head %s: %s\n", path,
          cli_strip_path(why, path));
  return st == IMS_ERR_NO_MEMORY ? IMS_EXIT_FAILED : IMS_EXIT_MODEL;
}

/* Load --head, checked against the classifier's model (its fingerprint),
 * feature layer and feature count, and --max-classes. Returns 0 or an
 * exit code (message printed): a head the run cannot use is as fatal as
 * a model it cannot load. */
static int load_head(classify_ctx *c, const classify_opts *o) {
  int rc = cli_open_head("classify", o->head, c->clf,
                         (uint32_t)o->max_classes, false, &c->head);
  if (rc != 0) return rc;
  size_t n = ims_head_class_count(c->head);
  if (n == 0)
    return head_error(o->head, IMS_ERR_BAD_HEAD, "it has learned no class");
  c->probs = calloc(n, sizeof *c->probs);
  if (c->probs == NULL)
    return head_error(o->head, IMS_ERR_NO_MEMORY, "out of memory");
  return 0;
}

/* The head's top-K for one image's features, into c->top. */
static size_t head_top(classify_ctx *c, const ims_class_result *r) {
  ims_head_predict(c->head, r->features, c->probs);
  return ims_top_k(c->probs, ims_head_class_count(c->head),
                   c->report.top_k, c->top);
}

/* ---- 4. batches ---- */

/* The model's top-K for one image, into c->top. */
static size_t model_top(classify_ctx *c, const ims_class_result *r) {
  for (size_t j = 0; j < r->k; j++) {
    c->top[j].index = r->top[j].index;
    c->top[j].score = r->top[j].score;
  }
  return r->k;
}

/* Report one image. Returns 0 or -1 (out of memory). */
static int report_image(classify_ctx *c, const char *path,
                        const ims_class_result *r) {
  cli_result res = {.path = path, .top = c->top};
  if (r->error.status != IMS_OK) {
    res.error = cli_strip_path(r->error.message, path);
    c->any_failed = true;
  } else {
    res.k = c->head != NULL ? head_top(c, r) : model_top(c, r);
    /* --head asks for features to predict with, not to print them */
    if (c->print_features) {
      res.features = r->features;
      res.feature_count = r->feature_count;
    }
  }
  return cli_report_result(&c->report, &res);
}

/* Classify paths[0..n), n <= batch: one engine run for all images that
 * decoded. If the engine fails, every image of the chunk fails with its
 * message. Returns 0 or -1 (out of memory while printing). */
static int classify_chunk(classify_ctx *c, char **paths, size_t n) {
  const ims_class_result *results = NULL;
  ims_error err = {0};
  ims_status st = ims_classifier_run_files(c->clf, n,
                                           (const char *const *)paths,
                                           &results, &err);
  for (size_t i = 0; i < n; i++) {
    ims_class_result failed = {.error = err};
    failed.error.status = st;
    if (report_image(c, paths[i], st == IMS_OK ? &results[i] : &failed) != 0)
      return -1;
  }
  cli_report_progress(&c->report);
  return 0;
}

/* Width of the table's path column: the longest path, within limits. */
static int path_width(char **paths, size_t n, size_t top_k) {
  size_t w = top_k > 1 ? 12 : 5;
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(paths[i]);
    if (top_k == 1 && len > w) w = len;
  }
  return (int)(w > 120 ? 120 : w);
}

/* ---- 5. entry point ---- */

/* Classify images[0..n) chunk by chunk, then print the accuracy if asked.
 * Returns 0 or -1 (out of memory). */
static int classify_all(classify_ctx *c, const classify_opts *o,
                        char **images, size_t n) {
  for (size_t i = 0; i < n && !ferror(stdout); i += c->batch) {
    size_t chunk = n - i < c->batch ? n - i : c->batch;
    if (classify_chunk(c, images + i, chunk) != 0) return -1;
  }
  if (o->accuracy && !ferror(stdout))
    return cli_report_accuracy(&c->report);
  return 0;
}

/* Run the whole job over images[0..n). Returns the exit code. */
static int classify_run(const classify_opts *o, char **images, size_t n) {
  classify_ctx c;
  memset(&c, 0, sizeof c);
  int rc = create_pipeline(&c, o, n);
  if (rc != 0) goto fail;
  const ims_labels *labels = ims_classifier_labels(c.clf);
  size_t nlabels = c.head != NULL ? ims_head_class_count(c.head)
                                  : ims_labels_count(labels);
  c.report.labels = labels;
  c.report.head = c.head;
  c.report.json = o->json;
  c.report.top_k = o->top < nlabels ? o->top : nlabels;
  c.report.path_width = path_width(images, n, c.report.top_k);
  c.report.progress = n > 1 && cli_report_want_progress();
  c.report.total = n;
  c.report.accuracy = o->accuracy;
  cli_report_begin(&c.report);
  if (classify_all(&c, o, images, n) != 0) {
    fprintf(stderr, "imgstream: out of memory\n");
    rc = IMS_EXIT_FAILED;
    goto fail;
  }
  rc = c.any_failed ? IMS_EXIT_FAILED : IMS_EXIT_OK;
fail:
  cli_report_end(&c.report);
  destroy_pipeline(&c);
  return rc;
}

int cmd_classify(const cli_config *cfg) {
  int argc = cfg->argc;
  char **argv = cfg->argv;
  classify_opts o;
  if (parse_options(cfg, &o) != 0) return IMS_EXIT_USAGE;
  if (cli_help_or_version(o.help, o.version, usage)) return IMS_EXIT_OK;
  if (optind >= argc) {
    fprintf(stderr, "imgstream classify: no images given; see "
                    "'imgstream classify --help'\n");
    return IMS_EXIT_USAGE;
  }
  cli_inputs in;
  int rc = IMS_EXIT_FAILED;
  if (cli_inputs_expand(&in, argv + optind, (size_t)(argc - optind)) != 0)
    fprintf(stderr, "imgstream: out of memory\n");
  else if (in.count > 0)
    rc = classify_run(&o, in.paths, in.count);
  /* a folder without images is a failed input, reported when walked */
  if (in.failed && rc == IMS_EXIT_OK) rc = IMS_EXIT_FAILED;
  cli_inputs_free(&in);
  return rc;
}
