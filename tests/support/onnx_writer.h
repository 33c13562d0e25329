/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/onnx_writer.h - a small, test-only ONNX (protobuf) writer: tests add
 * graph inputs, initializers and nodes and get back the bytes of a
 * ModelProto that ims_model_load_memory() (or onnxruntime) accepts.
 *
 * Written for imgstream from onnx.proto's field numbers and the protobuf
 * wire format; it shares no code with the project's reader
 * (src/model/protobuf.c), so tests built on it check the reader against
 * an independent writer.
 *
 * Not here: validation. The writer serializes what it is told, so tests
 * can build models the loader must refuse (cycles, bad indices, lying
 * dims). Low-level ow_* calls let tests write arbitrary fields too.
 *
 * Memory: buffers grow with realloc; out of memory aborts (tests only).
 * Threading: a writer belongs to one thread.
 */
#ifndef IMS_TESTS_ONNX_WRITER_H
#define IMS_TESTS_ONNX_WRITER_H

#include <stddef.h>
#include <stdint.h>

typedef struct ow_buf {
  uint8_t *p;   /* owned bytes */
  size_t n;     /* used */
  size_t cap;   /* allocated */
} ow_buf;

/* Raw protobuf: a key, a varint field, a 32-bit float field, a
 * length-delimited field (bytes, string, or an embedded message). */
void ow_key(ow_buf *b, uint32_t field, uint32_t wire);
void ow_varint(ow_buf *b, uint64_t v);
void ow_int(ow_buf *b, uint32_t field, int64_t v);
void ow_float(ow_buf *b, uint32_t field, float v);
void ow_bytes(ow_buf *b, uint32_t field, const void *data, size_t n);
void ow_str(ow_buf *b, uint32_t field, const char *s);
/* Append `sub` as an embedded message and free it. */
void ow_msg(ow_buf *b, uint32_t field, ow_buf *sub);
void ow_free(ow_buf *b);

/* Attributes (AttributeProto) for ow_node; each is consumed by it. */
ow_buf ow_attr_int(const char *name, int64_t v);
ow_buf ow_attr_float(const char *name, float v);
ow_buf ow_attr_ints(const char *name, const int64_t *v, int n);
ow_buf ow_attr_str(const char *name, const char *s);
/* A tensor attribute ("value" of Constant): float data of the dims. */
ow_buf ow_attr_tensor(const char *name, int rank, const int64_t *dims,
                      const float *data);

/* Initializer data encodings. */
enum { OW_RAW, OW_TYPED };

typedef struct onnx_w {
  ow_buf graph; /* the GraphProto being built */
  int64_t opset; /* default-domain opset */
} onnx_w;

void ow_init(onnx_w *w, int64_t opset);
/* Graph input: float tensor; a dim < 0 is written as dim_param "N". */
void ow_input(onnx_w *w, const char *name, int rank, const int64_t *dims);
void ow_output(onnx_w *w, const char *name);
void ow_init_f32(onnx_w *w, const char *name, int rank, const int64_t *dims,
                 const float *data, int encoding);
void ow_init_i64(onnx_w *w, const char *name, int rank, const int64_t *dims,
                 const int64_t *data, int encoding);
/* A float initializer in an external file: location/offset/length. */
void ow_init_external(onnx_w *w, const char *name, int rank,
                      const int64_t *dims, const char *location,
                      int64_t offset, int64_t length);
/* A node; `ins` and `outs` are NULL-terminated (use "" for an absent
 * optional input). attrs[0..n_attr) are consumed. */
void ow_node(onnx_w *w, const char *op, const char *name,
             const char *const *ins, const char *const *outs, ow_buf *attrs,
             int n_attr);
/* The ModelProto bytes (malloc()ed, caller frees); frees the writer. */
uint8_t *ow_finish(onnx_w *w, size_t *size_out);

#endif /* IMS_TESTS_ONNX_WRITER_H */
