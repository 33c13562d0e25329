# SPDX-License-Identifier: Apache-2.0
# The producer, `imgstream produce`, run end to end (real binary, real
# files, ../shared/data/flowers): tests/produce_*.c share support/produce_run.h.
#   produce_cli       scan, order, bad files, loop, JSON, restart, signals,
#                     usage and exit codes
#   produce_cli_unreadable  a chmod 000 image is skipped; SKIPs as root,
#                     where chmod does not stop reads (own entry so that the
#                     skip does not hide the other produce_cli cases)
#   produce_crash     SIGKILL at random moments, restart with --seed: every
#                     image exactly once, no temporary or partial files
#   produce_download  --download from an HTTP server the test runs on
#                     127.0.0.1; archives with unsafe entries are refused
# produce_cli's case list: every TEST_MAIN case but the unreadable one.
set(ims_produce_cli_cases
  produce_flowers_limit_seed produce_same_seed_same_order
  produce_skips_bad_files produce_no_images_fails
  produce_loop_rounds_get_new_names produce_json_lines
  produce_restart_skips_present_objects
  produce_sigterm_stops_after_current_image produce_pacing_rate_and_interval
  produce_removes_stale_temporaries produce_usage_and_exit_codes)
ims_add_test(NAME produce_cli SOURCES produce_cli.c
             ARGS ${ims_produce_cli_cases})
add_test(NAME produce_cli_unreadable
         COMMAND produce_cli produce_skips_unreadable_file)
get_test_property(produce_cli ENVIRONMENT ims_produce_env)
set_tests_properties(produce_cli_unreadable PROPERTIES
  ENVIRONMENT "${ims_produce_env}")
foreach(t produce_crash produce_download)
  ims_add_test(NAME ${t} SOURCES ${t}.c)
endforeach()
foreach(t produce_cli produce_crash produce_download)
  add_dependencies(${t} imgstream_tool)
endforeach()
set_tests_properties(produce_cli produce_cli_unreadable produce_crash
  produce_download PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
