/* SPDX-License-Identifier: MIT */
/*
 * Chunk containers of the page-state map (65536 pages each): RUN, ARRAY and
 * BITMAP containers, conversions between their forms, and the operations
 * between two chunks. The counting word loops are in word_ops.c.
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

/* ---- arrays: sorted offsets -------------------------------------------------- */

static void vals_to_words(const uint16_t *v, uint32_t n, uint64_t *w)
{
	memset(w, 0, WORDS_BYTES);
	for (uint32_t i = 0; i < n; i++)
		w[v[i] >> 6] |= UINT64_C(1) << (v[i] & 63);
}

/* The set bits of a chunk's words (card of them) as offsets into v; returns
 * how many. Four at a time whatever a word holds, while there is room for
 * four more (as chunk_array.c's flatten()): the branch then depends on
 * whether a word has more than four, not on each bit or on empty words. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX512 1
/* The offsets base + the bytes of b, in 16-bit lanes: its low 32, its high
 * 32. */
__attribute__((target("avx512f,avx512bw,avx512vbmi2,popcnt"))) static inline __m512i
vals_lo(__m512i base, __m512i b)
{
	return _mm512_add_epi16(base, _mm512_cvtepu8_epi16(_mm512_castsi512_si256(b)));
}

__attribute__((target("avx512f,avx512bw,avx512vbmi2,popcnt"))) static inline __m512i
vals_hi(__m512i base, __m512i b)
{
	return _mm512_add_epi16(base, _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(b, 1)));
}

/* AVX-512 VBMI2: a word's bit numbers compressed out of a vector of all 64
 * (one byte each), widened to 16 bits and stored 32 at a time, so while 64
 * more fit: one compression a word, however many bits it has (two, of 16-bit
 * lanes, cost half as much again). */
__attribute__((target("avx512f,avx512bw,avx512vbmi2,popcnt"))) static uint32_t
words_to_vals_vbmi2(const uint64_t *w, uint32_t card, uint16_t *v, uint32_t *at)
{
	static const uint8_t iota[64] = { 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,
					  13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
					  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38,
					  39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,
					  52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63 };
	__m512i bits = _mm512_loadu_si512((const void *)iota);
	__m512i base = _mm512_setzero_si512(), step = _mm512_set1_epi16(64);
	uint32_t n = 0, i = 0;
	for (; i < SEVMIG__CHUNK_WORDS && n + 64 <= card; i++) {
		uint64_t x = w[i];
		__m512i b = _mm512_maskz_compress_epi8((__mmask64)x, bits);
		uint32_t k = (uint32_t)__builtin_popcountll(x);
		_mm512_storeu_si512((void *)(v + n), vals_lo(base, b));
		if (k > 32) /* rare where an ARRAY is the smaller kind */
			_mm512_storeu_si512((void *)(v + n + 32), vals_hi(base, b));
		n += k;
		base = _mm512_add_epi16(base, step);
	}
	/* the last words through a bounce buffer, so nothing is stored past
	 * the card offsets v has room for */
	for (uint16_t tmp[64]; i < SEVMIG__CHUNK_WORDS && n < card; i++) {
		uint64_t x = w[i];
		__m512i b = _mm512_maskz_compress_epi8((__mmask64)x, bits);
		_mm512_storeu_si512((void *)tmp, vals_lo(base, b));
		_mm512_storeu_si512((void *)(tmp + 32), vals_hi(base, b));
		uint32_t k = (uint32_t)__builtin_popcountll(x);
		memcpy(v + n, tmp, 2 * (size_t)k);
		n += k;
		base = _mm512_add_epi16(base, step);
	}
	*at = n < card ? i : SEVMIG__CHUNK_WORDS;
	return n;
}
#else
#define HAVE_AVX512 0
#endif

static uint32_t words_to_vals(const uint64_t *w, uint32_t card, uint16_t *v)
{
	uint32_t n = 0, i = 0;
#if HAVE_AVX512
	if (__builtin_cpu_supports("avx512vbmi2") && __builtin_cpu_supports("avx512bw"))
		n = words_to_vals_vbmi2(w, card, v, &i);
#endif
	for (; i < SEVMIG__CHUNK_WORDS && n + 68 <= card; i++) {
		uint64_t x = w[i];
		uint16_t at = (uint16_t)(i * 64);
		do {
			for (int k = 0; k < 4; k++) {
				v[n] = (uint16_t)(at + __builtin_ctzll(x | UINT64_C(1) << 63));
				n += x != 0;
				x &= x - 1;
			}
		} while (x);
	}
	for (; i < SEVMIG__CHUNK_WORDS; i++) {
		if (!(i & 7) && !(w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] |
				  w[i + 6] | w[i + 7])) {
			i += 7; /* sparse chunks: eight empty words at a time */
			continue;
		}
		for (uint64_t x = w[i]; x; x &= x - 1)
			v[n++] = (uint16_t)(i * 64 + (uint32_t)__builtin_ctzll(x));
	}
	return n;
}

uint32_t sevmig__vals_to_runs(const uint16_t *v, uint32_t n, uint16_t *runs)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (k && runs[2 * k - 1] + 1u == v[i]) {
			runs[2 * k - 1] = v[i];
			continue;
		}
		runs[2 * k] = runs[2 * k + 1] = v[i];
		k++;
	}
	return k;
}

static void runs_to_vals(const uint16_t *runs, uint32_t n, uint16_t *v)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t x = runs[2 * i]; x <= runs[2 * i + 1]; x++)
			v[k++] = (uint16_t)x;
}

#if defined(__GNUC__) && !defined(__clang__)
/* gcc vectorizes this at -O2 only when told (clang does by itself) */
__attribute__((optimize("tree-vectorize")))
#endif
uint32_t
sevmig__vals_nruns(const uint16_t *v, uint32_t n)
{
	if (!n)
		return 0;
	/* branch-free, so that it vectorizes: a reader checks every array */
	uint32_t runs = 1, bad = 0;
	for (uint32_t i = 1; i < n; i++) {
		uint32_t a = v[i - 1], b = v[i];
		bad |= b <= a;
		runs += b != a + 1;
	}
	return bad ? 0 : runs;
}

/* First offset at or after x. */
static uint32_t vals_lower(const uint16_t *v, uint32_t n, uint32_t x)
{
	uint32_t base = 0, len = n;
	if (!len)
		return 0;
	while (len > 1) {
		uint32_t half = len / 2;
		base = v[base + half - 1] < x ? base + half : base;
		len -= half;
	}
	return base + (v[base] < x);
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
	v->vals = c->kind == SEVMIG__CTR_ARRAY ? (const uint16_t *)c->data : NULL;
}

void sevmig__view_scratch(const struct sevmig__scratch *s, struct sevmig__cview *v)
{
	v->kind = s->kind;
	v->nruns = s->nruns;
	v->card = s->card;
	v->runs = s->runs;
	v->words = s->words;
	v->vals = s->vals;
}

const uint64_t *sevmig__view_words(const struct sevmig__cview *v, uint64_t *buf)
{
	if (v->kind == SEVMIG__CTR_BITMAP)
		return v->words;
	if (v->kind == SEVMIG__CTR_ARRAY)
		vals_to_words(v->vals, v->card, buf);
	else
		runs_to_words(v->runs, v->nruns, buf);
	return buf;
}

/* ---- containers ----------------------------------------------------------- */

static size_t ctr_size(unsigned kind, uint32_t cap)
{
	return sizeof(struct sevmig__ctr) + (kind == SEVMIG__CTR_RUN	 ? (size_t)cap * 4
					     : kind == SEVMIG__CTR_ARRAY ? (size_t)cap * 2
									 : WORDS_BYTES);
}

static struct sevmig__ctr *ctr_alloc(unsigned kind, uint32_t cap)
{
	struct sevmig__ctr *c = malloc(ctr_size(kind, cap));
	if (!c)
		return NULL;
	c->kind = kind & 3;
	c->cap = kind == SEVMIG__CTR_BITMAP ? 0 : cap & 0x3fff;
	return c;
}

size_t sevmig__ctr_bytes(const struct sevmig__ctr *c)
{
	return ctr_size(c->kind, c->cap);
}

struct sevmig__ctr *sevmig__ctr_clone(const struct sevmig__ctr *c)
{
	/* a clone gets no spare capacity: memory follows the content */
	uint32_t cap = c->kind == SEVMIG__CTR_RUN     ? c->nruns
		       : c->kind == SEVMIG__CTR_ARRAY ? c->card
						      : 0;
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
	unsigned kind = sevmig__canon_kind(card, nruns);
	struct sevmig__ctr *c = ctr_alloc(kind, kind == SEVMIG__CTR_RUN ? nruns : card);
	if (!c)
		return NULL;
	if (kind == SEVMIG__CTR_RUN && edges)
		sevmig__words_to_runs_edges(w, edges, sevmig__ctr_runs(c));
	else if (kind == SEVMIG__CTR_RUN)
		sevmig__words_to_runs(w, sevmig__ctr_runs(c));
	else if (kind == SEVMIG__CTR_ARRAY && edges && card <= SEVMIG__ARRAY_GROW_MAX) {
		/* few pages: their runs from the words where runs start or end */
		uint16_t r[2 * SEVMIG__ARRAY_GROW_MAX];
		sevmig__words_to_runs_edges(w, edges, r);
		runs_to_vals(r, nruns, (uint16_t *)c->data);
	} else if (kind == SEVMIG__CTR_ARRAY)
		words_to_vals(w, card, (uint16_t *)c->data);
	else
		memcpy(c->data, w, WORDS_BYTES);
	c->card = card;
	c->nruns = (uint16_t)nruns;
	return c;
}

void sevmig__view_content(unsigned kind, const struct sevmig__cview *v, void *d)
{
	if (kind == v->kind)
		memcpy(d,
		       kind == SEVMIG__CTR_RUN	   ? (const void *)v->runs
		       : kind == SEVMIG__CTR_ARRAY ? (const void *)v->vals
						   : (const void *)v->words,
		       sevmig__kind_bytes(kind, v->card, v->nruns));
	else if (kind == SEVMIG__CTR_BITMAP)
		sevmig__view_words(v, d);
	else if (kind == SEVMIG__CTR_RUN && v->kind == SEVMIG__CTR_ARRAY)
		sevmig__vals_to_runs(v->vals, v->card, d);
	else if (kind == SEVMIG__CTR_RUN)
		sevmig__words_to_runs(v->words, d);
	else if (v->kind == SEVMIG__CTR_RUN)
		runs_to_vals(v->runs, v->nruns, d);
	else
		words_to_vals(v->words, v->card, d);
}

struct sevmig__ctr *sevmig__ctr_of_view(unsigned kind, const struct sevmig__cview *v)
{
	struct sevmig__ctr *c = ctr_alloc(kind, kind == SEVMIG__CTR_RUN	    ? v->nruns
						: kind == SEVMIG__CTR_ARRAY ? v->card
									    : 0);
	if (!c)
		return NULL;
	sevmig__view_content(kind, v, c->data);
	c->card = v->card;
	c->nruns = (uint16_t)v->nruns;
	return c;
}

uint64_t sevmig__ctr_word(const struct sevmig__ctr *c, uint32_t x)
{
	if (c->kind == SEVMIG__CTR_BITMAP)
		return c->data[x];
	uint32_t lo = x * 64, hi = lo + 64;
	uint64_t w = 0;
	if (c->kind == SEVMIG__CTR_ARRAY) {
		const uint16_t *v = (const uint16_t *)c->data;
		for (uint32_t i = vals_lower(v, c->card, lo); i < c->card && v[i] < hi; i++)
			w |= UINT64_C(1) << (v[i] - lo);
		return w;
	}
	const uint16_t *r = (const uint16_t *)c->data;
	for (uint32_t j = 0; j < c->nruns; j++) {
		uint32_t f = r[2 * j], e = r[2 * j + 1] + 1u;
		if (e <= lo)
			continue;
		if (f >= hi)
			break;
		f = f > lo ? f - lo : 0;
		e = e < hi ? e - lo : 64;
		sevmig__words_fill(&w, f, e, true);
	}
	return w;
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
	if (c->kind == SEVMIG__CTR_ARRAY) {
		const uint16_t *v = (const uint16_t *)c->data;
		uint32_t i = vals_lower(v, c->card, bit);
		return i < c->card && v[i] == bit;
	}
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
		b->nruns = (uint16_t)n2;
		if (card2 <= SEVMIG__ARRAY_GROW_MAX) {
			/* scattered pages: an ARRAY is smaller (best effort) */
			struct sevmig__ctr *a = ctr_alloc(SEVMIG__CTR_ARRAY, card2);
			if (a) {
				words_to_vals(b->data, card2, (uint16_t *)a->data);
				a->card = card2;
				a->nruns = (uint16_t)n2;
				free(b);
				b = a;
			}
		}
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
	c->nruns = (uint16_t)n2;
	c->card = card2;
	return 0;
}

/* One page of an ARRAY, in place: the counts follow from its neighbours. A
 * page past SEVMIG__ARRAY_GROW_MAX makes it a BITMAP (or a RUN container,
 * when that is the smallest). */
static int array_set_one(struct sevmig__ctr **pc, uint32_t x, bool shared)
{
	struct sevmig__ctr *c = *pc;
	uint16_t *v = (uint16_t *)c->data;
	uint32_t n = c->card, i = vals_lower(v, n, x);
	bool here = i < n && v[i] == x;
	if (here == shared)
		return 0;
	bool below = i && v[i - 1] + 1u == x;
	bool above = i + here < n && v[i + here] == x + 1;
	if (!shared) {
		memmove(&v[i], &v[i + 1], (size_t)(n - i - 1) * 2);
		c->card = n - 1;
		c->nruns = (uint16_t)(c->nruns + (below && above) - (!below && !above));
		return 0;
	}
	uint32_t nruns = c->nruns + (!below && !above) - (below && above);
	if (n >= SEVMIG__ARRAY_GROW_MAX) {
		struct sevmig__ctr *g = ctr_alloc(SEVMIG__CTR_BITMAP, 0);
		if (!g)
			return -ENOMEM;
		vals_to_words(v, n, g->data);
		g->data[x >> 6] |= UINT64_C(1) << (x & 63);
		g->card = n + 1;
		g->nruns = (uint16_t)nruns;
		if (sevmig__canon_kind(n + 1, nruns) == SEVMIG__CTR_RUN) {
			struct sevmig__ctr *r = sevmig__ctr_from_words(g->data, n + 1, nruns, NULL);
			if (r) { /* best effort: the BITMAP is right too */
				free(g);
				g = r;
			}
		}
		free(c);
		*pc = g;
		return 0;
	}
	if (n == c->cap) {
		uint32_t cap = n + n / 2 + 4;
		cap = cap > SEVMIG__ARRAY_GROW_MAX ? SEVMIG__ARRAY_GROW_MAX : cap;
		struct sevmig__ctr *g = realloc(c, ctr_size(SEVMIG__CTR_ARRAY, cap));
		if (!g)
			return -ENOMEM;
		c = g;
		c->cap = cap & 0x3fff;
		v = (uint16_t *)c->data;
		*pc = c;
	}
	memmove(&v[i + 1], &v[i], (size_t)(n - i) * 2);
	v[i] = (uint16_t)x;
	c->card = n + 1;
	c->nruns = (uint16_t)nruns;
	return 0;
}

/* A range of an ARRAY: the chunk operation, then the smallest kind. */
static int array_set(struct sevmig__ctr **pc, uint32_t lo, uint32_t hi, bool shared)
{
	if (hi == lo + 1)
		return array_set_one(pc, lo, shared);
	struct sevmig__scratch *s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	struct sevmig__ent e = { 0, 1, *pc };
	struct sevmig__cview old, rv;
	sevmig__view(&e, &old);
	uint16_t run[2] = { (uint16_t)lo, (uint16_t)(hi - 1) };
	rv = (struct sevmig__cview){ SEVMIG__CTR_RUN, 1, hi - lo, run, NULL, NULL };
	sevmig__chunk_op(&old, &rv, shared ? SEVMIG__OR : SEVMIG__ANDNOT, s);
	struct sevmig__ctr *n = NULL;
	int rc = 0;
	if (!s->card || s->card == SEVMIG__CHUNK_PAGES) {
		/* the caller turns an empty or full container into no entry or a
		 * full span: only the count matters */
		(*pc)->card = s->card;
	} else {
		struct sevmig__cview sv;
		sevmig__view_scratch(s, &sv);
		n = sevmig__ctr_canon(&sv);
		if (!n)
			rc = -ENOMEM;
		else {
			free(*pc);
			*pc = n;
		}
	}
	free(s);
	return rc;
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
	if ((c->nruns >= SEVMIG__BITMAP_MIN && c->card >= SEVMIG__ARRAY_GROW_MAX / 2) || !c->card ||
	    c->card == SEVMIG__CHUNK_PAGES)
		return;
	struct sevmig__ctr *r = sevmig__ctr_from_words(c->data, c->card, c->nruns, NULL);
	if (!r)
		return;
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
		c->nruns = (uint16_t)(c->nruns + (shared ? 1 - joins : joins - 1));
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
		c->nruns = (uint16_t)(c->nruns - r0 + r1);
	}
	bitmap_shrink(pc);
	return 0;
}

int sevmig__ctr_set(struct sevmig__ctr **pc, uint32_t lo, uint32_t hi, bool shared)
{
	if ((*pc)->kind == SEVMIG__CTR_BITMAP)
		return bitmap_set(pc, lo, hi, shared);
	if ((*pc)->kind == SEVMIG__CTR_ARRAY)
		return array_set(pc, lo, hi, shared);
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

/* out's offsets: a's (a sorted array) that are (keep) or are not (!keep) in
 * b's chunk, whatever b's kind. */
static void vals_filter(const uint16_t *v, uint32_t n, const struct sevmig__cview *b, bool keep,
			struct sevmig__scratch *out)
{
	uint32_t k = 0, runs = 0, prev = UINT32_MAX - 1;
	if (b->kind == SEVMIG__CTR_BITMAP) {
		for (uint32_t i = 0; i < n; i++) {
			uint32_t x = v[i];
			if ((bool)((b->words[x >> 6] >> (x & 63)) & 1) == keep) {
				runs += x != prev + 1;
				out->vals[k++] = (uint16_t)(prev = x);
			}
		}
	} else if (b->kind == SEVMIG__CTR_ARRAY) {
		uint32_t j = 0;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t x = v[i];
			while (j < b->card && b->vals[j] < x)
				j++;
			if ((j < b->card && b->vals[j] == x) == keep) {
				runs += x != prev + 1;
				out->vals[k++] = (uint16_t)(prev = x);
			}
		}
	} else {
		uint32_t j = 0;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t x = v[i];
			while (j < b->nruns && b->runs[2 * j + 1] < x)
				j++;
			if ((j < b->nruns && b->runs[2 * j] <= x) == keep) {
				runs += x != prev + 1;
				out->vals[k++] = (uint16_t)(prev = x);
			}
		}
	}
	out->kind = SEVMIG__CTR_ARRAY;
	out->card = k;
	out->nruns = runs;
}

/* a | b of two sorted arrays, when it fits an ARRAY: false otherwise. */
/*
 * The merge of two sorted arrays until one ends: *i and *j get how far each
 * went, the return how many offsets went to o (duplicates once). Two
 * snapshots' arrays are mostly the same: equal stretches are copied 16 at a
 * time.
 */
static uint32_t vals_merge(const uint16_t *x, uint32_t na, const uint16_t *y, uint32_t nb,
			   uint16_t *o, uint32_t *pi, uint32_t *pj)
{
	uint32_t i = 0, j = 0, k = 0;
	while (i < na && j < nb) {
		if (i + 16 <= na && j + 16 <= nb && !memcmp(x + i, y + j, 32)) {
			memcpy(o + k, x + i, 32);
			i += 16;
			j += 16;
			k += 16;
			continue;
		}
		uint32_t p = x[i], q = y[j], m = p < q ? p : q;
		i += p == m;
		j += q == m;
		o[k++] = (uint16_t)m;
	}
	*pi = i;
	*pj = j;
	return k;
}

#if HAVE_AVX512
/*
 * The same with AVX-512BW: the equal stretch ahead found up to 32 offsets at
 * a time (a compare of what is left of both, and the first lane that
 * differs), then one step of the merge. Where the arrays have little in
 * common, eight steps follow a stretch of none, so that the compares cost
 * little there.
 */
__attribute__((target("avx512f,avx512bw,bmi,bmi2"))) static uint32_t
vals_merge_avx512(const uint16_t *x, uint32_t na, const uint16_t *y, uint32_t nb, uint16_t *o,
		  uint32_t *pi, uint32_t *pj)
{
	uint32_t i = 0, j = 0, k = 0;
	while (i < na && j < nb) {
		uint32_t n = na - i < nb - j ? na - i : nb - j;
		__mmask32 live = (__mmask32)_bzhi_u32(UINT32_MAX, n < 32 ? n : 32);
		__m512i v = _mm512_maskz_loadu_epi16(live, x + i);
		__mmask32 eq =
		    _mm512_mask_cmpeq_epi16_mask(live, v, _mm512_maskz_loadu_epi16(live, y + j));
		uint32_t e = (uint32_t)_tzcnt_u32(~(uint32_t)eq); /* 32 when all are */
		_mm512_mask_storeu_epi16(o + k, (__mmask32)_bzhi_u32(UINT32_MAX, e), v);
		i += e;
		j += e;
		k += e;
		if (e == 32 || e == n)
			continue; /* more of the same, or an array ended */
		for (uint32_t steps = e ? 1 : 8; steps && i < na && j < nb; steps--) {
			uint32_t p = x[i], q = y[j], m = p < q ? p : q;
			i += p == m;
			j += q == m;
			o[k++] = (uint16_t)m;
		}
	}
	*pi = i;
	*pj = j;
	return k;
}
#endif

int sevmig__vals_merge_level(void)
{
#if HAVE_AVX512
	if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("bmi") &&
	    __builtin_cpu_supports("bmi2"))
		return 1;
#endif
	return 0;
}

uint32_t sevmig__vals_merge_at(int lvl, const uint16_t *x, uint32_t na, const uint16_t *y,
			       uint32_t nb, uint16_t *o, uint32_t *i, uint32_t *j)
{
#if HAVE_AVX512
	if (lvl == 1)
		return vals_merge_avx512(x, na, y, nb, o, i, j);
#endif
	(void)lvl;
	return vals_merge(x, na, y, nb, o, i, j);
}

static bool vals_union(const struct sevmig__cview *a, const struct sevmig__cview *b,
		       struct sevmig__scratch *out)
{
	const uint16_t *x = a->vals, *y = b->vals;
	uint32_t na = a->card, nb = b->card, i = 0, j = 0, k = 0, runs;
	if (na + nb > SEVMIG__ARRAY_MAX) {
		/* too big only if the overlap is small: count first */
		uint32_t common = 0;
		while (i < na && j < nb) {
			uint32_t p = x[i], q = y[j];
			common += p == q;
			i += p <= q;
			j += q <= p;
		}
		if (na + nb - common > SEVMIG__ARRAY_MAX)
			return false;
		i = j = 0;
	}
	uint16_t *o = out->vals;
	k = sevmig__vals_merge_at(sevmig__vals_merge_level(), x, na, y, nb, o, &i, &j);
	memcpy(o + k, x + i, (size_t)(na - i) * 2);
	k += na - i;
	memcpy(o + k, y + j, (size_t)(nb - j) * 2);
	k += nb - j;
	runs = sevmig__vals_nruns(o, k);
	out->kind = SEVMIG__CTR_ARRAY;
	out->card = k;
	out->nruns = runs;
	return true;
}

/* The operations with an ARRAY side: filters where the result is inside
 * the array, else words with the array's bits set or cleared. */
static void array_op(const struct sevmig__cview *a, const struct sevmig__cview *b,
		     enum sevmig__op op, struct sevmig__scratch *out)
{
	bool a_arr = a->kind == SEVMIG__CTR_ARRAY, b_arr = b->kind == SEVMIG__CTR_ARRAY;
	if (op == SEVMIG__AND) {
		if (a_arr)
			vals_filter(a->vals, a->card, b, true, out);
		else
			vals_filter(b->vals, b->card, a, true, out);
		return;
	}
	if (op == SEVMIG__ANDNOT && a_arr) {
		vals_filter(a->vals, a->card, b, false, out);
		return;
	}
	if (op == SEVMIG__OR && a_arr && b_arr && vals_union(a, b, out))
		return;
	/* OR, or a non-array minus an array: the other side's words, then the
	 * array's bits */
	const struct sevmig__cview *arr = b_arr ? b : a, *oth = b_arr ? a : b;
	uint64_t *w = out->words;
	if (oth->kind == SEVMIG__CTR_BITMAP)
		memcpy(w, oth->words, WORDS_BYTES);
	else
		sevmig__view_words(oth, w);
	if (op == SEVMIG__OR) {
		for (uint32_t i = 0; i < arr->card; i++)
			w[arr->vals[i] >> 6] |= UINT64_C(1) << (arr->vals[i] & 63);
	} else {
		for (uint32_t i = 0; i < arr->card; i++)
			w[arr->vals[i] >> 6] &= ~(UINT64_C(1) << (arr->vals[i] & 63));
	}
	sevmig__words_count(w, SEVMIG__CHUNK_WORDS, 0, &out->card, &out->nruns);
	out->kind = SEVMIG__CTR_BITMAP;
}

void sevmig__chunk_op(const struct sevmig__cview *a, const struct sevmig__cview *b,
		      enum sevmig__op op, struct sevmig__scratch *out)
{
	if (a->kind == SEVMIG__CTR_ARRAY || b->kind == SEVMIG__CTR_ARRAY) {
		array_op(a, b, op, out);
		return;
	}
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
	struct sevmig__cview v;
	sevmig__view_scratch(s, &v);
	/* a result in words keeps them unless they hold few pages, as an ARRAY
	 * growing in place would: listing the pages costs more than the copy */
	unsigned kind = sevmig__canon_kind(s->card, s->nruns);
	if (s->kind == SEVMIG__CTR_BITMAP && kind == SEVMIG__CTR_ARRAY &&
	    s->card > SEVMIG__ARRAY_GROW_MAX)
		kind = SEVMIG__CTR_BITMAP;
	struct sevmig__ctr *c = sevmig__ctr_of_view(kind, &v);
	if (!c)
		return -ENOMEM;
	*out = c;
	return SEVMIG__SOME;
}
