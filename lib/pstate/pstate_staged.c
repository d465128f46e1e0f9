/* SPDX-License-Identifier: MIT */
/*
 * Staged map changes (pstate_staged.h): the new content of the chunks a
 * range touches is built aside and room for it reserved in the entry
 * array, so that the splice at commit time allocates nothing.
 */
#include "pstate/pstate_impl.h"
#include "pstate/pstate_staged.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sevmig__staged {
	struct sevmig_pstate *ps;
	uint32_t k0, k1;
	struct sevmig__ents repl;
	bool remove_slot;
	size_t slot; /* index of the slot to remove */
};

static int keep_run(void *ctx, uint64_t first, uint64_t end)
{
	struct sevmig__builder *b = ctx;
	sevmig__builder_add(b, first, end);
	return b->err;
}

int sevmig__pstate_stage(struct sevmig_pstate *ps, uint64_t gfn, uint64_t npages,
			 enum sevmig_page_state state, bool remove_slot,
			 struct sevmig__staged **out)
{
	*out = NULL;
	if (state != SEVMIG_PAGE_SHARED && state != SEVMIG_PAGE_PRIVATE)
		return -EINVAL;
	if (remove_slot && state != SEVMIG_PAGE_PRIVATE)
		return -EINVAL;
	if (!sevmig__range_valid(gfn, npages))
		return -EINVAL;
	uint64_t end = gfn + npages;
	size_t slot = 0;
	if (remove_slot) {
		slot = sevmig__slot_find(ps, gfn);
		if (slot >= ps->nslots || ps->slots[slot].gfn != gfn || ps->slots[slot].end != end)
			return -ENOENT;
	} else if (!sevmig__covered(ps, gfn, end)) {
		return -ERANGE;
	}
	struct sevmig__staged *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->ps = ps;
	st->k0 = (uint32_t)(gfn >> SEVMIG__CHUNK_SHIFT);
	st->k1 = (uint32_t)((end - 1) >> SEVMIG__CHUNK_SHIFT);
	st->remove_slot = remove_slot;
	st->slot = slot;

	/* The chunks' new content: what lies around the range, and the range
	 * itself when it becomes shared. */
	struct sevmig__builder b;
	sevmig__builder_init(&b);
	(void)sevmig__shared_runs(&ps->sh, (uint64_t)st->k0 << SEVMIG__CHUNK_SHIFT, gfn, keep_run,
				  &b);
	if (state == SEVMIG_PAGE_SHARED)
		sevmig__builder_add(&b, gfn, end);
	(void)sevmig__shared_runs(&ps->sh, end, ((uint64_t)st->k1 + 1) << SEVMIG__CHUNK_SHIFT,
				  keep_run, &b);
	int rc = sevmig__builder_finish(&b, &st->repl);
	/* The splice replaces the entries of [k0, k1] with repl and keeps at
	 * most two cut-off ends of full spans: with that room it cannot fail. */
	if (!rc && sevmig__ents_reserve(&ps->sh, st->repl.n + 2))
		rc = -ENOMEM;
	if (rc) {
		sevmig__pstate_abort(st);
		return rc;
	}
	*out = st;
	return 0;
}

void sevmig__pstate_commit(struct sevmig__staged *st)
{
	struct sevmig_pstate *ps = st->ps;
	int rc = sevmig__ents_splice(&ps->sh, st->k0, st->k1, &st->repl);
	(void)rc; /* 0: the room was reserved when the change was staged */
	if (st->remove_slot) {
		memmove(&ps->slots[st->slot], &ps->slots[st->slot + 1],
			(ps->nslots - st->slot - 1) * sizeof(*ps->slots));
		ps->nslots--;
	}
	free(st);
}

void sevmig__pstate_abort(struct sevmig__staged *st)
{
	if (!st)
		return;
	sevmig__ents_free(&st->repl);
	free(st);
}
