/* SPDX-License-Identifier: MIT */
/*
 * The kernel ABI the KVM backend speaks: the installed UAPI headers, checked
 * here against the layouts the kernel actually uses (a header from another
 * kernel must not silently change what we hand to the ioctl), fallbacks for
 * numbers older headers lack, and the out-of-tree series' structs and ioctl
 * numbers from their documented definitions (never in any installed header).
 * Sources: ../shared/reference/sev-facts.md sections 1-3.
 */
#ifndef SEVMIG_FW_KVM_ABI_H
#define SEVMIG_FW_KVM_ABI_H

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>
#include <linux/kvm_para.h>
#include <linux/psp-sev.h>

#include <sevmig/fw_kvm.h>

#if !defined(__x86_64__)
#error "the KVM SEV backend exists for x86-64 only (kvm_other_arch.c elsewhere)"
#endif

/* Numbers older UAPI headers may lack (values from mainline). */
#ifndef KVM_CAP_X86_USER_SPACE_MSR
#define KVM_CAP_X86_USER_SPACE_MSR 188
#endif
#ifndef KVM_CAP_X86_MSR_FILTER
#define KVM_CAP_X86_MSR_FILTER 189
#endif
#ifndef KVM_CAP_VM_COPY_ENC_CONTEXT_FROM
#define KVM_CAP_VM_COPY_ENC_CONTEXT_FROM 197
#endif
#ifndef KVM_CAP_EXIT_HYPERCALL
#define KVM_CAP_EXIT_HYPERCALL 201
#endif
#ifndef KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM
#define KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM 206
#endif
#ifndef KVM_HC_MAP_GPA_RANGE
#define KVM_HC_MAP_GPA_RANGE 12
#endif
#ifndef KVM_EXIT_X86_RDMSR
#define KVM_EXIT_X86_RDMSR 29
#define KVM_EXIT_X86_WRMSR 30
#endif
#ifndef MSR_KVM_MIGRATION_CONTROL
#define MSR_KVM_MIGRATION_CONTROL 0x4b564d08
#endif
#ifndef KVM_MIGRATION_READY
#define KVM_MIGRATION_READY (1 << 0)
#endif
#ifndef KVM_FEATURE_HC_MAP_GPA_RANGE
#define KVM_FEATURE_HC_MAP_GPA_RANGE  16
#define KVM_FEATURE_MIGRATION_CONTROL 17
#endif
#ifndef KVM_MAP_GPA_RANGE_ENCRYPTED
#define KVM_MAP_GPA_RANGE_ENCRYPTED (1 << 4)
#endif
#ifndef KVM_MAP_GPA_RANGE_PAGE_SZ_2M
#define KVM_MAP_GPA_RANGE_PAGE_SZ_2M (1 << 0)
#define KVM_MAP_GPA_RANGE_PAGE_SZ_1G (1 << 1)
#endif

/* SEV_FW_BLOB_MAX_SIZE (include/linux/psp-sev.h, kernel-internal): the
 * largest certificate or session blob the kernel copies for the firmware. */
#define SEVMIG__KVM_BLOB_MAX 0x4000u

/* ---- the series' page-state ioctls (sev-facts 3.1, 3.2) ------------------- */

/* KVM_GET/SET_PAGE_ENC_BITMAP, identical in every posting. */
struct sevmig__kvm_page_enc_bitmap {
	__u64 start_gfn;
	__u64 num_pages;
	union {
		void *enc_bitmap; /* bit i: gfn start_gfn + i, 1 = encrypted */
		__u64 padding2;
	};
};

/* KVM_GET/SET_SHARED_PAGES_LIST (v10). */
struct sevmig__kvm_shared_pages_list {
	int *pnents;  /* GET out / SET in: number of entries */
	void *buffer; /* entries { unsigned long gfn_start, gfn_end; }, end exclusive */
	__u32 size;   /* bytes of buffer */
};

#define SEVMIG__KVM_GET_PAGE_ENC_BITMAP_2019 _IOW(KVMIO, 0xc2, struct sevmig__kvm_page_enc_bitmap)
#define SEVMIG__KVM_SET_PAGE_ENC_BITMAP_2019 _IOW(KVMIO, 0xc3, struct sevmig__kvm_page_enc_bitmap)
#define SEVMIG__KVM_GET_PAGE_ENC_BITMAP_V6   _IOW(KVMIO, 0xc5, struct sevmig__kvm_page_enc_bitmap)
#define SEVMIG__KVM_SET_PAGE_ENC_BITMAP_V6   _IOW(KVMIO, 0xc6, struct sevmig__kvm_page_enc_bitmap)
#define SEVMIG__KVM_GET_SHARED_PAGES_LIST    _IOW(KVMIO, 0xc8, struct sevmig__kvm_shared_pages_list)
#define SEVMIG__KVM_SET_SHARED_PAGES_LIST    _IOW(KVMIO, 0xc9, struct sevmig__kvm_shared_pages_list)

/* ---- layouts ---------------------------------------------------------------- */

#define SEVMIG__LAYOUT(type, size) \
	static_assert(sizeof(type) == (size), #type " has the wrong size")
#define SEVMIG__AT(type, field, off) \
	static_assert(offsetof(type, field) == (off), #type "." #field " is at the wrong offset")

SEVMIG__LAYOUT(struct kvm_sev_cmd, 24);
SEVMIG__AT(struct kvm_sev_cmd, id, 0);
SEVMIG__AT(struct kvm_sev_cmd, data, 8);
SEVMIG__AT(struct kvm_sev_cmd, error, 16);
SEVMIG__AT(struct kvm_sev_cmd, sev_fd, 20);
SEVMIG__LAYOUT(struct kvm_enc_region, 16);
SEVMIG__LAYOUT(struct kvm_sev_send_start, 72);
SEVMIG__AT(struct kvm_sev_send_start, pdh_cert_uaddr, 8);
SEVMIG__AT(struct kvm_sev_send_start, plat_certs_uaddr, 24);
SEVMIG__AT(struct kvm_sev_send_start, amd_certs_uaddr, 40);
SEVMIG__AT(struct kvm_sev_send_start, session_uaddr, 56);
SEVMIG__AT(struct kvm_sev_send_start, session_len, 64);
SEVMIG__LAYOUT(struct kvm_sev_send_update_data, 48);
SEVMIG__AT(struct kvm_sev_send_update_data, hdr_len, 8);
SEVMIG__AT(struct kvm_sev_send_update_data, guest_uaddr, 16);
SEVMIG__AT(struct kvm_sev_send_update_data, guest_len, 24);
SEVMIG__AT(struct kvm_sev_send_update_data, trans_uaddr, 32);
SEVMIG__AT(struct kvm_sev_send_update_data, trans_len, 40);
SEVMIG__LAYOUT(struct kvm_sev_receive_start, 40);
SEVMIG__AT(struct kvm_sev_receive_start, policy, 4);
SEVMIG__AT(struct kvm_sev_receive_start, pdh_uaddr, 8);
SEVMIG__AT(struct kvm_sev_receive_start, session_uaddr, 24);
SEVMIG__AT(struct kvm_sev_receive_start, session_len, 32);
SEVMIG__LAYOUT(struct kvm_sev_receive_update_data, 48);
SEVMIG__AT(struct kvm_sev_receive_update_data, trans_len, 40);
SEVMIG__LAYOUT(struct kvm_sev_guest_status, 12);
SEVMIG__LAYOUT(struct kvm_sev_dbg, 24);
SEVMIG__AT(struct kvm_sev_dbg, len, 16);
SEVMIG__LAYOUT(struct kvm_enable_cap, 104);
SEVMIG__AT(struct kvm_enable_cap, args, 8);
SEVMIG__LAYOUT(struct sev_issue_cmd, 16);
SEVMIG__AT(struct sev_issue_cmd, data, 4);
SEVMIG__AT(struct sev_issue_cmd, error, 12);
SEVMIG__LAYOUT(struct sev_user_data_status, 12);
SEVMIG__AT(struct sev_user_data_status, flags, 3);
SEVMIG__AT(struct sev_user_data_status, build, 7);
SEVMIG__AT(struct sev_user_data_status, guest_count, 8);
SEVMIG__LAYOUT(struct sev_user_data_pdh_cert_export, 24);
SEVMIG__AT(struct sev_user_data_pdh_cert_export, cert_chain_address, 12);
SEVMIG__AT(struct sev_user_data_pdh_cert_export, cert_chain_len, 20);
SEVMIG__LAYOUT(struct sev_user_data_get_id2, 12);
SEVMIG__AT(struct kvm_run, hypercall.nr, 32);
SEVMIG__AT(struct kvm_run, hypercall.args, 40);
SEVMIG__AT(struct kvm_run, hypercall.ret, 88);
SEVMIG__AT(struct kvm_run, msr.error, 32);
SEVMIG__AT(struct kvm_run, msr.reason, 40);
SEVMIG__AT(struct kvm_run, msr.index, 44);
SEVMIG__AT(struct kvm_run, msr.data, 48);
SEVMIG__LAYOUT(struct sevmig__kvm_page_enc_bitmap, 24);
SEVMIG__AT(struct sevmig__kvm_page_enc_bitmap, num_pages, 8);
SEVMIG__AT(struct sevmig__kvm_page_enc_bitmap, enc_bitmap, 16);
SEVMIG__LAYOUT(struct sevmig__kvm_shared_pages_list, 24);
SEVMIG__AT(struct sevmig__kvm_shared_pages_list, buffer, 8);
SEVMIG__AT(struct sevmig__kvm_shared_pages_list, size, 16);

/* The numbers the kernel decodes; a different header must not move them. */
static_assert(KVM_MEMORY_ENCRYPT_OP == 0xc008aeba, "KVM_MEMORY_ENCRYPT_OP");
static_assert(KVM_MEMORY_ENCRYPT_REG_REGION == 0x8010aebb, "KVM_MEMORY_ENCRYPT_REG_REGION");
static_assert(KVM_MEMORY_ENCRYPT_UNREG_REGION == 0x8010aebc, "KVM_MEMORY_ENCRYPT_UNREG_REGION");
static_assert(KVM_ENABLE_CAP == 0x4068aea3, "KVM_ENABLE_CAP");
static_assert(SEV_ISSUE_CMD == 0xc0105300, "SEV_ISSUE_CMD");
static_assert(SEVMIG__KVM_GET_PAGE_ENC_BITMAP_V6 == 0x4018aec5, "KVM_GET_PAGE_ENC_BITMAP v6");
static_assert(SEVMIG__KVM_GET_SHARED_PAGES_LIST == 0x4018aec8, "KVM_GET_SHARED_PAGES_LIST");
static_assert(KVM_SEV_SEND_START == 8 && KVM_SEV_SEND_UPDATE_DATA == 9 &&
		  KVM_SEV_SEND_UPDATE_VMSA == 10 && KVM_SEV_SEND_FINISH == 11 &&
		  KVM_SEV_RECEIVE_START == 12 && KVM_SEV_RECEIVE_UPDATE_DATA == 13 &&
		  KVM_SEV_RECEIVE_FINISH == 15 && KVM_SEV_GUEST_STATUS == 16 &&
		  KVM_SEV_DBG_DECRYPT == 17 && KVM_SEV_DBG_ENCRYPT == 18 &&
		  KVM_SEV_SEND_CANCEL == 21,
	      "enum sev_cmd_id");
static_assert(SEV_PLATFORM_STATUS == 1 && SEV_PDH_CERT_EXPORT == 5 && SEV_GET_ID2 == 8,
	      "SEV platform command ids");

/* The public header repeats these for VMMs that do not include the UAPI. */
static_assert(SEVMIG_KVM_HC_MAP_GPA_RANGE == KVM_HC_MAP_GPA_RANGE, "hypercall number");
static_assert(SEVMIG_KVM_MAP_GPA_RANGE_ENCRYPTED == KVM_MAP_GPA_RANGE_ENCRYPTED, "attrs");
static_assert(SEVMIG_KVM_MSR_MIGRATION_CONTROL == MSR_KVM_MIGRATION_CONTROL, "MSR index");
static_assert(SEVMIG_KVM_MIGRATION_READY == KVM_MIGRATION_READY, "MSR bit");
static_assert(SEVMIG_KVM_FEATURE_HC_MAP_GPA_RANGE == KVM_FEATURE_HC_MAP_GPA_RANGE &&
		  SEVMIG_KVM_FEATURE_MIGRATION_CONTROL == KVM_FEATURE_MIGRATION_CONTROL,
	      "CPUID feature bits");
static_assert(SEVMIG_KVM_EINVAL == KVM_EINVAL && SEVMIG_KVM_EFAULT == KVM_EFAULT,
	      "hypercall error codes");
/* ...and so does the page-state layer's rule set, which knows no UAPI. */
static_assert(SEVMIG_MAP_GPA_RANGE_ENCRYPTED == KVM_MAP_GPA_RANGE_ENCRYPTED &&
		  SEVMIG_MAP_GPA_RANGE_PAGE_SZ_2M == KVM_MAP_GPA_RANGE_PAGE_SZ_2M &&
		  SEVMIG_MAP_GPA_RANGE_PAGE_SZ_1G == KVM_MAP_GPA_RANGE_PAGE_SZ_1G,
	      "MAP_GPA_RANGE attributes");
static_assert(SEVMIG_MAP_GPA_RANGE_RET_EINVAL == (uint64_t)-KVM_EINVAL &&
		  SEVMIG_MAP_GPA_RANGE_RET_EFAULT == (uint64_t)-KVM_EFAULT,
	      "MAP_GPA_RANGE return values");

#endif
