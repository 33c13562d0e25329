/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - the imgstream command: a table of git-style subcommands.
 *
 * Each subcommand lives in its own cmd_*.c and parses its own options,
 * after main() has put those of its --config file in front of them
 * (config.c).
 * main() dispatches, then checks that stdout was written completely
 * (a full disk or closed pipe must not pass silently).
 *
 * Exit codes (shared by every subcommand, see cli_int.h): 0 success, 1 some
 * inputs failed, 2 usage error, 3 model, labels or learned head could not
 * be loaded, 4 output could not be written.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_int.h"
#include "imgstream/imgstream.h"

typedef struct command {
  const char *name;                      /* subcommand as typed */
  int (*run)(const cli_config *cfg);     /* cfg->argv[0] is the name */
  const cli_options *options;            /* for --config (config.c) */
  const char *summary;                   /* one line for `--help` */
} command;

static const command commands[] = {
    {"classify", cmd_classify, &cli_classify_options,
     "classify image files with a model"},
    {"produce", cmd_produce, &cli_produce_options,
     "upload a labeled image dataset into a bucket"},
    {"results", cmd_results, &cli_results_options,
     "print the results a fleet published to NATS"},
    {"stream", cmd_stream, &cli_stream_options,
     "classify new images of a bucket as they land"},
};

/* Run command c on argv[0..argc) (argv[0] its name), with the options
 * of its --config file in front (config.c). */
static int run_command(const command *c, int argc, char **argv) {
  cli_config cfg;
  int rc = cli_config_load(c->name, c->options->long_options,
                           c->options->short_options, argc, argv, &cfg);
  if (rc == 0) rc = c->run(&cfg);
  cli_config_free(&cfg);
  return rc;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: imgstream [--version] [--help] <command> [<args>]\n\n"
          "commands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(out,
          "\n'imgstream <command> --help' describes a command.\n"
          CLI_EXIT_CODES_HELP);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return IMS_EXIT_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
    printf("imgstream %s\n", ims_version());
    return cli_finish_stdout(IMS_EXIT_OK);
  }
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
      strcmp(name, "help") == 0) {
    usage(stdout);
    return cli_finish_stdout(IMS_EXIT_OK);
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (strcmp(name, commands[i].name) == 0)
      return cli_finish_stdout(run_command(&commands[i], argc - 1, argv + 1));
  }
  fprintf(stderr, "imgstream: '%s' is not a command; see 'imgstream --help'\n",
          name);
  return IMS_EXIT_USAGE;
}
