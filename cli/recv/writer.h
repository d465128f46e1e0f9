/* SPDX-License-Identifier: MIT */
/*
 * sevmig-recv's page writes, done by threads of their own, so that the
 * receiver's workers never wait for the disk.
 *
 * A direct write returns when the device has the bytes; a worker that made
 * it would sit idle meanwhile (a quarter of a millisecond per 100 KB on the
 * machines measured, much longer on a busy disk), and workers enough to
 * hide that cost more CPU than they save. Here the caller's bytes are
 * copied into a buffer of the writer's and queued; several writer threads
 * keep several writes in flight.
 *
 * Order: a page can be written more than once (pre-copy rounds rewrite it,
 * zero it, or turn it private), and the last write must win. The receiver
 * hands over writes of pages that overlap in stream order (it runs records
 * that share a page one after the other); the writer keeps that order: a
 * write starts only when no write given before it and overlapping it is
 * queued or under way. Writes that do not overlap go in parallel, however
 * close together (a stream writes its pages mostly in order).
 *
 * The first failed write stops all writing: every later call, and the
 * stop, report it.
 */
#ifndef SEVMIG_CLI_RECV_WRITER_H
#define SEVMIG_CLI_RECV_WRITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes len bytes at `at` of output file `file` (data NULL: zeros): 0, or
 * a negative errno. Called from the writer threads, several at once. */
typedef int (*writer_write_fn)(void *arg, size_t file, uint64_t at, const uint8_t *data,
			       size_t len);

enum { WRITER_MAX_THREADS = 16 };

struct writer_item;

struct writer {
	writer_write_fn write;
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t work;		 /* a write was queued, or one finished */
	pthread_cond_t room;		 /* an item came back to the spares */
	struct writer_item *spare;	 /* items (and their buffers) free for use */
	struct writer_item *head, *tail; /* queued or under way, in the order given */
	pthread_t thread[WRITER_MAX_THREADS];
	unsigned nthreads; /* running; 0: writes are made by the caller */
	bool stop;
	int err; /* the first failed write (negative errno), 0 if none */
};

/*
 * Start `threads` writer threads (at most WRITER_MAX_THREADS) with four
 * times as many buffers. 0, or a positive errno when none could start; the writer
 * then makes every write on the caller's thread (a zeroed struct writer
 * does too).
 */
int writer_start(struct writer *w, unsigned threads, writer_write_fn fn, void *arg);
/* Queue a copy of the write (or make it, with no threads): 0, or the first
 * failure so far. data NULL: zeros. Any thread. */
int writer_write(struct writer *w, size_t file, uint64_t at, const void *data, size_t len);
/* Every queued write made (none after a failure), the threads gone and the
 * buffers freed: the first failure, or 0; again on every later call. */
int writer_stop(struct writer *w);

#endif
