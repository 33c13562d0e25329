/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model_onnx_malformed.c - the ONNX loader on broken input: every
 * truncation of a valid model, seeded random byte flips, wrong wire types,
 * overlong varints and lengths, out-of-range indices, cyclic graphs, an
 * unsupported operator (named with its node in the message), external
 * data escaping the model's folder, huge dims. Each must fail with a clear
 * status and message and never crash (the ASan build checks reads).
 *
 * Threading: single-threaded test.
 */
#define _POSIX_C_SOURCE 200809L
#include <unistd.h>

#include "imgstream/imgstream.h"
#include "support/model_onnx_common.h"
#include "test.h"

static ims_error err;

/* Load bytes; returns the status, destroying any model. */
static ims_status load(const uint8_t *b, size_t n) {
  ims_model *m = NULL;
  memset(&err, 0, sizeof err);
  ims_status st = ims_model_load_memory(b, n, &m, &err);
  if (st != IMS_OK) ASSERT(m == NULL);
  ims_model_destroy(m);
  return st;
}

static uint8_t *finish(onnx_w *w, const char *out, size_t *n) {
  ow_output(w, out);
  return ow_finish(w, n);
}

TEST(onnx_truncated_everywhere) {
  size_t n;
  uint8_t *b = tiny_model(TINY_RAW, NULL, &n);
  ASSERT_EQ(load(b, n), IMS_OK);
  /* A cut at a field boundary may still be a valid model (e.g. without
   * its opset_import); every other cut must fail with a message. */
  for (size_t len = 0; len < n; len++) {
    ims_status st = load(b, len);
    ASSERT(st == IMS_OK || st == IMS_ERR_BAD_MODEL ||
           st == IMS_ERR_UNSUPPORTED);
    ASSERT(st == IMS_OK || err.message[0] != '\0');
  }
  free(b);
}

TEST(onnx_byte_flips) {
  size_t n;
  uint8_t *b = tiny_model(TINY_RAW, NULL, &n);
  uint8_t *c = malloc(n);
  uint32_t s = 12345;
  for (int round = 0; round < 3000; round++) {
    memcpy(c, b, n);
    for (int k = 0; k < 1 + round % 4; k++) {
      s = s * 1103515245u + 12345u;
      c[(s >> 8) % n] ^= (uint8_t)(1u << ((s >> 4) % 8));
    }
    ims_status st = load(c, n); /* any status; never a crash */
    ASSERT(st == IMS_OK || err.message[0] != '\0');
  }
  free(c);
  free(b);
}

TEST(onnx_wire_types_and_varints) {
  /* op_type written as a varint */
  onnx_w w;
  tiny_graph(&w, TINY_RAW, NULL);
  ow_buf node = {0};
  ow_str(&node, 1, "logits");
  ow_str(&node, 2, "y");
  ow_int(&node, 4, 5);
  ow_msg(&w.graph, 1, &node);
  size_t n;
  uint8_t *b = finish(&w, "y", &n);
  ASSERT_EQ(load(b, n), IMS_ERR_BAD_MODEL);
  ASSERT_CONTAINS(err.message, "wire type varint");
  ASSERT_CONTAINS(err.message, "node 6");
  free(b);
  /* a group (wire type 3), an 11-byte varint, a length past the end */
  const uint8_t group[] = {0x08, 0x07, 0x3b, 0x00};
  ASSERT_EQ(load(group, sizeof group), IMS_ERR_BAD_MODEL);
  const uint8_t longv[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                           0xff, 0xff, 0xff, 0xff, 0x01, 0x3a, 0x00};
  ASSERT_EQ(load(longv, sizeof longv), IMS_ERR_BAD_MODEL);
  const uint8_t len[] = {0x08, 0x07, 0x3a, 0xff, 0xff, 0x03, 0x00};
  ASSERT_EQ(load(len, sizeof len), IMS_ERR_BAD_MODEL);
  ASSERT_CONTAINS(err.message, "runs past the end");
  ASSERT_EQ(load((const uint8_t *)"hello", 5), IMS_ERR_BAD_MODEL);
}

TEST(onnx_out_of_range_gather) {
  onnx_w w;
  tiny_graph(&w, TINY_RAW, NULL);
  int64_t one = 1, seven = 7;
  ow_init_i64(&w, "idx", 0, &one, &seven, OW_RAW);
  ow_node(&w, "Shape", "shape", (const char *[]){"logits", NULL},
          (const char *[]){"s", NULL}, NULL, 0);
  ow_node(&w, "Gather", "pick", (const char *[]){"s", "idx", NULL},
          (const char *[]){"d", NULL}, NULL, 0);
  size_t n;
  uint8_t *b = finish(&w, "logits", &n);
  ASSERT_EQ(load(b, n), IMS_ERR_BAD_MODEL);
  ASSERT_CONTAINS(err.message, "'pick' (Gather)");
  ASSERT_CONTAINS(err.message, "out of range");
  free(b);
}

TEST(onnx_cycles_and_undefined_inputs) {
  onnx_w w;
  tiny_graph(&w, TINY_RAW, NULL);
  ow_node(&w, "Relu", "a", (const char *[]){"q", NULL},
          (const char *[]){"p", NULL}, NULL, 0);
  ow_node(&w, "Relu", "b", (const char *[]){"p", NULL},
          (const char *[]){"q", NULL}, NULL, 0);
  size_t n;
  uint8_t *b = finish(&w, "logits", &n);
  ASSERT_EQ(load(b, n), IMS_ERR_BAD_MODEL);
  ASSERT_CONTAINS(err.message, "cyclic");
  ASSERT_CONTAINS(err.message, "'a' (Relu)");
  free(b);
  tiny_graph(&w, TINY_RAW, NULL);
  ow_node(&w, "Relu", "c", (const char *[]){"nowhere", NULL},
          (const char *[]){"p", NULL}, NULL, 0);
  b = finish(&w, "logits", &n);
  ASSERT_EQ(load(b, n), IMS_ERR_BAD_MODEL);
  ASSERT_CONTAINS(err.message, "'nowhere' is not defined");
  free(b);
  tiny_graph(&w, TINY_RAW, NULL);
  ow_node(&w, "Relu", "d", (const char *[]){"logits", NULL},
          (const char *[]){"r", NULL}, NULL, 0);
  b = finish(&w, "logits", &n);
  ASSERT_EQ(load(b, n), IMS_ERR_BAD_MODEL);
  ASSERT_CONTAINS(err.message, "already defined");
  free(b);
}

TEST(onnx_unsupported_operator_named) {
  onnx_w w;
  tiny_graph(&w, TINY_RAW, NULL);
  ow_node(&w, "Erf", "my_erf", (const char *[]){"logits", NULL},
          (const char *[]){"y", NULL}, NULL, 0);
  size_t n;
  uint8_t *b = finish(&w, "y", &n);
  ASSERT_EQ(load(b, n), IMS_ERR_UNSUPPORTED);
  ASSERT_CONTAINS(err.message, "node 6 'my_erf' (Erf)");
  ASSERT_CONTAINS(err.message, "unsupported operator Erf");
  free(b);
}

static ims_status load_external(const char *location) {
  size_t n;
  uint8_t *b = tiny_model(TINY_EXTERNAL, location, &n);
  ASSERT_EQ(test_write_file(tmp_path("onnx_escape.onnx"), b, n), 0);
  free(b);
  ims_model *m = NULL;
  memset(&err, 0, sizeof err);
  ims_status st = ims_model_load_file(tmp_path("onnx_escape.onnx"), &m, &err);
  ims_model_destroy(m);
  return st;
}

TEST(onnx_external_data_escaping) {
  ASSERT_EQ(load_external("../outside.bin"), IMS_ERR_BAD_MODEL);
  ASSERT_CONTAINS(err.message, "escapes the model's folder");
  ASSERT_EQ(load_external("/etc/passwd"), IMS_ERR_BAD_MODEL);
  ASSERT_CONTAINS(err.message, "escapes");
  ASSERT_EQ(load_external("a/../../b.bin"), IMS_ERR_BAD_MODEL);
  char link[4096];
  snprintf(link, sizeof link, "%s", tmp_path("onnx_link.bin"));
  unlink(link);
  ASSERT_EQ(symlink("/etc/hostname", link), 0);
  ASSERT_EQ(load_external("onnx_link.bin"), IMS_ERR_BAD_MODEL);
  ASSERT_CONTAINS(err.message, "escapes");
  ASSERT_EQ(load_external("onnx_missing.bin"), IMS_ERR_NOT_FOUND);
  /* too short for offset 16 + 432 bytes */
  ASSERT_EQ(test_write_file(tmp_path("onnx_short.bin"), "xx", 2), 0);
  ASSERT_EQ(load_external("onnx_short.bin"), IMS_ERR_BAD_MODEL);
  ASSERT_CONTAINS(err.message, "has no 432 bytes");
}

TEST(onnx_huge_and_lying_dims) {
  onnx_w w;
  int64_t in[4] = {1, 3, 8, 8}, big[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
  float one = 1;
  ow_init(&w, 13);
  ow_input(&w, "image", 4, in);
  ow_init_f32(&w, "huge", 2, big, &one, OW_TYPED);
  size_t n;
  uint8_t *b = finish(&w, "image", &n);
  ims_status st = load(b, n);
  ASSERT_EQ(st, IMS_ERR_BAD_MODEL);
  ASSERT_CONTAINS(err.message, "'huge'");
  free(b);
  /* raw_data shorter than its dims */
  int64_t d2[2] = {4, 4};
  ow_init(&w, 13);
  ow_input(&w, "image", 4, in);
  ow_buf t = {0};
  ow_int(&t, 1, d2[0]);
  ow_int(&t, 1, d2[1]);
  ow_int(&t, 2, 1);
  ow_str(&t, 8, "short");
  ow_bytes(&t, 9, big, 16); /* 16 bytes for 16 floats */
  ow_msg(&w.graph, 5, &t);
  b = finish(&w, "image", &n);
  ASSERT_EQ(load(b, n), IMS_ERR_BAD_MODEL);
  ASSERT_CONTAINS(err.message, "raw_data of 16 bytes");
  ASSERT_CONTAINS(err.message, "needs 64");
  free(b);
  /* an input of 10^9 x 10^9 pixels */
  int64_t wide[4] = {1, 3, 1000000000, 1000000000};
  ow_init(&w, 13);
  ow_input(&w, "image", 4, wide);
  ow_node(&w, "Relu", "r", (const char *[]){"image", NULL},
          (const char *[]){"y", NULL}, NULL, 0);
  b = finish(&w, "y", &n);
  ASSERT_EQ(load(b, n), IMS_ERR_UNSUPPORTED);
  ASSERT_CONTAINS(err.message, "fixed H and W");
  free(b);
}

TEST_MAIN(onnx_truncated_everywhere, onnx_byte_flips,
          onnx_wire_types_and_varints, onnx_out_of_range_gather,
          onnx_cycles_and_undefined_inputs, onnx_unsupported_operator_named,
          onnx_external_data_escaping, onnx_huge_and_lying_dims)
