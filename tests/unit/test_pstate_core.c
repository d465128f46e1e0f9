/* SPDX-License-Identifier: MIT */
/* Page-state map: every public function of the core, edges first. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/pstate.h>

#include "pstate/pstate_impl.h"

#define LIMIT SEVMIG_GFN_LIMIT
#define CH    65536u

/* ---- helpers ----------------------------------------------------------------- */

static struct sevmig_pstate *map_new(void)
{
	struct sevmig_pstate *ps = NULL;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	assert_non_null(ps);
	return ps;
}

/* Every map a test made is checked for the representation's invariants
 * before it goes. */
static void map_free(struct sevmig_pstate *ps)
{
	char why[128];
	if (ps && sevmig__pstate_check(ps, why, sizeof(why))) {
		fprintf(stderr, "broken map: %s\n", why);
		fail();
	}
	sevmig_pstate_free(ps);
}

static void add(struct sevmig_pstate *ps, uint64_t gfn, uint64_t n)
{
	assert_int_equal(sevmig_pstate_add_slot(ps, gfn, n), 0);
}

static void set(struct sevmig_pstate *ps, uint64_t gfn, uint64_t n, enum sevmig_page_state st)
{
	assert_int_equal(sevmig_pstate_set_range(ps, gfn, n, st), 0);
}

struct runs {
	struct sevmig_range r[4096];
	size_t n;
	int stop_after; /* return 7 after this many, 0 = never */
};

static int collect(void *arg, uint64_t gfn, uint64_t npages)
{
	struct runs *x = arg;
	assert_true(x->n < 4096);
	assert_true(npages > 0);
	x->r[x->n++] = (struct sevmig_range){ gfn, npages };
	return x->stop_after && (int)x->n == x->stop_after ? 7 : 0;
}

static struct runs *walk(const struct sevmig_pstate *ps, uint64_t gfn, uint64_t n,
			 enum sevmig_page_state st)
{
	static struct runs x;
	x.n = 0;
	x.stop_after = 0;
	assert_int_equal(sevmig_pstate_walk(ps, gfn, n, st, collect, &x), 0);
	return &x;
}

static void expect_runs(const struct runs *x, const struct sevmig_range *want, size_t n)
{
	if (x->n != n) {
		for (size_t i = 0; i < x->n; i++)
			fprintf(stderr, "  got [0x%llx +%llu)\n", (unsigned long long)x->r[i].gfn,
				(unsigned long long)x->r[i].npages);
	}
	assert_int_equal(x->n, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(x->r[i].gfn, want[i].gfn);
		assert_int_equal(x->r[i].npages, want[i].npages);
	}
}

#define EXPECT_RUNS(x, ...)                                       \
	do {                                                      \
		const struct sevmig_range w_[] = { __VA_ARGS__ }; \
		expect_runs((x), w_, sizeof(w_) / sizeof(w_[0])); \
	} while (0)

static struct sevmig_pstate_stats stats(const struct sevmig_pstate *ps)
{
	struct sevmig_pstate_stats st;
	sevmig_pstate_stats(ps, &st);
	return st;
}

struct changes {
	struct sevmig_pstate_change c[256];
	size_t n;
};

static int collect_change(void *arg, const struct sevmig_pstate_change *c)
{
	struct changes *x = arg;
	assert_true(x->n < 256);
	x->c[x->n++] = *c;
	return 0;
}

static struct changes *diff(const struct sevmig_pstate *a, const struct sevmig_pstate *b)
{
	static struct changes x;
	x.n = 0;
	assert_int_equal(sevmig_pstate_diff(a, b, collect_change, &x), 0);
	return &x;
}

static void expect_change(const struct changes *x, size_t i, uint64_t gfn, uint64_t n,
			  enum sevmig_page_state a, enum sevmig_page_state b)
{
	assert_true(i < x->n);
	assert_int_equal(x->c[i].gfn, gfn);
	assert_int_equal(x->c[i].npages, n);
	assert_int_equal(x->c[i].a, a);
	assert_int_equal(x->c[i].b, b);
}

#define SH SEVMIG_PAGE_SHARED
#define PR SEVMIG_PAGE_PRIVATE
#define AB SEVMIG_PAGE_ABSENT

/* ---- lifetime, names ---------------------------------------------------------- */

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(sevmig_page_state_name(AB), "absent");
	assert_string_equal(sevmig_page_state_name(PR), "private");
	assert_string_equal(sevmig_page_state_name(SH), "shared");
	assert_string_equal(sevmig_page_state_name((enum sevmig_page_state)7), "invalid");
}

static void test_empty_map(void **state)
{
	(void)state;
	struct sevmig_pstate *a = map_new(), *b = map_new(), *m = NULL;
	struct sevmig_pstate_stats st = stats(a);
	assert_int_equal(st.covered_pages, 0);
	assert_int_equal(st.shared_pages + st.private_pages + st.shared_runs + st.private_runs, 0);
	assert_int_equal(st.slots, 0);
	assert_true(st.memory_bytes > 0);
	assert_int_equal(sevmig_pstate_get(a, 0), AB);
	assert_int_equal(sevmig_pstate_get(a, UINT64_MAX), AB);
	assert_int_equal(sevmig_pstate_slot_count(a), 0);
	struct sevmig_range r;
	assert_int_equal(sevmig_pstate_slot(a, 0, &r), -ERANGE);
	size_t n = 99;
	assert_int_equal(sevmig_pstate_to_list(a, NULL, 0, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(walk(a, 0, UINT64_MAX, SH)->n, 0);
	assert_int_equal(walk(a, 0, UINT64_MAX, PR)->n, 0);
	assert_true(sevmig_pstate_equal(a, b));
	assert_int_equal(diff(a, b)->n, 0);
	for (int op = 0; op < 3; op++) {
		assert_int_equal(sevmig_pstate_merge(a, b, (enum sevmig_merge_op)op, &m), 0);
		assert_int_equal(sevmig_pstate_slot_count(m), 0);
		map_free(m);
	}
	assert_int_equal(sevmig_pstate_delta(a, b, &m), 0);
	assert_int_equal(sevmig_pstate_slot_count(m), 0);
	assert_int_equal(sevmig_pstate_apply(a, m), 0);
	map_free(m);
	assert_int_equal(sevmig_pstate_reset(a, NULL, 0), 0);
	assert_int_equal(sevmig_pstate_clone(a, &m, NULL), 0);
	assert_true(sevmig_pstate_equal(a, m));
	map_free(m);
	/* an empty map's bitmap is all private */
	uint8_t bm[3] = { 0, 0, 0 };
	assert_int_equal(sevmig_pstate_to_bitmap(a, 5, 20, bm, sizeof(bm)), 0);
	assert_int_equal(bm[0], 0xff);
	assert_int_equal(bm[1], 0xff);
	assert_int_equal(bm[2], 0x0f);
	map_free(a);
	map_free(b);
	map_free(NULL);
}

/* ---- memslots ----------------------------------------------------------------- */

static void test_add_slot(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new();
	assert_int_equal(sevmig_pstate_add_slot(ps, 0, 0), -EINVAL);
	assert_int_equal(sevmig_pstate_add_slot(ps, UINT64_MAX, 2), -EINVAL);
	assert_int_equal(sevmig_pstate_add_slot(ps, 1, UINT64_MAX), -EINVAL);
	assert_int_equal(sevmig_pstate_add_slot(ps, LIMIT, 1), -EINVAL);
	assert_int_equal(sevmig_pstate_add_slot(ps, LIMIT - 1, 2), -EINVAL);
	add(ps, LIMIT - 1, 1); /* the very last gfn of the 52-bit space */
	add(ps, 100, 50);
	assert_int_equal(sevmig_pstate_add_slot(ps, 100, 50), -EEXIST);
	assert_int_equal(sevmig_pstate_add_slot(ps, 90, 11), -EEXIST);
	assert_int_equal(sevmig_pstate_add_slot(ps, 149, 10), -EEXIST);
	assert_int_equal(sevmig_pstate_add_slot(ps, 120, 1), -EEXIST);
	assert_int_equal(sevmig_pstate_add_slot(ps, 0, 1000), -EEXIST);
	add(ps, 150, 10); /* touching is fine */
	add(ps, 90, 10);
	add(ps, 0, 1);
	assert_int_equal(sevmig_pstate_slot_count(ps), 5);
	const struct sevmig_range want[] = {
		{ 0, 1 }, { 90, 10 }, { 100, 50 }, { 150, 10 }, { LIMIT - 1, 1 }
	};
	for (size_t i = 0; i < 5; i++) {
		struct sevmig_range r;
		assert_int_equal(sevmig_pstate_slot(ps, i, &r), 0);
		assert_int_equal(r.gfn, want[i].gfn);
		assert_int_equal(r.npages, want[i].npages);
	}
	struct sevmig_range r;
	assert_int_equal(sevmig_pstate_slot(ps, 5, &r), -ERANGE);
	assert_int_equal(sevmig_pstate_get(ps, LIMIT - 1), PR);
	assert_int_equal(sevmig_pstate_get(ps, LIMIT), AB);
	assert_int_equal(sevmig_pstate_get(ps, 89), AB);
	assert_int_equal(sevmig_pstate_get(ps, 90), PR);
	assert_int_equal(sevmig_pstate_get(ps, 159), PR);
	assert_int_equal(sevmig_pstate_get(ps, 160), AB);
	struct sevmig_pstate_stats st = stats(ps);
	assert_int_equal(st.slots, 5);
	assert_int_equal(st.covered_pages, 72);
	assert_int_equal(st.private_pages, 72);
	/* 90..160 is one stretch of touching slots: one private run */
	assert_int_equal(st.private_runs, 3);
	map_free(ps);
}

static void test_remove_slot(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new();
	add(ps, 0, 3 * CH);
	add(ps, 3 * CH, 10);
	set(ps, CH - 5, CH + 10, SH);
	set(ps, 3 * CH - 2, 4, SH); /* crosses into the touching slot */
	assert_int_equal(sevmig_pstate_remove_slot(ps, 0, 3 * CH - 1), -ENOENT);
	assert_int_equal(sevmig_pstate_remove_slot(ps, 1, 3 * CH - 1), -ENOENT);
	assert_int_equal(sevmig_pstate_remove_slot(ps, 5 * CH, 1), -ENOENT);
	assert_int_equal(sevmig_pstate_remove_slot(ps, 1, UINT64_MAX), -ENOENT);
	assert_int_equal(sevmig_pstate_remove_slot(ps, 0, 3 * CH), 0);
	assert_int_equal(sevmig_pstate_slot_count(ps), 1);
	assert_int_equal(sevmig_pstate_get(ps, CH), AB);
	assert_int_equal(sevmig_pstate_get(ps, 3 * CH), SH);
	assert_int_equal(sevmig_pstate_get(ps, 3 * CH + 1), SH);
	assert_int_equal(sevmig_pstate_get(ps, 3 * CH + 2), PR);
	/* re-added pages start private: the state was forgotten */
	add(ps, 0, 3 * CH);
	assert_int_equal(sevmig_pstate_get(ps, CH), PR);
	assert_int_equal(sevmig_pstate_get(ps, 3 * CH - 1), PR);
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, SH), { 3 * CH, 2 });
	assert_int_equal(stats(ps).shared_pages, 2);
	map_free(ps);
}

/* ---- updates ------------------------------------------------------------------- */

static void test_set_range_errors(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new(), *before;
	add(ps, 0, 100);
	add(ps, 100, 100); /* touching */
	add(ps, 300, 100); /* after a gap */
	set(ps, 10, 5, SH);
	assert_int_equal(sevmig_pstate_clone(ps, &before, NULL), 0);
	assert_int_equal(sevmig_pstate_set_range(ps, 0, 1, AB), -EINVAL);
	assert_int_equal(sevmig_pstate_set_range(ps, 0, 1, (enum sevmig_page_state)9), -EINVAL);
	assert_int_equal(sevmig_pstate_set_range(ps, 0, 0, SH), -EINVAL);
	assert_int_equal(sevmig_pstate_set_range(ps, 5, UINT64_MAX, SH), -EINVAL);
	assert_int_equal(sevmig_pstate_set_range(ps, LIMIT - 1, 2, SH), -EINVAL);
	assert_int_equal(sevmig_pstate_set_range(ps, 150, 151, SH), -ERANGE); /* over the gap */
	assert_int_equal(sevmig_pstate_set_range(ps, 200, 1, SH), -ERANGE);
	assert_int_equal(sevmig_pstate_set_range(ps, 399, 2, SH), -ERANGE);
	assert_int_equal(sevmig_pstate_set_range(ps, 299, 2, PR), -ERANGE);
	assert_true(sevmig_pstate_equal(ps, before));
	/* across the boundary of touching slots */
	set(ps, 90, 20, SH);
	EXPECT_RUNS(walk(ps, 0, 1000, SH), { 10, 5 }, { 90, 20 });
	EXPECT_RUNS(walk(ps, 0, 1000, PR), { 0, 10 }, { 15, 75 }, { 110, 90 }, { 300, 100 });
	set(ps, 0, 200, SH);
	EXPECT_RUNS(walk(ps, 0, 1000, SH), { 0, 200 });
	set(ps, 50, 150, PR);
	EXPECT_RUNS(walk(ps, 0, 1000, SH), { 0, 50 });
	map_free(before);
	map_free(ps);
}

static void test_hypercall(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new(), *before;
	add(ps, 0, 1024);
	add(ps, LIMIT - 16, 16);
	assert_int_equal(sevmig_pstate_clone(ps, &before, NULL), 0);
	assert_int_equal(sevmig_pstate_apply_hypercall(ps, 0x1001, 1, false), -EINVAL);
	assert_int_equal(sevmig_pstate_apply_hypercall(ps, 0x800, 1, false), -EINVAL);
	assert_int_equal(sevmig_pstate_apply_hypercall(ps, 0x1000, 0, false), -EINVAL);
	/* gpa + npages pages overflows 64 bits */
	assert_int_equal(sevmig_pstate_apply_hypercall(ps, 0xfffffffffffff000ull, 2, false),
			 -EINVAL);
	assert_int_equal(sevmig_pstate_apply_hypercall(ps, 0x1000, UINT64_MAX, false), -EINVAL);
	assert_int_equal(sevmig_pstate_apply_hypercall(ps, 0x1000, UINT64_MAX >> 12, false),
			 -EINVAL);
	/* reaching past the 52-bit physical limit */
	assert_int_equal(sevmig_pstate_apply_hypercall(ps, (LIMIT - 1) << 12, 2, false), -EINVAL);
	assert_int_equal(sevmig_pstate_apply_hypercall(ps, LIMIT << 12, 1, false), -EINVAL);
	/* outside the coverage */
	assert_int_equal(sevmig_pstate_apply_hypercall(ps, 1023ull << 12, 2, false), -ERANGE);
	assert_int_equal(sevmig_pstate_apply_hypercall(ps, 2048ull << 12, 1, true), -ERANGE);
	assert_true(sevmig_pstate_equal(ps, before));

	assert_int_equal(sevmig_pstate_apply_hypercall(ps, 0x5000, 3, false), 0);
	assert_int_equal(sevmig_pstate_apply_hypercall(ps, (LIMIT - 1) << 12, 1, false), 0);
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, SH), { 5, 3 }, { LIMIT - 1, 1 });
	assert_int_equal(sevmig_pstate_apply_hypercall(ps, 0x6000, 1, true), 0);
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, SH), { 5, 1 }, { 7, 1 }, { LIMIT - 1, 1 });
	assert_int_equal(sevmig_pstate_get(ps, LIMIT - 1), SH);
	assert_int_equal(sevmig_pstate_get(ps, LIMIT - 2), PR);
	map_free(before);
	map_free(ps);
}

static void test_one_page(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new();
	add(ps, 7, 1);
	EXPECT_RUNS(walk(ps, 0, 100, PR), { 7, 1 });
	set(ps, 7, 1, SH);
	assert_int_equal(sevmig_pstate_get(ps, 7), SH);
	struct sevmig_pstate_stats st = stats(ps);
	assert_int_equal(st.covered_pages, 1);
	assert_int_equal(st.shared_pages, 1);
	assert_int_equal(st.private_pages, 0);
	assert_int_equal(st.shared_runs, 1);
	assert_int_equal(st.private_runs, 0);
	assert_int_equal(st.largest_shared_run, 1);
	struct sevmig_range r[1];
	size_t n;
	assert_int_equal(sevmig_pstate_to_list(ps, r, 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].gfn, 7);
	assert_int_equal(r[0].npages, 1);
	uint8_t bm = 0;
	assert_int_equal(sevmig_pstate_to_bitmap(ps, 7, 1, &bm, 1), 0);
	assert_int_equal(bm, 0); /* bit 0 clear = shared, bits 1..7 kept */
	bm = 0xfe;
	assert_int_equal(sevmig_pstate_to_bitmap(ps, 7, 1, &bm, 1), 0);
	assert_int_equal(bm, 0xfe);
	assert_int_equal(sevmig_pstate_to_bitmap(ps, 6, 1, &bm, 1), 0);
	assert_int_equal(bm, 0xff);
	set(ps, 7, 1, PR);
	assert_int_equal(stats(ps).shared_runs, 0);
	assert_int_equal(stats(ps).private_runs, 1);
	assert_int_equal(ps->sh.n, 0); /* nothing held for an all-private map */
	map_free(ps);
}

static void test_chunk_boundary(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new();
	add(ps, 0, 4 * CH);
	set(ps, CH - 1, 2, SH);
	assert_int_equal(sevmig_pstate_get(ps, CH - 2), PR);
	assert_int_equal(sevmig_pstate_get(ps, CH - 1), SH);
	assert_int_equal(sevmig_pstate_get(ps, CH), SH);
	assert_int_equal(sevmig_pstate_get(ps, CH + 1), PR);
	/* one run although it lives in two chunks */
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, SH), { CH - 1, 2 });
	assert_int_equal(stats(ps).shared_runs, 1);
	assert_int_equal(stats(ps).largest_shared_run, 2);
	EXPECT_RUNS(walk(ps, CH, 10, SH), { CH, 1 });
	EXPECT_RUNS(walk(ps, CH - 1, 1, SH), { CH - 1, 1 });
	set(ps, CH + 1, 2 * CH - 1, SH); /* up to the end of chunk 2 */
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, SH), { CH - 1, 2 * CH + 1 });
	assert_int_equal(ps->sh.n, 2); /* chunk 1 filled up: a partial chunk, a full span */
	set(ps, 3 * CH, CH, SH);
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, SH), { CH - 1, 3 * CH + 1 });
	assert_int_equal(ps->sh.n, 2); /* the full span grew */
	set(ps, CH, 1, PR);
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, SH), { CH - 1, 1 }, { CH + 1, 3 * CH - 1 });
	set(ps, CH, 1, SH);
	set(ps, 0, CH, SH);
	assert_int_equal(ps->sh.n, 1);
	assert_null(ps->sh.v[0].c);
	assert_int_equal(ps->sh.v[0].span, 4);
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, PR));
	map_free(ps);
}

/* Runs of 40 pages grow past the RUN limit and shrink back; single pages
 * grow past the ARRAY limit and shrink back: each container changes kind
 * both ways, with hysteresis, and the content stays exact. */
static void test_kind_switch(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new();
	add(ps, 5 * CH, CH);
	uint64_t base = 5 * CH;
	const uint32_t nr = SEVMIG__RUN_MAX + 20;
	for (uint32_t i = 0; i < nr; i++) {
		set(ps, base + 80 * i, 40, SH);
		assert_int_equal(ps->sh.n, 1);
		const struct sevmig__ctr *c = ps->sh.v[0].c;
		assert_int_equal(c->nruns, i + 1);
		assert_int_equal(c->card, 40 * (i + 1));
		assert_int_equal(c->kind,
				 i + 1 > SEVMIG__RUN_MAX ? SEVMIG__CTR_BITMAP : SEVMIG__CTR_RUN);
	}
	struct sevmig_pstate_stats st = stats(ps);
	assert_int_equal(st.shared_runs, nr);
	assert_int_equal(st.shared_pages, 40 * nr);
	assert_int_equal(sevmig_pstate_get(ps, base + 80 + 39), SH);
	assert_int_equal(sevmig_pstate_get(ps, base + 80 + 40), PR);
	/* hysteresis: still a bitmap until below SEVMIG__BITMAP_MIN */
	uint32_t n = nr;
	for (uint32_t i = 0; n > 1; i++) {
		set(ps, base + 80 * i, 40, PR);
		n--;
		const struct sevmig__ctr *c = ps->sh.v[0].c;
		assert_int_equal(c->nruns, n);
		assert_int_equal(c->kind,
				 n < SEVMIG__BITMAP_MIN ? SEVMIG__CTR_RUN : SEVMIG__CTR_BITMAP);
		if (c->kind == SEVMIG__CTR_RUN)
			break;
	}
	struct runs *w = walk(ps, 0, UINT64_MAX, SH);
	assert_int_equal(w->n, SEVMIG__BITMAP_MIN - 1);
	for (size_t i = 0; i < w->n; i++)
		assert_int_equal(w->r[i].npages, 40);
	set(ps, base, CH, PR);
	assert_int_equal(ps->sh.n, 0);

	/* single pages: an ARRAY up to its limit for growing in place, then a
	 * BITMAP, back to an ARRAY below half that */
	for (uint32_t i = 0; i <= SEVMIG__ARRAY_GROW_MAX; i++) {
		set(ps, base + 3 * i, 1, SH);
		const struct sevmig__ctr *c = ps->sh.v[0].c;
		assert_int_equal(c->card, i + 1);
		assert_int_equal(c->nruns, i + 1);
		assert_int_equal(c->kind, i + 1 > SEVMIG__ARRAY_GROW_MAX ? SEVMIG__CTR_BITMAP
									 : SEVMIG__CTR_ARRAY);
	}
	for (uint32_t i = 0, left = SEVMIG__ARRAY_GROW_MAX + 1; left > 1; i++) {
		set(ps, base + 3 * i, 1, PR);
		left--;
		const struct sevmig__ctr *c = ps->sh.v[0].c;
		assert_int_equal(c->card, left);
		assert_int_equal(c->kind, left < SEVMIG__ARRAY_GROW_MAX / 2 ? SEVMIG__CTR_ARRAY
									    : SEVMIG__CTR_BITMAP);
		if (c->kind == SEVMIG__CTR_ARRAY)
			break;
	}
	assert_int_equal(stats(ps).shared_pages, SEVMIG__ARRAY_GROW_MAX / 2 - 1);
	assert_int_equal(sevmig_pstate_get(ps, base + 3 * (SEVMIG__ARRAY_GROW_MAX - 1)), SH);
	assert_int_equal(sevmig_pstate_get(ps, base + 3 * (SEVMIG__ARRAY_GROW_MAX - 1) + 1), PR);
	/* joining pages of an array: fill the gaps */
	set(ps, base, 3 * SEVMIG__ARRAY_GROW_MAX + 1, SH);
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, SH), { base, 3 * SEVMIG__ARRAY_GROW_MAX + 1 });
	assert_int_equal(ps->sh.v[0].c->kind, SEVMIG__CTR_RUN);
	map_free(ps);
}

static void test_full_spans(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new();
	add(ps, 0, 4096 * (uint64_t)CH); /* 1 TiB */
	set(ps, 0, 4096 * (uint64_t)CH, SH);
	assert_int_equal(ps->sh.n, 1);
	struct sevmig_pstate_stats st = stats(ps);
	assert_int_equal(st.largest_shared_run, 4096 * (uint64_t)CH);
	assert_true(st.memory_bytes < 1024);
	set(ps, 1000 * (uint64_t)CH + 5, 1, PR); /* splits the span */
	assert_int_equal(ps->sh.n, 3);
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, PR), { 1000 * (uint64_t)CH + 5, 1 });
	set(ps, 1000 * (uint64_t)CH + 5, 1, SH); /* and joins again */
	assert_int_equal(ps->sh.n, 1);
	set(ps, 10 * (uint64_t)CH, 20 * (uint64_t)CH, PR);
	assert_int_equal(ps->sh.n, 2);
	set(ps, 10 * (uint64_t)CH + 1, 20 * (uint64_t)CH - 2, SH);
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, PR), { 10 * (uint64_t)CH, 1 },
		    { 30 * (uint64_t)CH - 1, 1 });
	assert_int_equal(ps->sh.n, 5);
	set(ps, 0, 4096 * (uint64_t)CH, PR);
	assert_int_equal(ps->sh.n, 0);
	map_free(ps);
}

static void test_reset(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new(), *before;
	add(ps, 0, 1000);
	add(ps, 2000, 1000);
	set(ps, 0, 1000, SH);
	set(ps, 2000, 1000, SH);
	set(ps, 500, 10, PR);
	assert_int_equal(sevmig_pstate_clone(ps, &before, NULL), 0);
	const struct sevmig_range bad[] = { { 10, 5 }, { 5, UINT64_MAX } };
	assert_int_equal(sevmig_pstate_reset(ps, bad, 2), -EINVAL);
	assert_true(sevmig_pstate_equal(ps, before));
	/* unsorted, overlapping, reaching outside, empty and beyond the limit */
	const struct sevmig_range keep[] = {
		{ 2900, 500 }, { 495, 10 }, { 498, 20 }, { 0, 0 }, { LIMIT + 5, 10 }, { 1500, 600 },
	};
	assert_int_equal(sevmig_pstate_reset(ps, keep, 6), 0);
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, SH), { 495, 5 }, { 510, 8 }, { 2000, 100 },
		    { 2900, 100 });
	assert_int_equal(sevmig_pstate_reset(ps, NULL, 0), 0);
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, SH));
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, PR), { 0, 1000 }, { 2000, 1000 });
	assert_int_equal(stats(ps).covered_pages, 2000);
	map_free(before);
	map_free(ps);
}

/* ---- queries ------------------------------------------------------------------- */

static void test_walk(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new();
	add(ps, 0, 100);
	add(ps, 100, 100);
	add(ps, 300, 100);
	set(ps, 10, 10, SH);
	set(ps, 50, 100, SH);
	set(ps, 300, 1, SH);
	set(ps, 399, 1, SH);
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, SH), { 10, 10 }, { 50, 100 }, { 300, 1 }, { 399, 1 });
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, PR), { 0, 10 }, { 20, 30 }, { 150, 50 }, { 301, 98 });
	EXPECT_RUNS(walk(ps, 15, 40, SH), { 15, 5 }, { 50, 5 });
	EXPECT_RUNS(walk(ps, 15, 40, PR), { 20, 30 });
	EXPECT_RUNS(walk(ps, 160, 200, PR), { 160, 40 }, { 301, 59 });
	EXPECT_RUNS(walk(ps, 200, 100, PR));
	EXPECT_RUNS(walk(ps, 12, 0, SH));
	EXPECT_RUNS(walk(ps, 12, 1, SH), { 12, 1 });
	struct runs x = { .n = 0, .stop_after = 2 };
	assert_int_equal(sevmig_pstate_walk(ps, 0, 1000, SH, collect, &x), 7);
	assert_int_equal(x.n, 2);
	x.n = 0;
	assert_int_equal(sevmig_pstate_walk(ps, 0, 1000, PR, collect, &x), 7);
	assert_int_equal(x.n, 2);
	assert_int_equal(sevmig_pstate_walk(ps, 0, 1, AB, collect, &x), -EINVAL);
	assert_int_equal(sevmig_pstate_walk(ps, 2, UINT64_MAX, SH, collect, &x), -EINVAL);
	map_free(ps);
}

static void test_stats(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new();
	add(ps, 0, 3 << 18);	      /* below 3 GiB */
	add(ps, 1 << 20, 1ull << 30); /* 4 TiB above 4 GiB */
	set(ps, 0, 1, SH);
	set(ps, 100, 16384, SH);
	set(ps, (1 << 20) + 5, 1, SH);
	set(ps, (1ull << 30) + (1 << 20) - 1, 1, SH);
	struct sevmig_pstate_stats st = stats(ps);
	assert_int_equal(st.covered_pages, (3 << 18) + (1ull << 30));
	assert_int_equal(st.shared_pages, 16387);
	assert_int_equal(st.private_pages, st.covered_pages - 16387);
	assert_int_equal(st.shared_runs, 4);
	assert_int_equal(st.private_runs, 4);
	assert_int_equal(st.largest_shared_run, 16384);
	assert_int_equal(st.slots, 2);
	/* a few runs on 4 TiB cost a few containers, not a bitmap */
	assert_true(st.memory_bytes < 4096);
	map_free(ps);
}

/* ---- the list and the region array ------------------------------------------ */

static void test_list(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new(), *before;
	add(ps, 0, 1000);
	add(ps, 1000, 1000);
	add(ps, 5000, 100);
	set(ps, 3, 4, SH);
	assert_int_equal(sevmig_pstate_clone(ps, &before, NULL), 0);
	struct sevmig_error err;

	const struct sevmig_range unsorted[] = { { 10, 5 }, { 5, 2 } };
	sevmig_error_clear(&err);
	assert_int_equal(sevmig_pstate_set_from_list(ps, unsorted, 2, &err), -EINVAL);
	assert_int_equal(err.code, -EINVAL);
	assert_int_equal(err.index, 1);
	assert_non_null(strstr(err.message, "run 1"));
	const struct sevmig_range overlap[] = { { 10, 5 }, { 14, 2 } };
	assert_int_equal(sevmig_pstate_set_from_list(ps, overlap, 2, &err), -EINVAL);
	assert_int_equal(err.index, 1);
	const struct sevmig_range zero[] = { { 10, 5 }, { 20, 1 }, { 30, 0 } };
	assert_int_equal(sevmig_pstate_set_from_list(ps, zero, 3, &err), -EINVAL);
	assert_int_equal(err.index, 2);
	const struct sevmig_range wrap[] = { { 10, UINT64_MAX } };
	assert_int_equal(sevmig_pstate_set_from_list(ps, wrap, 1, &err), -EINVAL);
	const struct sevmig_range limit[] = { { LIMIT - 1, 2 } };
	assert_int_equal(sevmig_pstate_set_from_list(ps, limit, 1, &err), -EINVAL);
	const struct sevmig_range gap[] = { { 10, 5 }, { 1990, 20 } };
	assert_int_equal(sevmig_pstate_set_from_list(ps, gap, 2, &err), -ERANGE);
	assert_int_equal(err.index, 1);
	assert_int_equal(err.offset, SEVMIG_NO_OFFSET);
	assert_true(sevmig_pstate_equal(ps, before));
	assert_int_equal(sevmig_pstate_set_from_list(ps, gap, 1, NULL), 0);

	/* touching runs are accepted and come back joined; across touching slots */
	const struct sevmig_range ok[] = { { 0, 1 }, { 1, 1 }, { 990, 20 }, { 5000, 100 } };
	assert_int_equal(sevmig_pstate_set_from_list(ps, ok, 4, &err), 0);
	struct sevmig_range out[3];
	size_t n = 0;
	assert_int_equal(sevmig_pstate_to_list(ps, out, 2, &n), -ENOSPC);
	assert_int_equal(n, 3);
	assert_int_equal(sevmig_pstate_to_list(ps, NULL, 0, &n), -ENOSPC);
	assert_int_equal(n, 3);
	assert_int_equal(sevmig_pstate_to_list(ps, out, 3, &n), 0);
	assert_int_equal(out[0].gfn, 0);
	assert_int_equal(out[0].npages, 2);
	assert_int_equal(out[1].gfn, 990);
	assert_int_equal(out[1].npages, 20);
	assert_int_equal(out[2].gfn, 5000);
	assert_int_equal(out[2].npages, 100);
	assert_int_equal(sevmig_pstate_set_from_list(ps, NULL, 0, &err), 0);
	assert_int_equal(stats(ps).shared_pages, 0);
	map_free(before);
	map_free(ps);
}

static void test_region_array(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new();
	add(ps, 0, 1000);
	add(ps, LIMIT - 10, 10);
	set(ps, 0x10, 0x20, SH);
	set(ps, LIMIT - 1, 1, SH);
	uint8_t buf[48];
	size_t n = 0;
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(sevmig_pstate_to_region_array(ps, buf, 31, &n), -E2BIG);
	assert_int_equal(n, 2);
	assert_int_equal(buf[16], 0xaa); /* nothing past the one entry that fits */
	assert_int_equal(sevmig_pstate_to_region_array(ps, buf, 32, &n), 0);
	assert_int_equal(n, 2);
	const uint8_t want[32] = {
		0x10, 0,    0,	  0,	0,    0, 0, 0, 0x30, 0, 0, 0, 0, 0,    0, 0,
		0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,    0, 0, 0, 0, 0x01, 0, 0,
	};
	assert_memory_equal(buf, want, 32);
	assert_int_equal(buf[32], 0xaa);

	struct sevmig_pstate *b = map_new();
	add(b, 0, 1000);
	add(b, LIMIT - 10, 10);
	struct sevmig_error err;
	assert_int_equal(sevmig_pstate_set_from_region_array(b, buf, 31, &err), -EINVAL);
	assert_int_equal(sevmig_pstate_set_from_region_array(b, buf, 32, &err), 0);
	assert_true(sevmig_pstate_equal(ps, b));
	/* a reversed entry, named with its byte offset */
	uint8_t bad[32];
	memcpy(bad, want, 32);
	bad[29] = 0x00; /* second entry: gfn_end 0, below gfn_start */
	sevmig_error_clear(&err);
	assert_int_equal(sevmig_pstate_set_from_region_array(b, bad, 32, &err), -EINVAL);
	assert_int_equal(err.index, 1);
	assert_int_equal(err.offset, 16);
	assert_non_null(strstr(err.message, "entry 1"));
	/* the second entry first: out of order */
	memcpy(bad, want + 16, 16);
	memcpy(bad + 16, want, 16);
	assert_int_equal(sevmig_pstate_set_from_region_array(b, bad, 32, &err), -EINVAL);
	/* an entry past the coverage */
	memcpy(bad, want, 32);
	bad[8] = 0xf0;
	bad[9] = 0x03;
	assert_int_equal(sevmig_pstate_set_from_region_array(b, bad, 16, &err), -ERANGE);
	assert_int_equal(err.offset, 0);
	assert_true(sevmig_pstate_equal(ps, b));
	assert_int_equal(sevmig_pstate_set_from_region_array(b, NULL, 0, &err), 0);
	assert_int_equal(stats(b).shared_pages, 0);
	map_free(b);
	map_free(ps);
}

/* ---- the bitmap ------------------------------------------------------------------ */

static void test_bitmap(void **state)
{
	(void)state;
	assert_int_equal(sevmig_bitmap_bytes(0), 0);
	assert_int_equal(sevmig_bitmap_bytes(1), 1);
	assert_int_equal(sevmig_bitmap_bytes(8), 1);
	assert_int_equal(sevmig_bitmap_bytes(9), 2);
	struct sevmig_pstate *ps = map_new();
	add(ps, 0, 100);
	add(ps, 200, 100);
	set(ps, 1, 2, SH);
	set(ps, 8, 8, SH);
	set(ps, 99, 1, SH);
	set(ps, 200, 1, SH);
	uint8_t bm[4];
	/* 13 pages: the last byte keeps its three top bits */
	memset(bm, 0xa5, sizeof(bm));
	assert_int_equal(sevmig_pstate_to_bitmap(ps, 0, 13, bm, 2), 0);
	assert_int_equal(bm[0], 0xf9);
	assert_int_equal(bm[1], (0xa5 & 0xe0) | 0x00);
	assert_int_equal(bm[2], 0xa5);
	memset(bm, 0x00, sizeof(bm));
	assert_int_equal(sevmig_pstate_to_bitmap(ps, 0, 13, bm, 2), 0);
	assert_int_equal(bm[1], 0x00);
	assert_int_equal(sevmig_pstate_to_bitmap(ps, 0, 17, bm, 2), -ENOSPC);
	assert_int_equal(sevmig_pstate_to_bitmap(ps, 5, UINT64_MAX, bm, 4), -EINVAL);
	assert_int_equal(sevmig_pstate_to_bitmap(ps, 0, 0, NULL, 0), 0);
	/* an unaligned base, across a coverage gap: uncovered pages are private */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(sevmig_pstate_to_bitmap(ps, 97, 8, bm, 1), 0);
	assert_int_equal(bm[0], 0xfb); /* 97, 98 private; 99 shared; 100.. absent */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(sevmig_pstate_to_bitmap(ps, 196, 8, bm, 1), 0);
	assert_int_equal(bm[0], 0xef);

	/* set_from_bitmap: bits past npages are ignored */
	struct sevmig_pstate *b = map_new(), *before;
	add(b, 0, 100);
	add(b, 200, 100);
	uint8_t in[2] = { 0xf9, 0x00 };
	assert_int_equal(sevmig_pstate_clone(b, &before, NULL), 0);
	assert_int_equal(sevmig_pstate_set_from_bitmap(b, 0, 13, in, 1), -EINVAL);
	assert_int_equal(sevmig_pstate_set_from_bitmap(b, 0, 0, in, 2), -EINVAL);
	assert_int_equal(sevmig_pstate_set_from_bitmap(b, 95, 13, in, 2), -ERANGE);
	assert_int_equal(sevmig_pstate_set_from_bitmap(b, LIMIT - 1, 13, in, 2), -EINVAL);
	assert_true(sevmig_pstate_equal(b, before));
	assert_int_equal(sevmig_pstate_set_from_bitmap(b, 0, 13, in, 2), 0);
	EXPECT_RUNS(walk(b, 0, UINT64_MAX, SH), { 1, 2 }, { 8, 5 });
	/* only [base, base + npages) changes */
	set(b, 50, 10, SH);
	uint8_t ones[2] = { 0xff, 0xff };
	assert_int_equal(sevmig_pstate_set_from_bitmap(b, 10, 9, ones, 2), 0);
	EXPECT_RUNS(walk(b, 0, UINT64_MAX, SH), { 1, 2 }, { 8, 2 }, { 50, 10 });
	/* an unaligned base */
	uint8_t z[2] = { 0x00, 0x00 };
	assert_int_equal(sevmig_pstate_set_from_bitmap(b, 203, 11, z, 2), 0);
	EXPECT_RUNS(walk(b, 0, UINT64_MAX, SH), { 1, 2 }, { 8, 2 }, { 50, 10 }, { 203, 11 });
	map_free(before);
	map_free(b);
	map_free(ps);
}

/* A bitmap over several chunks, against get(), both ways. */
static void bitmap_chunks(struct tu_rng *r, uint64_t base)
{
	struct tu_rng rng = *r;
	struct sevmig_pstate *ps = map_new(), *b = map_new();
	uint64_t n = 3 * CH + 77;
	add(ps, base - 100, n + 200);
	add(b, base - 100, n + 200);
	set(ps, base + CH, CH, SH); /* a full chunk or close to one */
	for (int i = 0; i < 3000; i++)
		set(ps, base + tu_below(&rng, n - 3), 1 + tu_below(&rng, 3), SH);
	for (int i = 0; i < 300; i++) {
		uint64_t off = tu_below(&rng, n), left = n - off;
		set(ps, base + off, 1 + tu_below(&rng, left < 3000 ? left : 3000), PR);
	}
	size_t len = sevmig_bitmap_bytes(n);
	uint8_t *bm = malloc(len);
	assert_non_null(bm);
	tu_fill(&rng, bm, len);
	uint8_t last = bm[len - 1];
	assert_int_equal(sevmig_pstate_to_bitmap(ps, base, n, bm, len), 0);
	for (uint64_t i = 0; i < n; i++) {
		bool priv = (bm[i / 8] >> (i % 8)) & 1;
		assert_int_equal(priv, sevmig_pstate_get(ps, base + i) != SH);
	}
	assert_int_equal(bm[len - 1] & 0xe0, last & 0xe0);
	assert_int_equal(sevmig_pstate_set_from_bitmap(b, base, n, bm, len), 0);
	assert_true(sevmig_pstate_equal(ps, b));
	free(bm);
	map_free(b);
	map_free(ps);
	*r = rng;
}

static void test_bitmap_chunks(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("test_bitmap_chunks") };
	bitmap_chunks(&rng, 3 * CH - 1234567 % CH); /* not a multiple of 8 */
	bitmap_chunks(&rng, 3 * CH - 8 * 1000);	    /* whole bytes per chunk */
	bitmap_chunks(&rng, 3 * CH);
}

/* ---- the builder ------------------------------------------------------------------- */

/* Some encryption-bitmap bits for n pages from bit `off` on: noise, all
 * shared, all private, or private with some scattered shared pages (around
 * the RUN/BITMAP threshold). */
static void random_bits(struct tu_rng *r, uint8_t *bm, size_t len, unsigned off, uint64_t n)
{
	switch (tu_below(r, 4)) {
	case 0:
		tu_fill(r, bm, len);
		break;
	case 1:
		memset(bm, 0, len);
		break;
	case 2:
		memset(bm, 0xff, len);
		break;
	default:
		memset(bm, 0xff, len);
		for (uint64_t k = tu_below(r, 3 * SEVMIG__RUN_MAX); k; k--) {
			uint64_t i = off + tu_below(r, n);
			bm[i / 8] &= (uint8_t) ~(1u << (i % 8));
		}
	}
}

/*
 * Pages handed to a builder in order, as runs and as bitmap bits from any
 * bit offset, against a byte-per-page model over six chunks at gfn 0 or
 * ending at 2^40: the map has the model's states, keeps its invariants, and
 * each container has the kind a set built from scratch must have.
 */
static void test_builder(void **state)
{
	(void)state;
	struct tu_rng r = { tu_seed("test_builder") };
	const uint64_t W = 6 * CH;
	uint8_t *model = malloc(W), *out = malloc(W / 8), *bm = malloc(W / 8 + 16);
	assert_non_null(model);
	assert_non_null(out);
	assert_non_null(bm);
	for (int round = 0; round < 80; round++) {
		uint64_t base = tu_below(&r, 2) ? 0 : LIMIT - W;
		struct sevmig__builder b;
		sevmig__builder_init(&b);
		memset(model, 0, W);
		for (uint64_t pos = 0; pos < W;) {
			if (tu_below(&r, 4) == 0)
				pos = (pos + CH) & ~(uint64_t)(CH - 1); /* to a chunk's start */
			else if (tu_below(&r, 2))
				pos += tu_below(&r, tu_below(&r, 2) ? 64 : 2 * CH); /* a gap */
			if (pos >= W)
				break;
			uint64_t n = 1 + tu_below(&r, tu_below(&r, 2) ? 100 : 3 * CH);
			n = n < W - pos ? n : W - pos;
			if (tu_below(&r, 2)) {
				sevmig__builder_add(&b, base + pos, base + pos + n);
				memset(model + pos, 1, n);
			} else {
				unsigned off = (unsigned)(tu_below(&r, 2) ? 8 * tu_below(&r, 3)
									  : tu_below(&r, 24));
				size_t len = (off + n + 7) / 8;
				random_bits(&r, bm, len, off, n);
				sevmig__builder_add_bits(&b, base + pos, bm, off, n);
				for (uint64_t i = 0; i < n; i++)
					model[pos + i] =
					    !((bm[(off + i) / 8] >> ((off + i) % 8)) & 1);
			}
			pos += n;
		}
		struct sevmig_pstate *ps = map_new();
		add(ps, base, W);
		assert_int_equal(sevmig__builder_commit(&b, ps), 0);
		assert_int_equal(sevmig_pstate_to_bitmap(ps, base, W, out, W / 8), 0);
		for (uint64_t i = 0; i < W; i++)
			if (model[i] == ((out[i / 8] >> (i % 8)) & 1))
				fail_msg("round %d: page %llu is %s", round, (unsigned long long)i,
					 model[i] ? "private" : "shared");
		for (size_t i = 0; i < ps->sh.n; i++) {
			const struct sevmig__ctr *c = ps->sh.v[i].c;
			/* the smallest kind, but words of more than a few pages
			 * stay a BITMAP */
			if (c && !(c->kind == SEVMIG__CTR_BITMAP &&
				   sevmig__canon_kind(c->card, c->nruns) == SEVMIG__CTR_ARRAY &&
				   c->card > SEVMIG__ARRAY_GROW_MAX))
				assert_int_equal(c->kind, sevmig__canon_kind(c->card, c->nruns));
		}
		map_free(ps);
	}
	free(model);
	free(out);

	/* Touching runs are one run, across chunks too. */
	struct sevmig__builder b;
	struct sevmig_pstate *ps = map_new();
	add(ps, 0, 4 * CH);
	sevmig__builder_init(&b);
	sevmig__builder_add(&b, 10, 20);
	sevmig__builder_add(&b, 20, CH);
	memset(bm, 0, 8);
	sevmig__builder_add_bits(&b, CH, bm, 3, 61);
	sevmig__builder_add(&b, CH + 61, 3 * CH + 1);
	assert_int_equal(sevmig__builder_commit(&b, ps), 0);
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, SH), { 10, 3 * CH + 1 - 10 });
	assert_int_equal(ps->sh.n, 3); /* a run, a full span of 2 chunks, a run */
	assert_null(ps->sh.v[1].c);
	assert_int_equal(ps->sh.v[1].span, 2);

	/* Pages out of order: -EINVAL, nothing built, the map unchanged. */
	sevmig__builder_init(&b);
	sevmig__builder_add(&b, 100, 200);
	sevmig__builder_add(&b, 150, 160);
	assert_int_equal(sevmig__builder_commit(&b, ps), -EINVAL);
	sevmig__builder_init(&b);
	sevmig__builder_add_bits(&b, 100, bm, 0, 64);
	sevmig__builder_add_bits(&b, 163, bm, 0, 8);
	assert_int_equal(sevmig__builder_finish(&b, &ps->sh), -EINVAL);
	EXPECT_RUNS(walk(ps, 0, UINT64_MAX, SH), { 10, 3 * CH + 1 - 10 });
	/* Given up half way: everything freed (the sanitizer build checks). */
	sevmig__builder_init(&b);
	sevmig__builder_add(&b, 5, 3 * CH);
	sevmig__builder_add_bits(&b, 3 * CH + 9, bm, 0, 64);
	sevmig__builder_free(&b);
	free(bm);
	map_free(ps);
}

/* ---- merge, diff, delta ------------------------------------------------------------ */

static void test_merge(void **state)
{
	(void)state;
	struct sevmig_pstate *a = map_new(), *b = map_new(), *m;
	add(a, 0, 100);	 /* overlaps b's first slot */
	add(a, 100, 50); /* touches a's first slot */
	add(a, 300, 10); /* b does not cover it */
	add(b, 50, 70);	 /* 50..120 */
	add(b, 150, 50); /* touches a's second slot: stays apart */
	set(a, 0, 10, SH);
	set(a, 60, 20, SH);
	set(a, 300, 5, SH);
	set(b, 70, 20, SH);
	set(b, 150, 10, SH);
	assert_int_equal(sevmig_pstate_merge(a, b, (enum sevmig_merge_op)3, &m), -EINVAL);

	struct sevmig_range want_slots[] = { { 0, 150 }, { 150, 50 }, { 300, 10 } };
	for (int op = 0; op < 3; op++) {
		assert_int_equal(sevmig_pstate_merge(a, b, (enum sevmig_merge_op)op, &m), 0);
		assert_int_equal(sevmig_pstate_slot_count(m), 3);
		for (size_t i = 0; i < 3; i++) {
			struct sevmig_range r;
			assert_int_equal(sevmig_pstate_slot(m, i, &r), 0);
			assert_int_equal(r.gfn, want_slots[i].gfn);
			assert_int_equal(r.npages, want_slots[i].npages);
		}
		struct runs *w = walk(m, 0, UINT64_MAX, SH);
		if (op == SEVMIG_MERGE_UNION)
			EXPECT_RUNS(w, { 0, 10 }, { 60, 30 }, { 150, 10 }, { 300, 5 });
		else if (op == SEVMIG_MERGE_INTERSECT)
			EXPECT_RUNS(w, { 70, 10 });
		else /* b wins on 50..120 and 150..200 */
			EXPECT_RUNS(w, { 0, 10 }, { 70, 20 }, { 150, 10 }, { 300, 5 });
		map_free(m);
	}
	map_free(a);
	map_free(b);
}

static int stop_second(void *arg, const struct sevmig_pstate_change *c)
{
	(void)c;
	return ++*(int *)arg == 2 ? 42 : 0;
}

static void test_diff(void **state)
{
	(void)state;
	struct sevmig_pstate *a = map_new(), *b = map_new();
	add(a, 0, 100);
	add(a, 100, 100); /* touching: no boundary in the diff */
	add(b, 50, 200);
	set(a, 90, 20, SH);
	set(b, 95, 30, SH);
	set(b, 240, 10, SH);
	struct changes *x = diff(a, b);
	assert_int_equal(x->n, 5);
	expect_change(x, 0, 0, 50, PR, AB);
	expect_change(x, 1, 90, 5, SH, PR);
	expect_change(x, 2, 110, 15, PR, SH);
	expect_change(x, 3, 200, 40, AB, PR);
	expect_change(x, 4, 240, 10, AB, SH);
	x = diff(b, a);
	assert_int_equal(x->n, 5);
	expect_change(x, 0, 0, 50, AB, PR);
	expect_change(x, 1, 90, 5, PR, SH);
	int calls = 0;
	assert_int_equal(sevmig_pstate_diff(a, b, stop_second, &calls), 42);
	assert_int_equal(calls, 2);
	assert_int_equal(diff(a, a)->n, 0);
	assert_false(sevmig_pstate_equal(a, b));
	map_free(a);
	map_free(b);
}

static void test_diff_maximal(void **state)
{
	(void)state;
	struct sevmig_pstate *a = map_new(), *b = map_new();
	add(a, 0, 10 * CH);
	add(b, 0, 5 * CH);
	add(b, 5 * CH, 5 * CH);
	/* a difference that crosses chunk and slot boundaries comes out whole */
	set(a, CH - 3, 5 * CH, SH);
	set(b, 2 * CH, 10, SH);
	struct changes *x = diff(a, b);
	assert_int_equal(x->n, 2);
	expect_change(x, 0, CH - 3, CH + 3, SH, PR);
	expect_change(x, 1, 2 * CH + 10, 4 * CH - 13, SH, PR);
	/* alternating pairs stay separate */
	set(b, 6 * CH, 10, SH);
	x = diff(a, b);
	assert_int_equal(x->n, 3);
	expect_change(x, 2, 6 * CH, 10, PR, SH);
	map_free(a);
	map_free(b);
}

static void test_delta_apply(void **state)
{
	(void)state;
	struct sevmig_pstate *a = map_new(), *b = map_new(), *d, *before;
	add(a, 0, 1000);
	add(b, 500, 1000);
	set(a, 600, 100, SH);
	set(b, 650, 100, SH);
	set(b, 1200, 10, SH); /* a does not cover it: not in the delta */
	assert_int_equal(sevmig_pstate_delta(a, b, &d), 0);
	assert_int_equal(sevmig_pstate_slot_count(d), 2); /* 600..650 and 700..750 */
	struct sevmig_pstate_stats st = stats(d);
	assert_int_equal(st.covered_pages, 100);
	EXPECT_RUNS(walk(d, 0, UINT64_MAX, PR), { 600, 50 });
	EXPECT_RUNS(walk(d, 0, UINT64_MAX, SH), { 700, 50 });
	assert_int_equal(sevmig_pstate_apply(a, d), 0);
	EXPECT_RUNS(walk(a, 0, UINT64_MAX, SH), { 650, 100 });
	map_free(d);
	/* a delta that reaches outside the map is refused whole */
	set(b, 500, 1, SH);
	assert_int_equal(sevmig_pstate_clone(b, &before, NULL), 0);
	struct sevmig_pstate *wide = map_new();
	add(wide, 400, 200);
	assert_int_equal(sevmig_pstate_apply(b, wide), -ERANGE);
	assert_true(sevmig_pstate_equal(b, before));
	map_free(wide);
	map_free(before);
	map_free(a);
	map_free(b);
}

static void test_clone_equal(void **state)
{
	(void)state;
	struct sevmig_pstate *a = map_new(), *b = map_new(), *c;
	add(a, 0, 200);
	add(b, 0, 100);
	add(b, 100, 100); /* slot boundaries do not matter for equality */
	assert_true(sevmig_pstate_equal(a, b));
	set(a, 0, 150, SH);
	for (int i = 0; i < 150; i++)
		set(b, (uint64_t)i, 1, SH);
	assert_true(sevmig_pstate_equal(a, b));
	assert_int_equal(sevmig_pstate_clone(a, &c, NULL), 0);
	assert_true(sevmig_pstate_equal(a, c));
	set(c, 199, 1, SH);
	assert_false(sevmig_pstate_equal(a, c));
	assert_int_equal(sevmig_pstate_get(a, 199), PR);
	map_free(c);
	/* the same pages shared as a bitmap in one map and an array in the
	 * other */
	struct sevmig_pstate *x = map_new();
	add(x, 0, CH);
	const uint32_t np = 2 * (SEVMIG__ARRAY_MAX + 100);
	for (uint32_t i = 0; i < np; i += 2)
		set(x, i, 1, SH);
	for (uint32_t i = 0; i < 2 * 1000; i += 2)
		set(x, i, 1, PR);
	assert_int_equal(x->sh.v[0].c->kind, SEVMIG__CTR_BITMAP);
	struct sevmig_pstate *z = map_new();
	add(z, 0, CH);
	size_t n;
	struct sevmig_range *r = malloc(np * sizeof(*r));
	assert_int_equal(sevmig_pstate_to_list(x, r, np, &n), 0);
	assert_int_equal(sevmig_pstate_set_from_list(z, r, n, NULL), 0);
	assert_int_equal(z->sh.v[0].c->kind, SEVMIG__CTR_ARRAY);
	assert_true(sevmig_pstate_equal(x, z));
	assert_int_equal(diff(x, z)->n, 0);
	set(z, 0, 1, SH);
	assert_false(sevmig_pstate_equal(x, z));
	free(r);
	map_free(x);
	map_free(z);
	map_free(a);
	map_free(b);
}

/* Two containers whose union has more runs than a RUN container may hold:
 * single pages, so the result is an ARRAY; their intersection is empty. */
static void test_merge_many_runs(void **state)
{
	(void)state;
	struct sevmig_pstate *a = map_new(), *b = map_new(), *m;
	add(a, 0, 2 * CH);
	add(b, 0, 2 * CH);
	for (uint32_t i = 0; i < 100; i++) {
		set(a, CH + 4 * i, 1, SH);
		set(b, CH + 4 * i + 2, 1, SH);
	}
	assert_int_equal(a->sh.v[0].c->kind, SEVMIG__CTR_ARRAY);
	assert_int_equal(b->sh.v[0].c->kind, SEVMIG__CTR_ARRAY);
	assert_int_equal(sevmig_pstate_merge(a, b, SEVMIG_MERGE_UNION, &m), 0);
	assert_int_equal(m->sh.n, 1);
	assert_int_equal(m->sh.v[0].c->kind, SEVMIG__CTR_ARRAY);
	assert_int_equal(stats(m).shared_runs, 200);
	assert_int_equal(sevmig_pstate_get(m, CH + 398), SH);
	assert_int_equal(sevmig_pstate_get(m, CH + 399), PR);
	map_free(m);
	assert_int_equal(sevmig_pstate_merge(a, b, SEVMIG_MERGE_INTERSECT, &m), 0);
	assert_int_equal(m->sh.n, 0);
	map_free(m);
	/* a change in the middle of long run lists: one change reported */
	set(b, CH + 4 * 50 + 1, 1, SH);
	set(a, CH + 4 * 50 + 1, 2, SH);
	for (uint32_t i = 0; i < 100; i++)
		set(a, CH + 4 * i + 2, 1, SH);
	struct changes *x = diff(a, b);
	assert_int_equal(x->n, 100);
	for (size_t i = 0; i < 100; i++)
		expect_change(x, i, CH + 4 * i, 1, SH, PR);
	/* a list of many runs in one chunk, some touching */
	struct sevmig_range *r = malloc(300 * sizeof(*r));
	assert_non_null(r);
	for (uint32_t j = 0; j < 150; j++) {
		r[2 * j] = (struct sevmig_range){ 6 * j, 2 };
		r[2 * j + 1] = (struct sevmig_range){ 6 * j + 2, 1 };
	}
	assert_int_equal(sevmig_pstate_set_from_list(a, r, 300, NULL), 0);
	/* each pair touches: 150 runs of 3 */
	struct runs *w = walk(a, 0, UINT64_MAX, SH);
	assert_int_equal(w->n, 150);
	for (size_t i = 0; i < 150; i++) {
		assert_int_equal(w->r[i].gfn, 6 * i);
		assert_int_equal(w->r[i].npages, 3);
	}
	assert_int_equal(a->sh.v[0].c->kind, SEVMIG__CTR_ARRAY); /* 450 pages: 2 bytes each */
	assert_int_equal(a->sh.v[0].c->nruns, 150);
	free(r);
	map_free(a);
	map_free(b);
}

/* A 4 TiB guest with a few runs: everything stays small. */
static void test_huge_guest(void **state)
{
	(void)state;
	struct sevmig_pstate *a = map_new(), *b, *m;
	add(a, 0, 3 << 18);
	add(a, 1 << 20, 1ull << 30);
	set(a, 1000, 16384, SH);
	set(a, (1ull << 30) - 7, 100, SH);
	assert_int_equal(sevmig_pstate_clone(a, &b, NULL), 0);
	set(b, (1ull << 29) + 3, 1, SH);
	set(b, 1 << 20, 1ull << 29, SH); /* half of it, as a few full spans */
	struct changes *x = diff(a, b);
	assert_int_equal(x->n, 1);
	expect_change(x, 0, 1 << 20, 1ull << 29, PR, SH);
	assert_int_equal(sevmig_pstate_merge(a, b, SEVMIG_MERGE_UNION, &m), 0);
	struct sevmig_pstate_stats st = stats(m);
	assert_int_equal(st.shared_pages, 16384 + 100 + (1ull << 29));
	assert_true(st.memory_bytes < 8192);
	map_free(m);
	assert_int_equal(sevmig_pstate_delta(a, b, &m), 0);
	assert_int_equal(stats(m).covered_pages, 1ull << 29);
	assert_int_equal(sevmig_pstate_apply(a, m), 0);
	assert_true(sevmig_pstate_equal(a, b));
	map_free(m);
	map_free(a);
	map_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_empty_map),
		cmocka_unit_test(test_add_slot),
		cmocka_unit_test(test_remove_slot),
		cmocka_unit_test(test_set_range_errors),
		cmocka_unit_test(test_hypercall),
		cmocka_unit_test(test_one_page),
		cmocka_unit_test(test_chunk_boundary),
		cmocka_unit_test(test_kind_switch),
		cmocka_unit_test(test_full_spans),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_region_array),
		cmocka_unit_test(test_bitmap),
		cmocka_unit_test(test_bitmap_chunks),
		cmocka_unit_test(test_builder),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_diff_maximal),
		cmocka_unit_test(test_delta_apply),
		cmocka_unit_test(test_clone_equal),
		cmocka_unit_test(test_merge_many_runs),
		cmocka_unit_test(test_huge_guest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
