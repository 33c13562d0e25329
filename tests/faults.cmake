# SPDX-License-Identifier: Apache-2.0
# Fault injection by the linker (tests/faults.c): the library's calls to
# the allocation functions, to pthread_create and to the backends' run
# calls go through the test's __wrap_ functions. The NATS cases (faults_nats_*) and the S3
# cases (faults_s3_*), each with its server, run as the CTest tests
# faults_nats and faults_s3, in parallel with the rest (faults).
ims_add_test(NAME faults SOURCES faults.c)
target_link_options(faults PRIVATE
  "LINKER:--wrap=malloc,--wrap=calloc,--wrap=realloc"
  "LINKER:--wrap=aligned_alloc,--wrap=strdup,--wrap=pthread_create"
  "LINKER:--wrap=xnn_run_operator,--wrap=dnnl_primitive_execute")
ims_split_test(faults AS faults_nats CASES "^faults_nats_")
# s3rver comes from tests/s3.cmake's s3_server_install fixture.
set(faults_s3rver
    ${CMAKE_CURRENT_BINARY_DIR}/s3/node_modules/s3rver/bin/s3rver.js)
ims_split_test(faults AS faults_s3 CASES "^faults_s3_"
               ENV "IMGSTREAM_S3RVER=${faults_s3rver}"
               PROPERTIES FIXTURES_REQUIRED s3rver)
