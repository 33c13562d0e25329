# SPDX-License-Identifier: Apache-2.0
# S3-protocol buckets (s3://, src/stream/bucket_s3.c) against a real
# S3-protocol server on 127.0.0.1: the npm package s3rver, pinned by
# tests/s3/package-lock.json and installed into the build tree by the
# s3_server_install fixture (tests/s3/setup.sh: `npm ci`; skips only
# when node is missing, and fails instead with CI=true).
# tests/support/s3_server.h starts, kills and restarts it.
#   s3_bucket   the backend through the library (tests/s3_bucket.c)
#   s3_stream   produce --to s3:// and stream --source s3:// end to end
#               (tests/s3_stream.c; one CTest entry per case)
set(ims_s3_dir ${CMAKE_CURRENT_BINARY_DIR}/s3)
add_test(NAME s3_server_install
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/s3/setup.sh ${ims_s3_dir})
set_tests_properties(s3_server_install PROPERTIES
  FIXTURES_SETUP s3rver SKIP_RETURN_CODE 77 TIMEOUT 600)

ims_add_test(NAME s3_bucket SOURCES s3_bucket.c)
ims_add_test(NAME s3_stream SOURCES s3_stream.c ARGS s3_produce_stream)
add_dependencies(s3_stream imgstream_tool)
get_test_property(s3_stream ENVIRONMENT ims_s3_env)
set(ims_s3_tests s3_bucket s3_stream)
foreach(case s3_stream_sigkill s3_stream_pagination s3_errors_credentials
             s3_errors_server_restart s3_errors_server_gone
             s3_errors_sigterm_retrying s3_errors_network_cut)
  add_test(NAME ${case} COMMAND s3_stream ${case})
  set_tests_properties(${case} PROPERTIES ENVIRONMENT "${ims_s3_env}")
  list(APPEND ims_s3_tests ${case})
endforeach()
foreach(t ${ims_s3_tests})
  set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT
    "IMGSTREAM_S3RVER=${ims_s3_dir}/node_modules/s3rver/bin/s3rver.js")
  set_tests_properties(${t} PROPERTIES FIXTURES_REQUIRED s3rver
                       SKIP_RETURN_CODE 77 TIMEOUT 900)
endforeach()
