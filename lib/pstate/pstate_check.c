/* SPDX-License-Identifier: MIT */
/*
 * Checks every invariant of a map's representation (pstate_impl.h): for
 * tests and fuzz targets, which must find a broken map even when every
 * public answer still looks right.
 */
#include "pstate/pstate_impl.h"
#include "util/error.h"

struct check_ctx {
	const struct sevmig_pstate *ps;
	uint64_t first, end;
};

static int check_covered(void *arg, uint64_t first, uint64_t end)
{
	struct check_ctx *x = arg;
	if (!sevmig__covered(x->ps, first, end)) {
		x->first = first;
		x->end = end;
		return 1;
	}
	return 0;
}

static const char *check_ctr(const struct sevmig__ctr *c)
{
	if (c->card == 0 || c->card >= SEVMIG__CHUNK_PAGES)
		return "container is empty or full";
	if (c->kind == SEVMIG__CTR_BITMAP) {
		uint32_t card, runs;
		sevmig__words_count(c->data, SEVMIG__CHUNK_WORDS, 0, &card, &runs);
		if (card != c->card || runs != c->nruns)
			return "bitmap container counts are wrong";
		return NULL;
	}
	if (c->kind == SEVMIG__CTR_ARRAY) {
		if (c->card > SEVMIG__ARRAY_MAX || c->card > c->cap)
			return "array container is too big for its kind or its allocation";
		uint32_t runs = sevmig__vals_nruns((const uint16_t *)c->data, c->card);
		if (!runs)
			return "array container offsets are not strictly increasing";
		return runs == c->nruns ? NULL : "array container run count is wrong";
	}
	if (c->kind != SEVMIG__CTR_RUN)
		return "unknown container kind";
	if (!c->nruns || c->nruns > c->cap || c->nruns > SEVMIG__RUN_MAX)
		return "run container has a bad run count";
	const uint16_t *r = (const uint16_t *)c->data;
	uint32_t card = 0;
	for (uint32_t i = 0; i < c->nruns; i++) {
		if (r[2 * i] > r[2 * i + 1])
			return "run container has a reversed run";
		if (i && r[2 * i] <= r[2 * i - 1] + 1u)
			return "run container runs are not sorted, disjoint and maximal";
		card += r[2 * i + 1] - r[2 * i] + 1u;
	}
	return card == c->card ? NULL : "run container card is wrong";
}

int sevmig__pstate_check(const struct sevmig_pstate *ps, char *why, size_t len)
{
	const char *bad = NULL;
	size_t at = 0;
	for (size_t i = 0; i < ps->nslots && !bad; i++) {
		const struct sevmig__slot *s = &ps->slots[i];
		at = i;
		if (s->gfn >= s->end || s->end > SEVMIG_GFN_LIMIT)
			bad = "slot is empty, reversed or past the gfn limit";
		else if (i && s->gfn < ps->slots[i - 1].end)
			bad = "slots overlap or are out of order";
	}
	if (!bad && ps->nslots > ps->slots_cap)
		bad = "more slots than allocated";
	const struct sevmig__ents *e = &ps->sh;
	for (size_t i = 0; i < e->n && !bad; i++) {
		const struct sevmig__ent *x = &e->v[i];
		at = i;
		if (!x->span || (uint64_t)x->key + x->span > SEVMIG__KEY_LIMIT)
			bad = "entry span is empty or past the gfn limit";
		else if (i && (uint64_t)e->v[i - 1].key + e->v[i - 1].span > x->key)
			bad = "entries overlap or are out of order";
		else if (i && !x->c && !e->v[i - 1].c &&
			 e->v[i - 1].key + e->v[i - 1].span == x->key)
			bad = "full spans touch: not joined";
		else if (x->c && x->span != 1)
			bad = "container entry spans more than one chunk";
		else if (x->c)
			bad = check_ctr(x->c);
	}
	if (!bad && e->n > e->cap)
		bad = "more entries than allocated";
	if (!bad) {
		struct check_ctx x = { ps, 0, 0 };
		if (sevmig__shared_runs(e, 0, SEVMIG_GFN_LIMIT, check_covered, &x)) {
			sevmig__msg(why, len, "shared run [0x%llx, 0x%llx) is not covered",
				    (unsigned long long)x.first, (unsigned long long)x.end);
			return -1;
		}
		return 0;
	}
	sevmig__msg(why, len, "%s (at %zu)", bad, at);
	return -1;
}
