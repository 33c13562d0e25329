# SPDX-License-Identifier: Apache-2.0
# ONNX operators end to end (loader + executor) on graphs written at test
# time (tests/support/onnx_writer.c), against plain NCHW reference loops.
ims_add_test(NAME infer_onnx_ops SOURCES infer_onnx_ops.c
             LIBS ims_core ims_model ims_infer)
