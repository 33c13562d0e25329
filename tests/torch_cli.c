/* SPDX-License-Identifier: Apache-2.0 */
/*
 * torch_cli.c - the imgstream tool with float ONNX models exported from
 * PyTorch (tests/torch_reference.py made them and PyTorch's logits):
 *
 *   torch_cli_classify   `imgstream classify --json --top 5` with the
 *                        .onnx model on the 20 photos: PyTorch's top-5
 *                        (where clear by > 1e-4) and its softmax scores
 *   torch_cli_overrides  --resize 240 --mean 0.5,0.4,0.3 --std
 *                        0.25,0.2,0.3 reproduce PyTorch with
 *                        torchvision's Resize(240) and those Normalize
 *                        values (and differ from the defaults)
 *   torch_cli_stream     `imgstream stream` over a bucket of the photos
 *                        with the .onnx model, default and overridden
 *                        preprocessing: the same top-1 as classify
 *   torch_cli_usage      wrong overrides: --mean without --std, bad
 *                        numbers, --resize below --crop, a --crop that
 *                        is not the model's input: exit 2 and a message
 *
 * Sections: 1. processes and files  2. reference  3. cases
 *
 * Threading: single-threaded; the tool runs as a child process.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <sys/wait.h>
#include <unistd.h>

#include "imgstream/imgstream.h"
#include "test.h"
#include "support/tool.h"

#define NIMG 20
#define NCLASS 1000

/* ---- 1. processes and files ---- */

static char dir[4096];         /* $IMGSTREAM_TORCH_DIR */
static char paths[NIMG][4096]; /* the photos, images.txt order */
static char labels[4096];      /* shared ImageNet labels */

/* Everything the cases need, or skip. */
static void need_all(void) {
  const char *d = getenv("IMGSTREAM_TORCH_DIR");
  const char *bin = getenv("IMGSTREAM_BIN");
  if (d == NULL || bin == NULL || access(bin, X_OK) != 0)
    RETURN_SKIP("IMGSTREAM_TORCH_DIR or IMGSTREAM_BIN unset");
  snprintf(dir, sizeof dir, "%s/SKIPPED", d);
  if (access(dir, F_OK) == 0) RETURN_SKIP("no PyTorch (see SKIPPED)");
  snprintf(dir, sizeof dir, "%s", d);
  snprintf(labels, sizeof labels, "%s",
           shared_path("models/imagenet_class_index.json"));
  char list[4200];
  snprintf(list, sizeof list, "%s/images.txt", dir);
  FILE *f = fopen(list, "r");
  if (f == NULL) TEST__FAIL("cannot read %s (did torch_export run?)", list);
  int n = 0;
  while (n < NIMG && fgets(paths[n], sizeof paths[n], f) != NULL) {
    paths[n][strcspn(paths[n], "\n")] = '\0';
    n++;
  }
  fclose(f);
  ASSERT_EQ(n, NIMG);
}

/* Run the tool (args NULL-terminated); stdout and stderr go to
 * tmp/<name>.out and .err. Returns the exit code (128 + signal). */
static int run(const char *name, const char *const *args) {
  char out[4200], err[4200];
  snprintf(out, sizeof out, "%s.out", tmp_path(name));
  snprintf(err, sizeof err, "%s.err", tmp_path(name));
  fflush(NULL);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) tool_exec(args, out, false, err, false);
  int st = 0;
  ASSERT(waitpid(pid, &st, 0) == pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* tmp/<name>.<ext> as a string (caller frees). */
static char *output(const char *name, const char *ext) {
  char p[4200];
  snprintf(p, sizeof p, "%s.%s", tmp_path(name), ext);
  return test_read_text(p);
}

static const char *model(const char *file) {
  static char buf[4200];
  snprintf(buf, sizeof buf, "%s/%s", dir, file);
  return buf;
}

/* ---- 2. reference ---- */

/* PyTorch's logits (NIMG x NCLASS) from dir/<file>; caller frees. */
static float *logits(const char *file) {
  char p[4200];
  size_t n = 0;
  snprintf(p, sizeof p, "%s/%s", dir, file);
  float *v = (float *)(void *)test_read_file(p, &n);
  if (v == NULL || n != sizeof(float) * NIMG * NCLASS)
    TEST__FAIL("%s: missing or not %d x %d floats", p, NIMG, NCLASS);
  return v;
}

/* Rank of class `idx` among v (0 = largest) and the softmax of v at idx. */
static int rank_of(const float *v, int idx, double *prob) {
  double mx = v[0], sum = 0;
  int rank = 0;
  for (int i = 0; i < NCLASS; i++) mx = v[i] > mx ? v[i] : mx;
  for (int i = 0; i < NCLASS; i++) {
    sum += exp((double)v[i] - mx);
    rank += v[i] > v[idx];
  }
  *prob = exp((double)v[idx] - mx) / sum;
  return rank;
}

/* Is v[idx] at least 1e-4 away from every other logit? */
static int clear(const float *v, int idx) {
  for (int i = 0; i < NCLASS; i++)
    if (i != idx && fabs((double)v[i] - v[idx]) <= 1e-4) return 0;
  return 1;
}

/* Check one `classify --json --top 5` line against PyTorch's logits `v`:
 * the k-th prediction is PyTorch's k-th class (where that rank is clear)
 * with the softmax probability (the JSON keeps 4 decimals). */
static void check_line(const char *line, const float *v) {
  json_t *o = json_loads(line, 0, NULL);
  if (o == NULL) TEST__FAIL("not JSON: %s", line);
  json_t *top = json_object_get(o, "top");
  ASSERT_EQ(json_array_size(top), 5);
  for (int k = 0; k < 5; k++) {
    json_t *p = json_array_get(top, (size_t)k);
    int idx = (int)json_integer_value(json_object_get(p, "index"));
    double score = json_real_value(json_object_get(p, "score")), prob = 0;
    ASSERT(idx >= 0 && idx < NCLASS);
    int rank = rank_of(v, idx, &prob);
    if (rank != k && clear(v, idx))
      TEST__FAIL("%s: prediction %d is class %d, PyTorch ranks it %d", line,
                 k + 1, idx, rank + 1);
    if (!(fabs(score - prob) <= 0.5e-4 + 1e-6))
      TEST__FAIL("%s: class %d scores %.4f, PyTorch's softmax %.6f", line, idx,
                 score, prob);
  }
  json_decref(o);
}

/* classify --json --top 5 with `extra` options (NULL-terminated, may be
 * empty) on the photos; checks every line against `v`. Returns the
 * output (caller frees). */
static char *classify(const char *name, const char *const *extra,
                      const float *v) {
  const char *args[80];
  int n = 0;
  const char *head[] = {
      "classify",  "--json", "--top",   "5",
      "--threads", "2",      "--model", model("mobilenet_v2.onnx"),
      "--labels",  labels};
  for (size_t i = 0; i < sizeof head / sizeof *head; i++) args[n++] = head[i];
  for (int i = 0; extra[i] != NULL; i++) args[n++] = extra[i];
  for (int i = 0; i < NIMG; i++) args[n++] = paths[i];
  args[n] = NULL;
  ASSERT_EQ(run(name, args), 0);
  char *out = output(name, "out"), *save = NULL, *copy = strdup(out);
  int lines = 0;
  for (char *l = strtok_r(copy, "\n", &save); l != NULL;
       l = strtok_r(NULL, "\n", &save), lines++) {
    ASSERT(lines < NIMG);
    ASSERT_CONTAINS(l, paths[lines]);
    check_line(l, v + (size_t)lines * NCLASS);
  }
  free(copy);
  ASSERT_EQ(lines, NIMG);
  return out;
}

/* ---- 3. cases ---- */

static const char *const custom[] = {
    "--resize", "240", "--mean", "0.5,0.4,0.3", "--std", "0.25,0.2,0.3", NULL};

TEST(torch_cli_classify) {
  need_all();
  float *v = logits("mobilenet_v2.logits");
  const char *none[] = {NULL};
  free(classify("torch_classify", none, v));
  free(v);
}

TEST(torch_cli_overrides) {
  need_all();
  float *v = logits("mobilenet_v2.custom.logits");
  float *d = logits("mobilenet_v2.logits");
  free(classify("torch_overrides", custom, v));
  /* The two references differ enough that the overrides are seen. */
  double diff = 0;
  for (size_t i = 0; i < (size_t)NIMG * NCLASS; i++)
    diff = fmax(diff, fabs((double)v[i] - d[i]));
  ASSERT(diff > 0.05);
  free(d);
  free(v);
}

/* A fresh dir:// bucket holding the photos (keys: class/file). */
static void make_bucket(const char *bdir, char *url, size_t url_size) {
  char cmd[8400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", bdir);
  ASSERT(system(cmd) == 0);
  snprintf(url, url_size, "dir://%s", bdir);
  ims_error err = {0};
  ims_bucket *b = NULL;
  ASSERT_OK(ims_bucket_open(url, IMS_BUCKET_CREATE, &b, &err), &err);
  for (int i = 0; i < NIMG; i++) {
    size_t size = 0;
    unsigned char *data = test_read_file(paths[i], &size);
    ASSERT(data != NULL);
    const char *slash = strrchr(paths[i], '/');
    const char *cls = slash - 1;
    while (cls > paths[i] && cls[-1] != '/') cls--;
    ASSERT_OK(ims_bucket_put(b, cls, data, size, &err), &err);
    free(data);
  }
  ims_bucket_close(b);
}

/* {file name: top-1 class} from classify output or a JSONL sink. */
static json_t *top1(const char *text, int sink) {
  json_t *by = json_object();
  char *copy = strdup(text), *save = NULL;
  for (char *l = strtok_r(copy, "\n", &save); l != NULL;
       l = strtok_r(NULL, "\n", &save)) {
    json_t *o = json_loads(l, 0, NULL);
    ASSERT(o != NULL);
    const char *p = json_string_value(json_object_get(o, "path"));
    json_t *c = sink ? json_object_get(o, "prediction")
                     : json_array_get(json_object_get(o, "top"), 0);
    ASSERT(p != NULL && c != NULL);
    json_object_set(by, strrchr(p, '/') + 1, json_object_get(c, "class"));
    json_decref(o);
  }
  free(copy);
  return by;
}

/* stream over the bucket with `extra` options: same top-1 as `want`. */
static void stream_matches(const char *name, const char *const *extra,
                           const char *classify_out) {
  char bdir[4200], url[4300], out[4300], sink[4400];
  snprintf(bdir, sizeof bdir, "%s_bucket", tmp_path(name));
  make_bucket(bdir, url, sizeof url);
  snprintf(out, sizeof out, "%s.jsonl", tmp_path(name));
  unlink(out);
  snprintf(sink, sizeof sink, "jsonl:%s", out);
  const char *args[40] = {"stream",
                          "--source",
                          url,
                          "--model",
                          model("mobilenet_v2.onnx"),
                          "--labels",
                          labels,
                          "--sink",
                          sink,
                          "--max-files-per-trigger",
                          "8",
                          "--threads",
                          "2",
                          "--until-idle",
                          "500"};
  int n = 15;
  for (int i = 0; extra[i] != NULL; i++) args[n++] = extra[i];
  args[n] = NULL;
  ASSERT_EQ(run(name, args), 0);
  char *rows = test_read_text(out);
  json_t *got = top1(rows, 1), *want = top1(classify_out, 0);
  ASSERT_EQ(json_object_size(got), NIMG);
  const char *key;
  json_t *c;
  json_object_foreach(want, key, c) {
    const char *g = json_string_value(json_object_get(got, key));
    if (g == NULL || strcmp(g, json_string_value(c)) != 0)
      TEST__FAIL("%s: stream says %s, classify says %s", key, g ? g : "(none)",
                 json_string_value(c));
  }
  json_decref(got);
  json_decref(want);
  free(rows);
}

TEST(torch_cli_stream) {
  need_all();
  const char *none[] = {NULL};
  float *v = logits("mobilenet_v2.logits");
  char *plain = classify("torch_stream_classify", none, v);
  stream_matches("torch_stream_default", none, plain);
  free(plain);
  free(v);
  v = logits("mobilenet_v2.custom.logits");
  char *over = classify("torch_stream_classify2", custom, v);
  stream_matches("torch_stream_custom", custom, over);
  free(over);
  free(v);
}

/* `cmd` with model options `opts` exits 2 and says `want` on stderr. */
static void usage_error(const char *cmd, const char *const *opts,
                        const char *want) {
  const char *args[40];
  int n = 0;
  args[n++] = cmd;
  if (strcmp(cmd, "stream") == 0) {
    args[n++] = "--source";
    args[n++] = "dir:///nonexistent-torch-cli";
    args[n++] = "--until-idle";
    args[n++] = "100";
  }
  args[n++] = "--model";
  args[n++] = model("mobilenet_v2.onnx");
  args[n++] = "--labels";
  args[n++] = labels;
  for (int i = 0; opts[i] != NULL; i++) args[n++] = opts[i];
  if (strcmp(cmd, "classify") == 0) args[n++] = paths[0];
  args[n] = NULL;
  ASSERT_EQ(run("torch_usage", args), 2);
  char *err = output("torch_usage", "err");
  ASSERT_CONTAINS(err, want);
  free(err);
}

TEST(torch_cli_usage) {
  need_all();
  static const char *const cmds[] = {"classify", "stream"};
  for (int i = 0; i < 2; i++) {
    const char *mean_only[] = {"--mean", "0.5,0.5,0.5", NULL};
    usage_error(cmds[i], mean_only, "--mean needs --std too");
    const char *bad_std[] = {"--std", "0.2,0,0.2", NULL};
    usage_error(cmds[i], bad_std, "--std wants three numbers R,G,B above 0");
    const char *short_mean[] = {"--mean", "0.5,0.5", "--std", "1,1,1", NULL};
    usage_error(cmds[i], short_mean, "--mean wants three numbers R,G,B");
    const char *small[] = {"--resize", "200", "--crop", "224", NULL};
    usage_error(cmds[i], small, "--resize 200 is smaller than --crop 224");
    const char *zero[] = {"--crop", "0", NULL};
    usage_error(cmds[i], zero, "--crop wants a number from 1 to 8192");
  }
  /* A crop that is not the model's input: the library's message, from
   * classify and from stream (on a real bucket: its source opens first). */
  const char *crop[] = {"--crop", "192", NULL};
  usage_error("classify", crop, "the model takes 224x224 images");
  char bdir[4200], url[4300];
  snprintf(bdir, sizeof bdir, "%s", tmp_path("torch_usage_bucket"));
  make_bucket(bdir, url, sizeof url);
  const char *args[] = {"stream",
                        "--source",
                        url,
                        "--until-idle",
                        "100",
                        "--model",
                        model("mobilenet_v2.onnx"),
                        "--labels",
                        labels,
                        "--crop",
                        "192",
                        NULL};
  ASSERT_EQ(run("torch_usage_stream", args), 2);
  char *err = output("torch_usage_stream", "err");
  ASSERT_CONTAINS(err, "imgstream stream: ");
  ASSERT_CONTAINS(err, "the model takes 224x224 images");
  free(err);
}

TEST_MAIN(torch_cli_classify, torch_cli_overrides, torch_cli_stream,
          torch_cli_usage)
