/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/produce_run.h - what the produce_* tests share: running the
 * real tool ($IMGSTREAM_BIN) in the foreground or background with its
 * output in files, and small file-tree helpers (fresh folders, listing a
 * bucket folder, comparing files). Built once into ims_test_support
 * (produce_run.c).
 *
 * Every temporary name starts with prun_prefix, which each test file
 * that uses this defines (const char prun_prefix[] = "produce_cli";), so
 * tests that CTest runs in parallel never share a file.
 *
 * Threading: single-threaded; children are forked.
 */
#ifndef IMS_TESTS_PRODUCE_RUN_H
#define IMS_TESTS_PRODUCE_RUN_H

#include <stddef.h>
#include <sys/types.h>

#include "support/tool.h"
#include "test.h"

/* Defined by the test file: the start of its temporary names. */
extern const char prun_prefix[];

typedef struct prun_out {
  int code;  /* exit status, or 128 + signal */
  char *out; /* stdout, NUL-terminated */
  char *err; /* stderr */
} prun_out;

extern prun_out prun_last; /* the latest run; freed by the next */

/* A path under the test tmp folder, private to this test file (a test_strf
 * buffer). */
char *ppath(const char *name);

/* The tool ($IMGSTREAM_BIN), or skip the case. */
void prun_need_tool(void);

/* Fork and exec the tool with args (NULL-terminated), stdout and stderr
 * appended to the given files. Returns the child's pid. */
pid_t prun_spawn(const char *const *args, const char *out, const char *err);

/* Wait for a child; its exit status, or 128 + signal. */
int prun_wait(pid_t pid);

/* Run the tool to the end; output in prun_last. */
const prun_out *prun(const char *const *args);

#define PRUN(...) prun((const char *const[]){__VA_ARGS__, NULL})

/* A fresh, empty folder (removed first if it exists). */
char *prun_fresh_dir(const char *name);

/* Count lines of `text` that start with `prefix`. */
size_t prun_count_lines(const char *text, const char *prefix);

/* Files of a folder tree as "sub/dir/name" relative paths. */
typedef struct prun_files {
  char *rel[8192]; /* malloc()ed relative paths */
  size_t count;    /* used */
  size_t hidden;   /* names starting with '.' seen (not in rel) */
} prun_files;

/* Add the files under root/sub (recursively) to f. */
void prun_walk(const char *root, const char *sub, prun_files *f);

/* Free f's paths; f can be walked into again. */
void prun_files_free(prun_files *f);

/* Copy a file; aborts if it cannot. */
void prun_copy(const char *from, const char *to);

#endif /* IMS_TESTS_PRODUCE_RUN_H */
