/* SPDX-License-Identifier: MIT */
#include "util/crc32c.h"

#include <pthread.h>
#include <string.h>

#include "util/endian.h"

/* Slicing-by-8 tables: constant once built, built once per process. */
static uint32_t crc_table[8][256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void crc_table_build(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] =
			    (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t sevmig__crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	pthread_once(&crc_table_once, crc_table_build);
	crc = ~crc;
	while (len >= 8) {
		uint32_t lo = sevmig__le32(p) ^ crc;
		uint32_t hi = sevmig__le32(p + 4);
		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		      crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		      crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		      crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

/*
 * Polynomial arithmetic modulo the CRC polynomial, in the reflected bit
 * order the CRC uses (bit 31 is x^0). A CRC register r after some bytes,
 * followed by n more bytes, becomes r * x^(8n) + (the register those n
 * bytes give from zero): that is how a CRC is extended over bytes it did
 * not see, and how lanes computed apart are joined.
 */
static uint32_t mulmodp(uint32_t a, uint32_t b)
{
	uint32_t p = 0;
	for (uint32_t m = 1u << 31; m; m >>= 1) {
		if (a & m)
			p ^= b;
		b = (b >> 1) ^ (0x82F63B78u & (0u - (b & 1)));
	}
	return p;
}

/* x^(2^k) for k < 67, built once: a power of x is then one product per set
 * bit of its exponent. */
static uint32_t x2k[67];
static pthread_once_t x2k_once = PTHREAD_ONCE_INIT;

static void x2k_build(void)
{
	x2k[0] = 1u << 30; /* x^1 */
	for (int k = 1; k < 67; k++)
		x2k[k] = mulmodp(x2k[k - 1], x2k[k - 1]);
}

/* x^(n 2^k0) modulo the polynomial. */
static uint32_t xpow(uint64_t n, int k0)
{
	pthread_once(&x2k_once, x2k_build);
	uint32_t r = 1u << 31; /* x^0 */
	for (int k = k0; n; n >>= 1, k++)
		if (n & 1)
			r = mulmodp(x2k[k], r);
	return r;
}

uint32_t sevmig__crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2)
{
	/* Callers mostly join records of one length over and over: keep the
	 * last power. The pre- and post-inversions of the CRCs cancel out. */
	static _Thread_local uint64_t last_len = 0;
	static _Thread_local uint32_t last_pow = 1u << 31;
	if (len2 != last_len) {
		last_pow = xpow(len2, 3);
		last_len = len2;
	}
	return mulmodp(last_pow, crc1) ^ crc2;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/*
 * Two ways to go faster than one chain of the crc32 instruction, which
 * takes 3 cycles but can start one every cycle:
 *  - three chains over three lanes of LANE_LONG (or LANE_SHORT) bytes,
 *    joined by multiplying the earlier lanes' registers by x^(8 lane) with
 *    a table per lane length (any processor with SSE4.2);
 *  - folding with the carry-less multiply, four 512-bit blocks at a time:
 *    a 128-bit piece C followed by d bytes is replaced by the remainder-
 *    equivalent H x^(8d + 64) + L x^(8d) (H, L its halves), which lands on
 *    the piece d bytes later; the last 128 bits go through crc32 (AVX-512
 *    with VPCLMULQDQ).
 */
#define LANE_LONG  8192u
#define LANE_SHORT 256u

static struct {
	uint32_t shift_long[4][256], shift_short[4][256];
	/* Fold constants for 256, 192, 128, 64, 48, 32 and 16 bytes: in each
	 * pair, x^(8d + 63) for the low half (the earlier 8 bytes) and x^(8d -
	 * 1) for the high half, each in the upper 32 bits of its lane (the
	 * reflected order; one x goes to the multiply's bit order). */
	uint64_t fold[7][2];
	int fold_ok; /* the processor can fold */
} hw;
static pthread_once_t hw_once = PTHREAD_ONCE_INIT;

static void hw_build(void)
{
	uint32_t xl = xpow(LANE_LONG, 3), xs = xpow(LANE_SHORT, 3);
	for (uint32_t k = 0; k < 4; k++)
		for (uint32_t b = 0; b < 256; b++) {
			hw.shift_long[k][b] = mulmodp(xl, b << (8 * k));
			hw.shift_short[k][b] = mulmodp(xs, b << (8 * k));
		}
	static const unsigned dist[7] = { 256, 192, 128, 64, 48, 32, 16 };
	for (int i = 0; i < 7; i++) {
		hw.fold[i][0] = (uint64_t)xpow(8ull * dist[i] + 63, 0) << 32;
		hw.fold[i][1] = (uint64_t)xpow(8ull * dist[i] - 1, 0) << 32;
	}
	hw.fold_ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
		     __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("pclmul");
}

static inline uint32_t shift(const uint32_t t[4][256], uint32_t r)
{
	return t[0][r & 0xff] ^ t[1][(r >> 8) & 0xff] ^ t[2][(r >> 16) & 0xff] ^ t[3][r >> 24];
}

__attribute__((target("sse4.2"))) static const uint8_t *
lanes3(uint64_t *c, const uint8_t *p, size_t *len, size_t lane, const uint32_t t[4][256])
{
	while (*len >= 3 * lane) {
		uint64_t a = *c, b = 0, d = 0;
		for (size_t i = 0; i < lane; i += 8) {
			uint64_t x, y, z;
			memcpy(&x, p + i, 8);
			memcpy(&y, p + lane + i, 8);
			memcpy(&z, p + 2 * lane + i, 8);
			a = __builtin_ia32_crc32di(a, x);
			b = __builtin_ia32_crc32di(b, y);
			d = __builtin_ia32_crc32di(d, z);
		}
		a = shift(t, (uint32_t)a) ^ b;
		*c = shift(t, (uint32_t)a) ^ d;
		p += 3 * lane;
		*len -= 3 * lane;
	}
	return p;
}

#define FOLD_TARGET __attribute__((target("avx512f,avx512vl,vpclmulqdq,pclmul,sse4.2")))

FOLD_TARGET static inline __m512i fold512(__m512i x, __m512i k, __m512i next)
{
	return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
					 _mm512_clmulepi64_epi128(x, k, 0x11), next, 0x96);
}

FOLD_TARGET static inline __m512i k512(int i)
{
	return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)hw.fold[i]));
}

FOLD_TARGET static inline __m128i fold128(__m128i x, int i, __m128i next)
{
	__m128i k = _mm_loadu_si128((const __m128i *)(const void *)hw.fold[i]);
	return _mm_ternarylogic_epi64(_mm_clmulepi64_si128(x, k, 0x00),
				      _mm_clmulepi64_si128(x, k, 0x11), next, 0x96);
}

/* *len >= 256: all but the last *len % 16 bytes. */
FOLD_TARGET static const uint8_t *fold(uint64_t *c, const uint8_t *p, size_t *len)
{
#define LD(q) _mm512_loadu_si512((const void *)(q))
	__m512i x0 = LD(p), x1 = LD(p + 64), x2 = LD(p + 128), x3 = LD(p + 192);
	/* The register enters as the first 32 bits of the message. */
	x0 = _mm512_xor_si512(
	    x0, _mm512_inserti32x4(_mm512_setzero_si512(), _mm_cvtsi32_si128((int)*c), 0));
	p += 256;
	*len -= 256;
	__m512i k = k512(0);
	while (*len >= 256) {
		x0 = fold512(x0, k, LD(p));
		x1 = fold512(x1, k, LD(p + 64));
		x2 = fold512(x2, k, LD(p + 128));
		x3 = fold512(x3, k, LD(p + 192));
		p += 256;
		*len -= 256;
	}
	__m512i x = fold512(x0, k512(1), x3);
	x = fold512(x1, k512(2), x);
	x = fold512(x2, k512(3), x);
	for (k = k512(3); *len >= 64; p += 64, *len -= 64)
		x = fold512(x, k, LD(p));
#undef LD
	__m128i v = fold128(_mm512_extracti32x4_epi32(x, 0), 4, _mm512_extracti32x4_epi32(x, 3));
	v = fold128(_mm512_extracti32x4_epi32(x, 1), 5, v);
	v = fold128(_mm512_extracti32x4_epi32(x, 2), 6, v);
	for (; *len >= 16; p += 16, *len -= 16)
		v = fold128(v, 6, _mm_loadu_si128((const __m128i *)(const void *)p));
	*c = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(v));
	*c = _mm_crc32_u64(*c, (uint64_t)_mm_extract_epi64(v, 1));
	return p;
}

/* path 1: three lanes; path 2: folding where the processor can, else 1. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(int path, uint32_t crc, const void *buf,
							    size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;
	if (len >= 256) {
		pthread_once(&hw_once, hw_build);
		if (path == 2 && hw.fold_ok) {
			p = fold(&c, p, &len);
		} else {
			p = lanes3(&c, p, &len, LANE_LONG, hw.shift_long);
			p = lanes3(&c, p, &len, LANE_SHORT, hw.shift_short);
		}
	}
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (len--)
		c32 = __builtin_ia32_crc32qi(c32, *p++);
	return ~c32;
}

int sevmig__crc32c_hw_available(void)
{
	return __builtin_cpu_supports("sse4.2");
}

uint32_t sevmig__crc32c(uint32_t crc, const void *buf, size_t len)
{
	return __builtin_cpu_supports("sse4.2") ? crc32c_hw(2, crc, buf, len)
						: sevmig__crc32c_sw(crc, buf, len);
}

int sevmig__crc32c_via(int path, uint32_t crc, const void *buf, size_t len, uint32_t *out)
{
	if (path == 0) {
		*out = sevmig__crc32c_sw(crc, buf, len);
		return 0;
	}
	pthread_once(&hw_once, hw_build);
	if ((path != 1 && path != 2) || !__builtin_cpu_supports("sse4.2") ||
	    (path == 2 && !hw.fold_ok))
		return -1;
	*out = crc32c_hw(path, crc, buf, len);
	return 0;
}
#else
int sevmig__crc32c_hw_available(void)
{
	return 0;
}

uint32_t sevmig__crc32c(uint32_t crc, const void *buf, size_t len)
{
	return sevmig__crc32c_sw(crc, buf, len);
}

int sevmig__crc32c_via(int path, uint32_t crc, const void *buf, size_t len, uint32_t *out)
{
	if (path)
		return -1;
	*out = sevmig__crc32c_sw(crc, buf, len);
	return 0;
}
#endif
