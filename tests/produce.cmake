# SPDX-License-Identifier: Apache-2.0
# The producer, `imgstream produce`, run end to end (real binary, real
# files, ../shared/data/flowers): tests/produce_*.c share
# support/produce_run.h.
#   produce_cli       scan, order, bad files, loop, JSON, restart, signals,
#                     usage and exit codes, a bucket write that fails
#   produce_cli_unreadable  the cases with "unreadable" in their name (a
#                     chmod 000 image is skipped): they SKIP as root,
#                     where chmod does not stop reads, so they run apart
#                     and their skip does not hide the other cases
#   produce_crash     SIGKILL at random moments, restart with --seed: every
#                     image exactly once, no temporary or partial files
#   produce_download  --download from an HTTP server the test runs on
#                     127.0.0.1; archives with unsafe entries are refused
foreach(t produce_cli produce_crash produce_download)
  ims_add_test(NAME ${t} SOURCES ${t}.c PROPERTIES TIMEOUT 300)
  add_dependencies(${t} imgstream_tool)
endforeach()
ims_split_test(produce_cli AS produce_cli_unreadable CASES "unreadable")
