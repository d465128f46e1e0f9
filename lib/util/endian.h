/* SPDX-License-Identifier: MIT */
/* Little-endian loads and stores through memcpy: every format of the project
 * is little-endian whatever the host, and no buffer is cast to a struct. */
#ifndef SEVMIG_UTIL_ENDIAN_H
#define SEVMIG_UTIL_ENDIAN_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define SEVMIG__BSWAP16(x) __builtin_bswap16(x)
#define SEVMIG__BSWAP32(x) __builtin_bswap32(x)
#define SEVMIG__BSWAP64(x) __builtin_bswap64(x)
#else
#define SEVMIG__BSWAP16(x) (x)
#define SEVMIG__BSWAP32(x) (x)
#define SEVMIG__BSWAP64(x) (x)
#endif

static inline uint16_t sevmig__le16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return SEVMIG__BSWAP16(v);
}
static inline uint32_t sevmig__le32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return SEVMIG__BSWAP32(v);
}
static inline uint64_t sevmig__le64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return SEVMIG__BSWAP64(v);
}
static inline void sevmig__put_le16(void *p, uint16_t v)
{
	v = SEVMIG__BSWAP16(v);
	memcpy(p, &v, sizeof(v));
}
static inline void sevmig__put_le32(void *p, uint32_t v)
{
	v = SEVMIG__BSWAP32(v);
	memcpy(p, &v, sizeof(v));
}
static inline void sevmig__put_le64(void *p, uint64_t v)
{
	v = SEVMIG__BSWAP64(v);
	memcpy(p, &v, sizeof(v));
}

#endif
