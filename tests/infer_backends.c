/* SPDX-License-Identifier: Apache-2.0 */
/*
 * infer_backends.c - oneDNN and XNNPACK give the same answers.
 *
 * On the 24 reference inputs (the .rgb files of
 * ../shared/reference/armnn-cpuref) and both shared models, an engine
 * forced onto XNNPACK (one thread, one image at a time) and one forced
 * onto oneDNN for its convolutions (two threads, all 24 images in one
 * batch, so layers split across images and workers) must agree to within
 * one output step, 1/256, on every output. (They are in fact
 * bit-identical - same integer math, same rounding - and the test prints
 * how many outputs differ; the margin keeps it meaningful should a future
 * oneDNN round one requantization differently.) Then the
 * oneDNN engine again at batch 1 on 3 threads and batch 5 on 2 (other
 * chunk boundaries) must reproduce its batch-24 results exactly. Skips
 * where oneDNN has no JIT int8 kernel for this CPU. Also: both FORCE flags
 * at once are refused.
 */

#include "imgstream/imgstream.h"
#include "test.h"
#include "support/reference.h"

#define IMG_BYTES (224 * 224 * 3)
#define OUTS 1001

static void backends_agree(const char *model_file) {
  ims_error err = {0};
  ims_model *model = NULL;
  ASSERT_OK(ims_model_load_file(shared_path(model_file), &model, &err), &err);
  unsigned char *rgb = malloc(REF_MAX_INPUTS * IMG_BYTES);
  ASSERT(rgb != NULL);
  size_t n = ref_load_inputs(rgb);
  ASSERT(n >= 24);
  float *dnnl = ref_run_all(model, IMS_ENGINE_FLAG_FORCE_ONEDNN, 2, rgb, n, n);
  if (dnnl == NULL) {
    free(rgb);
    ims_model_destroy(model);
    RETURN_SKIP("oneDNN has no JIT int8 kernel for this CPU");
  }
  float *xnn = ref_run_all(model, IMS_ENGINE_FLAG_FORCE_XNNPACK, 1, rgb, n, 1);
  float worst = 0.0f;
  size_t differ = 0;
  for (size_t i = 0; i < n * OUTS; i++) {
    float d = fabsf(dnnl[i] - xnn[i]);
    differ += d > 0.0f;
    if (d > worst) worst = d;
    if (d > 1.0f / 256.0f + 1e-6f)
      TEST__FAIL("%s image %zu output %zu: oneDNN %f, XNNPACK %f",
                 model_file, i / OUTS, i % OUTS, dnnl[i], xnn[i]);
  }
  fprintf(stderr, "%s: oneDNN vs XNNPACK: largest difference %.5f, %zu of "
          "%zu outputs differ\n", model_file, worst, differ, n * OUTS);
  for (size_t step = 1; step <= 5; step += 4) {
    /* 3 threads at batch 1: convolutions split into top, middle and
     * bottom rows; 2 threads at batch 5: into 3 + 2 images. */
    float *again = ref_run_all(model, IMS_ENGINE_FLAG_FORCE_ONEDNN,
                           step == 1 ? 3 : 2, rgb, n, step);
    ASSERT(memcmp(again, dnnl, n * OUTS * sizeof *again) == 0);
    free(again);
  }
  free(dnnl);
  free(xnn);
  free(rgb);
  ims_model_destroy(model);
}

TEST(infer_backends_agree_quant) {
  backends_agree("models/mobilenet_v2_1.0_224_quant.tflite");
}

TEST(infer_backends_agree_tf2_ptq) {
  backends_agree("models/tf2_mobilenet_v2_1.0_224_ptq.tflite");
}

TEST(infer_backends_both_forced_refused) {
  ims_error err = {0};
  ims_model *model = NULL;
  ims_engine *engine = NULL;
  ASSERT_OK(ims_model_load_file(
                shared_path("models/mobilenet_v2_1.0_224_quant.tflite"),
                &model, &err), &err);
  ims_engine_options opt = {.flags = IMS_ENGINE_FLAG_FORCE_XNNPACK |
                                     IMS_ENGINE_FLAG_FORCE_ONEDNN};
  ASSERT_EQ(ims_engine_create(model, &opt, &engine, &err),
            IMS_ERR_INVALID_ARG);
  ASSERT(engine == NULL);
  ims_model_destroy(model);
}

TEST_MAIN(infer_backends_agree_quant, infer_backends_agree_tf2_ptq,
          infer_backends_both_forced_refused)
