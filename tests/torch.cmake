# SPDX-License-Identifier: Apache-2.0
# Float models from PyTorch: imgstream against PyTorch 1.13 / torchvision
# 0.14 (Debian's python3-torch, python3-torchvision).
#
# torch_export (fixture setup) runs tests/torch_reference.py: it exports
# mobilenet_v2 (opsets 11, 13, 17), resnet18 and efficientnet_b0 (13, 17)
# with seeded random weights, in several export forms, into tests/torch/
# of the build dir and computes PyTorch's logits and torchvision's
# preprocessed tensors there. It redoes nothing while its stamp matches
# (same scripts, same torch), so the ~1 min of exports happens once per
# build dir. Without PyTorch it skips (and so
# do the tests below), unless CI is set: then it fails.
#
# torch_parity_*, torch_preprocess, torch_decode, torch_input_errors:
# tests/torch_parity.c (library API).
# torch_cli_*: tests/torch_cli.c (`imgstream classify` and `stream` with the
# .onnx models and the --resize/--mean/--std overrides).
set(ims_torch_dir ${CMAKE_CURRENT_BINARY_DIR}/torch)

add_test(NAME torch_export
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/torch_reference.py
          ${ims_torch_dir} ${IMS_SHARED_DIR})
set_tests_properties(torch_export PROPERTIES FIXTURES_SETUP torch_models
  TIMEOUT 1200 SKIP_RETURN_CODE 77)

# Every case of these two binaries is a CTest test of its own, named
# after the case (torch_parity_resnet18, torch_preprocess,
# torch_cli_stream ...).
ims_add_test(NAME torch_parity SOURCES torch_parity.c
             LIBS imgstream ims_image
             ENV "IMGSTREAM_TORCH_DIR=${ims_torch_dir}"
             PROPERTIES FIXTURES_REQUIRED torch_models TIMEOUT 900)
ims_split_test(torch_parity CASES ".")
ims_add_test(NAME torch_cli SOURCES torch_cli.c
             ENV "IMGSTREAM_TORCH_DIR=${ims_torch_dir}"
             PROPERTIES FIXTURES_REQUIRED torch_models TIMEOUT 900)
add_dependencies(torch_cli imgstream_tool)
ims_split_test(torch_cli CASES ".")

# The Reshape lowering on exporter forms and hostile shapes (no PyTorch
# needed: models from tests/support/onnx_writer.c).
ims_add_test(NAME torch_onnx_reshape SOURCES torch_onnx_reshape.c)

# scripts/export-onnx.py's refusals: bad opset, model, seed, missing
# --out or --calibrate file (tests/torch_export_errors.py).
add_test(NAME torch_export_errors
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/torch_export_errors.py
          ${CMAKE_CURRENT_BINARY_DIR}/tmp)
set_tests_properties(torch_export_errors PROPERTIES TIMEOUT 300)
