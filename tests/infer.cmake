# SPDX-License-Identifier: Apache-2.0
# Inference: the engine alone against the independent reference outputs.
ims_add_test(NAME infer_reference SOURCES infer_reference.c
             LIBS ims_core ims_model ims_infer)
ims_add_test(NAME infer_engine SOURCES infer_engine.c
             LIBS ims_core ims_model ims_infer)
# oneDNN (convolutions) and XNNPACK give bit-identical results.
ims_add_test(NAME infer_backends SOURCES infer_backends.c
             LIBS ims_core ims_model ims_infer)
# Our 3x3 depthwise kernel (dw_ops.c) equals XNNPACK's, bit for bit.
ims_add_test(NAME infer_dw SOURCES infer_dw.c
             LIBS ims_core ims_model ims_infer)
# Our 8-bit 1x1 kernel (pw_ops.c) equals XNNPACK's, bit for bit.
ims_add_test(NAME infer_pw SOURCES infer_pw.c
             LIBS ims_core ims_model ims_infer)
# Penultimate features: through the graph's own classifier they give the
# reference's outputs; same bits over batches and threads; ONNX too.
ims_add_test(NAME infer_features SOURCES infer_features.c
             LIBS ims_core ims_model ims_infer)
