# SPDX-License-Identifier: Apache-2.0
# Core: status codes and the error record.
ims_add_test(NAME core_status SOURCES core_status.c LIBS ims_core)
