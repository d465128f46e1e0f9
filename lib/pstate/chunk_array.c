/* SPDX-License-Identifier: MIT */
/*
 * Sets of shared pages as a sorted array of chunk entries: the array
 * itself, the builder every set made from scratch comes from, splicing,
 * walking two sets side by side and the set operations built on that walk,
 * and listing a set's runs.
 */
#include "pstate/pstate_impl.h"
#include "util/endian.h"
#include "util/error.h"

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

/* Whether the first and the last page of an entry are shared. */
static bool first_shared(const struct sevmig__ent *e)
{
	if (!e->c)
		return true;
	if (e->c->kind == SEVMIG__CTR_BITMAP)
		return e->c->data[0] & 1;
	return sevmig__ctr_runs(e->c)[0] == 0; /* an ARRAY's first offset too */
}

static bool last_shared(const struct sevmig__ent *e)
{
	if (!e->c)
		return true;
	if (e->c->kind == SEVMIG__CTR_BITMAP)
		return e->c->data[SEVMIG__CHUNK_WORDS - 1] >> 63;
	if (e->c->kind == SEVMIG__CTR_ARRAY)
		return sevmig__ctr_runs(e->c)[e->c->card - 1] == SEVMIG__CHUNK_MASK;
	return sevmig__ctr_runs(e->c)[2 * e->c->nruns - 1] == SEVMIG__CHUNK_MASK;
}

uint64_t sevmig__ents_nruns(const struct sevmig__ents *e)
{
	uint64_t n = 0;
	for (size_t i = 0; i < e->n; i++) {
		const struct sevmig__ent *x = &e->v[i];
		n += x->c ? x->c->nruns : 1;
		/* a run that goes on from the chunk before is counted there */
		if (i && x[-1].key + x[-1].span == x->key && last_shared(&x[-1]) && first_shared(x))
			n--;
	}
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

/* ---- building from pages in gfn order ---------------------------------------- */

#define NONE	    UINT64_MAX
#define WORDS_BYTES (SEVMIG__CHUNK_WORDS * sizeof(uint64_t))

void sevmig__builder_init(struct sevmig__builder *b)
{
	b->out = (struct sevmig__ents){ 0 };
	b->key = NONE;
	b->end = 0;
	b->n = b->card = 0;
	b->in_words = false;
	b->in_vals = false;
	b->err = 0;
	b->wc = NULL;
}

static void builder_push(struct sevmig__builder *b, uint32_t key, uint32_t span,
			 struct sevmig__ctr *c)
{
	if (sevmig__ents_push(&b->out, key, span, c)) {
		if (c != b->wc)
			free(c);
		b->err = -ENOMEM;
	} else if (c && c == b->wc) {
		b->wc = NULL; /* the set holds it now */
	}
}

/* Store the open chunk from wc's words and their counts: as nothing, a full
 * span, a RUN or ARRAY container, or wc itself as the BITMAP container. */
static void close_words(struct sevmig__builder *b, uint32_t card, uint32_t nruns,
			const uint64_t *edges)
{
	struct sevmig__ctr *c = NULL;
	if (!card)
		return;
	unsigned kind = sevmig__canon_kind(card, nruns);
	/* words of more than a few pages stay words: listing them costs more
	 * than the smaller ARRAY saves (as for a chunk operation's result) */
	if (kind == SEVMIG__CTR_ARRAY && card > SEVMIG__ARRAY_GROW_MAX)
		kind = SEVMIG__CTR_BITMAP;
	if (card < SEVMIG__CHUNK_PAGES && kind != SEVMIG__CTR_BITMAP) {
		c = sevmig__ctr_from_words(b->wc->data, card, nruns, edges);
		if (!c) {
			b->err = -ENOMEM;
			return;
		}
	} else if (card < SEVMIG__CHUNK_PAGES) {
		c = b->wc;
		c->card = card;
		c->nruns = (uint16_t)nruns;
	}
	builder_push(b, (uint32_t)b->key, 1, c);
}

static void builder_close(struct sevmig__builder *b)
{
	if (b->key == NONE || b->err) {
		b->key = NONE;
		return;
	}
	if (b->in_words) {
		uint32_t card, nruns;
		sevmig__words_count(b->wc->data, SEVMIG__CHUNK_WORDS, 0, &card, &nruns);
		close_words(b, card, nruns, NULL);
	} else if (b->in_vals) {
		struct sevmig__cview v = {
			SEVMIG__CTR_ARRAY, b->n, b->card, NULL, NULL, (const uint16_t *)b->wc->data
		};
		struct sevmig__ctr *c = sevmig__ctr_canon(&v);
		if (c)
			builder_push(b, (uint32_t)b->key, 1, c);
		else
			b->err = -ENOMEM;
	} else if (b->card == SEVMIG__CHUNK_PAGES) {
		builder_push(b, (uint32_t)b->key, 1, NULL);
	} else {
		struct sevmig__cview v = { SEVMIG__CTR_RUN, b->n, b->card, b->runs, NULL, NULL };
		struct sevmig__ctr *c = sevmig__ctr_canon(&v);
		if (c)
			builder_push(b, (uint32_t)b->key, 1, c);
		else
			b->err = -ENOMEM;
	}
	b->key = NONE;
	b->n = b->card = 0;
	b->in_words = b->in_vals = false;
}

/* Make chunk k, at or after the open one, the open one. */
static inline void builder_open(struct sevmig__builder *b, uint64_t k)
{
	if (b->key != k) {
		builder_close(b);
		b->key = k;
	}
}

static bool have_wc(struct sevmig__builder *b)
{
	if (!b->wc && !(b->wc = sevmig__ctr_new_bitmap()))
		b->err = -ENOMEM;
	return b->wc != NULL;
}

/* The open chunk goes from runs or offsets to words. */
static bool builder_words(struct sevmig__builder *b)
{
	if (b->in_words)
		return true;
	if (b->in_vals) {
		uint16_t v[SEVMIG__ARRAY_MAX]; /* wc holds them: the words go there */
		memcpy(v, b->wc->data, (size_t)b->card * 2);
		memset(b->wc->data, 0, WORDS_BYTES);
		for (uint32_t i = 0; i < b->card; i++)
			b->wc->data[v[i] >> 6] |= UINT64_C(1) << (v[i] & 63);
		b->in_vals = false;
		b->in_words = true;
		return true;
	}
	if (!have_wc(b))
		return false;
	memset(b->wc->data, 0, WORDS_BYTES);
	for (uint32_t i = 0; i < b->n; i++)
		sevmig__words_fill(b->wc->data, b->runs[2 * i], b->runs[2 * i + 1] + 1u, true);
	b->in_words = true;
	return true;
}

/* The open chunk goes from runs to offsets, in wc's space. */
static bool builder_vals(struct sevmig__builder *b)
{
	if (!have_wc(b))
		return false;
	uint16_t *v = (uint16_t *)b->wc->data;
	uint32_t k = 0;
	for (uint32_t i = 0; i < b->n; i++)
		for (uint32_t x = b->runs[2 * i]; x <= b->runs[2 * i + 1]; x++)
			v[k++] = (uint16_t)x;
	b->in_vals = true;
	return true;
}

static void chunk_add_run(struct sevmig__builder *b, uint32_t lo, uint32_t hi)
{
	if (b->in_vals) {
		if (b->card + (hi - lo) <= SEVMIG__ARRAY_MAX) {
			uint16_t *v = (uint16_t *)b->wc->data;
			b->n += v[b->card - 1] + 1u != lo;
			for (uint32_t x = lo; x < hi; x++)
				v[b->card++] = (uint16_t)x;
			return;
		}
		builder_words(b); /* wc is there */
	}
	if (!b->in_words) {
		if (b->n && b->runs[2 * b->n - 1] + 1u == lo) { /* touches the last run */
			b->runs[2 * b->n - 1] = (uint16_t)(hi - 1);
			b->card += hi - lo;
			return;
		}
		if (b->n < SEVMIG__RUN_MAX) {
			b->runs[2 * b->n] = (uint16_t)lo;
			b->runs[2 * b->n + 1] = (uint16_t)(hi - 1);
			b->n++;
			b->card += hi - lo;
			return;
		}
		if (b->card + (hi - lo) <= SEVMIG__ARRAY_MAX) {
			if (builder_vals(b))
				chunk_add_run(b, lo, hi);
			return;
		}
		if (!builder_words(b))
			return;
	}
	sevmig__words_fill(b->wc->data, lo, hi, true);
}

/* Pages must come in order: true when [first, end) may follow. */
static bool builder_next(struct sevmig__builder *b, uint64_t first, uint64_t end)
{
	if (b->err || first >= end)
		return false;
	if (first < b->end) {
		b->err = -EINVAL;
		return false;
	}
	b->end = end;
	return true;
}

void sevmig__builder_add(struct sevmig__builder *b, uint64_t first, uint64_t end)
{
	if (!builder_next(b, first, end))
		return;
	while (first < end && !b->err) {
		uint64_t k = first >> SEVMIG__CHUNK_SHIFT;
		uint32_t lo = (uint32_t)(first & SEVMIG__CHUNK_MASK);
		if (!lo && end - first >= SEVMIG__CHUNK_PAGES) {
			uint64_t nfull = (end - first) >> SEVMIG__CHUNK_SHIFT;
			builder_close(b);
			if (!b->err)
				builder_push(b, (uint32_t)k, (uint32_t)nfull, NULL);
			first += nfull << SEVMIG__CHUNK_SHIFT;
			continue;
		}
		uint32_t hi = end - first >= SEVMIG__CHUNK_PAGES - lo
				  ? SEVMIG__CHUNK_PAGES
				  : lo + (uint32_t)(end - first);
		builder_open(b, k);
		chunk_add_run(b, lo, hi);
		first = (k << SEVMIG__CHUNK_SHIFT) + hi;
	}
}

/* 64 bits of p from bit index ib on (ib may be negative); bits outside its
 * nbytes read as set. */
static inline uint64_t in_bits(const uint8_t *p, size_t nbytes, int64_t ib)
{
	int64_t bi = ib >= 0 ? ib / 8 : -((-ib + 7) / 8);
	unsigned sh = (unsigned)(ib - bi * 8);
	uint64_t lo;
	unsigned hi;
	if (bi >= 0 && (uint64_t)bi + 9 <= nbytes) {
		lo = sevmig__le64(p + bi);
		hi = p[bi + 8];
	} else {
		uint8_t t[9];
		for (int i = 0; i < 9; i++) {
			int64_t at = bi + i;
			t[i] = at >= 0 && (uint64_t)at < nbytes ? p[at] : 0xff;
		}
		lo = sevmig__le64(t);
		hi = t[8];
	}
	return sh ? (lo >> sh) | ((uint64_t)hi << (64 - sh)) : lo;
}

/*
 * Set in w the shared pages among [lo, hi) of a chunk, whose encryption bits
 * are src's from bit `bit` on. The words' bits in [lo, hi) are clear.
 */
static void words_from_bits(uint64_t *w, uint32_t lo, uint32_t hi, const uint8_t *src,
			    size_t nbytes, uint64_t bit)
{
	uint32_t xa = lo >> 6, xb = (hi - 1) >> 6;
	int64_t ib = (int64_t)bit - (int64_t)(lo & 63); /* src bit of word xa's bit 0 */
	/* the first and last words may be cut by the range, and read the
	 * input's edges with care */
	uint64_t ma = ~UINT64_C(0) << (lo & 63);
	uint64_t mb = ~UINT64_C(0) >> (63 - ((hi - 1) & 63));
	if (xa == xb)
		ma &= mb;
	w[xa] |= ~in_bits(src, nbytes, ib) & ma;
	if (xb == xa)
		return;
	/* the words between lie wholly inside the input, their 9-byte windows
	 * too (word xb holds a bit of the range) */
	int64_t ib1 = ib + 64;
	const uint8_t *q = src + (ib1 >> 3);
	unsigned bs = (unsigned)(ib1 & 7);
	if (!bs) {
		for (uint32_t x = xa + 1; x < xb; x++, q += 8)
			w[x] = ~sevmig__le64(q);
	} else {
		for (uint32_t x = xa + 1; x < xb; x++, q += 8)
			w[x] = ~((sevmig__le64(q) >> bs) | ((uint64_t)q[8] << (64 - bs)));
	}
	w[xb] |= ~in_bits(src, nbytes, ib + 64 * (int64_t)(xb - xa)) & mb;
}

void sevmig__builder_add_bits(struct sevmig__builder *b, uint64_t gfn, const uint8_t *src,
			      uint64_t bit, uint64_t n)
{
	if (!builder_next(b, gfn, gfn + n))
		return;
	uint64_t end = gfn + n;
	size_t nbytes = (size_t)((bit + n + 7) / 8);
	while (gfn < end && !b->err) {
		uint64_t k = gfn >> SEVMIG__CHUNK_SHIFT;
		uint32_t lo = (uint32_t)(gfn & SEVMIG__CHUNK_MASK);
		uint32_t hi = end - gfn >= SEVMIG__CHUNK_PAGES - lo ? SEVMIG__CHUNK_PAGES
								    : lo + (uint32_t)(end - gfn);
		if (!lo && hi == SEVMIG__CHUNK_PAGES && !(bit & 7)) {
			/* a whole chunk from whole bytes: one pass that counts,
			 * and runs read only where they start or end */
			uint64_t edges[SEVMIG__CHUNK_WORDS / 64];
			uint32_t card, nruns;
			builder_close(b);
			if (!have_wc(b))
				return;
			sevmig__words_load(b->wc->data, src + bit / 8, &card, &nruns, edges);
			b->key = k;
			close_words(b, card, nruns, edges);
			b->key = NONE;
		} else {
			builder_open(b, k);
			if (!builder_words(b))
				return;
			words_from_bits(b->wc->data, lo, hi, src, nbytes, bit);
		}
		bit += hi - lo;
		gfn = (k << SEVMIG__CHUNK_SHIFT) + hi;
	}
}

int sevmig__builder_finish(struct sevmig__builder *b, struct sevmig__ents *out)
{
	builder_close(b);
	free(b->wc);
	b->wc = NULL;
	if (b->err) {
		sevmig__ents_free(&b->out);
		return b->err;
	}
	ents_shrink(&b->out);
	*out = b->out;
	b->out = (struct sevmig__ents){ 0 };
	return 0;
}

int sevmig__builder_commit(struct sevmig__builder *b, struct sevmig_pstate *ps)
{
	struct sevmig__ents sh;
	SEVMIG__TRY(sevmig__builder_finish(b, &sh));
	sevmig__ents_free(&ps->sh);
	ps->sh = sh;
	return 0;
}

void sevmig__builder_free(struct sevmig__builder *b)
{
	free(b->wc);
	b->wc = NULL;
	sevmig__ents_free(&b->out);
	b->key = NONE;
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
			/* the containers are scattered over the heap: ask for the
			 * ones a few chunks on while comparing these */
			if (ia + 8 < a->n)
				__builtin_prefetch(a->v[ia + 8].c);
			if (ib + 8 < b->n)
				__builtin_prefetch(b->v[ib + 8].c);
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

/* Two BITMAPs: the words go straight into the new container, which is kept
 * when it is to be a BITMAP (sevmig__scratch_store()'s rule), saving a copy
 * of 8 KiB a chunk. */
static int combine_words(struct sevmig__ents *out, uint32_t k, const struct sevmig__cview *va,
			 const struct sevmig__cview *vb, enum sevmig__op op)
{
	struct sevmig__ctr *c = sevmig__ctr_new_bitmap();
	if (!c)
		return -ENOMEM;
	uint32_t card, nruns;
	sevmig__words_op(op, va->words, vb->words, c->data, &card, &nruns);
	if (!card || card == SEVMIG__CHUNK_PAGES) {
		free(c);
		return card ? sevmig__ents_push(out, k, 1, NULL) : 0;
	}
	c->card = card;
	c->nruns = (uint16_t)nruns;
	unsigned kind = sevmig__canon_kind(card, nruns);
	if (kind != SEVMIG__CTR_BITMAP &&
	    !(kind == SEVMIG__CTR_ARRAY && card > SEVMIG__ARRAY_GROW_MAX)) {
		struct sevmig__cview v = { SEVMIG__CTR_BITMAP, nruns, card, NULL, c->data, NULL };
		struct sevmig__ctr *n = sevmig__ctr_of_view(kind, &v);
		free(c);
		if (!n)
			return -ENOMEM;
		c = n;
	}
	int rc = sevmig__ents_push(out, k, 1, c);
	if (rc)
		free(c);
	return rc;
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
	if (va.kind == SEVMIG__CTR_BITMAP && vb.kind == SEVMIG__CTR_BITMAP)
		return combine_words(x->out, k, &va, &vb, x->op);
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

/*
 * The set bits of t, as `at` plus their index, into o[]: four at a time
 * whatever t holds, so that the loop's branch depends on whether t has more
 * than four (a map of scattered pages has one or two a word), not on each
 * bit. Returns how many; o needs room for that many rounded up to 4.
 */
static inline uint32_t flatten(uint32_t *o, uint32_t at, uint64_t t)
{
	uint32_t n = 0;
	do {
		for (int k = 0; k < 4; k++) {
			/* the top bit stands in for none: ctz(0) is undefined */
			o[n] = at + (uint32_t)__builtin_ctzll(t | UINT64_C(1) << 63);
			n += t != 0;
			t &= t - 1;
		}
	} while (t);
	return n;
}

enum { EDGE_BATCH = 256 };

/*
 * The runs of a BITMAP chunk inside [clo, chi), word by word: bit j of t is
 * set where bit j of the word differs from the bit below it, so t's set bits
 * are, in turn, where runs start and where they end. They are gathered into
 * e[] and handed on in batches.
 */
static int bitmap_runs(struct run_emit *r, const uint64_t *w, uint64_t base, uint32_t clo,
		       uint32_t chi)
{
	uint32_t e[EDGE_BATCH + 64 + 4], ne = 0; /* e[0] starts a run */
	uint32_t i = clo >> 6, last = (chi - 1) >> 6;
	uint64_t x = w[i] & (~UINT64_C(0) << (clo & 63)), carry = 0;
	for (;;) {
		if (i == last && (chi & 63))
			x &= ~UINT64_C(0) >> (64 - (chi & 63));
		ne += flatten(e + ne, i * 64, x ^ ((x << 1) | carry));
		if (ne >= EDGE_BATCH || i == last) {
			uint32_t j = 0;
			for (; j + 1 < ne; j += 2) {
				int rc = run_put(r, base + e[j], base + e[j + 1]);
				if (rc)
					return rc;
			}
			if (j < ne)
				e[0] = e[j]; /* a run still open */
			ne -= j;
		}
		if (i++ == last)
			break;
		carry = x >> 63;
		x = w[i];
	}
	return ne ? run_put(r, base + e[0], base + chi) : 0;
}

static int chunk_runs(struct run_emit *r, const struct sevmig__ctr *c, uint64_t base)
{
	uint32_t clo = r->lo > base ? (uint32_t)(r->lo - base) : 0;
	uint32_t chi =
	    r->hi - base < SEVMIG__CHUNK_PAGES ? (uint32_t)(r->hi - base) : SEVMIG__CHUNK_PAGES;
	if (c->kind == SEVMIG__CTR_BITMAP)
		return bitmap_runs(r, c->data, base, clo, chi);
	const uint16_t *p = (const uint16_t *)c->data;
	uint32_t i = 0;
	int rc = 0;
	if (c->kind == SEVMIG__CTR_ARRAY) {
		uint32_t n = c->card;
		while (i < n && p[i] < clo)
			i++;
		while (i < n && p[i] < chi && !rc) {
			uint32_t s = p[i];
			while (i + 1 < n && p[i + 1] == p[i] + 1u && p[i + 1] < chi)
				i++;
			rc = run_put(r, base + s, base + p[i] + 1u);
			i++;
		}
		return rc;
	}
	while (i < c->nruns && p[2 * i + 1] < clo)
		i++;
	for (; i < c->nruns && p[2 * i] < chi && !rc; i++)
		rc = run_put(r, base + p[2 * i], base + p[2 * i + 1] + 1);
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
