/* SPDX-License-Identifier: MIT */
/*
 * guest_memfd addressing: a slot bound to (guest_memfd, offset), as
 * KVM_SET_USER_MEMORY_REGION2 binds a memslot, so that the map answers by
 * gpa and by file offset. The binding lives in the slot itself, so it
 * follows the slot through clones and removal without bookkeeping of its
 * own; lookups by file offset scan the slots (a VM has few).
 */
#include "pstate/pstate_impl.h"

#include <errno.h>

static bool bound(const struct sevmig__slot *s)
{
	return s->gmem_end && s->gmem_end == s->end;
}

/* The slot that is exactly [gfn, gfn + npages), or NULL. */
static struct sevmig__slot *exact_slot(const struct sevmig_pstate *ps, uint64_t gfn,
				       uint64_t npages)
{
	size_t i = sevmig__slot_find(ps, gfn);
	if (i >= ps->nslots || ps->slots[i].gfn != gfn || ps->slots[i].end - gfn != npages)
		return NULL;
	return &ps->slots[i];
}

int sevmig_pstate_bind_gmem(struct sevmig_pstate *ps, uint64_t gfn, uint64_t npages, int fd,
			    uint64_t offset)
{
	if (!ps || fd < 0 || offset % SEVMIG_PAGE_SIZE)
		return -EINVAL;
	struct sevmig__slot *s = exact_slot(ps, gfn, npages);
	if (!s)
		return -ENOENT;
	/* npages < 2^40, so the byte length cannot overflow */
	uint64_t len = npages << SEVMIG_PAGE_SHIFT;
	if (len > UINT64_MAX - offset)
		return -EINVAL;
	if (bound(s))
		return -EEXIST;
	for (size_t i = 0; i < ps->nslots; i++) {
		const struct sevmig__slot *o = &ps->slots[i];
		if (!bound(o) || o->gmem_fd != fd)
			continue;
		uint64_t olen = (o->end - o->gfn) << SEVMIG_PAGE_SHIFT;
		if (offset < o->gmem_off + olen && o->gmem_off < offset + len)
			return -EEXIST;
	}
	s->gmem_fd = fd;
	s->gmem_off = offset;
	s->gmem_end = s->end;
	return 0;
}

int sevmig_pstate_unbind_gmem(struct sevmig_pstate *ps, uint64_t gfn, uint64_t npages)
{
	if (!ps)
		return -EINVAL;
	struct sevmig__slot *s = exact_slot(ps, gfn, npages);
	if (!s || !bound(s))
		return -ENOENT;
	s->gmem_fd = 0;
	s->gmem_off = 0;
	s->gmem_end = 0;
	return 0;
}

int sevmig_pstate_gfn_to_gmem(const struct sevmig_pstate *ps, uint64_t gfn, int *fd,
			      uint64_t *offset)
{
	if (!ps || !fd || !offset)
		return -EINVAL;
	size_t i = sevmig__slot_find(ps, gfn);
	if (i >= ps->nslots || ps->slots[i].gfn > gfn || !bound(&ps->slots[i]))
		return -ENOENT;
	const struct sevmig__slot *s = &ps->slots[i];
	*fd = s->gmem_fd;
	*offset = s->gmem_off + ((gfn - s->gfn) << SEVMIG_PAGE_SHIFT);
	return 0;
}

int sevmig_pstate_gmem_to_gfn(const struct sevmig_pstate *ps, int fd, uint64_t offset,
			      uint64_t *gfn)
{
	if (!ps || !gfn)
		return -EINVAL;
	for (size_t i = 0; i < ps->nslots; i++) {
		const struct sevmig__slot *s = &ps->slots[i];
		if (!bound(s) || s->gmem_fd != fd || offset < s->gmem_off)
			continue;
		uint64_t page = (offset - s->gmem_off) >> SEVMIG_PAGE_SHIFT;
		if (page < s->end - s->gfn) {
			*gfn = s->gfn + page;
			return 0;
		}
	}
	return -ENOENT;
}

enum sevmig_page_state sevmig_pstate_get_gmem(const struct sevmig_pstate *ps, int fd,
					      uint64_t offset)
{
	uint64_t gfn;
	if (sevmig_pstate_gmem_to_gfn(ps, fd, offset, &gfn))
		return SEVMIG_PAGE_ABSENT;
	return sevmig_pstate_get(ps, gfn);
}
