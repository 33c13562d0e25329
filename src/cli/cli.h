/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h - what the subcommands of the imgstream tool share: exit codes,
 * the subcommand entry points, and small output helpers.
 */
#ifndef IMS_CLI_CLI_H
#define IMS_CLI_CLI_H

#include <stdio.h>

enum {
  IMS_EXIT_OK = 0,      /* everything succeeded */
  IMS_EXIT_FAILED = 1,  /* the run finished, but some inputs failed */
  IMS_EXIT_USAGE = 2,   /* bad command line */
  IMS_EXIT_MODEL = 3,   /* model or labels could not be loaded */
  IMS_EXIT_OUTPUT = 4   /* writing the results failed */
};

int cmd_classify(int argc, char **argv);

/* Flush and check stdout; returns IMS_EXIT_OUTPUT (with a message on
 * stderr) if anything written to it was lost, else `code`. */
int cli_finish_stdout(int code);

#endif /* IMS_CLI_CLI_H */
