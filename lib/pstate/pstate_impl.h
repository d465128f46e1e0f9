/* SPDX-License-Identifier: MIT */
/*
 * Internals of the page-state map (not ABI; see docs/pstate.md).
 *
 * A map is its coverage, a sorted array of memslots, and its shared set,
 * which is always a subset of the coverage ("private" is "covered and not
 * shared"). The shared set is cut into chunks of 65536 pages (key =
 * gfn >> 16) and kept as a sorted array of entries, one per chunk that holds
 * shared pages, in the manner of roaring bitmaps:
 *  - a RUN container: sorted, maximal (first, last) uint16 pairs, for chunks
 *    of a few runs (memory and time O(runs));
 *  - an ARRAY container: the sorted uint16 offsets of the shared pages, for
 *    chunks of at most SEVMIG__ARRAY_MAX scattered pages (2 bytes a page);
 *  - a BITMAP container: 1024 words, for chunks of many scattered pages
 *    (word operations, no worse than a dense bitmap);
 *  - no container at all for a span of completely shared chunks (c == NULL,
 *    span >= 1), so one huge shared run costs one entry.
 * A RUN container becomes a BITMAP above SEVMIG__RUN_MAX runs; a BITMAP goes
 * back below SEVMIG__BITMAP_MIN (hysteresis, so that a page flipping at the
 * threshold does not convert each time); an ARRAY updated in place becomes
 * a BITMAP above SEVMIG__ARRAY_GROW_MAX pages, a BITMAP an ARRAY below half
 * that. Containers
 * built from scratch take the smallest kind (sevmig__canon_kind()).
 *
 * Invariants: entries sorted by key, key ranges [key, key + span) disjoint;
 * an entry with a container has span 1 and 1 <= card < 65536; full spans
 * are maximal (never adjacent to another full span); RUN containers hold at
 * most SEVMIG__RUN_MAX maximal runs; every shared page is covered.
 */
#ifndef SEVMIG_PSTATE_IMPL_H
#define SEVMIG_PSTATE_IMPL_H

#include <sevmig/pstate.h>

#include <string.h>

#define SEVMIG__CHUNK_SHIFT 16
#define SEVMIG__CHUNK_PAGES (UINT32_C(1) << SEVMIG__CHUNK_SHIFT)
#define SEVMIG__CHUNK_MASK  (SEVMIG__CHUNK_PAGES - 1)
#define SEVMIG__CHUNK_WORDS (SEVMIG__CHUNK_PAGES / 64)
/* Chunk keys of valid gfns are below this. */
#define SEVMIG__KEY_LIMIT ((uint32_t)(SEVMIG_GFN_LIMIT >> SEVMIG__CHUNK_SHIFT))

/* Chosen with tests/bench/bench_pstate.c (docs/pstate.md); definable at
 * build time only to repeat that measurement. */
#ifndef SEVMIG__RUN_MAX
#define SEVMIG__RUN_MAX 128
#endif
#ifndef SEVMIG__BITMAP_MIN
#define SEVMIG__BITMAP_MIN (SEVMIG__RUN_MAX / 2)
#endif
/* An ARRAY's 2 bytes a page pass a BITMAP's 8 KiB above this. */
#define SEVMIG__ARRAY_MAX 4096
/* Updated in place, an ARRAY grows only to this (an insertion moves up to
 * 256 bytes, as a RUN container does), then becomes a BITMAP; a BITMAP goes
 * back below half of it. */
#define SEVMIG__ARRAY_GROW_MAX 128

enum sevmig__ctr_kind {
	SEVMIG__CTR_RUN = 1,
	SEVMIG__CTR_BITMAP = 2,
	SEVMIG__CTR_ARRAY = 3,
};

/* 8 bytes of header: a map of scattered pages has a container per chunk. */
struct sevmig__ctr {
	uint32_t card;	   /* shared pages, 1..65535 */
	uint16_t nruns;	   /* maximal runs, 1..32768 */
	uint16_t kind : 2; /* enum sevmig__ctr_kind */
	uint16_t cap : 14; /* RUN: pairs allocated; ARRAY: pages allocated */
	/* RUN: cap pairs of uint16_t {first, last}; ARRAY: cap uint16_t
	 * offsets; BITMAP: 1024 words */
	uint64_t data[];
};

static inline uint16_t *sevmig__ctr_runs(struct sevmig__ctr *c)
{
	return (uint16_t *)c->data;
}

/* The kind a container built from scratch takes: the smallest of RUN (4
 * bytes a run, at most SEVMIG__RUN_MAX runs), ARRAY (2 bytes a page, at
 * most SEVMIG__ARRAY_MAX) and BITMAP (8 KiB); RUN on a tie. */
static inline unsigned sevmig__canon_kind(uint32_t card, uint32_t nruns)
{
	if (nruns <= SEVMIG__RUN_MAX && (2 * nruns <= card || card > SEVMIG__ARRAY_MAX))
		return SEVMIG__CTR_RUN;
	return card <= SEVMIG__ARRAY_MAX ? SEVMIG__CTR_ARRAY : SEVMIG__CTR_BITMAP;
}

/* Bytes of a container's content. */
static inline size_t sevmig__kind_bytes(unsigned kind, uint32_t card, uint32_t nruns)
{
	return kind == SEVMIG__CTR_RUN	   ? (size_t)nruns * 4
	       : kind == SEVMIG__CTR_ARRAY ? (size_t)card * 2
					   : SEVMIG__CHUNK_WORDS * sizeof(uint64_t);
}

struct sevmig__ent {
	uint32_t key;	       /* first chunk */
	uint32_t span;	       /* chunks; > 1 only for a full span */
	struct sevmig__ctr *c; /* NULL: every page of the span is shared */
};

struct sevmig__ents {
	struct sevmig__ent *v;
	size_t n, cap;
};

struct sevmig__slot {
	uint64_t gfn, end; /* [gfn, end) */
	/*
	 * guest_memfd binding (pstate_gmem.c): page gfn is at byte gmem_off
	 * of guest_memfd gmem_fd. It holds only while gmem_end == end: zero
	 * means unbound, and a slot a merge grew loses it. Slots are made
	 * with these fields zero ((struct sevmig__slot){ gfn, end }).
	 */
	uint64_t gmem_off;
	uint64_t gmem_end;
	int32_t gmem_fd;
};

struct sevmig_pstate {
	struct sevmig__slot *slots; /* sorted, disjoint (may touch) */
	size_t nslots, slots_cap;
	struct sevmig__ents sh; /* the shared set */
};

/* A read-only look at one chunk's content, whatever holds it. */
struct sevmig__cview {
	uint32_t kind; /* RUN, BITMAP or ARRAY */
	uint32_t nruns;
	uint32_t card;
	const uint16_t *runs;
	const uint64_t *words;
	const uint16_t *vals;
};

/*
 * The result of an operation on two chunks before it is stored. A RUN
 * result has at most SEVMIG__RUN_MAX runs (larger ones are turned into
 * words), the runs array is the sweep's working space; an ARRAY result at
 * most SEVMIG__ARRAY_MAX pages.
 */
struct sevmig__scratch {
	uint32_t kind, nruns, card;
	uint16_t runs[2 * (2 * SEVMIG__RUN_MAX + 2)];
	uint64_t words[SEVMIG__CHUNK_WORDS];
	uint16_t vals[SEVMIG__ARRAY_MAX];
};

enum sevmig__op {
	SEVMIG__OR,
	SEVMIG__AND,
	SEVMIG__ANDNOT,
};

/* Result of storing a chunk. */
enum {
	SEVMIG__EMPTY = 0,
	SEVMIG__FULL = 1,
	SEVMIG__SOME = 2,
};

/* ---- words (word_ops.c, container.c) ---- */

/* Set bits and maximal runs of n words; `carry` is the bit before w[0]. */
void sevmig__words_count(const uint64_t *w, size_t n, uint64_t carry, uint32_t *card,
			 uint32_t *runs);
/* out = x op y over a chunk, with the result's set bits and runs. */
void sevmig__words_op(enum sevmig__op op, const uint64_t *x, const uint64_t *y, uint64_t *out,
		      uint32_t *card, uint32_t *runs);
/* A chunk from 8192 bytes of encryption bitmap (set = private): out gets
 * the shared bits, with their count and runs; bit i of edges[16] says
 * whether a run starts or ends in word i. */
void sevmig__words_load(uint64_t *out, const uint8_t *src, uint32_t *card, uint32_t *runs,
			uint64_t *edges);
/* n words, inverted, as little-endian bytes (the bitmap export). */
void sevmig__words_store_inv(uint8_t *dst, const uint64_t *w, size_t n);
/* Bit i of mask[16] set where x[i] != y[i], over a chunk. */
void sevmig__words_neq(const uint64_t *x, const uint64_t *y, uint64_t *mask);
/* The same at a given level (0 portable, 1 popcnt, 2 AVX-512), for the
 * test that checks every level against the portable one; level 2 and 1
 * need the processor to have them (sevmig__words_level() is the highest). */
int sevmig__words_level(void);
void sevmig__words_count_at(int lvl, const uint64_t *w, size_t n, uint64_t carry, uint32_t *card,
			    uint32_t *runs);
void sevmig__words_op_at(int lvl, enum sevmig__op op, const uint64_t *x, const uint64_t *y,
			 uint64_t *out, uint32_t *card, uint32_t *runs);
void sevmig__words_load_at(int lvl, uint64_t *out, const uint8_t *src, uint32_t *card,
			   uint32_t *runs, uint64_t *edges);
void sevmig__words_neq_at(int lvl, const uint64_t *x, const uint64_t *y, uint64_t *mask);
void sevmig__words_store_inv_at(int lvl, uint8_t *dst, const uint64_t *w, size_t n);
/* Set or clear bits [lo, hi) of a chunk's words (inline: the builder and
 * the bitmap paths call it once per run). */
static inline void sevmig__words_fill(uint64_t *w, uint32_t lo, uint32_t hi, bool set)
{
	if (lo >= hi)
		return;
	uint32_t a = lo >> 6, b = (hi - 1) >> 6;
	uint64_t ma = ~UINT64_C(0) << (lo & 63);
	uint64_t mb = ~UINT64_C(0) >> (63 - ((hi - 1) & 63));
	if (a == b) {
		ma &= mb;
		w[a] = set ? w[a] | ma : w[a] & ~ma;
		return;
	}
	w[a] = set ? w[a] | ma : w[a] & ~ma;
	if (b > a + 1)
		memset(&w[a + 1], set ? 0xff : 0, (size_t)(b - a - 1) * sizeof(uint64_t));
	w[b] = set ? w[b] | mb : w[b] & ~mb;
}
/* Runs of a chunk's words into pairs; returns the number of runs. With
 * `edges` (as sevmig__words_load() gives it) only the words where runs
 * start or end are read. */
uint32_t sevmig__words_to_runs(const uint64_t *w, uint16_t *runs);
uint32_t sevmig__words_to_runs_edges(const uint64_t *w, const uint64_t *edges, uint16_t *runs);

/* ---- containers (container.c) ---- */

extern const struct sevmig__cview sevmig__full_view;
extern const struct sevmig__cview sevmig__empty_view;

void sevmig__view(const struct sevmig__ent *e, struct sevmig__cview *v);
void sevmig__view_scratch(const struct sevmig__scratch *s, struct sevmig__cview *v);
/* The chunk's words (into buf when the view has no words of its own). */
const uint64_t *sevmig__view_words(const struct sevmig__cview *v, uint64_t *buf);

/* Same content in the same form (the skip of diff and merge). Inline: a
 * map of scattered pages has thousands of one-run chunks to compare. */
static inline bool sevmig__ctr_same(const struct sevmig__ctr *x, const struct sevmig__ctr *y)
{
	if (x->kind != y->kind || x->card != y->card || x->nruns != y->nruns)
		return false;
	size_t n = sevmig__kind_bytes(x->kind, x->card, x->nruns);
	if (n > 32)
		return !memcmp(x->data, y->data, n);
	const uint16_t *a = (const uint16_t *)x->data, *b = (const uint16_t *)y->data;
	for (size_t i = 0; i < n / 2; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/*
 * A sweep over two run lists, boundary by boundary: O(na + nb) pieces.
 * sevmig__sweep_piece() gives the end of the piece starting at s->pos over
 * which each list stays inside (*xa, *xb) or outside a run, then
 * sevmig__sweep_next() moves to the next piece.
 */
struct sevmig__sweep {
	const uint16_t *a, *b;
	uint32_t na, nb, ia, ib, pos;
};

static inline uint32_t sevmig__sweep_piece(const struct sevmig__sweep *s, bool *xa, bool *xb)
{
	*xa = s->ia < s->na && s->a[2 * s->ia] <= s->pos;
	*xb = s->ib < s->nb && s->b[2 * s->ib] <= s->pos;
	uint32_t ea = s->ia < s->na ? (*xa ? s->a[2 * s->ia + 1] + 1u : s->a[2 * s->ia])
				    : SEVMIG__CHUNK_PAGES;
	uint32_t eb = s->ib < s->nb ? (*xb ? s->b[2 * s->ib + 1] + 1u : s->b[2 * s->ib])
				    : SEVMIG__CHUNK_PAGES;
	return ea < eb ? ea : eb;
}

static inline void sevmig__sweep_next(struct sevmig__sweep *s, uint32_t end, bool xa, bool xb)
{
	/* a list leaves its run where the piece ends at the run's end */
	if (xa && s->a[2 * s->ia + 1] + 1u == end)
		s->ia++;
	if (xb && s->b[2 * s->ib + 1] + 1u == end)
		s->ib++;
	s->pos = end;
}

struct sevmig__ctr *sevmig__ctr_clone(const struct sevmig__ctr *c);
size_t sevmig__ctr_bytes(const struct sevmig__ctr *c);
bool sevmig__ctr_test(const struct sevmig__ctr *c, uint32_t bit);
/*
 * Set [lo, hi) of *pc shared or not, in place (the container may be
 * replaced). 0 or -ENOMEM with *pc unchanged. The result may be empty or
 * full; the caller turns those into no entry or a full span.
 */
int sevmig__ctr_set(struct sevmig__ctr **pc, uint32_t lo, uint32_t hi, bool shared);
/* A RUN container from at most SEVMIG__RUN_MAX maximal runs, and a
 * container from words: RUN when nruns <= SEVMIG__RUN_MAX (read from the
 * words `edges` marks, as sevmig__words_load() gives them, or from all when
 * it is NULL). */
struct sevmig__ctr *sevmig__ctr_from_runs(const uint16_t *runs, uint32_t nruns, uint32_t card);
struct sevmig__ctr *sevmig__ctr_from_words(const uint64_t *w, uint32_t card, uint32_t nruns,
					   const uint64_t *edges);
/* A BITMAP container whose words and counts the caller fills in. */
struct sevmig__ctr *sevmig__ctr_new_bitmap(void);
/* A container of the given kind (RUN, ARRAY or BITMAP, within their limits)
 * holding what v holds. */
struct sevmig__ctr *sevmig__ctr_of_view(unsigned kind, const struct sevmig__cview *v);
/* What v holds, as the content of a container of `kind`, written to d
 * (aligned for uint64_t, room for sevmig__kind_bytes() of it). */
void sevmig__view_content(unsigned kind, const struct sevmig__cview *v, void *d);
/* A container of the kind sevmig__canon_kind() gives for v. */
static inline struct sevmig__ctr *sevmig__ctr_canon(const struct sevmig__cview *v)
{
	return sevmig__ctr_of_view(sevmig__canon_kind(v->card, v->nruns), v);
}
/* Word x (0..1023) of a container's chunk. */
uint64_t sevmig__ctr_word(const struct sevmig__ctr *c, uint32_t x);
/* Runs and pages of an ARRAY's sorted offsets; 0 when they are not strictly
 * increasing. */
uint32_t sevmig__vals_nruns(const uint16_t *v, uint32_t n);
/* The merge of two sorted arrays of offsets into o until one of them ends
 * (*i and *j: how far each went; returns how many went to o, a duplicate
 * once). o has room for the whole union. At a level: 0 portable, 1
 * AVX-512BW, which needs the processor to have it
 * (sevmig__vals_merge_level() is the highest), for the test that checks
 * one against the other. */
int sevmig__vals_merge_level(void);
uint32_t sevmig__vals_merge_at(int lvl, const uint16_t *x, uint32_t na, const uint16_t *y,
			       uint32_t nb, uint16_t *o, uint32_t *i, uint32_t *j);
/* An ARRAY's offsets as runs (room for n); returns how many. */
uint32_t sevmig__vals_to_runs(const uint16_t *v, uint32_t n, uint16_t *runs);

/* out = a op b. */
void sevmig__chunk_op(const struct sevmig__cview *a, const struct sevmig__cview *b,
		      enum sevmig__op op, struct sevmig__scratch *out);
/* Store a scratch result: SEVMIG__EMPTY/FULL/SOME (then *out is set) or
 * -ENOMEM. */
int sevmig__scratch_store(const struct sevmig__scratch *s, struct sevmig__ctr **out);

/* ---- the sorted array of chunk entries (chunk_array.c) ---- */

void sevmig__ents_free(struct sevmig__ents *e);
int sevmig__ents_reserve(struct sevmig__ents *e, size_t more);
/* Append (keys ascending); a full span joins a full span it touches. On
 * -ENOMEM the caller still owns c. */
int sevmig__ents_push(struct sevmig__ents *e, uint32_t key, uint32_t span, struct sevmig__ctr *c);
/* Index of the entry holding `key`, or of the first entry after it. */
size_t sevmig__ents_find(const struct sevmig__ents *e, uint64_t key);
/* Store a scratch result as the content of chunk k (nothing if empty). */
int sevmig__ents_push_scratch(struct sevmig__ents *out, uint32_t k,
			      const struct sevmig__scratch *s);
/* Shared pages of the set. */
uint64_t sevmig__ents_card(const struct sevmig__ents *e);
/* Maximal shared runs of the set, in O(entries). */
uint64_t sevmig__ents_nruns(const struct sevmig__ents *e);
/* Heap held by the containers and the array. */
size_t sevmig__ents_bytes(const struct sevmig__ents *e);
int sevmig__ents_clone(const struct sevmig__ents *src, struct sevmig__ents *dst);
bool sevmig__ents_test(const struct sevmig__ents *e, uint64_t gfn);

/* Join the full spans that touch among v[lo, hi). */
void sevmig__ents_coalesce(struct sevmig__ents *e, size_t lo, size_t hi);
/*
 * Replace the content of keys [k0, k1] by `repl` (entries inside those keys,
 * built with sevmig__ents_push). Full spans reaching outside are cut. repl
 * is used up either way: its containers go to e, or on -ENOMEM they are
 * freed and e is unchanged.
 */
int sevmig__ents_splice(struct sevmig__ents *e, uint32_t k0, uint32_t k1,
			struct sevmig__ents *repl);

/*
 * Free `victim` (array and containers) except the containers `keeper` holds
 * at the same key: how a set built by stealing from another is committed
 * (victim = the old set) or abandoned (victim = the new one).
 */
void sevmig__ents_release(struct sevmig__ents *victim, const struct sevmig__ents *keeper);

/*
 * Builds a shared set from pages given in increasing gfn order: runs, and
 * pages of an encryption bitmap, each starting at or after the end of what
 * came before (touching is fine). One chunk is open at a time: as runs while
 * it has at most SEVMIG__RUN_MAX, then as offsets while it has at most
 * SEVMIG__ARRAY_MAX pages, then as words. Reaching a later chunk
 * turns it into a container, a full span or nothing, by the rules every
 * set built from scratch follows. A run costs O(1) amortized, a bitmap
 * O(its words), whatever the guest's size; the builder holds the set so far
 * and one chunk, never its input.
 *
 * Errors stick: after one (-ENOMEM, or -EINVAL for pages out of order) the
 * builder ignores what comes, and finishing returns the error, everything
 * freed. Between calls `err` may be read to stop early.
 */
struct sevmig__builder {
	struct sevmig__ents out;
	uint64_t key;	  /* the open chunk, UINT64_MAX for none */
	uint64_t end;	  /* end of the pages added so far */
	uint32_t n, card; /* the open chunk as runs or offsets: its runs and pages */
	bool in_words;	  /* the open chunk is in wc's words (counted when closed) */
	bool in_vals;	  /* the open chunk is offsets in wc's space (an ARRAY's) */
	int err;
	struct sevmig__ctr *wc; /* a BITMAP container to fill, kept between chunks */
	uint16_t runs[2 * SEVMIG__RUN_MAX];
};
void sevmig__builder_init(struct sevmig__builder *b);
/* Pages [first, end) shared. */
void sevmig__builder_add(struct sevmig__builder *b, uint64_t first, uint64_t end);
/* Pages [gfn, gfn + n) from an encryption bitmap (a set bit is private):
 * bit `bit` of src, least significant first in each byte, is page gfn; src
 * holds (bit + n + 7) / 8 bytes. */
void sevmig__builder_add_bits(struct sevmig__builder *b, uint64_t gfn, const uint8_t *src,
			      uint64_t bit, uint64_t n);
/* The set, or the error (everything freed). */
int sevmig__builder_finish(struct sevmig__builder *b, struct sevmig__ents *out);
/* The set becomes ps's shared set, which the caller made sure is covered,
 * or the error with ps unchanged. */
int sevmig__builder_commit(struct sevmig__builder *b, struct sevmig_pstate *ps);
/* Give up: everything freed. */
void sevmig__builder_free(struct sevmig__builder *b);

/* out = a op b (OR or AND); with steal_a, out may hold a's containers
 * (commit or abandon with sevmig__ents_release()). */
int sevmig__ents_combine(const struct sevmig__ents *a, const struct sevmig__ents *b,
			 enum sevmig__op op, bool steal_a, struct sevmig__ents *out);
/* out = (a \ c) | d, where d is inside c: d's state wherever c covers. */
int sevmig__ents_overlay(const struct sevmig__ents *a, const struct sevmig__ents *c,
			 const struct sevmig__ents *d, bool steal_a, struct sevmig__ents *out);

/*
 * Visit two sets chunk by chunk over keys [klo, khi): `block` for stretches
 * where each side is all full or all empty (not both empty), `key` for one
 * chunk where a side has a container (ea/eb NULL when that side is empty).
 * Stops on a non-zero return and returns it.
 */
struct sevmig__pair_ops {
	int (*block)(void *ctx, uint32_t k, uint32_t len, bool a_full, bool b_full);
	int (*key)(void *ctx, uint32_t k, const struct sevmig__ent *ea,
		   const struct sevmig__ent *eb);
	bool skip_same; /* no `key` call for two identical containers */
};
int sevmig__pair_walk(const struct sevmig__ents *a, const struct sevmig__ents *b, uint64_t klo,
		      uint64_t khi, const struct sevmig__pair_ops *ops, void *ctx);

/* fn(ctx, first, end) for every maximal shared run clipped to [lo, hi). */
typedef int (*sevmig__run_cb)(void *ctx, uint64_t first, uint64_t end);
int sevmig__shared_runs(const struct sevmig__ents *e, uint64_t lo, uint64_t hi, sevmig__run_cb fn,
			void *ctx);

/* ---- coverage (pstate.c) ---- */

/* A non-empty page range that neither wraps nor passes the gfn limit. */
static inline bool sevmig__range_valid(uint64_t gfn, uint64_t npages)
{
	return npages && gfn < SEVMIG_GFN_LIMIT && npages <= SEVMIG_GFN_LIMIT - gfn;
}

/* True when every page of [gfn, end) is inside a slot. */
bool sevmig__covered(const struct sevmig_pstate *ps, uint64_t gfn, uint64_t end);
/* Index of the slot holding gfn or of the first slot after it. */
size_t sevmig__slot_find(const struct sevmig_pstate *ps, uint64_t gfn);
/* The set of covered pages. */
int sevmig__coverage_set(const struct sevmig_pstate *ps, struct sevmig__ents *out);
/* Set [gfn, end) of the shared set, no coverage check; nothing changes on
 * -ENOMEM. */
int sevmig__range_set(struct sevmig_pstate *ps, uint64_t gfn, uint64_t end, bool shared);
/* A new map with these slots (taken over) and shared set (taken over). */
int sevmig__pstate_adopt(struct sevmig__slot *slots, size_t nslots, struct sevmig__ents *sh,
			 struct sevmig_pstate **out);

/* memcpy(dst, src, len), returning sevmig__crc32c(crc, src, len): one pass
 * where the processor can (pstate_copycrc.c). */
uint32_t sevmig__copy_crc32c(uint32_t crc, void *dst, const void *src, size_t len);
/* The same for a chunk's 1024 little-endian words, into dst as words, with
 * their set bits and runs counted on the way. */
uint32_t sevmig__copy_crc32c_words(uint32_t crc, uint64_t *dst, const void *src, uint32_t *card,
				   uint32_t *runs);

/* 0, or -1 with `why` saying which invariant a map breaks (pstate_check.c). */
int sevmig__pstate_check(const struct sevmig_pstate *ps, char *why, size_t len);

#endif
