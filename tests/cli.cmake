# SPDX-License-Identifier: Apache-2.0
# CLI: the imgstream tool run end to end (real binary, shared models and
# images); see tests/cli_classify.c. Runs inference, so it is slow under
# sanitizers: give it time.
ims_add_test(NAME cli_classify SOURCES cli_classify.c)
add_dependencies(cli_classify imgstream_tool)
set_tests_properties(cli_classify PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77)
