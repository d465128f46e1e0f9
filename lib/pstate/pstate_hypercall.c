/* SPDX-License-Identifier: MIT */
/*
 * The guest's page-state hypercalls: KVM_HC_MAP_GPA_RANGE's rules (and the
 * series' KVM_HC_PAGE_ENC_STATUS, which is the same request without
 * attributes), in one place for every exit loop.
 */
#include "pstate/pstate_impl.h"
#include "util/error.h"

#include <errno.h>
#include <string.h>

int sevmig_pstate_apply_hypercall(struct sevmig_pstate *ps, uint64_t gpa, uint64_t npages,
				  bool encrypted)
{
	/* KVM's own checks (!PAGE_ALIGNED(gpa) || !npages || wrap), plus the
	 * 52-bit physical limit */
	if (gpa & (SEVMIG_PAGE_SIZE - 1))
		return -EINVAL;
	return sevmig_pstate_set_range(ps, gpa >> SEVMIG_PAGE_SHIFT, npages,
				       encrypted ? SEVMIG_PAGE_PRIVATE : SEVMIG_PAGE_SHARED);
}

/* The page size bits 3:0 name, in 4 KiB pages; 0 for none we know. */
static uint64_t size_pages(uint64_t attrs)
{
	switch (attrs & SEVMIG_MAP_GPA_RANGE_PAGE_SZ_MASK) {
	case SEVMIG_MAP_GPA_RANGE_PAGE_SZ_4K:
		return 1;
	case SEVMIG_MAP_GPA_RANGE_PAGE_SZ_2M:
		return 512;
	case SEVMIG_MAP_GPA_RANGE_PAGE_SZ_1G:
		return 512 * 512;
	default:
		return 0;
	}
}

int sevmig_pstate_map_gpa_range(struct sevmig_pstate *ps, uint64_t a0, uint64_t a1, uint64_t a2,
				struct sevmig_map_gpa_range *out)
{
	if (!ps || !out || out->sz < sizeof(out->sz))
		return -EINVAL;
	uint64_t unit = size_pages(a2);
	struct sevmig_map_gpa_range r = {
		.gfn = a0 >> SEVMIG_PAGE_SHIFT,
		.npages = a1,
		.state =
		    a2 & SEVMIG_MAP_GPA_RANGE_ENCRYPTED ? SEVMIG_PAGE_PRIVATE : SEVMIG_PAGE_SHARED,
		.page_size = unit * SEVMIG_PAGE_SIZE,
		.guest_ret = SEVMIG_MAP_GPA_RANGE_RET_EINVAL,
	};
	int rc = -EINVAL;
	bool reserved =
	    a2 & ~(uint64_t)(SEVMIG_MAP_GPA_RANGE_ENCRYPTED | SEVMIG_MAP_GPA_RANGE_PAGE_SZ_MASK);
	/* A larger page size is a promise about the mapping: the range must
	 * be made of whole pages of that size. (KVM's own checks, and the
	 * 52-bit limit, follow in apply_hypercall().) */
	if (!reserved && unit && !(r.gfn % unit) && !(a1 % unit))
		rc = sevmig_pstate_apply_hypercall(ps, a0, a1, r.state == SEVMIG_PAGE_PRIVATE);
	if (rc == 0)
		r.guest_ret = SEVMIG_MAP_GPA_RANGE_RET_OK;
	else if (rc != -EINVAL)
		r.guest_ret = SEVMIG_MAP_GPA_RANGE_RET_EFAULT;
	sevmig__out_fill(out, &r, sizeof(r));
	return rc;
}
