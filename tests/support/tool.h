/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/tool.h - running the real imgstream binary ($IMGSTREAM_BIN, set
 * by ims_add_test) from a test: the child side of a fork, and removing
 * the folders runs leave; and the listening socket of the small servers
 * tests run on loopback. Built once into ims_test_support (tool.c).
 *
 * Threading: tool_exec runs in a freshly forked child only.
 */
#ifndef IMS_TEST_TOOL_H
#define IMS_TEST_TOOL_H

#include <stdbool.h>

/* In a forked child: stdin from /dev/null, stdout and stderr to the files
 * `out` and `err` (appended to, or truncated first), then exec the tool
 * with `args` (NULL-terminated, without the program name). Never returns:
 * exits 126 if a file cannot be opened, 127 if exec fails. */
void tool_exec(const char *const *args, const char *out, bool out_append,
               const char *err, bool err_append) __attribute__((noreturn));

/* rm -rf `path`; unreadable entries are made readable first. */
void tool_rm_rf(const char *path);

/* A TCP socket listening on 127.0.0.1 at a port the kernel picks (backlog
 * 16); *port_out gets the port. Returns the descriptor, or -1 with errno
 * set. */
int tool_listen_loopback(int *port_out);

#endif /* IMS_TEST_TOOL_H */
