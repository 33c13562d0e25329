/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/image_fixtures.c - see image_fixtures.h. Encoders run the real
 * libraries (libjpeg-turbo, libspng), so the decoder is tested against
 * files those libraries wrote, not against our own output.
 */
#include "support/image_fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <spng.h>

void fx_put(fx_bytes *b, const void *p, size_t n) {
  if (b->size + n > b->cap) {
    size_t cap = (b->size + n) * 2 + 64;
    uint8_t *grown = realloc(b->data, cap);
    if (grown == NULL) abort();
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->size, p, n);
  b->size += n;
}

void fx_u8(fx_bytes *b, unsigned v) {
  uint8_t c = (uint8_t)v;
  fx_put(b, &c, 1);
}

void fx_le16(fx_bytes *b, unsigned v) {
  fx_u8(b, v & 0xFF);
  fx_u8(b, (v >> 8) & 0xFF);
}

void fx_le32(fx_bytes *b, uint32_t v) {
  fx_le16(b, v & 0xFFFF);
  fx_le16(b, v >> 16);
}

void fx_be32(fx_bytes *b, uint32_t v) {
  fx_u8(b, v >> 24);
  fx_u8(b, (v >> 16) & 0xFF);
  fx_u8(b, (v >> 8) & 0xFF);
  fx_u8(b, v & 0xFF);
}

const uint8_t fx_quad[4][3] = {
    {200, 30, 30}, {30, 200, 30}, {30, 30, 200}, {220, 220, 40}};

void fx_quadrants(uint8_t *rgb, unsigned w, unsigned h) {
  for (unsigned y = 0; y < h; y++)
    for (unsigned x = 0; x < w; x++)
      memcpy(rgb + ((size_t)y * w + x) * 3,
             fx_quad[(y >= h / 2) * 2 + (x >= w / 2)], 3);
}

void fx_random(uint8_t *p, size_t n, uint32_t seed) {
  uint32_t s = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    p[i] = (uint8_t)(s >> 24);
  }
}

uint32_t fx_crc32(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return c ^ 0xFFFFFFFFu;
}

/* The Exif APP1 body: "Exif\0\0", a TIFF header and IFD0 holding only
 * tag 0x0112 (SHORT, count 1). */
static void exif_app1(fx_bytes *b, int orientation, int big_endian) {
  fx_put(b, "Exif\0\0", 6);
  uint8_t t[26];
  size_t n = 0;
#define PUT16(v) do { unsigned v_ = (v); \
    if (big_endian) { t[n++] = v_ >> 8; t[n++] = v_ & 0xFF; } \
    else { t[n++] = v_ & 0xFF; t[n++] = v_ >> 8; } } while (0)
  t[n++] = big_endian ? 'M' : 'I';
  t[n++] = big_endian ? 'M' : 'I';
  PUT16(42);
  PUT16(big_endian ? 0 : 8); /* IFD0 offset 8, as a 32-bit value */
  PUT16(big_endian ? 8 : 0);
  PUT16(1);                  /* one entry */
  PUT16(0x0112);
  PUT16(3);                  /* SHORT */
  PUT16(big_endian ? 0 : 1); /* count 1 */
  PUT16(big_endian ? 1 : 0);
  PUT16((unsigned)orientation);
  PUT16(0);
  PUT16(0);                  /* next IFD: none */
  PUT16(0);
#undef PUT16
  fx_put(b, t, n);
}

int fx_jpeg_encode(const uint8_t *pixels, unsigned w, unsigned h,
                   const fx_jpeg_opts *o, uint8_t **out, size_t *out_size) {
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr jerr;
  unsigned char *buf = NULL;
  unsigned long size = 0;
  c.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&c);
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = w;
  c.image_height = h;
  c.input_components = o->components;
  c.in_color_space = o->components == 1   ? JCS_GRAYSCALE
                     : o->components == 4 ? JCS_CMYK
                                          : JCS_RGB;
  jpeg_set_defaults(&c);
  if (o->components == 4)
    jpeg_set_colorspace(&c, o->ycck ? JCS_YCCK : JCS_CMYK);
  for (int i = 0; i < c.num_components; i++) {
    c.comp_info[i].h_samp_factor = 1;
    c.comp_info[i].v_samp_factor = 1;
  }
  jpeg_set_quality(&c, o->quality, TRUE);
  if (o->progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  if (o->orientation != 0) {
    fx_bytes app1 = {NULL, 0, 0};
    exif_app1(&app1, o->orientation, o->big_endian);
    jpeg_write_marker(&c, JPEG_APP0 + 1, app1.data, (unsigned)app1.size);
    free(app1.data);
  }
  size_t row = (size_t)w * o->components;
  while (c.next_scanline < h) {
    JSAMPROW r = (JSAMPROW)(pixels + c.next_scanline * row);
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  *out = buf;
  *out_size = size;
  return 0;
}

int fx_png_encode(const uint8_t *raw, unsigned w, unsigned h,
                  int color_type, int bit_depth, const uint8_t *palette,
                  unsigned n_palette, const uint8_t *trns, uint8_t **out,
                  size_t *out_size) {
  int rc = 0;
  spng_ctx *c = spng_ctx_new(SPNG_CTX_ENCODER);
  struct spng_ihdr ihdr = {w, h, (uint8_t)bit_depth, (uint8_t)color_type,
                           0, 0, 0};
  spng_set_option(c, SPNG_ENCODE_TO_BUFFER, 1);
  spng_set_ihdr(c, &ihdr);
  if (color_type == 3) {
    struct spng_plte plte;
    memset(&plte, 0, sizeof plte);
    plte.n_entries = n_palette;
    for (unsigned i = 0; i < n_palette; i++) {
      plte.entries[i].red = palette[3 * i];
      plte.entries[i].green = palette[3 * i + 1];
      plte.entries[i].blue = palette[3 * i + 2];
    }
    spng_set_plte(c, &plte);
    if (trns != NULL) {
      struct spng_trns t;
      memset(&t, 0, sizeof t);
      t.n_type3_entries = n_palette;
      memcpy(t.type3_alpha, trns, n_palette);
      spng_set_trns(c, &t);
    }
  }
  static const int channels[7] = {1, 0, 3, 1, 2, 0, 4};
  size_t len = (size_t)w * h * channels[color_type] * bit_depth / 8;
  if (bit_depth < 8)
    len = (((size_t)w * bit_depth + 7) / 8) * h;
  rc = spng_encode_image(c, raw, len, SPNG_FMT_RAW, SPNG_ENCODE_FINALIZE);
  if (rc == 0) {
    *out = spng_get_png_buffer(c, out_size, &rc);
  }
  if (rc != 0) fprintf(stderr, "spng encode: %s\n", spng_strerror(rc));
  spng_ctx_free(c);
  return rc;
}
