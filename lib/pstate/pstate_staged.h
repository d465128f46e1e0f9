/* SPDX-License-Identifier: MIT */
/*
 * Changes to a map in two steps, for callers that must pair a map change
 * with a kernel call and leave both sides as they were when either fails
 * (the KVM backend's memslot lifecycle and memory-fault handling): every
 * allocation happens when the change is staged, so that committing it,
 * after the kernel call succeeded, cannot fail. Not ABI.
 */
#ifndef SEVMIG_PSTATE_STAGED_H
#define SEVMIG_PSTATE_STAGED_H

#include <sevmig/pstate.h>

struct sevmig__staged;

/*
 * Stage setting [gfn, gfn + npages) to `state` (SHARED or PRIVATE), and
 * with remove_slot also removing the slot that is exactly that range (its
 * pages forget their state: state must then be PRIVATE). -EINVAL for a
 * bad range or state, -ERANGE for pages outside the coverage, -ENOENT
 * when remove_slot finds no such slot, -ENOMEM; ps is untouched either
 * way. Until the change is committed or aborted, ps must not change.
 */
int sevmig__pstate_stage(struct sevmig_pstate *ps, uint64_t gfn, uint64_t npages,
			 enum sevmig_page_state state, bool remove_slot,
			 struct sevmig__staged **out);
/* Apply the staged change (cannot fail) and free it. */
void sevmig__pstate_commit(struct sevmig__staged *st);
/* Drop it, ps as it was. NULL-safe. */
void sevmig__pstate_abort(struct sevmig__staged *st);

/*
 * The rules of sevmig_pstate_memory_fault() without the change: *r (the
 * whole struct) gets the conversion, ps stays as it is. Same errors but
 * -ENOMEM.
 */
int sevmig__pstate_memory_fault_plan(const struct sevmig_pstate *ps, uint64_t flags, uint64_t gpa,
				     uint64_t size, struct sevmig_memory_fault *r);

#endif
