/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/reference.h - test helpers for the independent reference
 * outputs in ../shared/reference/armnn-cpuref: listing its inputs,
 * reading its files, and running an engine over all of them. Built once
 * into ims_test_support (reference.c); failures end the current case.
 *
 * Every NAME.rgb there is one 224x224x3 uint8 input tensor (HWC); NAME.
 * MODEL.out the model's raw uint8 output (1001 values, q/256).
 */
#ifndef IMS_TEST_REFERENCE_H
#define IMS_TEST_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#include "imgstream/model.h"

#define REF_DIR "reference/armnn-cpuref"
#define REF_MAX_INPUTS 64
#define REF_IMG_BYTES (224 * 224 * 3)
#define REF_OUTS 1001

/* Names (without .rgb) of every reference input, sorted; the count. */
size_t ref_list_inputs(char names[][128]);

/* NAME + ext of the reference folder, which must be `want` bytes; the
 * caller frees. */
unsigned char *ref_read(const char *name, const char *ext, size_t want);

/* Every reference input, sorted by name, back to back into rgb (room for
 * REF_MAX_INPUTS); returns the count. */
size_t ref_load_inputs(unsigned char *rgb);

/* The shared model `file` (a path under ../shared), loaded; the caller
 * destroys it. */
ims_model *ref_load_model(const char *file);

/* Scores of all n images in batches of `step` on `threads` threads with
 * engine `flags`; the caller frees. NULL if FORCE_ONEDNN is asked for and
 * refused with IMS_ERR_UNSUPPORTED (a machine without oneDNN's kernels). */
float *ref_run_all(const ims_model *model, uint32_t flags, uint32_t threads,
                   const unsigned char *rgb, size_t n, size_t step);

#endif /* IMS_TEST_REFERENCE_H */
