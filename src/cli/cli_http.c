/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_http.c - --http [HOST:]PORT for `stream` and `results --follow`:
 * the metrics registry and its server (imgstream/metrics.h), started
 * before anything slow so /readyz can say what the command is doing,
 * and announced on stderr:
 *
 *   imgstream CMD: serving http://HOST:PORT/metrics
 *   imgstream CMD: live page http://HOST:PORT/
 *
 * (scripts and tests read the first line for the port when it is 0).
 *
 * Threading: main thread.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli_int.h"
#include "imgstream/imgstream.h"

int cli_http_start(const char *cmd, const char *bind, const char *mode,
                   const char *source, cli_http *out) {
  ims_error err = {0};
  memset(out, 0, sizeof *out);
  if (ims_metrics_create(&out->metrics, &err) != IMS_OK ||
      ims_http_start(bind, out->metrics, &out->server, &err) != IMS_OK) {
    fprintf(stderr, "imgstream %s: --http %s: %s\n", cmd, bind, err.message);
    cli_http_stop(out);
    return err.status == IMS_ERR_INVALID_ARG ? IMS_EXIT_USAGE
                                             : IMS_EXIT_FAILED;
  }
  ims_metrics_set_source(out->metrics, mode, source);
  ims_metrics_set_ready(out->metrics, false,
                        strcmp(mode, "stream") == 0
                            ? "starting: loading the model, opening the "
                              "source"
                            : "starting: connecting to the results stream");
  const char *host = strchr(bind, ':') ? bind : "127.0.0.1:";
  int hostlen = (int)strcspn(host, ":");
  unsigned port = ims_http_port(out->server);
  fprintf(stderr, "imgstream %s: serving http://%.*s:%u/metrics\n", cmd,
          hostlen, host, port);
  fprintf(stderr, "imgstream %s: live page http://%.*s:%u/\n", cmd, hostlen,
          host, port);
  return 0;
}

void cli_http_stop(cli_http *h) {
  ims_http_stop(h->server); /* first: it reads the registry */
  ims_metrics_destroy(h->metrics);
  memset(h, 0, sizeof *h);
}
