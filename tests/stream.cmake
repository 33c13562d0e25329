# Streaming: buckets, and (later) the micro-batch engine.
ims_add_test(NAME stream_bucket SOURCES stream_bucket.c
             LIBS imgstream)
# The engine and sinks through the library (recovery, injected failures).
ims_add_test(NAME stream_engine SOURCES stream_engine.c)
set_tests_properties(stream_engine PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77)
