/* SPDX-License-Identifier: Apache-2.0 */
/*
 * output.c - output helpers shared by the subcommands.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_int.h"

const char *cli_strip_path(const char *msg, const char *path) {
  size_t n = strlen(path);
  if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
    return msg + n + 2;
  return msg;
}

int cli_finish_stdout(int code) {
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "imgstream: error writing output: %s\n", strerror(errno));
    return IMS_EXIT_OUTPUT;
  }
  return code;
}
