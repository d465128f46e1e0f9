/* SPDX-License-Identifier: MIT */
/*
 * The map in KVM's memory-attribute terms (KVM_SET_MEMORY_ATTRIBUTES,
 * KVM_EXIT_MEMORY_FAULT): the ranges that make a VM's attributes follow a
 * map, whole or as a diff from a previous map, and the conversion a
 * memory-fault exit asks for. KVM cannot report attributes back, so these
 * ranges are how the map, the truth, reaches the kernel.
 */
#include "pstate/pstate_impl.h"
#include "pstate/pstate_staged.h"
#include "util/error.h"

#include <errno.h>
#include <string.h>

/* A map with no coverage: "prev" when there is none. */
static const struct sevmig_pstate no_map;

struct attr_walk {
	sevmig_attributes_fn fn;
	void *arg;
	bool have;
	struct sevmig_memory_attributes cur;
};

static uint64_t attributes_of(enum sevmig_page_state st)
{
	return st == SEVMIG_PAGE_PRIVATE ? SEVMIG_MEMORY_ATTRIBUTE_PRIVATE : 0;
}

/* One range where the maps differ: emitted when next covers it, joined to
 * the range before when that ends here with the same attributes. */
static int attr_change(void *arg, const struct sevmig_pstate_change *c)
{
	struct attr_walk *w = arg;
	if (c->b == SEVMIG_PAGE_ABSENT)
		return 0;
	uint64_t addr = c->gfn << SEVMIG_PAGE_SHIFT, size = c->npages << SEVMIG_PAGE_SHIFT;
	uint64_t attr = attributes_of(c->b);
	if (w->have && w->cur.address + w->cur.size == addr && w->cur.attributes == attr) {
		w->cur.size += size;
		return 0;
	}
	if (w->have) {
		int rc = w->fn(w->arg, &w->cur);
		if (rc)
			return rc;
	}
	w->cur = (struct sevmig_memory_attributes){ addr, size, attr, 0 };
	w->have = true;
	return 0;
}

int sevmig_pstate_walk_memory_attributes(const struct sevmig_pstate *prev,
					 const struct sevmig_pstate *next, sevmig_attributes_fn fn,
					 void *arg)
{
	if (!next || !fn)
		return -EINVAL;
	struct attr_walk w = { fn, arg, false, { 0, 0, 0, 0 } };
	/* diff gives maximal ranges of equal (prev, next) states, never cut
	 * at slot boundaries: joining those of equal next attributes makes
	 * the list minimal */
	int rc = sevmig_pstate_diff(prev ? prev : &no_map, next, attr_change, &w);
	if (!rc && w.have)
		rc = fn(arg, &w.cur);
	return rc;
}

struct attr_list {
	struct sevmig_memory_attributes *out;
	size_t cap, count;
};

static int attr_put(void *arg, const struct sevmig_memory_attributes *r)
{
	struct attr_list *l = arg;
	if (l->count < l->cap)
		l->out[l->count] = *r;
	l->count++;
	return 0;
}

int sevmig_pstate_to_memory_attributes(const struct sevmig_pstate *prev,
				       const struct sevmig_pstate *next,
				       struct sevmig_memory_attributes *out, size_t cap,
				       size_t *count)
{
	if (!count || (cap && !out))
		return -EINVAL;
	struct attr_list l = { out, cap, 0 };
	SEVMIG__TRY(sevmig_pstate_walk_memory_attributes(prev, next, attr_put, &l));
	*count = l.count;
	return l.count > cap ? -ENOSPC : 0;
}

/* ---- KVM_EXIT_MEMORY_FAULT ------------------------------------------------------ */

struct count_ctx {
	uint64_t pages;
};

static int count_run(void *arg, uint64_t gfn, uint64_t npages)
{
	(void)gfn;
	((struct count_ctx *)arg)->pages += npages;
	return 0;
}

int sevmig__pstate_memory_fault_plan(const struct sevmig_pstate *ps, uint64_t flags, uint64_t gpa,
				     uint64_t size, struct sevmig_memory_fault *r)
{
	bool priv = flags & SEVMIG_MEMORY_EXIT_FLAG_PRIVATE;
	memset(r, 0, sizeof(*r));
	r->sz = sizeof(*r);
	r->gfn = gpa >> SEVMIG_PAGE_SHIFT;
	r->state = priv ? SEVMIG_PAGE_PRIVATE : SEVMIG_PAGE_SHARED;
	if (!size || size - 1 > UINT64_MAX - gpa)
		return -EINVAL;
	/* The conversion is page-granular: whole pages holding the bytes. */
	uint64_t last = (gpa + (size - 1)) >> SEVMIG_PAGE_SHIFT;
	r->npages = last - r->gfn + 1;
	if (flags & ~SEVMIG_MEMORY_EXIT_FLAG_PRIVATE)
		return -EINVAL; /* a meaning this library does not know */
	if (!sevmig__range_valid(r->gfn, r->npages))
		return -EINVAL;
	r->range = (struct sevmig_memory_attributes){ r->gfn << SEVMIG_PAGE_SHIFT,
						      r->npages << SEVMIG_PAGE_SHIFT,
						      attributes_of(r->state), 0 };
	if (!sevmig__covered(ps, r->gfn, r->gfn + r->npages))
		return -ERANGE;
	struct count_ctx c = { 0 };
	(void)sevmig_pstate_walk(ps, r->gfn, r->npages,
				 priv ? SEVMIG_PAGE_SHARED : SEVMIG_PAGE_PRIVATE, count_run, &c);
	r->changed = c.pages;
	return 0;
}

int sevmig_pstate_memory_fault(struct sevmig_pstate *ps, uint64_t flags, uint64_t gpa,
			       uint64_t size, struct sevmig_memory_fault *out)
{
	if (!ps || !out || out->sz < sizeof(out->sz))
		return -EINVAL;
	struct sevmig_memory_fault r;
	int rc = sevmig__pstate_memory_fault_plan(ps, flags, gpa, size, &r);
	if (!rc && r.changed)
		rc = sevmig_pstate_set_range(ps, r.gfn, r.npages, r.state);
	if (rc)
		r.changed = 0;
	sevmig__out_fill(out, &r, sizeof(r));
	return rc;
}
