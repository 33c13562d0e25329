# Inference operators: small models written at test time
# (tests/tflite_writer.c) covering every op/type path of the executor,
# checked against naive reference kernels; plus the engine's refusals.
ims_add_test(NAME infer_ops SOURCES infer_ops.c tflite_writer.c
             LIBS ims_core ims_model ims_infer)
