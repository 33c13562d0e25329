/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seeds_head.c - the learned-head part of the fuzz_seeds tool: small
 * valid head files (feature_count 4..16, a few hundred bytes to 3 KB)
 * made through the public API (imgstream/head.h), one per kind of state
 * the format has, so the fuzzer mutates every section:
 *   empty_d4        no class, no sample
 *   pending_d4      2 classes, 3 samples all pending a fold, no refit
 *   precision_d8    3 classes, 40 samples: a precision matrix, 8 pending
 *   folded_d16      4 classes, 64 samples: nothing pending
 *   ncm_d6          nearest class mean (never a precision matrix)
 *   nosqrt_layer_d5 NO_SQRT, a named feature layer
 *   nine_classes_d4 9 classes (over fuzz_head.c's expect->max_classes)
 *   other_model_d4  another model identity than fuzz_head.c expects
 * Each is decoded back (ims_head_decode); the tool fails otherwise.
 *
 * Threading: single-threaded tool.
 */
#include <stdio.h>
#include <stdlib.h>

#include "imgstream/head.h"

int fuzz_seeds_head(const char *outdir);

#define SEED_MODEL "sha256:fuzz-seed-model" /* fuzz_head.c's FUZZ_MODEL */

typedef struct head_seed {
  const char *name;
  const char *model;
  const char *layer;
  uint32_t d, flags, classes, samples;
} head_seed;

static const head_seed seeds[] = {
    {"empty_d4", SEED_MODEL, "", 4, 0, 0, 0},
    {"pending_d4", SEED_MODEL, "", 4, 0, 2, 3},
    {"precision_d8", SEED_MODEL, "", 8, 0, 3, 40},
    {"folded_d16", SEED_MODEL, "", 16, 0, 4, 64},
    {"ncm_d6", SEED_MODEL, "", 6, IMS_HEAD_FLAG_NCM, 3, 20},
    {"nosqrt_layer_d5", SEED_MODEL, "pool/x", 5, IMS_HEAD_FLAG_NO_SQRT, 2,
     25},
    {"nine_classes_d4", SEED_MODEL, "", 4, 0, 9, 30},
    {"other_model_d4", "sha256:another-model", "", 4, 0, 2, 12},
};

/* Learn s->samples samples, sample i of class i % classes: a class
 * pattern plus a deterministic wobble. 0 or -1. */
static int learn(ims_head *h, const head_seed *s) {
  float x[16];
  char label[16];
  for (uint32_t i = 0; i < s->samples; i++) {
    uint32_t c = i % s->classes;
    for (uint32_t j = 0; j < s->d; j++)
      x[j] = (float)((j + c) % 3) + (float)((i * 13 + j * 7) % 10) / 20.0f;
    snprintf(label, sizeof label, "class%u", c);
    const float *row = x;
    const char *lab = label;
    ims_head_result r;
    ims_error err = {0};
    if (ims_head_step(h, 1, &row, &lab, &r, &err) != IMS_OK) return -1;
  }
  return 0;
}

/* Make, check and write one seed. 0 or 1. */
static int emit(const char *dir, const head_seed *s) {
  ims_head_options o = {.model_id = s->model, .feature_layer = s->layer,
                        .feature_count = s->d, .flags = s->flags};
  ims_head *h = NULL, *back = NULL;
  ims_error err = {0};
  void *data = NULL;
  size_t size = 0;
  int bad = ims_head_create(&o, &h, &err) != IMS_OK || learn(h, s) != 0 ||
            ims_head_encode(h, &data, &size, &err) != IMS_OK ||
            ims_head_decode(data, size, NULL, &back, &err) != IMS_OK;
  ims_head_destroy(h);
  ims_head_destroy(back);
  char path[4200]; /* dir is at most 4095 bytes, the names short */
  snprintf(path, sizeof path, "%s/%s.head", dir, s->name);
  FILE *f = bad ? NULL : fopen(path, "wb");
  if (f == NULL || fwrite(data, 1, size, f) != size) bad = 1;
  if (f != NULL && fclose(f) != 0) bad = 1;
  if (bad) fprintf(stderr, "%s: seed not made: %s\n", path, err.message);
  free(data);
  return bad;
}

/* Write OUTDIR/head/<name>.head; 0 if every seed was written. */
int fuzz_seeds_head(const char *outdir) {
  char dir[4096];
  int bad = 0;
  snprintf(dir, sizeof dir, "%s/head", outdir);
  for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++)
    bad |= emit(dir, &seeds[k]);
  return bad;
}
