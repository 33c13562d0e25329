# Fault injection by the linker (tests/faults.c): the library's calls to
# the allocation functions and to the backends' run calls go through the
# test's __wrap_ functions.
ims_add_test(NAME faults
             SOURCES faults.c float_model.c tflite_writer.c onnx_writer.c
                     image_fixtures.c
             LIBS imgstream)
target_link_options(faults PRIVATE
  "LINKER:--wrap=malloc,--wrap=calloc,--wrap=realloc"
  "LINKER:--wrap=aligned_alloc,--wrap=strdup"
  "LINKER:--wrap=xnn_run_operator,--wrap=dnnl_primitive_execute")
