/* SPDX-License-Identifier: Apache-2.0 */
/*
 * options.c - option-value parsing shared by the subcommands, so every
 * command accepts and rejects numbers the same way and says so the same
 * way ("imgstream stream: --threads wants a number from 1 to 1024, got
 * 'x'").
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli_int.h"
#include "imgstream/imgstream.h"

int cli_parse_u64(const char *cmd, const char *name, const char *arg,
                  uint64_t min, uint64_t max, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(arg, &end, 10);
  if (arg[0] == '-' || arg[0] == '\0' || *end != '\0' || errno != 0 ||
      v < min || v > max) {
    fprintf(stderr,
            "imgstream %s: --%s wants a number from %" PRIu64 " to %" PRIu64
            ", got '%s'\n", cmd, name, min, max, arg);
    return -1;
  }
  *out = v;
  return 0;
}

int cli_parse_double(const char *cmd, const char *name, const char *arg,
                     double min, double max, double *out) {
  char *end = NULL;
  errno = 0;
  double v = strtod(arg, &end);
  if (arg[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v) ||
      v < min || v > max) {
    fprintf(stderr, "imgstream %s: --%s wants a number from %g to %g, "
                    "got '%s'\n", cmd, name, min, max, arg);
    return -1;
  }
  *out = v;
  return 0;
}

int cli_help_or_version(bool help, bool version, void (*usage)(FILE *out)) {
  if (help) {
    usage(stdout);
    return 1;
  }
  if (version) {
    printf("imgstream %s\n", ims_version());
    return 1;
  }
  return 0;
}
