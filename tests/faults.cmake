# Fault injection by the linker (tests/faults.c): the library's calls to
# the allocation functions and to the backends' run calls go through the
# test's __wrap_ functions. The NATS case (a server, about a minute) runs
# as its own CTest test, in parallel with the rest.
ims_add_test(NAME faults
             SOURCES faults.c float_model.c tflite_writer.c onnx_writer.c
                     image_fixtures.c
             ARGS -faults_nats_out_of_memory)
target_link_options(faults PRIVATE
  "LINKER:--wrap=malloc,--wrap=calloc,--wrap=realloc"
  "LINKER:--wrap=aligned_alloc,--wrap=strdup"
  "LINKER:--wrap=xnn_run_operator,--wrap=dnnl_primitive_execute")
add_test(NAME faults_nats COMMAND faults faults_nats_out_of_memory)
get_test_property(faults ENVIRONMENT faults_env)
set_tests_properties(faults_nats PROPERTIES ENVIRONMENT "${faults_env}"
                     SKIP_RETURN_CODE 77)
