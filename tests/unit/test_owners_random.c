/* SPDX-License-Identifier: MIT */
/*
 * Randomized differential test of the page-ownership map against a model
 * that keeps one (owner, borrower) entry per frame.
 *
 * The model covers two windows of the frame space: [0, HALF) and the top
 * [2^40 - HALF, 2^40). Thousands of random transitions (valid and
 * refused, biased to land on run boundaries and inside runs of the state
 * they need), coverage added and removed, each compared with the model as
 * it happens: the return code, the refused frame and its state. After
 * every batch everything readable is compared: get, walk, stats, entities,
 * every entity's view and its EPT annotation, the projection of each
 * guest, and both file forms round trip. SEVMIG_SEED=<n> replays a run.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/owners.h>
#include <sevmig/pstate.h>

#include "pstate/owners_impl.h"

#define LIM	 SEVMIG_GFN_LIMIT
#define HALF	 1501ull
#define V	 (2 * HALF)
#define TOP_BASE (LIM - V) /* frame of model index i >= HALF is TOP_BASE + i */
#define BATCHES	 100
#define OPS	 300
#define UNCOV	 UINT32_MAX /* the model's owner of an uncovered frame */

#define HYP  SEVMIG_OWNER_HYP
#define HOST SEVMIG_OWNER_HOST
#define NONE SEVMIG_OWNER_NONE

static const uint32_t guests[] = { 2, 3, 77, SEVMIG_OWNER_ID_MAX };
#define NGUESTS (sizeof(guests) / sizeof(guests[0]))

static uint64_t f_of(uint64_t i)
{
	return i < HALF ? i : TOP_BASE + i;
}

struct model {
	uint32_t own[V], bor[V];
};

static struct tu_rng rng;
static uint64_t n_ok, n_refused;

static uint64_t rnd(uint64_t n)
{
	return tu_below(&rng, n);
}

/* The model's rule, written from the table. */
static void rule(enum sevmig_owners_op op, uint32_t g, uint32_t *ro, uint32_t *rb, uint32_t *no,
		 uint32_t *nb)
{
	switch (op) {
	case SEVMIG_OWNERS_HOST_DONATE_HYP:
		*ro = HOST, *rb = NONE, *no = HYP, *nb = NONE;
		return;
	case SEVMIG_OWNERS_HYP_DONATE_HOST:
		*ro = HYP, *rb = NONE, *no = HOST, *nb = NONE;
		return;
	case SEVMIG_OWNERS_HOST_SHARE_HYP:
		*ro = HOST, *rb = NONE, *no = HOST, *nb = HYP;
		return;
	case SEVMIG_OWNERS_HOST_UNSHARE_HYP:
		*ro = HOST, *rb = HYP, *no = HOST, *nb = NONE;
		return;
	case SEVMIG_OWNERS_HOST_DONATE_GUEST:
		*ro = HOST, *rb = NONE, *no = g, *nb = NONE;
		return;
	case SEVMIG_OWNERS_GUEST_DONATE_HOST:
		*ro = g, *rb = NONE, *no = HOST, *nb = NONE;
		return;
	case SEVMIG_OWNERS_HOST_SHARE_GUEST:
		*ro = HOST, *rb = NONE, *no = HOST, *nb = g;
		return;
	case SEVMIG_OWNERS_HOST_UNSHARE_GUEST:
		*ro = HOST, *rb = g, *no = HOST, *nb = NONE;
		return;
	case SEVMIG_OWNERS_GUEST_SHARE_HOST:
		*ro = g, *rb = NONE, *no = g, *nb = HOST;
		return;
	case SEVMIG_OWNERS_GUEST_UNSHARE_HOST:
		*ro = g, *rb = HOST, *no = g, *nb = NONE;
		return;
	}
	fail_msg("op %d", (int)op);
}

/* A range in one window, in model indexes: random, or grown from a random
 * frame to (part of) the run that holds it, so that many succeed. */
static void pick_range(const struct model *m, uint64_t *i, uint64_t *n)
{
	uint64_t base = rnd(2) ? HALF : 0;
	uint64_t a = base + rnd(HALF);
	if (rnd(3)) {
		uint64_t lo = a, hi = a + 1;
		while (lo > base && m->own[lo - 1] == m->own[a] && m->bor[lo - 1] == m->bor[a])
			lo--;
		while (hi < base + HALF && m->own[hi] == m->own[a] && m->bor[hi] == m->bor[a])
			hi++;
		uint64_t s = lo + (rnd(2) ? 0 : rnd(hi - lo));
		uint64_t e = rnd(2) ? hi : s + 1 + rnd(hi - s);
		/* sometimes one frame too far, onto the next run */
		if (!rnd(6) && e < base + HALF)
			e++;
		*i = s;
		*n = e - s;
		return;
	}
	uint64_t left = base + HALF - a;
	*i = a;
	*n = 1 + rnd(rnd(4) ? (left < 40 ? left : 40) : left);
}

static void do_transition(struct sevmig_owners *o, struct model *m)
{
	uint64_t i, n;
	pick_range(m, &i, &n);
	enum sevmig_owners_op op = (enum sevmig_owners_op)(1 + rnd(10));
	uint32_t g = sevmig_owners_op_takes_guest(op) ? guests[rnd(NGUESTS)] : 0;
	uint32_t ro, rb, no, nb;
	/* mostly a transition the range's first frame allows */
	for (int tries = rnd(4) ? 40 : 0; tries; tries--) {
		rule(op, g, &ro, &rb, &no, &nb);
		if (m->own[i] == ro && m->bor[i] == rb)
			break;
		op = (enum sevmig_owners_op)(1 + rnd(10));
		g = sevmig_owners_op_takes_guest(op) ? guests[rnd(NGUESTS)] : 0;
	}
	rule(op, g, &ro, &rb, &no, &nb);
	int want = 0;
	uint64_t at = 0;
	for (uint64_t j = i; j < i + n && !want; j++)
		if (m->own[j] == UNCOV || m->own[j] != ro || m->bor[j] != rb) {
			want = m->own[j] == UNCOV ? -ERANGE : -EPERM;
			at = j;
		}
	struct sevmig_owners_refusal rf;
	memset(&rf, 0x5a, sizeof(rf));
	rf.sz = sizeof(rf);
	int rc = sevmig_owners_transition(o, op, f_of(i), n, g, &rf, NULL);
	if (rc != want)
		fail_msg("%s 0x%llx+%llu guest %u: %d, the model says %d",
			 sevmig_owners_op_name(op), (unsigned long long)f_of(i),
			 (unsigned long long)n, g, rc, want);
	if (!want) {
		for (uint64_t j = i; j < i + n; j++)
			m->own[j] = no, m->bor[j] = nb;
		n_ok++;
		return;
	}
	n_refused++;
	assert_int_equal(rf.frame, f_of(at));
	assert_int_equal(rf.covered, want == -EPERM);
	if (want == -EPERM) {
		assert_int_equal(rf.owner, m->own[at]);
		assert_int_equal(rf.borrower, m->bor[at]);
	}
}

static void do_coverage(struct sevmig_owners *o, struct model *m)
{
	uint64_t base = rnd(2) ? HALF : 0;
	uint64_t i = base + rnd(HALF), n = 1 + rnd(base + HALF - i < 64 ? base + HALF - i : 64);
	if (rnd(2)) {
		int want = 0;
		for (uint64_t j = i; j < i + n; j++)
			if (m->own[j] != UNCOV)
				want = -EEXIST;
		assert_int_equal(sevmig_owners_add_range(o, f_of(i), n), want);
		if (!want)
			for (uint64_t j = i; j < i + n; j++)
				m->own[j] = HOST, m->bor[j] = NONE;
		return;
	}
	int want = 0;
	uint64_t at = 0;
	for (uint64_t j = i; j < i + n && !want; j++)
		if (m->own[j] == UNCOV || m->own[j] != HOST || m->bor[j] != NONE) {
			want = m->own[j] == UNCOV ? -ERANGE : -EPERM;
			at = j;
		}
	struct sevmig_owners_refusal rf = { .sz = sizeof(rf) };
	assert_int_equal(sevmig_owners_remove_range(o, f_of(i), n, &rf, NULL), want);
	if (want)
		assert_int_equal(rf.frame, f_of(at));
	else
		for (uint64_t j = i; j < i + n; j++)
			m->own[j] = UNCOV, m->bor[j] = NONE;
}

/* ---- comparing everything ---------------------------------------------------------- */

struct cmp {
	const struct model *m;
	uint64_t next; /* model index the walk should report next */
	uint64_t covered;
};

static uint64_t i_of(uint64_t f)
{
	return f < HALF ? f : f - TOP_BASE;
}

static int walk_cmp(void *arg, const struct sevmig_owners_run *r)
{
	struct cmp *c = arg;
	uint64_t i = i_of(r->first);
	assert_true(i >= c->next && i + r->nframes <= V);
	for (uint64_t j = c->next; j < i; j++)
		if (c->m->own[j] != UNCOV)
			fail_msg("frame 0x%llx is covered in the model, the walk skips it",
				 (unsigned long long)f_of(j));
	for (uint64_t j = i; j < i + r->nframes; j++)
		if (c->m->own[j] != r->owner || c->m->bor[j] != r->borrower)
			fail_msg("frame 0x%llx: walk says (%u, %u), model (%u, %u)",
				 (unsigned long long)f_of(j), r->owner, r->borrower, c->m->own[j],
				 c->m->bor[j]);
	/* maximal: the frames on either side differ */
	if (i > 0 && f_of(i - 1) + 1 == r->first)
		assert_false(c->m->own[i - 1] == r->owner && c->m->bor[i - 1] == r->borrower);
	uint64_t e = i + r->nframes;
	if (e < V && f_of(e) == r->first + r->nframes)
		assert_false(c->m->own[e] == r->owner && c->m->bor[e] == r->borrower);
	c->next = e;
	c->covered += r->nframes;
	return 0;
}

static enum sevmig_page_view model_view(const struct model *m, uint64_t j, uint32_t ent,
					uint32_t *id)
{
	*id = 0;
	if (m->own[j] == ent)
		return m->bor[j] == NONE ? SEVMIG_VIEW_OWNED : SEVMIG_VIEW_SHARED_OWNED;
	if (m->bor[j] == ent)
		return SEVMIG_VIEW_SHARED_BORROWED;
	if (ent == HOST)
		*id = m->own[j];
	return SEVMIG_VIEW_NOPAGE;
}

struct ecmp {
	uint64_t owned[NGUESTS + 3], so[NGUESTS + 3], sb[NGUESTS + 3];
	size_t seen;
};

static size_t ent_slot(uint32_t id)
{
	if (id <= HOST)
		return id;
	for (size_t k = 0; k < NGUESTS; k++)
		if (guests[k] == id)
			return 2 + k;
	fail_msg("entity %u", id);
	return 0;
}

static int ent_cmp(void *arg, const struct sevmig_owners_entity *e)
{
	struct ecmp *c = arg;
	size_t k = ent_slot(e->id);
	assert_int_equal(e->owned, c->owned[k]);
	assert_int_equal(e->shared_owned, c->so[k]);
	assert_int_equal(e->shared_borrowed, c->sb[k]);
	c->seen++;
	return 0;
}

static void compare(const struct sevmig_owners *o, const struct model *m)
{
	char why[160];
	if (sevmig__owners_check_repr(o, why, sizeof(why)))
		fail_msg("broken map: %s", why);

	struct cmp c = { m, 0, 0 };
	assert_int_equal(sevmig_owners_walk(o, 0, UINT64_MAX, walk_cmp, &c), 0);
	for (uint64_t j = c.next; j < V; j++)
		assert_int_equal(m->own[j], UNCOV);

	struct sevmig_owners_stats st = { .sz = sizeof(st) };
	sevmig_owners_stats(o, &st);
	uint64_t borrowed = 0, ranges = 0, runs = 0;
	struct ecmp ec = { .seen = 0 };
	size_t named = 2;
	bool guest_named[NGUESTS] = { false };
	for (uint64_t j = 0; j < V; j++) {
		if (m->own[j] == UNCOV)
			continue;
		bool joined = j && j != HALF && m->own[j - 1] != UNCOV;
		ranges += !joined;
		runs += !joined || m->own[j - 1] != m->own[j] || m->bor[j - 1] != m->bor[j];
		if (m->bor[j] == NONE) {
			ec.owned[ent_slot(m->own[j])]++;
		} else {
			borrowed++;
			ec.so[ent_slot(m->own[j])]++;
			ec.sb[ent_slot(m->bor[j])]++;
		}
		for (size_t k = 0; k < NGUESTS; k++)
			if (m->own[j] == guests[k] || m->bor[j] == guests[k])
				guest_named[k] = true;
	}
	for (size_t k = 0; k < NGUESTS; k++)
		named += guest_named[k];
	assert_int_equal(st.covered_frames, c.covered);
	assert_int_equal(st.borrowed_frames, borrowed);
	assert_int_equal(st.ranges, ranges);
	assert_int_equal(st.runs, runs);
	assert_int_equal(sevmig_owners_entities(o, ent_cmp, &ec), 0);
	assert_int_equal(ec.seen, named);

	/* get, views, the EPT annotation of each window */
	static uint64_t ptes[HALF];
	static const uint32_t who[] = { HYP, HOST, 2, 3, 77, SEVMIG_OWNER_ID_MAX, 5 };
	for (uint64_t j = 0; j < V; j++) {
		uint32_t ow, bw;
		int rc = sevmig_owners_get(o, f_of(j), &ow, &bw);
		assert_int_equal(rc, m->own[j] == UNCOV ? -ERANGE : 0);
		if (!rc) {
			assert_int_equal(ow, m->own[j]);
			assert_int_equal(bw, m->bor[j]);
		}
	}
	uint32_t ent = who[rnd(sizeof(who) / sizeof(who[0]))];
	for (uint64_t w = 0; w < 2; w++) {
		/* the covered stretch around a random frame of the window */
		uint64_t a = w * HALF + rnd(HALF), b = a;
		if (m->own[a] == UNCOV)
			continue;
		while (a > w * HALF && m->own[a - 1] != UNCOV)
			a--;
		while (b < w * HALF + HALF && m->own[b] != UNCOV)
			b++;
		for (uint64_t j = a; j < b; j++)
			ptes[j - a] = tu_next(&rng);
		assert_int_equal(
		    sevmig_owners_ept_annotate(o, ent, f_of(a), b - a, ptes, HALF, NULL), 0);
		for (uint64_t j = a; j < b; j++) {
			uint32_t id, id2;
			enum sevmig_page_view v = model_view(m, j, ent, &id), v2;
			sevmig_owners_ept_decode(ptes[j - a], &v2, &id2);
			assert_int_equal(v2, v);
			assert_int_equal(id2, id);
			assert_int_equal(sevmig_owners_view(o, ent, f_of(j), &v2, &id2), 0);
			assert_int_equal(v2, v);
			assert_int_equal(id2, id);
		}
		/* a frame past the stretch makes it refused */
		if (b < w * HALF + HALF)
			assert_int_equal(sevmig_owners_ept_annotate(o, ent, f_of(a), b - a + 1,
								    ptes, HALF, NULL),
					 -ERANGE);
	}

	/* the projection of each guest, frame by frame */
	for (size_t k = 0; k < NGUESTS; k++) {
		struct sevmig_pstate *ps = NULL;
		assert_int_equal(sevmig_owners_project(o, guests[k], &ps, NULL), 0);
		for (uint64_t j = 0; j < V; j++) {
			uint32_t g = guests[k];
			enum sevmig_page_state want = SEVMIG_PAGE_ABSENT;
			if (m->own[j] == g)
				want = m->bor[j] == NONE ? SEVMIG_PAGE_PRIVATE : SEVMIG_PAGE_SHARED;
			else if (m->own[j] == HOST && m->bor[j] == g)
				want = SEVMIG_PAGE_SHARED;
			if (sevmig_pstate_get(ps, f_of(j)) != want)
				fail_msg("guest %u, frame 0x%llx: projected %s, expected %s", g,
					 (unsigned long long)f_of(j),
					 sevmig_page_state_name(sevmig_pstate_get(ps, f_of(j))),
					 sevmig_page_state_name(want));
		}
		sevmig_pstate_free(ps);
	}

	/* both forms round trip, the text one canonically */
	char *t = NULL, *t2 = NULL;
	size_t tl, tl2;
	struct sevmig_owners *back = NULL, *back2 = NULL;
	assert_int_equal(sevmig_owners_format_text(o, &t, &tl), 0);
	assert_int_equal(sevmig_owners_parse_text(t, tl, &back, NULL), 0);
	assert_true(sevmig_owners_equal(o, back));
	assert_int_equal(sevmig_owners_format_text(back, &t2, &tl2), 0);
	assert_int_equal(tl, tl2);
	assert_memory_equal(t, t2, tl);
	void *b = NULL;
	size_t bl;
	assert_int_equal(sevmig_owners_serialize(o, &b, &bl), 0);
	assert_int_equal(sevmig_owners_deserialize(b, bl, &back2, NULL), 0);
	assert_true(sevmig_owners_equal(o, back2));
	free(t);
	free(t2);
	free(b);
	sevmig_owners_free(back);
	sevmig_owners_free(back2);
}

static void differential(void **state)
{
	(void)state;
	rng.s = tu_seed("test_owners_random");
	struct model *m = malloc(sizeof(*m));
	assert_non_null(m);
	for (uint64_t j = 0; j < V; j++)
		m->own[j] = UNCOV, m->bor[j] = NONE;
	struct sevmig_owners *o = NULL;
	assert_int_equal(sevmig_owners_new(&o, NULL), 0);
	/* most of both windows covered, with holes */
	assert_int_equal(sevmig_owners_add_range(o, 0, HALF - 100), 0);
	assert_int_equal(sevmig_owners_add_range(o, LIM - HALF + 50, HALF - 50), 0);
	for (uint64_t j = 0; j < V; j++)
		if (j < HALF - 100 || j >= HALF + 50)
			m->own[j] = HOST;
	compare(o, m);
	for (int b = 0; b < BATCHES; b++) {
		for (int k = 0; k < OPS; k++) {
			if (!rnd(25))
				do_coverage(o, m);
			else
				do_transition(o, m);
		}
		compare(o, m);
	}
	print_message("%llu transitions done, %llu refused\n", (unsigned long long)n_ok,
		      (unsigned long long)n_refused);
	/* the random ranges must have exercised both outcomes a lot */
	assert_true(n_ok > 2000 && n_refused > 2000);
	sevmig_owners_free(o);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(differential),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
