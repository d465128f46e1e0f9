/* SPDX-License-Identifier: MIT */
/*
 * Mainline page-state tracking: the guest reports encryption changes with
 * hypercall 12, which KVM forwards as KVM_EXIT_HYPERCALL once
 * KVM_CAP_EXIT_HYPERCALL is enabled, and says it is ready to be migrated by
 * writing MSR_KVM_MIGRATION_CONTROL, which KVM leaves to user space through
 * an MSR filter. vCPU threads call in here concurrently: everything below
 * the ioctls runs under exit_lock.
 */
#if defined(__x86_64__) /* else kvm_other_arch.c */
#include "fw/kvm/kvm_priv.h"

#include <errno.h>
#include <string.h>

int sevmig_fw_kvm_enable_exits(struct sevmig_fw *fw, unsigned flags)
{
	static const char what[] = "enable exits";
	const uint32_t none = SEVMIG_FW_STATUS_NONE;
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(sevmig__kvm_need_vm(fw, what, &k));
	if (!flags || (flags & ~(SEVMIG_KVM_EXIT_HYPERCALL | SEVMIG_KVM_EXIT_MSR)))
		return sevmig__fw_fail(fw, -EINVAL, none, "%s: bad flags 0x%x", what, flags);

	/* Ask for everything before enabling anything, so that a missing
	 * capability leaves the VM as it was. */
	if (flags & SEVMIG_KVM_EXIT_HYPERCALL) {
		int mask = sevmig__kvm_check_extension(k, k->vm_fd, KVM_CAP_EXIT_HYPERCALL);
		if (mask < 0 || !(mask & (1 << KVM_HC_MAP_GPA_RANGE)))
			return sevmig__fw_fail(fw, -EOPNOTSUPP, none,
					       "%s: this kernel cannot forward hypercall 12 "
					       "(KVM_HC_MAP_GPA_RANGE) to user space: "
					       "KVM_CAP_EXIT_HYPERCALL is absent",
					       what);
	}
	if (flags & SEVMIG_KVM_EXIT_MSR) {
		if (sevmig__kvm_check_extension(k, k->vm_fd, KVM_CAP_X86_USER_SPACE_MSR) <= 0 ||
		    sevmig__kvm_check_extension(k, k->vm_fd, KVM_CAP_X86_MSR_FILTER) <= 0)
			return sevmig__fw_fail(fw, -EOPNOTSUPP, none,
					       "%s: this kernel cannot send MSR accesses to user "
					       "space: KVM_CAP_X86_USER_SPACE_MSR or "
					       "KVM_CAP_X86_MSR_FILTER is absent",
					       what);
	}

	if (flags & SEVMIG_KVM_EXIT_HYPERCALL) {
		int rc = sevmig__kvm_enable_cap(k, KVM_CAP_EXIT_HYPERCALL,
						UINT64_C(1) << KVM_HC_MAP_GPA_RANGE);
		if (rc < 0)
			return sevmig__kvm_fail(fw, "KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL)", true,
						rc, none);
	}
	if (flags & SEVMIG_KVM_EXIT_MSR) {
		int rc = sevmig__kvm_enable_cap(k, KVM_CAP_X86_USER_SPACE_MSR,
						KVM_MSR_EXIT_REASON_FILTER);
		if (rc < 0)
			return sevmig__kvm_fail(fw, "KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR)",
						true, rc, none);
		/* A clear bit denies the access, and a denied access goes to
		 * user space (reason FILTER); every other MSR stays in KVM. */
		uint8_t deny = 0;
		struct kvm_msr_filter f;
		memset(&f, 0, sizeof(f));
		f.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
		f.ranges[0].flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
		f.ranges[0].nmsrs = 1;
		f.ranges[0].base = MSR_KVM_MIGRATION_CONTROL;
		f.ranges[0].bitmap = &deny;
		rc = sevmig__kvm_ioctl(k, k->vm_fd, KVM_X86_SET_MSR_FILTER, &f);
		if (rc < 0)
			return sevmig__kvm_fail(fw, "KVM_X86_SET_MSR_FILTER", true, rc, none);
	}
	return 0;
}

/*
 * The rules are the page-state layer's (sevmig_pstate_map_gpa_range()); the
 * series' PAGE_ENC_STATUS(gpa, npages, enc) is the same request with enc
 * 0 or 1 where the attributes go.
 */
static int handle_hypercall(struct sevmig__kvm *k, struct kvm_run *run, struct sevmig_pstate *ps)
{
	uint64_t gpa = run->hypercall.args[0];
	uint64_t npages = run->hypercall.args[1];
	uint64_t attrs = run->hypercall.args[2];
	uint64_t a2 = attrs;
	if (k->hc_abi == SEVMIG_KVM_HC_ABI_PAGE_ENC_STATUS)
		a2 = attrs == 1	  ? SEVMIG_MAP_GPA_RANGE_ENCRYPTED
		     : attrs == 0 ? 0
				  : ~(uint64_t)0; /* reserved bits: refused */
	struct sevmig_map_gpa_range r = { .sz = sizeof(r) };
	int rc = sevmig_pstate_map_gpa_range(ps, gpa, npages, a2, &r);
	run->hypercall.ret = r.guest_ret;
	if (!rc) {
		k->exits.applied++;
		return 1;
	}
	k->exits.rejected++;
	k->exits.last_rejected_gpa = gpa;
	k->exits.last_rejected_npages = npages;
	k->exits.last_rejected_attrs = attrs;
	k->exits.last_rejected_ret = (int64_t)run->hypercall.ret;
	return rc == -ENOMEM ? -ENOMEM : 1;
}

static int handle_msr(struct sevmig__kvm *k, struct kvm_run *run)
{
	if (run->exit_reason == KVM_EXIT_X86_RDMSR) {
		run->msr.data = k->exits.migration_control;
		run->msr.error = 0;
		return 1;
	}
	k->exits.msr_writes++;
	if (run->msr.data & ~(uint64_t)KVM_MIGRATION_READY) {
		/* Reserved bits: a #GP, as for any MSR. */
		run->msr.error = 1;
		k->exits.msr_rejected++;
		return 1;
	}
	k->exits.migration_control = run->msr.data;
	run->msr.error = 0;
	return 1;
}

int sevmig_fw_kvm_handle_exit(struct sevmig_fw *fw, void *run_ptr, struct sevmig_pstate *ps)
{
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(sevmig__kvm_need_kvm(fw, "handle exit", &k));
	if (!run_ptr)
		return -EINVAL;
	struct kvm_run *run = run_ptr;
	int rc = 0;
	pthread_mutex_lock(&k->exit_lock);
	switch (run->exit_reason) {
	case KVM_EXIT_HYPERCALL:
		if (run->hypercall.nr != KVM_HC_MAP_GPA_RANGE)
			break;
		if (!ps) {
			/* The VMM routed a hypercall here without a map. */
			run->hypercall.ret = SEVMIG_MAP_GPA_RANGE_RET_EFAULT;
			rc = -EINVAL;
			break;
		}
		k->exits.hypercalls++;
		rc = handle_hypercall(k, run, ps);
		break;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		if (run->msr.index == MSR_KVM_MIGRATION_CONTROL)
			rc = handle_msr(k, run);
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&k->exit_lock);
	return rc;
}

void sevmig_fw_kvm_pstate_lock(struct sevmig_fw *fw)
{
	struct sevmig__kvm *k = NULL;
	if (!sevmig__kvm_need_kvm(fw, "pstate lock", &k))
		pthread_mutex_lock(&k->exit_lock);
}

void sevmig_fw_kvm_pstate_unlock(struct sevmig_fw *fw)
{
	struct sevmig__kvm *k = NULL;
	if (!sevmig__kvm_need_kvm(fw, "pstate unlock", &k))
		pthread_mutex_unlock(&k->exit_lock);
}

void sevmig_fw_kvm_exit_stats(struct sevmig_fw *fw, struct sevmig_kvm_exit_stats *out)
{
	struct sevmig__kvm *k = NULL;
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (sevmig__kvm_need_kvm(fw, "exit stats", &k))
		return;
	pthread_mutex_lock(&k->exit_lock);
	*out = k->exits;
	pthread_mutex_unlock(&k->exit_lock);
}

bool sevmig_fw_kvm_migration_ready(struct sevmig_fw *fw)
{
	struct sevmig_kvm_exit_stats st;
	sevmig_fw_kvm_exit_stats(fw, &st);
	return st.migration_control & KVM_MIGRATION_READY;
}

int sevmig_fw_kvm_set_migration_control(struct sevmig_fw *fw, uint64_t value)
{
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(sevmig__kvm_need_kvm(fw, "set migration control", &k));
	if (value & ~(uint64_t)KVM_MIGRATION_READY)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "MSR_KVM_MIGRATION_CONTROL: 0x%llx sets bits other than "
				       "KVM_MIGRATION_READY",
				       (unsigned long long)value);
	pthread_mutex_lock(&k->exit_lock);
	k->exits.migration_control = value;
	pthread_mutex_unlock(&k->exit_lock);
	return 0;
}

#endif
