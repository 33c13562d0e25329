/* SPDX-License-Identifier: Apache-2.0 */
/* core_status.c - status names/messages and ims__fail. */
#include "core/error_int.h"
#include "imgstream/imgstream.h"
#include "test.h"

TEST(status_names_are_stable) {
  ASSERT_STR_EQ(ims_status_name(IMS_OK), "ok");
  ASSERT_STR_EQ(ims_status_name(IMS_ERR_BAD_IMAGE), "bad-image");
  ASSERT_STR_EQ(ims_status_name((ims_status)999), "unknown");
  ASSERT_STR_EQ(ims_status_str((ims_status)999), "unknown status");
  ASSERT_STR_EQ(ims_version(), IMS_VERSION_STRING);
}

TEST(fail_fills_error_and_returns_status) {
  ims_error err = {0};
  ASSERT_EQ(ims__fail(&err, IMS_ERR_IO, "x=%d", 42), IMS_ERR_IO);
  ASSERT_EQ(err.status, IMS_ERR_IO);
  ASSERT_STR_EQ(err.message, "x=42");
  ASSERT_EQ(ims__fail(NULL, IMS_ERR_IO, "ignored"), IMS_ERR_IO);
}

TEST_MAIN(status_names_are_stable, fail_fills_error_and_returns_status)
