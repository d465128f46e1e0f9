/* SPDX-License-Identifier: MIT */
/*
 * The word loops of the page-state map exist in three versions picked by
 * the processor (portable, popcnt, AVX-512): each version this host can run
 * must agree with a bit-by-bit count on random chunks, whatever version the
 * rest of the tests happen to use here.
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "pstate/pstate_impl.h"
#include "util/crc32c.h"
#include "util/endian.h"

#define NW    SEVMIG__CHUNK_WORDS
#define NBITS SEVMIG__CHUNK_PAGES

static struct tu_rng rng;

static bool bit(const uint64_t *w, uint32_t i)
{
	return (w[i / 64] >> (i % 64)) & 1;
}

/* Random words of some character: empty, full, sparse, dense, long runs. */
static void fill(uint64_t *w, size_t n, int kind)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = tu_next(&rng);
		switch (kind % 6) {
		case 0:
			v = 0;
			break;
		case 1:
			v = ~UINT64_C(0);
			break;
		case 2:
			v &= tu_next(&rng) & tu_next(&rng) & tu_next(&rng); /* sparse */
			break;
		case 3:
			v = tu_below(&rng, 4) ? (tu_below(&rng, 2) ? 0 : ~UINT64_C(0))
					      : v; /* runs */
			break;
		default:
			break;
		}
		w[i] = v;
	}
}

static void ref_count(const uint64_t *w, size_t n, uint64_t carry, uint32_t *card, uint32_t *runs)
{
	uint32_t c = 0, r = 0;
	bool prev = carry;
	for (uint32_t i = 0; i < n * 64; i++) {
		bool b = bit(w, i);
		c += b;
		r += b && !prev;
		prev = b;
	}
	*card = c;
	*runs = r;
}

static void test_levels(void **state)
{
	(void)state;
	rng.s = tu_seed("test_pstate_words");
	int top = sevmig__words_level();
	fprintf(stderr, "word loops: levels 0..%d run on this host\n", top);
	static uint64_t x[NW], y[NW], out[NW], edges[NW / 64];
	static uint8_t src[NW * 8];
	static uint16_t runs[NBITS];
	for (int round = 0; round < 60; round++) {
		fill(x, NW, round);
		fill(y, NW, round / 6);
		uint32_t want_c, want_r, c, r;
		/* counting any length, with and without a carry in */
		size_t n = round % 3 ? NW : 1 + tu_below(&rng, NW);
		uint64_t carry = round & 1;
		ref_count(x, n, carry, &want_c, &want_r);
		for (int lvl = 0; lvl <= top; lvl++) {
			sevmig__words_count_at(lvl, x, n, carry, &c, &r);
			assert_int_equal(c, want_c);
			assert_int_equal(r, want_r);
		}
		/* the operations */
		for (int op = SEVMIG__OR; op <= SEVMIG__ANDNOT; op++) {
			uint64_t want[NW];
			for (size_t i = 0; i < NW; i++)
				want[i] = op == SEVMIG__OR    ? x[i] | y[i]
					  : op == SEVMIG__AND ? x[i] & y[i]
							      : x[i] & ~y[i];
			ref_count(want, NW, 0, &want_c, &want_r);
			for (int lvl = 0; lvl <= top; lvl++) {
				sevmig__words_op_at(lvl, (enum sevmig__op)op, x, y, out, &c, &r);
				assert_memory_equal(out, want, sizeof(want));
				assert_int_equal(c, want_c);
				assert_int_equal(r, want_r);
			}
		}
		/* storing inverted, any length */
		for (int lvl = 0; lvl <= top; lvl++) {
			size_t cnt = tu_below(&rng, NW + 1);
			memset(src, 0x33, sizeof(src));
			sevmig__words_store_inv_at(lvl, src, x, cnt);
			for (size_t i = 0; i < cnt * 8; i++)
				assert_int_equal(src[i], (uint8_t)(~x[i / 8] >> (8 * (i % 8))));
			for (size_t i = cnt * 8; i < sizeof(src); i++)
				assert_int_equal(src[i], 0x33);
		}
		/* which words differ (y agrees with x in some words) */
		for (size_t i = 0; i < NW; i++)
			if (tu_below(&rng, 3))
				y[i] = x[i];
		for (int lvl = 0; lvl <= top; lvl++) {
			uint64_t neq[NW / 64];
			sevmig__words_neq_at(lvl, x, y, neq);
			for (uint32_t i = 0; i < NW; i++)
				assert_int_equal(bit(neq, i), x[i] != y[i]);
		}
		/* loading from an encryption bitmap (set = private) */
		for (size_t i = 0; i < NW; i++)
			for (int b = 0; b < 8; b++)
				src[8 * i + b] = (uint8_t)(~x[i] >> (8 * b));
		ref_count(x, NW, 0, &want_c, &want_r);
		for (int lvl = 0; lvl <= top; lvl++) {
			memset(edges, 0xa5, sizeof(edges));
			sevmig__words_load_at(lvl, out, src, &c, &r, edges);
			assert_memory_equal(out, x, sizeof(x));
			assert_int_equal(c, want_c);
			assert_int_equal(r, want_r);
			for (uint32_t i = 0; i < NW; i++) {
				bool any = false;
				for (uint32_t b = 0; b < 64; b++) {
					uint32_t p = 64 * i + b;
					any |= bit(x, p) != (p ? bit(x, p - 1) : false);
				}
				assert_int_equal(bit(edges, i), any);
			}
			/* runs from the edges and from a full scan agree */
			if (want_r <= NBITS / 2) {
				uint32_t n1 = sevmig__words_to_runs_edges(out, edges, runs);
				uint16_t runs2[2 * 2048];
				if (want_r <= 2048) {
					uint32_t n2 = sevmig__words_to_runs(out, runs2);
					assert_int_equal(n1, want_r);
					assert_int_equal(n2, want_r);
					assert_memory_equal(runs, runs2, n1 * 2 * sizeof(uint16_t));
				}
			}
		}
	}
}

/* The copy with its CRC32C: the bytes of memcpy() and the value of
 * sevmig__crc32c(), at every length around the fold's 256-byte blocks,
 * chained from any value, at any alignment. */
static void test_copy_crc(void **state)
{
	(void)state;
	struct tu_rng r = { tu_seed("test_copy_crc") };
	enum { MAX = 5000 };
	static uint8_t src[MAX + 64], dst[MAX + 64];
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)tu_next(&r);
	for (int round = 0; round < 2000; round++) {
		size_t len = round < 600 ? (size_t)round : (size_t)tu_below(&r, MAX);
		size_t so = (size_t)tu_below(&r, 64), d_o = (size_t)tu_below(&r, 64);
		uint32_t crc = round & 1 ? (uint32_t)tu_next(&r) : 0;
		memset(dst, 0xa5, sizeof(dst));
		uint32_t got = sevmig__copy_crc32c(crc, dst + d_o, src + so, len);
		assert_int_equal(got, sevmig__crc32c(crc, src + so, len));
		assert_memory_equal(dst + d_o, src + so, len);
		for (size_t i = 0; i < d_o; i++)
			assert_int_equal(dst[i], 0xa5);
		for (size_t i = d_o + len; i < sizeof(dst); i++)
			assert_int_equal(dst[i], 0xa5);
	}
}

/* The same for a chunk of words, counted: against memcpy(), the CRC and
 * the word loops' count, on chunks of every density. */
static void test_copy_crc_words(void **state)
{
	(void)state;
	struct tu_rng r = { tu_seed("test_copy_crc_words") };
	static uint64_t w[SEVMIG__CHUNK_WORDS], out[SEVMIG__CHUNK_WORDS];
	static uint8_t src[SEVMIG__CHUNK_WORDS * 8];
	for (int round = 0; round < 200; round++) {
		fill(w, SEVMIG__CHUNK_WORDS, round % 6);
		for (size_t i = 0; i < SEVMIG__CHUNK_WORDS; i++)
			sevmig__put_le64(src + 8 * i, w[i]);
		uint32_t crc = round & 1 ? (uint32_t)tu_next(&r) : 0, card, runs, c2, r2;
		uint32_t got = sevmig__copy_crc32c_words(crc, out, src, &card, &runs);
		assert_int_equal(got, sevmig__crc32c(crc, src, sizeof(src)));
		assert_memory_equal(out, w, sizeof(w));
		sevmig__words_count(w, SEVMIG__CHUNK_WORDS, 0, &c2, &r2);
		assert_int_equal(card, c2);
		assert_int_equal(runs, r2);
	}
}

/*
 * A chunk's content converted between kinds (sevmig__view_content(), what
 * the writer uses for a container an update left in a larger kind), by the
 * version of each loop this host picks: against the set bits listed one by
 * one, for chunks of every spread the ARRAY and RUN kinds can hold, and never
 * a byte stored past the content.
 */
static void check_content(unsigned kind, const struct sevmig__cview *v, const void *want,
			  size_t bytes)
{
	static uint8_t out[2 * NBITS + 128] __attribute__((aligned(64))); /* runs: 4 bytes each */
	memset(out, 0xa5, sizeof(out));
	sevmig__view_content(kind, v, out);
	if (memcmp(out, want, bytes))
		fail_msg("kind %u from kind %u, %u pages in %u runs: wrong content", kind, v->kind,
			 v->card, v->nruns);
	for (size_t i = bytes; i < sizeof(out); i++)
		if (out[i] != 0xa5)
			fail_msg(
			    "kind %u from kind %u, %u pages in %u runs: byte %zu of %zu written",
			    kind, v->kind, v->card, v->nruns, i, bytes);
}

static void test_view_content(void **state)
{
	(void)state;
	struct tu_rng r = { tu_seed("test_view_content") };
	static uint64_t w[NW];
	static uint16_t vals[NBITS], runs[NBITS];
	for (int round = 0; round < 400; round++) {
		memset(w, 0, sizeof(w));
		/* up to ARRAY_MAX pages: scattered, in clusters (words of more
		 * than 32 pages), or in the last words only */
		uint32_t want = 1 + (uint32_t)tu_below(&r, SEVMIG__ARRAY_MAX);
		unsigned mode = round % 3;
		for (uint32_t n = 0; n < want;) {
			uint32_t b = mode == 2 ? NBITS - 1 - (uint32_t)tu_below(&r, 2 * want)
					       : (uint32_t)tu_below(&r, NBITS);
			uint32_t len = mode == 1 ? 1 + (uint32_t)tu_below(&r, 64) : 1;
			for (uint32_t i = b; i < b + len && i < NBITS && n < want; i++)
				if (!bit(w, i)) {
					w[i / 64] |= UINT64_C(1) << (i % 64);
					n++;
				}
		}
		uint32_t card = 0, nruns = 0;
		for (uint32_t i = 0; i < NBITS; i++) {
			if (!bit(w, i))
				continue;
			if (!i || !bit(w, i - 1)) {
				runs[2 * nruns] = (uint16_t)i;
				nruns++;
			}
			runs[2 * nruns - 1] = (uint16_t)i;
			vals[card++] = (uint16_t)i;
		}
		assert_int_equal(card, want);
		struct sevmig__cview bm = { SEVMIG__CTR_BITMAP, nruns, card, NULL, w, NULL };
		struct sevmig__cview ar = { SEVMIG__CTR_ARRAY, nruns, card, NULL, NULL, vals };
		struct sevmig__cview rn = { SEVMIG__CTR_RUN, nruns, card, runs, NULL, NULL };
		check_content(SEVMIG__CTR_ARRAY, &bm, vals, 2 * (size_t)card);
		check_content(SEVMIG__CTR_RUN, &bm, runs, 4 * (size_t)nruns);
		check_content(SEVMIG__CTR_RUN, &ar, runs, 4 * (size_t)nruns);
		check_content(SEVMIG__CTR_ARRAY, &rn, vals, 2 * (size_t)card);
		check_content(SEVMIG__CTR_BITMAP, &ar, w, sizeof(w));
		check_content(SEVMIG__CTR_BITMAP, &rn, w, sizeof(w));
	}
}

/* Sorted distinct offsets: n drawn from [0, 65536). */
static uint32_t rand_vals(struct tu_rng *r, uint16_t *v, uint32_t n)
{
	static uint8_t seen[NBITS];
	memset(seen, 0, sizeof(seen));
	for (uint32_t k = 0; k < n;) {
		uint32_t x = (uint32_t)tu_below(r, NBITS);
		if (!seen[x]) {
			seen[x] = 1;
			k++;
		}
	}
	uint32_t k = 0;
	for (uint32_t x = 0; x < NBITS; x++)
		if (seen[x])
			v[k++] = (uint16_t)x;
	return k;
}

/*
 * The merge of two arrays (a union's), at every level this host runs,
 * against a merge written here step by step: on arrays that are nearly the
 * same (two snapshots), unrelated, or one inside the other, of lengths on
 * both sides of the 32 offsets the AVX-512 version compares at once; and
 * nothing stored past the union.
 */
static void test_vals_merge(void **state)
{
	(void)state;
	struct tu_rng r = { tu_seed("test_vals_merge") };
	static uint16_t x[SEVMIG__ARRAY_MAX], y[SEVMIG__ARRAY_MAX], want[2 * SEVMIG__ARRAY_MAX],
	    got[2 * SEVMIG__ARRAY_MAX + 64];
	int top = sevmig__vals_merge_level();
	for (int round = 0; round < 3000; round++) {
		uint32_t n = (uint32_t)(round % 10 ? tu_below(&r, 80) : tu_below(&r, 2000));
		uint32_t na = rand_vals(&r, x, n), nb;
		unsigned mode = round % 3;
		if (mode == 0) { /* nearly the same: a few offsets in or out */
			nb = 0;
			for (uint32_t i = 0; i < na; i++)
				if (tu_below(&r, 16))
					y[nb++] = x[i];
			for (uint32_t i = 0; i + 1 < nb; i++)
				if (!tu_below(&r, 16) && y[i] + 1u < y[i + 1]) {
					memmove(&y[i + 2], &y[i + 1], (nb - i - 1) * sizeof(*y));
					y[i + 1] = (uint16_t)(y[i] + 1);
					nb++;
					i++;
				}
		} else if (mode == 1) {
			nb = rand_vals(&r, y, (uint32_t)tu_below(&r, 80));
		} else { /* y inside x */
			nb = 0;
			for (uint32_t i = 0; i < na; i++)
				if (tu_below(&r, 2))
					y[nb++] = x[i];
		}
		uint32_t wi = 0, wj = 0, wk = 0;
		while (wi < na && wj < nb) {
			uint16_t m = x[wi] < y[wj] ? x[wi] : y[wj];
			wi += x[wi] == m;
			wj += y[wj] == m;
			want[wk++] = m;
		}
		uint32_t all = wk + (na - wi) + (nb - wj);
		for (int lvl = 0; lvl <= top; lvl++) {
			memset(got, 0xa5, sizeof(got));
			uint32_t i, j;
			uint32_t k = sevmig__vals_merge_at(lvl, x, na, y, nb, got, &i, &j);
			if (k != wk || i != wi || j != wj || memcmp(got, want, 2 * (size_t)k))
				fail_msg(
				    "level %d, %u and %u offsets (mode %u): merged %u (want %u), "
				    "stopped at %u, %u (want %u, %u)",
				    lvl, na, nb, mode, k, wk, i, j, wi, wj);
			for (size_t b = 2 * (size_t)all; b < sizeof(got); b++)
				if (((uint8_t *)got)[b] != 0xa5)
					fail_msg("level %d: byte %zu written past the union", lvl,
						 b);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),	       cmocka_unit_test(test_copy_crc),
		cmocka_unit_test(test_copy_crc_words), cmocka_unit_test(test_view_content),
		cmocka_unit_test(test_vals_merge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
