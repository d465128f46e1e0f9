/* SPDX-License-Identifier: MIT */
/*
 * Allocation failures: every operation of the page-state map is run with
 * its first, second, third... allocation failing until it succeeds. Each
 * failed attempt must return -ENOMEM, leave the map exactly as it was (and
 * its invariants intact), and leak nothing.
 *
 * The test replaces malloc() for the whole program (glibc's allocator stays
 * underneath through __libc_malloc()), so it cannot run under
 * AddressSanitizer, which replaces malloc() itself: there it is skipped.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/pstate.h>

#include "pstate/pstate_impl.h"

#include "test_failing_malloc.h"
#ifndef FAILING_MALLOC
#define SKIP_ALL 1
#endif

#define CH 65536u
#define SH SEVMIG_PAGE_SHARED
#define PR SEVMIG_PAGE_PRIVATE

static void check(const struct sevmig_pstate *ps)
{
	char why[128];
	if (sevmig__pstate_check(ps, why, sizeof(why))) {
		fprintf(stderr, "broken map: %s\n", why);
		fail();
	}
}

/* A map with every kind of content: full spans, run and bitmap chunks. */
static struct sevmig_pstate *sample(void)
{
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, 0, 40 * CH), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, 50 * CH, 10 * CH), 0);
	assert_int_equal(sevmig_pstate_set_range(ps, 3 * CH + 7, 10 * CH, SH), 0);
	for (uint32_t i = 0; i < 300; i++)
		assert_int_equal(sevmig_pstate_set_range(ps, 20 * CH + 3 * i, 1, SH), 0);
	for (uint32_t i = 0; i < 40; i++)
		assert_int_equal(sevmig_pstate_set_range(ps, 22 * CH + 5 * i, 2, SH), 0);
	assert_int_equal(sevmig_pstate_set_range(ps, 52 * CH, 5, SH), 0);
	check(ps);
	return ps;
}

typedef int (*mutator)(struct sevmig_pstate *ps, const void *arg);

/*
 * Run op on copies of `base` failing allocation 0, 1, 2, ... until it
 * succeeds; then it must give the same map as an unhindered run. Returns
 * the number of failed attempts (0: the operation did not allocate).
 */
static long exhaust(const struct sevmig_pstate *base, mutator op, const void *arg)
{
#ifdef SKIP_ALL
	(void)base;
	(void)op;
	(void)arg;
	return 0;
#else
	struct sevmig_pstate *want;
	assert_int_equal(sevmig_pstate_clone(base, &want, NULL), 0);
	assert_int_equal(op(want, arg), 0);
	long failures = 0;
	for (long n = 0;; n++) {
		struct sevmig_pstate *work;
		assert_int_equal(sevmig_pstate_clone(base, &work, NULL), 0);
		long before = live;
		fail_at = n;
		nalloc = 0;
		int rc = op(work, arg);
		fail_at = -1;
		check(work);
		if (rc == 0) {
			assert_true(sevmig_pstate_equal(work, want));
			sevmig_pstate_free(work);
			break;
		}
		assert_int_equal(rc, -ENOMEM);
		assert_int_equal(live, before);
		assert_true(sevmig_pstate_equal(work, base));
		sevmig_pstate_free(work);
		assert_true(n < 100000);
		failures++;
	}
	sevmig_pstate_free(want);
	return failures;
#endif
}

#ifdef SKIP_ALL
#define ALLOCATES(x) (void)(x)
#else
#define ALLOCATES(x) assert_true((x) > 0)
#endif

static int op_set(struct sevmig_pstate *ps, const void *arg)
{
	const uint64_t *a = arg;
	return sevmig_pstate_set_range(ps, a[0], a[1], (enum sevmig_page_state)a[2]);
}

static void test_set_range(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = sample();
	/* gfn, pages, state, whether it must allocate */
	const uint64_t cases[][4] = {
		{ 5 * CH + 3, 1, PR, 1 },	/* splits a full span */
		{ 2 * CH + 9, 4 * CH, PR, 1 },	/* cuts chunks on both ends */
		{ 25 * CH + 1, 6 * CH, SH, 1 }, /* new chunks and a span */
		{ 30 * CH + 5, 1, SH, 1 },	/* a new chunk */
		{ 20 * CH + 1, 1, SH, 0 },	/* a bitmap in place */
		{ 22 * CH + 3, 1, SH, 0 },	/* a run container, in place */
		{ 20 * CH, 2 * CH + 7, SH, 1 }, /* bitmaps become full */
		{ 52 * CH + 2, 1, PR, 0 },	/* splits a run, in place */
		{ 52 * CH + 2, 1, PR, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long f = exhaust(ps, op_set, cases[i]);
		if (cases[i][3])
			ALLOCATES(f);
	}
	/* a run container over its limit becomes a bitmap */
	struct sevmig_pstate *r;
	assert_int_equal(sevmig_pstate_new(&r, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(r, 0, CH), 0);
	for (uint32_t i = 0; i < SEVMIG__RUN_MAX; i++)
		assert_int_equal(sevmig_pstate_set_range(r, 2 * i, 1, SH), 0);
	const uint64_t more[3] = { 1000, 1, SH };
	ALLOCATES(exhaust(r, op_set, more));
	sevmig_pstate_free(r);
	sevmig_pstate_free(ps);
}

static int op_hypercall(struct sevmig_pstate *ps, const void *arg)
{
	(void)arg;
	return sevmig_pstate_apply_hypercall(ps, (33ull * CH + 17) << 12, 3 * CH, false);
}

static int op_list(struct sevmig_pstate *ps, const void *arg)
{
	(void)arg;
	struct sevmig_range r[400];
	for (uint32_t i = 0; i < 400; i++)
		r[i] = (struct sevmig_range){ 10 * CH + 7 * i, 2 };
	r[399] = (struct sevmig_range){ 12 * CH, 5 * CH };
	return sevmig_pstate_set_from_list(ps, r, 400, NULL);
}

static int op_regions(struct sevmig_pstate *ps, const void *arg)
{
	(void)arg;
	uint8_t b[32] = { 0 };
	b[2] = 1; /* [0x10000, 0x30007) */
	b[8] = 7;
	b[10] = 3;
	b[18] = 0x33; /* [0x330000, 0x340000) */
	b[26] = 0x34;
	return sevmig_pstate_set_from_region_array(ps, b, sizeof(b), NULL);
}

static int op_bitmap(struct sevmig_pstate *ps, const void *arg)
{
	(void)arg;
	static uint8_t bm[(5 * CH + 3 + 7) / 8];
	size_t len = sizeof(bm);
	for (size_t i = 0; i < len; i++)
		bm[i] = (uint8_t)(i % 3 ? 0xff : 0x5a);
	memset(bm + 8192, 0, 8192);
	return sevmig_pstate_set_from_bitmap(ps, 19 * CH + 11, 5 * CH + 3, bm, len);
}

static int op_reset(struct sevmig_pstate *ps, const void *arg)
{
	(void)arg;
	const struct sevmig_range keep[] = { { 20 * CH + 100, 2 * CH }, { 4 * CH, 3 } };
	return sevmig_pstate_reset(ps, keep, 2);
}

static int op_apply(struct sevmig_pstate *ps, const void *arg)
{
	return sevmig_pstate_apply(ps, arg);
}

static int op_remove(struct sevmig_pstate *ps, const void *arg)
{
	(void)arg;
	return sevmig_pstate_remove_slot(ps, 0, 40 * CH);
}

static int op_add(struct sevmig_pstate *ps, const void *arg)
{
	(void)arg;
	int rc = 0;
	for (uint64_t i = 0; i < 6 && !rc; i++)
		rc = sevmig_pstate_add_slot(ps, 100 * CH + 10 * i, 5);
	if (rc) { /* all or nothing, for the comparison with the base map */
		for (uint64_t i = 0; i < 6; i++) {
			int r = sevmig_pstate_remove_slot(ps, 100 * CH + 10 * i, 5);
			assert_true(r == 0 || r == -ENOENT);
		}
	}
	return rc;
}

static void test_updates(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = sample(), *other, *d;
	ALLOCATES(exhaust(ps, op_hypercall, NULL));
	ALLOCATES(exhaust(ps, op_list, NULL));
	ALLOCATES(exhaust(ps, op_regions, NULL));
	ALLOCATES(exhaust(ps, op_bitmap, NULL));
	ALLOCATES(exhaust(ps, op_reset, NULL));
	ALLOCATES(exhaust(ps, op_remove, NULL));
	ALLOCATES(exhaust(ps, op_add, NULL));
	assert_int_equal(sevmig_pstate_clone(ps, &other, NULL), 0);
	assert_int_equal(sevmig_pstate_set_range(other, 4 * CH, 20 * CH, PR), 0);
	assert_int_equal(sevmig_pstate_set_range(other, 54 * CH + 1, 2 * CH, SH), 0);
	assert_int_equal(sevmig_pstate_delta(ps, other, &d), 0);
	ALLOCATES(exhaust(ps, op_apply, d));
	sevmig_pstate_free(d);
	sevmig_pstate_free(other);
	sevmig_pstate_free(ps);
}

/* Functions that make a new map: on failure no map and no leak. */
static void test_constructors(void **state)
{
	(void)state;
#ifndef SKIP_ALL
	struct sevmig_pstate *a = sample(), *b;
	assert_int_equal(sevmig_pstate_clone(a, &b, NULL), 0);
	assert_int_equal(sevmig_pstate_set_range(b, 4 * CH, 20 * CH, PR), 0);
	assert_int_equal(sevmig_pstate_remove_slot(b, 50 * CH, 10 * CH), 0);
	assert_int_equal(sevmig_pstate_add_slot(b, 45 * CH, 10 * CH), 0);
	assert_int_equal(sevmig_pstate_set_range(b, 45 * CH, 10 * CH, SH), 0);
	for (int which = 0; which < 6; which++) {
		for (long n = 0;; n++) {
			struct sevmig_pstate *out = NULL;
			long before = live;
			fail_at = n;
			nalloc = 0;
			int rc;
			if (which < 3)
				rc = sevmig_pstate_merge(a, b, (enum sevmig_merge_op)which, &out);
			else if (which == 3)
				rc = sevmig_pstate_delta(a, b, &out);
			else if (which == 4)
				rc = sevmig_pstate_clone(a, &out, NULL);
			else
				rc = sevmig_pstate_new(&out, NULL);
			fail_at = -1;
			if (!rc) {
				check(out);
				sevmig_pstate_free(out);
				break;
			}
			assert_int_equal(rc, -ENOMEM);
			assert_int_equal(live, before);
		}
	}
	/* reading never allocates */
	fail_at = 0;
	nalloc = 0;
	bool eq = sevmig_pstate_equal(a, b);
	struct sevmig_pstate_stats st;
	sevmig_pstate_stats(a, &st);
	fail_at = -1;
	assert_false(eq);
	assert_int_equal(nalloc, 0);
	sevmig_pstate_free(a);
	sevmig_pstate_free(b);
#endif
}

/* Reading the binary form, every encoding, raw and compressed: on failure
 * no map and no leak. */
static void test_deserialize(void **state)
{
	(void)state;
#ifndef SKIP_ALL
	struct sevmig_pstate *maps[4];
	/* the flags each is written with, raw and at zstd level 3 (1.9) */
	static const unsigned want[8] = { 2, 4, 2, 6, 1, 5, 0, 0 };
	maps[0] = sample(); /* too many runs to list raw: CONTAINERS; RUNS zstd */
	/* CONTAINERS: every third page shared, BITMAP containers, and RUN
	 * containers of a long run */
	assert_int_equal(sevmig_pstate_new(&maps[1], NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(maps[1], 0, 3 * CH + 3), 0);
	assert_int_equal(sevmig_pstate_add_slot(maps[1], 5 * CH, 2 * CH), 0);
	for (uint64_t g = 0; g < 3 * CH + 3; g += 3)
		assert_int_equal(sevmig_pstate_set_range(maps[1], g, 1, SH), 0);
	assert_int_equal(sevmig_pstate_set_range(maps[1], 5 * CH + 100, CH, SH), 0);
	/* BITMAP: every third page, over slots of whole chunks or nearly; the
	 * second slot's bits start inside a byte */
	assert_int_equal(sevmig_pstate_new(&maps[2], NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(maps[2], 0, 2 * CH - 3997), 0);
	assert_int_equal(sevmig_pstate_add_slot(maps[2], 3 * CH, 5), 0);
	for (uint64_t g = 0; g < 2 * CH - 3997; g += 3)
		assert_int_equal(sevmig_pstate_set_range(maps[2], g, 1, SH), 0);
	assert_int_equal(sevmig_pstate_set_range(maps[2], 3 * CH + 1, 1, SH), 0);
	/* RUNS: a few runs */
	assert_int_equal(sevmig_pstate_new(&maps[3], NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(maps[3], 0, 4 * CH), 0);
	for (uint64_t g = 0; g < 20; g++)
		assert_int_equal(sevmig_pstate_set_range(maps[3], g * 1000 + 7, 1 + g, SH), 0);
	for (int i = 0; i < 8; i++) {
		SEVMIG_OPTS(sevmig_pstate_save_opts, o, .zstd_level = i & 1 ? 3 : 0);
		void *buf;
		size_t len;
		assert_int_equal(sevmig_pstate_serialize(maps[i / 2], &o, &buf, &len), 0);
		assert_int_equal(((uint8_t *)buf)[10], want[i]);
		long n = 0;
		for (;; n++) {
			struct sevmig_pstate *out = NULL;
			long before = live;
			fail_at = n;
			nalloc = 0;
			int rc = sevmig_pstate_deserialize(buf, len, &out, NULL);
			fail_at = -1;
			if (!rc) {
				check(out);
				assert_true(sevmig_pstate_equal(out, maps[i / 2]));
				sevmig_pstate_free(out);
				break;
			}
			assert_int_equal(rc, -ENOMEM);
			assert_null(out);
			assert_int_equal(live, before);
		}
		assert_true(n > 2);
		free(buf);
	}
	sevmig_pstate_free(maps[0]);
	sevmig_pstate_free(maps[1]);
	sevmig_pstate_free(maps[2]);
	sevmig_pstate_free(maps[3]);
#endif
}

int main(void)
{
#ifdef SKIP_ALL
	fprintf(stderr, "test_pstate_nomem: replaces malloc(), not possible under ASan: skipped\n");
	return 77;
#endif
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_range),
		cmocka_unit_test(test_updates),
		cmocka_unit_test(test_constructors),
		cmocka_unit_test(test_deserialize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
