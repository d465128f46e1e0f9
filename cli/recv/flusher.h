/* SPDX-License-Identifier: MIT */
/*
 * sevmig-recv's background flusher: makes the memory outputs durable while
 * the migration runs, a batch of bytes at a time, so that the commit's
 * fsync finds little left to flush.
 *
 * Pages go to the disk with O_DIRECT, but a virtual disk keeps them in its
 * host's cache until a flush; one flush of a whole guest at the commit
 * then stalls the end of the migration for as long as the host needs to
 * write it all (0.6 s per 0.5 GiB on the machines measured, all of it on
 * the downtime's path). Flushed as they arrive, those writes overlap with
 * the work of receiving the rest.
 *
 * fdatasync reports a write-back error once per open file: the one that
 * sees it here is the commit's too, so the flusher keeps the first error
 * and the commit refuses on it.
 */
#ifndef SEVMIG_CLI_RECV_FLUSHER_H
#define SEVMIG_CLI_RECV_FLUSHER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct flusher {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	const int *fds; /* the files to flush (not owned) */
	size_t nfds;
	uint64_t every;		  /* bytes written between flushes */
	_Atomic uint64_t written; /* bytes written so far, by any writer */
	uint64_t asked;		  /* flushes asked for (lock held) */
	bool stop, running;
	int err;	 /* the first error (positive errno), 0 if none */
	size_t err_file; /* the index into fds of that error */
};

/* Start flushing fds[0..n) every `every` bytes written. 0, or a positive
 * errno (the flusher is then off: flusher_written() and flusher_stop() do
 * nothing). A zeroed struct flusher is off too. */
int flusher_start(struct flusher *f, const int *fds, size_t n, uint64_t every);
/* `len` more bytes were written (any thread). */
void flusher_written(struct flusher *f, uint64_t len);
/* Stop and wait for the thread: the first flush error (positive errno, the
 * file's index in *file), or 0; again on every later call. */
int flusher_stop(struct flusher *f, size_t *file);

#endif
