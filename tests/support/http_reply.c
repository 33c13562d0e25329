/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/http_reply.c - the incremental HTTP/1.1 response parser of
 * http_reply.h.
 *
 * A state machine over the bytes fed: HEAD gathers the status line and
 * headers into buf until the empty line, then the head picks how the
 * body ends (Content-Length: BODY_LEN; chunked: CHUNK_LINE, CHUNK_DATA,
 * CHUNK_CRLF, then TRAILER; neither: BODY_EOF, until the server closes;
 * 204, 304: no body). Body bytes are counted, never stored, so memory is
 * the head's buffer whatever the server sends.
 *
 * Sections: 1. the head  2. chunks  3. feeding
 */
#define _GNU_SOURCE
#include "support/http_reply.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

enum {
  S_HEAD,       /* status line and headers into buf */
  S_BODY_LEN,   /* `left` bytes of a Content-Length body */
  S_BODY_EOF,   /* a body delimited by the end of the connection */
  S_CHUNK_LINE, /* a chunk-size line into buf */
  S_CHUNK_DATA, /* `left` bytes of a chunk */
  S_CHUNK_CRLF, /* the CRLF after a chunk's data (buf counts it) */
  S_TRAILER,    /* trailer lines after the last chunk, into buf */
  S_DONE,
  S_BAD
};

#define CHUNK_LINE_MAX 64

void http_reply_init(http_reply *r) {
  memset(r, 0, offsetof(http_reply, buf));
  r->state = S_HEAD;
}

bool http_reply_empty(const http_reply *r) {
  return r->state == S_HEAD && r->n == 0 && r->status == 0;
}

/* ---- 1. the head ---- */

/* What the headers say about the body. */
typedef struct head_info {
  bool chunked;      /* Transfer-Encoding ends in chunked */
  bool other_coding; /* Transfer-Encoding without chunked: until close */
  bool has_length;   /* Content-Length seen */
  uint64_t length;   /* its value */
} head_info;

/* The comma-separated list v (n bytes) has the token `tok`, case
 * aside; last: only as its last element. */
static bool has_token(const char *v, size_t n, const char *tok, bool last) {
  size_t k = strlen(tok);
  bool found = false;
  for (size_t i = 0; i <= n;) {
    size_t j = i;
    while (j < n && v[j] != ',') j++;
    size_t a = i, z = j;
    while (a < z && (v[a] == ' ' || v[a] == '\t')) a++;
    while (z > a && (v[z - 1] == ' ' || v[z - 1] == '\t')) z--;
    found = z - a == k && strncasecmp(v + a, tok, k) == 0;
    if (found && !last) return true;
    i = j + 1;
  }
  return found;
}

/* Digits only, at most HTTP_REPLY_BODY_MAX; false otherwise. */
static bool parse_length(const char *v, size_t n, uint64_t *out) {
  uint64_t x = 0;
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9') return false;
    x = x * 10 + (uint64_t)(v[i] - '0');
    if (x > HTTP_REPLY_BODY_MAX) return false;
  }
  *out = x;
  return true;
}

/* One "Name: value" line (no CRLF) into *h and r->close. */
static bool header_line(http_reply *r, const char *l, size_t n,
                        head_info *h) {
  const char *colon = memchr(l, ':', n);
  if (colon == NULL || colon == l) return false;
  size_t name = (size_t)(colon - l);
  const char *v = colon + 1;
  size_t vn = n - name - 1;
  while (vn > 0 && (*v == ' ' || *v == '\t')) v++, vn--;
  while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t')) vn--;
  if (name == 14 && strncasecmp(l, "Content-Length", 14) == 0) {
    uint64_t len = 0;
    if (!parse_length(v, vn, &len)) return false;
    if (h->has_length && h->length != len) return false;
    h->has_length = true;
    h->length = len;
  } else if (name == 17 && strncasecmp(l, "Transfer-Encoding", 17) == 0) {
    h->chunked = has_token(v, vn, "chunked", true);
    h->other_coding = !h->chunked;
  } else if (name == 10 && strncasecmp(l, "Connection", 10) == 0) {
    if (has_token(v, vn, "close", false)) r->close = true;
    else if (has_token(v, vn, "keep-alive", false)) r->close = false;
  }
  return true;
}

/* The head is in buf[0..n), ending in CRLF CRLF: status and headers,
 * then the state the body starts in. */
static int parse_head(http_reply *r) {
  const char *b = r->buf;
  if (r->n < 14 || memcmp(b, "HTTP/1.", 7) != 0 ||
      (b[7] != '0' && b[7] != '1') || b[8] != ' ' ||
      !isdigit((unsigned char)b[9]) || !isdigit((unsigned char)b[10]) ||
      !isdigit((unsigned char)b[11]) || (b[12] != ' ' && b[12] != '\r'))
    return S_BAD;
  r->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
  if (r->status < 100 || r->status > 599) return S_BAD;
  r->close = b[7] == '0';
  head_info h = {0};
  /* buf ends in CRLF CRLF, so each search below finds one (memmem, not
   * strstr: a hostile head may hold NUL bytes) */
  const char *end = b + r->n - 2; /* the final empty line's CRLF */
  const char *l = (const char *)memmem(b, r->n, "\r\n", 2) + 2;
  while (l < end) {
    const char *eol = memmem(l, (size_t)(b + r->n - l), "\r\n", 2);
    if (!header_line(r, l, (size_t)(eol - l), &h)) return S_BAD;
    l = eol + 2;
  }
  if (r->status < 200 && r->status != 101) { /* interim: the next head */
    r->status = 0;
    return S_HEAD;
  }
  if (r->status == 204 || r->status == 304) return S_DONE;
  if (h.chunked) return S_CHUNK_LINE;
  if (h.other_coding || !h.has_length) {
    r->close = true;
    return S_BODY_EOF;
  }
  r->left = h.length;
  return h.length == 0 ? S_DONE : S_BODY_LEN;
}

/* ---- 2. chunks ---- */

/* buf holds "HEX[;ext]\r\n": the size, or S_BAD. */
static int parse_chunk_line(http_reply *r) {
  uint64_t x = 0;
  size_t i = 0;
  for (; i < r->n - 2 && isxdigit((unsigned char)r->buf[i]); i++) {
    char c = r->buf[i];
    x = x * 16 + (uint64_t)(isdigit((unsigned char)c)
                                ? c - '0'
                                : tolower((unsigned char)c) - 'a' + 10);
    if (x > HTTP_REPLY_BODY_MAX) return S_BAD;
  }
  while (i < r->n - 2 && (r->buf[i] == ' ' || r->buf[i] == '\t')) i++;
  if (i == 0 || (i < r->n - 2 && r->buf[i] != ';')) return S_BAD;
  r->left = x;
  r->n = 0;
  return x == 0 ? S_TRAILER : S_CHUNK_DATA;
}

/* ---- 3. feeding ---- */

/* Append byte c to buf (at most cap bytes); true once buf ends in CRLF
 * (head: the empty line after the headers). False with S_BAD set when
 * buf is full. */
static bool take_line_byte(http_reply *r, char c, size_t cap, bool head) {
  if (r->n >= cap) {
    r->state = S_BAD;
    return false;
  }
  r->buf[r->n++] = c;
  if (head)
    return r->n >= 4 && memcmp(r->buf + r->n - 4, "\r\n\r\n", 4) == 0;
  return r->n >= 2 && r->buf[r->n - 2] == '\r' && c == '\n';
}

/* One byte of a line-shaped state (head, chunk line, CRLF, trailer). */
static void line_byte(http_reply *r, char c) {
  switch (r->state) {
  case S_HEAD:
    if (take_line_byte(r, c, HTTP_REPLY_HEAD_MAX - 1, true)) {
      r->buf[r->n] = '\0';
      r->state = parse_head(r);
      r->n = 0; /* buf is free for chunk lines */
    }
    break;
  case S_CHUNK_LINE:
    if (take_line_byte(r, c, CHUNK_LINE_MAX, false))
      r->state = parse_chunk_line(r);
    break;
  case S_CHUNK_CRLF:
    if (c != (r->n == 0 ? '\r' : '\n')) r->state = S_BAD;
    else if (++r->n == 2) r->n = 0, r->state = S_CHUNK_LINE;
    break;
  case S_TRAILER:
    if (take_line_byte(r, c, HTTP_REPLY_HEAD_MAX - 1, false)) {
      r->state = r->n == 2 ? S_DONE : S_TRAILER;
      r->n = 0;
    }
    break;
  default:
    r->state = S_BAD;
  }
}

http_reply_result http_reply_feed(http_reply *r, const char *data, size_t n,
                                  size_t *used_out) {
  size_t i = 0;
  while (i < n && r->state != S_DONE && r->state != S_BAD) {
    if (r->state == S_BODY_EOF) {
      r->body_bytes += n - i;
      i = n;
    } else if (r->state == S_BODY_LEN || r->state == S_CHUNK_DATA) {
      size_t take = n - i < r->left ? n - i : (size_t)r->left;
      r->left -= take;
      r->body_bytes += take;
      i += take;
      if (r->left == 0)
        r->state = r->state == S_BODY_LEN ? S_DONE : S_CHUNK_CRLF;
    } else {
      line_byte(r, data[i++]);
    }
  }
  *used_out = i;
  if (r->state == S_DONE) return HTTP_REPLY_DONE;
  return r->state == S_BAD ? HTTP_REPLY_BAD : HTTP_REPLY_MORE;
}

http_reply_result http_reply_eof(http_reply *r) {
  if (r->state == S_BODY_EOF || r->state == S_DONE) {
    r->state = S_DONE;
    return HTTP_REPLY_DONE;
  }
  if (http_reply_empty(r)) return HTTP_REPLY_MORE;
  r->state = S_BAD;
  return HTTP_REPLY_BAD;
}
