/* SPDX-License-Identifier: Apache-2.0 */
/*
 * labels_load.c - label files (Keras JSON class index, text lines), the
 * output-to-label mapping, and top-K.
 *
 * Known answers come from the shared files themselves: the Keras index has
 * 1000 entries, 0 = n01440764 "tench", 88 = n01818515 "macaw", 999 =
 * n15075141 "toilet_tissue"; imagenet_labels.txt has 1001 lines, line 0
 * "background", line 89 "macaw" (the same class shifted by the background),
 * line 1000 "toilet tissue, toilet paper, bathroom tissue".
 *
 * Threading: single-threaded test.
 */
#include "imgstream/labels.h"
#include "test.h"

static ims_labels *load_ok(const char *path) {
  ims_labels *l = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_labels_load_file(path, &l, &err), &err);
  ASSERT(l != NULL);
  return l;
}

/* Write `text` to a temp file and expect loading it to fail with the
 * message containing `want`. */
static void expect_bad(const char *name, const char *text, const char *want) {
  ims_labels *l = NULL;
  ims_error err = {0};
  ASSERT_EQ(test_write_file(tmp_path(name), text, strlen(text)), 0);
  ims_status st = ims_labels_load_file(tmp_path(name), &l, &err);
  if (st != IMS_ERR_BAD_LABELS)
    TEST__FAIL("%s: status %d, want BAD_LABELS (%s)", name, (int)st,
               err.message);
  ASSERT(l == NULL);
  ASSERT_CONTAINS(err.message, want);
}

TEST(labels_keras_json) {
  ims_labels *l = load_ok(shared_path("models/imagenet_class_index.json"));
  ASSERT_EQ(ims_labels_count(l), 1000);
  ASSERT_STR_EQ(ims_labels_class(l, 0), "n01440764");
  ASSERT_STR_EQ(ims_labels_desc(l, 0), "tench");
  ASSERT_STR_EQ(ims_labels_class(l, 88), "n01818515");
  ASSERT_STR_EQ(ims_labels_desc(l, 88), "macaw");
  ASSERT_STR_EQ(ims_labels_class(l, 999), "n15075141");
  ASSERT_STR_EQ(ims_labels_desc(l, 999), "toilet_tissue");
  ASSERT(ims_labels_class(l, 1000) == NULL);
  ASSERT(ims_labels_desc(l, 1000) == NULL);
  size_t off = 99;
  ims_error err = {0};
  ASSERT_OK(ims_labels_output_offset(l, 1001, &off, &err), &err);
  ASSERT_EQ(off, 1);
  ASSERT_OK(ims_labels_output_offset(l, 1000, &off, &err), &err);
  ASSERT_EQ(off, 0);
  ims_labels_destroy(l);
}

TEST(labels_text) {
  ims_labels *l = load_ok(shared_path("models/imagenet_labels.txt"));
  ASSERT_EQ(ims_labels_count(l), 1001);
  ASSERT_STR_EQ(ims_labels_desc(l, 0), "background");
  ASSERT_STR_EQ(ims_labels_class(l, 0), "background");
  ASSERT_STR_EQ(ims_labels_desc(l, 89), "macaw");
  ASSERT_STR_EQ(ims_labels_desc(l, 1000),
                "toilet tissue, toilet paper, bathroom tissue");
  size_t off = 99;
  ims_error err = {0};
  ASSERT_OK(ims_labels_output_offset(l, 1001, &off, &err), &err);
  ASSERT_EQ(off, 0);
  ims_labels_destroy(l);
  /* CRLF, no final newline. */
  const char *crlf = "background\r\ntench\r\ngoldfish";
  ASSERT_EQ(test_write_file(tmp_path("crlf.txt"), crlf, strlen(crlf)), 0);
  l = load_ok(tmp_path("crlf.txt"));
  ASSERT_EQ(ims_labels_count(l), 3);
  ASSERT_STR_EQ(ims_labels_desc(l, 1), "tench");
  ASSERT_STR_EQ(ims_labels_desc(l, 2), "goldfish");
  ims_labels_destroy(l);
  ims_labels_destroy(NULL);
}

TEST(labels_mismatch_message) {
  ims_labels *l = load_ok(shared_path("models/imagenet_labels.txt"));
  size_t off = 99;
  ims_error err = {0};
  ASSERT_EQ(ims_labels_output_offset(l, 998, &off, &err), IMS_ERR_BAD_LABELS);
  ASSERT_EQ(off, 99);
  ASSERT_CONTAINS(err.message, "model has 998 outputs but ");
  ASSERT_CONTAINS(err.message, "imagenet_labels.txt has 1001 labels");
  ASSERT_EQ(ims_labels_output_offset(l, 1003, &off, &err),
            IMS_ERR_BAD_LABELS);
  ims_labels_destroy(l);
}

TEST(labels_malformed) {
  expect_bad("bad1.json", "{\"0\": [\"n1\", \"a\"],\n \"1\": [\"n2\" \"b\"]}",
             "JSON error at line 2");
  expect_bad("gap.json",
             "{\"0\": [\"a\", \"A\"], \"1\": [\"b\", \"B\"], "
             "\"3\": [\"d\", \"D\"]}",
             "gap.json: index 2 missing");
  expect_bad("dup.json", "{\"0\": [\"a\", \"A\"], \"0\": [\"b\", \"B\"]}",
             "duplicate");
  expect_bad("lead0.json", "{\"0\": [\"a\", \"A\"], \"01\": [\"b\", \"B\"]}",
             "key \"01\" is not a class index");
  expect_bad("short.json", "{\"0\": [\"a\"]}", "index 0: value is not");
  expect_bad("num.json", "{\"0\": [\"a\", 5]}", "index 0: value is not");
  expect_bad("array.json", "{}", "non-empty object");
  expect_bad("empty.txt", "", "empty label file");
  expect_bad("blank.txt", "\n\n  \n", "empty label file");
  expect_bad("hole.txt", "a\nb\n\nd\n", "line 3 is empty");
  ims_labels *l = NULL;
  ims_error err = {0};
  ASSERT_EQ(ims_labels_load_file(tmp_path("nope.txt"), &l, &err),
            IMS_ERR_NOT_FOUND);
}

/* The shared Keras index with entry 17 removed must name index 17. */
TEST(labels_missing_index) {
  size_t n = 0;
  char *s = (char *)test_read_file(
      shared_path("models/imagenet_class_index.json"), &n);
  ASSERT(s != NULL);
  char *text = malloc(n + 1);
  ASSERT(text != NULL);
  memcpy(text, s, n);
  text[n] = '\0';
  char *start = strstr(text, "\"17\"");
  ASSERT(start != NULL);
  char *end = strchr(start, ']');
  ASSERT(end != NULL);
  end++;
  while (*end == ' ' || *end == '\n' || *end == '\r') end++;
  ASSERT(*end == ','); /* entry 17 is not the object's last */
  end++;
  memmove(start, end, strlen(end) + 1);
  expect_bad("missing17.json", text, "missing17.json: index 17 missing");
  free(text);
  free(s);
}

TEST(labels_top_k) {
  float s[] = {0.1f, 0.5f, 0.3f, 0.5f, NAN, 0.9f, 0.3f};
  ims_prediction p[8];
  ASSERT_EQ(ims_top_k(s, 7, 4, p), 4);
  ASSERT_EQ(p[0].index, 5);
  ASSERT_EQ(p[1].index, 1); /* tie 0.5: lower index first */
  ASSERT_EQ(p[2].index, 3);
  ASSERT_EQ(p[3].index, 2); /* tie 0.3: 2 before 6 */
  ASSERT(p[0].score == 0.9f);
  ASSERT_EQ(ims_top_k(s, 7, 10, p), 7);
  ASSERT_EQ(p[5].index, 0);
  ASSERT_EQ(p[6].index, 4); /* NaN ranks last */
  ASSERT_EQ(ims_top_k(s, 7, 0, p), 0);
  ASSERT_EQ(ims_top_k(s, 0, 3, p), 0);
  float same[] = {1, 1, 1};
  ASSERT_EQ(ims_top_k(same, 3, 2, p), 2);
  ASSERT_EQ(p[0].index, 0);
  ASSERT_EQ(p[1].index, 1);
}

TEST_MAIN(labels_keras_json, labels_text, labels_mismatch_message,
          labels_malformed, labels_missing_index, labels_top_k)
