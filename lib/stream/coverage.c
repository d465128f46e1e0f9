/* SPDX-License-Identifier: MIT */
/*
 * Completeness (docs/stream-format.md §6): which pages the current pass
 * has delivered. A page-state map over the layout serves as the set
 * ("shared" = delivered), so pages that arrive in gfn order cost one run,
 * and a stream whose pages arrive scattered costs at most a bitmap.
 */
#include "stream/stream_internal.h"

#include <errno.h>

int sevmig__coverage_init(struct sevmig__coverage *c, const struct sevmig__layout *l)
{
	c->pages = 0;
	c->total = l->total_pages;
	return sevmig__layout_pstate(l, &c->got);
}

void sevmig__coverage_fini(struct sevmig__coverage *c)
{
	sevmig_pstate_free(c->got);
	c->got = NULL;
}

static int first_run(void *arg, uint64_t gfn, uint64_t npages)
{
	(void)npages;
	*(uint64_t *)arg = gfn;
	return 1;
}

int sevmig__coverage_add(struct sevmig__coverage *c, uint64_t gfn, uint64_t n, uint64_t *dup)
{
	int rc = sevmig_pstate_walk(c->got, gfn, n, SEVMIG_PAGE_SHARED, first_run, dup);
	if (rc < 0)
		return rc;
	if (rc > 0)
		return -EEXIST;
	SEVMIG__TRY(sevmig_pstate_set_range(c->got, gfn, n, SEVMIG_PAGE_SHARED));
	c->pages += n;
	return 0;
}

int sevmig__coverage_end_pass(struct sevmig__coverage *c, bool first, uint64_t *missing)
{
	if (first && c->pages != c->total) {
		struct sevmig_range r;
		int rc = sevmig_pstate_slot(c->got, 0, &r);
		if (rc < 0)
			return rc;
		*missing = r.gfn;
		struct sevmig_range last;
		rc = sevmig_pstate_slot(c->got, sevmig_pstate_slot_count(c->got) - 1, &last);
		if (rc < 0)
			return rc;
		rc = sevmig_pstate_walk(c->got, r.gfn, last.gfn + last.npages - r.gfn,
					SEVMIG_PAGE_PRIVATE, first_run, missing);
		return rc < 0 ? rc : -ENODATA;
	}
	if (c->pages)
		SEVMIG__TRY(sevmig_pstate_reset(c->got, NULL, 0));
	c->pages = 0;
	return 0;
}
