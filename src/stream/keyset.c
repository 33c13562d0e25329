/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyset.c - a set of object keys: open addressing with linear probing,
 * FNV-1a hashes, grown to keep the load under 1/2. Keys are copied.
 * Used for "already taken" (committed, in flight or queued) keys.
 *
 * Memory per key: the malloc'd copy (glibc: length + 9 rounded up to 16,
 * 32 at least) plus 16-32 bytes of slots (load kept in (1/4, 1/2]) -
 * about 50 bytes for a 17-byte key (docs/STREAM.md, "Memory").
 *
 * Not here: deletion (keys are only ever added while a stream runs; why
 * old keys are not dropped: docs/STREAM.md).
 *
 * Threading: one thread at a time per set.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "stream/stream_int.h"

struct ims__keyset {
  char **slots;  /* owned: cap entries, NULL = empty */
  size_t cap;    /* power of two */
  size_t count;  /* keys held */
};

static uint64_t fnv1a(const char *s) {
  uint64_t h = 1469598103934665603u;
  for (; *s != '\0'; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211u;
  }
  return h;
}

ims_status ims__keyset_create(ims__keyset **out, ims_error *err) {
  ims__keyset *set = calloc(1, sizeof *set);
  if (set != NULL) set->slots = calloc(1024, sizeof *set->slots);
  if (set == NULL || set->slots == NULL) {
    free(set);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  set->cap = 1024;
  *out = set;
  return IMS_OK;
}

void ims__keyset_destroy(ims__keyset *set) {
  if (set == NULL) return;
  for (size_t i = 0; i < set->cap; i++) free(set->slots[i]);
  free(set->slots);
  free(set);
}

/* Slot of key, or of the empty slot where it would go. */
static size_t find(char *const *slots, size_t cap, const char *key) {
  size_t i = (size_t)fnv1a(key) & (cap - 1);
  while (slots[i] != NULL && strcmp(slots[i], key) != 0)
    i = (i + 1) & (cap - 1);
  return i;
}

static int grow(ims__keyset *set) {
  size_t cap = set->cap * 2;
  char **slots = calloc(cap, sizeof *slots);
  if (slots == NULL) return -1;
  for (size_t i = 0; i < set->cap; i++) {
    if (set->slots[i] != NULL)
      slots[find(slots, cap, set->slots[i])] = set->slots[i];
  }
  free(set->slots);
  set->slots = slots;
  set->cap = cap;
  return 0;
}

int ims__keyset_add(ims__keyset *set, const char *key) {
  if ((set->count + 1) * 2 > set->cap && grow(set) != 0) return -1;
  size_t i = find(set->slots, set->cap, key);
  if (set->slots[i] != NULL) return 0;
  set->slots[i] = strdup(key);
  if (set->slots[i] == NULL) return -1;
  set->count++;
  return 1;
}

bool ims__keyset_has(const ims__keyset *set, const char *key) {
  return set->slots[find(set->slots, set->cap, key)] != NULL;
}

size_t ims__keyset_count(const ims__keyset *set) { return set->count; }
