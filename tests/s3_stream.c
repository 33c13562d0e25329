#define _GNU_SOURCE
#include "s3_server.h"
TEST(s3_produce_stream) {}
TEST(s3_stream_sigkill) {}
TEST(s3_stream_pagination) {}
TEST(s3_errors_credentials) {}
TEST(s3_errors_server_restart) {}
TEST(s3_errors_server_gone) {}
TEST_MAIN(s3_produce_stream, s3_stream_sigkill, s3_stream_pagination, s3_errors_credentials, s3_errors_server_restart, s3_errors_server_gone)
