# SPDX-License-Identifier: Apache-2.0
# S3-protocol buckets (s3://, src/bucket/s3*.c) against a real
# S3-protocol server on 127.0.0.1: the npm package s3rver, pinned by
# tests/s3/package-lock.json and installed into the build tree by the
# s3_server_install fixture (tests/s3/setup.sh: `npm ci`; skips only
# when node is missing, and fails instead with CI=true).
# tests/support/s3_server.h starts, kills and restarts it.
#   s3_bucket   the backend through the library (tests/s3_bucket.c)
#   s3_stream   produce --to s3:// and stream --source s3:// end to end
#               (tests/s3_stream.c): every s3_stream_* and s3_errors_*
#               case is a CTest test of its own, named after it; the
#               test s3_stream runs the others (s3_produce_stream)
set(ims_s3_dir ${CMAKE_CURRENT_BINARY_DIR}/s3)
add_test(NAME s3_server_install
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/s3/setup.sh ${ims_s3_dir})
set_tests_properties(s3_server_install PROPERTIES
  FIXTURES_SETUP s3rver SKIP_RETURN_CODE 77 TIMEOUT 600)

foreach(t s3_bucket s3_stream)
  ims_add_test(NAME ${t} SOURCES ${t}.c
    ENV "IMGSTREAM_S3RVER=${ims_s3_dir}/node_modules/s3rver/bin/s3rver.js"
    PROPERTIES FIXTURES_REQUIRED s3rver TIMEOUT 900)
endforeach()
add_dependencies(s3_stream imgstream_tool)
ims_split_test(s3_stream CASES "^s3_(stream|errors)_")
