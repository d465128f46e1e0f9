/* SPDX-License-Identifier: MIT */
/* Line-parsing pieces of the text forms (text_lines.h). */
#include "pstate/text_lines.h"

#include <errno.h>
#include <string.h>

enum { HEX40_DIGITS = 10 }; /* 0xffffffffff is the highest */

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
