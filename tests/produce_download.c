/* SPDX-License-Identifier: Apache-2.0 */
/*
 * produce_download.c - `imgstream produce --download URL`: the test builds
 * .tar.gz archives with libarchive (a few shared flower JPEGs in two
 * category folders, and archives with unsafe entries), serves them from a
 * tiny HTTP/1.0 server it runs in a child process on 127.0.0.1 (an
 * ephemeral port), and checks what lands in the cache and the bucket.
 *
 * Sections: 1. HTTP server  2. archives  3. cases
 *
 * Threading: single-threaded; the server and the tool are forked.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "support/produce_run.h"

const char prun_prefix[] = "produce_download";

/* ---- 1. HTTP server ---- */

static pid_t server_pid;
static int server_port;
static char serve_dir[4200];

/* Answer one request: GET /NAME serves serve_dir/NAME, else 404. */
static void serve_one(int c) {
  char req[2048];
  size_t n = 0;
  req[0] = '\0';
  while (n + 1 < sizeof req && strstr(req, "\r\n\r\n") == NULL) {
    ssize_t r = read(c, req + n, sizeof req - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
    req[n] = '\0';
  }
  req[n] = '\0';
  char name[256] = "";
  sscanf(req, "GET /%255[^ ?]", name);
  char path[8192];
  snprintf(path, sizeof path, "%s/%s", serve_dir, name);
  size_t size = 0;
  unsigned char *body = (name[0] && strstr(name, "..") == NULL)
                            ? test_read_file(path, &size)
                            : NULL;
  char head[256];
  int hn = snprintf(head, sizeof head, "HTTP/1.0 %s\r\nContent-Length: %zu\r\n"
                    "Content-Type: application/gzip\r\n\r\n",
                    body != NULL ? "200 OK" : "404 Not Found", size);
  if (write(c, head, (size_t)hn) < 0) return;
  for (size_t off = 0; body != NULL && off < size;) {
    ssize_t w = write(c, body + off, size - off);
    if (w <= 0) break;
    off += (size_t)w;
  }
  free(body);
}

static void start_server(void) {
  if (server_pid > 0) return;
  snprintf(serve_dir, sizeof serve_dir, "%s", prun_fresh_dir("www"));
  int s = tool_listen_loopback(&server_port);
  ASSERT(s >= 0);
  fflush(NULL);
  server_pid = fork();
  if (server_pid == 0) {
    /* Die with the test, and keep CTest's output pipes free. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    for (;;) {
      int c = accept(s, NULL, NULL);
      if (c < 0) continue;
      serve_one(c);
      close(c);
    }
  }
  close(s);
}

static void stop_server(void) {
  if (server_pid <= 0) return;
  kill(server_pid, SIGKILL);
  prun_wait(server_pid);
  server_pid = 0;
}

static char *url_of(const char *name) {
  return test_strf("http://127.0.0.1:%d/%s", server_port, name);
}

/* ---- 2. archives ---- */

typedef struct entry {
  const char *path;   /* name in the archive */
  const char *source; /* file to store, or NULL */
  const char *link;   /* symlink target (type 'l') or hard link target */
  char type;          /* 'f' file, 'l' symlink, 'h' hard link, 'c' device */
} entry;

static void add_entry(struct archive *w, const entry *e) {
  struct archive_entry *ae = archive_entry_new();
  size_t size = 0;
  unsigned char *data = e->source ? test_read_file(e->source, &size) : NULL;
  archive_entry_set_pathname(ae, e->path);
  archive_entry_set_perm(ae, 0644);
  if (e->type == 'f') {
    archive_entry_set_filetype(ae, AE_IFREG);
    archive_entry_set_size(ae, (la_int64_t)size);
  } else if (e->type == 'l') {
    archive_entry_set_filetype(ae, AE_IFLNK);
    archive_entry_set_symlink(ae, e->link);
  } else if (e->type == 'h') {
    archive_entry_set_filetype(ae, AE_IFREG);
    archive_entry_set_hardlink(ae, e->link);
  } else {
    archive_entry_set_filetype(ae, AE_IFCHR);
    archive_entry_set_rdev(ae, 0x0103);
  }
  ASSERT_EQ(archive_write_header(w, ae), ARCHIVE_OK);
  if (e->type == 'f' && size > 0)
    ASSERT_EQ(archive_write_data(w, data, size), (la_ssize_t)size);
  archive_entry_free(ae);
  free(data);
}

/* Write serve_dir/NAME as a .tar.gz of entries[0..n). */
static void make_archive(const char *name, const entry *entries, size_t n) {
  char path[8192];
  snprintf(path, sizeof path, "%s/%s", serve_dir, name);
  struct archive *w = archive_write_new();
  archive_write_add_filter_gzip(w);
  archive_write_set_format_pax_restricted(w);
  ASSERT_EQ(archive_write_open_filename(w, path), ARCHIVE_OK);
  for (size_t i = 0; i < n; i++) add_entry(w, &entries[i]);
  ASSERT_EQ(archive_write_close(w), ARCHIVE_OK);
  archive_write_free(w);
}

static char jpeg[3][4096];

static void need_setup(void) {
  prun_need_tool();
  const char *rel[3] = {"data/flowers/daisy/10993818044_4c19b86c82.jpg",
                        "data/flowers/daisy/12585131704_0f64b17059_m.jpg",
                        "data/flowers/rose/12238827553_cf427bfd51_n.jpg"};
  for (int i = 0; i < 3; i++) {
    snprintf(jpeg[i], sizeof jpeg[i], "%s", shared_path(rel[i]));
    if (access(jpeg[i], R_OK) != 0) RETURN_SKIP("no ../shared/data/flowers");
  }
  start_server();
}

/* ---- 3. cases ---- */

TEST(produce_download_unpacks_and_uploads) {
  need_setup();
  const entry good[] = {{"small/daisy/a.jpg", jpeg[0], NULL, 'f'},
                        {"small/daisy/b.jpg", jpeg[1], NULL, 'f'},
                        {"small/rose/c.jpg", jpeg[2], NULL, 'f'},
                        {"small/LICENSE.txt", NULL, NULL, 'f'}};
  make_archive("small.tar.gz", good, 4);
  char *cache = prun_fresh_dir("cache_good"), *b = ppath("bucket_good");
  tool_rm_rf(b);
  char url[4200];
  snprintf(url, sizeof url, "dir://%s", b);
  const prun_out *r = PRUN("produce", "--download", url_of("small.tar.gz"),
                           "--cache", cache, "--to", url, "--interval", "0",
                           "--seed", "1");
  ASSERT_EQ(r->code, 0);
  ASSERT_CONTAINS(r->out, "Found 2 images in daisy category\n");
  ASSERT_CONTAINS(r->out, "Found 1 images in rose category\n");
  ASSERT_EQ(prun_count_lines(r->out, "Uploaded "), 3);
  ASSERT_CONTAINS(r->err, "downloaded and unpacked to");
  char p[8192];
  snprintf(p, sizeof p, "%s/daisy/b.jpg", b);
  ASSERT(test_same_file(p, jpeg[1]));
  snprintf(p, sizeof p, "%s/rose/c.jpg", b);
  ASSERT(test_same_file(p, jpeg[2]));
  /* The cache holds the unpacked folder only: the archive is gone. */
  static prun_files f;
  prun_walk(cache, "", &f);
  ASSERT_EQ(f.count, 4);
  ASSERT_EQ(f.hidden, 0);
  ASSERT_CONTAINS(f.rel[0], "small-");
  prun_files_free(&f);
  /* A second run uses the cache, even with the server gone. */
  stop_server();
  tool_rm_rf(b);
  r = PRUN("produce", "--download", url_of("small.tar.gz"), "--cache", cache,
           "--to", url, "--interval", "0");
  ASSERT_EQ(r->code, 0);
  ASSERT_CONTAINS(r->err, "using the cached dataset");
  ASSERT_EQ(prun_count_lines(r->out, "Uploaded "), 3);
}

/* Serve `entries` as NAME; the producer must refuse the archive, write
 * nothing outside the cache and leave nothing in it. */
static void expect_refused(const char *name, const entry *entries, size_t n,
                           const char *what) {
  make_archive(name, entries, n);
  char cache_name[128];
  snprintf(cache_name, sizeof cache_name, "cache_%s", name);
  char *cache = prun_fresh_dir(cache_name), *b = ppath("bucket_evil");
  tool_rm_rf(b);
  char url[4200];
  snprintf(url, sizeof url, "dir://%s", b);
  const prun_out *r = PRUN("produce", "--download", url_of(name), "--cache",
                           cache, "--to", url, "--interval", "0");
  ASSERT_EQ(r->code, 1);
  ASSERT_CONTAINS(r->err, url_of(name));
  ASSERT_CONTAINS(r->err, ": refusing archive: entry '");
  ASSERT_CONTAINS(r->err, what);
  static prun_files f;
  prun_walk(cache, "", &f);
  ASSERT_EQ(f.count + f.hidden, 0); /* no dataset, no leftovers */
  prun_files_free(&f);
  ASSERT(access(b, F_OK) != 0); /* the bucket was never touched */
}

TEST(produce_download_refuses_unsafe_archives) {
  need_setup();
  char outside[4200], evil[4200];
  snprintf(outside, sizeof outside, "%s", ppath("evil_abs.jpg"));
  snprintf(evil, sizeof evil, "%s", ppath("evil.jpg"));
  unlink(outside);
  unlink(evil);
  const entry dotdot[] = {{"daisy/a.jpg", jpeg[0], NULL, 'f'},
                          {"../evil.jpg", jpeg[1], NULL, 'f'}};
  expect_refused("dotdot.tar.gz", dotdot, 2,
                 "'../evil.jpg' has a '..' component");
  const entry deep[] = {{"daisy/../../../evil.jpg", jpeg[1], NULL, 'f'}};
  expect_refused("deep.tar.gz", deep, 1, "has a '..' component");
  const entry absolute[] = {{"daisy/a.jpg", jpeg[0], NULL, 'f'},
                            {outside, jpeg[1], NULL, 'f'}};
  expect_refused("abs.tar.gz", absolute, 2, "has an absolute path");
  const entry link_up[] = {{"daisy/a.jpg", jpeg[0], NULL, 'f'},
                           {"daisy/up", NULL, "../../..", 'l'},
                           {"daisy/up/evil.jpg", jpeg[1], NULL, 'f'}};
  expect_refused("symlink.tar.gz", link_up, 3,
                 "'daisy/up' is a symbolic link leaving the folder "
                 "(-> '../../..')");
  const entry link_abs[] = {{"daisy/etc", NULL, "/etc", 'l'}};
  expect_refused("symlink_abs.tar.gz", link_abs, 1,
                 "a symbolic link leaving the folder");
  const entry hard[] = {{"daisy/a.jpg", jpeg[0], NULL, 'f'},
                        {"daisy/h.jpg", NULL, "../../x.jpg", 'h'}};
  expect_refused("hardlink.tar.gz", hard, 2, "a hard link leaving");
  const entry dev[] = {{"daisy/tty", NULL, NULL, 'c'}};
  expect_refused("device.tar.gz", dev, 1, "a device, FIFO or socket");
  ASSERT(access(outside, F_OK) != 0);
  ASSERT(access(evil, F_OK) != 0);
}

TEST(produce_download_errors) {
  need_setup();
  char *cache = prun_fresh_dir("cache_err");
  const prun_out *r = PRUN("produce", "--download",
                           "http://127.0.0.1:1/flower_photos.tgz", "--cache",
                           cache, "--to", "dir:///nonexistent/never");
  ASSERT_EQ(r->code, 1);
  ASSERT_CONTAINS(r->err, "download http://127.0.0.1:1/flower_photos.tgz: ");
  ASSERT_CONTAINS(r->err, "connect");
  r = PRUN("produce", "--download", url_of("missing.tgz"), "--cache", cache,
           "--to", "dir:///nonexistent/never");
  ASSERT_EQ(r->code, 1);
  ASSERT_CONTAINS(r->err, "404");
  test_write_file(ppath("www/junk.tgz"), "this is no archive", 18);
  r = PRUN("produce", "--download", url_of("junk.tgz"), "--cache", cache,
           "--to", "dir:///nonexistent/never");
  ASSERT_EQ(r->code, 1);
  ASSERT_CONTAINS(r->err, "junk.tgz: not a readable archive");
  r = PRUN("produce", "--download", "ftp://127.0.0.1/x.tgz", "--cache",
           cache, "--to", "dir:///nonexistent/never");
  ASSERT_EQ(r->code, 1);
  ASSERT_CONTAINS(r->err, "not an http:// or https:// URL");
  static prun_files f;
  prun_walk(cache, "", &f);
  ASSERT_EQ(f.count + f.hidden, 0);
  prun_files_free(&f);
  stop_server();
}

TEST_MAIN(produce_download_unpacks_and_uploads,
          produce_download_refuses_unsafe_archives, produce_download_errors)
