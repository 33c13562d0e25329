/* SPDX-License-Identifier: Apache-2.0 */
/*
 * image.h - decoding image files to RGB and preprocessing them the way the
 * user's torchvision pipeline does (shorter side to 256, center crop 224).
 *
 * Formats: JPEG (libjpeg-turbo: baseline, progressive, grayscale, CMYK/YCCK,
 * EXIF orientation applied), PNG (libspng: palette, gray, alpha dropped,
 * 16-bit), BMP (24/32-bit, bottom-up and top-down). The format is detected
 * from the first bytes, never from the file name.
 *
 * Lifecycle: ims_decoder_create -> ims_decoder_decode (repeatable) ->
 * ims_decoder_destroy. A decoder keeps its pixel buffer between calls, so
 * decoding a stream of similar images allocates nothing after the first.
 * Same for ims_preprocessor.
 *
 * Threading: a decoder or preprocessor belongs to one thread at a time;
 * different objects may be used from different threads concurrently.
 */
#ifndef IMGSTREAM_IMAGE_H
#define IMGSTREAM_IMAGE_H

#include "imgstream/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A decoded image: 8-bit RGB, interleaved, rows `stride` bytes apart. */
typedef struct ims_image {
  uint32_t width;  /* output: pixels per row */
  uint32_t height; /* output: rows */
  size_t stride;   /* output: bytes from one row to the next (>= 3*width) */
  uint8_t *pixels; /* output: BORROWED from the decoder; valid until the
                      decoder's next decode call or its destruction */
} ims_image;

#define IMS_DEFAULT_MAX_PIXELS 100000000u /* 100 megapixels */

/* Options of ims_decoder_create. Zero-initialize, then set what you need. */
typedef struct ims_decode_options {
  uint64_t max_pixels;     /* input: width*height limit, checked from the
                              header before any large allocation;
                              0 = IMS_DEFAULT_MAX_PIXELS */
  uint32_t min_short_side; /* input: HINT. When non-zero, JPEGs may be
                              decoded at a reduced scale (libjpeg's M/8 DCT
                              scaling) as long as the shorter side stays
                              >= this. 0 = always decode at full size
                              (bit-exact with PIL). */
  uint64_t max_file_bytes; /* input: largest encoded image decoded (from
                              memory: a NATS message body) or read (a
                              file); 0 = 4 bytes per max_pixels + 1 MiB.
                              ims_limits.max_file_bytes (limits.h) */
} ims_decode_options;

typedef struct ims_decoder ims_decoder;

/// Create a decoder.
/// @param options  COPIED; NULL means all defaults.
/// @param decoder_out set only on IMS_OK. Free with ims_decoder_destroy().
/// @retval IMS_OK, IMS_ERR_NO_MEMORY
IMS_API ims_status ims_decoder_create(const ims_decode_options *options,
                                      ims_decoder **decoder_out,
                                      ims_error *err);

/// Free a decoder and its pixel buffer. NULL is a no-op.
IMS_API void ims_decoder_destroy(ims_decoder *decoder);

/// Decode an encoded image held in memory.
/// @param data       BORROWED for the duration of the call.
/// @param image_out  set only on IMS_OK; its pixels belong to the decoder.
/// @retval IMS_OK
/// @retval IMS_ERR_BAD_IMAGE  unknown format, corrupt or truncated data; the
///                            message says what and, where known, the byte
///                            offset ("truncated JPEG data at byte 1234").
/// @retval IMS_ERR_TOO_LARGE  the header claims more than max_pixels, or
///                            size is above max_file_bytes.
/// @retval IMS_ERR_NO_MEMORY
IMS_API ims_status ims_decoder_decode(ims_decoder *decoder, const void *data,
                                      size_t size, ims_image *image_out,
                                      ims_error *err);

/// Read and decode a file. Errors are those of ims_decoder_decode plus
/// IMS_ERR_NOT_FOUND / IMS_ERR_IO; messages start with the path.
IMS_API ims_status ims_decoder_decode_file(ims_decoder *decoder,
                                           const char *path,
                                           ims_image *image_out,
                                           ims_error *err);

/* Options of ims_preprocessor_create. Zero fields take the defaults. */
typedef struct ims_preprocess_options {
  uint32_t resize;      /* input: shorter side after resizing; 0 = 256 */
  uint32_t crop_width;  /* input: center crop width; 0 = 224 */
  uint32_t crop_height; /* input: center crop height; 0 = 224 */
} ims_preprocess_options;

typedef struct ims_preprocessor ims_preprocessor;

/// Create a preprocessor: bilinear resize (antialiased when shrinking,
/// with PIL's Image.resize(BILINEAR) arithmetic, so the result is
/// bit-exact with torchvision's Resize on PIL images), then center crop
/// (torchvision's CenterCrop offsets).
/// @param options  COPIED; NULL means all defaults.
IMS_API ims_status ims_preprocessor_create(
    const ims_preprocess_options *options, ims_preprocessor **out,
    ims_error *err);

/// Free a preprocessor. NULL is a no-op.
IMS_API void ims_preprocessor_destroy(ims_preprocessor *pre);

/// Resize + crop `src` into `dst`: crop_height rows of crop_width RGB
/// pixels, tightly packed (HWC uint8), crop_width*crop_height*3 bytes.
/// Only the pixels inside the crop are computed.
/// @retval IMS_OK
/// @retval IMS_ERR_INVALID_ARG  the image is smaller than 1x1, or the
///                              resized image is smaller than the crop.
IMS_API ims_status ims_preprocess(ims_preprocessor *pre, const ims_image *src,
                                  uint8_t *dst, ims_error *err);

#ifdef __cplusplus
}
#endif

#endif /* IMGSTREAM_IMAGE_H */
