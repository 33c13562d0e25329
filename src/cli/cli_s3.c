/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_s3.c - what the bucket subcommands share: the --s3-* options and
 * opening a bucket (dir:// or s3://) with a message a user can act on;
 * retries of S3 requests are reported on stderr as they happen, so a
 * stalled run says why. A URL of no scheme the commands take is refused
 * here, naming them all (the bucket's own message knows only buckets).
 *
 * Threading: main thread.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_int.h"
#include "imgstream/bucket.h"

int cli_s3_option(const char *cmd, ims_s3_options *o, int c) {
  uint64_t v = 0;
  switch (c) {
    case CLI_OPT_S3_ENDPOINT: o->endpoint = optarg; return 1;
    case CLI_OPT_S3_REGION: o->region = optarg; return 1;
    case CLI_OPT_S3_RETRY:
      if (cli_parse_u64(cmd, "s3-retry", optarg, 1, 86400000, &v) != 0)
        return -1;
      o->retry_ms = (uint32_t)v;
      return 1;
    default: return 0;
  }
}

static void on_retry(void *ctx, const char *message) {
  fprintf(stderr, "imgstream %s: %s\n", (const char *)ctx, message);
}

/* Is url "scheme://..." with a scheme neither a bucket backend nor NATS
 * (whose URLs the callers handle before calling cli_open_bucket)? */
static bool unknown_scheme(const char *url) {
  static const char *const known[] = {"dir://", "s3://", "nats://",
                                      "tls://"};
  if (url == NULL || strstr(url, "://") == NULL) return false;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
    if (strncmp(url, known[i], strlen(known[i])) == 0) return false;
  }
  return true;
}

int cli_open_bucket(const char *cmd, const char *url, uint32_t flags,
                    ims_s3_options *o, ims_bucket **out) {
  ims_error err = {0};
  ims_status st;
  if (unknown_scheme(url)) {
    fprintf(stderr, "imgstream %s: URL '%s': unknown scheme (supported: "
                    "dir://, s3://, nats://, tls://)\n", cmd, url);
    return IMS_EXIT_USAGE;
  }
  if (url != NULL && strncmp(url, "s3://", 5) == 0) {
    o->on_retry = on_retry;
    o->retry_ctx = (void *)cmd;
    st = ims_bucket_open_s3(url, o, flags, out, &err);
  } else {
    st = ims_bucket_open(url, flags, out, &err);
  }
  if (st == IMS_OK) return 0;
  fprintf(stderr, "imgstream %s: %s\n", cmd, err.message);
  return st == IMS_ERR_INVALID_ARG ? IMS_EXIT_USAGE : IMS_EXIT_FAILED;
}
