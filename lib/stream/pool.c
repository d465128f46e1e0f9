/* SPDX-License-Identifier: MIT */
/*
 * An ordered, bounded worker pool. Jobs enter in stream order and leave in
 * the same order (the caller takes the oldest), so the output does not
 * depend on how many workers there are or how fast each is. At most
 * `window` jobs are in flight, which bounds memory. Jobs that call the
 * firmware's UPDATE_DATA commands go only to the first fw_workers workers:
 * with a firmware that allows one caller (kvm) one worker makes every
 * firmware call while the others compress.
 *
 * The pool is the one engine under sender and receiver: it also keeps the
 * engine's free jobs, retires finished ones through the engine's callback
 * (write a job's records, or report a record's failure) and carries the
 * flag that tells running jobs to give up.
 *
 * With 2 or more workers the caller's thread is the last of them: the pool
 * starts one thread fewer, and the caller runs queued jobs whenever it would
 * otherwise wait for one. On a machine with as many cores as workers no
 * thread then waits for a core, and the caller rarely sleeps: each sleep
 * and wake-up costs both cores a context switch (an interrupt between
 * processors, dear in a virtual machine).
 */
#include "stream/stream_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { JOB_QUEUED = 0, JOB_RUNNING = 1, JOB_DONE = 2 };

struct sevmig__pool {
	pthread_mutex_t lock;
	pthread_cond_t work; /* a job was queued, or stop */
	pthread_cond_t done; /* the jobs the caller waits for are finished */
	struct sevmig__job **ring;
	unsigned cap, head, count;
	unsigned want;	   /* the caller sleeps until the oldest `want` jobs are done */
	unsigned nthreads; /* threads started for jobs; 0: jobs run inline */
	unsigned helper;   /* the caller's worker index, or UINT_MAX: it never runs jobs */
	unsigned fw_workers;
	bool stop;
	pthread_t *threads;
	unsigned started;
	int efd; /* eventfd, written when a worker finishes a job; -1 until asked for */
	struct sevmig__job *free_head; /* jobs not in flight (the caller's) */
	unsigned nfree;
	sevmig__retire_fn retire;
	void *retire_arg;
	atomic_bool stopping;
};

/* The oldest k jobs are done (lock held). */
static bool head_done(const struct sevmig__pool *p, unsigned k)
{
	for (unsigned i = 0; i < k; i++)
		if (p->ring[(p->head + i) % p->cap]->state != JOB_DONE)
			return false;
	return true;
}

struct worker_arg {
	struct sevmig__pool *p;
	unsigned id;
};

/* The oldest queued job worker `id` may run, now its (lock held). */
static struct sevmig__job *claim(struct sevmig__pool *p, unsigned id)
{
	for (unsigned i = 0; i < p->count; i++) {
		struct sevmig__job *j = p->ring[(p->head + i) % p->cap];
		if (j->state != JOB_QUEUED)
			continue;
		if (j->needs_fw && id >= p->fw_workers)
			continue;
		j->state = JOB_RUNNING;
		return j;
	}
	return NULL;
}

/* Run a claimed job without the lock (lock held on entry and exit). */
static void run(struct sevmig__pool *p, struct sevmig__job *j, unsigned id)
{
	pthread_mutex_unlock(&p->lock);
	int rc = j->run(j, id);
	pthread_mutex_lock(&p->lock);
	j->rc = rc;
	j->state = JOB_DONE;
	if (p->want && head_done(p, p->want))
		pthread_cond_signal(&p->done);
	if (p->efd >= 0)
		(void)!write(p->efd, &(uint64_t){ 1 }, sizeof(uint64_t));
}

static void *worker_main(void *arg)
{
	struct worker_arg wa = *(struct worker_arg *)arg;
	free(arg);
	struct sevmig__pool *p = wa.p;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct sevmig__job *j = claim(p, wa.id);
		if (j) {
			run(p, j, wa.id);
			continue;
		}
		if (p->stop)
			break;
		pthread_cond_wait(&p->work, &p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int sevmig__pool_new(unsigned workers, unsigned fw_workers, unsigned window,
		     sevmig__retire_fn retire, void *retire_arg, struct sevmig__pool **out)
{
	struct sevmig__pool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->retire = retire;
	p->retire_arg = retire_arg;
	atomic_init(&p->stopping, false);
	p->cap = window ? window : 1;
	p->efd = -1;
	/* One worker stays a thread of its own, so that with kvm the firmware
	 * calls overlap with the caller's writing. */
	p->nthreads = workers >= 2 ? workers - 1 : workers;
	p->helper = workers >= 2 ? workers - 1 : UINT_MAX;
	p->fw_workers = fw_workers ? fw_workers : 1;
	p->ring = calloc(p->cap, sizeof(*p->ring));
	p->threads = calloc(p->nthreads ? p->nthreads : 1, sizeof(*p->threads));
	if (!p->ring || !p->threads || pthread_mutex_init(&p->lock, NULL)) {
		free(p->ring);
		free(p->threads);
		free(p);
		return -ENOMEM;
	}
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	for (unsigned i = 0; i < p->nthreads; i++) {
		struct worker_arg *wa = malloc(sizeof(*wa));
		if (wa) {
			wa->p = p;
			wa->id = i;
		}
		if (!wa || pthread_create(&p->threads[i], NULL, worker_main, wa)) {
			free(wa);
			sevmig__pool_free(p);
			return -EAGAIN;
		}
		p->started++;
	}
	*out = p;
	return 0;
}

void sevmig__pool_free(struct sevmig__pool *p)
{
	if (!p)
		return;
	sevmig__pool_discard(p);
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
	if (p->efd >= 0)
		close(p->efd);
	free(p->threads);
	free(p->ring);
	free(p);
}

unsigned sevmig__pool_inflight(const struct sevmig__pool *p)
{
	return p->count;
}

bool sevmig__pool_full(const struct sevmig__pool *p)
{
	return p->count == p->cap;
}

void sevmig__pool_submit(struct sevmig__pool *p, struct sevmig__job *job)
{
	job->rc = 0;
	if (!p->nthreads) {
		job->state = JOB_RUNNING;
		job->rc = job->run(job, 0);
		job->state = JOB_DONE;
		p->ring[(p->head + p->count) % p->cap] = job;
		p->count++;
		return;
	}
	pthread_mutex_lock(&p->lock);
	job->state = JOB_QUEUED;
	p->ring[(p->head + p->count) % p->cap] = job;
	p->count++;
	/* All of them: a worker woken for a job it may not run (firmware jobs
	 * go only to the first fw_workers) would leave it queued. */
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
}

/* Wait for the oldest job in flight and take it out; NULL when none. */
static struct sevmig__job *wait_oldest(struct sevmig__pool *p)
{
	if (!p->count)
		return NULL;
	if (!p->nthreads) {
		struct sevmig__job *j = p->ring[p->head];
		p->head = (p->head + 1) % p->cap;
		p->count--;
		return j;
	}
	pthread_mutex_lock(&p->lock);
	struct sevmig__job *j = p->ring[p->head], *h;
	while (j->state != JOB_DONE) {
		if (p->helper != UINT_MAX && (h = claim(p, p->helper))) {
			run(p, h, p->helper);
			continue;
		}
		/* Sleep until half of what is in flight is done, not just the
		 * oldest: the next calls then return at once, the workers keep
		 * the other half to work on meanwhile, and the caller is woken
		 * once per few jobs instead of once per job. */
		p->want = p->count > 1 ? p->count / 2 : 1;
		while (!head_done(p, p->want))
			pthread_cond_wait(&p->done, &p->lock);
		p->want = 0;
	}
	p->head = (p->head + 1) % p->cap;
	p->count--;
	pthread_mutex_unlock(&p->lock);
	return j;
}

void sevmig__pool_put(struct sevmig__pool *p, struct sevmig__job *job)
{
	job->next_free = p->free_head;
	p->free_head = job;
	p->nfree++;
}

struct sevmig__job *sevmig__pool_get(struct sevmig__pool *p)
{
	struct sevmig__job *j = p->free_head;
	if (j) {
		p->free_head = j->next_free;
		p->nfree--;
	}
	return j;
}

unsigned sevmig__pool_free_count(const struct sevmig__pool *p)
{
	return p->nfree;
}

int sevmig__pool_fd(struct sevmig__pool *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->efd < 0)
		p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int fd = p->efd < 0 ? -errno : p->efd;
	pthread_mutex_unlock(&p->lock);
	return fd;
}

/* The oldest job in flight if it is done (taken out), else NULL at once;
 * the caller's thread may run one queued job first. */
static struct sevmig__job *try_oldest(struct sevmig__pool *p)
{
	if (!p->count)
		return NULL;
	if (!p->nthreads)
		return wait_oldest(p); /* inline: done at submit */
	uint64_t n;
	/* Clear the event before looking, so that a job finishing after the
	 * look sets it again and the caller's poll sees it. */
	if (p->efd >= 0)
		(void)!read(p->efd, &n, sizeof(n));
	pthread_mutex_lock(&p->lock);
	struct sevmig__job *j = p->ring[p->head], *h;
	/* The caller's thread is a worker too: one queued job, then look. */
	if (j->state != JOB_DONE && p->helper != UINT_MAX && (h = claim(p, p->helper)))
		run(p, h, p->helper);
	if (j->state != JOB_DONE) {
		pthread_mutex_unlock(&p->lock);
		return NULL;
	}
	p->head = (p->head + 1) % p->cap;
	p->count--;
	pthread_mutex_unlock(&p->lock);
	return j;
}

struct sevmig__job *sevmig__pool_peek(const struct sevmig__pool *p, unsigned i)
{
	return p->ring[(p->head + i) % p->cap];
}

/* Retire a job taken out of the window: the engine's callback, then back
 * to the free list whatever it said. */
static int retire(struct sevmig__pool *p, struct sevmig__job *j)
{
	int rc = p->retire(p->retire_arg, j);
	sevmig__pool_put(p, j);
	return rc;
}

int sevmig__pool_retire_oldest(struct sevmig__pool *p)
{
	struct sevmig__job *j = wait_oldest(p);
	return j ? retire(p, j) : 0;
}

int sevmig__pool_retire_done(struct sevmig__pool *p)
{
	struct sevmig__job *j;
	while ((j = try_oldest(p)))
		SEVMIG__TRY(retire(p, j));
	return 0;
}

int sevmig__pool_retire_all(struct sevmig__pool *p)
{
	while (p->count)
		SEVMIG__TRY(sevmig__pool_retire_oldest(p));
	return 0;
}

int sevmig__pool_make_room(struct sevmig__pool *p)
{
	while (!p->nfree || p->count == p->cap)
		SEVMIG__TRY(sevmig__pool_retire_oldest(p));
	return 0;
}

void sevmig__pool_discard(struct sevmig__pool *p)
{
	struct sevmig__job *j;
	while (p && (j = wait_oldest(p)))
		sevmig__pool_put(p, j);
}

void sevmig__pool_stop(struct sevmig__pool *p)
{
	if (p)
		atomic_store(&p->stopping, true);
}

bool sevmig__pool_stopping(const struct sevmig__pool *p)
{
	return atomic_load_explicit(&p->stopping, memory_order_relaxed);
}
