/* SPDX-License-Identifier: MIT */
/*
 * The text form of an ownership map (docs/owners-format.md, section 2):
 * "0xFIRST-0xLAST OWNER[>BORROWER]" lines, inclusive lowercase hex frames,
 * the listed ranges being the coverage. The same line rules as the
 * page-state text form (pstate_text.c), with entities for states.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pstate/owners_impl.h"
#include "util/buf.h"
#include "pstate/text_lines.h"
#include "util/error.h"

/* ---- output ------------------------------------------------------------------ */

int sevmig_owners_format_text(const struct sevmig_owners *o, char **text, size_t *len)
{
	if (!o || !text || !len)
		return -EINVAL;
	struct sevmig__buf b = { 0 };
	int rc = 0;
	/* runs are maximal and sorted: one line each is canonical */
	for (size_t i = 0; i < o->n && !rc; i++) {
		const struct sevmig__oent *e = &o->v[i];
		if (e->owner == SEVMIG__GAP)
			continue;
		char line[96], st[2 * SEVMIG_OWNER_NAME_MAX];
		int k = snprintf(line, sizeof(line), "0x%" PRIx64 "-0x%" PRIx64 " %s\n", e->first,
				 sevmig__oent_end(o, i) - 1,
				 sevmig__owners_state_str(e->owner, e->borrower, st, sizeof(st)));
		rc = sevmig__buf_append(&b, line, (size_t)k);
	}
	if (!rc)
		rc = sevmig__buf_append(&b, "", 1);
	if (rc) {
		sevmig__buf_free(&b);
		return rc;
	}
	size_t total;
	*text = (char *)sevmig__buf_take(&b, &total);
	*len = total - 1;
	return 0;
}

/* ---- input --------------------------------------------------------------------- */

struct tline {
	uint64_t first, last; /* inclusive */
	uint64_t line;
	uint32_t owner, borrower;
};
SEVMIG__TEXT_RANGE_FIRST(struct tline);

/* An entity name: the bytes up to whitespace, '#', or (for the owner) '>'. */
static int parse_entity(const char **pp, const char *e, bool owner, uint32_t *id, uint64_t line,
			struct sevmig_error *err)
{
	const char *p = *pp, *s = p;
	while (p < e && *p != ' ' && *p != '\t' && *p != '#' && !(owner && *p == '>'))
		p++;
	char why[128];
	if (p == s)
		return sevmig__lfail(
		    err, line, owner ? "missing owner before '>'" : "missing borrower after '>'");
	if (sevmig__owner_parse(s, (size_t)(p - s), id, why, sizeof(why)))
		return sevmig__lfail(err, line, "%s %s", owner ? "owner:" : "borrower:", why);
	*pp = p;
	return 0;
}

/* Parse one line; *got is false for a blank or comment line. */
static int parse_line(const char *p, size_t len, uint64_t line, void *entry, bool *got,
		      struct sevmig_error *err)
{
	struct tline *t = entry;
	char q[SEVMIG__QUOTE_BUF];
	const char *e = p + len;
	bool head;
	SEVMIG__TRY(sevmig__text_range_head(
	    &p, e, "frame", "owner after the range: hyp, host or guest:N, and optionally >BORROWER",
	    line, &t->first, &t->last, &head, err));
	if (!head) {
		*got = false;
		return 0;
	}
	SEVMIG__TRY(parse_entity(&p, e, true, &t->owner, line, err));
	t->borrower = SEVMIG_OWNER_NONE;
	if (p < e && *p == '>') {
		p++;
		SEVMIG__TRY(parse_entity(&p, e, false, &t->borrower, line, err));
	}
	const char *why = sevmig__owners_state_why(t->owner, t->borrower);
	if (why) {
		char st[2 * SEVMIG_OWNER_NAME_MAX];
		return sevmig__lfail(
		    err, line, "no frame can be %s: %s",
		    sevmig__owners_state_str(t->owner, t->borrower, st, sizeof(st)), why);
	}
	p = sevmig__text_skip_ws(p, e);
	if (p < e && *p != '#')
		return sevmig__lfail(err, line, "unexpected %s after the owner",
				     sevmig__text_quote(q, p, e));
	t->line = line;
	*got = true;
	return 0;
}

int sevmig_owners_parse_text(const char *text, size_t len, struct sevmig_owners **out,
			     struct sevmig_error *err)
{
	if ((!text && len) || !out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no input or no result");
	struct sevmig__buf lines = { 0 };
	size_t n = 0;
	int rc =
	    sevmig__text_read_ranges(text, len, sizeof(struct tline), parse_line, &lines, &n, err);
	struct tline *t = (struct tline *)(void *)lines.data;
	struct sevmig_owners *o = NULL;
	if (!rc)
		rc = sevmig__owners_alloc(&o, 2 * n + 1);
	/* sorted and disjoint: every line appends (touching ones in a state join) */
	for (size_t i = 0; i < n && !rc; i++)
		rc = sevmig__owners_append(o, t[i].first, t[i].last + 1, t[i].owner, t[i].borrower);
	sevmig__buf_free(&lines);
	if (rc) {
		sevmig_owners_free(o);
		return rc == -ENOMEM ? sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "out of memory")
				     : rc;
	}
	*out = o;
	return 0;
}
