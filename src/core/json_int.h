/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_int.h - what imgstream adds to jansson: strings from untrusted
 * names (file paths, object keys, label files) that are not always UTF-8.
 *
 * jansson refuses a string that is not valid UTF-8; a row or a report
 * must not be lost over a file named in Latin-1, so such bytes become '?'.
 *
 * Threading: no state.
 */
#ifndef IMS_CORE_JSON_INT_H
#define IMS_CORE_JSON_INT_H

#include <jansson.h>

/* A JSON string of s (NULL = ""); bytes of invalid UTF-8 made '?'.
 * Returns a new reference, or NULL if out of memory. */
json_t *ims__json_str_lossy(const char *s);

#endif /* IMS_CORE_JSON_INT_H */
