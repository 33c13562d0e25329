/* SPDX-License-Identifier: Apache-2.0 */
/*
 * browser_page.c - the live page (web/) in a real browser while a real
 * stream runs, as scripts/demo runs it: `imgstream produce` drops a
 * shared flower into an empty bucket every 200 ms (seed 1: roses and
 * tulips, which ImageNet gets wrong, and daisies, which it gets right,
 * come early) and `imgstream stream --http 127.0.0.1:0 --learn HEAD`
 * classifies them, at most two per micro-batch, one batch every 400 ms.
 * tests/browser/page_check.mjs drives Debian's headless Chromium with
 * npm playwright-core on the URL the stream announced; it says what it
 * checks (rows arriving live, the charts, every right/wrong mark against
 * /api/rows). The producer runs until page_check.mjs is done (at most
 * 150 flowers, 30 s), so rows keep arriving however slowly the browser
 * starts. This file checks that page_check.mjs exited 0, that it left a
 * PNG screenshot ($IMGSTREAM_ARTIFACTS/browser_page.png, its path
 * printed), and that the stream then stops cleanly on SIGTERM (exit 0).
 *
 * Skips when node, Chromium or the npm modules (installed by the
 * browser_npm_install fixture, tests/browser/setup.sh) are missing -
 * except with CI=true, where that fails.
 *
 * Environment (tests/browser.cmake): IMGSTREAM_NODE, IMGSTREAM_CHROMIUM,
 * IMGSTREAM_BROWSER_DIR (node_modules), IMGSTREAM_BROWSER_SCRIPT
 * (page_check.mjs), IMGSTREAM_ARTIFACTS.
 *
 * Threading: single-threaded; the tool and node are children.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/stream_run.h"
#include "test.h"

static char model_path[4096];

/* Skip (or, with CI=true, fail) unless `path` is there. */
static void need(const char *path, int mode, const char *what) {
  if (path[0] != '\0' && access(path, mode) == 0) return;
  if (strcmp(test__env_or("CI", ""), "true") == 0)
    TEST__FAIL("%s is missing (%s) and CI=true: not skipping "
               "(scripts/install-deps, tests/browser/setup.sh)",
               what, path);
  fprintf(stderr, "SKIP: %s is missing (%s)\n", what, path);
  RETURN_SKIP("the browser test needs node, chromium and playwright-core");
}

/* node SCRIPT URL SHOT, its output on ours; returns its exit code. */
static int run_node(const char *node, const char *script, const char *url,
                    const char *shot) {
  fflush(NULL);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    execl(node, node, script, url, shot, (char *)NULL);
    _exit(127);
  }
  int st = 0;
  ASSERT(waitpid(pid, &st, 0) == pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

TEST(browser_live_page) {
  srun_need(model_path, sizeof model_path);
  const char *node = test__env_or("IMGSTREAM_NODE", "");
  const char *chromium =
      test__env_or("IMGSTREAM_CHROMIUM", "/usr/bin/chromium");
  const char *modules = test__env_or("IMGSTREAM_BROWSER_DIR", "");
  const char *script = test__env_or("IMGSTREAM_BROWSER_SCRIPT", "");
  const char *artifacts = test__env_or("IMGSTREAM_ARTIFACTS", "");
  need(node, X_OK, "node");
  need(chromium, X_OK, "chromium");
  need(test_strf("%s/node_modules/playwright-core/package.json", modules),
       R_OK, "npm playwright-core");
  ASSERT(script[0] != '\0' && artifacts[0] != '\0');

  srun_bucket bi;
  srun_make_bucket(&bi, "browser_bucket", 0); /* empty: produce fills it */
  const char *head = test_strf("%s", tmp_path("browser.head"));
  unlink(head);
  unlink(test_strf("%s.err", tmp_path("browser"))); /* the tool appends */
  /* --until-idle: the stream ends by itself if this test dies first */
  const char *const args[] = {"stream", "--source", bi.url, "--model",
                              model_path, "--http", "127.0.0.1:0",
                              "--learn", head,
                              "--max-files-per-trigger", "2",
                              "--trigger-interval", "400",
                              "--until-idle", "60000", "--sink",
                              test_strf("jsonl:%s.jsonl", tmp_path("browser")),
                              NULL};
  unlink(test_strf("%s.jsonl", tmp_path("browser")));
  pid_t pid = srun_start("browser", 0, args);
  int port = srun_announced_port("browser", pid, NULL);
  ASSERT(port > 0);
  char flowers[4096];
  snprintf(flowers, sizeof flowers, "%s", shared_path("data/flowers"));
  const char *const produce[] = {"produce", "--from", flowers, "--to",
                                 bi.url, "--interval", "0.2", "--seed", "1",
                                 "--limit", "150", NULL};
  unlink(test_strf("%s.err", tmp_path("browser_produce")));
  pid_t producer = srun_start("browser_produce", 0, produce);

  mkdir(artifacts, 0777);
  const char *shot = test_strf("%s/browser_page.png", artifacts);
  unlink(shot);
  int rc = run_node(node, script, test_strf("http://127.0.0.1:%d/", port),
                    shot);
  kill(producer, SIGTERM);
  srun_finish(producer);
  kill(pid, SIGTERM);
  int stream_rc = srun_finish(pid);
  ASSERT_EQ(rc, 0);
  ASSERT_EQ(stream_rc, 0);

  size_t n = 0;
  unsigned char *png = test_read_file(shot, &n);
  ASSERT(png != NULL);
  ASSERT(n > 10000);
  ASSERT(memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
  free(png);
  printf("screenshot of the live page: %s\n", shot);
}

TEST_MAIN(browser_live_page)
