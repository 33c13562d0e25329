# SPDX-License-Identifier: Apache-2.0
# Scale-out over NATS JetStream (docs/NATS.md), end to end: real
# nats-server processes ($IMGSTREAM_NATS_SERVER) on 127.0.0.1 - one
# JetStream server or a 3-server cluster, stores under the test tmp
# folder - driven by the real imgstream tool and checked through libnats
# (tests/nats_server.h starts, kills and restarts the servers).
#   nats_harness   the harness itself, through libnats only
ims_add_test(NAME nats_harness SOURCES nats_harness.c)
set_tests_properties(nats_harness PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77)
