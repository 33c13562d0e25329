/* SPDX-License-Identifier: Apache-2.0 */
/*
 * download.c - ims_dataset_download: fetch a dataset archive over
 * http(s) with libcurl and unpack it (extract.c) into a cache folder.
 *
 * Cache layout (all in options->cache_dir):
 *   NAME-HASH/                  a complete dataset, renamed into place
 *   .NAME-HASH.PID.download     the archive while it downloads; deleted
 *                               after extraction, as the original did
 *   .NAME-HASH.PID.partial/     the extraction in progress
 * Leftovers whose PID no longer runs are removed before a new download.
 * The complete folder is synced (syncfs) before the rename, so after a
 * crash it is either whole or absent.
 *
 * Progress bar: plain text redrawn with '\r' at most 10 times a second on
 * options->progress_fd, then a final newline; no colors at all, so
 * NO_COLOR holds trivially. Whether to draw (a terminal) is the caller's
 * choice.
 *
 * Sections: 1. names and the cache  2. libcurl transfer  3. entry point
 *
 * Threading: no shared state; curl_global_init is reference-counted and
 * thread-safe in the libcurl versions we build with (>= 7.84).
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error_int.h"
#include "produce/produce_int.h"
#include "core/clock_int.h"

#define DEFAULT_MAX_BYTES (16ull << 30)
#define NAME_CAP 200

/* ---- 1. names and the cache ---- */

static uint32_t fnv1a32(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s != '\0'; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* "https://h/p/flower_photos.tgz?x" -> "flower_photos-1a2b3c4d". */
static void cache_name(const char *url, char *out, size_t cap) {
  static const char *const exts[] = {".tar.gz", ".tar.bz2", ".tar.xz",
                                     ".tar.zst", ".tgz", ".tbz2", ".txz",
                                     ".tar", ".zip"};
  const char *p = strstr(url, "://") + 3;
  size_t end = strcspn(p, "?#");
  const char *base = p;
  for (size_t i = 0; i < end; i++)
    if (p[i] == '/') base = p + i + 1;
  size_t len = (size_t)(p + end - base);
  for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
    size_t el = strlen(exts[i]);
    if (len > el && strncasecmp(base + len - el, exts[i], el) == 0) {
      len -= el;
      break;
    }
  }
  char name[NAME_CAP];
  size_t n = 0;
  for (size_t i = 0; i < len && n + 1 < sizeof name - 12; i++) {
    char c = base[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (c >= '0' && c <= '9') || c == '-' || c == '_' ||
             (c == '.' && n > 0);
    name[n++] = ok ? c : '_';
  }
  name[n] = '\0';
  snprintf(out, cap, "%s-%08x", n > 0 ? name : "dataset", fnv1a32(url));
}

/* Remove ".NAME.PID.download" and ".NAME.PID.partial" of dead PIDs. */
static void remove_leftovers(const char *cache, const char *name) {
  DIR *d = opendir(cache);
  size_t nlen = strlen(name);
  for (struct dirent *ent = d ? readdir(d) : NULL; ent != NULL;
       ent = readdir(d)) {
    const char *s = ent->d_name;
    if (s[0] != '.' || strncmp(s + 1, name, nlen) != 0 || s[nlen + 1] != '.')
      continue;
    if (!ims__pid_gone(ims__leftover_pid(s, 0))) continue;
    char path[4096 + NAME_CAP];
    if (snprintf(path, sizeof path, "%s/%s", cache, s) < (int)sizeof path)
      ims__remove_tree(path);
  }
  if (d != NULL) closedir(d);
}

/* Does folder `dir` contain a folder (not hidden)? */
static bool has_subfolder(const char *dir) {
  DIR *d = opendir(dir);
  bool found = false;
  for (struct dirent *ent = d ? readdir(d) : NULL; ent != NULL && !found;
       ent = readdir(d)) {
    char path[4096 + 256];
    struct stat st;
    int n = snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
    found = n < (int)sizeof path && ent->d_name[0] != '.' &&
            lstat(path, &st) == 0 &&
            S_ISDIR(st.st_mode);
  }
  if (d != NULL) closedir(d);
  return found;
}

/* The dataset root inside an unpacked folder (see dataset.h). */
static char *resolve_root(const char *dir) {
  DIR *d = opendir(dir);
  char only[256] = "";
  int count = 0;
  for (struct dirent *ent = d ? readdir(d) : NULL; ent != NULL;
       ent = readdir(d)) {
    if (ent->d_name[0] == '.') continue;
    if (++count == 1) snprintf(only, sizeof only, "%s", ent->d_name);
  }
  if (d != NULL) closedir(d);
  char *root = NULL;
  char sub[4096 + 256];
  int n = snprintf(sub, sizeof sub, "%s/%s", dir, only);
  struct stat st;
  bool descend = count == 1 && n < (int)sizeof sub && lstat(sub, &st) == 0 &&
                 S_ISDIR(st.st_mode) && has_subfolder(sub);
  if (asprintf(&root, "%s", descend ? sub : dir) < 0) return NULL;
  return root;
}

/* ---- 2. libcurl transfer ---- */

typedef struct fetch {
  FILE *out;                /* the archive being written */
  uint64_t written;         /* bytes so far */
  uint64_t max_bytes;       /* limit */
  bool too_large;           /* the limit stopped the transfer */
  int progress_fd;          /* -1 = no bar */
  int64_t last_draw_ms;     /* monotonic time of the last redraw */
  bool drawn;               /* a bar is on the screen */
  const char *label;        /* file name shown in the bar */
  const volatile int *stop; /* optional cancel flag */
} fetch;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user) {
  fetch *f = user;
  size_t n = size * nmemb;
  if (f->written + n > f->max_bytes) {
    f->too_large = true;
    return 0;
  }
  if (fwrite(ptr, 1, n, f->out) != n) return 0;
  f->written += n;
  return n;
}

static void draw_bar(fetch *f, curl_off_t total, curl_off_t now) {
  char bar[31];
  double mb = 1024.0 * 1024.0;
  if (total > 0) {
    int fill = (int)(30 * (double)now / (double)total);
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    dprintf(f->progress_fd, "\rdownloading %.40s [%s] %3d%% %.1f/%.1f MB ",
            f->label, bar, (int)(100 * now / total), (double)now / mb,
            (double)total / mb);
  } else {
    dprintf(f->progress_fd, "\rdownloading %.40s %.1f MB ", f->label,
            (double)now / mb);
  }
  f->drawn = true;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow) {
  fetch *f = user;
  if (f->stop != NULL && *f->stop) return 1;
  int64_t t = (int64_t)(ims__now_mono_ns() / 1000000u);
  if (f->progress_fd >= 0 && t - f->last_draw_ms >= 100) {
    f->last_draw_ms = t;
    draw_bar(f, dltotal, dlnow);
  }
  return 0;
}

/* Turn a failed transfer into a message. */
static ims_status fetch_error(const fetch *f, const char *url, CURLcode rc,
                              const char *detail, ims_error *err) {
  if (f->too_large)
    return ims__fail(err, IMS_ERR_TOO_LARGE,
                     "download %s: larger than %llu bytes", url,
                     (unsigned long long)f->max_bytes);
  if (rc == CURLE_ABORTED_BY_CALLBACK)
    return ims__fail(err, IMS_ERR_IO, "download %s: interrupted", url);
  const char *what = curl_easy_strerror(rc);
  if (detail[0] != '\0' && strcmp(detail, what) != 0)
    return ims__fail(err, IMS_ERR_IO, "download %s: %s (%s)", url, what,
                     detail);
  return ims__fail(err, IMS_ERR_IO, "download %s: %s", url, what);
}

static void setup_easy(CURL *c, const char *url, fetch *f, long connect_s,
                       char *errbuf) {
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, connect_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);  /* byte/s ... */
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);  /* ... for 60 s */
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->max_bytes);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "imgstream/0.1");
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, f);
}

/* Download `url` into the new file `path`. */
static ims_status fetch_url(const char *url, const char *path,
                            const ims_download_options *o, uint64_t max,
                            ims_error *err) {
  char errbuf[CURL_ERROR_SIZE] = "";
  fetch f = {NULL, 0, max, false, o->progress_fd, 0, false,
             strrchr(path, '/') + 1, o->stop};
  ims_status st = IMS_OK;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL *c = curl_easy_init();
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  f.out = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (c == NULL || f.out == NULL) {
    st = ims__fail(err, IMS_ERR_IO, "cannot start download to %s: %s", path,
                   c == NULL ? "libcurl failed" : strerror(errno));
    if (fd >= 0 && f.out == NULL) close(fd);
    goto fail;
  }
  setup_easy(c, url, &f, o->connect_timeout_s > 0 ? o->connect_timeout_s : 30,
             errbuf);
  CURLcode rc = curl_easy_perform(c);
  if (f.drawn) dprintf(f.progress_fd, "\n");
  if (rc != CURLE_OK) {
    st = fetch_error(&f, url, rc, errbuf, err);
    goto fail;
  }
fail:
  if (f.out != NULL && fclose(f.out) != 0 && st == IMS_OK)
    st = ims__fail(err, IMS_ERR_IO, "write %s: %s", path, strerror(errno));
  curl_easy_cleanup(c);
  curl_global_cleanup();
  return st;
}

/* ---- 3. entry point ---- */

/* Download and unpack into `final` through the temporary names. */
static ims_status fetch_and_unpack(const char *url, const char *cache,
                                   const char *name, const char *final,
                                   const ims_download_options *o,
                                   ims_error *err) {
  char archive[4096 + NAME_CAP], partial[4096 + NAME_CAP];
  uint64_t max = o->max_bytes ? o->max_bytes : DEFAULT_MAX_BYTES;
  long pid = (long)getpid();
  snprintf(archive, sizeof archive, "%s/.%s.%ld.download", cache, name, pid);
  snprintf(partial, sizeof partial, "%s/.%s.%ld.partial", cache, name, pid);
  ims__remove_tree(archive);
  ims__remove_tree(partial);
  ims_status st = fetch_url(url, archive, o, max, err);
  if (st == IMS_OK && mkdir(partial, 0755) != 0)
    st = ims__fail(err, IMS_ERR_IO, "mkdir %s: %s", partial, strerror(errno));
  if (st == IMS_OK) {
    ims_error e = {0};
    st = ims__archive_extract(archive, partial, max, o->stop, &e);
    if (st != IMS_OK) ims__fail(err, st, "%s: %s", url, e.message);
  }
  unlink(archive);
  if (st != IMS_OK) goto fail;
  int dfd = open(partial, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    syncfs(dfd);
    close(dfd);
  }
  if (rename(partial, final) != 0) {
    struct stat sb;
    /* Another producer finished the same dataset first: use theirs. */
    if (stat(final, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
      st = ims__fail(err, IMS_ERR_IO, "rename %s: %s", final,
                     strerror(errno));
      goto fail;
    }
  }
fail:
  ims__remove_tree(partial);
  return st;
}

ims_status ims_dataset_download(const char *url,
                                const ims_download_options *o,
                                char **root_out, uint32_t *flags_out,
                                ims_error *err) {
  if (o == NULL || o->cache_dir == NULL || root_out == NULL || url == NULL)
    return ims__fail(err, IMS_ERR_INVALID_ARG, "download: missing argument");
  if (strncasecmp(url, "http://", 7) != 0 &&
      strncasecmp(url, "https://", 8) != 0)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "'%s' is not an http:// or https:// URL", url);
  char name[NAME_CAP], final[4096 + NAME_CAP];
  cache_name(url, name, sizeof name);
  snprintf(final, sizeof final, "%s/%s", o->cache_dir, name);
  if (ims__mkdirs(o->cache_dir) != 0)
    return ims__fail(err, IMS_ERR_IO, "cache folder %s: %s", o->cache_dir,
                     strerror(errno));
  uint32_t flags = IMS_DOWNLOAD_CACHED;
  struct stat st;
  if (stat(final, &st) != 0 || !S_ISDIR(st.st_mode)) {
    flags = 0;
    remove_leftovers(o->cache_dir, name);
    ims_status s = fetch_and_unpack(url, o->cache_dir, name, final, o, err);
    if (s != IMS_OK) return s;
  }
  char *root = resolve_root(final);
  if (root == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  *root_out = root;
  if (flags_out != NULL) *flags_out = flags;
  return IMS_OK;
}
