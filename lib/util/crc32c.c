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

/* x^(8 n) modulo the polynomial: square-and-multiply over the bits of n. */
static uint32_t xpow8n(uint64_t n)
{
	uint32_t r = 1u << 31, sq = 1u << 23; /* x^0, x^8 */
	for (; n; n >>= 1) {
		if (n & 1)
			r = mulmodp(sq, r);
		sq = mulmodp(sq, sq);
	}
	return r;
}

uint32_t sevmig__crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2)
{
	/* The pre- and post-inversions of the two CRCs cancel out. */
	return mulmodp(xpow8n(len2), crc1) ^ crc2;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

/*
 * The crc32 instruction takes 3 cycles but can start one every cycle, so one
 * chain of it runs at a third of its speed. Long inputs go as three lanes
 * of LANE_LONG (or LANE_SHORT) bytes in parallel, joined by multiplying the
 * earlier lanes' registers by x^(8 lane) with a table per lane length.
 */
#define LANE_LONG  8192u
#define LANE_SHORT 256u
static uint32_t shift_long[4][256], shift_short[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

static void shift_build(void)
{
	uint32_t xl = xpow8n(LANE_LONG), xs = xpow8n(LANE_SHORT);
	for (uint32_t k = 0; k < 4; k++)
		for (uint32_t b = 0; b < 256; b++) {
			shift_long[k][b] = mulmodp(xl, b << (8 * k));
			shift_short[k][b] = mulmodp(xs, b << (8 * k));
		}
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

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *buf,
							    size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;
	if (len >= 3 * LANE_SHORT) {
		pthread_once(&shift_once, shift_build);
		p = lanes3(&c, p, &len, LANE_LONG, shift_long);
		p = lanes3(&c, p, &len, LANE_SHORT, shift_short);
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
	return __builtin_cpu_supports("sse4.2") ? crc32c_hw(crc, buf, len)
						: sevmig__crc32c_sw(crc, buf, len);
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
#endif
