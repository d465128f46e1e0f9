/* SPDX-License-Identifier: MIT */
/*
 * A guest's frames as a page-state map, for migration: private where the
 * guest owns a frame nobody borrows, shared where it owns one the host
 * borrows or borrows one the host owns. Built on the public pstate API.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include <sevmig/pstate.h>

#include "pstate/owners_impl.h"
#include "util/buf.h"
#include "util/error.h"

enum role { NOT_ITS, PRIVATE, SHARED };

static enum role role_of(const struct sevmig__oent *e, uint32_t g)
{
	if (e->owner == g)
		return e->borrower == SEVMIG_OWNER_NONE ? PRIVATE : SHARED;
	if (e->owner == SEVMIG_OWNER_HOST && e->borrower == g)
		return SHARED;
	return NOT_ITS;
}

/* Append [a, b) to a range list, joining it to the last range it touches. */
static int put(struct sevmig__buf *l, uint64_t a, uint64_t b)
{
	struct sevmig_range *r = (struct sevmig_range *)(void *)l->data;
	size_t n = l->len / sizeof(*r);
	if (n && r[n - 1].gfn + r[n - 1].npages == a) {
		r[n - 1].npages += b - a;
		return 0;
	}
	struct sevmig_range x = { a, b - a };
	return sevmig__buf_append(l, &x, sizeof(x));
}

int sevmig_owners_project(const struct sevmig_owners *o, uint32_t guest, struct sevmig_pstate **out,
			  struct sevmig_error *err)
{
	if (!o || !out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no map or no result");
	if (guest < SEVMIG_OWNER_GUEST_MIN || guest > SEVMIG_OWNER_ID_MAX)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "project: %" PRIu32 " is not a guest id (2 to %u)", guest,
				    SEVMIG_OWNER_ID_MAX);
	struct sevmig__buf slots = { 0 }, shared = { 0 };
	struct sevmig_pstate *ps = NULL;
	int rc = 0;
	for (size_t i = 0; i < o->n && !rc; i++) {
		enum role r = role_of(&o->v[i], guest);
		if (r == NOT_ITS)
			continue;
		uint64_t a = o->v[i].first, b = sevmig__oent_end(o, i);
		rc = put(&slots, a, b);
		if (!rc && r == SHARED)
			rc = put(&shared, a, b);
	}
	if (!rc)
		rc = sevmig_pstate_new(&ps, NULL);
	const struct sevmig_range *s = (const struct sevmig_range *)(void *)slots.data;
	for (size_t i = 0; !rc && i < slots.len / sizeof(*s); i++)
		rc = sevmig_pstate_add_slot(ps, s[i].gfn, s[i].npages);
	if (!rc)
		rc = sevmig_pstate_set_from_list(ps,
						 (const struct sevmig_range *)(void *)shared.data,
						 shared.len / sizeof(struct sevmig_range), NULL);
	sevmig__buf_free(&slots);
	sevmig__buf_free(&shared);
	if (rc) {
		sevmig_pstate_free(ps);
		/* the ranges come from a sound map: only memory can fail */
		return sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "project: %s",
				    sevmig_strerror(rc));
	}
	*out = ps;
	return 0;
}
