/* SPDX-License-Identifier: MIT */
/* Stop signals for the tools: a flag, a self-pipe for poll() sets and TLS,
 * a grace period for writes, and the exit status they mean. */
#include "common/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"

/* ---- signals --------------------------------------------------------------- */

static volatile sig_atomic_t caught;
/* The self-pipe: written once by the first stop signal, never drained, so
 * it stays readable and every wait that polls it ends (a flag tested
 * before poll() would miss a signal landing between the test and the
 * call). */
static int stop_pipe[2] = { -1, -1 };
/* Set CLI_STOP_GRACE_S after the first stop signal: a write still blocked
 * then fails. */
static volatile sig_atomic_t grace_over;

/*
 * A blocking descriptor (a pipe on standard output) cannot be polled with a
 * deadline: once the stop signal came, SIGALRM interrupts a blocked write
 * or read every second, so that the loop around it sees the flags, even
 * when the signal landed between the loop's test and the call.
 */
static void on_alarm(int sig)
{
	(void)sig;
	grace_over = 1;
	alarm(1);
}

static void on_signal(int sig)
{
	int saved = errno;
	if (!caught) {
		if (stop_pipe[1] >= 0)
			(void)!write(stop_pipe[1], "", 1);
		alarm(CLI_STOP_GRACE_S);
	}
	caught = sig;
	errno = saved;
	/* A second Ctrl-C kills, for a user whose peer has stalled. Repeated
	 * SIGTERMs are common (timeout(1) signals the child and its group) and
	 * must not cut the clean exit short. */
	if (sig == SIGINT)
		signal(sig, SIG_DFL);
}

static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };

void cli_catch_signals(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (stop_pipe[0] < 0 && pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK))
		stop_pipe[0] = stop_pipe[1] = -1; /* waits then end at EINTR only */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	/* No SA_RESTART: a blocked read or write must return EINTR. */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigaction(stop_signals[i], &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
}

int cli_stop_fd(void)
{
	return stop_pipe[0];
}

bool cli_interrupted(void)
{
	return caught != 0;
}

int cli_exit_status(int rc)
{
	/* As a shell reports a death by signal: 130 for SIGINT, 143 for
	 * SIGTERM, after the tool cleaned up (ABORT sent, temporaries gone). */
	return rc != CLI_OK && caught ? 128 + caught : rc;
}

void cli_block_signals(bool block)
{
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigaddset(&set, stop_signals[i]);
	sigaddset(&set, SIGALRM); /* it must interrupt the main thread's I/O */
	pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

bool cli_stop_grace_over(void)
{
	return grace_over != 0;
}
