/* SPDX-License-Identifier: MIT */
/* Two maps at once: merge, diff, delta and equality. */
#include "pstate/pstate_impl.h"
#include "util/buf.h"
#include "util/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- diff ------------------------------------------------------------------- */

struct diff_ctx {
	sevmig_change_fn fn;
	void *arg;
	bool have;
	struct sevmig_pstate_change cur;
	uint64_t lo, hi; /* the coverage segment being compared */
	/* one-sided segments: the side that covers, and the end of its last
	 * shared run */
	bool a_side;
	uint64_t pos;
	uint64_t words[SEVMIG__CHUNK_WORDS], words2[SEVMIG__CHUNK_WORDS];
	uint16_t runs[2 * SEVMIG__ARRAY_MAX]; /* an ARRAY as runs */
};

/* Report [s, e) as (pa, pb), joined with the previous range when it
 * continues it with the same states: ranges come out maximal. */
static int emit(struct diff_ctx *d, uint64_t s, uint64_t e, enum sevmig_page_state pa,
		enum sevmig_page_state pb)
{
	s = s < d->lo ? d->lo : s;
	e = e > d->hi ? d->hi : e;
	if (s >= e)
		return 0;
	if (d->have && d->cur.gfn + d->cur.npages == s && d->cur.a == pa && d->cur.b == pb) {
		d->cur.npages += e - s;
		return 0;
	}
	if (d->have) {
		int rc = d->fn(d->arg, &d->cur);
		if (rc)
			return rc;
	}
	d->cur = (struct sevmig_pstate_change){ s, e - s, pa, pb };
	d->have = true;
	return 0;
}

#define SH SEVMIG_PAGE_SHARED
#define PR SEVMIG_PAGE_PRIVATE
#define AB SEVMIG_PAGE_ABSENT

static inline int emit_side(struct diff_ctx *d, uint64_t s, uint64_t e, bool a_shared)
{
	return a_shared ? emit(d, s, e, SH, PR) : emit(d, s, e, PR, SH);
}

static int diff_block(void *ctx, uint32_t k, uint32_t len, bool a_full, bool b_full)
{
	if (a_full == b_full)
		return 0;
	uint64_t s = (uint64_t)k << SEVMIG__CHUNK_SHIFT;
	return emit_side(ctx, s, s + ((uint64_t)len << SEVMIG__CHUNK_SHIFT), a_full);
}

static inline uint32_t pair_at(const uint16_t *r, uint32_t i)
{
	uint32_t v;
	memcpy(&v, &r[2 * i], sizeof(v));
	return v;
}

/* Run lists: identical leading and trailing runs are skipped (a 1 % flip
 * touches few runs per chunk), the rest is swept boundary by boundary. */
static int diff_runs(struct diff_ctx *d, uint64_t base, const struct sevmig__cview *va,
		     const struct sevmig__cview *vb)
{
	const uint16_t *a = va->runs, *b = vb->runs;
	uint32_t na = va->nruns, nb = vb->nruns, p = 0;
	while (p < na && p < nb && pair_at(a, p) == pair_at(b, p))
		p++;
	while (na > p && nb > p && pair_at(a, na - 1) == pair_at(b, nb - 1)) {
		na--;
		nb--;
	}
	struct sevmig__sweep sw = { a, b, na, nb, p, p, 0 };
	while (sw.pos < SEVMIG__CHUNK_PAGES && (sw.ia < na || sw.ib < nb)) {
		bool xa, xb;
		uint32_t end = sevmig__sweep_piece(&sw, &xa, &xb);
		if (xa != xb) {
			int rc = emit_side(d, base + sw.pos, base + end, xa);
			if (rc)
				return rc;
		}
		sevmig__sweep_next(&sw, end, xa, xb);
	}
	return 0;
}

/* Sorted arrays: identical leading and trailing offsets are skipped, the
 * rest merged; a page only one side has is a difference. */
static int diff_vals(struct diff_ctx *d, uint64_t base, const struct sevmig__cview *va,
		     const struct sevmig__cview *vb)
{
	const uint16_t *a = va->vals, *b = vb->vals;
	uint32_t na = va->card, nb = vb->card, i = 0, j = 0;
	while (i < na && i < nb && a[i] == b[i])
		i++;
	j = i;
	while (na > i && nb > j && a[na - 1] == b[nb - 1]) {
		na--;
		nb--;
	}
	while (i < na || j < nb) {
		/* mostly the same: 16 at a time */
		if (i + 16 <= na && j + 16 <= nb && !memcmp(a + i, b + j, 32)) {
			i += 16;
			j += 16;
			continue;
		}
		uint32_t x = i < na ? a[i] : UINT32_MAX, y = j < nb ? b[j] : UINT32_MAX;
		int rc = 0;
		if (x == y) {
			i++;
			j++;
			continue;
		}
		if (x < y) {
			rc = emit_side(d, base + x, base + x + 1, true);
			i++;
		} else {
			rc = emit_side(d, base + y, base + y + 1, false);
			j++;
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int diff_words(struct diff_ctx *d, uint64_t base, const uint64_t *x, const uint64_t *y)
{
	/* find the differing words first (vector compares), then visit them */
	uint64_t neq[SEVMIG__CHUNK_WORDS / 64];
	sevmig__words_neq(x, y, neq);
	for (uint32_t h = 0; h < SEVMIG__CHUNK_WORDS / 64; h++) {
		for (uint64_t e = neq[h]; e; e &= e - 1) {
			uint32_t i = h * 64 + (uint32_t)__builtin_ctzll(e);
			uint64_t dd = x[i] ^ y[i], am = x[i] & dd, bm = y[i] & dd;
			uint64_t gb = base + 64 * (uint64_t)i;
			while (am | bm) {
				unsigned p = (unsigned)__builtin_ctzll(am | bm);
				bool is_a = (am >> p) & 1;
				uint64_t m = (is_a ? am : bm) >> p;
				unsigned len = ~m ? (unsigned)__builtin_ctzll(~m) : 64 - p;
				uint64_t clr =
				    len >= 64 ? ~UINT64_C(0) : ((UINT64_C(1) << len) - 1) << p;
				if (is_a)
					am &= ~clr;
				else
					bm &= ~clr;
				int rc = emit_side(d, gb + p, gb + p + len, is_a);
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

static int diff_key(void *ctx, uint32_t k, const struct sevmig__ent *ea,
		    const struct sevmig__ent *eb)
{
	struct diff_ctx *d = ctx;
	if (ea && eb && ea->c && eb->c && sevmig__ctr_same(ea->c, eb->c))
		return 0;
	struct sevmig__cview va, vb;
	sevmig__view(ea, &va);
	sevmig__view(eb, &vb);
	uint64_t base = (uint64_t)k << SEVMIG__CHUNK_SHIFT;
	if (va.kind == SEVMIG__CTR_RUN && vb.kind == SEVMIG__CTR_RUN)
		return diff_runs(d, base, &va, &vb);
	if (va.kind == SEVMIG__CTR_ARRAY && vb.kind == SEVMIG__CTR_ARRAY)
		return diff_vals(d, base, &va, &vb);
	/* an ARRAY against runs (an empty or full side too): the array as
	 * runs, then the sweep */
	if (va.kind == SEVMIG__CTR_ARRAY && vb.kind == SEVMIG__CTR_RUN) {
		va.nruns = sevmig__vals_to_runs(va.vals, va.card, d->runs);
		va.runs = d->runs;
		va.kind = SEVMIG__CTR_RUN;
		return diff_runs(d, base, &va, &vb);
	}
	if (vb.kind == SEVMIG__CTR_ARRAY && va.kind == SEVMIG__CTR_RUN) {
		vb.nruns = sevmig__vals_to_runs(vb.vals, vb.card, d->runs);
		vb.runs = d->runs;
		vb.kind = SEVMIG__CTR_RUN;
		return diff_runs(d, base, &va, &vb);
	}
	/* mixed kinds: both as words */
	return diff_words(d, base, sevmig__view_words(&va, d->words),
			  sevmig__view_words(&vb, d->words2));
}

static const struct sevmig__pair_ops diff_ops = { diff_block, diff_key, true };

/* A segment only one map covers: that map's states against ABSENT. */
static int one_side_state(struct diff_ctx *d, uint64_t s, uint64_t e, enum sevmig_page_state st)
{
	return d->a_side ? emit(d, s, e, st, AB) : emit(d, s, e, AB, st);
}

static int one_side_run(void *ctx, uint64_t first, uint64_t end)
{
	struct diff_ctx *d = ctx;
	int rc = first > d->pos ? one_side_state(d, d->pos, first, PR) : 0;
	d->pos = end;
	return rc ? rc : one_side_state(d, first, end, SH);
}

static int diff_segment(struct diff_ctx *d, const struct sevmig_pstate *a,
			const struct sevmig_pstate *b, uint64_t s, uint64_t e, bool ca, bool cb)
{
	d->lo = s;
	d->hi = e;
	if (ca && cb)
		return sevmig__pair_walk(&a->sh, &b->sh, s >> SEVMIG__CHUNK_SHIFT,
					 ((e - 1) >> SEVMIG__CHUNK_SHIFT) + 1, &diff_ops, d);
	d->a_side = ca;
	d->pos = s;
	int rc = sevmig__shared_runs(ca ? &a->sh : &b->sh, s, e, one_side_run, d);
	if (!rc && d->pos < e)
		rc = one_side_state(d, d->pos, e, PR);
	return rc;
}

int sevmig_pstate_diff(const struct sevmig_pstate *a, const struct sevmig_pstate *b,
		       sevmig_change_fn fn, void *arg)
{
	/* on the stack: a diff never fails for want of memory, so that
	 * sevmig_pstate_equal() is exact */
	struct diff_ctx ctx, *d = &ctx;
	d->fn = fn;
	d->arg = arg;
	d->have = false;
	/* cut the gfn space where either coverage starts or stops */
	const struct sevmig__slot *sa = a->slots, *sb = b->slots;
	size_t na = a->nslots, nb = b->nslots, ia = 0, ib = 0;
	uint64_t pos = 0;
	int rc = 0;
	while (!rc) {
		while (ia < na && sa[ia].end <= pos)
			ia++;
		while (ib < nb && sb[ib].end <= pos)
			ib++;
		if (ia >= na && ib >= nb)
			break;
		bool ca = ia < na && sa[ia].gfn <= pos;
		bool cb = ib < nb && sb[ib].gfn <= pos;
		uint64_t xa = ia < na ? (ca ? sa[ia].end : sa[ia].gfn) : UINT64_MAX;
		uint64_t xb = ib < nb ? (cb ? sb[ib].end : sb[ib].gfn) : UINT64_MAX;
		uint64_t nx = xa < xb ? xa : xb;
		if (ca || cb)
			rc = diff_segment(d, a, b, pos, nx, ca, cb);
		pos = nx;
	}
	if (!rc && d->have)
		rc = fn(arg, &d->cur);
	return rc;
}

static int stop_at_first(void *arg, const struct sevmig_pstate_change *c)
{
	(void)arg;
	(void)c;
	return 1;
}

bool sevmig_pstate_equal(const struct sevmig_pstate *a, const struct sevmig_pstate *b)
{
	return sevmig_pstate_diff(a, b, stop_at_first, NULL) == 0;
}

/* ---- delta ------------------------------------------------------------------ */

struct delta_ctx {
	struct sevmig__buf slots; /* struct sevmig__slot */
	struct sevmig__buf runs;  /* struct sevmig__slot: b's shared runs */
};

/* Append [s, e) to a list of slots, joining it to the last one it touches. */
static int append_joined(struct sevmig__buf *b, uint64_t s, uint64_t e)
{
	if (b->len) {
		struct sevmig__slot last;
		memcpy(&last, b->data + b->len - sizeof(last), sizeof(last));
		if (last.end == s) {
			last.end = e;
			memcpy(b->data + b->len - sizeof(last), &last, sizeof(last));
			return 0;
		}
	}
	struct sevmig__slot x = { s, e };
	return sevmig__buf_append(b, &x, sizeof(x));
}

static int delta_change(void *arg, const struct sevmig_pstate_change *c)
{
	struct delta_ctx *x = arg;
	if (c->a == AB || c->b == AB)
		return 0;
	int rc = append_joined(&x->slots, c->gfn, c->gfn + c->npages);
	if (!rc && c->b == SH)
		rc = append_joined(&x->runs, c->gfn, c->gfn + c->npages);
	return rc;
}

int sevmig_pstate_delta(const struct sevmig_pstate *a, const struct sevmig_pstate *b,
			struct sevmig_pstate **out)
{
	struct delta_ctx x = { { 0 }, { 0 } };
	int rc = sevmig_pstate_diff(a, b, delta_change, &x);
	struct sevmig__ents sh = { 0 };
	if (!rc) {
		struct sevmig__builder bl;
		sevmig__builder_init(&bl);
		size_t n = x.runs.len / sizeof(struct sevmig__slot);
		for (size_t i = 0; i < n; i++) {
			struct sevmig__slot r;
			memcpy(&r, x.runs.data + i * sizeof(r), sizeof(r));
			sevmig__builder_add(&bl, r.gfn, r.end);
		}
		rc = sevmig__builder_finish(&bl, &sh);
	}
	sevmig__buf_free(&x.runs);
	if (rc) {
		sevmig__buf_free(&x.slots);
		return rc < 0 ? rc : -ENOMEM;
	}
	size_t ns = x.slots.len / sizeof(struct sevmig__slot);
	struct sevmig__slot *slots = ns ? malloc(x.slots.len) : NULL;
	if (ns && !slots) {
		sevmig__buf_free(&x.slots);
		sevmig__ents_free(&sh);
		return -ENOMEM;
	}
	if (ns)
		memcpy(slots, x.slots.data, x.slots.len);
	sevmig__buf_free(&x.slots);
	return sevmig__pstate_adopt(slots, ns, &sh, out);
}

/* ---- merge ------------------------------------------------------------------ */

/* Union of two slot lists: overlapping slots become one, touching slots
 * stay apart (they may be distinct memslots). */
static int slots_union(const struct sevmig_pstate *a, const struct sevmig_pstate *b,
		       struct sevmig__slot **out, size_t *nout)
{
	size_t na = a->nslots, nb = b->nslots, n = 0, ia = 0, ib = 0;
	struct sevmig__slot *s = NULL;
	*out = NULL;
	*nout = 0;
	if (!na && !nb)
		return 0;
	s = malloc((na + nb) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	while (ia < na || ib < nb) {
		struct sevmig__slot x;
		if (ib >= nb || (ia < na && a->slots[ia].gfn <= b->slots[ib].gfn))
			x = a->slots[ia++];
		else
			x = b->slots[ib++];
		if (n && x.gfn < s[n - 1].end) {
			if (x.end > s[n - 1].end)
				s[n - 1].end = x.end;
		} else {
			s[n++] = x;
		}
	}
	*out = s;
	*nout = n;
	return 0;
}

int sevmig_pstate_merge(const struct sevmig_pstate *a, const struct sevmig_pstate *b,
			enum sevmig_merge_op op, struct sevmig_pstate **out)
{
	if (op != SEVMIG_MERGE_UNION && op != SEVMIG_MERGE_INTERSECT && op != SEVMIG_MERGE_OVERLAY)
		return -EINVAL;
	struct sevmig__slot *slots;
	size_t nslots;
	SEVMIG__TRY(slots_union(a, b, &slots, &nslots));
	struct sevmig__ents sh, cov;
	int rc;
	if (op == SEVMIG_MERGE_OVERLAY) {
		rc = sevmig__coverage_set(b, &cov);
		if (!rc) {
			rc = sevmig__ents_overlay(&a->sh, &cov, &b->sh, false, &sh);
			sevmig__ents_free(&cov);
		}
	} else {
		rc = sevmig__ents_combine(&a->sh, &b->sh,
					  op == SEVMIG_MERGE_UNION ? SEVMIG__OR : SEVMIG__AND,
					  false, &sh);
	}
	if (rc) {
		free(slots);
		return rc;
	}
	return sevmig__pstate_adopt(slots, nslots, &sh, out);
}
