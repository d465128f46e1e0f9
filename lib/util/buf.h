/* SPDX-License-Identifier: MIT */
/* A growable byte buffer for building output whose size is not known in
 * advance. Growth doubles; a failed allocation leaves the buffer as it was. */
#ifndef SEVMIG_UTIL_BUF_H
#define SEVMIG_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

struct sevmig__buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/* Make room for `more` bytes past len: 0 or -ENOMEM (or -EOVERFLOW). */
int sevmig__buf_reserve(struct sevmig__buf *b, size_t more);
/* Append n bytes: 0 or -ENOMEM. */
int sevmig__buf_append(struct sevmig__buf *b, const void *p, size_t n);
/* Hand the bytes to the caller (NULL-terminated is not implied); the
 * buffer becomes empty. */
uint8_t *sevmig__buf_take(struct sevmig__buf *b, size_t *len);
void sevmig__buf_free(struct sevmig__buf *b);

#endif
