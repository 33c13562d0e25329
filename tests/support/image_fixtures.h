/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/image_fixtures.h - test-time image fixtures for the image
 * tests: known pixel patterns encoded with libjpeg-turbo and libspng, and
 * BMP files written byte by byte, so every expected pixel comes from
 * construction.
 *
 * Threading: none (tests are single-threaded).
 */
#ifndef IMS_TESTS_IMAGE_FIXTURES_H
#define IMS_TESTS_IMAGE_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

/* A growable byte string; free data with free(). */
typedef struct fx_bytes {
  uint8_t *data; /* malloc()ed */
  size_t size;   /* bytes used */
  size_t cap;    /* bytes allocated */
} fx_bytes;

void fx_put(fx_bytes *b, const void *p, size_t n);
void fx_u8(fx_bytes *b, unsigned v);
void fx_le16(fx_bytes *b, unsigned v);
void fx_le32(fx_bytes *b, uint32_t v);
void fx_be32(fx_bytes *b, uint32_t v);

/* JPEG encoding options. */
typedef struct fx_jpeg_opts {
  int components;   /* 1 (gray), 3 (RGB) or 4 (CMYK, stored as given) */
  int ycck;         /* 4 components: store as YCCK instead of CMYK */
  int progressive;  /* jpeg_simple_progression */
  int quality;      /* 1..100 */
  int orientation;  /* 0 = no Exif APP1, else the tag value written */
  int big_endian;   /* Exif TIFF byte order "MM" instead of "II" */
} fx_jpeg_opts;

/* Encode w x h pixels (o->components bytes each, tight rows) to a JPEG in
 * memory. 1x1 sampling for every component. Returns 0 on success; free
 * *out with free(). */
int fx_jpeg_encode(const uint8_t *pixels, unsigned w, unsigned h,
                   const fx_jpeg_opts *o, uint8_t **out, size_t *out_size);

/* Encode a PNG with libspng from raw samples in PNG layout (big-endian
 * 16-bit). color_type/bit_depth as in the PNG spec; palette (RGB triples,
 * n_palette entries) for type 3, alpha per entry for tRNS when non-NULL.
 * Returns 0 on success; free *out with free(). */
int fx_png_encode(const uint8_t *raw, unsigned w, unsigned h,
                  int color_type, int bit_depth, const uint8_t *palette,
                  unsigned n_palette, const uint8_t *trns, uint8_t **out,
                  size_t *out_size);

/* The quadrant test pattern: w x h RGB, four flat colours (top-left,
 * top-right, bottom-left, bottom-right = fx_quad[0..3]). */
extern const uint8_t fx_quad[4][3];
void fx_quadrants(uint8_t *rgb, unsigned w, unsigned h);

/* Deterministic pseudo-random bytes. */
void fx_random(uint8_t *p, size_t n, uint32_t seed);

/* CRC-32 as used by PNG (poly 0xEDB88320). */
uint32_t fx_crc32(const uint8_t *p, size_t n);

#endif /* IMS_TESTS_IMAGE_FIXTURES_H */
