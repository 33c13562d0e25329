# SPDX-License-Identifier: Apache-2.0
# Model: the TFLite loader on the real shared models and on broken input,
# and label files / top-K. Links only core + model.
ims_add_test(NAME model_tflite SOURCES model_tflite.c LIBS ims_core ims_model)
ims_add_test(NAME model_tflite_malformed SOURCES model_malformed.c
             LIBS ims_core ims_model)
ims_add_test(NAME labels_load SOURCES labels_load.c LIBS ims_core ims_model)
