/* SPDX-License-Identifier: MIT */
/*
 * Copy bytes and extend a CRC32C over them in one pass, for the binary
 * form's CONTAINERS encoding: writing and reading it is a copy of the
 * containers, and a copy followed by a separate CRC pass costs about twice
 * the copy (both run near the speed of the cache). Where the processor has
 * AVX-512 VPCLMULQDQ, the copy's loads feed the same four-lane carry-less
 * folding that lib/util/crc32c.c uses; elsewhere it is memcpy() then
 * sevmig__crc32c(). Both give exactly sevmig__crc32c()'s value
 * (tests/unit/test_pstate_words.c checks them against each other).
 */
#include "pstate/pstate_impl.h"
#include "util/crc32c.h"
#include "util/endian.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82F63B78u /* reflected Castagnoli */

/* a * b modulo the polynomial, in the CRC's reflected bit order (bit 31 is
 * x^0). */
static uint32_t mulmodp(uint32_t a, uint32_t b)
{
	uint32_t p = 0;
	for (uint32_t m = UINT32_C(1) << 31; m; m >>= 1) {
		if (a & m)
			p ^= b;
		b = (b >> 1) ^ (POLY & (0u - (b & 1)));
	}
	return p;
}

/* x^n modulo the polynomial. */
static uint32_t xpow(uint64_t n)
{
	uint32_t r = UINT32_C(1) << 31, x = UINT32_C(1) << 30;
	for (; n; n >>= 1) {
		if (n & 1)
			r = mulmodp(r, x);
		x = mulmodp(x, x);
	}
	return r;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* Fold constants for 256, 192, 128, 64, 48, 32 and 16 bytes ahead: in each
 * pair x^(8d + 63) for a piece's low half, x^(8d - 1) for its high half,
 * in the upper 32 bits of their lanes. */
static uint64_t fold_k[7][2];
static int fold_ok, count_ok;
static pthread_once_t fold_once = PTHREAD_ONCE_INIT;

static void fold_build(void)
{
	static const unsigned dist[7] = { 256, 192, 128, 64, 48, 32, 16 };
	for (int i = 0; i < 7; i++) {
		fold_k[i][0] = (uint64_t)xpow(8ull * dist[i] + 63) << 32;
		fold_k[i][1] = (uint64_t)xpow(8ull * dist[i] - 1) << 32;
	}
	fold_ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
		  __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("pclmul") &&
		  __builtin_cpu_supports("sse4.2");
	count_ok = fold_ok && __builtin_cpu_supports("avx512vpopcntdq");
}

#define FOLD_TARGET __attribute__((target("avx512f,avx512vl,vpclmulqdq,pclmul,sse4.2,prfchw")))

FOLD_TARGET static inline __m512i fold512(__m512i x, __m512i k, __m512i next)
{
	return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
					 _mm512_clmulepi64_epi128(x, k, 0x11), next, 0x96);
}

FOLD_TARGET static inline __m512i k512(int i)
{
	return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)fold_k[i]));
}

FOLD_TARGET static inline __m128i fold128(__m128i x, int i, __m128i next)
{
	__m128i k = _mm_loadu_si128((const __m128i *)(const void *)fold_k[i]);
	return _mm_ternarylogic_epi64(_mm_clmulepi64_si128(x, k, 0x00),
				      _mm_clmulepi64_si128(x, k, 0x11), next, 0x96);
}

/*
 * Where the copy's destination is not in the cache (a map's file is as big
 * as the map), each store waits for its line to be read first: asking for
 * the lines for writing 512 bytes ahead makes the copy run as fast as
 * memcpy() (it ran 20 % slower without). Prefetches never fault, so those
 * past the end are harmless. (PREFETCHW: every processor with AVX-512 has
 * it, and the callers are compiled for it.)
 */
/* p + off, which may be past the end of p's object: computed as an
 * address, not as a pointer into it. */
static inline const uint8_t *ahead(const uint8_t *p, size_t off)
{
	return (const uint8_t *)((uintptr_t)p + off);
}

/* The four lines from `off` bytes past p. */
static inline void prefetch_w4(const uint8_t *p, size_t off)
{
	for (size_t o = off; o < off + 256; o += 64)
		__builtin_prefetch(ahead(p, o), 1);
}

/* len a multiple of 16, at least 256. */
FOLD_TARGET static uint32_t copy_fold(uint32_t crc, uint8_t *d, const uint8_t *p, size_t len)
{
#define LD(q)	 _mm512_loadu_si512((const void *)(q))
#define ST(q, v) _mm512_storeu_si512((void *)(q), v)
	prefetch_w4(d, 256);
	prefetch_w4(d, 512);
	__m512i a0 = LD(p), a1 = LD(p + 64), a2 = LD(p + 128), a3 = LD(p + 192);
	ST(d, a0);
	ST(d + 64, a1);
	ST(d + 128, a2);
	ST(d + 192, a3);
	/* the register enters as the first 32 bits of the message */
	__m512i x0 = _mm512_xor_si512(
	    a0, _mm512_inserti32x4(_mm512_setzero_si512(), _mm_cvtsi32_si128((int)~crc), 0));
	__m512i x1 = a1, x2 = a2, x3 = a3, k = k512(0);
	for (p += 256, d += 256, len -= 256; len >= 256; p += 256, d += 256, len -= 256) {
		prefetch_w4(d, 512);
		__m512i b0 = LD(p), b1 = LD(p + 64), b2 = LD(p + 128), b3 = LD(p + 192);
		ST(d, b0);
		ST(d + 64, b1);
		ST(d + 128, b2);
		ST(d + 192, b3);
		x0 = fold512(x0, k, b0);
		x1 = fold512(x1, k, b1);
		x2 = fold512(x2, k, b2);
		x3 = fold512(x3, k, b3);
	}
	__m512i x = fold512(x0, k512(1), x3);
	x = fold512(x1, k512(2), x);
	x = fold512(x2, k512(3), x);
	for (k = k512(3); len >= 64; p += 64, d += 64, len -= 64) {
		__m512i b = LD(p);
		ST(d, b);
		x = fold512(x, k, b);
	}
#undef LD
#undef ST
	__m128i v = fold128(_mm512_extracti32x4_epi32(x, 0), 4, _mm512_extracti32x4_epi32(x, 3));
	v = fold128(_mm512_extracti32x4_epi32(x, 1), 5, v);
	v = fold128(_mm512_extracti32x4_epi32(x, 2), 6, v);
	for (; len >= 16; p += 16, d += 16, len -= 16) {
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)p);
		_mm_storeu_si128((__m128i *)(void *)d, b);
		v = fold128(v, 6, b);
	}
	uint64_t c = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(v));
	c = _mm_crc32_u64(c, (uint64_t)_mm_extract_epi64(v, 1));
	return ~(uint32_t)c;
}
/* Eight words: set bits and run starts, given the eight before (as
 * word_ops.c counts them). */
#define COUNT_TARGET                                                                \
	__attribute__((target("avx512f,avx512vl,avx512vpopcntdq,vpclmulqdq,pclmul," \
			      "sse4.2,prfchw")))
COUNT_TARGET static inline void count8(__m512i x, __m512i prev, __m512i *c, __m512i *r)
{
	__m512i below = _mm512_srli_epi64(_mm512_alignr_epi64(x, prev, 7), 63);
	__m512i starts = _mm512_andnot_si512(_mm512_or_si512(_mm512_slli_epi64(x, 1), below), x);
	*c = _mm512_add_epi64(*c, _mm512_popcnt_epi64(x));
	*r = _mm512_add_epi64(*r, _mm512_popcnt_epi64(starts));
}

/* A chunk's 8192 bytes of words: copied, checksummed and counted. */
COUNT_TARGET static uint32_t copy_fold_count(uint32_t crc, uint64_t *dst, const uint8_t *p,
					     uint32_t *card, uint32_t *runs)
{
#define LD(q)	 _mm512_loadu_si512((const void *)(q))
#define ST(q, v) _mm512_storeu_si512((void *)(q), v)
	uint8_t *d = (uint8_t *)dst;
	prefetch_w4(d, 256);
	prefetch_w4(d, 512);
	__m512i c = _mm512_setzero_si512(), r = c, prev = c;
	__m512i a0 = LD(p), a1 = LD(p + 64), a2 = LD(p + 128), a3 = LD(p + 192);
	ST(d, a0);
	ST(d + 64, a1);
	ST(d + 128, a2);
	ST(d + 192, a3);
	count8(a0, prev, &c, &r);
	count8(a1, a0, &c, &r);
	count8(a2, a1, &c, &r);
	count8(a3, a2, &c, &r);
	prev = a3;
	__m512i x0 = _mm512_xor_si512(
	    a0, _mm512_inserti32x4(_mm512_setzero_si512(), _mm_cvtsi32_si128((int)~crc), 0));
	__m512i x1 = a1, x2 = a2, x3 = a3, k = k512(0);
	for (size_t o = 256; o < SEVMIG__CHUNK_WORDS * 8; o += 256) {
		prefetch_w4(d, o + 512);
		__m512i b0 = LD(p + o), b1 = LD(p + o + 64), b2 = LD(p + o + 128),
			b3 = LD(p + o + 192);
		ST(d + o, b0);
		ST(d + o + 64, b1);
		ST(d + o + 128, b2);
		ST(d + o + 192, b3);
		count8(b0, prev, &c, &r);
		count8(b1, b0, &c, &r);
		count8(b2, b1, &c, &r);
		count8(b3, b2, &c, &r);
		prev = b3;
		x0 = fold512(x0, k, b0);
		x1 = fold512(x1, k, b1);
		x2 = fold512(x2, k, b2);
		x3 = fold512(x3, k, b3);
	}
#undef LD
#undef ST
	__m512i x = fold512(x0, k512(1), x3);
	x = fold512(x1, k512(2), x);
	x = fold512(x2, k512(3), x);
	__m128i v = fold128(_mm512_extracti32x4_epi32(x, 0), 4, _mm512_extracti32x4_epi32(x, 3));
	v = fold128(_mm512_extracti32x4_epi32(x, 1), 5, v);
	v = fold128(_mm512_extracti32x4_epi32(x, 2), 6, v);
	uint64_t cr = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(v));
	cr = _mm_crc32_u64(cr, (uint64_t)_mm_extract_epi64(v, 1));
	*card = (uint32_t)_mm512_reduce_add_epi64(c);
	*runs = (uint32_t)_mm512_reduce_add_epi64(r);
	return ~(uint32_t)cr;
}

#endif

uint32_t sevmig__copy_crc32c_words(uint32_t crc, uint64_t *dst, const void *src, uint32_t *card,
				   uint32_t *runs)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	pthread_once(&fold_once, fold_build);
	if (count_ok)
		return copy_fold_count(crc, dst, src, card, runs);
#endif
	crc = sevmig__copy_crc32c(crc, dst, src, SEVMIG__CHUNK_WORDS * 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	for (uint32_t j = 0; j < SEVMIG__CHUNK_WORDS; j++)
		dst[j] = sevmig__le64(&dst[j]);
#endif
	sevmig__words_count(dst, SEVMIG__CHUNK_WORDS, 0, card, runs);
	return crc;
}

uint32_t sevmig__copy_crc32c(uint32_t crc, void *dst, const void *src, size_t len)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (len >= 256 + 63) {
		pthread_once(&fold_once, fold_build);
		if (fold_ok) {
			/* up to where the stores line up with cache lines: a store
			 * that straddles two costs about twice one that does not */
			size_t head = (64 - ((uintptr_t)dst & 63)) & 63;
			if (head) {
				memcpy(dst, src, head);
				crc = sevmig__crc32c(crc, dst, head);
				dst = (uint8_t *)dst + head;
				src = (const uint8_t *)src + head;
				len -= head;
			}
			size_t body = len & ~(size_t)15;
			crc = copy_fold(crc, dst, src, body);
			dst = (uint8_t *)dst + body;
			src = (const uint8_t *)src + body;
			len -= body;
		}
	}
#endif
	if (!len)
		return crc;
	memcpy(dst, src, len);
	return sevmig__crc32c(crc, dst, len);
}
