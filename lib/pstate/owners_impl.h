/* SPDX-License-Identifier: MIT */
/*
 * Internals of the page-ownership map (not ABI; see docs/pstate.md, "Page
 * ownership").
 *
 * A map is a sorted array of boundaries: entry i gives the state of frames
 * [v[i].first, v[i + 1].first), and the last entry runs to the end of the
 * frame space. Uncovered frames are entries whose owner is SEVMIG__GAP, so
 * coverage and states are one array and every frame has exactly one entry.
 *
 * Invariants: n >= 1; v[0].first == 0; firsts strictly increase; the last
 * entry is a GAP starting at or below SEVMIG_GFN_LIMIT; adjacent entries
 * differ in (owner, borrower) (runs are maximal, gaps too); a covered
 * entry holds one of the six reachable states. Because runs are maximal, a
 * range whose frames all share one state lies inside one entry: that is
 * what makes a transition one lookup and one local edit.
 */
#ifndef SEVMIG_OWNERS_IMPL_H
#define SEVMIG_OWNERS_IMPL_H

#include <sevmig/owners.h>

#define SEVMIG__GAP SEVMIG_OWNER_NONE /* owner of an uncovered entry */

struct sevmig__oent {
	uint64_t first;
	uint32_t owner;	   /* SEVMIG__GAP: not covered */
	uint32_t borrower; /* SEVMIG_OWNER_NONE: none (and for gaps) */
};

struct sevmig_owners {
	struct sevmig__oent *v;
	size_t n, cap;
};

/* One past the last frame of entry i. */
static inline uint64_t sevmig__oent_end(const struct sevmig_owners *o, size_t i)
{
	return i + 1 < o->n ? o->v[i + 1].first : UINT64_MAX;
}

static inline bool sevmig__oent_same(const struct sevmig__oent *a, const struct sevmig__oent *b)
{
	return a->owner == b->owner && a->borrower == b->borrower;
}

/* A non-empty frame range that neither wraps nor passes the limit. */
static inline bool sevmig__frames_valid(uint64_t first, uint64_t n)
{
	return n && first < SEVMIG_GFN_LIMIT && n <= SEVMIG_GFN_LIMIT - first;
}

/* One of the six states a covered frame can be in. */
bool sevmig__owners_state_valid(uint32_t owner, uint32_t borrower);
/* "host", "host>guest:2", or "not covered" for a gap, into buf
 * (2 * SEVMIG_OWNER_NAME_MAX bytes hold any). */
const char *sevmig__owners_state_str(uint32_t owner, uint32_t borrower, char *buf, size_t len);
/* Why a state cannot be held, for parsers' messages (NULL if it can). */
const char *sevmig__owners_state_why(uint32_t owner, uint32_t borrower);

/* Index of the entry holding frame f. */
size_t sevmig__owners_find(const struct sevmig_owners *o, uint64_t f);
/* A map of one gap: the empty map. */
int sevmig__owners_alloc(struct sevmig_owners **out, size_t cap);
/* Room for `more` entries past n: 0 or -ENOMEM, the map unchanged. */
int sevmig__owners_reserve(struct sevmig_owners *o, size_t more);
/*
 * Set frames [a, b), all inside entry i, to (owner, borrower), splitting
 * the entry and joining neighbours in the same state. Needs room for two
 * more entries (sevmig__owners_reserve); cannot fail.
 */
void sevmig__owners_paint(struct sevmig_owners *o, size_t i, uint64_t a, uint64_t b, uint32_t owner,
			  uint32_t borrower);
/*
 * For parsers: append covered frames [a, b) in a state (checked by the
 * caller), at or after the end of what the map covers so far; a run
 * touching the last one in the same state joins it. 0, -EINVAL out of
 * order or past the limit, or -ENOMEM (the map keeps what it had).
 */
int sevmig__owners_append(struct sevmig_owners *o, uint64_t a, uint64_t b, uint32_t owner,
			  uint32_t borrower);

/*
 * The check of every change: each frame of [first, first + nframes) (a
 * valid range) covered and in state (owner, borrower). 0 with *idx the one
 * entry holding them all, or -EPERM / -ERANGE with the first frame that is
 * not in `out` and `err` (the message starts with `what`).
 */
int sevmig__owners_require(const struct sevmig_owners *o, uint64_t first, uint64_t nframes,
			   uint32_t owner, uint32_t borrower, const char *what, size_t *idx,
			   struct sevmig_owners_refusal *out, struct sevmig_error *err);

/* Parse an entity name; on -EINVAL, `why` says what is wrong. */
int sevmig__owner_parse(const char *s, size_t len, uint32_t *id, char *why, size_t wlen);

/* 0, or -1 with `why` saying which invariant a map breaks (for tests and
 * fuzz targets). */
int sevmig__owners_check_repr(const struct sevmig_owners *o, char *why, size_t len);

/* True when buf starts like the binary form (the magic, or for a shorter
 * input at least 4 bytes of it). */
bool sevmig__owners_is_binary(const void *buf, size_t len);

#endif
