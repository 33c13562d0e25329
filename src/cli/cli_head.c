/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_head.c - opening a learned head file for a command: `stream --learn
 * HEAD` (created if missing) and `classify --head HEAD` (must exist).
 * The head's identity (model fingerprint, feature layer, feature count)
 * is checked against the classifier's, so a head is never used with
 * another model.
 *
 * Threading: the command's thread.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_int.h"
#include "imgstream/imgstream.h"

/* What a head for this classifier must be. */
static void expected(ims_classifier *clf, uint32_t max_classes,
                     char id[IMS_MODEL_FINGERPRINT_SIZE],
                     ims_head_options *o) {
  ims_model_fingerprint(ims_classifier_model(clf), id);
  o->model_id = id;
  o->feature_layer = ims_classifier_feature_layer(clf);
  o->feature_count = (uint32_t)ims_classifier_feature_count(clf);
  o->max_classes = max_classes;
}

int cli_open_head(const char *cmd, const char *path, ims_classifier *clf,
                  uint32_t max_classes, bool create, ims_head **out) {
  char id[IMS_MODEL_FINGERPRINT_SIZE];
  ims_head_options o = {0};
  expected(clf, max_classes, id, &o);
  ims_error err = {0};
  struct stat st;
  ims_status s;
  if (create && stat(path, &st) != 0 && errno == ENOENT)
    s = ims_head_create(&o, out, &err);
  else
    s = ims_head_load(path, &o, out, &err);
  if (s == IMS_OK) return 0;
  fprintf(stderr, "imgstream %s: cannot load learned head %s: %s\n", cmd,
          path, cli_strip_path(err.message, path));
  return s == IMS_ERR_NO_MEMORY ? IMS_EXIT_FAILED : IMS_EXIT_MODEL;
}
