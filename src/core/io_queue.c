/* SPDX-License-Identifier: Apache-2.0 */
/*
 * io_queue.c - durable writes (ims__io_write_durable), or other file
 * work, done in order on one helper thread, so that their fsync()s leave
 * the caller's path: the checkpoint queues a batch's offsets file and
 * goes on classifying, and waits for it only before the batch's rows are
 * written; a second queue runs its compactions (checkpoint.c).
 *
 * How it works: ims__ioq_submit appends a job (folder, name, bytes; or,
 * ims__ioq_submit_fn, a function) to a FIFO and returns its ticket, 1, 2,
 * 3, ... The thread takes the jobs one at a time, in ticket order, and
 * runs each to the end (tmp, write, fsync, close, rename, folder fsync)
 * before it starts the next. So job N is
 * durable before job N+1's file exists under its name: whatever moment
 * the process (or the machine) dies at, the files that are there are a
 * prefix of the queue plus at most the temporary file of the next job.
 * ims__ioq_wait(t) returns once job t (and so every job before it) is
 * durable.
 *
 * Errors are sticky: the first job that fails keeps its message, and no
 * later job is run - a later file must not become durable when an
 * earlier one did not (that would break the order above). Every wait for
 * that job or a later one, and every later submit, returns the failure;
 * waits for earlier jobs still succeed.
 *
 * Not here: what the files mean (checkpoint.c), retries (a failed write
 * is the batch's failure, replayed by the next run).
 *
 * Sections: 1. state  2. the thread  3. calls
 *
 * Threading: submit from one thread (the owner's); wait and check from
 * any. The helper thread calls the io hooks, so they must be callable
 * from a second thread (the POSIX table is). The helper blocks every
 * signal: one meant for the process (SIGINT, SIGTERM) goes to the
 * owner's threads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_int.h"
#include "core/io_int.h"

/* ---- 1. state ---- */

/* One queued job: a function and its context. */
typedef struct ioq_job {
  struct ioq_job *next;     /* later job, NULL last */
  uint64_t ticket;          /* its place in the order, from 1 */
  ims__ioq_fn fn;           /* the work */
  void *ctx;                /* owned: fn's context */
  void (*free_ctx)(void *); /* frees ctx after fn ran or was skipped */
} ioq_job;

/* The context of a durable write. */
typedef struct write_job {
  const ims_stream_io *io; /* BORROWED hooks */
  char *data;              /* owned: the file's bytes */
  size_t len;              /* bytes of data */
  char dir[4096];          /* folder */
  char name[256];          /* file name in it */
} write_job;

struct ims__ioq {
  const ims_stream_io *io; /* BORROWED hooks */
  pthread_t thread;        /* the helper */
  pthread_mutex_t lock;    /* guards everything below */
  pthread_cond_t changed;  /* a job was queued or finished, or closing */
  ioq_job *head, *tail;    /* the FIFO, oldest first */
  uint64_t submitted;      /* ticket of the last job queued */
  uint64_t done;           /* every ticket <= done has succeeded */
  uint64_t failed;         /* ticket of the first failed job, 0 none */
  ims_error error;         /* its message */
  bool closing;            /* destroy: finish the queue, then exit */
};

/* ---- 2. the thread ---- */

static void free_jobs(ioq_job *j) {
  while (j != NULL) {
    ioq_job *next = j->next;
    if (j->free_ctx != NULL) j->free_ctx(j->ctx);
    free(j);
    j = next;
  }
}

static void free_write_job(void *ctx) {
  write_job *w = ctx;
  if (w != NULL) free(w->data);
  free(w);
}

static ims_status run_write_job(void *ctx, ims_error *err) {
  write_job *w = ctx;
  return ims__io_write_durable(w->io, w->dir, w->name, w->data, w->len,
                               err);
}

/* The next job, or NULL when closing and nothing is left. */
static ioq_job *next_job(ims__ioq *q) {
  pthread_mutex_lock(&q->lock);
  while (q->head == NULL && !q->closing)
    pthread_cond_wait(&q->changed, &q->lock);
  ioq_job *j = q->head;
  if (j != NULL) {
    q->head = j->next;
    if (q->head == NULL) q->tail = NULL;
    j->next = NULL;
  }
  pthread_mutex_unlock(&q->lock);
  return j;
}

/* Jobs after a failure are dropped, not run (the header). */
static void *run(void *arg) {
  ims__ioq *q = arg;
  for (ioq_job *j = next_job(q); j != NULL; j = next_job(q)) {
    ims_error e;
    memset(&e, 0, sizeof e);
    pthread_mutex_lock(&q->lock);
    bool skip = q->failed != 0;
    pthread_mutex_unlock(&q->lock);
    ims_status st = skip ? IMS_OK : j->fn(j->ctx, &e);
    pthread_mutex_lock(&q->lock);
    if (!skip && st == IMS_OK) q->done = j->ticket;
    if (!skip && st != IMS_OK) {
      q->failed = j->ticket;
      q->error = e;
      q->error.status = st;
    }
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->lock);
    free_jobs(j);
  }
  return NULL;
}

/* ---- 3. calls ---- */

ims_status ims__ioq_create(const ims_stream_io *io, ims__ioq **out,
                           ims_error *err) {
  ims__ioq *q = calloc(1, sizeof *q);
  if (q == NULL) return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  q->io = io;
  pthread_mutex_init(&q->lock, NULL);
  pthread_cond_init(&q->changed, NULL);
  /* The helper inherits this mask: it never takes the process's signals
   * (a stop request must reach a thread that checks it). */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&q->thread, NULL, run, q);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    pthread_cond_destroy(&q->changed);
    pthread_mutex_destroy(&q->lock);
    free(q);
    return ims__fail(err, rc == EAGAIN ? IMS_ERR_NO_MEMORY : IMS_ERR_IO,
                     "checkpoint: cannot start its writer thread: %s",
                     strerror(rc));
  }
  *out = q;
  return IMS_OK;
}

void ims__ioq_destroy(ims__ioq *q) {
  if (q == NULL) return;
  pthread_mutex_lock(&q->lock);
  q->closing = true;
  pthread_cond_broadcast(&q->changed);
  pthread_mutex_unlock(&q->lock);
  pthread_join(q->thread, NULL);
  free_jobs(q->head); /* none: the thread drained the queue */
  pthread_cond_destroy(&q->changed);
  pthread_mutex_destroy(&q->lock);
  free(q);
}

/* The sticky failure as the caller's error (lock held). */
static ims_status failure(const ims__ioq *q, ims_error *err) {
  return ims__fail(err, q->error.status, "%s", q->error.message);
}

ims_status ims__ioq_submit_fn(ims__ioq *q, ims__ioq_fn fn, void *ctx,
                              void (*free_ctx)(void *ctx),
                              uint64_t *ticket_out, ims_error *err) {
  ioq_job *j = calloc(1, sizeof *j);
  if (j == NULL) {
    if (free_ctx != NULL) free_ctx(ctx);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  j->fn = fn;
  j->ctx = ctx;
  j->free_ctx = free_ctx;
  pthread_mutex_lock(&q->lock);
  if (q->failed != 0) {
    ims_status st = failure(q, err);
    pthread_mutex_unlock(&q->lock);
    free_jobs(j);
    return st;
  }
  uint64_t ticket = j->ticket = ++q->submitted;
  if (q->tail != NULL) q->tail->next = j;
  else q->head = j;
  q->tail = j;
  pthread_cond_broadcast(&q->changed);
  pthread_mutex_unlock(&q->lock);
  /* Not j->ticket: once unlocked, the helper may have run and freed j
   * (a compaction then waited forever on a ticket read from freed
   * memory, in faults_stream_* under load). */
  if (ticket_out != NULL) *ticket_out = ticket;
  return IMS_OK;
}

ims_status ims__ioq_submit(ims__ioq *q, const char *dir, const char *name,
                           char *data, size_t len, uint64_t *ticket_out,
                           ims_error *err) {
  write_job *w = calloc(1, sizeof *w);
  if (w == NULL) {
    free(data);
    return ims__fail(err, IMS_ERR_NO_MEMORY, "out of memory");
  }
  w->io = q->io;
  w->data = data;
  w->len = len;
  snprintf(w->dir, sizeof w->dir, "%s", dir);
  snprintf(w->name, sizeof w->name, "%s", name);
  return ims__ioq_submit_fn(q, run_write_job, w, free_write_job, ticket_out,
                            err);
}

ims_status ims__ioq_wait(ims__ioq *q, uint64_t ticket, ims_error *err) {
  pthread_mutex_lock(&q->lock);
  while (q->done < ticket && (q->failed == 0 || q->failed > ticket))
    pthread_cond_wait(&q->changed, &q->lock);
  ims_status st = q->done >= ticket ? IMS_OK : failure(q, err);
  pthread_mutex_unlock(&q->lock);
  return st;
}

ims_status ims__ioq_check(ims__ioq *q, ims_error *err) {
  pthread_mutex_lock(&q->lock);
  ims_status st = q->failed != 0 ? failure(q, err) : IMS_OK;
  pthread_mutex_unlock(&q->lock);
  return st;
}

ims_status ims__ioq_wait_all(ims__ioq *q, ims_error *err) {
  pthread_mutex_lock(&q->lock);
  uint64_t last = q->submitted;
  pthread_mutex_unlock(&q->lock);
  return ims__ioq_wait(q, last, err);
}
