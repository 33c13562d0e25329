/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/tflite_writer.h - a small, test-only TFLite FlatBuffer writer: tests
 * describe a model (constant buffers, tensors, operators, the graph input
 * and output) and get back the bytes of a "TFL3" file that
 * ims_model_load_memory() (or any TFLite reader) accepts.
 *
 * Written for imgstream from TFLite's public schema (schema.fbs, version 3)
 * and the FlatBuffers binary format; it shares no code with the project's
 * reader (src/model/flatbuf.c), so a test built on it checks the reader
 * against an independent writer.
 *
 * Not here: validation. The writer serializes what it is told, so tests can
 * also build models the loader or the engine must reject.
 *
 * What it writes: one subgraph; buffer 0 empty (activations), one buffer
 * per constant tensor, its data 16-byte aligned; operator_codes
 * deduplicated, each with both deprecated_builtin_code (127 for codes
 * above 126) and builtin_code; options as the BuiltinOptions union. Every
 * table's vtable follows the table; children follow their parent (the
 * writer appends forward and patches offsets), which the format allows.
 * Constant data is copied as host bytes (tests run little-endian).
 *
 * Errors: out of memory, a rank above TFW_MAX_RANK or more than 4 operator
 * inputs makes the writer "failed"; tfw_finish() then returns NULL. Tests
 * assert on that. Tensor ids are not checked (tests may write bad ones).
 *
 * Threading: a tfw belongs to one thread.
 */
#ifndef IMS_TESTS_TFLITE_WRITER_H
#define IMS_TESTS_TFLITE_WRITER_H

#include <stddef.h>
#include <stdint.h>

/* TensorType values (schema.fbs). */
enum {
  TFW_FLOAT32 = 0,
  TFW_INT32 = 2,
  TFW_UINT8 = 3,
  TFW_INT8 = 9
};

/* BuiltinOperator codes (schema.fbs). */
enum {
  TFW_OP_ADD = 0,
  TFW_OP_AVERAGE_POOL_2D = 1,
  TFW_OP_CONV_2D = 3,
  TFW_OP_DEPTHWISE_CONV_2D = 4,
  TFW_OP_DEQUANTIZE = 6,
  TFW_OP_FULLY_CONNECTED = 9,
  TFW_OP_MAX_POOL_2D = 17,
  TFW_OP_RESHAPE = 22,
  TFW_OP_SOFTMAX = 25,
  TFW_OP_PAD = 34,
  TFW_OP_MEAN = 40,
  TFW_OP_SQUEEZE = 43,
  TFW_OP_QUANTIZE = 114
};

/* Padding and ActivationFunctionType values (schema.fbs). */
enum { TFW_SAME = 0, TFW_VALID = 1 };
enum { TFW_ACT_NONE = 0, TFW_ACT_RELU = 1, TFW_ACT_RELU6 = 3,
       TFW_ACT_TANH = 4 };

#define TFW_MAX_RANK 6
#define TFW_MAX_OPT_FIELDS 8
#define TFW_MAX_OPT_VEC 8

/* Quantization of a tensor: `count` scales and zero points along
 * quantized_dimension `dim`; count 0 = no quantization table. Arrays are
 * COPIED by tfw_tensor. */
typedef struct tfw_quant {
  uint32_t count;            /* entries in scales / zero_points */
  const float *scales;       /* count scales */
  const int64_t *zero_points; /* count zero points */
  int32_t dim;               /* quantized_dimension */
} tfw_quant;

/* One operator's builtin options: the union type and its scalar fields by
 * schema field id, plus at most one int32 vector field (new_shape,
 * squeeze_dims). Build them with the tfw_opt_* helpers. */
typedef struct tfw_options {
  uint8_t type;              /* BuiltinOptions union type; 0 = none */
  uint32_t count;            /* used entries of field[] */
  struct {
    uint8_t id;              /* schema field id */
    uint8_t size;            /* 1 (byte/bool/enum) or 4 (int/float) */
    uint32_t bits;           /* value, as raw bits */
  } field[TFW_MAX_OPT_FIELDS];
  uint8_t vec_id;            /* field id of the int vector */
  uint32_t vec_len;          /* its length; 0 = absent */
  int32_t vec[TFW_MAX_OPT_VEC]; /* its elements */
} tfw_options;

typedef struct tfw tfw;

/* A new, empty model; NULL if out of memory. Free with tfw_destroy(). */
tfw *tfw_create(void);

/* Free a writer and everything it copied. NULL is a no-op. */
void tfw_destroy(tfw *w);

/* Add a tensor; returns its index. `data`/`size`: constant contents
 * (COPIED into a buffer of their own), or NULL/0 for an activation. `q` may
 * be NULL (not quantized). `name` is COPIED; NULL = "". */
int32_t tfw_tensor(tfw *w, int8_t type, uint32_t rank, const int32_t *shape,
                   const void *data, size_t size, const tfw_quant *q,
                   const char *name);

/* tfw_tensor with per-tensor quantization (scale, zero_point). */
int32_t tfw_tensor_q(tfw *w, int8_t type, uint32_t rank,
                     const int32_t *shape, const void *data, size_t size,
                     float scale, int64_t zero_point);

/* Add an operator running builtin `code` on inputs[0..n_in) (-1 = absent
 * optional input) writing tensor `output`. `opt` may be NULL (no options);
 * it is COPIED. Operators run in the order they are added. */
void tfw_operator(tfw *w, int32_t code, uint32_t n_in, const int32_t *inputs,
                  int32_t output, const tfw_options *opt);

/* The subgraph's single input and output tensors. */
void tfw_set_io(tfw *w, int32_t input, int32_t output);

/* Serialize. Returns malloc()ed bytes (caller frees) and their count, or
 * NULL if the writer failed. The writer stays usable (and must still be
 * destroyed). */
uint8_t *tfw_finish(tfw *w, size_t *size_out);

/* Options builders (field ids from schema.fbs). */
tfw_options tfw_opt_conv(int8_t padding, int32_t stride_w, int32_t stride_h,
                         int8_t act);
tfw_options tfw_opt_depthwise(int8_t padding, int32_t stride_w,
                              int32_t stride_h, int32_t multiplier,
                              int8_t act);
tfw_options tfw_opt_pool(int8_t padding, int32_t stride_w, int32_t stride_h,
                         int32_t filter_w, int32_t filter_h, int8_t act);
tfw_options tfw_opt_fc(int8_t act, int keep_num_dims);
tfw_options tfw_opt_add(int8_t act);
tfw_options tfw_opt_softmax(float beta);
tfw_options tfw_opt_reducer(int keep_dims);
tfw_options tfw_opt_reshape(uint32_t rank, const int32_t *new_shape);
tfw_options tfw_opt_squeeze(uint32_t count, const int32_t *dims);
tfw_options tfw_opt_pad(void);

#endif /* IMS_TESTS_TFLITE_WRITER_H */
