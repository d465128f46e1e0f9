/* SPDX-License-Identifier: MIT */
/*
 * Chunk containers of the page-state map (65536 pages each): RUN and BITMAP
 * containers, runs from words and back, and the operations between two
 * chunks. The counting word loops are in word_ops.c.
 */
#include "pstate/pstate_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WORDS_BYTES (SEVMIG__CHUNK_WORDS * sizeof(uint64_t))

static const uint16_t full_runs[2] = { 0, 0xffff };
const struct sevmig__cview sevmig__full_view = { SEVMIG__CTR_RUN, 1, SEVMIG__CHUNK_PAGES, full_runs,
						 NULL };
const struct sevmig__cview sevmig__empty_view = { SEVMIG__CTR_RUN, 0, 0, full_runs, NULL };

/* ---- runs from words ------------------------------------------------------ */

uint32_t sevmig__words_to_runs(const uint64_t *w, uint16_t *runs)
{
	uint32_t n = 0, start = 0;
	uint64_t open = 0; /* 1 inside a run */
	for (uint32_t i = 0; i < SEVMIG__CHUNK_WORDS; i++) {
		if (!open && !(i & 7) &&
		    !(w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] |
		      w[i + 7])) {
			i += 7; /* sparse chunks: eight empty words at a time */
			continue;
		}
		uint64_t x = w[i];
		if (x == 0 - open)
			continue; /* no run starts or ends in this word */
		/* bit j set where bit j differs from the bit below it */
		uint64_t t = x ^ ((x << 1) | open);
		while (t) {
			uint32_t p = i * 64 + (uint32_t)__builtin_ctzll(t);
			t &= t - 1;
			if (!open) {
				start = p;
			} else {
				runs[2 * n] = (uint16_t)start;
				runs[2 * n + 1] = (uint16_t)(p - 1);
				n++;
			}
			open ^= 1;
		}
	}
	if (open) {
		runs[2 * n] = (uint16_t)start;
		runs[2 * n + 1] = 0xffff;
		n++;
	}
	return n;
}

uint32_t sevmig__words_to_runs_edges(const uint64_t *w, const uint64_t *edges, uint16_t *runs)
{
	uint32_t n = 0;
	for (uint32_t h = 0; h < SEVMIG__CHUNK_WORDS / 64; h++) {
		for (uint64_t e = edges[h]; e; e &= e - 1) {
			uint32_t i = h * 64 + (uint32_t)__builtin_ctzll(e);
			uint64_t x = w[i], below = i ? w[i - 1] >> 63 : 0;
			for (uint64_t t = x ^ ((x << 1) | below); t; t &= t - 1) {
				uint32_t b = (uint32_t)__builtin_ctzll(t), p = i * 64 + b;
				if ((x >> b) & 1) { /* set above a clear bit: a start */
					runs[2 * n] = (uint16_t)p;
				} else {
					runs[2 * n + 1] = (uint16_t)(p - 1);
					n++;
				}
			}
		}
	}
	if (w[SEVMIG__CHUNK_WORDS - 1] >> 63) {
		runs[2 * n + 1] = 0xffff; /* the last run reaches the chunk's end */
		n++;
	}
	return n;
}

static void runs_to_words(const uint16_t *runs, uint32_t n, uint64_t *w)
{
	memset(w, 0, WORDS_BYTES);
	for (uint32_t i = 0; i < n; i++)
		sevmig__words_fill(w, runs[2 * i], runs[2 * i + 1] + 1u, true);
}

/* ---- views -------------------------------------------------------------- */

void sevmig__view(const struct sevmig__ent *e, struct sevmig__cview *v)
{
	if (!e) {
		*v = sevmig__empty_view;
		return;
	}
	if (!e->c) {
		*v = sevmig__full_view;
		return;
	}
	const struct sevmig__ctr *c = e->c;
	v->kind = c->kind;
	v->nruns = c->nruns;
	v->card = c->card;
	v->runs = c->kind == SEVMIG__CTR_RUN ? (const uint16_t *)c->data : NULL;
	v->words = c->kind == SEVMIG__CTR_BITMAP ? c->data : NULL;
}

void sevmig__view_scratch(const struct sevmig__scratch *s, struct sevmig__cview *v)
{
	v->kind = s->kind;
	v->nruns = s->nruns;
	v->card = s->card;
	v->runs = s->runs;
	v->words = s->words;
}

const uint64_t *sevmig__view_words(const struct sevmig__cview *v, uint64_t *buf)
{
	if (v->kind == SEVMIG__CTR_BITMAP)
		return v->words;
	runs_to_words(v->runs, v->nruns, buf);
	return buf;
}

/* ---- containers ----------------------------------------------------------- */

static size_t ctr_size(uint16_t kind, uint32_t cap)
{
	return sizeof(struct sevmig__ctr) +
	       (kind == SEVMIG__CTR_RUN ? (size_t)cap * 2 * sizeof(uint16_t) : WORDS_BYTES);
}

static struct sevmig__ctr *ctr_alloc(uint16_t kind, uint32_t cap)
{
	struct sevmig__ctr *c = malloc(ctr_size(kind, cap));
	if (!c)
		return NULL;
	c->kind = kind;
	c->cap = kind == SEVMIG__CTR_RUN ? (uint16_t)cap : 0;
	c->pad_ = 0;
	return c;
}

size_t sevmig__ctr_bytes(const struct sevmig__ctr *c)
{
	return ctr_size(c->kind, c->cap);
}

struct sevmig__ctr *sevmig__ctr_clone(const struct sevmig__ctr *c)
{
	/* a clone gets no spare capacity: memory follows the runs */
	uint32_t cap = c->kind == SEVMIG__CTR_RUN ? c->nruns : 0;
	struct sevmig__ctr *n = ctr_alloc(c->kind, cap);
	if (!n)
		return NULL;
	n->card = c->card;
	n->nruns = c->nruns;
	memcpy(n->data, c->data, ctr_size(c->kind, cap) - sizeof(*c));
	return n;
}

struct sevmig__ctr *sevmig__ctr_from_runs(const uint16_t *runs, uint32_t nruns, uint32_t card)
{
	struct sevmig__ctr *c = ctr_alloc(SEVMIG__CTR_RUN, nruns);
	if (c) {
		memcpy(c->data, runs, (size_t)nruns * 2 * sizeof(uint16_t));
		c->card = card;
		c->nruns = nruns;
	}
	return c;
}

struct sevmig__ctr *sevmig__ctr_new_bitmap(void)
{
	return ctr_alloc(SEVMIG__CTR_BITMAP, 0);
}

struct sevmig__ctr *sevmig__ctr_from_words(const uint64_t *w, uint32_t card, uint32_t nruns,
					   const uint64_t *edges)
{
	struct sevmig__ctr *c;
	if (nruns <= SEVMIG__RUN_MAX) {
		c = ctr_alloc(SEVMIG__CTR_RUN, nruns);
		if (c && edges)
			sevmig__words_to_runs_edges(w, edges, sevmig__ctr_runs(c));
		else if (c)
			sevmig__words_to_runs(w, sevmig__ctr_runs(c));
	} else {
		c = ctr_alloc(SEVMIG__CTR_BITMAP, 0);
		if (c)
			memcpy(c->data, w, WORDS_BYTES);
	}
	if (c) {
		c->card = card;
		c->nruns = nruns;
	}
	return c;
}

/* First run whose last page is at or after x. */
static uint32_t run_lower(const uint16_t *r, uint32_t n, uint32_t x)
{
	uint32_t base = 0, len = n;
	if (!len)
		return 0;
	while (len > 1) {
		uint32_t half = len / 2;
		base = r[2 * (base + half - 1) + 1] < x ? base + half : base;
		len -= half;
	}
	return base + (r[2 * base + 1] < x);
}

bool sevmig__ctr_test(const struct sevmig__ctr *c, uint32_t bit)
{
	if (c->kind == SEVMIG__CTR_BITMAP)
		return (c->data[bit >> 6] >> (bit & 63)) & 1;
	const uint16_t *r = (const uint16_t *)c->data;
	uint32_t i = run_lower(r, c->nruns, bit);
	return i < c->nruns && r[2 * i] <= bit;
}

static int run_set(struct sevmig__ctr **pc, uint32_t lo, uint32_t hi, bool shared)
{
	struct sevmig__ctr *c = *pc;
	uint16_t *r = sevmig__ctr_runs(c);
	uint32_t n = c->nruns, last = hi - 1, i, j, nnew = 0;
	uint16_t nr[4];
	uint32_t removed = 0, added = 0;

	if (shared) {
		/* runs touching or overlapping [lo, hi) melt into one */
		i = run_lower(r, n, lo ? lo - 1 : 0);
		for (j = i; j < n && r[2 * j] <= hi; j++)
			removed += r[2 * j + 1] - r[2 * j] + 1u;
		uint32_t f = lo, l = last;
		if (i < j) {
			f = r[2 * i] < f ? r[2 * i] : f;
			l = r[2 * (j - 1) + 1] > l ? r[2 * (j - 1) + 1] : l;
		}
		nr[0] = (uint16_t)f;
		nr[1] = (uint16_t)l;
		nnew = 1;
		added = l - f + 1;
	} else {
		i = run_lower(r, n, lo);
		for (j = i; j < n && r[2 * j] < hi; j++)
			removed += r[2 * j + 1] - r[2 * j] + 1u;
		if (i == j)
			return 0;
		if (r[2 * i] < lo) {
			nr[0] = r[2 * i];
			nr[1] = (uint16_t)(lo - 1);
			added += lo - r[2 * i];
			nnew++;
		}
		if (r[2 * (j - 1) + 1] > last) {
			nr[2 * nnew] = (uint16_t)hi;
			nr[2 * nnew + 1] = r[2 * (j - 1) + 1];
			added += r[2 * (j - 1) + 1] - hi + 1u;
			nnew++;
		}
	}
	uint32_t n2 = n - (j - i) + nnew;
	uint32_t card2 = c->card - removed + added;
	if (n2 > SEVMIG__RUN_MAX) {
		struct sevmig__ctr *b = ctr_alloc(SEVMIG__CTR_BITMAP, 0);
		if (!b)
			return -ENOMEM;
		runs_to_words(r, n, b->data);
		sevmig__words_fill(b->data, lo, hi, shared);
		b->card = card2;
		b->nruns = n2;
		free(c);
		*pc = b;
		return 0;
	}
	if (n2 > c->cap) {
		/* n2 is at most one more than before */
		uint32_t cap = c->cap + c->cap / 2 + 2;
		if (cap > SEVMIG__RUN_MAX)
			cap = SEVMIG__RUN_MAX;
		struct sevmig__ctr *g = realloc(c, ctr_size(SEVMIG__CTR_RUN, cap));
		if (!g)
			return -ENOMEM;
		c = g;
		c->cap = (uint16_t)cap;
		r = sevmig__ctr_runs(c);
		*pc = c;
	}
	memmove(&r[2 * (i + nnew)], &r[2 * j], (size_t)(n - j) * 2 * sizeof(uint16_t));
	memcpy(&r[2 * i], nr, (size_t)nnew * 2 * sizeof(uint16_t));
	c->nruns = n2;
	c->card = card2;
	return 0;
}

static inline bool bit_at(const uint64_t *w, uint32_t i)
{
	return (w[i >> 6] >> (i & 63)) & 1;
}

/* A bitmap that has fallen below SEVMIG__BITMAP_MIN runs becomes a run
 * container. Best effort: if the allocation fails, the bitmap stays, and it
 * is still correct. */
static void bitmap_shrink(struct sevmig__ctr **pc)
{
	struct sevmig__ctr *c = *pc;
	if (c->nruns >= SEVMIG__BITMAP_MIN || !c->card || c->card == SEVMIG__CHUNK_PAGES)
		return;
	struct sevmig__ctr *r = ctr_alloc(SEVMIG__CTR_RUN, c->nruns);
	if (!r)
		return;
	sevmig__words_to_runs(c->data, sevmig__ctr_runs(r));
	r->card = c->card;
	r->nruns = c->nruns;
	free(c);
	*pc = r;
}

static int bitmap_set(struct sevmig__ctr **pc, uint32_t lo, uint32_t hi, bool shared)
{
	struct sevmig__ctr *c = *pc;
	uint64_t *w = c->data;
	if (hi == lo + 1) {
		/* one page, the usual hypercall: the counts follow from its
		 * neighbours */
		if (bit_at(w, lo) == shared)
			return 0;
		int joins = (lo && bit_at(w, lo - 1)) + (hi < SEVMIG__CHUNK_PAGES && bit_at(w, hi));
		w[lo >> 6] ^= UINT64_C(1) << (lo & 63);
		c->card += shared ? 1 : (uint32_t)-1;
		c->nruns += (uint32_t)(shared ? 1 - joins : joins - 1);
	} else {
		/* bits [lo, hi) change; whether a run starts can change in
		 * [lo, hi] */
		uint32_t a = lo >> 6;
		uint32_t b = hi >> 6 < SEVMIG__CHUNK_WORDS ? hi >> 6 : SEVMIG__CHUNK_WORDS - 1;
		uint64_t carry = a ? w[a - 1] >> 63 : 0;
		uint32_t c0, r0, c1, r1;
		sevmig__words_count(w + a, b - a + 1, carry, &c0, &r0);
		sevmig__words_fill(w, lo, hi, shared);
		sevmig__words_count(w + a, b - a + 1, carry, &c1, &r1);
		c->card = c->card - c0 + c1;
		c->nruns = c->nruns - r0 + r1;
	}
	bitmap_shrink(pc);
	return 0;
}

int sevmig__ctr_set(struct sevmig__ctr **pc, uint32_t lo, uint32_t hi, bool shared)
{
	if ((*pc)->kind == SEVMIG__CTR_BITMAP)
		return bitmap_set(pc, lo, hi, shared);
	return run_set(pc, lo, hi, shared);
}

/* ---- operations ------------------------------------------------------------ */

static inline bool op_bit(enum sevmig__op op, bool x, bool y)
{
	switch (op) {
	case SEVMIG__OR:
		return x || y;
	case SEVMIG__AND:
		return x && y;
	case SEVMIG__ANDNOT:
		break;
	}
	return x && !y;
}

/*
 * Sweep two run lists boundary by boundary: O(na + nb). `out` needs room
 * for na + nb + 1 runs; the result is maximal runs.
 */
static uint32_t runs_op(const uint16_t *a, uint32_t na, const uint16_t *b, uint32_t nb,
			enum sevmig__op op, uint16_t *out, uint32_t *card)
{
	struct sevmig__sweep sw = { a, b, na, nb, 0, 0, 0 };
	uint32_t n = 0, c = 0, open = 0;
	bool is_open = false;
	while (sw.pos < SEVMIG__CHUNK_PAGES) {
		bool xa, xb;
		uint32_t end = sevmig__sweep_piece(&sw, &xa, &xb);
		bool v = op_bit(op, xa, xb);
		if (v && !is_open) {
			open = sw.pos;
			is_open = true;
		} else if (!v && is_open) {
			out[2 * n] = (uint16_t)open;
			out[2 * n + 1] = (uint16_t)(sw.pos - 1);
			c += sw.pos - open;
			n++;
			is_open = false;
		}
		sevmig__sweep_next(&sw, end, xa, xb);
	}
	if (is_open) {
		out[2 * n] = (uint16_t)open;
		out[2 * n + 1] = 0xffff;
		c += SEVMIG__CHUNK_PAGES - open;
		n++;
	}
	*card = c;
	return n;
}

void sevmig__chunk_op(const struct sevmig__cview *a, const struct sevmig__cview *b,
		      enum sevmig__op op, struct sevmig__scratch *out)
{
	if (a->kind == SEVMIG__CTR_RUN && b->kind == SEVMIG__CTR_RUN) {
		out->nruns =
		    runs_op(a->runs, a->nruns, b->runs, b->nruns, op, out->runs, &out->card);
		out->kind = SEVMIG__CTR_RUN;
		if (out->nruns > SEVMIG__RUN_MAX) {
			runs_to_words(out->runs, out->nruns, out->words);
			out->kind = SEVMIG__CTR_BITMAP;
		}
		return;
	}
	/* mixed kinds: the run side becomes words in out's own buffer (only
	 * one side can be runs here), then one pass of word operations */
	const uint64_t *x = sevmig__view_words(a, out->words);
	const uint64_t *y = sevmig__view_words(b, out->words);
	sevmig__words_op(op, x, y, out->words, &out->card, &out->nruns);
	out->kind = SEVMIG__CTR_BITMAP;
}

int sevmig__scratch_store(const struct sevmig__scratch *s, struct sevmig__ctr **out)
{
	*out = NULL;
	if (!s->card)
		return SEVMIG__EMPTY;
	if (s->card == SEVMIG__CHUNK_PAGES)
		return SEVMIG__FULL;
	struct sevmig__ctr *c = s->kind == SEVMIG__CTR_RUN
				    ? sevmig__ctr_from_runs(s->runs, s->nruns, s->card)
				    : sevmig__ctr_from_words(s->words, s->card, s->nruns, NULL);
	if (!c)
		return -ENOMEM;
	*out = c;
	return SEVMIG__SOME;
}
