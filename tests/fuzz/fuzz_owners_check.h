/* SPDX-License-Identifier: MIT */
/*
 * Invariants the ownership-map fuzz targets check on every map a parser
 * accepts: the representation is sound (sevmig__owners_check_repr()), both
 * forms round trip to an equal map, the canonical text and the binary form
 * are fixed points, and transitions on the map keep it sound and either
 * change nothing or report a frame inside their range. A violation aborts.
 */
#ifndef SEVMIG_FUZZ_OWNERS_CHECK_H
#define SEVMIG_FUZZ_OWNERS_CHECK_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/owners.h>
#include <sevmig/pstate.h>

#include "fuzz_check.h"
#include "pstate/owners_impl.h"

static inline void fuzz_owners_repr(const struct sevmig_owners *o)
{
	char why[160];
	if (sevmig__owners_check_repr(o, why, sizeof(why))) {
		fprintf(stderr, "invariant broken: ownership map: %s\n", why);
		abort();
	}
}

/* A rejection is -EBADMSG (or -ENOMEM) with its error record filled. */
static inline void fuzz_owners_rejection(int rc, const struct sevmig_owners *o,
					 const struct sevmig_error *err, size_t len)
{
	CHECK(o == NULL);
	if (rc == -ENOMEM)
		return;
	CHECK(rc == -EBADMSG);
	CHECK(err->code == rc);
	CHECK(err->message[0] != '\0');
	CHECK(err->offset == SEVMIG_NO_OFFSET || err->offset <= len);
}

struct fuzz_owners_first {
	uint64_t first, n;
	uint32_t owner, borrower;
	int seen;
};

static inline int fuzz_owners_take(void *arg, const struct sevmig_owners_run *r)
{
	struct fuzz_owners_first *f = arg;
	*f = (struct fuzz_owners_first){ r->first, r->nframes, r->owner, r->borrower, 1 };
	return 1;
}

static inline void fuzz_owners_map(const struct sevmig_owners *o)
{
	fuzz_owners_repr(o);
	char *t = NULL, *t2 = NULL;
	size_t tl = 0, tl2 = 0;
	struct sevmig_owners *a = NULL, *b = NULL;
	struct sevmig_error err;
	CHECK(sevmig_owners_format_text(o, &t, &tl) == 0);
	CHECK(sevmig_owners_parse_text(t, tl, &a, &err) == 0);
	CHECK(sevmig_owners_equal(o, a));
	CHECK(sevmig_owners_format_text(a, &t2, &tl2) == 0);
	CHECK(tl == tl2 && !memcmp(t, t2, tl));
	void *bin = NULL, *bin2 = NULL;
	size_t bl = 0, bl2 = 0;
	CHECK(sevmig_owners_serialize(o, &bin, &bl) == 0);
	CHECK(sevmig_owners_deserialize(bin, bl, &b, &err) == 0);
	CHECK(sevmig_owners_equal(o, b));
	CHECK(sevmig_owners_serialize(b, &bin2, &bl2) == 0);
	CHECK(bl == bl2 && !memcmp(bin, bin2, bl));
	free(t);
	free(t2);
	free(bin);
	free(bin2);
	sevmig_owners_free(b);

	/* every transition over the first run and a frame past it */
	struct sevmig_owners_stats st = { .sz = sizeof(st) };
	sevmig_owners_stats(o, &st);
	struct fuzz_owners_first f = { 0 };
	sevmig_owners_walk(a, 0, UINT64_MAX, fuzz_owners_take, &f);
	for (int op = 1; f.seen && op <= 10; op++) {
		uint32_t g =
		    sevmig_owners_op_takes_guest((enum sevmig_owners_op)op)
			? (f.owner >= 2						? f.owner
			   : f.borrower >= 2 && f.borrower != SEVMIG_OWNER_NONE ? f.borrower
										: 2)
			: 0;
		uint64_t n = f.n + (f.first + f.n < SEVMIG_GFN_LIMIT);
		struct sevmig_owners *before = NULL;
		CHECK(sevmig_owners_clone(a, &before, NULL) == 0);
		struct sevmig_owners_refusal rf = { .sz = sizeof(rf) };
		int rc = sevmig_owners_transition(a, (enum sevmig_owners_op)op, f.first, n, g, &rf,
						  NULL);
		CHECK(rc == 0 || rc == -EPERM || rc == -ERANGE || rc == -ENOMEM);
		if (rc == -EPERM || rc == -ERANGE)
			CHECK(rf.frame >= f.first && rf.frame < f.first + n &&
			      sevmig_owners_equal(a, before));
		if (rc)
			CHECK(sevmig_owners_equal(a, before));
		fuzz_owners_repr(a);
		sevmig_owners_free(before);
	}
	struct sevmig_owners_stats st2 = { .sz = sizeof(st2) };
	sevmig_owners_stats(a, &st2);
	CHECK(st2.covered_frames == st.covered_frames);
	sevmig_owners_free(a);
}

#endif
