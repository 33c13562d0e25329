/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/tool.c - see tool.h: exec of the tool in a forked child, and an
 * rm -rf over nftw(), which is why this file asks for XSI/GNU.
 */
#define _GNU_SOURCE
#include "support/tool.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

void tool_exec(const char *const *args, const char *out, bool out_append,
               const char *err, bool err_append) {
  int base = O_WRONLY | O_CREAT;
  int fo = open(out, base | (out_append ? O_APPEND : O_TRUNC), 0644);
  int fe = open(err, base | (err_append ? O_APPEND : O_TRUNC), 0644);
  int fi = open("/dev/null", O_RDONLY);
  if (fo < 0 || fe < 0 || fi < 0) _exit(126);
  dup2(fi, 0);
  dup2(fo, 1);
  dup2(fe, 2);
  char *argv[400];
  int n = 0;
  argv[n++] = getenv("IMGSTREAM_BIN");
  for (; args[n - 1] != NULL && n < 399; n++) argv[n] = (char *)args[n - 1];
  argv[n] = NULL;
  if (argv[0] != NULL) execv(argv[0], argv);
  _exit(127);
}

static int tool__rm_one(const char *p, const struct stat *sb, int f,
                        struct FTW *ftw) {
  (void)sb, (void)f, (void)ftw;
  chmod(p, 0700); /* so that unreadable fixtures can go too */
  remove(p);
  return 0;
}

void tool_rm_rf(const char *path) {
  nftw(path, tool__rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int tool_listen_loopback(int *port_out) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    close(fd);
    return -1;
  }
  *port_out = ntohs(a.sin_port);
  return fd;
}
