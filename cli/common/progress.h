/* SPDX-License-Identifier: MIT */
/* The progress line and the end-of-run summary. */
#ifndef SEVMIG_CLI_PROGRESS_H
#define SEVMIG_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

#include <sevmig/sevmig.h>

/* ---- progress and summary ---------------------------------------------------- */

struct cli_progress {
	bool show;	      /* draw the line (stderr is a terminal, not --quiet) */
	bool drawn;	      /* a line is on the screen */
	uint64_t total_pages; /* pages of one full pass, 0 until known */
	double start, last;   /* monotonic seconds */
};

/* Start the clock; draw only when `show`. */
void cli_progress_init(struct cli_progress *p, bool show);
/* sevmig_stream_progress_fn: redraws at most ten times a second, and returns
 * non-zero (cancel) once cli_interrupted(). */
int cli_progress_update(void *progress, const struct sevmig_stream_counts *c);
/* Erase the line. */
void cli_progress_clear(struct cli_progress *p);
/* Seconds since cli_progress_init(). */
double cli_progress_elapsed(const struct cli_progress *p);

struct cli_summary {
	const char *tool;    /* "sevmig-send" */
	const char *stream;  /* where the stream went or came from */
	const uint8_t *uuid; /* 16 bytes, or NULL */
	uint32_t policy;
	uint64_t guest_pages;		/* pages of guest memory */
	const struct sevmig_pstate *ps; /* the page state sent or received, or NULL */
	struct sevmig_stream_counts counts;
	double seconds;
	const char *integrity; /* "psk", "tls" or "insecure" */
	const char *delivery;  /* "committed" (the target's COMMIT), "written" (one way), or NULL */
};

/* The summary as one JSON object and a newline, or as a few lines of text. */
void cli_summary_print(FILE *f, const struct cli_summary *s, bool json);

/* "8-4-4-4-12" lowercase hex, 37 bytes with the NUL. */
void cli_uuid_format(const uint8_t uuid[16], char out[37]);

#endif
