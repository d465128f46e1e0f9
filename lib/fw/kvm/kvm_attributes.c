/* SPDX-License-Identifier: MIT */
/*
 * Memory attributes (KVM_SET_MEMORY_ATTRIBUTES, KVM_CAP_MEMORY_ATTRIBUTES)
 * and the memory-fault exit of guest_memfd VMs. KVM keeps no readable copy
 * of the attributes, so the page-state map is the truth and this file
 * carries it to the kernel: whole, as a diff, or one conversion at a time.
 * Every range is checked before the first ioctl; what the VM supports is
 * asked of the running kernel, never assumed from the headers.
 */
#if defined(__x86_64__) /* else kvm_other_arch.c */
#include "fw/kvm/kvm_priv.h"
#include "pstate/pstate_staged.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

int sevmig__kvm_attr_supported(struct sevmig_fw *fw, struct sevmig__kvm *k, uint64_t *bits)
{
	if (!k->attr_probed) {
		int rc =
		    sevmig__kvm_check_extension(k, k->vm_fd, SEVMIG__KVM_CAP_MEMORY_ATTRIBUTES);
		/* a kernel that does not know the capability answers 0 */
		if (rc < 0)
			return sevmig__kvm_fail(fw,
						"KVM_CHECK_EXTENSION(KVM_CAP_MEMORY_ATTRIBUTES)",
						true, rc, SEVMIG_FW_STATUS_NONE);
		k->attr_supported = (uint64_t)rc;
		k->attr_probed = 1;
	}
	*bits = k->attr_supported;
	return 0;
}

int sevmig_fw_kvm_memory_attributes(struct sevmig_fw *fw, uint64_t *supported)
{
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(sevmig__kvm_need_vm(fw, "KVM_CAP_MEMORY_ATTRIBUTES", &k));
	if (!supported)
		return -EINVAL;
	pthread_mutex_lock(&k->exit_lock);
	int rc = sevmig__kvm_attr_supported(fw, k, supported);
	pthread_mutex_unlock(&k->exit_lock);
	return rc;
}

/* One range against KVM's rules and the VM's bits; `i` names it. */
static int check_range(struct sevmig_fw *fw, const struct sevmig_memory_attributes *r, size_t i,
		       uint64_t supported)
{
	const uint32_t none = SEVMIG_FW_STATUS_NONE;
	static const char what[] = "KVM_SET_MEMORY_ATTRIBUTES";
	if (!r->size || (r->address | r->size) % SEVMIG_PAGE_SIZE ||
	    r->size > UINT64_MAX - r->address)
		return sevmig__fw_fail(fw, -EINVAL, none,
				       "%s: range %zu (0x%" PRIx64 " + 0x%" PRIx64
				       ") is empty, not page-aligned or wraps",
				       what, i, r->address, r->size);
	if (r->flags)
		return sevmig__fw_fail(fw, -EINVAL, none,
				       "%s: range %zu has flags 0x%" PRIx64 "; KVM defines none",
				       what, i, r->flags);
	if (!supported)
		return sevmig__fw_fail(fw, -EOPNOTSUPP, none,
				       "%s: this VM has no memory attributes "
				       "(KVM_CAP_MEMORY_ATTRIBUTES is 0: a VM type without "
				       "private memory, or a kernel before 6.8)",
				       what);
	if (r->attributes & ~supported)
		return sevmig__fw_fail(fw, -EOPNOTSUPP, none,
				       "%s: range %zu sets attributes 0x%" PRIx64
				       ", this VM supports 0x%" PRIx64,
				       what, i, r->attributes, supported);
	return 0;
}

static int set_one(struct sevmig_fw *fw, struct sevmig__kvm *k,
		   const struct sevmig_memory_attributes *r, size_t i)
{
	struct sevmig__kvm_memory_attributes a;
	memset(&a, 0, sizeof(a));
	a.address = r->address;
	a.size = r->size;
	a.attributes = r->attributes;
	int rc = sevmig__kvm_ioctl(k, k->vm_fd, SEVMIG__KVM_SET_MEMORY_ATTRIBUTES, &a);
	if (rc >= 0)
		return 0;
	char what[128];
	sevmig__msg(what, sizeof(what),
		    "KVM_SET_MEMORY_ATTRIBUTES (range %zu: 0x%" PRIx64 " + 0x%" PRIx64
		    ", attributes 0x%" PRIx64 ")",
		    i, r->address, r->size, r->attributes);
	if (rc == -EINVAL)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "%s: the kernel refused it (EINVAL)", what);
	return sevmig__kvm_fail(fw, what, true, rc, SEVMIG_FW_STATUS_NONE);
}

int sevmig_fw_kvm_set_memory_attributes(struct sevmig_fw *fw,
					const struct sevmig_memory_attributes *r, size_t n,
					size_t *done)
{
	struct sevmig__kvm *k = NULL;
	if (done)
		*done = 0;
	SEVMIG__TRY(sevmig__kvm_need_vm(fw, "KVM_SET_MEMORY_ATTRIBUTES", &k));
	if (n && !r)
		return -EINVAL;
	uint64_t supported = 0;
	if (n) {
		pthread_mutex_lock(&k->exit_lock);
		int rc = sevmig__kvm_attr_supported(fw, k, &supported);
		pthread_mutex_unlock(&k->exit_lock);
		SEVMIG__TRY(rc);
	}
	for (size_t i = 0; i < n; i++)
		SEVMIG__TRY(check_range(fw, &r[i], i, supported));
	for (size_t i = 0; i < n; i++) {
		SEVMIG__TRY(set_one(fw, k, &r[i], i));
		if (done)
			*done = i + 1;
	}
	return 0;
}

/* The diff's ranges come from maps, so only the attribute bits can be
 * refused: the first pass checks them, the second issues. */
struct apply_ctx {
	struct sevmig_fw *fw;
	struct sevmig__kvm *k;
	uint64_t supported;
	size_t i;
	bool issue;
};

static int apply_range(void *arg, const struct sevmig_memory_attributes *r)
{
	struct apply_ctx *a = arg;
	int rc =
	    a->issue ? set_one(a->fw, a->k, r, a->i) : check_range(a->fw, r, a->i, a->supported);
	if (!rc)
		a->i++;
	return rc;
}

int sevmig_fw_kvm_apply_memory_attributes(struct sevmig_fw *fw, const struct sevmig_pstate *prev,
					  const struct sevmig_pstate *next, size_t *done)
{
	struct sevmig__kvm *k = NULL;
	if (done)
		*done = 0;
	SEVMIG__TRY(sevmig__kvm_need_vm(fw, "KVM_SET_MEMORY_ATTRIBUTES", &k));
	if (!next)
		return -EINVAL;
	struct apply_ctx a = { fw, k, 0, 0, false };
	pthread_mutex_lock(&k->exit_lock);
	int rc = sevmig__kvm_attr_supported(fw, k, &a.supported);
	pthread_mutex_unlock(&k->exit_lock);
	SEVMIG__TRY(rc);
	SEVMIG__TRY(sevmig_pstate_walk_memory_attributes(prev, next, apply_range, &a));
	a.i = 0;
	a.issue = true;
	rc = sevmig_pstate_walk_memory_attributes(prev, next, apply_range, &a);
	if (done)
		*done = a.i;
	return rc;
}

/* ---- KVM_EXIT_MEMORY_FAULT ------------------------------------------------------- */

int sevmig_fw_kvm_memory_fault(struct sevmig_fw *fw, void *run_ptr, struct sevmig_pstate *ps,
			       struct sevmig_memory_fault *out)
{
	static const char what[] = "KVM_EXIT_MEMORY_FAULT";
	const uint32_t none = SEVMIG_FW_STATUS_NONE;
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(sevmig__kvm_need_vm(fw, what, &k));
	if (!run_ptr || (out && out->sz < sizeof(out->sz)))
		return -EINVAL;
	struct kvm_run *run = run_ptr;
	if (run->exit_reason != SEVMIG__KVM_EXIT_MEMORY_FAULT)
		return 0;
	if (!ps)
		return sevmig__fw_fail(fw, -EINVAL, none, "%s: no page-state map to convert in",
				       what);
	struct sevmig__kvm_memory_fault mf;
	memcpy(&mf, (const uint8_t *)run + SEVMIG__KVM_RUN_EXIT_UNION, sizeof(mf));

	struct sevmig_memory_fault r;
	struct sevmig__staged *st = NULL;
	uint64_t supported = 0;
	pthread_mutex_lock(&k->exit_lock);
	int rc = sevmig__pstate_memory_fault_plan(ps, mf.flags, mf.gpa, mf.size, &r);
	if (rc)
		rc = sevmig__fw_fail(fw, rc, none, "%s: gpa 0x%llx + 0x%llx, flags 0x%llx: %s",
				     what, (unsigned long long)mf.gpa, (unsigned long long)mf.size,
				     (unsigned long long)mf.flags,
				     rc == -ERANGE ? "memory the map does not cover"
						   : "a range or flags KVM does not produce");
	if (!rc)
		rc = sevmig__kvm_attr_supported(fw, k, &supported);
	/* the plan's range is page-aligned and non-empty: only the VM can
	 * refuse it */
	if (!rc && !(supported & SEVMIG_MEMORY_ATTRIBUTE_PRIVATE))
		rc = sevmig__fw_fail(fw, -EOPNOTSUPP, none,
				     "%s: this VM has no PRIVATE attribute "
				     "(KVM_CAP_MEMORY_ATTRIBUTES is 0x%llx)",
				     what, (unsigned long long)supported);
	/* Everything the map needs is allocated before the kernel changes,
	 * and the map changes only after it did. */
	if (!rc && r.changed) {
		rc = sevmig__pstate_stage(ps, r.gfn, r.npages, r.state, false, &st);
		if (rc)
			rc = sevmig__fw_fail(fw, rc, none, "%s: out of memory", what);
	}
	if (!rc) {
		rc = set_one(fw, k, &r.range, 0);
		if (rc) {
			sevmig__pstate_abort(st);
			st = NULL;
		}
	}
	if (st)
		sevmig__pstate_commit(st);
	pthread_mutex_unlock(&k->exit_lock);
	if (rc)
		r.changed = 0;
	if (out)
		sevmig__out_fill(out, &r, sizeof(r));
	return rc ? rc : 1;
}

#endif
