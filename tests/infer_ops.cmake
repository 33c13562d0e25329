# SPDX-License-Identifier: Apache-2.0
# Inference operators: small models written at test time
# (tests/support/tflite_writer.c) covering every op/type path of the
# executor, checked against naive reference kernels; plus the engine's
# refusals.
ims_add_test(NAME infer_ops SOURCES infer_ops.c
             LIBS ims_core ims_model ims_infer)

# A float32 MobileNetV2 made by dequantizing the shared quantized model,
# checked against the quantized model's Arm NN reference outputs.
ims_add_test(NAME infer_float_model SOURCES infer_float_model.c
             LIBS ims_core ims_model ims_infer)

# make_float_model OUT [IN]: the same float model as a file, for
# benchmarks. `make mobilenet_v2_float` writes
# <build>/mobilenet_v2_float.tflite (a build output; never commit it).
add_executable(make_float_model make_float_model.c)
target_link_libraries(make_float_model PRIVATE ims_test_support ims_core
                      ims_model ims_deps)
set(ims_quant_model
    "${IMS_SHARED_DIR}/models/mobilenet_v2_1.0_224_quant.tflite")
target_compile_definitions(make_float_model PRIVATE
                           IMS_DEFAULT_QUANT_MODEL="${ims_quant_model}")
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/mobilenet_v2_float.tflite
  COMMAND make_float_model ${CMAKE_BINARY_DIR}/mobilenet_v2_float.tflite
  DEPENDS make_float_model
  COMMENT "Writing the float32 MobileNetV2 (dequantized)")
add_custom_target(mobilenet_v2_float
  DEPENDS ${CMAKE_BINARY_DIR}/mobilenet_v2_float.tflite)
