# Fault injection by the linker (tests/faults.c): the library's calls to
# the allocation functions and to the backends' run calls go through the
# test's __wrap_ functions. The NATS and S3 cases (each with its server)
# run as CTest tests of their own, in parallel with the rest.
ims_add_test(NAME faults
             SOURCES faults.c
             ARGS -faults_nats_out_of_memory -faults_s3_stream_out_of_memory)
target_link_options(faults PRIVATE
  "LINKER:--wrap=malloc,--wrap=calloc,--wrap=realloc"
  "LINKER:--wrap=aligned_alloc,--wrap=strdup"
  "LINKER:--wrap=xnn_run_operator,--wrap=dnnl_primitive_execute")
get_test_property(faults ENVIRONMENT faults_env)
add_test(NAME faults_nats COMMAND faults faults_nats_out_of_memory)
set_tests_properties(faults_nats PROPERTIES ENVIRONMENT "${faults_env}"
                     SKIP_RETURN_CODE 77)
# s3rver comes from tests/s3.cmake's s3_server_install fixture.
add_test(NAME faults_s3 COMMAND faults faults_s3_stream_out_of_memory)
set(faults_s3rver
    ${CMAKE_CURRENT_BINARY_DIR}/s3/node_modules/s3rver/bin/s3rver.js)
set_tests_properties(faults_s3 PROPERTIES
  ENVIRONMENT "${faults_env};IMGSTREAM_S3RVER=${faults_s3rver}"
  FIXTURES_REQUIRED s3rver SKIP_RETURN_CODE 77)
