/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support/nats_server.c - see nats_server.h: nats-server processes and
 * the tool as children of the test, libnats look-ups, and the scenario
 * checks the nats_*, s3_* and faults tests share.
 *
 * Sections (as in the header): 0. small things  1. children  2. servers
 * 3. libnats helpers  4. the tool  5. scenarios
 *
 * Threading: single-threaded (libnats runs its own threads inside); the
 * child table is process-wide.
 */
#define _GNU_SOURCE
#include "support/nats_server.h"
#include "support/stream_run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- 0. small things ---- */

void ntail(const char *path, long bytes) {
  char *t = test_read_text(path);
  size_t n = strlen(t);
  const char *from = n > (size_t)bytes ? t + n - (size_t)bytes : t;
  fprintf(stderr, "---- %s (tail) ----\n%s\n---- end ----\n", path, from);
  free(t);
}

/* ---- 1. children ---- */

#define NCHILD_MAX 64
static pid_t nchild__pids[NCHILD_MAX]; /* 0: a free slot */
static bool nchild__atexit;            /* nchild_kill_all is registered */

void nchild_kill_all(void) {
  for (int i = 0; i < NCHILD_MAX; i++) {
    if (nchild__pids[i] <= 0) continue;
    kill(nchild__pids[i], SIGKILL);
    while (waitpid(nchild__pids[i], NULL, 0) < 0 && errno == EINTR) {
    }
    nchild__pids[i] = 0;
  }
}

static void nchild__forget(pid_t pid) {
  for (int i = 0; i < NCHILD_MAX; i++)
    if (nchild__pids[i] == pid) nchild__pids[i] = 0;
}

pid_t nchild_fork(void) {
  if (!nchild__atexit) {
    atexit(nchild_kill_all);
    nchild__atexit = true;
  }
  int slot = -1;
  for (int i = 0; i < NCHILD_MAX && slot < 0; i++)
    if (nchild__pids[i] <= 0) slot = i;
  if (slot < 0) TEST__FAIL("more than %d children", NCHILD_MAX);
  pid_t parent = getpid();
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) TEST__FAIL("fork: %s", strerror(errno));
  if (pid == 0) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
      _exit(125);
    return 0;
  }
  nchild__pids[slot] = pid;
  return pid;
}

int nchild_wait(pid_t pid, double timeout_s) {
  double end = test_now() + timeout_s;
  for (;;) {
    int st = 0;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
      nchild__forget(pid);
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    if (r < 0 && errno != EINTR) TEST__FAIL("waitpid %d: %s", (int)pid,
                                            strerror(errno));
    if (test_now() > end) return -1;
    test_sleep_ms(20);
  }
}

bool nchild_exited(pid_t pid, int *code) {
  int st = 0;
  if (waitpid(pid, &st, WNOHANG) != pid) return false;
  nchild__forget(pid);
  if (code != NULL)
    *code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return true;
}

bool nchild_gone(pid_t pid) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         si.si_pid == pid;
}

void nchild_kill(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  nchild__forget(pid);
}

/* ---- 2. servers ---- */

const char *nsrv_binary(void) {
  const char *b = getenv("IMGSTREAM_NATS_SERVER");
  if (b == NULL || access(b, X_OK) != 0)
    RETURN_SKIP("IMGSTREAM_NATS_SERVER is not an executable");
  return b;
}

int nsrv_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) TEST__FAIL("socket: %s", strerror(errno));
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    close(fd);
    TEST__FAIL("bind 127.0.0.1:0: %s", strerror(errno));
  }
  close(fd);
  return ntohs(a.sin_port);
}

int nsrv_refusing_port(int *holder) {
  *holder = socket(AF_INET, SOCK_STREAM, 0);
  if (*holder < 0) TEST__FAIL("socket: %s", strerror(errno));
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(*holder, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(*holder, (struct sockaddr *)&a, &len) != 0)
    TEST__FAIL("bind 127.0.0.1:0: %s", strerror(errno));
  return ntohs(a.sin_port);
}

static void nsrv__write_conf(const nsrv *s, int i) {
  const nsrv_node *nd = &s->node[i];
  FILE *f = fopen(nd->conf, "w");
  if (f == NULL) TEST__FAIL("%s: %s", nd->conf, strerror(errno));
  fprintf(f, "server_name: %s\nlisten: 127.0.0.1:%d\n", nd->name, nd->port);
  if (s->max_payload > 0) fprintf(f, "max_payload: %ld\n", s->max_payload);
  fprintf(f,
          "jetstream {\n  store_dir: \"%s\"\n  max_memory_store: 256MB\n"
          "  max_file_store: 4GB\n}\n",
          nd->store);
  if (s->n > 1) {
    fprintf(f, "cluster {\n  name: imgstream_test\n"
               "  listen: 127.0.0.1:%d\n  routes: [\n",
            nd->route_port);
    for (int j = 0; j < s->n; j++)
      if (j != i)
        fprintf(f, "    nats-route://127.0.0.1:%d\n", s->node[j].route_port);
    fprintf(f, "  ]\n}\n");
  }
  if (fclose(f) != 0) TEST__FAIL("%s: write failed", nd->conf);
}

static void nsrv__spawn(nsrv *s, int i) {
  const char *bin = nsrv_binary();
  nsrv_node *nd = &s->node[i];
  pid_t pid = nchild_fork();
  if (pid == 0) {
    int fd = open(nd->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int fi = open("/dev/null", O_RDONLY);
    if (fd < 0 || fi < 0) _exit(126);
    dup2(fi, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    execl(bin, bin, "-c", nd->conf, (char *)NULL);
    _exit(127);
  }
  nd->pid = pid;
}

const char *nsrv_servers(const nsrv *s) {
  char *b = test_strf("%s", "");
  size_t len = 0;
  for (int i = 0; i < s->n; i++)
    len += (size_t)snprintf(b + len, 4400 - len, "%snats://127.0.0.1:%d",
                            i ? "," : "", s->node[i].port);
  return b;
}

const char *nsrv_url(const nsrv *s, const char *stream) {
  char *b = test_strf("%s", "nats://");
  size_t len = strlen(b);
  for (int i = 0; i < s->n; i++)
    len += (size_t)snprintf(b + len, 4400 - len, "%s127.0.0.1:%d",
                            i ? "," : "", s->node[i].port);
  snprintf(b + len, 4400 - len, "/%s", stream);
  return b;
}

/* libnats options: these servers, reconnecting for ever every 100 ms. */
static natsOptions *nsrv__options(const char *servers, bool reconnect) {
  natsOptions *o = NULL;
  const char *list[NSRV_MAX];
  char buf[4400];
  snprintf(buf, sizeof buf, "%s", servers);
  int n = 0;
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); t != NULL && n < NSRV_MAX;
       t = strtok_r(NULL, ",", &save))
    list[n++] = t;
  if (natsOptions_Create(&o) != NATS_OK ||
      natsOptions_SetServers(o, list, n) != NATS_OK ||
      natsOptions_SetTimeout(o, 2000) != NATS_OK ||
      natsOptions_SetAllowReconnect(o, reconnect) != NATS_OK ||
      natsOptions_SetMaxReconnect(o, -1) != NATS_OK ||
      natsOptions_SetReconnectWait(o, 100) != NATS_OK ||
      natsOptions_SetName(o, "imgstream-test") != NATS_OK)
    TEST__FAIL("natsOptions: %s", nats_GetLastError(NULL));
  return o;
}

/* JetStream answers on server i: connected to it alone, account info
 * comes back (in a cluster only the meta leader answers it, so this also
 * means the cluster has one). */
static bool nsrv__js_ready(const nsrv *s, int i) {
  natsOptions *o =
      nsrv__options(test_strf("nats://127.0.0.1:%d", s->node[i].port), false);
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  jsAccountInfo *ai = NULL;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 1000;
  bool ok = natsConnection_Connect(&nc, o) == NATS_OK &&
            natsConnection_JetStream(&js, nc, &jo) == NATS_OK &&
            js_GetAccountInfo(&ai, js, NULL, NULL) == NATS_OK;
  jsAccountInfo_Destroy(ai);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  natsOptions_Destroy(o);
  return ok;
}

static void nsrv__fail_logs(const nsrv *s, const char *what, int i)
    __attribute__((noreturn));
static void nsrv__fail_logs(const nsrv *s, const char *what, int i) {
  for (int j = 0; j < s->n; j++) ntail(s->node[j].log, 1500);
  TEST__FAIL("nats-server %s (%s)", what, s->node[i].name);
}

/* Wait until server i answers JetStream requests. False if it exited
 * (its pid is then 0) or did not answer in timeout_s. */
static bool nsrv__wait_ready(nsrv *s, int i, double timeout_s) {
  double end = test_now() + timeout_s;
  while (test_now() < end) {
    if (s->node[i].pid > 0 && nchild_exited(s->node[i].pid, NULL)) {
      s->node[i].pid = 0;
      return false;
    }
    if (nsrv__js_ready(s, i)) return true;
    test_sleep_ms(100);
  }
  return false;
}

void nsrv_start(nsrv *s, const char *name, int n, long max_payload) {
  nsrv_binary();
  if (n < 1 || n > NSRV_MAX) TEST__FAIL("nsrv_start: %d servers", n);
  memset(s, 0, sizeof *s);
  s->n = n;
  s->max_payload = max_payload;
  /* The node paths are formatted from this local copy and the index, not
   * from s->dir and nd->name: a source inside the object being written
   * is what snprintf's restrict forbids (gcc -Wrestrict says so under
   * -fsanitize=address). */
  char dir[sizeof s->dir];
  snprintf(dir, sizeof dir, "%s", tmp_path(name));
  memcpy(s->dir, dir, sizeof dir);
  for (int attempt = 0;; attempt++) {
    tool_rm_rf(dir);
    if (mkdir(dir, 0755) != 0)
      TEST__FAIL("mkdir %s: %s", dir, strerror(errno));
    for (int i = 0; i < n; i++) {
      nsrv_node *nd = &s->node[i];
      snprintf(nd->name, sizeof nd->name, "n%d", i + 1);
      nd->port = nsrv_free_port();
      nd->route_port = n > 1 ? nsrv_free_port() : 0;
      snprintf(nd->conf, sizeof nd->conf, "%s/n%d.conf", dir, i + 1);
      snprintf(nd->log, sizeof nd->log, "%s/n%d.log", dir, i + 1);
      snprintf(nd->store, sizeof nd->store, "%s/n%d-store", dir, i + 1);
    }
    for (int i = 0; i < n; i++) nsrv__write_conf(s, i);
    for (int i = 0; i < n; i++) nsrv__spawn(s, i);
    bool ok = true;
    int bad = 0;
    for (int i = 0; i < n && ok; i++)
      if (!nsrv__wait_ready(s, i, 60)) ok = false, bad = i;
    if (ok) return;
    /* Most likely a port taken between the choice and the start. */
    if (attempt == 2) nsrv__fail_logs(s, "did not start", bad);
    for (int i = 0; i < n; i++) {
      nchild_kill(s->node[i].pid);
      s->node[i].pid = 0;
    }
  }
}

void nsrv_kill(nsrv *s, int i) {
  nchild_kill(s->node[i].pid);
  s->node[i].pid = 0;
}

void nsrv_restart(nsrv *s, int i) {
  if (s->node[i].pid > 0) TEST__FAIL("%s is running", s->node[i].name);
  nsrv__spawn(s, i);
  if (!nsrv__wait_ready(s, i, 90)) nsrv__fail_logs(s, "did not restart", i);
}

int nsrv_index(const nsrv *s, const char *name) {
  for (int i = 0; name != NULL && i < s->n; i++)
    if (strcmp(s->node[i].name, name) == 0) return i;
  return -1;
}

void nsrv_stop(nsrv *s) {
  for (int i = 0; i < s->n; i++) nsrv_kill(s, i);
  if (getenv("IMS_TEST_KEEP") == NULL) tool_rm_rf(s->dir);
}

/* ---- 3. libnats helpers ---- */

nconn nconn_open(const nsrv *s) {
  nconn c = {NULL, NULL};
  natsOptions *o = nsrv__options(nsrv_servers(s), true);
  natsStatus st = natsConnection_Connect(&c.nc, o);
  natsOptions_Destroy(o);
  if (st != NATS_OK)
    TEST__FAIL("connect %s: %s", nsrv_servers(s), natsStatus_GetText(st));
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 5000;
  st = natsConnection_JetStream(&c.js, c.nc, &jo);
  if (st != NATS_OK) TEST__FAIL("JetStream: %s", natsStatus_GetText(st));
  return c;
}

void nconn_close(nconn *c) {
  jsCtx_Destroy(c->js);
  natsConnection_Destroy(c->nc);
  c->js = NULL;
  c->nc = NULL;
}

jsStreamInfo *nstream_info(nconn *c, const char *stream, double timeout_s) {
  double end = test_now() + timeout_s;
  for (;;) {
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus st = js_GetStreamInfo(&si, c->js, stream, NULL, &jerr);
    if (st == NATS_OK) return si;
    if (st == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) return NULL;
    if (test_now() > end)
      TEST__FAIL("stream info %s: %s (%d)", stream, natsStatus_GetText(st),
                 (int)jerr);
    test_sleep_ms(200);
  }
}

bool nstream_wait_exists(nconn *c, const char *stream, double timeout_s,
                         pid_t pid) {
  double end = test_now() + timeout_s;
  while (test_now() < end) {
    jsStreamInfo *si = nstream_info(c, stream, 30);
    if (si != NULL) {
      jsStreamInfo_Destroy(si);
      return true;
    }
    if (pid > 0 && nchild_gone(pid)) return false;
    test_sleep_ms(100);
  }
  return false;
}

uint64_t nstream_count(nconn *c, const char *stream) {
  jsStreamInfo *si = nstream_info(c, stream, 60);
  uint64_t n = si != NULL ? si->State.Msgs : 0;
  jsStreamInfo_Destroy(si);
  return n;
}

void nstream_each(nconn *c, const char *stream, nstream_fn fn, void *ctx) {
  jsStreamInfo *si = nstream_info(c, stream, 60);
  if (si == NULL) TEST__FAIL("no stream %s", stream);
  uint64_t first = si->State.FirstSeq, last = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  for (uint64_t seq = first; seq != 0 && seq <= last; seq++) {
    double end = test_now() + 60;
    natsMsg *m = NULL;
    for (;;) {
      jsErrCode jerr = 0;
      natsStatus st = js_GetMsg(&m, c->js, stream, seq, NULL, &jerr);
      if (st == NATS_OK) break;
      if (st == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
        m = NULL;
        break; /* deleted */
      }
      if (test_now() > end)
        TEST__FAIL("get %s #%llu: %s", stream, (unsigned long long)seq,
                   natsStatus_GetText(st));
      test_sleep_ms(200);
    }
    if (m == NULL) continue;
    int stop = fn(ctx, m);
    natsMsg_Destroy(m);
    if (stop) break;
  }
}

void nstream_wait_current(nconn *c, const char *stream, int n) {
  double end = test_now() + 90;
  for (;;) {
    jsStreamInfo *si = nstream_info(c, stream, 60);
    if (si == NULL) TEST__FAIL("no stream %s", stream);
    int current = 0;
    if (si->Cluster != NULL && si->Cluster->Leader != NULL) {
      current = 1;
      for (int i = 0; i < si->Cluster->ReplicasLen; i++)
        current += si->Cluster->Replicas[i]->Current &&
                   !si->Cluster->Replicas[i]->Offline;
    }
    jsStreamInfo_Destroy(si);
    if (current == n) return;
    if (test_now() > end)
      TEST__FAIL("%s: %d of %d replicas current after 90 s", stream, current,
                 n);
    test_sleep_ms(200);
  }
}

int nstream_leader(nconn *c, const nsrv *s, const char *stream) {
  jsStreamInfo *si = nstream_info(c, stream, 60);
  int i = si != NULL && si->Cluster != NULL
              ? nsrv_index(s, si->Cluster->Leader)
              : -1;
  jsStreamInfo_Destroy(si);
  return i;
}

jsConsumerInfo *nconsumer_info(nconn *c, const char *stream, const char *name) {
  double end = test_now() + 60;
  for (;;) {
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus st = js_GetConsumerInfo(&ci, c->js, stream, name, NULL, &jerr);
    if (st == NATS_OK) return ci;
    if (test_now() > end)
      TEST__FAIL("consumer info %s/%s: %s (%d)", stream, name,
                 natsStatus_GetText(st), (int)jerr);
    test_sleep_ms(200);
  }
}

/* ---- 4. the tool ---- */

void ntool_need(void) {
  const char *bin = getenv("IMGSTREAM_BIN");
  if (bin == NULL || access(bin, X_OK) != 0)
    RETURN_SKIP("IMGSTREAM_BIN is not an executable");
}

pid_t ntool_start(const char *name, const char *const *args) {
  char out[4200], err[4200];
  snprintf(out, sizeof out, "%s.out", tmp_path(name));
  snprintf(err, sizeof err, "%s.err", tmp_path(name));
  pid_t pid = nchild_fork();
  if (pid == 0) tool_exec(args, out, false, err, false);
  return pid;
}

char *ntool_text(const char *name, const char *ext) {
  char path[4200];
  snprintf(path, sizeof path, "%s.%s", tmp_path(name), ext);
  return test_read_text(path);
}

int ntool_wait(const char *name, pid_t pid, double timeout_s) {
  int code = nchild_wait(pid, timeout_s);
  if (code < 0) {
    nchild_kill(pid);
    char path[4200];
    snprintf(path, sizeof path, "%s.err", tmp_path(name));
    ntail(path, 3000);
    TEST__FAIL("imgstream %s still running after %.0f s", name, timeout_s);
  }
  return code;
}

int ntool_run(const char *name, const char *const *args, double timeout_s) {
  return ntool_wait(name, ntool_start(name, args), timeout_s);
}

/* ---- 5. scenarios ---- */

char nmodel[4096];

void nscen_need(void) {
  nchild_kill_all();
  ntool_need();
  nsrv_binary();
  snprintf(nmodel, sizeof nmodel, "%s",
           shared_path("models/mobilenet_v2_1.0_224_quant.tflite"));
  if (access(nmodel, R_OK) != 0) RETURN_SKIP("no shared model");
  if (access(shared_path("data/flowers/daisy"), R_OK) != 0)
    RETURN_SKIP("no shared flowers");
}

void nargs_add(nargs *a, ...) {
  va_list ap;
  va_start(ap, a);
  for (const char *s = va_arg(ap, const char *); s != NULL;
       s = va_arg(ap, const char *)) {
    if (a->n >= 94) TEST__FAIL("too many arguments");
    a->v[a->n++] = s;
  }
  va_end(ap);
  a->v[a->n] = NULL;
}

json_t *nflowers(long min_size, long max_size) {
  char cmd[4400], line[1024];
  snprintf(cmd, sizeof cmd, "cd '%s' && ls -1 */*.jpg | LC_ALL=C sort",
           shared_path("data/flowers"));
  FILE *ls = popen(cmd, "r");
  if (ls == NULL) TEST__FAIL("popen ls");
  json_t *keys = json_array();
  while (fgets(line, sizeof line, ls) != NULL) {
    line[strcspn(line, "\n")] = '\0';
    struct stat st;
    if (stat(test_strf("%s/%s", shared_path("data/flowers"), line), &st) != 0)
      continue;
    if (st.st_size < min_size || (max_size > 0 && st.st_size > max_size))
      continue;
    json_array_append_new(keys, json_string(line));
  }
  pclose(ls);
  return keys;
}

void ndataset(const char *root, json_t *keys) {
  tool_rm_rf(root);
  if (mkdir(root, 0755) != 0) TEST__FAIL("mkdir %s", root);
  size_t i;
  json_t *k;
  json_array_foreach(keys, i, k) {
    const char *key = json_string_value(k);
    char from[4400], to[4400];
    snprintf(from, sizeof from, "%s/%s", shared_path("data/flowers"), key);
    snprintf(to, sizeof to, "%s/%.*s", root,
             (int)(strchr(key, '/') - key), key);
    mkdir(to, 0755);
    snprintf(to, sizeof to, "%s/%s", root, key);
    size_t n = 0;
    unsigned char *d = test_read_file(from, &n);
    if (d == NULL || test_write_file(to, d, n) != 0)
      TEST__FAIL("copy %s", key);
    free(d);
  }
}

const char *ncategory(const char *key) {
  const char *slash = strchr(key, '/');
  return test_strf("%.*s", slash ? (int)(slash - key) : 0, key);
}

json_t *nclassify(const char *name, const char *root, json_t *keys) {
  size_t n = json_object_size(keys);
  const char **args = calloc(n + 8, sizeof *args);
  char **paths = calloc(n + 1, sizeof *paths);
  if (args == NULL || paths == NULL) abort();
  int a = 0;
  args[a++] = "classify";
  args[a++] = "--json";
  args[a++] = "--threads";
  args[a++] = "2";
  args[a++] = "--model";
  args[a++] = nmodel;
  size_t i = 0;
  const char *key;
  json_t *v;
  json_object_foreach(keys, key, v) {
    paths[i] = malloc(strlen(root) + strlen(key) + 2);
    if (paths[i] == NULL) abort();
    sprintf(paths[i], "%s/%s", root, key);
    args[a++] = paths[i++];
  }
  args[a] = NULL;
  /* tool_exec takes at most ~400 arguments */
  if (a > 390) TEST__FAIL("classify: %d arguments", a);
  int code = ntool_run(name, args, 600);
  for (i = 0; i < n; i++) free(paths[i]);
  free(paths);
  free(args);
  if (code != 0 && code != 1) TEST__FAIL("classify exit %d", code);
  char *out = ntool_text(name, "out");
  json_t *want = json_object();
  char *save = NULL;
  size_t rlen = strlen(root);
  for (char *l = strtok_r(out, "\n", &save); l != NULL;
       l = strtok_r(NULL, "\n", &save)) {
    json_t *o = json_loads(l, 0, NULL);
    if (o == NULL) TEST__FAIL("classify: not JSON: %s", l);
    const char *p = json_string_value(json_object_get(o, "path"));
    if (p == NULL || strncmp(p, root, rlen) != 0 || p[rlen] != '/')
      TEST__FAIL("classify: path %s", p ? p : "(none)");
    json_t *top = json_array_get(json_object_get(o, "top"), 0);
    json_t *cls = top != NULL ? json_object_get(top, "class") : NULL;
    json_object_set(want, p + rlen + 1, cls != NULL ? cls : json_null());
    json_decref(o);
  }
  free(out);
  if (json_object_size(want) != n)
    TEST__FAIL("classify: %zu answers for %zu images",
               json_object_size(want), n);
  return want;
}

const char *nhdr(natsMsg *m, const char *name) {
  const char *v = NULL;
  return natsMsgHeader_Get(m, name, &v) == NATS_OK ? v : NULL;
}

typedef struct nimages__ctx {
  const char *stream; /* its name, for messages */
  const char *root;   /* the dataset folder the files came from */
  json_t *keys;       /* {key: true} so far */
} nimages__ctx;

static int nimages__one(void *ctx, natsMsg *m) {
  nimages__ctx *c = ctx;
  const char *key = nhdr(m, "Imgstream-Key");
  const char *id = nhdr(m, "Nats-Msg-Id");
  const char *label = nhdr(m, "Imgstream-Label");
  const char *type = nhdr(m, "Content-Type");
  const char *when = nhdr(m, "Imgstream-Upload-Time");
  if (key == NULL || id == NULL || label == NULL || type == NULL ||
      when == NULL)
    TEST__FAIL("%s #%llu (%s): a header is missing", c->stream,
               (unsigned long long)natsMsg_GetSequence(m),
               natsMsg_GetSubject(m));
  ASSERT_STR_EQ(id, key);
  ASSERT_STR_EQ(label, ncategory(key));
  ASSERT_STR_EQ(natsMsg_GetSubject(m), test_strf("%s.%s", c->stream, label));
  ASSERT_STR_EQ(type, "image/jpeg");
  /* 2025-01-31T12:00:00.123Z */
  ASSERT(strlen(when) == 24 && when[10] == 'T' && when[19] == '.' &&
         when[23] == 'Z');
  if (json_object_get(c->keys, key) != NULL)
    TEST__FAIL("%s: %s stored twice", c->stream, key);
  json_object_set_new(c->keys, key, json_true());
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", c->root, key);
  size_t n = 0;
  unsigned char *d = test_read_file(path, &n);
  if (d == NULL) TEST__FAIL("%s: no file %s", c->stream, path);
  bool same = (size_t)natsMsg_GetDataLength(m) == n &&
              memcmp(natsMsg_GetData(m), d, n) == 0;
  free(d);
  if (!same) TEST__FAIL("%s: %s: body is not the file", c->stream, key);
  return 0;
}

json_t *nimages(nconn *c, const char *stream, const char *root) {
  nimages__ctx ctx = {stream, root, json_object()};
  nstream_each(c, stream, nimages__one, &ctx);
  return ctx.keys;
}

typedef struct nresults__ctx {
  const char *stream; /* its name, for messages */
  json_t *rows;       /* {path: row} so far */
  size_t msgs;        /* messages read */
} nresults__ctx;

static int nresults__one(void *ctx, natsMsg *m) {
  nresults__ctx *c = ctx;
  c->msgs++;
  json_error_t jerr;
  json_t *o = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m),
                         0, &jerr);
  if (o == NULL)
    TEST__FAIL("%s #%llu: not JSON: %.*s", c->stream,
               (unsigned long long)natsMsg_GetSequence(m),
               natsMsg_GetDataLength(m), natsMsg_GetData(m));
  const char *p = json_string_value(json_object_get(o, "path"));
  if (p == NULL) TEST__FAIL("%s: a row without path", c->stream);
  if (json_object_get(c->rows, p) != NULL)
    TEST__FAIL("%s: %s twice", c->stream, p);
  ASSERT_STR_EQ(nhdr(m, "Nats-Msg-Id"), p);
  ASSERT_STR_EQ(natsMsg_GetSubject(m), test_strf("%s.%s", c->stream,
                                            ncategory(p)));
  json_object_set_new(c->rows, p, o);
  return 0;
}

json_t *nresults(nconn *c, const char *stream, size_t *msgs_out) {
  nresults__ctx ctx = {stream, json_object(), 0};
  nstream_each(c, stream, nresults__one, &ctx);
  if (msgs_out != NULL) *msgs_out = ctx.msgs;
  return ctx.rows;
}

json_t *nresults_cli(const char *name, const char *url) {
  nargs a = {{0}, 0};
  nargs_add(&a, "results", "--source", url, "--json", NULL);
  int code = ntool_run(name, a.v, 120);
  char *out = ntool_text(name, "out");
  if (code != 0) {
    char *err = ntool_text(name, "err");
    TEST__FAIL("imgstream results exit %d: %s", code, err);
  }
  json_t *rows = srun_rows_text("imgstream results --json", out, NULL);
  free(out);
  return rows;
}

pid_t nworker_start(const char *prefix, int i, const nsrv *s,
                    const char *const *extra) {
  static char jsonl[8][4400], name[8][256];
  if (i < 0 || i >= 8) TEST__FAIL("worker %d", i);
  snprintf(name[i], sizeof name[i], "%s_w%d", prefix, i);
  snprintf(jsonl[i], sizeof jsonl[i], "jsonl:%s.jsonl", tmp_path(name[i]));
  unlink(jsonl[i] + 6);
  nargs a = {{0}, 0};
  nargs_add(&a, "stream", "--source", nsrv_url(s, "IMAGES"), "--sink",
            nsrv_url(s, "RESULTS"), "--sink", jsonl[i], "--consumer",
            "workers", "--model", nmodel, "-t", "1", NULL);
  for (int k = 0; extra != NULL && extra[k] != NULL; k++)
    nargs_add(&a, extra[k], NULL);
  return ntool_start(name[i], a.v);
}

json_t *njsonl_counts(const char *prefix, int workers) {
  json_t *counts = json_object();
  for (int i = 0; i < workers; i++) {
    char path[4400];
    snprintf(path, sizeof path, "%s_w%d.jsonl", tmp_path(prefix), i);
    char *t = test_read_text(path);
    json_decref(srun_rows_text(path, t, counts));
    free(t);
  }
  return counts;
}

void nwait_ok(const char *name, pid_t pid, double timeout_s) {
  int code = ntool_wait(name, pid, timeout_s);
  if (code != 0) {
    char *err = ntool_text(name, "err");
    TEST__FAIL("imgstream %s: exit %d, stderr:\n%s", name, code, err);
  }
}

void ncheck_rows(const char *what, json_t *rows, json_t *images, json_t *want) {
  const char *key;
  json_t *v;
  json_object_foreach(images, key, v) {
    if (json_object_get(rows, key) == NULL)
      TEST__FAIL("%s: no result for %s", what, key);
  }
  json_object_foreach(rows, key, v) {
    if (json_object_get(images, key) == NULL)
      TEST__FAIL("%s: a result for %s, which was not sent", what, key);
    json_t *exp = json_object_get(want, key);
    if (exp == NULL) TEST__FAIL("%s: no known answer for %s", what, key);
    json_t *pred = json_object_get(v, "prediction");
    const char *got = json_string_value(json_object_get(pred, "class"));
    if (json_is_null(exp)) {
      if (pred != NULL || json_object_get(v, "error") == NULL)
        TEST__FAIL("%s: %s: classify fails, the stream says %s", what, key,
                   got ? got : "(no error)");
      continue;
    }
    const char *label = json_string_value(json_object_get(v, "label"));
    if (label == NULL || strcmp(label, ncategory(key)) != 0)
      TEST__FAIL("%s: %s: label %s", what, key, label ? label : "(none)");
    if (got == NULL || strcmp(got, json_string_value(exp)) != 0)
      TEST__FAIL("%s: %s: the stream says %s, classify says %s", what, key,
                 got ? got : "(none)", json_string_value(exp));
  }
  ASSERT_EQ(json_object_size(rows), json_object_size(images));
}

bool nstream_wait_count(nconn *c, const char *stream, uint64_t n,
                        double timeout_s) {
  double end = test_now() + timeout_s;
  while (test_now() < end) {
    jsStreamInfo *si = nstream_info(c, stream, 60);
    uint64_t have = si != NULL ? si->State.Msgs : 0;
    jsStreamInfo_Destroy(si);
    if (have >= n) return true;
    test_sleep_ms(100);
  }
  return false;
}

size_t nlines(const char *path) {
  char *t = test_read_text(path);
  size_t n = 0;
  for (const char *p = t; *p; p++) n += *p == '\n';
  free(t);
  return n;
}

