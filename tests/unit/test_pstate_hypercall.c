/* SPDX-License-Identifier: MIT */
/* KVM_HC_MAP_GPA_RANGE's rule set (sevmig_pstate_map_gpa_range): each rule
 * alone, the partial output struct, and random requests against a per-page
 * model of the rules. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/pstate.h>

/* 2 GiB at gfn 0 (two 1 GiB pages) and 4 MiB at 8 GiB. */
#define S0	 0x0u
#define S0_N	 (512u * 1024)
#define S1	 0x200000u
#define S1_N	 1024u
#define GPA(gfn) ((uint64_t)(gfn) << 12)
#define SZ_2M	 SEVMIG_MAP_GPA_RANGE_PAGE_SZ_2M
#define SZ_1G	 SEVMIG_MAP_GPA_RANGE_PAGE_SZ_1G
#define ENC	 SEVMIG_MAP_GPA_RANGE_ENCRYPTED

static struct sevmig_pstate *new_map(void)
{
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, S0, S0_N), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, S1, S1_N), 0);
	return ps;
}

/* One request; its return value, *out filled in full. */
static int call(struct sevmig_pstate *ps, uint64_t a0, uint64_t a1, uint64_t a2,
		struct sevmig_map_gpa_range *out)
{
	memset(out, 0xa5, sizeof(*out));
	out->sz = sizeof(*out);
	return sevmig_pstate_map_gpa_range(ps, a0, a1, a2, out);
}

/* A refusal with rc and guest_ret, the map unchanged. */
static void refused(struct sevmig_pstate *ps, uint64_t a0, uint64_t a1, uint64_t a2, int rc,
		    uint64_t ret)
{
	struct sevmig_pstate *before;
	assert_int_equal(sevmig_pstate_clone(ps, &before, NULL), 0);
	struct sevmig_map_gpa_range r;
	int got = call(ps, a0, a1, a2, &r);
	if (got != rc || r.guest_ret != ret)
		fail_msg("a0 0x%llx a1 0x%llx a2 0x%llx: %d, ret 0x%llx (want %d, 0x%llx)",
			 (unsigned long long)a0, (unsigned long long)a1, (unsigned long long)a2,
			 got, (unsigned long long)r.guest_ret, rc, (unsigned long long)ret);
	assert_true(sevmig_pstate_equal(ps, before));
	sevmig_pstate_free(before);
}

static void test_rules(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = new_map();
	struct sevmig_map_gpa_range r;
	const uint64_t einval = SEVMIG_MAP_GPA_RANGE_RET_EINVAL;
	const uint64_t efault = SEVMIG_MAP_GPA_RANGE_RET_EFAULT;

	/* 4 KiB pages: any page-aligned range */
	assert_int_equal(call(ps, GPA(7), 3, 0, &r), 0);
	assert_int_equal(r.gfn, 7);
	assert_int_equal(r.npages, 3);
	assert_int_equal(r.state, SEVMIG_PAGE_SHARED);
	assert_int_equal(r.page_size, 4096);
	assert_int_equal(r.guest_ret, 0);
	assert_int_equal(sevmig_pstate_get(ps, 9), SEVMIG_PAGE_SHARED);
	assert_int_equal(sevmig_pstate_get(ps, 10), SEVMIG_PAGE_PRIVATE);

	/* 2 MiB pages: whole ones, and the state of every page in them */
	assert_int_equal(call(ps, GPA(1024), 1024, SZ_2M, &r), 0);
	assert_int_equal(r.page_size, 2u << 20);
	assert_int_equal(sevmig_pstate_get(ps, 1024), SEVMIG_PAGE_SHARED);
	assert_int_equal(sevmig_pstate_get(ps, 2047), SEVMIG_PAGE_SHARED);
	assert_int_equal(sevmig_pstate_get(ps, 2048), SEVMIG_PAGE_PRIVATE);
	assert_int_equal(call(ps, GPA(1536), 512, SZ_2M | ENC, &r), 0);
	assert_int_equal(r.state, SEVMIG_PAGE_PRIVATE);
	assert_int_equal(sevmig_pstate_get(ps, 1535), SEVMIG_PAGE_SHARED);
	assert_int_equal(sevmig_pstate_get(ps, 1536), SEVMIG_PAGE_PRIVATE);
	/* 1 GiB: the second gigabyte of slot 0 */
	assert_int_equal(call(ps, GPA(262144), 262144, SZ_1G, &r), 0);
	assert_int_equal(r.page_size, 1u << 30);
	assert_int_equal(sevmig_pstate_get(ps, S0_N - 1), SEVMIG_PAGE_SHARED);
	assert_int_equal(sevmig_pstate_get(ps, 262143), SEVMIG_PAGE_PRIVATE);

	/* a larger page size the range is not made of */
	refused(ps, GPA(1025), 512, SZ_2M, -EINVAL, einval);
	refused(ps, GPA(1024), 511, SZ_2M, -EINVAL, einval);
	refused(ps, GPA(1024), 513, SZ_2M, -EINVAL, einval);
	refused(ps, GPA(512), 262144, SZ_1G, -EINVAL, einval);
	refused(ps, GPA(0), 512, SZ_1G, -EINVAL, einval);
	/* unknown page sizes: 3 to 15, and page_size says 0 */
	for (uint64_t sz = 3; sz <= 15; sz++)
		refused(ps, GPA(0), 1, sz, -EINVAL, einval);
	assert_int_equal(call(ps, GPA(0), 1, 3, &r), -EINVAL);
	assert_int_equal(r.page_size, 0);
	/* every reserved bit */
	for (int bit = 5; bit < 64; bit++)
		refused(ps, GPA(0), 1, 1ull << bit, -EINVAL, einval);
	/* KVM's own checks and the 52-bit limit */
	refused(ps, GPA(0) + 0x800, 1, 0, -EINVAL, einval);
	refused(ps, GPA(0), 0, 0, -EINVAL, einval);
	refused(ps, GPA(0), 0, SZ_2M, -EINVAL, einval);
	refused(ps, 0xfffffffffffff000ull, 2, 0, -EINVAL, einval);
	refused(ps, 1ull << 52, 1, 0, -EINVAL, einval);
	/* memory the map does not cover, wholly or in part */
	refused(ps, GPA(S0_N), 1, 0, -ERANGE, efault);
	refused(ps, GPA(S1 + S1_N - 1), 2, ENC, -ERANGE, efault);
	refused(ps, GPA(S1), 1536, SZ_2M, -ERANGE, efault);
	refused(ps, GPA(S0_N), 512, SZ_2M, -ERANGE, efault);
	refused(ps, GPA(S0), 512 * 1024 * 2, SZ_1G, -ERANGE, efault);

	/* misuse */
	assert_int_equal(sevmig_pstate_map_gpa_range(NULL, 0, 1, 0, &r), -EINVAL);
	assert_int_equal(sevmig_pstate_map_gpa_range(ps, 0, 1, 0, NULL), -EINVAL);
	r.sz = 0;
	assert_int_equal(sevmig_pstate_map_gpa_range(ps, 0, 1, 0, &r), -EINVAL);
	sevmig_pstate_free(ps);
}

/* An older caller's smaller struct: filled up to its size, not past it. */
static void test_partial_output(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = new_map();
	struct sevmig_map_gpa_range r;
	memset(&r, 0xa5, sizeof(r));
	r.sz = offsetof(struct sevmig_map_gpa_range, npages);
	assert_int_equal(sevmig_pstate_map_gpa_range(ps, GPA(5), 2, 0, &r), 0);
	assert_int_equal(r.sz, offsetof(struct sevmig_map_gpa_range, npages));
	assert_int_equal(r.gfn, 5);
	const uint8_t *tail = (const uint8_t *)&r + offsetof(struct sevmig_map_gpa_range, npages);
	for (size_t i = 0; i < sizeof(r) - offsetof(struct sevmig_map_gpa_range, npages); i++)
		assert_int_equal(tail[i], 0xa5);
	assert_int_equal(sevmig_pstate_get(ps, 6), SEVMIG_PAGE_SHARED);
	sevmig_pstate_free(ps);
}

/* Random requests, mostly near the slots' edges and on 2 MiB and 1 GiB
 * boundaries, against a per-page model of the rules. */
static void test_random_against_model(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("pstate_hypercall_random") };
	struct sevmig_pstate *ps = new_map();
	enum { WINDOW = S1 + S1_N + 1024 };
	uint8_t *model = calloc(WINDOW, 1); /* 0 absent, 1 private, 2 shared */
	assert_non_null(model);
	memset(model + S0, 1, S0_N);
	memset(model + S1, 1, S1_N);
	for (int i = 0; i < 3000; i++) {
		uint64_t sz = tu_below(&rng, 12) ? tu_below(&rng, 3) : tu_below(&rng, 16);
		uint64_t unit = sz == 1 ? 512 : sz == 2 ? 262144 : 1;
		uint64_t base = tu_below(&rng, 2) ? S1 : S0;
		uint64_t gfn = base + tu_below(&rng, 6) * unit +
			       (tu_below(&rng, 4) ? 0 : tu_below(&rng, 2 * unit + 4));
		if (gfn >= 4)
			gfn -= tu_below(&rng, 3) ? 0 : tu_below(&rng, 4);
		uint64_t n = (1 + tu_below(&rng, 3)) * unit;
		if (!tu_below(&rng, 6))
			n += tu_below(&rng, 3) - 1;
		uint64_t a2 = sz | (tu_below(&rng, 2) ? ENC : 0);
		if (!tu_below(&rng, 30))
			a2 |= 1ull << (5 + tu_below(&rng, 59));

		int want = 0;
		uint64_t wret = 0;
		if ((a2 & ~0x1full) || sz > 2 || !n || gfn % unit || n % unit) {
			want = -EINVAL;
			wret = SEVMIG_MAP_GPA_RANGE_RET_EINVAL;
		} else {
			for (uint64_t g = gfn; g < gfn + n && !want; g++)
				if (g >= WINDOW || !model[g]) {
					want = -ERANGE;
					wret = SEVMIG_MAP_GPA_RANGE_RET_EFAULT;
				}
			if (!want)
				memset(model + gfn, a2 & ENC ? 1 : 2, n);
		}
		struct sevmig_map_gpa_range r;
		int got = call(ps, GPA(gfn), n, a2, &r);
		if (got != want || r.guest_ret != wret)
			fail_msg("request %d (gfn 0x%llx, %llu pages, a2 0x%llx): %d, ret 0x%llx, "
				 "want %d, 0x%llx",
				 i, (unsigned long long)gfn, (unsigned long long)n,
				 (unsigned long long)a2, got, (unsigned long long)r.guest_ret, want,
				 (unsigned long long)wret);
	}
	/* the model's shared runs against the map's, page for page */
	for (uint64_t g = 0; g < WINDOW; g++)
		if (model[g] != (uint8_t)sevmig_pstate_get(ps, g))
			fail_msg("gfn 0x%llx: model %u, map %s", (unsigned long long)g, model[g],
				 sevmig_page_state_name(sevmig_pstate_get(ps, g)));
	free(model);
	sevmig_pstate_free(ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_partial_output),
		cmocka_unit_test(test_random_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
