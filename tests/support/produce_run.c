/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/produce_run.c - see produce_run.h: the tool run through fork
 * and tool_exec, its output read back from files, and small file-tree
 * helpers.
 *
 * Threading: single-threaded; prun_last is process-wide.
 */
#define _GNU_SOURCE
#include "support/produce_run.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

prun_out prun_last;

char *ppath(const char *name) {
  char base[4096];
  snprintf(base, sizeof base, "%s", tmp_path(prun_prefix));
  return test_strf("%s_%s", base, name);
}

void prun_need_tool(void) {
  const char *bin = getenv("IMGSTREAM_BIN");
  if (bin == NULL || access(bin, X_OK) != 0)
    RETURN_SKIP("IMGSTREAM_BIN is not an executable");
}

pid_t prun_spawn(const char *const *args, const char *out, const char *err) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid != 0) return pid;
  tool_exec(args, out, true, err, true);
  return -1; /* not reached */
}

int prun_wait(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

const prun_out *prun(const char *const *args) {
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

char *prun_fresh_dir(const char *name) {
  char *p = ppath(name);
  tool_rm_rf(p);
  if (mkdir(p, 0755) != 0) abort();
  return p;
}

size_t prun_count_lines(const char *text, const char *prefix) {
  size_t n = 0, len = strlen(prefix);
  for (const char *p = text; p != NULL && *p != '\0';) {
    if (strncmp(p, prefix, len) == 0) n++;
    p = strchr(p, '\n');
    if (p != NULL) p++;
  }
  return n;
}

void prun_walk(const char *root, const char *sub, prun_files *f) {
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

void prun_files_free(prun_files *f) {
  for (size_t i = 0; i < f->count; i++) free(f->rel[i]);
  f->count = f->hidden = 0;
}

void prun_copy(const char *from, const char *to) {
  size_t n = 0;
  unsigned char *d = test_read_file(from, &n);
  if (d == NULL || test_write_file(to, d, n) != 0) abort();
  free(d);
}

