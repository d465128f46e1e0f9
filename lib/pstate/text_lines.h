/* SPDX-License-Identifier: MIT */
/*
 * The pieces both text forms (page state, ownership) parse lines with:
 * quoting the input in messages, blanks, and the 40-bit lowercase hex
 * numbers both write (gfns, host frames). Errors are -EBADMSG naming the
 * line (no byte offset: the tools print "FILE:LINE:").
 */
#ifndef SEVMIG_PSTATE_TEXT_LINES_H
#define SEVMIG_PSTATE_TEXT_LINES_H

#include <stdint.h>

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

#endif
