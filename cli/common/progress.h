/* SPDX-License-Identifier: MIT */
/*
 * Progress of sevmig-send and sevmig-recv (--progress=auto|bar|json|none)
 * and their end-of-run summary (--json): a redrawn terminal line, or JSON
 * Lines events on standard error (sevmig.progress/1, docs/json.md), the last
 * of which carries the summary or the error.
 */
#ifndef SEVMIG_CLI_PROGRESS_H
#define SEVMIG_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

#include <sevmig/sevmig.h>

#include "common/json.h"

/* ---- progress ---------------------------------------------------------------- */

enum cli_progress_mode {
	CLI_PROGRESS_AUTO, /* a bar when standard error is a terminal, else nothing */
	CLI_PROGRESS_BAR,
	CLI_PROGRESS_JSON,
	CLI_PROGRESS_NONE,
};

/* --progress's value: 0, or CLI_ERR printed. */
int cli_progress_parse(const char *val, enum cli_progress_mode *mode);

/* Where a run is; the names are the "phase" of docs/json.md. */
enum cli_phase {
	CLI_PHASE_CONNECTING, /* reaching the peer, TLS, waiting for the stream's header */
	CLI_PHASE_MEMORY,     /* guest memory (and page state) moving */
	CLI_PHASE_VCPUS,      /* SEV-ES vCPU state */
	CLI_PHASE_COMMITTING, /* END sent or received; outputs made durable, COMMIT */
	CLI_PHASE_DONE,
	CLI_PHASE_FAILED,
};

struct cli_progress {
	const char *tool;	     /* "sevmig-send" */
	enum cli_progress_mode mode; /* BAR, JSON or NONE (AUTO resolved) */
	enum cli_phase phase;
	bool started;			    /* the first phase was announced */
	bool ended;			    /* cli_progress_end() was called */
	bool drawn;			    /* a bar is on the screen */
	uint64_t total_pages;		    /* pages of one full pass, 0 until known */
	struct sevmig_stream_counts counts; /* the latest the engine reported */
	double start;			    /* monotonic seconds: the run began */
	double transfer;		    /* ... the memory phase began (0: not yet) */
	double last;			    /* ... the last bar or event */
};

/* Start the clock; AUTO becomes BAR on a terminal, NONE otherwise. */
void cli_progress_init(struct cli_progress *p, const char *tool, enum cli_progress_mode mode);
/* Enter a phase (the first call announces CLI_PHASE_CONNECTING): a bar is
 * redrawn and a JSON event written at once. The transfer's clock starts
 * with CLI_PHASE_MEMORY. */
void cli_progress_phase(struct cli_progress *p, enum cli_phase phase);
/* A new attempt (a listener's next connection): back to CLI_PHASE_CONNECTING,
 * with nothing done and nothing known. */
void cli_progress_restart(struct cli_progress *p);
/* sevmig_stream_progress_fn: redraws at most ten times a second, writes an
 * event at most once a second, and returns non-zero (cancel) once
 * cli_interrupted(). */
int cli_progress_update(void *progress, const struct sevmig_stream_counts *c);
/* Erase the bar. */
void cli_progress_clear(struct cli_progress *p);
/* Seconds of the transfer so far (since CLI_PHASE_MEMORY; 0 before). */
double cli_progress_elapsed(const struct cli_progress *p);
/* A text summary goes with this mode (the bar was asked for or shown). */
bool cli_progress_is_bar(const struct cli_progress *p);

/* ---- summary ----------------------------------------------------------------- */

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

/*
 * The run ended: the bar is erased; a JSON event says "done" with the
 * summary, or "failed" with `error` (s NULL). Later calls do nothing.
 */
void cli_progress_end(struct cli_progress *p, const struct cli_summary *s, const char *error);

/* The summary as a sevmig.migration/1 document (mode LINE or PRETTY): 0 or
 * CLI_ERR printed when f could not be written. */
int cli_summary_json(FILE *f, const struct cli_summary *s, enum cli_json_mode mode);
/* The summary as a few lines of text. */
void cli_summary_text(FILE *f, const struct cli_summary *s);

/* "8-4-4-4-12" lowercase hex, 37 bytes with the NUL. */
void cli_uuid_format(const uint8_t uuid[16], char out[37]);

#endif
