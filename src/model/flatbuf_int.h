/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flatbuf_int.h - a small bounds-checked FlatBuffers reader, written for
 * imgstream's TFLite loader. Read-only; it never builds buffers.
 *
 * FlatBuffers binary format (all little-endian):
 *  - byte 0: uoffset (u32) of the root table; bytes 4..7: file identifier.
 *  - a table starts with an soffset (i32); its vtable sits at
 *    table - soffset. A vtable is u16 vtable_bytes, u16 table_bytes, then
 *    one u16 per field: the field's offset inside the table, 0 = absent
 *    (the reader returns the schema default).
 *  - reference fields (tables, vectors, strings) hold a u32 offset relative
 *    to the field's own position. A vector is u32 length + elements; a
 *    string is a vector of bytes followed by a NUL.
 *
 * Safety: every offset, vtable, field, vector length and element is checked
 * to lie inside the buffer before it is read, with 64-bit arithmetic so
 * nothing wraps; values are read with memcpy, so unaligned data is fine.
 * Adversarial input can make the reader fail, never read out of bounds.
 *
 * Errors are sticky: the first violation records IMS_ERR_BAD_MODEL and a
 * message ("tensor 12: buffer offset 0x1234 out of bounds (file is 3610798
 * bytes)") in the reader; later calls return defaults / empty results and
 * keep the first message. Callers check ims__fb_failed() before trusting
 * what they read, and set the message prefix with ims__fb_context().
 *
 * Threading: a reader belongs to one thread; the buffer is only read.
 */
#ifndef IMS_MODEL_FLATBUF_INT_H
#define IMS_MODEL_FLATBUF_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imgstream/status.h"

typedef struct ims__fb {
  const uint8_t *data; /* borrowed: the whole buffer */
  size_t size;         /* bytes at data */
  ims_status status;   /* IMS_OK until the first violation */
  ims_error *err;      /* where the first violation is reported; may be
                          NULL */
  char context[64];    /* message prefix ("tensor 12") */
} ims__fb;

/* A validated table: its position, vtable and sizes are inside the buffer.
 * The zero value is an "absent" table: every field reads as its default. */
typedef struct ims__fb_table {
  size_t pos;          /* byte offset of the table */
  size_t vtable;       /* byte offset of its vtable */
  uint16_t vt_bytes;   /* vtable size in bytes (0 = absent table) */
  uint16_t tbl_bytes;  /* inline size of the table in bytes */
} ims__fb_table;

/* A validated vector: pos + 4 + len * elem_size fits in the buffer. */
typedef struct ims__fb_vec {
  size_t pos;          /* byte offset of the first element */
  uint32_t len;        /* element count (0 if absent) */
  uint32_t elem_size;  /* bytes per element (4 for tables and strings) */
  bool present;        /* the field was set in the file */
} ims__fb_vec;

/* Start reading `data`. Checks the size holds a root offset and that bytes
 * 4..7 equal `ident` (4 chars) if ident != NULL. Returns the status. */
ims_status ims__fb_init(ims__fb *fb, const void *data, size_t size,
                        const char *ident, ims_error *err);

/* Set the message prefix for later errors (printf-style). */
void ims__fb_context(ims__fb *fb, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* True once any read has failed. */
bool ims__fb_failed(const ims__fb *fb);

/* Record a violation found by the caller (same sticky rules). Returns the
 * reader's status (IMS_ERR_BAD_MODEL). */
ims_status ims__fb_fail(ims__fb *fb, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The root table. */
ims__fb_table ims__fb_root(ims__fb *fb);

/* Is field `id` (0-based, in schema order) set? */
bool ims__fb_has(ims__fb *fb, ims__fb_table t, unsigned id);

/* Scalar fields; `def` when absent. `what` names the field in messages. */
uint8_t ims__fb_u8(ims__fb *fb, ims__fb_table t, unsigned id, uint8_t def,
                   const char *what);
int8_t ims__fb_i8(ims__fb *fb, ims__fb_table t, unsigned id, int8_t def,
                  const char *what);
int32_t ims__fb_i32(ims__fb *fb, ims__fb_table t, unsigned id, int32_t def,
                    const char *what);
uint32_t ims__fb_u32(ims__fb *fb, ims__fb_table t, unsigned id,
                     uint32_t def, const char *what);
uint64_t ims__fb_u64(ims__fb *fb, ims__fb_table t, unsigned id,
                     uint64_t def, const char *what);
float ims__fb_f32(ims__fb *fb, ims__fb_table t, unsigned id, float def,
                  const char *what);

/* Sub-table field; an absent table (vt_bytes == 0) if not set. */
ims__fb_table ims__fb_table_field(ims__fb *fb, ims__fb_table t, unsigned id,
                                  const char *what);

/* Vector field of elements of elem_size bytes (1, 2, 4 or 8 for scalars,
 * 4 for tables and strings). Empty, not present, if not set. */
ims__fb_vec ims__fb_vector(ims__fb *fb, ims__fb_table t, unsigned id,
                           uint32_t elem_size, const char *what);

/* String field: a NUL-terminated pointer into the buffer (BORROWED), or ""
 * if not set. */
const char *ims__fb_string(ims__fb *fb, ims__fb_table t, unsigned id,
                           const char *what);

/* Elements of a vector; i must be < v.len (else a violation). */
int32_t ims__fb_vec_i32(ims__fb *fb, ims__fb_vec v, uint32_t i);
int64_t ims__fb_vec_i64(ims__fb *fb, ims__fb_vec v, uint32_t i);
float ims__fb_vec_f32(ims__fb *fb, ims__fb_vec v, uint32_t i);
ims__fb_table ims__fb_vec_table(ims__fb *fb, ims__fb_vec v, uint32_t i,
                                const char *what);

/* Pointer to the bytes of a vector's elements (BORROWED). */
const uint8_t *ims__fb_vec_bytes(const ims__fb *fb, ims__fb_vec v);

#endif /* IMS_MODEL_FLATBUF_INT_H */
