# SPDX-License-Identifier: Apache-2.0
# Core: status codes and the error record.
ims_add_test(NAME core_status SOURCES core_status.c LIBS ims_core)
# base64 of the learned samples in checkpoint commits: strict decoding.
ims_add_test(NAME core_base64 SOURCES core_base64.c LIBS ims_core)
