/* SPDX-License-Identifier: MIT */
/*
 * A memslot's life with pinning and page state in step (seeds 000/001: an
 * SEV guest's pages stay pinned "until they are deallocated or the guest
 * is destroyed"). Adding a slot registers its memory
 * (KVM_MEMORY_ENCRYPT_REG_REGION) and adds it to the map; removing it, or
 * discarding part of it, unregisters exactly what was registered (UNREG
 * takes only a range exactly as registered) and then forgets the pages'
 * state. Each call is all-or-nothing: the map change is staged (allocated)
 * first and committed only after the kernel calls succeeded, and kernel
 * calls made before a failing one are undone. The exit lock is held from
 * staging to commit, so vCPU exits wait for the kernel calls meanwhile.
 */
#if defined(__x86_64__) /* else kvm_other_arch.c */
#include "fw/kvm/kvm_priv.h"
#include "pstate/pstate_staged.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define PAGE SEVMIG_PAGE_SIZE

static const char reg_what[] = "KVM_MEMORY_ENCRYPT_REG_REGION";
static const char unreg_what[] = "KVM_MEMORY_ENCRYPT_UNREG_REGION";

/* A kernel call without a message: for undoing, where the first
 * failure's message must stay. */
static int region_raw(struct sevmig__kvm *k, unsigned long req, const struct sevmig__kvm_region *r)
{
	struct kvm_enc_region e;
	memset(&e, 0, sizeof(e));
	e.addr = r->hva;
	e.size = r->npages * PAGE;
	return sevmig__kvm_ioctl(k, k->vm_fd, req, &e);
}

static int region_reg(struct sevmig_fw *fw, unsigned long req, const struct sevmig__kvm_region *r)
{
	return sevmig__kvm_region_call(fw,
				       req == KVM_MEMORY_ENCRYPT_REG_REGION ? reg_what : unreg_what,
				       req, (void *)r->hva, r->npages * PAGE);
}

static int reserve(void **v, size_t *cap, size_t n, size_t more, size_t elem)
{
	if (more <= *cap - n)
		return 0;
	size_t want = n + more, c = *cap ? *cap : 4;
	while (c < want)
		c *= 2;
	void *p = realloc(*v, c * elem);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = c;
	return 0;
}

/*
 * The checks every memslot call starts with: a KVM VM handle, a map, and
 * gpa and size as pages (page-aligned, non-empty, below the gfn limit).
 * *gfn and *npages are set before any check: the failures return
 * sevmig__fw_fail()'s code, which the compiler cannot see is negative.
 */
static int memslot_args(struct sevmig_fw *fw, const char *what, const struct sevmig_pstate *ps,
			uint64_t gpa, uint64_t size, struct sevmig__kvm **k, uint64_t *gfn,
			uint64_t *npages)
{
	*gfn = gpa >> SEVMIG_PAGE_SHIFT;
	*npages = size >> SEVMIG_PAGE_SHIFT;
	SEVMIG__TRY(sevmig__kvm_need_vm(fw, what, k));
	if (!ps)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE, "%s: no page-state map",
				       what);
	if (!size || (gpa | size) % PAGE || *gfn >= SEVMIG_GFN_LIMIT ||
	    *npages > SEVMIG_GFN_LIMIT - *gfn)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "%s: gpa 0x%" PRIx64 " + 0x%" PRIx64
				       " is empty, not page-aligned or past the 52-bit limit",
				       what, gpa, size);
	return 0;
}

/* Index of the first record ending after gfn (records sorted, disjoint). */
static size_t first_after(const void *v, size_t n, size_t elem, uint64_t gfn)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const uint64_t *r = (const void *)((const char *)v + mid * elem);
		if (r[0] + r[1] <= gfn) /* { gfn, npages } lead both records */
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static_assert(offsetof(struct sevmig__kvm_memslot, npages) == 8 &&
		  offsetof(struct sevmig__kvm_region, npages) == 8,
	      "records start with gfn, npages");

/* The handle's slot holding [gfn, gfn + npages) whole, or SIZE_MAX. */
static size_t slot_holding(const struct sevmig__kvm *k, uint64_t gfn, uint64_t npages)
{
	size_t i = first_after(k->slots, k->nslots, sizeof(*k->slots), gfn);
	if (i < k->nslots && k->slots[i].gfn <= gfn &&
	    gfn + npages <= k->slots[i].gfn + k->slots[i].npages)
		return i;
	return SIZE_MAX;
}

int sevmig_fw_kvm_add_memslot(struct sevmig_fw *fw, struct sevmig_pstate *ps, uint64_t gpa,
			      uint64_t size, void *hva)
{
	static const char what[] = "add memslot";
	const uint32_t none = SEVMIG_FW_STATUS_NONE;
	struct sevmig__kvm *k = NULL;
	uint64_t gfn, npages;
	SEVMIG__TRY(memslot_args(fw, what, ps, gpa, size, &k, &gfn, &npages));
	if (size > UINTPTR_MAX - (uintptr_t)hva)
		return sevmig__fw_fail(fw, -EINVAL, none,
				       "%s: host range %p + 0x%" PRIx64 " wraps the address space",
				       what, hva, size);
	size_t at = first_after(k->slots, k->nslots, sizeof(*k->slots), gfn);
	if (at < k->nslots && k->slots[at].gfn < gfn + npages)
		return sevmig__fw_fail(fw, -EEXIST, none,
				       "%s: gpa 0x%" PRIx64 " + 0x%" PRIx64
				       " overlaps the memslot at gpa 0x%" PRIx64,
				       what, gpa, size, k->slots[at].gfn * PAGE);
	if (reserve((void **)&k->slots, &k->slots_cap, k->nslots, 1, sizeof(*k->slots)) ||
	    reserve((void **)&k->regions, &k->regions_cap, k->nregions, 1, sizeof(*k->regions)))
		return sevmig__fw_fail(fw, -ENOMEM, none, "%s: out of memory", what);
	struct sevmig__kvm_region reg = { gfn, npages, (uintptr_t)hva };

	pthread_mutex_lock(&k->exit_lock);
	/* the map's own refusals first, so that nothing is pinned for them */
	int rc = 0;
	size_t n = sevmig_pstate_slot_count(ps);
	for (size_t i = 0; i < n && !rc; i++) {
		struct sevmig_range s;
		if (!sevmig_pstate_slot(ps, i, &s) && s.gfn < gfn + npages &&
		    gfn < s.gfn + s.npages)
			rc = sevmig__fw_fail(fw, -EEXIST, none,
					     "%s: gpa 0x%" PRIx64 " + 0x%" PRIx64
					     " overlaps the map's slot at gpa 0x%" PRIx64,
					     what, gpa, size, s.gfn * PAGE);
	}
	if (!rc)
		rc = region_reg(fw, KVM_MEMORY_ENCRYPT_REG_REGION, &reg);
	if (!rc) {
		rc = sevmig_pstate_add_slot(ps, gfn, npages);
		if (rc) {
			int undo = region_raw(k, KVM_MEMORY_ENCRYPT_UNREG_REGION, &reg);
			sevmig__fw_fail(fw, rc, none, "%s: the map cannot take the slot (%s)%s",
					what, sevmig_strerror(rc),
					undo < 0 ? "; unregistering the region again failed too, "
						   "it stays pinned until the VM goes"
						 : "; the region is unregistered again");
		}
	}
	pthread_mutex_unlock(&k->exit_lock);
	if (rc)
		return rc;

	memmove(&k->slots[at + 1], &k->slots[at], (k->nslots - at) * sizeof(*k->slots));
	k->slots[at] = (struct sevmig__kvm_memslot){ gfn, npages, (uintptr_t)hva };
	k->nslots++;
	size_t ra = first_after(k->regions, k->nregions, sizeof(*k->regions), gfn);
	memmove(&k->regions[ra + 1], &k->regions[ra], (k->nregions - ra) * sizeof(*k->regions));
	k->regions[ra] = reg;
	k->nregions++;
	return 0;
}

/* Undo the first n kernel calls `req` made over regs (in reverse order). */
static void undo_calls(struct sevmig__kvm *k, unsigned long req,
		       const struct sevmig__kvm_region *regs, size_t n, size_t *failed)
{
	for (size_t j = n; j-- > 0;)
		if (region_raw(k, req, &regs[j]) < 0)
			(*failed)++;
}

/*
 * Replace the regions regs[i0..i1) by add[0..nadd) in the kernel: register
 * the new ones, then unregister the old ones; undo on failure. 0 or the
 * error (with the handle's message).
 */
static int swap_regions(struct sevmig_fw *fw, struct sevmig__kvm *k, size_t i0, size_t i1,
			const struct sevmig__kvm_region *add, size_t nadd)
{
	size_t lost = 0;
	for (size_t j = 0; j < nadd; j++) {
		int rc = region_reg(fw, KVM_MEMORY_ENCRYPT_REG_REGION, &add[j]);
		if (rc) {
			undo_calls(k, KVM_MEMORY_ENCRYPT_UNREG_REGION, add, j, &lost);
			return rc;
		}
	}
	for (size_t j = i0; j < i1; j++) {
		int rc = region_reg(fw, KVM_MEMORY_ENCRYPT_UNREG_REGION, &k->regions[j]);
		if (rc) {
			undo_calls(k, KVM_MEMORY_ENCRYPT_REG_REGION, &k->regions[i0], j - i0,
				   &lost);
			undo_calls(k, KVM_MEMORY_ENCRYPT_UNREG_REGION, add, nadd, &lost);
			if (lost) {
				char first[200];
				sevmig__msg(first, sizeof(first), "%s", sevmig_fw_last_error(fw));
				sevmig__fw_fail(fw, rc, SEVMIG_FW_STATUS_NONE,
						"%s; undoing the calls before it failed %zu times: "
						"the kernel's regions no longer match "
						"sevmig_fw_kvm_region()",
						first, lost);
			}
			return rc;
		}
	}
	return 0;
}

/* The regions holding pages of [gfn, end): [*i0, *i1). */
static void regions_in(const struct sevmig__kvm *k, uint64_t gfn, uint64_t end, size_t *i0,
		       size_t *i1)
{
	*i0 = first_after(k->regions, k->nregions, sizeof(*k->regions), gfn);
	*i1 = *i0;
	while (*i1 < k->nregions && k->regions[*i1].gfn < end)
		(*i1)++;
}

/*
 * What removing and discarding share: unregister the regions holding
 * pages of [gfn, gfn + npages), register again what lies outside the
 * range of the ones it cuts, and forget the pages' state (with
 * remove_slot, the map's slot that is exactly the range goes too). All or
 * nothing: the map change is staged under the exit lock and committed only
 * after the kernel calls succeeded.
 */
static int unregister_pages(struct sevmig_fw *fw, struct sevmig__kvm *k, struct sevmig_pstate *ps,
			    const char *what, uint64_t gfn, uint64_t npages, bool remove_slot)
{
	const uint32_t none = SEVMIG_FW_STATUS_NONE;
	uint64_t end = gfn + npages;
	size_t i0, i1;
	regions_in(k, gfn, end, &i0, &i1);
	/* What stays registered of the regions the range cuts: at most a
	 * part before it and a part after it (none for a whole memslot). */
	struct sevmig__kvm_region keep[2];
	size_t nkeep = 0;
	if (i0 < i1 && k->regions[i0].gfn < gfn) {
		const struct sevmig__kvm_region *r = &k->regions[i0];
		keep[nkeep++] = (struct sevmig__kvm_region){ r->gfn, gfn - r->gfn, r->hva };
	}
	if (i0 < i1 && k->regions[i1 - 1].gfn + k->regions[i1 - 1].npages > end) {
		const struct sevmig__kvm_region *r = &k->regions[i1 - 1];
		keep[nkeep++] = (struct sevmig__kvm_region){ end, r->gfn + r->npages - end,
							     r->hva + (end - r->gfn) * PAGE };
	}
	if (reserve((void **)&k->regions, &k->regions_cap, k->nregions, nkeep, sizeof(*k->regions)))
		return sevmig__fw_fail(fw, -ENOMEM, none, "%s: out of memory", what);

	struct sevmig__staged *st = NULL;
	pthread_mutex_lock(&k->exit_lock);
	int rc = sevmig__pstate_stage(ps, gfn, npages, SEVMIG_PAGE_PRIVATE, remove_slot, &st);
	if (rc) {
		const char *why = rc != (remove_slot ? -ENOENT : -ERANGE) ? "out of memory"
				  : remove_slot ? "the map has no slot that is exactly this memslot"
						: "the map does not cover the range";
		rc = sevmig__fw_fail(fw, rc, none, "%s: %s", what, why);
	}
	if (!rc)
		rc = swap_regions(fw, k, i0, i1, keep, nkeep);
	if (rc)
		sevmig__pstate_abort(st);
	else
		sevmig__pstate_commit(st);
	pthread_mutex_unlock(&k->exit_lock);
	if (rc)
		return rc;

	/* one region cut in the middle leaves two: room was reserved */
	memmove(&k->regions[i0 + nkeep], &k->regions[i1], (k->nregions - i1) * sizeof(*k->regions));
	memcpy(&k->regions[i0], keep, nkeep * sizeof(*keep));
	k->nregions = k->nregions - (i1 - i0) + nkeep;
	return 0;
}

int sevmig_fw_kvm_remove_memslot(struct sevmig_fw *fw, struct sevmig_pstate *ps, uint64_t gpa,
				 uint64_t size)
{
	static const char what[] = "remove memslot";
	struct sevmig__kvm *k = NULL;
	uint64_t gfn, npages;
	SEVMIG__TRY(memslot_args(fw, what, ps, gpa, size, &k, &gfn, &npages));
	size_t si = slot_holding(k, gfn, npages);
	if (si == SIZE_MAX || k->slots[si].gfn != gfn || k->slots[si].npages != npages)
		return sevmig__fw_fail(fw, -ENOENT, SEVMIG_FW_STATUS_NONE,
				       "%s: no memslot was added as exactly gpa 0x%" PRIx64
				       " + 0x%" PRIx64,
				       what, gpa, size);
	SEVMIG__TRY(unregister_pages(fw, k, ps, what, gfn, npages, true));
	memmove(&k->slots[si], &k->slots[si + 1], (k->nslots - si - 1) * sizeof(*k->slots));
	k->nslots--;
	return 0;
}

int sevmig_fw_kvm_discard(struct sevmig_fw *fw, struct sevmig_pstate *ps, uint64_t gpa,
			  uint64_t size)
{
	static const char what[] = "discard";
	struct sevmig__kvm *k = NULL;
	uint64_t gfn, npages;
	SEVMIG__TRY(memslot_args(fw, what, ps, gpa, size, &k, &gfn, &npages));
	if (slot_holding(k, gfn, npages) == SIZE_MAX)
		return sevmig__fw_fail(fw, -ENOENT, SEVMIG_FW_STATUS_NONE,
				       "%s: no memslot added through the handle holds gpa "
				       "0x%" PRIx64 " + 0x%" PRIx64 " whole",
				       what, gpa, size);
	return unregister_pages(fw, k, ps, what, gfn, npages, false);
}

size_t sevmig_fw_kvm_region_count(struct sevmig_fw *fw)
{
	struct sevmig__kvm *k = NULL;
	if (!fw || fw->ops != &sevmig__kvm_ops)
		return 0;
	k = sevmig__kvm_of(fw);
	return k->nregions;
}

int sevmig_fw_kvm_region(struct sevmig_fw *fw, size_t i, struct sevmig_kvm_region *out)
{
	if (!fw || fw->ops != &sevmig__kvm_ops || !out || out->sz < sizeof(out->sz))
		return -EINVAL;
	struct sevmig__kvm *k = sevmig__kvm_of(fw);
	if (i >= k->nregions)
		return -ERANGE;
	const struct sevmig__kvm_region *r = &k->regions[i];
	struct sevmig_kvm_region o = { sizeof(o), r->gfn * PAGE, r->npages * PAGE, (void *)r->hva };
	sevmig__out_fill(out, &o, sizeof(o));
	return 0;
}

void sevmig__kvm_memslots_release(struct sevmig__kvm *k)
{
	for (size_t i = 0; i < k->nregions; i++)
		(void)region_raw(k, KVM_MEMORY_ENCRYPT_UNREG_REGION, &k->regions[i]);
	free(k->regions);
	free(k->slots);
	k->regions = NULL;
	k->slots = NULL;
	k->nregions = k->nslots = 0;
}

#endif
