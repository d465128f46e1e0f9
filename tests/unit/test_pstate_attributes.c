/* SPDX-License-Identifier: MIT */
/*
 * The map in KVM's memory-attribute terms and guest_memfd addressing:
 * the whole-map list and the diff form against a one-byte-per-page model
 * (randomized, seed printed), the memory-fault conversion against the
 * same model, staged changes (every allocation up front, none at commit),
 * and the (guest_memfd, offset) binding of slots both ways.
 *
 * Allocation failures are injected by replacing malloc() for the program,
 * as test_pstate_nomem.c does; under AddressSanitizer, which replaces it
 * itself, those two checks are skipped (the rest runs).
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/pstate.h>

#include "pstate/pstate_impl.h"
#include "pstate/pstate_staged.h"

#include "test_failing_malloc.h"
#ifndef FAILING_MALLOC
#define NO_INJECT 1
#endif

#define SH   SEVMIG_PAGE_SHARED
#define PR   SEVMIG_PAGE_PRIVATE
#define AB   SEVMIG_PAGE_ABSENT
#define PRIV SEVMIG_MEMORY_ATTRIBUTE_PRIVATE
#define PG   ((uint64_t)SEVMIG_PAGE_SIZE)

/* ---- the model: one state per page over [0, N) ------------------------------------ */

#define N (UINT64_C(5) << 16) /* five chunks, so changes cross chunk edges */

struct model {
	uint8_t st[N];
};

static struct model m_prev, m_next;
static struct tu_rng rng;

static void check(const struct sevmig_pstate *ps)
{
	char why[128];
	if (sevmig__pstate_check(ps, why, sizeof(why)))
		fail_msg("broken map: %s", why);
}

static void model_equal(const struct sevmig_pstate *ps, const struct model *m)
{
	check(ps);
	for (uint64_t g = 0; g < N; g++)
		if ((uint8_t)sevmig_pstate_get(ps, g) != m->st[g])
			fail_msg("gfn 0x%llx: map says %d, model %d", (unsigned long long)g,
				 (int)sevmig_pstate_get(ps, g), m->st[g]);
}

/* Random slots (some touching), random shared runs, some bitmap-dense. */
static struct sevmig_pstate *random_map(struct model *m)
{
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	memset(m->st, AB, sizeof(m->st));
	uint64_t g = tu_below(&rng, 3) * 100;
	while (g < N) {
		uint64_t len = 1 + tu_below(&rng, tu_below(&rng, 4) ? 40000 : 300);
		if (len > N - g)
			len = N - g;
		assert_int_equal(sevmig_pstate_add_slot(ps, g, len), 0);
		memset(&m->st[g], PR, len);
		g += len + (tu_below(&rng, 3) ? 0 : 1 + tu_below(&rng, 5000));
	}
	for (int i = 0, n = (int)tu_below(&rng, 60); i < n; i++) {
		uint64_t a = tu_below(&rng, N),
			 len = 1 + tu_below(&rng, tu_below(&rng, 2) ? 20 : 9000);
		for (uint64_t p = a; p < a + len && p < N; p++)
			if (m->st[p] != AB)
				m->st[p] = SH;
	}
	if (tu_below(&rng, 2)) { /* a dense chunk: a BITMAP container */
		uint64_t base = tu_below(&rng, N / 65536) * 65536;
		for (int i = 0; i < 3000; i++) {
			uint64_t p = base + tu_below(&rng, 65536);
			if (m->st[p] != AB)
				m->st[p] = tu_below(&rng, 2) ? SH : PR;
		}
	}
	for (uint64_t p = 0; p < N;) {
		if (m->st[p] != SH) {
			p++;
			continue;
		}
		uint64_t e = p;
		while (e < N && m->st[e] == SH)
			e++;
		assert_int_equal(sevmig_pstate_set_range(ps, p, e - p, SH), 0);
		p = e;
	}
	model_equal(ps, m);
	return ps;
}

/* next: prev with pages flipped, slots dropped and slots added. */
static struct sevmig_pstate *derive(const struct sevmig_pstate *prev, const struct model *mp,
				    struct model *mn)
{
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_clone(prev, &ps, NULL), 0);
	*mn = *mp;
	size_t ns = sevmig_pstate_slot_count(ps);
	if (ns > 1 && tu_below(&rng, 2)) {
		struct sevmig_range s;
		assert_int_equal(sevmig_pstate_slot(ps, tu_below(&rng, ns), &s), 0);
		assert_int_equal(sevmig_pstate_remove_slot(ps, s.gfn, s.npages), 0);
		memset(&mn->st[s.gfn], AB, s.npages);
	}
	for (int i = 0, n = (int)tu_below(&rng, 40); i < n; i++) {
		uint64_t a = tu_below(&rng, N), len = 1 + tu_below(&rng, 500);
		enum sevmig_page_state st = tu_below(&rng, 2) ? SH : PR;
		for (uint64_t p = a; p < a + len && p < N; p++) {
			if (mn->st[p] == AB)
				continue;
			mn->st[p] = (uint8_t)st;
			assert_int_equal(sevmig_pstate_set_range(ps, p, 1, st), 0);
		}
	}
	/* a new slot in a gap, if there is one */
	for (uint64_t p = tu_below(&rng, N); p < N; p++) {
		if (mn->st[p] != AB || mp->st[p] != AB)
			continue;
		uint64_t e = p;
		while (e < N && e < p + 700 && mn->st[e] == AB)
			e++;
		assert_int_equal(sevmig_pstate_add_slot(ps, p, e - p), 0);
		memset(&mn->st[p], PR, e - p);
		break;
	}
	model_equal(ps, mn);
	return ps;
}

/* The ranges the model says, in the library's form. */
static size_t model_attributes(const struct model *prev, const struct model *next,
			       struct sevmig_memory_attributes *out, size_t cap)
{
	size_t n = 0;
	for (uint64_t g = 0; g < N; g++) {
		uint8_t b = next->st[g], a = prev ? prev->st[g] : AB;
		if (b == AB || (a != AB && a == b))
			continue;
		uint64_t attr = b == PR ? PRIV : 0;
		if (n && out[n - 1].address + out[n - 1].size == g * PG &&
		    out[n - 1].attributes == attr) {
			out[n - 1].size += PG;
			continue;
		}
		assert_true(n < cap);
		out[n++] = (struct sevmig_memory_attributes){ g * PG, PG, attr, 0 };
	}
	return n;
}

#define CAP 200000
static struct sevmig_memory_attributes got[CAP], exp_list[CAP];

static void compare_lists(const struct sevmig_pstate *prev, const struct model *mp,
			  const struct sevmig_pstate *next, const struct model *mn)
{
	size_t nw = model_attributes(mp, mn, exp_list, CAP), ng = 0;
	assert_int_equal(sevmig_pstate_to_memory_attributes(prev, next, got, CAP, &ng), 0);
	if (ng != nw)
		fail_msg("%zu ranges, the model has %zu", ng, nw);
	for (size_t i = 0; i < nw; i++)
		if (memcmp(&got[i], &exp_list[i], sizeof(got[i])))
			fail_msg(
			    "range %zu: 0x%llx + 0x%llx attr 0x%llx, model 0x%llx + 0x%llx attr "
			    "0x%llx",
			    i, (unsigned long long)got[i].address, (unsigned long long)got[i].size,
			    (unsigned long long)got[i].attributes,
			    (unsigned long long)exp_list[i].address,
			    (unsigned long long)exp_list[i].size,
			    (unsigned long long)exp_list[i].attributes);
	/* asking for the size, and a short buffer */
	size_t n0 = 7;
	int rc = sevmig_pstate_to_memory_attributes(prev, next, NULL, 0, &n0);
	assert_int_equal(rc, nw ? -ENOSPC : 0);
	assert_int_equal(n0, nw);
	if (nw > 1) {
		struct sevmig_memory_attributes two[2];
		assert_int_equal(sevmig_pstate_to_memory_attributes(prev, next, two, 1, &n0),
				 -ENOSPC);
		assert_memory_equal(&two[0], &exp_list[0], sizeof(two[0]));
	}
}

static void test_attributes_random(void **state)
{
	(void)state;
	for (int round = 0; round < 40; round++) {
		struct sevmig_pstate *prev = random_map(&m_prev);
		struct sevmig_pstate *next = derive(prev, &m_prev, &m_next);
		compare_lists(NULL, NULL, next, &m_next); /* the whole map */
		compare_lists(prev, &m_prev, next, &m_next);
		compare_lists(next, &m_next, prev, &m_prev);
		/* a map against itself: nothing to change */
		size_t n = 9;
		assert_int_equal(sevmig_pstate_to_memory_attributes(next, next, got, CAP, &n), 0);
		assert_int_equal(n, 0);
		sevmig_pstate_free(prev);
		sevmig_pstate_free(next);
	}
}

static int stop_second(void *arg, const struct sevmig_memory_attributes *r)
{
	(void)r;
	return ++*(int *)arg == 2 ? 42 : 0;
}

static void test_attributes_small(void **state)
{
	(void)state;
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	/* two touching slots and one apart: the list joins the first two */
	assert_int_equal(sevmig_pstate_add_slot(ps, 0x100, 0x100), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, 0x200, 0x100), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, 0x400, 0x10), 0);
	assert_int_equal(sevmig_pstate_set_range(ps, 0x180, 0x100, SH), 0);
	struct sevmig_memory_attributes r[8];
	size_t n;
	assert_int_equal(sevmig_pstate_to_memory_attributes(NULL, ps, r, 8, &n), 0);
	assert_int_equal(n, 4);
	const struct sevmig_memory_attributes exp[] = {
		{ 0x100000, 0x80000, PRIV, 0 },
		{ 0x180000, 0x100000, 0, 0 },
		{ 0x280000, 0x80000, PRIV, 0 },
		{ 0x400000, 0x10000, PRIV, 0 },
	};
	assert_memory_equal(r, exp, sizeof(exp));
	/* the struct is KVM's struct kvm_memory_attributes, field by field */
	assert_int_equal(sizeof(struct sevmig_memory_attributes), 32);
	assert_int_equal(offsetof(struct sevmig_memory_attributes, attributes), 16);
	assert_int_equal(PRIV, 8);
	/* diff: a slot that turned private beside a new slot, private too:
	 * one range, whatever each side's previous state */
	struct sevmig_pstate *prev, *next;
	assert_int_equal(sevmig_pstate_new(&prev, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(prev, 0x100, 0x100), 0);
	assert_int_equal(sevmig_pstate_set_range(prev, 0x100, 0x100, SH), 0);
	assert_int_equal(sevmig_pstate_clone(prev, &next, NULL), 0);
	assert_int_equal(sevmig_pstate_set_range(next, 0x100, 0x100, PR), 0);
	assert_int_equal(sevmig_pstate_add_slot(next, 0x200, 0x100), 0);
	assert_int_equal(sevmig_pstate_to_memory_attributes(prev, next, r, 8, &n), 0);
	assert_int_equal(n, 1);
	const struct sevmig_memory_attributes joined = { 0x100000, 0x200000, PRIV, 0 };
	assert_memory_equal(&r[0], &joined, sizeof(joined));
	/* and the other way: the pages only prev covers are left out */
	assert_int_equal(sevmig_pstate_to_memory_attributes(next, prev, r, 8, &n), 0);
	assert_int_equal(n, 1);
	const struct sevmig_memory_attributes back = { 0x100000, 0x100000, 0, 0 };
	assert_memory_equal(&r[0], &back, sizeof(back));
	sevmig_pstate_free(prev);
	sevmig_pstate_free(next);
	/* the walk stops where the callback says */
	int calls = 0;
	assert_int_equal(sevmig_pstate_walk_memory_attributes(NULL, ps, stop_second, &calls), 42);
	assert_int_equal(calls, 2);
	assert_int_equal(sevmig_pstate_walk_memory_attributes(NULL, NULL, stop_second, &calls),
			 -EINVAL);
	assert_int_equal(sevmig_pstate_to_memory_attributes(NULL, ps, NULL, 1, &n), -EINVAL);
	sevmig_pstate_free(ps);
}

/* ---- memory faults --------------------------------------------------------------------- */

static void test_memory_fault(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = random_map(&m_prev);
	for (int i = 0; i < 3000; i++) {
		uint64_t flags = tu_below(&rng, 2) ? SEVMIG_MEMORY_EXIT_FLAG_PRIVATE : 0;
		if (!tu_below(&rng, 50))
			flags |= UINT64_C(1) << tu_below(&rng, 64);
		uint64_t gpa = tu_below(&rng, N * PG),
			 size = tu_below(&rng, 3) ? PG : tu_below(&rng, 9000);
		if (!tu_below(&rng, 4))
			gpa &= ~(PG - 1);
		struct sevmig_memory_fault out = { .sz = sizeof(out) };
		struct sevmig_pstate *before;
		assert_int_equal(sevmig_pstate_clone(ps, &before, NULL), 0);
		int rc = sevmig_pstate_memory_fault(ps, flags, gpa, size, &out);

		/* the model's answer */
		int want_rc = 0;
		uint64_t first = gpa / PG, last = size ? (gpa + size - 1) / PG : first;
		enum sevmig_page_state to = flags & SEVMIG_MEMORY_EXIT_FLAG_PRIVATE ? PR : SH;
		uint64_t changed = 0;
		if (!size || (flags & ~SEVMIG_MEMORY_EXIT_FLAG_PRIVATE))
			want_rc = -EINVAL;
		for (uint64_t p = first; !want_rc && p <= last; p++) {
			if (p >= N || m_prev.st[p] == AB)
				want_rc = -ERANGE;
			else
				changed += m_prev.st[p] != to;
		}
		assert_int_equal(rc, want_rc);
		assert_int_equal(out.sz, sizeof(out));
		assert_int_equal(out.gfn, first);
		assert_int_equal(out.state, to);
		if (rc) {
			assert_int_equal(out.changed, 0);
			assert_true(sevmig_pstate_equal(ps, before));
		} else {
			assert_int_equal(out.npages, last - first + 1);
			assert_int_equal(out.changed, changed);
			assert_int_equal(out.range.address, first * PG);
			assert_int_equal(out.range.size, (last - first + 1) * PG);
			assert_int_equal(out.range.attributes, to == PR ? PRIV : 0);
			assert_int_equal(out.range.flags, 0);
			memset(&m_prev.st[first], to, last - first + 1);
		}
		sevmig_pstate_free(before);
	}
	model_equal(ps, &m_prev);

	/* edges: wrap, the 52-bit limit, a caller's older (smaller) struct */
	struct sevmig_memory_fault out = { .sz = sizeof(out) };
	assert_int_equal(sevmig_pstate_memory_fault(ps, 0, UINT64_MAX - PG + 1, 2 * PG, &out),
			 -EINVAL);
	assert_int_equal(sevmig_pstate_memory_fault(ps, 0, SEVMIG_GFN_LIMIT * PG, PG, &out),
			 -EINVAL);
	assert_int_equal(sevmig_pstate_memory_fault(NULL, 0, 0, PG, &out), -EINVAL);
	struct {
		size_t sz;
		uint64_t gfn;
		uint64_t canary;
	} old = { offsetof(struct sevmig_memory_fault, npages), 0, 0x5a5a };
	uint64_t g = 0;
	while (m_prev.st[g] == AB)
		g++;
	assert_int_equal(sevmig_pstate_memory_fault(ps, 0, g * PG, PG,
						    (struct sevmig_memory_fault *)(void *)&old),
			 0);
	assert_int_equal(old.gfn, g);
	assert_int_equal(old.canary, 0x5a5a);
	assert_int_equal(sevmig_pstate_get(ps, g), SH);
	sevmig_pstate_free(ps);
}

/* ---- staged changes ---------------------------------------------------------------------- */

static void test_staged(void **state)
{
	(void)state;
	for (int i = 0; i < 150; i++) {
		struct sevmig_pstate *ps = random_map(&m_prev), *want;
		assert_int_equal(sevmig_pstate_clone(ps, &want, NULL), 0);
		bool remove = !tu_below(&rng, 4);
		uint64_t gfn, npages;
		enum sevmig_page_state st = remove || tu_below(&rng, 2) ? PR : SH;
		int want_rc = 0;
		if (remove) {
			struct sevmig_range s;
			assert_int_equal(sevmig_pstate_slot(
					     ps, tu_below(&rng, sevmig_pstate_slot_count(ps)), &s),
					 0);
			gfn = s.gfn;
			npages = s.npages;
			if (tu_below(&rng, 5)) {
				assert_int_equal(sevmig_pstate_remove_slot(want, gfn, npages), 0);
			} else {
				npages += 1; /* not a slot */
				want_rc = -ENOENT;
			}
		} else {
			gfn = tu_below(&rng, N);
			npages = 1 + tu_below(&rng, tu_below(&rng, 2) ? 10 : 150000);
			int rc = sevmig_pstate_set_range(want, gfn, npages, st);
			want_rc = rc;
		}
		struct sevmig__staged *sg = NULL;
		int rc = sevmig__pstate_stage(ps, gfn, npages, st, remove, &sg);
		assert_int_equal(rc, want_rc);
		if (rc) {
			assert_null(sg);
		} else if (tu_below(&rng, 4)) {
			sevmig__pstate_abort(sg);
			model_equal(ps, &m_prev); /* untouched */
		} else {
#ifndef NO_INJECT
			fail_at = -2; /* committing must not allocate */
#endif
			sevmig__pstate_commit(sg);
#ifndef NO_INJECT
			fail_at = -1;
#endif
			check(ps);
			assert_true(sevmig_pstate_equal(ps, want));
			assert_int_equal(sevmig_pstate_slot_count(ps),
					 sevmig_pstate_slot_count(want));
		}
		sevmig_pstate_free(want);
		sevmig_pstate_free(ps);
	}
}

/* Every allocation of staging failing in turn: -ENOMEM, the map as it
 * was, nothing leaked. */
static void test_staged_nomem(void **state)
{
	(void)state;
#ifdef NO_INJECT
	puts("allocation failures not injected under AddressSanitizer");
#else
	struct sevmig_pstate *ps = random_map(&m_prev), *base;
	assert_int_equal(sevmig_pstate_clone(ps, &base, NULL), 0);
	/* the largest slot, all shared: it touches several chunks */
	struct sevmig_range s = { 0, 0 };
	for (size_t i = 0; i < sevmig_pstate_slot_count(ps); i++) {
		struct sevmig_range t;
		assert_int_equal(sevmig_pstate_slot(ps, i, &t), 0);
		if (t.npages > s.npages)
			s = t;
	}
	long failures = 0;
	for (long n = 0;; n++) {
		struct sevmig__staged *sg = NULL;
		long before = live;
		fail_at = n;
		nalloc = 0;
		int rc = sevmig__pstate_stage(ps, s.gfn, s.npages, SH, false, &sg);
		fail_at = -1;
		if (!rc) {
			sevmig__pstate_commit(sg);
			break;
		}
		assert_int_equal(rc, -ENOMEM);
		assert_int_equal(live, before);
		assert_true(sevmig_pstate_equal(ps, base));
		failures++;
	}
	assert_true(failures > 0);
	sevmig_pstate_free(base);
	sevmig_pstate_free(ps);
#endif
}

/* ---- guest_memfd --------------------------------------------------------------------- */

static void test_gmem(void **state)
{
	(void)state;
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	/* low memory and high memory in one guest_memfd, one slot apart */
	assert_int_equal(sevmig_pstate_add_slot(ps, 0, 0xc0000), 0);	    /* 3 GiB */
	assert_int_equal(sevmig_pstate_add_slot(ps, 0x100000, 0x40000), 0); /* 1 GiB at 4 GiB */
	assert_int_equal(sevmig_pstate_add_slot(ps, 0x200000, 0x10), 0);
	assert_int_equal(sevmig_pstate_bind_gmem(ps, 0, 0xc0000, 7, 0), 0);
	assert_int_equal(sevmig_pstate_bind_gmem(ps, 0x100000, 0x40000, 7, 0xc0000 * PG), 0);
	/* refusals */
	assert_int_equal(sevmig_pstate_bind_gmem(ps, 0, 0xc0000, 7, 0), -EEXIST);
	assert_int_equal(sevmig_pstate_bind_gmem(ps, 0x200000, 0x10, 7, 0xc0000 * PG + 5 * PG),
			 -EEXIST); /* inside high memory's range of fd 7 */
	assert_int_equal(sevmig_pstate_bind_gmem(ps, 0x200000, 0x10, 7, 123), -EINVAL);
	assert_int_equal(sevmig_pstate_bind_gmem(ps, 0x200000, 0x10, -1, 0), -EINVAL);
	assert_int_equal(sevmig_pstate_bind_gmem(ps, 0x200000, 0x10, 7, UINT64_MAX - PG + 1),
			 -EINVAL);
	assert_int_equal(sevmig_pstate_bind_gmem(ps, 0x200000, 0x8, 7, 0), -ENOENT);
	assert_int_equal(sevmig_pstate_bind_gmem(ps, 0x300000, 0x10, 7, 0), -ENOENT);
	/* another file may use the same offsets */
	assert_int_equal(sevmig_pstate_bind_gmem(ps, 0x200000, 0x10, 9, 0), 0);

	/* both ways */
	int fd;
	uint64_t off, gfn;
	assert_int_equal(sevmig_pstate_gfn_to_gmem(ps, 0x100001, &fd, &off), 0);
	assert_int_equal(fd, 7);
	assert_int_equal(off, (0xc0000 + 1) * PG);
	assert_int_equal(sevmig_pstate_gmem_to_gfn(ps, 7, (0xc0000 + 1) * PG + 100, &gfn), 0);
	assert_int_equal(gfn, 0x100001);
	assert_int_equal(sevmig_pstate_gmem_to_gfn(ps, 7, 0xbffff * PG, &gfn), 0);
	assert_int_equal(gfn, 0xbffff);
	assert_int_equal(sevmig_pstate_gmem_to_gfn(ps, 9, 3 * PG, &gfn), 0);
	assert_int_equal(gfn, 0x200003);
	assert_int_equal(sevmig_pstate_gmem_to_gfn(ps, 7, 0x100000 * PG, &gfn), -ENOENT);
	assert_int_equal(sevmig_pstate_gmem_to_gfn(ps, 8, 0, &gfn), -ENOENT);
	assert_int_equal(sevmig_pstate_gfn_to_gmem(ps, 0xc0000, &fd, &off), -ENOENT); /* hole */
	assert_int_equal(sevmig_pstate_set_range(ps, 0x100002, 1, SH), 0);
	assert_int_equal(sevmig_pstate_get_gmem(ps, 7, (0xc0000 + 2) * PG), SH);
	assert_int_equal(sevmig_pstate_get_gmem(ps, 7, (0xc0000 + 3) * PG), PR);
	assert_int_equal(sevmig_pstate_get_gmem(ps, 7, 0x200000 * PG), AB);

	/* clones keep bindings; the serialized form does not carry them */
	struct sevmig_pstate *c;
	assert_int_equal(sevmig_pstate_clone(ps, &c, NULL), 0);
	assert_int_equal(sevmig_pstate_gfn_to_gmem(c, 5, &fd, &off), 0);
	assert_int_equal(off, 5 * PG);
	void *buf;
	size_t len;
	SEVMIG_OPTS(sevmig_pstate_save_opts, so);
	assert_int_equal(sevmig_pstate_serialize(ps, &so, &buf, &len), 0);
	struct sevmig_pstate *d;
	assert_int_equal(sevmig_pstate_deserialize(buf, len, &d, NULL), 0);
	free(buf);
	assert_int_equal(sevmig_pstate_gfn_to_gmem(d, 5, &fd, &off), -ENOENT);
	/* a merge keeps a binding of a slot it leaves unchanged, drops one of a
	 * slot it grows */
	struct sevmig_pstate *grow, *mg;
	assert_int_equal(sevmig_pstate_new(&grow, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(grow, 0x200008, 0x10), 0);
	assert_int_equal(sevmig_pstate_merge(ps, grow, SEVMIG_MERGE_UNION, &mg), 0);
	assert_int_equal(sevmig_pstate_gfn_to_gmem(mg, 5, &fd, &off), 0);
	assert_int_equal(sevmig_pstate_gfn_to_gmem(mg, 0x200001, &fd, &off), -ENOENT);
	sevmig_pstate_free(mg);
	sevmig_pstate_free(grow);
	sevmig_pstate_free(d);
	sevmig_pstate_free(c);

	/* a removed slot takes its binding along: added again, it is unbound */
	assert_int_equal(sevmig_pstate_remove_slot(ps, 0x100000, 0x40000), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, 0x100000, 0x40000), 0);
	assert_int_equal(sevmig_pstate_gfn_to_gmem(ps, 0x100001, &fd, &off), -ENOENT);
	assert_int_equal(sevmig_pstate_gmem_to_gfn(ps, 7, (0xc0000 + 1) * PG, &gfn), -ENOENT);
	/* unbinding frees the file range for another slot */
	assert_int_equal(sevmig_pstate_unbind_gmem(ps, 0x100000, 0x40000), -ENOENT);
	assert_int_equal(sevmig_pstate_unbind_gmem(ps, 0, 0xc0000), 0);
	assert_int_equal(sevmig_pstate_bind_gmem(ps, 0x100000, 0x40000, 7, 0), 0);
	assert_int_equal(sevmig_pstate_gmem_to_gfn(ps, 7, 0, &gfn), 0);
	assert_int_equal(gfn, 0x100000);
	sevmig_pstate_free(ps);
}

int main(void)
{
	rng.s = tu_seed("test_pstate_attributes");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attributes_small), cmocka_unit_test(test_attributes_random),
		cmocka_unit_test(test_memory_fault),	 cmocka_unit_test(test_staged),
		cmocka_unit_test(test_staged_nomem),	 cmocka_unit_test(test_gmem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
