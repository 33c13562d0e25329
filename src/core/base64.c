/* SPDX-License-Identifier: Apache-2.0 */
/*
 * base64.c - RFC 4648 base64, see base64_int.h. Decoding is strict
 * (canonical input only): it reads files a crash or a hostile user may
 * have damaged, and a lenient decoder would turn damage into other data.
 *
 * Threading: no shared state (the tables are const).
 */
#include <stdbool.h>
#include <stdint.h>

#include "core/base64_int.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void ims__base64_encode(const void *in, size_t n, char *out) {
  const unsigned char *p = in;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    *out++ = alphabet[v >> 18];
    *out++ = alphabet[(v >> 12) & 63];
    *out++ = alphabet[(v >> 6) & 63];
    *out++ = alphabet[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n)
      v |= (uint32_t)p[i + 1] << 8;
    *out++ = alphabet[v >> 18];
    *out++ = alphabet[(v >> 12) & 63];
    *out++ = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
    *out++ = '=';
  }
}

/* 0..63, or -1 for anything else. */
static int value_of(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

long ims__base64_decode(const char *in, size_t len, void *out) {
  unsigned char *o = out;
  if (len % 4 != 0)
    return -1;
  for (size_t i = 0; i < len; i += 4) {
    bool last = i + 4 == len;
    int pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=') : 0;
    if (pad == 1 && in[i + 2] == '=')
      return -1; /* "x=y=" */
    int v[4];
    for (int k = 0; k < 4 - pad; k++)
      if ((v[k] = value_of(in[i + k])) < 0)
        return -1;
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12;
    if (pad < 2)
      w |= (uint32_t)v[2] << 6;
    if (pad < 1)
      w |= (uint32_t)v[3];
    /* Canonical: the bits padding drops must be zero. */
    if ((pad == 2 && (w & 0xffff)) || (pad == 1 && (w & 0xff)))
      return -1;
    *o++ = (unsigned char)(w >> 16);
    if (pad < 2)
      *o++ = (unsigned char)(w >> 8);
    if (pad < 1)
      *o++ = (unsigned char)w;
  }
  return (long)(o - (unsigned char *)out);
}
