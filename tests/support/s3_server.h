/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/s3_server.h - what the s3_* tests share: a real S3-protocol
 * server (s3rver, an npm package the s3_server_install fixture puts into
 * the build tree: $IMGSTREAM_S3RVER is its bin/s3rver.js) run by node on
 * a free 127.0.0.1 port, with one bucket "imgs", storing under the test's
 * tmp folder so that a test can SIGKILL it and restart it on the same
 * data. Built once into ims_test_support (s3_server.c). It uses
 * nats_server.h's process helpers (nchild_*, ntool_*, nargs ...), and
 * includes that header for the tests.
 *
 *   s3srv s;
 *   s3srv_start(&s, "case");   server up, AWS_* set for the tool
 *   s3srv_kill(&s); s3srv_restart(&s);
 *   s3proxy_start(s.port, min, max, every, seed, &port)   a proxy
 *                              that cuts connections mid-reply and
 *                              answers some requests 503 SlowDown
 *
 * What s3rver checks: the access key id (S3RVER), bucket and key
 * existence, ListObjectsV2 pagination (1000 keys a page). What it does
 * not: SigV4 signatures (it accepts any secret) and Content-MD5 (it
 * stores the body as sent) - the tests check the stored bytes instead.
 * s3rver's continuation tokens use DES, which Node's OpenSSL 3 has only
 * in its legacy provider: node runs with --openssl-legacy-provider.
 *
 * Skips: only when node is not installed, and never with CI=true.
 *
 * Threading: single-threaded.
 */
#ifndef IMS_TESTS_S3_SERVER_H
#define IMS_TESTS_S3_SERVER_H

#include <stddef.h>
#include <sys/types.h>

#include "support/nats_server.h"

#define S3SRV_BUCKET "imgs"

typedef struct s3srv {
  int port;          /* 127.0.0.1 port */
  char dir[4096];    /* its data folder */
  char log[4200];    /* its stdout + stderr, appended across restarts */
  char endpoint[64]; /* "http://127.0.0.1:PORT" */
  pid_t pid;         /* 0: not running */
} s3srv;

/* node and the installed server, or skip (fail in CI). */
const char *s3srv_script(void);

/* Start a fresh server (empty data folder) and point the AWS_* variables
 * the tool reads at it. */
void s3srv_start(s3srv *s, const char *name);

/* SIGKILL the server (its data stays). */
void s3srv_kill(s3srv *s);

/* Start it again on the same port and data. */
void s3srv_restart(s3srv *s);

/* "s3://imgs/<prefix>" (a test_strf buffer). */
const char *s3srv_url(const char *prefix);

/* An anonymous GET of bucket key `key` straight through libcurl (no
 * imgstream code): the body into *body (malloc'd), the Content-Type
 * into type. Returns the HTTP status. */
long s3srv_get(const s3srv *s, const char *key, char **body, size_t *len,
               char *type, size_t type_cap);

/* ---- a proxy that cuts connections ---- */

/* A proxy on a free 127.0.0.1 port (*port_out) to 127.0.0.1:upstream_port
 * that cuts each connection after a random number of bytes sent to the
 * client, from min_bytes to max_bytes (mid-body of some replies): a
 * network that fails mid-download; and answers the first request of
 * every `slowdown_every`-th connection (0: none) with 503 SlowDown, as an
 * overloaded S3 does. */
pid_t s3proxy_start(int upstream_port, long min_bytes, long max_bytes,
                    int slowdown_every, unsigned seed, int *port_out);

#endif /* IMS_TESTS_S3_SERVER_H */
