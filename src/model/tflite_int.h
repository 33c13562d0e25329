/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tflite.h - the TFLite backend of the model loader (model.c picks it when
 * bytes 4..7 of a file are "TFL3").
 *
 * Threading: no shared state; one call loads one model.
 */
#ifndef IMS_MODEL_TFLITE_INT_H
#define IMS_MODEL_TFLITE_INT_H

#include <stdint.h>

#include "model/graph_int.h"

/* Parse model->file (model->file_size bytes) as TFLite and fill tensors,
 * nodes, input and output. On failure the model may hold partial
 * allocations; the caller destroys it.
 * @retval IMS_ERR_BAD_MODEL    malformed; message names the byte offset
 * @retval IMS_ERR_UNSUPPORTED  operator, type or option outside the set
 * @retval IMS_ERR_NO_MEMORY */
ims_status ims__tflite_load(ims_model *model, ims_error *err);

/* Name of a TFLite builtin operator code ("LOGISTIC"); "UNKNOWN" for codes
 * this table does not know. Static string. */
const char *ims__tflite_op_name(int32_t builtin_code);

#endif /* IMS_MODEL_TFLITE_INT_H */
