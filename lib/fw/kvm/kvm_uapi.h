/* SPDX-License-Identifier: MIT */
/*
 * KVM interfaces newer than the installed UAPI headers (Debian 12 ships
 * Linux 6.1; these came with 6.8): memory attributes, guest_memfd, the
 * memory-fault exit and VM types. Defined here under our own names from
 * the kernel's Documentation/virt/kvm/api.rst and include/uapi/linux/kvm.h,
 * self-contained (no <linux/kvm.h>), so that tests/tools/check_kvm_uapi.sh
 * can compile them next to a newer <linux/kvm.h> and compare every value
 * and layout. The running kernel may have more than the headers: the
 * backend probes (KVM_CHECK_EXTENSION) before it uses any of these.
 */
#ifndef SEVMIG_FW_KVM_UAPI_H
#define SEVMIG_FW_KVM_UAPI_H

#include <assert.h>
#include <stddef.h>

#include <linux/ioctl.h>
#include <linux/types.h>

#define SEVMIG__KVMIO 0xAE

/* Capabilities (KVM_CHECK_EXTENSION). */
#define SEVMIG__KVM_CAP_USER_MEMORY2	  231
#define SEVMIG__KVM_CAP_MEMORY_FAULT_INFO 232
#define SEVMIG__KVM_CAP_MEMORY_ATTRIBUTES 233 /* answers the supported attribute bits */
#define SEVMIG__KVM_CAP_GUEST_MEMFD	  234
#define SEVMIG__KVM_CAP_VM_TYPES	  235 /* answers a mask of 1 << type */

/* x86 VM types (KVM_CREATE_VM's argument; arch/x86/include/uapi/asm/kvm.h). */
#define SEVMIG__KVM_X86_DEFAULT_VM	0
#define SEVMIG__KVM_X86_SW_PROTECTED_VM 1
#define SEVMIG__KVM_X86_SEV_VM		2
#define SEVMIG__KVM_X86_SEV_ES_VM	3
#define SEVMIG__KVM_X86_SNP_VM		4
#define SEVMIG__KVM_X86_TDX_VM		5

/* KVM_SET_MEMORY_ATTRIBUTES (vm ioctl). No flags are defined: flags must
 * be 0. There is no call to read attributes back. */
struct sevmig__kvm_memory_attributes {
	__u64 address;
	__u64 size;
	__u64 attributes;
	__u64 flags;
};
#define SEVMIG__KVM_MEMORY_ATTRIBUTE_PRIVATE (1ULL << 3)
#define SEVMIG__KVM_SET_MEMORY_ATTRIBUTES \
	_IOW(SEVMIG__KVMIO, 0xd2, struct sevmig__kvm_memory_attributes)

/* KVM_CREATE_GUEST_MEMFD (vm ioctl): returns a new file descriptor. */
struct sevmig__kvm_create_guest_memfd {
	__u64 size;
	__u64 flags;
	__u64 reserved[6];
};
#define SEVMIG__KVM_CREATE_GUEST_MEMFD \
	_IOWR(SEVMIG__KVMIO, 0xd4, struct sevmig__kvm_create_guest_memfd)

/* KVM_SET_USER_MEMORY_REGION2 (vm ioctl). */
struct sevmig__kvm_userspace_memory_region2 {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
	__u64 guest_memfd_offset;
	__u32 guest_memfd;
	__u32 pad1;
	__u64 pad2[14];
};
#define SEVMIG__KVM_MEM_GUEST_MEMFD (1U << 2)
#define SEVMIG__KVM_SET_USER_MEMORY_REGION2 \
	_IOW(SEVMIG__KVMIO, 0x49, struct sevmig__kvm_userspace_memory_region2)

/* KVM_EXIT_MEMORY_FAULT: kvm_run's exit union (offset 32) holds
 * run->memory_fault. */
#define SEVMIG__KVM_EXIT_MEMORY_FAULT	     39
#define SEVMIG__KVM_MEMORY_EXIT_FLAG_PRIVATE (1ULL << 3)
struct sevmig__kvm_memory_fault {
	__u64 flags;
	__u64 gpa;
	__u64 size;
};
#define SEVMIG__KVM_RUN_EXIT_UNION 32 /* offsetof(struct kvm_run, memory_fault) */

static_assert(sizeof(struct sevmig__kvm_memory_attributes) == 32, "kvm_memory_attributes");
static_assert(sizeof(struct sevmig__kvm_create_guest_memfd) == 64, "kvm_create_guest_memfd");
static_assert(sizeof(struct sevmig__kvm_userspace_memory_region2) == 160,
	      "kvm_userspace_memory_region2");
static_assert(offsetof(struct sevmig__kvm_userspace_memory_region2, guest_memfd_offset) == 32 &&
		  offsetof(struct sevmig__kvm_userspace_memory_region2, guest_memfd) == 40,
	      "kvm_userspace_memory_region2 layout");
static_assert(SEVMIG__KVM_SET_MEMORY_ATTRIBUTES == 0x4020aed2, "KVM_SET_MEMORY_ATTRIBUTES");
static_assert(SEVMIG__KVM_CREATE_GUEST_MEMFD == 0xc040aed4, "KVM_CREATE_GUEST_MEMFD");
static_assert(SEVMIG__KVM_SET_USER_MEMORY_REGION2 == 0x40a0ae49, "KVM_SET_USER_MEMORY_REGION2");

#endif
