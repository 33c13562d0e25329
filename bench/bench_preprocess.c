/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_preprocess.c - time ims_preprocess alone (resize 256 + center crop
 * 224) over a folder of images decoded once into memory.
 *
 *   bench_preprocess [--data DIR] [--rounds N] [--path NAME]
 *
 * DIR holds class folders of images (default ../shared/data/flowers,
 * relative to the source tree). Every image is decoded at full size
 * first; then each round preprocesses all of them, and the best and
 * median round are printed as milliseconds per image. NAME forces the
 * kernels (auto, scalar, sse41, avx2, avx512; see image/preprocess_int.h).
 *
 * The last line is an FNV-1a hash of every output byte of one round, so
 * runs with different --path values can be compared for equality.
 *
 * Not here: decoding speed, threads (see bench_classify).
 *
 * Threading: single-threaded.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image/preprocess_int.h"
#include "imgstream/image.h"

#define MAX_IMAGES 4096
#define OUT_BYTES (224 * 224 * 3)

typedef struct dataset {
  ims_image images[MAX_IMAGES]; /* decoded copies; pixels owned here */
  size_t count;                 /* used entries */
  double pixels;                /* sum of width * height */
} dataset;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, const ims_error *err) {
  fprintf(stderr, "bench_preprocess: %s: %s\n", what, err->message);
  exit(1);
}

/* Decode one file and keep a private copy of its pixels. */
static void add_image(ims_decoder *dec, const char *path, dataset *ds) {
  ims_error err;
  ims_image im;
  if (ims_decoder_decode_file(dec, path, &im, &err) != IMS_OK) {
    fprintf(stderr, "bench_preprocess: skip %s: %s\n", path, err.message);
    return;
  }
  size_t n = im.stride * im.height;
  uint8_t *copy = malloc(n);
  if (copy == NULL) {
    fprintf(stderr, "bench_preprocess: out of memory\n");
    exit(1);
  }
  memcpy(copy, im.pixels, n);
  im.pixels = copy;
  ds->images[ds->count++] = im;
  ds->pixels += (double)im.width * im.height;
}

/* Every regular file one level below `dir` (the class folders). */
static void load_dataset(const char *dir, dataset *ds) {
  ims_error err;
  ims_decoder *dec = NULL;
  if (ims_decoder_create(NULL, &dec, &err) != IMS_OK) die("decoder", &err);
  DIR *top = opendir(dir);
  if (top == NULL) {
    fprintf(stderr, "bench_preprocess: cannot open %s\n", dir);
    exit(1);
  }
  struct dirent *c;
  while ((c = readdir(top)) != NULL && ds->count < MAX_IMAGES) {
    if (c->d_name[0] == '.') continue;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", dir, c->d_name);
    DIR *d = opendir(sub);
    struct dirent *f;
    while (d != NULL && (f = readdir(d)) != NULL && ds->count < MAX_IMAGES) {
      char path[8192];
      if (f->d_name[0] == '.') continue;
      snprintf(path, sizeof path, "%s/%s", sub, f->d_name);
      add_image(dec, path, ds);
    }
    if (d != NULL) closedir(d);
  }
  closedir(top);
  ims_decoder_destroy(dec);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int parse_path(const char *s, ims__preprocess_path *out) {
  static const char *names[] = {"auto", "scalar", "sse41", "avx2", "avx512"};
  for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++) {
    if (strcmp(s, names[i]) == 0) {
      *out = (ims__preprocess_path)i;
      return 0;
    }
  }
  return -1;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                       {"path", required_argument, 0, 'p'},
                                       {"rounds", required_argument, 0, 'r'},
                                       {0, 0, 0, 0}};
  const char *data = IMS_SOURCE_DIR "/../shared/data/flowers";
  int rounds = 20, c;
  ims__preprocess_path path = IMS__PATH_AUTO;
  while ((c = getopt_long(argc, argv, "d:p:r:", opts, NULL)) != -1) {
    if (c == 'd') data = optarg;
    else if (c == 'r') rounds = atoi(optarg);
    else if (c != 'p' || parse_path(optarg, &path) != 0) {
      fprintf(stderr, "usage: bench_preprocess [--data DIR] [--rounds N] "
              "[--path auto|scalar|sse41|avx2|avx512]\n");
      return 2;
    }
  }
  if (rounds < 1) rounds = 1;
  static dataset ds;
  load_dataset(data, &ds);
  if (ds.count == 0) {
    fprintf(stderr, "bench_preprocess: no images in %s\n", data);
    return 1;
  }
  ims_error err;
  ims_preprocessor *pre = NULL;
  if (ims_preprocessor_create(NULL, &pre, &err) != IMS_OK)
    die("preprocessor", &err);
  if (ims__preprocessor_set_path(pre, path, &err) != IMS_OK)
    die("--path", &err);
  static uint8_t out[OUT_BYTES];
  uint32_t hash = 2166136261u;
  for (size_t i = 0; i < ds.count; i++) { /* warm-up and hash */
    if (ims_preprocess(pre, &ds.images[i], out, &err) != IMS_OK)
      die("preprocess", &err);
    for (size_t b = 0; b < OUT_BYTES; b++) hash = (hash ^ out[b]) * 16777619u;
  }
  double *ms = calloc((size_t)rounds, sizeof *ms);
  for (int r = 0; r < rounds; r++) {
    double t0 = now_s();
    for (size_t i = 0; i < ds.count; i++)
      if (ims_preprocess(pre, &ds.images[i], out, &err) != IMS_OK)
        die("preprocess", &err);
    ms[r] = (now_s() - t0) * 1e3 / (double)ds.count;
  }
  qsort(ms, (size_t)rounds, sizeof *ms, cmp_double);
  printf("images: %zu (mean %.0f pixels), path: %s\n", ds.count,
         ds.pixels / (double)ds.count, ims__preprocess_path_name(pre));
  printf("ms per image: best %.4f, median %.4f (%d rounds)\n", ms[0],
         ms[rounds / 2], rounds);
  printf("output hash: %08x\n", hash);
  free(ms);
  for (size_t i = 0; i < ds.count; i++) free(ds.images[i].pixels);
  ims_preprocessor_destroy(pre);
  return 0;
}
