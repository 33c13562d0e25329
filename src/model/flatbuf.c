/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flatbuf.c - the bounds-checked FlatBuffers reader (see flatbuf_int.h for
 * the binary format and the sticky-error rules).
 *
 * Not here: any knowledge of a schema. Field ids, defaults and meanings
 * belong to the caller (tflite.c).
 *
 * Sections (keep this order):
 *   1. errors and raw little-endian reads (every read is range-checked)
 *   2. tables and field lookup through the vtable
 *   3. scalar, table, vector and string fields
 *   4. vector elements
 *
 * Threading: no shared state.
 */
#include "model/flatbuf_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error_int.h"

/* ---- 1. errors and raw reads ------------------------------------------ */

static ims_status fb_vfail(ims__fb *fb, const char *fmt, va_list ap) {
  char msg[400];
  if (fb->status != IMS_OK) return fb->status;
  vsnprintf(msg, sizeof msg, fmt, ap);
  fb->status = IMS_ERR_BAD_MODEL;
  if (fb->context[0] != '\0')
    return ims__fail(fb->err, fb->status, "%s: %s", fb->context, msg);
  return ims__fail(fb->err, fb->status, "%s", msg);
}

ims_status ims__fb_fail(ims__fb *fb, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ims_status st = fb_vfail(fb, fmt, ap);
  va_end(ap);
  return st;
}

void ims__fb_context(ims__fb *fb, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(fb->context, sizeof fb->context, fmt, ap);
  va_end(ap);
}

bool ims__fb_failed(const ims__fb *fb) { return fb->status != IMS_OK; }

/* Does [pos, pos + n) lie inside the buffer? 64-bit math: never wraps for
 * the n (< 2^36) this file asks about. */
static bool fb_fits(const ims__fb *fb, uint64_t pos, uint64_t n) {
  return pos <= fb->size && n <= fb->size - pos;
}

static void fb_oob(ims__fb *fb, const char *what, const char *kind,
                   uint64_t pos) {
  ims__fb_fail(fb, "%s %s 0x%llx out of bounds (file is %zu bytes)", what,
               kind, (unsigned long long)pos, fb->size);
}

/* Raw reads; callers have checked the range. */
static uint16_t rd16(const ims__fb *fb, size_t pos) {
  uint8_t b[2];
  memcpy(b, fb->data + pos, 2);
  return (uint16_t)(b[0] | (b[1] << 8));
}

static uint32_t rd32(const ims__fb *fb, size_t pos) {
  uint8_t b[4];
  memcpy(b, fb->data + pos, 4);
  return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
         ((uint32_t)b[3] << 24);
}

static uint64_t rd64(const ims__fb *fb, size_t pos) {
  return (uint64_t)rd32(fb, pos) | ((uint64_t)rd32(fb, pos + 4) << 32);
}

ims_status ims__fb_init(ims__fb *fb, const void *data, size_t size,
                        const char *ident, ims_error *err) {
  memset(fb, 0, sizeof *fb);
  fb->data = data;
  fb->size = size;
  fb->err = err;
  fb->status = IMS_OK;
  if (size < 8)
    return ims__fb_fail(fb, "file too short for a FlatBuffer (%zu bytes)",
                        size);
  if (ident != NULL && memcmp(fb->data + 4, ident, 4) != 0)
    return ims__fb_fail(fb, "missing file identifier \"%.4s\" at byte 4",
                        ident);
  return IMS_OK;
}

/* ---- 2. tables and fields --------------------------------------------- */

static const ims__fb_table fb_absent;

/* Validate the table at `pos`: soffset, vtable and inline size in range. */
static ims__fb_table fb_table_at(ims__fb *fb, uint64_t pos,
                                 const char *what) {
  ims__fb_table t = fb_absent;
  if (fb->status != IMS_OK) return t;
  if (!fb_fits(fb, pos, 4)) {
    fb_oob(fb, what, "table offset", pos);
    return t;
  }
  int64_t vt = (int64_t)pos - (int32_t)rd32(fb, (size_t)pos);
  if (vt < 0 || !fb_fits(fb, (uint64_t)vt, 4)) {
    fb_oob(fb, what, "vtable offset", (uint64_t)vt);
    return t;
  }
  uint16_t vt_bytes = rd16(fb, (size_t)vt);
  uint16_t tbl_bytes = rd16(fb, (size_t)vt + 2);
  if (vt_bytes < 4 || (vt_bytes & 1) != 0 ||
      !fb_fits(fb, (uint64_t)vt, vt_bytes)) {
    ims__fb_fail(fb, "%s vtable at 0x%llx has bad size %u", what,
                 (unsigned long long)vt, vt_bytes);
    return t;
  }
  if (tbl_bytes < 4 || !fb_fits(fb, pos, tbl_bytes)) {
    ims__fb_fail(fb, "%s table at 0x%llx has bad size %u", what,
                 (unsigned long long)pos, tbl_bytes);
    return t;
  }
  t.pos = (size_t)pos;
  t.vtable = (size_t)vt;
  t.vt_bytes = vt_bytes;
  t.tbl_bytes = tbl_bytes;
  return t;
}

ims__fb_table ims__fb_root(ims__fb *fb) {
  if (fb->status != IMS_OK || fb->size < 4) return fb_absent;
  return fb_table_at(fb, rd32(fb, 0), "root");
}

/* Absolute position of field `id` holding `width` bytes, or 0 if absent
 * (0 is never a valid field position: the root offset lives there). */
static size_t fb_field(ims__fb *fb, ims__fb_table t, unsigned id,
                       unsigned width, const char *what) {
  if (fb->status != IMS_OK || t.vt_bytes == 0) return 0;
  uint32_t slot = 4u + 2u * id;
  if (slot + 2u > t.vt_bytes) return 0;
  uint16_t off = rd16(fb, t.vtable + slot);
  if (off == 0) return 0;
  if (off < 4 || (uint32_t)off + width > t.tbl_bytes) {
    ims__fb_fail(fb, "%s field at 0x%zx + %u outside its %u-byte table",
                 what, t.pos, off, t.tbl_bytes);
    return 0;
  }
  return t.pos + off;
}

bool ims__fb_has(ims__fb *fb, ims__fb_table t, unsigned id) {
  return fb_field(fb, t, id, 1, "field") != 0;
}

/* Follow the uoffset stored at `pos`; the target must hold 4 bytes. */
static size_t fb_deref(ims__fb *fb, size_t pos, const char *what) {
  uint64_t target = (uint64_t)pos + rd32(fb, pos);
  if (!fb_fits(fb, target, 4)) {
    fb_oob(fb, what, "offset", target);
    return 0;
  }
  return (size_t)target;
}

/* ---- 3. fields -------------------------------------------------------- */

uint8_t ims__fb_u8(ims__fb *fb, ims__fb_table t, unsigned id, uint8_t def,
                   const char *what) {
  size_t p = fb_field(fb, t, id, 1, what);
  return p != 0 ? fb->data[p] : def;
}

int8_t ims__fb_i8(ims__fb *fb, ims__fb_table t, unsigned id, int8_t def,
                  const char *what) {
  size_t p = fb_field(fb, t, id, 1, what);
  return p != 0 ? (int8_t)fb->data[p] : def;
}

uint32_t ims__fb_u32(ims__fb *fb, ims__fb_table t, unsigned id,
                     uint32_t def, const char *what) {
  size_t p = fb_field(fb, t, id, 4, what);
  return p != 0 ? rd32(fb, p) : def;
}

int32_t ims__fb_i32(ims__fb *fb, ims__fb_table t, unsigned id, int32_t def,
                    const char *what) {
  return (int32_t)ims__fb_u32(fb, t, id, (uint32_t)def, what);
}

uint64_t ims__fb_u64(ims__fb *fb, ims__fb_table t, unsigned id,
                     uint64_t def, const char *what) {
  size_t p = fb_field(fb, t, id, 8, what);
  return p != 0 ? rd64(fb, p) : def;
}

float ims__fb_f32(ims__fb *fb, ims__fb_table t, unsigned id, float def,
                  const char *what) {
  size_t p = fb_field(fb, t, id, 4, what);
  if (p == 0) return def;
  uint32_t bits = rd32(fb, p);
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

ims__fb_table ims__fb_table_field(ims__fb *fb, ims__fb_table t, unsigned id,
                                  const char *what) {
  size_t p = fb_field(fb, t, id, 4, what);
  if (p == 0) return fb_absent;
  size_t target = fb_deref(fb, p, what);
  if (fb->status != IMS_OK) return fb_absent;
  return fb_table_at(fb, target, what);
}

/* Validate a vector whose length word is at `target`. */
static ims__fb_vec fb_vec_at(ims__fb *fb, size_t target, uint32_t elem_size,
                             const char *what) {
  ims__fb_vec v = {0, 0, elem_size, false};
  uint32_t len = rd32(fb, target);
  if (!fb_fits(fb, (uint64_t)target + 4, (uint64_t)len * elem_size)) {
    ims__fb_fail(fb,
                 "%s vector length %u at 0x%zx out of bounds (file is %zu "
                 "bytes)",
                 what, len, target, fb->size);
    return v;
  }
  v.pos = target + 4;
  v.len = len;
  v.present = true;
  return v;
}

ims__fb_vec ims__fb_vector(ims__fb *fb, ims__fb_table t, unsigned id,
                           uint32_t elem_size, const char *what) {
  ims__fb_vec v = {0, 0, elem_size, false};
  size_t p = fb_field(fb, t, id, 4, what);
  if (p == 0) return v;
  size_t target = fb_deref(fb, p, what);
  if (fb->status != IMS_OK) return v;
  return fb_vec_at(fb, target, elem_size, what);
}

const char *ims__fb_string(ims__fb *fb, ims__fb_table t, unsigned id,
                           const char *what) {
  ims__fb_vec v = ims__fb_vector(fb, t, id, 1, what);
  if (!v.present) return "";
  /* The terminating NUL must be inside the buffer too. */
  if (!fb_fits(fb, (uint64_t)v.pos + v.len, 1) ||
      fb->data[v.pos + v.len] != '\0') {
    ims__fb_fail(fb, "%s string at 0x%zx is not NUL-terminated", what,
                 v.pos - 4);
    return "";
  }
  return (const char *)fb->data + v.pos;
}

/* ---- 4. vector elements ----------------------------------------------- */

/* Position of element i, or 0 after recording a violation. */
static size_t fb_elem(ims__fb *fb, ims__fb_vec v, uint32_t i,
                      uint32_t width) {
  if (fb->status != IMS_OK) return 0;
  if (i >= v.len || v.elem_size != width) {
    ims__fb_fail(fb, "vector element %u of %u (%u-byte) read as %u bytes",
                 i, v.len, v.elem_size, width);
    return 0;
  }
  return v.pos + (size_t)i * width;
}

int32_t ims__fb_vec_i32(ims__fb *fb, ims__fb_vec v, uint32_t i) {
  size_t p = fb_elem(fb, v, i, 4);
  return p != 0 ? (int32_t)rd32(fb, p) : 0;
}

int64_t ims__fb_vec_i64(ims__fb *fb, ims__fb_vec v, uint32_t i) {
  size_t p = fb_elem(fb, v, i, 8);
  return p != 0 ? (int64_t)rd64(fb, p) : 0;
}

float ims__fb_vec_f32(ims__fb *fb, ims__fb_vec v, uint32_t i) {
  size_t p = fb_elem(fb, v, i, 4);
  if (p == 0) return 0.0f;
  uint32_t bits = rd32(fb, p);
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

ims__fb_table ims__fb_vec_table(ims__fb *fb, ims__fb_vec v, uint32_t i,
                                const char *what) {
  size_t p = fb_elem(fb, v, i, 4);
  if (p == 0) return fb_absent;
  size_t target = fb_deref(fb, p, what);
  if (fb->status != IMS_OK) return fb_absent;
  return fb_table_at(fb, target, what);
}

const uint8_t *ims__fb_vec_bytes(const ims__fb *fb, ims__fb_vec v) {
  return fb->data + v.pos;
}
