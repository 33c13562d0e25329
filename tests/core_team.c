/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core_team.c - the caller-driven parallel-for (src/core/team_int.h):
 * every task of every run runs exactly once, whatever the count (0, 1,
 * a few, many, more than the run word holds) and however runs follow
 * each other (back to back, after a rest, after the helpers fell
 * asleep); helpers take part; a team with helpers busy elsewhere still
 * finishes its runs on the caller; destroy joins sleeping helpers.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "core/team_int.h"
#include "test.h"

enum { MAX_TASKS = 70000, RUNS = 3000 };

typedef struct tally {
  atomic_uint_least32_t *seen; /* times task i ran in this run */
  pthread_t caller;
  atomic_size_t by_helpers;    /* tasks run off the caller's thread */
  unsigned spin;               /* busy work per task, to overlap */
} tally;

static void count_task(void *ctx, size_t i) {
  tally *t = ctx;
  volatile unsigned busy = 0; /* volatile: the loop stays */
  for (unsigned k = 0; k < t->spin; k++) busy = busy + k;
  (void)busy;
  atomic_fetch_add(&t->seen[i], 1);
  if (!pthread_equal(pthread_self(), t->caller))
    atomic_fetch_add(&t->by_helpers, 1);
}

/* One run of n tasks; each must have run once. */
static void run_once(ims__team *team, tally *t, size_t n) {
  for (size_t i = 0; i < n; i++) atomic_store(&t->seen[i], 0);
  ims__team_run(team, count_task, t, n);
  for (size_t i = 0; i < n; i++)
    if (atomic_load(&t->seen[i]) != 1)
      TEST__FAIL("run of %zu tasks: task %zu ran %u times", n, i,
                 (unsigned)atomic_load(&t->seen[i]));
}

static tally *new_tally(void) {
  tally *t = calloc(1, sizeof *t);
  ASSERT(t != NULL);
  t->seen = calloc(MAX_TASKS, sizeof *t->seen);
  ASSERT(t->seen != NULL);
  t->caller = pthread_self();
  return t;
}

static void free_tally(tally *t) {
  free(t->seen);
  free(t);
}

TEST(team_every_task_once) {
  ims_error err = {0};
  ims__team *team = NULL;
  ASSERT_OK(ims__team_create(2, &team, &err), &err);
  ASSERT_EQ(ims__team_threads(team), 3u);
  tally *t = new_tally();
  t->spin = 200;
  static const size_t counts[] = {0, 1, 2, 3, 7, 64, 113, 1000};
  for (int run = 0; run < RUNS; run++) {
    run_once(team, t, counts[run % 8]);
    if (run % 97 == 0) ims__team_rest(team); /* helpers to sleep */
  }
  /* more tasks than the run word counts: all on the caller, still once */
  run_once(team, t, MAX_TASKS);
  fprintf(stderr, "%zu tasks run by helpers\n", atomic_load(&t->by_helpers));
  ASSERT(atomic_load(&t->by_helpers) > 0);
  ims__team_destroy(team);
  ims__team_destroy(NULL);
  free_tally(t);
}

/* Helpers that have slept long (past their spin) wake for a run: every
 * run after a nap is whole, and within 200 of them (a loaded CI machine
 * may keep the helper off a core for some) the helper takes part. */
TEST(team_after_sleep) {
  ims_error err = {0};
  ims__team *team = NULL;
  ASSERT_OK(ims__team_create(1, &team, &err), &err);
  tally *t = new_tally();
  t->spin = 20000;
  int run = 0;
  for (; run < 200 && (run < 20 || atomic_load(&t->by_helpers) == 0);
       run++) {
    struct timespec nap = {0, 2 * 1000 * 1000}; /* past the 200 us spin */
    nanosleep(&nap, NULL);
    run_once(team, t, 50);
  }
  fprintf(stderr, "%d runs after a nap, %zu tasks by the helper\n", run,
          atomic_load(&t->by_helpers));
  ASSERT(atomic_load(&t->by_helpers) > 0);
  ims__team_destroy(team);
  free_tally(t);
}

typedef struct nested {
  ims__team *team;     /* a second team, run from inside the first's */
  tally *t;            /* the inner runs' tasks */
  atomic_int outer[4]; /* times each outer task ran in this run */
  int inner_runs;      /* inner runs made (by the caller only) */
} nested;

/* Task of the outer run: on the caller's thread, task 0 runs a whole
 * run of the inner team (whose helper may be the one taking the outer
 * run's other tasks); every task counts itself. */
static void outer_task(void *ctx, size_t i) {
  nested *x = ctx;
  atomic_fetch_add(&x->outer[i], 1);
  if (i == 0 && pthread_equal(pthread_self(), x->t->caller)) {
    run_once(x->team, x->t, 500);
    x->inner_runs++;
  }
}

/* Two teams on 2 cores: one team's helpers busy (its caller is inside a
 * long task), the other's runs still finish, each task once. */
TEST(team_beside_another) {
  ims_error err = {0};
  ims__team *a = NULL, *b = NULL;
  ASSERT_OK(ims__team_create(1, &a, &err), &err);
  ASSERT_OK(ims__team_create(1, &b, &err), &err);
  tally *t = new_tally();
  t->spin = 100;
  nested x = {.team = b, .t = t};
  for (int run = 0; run < 200; run++) {
    for (int i = 0; i < 4; i++) atomic_store(&x.outer[i], 0);
    ims__team_run(a, outer_task, &x, 4);
    for (int i = 0; i < 4; i++) ASSERT_EQ(atomic_load(&x.outer[i]), 1);
  }
  fprintf(stderr, "%d of 200 outer runs ran an inner run\n", x.inner_runs);
  ASSERT(x.inner_runs > 0); /* the caller claims first: task 0 is its */
  ims__team_destroy(a);
  ims__team_destroy(b);
  free_tally(t);
}

TEST_MAIN(team_every_task_once, team_after_sleep, team_beside_another)
