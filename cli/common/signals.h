/* SPDX-License-Identifier: MIT */
/* Stop signals for the tools (SIGINT, SIGTERM, SIGHUP). */
#ifndef SEVMIG_CLI_SIGNALS_H
#define SEVMIG_CLI_SIGNALS_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

/* How long a write may still take after a stop signal. */
#define CLI_STOP_GRACE_S 2

/* ---- signals --------------------------------------------------------------- */

/*
 * SIGPIPE ignored (a closed pipe or socket becomes an EPIPE the tool reports);
 * SIGINT, SIGTERM and SIGHUP make cli_interrupted() true: a read or wait in
 * progress fails at once, a write has 2 s more to finish its buffer (then
 * it fails: a stalled peer cannot hold the tool), and the progress callback
 * cancels at the next record, so that the run fails cleanly (a sender writes
 * ABORT when the peer still reads; temporaries are removed). SIGALRM is
 * taken for that grace. A second SIGINT kills the process as usual.
 */
void cli_catch_signals(void);
bool cli_interrupted(void);
/* Readable once a stop signal came (a self-pipe; -1 before
 * cli_catch_signals()): for poll() sets and the TLS handle's cancel_fd. */
int cli_stop_fd(void);
/* A tool's exit status: rc, or 128 + the signal when one interrupted it. */
int cli_exit_status(int rc);
/*
 * Block (true) or unblock (false) those signals in the calling thread. Threads
 * inherit the mask: blocking them around the creation of a sender or receiver
 * keeps the library's workers from taking a signal meant to interrupt the
 * main thread's read or write.
 */
void cli_block_signals(bool block);
/*
 * pthread_create() for a helper thread of a tool's own (a flusher, a
 * writer): it starts with every signal blocked, the caller's mask kept, so
 * that a stop signal is for the main thread's read or write to see.
 */
static inline int cli_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return e;
}
/* CLI_STOP_GRACE_S have passed since the first stop signal. */
bool cli_stop_grace_over(void);

#endif
