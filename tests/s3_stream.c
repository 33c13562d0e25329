/* SPDX-License-Identifier: Apache-2.0 */
/*
 * s3_stream.c - `imgstream produce --to s3://` and `imgstream stream
 * --source s3://` end to end: the real tool against a real S3-protocol
 * server on 127.0.0.1 (s3_server.h), results checked against `imgstream
 * classify` on the same files (itself checked against Arm NN's reference
 * by tests/cli_classify.c). Each case is its own CTest entry:
 *   s3_produce_stream      200 images, stream started before the
 *                          producer: every image exactly once in the
 *                          JSONL sink with classify's top-1; the stored
 *                          objects are the files' bytes, typed image/jpeg
 *   s3_stream_sigkill      the stream SIGKILLed at 5 random moments and
 *                          restarted on its checkpoint: still exactly once
 *   s3_stream_pagination   1,050 objects (two ListObjectsV2 pages): every
 *                          one read, once
 *   s3_errors_credentials  wrong key, missing bucket, bad URL: one clear
 *                          message each (bucket, endpoint, credentials'
 *                          source), exit codes 1 and 2, nothing written
 *   s3_errors_server_restart  server SIGKILLed mid-run and restarted:
 *                          the stream retries (and says so) and finishes,
 *                          exactly once
 *   s3_errors_server_gone  server gone longer than --s3-retry: the stream
 *                          stops with an error; after a restart of both,
 *                          exactly once
 *   s3_errors_sigterm_retrying  SIGTERM while the stream retries an
 *                          outage: it stops at its next retry (exit 1),
 *                          not after --s3-retry; then exactly once
 *   s3_errors_network_cut  every connection reset after 10-150 kB by a
 *                          proxy (s3_server.h), every 4th answered 503
 *                          SlowDown: downloads cut mid-body are fetched
 *                          again; exactly once, right answers
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "imgstream/bucket.h"
#include "support/s3_server.h"
#include "support/stream_run.h"

/* ---- helpers ---- */

/* What every case needs (else skip): the tool, the model, the flowers;
 * and nothing left running from an earlier case. (nscen_need without the
 * NATS server.) */
static void need(void) {
  nchild_kill_all();
  ntool_need();
  snprintf(nmodel, sizeof nmodel, "%s",
           shared_path("models/mobilenet_v2_1.0_224_quant.tflite"));
  if (access(nmodel, R_OK) != 0) RETURN_SKIP("no shared model");
  if (access(shared_path("data/flowers/daisy"), R_OK) != 0)
    RETURN_SKIP("no shared flowers");
}

/* The first n shared flowers (JSON array of keys) copied to a dataset
 * folder; the known answers {key: class} into *want. */
static json_t *flowers(const char *name, size_t n, const char *root,
                       json_t **want) {
  json_t *all = nflowers(0, 0);
  json_t *keys = json_array();
  /* every other flower, so that every category is in */
  for (size_t i = 0; i < json_array_size(all) && json_array_size(keys) < n;
       i += 2)
    json_array_append(keys, json_array_get(all, i));
  json_decref(all);
  if (json_array_size(keys) != n)
    TEST__FAIL("only %zu flowers", json_array_size(keys));
  ndataset(root, keys);
  if (want != NULL) {
    json_t *obj = json_object();
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
        json_object_set(obj, json_string_value(k), json_true());
    *want = nclassify(test_strf("%s_classify", name), root, obj);
    json_decref(obj);
  }
  return keys;
}

static void produce(const char *name, const char *root, const char *url) {
  nargs a = {{0}, 0};
  nargs_add(&a, "produce", "--from", root, "--to", url, "--interval", "0",
            "--seed", "11", NULL);
  int code = ntool_run(name, a.v, 300);
  if (code != 0) {
    ntail(test_strf("%s.err", tmp_path(name)), 3000);
    TEST__FAIL("produce exit %d", code);
  }
}

/* Arguments of a stream run on `url` writing jsonl:<name>.jsonl with a
 * checkpoint <name>_ckpt and progress records in <name>.progress. */
static void stream_args(nargs *a, const char *name, const char *url,
                        const char *batch, const char *idle_ms) {
  nargs_add(a, "stream", "--source", url, "--model", nmodel, "--sink",
            test_strf("jsonl:%s.jsonl", tmp_path(name)), "--checkpoint",
            test_strf("%s_ckpt", tmp_path(name)), "--progress",
            test_strf("%s.progress", tmp_path(name)), "--max-files-per-trigger",
            batch, "--until-idle", idle_ms, "--poll-interval", "200",
            "--threads", "2", NULL);
}

static void stream_reset(const char *name) {
  tool_rm_rf(test_strf("%s_ckpt", tmp_path(name)));
  unlink(test_strf("%s.jsonl", tmp_path(name)));
  unlink(test_strf("%s.progress", tmp_path(name)));
}

/* The JSONL sink of `name`: each key of `keys` exactly once, nothing
 * else; with `want`, each row's class is classify's top-1. */
static void check_exactly_once(const char *name, json_t *keys, json_t *want) {
  char *text = test_read_text(test_strf("%s.jsonl", tmp_path(name)));
  json_t *counts = json_object();
  json_t *rows = srun_rows_text("jsonl sink", text, counts);
  free(text);
  const char *key;
  json_t *v;
  json_object_foreach(counts, key, v) {
    if (json_integer_value(v) != 1)
      TEST__FAIL("%s: %lld rows", key, (long long)json_integer_value(v));
  }
  size_t i;
  json_t *k;
  json_array_foreach(keys, i, k) {
    json_t *row = json_object_get(rows, json_string_value(k));
    if (row == NULL) TEST__FAIL("%s: no row", json_string_value(k));
    ASSERT_STR_EQ(json_string_value(json_object_get(row, "label")),
                  ncategory(json_string_value(k)));
    if (want == NULL) continue;
    json_t *cls = json_object_get(json_object_get(row, "prediction"), "class");
    ASSERT_STR_EQ(json_string_value(cls), json_string_value(json_object_get(
                                              want, json_string_value(k))));
  }
  ASSERT_EQ(json_object_size(rows), json_array_size(keys));
  json_decref(rows);
  json_decref(counts);
}

/* Wait until `path` grows past `before` bytes (the stream made progress)
 * or the child exits. True if it grew. */
static bool wait_growth(const char *path, long before, pid_t pid) {
  double end = test_now() + 120;
  while (test_now() < end) {
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > before) return true;
    if (nchild_gone(pid)) return false;
    test_sleep_ms(10);
  }
  TEST__FAIL("%s did not grow in 120 s", path);
  return false;
}

static long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* One case's world: a running s3rver, the first `count` flowers in a
 * dataset folder (with classify's answers if `answers`), and the s3:// URL
 * of `prefix` in the server's bucket. */
typedef struct s3case {
  s3srv srv;
  char root[4200];
  char url[256];
  json_t *keys; /* the flowers' keys */
  json_t *want; /* {key: class}, or NULL */
} s3case;

static void case_start(s3case *c, const char *name, size_t count,
                       bool answers, const char *prefix) {
  need();
  s3srv_start(&c->srv, name);
  snprintf(c->root, sizeof c->root, "%s", tmp_path(test_strf("%s_data", name)));
  c->want = NULL;
  c->keys = flowers(name, count, c->root, answers ? &c->want : NULL);
  c->url[0] = '\0';
  if (prefix != NULL)
    snprintf(c->url, sizeof c->url, "%s", s3srv_url(prefix));
}

static void case_end(s3case *c) {
  json_decref(c->keys);
  json_decref(c->want);
  s3srv_kill(&c->srv);
}

/* ---- cases ---- */

TEST(s3_produce_stream) {
  s3case c;
  case_start(&c, "s3s_ps", 200, true, "run/1");
  /* The prefix must exist as a bucket only: start the stream first on an
   * empty prefix, then produce into it while it runs. */
  stream_reset("s3s_ps");
  nargs a = {{0}, 0};
  stream_args(&a, "s3s_ps", c.url, "8", "6000");
  pid_t st = ntool_start("s3s_ps", a.v);
  produce("s3s_ps_produce", c.root, c.url);
  int code = ntool_wait("s3s_ps", st, 600);
  if (code != 0) ntail(test_strf("%s.err", tmp_path("s3s_ps")), 3000);
  ASSERT_EQ(code, 0);
  check_exactly_once("s3s_ps", c.keys, c.want);
  /* The objects are the files, typed by content, under the prefix. */
  size_t i;
  json_t *k;
  json_array_foreach(c.keys, i, k) {
    const char *key = json_string_value(k);
    char *body = NULL, type[64];
    size_t n = 0, fn = 0;
    ASSERT_EQ(s3srv_get(&c.srv, test_strf("run/1/%s", key), &body, &n, type,
                        sizeof type),
              200);
    unsigned char *file = test_read_file(test_strf("%s/%s", c.root, key), &fn);
    ASSERT(file != NULL && fn == n && memcmp(file, body, n) == 0);
    ASSERT_STR_EQ(type, "image/jpeg");
    free(file);
    free(body);
  }
  /* A second producer run finds them all there: nothing uploaded. */
  produce("s3s_ps_produce2", c.root, c.url);
  char *err = ntool_text("s3s_ps_produce2", "err");
  ASSERT_CONTAINS(err, "uploaded 0, already in the bucket 200");
  free(err);
  case_end(&c);
}

TEST(s3_stream_sigkill) {
  s3case c;
  case_start(&c, "s3s_kill", 200, true, "k");
  produce("s3s_kill_produce", c.root, c.url);
  stream_reset("s3s_kill");
  nargs a = {{0}, 0};
  stream_args(&a, "s3s_kill", c.url, "4", "1500");
  char prog[4200];
  snprintf(prog, sizeof prog, "%s.progress", tmp_path("s3s_kill"));
  srand(20261203);
  int kills = 0;
  for (int round = 0; round < 5; round++) {
    long before = file_size(prog);
    pid_t pid = ntool_start("s3s_kill", a.v);
    if (wait_growth(prog, before, pid)) {
      test_sleep_ms(rand() % 200);
      kill(pid, SIGKILL);
      kills += nchild_wait(pid, 60) == 128 + SIGKILL;
    } else {
      nchild_wait(pid, 60);
    }
  }
  fprintf(stderr, "killed %d times\n", kills);
  ASSERT(kills >= 4); /* the runs must have died mid-stream */
  ASSERT_EQ(ntool_run("s3s_kill", a.v, 600), 0);
  check_exactly_once("s3s_kill", c.keys, c.want);
  case_end(&c);
}

TEST(s3_stream_pagination) {
  /* 1,050 objects: 50 flowers, produced from a dataset folder, and 1,000
   * that are not images (fast error rows), put through the library (the
   * producer skips files that are not images). */
  s3case c;
  case_start(&c, "s3s_page", 50, false, "many");
  produce("s3s_page_produce", c.root, c.url);
  ims_bucket *b = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_bucket_open(c.url, 0, &b, &err), &err);
  for (int i = 0; i < 1000; i++) {
    const char *key = test_strf("junk%d/not-an-image-%04d.jpg", i % 4, i);
    ASSERT_OK(ims_bucket_put(b, key, key, strlen(key), &err), &err);
    json_array_append_new(c.keys, json_string(key));
  }
  ims_bucket_close(b);
  stream_reset("s3s_page");
  nargs a = {{0}, 0};
  stream_args(&a, "s3s_page", c.url, "64", "1500");
  ASSERT_EQ(ntool_run("s3s_page", a.v, 600), 0);
  check_exactly_once("s3s_page", c.keys, NULL);
  case_end(&c);
}

/* Run the tool expecting exit `code` and `needle` in its stderr. */
static void expect_fail(const char *name, const char *const *args, int code,
                        const char *needle) {
  int got = ntool_run(name, args, 120);
  char *err = ntool_text(name, "err");
  if (got != code || strstr(err, needle) == NULL)
    TEST__FAIL("%s: exit %d (want %d), stderr: %s (want '%s')", name, got, code,
               err, needle);
  free(err);
}

TEST(s3_errors_credentials) {
  s3case c;
  case_start(&c, "s3s_cred", 4, false, NULL);
  const char *out = test_strf("%s.jsonl", tmp_path("s3s_cred"));
  unlink(out);
  const char *stream[] = {
      "stream", "--source", s3srv_url("p"),        "--model",
      nmodel,   "--sink",   test_strf("jsonl:%s", out), "--until-idle",
      "500",    NULL};
  const char *prod[] = {"produce",      "--from",     c.root, "--to",
                        s3srv_url("p"), "--interval", "0",  NULL};
  setenv("AWS_ACCESS_KEY_ID", "WRONGKEY", 1);
  expect_fail("s3s_cred_s", stream, 1, "access denied to bucket 'imgs'");
  expect_fail("s3s_cred_s", stream, 1, c.srv.endpoint);
  expect_fail("s3s_cred_s", stream, 1,
              "access key WRONGKEY from the environment");
  expect_fail("s3s_cred_s", stream, 1, "InvalidAccessKeyId");
  expect_fail("s3s_cred_p", prod, 1, "access denied to bucket 'imgs'");
  setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
  unsetenv("AWS_SECRET_ACCESS_KEY");
  expect_fail("s3s_cred_s", stream, 2, "but AWS_SECRET_ACCESS_KEY is not");
  setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
  const char *missing[] = {"stream",  "--source", "s3://no-such-bucket/p",
                           "--model", nmodel,     "--until-idle",
                           "500",     NULL};
  expect_fail("s3s_cred_m", missing, 1,
              "no such bucket: bucket 'no-such-bucket'");
  expect_fail("s3s_cred_m", missing, 1, "NoSuchBucket");
  const char *bad[] = {"stream",  "--source", "s3://Bad_Name",
                       "--model", nmodel,     NULL};
  expect_fail("s3s_cred_b", bad, 2, "is not a bucket name");
  const char *endpoint[] = {"stream",        "--source",    s3srv_url("p"),
                            "--s3-endpoint", "127.0.0.1:1", "--model",
                            nmodel,          NULL};
  expect_fail("s3s_cred_e", endpoint, 2, "is not http(s)://HOST[:PORT]");
  ASSERT(access(out, F_OK) != 0); /* nothing was written */
  case_end(&c);
}

/* Produce the case's images, start a stream on them (batches of 2, until
 * idle for idle_ms, --s3-retry retry_ms) and kill the server as soon as
 * the stream has made progress. Returns the stream's pid; *a holds its
 * arguments, for a restart. */
static pid_t stream_then_kill_server(s3case *c, const char *name,
                                     const char *idle_ms,
                                     const char *retry_ms, nargs *a) {
  produce(test_strf("%s_produce", name), c->root, c->url);
  stream_reset(name);
  stream_args(a, name, c->url, "2", idle_ms);
  nargs_add(a, "--s3-retry", retry_ms, NULL);
  pid_t pid = ntool_start(name, a->v);
  ASSERT(wait_growth(test_strf("%s.progress", tmp_path(name)), 0, pid));
  s3srv_kill(&c->srv);
  return pid;
}

TEST(s3_errors_server_restart) {
  s3case c;
  case_start(&c, "s3s_rs", 60, true, "r");
  nargs a = {{0}, 0};
  /* killed mid-run: a GET or a listing is cut or refused */
  pid_t pid = stream_then_kill_server(&c, "s3s_rs", "4000", "120000", &a);
  test_sleep_ms(2500);
  s3srv_restart(&c.srv);
  int code = ntool_wait("s3s_rs", pid, 600);
  char *err = ntool_text("s3s_rs", "err");
  if (code != 0) fprintf(stderr, "%s\n", err);
  ASSERT_EQ(code, 0);
  ASSERT_CONTAINS(err, "; retry 1 in ");
  ASSERT_CONTAINS(err, "Failed to connect to 127.0.0.1 port");
  free(err);
  check_exactly_once("s3s_rs", c.keys, c.want);
  case_end(&c);
}

TEST(s3_errors_server_gone) {
  s3case c;
  case_start(&c, "s3s_gone", 40, true, "g");
  nargs a = {{0}, 0};
  pid_t pid = stream_then_kill_server(&c, "s3s_gone", "1500", "1500", &a);
  int code = ntool_wait("s3s_gone", pid, 120);
  char *err = ntool_text("s3s_gone", "err");
  if (code != 1) fprintf(stderr, "%s\n", err);
  ASSERT_EQ(code, 1);
  ASSERT_CONTAINS(err, "imgstream stream: stopped: ");
  ASSERT_CONTAINS(err, test_strf("at %s: still failing after", c.srv.endpoint));
  free(err);
  /* Server back, stream restarted on its checkpoint: nothing lost, nothing
   * twice. */
  s3srv_restart(&c.srv);
  ASSERT_EQ(ntool_run("s3s_gone", a.v, 600), 0);
  check_exactly_once("s3s_gone", c.keys, c.want);
  case_end(&c);
}

TEST(s3_errors_sigterm_retrying) {
  s3case c;
  case_start(&c, "s3s_term", 40, true, "t");
  nargs a = {{0}, 0};
  pid_t pid = stream_then_kill_server(&c, "s3s_term", "1500", "600000", &a);
  test_sleep_ms(1500); /* it is retrying now, for up to 10 minutes */
  kill(pid, SIGTERM);
  /* It stops at its next retry, not after --s3-retry. */
  int code = ntool_wait("s3s_term", pid, 30);
  char *err = ntool_text("s3s_term", "err");
  if (code != 1) fprintf(stderr, "%s\n", err);
  ASSERT_EQ(code, 1);
  ASSERT_CONTAINS(err, "stop requested while retrying");
  free(err);
  s3srv_restart(&c.srv);
  ASSERT_EQ(ntool_run("s3s_term", a.v, 600), 0);
  check_exactly_once("s3s_term", c.keys, c.want);
  case_end(&c);
}

TEST(s3_errors_network_cut) {
  s3case c;
  case_start(&c, "s3s_cut", 40, true, "c");
  produce("s3s_cut_produce", c.root, c.url);
  /* The stream talks to the server through a proxy that resets each
   * connection after 10-150 kB - downloads (~46 kB each) are cut mid-body
   * again and again - and answers every 4th connection 503 SlowDown. */
  int port = 0;
  s3proxy_start(c.srv.port, 10000, 150000, 4, 7, &port);
  char endpoint[64];
  snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", port);
  stream_reset("s3s_cut");
  nargs a = {{0}, 0};
  stream_args(&a, "s3s_cut", c.url, "4", "1500");
  nargs_add(&a, "--s3-endpoint", endpoint, NULL);
  int code = ntool_run("s3s_cut", a.v, 600);
  char *err = ntool_text("s3s_cut", "err");
  if (code != 0) fprintf(stderr, "%s\n", err);
  ASSERT_EQ(code, 0);
  /* curl saw bodies cut short (or reset connections), and retried */
  ASSERT(strstr(err, "transfer closed with") != NULL ||
         strstr(err, "Connection reset by peer") != NULL);
  ASSERT_CONTAINS(err, "; retry 1 in ");
  ASSERT_CONTAINS(err,
                  "HTTP 503 SlowDown: Please reduce your request "
                  "rate.; retry ");
  free(err);
  check_exactly_once("s3s_cut", c.keys, c.want);
  case_end(&c);
}

TEST_MAIN(s3_produce_stream, s3_stream_sigkill, s3_stream_pagination,
          s3_errors_credentials, s3_errors_server_restart,
          s3_errors_server_gone, s3_errors_sigterm_retrying,
          s3_errors_network_cut)
