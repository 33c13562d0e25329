/* SPDX-License-Identifier: Apache-2.0 */
/*
 * infer_float_model.c - a float32 MobileNetV2 made by dequantizing the
 * shared mobilenet_v2_1.0_224_quant.tflite (tests/support/float_model.c),
 * run by the engine on every Arm NN reference input, against the
 * quantized model's reference outputs (NAME.mobilenet_v2_1.0_224_quant.out).
 *
 * What it shows: the float paths of CONV_2D, DEPTHWISE_CONV_2D, ADD,
 * AVERAGE_POOL_2D, RESHAPE and SOFTMAX compute the same network as the
 * quantized one. The two are different arithmetic, so only the decision is
 * held to account: top-1 must equal the reference's top-1 wherever the
 * reference's top-1 leads its top-2 by >= 0.10. Prints the agreement and
 * the largest probability difference.
 *
 * Input: mean = std = 0.5 gives x = p/127.5 - 1, the real values the
 * quantized model's input (scale 1/128, zero point 128) stands for, to
 * within 0.4 %.
 *
 * Threading: single-threaded test (the engine uses its own workers).
 */

#include "support/float_model.h"
#include "imgstream/imgstream.h"
#include "test.h"
#include "support/reference.h"

#define QUANT "mobilenet_v2_1.0_224_quant"
#define IMG_BYTES (224 * 224 * 3)
#define CLASSES 1001
#define MIN_LEAD 0.10f


/* Index of the largest value; *second_out gets the runner-up's value. */
static int top2(const float *p, float *first_out, float *second_out) {
  int best = 0;
  float first = -1.0f, second = -1.0f;
  for (int k = 0; k < CLASSES; k++) {
    if (p[k] > first) {
      second = first;
      first = p[k];
      best = k;
    } else if (p[k] > second) {
      second = p[k];
    }
  }
  *first_out = first;
  *second_out = second;
  return best;
}

static ims_model *float_twin(void) {
  ims_error err = {0};
  ims_model *q = NULL, *f = NULL;
  ASSERT_OK(ims_model_load_file(shared_path("models/" QUANT ".tflite"), &q,
                                &err), &err);
  char why[256] = "";
  size_t size = 0;
  uint8_t *bytes = fm_float_model(q, &size, why, sizeof why);
  ims_model_destroy(q);
  if (bytes == NULL) TEST__FAIL("fm_float_model: %s", why);
  ims_status st = ims_model_load_memory(bytes, size, &f, &err);
  free(bytes);
  ASSERT_OK(st, &err);
  ims_model_info info;
  ims_model_get_info(f, &info);
  ASSERT_EQ(info.input_type, IMS_TENSOR_F32);
  ASSERT_EQ(info.output_type, IMS_TENSOR_F32);
  ASSERT_EQ(info.output_count, CLASSES);
  return f;
}

/* Agreement figures over all inputs. */
typedef struct agreement {
  size_t images;        /* inputs compared */
  size_t same_top1;     /* top-1 equal to the reference's */
  size_t checked;       /* inputs whose reference lead is >= MIN_LEAD */
  float worst;          /* largest |float - reference| probability */
} agreement;

static void compare(const char *name, const float *p, agreement *a) {
  unsigned char *ref = ref_read(name, "." QUANT ".out", CLASSES);
  float refp[CLASSES], r1, r2, f1, f2;
  for (int k = 0; k < CLASSES; k++) {
    refp[k] = ref[k] / 256.0f;
    float d = fabsf(p[k] - refp[k]);
    if (d > a->worst) a->worst = d;
  }
  free(ref);
  int want = top2(refp, &r1, &r2), got = top2(p, &f1, &f2);
  a->images++;
  a->same_top1 += got == want;
  if (r1 - r2 < MIN_LEAD) return;
  a->checked++;
  if (got != want)
    TEST__FAIL("%s: float top-1 %d (%.3f), reference %d (%.3f, leads by "
               "%.3f)", name, got, (double)f1, want, (double)r1,
               (double)(r1 - r2));
}

TEST(float_mobilenet_matches_quant_reference) {
  static char names[REF_MAX_INPUTS][128];
  size_t n = ref_list_inputs(names);
  if (n == 0) RETURN_SKIP("no reference inputs under ../shared");
  ims_model *model = float_twin();
  ims_engine_options opt = {.threads = 2, .max_batch = 1,
                            .mean = {0.5f, 0.5f, 0.5f},
                            .std = {0.5f, 0.5f, 0.5f}};
  ims_engine *e = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_engine_create(model, &opt, &e, &err), &err);
  static float p[CLASSES];
  agreement a = {0, 0, 0, 0.0f};
  for (size_t i = 0; i < n; i++) {
    unsigned char *rgb = ref_read(names[i], ".rgb", IMG_BYTES);
    ASSERT_OK(ims_engine_run(e, rgb, 1, p, &err), &err);
    free(rgb);
    compare(names[i], p, &a);
  }
  fprintf(stderr,
          "float MobileNetV2 vs quantized reference: top-1 agrees on %zu of "
          "%zu inputs (all %zu with a lead >= %.2f checked), largest "
          "probability difference %.4f\n",
          a.same_top1, a.images, a.checked, (double)MIN_LEAD,
          (double)a.worst);
  ASSERT(a.checked > 0);
  ims_engine_destroy(e);
  ims_model_destroy(model);
}

TEST_MAIN(float_mobilenet_matches_quant_reference)
