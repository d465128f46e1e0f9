/* SPDX-License-Identifier: MIT */
/*
 * The word loops of BITMAP chunks: counting set bits and runs, operations
 * between two chunks, and loading a chunk from an encryption bitmap.
 *
 * Every BITMAP container knows its set bits and its runs (they decide its
 * kind), so each loop counts as it goes: two popcounts a word, which cost
 * more than the word operation itself. The loops exist three times, picked
 * at run time as util/crc32c.c picks its crc32 instruction: portable,
 * with the popcnt instruction, and with AVX-512 VPOPCNTDQ (eight words a
 * step; AMD Zen 4 and recent Intel server parts have it).
 */
#include "pstate/pstate_impl.h"
#include "util/endian.h"

#include <string.h>

#define INLINE static inline __attribute__((always_inline))
#define NW     SEVMIG__CHUNK_WORDS

/* A run starts where a bit is set and the one below it is not. */
#define STARTS(x, carry) ((x) & ~(((x) << 1) | (carry)))

INLINE void count_body(const uint64_t *w, size_t n, uint64_t carry, uint32_t *card, uint32_t *runs)
{
	uint64_t c = 0, r = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t x = w[i];
		c += (uint64_t)__builtin_popcountll(x);
		r += (uint64_t)__builtin_popcountll(STARTS(x, carry));
		carry = x >> 63;
	}
	*card = (uint32_t)c;
	*runs = (uint32_t)r;
}

#define OP_LOOP(expr)                                                  \
	for (size_t i = 0; i < NW; i++) {                              \
		uint64_t v = (expr);                                   \
		out[i] = v;                                            \
		c += (uint64_t)__builtin_popcountll(v);                \
		r += (uint64_t)__builtin_popcountll(STARTS(v, carry)); \
		carry = v >> 63;                                       \
	}

/* out may be x or y: each word is read before it is written. */
INLINE void op_body(enum sevmig__op op, const uint64_t *x, const uint64_t *y, uint64_t *out,
		    uint32_t *card, uint32_t *runs)
{
	uint64_t c = 0, r = 0, carry = 0;
	switch (op) {
	case SEVMIG__OR:
		OP_LOOP(x[i] | y[i]);
		break;
	case SEVMIG__AND:
		OP_LOOP(x[i] & y[i]);
		break;
	case SEVMIG__ANDNOT:
		OP_LOOP(x[i] & ~y[i]);
		break;
	}
	*card = (uint32_t)c;
	*runs = (uint32_t)r;
}

INLINE void load_body(uint64_t *out, const uint8_t *src, uint32_t *card, uint32_t *runs,
		      uint64_t *edges)
{
	uint64_t c = 0, r = 0, carry = 0;
	memset(edges, 0, SEVMIG__CHUNK_WORDS / 8);
	for (size_t i = 0; i < NW; i++) {
		uint64_t v = ~sevmig__le64(src + 8 * i);
		out[i] = v;
		c += (uint64_t)__builtin_popcountll(v);
		r += (uint64_t)__builtin_popcountll(STARTS(v, carry));
		edges[i / 64] |= (uint64_t)((v ^ ((v << 1) | carry)) != 0) << (i % 64);
		carry = v >> 63;
	}
	*card = (uint32_t)c;
	*runs = (uint32_t)r;
}

INLINE void neq_body(const uint64_t *x, const uint64_t *y, uint64_t *mask)
{
	for (size_t h = 0; h < NW / 64; h++) {
		uint64_t m = 0;
		for (size_t j = 0; j < 64; j++)
			m |= (uint64_t)(x[64 * h + j] != y[64 * h + j]) << j;
		mask[h] = m;
	}
}

INLINE void store_inv_body(uint8_t *dst, const uint64_t *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sevmig__put_le64(dst + 8 * i, ~w[i]);
}

static void count_generic(const uint64_t *w, size_t n, uint64_t carry, uint32_t *card,
			  uint32_t *runs)
{
	count_body(w, n, carry, card, runs);
}

static void op_generic(enum sevmig__op op, const uint64_t *x, const uint64_t *y, uint64_t *out,
		       uint32_t *card, uint32_t *runs)
{
	op_body(op, x, y, out, card, runs);
}

static void load_generic(uint64_t *out, const uint8_t *src, uint32_t *card, uint32_t *runs,
			 uint64_t *edges)
{
	load_body(out, src, card, runs, edges);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_DISPATCH 1
#include <immintrin.h>

#define POPCNT __attribute__((target("popcnt")))
#define AVX512 __attribute__((target("avx512f,avx512vpopcntdq")))

POPCNT static void count_popcnt(const uint64_t *w, size_t n, uint64_t carry, uint32_t *card,
				uint32_t *runs)
{
	count_body(w, n, carry, card, runs);
}

POPCNT static void op_popcnt(enum sevmig__op op, const uint64_t *x, const uint64_t *y,
			     uint64_t *out, uint32_t *card, uint32_t *runs)
{
	op_body(op, x, y, out, card, runs);
}

POPCNT static void load_popcnt(uint64_t *out, const uint8_t *src, uint32_t *card, uint32_t *runs,
			       uint64_t *edges)
{
	load_body(out, src, card, runs, edges);
}

/* Eight words: set bits and run starts, given the previous eight. */
AVX512 static inline void count8(__m512i x, __m512i prev, __m512i *c, __m512i *r)
{
	/* lane j's lower neighbour: lane j - 1, or lane 7 of the previous */
	__m512i below = _mm512_srli_epi64(_mm512_alignr_epi64(x, prev, 7), 63);
	__m512i starts = _mm512_andnot_si512(_mm512_or_si512(_mm512_slli_epi64(x, 1), below), x);
	*c = _mm512_add_epi64(*c, _mm512_popcnt_epi64(x));
	*r = _mm512_add_epi64(*r, _mm512_popcnt_epi64(starts));
}

AVX512 static void count_avx512(const uint64_t *w, size_t n, uint64_t carry, uint32_t *card,
				uint32_t *runs)
{
	__m512i c = _mm512_setzero_si512(), r = c;
	__m512i prev = _mm512_set1_epi64((long long)(carry << 63));
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m512i x = _mm512_loadu_si512(w + i);
		count8(x, prev, &c, &r);
		prev = x;
	}
	uint32_t tc, tr;
	count_body(w + i, n - i, i ? w[i - 1] >> 63 : carry, &tc, &tr);
	*card = (uint32_t)_mm512_reduce_add_epi64(c) + tc;
	*runs = (uint32_t)_mm512_reduce_add_epi64(r) + tr;
}

AVX512 static void op_avx512(enum sevmig__op op, const uint64_t *x, const uint64_t *y,
			     uint64_t *out, uint32_t *card, uint32_t *runs)
{
	__m512i c = _mm512_setzero_si512(), r = c, prev = c;
	for (size_t i = 0; i < NW; i += 8) {
		__m512i a = _mm512_loadu_si512(x + i), b = _mm512_loadu_si512(y + i), v;
		if (op == SEVMIG__OR)
			v = _mm512_or_si512(a, b);
		else if (op == SEVMIG__AND)
			v = _mm512_and_si512(a, b);
		else
			v = _mm512_andnot_si512(b, a);
		_mm512_storeu_si512(out + i, v);
		count8(v, prev, &c, &r);
		prev = v;
	}
	*card = (uint32_t)_mm512_reduce_add_epi64(c);
	*runs = (uint32_t)_mm512_reduce_add_epi64(r);
}

AVX512 static void load_avx512(uint64_t *out, const uint8_t *src, uint32_t *card, uint32_t *runs,
			       uint64_t *edges)
{
	__m512i c = _mm512_setzero_si512(), r = c, prev = c;
	__m512i ones = _mm512_set1_epi64(-1);
	uint64_t e = 0;
	for (size_t i = 0; i < NW; i += 8) {
		/* x86 is little-endian: the bytes are the words */
		__m512i v = _mm512_xor_si512(_mm512_loadu_si512(src + 8 * i), ones);
		_mm512_storeu_si512(out + i, v);
		count8(v, prev, &c, &r);
		__m512i below = _mm512_srli_epi64(_mm512_alignr_epi64(v, prev, 7), 63);
		__m512i t = _mm512_xor_si512(v, _mm512_or_si512(_mm512_slli_epi64(v, 1), below));
		e |= (uint64_t)_mm512_test_epi64_mask(t, t) << (i % 64);
		if (i % 64 == 56) {
			edges[i / 64] = e;
			e = 0;
		}
		prev = v;
	}
	*card = (uint32_t)_mm512_reduce_add_epi64(c);
	*runs = (uint32_t)_mm512_reduce_add_epi64(r);
}

AVX512 static void neq_avx512(const uint64_t *x, const uint64_t *y, uint64_t *mask)
{
	for (size_t h = 0; h < NW / 64; h++) {
		uint64_t m = 0;
		for (size_t j = 0; j < 64; j += 8)
			m |= (uint64_t)_mm512_cmpneq_epu64_mask(_mm512_loadu_si512(x + 64 * h + j),
								_mm512_loadu_si512(y + 64 * h + j))
			     << j;
		mask[h] = m;
	}
}

AVX512 static void store_inv_avx512(uint8_t *dst, const uint64_t *w, size_t n)
{
	__m512i ones = _mm512_set1_epi64(-1);
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm512_storeu_si512(dst + 8 * i, _mm512_xor_si512(_mm512_loadu_si512(w + i), ones));
	store_inv_body(dst + 8 * i, w + i, n - i);
}

static int cpu_level(void)
{
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq"))
		return 2;
	return __builtin_cpu_supports("popcnt") ? 1 : 0;
}
#endif

int sevmig__words_level(void)
{
#ifdef HAVE_DISPATCH
	return cpu_level();
#else
	return 0;
#endif
}

void sevmig__words_count_at(int lvl, const uint64_t *w, size_t n, uint64_t carry, uint32_t *card,
			    uint32_t *runs)
{
#ifdef HAVE_DISPATCH
	switch (lvl) {
	case 2:
		count_avx512(w, n, carry, card, runs);
		return;
	case 1:
		count_popcnt(w, n, carry, card, runs);
		return;
	}
#endif
	(void)lvl;
	count_generic(w, n, carry, card, runs);
}

void sevmig__words_op_at(int lvl, enum sevmig__op op, const uint64_t *x, const uint64_t *y,
			 uint64_t *out, uint32_t *card, uint32_t *runs)
{
#ifdef HAVE_DISPATCH
	switch (lvl) {
	case 2:
		op_avx512(op, x, y, out, card, runs);
		return;
	case 1:
		op_popcnt(op, x, y, out, card, runs);
		return;
	}
#endif
	(void)lvl;
	op_generic(op, x, y, out, card, runs);
}

void sevmig__words_load_at(int lvl, uint64_t *out, const uint8_t *src, uint32_t *card,
			   uint32_t *runs, uint64_t *edges)
{
#ifdef HAVE_DISPATCH
	switch (lvl) {
	case 2:
		load_avx512(out, src, card, runs, edges);
		return;
	case 1:
		load_popcnt(out, src, card, runs, edges);
		return;
	}
#endif
	(void)lvl;
	load_generic(out, src, card, runs, edges);
}

void sevmig__words_count(const uint64_t *w, size_t n, uint64_t carry, uint32_t *card,
			 uint32_t *runs)
{
	sevmig__words_count_at(sevmig__words_level(), w, n, carry, card, runs);
}

void sevmig__words_op(enum sevmig__op op, const uint64_t *x, const uint64_t *y, uint64_t *out,
		      uint32_t *card, uint32_t *runs)
{
	sevmig__words_op_at(sevmig__words_level(), op, x, y, out, card, runs);
}

void sevmig__words_load(uint64_t *out, const uint8_t *src, uint32_t *card, uint32_t *runs,
			uint64_t *edges)
{
	sevmig__words_load_at(sevmig__words_level(), out, src, card, runs, edges);
}

void sevmig__words_neq_at(int lvl, const uint64_t *x, const uint64_t *y, uint64_t *mask)
{
#ifdef HAVE_DISPATCH
	if (lvl == 2) {
		neq_avx512(x, y, mask);
		return;
	}
#endif
	(void)lvl;
	neq_body(x, y, mask);
}

void sevmig__words_neq(const uint64_t *x, const uint64_t *y, uint64_t *mask)
{
	sevmig__words_neq_at(sevmig__words_level(), x, y, mask);
}

void sevmig__words_store_inv_at(int lvl, uint8_t *dst, const uint64_t *w, size_t n)
{
#ifdef HAVE_DISPATCH
	if (lvl == 2) {
		store_inv_avx512(dst, w, n);
		return;
	}
#endif
	(void)lvl;
	store_inv_body(dst, w, n);
}

void sevmig__words_store_inv(uint8_t *dst, const uint64_t *w, size_t n)
{
	sevmig__words_store_inv_at(sevmig__words_level(), dst, w, n);
}
