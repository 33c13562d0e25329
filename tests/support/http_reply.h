/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/http_reply.h - an incremental, bounded parser of one HTTP/1.1
 * response, for the load generator (http_load.c) and its test.
 *
 * Bytes are fed as they arrive, in pieces of any size; the parser keeps
 * no more than the response head (at most HTTP_REPLY_HEAD_MAX bytes) and
 * counts the body without storing it. It understands what a server may
 * send a GET or POST: a status line, headers (Content-Length,
 * Transfer-Encoding: chunked, Connection), a body delimited by
 * Content-Length, by chunks (extensions and trailers skipped) or by the
 * end of the connection, and skips interim 1xx responses. Anything else
 * (no "HTTP/1.x NNN" with NNN 100..599, a bad or conflicting
 * Content-Length, a bad chunk line, a head over the limit) is
 * HTTP_REPLY_BAD.
 *
 * Not here: requests, sockets, HEAD responses (no HEAD is sent).
 *
 * Threading: an http_reply belongs to one thread.
 */
#ifndef IMS_TEST_HTTP_REPLY_H
#define IMS_TEST_HTTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_REPLY_HEAD_MAX 8192   /* status line + headers, bytes */
#define HTTP_REPLY_BODY_MAX (1ULL << 30) /* Content-Length or a chunk */

typedef enum http_reply_result {
  HTTP_REPLY_MORE, /* a response is under way: feed more */
  HTTP_REPLY_DONE, /* a whole response was read */
  HTTP_REPLY_BAD   /* not an HTTP/1.x response, or over the limits */
} http_reply_result;

typedef struct http_reply {
  int state;           /* private: where the parser is (http_reply.c) */
  int status;          /* output: status code, 0 until the head is in */
  bool close;          /* output: the server closes after this response */
  uint64_t body_bytes; /* output: body bytes so far (chunk framing not
                          counted) */
  uint64_t left;       /* private: bytes left in the body or chunk */
  size_t n;            /* private: bytes in buf */
  char buf[HTTP_REPLY_HEAD_MAX]; /* private: the head, a chunk-size or
                                    trailer line */
} http_reply;

/* Ready *r for a new response. */
void http_reply_init(http_reply *r);

/* Feed n bytes of the connection. *used_out gets how many were taken:
 * all of them unless the response ended inside them (DONE; the rest
 * belongs to whatever follows). Once DONE or BAD, call http_reply_init
 * before feeding again. */
http_reply_result http_reply_feed(http_reply *r, const char *data, size_t n,
                                  size_t *used_out);

/* The server closed the connection: DONE if that ends the response (a
 * body delimited by the close), BAD if it was cut short, MORE if not a
 * byte of it had come (the caller decides what no answer means). */
http_reply_result http_reply_eof(http_reply *r);

/* Nothing of a response has been fed yet (since http_reply_init). */
bool http_reply_empty(const http_reply *r);

#endif /* IMS_TEST_HTTP_REPLY_H */
