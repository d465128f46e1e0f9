/* SPDX-License-Identifier: MIT */
/*
 * The text page-state form (docs/pstate-format.md, section 2) and
 * sevmig_pstate_load(): canonical output, lenient input made canonical, one
 * case per error with its line, random round trips, and telling the forms
 * apart.
 */
#include "test_pstate_forms.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/pstate.h>

static char *fmt(const struct sevmig_pstate *ps)
{
	char *t = NULL;
	size_t len = 0;
	assert_int_equal(sevmig_pstate_format_text(ps, &t, &len), 0);
	assert_non_null(t);
	assert_int_equal(strlen(t), len);
	return t;
}

static struct sevmig_pstate *parse_ok(const char *text)
{
	struct sevmig_pstate *ps = NULL;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	int rc = sevmig_pstate_parse_text(text, strlen(text), &ps, &err);
	if (rc)
		fail_msg("parse: %d, line %llu: %s", rc, (unsigned long long)err.index,
			 err.message);
	map_check(ps);
	return ps;
}

/* text parses, and formats as `canon`. */
static void canon_is(const char *text, const char *canon)
{
	struct sevmig_pstate *ps = parse_ok(text);
	char *t = fmt(ps);
	assert_string_equal(t, canon);
	/* Canonical text is a fixed point. */
	struct sevmig_pstate *again = parse_ok(t);
	char *t2 = fmt(again);
	assert_string_equal(t2, canon);
	assert_true(sevmig_pstate_equal(ps, again));
	free(t2);
	free(t);
	sevmig_pstate_free(again);
	sevmig_pstate_free(ps);
}

/* Whether load() should take text for the text form: its first line that is
 * not blank or a comment starts with 0x (docs/pstate-format.md). */
static bool looks_like_text(const char *t, size_t len)
{
	const char *e = t + len;
	while (t < e) {
		while (t < e && (*t == ' ' || *t == '\t'))
			t++;
		if (t < e && *t != '#' && *t != '\n' && *t != '\r')
			return e - t >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X');
		while (t < e && *t != '\n')
			t++;
		t++;
	}
	return true;
}

/* text is refused at `line`, with `msg` in the message. */
static void bad_is(const char *text, size_t len, uint64_t line, const char *msg)
{
	struct sevmig_pstate *ps = (struct sevmig_pstate *)(uintptr_t)1;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	int rc = sevmig_pstate_parse_text(text, len, &ps, &err);
	if (rc != -EBADMSG || err.index != line || !strstr(err.message, msg))
		fail_msg("'%.40s': %d, line %llu: '%s'; expected line %llu and '%s'", text, rc,
			 (unsigned long long)err.index, err.message, (unsigned long long)line, msg);
	assert_int_equal(err.code, -EBADMSG);
	assert_int_equal(err.offset, SEVMIG_NO_OFFSET);
	assert_true(ps == (struct sevmig_pstate *)(uintptr_t)1);
	/* load() says the same about text that looks like text. */
	sevmig_error_clear(&err);
	assert_int_equal(sevmig_pstate_load(text, len, &ps, &err), -EBADMSG);
	if (looks_like_text(text, len))
		assert_int_equal(err.index, line);
	else
		assert_non_null(strstr(err.message, "not a page-state file"));
}

#define BAD(text, line, msg) bad_is(text, sizeof(text) - 1, line, msg)

static void canonical_output(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new();
	slot(ps, 0x100, 0x400);
	slot(ps, 0x1000, 0x200);
	slot(ps, 0x1200, 0x10); /* touching: one stretch in text */
	share(ps, 0x100, 1);
	share(ps, 0x180, 16);
	share(ps, 0x4f0, 16);
	share(ps, 0x1000, 8);
	share(ps, 0x11f0, 0x20); /* across the touching slots */
	char *t = fmt(ps);
	assert_string_equal(t, "0x100-0x100 shared\n"
			       "0x101-0x17f private\n"
			       "0x180-0x18f shared\n"
			       "0x190-0x4ef private\n"
			       "0x4f0-0x4ff shared\n"
			       "0x1000-0x1007 shared\n"
			       "0x1008-0x11ef private\n"
			       "0x11f0-0x120f shared\n");
	struct sevmig_pstate *back = parse_ok(t);
	assert_true(sevmig_pstate_equal(ps, back));
	assert_int_equal(sevmig_pstate_slot_count(back), 2);
	free(t);
	sevmig_pstate_free(back);
	sevmig_pstate_free(ps);

	/* The empty map is the empty text, and the other way round. */
	ps = map_new();
	t = fmt(ps);
	assert_string_equal(t, "");
	free(t);
	sevmig_pstate_free(ps);
	canon_is("", "");
	canon_is("# nothing here\n\n   \t\n", "");

	/* Page 0 and the highest gfn. */
	canon_is("0x0-0x0 private\n", "0x0-0x0 private\n");
	canon_is("0xfffffffff0-0xffffffffff shared\n", "0xfffffffff0-0xffffffffff shared\n");
	canon_is("0x0-0xffffffffff private\n", "0x0-0xffffffffff private\n");
}

static void lenient_input(void **state)
{
	(void)state;
	/* Comments, blank lines, tabs, CRLF, leading zeros, no final newline. */
	canon_is("# a map\r\n"
		 "\t0x0010-0x001f   shared   # bounce buffer\r\n"
		 "\n"
		 "0x20-0x2f\tprivate#x\n"
		 "  0x000000000030-0x3f private  ",
		 "0x10-0x1f shared\n0x20-0x3f private\n");
	/* Unsorted lines; adjacent lines of one state merge. */
	canon_is("0x30-0x3f shared\n"
		 "0x10-0x1f shared\n"
		 "0x20-0x2f shared\n"
		 "0x0-0x3 private\n"
		 "0x5-0x5 private\n",
		 "0x0-0x3 private\n0x5-0x5 private\n0x10-0x3f shared\n");
	/* Single-page lines, every other state. */
	canon_is("0x1-0x1 shared\n0x2-0x2 private\n0x3-0x3 shared\n",
		 "0x1-0x1 shared\n0x2-0x2 private\n0x3-0x3 shared\n");
	/* A line at the limit of 4096 bytes is fine. */
	char *longl = malloc(4200);
	assert_non_null(longl);
	strcpy(longl, "0x1-0x2 shared #");
	size_t n = strlen(longl);
	memset(longl + n, 'x', 4096 - n);
	strcpy(longl + 4096, "\n0x3-0x3 private\n");
	canon_is(longl, "0x1-0x2 shared\n0x3-0x3 private\n");
	/* One more byte is not. */
	memset(longl + n, 'x', 4097 - n);
	strcpy(longl + 4097, "\n");
	bad_is(longl, strlen(longl), 1, "longer than 4096");
	free(longl);
}

static void errors(void **state)
{
	(void)state;
	BAD("0x10-0x1f shared\n0x2g-0x30 shared\n", 2, "expected '-' right after the first gfn");
	BAD("0x10-0x1F shared\n", 1, "upper-case hex digit 'F' in the last gfn");
	BAD("0xA-0xb shared\n", 1, "upper-case hex digit 'A' in the first gfn");
	BAD("0X10-0x1f shared\n", 1, "0X: write it in lowercase");
	BAD("10-1f shared\n", 1, "expected the first gfn");
	BAD("0x10-1f shared\n", 1, "expected the last gfn");
	BAD("0x-0x1 shared\n", 1, "no hex digits after 0x in the first gfn");
	BAD("0x10 - 0x1f shared\n", 1, "expected '-' right after");
	BAD("0x1f-0x10 shared\n", 1, "backwards");
	BAD("# x\n0x0-0x1 secret\n", 2, "unknown state 'secret'");
	BAD("0x0-0x1 Shared\n", 1, "unknown state 'Shared'");
	BAD("0x0-0x1\n", 1, "missing state");
	BAD("0x0-0x1 # shared\n", 1, "missing state");
	BAD("0x0-0x1shared\n", 1, "expected a space after the last gfn");
	BAD("0x0-0x1 shared private\n", 1, "unexpected 'private' after the state");
	BAD("0x0-0x10000000000 shared\n", 1, "beyond the 40-bit gfn limit");
	BAD("0x0-0x0000010000000000 shared\n", 1, "0x10000000000 is beyond the 40-bit");
	BAD("0x0-0xffffffffffffffffffff shared\n", 1, "beyond the 40-bit");
	BAD("0x0-0x1 shared\n0x1-0x2 private\n", 2, "overlaps 0x0-0x1 on line 1");
	BAD("0x10-0x1f shared\n0x0-0x3 shared\n0x0-0x1f private\n", 3,
	    "range 0x0-0x1f overlaps 0x0-0x3 on line 2");
	BAD("0x5-0x9 shared\n0x5-0x9 shared\n", 2, "overlaps");
	BAD("0x0-0x1 shared\n\0x", 2, "NUL byte in column 1");
	BAD("0x0-0x1 shared # \0\n", 1, "NUL byte in column 18");
	/* Anything else is not a page-state file, according to load(). */
	struct sevmig_pstate *ps;
	struct sevmig_error err;
	const char *junk[] = { "hello\n",
			       ("\x7f" /* split: \x would swallow the E */
				"ELF"),
			       "# comment\n{\"json\": 1}\n", "0", "#\0x" };
	const size_t jlen[] = { 6, 4, 22, 1, 4 };
	for (size_t i = 0; i < 5; i++) {
		sevmig_error_clear(&err);
		assert_int_equal(sevmig_pstate_load(junk[i], jlen[i], &ps, &err), -EBADMSG);
		assert_string_equal(err.message, "not a page-state file (neither the libsevmig "
						 "binary form nor the text form)");
		assert_int_equal(err.offset, 0);
		assert_int_equal(err.index, 0);
	}
	assert_int_equal(sevmig_pstate_parse_text(NULL, 1, &ps, NULL), -EINVAL);
	assert_int_equal(sevmig_pstate_parse_text("", 0, NULL, NULL), -EINVAL);
	assert_int_equal(sevmig_pstate_load(NULL, 1, &ps, NULL), -EINVAL);
	assert_int_equal(sevmig_pstate_format_text(NULL, NULL, NULL), -EINVAL);
}

/* load() reads both forms, and a damaged binary file keeps its own error. */
static void load_detects(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new(), *back;
	slot(ps, 0x40, 0x100);
	share(ps, 0x50, 3);
	char *t = fmt(ps);
	void *bin;
	size_t blen;
	assert_int_equal(sevmig_pstate_serialize(ps, NULL, &bin, &blen), 0);
	struct sevmig_error err;
	assert_int_equal(sevmig_pstate_load(t, strlen(t), &back, &err), 0);
	assert_true(sevmig_pstate_equal(ps, back));
	sevmig_pstate_free(back);
	assert_int_equal(sevmig_pstate_load(bin, blen, &back, &err), 0);
	assert_true(sevmig_pstate_equal(ps, back));
	sevmig_pstate_free(back);
	sevmig_error_clear(&err);
	assert_int_equal(sevmig_pstate_load(bin, blen - 1, &back, &err), -EBADMSG);
	assert_true(err.offset > 0 && err.offset != SEVMIG_NO_OFFSET);
	assert_null(strstr(err.message, "not a page-state file"));
	/* Five bytes of the magic are still the binary form, truncated. */
	sevmig_error_clear(&err);
	assert_int_equal(sevmig_pstate_load(bin, 5, &back, &err), -EBADMSG);
	assert_non_null(strstr(err.message, "truncated"));
	/* A comment before the ranges is fine for detection. */
	const char *c = "# saved by hand\n\n0x40-0x13f private\n";
	assert_int_equal(sevmig_pstate_load(c, strlen(c), &back, &err), 0);
	STATES_ARE(back, { 0x50, PV });
	sevmig_pstate_free(back);
	free(bin);
	free(t);
	sevmig_pstate_free(ps);
}

/* Random maps: text round trips, canonical each time, and agrees with the
 * binary form. */
static void random_round_trips(void **state)
{
	(void)state;
	struct tu_rng r = { tu_seed("text random_round_trips") };
	for (int i = 0; i < 300; i++) {
		struct sevmig_pstate *ps = map_new();
		uint64_t gfn =
		    tu_below(&r, 4) ? tu_below(&r, 1u << 12) : SEVMIG_GFN_LIMIT - (1u << 16);
		for (unsigned s = (unsigned)tu_below(&r, 5); s; s--) {
			uint64_t n = 1 + tu_below(&r, 1u << (1 + tu_below(&r, 12)));
			if (gfn + n > SEVMIG_GFN_LIMIT)
				break;
			slot(ps, gfn, n);
			for (unsigned k = (unsigned)tu_below(&r, 20); k; k--) {
				uint64_t a = tu_below(&r, n), b = 1 + tu_below(&r, n - a);
				assert_int_equal(sevmig_pstate_set_range(ps, gfn + a, b,
									 tu_below(&r, 2)
									     ? SEVMIG_PAGE_SHARED
									     : SEVMIG_PAGE_PRIVATE),
						 0);
			}
			gfn += n + (tu_below(&r, 2) ? 0 : tu_below(&r, 100));
		}
		char *t = fmt(ps);
		struct sevmig_pstate *back = parse_ok(t);
		assert_true(sevmig_pstate_equal(ps, back));
		char *t2 = fmt(back);
		assert_string_equal(t, t2);
		/* Lines are canonical: no two neighbours could merge. */
		uint64_t pf = 0, pl = 0;
		char pst[8] = "";
		for (char *line = t; *line; line = strchr(line, '\n') + 1) {
			unsigned long long f, l;
			char st[8];
			assert_int_equal(sscanf(line, "0x%llx-0x%llx %7s", &f, &l, st), 3);
			assert_true(f <= l);
			if (pst[0]) {
				assert_true(f > pl);
				assert_true(f > pl + 1 || strcmp(st, pst));
			}
			pf = f;
			pl = l;
			strcpy(pst, st);
		}
		(void)pf;
		free(t2);
		free(t);
		sevmig_pstate_free(back);
		sevmig_pstate_free(ps);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(canonical_output),
		cmocka_unit_test(lenient_input),
		cmocka_unit_test(errors),
		cmocka_unit_test(load_detects),
		cmocka_unit_test(random_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
