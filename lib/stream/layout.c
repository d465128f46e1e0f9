/* SPDX-License-Identifier: MIT */
/* The memory layout: the caller's regions (or the header's memslots),
 * checked, sorted and searchable by gfn. */
#include "stream/stream_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int slot_cmp(const void *a, const void *b)
{
	const struct sevmig__slot *x = a, *y = b;
	return x->gfn < y->gfn ? -1 : x->gfn > y->gfn;
}

int sevmig__layout_from_regions(const struct sevmig_mem_region *regions, size_t n, bool need_host,
				struct sevmig__layout *out, struct sevmig_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!regions || !n)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no memory regions given");
	if (n > SEVMIG_STREAM_MAX_SLOTS)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "%zu memory regions: the stream format allows at most %u", n,
				    SEVMIG_STREAM_MAX_SLOTS);
	struct sevmig__slot *s = calloc(n, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct sevmig_mem_region *r = &regions[i];
		if ((r->gpa | r->size) & (SEVMIG_PAGE_SIZE - 1) || !r->size ||
		    r->gpa + r->size < r->gpa ||
		    (r->gpa + r->size) >> SEVMIG_PAGE_SHIFT > SEVMIG_GFN_LIMIT) {
			free(s);
			return sevmig__fail(
			    err, -EINVAL, SEVMIG_NO_OFFSET, i,
			    "region %zu (gpa 0x%llx, size 0x%llx): not page-aligned, "
			    "empty or beyond the 52-bit address space",
			    i, (unsigned long long)r->gpa, (unsigned long long)r->size);
		}
		/* Host pages map guest pages one to one (as KVM's memslots
		 * require), so a page never straddles two host pages. */
		if (need_host && (!r->host || (uintptr_t)r->host & (SEVMIG_PAGE_SIZE - 1))) {
			free(s);
			return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, i,
					    "region %zu: host address %p is missing or not "
					    "page-aligned",
					    i, r->host);
		}
		s[i] = (struct sevmig__slot){ r->gpa >> SEVMIG_PAGE_SHIFT,
					      r->size >> SEVMIG_PAGE_SHIFT, r->host, i };
	}
	qsort(s, n, sizeof(*s), slot_cmp);
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (i && s[i].gfn < s[i - 1].gfn + s[i - 1].npages) {
			size_t a = s[i - 1].user_idx, b = s[i].user_idx;
			free(s);
			return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, b,
					    "regions %zu and %zu overlap", a, b);
		}
		total += s[i].npages;
	}
	out->slots = s;
	out->n = n;
	out->total_pages = total;
	return 0;
}

int sevmig__layout_from_ranges(const struct sevmig_range *r, size_t n, struct sevmig__layout *out)
{
	memset(out, 0, sizeof(*out));
	struct sevmig__slot *s = calloc(n ? n : 1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		s[i] = (struct sevmig__slot){ r[i].gfn, r[i].npages, NULL, i };
		out->total_pages += r[i].npages;
	}
	out->slots = s;
	out->n = n;
	return 0;
}

void sevmig__layout_free(struct sevmig__layout *l)
{
	free(l->slots);
	memset(l, 0, sizeof(*l));
}

long sevmig__layout_find(const struct sevmig__layout *l, uint64_t gfn, size_t *hint)
{
	if (hint && *hint < l->n) {
		const struct sevmig__slot *s = &l->slots[*hint];
		if (gfn >= s->gfn && gfn - s->gfn < s->npages)
			return (long)*hint;
	}
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (gfn < l->slots[mid].gfn)
			hi = mid;
		else if (gfn - l->slots[mid].gfn >= l->slots[mid].npages)
			lo = mid + 1;
		else {
			if (hint)
				*hint = mid;
			return (long)mid;
		}
	}
	return -1;
}

static int count_pages(void *arg, uint64_t gfn, uint64_t npages)
{
	(void)gfn;
	*(uint64_t *)arg += npages;
	return 0;
}

bool sevmig__layout_covers(const struct sevmig__layout *l, const struct sevmig_pstate *ps)
{
	struct sevmig_pstate_stats st;
	sevmig_pstate_stats(ps, &st);
	if (st.covered_pages != l->total_pages)
		return false;
	/* Every layout page covered, and as many covered pages as layout
	 * pages: the coverage is the layout. */
	for (size_t i = 0; i < l->n; i++) {
		uint64_t got = 0;
		if (sevmig_pstate_walk(ps, l->slots[i].gfn, l->slots[i].npages, SEVMIG_PAGE_SHARED,
				       count_pages, &got) < 0 ||
		    sevmig_pstate_walk(ps, l->slots[i].gfn, l->slots[i].npages, SEVMIG_PAGE_PRIVATE,
				       count_pages, &got) < 0)
			return false;
		if (got != l->slots[i].npages)
			return false;
	}
	return true;
}

int sevmig__layout_pstate(const struct sevmig__layout *l, struct sevmig_pstate **out)
{
	struct sevmig_pstate *ps;
	SEVMIG__TRY(sevmig_pstate_new(&ps, NULL));
	for (size_t i = 0; i < l->n; i++) {
		int rc = sevmig_pstate_add_slot(ps, l->slots[i].gfn, l->slots[i].npages);
		if (rc < 0) {
			sevmig_pstate_free(ps);
			return rc;
		}
	}
	*out = ps;
	return 0;
}

struct restrict_ctx {
	struct sevmig_pstate *dst;
};

static int set_shared(void *arg, uint64_t gfn, uint64_t npages)
{
	struct restrict_ctx *c = arg;
	return sevmig_pstate_set_range(c->dst, gfn, npages, SEVMIG_PAGE_SHARED);
}

int sevmig__pstate_restrict(const struct sevmig_pstate *src, uint64_t first, uint64_t end,
			    struct sevmig_pstate **out)
{
	struct sevmig_pstate *ps;
	SEVMIG__TRY(sevmig_pstate_new(&ps, NULL));
	int rc = 0;
	size_t n = sevmig_pstate_slot_count(src);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct sevmig_range r;
		rc = sevmig_pstate_slot(src, i, &r);
		if (rc < 0)
			break;
		uint64_t a = r.gfn > first ? r.gfn : first;
		uint64_t b = r.gfn + r.npages < end ? r.gfn + r.npages : end;
		if (a < b)
			rc = sevmig_pstate_add_slot(ps, a, b - a);
	}
	if (rc == 0) {
		struct restrict_ctx c = { ps };
		rc =
		    sevmig_pstate_walk(src, first, end - first, SEVMIG_PAGE_SHARED, set_shared, &c);
	}
	if (rc < 0) {
		sevmig_pstate_free(ps);
		return rc;
	}
	*out = ps;
	return 0;
}
