/* SPDX-License-Identifier: MIT */
/*
 * Steering convergence: what each pass cost, the downtime a final round
 * would have, the rule that says stop or go on, and the pacing of a
 * sans-I/O sender's output. The sender feeds it; it keeps no clock of its
 * own (it is told the time).
 */
#include "stream/stream_internal.h"

#include <errno.h>
#include <string.h>

void sevmig__conv_begin(struct sevmig__conv *c, uint64_t now_ns,
			const struct sevmig_stream_counts *at)
{
	c->t0 = now_ns;
	c->at = *at;
}

void sevmig__conv_end(struct sevmig__conv *c, uint64_t now_ns,
		      const struct sevmig_stream_counts *now, uint64_t acked_pages)
{
	struct sevmig_round_stats *r = &c->last;
	memset(r, 0, sizeof(*r));
	r->sz = sizeof(*r);
	r->round = now->rounds - 1;
	r->enc_pages = now->enc_pages - c->at.enc_pages;
	r->plain_pages = now->plain_pages - c->at.plain_pages;
	r->zero_pages = now->zero_pages - c->at.zero_pages;
	r->pages = r->enc_pages + r->plain_pages + r->zero_pages;
	r->bytes = now->bytes - c->at.bytes;
	r->duration_ns = now_ns > c->t0 ? now_ns - c->t0 : 0;
	r->bytes_per_s =
	    r->duration_ns ? (uint64_t)((double)r->bytes * 1e9 / (double)r->duration_ns) : 0;
	uint64_t sent = now->enc_pages + now->plain_pages + now->zero_pages;
	r->acked_pages = acked_pages;
	r->backlog_pages = sent > acked_pages ? sent - acked_pages : 0;
	c->have = true;
	/* The line duration = fixed + pages x per_page, by least squares. */
	double x = (double)r->pages, y = (double)r->duration_ns;
	c->n++;
	c->sx += x;
	c->sy += y;
	c->sxx += x * x;
	c->sxy += x * y;
	/* Dirty pages of the pre-copy rounds, newest last. */
	if (r->round > 0) {
		memmove(c->recent, c->recent + 1, sizeof(c->recent) - sizeof(c->recent[0]));
		c->recent[3] = r->pages;
		c->nrecent += c->nrecent < 4;
	}
}

int sevmig__conv_stats(const struct sevmig__conv *c, struct sevmig_round_stats *st)
{
	if (!st || st->sz < sizeof(st->sz))
		return -EINVAL;
	if (!c->have)
		return -ENODATA;
	sevmig__out_fill(st, &c->last, sizeof(c->last));
	return 0;
}

int sevmig__conv_estimate(const struct sevmig__conv *c, uint64_t pages,
			  struct sevmig_downtime_estimate *e)
{
	if (!e || e->sz < sizeof(e->sz))
		return -EINVAL;
	if (!c->have)
		return -ENODATA;
	double per_page = 0, fixed = 0;
	double d = (double)c->n * c->sxx - c->sx * c->sx;
	if (c->n >= 2 && d > 0) {
		per_page = ((double)c->n * c->sxy - c->sx * c->sy) / d;
		fixed = (c->sy - per_page * c->sx) / (double)c->n;
	}
	if (per_page <= 0 || fixed < 0) {
		/* One pass, or passes of one size, or a fit that says time
		 * falls with work: the mean time per page, no fixed part. */
		per_page = c->sx > 0 ? c->sy / c->sx : 0;
		fixed = 0;
	}
	struct sevmig_downtime_estimate r = { .pages = pages };
	r.transfer_ns = (uint64_t)(per_page * (double)pages);
	r.fixed_ns = (uint64_t)fixed;
	r.total_ns = r.transfer_ns + r.fixed_ns;
	sevmig__out_fill(e, &r, sizeof(r));
	return 0;
}

int sevmig__conv_decide(const struct sevmig__conv *c, uint64_t pages, uint64_t target_ns,
			unsigned max_rounds)
{
	struct sevmig_downtime_estimate e = { .sz = sizeof(e) };
	SEVMIG__TRY(sevmig__conv_estimate(c, pages, &e));
	if (e.total_ns <= target_ns)
		return SEVMIG_CONVERGE_STOP;
	if (max_rounds && c->last.round >= max_rounds)
		return SEVMIG_CONVERGE_MAX_ROUNDS;
	if (c->nrecent == 4 && c->recent[1] >= c->recent[0] && c->recent[2] >= c->recent[1] &&
	    c->recent[3] >= c->recent[2])
		return SEVMIG_CONVERGE_STUCK;
	return SEVMIG_CONVERGE_GO_ON;
}

void sevmig__pace_init(struct sevmig__pace *p, uint64_t bytes_per_s, uint64_t now_ns)
{
	memset(p, 0, sizeof(*p));
	p->rate = bytes_per_s;
	p->burst = bytes_per_s / 100 > 65536 ? bytes_per_s / 100 : 65536;
	p->tokens = p->burst;
	p->t = now_ns;
}

/* Tokens earned since the last look (a token bucket of `burst` bytes). */
static void refill(struct sevmig__pace *p, uint64_t now_ns)
{
	if (now_ns <= p->t)
		return;
	double add = (double)(now_ns - p->t) * (double)p->rate / 1e9;
	p->t = now_ns;
	p->tokens = p->tokens + add > (double)p->burst ? (double)p->burst : p->tokens + add;
}

size_t sevmig__pace_allow(struct sevmig__pace *p, uint64_t now_ns, size_t want)
{
	if (!p->rate)
		return want;
	refill(p, now_ns);
	size_t n = p->tokens >= (double)want ? want : (size_t)p->tokens;
	p->tokens -= (double)n;
	return n;
}

uint64_t sevmig__pace_wait_ns(struct sevmig__pace *p, uint64_t now_ns)
{
	if (!p->rate)
		return 0;
	refill(p, now_ns);
	if (p->tokens >= 1)
		return 0;
	return (uint64_t)((1 - p->tokens) * 1e9 / (double)p->rate) + 1;
}
