/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuse_ops.c - the step kinds "fused" (ims__step_fused) and "fused-away"
 * (ims__step_fused_away): a layer our 1x1 kernel runs (pw_ops.c) and the
 * 3x3 depthwise layer that alone reads its output (dw_ops.c), run as one
 * step a few rows at a time.
 *
 * Why: in MobileNetV2's inverted residual blocks a 1x1 convolution
 * expands the channels 6x and a depthwise layer reads the result; run
 * layer by layer, that expanded tensor (1.2 MB for one image at 112x112
 * x 96) is written to memory and read back, which the first blocks pay
 * for: there the 1x1 layers ran at half the speed of the later ones.
 * Fused, the 1x1 layer's output is made one row at a time into a ring of
 * 3 rows (112 x 96 bytes each: 32 KB) just before the depthwise kernel
 * reads them, so it stays in L1/L2.
 *
 * Measured: no faster than layer by layer on the AVX2 EPYC (Zen 3 class)
 * this was written on, 1 and 2 threads, batch 1 and 16 (its L2 holds the
 * expanded tensor's working rows either way, and the early 1x1 layers
 * are bound by requantization, not memory), so it runs only when the
 * engine is asked for it (IMS_ENGINE_FLAG_FUSE).
 *
 * How: for each output row oy of the depthwise layer, its input rows
 * iy = oy * stride - pad_top + {0, 1, 2} are made by the 1x1 layer if
 * the ring does not hold them yet (row iy lives in slot iy % 3: with
 * stride 1 one new row per output row, with stride 2 two), then the
 * depthwise kernel makes the output row from the three ring rows (or
 * the zero-point row off the image). The arithmetic of every output byte
 * is that of the two layers run apart: results are bit-identical
 * (tests/infer_pw.c runs both models against XNNPACK).
 * The depthwise node's step becomes "fused-away": it does nothing, its
 * output having been written by the fused step. The expanded tensor
 * keeps its arena slot but is never written.
 *
 * Threads: one image's output rows are split into one band per worker of
 * the engine's pool, each band with its own ring (allocated at setup,
 * when the pool is known); the rows on either side of a band's edge are
 * made by both bands (1-2 of 56-112 rows). Batches run image by image
 * (the engine's rule).
 *
 * Not taken: a 1x1 layer whose output anything else reads (the engine's
 * features, another node), a depthwise layer our kernel does not take.
 *
 * Sections: 1. the pair 2. run 3. the ops tables.
 */
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "infer/infer_int.h"

struct ims__fused {
  ims__pw_layer *pw;        /* owned: the 1x1 (or gathered) layer */
  ims__dw_layer *dw;        /* owned: the depthwise layer */
  ims__dw_params g;         /* the depthwise layer's geometry */
  size_t oh, ow;            /* its output rows / columns */
  size_t in_bytes;          /* bytes of one image of the pw layer's input */
  size_t row_bytes;         /* one row of the pw layer's output */
  void *out;                /* the depthwise node's output (arena) */
  size_t bands;             /* rings allocated (setup); 0: none yet */
  uint8_t *rings;           /* owned: bands x 3 rows of row_bytes */
};

/* ---- 1. the pair ----------------------------------------------------- */

/* Whether any node other than `reader` reads tensor t. */
static bool read_elsewhere(const ims_model *m, uint32_t t,
                           const ims__node *reader) {
  if (t == m->output) return true;
  for (uint32_t i = 0; i < m->node_count; i++) {
    const ims__node *n = &m->nodes[i];
    if (n == reader) continue;
    for (uint32_t k = 0; k < n->input_count; k++)
      if (n->inputs[k] == t) return true;
  }
  return false;
}

bool ims__fuse_eligible(const ims__step_env *env, const ims__step *s,
                        const ims__step *next) {
  const ims_model *m = env->model;
  const ims__node *a = s->node, *b = next->node;
  if (!ims__pw_eligible(m, a) || !ims__dw_eligible(m, b)) return false;
  return b->inputs[0] == a->output && a->output != env->keep_tensor &&
         !read_elsewhere(m, a->output, b);
}

static void fused_free(ims__fused *f) {
  if (f == NULL) return;
  ims__pw_layer_destroy(f->pw);
  ims__dw_layer_destroy(f->dw);
  free(f->rings);
  free(f);
}

ims_status ims__fused_create(const ims__step_env *env, ims__step *s,
                             const ims__step *next, ims_error *err) {
  ims__fused *f = calloc(1, sizeof *f);
  if (f == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  ims__pw_params p;
  ims__pw_node_params(env->model, s->node, &p);
  ims_status st = ims__pw_layer_create(&p, IMS__PW_PATH_AUTO, &f->pw, err);
  ims__step dw_step = {.node = next->node};
  if (st == IMS_OK)
    st = ims__dw_step_create(env->model, &dw_step, IMS__DW_PATH_AUTO, err);
  if (st != IMS_OK) {
    fused_free(f);
    return st;
  }
  f->dw = dw_step.dw;
  ims__dw_layer_geometry(f->dw, &f->g, &f->oh, &f->ow);
  const ims__tensor *in = &env->model->tensors[s->node->inputs[0]];
  f->in_bytes = ims__bytes_per_image(in);
  f->row_bytes = f->g.w * f->g.c;
  f->out = next->out;
  s->fused = f;
  s->ops = &ims__step_fused;
  return IMS_OK;
}

/* ---- 2. run ---------------------------------------------------------- */

typedef struct band_run {
  const ims__fused *f;
  const uint8_t *in;        /* one image of the pw layer's input */
  uint8_t *out;             /* one image of the depthwise output */
  size_t bands;
} band_run;

/* Output rows of band i: the ring rows they read made first. */
static void run_band(void *arg, size_t i) {
  const band_run *r = arg;
  const ims__fused *f = r->f;
  uint8_t *ring = f->rings + i * 3 * f->row_bytes;
  long have[3] = {-1, -1, -1}; /* input row each slot holds */
  size_t first = i * f->oh / r->bands, end = (i + 1) * f->oh / r->bands;
  for (size_t oy = first; oy < end; oy++) {
    const uint8_t *rows[3];
    for (int ky = 0; ky < 3; ky++) {
      long iy = (long)(oy * f->g.stride) - (long)f->g.pad_top + ky;
      if (iy < 0 || iy >= (long)f->g.h) {
        rows[ky] = NULL;
        continue;
      }
      size_t slot = (size_t)iy % 3;
      uint8_t *row = ring + slot * f->row_bytes;
      if (have[slot] != iy) {
        ims__pw_layer_run_range(f->pw, r->in, row, (size_t)iy * f->g.w,
                                f->g.w);
        have[slot] = iy;
      }
      rows[ky] = row;
    }
    ims__dw_layer_run_row(f->dw, rows, r->out + oy * f->ow * f->g.c);
  }
}

static ims_status fused_setup(const ims_model *m, ims__step *s, size_t batch,
                              pthreadpool_t pool, ims_error *err) {
  (void)m, (void)batch;
  ims__fused *f = s->fused;
  size_t bands = pool != NULL ? pthreadpool_get_threads_count(pool) : 1;
  if (bands > f->oh) bands = f->oh;
  if (bands <= f->bands) return IMS_OK;
  uint8_t *rings = realloc(f->rings, bands * 3 * f->row_bytes);
  if (rings == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  f->rings = rings;
  f->bands = bands;
  return IMS_OK;
}

static ims_status fused_run(ims__step *s, size_t batch, const ims__par *par,
                            float *scratch, ims_error *err) {
  (void)scratch, (void)err;
  const ims__fused *f = s->fused;
  pthreadpool_t pool = ims__par_pool(par); /* rings are per pool thread */
  size_t out_bytes = f->oh * f->ow * f->g.c;
  size_t bands = pool != NULL ? f->bands : 1;
  for (size_t k = 0; k < batch; k++) {
    band_run r = {f, (const uint8_t *)s->in + k * f->in_bytes,
                  (uint8_t *)f->out + k * out_bytes, bands};
    if (bands == 1) run_band(&r, 0);
    else pthreadpool_parallelize_1d(pool, run_band, &r, bands, 0);
  }
  return IMS_OK;
}

static void fused_destroy(ims__step *s) {
  fused_free(s->fused);
  s->fused = NULL;
}

/* ---- 3. the ops tables ----------------------------------------------- */

/* Made only through ims__fused_create (step.c), never chosen alone. */
static ims_status fused_refuse(const ims__step_env *env, ims__step *s,
                               ims_error *err) {
  (void)env;
  return ims__step_unsupported(s, "a fused step needs its pair", err);
}

/* The depthwise node of a fused pair: its output was written already. */
static ims_status away_run(ims__step *s, size_t batch, const ims__par *par,
                           float *scratch, ims_error *err) {
  (void)s, (void)batch, (void)par, (void)scratch, (void)err;
  return IMS_OK;
}

const ims__step_ops ims__step_fused = {"fused", fused_refuse, fused_setup,
                                       fused_run, fused_destroy};
const ims__step_ops ims__step_fused_away = {"fused-away", fused_refuse, NULL,
                                            away_run, NULL};
