/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fs_int.h - file-system helpers every area shares: mkdir -p and rm -rf.
 *
 * Not here: durable writes (stream/stream_int.h, over the fault-injectable
 * ims_stream_io table) and reading files (core/file_int.h).
 *
 * Threading: no state.
 */
#ifndef IMS_CORE_FS_INT_H
#define IMS_CORE_FS_INT_H

/* mkdir -p `path` (mode 0755). Returns 0, or -1 with errno set. */
int ims__mkdirs(const char *path);

/* mkdir -p the folder that holds `path` (everything before its last '/');
 * nothing to do without a '/'. Returns 0, or -1 with errno set. */
int ims__mkdirs_parent(const char *path);

/* rm -rf `path` without following symbolic links. Best effort: returns 0
 * if it is gone afterwards, -1 otherwise. */
int ims__remove_tree(const char *path);

#endif /* IMS_CORE_FS_INT_H */
