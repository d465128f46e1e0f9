/* SPDX-License-Identifier: MIT */
/*
 * Page ownership, as pKVM keeps it: for every host frame, its owner and at
 * most one borrower, changed only by pKVM's ten transitions
 * (docs/pstate.md, "Page ownership"; file forms in docs/owners-format.md).
 *
 * Entities are owner ids: the hypervisor (SEVMIG_OWNER_HYP, 0), the host
 * (SEVMIG_OWNER_HOST, 1) and guests (2 and up, written "guest:N"). Ids fit
 * in 20 bits, the room the EPT annotation has for them.
 *
 * A map covers ranges of host frame numbers (physical address >> 12, below
 * SEVMIG_GFN_LIMIT). A frame that enters the coverage is owned by the host
 * and borrowed by nobody. Only six states are reachable, and a map never
 * holds another:
 *
 *   owner   borrower   how it got there
 *   hyp     none       host_donate_hyp
 *   host    none       the initial state
 *   host    hyp        host_share_hyp
 *   host    guest G    host_share_guest
 *   G       none       host_donate_guest
 *   G       host       guest_share_host
 *
 * Each entity sees a frame as pKVM's page state (enum sevmig_page_view):
 * its owner sees OWNED, or SHARED_OWNED while it is borrowed; its borrower
 * sees SHARED_BORROWED; every other entity sees NOPAGE, and in the host's
 * view a NOPAGE frame carries its owner's id.
 *
 * Ranges are half-open [first, first + nframes). A range that is empty,
 * wraps, or passes SEVMIG_GFN_LIMIT is -EINVAL everywhere. Every update is
 * all or nothing: on any error, -ENOMEM included, the map is as it was.
 * Memory is O(runs): a maximal run of frames in one state costs 16 bytes.
 *
 * Threads: a map may be read by many threads at once (no function here
 * modifies a map it takes as const); writes need exclusive access.
 */
#ifndef SEVMIG_OWNERS_H
#define SEVMIG_OWNERS_H

#include <sevmig/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sevmig_owners;
struct sevmig_pstate;

#define SEVMIG_OWNER_HYP       0u
#define SEVMIG_OWNER_HOST      1u
#define SEVMIG_OWNER_GUEST_MIN 2u
#define SEVMIG_OWNER_ID_MAX    0xfffffu /* 20 bits: EPT entry bits 31:12 */
/* "No borrower" (and, where a function says so, "not covered"). */
#define SEVMIG_OWNER_NONE UINT32_MAX
/* Room for the longest name, "guest:1048575", and its NUL. */
#define SEVMIG_OWNER_NAME_MAX 16

/* What an entity's page table says of a frame: the seed's page states,
 * valued as their EPT encoding (bits 57:56). */
enum sevmig_page_view {
	SEVMIG_VIEW_NOPAGE = 0,		 /* not mapped: someone else's */
	SEVMIG_VIEW_OWNED = 1,		 /* owned, not borrowed */
	SEVMIG_VIEW_SHARED_OWNED = 2,	 /* owned, lent to a borrower */
	SEVMIG_VIEW_SHARED_BORROWED = 3, /* borrowed from its owner */
};

/*
 * pKVM's transitions. Each applies to a range, and every frame of it must
 * be covered and in the required state:
 *
 *   transition            required (owner, borrower)   becomes
 *   HOST_DONATE_HYP       host, none                   hyp, none
 *   HYP_DONATE_HOST       hyp, none                    host, none
 *   HOST_SHARE_HYP        host, none                   host, hyp
 *   HOST_UNSHARE_HYP      host, hyp                    host, none
 *   HOST_DONATE_GUEST     host, none                   G, none
 *   GUEST_DONATE_HOST     G, none                      host, none
 *   HOST_SHARE_GUEST      host, none                   host, G
 *   HOST_UNSHARE_GUEST    host, G                      host, none
 *   GUEST_SHARE_HOST      G, none                      G, host
 *   GUEST_UNSHARE_HOST    G, host                      G, none
 */
enum sevmig_owners_op {
	SEVMIG_OWNERS_HOST_DONATE_HYP = 1,
	SEVMIG_OWNERS_HYP_DONATE_HOST = 2,
	SEVMIG_OWNERS_HOST_SHARE_HYP = 3,
	SEVMIG_OWNERS_HOST_UNSHARE_HYP = 4,
	SEVMIG_OWNERS_HOST_DONATE_GUEST = 5,
	SEVMIG_OWNERS_GUEST_DONATE_HOST = 6,
	SEVMIG_OWNERS_HOST_SHARE_GUEST = 7,
	SEVMIG_OWNERS_HOST_UNSHARE_GUEST = 8,
	SEVMIG_OWNERS_GUEST_SHARE_HOST = 9,
	SEVMIG_OWNERS_GUEST_UNSHARE_HOST = 10,
};

/* ---- names -------------------------------------------------------------- */

/* "host_donate_hyp" ... "guest_unshare_host"; NULL for anything else. */
SEVMIG_API const char *sevmig_owners_op_name(enum sevmig_owners_op op);
/* The op of that name (len bytes, no NUL needed): 0 or -EINVAL. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_owners_op_parse(const char *name, size_t len,
						       enum sevmig_owners_op *op);
/* True for the six transitions that name a guest. */
SEVMIG_API bool sevmig_owners_op_takes_guest(enum sevmig_owners_op op);
/* "nopage", "owned", "shared_owned", "shared_borrowed"; "invalid" else. */
SEVMIG_API const char *sevmig_page_view_name(enum sevmig_page_view v);
/*
 * An entity's name into buf (len >= SEVMIG_OWNER_NAME_MAX holds any):
 * "hyp", "host", "guest:N"; "none" for SEVMIG_OWNER_NONE and "invalid" for
 * other ids past SEVMIG_OWNER_ID_MAX. Returns buf (truncated if short).
 */
SEVMIG_API const char *sevmig_owner_name(uint32_t id, char *buf, size_t len);
/*
 * Parse "hyp", "host" or "guest:N" (len bytes; N decimal, 2 to
 * SEVMIG_OWNER_ID_MAX): 0, or -EINVAL with `err` saying what is wrong.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_owner_parse(const char *s, size_t len, uint32_t *id,
						   struct sevmig_error *err);

/* ---- lifetime ------------------------------------------------------------ */

/* A new map covering nothing. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_owners_new(struct sevmig_owners **out,
						  struct sevmig_error *err);
SEVMIG_API void sevmig_owners_free(struct sevmig_owners *o);
SEVMIG_API SEVMIG_NODISCARD int sevmig_owners_clone(const struct sevmig_owners *o,
						    struct sevmig_owners **out,
						    struct sevmig_error *err);
/* True when both cover the same frames with the same states. */
SEVMIG_API bool sevmig_owners_equal(const struct sevmig_owners *a, const struct sevmig_owners *b);

/* ---- coverage ------------------------------------------------------------ */

/*
 * Add frames to the coverage, owned by the host, not borrowed. Touching
 * ranges join (coverage has no boundaries of its own). -EINVAL for a bad
 * range, -EEXIST if any frame is already covered.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_owners_add_range(struct sevmig_owners *o, uint64_t first,
							uint64_t nframes);

/*
 * The first frame that kept a transition (or a check, or a removal) from
 * happening, and its state. Filled up to `sz` bytes (set it to
 * sizeof(struct sevmig_owners_refusal)) when the call returns -EPERM or
 * -ERANGE, untouched otherwise.
 */
struct sevmig_owners_refusal {
	size_t sz;
	uint64_t frame;
	bool covered;	   /* false: the frame is outside the coverage */
	uint32_t owner;	   /* when covered */
	uint32_t borrower; /* when covered; SEVMIG_OWNER_NONE for none */
};

/*
 * Take frames out of the coverage (memory that goes away). Every frame must
 * be covered (-ERANGE) and owned by the host, not borrowed (-EPERM): a
 * frame someone else holds cannot go. `out` and `err` (both may be NULL)
 * name the first frame that is not.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_owners_remove_range(struct sevmig_owners *o, uint64_t first,
							   uint64_t nframes,
							   struct sevmig_owners_refusal *out,
							   struct sevmig_error *err);

/* ---- transitions --------------------------------------------------------- */

/*
 * Apply transition `op` to [first, first + nframes). `guest` is the guest
 * the op names (2 to SEVMIG_OWNER_ID_MAX), and must be 0 for the four ops
 * that name none. Returns 0 (every frame changed); -EPERM when a frame is
 * not in the required state, -ERANGE when one is outside the coverage (the
 * first such frame, in frame order, in `out` and `err`; nothing changes);
 * -EINVAL for an unknown op, a bad guest id or a bad range; -ENOMEM.
 * O(log runs) to find the range, then at most two runs are added or
 * removed.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_owners_transition(struct sevmig_owners *o,
							 enum sevmig_owners_op op, uint64_t first,
							 uint64_t nframes, uint32_t guest,
							 struct sevmig_owners_refusal *out,
							 struct sevmig_error *err);

/* ---- queries ------------------------------------------------------------- */

/* The state of one frame: 0, or -ERANGE when it is not covered. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_owners_get(const struct sevmig_owners *o, uint64_t frame,
						  uint32_t *owner, uint32_t *borrower);

/*
 * Whether every frame of the range is covered and in state (owner,
 * borrower): 0 when it is; -EPERM or -ERANGE with the first frame that is
 * not in `out` and `err` (the check every transition makes); -EINVAL for a
 * bad range or a state no map can hold.
 */
SEVMIG_API SEVMIG_NODISCARD int
sevmig_owners_check(const struct sevmig_owners *o, uint64_t first, uint64_t nframes, uint32_t owner,
		    uint32_t borrower, struct sevmig_owners_refusal *out, struct sevmig_error *err);

/* A maximal run of covered frames in one state. */
struct sevmig_owners_run {
	uint64_t first;
	uint64_t nframes;
	uint32_t owner;
	uint32_t borrower; /* SEVMIG_OWNER_NONE for none */
};
typedef int (*sevmig_owners_run_fn)(void *arg, const struct sevmig_owners_run *r);
/*
 * Call fn for every maximal run of covered frames inside [first, first +
 * nframes), clipped to it, in frame order (uncovered frames are skipped;
 * nframes 0 visits nothing). Stops when fn returns non-zero and returns
 * that value; 0 after the last; -EINVAL if first + nframes wraps around
 * 2^64. O(log runs + runs visited).
 */
SEVMIG_API int sevmig_owners_walk(const struct sevmig_owners *o, uint64_t first, uint64_t nframes,
				  sevmig_owners_run_fn fn, void *arg);

/* Filled up to `sz` (set it to sizeof(struct sevmig_owners_stats)). */
struct sevmig_owners_stats {
	size_t sz;
	uint64_t covered_frames;
	uint64_t ranges;	  /* maximal ranges of covered frames */
	uint64_t runs;		  /* maximal runs of frames in one state */
	uint64_t borrowed_frames; /* frames with a borrower */
	uint64_t memory_bytes;	  /* heap the map holds (bytes asked of malloc) */
};
SEVMIG_API void sevmig_owners_stats(const struct sevmig_owners *o, struct sevmig_owners_stats *st);

/* One entity's frames in each view other than NOPAGE. */
struct sevmig_owners_entity {
	uint32_t id;
	uint64_t owned;
	uint64_t shared_owned;
	uint64_t shared_borrowed;
};
typedef int (*sevmig_owners_entity_fn)(void *arg, const struct sevmig_owners_entity *e);
/*
 * Call fn for the hypervisor, the host and every guest the map names, in
 * id order. Stops when fn returns non-zero and returns that value; 0 after
 * the last; -ENOMEM. O(runs log entities).
 */
SEVMIG_API int sevmig_owners_entities(const struct sevmig_owners *o, sevmig_owners_entity_fn fn,
				      void *arg);

/* ---- views --------------------------------------------------------------- */

/*
 * What `entity` (0 to SEVMIG_OWNER_ID_MAX) sees at a covered frame, and
 * *owner_id: the frame's owner when the view is NOPAGE and the entity is
 * the host, 0 otherwise (the seed: only the host's page table records
 * owners). 0, -ERANGE for a frame outside the coverage, -EINVAL for an
 * entity past the id range.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_owners_view(const struct sevmig_owners *o, uint32_t entity,
						   uint64_t frame, enum sevmig_page_view *view,
						   uint32_t *owner_id);

/* A maximal run of covered frames an entity sees alike. */
struct sevmig_owners_view_run {
	uint64_t first;
	uint64_t nframes;
	enum sevmig_page_view view;
	uint32_t owner_id; /* as sevmig_owners_view() gives it */
};
typedef int (*sevmig_owners_view_fn)(void *arg, const struct sevmig_owners_view_run *r);
/*
 * Call fn for every maximal run of covered frames inside the range (as
 * sevmig_owners_walk() clips it) over which `entity` sees the same view and
 * owner id. A run never crosses a coverage gap. Stops on a non-zero return
 * and returns it; -EINVAL for a bad entity or a range that wraps.
 */
SEVMIG_API int sevmig_owners_view_walk(const struct sevmig_owners *o, uint32_t entity,
				       uint64_t first, uint64_t nframes, sevmig_owners_view_fn fn,
				       void *arg);

/* ---- the EPT annotation (the seed's page-table software bits) ------------ */

/*
 * In an EPT entry of the entity's page table: bits 57:56 the view
 * (NOPAGE 00, OWNED 01, SHARED_OWNED 10, SHARED_BORROWED 11) and, in a
 * NOPAGE entry, bits 31:12 the owner id (in the other states those bits
 * are the frame's address and are not the annotation's).
 */
#define SEVMIG_EPT_STATE_SHIFT 56
#define SEVMIG_EPT_STATE_MASK  (UINT64_C(3) << SEVMIG_EPT_STATE_SHIFT)
#define SEVMIG_EPT_OWNER_SHIFT 12
#define SEVMIG_EPT_OWNER_MASK  ((uint64_t)SEVMIG_OWNER_ID_MAX << SEVMIG_EPT_OWNER_SHIFT)

/*
 * Write a view into *pte, keeping every bit that is not the annotation's:
 * bits 57:56 always, bits 31:12 (the owner id) for NOPAGE only. -EINVAL for
 * an unknown view, an owner id past SEVMIG_OWNER_ID_MAX, or a non-zero
 * owner id with another view (*pte unchanged).
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_owners_ept_encode(enum sevmig_page_view view,
							 uint32_t owner_id, uint64_t *pte);
/* Read the annotation of an entry: every entry decodes; owner_id is 0
 * unless the view is NOPAGE. */
SEVMIG_API void sevmig_owners_ept_decode(uint64_t pte, enum sevmig_page_view *view,
					 uint32_t *owner_id);
/*
 * Annotate the entries of `entity`'s page table for [first, first +
 * nframes): ptes[i] is frame first + i's entry (cap entries; -ENOSPC when
 * fewer than nframes). Every frame must be covered (-ERANGE, `err` names
 * the first that is not, nothing written). A frame is a range of one.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_owners_ept_annotate(const struct sevmig_owners *o,
							   uint32_t entity, uint64_t first,
							   uint64_t nframes, uint64_t *ptes,
							   size_t cap, struct sevmig_error *err);
/*
 * Decode n entries (ptes[i] for frame first + i) as maximal runs of the
 * same view and owner id, calling fn for each in order: the inverse of
 * sevmig_owners_ept_annotate(), comparable with sevmig_owners_view_walk().
 * Stops on a non-zero return and returns it; -EINVAL if the frames wrap.
 */
SEVMIG_API int sevmig_owners_ept_runs(const uint64_t *ptes, size_t n, uint64_t first,
				      sevmig_owners_view_fn fn, void *arg);

/* ---- projection for migration ---------------------------------------------- */

/*
 * Guest G's frames as a page-state map (frame numbers as its gfns): private
 * where G owns a frame nobody borrows, shared where G owns it and the host
 * borrows it or the host owns it and G borrows it; each maximal stretch of
 * those frames is one memslot, and no other frame is covered. -EINVAL for
 * a guest id outside 2 to SEVMIG_OWNER_ID_MAX; -ENOMEM.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_owners_project(const struct sevmig_owners *o, uint32_t guest,
						      struct sevmig_pstate **out,
						      struct sevmig_error *err);

/* ---- file forms (docs/owners-format.md) ------------------------------------- */

/*
 * The text form: one maximal run a line, sorted, "0xFIRST-0xLAST OWNER" or
 * "0xFIRST-0xLAST OWNER>BORROWER", inclusive lowercase hex frames, owners
 * "hyp", "host" or "guest:N"; '#' starts a comment; the listed ranges are
 * the coverage. *text is NUL-terminated, from malloc(); nothing for an
 * empty map.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_owners_format_text(const struct sevmig_owners *o,
							  char **text, size_t *len);
/* Parse the text form: lines in any order, not overlapping; touching lines
 * in one state join. -EBADMSG with err->index the 1-based line. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_owners_parse_text(const char *text, size_t len,
							 struct sevmig_owners **out,
							 struct sevmig_error *err);

/* The binary form, checksummed: *buf from malloc(), the caller's. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_owners_serialize(const struct sevmig_owners *o, void **buf,
							size_t *len);
/* Parse it: -EBADMSG with err->offset the byte at fault; memory bounded by
 * the input's size. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_owners_deserialize(const void *buf, size_t len,
							  struct sevmig_owners **out,
							  struct sevmig_error *err);
/* Either form, told apart by content (the binary magic, else text). */
SEVMIG_API SEVMIG_NODISCARD int sevmig_owners_load(const void *buf, size_t len,
						   struct sevmig_owners **out,
						   struct sevmig_error *err);

#ifdef __cplusplus
}
#endif
#endif
