/* SPDX-License-Identifier: MIT */
/*
 * VM-level SEV calls that are not firmware commands: pinning guest memory
 * (KVM_MEMORY_ENCRYPT_REG_REGION / UNREG_REGION) and moving an encryption
 * context between two VMs of one host (KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM).
 */
#if defined(__x86_64__) /* else kvm_other_arch.c */
#include "fw/kvm/kvm_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

int sevmig__kvm_region_call(struct sevmig_fw *fw, const char *what, unsigned long req, void *addr,
			    uint64_t size)
{
	struct sevmig__kvm *k = NULL;
	const uint32_t none = SEVMIG_FW_STATUS_NONE;
	SEVMIG__TRY(sevmig__kvm_need_vm(fw, what, &k));
	/* The kernel's own rules: a non-empty range that does not wrap
	 * (sev_pin_memory()); address 0 is as good as any other. */
	if (!size || size > UINTPTR_MAX - (uintptr_t)addr)
		return sevmig__fw_fail(fw, -EINVAL, none,
				       "%s: the range %p + 0x%llx is empty or wraps the address "
				       "space",
				       what, addr, (unsigned long long)size);
	struct kvm_enc_region r;
	memset(&r, 0, sizeof(r));
	r.addr = (uintptr_t)addr;
	r.size = size;
	int rc = sevmig__kvm_ioctl(k, k->vm_fd, req, &r);
	if (rc >= 0)
		return 0;
	if (rc == -ENOMEM && req == KVM_MEMORY_ENCRYPT_REG_REGION) {
		struct rlimit rl;
		char limit[32] = "unknown";
		if (!getrlimit(RLIMIT_MEMLOCK, &rl)) {
			if (rl.rlim_cur == RLIM_INFINITY)
				snprintf(limit, sizeof(limit), "unlimited");
			else
				snprintf(limit, sizeof(limit), "%llu bytes",
					 (unsigned long long)rl.rlim_cur);
		}
		return sevmig__fw_fail(
		    fw, -ENOMEM, none,
		    "%s: the kernel could not pin 0x%llx bytes: RLIMIT_MEMLOCK "
		    "(%s) is too low for a process without CAP_IPC_LOCK, or memory "
		    "ran out",
		    what, (unsigned long long)size, limit);
	}
	if (rc == -EINVAL)
		return sevmig__fw_fail(fw, -EINVAL, none,
				       req == KVM_MEMORY_ENCRYPT_UNREG_REGION
					   ? "%s: no registered region is exactly %p + 0x%llx "
					     "(UNREG_REGION takes a range exactly as registered)"
					   : "%s: KVM refused %p + 0x%llx: a mirror VM cannot pin "
					     "memory",
				       what, addr, (unsigned long long)size);
	return sevmig__kvm_fail(fw, what, true, rc, none);
}

int sevmig_fw_kvm_register_region(struct sevmig_fw *fw, void *addr, uint64_t size)
{
	return sevmig__kvm_region_call(fw, "KVM_MEMORY_ENCRYPT_REG_REGION",
				       KVM_MEMORY_ENCRYPT_REG_REGION, addr, size);
}

int sevmig_fw_kvm_unregister_region(struct sevmig_fw *fw, void *addr, uint64_t size)
{
	return sevmig__kvm_region_call(fw, "KVM_MEMORY_ENCRYPT_UNREG_REGION",
				       KVM_MEMORY_ENCRYPT_UNREG_REGION, addr, size);
}

int sevmig_fw_kvm_move_enc_context_from(struct sevmig_fw *fw, int src_vm_fd)
{
	static const char what[] = "KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM";
	const uint32_t none = SEVMIG_FW_STATUS_NONE;
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(sevmig__kvm_need_vm(fw, what, &k));
	if (src_vm_fd < 0)
		return sevmig__fw_fail(fw, -EBADF, none, "%s: no source VM fd (%d)", what,
				       src_vm_fd);
	/* An unknown capability is EINVAL too: ask first, so that EINVAL from
	 * the move itself means what the move checks. */
	int has = sevmig__kvm_check_extension(k, k->vm_fd, KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM);
	if (has <= 0)
		return sevmig__fw_fail(fw, -EOPNOTSUPP, none,
				       "%s: this kernel cannot move an encryption context between "
				       "VMs (the capability is absent)",
				       what);
	int rc = sevmig__kvm_enable_cap(k, KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM, (uint64_t)src_vm_fd);
	switch (rc) {
	case 0:
		return 0;
	case -EBADF:
		return sevmig__fw_fail(fw, -EBADF, none,
				       "%s: fd %d is not a KVM VM fd of this process", what,
				       src_vm_fd);
	case -EINVAL:
		return sevmig__fw_fail(
		    fw, -EINVAL, none,
		    "%s: KVM refused the move: the source is the same VM, or is "
		    "not an SEV guest, the destination already is one, the VM "
		    "types differ, SEV-ES vCPU counts differ, or the host has no "
		    "SEV",
		    what);
	case -EBUSY:
		return sevmig__fw_fail(
		    fw, -EBUSY, none,
		    "%s: one of the VMs is already being migrated or is creating "
		    "vCPUs; try again",
		    what);
	default:
		return sevmig__kvm_fail(fw, what, true, rc, none);
	}
}

#endif
