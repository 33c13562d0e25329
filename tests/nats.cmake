# SPDX-License-Identifier: Apache-2.0
# Scale-out over NATS JetStream (docs/NATS.md), end to end: real
# nats-server processes ($IMGSTREAM_NATS_SERVER) on 127.0.0.1 - one
# JetStream server or a 3-server cluster, stores under the test tmp
# folder - driven by the real imgstream tool and checked through libnats
# (tests/support/nats_server.h starts, kills and restarts the servers).
#   nats_harness   the harness itself, through libnats only
#   nats_workers   one producer, 3 workers, 300 images: one result each,
#                  the top-1 of `imgstream classify`
#   nats_failover  3-server cluster, 3 replicas: a server SIGKILLed
#                  mid-run and restarted
#   nats_errors    no server behind the URL; an image over max_payload;
#                  publishing refused; usage
#   nats_queue     the consumer (src/nats/queue.c) directly: messages
#                  pending before a fetch, each once, all acked
#   nats_learn     3 workers with --learn, one SIGKILLed: one head, the
#                  same as one worker's
# The long cases run as CTest tests of their own (ctest -j runs them
# side by side), named after the case:
#   nats_workers_sigkill   a worker SIGKILLed mid-run
#   nats_failover_restart  the single server SIGKILLed and restarted
#   nats_failover_no_quorum  a worker started without quorum waits
# and nats_errors_corrupt runs the undecodable-image cases (one error
# result, terminated). Any other new case joins its binary's test.
ims_add_test(NAME nats_harness SOURCES nats_harness.c
             PROPERTIES TIMEOUT 600)
foreach(t nats_workers nats_failover nats_errors nats_learn)
  ims_add_test(NAME ${t} SOURCES ${t}.c PROPERTIES TIMEOUT 900)
  add_dependencies(${t} imgstream_tool)
endforeach()
ims_split_test(nats_workers CASES "_sigkill$")
ims_split_test(nats_failover CASES "_(restart|no_quorum)$")
ims_split_test(nats_errors AS nats_errors_corrupt CASES "_corrupt_")
# The work-queue consumer itself, messages pending in its subscription
# before a fetch (libnats 3.4.1's Fetch overflow; docs/SECURITY.md).
ims_add_test(NAME nats_queue SOURCES nats_queue.c PROPERTIES TIMEOUT 300)
# The key an image message gets when its headers are missing or lie
# (no server needed).
ims_add_test(NAME nats_keys SOURCES nats_keys.c)
