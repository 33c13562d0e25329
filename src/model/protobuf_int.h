/* SPDX-License-Identifier: Apache-2.0 */
/*
 * protobuf_int.h - a small bounds-checked Protocol Buffers wire-format
 * reader, written for imgstream's ONNX loader (in the manner of
 * flatbuf_int.h for TFLite). Read-only; schema-less: callers know the
 * field numbers.
 *
 * Wire format: a message is a sequence of fields, each a varint key
 * (field_number << 3 | wire_type) followed by its value:
 *   0 VARINT  base-128 little-endian, at most 10 bytes
 *   1 I64     8 bytes little-endian (double, fixed64)
 *   2 LEN     varint length + that many bytes (strings, bytes, embedded
 *             messages, packed repeated scalars)
 *   5 I32     4 bytes little-endian (float, fixed32)
 * Wire types 3 and 4 (groups, deprecated) and 6, 7 are refused. A
 * repeated scalar may come packed (one LEN field) or unpacked (one field
 * per element), even mixed; ims__pb_*_list readers take both.
 *
 * Safety: every key, varint, length and fixed value is checked to lie
 * inside the enclosing message before it is read; arithmetic is on 64-bit
 * sizes, so nothing wraps. Adversarial input can make the reader fail,
 * never read out of bounds.
 *
 * Errors are sticky, as in flatbuf_int.h: the first violation records
 * IMS_ERR_BAD_MODEL and a message naming the byte offset ("node 3: field 5
 * at byte 1234: length 99999 runs past the end of its message (ends at
 * byte 2000)"); later calls return nothing.
 *
 * Threading: a reader belongs to one thread; the buffer is only read.
 */
#ifndef IMS_MODEL_PROTOBUF_INT_H
#define IMS_MODEL_PROTOBUF_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imgstream/status.h"

enum {
  IMS__PB_VARINT = 0,
  IMS__PB_I64 = 1,
  IMS__PB_LEN = 2,
  IMS__PB_I32 = 5
};

typedef struct ims__pb {
  const uint8_t *data; /* borrowed: the whole buffer */
  size_t size;         /* bytes at data */
  ims_status status;   /* IMS_OK until the first violation */
  ims_error *err;      /* where the first violation goes; may be NULL */
  char context[96];    /* message prefix ("node 3 'conv1'") */
} ims__pb;

/* A message: bytes [pos, end) of the buffer. */
typedef struct ims__pb_msg {
  size_t pos;          /* first byte */
  size_t end;          /* one past the last byte */
} ims__pb_msg;

/* One field, as ims__pb_next() found it. */
typedef struct ims__pb_field {
  uint32_t number;     /* field number (>= 1) */
  uint32_t wire;       /* IMS__PB_* */
  uint64_t value;      /* VARINT: the value; I32/I64: the raw bits */
  size_t at;           /* offset of the key, for messages */
  size_t pos;          /* LEN: offset of the payload */
  size_t len;          /* LEN: payload bytes */
} ims__pb_field;

/* Start reading `data` (size bytes); the whole buffer is one message. */
void ims__pb_init(ims__pb *pb, const void *data, size_t size,
                  ims_error *err);

/* The whole buffer as a message. */
ims__pb_msg ims__pb_root(const ims__pb *pb);

/* Set the message prefix for later errors (printf-style). */
void ims__pb_context(ims__pb *pb, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* True once any read has failed. */
bool ims__pb_failed(const ims__pb *pb);

/* Record a violation found by the caller (sticky). Returns the status. */
ims_status ims__pb_fail(ims__pb *pb, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Read the next field of *msg (which it advances). Returns false at the
 * end of the message or on a violation (check ims__pb_failed). */
bool ims__pb_next(ims__pb *pb, ims__pb_msg *msg, ims__pb_field *f);

/* Check f has wire type `wire`; else a violation naming `what`. */
bool ims__pb_want(ims__pb *pb, const ims__pb_field *f, uint32_t wire,
                  const char *what);

/* The payload of a LEN field as a message (empty on a wrong wire type). */
ims__pb_msg ims__pb_sub(ims__pb *pb, const ims__pb_field *f,
                        const char *what);

/* Pointer to a LEN field's payload (BORROWED; not NUL-terminated). */
const uint8_t *ims__pb_bytes(const ims__pb *pb, const ims__pb_field *f);

/* Value of an I32 field as float, of a VARINT as int64 (two's complement,
 * as int64/int32 fields are encoded). Wrong wire types are violations. */
float ims__pb_float(ims__pb *pb, const ims__pb_field *f, const char *what);
int64_t ims__pb_int(ims__pb *pb, const ims__pb_field *f, const char *what);

/* Elements of repeated field `number` of `msg`: int64 (varint, packed or
 * not) or float (I32, packed or not). Counts every element; stores at most
 * `cap` of them in out (out may be NULL with cap 0). Returns the count,
 * or 0 after a violation. */
size_t ims__pb_int_list(ims__pb *pb, ims__pb_msg msg, uint32_t number,
                        int64_t *out, size_t cap, const char *what);
size_t ims__pb_float_list(ims__pb *pb, ims__pb_msg msg, uint32_t number,
                          float *out, size_t cap, const char *what);

#endif /* IMS_MODEL_PROTOBUF_INT_H */
