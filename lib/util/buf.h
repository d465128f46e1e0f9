/* SPDX-License-Identifier: MIT */
/* A growable byte buffer for building output whose size is not known in
 * advance. The first reservation is exact, growth doubles; a failed
 * allocation leaves the buffer as it was. */
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
/* Hand the bytes to the caller (NULL-terminated is not implied), in a
 * block shrunk to their size when it is more than twice that; the buffer
 * becomes empty. */
uint8_t *sevmig__buf_take(struct sevmig__buf *b, size_t *len);
void sevmig__buf_free(struct sevmig__buf *b);

/*
 * A byte queue: bytes pushed at the back, taken from the front (the
 * sans-I/O engines' output and the input they gather). It compacts when
 * it runs empty, so a queue drained as fast as it fills stays small.
 */
struct sevmig__queue {
	struct sevmig__buf b;
	size_t pos; /* the first byte not yet taken */
};

/* Push n bytes: 0 or -ENOMEM. */
int sevmig__queue_push(struct sevmig__queue *q, const void *p, size_t n);
/* Take up to cap bytes into buf: the count. */
size_t sevmig__queue_take(struct sevmig__queue *q, void *buf, size_t cap);
/* Take back the last n bytes pushed (n <= pending). */
static inline void sevmig__queue_unpush(struct sevmig__queue *q, size_t n)
{
	q->b.len -= n;
}
/* Drop n bytes from the front (n <= pending). */
void sevmig__queue_drop(struct sevmig__queue *q, size_t n);
static inline size_t sevmig__queue_pending(const struct sevmig__queue *q)
{
	return q->b.len - q->pos;
}
/* The pending bytes, contiguous (valid until the next push). */
static inline const uint8_t *sevmig__queue_front(const struct sevmig__queue *q)
{
	return q->b.data + q->pos;
}
static inline void sevmig__queue_free(struct sevmig__queue *q)
{
	sevmig__buf_free(&q->b);
	q->pos = 0;
}

#endif
