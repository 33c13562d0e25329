/* SPDX-License-Identifier: Apache-2.0 */
/*
 * torch_parity.c - imgstream against PyTorch on float models exported
 * from torchvision (tests/torch_reference.py made the references: the
 * .onnx files, PyTorch's logits, torchvision's preprocessed tensors).
 *
 *   torch_parity_MODEL   the 20 flower photos through imgstream's decoder,
 *                        preprocessor and engine (one batch of 20, on
 *                        1 thread and on 2) vs PyTorch's logits: logits
 *                        within 1e-3 of the image's largest |logit|,
 *                        top-5 indices identical wherever neighbouring
 *                        logits differ by > 1e-4.
 *                        MODEL: mobilenet_v2 (opsets 11, 13, 17),
 *                        resnet18, efficientnet_b0 (13, 17); the
 *                        variants keep BatchNormalization nodes, raw
 *                        Constant nodes and Shape/Reshape chains
 *                        (tests/torch_reference.py's MODELS)
 *   torch_preprocess     the same PIL-decoded RGB pixels through
 *                        imgstream's resize + crop + normalization
 *                        (ims_preprocess, ims_engine_input_f32) vs
 *                        torchvision's Resize(256), CenterCrop(224),
 *                        ToTensor, Normalize: at most 1/255 apart after
 *                        un-normalizing (photos, the shared test images,
 *                        upscaled, wide, tall and odd sizes), on every
 *                        kernel path (scalar, SSE4.1, AVX2, AVX-512)
 *                        this CPU has
 *   torch_decode         imgstream's JPEG/BMP decoding vs PIL's on the
 *                        photos and the shared test images: same bytes
 *   torch_input_errors   ims_engine_input_f32's refusals (bad batch, NULL,
 *                        a quantized model has no float input)
 *
 * Each case prints its largest differences. The case name is the first
 * argument (tests/torch.cmake registers one CTest test per case); the
 * references are in $IMGSTREAM_TORCH_DIR. If the fixture found no
 * PyTorch it left a SKIPPED file there, and every case skips.
 *
 * Sections: 1. references  2. model parity  3. preprocessing and
 * decoding  4. cases
 *
 * Threading: single-threaded (engines run on 1 thread).
 */
#include <stdint.h>
#include <unistd.h>

#include "image/preprocess_int.h" /* private: kernel paths */
#include "imgstream/imgstream.h"
#include "test.h"

#define NIMG 20     /* photos in images.txt */
#define NCLASS 1000 /* logits per image */
#define SIDE 224    /* model input */
#define PIXELS (SIDE * SIDE)

static const float mean_in[3] = {0.485f, 0.456f, 0.406f};
static const float std_in[3] = {0.229f, 0.224f, 0.225f};

/* ---- 1. references ---- */

/* $IMGSTREAM_TORCH_DIR/rel in a static buffer (skips if unset or if the
 * fixture left SKIPPED). */
static const char *torch_path(const char *rel) {
  static char buf[4096];
  const char *dir = getenv("IMGSTREAM_TORCH_DIR");
  if (dir == NULL || dir[0] == '\0') RETURN_SKIP("IMGSTREAM_TORCH_DIR unset");
  snprintf(buf, sizeof buf, "%s/SKIPPED", dir);
  if (access(buf, F_OK) == 0) RETURN_SKIP("no PyTorch (see SKIPPED)");
  snprintf(buf, sizeof buf, "%s/%s", dir, rel);
  return buf;
}

/* A reference file that must be exactly `size` bytes; caller frees. */
static void *read_exact(const char *rel, size_t size) {
  const char *path = torch_path(rel);
  size_t n = 0;
  unsigned char *d = test_read_file(path, &n);
  if (d == NULL) TEST__FAIL("cannot read %s (did torch_export run?)", path);
  if (n != size) {
    free(d);
    TEST__FAIL("%s: %zu bytes, want %zu", path, n, size);
  }
  return d;
}

/* images.txt: NIMG absolute paths into paths[i] (4096 bytes each). */
static void read_images(char paths[NIMG][4096]) {
  FILE *f = fopen(torch_path("images.txt"), "r");
  ASSERT(f != NULL);
  int n = 0;
  while (n < NIMG && fgets(paths[n], 4096, f) != NULL) {
    paths[n][strcspn(paths[n], "\n")] = '\0';
    n++;
  }
  fclose(f);
  ASSERT_EQ(n, NIMG);
}

/* ---- 2. model parity ---- */

/* Decode + preprocess the photos into NIMG * PIXELS * 3 bytes (full-size
 * JPEG decoding: bit-exact with PIL). */
static uint8_t *prepare(char paths[NIMG][4096], uint32_t resize) {
  ims_error err = {0};
  ims_decoder *dec = NULL;
  ims_preprocessor *pre = NULL;
  ims_preprocess_options po = {resize, SIDE, SIDE};
  ASSERT_OK(ims_decoder_create(NULL, &dec, &err), &err);
  ASSERT_OK(ims_preprocessor_create(&po, &pre, &err), &err);
  uint8_t *rgb = malloc((size_t)NIMG * PIXELS * 3);
  ASSERT(rgb != NULL);
  for (int i = 0; i < NIMG; i++) {
    ims_image img;
    ASSERT_OK(ims_decoder_decode_file(dec, paths[i], &img, &err), &err);
    ASSERT_OK(ims_preprocess(pre, &img, rgb + (size_t)i * PIXELS * 3, &err),
              &err);
  }
  ims_preprocessor_destroy(pre);
  ims_decoder_destroy(dec);
  return rgb;
}

/* Indices of the n largest of v[0..NCLASS), best first. */
static void top_n(const float *v, int n, int *idx) {
  for (int k = 0; k < n; k++) {
    int best = -1;
    for (int i = 0; i < NCLASS; i++) {
      int taken = 0;
      for (int j = 0; j < k; j++) taken |= idx[j] == i;
      if (!taken && (best < 0 || v[i] > v[best])) best = i;
    }
    idx[k] = best;
  }
}

/* Largest |got - want| of one image, relative to its largest |want|;
 * also checks the top-5 rule. Returns the relative difference. */
static double compare_image(const char *what, int image, const float *got,
                            const float *want, double *abs_out, int *ranks) {
  double maxabs = 0, diff = 0;
  for (int i = 0; i < NCLASS; i++) {
    double d = fabs((double)got[i] - want[i]);
    if (fabs(want[i]) > maxabs) maxabs = fabs(want[i]);
    if (d > diff || d != d) diff = d;
  }
  int tg[5], tw[6];
  top_n(got, 5, tg);
  top_n(want, 6, tw);
  for (int k = 0; k < 5; k++) {
    /* A rank is defined only if its logit stands clear of its
     * neighbours' (PyTorch's own ordering there is noise). */
    double up = k > 0 ? want[tw[k - 1]] - want[tw[k]] : 1.0;
    double down = want[tw[k]] - want[tw[k + 1]];
    if (!(up > 1e-4 && down > 1e-4)) continue;
    ++*ranks;
    if (tg[k] != tw[k])
      TEST__FAIL(
          "%s image %d: rank %d is class %d (%.6f), PyTorch says "
          "%d (%.6f)",
          what, image, k + 1, tg[k], got[tg[k]], tw[k], want[tw[k]]);
  }
  *abs_out = diff;
  return maxabs > 0 ? diff / maxabs : diff;
}

/* Compare NIMG rows of logits; prints the largest differences. */
static void compare_logits(const char *what, const float *got,
                           const float *want) {
  double worst = 0, worst_abs = 0;
  int worst_i = 0, ranks = 0;
  for (int i = 0; i < NIMG; i++) {
    double a = 0;
    double r = compare_image(what, i, got + (size_t)i * NCLASS,
                             want + (size_t)i * NCLASS, &a, &ranks);
    if (r > worst || r != r) worst = r, worst_i = i;
    if (a > worst_abs) worst_abs = a;
  }
  fprintf(stderr,
          "%s: largest logit difference %.3g (%.3g of the "
          "image's largest |logit|, image %d); top-5 identical (%d of %d "
          "ranks clear by > 1e-4)\n",
          what, worst_abs, worst, worst_i, ranks, 5 * NIMG);
  ASSERT(ranks >= 5 * NIMG / 2); /* or the top-5 check checks little */
  if (!(worst <= 1e-3))
    TEST__FAIL(
        "%s: image %d differs by %.3g of its largest |logit| "
        "(limit 1e-3)",
        what, worst_i, worst);
}

/* imgstream's logits for the photos with `model_file` (raw model output:
 * the exports end without softmax). */
static void check_model(const char *model_file, const char *logits_file) {
  char paths[NIMG][4096];
  read_images(paths);
  float *want = read_exact(logits_file, sizeof(float) * NIMG * NCLASS);
  uint8_t *rgb = prepare(paths, 256);
  ims_error err = {0};
  ims_model *m = NULL;
  ASSERT_OK(ims_model_load_file(torch_path(model_file), &m, &err), &err);
  ims_model_info info;
  ims_model_get_info(m, &info);
  ASSERT_STR_EQ(info.format, "onnx");
  ASSERT_EQ(info.output_count, NCLASS);
  ASSERT_EQ(info.output_logits, 1);
  ASSERT_EQ(info.input_height, SIDE);
  ims_engine_options eo;
  memset(&eo, 0, sizeof eo);
  eo.threads = 1;
  eo.max_batch = NIMG;
  ims_engine *e = NULL;
  ASSERT_OK(ims_engine_create(m, &eo, &e, &err), &err);
  float *got = malloc(sizeof(float) * NIMG * NCLASS);
  ASSERT(got != NULL);
  ASSERT_OK(ims_engine_run(e, rgb, NIMG, got, &err), &err);
  compare_logits(model_file, got, want);
  /* Batch 1 (the batch axis is dynamic) gives the same as in the batch. */
  float one[NCLASS];
  ASSERT_OK(ims_engine_run(e, rgb + (size_t)7 * PIXELS * 3, 1, one, &err),
            &err);
  for (int i = 0; i < NCLASS; i++)
    ASSERT_LE(fabs(one[i] - got[7 * NCLASS + i]), 1e-5 * (1 + fabs(one[i])));
  ims_engine_destroy(e);
  /* Two threads split each layer: a batch by images, one image by output
   * rows (oneDNN chunks) - against PyTorch and the one-thread run. */
  eo.threads = 2;
  eo.flags = IMS_ENGINE_FLAG_FIXED_THREADS;
  ASSERT_OK(ims_engine_create(m, &eo, &e, &err), &err);
  float *two = malloc(sizeof(float) * NIMG * NCLASS);
  ASSERT(two != NULL);
  ASSERT_OK(ims_engine_run(e, rgb, NIMG, two, &err), &err);
  compare_logits(model_file, two, want);
  ASSERT_OK(ims_engine_run(e, rgb + (size_t)7 * PIXELS * 3, 1, one, &err),
            &err);
  for (int i = 0; i < NCLASS; i++)
    ASSERT_LE(fabs(one[i] - got[7 * NCLASS + i]), 1e-5 * (1 + fabs(one[i])));
  ims_engine_destroy(e);
  ims_model_destroy(m);
  free(two);
  free(got);
  free(rgb);
  free(want);
}

/* ---- 3. preprocessing and decoding ---- */

/* One prep.txt entry: imgstream's tensor (NHWC) vs torchvision's (CHW),
 * both un-normalized. Returns the largest difference; counts the values
 * that are not the same byte in *differ. */
static double compare_prep(ims_engine *e, ims_preprocessor *pre,
                           const char *name, uint32_t w, uint32_t h,
                           float *mine, size_t *differ) {
  char rel[512];
  snprintf(rel, sizeof rel, "prep/%s.rgb", name);
  uint8_t *pixels = read_exact(rel, (size_t)w * h * 3);
  snprintf(rel, sizeof rel, "prep/%s.chw", name);
  float *want = read_exact(rel, sizeof(float) * 3 * PIXELS);
  ims_image img = {w, h, (size_t)w * 3, pixels};
  uint8_t crop[PIXELS * 3];
  ims_error err = {0};
  ASSERT_OK(ims_preprocess(pre, &img, crop, &err), &err);
  ASSERT_OK(ims_engine_input_f32(e, crop, 1, mine, &err), &err);
  double worst = 0;
  for (size_t p = 0; p < PIXELS; p++) {
    for (int c = 0; c < 3; c++) {
      double a = mine[p * 3 + c] * std_in[c] + mean_in[c];
      double b = want[c * PIXELS + p] * std_in[c] + mean_in[c];
      double d = fabs(a - b);
      if (d > worst || d != d) worst = d;
      *differ += lrint(a * 255) != lrint(b * 255);
    }
  }
  free(pixels);
  free(want);
  return worst;
}

/* Every prep.txt entry through the preprocessor on its current path;
 * prints and checks the largest difference. */
static void check_prep_path(ims_engine *e, ims_preprocessor *pre, float *mine) {
  FILE *f = fopen(torch_path("prep.txt"), "r");
  ASSERT(f != NULL);
  char name[256], worst_name[256] = "";
  unsigned w = 0, h = 0;
  int n = 0;
  double worst = 0;
  size_t differ = 0;
  while (fscanf(f, "%255s %u %u", name, &w, &h) == 3) {
    double d = compare_prep(e, pre, name, w, h, mine, &differ);
    if (d > worst || d != d) {
      worst = d;
      snprintf(worst_name, sizeof worst_name, "%s", name);
    }
    n++;
  }
  fclose(f);
  fprintf(stderr,
          "preprocess (%s kernels): %d images, largest difference %.3g/255 "
          "(%s), %zu of %zu values not the same byte\n",
          ims__preprocess_path_name(pre), n, worst * 255, worst_name, differ,
          (size_t)n * 3 * PIXELS);
  ASSERT(n >= 30);
  if (!(worst <= 1.0 / 255 + 1e-6))
    TEST__FAIL("%s: differs from torchvision by %.3g/255", worst_name,
               worst * 255);
}

/* On every kernel path this build and CPU have (they must all give the
 * same bytes; the default one is the fastest). */
static void check_preprocess(void) {
  ims_error err = {0};
  ims_model *m = NULL;
  ASSERT_OK(ims_model_load_file(torch_path("mobilenet_v2.onnx"), &m, &err),
            &err);
  ims_engine_options eo;
  memset(&eo, 0, sizeof eo);
  eo.threads = 1;
  ims_engine *e = NULL;
  ASSERT_OK(ims_engine_create(m, &eo, &e, &err), &err);
  ims_preprocessor *pre = NULL;
  ASSERT_OK(ims_preprocessor_create(NULL, &pre, &err), &err);
  float *mine = malloc(sizeof(float) * 3 * PIXELS);
  ASSERT(mine != NULL);
  int paths = 0;
  for (int p = IMS__PATH_SCALAR; p <= IMS__PATH_AVX512; p++) {
    if (ims__preprocessor_set_path(pre, (ims__preprocess_path)p, &err) !=
        IMS_OK)
      continue;
    check_prep_path(e, pre, mine);
    paths++;
  }
  ASSERT(paths >= 1);
  free(mine);
  ims_preprocessor_destroy(pre);
  ims_engine_destroy(e);
  ims_model_destroy(m);
}

/* imgstream's decoder vs PIL's (Image.open().convert("RGB")) on the
 * photos and the shared test images of prep.txt (the other entries are
 * made-up sizes with no file). */
static void check_decode(void) {
  FILE *f = fopen(torch_path("prep.txt"), "r");
  ASSERT(f != NULL);
  char paths[NIMG][4096], name[256], file[4200];
  read_images(paths);
  ims_error err = {0};
  ims_decoder *dec = NULL;
  ASSERT_OK(ims_decoder_create(NULL, &dec, &err), &err);
  unsigned w = 0, h = 0;
  int n = 0;
  size_t differ = 0, total = 0;
  static const char *const extra[] = {"parrot.jpg", "cat_720p.jpg",
                                      "grace_hopper.bmp", "sunflower.bmp"};
  for (int k = 0; fscanf(f, "%255s %u %u", name, &w, &h) == 3; k++) {
    if (k < NIMG) {
      snprintf(file, sizeof file, "%s", paths[k]);
    } else if (k < NIMG + 4) {
      char rel[64];
      snprintf(rel, sizeof rel, "data/images/%s", extra[k - NIMG]);
      snprintf(file, sizeof file, "%s", shared_path(rel));
    } else {
      break;
    }
    ims_image img;
    ASSERT_OK(ims_decoder_decode_file(dec, file, &img, &err), &err);
    ASSERT_EQ(img.width, w);
    ASSERT_EQ(img.height, h);
    char rel[512];
    snprintf(rel, sizeof rel, "prep/%s.rgb", name);
    uint8_t *pil = read_exact(rel, (size_t)w * h * 3);
    for (uint32_t y = 0; y < h; y++)
      for (size_t i = 0; i < (size_t)w * 3; i++)
        differ += img.pixels[y * img.stride + i] != pil[(size_t)y * w * 3 + i];
    total += (size_t)w * h * 3;
    free(pil);
    n++;
  }
  fclose(f);
  ims_decoder_destroy(dec);
  fprintf(stderr, "decode: %d files, %zu of %zu bytes differ from PIL's\n", n,
          differ, total);
  ASSERT_EQ(n, NIMG + 4);
  ASSERT_EQ(differ, 0);
}

/* ---- 4. cases ---- */

TEST(torch_parity_mobilenet_v2) {
  check_model("mobilenet_v2.onnx", "mobilenet_v2.logits");
}

TEST(torch_parity_mobilenet_v2_opset11) {
  check_model("mobilenet_v2_opset11.onnx", "mobilenet_v2.logits");
}

TEST(torch_parity_mobilenet_v2_opset17) {
  check_model("mobilenet_v2_opset17.onnx", "mobilenet_v2.logits");
}

TEST(torch_parity_resnet18) { check_model("resnet18.onnx", "resnet18.logits"); }

TEST(torch_parity_efficientnet_b0) {
  check_model("efficientnet_b0.onnx", "efficientnet_b0.logits");
}

TEST(torch_parity_efficientnet_b0_opset17) {
  check_model("efficientnet_b0_opset17.onnx", "efficientnet_b0.logits");
}

TEST(torch_preprocess) { check_preprocess(); }

TEST(torch_decode) { check_decode(); }

/* ims_engine_input_f32's refusals: bad batch, NULL, a quantized model. */
TEST(torch_input_errors) {
  ims_error err = {0};
  ims_model *m = NULL;
  ims_engine *e = NULL;
  ims_engine_options eo;
  memset(&eo, 0, sizeof eo);
  eo.threads = 1;
  ASSERT_OK(ims_model_load_file(torch_path("mobilenet_v2.onnx"), &m, &err),
            &err);
  ASSERT_OK(ims_engine_create(m, &eo, &e, &err), &err);
  static uint8_t rgb[2 * PIXELS * 3];
  static float out[2 * PIXELS * 3];
  ASSERT_EQ(ims_engine_input_f32(e, rgb, 0, out, &err), IMS_ERR_INVALID_ARG);
  ASSERT_CONTAINS(err.message, "batch of 0 images");
  ASSERT_EQ(ims_engine_input_f32(e, rgb, 2, out, &err), IMS_ERR_INVALID_ARG);
  ASSERT_CONTAINS(err.message, "takes 1 to 1");
  ASSERT_EQ(ims_engine_input_f32(e, NULL, 1, out, &err), IMS_ERR_INVALID_ARG);
  ASSERT_EQ(ims_engine_input_f32(NULL, rgb, 1, out, &err), IMS_ERR_INVALID_ARG);
  ims_engine_destroy(e);
  ims_model_destroy(m);
  const char *q = shared_path("models/mobilenet_v2_1.0_224_quant.tflite");
  ASSERT_OK(ims_model_load_file(q, &m, &err), &err);
  ASSERT_OK(ims_engine_create(m, &eo, &e, &err), &err);
  ASSERT_EQ(ims_engine_input_f32(e, rgb, 1, out, &err), IMS_ERR_INVALID_ARG);
  ASSERT_CONTAINS(err.message, "quantized");
  ims_engine_destroy(e);
  ims_model_destroy(m);
}

TEST_MAIN(torch_parity_mobilenet_v2, torch_parity_mobilenet_v2_opset11,
          torch_parity_mobilenet_v2_opset17, torch_parity_resnet18,
          torch_parity_efficientnet_b0, torch_parity_efficientnet_b0_opset17,
          torch_preprocess, torch_input_errors, torch_decode)
