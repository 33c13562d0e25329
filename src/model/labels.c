/* SPDX-License-Identifier: Apache-2.0 */
/*
 * labels.c - class label lists (labels.h): loading the Keras JSON class
 * index or a text file, the output-to-label mapping, and top-K.
 *
 * Not here: printing predictions (src/cli/).
 *
 * Formats:
 *  - Keras JSON: {"0": ["n01440764", "tench"], ...}: an object whose keys
 *    are the decimal indices 0..n-1, each exactly once (no leading zeros),
 *    each value a 2-element array of strings (WordNet id, name).
 *  - text: one name per line, '\n' or "\r\n"; the last line may or may
 *    not end in a newline; empty lines and NUL bytes are errors (they
 *    would shift every label after them). class == desc == the line.
 *  A file is JSON if its first non-blank byte (after a UTF-8 BOM) is '{'.
 *
 * Sections (keep this order):
 *   1. the object, accessors, destroy
 *   2. text files
 *   3. Keras JSON files
 *   4. ims_labels_load_file, ims_labels_output_offset, ims_top_k
 *
 * Threading: a loaded list is immutable; share it freely.
 */
#include "imgstream/labels.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "core/file_int.h"

/* Largest label file read. */
#define LABELS_MAX_FILE ((size_t)64 << 20)

/* ---- 1. the object ---------------------------------------------------- */

struct ims_labels {
  size_t count; /* entries */
  char **cls;   /* owned strings; cls[i] == desc[i] for text files */
  char **desc;  /* owned strings */
  char *path;   /* owned copy of the path, for messages */
};

void ims_labels_destroy(ims_labels *labels) {
  if (labels == NULL) return;
  for (size_t i = 0; i < labels->count; i++) {
    if (labels->cls != NULL && labels->desc != NULL &&
        labels->cls[i] != labels->desc[i])
      free(labels->cls[i]);
    if (labels->desc != NULL) free(labels->desc[i]);
  }
  free(labels->cls);
  free(labels->desc);
  free(labels->path);
  free(labels);
}

size_t ims_labels_count(const ims_labels *labels) { return labels->count; }

const char *ims_labels_class(const ims_labels *labels, size_t i) {
  return i < labels->count ? labels->cls[i] : NULL;
}

const char *ims_labels_desc(const ims_labels *labels, size_t i) {
  return i < labels->count ? labels->desc[i] : NULL;
}

/* A list of `count` empty entries named `path`; NULL if out of memory. */
static ims_labels *labels_new(const char *path, size_t count) {
  ims_labels *l = calloc(1, sizeof *l);
  if (l == NULL) return NULL;
  l->cls = calloc(count + 1, sizeof *l->cls);
  l->desc = calloc(count + 1, sizeof *l->desc);
  l->path = strdup(path);
  if (l->cls == NULL || l->desc == NULL || l->path == NULL) {
    ims_labels_destroy(l);
    return NULL;
  }
  l->count = count;
  return l;
}

static char *dup_range(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d == NULL) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

/* ---- 2. text files ---------------------------------------------------- */

/* Number of lines: a final newline does not start another line. */
static size_t count_lines(const char *s, size_t n) {
  size_t lines = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\n') lines++;
  }
  if (n > 0 && s[n - 1] != '\n') lines++;
  return lines;
}

static ims_status load_text(const char *path, const char *s, size_t n,
                            ims_labels **out, ims_error *err) {
  ims_status st = IMS_OK;
  if (memchr(s, '\0', n) != NULL)
    return ims__fail(err, IMS_ERR_BAD_LABELS, "%s: NUL byte in a text "
                     "label file", path);
  ims_labels *l = labels_new(path, count_lines(s, n));
  if (l == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  size_t pos = 0;
  for (size_t i = 0; i < l->count; i++) {
    const char *nl = memchr(s + pos, '\n', n - pos);
    size_t end = nl != NULL ? (size_t)(nl - s) : n;
    size_t len = end - pos;
    if (len > 0 && s[pos + len - 1] == '\r') len--;
    if (len == 0) {
      st = ims__fail(err, IMS_ERR_BAD_LABELS, "%s: line %zu is empty", path,
                     i + 1);
      goto fail;
    }
    l->desc[i] = dup_range(s + pos, len);
    if (l->desc[i] == NULL) {
      st = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
      goto fail;
    }
    l->cls[i] = l->desc[i];
    pos = end + 1;
  }
  *out = l;
  return IMS_OK;
fail:
  ims_labels_destroy(l);
  return st;
}

/* ---- 3. Keras JSON files ---------------------------------------------- */

/* Parse a decimal index without sign or leading zeros; -1 if not one. */
static long parse_index(const char *key) {
  size_t n = strlen(key);
  if (n == 0 || n > 9 || (n > 1 && key[0] == '0')) return -1;
  long v = 0;
  for (size_t i = 0; i < n; i++) {
    if (key[i] < '0' || key[i] > '9') return -1;
    v = v * 10 + (key[i] - '0');
  }
  return v;
}

/* Store entry `key` -> value (["wnid", "name"]) into l; seen[] marks
 * indices already set. */
static ims_status json_entry(ims_labels *l, const char *key, json_t *value,
                             unsigned char *seen, ims_error *err) {
  long idx = parse_index(key);
  if (idx < 0)
    return ims__fail(err, IMS_ERR_BAD_LABELS,
                     "%s: key \"%s\" is not a class index", l->path, key);
  if (!json_is_array(value) || json_array_size(value) != 2 ||
      !json_is_string(json_array_get(value, 0)) ||
      !json_is_string(json_array_get(value, 1)))
    return ims__fail(err, IMS_ERR_BAD_LABELS,
                     "%s: index %ld: value is not [\"class id\", \"name\"]",
                     l->path, idx);
  if ((size_t)idx >= l->count) return IMS_OK; /* reported as a gap */
  if (seen[idx])
    return ims__fail(err, IMS_ERR_BAD_LABELS, "%s: index %ld appears twice",
                     l->path, idx);
  seen[idx] = 1;
  l->cls[idx] = strdup(json_string_value(json_array_get(value, 0)));
  l->desc[idx] = strdup(json_string_value(json_array_get(value, 1)));
  if (l->cls[idx] == NULL || l->desc[idx] == NULL)
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  return IMS_OK;
}

/* Fill l from the object; every index 0..count-1 must appear. */
static ims_status json_entries(ims_labels *l, json_t *root,
                               ims_error *err) {
  unsigned char *seen = calloc(l->count + 1, 1);
  if (seen == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  ims_status st = IMS_OK;
  const char *key;
  json_t *value;
  json_object_foreach(root, key, value) {
    st = json_entry(l, key, value, seen, err);
    if (st != IMS_OK) break;
  }
  for (size_t i = 0; st == IMS_OK && i < l->count; i++) {
    if (!seen[i])
      st = ims__fail(err, IMS_ERR_BAD_LABELS, "%s: index %zu missing",
                     l->path, i);
  }
  free(seen);
  return st;
}

static ims_status load_json(const char *path, const char *s, size_t n,
                            ims_labels **out, ims_error *err) {
  ims_status st;
  ims_labels *l = NULL;
  json_error_t jerr;
  json_t *root = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL)
    return ims__fail(err, IMS_ERR_BAD_LABELS,
                     "%s: JSON error at line %d, column %d: %s", path,
                     jerr.line, jerr.column, jerr.text);
  if (!json_is_object(root) || json_object_size(root) == 0) {
    st = ims__fail(err, IMS_ERR_BAD_LABELS,
                   "%s: expected a non-empty object {\"0\": [\"class id\", "
                   "\"name\"], ...}", path);
    goto fail;
  }
  l = labels_new(path, json_object_size(root));
  if (l == NULL) {
    st = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
    goto fail;
  }
  st = json_entries(l, root, err);
  if (st != IMS_OK) goto fail;
  json_decref(root);
  *out = l;
  return IMS_OK;
fail:
  ims_labels_destroy(l);
  json_decref(root);
  return st;
}

/* ---- 4. public entry points ------------------------------------------- */

ims_status ims_labels_load_file(const char *path, ims_labels **labels_out,
                                ims_error *err) {
  void *data = NULL;
  size_t size = 0;
  if (path == NULL || labels_out == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "NULL path or labels_out");
  ims_status st = ims__file_read(path, LABELS_MAX_FILE, &data, &size, err);
  if (st != IMS_OK) return st;
  const char *s = data;
  size_t skip = 0;
  if (size >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) skip = 3;
  size_t first = skip;
  while (first < size && (s[first] == ' ' || s[first] == '\t' ||
                          s[first] == '\r' || s[first] == '\n'))
    first++;
  if (first == size)
    st = ims__fail(err, IMS_ERR_BAD_LABELS, "%s: empty label file", path);
  else if (s[first] == '{')
    st = load_json(path, s + skip, size - skip, labels_out, err);
  else
    st = load_text(path, s + skip, size - skip, labels_out, err);
  free(data);
  return st;
}

ims_status ims_labels_output_offset(const ims_labels *labels,
                                    size_t output_count, size_t *offset_out,
                                    ims_error *err) {
  if (output_count == labels->count + 1) {
    *offset_out = 1;
    return IMS_OK;
  }
  if (output_count == labels->count) {
    *offset_out = 0;
    return IMS_OK;
  }
  return ims__fail(err, IMS_ERR_BAD_LABELS,
                   "model has %zu outputs but %s has %zu labels",
                   output_count, labels->path, labels->count);
}

/* Does score a rank above b? NaN ranks below everything. */
static int ranks_above(float a, float b) {
  if (isnan(a)) return 0;
  return isnan(b) || a > b;
}

size_t ims_top_k(const float *scores, size_t n, size_t k,
                 ims_prediction *out) {
  size_t have = 0;
  if (k > n) k = n;
  for (size_t i = 0; i < n && k > 0; i++) {
    if (have == k && !ranks_above(scores[i], out[k - 1].score)) continue;
    /* Insert after every entry that ranks at least as high (ties keep the
     * lower index first, since it was seen first). */
    size_t j = have < k ? have : k - 1;
    while (j > 0 && ranks_above(scores[i], out[j - 1].score)) {
      out[j] = out[j - 1];
      j--;
    }
    out[j].index = (uint32_t)i;
    out[j].score = scores[i];
    if (have < k) have++;
  }
  return have;
}
