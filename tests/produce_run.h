/* SPDX-License-Identifier: Apache-2.0 */
/*
 * produce_run.h - what the produce_* tests share: running the real tool
 * ($IMGSTREAM_BIN) in the foreground or background with its output in
 * files, and small file-tree helpers (fresh folders, listing a bucket
 * folder, comparing files).
 *
 * Every temporary name starts with PRUN_PREFIX, which each test file
 * defines before including this, so tests that CTest runs in parallel
 * never share a file.
 *
 * Threading: single-threaded; children are forked.
 */
#ifndef IMS_TESTS_PRODUCE_RUN_H
#define IMS_TESTS_PRODUCE_RUN_H

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "tool.h"

#ifndef PRUN_PREFIX
#error "define PRUN_PREFIX before including produce_run.h"
#endif

typedef struct prun_out {
  int code;  /* exit status, or 128 + signal */
  char *out; /* stdout, NUL-terminated */
  char *err; /* stderr */
} prun_out;

static prun_out prun_last; /* the latest run; freed by the next */

/* A path under the test tmp folder, private to this test file (a test_strf
 * buffer). */
static inline char *ppath(const char *name) {
  char base[4096];
  snprintf(base, sizeof base, "%s", tmp_path(PRUN_PREFIX));
  return test_strf("%s_%s", base, name);
}

static inline void prun_need_tool(void) {
  const char *bin = getenv("IMGSTREAM_BIN");
  if (bin == NULL || access(bin, X_OK) != 0)
    RETURN_SKIP("IMGSTREAM_BIN is not an executable");
}

/* Fork and exec the tool with args (NULL-terminated), stdout and stderr
 * appended to the given files. Returns the child's pid. */
static inline pid_t prun_spawn(const char *const *args, const char *out,
                               const char *err) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid != 0) return pid;
  tool_exec(args, out, true, err, true);
  return -1; /* not reached */
}

static inline int prun_wait(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Run the tool to the end; output in prun_last. */
static inline const prun_out *prun(const char *const *args) {
  char out[4200], err[4200];
  snprintf(out, sizeof out, "%s", ppath("stdout.txt"));
  snprintf(err, sizeof err, "%s", ppath("stderr.txt"));
  unlink(out);
  unlink(err);
  free(prun_last.out);
  free(prun_last.err);
  prun_last.code = prun_wait(prun_spawn(args, out, err));
  prun_last.out = test_read_text(out);
  prun_last.err = test_read_text(err);
  return &prun_last;
}

#define PRUN(...) prun((const char *const[]){__VA_ARGS__, NULL})

/* A fresh, empty folder (removed first if it exists). */
static inline char *prun_fresh_dir(const char *name) {
  char *p = ppath(name);
  tool_rm_rf(p);
  if (mkdir(p, 0755) != 0) abort();
  return p;
}

/* Count lines of `text` that start with `prefix`. */
static inline size_t prun_count_lines(const char *text, const char *prefix) {
  size_t n = 0, len = strlen(prefix);
  for (const char *p = text; p != NULL && *p != '\0';) {
    if (strncmp(p, prefix, len) == 0) n++;
    p = strchr(p, '\n');
    if (p != NULL) p++;
  }
  return n;
}

/* Files of a folder tree as "sub/dir/name" relative paths. */
typedef struct prun_files {
  char *rel[8192]; /* malloc()ed relative paths */
  size_t count;    /* used */
  size_t hidden;   /* names starting with '.' seen (not in rel) */
} prun_files;

static inline void prun_walk(const char *root, const char *sub,
                             prun_files *f) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s%s%s", root, sub[0] ? "/" : "", sub);
  DIR *d = opendir(dir);
  for (struct dirent *e = d ? readdir(d) : NULL; e != NULL; e = readdir(d)) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char rel[4096], full[8192];
    snprintf(rel, sizeof rel, "%s%s%s", sub, sub[0] ? "/" : "", e->d_name);
    snprintf(full, sizeof full, "%s/%s", root, rel);
    struct stat st;
    if (lstat(full, &st) != 0) continue;
    if (e->d_name[0] == '.') f->hidden++;
    if (S_ISDIR(st.st_mode)) {
      prun_walk(root, rel, f);
    } else if (e->d_name[0] != '.' && f->count < 8192) {
      f->rel[f->count++] = strdup(rel);
    }
  }
  if (d != NULL) closedir(d);
}

static inline void prun_files_free(prun_files *f) {
  for (size_t i = 0; i < f->count; i++) free(f->rel[i]);
  f->count = f->hidden = 0;
}

/* Are two files byte-identical? */
static inline int prun_same_file(const char *a, const char *b) {
  size_t na = 0, nb = 0;
  unsigned char *da = test_read_file(a, &na), *db = test_read_file(b, &nb);
  int same = da != NULL && db != NULL && na == nb && memcmp(da, db, na) == 0;
  free(da);
  free(db);
  return same;
}

static inline void prun_copy(const char *from, const char *to) {
  size_t n = 0;
  unsigned char *d = test_read_file(from, &n);
  if (d == NULL || test_write_file(to, d, n) != 0) abort();
  free(d);
}

#endif /* IMS_TESTS_PRODUCE_RUN_H */
