# SPDX-License-Identifier: Apache-2.0
# Learning: the learned head (src/learn/) on the real features of the
# shared flowers and on synthetic ones: accuracy against nearest class
# mean, the same bits however samples are batched, and its file's round
# trips and refusals (tests/learn_head.c). The flower cases extract the
# features of 430 photos once (about 1.5 s; more under sanitizers).
ims_add_test(NAME learn_head SOURCES learn_head.c PROPERTIES TIMEOUT 600)
