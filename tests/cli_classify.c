/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_classify.c - end-to-end tests of the `imgstream` tool: they run the
 * real binary ($IMGSTREAM_BIN) on the real shared models and images and
 * check its output, stderr and exit codes.
 *
 * Expected answers are read at test time from the independent reference
 * (../shared/reference/armnn-cpuref/MODEL.top5.tsv, whose output indexes
 * include the background class: output 89 = label 88) and mapped to
 * WordNet ids through ../shared/models/imagenet_class_index.json.
 *
 * Learned heads (--head): the test makes its own, through the library:
 * the features of three in four shared flowers (uint8 model), learned
 * with their folder names as labels and saved with ims_head_save; the
 * fourth flower of each four is held out, linked into a folder tree the
 * tool classifies. Right answers there are the folder names.
 *
 * Sections: 1. running the tool  2. reference data  3. usage and exit
 * codes  4. classification  5. failures  6. folders and --accuracy
 * 7. learned heads
 *
 * Threading: single-threaded; each case forks the tool as a child.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "imgstream/imgstream.h"
#include "test.h"
#include "support/tool.h"

/* ---- 1. running the tool ---- */

typedef struct run_out {
  int code;  /* exit status, or 128 + signal */
  char *out; /* stdout (NUL-terminated; empty if redirected) */
  char *err; /* stderr */
} run_out;

static run_out last; /* output of the latest run, freed by the next */
static unsigned run_alarm; /* if not 0: SIGALRM ends a run after this (s) */

/* Run the tool with args (NULL-terminated); stdout goes to out_path, or to
 * a temporary file that is read back when out_path is NULL. */
static const run_out *run_to(const char *out_path, const char *const *args) {
  char outf[4096], errf[4096];
  snprintf(outf, sizeof outf, "%s", tmp_path("cli_stdout.txt"));
  snprintf(errf, sizeof errf, "%s", tmp_path("cli_stderr.txt"));
  free(last.out);
  free(last.err);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(run_alarm); /* survives the exec: a hung tool is killed */
    tool_exec(args, out_path != NULL ? out_path : outf, false, errf, false);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  last.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  last.out = test_read_text(out_path != NULL ? "/dev/null" : outf);
  last.err = test_read_text(errf);
  return &last;
}

#define RUN(...) run_to(NULL, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_TO(path, ...) run_to(path, (const char *const[]){__VA_ARGS__, NULL})

static void need_tool(void) {
  const char *bin = getenv("IMGSTREAM_BIN");
  if (bin == NULL || access(bin, X_OK) != 0)
    RETURN_SKIP("IMGSTREAM_BIN is not an executable");
}

/* ---- 2. reference data ---- */

static const char *const images[] = {"parrot.jpg", "cat_720p.jpg",
                                     "grace_hopper.bmp", "sunflower.bmp"};

/* The answers the issue accepts, per image (same order as images[]). */
static const char *const issue_answers[][3] = {
    {"n01818515", NULL},              /* macaw */
    {"n02124075", NULL},              /* Egyptian cat */
    {"n03787032", "n03763968", NULL}, /* mortarboard, military uniform */
    {"n11939491", NULL}};             /* daisy */

static char image_paths[4][4096];
static char model_paths[2][4096];
static const char *const models[] = {"mobilenet_v2_1.0_224_quant",
                                     "tf2_mobilenet_v2_1.0_224_ptq"};

static void need_shared(void) {
  need_tool();
  char rel[256];
  for (int i = 0; i < 4; i++) {
    snprintf(rel, sizeof rel, "data/images/%s", images[i]);
    snprintf(image_paths[i], sizeof image_paths[i], "%s", shared_path(rel));
  }
  for (int m = 0; m < 2; m++) {
    snprintf(rel, sizeof rel, "models/%s.tflite", models[m]);
    snprintf(model_paths[m], sizeof model_paths[m], "%s", shared_path(rel));
    if (access(model_paths[m], R_OK) != 0) RETURN_SKIP("no shared models");
  }
  if (access(image_paths[0], R_OK) != 0) RETURN_SKIP("no shared images");
}

/* The Keras class index, loaded once. */
static json_t *class_index(void) {
  static json_t *idx;
  if (idx == NULL)
    idx = json_load_file(shared_path("models/imagenet_class_index.json"), 0,
                         NULL);
  ASSERT(idx != NULL);
  return idx;
}

static const char *wnid_of(size_t label) {
  char key[32];
  snprintf(key, sizeof key, "%zu", label);
  json_t *e = json_object_get(class_index(), key);
  ASSERT(e != NULL);
  return json_string_value(json_array_get(e, 0));
}

static const char *desc_of(size_t label) {
  char key[32];
  snprintf(key, sizeof key, "%zu", label);
  return json_string_value(json_array_get(json_object_get(class_index(), key),
                                          1));
}

/* Labels the reference accepts for `image` under `model`: its top-1, plus
 * near ties (within 0.1 of it). Returns how many were written to out. */
static int reference_answers(const char *model, const char *image,
                             long out[5]) {
  char path[512], key[256];
  snprintf(path, sizeof path, "reference/armnn-cpuref/%s.top5.tsv", model);
  char *tsv = test_read_text(shared_path(path));
  snprintf(key, sizeof key, "images/%s\t%s\t", image, model);
  char *line = strstr(tsv, key);
  ASSERT(line != NULL);
  char *p = line + strlen(key);
  int n = 0;
  double best = -1;
  for (int i = 0; i < 5; i++) {
    char *end = NULL;
    long idx = strtol(p, &end, 10);
    double prob = strtod(end + 1, &end);
    if (i == 0) best = prob;
    if (idx > 0 && prob >= best - 0.1) out[n++] = idx - 1;
    p = end;
  }
  free(tsv);
  return n;
}

/* ---- 3. usage and exit codes ---- */

TEST(cli_help) {
  need_tool();
  const run_out *r = RUN("--help");
  ASSERT_EQ(r->code, 0);
  ASSERT_CONTAINS(r->out, "classify");
  r = RUN("classify", "--help");
  ASSERT_EQ(r->code, 0);
  ASSERT_CONTAINS(r->out, "usage: imgstream classify");
  ASSERT_CONTAINS(r->out, "--model");
  ASSERT_CONTAINS(r->out, "--json");
  ASSERT_CONTAINS(r->out, "exit codes: 0 ok, 1 some inputs failed");
  ASSERT_CONTAINS(r->out, "4 output not written");
}

TEST(cli_version) {
  need_tool();
  const run_out *r = RUN("--version");
  ASSERT_EQ(r->code, 0);
  ASSERT_STR_EQ(r->out, "imgstream " IMS_VERSION_STRING "\n");
  r = RUN("classify", "--version");
  ASSERT_EQ(r->code, 0);
  ASSERT_CONTAINS(r->out, IMS_VERSION_STRING);
}

TEST(cli_usage_errors) {
  need_tool();
  const run_out *r = RUN("classify", "--bogus", "x.jpg");
  ASSERT_EQ(r->code, 2);
  ASSERT_CONTAINS(r->err, "--bogus");
  ASSERT_EQ(RUN("classify")->code, 2);
  ASSERT_EQ(RUN("nosuchcommand")->code, 2);
  r = RUN("classify", "--top", "0", "x.jpg");
  ASSERT_EQ(r->code, 2);
  ASSERT_CONTAINS(r->err, "--top");
  ASSERT_EQ(RUN("classify", "--threads", "many", "x.jpg")->code, 2);
  ASSERT_EQ(RUN("classify", "x.jpg", "--batch")->code, 2);
  ASSERT_EQ(RUN("classify", "--batch", "-3", "x.jpg")->code, 2);
}

TEST(cli_missing_model) {
  need_tool();
  const char *path = tmp_path("no_such_dir/model.tflite");
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", path);
  const run_out *r = RUN("classify", "--model", copy, "x.jpg");
  ASSERT_EQ(r->code, 3);
  ASSERT_CONTAINS(r->err, copy);
}

TEST(cli_stdout_full) {
  need_shared();
  ASSERT_EQ(RUN_TO("/dev/full", "--help")->code, 4);
  const run_out *r = RUN_TO("/dev/full", "classify", "--model",
                            model_paths[0], image_paths[0]);
  ASSERT_EQ(r->code, 4);
  ASSERT_CONTAINS(r->err, "error writing output");
}

TEST(cli_labels_wrong_count) {
  need_shared();
  char labels[4096];
  snprintf(labels, sizeof labels, "%s", tmp_path("cli_ten_labels.txt"));
  const char ten[] = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
  ASSERT_EQ(test_write_file(labels, ten, sizeof ten - 1), 0);
  const run_out *r = RUN("classify", "--model", model_paths[0], "--labels",
                         labels, image_paths[0]);
  ASSERT_EQ(r->code, 3);
  ASSERT_CONTAINS(r->err, labels);
  ASSERT_CONTAINS(r->err, "1001");
  ASSERT_STR_EQ(r->out, "");
}

/* ---- 4. classification ---- */

/* Parse JSON lines into an array. BORROWED: valid until the next call
 * (kept in a static so that a failed assertion leaks nothing). */
static json_t *json_lines(const char *text) {
  static json_t *arr;
  json_decref(arr);
  arr = json_array();
  const char *p = text;
  while (*p != '\0') {
    const char *nl = strchr(p, '\n');
    ASSERT(nl != NULL);
    json_error_t je;
    json_t *o = json_loadb(p, (size_t)(nl - p), 0, &je);
    if (o == NULL) TEST__FAIL("bad JSON line: %.*s", (int)(nl - p), p);
    json_array_append_new(arr, o);
    p = nl + 1;
  }
  return arr;
}

/* Check one {"path":..,"top":[..]} object: k predictions, scores
 * falling, each named as ImageNet names its index - or, with a learned
 * head, class and desc both the head's label. Returns its top-1 index. */
static size_t check_top(json_t *o, const char *path, size_t k,
                        const ims_head *head) {
  ASSERT_STR_EQ(json_string_value(json_object_get(o, "path")), path);
  ASSERT(json_object_get(o, "error") == NULL);
  json_t *top = json_object_get(o, "top");
  ASSERT_EQ(json_array_size(top), k);
  size_t count = head != NULL ? ims_head_class_count(head) : 1000;
  double prev = 2.0;
  for (size_t i = 0; i < k; i++) {
    json_t *e = json_array_get(top, i);
    json_int_t idx = json_integer_value(json_object_get(e, "index"));
    double score = json_number_value(json_object_get(e, "score"));
    ASSERT(idx >= 0 && (size_t)idx < count);
    const char *cls = head != NULL ? ims_head_class_label(head, (size_t)idx)
                                   : wnid_of((size_t)idx);
    const char *desc = head != NULL ? cls : desc_of((size_t)idx);
    ASSERT_STR_EQ(json_string_value(json_object_get(e, "class")), cls);
    ASSERT_STR_EQ(json_string_value(json_object_get(e, "desc")), desc);
    ASSERT(score >= 0.0 && score <= 1.0 && score <= prev);
    prev = score;
  }
  return (size_t)json_integer_value(
      json_object_get(json_array_get(top, 0), "index"));
}

static size_t check_prediction(json_t *o, const char *path, size_t k) {
  return check_top(o, path, k, NULL);
}

static int in_list(const char *wnid, const char *const *list) {
  for (; *list != NULL; list++)
    if (strcmp(*list, wnid) == 0) return 1;
  return 0;
}

/* classify --json on the four images with model m; top-1 must be the
 * reference's (and one the issue names). */
static void check_model(int m) {
  need_shared();
  const run_out *r = RUN("classify", "--json", "--model", model_paths[m],
                         image_paths[0], image_paths[1], image_paths[2],
                         image_paths[3]);
  fprintf(stderr, "%s:\n%s%s", models[m], r->out, r->err);
  ASSERT_EQ(r->code, 0);
  json_t *lines = json_lines(r->out);
  ASSERT_EQ(json_array_size(lines), 4);
  for (int i = 0; i < 4; i++) {
    size_t got = check_prediction(json_array_get(lines, (size_t)i),
                                  image_paths[i], 1);
    long want[5];
    int n = reference_answers(models[m], images[i], want), ok = 0;
    for (int j = 0; j < n; j++) ok |= (long)got == want[j];
    if (!ok)
      TEST__FAIL("%s: got %s (%zu), reference top-1 %s", images[i],
                 wnid_of(got), got, wnid_of((size_t)want[0]));
    ASSERT(in_list(wnid_of(got), issue_answers[i]));
  }
}

TEST(cli_reference_quant) { check_model(0); }
TEST(cli_reference_tf2_ptq) { check_model(1); }

TEST(cli_json_format) {
  need_shared();
  const run_out *r = RUN("classify", "--json", "--top", "2", "--model",
                         model_paths[0], image_paths[0]);
  ASSERT_EQ(r->code, 0);
  char want[4200];
  snprintf(want, sizeof want,
           "{\"path\":\"%s\",\"top\":[{\"index\":88,\"class\":"
           "\"n01818515\",\"desc\":\"macaw\",\"score\":0.",
           image_paths[0]);
  ASSERT(strncmp(r->out, want, strlen(want)) == 0);
  ASSERT(strstr(r->out, "\": ") == NULL && strstr(r->out, ", ") == NULL);
  ASSERT_EQ(strchr(r->out, '\n') - r->out + 1, strlen(r->out));
}

/* --features: 1280 floats per image that decoded, none for one that
 * did not, the same top as without them, the same values on 1 and 2
 * threads; only with --json. */
TEST(cli_json_features) {
  need_shared();
  const run_out *r = RUN("classify", "--json", "--model", model_paths[0],
                         image_paths[0], image_paths[1]);
  ASSERT_EQ(r->code, 0);
  char *plain = strdup(r->out);
  r = RUN("classify", "--json", "--features", "--threads", "2", "--model",
          model_paths[0], image_paths[0], "no_such.jpg", image_paths[1]);
  ASSERT_EQ(r->code, 1);
  char *two = strdup(r->out);
  json_t *before = json_incref(json_lines(plain)), *lines = json_lines(two);
  ASSERT_EQ(json_array_size(lines), 3);
  ASSERT(json_object_get(json_array_get(lines, 1), "features") == NULL);
  for (size_t i = 0; i < 3; i += 2) {
    json_t *o = json_array_get(lines, i);
    json_t *f = json_object_get(o, "features");
    ASSERT_EQ(json_array_size(f), 1280);
    for (size_t k = 0; k < 1280; k++)
      ASSERT(json_is_real(json_array_get(f, k)) &&
             json_real_value(json_array_get(f, k)) >= 0);
    ASSERT(json_equal(json_object_get(o, "top"),
                      json_object_get(json_array_get(before, i / 2),
                                      "top")));
  }
  r = RUN("classify", "--json", "--features", "--threads", "1", "--model",
          model_paths[0], image_paths[0], "no_such.jpg", image_paths[1]);
  ASSERT_STR_EQ(r->out, two);
  json_decref(before);
  free(plain);
  free(two);
  r = RUN("classify", "--features", "--model", model_paths[0],
          image_paths[0]);
  ASSERT_EQ(r->code, 2);
  ASSERT_CONTAINS(r->err, "--features needs --json");
}

TEST(cli_top5_sorted) {
  need_shared();
  const run_out *r = RUN("classify", "--json", "--top", "5", "--model",
                         model_paths[1], image_paths[1], image_paths[2]);
  ASSERT_EQ(r->code, 0);
  json_t *lines = json_lines(r->out);
  ASSERT_EQ(json_array_size(lines), 2);
  check_prediction(json_array_get(lines, 0), image_paths[1], 5);
  check_prediction(json_array_get(lines, 1), image_paths[2], 5);
}

TEST(cli_plain_table) {
  need_shared();
  const run_out *r = RUN("classify", "--model", model_paths[0],
                         image_paths[0], image_paths[3]);
  ASSERT_EQ(r->code, 0);
  const char *l1 = strchr(r->out, '\n');
  ASSERT(l1 != NULL);
  ASSERT(strncmp(r->out, "image", 5) == 0);
  ASSERT_CONTAINS(r->out, "score");
  ASSERT_CONTAINS(l1, image_paths[0]);
  ASSERT_CONTAINS(l1, "n01818515  0.");
  ASSERT_CONTAINS(l1, "macaw\n");
  ASSERT_CONTAINS(l1, "daisy\n");
  r = RUN("classify", "--top", "3", "--model", model_paths[0],
          image_paths[0]);
  ASSERT_EQ(r->code, 0);
  ASSERT_CONTAINS(r->out, "\n  1 ");
  ASSERT_CONTAINS(r->out, "\n  3 ");
}

TEST(cli_batch_matches_single) {
  need_shared();
  const run_out *r = RUN("classify", "--json", "--top", "5", "--batch", "1",
                         "--threads", "1", "--model", model_paths[1],
                         image_paths[0], image_paths[1], image_paths[2],
                         image_paths[3]);
  ASSERT_EQ(r->code, 0);
  char *single = strdup(r->out);
  r = RUN("classify", "--json", "--top", "5", "--batch", "3", "--threads",
          "2", "--model", model_paths[1], image_paths[0], image_paths[1],
          image_paths[2], image_paths[3]);
  ASSERT_EQ(r->code, 0);
  ASSERT_STR_EQ(r->out, single);
  free(single);
}

TEST(cli_default_model_from_env) {
  need_shared();
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", shared_path("models"));
  setenv("IMGSTREAM_MODELS", dir, 1);
  const run_out *r = RUN("classify", "--json", image_paths[0]);
  unsetenv("IMGSTREAM_MODELS");
  ASSERT_EQ(r->code, 0);
  ASSERT_CONTAINS(r->out, "\"class\":\"n01818515\"");
}

/* ---- 5. failures ---- */

/* Write the damaged inputs; returns their paths in out[0..3). */
static void make_bad_inputs(char out[3][4096]) {
  size_t n = 0;
  unsigned char *jpg = test_read_file(image_paths[0], &n);
  ASSERT(jpg != NULL && n > 4000);
  snprintf(out[0], 4096, "%s", tmp_path("cli_truncated.jpg"));
  ASSERT_EQ(test_write_file(out[0], jpg, 4000), 0);
  free(jpg);
  snprintf(out[1], 4096, "%s", tmp_path("cli_text.jpg"));
  ASSERT_EQ(test_write_file(out[1], "not an image\n", 13), 0);
  snprintf(out[2], 4096, "%s", tmp_path("cli_missing.jpg"));
  unlink(out[2]);
}

TEST(cli_bad_image_json) {
  need_shared();
  char bad[3][4096];
  make_bad_inputs(bad);
  const run_out *r = RUN("classify", "--json", "--model", model_paths[0],
                         bad[0], image_paths[0], bad[1], image_paths[1],
                         bad[2]);
  fprintf(stderr, "%s", r->out);
  ASSERT_EQ(r->code, 1);
  json_t *lines = json_lines(r->out);
  ASSERT_EQ(json_array_size(lines), 5);
  const int bad_at[3] = {0, 2, 4};
  for (int i = 0; i < 3; i++) {
    json_t *o = json_array_get(lines, (size_t)bad_at[i]);
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "path")), bad[i]);
    const char *msg = json_string_value(json_object_get(o, "error"));
    ASSERT(msg != NULL && msg[0] != '\0');
    ASSERT(json_object_get(o, "top") == NULL);
  }
  ASSERT_EQ(check_prediction(json_array_get(lines, 1), image_paths[0], 1),
            88);
  ASSERT_EQ(check_prediction(json_array_get(lines, 3), image_paths[1], 1),
            285);
}

TEST(cli_bad_image_plain) {
  need_shared();
  char bad[3][4096], prefix[4200];
  make_bad_inputs(bad);
  const run_out *r = RUN("classify", "--model", model_paths[0], image_paths[0],
                         bad[0], image_paths[3]);
  ASSERT_EQ(r->code, 1);
  snprintf(prefix, sizeof prefix, "imgstream: %s: ", bad[0]);
  ASSERT_CONTAINS(r->err, prefix);
  ASSERT_CONTAINS(r->out, "macaw");
  ASSERT_CONTAINS(r->out, "daisy");
  ASSERT(strstr(r->out, bad[0]) == NULL);
}

/* ---- 6. folders and --accuracy ---- */

/* Copy the shared file src to dst. */
static void copy_file(const char *src, const char *dst) {
  size_t n = 0;
  unsigned char *bytes = test_read_file(src, &n);
  ASSERT(bytes != NULL);
  int rc = test_write_file(dst, bytes, n);
  free(bytes);
  ASSERT_EQ(rc, 0);
}

/* Make tmp_path(rel) a fresh empty folder; its path goes to dir. */
static void fresh_dir(const char *rel, char dir[4096]) {
  snprintf(dir, 4096, "%s", tmp_path(rel));
  tool_rm_rf(dir);
  ASSERT_EQ(mkdir(dir, 0755), 0);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run the tool with head[] (NULL-terminated) followed by paths[0..n). */
static const run_out *run_with(const char *const *head, char **paths,
                               size_t n) {
  const char *args[64];
  size_t k = 0;
  for (; head[k] != NULL; k++) args[k] = head[k];
  ASSERT(k + n < sizeof args / sizeof args[0]);
  for (size_t i = 0; i < n; i++) args[k + i] = paths[i];
  args[k + n] = NULL;
  return run_to(NULL, args);
}

/* (a) A folder gives the output of its files listed in strcmp order. */
TEST(cli_folder_matches_files) {
  need_shared();
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", shared_path("data/images"));
  char *files[4];
  for (int i = 0; i < 4; i++) files[i] = strdup(image_paths[i]);
  qsort(files, 4, sizeof *files, cmp_str);
  const char *const modes[][4] = {{"--json", "--top", "3", NULL},
                                  {"--top", "1", NULL}};
  for (int m = 0; m < 2; m++) {
    const char *head[8] = {"classify", "--model", model_paths[0]};
    for (int j = 0; modes[m][j] != NULL; j++) head[3 + j] = modes[m][j];
    const run_out *r = run_with(head, files, 4);
    ASSERT_EQ(r->code, 0);
    char *listed = strdup(r->out);
    r = run_with(head, (char *[]){dir}, 1);
    ASSERT_EQ(r->code, 0);
    ASSERT_STR_EQ(r->out, listed);
    ASSERT_STR_EQ(r->err, "");
    free(listed);
  }
  for (int i = 0; i < 4; i++) free(files[i]);
}

/* (b) Recursion; hidden names, other extensions and links to folders are
 * skipped; links to files and any-case extensions are taken. */
TEST(cli_folder_walk) {
  need_shared();
  char root[4096];
  fresh_dir("cli_walk", root);
  char real[4096];
  ASSERT(realpath(image_paths[0], real) != NULL);
  const char *const dirs[] = {"sub", "sub/deep", ".cache"};
  for (int i = 0; i < 3; i++)
    ASSERT_EQ(mkdir(test_strf("%s/%s", root, dirs[i]), 0755), 0);
  copy_file(image_paths[0], test_strf("%s/b.jpg", root));
  copy_file(image_paths[3], test_strf("%s/A.BMP", root));
  copy_file(image_paths[1], test_strf("%s/sub/deep/c.Jpeg", root));
  copy_file(image_paths[1], test_strf("%s/.hidden.jpg", root));
  copy_file(image_paths[1], test_strf("%s/.cache/x.jpg", root));
  copy_file(image_paths[1], test_strf("%s/sub/cat.jpg.txt", root));
  ASSERT_EQ(test_write_file(test_strf("%s/notes", root), "hi\n", 3), 0);
  ASSERT_EQ(symlink(real, test_strf("%s/sub/link.jpg", root)), 0);
  ASSERT_EQ(symlink("..", test_strf("%s/sub/up.jpg", root)), 0);
  ASSERT_EQ(symlink(".", test_strf("%s/sub/loop", root)), 0);
  const run_out *r = RUN("classify", "--json", "--model", model_paths[0],
                         root);
  ASSERT_EQ(r->code, 0);
  ASSERT_STR_EQ(r->err, "");
  json_t *lines = json_lines(r->out);
  const char *const want[] = {"A.BMP", "b.jpg", "sub/deep/c.Jpeg",
                              "sub/link.jpg"};
  const size_t want_idx[] = {985, 88, 285, 88};
  ASSERT_EQ(json_array_size(lines), 4);
  for (size_t i = 0; i < 4; i++)
    ASSERT_EQ(check_prediction(json_array_get(lines, i),
                               test_strf("%s/%s", root, want[i]), 1),
              want_idx[i]);
  tool_rm_rf(root);
}

/* The parent folder's name in path (the text between its last two '/'). */
static const char *parent_name(const char *path) {
  const char *end = strrchr(path, '/');
  ASSERT(end != NULL && end > path);
  const char *start = end;
  while (start > path && start[-1] != '/') start--;
  return test_strf("%.*s", (int)(end - start), start);
}

/* Check the closing {"accuracy":..} object against the image lines
 * before it; returns how many were right. */
static size_t check_accuracy(json_t *lines, size_t nimages) {
  ASSERT_EQ(json_array_size(lines), nimages + 1);
  json_t *acc = json_object_get(json_array_get(lines, nimages), "accuracy");
  ASSERT(acc != NULL);
  json_t *labels = json_object_get(acc, "labels");
  size_t n = json_array_size(labels), correct = 0;
  ASSERT(n > 0 && n <= 16);
  size_t counts[16][17] = {{0}};
  for (size_t i = 0; i < nimages; i++) {
    json_t *o = json_array_get(lines, i);
    const char *truth = parent_name(
        json_string_value(json_object_get(o, "path")));
    const char *desc = json_string_value(json_object_get(
        json_array_get(json_object_get(o, "top"), 0), "desc"));
    ASSERT(desc != NULL);
    size_t row = n, col = n;
    for (size_t j = 0; j < n; j++) {
      const char *l = json_string_value(json_array_get(labels, j));
      if (j > 0)
        ASSERT(strcmp(json_string_value(json_array_get(labels, j - 1)),
                      l) < 0);
      if (strcmp(l, truth) == 0) row = j;
      if (strcmp(l, desc) == 0) col = j;
    }
    ASSERT(row < n);
    counts[row][col]++;
    correct += row == col;
  }
  json_t *pred = json_object_get(acc, "predicted");
  ASSERT_EQ(json_array_size(pred), n + 1);
  ASSERT_STR_EQ(json_string_value(json_array_get(pred, n)), "(other)");
  json_t *m = json_object_get(acc, "confusion");
  ASSERT_EQ(json_array_size(m), n);
  for (size_t row = 0; row < n; row++) {
    ASSERT_STR_EQ(json_string_value(json_array_get(pred, row)),
                  json_string_value(json_array_get(labels, row)));
    json_t *cells = json_array_get(m, row);
    ASSERT_EQ(json_array_size(cells), n + 1);
    for (size_t col = 0; col <= n; col++)
      ASSERT_EQ(json_integer_value(json_array_get(cells, col)),
                counts[row][col]);
  }
  ASSERT_EQ(json_integer_value(json_object_get(acc, "correct")), correct);
  ASSERT_EQ(json_integer_value(json_object_get(acc, "total")), nimages);
  ASSERT_EQ(json_integer_value(json_object_get(acc, "failed")), 0);
  double top1 = json_number_value(json_object_get(acc, "top1"));
  ASSERT(fabs(top1 - (double)correct / (double)nimages) <= 0.00005);
  return correct;
}

/* (c) --accuracy on the 430 flowers agrees with the run's own lines. */
TEST(cli_accuracy_flowers) {
  need_shared();
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", shared_path("data/flowers"));
  if (access(dir, R_OK) != 0) RETURN_SKIP("no shared flowers");
  const run_out *r = RUN("classify", "--json", "--accuracy", "--model",
                         model_paths[0], dir);
  ASSERT_EQ(r->code, 0);
  json_t *lines = json_lines(r->out);
  size_t correct = check_accuracy(lines, 430);
  json_t *labels = json_object_get(
      json_object_get(json_array_get(lines, 430), "accuracy"), "labels");
  ASSERT_EQ(json_array_size(labels), 5);
  ASSERT_STR_EQ(json_string_value(json_array_get(labels, 0)), "daisy");
  fprintf(stderr, "flowers, quant model: top-1 %zu/430\n", correct);
  ASSERT(correct > 0); /* ImageNet's daisy class finds daisies */
}

/* A reference flower: "flowers/CLASS/FILE.jpg", its top-1 output index and
 * whether that leads the top-2 clearly. */
typedef struct ref_flower {
  char name[256];
  long top1;
  bool clear;
} ref_flower;

/* The reference's flowers for model m, in file order; returns how many. */
static size_t ref_flowers(int m, ref_flower out[32]) {
  char *tsv = test_read_text(shared_path(
      test_strf("reference/armnn-cpuref/%s.top5.tsv", models[m])));
  size_t n = 0;
  for (char *p = strstr(tsv, "\nflowers/"); p != NULL && n < 32;
       p = strstr(p + 1, "\nflowers/")) {
    char *tab = strchr(p + 1, '\t'), *end = NULL;
    ASSERT(tab != NULL && tab - p - 1 < 256);
    snprintf(out[n].name, sizeof out[n].name, "%.*s", (int)(tab - p - 1),
             p + 1);
    char *scores = strchr(tab + 1, '\t') + 1;
    out[n].top1 = strtol(scores, &end, 10);
    double p1 = strtod(end + 1, &end);
    strtol(end, &end, 10);
    double p2 = strtod(end + 1, &end);
    out[n].clear = p1 - p2 >= 0.1;
    n++;
  }
  free(tsv);
  return n;
}

/* (d) The 20 reference flowers, linked into a folder tree of their own:
 * classify on the folder agrees with the reference's clear top-1s, and
 * --accuracy's table agrees with the JSON lines. */
TEST(cli_folder_reference) {
  need_shared();
  ref_flower ref[32];
  size_t n = ref_flowers(0, ref);
  ASSERT_EQ(n, 20);
  char root[4096];
  fresh_dir("cli_ref_flowers", root);
  ASSERT_EQ(mkdir(test_strf("%s/flowers", root), 0755), 0);
  for (size_t i = 0; i < n; i++) {
    char real[4096];
    ASSERT(realpath(shared_path(test_strf("data/%s", ref[i].name)), real) !=
           NULL);
    const char *link = test_strf("%s/%s", root, ref[i].name);
    char *slash = strrchr(link, '/');
    *slash = '\0';
    mkdir(link, 0755); /* exists after its class's first flower */
    *slash = '/';
    ASSERT_EQ(symlink(real, link), 0);
  }
  const run_out *r = RUN("classify", "--json", "--accuracy", "--model",
                         model_paths[0], root);
  ASSERT_EQ(r->code, 0);
  json_t *lines = json_lines(r->out);
  size_t correct = check_accuracy(lines, n), compared = 0;
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_array_get(lines, i);
    size_t got = check_prediction(o, test_strf("%s/%s", root, ref[i].name),
                                  1);
    if (!ref[i].clear) continue;
    compared++;
    if ((long)got != ref[i].top1 - 1)
      TEST__FAIL("%s: got %zu, reference top-1 %ld", ref[i].name, got,
                 ref[i].top1 - 1);
  }
  ASSERT(compared >= 10);
  r = RUN("classify", "--accuracy", "--model", model_paths[0], root);
  ASSERT_EQ(r->code, 0);
  ASSERT_CONTAINS(r->out, test_strf("\ntop-1 accuracy: %zu/20 = %.1f%%\n",
                                    correct, 100.0 * (double)correct / 20));
  ASSERT_CONTAINS(r->out, "(other)\ndaisy ");
  tool_rm_rf(root);
}

/* (e) An empty folder, and folders whose links loop, end promptly with
 * the documented result. */
TEST(cli_folder_empty_and_loops) {
  need_shared();
  char empty[4096], loops[4096];
  fresh_dir("cli_empty", empty);
  const run_out *r = RUN("classify", "--model", model_paths[0], empty);
  ASSERT_EQ(r->code, 1);
  ASSERT_STR_EQ(r->out, "");
  ASSERT_CONTAINS(r->err, test_strf("imgstream: %s: no images", empty));
  r = RUN("classify", "--json", "--model", model_paths[0], empty,
          image_paths[0]);
  ASSERT_EQ(r->code, 1);
  ASSERT_EQ(check_prediction(json_array_get(json_lines(r->out), 0),
                             image_paths[0], 1), 88);
  fresh_dir("cli_loops", loops);
  ASSERT_EQ(symlink(".", test_strf("%s/again", loops)), 0);
  ASSERT_EQ(symlink("..", test_strf("%s/up", loops)), 0);
  run_alarm = 60;
  r = RUN("classify", "--model", model_paths[0], loops);
  ASSERT_EQ(r->code, 1);
  ASSERT_CONTAINS(r->err, "no images");
  copy_file(image_paths[0], test_strf("%s/p.jpg", loops));
  ASSERT_EQ(symlink("self.jpg", test_strf("%s/self.jpg", loops)), 0);
  r = RUN("classify", "--json", "--model", model_paths[0], loops);
  run_alarm = 0;
  ASSERT_EQ(r->code, 1);
  json_t *lines = json_lines(r->out);
  ASSERT_EQ(json_array_size(lines), 2);
  ASSERT_EQ(check_prediction(json_array_get(lines, 0),
                             test_strf("%s/p.jpg", loops), 1), 88);
  json_t *bad = json_array_get(lines, 1);
  ASSERT_STR_EQ(json_string_value(json_object_get(bad, "path")),
                test_strf("%s/self.jpg", loops));
  ASSERT(json_object_get(bad, "error") != NULL);
  tool_rm_rf(empty);
  tool_rm_rf(loops);
}

/* ---- 7. learned heads ---- */

#define HELD_MAX 128

/* The head the tests share, and the flowers it has not seen. */
typedef struct head_fixture {
  char file[4096];      /* the head, saved */
  char root[4096];      /* CLASS/FILE links to the held-out flowers */
  char fingerprint[IMS_MODEL_FINGERPRINT_SIZE]; /* the uint8 model's */
  char layer[256];      /* its feature layer */
  size_t n;             /* held-out flowers */
  char *held[HELD_MAX]; /* owned: their links, in strcmp order */
  int32_t pred[HELD_MAX]; /* the head's top-1 of each, in process */
  float score[HELD_MAX];  /* and its probability */
  ims_head *head;       /* the head as saved */
} head_fixture;

static ims_classifier *feature_classifier(void) {
  char labels[4096];
  snprintf(labels, sizeof labels, "%s",
           shared_path("models/imagenet_class_index.json"));
  ims_classifier_options o = {.model_path = model_paths[0],
                              .labels_path = labels, .max_batch = 16,
                              .engine_flags = IMS_ENGINE_FLAG_FEATURES};
  ims_classifier *c = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_classifier_create(&o, &c, &err), &err);
  return c;
}

/* Run paths[0..n) (n <= 16); results BORROWED until the next run. */
static const ims_class_result *features_of(ims_classifier *c,
                                           const char *const *paths,
                                           size_t n) {
  const ims_class_result *r = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_classifier_run_files(c, n, paths, &r, &err), &err);
  for (size_t i = 0; i < n; i++) ASSERT_OK(r[i].error.status, &r[i].error);
  return r;
}

/* Learn images[0..n) of ds (indexes) with their folder names. */
static void learn_images(ims_classifier *c, ims_head *h,
                         const ims_dataset *ds, const size_t *idx,
                         size_t n) {
  for (size_t i = 0; i < n; i += 16) {
    size_t k = n - i < 16 ? n - i : 16;
    const char *paths[16], *labels[16];
    const float *rows[16];
    for (size_t j = 0; j < k; j++) {
      const ims_dataset_item *it = ims_dataset_get(ds, idx[i + j]);
      paths[j] = it->path;
      labels[j] = it->category;
    }
    const ims_class_result *r = features_of(c, paths, k);
    for (size_t j = 0; j < k; j++) rows[j] = r[j].features;
    ims_head_result res[16];
    ims_error err = {0};
    ASSERT_OK(ims_head_step(h, k, rows, labels, res, &err), &err);
  }
}

/* Link the held-out image it into f->root/CATEGORY/NAME. */
static void hold_out(head_fixture *f, const ims_dataset_item *it) {
  char real[4096];
  ASSERT(f->n < HELD_MAX);
  ASSERT(realpath(it->path, real) != NULL);
  mkdir(test_strf("%s/%s", f->root, it->category), 0755);
  f->held[f->n] = strdup(test_strf("%s/%s/%s", f->root, it->category,
                                   it->name));
  ASSERT_EQ(symlink(real, f->held[f->n]), 0);
  f->n++;
}

/* The head's own top-1 for each held-out flower, in this process. */
static void predict_held(head_fixture *f, ims_classifier *c) {
  for (size_t i = 0; i < f->n; i += 16) {
    size_t k = f->n - i < 16 ? f->n - i : 16;
    const ims_class_result *r =
        features_of(c, (const char *const *)f->held + i, k);
    for (size_t j = 0; j < k; j++) {
      float probs[8];
      ASSERT(ims_head_class_count(f->head) <= 8);
      ims_head_predict(f->head, r[j].features, probs);
      ims_prediction top;
      ASSERT_EQ(ims_top_k(probs, ims_head_class_count(f->head), 1, &top), 1);
      f->pred[i + j] = (int32_t)top.index;
      f->score[i + j] = top.score;
    }
  }
}

/* Learn and save the head, lay out the held-out tree (once a process). */
static const head_fixture *head_fixture_get(void) {
  static head_fixture f;
  need_shared();
  if (f.head != NULL) return &f;
  ims_error err = {0};
  ims_dataset *ds = NULL;
  ASSERT_OK(ims_dataset_scan(shared_path("data/flowers"), &ds, &err), &err);
  size_t total = ims_dataset_count(ds), nlearn = 0;
  ASSERT(total >= 100);
  size_t *learn = calloc(total, sizeof *learn);
  fresh_dir("cli_head_held", f.root);
  for (size_t i = 0; i < total; i++) {
    if (i % 4 == 0) hold_out(&f, ims_dataset_get(ds, i));
    else learn[nlearn++] = i;
  }
  ims_classifier *c = feature_classifier();
  ims_model_fingerprint(ims_classifier_model(c), f.fingerprint);
  snprintf(f.layer, sizeof f.layer, "%s", ims_classifier_feature_layer(c));
  ims_head_options o = {.model_id = f.fingerprint, .feature_layer = f.layer,
                        .feature_count = 1280};
  ASSERT_OK(ims_head_create(&o, &f.head, &err), &err);
  learn_images(c, f.head, ds, learn, nlearn);
  ASSERT_OK(ims_head_fit(f.head, &err), &err);
  snprintf(f.file, sizeof f.file, "%s", tmp_path("cli_flowers.head"));
  ASSERT_OK(ims_head_save(f.head, f.file, &err), &err);
  predict_held(&f, c);
  ims_classifier_destroy(c);
  ims_dataset_destroy(ds);
  free(learn);
  return &f;
}

/* Check one --head JSON line (check_top), without features. */
static int32_t check_head_line(const head_fixture *f, json_t *o,
                               const char *path, size_t k) {
  ASSERT(json_object_get(o, "features") == NULL);
  return (int32_t)check_top(o, path, k, f->head);
}

/* --json --top 2 --head on the held-out folder: the head's classes, as
 * this process predicts them, mostly the flowers' folder names. */
TEST(cli_head_json) {
  const head_fixture *f = head_fixture_get();
  const run_out *r = RUN("classify", "--json", "--top", "2", "--head",
                         f->file, "--model", model_paths[0], f->root);
  ASSERT_EQ(r->code, 0);
  ASSERT_STR_EQ(r->err, "");
  json_t *lines = json_lines(r->out);
  ASSERT_EQ(json_array_size(lines), f->n);
  size_t right = 0;
  for (size_t i = 0; i < f->n; i++) {
    json_t *o = json_array_get(lines, i);
    int32_t got = check_head_line(f, o, f->held[i], 2);
    ASSERT_EQ(got, f->pred[i]);
    double score = json_number_value(json_object_get(
        json_array_get(json_object_get(o, "top"), 0), "score"));
    ASSERT(fabs(score - f->score[i]) <= 0.0001);
    right += strcmp(ims_head_class_label(f->head, (size_t)got),
                    parent_name(f->held[i])) == 0;
  }
  fprintf(stderr, "held-out flowers: %zu/%zu right\n", right, f->n);
  ASSERT(right * 4 >= f->n * 3);
  /* --top over the head's class count is cut to it */
  r = RUN("classify", "--json", "--top", "9", "--head", f->file, "--model",
          model_paths[0], f->held[0]);
  ASSERT_EQ(r->code, 0);
  check_head_line(f, json_array_get(json_lines(r->out), 0), f->held[0], 5);
}

/* The plain table: the head's label in the class and description
 * columns; --features still prints the features. */
TEST(cli_head_plain) {
  const head_fixture *f = head_fixture_get();
  const run_out *r = RUN("classify", "--head", f->file, "--model",
                         model_paths[0], f->held[0], f->held[1]);
  ASSERT_EQ(r->code, 0);
  int w = (int)strlen(f->held[0]);
  if ((int)strlen(f->held[1]) > w) w = (int)strlen(f->held[1]);
  for (size_t i = 0; i < 2; i++) {
    const char *label = ims_head_class_label(f->head, (size_t)f->pred[i]);
    ASSERT_CONTAINS(r->out, test_strf("%-*s  %5d  %-9s  %6.4f  %s\n", w,
                                      f->held[i], (int)f->pred[i], label,
                                      (double)f->score[i], label));
  }
  r = RUN("classify", "--json", "--features", "--head", f->file,
          "--model", model_paths[0], f->held[0]);
  ASSERT_EQ(r->code, 0);
  json_t *o = json_array_get(json_lines(r->out), 0);
  ASSERT_EQ(json_array_size(json_object_get(o, "features")), 1280);
}

/* --accuracy with --head: the matrix is over the head's classes, even
 * for a folder of two of them; the plain table agrees with the JSON. */
TEST(cli_head_accuracy) {
  const head_fixture *f = head_fixture_get();
  char two[4096];
  fresh_dir("cli_head_two", two);
  size_t n = 0;
  for (size_t i = 0; i < f->n; i++) {
    const char *cls = parent_name(f->held[i]);
    if (strcmp(cls, "daisy") != 0 && strcmp(cls, "rose") != 0) continue;
    mkdir(test_strf("%s/%s", two, cls), 0755);
    char real[4096];
    ASSERT(realpath(f->held[i], real) != NULL);
    ASSERT_EQ(symlink(real, test_strf("%s/%s/%zu.jpg", two, cls, i)), 0);
    n++;
  }
  const run_out *r = RUN("classify", "--json", "--accuracy", "--head",
                         f->file, "--model", model_paths[0], two);
  ASSERT_EQ(r->code, 0);
  json_t *lines = json_lines(r->out);
  size_t correct = check_accuracy(lines, n);
  json_t *acc = json_object_get(json_array_get(lines, n), "accuracy");
  ASSERT_EQ(json_array_size(json_object_get(acc, "labels")), 5);
  ASSERT(correct * 4 >= n * 3);
  r = RUN("classify", "--json", "--accuracy", "--head", f->file, "--model",
          model_paths[0], f->root);
  ASSERT_EQ(r->code, 0);
  correct = check_accuracy(json_lines(r->out), f->n);
  r = RUN("classify", "--accuracy", "--head", f->file, "--model",
          model_paths[0], f->root);
  ASSERT_EQ(r->code, 0);
  ASSERT_CONTAINS(r->out, test_strf("\ntop-1 accuracy: %zu/%zu = ", correct,
                                    f->n));
  ASSERT_CONTAINS(r->out, "the head's classes");
  tool_rm_rf(two);
}

/* Exit 3, nothing on stdout, and stderr names the head file and why. */
static void head_refused(const run_out *r, const char *file,
                         const char *why) {
  ASSERT_EQ(r->code, 3);
  ASSERT_STR_EQ(r->out, "");
  ASSERT_CONTAINS(r->err, test_strf("cannot load learned head %s: ", file));
  ASSERT_CONTAINS(r->err, why);
}

/* Write f's head file, changed by `how` (0 truncated, 1 a byte flipped),
 * to tmp_path(name); returns its path. */
static const char *damaged_head(const head_fixture *f, const char *name,
                                int how) {
  size_t n = 0;
  unsigned char *bytes = test_read_file(f->file, &n);
  ASSERT(bytes != NULL && n > 100);
  if (how == 0) n /= 2;
  else bytes[n / 3] ^= 0x10;
  const char *path = tmp_path(name);
  ASSERT_EQ(test_write_file(path, bytes, n), 0);
  free(bytes);
  return path;
}

/* A head made like f's, but for model_id (2 samples of 2 classes), or
 * with no class when model_id is f's. */
static const char *other_head(const head_fixture *f, const char *model_id,
                              const char *name) {
  ims_head_options o = {.model_id = model_id, .feature_layer = f->layer,
                        .feature_count = 1280};
  ims_head *h = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_head_create(&o, &h, &err), &err);
  static float x[2][1280];
  for (size_t i = 0; i < 1280; i++) x[i % 2][i] = 1.0f;
  const float *rows[2] = {x[0], x[1]};
  const char *labels[2] = {"one", "two"};
  ims_head_result res[2];
  if (strcmp(model_id, f->fingerprint) != 0)
    ASSERT_OK(ims_head_step(h, 2, rows, labels, res, &err), &err);
  const char *path = tmp_path(name);
  ASSERT_OK(ims_head_save(h, path, &err), &err);
  ims_head_destroy(h);
  return path;
}

TEST(cli_head_bad_file) {
  const head_fixture *f = head_fixture_get();
  char path[4096];
  snprintf(path, sizeof path, "%s",
           damaged_head(f, "cli_head_truncated.head", 0));
  head_refused(RUN("classify", "--head", path, "--model", model_paths[0],
                   f->held[0]),
               path, "not a valid learned head");
  snprintf(path, sizeof path, "%s",
           damaged_head(f, "cli_head_flipped.head", 1));
  head_refused(RUN("classify", "--json", "--head", path, "--model",
                   model_paths[0], f->held[0]),
               path, "checksum");
  snprintf(path, sizeof path, "%s", tmp_path("cli_head_missing.head"));
  unlink(path);
  head_refused(RUN("classify", "--head", path, "--model", model_paths[0],
                   f->held[0]),
               path, "No such file");
  head_refused(RUN("classify", "--head", f->root, "--model", model_paths[0],
                   f->held[0]),
               f->root, "directory");
  snprintf(path, sizeof path, "%s",
           other_head(f, f->fingerprint, "cli_head_empty.head"));
  head_refused(RUN("classify", "--head", path, "--model", model_paths[0],
                   f->held[0]),
               path, "learned no class");
}

/* A head of another model: made with the tf2 model's fingerprint, or
 * f's head used with the tf2 model. */
TEST(cli_head_other_model) {
  const head_fixture *f = head_fixture_get();
  ims_model *m = NULL;
  ims_error err = {0};
  ASSERT_OK(ims_model_load_file(model_paths[1], &m, &err), &err);
  char tf2[IMS_MODEL_FINGERPRINT_SIZE];
  ims_model_fingerprint(m, tf2);
  ims_model_destroy(m);
  ASSERT(strcmp(tf2, f->fingerprint) != 0);
  char path[4096];
  snprintf(path, sizeof path, "%s", other_head(f, tf2, "cli_head_tf2.head"));
  const run_out *r = RUN("classify", "--head", path, "--model",
                         model_paths[0], f->held[0]);
  head_refused(r, path, test_strf("made with model %s", tf2));
  ASSERT_CONTAINS(r->err, test_strf("this is %s", f->fingerprint));
  r = RUN("classify", "--head", f->file, "--model", model_paths[1],
          f->held[0]);
  head_refused(r, f->file, f->fingerprint);
  ASSERT_CONTAINS(r->err, tf2);
}

/* --max-classes and --feature-layer with --head; usage errors. */
TEST(cli_head_options) {
  const head_fixture *f = head_fixture_get();
  head_refused(RUN("classify", "--max-classes", "4", "--head", f->file,
                   "--model", model_paths[0], f->held[0]),
               f->file, "5 classes, more than the limit 4");
  ASSERT_EQ(RUN("classify", "--max-classes", "5", "--head", f->file,
                "--model", model_paths[0], f->held[0])->code, 0);
  ASSERT_EQ(RUN("classify", "--feature-layer", f->layer, "--head", f->file,
                "--model", model_paths[0], f->held[0])->code, 0);
  /* the 7x7x1280 tensor before the pooling: a layer, but not the head's */
  const char *conv = "MobilenetV2/Conv_1/Relu6;MobilenetV2/Conv_1/add_fold;"
                     "MobilenetV2/Conv_1/Conv2D_Fold;"
                     "MobilenetV2/Conv_1/BatchNorm_Fold/bias";
  const run_out *r = RUN("classify", "--feature-layer", conv, "--head",
                         f->file, "--model", model_paths[0], f->held[0]);
  head_refused(r, f->file, test_strf("feature layer \"%s\"", f->layer));
  ASSERT_CONTAINS(r->err, conv);
  r = RUN("classify", "--feature-layer", "no/such_layer", "--head", f->file,
          "--model", model_paths[0], f->held[0]);
  ASSERT_EQ(r->code, 3);
  ASSERT_CONTAINS(r->err, "no/such_layer");
  r = RUN("classify", "--max-classes", "5", f->held[0]);
  ASSERT_EQ(r->code, 2);
  ASSERT_CONTAINS(r->err, "--max-classes needs --head");
  r = RUN("classify", "--feature-layer", f->layer, f->held[0]);
  ASSERT_EQ(r->code, 2);
  ASSERT_CONTAINS(r->err, "--feature-layer needs --features or --head");
  r = RUN("classify", "--max-classes", "0", "--head", f->file, f->held[0]);
  ASSERT_EQ(r->code, 2);
  ASSERT_CONTAINS(r->err, "--max-classes");
  r = RUN("classify", "--help");
  ASSERT_CONTAINS(r->out, "--head FILE");
  ASSERT_CONTAINS(r->out, "--feature-layer NAME");
  ASSERT_CONTAINS(r->out, "--max-classes N");
  ASSERT_CONTAINS(r->out, "3 model, labels or head unusable");
}

TEST_MAIN(cli_help, cli_version, cli_usage_errors, cli_missing_model,
          cli_stdout_full, cli_labels_wrong_count, cli_reference_quant,
          cli_reference_tf2_ptq, cli_json_format, cli_json_features,
          cli_top5_sorted,
          cli_plain_table, cli_batch_matches_single,
          cli_default_model_from_env, cli_bad_image_json,
          cli_bad_image_plain, cli_folder_matches_files, cli_folder_walk,
          cli_accuracy_flowers, cli_folder_reference,
          cli_folder_empty_and_loops, cli_head_json, cli_head_plain,
          cli_head_accuracy, cli_head_bad_file, cli_head_other_model,
          cli_head_options)
