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
 * Sections: 1. running commands  2. the installed trees  3. the tool
 * installed  4. the Debian packages  5. the systemd units
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
    fprintf(stderr, "command exited %d: %s\nstdout:\n%s\nstderr:\n%s\n",
            code, cmd, sh_out, sh_err);
  return code;
}

/* ---- 2. the installed trees ---- */

static char dir[2048];   /* this test's folder: stage/, tree/, deb/ ... */
static char tree[4096];  /* the cmake-installed tree, moved from stage/ */
static char deb_tree[4096]; /* usr/ of the packages extracted by dpkg -x */
static const char *libdir;  /* lib/<multiarch> (IMS_LIBDIR) */
static char clean_env[8192]; /* `env` arguments: no IMGSTREAM_*, an
                                empty HOME, a cwd with no ../shared */

static const char *need_env(const char *name) {
  const char *v = getenv(name);
  if (v == NULL || v[0] == '\0') RETURN_SKIP("not run by ctest (no IMS_*)");
  return v;
}

/* This test's folder, emptied once per process, with work/ (the cwd of
 * every run: no ../shared next to it) and home/ (an empty HOME). */
static void need_dir(void) {
  static bool done;
  if (done) return;
  libdir = need_env("IMS_LIBDIR");
  snprintf(dir, sizeof dir, "%s", tmp_path("install"));
  tool_rm_rf(dir);
  ASSERT_EQ(mkdir(dir, 0755), 0);
  ASSERT_EQ(sh("mkdir '%s/work' '%s/home'", dir, dir), 0);
  snprintf(clean_env, sizeof clean_env,
           "cd '%s/work' && env -u IMGSTREAM_MODELS -u IMGSTREAM_SHARED "
           "-u XDG_CACHE_HOME -u LD_LIBRARY_PATH -u PKG_CONFIG_PATH "
           "HOME='%s/home'", dir, dir);
  done = true;
}

/* Install once per process: DESTDIR=<dir>/stage, prefix /opt/imgstream,
 * then move <dir>/stage/opt/imgstream to <dir>/tree. */
static void need_install(void) {
  static bool done;
  if (done) return;
  need_dir();
  const char *build = need_env("IMS_BUILD_DIR");
  const char *cmake = need_env("IMS_CMAKE");
  snprintf(tree, sizeof tree, "%s/tree", dir);
  ASSERT_EQ(sh("DESTDIR='%s/stage' '%s' --install '%s' --prefix "
               "/opt/imgstream", dir, cmake, build), 0);
  ASSERT_EQ(sh("mv '%s/stage/opt/imgstream' '%s'", dir, tree), 0);
  done = true;
}

/* The three packages, built once per process by CPack from this build
 * into <dir>/deb/packages, then extracted with dpkg -x into
 * <dir>/deb/root (deb_tree is its usr/). */
static void need_debs(void) {
  static bool done;
  if (done) return;
  need_dir();
  const char *build = need_env("IMS_BUILD_DIR");
  const char *cpack = need_env("IMS_CPACK");
  if (access("/usr/bin/dpkg-shlibdeps", X_OK) != 0)
    RETURN_SKIP("no dpkg-shlibdeps (dpkg-dev; scripts/install-deps)");
  ASSERT_EQ(sh("cd '%s' && '%s' -G DEB -B '%s/deb/packages'", build, cpack,
               dir), 0);
  ASSERT_EQ(sh("cd '%s/deb/packages' && for d in *.deb; do "
               "dpkg -x \"$d\" ../root || exit 1; done", dir), 0);
  snprintf(deb_tree, sizeof deb_tree, "%s/deb/root/usr", dir);
  done = true;
}

static bool exists(const char *root, const char *rel) {
  struct stat st;
  return lstat(test_strf("%s/%s", root, rel), &st) == 0;
}

TEST(install_layout) {
  need_install();
  static const char *const files[] = {
      "bin/imgstream", "L/libimgstream.so", "L/libimgstream.so.0",
      "L/libimgstream.so.0.1.0", "L/libimgstream.a",
      "include/imgstream/imgstream.h", "include/imgstream/stream.h",
      "L/pkgconfig/imgstream.pc",
      "L/cmake/imgstream/imgstreamConfig.cmake",
      "L/cmake/imgstream/imgstreamConfigVersion.cmake",
      "share/imgstream/models/mobilenet_v2_1.0_224_quant.tflite",
      "share/imgstream/models/imagenet_class_index.json",
      "share/imgstream/models/LICENSE-coral-test-data"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    const char *f = files[i];
    if (f[0] == 'L') f = test_strf("%s%s", libdir, f + 1);
    if (!exists(tree, f)) TEST__FAIL("not installed: %s", f);
  }
  /* Only the packages get the Debian docs. */
  ASSERT(!exists(tree, "share/doc"));
  ASSERT(test_same_file(
      test_strf("%s/share/imgstream/models/"
                "mobilenet_v2_1.0_224_quant.tflite", tree),
      shared_path("models/mobilenet_v2_1.0_224_quant.tflite")));
  /* The tool finds the library relative to itself; the library has its
   * SONAME. */
  ASSERT_EQ(sh("readelf -d '%s/bin/imgstream'", tree), 0);
  ASSERT_CONTAINS(sh_out, test_strf("[$ORIGIN/../%s]", libdir));
  ASSERT(strstr(sh_out, getenv("IMS_BUILD_DIR")) == NULL);
  ASSERT_EQ(sh("readelf -d '%s/%s/libimgstream.so.0.1.0'", tree, libdir),
            0);
  ASSERT_CONTAINS(sh_out, "Library soname: [libimgstream.so.0]");
  /* Nothing but the public API is exported. */
  ASSERT_EQ(sh("nm -D --defined-only '%s/%s/libimgstream.so.0' | "
               "grep -v ' ims_' | grep -v ' [wW] ' || true", tree, libdir),
            0);
  ASSERT_STR_EQ(sh_out, "");
}

/* ---- 3. the tool installed ---- */

/* The installed tool at `root` classifies a shared image with its own
 * model, from a folder with no ../shared and no IMGSTREAM_* set; with
 * that model gone, it says it looked in its own share/ and nowhere in
 * the source tree or ../shared. */
static void check_classify(const char *root) {
  const char *parrot = shared_path("data/images/parrot.jpg");
  ASSERT_EQ(sh("%s '%s/bin/imgstream' classify --json '%s'", clean_env, root,
               parrot), 0);
  ASSERT_CONTAINS(sh_out, "\"class\":\"n01818515\",\"desc\":\"macaw\"");
  ASSERT_EQ(sh("%s '%s/bin/imgstream' --version", clean_env, root), 0);
  ASSERT_STR_EQ(sh_out, test_strf("imgstream %s\n", ims_version()));
  const char *models = test_strf("%s/share/imgstream/models", root);
  const char *model = test_strf("%s/mobilenet_v2_1.0_224_quant.tflite",
                                models);
  ASSERT_EQ(rename(model, test_strf("%s.away", model)), 0);
  int code = sh("%s '%s/bin/imgstream' classify '%s'", clean_env, root,
                parrot);
  ASSERT_EQ(rename(test_strf("%s.away", model), model), 0);
  ASSERT_EQ(code, 3);
  ASSERT_CONTAINS(sh_err, test_strf("\n  %s\n", models));
  char real[PATH_MAX];
  ASSERT(realpath(shared_path("models"), real) != NULL);
  ASSERT(strstr(sh_err, real) == NULL);
}

/* The installed tool at `root` streams a bucket of two categories, two
 * images each (folder <dir>/<name>): each classified once, then it stops
 * when idle. */
static void check_stream(const char *root, const char *name) {
  const char *b = test_strf("%s/%s/bucket", dir, name);
  const char *rows = test_strf("%s/%s/rows.jsonl", dir, name);
  ASSERT_EQ(sh("mkdir -p '%s/daisy' '%s/rose' && cd '%s' && "
               "for f in $(ls | head -2); do cp \"$f\" '%s/daisy/'; done",
               b, b, shared_path("data/flowers/daisy"), b), 0);
  ASSERT_EQ(sh("cd '%s' && for f in $(ls | head -2); do "
               "cp \"$f\" '%s/rose/'; done",
               shared_path("data/flowers/rose"), b), 0);
  ASSERT_EQ(sh("%s '%s/bin/imgstream' stream --source 'dir://%s' "
               "--checkpoint '%s/%s/ckpt' --sink 'jsonl:%s' "
               "--threads 2 --until-idle 500", clean_env, root, b, dir, name,
               rows), 0);
  ASSERT_EQ(sh("wc -l < '%s'", rows), 0);
  ASSERT_EQ(atoi(sh_out), 4);
  ASSERT_EQ(sh("grep -c '\"label\":\"daisy\"' '%s'", rows), 0);
  ASSERT_EQ(atoi(sh_out), 2);
}

/* man -l renders every page installed at `root`, with no warning. */
static void check_man(const char *root) {
  if (access("/usr/bin/man", X_OK) != 0) RETURN_SKIP("no man (man-db)");
  static const char *const pages[] = {"imgstream", "imgstream-classify",
                                      "imgstream-produce", "imgstream-results",
                                      "imgstream-stream"};
  for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
    ASSERT_EQ(sh("MANWIDTH=80 man --warnings -l "
                 "'%s/share/man/man1/%s.1.gz'", root, pages[i]), 0);
    ASSERT_STR_EQ(sh_err, "");
    ASSERT_CONTAINS(sh_out, test_strf("%s - ", pages[i]));
  }
  /* and man finds them by name under the tree */
  ASSERT_EQ(sh("MANPATH='%s/share/man' MANWIDTH=80 man imgstream-stream "
               "| grep -c 'CONFIG FILES'", root), 0);
}

/* The installed bash completion, run as bash runs it, against the
 * installed tool at `root`. */
static void check_completion(const char *root) {
  if (access("/usr/share/bash-completion/bash_completion", R_OK) != 0)
    RETURN_SKIP("no bash-completion (scripts/install-deps)");
  static const struct {
    const char *line, *want;
  } cases[] = {
      {"imgstream str", "stream"},
      {"imgstream stream --mod", "--model"},
      {"imgstream classify --t", "--threads --top"},
      {"imgstream classify --con", "--config"},
      {"imgstream results --nats-pa", "--nats-password"},
      {"imgstream classify --lea", ""},
      {"imgstream stream --sink c", "console csv:"},
      {"imgstream produce --to n", "nats://"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ASSERT_EQ(sh("PATH='%s/bin':$PATH bash -c '"
                 ". /usr/share/bash-completion/bash_completion; "
                 ". \"%s/share/bash-completion/completions/imgstream\"; "
                 "COMP_LINE=\"%s\"; COMP_WORDS=(%s); "
                 "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); "
                 "COMP_POINT=${#COMP_LINE}; _imgstream; "
                 "echo \"${COMPREPLY[*]}\"'",
                 root, root, cases[i].line, cases[i].line), 0);
    if (strcmp(sh_out, test_strf("%s\n", cases[i].want)) != 0)
      TEST__FAIL("completing '%s': '%s', not '%s'", cases[i].line, sh_out,
                 cases[i].want);
  }
}

/* The example programs installed at `root` (share/imgstream/examples),
 * built with pkg-config and with find_package in <dir>/<name>/, and run
 * on a shared image and a folder bucket. */
static void check_examples(const char *root, const char *name) {
  const char *cc = need_env("IMS_CC");
  const char *cflags = test__env_or("IMS_EXAMPLE_CFLAGS", "");
  const char *cmake = need_env("IMS_CMAKE");
  const char *ex = test_strf("%s/%s/examples", dir, name);
  const char *models = test_strf("%s/share/imgstream/models", root);
  const char *model = test_strf("%s/mobilenet_v2_1.0_224_quant.tflite",
                                models);
  const char *labels = test_strf("%s/imagenet_class_index.json", models);
  const char *parrot = test_strf("%s", shared_path("data/images/parrot.jpg"));
  ASSERT_EQ(sh("mkdir -p '%s/%s' && cp -r '%s/share/imgstream/examples' "
               "'%s'", dir, name, root, ex), 0);
  /* pkg-config, the .pc found through PKG_CONFIG_PATH (the system's
   * own .pc files give the libraries' cflags); none installed there */
  if (sh("pkg-config --exists imgstream") == 0)
    RETURN_SKIP("an imgstream.pc is installed on this system");
  const char *pc = test_strf("PKG_CONFIG_PATH='%s/%s/pkgconfig'", root,
                             libdir);
  ASSERT_EQ(sh("%s pkg-config --modversion imgstream", pc), 0);
  ASSERT_STR_EQ(sh_out, test_strf("%s\n", ims_version()));
  ASSERT_EQ(sh("%s pkg-config --variable=datadir imgstream", pc), 0);
  ASSERT_EQ(sh("test \"$(realpath '%.*s')\" = \"$(realpath '%s/share/"
               "imgstream')\"", (int)strcspn(sh_out, "\n"), sh_out, root),
            0);
  for (int i = 0; i < 2; i++) {
    const char *prog = i == 0 ? "classify_one" : "stream_sink";
    ASSERT_EQ(sh("cd '%s' && %s '%s' %s -o %s %s.c "
                 "$(%s pkg-config --cflags --libs imgstream) "
                 "-Wl,-rpath,'%s/%s'", ex, pc, cc, cflags, prog, prog, pc,
                 root, libdir), 0);
  }
  /* the static library, its dependencies from --static */
  ASSERT_EQ(sh("cd '%s' && '%s' %s -o classify_one_static classify_one.c "
               "$(%s pkg-config --cflags imgstream) $(%s pkg-config --static "
               "--libs imgstream | sed 's/-limgstream/-l:libimgstream.a/')",
               ex, cc, cflags, pc, pc), 0);
  ASSERT_EQ(sh("readelf -d '%s/classify_one_static' | grep NEEDED", ex), 0);
  ASSERT(strstr(sh_out, "libimgstream") == NULL);
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(sh("%s '%s/%s' '%s' '%s' '%s'", clean_env, ex,
                 i == 0 ? "classify_one" : "classify_one_static", model,
                 labels, parrot), 0);
    ASSERT(strncmp(sh_out, "n01818515 macaw 0.99", 20) == 0);
  }
  ASSERT_EQ(sh("%s '%s/classify_one' '%s' '%s' /nonexistent.jpg", clean_env,
               ex, model, labels), 1);
  /* the custom sink: each image once, then nothing new */
  const char *b = test_strf("%s/%s/bucket", dir, name);
  ASSERT_EQ(sh("mkdir -p '%s/daisy' '%s/rose' && cd '%s' && "
               "for f in $(ls | head -3); do cp \"$f\" '%s/daisy/'; done",
               b, b, shared_path("data/flowers/daisy"), b), 0);
  ASSERT_EQ(sh("cd '%s' && for f in $(ls | head -2); do "
               "cp \"$f\" '%s/rose/'; done",
               shared_path("data/flowers/rose"), b), 0);
  const char *ckpt = test_strf("%s/%s/ckpt", dir, name);
  ASSERT_EQ(sh("%s '%s/stream_sink' '%s' '%s' '%s' '%s'", clean_env, ex,
               model, labels, b, ckpt), 0);
  ASSERT_CONTAINS(sh_out, "daisy: 3 rows\n");
  ASSERT_CONTAINS(sh_out, "rose: 2 rows\n");
  ASSERT_CONTAINS(sh_out, " daisy daisy 0.");
  ASSERT_EQ(sh("%s '%s/stream_sink' '%s' '%s' '%s' '%s'", clean_env, ex,
               model, labels, b, ckpt), 0);
  ASSERT_STR_EQ(sh_out, "");
  /* find_package, the package found through CMAKE_PREFIX_PATH only */
  ASSERT_EQ(sh("'%s' -S '%s' -B '%s/build' -DCMAKE_PREFIX_PATH='%s' "
               "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF "
               "-DCMAKE_C_COMPILER='%s' -DCMAKE_C_FLAGS='%s' && "
               "'%s' --build '%s/build'", cmake, ex, ex, root, cc, cflags,
               cmake, ex), 0);
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(sh("%s '%s/build/%s' '%s' '%s' '%s'", clean_env, ex,
                 i == 0 ? "classify_one" : "classify_one_static", model,
                 labels, parrot), 0);
    ASSERT(strncmp(sh_out, "n01818515 macaw 0.99", 20) == 0);
  }
  ASSERT_EQ(sh("readelf -d '%s/build/classify_one' | grep NEEDED", ex), 0);
  ASSERT_CONTAINS(sh_out, "[libimgstream.so.0]");
  ASSERT_EQ(sh("readelf -d '%s/build/classify_one_static' | grep NEEDED",
               ex), 0);
  ASSERT(strstr(sh_out, "libimgstream") == NULL);
}

TEST(install_classify) {
  need_install();
  check_classify(tree);
}

TEST(install_examples) {
  need_install();
  check_examples(tree, "install_examples");
}

TEST(install_man) {
  need_install();
  check_man(tree);
  check_completion(tree);
}

TEST(install_stream) {
  need_install();
  check_stream(tree, "install_stream");
}

/* ---- 4. the Debian packages ---- */

/* `dpkg-deb -f DEB FIELD`'s answer for package `pkg`. */
static const char *deb_field(const char *pkg, const char *field) {
  ASSERT_EQ(sh("dpkg-deb -f '%s/deb/packages/%s_%s-1_amd64.deb' %s", dir,
               pkg, ims_version(), field), 0);
  return sh_out;
}

TEST(deb_contents) {
  need_debs();
  /* What each package holds. */
  static const struct {
    const char *pkg, *path;
  } files[] = {
      {"imgstream", "./usr/bin/imgstream"},
      {"imgstream", "./usr/share/imgstream/models/"
                    "mobilenet_v2_1.0_224_quant.tflite"},
      {"imgstream", "./usr/share/imgstream/models/imagenet_class_index.json"},
      {"imgstream", "./usr/share/imgstream/models/LICENSE-coral-test-data"},
      {"imgstream", "./usr/share/doc/imgstream/copyright"},
      {"imgstream", "./usr/share/doc/imgstream/changelog.Debian.gz"},
      {"imgstream", "./usr/lib/systemd/system/imgstream-stream@.service"},
      {"imgstream", "./usr/lib/systemd/system/imgstream-produce@.service"},
      {"imgstream", "./usr/share/imgstream/examples/stream.conf.example"},
      {"imgstream", "./usr/share/man/man1/imgstream.1.gz"},
      {"imgstream", "./usr/share/man/man1/imgstream-stream.1.gz"},
      {"imgstream", "./usr/share/man/man1/imgstream-produce.1.gz"},
      {"imgstream", "./usr/share/man/man1/imgstream-classify.1.gz"},
      {"imgstream", "./usr/share/man/man1/imgstream-results.1.gz"},
      {"imgstream", "./usr/share/bash-completion/completions/imgstream"},
      {"libimgstream0", "./usr/L/libimgstream.so.0.1.0"},
      {"libimgstream0", "./usr/L/libimgstream.so.0 -> libimgstream.so.0.1.0"},
      {"libimgstream0", "./usr/share/doc/libimgstream0/copyright"},
      {"libimgstream-dev", "./usr/include/imgstream/imgstream.h"},
      {"libimgstream-dev", "./usr/L/libimgstream.a"},
      {"libimgstream-dev", "./usr/L/libimgstream.so -> libimgstream.so.0"},
      {"libimgstream-dev", "./usr/L/pkgconfig/imgstream.pc"},
      {"libimgstream-dev", "./usr/L/cmake/imgstream/imgstreamConfig.cmake"},
      {"libimgstream-dev", "./usr/share/doc/libimgstream-dev/copyright"},
      {"libimgstream-dev", "./usr/share/imgstream/examples/classify_one.c"},
      {"libimgstream-dev", "./usr/share/imgstream/examples/stream_sink.c"},
  };
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    ASSERT_EQ(sh("dpkg-deb --contents '%s/deb/packages/%s_%s-1_amd64.deb'",
                 dir, files[i].pkg, ims_version()), 0);
    const char *p = files[i].path;
    const char *l = strstr(p, "/L/");
    if (l != NULL)
      p = test_strf("%.*s/%s/%s", (int)(l - p), p, libdir, l + 3);
    if (strstr(sh_out, test_strf(" %s\n", p)) == NULL)
      TEST__FAIL("%s does not hold %s", files[i].pkg, p);
    ASSERT(strstr(sh_out, " root/root ") != NULL);
  }
  /* Depends from dpkg-shlibdeps (and the library's own package); the
   * NATS server only suggested: a worker may read a folder or S3. */
  const char *dep = deb_field("imgstream", "Depends");
  ASSERT_CONTAINS(dep, test_strf("libimgstream0 (= %s-1)", ims_version()));
  ASSERT_CONTAINS(dep, "libc6 (>=");
  ASSERT(strstr(dep, "nats") == NULL);
  ASSERT_CONTAINS(deb_field("imgstream", "Suggests"), "nats-server");
  dep = deb_field("libimgstream0", "Depends");
  ASSERT_CONTAINS(dep, "libxnnpack0");
  ASSERT_CONTAINS(dep, "libnats3.4");
  ASSERT_CONTAINS(deb_field("libimgstream-dev", "Depends"),
                  test_strf("libimgstream0 (= %s-1)", ims_version()));
  ASSERT_EQ(sh("dpkg-deb --ctrl-tarfile '%s/deb/packages/"
               "libimgstream0_%s-1_amd64.deb' | tar -xO ./shlibs ./triggers",
               dir, ims_version()), 0);
  ASSERT_CONTAINS(sh_out, "libimgstream 0 libimgstream0 (>= ");
  ASSERT_CONTAINS(sh_out, "activate-noawait ldconfig");
}

TEST(deb_classify) {
  need_debs();
  check_classify(deb_tree);
}

TEST(deb_stream) {
  need_debs();
  check_stream(deb_tree, "deb_stream");
}

TEST(deb_examples) {
  need_debs();
  check_examples(deb_tree, "deb_examples");
}

TEST(deb_man) {
  need_debs();
  check_man(deb_tree);
  check_completion(deb_tree);
}

/* lintian: no error. Its warnings are the ones docs/INSTALL.md lists
 * and explains; a new one fails here until it is explained there. */
TEST(deb_lintian) {
  if (strcmp(test__env_or("IMS_ONCE_TESTS", "ON"), "ON") != 0)
    RETURN_SKIP("lintian runs in one build of CI's three (IMS_ONCE_TESTS)");
  if (access("/usr/bin/lintian", X_OK) != 0)
    RETURN_SKIP("no lintian (scripts/install-deps)");
  need_debs();
  int code = sh("lintian --no-cfg --tag-display-limit 0 "
                "'%s'/deb/packages/*.deb 2>&1 | "
                "grep -v 'running with root privileges'", dir);
  ASSERT(code == 0 || code == 1);
  char *tags = strdup(sh_out);
  const char *doc = test_strf("%s/docs/INSTALL.md",
                              need_env("IMS_SOURCE_DIR"));
  char *explained = test_read_text(doc);
  for (char *line = strtok(tags, "\n"); line != NULL;
       line = strtok(NULL, "\n")) {
    if (line[0] == 'E' && line[1] == ':') TEST__FAIL("lintian: %s", line);
    if (line[0] != 'W' || line[1] != ':') continue;
    /* "W: pkg: tag [...]": the tag must be named in docs/INSTALL.md */
    char tag[128] = "";
    if (sscanf(line, "W: %*s %127s", tag) != 1) continue;
    if (strstr(explained, test_strf("`%s`", tag)) == NULL)
      TEST__FAIL("lintian warning not explained in docs/INSTALL.md: %s",
                 line);
  }
  free(explained);
  free(tags);
}

/* ---- 5. the systemd units ---- */

/* systemd-analyze verify on both units, installed (Runtime component,
 * no DESTDIR) into <dir>/units so that their ExecStart exists; and the
 * package's units are those of an install into /usr. */
TEST(units_verify) {
  if (access("/usr/bin/systemd-analyze", X_OK) != 0)
    RETURN_SKIP("no systemd-analyze (systemd; scripts/install-deps)");
  need_dir();
  const char *build = need_env("IMS_BUILD_DIR");
  const char *cmake = need_env("IMS_CMAKE");
  const char *units = test_strf("%s/units", dir);
  ASSERT_EQ(sh("'%s' --install '%s' --prefix '%s' --component Runtime",
               cmake, build, units), 0);
  static const char *const names[] = {"imgstream-stream@.service",
                                      "imgstream-produce@.service"};
  for (size_t i = 0; i < 2; i++) {
    const char *unit = test_strf("%s/lib/systemd/system/%s", units,
                                 names[i]);
    ASSERT_EQ(sh("MANPATH='%s/share/man' systemd-analyze verify '%s'", units,
                 unit), 0);
    ASSERT_STR_EQ(sh_err, "");
    ASSERT_EQ(sh("grep '^ExecStart=' '%s'", unit), 0);
    ASSERT_CONTAINS(sh_out, test_strf("ExecStart=%s/bin/imgstream ", units));
    need_debs();
    ASSERT_EQ(sh("sed 's|%s/bin/|/usr/bin/|' '%s' | cmp - "
                 "'%s/deb/root/usr/lib/systemd/system/%s'", units, unit, dir,
                 names[i]), 0);
  }
}

TEST_MAIN(install_layout, install_classify, install_stream, install_man,
          install_examples, deb_contents, deb_classify, deb_stream,
          deb_examples, deb_man, deb_lintian, units_verify)
