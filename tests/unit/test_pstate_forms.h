/* SPDX-License-Identifier: MIT */
/* Building maps in the page-state form tests (test_pstate_format.c,
 * test_pstate_text.c): each step must succeed. */
#ifndef SEVMIG_TEST_PSTATE_FORMS_H
#define SEVMIG_TEST_PSTATE_FORMS_H

#include "testutil.h"

#include <sevmig/pstate.h>

#include "pstate/pstate_impl.h"

static inline struct sevmig_pstate *map_new(void)
{
	struct sevmig_pstate *ps = NULL;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	return ps;
}

static inline void slot(struct sevmig_pstate *ps, uint64_t gfn, uint64_t n)
{
	assert_int_equal(sevmig_pstate_add_slot(ps, gfn, n), 0);
}

static inline void share(struct sevmig_pstate *ps, uint64_t gfn, uint64_t n)
{
	assert_int_equal(sevmig_pstate_set_range(ps, gfn, n, SEVMIG_PAGE_SHARED), 0);
}

/* A map a parser made keeps every invariant of the representation. */
static inline void map_check(const struct sevmig_pstate *ps)
{
	char why[160];
	if (sevmig__pstate_check(ps, why, sizeof(why)))
		fail_msg("broken map: %s", why);
}

/* The state of each listed gfn. */
struct gfn_state {
	uint64_t gfn;
	enum sevmig_page_state st;
};
#define STATES_ARE(ps, ...)                                       \
	states_are(ps, (const struct gfn_state[]){ __VA_ARGS__ }, \
		   sizeof((const struct gfn_state[]){ __VA_ARGS__ }) / sizeof(struct gfn_state))
static inline void states_are(const struct sevmig_pstate *ps, const struct gfn_state *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sevmig_pstate_get(ps, s[i].gfn) != s[i].st)
			fail_msg("gfn 0x%llx: %s, expected %s", (unsigned long long)s[i].gfn,
				 sevmig_page_state_name(sevmig_pstate_get(ps, s[i].gfn)),
				 sevmig_page_state_name(s[i].st));
}
#define SH SEVMIG_PAGE_SHARED
#define PV SEVMIG_PAGE_PRIVATE
#define AB SEVMIG_PAGE_ABSENT

#endif
