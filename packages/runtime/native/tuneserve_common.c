/*
 * Geometry parsing and the worker pool shared by the addon's kernels (see tuneserve_common.h).
 *
 * The pool replaces a pthread_create + pthread_join per kernel call: a training step of the reference CNN makes
 * about 15 split calls, and a new thread each time paid the start-up, a fresh stack and the join on every one of
 * them. Workers start on first use and sleep on a condition variable between calls (no spinning: on a shared or
 * oversubscribed machine a spinning thread takes a core from someone else, and CPU time is what the benchmark
 * judges).
 */
#include "tuneserve_common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

bool tuneserve_read_geometry(napi_env env, napi_value v, Geometry *g) {
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) != napi_ok || type != napi_int32_array ||
      length != 12) {
    return false;
  }
  const int32_t *x = (const int32_t *)data;
  for (int i = 0; i < 12; i++) {
    if (x[i] < 0) return false;
  }
  *g = (Geometry){x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[9], x[10], x[11]};
  return true;
}

static _Thread_local float *scratch = NULL;
static _Thread_local int64_t scratch_floats = 0;

float *tuneserve_scratch(int64_t floats) {
  if (floats > scratch_floats) {
    free(scratch);
    scratch = (float *)malloc(sizeof(float) * (size_t)floats);
    scratch_floats = scratch ? floats : 0;
  }
  return scratch;
}

static atomic_int max_threads = 1;

void tuneserve_set_threads(int n) {
  atomic_store(&max_threads, n < 1 ? 1 : n > TUNESERVE_MAX_THREADS ? TUNESERVE_MAX_THREADS : n);
}

int tuneserve_threads(void) { return atomic_load(&max_threads); }

int64_t tuneserve_chunks(int64_t work, int64_t threshold) {
  const int threads = tuneserve_threads();
  return threads > 1 && work >= threshold ? 4 * threads : 1;
}

/*
 * One job at a time. `busy` is held by the caller for the whole call, so a second JavaScript thread (a worker_thread
 * loading the same addon) or a kernel calling tuneserve_parallel from inside a chunk runs serially instead of
 * waiting. Under `lock`: the job, its generation, the chunks done and the workers still inside it. A worker enters a
 * generation under the lock and leaves it under the lock; a new job is published only when no worker is inside the
 * previous one, so a late worker can never run one job's chunks with another job's function.
 */
static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t settled = PTHREAD_COND_INITIALIZER;
static int workers = 0;
static unsigned generation = 0;
static int inside = 0;
static int64_t done = 0;
static struct {
  RangeFn fn;
  void *ctx;
  int64_t total, chunks;
  int helpers; /* workers asked to join */
  atomic_llong next;
} job;

/* Takes chunks until none is left; returns how many this thread ran. */
static int64_t run_chunks(void) {
  int64_t ran = 0;
  for (;;) {
    const int64_t c = atomic_fetch_add(&job.next, 1);
    if (c >= job.chunks) return ran;
    const int64_t lo = job.total * c / job.chunks, hi = job.total * (c + 1) / job.chunks;
    job.fn(job.ctx, lo, hi);
    ran++;
  }
}

static void *worker_main(void *arg) {
  const int index = (int)(intptr_t)arg;
  unsigned seen = 0;
  pthread_mutex_lock(&lock);
  for (;;) {
    while (generation == seen) pthread_cond_wait(&wake, &lock);
    seen = generation;
    if (index >= job.helpers) continue; /* not needed this time */
    inside++;
    pthread_mutex_unlock(&lock);
    const int64_t ran = run_chunks();
    pthread_mutex_lock(&lock);
    inside--;
    done += ran;
    if (inside == 0 || done == job.chunks) pthread_cond_broadcast(&settled);
  }
  return NULL;
}

void tuneserve_parallel(RangeFn fn, void *ctx, int64_t total, int64_t chunks) {
  if (total <= 0) return;
  if (chunks > total) chunks = total;
  int threads = tuneserve_threads();
  if (threads > chunks) threads = (int)chunks;
  if (threads <= 1 || pthread_mutex_trylock(&busy) != 0) {
    fn(ctx, 0, total);
    return;
  }
  pthread_mutex_lock(&lock);
  while (workers < threads - 1) { /* start missing workers; if the system refuses, the others (and we) do the work */
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    const bool started = pthread_create(&t, &attr, worker_main, (void *)(intptr_t)workers) == 0;
    pthread_attr_destroy(&attr);
    if (!started) break;
    workers++;
  }
  while (inside > 0) pthread_cond_wait(&settled, &lock);
  job.fn = fn;
  job.ctx = ctx;
  job.total = total;
  job.chunks = chunks;
  job.helpers = threads - 1;
  atomic_store(&job.next, 0);
  done = 0;
  generation++;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&lock);

  const int64_t ran = run_chunks();

  pthread_mutex_lock(&lock);
  done += ran;
  while (done < job.chunks) pthread_cond_wait(&settled, &lock);
  pthread_mutex_unlock(&lock);
  pthread_mutex_unlock(&busy);
}
