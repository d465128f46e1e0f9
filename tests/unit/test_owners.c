/* SPDX-License-Identifier: MIT */
/*
 * The page-ownership map (<sevmig/owners.h>): names, coverage edges, every
 * transition's success against a table written here from the issue, each
 * refusal (every other state, uncovered frames, at the start, inside and
 * at the end of the range), the views, the EPT encoding and its round
 * trip, the projection, the text and binary forms with one refusal per
 * rule, and the memory of a 1 TiB host.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/owners.h>
#include <sevmig/pstate.h>

#include "pstate/owners_impl.h"
#include "util/crc32c.h"
#include "util/endian.h"

#define HYP  SEVMIG_OWNER_HYP
#define HOST SEVMIG_OWNER_HOST
#define NONE SEVMIG_OWNER_NONE
#define LIM  SEVMIG_GFN_LIMIT

/* ---- helpers ------------------------------------------------------------------ */

static void repr_ok(const struct sevmig_owners *o)
{
	char why[160];
	if (sevmig__owners_check_repr(o, why, sizeof(why)))
		fail_msg("broken map: %s", why);
}

static struct sevmig_owners *parse(const char *t)
{
	struct sevmig_owners *o = NULL;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	int rc = sevmig_owners_parse_text(t, strlen(t), &o, &err);
	if (rc)
		fail_msg("parse: %d line %llu: %s\n%s", rc, (unsigned long long)err.index,
			 err.message, t);
	repr_ok(o);
	return o;
}

static char *text_of(const struct sevmig_owners *o)
{
	char *t = NULL;
	size_t len = 0;
	assert_int_equal(sevmig_owners_format_text(o, &t, &len), 0);
	assert_int_equal(strlen(t), len);
	return t;
}

static void text_is(const struct sevmig_owners *o, const char *want)
{
	repr_ok(o);
	char *t = text_of(o);
	if (strcmp(t, want))
		fail_msg("map is\n%s\nexpected\n%s", t, want);
	free(t);
}

static struct sevmig_owners *new_map(void)
{
	struct sevmig_owners *o = NULL;
	assert_int_equal(sevmig_owners_new(&o, NULL), 0);
	return o;
}

static int op(struct sevmig_owners *o, enum sevmig_owners_op p, uint64_t first, uint64_t n,
	      uint32_t g)
{
	return sevmig_owners_transition(o, p, first, n, g, NULL, NULL);
}

/* ---- names ------------------------------------------------------------------------ */

static void names(void **state)
{
	(void)state;
	static const char *const want[] = {
		NULL,
		"host_donate_hyp",
		"hyp_donate_host",
		"host_share_hyp",
		"host_unshare_hyp",
		"host_donate_guest",
		"guest_donate_host",
		"host_share_guest",
		"host_unshare_guest",
		"guest_share_host",
		"guest_unshare_host",
	};
	for (int i = 1; i <= 10; i++) {
		assert_string_equal(sevmig_owners_op_name((enum sevmig_owners_op)i), want[i]);
		enum sevmig_owners_op p = 0;
		assert_int_equal(sevmig_owners_op_parse(want[i], strlen(want[i]), &p), 0);
		assert_int_equal(p, i);
		assert_int_equal(sevmig_owners_op_takes_guest(p), strstr(want[i], "guest") != NULL);
		/* a prefix is no name */
		assert_int_equal(sevmig_owners_op_parse(want[i], strlen(want[i]) - 1, &p), -EINVAL);
	}
	enum sevmig_owners_op p;
	assert_null(sevmig_owners_op_name(0));
	assert_null(sevmig_owners_op_name(11));
	assert_int_equal(sevmig_owners_op_parse("HOST_DONATE_HYP", 15, &p), -EINVAL);
	assert_int_equal(sevmig_owners_op_parse("", 0, &p), -EINVAL);

	assert_string_equal(sevmig_page_view_name(SEVMIG_VIEW_NOPAGE), "nopage");
	assert_string_equal(sevmig_page_view_name(SEVMIG_VIEW_OWNED), "owned");
	assert_string_equal(sevmig_page_view_name(SEVMIG_VIEW_SHARED_OWNED), "shared_owned");
	assert_string_equal(sevmig_page_view_name(SEVMIG_VIEW_SHARED_BORROWED), "shared_borrowed");
	assert_string_equal(sevmig_page_view_name((enum sevmig_page_view)4), "invalid");

	char b[SEVMIG_OWNER_NAME_MAX];
	assert_string_equal(sevmig_owner_name(0, b, sizeof(b)), "hyp");
	assert_string_equal(sevmig_owner_name(1, b, sizeof(b)), "host");
	assert_string_equal(sevmig_owner_name(2, b, sizeof(b)), "guest:2");
	assert_string_equal(sevmig_owner_name(SEVMIG_OWNER_ID_MAX, b, sizeof(b)), "guest:1048575");
	assert_true(strlen(b) < SEVMIG_OWNER_NAME_MAX);
	assert_string_equal(sevmig_owner_name(SEVMIG_OWNER_ID_MAX + 1, b, sizeof(b)), "invalid");
	assert_string_equal(sevmig_owner_name(NONE, b, sizeof(b)), "none");

	static const struct {
		const char *s;
		int rc;
		uint32_t id;
		const char *msg;
	} p_cases[] = {
		{ "hyp", 0, 0, NULL },
		{ "host", 0, 1, NULL },
		{ "guest:2", 0, 2, NULL },
		{ "guest:007", 0, 7, NULL },
		{ "guest:1048575", 0, SEVMIG_OWNER_ID_MAX, NULL },
		{ "guest:1048576", -EINVAL, 0, "past 1048575" },
		{ "guest:99999999999999999999999", -EINVAL, 0, "past 1048575" },
		{ "guest:1", -EINVAL, 0, "below 2" },
		{ "guest:0", -EINVAL, 0, "below 2" },
		{ "guest:", -EINVAL, 0, "needs its id" },
		{ "guest:x", -EINVAL, 0, "not a decimal" },
		{ "guest:-3", -EINVAL, 0, "not a decimal" },
		{ "guest:+3", -EINVAL, 0, "not a decimal" },
		{ "Host", -EINVAL, 0, "unknown entity 'Host'" },
		{ "guest", -EINVAL, 0, "unknown entity" },
		{ "", -EINVAL, 0, "unknown entity" },
		{ "hypervisor", -EINVAL, 0, "unknown entity" },
	};
	for (size_t i = 0; i < sizeof(p_cases) / sizeof(p_cases[0]); i++) {
		uint32_t id = 12345;
		struct sevmig_error err;
		sevmig_error_clear(&err);
		int rc = sevmig_owner_parse(p_cases[i].s, strlen(p_cases[i].s), &id, &err);
		if (rc != p_cases[i].rc)
			fail_msg("'%s': %d (%s)", p_cases[i].s, rc, err.message);
		if (!rc)
			assert_int_equal(id, p_cases[i].id);
		else if (!strstr(err.message, p_cases[i].msg))
			fail_msg("'%s': message '%s' lacks '%s'", p_cases[i].s, err.message,
				 p_cases[i].msg);
	}
}

/* ---- coverage ---------------------------------------------------------------------- */

static void coverage(void **state)
{
	(void)state;
	struct sevmig_owners *o = new_map();
	text_is(o, "");
	uint32_t ow, bw;
	assert_int_equal(sevmig_owners_get(o, 0, &ow, &bw), -ERANGE);
	assert_int_equal(sevmig_owners_add_range(o, 0, 0), -EINVAL);
	assert_int_equal(sevmig_owners_add_range(o, LIM, 1), -EINVAL);
	assert_int_equal(sevmig_owners_add_range(o, LIM - 1, 2), -EINVAL);
	assert_int_equal(sevmig_owners_add_range(o, UINT64_MAX, 2), -EINVAL);
	assert_int_equal(sevmig_owners_add_range(o, 0x10, 0x10), 0);
	/* the first and the last frame of the frame space */
	assert_int_equal(sevmig_owners_add_range(o, 0, 1), 0);
	assert_int_equal(sevmig_owners_add_range(o, LIM - 1, 1), 0);
	text_is(o, "0x0-0x0 host\n0x10-0x1f host\n0xffffffffff-0xffffffffff host\n");
	assert_int_equal(sevmig_owners_get(o, LIM - 1, &ow, &bw), 0);
	assert_int_equal(ow, HOST);
	assert_int_equal(bw, NONE);
	assert_int_equal(sevmig_owners_get(o, LIM, &ow, &bw), -ERANGE);
	assert_int_equal(sevmig_owners_get(o, UINT64_MAX, &ow, &bw), -ERANGE);
	/* overlaps on either side, inside, around */
	assert_int_equal(sevmig_owners_add_range(o, 0x8, 0x9), -EEXIST);
	assert_int_equal(sevmig_owners_add_range(o, 0x1f, 0x2), -EEXIST);
	assert_int_equal(sevmig_owners_add_range(o, 0x12, 0x2), -EEXIST);
	assert_int_equal(sevmig_owners_add_range(o, 0x1, 0x100), -EEXIST);
	/* touching ranges join */
	assert_int_equal(sevmig_owners_add_range(o, 0x1, 0xf), 0);
	assert_int_equal(sevmig_owners_add_range(o, 0x20, 0x10), 0);
	text_is(o, "0x0-0x2f host\n0xffffffffff-0xffffffffff host\n");
	struct sevmig_owners_stats st = { .sz = sizeof(st) };
	sevmig_owners_stats(o, &st);
	assert_int_equal(st.covered_frames, 0x31);
	assert_int_equal(st.ranges, 2);
	assert_int_equal(st.runs, 2);

	/* removal: host's unborrowed frames only */
	struct sevmig_owners_refusal rf = { .sz = sizeof(rf) };
	struct sevmig_error err;
	assert_int_equal(op(o, SEVMIG_OWNERS_HOST_DONATE_GUEST, 0x8, 1, 5), 0);
	sevmig_error_clear(&err);
	assert_int_equal(sevmig_owners_remove_range(o, 0x4, 8, &rf, &err), -EPERM);
	assert_int_equal(rf.frame, 0x8);
	assert_true(rf.covered);
	assert_int_equal(rf.owner, 5);
	assert_int_equal(rf.borrower, NONE);
	assert_non_null(strstr(err.message, "frame 0x8 is guest:5, not host"));
	assert_int_equal(sevmig_owners_remove_range(o, 0x28, 0x10, &rf, &err), -ERANGE);
	assert_int_equal(rf.frame, 0x30);
	assert_false(rf.covered);
	assert_non_null(strstr(err.message, "frame 0x30 is not covered"));
	assert_int_equal(sevmig_owners_remove_range(o, 0, 0, NULL, NULL), -EINVAL);
	text_is(o, "0x0-0x7 host\n0x8-0x8 guest:5\n0x9-0x2f host\n"
		   "0xffffffffff-0xffffffffff host\n");
	assert_int_equal(sevmig_owners_remove_range(o, 0x10, 0x8, NULL, NULL), 0);
	assert_int_equal(sevmig_owners_remove_range(o, LIM - 1, 1, NULL, NULL), 0);
	text_is(o, "0x0-0x7 host\n0x8-0x8 guest:5\n0x9-0xf host\n0x18-0x2f host\n");
	/* a frame that comes back starts as the host's again */
	assert_int_equal(sevmig_owners_add_range(o, 0x10, 0x8), 0);
	text_is(o, "0x0-0x7 host\n0x8-0x8 guest:5\n0x9-0x2f host\n");
	assert_int_equal(op(o, SEVMIG_OWNERS_GUEST_DONATE_HOST, 0x8, 1, 5), 0);
	assert_int_equal(sevmig_owners_remove_range(o, 0, 0x30, NULL, NULL), 0);
	text_is(o, "");
	sevmig_owners_free(o);
	sevmig_owners_free(NULL);
}

/* ---- transitions ------------------------------------------------------------------------ */

/* The table, written here independently of the library's. */
#define G_ 0xfffffffe /* the guest the transition names */
static const struct {
	enum sevmig_owners_op op;
	uint32_t ro, rb, no, nb;
} table[] = {
	{ SEVMIG_OWNERS_HOST_DONATE_HYP, HOST, NONE, HYP, NONE },
	{ SEVMIG_OWNERS_HYP_DONATE_HOST, HYP, NONE, HOST, NONE },
	{ SEVMIG_OWNERS_HOST_SHARE_HYP, HOST, NONE, HOST, HYP },
	{ SEVMIG_OWNERS_HOST_UNSHARE_HYP, HOST, HYP, HOST, NONE },
	{ SEVMIG_OWNERS_HOST_DONATE_GUEST, HOST, NONE, G_, NONE },
	{ SEVMIG_OWNERS_GUEST_DONATE_HOST, G_, NONE, HOST, NONE },
	{ SEVMIG_OWNERS_HOST_SHARE_GUEST, HOST, NONE, HOST, G_ },
	{ SEVMIG_OWNERS_HOST_UNSHARE_GUEST, HOST, G_, HOST, NONE },
	{ SEVMIG_OWNERS_GUEST_SHARE_HOST, G_, NONE, G_, HOST },
	{ SEVMIG_OWNERS_GUEST_UNSHARE_HOST, G_, HOST, G_, NONE },
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

static uint32_t sub(uint32_t id, uint32_t g)
{
	return id == G_ ? g : id;
}

/* Every state a frame can be in, with guests 7 (the one named) and 9. */
static const struct {
	uint32_t o, b;
	const char *text;
} states[] = {
	{ HYP, NONE, "hyp" },	     { HOST, NONE, "host" }, { HOST, HYP, "host>hyp" },
	{ HOST, 7, "host>guest:7" }, { 7, NONE, "guest:7" }, { 7, HOST, "guest:7>host" },
	{ HOST, 9, "host>guest:9" }, { 9, NONE, "guest:9" }, { 9, HOST, "guest:9>host" },
};
#define NSTATES (sizeof(states) / sizeof(states[0]))

static const char *state_text(uint32_t o, uint32_t b)
{
	for (size_t i = 0; i < NSTATES; i++)
		if (states[i].o == o && states[i].b == b)
			return states[i].text;
	fail_msg("no state (%u, %u)", o, b);
	return NULL;
}

static void transitions_succeed(void **state)
{
	(void)state;
	for (size_t t = 0; t < NTABLE; t++) {
		uint32_t g = sevmig_owners_op_takes_guest(table[t].op) ? 7 : 0;
		const char *req = state_text(sub(table[t].ro, 7), sub(table[t].rb, 7));
		const char *to = state_text(sub(table[t].no, 7), sub(table[t].nb, 7));
		/* a range of the required state with other states around it */
		char in[256], want[256];
		snprintf(in, sizeof(in),
			 "0x100-0x10f guest:9\n0x110-0x1ff %s\n0x200-0x2ff guest:9>host\n", req);
		struct sevmig_owners *o = parse(in);
		struct sevmig_owners_refusal rf = { .sz = sizeof(rf), .frame = 0x55 };
		struct sevmig_error err;
		sevmig_error_clear(&err);
		int rc = sevmig_owners_transition(o, table[t].op, 0x120, 0x20, g, &rf, &err);
		if (rc)
			fail_msg("%s: %d %s", sevmig_owners_op_name(table[t].op), rc, err.message);
		assert_int_equal(rf.frame, 0x55); /* untouched on success */
		assert_int_equal(err.code, 0);
		snprintf(want, sizeof(want),
			 "0x100-0x10f guest:9\n0x110-0x11f %s\n0x120-0x13f %s\n0x140-0x1ff "
			 "%s\n0x200-0x2ff guest:9>host\n",
			 req, to, req);
		text_is(o, want);
		/* the whole run, touching a neighbour: runs stay maximal */
		assert_int_equal(op(o, table[t].op, 0x110, 0x10, g), 0);
		assert_int_equal(op(o, table[t].op, 0x140, 0xc0, g), 0);
		snprintf(want, sizeof(want),
			 "0x100-0x10f guest:9\n0x110-0x1ff %s\n0x200-0x2ff guest:9>host\n", to);
		text_is(o, want);
		/* and back, by the inverse transition, to the map it was */
		for (size_t u = 0; u < NTABLE; u++)
			if (table[u].ro == table[t].no && table[u].rb == table[t].nb &&
			    table[u].no == table[t].ro && table[u].nb == table[t].rb) {
				uint32_t gu = sevmig_owners_op_takes_guest(table[u].op) ? 7 : 0;
				assert_int_equal(op(o, table[u].op, 0x110, 0xf0, gu), 0);
			}
		text_is(o, in);
		sevmig_owners_free(o);
	}
}

/* The map `pre` + a frame at 0x180 in `mid` + `post`, and the transition
 * over 0x100-0x1ff refused at `frame`, nothing changed. */
static void refused_at(size_t t, const char *in, uint64_t first, uint64_t n, uint64_t frame,
		       bool covered, uint32_t o_at, uint32_t b_at)
{
	uint32_t g = sevmig_owners_op_takes_guest(table[t].op) ? 7 : 0;
	struct sevmig_owners *o = parse(in);
	struct sevmig_owners_refusal rf;
	memset(&rf, 0xa5, sizeof(rf));
	rf.sz = sizeof(rf);
	struct sevmig_error err;
	sevmig_error_clear(&err);
	int rc = sevmig_owners_transition(o, table[t].op, first, n, g, &rf, &err);
	const char *name = sevmig_owners_op_name(table[t].op);
	if (rc != (covered ? -EPERM : -ERANGE))
		fail_msg("%s over\n%s: %d (%s)", name, in, rc, err.message);
	assert_int_equal(err.code, rc);
	assert_true(!strncmp(err.message, name, strlen(name)));
	if (rf.frame != frame || rf.covered != covered)
		fail_msg("%s over\n%s: refused at 0x%llx (%d), expected 0x%llx", name, in,
			 (unsigned long long)rf.frame, rf.covered, (unsigned long long)frame);
	char want[64];
	snprintf(want, sizeof(want), "frame 0x%llx", (unsigned long long)frame);
	assert_non_null(strstr(err.message, want));
	if (covered) {
		assert_int_equal(rf.owner, o_at);
		assert_int_equal(rf.borrower, b_at);
		assert_non_null(strstr(err.message, state_text(o_at, b_at)));
	} else {
		assert_non_null(strstr(err.message, "not covered"));
	}
	text_is(o, in); /* all or nothing */
	sevmig_owners_free(o);
}

static void transitions_refused(void **state)
{
	(void)state;
	for (size_t t = 0; t < NTABLE; t++) {
		const char *req = state_text(sub(table[t].ro, 7), sub(table[t].rb, 7));
		char in[256];
		for (size_t s = 0; s < NSTATES; s++) {
			if (!strcmp(states[s].text, req))
				continue;
			/* the blocking frame inside, at the start, and at the end */
			snprintf(in, sizeof(in), "0x100-0x17f %s\n0x180-0x180 %s\n0x181-0x1ff %s\n",
				 req, states[s].text, req);
			refused_at(t, in, 0x100, 0x100, 0x180, true, states[s].o, states[s].b);
			refused_at(t, in, 0x180, 0x10, 0x180, true, states[s].o, states[s].b);
			refused_at(t, in, 0x170, 0x11, 0x180, true, states[s].o, states[s].b);
			/* a whole range in the wrong state: its first frame */
			snprintf(in, sizeof(in), "0x100-0x1ff %s\n", states[s].text);
			refused_at(t, in, 0x140, 0x20, 0x140, true, states[s].o, states[s].b);
		}
		/* uncovered frames: a hole inside, before the coverage, after it */
		snprintf(in, sizeof(in), "0x100-0x17f %s\n0x181-0x1ff %s\n", req, req);
		refused_at(t, in, 0x100, 0x100, 0x180, false, 0, 0);
		refused_at(t, in, 0xf0, 0x20, 0xf0, false, 0, 0);
		refused_at(t, in, 0x1f0, 0x20, 0x200, false, 0, 0);
		refused_at(t, in, LIM - 1, 1, LIM - 1, false, 0, 0);
		/* the first blocker wins: a wrong state before a hole */
		bool hyp = !strcmp(req, "hyp");
		snprintf(in, sizeof(in), "0x100-0x17f %s\n0x180-0x180 %s\n0x182-0x1ff %s\n", req,
			 hyp ? "host" : "hyp", req);
		refused_at(t, in, 0x100, 0x100, 0x180, true, hyp ? HOST : HYP, NONE);
	}
}

static void transition_arguments(void **state)
{
	(void)state;
	struct sevmig_owners *o = parse("0x0-0xfff host\n");
	struct sevmig_error err;
	for (size_t t = 0; t < NTABLE; t++) {
		enum sevmig_owners_op p = table[t].op;
		if (sevmig_owners_op_takes_guest(p)) {
			static const uint32_t bad[] = { 0, 1, SEVMIG_OWNER_ID_MAX + 1, NONE };
			for (size_t i = 0; i < 4; i++) {
				sevmig_error_clear(&err);
				assert_int_equal(
				    sevmig_owners_transition(o, p, 0, 1, bad[i], NULL, &err),
				    -EINVAL);
				assert_non_null(strstr(err.message, "not a guest's"));
			}
		} else {
			sevmig_error_clear(&err);
			assert_int_equal(sevmig_owners_transition(o, p, 0, 1, 2, NULL, &err),
					 -EINVAL);
			assert_non_null(strstr(err.message, "names no guest"));
		}
		uint32_t g = sevmig_owners_op_takes_guest(p) ? 2 : 0;
		assert_int_equal(op(o, p, 0, 0, g), -EINVAL);
		assert_int_equal(op(o, p, LIM - 1, 2, g), -EINVAL);
		assert_int_equal(op(o, p, UINT64_MAX, 2, g), -EINVAL);
		assert_int_equal(op(o, p, LIM, 1, g), -EINVAL);
	}
	assert_int_equal(op(o, 0, 0, 1, 0), -EINVAL);
	assert_int_equal(op(o, 11, 0, 1, 0), -EINVAL);
	assert_int_equal(op(NULL, SEVMIG_OWNERS_HOST_DONATE_HYP, 0, 1, 0), -EINVAL);
	/* the largest guest id works */
	assert_int_equal(op(o, SEVMIG_OWNERS_HOST_DONATE_GUEST, 0, 1, SEVMIG_OWNER_ID_MAX), 0);
	text_is(o, "0x0-0x0 guest:1048575\n0x1-0xfff host\n");

	/* an older caller's smaller refusal struct is filled only up to its sz */
	unsigned char small[offsetof(struct sevmig_owners_refusal, covered) + 8];
	memset(small, 0xee, sizeof(small));
	size_t sz = offsetof(struct sevmig_owners_refusal, covered);
	memcpy(small, &sz, sizeof(sz));
	assert_int_equal(sevmig_owners_transition(o, SEVMIG_OWNERS_HOST_DONATE_HYP, 0, 2, 0,
						  (struct sevmig_owners_refusal *)(void *)small,
						  NULL),
			 -EPERM);
	uint64_t frame;
	memcpy(&frame, small + offsetof(struct sevmig_owners_refusal, frame), sizeof(frame));
	assert_int_equal(frame, 0);
	for (size_t i = sz; i < sizeof(small); i++)
		assert_int_equal(small[i], 0xee);
	sevmig_owners_free(o);
}

/* ---- queries ------------------------------------------------------------------------------ */

struct runs_seen {
	struct sevmig_owners_run r[16];
	size_t n;
	size_t stop_at;
};

static int see_run(void *arg, const struct sevmig_owners_run *r)
{
	struct runs_seen *s = arg;
	assert_true(s->n < 16);
	s->r[s->n++] = *r;
	return s->n == s->stop_at ? 42 : 0;
}

struct ents_seen {
	struct sevmig_owners_entity e[8];
	size_t n;
};

static int see_ent(void *arg, const struct sevmig_owners_entity *e)
{
	struct ents_seen *s = arg;
	assert_true(s->n < 8);
	s->e[s->n++] = *e;
	return 0;
}

static void queries(void **state)
{
	(void)state;
	struct sevmig_owners *o = parse("0x10-0x1f hyp\n0x20-0x2f host>guest:3\n"
					"0x40-0x4f guest:3>host\n0x50-0x5f guest:4\n"
					"0x60-0x6f host>hyp\n");
	uint32_t ow, bw;
	assert_int_equal(sevmig_owners_get(o, 0x25, &ow, &bw), 0);
	assert_int_equal(ow, HOST);
	assert_int_equal(bw, 3);
	assert_int_equal(sevmig_owners_get(o, 0x30, &ow, &bw), -ERANGE);
	assert_int_equal(sevmig_owners_get(o, 0xf, &ow, &bw), -ERANGE);

	struct sevmig_owners_refusal rf = { .sz = sizeof(rf) };
	assert_int_equal(sevmig_owners_check(o, 0x40, 0x10, 3, HOST, &rf, NULL), 0);
	assert_int_equal(sevmig_owners_check(o, 0x40, 0x11, 3, HOST, &rf, NULL), -EPERM);
	assert_int_equal(rf.frame, 0x50);
	assert_int_equal(rf.owner, 4);
	assert_int_equal(sevmig_owners_check(o, 0x28, 0x10, HOST, 3, &rf, NULL), -ERANGE);
	assert_int_equal(rf.frame, 0x30);
	/* states no map holds, bad ranges */
	assert_int_equal(sevmig_owners_check(o, 0x40, 1, 3, 4, NULL, NULL), -EINVAL);
	assert_int_equal(sevmig_owners_check(o, 0x40, 1, HYP, HOST, NULL, NULL), -EINVAL);
	assert_int_equal(sevmig_owners_check(o, 0x40, 1, HOST, HOST, NULL, NULL), -EINVAL);
	assert_int_equal(sevmig_owners_check(o, 0x40, 1, NONE, NONE, NULL, NULL), -EINVAL);
	assert_int_equal(sevmig_owners_check(o, 0x40, 0, 3, HOST, NULL, NULL), -EINVAL);

	struct runs_seen s = { .n = 0 };
	assert_int_equal(sevmig_owners_walk(o, 0x18, 0x30, see_run, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.r[0].first, 0x18);
	assert_int_equal(s.r[0].nframes, 8);
	assert_int_equal(s.r[0].owner, HYP);
	assert_int_equal(s.r[1].first, 0x20);
	assert_int_equal(s.r[1].nframes, 0x10);
	assert_int_equal(s.r[1].borrower, 3);
	assert_int_equal(s.r[2].first, 0x40);
	assert_int_equal(s.r[2].nframes, 8);
	s = (struct runs_seen){ .stop_at = 2 };
	assert_int_equal(sevmig_owners_walk(o, 0, UINT64_MAX, see_run, &s), 42);
	assert_int_equal(s.n, 2);
	s = (struct runs_seen){ .n = 0 };
	assert_int_equal(sevmig_owners_walk(o, 0, 0, see_run, &s), 0);
	assert_int_equal(sevmig_owners_walk(o, 0x30, 0x10, see_run, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(sevmig_owners_walk(o, 2, UINT64_MAX, see_run, &s), -EINVAL);

	struct sevmig_owners_stats st = { .sz = sizeof(st) };
	sevmig_owners_stats(o, &st);
	assert_int_equal(st.covered_frames, 0x50);
	assert_int_equal(st.ranges, 2);
	assert_int_equal(st.runs, 5);
	assert_int_equal(st.borrowed_frames, 0x30);
	assert_true(st.memory_bytes > 0 && st.memory_bytes < 1024);

	struct ents_seen e = { .n = 0 };
	assert_int_equal(sevmig_owners_entities(o, see_ent, &e), 0);
	assert_int_equal(e.n, 4);
	static const struct sevmig_owners_entity want[] = {
		{ HYP, 0x10, 0, 0x10 },
		{ HOST, 0, 0x20, 0x10 },
		{ 3, 0, 0x10, 0x10 },
		{ 4, 0x10, 0, 0 },
	};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(e.e[i].id, want[i].id);
		assert_int_equal(e.e[i].owned, want[i].owned);
		assert_int_equal(e.e[i].shared_owned, want[i].shared_owned);
		assert_int_equal(e.e[i].shared_borrowed, want[i].shared_borrowed);
	}
	sevmig_owners_free(o);
	/* an empty map still lists the hypervisor and the host */
	o = new_map();
	e.n = 0;
	assert_int_equal(sevmig_owners_entities(o, see_ent, &e), 0);
	assert_int_equal(e.n, 2);
	sevmig_owners_free(o);
}

static void clone_equal(void **state)
{
	(void)state;
	struct sevmig_owners *a = parse("0x0-0xf host\n0x10-0x1f guest:2>host\n"), *b;
	assert_int_equal(sevmig_owners_clone(a, &b, NULL), 0);
	assert_true(sevmig_owners_equal(a, b));
	assert_int_equal(op(b, SEVMIG_OWNERS_HOST_SHARE_HYP, 0, 1, 0), 0);
	assert_false(sevmig_owners_equal(a, b));
	assert_int_equal(op(b, SEVMIG_OWNERS_HOST_UNSHARE_HYP, 0, 1, 0), 0);
	assert_true(sevmig_owners_equal(a, b));
	repr_ok(b);
	struct sevmig_owners *c = new_map();
	assert_false(sevmig_owners_equal(a, c));
	struct sevmig_error err;
	assert_int_equal(sevmig_owners_clone(NULL, &c, &err), -EINVAL);
	sevmig_owners_free(a);
	sevmig_owners_free(b);
	sevmig_owners_free(c);
}

/* ---- views and EPT -------------------------------------------------------------------------- */

static void views(void **state)
{
	(void)state;
	/* entities hyp, host, the guest 7 and another guest 9, for every state */
	static const uint32_t who[4] = { HYP, HOST, 7, 9 };
	enum {
		N = SEVMIG_VIEW_NOPAGE,
		O = SEVMIG_VIEW_OWNED,
		SO = SEVMIG_VIEW_SHARED_OWNED,
		SB = SEVMIG_VIEW_SHARED_BORROWED
	};
	static const struct {
		const char *st;
		int view[4];
		uint32_t host_id; /* the owner id in the host's NOPAGE */
	} want[] = {
		{ "hyp", { O, N, N, N }, HYP },		 { "host", { N, O, N, N }, 0 },
		{ "host>hyp", { SB, SO, N, N }, 0 },	 { "host>guest:7", { N, SO, SB, N }, 0 },
		{ "guest:7", { N, N, O, N }, 7 },	 { "guest:7>host", { N, SB, SO, N }, 0 },
		{ "guest:9>host", { N, SB, N, SO }, 0 },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char in[64];
		snprintf(in, sizeof(in), "0x40-0x4f %s\n", want[i].st);
		struct sevmig_owners *o = parse(in);
		for (size_t w = 0; w < 4; w++) {
			enum sevmig_page_view v;
			uint32_t id = 99;
			assert_int_equal(sevmig_owners_view(o, who[w], 0x44, &v, &id), 0);
			if ((int)v != want[i].view[w])
				fail_msg("%s seen by %u: %s", want[i].st, who[w],
					 sevmig_page_view_name(v));
			uint32_t want_id =
			    who[w] == HOST && v == SEVMIG_VIEW_NOPAGE ? want[i].host_id : 0;
			assert_int_equal(id, want_id);
			uint64_t pte = 0;
			assert_int_equal(
			    sevmig_owners_ept_annotate(o, who[w], 0x44, 1, &pte, 1, NULL), 0);
			assert_int_equal(pte, (uint64_t)v << 56 | (uint64_t)want_id << 12);
		}
		enum sevmig_page_view v;
		uint32_t id;
		assert_int_equal(sevmig_owners_view(o, 7, 0x50, &v, &id), -ERANGE);
		assert_int_equal(sevmig_owners_view(o, SEVMIG_OWNER_ID_MAX + 1, 0x44, &v, &id),
				 -EINVAL);
		sevmig_owners_free(o);
	}
}

static void ept_encoding(void **state)
{
	(void)state;
	/* the seed's bit layout, literally */
	uint64_t pte = 0;
	assert_int_equal(sevmig_owners_ept_encode(SEVMIG_VIEW_OWNED, 0, &pte), 0);
	assert_int_equal(pte, UINT64_C(0x0100000000000000));
	assert_int_equal(sevmig_owners_ept_encode(SEVMIG_VIEW_SHARED_OWNED, 0, &pte), 0);
	assert_int_equal(pte, UINT64_C(0x0200000000000000));
	assert_int_equal(sevmig_owners_ept_encode(SEVMIG_VIEW_SHARED_BORROWED, 0, &pte), 0);
	assert_int_equal(pte, UINT64_C(0x0300000000000000));
	assert_int_equal(sevmig_owners_ept_encode(SEVMIG_VIEW_NOPAGE, 0xfffff, &pte), 0);
	assert_int_equal(pte, UINT64_C(0x00000000fffff000));
	/* refusals leave the entry alone */
	pte = 0x1234;
	assert_int_equal(sevmig_owners_ept_encode((enum sevmig_page_view)4, 0, &pte), -EINVAL);
	assert_int_equal(sevmig_owners_ept_encode(SEVMIG_VIEW_NOPAGE, 0x100000, &pte), -EINVAL);
	assert_int_equal(sevmig_owners_ept_encode(SEVMIG_VIEW_OWNED, 2, &pte), -EINVAL);
	assert_int_equal(sevmig_owners_ept_encode(SEVMIG_VIEW_OWNED, 0, NULL), -EINVAL);
	assert_int_equal(pte, 0x1234);

	/* round trip of every view and owner id edge over random entries: the
	 * annotation's bits come back, every other bit is kept */
	struct tu_rng r = { tu_seed("ept_encoding") };
	static const uint32_t ids[] = { 0, 1, 2, 3, 0x7ffff, 0x80000, 0xffffe, 0xfffff };
	for (int k = 0; k < 2000; k++) {
		uint64_t before = tu_next(&r);
		enum sevmig_page_view v = (enum sevmig_page_view)tu_below(&r, 4);
		uint32_t id = v == SEVMIG_VIEW_NOPAGE ? ids[tu_below(&r, 8)] : 0;
		uint64_t p = before;
		assert_int_equal(sevmig_owners_ept_encode(v, id, &p), 0);
		enum sevmig_page_view v2;
		uint32_t id2;
		sevmig_owners_ept_decode(p, &v2, &id2);
		assert_int_equal(v2, v);
		assert_int_equal(id2, id);
		uint64_t mine =
		    SEVMIG_EPT_STATE_MASK | (v == SEVMIG_VIEW_NOPAGE ? SEVMIG_EPT_OWNER_MASK : 0);
		assert_int_equal(p & ~mine, before & ~mine);
		/* decode, then encode what it read: the entry is unchanged */
		uint64_t q = tu_next(&r), q2 = q;
		sevmig_owners_ept_decode(q, &v2, &id2);
		assert_int_equal(sevmig_owners_ept_encode(v2, id2, &q2), 0);
		assert_int_equal(q2, q);
	}
}

struct vruns {
	struct sevmig_owners_view_run r[64];
	size_t n;
};

static int see_vrun(void *arg, const struct sevmig_owners_view_run *r)
{
	struct vruns *s = arg;
	assert_true(s->n < 64);
	s->r[s->n++] = *r;
	return 0;
}

static void ept_range_round_trip(void **state)
{
	(void)state;
	struct sevmig_owners *o = parse("0x100-0x10f hyp\n0x110-0x11f host\n0x120-0x12f host>hyp\n"
					"0x130-0x13f host>guest:2\n0x140-0x14f guest:2\n"
					"0x150-0x15f guest:2>host\n0x160-0x16f guest:3\n"
					"0x170-0x17f host>guest:3\n0x180-0x18f guest:1048575\n");
	static const uint32_t who[] = { HYP, HOST, 2, 3, 4, SEVMIG_OWNER_ID_MAX };
	enum { N = 0x90 };
	uint64_t ptes[N];
	struct tu_rng r = { 7 };
	for (size_t w = 0; w < sizeof(who) / sizeof(who[0]); w++) {
		for (size_t i = 0; i < N; i++)
			ptes[i] = tu_next(&r) & ~(SEVMIG_EPT_STATE_MASK | SEVMIG_EPT_OWNER_MASK);
		uint64_t keep[N];
		memcpy(keep, ptes, sizeof(ptes));
		assert_int_equal(sevmig_owners_ept_annotate(o, who[w], 0x100, N, ptes, N, NULL), 0);
		struct vruns a = { .n = 0 }, b = { .n = 0 };
		assert_int_equal(sevmig_owners_view_walk(o, who[w], 0x100, N, see_vrun, &a), 0);
		assert_int_equal(sevmig_owners_ept_runs(ptes, N, 0x100, see_vrun, &b), 0);
		assert_int_equal(a.n, b.n);
		for (size_t i = 0; i < a.n; i++) {
			assert_int_equal(a.r[i].first, b.r[i].first);
			assert_int_equal(a.r[i].nframes, b.r[i].nframes);
			assert_int_equal(a.r[i].view, b.r[i].view);
			assert_int_equal(a.r[i].owner_id, b.r[i].owner_id);
		}
		/* per frame, the view the map gives; the address bits kept */
		for (size_t i = 0; i < N; i++) {
			enum sevmig_page_view v, v2;
			uint32_t id, id2;
			assert_int_equal(sevmig_owners_view(o, who[w], 0x100 + i, &v, &id), 0);
			sevmig_owners_ept_decode(ptes[i], &v2, &id2);
			assert_int_equal(v, v2);
			assert_int_equal(id, id2);
			if (v != SEVMIG_VIEW_NOPAGE)
				assert_int_equal(ptes[i] & SEVMIG_EPT_OWNER_MASK,
						 keep[i] & SEVMIG_EPT_OWNER_MASK);
		}
	}
	/* a guest sees everything not its own as one NOPAGE run */
	struct vruns a = { .n = 0 };
	assert_int_equal(sevmig_owners_view_walk(o, 4, 0, UINT64_MAX, see_vrun, &a), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.r[0].first, 0x100);
	assert_int_equal(a.r[0].nframes, N);
	/* the host's NOPAGE runs are cut by owner */
	a.n = 0;
	assert_int_equal(sevmig_owners_view_walk(o, HOST, 0, UINT64_MAX, see_vrun, &a), 0);
	assert_int_equal(a.n, 8); /* host>hyp and host>guest:2 are both SHARED_OWNED */
	assert_int_equal(a.r[7].owner_id, SEVMIG_OWNER_ID_MAX);

	/* uncovered frames: refused, nothing written; too few entries */
	for (size_t i = 0; i < N; i++)
		ptes[i] = 0x5a5a;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	assert_int_equal(sevmig_owners_ept_annotate(o, HOST, 0xf8, 0x10, ptes, N, &err), -ERANGE);
	assert_non_null(strstr(err.message, "frame 0xf8 is not covered"));
	assert_int_equal(sevmig_owners_ept_annotate(o, HOST, 0x180, 0x11, ptes, N, &err), -ERANGE);
	assert_non_null(strstr(err.message, "frame 0x190 is not covered"));
	for (size_t i = 0; i < N; i++)
		assert_int_equal(ptes[i], 0x5a5a);
	assert_int_equal(sevmig_owners_ept_annotate(o, HOST, 0x100, N, ptes, N - 1, NULL), -ENOSPC);
	assert_int_equal(sevmig_owners_ept_annotate(o, HOST, 0x100, 0, ptes, N, NULL), -EINVAL);
	assert_int_equal(sevmig_owners_ept_annotate(o, 0x100000, 0x100, 1, ptes, N, NULL), -EINVAL);
	assert_int_equal(sevmig_owners_ept_runs(ptes, 2, UINT64_MAX, see_vrun, &a), -EINVAL);
	sevmig_owners_free(o);
}

/* ---- projection ------------------------------------------------------------------------------ */

static void projection(void **state)
{
	(void)state;
	struct sevmig_owners *o = parse("0x100-0x10f hyp\n0x110-0x11f guest:2\n"
					"0x120-0x123 guest:2>host\n0x124-0x12f guest:2\n"
					"0x130-0x13f host>guest:2\n0x140-0x14f host>guest:3\n"
					"0x150-0x15f host>guest:2\n0x160-0x16f guest:3>host\n"
					"0x170-0x17f host\n0x200-0x20f guest:2\n"
					"0x210-0x21f guest:2\n");
	struct sevmig_pstate *ps = NULL;
	assert_int_equal(sevmig_owners_project(o, 2, &ps, NULL), 0);
	char *t;
	size_t len;
	assert_int_equal(sevmig_pstate_format_text(ps, &t, &len), 0);
	assert_string_equal(t, "0x110-0x11f private\n0x120-0x123 shared\n0x124-0x12f private\n"
			       "0x130-0x13f shared\n0x150-0x15f shared\n0x200-0x21f private\n");
	free(t);
	/* each stretch of the guest's frames is a memslot */
	assert_int_equal(sevmig_pstate_slot_count(ps), 3);
	sevmig_pstate_free(ps);
	assert_int_equal(sevmig_owners_project(o, 3, &ps, NULL), 0);
	assert_int_equal(sevmig_pstate_format_text(ps, &t, &len), 0);
	assert_string_equal(t, "0x140-0x14f shared\n0x160-0x16f shared\n");
	free(t);
	sevmig_pstate_free(ps);
	/* a guest the map does not name: an empty map */
	assert_int_equal(sevmig_owners_project(o, 4, &ps, NULL), 0);
	assert_int_equal(sevmig_pstate_slot_count(ps), 0);
	sevmig_pstate_free(ps);
	struct sevmig_error err;
	sevmig_error_clear(&err);
	assert_int_equal(sevmig_owners_project(o, 1, &ps, &err), -EINVAL);
	assert_non_null(strstr(err.message, "not a guest id"));
	assert_int_equal(sevmig_owners_project(o, SEVMIG_OWNER_ID_MAX + 1, &ps, NULL), -EINVAL);
	sevmig_owners_free(o);
}

/* ---- text form ---------------------------------------------------------------------------------
 */

static void text_lenient(void **state)
{
	(void)state;
	/* comments, blank lines, tabs, CRLF, leading zeros, any order;
	 * touching lines in one state join, touching lines in two do not */
	static const char in[] = "# a host\n"
				 "\n"
				 "0x200-0x2ff\thost   # RAM\r\n"
				 "  0x00100-0x1ff host\n"
				 "0x300-0x3ff guest:02>host\n"
				 "0x400-0x4ff guest:2>host\n"
				 "0x1000-0x1000 host>hyp";
	struct sevmig_owners *o = parse(in);
	text_is(o, "0x100-0x2ff host\n0x300-0x4ff guest:2>host\n0x1000-0x1000 host>hyp\n");
	/* canonical text is a fixed point */
	char *t = text_of(o);
	struct sevmig_owners *back = parse(t);
	assert_true(sevmig_owners_equal(o, back));
	char *t2 = text_of(back);
	assert_string_equal(t, t2);
	free(t);
	free(t2);
	sevmig_owners_free(back);
	sevmig_owners_free(o);
	o = parse("# nothing\n\n");
	text_is(o, "");
	sevmig_owners_free(o);
	o = parse("0x0-0xffffffffff hyp\n");
	text_is(o, "0x0-0xffffffffff hyp\n");
	sevmig_owners_free(o);
}

static void text_bad(const char *in, size_t len, uint64_t line, const char *msg)
{
	struct sevmig_owners *o = (struct sevmig_owners *)(uintptr_t)1;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	int rc = sevmig_owners_parse_text(in, len, &o, &err);
	if (rc != -EBADMSG)
		fail_msg("'%s': %d, expected -EBADMSG", in, rc);
	assert_int_equal(err.code, -EBADMSG);
	assert_int_equal(err.offset, SEVMIG_NO_OFFSET);
	if (err.index != line || !strstr(err.message, msg))
		fail_msg("'%s': line %llu '%s', expected line %llu '%s'", in,
			 (unsigned long long)err.index, err.message, (unsigned long long)line, msg);
	assert_true(o == (struct sevmig_owners *)(uintptr_t)1);
}

static void text_errors(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		uint64_t line;
		const char *msg;
	} cases[] = {
		{ "100-0x1ff host\n", 1, "expected the first frame" },
		{ "0X100-0x1ff host\n", 1, "0X" },
		{ "0x1F0-0x1ff host\n", 1, "upper-case hex digit 'F'" },
		{ "0x-0x1ff host\n", 1, "no hex digits" },
		{ "0x100 0x1ff host\n", 1, "expected '-'" },
		{ "0x200-0x1ff host\n", 1, "backwards" },
		{ "0x10000000000-0x10000000000 host\n", 1, "beyond the 40-bit frame limit" },
		{ "0x100-0x1ff\n", 1, "missing owner" },
		{ "0x100-0x1ff # host\n", 1, "missing owner" },
		{ "0x100-0x1ffhost\n", 1, "expected a space" },
		{ "0x100-0x1ff shared\n", 1, "unknown entity 'shared'" },
		{ "0x100-0x1ff Host\n", 1, "unknown entity 'Host'" },
		{ "0x100-0x1ff guest:1\n", 1, "below 2" },
		{ "0x100-0x1ff guest:1048576\n", 1, "past 1048575" },
		{ "0x100-0x1ff guest:x\n", 1, "not a decimal" },
		{ "0x100-0x1ff host>\n", 1, "missing borrower" },
		{ "0x100-0x1ff >host\n", 1, "missing owner" },
		{ "0x100-0x1ff host>nobody\n", 1, "borrower: unknown entity" },
		{ "0x100-0x1ff host>host\n", 1, "cannot borrow its own" },
		{ "0x100-0x1ff hyp>host\n", 1, "hypervisor's frames are never lent" },
		{ "0x100-0x1ff guest:2>guest:3\n", 1, "lent to the host only" },
		{ "0x100-0x1ff guest:2>hyp\n", 1, "lent to the host only" },
		{ "0x100-0x1ff host>guest:2>hyp\n", 1, "guest id '2>hyp' is not a decimal" },
		{ "0x100-0x1ff host extra\n", 1, "unexpected 'extra'" },
		{ "# ok\n0x100-0x1ff host\n0x1ff-0x2ff hyp\n", 3,
		  "overlaps 0x100-0x1ff on line 2" },
		{ "0x300-0x3ff host\n0x100-0x1ff host\n0x150-0x150 hyp\n", 3, "overlaps" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		text_bad(cases[i].in, strlen(cases[i].in), cases[i].line, cases[i].msg);
	text_bad("0x1-0x2 host\n0x3-0x4 h\0st\n", 26, 2, "NUL byte");
	char *longl = malloc(5000);
	assert_non_null(longl);
	memset(longl, ' ', 5000);
	memcpy(longl + 4990, "0x1-0x2 h\n", 10);
	text_bad(longl, 5000, 1, "longer than 4096");
	free(longl);
	struct sevmig_owners *o;
	assert_int_equal(sevmig_owners_parse_text(NULL, 1, &o, NULL), -EINVAL);
	assert_int_equal(sevmig_owners_parse_text("", 0, NULL, NULL), -EINVAL);
}

/* ---- binary form ------------------------------------------------------------------------------
 */

/* docs/owners-format.md, 1.5: the worked example byte for byte. */
static const uint8_t example[] = {
	0x89, 0x53, 0x56, 0x4f, 0x57, 0x0d, 0x0a, 0x1a, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x10, 0x00, 0x00, 0x05, 0x80, 0x02, 0xff, 0x01, 0x01, 0x00, 0x00,
	0x0f, 0x00, 0x00, 0x00, 0xef, 0x01, 0x01, 0x03, 0x80, 0x1a, 0xff, 0x01,
	0x02, 0x00, 0x00, 0x00, 0x02, 0x02, 0x9f, 0x87, 0x37, 0xec,
};
static const char example_text[] = "0x100-0x1ff host\n0x200-0x20f hyp\n0x210-0x2ff host>guest:2\n"
				   "0x1000-0x10ff guest:2\n0x1100-0x1100 guest:2>host\n";

static struct sevmig_owners *deser_ok(const void *buf, size_t len)
{
	struct sevmig_owners *o = NULL;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	int rc = sevmig_owners_deserialize(buf, len, &o, &err);
	if (rc)
		fail_msg("deserialize: %d at byte %llu: %s", rc, (unsigned long long)err.offset,
			 err.message);
	repr_ok(o);
	return o;
}

static void binary_round_trips(void **state)
{
	(void)state;
	struct sevmig_owners *o = parse(example_text);
	void *buf;
	size_t len;
	assert_int_equal(sevmig_owners_serialize(o, &buf, &len), 0);
	assert_int_equal(len, sizeof(example));
	assert_memory_equal(buf, example, sizeof(example));
	/* the checksum, computed here by the portable path */
	assert_int_equal(sevmig__le32(example + sizeof(example) - 4),
			 sevmig__crc32c_sw(0, example, sizeof(example) - 4));
	struct sevmig_owners *back = deser_ok(buf, len);
	assert_true(sevmig_owners_equal(o, back));
	free(buf);
	sevmig_owners_free(back);
	sevmig_owners_free(o);

	/* the empty map, the edges of the frame space, every state */
	static const char *const maps[] = {
		"",
		"0x0-0x0 host\n",
		"0x0-0xffffffffff guest:1048575>host\n",
		"0xfffffffffe-0xffffffffff host>guest:1048575\n",
		("0x0-0x0 hyp\n0x1-0x1 host\n0x2-0x2 host>hyp\n0x3-0x3 host>guest:9\n"
		 "0x4-0x4 guest:9\n0x5-0x5 guest:9>host\n0xfffffffff0-0xffffffffff hyp\n"),
	};
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		o = parse(maps[i]);
		assert_int_equal(sevmig_owners_serialize(o, &buf, &len), 0);
		back = deser_ok(buf, len);
		text_is(back, maps[i]);
		struct sevmig_owners *l = NULL;
		assert_int_equal(sevmig_owners_load(buf, len, &l, NULL), 0);
		assert_true(sevmig_owners_equal(o, l));
		sevmig_owners_free(l);
		free(buf);
		sevmig_owners_free(back);
		sevmig_owners_free(o);
	}
}

static void bin_bad(const uint8_t *p, size_t len, bool fix_crc, uint64_t offset, const char *msg)
{
	uint8_t *b = malloc(len + 1);
	assert_non_null(b);
	memcpy(b, p, len);
	if (fix_crc && len >= 4)
		sevmig__put_le32(b + len - 4, sevmig__crc32c(0, b, len - 4));
	struct sevmig_owners *o = (struct sevmig_owners *)(uintptr_t)1;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	int rc = sevmig_owners_deserialize(b, len, &o, &err);
	if (rc != -EBADMSG || err.offset != offset || !strstr(err.message, msg))
		fail_msg("%zu bytes: %d at byte %llu '%s', expected byte %llu '%s'", len, rc,
			 (unsigned long long)err.offset, err.message, (unsigned long long)offset,
			 msg);
	assert_true(o == (struct sevmig_owners *)(uintptr_t)1);
	free(b);
}

/* The example with bytes [at, at + n) replaced by `with` (m bytes). */
static void bin_bad_edit(size_t at, size_t n, const uint8_t *with, size_t m, uint64_t offset,
			 const char *msg)
{
	uint8_t b[128];
	size_t len = sizeof(example) - n + m;
	assert_true(len <= sizeof(b));
	memcpy(b, example, at);
	memcpy(b + at, with, m);
	memcpy(b + at + m, example + at + n, sizeof(example) - at - n);
	bin_bad(b, len, true, offset, msg);
}

#define EDIT(at, n, offset, msg, ...)                         \
	bin_bad_edit(at, n, (const uint8_t[]){ __VA_ARGS__ }, \
		     sizeof((const uint8_t[]){ __VA_ARGS__ }), offset, msg)

static void binary_refusals(void **state)
{
	(void)state;
	/* header */
	EDIT(0, 1, 0, "not a page-ownership file", 0x88);
	EDIT(8, 2, 8, "format version 2", 0x02, 0x00);
	EDIT(10, 2, 10, "reserved flag bits 0x0001", 0x01, 0x00);
	EDIT(10, 2, 10, "reserved flag bits 0x8000", 0x00, 0x80);
	EDIT(12, 4, 12, "frame size 8192", 0x00, 0x20, 0x00, 0x00);
	/* run count */
	EDIT(16, 1, 16, "runs cannot fit", 0x07);
	EDIT(16, 1, 16, "overlong varint", 0x85, 0x00);
	EDIT(16, 1, 16, "runs cannot fit", 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	     0x01);
	EDIT(16, 1, 16, "past 64 bits", 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02);
	/* fewer runs than the bytes hold */
	EDIT(16, 1, 38, "unexpected bytes after the last run", 0x04);
	/* gap, length: the 40-bit limit */
	EDIT(17, 2, 17, "starts beyond the 40-bit frame limit", 0x80, 0x80, 0x80, 0x80, 0x80, 0x20);
	EDIT(19, 2, 19, "longer than the 1099511627520 frames left", 0xff, 0xff, 0xff, 0xff, 0xff,
	     0x1f);
	EDIT(17, 2, 17, "overlong varint", 0x80, 0x00);
	/* ids and states */
	EDIT(21, 1, 21, "past the 20-bit id range", 0x80, 0x80, 0x40);
	EDIT(22, 1, 22, "borrower 1048577 (id + 1) is past the 20-bit id range", 0x81, 0x80, 0x40);
	EDIT(21, 2, 21, "hypervisor's frames are never lent", 0x00, 0x02);
	EDIT(21, 2, 21, "cannot borrow its own", 0x01, 0x02);
	EDIT(21, 2, 21, "lent to the host only", 0x02, 0x04);
	/* run 1 (hyp) turned host: touches run 0 in its state */
	EDIT(25, 1, 23, "runs must be maximal", 0x01);
	/* a trailing byte, inside the CRC range */
	EDIT(42, 0, 42, "1 unexpected bytes after the last run", 0x00);
	/* one run whose gap never ends */
	EDIT(16, 26, 17, "ends inside the gap of run 0", 0x01, 0x80, 0x80, 0x80, 0x80);
	/* the checksum */
	uint8_t b[sizeof(example)];
	memcpy(b, example, sizeof(b));
	b[sizeof(b) - 1] ^= 1;
	bin_bad(b, sizeof(b), false, sizeof(b) - 4, "checksum mismatch");

	/* every truncation */
	for (size_t n = 0; n < sizeof(example); n++) {
		struct sevmig_owners *o = NULL;
		struct sevmig_error err;
		sevmig_error_clear(&err);
		assert_int_equal(sevmig_owners_deserialize(example, n, &o, &err), -EBADMSG);
		assert_true(err.message[0]);
		assert_true(err.offset <= n);
		assert_null(o);
	}
	/* every single-bit flip: the checksum catches what the structure does not */
	for (size_t i = 0; i < sizeof(example) * 8; i++) {
		memcpy(b, example, sizeof(b));
		b[i / 8] ^= (uint8_t)(1u << (i % 8));
		struct sevmig_owners *o = NULL;
		struct sevmig_error err;
		sevmig_error_clear(&err);
		if (sevmig_owners_deserialize(b, sizeof(b), &o, &err) != -EBADMSG)
			fail_msg("bit %zu flipped: accepted", i);
	}
	struct sevmig_owners *o;
	assert_int_equal(sevmig_owners_deserialize(NULL, 3, &o, NULL), -EINVAL);
	assert_int_equal(sevmig_owners_deserialize(example, sizeof(example), NULL, NULL), -EINVAL);
}

static void load_either(void **state)
{
	(void)state;
	struct sevmig_owners *a = NULL, *b = NULL;
	assert_int_equal(sevmig_owners_load(example, sizeof(example), &a, NULL), 0);
	assert_int_equal(sevmig_owners_load(example_text, strlen(example_text), &b, NULL), 0);
	assert_true(sevmig_owners_equal(a, b));
	sevmig_owners_free(a);
	sevmig_owners_free(b);
	/* a page-state file is not an ownership map, in either form */
	static const uint8_t pst[] = { 0x89, 'S', 'V', 'P', 'S', '\r', '\n', 0x1a, 1, 0, 0, 0 };
	struct sevmig_error err;
	sevmig_error_clear(&err);
	assert_int_equal(sevmig_owners_load(pst, sizeof(pst), &a, &err), -EBADMSG);
	assert_non_null(strstr(err.message, "not a page-ownership file"));
	assert_int_equal(err.offset, 0);
	sevmig_error_clear(&err);
	assert_int_equal(sevmig_owners_load("0x0-0xff private\n", 17, &a, &err), -EBADMSG);
	assert_int_equal(err.index, 1);
	assert_non_null(strstr(err.message, "unknown entity 'private'"));
}

/* ---- memory -------------------------------------------------------------------------------------
 */

/* A 1 TiB host (2^28 frames) with 4000 ownership changes: kilobytes. */
static void one_tib_in_kilobytes(void **state)
{
	(void)state;
	struct sevmig_owners *o = new_map();
	assert_int_equal(sevmig_owners_add_range(o, 0, UINT64_C(1) << 28), 0);
	struct tu_rng r = { tu_seed("one_tib_in_kilobytes") };
	int done = 0;
	for (int i = 0; i < 4000; i++) {
		uint64_t f = tu_below(&r, (UINT64_C(1) << 28) - 512);
		uint64_t n = 1 + tu_below(&r, 512);
		uint32_t g = 2 + (uint32_t)tu_below(&r, 30);
		int k = (int)tu_below(&r, 3);
		int rc = k == 0	  ? op(o, SEVMIG_OWNERS_HOST_DONATE_GUEST, f, n, g)
			 : k == 1 ? op(o, SEVMIG_OWNERS_HOST_SHARE_GUEST, f, n, g)
				  : op(o, SEVMIG_OWNERS_HOST_DONATE_HYP, f, n, 0);
		assert_true(rc == 0 || rc == -EPERM);
		done += !rc;
	}
	repr_ok(o);
	struct sevmig_owners_stats st = { .sz = sizeof(st) };
	sevmig_owners_stats(o, &st);
	assert_int_equal(st.covered_frames, UINT64_C(1) << 28);
	assert_true(done > 3000);
	/* each change adds at most two runs of 16 bytes */
	assert_true(st.runs <= 2 * (uint64_t)done + 1);
	if (st.memory_bytes > 256 * 1024)
		fail_msg("%llu runs take %llu bytes", (unsigned long long)st.runs,
			 (unsigned long long)st.memory_bytes);
	void *buf;
	size_t len;
	assert_int_equal(sevmig_owners_serialize(o, &buf, &len), 0);
	assert_true(len < 16 * st.runs);
	print_message("1 TiB, %d changes: %llu runs, %llu bytes of memory, %zu serialized\n", done,
		      (unsigned long long)st.runs, (unsigned long long)st.memory_bytes, len);
	free(buf);
	sevmig_owners_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names),
		cmocka_unit_test(coverage),
		cmocka_unit_test(transitions_succeed),
		cmocka_unit_test(transitions_refused),
		cmocka_unit_test(transition_arguments),
		cmocka_unit_test(queries),
		cmocka_unit_test(clone_equal),
		cmocka_unit_test(views),
		cmocka_unit_test(ept_encoding),
		cmocka_unit_test(ept_range_round_trip),
		cmocka_unit_test(projection),
		cmocka_unit_test(text_lenient),
		cmocka_unit_test(text_errors),
		cmocka_unit_test(binary_round_trips),
		cmocka_unit_test(binary_refusals),
		cmocka_unit_test(load_either),
		cmocka_unit_test(one_tib_in_kilobytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
