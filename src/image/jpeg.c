/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jpeg.c - the JPEG backend of ims_decoder, over libjpeg-turbo.
 *
 * Handles baseline and progressive JPEGs in YCbCr, RGB, grayscale, CMYK and
 * YCCK. Output is always 8-bit RGB:
 *   - grayscale is replicated to R=G=B (as PIL's convert('RGB') does);
 *   - CMYK/YCCK follows the Adobe convention (stored inverted, as PIL
 *     assumes for every CMYK JPEG) and is converted with PIL's formula
 *     R = nk - nk*c/255, nk = 255 - k;
 *   - the EXIF orientation (APP1 "Exif", TIFF IFD0 tag 0x0112) is applied,
 *     so the result is upright.
 * Full-size decoding uses libjpeg's defaults (JDCT_ISLOW, fancy
 * upsampling), which is what PIL uses, so pixels are bit-exact with PIL on
 * the same libjpeg-turbo. With ctx->min_short_side, libjpeg's M/8 DCT
 * scaling picks the smallest M that keeps the shorter side >= the hint.
 *
 * Errors never exit(): a custom jpeg_error_mgr longjmp()s back to the decode
 * call. Data ending early is an error ("truncated JPEG data at byte N"), and
 * so are the corrupt-data warnings (bad Huffman code, premature end of a
 * data segment, missing restart marker); harmless warnings (extraneous
 * bytes before a marker, unknown JFIF revision, bad ICC marker) are
 * ignored like PIL does. Progressive files with more than MAX_SCANS scans
 * are refused, which bounds the decode time of hostile files.
 *
 * Not here: format detection, resizing.
 *
 * Sections: 1. error, source and progress managers  2. EXIF orientation
 *           3. pixel output  4. the codec entry points
 *
 * Threading: the state (one jpeg_decompress_struct, created once and reused
 * for every image) belongs to one ims_decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "core/error_int.h"
#include "image/codec_int.h"

#define MAX_SCANS 1000 /* progressive scans allowed per image */

typedef struct jpeg_state {
  struct jpeg_decompress_struct cinfo; /* private: reused for every image */
  struct jpeg_error_mgr jerr;          /* private: longjmp()s on errors */
  struct jpeg_source_mgr src;          /* private: reads ctx->data */
  struct jpeg_progress_mgr progress;   /* private: enforces MAX_SCANS */
  jmp_buf jump;                        /* private: set by jpeg_decode */
  size_t size;                         /* private: bytes of this image */
  ims_status fail_status;              /* private: status of the failure */
  char msg[JMSG_LENGTH_MAX + 64];      /* private: message of the failure */
} jpeg_state;

/* ---- 1. error, source and progress managers ---------------------------- */

static jpeg_state *state_of(j_common_ptr c) {
  return (jpeg_state *)(void *)c; /* cinfo is the first member */
}

/* Bytes consumed so far: the best offset we know for an error. */
static size_t consumed(const jpeg_state *s) {
  return s->size - s->src.bytes_in_buffer;
}

static _Noreturn void fail_jump(jpeg_state *s, ims_status st) {
  s->fail_status = st;
  longjmp(s->jump, 1);
}

static _Noreturn void fail_truncated(jpeg_state *s) {
  snprintf(s->msg, sizeof s->msg, "truncated JPEG data at byte %zu",
           s->size);
  fail_jump(s, IMS_ERR_BAD_IMAGE);
}

static _Noreturn void on_error_exit(j_common_ptr c) {
  jpeg_state *s = state_of(c);
  char text[JMSG_LENGTH_MAX];
  c->err->format_message(c, text);
  snprintf(s->msg, sizeof s->msg, "bad JPEG data at byte %zu: %s",
           consumed(s), text);
  fail_jump(s, IMS_ERR_BAD_IMAGE);
}

/* Warnings (level -1) that mean the pixels would be garbage. */
static int warning_is_fatal(int code) {
  return code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
         code == JWRN_MUST_RESYNC || code == JWRN_JPEG_EOF ||
         code == JWRN_NOT_SEQUENTIAL;
}

static void on_emit_message(j_common_ptr c, int level) {
  jpeg_state *s = state_of(c);
  if (level >= 0 || !warning_is_fatal(c->err->msg_code)) return;
  if (c->err->msg_code == JWRN_JPEG_EOF) fail_truncated(s);
  char text[JMSG_LENGTH_MAX];
  c->err->format_message(c, text);
  snprintf(s->msg, sizeof s->msg, "corrupt JPEG data at byte %zu: %s",
           consumed(s), text);
  fail_jump(s, IMS_ERR_BAD_IMAGE);
}

static void src_init(j_decompress_ptr c) { (void)c; }
static void src_term(j_decompress_ptr c) { (void)c; }

/* All data is in memory from the start, so needing more means the file
 * ended early. */
static boolean src_fill(j_decompress_ptr c) {
  fail_truncated(state_of((j_common_ptr)c));
}

static void src_skip(j_decompress_ptr c, long n) {
  jpeg_state *s = state_of((j_common_ptr)c);
  if (n <= 0) return;
  if ((unsigned long)n > s->src.bytes_in_buffer) fail_truncated(s);
  s->src.next_input_byte += n;
  s->src.bytes_in_buffer -= (size_t)n;
}

static void on_progress(j_common_ptr c) {
  jpeg_state *s = state_of(c);
  if (s->cinfo.input_scan_number <= MAX_SCANS) return;
  snprintf(s->msg, sizeof s->msg, "JPEG has more than %d scans", MAX_SCANS);
  fail_jump(s, IMS_ERR_BAD_IMAGE);
}

/* ---- 2. EXIF orientation ----------------------------------------------- */

static unsigned rd16(const uint8_t *p, int le) {
  return le ? (unsigned)(p[0] | p[1] << 8) : (unsigned)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p, int le) {
  return le ? (uint32_t)rd16(p, 1) | (uint32_t)rd16(p + 2, 1) << 16
            : (uint32_t)rd16(p, 0) << 16 | (uint32_t)rd16(p + 2, 0);
}

/* Orientation 1..8 from a TIFF block (the body of an Exif APP1 after
 * "Exif\0\0"), or 1 when absent or malformed. Every read is bounds-checked
 * against len. */
static int tiff_orientation(const uint8_t *t, size_t len) {
  if (len < 8) return 1;
  int le = t[0] == 'I' && t[1] == 'I';
  if (!le && !(t[0] == 'M' && t[1] == 'M')) return 1;
  if (rd16(t + 2, le) != 42) return 1;
  uint32_t ifd = rd32(t + 4, le);
  if (ifd > len - 2) return 1;
  unsigned count = rd16(t + ifd, le);
  for (unsigned i = 0; i < count; i++) {
    size_t e = (size_t)ifd + 2 + (size_t)i * 12;
    if (e + 12 > len) break;
    if (rd16(t + e, le) != 0x0112) continue;
    if (rd16(t + e + 2, le) != 3 || rd32(t + e + 4, le) < 1) return 1;
    unsigned v = rd16(t + e + 8, le);
    return (v >= 1 && v <= 8) ? (int)v : 1;
  }
  return 1;
}

static int exif_orientation(j_decompress_ptr c) {
  for (jpeg_saved_marker_ptr m = c->marker_list; m != NULL; m = m->next) {
    if (m->marker != JPEG_APP0 + 1 || m->data_length < 6) continue;
    if (memcmp(m->data, "Exif\0\0", 6) != 0) continue;
    return tiff_orientation(m->data + 6, m->data_length - 6);
  }
  return 1;
}

/* For each EXIF orientation: which source corner output pixel (0,0) comes
 * from, and how the source position moves (in pixels, -1/0/+1 along source
 * x and y) when the output x or y increases. */
typedef struct orient {
  int swap;          /* output is h x w */
  int x0, y0;        /* source corner: 0 = first, 1 = last column/row */
  int dxx, dxy;      /* source step in x, y per output x (-1, 0, +1) */
  int dyx, dyy;      /* source step in x, y per output y */
} orient;

static const orient orients[9] = {
    {0, 0, 0, 1, 0, 0, 1},   {0, 0, 0, 1, 0, 0, 1},   /* 0 (unused), 1 */
    {0, 1, 0, -1, 0, 0, 1},  {0, 1, 1, -1, 0, 0, -1}, /* 2 mirror, 3 180 */
    {0, 0, 1, 1, 0, 0, -1},  {1, 0, 0, 0, 1, 1, 0},   /* 4 flip, 5 transp */
    {1, 0, 1, 0, -1, 1, 0},  {1, 1, 1, 0, -1, -1, 0}, /* 6 cw, 7 transv */
    {1, 1, 0, 0, 1, -1, 0},                           /* 8 ccw */
};

/* Copy the w x h RGB image at src (tight rows) into dst, upright. */
static void apply_orientation(const uint8_t *src, uint32_t w, uint32_t h,
                              int orientation, uint8_t *dst) {
  const orient *o = &orients[orientation];
  ptrdiff_t row = (ptrdiff_t)w * 3;
  ptrdiff_t step_x = o->dxx * 3 + o->dxy * row;
  ptrdiff_t step_y = o->dyx * 3 + o->dyy * row;
  const uint8_t *origin =
      src + o->x0 * (ptrdiff_t)(w - 1) * 3 + o->y0 * (ptrdiff_t)(h - 1) * row;
  uint32_t ow = o->swap ? h : w, oh = o->swap ? w : h;
  for (uint32_t y = 0; y < oh; y++) {
    const uint8_t *p = origin + (ptrdiff_t)y * step_y;
    uint8_t *q = dst + (size_t)y * ow * 3;
    for (uint32_t x = 0; x < ow; x++, p += step_x, q += 3) {
      q[0] = p[0];
      q[1] = p[1];
      q[2] = p[2];
    }
  }
}

/* ---- 3. pixel output --------------------------------------------------- */

/* PIL's CMYK -> RGB (Convert.c cmyk2rgb) on Adobe-inverted samples. */
static void cmyk_row_to_rgb(const uint8_t *in, uint8_t *out, uint32_t w) {
  for (uint32_t x = 0; x < w; x++, in += 4, out += 3) {
    int nk = in[3]; /* 255 - k, with k = 255 - stored */
    for (int ch = 0; ch < 3; ch++) {
      int c = 255 - in[ch];
      int t = c * nk + 128;
      int v = nk - (((t >> 8) + t) >> 8);
      out[ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  }
}

/* Read every scanline into `dst` (tight RGB rows); `row` holds one CMYK
 * row when the output is CMYK. */
static void read_rows(j_decompress_ptr c, uint8_t *dst, uint8_t *row) {
  size_t stride = (size_t)c->output_width * 3;
  while (c->output_scanline < c->output_height) {
    uint8_t *out = dst + (size_t)c->output_scanline * stride;
    JSAMPROW target = c->out_color_space == JCS_CMYK ? row : out;
    if (jpeg_read_scanlines(c, &target, 1) != 1) continue;
    if (c->out_color_space == JCS_CMYK)
      cmyk_row_to_rgb(row, out, c->output_width);
  }
}

/* Pick the output colour space and (with a hint) the DCT scale, then
 * compute the output size. Returns 0 for unsupported colour spaces. */
static int configure(j_decompress_ptr c, uint32_t min_short_side) {
  switch (c->jpeg_color_space) {
    case JCS_GRAYSCALE: case JCS_YCbCr: case JCS_RGB:
      c->out_color_space = JCS_RGB;
      break;
    case JCS_CMYK: case JCS_YCCK:
      c->out_color_space = JCS_CMYK;
      break;
    default:
      return 0;
  }
  c->dct_method = JDCT_ISLOW;
  c->do_fancy_upsampling = TRUE;
  c->scale_num = 8;
  c->scale_denom = 8;
  for (unsigned num = 1; min_short_side != 0 && num < 8; num++) {
    c->scale_num = num;
    jpeg_calc_output_dimensions(c);
    JDIMENSION s = c->output_width < c->output_height ? c->output_width
                                                      : c->output_height;
    if (s >= min_short_side) break;
    c->scale_num = 8;
  }
  jpeg_calc_output_dimensions(c);
  return 1;
}

/* ---- 4. the codec entry points ----------------------------------------- */

static _Noreturn void fail_msg(jpeg_state *s, ims_status st,
                               const char *msg) {
  snprintf(s->msg, sizeof s->msg, "%s", msg);
  fail_jump(s, st);
}

static void reserve_or_jump(jpeg_state *s, ims__buf *buf, size_t size) {
  ims_error e;
  if (ims__buf_reserve(buf, size, &e) != IMS_OK)
    fail_msg(s, IMS_ERR_NO_MEMORY, e.message);
}

/* The whole decode; every failure longjmp()s to jpeg_decode. */
static void decode_body(jpeg_state *s, const ims__decode_ctx *ctx,
                        ims_image *out) {
  j_decompress_ptr c = &s->cinfo;
  ims_error e;
  jpeg_read_header(c, TRUE);
  ims_status st =
      ims__check_pixels(ctx, "JPEG", c->image_width, c->image_height, &e);
  if (st != IMS_OK) fail_msg(s, st, e.message);
  if (!configure(c, ctx->min_short_side)) {
    snprintf(s->msg, sizeof s->msg, "unsupported JPEG colour space %d "
             "with %d components", (int)c->jpeg_color_space,
             c->num_components);
    fail_jump(s, IMS_ERR_BAD_IMAGE);
  }
  int orientation = exif_orientation(c);
  uint32_t w = c->output_width, h = c->output_height;
  size_t bytes = (size_t)w * h * 3;
  size_t rotate = orientation == 1 ? 0 : bytes;
  reserve_or_jump(s, ctx->pixels, bytes);
  reserve_or_jump(s, ctx->scratch, rotate + (size_t)w * 4);
  uint8_t *target = orientation == 1 ? ctx->pixels->data : ctx->scratch->data;
  jpeg_start_decompress(c);
  read_rows(c, target, ctx->scratch->data + rotate);
  jpeg_finish_decompress(c);
  if (orientation != 1)
    apply_orientation(target, w, h, orientation, ctx->pixels->data);
  int swap = orients[orientation].swap;
  out->width = swap ? h : w;
  out->height = swap ? w : h;
  out->stride = (size_t)out->width * 3;
  out->pixels = ctx->pixels->data;
}

static ims_status jpeg_decode(void *state, const ims__decode_ctx *ctx,
                              ims_image *image_out, ims_error *err) {
  jpeg_state *s = state;
  s->size = ctx->size;
  s->src.next_input_byte = ctx->data;
  s->src.bytes_in_buffer = ctx->size;
  s->fail_status = IMS_ERR_BAD_IMAGE;
  if (setjmp(s->jump) != 0) goto fail;
  decode_body(s, ctx, image_out);
  return IMS_OK;
fail:
  jpeg_abort_decompress(&s->cinfo);
  return ims__fail(err, s->fail_status, "%s", s->msg);
}

static void jpeg_destroy_state(void *state) {
  jpeg_state *s = state;
  if (s == NULL) return;
  jpeg_destroy_decompress(&s->cinfo);
  free(s);
}

static ims_status jpeg_create_state(void **state_out) {
  jpeg_state *s = calloc(1, sizeof *s);
  if (s == NULL) return IMS_ERR_NO_MEMORY;
  s->cinfo.err = jpeg_std_error(&s->jerr);
  s->jerr.error_exit = on_error_exit;
  s->jerr.emit_message = on_emit_message;
  if (setjmp(s->jump) != 0) goto fail;
  jpeg_create_decompress(&s->cinfo);
  s->src.init_source = src_init;
  s->src.fill_input_buffer = src_fill;
  s->src.skip_input_data = src_skip;
  s->src.resync_to_restart = jpeg_resync_to_restart;
  s->src.term_source = src_term;
  s->cinfo.src = &s->src;
  s->progress.progress_monitor = on_progress;
  s->cinfo.progress = &s->progress;
  jpeg_save_markers(&s->cinfo, JPEG_APP0 + 1, 0xFFFF);
  *state_out = s;
  return IMS_OK;
fail:
  jpeg_destroy_decompress(&s->cinfo);
  free(s);
  return IMS_ERR_NO_MEMORY;
}

const ims__codec ims__codec_jpeg = {
    .name = "JPEG",
    .create = jpeg_create_state,
    .destroy = jpeg_destroy_state,
    .decode = jpeg_decode,
};
