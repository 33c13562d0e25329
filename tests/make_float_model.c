/* SPDX-License-Identifier: Apache-2.0 */
/*
 * make_float_model.c - write the float32 twin of a quantized TFLite model
 * (tests/support/float_model.c), e.g. a float MobileNetV2 for benchmarks:
 *
 *   make_float_model OUT.tflite [IN.tflite]
 *
 * IN defaults to the shared mobilenet_v2_1.0_224_quant.tflite. The build
 * target `mobilenet_v2_float` runs it into <build>/mobilenet_v2_float.tflite.
 * Generated models are build outputs: never commit them.
 *
 * Exit status: 0 written, 1 failed (message on stderr), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>

#include "support/float_model.h"
#include "imgstream/imgstream.h"

#ifndef IMS_DEFAULT_QUANT_MODEL
#define IMS_DEFAULT_QUANT_MODEL \
  "../shared/models/mobilenet_v2_1.0_224_quant.tflite"
#endif

static int write_file(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (f == NULL) return -1;
  size_t n = fwrite(data, 1, size, f);
  return (fclose(f) == 0 && n == size) ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s OUT.tflite [IN.tflite]\n", argv[0]);
    return 2;
  }
  const char *in = argc > 2 ? argv[2] : IMS_DEFAULT_QUANT_MODEL;
  ims_error err = {0};
  ims_model *m = NULL;
  if (ims_model_load_file(in, &m, &err) != IMS_OK) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  char why[256] = "";
  size_t size = 0;
  uint8_t *bytes = fm_float_model(m, &size, why, sizeof why);
  ims_model_destroy(m);
  if (bytes == NULL) {
    fprintf(stderr, "%s: %s\n", in, why);
    return 1;
  }
  int rc = write_file(argv[1], bytes, size);
  free(bytes);
  if (rc != 0) {
    perror(argv[1]);
    return 1;
  }
  fprintf(stderr, "wrote %s (%zu bytes)\n", argv[1], size);
  return 0;
}
