/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/stream_run.h - runs of `imgstream stream` from a test (the
 * cli_stream and cli_learn tests): the tool as a child process, buckets
 * of the real shared flowers, and the JSONL sinks it writes. Built into
 * ims_test_support (stream_run.c).
 *
 * Threading: single-threaded; the tool runs as a child process.
 */
#ifndef IMS_TEST_STREAM_RUN_H
#define IMS_TEST_STREAM_RUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Skip the case unless $IMGSTREAM_BIN, the shared default model and the
 * shared flowers are there; model_out gets the model's path. */
void srun_need(char *model_out, size_t cap);

/* Start the tool with args (NULL-terminated); stdout/stderr to files
 * "<name>.out"/"<name>.err" under the test tmp folder. fsize_limit > 0
 * sets the soft RLIMIT_FSIZE in the child (SIGXFSZ ignored: writes fail
 * EFBIG). */
pid_t srun_start(const char *name, long fsize_limit,
                 const char *const *args);

/* Exit code, or 128 + signal. */
int srun_finish(pid_t pid);

void srun_sleep_ms(long ms);

/* The port a tool started as `name` announced on its stderr
 * ($TMP/<name>.err: "imgstream CMD: serving http://127.0.0.1:PORT/..."),
 * waiting up to 120 s (sanitizer builds); 0 if it exited first. `gone`
 * says whether it exited (NULL: waitpid(WNOHANG), for srun_start
 * children; nchild_gone for nats_server.h's). Remove the .err file
 * before starting the tool: the child truncates it only once it runs. */
int srun_announced_port(const char *name, pid_t pid, bool (*gone)(pid_t));

/* Bytes of a file, 0 if it is not there. */
long srun_file_size(const char *path);

/* Wait (at most 120 s: sanitizer builds are slow) until `path` grows past
 * `size` or the child exits. Returns true if it grew. */
bool srun_wait_growth(const char *path, long size, pid_t pid);

typedef struct srun_bucket {
  char dir[4096];  /* bucket folder */
  char url[4200];  /* dir://... */
  size_t count;    /* objects */
} srun_bucket;


/* A fresh bucket with n flowers, taken round-robin from the categories
 * (so labels vary), stored with ims_bucket_put. */
void srun_make_bucket(srun_bucket *bi, const char *name, size_t n);

/* A stream case's files in the test tmp folder, removed so that it
 * starts from nothing: <name>_ckpt, <name>.jsonl (sink: its "jsonl:"
 * spec) and <name>.<ext> for each extension in ext (up to two). */
typedef struct srun_case_files {
  char ckpt[4200], out[4200], sink[4300], extra[2][4200];
} srun_case_files;


void srun_fresh_case_files(srun_case_files *f, const char *name,
                           const char *ext0, const char *ext1);

/* JSON lines of text as {path: row}; counts: {path: times seen} (both
 * new references; counts may be NULL: then a path twice fails). `what`
 * names the text in failures. */
json_t *srun_rows_text(const char *what, const char *text, json_t *counts);

/* Parse a JSONL sink into {path: row}; fails on a duplicate path or a
 * line that is not JSON. Returns a new reference. */
json_t *srun_sink_rows(const char *path);

#endif /* IMS_TEST_STREAM_RUN_H */
