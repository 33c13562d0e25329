/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz.h - what every fuzz harness under tests/fuzz/ shares: the libFuzzer
 * entry point's prototype and a private scratch folder for harnesses whose
 * parser takes a path (the checkpoint, snapshot, label and archive
 * readers).
 *
 * Each harness is one fuzz_<name>.c defining LLVMFuzzerTestOneInput. It is
 * linked either with libFuzzer (-DIMS_FUZZ=ON, clang) or with driver.c, a
 * plain main() that replays files through it (the fuzz_regress_* CTest
 * tests, any compiler). A harness aborts only on a broken invariant of the
 * code under test (a failure without a message, a file written outside its
 * folder); sanitizers catch the rest.
 *
 * Scratch folder: fuzz_scratch_dir() makes one folder per process under
 * $TMPDIR (default /tmp) on first use; fuzz_scratch_clear() empties it
 * (recursively, without following links); it is removed at exit.
 *
 * Threading: harnesses run one input at a time on one thread.
 */
#ifndef IMS_TESTS_FUZZ_H
#define IMS_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The process's scratch folder (absolute path; static storage). Aborts if
 * it cannot be made. */
const char *fuzz_scratch_dir(void);

/* Remove everything inside the scratch folder. */
void fuzz_scratch_clear(void);

/* Write bytes to `name` inside the scratch folder; returns its path in a
 * static buffer the next call overwrites. Aborts on failure. */
const char *fuzz_scratch_write(const char *name, const void *data,
                               size_t size);

/* Abort with a message: an invariant of the code under test is broken. */
void fuzz_fail(const char *what, const char *detail);

#endif /* IMS_TESTS_FUZZ_H */
