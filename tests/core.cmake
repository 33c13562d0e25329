# SPDX-License-Identifier: Apache-2.0
# Core: status codes and the error record.
ims_add_test(NAME core_status SOURCES core_status.c LIBS ims_core)
# base64 of the learned samples in checkpoint commits: strict decoding.
ims_add_test(NAME core_base64 SOURCES core_base64.c LIBS ims_core)
# The caller-driven parallel-for one image's layers are split over
# (src/core/team_int.h): every task once, helpers asleep or busy.
ims_add_test(NAME core_team SOURCES core_team.c LIBS ims_core)
