/* SPDX-License-Identifier: Apache-2.0 */
/*
 * step.c - the steps of an engine: which kind runs each node, and the
 * calls that go through a step's kind (see infer_int.h).
 *
 * The choice is made here and nowhere else (ims__step_choose). Best
 * first:
 *   1. our 3x3 depthwise kernel (dw_ops.c), unless a flag asks for
 *      another backend: 1.1-2.4x faster than XNNPACK where the CPU has
 *      AVX2 or AVX-512, and only then (its C path is ~15x slower);
 *   2. oneDNN (dnnl_ops.c), when the engine started it, for the
 *      convolutions and fully connected layers it takes: 1.7-3.5x faster
 *      with VNNI kernels. Depthwise layers only when forced: its
 *      jit_int8:avx512_core_vnni kernel measured no faster than XNNPACK's
 *      qc8 one (MobileNetV2, batch 1 and 16: ~1.3 ms per image both).
 *      oneDNN itself may still decline a node (no fast, exact kernel on
 *      this CPU: dnnl_ops.c's impl_wanted); forced, that is an error;
 *   3. our 8-bit 1x1 kernel (pw_ops.c) for the 1x1 convolutions oneDNN
 *      declined (CPUs without VNNI), where the CPU has AVX2: 8-bit
 *      multiplies on vpmaddubsw where that is exact, which neither
 *      XNNPACK nor oneDNN does without VNNI; and where such a layer feeds
 *      only a depthwise layer that our kernel takes, both as one fused
 *      step (fuse_ops.c) if IMS_ENGINE_FLAG_FUSE;
 *   4. a portable kernel (kernels.c) for what XNNPACK lacks or does no
 *      better: views, 8-bit requantization and softmax, dequantization,
 *      float hard sigmoid and concatenation;
 *   5. XNNPACK (xnn_ops.c) for everything else, or an error naming the
 *      operator.
 * The kinds never call each other; what they share (quantized ranges,
 * the unsupported-node message) is here.
 *
 * Sections: 1. helpers the kinds share 2. the choice 3. calls through
 * the ops table.
 *
 * Threading: per engine (see infer_int.h); no state of its own.
 */
#include <math.h>

#include "core/error_int.h"
#include "infer/infer_int.h"
#include "imgstream/model.h"

/* ---- 1. helpers the kinds share -------------------------------------- */

ims_status ims__step_unsupported(const ims__step *s, const char *why,
                                 ims_error *err) {
  return ims__fail(err, IMS_ERR_UNSUPPORTED,
                   "%s (operator %u): not supported: %s",
                   s->node->source_name, s->node->source_index, why);
}

void ims__q8_range(const ims__tensor *t, ims__activation act, int32_t *lo,
                   int32_t *hi) {
  int32_t qmin = t->type == IMS_TENSOR_U8 ? 0 : -128;
  int32_t qmax = t->type == IMS_TENSOR_U8 ? 255 : 127;
  *lo = qmin;
  *hi = qmax;
  if (act == IMS__ACT_RELU || act == IMS__ACT_RELU6)
    *lo = t->zero_point > qmin ? t->zero_point : qmin;
  if (act == IMS__ACT_RELU6) {
    long six = lrintf(6.0f / t->scale) + t->zero_point;
    *hi = six < qmax ? (int32_t)six : qmax;
  }
}

/* ---- 2. the choice --------------------------------------------------- */

/* Whether our depthwise kernel takes node n (see the file header). */
static bool dw_takes(const ims__step_env *env, const ims__node *n) {
  uint32_t off = IMS_ENGINE_FLAG_FORCE_XNNPACK |
                 IMS_ENGINE_FLAG_FORCE_ONEDNN | IMS_ENGINE_FLAG_NO_DW_KERNEL;
  return !(env->flags & off) && ims__dw_preferred() &&
         ims__dw_eligible(env->model, n);
}

/* Whether our 1x1 kernel takes node n (see the file header). */
static bool pw_takes(const ims__step_env *env, const ims__node *n) {
  uint32_t off = IMS_ENGINE_FLAG_FORCE_XNNPACK |
                 IMS_ENGINE_FLAG_FORCE_ONEDNN | IMS_ENGINE_FLAG_NO_PW_KERNEL;
  return !(env->flags & off) && ims__pw_preferred() &&
         ims__pw_eligible(env->model, n);
}

/* Whether s's node and next's run as one fused step (see the header). */
static bool fuse_takes(const ims__step_env *env, const ims__step *s,
                       const ims__step *next) {
  return next != NULL && (env->flags & IMS_ENGINE_FLAG_FUSE) &&
         dw_takes(env, next->node) && ims__fuse_eligible(env, s, next);
}

/* Whether to offer node n to oneDNN (see the file header). */
static bool dnnl_offered(const ims__step_env *env, const ims__node *n) {
  if (env->dnnl == NULL || !ims__dnnl_eligible(env->model, n)) return false;
  return (env->flags & IMS_ENGINE_FLAG_FORCE_ONEDNN) ||
         n->op != IMS__OP_DEPTHWISE_CONV_2D;
}

/* Whether node n reads and writes 8-bit tensors. */
static bool q8_to_q8(const ims_model *m, const ims__node *n) {
  return ims__is_q8(m->tensors[n->inputs[0]].type) &&
         ims__is_q8(m->tensors[n->output].type);
}

/* The portable kernel for node n, or XNNPACK. */
static const ims__step_ops *baseline_kind(const ims_model *m,
                                          const ims__node *n) {
  switch (n->op) {
    case IMS__OP_RESHAPE: return &ims__step_view;
    case IMS__OP_DEQUANTIZE: return &ims__step_dequant8;
    case IMS__OP_HARD_SIGMOID: return &ims__step_hard_sigmoid;
    case IMS__OP_CONCATENATE: return &ims__step_concat;
    case IMS__OP_QUANTIZE:
      return q8_to_q8(m, n) ? &ims__step_lut8 : &ims__step_xnn;
    case IMS__OP_SOFTMAX:
      return q8_to_q8(m, n) ? &ims__step_softmax_q8 : &ims__step_xnn;
    default: return &ims__step_xnn;
  }
}

ims_status ims__step_choose(const ims__step_env *env, ims__step *s,
                            ims__step *next, ims_error *err) {
  const ims__node *n = s->node;
  if (dw_takes(env, n)) return ims__step_dw.create(env, s, err);
  if (dnnl_offered(env, n)) {
    ims_status st = ims__step_dnnl.create(env, s, err);
    if (st != IMS_OK || s->ops != NULL) return st;
    if (env->flags & IMS_ENGINE_FLAG_FORCE_ONEDNN)
      return ims__fail(err, IMS_ERR_UNSUPPORTED,
                       "%s (operator %u): oneDNN has no exact int8 kernel "
                       "for it on this CPU (needs AVX-512 VNNI, AVX-VNNI "
                       "or AMX)",
                       n->source_name, n->source_index);
  }
  if (pw_takes(env, n)) {
    if (fuse_takes(env, s, next)) return ims__fused_create(env, s, next, err);
    return ims__step_pw.create(env, s, err);
  }
  return baseline_kind(env->model, n)->create(env, s, err);
}

ims_status ims__step_create(const ims_model *model, ims__step *step,
                            ims_error *err) {
  ims__step_env env = {model, NULL, IMS_ENGINE_FLAG_FORCE_XNNPACK,
                       UINT32_MAX};
  return ims__step_choose(&env, step, NULL, err);
}

/* ---- 3. calls through the ops table ---------------------------------- */

ims_status ims__step_setup(const ims_model *model, ims__step *step,
                           size_t batch, pthreadpool_t pool, ims_error *err) {
  if (step->ops->setup == NULL) return IMS_OK;
  return step->ops->setup(model, step, batch, pool, err);
}

ims_status ims__step_run(ims__step *step, size_t batch, const ims__par *par,
                         float *scratch, ims_error *err) {
  return step->ops->run(step, batch, par, scratch, err);
}

size_t ims__par_threads(const ims__par *par) {
  if (par == NULL) return 1;
  if (par->pool != NULL) return pthreadpool_get_threads_count(par->pool);
  return par->team != NULL ? ims__team_threads(par->team) : 1;
}

void ims__par_for(const ims__par *par, void (*task)(void *, size_t),
                  void *ctx, size_t n) {
  if (par != NULL && par->pool != NULL)
    pthreadpool_parallelize_1d(par->pool, task, ctx, n, 0);
  else if (par != NULL && par->team != NULL)
    ims__team_run(par->team, task, ctx, n);
  else
    for (size_t i = 0; i < n; i++) task(ctx, i);
}

pthreadpool_t ims__par_pool(const ims__par *par) {
  return par != NULL ? par->pool : NULL;
}

void ims__step_destroy(ims__step *step) {
  if (step->ops != NULL && step->ops->destroy != NULL)
    step->ops->destroy(step);
  step->ops = NULL;
}
