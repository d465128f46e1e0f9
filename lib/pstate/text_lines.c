/* SPDX-License-Identifier: MIT */
/* Line-parsing pieces of the text forms (text_lines.h). */
#include "pstate/text_lines.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum {
	HEX40_DIGITS = 10,    /* 0xffffffffff is the highest */
	TEXT_LINE_MAX = 4096, /* bytes, without the newline */
};

const char *sevmig__text_quote(char *dst, const char *p, const char *e)
{
	if (p == e)
		return "the end of the line";
	size_t n = 0;
	dst[n++] = '\'';
	for (; p < e && n <= SEVMIG__QUOTE_MAX; p++)
		dst[n++] = *p >= 0x20 && *p < 0x7f ? *p : '?';
	if (p < e) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n++] = '\'';
	dst[n] = '\0';
	return dst;
}

const char *sevmig__text_skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* A lowercase hex digit's value, -2 for an upper-case one, -1 otherwise. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return -2;
	return -1;
}

int sevmig__text_hex40(const char **pp, const char *e, uint64_t *v, const char *noun,
		       const char *which, uint64_t line, struct sevmig_error *err)
{
	char q[SEVMIG__QUOTE_BUF];
	const char *p = *pp;
	if (e - p < 2 || p[0] != '0' || (p[1] != 'x' && p[1] != 'X'))
		return sevmig__lfail(err, line, "expected the %s %s (0x and hex digits), found %s",
				     which, noun, sevmig__text_quote(q, p, e));
	if (p[1] == 'X')
		return sevmig__lfail(
		    err, line, "the %s %s starts with 0X: write it in lowercase (0x)", which, noun);
	const char *d = p + 2;
	for (p = d; p < e && hexval(*p) != -1; p++)
		if (hexval(*p) == -2)
			return sevmig__lfail(
			    err, line,
			    "upper-case hex digit '%c' in the %s %s: write %ss in lowercase", *p,
			    which, noun, noun);
	if (p == d)
		return sevmig__lfail(err, line, "no hex digits after 0x in the %s %s", which, noun);
	const char *sig = d;
	while (sig < p - 1 && *sig == '0')
		sig++;
	if (p - sig > HEX40_DIGITS)
		return sevmig__lfail(
		    err, line,
		    "the %s %s 0x%.*s%s is beyond the 40-bit %s limit (the highest is "
		    "0xffffffffff)",
		    which, noun, p - sig > SEVMIG__QUOTE_MAX ? SEVMIG__QUOTE_MAX : (int)(p - sig),
		    sig, p - sig > SEVMIG__QUOTE_MAX ? "..." : "", noun);
	uint64_t x = 0;
	for (; sig < p; sig++)
		x = x << 4 | (uint64_t)hexval(*sig);
	*v = x;
	*pp = p;
	return 0;
}

int sevmig__text_range_head(const char **pp, const char *e, const char *noun, const char *follows,
			    uint64_t line, uint64_t *first, uint64_t *last, bool *got,
			    struct sevmig_error *err)
{
	char q[SEVMIG__QUOTE_BUF];
	const char *p = *pp, *nul = memchr(p, '\0', (size_t)(e - p));
	if (nul)
		return sevmig__lfail(err, line, "NUL byte in column %zu: this is not a text file",
				     (size_t)(nul - p) + 1);
	*got = false;
	p = sevmig__text_skip_ws(p, e);
	if (p == e || *p == '#')
		return 0;
	SEVMIG__TRY(sevmig__text_hex40(&p, e, first, noun, "first", line, err));
	if (p == e || *p != '-')
		return sevmig__lfail(err, line, "expected '-' right after the first %s, found %s",
				     noun, sevmig__text_quote(q, p, e));
	p++;
	SEVMIG__TRY(sevmig__text_hex40(&p, e, last, noun, "last", line, err));
	if (*first > *last)
		return sevmig__lfail(err, line,
				     "range 0x%" PRIx64 "-0x%" PRIx64
				     " is backwards: its first %s is above its last",
				     *first, *last, noun);
	const char *w = sevmig__text_skip_ws(p, e);
	if (w == e || *w == '#')
		return sevmig__lfail(err, line, "missing %s", follows);
	if (w == p)
		return sevmig__lfail(err, line, "expected a space after the last %s, found %s",
				     noun, sevmig__text_quote(q, p, e));
	*pp = w;
	*got = true;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct sevmig__text_range *x = a, *y = b;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

int sevmig__text_read_ranges(const char *text, size_t len, size_t size, sevmig__text_line_fn fn,
			     struct sevmig__buf *lines, size_t *count, struct sevmig_error *err)
{
	/* An entry is at most a few dozen bytes: room for one on the stack. */
	_Alignas(max_align_t) unsigned char entry[64];
	if (size > sizeof(entry) || size < sizeof(struct sevmig__text_range))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "bad text entry size");
	const char *p = text, *end = text + len;
	bool sorted = true;
	uint64_t prev_first = 0;
	int rc = 0;
	for (uint64_t line = 1; p < end && !rc; line++) {
		size_t left = (size_t)(end - p);
		const char *nl =
		    memchr(p, '\n', left < TEXT_LINE_MAX + 2 ? left : TEXT_LINE_MAX + 2);
		size_t n = nl ? (size_t)(nl - p) : left;
		const char *next = nl ? nl + 1 : end;
		if (n && p[n - 1] == '\r')
			n--;
		if (n > TEXT_LINE_MAX)
			return sevmig__lfail(err, line, "line longer than %d bytes", TEXT_LINE_MAX);
		bool got = false;
		rc = fn(p, n, line, entry, &got, err);
		if (!rc && got) {
			const struct sevmig__text_range *r = (const void *)entry;
			sorted = sorted && (lines->len == 0 || r->first > prev_first);
			prev_first = r->first;
			if (sevmig__buf_append(lines, entry, size) < 0)
				return sevmig__fail(err, -ENOMEM, SEVMIG_NO_OFFSET, 0,
						    "out of memory");
		}
		p = next;
	}
	if (rc)
		return rc;
	size_t n = lines->len / size;
	if (!sorted)
		qsort(lines->data, n, size, range_cmp);
	for (size_t i = 1; i < n; i++) {
		const struct sevmig__text_range *a = (const void *)(lines->data + (i - 1) * size);
		const struct sevmig__text_range *b = (const void *)(lines->data + i * size);
		if (b->first > a->last)
			continue;
		const struct sevmig__text_range *later = a->line > b->line ? a : b;
		const struct sevmig__text_range *other = later == a ? b : a;
		return sevmig__lfail(err, later->line,
				     "range 0x%" PRIx64 "-0x%" PRIx64 " overlaps 0x%" PRIx64
				     "-0x%" PRIx64 " on line %" PRIu64,
				     later->first, later->last, other->first, other->last,
				     other->line);
	}
	*count = n;
	return 0;
}
