/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tflite_int.h - what the TFLite loader's two files share: tflite.c (the
 * loader, entry ims__model_tflite of format_int.h) takes the names of
 * builtin operator codes from tflite_names.c, for messages and for its
 * nodes' source_name.
 *
 * Threading: no shared state; a const table.
 */
#ifndef IMS_MODEL_TFLITE_INT_H
#define IMS_MODEL_TFLITE_INT_H

#include <stdint.h>

/* Name of a TFLite builtin operator code ("LOGISTIC"); "UNKNOWN" for codes
 * this table does not know. Static string. */
const char *ims__tflite_op_name(int32_t builtin_code);

#endif /* IMS_MODEL_TFLITE_INT_H */
