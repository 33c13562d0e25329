# Streaming: buckets, and (later) the micro-batch engine.
ims_add_test(NAME stream_bucket SOURCES stream_bucket.c
             LIBS imgstream)
