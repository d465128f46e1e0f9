/* SPDX-License-Identifier: MIT */
/*
 * Randomized differential test of the page-state map against a model that
 * keeps one byte per page (0 absent, 1 private, 2 shared).
 *
 * The model covers two windows of the gfn space: [0, HALF) and the top
 * [2^40 - HALF, 2^40), the last gfns of the 52-bit physical range, with an
 * odd HALF so that the top window does not start on a chunk boundary. Two
 * maps A and B take random updates (valid and invalid), and after every
 * batch everything readable is compared with the model: get, stats, both
 * walks, the list, the region array, the bitmap (with its trailing-bits
 * rule), round trips through each form, merges, diff and delta.
 * SEVMIG_SEED=<n> replays a run.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/pstate.h>

#include "pstate/pstate_impl.h"

#define LIMIT	  SEVMIG_GFN_LIMIT
#define HALF	  700001ull
#define V	  (2 * HALF)
#define TOP_BASE  (LIMIT - V) /* gfn of model index i >= HALF is TOP_BASE + i */
#define MAX_SLOTS 64	      /* room for merged slot lists */
#define MAP_SLOTS 20	      /* slots a random map keeps at most */
#define BATCHES	  24
#define OPS	  90

#define SH SEVMIG_PAGE_SHARED
#define PR SEVMIG_PAGE_PRIVATE
#define AB SEVMIG_PAGE_ABSENT

static uint64_t g_of(uint64_t i)
{
	return i < HALF ? i : TOP_BASE + i;
}

/* Model index of a gfn, or V when the model has no such page. */
static uint64_t i_of(uint64_t g)
{
	if (g < HALF)
		return g;
	if (g >= LIMIT - HALF && g < LIMIT)
		return g - TOP_BASE;
	return V;
}

struct model {
	uint8_t *st;
	struct sevmig_range slots[MAX_SLOTS]; /* in gfn order, as the map has them */
	size_t ns;
};

static struct tu_rng rng;

static uint64_t rnd(uint64_t n)
{
	return tu_below(&rng, n);
}

static void model_init(struct model *m)
{
	m->st = calloc(V, 1);
	assert_non_null(m->st);
	m->ns = 0;
}

static bool model_covered(const struct model *m, uint64_t i, uint64_t n)
{
	for (uint64_t j = i; j < i + n; j++)
		if (!m->st[j])
			return false;
	return true;
}

static void model_set(struct model *m, uint64_t i, uint64_t n, uint8_t v)
{
	for (uint64_t j = i; j < i + n; j++)
		if (m->st[j])
			m->st[j] = v;
}

static bool model_overlaps(const struct model *m, uint64_t g, uint64_t n)
{
	for (size_t s = 0; s < m->ns; s++)
		if (g < m->slots[s].gfn + m->slots[s].npages && m->slots[s].gfn < g + n)
			return true;
	return false;
}

static void model_add_slot(struct model *m, uint64_t g, uint64_t n)
{
	size_t s = 0;
	while (s < m->ns && m->slots[s].gfn < g)
		s++;
	memmove(&m->slots[s + 1], &m->slots[s], (m->ns - s) * sizeof(m->slots[0]));
	m->slots[s] = (struct sevmig_range){ g, n };
	m->ns++;
	memset(m->st + i_of(g), 1, n);
}

static void model_remove_slot(struct model *m, size_t s)
{
	memset(m->st + i_of(m->slots[s].gfn), 0, m->slots[s].npages);
	memmove(&m->slots[s], &m->slots[s + 1], (m->ns - s - 1) * sizeof(m->slots[0]));
	m->ns--;
}

/* A random range of model indices inside one window. */
static void rand_range(uint64_t *i, uint64_t *n)
{
	uint64_t h = rnd(2), s = rnd(HALF), len, r = rnd(100);
	if (r < 30)
		len = 1;
	else if (r < 60)
		len = 1 + rnd(100);
	else if (r < 92)
		len = 1 + rnd(140000);
	else
		len = 1 + rnd(HALF);
	if (len > HALF - s)
		len = HALF - s;
	*i = h * HALF + s;
	*n = len;
}

/* A random covered range inside one slot (false if there is no slot). */
static bool rand_covered(const struct model *m, uint64_t *i, uint64_t *n)
{
	if (!m->ns)
		return false;
	const struct sevmig_range *sl = &m->slots[rnd(m->ns)];
	uint64_t off = rnd(sl->npages), left = sl->npages - off;
	uint64_t len = rnd(4) ? 1 + rnd(left < 3000 ? left : 3000) : 1 + rnd(left);
	*i = i_of(sl->gfn + off);
	*n = len;
	return true;
}

/* ---- runs, from the map and from the model ---------------------------------- */

struct rl {
	struct sevmig_range *r;
	size_t n, cap;
};

static void rl_push(struct rl *l, uint64_t g, uint64_t n)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->r = realloc(l->r, l->cap * sizeof(*l->r));
		assert_non_null(l->r);
	}
	l->r[l->n++] = (struct sevmig_range){ g, n };
}

static int rl_cb(void *arg, uint64_t g, uint64_t n)
{
	struct rl *l = arg;
	if (l->n) /* in order and maximal: never touching */
		assert_true(l->r[l->n - 1].gfn + l->r[l->n - 1].npages < g);
	rl_push(l, g, n);
	return 0;
}

/* Maximal runs of model pages in state v (1 or 2) inside [i, i + n). */
static void model_runs(const struct model *m, uint8_t v, uint64_t i, uint64_t n, struct rl *out)
{
	out->n = 0;
	for (uint64_t h = 0; h < 2; h++) {
		uint64_t lo = h * HALF, hi = lo + HALF;
		lo = lo > i ? lo : i;
		hi = hi < i + n ? hi : i + n;
		for (uint64_t j = lo; j < hi;) {
			if (m->st[j] != v) {
				j++;
				continue;
			}
			uint64_t k = j;
			while (k < hi && m->st[k] == v)
				k++;
			rl_push(out, g_of(j), k - j);
			j = k;
		}
	}
}

static void rl_equal(const struct rl *a, const struct rl *b, const char *what)
{
	if (a->n != b->n)
		fprintf(stderr, "%s: %zu runs, model has %zu\n", what, a->n, b->n);
	assert_int_equal(a->n, b->n);
	for (size_t k = 0; k < a->n; k++) {
		if (a->r[k].gfn != b->r[k].gfn || a->r[k].npages != b->r[k].npages)
			fprintf(stderr, "%s: run %zu is [0x%llx +%llu), model [0x%llx +%llu)\n",
				what, k, (unsigned long long)a->r[k].gfn,
				(unsigned long long)a->r[k].npages, (unsigned long long)b->r[k].gfn,
				(unsigned long long)b->r[k].npages);
		assert_int_equal(a->r[k].gfn, b->r[k].gfn);
		assert_int_equal(a->r[k].npages, b->r[k].npages);
	}
}

static struct rl got, want;

static enum sevmig_page_state model_get(const struct model *m, uint64_t g)
{
	uint64_t i = i_of(g);
	return i == V ? AB : (enum sevmig_page_state)m->st[i];
}

static void check_get(const struct sevmig_pstate *ps, const struct model *m, uint64_t g)
{
	if (sevmig_pstate_get(ps, g) != model_get(m, g))
		fprintf(stderr, "get(0x%llx) = %d, model %d\n", (unsigned long long)g,
			sevmig_pstate_get(ps, g), model_get(m, g));
	assert_int_equal(sevmig_pstate_get(ps, g), model_get(m, g));
}

/* Slots, get, walks, stats: what every map is checked for. */
static void check_invariants(const struct sevmig_pstate *ps)
{
	char why[128];
	if (sevmig__pstate_check(ps, why, sizeof(why))) {
		fprintf(stderr, "broken map: %s\n", why);
		fail();
	}
}

static void check_basic(const struct sevmig_pstate *ps, const struct model *m)
{
	check_invariants(ps);
	assert_int_equal(sevmig_pstate_slot_count(ps), m->ns);
	for (size_t s = 0; s < m->ns; s++) {
		struct sevmig_range r;
		assert_int_equal(sevmig_pstate_slot(ps, s, &r), 0);
		assert_int_equal(r.gfn, m->slots[s].gfn);
		assert_int_equal(r.npages, m->slots[s].npages);
		for (int d = -1; d <= 1; d++) {
			check_get(ps, m, m->slots[s].gfn + (uint64_t)d);
			check_get(ps, m, m->slots[s].gfn + m->slots[s].npages + (uint64_t)d);
		}
	}
	for (int k = 0; k < 400; k++)
		check_get(ps, m, g_of(rnd(V)));
	check_get(ps, m, LIMIT - 1);
	check_get(ps, m, LIMIT);
	check_get(ps, m, HALF);

	struct sevmig_pstate_stats st;
	sevmig_pstate_stats(ps, &st);
	uint64_t sum[3] = { 0, 0, 0 };
	for (uint8_t v = 1; v <= 2; v++) {
		got.n = 0;
		assert_int_equal(
		    sevmig_pstate_walk(ps, 0, UINT64_MAX, (enum sevmig_page_state)v, rl_cb, &got),
		    0);
		model_runs(m, v, 0, V, &want);
		rl_equal(&got, &want, v == 2 ? "shared walk" : "private walk");
		uint64_t largest = 0;
		for (size_t k = 0; k < want.n; k++) {
			sum[v] += want.r[k].npages;
			if (want.r[k].npages > largest)
				largest = want.r[k].npages;
		}
		if (v == 2) {
			assert_int_equal(st.shared_runs, want.n);
			/* the count the writer sizes the binary form by */
			assert_int_equal(sevmig__ents_nruns(&ps->sh), want.n);
			assert_int_equal(st.largest_shared_run, largest);
		} else {
			assert_int_equal(st.private_runs, want.n);
		}
	}
	assert_int_equal(st.shared_pages, sum[2]);
	assert_int_equal(st.private_pages, sum[1]);
	assert_int_equal(st.covered_pages, sum[1] + sum[2]);
	assert_int_equal(st.slots, m->ns);
	assert_true(st.memory_bytes > 0);

	/* a clipped walk of a random range, both states */
	uint64_t i, n;
	rand_range(&i, &n);
	for (uint8_t v = 1; v <= 2; v++) {
		got.n = 0;
		assert_int_equal(
		    sevmig_pstate_walk(ps, g_of(i), n, (enum sevmig_page_state)v, rl_cb, &got), 0);
		model_runs(m, v, i, n, &want);
		rl_equal(&got, &want, "clipped walk");
	}
}

static struct sevmig_pstate *empty_like(const struct model *m)
{
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	for (size_t s = 0; s < m->ns; s++)
		assert_int_equal(sevmig_pstate_add_slot(ps, m->slots[s].gfn, m->slots[s].npages),
				 0);
	return ps;
}

/* Check the bitmap of [g, g + n) (any range, maybe uncovered) against the
 * model, with a random buffer underneath for the trailing bits. */
static void check_bitmap_range(const struct sevmig_pstate *ps, const struct model *m, uint64_t g,
			       uint64_t n)
{
	size_t len = sevmig_bitmap_bytes(n);
	uint8_t *bm = malloc(len + 1);
	assert_non_null(bm);
	tu_fill(&rng, bm, len + 1);
	uint8_t last = len ? bm[len - 1] : 0, guard = bm[len];
	assert_int_equal(sevmig_pstate_to_bitmap(ps, g, n, bm, len), 0);
	for (uint64_t k = 0; k < n; k++) {
		bool priv = (bm[k / 8] >> (k % 8)) & 1;
		if (priv != (model_get(m, g + k) != SH))
			fprintf(stderr, "bitmap at 0x%llx (base 0x%llx): %d\n",
				(unsigned long long)(g + k), (unsigned long long)g, priv);
		assert_int_equal(priv, model_get(m, g + k) != SH);
	}
	if (n % 8) {
		uint8_t keep = (uint8_t) ~((1u << (n % 8)) - 1);
		assert_int_equal(bm[len - 1] & keep, last & keep);
	}
	assert_int_equal(bm[len], guard);
	free(bm);
}

/* Everything, round trips included. */
static void check_full(const struct sevmig_pstate *ps, const struct model *m)
{
	check_basic(ps, m);

	/* the list */
	size_t n = 0;
	int rc = sevmig_pstate_to_list(ps, NULL, 0, &n);
	model_runs(m, 2, 0, V, &want);
	assert_int_equal(n, want.n);
	assert_int_equal(rc, n ? -ENOSPC : 0);
	struct sevmig_range *list = malloc((n + 1) * sizeof(*list));
	assert_non_null(list);
	if (n) {
		assert_int_equal(sevmig_pstate_to_list(ps, list, n - 1, &n), -ENOSPC);
		assert_int_equal(n, want.n);
	}
	assert_int_equal(sevmig_pstate_to_list(ps, list, n + 1, &n), 0);
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(list[k].gfn, want.r[k].gfn);
		assert_int_equal(list[k].npages, want.r[k].npages);
	}
	struct sevmig_pstate *rt = empty_like(m);
	struct sevmig_error err;
	assert_int_equal(sevmig_pstate_set_from_list(rt, list, n, &err), 0);
	check_invariants(rt);
	assert_true(sevmig_pstate_equal(ps, rt));
	sevmig_pstate_free(rt);

	/* the region array */
	size_t bytes = (n + 1) * SEVMIG_REGION_ENTRY_SIZE, ne = 0;
	uint8_t *ra = malloc(bytes);
	assert_non_null(ra);
	if (n) {
		assert_int_equal(sevmig_pstate_to_region_array(ps, ra, bytes - 17, &ne), -E2BIG);
		assert_int_equal(ne, n);
	}
	assert_int_equal(sevmig_pstate_to_region_array(ps, ra, bytes, &ne), 0);
	assert_int_equal(ne, n);
	for (size_t k = 0; k < n; k++) {
		uint64_t s, e;
		memcpy(&s, ra + 16 * k, 8); /* the test host is little-endian x86-64 */
		memcpy(&e, ra + 16 * k + 8, 8);
		assert_int_equal(s, list[k].gfn);
		assert_int_equal(e, list[k].gfn + list[k].npages);
	}
	rt = empty_like(m);
	assert_int_equal(sevmig_pstate_set_from_region_array(rt, ra, n * 16, &err), 0);
	check_invariants(rt);
	assert_true(sevmig_pstate_equal(ps, rt));
	sevmig_pstate_free(rt);
	free(ra);
	free(list);

	/* the bitmap: each slot, round trip; a random range; a whole window */
	rt = empty_like(m);
	for (size_t s = 0; s < m->ns; s++) {
		uint64_t g = m->slots[s].gfn, np = m->slots[s].npages;
		size_t len = sevmig_bitmap_bytes(np);
		uint8_t *bm = malloc(len);
		assert_non_null(bm);
		assert_int_equal(sevmig_pstate_to_bitmap(ps, g, np, bm, len), 0);
		assert_int_equal(sevmig_pstate_set_from_bitmap(rt, g, np, bm, len), 0);
		free(bm);
	}
	check_invariants(rt);
	assert_true(sevmig_pstate_equal(ps, rt));
	sevmig_pstate_free(rt);

	/* the binary form, raw and compressed (either encoding, whichever the
	 * map's density picks) */
	for (int level = 0; level <= 1; level++) {
		SEVMIG_OPTS(sevmig_pstate_save_opts, o, .zstd_level = level);
		void *buf;
		size_t blen;
		assert_int_equal(sevmig_pstate_serialize(ps, &o, &buf, &blen), 0);
		assert_int_equal(sevmig_pstate_deserialize(buf, blen, &rt, &err), 0);
		check_invariants(rt);
		assert_true(sevmig_pstate_equal(ps, rt));
		sevmig_pstate_free(rt);
		free(buf);
	}
	uint64_t i, cnt;
	rand_range(&i, &cnt);
	check_bitmap_range(ps, m, g_of(i), cnt);
	uint64_t h = rnd(2) * HALF;
	check_bitmap_range(ps, m, g_of(h), HALF);
}

/* ---- random updates --------------------------------------------------------- */

static void op_set_range(struct sevmig_pstate *ps, struct model *m)
{
	uint64_t i, n;
	if (rnd(3) ? !rand_covered(m, &i, &n) : (rand_range(&i, &n), false))
		rand_range(&i, &n);
	uint8_t v = (uint8_t)(1 + rnd(2));
	int want_rc = model_covered(m, i, n) ? 0 : -ERANGE;
	assert_int_equal(sevmig_pstate_set_range(ps, g_of(i), n, (enum sevmig_page_state)v),
			 want_rc);
	if (!want_rc)
		model_set(m, i, n, v);
}

static void op_hypercall(struct sevmig_pstate *ps, struct model *m)
{
	uint64_t i, n;
	if (!rand_covered(m, &i, &n))
		rand_range(&i, &n);
	bool enc = rnd(2);
	uint64_t gpa = g_of(i) << 12;
	switch (rnd(12)) {
	case 0:
		assert_int_equal(sevmig_pstate_apply_hypercall(ps, gpa | (1 + rnd(4095)), n, enc),
				 -EINVAL);
		return;
	case 1:
		assert_int_equal(sevmig_pstate_apply_hypercall(ps, gpa, 0, enc), -EINVAL);
		return;
	case 2:
		assert_int_equal(
		    sevmig_pstate_apply_hypercall(ps, (UINT64_MAX & ~0xfffull) - rnd(4) * 4096,
						  1 + rnd(1u << 20), enc),
		    -EINVAL);
		return;
	case 3:
		/* from inside the top window past the 52-bit limit */
		assert_int_equal(sevmig_pstate_apply_hypercall(ps, (LIMIT - 1 - rnd(1000)) << 12,
							       1001 + rnd(5), enc),
				 -EINVAL);
		return;
	default:
		break;
	}
	int want_rc = model_covered(m, i, n) ? 0 : -ERANGE;
	assert_int_equal(sevmig_pstate_apply_hypercall(ps, gpa, n, enc), want_rc);
	if (!want_rc)
		model_set(m, i, n, enc ? 1 : 2);
}

/* Many single pages in one chunk-sized window: drives containers past the
 * run limit and, clearing, back. */
static void op_scatter(struct sevmig_pstate *ps, struct model *m)
{
	uint64_t i, n;
	if (!rand_covered(m, &i, &n))
		return;
	uint64_t base = i, span = 65536 + rnd(3);
	uint64_t hi = i < HALF ? HALF : V;
	if (base + span > hi)
		span = hi - base;
	uint8_t v = (uint8_t)(1 + rnd(2));
	int count = 100 + (int)rnd(400);
	for (int k = 0; k < count; k++) {
		uint64_t j = base + rnd(span);
		if (!m->st[j])
			continue;
		assert_int_equal(sevmig_pstate_apply_hypercall(ps, g_of(j) << 12, 1, v == 1), 0);
		m->st[j] = v;
	}
}

/* Large shared stretches (full chunks) with a few holes punched in. */
static void op_big(struct sevmig_pstate *ps, struct model *m)
{
	if (!m->ns)
		return;
	const struct sevmig_range *sl = &m->slots[rnd(m->ns)];
	uint64_t i = i_of(sl->gfn), n = sl->npages, cut = rnd(3) ? rnd(n) : 0;
	assert_int_equal(sevmig_pstate_set_range(ps, sl->gfn + cut, n - cut, SH), 0);
	model_set(m, i + cut, n - cut, 2);
	if (cut && rnd(2)) { /* the rest afterwards: its full chunks join the first ones */
		assert_int_equal(sevmig_pstate_set_range(ps, sl->gfn, cut, SH), 0);
		model_set(m, i, cut, 2);
	}
	for (int k = (int)rnd(4); k > 0; k--) {
		uint64_t o = rnd(n), l = 1 + rnd(rnd(2) ? 3 : 70000);
		l = l < n - o ? l : n - o;
		uint8_t v = (uint8_t)(1 + rnd(2));
		assert_int_equal(
		    sevmig_pstate_set_range(ps, sl->gfn + o, l, (enum sevmig_page_state)v), 0);
		model_set(m, i + o, l, v);
	}
}

static void op_slots(struct sevmig_pstate *ps, struct model *m)
{
	if (m->ns && (rnd(2) || m->ns >= MAP_SLOTS)) {
		size_t s = rnd(m->ns);
		uint64_t g = m->slots[s].gfn, n = m->slots[s].npages;
		if (rnd(4) == 0)
			assert_int_equal(sevmig_pstate_remove_slot(ps, g, n + 1), -ENOENT);
		assert_int_equal(sevmig_pstate_remove_slot(ps, g, n), 0);
		model_remove_slot(m, s);
		return;
	}
	uint64_t i, n;
	rand_range(&i, &n);
	if (n > 300000)
		n = 300000;
	uint64_t g = g_of(i);
	int want_rc = model_overlaps(m, g, n) ? -EEXIST : 0;
	assert_int_equal(sevmig_pstate_add_slot(ps, g, n), want_rc);
	if (!want_rc)
		model_add_slot(m, g, n);
}

static void op_reset(struct sevmig_pstate *ps, struct model *m)
{
	struct sevmig_range keep[4] = { { 0, 0 } };
	size_t nk = rnd(5);
	for (size_t k = 0; k < nk; k++) {
		uint64_t i, n;
		rand_range(&i, &n);
		keep[k] = (struct sevmig_range){ g_of(i), rnd(8) ? n : 0 };
	}
	if (nk && rnd(8) == 0) {
		keep[0] = (struct sevmig_range){ keep[0].gfn | 1, UINT64_MAX }; /* wraps */
		assert_int_equal(sevmig_pstate_reset(ps, keep, nk), -EINVAL);
		return;
	}
	assert_int_equal(sevmig_pstate_reset(ps, keep, nk), 0);
	uint8_t *kept = calloc(V, 1);
	assert_non_null(kept);
	for (size_t k = 0; k < nk; k++)
		memset(kept + i_of(keep[k].gfn), 1, keep[k].npages);
	for (uint64_t j = 0; j < V; j++)
		if (m->st[j] && !kept[j])
			m->st[j] = 1;
	free(kept);
}

/* A hand-made delta: a few ranges of A with random states. */
static void op_apply(struct sevmig_pstate *ps, struct model *m)
{
	struct sevmig_pstate *d;
	assert_int_equal(sevmig_pstate_new(&d, NULL), 0);
	uint8_t *dst = calloc(V, 1);
	assert_non_null(dst);
	size_t nr = 1 + rnd(3);
	bool inside = true;
	for (size_t k = 0; k < nr; k++) {
		uint64_t i, n;
		if (rnd(5) ? !rand_covered(m, &i, &n) : (rand_range(&i, &n), false))
			rand_range(&i, &n);
		if (sevmig_pstate_add_slot(d, g_of(i), n))
			continue; /* overlaps an earlier one */
		inside = inside && model_covered(m, i, n);
		memset(dst + i, 1, n);
		for (int r = 0; r < 3; r++) {
			uint64_t o = rnd(n), l = 1 + rnd(n - o);
			uint8_t v = (uint8_t)(1 + rnd(2));
			assert_int_equal(
			    sevmig_pstate_set_range(d, g_of(i + o), l, (enum sevmig_page_state)v),
			    0);
			memset(dst + i + o, v, l);
		}
	}
	assert_int_equal(sevmig_pstate_apply(ps, d), inside ? 0 : -ERANGE);
	if (inside)
		for (uint64_t j = 0; j < V; j++)
			if (dst[j])
				m->st[j] = dst[j];
	free(dst);
	sevmig_pstate_free(d);
}

/* Random valid (or, sometimes, one broken) run list over A's slots. */
static void op_from_list(struct sevmig_pstate *ps, struct model *m, int form)
{
	struct rl l = { 0 };
	uint8_t *nst = malloc(V);
	assert_non_null(nst);
	for (uint64_t j = 0; j < V; j++)
		nst[j] = m->st[j] ? 1 : 0;
	for (size_t s = 0; s < m->ns; s++) {
		uint64_t g = m->slots[s].gfn, n = m->slots[s].npages, pos = 0;
		while (pos < n && rnd(6)) {
			/* runs may touch, within a slot or across touching slots */
			uint64_t r = rnd(6);
			pos += r < 3 ? r : rnd(1 + n / 50);
			if (pos >= n)
				break;
			uint64_t len = 1 + rnd(rnd(4) ? 64 : n - pos);
			len = len < n - pos ? len : n - pos;
			rl_push(&l, g + pos, len);
			memset(nst + i_of(g + pos), 2, len);
			pos += len;
		}
	}
	struct sevmig_error err;
	int want_rc = 0;
	size_t bad = 0;
	if (l.n && rnd(6) == 0) {
		bad = rnd(l.n);
		switch (rnd(3)) {
		case 0:
			l.r[bad].npages = 0;
			want_rc = -EINVAL;
			break;
		case 1:
			if (!bad) {
				free(nst);
				free(l.r);
				return;
			}
			l.r[bad].gfn = l.r[bad - 1].gfn; /* overlaps the one before */
			want_rc = -EINVAL;
			break;
		default:
			l.r[bad].gfn = g_of(V - 1) + 1; /* past the 52-bit limit */
			want_rc = -EINVAL;
			break;
		}
	}
	sevmig_error_clear(&err);
	if (form == 0) {
		assert_int_equal(sevmig_pstate_set_from_list(ps, l.r, l.n, &err), want_rc);
	} else {
		uint8_t *ra = malloc(16 * (l.n + 1));
		assert_non_null(ra);
		for (size_t k = 0; k < l.n; k++) {
			uint64_t e = l.r[k].gfn + l.r[k].npages;
			memcpy(ra + 16 * k, &l.r[k].gfn, 8);
			memcpy(ra + 16 * k + 8, &e, 8);
		}
		assert_int_equal(sevmig_pstate_set_from_region_array(ps, ra, 16 * l.n, &err),
				 want_rc);
		free(ra);
	}
	if (want_rc) {
		assert_int_equal(err.code, want_rc);
		assert_int_equal(err.index, bad);
	} else {
		memcpy(m->st, nst, V);
	}
	free(nst);
	free(l.r);
}

/* A random bitmap (runs and noise) over a covered range. */
static void op_from_bitmap(struct sevmig_pstate *ps, struct model *m)
{
	uint64_t i, n;
	if (!rand_covered(m, &i, &n))
		return;
	size_t len = sevmig_bitmap_bytes(n);
	uint8_t *bm = malloc(len);
	assert_non_null(bm);
	if (rnd(2)) {
		tu_fill(&rng, bm, len);
	} else {
		memset(bm, 0xff, len);
		for (int r = (int)rnd(20); r > 0; r--) {
			uint64_t o = rnd(n), l = 1 + rnd(rnd(2) ? 70 : n - o);
			for (uint64_t k = o; k < o + l && k < n; k++)
				bm[k / 8] &= (uint8_t) ~(1u << (k % 8));
		}
	}
	assert_int_equal(sevmig_pstate_set_from_bitmap(ps, g_of(i), n, bm, len), 0);
	for (uint64_t k = 0; k < n; k++)
		m->st[i + k] = (bm[k / 8] >> (k % 8)) & 1 ? 1 : 2;
	free(bm);
}

static void random_op(struct sevmig_pstate *ps, struct model *m)
{
	uint64_t r = rnd(100);
	if (r < 25)
		op_set_range(ps, m);
	else if (r < 30)
		op_big(ps, m);
	else if (r < 55)
		op_hypercall(ps, m);
	else if (r < 67)
		op_scatter(ps, m);
	else if (r < 75)
		op_slots(ps, m);
	else if (r < 79)
		op_reset(ps, m);
	else if (r < 85)
		op_apply(ps, m);
	else if (r < 89)
		op_from_list(ps, m, 0);
	else if (r < 92)
		op_from_list(ps, m, 1);
	else
		op_from_bitmap(ps, m);
	check_invariants(ps);
}

/* ---- two maps ------------------------------------------------------------------ */

/* The slots of a merge: overlapping slots joined, touching ones apart. */
static void model_union_slots(const struct model *a, const struct model *b, struct model *out)
{
	struct sevmig_range all[2 * MAX_SLOTS];
	size_t n = 0, ia = 0, ib = 0;
	while (ia < a->ns || ib < b->ns) {
		if (ib >= b->ns || (ia < a->ns && a->slots[ia].gfn <= b->slots[ib].gfn))
			all[n++] = a->slots[ia++];
		else
			all[n++] = b->slots[ib++];
	}
	out->ns = 0;
	for (size_t k = 0; k < n; k++) {
		struct sevmig_range *last = out->ns ? &out->slots[out->ns - 1] : NULL;
		if (last && all[k].gfn < last->gfn + last->npages) {
			uint64_t e = all[k].gfn + all[k].npages;
			if (e > last->gfn + last->npages)
				last->npages = e - last->gfn;
		} else {
			assert_true(out->ns < MAX_SLOTS);
			out->slots[out->ns++] = all[k];
		}
	}
}

struct chg {
	struct sevmig_pstate_change *c;
	size_t n, cap;
};

static int chg_cb(void *arg, const struct sevmig_pstate_change *c)
{
	struct chg *x = arg;
	if (x->n == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 256;
		x->c = realloc(x->c, x->cap * sizeof(*x->c));
		assert_non_null(x->c);
	}
	x->c[x->n++] = *c;
	return 0;
}

static void check_pair(const struct sevmig_pstate *a, const struct model *ma,
		       const struct sevmig_pstate *b, const struct model *mb)
{
	struct model mm;
	model_init(&mm);
	model_union_slots(ma, mb, &mm);
	for (int op = 0; op < 3; op++) {
		for (uint64_t j = 0; j < V; j++) {
			uint8_t x = ma->st[j], y = mb->st[j], v = 0;
			if (x || y) {
				if (op == SEVMIG_MERGE_UNION)
					v = x == 2 || y == 2 ? 2 : 1;
				else if (op == SEVMIG_MERGE_INTERSECT)
					v = x == 2 && y == 2 ? 2 : 1;
				else
					v = y ? y : x;
			}
			mm.st[j] = v;
		}
		struct sevmig_pstate *m;
		assert_int_equal(sevmig_pstate_merge(a, b, (enum sevmig_merge_op)op, &m), 0);
		check_basic(m, &mm);
		sevmig_pstate_free(m);
	}

	/* diff: maximal ranges of a constant, differing (a, b) pair */
	struct chg x = { 0 };
	assert_int_equal(sevmig_pstate_diff(a, b, chg_cb, &x), 0);
	size_t k = 0;
	bool same = true;
	for (uint64_t h = 0; h < 2; h++) {
		for (uint64_t j = h * HALF; j < (h + 1) * HALF;) {
			uint8_t p = ma->st[j], q = mb->st[j];
			if (p == q) {
				j++;
				continue;
			}
			same = false;
			uint64_t e = j;
			while (e < (h + 1) * HALF && ma->st[e] == p && mb->st[e] == q)
				e++;
			assert_true(k < x.n);
			if (x.c[k].gfn != g_of(j) || x.c[k].npages != e - j)
				fprintf(stderr,
					"change %zu: [0x%llx +%llu) %d->%d, model [0x%llx +%llu) "
					"%d->%d\n",
					k, (unsigned long long)x.c[k].gfn,
					(unsigned long long)x.c[k].npages, x.c[k].a, x.c[k].b,
					(unsigned long long)g_of(j), (unsigned long long)(e - j), p,
					q);
			assert_int_equal(x.c[k].gfn, g_of(j));
			assert_int_equal(x.c[k].npages, e - j);
			assert_int_equal(x.c[k].a, p);
			assert_int_equal(x.c[k].b, q);
			k++;
			j = e;
		}
	}
	assert_int_equal(k, x.n);
	free(x.c);
	assert_int_equal(sevmig_pstate_equal(a, b), same);

	/* delta: pages both cover whose state differs, with b's state; its
	 * slots are the maximal runs of such pages */
	mm.ns = 0;
	for (uint64_t j = 0; j < V; j++) {
		uint8_t p = ma->st[j], q = mb->st[j];
		mm.st[j] = p && q && p != q ? q : 0;
	}
	for (uint64_t h = 0; h < 2; h++) {
		for (uint64_t j = h * HALF; j < (h + 1) * HALF;) {
			if (!mm.st[j]) {
				j++;
				continue;
			}
			uint64_t e = j;
			while (e < (h + 1) * HALF && mm.st[e])
				e++;
			if (mm.ns < MAX_SLOTS)
				mm.slots[mm.ns] = (struct sevmig_range){ g_of(j), e - j };
			mm.ns++;
			j = e;
		}
	}
	struct sevmig_pstate *d, *c;
	assert_int_equal(sevmig_pstate_delta(a, b, &d), 0);
	if (mm.ns <= MAX_SLOTS) {
		check_basic(d, &mm);
	} else {
		assert_int_equal(sevmig_pstate_slot_count(d), mm.ns);
		got.n = 0;
		assert_int_equal(sevmig_pstate_walk(d, 0, UINT64_MAX, SH, rl_cb, &got), 0);
		model_runs(&mm, 2, 0, V, &want);
		rl_equal(&got, &want, "delta");
	}
	/* applying it turns a into b wherever both cover */
	assert_int_equal(sevmig_pstate_clone(a, &c, NULL), 0);
	assert_int_equal(sevmig_pstate_apply(c, d), 0);
	memcpy(mm.st, ma->st, V);
	memcpy(mm.slots, ma->slots, sizeof(ma->slots));
	mm.ns = ma->ns;
	for (uint64_t j = 0; j < V; j++)
		if (mm.st[j] && mb->st[j])
			mm.st[j] = mb->st[j];
	check_basic(c, &mm);
	sevmig_pstate_free(c);
	sevmig_pstate_free(d);
	free(mm.st);
}

static void initial_slots(struct sevmig_pstate *ps, struct model *m)
{
	for (uint64_t h = 0; h < 2; h++) {
		uint64_t pos = rnd(60000);
		for (int k = 0; k < 5 && pos < HALF; k++) {
			uint64_t len = 1 + rnd(HALF / 3);
			len = len < HALF - pos ? len : HALF - pos;
			uint64_t g = g_of(h * HALF + pos);
			assert_int_equal(sevmig_pstate_add_slot(ps, g, len), 0);
			model_add_slot(m, g, len);
			pos += len + (rnd(3) ? rnd(100000) : 0);
		}
	}
}

static void test_random(void **state)
{
	(void)state;
	rng.s = tu_seed("test_pstate_random");
	struct model ma, mb;
	model_init(&ma);
	model_init(&mb);
	struct sevmig_pstate *a, *b;
	assert_int_equal(sevmig_pstate_new(&a, NULL), 0);
	assert_int_equal(sevmig_pstate_new(&b, NULL), 0);
	initial_slots(a, &ma);
	initial_slots(b, &mb);
	for (int batch = 0; batch < BATCHES; batch++) {
		for (int k = 0; k < OPS; k++) {
			random_op(a, &ma);
			random_op(b, &mb);
		}
		if (batch % 6 == 5) {
			/* B becomes a near copy of A, as a second snapshot is */
			struct sevmig_pstate *c;
			assert_int_equal(sevmig_pstate_clone(a, &c, NULL), 0);
			sevmig_pstate_free(b);
			b = c;
			memcpy(mb.st, ma.st, V);
			memcpy(mb.slots, ma.slots, sizeof(ma.slots));
			mb.ns = ma.ns;
			for (int k = 0; k < 20; k++) {
				op_scatter(b, &mb);
				op_set_range(b, &mb);
			}
		}
		check_full(a, &ma);
		check_full(b, &mb);
		check_pair(a, &ma, b, &mb);
		check_pair(b, &mb, a, &ma);
	}
	sevmig_pstate_free(a);
	sevmig_pstate_free(b);
	free(ma.st);
	free(mb.st);
	free(got.r);
	free(want.r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
