/* SPDX-License-Identifier: MIT */
/*
 * The page-ownership map: its representation (a sorted array of maximal
 * runs, owners_impl.h), lifetime, coverage and pKVM's ten transitions.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pstate/owners_impl.h"
#include "util/error.h"

/* ---- the representation ---------------------------------------------------- */

size_t sevmig__owners_find(const struct sevmig_owners *o, uint64_t f)
{
	/* the last entry whose first is <= f; v[0].first == 0 */
	size_t lo = 0, hi = o->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->v[mid].first <= f)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int sevmig__owners_alloc(struct sevmig_owners **out, size_t cap)
{
	struct sevmig_owners *o = calloc(1, sizeof(*o));
	if (cap < 4)
		cap = 4;
	if (o)
		o->v = malloc(cap * sizeof(*o->v));
	if (!o || !o->v) {
		free(o);
		return -ENOMEM;
	}
	o->cap = cap;
	o->n = 1;
	o->v[0] = (struct sevmig__oent){ 0, SEVMIG__GAP, SEVMIG_OWNER_NONE };
	*out = o;
	return 0;
}

int sevmig__owners_reserve(struct sevmig_owners *o, size_t more)
{
	if (o->cap - o->n >= more)
		return 0;
	if (more > SIZE_MAX / sizeof(*o->v) / 2 - o->n)
		return -ENOMEM;
	size_t cap = o->cap * 2 > o->n + more ? o->cap * 2 : o->n + more;
	struct sevmig__oent *v = realloc(o->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	o->v = v;
	o->cap = cap;
	return 0;
}

/* Give back memory when the map has shrunk to a quarter of its array (a
 * failed realloc only leaves it larger). */
static void maybe_shrink(struct sevmig_owners *o)
{
	if (o->cap <= 64 || o->n > o->cap / 4)
		return;
	size_t cap = o->n * 2;
	struct sevmig__oent *v = realloc(o->v, cap * sizeof(*v));
	if (v) {
		o->v = v;
		o->cap = cap;
	}
}

static void erase(struct sevmig_owners *o, size_t i)
{
	memmove(&o->v[i], &o->v[i + 1], (o->n - i - 1) * sizeof(*o->v));
	o->n--;
}

void sevmig__owners_paint(struct sevmig_owners *o, size_t i, uint64_t a, uint64_t b, uint32_t owner,
			  uint32_t borrower)
{
	struct sevmig__oent old = o->v[i], repl[3];
	uint64_t end = sevmig__oent_end(o, i);
	size_t k = 0, mid;
	if (a > old.first)
		repl[k++] = old;
	mid = k;
	repl[k++] = (struct sevmig__oent){ a, owner, borrower };
	if (b < end)
		repl[k++] = (struct sevmig__oent){ b, old.owner, old.borrower };
	memmove(&o->v[i + k], &o->v[i + 1], (o->n - i - 1) * sizeof(*o->v));
	memcpy(&o->v[i], repl, k * sizeof(*repl));
	o->n += k - 1;
	/* join the painted run with a neighbour in the same state */
	mid += i;
	if (mid + 1 < o->n && sevmig__oent_same(&o->v[mid], &o->v[mid + 1]))
		erase(o, mid + 1);
	if (mid > 0 && sevmig__oent_same(&o->v[mid - 1], &o->v[mid]))
		erase(o, mid);
}

int sevmig__owners_append(struct sevmig_owners *o, uint64_t a, uint64_t b, uint32_t owner,
			  uint32_t borrower)
{
	struct sevmig__oent *last = &o->v[o->n - 1]; /* the trailing gap */
	if (a >= b || a < last->first || b > SEVMIG_GFN_LIMIT)
		return -EINVAL;
	struct sevmig__oent run = { a, owner, borrower };
	if (a == last->first && o->n > 1 && sevmig__oent_same(&o->v[o->n - 2], &run)) {
		last->first = b; /* the run before grows */
		return 0;
	}
	SEVMIG__TRY(sevmig__owners_reserve(o, 2));
	last = &o->v[o->n - 1];
	if (a == last->first) {
		*last = run;
	} else {
		o->v[o->n++] = run;
	}
	o->v[o->n++] = (struct sevmig__oent){ b, SEVMIG__GAP, SEVMIG_OWNER_NONE };
	return 0;
}

int sevmig__owners_check_repr(const struct sevmig_owners *o, char *why, size_t len)
{
	if (!o->n || o->n > o->cap)
		return sevmig__msg(why, len, "%zu entries in an array of %zu", o->n, o->cap), -1;
	if (o->v[0].first)
		return sevmig__msg(why, len, "the first entry starts at 0x%" PRIx64, o->v[0].first),
		       -1;
	const struct sevmig__oent *last = &o->v[o->n - 1];
	if (last->owner != SEVMIG__GAP || last->first > SEVMIG_GFN_LIMIT)
		return sevmig__msg(why, len, "the last entry is not a gap at or below the limit"),
		       -1;
	for (size_t i = 0; i < o->n; i++) {
		const struct sevmig__oent *e = &o->v[i];
		if (i && e->first <= e[-1].first)
			return sevmig__msg(why, len, "entry %zu does not start after entry %zu", i,
					   i - 1),
			       -1;
		if (i && sevmig__oent_same(e, &e[-1]))
			return sevmig__msg(why, len, "entries %zu and %zu are in one state", i - 1,
					   i),
			       -1;
		if (e->owner == SEVMIG__GAP ? e->borrower != SEVMIG_OWNER_NONE
					    : !sevmig__owners_state_valid(e->owner, e->borrower))
			return sevmig__msg(why, len,
					   "entry %zu holds the state (%" PRIu32 ", %" PRIu32 ")",
					   i, e->owner, e->borrower),
			       -1;
	}
	return 0;
}

/* ---- lifetime -------------------------------------------------------------------- */

int sevmig_owners_new(struct sevmig_owners **out, struct sevmig_error *err)
{
	if (!out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no map to fill");
	int rc = sevmig__owners_alloc(out, 4);
	return rc ? sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "out of memory") : 0;
}

void sevmig_owners_free(struct sevmig_owners *o)
{
	if (!o)
		return;
	free(o->v);
	free(o);
}

int sevmig_owners_clone(const struct sevmig_owners *o, struct sevmig_owners **out,
			struct sevmig_error *err)
{
	if (!o || !out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no map to copy or to fill");
	struct sevmig_owners *c;
	if (sevmig__owners_alloc(&c, o->n))
		return sevmig__fail(err, -ENOMEM, SEVMIG_NO_OFFSET, 0, "out of memory");
	memcpy(c->v, o->v, o->n * sizeof(*o->v));
	c->n = o->n;
	*out = c;
	return 0;
}

bool sevmig_owners_equal(const struct sevmig_owners *a, const struct sevmig_owners *b)
{
	/* runs are maximal, so equal maps have equal arrays */
	if (!a || !b)
		return a == b;
	return a->n == b->n && !memcmp(a->v, b->v, a->n * sizeof(*a->v));
}

/* ---- the check every change makes --------------------------------------------------- */

/*
 * Every frame of [a, b) in state (owner, borrower) (SEVMIG__GAP: not
 * covered)? 0 with *idx the one entry that holds them all; or the first
 * frame that is not, in *rf, with -EPERM (covered, in another state) or
 * -ERANGE (not covered).
 */
static int require(const struct sevmig_owners *o, uint64_t a, uint64_t b, uint32_t owner,
		   uint32_t borrower, size_t *idx, struct sevmig_owners_refusal *rf)
{
	size_t i = sevmig__owners_find(o, a);
	const struct sevmig__oent *e = &o->v[i];
	uint64_t at = a;
	if (e->owner == owner && e->borrower == borrower) {
		if (sevmig__oent_end(o, i) >= b) {
			*idx = i;
			return 0;
		}
		/* maximal runs: the next entry is in another state */
		at = sevmig__oent_end(o, i);
		e = &o->v[i + 1];
	}
	*rf = (struct sevmig_owners_refusal){
		.sz = sizeof(*rf),
		.frame = at,
		.covered = e->owner != SEVMIG__GAP,
		.owner = e->owner == SEVMIG__GAP ? 0 : e->owner,
		.borrower = e->owner == SEVMIG__GAP ? SEVMIG_OWNER_NONE : e->borrower,
	};
	return rf->covered ? -EPERM : -ERANGE;
}

/* Fill the caller's refusal and error for what require() found. */
static int refuse(int rc, const char *what, uint32_t owner, uint32_t borrower,
		  const struct sevmig_owners_refusal *rf, struct sevmig_owners_refusal *out,
		  struct sevmig_error *err)
{
	if (out)
		sevmig__out_fill(out, rf, sizeof(*rf));
	char got[2 * SEVMIG_OWNER_NAME_MAX], want[2 * SEVMIG_OWNER_NAME_MAX];
	if (!rf->covered)
		return sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0,
				    "%s: frame 0x%" PRIx64 " is not covered", what, rf->frame);
	return sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "%s: frame 0x%" PRIx64 " is %s, not %s",
			    what, rf->frame,
			    sevmig__owners_state_str(rf->owner, rf->borrower, got, sizeof(got)),
			    sevmig__owners_state_str(owner, borrower, want, sizeof(want)));
}

int sevmig__owners_require(const struct sevmig_owners *o, uint64_t first, uint64_t nframes,
			   uint32_t owner, uint32_t borrower, const char *what, size_t *idx,
			   struct sevmig_owners_refusal *out, struct sevmig_error *err)
{
	struct sevmig_owners_refusal rf;
	int rc = require(o, first, first + nframes, owner, borrower, idx, &rf);
	return rc ? refuse(rc, what, owner, borrower, &rf, out, err) : 0;
}

/* ---- coverage ---------------------------------------------------------------------- */

int sevmig_owners_add_range(struct sevmig_owners *o, uint64_t first, uint64_t nframes)
{
	if (!o || !sevmig__frames_valid(first, nframes))
		return -EINVAL;
	size_t i;
	struct sevmig_owners_refusal rf;
	if (require(o, first, first + nframes, SEVMIG__GAP, SEVMIG_OWNER_NONE, &i, &rf))
		return -EEXIST;
	SEVMIG__TRY(sevmig__owners_reserve(o, 2));
	sevmig__owners_paint(o, i, first, first + nframes, SEVMIG_OWNER_HOST, SEVMIG_OWNER_NONE);
	return 0;
}

int sevmig_owners_remove_range(struct sevmig_owners *o, uint64_t first, uint64_t nframes,
			       struct sevmig_owners_refusal *out, struct sevmig_error *err)
{
	if (!o || !sevmig__frames_valid(first, nframes))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "remove: no map, or no frames, or frames past 2^40");
	size_t i;
	SEVMIG__TRY(sevmig__owners_require(o, first, nframes, SEVMIG_OWNER_HOST, SEVMIG_OWNER_NONE,
					   "remove", &i, out, err));
	if (sevmig__owners_reserve(o, 2))
		return sevmig__fail(err, -ENOMEM, SEVMIG_NO_OFFSET, 0, "out of memory");
	sevmig__owners_paint(o, i, first, first + nframes, SEVMIG__GAP, SEVMIG_OWNER_NONE);
	maybe_shrink(o);
	return 0;
}

/* ---- transitions ------------------------------------------------------------------------ */

/* G stands for the guest the transition names. */
#define G    (SEVMIG_OWNER_ID_MAX + 1)
#define HYP  SEVMIG_OWNER_HYP
#define HOST SEVMIG_OWNER_HOST
#define NONE SEVMIG_OWNER_NONE

static const struct rule {
	uint32_t owner, borrower;     /* required of every frame */
	uint32_t to_owner, to_borrow; /* what they become */
} rules[] = {
	[SEVMIG_OWNERS_HOST_DONATE_HYP] = { HOST, NONE, HYP, NONE },
	[SEVMIG_OWNERS_HYP_DONATE_HOST] = { HYP, NONE, HOST, NONE },
	[SEVMIG_OWNERS_HOST_SHARE_HYP] = { HOST, NONE, HOST, HYP },
	[SEVMIG_OWNERS_HOST_UNSHARE_HYP] = { HOST, HYP, HOST, NONE },
	[SEVMIG_OWNERS_HOST_DONATE_GUEST] = { HOST, NONE, G, NONE },
	[SEVMIG_OWNERS_GUEST_DONATE_HOST] = { G, NONE, HOST, NONE },
	[SEVMIG_OWNERS_HOST_SHARE_GUEST] = { HOST, NONE, HOST, G },
	[SEVMIG_OWNERS_HOST_UNSHARE_GUEST] = { HOST, G, HOST, NONE },
	[SEVMIG_OWNERS_GUEST_SHARE_HOST] = { G, NONE, G, HOST },
	[SEVMIG_OWNERS_GUEST_UNSHARE_HOST] = { G, HOST, G, NONE },
};

static uint32_t subst(uint32_t id, uint32_t guest)
{
	return id == G ? guest : id;
}

int sevmig_owners_transition(struct sevmig_owners *o, enum sevmig_owners_op op, uint64_t first,
			     uint64_t nframes, uint32_t guest, struct sevmig_owners_refusal *out,
			     struct sevmig_error *err)
{
	const char *name = sevmig_owners_op_name(op);
	if (!o || !name)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "no map, or unknown transition %d", (int)op);
	bool takes = sevmig_owners_op_takes_guest(op);
	if (takes && (guest < SEVMIG_OWNER_GUEST_MIN || guest > SEVMIG_OWNER_ID_MAX))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "%s: guest id %" PRIu32 " is not a guest's (2 to %u)", name,
				    guest, SEVMIG_OWNER_ID_MAX);
	if (!takes && guest)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "%s names no guest, but guest %" PRIu32 " was given", name,
				    guest);
	if (!sevmig__frames_valid(first, nframes))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "%s: frames 0x%" PRIx64 " + %" PRIu64
				    " are no range below 2^40",
				    name, first, nframes);
	const struct rule *r = &rules[op];
	size_t i;
	SEVMIG__TRY(sevmig__owners_require(o, first, nframes, subst(r->owner, guest),
					   subst(r->borrower, guest), name, &i, out, err));
	if (sevmig__owners_reserve(o, 2))
		return sevmig__fail(err, -ENOMEM, SEVMIG_NO_OFFSET, 0, "%s: out of memory", name);
	sevmig__owners_paint(o, i, first, first + nframes, subst(r->to_owner, guest),
			     subst(r->to_borrow, guest));
	maybe_shrink(o);
	return 0;
}
