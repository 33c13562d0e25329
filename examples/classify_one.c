/* SPDX-License-Identifier: Apache-2.0 */
/*
 * classify_one.c - the smallest program on libimgstream: classify one
 * image and print its top 5 classes, "WNID NAME SCORE" a line.
 *
 * Only the public API (<imgstream/imgstream.h>); build it against an
 * installed imgstream with pkg-config or find_package (examples/README.md):
 *
 *   cc classify_one.c $(pkg-config --cflags --libs imgstream)
 *
 * usage: classify_one MODEL LABELS IMAGE
 *   (an installed tree has both in $(pkg-config --variable=datadir
 *   imgstream)/models)
 * exit: 0 classified, 1 the image failed, 2 usage, 3 the model failed
 */
#include <stdio.h>
#include <string.h>

#include <imgstream/imgstream.h>

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s MODEL LABELS IMAGE\n", argv[0]);
    return 2;
  }
  ims_classifier_options o;
  memset(&o, 0, sizeof o);
  o.model_path = argv[1];
  o.labels_path = argv[2];
  o.threads = 1;   /* one image: one decoder and engine */
  o.max_batch = 1; /* images per run */
  o.top_k = 5;

  ims_error err = {0};
  ims_classifier *c = NULL;
  if (ims_classifier_create(&o, &c, &err) != IMS_OK) {
    fprintf(stderr, "classify_one: %s\n", err.message);
    return 3;
  }
  const char *paths[1] = {argv[3]};
  const ims_class_result *r = NULL;
  int rc = 0;
  if (ims_classifier_run_files(c, 1, paths, &r, &err) != IMS_OK) {
    fprintf(stderr, "classify_one: %s\n", err.message);
    rc = 1;
  } else if (r[0].error.status != IMS_OK) {
    fprintf(stderr, "classify_one: %s\n", r[0].error.message);
    rc = 1;
  } else {
    for (size_t i = 0; i < r[0].k; i++)
      printf("%s %s %.4f\n", r[0].top[i].class_id, r[0].top[i].desc,
             r[0].top[i].score);
  }
  ims_classifier_destroy(c);
  return rc;
}
