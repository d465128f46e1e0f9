/* SPDX-License-Identifier: MIT */
/*
 * Dirty pages as lists (gfns, KVM dirty-ring entries) turned into the
 * per-region bitmaps of KVM_GET_DIRTY_LOG, which the sender's rounds read.
 */
#include "stream/stream_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

size_t sevmig_dirty_bitmap_size(uint64_t region_size)
{
	uint64_t pages = region_size >> SEVMIG_PAGE_SHIFT;
	return (size_t)((pages + 63) / 64 * 8);
}

void sevmig__dirty_free(uint64_t **bm, size_t n)
{
	for (size_t i = 0; bm && i < n; i++)
		free(bm[i]);
	free(bm);
}

/* Set page `page` of slot k's bitmap (indexed by the caller's region). */
static int mark(const struct sevmig__layout *l, uint64_t **bm, size_t k, uint64_t page)
{
	size_t u = l->slots[k].user_idx;
	if (!bm[u] && !(bm[u] = calloc((l->slots[k].npages + 63) / 64, sizeof(uint64_t))))
		return -ENOMEM;
	bm[u][page / 64] |= UINT64_C(1) << (page % 64);
	return 0;
}

int sevmig__dirty_bitmaps(const struct sevmig__layout *l, const struct sevmig_dirty_list *d,
			  uint64_t ***out, struct sevmig_error *err)
{
	*out = NULL;
	if (!d || d->sz < sizeof(d->sz))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no dirty list");
	const uint64_t *gfns = SEVMIG__OPT(d, gfns, (const uint64_t *)NULL);
	size_t ngfns = SEVMIG__OPT(d, ngfns, (size_t)0);
	const struct sevmig_dirty_gfn *ring =
	    SEVMIG__OPT(d, ring, (const struct sevmig_dirty_gfn *)NULL);
	size_t nring = SEVMIG__OPT(d, nring, (size_t)0);
	const uint32_t *kvm_slots = SEVMIG__OPT(d, kvm_slots, (const uint32_t *)NULL);
	if ((ngfns && !gfns) || (nring && !ring))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "dirty list: a count without its array");
	if (nring && !kvm_slots)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "dirty list: ring entries need kvm_slots (the KVM slot of each "
				    "region)");
	uint64_t **bm = calloc(l->n ? l->n : 1, sizeof(*bm));
	if (!bm)
		return sevmig__fail(err, -ENOMEM, SEVMIG_NO_OFFSET, 0, "out of memory");
	int rc = 0;
	size_t hint = 0;
	for (size_t i = 0; i < ngfns && rc == 0; i++) {
		long k = sevmig__layout_find(l, gfns[i], &hint);
		if (k < 0)
			rc = sevmig__fail(err, -ERANGE, SEVMIG_NO_OFFSET, i,
					  "dirty list: gfn 0x%" PRIx64
					  " (entry %zu) is in no region of the sender",
					  gfns[i], i);
		else
			rc = mark(l, bm, (size_t)k, gfns[i] - l->slots[k].gfn);
	}
	/* Few regions: the slot lookup is a scan, remembered across entries
	 * of the same slot (a ring holds runs of them). */
	size_t k = 0;
	bool have = false;
	for (size_t i = 0; i < nring && rc == 0; i++) {
		if (!have || kvm_slots[l->slots[k].user_idx] != ring[i].slot) {
			have = false;
			for (k = 0; k < l->n && !have; k++)
				have = kvm_slots[l->slots[k].user_idx] == ring[i].slot;
			k -= have;
		}
		if (!have)
			rc = sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, i,
					  "dirty ring entry %zu: slot 0x%x (address space %u, "
					  "memslot %u) is none of the sender's regions",
					  i, ring[i].slot, ring[i].slot >> 16,
					  ring[i].slot & 0xffff);
		else if (ring[i].offset >= l->slots[k].npages)
			rc = sevmig__fail(err, -ERANGE, SEVMIG_NO_OFFSET, i,
					  "dirty ring entry %zu: page %" PRIu64
					  " is past the end of its region (%" PRIu64 " pages)",
					  i, ring[i].offset, l->slots[k].npages);
		else
			rc = mark(l, bm, k, ring[i].offset);
	}
	if (rc == -ENOMEM)
		sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "out of memory");
	if (rc) {
		sevmig__dirty_free(bm, l->n);
		return rc;
	}
	*out = bm;
	return 0;
}
