/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_man.c - the manual pages (docs/man/imgstream-CMD.1.scd), each
 * command's --help and its option table cannot disagree: for every
 * command, the long options the page defines (its `*--name*` items) are
 * exactly those of the table (linked in from the tool's own objects,
 * ims_cli), every option the page mentions is one of them, and the
 * table's options are those --help lists. The pages built from those
 * sources render without a warning (man -l).
 *
 * Sections: 1. option names from texts  2. the checks
 *
 * Threading: single-threaded.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli_int.h"
#include "test.h"

/* ---- 1. option names from texts ---- */

#define MAX_NAMES 128

typedef struct names {
  char name[MAX_NAMES][48]; /* option names, without "--" */
  size_t count;             /* entries used */
} names;

static bool has(const names *n, const char *name) {
  for (size_t i = 0; i < n->count; i++) {
    if (strcmp(n->name[i], name) == 0) return true;
  }
  return false;
}

static void add(names *n, const char *name, size_t len) {
  ASSERT(len > 0 && len < sizeof n->name[0]);
  char buf[48];
  memcpy(buf, name, len);
  buf[len] = '\0';
  if (has(n, buf)) return;
  ASSERT(n->count < MAX_NAMES);
  memcpy(n->name[n->count++], buf, len + 1);
}

/* Every "--name" of text into *n; with `defined`, only those in bold
 * ("*--name*") at the start of a line or after "*, ": a page's option
 * items. Quoted mentions ('imgstream stream --learn') are skipped. */
static void scan(const char *text, bool defined, names *n) {
  bool quoted = false;
  for (const char *p = text; *p != '\0'; p++) {
    if (*p == '\'' && !defined) quoted = !quoted;
    if (*p == '\n') quoted = false;
    if (quoted || p[0] != '-' || p[1] != '-' || p[2] < 'a' || p[2] > 'z')
      continue;
    if (p > text && p[-1] != ' ' && p[-1] != '*' && p[-1] != '(' &&
        p[-1] != '\n' && p[-1] != '\t' && p[-1] != ';')
      continue;
    size_t len = 2;
    while ((p[len] >= 'a' && p[len] <= 'z') ||
           (p[len] >= '0' && p[len] <= '9') || p[len] == '-')
      len++;
    if (defined) {
      bool item = p > text && p[-1] == '*' && p[len] == '*' &&
                  (p - 1 == text || p[-2] == '\n' ||
                   (p - 3 > text && p[-2] == ' ' && p[-3] == ','));
      if (!item) continue;
    }
    add(n, p + 2, len - 2);
    p += len - 1;
  }
}

static void table_names(const cli_options *o, names *n) {
  n->count = 0;
  for (int i = 0; o->long_options[i].name != NULL; i++)
    add(n, o->long_options[i].name, strlen(o->long_options[i].name));
}

/* stdout of `$IMGSTREAM_BIN cmd --help`, malloc()ed. */
static char *help_of(const char *cmd) {
  const char *bin = getenv("IMGSTREAM_BIN");
  if (bin == NULL || access(bin, X_OK) != 0)
    RETURN_SKIP("IMGSTREAM_BIN is not an executable");
  const char *out = test_strf("%s", tmp_path("cli_man_help.txt"));
  ASSERT_EQ(system(test_strf("'%s' %s --help > '%s'", bin, cmd, out)), 0);
  return test_read_text(out);
}

/* ---- 2. the checks ---- */

static const struct {
  const char *name;
  const cli_options *opts;
} commands[] = {
    {"classify", &cli_classify_options},
    {"produce", &cli_produce_options},
    {"results", &cli_results_options},
    {"stream", &cli_stream_options},
};

static const char *source_dir(void) {
  const char *s = getenv("IMS_SOURCE_DIR");
  if (s == NULL || s[0] == '\0') RETURN_SKIP("no IMS_SOURCE_DIR");
  return s;
}

TEST(man_options_match) {
  for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
    const char *cmd = commands[k].name;
    names table, page, mentioned, help;
    table_names(commands[k].opts, &table);
    char *text = test_read_text(test_strf("%s/docs/man/imgstream-%s.1.scd",
                                          source_dir(), cmd));
    ASSERT(text[0] != '\0');
    page.count = mentioned.count = help.count = 0;
    scan(text, true, &page);
    scan(text, false, &mentioned);
    free(text);
    text = help_of(cmd);
    scan(text, false, &help);
    free(text);
    for (size_t i = 0; i < table.count; i++) {
      if (!has(&page, table.name[i]))
        TEST__FAIL("imgstream-%s(1) has no item for --%s", cmd,
                   table.name[i]);
      if (!has(&help, table.name[i]))
        TEST__FAIL("imgstream %s --help does not list --%s", cmd,
                   table.name[i]);
    }
    for (size_t i = 0; i < mentioned.count; i++) {
      if (!has(&table, mentioned.name[i]))
        TEST__FAIL("imgstream-%s(1) mentions --%s, not an option of "
                   "'imgstream %s'", cmd, mentioned.name[i], cmd);
    }
    for (size_t i = 0; i < help.count; i++) {
      if (!has(&table, help.name[i]))
        TEST__FAIL("imgstream %s --help lists --%s, not in its table", cmd,
                   help.name[i]);
    }
  }
}

/* Every page built (<build>/man/NAME.1.gz) renders with no warning from
 * groff and has its NAME. */
TEST(man_pages_render) {
  if (access("/usr/bin/man", X_OK) != 0) RETURN_SKIP("no man (man-db)");
  const char *build = getenv("IMS_BUILD_DIR");
  if (build == NULL) RETURN_SKIP("no IMS_BUILD_DIR");
  static const char *const pages[] = {"imgstream", "imgstream-classify",
                                      "imgstream-produce", "imgstream-results",
                                      "imgstream-stream"};
  for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
    const char *page = test_strf("%s/man/%s.1.gz", build, pages[i]);
    if (access(page, R_OK) != 0) TEST__FAIL("%s not built", page);
    const char *out = test_strf("%s", tmp_path("cli_man.out"));
    const char *err = test_strf("%s", tmp_path("cli_man.err"));
    ASSERT_EQ(system(test_strf("MANWIDTH=80 man --warnings -l '%s' >'%s' "
                               "2>'%s'", page, out, err)), 0);
    char *text = test_read_text(out);
    char *warnings = test_read_text(err);
    ASSERT_STR_EQ(warnings, "");
    ASSERT_CONTAINS(text, "NAME");
    ASSERT_CONTAINS(text, test_strf("%s - ", pages[i]));
    free(text);
    free(warnings);
  }
}

TEST_MAIN(man_options_match, man_pages_render)
