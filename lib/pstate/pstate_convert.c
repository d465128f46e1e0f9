/* SPDX-License-Identifier: MIT */
/*
 * The two external forms of a map: the run-length list of shared pages (as
 * struct sevmig_range or the kernel's region array) and the encryption
 * bitmap of KVM_GET/SET_PAGE_ENC_BITMAP.
 */
#include "pstate/pstate_impl.h"
#include "util/endian.h"
#include "util/error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- the run list ---------------------------------------------------------- */

struct list_ctx {
	struct sevmig_range *runs;
	size_t cap, count;
};

static int list_put(void *ctx, uint64_t first, uint64_t end)
{
	struct list_ctx *x = ctx;
	if (x->count < x->cap)
		x->runs[x->count] = (struct sevmig_range){ first, end - first };
	x->count++;
	return 0;
}

int sevmig_pstate_to_list(const struct sevmig_pstate *ps, struct sevmig_range *runs, size_t cap,
			  size_t *count)
{
	struct list_ctx x = { runs, cap, 0 };
	(void)sevmig__shared_runs(&ps->sh, 0, SEVMIG_GFN_LIMIT, list_put, &x);
	*count = x.count;
	return x.count > cap ? -ENOSPC : 0;
}

/* Runs from a struct sevmig_range array or a region array. */
struct run_src {
	const struct sevmig_range *list;
	const uint8_t *regions;
	size_t n;
};

static int bad_run(struct sevmig_error *err, int code, const struct run_src *src, size_t i,
		   const char *what, uint64_t gfn, uint64_t end)
{
	uint64_t off = src->regions ? (uint64_t)i * SEVMIG_REGION_ENTRY_SIZE : SEVMIG_NO_OFFSET;
	return sevmig__fail(err, code, off, i, "%s %zu [0x%" PRIx64 ", 0x%" PRIx64 "): %s",
			    src->regions ? "entry" : "run", i, gfn, end, what);
}

/* Where the check of the runs so far stands: the end of the last run, and
 * the stretch of touching slots it was in (the slot cursor only moves
 * forward). */
struct run_cursor {
	uint64_t prev_end, cov_lo, cov_hi;
	size_t j;
};

/* Run i of src, [gfn, end), checked: in bounds, after the one before it,
 * and covered. */
static inline int run_check(const struct sevmig_pstate *ps, const struct run_src *src, size_t i,
			    uint64_t gfn, uint64_t end, struct run_cursor *c,
			    struct sevmig_error *err)
{
	if (end > SEVMIG_GFN_LIMIT)
		return bad_run(err, -EINVAL, src, i, "passes the 52-bit physical limit", gfn, end);
	if (i && gfn < c->prev_end)
		return bad_run(err, -EINVAL, src, i, "overlaps or comes before the previous one",
			       gfn, end);
	if (gfn < c->cov_lo || end > c->cov_hi) {
		/* a new stretch of touching slots */
		size_t j = c->j;
		while (j < ps->nslots && ps->slots[j].end <= gfn)
			j++;
		c->j = j;
		if (j >= ps->nslots || ps->slots[j].gfn > gfn)
			return bad_run(err, -ERANGE, src, i, "not inside the memslots", gfn, end);
		c->cov_lo = ps->slots[j].gfn;
		c->cov_hi = ps->slots[j].end;
		for (size_t t = j + 1; t < ps->nslots && ps->slots[t].gfn == c->cov_hi; t++)
			c->cov_hi = ps->slots[t].end;
		if (end > c->cov_hi)
			return bad_run(err, -ERANGE, src, i, "not inside the memslots", gfn, end);
	}
	c->prev_end = end;
	return 0;
}

/*
 * Every run checked as it goes to the builder, in one pass over the list (a
 * million runs are 16 MB, which a second pass would read from memory
 * again); the map changes only at the commit, so a bad run leaves it as it
 * was.
 */
static int set_from_runs(struct sevmig_pstate *ps, const struct run_src *src,
			 struct sevmig_error *err)
{
	struct sevmig__builder b;
	sevmig__builder_init(&b);
	struct run_cursor c = { 0, 0, 0, 0 };
	int rc = 0;
	for (size_t i = 0; i < src->n && !rc; i++) {
		uint64_t gfn, end;
		/* the list streams from memory: prefetched 1 KiB ahead of the
		 * hardware's prefetching, which leaves the loop waiting (the
		 * build of a million runs 1.3x faster; an address, not a
		 * pointer, since it may be past the end) */
		if (src->list) {
			__builtin_prefetch((const void *)((uintptr_t)&src->list[i] + 1024));
			gfn = src->list[i].gfn;
			uint64_t np = src->list[i].npages;
			if (!np)
				rc = bad_run(err, -EINVAL, src, i, "zero pages", gfn, gfn);
			else if (np > UINT64_MAX - gfn)
				rc = bad_run(err, -EINVAL, src, i, "wraps around", gfn, gfn + np);
			end = gfn + np;
		} else {
			const uint8_t *p = src->regions + i * SEVMIG_REGION_ENTRY_SIZE;
			__builtin_prefetch((const void *)((uintptr_t)p + 1024));
			gfn = sevmig__le64(p);
			end = sevmig__le64(p + 8);
			if (end <= gfn)
				rc = bad_run(err, -EINVAL, src, i, "gfn_end is not above gfn_start",
					     gfn, end);
		}
		if (!rc)
			rc = run_check(ps, src, i, gfn, end, &c, err);
		if (!rc)
			sevmig__builder_add(&b, gfn, end);
	}
	if (rc) {
		sevmig__builder_free(&b);
		return rc;
	}
	rc = sevmig__builder_commit(&b, ps);
	if (rc)
		return sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "out of memory");
	return 0;
}

int sevmig_pstate_set_from_list(struct sevmig_pstate *ps, const struct sevmig_range *runs, size_t n,
				struct sevmig_error *err)
{
	struct run_src src = { runs, NULL, n };
	return set_from_runs(ps, &src, err);
}

/* ---- the region array ------------------------------------------------------ */

struct region_ctx {
	uint8_t *buf;
	size_t cap, count;
};

static int region_put(void *ctx, uint64_t first, uint64_t end)
{
	struct region_ctx *x = ctx;
	if (x->count < x->cap) {
		uint8_t *p = x->buf + x->count * SEVMIG_REGION_ENTRY_SIZE;
		sevmig__put_le64(p, first);
		sevmig__put_le64(p + 8, end);
	}
	x->count++;
	return 0;
}

int sevmig_pstate_to_region_array(const struct sevmig_pstate *ps, void *buf, size_t len,
				  size_t *nents)
{
	struct region_ctx x = { buf, len / SEVMIG_REGION_ENTRY_SIZE, 0 };
	(void)sevmig__shared_runs(&ps->sh, 0, SEVMIG_GFN_LIMIT, region_put, &x);
	*nents = x.count;
	return x.count > x.cap ? -E2BIG : 0;
}

int sevmig_pstate_set_from_region_array(struct sevmig_pstate *ps, const void *buf, size_t len,
					struct sevmig_error *err)
{
	if (len % SEVMIG_REGION_ENTRY_SIZE)
		return sevmig__fail(err, -EINVAL, len - len % SEVMIG_REGION_ENTRY_SIZE,
				    len / SEVMIG_REGION_ENTRY_SIZE,
				    "region array of %zu bytes is not a whole number of %d-byte "
				    "entries",
				    len, SEVMIG_REGION_ENTRY_SIZE);
	struct run_src src = { NULL, buf, len / SEVMIG_REGION_ENTRY_SIZE };
	return set_from_runs(ps, &src, err);
}

/* ---- the bitmap ------------------------------------------------------------ */

size_t sevmig_bitmap_bytes(uint64_t npages)
{
	uint64_t n = npages / 8 + (npages % 8 != 0);
	return n > SIZE_MAX ? SIZE_MAX : (size_t)n;
}

/* 64 shared bits of the set from gfn 64 * g on. */
static uint64_t shared_word(const struct sevmig__ents *sh, uint64_t g)
{
	uint64_t k = g >> 10;
	size_t i = sevmig__ents_find(sh, k);
	if (i >= sh->n || sh->v[i].key > k)
		return 0;
	const struct sevmig__ctr *c = sh->v[i].c;
	if (!c)
		return ~UINT64_C(0);
	return sevmig__ctr_word(c, (uint32_t)(g & (SEVMIG__CHUNK_WORDS - 1)));
}

/* The words of chunk k, or a value every word of the chunk has. */
struct chunk_src {
	const uint64_t *w; /* NULL: all words are u */
	uint64_t u;
};

static void chunk_src_at(const struct sevmig__ents *sh, size_t *cur, uint64_t k, uint64_t *buf,
			 struct chunk_src *cs)
{
	while (*cur < sh->n && (uint64_t)sh->v[*cur].key + sh->v[*cur].span <= k)
		(*cur)++;
	cs->w = NULL;
	cs->u = 0;
	if (*cur >= sh->n || sh->v[*cur].key > k)
		return;
	if (!sh->v[*cur].c) {
		cs->u = ~UINT64_C(0);
		return;
	}
	struct sevmig__cview v;
	sevmig__view(&sh->v[*cur], &v);
	cs->w = sevmig__view_words(&v, buf);
}

static inline uint64_t funnel(uint64_t lo, uint64_t hi, unsigned s)
{
	return s ? (lo >> s) | (hi << (64 - s)) : lo;
}

int sevmig_pstate_to_bitmap(const struct sevmig_pstate *ps, uint64_t base_gfn, uint64_t npages,
			    void *bitmap, size_t len)
{
	if (npages > UINT64_MAX - base_gfn)
		return -EINVAL;
	if (len < sevmig_bitmap_bytes(npages))
		return -ENOSPC;
	if (!npages)
		return 0;
	const struct sevmig__ents *sh = &ps->sh;
	uint8_t *out = bitmap;
	/* output word j is global shared word g0 + j shifted right by s, with
	 * the low bits of the next one on top */
	unsigned s = (unsigned)(base_gfn & 63);
	uint64_t g0 = base_gfn >> 6, nout = npages >> 6;
	uint64_t buf[SEVMIG__CHUNK_WORDS];
	size_t cur = sevmig__ents_find(sh, g0 >> 10);

	for (uint64_t j = 0; j < nout;) {
		uint64_t g = g0 + j, k = g >> 10;
		uint32_t x = (uint32_t)(g & (SEVMIG__CHUNK_WORDS - 1));
		uint64_t cnt = SEVMIG__CHUNK_WORDS - x;
		cnt = cnt < nout - j ? cnt : nout - j;
		struct chunk_src cs;
		chunk_src_at(sh, &cur, k, buf, &cs);
		uint8_t *o = out + 8 * j;
		/* words whose upper neighbour lies in this chunk too */
		uint64_t body = s && x + cnt == SEVMIG__CHUNK_WORDS ? cnt - 1 : cnt;
		if (!cs.w) {
			memset(o, cs.u ? 0 : 0xff, 8 * body);
		} else if (!s) {
			sevmig__words_store_inv(o, cs.w + x, body);
		} else {
			for (uint64_t i = 0; i < body; i++)
				sevmig__put_le64(o + 8 * i,
						 ~funnel(cs.w[x + i], cs.w[x + i + 1], s));
		}
		if (body < cnt) {
			uint64_t lw = cs.w ? cs.w[SEVMIG__CHUNK_WORDS - 1] : cs.u;
			uint64_t hw = shared_word(sh, (k + 1) << 10);
			sevmig__put_le64(o + 8 * body, ~funnel(lw, hw, s));
		}
		j += cnt;
	}
	unsigned tail = (unsigned)(npages & 63);
	if (tail) {
		uint64_t g = g0 + nout;
		uint64_t v = ~funnel(shared_word(sh, g), s ? shared_word(sh, g + 1) : 0, s);
		uint8_t *o = out + 8 * nout;
		unsigned nb = (tail + 7) / 8;
		for (unsigned b = 0; b < nb; b++) {
			uint8_t byte = (uint8_t)(v >> (8 * b));
			if (b == nb - 1 && (tail & 7)) {
				/* the bits past npages keep their value (KVM's rule) */
				uint8_t m = (uint8_t)((1u << (tail & 7)) - 1);
				byte = (uint8_t)((o[b] & ~m) | (byte & m));
			}
			o[b] = byte;
		}
	}
	return 0;
}

static int keep_run(void *ctx, uint64_t first, uint64_t end)
{
	struct sevmig__builder *b = ctx;
	sevmig__builder_add(b, first, end);
	return b->err;
}

int sevmig_pstate_set_from_bitmap(struct sevmig_pstate *ps, uint64_t base_gfn, uint64_t npages,
				  const void *bitmap, size_t len)
{
	if (!sevmig__range_valid(base_gfn, npages))
		return -EINVAL;
	if (len < sevmig_bitmap_bytes(npages))
		return -EINVAL;
	uint64_t end = base_gfn + npages;
	if (!sevmig__covered(ps, base_gfn, end))
		return -ERANGE;

	/* The new content of the chunks the range touches, built aside and
	 * spliced in: the pages of those chunks outside the range keep their
	 * state. */
	uint32_t k0 = (uint32_t)(base_gfn >> SEVMIG__CHUNK_SHIFT);
	uint32_t k1 = (uint32_t)((end - 1) >> SEVMIG__CHUNK_SHIFT);
	struct sevmig__builder b;
	struct sevmig__ents repl;
	sevmig__builder_init(&b);
	(void)sevmig__shared_runs(&ps->sh, (uint64_t)k0 << SEVMIG__CHUNK_SHIFT, base_gfn, keep_run,
				  &b);
	sevmig__builder_add_bits(&b, base_gfn, bitmap, 0, npages);
	(void)sevmig__shared_runs(&ps->sh, end, ((uint64_t)k1 + 1) << SEVMIG__CHUNK_SHIFT, keep_run,
				  &b);
	SEVMIG__TRY(sevmig__builder_finish(&b, &repl));
	return sevmig__ents_splice(&ps->sh, k0, k1, &repl);
}
