/* SPDX-License-Identifier: MIT */
/*
 * Invariants the page-state fuzz targets check on every map a parser
 * accepts: its representation keeps every internal invariant
 * (sevmig__pstate_check(), the targets link the static library), it
 * survives the binary form (raw and compressed) and the text form
 * unchanged, the canonical text is a fixed point, the same map always gives
 * the same bytes, and the counts add up. A violation aborts.
 */
#ifndef SEVMIG_FUZZ_PSTATE_CHECK_H
#define SEVMIG_FUZZ_PSTATE_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/pstate.h>

#include "pstate/pstate_impl.h"

#define FUZZ_CHECK(cond)                                                                       \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, \
				#cond);                                                        \
			abort();                                                               \
		}                                                                              \
	} while (0)

/* The representation is sound: sorted chunks, exact counts, canonical
 * containers, every shared page covered (pstate_check.c). */
static inline void fuzz_check_repr(const struct sevmig_pstate *ps)
{
	char why[160];
	if (sevmig__pstate_check(ps, why, sizeof(why))) {
		fprintf(stderr, "invariant violated: broken map: %s\n", why);
		abort();
	}
}

/* A rejection must be -EBADMSG (or -ENOMEM) with its error record filled. */
static inline void fuzz_check_rejection(int rc, const struct sevmig_error *err, size_t len)
{
	if (rc == -ENOMEM)
		return;
	FUZZ_CHECK(rc == -EBADMSG);
	FUZZ_CHECK(err->code == rc);
	FUZZ_CHECK(err->message[0] != '\0');
	FUZZ_CHECK(strlen(err->message) < sizeof(err->message));
	FUZZ_CHECK(err->offset == SEVMIG_NO_OFFSET || err->offset <= len);
}

static inline struct sevmig_pstate *fuzz_binary_round_trip(const struct sevmig_pstate *ps,
							   int level)
{
	SEVMIG_OPTS(sevmig_pstate_save_opts, o, .zstd_level = level);
	void *buf = NULL, *buf2 = NULL;
	size_t len = 0, len2 = 0;
	struct sevmig_pstate *back = NULL, *back2 = NULL;
	struct sevmig_error err;
	FUZZ_CHECK(sevmig_pstate_serialize(ps, &o, &buf, &len) == 0);
	FUZZ_CHECK(sevmig_pstate_deserialize(buf, len, &back, &err) == 0);
	fuzz_check_repr(back);
	FUZZ_CHECK(sevmig_pstate_equal(ps, back));
	FUZZ_CHECK(sevmig_pstate_load(buf, len, &back2, &err) == 0);
	FUZZ_CHECK(sevmig_pstate_equal(ps, back2));
	/* Deterministic: the map read back gives the same bytes. */
	FUZZ_CHECK(sevmig_pstate_serialize(back, &o, &buf2, &len2) == 0);
	FUZZ_CHECK(len == len2 && !memcmp(buf, buf2, len));
	sevmig_pstate_free(back2);
	free(buf);
	free(buf2);
	return back;
}

/* Everything above, on a map a parser accepted. */
static inline void fuzz_check_map(const struct sevmig_pstate *ps)
{
	fuzz_check_repr(ps);
	struct sevmig_pstate_stats st;
	sevmig_pstate_stats(ps, &st);
	FUZZ_CHECK(st.covered_pages == st.shared_pages + st.private_pages);
	FUZZ_CHECK(st.slots == sevmig_pstate_slot_count(ps));
	FUZZ_CHECK(st.largest_shared_run <= st.shared_pages);

	struct sevmig_pstate *raw = fuzz_binary_round_trip(ps, 0);
	FUZZ_CHECK(sevmig_pstate_slot_count(raw) == st.slots);
	sevmig_pstate_free(raw);
	sevmig_pstate_free(fuzz_binary_round_trip(ps, 1));

	char *text = NULL, *text2 = NULL;
	size_t tlen = 0, tlen2 = 0;
	struct sevmig_pstate *back = NULL, *back2 = NULL;
	struct sevmig_error err;
	FUZZ_CHECK(sevmig_pstate_format_text(ps, &text, &tlen) == 0);
	FUZZ_CHECK(strlen(text) == tlen);
	FUZZ_CHECK(sevmig_pstate_parse_text(text, tlen, &back, &err) == 0);
	fuzz_check_repr(back);
	FUZZ_CHECK(sevmig_pstate_equal(ps, back));
	FUZZ_CHECK(sevmig_pstate_load(text, tlen, &back2, &err) == 0);
	FUZZ_CHECK(sevmig_pstate_equal(ps, back2));
	FUZZ_CHECK(sevmig_pstate_format_text(back, &text2, &tlen2) == 0);
	FUZZ_CHECK(tlen == tlen2 && !memcmp(text, text2, tlen));
	sevmig_pstate_free(back);
	sevmig_pstate_free(back2);
	free(text);
	free(text2);
}

#endif
