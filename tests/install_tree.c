/* SPDX-License-Identifier: Apache-2.0 */
/*
 * install_tree.c - `cmake --install` tested the way a user meets it: the
 * build is installed into a staging folder (DESTDIR, prefix
 * /opt/imgstream), the tree is then moved elsewhere (an install is
 * relocatable), and everything below runs from the moved tree with no
 * source tree, no ../shared and no IMGSTREAM_* variable: the installed
 * binary must find its model and library from its own location.
 *
 * The build (IMS_BUILD_DIR), cmake (IMS_CMAKE) and the compiler (IMS_CC,
 * with IMS_EXAMPLE_CFLAGS: the sanitizer flags of this build, so that an
 * ASan library links into an ASan program) come from tests/install.cmake.
 * Images and the expected answers are the shared ones, read by the test.
 *
 * Sections: 1. running commands  2. the installed tree  3. the tool
 * installed
 *
 * Threading: single-threaded; commands run through /bin/sh.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "imgstream/imgstream.h"
#include "support/tool.h"
#include "test.h"

/* ---- 1. running commands ---- */

static char *sh_out; /* stdout of the latest sh(), freed by the next */
static char *sh_err; /* its stderr */

/* Run the shell command printf(fmt, ...) with stdin from /dev/null;
 * stdout and stderr are kept in sh_out and sh_err. Returns the exit
 * code (128 + signal if killed). */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
  char cmd[16384];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  ASSERT(n > 0 && (size_t)n < sizeof cmd);
  const char *out = test_strf("%s", tmp_path("install_sh.out"));
  const char *err = test_strf("%s", tmp_path("install_sh.err"));
  char *full = NULL;
  ASSERT(asprintf(&full, "( %s ) </dev/null >'%s' 2>'%s'", cmd, out, err) >
         0);
  fflush(NULL);
  int st = system(full);
  free(full);
  free(sh_out);
  free(sh_err);
  sh_out = test_read_text(out);
  sh_err = test_read_text(err);
  if (st == -1) return 127;
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  if (code != 0)
    fprintf(stderr, "command failed (%d): %s\nstdout:\n%s\nstderr:\n%s\n",
            code, cmd, sh_out, sh_err);
  return code;
}

/* ---- 2. the installed tree ---- */

static char dir[2048];   /* this test's folder: stage/, tree/, work/ */
static char tree[4096];  /* the installed tree, moved from the stage */
static char clean_env[8192]; /* `env` arguments: no IMGSTREAM_*, an
                                empty HOME, a cwd with no ../shared */

static const char *need_env(const char *name) {
  const char *v = getenv(name);
  if (v == NULL || v[0] == '\0') RETURN_SKIP("not run by ctest (no IMS_*)");
  return v;
}

/* Install once per process: DESTDIR=<dir>/stage, prefix /opt/imgstream,
 * then move <dir>/stage/opt/imgstream to <dir>/tree. */
static void need_install(void) {
  static bool done;
  if (done) return;
  const char *build = need_env("IMS_BUILD_DIR");
  const char *cmake = need_env("IMS_CMAKE");
  snprintf(dir, sizeof dir, "%s", tmp_path("install"));
  snprintf(tree, sizeof tree, "%s/tree", dir);
  tool_rm_rf(dir);
  ASSERT_EQ(mkdir(dir, 0755), 0);
  ASSERT_EQ(sh("DESTDIR='%s/stage' '%s' --install '%s' --prefix "
               "/opt/imgstream", dir, cmake, build), 0);
  ASSERT_EQ(sh("mv '%s/stage/opt/imgstream' '%s' && mkdir '%s/work' "
               "'%s/home'", dir, tree, dir, dir), 0);
  snprintf(clean_env, sizeof clean_env,
           "cd '%s/work' && env -u IMGSTREAM_MODELS -u IMGSTREAM_SHARED "
           "-u XDG_CACHE_HOME -u LD_LIBRARY_PATH HOME='%s/home'",
           dir, dir);
  done = true;
}

static bool exists(const char *rel) {
  struct stat st;
  return lstat(test_strf("%s/%s", tree, rel), &st) == 0;
}

TEST(install_layout) {
  need_install();
  static const char *const files[] = {
      "bin/imgstream", "lib/libimgstream.so", "lib/libimgstream.so.0",
      "lib/libimgstream.so.0.1.0", "lib/libimgstream.a",
      "include/imgstream/imgstream.h", "include/imgstream/stream.h",
      "lib/pkgconfig/imgstream.pc",
      "lib/cmake/imgstream/imgstreamConfig.cmake",
      "lib/cmake/imgstream/imgstreamConfigVersion.cmake",
      "share/imgstream/models/mobilenet_v2_1.0_224_quant.tflite",
      "share/imgstream/models/imagenet_class_index.json",
      "share/imgstream/models/LICENSE-coral-test-data"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    if (!exists(files[i])) TEST__FAIL("not installed: %s", files[i]);
  }
  ASSERT(test_same_file(
      test_strf("%s/share/imgstream/models/"
                "mobilenet_v2_1.0_224_quant.tflite", tree),
      shared_path("models/mobilenet_v2_1.0_224_quant.tflite")));
  /* The tool finds the library relative to itself; the library has its
   * SONAME. */
  ASSERT_EQ(sh("readelf -d '%s/bin/imgstream'", tree), 0);
  ASSERT_CONTAINS(sh_out, "[$ORIGIN/../lib]");
  ASSERT(strstr(sh_out, getenv("IMS_BUILD_DIR")) == NULL);
  ASSERT_EQ(sh("readelf -d '%s/lib/libimgstream.so.0.1.0'", tree), 0);
  ASSERT_CONTAINS(sh_out, "Library soname: [libimgstream.so.0]");
  /* Nothing but the public API is exported. */
  ASSERT_EQ(sh("nm -D --defined-only '%s/lib/libimgstream.so.0' | "
               "grep -v ' ims_' | grep -v ' [wW] ' || true", tree), 0);
  ASSERT_STR_EQ(sh_out, "");
}

/* ---- 3. the tool installed ---- */

TEST(install_classify) {
  need_install();
  const char *parrot = shared_path("data/images/parrot.jpg");
  ASSERT_EQ(sh("%s '%s/bin/imgstream' classify --json '%s'", clean_env, tree,
               parrot), 0);
  ASSERT_CONTAINS(sh_out, "\"class\":\"n01818515\",\"desc\":\"macaw\"");
  ASSERT_EQ(sh("%s '%s/bin/imgstream' --version", clean_env, tree), 0);
  ASSERT_STR_EQ(sh_out, test_strf("imgstream %s\n", ims_version()));
  /* Where it looked: its own share/ only (no source tree, no
   * ../shared of anything), which the model's absence shows. */
  const char *models = test_strf("%s/share/imgstream/models", tree);
  const char *model = test_strf("%s/mobilenet_v2_1.0_224_quant.tflite",
                                models);
  ASSERT_EQ(rename(model, test_strf("%s.away", model)), 0);
  int code = sh("%s '%s/bin/imgstream' classify '%s'", clean_env, tree,
                parrot);
  ASSERT_EQ(rename(test_strf("%s.away", model), model), 0);
  ASSERT_EQ(code, 3);
  ASSERT_CONTAINS(sh_err, test_strf("\n  %s\n", models));
  char real[4096];
  ASSERT(realpath(shared_path("models"), real) != NULL);
  ASSERT(strstr(sh_err, real) == NULL);
}

TEST(install_stream) {
  need_install();
  /* A bucket of two categories, two images each; the stream classifies
   * each once and stops when idle. */
  const char *b = test_strf("%s/bucket", dir);
  ASSERT_EQ(sh("mkdir -p '%s/daisy' '%s/rose' && cd '%s' && "
               "for f in $(ls | head -2); do cp \"$f\" '%s/daisy/'; done",
               b, b, shared_path("data/flowers/daisy"), b), 0);
  ASSERT_EQ(sh("cd '%s' && for f in $(ls | head -2); do "
               "cp \"$f\" '%s/rose/'; done",
               shared_path("data/flowers/rose"), b), 0);
  ASSERT_EQ(sh("%s '%s/bin/imgstream' stream --source 'dir://%s' "
               "--checkpoint '%s/ckpt' --sink 'jsonl:%s/rows.jsonl' "
               "--threads 2 --until-idle 500", clean_env, tree, b, dir,
               dir), 0);
  ASSERT_EQ(sh("wc -l < '%s/rows.jsonl'", dir), 0);
  ASSERT_EQ(atoi(sh_out), 4);
  ASSERT_EQ(sh("grep -c '\"label\":\"daisy\"' '%s/rows.jsonl'", dir), 0);
  ASSERT_EQ(atoi(sh_out), 2);
}

TEST_MAIN(install_layout, install_classify, install_stream)
