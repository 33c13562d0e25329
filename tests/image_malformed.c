/* SPDX-License-Identifier: Apache-2.0 */
/*
 * image_malformed.c - bad input must give the right status and a clear
 * message, never a crash, exit() or leak (run under the ASan build too).
 * Files are written under tmp_path() and read back with decode_file.
 */
#include "support/image_fixtures.h"
#include "imgstream/image.h"
#include "test.h"

#define FLOWER "data/flowers/daisy/10993818044_4c19b86c82.jpg"

/* Write `data` to tmp/name, decode it, expect `want`, return the message
 * (static buffer). */
static const char *decode_bytes_as(const char *name, const void *data,
                                   size_t size, ims_status want) {
  static ims_error err;
  char path[4096];
  snprintf(path, sizeof path, "%s", tmp_path(name));
  ASSERT_EQ(test_write_file(path, data, size), 0);
  ims_decoder *dec = NULL;
  ASSERT_OK(ims_decoder_create(NULL, &dec, &err), &err);
  memset(&err, 0, sizeof err);
  ims_image im;
  ims_status st = ims_decoder_decode_file(dec, path, &im, &err);
  ims_decoder_destroy(dec);
  if (st != want)
    TEST__FAIL("%s: status %s, want %s (%s)", name, ims_status_name(st),
               ims_status_name(want), err.message);
  ASSERT_EQ(err.status, want);
  /* decode_file messages start with the path. */
  ASSERT(strncmp(err.message, path, strlen(path)) == 0);
  fprintf(stderr, "  %s\n", err.message);
  return err.message;
}

static unsigned char *read_shared(const char *rel, size_t *size) {
  unsigned char *d = test_read_file(shared_path(rel), size);
  if (d == NULL) RETURN_SKIP("shared data missing");
  return d;
}

TEST(image_malformed_truncated_jpeg) {
  size_t size = 0;
  unsigned char *jpg = read_shared(FLOWER, &size);
  size_t cuts[] = {3, 10, 100, 1000, size / 2, size - 2};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    char want[64];
    snprintf(want, sizeof want, "truncated JPEG data at byte %zu", cuts[i]);
    const char *msg = decode_bytes_as("trunc.jpg", jpg, cuts[i],
                                      IMS_ERR_BAD_IMAGE);
    ASSERT_CONTAINS(msg, want);
  }
  free(jpg);
}

/* Entropy-coded data overwritten with a restart marker in the middle. */
TEST(image_malformed_corrupt_jpeg) {
  size_t size = 0;
  unsigned char *jpg = read_shared(FLOWER, &size);
  jpg[size / 2] = 0xFF;
  jpg[size / 2 + 1] = 0xD3;
  const char *msg = decode_bytes_as("corrupt.jpg", jpg, size,
                                    IMS_ERR_BAD_IMAGE);
  ASSERT_CONTAINS(msg, "JPEG");
  free(jpg);
}

/* Random single-byte damage: any outcome but a crash is acceptable, and a
 * failure must be IMS_ERR_BAD_IMAGE with a message. */
TEST(image_malformed_jpeg_bitflips_never_crash) {
  size_t size = 0;
  unsigned char *jpg = read_shared(FLOWER, &size);
  unsigned char *copy = malloc(size);
  ASSERT(copy != NULL);
  ims_decoder *dec = NULL;
  ims_error err;
  ASSERT_OK(ims_decoder_create(NULL, &dec, &err), &err);
  uint8_t r[3 * 300];
  fx_random(r, sizeof r, 99);
  int failures = 0;
  for (int i = 0; i < 300; i++) {
    memcpy(copy, jpg, size);
    size_t at = ((size_t)r[3 * i] << 8 | r[3 * i + 1]) % size;
    copy[at] ^= (uint8_t)(r[3 * i + 2] | 1);
    ims_image im;
    err.message[0] = '\0';
    ims_status st = ims_decoder_decode(dec, copy, size, &im, &err);
    if (st != IMS_OK) {
      ASSERT_EQ(st, IMS_ERR_BAD_IMAGE);
      ASSERT(err.message[0] != '\0');
      failures++;
    }
  }
  fprintf(stderr, "  %d of 300 damaged copies rejected\n", failures);
  ims_decoder_destroy(dec);
  free(copy);
  free(jpg);
}

TEST(image_malformed_empty_and_garbage) {
  ASSERT_CONTAINS(decode_bytes_as("empty.jpg", "", 0, IMS_ERR_BAD_IMAGE),
                  "empty file");
  uint8_t junk[4096];
  fx_random(junk, sizeof junk, 5);
  junk[0] = 0x13; /* make sure no magic matches by chance */
  ASSERT_CONTAINS(decode_bytes_as("random.jpg", junk, sizeof junk,
                                  IMS_ERR_BAD_IMAGE),
                  "not a JPEG, PNG or BMP image");
  const char *text = "hello, this is a text file\nnot an image\n";
  const char *msg = decode_bytes_as("notes.jpg", text, strlen(text),
                                    IMS_ERR_BAD_IMAGE);
  ASSERT_CONTAINS(msg, "not a JPEG, PNG or BMP image");
  ASSERT_CONTAINS(msg, "text");
  ASSERT_CONTAINS(decode_bytes_as("anim.png", "GIF89a\1\0\1\0", 10,
                                  IMS_ERR_BAD_IMAGE),
                  "GIF");
  ASSERT_CONTAINS(decode_bytes_as("soi.jpg", "\xFF\xD8\xFF", 3,
                                  IMS_ERR_BAD_IMAGE),
                  "truncated JPEG data at byte 3");
}

TEST(image_malformed_missing_file) {
  ims_decoder *dec = NULL;
  ims_error err;
  ASSERT_OK(ims_decoder_create(NULL, &dec, &err), &err);
  ims_image im;
  const char *path = tmp_path("no/such/file.jpg");
  ASSERT_EQ(ims_decoder_decode_file(dec, path, &im, &err),
            IMS_ERR_NOT_FOUND);
  ASSERT_CONTAINS(err.message, "no/such/file.jpg");
  ims_decoder_destroy(dec);
}

/* A PNG signature + IHDR chunk (valid CRC) claiming w x h, then IEND. */
static size_t png_header(uint8_t *out, uint32_t w, uint32_t h, int bad_crc) {
  fx_bytes b = {NULL, 0, 0};
  fx_put(&b, "\x89PNG\r\n\x1a\n", 8);
  fx_be32(&b, 13);
  size_t chunk = b.size;
  fx_put(&b, "IHDR", 4);
  fx_be32(&b, w);
  fx_be32(&b, h);
  fx_put(&b, "\x08\x02\x00\x00\x00", 5); /* 8-bit RGB */
  fx_be32(&b, fx_crc32(b.data + chunk, 17) ^ (bad_crc ? 1u : 0u));
  fx_be32(&b, 0);
  fx_put(&b, "IEND", 4);
  fx_be32(&b, fx_crc32((const uint8_t *)"IEND", 4));
  memcpy(out, b.data, b.size);
  size_t n = b.size;
  free(b.data);
  return n;
}

TEST(image_malformed_png_header) {
  uint8_t buf[64];
  size_t n = png_header(buf, 100000, 100000, 0);
  const char *msg = decode_bytes_as("huge.png", buf, n, IMS_ERR_TOO_LARGE);
  ASSERT_CONTAINS(msg, "100000x100000");
  n = png_header(buf, 16, 16, 1);
  ASSERT_CONTAINS(decode_bytes_as("badcrc.png", buf, n, IMS_ERR_BAD_IMAGE),
                  "PNG");
  n = png_header(buf, 0, 10, 0);
  ASSERT_CONTAINS(decode_bytes_as("zero.png", buf, n, IMS_ERR_BAD_IMAGE),
                  "PNG");
  n = png_header(buf, 16, 16, 0); /* no IDAT at all */
  ASSERT_CONTAINS(decode_bytes_as("noidat.png", buf, n, IMS_ERR_BAD_IMAGE),
                  "PNG");
}

TEST(image_malformed_truncated_png) {
  enum { W = 64, H = 64 };
  static uint8_t rgb[W * H * 3];
  fx_random(rgb, sizeof rgb, 3); /* incompressible: one big IDAT */
  uint8_t *png = NULL;
  size_t size = 0;
  ASSERT_EQ(fx_png_encode(rgb, W, H, 2, 8, NULL, 0, NULL, &png, &size), 0);
  size_t cuts[] = {8, 20, 33, 50, size / 2, size - 18};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    const char *msg = decode_bytes_as("trunc.png", png, cuts[i],
                                      IMS_ERR_BAD_IMAGE);
    ASSERT_CONTAINS(msg, "PNG");
  }
  free(png);
}

TEST(image_malformed_truncated_bmp) {
  size_t size = 0;
  unsigned char *bmp = read_shared("data/images/grace_hopper.bmp", &size);
  size_t cuts[] = {2, 10, 30, 100, size / 2, size - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    const char *msg = decode_bytes_as("trunc.bmp", bmp, cuts[i],
                                      IMS_ERR_BAD_IMAGE);
    ASSERT_CONTAINS(msg, "truncated BMP");
  }
  free(bmp);
}

/* A 54-byte BMP header (40-byte DIB) with the given fields, plus `data`
 * bytes of zero pixels. */
static size_t bmp_header(uint8_t *out, uint32_t hs, int32_t w, int32_t h,
                         unsigned bpp, uint32_t comp, size_t data) {
  fx_bytes b = {NULL, 0, 0};
  fx_put(&b, "BM", 2);
  fx_le32(&b, (uint32_t)(54 + data));
  fx_le32(&b, 0);
  fx_le32(&b, 54);
  fx_le32(&b, hs);
  fx_le32(&b, (uint32_t)w);
  fx_le32(&b, (uint32_t)h);
  fx_le16(&b, 1);
  fx_le16(&b, bpp);
  fx_le32(&b, comp);
  for (int i = 0; i < 5; i++) fx_le32(&b, 0);
  for (size_t i = 0; i < data; i++) fx_u8(&b, 0);
  memcpy(out, b.data, b.size);
  size_t n = b.size;
  free(b.data);
  return n;
}

TEST(image_malformed_bmp_headers) {
  static uint8_t buf[256];
  size_t n = bmp_header(buf, 40, 2000000000, -2000000000, 24, 0, 0);
  ASSERT_CONTAINS(decode_bytes_as("absurd.bmp", buf, n, IMS_ERR_TOO_LARGE),
                  "2000000000x2000000000");
  n = bmp_header(buf, 40, 3000, 3000, 24, 0, 16);
  ASSERT_CONTAINS(decode_bytes_as("short.bmp", buf, n, IMS_ERR_BAD_IMAGE),
                  "truncated BMP");
  n = bmp_header(buf, 40, 0, 10, 24, 0, 16);
  ASSERT_CONTAINS(decode_bytes_as("zerow.bmp", buf, n, IMS_ERR_BAD_IMAGE),
                  "dimensions");
  n = bmp_header(buf, 40, -4, 10, 24, 0, 16);
  ASSERT_CONTAINS(decode_bytes_as("negw.bmp", buf, n, IMS_ERR_BAD_IMAGE),
                  "dimensions");
  n = bmp_header(buf, 40, 2, (int32_t)0x80000000u, 24, 0, 16);
  ASSERT_CONTAINS(decode_bytes_as("minh.bmp", buf, n, IMS_ERR_BAD_IMAGE),
                  "dimensions");
  n = bmp_header(buf, 40, 2, 2, 16, 0, 16);
  ASSERT_CONTAINS(decode_bytes_as("b16.bmp", buf, n, IMS_ERR_BAD_IMAGE),
                  "unsupported BMP");
  n = bmp_header(buf, 40, 2, 2, 8, 1, 16);
  ASSERT_CONTAINS(decode_bytes_as("rle.bmp", buf, n, IMS_ERR_BAD_IMAGE),
                  "unsupported BMP");
  n = bmp_header(buf, 64, 2, 2, 24, 0, 80);
  ASSERT_CONTAINS(decode_bytes_as("os2.bmp", buf, n, IMS_ERR_BAD_IMAGE),
                  "unsupported BMP");
  n = bmp_header(buf, 40, 2, 2, 32, 3, 16); /* masks all zero */
  ASSERT_CONTAINS(decode_bytes_as("mask.bmp", buf, n, IMS_ERR_BAD_IMAGE),
                  "masks");
}

TEST(image_malformed_max_pixels) {
  ims_error err;
  ims_decode_options o = {.max_pixels = 1000};
  ims_decoder *dec = NULL;
  ASSERT_OK(ims_decoder_create(&o, &dec, &err), &err);
  ims_image im;
  ASSERT_EQ(ims_decoder_decode_file(dec, shared_path(FLOWER), &im, &err),
            IMS_ERR_TOO_LARGE);
  ASSERT_CONTAINS(err.message, "499x665");
  ASSERT_EQ(ims_decoder_decode_file(
                dec, shared_path("data/images/sunflower.bmp"), &im, &err),
            IMS_ERR_TOO_LARGE);
  ASSERT_CONTAINS(err.message, "512x340");
  /* The decoder still works after failures. */
  o.max_pixels = 0;
  ims_decoder_destroy(dec);
  ASSERT_OK(ims_decoder_create(&o, &dec, &err), &err);
  ASSERT_OK(ims_decoder_decode_file(dec, shared_path(FLOWER), &im, &err),
            &err);
  ims_decoder_destroy(dec);
}

/* After a failed decode the same decoder decodes a good file correctly. */
TEST(image_malformed_decoder_recovers) {
  size_t size = 0;
  unsigned char *jpg = read_shared(FLOWER, &size);
  ims_decoder *dec = NULL;
  ims_error err;
  ASSERT_OK(ims_decoder_create(NULL, &dec, &err), &err);
  ims_image im;
  ASSERT_OK(ims_decoder_decode(dec, jpg, size, &im, &err), &err);
  uint8_t first[64 * 3];
  memcpy(first, im.pixels + 300 * im.stride, sizeof first);
  ASSERT_EQ(ims_decoder_decode(dec, jpg, size / 2, &im, &err),
            IMS_ERR_BAD_IMAGE);
  ASSERT_OK(ims_decoder_decode(dec, jpg, size, &im, &err), &err);
  ASSERT(memcmp(first, im.pixels + 300 * im.stride, sizeof first) == 0);
  ims_decoder_destroy(dec);
  free(jpg);
}

TEST_MAIN(image_malformed_truncated_jpeg, image_malformed_corrupt_jpeg,
          image_malformed_jpeg_bitflips_never_crash,
          image_malformed_empty_and_garbage, image_malformed_missing_file,
          image_malformed_png_header, image_malformed_truncated_png,
          image_malformed_truncated_bmp, image_malformed_bmp_headers,
          image_malformed_max_pixels, image_malformed_decoder_recovers)
