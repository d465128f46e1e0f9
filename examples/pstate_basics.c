/* SPDX-License-Identifier: MIT */
/*
 * Page state in a VMM, in a few steps: memslots, the guest's hypercalls,
 * the shared runs, the bitmap KVM would hand over, and the delta between
 * two snapshots of a migration. Uses only the public API.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <sevmig/sevmig.h>

#define CHECK(expr)                                                               \
	do {                                                                      \
		int rc_ = (expr);                                                 \
		if (rc_ < 0) {                                                    \
			fprintf(stderr, "%s: %s\n", #expr, sevmig_strerror(rc_)); \
			exit(1);                                                  \
		}                                                                 \
	} while (0)

static int print_run(void *arg, uint64_t gfn, uint64_t npages)
{
	(void)arg;
	printf("  [0x%" PRIx64 ", +%" PRIu64 ")\n", gfn, npages);
	return 0;
}

static int print_change(void *arg, const struct sevmig_pstate_change *c)
{
	(void)arg;
	printf("  0x%" PRIx64 "-0x%" PRIx64 " %s -> %s\n", c->gfn, c->gfn + c->npages - 1,
	       sevmig_page_state_name(c->a), sevmig_page_state_name(c->b));
	return 0;
}

int main(void)
{
	/* A 4 GiB guest: RAM below the 3 GiB MMIO hole and 1 GiB above 4 GiB. */
	struct sevmig_pstate *ps;
	CHECK(sevmig_pstate_new(&ps, NULL));
	CHECK(sevmig_pstate_add_slot(ps, 0, 0xc0000));
	CHECK(sevmig_pstate_add_slot(ps, 0x100000, 0x40000));

	/* The guest shares a 64 MiB bounce buffer (in 2 MiB pages) and one
	 * page, through KVM_HC_MAP_GPA_RANGE exits: the raw arguments in, the
	 * value for the guest's RAX out; a bad request changes nothing. */
	struct sevmig_map_gpa_range r = { .sz = sizeof(r) };
	CHECK(sevmig_pstate_map_gpa_range(ps, 0x80000000, 16384, SEVMIG_MAP_GPA_RANGE_PAGE_SZ_2M,
					  &r));
	CHECK(sevmig_pstate_map_gpa_range(ps, 0x100005000, 1, 0, &r));
	if (sevmig_pstate_map_gpa_range(ps, 0xc0000000, 1, 0, &r) != -ERANGE ||
	    r.guest_ret != SEVMIG_MAP_GPA_RANGE_RET_EFAULT)
		return 1; /* the MMIO hole is no memory */

	printf("shared runs:\n");
	CHECK(sevmig_pstate_walk(ps, 0, UINT64_MAX, SEVMIG_PAGE_SHARED, print_run, NULL));
	struct sevmig_pstate_stats st;
	sevmig_pstate_stats(ps, &st);
	printf("%" PRIu64 " pages covered, %" PRIu64 " shared in %" PRIu64 " runs, %" PRIu64
	       " bytes of memory\n",
	       st.covered_pages, st.shared_pages, st.shared_runs, st.memory_bytes);

	/* The encryption bitmap of the high slot, as KVM_GET_PAGE_ENC_BITMAP
	 * lays it out (bit set = private). */
	size_t len = sevmig_bitmap_bytes(0x40000);
	uint8_t *bm = malloc(len);
	if (!bm)
		return 1;
	CHECK(sevmig_pstate_to_bitmap(ps, 0x100000, 0x40000, bm, len));
	printf("bitmap byte 0 of the high slot: 0x%02x (page 0x100005 shared)\n", bm[0]);

	/* A later snapshot: the guest unshares the page, shares another. */
	struct sevmig_pstate *later, *delta;
	CHECK(sevmig_pstate_clone(ps, &later, NULL));
	CHECK(sevmig_pstate_set_range(later, 0x100005, 1, SEVMIG_PAGE_PRIVATE));
	CHECK(sevmig_pstate_set_range(later, 0x120000, 2, SEVMIG_PAGE_SHARED));
	printf("changes:\n");
	CHECK(sevmig_pstate_diff(ps, later, print_change, NULL));

	/* What a migration sends each round: the delta, applied on the other
	 * side to bring its copy up to date. */
	CHECK(sevmig_pstate_delta(ps, later, &delta));
	CHECK(sevmig_pstate_apply(ps, delta));
	if (!sevmig_pstate_equal(ps, later))
		return 1;
	printf("after the delta both copies agree\n");

	free(bm);
	sevmig_pstate_free(delta);
	sevmig_pstate_free(later);
	sevmig_pstate_free(ps);
	return 0;
}
