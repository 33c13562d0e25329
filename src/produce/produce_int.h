/* SPDX-License-Identifier: Apache-2.0 */
/*
 * produce_int.h - internals shared by the producer's library files
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
#ifndef IMS_PRODUCE_PRODUCE_INT_H
#define IMS_PRODUCE_PRODUCE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "imgstream/dataset.h"
#include "core/fs_int.h"

/* True if no process `pid` runs on this machine (kill(pid, 0) gives
 * ESRCH). False for pid <= 0 and for live processes of other users. */
bool ims__pid_gone(long pid);

/* Parse the PID out of a leftover name "<anything>.<PID>.<suffix>" where
 * `suffix` is the last dot-separated part ("tmp", "download", "partial")
 * - for bucket temporaries ".NAME.PID.N.tmp" pass skip = 1 to step over
 * N. Returns the PID, or -1 if the name does not have that shape. */
long ims__leftover_pid(const char *name, int skip);

/* Extract the archive file `archive` into the existing, empty folder
 * `dest`, applying the checks listed at ims_dataset_download. On failure
 * `dest` may hold part of the archive: the caller removes it.
 * @param stop       optional: give up when *stop != 0.
 * @param max_bytes  limit on the extracted content. */
ims_status ims__archive_extract(const char *archive, const char *dest,
                                uint64_t max_bytes, const volatile int *stop,
                                ims_error *err);

#endif /* IMS_PRODUCE_PRODUCE_INT_H */
