/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/reference.c - see reference.h.
 *
 * Threading: single-threaded (ref_load_inputs keeps its names in a static
 * table).
 */
#include "support/reference.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "imgstream/imgstream.h"
#include "test.h"

size_t ref_list_inputs(char names[][128]) {
  DIR *d = opendir(shared_path(REF_DIR));
  size_t n = 0;
  struct dirent *ent;
  ASSERT(d != NULL);
  while ((ent = readdir(d)) != NULL && n < REF_MAX_INPUTS) {
    size_t len = strlen(ent->d_name);
    if (len > 4 && len < 128 && strcmp(ent->d_name + len - 4, ".rgb") == 0) {
      memcpy(names[n], ent->d_name, len - 4);
      names[n++][len - 4] = '\0';
    }
  }
  closedir(d);
  qsort(names, n, 128, (int (*)(const void *, const void *))strcmp);
  return n;
}

unsigned char *ref_read(const char *name, const char *ext, size_t want) {
  char rel[512];
  size_t size = 0;
  snprintf(rel, sizeof rel, REF_DIR "/%.200s%.200s", name, ext);
  unsigned char *data = test_read_file(shared_path(rel), &size);
  ASSERT(data != NULL);
  ASSERT_EQ(size, want);
  return data;
}

size_t ref_load_inputs(unsigned char *rgb) {
  static char names[REF_MAX_INPUTS][128];
  size_t n = ref_list_inputs(names);
  for (size_t i = 0; i < n; i++) {
    unsigned char *one = ref_read(names[i], ".rgb", REF_IMG_BYTES);
    memcpy(rgb + i * REF_IMG_BYTES, one, REF_IMG_BYTES);
    free(one);
  }
  return n;
}

ims_model *ref_load_model(const char *file) {
  ims_error err = {0};
  ims_model *m = NULL;
  ASSERT_OK(ims_model_load_file(shared_path(file), &m, &err), &err);
  return m;
}

float *ref_run_all(const ims_model *model, uint32_t flags, uint32_t threads,
                   const unsigned char *rgb, size_t n, size_t step) {
  ims_error err = {0};
  ims_engine *engine = NULL;
  ims_engine_options opt = {.threads = threads, .max_batch = (uint32_t)step,
                            .flags = flags};
  ims_status st = ims_engine_create(model, &opt, &engine, &err);
  if (st == IMS_ERR_UNSUPPORTED && (flags & IMS_ENGINE_FLAG_FORCE_ONEDNN))
    return NULL;
  ASSERT_OK(st, &err);
  float *scores = malloc(n * REF_OUTS * sizeof *scores);
  ASSERT(scores != NULL);
  for (size_t i = 0; i < n; i += step) {
    size_t b = n - i < step ? n - i : step;
    ASSERT_OK(ims_engine_run(engine, rgb + i * REF_IMG_BYTES, b,
                             scores + i * REF_OUTS, &err), &err);
  }
  ims_engine_destroy(engine);
  return scores;
}

