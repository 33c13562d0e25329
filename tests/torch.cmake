# SPDX-License-Identifier: Apache-2.0
# Float models from PyTorch: imgstream against PyTorch 1.13 / torchvision
# 0.14 (Debian's python3-torch, python3-torchvision).
#
# torch_export (fixture setup) runs tests/torch_reference.py: it exports
# mobilenet_v2 (opsets 11, 13, 17), resnet18 and efficientnet_b0 (13, 17)
# with seeded random weights, in several export forms, into tests/torch/ of the build dir and computes
# PyTorch's logits and torchvision's preprocessed tensors there. It redoes
# nothing while its stamp matches (same scripts, same torch), so the ~1 min
# of exports happens once per build dir. Without PyTorch it skips (and so
# do the tests below), unless CI is set: then it fails.
#
# torch_parity_* and torch_preprocess: tests/torch_parity.c (library API).
# torch_cli: tests/torch_cli.c (`imgstream classify` and `stream` with the
# .onnx models and the --resize/--mean/--std overrides).
set(ims_torch_dir ${CMAKE_CURRENT_BINARY_DIR}/torch)
set(ims_torch_env
  "IMGSTREAM_SHARED=${IMS_SHARED_DIR};IMGSTREAM_BIN=$<TARGET_FILE:imgstream_tool>;IMGSTREAM_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp;IMGSTREAM_TORCH_DIR=${ims_torch_dir}")

add_test(NAME torch_export
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/torch_reference.py
          ${ims_torch_dir} ${IMS_SHARED_DIR})
set_tests_properties(torch_export PROPERTIES FIXTURES_SETUP torch_models
  TIMEOUT 1200 SKIP_RETURN_CODE 77)

add_executable(torch_parity torch_parity.c)
target_include_directories(torch_parity PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(torch_parity PRIVATE ims_test_support imgstream
                      ims_image ims_deps)
foreach(case mobilenet_v2 mobilenet_v2_opset11 mobilenet_v2_opset17
             resnet18 efficientnet_b0 efficientnet_b0_opset17)
  add_test(NAME torch_parity_${case}
           COMMAND torch_parity torch_parity_${case})
  set_tests_properties(torch_parity_${case} PROPERTIES
    ENVIRONMENT "${ims_torch_env}" FIXTURES_REQUIRED torch_models
    TIMEOUT 900 SKIP_RETURN_CODE 77)
endforeach()
foreach(case torch_preprocess torch_decode torch_input_errors)
  add_test(NAME ${case} COMMAND torch_parity ${case})
  set_tests_properties(${case} PROPERTIES
    ENVIRONMENT "${ims_torch_env}" FIXTURES_REQUIRED torch_models
    TIMEOUT 900 SKIP_RETURN_CODE 77)
endforeach()

add_executable(torch_cli torch_cli.c)
target_include_directories(torch_cli PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(torch_cli PRIVATE ims_test_support imgstream ims_deps)
add_dependencies(torch_cli imgstream_tool)
foreach(case torch_cli_classify torch_cli_overrides torch_cli_stream
             torch_cli_usage)
  add_test(NAME ${case} COMMAND torch_cli ${case})
  set_tests_properties(${case} PROPERTIES
    ENVIRONMENT "${ims_torch_env}" FIXTURES_REQUIRED torch_models
    TIMEOUT 900 SKIP_RETURN_CODE 77)
endforeach()

# The Reshape lowering on exporter forms and hostile shapes (no PyTorch
# needed: models from tests/support/onnx_writer.c).
ims_add_test(NAME torch_onnx_reshape SOURCES torch_onnx_reshape.c)

# scripts/export-onnx.py's refusals: bad opset, model, seed, missing
# --out or --calibrate file (tests/torch_export_errors.py).
add_test(NAME torch_export_errors
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/torch_export_errors.py
          ${CMAKE_CURRENT_BINARY_DIR}/tmp)
set_tests_properties(torch_export_errors PROPERTIES TIMEOUT 300)
