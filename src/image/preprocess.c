/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preprocess.c - ims_preprocessor: torchvision's Resize(256) +
 * CenterCrop(224) on PIL images, computing only the cropped pixels.
 *
 * Resize: the shorter side becomes `resize` and the longer one
 * int(resize * long / short) (torchvision's arithmetic). Pixels follow
 * Pillow's Image.resize(BILINEAR) (libImaging/Resample.c) exactly:
 *   - per output index i: center = (i + 0.5) * scale, with scale = in/out
 *     and filterscale = max(scale, 1); support = filterscale; the window
 *     is [(int)(center - support + 0.5), (int)(center + support + 0.5))
 *     clipped to the input; weights are the triangle filter at
 *     (j - center + 0.5) / filterscale, normalized to sum 1, then turned
 *     into 22-bit fixed point with round-half-away-from-zero;
 *   - sums start at 1 << 21, are shifted right by 22 and clipped to
 *     0..255; the horizontal pass runs first and is rounded to 8 bits,
 *     then the vertical pass runs on its result.
 * Crop: top = round((h - crop_h) / 2), left likewise, with Python's
 * round-half-to-even (torchvision's CenterCrop).
 * (preprocess_int.h has a private IMS__GEOMETRY_ROUNDED mode that rounds the
 * long side and floors the offsets instead, as the shared Arm NN reference
 * tensors do; it changes only those integers, never the resampling.)
 *
 * Only the crop is computed: the horizontal pass covers the crop's columns
 * and just the input rows the crop's output rows read; the vertical pass
 * covers the crop's rows. Each output pixel is the same integer expression
 * as in resize-then-crop, so the result is bit-exact with it.
 *
 * Every coefficient window is widened to the same number of taps (with
 * zero weights, shifted to stay inside the input) so the inner loops have
 * a fixed trip count; adding 0 * pixel changes no sum.
 *
 * Kernels: the portable C passes below run anywhere. On x86-64 (built
 * with GCC or Clang: IMS_HAVE_X86_SIMD, core/cpu_int.h) SSE4.1, AVX2 and
 * AVX-512 kernels (preprocess_x86.c) do the leading part of each row they
 * can, chosen at run time (ims__cpu_has), so the library still runs on
 * any x86-64; this file finishes each row in C. They compute the very
 * same int32 sums, so every path gives the same bytes (see
 * preprocess_x86.c). Section 2 lays the horizontal weights out for them:
 * the crop's output bytes in groups of 4 (16-byte kernels) and blocks of
 * 16 (AVX-512). Groups whose loads would leave the row (crops at the
 * right edge) or whose bytes do not fit the load fall back to narrower
 * kernels and finally to C, one byte at a time, so no load ever reads
 * outside the input row.
 *
 * Memory: coefficient tables are cached per input size (CACHE_SLOTS
 * sizes, round-robin) and the scratch buffers only grow, so a stream of
 * images of a few repeating sizes allocates nothing after warm-up.
 *
 * Sections: 1. coefficient tables  2. SIMD tables  3. portable passes
 * 4. dispatch  5. public functions
 *
 * Threading: a preprocessor belongs to one thread at a time.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu_int.h"
#include "core/error_int.h"
#include "image/codec_int.h"
#include "image/preprocess_int.h"

#define PRECISION_BITS IMS__PRE_PRECISION_BITS /* short names here */
#define GROUP IMS__PRE_GROUP
#define ZBLOCK IMS__PRE_ZBLOCK
#define CACHE_SLOTS 4               /* input sizes whose tables are kept */
#define VBLOCK 32                   /* bytes per vertical-pass block */
#if defined(__GNUC__) || defined(__clang__)
/* GCC vectorizes vertical_block only while vertical()'s `restrict dst`
 * is a real parameter, i.e. not inlined into its caller. */
#define IMS_NOINLINE __attribute__((noinline))
#else
#define IMS_NOINLINE
#endif

/* Resampling weights along one axis, for the crop's outputs only. */
typedef struct axis_table {
  uint32_t taps;  /* weights per output (same for all outputs) */
  ims__buf start; /* uint32_t[count]: first input index per output */
  ims__buf coef;  /* int32_t[count * taps]: fixed-point weights */
} axis_table;

typedef struct cache_slot {
  uint32_t in_w, in_h; /* input size the tables are for; 0 = empty */
  axis_table x;        /* columns left .. left + crop_w - 1 */
  axis_table y;        /* rows top .. top + crop_h - 1 */
  ims__hsimd_table hs; /* x again, for the SIMD kernels */
} cache_slot;

struct ims_preprocessor {
  uint32_t resize;                 /* private: shorter side after resize */
  uint32_t crop_w, crop_h;         /* private: crop size */
  cache_slot cache[CACHE_SLOTS];   /* private: tables per input size */
  unsigned next_slot;              /* private: round-robin victim */
  ims__geometry geometry;          /* private: size/offset convention */
  ims__buf tmp;                    /* private: horizontal pass output */
  ims__buf weights;                /* private: double weights, one window */
  ims__preprocess_path path;       /* private: kernels in use, never AUTO */
};

/* ---- 1. coefficient tables --------------------------------------------- */

static double bilinear(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

/* Pillow's rounding of a normalized weight to fixed point. */
static int32_t to_fixed(double k) {
  double f = k * (1 << PRECISION_BITS);
  return (int32_t)(f < 0 ? f - 0.5 : f + 0.5);
}

/* Weights of output `i` of an in -> out resize into k[0..*len), first
 * input index in *xmin. Pillow's precompute_coeffs, one output at a time. */
static void window(uint32_t in, uint32_t out, uint32_t i, double *k,
                   int *xmin_out, int *len_out) {
  double scale = (double)in / out;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  double support = 1.0 * filterscale;
  double center = (i + 0.5) * scale;
  double ss = 1.0 / filterscale, ww = 0.0;
  int xmin = (int)(center - support + 0.5);
  if (xmin < 0) xmin = 0;
  int xmax = (int)(center + support + 0.5);
  if (xmax > (int)in) xmax = (int)in;
  xmax -= xmin;
  for (int x = 0; x < xmax; x++) {
    k[x] = bilinear((x + xmin - center + 0.5) * ss);
    ww += k[x];
  }
  for (int x = 0; x < xmax; x++)
    if (ww != 0.0) k[x] /= ww;
  *xmin_out = xmin;
  *len_out = xmax;
}

/* Build the table for outputs first .. first + count - 1 of an
 * in -> out resize. Allocates only when the table grows. */
static ims_status build_axis(ims_preprocessor *pre, axis_table *t,
                             uint32_t in, uint32_t out, uint32_t first,
                             uint32_t count, ims_error *err) {
  double scale = (double)in / out;
  double support = scale < 1.0 ? 1.0 : scale;
  uint32_t ksize = (uint32_t)ceil(support) * 2 + 1;
  t->taps = ksize < in ? ksize : in;
  ims_status st = ims__buf_reserve(&t->start, count * sizeof(uint32_t), err);
  if (st == IMS_OK)
    st = ims__buf_reserve(&t->coef,
                          (size_t)count * t->taps * sizeof(int32_t), err);
  if (st == IMS_OK)
    st = ims__buf_reserve(&pre->weights, (ksize + 2) * sizeof(double), err);
  if (st != IMS_OK) return st;
  uint32_t *start = (uint32_t *)(void *)t->start.data;
  int32_t *coef = (int32_t *)(void *)t->coef.data;
  double *k = (double *)(void *)pre->weights.data;
  for (uint32_t i = 0; i < count; i++) {
    int xmin = 0, len = 0;
    window(in, out, first + i, k, &xmin, &len);
    if (len > (int)t->taps) len = (int)t->taps; /* cannot happen */
    int s = xmin < (int)(in - t->taps) ? xmin : (int)(in - t->taps);
    int32_t *c = coef + (size_t)i * t->taps;
    memset(c, 0, t->taps * sizeof *c);
    for (int x = 0; x < len; x++) c[xmin - s + x] = to_fixed(k[x]);
    start[i] = (uint32_t)s;
  }
  return IMS_OK;
}

/* ---- 2. SIMD tables ---------------------------------------------------- */

/* Row byte where output byte b of the crop row starts reading (tap 0). */
static uint32_t byte_src(const uint32_t *start, uint32_t b) {
  return 3 * start[b / 3] + b % 3;
}

/* Do output bytes first .. first + n - 1 all read from byte offsets
 * off .. off + limit of the row (tap 0)? */
static int bytes_fit(const uint32_t *start, uint32_t first, uint32_t n,
                     size_t off, size_t limit) {
  for (uint32_t b = first; b < first + n; b++) {
    size_t src = byte_src(start, b);
    if (src < off || src - off > limit) return 0;
  }
  return 1;
}

/* How many leading groups (16-byte kernels) and blocks (AVX-512) of an
 * nbytes-wide crop row can be done with SIMD: every load inside the row
 * (rowb bytes) and every byte inside its load. Stops at the first miss. */
static void hsimd_counts(ims__hsimd_table *h, const uint32_t *start,
                         uint32_t taps, uint32_t nbytes, size_t rowb) {
  uint32_t ng = nbytes / GROUP, g = 0, b = 0;
  size_t reach = 3 * (size_t)(taps - 1); /* tap j loads 3j bytes later */
  for (; g < ng; g++) {
    size_t off = 3 * (size_t)start[g * GROUP / 3];
    if (off + reach + 16 > rowb) break;
    if (!bytes_fit(start, g * GROUP, GROUP, off, 15)) break;
  }
  h->groups = g;
  for (; b < g / 4 && reach < 64; b++) {
    size_t off = 3 * (size_t)start[b * ZBLOCK / 3];
    if (off + 64 > rowb) break;
    if (!bytes_fit(start, b * ZBLOCK, ZBLOCK, off, 63 - reach)) break;
  }
  h->blocks = b;
}

/* Rearrange the horizontal table `t` (crop row of nbytes output bytes,
 * input rows of rowb bytes) for the x86 kernels. Allocates only when the
 * buffers grow. */
static ims_status build_hsimd(ims__hsimd_table *h, const axis_table *t,
                              uint32_t nbytes, size_t rowb, ims_error *err) {
  const uint32_t *start = (const uint32_t *)(const void *)t->start.data;
  const int32_t *coef = (const int32_t *)(const void *)t->coef.data;
  uint32_t taps = t->taps;
  hsimd_counts(h, start, taps, nbytes, rowb);
  uint32_t ng = h->groups, nb = (ng + 3) / 4;
  ims_status st = ims__buf_reserve(&h->off, ng * sizeof(uint32_t) + 1, err);
  if (st == IMS_OK) st = ims__buf_reserve(&h->ctl, (size_t)ng * 16 + 1, err);
  if (st == IMS_OK)
    st = ims__buf_reserve(&h->coef, (size_t)nb * taps * 64 + 1, err);
  if (st == IMS_OK)
    st = ims__buf_reserve(&h->zctl, (size_t)h->blocks * 64 + 1, err);
  if (st != IMS_OK) return st;
  uint32_t *off = (uint32_t *)(void *)h->off.data;
  int32_t *hc = (int32_t *)(void *)h->coef.data;
  memset(h->ctl.data, 0x80, (size_t)ng * 16);
  memset(hc, 0, (size_t)nb * taps * 64);
  memset(h->zctl.data, 0, (size_t)h->blocks * 64);
  for (uint32_t g = 0; g < ng; g++) {
    off[g] = 3 * start[g * GROUP / 3];
    for (uint32_t i = 0; i < GROUP; i++) {
      uint32_t byte = g * GROUP + i, x = byte / 3;
      h->ctl.data[g * 16 + i * 4] = (uint8_t)(byte_src(start, byte) - off[g]);
      if (g / 4 < h->blocks) /* AVX-512: relative to group 4b's load */
        h->zctl.data[(g / 4) * 64 + (g % 4) * 16 + i * 4] =
            (uint8_t)(byte_src(start, byte) - off[g / 4 * 4]);
      for (uint32_t j = 0; j < taps; j++)
        hc[((size_t)(g / 4) * taps + j) * 16 + (g % 4) * 4 + i] =
            coef[(size_t)x * taps + j];
    }
  }
  return IMS_OK;
}

/* The tables for this input size, from the cache or freshly built into
 * the round-robin victim slot. */
static ims_status lookup(ims_preprocessor *pre, uint32_t in_w, uint32_t in_h,
                         uint32_t out_w, uint32_t out_h, uint32_t left,
                         uint32_t top, cache_slot **slot_out,
                         ims_error *err) {
  for (int i = 0; i < CACHE_SLOTS; i++) {
    if (pre->cache[i].in_w == in_w && pre->cache[i].in_h == in_h) {
      *slot_out = &pre->cache[i];
      return IMS_OK;
    }
  }
  cache_slot *slot = &pre->cache[pre->next_slot];
  pre->next_slot = (pre->next_slot + 1) % CACHE_SLOTS;
  slot->in_w = slot->in_h = 0;
  ims_status st =
      build_axis(pre, &slot->x, in_w, out_w, left, pre->crop_w, err);
  if (st == IMS_OK)
    st = build_axis(pre, &slot->y, in_h, out_h, top, pre->crop_h, err);
  if (st == IMS_OK)
    st = build_hsimd(&slot->hs, &slot->x, 3 * pre->crop_w,
                     3 * (size_t)in_w, err);
  if (st != IMS_OK) return st;
  slot->in_w = in_w;
  slot->in_h = in_h;
  *slot_out = slot;
  return IMS_OK;
}

/* ---- 3. portable passes ------------------------------------------------- */

static inline uint8_t clip8(int32_t v) {
  int32_t s = v >> PRECISION_BITS;
  s = s < 0 ? 0 : s;
  return (uint8_t)(s > 255 ? 255 : s);
}

/* One input row of the horizontal pass. Inlined with a constant `taps`
 * for the common window sizes so the tap loop unrolls completely. */
static inline void horizontal_row(const uint8_t *in, const uint32_t *start,
                                  const int32_t *coef, uint32_t taps,
                                  uint32_t cw, uint8_t *o) {
  for (uint32_t x = 0; x < cw; x++, o += 3) {
    const uint8_t *p = in + (size_t)start[x] * 3;
    const int32_t *k = coef + (size_t)x * taps;
    int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
    for (uint32_t j = 0; j < taps; j++, p += 3) {
      s0 += p[0] * k[j];
      s1 += p[1] * k[j];
      s2 += p[2] * k[j];
    }
    o[0] = clip8(s0);
    o[1] = clip8(s1);
    o[2] = clip8(s2);
  }
}

/* Output bytes b0 .. b1 - 1 of one row, one byte at a time: what the
 * SIMD kernels leave over (crop edges, large shrink factors). */
static void horizontal_bytes(const uint8_t *in, const uint32_t *start,
                             const int32_t *coef, uint32_t taps, uint32_t b0,
                             uint32_t b1, uint8_t *o) {
  for (uint32_t b = b0; b < b1; b++) {
    const uint8_t *p = in + (size_t)start[b / 3] * 3 + b % 3;
    const int32_t *k = coef + (size_t)(b / 3) * taps;
    int32_t s = 1 << (PRECISION_BITS - 1);
    for (uint32_t j = 0; j < taps; j++) s += p[3 * j] * k[j];
    o[b] = clip8(s);
  }
}

/* Portable horizontal pass over input rows row0 .. row0 + rows - 1,
 * crop columns only, into tmp (rows of crop_w RGB pixels). */
static void horizontal_c(const ims_image *src, const axis_table *t,
                         uint32_t row0, uint32_t rows, uint32_t cw,
                         uint8_t *tmp) {
  const uint32_t *start = (const uint32_t *)(const void *)t->start.data;
  const int32_t *coef = (const int32_t *)(const void *)t->coef.data;
  for (uint32_t r = 0; r < rows; r++) {
    const uint8_t *in = src->pixels + (size_t)(row0 + r) * src->stride;
    uint8_t *o = tmp + (size_t)r * cw * 3;
    switch (t->taps) { /* constant taps: shrink factors up to ~3.5 */
      case 3: horizontal_row(in, start, coef, 3, cw, o); break;
      case 5: horizontal_row(in, start, coef, 5, cw, o); break;
      case 7: horizontal_row(in, start, coef, 7, cw, o); break;
      case 9: horizontal_row(in, start, coef, 9, cw, o); break;
      default: horizontal_row(in, start, coef, t->taps, cw, o); break;
    }
  }
}

/* Vertical pass for bytes [i0, i0 + n) of one output row. `n` is a
 * constant (VBLOCK) in the hot call, which lets compilers vectorize the
 * loops and keep the sums in registers even at -O2. */
static inline void vertical_block(const uint8_t *base, const int32_t *k,
                                  uint32_t taps, size_t rowb, size_t i0,
                                  size_t n, uint8_t *restrict dst) {
  int32_t acc[VBLOCK];
  for (size_t i = 0; i < n; i++) acc[i] = 1 << (PRECISION_BITS - 1);
  for (uint32_t j = 0; j < taps; j++) {
    const uint8_t *restrict row = base + j * rowb + i0;
    const int32_t w = k[j];
    for (size_t i = 0; i < n; i++) acc[i] += row[i] * w;
  }
  for (size_t i = 0; i < n; i++) dst[i0 + i] = clip8(acc[i]);
}

/* ---- 4. dispatch ------------------------------------------------------- */

/* Horizontal pass over input rows row0 .. row0 + rows - 1 with `path`. */
static void horizontal(ims__preprocess_path path, const ims_image *src,
                       const cache_slot *slot, uint32_t row0, uint32_t rows,
                       uint32_t cw, uint8_t *tmp) {
  uint32_t g = 0, rowb = 3 * cw;
#ifdef IMS_HAVE_X86_SIMD
  if (path != IMS__PATH_SCALAR)
    g = ims__hpass_x86(path, src, row0, rows, &slot->hs, slot->x.taps,
                       rowb, tmp);
#endif
  if (g == 0) {
    horizontal_c(src, &slot->x, row0, rows, cw, tmp);
    return;
  }
  if (g * GROUP == rowb) return;
  for (uint32_t r = 0; r < rows; r++)
    horizontal_bytes(src->pixels + (size_t)(row0 + r) * src->stride,
                     (const uint32_t *)(const void *)slot->x.start.data,
                     (const int32_t *)(const void *)slot->x.coef.data,
                     slot->x.taps, g * GROUP, rowb, tmp + (size_t)r * rowb);
}

/* Vertical pass: crop_h output rows from tmp (whose first row is input
 * row row0) into dst, rowb bytes per row, with `path`. */
static IMS_NOINLINE void vertical(ims__preprocess_path path,
                                  const uint8_t *tmp, const axis_table *t,
                                  uint32_t row0, uint32_t ch, size_t rowb,
                                  uint8_t *restrict dst) {
  const uint32_t *start = (const uint32_t *)(const void *)t->start.data;
  const int32_t *coef = (const int32_t *)(const void *)t->coef.data;
  for (uint32_t y = 0; y < ch; y++, dst += rowb) {
    const uint8_t *base = tmp + (size_t)(start[y] - row0) * rowb;
    const int32_t *k = coef + (size_t)y * t->taps;
    size_t i = 0;
#ifdef IMS_HAVE_X86_SIMD
    if (path != IMS__PATH_SCALAR)
      i = ims__vrow_x86(path, base, k, t->taps, rowb, dst);
#endif
    for (; i + VBLOCK <= rowb; i += VBLOCK) /* portable C, or the tail */
      vertical_block(base, k, t->taps, rowb, i, VBLOCK, dst);
    if (i < rowb) vertical_block(base, k, t->taps, rowb, i, rowb - i, dst);
  }
}

/* ---- 5. public functions ----------------------------------------------- */

static const char *const path_names[] = {"auto", "scalar", "sse41", "avx2",
                                         "avx512"};

/* Can this build and this CPU run `path`? */
static int path_supported(ims__preprocess_path path) {
  switch (path) {
    case IMS__PATH_SCALAR: return 1;
    case IMS__PATH_SSE41: return ims__cpu_has(IMS__CPU_FOR_SSE41);
    case IMS__PATH_AVX2: return ims__cpu_has(IMS__CPU_FOR_AVX2);
    case IMS__PATH_AVX512: return ims__cpu_has(IMS__CPU_FOR_AVX512_VBMI);
    default: return 0;
  }
}

/* The fastest supported path. */
static ims__preprocess_path best_path(void) {
  for (int p = IMS__PATH_AVX512; p > IMS__PATH_SCALAR; p--)
    if (path_supported((ims__preprocess_path)p))
      return (ims__preprocess_path)p;
  return IMS__PATH_SCALAR;
}

ims_status ims_preprocessor_create(const ims_preprocess_options *options,
                                   ims_preprocessor **out, ims_error *err) {
  if (out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "out is NULL");
  ims_preprocessor *pre = calloc(1, sizeof *pre);
  if (pre == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory (preprocessor)");
  ims_preprocess_options o = {0, 0, 0};
  if (options != NULL) o = *options;
  pre->resize = o.resize != 0 ? o.resize : 256;
  pre->crop_w = o.crop_width != 0 ? o.crop_width : 224;
  pre->crop_h = o.crop_height != 0 ? o.crop_height : 224;
  pre->path = best_path();
  *out = pre;
  return IMS_OK;
}

void ims_preprocessor_destroy(ims_preprocessor *pre) {
  if (pre == NULL) return;
  for (int i = 0; i < CACHE_SLOTS; i++) {
    ims__buf_free(&pre->cache[i].x.start);
    ims__buf_free(&pre->cache[i].x.coef);
    ims__buf_free(&pre->cache[i].y.start);
    ims__buf_free(&pre->cache[i].y.coef);
    ims__buf_free(&pre->cache[i].hs.off);
    ims__buf_free(&pre->cache[i].hs.ctl);
    ims__buf_free(&pre->cache[i].hs.coef);
    ims__buf_free(&pre->cache[i].hs.zctl);
  }
  ims__buf_free(&pre->tmp);
  ims__buf_free(&pre->weights);
  free(pre);
}

/* Python's int(round(d / 2.0)) for d >= 0: round half to even. */
static uint32_t half_round_even(uint32_t d) {
  uint32_t q = d / 2;
  return ((d & 1) && (q & 1)) ? q + 1 : q;
}

void ims__preprocessor_set_geometry(ims_preprocessor *pre, ims__geometry g) {
  pre->geometry = g;
  for (int i = 0; i < CACHE_SLOTS; i++) pre->cache[i].in_w = 0;
}

ims_status ims__preprocessor_set_path(ims_preprocessor *pre,
                                      ims__preprocess_path path,
                                      ims_error *err) {
  if (path == IMS__PATH_AUTO) path = best_path();
  if ((unsigned)path > IMS__PATH_AVX512 || !path_supported(path))
    return ims__fail(err, IMS_ERR_UNSUPPORTED,
                     "preprocess path %d not supported here", (int)path);
  pre->path = path;
  return IMS_OK;
}

const char *ims__preprocess_path_name(const ims_preprocessor *pre) {
  return path_names[pre->path];
}

/* Resized size of a w x h image: torchvision's Resize(int) truncates the
 * long side, IMS__GEOMETRY_ROUNDED rounds it half to even. */
static void resized_size(uint32_t resize, ims__geometry g, uint32_t w,
                         uint32_t h, uint32_t *out_w, uint32_t *out_h) {
  uint32_t s = w <= h ? w : h, l = w <= h ? h : w;
  double lng = (double)((uint64_t)resize * l) / (double)s;
  if (g == IMS__GEOMETRY_ROUNDED) lng = nearbyint(lng);
  uint32_t nl = lng >= 4294967295.0 ? UINT32_MAX : (uint32_t)lng;
  *out_w = w <= h ? resize : nl;
  *out_h = w <= h ? nl : resize;
}

/* Cost: about crop_w * crop_h * 3 * 2 * taps multiply-adds (taps is 5 for a
 * 2x shrink). Allocates only when a new input size misses the cache or
 * needs bigger scratch than before. */
ims_status ims_preprocess(ims_preprocessor *pre, const ims_image *src,
                          uint8_t *dst, ims_error *err) {
  if (pre == NULL || src == NULL || dst == NULL || src->pixels == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "NULL argument");
  if (src->width < 1 || src->height < 1 || src->stride < 3 * src->width)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "bad source image %ux%u (stride %zu)", src->width,
                     src->height, src->stride);
  uint32_t ow = 0, oh = 0;
  resized_size(pre->resize, pre->geometry, src->width, src->height, &ow,
               &oh);
  if (ow < pre->crop_w || oh < pre->crop_h)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "%ux%u resizes to %ux%u, smaller than the %ux%u crop",
                     src->width, src->height, ow, oh, pre->crop_w,
                     pre->crop_h);
  int floor_crop = pre->geometry == IMS__GEOMETRY_ROUNDED;
  uint32_t left = floor_crop ? (ow - pre->crop_w) / 2
                             : half_round_even(ow - pre->crop_w);
  uint32_t top = floor_crop ? (oh - pre->crop_h) / 2
                            : half_round_even(oh - pre->crop_h);
  cache_slot *slot = NULL;
  ims_status st = lookup(pre, src->width, src->height, ow, oh, left, top,
                         &slot, err);
  if (st != IMS_OK) return st;
  const uint32_t *ys = (const uint32_t *)(const void *)slot->y.start.data;
  uint32_t row0 = ys[0], row1 = ys[pre->crop_h - 1] + slot->y.taps;
  size_t rowb = (size_t)pre->crop_w * 3;
  st = ims__buf_reserve(&pre->tmp, (size_t)(row1 - row0) * rowb, err);
  if (st != IMS_OK) return st;
  horizontal(pre->path, src, slot, row0, row1 - row0, pre->crop_w,
             pre->tmp.data);
  vertical(pre->path, pre->tmp.data, &slot->y, row0, pre->crop_h, rowb, dst);
  return IMS_OK;
}
