/* SPDX-License-Identifier: MIT */
/* The page-state map: lifetime, memslots, updates and queries. */
#include "pstate/pstate_impl.h"
#include "util/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *sevmig_page_state_name(enum sevmig_page_state st)
{
	switch (st) {
	case SEVMIG_PAGE_ABSENT:
		return "absent";
	case SEVMIG_PAGE_PRIVATE:
		return "private";
	case SEVMIG_PAGE_SHARED:
		return "shared";
	}
	return "invalid";
}

/* ---- lifetime -------------------------------------------------------------- */

int sevmig_pstate_new(struct sevmig_pstate **out, struct sevmig_error *err)
{
	if (!out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no map to fill");
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : sevmig__fail(err, -ENOMEM, SEVMIG_NO_OFFSET, 0, "out of memory");
}

void sevmig_pstate_free(struct sevmig_pstate *ps)
{
	if (!ps)
		return;
	free(ps->slots);
	sevmig__ents_free(&ps->sh);
	free(ps);
}

int sevmig__pstate_adopt(struct sevmig__slot *slots, size_t nslots, struct sevmig__ents *sh,
			 struct sevmig_pstate **out)
{
	struct sevmig_pstate *ps = calloc(1, sizeof(*ps));
	if (!ps) {
		free(slots);
		sevmig__ents_free(sh);
		return -ENOMEM;
	}
	ps->slots = slots;
	ps->nslots = ps->slots_cap = nslots;
	ps->sh = *sh;
	*sh = (struct sevmig__ents){ 0 };
	*out = ps;
	return 0;
}

static int clone(const struct sevmig_pstate *ps, struct sevmig_pstate **out);

int sevmig_pstate_clone(const struct sevmig_pstate *ps, struct sevmig_pstate **out,
			struct sevmig_error *err)
{
	if (!ps || !out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no map to copy or to fill");
	int rc = clone(ps, out);
	return rc ? sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "out of memory") : 0;
}

static int clone(const struct sevmig_pstate *ps, struct sevmig_pstate **out)
{
	struct sevmig__slot *slots = NULL;
	struct sevmig__ents sh;
	if (ps->nslots) {
		slots = malloc(ps->nslots * sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		memcpy(slots, ps->slots, ps->nslots * sizeof(*slots));
	}
	if (sevmig__ents_clone(&ps->sh, &sh)) {
		free(slots);
		return -ENOMEM;
	}
	return sevmig__pstate_adopt(slots, ps->nslots, &sh, out);
}

/* ---- coverage ---------------------------------------------------------------- */

size_t sevmig__slot_find(const struct sevmig_pstate *ps, uint64_t gfn)
{
	const struct sevmig__slot *base = ps->slots;
	size_t len = ps->nslots;
	if (!len)
		return 0;
	while (len > 1) {
		size_t half = len / 2;
		base = base[half - 1].end <= gfn ? base + half : base;
		len -= half;
	}
	return (size_t)(base - ps->slots) + (base->end <= gfn);
}

bool sevmig__covered(const struct sevmig_pstate *ps, uint64_t gfn, uint64_t end)
{
	size_t i = sevmig__slot_find(ps, gfn);
	if (i >= ps->nslots || ps->slots[i].gfn > gfn)
		return false;
	/* slot boundaries do not matter: touching slots cover on */
	uint64_t cur = ps->slots[i].end;
	while (cur < end) {
		if (++i >= ps->nslots || ps->slots[i].gfn != cur)
			return false;
		cur = ps->slots[i].end;
	}
	return true;
}

int sevmig__coverage_set(const struct sevmig_pstate *ps, struct sevmig__ents *out)
{
	struct sevmig__builder b;
	sevmig__builder_init(&b);
	for (size_t i = 0; i < ps->nslots; i++)
		sevmig__builder_add(&b, ps->slots[i].gfn, ps->slots[i].end);
	return sevmig__builder_finish(&b, out);
}

int sevmig_pstate_add_slot(struct sevmig_pstate *ps, uint64_t gfn, uint64_t npages)
{
	if (!sevmig__range_valid(gfn, npages))
		return -EINVAL;
	uint64_t end = gfn + npages;
	size_t i = sevmig__slot_find(ps, gfn);
	if (i < ps->nslots && ps->slots[i].gfn < end)
		return -EEXIST;
	if (ps->nslots == ps->slots_cap) {
		size_t cap = ps->slots_cap ? ps->slots_cap * 2 : 4;
		struct sevmig__slot *s = realloc(ps->slots, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		ps->slots = s;
		ps->slots_cap = cap;
	}
	memmove(&ps->slots[i + 1], &ps->slots[i], (ps->nslots - i) * sizeof(*ps->slots));
	ps->slots[i] = (struct sevmig__slot){ gfn, end };
	ps->nslots++;
	return 0;
}

int sevmig_pstate_remove_slot(struct sevmig_pstate *ps, uint64_t gfn, uint64_t npages)
{
	size_t i = sevmig__slot_find(ps, gfn);
	if (i >= ps->nslots || ps->slots[i].gfn != gfn || ps->slots[i].end - gfn != npages)
		return -ENOENT;
	/* the pages forget their state: a slot added there later starts private */
	int rc = sevmig__range_set(ps, gfn, ps->slots[i].end, false);
	if (rc)
		return rc;
	memmove(&ps->slots[i], &ps->slots[i + 1], (ps->nslots - i - 1) * sizeof(*ps->slots));
	ps->nslots--;
	return 0;
}

size_t sevmig_pstate_slot_count(const struct sevmig_pstate *ps)
{
	return ps->nslots;
}

int sevmig_pstate_slot(const struct sevmig_pstate *ps, size_t i, struct sevmig_range *out)
{
	if (i >= ps->nslots)
		return -ERANGE;
	out->gfn = ps->slots[i].gfn;
	out->npages = ps->slots[i].end - ps->slots[i].gfn;
	return 0;
}

/* ---- updates ------------------------------------------------------------------ */

/* The new content of chunk k with [lo, hi) set or cleared, appended to repl. */
static int part_update(const struct sevmig__ents *sh, struct sevmig__ents *repl, uint32_t k,
		       uint32_t lo, uint32_t hi, bool shared, struct sevmig__scratch *s)
{
	size_t i = sevmig__ents_find(sh, k);
	struct sevmig__cview old, rv;
	sevmig__view(i < sh->n && sh->v[i].key <= k ? &sh->v[i] : NULL, &old);
	uint16_t run[2] = { (uint16_t)lo, (uint16_t)(hi - 1) };
	rv = (struct sevmig__cview){ SEVMIG__CTR_RUN, 1, hi - lo, run, NULL };
	sevmig__chunk_op(&old, &rv, shared ? SEVMIG__OR : SEVMIG__ANDNOT, s);
	return sevmig__ents_push_scratch(repl, k, s);
}

/* The common hypercall: one chunk that has a container, updated in place. */
static int range_set_in_place(struct sevmig__ents *sh, size_t i, uint32_t lo, uint32_t hi,
			      bool shared)
{
	struct sevmig__ent *e = &sh->v[i];
	int rc = sevmig__ctr_set(&e->c, lo, hi, shared);
	if (rc)
		return rc;
	if (!e->c->card) {
		free(e->c);
		memmove(e, e + 1, (sh->n - i - 1) * sizeof(*e));
		sh->n--;
	} else if (e->c->card == SEVMIG__CHUNK_PAGES) {
		/* becomes a full span, maybe joining its neighbours */
		free(e->c);
		e->c = NULL;
		sevmig__ents_coalesce(sh, i ? i - 1 : 0, i + 2);
	}
	return 0;
}

int sevmig__range_set(struct sevmig_pstate *ps, uint64_t gfn, uint64_t end, bool shared)
{
	struct sevmig__ents *sh = &ps->sh;
	uint32_t k0 = (uint32_t)(gfn >> SEVMIG__CHUNK_SHIFT);
	uint32_t k1 = (uint32_t)((end - 1) >> SEVMIG__CHUNK_SHIFT);
	uint32_t lo0 = (uint32_t)(gfn & SEVMIG__CHUNK_MASK);

	if (k0 == k1) {
		size_t i = sevmig__ents_find(sh, k0);
		bool here = i < sh->n && sh->v[i].key <= k0;
		if (here && sh->v[i].c)
			return range_set_in_place(sh, i, lo0, lo0 + (uint32_t)(end - gfn), shared);
		if (here == shared)
			return 0; /* already all shared, or already all private */
	}

	/* Build the new content of [k0, k1] aside, then splice it in, so that
	 * a failed allocation changes nothing. */
	struct sevmig__scratch *s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	struct sevmig__ents repl = { 0 };
	int rc;
	if (k0 == k1) {
		rc = part_update(sh, &repl, k0, lo0, lo0 + (uint32_t)(end - gfn), shared, s);
	} else {
		uint32_t kf = k0, hi1 = (uint32_t)(end & SEVMIG__CHUNK_MASK);
		rc = 0;
		if (lo0) {
			rc = part_update(sh, &repl, k0, lo0, SEVMIG__CHUNK_PAGES, shared, s);
			kf++;
		}
		uint32_t kend = hi1 ? k1 : k1 + 1;
		if (!rc && shared && kend > kf)
			rc = sevmig__ents_push(&repl, kf, kend - kf, NULL);
		if (!rc && hi1)
			rc = part_update(sh, &repl, k1, 0, hi1, shared, s);
	}
	free(s);
	if (rc) {
		sevmig__ents_free(&repl);
		return rc;
	}
	return sevmig__ents_splice(sh, k0, k1, &repl);
}

int sevmig_pstate_set_range(struct sevmig_pstate *ps, uint64_t gfn, uint64_t npages,
			    enum sevmig_page_state state)
{
	if (state != SEVMIG_PAGE_SHARED && state != SEVMIG_PAGE_PRIVATE)
		return -EINVAL;
	if (!sevmig__range_valid(gfn, npages))
		return -EINVAL;
	if (!sevmig__covered(ps, gfn, gfn + npages))
		return -ERANGE;
	return sevmig__range_set(ps, gfn, gfn + npages, state == SEVMIG_PAGE_SHARED);
}

/* Take a shared set built by stealing from ps's (when rc is 0). */
static int commit(struct sevmig_pstate *ps, int rc, struct sevmig__ents *res)
{
	if (rc)
		return rc;
	sevmig__ents_release(&ps->sh, res);
	ps->sh = *res;
	return 0;
}

static int cmp_range(const void *x, const void *y)
{
	const struct sevmig_range *a = x, *b = y;
	return a->gfn < b->gfn ? -1 : a->gfn > b->gfn;
}

int sevmig_pstate_reset(struct sevmig_pstate *ps, const struct sevmig_range *keep, size_t nkeep)
{
	size_t n = 0;
	for (size_t i = 0; i < nkeep; i++) {
		if (keep[i].npages > UINT64_MAX - keep[i].gfn)
			return -EINVAL;
		if (keep[i].npages && keep[i].gfn < SEVMIG_GFN_LIMIT)
			n++;
	}
	if (!n) {
		sevmig__ents_free(&ps->sh);
		return 0;
	}
	struct sevmig_range *k = malloc(n * sizeof(*k));
	if (!k)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < nkeep; i++)
		if (keep[i].npages && keep[i].gfn < SEVMIG_GFN_LIMIT)
			k[n++] = keep[i];
	qsort(k, n, sizeof(*k), cmp_range);

	/* the kept pages as a set (overlaps joined, cut at the gfn limit) */
	struct sevmig__builder b;
	sevmig__builder_init(&b);
	uint64_t s = k[0].gfn, e = s;
	for (size_t i = 0; i < n; i++) {
		uint64_t end = k[i].gfn + k[i].npages;
		end = end < SEVMIG_GFN_LIMIT ? end : SEVMIG_GFN_LIMIT;
		if (k[i].gfn > e) {
			sevmig__builder_add(&b, s, e);
			s = k[i].gfn;
		}
		e = end > e ? end : e;
	}
	sevmig__builder_add(&b, s, e);
	free(k);
	struct sevmig__ents kept, res;
	int rc = sevmig__builder_finish(&b, &kept);
	if (rc)
		return rc;
	rc = sevmig__ents_combine(&ps->sh, &kept, SEVMIG__AND, true, &res);
	sevmig__ents_free(&kept);
	return commit(ps, rc, &res);
}

int sevmig_pstate_apply(struct sevmig_pstate *ps, const struct sevmig_pstate *delta)
{
	for (size_t i = 0; i < delta->nslots; i++)
		if (!sevmig__covered(ps, delta->slots[i].gfn, delta->slots[i].end))
			return -ERANGE;
	struct sevmig__ents cov, res;
	int rc = sevmig__coverage_set(delta, &cov);
	if (rc)
		return rc;
	rc = sevmig__ents_overlay(&ps->sh, &cov, &delta->sh, true, &res);
	sevmig__ents_free(&cov);
	return commit(ps, rc, &res);
}

/* ---- queries ----------------------------------------------------------------- */

enum sevmig_page_state sevmig_pstate_get(const struct sevmig_pstate *ps, uint64_t gfn)
{
	size_t i = sevmig__slot_find(ps, gfn);
	if (i >= ps->nslots || ps->slots[i].gfn > gfn)
		return SEVMIG_PAGE_ABSENT;
	return sevmig__ents_test(&ps->sh, gfn) ? SEVMIG_PAGE_SHARED : SEVMIG_PAGE_PRIVATE;
}

/* End of the stretch of touching slots that starts with slot *i. */
static uint64_t stretch(const struct sevmig_pstate *ps, size_t *i)
{
	uint64_t end = ps->slots[*i].end;
	while (++*i < ps->nslots && ps->slots[*i].gfn == end)
		end = ps->slots[*i].end;
	return end;
}

struct stats_ctx {
	uint64_t runs, largest, first, last;
};

static int stats_run(void *ctx, uint64_t first, uint64_t end)
{
	struct stats_ctx *x = ctx;
	if (!x->runs)
		x->first = first;
	x->runs++;
	x->last = end;
	if (end - first > x->largest)
		x->largest = end - first;
	return 0;
}

void sevmig_pstate_stats(const struct sevmig_pstate *ps, struct sevmig_pstate_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->slots = ps->nslots;
	for (size_t i = 0; i < ps->nslots;) {
		uint64_t s = ps->slots[i].gfn, e = stretch(ps, &i);
		struct stats_ctx x = { 0, 0, 0, 0 };
		/* shared runs never leave a stretch: shared pages are covered */
		(void)sevmig__shared_runs(&ps->sh, s, e, stats_run, &x);
		st->covered_pages += e - s;
		st->shared_runs += x.runs;
		if (x.largest > st->largest_shared_run)
			st->largest_shared_run = x.largest;
		st->private_runs += x.runs ? x.runs + 1 - (x.first == s) - (x.last == e) : 1;
	}
	st->shared_pages = sevmig__ents_card(&ps->sh);
	st->private_pages = st->covered_pages - st->shared_pages;
	st->memory_bytes =
	    sizeof(*ps) + ps->slots_cap * sizeof(*ps->slots) + sevmig__ents_bytes(&ps->sh);
}

struct walk_ctx {
	sevmig_run_fn fn;
	void *arg;
	uint64_t pos; /* private walk: end of the last shared run */
};

static int walk_shared(void *ctx, uint64_t first, uint64_t end)
{
	struct walk_ctx *x = ctx;
	return x->fn(x->arg, first, end - first);
}

static int walk_gap(void *ctx, uint64_t first, uint64_t end)
{
	struct walk_ctx *x = ctx;
	int rc = first > x->pos ? x->fn(x->arg, x->pos, first - x->pos) : 0;
	x->pos = end;
	return rc;
}

int sevmig_pstate_walk(const struct sevmig_pstate *ps, uint64_t gfn, uint64_t npages,
		       enum sevmig_page_state state, sevmig_run_fn fn, void *arg)
{
	if (state != SEVMIG_PAGE_SHARED && state != SEVMIG_PAGE_PRIVATE)
		return -EINVAL;
	if (npages > UINT64_MAX - gfn)
		return -EINVAL;
	uint64_t end = gfn + npages;
	struct walk_ctx x = { fn, arg, 0 };
	if (state == SEVMIG_PAGE_SHARED)
		return sevmig__shared_runs(&ps->sh, gfn, end, walk_shared, &x);
	for (size_t i = sevmig__slot_find(ps, gfn); i < ps->nslots && ps->slots[i].gfn < end;) {
		uint64_t s = ps->slots[i].gfn, e = stretch(ps, &i);
		s = s > gfn ? s : gfn;
		e = e < end ? e : end;
		x.pos = s;
		int rc = sevmig__shared_runs(&ps->sh, s, e, walk_gap, &x);
		if (!rc && x.pos < e)
			rc = fn(arg, x.pos, e - x.pos);
		if (rc)
			return rc;
	}
	return 0;
}
