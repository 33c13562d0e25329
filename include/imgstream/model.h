/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model.h - loading a classification model and running it: ims_model (the
 * parsed, immutable network) and ims_engine (an executor bound to one model,
 * with its thread pool and activation buffers).
 *
 * Model formats: TFLite FlatBuffers (uint8/int8 quantized and float32) and
 * ONNX (float32 CNN classifiers as PyTorch exports them, opsets 7-21; see
 * docs/ONNX.md), told apart by content. Both are read by bounds-checked
 * parsers written for this project; a malformed file fails with
 * IMS_ERR_BAD_MODEL and the offending offset (or ONNX node / tensor), an
 * operator outside the supported set with IMS_ERR_UNSUPPORTED naming the
 * operator and its index (ONNX: its node name and op type).
 *
 * Lifecycle: ims_model_load_* -> ims_engine_create (any number, each
 * BORROWS the model, which must outlive them) -> ims_engine_run (repeatable,
 * any batch size up to max_batch) -> ims_engine_destroy -> ims_model_destroy.
 * ims_engine_run allocates nothing: buffers are sized when the engine is
 * created. An engine runs a batch image by image (an image's activations
 * stay in cache between layers; the results are the same bits as single
 * runs).
 *
 * Features: an engine created with IMS_ENGINE_FLAG_FEATURES also gives,
 * from the same run as the scores, each image's penultimate features -
 * the input of the final classifier layer, found from the graph
 * (ims_model_feature_layer) or named - as floats (ims_engine_run_features).
 *
 * Threading: an ims_model is immutable once loaded and may be shared by
 * engines on any threads. An ims_engine belongs to one thread at a time; it
 * has its own pool of `threads` workers. One image has each operator split
 * over the pool (oneDNN layers too: they run single-threaded per worker,
 * so the calling thread's OpenMP thread count is set to 1 during
 * ims_engine_run and restored after). A batch of several images is split
 * into one share per thread, each share run on a one-thread copy of the
 * engine: no thread waits for another between layers. The copies hold
 * their own packed weights (threads x the model's weights in memory when
 * max_batch > 1). Quantized results are the same bits whatever the
 * threads; float results on more than one thread may differ in the last
 * bits (~1e-6 relative) from run to run, as oneDNN's f32 GEMM sums a layer
 * split over threads in another order.
 */
#ifndef IMGSTREAM_MODEL_H
#define IMGSTREAM_MODEL_H

#include "imgstream/limits.h"
#include "imgstream/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ims_tensor_type {
  IMS_TENSOR_F32 = 1, /* IEEE float32 */
  IMS_TENSOR_U8 = 2,  /* uint8, affine quantized */
  IMS_TENSOR_I8 = 3,  /* int8, affine quantized */
  IMS_TENSOR_I32 = 4  /* int32 (biases, shapes) */
} ims_tensor_type;

typedef struct ims_model ims_model;

/* What a loaded model takes and gives, filled by ims_model_get_info(). */
typedef struct ims_model_info {
  const char *format;         /* output: "tflite" or "onnx"; static */
  uint32_t input_height;      /* output: H of the NHWC input */
  uint32_t input_width;       /* output: W of the NHWC input */
  uint32_t input_channels;    /* output: C of the NHWC input (3) */
  ims_tensor_type input_type; /* output: element type of the input */
  float input_scale;          /* output: quantization scale (1 if float) */
  int32_t input_zero_point;   /* output: quantization zero point */
  uint32_t output_count;      /* output: values per image (e.g. 1001) */
  ims_tensor_type output_type;/* output: element type of the output */
  uint32_t operator_count;    /* output: nodes in the graph */
  uint32_t output_logits;     /* output: 1 if the outputs are raw scores
                                 (the graph ends without a softmax, as
                                 ONNX classifiers do), 0 if probabilities
                                 or a TFLite model */
} ims_model_info;

/// Load a model file (format detected from its content). ONNX external
/// data files are read from the model file's folder.
/// @param model_out set only on IMS_OK. Free with ims_model_destroy().
/// @retval IMS_OK
/// @retval IMS_ERR_NOT_FOUND, IMS_ERR_IO   cannot read the file
/// @retval IMS_ERR_BAD_MODEL     malformed; message names the bad offset
/// @retval IMS_ERR_UNSUPPORTED   operator/type outside the supported set;
///                               message names the operator and its index
IMS_API ims_status ims_model_load_file(const char *path,
                                       ims_model **model_out, ims_error *err);

/// Load a model from memory. `data` is COPIED; it may be freed on return.
/// ONNX models with external data fail (IMS_ERR_UNSUPPORTED): no folder.
IMS_API ims_status ims_model_load_memory(const void *data, size_t size,
                                         ims_model **model_out,
                                         ims_error *err);

/// ims_model_load_file / ims_model_load_memory with resource limits
/// (limits.h: max_model_bytes, max_tensors, max_operators; other fields
/// unused). The plain calls use ims_limits_default().
/// @param limits  COPIED; NULL = defaults; zero fields = their default.
/// @retval IMS_ERR_TOO_LARGE  the file is larger than max_model_bytes, or
///                            its graph has more tensors or operators
///                            than allowed; the message names the limit
/// (and every status of the plain calls)
IMS_API ims_status ims_model_load_file_limits(const char *path,
                                              const ims_limits *limits,
                                              ims_model **model_out,
                                              ims_error *err);
IMS_API ims_status ims_model_load_memory_limits(const void *data, size_t size,
                                                const ims_limits *limits,
                                                ims_model **model_out,
                                                ims_error *err);

/// Free a model. NULL is a no-op. Every engine made from it must be gone.
IMS_API void ims_model_destroy(ims_model *model);

/// Describe a model's input and output. Never fails.
IMS_API void ims_model_get_info(const ims_model *model, ims_model_info *out);

/* "sha256:" + 64 hex digits + NUL. */
#define IMS_MODEL_FINGERPRINT_SIZE 72

/// The model's identity: "sha256:<hex>" of its file's bytes (what a
/// learned head records, so a head is never used with another model).
/// Cost: one SHA-256 of the file (about 10 ms for 3.5 MB).
/// @param out  IMS_MODEL_FINGERPRINT_SIZE bytes.
IMS_API void ims_model_fingerprint(const ims_model *model,
                                   char out[IMS_MODEL_FINGERPRINT_SIZE]);

/* Where a classifier's penultimate features are, filled by
 * ims_model_feature_layer(). */
typedef struct ims_model_feature_info {
  const char *tensor_name; /* output: the tensor's name in the file
                              (BORROWED from the model; "" if unnamed) */
  uint32_t count;          /* output: values per image (MobileNetV2:
                              1280) */
  ims_tensor_type type;    /* output: element type in the graph; the
                              engine gives them as float either way */
  float scale;             /* output: quantization scale (1 if float) */
  int32_t zero_point;      /* output: quantization zero point */
} ims_model_feature_info;

/// Find the tensor holding the model's penultimate features: with
/// `name` NULL, the data input of its final classifier layer - walking
/// back from the output through softmax, reshape/flatten and
/// (de)quantize operators to the last fully connected layer or
/// convolution (TFLite CONV_2D / FULLY_CONNECTED, ONNX Gemm / Conv);
/// MobileNetV2: the 1280 values after global average pooling. Else the
/// activation tensor of that name in the file. Cheap (walks the graph);
/// allocates nothing.
/// @param name      BORROWED for the call; NULL = found from the graph.
/// @param info_out  written on IMS_OK only.
/// @retval IMS_OK
/// @retval IMS_ERR_INVALID_ARG  NULL model or info_out; `name` is a
///                              constant tensor or the model's input
/// @retval IMS_ERR_NOT_FOUND    no tensor named `name`, or no classifier
///                              layer ends the graph; the message names
///                              the name or the last operator
/// @retval IMS_ERR_UNSUPPORTED  the tensor holds int32 values
IMS_API ims_status ims_model_feature_layer(const ims_model *model,
                                           const char *name,
                                           ims_model_feature_info *info_out,
                                           ims_error *err);

/* Backend choice, for ims_engine_options.flags. With no flag the
 * engine picks per layer: float convolutions other than depthwise run on
 * oneDNN (1x1 as its JIT f32 GEMM, the others as its direct JIT
 * convolution: 1.4-3x faster than XNNPACK's f32 kernels on AVX2); 1x1
 * int8/uint8 convolutions, fully connected
 * layers and other int8 convolutions with symmetric weights (not
 * depthwise) run on oneDNN when it offers a VNNI (or AMX) JIT kernel for
 * this CPU - measured 1.7-3.5x faster than XNNPACK's kernels there -
 * 8-bit 3x3 depthwise convolutions on imgstream's own kernel (AVX-512 or
 * AVX2; 1.1-2.4x faster than XNNPACK's) on CPUs with AVX2 or AVX-512,
 * and every other operator, or every operator on CPUs without those
 * kernels, on XNNPACK. Either way the results are bit-identical: same
 * integer math, same rounding. */

/// Run every operator on XNNPACK; oneDNN is never initialized. Always
/// honored (for comparisons and tests).
#define IMS_ENGINE_FLAG_FORCE_XNNPACK 0x1u
/// Run every layer of those kinds, and int8 depthwise convolutions, on
/// oneDNN's VNNI (or AMX) kernel. Kernels without VNNI are never used:
/// their 16-bit intermediate sums saturate, so they are not exact. If
/// oneDNN cannot take one of them (e.g. on a CPU without VNNI),
/// ims_engine_create fails with IMS_ERR_UNSUPPORTED naming the operator
/// rather than falling back.
#define IMS_ENGINE_FLAG_FORCE_ONEDNN 0x2u
/// Run 3x3 depthwise convolutions on the backend they used before
/// imgstream's own kernel (XNNPACK). Without this flag and without
/// either FORCE flag, uint8/int8 3x3 depthwise convolutions (multiplier
/// 1, stride 1 or 2) run on imgstream's AVX-512/AVX2 kernel where the CPU
/// has one, which is bit-identical to XNNPACK's. For comparisons and
/// tests.
#define IMS_ENGINE_FLAG_NO_DW_KERNEL 0x4u
/// Always use all `threads` (see the threading note above). Without this
/// flag an
/// engine with more than one thread times its runs and, when running on
/// the calling thread alone is faster - the machine's cores are busy with
/// other work, and every layer would wait for a descheduled worker - runs
/// that way, trying its threads again every 32 runs (costing about 1% on
/// an idle machine). Results are the same either way. For benchmarks of
/// the threaded path.
#define IMS_ENGINE_FLAG_FIXED_THREADS 0x8u
/// Keep the penultimate features of every image (the tensor
/// ims_model_feature_layer() finds for options->feature_layer), for
/// ims_engine_run_features(). Costs one copy of them per image, right
/// after the layer that writes them; engines without it run as before.
#define IMS_ENGINE_FLAG_FEATURES 0x10u
/// Run 8-bit 1x1 convolutions on the backend they used before imgstream's
/// own kernel (XNNPACK). Without this flag and without either FORCE flag,
/// on a CPU with AVX2 where oneDNN has no VNNI kernel for them, uint8 and
/// int8 1x1 convolutions run on imgstream's AVX2 kernel, which is
/// bit-identical to XNNPACK's. For comparisons and tests.
#define IMS_ENGINE_FLAG_NO_PW_KERNEL 0x20u
/// Where imgstream's own 1x1 kernel runs a layer whose output only a 3x3
/// depthwise layer reads (MobileNetV2's expansions), run both as one step
/// a few rows at a time, so the expanded tensor stays in the CPU's
/// caches. Same results either way. Off by default: on the AVX2 CPUs
/// measured (docs/BENCHMARKS-notes.md) it gained nothing over layer by
/// layer, at 1 and 2 threads, batch 1 and 16; for CPUs whose caches are
/// smaller or memory slower, and for comparisons.
#define IMS_ENGINE_FLAG_FUSE 0x40u

/* Options of ims_engine_create. Zero fields take the defaults. */
typedef struct ims_engine_options {
  uint32_t threads;   /* input: worker threads; 0 = all online cores */
  uint32_t max_batch; /* input: largest batch ims_engine_run takes; 0 = 1 */
  float mean[3];      /* input: float models only: per-channel mean of the
                         [0,1]-scaled input; all 0 and std all 0 = the
                         ImageNet values (0.485, 0.456, 0.406) */
  float std[3];       /* input: float models only: per-channel std; all 0 =
                         ImageNet (0.229, 0.224, 0.225) */
  uint32_t flags;     /* input: 0 or IMS_ENGINE_FLAG_* bits; both FORCE
                         flags together are IMS_ERR_INVALID_ARG */
  const char *feature_layer; /* input: with IMS_ENGINE_FLAG_FEATURES, the
                         name of the tensor to give as features; NULL =
                         found from the graph (ims_model_feature_layer).
                         BORROWED for ims_engine_create only */
} ims_engine_options;

typedef struct ims_engine ims_engine;

/// Create an engine for `model`.
/// @param model    BORROWED: must outlive the engine.
/// @param options  COPIED; NULL = defaults.
/// @retval IMS_OK
/// @retval IMS_ERR_INVALID_ARG  both FORCE flags in options->flags
/// @retval IMS_ERR_UNSUPPORTED  an operator/type combination the backend
///                              cannot run (message names the operator),
///                              or IMS_ENGINE_FLAG_FORCE_ONEDNN and oneDNN
///                              cannot take a layer
/// @retval IMS_ERR_BACKEND      XNNPACK or oneDNN failed to initialize
/// @retval IMS_ERR_NO_MEMORY
/// (with IMS_ENGINE_FLAG_FEATURES, also those of ims_model_feature_layer)
IMS_API ims_status ims_engine_create(const ims_model *model,
                                     const ims_engine_options *options,
                                     ims_engine **engine_out, ims_error *err);

/// Threads the engine's last run used: 1, or the `threads` it was created
/// with (see IMS_ENGINE_FLAG_FIXED_THREADS). Never fails.
IMS_API uint32_t ims_engine_threads_in_use(const ims_engine *engine);

/// Free an engine and its threads. NULL is a no-op.
IMS_API void ims_engine_destroy(ims_engine *engine);

/// Classify `batch` images.
/// @param images  batch * H * W * 3 bytes: uint8 RGB, HWC, images back to
///                back (what ims_preprocess writes). BORROWED for the call.
///                The engine converts them to the model's input type: its
///                quantization for uint8/int8 inputs, (x/255 - mean)/std for
///                float inputs.
/// @param scores_out  batch * output_count floats: the model's output,
///                dequantized (probabilities for softmax classifiers).
/// @retval IMS_OK
/// @retval IMS_ERR_INVALID_ARG  batch == 0 or batch > max_batch
/// @retval IMS_ERR_BACKEND      an operator failed to run
IMS_API ims_status ims_engine_run(ims_engine *engine, const uint8_t *images,
                                  size_t batch, float *scores_out,
                                  ims_error *err);

/// Values per image that ims_engine_run_features() writes: 0 for an
/// engine created without IMS_ENGINE_FLAG_FEATURES. Never fails.
IMS_API size_t ims_engine_feature_count(const ims_engine *engine);

/// ims_engine_run, also giving each image's penultimate features (see
/// IMS_ENGINE_FLAG_FEATURES) from the same run. The scores are those
/// ims_engine_run gives, and the features the same bits whatever the
/// batch and threads (float models on threads: see the threading note).
/// Allocates nothing.
/// @param features_out  batch * ims_engine_feature_count() floats, image
///                      after image: quantized tensors dequantized,
///                      real = scale * (q - zero_point).
/// @retval IMS_OK
/// @retval IMS_ERR_INVALID_STATE  the engine was created without
///                                IMS_ENGINE_FLAG_FEATURES
/// (and every status of ims_engine_run)
IMS_API ims_status ims_engine_run_features(ims_engine *engine,
                                           const uint8_t *images,
                                           size_t batch, float *scores_out,
                                           float *features_out,
                                           ims_error *err);

/// The float input tensor ims_engine_run feeds a float model for `batch`
/// images: per channel (x/255 - mean)/std with the engine's mean/std, in
/// the engine's NHWC order (image, row, column, channel). For comparing
/// imgstream's preprocessing with another pipeline's (torchvision's
/// ToTensor + Normalize); runs nothing, allocates nothing.
/// @param images      as for ims_engine_run. BORROWED for the call.
/// @param tensor_out  batch * H * W * 3 floats, written on IMS_OK.
/// @retval IMS_OK
/// @retval IMS_ERR_INVALID_ARG  NULL pointers, batch == 0 or above
///                              max_batch, or a quantized model (no float
///                              input)
IMS_API ims_status ims_engine_input_f32(const ims_engine *engine,
                                        const uint8_t *images, size_t batch,
                                        float *tensor_out, ims_error *err);

#ifdef __cplusplus
}
#endif

#endif /* IMGSTREAM_MODEL_H */
