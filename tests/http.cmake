# SPDX-License-Identifier: Apache-2.0
# Watching a stream (src/http/, docs/METRICS.md): `imgstream stream
# --http` checked with libcurl, promtool and a real Prometheus server
# (Debian's prometheus package), all on 127.0.0.1; the registry alone.
ims_add_test(NAME http_metrics SOURCES http_metrics.c
             PROPERTIES TIMEOUT 600)
add_dependencies(http_metrics imgstream_tool)
# The real Prometheus scrape: one build of CI's three (IMS_ONCE_TESTS).
ims_split_test(http_metrics AS http_prometheus CASES "_prometheus_"
               PROPERTIES ${IMS_ONCE_PROPERTIES})
# results --follow --http and a NATS worker's backlog gauge, over a real
# nats-server (tests/support/nats_server.h).
ims_add_test(NAME http_results SOURCES http_results.c
             PROPERTIES TIMEOUT 600)
add_dependencies(http_results imgstream_tool)
