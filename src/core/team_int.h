/* SPDX-License-Identifier: Apache-2.0 */
/*
 * team_int.h - a parallel-for in which the caller never waits for a
 * thread that has not started: the calling thread and a few helper
 * threads take the tasks of a run as they come, and a run ends when every
 * task is done, not when every helper has checked in.
 *
 * Why not pthreadpool: pthreadpool_parallelize_1d gives each worker a
 * range up front and returns only when every worker has been through it.
 * One image split layer by layer is ~65 such runs of 10-500 us; when a
 * worker's core is taken by another process (on 2 cores: the producer
 * writing the next image), every layer waits for that worker's next time
 * slice. Here a task is claimed one at a time from a shared counter, so a
 * helper that is not running claims nothing and the caller does its work;
 * the only wait left is for a task a helper claimed and is running.
 *
 * How: one 64-bit word holds the run's generation, task count and next
 * task index; the caller publishes a run by storing it, everyone claims
 * by bumping the index (compare-and-swap for helpers, so a helper that
 * read a finished run's word claims nothing of the next), and a counter
 * of finished tasks ends the run. Helpers spin briefly between runs (the
 * layers of one image follow each other within microseconds), then
 * sleep on a condition variable; ims__team_rest sends them to sleep at
 * once (between images, when the caller's thread decodes).
 *
 * Threading: one caller at a time runs and rests a team; the tasks of a
 * run run on the caller's thread and the helpers at once.
 */
#ifndef IMS_CORE_TEAM_INT_H
#define IMS_CORE_TEAM_INT_H

#include <stddef.h>

#include "imgstream/status.h"

typedef struct ims__team ims__team;

typedef void (*ims__team_task)(void *ctx, size_t i);

/* A team of the caller plus `helpers` threads (>= 1), started asleep.
 * IMS_ERR_NO_MEMORY when a thread cannot be started. */
ims_status ims__team_create(size_t helpers, ims__team **out, ims_error *err);

/* Stop and join the helpers. NULL: no-op. */
void ims__team_destroy(ims__team *t);

/* Threads that run tasks: helpers + 1. */
size_t ims__team_threads(const ims__team *t);

/* fn(ctx, i) once for every i in [0, n), on the caller's thread and the
 * helpers; returns when all are done. Never allocates. */
void ims__team_run(ims__team *t, ims__team_task fn, void *ctx, size_t n);

/* Send the helpers to sleep now instead of spinning for the next run. */
void ims__team_rest(ims__team *t);

#endif /* IMS_CORE_TEAM_INT_H */
