/* SPDX-License-Identifier: Apache-2.0 */
/*
 * head.c - the learned head's arithmetic: streaming linear discriminant
 * analysis (SLDA) with a shrunk covariance, on transformed features.
 *
 * Per sample x (d floats from the engine):
 *   f = signed sqrt of x, scaled to unit length (power normalisation: the
 *       pooled activations are heavy-tailed; measured in LEARNING.md)
 *   predict: score_c = f.U_c / n_c - 0.5 S_c.U_c / n_c^2, the LDA
 *       discriminant mu_c^T P f - 0.5 mu_c^T P mu_c with mu_c = S_c / n_c,
 *       U_c = P S_c (P symmetric); probabilities = softmax(score), the
 *       posterior under equal priors
 *   learn (label c): S_c += f, U_c += P f, n_c += 1, f joins `pending`;
 *       every IMS__HEAD_FOLD samples Q += pending^T pending (one dsyrk)
 *   refit (when N reaches next_refit): Sigma = (Q - sum_c S_c S_c^T / n_c)
 *       / N, the within-class covariance; shrunk towards mu I by the
 *       Oracle Approximating Shrinkage coefficient (Chen et al. 2010,
 *       computed from trace(Sigma) and trace(Sigma^2) only, so it needs
 *       nothing but the sums); P = its inverse (Cholesky: spotrf +
 *       spotri); U_c = P S_c afresh.
 *
 * Why these choices: the state is sums, so two heads merge by adding and
 * a replay gives the same bits; the refit schedule is a function of N
 * alone (next = N + max(refit_min, N * growth%)), so where batches begin
 * and end never changes a result; and a refit costs a d^3 factorisation
 * (about 40 ms at d = 1280), too much per sample, while its accuracy
 * changes slowly once a few hundred samples are in.
 *
 * Before the first refit P = kappa I (nearest class mean). Sums are
 * doubles (N can reach millions); P is float (it is refitted, never
 * accumulated) so the per-sample P f reads 6.5 MB, not 13.
 *
 * Threading: one thread at a time per head. OpenBLAS may use its own
 * threads inside one call; the results do not depend on how many.
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
  h->precision = calloc(d * d, sizeof *h->precision);
  h->f = calloc(d, sizeof *h->f);
  h->pf = calloc(d, sizeof *h->pf);
  h->fold = calloc((size_t)IMS__HEAD_FOLD * d, sizeof *h->fold);
  if (!h->q || !h->pending || !h->precision || !h->f || !h->pf ||
      !h->fold)
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
    free(h->classes[c].usum);
  }
  free(h->classes);
  free(h->q);
  free(h->pending);
  free(h->precision);
  free(h->f);
  free(h->pf);
  free(h->fold);
  free(h->cov);
  free(h->factor);
  free(h->probs);
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
  double *probs = realloc(h->probs, cap * sizeof *probs);
  if (probs == NULL) return -1;
  h->probs = probs;
  h->class_cap = cap;
  return 0;
}

/* ---- 2. the arithmetic ---- */

static double dot(const double *a, const float *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

void ims__head_class_bias(ims_head *h, size_t c) {
  ims__head_class *k = &h->classes[c];
  double s = 0;
  for (size_t i = 0; i < h->d; i++) s += k->sum[i] * k->usum[i];
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

/* Softmax of the discriminants of h->f into h->probs; returns the best
 * class (-1 with no class). */
static int32_t score(ims_head *h) {
  if (h->class_count == 0) return -1;
  int32_t best = 0;
  for (size_t c = 0; c < h->class_count; c++) {
    const ims__head_class *k = &h->classes[c];
    h->probs[c] = dot(k->usum, h->f, h->d) / (double)k->count - k->bias;
    if (h->probs[c] > h->probs[best]) best = (int32_t)c;
  }
  double top = h->probs[best], total = 0;
  for (size_t c = 0; c < h->class_count; c++) {
    h->probs[c] = exp(h->probs[c] - top);
    total += h->probs[c];
  }
  for (size_t c = 0; c < h->class_count; c++) h->probs[c] /= total;
  return best;
}

/* h->pf = P f. */
static void precision_times_f(ims_head *h) {
  if (h->has_precision) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)h->d, (int)h->d, 1.0f,
                h->precision, (int)h->d, h->f, 1, 0.0f, h->pf, 1);
  } else {
    float kappa = (float)ims__head_kappa(h);
    for (uint32_t i = 0; i < h->d; i++) h->pf[i] = kappa * h->f[i];
  }
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

/* cov (upper) = (Q - sum_c S_c S_c^T / n_c) / N. The class terms go
 * through dsyrk IMS__HEAD_FOLD classes at a time (rows S_c / sqrt(n_c)). */
static void within_class_covariance(ims_head *h) {
  size_t d = h->d;
  memcpy(h->cov, h->q, d * d * sizeof *h->cov);
  for (size_t c0 = 0; c0 < h->class_count; c0 += IMS__HEAD_FOLD) {
    size_t m = h->class_count - c0;
    if (m > IMS__HEAD_FOLD) m = IMS__HEAD_FOLD;
    for (size_t j = 0; j < m; j++) {
      const ims__head_class *k = &h->classes[c0 + j];
      double s = 1.0 / sqrt((double)k->count);
      for (size_t i = 0; i < d; i++) h->fold[j * d + i] = k->sum[i] * s;
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)m, -1.0,
                h->fold, (int)d, 1.0, h->cov, (int)d);
  }
  double inv_n = 1.0 / (double)h->learned;
  for (size_t i = 0; i < d; i++)
    for (size_t j = i; j < d; j++) h->cov[i * d + j] *= inv_n;
}

/* Oracle Approximating Shrinkage: the weight of mu I in the shrunk
 * covariance, from tr(Sigma) and tr(Sigma^2) (scikit-learn's OAS). */
static double oas_shrinkage(const ims_head *h, double *mu_out) {
  size_t d = h->d;
  double tr = 0, tr2 = 0;
  for (size_t i = 0; i < d; i++) {
    const double *row = &h->cov[i * d];
    tr += row[i];
    tr2 += row[i] * row[i];
    for (size_t j = i + 1; j < d; j++) tr2 += 2 * row[j] * row[j];
  }
  double mu = tr / (double)d, alpha = tr2 / ((double)d * (double)d);
  double den = ((double)h->learned + 1.0) * (alpha - mu * mu / (double)d);
  *mu_out = mu;
  double rho = den > 0 ? (alpha + mu * mu) / den : 1.0;
  return rho < 1.0 ? rho : 1.0;
}

/* P = inverse of (1 - rho) Sigma + rho mu I, in `factor`, then swapped
 * into `precision`. false when there is nothing to fit or the
 * factorisation fails (P and U stay as they were). */
static bool invert_shrunk(ims_head *h) {
  size_t d = h->d;
  double mu;
  double rho = oas_shrinkage(h, &mu);
  if (!(mu > 0) || !isfinite(rho)) return false;
  for (size_t i = 0; i < d; i++) {
    for (size_t j = i; j < d; j++)
      h->factor[i * d + j] = (float)((1 - rho) * h->cov[i * d + j]);
    h->factor[i * d + i] += (float)(rho * mu);
  }
  if (LAPACKE_spotrf(LAPACK_ROW_MAJOR, 'U', (int)d, h->factor, (int)d) != 0 ||
      LAPACKE_spotri(LAPACK_ROW_MAJOR, 'U', (int)d, h->factor, (int)d) != 0)
    return false;
  for (size_t i = 0; i < d; i++)
    for (size_t j = i + 1; j < d; j++)
      h->factor[j * d + i] = h->factor[i * d + j];
  float *t = h->precision;
  h->precision = h->factor;
  h->factor = t;
  h->has_precision = true;
  return true;
}

/* U_c = P S_c for every class, then the biases. */
static void refresh_usums(ims_head *h) {
  for (size_t c = 0; c < h->class_count; c++) {
    ims__head_class *k = &h->classes[c];
    for (uint32_t i = 0; i < h->d; i++) h->f[i] = (float)k->sum[i];
    precision_times_f(h);
    for (uint32_t i = 0; i < h->d; i++) k->usum[i] = h->pf[i];
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
 * bits than a replay of the same samples. 0 or -1. */
static int refit_scratch(ims_head *h) {
  if (h->flags & IMS_HEAD_FLAG_NCM) return 0;
  size_t d = h->d;
  if (h->cov == NULL) h->cov = malloc(d * d * sizeof *h->cov);
  if (h->factor == NULL) h->factor = malloc(d * d * sizeof *h->factor);
  return h->cov != NULL && h->factor != NULL ? 0 : -1;
}

/* Fold, fit and invert the covariance (refit_scratch has succeeded). */
static void refit(ims_head *h) {
  fold_pending(h);
  schedule_next_refit(h);
  if (h->flags & IMS_HEAD_FLAG_NCM) return;
  if (h->learned <= h->class_count) return; /* no within-class spread */
  within_class_covariance(h);
  if (!invert_shrunk(h)) return;
  refresh_usums(h);
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
  k->usum = calloc(h->d, sizeof *k->usum);
  if (!k->label || !k->sum || !k->usum) {
    free(k->label);
    free(k->sum);
    free(k->usum);
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

/* Learn h->f as class c. */
static void learn(ims_head *h, size_t c) {
  ims__head_class *k = &h->classes[c];
  precision_times_f(h);
  for (uint32_t i = 0; i < h->d; i++) {
    k->sum[i] += h->f[i];
    k->usum[i] += h->pf[i];
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
    long c = class_for(h, label);
    if (c == -1)
      return ims__fail(err, IMS_ERR_NO_MEMORY,
                       "learned head: out of memory for class \"%s\"", label);
    if (c == -2) {
      results[i].status = IMS_ERR_TOO_LARGE;
      continue;
    }
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
