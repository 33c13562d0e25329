/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dataset.h - internals shared by the producer's library files
 * (public side: include/imgstream/dataset.h):
 *
 *   dataset.c        scan, shuffle, read, keys
 *   dataset_clean.c  stale temporary files in a dir:// bucket; the
 *                    leftover helpers below
 *   download.c       libcurl download and the dataset cache
 *   extract.c        libarchive extraction with the safe-path checks
 *
 * Threading: no shared state.
 */
#ifndef IMS_STREAM_DATASET_H
#define IMS_STREAM_DATASET_H

#include <stdbool.h>
#include <stdint.h>

#include "imgstream/dataset.h"

/* True if no process `pid` runs on this machine (kill(pid, 0) gives
 * ESRCH). False for pid <= 0 and for live processes of other users. */
bool ims__pid_gone(long pid);

/* Parse the PID out of a leftover name "<anything>.<PID>.<suffix>" where
 * `suffix` is the last dot-separated part ("tmp", "download", "partial")
 * - for bucket temporaries ".NAME.PID.N.tmp" pass skip = 1 to step over
 * N. Returns the PID, or -1 if the name does not have that shape. */
long ims__leftover_pid(const char *name, int skip);

/* rm -rf `path` without following symbolic links. Best effort: returns 0
 * if it is gone afterwards, -1 otherwise. */
int ims__remove_tree(const char *path);

/* mkdir -p `path` (mode 0755). Returns 0, or -1 with errno set. */
int ims__mkdirs(const char *path);

/* Extract the archive file `archive` into the existing, empty folder
 * `dest`, applying the checks listed at ims_dataset_download. On failure
 * `dest` may hold part of the archive: the caller removes it.
 * @param stop       optional: give up when *stop != 0.
 * @param max_bytes  limit on the extracted content. */
ims_status ims__archive_extract(const char *archive, const char *dest,
                                uint64_t max_bytes, const volatile int *stop,
                                ims_error *err);

#endif /* IMS_STREAM_DATASET_H */
