/* SPDX-License-Identifier: MIT */
/* Reading the ownership map: by frame, by range, run by run, and counted
 * per entity. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pstate/owners_impl.h"
#include "util/error.h"

int sevmig_owners_get(const struct sevmig_owners *o, uint64_t frame, uint32_t *owner,
		      uint32_t *borrower)
{
	if (!o || !owner || !borrower)
		return -EINVAL;
	const struct sevmig__oent *e = &o->v[sevmig__owners_find(o, frame)];
	if (e->owner == SEVMIG__GAP)
		return -ERANGE;
	*owner = e->owner;
	*borrower = e->borrower;
	return 0;
}

int sevmig_owners_check(const struct sevmig_owners *o, uint64_t first, uint64_t nframes,
			uint32_t owner, uint32_t borrower, struct sevmig_owners_refusal *out,
			struct sevmig_error *err)
{
	if (!o || !sevmig__frames_valid(first, nframes))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "check: no map, or no frames, or frames past 2^40");
	const char *why = sevmig__owners_state_why(owner, borrower);
	if (why)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "check: %s", why);
	size_t i;
	return sevmig__owners_require(o, first, nframes, owner, borrower, "check", &i, out, err);
}

int sevmig_owners_walk(const struct sevmig_owners *o, uint64_t first, uint64_t nframes,
		       sevmig_owners_run_fn fn, void *arg)
{
	if (!o || !fn || nframes > UINT64_MAX - first)
		return -EINVAL;
	if (!nframes)
		return 0;
	uint64_t end = first + nframes;
	for (size_t i = sevmig__owners_find(o, first); i < o->n && o->v[i].first < end; i++) {
		const struct sevmig__oent *e = &o->v[i];
		if (e->owner == SEVMIG__GAP)
			continue;
		uint64_t a = e->first > first ? e->first : first;
		uint64_t b = sevmig__oent_end(o, i) < end ? sevmig__oent_end(o, i) : end;
		struct sevmig_owners_run r = { a, b - a, e->owner, e->borrower };
		int rc = fn(arg, &r);
		if (rc)
			return rc;
	}
	return 0;
}

void sevmig_owners_stats(const struct sevmig_owners *o, struct sevmig_owners_stats *st)
{
	if (!st)
		return;
	struct sevmig_owners_stats s = { .sz = sizeof(s) };
	if (o) {
		for (size_t i = 0; i < o->n; i++) {
			const struct sevmig__oent *e = &o->v[i];
			if (e->owner == SEVMIG__GAP)
				continue;
			uint64_t len = sevmig__oent_end(o, i) - e->first;
			s.covered_frames += len;
			s.runs++;
			s.ranges += !i || e[-1].owner == SEVMIG__GAP;
			if (e->borrower != SEVMIG_OWNER_NONE)
				s.borrowed_frames += len;
		}
		s.memory_bytes = sizeof(*o) + o->cap * sizeof(*o->v);
	}
	sevmig__out_fill(st, &s, sizeof(s));
}

static int id_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static size_t id_index(const uint32_t *ids, size_t n, uint32_t id)
{
	const uint32_t *p = bsearch(&id, ids, n, sizeof(*ids), id_cmp);
	return (size_t)(p - ids);
}

int sevmig_owners_entities(const struct sevmig_owners *o, sevmig_owners_entity_fn fn, void *arg)
{
	if (!o || !fn)
		return -EINVAL;
	/* the hypervisor, the host, and every guest named (at most two a run) */
	uint32_t *ids = malloc((2 + 2 * o->n) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	size_t n = 0;
	ids[n++] = SEVMIG_OWNER_HYP;
	ids[n++] = SEVMIG_OWNER_HOST;
	for (size_t i = 0; i < o->n; i++) {
		const struct sevmig__oent *e = &o->v[i];
		if (e->owner == SEVMIG__GAP)
			continue;
		if (e->owner >= SEVMIG_OWNER_GUEST_MIN)
			ids[n++] = e->owner;
		if (e->borrower >= SEVMIG_OWNER_GUEST_MIN && e->borrower != SEVMIG_OWNER_NONE)
			ids[n++] = e->borrower;
	}
	qsort(ids, n, sizeof(*ids), id_cmp);
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (!u || ids[i] != ids[u - 1])
			ids[u++] = ids[i];
	struct sevmig_owners_entity *ent = calloc(u, sizeof(*ent));
	if (!ent) {
		free(ids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < u; i++)
		ent[i].id = ids[i];
	for (size_t i = 0; i < o->n; i++) {
		const struct sevmig__oent *e = &o->v[i];
		if (e->owner == SEVMIG__GAP)
			continue;
		uint64_t len = sevmig__oent_end(o, i) - e->first;
		struct sevmig_owners_entity *w = &ent[id_index(ids, u, e->owner)];
		if (e->borrower == SEVMIG_OWNER_NONE) {
			w->owned += len;
		} else {
			w->shared_owned += len;
			ent[id_index(ids, u, e->borrower)].shared_borrowed += len;
		}
	}
	free(ids);
	int rc = 0;
	for (size_t i = 0; i < u && !rc; i++)
		rc = fn(arg, &ent[i]);
	free(ent);
	return rc;
}
