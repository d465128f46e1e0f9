/* SPDX-License-Identifier: MIT */
/*
 * Page state: which guest pages are private (encrypted with the guest key)
 * and which are shared (plaintext, marked so by the guest).
 *
 * A map covers a set of memslots (gfn ranges). Pages outside every slot do
 * not exist (state ABSENT); a page inside one is private until it is set
 * shared, the safe default. Ranges are half-open [gfn, gfn + npages) unless a
 * format says otherwise.
 *
 * The same map has two interchangeable external forms:
 *  - the run-length shared-pages list: sorted, disjoint, coalesced runs of
 *    shared pages (struct sevmig_range, or the kernel's region array);
 *  - the encryption bitmap: a base gfn and a page count, bit i for gfn
 *    base + i, set = private, least significant bit first in each byte (the
 *    layout of KVM_GET_PAGE_ENC_BITMAP).
 *
 * Cost: the representation is chunked and adapts per chunk, so maps of a few
 * large runs cost O(runs) in memory and time, and maps of many scattered
 * shared pages cost no more than a dense bitmap (docs/pstate.md).
 *
 * Arguments: a range that wraps around 2^64 is -EINVAL everywhere; updates
 * also refuse empty ranges and ranges past SEVMIG_GFN_LIMIT (-EINVAL) and
 * ranges that leave the coverage (-ERANGE). Every update is all or nothing:
 * on any error, -ENOMEM included, the map is as it was.
 *
 * Threads: a map may be read by many threads at once (no function here
 * modifies a map it takes as const); writes need exclusive access.
 */
#ifndef SEVMIG_PSTATE_H
#define SEVMIG_PSTATE_H

#include <sevmig/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sevmig_pstate;

enum sevmig_page_state {
	SEVMIG_PAGE_ABSENT = 0,	 /* outside the map's coverage */
	SEVMIG_PAGE_PRIVATE = 1, /* encrypted with the guest's key */
	SEVMIG_PAGE_SHARED = 2,	 /* plaintext, host-visible */
};

/* A half-open page range [gfn, gfn + npages). */
struct sevmig_range {
	uint64_t gfn;
	uint64_t npages;
};

/* "absent", "private" or "shared"; "invalid" for anything else. */
SEVMIG_API const char *sevmig_page_state_name(enum sevmig_page_state st);

/* ---- lifetime ---------------------------------------------------------- */

/* A new, empty map (no coverage). */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_new(struct sevmig_pstate **out,
						  struct sevmig_error *err);
SEVMIG_API void sevmig_pstate_free(struct sevmig_pstate *ps);
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_clone(const struct sevmig_pstate *ps,
						    struct sevmig_pstate **out,
						    struct sevmig_error *err);
/* True when both maps cover the same pages with the same states (slot
 * boundaries do not matter). */
SEVMIG_API bool sevmig_pstate_equal(const struct sevmig_pstate *a, const struct sevmig_pstate *b);

/* ---- coverage (memslots) --------------------------------------------- */

/*
 * Add a memslot. Its pages start private. -EINVAL for zero pages or a range
 * that wraps or reaches SEVMIG_GFN_LIMIT; -EEXIST if it overlaps a slot.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_add_slot(struct sevmig_pstate *ps, uint64_t gfn,
						       uint64_t npages);
/* Remove the slot that is exactly [gfn, gfn + npages) (-ENOENT if none); its
 * pages forget their state. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_remove_slot(struct sevmig_pstate *ps, uint64_t gfn,
							  uint64_t npages);
SEVMIG_API size_t sevmig_pstate_slot_count(const struct sevmig_pstate *ps);
/* Slot i in gfn order; -ERANGE past the end. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_slot(const struct sevmig_pstate *ps, size_t i,
						   struct sevmig_range *out);

/* ---- updates ----------------------------------------------------------- */

/*
 * Set [gfn, gfn + npages) to `state` (SHARED or PRIVATE). The whole range
 * must be covered (touching slots cover it together): -ERANGE otherwise,
 * -EINVAL for zero pages, a range that wraps or passes SEVMIG_GFN_LIMIT, or
 * another state. Nothing changes on error.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_set_range(struct sevmig_pstate *ps, uint64_t gfn,
							uint64_t npages,
							enum sevmig_page_state state);

/*
 * Apply a guest's page-encryption-status hypercall: the series'
 * KVM_HC_PAGE_ENC_STATUS(gpa, npages, enc) or upstream
 * KVM_HC_MAP_GPA_RANGE(gpa, npages, attrs) with encrypted = attrs & ENC,
 * the attributes already checked (sevmig_pstate_map_gpa_range() checks them).
 * -EINVAL: gpa not page-aligned, npages zero, gpa + npages pages overflows
 * or reaches the 52-bit limit; -ERANGE: the range leaves the coverage.
 * Nothing changes on error.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_apply_hypercall(struct sevmig_pstate *ps,
							      uint64_t gpa, uint64_t npages,
							      bool encrypted);

/*
 * KVM_HC_MAP_GPA_RANGE (hypercall 12; Documentation/virt/kvm/x86/
 * hypercalls.rst): a0 the first gpa, a1 the number of 4 KiB pages, a2 the
 * attributes: bits 3:0 the page size the guest maps the range with, bit 4
 * encrypted (1) or plaintext (0), bits 63:5 reserved, must be zero.
 */
#define SEVMIG_MAP_GPA_RANGE_PAGE_SZ_MASK 0x0fu
#define SEVMIG_MAP_GPA_RANGE_PAGE_SZ_4K	  0u
#define SEVMIG_MAP_GPA_RANGE_PAGE_SZ_2M	  1u
#define SEVMIG_MAP_GPA_RANGE_PAGE_SZ_1G	  2u
#define SEVMIG_MAP_GPA_RANGE_ENCRYPTED	  0x10u
/* What the guest reads in RAX after the hypercall (KVM's kvm_para.h errno
 * values, negated): success, a malformed request, memory the VMM does not
 * have. */
#define SEVMIG_MAP_GPA_RANGE_RET_OK	0u
#define SEVMIG_MAP_GPA_RANGE_RET_EINVAL ((uint64_t)-22)
#define SEVMIG_MAP_GPA_RANGE_RET_EFAULT ((uint64_t)-14)

/* The outcome of one hypercall: filled up to `sz` bytes (set it to
 * sizeof(struct sevmig_map_gpa_range)), so that fields can be added. */
struct sevmig_map_gpa_range {
	size_t sz;
	/* The pages the request names and the state they take (set even
	 * when the request is refused, as far as the arguments say). */
	uint64_t gfn, npages;
	enum sevmig_page_state state;
	/* The page size the guest named: 4096, 2 MiB or 1 GiB; 0 when the
	 * size bits are not one of those. */
	uint64_t page_size;
	/* The value for the guest's RAX (SEVMIG_MAP_GPA_RANGE_RET_*). */
	uint64_t guest_ret;
};

/*
 * The whole rule set of KVM_HC_MAP_GPA_RANGE, for any VMM's exit loop (the
 * KVM backend's sevmig_fw_kvm_handle_exit() calls it): raw a0, a1, a2 in;
 * the change applied to ps and the guest's return value in *out. A range
 * named with a 2 MiB or 1 GiB page size must start and end on that size.
 * Returns 0 (applied, guest_ret 0); -EINVAL for a malformed request
 * (reserved attribute bits, an unknown page size, a gpa or count not
 * aligned to the page size, no pages, a range that wraps or reaches the
 * 52-bit limit; guest_ret RET_EINVAL); -ERANGE for pages outside the map's
 * coverage (guest_ret RET_EFAULT); -ENOMEM (guest_ret RET_EFAULT, the
 * request not recorded). Nothing changes unless 0 is returned.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_map_gpa_range(struct sevmig_pstate *ps, uint64_t a0,
							    uint64_t a1, uint64_t a2,
							    struct sevmig_map_gpa_range *out);

/*
 * Guest reboot or kexec: every covered page becomes private, except that
 * pages inside `keep` (nkeep ranges, any order, may overlap and extend
 * outside the coverage; empty ones are ignored) keep the state they have
 * now, as firmware-shared regions set before the kernel ran must survive a
 * kexec. -EINVAL if a keep range wraps.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_reset(struct sevmig_pstate *ps,
						    const struct sevmig_range *keep, size_t nkeep);

/*
 * Overlay `delta` onto `ps` in place: wherever delta covers, its state wins.
 * delta's coverage must lie inside ps's (-ERANGE, nothing changes). Costs
 * O(chunks of ps + size of delta), whatever ps's guest size.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_apply(struct sevmig_pstate *ps,
						    const struct sevmig_pstate *delta);

/* ---- queries ----------------------------------------------------------- */

SEVMIG_API enum sevmig_page_state sevmig_pstate_get(const struct sevmig_pstate *ps, uint64_t gfn);

struct sevmig_pstate_stats {
	uint64_t covered_pages;
	uint64_t shared_pages;
	uint64_t private_pages;
	uint64_t shared_runs;	     /* maximal runs of shared pages */
	uint64_t private_runs;	     /* maximal runs of private pages */
	uint64_t largest_shared_run; /* pages */
	uint64_t slots;
	uint64_t memory_bytes; /* heap the map holds (bytes asked of malloc) */
};
SEVMIG_API void sevmig_pstate_stats(const struct sevmig_pstate *ps, struct sevmig_pstate_stats *st);

/*
 * Call fn(arg, gfn, npages) for every maximal run of pages in `state`
 * (SHARED or PRIVATE) inside [gfn, gfn + npages), clipped to that range, in
 * gfn order. A private run never crosses a coverage gap (it does cross the
 * boundary of two touching slots). Stops when fn returns non-zero and
 * returns that value; 0 when all were visited (npages 0 visits nothing);
 * -EINVAL for another state or a range that wraps. O(runs in the range).
 */
typedef int (*sevmig_run_fn)(void *arg, uint64_t gfn, uint64_t npages);
SEVMIG_API int sevmig_pstate_walk(const struct sevmig_pstate *ps, uint64_t gfn, uint64_t npages,
				  enum sevmig_page_state state, sevmig_run_fn fn, void *arg);

/* ---- the run-length list and the bitmap -------------------------------- */

/*
 * Write the shared runs (sorted, coalesced) into runs[0..cap). *count gets
 * the number of runs the map has; -ENOSPC when cap is smaller (the first
 * cap runs are written, nothing past them), so a call with cap 0 asks for
 * the size.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_to_list(const struct sevmig_pstate *ps,
						      struct sevmig_range *runs, size_t cap,
						      size_t *count);
/*
 * Make the covered pages private, then the listed runs shared, in
 * O(runs + chunks they touch). Runs must be non-empty, sorted, disjoint,
 * below SEVMIG_GFN_LIMIT (-EINVAL) and covered (-ERANGE); touching runs are
 * accepted. `err` names the run (err->index); nothing changes on error.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_set_from_list(struct sevmig_pstate *ps,
							    const struct sevmig_range *runs,
							    size_t n, struct sevmig_error *err);

/* Bytes a bitmap of npages needs: ceil(npages / 8). */
SEVMIG_API size_t sevmig_bitmap_bytes(uint64_t npages);

/*
 * Export the encryption bitmap of [base_gfn, base_gfn + npages) into
 * `bitmap` (len >= sevmig_bitmap_bytes(npages), else -ENOSPC; -EINVAL if
 * the range wraps): bit set = private. Pages outside the coverage read as
 * private (as KVM reports them). When npages is not a multiple of 8, the
 * bits of the last byte beyond npages keep the value they had in `bitmap`.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_to_bitmap(const struct sevmig_pstate *ps,
							uint64_t base_gfn, uint64_t npages,
							void *bitmap, size_t len);
/*
 * Set the states of [base_gfn, base_gfn + npages) from an encryption bitmap
 * (pages outside the range keep theirs). The range must be non-empty and
 * below SEVMIG_GFN_LIMIT (-EINVAL) and covered (-ERANGE); len must hold
 * npages bits (-EINVAL); bits past npages in the last byte are ignored.
 * O(bitmap bytes).
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_set_from_bitmap(struct sevmig_pstate *ps,
							      uint64_t base_gfn, uint64_t npages,
							      const void *bitmap, size_t len);

/*
 * The region array of the series' KVM_GET/SET_SHARED_PAGES_LIST: entries of
 * { unsigned long gfn_start; unsigned long gfn_end; } (16 bytes, little-
 * endian on x86-64), gfn_end exclusive, one per shared run.
 */
#define SEVMIG_REGION_ENTRY_SIZE 16
/* As sevmig_pstate_to_list(): *nents gets the entry count; -E2BIG when
 * len is too small (the kernel's answer; the entries that fit are written,
 * nothing past len). */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_to_region_array(const struct sevmig_pstate *ps,
							      void *buf, size_t len, size_t *nents);
/* As sevmig_pstate_set_from_list(), from a region array of len bytes
 * (a multiple of 16, else -EINVAL); an entry whose gfn_end is not above its
 * gfn_start is -EINVAL; err->offset is the entry's byte offset. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_set_from_region_array(struct sevmig_pstate *ps,
								    const void *buf, size_t len,
								    struct sevmig_error *err);

/* ---- merge and diff ------------------------------------------------------ */

enum sevmig_merge_op {
	SEVMIG_MERGE_UNION = 0,	    /* shared where either map says shared */
	SEVMIG_MERGE_INTERSECT = 1, /* shared where both maps say shared */
	SEVMIG_MERGE_OVERLAY = 2,   /* b's state wherever b covers, a's elsewhere */
};
/*
 * A new map whose coverage is the union of both coverages (overlapping slots
 * become one slot, touching slots stay apart) and whose states follow `op`
 * (-EINVAL for another op); a page one map does not cover counts as not
 * shared in that map.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_merge(const struct sevmig_pstate *a,
						    const struct sevmig_pstate *b,
						    enum sevmig_merge_op op,
						    struct sevmig_pstate **out);

/* A maximal range where two maps differ, with each side's state. */
struct sevmig_pstate_change {
	uint64_t gfn;
	uint64_t npages;
	enum sevmig_page_state a;
	enum sevmig_page_state b;
};
typedef int (*sevmig_change_fn)(void *arg, const struct sevmig_pstate_change *c);
/*
 * Call fn for every maximal range where a and b differ (ABSENT counting as a
 * third state), in gfn order; adjacent ranges always differ in (a, b); slot
 * boundaries do not cut ranges. Stops when fn returns non-zero and returns
 * that value; 0 after the last range. Allocates nothing, so it never fails
 * by itself.
 */
SEVMIG_API int sevmig_pstate_diff(const struct sevmig_pstate *a, const struct sevmig_pstate *b,
				  sevmig_change_fn fn, void *arg);
/*
 * The delta that turns a into b where both cover: a map covering exactly the
 * pages both cover whose state differs (one slot per maximal range of such
 * pages), holding b's state (for sevmig_pstate_apply()).
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_delta(const struct sevmig_pstate *a,
						    const struct sevmig_pstate *b,
						    struct sevmig_pstate **out);

/* ---- serialized forms (docs/pstate-format.md) --------------------------- */

struct sevmig_pstate_save_opts {
	size_t sz;
	int zstd_level; /* 0: never compress; 1..19: compress when it is smaller */
};
/*
 * The portable binary form: *buf is allocated with malloc() and belongs to
 * the caller (a block of at most twice *len bytes and a page, so that it
 * can be kept as it is). The encoding (runs, bitmap, or a copy of the containers in
 * format version 2) is chosen by size and speed (docs/pstate-format.md 1.9).
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_serialize(const struct sevmig_pstate *ps,
							const struct sevmig_pstate_save_opts *opts,
							void **buf, size_t *len);
/* Parse the binary form. -EBADMSG with `err` saying what and at which byte
 * for malformed input; memory use is bounded by what the input justifies. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_deserialize(const void *buf, size_t len,
							  struct sevmig_pstate **out,
							  struct sevmig_error *err);

/*
 * The text form: one range per line, "0xFIRST-0xLAST STATE", inclusive
 * lowercase hex gfns, STATE "shared" or "private"; '#' starts a comment;
 * the listed ranges are the coverage. Output is canonical: sorted, maximal
 * runs, no leading zeros. *text is NUL-terminated, from malloc().
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_format_text(const struct sevmig_pstate *ps,
							  char **text, size_t *len);
/* Parse the text form (upper-case hex and overlapping lines are errors;
 * err->index is the 1-based line). */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_parse_text(const char *text, size_t len,
							 struct sevmig_pstate **out,
							 struct sevmig_error *err);

/*
 * Read either form, told apart by content. Input that is neither gives
 * -EBADMSG with the message "not a page-state file ...", err->offset 0 and
 * err->index 0 (a damaged file of either form names a later position, or
 * a line), so a caller can tell "not this format" from "damaged".
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_load(const void *buf, size_t len,
						   struct sevmig_pstate **out,
						   struct sevmig_error *err);

/* ---- KVM memory attributes (guest_memfd VMs: SEV-SNP, TDX, ...) ------------ */

/*
 * Kernels that keep private memory in guest_memfd track which pages are
 * private as per-page memory attributes, set by the VMM with
 * KVM_SET_MEMORY_ATTRIBUTES; KVM has no call to read them back, so the
 * VMM's map is the truth (docs/pstate.md). KVM_MEMORY_ATTRIBUTE_PRIVATE:
 */
#define SEVMIG_MEMORY_ATTRIBUTE_PRIVATE (UINT64_C(1) << 3)

/*
 * One range as KVM_SET_MEMORY_ATTRIBUTES takes it: the layout of the
 * kernel's struct kvm_memory_attributes (32 bytes), repeated here because
 * this header includes no kernel header. address and size in bytes, page
 * aligned; attributes PRIVATE or 0 (shared); flags 0.
 */
struct sevmig_memory_attributes {
	uint64_t address;
	uint64_t size;
	uint64_t attributes;
	uint64_t flags;
};

/*
 * Call fn for every range whose attributes must be set so that a VM whose
 * attributes follow `prev` follows `next`: the pages next covers whose
 * state differs from prev's or that prev does not cover (the kernel's
 * attributes there are unknown), as maximal ranges of equal attributes,
 * in address order; ranges never cross a coverage gap. prev NULL: every
 * page next covers (the whole map). Pages only prev covers are left out
 * (no memory of next). Stops when fn returns non-zero and returns that
 * value; 0 after the last range. Allocates nothing. O(runs of both maps).
 */
typedef int (*sevmig_attributes_fn)(void *arg, const struct sevmig_memory_attributes *r);
SEVMIG_API int sevmig_pstate_walk_memory_attributes(const struct sevmig_pstate *prev,
						    const struct sevmig_pstate *next,
						    sevmig_attributes_fn fn, void *arg);
/*
 * The same ranges into out[0..cap): the whole map as the minimal list
 * (prev NULL; adjacent entries always differ in attributes or leave a
 * gap), or the diff form. *count gets the number of ranges; -ENOSPC when
 * cap is smaller (the first cap are written), so cap 0 asks for the size.
 */
SEVMIG_API SEVMIG_NODISCARD int
sevmig_pstate_to_memory_attributes(const struct sevmig_pstate *prev,
				   const struct sevmig_pstate *next,
				   struct sevmig_memory_attributes *out, size_t cap, size_t *count);

/* KVM_EXIT_MEMORY_FAULT's flag: the guest accessed the range as private. */
#define SEVMIG_MEMORY_EXIT_FLAG_PRIVATE (UINT64_C(1) << 3)

/* What a memory-fault exit asks for: filled up to `sz` bytes. */
struct sevmig_memory_fault {
	size_t sz;
	/* The pages the fault names (gpa and size widened to whole pages)
	 * and the state they take: PRIVATE when the guest accessed them as
	 * private, SHARED otherwise. */
	uint64_t gfn, npages;
	enum sevmig_page_state state;
	/* Pages whose state the conversion changed in the map (0: the map
	 * already agreed, e.g. a second vCPU faulting on the same page). */
	uint64_t changed;
	/* The range to hand KVM_SET_MEMORY_ATTRIBUTES. */
	struct sevmig_memory_attributes range;
};

/*
 * A KVM_EXIT_MEMORY_FAULT (run->memory_fault: flags, gpa, size): the guest
 * touched [gpa, gpa + size) with another privateness than its attributes
 * say, and the VMM must convert it. Sets the pages to the state the access
 * asks for and fills *out with the conversion and the attribute range the
 * VMM then sets (sevmig_fw_kvm_memory_fault() does both for the KVM
 * backend). -EINVAL: size 0, flag bits other than PRIVATE, a range that
 * wraps or passes the 52-bit limit; -ERANGE: pages outside the coverage;
 * -ENOMEM. Nothing changes on error (out->sz must be set; the rest of *out
 * is filled as far as the arguments say, also on error).
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_memory_fault(struct sevmig_pstate *ps, uint64_t flags,
							   uint64_t gpa, uint64_t size,
							   struct sevmig_memory_fault *out);

/* ---- guest_memfd addressing ------------------------------------------------ */

/*
 * A memslot of a guest_memfd VM has its private memory in a guest_memfd
 * file at an offset (KVM_SET_USER_MEMORY_REGION2's guest_memfd and
 * guest_memfd_offset). Binding the map's slot to it lets the map answer
 * by gpa and by (guest_memfd, offset): the fd names the file while the
 * VMM keeps it open (the map neither owns nor checks it). A binding lives
 * with its slot: removing the slot drops it; clones keep it; a merge keeps
 * it only for a slot that comes out unchanged; serialized forms do not
 * carry it.
 */

/*
 * Bind the slot that is exactly [gfn, gfn + npages) (-ENOENT if none) to
 * bytes [offset, offset + npages pages) of guest_memfd `fd`. -EINVAL: fd
 * negative, offset not page-aligned or the range passing 2^64; -EEXIST:
 * the slot is bound already, or that range of fd overlaps another slot's
 * (KVM binds a guest_memfd range to one memslot at most).
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_bind_gmem(struct sevmig_pstate *ps, uint64_t gfn,
							uint64_t npages, int fd, uint64_t offset);
/* Drop the binding of the slot exactly [gfn, gfn + npages): -ENOENT if
 * there is no such slot or it is not bound. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_unbind_gmem(struct sevmig_pstate *ps, uint64_t gfn,
							  uint64_t npages);
/* gfn -> the guest_memfd and byte offset holding its private page: 0, or
 * -ENOENT when gfn is not covered or its slot is not bound. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_gfn_to_gmem(const struct sevmig_pstate *ps,
							  uint64_t gfn, int *fd, uint64_t *offset);
/* (guest_memfd, byte offset) -> the gfn bound there: 0, or -ENOENT when
 * no bound slot holds that offset of fd (any byte of a page names it).
 * O(slots). */
SEVMIG_API SEVMIG_NODISCARD int sevmig_pstate_gmem_to_gfn(const struct sevmig_pstate *ps, int fd,
							  uint64_t offset, uint64_t *gfn);
/* The state of the page at (guest_memfd, offset); ABSENT when none is
 * bound there. */
SEVMIG_API enum sevmig_page_state sevmig_pstate_get_gmem(const struct sevmig_pstate *ps, int fd,
							 uint64_t offset);

#ifdef __cplusplus
}
#endif
#endif
