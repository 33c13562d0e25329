/* SPDX-License-Identifier: Apache-2.0 */
/*
 * s3_retry.c - the retry policy of S3 requests (see s3_int.h, section 3).
 *
 * Worth retrying: anything where the request may not have reached the
 * server or the server says "later" - connection refused/reset, DNS and
 * timeouts, a body cut short (so a network cut mid-download just fetches
 * the object again), HTTP 500, 502, 503 (AWS's SlowDown), 504 and 429.
 * Not worth it: 4xx answers about the request itself (403 denied, 404 no
 * such bucket or key, 400 bad request) - retrying cannot change them.
 * All our requests are idempotent (GET, HEAD, a PUT of the same bytes),
 * so repeating one that did reach the server is harmless.
 *
 * Backoff: core/backoff_int.h's, the same as NATS calls'.
 *
 * Threading: no shared state; the caller owns the random state.
 */
#include <curl/curl.h>

#include "bucket/s3_int.h"

bool ims__s3_retryable(int curl_code, long http) {
  switch (curl_code) {
    case CURLE_OK:
      return http == 500 || http == 502 || http == 503 || http == 504 ||
             http == 429;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}
