/* SPDX-License-Identifier: MIT */
/*
 * Each entity's view of the ownership map, and the seed's EPT annotation of
 * it: bits 57:56 of an entry the view, bits 31:12 of a NOPAGE entry the
 * owner id.
 */
#include <errno.h>
#include <inttypes.h>

#include "pstate/owners_impl.h"
#include "util/error.h"

/* What `entity` sees of a covered entry. */
static enum sevmig_page_view view_of(const struct sevmig__oent *e, uint32_t entity,
				     uint32_t *owner_id)
{
	*owner_id = 0;
	if (e->owner == entity)
		return e->borrower == SEVMIG_OWNER_NONE ? SEVMIG_VIEW_OWNED
							: SEVMIG_VIEW_SHARED_OWNED;
	if (e->borrower == entity)
		return SEVMIG_VIEW_SHARED_BORROWED;
	if (entity == SEVMIG_OWNER_HOST)
		*owner_id = e->owner;
	return SEVMIG_VIEW_NOPAGE;
}

int sevmig_owners_view(const struct sevmig_owners *o, uint32_t entity, uint64_t frame,
		       enum sevmig_page_view *view, uint32_t *owner_id)
{
	if (!o || !view || !owner_id || entity > SEVMIG_OWNER_ID_MAX)
		return -EINVAL;
	const struct sevmig__oent *e = &o->v[sevmig__owners_find(o, frame)];
	if (e->owner == SEVMIG__GAP)
		return -ERANGE;
	*view = view_of(e, entity, owner_id);
	return 0;
}

/* Runs are held back one step so that entries the entity sees alike join
 * (a guest sees the host's and the hypervisor's frames as one NOPAGE). */
struct vw {
	struct sevmig_owners_view_run r;
	bool have;
	sevmig_owners_view_fn fn;
	void *arg;
};

static int vw_put(struct vw *w, uint64_t a, uint64_t b, enum sevmig_page_view v, uint32_t id)
{
	if (w->have && w->r.view == v && w->r.owner_id == id && w->r.first + w->r.nframes == a) {
		w->r.nframes += b - a;
		return 0;
	}
	int rc = w->have ? w->fn(w->arg, &w->r) : 0;
	w->r = (struct sevmig_owners_view_run){ a, b - a, v, id };
	w->have = true;
	return rc;
}

int sevmig_owners_view_walk(const struct sevmig_owners *o, uint32_t entity, uint64_t first,
			    uint64_t nframes, sevmig_owners_view_fn fn, void *arg)
{
	if (!o || !fn || entity > SEVMIG_OWNER_ID_MAX || nframes > UINT64_MAX - first)
		return -EINVAL;
	if (!nframes)
		return 0;
	struct vw w = { .fn = fn, .arg = arg };
	uint64_t end = first + nframes;
	for (size_t i = sevmig__owners_find(o, first); i < o->n && o->v[i].first < end; i++) {
		const struct sevmig__oent *e = &o->v[i];
		if (e->owner == SEVMIG__GAP)
			continue;
		uint64_t a = e->first > first ? e->first : first;
		uint64_t b = sevmig__oent_end(o, i) < end ? sevmig__oent_end(o, i) : end;
		uint32_t id;
		enum sevmig_page_view v = view_of(e, entity, &id);
		int rc = vw_put(&w, a, b, v, id);
		if (rc)
			return rc;
	}
	return w.have ? fn(arg, &w.r) : 0;
}

/* ---- EPT entries ------------------------------------------------------------ */

int sevmig_owners_ept_encode(enum sevmig_page_view view, uint32_t owner_id, uint64_t *pte)
{
	if (!pte || (unsigned)view > SEVMIG_VIEW_SHARED_BORROWED ||
	    owner_id > SEVMIG_OWNER_ID_MAX || (owner_id && view != SEVMIG_VIEW_NOPAGE))
		return -EINVAL;
	uint64_t v = (*pte & ~SEVMIG_EPT_STATE_MASK) | (uint64_t)view << SEVMIG_EPT_STATE_SHIFT;
	/* bits 31:12 of a mapped entry are its address: only NOPAGE owns them */
	if (view == SEVMIG_VIEW_NOPAGE)
		v = (v & ~SEVMIG_EPT_OWNER_MASK) | (uint64_t)owner_id << SEVMIG_EPT_OWNER_SHIFT;
	*pte = v;
	return 0;
}

void sevmig_owners_ept_decode(uint64_t pte, enum sevmig_page_view *view, uint32_t *owner_id)
{
	enum sevmig_page_view v =
	    (enum sevmig_page_view)((pte & SEVMIG_EPT_STATE_MASK) >> SEVMIG_EPT_STATE_SHIFT);
	if (view)
		*view = v;
	if (owner_id)
		*owner_id =
		    v == SEVMIG_VIEW_NOPAGE
			? (uint32_t)((pte & SEVMIG_EPT_OWNER_MASK) >> SEVMIG_EPT_OWNER_SHIFT)
			: 0;
}

struct annot {
	uint64_t *ptes;
	uint64_t base;
};

static int annotate_run(void *arg, const struct sevmig_owners_view_run *r)
{
	struct annot *t = arg;
	for (uint64_t f = r->first; f < r->first + r->nframes; f++) {
		/* views and ids come from the map: always encodable */
		int rc = sevmig_owners_ept_encode(r->view, r->owner_id, &t->ptes[f - t->base]);
		if (rc)
			return rc;
	}
	return 0;
}

int sevmig_owners_ept_annotate(const struct sevmig_owners *o, uint32_t entity, uint64_t first,
			       uint64_t nframes, uint64_t *ptes, size_t cap,
			       struct sevmig_error *err)
{
	if (!o || (!ptes && cap) || entity > SEVMIG_OWNER_ID_MAX)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "annotate: no map, no entries, or entity %" PRIu32
				    " past the id range",
				    entity);
	if (!sevmig__frames_valid(first, nframes))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "annotate: frames 0x%" PRIx64 " + %" PRIu64
				    " are no range below 2^40",
				    first, nframes);
	if (cap < nframes)
		return sevmig__fail(err, -ENOSPC, SEVMIG_NO_OFFSET, 0,
				    "annotate: %" PRIu64 " frames need as many entries, not %zu",
				    nframes, cap);
	/* coverage first, so that nothing is written when a frame is missing */
	uint64_t end = first + nframes;
	for (size_t i = sevmig__owners_find(o, first); i < o->n && o->v[i].first < end; i++)
		if (o->v[i].owner == SEVMIG__GAP)
			return sevmig__fail(err, -ERANGE, SEVMIG_NO_OFFSET, 0,
					    "annotate: frame 0x%" PRIx64 " is not covered",
					    o->v[i].first > first ? o->v[i].first : first);
	struct annot t = { ptes, first };
	return sevmig_owners_view_walk(o, entity, first, nframes, annotate_run, &t);
}

int sevmig_owners_ept_runs(const uint64_t *ptes, size_t n, uint64_t first, sevmig_owners_view_fn fn,
			   void *arg)
{
	if ((!ptes && n) || !fn || n > UINT64_MAX - first)
		return -EINVAL;
	struct vw w = { .fn = fn, .arg = arg };
	for (size_t i = 0; i < n; i++) {
		enum sevmig_page_view v;
		uint32_t id;
		sevmig_owners_ept_decode(ptes[i], &v, &id);
		int rc = vw_put(&w, first + i, first + i + 1, v, id);
		if (rc)
			return rc;
	}
	return w.have ? fn(arg, &w.r) : 0;
}
