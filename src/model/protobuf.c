/* SPDX-License-Identifier: Apache-2.0 */
/*
 * protobuf.c - the bounds-checked Protocol Buffers wire-format reader of
 * protobuf_int.h (format and safety rules there).
 *
 * Sections (keep this order):
 *   1. errors
 *   2. varints and fields
 *   3. typed values and repeated scalars
 *
 * Threading: no shared state; a reader belongs to one thread.
 */
#include "model/protobuf_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error_int.h"

/* ---- 1. errors -------------------------------------------------------- */

static ims_status pb_vfail(ims__pb *pb, const char *fmt, va_list ap) {
  if (pb->status != IMS_OK) return pb->status; /* keep the first message */
  char msg[192];
  vsnprintf(msg, sizeof msg, fmt, ap);
  pb->status = IMS_ERR_BAD_MODEL;
  if (pb->context[0] != '\0')
    return ims__fail(pb->err, pb->status, "%s: %s", pb->context, msg);
  return ims__fail(pb->err, pb->status, "%s", msg);
}

ims_status ims__pb_fail(ims__pb *pb, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ims_status st = pb_vfail(pb, fmt, ap);
  va_end(ap);
  return st;
}

void ims__pb_context(ims__pb *pb, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(pb->context, sizeof pb->context, fmt, ap);
  va_end(ap);
}

bool ims__pb_failed(const ims__pb *pb) { return pb->status != IMS_OK; }

void ims__pb_init(ims__pb *pb, const void *data, size_t size,
                  ims_error *err) {
  memset(pb, 0, sizeof *pb);
  pb->data = data;
  pb->size = size;
  pb->err = err;
  pb->status = IMS_OK;
}

ims__pb_msg ims__pb_root(const ims__pb *pb) {
  return (ims__pb_msg){0, pb->size};
}

/* ---- 2. varints and fields -------------------------------------------- */

/* Read a varint at *pos, below `end`. Ten bytes at most; the tenth may
 * only carry the top bit of a 64-bit value. */
static bool read_varint(ims__pb *pb, size_t *pos, size_t end,
                        uint64_t *out) {
  uint64_t v = 0;
  size_t start = *pos;
  for (unsigned i = 0; i < 10; i++) {
    if (*pos >= end) {
      ims__pb_fail(pb, "varint at byte %zu runs past the end of its "
                   "message (ends at byte %zu)", start, end);
      return false;
    }
    uint8_t b = pb->data[(*pos)++];
    if (i == 9 && b > 1) break;
    v |= (uint64_t)(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      *out = v;
      return true;
    }
  }
  ims__pb_fail(pb, "varint at byte %zu is longer than 64 bits", start);
  return false;
}

static bool skip_fixed(ims__pb *pb, ims__pb_msg *msg, ims__pb_field *f,
                       size_t n) {
  if (msg->end - msg->pos < n) {
    ims__pb_fail(pb, "field %u at byte %zu: %zu-byte value runs past the "
                 "end of its message (ends at byte %zu)", f->number, f->at,
                 n, msg->end);
    return false;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++)
    v |= (uint64_t)pb->data[msg->pos + i] << (8 * i);
  f->value = v;
  msg->pos += n;
  return true;
}

static bool read_len(ims__pb *pb, ims__pb_msg *msg, ims__pb_field *f) {
  uint64_t len;
  if (!read_varint(pb, &msg->pos, msg->end, &len)) return false;
  if (len > msg->end - msg->pos) {
    ims__pb_fail(pb, "field %u at byte %zu: length %llu runs past the end "
                 "of its message (ends at byte %zu)", f->number, f->at,
                 (unsigned long long)len, msg->end);
    return false;
  }
  f->pos = msg->pos;
  f->len = (size_t)len;
  msg->pos += (size_t)len;
  return true;
}

bool ims__pb_next(ims__pb *pb, ims__pb_msg *msg, ims__pb_field *f) {
  if (pb->status != IMS_OK || msg->pos >= msg->end) return false;
  memset(f, 0, sizeof *f);
  f->at = msg->pos;
  uint64_t key;
  if (!read_varint(pb, &msg->pos, msg->end, &key)) return false;
  f->wire = (uint32_t)(key & 7);
  if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff) {
    ims__pb_fail(pb, "bad field number %llu at byte %zu",
                 (unsigned long long)(key >> 3), f->at);
    return false;
  }
  f->number = (uint32_t)(key >> 3);
  switch (f->wire) {
    case IMS__PB_VARINT:
      return read_varint(pb, &msg->pos, msg->end, &f->value);
    case IMS__PB_I64: return skip_fixed(pb, msg, f, 8);
    case IMS__PB_I32: return skip_fixed(pb, msg, f, 4);
    case IMS__PB_LEN: return read_len(pb, msg, f);
    default: break;
  }
  ims__pb_fail(pb, "field %u at byte %zu: unsupported wire type %u",
               f->number, f->at, f->wire);
  return false;
}

/* ---- 3. typed values and repeated scalars ----------------------------- */

static const char *wire_name(uint32_t wire) {
  switch (wire) {
    case IMS__PB_VARINT: return "varint";
    case IMS__PB_I64: return "64-bit";
    case IMS__PB_LEN: return "length-delimited";
    case IMS__PB_I32: return "32-bit";
  }
  return "unknown";
}

bool ims__pb_want(ims__pb *pb, const ims__pb_field *f, uint32_t wire,
                  const char *what) {
  if (pb->status != IMS_OK) return false;
  if (f->wire == wire) return true;
  ims__pb_fail(pb, "%s (field %u at byte %zu): wire type %s, expected %s",
               what, f->number, f->at, wire_name(f->wire), wire_name(wire));
  return false;
}

ims__pb_msg ims__pb_sub(ims__pb *pb, const ims__pb_field *f,
                        const char *what) {
  if (!ims__pb_want(pb, f, IMS__PB_LEN, what)) return (ims__pb_msg){0, 0};
  return (ims__pb_msg){f->pos, f->pos + f->len};
}

const uint8_t *ims__pb_bytes(const ims__pb *pb, const ims__pb_field *f) {
  return pb->data + f->pos;
}

float ims__pb_float(ims__pb *pb, const ims__pb_field *f, const char *what) {
  if (!ims__pb_want(pb, f, IMS__PB_I32, what)) return 0.0f;
  uint32_t bits = (uint32_t)f->value;
  float v;
  memcpy(&v, &bits, sizeof v);
  return v;
}

int64_t ims__pb_int(ims__pb *pb, const ims__pb_field *f, const char *what) {
  if (!ims__pb_want(pb, f, IMS__PB_VARINT, what)) return 0;
  return (int64_t)f->value;
}

/* Append the varints of a packed payload. */
static size_t packed_ints(ims__pb *pb, const ims__pb_field *f, int64_t *out,
                          size_t cap, size_t n) {
  size_t pos = f->pos, end = f->pos + f->len;
  while (pos < end) {
    uint64_t v;
    if (!read_varint(pb, &pos, end, &v)) return 0;
    if (n < cap) out[n] = (int64_t)v;
    n++;
  }
  return n;
}

size_t ims__pb_int_list(ims__pb *pb, ims__pb_msg msg, uint32_t number,
                        int64_t *out, size_t cap, const char *what) {
  ims__pb_field f;
  size_t n = 0;
  while (ims__pb_next(pb, &msg, &f)) {
    if (f.number != number) continue;
    if (f.wire == IMS__PB_LEN) {
      n = packed_ints(pb, &f, out, cap, n);
    } else if (ims__pb_want(pb, &f, IMS__PB_VARINT, what)) {
      if (n < cap) out[n] = (int64_t)f.value;
      n++;
    }
  }
  return pb->status == IMS_OK ? n : 0;
}

size_t ims__pb_float_list(ims__pb *pb, ims__pb_msg msg, uint32_t number,
                          float *out, size_t cap, const char *what) {
  ims__pb_field f;
  size_t n = 0;
  while (ims__pb_next(pb, &msg, &f)) {
    if (f.number != number) continue;
    if (f.wire == IMS__PB_LEN) {
      if (f.len % 4 != 0) {
        ims__pb_fail(pb, "%s (field %u at byte %zu): packed floats of %zu "
                     "bytes", what, f.number, f.at, f.len);
        return 0;
      }
      for (size_t i = 0; i < f.len / 4; i++, n++)
        if (n < cap) memcpy(&out[n], pb->data + f.pos + 4 * i, 4);
    } else if (ims__pb_want(pb, &f, IMS__PB_I32, what)) {
      uint32_t bits = (uint32_t)f.value;
      if (n < cap) memcpy(&out[n], &bits, 4);
      n++;
    }
  }
  return pb->status == IMS_OK ? n : 0;
}
