/* SPDX-License-Identifier: Apache-2.0 */
/*
 * par_ways.h - the three ways the kernel tests (infer_dw.c, infer_pw.c)
 * run a layer, which must all give the same bytes: on the calling
 * thread, over a 3-thread pthreadpool, and over a 3-thread team
 * (core/team_int.h), as one image on the classifier runs.
 */
#ifndef IMS_TEST_PAR_WAYS_H
#define IMS_TEST_PAR_WAYS_H

#include "infer/infer_int.h"
#include "test.h"

enum { PAR_WAYS = 3 };

static const char *const par_way_names[PAR_WAYS] = {
    "1 thread", "3 threads (pool)", "3 threads (team)"};

/* Way `way`'s ims__par in *par, over `pool` (3 threads) or a team made
 * on first use and kept for the process (its threads sleep between
 * runs); NULL for the calling thread. */
static inline const ims__par *par_way(int way, pthreadpool_t pool,
                                      ims__par *par) {
  static ims__team *team;
  if (way == 0) return NULL;
  if (way == 2 && team == NULL) {
    ims_error err = {0};
    ASSERT_OK(ims__team_create(2, &team, &err), &err);
  }
  *par = (ims__par){way == 1 ? pool : NULL, way == 2 ? team : NULL};
  return par;
}

#endif /* IMS_TEST_PAR_WAYS_H */
