# SPDX-License-Identifier: Apache-2.0
# The test harness on itself (tests/harness.c runs its own binary): --list,
# a name or -name the binary lacks, selection, exit codes 0/1/77.
ims_add_test(NAME test_harness SOURCES harness.c LIBS ims_core)
