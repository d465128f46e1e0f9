/* SPDX-License-Identifier: MIT */
/* sevmig-recv's writer threads (writer.h). */
#include "recv/writer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/sevmig.h>

#include "common/signals.h"

/* A buffer holds a record's pages, the most one write can be: a longer
 * one is queued in parts. */
#define BUF_SIZE ((size_t)SEVMIG_STREAM_MAX_BATCH * SEVMIG_PAGE_SIZE)

struct writer_item {
	size_t file;
	uint64_t at;
	size_t len;
	bool zeros;
	bool busy;    /* a thread is writing it */
	uint8_t *buf; /* BUF_SIZE bytes, page-aligned (O_DIRECT) */
	struct writer_item *next;
};

static void *writer_main(void *arg);

/* The buffers and the lock, once no thread runs. */
static void release(struct writer *w)
{
	while (w->spare) {
		struct writer_item *it = w->spare;
		w->spare = it->next;
		free(it->buf);
		free(it);
	}
	pthread_cond_destroy(&w->room);
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->lock);
}

int writer_start(struct writer *w, unsigned threads, writer_write_fn fn, void *arg)
{
	*w = (struct writer){ .write = fn, .arg = arg };
	if (threads > WRITER_MAX_THREADS)
		threads = WRITER_MAX_THREADS;
	int e = pthread_mutex_init(&w->lock, NULL);
	if (e)
		return e;
	if ((e = pthread_cond_init(&w->work, NULL))) {
		pthread_mutex_destroy(&w->lock);
		return e;
	}
	if ((e = pthread_cond_init(&w->room, NULL))) {
		pthread_cond_destroy(&w->work);
		pthread_mutex_destroy(&w->lock);
		return e;
	}
	/* Four buffers per thread: writes under way, and the next ones
	 * queued behind them (some wait for an overlapping one). */
	for (unsigned i = 0; i < 4 * threads; i++) {
		struct writer_item *it = calloc(1, sizeof(*it));
		void *buf = NULL;
		if (!it || posix_memalign(&buf, SEVMIG_PAGE_SIZE, BUF_SIZE)) {
			free(it);
			break;
		}
		it->buf = buf;
		it->next = w->spare;
		w->spare = it;
	}
	for (unsigned n = 0; n < threads && w->spare; n++) {
		if ((e = cli_thread_start(&w->thread[n], writer_main, w)))
			break;
		w->nthreads = n + 1;
	}
	if (w->nthreads)
		return 0;
	release(w);
	*w = (struct writer){ .write = fn, .arg = arg };
	return e ? e : ENOMEM;
}

static bool overlap(const struct writer_item *a, const struct writer_item *b)
{
	return a->file == b->file && a->at < b->at + b->len && b->at < a->at + a->len;
}

/* The oldest queued write that no earlier write overlaps (lock held). */
static struct writer_item *next_ready(struct writer *w)
{
	for (struct writer_item *it = w->head; it; it = it->next) {
		if (it->busy)
			continue;
		const struct writer_item *o = w->head;
		while (o != it && !overlap(o, it))
			o = o->next;
		if (o == it)
			return it;
	}
	return NULL;
}

static void unlink_item(struct writer *w, struct writer_item *it)
{
	struct writer_item **p = &w->head, *prev = NULL;
	while (*p != it) {
		prev = *p;
		p = &(*p)->next;
	}
	*p = it->next;
	if (w->tail == it)
		w->tail = prev;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct writer_item *it = next_ready(w);
		if (!it) {
			if (w->stop && !w->head)
				break;
			pthread_cond_wait(&w->work, &w->lock);
			continue;
		}
		it->busy = true;
		bool skip = w->err != 0; /* after a failure, nothing more */
		pthread_mutex_unlock(&w->lock);
		int rc =
		    skip ? 0
			 : w->write(w->arg, it->file, it->at, it->zeros ? NULL : it->buf, it->len);
		pthread_mutex_lock(&w->lock);
		if (rc < 0 && !w->err)
			w->err = rc;
		unlink_item(w, it);
		it->next = w->spare;
		w->spare = it;
		/* Writes it held back may go now; a caller may take its buffer. */
		pthread_cond_broadcast(&w->work);
		pthread_cond_signal(&w->room);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int writer_write(struct writer *w, size_t file, uint64_t at, const void *data, size_t len)
{
	if (!w->nthreads) /* no threads, or stopped */
		return w->err ? w->err : w->write(w->arg, file, at, data, len);
	const uint8_t *p = data;
	while (len) {
		size_t n = len < BUF_SIZE ? len : BUF_SIZE;
		pthread_mutex_lock(&w->lock);
		while (!w->spare && !w->err)
			pthread_cond_wait(&w->room, &w->lock);
		int err = w->err;
		struct writer_item *it = err ? NULL : w->spare;
		if (it)
			w->spare = it->next;
		pthread_mutex_unlock(&w->lock);
		if (err)
			return err;
		/* Copied outside the lock: the item is ours until queued. */
		*it = (struct writer_item){
			.file = file, .at = at, .len = n, .zeros = !p, .buf = it->buf
		};
		if (p)
			memcpy(it->buf, p, n);
		pthread_mutex_lock(&w->lock);
		if (w->tail)
			w->tail->next = it;
		else
			w->head = it;
		w->tail = it;
		pthread_cond_signal(&w->work);
		pthread_mutex_unlock(&w->lock);
		at += n;
		len -= n;
		if (p)
			p += n;
	}
	return 0;
}

int writer_stop(struct writer *w)
{
	if (!w->nthreads)
		return w->err; /* stopped, or never started */
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->thread[i], NULL);
	w->nthreads = 0;
	release(w);
	return w->err;
}
