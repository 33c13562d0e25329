/* SPDX-License-Identifier: Apache-2.0 */
/*
 * team.c - the caller-driven parallel-for of team_int.h (read its header
 * first: why not pthreadpool, and the shape of a run).
 *
 * The run word: generation (32 bits) | task count (16) | next index (16).
 * The caller publishes run g by storing (g, n, 0); a task is claimed by
 * moving the index on. The caller uses fetch-add (the word is its own
 * run's until all tasks are done); a helper uses compare-and-swap from
 * the word it read, so a helper that read run g's word late can claim
 * only while run g still has tasks, never a task of g + 1 under g's
 * function. fn and ctx are plain fields: the caller writes them before
 * it stores the run word (release) and a helper reads them after its
 * claim (acquire), and the caller rewrites them only once every task of
 * the run, the helpers' included, is counted done.
 */
#define _POSIX_C_SOURCE 200809L
#include "core/team_int.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#include "core/clock_int.h"
#include "core/error_int.h"

#define TASK_MAX 65534u     /* runs with more tasks stay on the caller */
#define SPIN_NS 200000u     /* a helper spins this long for the next run */
#define YIELD_NS 50000u     /* the caller spins this long for a helper's
                               task, then yields its core between looks */

struct ims__team {
  _Atomic uint64_t run;  /* generation | task count | next index */
  atomic_size_t done;    /* tasks of this run the helpers finished */
  ims__team_task fn;     /* this run's task (see the file comment) */
  void *ctx;
  atomic_bool rest;      /* helpers sleep instead of spinning */
  atomic_bool quit;      /* helpers exit */
  atomic_int sleepers;   /* helpers in (or entering) the wait below */
  pthread_mutex_t mu;
  pthread_cond_t wake;   /* a new run, or quit */
  size_t helpers;        /* started */
  pthread_t threads[];
};

static uint64_t run_word(uint32_t gen, size_t n) {
  return (uint64_t)gen << 32 | (uint64_t)n << 16;
}
static uint32_t word_gen(uint64_t w) { return (uint32_t)(w >> 32); }
static size_t word_count(uint64_t w) { return (size_t)(w >> 16) & 0xffff; }
static size_t word_index(uint64_t w) { return (size_t)w & 0xffff; }

/* Wait for a run newer than `seen`: spin for SPIN_NS (or not at all when
 * resting), then sleep. False when the team is being destroyed. */
static bool wait_for_run(ims__team *t, uint32_t seen) {
  uint64_t until = 0;
  for (unsigned k = 0; !atomic_load(&t->rest); k++) {
    if (atomic_load(&t->quit)) return false;
    if (word_gen(atomic_load(&t->run)) != seen) return true;
    cpu_relax();
    if ((k & 63) != 0) continue;
    uint64_t now = ims__now_mono_ns();
    if (until == 0) until = now + SPIN_NS;
    else if (now >= until) break;
  }
  pthread_mutex_lock(&t->mu);
  atomic_fetch_add(&t->sleepers, 1);
  while (!atomic_load(&t->quit) && word_gen(atomic_load(&t->run)) == seen)
    pthread_cond_wait(&t->wake, &t->mu);
  atomic_fetch_sub(&t->sleepers, 1);
  pthread_mutex_unlock(&t->mu);
  return !atomic_load(&t->quit);
}

/* Claim and run tasks of the run in `w` while it has some. Returns the
 * word last read: of a newer run when one began meanwhile. */
static uint64_t help(ims__team *t, uint64_t w) {
  uint32_t gen = word_gen(w);
  while (word_gen(w) == gen && word_index(w) < word_count(w)) {
    if (!atomic_compare_exchange_weak(&t->run, &w, w + 1)) continue;
    t->fn(t->ctx, word_index(w));
    atomic_fetch_add_explicit(&t->done, 1, memory_order_release);
    w = atomic_load(&t->run);
  }
  return w;
}

static void *helper_main(void *arg) {
  ims__team *t = arg;
  uint32_t seen = 0; /* the last run this helper found without tasks */
  for (;;) {
    uint64_t w = atomic_load(&t->run);
    if (word_gen(w) == seen) {
      if (!wait_for_run(t, seen)) return NULL;
      continue;
    }
    w = help(t, w);
    if (word_index(w) >= word_count(w)) seen = word_gen(w);
  }
}

ims_status ims__team_create(size_t helpers, ims__team **out, ims_error *err) {
  ims__team *t = calloc(1, sizeof *t + helpers * sizeof *t->threads);
  if (t == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  atomic_init(&t->run, run_word(0, 0));
  atomic_init(&t->done, 0);
  atomic_init(&t->rest, true);
  atomic_init(&t->quit, false);
  atomic_init(&t->sleepers, 0);
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->wake, NULL);
  for (; t->helpers < helpers; t->helpers++) {
    int e = pthread_create(&t->threads[t->helpers], NULL, helper_main, t);
    if (e != 0) {
      size_t started = t->helpers;
      ims__team_destroy(t);
      return ims__fail(err, IMS_ERR_NO_MEMORY,
                       "cannot start thread %zu of %zu of a team: %s",
                       started + 2, helpers + 1, strerror(e));
    }
  }
  *out = t;
  return IMS_OK;
}

void ims__team_destroy(ims__team *t) {
  if (t == NULL) return;
  pthread_mutex_lock(&t->mu);
  atomic_store(&t->quit, true);
  pthread_cond_broadcast(&t->wake);
  pthread_mutex_unlock(&t->mu);
  for (size_t i = 0; i < t->helpers; i++) pthread_join(t->threads[i], NULL);
  pthread_cond_destroy(&t->wake);
  pthread_mutex_destroy(&t->mu);
  free(t);
}

size_t ims__team_threads(const ims__team *t) { return t->helpers + 1; }

void ims__team_rest(ims__team *t) { atomic_store(&t->rest, true); }

/* Spin until the helpers have finished `want` tasks; past YIELD_NS give
 * the core away between looks (a helper's core may have been taken, and
 * this one is where it can run again). */
static void wait_done(ims__team *t, size_t want) {
  uint64_t until = 0;
  for (unsigned k = 0;
       atomic_load_explicit(&t->done, memory_order_acquire) < want; k++) {
    cpu_relax();
    if ((k & 63) != 0) continue;
    uint64_t now = ims__now_mono_ns();
    if (until == 0) until = now + YIELD_NS;
    else if (now >= until) sched_yield();
  }
}

void ims__team_run(ims__team *t, ims__team_task fn, void *ctx, size_t n) {
  if (n <= 1 || n > TASK_MAX || t->helpers == 0) {
    for (size_t i = 0; i < n; i++) fn(ctx, i);
    return;
  }
  t->fn = fn;
  t->ctx = ctx;
  atomic_store_explicit(&t->done, 0, memory_order_relaxed);
  atomic_store(&t->rest, false);
  uint32_t gen = word_gen(atomic_load(&t->run)) + 1;
  atomic_store(&t->run, run_word(gen, n));
  if (atomic_load(&t->sleepers) > 0) {
    pthread_mutex_lock(&t->mu);
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->mu);
  }
  size_t mine = 0;
  for (;;) {
    size_t i = word_index(atomic_fetch_add(&t->run, 1));
    if (i >= n) break;
    fn(ctx, i);
    mine++;
  }
  wait_done(t, n - mine);
}
