/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model_malformed.c - the TFLite loader on broken and hostile input: every
 * case must fail cleanly (status + a message naming the problem) and never
 * read out of bounds (run under -DIMS_SANITIZE=ON to prove the latter).
 *
 * Inputs are made at test time from the real shared models: truncations,
 * targeted corruptions (root offset, vtable offset, vector length, buffer
 * offset, buffer index, operator code, fused activation), random bytes,
 * empty and text files, and a byte-flip sweep over the file's structure.
 *
 * The targeted cases locate what to corrupt with the tiny FlatBuffers
 * walker below (trusted input only: the unmodified real model), written
 * separately from src/model/flatbuf.c so the test does not lean on the
 * code under test. Field ids are those of TFLite's schema.fbs.
 *
 * Threading: single-threaded test.
 */
#include "imgstream/model.h"
#include "model/graph_int.h"
#include "test.h"

#define QUANT_MODEL "models/mobilenet_v2_1.0_224_quant.tflite"
#define TF2_MODEL "models/tf2_mobilenet_v2_1.0_224_ptq.tflite"

/* ---- a minimal walker over a trusted FlatBuffer ---------------------- */

static uint32_t get32(const unsigned char *b, size_t p) {
  return (uint32_t)b[p] | ((uint32_t)b[p + 1] << 8) |
         ((uint32_t)b[p + 2] << 16) | ((uint32_t)b[p + 3] << 24);
}

static void put32(unsigned char *b, size_t p, uint32_t v) {
  for (int i = 0; i < 4; i++) b[p + i] = (unsigned char)(v >> (8 * i));
}

/* Absolute position of field `id` of the table at t, or 0 if absent. */
static size_t field(const unsigned char *b, size_t t, unsigned id) {
  size_t vt = t - (size_t)(int32_t)get32(b, t);
  unsigned vt_bytes = b[vt] | (b[vt + 1] << 8);
  if (4 + 2 * id + 2 > vt_bytes) return 0;
  unsigned off = b[vt + 4 + 2 * id] | (b[vt + 5 + 2 * id] << 8);
  return off ? t + off : 0;
}

static size_t deref(const unsigned char *b, size_t p) {
  return p + get32(b, p);
}

/* Vector field -> position of its length word. */
static size_t vec(const unsigned char *b, size_t t, unsigned id) {
  size_t f = field(b, t, id);
  ASSERT(f != 0);
  return deref(b, f);
}

/* Position of the uoffset slot of table element i of a vector. */
static size_t vec_slot(size_t v, uint32_t i) { return v + 4 + 4 * (size_t)i; }

static size_t root(const unsigned char *b) { return get32(b, 0); }

static size_t subgraph0(const unsigned char *b) {
  return deref(b, vec_slot(vec(b, root(b), 2), 0));
}

static unsigned char *read_model(const char *rel, size_t *size) {
  unsigned char *b = test_read_file(shared_path(rel), size);
  ASSERT(b != NULL);
  return b;
}

/* Load bytes and expect `want`; returns the message (static buffer). */
static const char *expect_status(const unsigned char *b, size_t n,
                                 ims_status want) {
  static ims_error err;
  ims_model *m = NULL;
  memset(&err, 0, sizeof err);
  ims_status st = ims_model_load_memory(b, n, &m, &err);
  ims_model_destroy(m);
  if (st != want)
    TEST__FAIL("status %d (%s), want %d: %s", (int)st, ims_status_name(st),
               (int)want, err.message);
  ASSERT(want == IMS_OK || m == NULL);
  ASSERT(want == IMS_OK || err.message[0] != '\0');
  return err.message;
}

/* ---- cases ------------------------------------------------------------ */

/* End of the FlatBuffer structure the loader must read: TFLite files may
 * carry more after it (both shared models end in a zip of labels, the
 * metadata "associated files"), which truncation may drop harmlessly. */
static size_t structure_end(const unsigned char *b) {
  size_t sg = subgraph0(b), end = 0;
  size_t tensors = vec(b, sg, 0);
  size_t parts[] = {vec(b, root(b), 1), vec(b, sg, 3), tensors,
                    deref(b, vec_slot(tensors, get32(b, tensors) - 1))};
  for (size_t i = 0; i < 4; i++)
    if (parts[i] + 4 > end) end = parts[i] + 4;
  return end;
}

TEST(model_truncated) {
  size_t size;
  unsigned char *b = read_model(QUANT_MODEL, &size);
  size_t end = structure_end(b);
  ASSERT(end <= size);
  for (size_t n = 0; n < 200; n++) expect_status(b, n, IMS_ERR_BAD_MODEL);
  for (size_t k = 1; k < 400; k++)
    expect_status(b, end / 400 * k, IMS_ERR_BAD_MODEL);
  for (size_t cut = 1; cut <= 64; cut++)
    expect_status(b, end - cut, IMS_ERR_BAD_MODEL);
  ASSERT_CONTAINS(expect_status(b, 7, IMS_ERR_BAD_MODEL),
                  "not a TFLite model (no TFL3 identifier)");
  ASSERT_CONTAINS(expect_status(b, size / 2, IMS_ERR_BAD_MODEL),
                  "out of bounds");
  free(b);
}

TEST(model_corrupt_root_and_vtable) {
  size_t size;
  unsigned char *b = read_model(QUANT_MODEL, &size);
  put32(b, 0, 0xFFFFFF00u);
  ASSERT_CONTAINS(expect_status(b, size, IMS_ERR_BAD_MODEL),
                  "table offset 0xffffff00 out of bounds");
  free(b);
  b = read_model(QUANT_MODEL, &size);
  size_t r = root(b);
  put32(b, r, 0x7FFFFFF0u); /* vtable far before the start */
  ASSERT_CONTAINS(expect_status(b, size, IMS_ERR_BAD_MODEL), "vtable");
  put32(b, r, 0x80000010u); /* vtable far past the end */
  ASSERT_CONTAINS(expect_status(b, size, IMS_ERR_BAD_MODEL), "vtable");
  free(b);
}

TEST(model_corrupt_vector_length) {
  size_t size;
  unsigned char *b = read_model(QUANT_MODEL, &size);
  size_t tensors = vec(b, subgraph0(b), 0);
  put32(b, tensors, 0x7FFFFFFFu);
  const char *msg = expect_status(b, size, IMS_ERR_BAD_MODEL);
  ASSERT_CONTAINS(msg, "tensors vector length 2147483647");
  ASSERT_CONTAINS(msg, "out of bounds");
  free(b);
}

/* Tensor 12's Buffer entry points far outside the file. */
TEST(model_corrupt_buffer_offset) {
  size_t size;
  unsigned char *b = read_model(QUANT_MODEL, &size);
  size_t t12 = deref(b, vec_slot(vec(b, subgraph0(b), 0), 12));
  size_t bf = field(b, t12, 2);
  ASSERT(bf != 0);
  uint32_t buffer = get32(b, bf);
  size_t slot = vec_slot(vec(b, root(b), 4), buffer);
  put32(b, slot, 0x40000000u);
  char want[160];
  snprintf(want, sizeof want,
           "tensor 12: buffer offset 0x%zx out of bounds (file is %zu "
           "bytes)",
           slot + 0x40000000u, size);
  ASSERT_CONTAINS(expect_status(b, size, IMS_ERR_BAD_MODEL), want);
  put32(b, slot, 0); /* restore-ish: point the slot at itself */
  expect_status(b, size, IMS_ERR_BAD_MODEL);
  free(b);
  /* The tensor's buffer index itself out of range. */
  b = read_model(QUANT_MODEL, &size);
  put32(b, bf, 0x00FFFFFFu);
  ASSERT_CONTAINS(expect_status(b, size, IMS_ERR_BAD_MODEL),
                  "tensor 12: buffer index 16777215 out of range");
  free(b);
}

/* The first operator's weights: their data vector claims too many bytes. */
TEST(model_corrupt_buffer_data_length) {
  size_t size;
  unsigned char *b = read_model(QUANT_MODEL, &size);
  size_t sg = subgraph0(b);
  size_t op0 = deref(b, vec_slot(vec(b, sg, 3), 0));
  size_t in = vec(b, op0, 1);
  uint32_t w = get32(b, in + 4 + 4); /* input 1: weights */
  size_t tw = deref(b, vec_slot(vec(b, sg, 0), w));
  uint32_t buffer = get32(b, field(b, tw, 2));
  size_t bt = deref(b, vec_slot(vec(b, root(b), 4), buffer));
  size_t data = vec(b, bt, 0);
  uint32_t len = get32(b, data);
  put32(b, data, len + 1); /* still inside the file, wrong for the shape */
  char want[80];
  snprintf(want, sizeof want, "tensor %u: buffer %u holds %u bytes", w,
           buffer, len + 1);
  ASSERT_CONTAINS(expect_status(b, size, IMS_ERR_BAD_MODEL), want);
  put32(b, data, 0xFFFFFFF0u);
  ASSERT_CONTAINS(expect_status(b, size, IMS_ERR_BAD_MODEL),
                  "vector length 4294967280");
  free(b);
}

/* Rewrite the OperatorCode of the model's SOFTMAX to `code` and expect the
 * message to name it and the first operator that uses it. */
static void patch_softmax(const char *rel, int32_t code, const char *want) {
  size_t size;
  unsigned char *b = read_model(rel, &size);
  size_t codes = vec(b, root(b), 1);
  uint32_t n = get32(b, codes), softmax = UINT32_MAX;
  for (uint32_t i = 0; i < n; i++) {
    size_t c = deref(b, vec_slot(codes, i));
    size_t dep = field(b, c, 0), full = field(b, c, 3);
    int32_t v = full ? (int32_t)get32(b, full) : (dep ? (int8_t)b[dep] : 0);
    if (v != 25) continue; /* SOFTMAX */
    softmax = i;
    if (dep) b[dep] = (unsigned char)(code < 127 ? code : 127);
    if (full) put32(b, full, (uint32_t)code);
    ASSERT(dep != 0 || full != 0);
  }
  ASSERT(softmax != UINT32_MAX);
  size_t ops = vec(b, subgraph0(b), 3);
  uint32_t first = UINT32_MAX;
  for (uint32_t i = get32(b, ops); i-- > 0;) {
    size_t op = deref(b, vec_slot(ops, i));
    size_t f = field(b, op, 0);
    if ((f ? get32(b, f) : 0) == softmax) first = i;
  }
  ASSERT(first != UINT32_MAX);
  char full_want[200];
  snprintf(full_want, sizeof full_want, "%s at operator index %u", want,
           first);
  ASSERT_CONTAINS(expect_status(b, size, IMS_ERR_UNSUPPORTED), full_want);
  free(b);
}

TEST(model_unsupported_operator) {
  patch_softmax(QUANT_MODEL, 14,
                "unsupported operator LOGISTIC (builtin code 14)");
  patch_softmax(TF2_MODEL, 14,
                "unsupported operator LOGISTIC (builtin code 14)");
  patch_softmax(TF2_MODEL, 17,
                "unsupported operator MAX_POOL_2D (builtin code 17)");
  patch_softmax(QUANT_MODEL, 32,
                "unsupported operator CUSTOM (builtin code 32)");
}

/* Operator 0 (a CONV_2D with fused RELU6 in both models) -> TANH. */
TEST(model_unsupported_activation) {
  size_t size;
  unsigned char *b = read_model(QUANT_MODEL, &size);
  size_t op0 = deref(b, vec_slot(vec(b, subgraph0(b), 3), 0));
  ASSERT_EQ(b[field(b, op0, 3)], 1); /* builtin_options_type Conv2D */
  size_t opts = deref(b, field(b, op0, 4));
  size_t act = field(b, opts, 3);
  ASSERT(act != 0);
  ASSERT_EQ(b[act], 3); /* RELU6 */
  b[act] = 4;           /* TANH */
  ASSERT_CONTAINS(expect_status(b, size, IMS_ERR_UNSUPPORTED),
                  "operator 0 (CONV_2D): fused activation TANH");
  free(b);
}

/* Newer TFLite files (over 2 GB) keep constant data outside the
 * FlatBuffer: Buffer.offset/size, relative to the file start. Rebuild the
 * first operator's bias buffer that way: append a new vtable + Buffer
 * table + the data copy at `misalign` bytes past a 16-byte boundary, and
 * point the buffers vector at the new table. Returns the new file. */
static unsigned char *external_bias(const unsigned char *orig, size_t size,
                                    size_t misalign, uint64_t *data_at,
                                    uint32_t *tensor, size_t *new_size) {
  size_t sg = subgraph0(orig);
  size_t op0 = deref(orig, vec_slot(vec(orig, sg, 3), 0));
  *tensor = get32(orig, vec(orig, op0, 1) + 4 + 8); /* input 2: bias */
  size_t tt = deref(orig, vec_slot(vec(orig, sg, 0), *tensor));
  uint32_t buffer = get32(orig, field(orig, tt, 2));
  size_t slot = vec_slot(vec(orig, root(orig), 4), buffer);
  size_t old = vec(orig, deref(orig, slot), 0);
  uint32_t len = get32(orig, old);
  size_t vt = (size + 15) / 16 * 16, tbl = vt + 16;
  *data_at = tbl + 32 + misalign;
  *new_size = (size_t)*data_at + len;
  unsigned char *b = calloc(1, *new_size);
  ASSERT(b != NULL);
  memcpy(b, orig, size);
  static const unsigned char vtable[10] = {10, 0, 24, 0, 0, 0, 8, 0, 16, 0};
  memcpy(b + vt, vtable, sizeof vtable);
  put32(b, tbl, (uint32_t)(tbl - vt));
  put32(b, tbl + 8, (uint32_t)*data_at); /* offset (u64, high word 0) */
  put32(b, tbl + 16, len);                /* size */
  memcpy(b + *data_at, orig + old + 4, len);
  put32(b, slot, (uint32_t)(tbl - slot));
  return b;
}

TEST(model_external_buffers) {
  size_t size, n;
  unsigned char *orig = read_model(QUANT_MODEL, &size);
  for (size_t misalign = 0; misalign < 2; misalign++) {
    uint64_t at;
    uint32_t t;
    unsigned char *b = external_bias(orig, size, misalign, &at, &t, &n);
    ims_model *m = NULL;
    ims_error err = {0};
    ASSERT_OK(ims_model_load_memory(b, n, &m, &err), &err);
    const ims__tensor *bias = &m->tensors[t];
    ASSERT_EQ(bias->data_size, n - at);
    ASSERT_EQ(memcmp(bias->data, b + at, n - at), 0);
    ASSERT_EQ((uintptr_t)bias->data % 4, 0);
    /* Aligned data is used in place; misaligned data is copied. */
    ASSERT_EQ(bias->data == (const char *)m->file + at, misalign == 0);
    ims_model_destroy(m);
    put32(b, (size_t)at - 32 - misalign + 16, 0x7FFFFFFFu); /* size */
    ASSERT_CONTAINS(expect_status(b, n, IMS_ERR_BAD_MODEL),
                    "size 2147483647 out of bounds");
    free(b);
  }
  free(orig);
}

static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

TEST(model_random_bytes) {
  size_t n = 1 << 16;
  unsigned char *b = malloc(n);
  ASSERT(b != NULL);
  uint64_t s = 0x9E3779B97F4A7C15ull;
  for (int round = 0; round < 200; round++) {
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)rng_next(&s);
    expect_status(b, n, IMS_ERR_BAD_MODEL); /* no identifier */
    memcpy(b + 4, "TFL3", 4);
    if (round % 2) put32(b, 0, (uint32_t)(rng_next(&s) % n));
    ims_model *m = NULL;
    ims_error err = {0};
    ims_status st = ims_model_load_memory(b, n, &m, &err);
    ASSERT(st == IMS_ERR_BAD_MODEL || st == IMS_ERR_UNSUPPORTED);
    ASSERT(m == NULL);
  }
  free(b);
}

TEST(model_empty_and_text_files) {
  ims_model *m = NULL;
  ims_error err = {0};
  ASSERT_EQ(test_write_file(tmp_path("empty.tflite"), "", 0), 0);
  ASSERT_EQ(ims_model_load_file(tmp_path("empty.tflite"), &m, &err),
            IMS_ERR_BAD_MODEL);
  ASSERT_CONTAINS(err.message, "not a TFLite model (no TFL3 identifier)");
  ASSERT_CONTAINS(err.message, "empty.tflite");
  const char *text = "this is not a model, just some text\n";
  ASSERT_EQ(test_write_file(tmp_path("text.tflite"), text, strlen(text)), 0);
  ASSERT_EQ(ims_model_load_file(tmp_path("text.tflite"), &m, &err),
            IMS_ERR_BAD_MODEL);
  ASSERT_CONTAINS(err.message, "not a TFLite model (no TFL3 identifier)");
  ASSERT(m == NULL);
}

/* Flip bytes over the structure of a model: `count` evenly spaced offsets
 * in [lo, hi), each load must end in a clean status. Returns failures. */
static unsigned sweep(unsigned char *b, size_t size, size_t lo, size_t hi,
                      unsigned count, unsigned *ok) {
  unsigned failed = 0;
  static const unsigned char flips[] = {0xFF, 0x80, 0x01, 0x7F};
  for (unsigned k = 0; k < count; k++) {
    size_t at = lo + (hi - lo) * k / count;
    unsigned char saved = b[at];
    b[at] ^= flips[k % 4];
    ims_model *m = NULL;
    ims_error err = {0};
    ims_status st = ims_model_load_memory(b, size, &m, &err);
    b[at] = saved;
    if (st == IMS_OK) {
      (*ok)++;
      ASSERT(m != NULL);
      ims_model_destroy(m);
      continue;
    }
    ASSERT(m == NULL);
    ASSERT(st == IMS_ERR_BAD_MODEL || st == IMS_ERR_UNSUPPORTED);
    ASSERT(err.message[0] != '\0');
    failed++;
  }
  return failed;
}

static void sweep_model(const char *rel) {
  size_t size;
  unsigned char *b = read_model(rel, &size);
  /* The metadata area: subgraph, operators, tensors, operator codes, which
   * TFLite writers put after the weight data. */
  size_t sg = subgraph0(b);
  size_t meta = sg;
  size_t parts[] = {vec(b, sg, 0), vec(b, sg, 3), vec(b, root(b), 1)};
  for (size_t i = 0; i < 3; i++)
    if (parts[i] < meta) meta = parts[i];
  unsigned ok = 0, failed = 0;
  failed += sweep(b, size, 0, 1024, 1024, &ok);
  failed += sweep(b, size, 0, 65536, 2000, &ok);
  failed += sweep(b, size, meta, size, 2000, &ok);
  fprintf(stderr, "%s: %u flips loaded, %u rejected\n", rel, ok, failed);
  ASSERT(failed > 100); /* the sweep did reach the structure */
  free(b);
}

TEST(model_flip_sweep) {
  sweep_model(QUANT_MODEL);
  sweep_model(TF2_MODEL);
}

TEST_MAIN(model_truncated, model_corrupt_root_and_vtable,
          model_corrupt_vector_length, model_corrupt_buffer_offset,
          model_corrupt_buffer_data_length, model_unsupported_operator,
          model_unsupported_activation, model_external_buffers,
          model_random_bytes,
          model_empty_and_text_files, model_flip_sweep)
