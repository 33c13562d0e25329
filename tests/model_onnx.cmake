# SPDX-License-Identifier: Apache-2.0
# The ONNX loader: well-formed models (tests/support/onnx_writer.c) and
# malformed ones (truncations, byte flips, wrong wire types, cycles, bad
# indices, unsupported operators, external data escaping the folder, huge
# dims).
ims_add_test(NAME model_onnx SOURCES model_onnx.c
             LIBS ims_core ims_model ims_infer)
ims_add_test(NAME model_onnx_malformed
             SOURCES model_onnx_malformed.c
             LIBS ims_core ims_model)
