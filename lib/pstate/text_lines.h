/* SPDX-License-Identifier: MIT */
/*
 * The pieces both text forms (page state, ownership) parse lines with:
 * quoting the input in messages, blanks, and the 40-bit lowercase hex
 * numbers both write (gfns, host frames). Errors are -EBADMSG naming the
 * line (no byte offset: the tools print "FILE:LINE:").
 */
#ifndef SEVMIG_PSTATE_TEXT_LINES_H
#define SEVMIG_PSTATE_TEXT_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

enum { SEVMIG__QUOTE_MAX = 24 };
/* Room for a quote (sevmig__text_quote()). */
#define SEVMIG__QUOTE_BUF (SEVMIG__QUOTE_MAX + 8)

#define sevmig__lfail(err, line, ...) \
	sevmig__fail(err, -EBADMSG, SEVMIG_NO_OFFSET, line, __VA_ARGS__)

/* A short, printable, quoted copy of [p, e) in dst (SEVMIG__QUOTE_BUF). */
const char *sevmig__text_quote(char *dst, const char *p, const char *e);
/* The first byte at or after p that is not a space or a tab. */
const char *sevmig__text_skip_ws(const char *p, const char *e);
/*
 * "0x" and lowercase hex digits at *pp, below 2^40, into *v; *pp moves past
 * them. `noun` names the number ("gfn", "frame") and `which` it ("first").
 */
int sevmig__text_hex40(const char **pp, const char *e, uint64_t *v, const char *noun,
		       const char *which, uint64_t line, struct sevmig_error *err);

/*
 * The start every range line has: "0xFIRST-0xLAST" after optional blanks,
 * then blanks and the rest, at which *pp is left. *got is false (and 0
 * returned) for a blank or comment line. A NUL byte, a malformed or
 * backwards range, or nothing after it ("missing " `follows` says what
 * should be there) are errors. noun: "gfn", "frame".
 */
int sevmig__text_range_head(const char **pp, const char *e, const char *noun, const char *follows,
			    uint64_t line, uint64_t *first, uint64_t *last, bool *got,
			    struct sevmig_error *err);

/*
 * A text form is one inclusive range a line: each form's line entry starts
 * with these fields (SEVMIG__TEXT_RANGE_FIRST() proves it).
 */
struct sevmig__text_range {
	uint64_t first, last; /* inclusive */
	uint64_t line;
};
#define SEVMIG__TEXT_RANGE_FIRST(type)                                                          \
	_Static_assert(offsetof(type, first) == offsetof(struct sevmig__text_range, first) &&   \
			   offsetof(type, last) == offsetof(struct sevmig__text_range, last) && \
			   offsetof(type, line) == offsetof(struct sevmig__text_range, line),   \
		       #type " starts as struct sevmig__text_range")

/* Parse one line (without its newline) into the entry; *got false for a
 * blank or comment line. */
typedef int (*sevmig__text_line_fn)(const char *p, size_t len, uint64_t line, void *entry,
				    bool *got, struct sevmig_error *err);

/*
 * Split text into lines of at most 4096 bytes ("\n" or "\r\n"), parse each
 * into an entry of `size` bytes with fn, sort the entries by first range,
 * and refuse two that overlap, naming both lines. 0 with the entries in
 * *lines (n of them; sevmig__buf_free() it in any case), or an error.
 */
int sevmig__text_read_ranges(const char *text, size_t len, size_t size, sevmig__text_line_fn fn,
			     struct sevmig__buf *lines, size_t *n, struct sevmig_error *err);

#endif
