/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_config.c - `--config FILE` (src/cli/config.c): a file of
 * `key = value` lines gives the same run as the same options on the
 * command line, the command line wins, and a malformed file is refused
 * with its name and line.
 *
 * "The same run" is checked twice. Through the tool's own objects
 * (ims_cli, linked in): for every long option of every command, the
 * option-and-value stream getopt_long yields from the file's arguments
 * is the one it yields from the command line, and the command line's
 * value replaces the file's. Through the real binary ($IMGSTREAM_BIN):
 * classify and stream runs configured by a file print what the same
 * command lines print.
 *
 * Out of memory: this test is linked with --wrap for malloc, calloc and
 * realloc (tests/cli.cmake); each allocation cli_config_load makes
 * is failed in turn, and the load must fail cleanly (the sanitizer
 * build's leak check sees the rest freed).
 *
 * Sections: 1. allocation wrappers  2. helpers  3. every option  4. the
 * file format  5. malformed files  6. runs of the tool
 *
 * Threading: single-threaded; runs of the tool go through /bin/sh.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli_int.h"
#include "test.h"

/* ---- 1. allocation wrappers ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static bool alloc_counting; /* inside cli_config_load (load() below) */
static long alloc_count;    /* its allocations so far */
static long alloc_fail_at;  /* fail the allocation of this number; 0 none */

static bool alloc_fails(void) {
  return alloc_counting && ++alloc_count == alloc_fail_at;
}
void *__wrap_malloc(size_t n) {
  return alloc_fails() ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size) {
  return alloc_fails() ? NULL : __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n) {
  return alloc_fails() ? NULL : __real_realloc(p, n);
}

/* ---- 2. helpers ---- */

static const struct {
  const char *name;
  const cli_options *opts;
} commands[] = {
    {"classify", &cli_classify_options},
    {"produce", &cli_produce_options},
    {"results", &cli_results_options},
    {"stream", &cli_stream_options},
};

/* Write `text` to the config file and return its path. */
static const char *config_file(const char *text) {
  const char *path = test_strf("%s", tmp_path("cli_config.conf"));
  ASSERT_EQ(test_write_file(path, text, strlen(text)), 0);
  return path;
}

/* What getopt_long yields from argv, as "c=optarg;..." (c the option's
 * name, for a long option, else its letter) into a test_strf buffer. */
static const char *getopt_stream(const cli_options *o, int argc,
                                 char **argv) {
  char *out = test_strf("%s", "");
  size_t len = 0;
  optind = 0;
  opterr = 0;
  for (;;) {
    int longindex = -1;
    int c = getopt_long(argc, argv, o->short_options, o->long_options,
                        &longindex);
    if (c == -1) break;
    const char *name = NULL;
    for (int i = 0; name == NULL && o->long_options[i].name != NULL; i++) {
      if (o->long_options[i].val == c) name = o->long_options[i].name;
    }
    if (longindex >= 0) name = o->long_options[longindex].name;
    int n = snprintf(out + len, 1000 - len, "%s=%s;", name ? name : "?",
                     optarg ? optarg : "");
    ASSERT(n > 0 && len + (size_t)n < 1000);
    len += (size_t)n;
  }
  optind = 0;
  return out;
}

/* cli_config_load for command `cmd` on the NULL-terminated args (args[0]
 * the command), with stderr kept in *err_out (a test_strf buffer).
 * Returns its result; *cfg must be freed. */
static int load(const char *cmd, const cli_options *o, const char **args,
                cli_config *cfg, const char **err_out) {
  int argc = 0;
  while (args[argc] != NULL) argc++;
  const char *errf = test_strf("%s", tmp_path("cli_config.load.err"));
  fflush(stderr);
  int saved = dup(2);
  int fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT(saved >= 0 && fd >= 0);
  dup2(fd, 2);
  close(fd);
  alloc_count = 0;
  alloc_counting = true;
  int rc = cli_config_load(cmd, o->long_options, o->short_options, argc,
                           (char **)args, cfg);
  alloc_counting = false;
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  char *err = test_read_text(errf);
  if (err_out != NULL) *err_out = test_strf("%s", err);
  free(err);
  return rc;
}

/* ---- 3. every option ---- */

/* For every long option of every command: `name = value` in the file
 * gives getopt_long the option and value `--name value` gives it; the
 * command line's own --name (or its short letter) replaces the file's;
 * a switch set false is as if absent. */
TEST(config_every_option) {
  for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
    const cli_options *o = commands[k].opts;
    const char *cmd = commands[k].name;
    for (int i = 0; o->long_options[i].name != NULL; i++) {
      const struct option *opt = &o->long_options[i];
      if (opt->val == CLI_OPT_CONFIG || strcmp(opt->name, "help") == 0 ||
          strcmp(opt->name, "version") == 0)
        continue;
      bool sw = opt->has_arg == no_argument;
      const char *path = config_file(
          test_strf("# %s\n%s = %s\n", opt->name, opt->name,
                    sw ? "true" : "from file"));
      const char *with_file[] = {cmd, "--config", path, NULL};
      cli_config cfg;
      ASSERT_EQ(load(cmd, o, with_file, &cfg, NULL), 0);
      const char *typed[] = {cmd, test_strf("--%s", opt->name),
                             sw ? NULL : "from file", NULL};
      const char *want = getopt_stream(o, sw ? 2 : 3, (char **)typed);
      ASSERT_STR_EQ(getopt_stream(o, cfg.argc, cfg.argv),
                    test_strf("%sconfig=%s;", want, path));
      cli_config_free(&cfg);

      /* the command line wins, long or short */
      const char *cl[] = {cmd, test_strf("--%s", opt->name),
                          sw ? NULL : "typed", NULL};
      int clargs = sw ? 2 : 3;
      want = getopt_stream(o, clargs, (char **)cl);
      const char *both[] = {cmd, "--config", path, cl[1], cl[2], NULL};
      ASSERT_EQ(load(cmd, o, both, &cfg, NULL), 0);
      ASSERT_STR_EQ(getopt_stream(o, cfg.argc, cfg.argv),
                    test_strf("config=%s;%s", path, want));
      cli_config_free(&cfg);
      if (opt->flag == NULL && opt->val < 256 &&
          strchr(o->short_options, opt->val) != NULL) {
        const char *sh[] = {cmd, "--config", path,
                            test_strf("-%c", opt->val),
                            sw ? NULL : "typed", NULL};
        ASSERT_EQ(load(cmd, o, sh, &cfg, NULL), 0);
        ASSERT_STR_EQ(getopt_stream(o, cfg.argc, cfg.argv),
                      test_strf("config=%s;%s", path, want));
        cli_config_free(&cfg);
      }
      if (sw) { /* false: not given at all */
        path = config_file(test_strf("%s = off\n", opt->name));
        const char *off[] = {cmd, test_strf("--config=%s", path), NULL};
        ASSERT_EQ(load(cmd, o, off, &cfg, NULL), 0);
        ASSERT_STR_EQ(getopt_stream(o, cfg.argc, cfg.argv),
                      test_strf("config=%s;", path));
        cli_config_free(&cfg);
      }
    }
  }
}

/* ---- 4. the file format ---- */

/* The value `line` gives option --model of classify. */
static const char *model_value(const char *line) {
  const char *path = config_file(line);
  const char *args[] = {"classify", "--config", path, NULL};
  cli_config cfg;
  const char *err = NULL;
  int rc = load("classify", &cli_classify_options, args, &cfg, &err);
  if (rc != 0) TEST__FAIL("'%s' refused: %s", line, err);
  /* the file's arguments, then "--config PATH": the last --model wins */
  ASSERT(cfg.argc >= 4);
  const char *last = cfg.argv[cfg.argc - 3];
  ASSERT(strncmp(last, "--model=", 8) == 0);
  const char *v = test_strf("%s", last + 8);
  cli_config_free(&cfg);
  return v;
}

TEST(config_values) {
  ASSERT_STR_EQ(model_value("model = a b  \n"), "a b");
  ASSERT_STR_EQ(model_value("\t model\t=\tx.tflite # a comment\n"),
                "x.tflite");
  ASSERT_STR_EQ(model_value("model = a#b\n"), "a#b");
  ASSERT_STR_EQ(model_value("model = \"a \\\"b\\\" \\\\ # c\"  # d\n"),
                "a \"b\" \\ # c");
  ASSERT_STR_EQ(model_value("model = 'a \"b\" \\ c'\n"), "a \"b\" \\ c");
  ASSERT_STR_EQ(model_value("model = \"\"\n"), "");
  ASSERT_STR_EQ(model_value("# x = y\n\n   \nmodel = crlf\r\n"), "crlf");
  ASSERT_STR_EQ(model_value("model = first\nmodel = last"), "last");
  /* a switch: true, yes, on, 1 (any case) */
  static const char *const yes[] = {"true", "YES", "On", "1"};
  for (size_t i = 0; i < 4; i++) {
    const char *path = config_file(test_strf("json = %s\n", yes[i]));
    const char *args[] = {"classify", "--config", path, NULL};
    cli_config cfg;
    ASSERT_EQ(load("classify", &cli_classify_options, args, &cfg, NULL), 0);
    ASSERT_EQ(cfg.argc, 4);
    ASSERT_STR_EQ(cfg.argv[1], "--json");
    cli_config_free(&cfg);
  }
  /* no --config: the command line as it is */
  const char *args[] = {"classify", "-k", "2", "x.jpg", NULL};
  cli_config cfg;
  ASSERT_EQ(load("classify", &cli_classify_options, args, &cfg, NULL), 0);
  ASSERT(cfg.argv == (char **)args);
  ASSERT_EQ(cfg.argc, 4);
  cli_config_free(&cfg);
}

/* ---- 5. malformed files ---- */

/* `text` as classify's config file is refused with exit code 2 and a
 * message "imgstream classify: FILE:LINE: ...WHY...". */
static void refused(const char *text, int line, const char *why) {
  const char *path = config_file(text);
  const char *args[] = {"classify", "--config", path, "x.jpg", NULL};
  cli_config cfg;
  const char *err = NULL;
  int rc = load("classify", &cli_classify_options, args, &cfg, &err);
  cli_config_free(&cfg);
  if (rc != IMS_EXIT_USAGE)
    TEST__FAIL("'%s' gave %d, not 2 (%s)", text, rc, err);
  ASSERT_CONTAINS(err, test_strf("imgstream classify: %s:%d: ", path, line));
  ASSERT_CONTAINS(err, why);
}

TEST(config_malformed) {
  refused("top = 1\n\nfoo = 1\n", 3, "unknown option 'foo'");
  refused("top 1\n", 1, "expected '=' after 'top'");
  refused("= 1\n", 1, "expected 'key = value', got '= 1'");
  refused("Top = 1\n", 1, "expected 'key = value'");
  refused(test_strf("%0100d = 1\n", 7), 1, "expected 'key = value'");
  refused("top =\n", 1, "'top' needs a value");
  refused("top =   # nothing\n", 1, "'top' needs a value");
  refused("model = \"a\n", 1, "no closing \"");
  refused("model = 'a\n", 1, "no closing '");
  refused("model = \"a\\tb\"\n", 1, "unknown escape '\\t'");
  refused("model = \"a\" b\n", 1, "text after the closing quote: 'b'");
  refused("json = maybe\n", 1, "'json' is a switch: true or false, got "
                               "'maybe'");
  refused("config = other.conf\n", 1, "'config' cannot be set");
  refused("help = true\n", 1, "'help' cannot be set");
  refused("version = true\n", 1, "'version' cannot be set");
  const char nul[] = "top = 1\nmodel = a\0b\n";
  const char *path = test_strf("%s", tmp_path("cli_config.conf"));
  ASSERT_EQ(test_write_file(path, nul, sizeof nul - 1), 0);
  const char *args[] = {"classify", "--config", path, NULL};
  cli_config cfg;
  const char *err = NULL;
  ASSERT_EQ(load("classify", &cli_classify_options, args, &cfg, &err),
            IMS_EXIT_USAGE);
  cli_config_free(&cfg);
  ASSERT_CONTAINS(err, test_strf("%s:2: a NUL byte in the line", path));
}

TEST(config_unreadable) {
  cli_config cfg;
  const char *err = NULL;
  const char *nosuch = test_strf("%s", tmp_path("no-such.conf"));
  const char *missing[] = {"stream", "--config", nosuch, NULL};
  ASSERT_EQ(load("stream", &cli_stream_options, missing, &cfg, &err),
            IMS_EXIT_USAGE);
  cli_config_free(&cfg);
  ASSERT_CONTAINS(err, test_strf("imgstream stream: cannot read config file "
                                 "%s: No such file or directory", nosuch));
  /* a folder opens, and then cannot be read */
  const char *folder[] = {"stream", "--config",
                          test_strf("%s", tmp_path("")), NULL};
  ASSERT_EQ(load("stream", &cli_stream_options, folder, &cfg, &err),
            IMS_EXIT_USAGE);
  cli_config_free(&cfg);
  ASSERT_CONTAINS(err, "cannot read config file");
  ASSERT_CONTAINS(err, "Is a directory");
  const char *path = config_file("threads = 1\n");
  const char *twice[] = {"stream", "--config", path, "--config=x", NULL};
  ASSERT_EQ(load("stream", &cli_stream_options, twice, &cfg, &err),
            IMS_EXIT_USAGE);
  cli_config_free(&cfg);
  ASSERT_CONTAINS(err, "imgstream stream: --config given twice");
}

/* Each allocation of a load fails in turn: the load fails, says "out of
 * memory", and frees what it had. */
TEST(config_out_of_memory) {
  const char *path = config_file("top = 2\njson = true\nmodel = \"m\"\n");
  const char *args[] = {"classify", "--config", path, "-t", "1", NULL};
  cli_config cfg;
  ASSERT_EQ(load("classify", &cli_classify_options, args, &cfg, NULL), 0);
  long n = alloc_count;
  ASSERT_EQ(cfg.argc, 8);
  cli_config_free(&cfg);
  ASSERT(n >= 5);
  for (long i = 1; i <= n; i++) {
    const char *err = NULL;
    alloc_fail_at = i;
    int rc = load("classify", &cli_classify_options, args, &cfg, &err);
    alloc_fail_at = 0;
    cli_config_free(&cfg);
    if (rc == 0) continue; /* an allocation of libc's own (stdio) */
    ASSERT(rc == IMS_EXIT_FAILED || rc == IMS_EXIT_USAGE);
    ASSERT_CONTAINS(err, "out of memory");
  }
}

/* ---- 6. runs of the tool ---- */

static char *sh_out; /* stdout of the latest sh() */
static char *sh_err; /* its stderr */

/* Run the tool with the shell words `fmt`; returns its exit code. */
static int tool(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int tool(const char *fmt, ...) {
  const char *bin = getenv("IMGSTREAM_BIN");
  if (bin == NULL || access(bin, X_OK) != 0)
    RETURN_SKIP("IMGSTREAM_BIN is not an executable");
  char args[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  const char *out = test_strf("%s", tmp_path("cli_config.out"));
  const char *err = test_strf("%s", tmp_path("cli_config.err"));
  char *cmd = NULL;
  ASSERT(asprintf(&cmd, "'%s' %s </dev/null >'%s' 2>'%s'", bin, args, out,
                  err) > 0);
  fflush(NULL);
  int st = system(cmd);
  free(cmd);
  free(sh_out);
  free(sh_err);
  sh_out = test_read_text(out);
  sh_err = test_read_text(err);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

TEST(config_classify_run) {
  const char *model = test_strf("%s", shared_path(
      "models/mobilenet_v2_1.0_224_quant.tflite"));
  const char *labels = test_strf("%s", shared_path(
      "models/imagenet_labels.txt"));
  const char *images = test_strf("%s", shared_path("data/images"));
  ASSERT_EQ(tool("classify --model '%s' --labels '%s' --top 3 --json "
                 "--batch 2 --threads 1 --resize 256 --crop 224 "
                 "--max-pixels 10000000 --max-file-bytes 10000000 '%s'",
                 model, labels, images), 0);
  char *typed = strdup(sh_out);
  ASSERT_CONTAINS(typed, "macaw");
  const char *path = config_file(test_strf(
      "# classify, as typed above\nmodel = %s\nlabels = \"%s\"\n"
      "top = 3\njson = yes\nbatch = 2\nthreads = 1\nresize = 256\n"
      "crop = 224\nmax-pixels = 10000000\nmax-file-bytes = 10000000\n",
      model, labels));
  ASSERT_EQ(tool("classify --config '%s' '%s'", path, images), 0);
  ASSERT_STR_EQ(sh_out, typed);
  free(typed);
  /* the command line wins */
  ASSERT_EQ(tool("classify --config '%s' -k 1 '%s'", path, images), 0);
  ASSERT(strstr(sh_out, "lorikeet") == NULL);
  ASSERT_CONTAINS(sh_out, "macaw");
  /* a value the command refuses: its message, then the file's line */
  path = config_file("json = true\n\ntop = many\n");
  ASSERT_EQ(tool("classify --config '%s' '%s'", path, images), 2);
  ASSERT_CONTAINS(sh_err, "--top wants a number from 1 to 100000, got "
                          "'many'");
  ASSERT_CONTAINS(sh_err, test_strf("imgstream classify: %s:3: --top=many "
                                    "was set here", path));
  /* and a malformed file through the tool */
  path = config_file("top = 1\nbogus = 2\n");
  ASSERT_EQ(tool("classify --config '%s' '%s'", path, images), 2);
  ASSERT_CONTAINS(sh_err, test_strf("imgstream classify: %s:2: unknown "
                                    "option 'bogus'", path));
}

/* A jsonl file's rows without their times, one per line, sorted. */
static char *rows_without_times(const char *path) {
  char *text = test_read_text(path);
  char *out = calloc(1, strlen(text) + 1);
  ASSERT(out != NULL);
  for (char *line = strtok(text, "\n"); line != NULL;
       line = strtok(NULL, "\n")) {
    json_t *row = json_loads(line, 0, NULL);
    ASSERT(row != NULL);
    json_object_del(row, "processing_time");
    json_object_del(row, "event_time");
    json_object_del(row, "latency_ms");
    char *s = json_dumps(row, JSON_SORT_KEYS | JSON_COMPACT);
    strcat(out, s);
    strcat(out, "\n");
    free(s);
    json_decref(row);
  }
  free(text);
  return out;
}

TEST(config_stream_run) {
  const char *model = test_strf("%s", shared_path(
      "models/mobilenet_v2_1.0_224_quant.tflite"));
  const char *b = test_strf("%s", tmp_path("cli_config_bucket"));
  const char *runs[2] = {"typed", "file"};
  char *rows[2];
  ASSERT_EQ(system(test_strf("rm -rf '%s' && mkdir -p '%s/daisy' && cd '%s' "
                             "&& for f in $(ls | head -5); do cp \"$f\" "
                             "'%s/daisy/'; done", b, b,
                             shared_path("data/flowers/daisy"), b)), 0);
  for (int r = 0; r < 2; r++) {
    const char *d = test_strf("%s", tmp_path(test_strf("cli_config_%s",
                                                       runs[r])));
    ASSERT_EQ(system(test_strf("rm -rf '%s' && mkdir -p '%s'", d, d)), 0);
    const char *opts = test_strf(
        "source = dir://%s\nmodel = %s\ncheckpoint = %s/ckpt\n"
        "sink = jsonl:%s/a.jsonl\nsink = csv:%s/b.csv\nthreads = 2\n"
        "max-files-per-trigger = 3\ntrigger-interval = 0\n"
        "until-idle = 300\n", b, model, d, d, d);
    if (r == 0) {
      ASSERT_EQ(tool("stream --source 'dir://%s' --model '%s' "
                     "--checkpoint '%s/ckpt' --sink 'jsonl:%s/a.jsonl' "
                     "--sink 'csv:%s/b.csv' --threads 2 "
                     "--max-files-per-trigger 3 --trigger-interval 0 "
                     "--until-idle 300", b, model, d, d, d), 0);
    } else {
      ASSERT_EQ(tool("stream --config '%s'", config_file(opts)), 0);
    }
    rows[r] = rows_without_times(test_strf("%s/a.jsonl", d));
    char *csv = test_read_text(test_strf("%s/b.csv", d));
    ASSERT(csv[0] != '\0');
    free(csv);
  }
  ASSERT(rows[0][0] != '\0');
  ASSERT_STR_EQ(rows[1], rows[0]);
  free(rows[0]);
  free(rows[1]);
}

TEST_MAIN(config_every_option, config_values, config_malformed,
          config_unreadable, config_out_of_memory, config_classify_run,
          config_stream_run)
