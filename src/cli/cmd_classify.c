/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_classify.c - placeholder until the classify command lands. */
#include <stdio.h>

#include "cli/cli.h"

int cmd_classify(int argc, char **argv) {
  fprintf(stderr, "imgstream classify: not built yet\n");
  return IMS_EXIT_USAGE;
}
