/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nats_errors.c - what goes wrong over NATS (docs/NATS.md), with real
 * servers and the real tool:
 *
 *   corrupt_image  a truncated JPEG in the dataset (sent by the producer)
 *                  and a body that is no image at all (published with
 *                  libnats, the documented headers): one error result
 *                  each, terminated, never redelivered (--ack-wait 4000,
 *                  --until-idle 10000: a redelivery would come within the
 *                  run; there is no second row in the workers' sinks, no
 *                  redelivery pending in the consumer); the good
 *                  images classified as `imgstream classify` does; the
 *                  producer run again (same seed) stores nothing twice
 *   unreachable    no server behind the URL: produce, stream (source, and
 *                  a results sink) and results exit 1 naming the URL
 *   publish_refused  JetStream refuses a publish (the stream's max
 *                  message size): exit 1 naming the image
 *   usage          malformed URLs, --checkpoint with nats://, a bad
 *                  consumer name, a missing results stream, a password
 *                  masked in messages; --max-age/--max-bytes on the
 *                  stream; results --follow until SIGTERM
 *   max_payload    a server with max_payload 64 KiB: the one larger image
 *                  is refused naming the image, its size and the limit;
 *                  the others are published; exit 1
 *
 * Threading: single-threaded; the tool and the servers are children.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "support/nats_server.h"

/* The first `per` keys of each category of `keys` (new reference). */
static json_t *per_category(json_t *keys, size_t per) {
  json_t *out = json_array(), *seen = json_object();
  size_t i;
  json_t *k;
  json_array_foreach(keys, i, k) {
    const char *cat = ncategory(json_string_value(k));
    json_int_t n = json_integer_value(json_object_get(seen, cat));
    if ((size_t)n >= per) continue;
    json_object_set_new(seen, cat, json_integer(n + 1));
    json_array_append(out, k);
  }
  json_decref(seen);
  return out;
}

/* Publish `body` as image `key` with docs/NATS.md's headers. */
static void publish_image(nconn *c, const char *key, const void *body,
                          size_t size) {
  natsMsg *m = NULL;
  const char *cat = ncategory(key);
  ASSERT(natsMsg_Create(&m, test_strf("IMAGES.%s", cat), NULL, body,
                        (int)size) == NATS_OK);
  ASSERT(natsMsgHeader_Set(m, "Nats-Msg-Id", key) == NATS_OK);
  ASSERT(natsMsgHeader_Set(m, "Imgstream-Key", key) == NATS_OK);
  ASSERT(natsMsgHeader_Set(m, "Imgstream-Label", cat) == NATS_OK);
  ASSERT(natsMsgHeader_Set(m, "Content-Type", "image/jpeg") == NATS_OK);
  ASSERT(natsMsgHeader_Set(m, "Imgstream-Upload-Time",
                           "2025-01-31T12:00:00.000Z") == NATS_OK);
  jsPubAck *pa = NULL;
  jsErrCode jerr = 0;
  natsStatus st = js_PublishMsg(&pa, c->js, m, NULL, &jerr);
  natsMsg_Destroy(m);
  if (st != NATS_OK)
    TEST__FAIL("publish %s: %s (%d)", key, natsStatus_GetText(st), (int)jerr);
  ASSERT(!pa->Duplicate);
  jsPubAck_Destroy(pa);
}

TEST(nats_errors_corrupt_image) {
  nscen_need();
  enum { W = 2 };
  /* 10 good flowers, then a truncated copy of another daisy. */
  json_t *all = nflowers(0, 0);
  json_t *good = per_category(all, 2);
  ASSERT_EQ(json_array_size(good), 10);
  char root[4400];
  snprintf(root, sizeof root, "%s", tmp_path("nats_e_data"));
  ndataset(root, good);
  const char *donor = json_string_value(json_array_get(all, 5));
  ASSERT(strncmp(donor, "daisy/", 6) == 0);
  size_t n = 0;
  unsigned char *d = test_read_file(
      test_strf("%s/%s", shared_path("data/flowers"), donor), &n);
  ASSERT(d != NULL && n > 4000);
  const char *broken = test_strf("%s/daisy/broken.jpg", root);
  ASSERT(test_write_file(broken, d, n * 2 / 5) == 0);
  free(d);

  nsrv s;
  nsrv_start(&s, "nats_e_srv", 1, 0);
  nconn c = nconn_open(&s);
  nargs p = {{0}, 0};
  nargs_add(&p, "produce", "--from", root, "--to", nsrv_url(&s, "IMAGES"),
            "--interval", "0", "--seed", "5", NULL);
  nwait_ok("nats_e_produce", ntool_start("nats_e_produce", p.v), 120);
  ASSERT_EQ(nstream_count(&c, "IMAGES"), 11);
  /* A restarted producer (same seed) sends the same ids: JetStream keeps
   * one copy; nothing is reported as a new upload. */
  nargs again = {{0}, 0};
  nargs_add(&again, "produce", "--from", root, "--to",
            nsrv_url(&s, "IMAGES"), "--interval", "0", "--seed", "5",
            "--json", NULL);
  nwait_ok("nats_e_again", ntool_start("nats_e_again", again.v), 120);
  ASSERT_EQ(nstream_count(&c, "IMAGES"), 11);
  char *out = ntool_text("nats_e_again", "out");
  char *save = NULL;
  for (char *l = strtok_r(out, "\n", &save); l != NULL;
       l = strtok_r(NULL, "\n", &save)) {
    json_t *o = json_loads(l, 0, NULL);
    ASSERT(o != NULL && json_is_true(json_object_get(o, "duplicate")));
    json_decref(o);
  }
  free(out);
  /* A message that is no image at all, straight from libnats (its file
   * is written only now, for the checks: the producer did not see it). */
  static const char junk[] = "this is not an image, only text";
  ASSERT(test_write_file(test_strf("%s/tulip/garbage.jpg", root), junk,
                         sizeof junk - 1) == 0);
  publish_image(&c, "tulip/garbage.jpg", junk, sizeof junk - 1);
  json_t *images = nimages(&c, "IMAGES", root);
  ASSERT_EQ(json_object_size(images), 12);
  ASSERT(json_object_get(images, "daisy/broken.jpg") != NULL);

  const char *const extra[] = {"--max-files-per-trigger", "4", "--ack-wait",
                               "4000", "--max-deliver", "5", "--until-idle",
                               "10000", NULL};
  pid_t w[W];
  for (int i = 0; i < W; i++) w[i] = nworker_start("nats_e", i, &s, extra);
  for (int i = 0; i < W; i++) nwait_ok(test_strf("nats_e_w%d", i), w[i], 600);

  /* The known answers: classify fails on both bad files too. */
  json_t *want = nclassify("nats_e_classify", root, images);
  ASSERT(json_is_null(json_object_get(want, "daisy/broken.jpg")));
  ASSERT(json_is_null(json_object_get(want, "tulip/garbage.jpg")));
  size_t msgs = 0;
  json_t *stored = nresults(&c, "RESULTS", &msgs);
  ASSERT_EQ(msgs, 12);
  ncheck_rows("RESULTS stream", stored, images, want);
  json_t *listed = nresults_cli("nats_e_results", nsrv_url(&s, "RESULTS"));
  ncheck_rows("imgstream results", listed, images, want);
  const char *bad[2] = {"daisy/broken.jpg", "tulip/garbage.jpg"};
  for (int i = 0; i < 2; i++) {
    const char *e = json_string_value(
        json_object_get(json_object_get(stored, bad[i]), "error"));
    ASSERT(e != NULL && e[0] != '\0');
    fprintf(stderr, "%s: %s\n", bad[i], e);
  }
  /* Delivered once: one row in all the workers' sinks, nothing pending
   * in the consumer. (A good image may have been delivered twice if a
   * loaded machine made a batch outlast the ack wait; a bad one is
   * terminated as soon as it failed, so never.) */
  json_t *counts = njsonl_counts("nats_e", W);
  ASSERT_EQ(json_object_size(counts), 12);
  for (int i = 0; i < 2; i++)
    ASSERT_EQ(json_integer_value(json_object_get(counts, bad[i])), 1);
  jsConsumerInfo *ci = nconsumer_info(&c, "IMAGES", "workers");
  fprintf(stderr, "%llu deliveries for 12 images\n",
          (unsigned long long)ci->Delivered.Consumer);
  ASSERT_EQ(ci->NumRedelivered, 0);
  ASSERT_EQ(ci->NumAckPending, 0);
  ASSERT_EQ(ci->NumPending, 0);
  ASSERT_EQ(ci->Delivered.Stream, 12);
  ASSERT_EQ(ci->AckFloor.Stream, 12);
  jsConsumerInfo_Destroy(ci);

  json_decref(counts);
  json_decref(listed);
  json_decref(stored);
  json_decref(want);
  json_decref(images);
  json_decref(good);
  json_decref(all);
  nconn_close(&c);
  nsrv_stop(&s);
  tool_rm_rf(root);
}

/* Run the tool; it must exit 1 with `url` in its stderr, in 60 s. */
static void expect_refused(const char *name, const char *url,
                           const char *const *args) {
  double t0 = test_now();
  int code = ntool_run(name, args, 60);
  char *err = ntool_text(name, "err");
  if (code != 1 || strstr(err, url) == NULL)
    TEST__FAIL("%s: exit %d (want 1), stderr (want \"%s\" in it):\n%s", name,
               code, url, err);
  fprintf(stderr, "%s (%.1f s): %s", name, test_now() - t0, err);
  free(err);
}

TEST(nats_errors_unreachable) {
  nscen_need();
  json_t *all = nflowers(0, 0);
  json_t *keys = per_category(all, 1);
  json_decref(all);
  char root[4400];
  snprintf(root, sizeof root, "%s", tmp_path("nats_f_data"));
  ndataset(root, keys);
  json_decref(keys);
  /* Nothing listens on `port`, held for the whole case. */
  int holder;
  int port = nsrv_refusing_port(&holder);
  char hostport[64], url[128], results[128], jsonl[4400];
  snprintf(hostport, sizeof hostport, "127.0.0.1:%d", port);
  snprintf(url, sizeof url, "nats://%s/IMAGES", hostport);
  snprintf(results, sizeof results, "nats://%s/RESULTS", hostport);
  snprintf(jsonl, sizeof jsonl, "jsonl:%s.jsonl", tmp_path("nats_f_w"));

  nargs a = {{0}, 0};
  nargs_add(&a, "produce", "--from", root, "--to", url, "--interval", "0",
            NULL);
  expect_refused("nats_f_produce", hostport, a.v);
  nargs b = {{0}, 0};
  nargs_add(&b, "stream", "--source", url, "--sink", jsonl, "--model",
            nmodel, "--until-idle", "1000", NULL);
  expect_refused("nats_f_stream", hostport, b.v);
  nargs r = {{0}, 0};
  nargs_add(&r, "results", "--source", results, "--json", NULL);
  expect_refused("nats_f_results", hostport, r.v);

  /* A reachable source, an unreachable results sink. */
  nsrv s;
  nsrv_start(&s, "nats_f_srv", 1, 0);
  nargs p = {{0}, 0};
  nargs_add(&p, "produce", "--from", root, "--to", nsrv_url(&s, "IMAGES"),
            "--interval", "0", NULL);
  nwait_ok("nats_f_produce_ok", ntool_start("nats_f_produce_ok", p.v), 60);
  nargs w = {{0}, 0};
  nargs_add(&w, "stream", "--source", nsrv_url(&s, "IMAGES"), "--sink",
            results, "--model", nmodel, "--until-idle", "1000", NULL);
  expect_refused("nats_f_sink", hostport, w.v);
  close(holder);
  nsrv_stop(&s);
  tool_rm_rf(root);
}

TEST(nats_errors_max_payload) {
  nscen_need();
  enum { LIMIT = 65536 };
  /* Four small flowers (room for the headers) and one over the limit. */
  json_t *small = nflowers(0, 50000);
  json_t *keys = per_category(small, 1);
  json_array_remove(keys, 4);
  ASSERT_EQ(json_array_size(keys), 4);
  json_t *large = nflowers(120000, 0);
  ASSERT(json_array_size(large) > 0);
  const char *big = json_string_value(json_array_get(large, 0));
  json_array_append(keys, json_array_get(large, 0));
  char root[4400];
  snprintf(root, sizeof root, "%s", tmp_path("nats_g_data"));
  ndataset(root, keys);
  struct stat st;
  ASSERT(stat(test_strf("%s/%s", root, big), &st) == 0);
  char big_size[32];
  snprintf(big_size, sizeof big_size, "%lld", (long long)st.st_size);

  nsrv s;
  nsrv_start(&s, "nats_g_srv", 1, LIMIT);
  nconn c = nconn_open(&s);
  ASSERT_EQ(natsConnection_GetMaxPayload(c.nc), LIMIT);
  nargs p = {{0}, 0};
  nargs_add(&p, "produce", "--from", root, "--to", nsrv_url(&s, "IMAGES"),
            "--interval", "0", "--seed", "3", NULL);
  int code = ntool_run("nats_g_produce", p.v, 120);
  char *err = ntool_text("nats_g_produce", "err");
  fprintf(stderr, "produce: exit %d, stderr:\n%s", code, err);
  ASSERT_EQ(code, 1);
  ASSERT_CONTAINS(err, big);
  ASSERT_CONTAINS(err, big_size);
  ASSERT_CONTAINS(err, "65536");
  free(err);
  /* The four others are in the stream, as sent; the large one is not. */
  json_t *images = nimages(&c, "IMAGES", root);
  ASSERT_EQ(json_object_size(images), 4);
  ASSERT(json_object_get(images, big) == NULL);
  jsStreamInfo *si = nstream_info(&c, "IMAGES", 30);
  ASSERT(si != NULL);
  ASSERT_EQ(si->Config->MaxMsgSize, LIMIT);
  jsStreamInfo_Destroy(si);

  json_decref(images);
  json_decref(large);
  json_decref(keys);
  json_decref(small);
  nconn_close(&c);
  nsrv_stop(&s);
  tool_rm_rf(root);
}

/* A publish JetStream refuses for good (the stream's own max message
 * size, below the server's payload limit, so the producer's size check
 * passes): the producer stops with exit 1 naming the image, and nothing
 * after it is sent. */
TEST(nats_errors_publish_refused) {
  nscen_need();
  json_t *small = nflowers(0, 40000);
  json_t *keys = per_category(small, 1);
  json_t *large = nflowers(120000, 0);
  ASSERT(json_array_size(keys) >= 2 && json_array_size(large) > 0);
  const char *big = json_string_value(json_array_get(large, 0));
  json_array_append(keys, json_array_get(large, 0));
  char root[4400];
  snprintf(root, sizeof root, "%s", tmp_path("nats_r_data"));
  ndataset(root, keys);

  nsrv s;
  nsrv_start(&s, "nats_r_srv", 1, 0);
  nconn c = nconn_open(&s);
  nargs p = {{0}, 0};
  nargs_add(&p, "produce", "--from", root, "--to", nsrv_url(&s, "IMAGES"),
            "--interval", "0", "--seed", "3", "--max-msg-size", "50000",
            NULL);
  int code = ntool_run("nats_r_produce", p.v, 120);
  char *err = ntool_text("nats_r_produce", "err");
  fprintf(stderr, "produce: exit %d, stderr:\n%s", code, err);
  ASSERT_EQ(code, 1);
  ASSERT_CONTAINS(err, "cannot publish");
  ASSERT_CONTAINS(err, big);
  free(err);
  json_t *images = nimages(&c, "IMAGES", root);
  ASSERT(json_object_get(images, big) == NULL);
  ASSERT(json_object_size(images) < json_array_size(keys));

  json_decref(images);
  json_decref(large);
  json_decref(keys);
  json_decref(small);
  nconn_close(&c);
  nsrv_stop(&s);
  tool_rm_rf(root);
}

/* Run the tool as `name`, expecting exit `code` and `needle` on stderr. */
static void expect_fail(const char *name, const char *const *args, int code,
                        const char *needle) {
  int got = ntool_run(name, args, 60);
  char *err = ntool_text(name, "err");
  if (got != code || strstr(err, needle) == NULL)
    TEST__FAIL("%s: exit %d (want %d), stderr lacks '%s':\n%s", name, got,
               code, needle, err);
  free(err);
}

/* Usage errors and what the user reads: malformed URLs, options that do
 * not go together, a bad consumer name, a missing results stream, a
 * password never echoed; then `results --follow` prints what the stream
 * holds and keeps running until SIGTERM (exit 0). */
TEST(nats_errors_usage) {
  nscen_need();
  const char *const no_stream[] = {"stream", "--source",
                                   "nats://127.0.0.1:4222", NULL};
  expect_fail("nats_u_nostream", no_stream, 2, "want nats://");
  const char *const bad_name[] = {"results", "--source",
                                  "nats://127.0.0.1:4222/a.b", NULL};
  expect_fail("nats_u_badname", bad_name, 2, "stream name");
  const char *const ckpt[] = {"stream", "--source", "nats://127.0.0.1:4222/I",
                              "--checkpoint", tmp_path("nats_u_ckpt"), NULL};
  expect_fail("nats_u_ckpt", ckpt, 2, "--checkpoint is for dir://");
  const char *const secret[] = {"results", "--source",
                                "nats://alice:s3cr3t@127.0.0.1:1/R", NULL};
  expect_fail("nats_u_secret", secret, 1, "alice:***@127.0.0.1:1");
  char *err = ntool_text("nats_u_secret", "err");
  ASSERT(strstr(err, "s3cr3t") == NULL);
  free(err);

  nsrv s;
  nsrv_start(&s, "nats_u_srv", 1, 0);
  const char *const missing[] = {"results", "--source",
                                 nsrv_url(&s, "NOPE"), NULL};
  expect_fail("nats_u_missing", missing, 1, "no stream NOPE");
  nargs w = {{0}, 0};
  nargs_add(&w, "stream", "--source", nsrv_url(&s, "OTHER"), "--model",
            nmodel, "--consumer", "bad.name", "--until-idle", "100", NULL);
  expect_fail("nats_u_consumer", w.v, 1, "consumer name 'bad.name'");

  /* two images through one worker, then results --follow */
  json_t *all = nflowers(0, 0);
  json_t *keys = per_category(all, 1);
  while (json_array_size(keys) > 2) json_array_remove(keys, 2);
  char root[4400];
  snprintf(root, sizeof root, "%s", tmp_path("nats_u_data"));
  ndataset(root, keys);
  nargs p = {{0}, 0};
  nargs_add(&p, "produce", "--from", root, "--to", nsrv_url(&s, "IMAGES"),
            "--interval", "0", "--seed", "1", "--max-age", "3600",
            "--max-bytes", "104857600", NULL);
  nwait_ok("nats_u_produce", ntool_start("nats_u_produce", p.v), 60);
  nconn c = nconn_open(&s);
  jsStreamInfo *si = nstream_info(&c, "IMAGES", 30);
  ASSERT(si != NULL);
  ASSERT_EQ(si->Config->MaxAge, 3600LL * 1000000000LL);
  ASSERT_EQ(si->Config->MaxBytes, 104857600);
  jsStreamInfo_Destroy(si);
  nconn_close(&c);
  const char *const idle[] = {"--until-idle", "1500", NULL};
  nwait_ok("nats_u_w0", nworker_start("nats_u", 0, &s, idle), 120);
  const char *const follow[] = {"results", "--source",
                                nsrv_url(&s, "RESULTS"), "--json",
                                "--follow", NULL};
  pid_t f = ntool_start("nats_u_follow", follow);
  char out_path[4400];
  snprintf(out_path, sizeof out_path, "%s.out", tmp_path("nats_u_follow"));
  for (int i = 0; i < 300 && nlines(out_path) < 2; i++) test_sleep_ms(100);
  ASSERT_EQ(nlines(out_path), 2);
  test_sleep_ms(300);
  ASSERT(!nchild_gone(f)); /* still following */
  kill(f, SIGTERM);
  ASSERT_EQ(ntool_wait("nats_u_follow", f, 30), 0);
  ASSERT_EQ(nlines(out_path), 2);

  json_decref(keys);
  json_decref(all);
  nsrv_stop(&s);
  tool_rm_rf(root);
}

TEST_MAIN(nats_errors_corrupt_image, nats_errors_unreachable,
          nats_errors_max_payload, nats_errors_publish_refused,
          nats_errors_usage)
