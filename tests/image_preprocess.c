/* SPDX-License-Identifier: Apache-2.0 */
/*
 * image_preprocess.c - resize + center crop on synthetic images whose
 * results are known by construction, and the crop-only computation checked
 * against a plain full resize followed by a crop (written here directly
 * from Pillow's algorithm, without tables or window tricks), and every
 * SIMD kernel path against the portable C path on random images.
 */
#include <math.h>

#include "image/preprocess_int.h"
#include "support/image_fixtures.h"
#include "imgstream/image.h"
#include "test.h"

static ims_preprocessor *new_pre(unsigned resize, unsigned cw, unsigned ch) {
  ims_error err;
  ims_preprocess_options o = {resize, cw, ch};
  ims_preprocessor *p = NULL;
  ASSERT_OK(ims_preprocessor_create(&o, &p, &err), &err);
  return p;
}

/* When the short side already equals `resize` the resize is the identity,
 * so the output is exactly the crop at torchvision's offsets. */
TEST(image_preprocess_identity_crop) {
  enum { W = 256, H = 301 };
  static uint8_t img[W * H * 3], out[224 * 224 * 3];
  fx_random(img, sizeof img, 1);
  ims_preprocessor *pre = new_pre(0, 0, 0);
  ims_error err;
  ims_image im = {W, H, W * 3, img};
  ASSERT_OK(ims_preprocess(pre, &im, out, &err), &err);
  /* (301 - 224) / 2 = 38.5 -> 38 (half to even); (256 - 224) / 2 = 16. */
  for (int y = 0; y < 224; y++)
    ASSERT(memcmp(out + y * 224 * 3, img + ((y + 38) * W + 16) * 3,
                  224 * 3) == 0);
  /* Landscape 303 x 256 with a padded stride: left = 39.5 -> 40. */
  static uint8_t wide[256 * 1000];
  fx_random(wide, sizeof wide, 2);
  ims_image im2 = {303, 256, 1000, wide};
  ASSERT_OK(ims_preprocess(pre, &im2, out, &err), &err);
  for (int y = 0; y < 224; y++)
    ASSERT(memcmp(out + y * 224 * 3, wide + (y + 16) * 1000 + 40 * 3,
                  224 * 3) == 0);
  ims_preprocessor_destroy(pre);
}

/* A flat image stays flat at any scale (fixed-point weights sum to
 * 1 +- a few units in 2^22, which cannot move a value by 1). */
TEST(image_preprocess_flat_stays_flat) {
  static const unsigned sizes[][2] = {
      {499, 665}, {1280, 720}, {224, 224}, {100, 37}, {3000, 2000}};
  static uint8_t img[3000 * 2000 * 3], out[224 * 224 * 3];
  ims_preprocessor *pre = new_pre(0, 0, 0);
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    unsigned w = sizes[s][0], h = sizes[s][1];
    for (size_t i = 0; i < (size_t)w * h; i++) {
      img[i * 3] = 17;
      img[i * 3 + 1] = 130;
      img[i * 3 + 2] = 250;
    }
    ims_error err;
    ims_image im = {w, h, (size_t)w * 3, img};
    ASSERT_OK(ims_preprocess(pre, &im, out, &err), &err);
    for (int i = 0; i < 224 * 224; i++) {
      ASSERT_EQ(out[i * 3], 17);
      ASSERT_EQ(out[i * 3 + 1], 130);
      ASSERT_EQ(out[i * 3 + 2], 250);
    }
  }
  ims_preprocessor_destroy(pre);
}

/* Pillow's coefficients for one axis, plainly: per output, its window
 * start, length and 22-bit weights (up to kmax). */
static void naive_coeffs(unsigned in, unsigned out, int *xmin, int *len,
                         int32_t *k, int kmax) {
  double scale = (double)in / out, fs = scale < 1 ? 1 : scale;
  for (unsigned i = 0; i < out; i++) {
    double center = (i + 0.5) * scale, w[4096], sum = 0;
    int lo = (int)(center - fs + 0.5), hi = (int)(center + fs + 0.5);
    if (lo < 0) lo = 0;
    if (hi > (int)in) hi = (int)in;
    ASSERT(hi - lo <= kmax);
    for (int x = lo; x < hi; x++) {
      double t = fabs((x - center + 0.5) / fs);
      w[x - lo] = t < 1 ? 1 - t : 0;
      sum += w[x - lo];
    }
    for (int x = 0; x < hi - lo; x++) {
      double f = w[x] / sum * (1 << 22);
      k[i * kmax + x] = (int32_t)(f < 0 ? f - 0.5 : f + 0.5);
    }
    xmin[i] = lo;
    len[i] = hi - lo;
  }
}

static uint8_t clip(int32_t v) {
  v >>= 22;
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Full resize (torchvision size), then crop (torchvision offsets). */
static void naive_preprocess(const uint8_t *img, unsigned w, unsigned h,
                             unsigned resize, unsigned cw, unsigned ch,
                             uint8_t *out) {
  unsigned s = w <= h ? w : h, l = w <= h ? h : w;
  unsigned nl = (unsigned)((double)resize * l / s);
  unsigned ow = w <= h ? resize : nl, oh = w <= h ? nl : resize;
  int kx = 2 * (int)ceil(w > ow ? (double)w / ow : 1) + 1;
  int ky = 2 * (int)ceil(h > oh ? (double)h / oh : 1) + 1;
  int *xmin = malloc(ow * sizeof(int)), *xlen = malloc(ow * sizeof(int));
  int *ymin = malloc(oh * sizeof(int)), *ylen = malloc(oh * sizeof(int));
  int32_t *wx = malloc((size_t)ow * kx * 4), *wy = malloc((size_t)oh * ky * 4);
  uint8_t *tmp = malloc((size_t)ow * h * 3);
  uint8_t *full = malloc((size_t)ow * oh * 3);
  naive_coeffs(w, ow, xmin, xlen, wx, kx);
  naive_coeffs(h, oh, ymin, ylen, wy, ky);
  for (unsigned y = 0; y < h; y++)
    for (unsigned x = 0; x < ow; x++)
      for (int c = 0; c < 3; c++) {
        int32_t acc = 1 << 21;
        for (int j = 0; j < xlen[x]; j++)
          acc += img[((size_t)y * w + xmin[x] + j) * 3 + c] * wx[x * kx + j];
        tmp[((size_t)y * ow + x) * 3 + c] = clip(acc);
      }
  for (unsigned y = 0; y < oh; y++)
    for (unsigned x = 0; x < ow * 3; x++) {
      int32_t acc = 1 << 21;
      for (int j = 0; j < ylen[y]; j++)
        acc += tmp[(size_t)(ymin[y] + j) * ow * 3 + x] * wy[y * ky + j];
      full[(size_t)y * ow * 3 + x] = clip(acc);
    }
  unsigned top = (unsigned)nearbyint((oh - ch) / 2.0);
  unsigned left = (unsigned)nearbyint((ow - cw) / 2.0);
  for (unsigned y = 0; y < ch; y++)
    memcpy(out + (size_t)y * cw * 3, full + ((size_t)(y + top) * ow + left) * 3,
           (size_t)cw * 3);
  free(xmin), free(xlen), free(ymin), free(ylen);
  free(wx), free(wy), free(tmp), free(full);
}

TEST(image_preprocess_crop_only_matches_full_resize) {
  static const unsigned cases[][5] = {
      /* w, h, resize, crop w, crop h */
      {499, 665, 256, 224, 224}, {665, 499, 256, 224, 224},
      {1280, 720, 256, 224, 224}, {257, 256, 256, 224, 224},
      {1000, 300, 256, 224, 224}, {2000, 1999, 256, 224, 224},
      {7, 5, 32, 20, 24},        {5, 7, 31, 31, 31},
      {1, 1, 16, 16, 16},        {333, 3, 9, 9, 9}};
  ims_preprocessor *pre[sizeof cases / sizeof cases[0]];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const unsigned *c = cases[i];
    size_t n = (size_t)c[0] * c[1] * 3, m = (size_t)c[3] * c[4] * 3;
    uint8_t *img = malloc(n), *got = malloc(m), *want = malloc(m);
    fx_random(img, n, (uint32_t)i + 100);
    pre[i] = new_pre(c[2], c[3], c[4]);
    ims_error err;
    ims_image im = {c[0], c[1], (size_t)c[0] * 3, img};
    ASSERT_OK(ims_preprocess(pre[i], &im, got, &err), &err);
    naive_preprocess(img, c[0], c[1], c[2], c[3], c[4], want);
    for (size_t b = 0; b < m; b++)
      if (got[b] != want[b])
        TEST__FAIL("%ux%u: byte %zu is %d, full resize + crop gives %d",
                   c[0], c[1], b, got[b], want[b]);
    /* Same again through the coefficient cache. */
    memset(got, 0, m);
    ASSERT_OK(ims_preprocess(pre[i], &im, got, &err), &err);
    ASSERT(memcmp(got, want, m) == 0);
    free(img), free(got), free(want);
    ims_preprocessor_destroy(pre[i]);
  }
}

/* More input sizes than cache slots, cycling: results never depend on
 * what the cache held before. */
TEST(image_preprocess_cache_cycling) {
  static const unsigned sizes[][2] = {
      {499, 665}, {665, 499}, {300, 400}, {640, 480}, {256, 256}, {800, 333}};
  enum { NS = sizeof sizes / sizeof sizes[0] };
  static uint8_t img[800 * 665 * 3], first[NS][224 * 224 * 3],
      again[224 * 224 * 3];
  fx_random(img, sizeof img, 9);
  ims_preprocessor *pre = new_pre(0, 0, 0);
  ims_error err;
  for (int round = 0; round < 3; round++)
    for (int s = 0; s < NS; s++) {
      ims_image im = {sizes[s][0], sizes[s][1], (size_t)sizes[s][0] * 3, img};
      ASSERT_OK(ims_preprocess(pre, &im, round ? again : first[s], &err),
                &err);
      if (round) ASSERT(memcmp(again, first[s], sizeof again) == 0);
    }
  ims_preprocessor_destroy(pre);
}

/* xorshift32: the random test's own generator, so cases are repeatable. */
static uint32_t rnd(uint32_t *state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *state = x;
}

/* Random image of w x h with `pad` spare bytes per row, in a buffer of
 * exactly stride * h bytes (so ASan sees any read past the last row).
 * Content: noise, extremes (0/255 stripes) or a smooth ramp. */
static uint8_t *random_image(uint32_t *seed, unsigned w, unsigned h,
                             size_t stride) {
  uint8_t *img = malloc(stride * h);
  ASSERT(img != NULL);
  unsigned kind = rnd(seed) % 3;
  fx_random(img, stride * h, rnd(seed));
  for (size_t i = 0; i < stride * h; i++) {
    if (kind == 1) img[i] = (img[i] & 1) ? 255 : 0;
    if (kind == 2) img[i] = (uint8_t)((i / 3 + i % 3 * 40) & 255);
  }
  return img;
}

/* Every kernel path (SSE4.1, AVX2, AVX-512, where this CPU has them) must
 * give the same bytes as the portable C path - and both as the plain full
 * resize + crop - on random sizes, contents, strides, resize targets and
 * crops: upscaling, 1-pixel-wide and 1-pixel-tall images, crops that
 * touch the right and bottom edges (so a load past the end of the last
 * row would be seen by ASan; SIMD loads there fall back to C) and large
 * shrink factors (windows wider than the SIMD loads). */
TEST(image_preprocess_simd_matches_scalar) {
  uint32_t seed = 12345;
  int compared = 0, paths_seen = 0, plain_checked = 0;
  for (int iter = 0; iter < 400; iter++) {
    unsigned w = 1 + rnd(&seed) % (iter % 4 == 0 ? 8 : 700);
    unsigned h = 1 + rnd(&seed) % (iter % 8 == 1 ? 3 : 700);
    if (iter % 16 == 3) w = 1;
    if (iter % 32 == 5) { /* shrink factors far beyond the SIMD window */
      w = 1800 + rnd(&seed) % 2000;
      h = 1 + h % 64;
    }
    unsigned r = 1 + rnd(&seed) % (iter % 4 == 2 ? 40 : 300);
    unsigned cw = iter % 3 == 0 ? r : 1 + rnd(&seed) % r;
    unsigned ch = iter % 5 == 0 ? r : 1 + rnd(&seed) % r;
    if (iter % 4 == 1) { /* the crop is the whole resized image */
      h = w;
      cw = ch = r;
    }
    size_t stride = (size_t)w * 3 + (rnd(&seed) % 4 == 0 ? rnd(&seed) % 9 : 0);
    uint8_t *img = random_image(&seed, w, h, stride);
    size_t m = (size_t)cw * ch * 3;
    uint8_t *want = malloc(m), *got = malloc(m), *plain = malloc(m);
    ims_image im = {w, h, stride, img};
    ims_error err;
    ims_preprocessor *pre = new_pre(r, cw, ch);
    ASSERT_OK(ims__preprocessor_set_path(pre, IMS__PATH_SCALAR, &err), &err);
    ASSERT_OK(ims_preprocess(pre, &im, want, &err), &err);
    unsigned lng = (unsigned)((double)r * (w > h ? w : h) / (w < h ? w : h));
    if (stride == (size_t)w * 3 && w <= 2000 && (size_t)r * lng <= 200000) {
      naive_preprocess(img, w, h, r, cw, ch, plain);
      ASSERT(memcmp(plain, want, m) == 0);
      plain_checked++;
    }
    for (int p = IMS__PATH_SSE41; p <= IMS__PATH_AVX512; p++) {
      if (ims__preprocessor_set_path(pre, (ims__preprocess_path)p, &err) !=
          IMS_OK)
        continue;
      paths_seen |= 1 << p;
      memset(got, 0xAA, m);
      ASSERT_OK(ims_preprocess(pre, &im, got, &err), &err);
      for (size_t b = 0; b < m; b++)
        if (got[b] != want[b])
          TEST__FAIL("%ux%u (stride %zu) -> %u, crop %ux%u, path %s: byte "
                     "%zu is %d, portable C gives %d", w, h, stride, r, cw,
                     ch, ims__preprocess_path_name(pre), b, got[b], want[b]);
      compared++;
    }
    ims_preprocessor_destroy(pre);
    free(img), free(want), free(got), free(plain);
  }
  fprintf(stderr, "  %d SIMD runs compared, %d cases also vs plain resize "
          "(paths seen: %s%s%s)\n", compared, plain_checked,
          paths_seen & (1 << IMS__PATH_SSE41) ? "sse41 " : "",
          paths_seen & (1 << IMS__PATH_AVX2) ? "avx2 " : "",
          paths_seen & (1 << IMS__PATH_AVX512) ? "avx512" : "");
}

/* Forcing a path this CPU or build lacks fails and changes nothing. */
TEST(image_preprocess_path_switch) {
  ims_preprocessor *pre = new_pre(0, 0, 0);
  ims_error err;
  ASSERT_OK(ims__preprocessor_set_path(pre, IMS__PATH_SCALAR, &err), &err);
  ASSERT_STR_EQ(ims__preprocess_path_name(pre), "scalar");
  ASSERT_EQ(ims__preprocessor_set_path(pre, (ims__preprocess_path)99, &err),
            IMS_ERR_UNSUPPORTED);
  ASSERT_STR_EQ(ims__preprocess_path_name(pre), "scalar");
  ASSERT_OK(ims__preprocessor_set_path(pre, IMS__PATH_AUTO, &err), &err);
  ASSERT(strcmp(ims__preprocess_path_name(pre), "auto") != 0);
  ims_preprocessor_destroy(pre);
}

TEST(image_preprocess_bad_args) {
  ims_preprocessor *pre = new_pre(0, 0, 0);
  static uint8_t img[300 * 300 * 3], out[224 * 224 * 3];
  ims_error err;
  ims_image tiny = {0, 10, 0, img};
  ASSERT_EQ(ims_preprocess(pre, &tiny, out, &err), IMS_ERR_INVALID_ARG);
  ims_image ok = {300, 300, 900, img};
  ASSERT_EQ(ims_preprocess(pre, &ok, NULL, &err), IMS_ERR_INVALID_ARG);
  ims_image nopix = {300, 300, 900, NULL};
  ASSERT_EQ(ims_preprocess(pre, &nopix, out, &err), IMS_ERR_INVALID_ARG);
  ims_preprocessor_destroy(pre);
  /* Resize 200 < crop 224. */
  pre = new_pre(200, 0, 0);
  ASSERT_EQ(ims_preprocess(pre, &ok, out, &err), IMS_ERR_INVALID_ARG);
  ASSERT_CONTAINS(err.message, "smaller than the 224x224 crop");
  ims_preprocessor_destroy(pre);
  ims_preprocessor_destroy(NULL);
}

TEST_MAIN(image_preprocess_identity_crop, image_preprocess_flat_stays_flat,
          image_preprocess_crop_only_matches_full_resize,
          image_preprocess_cache_cycling, image_preprocess_simd_matches_scalar,
          image_preprocess_path_switch, image_preprocess_bad_args)
