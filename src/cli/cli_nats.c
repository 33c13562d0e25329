/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_nats.c - what the NATS subcommands share: the --nats-* connection
 * options and connecting with a message a user can act on.
 *
 * Threading: main thread.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_int.h"
#include "imgstream/nats.h"

int cli_nats_option(ims_nats_options *o, int c) {
  switch (c) {
    case CLI_OPT_NATS_CA: o->tls_ca = optarg; return 1;
    case CLI_OPT_NATS_CERT: o->tls_cert = optarg; return 1;
    case CLI_OPT_NATS_CREDS: o->creds_file = optarg; return 1;
    case CLI_OPT_NATS_KEY: o->tls_key = optarg; return 1;
    case CLI_OPT_NATS_PASSWORD: o->password = optarg; return 1;
    case CLI_OPT_NATS_TLS: o->tls = true; return 1;
    case CLI_OPT_NATS_TOKEN: o->token = optarg; return 1;
    case CLI_OPT_NATS_USER: o->user = optarg; return 1;
    default: return 0;
  }
}

int cli_is_nats_url(const char *url) {
  return url != NULL &&
         (strncmp(url, "nats://", 7) == 0 || strncmp(url, "tls://", 6) == 0);
}

int cli_nats_connect(const char *cmd, const char *url,
                     const ims_nats_options *o, ims_nats **out) {
  ims_error err = {0};
  ims_status st = ims_nats_connect(url, o, out, &err);
  if (st == IMS_OK) return 0;
  fprintf(stderr, "imgstream %s: %s\n", cmd, err.message);
  return st == IMS_ERR_INVALID_ARG ? IMS_EXIT_USAGE : IMS_EXIT_FAILED;
}
