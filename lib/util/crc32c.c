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

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *buf,
							    size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;
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
