/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/nats_server.h - what the nats_* tests share: real nats-server
 * processes ($IMGSTREAM_NATS_SERVER) on free 127.0.0.1 ports - one
 * JetStream server or a 3-server JetStream cluster - that a test can
 * SIGKILL and restart on the same store; the real imgstream tool
 * ($IMGSTREAM_BIN) run in the background; and libnats helpers to look at
 * streams and consumers directly. Built once into ims_test_support
 * (nats_server.c); faults.c and the s3_* tests use its process helpers.
 *
 *   nsrv s;
 *   nsrv_start(&s, "case", 3, 0);      3 servers, default max payload
 *   nsrv_url(&s, "IMAGES")             "nats://127.0.0.1:P1,...:P3/IMAGES"
 *   nsrv_kill(&s, i); nsrv_restart(&s, i);
 *   nsrv_stop(&s);                     kill all, remove the stores
 *
 * No process outlives the test: every child (server or tool) is forked
 * with PR_SET_PDEATHSIG = SIGKILL (so it dies with the test process, even
 * when CTest kills that on a timeout), and is also SIGKILLed by an atexit
 * handler and by nchild_kill_all(), which each case calls first so that
 * a failed case leaves nothing running for the next.
 *
 * Failures end the current case (TEST__FAIL) with the server's log tail.
 * Every temporary name is under $IMGSTREAM_TEST_TMP and starts with the
 * name the test passes, so tests that CTest runs in parallel never share
 * a file.
 *
 * Sections: 1. children  2. servers  3. libnats helpers  4. the tool
 *           5. scenarios: datasets, known answers (`imgstream classify
 *              --json`), the image and result streams read back
 *
 * Threading: single-threaded (libnats runs its own threads inside).
 */
#ifndef IMS_TESTS_NATS_SERVER_H
#define IMS_TESTS_NATS_SERVER_H

#include <jansson.h>
#include <nats/nats.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "support/tool.h"
#include "test.h"

/* ---- 0. small things ---- */

/* Print the last `bytes` bytes of a file to stderr (for failures). */
void ntail(const char *path, long bytes);

/* ---- 1. children ---- */

/* SIGKILL and reap every child still running. */
void nchild_kill_all(void);

/* fork(); the child dies with this process (PR_SET_PDEATHSIG) and is
 * killed at exit. Returns as fork() does; fails the case if it cannot. */
pid_t nchild_fork(void);

/* Wait for a child at most timeout_s seconds. Returns its exit code, or
 * 128 + signal, or -1 if it is still running after the timeout. */
int nchild_wait(pid_t pid, double timeout_s);

/* True if the child has exited (then it is reaped; *code gets the code,
 * or 128 + signal). */
bool nchild_exited(pid_t pid, int *code);

/* True if the child has exited; it is not reaped (nchild_wait gets its
 * code). */
bool nchild_gone(pid_t pid);

/* SIGKILL a child and reap it. */
void nchild_kill(pid_t pid);

/* ---- 2. servers ---- */

#define NSRV_MAX 3

typedef struct nsrv_node {
  char name[16];   /* server_name: n1, n2, n3 */
  int port;        /* client port */
  int route_port;  /* cluster port (clusters only) */
  char conf[4200]; /* config file */
  char log[4200];  /* stdout + stderr, appended to across restarts */
  char store[4200];
  pid_t pid;       /* 0: not running */
} nsrv_node;

typedef struct nsrv {
  int n;            /* 1: one server; 3: a cluster */
  long max_payload; /* 0: the server's default (1 MiB) */
  char dir[4096];   /* everything of this set lives under it */
  nsrv_node node[NSRV_MAX];
} nsrv;

/* The nats-server binary, or skip the case. */
const char *nsrv_binary(void);

/* A port nothing listens on right now (the kernel's choice). */
int nsrv_free_port(void);

/* A port that refuses connections for as long as *holder stays open:
 * bound, never listening, so no server started meanwhile (by this test
 * or one beside it) can take it, as a port merely free could be. */
int nsrv_refusing_port(int *holder);

/* A client URL list for libnats: "nats://127.0.0.1:P1,nats://...". */
const char *nsrv_servers(const nsrv *s);

/* imgstream's URL (docs/NATS.md): "nats://127.0.0.1:P1[,...]/STREAM". */
const char *nsrv_url(const nsrv *s, const char *stream);

/* Start one JetStream server (n = 1) or a 3-server cluster (n = 3) on
 * free loopback ports, stores under a fresh $IMGSTREAM_TEST_TMP/<name>,
 * and wait until JetStream answers on every server (a cluster: with a
 * meta leader). max_payload > 0 sets the servers' max_payload. Skips the
 * case if nats-server is not installed. */
void nsrv_start(nsrv *s, const char *name, int n, long max_payload);

/* SIGKILL server i (no chance to flush or say goodbye). */
void nsrv_kill(nsrv *s, int i);

/* Start server i again with its config and store; wait until JetStream
 * answers on it. */
void nsrv_restart(nsrv *s, int i);

/* Index of the server named `name` (n1, n2...), -1 if none. */
int nsrv_index(const nsrv *s, const char *name);

/* Stop every server, then remove their stores and logs (kept if
 * $IMS_TEST_KEEP is set, for a look after the test). */
void nsrv_stop(nsrv *s);

/* ---- 3. libnats helpers ---- */

typedef struct nconn {
  natsConnection *nc;
  jsCtx *js;
} nconn;

/* Connect to the set (any server; reconnects for ever). */
nconn nconn_open(const nsrv *s);

/* Close what nconn_open opened; c may be closed twice. */
void nconn_close(nconn *c);

/* Stream info, retried for up to timeout_s (a cluster may be electing);
 * NULL if the stream does not exist. Caller destroys. */
jsStreamInfo *nstream_info(nconn *c, const char *stream, double timeout_s);

/* Wait until the stream exists (at most timeout_s) or the child `pid`
 * (if > 0) exits. */
bool nstream_wait_exists(nconn *c, const char *stream, double timeout_s,
                         pid_t pid);

/* Messages in the stream (0 if it does not exist). */
uint64_t nstream_count(nconn *c, const char *stream);

/* Call fn for every message of the stream, in order (js_GetMsg, retried
 * while a cluster elects). fn returns nonzero to stop. */
typedef int (*nstream_fn)(void *ctx, natsMsg *m);
void nstream_each(nconn *c, const char *stream, nstream_fn fn, void *ctx);

/* Wait until the stream's leader and every replica are current and
 * online: n of them (at most 90 s). */
void nstream_wait_current(nconn *c, const char *stream, int n);

/* Index of the server leading the stream (-1: no leader right now). */
int nstream_leader(nconn *c, const nsrv *s, const char *stream);

/* Consumer info, retried for up to 60 s; fails if there is none. */
jsConsumerInfo *nconsumer_info(nconn *c, const char *stream, const char *name);

/* ---- 4. the tool ---- */

/* The tool ($IMGSTREAM_BIN), or skip the case. */
void ntool_need(void);

/* The tool in the background: stdout to $TMP/<name>.out, stderr to
 * $TMP/<name>.err (both truncated first). */
pid_t ntool_start(const char *name, const char *const *args);

/* $TMP/<name>.<ext> ("out" or "err") as a string; caller frees. */
char *ntool_text(const char *name, const char *ext);

/* Wait for the tool started as `name`; fails the case (printing its
 * stderr) if it runs longer than timeout_s. Returns its exit code. */
int ntool_wait(const char *name, pid_t pid, double timeout_s);

/* Run the tool to the end (at most timeout_s). */
int ntool_run(const char *name, const char *const *args, double timeout_s);

/* ---- 5. scenarios ---- */

/* The shared quantized model's path, set by nscen_need(). */
extern char nmodel[4096];

/* Everything a scenario needs (else skip), and nothing left running from
 * an earlier case. */
void nscen_need(void);

/* An argument vector built piece by piece (strings are not copied). */
typedef struct nargs {
  const char *v[96];
  int n;
} nargs;

/* Append the NULL-terminated list of strings. */
void nargs_add(nargs *a, ...);

/* The shared flowers, category by category: "category/file" keys of the
 * JPEGs whose size is in [min_size, max_size] (0: no bound), sorted. A
 * JSON array (new reference). */
json_t *nflowers(long min_size, long max_size);

/* Copy shared flowers (keys) into a fresh dataset folder `root`. */
void ndataset(const char *root, json_t *keys);

/* The category of a key "category/file" (a test_strf buffer). */
const char *ncategory(const char *key);

/* The known answers: `imgstream classify --json` on root/<key> for each
 * key of the object `keys`: {key: top-1 class, or null if it failed}
 * (new reference). */
json_t *nclassify(const char *name, const char *root, json_t *keys);

/* Header `name` of a message; NULL if it has none. */
const char *nhdr(natsMsg *m, const char *name);

/* The image stream read back: every message checked against the
 * contract of docs/NATS.md (subject, headers, body = the file's bytes
 * under root, Nats-Msg-Id = key) and no key twice. Returns {key: true}
 * (new reference). */
json_t *nimages(nconn *c, const char *stream, const char *root);

/* The results stream read back: {path: row}. Fails on a path twice, a
 * body that is not a JSON row, a subject other than RESULTS.<category>,
 * a Nats-Msg-Id other than the path. *msgs_out: messages read. */
json_t *nresults(nconn *c, const char *stream, size_t *msgs_out);


/* `imgstream results --source URL --json`: {path: row}, each path once. */
json_t *nresults_cli(const char *name, const char *url);

/* Start stream worker i ("<prefix>_w<i>", jsonl sink
 * <tmp>/<prefix>_w<i>.jsonl) on the set's IMAGES, results to RESULTS, the
 * durable consumer "workers"; `extra`: more arguments (NULL-terminated). */
pid_t nworker_start(const char *prefix, int i, const nsrv *s,
                    const char *const *extra);

/* The union of workers 0..n-1's jsonl sinks: {path: times written} (new
 * reference). */
json_t *njsonl_counts(const char *prefix, int workers);

/* Wait for the tool started as `name`; it must exit 0 (else its stderr is
 * shown). */
void nwait_ok(const char *name, pid_t pid, double timeout_s);

/* Rows (path -> row) against the images (key -> anything) and the known
 * answers (key -> class or null): the same set of paths; each row's label
 * is its category and its top-1 class is classify's (or both failed: then
 * the row has an "error" and no prediction). */
void ncheck_rows(const char *what, json_t *rows, json_t *images, json_t *want);

/* Wait until the stream holds at least n messages (at most timeout_s);
 * false if not. */
bool nstream_wait_count(nconn *c, const char *stream, uint64_t n,
                        double timeout_s);

/* Lines in a file (0 if it does not exist). */
size_t nlines(const char *path);

#endif /* IMS_TESTS_NATS_SERVER_H */
