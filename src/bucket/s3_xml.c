/* SPDX-License-Identifier: Apache-2.0 */
/*
 * s3_xml.c - the XML an S3-protocol server answers with (see s3_int.h,
 * section 2), parsed with libxml2 into a tree and walked by element name:
 *
 *   <ListBucketResult>                    ListObjectsV2, one page
 *     <IsTruncated>true</IsTruncated>
 *     <NextContinuationToken>...</NextContinuationToken>
 *     <Contents><Key>p/daisy/a.jpg</Key>
 *       <LastModified>2026-01-31T12:34:56.000Z</LastModified>
 *       <Size>46123</Size>...</Contents> ...
 *   <Error><Code>SlowDown</Code><Message>...</Message></Error>
 *
 * Elements are matched by local name, whatever their namespace (AWS and
 * s3rver use the 2006-03-01 namespace, others none). Parsing never loads
 * external entities or DTDs (XML_PARSE_NONET, no XML_PARSE_NOENT or
 * DTDLOAD), so a hostile server cannot make us read files or the network.
 *
 * Sections: 1. helpers  2. listing  3. errors
 *
 * Threading: no shared state (libxml2 is thread-safe for separate docs).
 */
#define _GNU_SOURCE
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error_int.h"
#include "bucket/bucket_int.h"
#include "bucket/s3_int.h"
#include "core/clock_int.h"

#define PARSE_FLAGS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

/* ---- 1. helpers ---- */

static bool named(const xmlNode *n, const char *name) {
  return n->type == XML_ELEMENT_NODE &&
         strcmp((const char *)n->name, name) == 0;
}

/* First child element called `name`, or NULL. */
static xmlNode *child(const xmlNode *parent, const char *name) {
  for (xmlNode *c = parent->children; c != NULL; c = c->next)
    if (named(c, name)) return c;
  return NULL;
}

/* The text of child `name` (malloc'd by libxml2: xmlFree), or NULL. */
static char *child_text(const xmlNode *parent, const char *name) {
  xmlNode *c = child(parent, name);
  return c != NULL ? (char *)xmlNodeGetContent(c) : NULL;
}

static xmlDoc *parse(const char *xml, size_t len) {
  if (len > (size_t)0x7fffffff) return NULL;
  return xmlReadMemory(xml, (int)len, "s3.xml", NULL, PARSE_FLAGS);
}

/* ---- 2. listing ---- */

static int page_add(ims__s3_page *p, const char *key, uint64_t size,
                    int64_t t) {
  if (p->count == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 1024;
    ims_object *grown = realloc(p->items, cap * sizeof *grown);
    if (grown == NULL) return -1;
    p->items = grown;
    p->cap = cap;
  }
  char *copy = strdup(key);
  if (copy == NULL) return -1;
  p->items[p->count++] = (ims_object){copy, size, t};
  return 0;
}

/* One <Contents>: added, skipped (not under the prefix, a folder marker,
 * an invalid key), or an error. */
static ims_status add_contents(const xmlNode *c, const char *prefix,
                               ims__s3_page *page, ims_error *err) {
  char *key = child_text(c, "Key");
  char *when = child_text(c, "LastModified");
  char *size = child_text(c, "Size");
  ims_status st = IMS_OK;
  int64_t t = 0;
  char *end = NULL;
  unsigned long long bytes = size ? strtoull(size, &end, 10) : 0;
  size_t plen = strlen(prefix);
  if (key == NULL || size == NULL || *end != '\0' ||
      ims__parse_iso8601_ms(when, &t) != 0) {
    st = ims__fail(err, IMS_ERR_IO,
                   "S3 listing: an entry without a Key, a Size or a "
                   "LastModified time (key '%.200s')",
                   key ? key : "");
  } else if (plen > 0 &&
             (strncmp(key, prefix, plen) != 0 || key[plen] != '/')) {
    page->skipped++;
  } else if (!ims__bucket_key_ok(key + (plen ? plen + 1 : 0)) ||
             key[strlen(key) - 1] == '/') {
    page->skipped++; /* "folder/" markers, ".hidden", "a//b" */
  } else if (page_add(page, key + (plen ? plen + 1 : 0), bytes, t) != 0) {
    st = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  xmlFree(key);
  xmlFree(when);
  xmlFree(size);
  return st;
}

ims_status ims__s3_parse_list(const char *xml, size_t len, const char *prefix,
                              ims__s3_page *page, ims_error *err) {
  xmlDoc *doc = parse(xml, len);
  xmlNode *root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
  if (root == NULL || !named(root, "ListBucketResult")) {
    xmlFreeDoc(doc);
    return ims__fail(err, IMS_ERR_IO,
                     "S3 listing: the reply is not a ListBucketResult "
                     "(%.80s)",
                     len > 0 ? xml : "empty");
  }
  ims_status st = IMS_OK;
  for (xmlNode *c = root->children; st == IMS_OK && c != NULL; c = c->next)
    if (named(c, "Contents")) st = add_contents(c, prefix, page, err);
  char *trunc = child_text(root, "IsTruncated");
  char *token = child_text(root, "NextContinuationToken");
  page->truncated = trunc != NULL && strcmp(trunc, "true") == 0;
  free(page->next_token);
  page->next_token = token != NULL ? strdup(token) : NULL;
  if (st == IMS_OK && token != NULL && page->next_token == NULL)
    st = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  if (st == IMS_OK && page->truncated && page->next_token == NULL)
    st = ims__fail(err, IMS_ERR_IO,
                   "S3 listing: IsTruncated without a "
                   "NextContinuationToken");
  xmlFree(trunc);
  xmlFree(token);
  xmlFreeDoc(doc);
  return st;
}

void ims__s3_page_clear(ims__s3_page *page) {
  ims_bucket_list_free(page->items, page->count);
  free(page->next_token);
  memset(page, 0, sizeof *page);
}

/* ---- 3. errors ---- */

void ims__s3_parse_error(const char *xml, size_t len, char *code,
                         size_t code_cap, char *msg, size_t msg_cap) {
  code[0] = msg[0] = '\0';
  xmlDoc *doc = len > 0 ? parse(xml, len) : NULL;
  xmlNode *root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
  if (root != NULL && named(root, "Error")) {
    char *c = child_text(root, "Code");
    char *m = child_text(root, "Message");
    snprintf(code, code_cap, "%s", c ? c : "");
    snprintf(msg, msg_cap, "%s", m ? m : "");
    xmlFree(c);
    xmlFree(m);
  }
  xmlFreeDoc(doc);
}
