/* SPDX-License-Identifier: MIT */
/* sevmig-recv's background flusher (flusher.h). */
#include "recv/flusher.h"

#include <errno.h>
#include <unistd.h>

#include "common/signals.h"

static void *flusher_main(void *arg)
{
	struct flusher *f = arg;
	uint64_t done = 0;
	pthread_mutex_lock(&f->lock);
	for (;;) {
		while (!f->stop && f->asked == done)
			pthread_cond_wait(&f->wake, &f->lock);
		if (f->stop)
			break;
		done = f->asked; /* requests that piled up during a flush: one more */
		pthread_mutex_unlock(&f->lock);
		int err = 0;
		size_t bad = 0;
		for (size_t i = 0; i < f->nfds && !err; i++)
			if (fdatasync(f->fds[i]))
				err = errno, bad = i;
		pthread_mutex_lock(&f->lock);
		if (err && !f->err)
			f->err = err, f->err_file = bad;
		if (err)
			break; /* the commit fails anyway: no more flushes */
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int flusher_start(struct flusher *f, const int *fds, size_t n, uint64_t every)
{
	*f = (struct flusher){ .fds = fds, .nfds = n, .every = every };
	atomic_init(&f->written, 0);
	int e = pthread_mutex_init(&f->lock, NULL);
	if (e)
		return e;
	if ((e = pthread_cond_init(&f->wake, NULL))) {
		pthread_mutex_destroy(&f->lock);
		return e;
	}
	e = cli_thread_start(&f->thread, flusher_main, f);
	if (e) {
		pthread_cond_destroy(&f->wake);
		pthread_mutex_destroy(&f->lock);
		return e;
	}
	f->running = true;
	return 0;
}

void flusher_written(struct flusher *f, uint64_t len)
{
	if (!f->running)
		return;
	uint64_t was = atomic_fetch_add_explicit(&f->written, len, memory_order_relaxed);
	if (was / f->every == (was + len) / f->every)
		return; /* no boundary crossed: the common case, no lock */
	pthread_mutex_lock(&f->lock);
	f->asked++;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

int flusher_stop(struct flusher *f, size_t *file)
{
	if (!f->running) {
		*file = f->err_file;
		return f->err;
	}
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	f->running = false;
	*file = f->err_file;
	return f->err;
}
