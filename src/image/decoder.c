/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decoder.c - ims_decoder: format detection and the public decode calls.
 *
 * The format is detected from the first bytes (JPEG FF D8 FF, the 8-byte
 * PNG signature, BMP "BM"), never from a file name, and the matching
 * backend (jpeg.c, png.c, bmp.c, behind ims__codec) does the work. For
 * anything else the message says what the data looks like (text, GIF,
 * WebP, ...), so a user who fed the wrong file sees why at once.
 *
 * Not here: pixel formats and their quirks (the backends), resizing
 * (preprocess.c).
 *
 * Memory: the decoder owns three grow-only buffers - the encoded file
 * (decode_file), the RGB result and a backend scratch buffer - so a stream
 * of similar images allocates nothing of ours after warm-up. (libjpeg and
 * libspng still use their own allocators internally.)
 *
 * Sections: 1. grow-only buffers  2. format sniffing  3. file reading
 *           4. public ims_decoder_* functions
 *
 * Threading: a decoder belongs to one thread at a time.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error_int.h"
#include "core/file_int.h"
#include "image/codec_int.h"

enum { CODEC_JPEG, CODEC_PNG, CODEC_BMP, CODEC_COUNT };

static const ims__codec *const codecs[CODEC_COUNT] = {
    &ims__codec_jpeg, &ims__codec_png, &ims__codec_bmp};

struct ims_decoder {
  ims_decode_options options;  /* private: copied at create, defaults set */
  void *state[CODEC_COUNT];    /* private: per-backend state, lazily made */
  ims__buf file;               /* private: encoded bytes of decode_file */
  ims__buf pixels;             /* private: the RGB result (ims_image) */
  ims__buf scratch;            /* private: backend scratch space */
};

/* ---- 1. grow-only buffers ---------------------------------------------- */

ims_status ims__buf_reserve(ims__buf *buf, size_t size, ims_error *err) {
  if (size <= buf->cap) return IMS_OK;
  uint8_t *grown = malloc(size);
  if (grown == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY,
                     "out of memory allocating %zu bytes", size);
  free(buf->data);
  buf->data = grown;
  buf->cap = size;
  return IMS_OK;
}

void ims__buf_free(ims__buf *buf) {
  free(buf->data);
  buf->data = NULL;
  buf->cap = 0;
}

ims_status ims__check_pixels(const ims__decode_ctx *ctx, const char *format,
                             uint64_t width, uint64_t height,
                             ims_error *err) {
  if (width == 0 || height == 0)
    return ims__fail(err, IMS_ERR_BAD_IMAGE, "%s header claims %llux%llu "
                     "pixels", format, (unsigned long long)width,
                     (unsigned long long)height);
  /* Both are below 2^32, so the product cannot overflow 64 bits. */
  if (width * height > ctx->max_pixels)
    return ims__fail(err, IMS_ERR_TOO_LARGE,
                     "%s is %llux%llu pixels, more than the limit of %llu",
                     format, (unsigned long long)width,
                     (unsigned long long)height,
                     (unsigned long long)ctx->max_pixels);
  return IMS_OK;
}

/* ---- 2. format sniffing ------------------------------------------------ */

static int detect(const uint8_t *p, size_t n) {
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A,
                                     0x1A, 0x0A};
  if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
    return CODEC_JPEG;
  if (n >= 8 && memcmp(p, png_sig, 8) == 0) return CODEC_PNG;
  if (n >= 2 && p[0] == 'B' && p[1] == 'M') return CODEC_BMP;
  return -1;
}

/* Name a few formats we do not decode, for the error message. */
static const char *other_format(const uint8_t *p, size_t n) {
  if (n >= 4 && memcmp(p, "GIF8", 4) == 0) return "a GIF image";
  if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
    return "a WebP image";
  if (n >= 4 && (memcmp(p, "II*\0", 4) == 0 || memcmp(p, "MM\0*", 4) == 0))
    return "a TIFF image";
  if (n >= 12 && memcmp(p + 4, "ftyp", 4) == 0)
    return "an ISO media file (HEIF/AVIF/MP4)";
  if (n >= 4 && memcmp(p, "%PDF", 4) == 0) return "a PDF document";
  if (n >= 2 && p[0] == 0x1F && p[1] == 0x8B) return "gzip data";
  if (n >= 4 && memcmp(p, "PK\3\4", 4) == 0) return "a ZIP archive";
  if (n >= 2 && p[0] == 0xFF && p[1] == 0xD8)
    return "a JPEG start marker without a following segment";
  return NULL;
}

/* True if the first bytes are printable ASCII/UTF-8 text. */
static int looks_like_text(const uint8_t *p, size_t n) {
  size_t check = n < 256 ? n : 256;
  for (size_t i = 0; i < check; i++) {
    uint8_t c = p[i];
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') return 0;
    if (c == 0x7F) return 0;
  }
  return 1;
}

static ims_status unknown_format(const uint8_t *p, size_t n,
                                 ims_error *err) {
  const char *what = other_format(p, n);
  if (what != NULL)
    return ims__fail(err, IMS_ERR_BAD_IMAGE,
                     "not a JPEG, PNG or BMP image (looks like %s)", what);
  if (looks_like_text(p, n)) {
    char snippet[33];
    size_t len = n < 32 ? n : 32;
    for (size_t i = 0; i < len; i++)
      snippet[i] = (p[i] < 0x20 || p[i] >= 0x7F) ? '.' : (char)p[i];
    snippet[len] = '\0';
    return ims__fail(err, IMS_ERR_BAD_IMAGE,
                     "not a JPEG, PNG or BMP image (looks like text: "
                     "\"%s%s\")", snippet, n > 32 ? "..." : "");
  }
  unsigned b[4] = {0, 0, 0, 0};
  for (size_t i = 0; i < 4 && i < n; i++) b[i] = p[i];
  return ims__fail(err, IMS_ERR_BAD_IMAGE,
                   "not a JPEG, PNG or BMP image (starts with bytes "
                   "%02X %02X %02X %02X)", b[0], b[1], b[2], b[3]);
}

/* ---- 3. file reading --------------------------------------------------- */

/* Read `path` into dec->file (grow-only; no allocation once big enough).
 * Messages start with the path. */
static ims_status read_file(ims_decoder *dec, const char *path, size_t max_size,
                            size_t *size_out, ims_error *err) {
  size_t len = 0;
  uint64_t file_size = 0;
  int fd = -1;
  /* Regular files only: a FIFO named *.jpg hung the worker here. */
  ims_status st = ims__file_open_regular(path, &fd, &file_size, err);
  if (st != IMS_OK) return st;
  if (file_size > max_size) {
    st = ims__fail(err, IMS_ERR_TOO_LARGE,
                   "%s: file of %llu bytes, larger "
                   "than the limit of %zu bytes (max_file_bytes)",
                   path, (unsigned long long)file_size, max_size);
    goto fail;
  }
  for (;;) {
    size_t want = (size_t)file_size + 1;
    if (dec->file.cap < want || len == dec->file.cap) {
      size_t cap = want > 2 * len ? want : 2 * len;
      uint8_t *grown = realloc(dec->file.data, cap);
      if (grown == NULL) {
        st = ims__fail(err, IMS_ERR_NO_MEMORY, "%s: out of memory", path);
        goto fail;
      }
      dec->file.data = grown;
      dec->file.cap = cap;
    }
    ssize_t n = read(fd, dec->file.data + len, dec->file.cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st = ims__fail(err, IMS_ERR_IO, "%s: read: %s", path, strerror(errno));
      goto fail;
    }
    if (n == 0) break;
    len += (size_t)n;
    if (len > max_size) {
      st = ims__fail(err, IMS_ERR_TOO_LARGE,
                     "%s: file larger than the limit "
                     "of %zu bytes (max_file_bytes)",
                     path, max_size);
      goto fail;
    }
  }
  *size_out = len;
fail:
  close(fd);
  return st;
}

/* ---- 4. public functions ----------------------------------------------- */

ims_status ims_decoder_create(const ims_decode_options *options,
                              ims_decoder **decoder_out, ims_error *err) {
  if (decoder_out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "decoder_out is NULL");
  ims_decoder *dec = calloc(1, sizeof *dec);
  if (dec == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory (decoder)");
  if (options != NULL) dec->options = *options;
  if (dec->options.max_pixels == 0)
    dec->options.max_pixels = IMS_DEFAULT_MAX_PIXELS;
  if (dec->options.max_file_bytes == 0) {
    /* Compressed data is never larger than ~4 bytes/pixel plus headers. */
    uint64_t px = dec->options.max_pixels;
    dec->options.max_file_bytes =
        px > (UINT64_MAX >> 3) ? UINT64_MAX / 2 : px * 4u + (1u << 20);
  }
  *decoder_out = dec;
  return IMS_OK;
}

void ims_decoder_destroy(ims_decoder *decoder) {
  if (decoder == NULL) return;
  for (int i = 0; i < CODEC_COUNT; i++)
    if (decoder->state[i] != NULL) codecs[i]->destroy(decoder->state[i]);
  ims__buf_free(&decoder->file);
  ims__buf_free(&decoder->pixels);
  ims__buf_free(&decoder->scratch);
  free(decoder);
}

/* Cost: one decode of the image; allocates only when this image needs a
 * bigger buffer than any before it (plus the codec libraries' own use). */
ims_status ims_decoder_decode(ims_decoder *decoder, const void *data,
                              size_t size, ims_image *image_out,
                              ims_error *err) {
  if (decoder == NULL || image_out == NULL || (data == NULL && size > 0))
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "decoder, data or image_out is NULL");
  if (size == 0)
    return ims__fail(err, IMS_ERR_BAD_IMAGE, "empty file (0 bytes)");
  if (size > decoder->options.max_file_bytes)
    return ims__fail(err, IMS_ERR_TOO_LARGE,
                     "%zu bytes of encoded image, more than the limit of "
                     "%llu (max_file_bytes)",
                     size, (unsigned long long)decoder->options.max_file_bytes);
  int which = detect(data, size);
  if (which < 0) return unknown_format(data, size, err);
  const ims__codec *codec = codecs[which];
  if (decoder->state[which] == NULL && codec->create != NULL) {
    ims_status st = codec->create(&decoder->state[which]);
    if (st != IMS_OK)
      return ims__fail(err, st, "out of memory (%s decoder)", codec->name);
  }
  ims__decode_ctx ctx = {
      .data = data,
      .size = size,
      .max_pixels = decoder->options.max_pixels,
      .min_short_side = decoder->options.min_short_side,
      .pixels = &decoder->pixels,
      .scratch = &decoder->scratch,
  };
  ims_image img;
  ims_status st = codec->decode(decoder->state[which], &ctx, &img, err);
  if (st == IMS_OK) *image_out = img;
  return st;
}

ims_status ims_decoder_decode_file(ims_decoder *decoder, const char *path,
                                   ims_image *image_out, ims_error *err) {
  if (decoder == NULL || path == NULL || image_out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "decoder, path or image_out is NULL");
  uint64_t limit64 = decoder->options.max_file_bytes;
  size_t limit = limit64 > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)limit64;
  size_t size = 0;
  ims_status st = read_file(decoder, path, limit, &size, err);
  if (st != IMS_OK) return st;
  ims_error inner;
  st = ims_decoder_decode(decoder, decoder->file.data, size, image_out,
                          err != NULL ? &inner : NULL);
  if (st != IMS_OK && err != NULL)
    ims__fail(err, st, "%s: %s", path, inner.message);
  return st;
}
