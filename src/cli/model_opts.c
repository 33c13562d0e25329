/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model_opts.c - the options that fit an image to the model, shared by
 * `imgstream classify` and `imgstream stream` so both accept and reject
 * them the same way: --resize N (shorter side), --crop N (the model's
 * input size, square), --mean R,G,B and --std R,G,B (float models: the
 * normalization of the [0,1] pixels; torchvision's ImageNet values by
 * default).
 *
 * Each command lists the four long options in its own alphasorted table
 * with the CLI_OPT_* ids of cli_int.h, passes getopt's result here
 * (cli_model_option), checks the set once parsing is done
 * (cli_model_opts_check) and copies it into its classifier options
 * (cli_model_opts_apply). The library checks the values against the
 * model (crop must be its input size, resize at least the crop).
 *
 * Threading: the tool is single-threaded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"
#include "imgstream/classifier.h"

/* "R,G,B" -> three floats; std values must be positive. */
static int parse_rgb(const char *cmd, const char *name, const char *arg,
                     bool positive, float *out) {
  const char *p = arg;
  for (int c = 0; c < 3; c++) {
    char *end = NULL;
    errno = 0;
    float v = strtof(p, &end);
    bool sep_ok = c < 2 ? *end == ',' : *end == '\0';
    if (errno != 0 || end == p || !sep_ok || !(v > -1e6f && v < 1e6f) ||
        (positive && !(v > 0.0f))) {
      fprintf(stderr,
              "imgstream %s: --%s wants three numbers R,G,B%s, not '%s'\n", cmd,
              name, positive ? " above 0" : "", arg);
      return -1;
    }
    out[c] = v;
    p = end + 1;
  }
  return 0;
}

static int parse_u32(const char *cmd, const char *name, const char *arg,
                     uint64_t max, uint32_t *out) {
  uint64_t v = 0;
  if (cli_parse_u64(cmd, name, arg, 1, max, &v) != 0) return -1;
  *out = (uint32_t)v;
  return 0;
}

int cli_model_option(const char *cmd, cli_model_opts *o, int c,
                     const char *arg) {
  switch (c) {
    case CLI_OPT_CROP:
      return parse_u32(cmd, "crop", arg, 8192, &o->crop);
    case CLI_OPT_MEAN:
      o->has_mean = true;
      return parse_rgb(cmd, "mean", arg, false, o->mean);
    case CLI_OPT_RESIZE:
      return parse_u32(cmd, "resize", arg, 65536, &o->resize);
    case CLI_OPT_STD:
      o->has_std = true;
      return parse_rgb(cmd, "std", arg, true, o->std);
    default:
      return 1;
  }
}

int cli_model_opts_check(const char *cmd, const cli_model_opts *o) {
  /* A mean alone would silently pair with the ImageNet std. */
  if (o->has_mean && !o->has_std) {
    fprintf(stderr, "imgstream %s: --mean needs --std too\n", cmd);
    return -1;
  }
  if (o->resize != 0 && o->crop != 0 && o->resize < o->crop) {
    fprintf(stderr,
            "imgstream %s: --resize %u is smaller than --crop %u: the crop "
            "would not fit\n",
            cmd, o->resize, o->crop);
    return -1;
  }
  return 0;
}

void cli_model_opts_apply(const cli_model_opts *o, ims_classifier_options *co) {
  co->preprocess.resize = o->resize;
  co->preprocess.crop_width = o->crop;
  co->preprocess.crop_height = o->crop;
  if (o->has_std) { /* --std alone keeps the ImageNet mean */
    static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
    memcpy(co->mean, o->has_mean ? o->mean : imagenet_mean, sizeof co->mean);
    memcpy(co->std, o->std, sizeof co->std);
  }
}
