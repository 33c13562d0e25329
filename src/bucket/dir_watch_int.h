/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dir_watch_int.h - what the dir:// backend's inotify watch saw land
 * (dir_watch.c says how, and when it cannot say).
 *
 * Use: open with the bucket; wait (poll with a timeout); at the start of
 * every full listing, reset; between listings, changes gives the keys of
 * the files landed since, and whether that is all of them; taken drops
 * the keys once they are looked at.
 *
 * Threading: one thread at a time per watch.
 */
#ifndef IMS_BUCKET_DIR_WATCH_INT_H
#define IMS_BUCKET_DIR_WATCH_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "imgstream/status.h"

typedef struct ims__dir_watch ims__dir_watch;

/* Watch `root` and every folder below it into *out; *out NULL (IMS_OK)
 * when inotify cannot be set up here (then the bucket's waits are plain
 * sleeps); IMS_ERR_NO_MEMORY. The record starts incomplete: the first
 * look lists. */
ims_status ims__dir_watch_open(const char *root, ims__dir_watch **out,
                               ims_error *err);
void ims__dir_watch_close(ims__dir_watch *w); /* NULL: no-op */

/* Wait up to timeout_ms for an event; record what came. */
void ims__dir_watch_wait(ims__dir_watch *w, int timeout_ms);

/* A full listing starts: forget the record; from now on it is complete
 * until the events cannot say. */
void ims__dir_watch_reset(ims__dir_watch *w);

/* The keys of the files landed since the last reset or taken (event
 * order, possibly repeated, possibly since deleted), valid until the next
 * call; true if they are all of them. */
bool ims__dir_watch_changes(ims__dir_watch *w, const char *const **keys,
                            size_t *count);

/* The keys of the last changes call are dealt with: forget them. */
void ims__dir_watch_taken(ims__dir_watch *w);

#endif /* IMS_BUCKET_DIR_WATCH_INT_H */
