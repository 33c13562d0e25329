/* SPDX-License-Identifier: Apache-2.0 */
/*
 * s3_bucket.c - the s3:// bucket backend through the library: its pure
 * pieces (s3.h: configuration from options and environment, request
 * URLs, ListObjectsV2 and <Error> parsing, retry policy), then ims_bucket
 * calls against a real S3-protocol server on 127.0.0.1 (s3_server.h):
 *   s3_units_config      precedence options > environment > defaults,
 *                        bad names, URLs path-style and virtual-hosted
 *   s3_units_xml         listing pages, prefixes, markers, bad replies
 *   s3_units_retry       what is retried; backoff bounds and growth
 *   s3_bucket_put_list_read  bytes in = bytes out, odd keys, 404s,
 *                        Content-Type from the bytes
 *   s3_bucket_pagination 1,050 objects: every one listed, once
 *   s3_bucket_unreachable  no server: retried with on_retry messages,
 *                        then one error naming the endpoint
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <jansson.h>

#include "support/s3_server.h"
#include "core/backoff_int.h"
#include "bucket/bucket_int.h"
#include "bucket/s3_int.h"

static void clear_aws_env(void) {
  unsetenv("AWS_ENDPOINT_URL");
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  unsetenv("AWS_SESSION_TOKEN");
  unsetenv("AWS_REGION");
  unsetenv("AWS_DEFAULT_REGION");
}

TEST(s3_units_config) {
  clear_aws_env();
  ims__s3_config c;
  ims_error err = {0};
  char url[512];
  /* Defaults: AWS, virtual-hosted, anonymous. */
  ASSERT_OK(ims__s3_config_resolve("my-bucket/a/b/", NULL, &c, &err), &err);
  ASSERT_STR_EQ(c.prefix, "a/b");
  ASSERT_STR_EQ(c.region, "us-east-1");
  ASSERT(!c.path_style && c.key_id == NULL);
  ASSERT_CONTAINS(c.cred_source, "anonymous");
  ASSERT_EQ(ims__s3_url(&c, "a/b/daisy/x y+z.jpg", NULL, url, sizeof url), 0);
  ASSERT_STR_EQ(url,
                "https://my-bucket.s3.us-east-1.amazonaws.com/a/b/"
                "daisy/x%20y%2Bz.jpg");
  ims__s3_config_clear(&c);
  /* The environment... */
  setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/", 1);
  setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
  setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
  setenv("AWS_SESSION_TOKEN", "tok", 1);
  ASSERT_OK(ims__s3_config_resolve("b.with.dots", NULL, &c, &err), &err);
  ASSERT(c.path_style);
  ASSERT_STR_EQ(c.region, "eu-west-3");
  ASSERT_STR_EQ(c.token, "tok");
  ASSERT_CONTAINS(c.cred_source,
                  "AKIAENV from the environment, with a "
                  "session token");
  ASSERT_EQ(ims__s3_url(&c, NULL, "list-type=2", url, sizeof url), 0);
  ASSERT_STR_EQ(url, "http://127.0.0.1:9000/b.with.dots?list-type=2");
  ims__s3_config_clear(&c);
  /* ...loses to options. */
  ims_s3_options o;
  memset(&o, 0, sizeof o);
  o.endpoint = "https://storage.googleapis.com";
  o.region = "auto";
  o.access_key_id = "GOOG1";
  o.secret_access_key = "x";
  ASSERT_OK(ims__s3_config_resolve("gcs_bucket", &o, &c, &err), &err);
  ASSERT_STR_EQ(c.region, "auto");
  ASSERT(c.token == NULL);
  ASSERT_CONTAINS(c.cred_source, "GOOG1 from options");
  ims__s3_describe(&c, url, sizeof url);
  ASSERT_CONTAINS(url, "'gcs_bucket' at https://storage.googleapis.com");
  ims__s3_config_clear(&c);
  /* Mistakes a user makes. */
  const char *bad[] = {"UPPER", "ab", "-dash", "ok-bucket/a/../b",
                       "ok-bucket//x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ASSERT_EQ(ims__s3_config_resolve(bad[i], NULL, &c, &err),
              IMS_ERR_INVALID_ARG);
  unsetenv("AWS_SECRET_ACCESS_KEY");
  ASSERT_EQ(ims__s3_config_resolve("bucket", NULL, &c, &err),
            IMS_ERR_INVALID_ARG);
  ASSERT_CONTAINS(err.message, "AWS_SECRET_ACCESS_KEY is not");
  setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
  setenv("AWS_ENDPOINT_URL", "ftp://host", 1);
  ASSERT_EQ(ims__s3_config_resolve("bucket", NULL, &c, &err),
            IMS_ERR_INVALID_ARG);
  ASSERT_CONTAINS(err.message, "from AWS_ENDPOINT_URL");
  clear_aws_env();
  /* SigV4 encoding: unreserved kept, the rest %XX upper-case. */
  size_t len = 0;
  ASSERT_EQ(ims__s3_encode("a-_.~/ é=&", false, url, &len, sizeof url), 0);
  ASSERT_STR_EQ(url, "a-_.~%2F%20%C3%A9%3D%26");
}

static const char page1[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>b</Name><Prefix>run/</Prefix><KeyCount>5</KeyCount>"
    "<IsTruncated>true</IsTruncated>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
    "</NextContinuationToken>"
    "<Contents><Key>run/daisy/a&amp;b.jpg</Key>"
    "<LastModified>2026-01-31T12:34:56.789Z</LastModified>"
    "<ETag>&quot;x&quot;</ETag><Size>46123</Size></Contents>"
    "<Contents><Key>run/rose/</Key><LastModified>2026-01-31T12:00:00.000Z"
    "</LastModified><Size>0</Size></Contents>"
    "<Contents><Key>run/rose/.hidden</Key><LastModified>"
    "2026-01-31T12:00:00Z</LastModified><Size>1</Size></Contents>"
    "<Contents><Key>runaway/x.jpg</Key><LastModified>2026-01-31T12:00:00Z"
    "</LastModified><Size>1</Size></Contents>"
    "<Contents><Key>run/tulip/b.jpg</Key><LastModified>"
    "2026-01-31T12:00:01Z</LastModified><Size>7</Size></Contents>"
    "</ListBucketResult>";

TEST(s3_units_xml) {
  ims__s3_page p;
  memset(&p, 0, sizeof p);
  ims_error err = {0};
  ASSERT_OK(ims__s3_parse_list(page1, strlen(page1), "run", &p, &err), &err);
  ASSERT_EQ(p.count, 2);
  ASSERT_EQ(p.skipped, 3); /* folder marker, hidden name, other prefix */
  ASSERT_STR_EQ(p.items[0].key, "daisy/a&b.jpg");
  ASSERT_EQ(p.items[0].size, 46123);
  ASSERT_EQ(p.items[0].event_time_ms, 1769862896789LL);
  ASSERT_EQ(p.items[1].event_time_ms, 1769860801000LL);
  ASSERT(p.truncated);
  ASSERT_STR_EQ(p.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  /* A last page appends and clears the token. */
  const char *last =
      "<ListBucketResult><IsTruncated>false</IsTruncated>"
      "<Contents><Key>run/c/d</Key><LastModified>"
      "2026-01-31T12:00:01.5Z</LastModified><Size>1</Size>"
      "</Contents></ListBucketResult>";
  ASSERT_OK(ims__s3_parse_list(last, strlen(last), "run", &p, &err), &err);
  ASSERT_EQ(p.count, 3);
  ASSERT_EQ(p.items[2].event_time_ms, 1769860801500LL);
  ASSERT(!p.truncated && p.next_token == NULL);
  ims__s3_page_clear(&p);
  /* Replies that are not listings. */
  const char *bad[] = {
      "",
      "not xml",
      "<Error><Code>x</Code></Error>",
      "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
      "<ListBucketResult><Contents><Size>1</Size></Contents>"
      "</ListBucketResult>",
      "<ListBucketResult><Contents><Key>k</Key><Size>1</Size><LastModified>"
      "yesterday</LastModified></Contents></ListBucketResult>"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ASSERT_EQ(ims__s3_parse_list(bad[i], strlen(bad[i]), "", &p, &err),
              IMS_ERR_IO);
    ASSERT_CONTAINS(err.message, "S3 listing");
    ims__s3_page_clear(&p);
  }
  char code[32], msg[64];
  const char *e =
      "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code>"
      "<Message>Please reduce your request rate.</Message>"
      "</Error>";
  ims__s3_parse_error(e, strlen(e), code, sizeof code, msg, sizeof msg);
  ASSERT_STR_EQ(code, "SlowDown");
  ASSERT_STR_EQ(msg, "Please reduce your request rate.");
  ims__s3_parse_error("<html/>", 7, code, sizeof code, msg, sizeof msg);
  ASSERT_STR_EQ(code, "");
}

TEST(s3_units_retry) {
  ASSERT(ims__s3_retryable(CURLE_OK, 503));
  ASSERT(ims__s3_retryable(CURLE_OK, 500));
  ASSERT(ims__s3_retryable(CURLE_OK, 429));
  ASSERT(ims__s3_retryable(CURLE_COULDNT_CONNECT, 0));
  ASSERT(ims__s3_retryable(CURLE_PARTIAL_FILE, 200));
  ASSERT(ims__s3_retryable(CURLE_RECV_ERROR, 0));
  ASSERT(!ims__s3_retryable(CURLE_OK, 403));
  ASSERT(!ims__s3_retryable(CURLE_OK, 404));
  ASSERT(!ims__s3_retryable(CURLE_OK, 400));
  ASSERT(!ims__s3_retryable(CURLE_URL_MALFORMAT, 0));
  uint64_t rng = 12345;
  uint32_t lo[8] = {0}, hi[8] = {0};
  for (int i = 0; i < 1000; i++) {
    for (unsigned a = 1; a <= 8; a++) {
      uint32_t w = ims__backoff_ms(a - 1, 100, 5000, &rng);
      uint32_t step = 100u << (a - 1);
      if (step > 5000) step = 5000;
      ASSERT(w >= step / 2 && w <= step);
      if (i == 0 || w < lo[a - 1]) lo[a - 1] = w;
      if (w > hi[a - 1]) hi[a - 1] = w;
    }
  }
  /* jitter: the waits of one attempt spread over its range */
  ASSERT(hi[7] - lo[7] > 2000);
  ASSERT(hi[0] - lo[0] > 30);
}

/* A bucket on the running server, with retries logged into `log`. */
static void on_retry(void *ctx, const char *msg) {
  json_array_append_new(ctx, json_string(msg));
}

static ims_bucket *open_s3(const char *prefix, json_t *log, uint32_t retry_ms) {
  ims_s3_options o;
  memset(&o, 0, sizeof o);
  o.on_retry = on_retry;
  o.retry_ctx = log;
  o.retry_ms = retry_ms;
  ims_bucket *b = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_bucket_open_s3(s3srv_url(prefix), &o, 0, &b, &err), &err);
  return b;
}

TEST(s3_bucket_put_list_read) {
  nchild_kill_all();
  s3srv s;
  s3srv_start(&s, "s3b_plr");
  json_t *log = json_array();
  ims_bucket *b = open_s3("p/q", log, 0);
  ims_error err = {0};
  size_t n = 0;
  unsigned char *jpg =
      test_read_file(shared_path("data/images/parrot.jpg"), &n);
  ASSERT(jpg != NULL);
  const char *keys[] = {"daisy/b c+d.jpg", "rose/a.jpg", "rose/z.png"};
  for (int i = 0; i < 3; i++) {
    ASSERT_OK(ims_bucket_put(b, keys[i], jpg, n - (size_t)i, &err), &err);
    test_sleep_ms(i == 0 ? 1100 : 0); /* a later LastModified second */
  }
  ASSERT_OK(ims_bucket_put(b, "rose/z.png", "\x89PNG\r\n\x1a\nxx", 10, &err),
            &err);
  ims_object *objs = NULL;
  size_t count = 0;
  ASSERT_OK(ims_bucket_list(b, &objs, &count, &err), &err);
  ASSERT_EQ(count, 3);
  ASSERT_STR_EQ(objs[0].key, "daisy/b c+d.jpg"); /* oldest first */
  ASSERT_EQ(objs[0].size, n);
  ASSERT_STR_EQ(objs[1].key, "rose/a.jpg");
  ASSERT_STR_EQ(objs[2].key, "rose/z.png");
  ASSERT_EQ(objs[2].size, 10);
  ims_bucket_list_free(objs, count);
  void *data = NULL;
  size_t size = 0;
  ASSERT_OK(ims_bucket_read(b, "daisy/b c+d.jpg", &data, &size, &err), &err);
  ASSERT(size == n && memcmp(data, jpg, n) == 0);
  free(data);
  /* Reused buffer: grows once, then keeps its memory. */
  ims__bucket_buf buf = {NULL, 0, 0, 0};
  ASSERT_OK(ims__bucket_read_into(b, "rose/a.jpg", &buf, &err), &err);
  ASSERT(buf.size == n - 1 && memcmp(buf.data, jpg, n - 1) == 0);
  void *kept = buf.data;
  ASSERT_OK(ims__bucket_read_into(b, "rose/z.png", &buf, &err), &err);
  ASSERT(buf.size == 10 && buf.data == kept);
  ims__bucket_buf_clear(&buf);
  ASSERT_EQ(ims_bucket_read(b, "rose/missing.jpg", &data, &size, &err),
            IMS_ERR_NOT_FOUND);
  ASSERT_CONTAINS(err.message, "imgs/p/q/rose/missing.jpg: no such object");
  char path[64];
  ASSERT_EQ(ims_bucket_local_path(b, "rose/a.jpg", path, sizeof path, &err),
            IMS_ERR_UNSUPPORTED);
  /* What landed in the store, read without imgstream. */
  char *body = NULL, type[64];
  size_t blen = 0;
  ASSERT_EQ(s3srv_get(&s, "p/q/rose/a.jpg", &body, &blen, type, sizeof type),
            200);
  ASSERT(blen == n - 1 && memcmp(body, jpg, blen) == 0);
  ASSERT_STR_EQ(type, "image/jpeg");
  free(body);
  ASSERT_EQ(s3srv_get(&s, "p/q/rose/z.png", &body, &blen, type, sizeof type),
            200);
  ASSERT_STR_EQ(type, "image/png");
  free(body);
  ASSERT_EQ(json_array_size(log), 0); /* nothing needed a retry */
  free(jpg);
  ims_bucket_close(b);
  /* Without credentials: unsigned requests (s3rver allows them, as a
   * public bucket does). */
  unsetenv("AWS_ACCESS_KEY_ID");
  b = open_s3("p/q", log, 0);
  ASSERT_OK(ims_bucket_list(b, &objs, &count, &err), &err);
  ASSERT_EQ(count, 3);
  ims_bucket_list_free(objs, count);
  ims_bucket_close(b);
  setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
  json_decref(log);
  s3srv_kill(&s);
}

TEST(s3_bucket_pagination) {
  nchild_kill_all();
  s3srv s;
  s3srv_start(&s, "s3b_page");
  ims_bucket *b = open_s3("many", NULL, 0);
  ims_error err = {0};
  enum { N = 1050 };
  for (int i = 0; i < N; i++) {
    const char *key = test_strf("c%d/img-%04d.jpg", i % 3, (i * 7919) % N);
    ASSERT_OK(ims_bucket_put(b, key, key, strlen(key), &err), &err);
  }
  /* A neighbour outside the prefix is not ours. */
  ims_bucket *other = open_s3("many-not", NULL, 0);
  ASSERT_OK(ims_bucket_put(other, "c0/x.jpg", "x", 1, &err), &err);
  ims_bucket_close(other);
  ims_object *objs = NULL;
  size_t count = 0;
  ASSERT_OK(ims_bucket_list(b, &objs, &count, &err), &err);
  ASSERT_EQ(count, N);
  json_t *seen = json_object();
  for (size_t i = 0; i < count; i++) {
    ASSERT(json_object_get(seen, objs[i].key) == NULL);
    json_object_set_new(seen, objs[i].key, json_true());
    ASSERT_EQ(objs[i].size, strlen(objs[i].key));
  }
  for (int i = 0; i < N; i++)
    ASSERT(json_object_get(seen, test_strf("c%d/img-%04d.jpg", i % 3,
                                           (i * 7919) % N)) != NULL);
  json_decref(seen);
  ims_bucket_list_free(objs, count);
  ims_bucket_close(b);
  s3srv_kill(&s);
}

TEST(s3_bucket_unreachable) {
  nchild_kill_all();
  s3srv s;
  s3srv_start(&s, "s3b_down");
  s3srv_kill(&s);
  json_t *log = json_array();
  ims_s3_options o;
  memset(&o, 0, sizeof o);
  o.on_retry = on_retry;
  o.retry_ctx = log;
  o.retry_ms = 1500;
  ims_bucket *b = NULL;
  ims_error err = {0};
  ASSERT_EQ(ims_bucket_open_s3(s3srv_url("x"), &o, 0, &b, &err), IMS_ERR_IO);
  ASSERT_CONTAINS(err.message, s.endpoint);
  ASSERT_CONTAINS(err.message, "still failing after");
  ASSERT(json_array_size(log) >= 2);
  ASSERT_CONTAINS(json_string_value(json_array_get(log, 0)), "retry 1 in");
  json_decref(log);
  /* Back up: the same call works. */
  s3srv_restart(&s);
  ASSERT_OK(ims_bucket_open_s3(s3srv_url("x"), &o, 0, &b, &err), &err);
  ims_bucket_close(b);
  s3srv_kill(&s);
}

TEST_MAIN(s3_units_config, s3_units_xml, s3_units_retry,
          s3_bucket_put_list_read, s3_bucket_pagination, s3_bucket_unreachable)
