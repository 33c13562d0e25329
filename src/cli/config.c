/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c - `--config FILE` for every command: a file of the command's
 * long options, one `key = value` a line, read before the command line
 * and fed to the same getopt_long handling, so the file cannot mean
 * anything the command line could not say, and the command line wins.
 *
 * How: cli_config_load() first scans the command line with getopt_long
 * (on a copy: getopt permutes what it scans) for --config and for the
 * options it gives. It then reads the file and turns each line into one
 * argument, `--key=value` (a switch set true: `--key`), skipping the
 * keys the command line gives (for an option that may repeat, such as
 * --sink, the command line's list replaces the file's). The new
 * argument vector is: the command's name, the file's arguments, then the
 * command line as typed; the command parses it as if typed, and
 * cli_config_blame() names the file and line of a value it refuses.
 *
 * File format (docs/CLI.md "Config files"):
 *   # comment                 a line whose first non-blank is '#'
 *   key = value               key: a long option of the command, without
 *                             "--"; blanks around '=' and the value are
 *                             dropped; a bare value ends at " #" (a
 *                             comment) or the line's end
 *   key = "a \"b\" \\ c"      double quotes: \" and \\ are the escapes
 *   key = 'a "b" \ c'         single quotes: taken as written
 *   json = true               a switch: true/false, yes/no, on/off, 1/0
 * An unknown key, a key of `config`, `help` or `version`, a missing '=',
 * an empty bare value, an unclosed quote, an unknown escape, text after
 * the closing quote, a bad switch value or a NUL byte is an error that
 * names the file and the line: "imgstream CMD: FILE:LINE: ...", exit 2.
 * A key may repeat (the last wins, or each adds, as on the command line).
 *
 * Not here: what an option means or which values it takes (the
 * commands' apply_option); arguments that are not options (classify's
 * images) cannot be given in a file.
 *
 * Threading: main thread only (getopt_long's globals).
 */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli_int.h"

/* ---- scanning the command line ---- */

/* The index in `opts` of the long option getopt_long reported as `c`
 * (with `longindex` set when it was a long one); -1 if none. */
static int option_index(const struct option *opts, int c, int longindex) {
  if (longindex >= 0) return longindex;
  for (int i = 0; opts[i].name != NULL; i++) {
    if (opts[i].flag == NULL && opts[i].val == c) return i;
  }
  return -1;
}

static size_t count_options(const struct option *opts) {
  size_t n = 0;
  while (opts[n].name != NULL) n++;
  return n;
}

/* Scan argv for --config (its value into *path, NULL if absent) and mark
 * given[i] for every option i the command line gives. Returns 0, or an
 * exit code after a message: IMS_EXIT_USAGE (--config twice),
 * IMS_EXIT_FAILED (out of memory). */
static int scan_command_line(const char *cmd, const struct option *opts,
                             const char *shortopts, int argc, char **argv,
                             bool *given, const char **path) {
  char **copy = malloc(((size_t)argc + 1) * sizeof *copy);
  if (copy == NULL) {
    fprintf(stderr, "imgstream %s: out of memory\n", cmd);
    return IMS_EXIT_FAILED;
  }
  memcpy(copy, argv, (size_t)argc * sizeof *copy);
  copy[argc] = NULL;
  *path = NULL;
  int rc = 0;
  optind = 0; /* full re-initialisation of getopt's state */
  opterr = 0;
  for (;;) {
    int longindex = -1;
    int c = getopt_long(argc, copy, shortopts, opts, &longindex);
    if (c == -1) break;
    int i = option_index(opts, c, longindex);
    if (i < 0 || c == ':' || c == '?') continue; /* reported later */
    given[i] = true;
    if (opts[i].val != CLI_OPT_CONFIG) continue;
    if (*path != NULL) {
      fprintf(stderr, "imgstream %s: --config given twice\n", cmd);
      rc = IMS_EXIT_USAGE;
      break;
    }
    *path = optarg;
  }
  optind = 0;
  free(copy);
  return rc;
}

/* ---- reading the file ---- */

/* Append `s` (TRANSFERRED) to c's owned strings and its new argv, from
 * line `line`. Returns 0 or -1 (out of memory; s freed). */
static int push_file_arg(cli_config *c, char *s, unsigned line) {
  char **argv = realloc(c->owned, (c->nowned + 1) * sizeof *argv);
  unsigned *lines = argv ? realloc(c->lines, (c->nowned + 1) * sizeof *lines)
                         : NULL;
  if (argv != NULL) c->owned = argv;
  if (lines == NULL) {
    free(s);
    return -1;
  }
  c->lines = lines;
  c->owned[c->nowned] = s;
  c->lines[c->nowned] = line;
  c->nowned++;
  return 0;
}

/* "--name" or "--name=value" in a new string (NULL out of memory). */
static char *make_arg(const char *name, const char *value) {
  size_t n = strlen(name) + (value ? strlen(value) + 1 : 0) + 3;
  char *s = malloc(n);
  if (s == NULL) return NULL;
  if (value != NULL)
    snprintf(s, n, "--%s=%s", name, value);
  else
    snprintf(s, n, "--%s", name);
  return s;
}

/* Report "imgstream CMD: FILE:LINE: WHAT" and return -1. */
static int bad_line(const cli_config *c, unsigned line, const char *fmt,
                    const char *arg) {
  fprintf(stderr, "imgstream %s: %s:%u: ", c->cmd, c->file, line);
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  return -1;
}

static const char *skip_blanks(const char *p) {
  while (*p == ' ' || *p == '\t') p++;
  return p;
}

/* The value at p (after "key ="), unquoted, into a new string *out.
 * Returns 0, or -1 after reporting what is wrong with it. */
static int parse_value(const cli_config *c, unsigned line, const char *p,
                       char **out) {
  size_t n = strlen(p);
  char *v = malloc(n + 1);
  if (v == NULL) return bad_line(c, line, "out of memory%s", "");
  size_t k = 0;
  const char *rest;
  if (*p == '"' || *p == '\'') {
    char q = *p++;
    while (*p != q) {
      if (*p == '\0') {
        free(v);
        return bad_line(c, line, "no closing %s", q == '"' ? "\"" : "'");
      }
      if (q == '"' && *p == '\\') {
        if (p[1] != '"' && p[1] != '\\') {
          free(v);
          char esc[3] = {'\\', p[1], '\0'};
          return bad_line(c, line, "unknown escape '%s' (only \\\" and \\\\)",
                          esc);
        }
        p++;
      }
      v[k++] = *p++;
    }
    rest = skip_blanks(p + 1);
    if (*rest != '\0' && *rest != '#') {
      free(v);
      return bad_line(c, line, "text after the closing quote: '%s'", rest);
    }
  } else {
    /* A bare value: up to a '#' after a blank (a comment), blanks at its
     * end dropped. */
    while (*p != '\0' && !(*p == '#' && k > 0 && (p[-1] == ' ' ||
                                                  p[-1] == '\t')))
      v[k++] = *p++;
    while (k > 0 && (v[k - 1] == ' ' || v[k - 1] == '\t')) k--;
  }
  v[k] = '\0';
  *out = v;
  return 0;
}

/* A switch's value: 1 true, 0 false, -1 neither. */
static int switch_value(const char *v) {
  static const char *const yes[] = {"true", "yes", "on", "1"};
  static const char *const no[] = {"false", "no", "off", "0"};
  for (size_t i = 0; i < 4; i++) {
    if (strcasecmp(v, yes[i]) == 0) return 1;
    if (strcasecmp(v, no[i]) == 0) return 0;
  }
  return -1;
}

/* One line of the file (NUL-terminated, no newline): nothing, or one
 * argument appended to c. Returns 0 or -1 (reported). */
static int parse_line(cli_config *c, const struct option *opts,
                      const bool *given, unsigned line, const char *text) {
  const char *p = skip_blanks(text);
  if (*p == '\0' || *p == '#') return 0;
  const char *key = p;
  while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')
    p++;
  size_t klen = (size_t)(p - key);
  char name[64];
  if (klen == 0 || klen >= sizeof name)
    return bad_line(c, line, "expected 'key = value', got '%s'", key);
  memcpy(name, key, klen);
  name[klen] = '\0';
  p = skip_blanks(p);
  if (*p != '=')
    return bad_line(c, line, "expected '=' after '%s'", name);
  p = skip_blanks(p + 1);
  int i = 0;
  while (opts[i].name != NULL && strcmp(opts[i].name, name) != 0) i++;
  if (opts[i].name == NULL)
    return bad_line(c, line, "unknown option '%s'", name);
  if (opts[i].val == CLI_OPT_CONFIG || strcmp(name, "help") == 0 ||
      strcmp(name, "version") == 0)
    return bad_line(c, line, "'%s' cannot be set in a config file", name);
  if (*p == '\0' || *p == '#')
    return bad_line(c, line, "'%s' needs a value (\"\" for an empty one)",
                    name);
  char *value = NULL;
  if (parse_value(c, line, p, &value) != 0) return -1;
  /* The argument, unless the command line gives the option (it wins)
   * or a switch is set false. */
  bool wanted = !given[i];
  int rc = 0;
  if (opts[i].has_arg == no_argument) {
    int on = switch_value(value);
    if (on < 0) {
      fprintf(stderr, "imgstream %s: %s:%u: '%s' is a switch: true or "
              "false, got '%s'\n", c->cmd, c->file, line, name, value);
      rc = -1;
    }
    wanted = wanted && on == 1;
  }
  char *arg = NULL;
  if (rc == 0 && wanted) {
    arg = make_arg(name, opts[i].has_arg == no_argument ? NULL : value);
    if (arg == NULL || push_file_arg(c, arg, line) != 0)
      rc = bad_line(c, line, "out of memory%s", "");
  }
  free(value);
  return rc;
}

/* Read c->file line by line into c's arguments. Returns 0 or -1. */
static int read_file(cli_config *c, const struct option *opts,
                     const bool *given) {
  FILE *f = fopen(c->file, "r");
  if (f == NULL) {
    fprintf(stderr, "imgstream %s: cannot read config file %s: %s\n", c->cmd,
            c->file, strerror(errno));
    return -1;
  }
  char *buf = NULL;
  size_t cap = 0;
  unsigned line = 0;
  int rc = 0;
  for (;;) {
    errno = 0;
    ssize_t n = getline(&buf, &cap, f);
    if (n < 0) break;
    line++;
    if (n > 0 && buf[n - 1] == '\n') buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '\r') buf[--n] = '\0';
    if (strlen(buf) != (size_t)n)
      rc = bad_line(c, line, "a NUL byte in the line%s", "");
    else
      rc = parse_line(c, opts, given, line, buf);
    if (rc != 0) break;
  }
  if (rc == 0 && ferror(f)) {
    fprintf(stderr, "imgstream %s: cannot read config file %s: %s\n", c->cmd,
            c->file, strerror(errno));
    rc = -1;
  }
  free(buf);
  fclose(f);
  return rc;
}

/* ---- the public functions (cli_int.h) ---- */

int cli_config_load(const char *cmd, const struct option *opts,
                    const char *shortopts, int argc, char **argv,
                    cli_config *out) {
  memset(out, 0, sizeof *out);
  out->cmd = cmd;
  out->argc = argc;
  out->argv = argv;
  bool *given = calloc(count_options(opts) + 1, sizeof *given);
  if (given == NULL) {
    fprintf(stderr, "imgstream %s: out of memory\n", cmd);
    return IMS_EXIT_FAILED;
  }
  const char *path = NULL;
  int rc = scan_command_line(cmd, opts, shortopts, argc, argv, given, &path);
  if (rc == 0 && path != NULL) {
    out->file = path;
    if (read_file(out, opts, given) != 0) rc = IMS_EXIT_USAGE;
  }
  free(given);
  if (rc != 0 || out->nowned == 0) return rc;
  /* argv[0], the file's arguments, the rest of the command line */
  char **v = malloc(((size_t)argc + out->nowned + 1) * sizeof *v);
  if (v == NULL) {
    fprintf(stderr, "imgstream %s: out of memory\n", cmd);
    return IMS_EXIT_FAILED;
  }
  v[0] = argv[0];
  memcpy(v + 1, out->owned, out->nowned * sizeof *v);
  memcpy(v + 1 + out->nowned, argv + 1, ((size_t)argc - 1) * sizeof *v);
  v[argc + (int)out->nowned] = NULL;
  out->argv = v;
  out->argc = argc + (int)out->nowned;
  out->argv_owned = true;
  return 0;
}

void cli_config_blame(const cli_config *c, const char *arg) {
  if (c == NULL || arg == NULL) return;
  for (size_t i = 0; i < c->nowned; i++) {
    if (c->owned[i] == arg) {
      fprintf(stderr, "imgstream %s: %s:%u: %s was set here\n", c->cmd,
              c->file, c->lines[i], arg);
      return;
    }
  }
}

void cli_config_free(cli_config *c) {
  for (size_t i = 0; i < c->nowned; i++) free(c->owned[i]);
  free(c->owned);
  free(c->lines);
  if (c->argv_owned) free(c->argv);
  memset(c, 0, sizeof *c);
}
