/* SPDX-License-Identifier: MIT */
#include "util/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Slack beyond the bytes' own size a taken buffer may keep. */
#define BUF_SLACK_MAX 4096

int sevmig__buf_reserve(struct sevmig__buf *b, size_t more)
{
	if (more > SIZE_MAX - b->len)
		return -EOVERFLOW;
	size_t need = b->len + more;
	if (need <= b->cap)
		return 0;
	/* A first reservation is the size the writer knows it needs: exact.
	 * Growth past it doubles. */
	size_t cap = b->cap ? b->cap : need > 256 ? need : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int sevmig__buf_append(struct sevmig__buf *b, const void *p, size_t n)
{
	int rc = sevmig__buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

uint8_t *sevmig__buf_take(struct sevmig__buf *b, size_t *len)
{
	uint8_t *p = b->data;
	/* The caller keeps what it is given, possibly for long: not a block
	 * more than twice its bytes (room reserved for a payload that then
	 * compressed). Not for less: a shrink can cost a copy and the warm
	 * reuse of the block by the next allocation, more than the slack is
	 * worth. Where it fails, the larger block is as good. */
	if (p && b->cap - b->len > b->len + BUF_SLACK_MAX) {
		uint8_t *q = realloc(p, b->len ? b->len : 1);
		if (q)
			p = q;
	}
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void sevmig__buf_free(struct sevmig__buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int sevmig__queue_push(struct sevmig__queue *q, const void *p, size_t n)
{
	if (q->pos == q->b.len)
		q->b.len = q->pos = 0;
	return sevmig__buf_append(&q->b, p, n);
}

void sevmig__queue_drop(struct sevmig__queue *q, size_t n)
{
	q->pos += n;
	if (q->pos == q->b.len)
		q->b.len = q->pos = 0;
}

size_t sevmig__queue_take(struct sevmig__queue *q, void *buf, size_t cap)
{
	size_t n = sevmig__queue_pending(q) < cap ? sevmig__queue_pending(q) : cap;
	if (!n)
		return 0;
	memcpy(buf, sevmig__queue_front(q), n);
	sevmig__queue_drop(q, n);
	return n;
}
