/* SPDX-License-Identifier: Apache-2.0 */
/*
 * thumb.c - a recent row's thumbnail (window.c keeps its pixels) as a
 * JPEG, for GET /thumb/ID: libjpeg-turbo compresses it into memory on
 * the server's thread, never the engine's.
 *
 * libjpeg reports errors by calling error_exit, which would exit(); ours
 * longjmp()s back here instead (as src/image/jpeg.c does for decoding).
 *
 * Threading: any thread; no shared state.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>

#include "http/http_int.h"

typedef struct thumb_error {
  struct jpeg_error_mgr mgr; /* first: libjpeg hands us &mgr */
  jmp_buf jump;
} thumb_error;

static _Noreturn void on_error(j_common_ptr c) {
  thumb_error *e = (thumb_error *)c->err;
  longjmp(e->jump, 1);
}

static void no_message(j_common_ptr c) { (void)c; }

static void compress(struct jpeg_compress_struct *ci, const uint8_t *rgb,
                    uint32_t height, uint32_t width, unsigned char **out,
                    unsigned long *len) {
  jpeg_create_compress(ci);
  jpeg_mem_dest(ci, out, len);
  ci->image_width = width;
  ci->image_height = height;
  ci->input_components = 3;
  ci->in_color_space = JCS_RGB;
  jpeg_set_defaults(ci);
  jpeg_set_quality(ci, 85, TRUE);
  jpeg_start_compress(ci, TRUE);
  while (ci->next_scanline < ci->image_height) {
    JSAMPROW row = (JSAMPROW)(rgb + (size_t)ci->next_scanline * width * 3);
    jpeg_write_scanlines(ci, &row, 1);
  }
  jpeg_finish_compress(ci);
}

/* Our own buffer, sized so libjpeg never grows it: on an error after a
 * growth jpeg_mem_dest would leave *out pointing at freed memory. */
char *ims__thumb_jpeg(const uint8_t *rgb, uint32_t height, uint32_t width,
                      size_t *len_out) {
  struct jpeg_compress_struct ci;
  thumb_error e;
  unsigned long cap = (unsigned long)height * width * 6 + 65536;
  unsigned char *mine = malloc(cap);
  if (mine == NULL) return NULL;
  unsigned char *out = mine;
  unsigned long len = cap;
  ci.err = jpeg_std_error(&e.mgr);
  e.mgr.error_exit = on_error;
  e.mgr.output_message = no_message;
  if (setjmp(e.jump) != 0) {
    jpeg_destroy_compress(&ci);
    free(mine);
    return NULL;
  }
  compress(&ci, rgb, height, width, &out, &len);
  jpeg_destroy_compress(&ci);
  if (out != mine) free(mine); /* libjpeg grew it after all */
  *len_out = len;
  return (char *)out;
}
