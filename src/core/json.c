/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.c - JSON strings from names that may not be UTF-8 (json_int.h).
 *
 * Threading: no state.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "core/json_int.h"

json_t *ims__json_str_lossy(const char *s) {
  if (s == NULL) s = "";
  json_t *j = json_string(s);
  if (j != NULL) return j;
  char *copy = strdup(s);
  if (copy == NULL) return NULL;
  for (char *p = copy; *p != '\0'; p++) {
    if ((unsigned char)*p >= 0x80) *p = '?';
  }
  j = json_string(copy);
  free(copy);
  return j;
}
