/* SPDX-License-Identifier: Apache-2.0 */
/*
 * learn_int.h - the learned head's state, shared by head.c (the
 * arithmetic: learning, prediction, the covariance refit) and
 * head_file.c (its file format). Public API: imgstream/head.h.
 *
 * Notation (docs/LEARNING.md): d features, C classes, N samples learned,
 * n_c of class c, f a transformed feature vector (signed square root,
 * then unit length), S_c = sum of class c's f, Q = sum of f f^T,
 * L = the Cholesky factor of the last refit's shrunk covariance
 * (Sigma = L L^T), V_c = L^-1 S_c.
 *
 * Threading: one thread at a time per head.
 */
#ifndef IMS_LEARN_LEARN_INT_H
#define IMS_LEARN_LEARN_INT_H

#include <stdbool.h>

#include "imgstream/head.h"

/* Samples whose outer products wait in `pending` before one rank-k update
 * folds them into Q: a rank-1 update per sample would read and write all
 * of Q (13 MB at d = 1280) for each. A fixed size, so Q's rounding
 * depends on the order of samples only, never on how they were batched. */
#define IMS__HEAD_FOLD 32u

#define IMS__HEAD_MAX_FEATURES 65536u

/* The softmax temperatures the head chooses from, T_k = 2^(k/2), k =
 * 0..IMS__HEAD_TEMPS-1 (1 to 1024): LDA's posteriors in 1280 dimensions
 * are far too sure of themselves (1.0000 for a wrong class), so the
 * probabilities use the temperature whose prequential log loss over the
 * recent samples is lowest (calib[]: each sum decays by this factor per
 * sample, a memory of about 50 samples, since the head's sharpness
 * changes as it learns and at each refit). */
#define IMS__HEAD_TEMPS 21
#define IMS__HEAD_CALIB_DECAY 0.98
/* Longest model identity and feature layer name a file holds (bytes). */
#define IMS__HEAD_STR_MAX 1024u
/* Largest refit_growth_pct a file holds. */
#define IMS__HEAD_GROWTH_MAX 100000u

typedef struct ims__head_class {
  char *label;    /* owned, NUL-terminated */
  uint64_t count; /* n_c */
  double *sum;    /* owned: S_c, d values */
  double *vsum;   /* owned: V_c = L^-1 S_c, d values (sqrt(kappa) S_c
                     before the first refit) */
  double bias;    /* 0.5 V_c.V_c / n_c^2, kept with V_c */
} ims__head_class;

struct ims_head {
  char *model_id;       /* owned */
  char *feature_layer;  /* owned ("" = found from the graph) */
  uint32_t d;           /* features per sample */
  uint32_t max_classes; /* most classes */
  uint32_t flags;       /* IMS_HEAD_FLAG_* */
  uint32_t refit_min;   /* fewest samples between refits */
  uint32_t refit_growth_pct;

  uint64_t learned;    /* N */
  uint64_t next_refit; /* N at which the next refit happens */
  uint64_t refits;     /* refits done */
  double calib[IMS__HEAD_TEMPS]; /* prequential log loss at each
                                   temperature, summed */
  uint64_t source_seq; /* the last sequence of a JetStream stream of
                          samples folded in (src/stream/learning.c);
                          0 = none */

  size_t class_count;
  size_t class_cap;
  ims__head_class *classes; /* owned array of class_cap */

  double *q;        /* owned: Q, d*d row-major, upper triangle used */
  float *pending;   /* owned: IMS__HEAD_FOLD * d features not yet in Q */
  uint32_t pending_count;
  bool has_factor;  /* L was fitted (else L = I / sqrt(kappa)) */
  float *factor;    /* owned: L, d*d column-major, lower triangle used
                       (the same bytes: L^T's upper triangle by rows) */

  /* Scratch, reused by every call (never part of the state). */
  float *f;         /* d: the transformed sample */
  float *z;         /* d: L^-1 f */
  double *fold;     /* IMS__HEAD_FOLD * d: pending as doubles; in a
                       refit, a block of the covariance's rows */
  double *means;    /* means_cap * d: in a refit, S_c / sqrt(n_c) */
  size_t means_cap; /* classes `means` holds */
  float *next;      /* d*d: the covariance being fitted (upper by rows),
                       shrunk, then its factor */
  double *probs;    /* class_cap: probabilities */
  double *raw;      /* class_cap: the discriminants they come from */
};

/* Scale of P = L^-T L^-1 before the first refit: unit-length features
 * spread over d dimensions have a variance of about 1/d each, so P = d I
 * makes the first scores posterior-like, as a fitted P does. */
static inline double ims__head_kappa(const ims_head *h) { return h->d; }

/* head.c: allocate the fixed-size state arrays and scratch of a head
 * whose d is set (classes grow with ims__head_reserve_class).
 * IMS_ERR_NO_MEMORY. */
ims_status ims__head_alloc(ims_head *h, ims_error *err);
/* head.c: make room in `classes`, `probs` and `raw` for class_count + 1
 * classes. 0 or -1. */
int ims__head_reserve_class(ims_head *h);
/* head.c: exchange the whole states of a and b (each keeps its own
 * max_classes): how a head the caller holds takes on a checkpoint's. */
void ims__head_swap(ims_head *a, ims_head *b);
/* head.c: what ims_head_step would say of learning `label` now: IMS_OK,
 * IMS_ERR_TOO_LARGE (a new class over max_classes) or
 * IMS_ERR_INVALID_ARG (too long, a control character). */
ims_status ims__head_check_label(const ims_head *h, const char *label);
/* head.c: recompute classes[c].bias from its vsum. */
void ims__head_class_bias(ims_head *h, size_t c);

#endif /* IMS_LEARN_LEARN_INT_H */
