/* SPDX-License-Identifier: Apache-2.0 */
/*
 * image_decode.c - every supported format variant, decoded from fixtures
 * built at test time (libjpeg-turbo / libspng encoders, BMP bytes written
 * here), checked against the pixels they were built from.
 *
 * JPEG is lossy, so JPEG checks compare flat regions with a tolerance;
 * PNG and BMP are lossless and must match exactly.
 */
#include "support/image_fixtures.h"
#include "imgstream/image.h"
#include "test.h"

#define TOL 6 /* JPEG quality 100, flat regions, 1x1 sampling */

static ims_decoder *new_decoder(uint32_t min_short_side) {
  ims_error err;
  ims_decode_options o = {.min_short_side = min_short_side};
  ims_decoder *d = NULL;
  ASSERT_OK(ims_decoder_create(&o, &d, &err), &err);
  return d;
}

static const uint8_t *px(const ims_image *im, unsigned x, unsigned y) {
  return im->pixels + (size_t)y * im->stride + (size_t)x * 3;
}

static void assert_near(const uint8_t *got, const uint8_t *want, int tol) {
  for (int c = 0; c < 3; c++)
    if (abs((int)got[c] - (int)want[c]) > tol)
      TEST__FAIL("pixel (%d,%d,%d) != expected (%d,%d,%d) +- %d", got[0],
                 got[1], got[2], want[0], want[1], want[2], tol);
}

/* Decode a JPEG made from the 32x16 quadrant pattern; check the centre of
 * each quadrant. Returns the decoded image (pixels owned by dec). */
static ims_image decode_quadrants(ims_decoder *dec, const fx_jpeg_opts *o) {
  enum { W = 32, H = 16 };
  static uint8_t rgb[W * H * 3];
  fx_quadrants(rgb, W, H);
  uint8_t *jpg = NULL;
  size_t size = 0;
  ASSERT_EQ(fx_jpeg_encode(rgb, W, H, o, &jpg, &size), 0);
  ims_error err;
  ims_image im;
  ims_status st = ims_decoder_decode(dec, jpg, size, &im, &err);
  free(jpg);
  ASSERT_OK(st, &err);
  return im;
}

TEST(image_decode_jpeg_baseline) {
  ims_decoder *dec = new_decoder(0);
  fx_jpeg_opts o = {3, 0, 0, 100, 0, 0};
  ims_image im = decode_quadrants(dec, &o);
  ASSERT_EQ(im.width, 32);
  ASSERT_EQ(im.height, 16);
  ASSERT(im.stride >= 32 * 3);
  assert_near(px(&im, 8, 4), fx_quad[0], TOL);
  assert_near(px(&im, 24, 4), fx_quad[1], TOL);
  assert_near(px(&im, 8, 12), fx_quad[2], TOL);
  assert_near(px(&im, 24, 12), fx_quad[3], TOL);
  ims_decoder_destroy(dec);
}

/* Progressive coding carries the same quantized coefficients, so the
 * decoded pixels must equal the baseline decode exactly. */
TEST(image_decode_jpeg_progressive) {
  ims_decoder *dec = new_decoder(0);
  fx_jpeg_opts o = {3, 0, 0, 90, 0, 0};
  ims_image base = decode_quadrants(dec, &o);
  static uint8_t copy[32 * 16 * 3];
  for (unsigned y = 0; y < 16; y++)
    memcpy(copy + y * 96, px(&base, 0, y), 96);
  o.progressive = 1;
  ims_image prog = decode_quadrants(dec, &o);
  ASSERT_EQ(prog.width, 32);
  for (unsigned y = 0; y < 16; y++)
    ASSERT(memcmp(copy + y * 96, px(&prog, 0, y), 96) == 0);
  assert_near(px(&prog, 24, 12), fx_quad[3], 12);
  ims_decoder_destroy(dec);
}

TEST(image_decode_jpeg_grayscale) {
  enum { W = 16, H = 16 };
  uint8_t gray[W * H];
  for (int i = 0; i < W * H; i++) gray[i] = (i % W) < 8 ? 40 : 210;
  fx_jpeg_opts o = {1, 0, 0, 100, 0, 0};
  uint8_t *jpg = NULL;
  size_t size = 0;
  ASSERT_EQ(fx_jpeg_encode(gray, W, H, &o, &jpg, &size), 0);
  ims_decoder *dec = new_decoder(0);
  ims_error err;
  ims_image im;
  ims_status st = ims_decoder_decode(dec, jpg, size, &im, &err);
  free(jpg);
  ASSERT_OK(st, &err);
  const uint8_t dark[3] = {40, 40, 40}, light[3] = {210, 210, 210};
  assert_near(px(&im, 3, 8), dark, 2);
  assert_near(px(&im, 12, 8), light, 2);
  for (unsigned y = 0; y < H; y++)
    for (unsigned x = 0; x < W; x++) {
      ASSERT_EQ(px(&im, x, y)[0], px(&im, x, y)[1]);
      ASSERT_EQ(px(&im, x, y)[1], px(&im, x, y)[2]);
    }
  ims_decoder_destroy(dec);
}

/* CMYK and YCCK JPEGs follow the Adobe convention: samples are stored
 * inverted (255 - ink). Expected RGB from the ink amounts: (255 - ink) *
 * (255 - k) / 255. */
static void check_cmyk(int ycck) {
  enum { W = 16, H = 8 };
  static const uint8_t ink[2][4] = {{0, 128, 255, 0}, {60, 20, 0, 100}};
  uint8_t raw[W * H * 4];
  for (int i = 0; i < W * H; i++)
    for (int c = 0; c < 4; c++) raw[i * 4 + c] = 255 - ink[(i % W) >= 8][c];
  fx_jpeg_opts o = {4, ycck, 0, 100, 0, 0};
  uint8_t *jpg = NULL;
  size_t size = 0;
  ASSERT_EQ(fx_jpeg_encode(raw, W, H, &o, &jpg, &size), 0);
  ims_decoder *dec = new_decoder(0);
  ims_error err;
  ims_image im;
  ims_status st = ims_decoder_decode(dec, jpg, size, &im, &err);
  free(jpg);
  ASSERT_OK(st, &err);
  ASSERT_EQ(im.width, W);
  for (int half = 0; half < 2; half++) {
    uint8_t want[3];
    for (int c = 0; c < 3; c++)
      want[c] = (uint8_t)((255 - ink[half][c]) * (255 - ink[half][3]) / 255);
    assert_near(px(&im, half ? 12 : 3, 4), want, 4);
  }
  ims_decoder_destroy(dec);
}

TEST(image_decode_jpeg_cmyk) { check_cmyk(0); }
TEST(image_decode_jpeg_ycck) { check_cmyk(1); }

/* EXIF orientation, written from the spec's wording (where stored row 0
 * and column 0 end up), as a forward map stored -> displayed. */
static void display_pos(int o, unsigned w, unsigned h, unsigned sx,
                        unsigned sy, unsigned *dx, unsigned *dy) {
  switch (o) {
    case 1: *dx = sx; *dy = sy; break; /* row0 top, col0 left */
    case 2: *dx = w - 1 - sx; *dy = sy; break;          /* top, right */
    case 3: *dx = w - 1 - sx; *dy = h - 1 - sy; break;  /* bottom, right */
    case 4: *dx = sx; *dy = h - 1 - sy; break;          /* bottom, left */
    case 5: *dx = sy; *dy = sx; break; /* row0 left, col0 top */
    case 6: *dx = h - 1 - sy; *dy = sx; break;          /* right, top */
    case 7: *dx = h - 1 - sy; *dy = w - 1 - sx; break;  /* right, bottom */
    default: *dx = sy; *dy = w - 1 - sx; break;         /* 8: left, bottom */
  }
}

TEST(image_decode_jpeg_exif_orientation) {
  enum { W = 32, H = 16 };
  uint8_t rgb[W * H * 3], want[W * H * 3];
  fx_quadrants(rgb, W, H);
  ims_decoder *dec = new_decoder(0);
  for (int be = 0; be < 2; be++) {
    for (int o = 1; o <= 8; o++) {
      fx_jpeg_opts opt = {3, 0, 0, 100, o, be};
      ims_image im = decode_quadrants(dec, &opt);
      unsigned dw = o >= 5 ? H : W, dh = o >= 5 ? W : H;
      ASSERT_EQ(im.width, dw);
      ASSERT_EQ(im.height, dh);
      for (unsigned y = 0; y < H; y++)
        for (unsigned x = 0; x < W; x++) {
          unsigned dx, dy;
          display_pos(o, W, H, x, y, &dx, &dy);
          memcpy(want + ((size_t)dy * dw + dx) * 3, rgb + (y * W + x) * 3, 3);
        }
      for (unsigned y = 0; y < dh; y++)
        for (unsigned x = 0; x < dw; x++)
          assert_near(px(&im, x, y), want + ((size_t)y * dw + x) * 3, TOL);
    }
  }
  ims_decoder_destroy(dec);
}

/* min_short_side picks the smallest M/8 scale keeping the short side >= the
 * hint; libjpeg's scaled size is ceil(size * M / 8). */
TEST(image_decode_jpeg_dct_scaling) {
  enum { W = 64, H = 48 };
  static uint8_t rgb[W * H * 3];
  fx_quadrants(rgb, W, H);
  fx_jpeg_opts o = {3, 0, 0, 95, 0, 0};
  uint8_t *jpg = NULL;
  size_t size = 0;
  ASSERT_EQ(fx_jpeg_encode(rgb, W, H, &o, &jpg, &size), 0);
  static const unsigned hint[] = {0, 24, 13, 1, 48, 100};
  static const unsigned want_w[] = {64, 32, 24, 8, 64, 64};
  static const unsigned want_h[] = {48, 24, 18, 6, 48, 48};
  for (int i = 0; i < 6; i++) {
    ims_decoder *dec = new_decoder(hint[i]);
    ims_error err;
    ims_image im;
    ASSERT_OK(ims_decoder_decode(dec, jpg, size, &im, &err), &err);
    ASSERT_EQ(im.width, want_w[i]);
    ASSERT_EQ(im.height, want_h[i]);
    assert_near(px(&im, im.width / 4, im.height / 4), fx_quad[0], 12);
    assert_near(px(&im, 3 * im.width / 4, 3 * im.height / 4), fx_quad[3], 12);
    ims_decoder_destroy(dec);
  }
  free(jpg);
}

/* The pixel buffer is kept: a smaller image after a bigger one lands in
 * the same memory (no reallocation on the hot path). */
TEST(image_decode_buffer_reused) {
  ims_decoder *dec = new_decoder(0);
  ims_error err;
  ims_image a, b;
  ASSERT_OK(ims_decoder_decode_file(
                dec, shared_path("data/images/cat_720p.jpg"), &a, &err),
            &err);
  ASSERT_EQ(a.width, 1280);
  ASSERT_EQ(a.height, 720);
  ASSERT_OK(ims_decoder_decode_file(
                dec, shared_path("data/images/parrot.jpg"), &b, &err),
            &err);
  ASSERT_EQ(b.width, 512);
  ASSERT_EQ(b.height, 929);
  ASSERT(a.pixels == b.pixels);
  ims_decoder_destroy(dec);
}

/* Decode a PNG fixture and compare with the expected RGB exactly. */
static void check_png(const uint8_t *raw, unsigned w, unsigned h, int ct,
                      int depth, const uint8_t *pal, unsigned npal,
                      const uint8_t *trns, const uint8_t *want) {
  uint8_t *png = NULL;
  size_t size = 0;
  ASSERT_EQ(fx_png_encode(raw, w, h, ct, depth, pal, npal, trns, &png, &size),
            0);
  ims_decoder *dec = new_decoder(0);
  ims_error err;
  ims_image im;
  ims_status st = ims_decoder_decode(dec, png, size, &im, &err);
  free(png);
  ASSERT_OK(st, &err);
  ASSERT_EQ(im.width, w);
  ASSERT_EQ(im.height, h);
  for (unsigned y = 0; y < h; y++)
    for (unsigned x = 0; x < w; x++)
      for (int c = 0; c < 3; c++)
        ASSERT_EQ(px(&im, x, y)[c], want[(y * w + x) * 3 + c]);
  ims_decoder_destroy(dec);
}

TEST(image_decode_png_variants) {
  enum { W = 7, H = 5, N = W * H };
  uint8_t src[N * 8], want[N * 3], raw[N * 8];
  fx_random(src, sizeof src, 7);
  /* RGB 8 and RGBA 8 (alpha dropped, no compositing: alpha 0 included). */
  memcpy(want, src, N * 3);
  check_png(src, W, H, 2, 8, NULL, 0, NULL, want);
  for (int i = 0; i < N; i++) {
    memcpy(raw + i * 4, src + i * 3, 3);
    raw[i * 4 + 3] = (uint8_t)(i % 3 == 0 ? 0 : src[N * 3 + i]);
  }
  check_png(raw, W, H, 6, 8, NULL, 0, NULL, want);
  /* Gray 8 and gray+alpha 8. */
  for (int i = 0; i < N; i++) {
    memset(want + i * 3, src[i], 3);
    raw[2 * i] = src[i];
    raw[2 * i + 1] = src[N + i];
  }
  check_png(src, W, H, 0, 8, NULL, 0, NULL, want);
  check_png(raw, W, H, 4, 8, NULL, 0, NULL, want);
  /* 16-bit RGB and gray (big-endian samples): the high byte is kept. */
  for (int i = 0; i < N * 3; i++) {
    raw[2 * i] = src[i];
    raw[2 * i + 1] = src[N * 3 + i];
  }
  check_png(raw, W, H, 2, 16, NULL, 0, NULL, src);
  for (int i = 0; i < N; i++) memset(want + i * 3, raw[2 * i], 3);
  check_png(raw, W, H, 0, 16, NULL, 0, NULL, want);
  /* Palette (with tRNS, ignored) and 1-bit gray (0 -> 0, 1 -> 255). */
  uint8_t pal[16 * 3], trns[16];
  fx_random(pal, sizeof pal, 11);
  fx_random(trns, sizeof trns, 12);
  for (int i = 0; i < N; i++) {
    raw[i] = src[i] % 16;
    memcpy(want + i * 3, pal + raw[i] * 3, 3);
  }
  check_png(raw, W, H, 3, 8, pal, 16, trns, want);
  memset(raw, 0, sizeof raw);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      int bit = (src[y * W + x] >> 7) & 1;
      raw[y] |= (uint8_t)(bit << (7 - x)); /* 1 byte per 7-pixel row */
      memset(want + (y * W + x) * 3, bit ? 255 : 0, 3);
    }
  check_png(raw, W, H, 0, 1, NULL, 0, NULL, want);
}

/* A BMP file: header size hs (12/40/52/56/108/124), `rows` = h rows of
 * w*bpp/8 bytes in display order (top first); written bottom-up unless
 * top_down, each row padded to 4 bytes. masks (3 words) go after a
 * 40-byte header or inside V2+ headers when comp is BI_BITFIELDS (3). */
typedef struct bmp_spec {
  unsigned hs, bpp, comp;
  int top_down;
  const uint32_t *masks;
  const uint8_t *palette; /* BGRX entries */
  unsigned n_palette;
} bmp_spec;

static void build_bmp(fx_bytes *b, const bmp_spec *s, const uint8_t *rows,
                      unsigned w, unsigned h) {
  size_t rb = (size_t)w * s->bpp / 8, padded = (rb + 3) & ~(size_t)3;
  size_t extra = (s->comp == 3 && s->hs == 40) ? 12 : 0;
  size_t pal = (size_t)s->n_palette * (s->hs == 12 ? 3 : 4);
  uint32_t off = (uint32_t)(14 + s->hs + extra + pal);
  fx_put(b, "BM", 2);
  fx_le32(b, off + (uint32_t)(padded * h));
  fx_le32(b, 0);
  fx_le32(b, off);
  fx_le32(b, s->hs);
  if (s->hs == 12) {
    fx_le16(b, w);
    fx_le16(b, h);
    fx_le16(b, 1);
    fx_le16(b, s->bpp);
  } else {
    fx_le32(b, w);
    fx_le32(b, s->top_down ? (uint32_t)-(int32_t)h : h);
    fx_le16(b, 1);
    fx_le16(b, s->bpp);
    fx_le32(b, s->comp);
    fx_le32(b, (uint32_t)(padded * h));
    fx_le32(b, 2835);
    fx_le32(b, 2835);
    fx_le32(b, s->n_palette);
    fx_le32(b, 0);
    for (unsigned i = 40; i < s->hs; i += 4)
      fx_le32(b, (s->comp == 3 && i < 52) ? s->masks[(i - 40) / 4] : 0);
  }
  if (extra) for (int i = 0; i < 3; i++) fx_le32(b, s->masks[i]);
  for (unsigned i = 0; i < s->n_palette; i++)
    fx_put(b, s->palette + i * 4, s->hs == 12 ? 3 : 4);
  for (unsigned r = 0; r < h; r++) {
    unsigned y = s->top_down ? r : h - 1 - r;
    fx_put(b, rows + y * rb, rb);
    for (size_t p = rb; p < padded; p++) fx_u8(b, 0xEE);
  }
}

static void check_bmp(const bmp_spec *s, const uint8_t *rows, unsigned w,
                      unsigned h, const uint8_t *want) {
  fx_bytes b = {NULL, 0, 0};
  build_bmp(&b, s, rows, w, h);
  char path[4096];
  snprintf(path, sizeof path, "%s", tmp_path("image_decode_variant.bmp"));
  ASSERT_EQ(test_write_file(path, b.data, b.size), 0);
  free(b.data);
  ims_decoder *dec = new_decoder(0);
  ims_error err;
  ims_image im;
  ASSERT_OK(ims_decoder_decode_file(dec, path, &im, &err), &err);
  ASSERT_EQ(im.width, w);
  ASSERT_EQ(im.height, h);
  for (unsigned y = 0; y < h; y++)
    for (unsigned x = 0; x < w; x++)
      for (int c = 0; c < 3; c++)
        ASSERT_EQ(px(&im, x, y)[c], want[(y * w + x) * 3 + c]);
  ims_decoder_destroy(dec);
}

TEST(image_decode_bmp_variants) {
  enum { W = 5, H = 3, N = W * H }; /* 5 px: 24-bit rows need padding */
  uint8_t want[N * 3], rows[N * 4], pal[256 * 4];
  fx_random(want, sizeof want, 21);
  for (int i = 0; i < N; i++) { /* BGR */
    rows[i * 3] = want[i * 3 + 2];
    rows[i * 3 + 1] = want[i * 3 + 1];
    rows[i * 3 + 2] = want[i * 3];
  }
  static const unsigned headers[] = {12, 40, 52, 56, 108, 124};
  for (int i = 0; i < 6; i++)
    for (int td = 0; td < (headers[i] == 12 ? 1 : 2); td++) {
      bmp_spec s = {headers[i], 24, 0, td, NULL, NULL, 0};
      check_bmp(&s, rows, W, H, want);
    }
  for (int i = 0; i < N; i++) { /* BGRX, X = junk */
    rows[i * 4] = want[i * 3 + 2];
    rows[i * 4 + 1] = want[i * 3 + 1];
    rows[i * 4 + 2] = want[i * 3];
    rows[i * 4 + 3] = (uint8_t)(i * 37);
  }
  bmp_spec s32 = {40, 32, 0, 0, NULL, NULL, 0};
  check_bmp(&s32, rows, W, H, want);
  static const uint32_t bgra[3] = {0x00FF0000, 0x0000FF00, 0x000000FF};
  for (int i = 0; i < 3; i++) {
    bmp_spec sb = {i == 0 ? 40u : i == 1 ? 108u : 124u, 32, 3, i == 2, bgra,
                   NULL, 0};
    check_bmp(&sb, rows, W, H, want);
  }
  /* RGBX order via masks: R in the low byte. */
  static const uint32_t rgbx[3] = {0x000000FF, 0x0000FF00, 0x00FF0000};
  for (int i = 0; i < N; i++) {
    rows[i * 4] = want[i * 3];
    rows[i * 4 + 2] = want[i * 3 + 2];
  }
  bmp_spec sr = {124, 32, 3, 0, rgbx, NULL, 0};
  check_bmp(&sr, rows, W, H, want);
  /* 8-bit palette, 20 entries. */
  fx_random(pal, sizeof pal, 22);
  for (int i = 0; i < N; i++) {
    rows[i] = (uint8_t)((i * 7) % 20);
    want[i * 3] = pal[rows[i] * 4 + 2];
    want[i * 3 + 1] = pal[rows[i] * 4 + 1];
    want[i * 3 + 2] = pal[rows[i] * 4];
  }
  bmp_spec s8 = {40, 8, 0, 1, NULL, pal, 20};
  check_bmp(&s8, rows, W, H, want);
}

TEST_MAIN(image_decode_jpeg_baseline, image_decode_jpeg_progressive,
          image_decode_jpeg_grayscale, image_decode_jpeg_cmyk,
          image_decode_jpeg_ycck, image_decode_jpeg_exif_orientation,
          image_decode_jpeg_dct_scaling, image_decode_buffer_reused,
          image_decode_png_variants, image_decode_bmp_variants)
