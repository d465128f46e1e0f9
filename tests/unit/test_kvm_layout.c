/* SPDX-License-Identifier: MIT */
/*
 * The KVM backend hands the kernel exactly the layouts the kernel reads:
 * sizes and offsets of every struct it passes, checked at run time against
 * the installed <linux/kvm.h> and <linux/psp-sev.h> and against the numbers
 * of sev-facts.md (the kernel's ABI, which a header must not move); the
 * out-of-tree series' structs against their documented definitions; and the
 * public header's copies of KVM numbers against the UAPI.
 */
#if !defined(__x86_64__)
#include <stdio.h>
int main(void)
{
	puts("skipped: SEV, and so this program, exists on x86-64 only");
	return 77;
}
#else
#include "testutil.h"

#include <stddef.h>
#include <string.h>

#include <linux/kvm.h>
#include <linux/kvm_para.h>
#include <linux/psp-sev.h>

#include "fw/kvm/kvm_abi.h"

#define SIZE(type, n)	     assert_int_equal(sizeof(type), n)
#define AT(type, field, off) assert_int_equal(offsetof(type, field), off)

static void test_guest_command_structs(void **state)
{
	(void)state;
	SIZE(struct kvm_sev_cmd, 24);
	AT(struct kvm_sev_cmd, id, 0);
	AT(struct kvm_sev_cmd, data, 8);
	AT(struct kvm_sev_cmd, error, 16);
	AT(struct kvm_sev_cmd, sev_fd, 20);

	SIZE(struct kvm_sev_send_start, 72);
	AT(struct kvm_sev_send_start, policy, 0);
	AT(struct kvm_sev_send_start, pdh_cert_uaddr, 8);
	AT(struct kvm_sev_send_start, pdh_cert_len, 16);
	AT(struct kvm_sev_send_start, plat_certs_uaddr, 24);
	AT(struct kvm_sev_send_start, plat_certs_len, 32);
	AT(struct kvm_sev_send_start, amd_certs_uaddr, 40);
	AT(struct kvm_sev_send_start, amd_certs_len, 48);
	AT(struct kvm_sev_send_start, session_uaddr, 56);
	AT(struct kvm_sev_send_start, session_len, 64);

	SIZE(struct kvm_sev_send_update_data, 48);
	AT(struct kvm_sev_send_update_data, hdr_uaddr, 0);
	AT(struct kvm_sev_send_update_data, hdr_len, 8);
	AT(struct kvm_sev_send_update_data, guest_uaddr, 16);
	AT(struct kvm_sev_send_update_data, guest_len, 24);
	AT(struct kvm_sev_send_update_data, trans_uaddr, 32);
	AT(struct kvm_sev_send_update_data, trans_len, 40);

	SIZE(struct kvm_sev_receive_start, 40);
	AT(struct kvm_sev_receive_start, handle, 0);
	AT(struct kvm_sev_receive_start, policy, 4);
	AT(struct kvm_sev_receive_start, pdh_uaddr, 8);
	AT(struct kvm_sev_receive_start, pdh_len, 16);
	AT(struct kvm_sev_receive_start, session_uaddr, 24);
	AT(struct kvm_sev_receive_start, session_len, 32);

	SIZE(struct kvm_sev_receive_update_data, 48);
	AT(struct kvm_sev_receive_update_data, hdr_uaddr, 0);
	AT(struct kvm_sev_receive_update_data, hdr_len, 8);
	AT(struct kvm_sev_receive_update_data, guest_uaddr, 16);
	AT(struct kvm_sev_receive_update_data, guest_len, 24);
	AT(struct kvm_sev_receive_update_data, trans_uaddr, 32);
	AT(struct kvm_sev_receive_update_data, trans_len, 40);

	SIZE(struct kvm_sev_guest_status, 12);
	AT(struct kvm_sev_guest_status, handle, 0);
	AT(struct kvm_sev_guest_status, policy, 4);
	AT(struct kvm_sev_guest_status, state, 8);

	SIZE(struct kvm_sev_dbg, 24);
	AT(struct kvm_sev_dbg, src_uaddr, 0);
	AT(struct kvm_sev_dbg, dst_uaddr, 8);
	AT(struct kvm_sev_dbg, len, 16);

	SIZE(struct kvm_enc_region, 16);
	AT(struct kvm_enc_region, addr, 0);
	AT(struct kvm_enc_region, size, 8);

	SIZE(struct kvm_enable_cap, 104);
	AT(struct kvm_enable_cap, cap, 0);
	AT(struct kvm_enable_cap, flags, 4);
	AT(struct kvm_enable_cap, args, 8);
}

static void test_platform_structs(void **state)
{
	(void)state;
	SIZE(struct sev_issue_cmd, 16);
	AT(struct sev_issue_cmd, cmd, 0);
	AT(struct sev_issue_cmd, data, 4);
	AT(struct sev_issue_cmd, error, 12);

	SIZE(struct sev_user_data_status, 12);
	AT(struct sev_user_data_status, api_major, 0);
	AT(struct sev_user_data_status, api_minor, 1);
	AT(struct sev_user_data_status, state, 2);
	AT(struct sev_user_data_status, flags, 3);
	AT(struct sev_user_data_status, build, 7);
	AT(struct sev_user_data_status, guest_count, 8);

	SIZE(struct sev_user_data_pdh_cert_export, 24);
	AT(struct sev_user_data_pdh_cert_export, pdh_cert_address, 0);
	AT(struct sev_user_data_pdh_cert_export, pdh_cert_len, 8);
	AT(struct sev_user_data_pdh_cert_export, cert_chain_address, 12);
	AT(struct sev_user_data_pdh_cert_export, cert_chain_len, 20);

	SIZE(struct sev_user_data_get_id2, 12);
	AT(struct sev_user_data_get_id2, address, 0);
	AT(struct sev_user_data_get_id2, length, 8);

	/* The public flags are the kernel's bits. */
	assert_int_equal(SEVMIG_PLATFORM_FLAG_ES, SEV_STATUS_FLAGS_CONFIG_ES);
}

static void test_kvm_run_fields(void **state)
{
	(void)state;
	AT(struct kvm_run, exit_reason, 8);
	AT(struct kvm_run, hypercall, 32);
	AT(struct kvm_run, hypercall.nr, 32);
	AT(struct kvm_run, hypercall.args, 40);
	AT(struct kvm_run, hypercall.ret, 88);
	AT(struct kvm_run, hypercall.longmode, 96);
	AT(struct kvm_run, msr.error, 32);
	AT(struct kvm_run, msr.reason, 40);
	AT(struct kvm_run, msr.index, 44);
	AT(struct kvm_run, msr.data, 48);
	assert_int_equal(KVM_EXIT_HYPERCALL, 3);
	assert_int_equal(KVM_EXIT_X86_RDMSR, 29);
	assert_int_equal(KVM_EXIT_X86_WRMSR, 30);

	SIZE(struct kvm_msr_filter_range, 24);
	AT(struct kvm_msr_filter_range, base, 8);
	AT(struct kvm_msr_filter_range, bitmap, 16);
	SIZE(struct kvm_msr_filter, 8 + 16 * 24);
}

static void test_ioctl_numbers(void **state)
{
	(void)state;
	assert_int_equal(KVM_MEMORY_ENCRYPT_OP, 0xc008aeba);
	assert_int_equal(KVM_MEMORY_ENCRYPT_REG_REGION, 0x8010aebb);
	assert_int_equal(KVM_MEMORY_ENCRYPT_UNREG_REGION, 0x8010aebc);
	assert_int_equal(KVM_ENABLE_CAP, 0x4068aea3);
	assert_int_equal(KVM_X86_SET_MSR_FILTER, 0x4188aec6);
	assert_int_equal(SEV_ISSUE_CMD, 0xc0105300);
	assert_int_equal(KVM_CAP_X86_USER_SPACE_MSR, 188);
	assert_int_equal(KVM_CAP_X86_MSR_FILTER, 189);
	assert_int_equal(KVM_CAP_VM_COPY_ENC_CONTEXT_FROM, 197);
	assert_int_equal(KVM_CAP_EXIT_HYPERCALL, 201);
	assert_int_equal(KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM, 206);

	assert_int_equal(KVM_SEV_SEND_START, 8);
	assert_int_equal(KVM_SEV_SEND_UPDATE_DATA, 9);
	assert_int_equal(KVM_SEV_SEND_UPDATE_VMSA, 10);
	assert_int_equal(KVM_SEV_SEND_FINISH, 11);
	assert_int_equal(KVM_SEV_RECEIVE_START, 12);
	assert_int_equal(KVM_SEV_RECEIVE_UPDATE_DATA, 13);
	assert_int_equal(KVM_SEV_RECEIVE_UPDATE_VMSA, 14);
	assert_int_equal(KVM_SEV_RECEIVE_FINISH, 15);
	assert_int_equal(KVM_SEV_GUEST_STATUS, 16);
	assert_int_equal(KVM_SEV_DBG_DECRYPT, 17);
	assert_int_equal(KVM_SEV_DBG_ENCRYPT, 18);
	assert_int_equal(KVM_SEV_SEND_CANCEL, 21);
	assert_int_equal(SEV_PLATFORM_STATUS, 1);
	assert_int_equal(SEV_PDH_CERT_EXPORT, 5);
	assert_int_equal(SEV_GET_ID2, 8);
}

/* sev-facts 3.1 and 3.2: the series' structs and numbers. */
static void test_series_layouts(void **state)
{
	(void)state;
	SIZE(struct sevmig__kvm_page_enc_bitmap, 24);
	AT(struct sevmig__kvm_page_enc_bitmap, start_gfn, 0);
	AT(struct sevmig__kvm_page_enc_bitmap, num_pages, 8);
	AT(struct sevmig__kvm_page_enc_bitmap, enc_bitmap, 16);
	AT(struct sevmig__kvm_page_enc_bitmap, padding2, 16);
	SIZE(struct sevmig__kvm_shared_pages_list, 24);
	AT(struct sevmig__kvm_shared_pages_list, pnents, 0);
	AT(struct sevmig__kvm_shared_pages_list, buffer, 8);
	AT(struct sevmig__kvm_shared_pages_list, size, 16);
	assert_int_equal(SEVMIG_REGION_ENTRY_SIZE, 2 * sizeof(unsigned long));

	assert_int_equal(SEVMIG__KVM_GET_PAGE_ENC_BITMAP_2019, 0x4018aec2);
	assert_int_equal(SEVMIG__KVM_SET_PAGE_ENC_BITMAP_2019, 0x4018aec3);
	assert_int_equal(SEVMIG__KVM_GET_PAGE_ENC_BITMAP_V6, 0x4018aec5);
	assert_int_equal(SEVMIG__KVM_SET_PAGE_ENC_BITMAP_V6, 0x4018aec6);
	assert_int_equal(SEVMIG__KVM_GET_SHARED_PAGES_LIST, 0x4018aec8);
	assert_int_equal(SEVMIG__KVM_SET_SHARED_PAGES_LIST, 0x4018aec9);
}

/*
 * The series' numbers share their ioctl nr with mainline ioctls; the full
 * numbers (direction and size included) must still differ, or a probe on a
 * stock kernel would run the mainline ioctl on our struct.
 */
static void test_series_numbers_differ_from_mainline(void **state)
{
	(void)state;
	const unsigned long series[] = {
		SEVMIG__KVM_GET_PAGE_ENC_BITMAP_2019, SEVMIG__KVM_SET_PAGE_ENC_BITMAP_2019,
		SEVMIG__KVM_GET_PAGE_ENC_BITMAP_V6,   SEVMIG__KVM_SET_PAGE_ENC_BITMAP_V6,
		SEVMIG__KVM_GET_SHARED_PAGES_LIST,    SEVMIG__KVM_SET_SHARED_PAGES_LIST,
	};
	const unsigned long mainline[] = {
		KVM_X86_SET_MSR_FILTER, KVM_RESET_DIRTY_RINGS, KVM_XEN_HVM_GET_ATTR,
		KVM_XEN_HVM_SET_ATTR,	KVM_S390_PV_COMMAND,   KVM_S390_NORMAL_RESET,
		KVM_S390_CLEAR_RESET,	KVM_MEMORY_ENCRYPT_OP, KVM_ENABLE_CAP,
	};
	for (size_t i = 0; i < sizeof(series) / sizeof(series[0]); i++)
		for (size_t j = 0; j < sizeof(mainline) / sizeof(mainline[0]); j++)
			assert_true(series[i] != mainline[j]);
}

static void test_public_copies(void **state)
{
	(void)state;
	assert_int_equal(SEVMIG_KVM_HC_MAP_GPA_RANGE, KVM_HC_MAP_GPA_RANGE);
	assert_int_equal(SEVMIG_KVM_MAP_GPA_RANGE_ENCRYPTED, KVM_MAP_GPA_RANGE_ENCRYPTED);
	assert_int_equal(SEVMIG_KVM_MSR_MIGRATION_CONTROL, MSR_KVM_MIGRATION_CONTROL);
	assert_int_equal(SEVMIG_KVM_MIGRATION_READY, KVM_MIGRATION_READY);
	assert_int_equal(SEVMIG_KVM_FEATURE_HC_MAP_GPA_RANGE, KVM_FEATURE_HC_MAP_GPA_RANGE);
	assert_int_equal(SEVMIG_KVM_FEATURE_MIGRATION_CONTROL, KVM_FEATURE_MIGRATION_CONTROL);
	assert_int_equal(SEVMIG_KVM_EINVAL, KVM_EINVAL);
	assert_int_equal(SEVMIG_KVM_EFAULT, KVM_EFAULT);
	/* fw.h's limits are the kernel's and the firmware's */
	assert_int_equal(SEVMIG_PACKET_HDR_SIZE, 0x34);
	assert_int_equal(SEVMIG__KVM_BLOB_MAX, 0x4000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guest_command_structs),
		cmocka_unit_test(test_platform_structs),
		cmocka_unit_test(test_kvm_run_fields),
		cmocka_unit_test(test_ioctl_numbers),
		cmocka_unit_test(test_series_layouts),
		cmocka_unit_test(test_series_numbers_differ_from_mainline),
		cmocka_unit_test(test_public_copies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
