/* SPDX-License-Identifier: MIT */
/* Unsigned LEB128 varints: 7 bits a byte, low bits first, at most 10 bytes
 * for a uint64_t. Decoding rejects overlong and overflowing encodings so
 * that every value has exactly one encoding. */
#ifndef SEVMIG_UTIL_VARINT_H
#define SEVMIG_UTIL_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define SEVMIG__VARINT_MAX 10

/* Bytes the encoding of v takes (1..10). */
static inline size_t sevmig__varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Write v at p (room for SEVMIG__VARINT_MAX bytes); returns bytes written. */
static inline size_t sevmig__varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/*
 * Read a varint from [p, p + left). Returns bytes consumed (> 0), 0 when the
 * input ends inside the varint, or -1 when it is overlong or overflows.
 */
static inline int sevmig__varint_get(const uint8_t *p, size_t left, uint64_t *v)
{
	uint64_t r = 0;
	for (size_t i = 0; i < SEVMIG__VARINT_MAX; i++) {
		if (i == left)
			return 0;
		uint8_t b = p[i];
		if (i == 9 && b > 1)
			return -1; /* more than 64 bits */
		r |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (b == 0 && i > 0)
				return -1; /* overlong: a redundant zero byte */
			*v = r;
			return (int)i + 1;
		}
	}
	return -1;
}

#endif
