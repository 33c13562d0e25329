/* SPDX-License-Identifier: Apache-2.0 */
/*
 * faults.c - failures that real inputs cannot provoke, injected by the
 * linker: this test is linked with --wrap for the allocation functions and
 * for the backends' run calls (tests/faults.cmake), so every call the
 * library's own objects make to malloc, calloc, realloc, aligned_alloc,
 * strdup, xnn_run_operator or dnnl_primitive_execute goes through the
 * __wrap_ functions here first.
 * Calls inside the shared libraries (XNNPACK's, oneDNN's, libjpeg's own
 * allocations) are not wrapped.
 *
 * Out of memory, SQLite's way: count the allocations one operation makes,
 * then run it again once for each of them, failing that one. Every run
 * must end in IMS_ERR_NO_MEMORY with a message and nothing returned; the
 * sanitizer build's leak check (CI) sees that the half-built objects were
 * freed. The operations: loading the shared quantized model, its float
 * twin and an ONNX model; creating engines on them with batch helpers
 * (the threaded engine's one-thread helper engines); loading the label
 * file; creating a classifier (all of these, with its decode lanes);
 * decoding and preprocessing a JPEG, a BMP and a PNG; a learned head
 * made, taught samples that add classes and its first covariance refit,
 * and encoded, and a head file decoded (after a failed step, the head's
 * file must still decode: no half-added class); and a whole
 * stream run (bucket, checkpoint, classifier threads, sink), after which
 * a restart on the same checkpoint must give every image exactly once,
 * classified: an image whose decode met out of memory fails its batch
 * rather than become an error row.
 *
 * A backend run that fails: on an engine that splits a batch into shares
 * (one per thread), a failed XNNPACK or oneDNN run in the share on the
 * pool's worker thread, or on the calling thread, is reported by
 * ims_engine_run with the backend's message, and the next run gives every
 * image the scores a one-thread engine gives it.
 *
 * A NATS worker (a real nats-server on loopback) whose allocations fail
 * in turn must stop with IMS_ERR_NO_MEMORY and ack none of its batch, so
 * that the next worker has every image after the ack wait.
 * A stream from an S3-protocol bucket (s3rver on loopback) as one from a
 * folder.
 *
 * Sections: 1. the wrappers  2. out of memory  3. a backend run that
 *           fails  4. a stream that runs out of memory  5. a NATS worker
 *           that runs out of memory  6. an S3 stream that runs out of
 *           memory
 */
#define _GNU_SOURCE /* strdup, nftw */
#include <dirent.h>
#include <dnnl.h>
#include <jansson.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xnnpack.h>

#include "support/float_model.h"
#include "support/image_fixtures.h"
#include "imgstream/imgstream.h"
#include "imgstream/nats.h"
#include "support/model_onnx_common.h"
#include "support/nats_server.h"
#include "support/s3_server.h"
#include "test.h"
#include "support/tool.h"

/* ---- 1. the wrappers --------------------------------------------------- */

/* Allocations: counted while armed; number fail_at (1-based) fails. */
static atomic_long alloc_calls;
static atomic_long alloc_fail_at;
static atomic_bool alloc_armed;

static bool alloc_fails(void) {
  if (!atomic_load(&alloc_armed)) return false;
  long n = atomic_fetch_add(&alloc_calls, 1) + 1;
  return n == atomic_load(&alloc_fail_at);
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
char *__wrap_strdup(const char *s);

void *__wrap_malloc(size_t n) {
  return alloc_fails() ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t k, size_t n) {
  return alloc_fails() ? NULL : __real_calloc(k, n);
}
void *__wrap_realloc(void *p, size_t n) {
  return alloc_fails() ? NULL : __real_realloc(p, n);
}
void *__wrap_aligned_alloc(size_t a, size_t n) {
  return alloc_fails() ? NULL : __real_aligned_alloc(a, n);
}
char *__wrap_strdup(const char *s) {
  return alloc_fails() ? NULL : __real_strdup(s);
}

/* Threads: while refuse_threads is set, the library's pthread_create
 * calls fail as at the system's thread limit. */
static atomic_bool refuse_threads;

int __real_pthread_create(pthread_t *t, const pthread_attr_t *a,
                          void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a,
                          void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a,
                          void *(*fn)(void *), void *arg) {
  if (atomic_load(&refuse_threads)) return EAGAIN;
  return __real_pthread_create(t, a, fn, arg);
}

/* Backend runs: when armed, the first call on a thread of the chosen
 * kind (the test's own thread, or any other) fails, once, with the
 * backend's "out of memory" or with another error. */
enum { ON_MAIN, ON_WORKER };
static pthread_t main_thread;
static atomic_bool run_armed;
static atomic_int run_where;
static atomic_bool run_oom;
static atomic_int run_fired;

static bool run_fails(void) {
  if (!atomic_load(&run_armed)) return false;
  bool on_main = pthread_equal(pthread_self(), main_thread);
  if (on_main != (atomic_load(&run_where) == ON_MAIN)) return false;
  bool armed = true;
  if (!atomic_compare_exchange_strong(&run_armed, &armed, false))
    return false;
  atomic_fetch_add(&run_fired, 1);
  return true;
}

enum xnn_status __real_xnn_run_operator(xnn_operator_t op,
                                        pthreadpool_t pool);
enum xnn_status __wrap_xnn_run_operator(xnn_operator_t op,
                                        pthreadpool_t pool);
enum xnn_status __wrap_xnn_run_operator(xnn_operator_t op,
                                        pthreadpool_t pool) {
  if (run_fails())
    return run_oom ? xnn_status_out_of_memory : xnn_status_invalid_state;
  return __real_xnn_run_operator(op, pool);
}

dnnl_status_t __real_dnnl_primitive_execute(const_dnnl_primitive_t p,
                                            dnnl_stream_t s, int n_args,
                                            const dnnl_exec_arg_t *args);
dnnl_status_t __wrap_dnnl_primitive_execute(const_dnnl_primitive_t p,
                                            dnnl_stream_t s, int n_args,
                                            const dnnl_exec_arg_t *args);
dnnl_status_t __wrap_dnnl_primitive_execute(const_dnnl_primitive_t p,
                                            dnnl_stream_t s, int n_args,
                                            const dnnl_exec_arg_t *args) {
  if (run_fails()) return run_oom ? dnnl_out_of_memory : dnnl_runtime_error;
  return __real_dnnl_primitive_execute(p, s, n_args, args);
}

/* ---- 2. out of memory --------------------------------------------------- */

/* One operation under test: returns its status; on success it has made
 * (and must free) what it built. */
typedef ims_status (*operation)(const void *ctx, ims_error *err);

/* How many wrapped allocations `op` makes when none fails. */
static long count_allocations(operation op, const void *ctx) {
  ims_error err = {0};
  atomic_store(&alloc_calls, 0);
  atomic_store(&alloc_fail_at, 0);
  atomic_store(&alloc_armed, true);
  ims_status st = op(ctx, &err);
  atomic_store(&alloc_armed, false);
  ASSERT_OK(st, &err);
  return atomic_load(&alloc_calls);
}

/* Run `op` once per allocation it makes, failing that one; every run
 * must fail cleanly with IMS_ERR_NO_MEMORY. Returns the count. */
static long fail_each_allocation(const char *what, operation op,
                                 const void *ctx) {
  long total = count_allocations(op, ctx);
  ASSERT(total > 0);
  for (long k = 1; k <= total; k++) {
    ims_error err = {0};
    atomic_store(&alloc_calls, 0);
    atomic_store(&alloc_fail_at, k);
    atomic_store(&alloc_armed, true);
    ims_status st = op(ctx, &err);
    atomic_store(&alloc_armed, false);
    if (st != IMS_ERR_NO_MEMORY || err.message[0] == '\0')
      TEST__FAIL("%s, allocation %ld of %ld failed: got %s \"%s\"", what,
                 k, total, ims_status_name(st), err.message);
  }
  fprintf(stderr, "  %s: each of %ld allocations failed in turn: "
          "IMS_ERR_NO_MEMORY every time\n", what, total);
  return total;
}

typedef struct bytes {
  const uint8_t *data;
  size_t size;
} bytes;

/* An operation (for fail_each_allocation) that creates an object of
 * `type` with `create` - an expression of ctx and err that leaves the
 * object in obj - checks that it exists exactly when creation succeeded,
 * and destroys it. */
#define CREATE_DESTROY(name, type, destroy, create)      \
  static ims_status name(const void *ctx, ims_error *err) { \
    type *obj = NULL;                                       \
    ims_status st = (create);                               \
    ASSERT((st == IMS_OK) == (obj != NULL));                \
    destroy(obj);                                           \
    return st;                                              \
  }

CREATE_DESTROY(load_model, ims_model, ims_model_destroy,
               ims_model_load_memory(((const bytes *)ctx)->data,
                                     ((const bytes *)ctx)->size, &obj, err))

typedef struct engine_case {
  const ims_model *model;
  ims_engine_options options;
} engine_case;

CREATE_DESTROY(create_engine, ims_engine, ims_engine_destroy,
               ims_engine_create(((const engine_case *)ctx)->model,
                                 &((const engine_case *)ctx)->options, &obj,
                                 err))

static uint8_t *file_bytes(const char *rel, size_t *size) {
  uint8_t *d = test_read_file(shared_path(rel), size);
  if (d == NULL) TEST__FAIL("cannot read %s", shared_path(rel));
  return d;
}

static ims_model *model_from(const uint8_t *data, size_t size) {
  ims_error err = {0};
  ims_model *m = NULL;
  ASSERT_OK(ims_model_load_memory(data, size, &m, &err), &err);
  return m;
}

/* The float32 twin of the shared quantized model (float_model.h). */
static uint8_t *float_twin(const uint8_t *quant, size_t quant_size,
                           size_t *size) {
  ims_model *q = model_from(quant, quant_size);
  char why[256];
  uint8_t *d = fm_float_model(q, size, why, sizeof why);
  ims_model_destroy(q);
  if (d == NULL) TEST__FAIL("fm_float_model: %s", why);
  return d;
}

/* Engines on `data`: one thread and batch 1, then two threads and batch
 * 4, which adds a one-thread helper engine for the batch's second share:
 * its allocations must be more, and each fail cleanly too. */
static void engines_out_of_memory(const char *name, const bytes *file) {
  ims_model *m = model_from(file->data, file->size);
  engine_case one = {m, {.threads = 1, .max_batch = 1}};
  engine_case two = {m, {.threads = 2, .max_batch = 4}};
  long n1 = fail_each_allocation(test_strf("%s engine, 1 thread", name),
                                 create_engine, &one);
  long n2 = fail_each_allocation(
      test_strf("%s engine, 2 threads, batch helpers", name), create_engine,
      &two);
  ASSERT(n2 > n1);
  ims_model_destroy(m);
}

/* The three model files the model and engine cases run on. */
typedef struct model_files {
  bytes quant; /* the shared quantized MobileNetV2 */
  bytes twin;  /* its float32 twin */
  bytes onnx;  /* model_onnx_common.h's small classifier */
} model_files;

static model_files make_model_files(void) {
  model_files f;
  size_t n = 0;
  uint8_t *q = file_bytes("models/mobilenet_v2_1.0_224_quant.tflite", &n);
  f.quant = (bytes){q, n};
  uint8_t *t = float_twin(q, n, &n);
  f.twin = (bytes){t, n};
  uint8_t *o = tiny_model(TINY_RAW, NULL, &n);
  f.onnx = (bytes){o, n};
  return f;
}

static void free_model_files(model_files *f) {
  free((void *)f->quant.data);
  free((void *)f->twin.data);
  free((void *)f->onnx.data);
}

TEST(faults_model_load_out_of_memory) {
  model_files f = make_model_files();
  fail_each_allocation("quantized TFLite load", load_model, &f.quant);
  fail_each_allocation("float TFLite load", load_model, &f.twin);
  fail_each_allocation("ONNX load (BatchNormalization folded)", load_model,
                       &f.onnx);
  free_model_files(&f);
}

TEST(faults_engine_create_out_of_memory) {
  model_files f = make_model_files();
  engines_out_of_memory("quantized", &f.quant);
  engines_out_of_memory("float", &f.twin);
  engines_out_of_memory("ONNX", &f.onnx);
  free_model_files(&f);
}

CREATE_DESTROY(load_labels, ims_labels, ims_labels_destroy,
               ims_labels_load_file(ctx, &obj, err))

TEST(faults_labels_out_of_memory) {
  char path[4096];
  snprintf(path, sizeof path, "%s",
           shared_path("models/imagenet_labels.txt"));
  fail_each_allocation("label file", load_labels, path);
}

CREATE_DESTROY(create_classifier, ims_classifier, ims_classifier_destroy,
               ims_classifier_create(ctx, &obj, err))

/* A classifier as the stream's CLI makes one: the shared MobileNet, two
 * threads, batches of 4. */
static ims_classifier_options classifier_options(void) {
  static char model[4096], labels[4096];
  snprintf(model, sizeof model, "%s",
           shared_path("models/mobilenet_v2_1.0_224_quant.tflite"));
  snprintf(labels, sizeof labels, "%s",
           shared_path("models/imagenet_class_index.json"));
  return (ims_classifier_options){.model_path = model,
                                  .labels_path = labels,
                                  .threads = 2,
                                  .max_batch = 4};
}

/* The classifier a stream runs: model, labels, decode lanes with their
 * engines, batch buffers. */
TEST(faults_classifier_out_of_memory) {
  ims_classifier_options o = classifier_options();
  fail_each_allocation("classifier, 2 threads, batch 4", create_classifier,
                       &o);
}

/* A classifier on 2 threads whose team cannot start its helper: the
 * creation fails, says so, and leaves nothing behind (ASan build). */
TEST(faults_classifier_threads_refused) {
  ims_classifier_options o = classifier_options();
  ims_classifier *c = NULL;
  ims_error err = {0};
  atomic_store(&refuse_threads, true);
  ims_status st = ims_classifier_create(&o, &c, &err);
  atomic_store(&refuse_threads, false);
  fprintf(stderr, "refused threads: %s: %s\n", ims_status_name(st),
          err.message);
  ASSERT(c == NULL);
  ASSERT_EQ(st, IMS_ERR_NO_MEMORY);
  ASSERT_CONTAINS(err.message, "cannot start");
  ASSERT_OK(ims_classifier_create(&o, &c, &err), &err);
  ims_classifier_destroy(c);
}

/* Samples of 8 features and 3 classes for the head case: 12 cross the
 * first refit (after 10 samples). */
enum { HEAD_D = 8, HEAD_N = 12 };
static float head_x[HEAD_N][HEAD_D];
static const float *head_rows[HEAD_N];
static const char *head_labels[HEAD_N];

static void head_samples(void) {
  static const char *const names[] = {"daisy", "rose", "tulip"};
  for (size_t i = 0; i < HEAD_N; i++) {
    for (size_t j = 0; j < HEAD_D; j++)
      head_x[i][j] = (float)((i + j) % 3) + (float)((i * j) % 5) * 0.1f;
    head_rows[i] = head_x[i];
    head_labels[i] = names[i % 3];
  }
}

/* The head's file decodes (its state is whole). */
static void head_file_readable(const ims_head *h) {
  void *data = NULL;
  size_t n = 0;
  ims_head *back = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_head_encode(h, &data, &n, &err), &err);
  ASSERT_OK(ims_head_decode(data, n, NULL, &back, &err), &err);
  ims_head_destroy(back);
  free(data);
}

/* Create a head, teach it HEAD_N samples, encode it. */
static ims_status head_learn(const void *ctx, ims_error *err) {
  (void)ctx;
  ims_head_options o = {.model_id = "sha256:faults", .feature_count = HEAD_D};
  ims_head *h = NULL;
  ims_status st = ims_head_create(&o, &h, err);
  ASSERT((st == IMS_OK) == (h != NULL));
  if (st != IMS_OK) return st;
  ims_head_result res[HEAD_N];
  st = ims_head_step(h, HEAD_N, head_rows, head_labels, res, err);
  if (st != IMS_OK) {
    head_file_readable(h);
  } else {
    ASSERT(ims_head_refits(h) >= 1);
    void *data = NULL;
    size_t n = 0;
    st = ims_head_encode(h, &data, &n, err);
    ASSERT((st == IMS_OK) == (data != NULL));
    free(data);
  }
  ims_head_destroy(h);
  return st;
}

CREATE_DESTROY(decode_head, ims_head, ims_head_destroy,
               ims_head_decode(((const bytes *)ctx)->data,
                               ((const bytes *)ctx)->size, NULL, &obj, err))

TEST(faults_head_out_of_memory) {
  head_samples();
  fail_each_allocation("learned head: create, learn, refit, encode",
                       head_learn, NULL);
  ims_head_options o = {.model_id = "sha256:faults", .feature_count = HEAD_D};
  ims_head *h = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_head_create(&o, &h, &err), &err);
  ims_head_result res[HEAD_N];
  ASSERT_OK(ims_head_step(h, HEAD_N, head_rows, head_labels, res, &err),
            &err);
  void *data = NULL;
  size_t n = 0;
  ASSERT_OK(ims_head_encode(h, &data, &n, &err), &err);
  bytes file = {data, n};
  fail_each_allocation("learned head: decode", decode_head, &file);
  free(data);
  ims_head_destroy(h);
}

/* Decode a file and resize + crop it to 224x224, as a stream does. */
static ims_status decode_preprocess(const void *ctx, ims_error *err) {
  ims_decoder *d = NULL;
  ims_preprocessor *p = NULL;
  ims_image img = {0};
  static uint8_t out[224 * 224 * 3];
  ims_preprocess_options po = {0};
  ims_status st = ims_decoder_create(NULL, &d, err);
  if (st == IMS_OK) st = ims_preprocessor_create(&po, &p, err);
  if (st == IMS_OK) st = ims_decoder_decode_file(d, ctx, &img, err);
  if (st == IMS_OK) st = ims_preprocess(p, &img, out, err);
  ims_preprocessor_destroy(p);
  ims_decoder_destroy(d);
  return st;
}

/* A 300x200 RGB PNG (../shared has none) in the test's tmp folder. */
static const char *write_png(void) {
  static uint8_t raw[300 * 200 * 3];
  fx_random(raw, sizeof raw, 7);
  uint8_t *png = NULL;
  size_t n = 0;
  ASSERT_EQ(fx_png_encode(raw, 300, 200, 2, 8, NULL, 0, NULL, &png, &n), 0);
  const char *path = tmp_path("faults_decode.png");
  ASSERT_EQ(test_write_file(path, png, n), 0);
  free(png);
  return path;
}

TEST(faults_decode_out_of_memory) {
  const char *files[] = {shared_path("data/images/parrot.jpg"), NULL,
                         NULL};
  files[0] = test_strf("%s", files[0]);
  files[1] = test_strf("%s", shared_path("data/images/grace_hopper.bmp"));
  files[2] = test_strf("%s", write_png());
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    fail_each_allocation(test_strf("decode + preprocess %s", files[i]),
                         decode_preprocess, files[i]);
}

/* ---- 3. a backend run that fails --------------------------------------- */

#define IMG_BYTES (224 * 224 * 3)
#define BATCH 4

static uint8_t *load_batch(void) {
  static const char *const names[BATCH] = {
      "images__parrot", "images__cat_720p", "images__grace_hopper",
      "images__sunflower"};
  uint8_t *rgb = malloc(BATCH * IMG_BYTES);
  ASSERT(rgb != NULL);
  for (int i = 0; i < BATCH; i++) {
    size_t n = 0;
    uint8_t *one = test_read_file(
        shared_path(test_strf("reference/armnn-cpuref/%s.rgb", names[i])),
        &n);
    ASSERT(one != NULL && n == IMG_BYTES);
    memcpy(rgb + (size_t)i * IMG_BYTES, one, IMG_BYTES);
    free(one);
  }
  return rgb;
}

/* What a failed run must return and say. */
typedef struct expect {
  ims_status status;
  const char *says;
} expect;

/* On a two-thread engine that splits batches into shares (threads fixed:
 * adaptive threading must not run the batch alone), the first backend run
 * on `where` fails (out of memory if oom): ims_engine_run says so; the
 * next run scores every image as a one-thread engine does (within tol). */
static void share_fails(const uint8_t *model_bytes, size_t size, int where,
                        bool oom, expect want_err, float tol) {
  main_thread = pthread_self();
  ims_model *m = model_from(model_bytes, size);
  uint8_t *rgb = load_batch();
  ims_error err = {0};
  ims_engine *one = NULL, *two = NULL;
  ims_engine_options o1 = {.threads = 1, .max_batch = BATCH};
  ims_engine_options o2 = {.threads = 2, .max_batch = BATCH,
                           .flags = IMS_ENGINE_FLAG_FIXED_THREADS};
  ASSERT_OK(ims_engine_create(m, &o1, &one, &err), &err);
  ASSERT_OK(ims_engine_create(m, &o2, &two, &err), &err);
  static float want[BATCH * 1001], got[BATCH * 1001];
  ASSERT_OK(ims_engine_run(one, rgb, BATCH, want, &err), &err);
  /* The pool's worker may not take a share in a given run (the calling
   * thread can take both): run until the failure has fired. */
  ims_status st = IMS_OK;
  atomic_store(&run_fired, 0);
  atomic_store(&run_where, where);
  atomic_store(&run_oom, oom);
  for (int tries = 0; tries < 50 && atomic_load(&run_fired) == 0; tries++) {
    atomic_store(&run_armed, true);
    st = ims_engine_run(two, rgb, BATCH, got, &err);
    atomic_store(&run_armed, false);
  }
  ASSERT_EQ(atomic_load(&run_fired), 1);
  ASSERT_EQ(st, want_err.status);
  ASSERT_CONTAINS(err.message, want_err.says);
  ASSERT_OK(ims_engine_run(two, rgb, BATCH, got, &err), &err);
  for (int k = 0; k < BATCH * 1001; k++) {
    float a = fabsf(want[k]) > fabsf(got[k]) ? fabsf(want[k]) : fabsf(got[k]);
    ASSERT_LE(fabsf(want[k] - got[k]), tol * a);
  }
  ims_engine_destroy(two);
  ims_engine_destroy(one);
  ims_model_destroy(m);
  free(rgb);
}

TEST(faults_share_run_fails_xnnpack) {
  size_t n = 0;
  uint8_t *quant = file_bytes("models/mobilenet_v2_1.0_224_quant.tflite", &n);
  expect backend = {IMS_ERR_BACKEND, "XNNPACK run failed: invalid state"};
  expect oom = {IMS_ERR_NO_MEMORY, "XNNPACK run failed: out of memory"};
  share_fails(quant, n, ON_WORKER, false, backend, 0);
  share_fails(quant, n, ON_MAIN, false, backend, 0);
  share_fails(quant, n, ON_WORKER, true, oom, 0);
  free(quant);
}

TEST(faults_share_run_fails_onednn) {
  size_t qn = 0, fn = 0;
  uint8_t *quant = file_bytes("models/mobilenet_v2_1.0_224_quant.tflite",
                              &qn);
  uint8_t *twin = float_twin(quant, qn, &fn);
  expect backend = {IMS_ERR_BACKEND, "oneDNN run failed"};
  expect oom = {IMS_ERR_NO_MEMORY, "oneDNN run failed"};
  share_fails(twin, fn, ON_WORKER, false, backend, 1e-5f);
  share_fails(twin, fn, ON_MAIN, false, backend, 1e-5f);
  share_fails(twin, fn, ON_WORKER, true, oom, 1e-5f);
  free(twin);
  free(quant);
}

/* ---- 4. a stream that runs out of memory ------------------------------ */

#define STREAM_IMAGES 8

/* A dir:// bucket <name>_bucket with STREAM_IMAGES flowers, half daisies,
 * half tulips; returns its URL (a test_strf buffer). */
static const char *flower_bucket(const char *name) {
  const char *root = test_strf("%s_bucket", tmp_path(name));
  tool_rm_rf(root);
  const char *url = test_strf("dir://%s", root);
  ims_error err = {0};
  ims_bucket *b = NULL;
  ASSERT_OK(ims_bucket_open(url, IMS_BUCKET_CREATE, &b, &err), &err);
  static const char *const kinds[2] = {"daisy", "tulip"};
  for (int k = 0; k < 2; k++) {
    const char *dir = test_strf("%s", shared_path(
        test_strf("data/flowers/%s", kinds[k])));
    DIR *d = opendir(dir);
    if (d == NULL) TEST__FAIL("cannot list %s", dir);
    int put = 0;
    for (struct dirent *e; put < STREAM_IMAGES / 2 && (e = readdir(d));) {
      if (e->d_name[0] == '.') continue;
      size_t n = 0;
      uint8_t *img = test_read_file(test_strf("%s/%s", dir, e->d_name), &n);
      ASSERT(img != NULL);
      ASSERT_OK(ims_bucket_put(b, test_strf("%s/%s", kinds[k], e->d_name),
                               img, n, &err), &err);
      free(img);
      put++;
    }
    closedir(d);
    ASSERT_EQ(put, STREAM_IMAGES / 2);
  }
  ims_bucket_close(b);
  return url;
}

typedef struct stream_case {
  char url[4200], checkpoint[4200], out[4200];
  ims_classifier *clf;
} stream_case;

/* Open the bucket and a JSONL sink, create a stream on the checkpoint and
 * run it until idle, then close everything. It leaves a snapshot of
 * batches 0-1 (offsets/compact-1) and batch 2's files. */
static ims_status run_stream(const stream_case *c, ims_error *err) {
  ims_bucket *b = NULL;
  ims_sink *sink = NULL;
  ims_stream *s = NULL;
  /* batches of 3, 3 and 2 images; after the second, a compaction: */
  ims_stream_options o = {.max_files_per_trigger = 3,
                          .checkpoint_dir = c->checkpoint,
                          .compact_interval = 2,
                          .until_idle_ms = 50};
  ims_status st = ims_bucket_open(c->url, IMS_BUCKET_WATCH, &b, err);
  if (st == IMS_OK)
    st = ims_sink_open(test_strf("jsonl:%s", c->out),
                       IMS_SINK_TRUNCATE_REPLAY, NULL, &sink, err);
  if (st == IMS_OK) st = ims_stream_create(b, c->clf, &sink, 1, &o, &s, err);
  if (st == IMS_OK) st = ims_stream_run(s, err);
  ims_stream_destroy(s);
  ims_sink_close(sink);
  ims_bucket_close(b);
  return st;
}

/* The sink holds every image of the bucket, each classified (no error
 * row): once each, or (JetStream's at-least-once) at least once. */
static void every_image_classified(const char *out, bool once) {
  char *text = test_read_text(out);
  json_t *seen = json_object();
  for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    json_t *row = json_loads(line, 0, NULL);
    ASSERT(row != NULL);
    const char *path = json_string_value(json_object_get(row, "path"));
    ASSERT(path != NULL);
    if (json_object_get(row, "error") != NULL)
      TEST__FAIL("%s: an error row: %s", path, line);
    if (once && json_object_get(seen, path) != NULL)
      TEST__FAIL("%s twice", path);
    json_object_set_new(seen, path, json_true());
    json_decref(row);
  }
  ASSERT_EQ(json_object_size(seen), STREAM_IMAGES);
  json_decref(seen);
  free(text);
}

static void every_image_classified_once(const char *out) {
  every_image_classified(out, true);
}

/* The stream's classifier; a new one for every run: its lanes' decode
 * buffers grow on first use, and those allocations must be among the
 * ones that fail. */
static ims_classifier *stream_classifier(void) {
  ims_classifier_options o = classifier_options();
  ims_classifier *clf = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_classifier_create(&o, &clf, &err), &err);
  return clf;
}

/* The checkpoint and sink a stream run starts from: none, or those saved
 * in <checkpoint>.saved and <out>.saved. */
static void starting_state(const stream_case *c, bool saved) {
  tool_rm_rf(c->checkpoint);
  if (!saved) return;
  ASSERT_EQ(system(test_strf("cp -a '%s.saved' '%s' && cp '%s.saved' '%s'",
                             c->checkpoint, c->checkpoint, c->out, c->out)),
            0);
}

/* A stream run from that state on a new classifier, its allocation
 * number fail_at failing (0: none); returns its status and, in *calls,
 * how many allocations it made. */
static ims_status stream_failing(stream_case *c, bool saved, long fail_at,
                                 long *calls, ims_error *err) {
  starting_state(c, saved);
  c->clf = stream_classifier();
  atomic_store(&alloc_calls, 0);
  atomic_store(&alloc_fail_at, fail_at);
  atomic_store(&alloc_armed, true);
  ims_status st = run_stream(c, err);
  atomic_store(&alloc_armed, false);
  *calls = atomic_load(&alloc_calls);
  return st;
}

/* Stream runs from the starting state whose k-th allocation fails, for
 * each k, stop with IMS_ERR_NO_MEMORY; a restart on the same checkpoint
 * ends with every image classified exactly once. Returns the number of
 * allocations, and in *in_decode how many failed an image's decode. */
static long fail_each_stream_allocation(stream_case *c, bool saved,
                                        long *in_decode) {
  ims_error err = {0};
  long calls = 0, k = 1;
  *in_decode = 0;
  /* Until a run makes fewer allocations than k (their number varies a
   * little with the threads' timing): that run must succeed. */
  for (;; k++) {
    memset(&err, 0, sizeof err);
    ims_status st = stream_failing(c, saved, k, &calls, &err);
    if (calls < k) {
      ASSERT_OK(st, &err);
      ims_classifier_destroy(c->clf);
      every_image_classified_once(c->out);
      return k - 1;
    }
    if (st != IMS_ERR_NO_MEMORY || err.message[0] == '\0')
      TEST__FAIL("stream, allocation %ld failed: got %s \"%s\"", k,
                 ims_status_name(st), err.message);
    /* an image's decode: the batch fails, named, and is replayed */
    *in_decode += strstr(err.message, "(not committed: replayed") != NULL;
    memset(&err, 0, sizeof err);
    ASSERT_OK(run_stream(c, &err), &err);
    ims_classifier_destroy(c->clf);
    every_image_classified_once(c->out);
  }
}

/* The case's bucket, checkpoint and sink, named after it: the NATS case
 * runs as its own CTest test, at the same time as the others. */
static void stream_case_init(stream_case *c, const char *name) {
  snprintf(c->url, sizeof c->url, "%s", flower_bucket(name));
  snprintf(c->checkpoint, sizeof c->checkpoint, "%s_ckpt", tmp_path(name));
  snprintf(c->out, sizeof c->out, "%s.jsonl", tmp_path(name));
}

/* From nothing: each allocation of a run (listing, checkpoint and its
 * compaction, decoding on the classifier's threads, sink). */
TEST(faults_stream_out_of_memory) {
  static stream_case c;
  stream_case_init(&c, "faults_stream");
  long in_decode = 0, n = fail_each_stream_allocation(&c, false, &in_decode);
  ASSERT(in_decode > 0);
  fprintf(stderr, "  stream: each of %ld allocations failed in turn (%ld "
          "decoding an image): IMS_ERR_NO_MEMORY, then a restart "
          "classified every image once\n", n, in_decode);
}

/* From a checkpoint whose last batch was not committed (the process died
 * after its sink write): each allocation of the recovery (the snapshot,
 * then batch 2's offsets read back; the sink's rows of batch 2 cut off)
 * and of the batch's replay. */
TEST(faults_stream_recovery_out_of_memory) {
  static stream_case c;
  stream_case_init(&c, "faults_recovery");
  ims_error err = {0};
  long calls = 0, in_decode = 0;
  ASSERT_OK(stream_failing(&c, false, 0, &calls, &err), &err);
  ims_classifier_destroy(c.clf);
  ASSERT_EQ(access(test_strf("%s/offsets/compact-1", c.checkpoint), R_OK),
            0);
  ASSERT_EQ(unlink(test_strf("%s/commits/2", c.checkpoint)), 0);
  tool_rm_rf(test_strf("%s.saved", c.checkpoint));
  ASSERT_EQ(rename(c.checkpoint, test_strf("%s.saved", c.checkpoint)), 0);
  ASSERT_EQ(rename(c.out, test_strf("%s.saved", c.out)), 0);
  long n = fail_each_stream_allocation(&c, true, &in_decode);
  ASSERT(in_decode > 0);
  fprintf(stderr, "  stream recovery and replay: each of %ld allocations "
          "failed in turn: IMS_ERR_NO_MEMORY, then a restart classified "
          "every image once\n", n);
}

/* The whole scan: every image of the folder in the dataset. */
static void dataset_destroy_counted(ims_dataset *d) {
  if (d != NULL) ASSERT_EQ(ims_dataset_count(d), STREAM_IMAGES);
  ims_dataset_destroy(d);
}

CREATE_DESTROY(scan_dataset, ims_dataset, dataset_destroy_counted,
               ims_dataset_scan(ctx, &obj, err))

typedef struct put_case {
  const char *url; /* a dir:// bucket */
  const uint8_t *data;
  size_t size;
} put_case;

/* Open the bucket, put one object, close: the object is whole or absent
 * (the put writes a temporary file and renames it). */
static ims_status put_object_fresh(const void *ctx, ims_error *err) {
  const put_case *p = ctx;
  ims_bucket *b = NULL;
  ims_status st = ims_bucket_open(p->url, IMS_BUCKET_CREATE, &b, err);
  if (st == IMS_OK) st = ims_bucket_put(b, "rose/new.jpg", p->data, p->size,
                                        err);
  ims_bucket_close(b);
  /* stat, not a read: this runs armed, and a read's malloc would count */
  const char *path = test_strf("%s/rose/new.jpg", p->url + strlen("dir://"));
  struct stat sb;
  bool there = stat(path, &sb) == 0;
  if (st == IMS_OK ? !there || (size_t)sb.st_size != p->size : there)
    TEST__FAIL("put gave %s, and %s is %s", ims_status_name(st), path,
               there ? "there" : "missing");
  unlink(path);
  return st;
}

/* `imgstream produce`'s side: the scan of a labelled folder (category/
 * file), and a put into a folder bucket. */
TEST(faults_dataset_out_of_memory) {
  const char *url = flower_bucket("faults_dataset");
  char root[4200];
  snprintf(root, sizeof root, "%s", url + strlen("dir://"));
  fail_each_allocation("dataset scan", scan_dataset, root);
  size_t n = 0;
  uint8_t *jpg = file_bytes("data/images/parrot.jpg", &n);
  put_case p = {test_strf("dir://%s", root), jpg, n};
  fail_each_allocation("bucket put", put_object_fresh, &p);
  free(jpg);
}

/* ---- 5. a NATS worker that runs out of memory ------------------------ */

/* fn(ctx, object, its bytes) for every object of the bucket at url. */
typedef void (*object_fn)(void *ctx, const ims_object *o, const void *data,
                          size_t size);

static void each_object(const char *url, object_fn fn, void *ctx) {
  ims_error err = {0};
  ims_bucket *b = NULL;
  ims_object *objs = NULL;
  size_t count = 0;
  ASSERT_OK(ims_bucket_open(url, 0, &b, &err), &err);
  ASSERT_OK(ims_bucket_list(b, &objs, &count, &err), &err);
  ASSERT_EQ(count, STREAM_IMAGES);
  for (size_t i = 0; i < count; i++) {
    void *data = NULL;
    size_t size = 0;
    ASSERT_OK(ims_bucket_read(b, objs[i].key, &data, &size, &err), &err);
    fn(ctx, &objs[i], data, size);
    free(data);
  }
  ims_bucket_list_free(objs, count);
  ims_bucket_close(b);
}

/* An object to the JetStream stream of ctx (an ims_nats), keyed and
 * labelled as the producer does. */
static void publish_object(void *ctx, const ims_object *o, const void *data,
                           size_t size) {
  ims_error err = {0};
  char label[64];
  snprintf(label, sizeof label, "%.*s",
           (int)(strchr(o->key, '/') - o->key), o->key);
  ims_nats_image img = {.id = o->key, .key = o->key, .label = label,
                        .content_type = "image/jpeg",
                        .upload_time_ms = o->event_time_ms, .data = data,
                        .size = size};
  ASSERT_OK(ims_nats_publish_image(ctx, &img, NULL, &err), &err);
}

/* A worker on the durable consumer `consumer` of n, a new classifier and
 * a new JSONL sink at out, until no image came for idle_ms; its
 * allocation number fail_at failing (0: none). */
static ims_status nats_worker(ims_nats *n, const char *consumer,
                              const char *out, uint32_t idle_ms,
                              long fail_at, long *calls, ims_error *err) {
  ims_classifier *clf = stream_classifier();
  ims_sink *sink = NULL;
  ims_stream *s = NULL;
  ims_nats_consumer_options co = {.name = consumer, .ack_wait_ms = 1000};
  ims_stream_options o = {.max_files_per_trigger = 3,
                          .until_idle_ms = idle_ms};
  atomic_store(&alloc_calls, 0);
  atomic_store(&alloc_fail_at, fail_at);
  atomic_store(&alloc_armed, true);
  ims_status st = ims_sink_open(test_strf("jsonl:%s", out), 0, NULL, &sink,
                                err);
  if (st == IMS_OK)
    st = ims_stream_create_nats(n, &co, clf, &sink, 1, &o, &s, err);
  if (st == IMS_OK) st = ims_stream_run(s, err);
  ims_stream_destroy(s);
  ims_sink_close(sink);
  atomic_store(&alloc_armed, false);
  *calls = atomic_load(&alloc_calls);
  ims_classifier_destroy(clf);
  return st;
}

/* The case's folder of flowers published to stream STREAM on a new
 * nats-server; returns the connection. */
static ims_nats *nats_case_start(stream_case *c, nsrv *srv,
                                 const char *name) {
  stream_case_init(c, name);
  nsrv_start(srv, test_strf("%s_server", name), 1, 0);
  ims_error err = {0};
  ims_nats *n = NULL;
  ASSERT_OK(ims_nats_connect(nsrv_url(srv, "STREAM"), NULL, &n, &err),
            &err);
  ASSERT_OK(ims_nats_ensure_stream(n, NULL, &err), &err);
  each_object(c->url, publish_object, n);
  unlink(c->out);
  return n;
}

/* A worker whose k-th allocation fails (k sampled over a run's: fetch,
 * keys, decoding on the classifier's threads, sink, acks) stops with
 * IMS_ERR_NO_MEMORY and acks none of the failed batch; a worker started
 * next on the same consumer gets those images again after the ack wait
 * (1 s here) and every image is in the sink, classified, at least once
 * (JetStream's delivery). A new consumer for each k. */
TEST(faults_nats_out_of_memory) {
  static stream_case c;
  static nsrv srv;
  ims_nats *n = nats_case_start(&c, &srv, "faults_nats");
  ims_error err = {0};
  long total = 0, calls = 0, tried = 0;
  ASSERT_OK(nats_worker(n, "count", c.out, 500, 0, &total, &err), &err);
  every_image_classified(c.out, true);
  for (long k = 1; k <= total; k += total / 12 + 1, tried++) {
    const char *consumer = test_strf("k%ld", k);
    unlink(c.out);
    memset(&err, 0, sizeof err);
    ims_status st = nats_worker(n, consumer, c.out, 500, k, &calls, &err);
    if (calls < k) { /* this run made fewer allocations: none failed */
      ASSERT_OK(st, &err);
    } else if (st != IMS_ERR_NO_MEMORY || err.message[0] == '\0') {
      TEST__FAIL("NATS worker, allocation %ld failed: got %s \"%s\"", k,
                 ims_status_name(st), err.message);
    } else {
      double t0 = test_now();
      ASSERT_OK(nats_worker(n, consumer, c.out, 2500, 0, &calls, &err),
                &err);
      /* the redelivery after the ack wait, then the idle wait */
      ASSERT_LE(test_now() - t0, 8.0);
    }
    every_image_classified(c.out, false);
  }
  fprintf(stderr, "  NATS worker: %ld of its ~%ld allocations failed in "
          "turn: IMS_ERR_NO_MEMORY, then a new worker classified every "
          "image\n", tried, total);
  ims_nats_close(n);
  nsrv_stop(&srv);
}

/* ---- 6. an S3 stream that runs out of memory -------------------------- */

static void put_object(void *ctx, const ims_object *o, const void *data,
                       size_t size) {
  ims_error err = {0};
  ASSERT_OK(ims_bucket_put(ctx, o->key, data, size, &err), &err);
}

/* As faults_stream_out_of_memory, from an S3-protocol bucket (s3rver on
 * loopback): listing pages, downloads into the stream's reused buffers,
 * decoding from memory. */
TEST(faults_s3_stream_out_of_memory) {
  static stream_case c;
  static s3srv srv;
  stream_case_init(&c, "faults_s3");
  s3srv_start(&srv, "faults_s3");
  ims_error err = {0};
  ims_bucket *s3 = NULL;
  ASSERT_OK(ims_bucket_open(s3srv_url("flowers"), 0, &s3, &err), &err);
  each_object(c.url, put_object, s3);
  ims_bucket_close(s3);
  snprintf(c.url, sizeof c.url, "%s", s3srv_url("flowers"));
  long in_decode = 0, n = fail_each_stream_allocation(&c, false, &in_decode);
  ASSERT(in_decode > 0);
  fprintf(stderr, "  S3 stream: each of %ld allocations failed in turn (%ld "
          "decoding an image): IMS_ERR_NO_MEMORY, then a restart "
          "classified every image once\n", n, in_decode);
  s3srv_kill(&srv);
}

TEST_MAIN(faults_model_load_out_of_memory,
          faults_engine_create_out_of_memory, faults_labels_out_of_memory,
          faults_classifier_out_of_memory,
          faults_classifier_threads_refused, faults_head_out_of_memory,
          faults_decode_out_of_memory, faults_share_run_fails_xnnpack,
          faults_share_run_fails_onednn, faults_stream_out_of_memory,
          faults_stream_recovery_out_of_memory, faults_dataset_out_of_memory,
          faults_nats_out_of_memory,
          faults_s3_stream_out_of_memory)
