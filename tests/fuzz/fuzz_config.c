/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_config.c - fuzz harness for `--config FILE` (src/cli/config.c, the
 * tool's own objects): the input is a config file, written to the scratch
 * folder and loaded for each command as `CMD --config FILE --json`.
 *
 * Invariants: a load returns 0, or a usage (2) or out-of-memory (1)
 * code; a loaded file gives arguments that all start with "--" and name
 * an option of the command, each from a line number in order, none with
 * a newline; the command line's own --json (or -j) stays last and is
 * never repeated from the file (the command line wins); getopt_long
 * accepts the whole vector. Messages go to stderr (noisy by design).
 *
 * Threading: single-threaded (getopt_long's globals).
 */
#include <getopt.h>
#include <string.h>

#include "cli/cli_int.h"
#include "fuzz.h"

/* Is `arg` ("--name" or "--name=value") an option of `o`? */
static int known(const cli_options *o, const char *arg) {
  size_t n = strcspn(arg + 2, "=");
  for (int i = 0; o->long_options[i].name != NULL; i++) {
    const char *name = o->long_options[i].name;
    if (strlen(name) == n && strncmp(name, arg + 2, n) == 0) return 1;
  }
  return 0;
}

static void check(const char *cmd, const cli_options *o, const char *path) {
  char *args[] = {(char *)cmd, "--config", (char *)path, "--json", NULL};
  /* results takes -j too; --json is in every table but stream's */
  if (strcmp(cmd, "stream") == 0) args[3] = "--verbose";
  cli_config cfg;
  int rc = cli_config_load(cmd, o->long_options, o->short_options, 4, args,
                           &cfg);
  if (rc != 0) {
    if (rc != IMS_EXIT_USAGE && rc != IMS_EXIT_FAILED)
      fuzz_fail("load returned", cmd);
    cli_config_free(&cfg);
    return;
  }
  if (cfg.argc != 4 + (int)cfg.nowned) fuzz_fail("argc", cmd);
  for (size_t i = 0; i < cfg.nowned; i++) {
    const char *a = cfg.argv[1 + i];
    if (a != cfg.owned[i]) fuzz_fail("file arguments not first", cmd);
    if (strncmp(a, "--", 2) != 0 || !known(o, a))
      fuzz_fail("unknown option made", a);
    if (strchr(a, '\n') != NULL) fuzz_fail("newline in a value", a);
    if (cfg.lines[i] == 0 || (i > 0 && cfg.lines[i] < cfg.lines[i - 1]))
      fuzz_fail("line numbers", a);
    if (strcmp(a, args[3]) == 0) fuzz_fail("command line lost", a);
  }
  if (strcmp(cfg.argv[cfg.argc - 1], args[3]) != 0)
    fuzz_fail("command line not last", cmd);
  optind = 0;
  opterr = 0;
  for (;;) {
    int c = getopt_long(cfg.argc, cfg.argv, o->short_options,
                        o->long_options, NULL);
    if (c == -1) break;
    if (c == '?' || c == ':') fuzz_fail("getopt refused", cmd);
  }
  optind = 0;
  cli_config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = fuzz_scratch_write("config", data, size);
  char path[4096];
  strncpy(path, p, sizeof path - 1);
  path[sizeof path - 1] = '\0';
  check("classify", &cli_classify_options, path);
  check("produce", &cli_produce_options, path);
  check("results", &cli_results_options, path);
  check("stream", &cli_stream_options, path);
  return 0;
}
