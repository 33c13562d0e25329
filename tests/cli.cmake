# SPDX-License-Identifier: Apache-2.0
# CLI: the imgstream tool run end to end (real binary, shared models and
# images); see tests/cli_classify.c. Runs inference, so it is slow under
# sanitizers: give it time.
ims_add_test(NAME cli_classify SOURCES cli_classify.c PROPERTIES TIMEOUT 900)
add_dependencies(cli_classify imgstream_tool)
# --config FILE (src/cli/config.c): linked with the tool's own objects
# (ims_cli) for the commands' option tables, and with --wrap for the
# allocation functions to fail each of a load's allocations in turn; runs
# the tool too (tests/cli_config.c).
ims_add_test(NAME cli_config SOURCES cli_config.c LIBS ims_cli imgstream
             PROPERTIES TIMEOUT 300)
target_link_options(cli_config PRIVATE
  "LINKER:--wrap=malloc,--wrap=calloc,--wrap=realloc")
add_dependencies(cli_config imgstream_tool)
# The manual pages against each command's option table (ims_cli) and
# --help, and man -l on the built pages (tests/cli_man.c).
ims_add_test(NAME cli_man SOURCES cli_man.c LIBS ims_cli imgstream
             ENV "IMS_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
                 "IMS_BUILD_DIR=${CMAKE_BINARY_DIR}")
add_dependencies(cli_man imgstream_tool)
if(TARGET man_pages)
  add_dependencies(cli_man man_pages)
endif()
