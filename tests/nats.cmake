# SPDX-License-Identifier: Apache-2.0
# Scale-out over NATS JetStream (docs/NATS.md), end to end: real
# nats-server processes ($IMGSTREAM_NATS_SERVER) on 127.0.0.1 - one
# JetStream server or a 3-server cluster, stores under the test tmp
# folder - driven by the real imgstream tool and checked through libnats
# (tests/support/nats_server.h starts, kills and restarts the servers).
#   nats_harness   the harness itself, through libnats only
ims_add_test(NAME nats_harness SOURCES nats_harness.c)
set_tests_properties(nats_harness PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77)
#   nats_workers   one producer, 3 workers, 300 images: one result each,
#                  the top-1 of `imgstream classify`
#   nats_workers_sigkill  a worker SIGKILLed mid-run
#   nats_failover  3-server cluster, 3 replicas: a server SIGKILLed
#                  mid-run and restarted
#   nats_failover_restart  the single server SIGKILLed and restarted
#   nats_errors    no server behind the URL; an image over max_payload
#   nats_errors_corrupt  undecodable images: one error result, terminated
# Each case is its own CTest entry (ctest -j runs them side by side).
ims_add_test(NAME nats_workers SOURCES nats_workers.c
             ARGS nats_workers_one_result_each)
get_test_property(nats_workers ENVIRONMENT ims_nats_env)
ims_add_test(NAME nats_failover SOURCES nats_failover.c
             ARGS nats_failover_cluster)
ims_add_test(NAME nats_errors SOURCES nats_errors.c
             ARGS nats_errors_unreachable nats_errors_max_payload
                  nats_errors_publish_refused nats_errors_usage)
set(ims_nats_tests nats_workers nats_failover nats_errors)
# more cases of the same executables: test name, executable, case
foreach(entry nats_workers_sigkill:nats_workers:nats_workers_sigkill
              nats_failover_restart:nats_failover:nats_failover_restart
              nats_errors_corrupt:nats_errors:nats_errors_corrupt_image)
  string(REPLACE ":" ";" e ${entry})
  list(GET e 0 t)
  list(GET e 1 exe)
  list(GET e 2 case)
  add_test(NAME ${t} COMMAND ${exe} ${case})
  list(APPEND ims_nats_tests ${t})
endforeach()
foreach(t ${ims_nats_tests})
  set_tests_properties(${t} PROPERTIES ENVIRONMENT "${ims_nats_env}")
endforeach()
foreach(exe nats_workers nats_failover nats_errors)
  add_dependencies(${exe} imgstream_tool)
endforeach()
set_tests_properties(${ims_nats_tests} PROPERTIES TIMEOUT 900
                     SKIP_RETURN_CODE 77)
# The key an image message gets when its headers are missing or lie
# (no server needed).
ims_add_test(NAME nats_keys SOURCES nats_keys.c)
