# SPDX-License-Identifier: Apache-2.0
# CLI: the imgstream tool run end to end (real binary, shared models and
# images); see tests/cli_classify.c. Runs inference, so it is slow under
# sanitizers: give it time.
ims_add_test(NAME cli_classify SOURCES cli_classify.c PROPERTIES TIMEOUT 900)
add_dependencies(cli_classify imgstream_tool)
