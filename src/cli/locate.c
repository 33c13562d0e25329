/* SPDX-License-Identifier: Apache-2.0 */
/*
 * locate.c - where the imgstream tool looks for its default model and
 * label file when the command line names none.
 *
 * Search order (first directory holding the file wins):
 *   1. $IMGSTREAM_MODELS
 *   2. run from the build tree (the binary is in IMS_BUILD_TOOL_DIR):
 *      <source tree>/../shared/models (IMS_SOURCE_DIR, set by CMake);
 *      installed anywhere else: <bin>/../share/imgstream/models, the
 *      folder `cmake --install` fills (IMS_BIN_TO_DATA is the relative
 *      path from the bin to the data folder), found from the binary's own
 *      location (/proc/self/exe), so a moved tree still finds it and an
 *      installed binary never reads the source tree it was built from
 *   3. ../shared/models relative to the current directory
 *   4. ${XDG_CACHE_HOME:-$HOME/.cache}/imgstream/models, where
 *      scripts/fetch-model puts what it downloads
 *
 * cli_resolve_model() applies this to --model/--labels for every command.
 *
 * Not here: loading or validating the files; nothing is ever downloaded.
 *
 * Threading: reads the environment; call from the main thread only.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_int.h"

/* Set by CMake for the tool; these defaults keep the file compilable
 * alone (a binary outside any build tree, installed the usual way). */
#ifndef IMS_SOURCE_DIR
#define IMS_SOURCE_DIR "."
#endif
#ifndef IMS_BUILD_TOOL_DIR
#define IMS_BUILD_TOOL_DIR "/nonexistent"
#endif
#ifndef IMS_BIN_TO_DATA
#define IMS_BIN_TO_DATA "../share/imgstream"
#endif

/* Append "<base><suffix>" to dirs unless base is NULL or empty. */
static void add_dir(cli_dirs *dirs, const char *base, const char *suffix) {
  if (base == NULL || base[0] == '\0' || dirs->count >= CLI_MAX_DIRS) return;
  int n = snprintf(dirs->dir[dirs->count], CLI_PATH_MAX, "%s%s", base,
                   suffix);
  if (n > 0 && n < CLI_PATH_MAX) dirs->count++;
}

/* The folder of the running binary into out (CLI_PATH_MAX); -1 if
 * /proc/self/exe cannot be read. */
static int exe_dir(char *out) {
  ssize_t n = readlink("/proc/self/exe", out, CLI_PATH_MAX - 1);
  if (n <= 0) return -1;
  out[n] = '\0';
  char *slash = strrchr(out, '/');
  if (slash == NULL) return -1;
  *slash = '\0';
  return 0;
}

void cli_models_dirs(cli_dirs *dirs) {
  dirs->count = 0;
  add_dir(dirs, getenv("IMGSTREAM_MODELS"), "");
  char bin[CLI_PATH_MAX], build[PATH_MAX];
  if (exe_dir(bin) == 0) {
    if (realpath(IMS_BUILD_TOOL_DIR, build) != NULL &&
        strcmp(bin, build) == 0)
      add_dir(dirs, IMS_SOURCE_DIR, "/../shared/models");
    else
      add_dir(dirs, bin, "/" IMS_BIN_TO_DATA "/models");
  }
  char cwd[CLI_PATH_MAX];
  if (getcwd(cwd, sizeof cwd) != NULL) add_dir(dirs, cwd, "/../shared/models");
  const char *cache = getenv("XDG_CACHE_HOME");
  if (cache != NULL && cache[0] != '\0')
    add_dir(dirs, cache, "/imgstream/models");
  else
    add_dir(dirs, getenv("HOME"), "/.cache/imgstream/models");
}

/* Write "<dir>/<name>" to out; returns 0 if it is a readable file. */
static int try_path(const char *dir, const char *name, char *out) {
  int n = snprintf(out, CLI_PATH_MAX, "%s/%s", dir, name);
  if (n <= 0 || n >= CLI_PATH_MAX) return -1;
  return access(out, R_OK) == 0 ? 0 : -1;
}

int cli_find_in_dirs(const cli_dirs *dirs, const char *name, char *out) {
  for (size_t i = 0; i < dirs->count; i++) {
    if (try_path(dirs->dir[i], name, out) == 0) return 0;
  }
  return -1;
}

int cli_find_labels(const char *model_path, const cli_dirs *dirs, char *out) {
  char dir[CLI_PATH_MAX];
  snprintf(dir, sizeof dir, "%s", model_path);
  char *slash = strrchr(dir, '/');
  if (slash == NULL)
    snprintf(dir, sizeof dir, ".");
  else if (slash == dir)
    slash[1] = '\0';
  else
    *slash = '\0';
  if (try_path(dir, CLI_DEFAULT_LABELS, out) == 0) return 0;
  return cli_find_in_dirs(dirs, CLI_DEFAULT_LABELS, out);
}

void cli_print_dirs(FILE *f, const cli_dirs *dirs, const char *name) {
  fprintf(f, "looked for %s in:\n", name);
  for (size_t i = 0; i < dirs->count; i++) {
    char real[PATH_MAX];
    const char *shown = dirs->dir[i];
    if (realpath(dirs->dir[i], real) != NULL) shown = real;
    fprintf(f, "  %s\n", shown);
  }
}

/* The default model is missing: say where we looked and how to get it. */
static void explain_missing_model(const cli_dirs *dirs) {
  fprintf(stderr, "imgstream: no model given and the default is missing\n");
  cli_print_dirs(stderr, dirs, CLI_DEFAULT_MODEL);
  fprintf(stderr,
          "to get it, run scripts/fetch-model: it downloads\n  %s\n"
          "(SHA-256 %s)\n"
          "into the last directory above and verifies it; or pass "
          "--model FILE\n",
          CLI_MODEL_URL, CLI_MODEL_SHA256);
}

int cli_resolve_model(const char *model, const char *labels,
                      char *model_out, char *labels_out) {
  cli_dirs dirs;
  cli_models_dirs(&dirs);
  if (model != NULL) {
    snprintf(model_out, CLI_PATH_MAX, "%s", model);
  } else if (cli_find_in_dirs(&dirs, CLI_DEFAULT_MODEL, model_out) != 0) {
    explain_missing_model(&dirs);
    return IMS_EXIT_MODEL;
  }
  if (access(model_out, R_OK) != 0) { /* before blaming the labels */
    fprintf(stderr, "imgstream: cannot load model %s: %s\n", model_out,
            strerror(errno));
    return IMS_EXIT_MODEL;
  }
  if (labels != NULL) {
    snprintf(labels_out, CLI_PATH_MAX, "%s", labels);
  } else if (cli_find_labels(model_out, &dirs, labels_out) != 0) {
    fprintf(stderr, "imgstream: no label file given and the default is "
                    "missing; pass --labels FILE\n");
    cli_print_dirs(stderr, &dirs, CLI_DEFAULT_LABELS);
    return IMS_EXIT_MODEL;
  }
  return 0;
}
