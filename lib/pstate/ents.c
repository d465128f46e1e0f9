/* SPDX-License-Identifier: MIT */
/*
 * Sets of shared pages as sorted chunk entries: building, splicing, walking
 * two sets side by side, and the set operations built on that walk.
 */
#include "pstate/pstate_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FULL_PAGES(span) ((uint64_t)(span) << SEVMIG__CHUNK_SHIFT)

/* ---- entry arrays --------------------------------------------------------- */

void sevmig__ents_release(struct sevmig__ents *victim, const struct sevmig__ents *keeper)
{
	size_t j = 0;
	for (size_t i = 0; i < victim->n; i++) {
		struct sevmig__ctr *c = victim->v[i].c;
		if (!c)
			continue;
		if (keeper) {
			uint32_t k = victim->v[i].key;
			while (j < keeper->n && keeper->v[j].key < k)
				j++;
			if (j < keeper->n && keeper->v[j].key == k && keeper->v[j].c == c)
				continue;
		}
		free(c);
	}
	free(victim->v);
	victim->v = NULL;
	victim->n = victim->cap = 0;
}

void sevmig__ents_free(struct sevmig__ents *e)
{
	sevmig__ents_release(e, NULL);
}

int sevmig__ents_reserve(struct sevmig__ents *e, size_t more)
{
	if (more <= e->cap - e->n)
		return 0;
	if (more > SIZE_MAX / sizeof(*e->v) - e->n)
		return -ENOMEM;
	size_t need = e->n + more;
	size_t cap = e->cap ? e->cap : 4;
	while (cap < need)
		cap = cap > SIZE_MAX / sizeof(*e->v) / 2 ? need : cap * 2;
	struct sevmig__ent *v = realloc(e->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	e->v = v;
	e->cap = cap;
	return 0;
}

/* Give back the spare room of a finished set (best effort). */
static void ents_shrink(struct sevmig__ents *e)
{
	if (e->n && e->n < e->cap) {
		struct sevmig__ent *v = realloc(e->v, e->n * sizeof(*v));
		if (v) {
			e->v = v;
			e->cap = e->n;
		}
	}
}

int sevmig__ents_push(struct sevmig__ents *e, uint32_t key, uint32_t span, struct sevmig__ctr *c)
{
	if (!c && e->n) {
		struct sevmig__ent *last = &e->v[e->n - 1];
		if (!last->c && last->key + last->span == key) {
			last->span += span;
			return 0;
		}
	}
	int rc = sevmig__ents_reserve(e, 1);
	if (rc)
		return rc;
	e->v[e->n++] = (struct sevmig__ent){ key, span, c };
	return 0;
}

/* Branch-free binary search: random queries would mispredict every step. */
size_t sevmig__ents_find(const struct sevmig__ents *e, uint64_t key)
{
	const struct sevmig__ent *v = e->v, *base = v;
	size_t len = e->n;
	if (!len)
		return 0;
	while (len > 1) {
		size_t half = len / 2;
		base =
		    (uint64_t)base[half - 1].key + base[half - 1].span <= key ? base + half : base;
		len -= half;
	}
	return (size_t)(base - v) + ((uint64_t)base->key + base->span <= key);
}

uint64_t sevmig__ents_card(const struct sevmig__ents *e)
{
	uint64_t n = 0;
	for (size_t i = 0; i < e->n; i++)
		n += e->v[i].c ? e->v[i].c->card : FULL_PAGES(e->v[i].span);
	return n;
}

size_t sevmig__ents_bytes(const struct sevmig__ents *e)
{
	size_t n = e->cap * sizeof(*e->v);
	for (size_t i = 0; i < e->n; i++)
		if (e->v[i].c)
			n += sevmig__ctr_bytes(e->v[i].c);
	return n;
}

int sevmig__ents_clone(const struct sevmig__ents *src, struct sevmig__ents *dst)
{
	struct sevmig__ents out = { 0 };
	if (src->n && sevmig__ents_reserve(&out, src->n))
		return -ENOMEM;
	for (size_t i = 0; i < src->n; i++) {
		struct sevmig__ent e = src->v[i];
		if (e.c && !(e.c = sevmig__ctr_clone(e.c))) {
			sevmig__ents_free(&out);
			return -ENOMEM;
		}
		out.v[out.n++] = e;
	}
	*dst = out;
	return 0;
}

bool sevmig__ents_test(const struct sevmig__ents *e, uint64_t gfn)
{
	uint64_t key = gfn >> SEVMIG__CHUNK_SHIFT;
	size_t i = sevmig__ents_find(e, key);
	if (i >= e->n || e->v[i].key > key)
		return false;
	return !e->v[i].c || sevmig__ctr_test(e->v[i].c, (uint32_t)(gfn & SEVMIG__CHUNK_MASK));
}

void sevmig__ents_coalesce(struct sevmig__ents *e, size_t lo, size_t hi)
{
	if (hi > e->n)
		hi = e->n;
	if (hi <= lo + 1)
		return;
	size_t w = lo;
	for (size_t r = lo + 1; r < hi; r++) {
		struct sevmig__ent *p = &e->v[w];
		if (!p->c && !e->v[r].c && p->key + p->span == e->v[r].key)
			p->span += e->v[r].span;
		else
			e->v[++w] = e->v[r];
	}
	size_t gone = hi - 1 - w;
	if (gone) {
		memmove(&e->v[w + 1], &e->v[hi], (e->n - hi) * sizeof(*e->v));
		e->n -= gone;
	}
}

int sevmig__ents_splice(struct sevmig__ents *e, uint32_t k0, uint32_t k1, struct sevmig__ents *repl)
{
	size_t i0 = sevmig__ents_find(e, k0), i1 = i0;
	while (i1 < e->n && e->v[i1].key <= k1)
		i1++;
	/* full spans reaching out of [k0, k1] keep their outer parts */
	struct sevmig__ent lrem = { 0 }, rrem = { 0 };
	bool L = i0 < i1 && e->v[i0].key < k0;
	bool R = i0 < i1 && (uint64_t)e->v[i1 - 1].key + e->v[i1 - 1].span - 1 > k1;
	if (L)
		lrem = (struct sevmig__ent){ e->v[i0].key, k0 - e->v[i0].key, NULL };
	if (R) {
		uint32_t end = e->v[i1 - 1].key + e->v[i1 - 1].span;
		rrem = (struct sevmig__ent){ k1 + 1, end - (k1 + 1), NULL };
	}
	size_t m = (size_t)L + repl->n + (size_t)R;
	if (m > i1 - i0 && sevmig__ents_reserve(e, m - (i1 - i0))) {
		sevmig__ents_free(repl);
		return -ENOMEM;
	}

	if (!e->n && !m) { /* nothing was there and nothing comes */
		free(repl->v);
		*repl = (struct sevmig__ents){ 0 };
		return 0;
	}
	for (size_t i = i0; i < i1; i++)
		free(e->v[i].c);
	memmove(&e->v[i0 + m], &e->v[i1], (e->n - i1) * sizeof(*e->v));
	size_t w = i0;
	if (L)
		e->v[w++] = lrem;
	if (repl->n)
		memcpy(&e->v[w], repl->v, repl->n * sizeof(*e->v));
	w += repl->n;
	if (R)
		e->v[w++] = rrem;
	e->n = e->n - (i1 - i0) + m;
	free(repl->v);
	*repl = (struct sevmig__ents){ 0 };
	sevmig__ents_coalesce(e, i0 ? i0 - 1 : 0, i0 + m + 1);
	return 0;
}

/* ---- building from runs ---------------------------------------------------- */

void sevmig__builder_init(struct sevmig__builder *b)
{
	b->out = (struct sevmig__ents){ 0 };
	b->key = UINT64_MAX;
	b->n = b->card = b->last_end = 0;
	b->in_words = false;
	b->err = 0;
	b->words = NULL;
}

static void builder_flush(struct sevmig__builder *b)
{
	if (b->key == UINT64_MAX || b->err)
		return;
	struct sevmig__ctr *c = NULL;
	if (b->card != SEVMIG__CHUNK_PAGES) {
		c = b->in_words ? sevmig__ctr_from_words(b->words, b->card, b->n)
				: sevmig__ctr_from_runs(b->runs, b->n, b->card);
		if (!c) {
			b->err = -ENOMEM;
			return;
		}
	}
	if (sevmig__ents_push(&b->out, (uint32_t)b->key, 1, c)) {
		free(c);
		b->err = -ENOMEM;
	}
	b->key = UINT64_MAX;
	b->n = b->card = 0;
	b->in_words = false;
}

static void builder_chunk_add(struct sevmig__builder *b, uint32_t lo, uint32_t hi)
{
	b->card += hi - lo;
	if (b->n && b->last_end == lo) {
		if (b->in_words)
			sevmig__words_fill(b->words, lo, hi, true);
		else
			b->runs[2 * (b->n - 1) + 1] = (uint16_t)(hi - 1);
		b->last_end = hi;
		return;
	}
	if (!b->in_words && b->n == SEVMIG__RUN_MAX) {
		if (!b->words && !(b->words = malloc(SEVMIG__CHUNK_WORDS * sizeof(uint64_t)))) {
			b->err = -ENOMEM;
			return;
		}
		memset(b->words, 0, SEVMIG__CHUNK_WORDS * sizeof(uint64_t));
		for (uint32_t i = 0; i < b->n; i++)
			sevmig__words_fill(b->words, b->runs[2 * i], b->runs[2 * i + 1] + 1u, true);
		b->in_words = true;
	}
	if (b->in_words) {
		sevmig__words_fill(b->words, lo, hi, true);
	} else {
		b->runs[2 * b->n] = (uint16_t)lo;
		b->runs[2 * b->n + 1] = (uint16_t)(hi - 1);
	}
	b->n++;
	b->last_end = hi;
}

void sevmig__builder_add(struct sevmig__builder *b, uint64_t first, uint64_t end)
{
	while (first < end && !b->err) {
		uint64_t k = first >> SEVMIG__CHUNK_SHIFT;
		uint32_t lo = (uint32_t)(first & SEVMIG__CHUNK_MASK);
		if (!lo && end - first >= SEVMIG__CHUNK_PAGES) {
			uint64_t nfull = (end - first) >> SEVMIG__CHUNK_SHIFT;
			builder_flush(b);
			if (!b->err &&
			    sevmig__ents_push(&b->out, (uint32_t)k, (uint32_t)nfull, NULL))
				b->err = -ENOMEM;
			first += nfull << SEVMIG__CHUNK_SHIFT;
			continue;
		}
		uint32_t hi = end - first >= SEVMIG__CHUNK_PAGES - lo
				  ? SEVMIG__CHUNK_PAGES
				  : lo + (uint32_t)(end - first);
		if (b->key != k) {
			builder_flush(b);
			b->key = k;
		}
		builder_chunk_add(b, lo, hi);
		first = (k << SEVMIG__CHUNK_SHIFT) + hi;
	}
}

int sevmig__builder_finish(struct sevmig__builder *b, struct sevmig__ents *out)
{
	builder_flush(b);
	free(b->words);
	b->words = NULL;
	if (b->err) {
		sevmig__ents_free(&b->out);
		return b->err;
	}
	ents_shrink(&b->out);
	*out = b->out;
	b->out = (struct sevmig__ents){ 0 };
	return 0;
}

/* ---- walking two sets ------------------------------------------------------ */

int sevmig__pair_walk(const struct sevmig__ents *a, const struct sevmig__ents *b, uint64_t klo,
		      uint64_t khi, const struct sevmig__pair_ops *ops, void *ctx)
{
	size_t ia = sevmig__ents_find(a, klo), ib = sevmig__ents_find(b, klo);
	uint64_t k = klo;
	while (k < khi) {
		if (ia < a->n && ib < b->n) {
			/* the common case first: both hold a container for the same
			 * chunk (all chunks before it are done on both sides) */
			const struct sevmig__ent *ea = &a->v[ia], *eb = &b->v[ib];
			if (ea->key == eb->key && ea->key >= k && ea->c && eb->c) {
				if (ea->key >= khi)
					break;
				if (!ops->skip_same || !sevmig__ctr_same(ea->c, eb->c)) {
					int rc = ops->key(ctx, ea->key, ea, eb);
					if (rc)
						return rc;
				}
				k = (uint64_t)ea->key + 1;
				ia++;
				ib++;
				continue;
			}
		}
		while (ia < a->n && (uint64_t)a->v[ia].key + a->v[ia].span <= k)
			ia++;
		while (ib < b->n && (uint64_t)b->v[ib].key + b->v[ib].span <= k)
			ib++;
		uint64_t sa = ia < a->n ? a->v[ia].key : UINT64_MAX;
		uint64_t sb = ib < b->n ? b->v[ib].key : UINT64_MAX;
		if (sa > k && sb > k) {
			k = sa < sb ? sa : sb;
			continue;
		}
		const struct sevmig__ent *ea = sa <= k ? &a->v[ia] : NULL;
		const struct sevmig__ent *eb = sb <= k ? &b->v[ib] : NULL;
		int rc;
		if ((!ea || !ea->c) && (!eb || !eb->c)) {
			/* full or empty on both sides: one call for the stretch */
			uint64_t end = khi;
			uint64_t ea_end = ea ? (uint64_t)ea->key + ea->span : sa;
			uint64_t eb_end = eb ? (uint64_t)eb->key + eb->span : sb;
			end = ea_end < end ? ea_end : end;
			end = eb_end < end ? eb_end : end;
			rc = ops->block(ctx, (uint32_t)k, (uint32_t)(end - k), ea != NULL,
					eb != NULL);
			k = end;
		} else {
			rc = ops->key(ctx, (uint32_t)k, ea, eb);
			k++;
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- set operations --------------------------------------------------------- */

struct combine_ctx {
	struct sevmig__ents *out;
	enum sevmig__op op;
	bool steal_a;
	struct sevmig__scratch s;
};

/* Push a copy of (or, stealing, the very) content of e at key k. */
static int push_content(struct sevmig__ents *out, uint32_t k, const struct sevmig__ent *e,
			bool steal)
{
	if (!e->c)
		return sevmig__ents_push(out, k, 1, NULL);
	struct sevmig__ctr *c = steal ? e->c : sevmig__ctr_clone(e->c);
	if (!c)
		return -ENOMEM;
	int rc = sevmig__ents_push(out, k, 1, c);
	if (rc && !steal)
		free(c);
	return rc;
}

int sevmig__ents_push_scratch(struct sevmig__ents *out, uint32_t k, const struct sevmig__scratch *s)
{
	struct sevmig__ctr *c;
	int st = sevmig__scratch_store(s, &c);
	if (st <= SEVMIG__EMPTY)
		return st;
	int rc = sevmig__ents_push(out, k, 1, c);
	if (rc)
		free(c);
	return rc;
}

static int combine_block(void *ctx, uint32_t k, uint32_t len, bool a_full, bool b_full)
{
	struct combine_ctx *x = ctx;
	bool v = x->op == SEVMIG__OR ? a_full || b_full : a_full && b_full;
	return v ? sevmig__ents_push(x->out, k, len, NULL) : 0;
}

static int combine_key(void *ctx, uint32_t k, const struct sevmig__ent *ea,
		       const struct sevmig__ent *eb)
{
	struct combine_ctx *x = ctx;
	bool is_or = x->op == SEVMIG__OR;
	if (!ea)
		return is_or ? push_content(x->out, k, eb, false) : 0;
	if (!eb)
		return is_or ? push_content(x->out, k, ea, x->steal_a) : 0;
	if (ea->c && eb->c && sevmig__ctr_same(ea->c, eb->c))
		return push_content(x->out, k, ea, x->steal_a);
	struct sevmig__cview va, vb;
	sevmig__view(ea, &va);
	sevmig__view(eb, &vb);
	sevmig__chunk_op(&va, &vb, x->op, &x->s);
	return sevmig__ents_push_scratch(x->out, k, &x->s);
}

static const struct sevmig__pair_ops combine_ops = { combine_block, combine_key, false };

static int finish_set(int rc, struct sevmig__ents *res, const struct sevmig__ents *a, bool steal_a,
		      struct sevmig__ents *out)
{
	if (rc) {
		sevmig__ents_release(res, steal_a ? a : NULL);
		return rc;
	}
	ents_shrink(res);
	*out = *res;
	return 0;
}

int sevmig__ents_combine(const struct sevmig__ents *a, const struct sevmig__ents *b,
			 enum sevmig__op op, bool steal_a, struct sevmig__ents *out)
{
	struct sevmig__ents res = { 0 };
	struct combine_ctx x = { &res, op, steal_a }; /* scratch space: 9 KiB of stack */
	int rc = sevmig__pair_walk(a, b, 0, UINT64_MAX, &combine_ops, &x);
	return finish_set(rc, &res, a, steal_a, out);
}

struct overlay_ctx {
	struct sevmig__ents *out;
	const struct sevmig__ents *d;
	size_t id;
	bool steal_a;
	struct sevmig__scratch s1, s2;
};

static const struct sevmig__ent *overlay_d_at(struct overlay_ctx *x, uint32_t k)
{
	const struct sevmig__ents *d = x->d;
	while (x->id < d->n && (uint64_t)d->v[x->id].key + d->v[x->id].span <= k)
		x->id++;
	return x->id < d->n && d->v[x->id].key <= k ? &d->v[x->id] : NULL;
}

static int overlay_block(void *ctx, uint32_t k, uint32_t len, bool a_full, bool c_full)
{
	struct overlay_ctx *x = ctx;
	if (!c_full)
		return a_full ? sevmig__ents_push(x->out, k, len, NULL) : 0;
	/* c covers the stretch: it holds exactly d's content there */
	uint64_t end = (uint64_t)k + len;
	overlay_d_at(x, k);
	for (size_t i = x->id; i < x->d->n && x->d->v[i].key < end; i++) {
		const struct sevmig__ent *e = &x->d->v[i];
		int rc;
		if (!e->c) {
			uint64_t s = e->key > k ? e->key : k;
			uint64_t t = (uint64_t)e->key + e->span;
			t = t < end ? t : end;
			rc = sevmig__ents_push(x->out, (uint32_t)s, (uint32_t)(t - s), NULL);
		} else {
			rc = push_content(x->out, e->key, e, false);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int overlay_key(void *ctx, uint32_t k, const struct sevmig__ent *ea,
		       const struct sevmig__ent *ec)
{
	struct overlay_ctx *x = ctx;
	if (!ec)
		return push_content(x->out, k, ea, x->steal_a);
	const struct sevmig__ent *ed = overlay_d_at(x, k);
	if (!ec->c || !ea)
		return ed ? push_content(x->out, k, ed, false) : 0;
	struct sevmig__cview va, vc, vs, vd;
	sevmig__view(ea, &va);
	sevmig__view(ec, &vc);
	sevmig__chunk_op(&va, &vc, SEVMIG__ANDNOT, &x->s1);
	if (!ed)
		return sevmig__ents_push_scratch(x->out, k, &x->s1);
	sevmig__view_scratch(&x->s1, &vs);
	sevmig__view(ed, &vd);
	sevmig__chunk_op(&vs, &vd, SEVMIG__OR, &x->s2);
	return sevmig__ents_push_scratch(x->out, k, &x->s2);
}

static const struct sevmig__pair_ops overlay_ops = { overlay_block, overlay_key, false };

int sevmig__ents_overlay(const struct sevmig__ents *a, const struct sevmig__ents *c,
			 const struct sevmig__ents *d, bool steal_a, struct sevmig__ents *out)
{
	struct sevmig__ents res = { 0 };
	struct overlay_ctx x = { &res, d, 0, steal_a }; /* scratch space: 18 KiB of stack */
	int rc = sevmig__pair_walk(a, c, 0, UINT64_MAX, &overlay_ops, &x);
	return finish_set(rc, &res, a, steal_a, out);
}

/* ---- runs ------------------------------------------------------------------ */

struct run_emit {
	sevmig__run_cb fn;
	void *ctx;
	uint64_t lo, hi;
	uint64_t ps, pe;
	bool have;
};

/* Clip to [lo, hi) and join runs that touch across chunks. */
static inline int run_put(struct run_emit *r, uint64_t s, uint64_t e)
{
	s = s < r->lo ? r->lo : s;
	e = e > r->hi ? r->hi : e;
	if (s >= e)
		return 0;
	if (r->have && r->pe == s) {
		r->pe = e;
		return 0;
	}
	if (r->have) {
		int rc = r->fn(r->ctx, r->ps, r->pe);
		if (rc)
			return rc;
	}
	r->ps = s;
	r->pe = e;
	r->have = true;
	return 0;
}

static int chunk_runs(struct run_emit *r, const struct sevmig__ctr *c, uint64_t base)
{
	uint32_t clo = r->lo > base ? (uint32_t)(r->lo - base) : 0;
	uint32_t chi =
	    r->hi - base < SEVMIG__CHUNK_PAGES ? (uint32_t)(r->hi - base) : SEVMIG__CHUNK_PAGES;
	int rc = 0;
	if (c->kind == SEVMIG__CTR_RUN) {
		const uint16_t *p = (const uint16_t *)c->data;
		uint32_t i = 0;
		while (i < c->nruns && p[2 * i + 1] < clo)
			i++;
		for (; i < c->nruns && p[2 * i] < chi && !rc; i++)
			rc = run_put(r, base + p[2 * i], base + p[2 * i + 1] + 1);
		return rc;
	}
	uint32_t f, e;
	while (!rc && sevmig__words_next_run(c->data, clo, chi, &f, &e)) {
		rc = run_put(r, base + f, base + e);
		clo = e;
	}
	return rc;
}

int sevmig__shared_runs(const struct sevmig__ents *e, uint64_t lo, uint64_t hi, sevmig__run_cb fn,
			void *ctx)
{
	if (lo >= hi)
		return 0;
	struct run_emit r = { fn, ctx, lo, hi, 0, 0, false };
	for (size_t i = sevmig__ents_find(e, lo >> SEVMIG__CHUNK_SHIFT); i < e->n; i++) {
		const struct sevmig__ent *x = &e->v[i];
		uint64_t base = (uint64_t)x->key << SEVMIG__CHUNK_SHIFT;
		if (base >= hi)
			break;
		int rc = x->c ? chunk_runs(&r, x->c, base)
			      : run_put(&r, base, base + FULL_PAGES(x->span));
		if (rc)
			return rc;
	}
	return r.have ? fn(ctx, r.ps, r.pe) : 0;
}
