/* SPDX-License-Identifier: Apache-2.0 */
/*
 * head.c - the learned head's arithmetic: streaming linear discriminant
 * analysis (SLDA) with a shrunk covariance, on transformed features.
 *
 * Per sample x (d floats from the engine):
 *   f = signed sqrt of x, scaled to unit length (power normalisation: the
 *       pooled activations are heavy-tailed; measured in LEARNING.md)
 *   z = L^-1 f, f whitened by the Cholesky factor L of the last refit's
 *       covariance (Sigma = L L^T, so P = Sigma^-1 = L^-T L^-1): one
 *       triangular solve
 *   predict: score_c = z.V_c / n_c - 0.5 V_c.V_c / n_c^2, the LDA
 *       discriminant mu_c^T P f - 0.5 mu_c^T P mu_c with mu_c = S_c / n_c
 *       and V_c = L^-1 S_c; probabilities = softmax(score), the posterior
 *       under equal priors
 *   learn (label c): S_c += f, V_c += z, n_c += 1, f joins `pending`;
 *       every IMS__HEAD_FOLD samples Q += pending^T pending (one dsyrk)
 *   refit (when N reaches next_refit): Sigma = (Q - sum_c S_c S_c^T / n_c)
 *       / N, the within-class covariance; shrunk towards mu I by the
 *       Oracle Approximating Shrinkage coefficient (Chen et al. 2010,
 *       computed from trace(Sigma) and trace(Sigma^2) only, so it needs
 *       nothing but the sums); L = its Cholesky factor (spotrf2);
 *       V_c = L^-1 S_c afresh.
 *
 * Why these choices: the state is sums, so two heads merge by adding and
 * a replay gives the same bits; the refit schedule is a function of N
 * alone (next = N + max(refit_min, N * growth%)), so where batches begin
 * and end never changes a result; and a refit costs a d^3 / 3
 * factorisation (at d = 1280 about 8 ms of a 12 ms refit on one core of
 * a Sapphire Rapids), too much per sample, while its accuracy changes
 * slowly once a few hundred samples are in. The factor, not the inverse
 * P: the inverse cost twice the factorisation again (spotri) and a d^2
 * symmetrisation, and P f reads all d^2 floats where a solve with L
 * reads half (docs/LEARNING.md has the before/after figures).
 *
 * Before the first refit L = I / sqrt(kappa), i.e. P = kappa I (nearest
 * class mean). Sums are doubles (N can reach millions); L is float (it is
 * refitted, never accumulated) so the per-sample solve reads 3.3 MB, not
 * 6.5.
 *
 * Row-major and column-major: L is kept column-major, lower triangle
 * (what LAPACK and CBLAS are called with); the same bytes are the upper
 * triangle of L^T by rows, which is how head_file.c writes it.
 *
 * Threading: one thread at a time per head. OpenBLAS may use its own
 * threads inside one call; the results do not depend on how many: the
 * per-sample solve (strsv) runs on the calling thread, dsyrk and dgemm
 * split their output, never a sum, between threads, and the
 * factorisation is LAPACK's recursive spotrf2 (strsm and ssyrk
 * underneath, split the same way), not OpenBLAS's own spotrf, whose
 * threaded and single-threaded paths block the matrix differently and
 * round differently (measured: other bits on 1 thread than on 2; so do
 * spotri and ssymv). The bits do depend on the CPU: OpenBLAS picks its
 * kernels by instruction set.
 */
#define _GNU_SOURCE
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "learn/learn_int.h"

/* ---- 1. create / destroy ---- */

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

ims_status ims__head_alloc(ims_head *h, ims_error *err) {
  size_t d = h->d;
  h->q = calloc(d * d, sizeof *h->q);
  h->pending = calloc((size_t)IMS__HEAD_FOLD * d, sizeof *h->pending);
  h->factor = calloc(d * d, sizeof *h->factor);
  h->f = calloc(d, sizeof *h->f);
  h->z = calloc(d, sizeof *h->z);
  h->fold = calloc((size_t)IMS__HEAD_FOLD * d, sizeof *h->fold);
  if (!h->q || !h->pending || !h->factor || !h->f || !h->z || !h->fold)
    return ims__fail(err, IMS_ERR_NO_MEMORY,
                     "learned head: out of memory for %u features", h->d);
  return IMS_OK;
}

ims_status ims_head_create(const ims_head_options *o, ims_head **out,
                           ims_error *err) {
  if (o == NULL || out == NULL || o->model_id == NULL ||
      o->model_id[0] == '\0')
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "learned head: no model identity given");
  if (o->feature_count == 0 || o->feature_count > IMS__HEAD_MAX_FEATURES)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "learned head: %u features (1..%u)", o->feature_count,
                     IMS__HEAD_MAX_FEATURES);
  /* What the file cannot hold is refused now, not when it is read back. */
  if (strlen(o->model_id) > IMS__HEAD_STR_MAX)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "learned head: model identity longer than %u bytes",
                     IMS__HEAD_STR_MAX);
  if (o->feature_layer && strlen(o->feature_layer) > IMS__HEAD_STR_MAX)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "learned head: feature layer name longer than %u bytes",
                     IMS__HEAD_STR_MAX);
  if (o->refit_growth_pct > IMS__HEAD_GROWTH_MAX)
    return ims__fail(err, IMS_ERR_INVALID_ARG,
                     "learned head: refit growth %u%% (at most %u)",
                     o->refit_growth_pct, IMS__HEAD_GROWTH_MAX);
  ims_head *h = calloc(1, sizeof *h);
  if (h == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  h->d = o->feature_count;
  h->max_classes =
      o->max_classes ? o->max_classes : IMS_HEAD_MAX_CLASSES_DEFAULT;
  h->flags = o->flags & (IMS_HEAD_FLAG_NCM | IMS_HEAD_FLAG_NO_SQRT);
  h->refit_min = o->refit_min ? o->refit_min : 10;
  h->refit_growth_pct = o->refit_growth_pct ? o->refit_growth_pct : 50;
  h->next_refit = h->refit_min;
  h->model_id = strdup(o->model_id);
  h->feature_layer = dup_or_empty(o->feature_layer);
  ims_status st = ims__head_alloc(h, err);
  if (st == IMS_OK && (!h->model_id || !h->feature_layer))
    st = ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  if (st != IMS_OK) {
    ims_head_destroy(h);
    return st;
  }
  *out = h;
  return IMS_OK;
}

void ims_head_destroy(ims_head *h) {
  if (h == NULL) return;
  for (size_t c = 0; c < h->class_count; c++) {
    free(h->classes[c].label);
    free(h->classes[c].sum);
    free(h->classes[c].vsum);
  }
  free(h->classes);
  free(h->q);
  free(h->pending);
  free(h->factor);
  free(h->f);
  free(h->z);
  free(h->fold);
  free(h->means);
  free(h->next);
  free(h->probs);
  free(h->raw);
  free(h->model_id);
  free(h->feature_layer);
  free(h);
}

int ims__head_reserve_class(ims_head *h) {
  if (h->class_count < h->class_cap) return 0;
  size_t cap = h->class_cap ? h->class_cap * 2 : 8;
  ims__head_class *grown = realloc(h->classes, cap * sizeof *grown);
  if (grown == NULL) return -1;
  h->classes = grown;
  double *raw = realloc(h->raw, cap * sizeof *raw);
  if (raw == NULL) return -1;
  h->raw = raw;
  double *probs = realloc(h->probs, cap * sizeof *probs);
  if (probs == NULL) return -1;
  h->probs = probs;
  h->class_cap = cap;
  return 0;
}

/* ---- 2. the arithmetic ---- */

void ims__head_class_bias(ims_head *h, size_t c) {
  ims__head_class *k = &h->classes[c];
  double s = 0;
  for (size_t i = 0; i < h->d; i++) s += k->vsum[i] * k->vsum[i];
  double n = (double)k->count;
  k->bias = n > 0 ? 0.5 * s / (n * n) : 0;
}

/* f = x with a signed square root (unless NO_SQRT), scaled to unit
 * length. A zero or non-finite vector becomes zeros: scaling a NaN or an
 * infinity by 0 would keep a NaN, which learned would make every sum NaN
 * and the head's file unreadable. */
static void transform(ims_head *h, const float *x) {
  double norm = 0;
  for (uint32_t i = 0; i < h->d; i++) {
    float v = x[i];
    if (!(h->flags & IMS_HEAD_FLAG_NO_SQRT))
      v = v < 0 ? -sqrtf(-v) : sqrtf(v);
    h->f[i] = v;
    norm += (double)v * v;
  }
  if (!(norm > 0 && isfinite(norm))) {
    memset(h->f, 0, h->d * sizeof *h->f);
    return;
  }
  float scale = (float)(1.0 / sqrt(norm));
  for (uint32_t i = 0; i < h->d; i++) h->f[i] *= scale;
}

/* h->z = L^-1 v (v may be h->z itself): forward substitution with the
 * lower factor, column-major (file comment), on the calling thread. */
static void whiten(ims_head *h, const float *v) {
  if (v != h->z) memcpy(h->z, v, h->d * sizeof *h->z);
  if (h->has_factor) {
    cblas_strsv(CblasColMajor, CblasLower, CblasNoTrans, CblasNonUnit,
                (int)h->d, h->factor, (int)h->d, h->z, 1);
  } else {
    float s = (float)sqrt(ims__head_kappa(h));
    for (uint32_t i = 0; i < h->d; i++) h->z[i] *= s;
  }
}

static double dot(const double *a, const float *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* Softmax of the discriminants of h->z into h->probs; returns the best
 * class (-1 with no class). */
static double temperature_k(int k) { return exp2(0.5 * k); }

/* The temperature of the lowest summed log loss (the first, T = 1,
 * while nothing has been scored). */
static double temperature(const ims_head *h) {
  int best = 0;
  for (int k = 1; k < IMS__HEAD_TEMPS; k++)
    if (h->calib[k] < h->calib[best]) best = k;
  return temperature_k(best);
}

/* The discriminants of h->z into h->raw, their softmax at the chosen
 * temperature into h->probs; returns the best class (-1 with no class). */
static int32_t score(ims_head *h) {
  if (h->class_count == 0) return -1;
  int32_t best = 0;
  for (size_t c = 0; c < h->class_count; c++) {
    const ims__head_class *k = &h->classes[c];
    h->raw[c] = dot(k->vsum, h->z, h->d) / (double)k->count - k->bias;
    if (h->raw[c] > h->raw[best]) best = (int32_t)c;
  }
  double top = h->raw[best], total = 0, t = temperature(h);
  for (size_t c = 0; c < h->class_count; c++) {
    h->probs[c] = exp((h->raw[c] - top) / t);
    total += h->probs[c];
  }
  for (size_t c = 0; c < h->class_count; c++) h->probs[c] /= total;
  return best;
}

/* Add the log loss of the sample just scored (h->raw), whose class is c,
 * at each temperature. Only for a class it could have predicted, among
 * two or more (else every temperature gives the same), and only when
 * every loss is a number: discriminants that overflowed (a head whose
 * sums were made huge) must not turn the sums into NaN, which its own
 * file would then refuse. */
static void calibrate(ims_head *h, size_t c) {
  if (h->class_count < 2 || c >= h->class_count) return;
  double top = h->raw[0], loss[IMS__HEAD_TEMPS];
  for (size_t j = 1; j < h->class_count; j++)
    if (h->raw[j] > top) top = h->raw[j];
  for (int k = 0; k < IMS__HEAD_TEMPS; k++) {
    double t = temperature_k(k), total = 0;
    for (size_t j = 0; j < h->class_count; j++)
      total += exp((h->raw[j] - top) / t);
    loss[k] = IMS__HEAD_CALIB_DECAY * h->calib[k] + log(total) -
              (h->raw[c] - top) / t;
    if (!isfinite(loss[k]) || loss[k] < 0) return;
  }
  memcpy(h->calib, loss, sizeof loss);
}

/* Q += pending^T pending. */
static void fold_pending(ims_head *h) {
  size_t n = (size_t)h->pending_count * h->d;
  if (n == 0) return;
  for (size_t i = 0; i < n; i++) h->fold[i] = h->pending[i];
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)h->d,
              (int)h->pending_count, 1.0, h->fold, (int)h->d, 1.0, h->q,
              (int)h->d);
  h->pending_count = 0;
}

/* next (upper triangle by rows) = the within-class covariance Sigma =
 * (Q - sum_c S_c S_c^T / n_c) / N, as floats, a block of IMS__HEAD_FOLD
 * rows at a time: the class terms of a block are one dgemm of the rows
 * a_c = S_c / sqrt(n_c) (`means`) into `fold` (doubles), then Q is
 * added and the rows rounded into next. One pass over Q, no d*d double
 * scratch. Also returns tr(Sigma) and tr(Sigma^2), the latter from the
 * upper triangle (off-diagonal terms twice), for the shrinkage; sums in
 * double of the unrounded values. */
static void within_class_covariance(ims_head *h, double *tr, double *tr2) {
  size_t d = h->d, classes = h->class_count;
  for (size_t c = 0; c < classes; c++) {
    const ims__head_class *k = &h->classes[c];
    double s = 1.0 / sqrt((double)k->count);
    for (size_t i = 0; i < d; i++) h->means[c * d + i] = k->sum[i] * s;
  }
  double inv_n = 1.0 / (double)h->learned, t = 0, t2 = 0;
  for (size_t i0 = 0; i0 < d; i0 += IMS__HEAD_FOLD) {
    size_t rows = d - i0 < IMS__HEAD_FOLD ? d - i0 : IMS__HEAD_FOLD;
    size_t cols = d - i0;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows,
                (int)cols, (int)classes, -1.0, h->means + i0, (int)d,
                h->means + i0, (int)d, 0.0, h->fold, (int)cols);
    for (size_t r = 0; r < rows; r++) {
      size_t i = i0 + r, n = d - i;
      double *v = &h->fold[r * cols + r]; /* (i, i..d-1) */
      const double *q = &h->q[i * d + i];
      float *dst = &h->next[i * d + i];
      for (size_t j = 0; j < n; j++) {
        v[j] += q[j];
        dst[j] = (float)(v[j] * inv_n);
      }
      t += v[0];
      t2 += 2 * cblas_ddot((int)n, v, 1, v, 1) - v[0] * v[0];
    }
  }
  *tr = t * inv_n;
  *tr2 = t2 * inv_n * inv_n;
}

/* Oracle Approximating Shrinkage: the weight rho of mu I in the shrunk
 * covariance (1 - rho) Sigma + rho mu I, from tr(Sigma) and tr(Sigma^2)
 * (scikit-learn's OAS). */
static double oas_shrinkage(const ims_head *h, double tr, double tr2,
                            double *mu_out) {
  double d = h->d, mu = tr / d, alpha = tr2 / (d * d);
  double den = ((double)h->learned + 1.0) * (alpha - mu * mu / d);
  *mu_out = mu;
  double rho = den > 0 ? (alpha + mu * mu) / den : 1.0;
  return rho < 1.0 ? rho : 1.0;
}

/* L = the Cholesky factor of (1 - rho) Sigma + rho mu I, built in `next`
 * (its upper triangle by rows is its lower triangle by columns, what
 * LAPACK reads), then swapped into `factor`. false when there is nothing
 * to fit or the factorisation fails (L and V stay as they were).
 * LAPACKE's _work call: the plain one checks the whole matrix for NaNs
 * first, and a row-major call transposes it in and out (together as long
 * as the factorisation itself, measured). */
static bool factorise_shrunk(ims_head *h) {
  size_t d = h->d;
  double tr, tr2, mu;
  within_class_covariance(h, &tr, &tr2);
  double rho = oas_shrinkage(h, tr, tr2, &mu);
  if (!(mu > 0) || !isfinite(rho)) return false;
  for (size_t i = 0; i < d; i++) {
    float *row = &h->next[i * d];
    for (size_t j = i; j < d; j++) row[j] = (float)((1 - rho) * row[j]);
    row[i] += (float)(rho * mu);
  }
  if (LAPACKE_spotrf2_work(LAPACK_COL_MAJOR, 'L', (int)d, h->next,
                           (int)d) != 0)
    return false;
  float *t = h->factor;
  h->factor = h->next;
  h->next = t;
  h->has_factor = true;
  return true;
}

/* V_c = L^-1 S_c for every class, then the biases. */
static void refresh_vsums(ims_head *h) {
  for (size_t c = 0; c < h->class_count; c++) {
    ims__head_class *k = &h->classes[c];
    for (uint32_t i = 0; i < h->d; i++) h->z[i] = (float)k->sum[i];
    whiten(h, h->z);
    for (uint32_t i = 0; i < h->d; i++) k->vsum[i] = h->z[i];
    ims__head_class_bias(h, c);
  }
}

static void schedule_next_refit(ims_head *h) {
  uint64_t grow = (h->learned * h->refit_growth_pct + 99) / 100;
  h->next_refit = h->learned + (grow > h->refit_min ? grow : h->refit_min);
}

/* The refit's scratch, allocated before the first refit (a head used to
 * predict never needs it) and before anything of the sample that causes
 * it is learned: a refit skipped for want of memory would give other
 * bits than a replay of the same samples. Room for one class more than
 * now: the sample may bring a new one. 0 or -1. */
static int refit_scratch(ims_head *h) {
  if (h->flags & IMS_HEAD_FLAG_NCM) return 0;
  size_t d = h->d, want = h->class_count + 1;
  if (h->next == NULL) h->next = malloc(d * d * sizeof *h->next);
  if (h->means_cap < want) {
    double *m = realloc(h->means, want * d * sizeof *m);
    if (m == NULL) return -1;
    h->means = m;
    h->means_cap = want;
  }
  return h->next != NULL ? 0 : -1;
}

/* Fold, fit and factorise the covariance (refit_scratch has succeeded). */
static void refit(ims_head *h) {
  fold_pending(h);
  schedule_next_refit(h);
  if (h->flags & IMS_HEAD_FLAG_NCM) return;
  if (h->learned <= h->class_count) return; /* no within-class spread */
  if (!factorise_shrunk(h)) return;
  refresh_vsums(h);
  h->refits++;
}

/* ---- 3. learning and prediction ---- */

static bool label_ok(const char *label) {
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)label; *p; p++, n++)
    if (*p < 0x20 || *p == 0x7f) return false;
  return n <= IMS_HEAD_LABEL_MAX;
}

static long find_class(const ims_head *h, const char *label) {
  for (size_t c = 0; c < h->class_count; c++)
    if (strcmp(h->classes[c].label, label) == 0) return (long)c;
  return -1;
}

/* Index of the class `label`, added if new: -1 out of memory, -2 over
 * max_classes. */
static long class_for(ims_head *h, const char *label) {
  long c = find_class(h, label);
  if (c >= 0) return c;
  if (h->class_count >= h->max_classes) return -2;
  if (ims__head_reserve_class(h) != 0) return -1;
  ims__head_class *k = &h->classes[h->class_count];
  memset(k, 0, sizeof *k);
  k->label = strdup(label);
  k->sum = calloc(h->d, sizeof *k->sum);
  k->vsum = calloc(h->d, sizeof *k->vsum);
  if (!k->label || !k->sum || !k->vsum) {
    free(k->label);
    free(k->sum);
    free(k->vsum);
    return -1;
  }
  return (long)h->class_count++;
}

ims_status ims__head_check_label(const ims_head *h, const char *label) {
  if (!label_ok(label)) return IMS_ERR_INVALID_ARG;
  if (find_class(h, label) < 0 && h->class_count >= h->max_classes)
    return IMS_ERR_TOO_LARGE;
  return IMS_OK;
}

/* Learn h->f (whitened: h->z) as class c. */
static void learn(ims_head *h, size_t c) {
  ims__head_class *k = &h->classes[c];
  for (uint32_t i = 0; i < h->d; i++) {
    k->sum[i] += h->f[i];
    k->vsum[i] += h->z[i];
  }
  k->count++;
  ims__head_class_bias(h, c);
  memcpy(&h->pending[(size_t)h->pending_count * h->d], h->f,
         h->d * sizeof *h->f);
  h->learned++;
  if (++h->pending_count == IMS__HEAD_FOLD) fold_pending(h);
  if (h->learned >= h->next_refit) refit(h);
}

static void predict_one(ims_head *h, ims_head_result *r) {
  int32_t best = score(h);
  r->status = IMS_OK;
  r->index = best;
  r->score = best >= 0 ? (float)h->probs[best] : 0.0f;
  r->label = best >= 0 ? h->classes[best].label : NULL;
}

ims_status ims_head_step(ims_head *h, size_t n, const float *const *features,
                         const char *const *labels, ims_head_result *results,
                         ims_error *err) {
  for (size_t i = 0; i < n; i++) {
    transform(h, features[i]);
    whiten(h, h->f);
    predict_one(h, &results[i]);
    const char *label = labels ? labels[i] : NULL;
    if (label == NULL || label[0] == '\0') continue;
    if (!label_ok(label)) {
      results[i].status = IMS_ERR_INVALID_ARG;
      continue;
    }
    if (h->learned + 1 >= h->next_refit && refit_scratch(h) != 0)
      return ims__fail(err, IMS_ERR_NO_MEMORY,
                       "learned head: out of memory for its covariance "
                       "(%u features)",
                       h->d);
    size_t known = h->class_count;
    long c = class_for(h, label);
    if (c == -1)
      return ims__fail(err, IMS_ERR_NO_MEMORY,
                       "learned head: out of memory for class \"%s\"", label);
    if (c == -2) {
      results[i].status = IMS_ERR_TOO_LARGE;
      continue;
    }
    if ((size_t)c < known) calibrate(h, (size_t)c); /* h->raw: this one's */
    learn(h, (size_t)c);
    /* The result's label pointer stays valid: class labels are never
     * freed or moved before the head is destroyed. */
  }
  return IMS_OK;
}

ims_status ims_head_fit(ims_head *h, ims_error *err) {
  if (refit_scratch(h) != 0)
    return ims__fail(err, IMS_ERR_NO_MEMORY,
                     "learned head: out of memory for its covariance "
                     "(%u features)",
                     h->d);
  refit(h);
  return IMS_OK;
}

void ims_head_predict(ims_head *h, const float *features, float *probs) {
  transform(h, features);
  whiten(h, h->f);
  if (score(h) < 0) return;
  for (size_t c = 0; c < h->class_count; c++) probs[c] = (float)h->probs[c];
}

void ims__head_swap(ims_head *a, ims_head *b) {
  ims_head t = *a;
  *a = *b;
  *b = t;
  uint32_t m = a->max_classes;
  a->max_classes = b->max_classes;
  b->max_classes = m;
}

/* ---- 4. accessors ---- */

size_t ims_head_class_count(const ims_head *h) { return h->class_count; }
const char *ims_head_class_label(const ims_head *h, size_t i) {
  return i < h->class_count ? h->classes[i].label : NULL;
}
uint64_t ims_head_class_seen(const ims_head *h, size_t i) {
  return i < h->class_count ? h->classes[i].count : 0;
}
uint64_t ims_head_seen(const ims_head *h) { return h->learned; }
uint64_t ims_head_refits(const ims_head *h) { return h->refits; }
uint32_t ims_head_feature_count(const ims_head *h) { return h->d; }
const char *ims_head_model_id(const ims_head *h) { return h->model_id; }
const char *ims_head_feature_layer(const ims_head *h) {
  return h->feature_layer;
}
