/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bmp.c - the BMP backend of ims_decoder: a small bounds-checked reader.
 *
 * Format: a 14-byte file header ("BM", file size, reserved, offset of the
 * pixel array) followed by a DIB header whose first field is its own size:
 * 12 (BITMAPCOREHEADER), 40 (BITMAPINFOHEADER), 52/56 (the V2/V3 variants),
 * 108 (V4) or 124 (V5). All fields are little-endian. Rows are padded to 4
 * bytes and stored bottom-up when the height is positive, top-down when it
 * is negative.
 *
 * Supported: 24-bit BI_RGB (BGR); 32-bit BI_RGB (BGRX) and
 * BI_BITFIELDS/BI_ALPHABITFIELDS whose R, G and B masks are each one whole
 * byte (alpha is dropped); 8-bit BI_RGB with a palette. Not supported (a
 * clear IMS_ERR_BAD_IMAGE): 1/4/16-bit pixels, RLE, embedded JPEG/PNG,
 * other masks.
 *
 * Every size is computed in 64 bits and checked against the data before it
 * is used; the pixel count is checked against max_pixels before the output
 * buffer is sized.
 *
 * Sections: 1. header parsing  2. pixel conversion  3. codec entry point
 *
 * Threading: stateless.
 */
#include <string.h>

#include "core/error_int.h"
#include "image/codec_int.h"

enum { BI_RGB = 0, BI_BITFIELDS = 3, BI_ALPHABITFIELDS = 6 };

typedef struct bmp_info {
  uint32_t width;        /* pixels per row */
  uint32_t height;       /* rows */
  int top_down;          /* 1 if the first stored row is the top one */
  unsigned bpp;          /* 8, 24 or 32 */
  unsigned shift[3];     /* bit position of R, G, B in a 32-bit pixel */
  uint64_t pixel_offset; /* byte offset of the pixel array */
  uint64_t row_bytes;    /* stored bytes per row, padding included */
  uint8_t palette[256][3]; /* RGB entries for 8-bit images */
} bmp_info;

/* ---- 1. header parsing ------------------------------------------------- */

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static unsigned le16(const uint8_t *p) { return (unsigned)(p[0] | p[1] << 8); }

static ims_status truncated(size_t size, uint64_t need, const char *what,
                            ims_error *err) {
  return ims__fail(err, IMS_ERR_BAD_IMAGE,
                   "truncated BMP: %s needs %llu bytes, the data has %zu",
                   what, (unsigned long long)need, size);
}

static ims_status unsupported(const char *what, unsigned value,
                              ims_error *err) {
  return ims__fail(err, IMS_ERR_BAD_IMAGE, "unsupported BMP: %s %u", what,
                   value);
}

/* R, G, B masks of a BITFIELDS image -> byte shifts; 0 if unsupported. */
static int parse_masks(const uint8_t *m, bmp_info *bi) {
  for (int c = 0; c < 3; c++) {
    uint32_t mask = le32(m + 4 * c);
    unsigned s = 0;
    while (s < 32 && mask != (0xFFu << s)) s += 8;
    if (s >= 32) return 0;
    bi->shift[c] = s;
  }
  return 1;
}

/* Palette of an 8-bit image: `count` entries of `entry` bytes (BGR[X]) at
 * byte `at`. Missing entries stay black. */
static ims_status parse_palette(const uint8_t *p, size_t size, uint64_t at,
                                uint32_t count, unsigned entry,
                                bmp_info *bi, ims_error *err) {
  if (count == 0) count = 256;
  if (count > 256) return unsupported("palette size", count, err);
  if (at + (uint64_t)count * entry > size)
    return truncated(size, at + (uint64_t)count * entry, "the palette", err);
  memset(bi->palette, 0, sizeof bi->palette);
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *e = p + at + (size_t)i * entry;
    bi->palette[i][0] = e[2];
    bi->palette[i][1] = e[1];
    bi->palette[i][2] = e[0];
  }
  return IMS_OK;
}

/* Size and layout fields of the DIB header at p + 14 (hs bytes, already
 * bounds-checked). */
static ims_status parse_dib(const uint8_t *p, uint32_t hs, int32_t *w,
                            int32_t *h, unsigned *bpp, uint32_t *comp,
                            ims_error *err) {
  const uint8_t *d = p + 14;
  unsigned planes;
  if (hs == 12) {
    *w = (int32_t)le16(d + 4);
    *h = (int32_t)le16(d + 6);
    planes = le16(d + 8);
    *bpp = le16(d + 10);
    *comp = BI_RGB;
  } else {
    *w = (int32_t)le32(d + 4);
    *h = (int32_t)le32(d + 8);
    planes = le16(d + 12);
    *bpp = le16(d + 14);
    *comp = le32(d + 16);
  }
  if (planes != 1) return unsupported("number of planes", planes, err);
  if (*w <= 0 || *h == 0 || *h == INT32_MIN)
    return ims__fail(err, IMS_ERR_BAD_IMAGE, "bad BMP dimensions %ldx%ld",
                     (long)*w, (long)*h);
  return IMS_OK;
}

static int header_size_known(uint32_t hs) {
  return hs == 12 || hs == 40 || hs == 52 || hs == 56 || hs == 108 ||
         hs == 124;
}

/* Colour layout: BITFIELDS masks, the implicit BGRX layout, or the
 * palette. `extra` is where data after the DIB header starts. */
static ims_status parse_colors(const uint8_t *p, size_t size, uint32_t hs,
                               uint32_t comp, bmp_info *bi, ims_error *err) {
  uint64_t extra = 14 + (uint64_t)hs;
  if (comp == BI_BITFIELDS || comp == BI_ALPHABITFIELDS) {
    /* V2+ headers hold the masks at DIB offset 40; a 40-byte header is
     * followed by them. Both put them at file offset 54. */
    if (bi->bpp != 32) return unsupported("BITFIELDS bit depth", bi->bpp, err);
    if (54 + 12 > size) return truncated(size, 66, "the colour masks", err);
    if (!parse_masks(p + 54, bi))
      return ims__fail(err, IMS_ERR_BAD_IMAGE, "unsupported BMP: colour "
                       "masks %08X/%08X/%08X are not whole bytes",
                       (unsigned)le32(p + 54), (unsigned)le32(p + 58),
                       (unsigned)le32(p + 62));
    return IMS_OK;
  }
  if (comp != BI_RGB) return unsupported("compression type", comp, err);
  if (bi->bpp == 24) return IMS_OK;
  if (bi->bpp == 32) {
    bi->shift[0] = 16; /* BGRX, read as a little-endian word */
    bi->shift[1] = 8;
    bi->shift[2] = 0;
    return IMS_OK;
  }
  if (bi->bpp != 8) return unsupported("bit depth", bi->bpp, err);
  unsigned entry = hs == 12 ? 3 : 4;
  uint32_t count = hs == 12 ? 0 : le32(p + 14 + 32);
  if (count == 0 && bi->pixel_offset > extra) {
    uint64_t room = (bi->pixel_offset - extra) / entry;
    count = room < 256 ? (uint32_t)room : 256;
  }
  return parse_palette(p, size, extra, count, entry, bi, err);
}

/* Parse and validate everything before the pixel array. */
static ims_status parse_header(const ims__decode_ctx *ctx, bmp_info *bi,
                               ims_error *err) {
  const uint8_t *p = ctx->data;
  size_t size = ctx->size;
  int32_t w = 0, h = 0;
  uint32_t comp = 0;
  if (size < 18) return truncated(size, 18, "the file header", err);
  uint32_t hs = le32(p + 14);
  if (!header_size_known(hs)) return unsupported("header size", hs, err);
  if (14 + (uint64_t)hs > size)
    return truncated(size, 14 + (uint64_t)hs, "the header", err);
  ims_status st = parse_dib(p, hs, &w, &h, &bi->bpp, &comp, err);
  if (st != IMS_OK) return st;
  bi->width = (uint32_t)w;
  bi->top_down = h < 0;
  bi->height = h < 0 ? (uint32_t)(-(int64_t)h) : (uint32_t)h;
  st = ims__check_pixels(ctx, "BMP", bi->width, bi->height, err);
  if (st != IMS_OK) return st;
  bi->pixel_offset = le32(p + 10);
  st = parse_colors(p, size, hs, comp, bi, err);
  if (st != IMS_OK) return st;
  bi->row_bytes = ((uint64_t)bi->bpp * bi->width + 31) / 32 * 4;
  uint64_t need = bi->pixel_offset + bi->row_bytes * bi->height;
  if (need > size) return truncated(size, need, "the pixel data", err);
  return IMS_OK;
}

/* ---- 2. pixel conversion ----------------------------------------------- */

static void convert_row(const bmp_info *bi, const uint8_t *s, uint8_t *d) {
  uint32_t w = bi->width;
  if (bi->bpp == 24) {
    for (uint32_t x = 0; x < w; x++, s += 3, d += 3) {
      d[0] = s[2];
      d[1] = s[1];
      d[2] = s[0];
    }
  } else if (bi->bpp == 32) {
    unsigned r = bi->shift[0], g = bi->shift[1], b = bi->shift[2];
    for (uint32_t x = 0; x < w; x++, s += 4, d += 3) {
      uint32_t px = le32(s);
      d[0] = (uint8_t)(px >> r);
      d[1] = (uint8_t)(px >> g);
      d[2] = (uint8_t)(px >> b);
    }
  } else {
    for (uint32_t x = 0; x < w; x++, d += 3) memcpy(d, bi->palette[s[x]], 3);
  }
}

/* ---- 3. codec entry point ---------------------------------------------- */

static ims_status bmp_decode(void *state, const ims__decode_ctx *ctx,
                             ims_image *image_out, ims_error *err) {
  (void)state;
  bmp_info bi;
  ims_status st = parse_header(ctx, &bi, err);
  if (st != IMS_OK) return st;
  size_t stride = (size_t)bi.width * 3;
  st = ims__buf_reserve(ctx->pixels, stride * bi.height, err);
  if (st != IMS_OK) return st;
  for (uint32_t y = 0; y < bi.height; y++) {
    uint32_t stored = bi.top_down ? y : bi.height - 1 - y;
    const uint8_t *src = ctx->data + bi.pixel_offset + stored * bi.row_bytes;
    convert_row(&bi, src, ctx->pixels->data + (size_t)y * stride);
  }
  image_out->width = bi.width;
  image_out->height = bi.height;
  image_out->stride = stride;
  image_out->pixels = ctx->pixels->data;
  return IMS_OK;
}

const ims__codec ims__codec_bmp = {
    .name = "BMP",
    .create = NULL,
    .destroy = NULL,
    .decode = bmp_decode,
};
