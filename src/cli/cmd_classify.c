/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_classify.c - `imgstream classify`: classify image files with a model,
 * printing the top-K ImageNet predictions per image (report.c formats them).
 *
 * Pipeline: load the model and labels once, create one engine and one
 * batch preprocessor (decoders on --threads workers); then, for each chunk
 * of up to --batch images (input order), decode + resize + crop every image
 * into one contiguous buffer and run the engine once for the whole chunk.
 * An image that fails to decode is reported and left out of the batch; the
 * run goes on, and the exit code is 1 at the end if any image failed.
 *
 * Not here: model lookup (locate.c), output formats (report.c), anything
 * but the public API of libimgstream.
 *
 * Sections: 1. options  2. setup  3. batches  4. entry point
 *
 * Threading: main thread only; the engine runs on its own pool.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/report.h"
#include "imgstream/imgstream.h"

/* ---- 1. options ---- */

enum { OPT_CROP = 256, OPT_MAX_PIXELS, OPT_RESIZE };

/* Long options. MUST stay alphasorted by name. */
static const struct option long_options[] = {
    {"batch", required_argument, NULL, 'b'},
    {"crop", required_argument, NULL, OPT_CROP},
    {"help", no_argument, NULL, 'h'},
    {"json", no_argument, NULL, 'j'},
    {"labels", required_argument, NULL, 'l'},
    {"max-pixels", required_argument, NULL, OPT_MAX_PIXELS},
    {"model", required_argument, NULL, 'm'},
    {"resize", required_argument, NULL, OPT_RESIZE},
    {"threads", required_argument, NULL, 't'},
    {"top", required_argument, NULL, 'k'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0}};

#define DEFAULT_BATCH 16

typedef struct classify_opts {
  const char *model;    /* --model, NULL = search the models dirs */
  const char *labels;   /* --labels, NULL = next to the model */
  unsigned long top;    /* --top: predictions per image */
  unsigned long threads;/* --threads: 0 = all cores */
  unsigned long batch;  /* --batch: images per engine run */
  unsigned long resize; /* --resize: shorter side, 0 = from the crop */
  unsigned long crop;   /* --crop: square crop, 0 = the model's input */
  uint64_t max_pixels;  /* --max-pixels: decoder limit */
  bool json;            /* --json */
  bool help;            /* --help */
  bool version;         /* --version */
} classify_opts;

static void usage(FILE *out) {
  fprintf(out,
      "usage: imgstream classify [options] IMAGE...\n\n"
      "Classify JPEG, PNG and BMP files; print the top-K ImageNet classes\n"
      "(WordNet id, name, probability) of each, in input order.\n\n"
      "options:\n"
      "  -m, --model FILE     TFLite model; default %s\n"
      "                       from the first of: $IMGSTREAM_MODELS, the\n"
      "                       source tree's ../shared/models, ../shared/models,\n"
      "                       ${XDG_CACHE_HOME:-~/.cache}/imgstream/models\n"
      "  -l, --labels FILE    Keras class-index JSON or one name per line;\n"
      "                       default %s next to\n"
      "                       the model, else in the directories above\n"
      "  -k, --top K          predictions per image (default 1)\n"
      "  -t, --threads N      inference threads (default: all cores)\n"
      "  -b, --batch N        images per inference run (default %d)\n"
      "      --resize N       shorter side after resizing (default 256)\n"
      "      --crop N         center crop (default: the model's input, 224)\n"
      "      --max-pixels N   refuse larger images (default %u)\n"
      "  -j, --json           one JSON object per line instead of a table\n"
      "  -h, --help           show this help\n"
      "      --version        show the version\n\n"
      "A failed image is reported (stderr, or an \"error\" object with\n"
      "--json) and the run goes on.\n" CLI_EXIT_CODES_HELP,
      CLI_DEFAULT_MODEL, CLI_DEFAULT_LABELS, DEFAULT_BATCH,
      IMS_DEFAULT_MAX_PIXELS);
}

/* Parse a decimal number in [min, max] for option `name`. Returns 0, or -1
 * after printing a usage error. */
static int parse_number(const char *name, const char *arg, uint64_t min,
                        uint64_t max, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(arg, &end, 10);
  if (arg[0] == '-' || arg[0] == '\0' || *end != '\0' || errno != 0 ||
      v < min || v > max) {
    fprintf(stderr,
            "imgstream classify: --%s wants a number from %" PRIu64
            " to %" PRIu64 ", got '%s'\n",
            name, min, max, arg);
    return -1;
  }
  *out = v;
  return 0;
}

static int parse_ulong(const char *name, const char *arg, uint64_t min,
                       uint64_t max, unsigned long *out) {
  uint64_t v = 0;
  if (parse_number(name, arg, min, max, &v) != 0) return -1;
  *out = (unsigned long)v;
  return 0;
}

/* Apply one option returned by getopt_long. Returns 0 or -1 (usage). */
static int apply_option(classify_opts *o, int c, char **argv) {
  switch (c) {
    case 'b': return parse_ulong("batch", optarg, 1, 1024, &o->batch);
    case OPT_CROP: return parse_ulong("crop", optarg, 1, 8192, &o->crop);
    case 'h': o->help = true; return 0;
    case 'j': o->json = true; return 0;
    case 'l': o->labels = optarg; return 0;
    case OPT_MAX_PIXELS:
      return parse_number("max-pixels", optarg, 1, UINT64_MAX / 2,
                          &o->max_pixels);
    case 'm': o->model = optarg; return 0;
    case OPT_RESIZE: return parse_ulong("resize", optarg, 1, 65536, &o->resize);
    case 't': return parse_ulong("threads", optarg, 1, 1024, &o->threads);
    case 'k': return parse_ulong("top", optarg, 1, 100000, &o->top);
    case 'V': o->version = true; return 0;
    case ':':
      fprintf(stderr, "imgstream classify: %s needs a value\n",
              argv[optind - 1]);
      return -1;
    default:
      fprintf(stderr,
              "imgstream classify: unknown option '%s'; see "
              "'imgstream classify --help'\n",
              argv[optind - 1]);
      return -1;
  }
}

/* Parse argv into *o; on return argv[optind..argc) are the images.
 * Returns 0 or -1 (usage error already printed). */
static int parse_options(int argc, char **argv, classify_opts *o) {
  memset(o, 0, sizeof *o);
  o->top = 1;
  o->batch = DEFAULT_BATCH;
  o->max_pixels = IMS_DEFAULT_MAX_PIXELS;
  optind = 1;
  opterr = 0;
  for (;;) {
    int c = getopt_long(argc, argv, ":b:hjk:l:m:t:", long_options, NULL);
    if (c == -1) break;
    if (apply_option(o, c, argv) != 0) return -1;
  }
  return 0;
}

/* ---- 2. setup ---- */

/* Everything one run holds. */
typedef struct classify_ctx {
  ims_model *model;         /* the loaded network */
  ims_labels *labels;       /* class names */
  ims_engine *engine;       /* executor, max_batch = batch */
  ims_batch_prep *prep;     /* files -> resized, cropped HWC, threaded */
  ims_model_info info;      /* the model's input and output */
  size_t offset;            /* outputs before label 0 (background) */
  size_t batch;             /* images per engine run */
  size_t image_bytes;       /* H*W*3 of one preprocessed image */
  uint8_t *pixels;          /* batch * image_bytes */
  float *scores;            /* batch * output_count */
  ims_prediction *top;      /* top_k entries */
  ims_error *errors;        /* batch entries: why image i failed */
  long *slot;               /* batch entries: batch slot of image i or -1 */
  cli_report report;        /* output settings */
  bool any_failed;          /* some image failed */
} classify_ctx;

/* A library message often starts with the path it is about; drop that
 * prefix when we print the path ourselves. */
static const char *strip_path(const char *msg, const char *path) {
  size_t n = strlen(path);
  if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
    return msg + n + 2;
  return msg;
}

/* Resolve the model path into buf. Returns 0, or IMS_EXIT_MODEL after
 * explaining where it looked and how to get the model. */
static int find_model(const classify_opts *o, const cli_dirs *dirs,
                      char *buf) {
  if (o->model != NULL) {
    snprintf(buf, CLI_PATH_MAX, "%s", o->model);
    return 0;
  }
  if (cli_find_in_dirs(dirs, CLI_DEFAULT_MODEL, buf) == 0) return 0;
  fprintf(stderr, "imgstream: no model given and the default is missing\n");
  cli_print_dirs(stderr, dirs, CLI_DEFAULT_MODEL);
  fprintf(stderr,
          "to get it, run scripts/fetch-model: it downloads\n  %s\n"
          "(SHA-256 %s)\n"
          "into the last directory above and verifies it; or pass "
          "--model FILE\n",
          CLI_MODEL_URL, CLI_MODEL_SHA256);
  return IMS_EXIT_MODEL;
}

/* Load the model and the labels and check that they fit each other.
 * Returns 0 or IMS_EXIT_MODEL (message printed). */
static int load_model(classify_ctx *c, const classify_opts *o) {
  cli_dirs dirs;
  char model_path[CLI_PATH_MAX], labels_path[CLI_PATH_MAX];
  ims_error err = {0};
  cli_models_dirs(&dirs);
  if (find_model(o, &dirs, model_path) != 0) return IMS_EXIT_MODEL;
  if (ims_model_load_file(model_path, &c->model, &err) != IMS_OK) {
    fprintf(stderr, "imgstream: cannot load model %s: %s\n", model_path,
            strip_path(err.message, model_path));
    return IMS_EXIT_MODEL;
  }
  ims_model_get_info(c->model, &c->info);
  if (o->labels != NULL) {
    snprintf(labels_path, sizeof labels_path, "%s", o->labels);
  } else if (cli_find_labels(model_path, &dirs, labels_path) != 0) {
    fprintf(stderr, "imgstream: no label file given and the default is "
                    "missing; pass --labels FILE\n");
    cli_print_dirs(stderr, &dirs, CLI_DEFAULT_LABELS);
    return IMS_EXIT_MODEL;
  }
  if (ims_labels_load_file(labels_path, &c->labels, &err) != IMS_OK ||
      ims_labels_output_offset(c->labels, c->info.output_count, &c->offset,
                               &err) != IMS_OK) {
    fprintf(stderr, "imgstream: labels %s do not fit model %s: %s\n",
            labels_path, model_path, strip_path(err.message, labels_path));
    return IMS_EXIT_MODEL;
  }
  return 0;
}

/* Check --crop/--resize against the model's input and fill the
 * preprocessing options. Returns 0 or IMS_EXIT_USAGE. */
static int preprocess_options(const classify_ctx *c, const classify_opts *o,
                              ims_preprocess_options *pp) {
  uint32_t w = c->info.input_width, h = c->info.input_height;
  if (o->crop != 0 && (o->crop != w || o->crop != h)) {
    fprintf(stderr,
            "imgstream classify: the model takes %" PRIu32 "x%" PRIu32
            " images; --crop %lu does not fit it\n", w, h, o->crop);
    return IMS_EXIT_USAGE;
  }
  uint32_t side = w > h ? w : h;
  /* Default: keep torchvision's 256/224 ratio for other input sizes. */
  uint32_t resize = o->resize != 0 ? (uint32_t)o->resize
                                   : (side * 256u + 223u) / 224u;
  if (resize < side) {
    fprintf(stderr,
            "imgstream classify: --resize %" PRIu32 " is smaller than the "
            "%" PRIu32 "x%" PRIu32 " crop\n", resize, w, h);
    return IMS_EXIT_USAGE;
  }
  memset(pp, 0, sizeof *pp);
  pp->resize = resize;
  pp->crop_width = w;
  pp->crop_height = h;
  return 0;
}

/* Create engine, decoder, preprocessor and buffers for `nimages` images.
 * Returns 0 or an exit code (message printed). */
static int create_pipeline(classify_ctx *c, const classify_opts *o,
                           size_t nimages) {
  ims_error err = {0};
  ims_preprocess_options pp;
  int rc = preprocess_options(c, o, &pp);
  if (rc != 0) return rc;
  c->batch = nimages < o->batch ? nimages : o->batch;
  ims_engine_options eo = {0};
  eo.threads = (uint32_t)o->threads;
  eo.max_batch = (uint32_t)c->batch;
  if (ims_engine_create(c->model, &eo, &c->engine, &err) != IMS_OK) {
    fprintf(stderr, "imgstream: cannot run the model: %s\n", err.message);
    return IMS_EXIT_MODEL;
  }
  ims_decode_options dopt = {0};
  dopt.max_pixels = o->max_pixels;
  if (ims_batch_prep_create(&dopt, &pp, (uint32_t)o->threads, &c->prep,
                            &err) != IMS_OK) {
    fprintf(stderr, "imgstream: %s\n", err.message);
    return IMS_EXIT_FAILED;
  }
  c->image_bytes = ims_batch_prep_image_bytes(c->prep);
  c->pixels = malloc(c->batch * c->image_bytes);
  c->scores = calloc(c->batch * c->info.output_count, sizeof *c->scores);
  c->top = calloc(o->top, sizeof *c->top);
  c->errors = calloc(c->batch, sizeof *c->errors);
  c->slot = calloc(c->batch, sizeof *c->slot);
  if (c->pixels == NULL || c->scores == NULL || c->top == NULL ||
      c->errors == NULL || c->slot == NULL) {
    fprintf(stderr, "imgstream: out of memory\n");
    return IMS_EXIT_FAILED;
  }
  return 0;
}

static void destroy_pipeline(classify_ctx *c) {
  ims_engine_destroy(c->engine);
  ims_batch_prep_destroy(c->prep);
  ims_labels_destroy(c->labels);
  ims_model_destroy(c->model);
  free(c->pixels);
  free(c->scores);
  free(c->top);
  free(c->errors);
  free(c->slot);
}

/* ---- 3. batches ---- */

/* Decode and preprocess paths[0..n) into c->pixels, then move the images
 * that succeeded to the front so the engine sees only those; slot[i] is
 * image i's place in the packed batch, or -1. Returns the packed count. */
static size_t prepare_images(classify_ctx *c, char **paths, size_t n) {
  ims_batch_prep_files(c->prep, n, (const char *const *)paths, c->pixels,
                       c->errors);
  size_t used = 0;
  for (size_t i = 0; i < n; i++) {
    c->slot[i] = -1;
    if (c->errors[i].status != IMS_OK) continue;
    if (used != i)
      memmove(c->pixels + used * c->image_bytes,
              c->pixels + i * c->image_bytes, c->image_bytes);
    c->slot[i] = (long)used++;
  }
  return used;
}

/* Report image i of the chunk. Returns 0 or -1 (out of memory). */
static int report_image(classify_ctx *c, const char *path, size_t i) {
  cli_result res = {path, NULL, c->top, 0};
  if (c->slot[i] < 0) {
    res.error = strip_path(c->errors[i].message, path);
    c->any_failed = true;
  } else {
    const float *s = c->scores + (size_t)c->slot[i] * c->info.output_count;
    size_t n = c->info.output_count - c->offset;
    res.k = ims_top_k(s + c->offset, n, c->report.top_k, c->top);
  }
  return cli_report_result(&c->report, &res);
}

/* Classify paths[0..n), n <= batch: one engine run for all images that
 * decoded. Returns 0 or -1 (out of memory while printing). */
static int classify_chunk(classify_ctx *c, char **paths, size_t n) {
  size_t used = prepare_images(c, paths, n);
  ims_error err = {0};
  if (used > 0 &&
      ims_engine_run(c->engine, c->pixels, used, c->scores, &err) != IMS_OK) {
    for (size_t i = 0; i < n; i++) {
      if (c->slot[i] >= 0) c->errors[i] = err;
      c->slot[i] = -1;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (report_image(c, paths[i], i) != 0) return -1;
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

/* ---- 4. entry point ---- */

/* Run the whole job over images[0..n). Returns the exit code. */
static int classify_run(const classify_opts *o, char **images, size_t n) {
  classify_ctx c;
  memset(&c, 0, sizeof c);
  int rc = load_model(&c, o);
  if (rc == 0) rc = create_pipeline(&c, o, n);
  if (rc != 0) goto fail;
  size_t nlabels = ims_labels_count(c.labels);
  c.report.labels = c.labels;
  c.report.json = o->json;
  c.report.top_k = o->top < nlabels ? o->top : nlabels;
  c.report.path_width = path_width(images, n, c.report.top_k);
  c.report.progress = n > 1 && cli_report_want_progress();
  c.report.total = n;
  cli_report_begin(&c.report);
  for (size_t i = 0; i < n && !ferror(stdout); i += c.batch) {
    size_t chunk = n - i < c.batch ? n - i : c.batch;
    if (classify_chunk(&c, images + i, chunk) != 0) {
      fprintf(stderr, "imgstream: out of memory\n");
      rc = IMS_EXIT_FAILED;
      goto fail;
    }
  }
  rc = c.any_failed ? IMS_EXIT_FAILED : IMS_EXIT_OK;
fail:
  cli_report_end(&c.report);
  destroy_pipeline(&c);
  return rc;
}

int cmd_classify(int argc, char **argv) {
  classify_opts o;
  if (parse_options(argc, argv, &o) != 0) return IMS_EXIT_USAGE;
  if (o.help) {
    usage(stdout);
    return IMS_EXIT_OK;
  }
  if (o.version) {
    printf("imgstream %s\n", ims_version());
    return IMS_EXIT_OK;
  }
  if (optind >= argc) {
    fprintf(stderr, "imgstream classify: no images given; see "
                    "'imgstream classify --help'\n");
    return IMS_EXIT_USAGE;
  }
  return classify_run(&o, argv + optind, (size_t)(argc - optind));
}
