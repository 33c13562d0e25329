# SPDX-License-Identifier: Apache-2.0
# Fuzzing (tests/fuzz/, docs/SECURITY.md). Every harness fuzz/fuzz_<h>.c
# is built twice:
#   - always: fuzz_replay_<h>, the harness with fuzz/driver.c (a plain
#     main()), and the CTest test fuzz_regress_<h> replaying the inputs
#     in fuzz/regressions/<h>/ (crashes once found; any compiler);
#   - with -DIMS_FUZZ=ON (clang only): fuzz_<h>, the libFuzzer binary, and
#     the library's objects get coverage instrumentation
#     (-fsanitize=fuzzer-no-link). scripts/fuzz configures build-fuzz/
#     this way, with IMS_SANITIZE=ON, and runs them.
option(IMS_FUZZ "Build the libFuzzer harnesses (needs clang)" OFF)
set(ims_fuzz_harnesses tflite image checkpoint snapshot labels nats archive
                       head config)
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_onnx.c)
  list(APPEND ims_fuzz_harnesses onnx)
endif()

if(IMS_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "IMS_FUZZ=ON needs clang (CC=clang)")
  endif()
  foreach(area ${ims_areas} cli)
    if(TARGET ims_${area})
      target_compile_options(ims_${area} PRIVATE -fsanitize=fuzzer-no-link)
    endif()
  endforeach()
endif()

foreach(h ${ims_fuzz_harnesses})
  set(src ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_${h}.c
          ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_util.c)
  add_executable(fuzz_replay_${h} ${src}
                 ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/driver.c)
  # the config harness is the tool's (src/cli/config.c): ims_cli first
  set(libs imgstream ims_deps)
  if(h STREQUAL "config")
    set(libs ims_cli imgstream ims_deps)
  endif()
  target_link_libraries(fuzz_replay_${h} PRIVATE ${libs})
  add_test(NAME fuzz_regress_${h} COMMAND fuzz_replay_${h}
           ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/regressions/${h})
  set_tests_properties(fuzz_regress_${h} PROPERTIES TIMEOUT 120
    ENVIRONMENT "TMPDIR=${CMAKE_CURRENT_BINARY_DIR}/tmp")
  if(IMS_FUZZ)
    add_executable(fuzz_${h} ${src})
    target_compile_options(fuzz_${h} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${h} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz_${h} PRIVATE ${libs})
  endif()
endforeach()

# fuzz_seeds OUTDIR: small valid TFLite models, images and learned heads,
# seeds that need the tests' C writers from ims_test_support or the
# library itself (tests/fuzz/make_seeds.py runs it).
add_executable(fuzz_seeds ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/seeds.c
               ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/seeds_onnx.c
               ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/seeds_head.c)
target_link_libraries(fuzz_seeds PRIVATE ims_test_support ims_core ims_model
                      ims_learn ims_deps)
