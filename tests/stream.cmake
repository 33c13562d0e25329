# SPDX-License-Identifier: Apache-2.0
# Streaming: buckets, the classifier object, the checkpoint, and the
# micro-batch engine with its sinks, through the library and through
# `imgstream stream`.
ims_add_test(NAME stream_bucket SOURCES stream_bucket.c)
# The engine and sinks through the library (recovery, injected failures).
ims_add_test(NAME stream_engine SOURCES stream_engine.c
             PROPERTIES TIMEOUT 900)
# `imgstream stream` end to end: exactly-once, SIGKILL/SIGTERM, bad files,
# a full sink file (tests/cli_stream.c). Slow under sanitizers.
ims_add_test(NAME cli_stream SOURCES cli_stream.c PROPERTIES TIMEOUT 1500)
add_dependencies(cli_stream imgstream_tool)
# `imgstream stream --learn`: the learned column byte-identical across
# SIGKILLs, its outputs, class limit, bad heads, a damaged checkpoint.
ims_add_test(NAME cli_learn SOURCES cli_learn.c PROPERTIES TIMEOUT 900)
add_dependencies(cli_learn imgstream_tool)
# The classifier object: lanes (split by image) give the same answers as
# one image at a time, failed images included.
ims_add_test(NAME stream_classifier SOURCES stream_classifier.c)
# Checkpoint compaction through the internal API: snapshot format, bounded
# file count, a failure at each step of compaction, damaged snapshots.
ims_add_test(NAME stream_checkpoint SOURCES stream_checkpoint.c)
# A sink of the caller's own (ims_sink_custom): rows, a refused batch
# replayed by the next engine, bad arguments.
ims_add_test(NAME stream_custom_sink SOURCES stream_custom_sink.c
             PROPERTIES TIMEOUT 300)
