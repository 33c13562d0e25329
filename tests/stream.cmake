# Streaming: buckets, and (later) the micro-batch engine.
ims_add_test(NAME stream_bucket SOURCES stream_bucket.c
             LIBS imgstream)
# The engine and sinks through the library (recovery, injected failures).
ims_add_test(NAME stream_engine SOURCES stream_engine.c)
set_tests_properties(stream_engine PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77)
# `imgstream stream` end to end: exactly-once, SIGKILL/SIGTERM, bad files,
# a full sink file (tests/cli_stream.c). Slow under sanitizers.
ims_add_test(NAME cli_stream SOURCES cli_stream.c)
add_dependencies(cli_stream imgstream_tool)
set_tests_properties(cli_stream PROPERTIES TIMEOUT 1500 SKIP_RETURN_CODE 77)
# The classifier object: lanes (split by image) give the same answers as
# one image at a time, failed images included.
ims_add_test(NAME stream_classifier SOURCES stream_classifier.c)
# Checkpoint compaction through the internal API: snapshot format, bounded
# file count, a failure at each step of compaction, damaged snapshots.
ims_add_test(NAME stream_checkpoint SOURCES stream_checkpoint.c)
