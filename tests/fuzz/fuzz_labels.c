/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_labels.c - fuzz harness for the label reader (labels.h): the input
 * is a label file - Keras JSON class index ({"0": ["n01440764", "tench"],
 * ...}) or text lines - written to the scratch folder and loaded with
 * ims_labels_load_file, the only way in (the CLI's --labels).
 *
 * Invariants: failures carry a message; a loaded list has entries, each
 * with a class and a description readable to their NUL (either may be
 * empty: a JSON file may say ""), NULL past the
 * end; the output mapping accepts count and count + 1 outputs and refuses
 * count + 2.
 *
 * Threading: single-threaded.
 */
#include <string.h>

#include "fuzz.h"
#include "imgstream/labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_scratch_write("labels", data, size);
  ims_labels *labels = NULL;
  ims_error err;
  memset(&err, 0, sizeof err);
  if (ims_labels_load_file(path, &labels, &err) != IMS_OK) {
    if (err.message[0] == '\0') fuzz_fail("load failed silently", NULL);
    return 0;
  }
  size_t n = ims_labels_count(labels);
  if (n == 0) fuzz_fail("loaded an empty list", NULL);
  size_t chars = 0;
  for (size_t i = 0; i < n; i++) {
    const char *c = ims_labels_class(labels, i);
    const char *d = ims_labels_desc(labels, i);
    if (c == NULL || d == NULL) fuzz_fail("entry without strings", NULL);
    chars += strlen(c) + strlen(d);
  }
  if (chars > 2 * n * (size_t)(64 << 20)) fuzz_fail("strings", "huge");
  if (ims_labels_class(labels, n) != NULL || ims_labels_desc(labels, n))
    fuzz_fail("entry past the end", NULL);
  size_t off = 9;
  if (ims_labels_output_offset(labels, n, &off, NULL) != IMS_OK || off != 0)
    fuzz_fail("count outputs not mapped", NULL);
  if (ims_labels_output_offset(labels, n + 1, &off, NULL) != IMS_OK ||
      off != 1)
    fuzz_fail("count + 1 outputs not mapped", NULL);
  if (ims_labels_output_offset(labels, n + 2, &off, &err) == IMS_OK)
    fuzz_fail("count + 2 outputs mapped", NULL);
  ims_labels_destroy(labels);
  return 0;
}
