/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dataset.h - the producer's side of the pipeline: a labeled image dataset
 * (one folder per category) scanned into a list, shuffled reproducibly,
 * read file by file and named as bucket keys; fetching such a dataset as an
 * archive over http(s); and removing the temporary files a killed producer
 * left in a dir:// bucket.
 *
 * Dataset layout: ROOT/CATEGORY/FILE. Only the first level of ROOT
 * (categories) and the second (files) are read. Names starting with '.'
 * are ignored silently, files directly in ROOT too (e.g. LICENSE.txt of
 * TensorFlow's flower_photos.tgz). A file is an image when its first
 * bytes are a JPEG (FF D8 FF), PNG (89 'PNG' 0D 0A 1A 0A) or BMP ("BM")
 * signature, whatever its name; other files, unreadable files and
 * folders inside a category are recorded as skipped, with the reason.
 *
 * Order: categories and the files in each are sorted bytewise (strcmp, no
 * locale), so a scan gives the same list on every machine. The shuffle
 * (ims_dataset_shuffle) is Fisher-Yates driven by splitmix64, fully
 * specified below, so a seed gives the same order everywhere.
 *
 * Lifecycle: scan -> shuffle/get/read/key (repeatable) -> destroy.
 * Threading: one thread at a time per dataset; different datasets and
 * ims_dataset_download calls are independent.
 */
#ifndef IMGSTREAM_DATASET_H
#define IMGSTREAM_DATASET_H

#include "imgstream/bucket.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ims_dataset ims_dataset;

/* One image of a dataset. Every string is BORROWED from the dataset and
 * valid until ims_dataset_destroy(). */
typedef struct ims_dataset_item {
  const char *category; /* output: category folder name ("daisy") */
  const char *name;     /* output: file name ("123_abc.jpg") */
  const char *path;     /* output: "ROOT/CATEGORY/NAME" */
  uint64_t size;        /* output: bytes at scan time */
} ims_dataset_item;

/* A file the scan left out, or an empty category (count == 0 there). */
typedef struct ims_dataset_skip {
  const char *path;   /* output: BORROWED, "ROOT/CATEGORY[/NAME]" */
  const char *reason; /* output: BORROWED, "not a JPEG, PNG or BMP image",
                         "Permission denied", "no images", ... */
} ims_dataset_skip;

/// Scan a dataset root (layout above). Empty categories are kept in the
/// category list with a count of 0 and recorded as skipped.
/// @param root        BORROWED for the call (copied into item paths).
/// @param dataset_out set only on IMS_OK; free with ims_dataset_destroy().
/// @retval IMS_OK
/// @retval IMS_ERR_NOT_FOUND  root does not exist
/// @retval IMS_ERR_IO         root is not a readable folder
/// @retval IMS_ERR_NO_MEMORY
/// A dataset with no image at all is not an error here (count 0).
/// Cost: one open() and a 12-byte read() per file.
IMS_API ims_status ims_dataset_scan(const char *root,
                                    ims_dataset **dataset_out,
                                    ims_error *err);

/// Free a dataset. NULL is a no-op.
IMS_API void ims_dataset_destroy(ims_dataset *dataset);

/// Number of images (all categories).
IMS_API size_t ims_dataset_count(const ims_dataset *dataset);

/// Image `index` (< ims_dataset_count) in the current order: sorted by
/// (category, name) after the scan, shuffled after ims_dataset_shuffle.
/// Returns NULL if index is out of range. BORROWED.
IMS_API const ims_dataset_item *ims_dataset_get(const ims_dataset *dataset,
                                                size_t index);

/// Number of category folders, empty ones included.
IMS_API size_t ims_dataset_category_count(const ims_dataset *dataset);

/// Category `index` in sorted order: its name (BORROWED) and image count.
/// @retval IMS_ERR_INVALID_ARG  index out of range (outputs untouched)
IMS_API ims_status ims_dataset_category(const ims_dataset *dataset,
                                        size_t index, const char **name_out,
                                        size_t *count_out, ims_error *err);

/// Number of files and folders the scan skipped (see ims_dataset_skip).
IMS_API size_t ims_dataset_skipped_count(const ims_dataset *dataset);

/// Skipped entry `index`, in scan order. Returns NULL if out of range.
/// BORROWED.
IMS_API const ims_dataset_skip *ims_dataset_skipped(
    const ims_dataset *dataset, size_t index);

/// Put the images in the order given by `seed`, starting again from the
/// sorted order (so the result depends on the seed only, not on earlier
/// calls). The algorithm, part of the API (do not change it: saved seeds
/// must keep their meaning):
///
///   splitmix64: s += 0x9E3779B97F4A7C15; z = s;
///               z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
///               z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
///               return z ^ (z >> 31);            (s starts at `seed`)
///   uniform(b): t = (2^64 - b) mod b; draw r = splitmix64() until r >= t;
///               return r mod b                    (no modulo bias)
///   for i = n-1 down to 1: j = uniform(i + 1); swap(order[i], order[j])
///
/// Cost: O(n).
IMS_API void ims_dataset_shuffle(ims_dataset *dataset, uint64_t seed);

/// Read image `index` (current order) from disk.
/// @param data_out  TRANSFERRED on IMS_OK: free with free().
/// @retval IMS_ERR_NOT_FOUND  the file is gone
/// @retval IMS_ERR_IO         unreadable now (the message names the path)
/// @retval IMS_ERR_TOO_LARGE  larger than 1 GiB
/// @retval IMS_ERR_INVALID_ARG index out of range
IMS_API ims_status ims_dataset_read(const ims_dataset *dataset, size_t index,
                                    void **data_out, size_t *size_out,
                                    ims_error *err);

/// The bucket key of image `index` (current order) in upload round
/// `round`: "CATEGORY/NAME" in round 0; from round 1 on, "-rROUND" goes
/// before the extension so every round's objects are new
/// ("daisy/123_abc-r2.jpg"; a name without an extension gets the suffix
/// at its end).
/// @param buf  written on IMS_OK, NUL-terminated, `cap` bytes at most.
/// @retval IMS_ERR_INVALID_ARG  index out of range, or the key does not
///                              fit in `cap`
IMS_API ims_status ims_dataset_key(const ims_dataset *dataset, size_t index,
                                   uint64_t round, char *buf, size_t cap,
                                   ims_error *err);

/* ---- fetching a dataset archive ---- */

/* Options of ims_dataset_download. */
typedef struct ims_download_options {
  const char *cache_dir;   /* input: folder that keeps extracted datasets
                              (created if missing). BORROWED. Not NULL. */
  int progress_fd;         /* input: draw a text progress bar (no colors)
                              on this descriptor; -1 = none */
  uint64_t max_bytes;      /* input: refuse an archive whose download or
                              extracted content is larger; 0 = 16 GiB */
  long connect_timeout_s;  /* input: 0 = 30 seconds */
  const volatile int *stop; /* input, optional: the call gives up (with
                              IMS_ERR_IO, "interrupted") soon after *stop
                              becomes non-zero, e.g. from a signal
                              handler. BORROWED for the call. */
} ims_download_options;

/* Flags ims_dataset_download writes to *flags_out. */
#define IMS_DOWNLOAD_CACHED 0x1u /* the dataset was already in the cache;
                                    nothing was downloaded */

/// Fetch a dataset archive (tar, tar.gz/.tgz, tar.bz2, tar.xz, zip: what
/// libarchive reads) from an http:// or https:// URL with libcurl, and
/// unpack it into CACHE/NAME-HASH (NAME from the URL's last path segment
/// without its archive extension, HASH = FNV-1a 32 of the URL, in hex).
/// If that folder exists, it is used as is (IMS_DOWNLOAD_CACHED).
///
/// Safety: the archive is downloaded to CACHE/.NAME-HASH.PID.download and
/// unpacked into CACHE/.NAME-HASH.PID.partial, which is renamed into place
/// only when every entry was written; a half-done extraction is never
/// used, and leftovers of killed runs (their PID gone) are removed on the
/// next call. The downloaded archive is deleted afterwards, as the
/// original producer did. The whole archive is refused (nothing kept) if
/// an entry has an absolute path or a ".." component, is a symbolic link
/// whose target is absolute or contains "..", a hard link to such a path,
/// or a device, FIFO or socket. Regular files are created with O_EXCL and
/// O_NOFOLLOW and mode 0644, folders 0755; archive permissions and owners
/// are ignored.
///
/// @param url       BORROWED for the call.
/// @param options   BORROWED for the call.
/// @param root_out  on IMS_OK, TRANSFERRED (free with free()): the dataset
///                  root - the unpacked folder, or its only entry when that
///                  is a folder holding folders (flower_photos.tgz holds
///                  "flower_photos/daisy/...").
/// @param flags_out optional; on IMS_OK, IMS_DOWNLOAD_* bits.
/// @retval IMS_ERR_INVALID_ARG  not an http(s) URL; or an unsafe archive
///                              entry (the message names it)
/// @retval IMS_ERR_IO           network or HTTP error (message from
///                              libcurl), unreadable archive, write error,
///                              or interrupted
/// @retval IMS_ERR_TOO_LARGE    over options->max_bytes
/// Blocks for the whole transfer. Not async-signal-safe.
IMS_API ims_status ims_dataset_download(const char *url,
                                        const ims_download_options *options,
                                        char **root_out, uint32_t *flags_out,
                                        ims_error *err);

/* ---- bucket housekeeping ---- */

/// Remove the temporary files a killed producer left in the category
/// folders of `dataset` inside a dir:// bucket: names "." NAME "." PID "."
/// N ".tmp" (see src/bucket/dir.c) older than `max_age_ms`, or whose PID is
/// not a running process on this machine (a put of another live producer
/// on this machine is never touched). Caveat: a bucket folder shared by
/// producers on several machines must not rely on the PID rule; pass
/// such producers separate folders.
/// Buckets without local paths have nothing to clean: IMS_OK, 0 removed.
/// @param removed_out optional: files removed.
/// @retval IMS_ERR_IO  a folder could not be read (files that vanish or
///                     cannot be removed are skipped, not errors)
IMS_API ims_status ims_dataset_clean_bucket(ims_bucket *bucket,
                                            const ims_dataset *dataset,
                                            int64_t max_age_ms,
                                            size_t *removed_out,
                                            ims_error *err);

#ifdef __cplusplus
}
#endif

#endif /* IMGSTREAM_DATASET_H */
