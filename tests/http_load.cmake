# SPDX-License-Identifier: Apache-2.0
# Hostile HTTP under load (issue 16): ims_http_load, a load generator of
# valid and hostile requests at a fixed rate (tests/support/http_load.c,
# its response parser tests/support/http_reply.c), and the test that runs
# it at 1,000 requests/s for 10 s against a real `imgstream stream
# --http` on 300 real flowers. bench/bench_http.sh uses the same tool
# for the throughput figures. (tests/CMakeLists.txt includes every
# tests/*.cmake, this one with them.)
add_library(ims_http_reply STATIC support/http_reply.c)
target_include_directories(ims_http_reply PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
add_executable(ims_http_load support/http_load.c)
target_link_libraries(ims_http_load PRIVATE ims_http_reply)

ims_add_test(NAME http_load SOURCES http_load.c
             LIBS ims_http_reply imgstream
             ENV "IMS_HTTP_LOAD=$<TARGET_FILE:ims_http_load>"
             PROPERTIES TIMEOUT 300)
add_dependencies(http_load ims_http_load imgstream_tool)
