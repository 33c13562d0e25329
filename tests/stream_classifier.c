/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream_classifier.c - ims_classifier: a run split by image over lanes
 * (threads >= 2, batch >= threads) gives exactly the answers of one image
 * at a time on one thread, with failed images anywhere in the batch
 * reported in place and the others unaffected; and the top-1 of the four
 * test photos is the independent reference's (armnn-cpuref top5.tsv).
 */
#include "imgstream/classifier.h"
#include "test.h"

#define N 7

static ims_classifier *make(uint32_t threads, uint32_t max_batch) {
  ims_error err = {0};
  ims_classifier *c = NULL;
  ims_classifier_options o = {0};
  static char model[4096], labels[4096];
  snprintf(model, sizeof model, "%s",
           shared_path("models/mobilenet_v2_1.0_224_quant.tflite"));
  snprintf(labels, sizeof labels, "%s",
           shared_path("models/imagenet_class_index.json"));
  o.model_path = model;
  o.labels_path = labels;
  o.threads = threads;
  o.max_batch = max_batch;
  o.top_k = 3;
  ASSERT_OK(ims_classifier_create(&o, &c, &err), &err);
  return c;
}

TEST(stream_classifier_lanes_match_single) {
  static char paths_buf[N][4096];
  const char *paths[N];
  const char *rel[N] = {"data/images/parrot.jpg", "data/images/cat_720p.jpg",
                        "data/images/missing.jpg", "data/images/sunflower.bmp",
                        "models/imagenet_labels.txt",
                        "data/images/grace_hopper.bmp",
                        "data/images/parrot.jpg"};
  for (int i = 0; i < N; i++) {
    snprintf(paths_buf[i], sizeof paths_buf[i], "%s", shared_path(rel[i]));
    paths[i] = paths_buf[i];
  }
  ims_classifier *lanes = make(2, 16), *single = make(1, 1);
  ims_error err = {0};
  const ims_class_result *all = NULL, *one = NULL;
  ASSERT_OK(ims_classifier_run_files(lanes, N, paths, &all, &err), &err);
  for (int i = 0; i < N; i++) {
    ASSERT_OK(ims_classifier_run_files(single, 1, paths + i, &one, &err),
              &err);
    ASSERT_EQ(all[i].error.status, one[0].error.status);
    ASSERT_EQ(all[i].k, one[0].k);
    for (size_t j = 0; j < all[i].k; j++) {
      ASSERT_EQ(all[i].top[j].index, one[0].top[j].index);
      ASSERT(all[i].top[j].score == one[0].top[j].score);
    }
  }
  ASSERT_NE(all[2].error.status, IMS_OK); /* missing file */
  ASSERT_NE(all[4].error.status, IMS_OK); /* a text file */
  ASSERT_CONTAINS(all[2].error.message, "missing.jpg");
  ASSERT_EQ(all[0].k, 3);
  ims_classifier_destroy(lanes);
  ims_classifier_destroy(single);
}

/* Top-1 output index of `image` for the quant model, from the reference
 * TSV (output indices count the background class: label = index - 1). */
static long reference_top1(const char *image) {
  size_t size = 0;
  char *tsv = (char *)test_read_file(
      shared_path("reference/armnn-cpuref/"
                  "mobilenet_v2_1.0_224_quant.top5.tsv"), &size);
  ASSERT(tsv != NULL);
  tsv = realloc(tsv, size + 1);
  tsv[size] = '\0';
  char *line = strstr(tsv, image);
  ASSERT(line != NULL);
  char *cols = strchr(strchr(line, '\t') + 1, '\t') + 1;
  long idx = strtol(cols, NULL, 10);
  free(tsv);
  return idx;
}

TEST(stream_classifier_reference_top1) {
  const char *names[4] = {"parrot.jpg", "cat_720p.jpg", "grace_hopper.bmp",
                          "sunflower.bmp"};
  static char buf[4][4096];
  const char *paths[4];
  for (int i = 0; i < 4; i++) {
    char rel[256];
    snprintf(rel, sizeof rel, "data/images/%s", names[i]);
    snprintf(buf[i], sizeof buf[i], "%s", shared_path(rel));
    paths[i] = buf[i];
  }
  ims_classifier *c = make(2, 4);
  ims_error err = {0};
  const ims_class_result *r = NULL;
  ASSERT_OK(ims_classifier_run_files(c, 4, paths, &r, &err), &err);
  for (int i = 0; i < 4; i++) {
    char key[64];
    snprintf(key, sizeof key, "images/%s", names[i]);
    ASSERT_OK(r[i].error.status, &r[i].error);
    ASSERT_EQ(r[i].top[0].index + 1, reference_top1(key));
  }
  ims_classifier_destroy(c);
}

TEST_MAIN(stream_classifier_lanes_match_single,
          stream_classifier_reference_top1)
