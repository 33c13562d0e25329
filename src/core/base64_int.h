/* SPDX-License-Identifier: Apache-2.0 */
/*
 * base64_int.h - RFC 4648 base64 (standard alphabet, '=' padding), for
 * binary data inside JSON files (the learned samples a checkpoint commit
 * records).
 *
 * Threading: no shared state.
 */
#ifndef IMS_CORE_BASE64_INT_H
#define IMS_CORE_BASE64_INT_H

#include <stddef.h>

/* Characters ims__base64_encode writes for n bytes (no NUL). */
static inline size_t ims__base64_size(size_t n) { return (n + 2) / 3 * 4; }

/* Encode n bytes of `in` into out (ims__base64_size(n) chars, no NUL). */
void ims__base64_encode(const void *in, size_t n, char *out);

/* Decode `len` chars of `in` into out (room for len / 4 * 3 bytes).
 * Returns the bytes written, or -1 if `in` is not canonical base64 (a
 * length not a multiple of 4, a character outside the alphabet, padding
 * anywhere but at the end). */
long ims__base64_decode(const char *in, size_t len, void *out);

#endif /* IMS_CORE_BASE64_INT_H */
