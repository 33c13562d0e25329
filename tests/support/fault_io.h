/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/fault_io.h - an ims_stream_io hook table that fails one kind
 * of call on files whose path contains a substring, after a number of
 * successes: the tests' way to make the checkpoint and the sinks meet a
 * full disk or an I/O error at an exact point. Built once into
 * ims_test_support (fault_io.c).
 *
 *   fault *f = fault_new("/offsets/", 'w', 3, ENOSPC);
 *   ims_stream_io io = fault_io(f);
 *
 * ops: 'w' write, 's' fsync (both matched on the path the fd was opened
 * with), 'r' rename (matched on the target), 'u' unlink.
 *
 * fault_crash() makes the chosen call kill the process instead (SIGKILL,
 * after `delay_ms`, so that other threads can get ahead meanwhile): a
 * crash at an exact point, for a test that runs the stream in a child.
 *
 * Threading: the hooks may be called from several threads at once (the
 * checkpoint writes on helper threads); a mutex guards the counters.
 */
#ifndef IMS_TEST_FAULT_IO_H
#define IMS_TEST_FAULT_IO_H

#include <stdbool.h>

#include "imgstream/stream.h"

typedef struct fault {
  const char *match;    /* substring of the file's path */
  char op;              /* which call fails: 'w', 's', 'r', 'u' */
  int after;            /* matching calls allowed to succeed first */
  int error;            /* errno to fail with; 0 = EIO */
  int seen;             /* matching calls so far */
  int fired;            /* failures injected */
  bool crash;           /* fault_crash: kill instead of failing */
  int crash_delay_ms;   /* ... after sleeping this long */
  char names[256][256]; /* path of each open fd (fd < 256) */
} fault;

/* A fresh fault (one static instance: tests run one at a time). */
fault *fault_new(const char *match, char op, int after, int error);

/* A fault whose call sleeps `delay_ms`, then kills the process with
 * SIGKILL (the same single instance as fault_new's). */
fault *fault_crash(const char *match, char op, int after, int delay_ms);

/* The hook table over `f` (BORROWED: must outlive the table's users). */
ims_stream_io fault_io(fault *f);

#endif /* IMS_TEST_FAULT_IO_H */
