/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostile.c - the hostile-input corpus: inputs an attacker who can write
 * to a bucket, a NATS stream, a dataset archive, a checkpoint folder or
 * a model file would send, each generated here (nothing is committed but
 * this program) and each checked for its DEFINED outcome: the status and
 * a substring of the message. No crash (sanitizers), no hang (alarm()
 * per kind), no leak (LeakSanitizer, valgrind in CI).
 *
 * Kinds, by area (the table `corpus` below lists every one):
 *   image      truncated and corrupted JPEG, PNG, BMP; decompression bombs
 *              (huge declared dimensions, a tiny PNG IDAT declaring
 *              60000x60000, a zlib stream inflating far past its rows);
 *              zero and absurd dimensions; wrong extensions; FIFOs,
 *              devices, folders and symbolic links named *.jpg
 *   bucket     FIFOs in the bucket folder; keys with "..", absolute paths,
 *              hidden or "." components
 *   archive    tar/zip entries with "..", absolute paths, escaping
 *              symbolic and hard links, FIFOs, devices; a gzip bomb;
 *              damaged and non-archives (src/produce/extract.c)
 *   tflite     cyclic graphs, out-of-range tensor and graph indices,
 *              short buffers, absurd and negative shapes, truncation
 *   onnx       cyclic graphs, undefined inputs, short raw_data, absurd
 *              dims, a Reshape whose product of dims overflows, external
 *              data escaping the model's folder
 *   nats       messages with missing or lying headers and reply subjects
 *              (the key they get), bodies that are not images, empty or
 *              bombs (src/nats/queue.c's message-to-image path)
 *   labels     deep JSON nesting, truncated JSON, absurd class indices,
 *              a FIFO as label file
 *   checkpoint a FIFO and garbage as offsets/ and snapshot files
 *   limits     every ims_limits bound exceeded (decoder, model loader,
 *              classifier, and the CLI options)
 *
 * Usage: hostile [KIND...]        run every kind (or those named)
 *        hostile --list           print every kind's name, one a line
 *        hostile --write DIR      write each kind that is a byte string
 *                                 to DIR/<area>/<kind> (fuzz seeds:
 *                                 tests/fuzz/make_seeds.py) and exit
 * Exit 0 if every kind gave its defined outcome, 1 otherwise; a KIND
 * that is not in the corpus is an error before anything runs ("No test
 * with that name", as test.h's runner says).
 *
 * Scratch files live in $IMGSTREAM_TEST_TMP/hostile-<pid>/, removed at
 * the end.
 *
 * Threading: single-threaded.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <ftw.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "support/image_fixtures.h"
#include "imgstream/imgstream.h"
#include "support/onnx_writer.h"
#include "produce/produce_int.h"
#include "stream/stream_int.h"
#include "nats/nats_int.h"
#include "support/tflite_writer.h"

#define HANG_SECONDS 30 /* far above any kind's run time, even in valgrind */

typedef struct hostile hostile;

/* One kind of hostile input. */
struct hostile {
  const char *name;            /* the kind (and its corpus file name) */
  const char *area;            /* runner and corpus folder */
  void (*make)(fx_bytes *out); /* its bytes; NULL: run() makes files */
  ims_status (*run)(const hostile *h, const fx_bytes *in, ims_error *err);
  const char *file; /* name the bytes are stored under in
                       the scratch folder (NULL: "input") */
  ims_status want;  /* the defined status */
  const char *says; /* a substring of the message */
};

static char scratch[4096]; /* this run's scratch folder */

/* ---- 1. helpers ------------------------------------------------------- */

static const char *in_scratch(const char *name) {
  static char path[2][4200];
  static int turn;
  turn ^= 1;
  snprintf(path[turn], sizeof path[turn], "%s/%s", scratch, name);
  return path[turn];
}

static int remove_one(const char *path, const struct stat *sb, int flag,
                      struct FTW *ftw) {
  (void)sb, (void)flag;
  if (ftw->level > 0) remove(path);
  return 0;
}

static void clear_scratch(void) {
  nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_bytes(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
    fprintf(stderr, "hostile: cannot write %s\n", path);
    exit(2);
  }
}

static void put_str(fx_bytes *b, const char *s) { fx_put(b, s, strlen(s)); }

/* Record an outcome that is not a library status (a check of ours). */
static ims_status broken(ims_error *err, const char *what) {
  snprintf(err->message, sizeof err->message, "broken invariant: %s", what);
  err->status = IMS_ERR_INVALID_STATE;
  return IMS_ERR_INVALID_STATE;
}

/* ---- 2. images -------------------------------------------------------- */

static void jpeg_ok(fx_bytes *b) {
  static uint8_t px[32 * 24 * 3];
  fx_random(px, sizeof px, 1);
  fx_jpeg_opts o = {.components = 3, .quality = 80};
  uint8_t *out = NULL;
  size_t n = 0;
  if (fx_jpeg_encode(px, 32, 24, &o, &out, &n) != 0) exit(2);
  fx_put(b, out, n);
  free(out);
}

/* Offset of the first JPEG marker FF `m`, or 0. */
static size_t jpeg_marker(const fx_bytes *b, uint8_t m) {
  for (size_t i = 2; i + 1 < b->size; i++)
    if (b->data[i] == 0xFF && b->data[i + 1] == m) return i;
  return 0;
}

static void jpeg_truncated_header(fx_bytes *b) {
  jpeg_ok(b);
  b->size = jpeg_marker(b, 0xC4) + 6; /* inside the Huffman tables */
}

static void jpeg_truncated_scan(fx_bytes *b) {
  jpeg_ok(b);
  size_t sos = jpeg_marker(b, 0xDA);
  b->size = sos + (b->size - sos) / 2;
}

static void jpeg_bad_huffman(fx_bytes *b) {
  jpeg_ok(b);
  size_t dht = jpeg_marker(b, 0xC4);
  memset(b->data + dht + 5, 0xFF, 16); /* code counts summing past 256 */
}

static void jpeg_sof_dims(fx_bytes *b, unsigned h, unsigned w) {
  jpeg_ok(b);
  size_t sof = jpeg_marker(b, 0xC0);
  b->data[sof + 5] = (uint8_t)(h >> 8), b->data[sof + 6] = (uint8_t)h;
  b->data[sof + 7] = (uint8_t)(w >> 8), b->data[sof + 8] = (uint8_t)w;
}

static void jpeg_huge_dims(fx_bytes *b) { jpeg_sof_dims(b, 65500, 65500); }
static void jpeg_dims_past_libjpeg(fx_bytes *b) {
  jpeg_sof_dims(b, 65535, 65535);
}
static void jpeg_zero_height(fx_bytes *b) { jpeg_sof_dims(b, 0, 32); }

static void jpeg_garbage_segments(fx_bytes *b) {
  uint8_t junk[200];
  fx_random(junk, sizeof junk, 2);
  fx_put(b, "\xFF\xD8\xFF", 3);
  fx_put(b, junk, sizeof junk);
}

static void png_chunk(fx_bytes *b, const char *type, const void *data,
                      size_t n) {
  fx_be32(b, (uint32_t)n);
  size_t at = b->size;
  fx_put(b, type, 4);
  if (n > 0) fx_put(b, data, n);
  fx_be32(b, fx_crc32(b->data + at, n + 4));
}

/* A PNG declaring w x h RGB whose IDAT inflates to `raw` zero bytes. */
static void png_declaring(fx_bytes *b, uint32_t w, uint32_t h, int color_type,
                          size_t raw) {
  fx_bytes ihdr = {0};
  fx_be32(&ihdr, w), fx_be32(&ihdr, h);
  fx_put(&ihdr, (uint8_t[]){8, (uint8_t)color_type, 0, 0, 0}, 5);
  fx_put(b, "\x89PNG\r\n\x1a\n", 8);
  png_chunk(b, "IHDR", ihdr.data, ihdr.size);
  uint8_t *zeros = calloc(raw ? raw : 1, 1);
  uLongf zn = compressBound(raw);
  uint8_t *z = malloc(zn);
  if (zeros == NULL || z == NULL || compress2(z, &zn, zeros, raw, 9) != Z_OK)
    exit(2);
  png_chunk(b, "IDAT", z, zn);
  png_chunk(b, "IEND", NULL, 0);
  free(zeros), free(z), free(ihdr.data);
}

static void png_ok(fx_bytes *b) { png_declaring(b, 16, 16, 2, 16 * 49); }

static void png_truncated(fx_bytes *b) {
  png_ok(b);
  b->size = 8 + 25 + 10; /* signature, IHDR, a piece of IDAT */
}

static void png_bad_crc(fx_bytes *b) {
  png_ok(b);
  b->data[8 + 8 + 13] ^= 0x55; /* IHDR's CRC */
}

/* 60000 x 60000 RGB = 10.8 GB of pixels from a 10 KB file. */
static void png_bomb_dims(fx_bytes *b) {
  png_declaring(b, 60000, 60000, 2, 1 << 20);
}

static void png_zero_width(fx_bytes *b) { png_declaring(b, 0, 16, 2, 64); }

/* 16 x 16 declared, 64 MB of zeros in the zlib stream (64 KB on disk). */
static void png_zlib_bomb(fx_bytes *b) {
  png_declaring(b, 16, 16, 2, (size_t)64 << 20);
}

static void png_short_idat(fx_bytes *b) {
  png_declaring(b, 64, 64, 2, 100); /* 100 of 12352 bytes */
}

static void png_palette_missing(fx_bytes *b) {
  png_declaring(b, 8, 8, 3, 8 * 9);
}

/* A BMP: BITMAPINFOHEADER, 24 bits, w x h (h < 0: top-down). */
static void bmp_make(fx_bytes *b, int32_t w, int32_t h, unsigned bpp,
                     uint32_t colors, uint32_t offset) {
  uint32_t aw = w > 0 && w < 64 ? (uint32_t)w : 8;
  uint32_t ah = h > 0 && h < 64 ? (uint32_t)h : 8;
  uint32_t row = (aw * 3 + 3) & ~3u, pixels = row * ah;
  fx_put(b, "BM", 2);
  fx_le32(b, 54 + pixels), fx_le32(b, 0);
  fx_le32(b, offset ? offset : 54);
  fx_le32(b, 40), fx_le32(b, (uint32_t)w), fx_le32(b, (uint32_t)h);
  fx_le16(b, 1), fx_le16(b, bpp);
  fx_le32(b, 0), fx_le32(b, pixels), fx_le32(b, 2835), fx_le32(b, 2835);
  fx_le32(b, colors), fx_le32(b, 0);
  uint8_t *px = malloc(pixels);
  fx_random(px, pixels, 3);
  fx_put(b, px, pixels);
  free(px);
}

static void bmp_ok(fx_bytes *b) { bmp_make(b, 8, 6, 24, 0, 0); }
static void bmp_truncated(fx_bytes *b) {
  bmp_ok(b);
  b->size -= 40;
}
static void bmp_huge_dims(fx_bytes *b) {
  bmp_make(b, 100000, 100000, 24, 0, 0);
}
static void bmp_zero_width(fx_bytes *b) { bmp_make(b, 0, 6, 24, 0, 0); }
static void bmp_int_min_height(fx_bytes *b) {
  bmp_make(b, 8, INT32_MIN, 24, 0, 0);
}
static void bmp_bad_bpp(fx_bytes *b) { bmp_make(b, 8, 6, 7, 0, 0); }
static void bmp_palette_overflow(fx_bytes *b) {
  bmp_make(b, 8, 6, 8, 70000, 0);
}
static void bmp_offset_past_end(fx_bytes *b) {
  bmp_make(b, 8, 6, 24, 0, 0xFFFFFF00u);
}
static void png_named_jpg(fx_bytes *b) { png_ok(b); }
static void text_named_jpg(fx_bytes *b) { put_str(b, "<html>not a photo\n"); }
static void gif_named_png(fx_bytes *b) { put_str(b, "GIF89a\x10\0\x10\0"); }
static void empty_named_jpg(fx_bytes *b) { (void)b; }

/* Decode the file as a stream worker does, then preprocess it. */
static ims_status decode_path(const char *path, ims_error *err) {
  static uint8_t crop[224 * 224 * 3];
  ims_decoder *dec = NULL;
  ims_preprocessor *pre = NULL;
  ims_image img;
  ims_status st = ims_decoder_create(NULL, &dec, err);
  if (st == IMS_OK) st = ims_preprocessor_create(NULL, &pre, err);
  if (st == IMS_OK) st = ims_decoder_decode_file(dec, path, &img, err);
  if (st == IMS_OK) st = ims_preprocess(pre, &img, crop, err);
  ims_preprocessor_destroy(pre);
  ims_decoder_destroy(dec);
  return st;
}

static ims_status run_image(const hostile *h, const fx_bytes *in,
                            ims_error *err) {
  const char *path = in_scratch(h->file != NULL ? h->file : "input");
  write_bytes(path, in->data, in->size);
  return decode_path(path, err);
}

/* ---- 3. special files ------------------------------------------------- */

/* A special file named like a photo (h->file), by kind: a FIFO (open()
 * without O_NONBLOCK waited for a writer), /dev/zero behind a link
 * (endless bytes), a folder, a dangling link, a link to itself. */
static ims_status special_file(const hostile *h, const fx_bytes *in,
                               ims_error *err) {
  (void)in;
  const char *path = in_scratch(h->file);
  int rc;
  if (strcmp(h->name, "fifo_named_jpg") == 0)
    rc = mkfifo(path, 0644);
  else if (strcmp(h->name, "devzero_named_jpg") == 0)
    rc = symlink("/dev/zero", path);
  else if (strcmp(h->name, "folder_named_jpg") == 0)
    rc = mkdir(path, 0755);
  else if (strcmp(h->name, "dangling_symlink") == 0)
    rc = symlink("nowhere.jpg", path);
  else
    rc = symlink(h->file, path); /* symlink_loop */
  if (rc != 0) return broken(err, h->name);
  return decode_path(path, err);
}

/* ---- 4. buckets ------------------------------------------------------- */

static ims_status open_bucket(ims_bucket **b, ims_error *err) {
  char url[4300];
  snprintf(url, sizeof url, "dir://%s", in_scratch("bucket"));
  return ims_bucket_open(url, IMS_BUCKET_CREATE, b, err);
}

/* A FIFO landing in the bucket: never listed, and reading it by key (it
 * was a file when listed) fails at once. */
static ims_status bucket_fifo(const hostile *h, const fx_bytes *in,
                              ims_error *err) {
  (void)h, (void)in;
  ims_bucket *b = NULL;
  ims_object *objs = NULL;
  size_t n = 9;
  void *data = NULL;
  size_t size = 0;
  ims_status st = open_bucket(&b, err);
  if (st != IMS_OK) return st;
  mkdir(in_scratch("bucket/daisy"), 0755);
  if (mkfifo(in_scratch("bucket/daisy/a.jpg"), 0644) != 0) st = IMS_ERR_IO;
  if (st == IMS_OK) st = ims_bucket_list(b, &objs, &n, err);
  if (st == IMS_OK && n != 0) st = broken(err, "a FIFO was listed");
  ims_bucket_list_free(objs, n);
  if (st == IMS_OK) st = ims_bucket_read(b, "daisy/a.jpg", &data, &size, err);
  free(data);
  ims_bucket_close(b);
  return st;
}

/* ims_bucket_put with `key`; nothing may appear outside the bucket. */
static ims_status bucket_put_key(const char *key, ims_error *err) {
  ims_bucket *b = NULL;
  ims_status st = open_bucket(&b, err);
  if (st == IMS_OK) st = ims_bucket_put(b, key, "x", 1, err);
  ims_bucket_close(b);
  struct stat sb;
  if (stat(in_scratch("escaped.jpg"), &sb) == 0)
    return broken(err, "a put wrote outside the bucket");
  return st;
}

static ims_status bucket_key_dotdot(const hostile *h, const fx_bytes *in,
                                    ims_error *err) {
  (void)h, (void)in;
  return bucket_put_key("daisy/../../escaped.jpg", err);
}

static ims_status bucket_key_absolute(const hostile *h, const fx_bytes *in,
                                      ims_error *err) {
  (void)h, (void)in;
  char key[4300];
  snprintf(key, sizeof key, "%s", in_scratch("escaped.jpg"));
  return bucket_put_key(key, err);
}

static ims_status bucket_key_hidden(const hostile *h, const fx_bytes *in,
                                    ims_error *err) {
  (void)h, (void)in;
  return bucket_put_key("daisy/.a.jpg.1.2.tmp", err);
}

static ims_status bucket_key_dot(const hostile *h, const fx_bytes *in,
                                 ims_error *err) {
  (void)h, (void)in;
  return bucket_put_key("daisy/./a.jpg", err);
}

/* ---- 5. archives ------------------------------------------------------ */

/* One entry for arc_make: a path, a type (AE_IF*), a link target or
 * content. */
typedef struct arc_entry {
  const char *path;
  unsigned type;
  const char *link; /* symlink or hard link target, or NULL */
  size_t zeros;     /* regular file: this many zero bytes */
} arc_entry;

static la_ssize_t arc_write(struct archive *a, void *ctx, const void *p,
                            size_t n) {
  (void)a;
  fx_put(ctx, p, n);
  return (la_ssize_t)n;
}

static void arc_make(fx_bytes *b, int zip, int gzip, const arc_entry *e,
                     int count) {
  struct archive *a = archive_write_new();
  if (zip)
    archive_write_set_format_zip(a);
  else
    archive_write_set_format_pax_restricted(a);
  if (gzip) archive_write_add_filter_gzip(a);
  archive_write_set_bytes_in_last_block(a, 1);
  if (archive_write_open(a, b, NULL, arc_write, NULL) != ARCHIVE_OK) exit(2);
  for (int i = 0; i < count; i++) {
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, e[i].path);
    archive_entry_set_mode(ae, e[i].type | 0644);
    archive_entry_set_mtime(ae, 1700000000, 0);
    if (e[i].type == AE_IFLNK) archive_entry_set_symlink(ae, e[i].link);
    if (e[i].type == AE_IFREG && e[i].link != NULL)
      archive_entry_set_hardlink(ae, e[i].link);
    if (e[i].type == AE_IFCHR) archive_entry_set_rdev(ae, makedev(1, 5));
    if (e[i].type == AE_IFREG && e[i].link == NULL)
      archive_entry_set_size(ae, (la_int64_t)e[i].zeros);
    if (archive_write_header(a, ae) != ARCHIVE_OK) exit(2);
    static const uint8_t zeros[65536];
    for (size_t left = e[i].zeros; left > 0;) {
      size_t n = left < sizeof zeros ? left : sizeof zeros;
      archive_write_data(a, zeros, n);
      left -= n;
    }
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
}

#define ARC(b, zip, gz, ...)                                   \
  do {                                                         \
    const arc_entry e_[] = {__VA_ARGS__};                      \
    arc_make(b, zip, gz, e_, (int)(sizeof e_ / sizeof e_[0])); \
  } while (0)

static void arc_dotdot(fx_bytes *b) {
  ARC(b, 0, 0, {"flowers/daisy/a.jpg", AE_IFREG, NULL, 10},
      {"flowers/../../escaped.jpg", AE_IFREG, NULL, 10});
}
static void arc_absolute(fx_bytes *b) {
  ARC(b, 0, 0, {"/tmp/imgstream-hostile-escaped.jpg", AE_IFREG, NULL, 10});
}
static void arc_symlink_up(fx_bytes *b) {
  ARC(b, 0, 0, {"flowers/up", AE_IFLNK, "../..", 0},
      {"flowers/up/escaped.jpg", AE_IFREG, NULL, 10});
}
static void arc_symlink_absolute(fx_bytes *b) {
  ARC(b, 0, 0, {"flowers/passwd.jpg", AE_IFLNK, "/etc/passwd", 0});
}
static void arc_hardlink_out(fx_bytes *b) {
  ARC(b, 0, 0, {"flowers/shadow.jpg", AE_IFREG, "../../etc/shadow", 0});
}
static void arc_fifo(fx_bytes *b) {
  ARC(b, 0, 0, {"flowers/daisy/a.jpg", AE_IFIFO, NULL, 0});
}
static void arc_device(fx_bytes *b) {
  ARC(b, 0, 0, {"flowers/daisy/zero.jpg", AE_IFCHR, NULL, 0});
}
/* 8 MB of zeros in ~8 KB of .tar.gz, extracted with a 1 MB limit. */
static void arc_gzip_bomb(fx_bytes *b) {
  ARC(b, 0, 1, {"flowers/daisy/a.jpg", AE_IFREG, NULL, (size_t)8 << 20});
}
static void arc_zip_dotdot(fx_bytes *b) {
  ARC(b, 1, 0, {"../../escaped.jpg", AE_IFREG, NULL, 10});
}
static void arc_truncated(fx_bytes *b) {
  ARC(b, 0, 1, {"flowers/daisy/a.jpg", AE_IFREG, NULL, 300000},
      {"flowers/daisy/b.jpg", AE_IFREG, NULL, 10});
  b->size /= 2;
}
static void arc_garbage(fx_bytes *b) {
  uint8_t junk[512];
  fx_random(junk, sizeof junk, 4);
  fx_put(b, junk, sizeof junk);
}

static ims_status run_archive(const hostile *h, const fx_bytes *in,
                              ims_error *err) {
  (void)h;
  const char *archive = in_scratch("archive");
  const char *out = in_scratch("out");
  write_bytes(archive, in->data, in->size);
  if (mkdir(out, 0755) != 0) return broken(err, "mkdir");
  ims_status st = ims__archive_extract(archive, out, 1u << 20, NULL, err);
  struct stat sb;
  if (lstat(in_scratch("escaped.jpg"), &sb) == 0 ||
      lstat("/tmp/imgstream-hostile-escaped.jpg", &sb) == 0)
    return broken(err, "an entry escaped the folder");
  return st;
}

/* ---- 6. TFLite models ------------------------------------------------- */

static int32_t f32_act(tfw *w, int h, int wd, int c) {
  int32_t shape[4] = {1, h, wd, c};
  return tfw_tensor(w, TFW_FLOAT32, 4, shape, NULL, 0, NULL, "act");
}

static void tfw_bytes(fx_bytes *b, tfw *w) {
  size_t n = 0;
  uint8_t *p = tfw_finish(w, &n);
  tfw_destroy(w);
  if (p == NULL) exit(2);
  fx_put(b, p, n);
  free(p);
}

/* x -> ADD(x, b) -> a; ADD(a, a) -> b: each needs the other first. */
static void tfl_cycle(fx_bytes *out) {
  tfw *w = tfw_create();
  int32_t x = f32_act(w, 4, 4, 3), a = f32_act(w, 4, 4, 3);
  int32_t b = f32_act(w, 4, 4, 3);
  tfw_options o = tfw_opt_add(0);
  tfw_operator(w, TFW_OP_ADD, 2, (int32_t[]){x, b}, a, &o);
  tfw_operator(w, TFW_OP_ADD, 2, (int32_t[]){a, a}, b, &o);
  tfw_set_io(w, x, b);
  tfw_bytes(out, w);
}

static void tfl_bad_tensor_index(fx_bytes *out) {
  tfw *w = tfw_create();
  int32_t x = f32_act(w, 4, 4, 3), y = f32_act(w, 4, 4, 3);
  tfw_options o = tfw_opt_add(0);
  tfw_operator(w, TFW_OP_ADD, 2, (int32_t[]){x, 999}, y, &o);
  tfw_set_io(w, x, y);
  tfw_bytes(out, w);
}

static void tfl_bad_io_index(fx_bytes *out) {
  tfw *w = tfw_create();
  int32_t x = f32_act(w, 4, 4, 3), y = f32_act(w, 4, 4, 3);
  tfw_options o = tfw_opt_add(0);
  tfw_operator(w, TFW_OP_ADD, 2, (int32_t[]){x, x}, y, &o);
  tfw_set_io(w, x, 70000);
  tfw_bytes(out, w);
}

/* conv weights [4,3,3,3] backed by 16 bytes instead of 432. */
static void tfl_short_buffer(fx_bytes *out) {
  static float wt[4];
  tfw *w = tfw_create();
  int32_t x = f32_act(w, 8, 8, 3), y = f32_act(w, 8, 8, 4);
  int32_t ks[4] = {4, 3, 3, 3}, four = 4;
  int32_t k = tfw_tensor(w, TFW_FLOAT32, 4, ks, wt, sizeof wt, NULL, "k");
  int32_t bias = tfw_tensor(w, TFW_FLOAT32, 1, &four, wt, sizeof wt, NULL, "b");
  tfw_options o = tfw_opt_conv(0, 1, 1, 0);
  tfw_operator(w, TFW_OP_CONV_2D, 3, (int32_t[]){x, k, bias}, y, &o);
  tfw_set_io(w, x, y);
  tfw_bytes(out, w);
}

static void tfl_shape(fx_bytes *out, int32_t h, int32_t wd) {
  tfw *w = tfw_create();
  int32_t shape[4] = {1, h, wd, 3};
  int32_t x = tfw_tensor(w, TFW_FLOAT32, 4, shape, NULL, 0, NULL, "x");
  int32_t y = tfw_tensor(w, TFW_FLOAT32, 4, shape, NULL, 0, NULL, "y");
  tfw_options o = tfw_opt_add(0);
  tfw_operator(w, TFW_OP_ADD, 2, (int32_t[]){x, x}, y, &o);
  tfw_set_io(w, x, y);
  tfw_bytes(out, w);
}

static void tfl_absurd_shape(fx_bytes *b) { tfl_shape(b, 1 << 30, 1 << 30); }
static void tfl_negative_dim(fx_bytes *b) { tfl_shape(b, -5, 8); }

static void tfl_truncated(fx_bytes *b) {
  tfl_short_buffer(b);
  b->size = b->size * 2 / 3;
}

static ims_status run_model(const hostile *h, const fx_bytes *in,
                            ims_error *err) {
  (void)h;
  ims_model *m = NULL;
  ims_status st = ims_model_load_memory(in->data, in->size, &m, err);
  if (st == IMS_OK) {
    ims_model_info info;
    ims_model_get_info(m, &info);
  } else if (m != NULL) {
    st = broken(err, "model_out set on failure");
  }
  ims_model_destroy(m);
  return st;
}

/* ---- 7. ONNX models --------------------------------------------------- */

#define IN(...) ((const char *[]){__VA_ARGS__, NULL})

static void onnx_start(onnx_w *w) {
  int64_t dims[4] = {-1, 3, 8, 8};
  ow_init(w, 13);
  ow_input(w, "x", 4, dims);
}

static void onnx_done(fx_bytes *b, onnx_w *w, const char *out) {
  size_t n = 0;
  ow_output(w, out);
  uint8_t *p = ow_finish(w, &n);
  fx_put(b, p, n);
  free(p);
}

static void onnx_cycle(fx_bytes *b) {
  onnx_w w;
  onnx_start(&w);
  ow_node(&w, "Add", "first", IN("x", "b"), IN("a"), NULL, 0);
  ow_node(&w, "Relu", "second", IN("a"), IN("b"), NULL, 0);
  onnx_done(b, &w, "b");
}

static void onnx_undefined_input(fx_bytes *b) {
  onnx_w w;
  onnx_start(&w);
  ow_node(&w, "Add", "add", IN("x", "nowhere"), IN("y"), NULL, 0);
  onnx_done(b, &w, "y");
}

/* Conv weights declared [4,3,3,3] (432 bytes) with 40 bytes of raw_data. */
static void onnx_short_raw(fx_bytes *b) {
  onnx_w w;
  onnx_start(&w);
  ow_buf t = {0};
  int64_t dims[4] = {4, 3, 3, 3};
  for (int i = 0; i < 4; i++) ow_int(&t, 1, dims[i]);
  ow_int(&t, 2, 1);
  ow_str(&t, 8, "w");
  static const float few[10];
  ow_bytes(&t, 9, few, sizeof few);
  ow_msg(&w.graph, 5, &t);
  ow_node(&w, "Conv", "conv", IN("x", "w"), IN("y"), NULL, 0);
  onnx_done(b, &w, "y");
}

static void onnx_absurd_dims(fx_bytes *b) {
  onnx_w w;
  onnx_start(&w);
  ow_buf t = {0};
  ow_int(&t, 1, (int64_t)1 << 40), ow_int(&t, 1, (int64_t)1 << 40);
  ow_int(&t, 2, 1);
  ow_str(&t, 8, "w");
  ow_msg(&w.graph, 5, &t);
  ow_node(&w, "MatMul", "mm", IN("x", "w"), IN("y"), NULL, 0);
  onnx_done(b, &w, "y");
}

/* Reshape to [-1, 2^62, 4]: the product of the known dims overflows. */
static void onnx_reshape_overflow(fx_bytes *b) {
  onnx_w w;
  onnx_start(&w);
  int64_t three = 3, shape[3] = {-1, (int64_t)1 << 62, 4};
  ow_init_i64(&w, "shape", 1, &three, shape, OW_RAW);
  ow_node(&w, "Reshape", "rs", IN("x", "shape"), IN("y"), NULL, 0);
  onnx_done(b, &w, "y");
}

static void onnx_input_dims(fx_bytes *b) {
  onnx_w w;
  int64_t dims[4] = {1, 3, (int64_t)1 << 31, (int64_t)1 << 31};
  ow_init(&w, 13);
  ow_input(&w, "x", 4, dims);
  ow_node(&w, "Relu", "relu", IN("x"), IN("y"), NULL, 0);
  onnx_done(b, &w, "y");
}

/* External data at "../../../etc/passwd", loaded from a file. */
static void onnx_external_escape(fx_bytes *b) {
  onnx_w w;
  onnx_start(&w);
  int64_t dims[4] = {4, 3, 3, 3};
  ow_init_external(&w, "w", 4, dims, "../../../etc/passwd", 0, 432);
  ow_node(&w, "Conv", "conv", IN("x", "w"), IN("y"), NULL, 0);
  onnx_done(b, &w, "y");
}

static ims_status run_model_file(const hostile *h, const fx_bytes *in,
                                 ims_error *err) {
  const char *path = in_scratch(h->file != NULL ? h->file : "model");
  write_bytes(path, in->data, in->size);
  ims_model *m = NULL;
  ims_status st = ims_model_load_file(path, &m, err);
  ims_model_destroy(m);
  return st;
}

/* ---- 8. NATS messages ------------------------------------------------- */

/* Input format (as tests/fuzz/fuzz_nats.c): subject line, reply line,
 * "Name: value" header lines, an empty line, the body. */
static void nats_msg(fx_bytes *b, const char *subject, const char *reply,
                     const char *headers, const fx_bytes *body) {
  put_str(b, subject), put_str(b, "\n");
  put_str(b, reply), put_str(b, "\n");
  put_str(b, headers), put_str(b, "\n");
  if (body != NULL) fx_put(b, body->data, body->size);
}

#define ACK "$JS.ACK.IMAGES.imgstream.1.42.7.1700000000000000000.0"

static void nats_no_headers(fx_bytes *b) {
  fx_bytes jpg = {0};
  jpeg_ok(&jpg);
  nats_msg(b, "IMAGES.rose", ACK, "", &jpg);
  free(jpg.data);
}

static void nats_control_key(fx_bytes *b) {
  fx_bytes jpg = {0};
  jpeg_ok(&jpg);
  nats_msg(b, "IMAGES.rose", ACK,
           "Imgstream-Key: rose/\x7f.jpg\nNats-Msg-Id: rose/c.jpg\n", &jpg);
  free(jpg.data);
}

static void nats_long_key(fx_bytes *b) {
  fx_bytes jpg = {0};
  jpeg_ok(&jpg);
  put_str(b, "IMAGES.tulip\n" ACK "\nImgstream-Key: ");
  for (int i = 0; i < 5000; i++) fx_u8(b, 'k');
  put_str(b, "\n\n");
  fx_put(b, jpg.data, jpg.size);
  free(jpg.data);
}

static void nats_lying_reply(fx_bytes *b) {
  fx_bytes jpg = {0};
  jpeg_ok(&jpg);
  nats_msg(b, "IMAGES.daisy", "$JS.ACK.IMAGES.c.x.notanumber.-1.y.z", "", &jpg);
  free(jpg.data);
}

static void nats_text_body(fx_bytes *b) {
  fx_bytes body = {0};
  put_str(&body, "{\"not\": \"an image\"}");
  nats_msg(b, "IMAGES.daisy", ACK, "Imgstream-Key: daisy/x.jpg\n", &body);
  free(body.data);
}

static void nats_empty_body(fx_bytes *b) {
  nats_msg(b, "IMAGES.daisy", ACK, "Imgstream-Key: daisy/e.jpg\n", NULL);
}

static void nats_bomb_body(fx_bytes *b) {
  fx_bytes png = {0};
  png_bomb_dims(&png);
  nats_msg(b, "IMAGES.daisy", ACK, "Imgstream-Key: daisy/bomb.png\n", &png);
  free(png.data);
}

static char *next_line(const fx_bytes *in, size_t *at) {
  size_t s = *at, i = s;
  while (i < in->size && in->data[i] != '\n') i++;
  char *line = malloc(i - s + 1); /* not strndup: no NUL in the input */
  if (line == NULL) exit(2);
  memcpy(line, in->data + s, i - s);
  line[i - s] = '\0';
  *at = i < in->size ? i + 1 : i;
  return line;
}

/* The worker's path: key from the headers (ims__nats_message_key), then
 * the body through decode + preprocess. natsMsg_GetMetaData only parses
 * the reply subject of a message a JetStream subscription delivered, so
 * here (no server) the stream sequence is 0, as for a lying reply.
 * The message says "key=<key>: <decode outcome>". */
static ims_status run_nats(const hostile *h, const fx_bytes *in,
                           ims_error *err) {
  (void)h;
  size_t at = 0;
  char *subject = next_line(in, &at), *reply = next_line(in, &at);
  natsMsg *m = NULL;
  if (nats_Open(-1) != NATS_OK ||
      natsMsg_Create(&m, subject, reply, NULL, 0) != NATS_OK)
    return broken(err, "natsMsg_Create");
  for (;;) {
    char *line = next_line(in, &at);
    if (line[0] == '\0') {
      free(line);
      break;
    }
    char *colon = strchr(line, ':');
    if (colon != NULL) {
      const char *value = colon + 1;
      *colon = '\0';
      while (*value == ' ') value++;
      natsMsgHeader_Add(m, line, value);
    }
    free(line);
  }
  uint64_t seq = 0;
  jsMsgMetaData *meta = NULL;
  if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
    seq = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
  }
  char *key = ims__nats_message_key(m, seq);
  static uint8_t crop[224 * 224 * 3];
  ims_decoder *dec = NULL;
  ims_preprocessor *pre = NULL;
  ims_image img;
  ims_error inner = {0};
  ims_status st = ims_decoder_create(NULL, &dec, &inner);
  if (st == IMS_OK) st = ims_preprocessor_create(NULL, &pre, &inner);
  if (st == IMS_OK)
    st = ims_decoder_decode(dec, in->data + at, in->size - at, &img, &inner);
  if (st == IMS_OK) st = ims_preprocess(pre, &img, crop, &inner);
  snprintf(err->message, sizeof err->message, "key=%.200s: %.300s",
           key != NULL ? key : "(none)",
           st == IMS_OK ? "decoded" : inner.message);
  err->status = st;
  ims_preprocessor_destroy(pre);
  ims_decoder_destroy(dec);
  free(key);
  natsMsg_Destroy(m);
  free(subject), free(reply);
  return st;
}

/* ---- 9. label files --------------------------------------------------- */

static void labels_deep(fx_bytes *b) {
  put_str(b, "{\"0\": ");
  for (int i = 0; i < 100000; i++) fx_u8(b, '[');
}
static void labels_truncated(fx_bytes *b) {
  put_str(b, "{\"0\": [\"n01440764\", \"tench\"], \"1\": [\"n015");
}
static void labels_sparse(fx_bytes *b) {
  put_str(b, "{\"0\": [\"n0\", \"a\"], \"4000000000\": [\"n1\", \"b\"]}");
}
static void labels_negative(fx_bytes *b) {
  put_str(b, "{\"0\": [\"n0\", \"a\"], \"-1\": [\"n1\", \"b\"]}");
}
static void labels_binary(fx_bytes *b) {
  uint8_t junk[300];
  fx_random(junk, sizeof junk, 5);
  junk[0] = 0;
  fx_put(b, junk, sizeof junk);
}

static ims_status run_labels(const hostile *h, const fx_bytes *in,
                             ims_error *err) {
  const char *path = in_scratch(h->file != NULL ? h->file : "labels.json");
  write_bytes(path, in->data, in->size);
  ims_labels *l = NULL;
  ims_status st = ims_labels_load_file(path, &l, err);
  ims_labels_destroy(l);
  return st;
}

static ims_status labels_fifo(const hostile *h, const fx_bytes *in,
                              ims_error *err) {
  (void)h, (void)in;
  const char *path = in_scratch("labels.json");
  if (mkfifo(path, 0644) != 0) return broken(err, "mkfifo");
  ims_labels *l = NULL;
  ims_status st = ims_labels_load_file(path, &l, err);
  ims_labels_destroy(l);
  return st;
}

/* ---- 10. checkpoint folders ------------------------------------------- */

/* Open a checkpoint folder whose offsets/ holds `name` (a FIFO when
 * `fifo`, else the bytes), and recover from it as a restart does. */
static ims_status recover_with(const char *name, int fifo, const char *text,
                               ims_error *err) {
  const char *root = in_scratch("cp");
  ims__checkpoint *cp = NULL;
  ims_status st = ims__checkpoint_open(root, NULL, 1, &cp, err);
  if (st != IMS_OK) return st;
  char path[4400];
  snprintf(path, sizeof path, "%s/offsets/%s", root, name);
  if (fifo ? mkfifo(path, 0644) != 0
           : (write_bytes(path, text, strlen(text)), 0)) {
    ims__checkpoint_close(cp);
    return broken(err, "mkfifo");
  }
  ims__keyset *done = NULL;
  ims__batch_input pending = {0};
  int64_t next = -1;
  st = ims__keyset_create(&done, err);
  if (st == IMS_OK)
    st = ims__checkpoint_recover(cp, done, &pending, &next, err);
  ims__batch_input_clear(&pending);
  ims__keyset_destroy(done);
  ims__checkpoint_close(cp);
  return st;
}

static ims_status cp_fifo_offsets(const hostile *h, const fx_bytes *in,
                                  ims_error *err) {
  (void)h, (void)in;
  return recover_with("0", 1, NULL, err);
}

static ims_status cp_fifo_snapshot(const hostile *h, const fx_bytes *in,
                                   ims_error *err) {
  (void)h, (void)in;
  return recover_with("compact-3", 1, NULL, err);
}

static ims_status cp_garbage_offsets(const hostile *h, const fx_bytes *in,
                                     ims_error *err) {
  (void)h, (void)in;
  return recover_with("0", 0, "{\"batchId\": 0, \"files\": [{\"pa", err);
}

/* The largest batch id alone: a history with a hole, refused (not an
 * id + 1 overflow). */
static ims_status cp_max_batch_id(const hostile *h, const fx_bytes *in,
                                  ims_error *err) {
  (void)h, (void)in;
  return recover_with("9223372036854775807", 0,
                      "{\"batchId\": 9223372036854775807, \"files\": []}", err);
}

/* ---- 11. limits -------------------------------------------------------- */

static ims_limits tight(void) {
  ims_limits l;
  ims_limits_default(&l);
  return l;
}

/* A 32x24 JPEG of ~1-2 KB through a decoder allowing 1000 bytes. */
static ims_status limit_file_bytes(const hostile *h, const fx_bytes *in,
                                   ims_error *err) {
  (void)h;
  const char *path = in_scratch("big.jpg");
  write_bytes(path, in->data, in->size);
  ims_decode_options o = {.max_file_bytes = 1000};
  ims_decoder *dec = NULL;
  ims_image img;
  ims_status st = ims_decoder_create(&o, &dec, err);
  if (st == IMS_OK) st = ims_decoder_decode_file(dec, path, &img, err);
  ims_decoder_destroy(dec);
  return st;
}

/* The same bytes as a message body (decoded from memory). */
static ims_status limit_body_bytes(const hostile *h, const fx_bytes *in,
                                   ims_error *err) {
  (void)h;
  ims_decode_options o = {.max_file_bytes = 1000};
  ims_decoder *dec = NULL;
  ims_image img;
  ims_status st = ims_decoder_create(&o, &dec, err);
  if (st == IMS_OK) st = ims_decoder_decode(dec, in->data, in->size, &img, err);
  ims_decoder_destroy(dec);
  return st;
}

static ims_status limit_pixels(const hostile *h, const fx_bytes *in,
                               ims_error *err) {
  (void)h;
  ims_decode_options o = {.max_pixels = 700}; /* the JPEG has 768 */
  ims_decoder *dec = NULL;
  ims_image img;
  ims_status st = ims_decoder_create(&o, &dec, err);
  if (st == IMS_OK) st = ims_decoder_decode(dec, in->data, in->size, &img, err);
  ims_decoder_destroy(dec);
  return st;
}

static void tiny_onnx(fx_bytes *b) {
  onnx_w w;
  onnx_start(&w);
  ow_node(&w, "Relu", "r1", IN("x"), IN("a"), NULL, 0);
  ow_node(&w, "Relu", "r2", IN("a"), IN("y"), NULL, 0);
  onnx_done(b, &w, "y");
}

static ims_status load_limited(const fx_bytes *in, const ims_limits *l,
                               ims_error *err) {
  ims_model *m = NULL;
  ims_status st = ims_model_load_memory_limits(in->data, in->size, l, &m, err);
  ims_model_destroy(m);
  return st;
}

static ims_status limit_model_bytes(const hostile *h, const fx_bytes *in,
                                    ims_error *err) {
  (void)h;
  ims_limits l = tight();
  l.max_model_bytes = in->size - 1;
  ims_status st = load_limited(in, &l, err);
  if (st != IMS_ERR_TOO_LARGE) return st;
  /* and from a file: refused before it is read */
  const char *path = in_scratch("model.onnx");
  write_bytes(path, in->data, in->size);
  ims_model *m = NULL;
  st = ims_model_load_file_limits(path, &l, &m, err);
  ims_model_destroy(m);
  return st;
}

static ims_status limit_tensors(const hostile *h, const fx_bytes *in,
                                ims_error *err) {
  (void)h;
  ims_limits l = tight();
  l.max_tensors = 1;
  return load_limited(in, &l, err);
}

static ims_status limit_operators(const hostile *h, const fx_bytes *in,
                                  ims_error *err) {
  (void)h;
  ims_limits l = tight();
  l.max_operators = 1;
  return load_limited(in, &l, err);
}

static const char *shared(const char *rel) {
  static char path[4096];
  const char *root = getenv("IMGSTREAM_SHARED");
  snprintf(path, sizeof path, "%s/%s",
           root != NULL && root[0] != '\0' ? root : "../shared", rel);
  return path;
}

/* 1000 images of the shared MobileNet within 10 MB: refused at create. */
static ims_status limit_batch_bytes(const hostile *h, const fx_bytes *in,
                                    ims_error *err) {
  (void)h, (void)in;
  char model[4096], labels[4096];
  snprintf(model, sizeof model, "%s",
           shared("models/mobilenet_v2_1.0_224_quant.tflite"));
  snprintf(labels, sizeof labels, "%s", shared("models/imagenet_labels.txt"));
  ims_limits l = tight();
  l.max_batch_bytes = 10u << 20;
  ims_classifier_options o = {.model_path = model,
                              .labels_path = labels,
                              .threads = 1,
                              .max_batch = 1000,
                              .limits = &l};
  ims_classifier *c = NULL;
  ims_status st = ims_classifier_create(&o, &c, err);
  ims_classifier_destroy(c);
  return st;
}

/* The CLI: --max-model-bytes below the model's size is exit 3 with the
 * library's message; a zero limit is a usage error (exit 2). */
static ims_status limit_cli(const hostile *h, const fx_bytes *in,
                            ims_error *err) {
  (void)h, (void)in;
  const char *bin = getenv("IMGSTREAM_BIN");
  if (bin == NULL || bin[0] == '\0') return broken(err, "no IMGSTREAM_BIN");
  char cmd[16384], model[4096];
  snprintf(model, sizeof model, "%s",
           shared("models/mobilenet_v2_1.0_224_quant.tflite"));
  const char *log = in_scratch("cli.log");
  snprintf(cmd, sizeof cmd,
           "'%s' classify --max-file-bytes 0 x.jpg "
           "2>/dev/null",
           bin);
  int usage = system(cmd);
  snprintf(cmd, sizeof cmd,
           "'%s' classify --max-model-bytes 100000 "
           "--model '%s' '%s' > /dev/null 2> '%s'",
           bin, model, shared("data/images/parrot.jpg"), log);
  int rc = system(cmd);
  if (!WIFEXITED(usage) || WEXITSTATUS(usage) != 2)
    return broken(err, "--max-file-bytes 0 is not a usage error");
  if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 3)
    return broken(err, "classify over --max-model-bytes: not exit 3");
  FILE *f = fopen(log, "r");
  size_t n = f != NULL ? fread(err->message, 1, sizeof err->message - 1, f) : 0;
  if (f != NULL) fclose(f);
  err->message[n] = '\0';
  return IMS_ERR_TOO_LARGE;
}

/* ---- 12. the corpus --------------------------------------------------- */

#define BAD_IMAGE IMS_ERR_BAD_IMAGE
#define TOO_LARGE IMS_ERR_TOO_LARGE
#define BAD_MODEL IMS_ERR_BAD_MODEL

static const hostile corpus[] = {
    /* images: the decoder reads the file, then the preprocessor */
    {"jpeg_truncated_header", "image", jpeg_truncated_header, run_image,
     "a.jpg", BAD_IMAGE, "JPEG"},
    {"jpeg_truncated_scan", "image", jpeg_truncated_scan, run_image, "a.jpg",
     BAD_IMAGE, "truncated"},
    {"jpeg_bad_huffman", "image", jpeg_bad_huffman, run_image, "a.jpg",
     BAD_IMAGE, "Huffman"},
    {"jpeg_huge_dims", "image", jpeg_huge_dims, run_image, "a.jpg", TOO_LARGE,
     "65500x65500 pixels, more than the limit"},
    {"jpeg_dims_past_libjpeg", "image", jpeg_dims_past_libjpeg, run_image,
     "a.jpg", BAD_IMAGE, "Maximum supported image dimension is 65500"},
    {"jpeg_zero_height", "image", jpeg_zero_height, run_image, "a.jpg",
     BAD_IMAGE, "JPEG"},
    {"jpeg_garbage_segments", "image", jpeg_garbage_segments, run_image,
     "a.jpg", BAD_IMAGE, "JPEG"},
    {"png_truncated", "image", png_truncated, run_image, "a.png", BAD_IMAGE,
     "PNG"},
    {"png_bad_crc", "image", png_bad_crc, run_image, "a.png", BAD_IMAGE, "PNG"},
    {"png_bomb_60000x60000", "image", png_bomb_dims, run_image, "a.png",
     TOO_LARGE, "60000x60000 pixels, more than the limit"},
    {"png_zero_width", "image", png_zero_width, run_image, "a.png", BAD_IMAGE,
     "PNG"},
    /* the rows the header declares are inflated, the rest never is */
    {"png_zlib_bomb", "image", png_zlib_bomb, run_image, "a.png", IMS_OK, ""},
    {"png_short_idat", "image", png_short_idat, run_image, "a.png", BAD_IMAGE,
     "PNG"},
    {"png_palette_missing", "image", png_palette_missing, run_image, "a.png",
     BAD_IMAGE, "PNG"},
    {"bmp_truncated", "image", bmp_truncated, run_image, "a.bmp", BAD_IMAGE,
     "BMP"},
    {"bmp_huge_dims", "image", bmp_huge_dims, run_image, "a.bmp", TOO_LARGE,
     "100000x100000 pixels, more than the limit"},
    {"bmp_zero_width", "image", bmp_zero_width, run_image, "a.bmp", BAD_IMAGE,
     "BMP"},
    {"bmp_int_min_height", "image", bmp_int_min_height, run_image, "a.bmp",
     BAD_IMAGE, "BMP"},
    {"bmp_bad_bpp", "image", bmp_bad_bpp, run_image, "a.bmp", BAD_IMAGE, "BMP"},
    {"bmp_palette_overflow", "image", bmp_palette_overflow, run_image, "a.bmp",
     BAD_IMAGE, "BMP"},
    {"bmp_offset_past_end", "image", bmp_offset_past_end, run_image, "a.bmp",
     BAD_IMAGE, "BMP"},
    /* a PNG named .jpg decodes: the format comes from the content */
    {"png_named_jpg", "image", png_named_jpg, run_image, "photo.jpg", IMS_OK,
     ""},
    {"text_named_jpg", "image", text_named_jpg, run_image, "photo.jpg",
     BAD_IMAGE, "looks like text"},
    {"gif_named_png", "image", gif_named_png, run_image, "photo.png", BAD_IMAGE,
     "GIF"},
    {"empty_named_jpg", "image", empty_named_jpg, run_image, "photo.jpg",
     BAD_IMAGE, "empty file"},
    {"fifo_named_jpg", "file", NULL, special_file, "photo.jpg", IMS_ERR_IO,
     "photo.jpg: is a FIFO, not a regular file"},
    {"devzero_named_jpg", "file", NULL, special_file, "zero.jpg", IMS_ERR_IO,
     "is a character device, not a regular file"},
    {"folder_named_jpg", "file", NULL, special_file, "dir.jpg", IMS_ERR_IO,
     "is a directory"},
    {"dangling_symlink", "file", NULL, special_file, "gone.jpg",
     IMS_ERR_NOT_FOUND, "gone.jpg"},
    {"symlink_loop", "file", NULL, special_file, "loop.jpg", IMS_ERR_IO,
     "symbolic links"},
    /* buckets */
    {"bucket_fifo", "bucket", NULL, bucket_fifo, NULL, IMS_ERR_IO,
     "is a FIFO, not a regular file"},
    {"bucket_key_dotdot", "bucket", NULL, bucket_key_dotdot, NULL,
     IMS_ERR_INVALID_ARG, "key"},
    {"bucket_key_absolute", "bucket", NULL, bucket_key_absolute, NULL,
     IMS_ERR_INVALID_ARG, "key"},
    {"bucket_key_hidden", "bucket", NULL, bucket_key_hidden, NULL,
     IMS_ERR_INVALID_ARG, "key"},
    {"bucket_key_dot", "bucket", NULL, bucket_key_dot, NULL,
     IMS_ERR_INVALID_ARG, "key"},
    /* archives: produce --download's extraction */
    {"archive_dotdot", "archive", arc_dotdot, run_archive, NULL,
     IMS_ERR_INVALID_ARG, "has a '..' component"},
    {"archive_absolute", "archive", arc_absolute, run_archive, NULL,
     IMS_ERR_INVALID_ARG, "has an absolute path"},
    {"archive_symlink_up", "archive", arc_symlink_up, run_archive, NULL,
     IMS_ERR_INVALID_ARG, "flowers/up"},
    {"archive_symlink_absolute", "archive", arc_symlink_absolute, run_archive,
     NULL, IMS_ERR_INVALID_ARG, "/etc/passwd"},
    {"archive_hardlink_out", "archive", arc_hardlink_out, run_archive, NULL,
     IMS_ERR_INVALID_ARG, "../../etc/shadow"},
    {"archive_fifo", "archive", arc_fifo, run_archive, NULL,
     IMS_ERR_INVALID_ARG, "is a device, FIFO or socket"},
    {"archive_device", "archive", arc_device, run_archive, NULL,
     IMS_ERR_INVALID_ARG, "is a device, FIFO or socket"},
    {"archive_gzip_bomb", "archive", arc_gzip_bomb, run_archive, NULL,
     TOO_LARGE, "archive unpacks to more than 1048576 bytes"},
    {"archive_zip_dotdot", "archive", arc_zip_dotdot, run_archive, NULL,
     IMS_ERR_INVALID_ARG, "has a '..' component"},
    {"archive_truncated", "archive", arc_truncated, run_archive, NULL,
     IMS_ERR_IO, "archive"},
    {"archive_garbage", "archive", arc_garbage, run_archive, NULL, IMS_ERR_IO,
     "not a readable archive"},
    /* TFLite models */
    {"tflite_cycle", "tflite", tfl_cycle, run_model, NULL, BAD_MODEL,
     "operator 0"},
    {"tflite_tensor_index", "tflite", tfl_bad_tensor_index, run_model, NULL,
     BAD_MODEL, "tensor 999, out of range"},
    {"tflite_io_index", "tflite", tfl_bad_io_index, run_model, NULL, BAD_MODEL,
     "tensor 70000, out of range"},
    {"tflite_short_buffer", "tflite", tfl_short_buffer, run_model, NULL,
     BAD_MODEL, "buffer"},
    {"tflite_absurd_shape", "tflite", tfl_absurd_shape, run_model, NULL,
     BAD_MODEL, "shape"},
    {"tflite_negative_dim", "tflite", tfl_negative_dim, run_model, NULL,
     BAD_MODEL, "dimension 1 is -5 (must be positive)"},
    {"tflite_truncated", "tflite", tfl_truncated, run_model, NULL, BAD_MODEL,
     "offset"},
    /* ONNX models */
    {"onnx_cycle", "onnx", onnx_cycle, run_model, NULL, BAD_MODEL, "cycl"},
    {"onnx_undefined_input", "onnx", onnx_undefined_input, run_model, NULL,
     BAD_MODEL, "nowhere"},
    {"onnx_short_raw_data", "onnx", onnx_short_raw, run_model, NULL, BAD_MODEL,
     "raw_data"},
    {"onnx_absurd_dims", "onnx", onnx_absurd_dims, run_model, NULL, BAD_MODEL,
     "huge dims"},
    {"onnx_reshape_overflow", "onnx", onnx_reshape_overflow, run_model, NULL,
     BAD_MODEL, "'rs' (Reshape): reshape changes the element count"},
    {"onnx_input_dims", "onnx", onnx_input_dims, run_model, NULL,
     IMS_ERR_UNSUPPORTED, "input 'x' has shape [1,3,2147483648,2147483648]"},
    {"onnx_external_escape", "onnx", onnx_external_escape, run_model_file,
     "model.onnx", BAD_MODEL, "../../../etc/passwd"},
    /* NATS image messages: the key, then the body's decode */
    {"nats_no_headers", "nats", nats_no_headers, run_nats, NULL, IMS_OK,
     "key=rose/seq-0: decoded"},
    {"nats_control_char_key", "nats", nats_control_key, run_nats, NULL, IMS_OK,
     "key=rose/c.jpg: decoded"},
    {"nats_key_too_long", "nats", nats_long_key, run_nats, NULL, IMS_OK,
     "key=tulip/seq-0: decoded"},
    {"nats_lying_reply", "nats", nats_lying_reply, run_nats, NULL, IMS_OK,
     "key=daisy/seq-0: decoded"},
    {"nats_text_body", "nats", nats_text_body, run_nats, NULL, BAD_IMAGE,
     "key=daisy/x.jpg: not a JPEG, PNG or BMP image (looks like text"},
    {"nats_empty_body", "nats", nats_empty_body, run_nats, NULL, BAD_IMAGE,
     "key=daisy/e.jpg: empty file"},
    {"nats_bomb_body", "nats", nats_bomb_body, run_nats, NULL, TOO_LARGE,
     "key=daisy/bomb.png: PNG is 60000x60000 pixels"},
    /* label files */
    {"labels_deep_nesting", "labels", labels_deep, run_labels, NULL,
     IMS_ERR_BAD_LABELS, "labels.json"},
    {"labels_truncated", "labels", labels_truncated, run_labels, NULL,
     IMS_ERR_BAD_LABELS, "labels.json"},
    {"labels_sparse_index", "labels", labels_sparse, run_labels, NULL,
     IMS_ERR_BAD_LABELS, "4000000000"},
    {"labels_negative_index", "labels", labels_negative, run_labels, NULL,
     IMS_ERR_BAD_LABELS, "-1"},
    {"labels_binary", "labels", labels_binary, run_labels, "labels.txt",
     IMS_ERR_BAD_LABELS, "labels.txt"},
    {"labels_fifo", "file", NULL, labels_fifo, NULL, IMS_ERR_IO,
     "is a FIFO, not a regular file"},
    /* checkpoint folders */
    {"checkpoint_fifo_offsets", "checkpoint", NULL, cp_fifo_offsets, NULL,
     IMS_ERR_IO, "is a FIFO, not a regular file"},
    {"checkpoint_fifo_snapshot", "checkpoint", NULL, cp_fifo_snapshot, NULL,
     IMS_ERR_IO, "is a FIFO, not a regular file"},
    {"checkpoint_garbage_offsets", "checkpoint", NULL, cp_garbage_offsets, NULL,
     IMS_ERR_IO, "unreadable"},
    {"checkpoint_max_batch_id", "checkpoint", NULL, cp_max_batch_id, NULL,
     IMS_ERR_IO, "batch 0 missing"},
    /* limits (limits.h), each exceeded */
    {"limit_file_bytes", "limits", jpeg_ok, limit_file_bytes, NULL, TOO_LARGE,
     "larger than the limit of 1000 bytes (max_file_bytes)"},
    {"limit_body_bytes", "limits", jpeg_ok, limit_body_bytes, NULL, TOO_LARGE,
     "more than the limit of 1000 (max_file_bytes)"},
    {"limit_pixels", "limits", jpeg_ok, limit_pixels, NULL, TOO_LARGE,
     "JPEG is 32x24 pixels, more than the limit of 700"},
    {"limit_model_bytes", "limits", tiny_onnx, limit_model_bytes, NULL,
     TOO_LARGE, "model.onnx: file of"},
    {"limit_tensors", "limits", tiny_onnx, limit_tensors, NULL, TOO_LARGE,
     "more than the limit of 1 (max_tensors)"},
    {"limit_operators", "limits", tiny_onnx, limit_operators, NULL, TOO_LARGE,
     "more than the limit of 1 (max_operators)"},
    {"limit_batch_bytes", "limits", NULL, limit_batch_bytes, NULL, TOO_LARGE,
     "a batch of 1000 images needs"},
    {"limit_cli", "limits", NULL, limit_cli, NULL, TOO_LARGE,
     "(max_model_bytes)"},
};

/* ---- 13. the driver --------------------------------------------------- */

static const char *volatile current = "";

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "hostile: HANG (no answer within the alarm): ";
  ssize_t w = write(2, msg, sizeof msg - 1);
  w = write(2, current, strlen(current));
  w = write(2, "\n", 1);
  (void)w;
  _exit(1);
}

/* Run one kind; 0 if it gave its defined outcome. */
static int run_one(const hostile *h) {
  fx_bytes in = {0};
  ims_error err;
  memset(&err, 0, sizeof err);
  if (h->make != NULL) h->make(&in);
  clear_scratch();
  current = h->name;
  alarm(HANG_SECONDS);
  ims_status st = h->run(h, &in, &err);
  alarm(0);
  free(in.data);
  int ok = st == h->want && (st == IMS_OK || err.message[0] != '\0') &&
           strstr(err.message, h->says) != NULL;
  fprintf(stderr, "%s %-28s %s: %s\n", ok ? "ok  " : "FAIL", h->name,
          ims_status_name(st), err.message);
  if (!ok)
    fprintf(stderr, "     want %s with \"%s\"\n", ims_status_name(h->want),
            h->says);
  return ok ? 0 : 1;
}

/* --write DIR: each byte-string kind as DIR/<area>/<kind>. */
static int write_corpus(const char *dir) {
  for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
    const hostile *h = &corpus[i];
    if (h->make == NULL) continue;
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, h->area);
    mkdir(dir, 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", dir, h->area, h->name);
    fx_bytes in = {0};
    h->make(&in);
    write_bytes(path, in.data, in.size);
    free(in.data);
  }
  return 0;
}

/* Is `name` a kind of the corpus? */
static int is_kind(const char *name) {
  for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++)
    if (strcmp(corpus[i].name, name) == 0) return 1;
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--write") == 0)
    return write_corpus(argv[2]);
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++)
      printf("%s\n", corpus[i].name);
    return fflush(stdout) == 0 ? 0 : 1;
  }
  int unknown = 0;
  for (int a = 1; a < argc; a++) {
    if (!is_kind(argv[a])) {
      fprintf(stderr, "No test with that name: %s\n", argv[a]);
      unknown = 1;
    }
  }
  if (unknown) return 1;
  const char *tmp = getenv("IMGSTREAM_TEST_TMP");
  snprintf(scratch, sizeof scratch, "%s/hostile-%ld",
           tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp", (long)getpid());
  if (mkdir(scratch, 0755) != 0) {
    fprintf(stderr, "hostile: mkdir %s: %s\n", scratch, strerror(errno));
    return 2;
  }
  signal(SIGALRM, on_alarm);
  int failed = 0, ran = 0;
  for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
    int selected = argc <= 1;
    for (int a = 1; a < argc; a++)
      selected |= strcmp(argv[a], corpus[i].name) == 0;
    if (!selected) continue;
    failed += run_one(&corpus[i]);
    ran++;
  }
  clear_scratch();
  rmdir(scratch);
  nats_Close();
  fprintf(stderr, "%d of %d hostile kinds gave their defined outcome\n",
          ran - failed, ran);
  return failed > 0 || ran == 0 ? 1 : 0;
}
