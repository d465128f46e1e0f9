/* SPDX-License-Identifier: MIT */
/*
 * The text form of a page-state map (docs/pstate-format.md, section 2):
 * "0xFIRST-0xLAST STATE" lines, inclusive lowercase hex gfns, the listed
 * ranges being the coverage. Built on the public pstate API only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/pstate.h>

#include "pstate/pstate_forms.h"
#include "util/buf.h"
#include "pstate/text_lines.h"
#include "util/error.h"

/* ---- output ------------------------------------------------------------------ */

/* Lines are held back one step so that ranges with the same state merge,
 * whether the walk splits them or two slots touch. */
struct tw {
	struct sevmig__buf b;
	uint64_t first, last;
	enum sevmig_page_state state;
	bool have;
	uint64_t cursor; /* next gfn of the slot being written */
};

static int tw_flush(struct tw *w)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "0x%" PRIx64 "-0x%" PRIx64 " %s\n", w->first, w->last,
			 sevmig_page_state_name(w->state));
	return sevmig__buf_append(&w->b, line, (size_t)n);
}

static int tw_put(struct tw *w, uint64_t gfn, uint64_t npages, enum sevmig_page_state st)
{
	if (w->have && w->state == st && w->last + 1 == gfn) {
		w->last += npages;
		return 0;
	}
	if (w->have)
		SEVMIG__TRY(tw_flush(w));
	w->first = gfn;
	w->last = gfn + npages - 1;
	w->state = st;
	w->have = true;
	return 0;
}

static int tw_shared(void *arg, uint64_t gfn, uint64_t npages)
{
	struct tw *w = arg;
	if (gfn > w->cursor)
		SEVMIG__TRY(tw_put(w, w->cursor, gfn - w->cursor, SEVMIG_PAGE_PRIVATE));
	SEVMIG__TRY(tw_put(w, gfn, npages, SEVMIG_PAGE_SHARED));
	w->cursor = gfn + npages;
	return 0;
}

int sevmig_pstate_format_text(const struct sevmig_pstate *ps, char **text, size_t *len)
{
	if (!ps || !text || !len)
		return -EINVAL;
	struct tw w = { 0 };
	size_t n = sevmig_pstate_slot_count(ps);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		struct sevmig_range s;
		rc = sevmig_pstate_slot(ps, i, &s);
		if (rc)
			break;
		w.cursor = s.gfn;
		rc = sevmig_pstate_walk(ps, s.gfn, s.npages, SEVMIG_PAGE_SHARED, tw_shared, &w);
		if (!rc && w.cursor < s.gfn + s.npages)
			rc = tw_put(&w, w.cursor, s.gfn + s.npages - w.cursor, SEVMIG_PAGE_PRIVATE);
	}
	if (!rc && w.have)
		rc = tw_flush(&w);
	if (!rc)
		rc = sevmig__buf_append(&w.b, "", 1);
	if (rc) {
		sevmig__buf_free(&w.b);
		return rc;
	}
	size_t total;
	*text = (char *)sevmig__buf_take(&w.b, &total);
	*len = total - 1;
	return 0;
}

/* ---- input --------------------------------------------------------------------- */

struct tline {
	uint64_t first, last; /* inclusive */
	uint64_t line;
	bool shared;
};
SEVMIG__TEXT_RANGE_FIRST(struct tline);

/* Parse one line; *got is false for a blank or comment line. */
static int parse_line(const char *p, size_t len, uint64_t line, void *entry, bool *got,
		      struct sevmig_error *err)
{
	struct tline *t = entry;
	char q[SEVMIG__QUOTE_BUF];
	const char *e = p + len;
	bool head;
	SEVMIG__TRY(sevmig__text_range_head(&p, e, "gfn",
					    "state after the range: shared or private", line,
					    &t->first, &t->last, &head, err));
	if (!head) {
		*got = false;
		return 0;
	}
	const char *w = p;
	while (p < e && *p != ' ' && *p != '\t' && *p != '#')
		p++;
	size_t wl = (size_t)(p - w);
	if (wl == 6 && !memcmp(w, "shared", 6))
		t->shared = true;
	else if (wl == 7 && !memcmp(w, "private", 7))
		t->shared = false;
	else
		return sevmig__lfail(err, line, "unknown state %s (shared or private)",
				     sevmig__text_quote(q, w, p));
	p = sevmig__text_skip_ws(p, e);
	if (p < e && *p != '#')
		return sevmig__lfail(err, line, "unexpected %s after the state",
				     sevmig__text_quote(q, p, e));
	t->line = line;
	*got = true;
	return 0;
}

/* The lines as a map: stretches of contiguous ranges become slots. */
static int build(struct tline *t, size_t n, struct sevmig_pstate *ps, struct sevmig_error *err)
{
	for (size_t i = 0, j; i < n; i = j + 1) {
		for (j = i; j + 1 < n && t[j + 1].first == t[j].last + 1; j++)
			;
		int rc = sevmig_pstate_add_slot(ps, t[i].first, t[j].last - t[i].first + 1);
		if (rc == -ENOMEM)
			return rc;
		if (rc)
			return sevmig__lfail(err, t[i].line,
					     "range 0x%" PRIx64 "-0x%" PRIx64
					     " refused by the map: %s",
					     t[i].first, t[j].last, sevmig_strerror(rc));
	}
	for (size_t i = 0, j; i < n; i = j + 1) {
		j = i;
		if (!t[i].shared)
			continue;
		for (; j + 1 < n && t[j + 1].shared && t[j + 1].first == t[j].last + 1; j++)
			;
		SEVMIG__TRY(sevmig_pstate_set_range(ps, t[i].first, t[j].last - t[i].first + 1,
						    SEVMIG_PAGE_SHARED));
	}
	return 0;
}

int sevmig_pstate_parse_text(const char *text, size_t len, struct sevmig_pstate **out,
			     struct sevmig_error *err)
{
	if ((!text && len) || !out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no input or no result");
	struct sevmig__buf lines = { 0 };
	size_t n = 0;
	int rc =
	    sevmig__text_read_ranges(text, len, sizeof(struct tline), parse_line, &lines, &n, err);
	struct tline *t = (struct tline *)(void *)lines.data;
	struct sevmig_pstate *ps = NULL;
	if (!rc)
		rc = sevmig_pstate_new(&ps, NULL);
	if (!rc)
		rc = build(t, n, ps, err);
	sevmig__buf_free(&lines);
	if (rc) {
		sevmig_pstate_free(ps);
		return rc;
	}
	*out = ps;
	return 0;
}

bool sevmig__pstate_is_text(const void *buf, size_t len)
{
	const char *p = buf, *end = p + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		const char *s = sevmig__text_skip_ws(p, e);
		if (s < e && *s != '#' && *s != '\r')
			return e - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
		/* Binary data rarely looks like comments, but never holds NULs. */
		if (memchr(p, '\0', (size_t)(e - p)))
			return false;
		p = nl ? nl + 1 : end;
	}
	return true; /* no range line: the empty map */
}
