/* SPDX-License-Identifier: MIT */
/*
 * The KVM backend's firmware commands against a scripted kernel: the exact
 * structs handed to KVM_MEMORY_ENCRYPT_OP and SEV_ISSUE_CMD, the length
 * queries, the answers turned into results, statuses and messages, EINTR,
 * and the arguments refused before any ioctl.
 */
#if !defined(__x86_64__)
#include <stdio.h>
int main(void)
{
	puts("skipped: SEV, and so this program, exists on x86-64 only");
	return 77;
}
#else
#include "test_kvm_double.h"

#include <sevmig/stream.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static uint8_t pdh[SEVMIG_CERT_SIZE], chain[SEVMIG_CERT_CHAIN_SIZE], amd[0x640];
static uint8_t session[256];
static _Alignas(4096) uint8_t page[2 * 4096];

static struct sevmig_fw_send_start send_start_params(void)
{
	struct sevmig_fw_send_start p = {
		.pdh_cert = pdh,
		.pdh_cert_len = sizeof(pdh),
		.plat_certs = chain,
		.plat_certs_len = sizeof(chain),
		.amd_certs = amd,
		.amd_certs_len = sizeof(amd),
		.session = session,
		.session_len = sizeof(session),
	};
	return p;
}

/* ---- opening ------------------------------------------------------------------ */

static void test_open(void **state)
{
	(void)state;
	struct sevmig_fw *fw = NULL;
	struct sevmig_error err;
	struct {
		struct sevmig_fw_kvm_opts o;
		uint64_t future;
	} big = { .o = { .sz = sizeof(big) }, .future = 1 };
	sevmig_error_clear(&err);
	assert_int_equal(sevmig_fw_kvm_open(3, -1, &big.o, &fw, &err), -EINVAL);
	assert_null(fw);
	assert_non_null(strstr(err.message, "does not know"));
	big.future = 0; /* a zero tail is fine */
	assert_int_equal(sevmig_fw_kvm_open(3, -1, &big.o, &fw, &err), 0);
	assert_true(sevmig_fw_is_kvm(fw));
	assert_string_equal(sevmig_fw_backend_name(fw), "kvm");
	assert_int_equal(sevmig_fw_max_threads(fw), 1);
	sevmig_fw_free(fw);

	SEVMIG_OPTS(sevmig_fw_kvm_opts, o1, .series_get_request = 0x1234);
	assert_int_equal(sevmig_fw_kvm_open(3, -1, &o1, &fw, &err), -EINVAL);
	assert_non_null(strstr(err.message, "without naming the series"));
	SEVMIG_OPTS(sevmig_fw_kvm_opts, o2, .series = (enum sevmig_kvm_series)9);
	assert_int_equal(sevmig_fw_kvm_open(3, -1, &o2, &fw, &err), -EINVAL);
	assert_int_equal(sevmig_fw_kvm_open(-2, -1, NULL, &fw, &err), -EINVAL);
	assert_int_equal(sevmig_fw_kvm_open(3, -1, NULL, NULL, &err), -EINVAL);

	/* no /dev/sev: the host has no SEV */
	assert_int_equal(sevmig_fw_kvm_open_path(3, "/nonexistent/sev", NULL, &fw, &err),
			 -EOPNOTSUPP);
	assert_non_null(strstr(err.message, "SEV is not available on this host"));
	assert_null(fw);
	/* a path that opens: the handle owns the fd */
	assert_int_equal(sevmig_fw_kvm_open_path(-1, "/dev/null", NULL, &fw, &err), 0);
	sevmig_fw_free(fw);
	sevmig_fw_free(NULL);
	assert_false(sevmig_fw_is_kvm(NULL));
}

/* ---- SEND_START ------------------------------------------------------------------ */

static struct kvm_sev_send_start zero_start, query_reply = { .session_len = 0x80 };

static void fill_session(void *data, void *ctx)
{
	struct kvm_sev_send_start *d = data;
	(void)ctx;
	memset((void *)(uintptr_t)d->session_uaddr, 0xab, d->session_len);
	d->policy = 0x00050001;
}

static void test_send_start(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, KD_SEV_FD, SEVMIG_KVM_SERIES_NONE);
	uint32_t st;

	/* sizes only: one all-zero query, INVALID_LENGTH counts as success */
	struct sevmig_fw_send_start q = { 0 };
	kd_reply(kd_sev(&kd, KVM_SEV_SEND_START, &zero_start, sizeof(zero_start), -EIO,
			SEVMIG_FW_INVALID_LENGTH),
		 &query_reply, sizeof(query_reply));
	assert_int_equal(sevmig_fw_send_start(fw, &q, &st), 0);
	assert_int_equal(q.session_len, 0x80);
	assert_int_equal(st, SEVMIG_FW_SUCCESS);
	kd_done(&kd);

	/* the whole command: query, then exactly these fields */
	struct sevmig_fw_send_start p = send_start_params();
	struct kvm_sev_send_start want;
	memset(&want, 0, sizeof(want)); /* the padding too */
	want.pdh_cert_uaddr = (uintptr_t)pdh;
	want.pdh_cert_len = sizeof(pdh);
	want.plat_certs_uaddr = (uintptr_t)chain;
	want.plat_certs_len = sizeof(chain);
	want.amd_certs_uaddr = (uintptr_t)amd;
	want.amd_certs_len = sizeof(amd);
	want.session_uaddr = (uintptr_t)session;
	want.session_len = 0x80;
	kd_reply(kd_sev(&kd, KVM_SEV_SEND_START, &zero_start, sizeof(zero_start), -EIO,
			SEVMIG_FW_INVALID_LENGTH),
		 &query_reply, sizeof(query_reply));
	kd_sev(&kd, KVM_SEV_SEND_START, &want, sizeof(want), 0, 0)->effect = fill_session;
	memset(session, 0, sizeof(session));
	assert_int_equal(sevmig_fw_send_start(fw, &p, &st), 0);
	assert_int_equal(st, SEVMIG_FW_SUCCESS);
	assert_int_equal(p.session_len, 0x80);
	assert_int_equal(p.policy, 0x00050001);
	assert_int_equal(session[0], 0xab);
	assert_int_equal(session[0x7f], 0xab);
	assert_int_equal(session[0x80], 0);
	kd_done(&kd);

	/* a kernel that answers the query with 0 is fine too */
	kd_reply(kd_sev(&kd, KVM_SEV_SEND_START, &zero_start, sizeof(zero_start), 0, 0),
		 &query_reply, sizeof(query_reply));
	kd_sev(&kd, KVM_SEV_SEND_START, &want, sizeof(want), 0, 0);
	p = send_start_params();
	assert_int_equal(sevmig_fw_send_start(fw, &p, &st), 0);
	kd_done(&kd);

	/* a short session buffer: -ENOSPC with the size, no second call */
	p = send_start_params();
	p.session_len = 0x40;
	kd_reply(kd_sev(&kd, KVM_SEV_SEND_START, &zero_start, sizeof(zero_start), -EIO,
			SEVMIG_FW_INVALID_LENGTH),
		 &query_reply, sizeof(query_reply));
	assert_int_equal(sevmig_fw_send_start(fw, &p, &st), -ENOSPC);
	assert_int_equal(p.session_len, 0x80);
	KD_MSG_HAS(fw, "holds 64 bytes");
	kd_done(&kd);

	/* the firmware refuses the command itself */
	p = send_start_params();
	kd_reply(kd_sev(&kd, KVM_SEV_SEND_START, &zero_start, sizeof(zero_start), -EIO,
			SEVMIG_FW_INVALID_LENGTH),
		 &query_reply, sizeof(query_reply));
	kd_sev(&kd, KVM_SEV_SEND_START, &want, sizeof(want), -EIO, SEVMIG_FW_POLICY_FAILURE);
	assert_int_equal(sevmig_fw_send_start(fw, &p, &st), -EIO);
	assert_int_equal(st, SEVMIG_FW_POLICY_FAILURE);
	KD_MSG_HAS(fw, "POLICY_FAILURE");
	KD_MSG_HAS(fw, "SEND_START");
	kd_done(&kd);

	/* ... or the query, with another status than INVALID_LENGTH */
	p = send_start_params();
	kd_sev(&kd, KVM_SEV_SEND_START, &zero_start, sizeof(zero_start), -EIO,
	       SEVMIG_FW_INVALID_GUEST_STATE);
	assert_int_equal(sevmig_fw_send_start(fw, &p, &st), -EIO);
	assert_int_equal(st, SEVMIG_FW_INVALID_GUEST_STATE);
	KD_MSG_HAS(fw, "length query");
	kd_done(&kd);

	/* a session size the kernel could not pass */
	static const struct kvm_sev_send_start huge = { .session_len = 0x5000 };
	kd_reply(kd_sev(&kd, KVM_SEV_SEND_START, &zero_start, sizeof(zero_start), -EIO,
			SEVMIG_FW_INVALID_LENGTH),
		 &huge, sizeof(huge));
	assert_int_equal(sevmig_fw_send_start(fw, &p, &st), -EPROTO);
	kd_done(&kd);

	/* the kernel claims a longer blob than the buffer it was given */
	static const struct kvm_sev_send_start longer = { .session_len = 0x100 };
	p = send_start_params();
	kd_reply(kd_sev(&kd, KVM_SEV_SEND_START, &zero_start, sizeof(zero_start), -EIO,
			SEVMIG_FW_INVALID_LENGTH),
		 &query_reply, sizeof(query_reply));
	kd_reply(kd_sev(&kd, KVM_SEV_SEND_START, &want, sizeof(want), 0, 0), &longer,
		 sizeof(longer));
	assert_int_equal(sevmig_fw_send_start(fw, &p, &st), -EPROTO);
	kd_done(&kd);

	/* EINTR: the same call again */
	p = send_start_params();
	kd_sev(&kd, KVM_SEV_SEND_START, &zero_start, sizeof(zero_start), -EINTR, 0);
	kd_reply(kd_sev(&kd, KVM_SEV_SEND_START, &zero_start, sizeof(zero_start), -EIO,
			SEVMIG_FW_INVALID_LENGTH),
		 &query_reply, sizeof(query_reply));
	kd_sev(&kd, KVM_SEV_SEND_START, &want, sizeof(want), -EINTR, 0);
	kd_sev(&kd, KVM_SEV_SEND_START, &want, sizeof(want), 0, 0);
	assert_int_equal(sevmig_fw_send_start(fw, &p, &st), 0);
	kd_done(&kd);
	sevmig_fw_free(fw);
}

static void test_send_start_refused_before_ioctl(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, KD_SEV_FD, SEVMIG_KVM_SERIES_NONE);
	uint32_t st = 0;
	static uint8_t big[0x4001];

	struct sevmig_fw_send_start p = send_start_params();
	p.plat_certs = NULL;
	assert_int_equal(sevmig_fw_send_start(fw, &p, &st), -EINVAL);
	assert_int_equal(st, SEVMIG_FW_STATUS_NONE);
	KD_MSG_HAS(fw, "platform certificate chain is missing; KVM requires it");

	p = send_start_params();
	p.amd_certs_len = 0;
	assert_int_equal(sevmig_fw_send_start(fw, &p, &st), -EINVAL);
	KD_MSG_HAS(fw, "AMD certificate chain");

	p = send_start_params();
	p.pdh_cert = big;
	p.pdh_cert_len = sizeof(big);
	assert_int_equal(sevmig_fw_send_start(fw, &p, &st), -EINVAL);
	KD_MSG_HAS(fw, "16385 bytes; KVM copies at most 16384 (SEV_FW_BLOB_MAX_SIZE)");

	p = send_start_params();
	p.pdh_cert = NULL; /* fw.c's own check */
	assert_int_equal(sevmig_fw_send_start(fw, &p, &st), -EINVAL);
	assert_int_equal(sevmig_fw_send_start(fw, NULL, &st), -EINVAL);
	kd_done(&kd); /* no ioctl at all */
	sevmig_fw_free(fw);
}

/* ---- no SEV, and the kernel's errors -------------------------------------------- */

static void test_no_sev(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_NONE);
	uint32_t st;
	struct sevmig_fw_guest_status gs;

	/* KVM without SEV: ENOTTY, and the NULL probe says ENOTTY too */
	static const struct kvm_sev_guest_status zero_gs;
	kd_sev(&kd, KVM_SEV_GUEST_STATUS, &zero_gs, sizeof(zero_gs), -ENOTTY, 0);
	kd_sev(&kd, KD_NO_ID, NULL, 0, -ENOTTY, 0);
	assert_int_equal(sevmig_fw_guest_status(fw, &gs, &st), -EOPNOTSUPP);
	assert_int_equal(st, SEVMIG_FW_STATUS_NONE);
	KD_MSG_HAS(fw, "SEV is not available on this host");
	kd_done(&kd);

	/* SEV in KVM, but this VM is not an SEV guest */
	kd_sev(&kd, KVM_SEV_GUEST_STATUS, &zero_gs, sizeof(zero_gs), -ENOTTY, 0);
	kd_sev(&kd, KD_NO_ID, NULL, 0, 0, 0);
	assert_int_equal(sevmig_fw_guest_status(fw, &gs, &st), -EOPNOTSUPP);
	KD_MSG_HAS(fw, "not an SEV guest");
	kd_done(&kd);

	/* no /dev/sev: platform commands and RECEIVE_START never reach the kernel */
	struct sevmig_fw_platform_status ps;
	assert_int_equal(sevmig_fw_platform_status(fw, &ps, &st), -EOPNOTSUPP);
	KD_MSG_HAS(fw, "SEV is not available on this host");
	uint32_t a = 0, b = 0;
	assert_int_equal(sevmig_fw_pdh_cert_export(fw, NULL, &a, NULL, &b, &st), -EOPNOTSUPP);
	assert_int_equal(sevmig_fw_get_id(fw, NULL, &a, &st), -EOPNOTSUPP);
	struct sevmig_fw_receive_start rs = { .pdh_cert = pdh,
					      .pdh_cert_len = sizeof(pdh),
					      .session = session,
					      .session_len = 0x80 };
	assert_int_equal(sevmig_fw_receive_start(fw, &rs, &st), -EOPNOTSUPP);
	KD_MSG_HAS(fw, "RECEIVE_START");
	kd_done(&kd);
	sevmig_fw_free(fw);
}

static void test_errno_mapping(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, KD_SEV_FD, SEVMIG_KVM_SERIES_NONE);
	uint32_t st;
	static const struct {
		int rc;
		int want;
		const char *says;
	} cases[] = {
		{ -ETIMEDOUT, -ETIMEDOUT, "did not answer in time" },
		{ -EBADF, -EBADF, "bad file descriptor" },
		{ -EINVAL, -EINVAL, "KVM refused the command (EINVAL)" },
		{ -EFAULT, -EFAULT, "could not read or write" },
		{ -EPERM, -EPERM, "SNP" },
		{ -ENOMEM, -ENOMEM, "out of memory" },
		{ -ENODEV, -EOPNOTSUPP, "SEV is not available" },
		{ -524, -EOPNOTSUPP, "ENOTSUPP" },
		{ -EIO, -EIO, "without a firmware status" },
		{ -EBUSY, -EBUSY, "Device or resource busy" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kd_sev(&kd, KVM_SEV_SEND_FINISH, NULL, 0, cases[i].rc, 0);
		assert_int_equal(sevmig_fw_send_finish(fw, &st), cases[i].want);
		assert_int_equal(st, SEVMIG_FW_STATUS_NONE);
		KD_MSG_HAS(fw, cases[i].says);
		KD_MSG_HAS(fw, "SEND_FINISH");
		kd_done(&kd);
	}
	sevmig_fw_free(fw);
}

/* The EINTR cap, with a function that always says EINTR. */
static int always_eintr(void *arg, int fd, unsigned long req, void *data)
{
	(void)fd;
	(void)req;
	(void)data;
	(*(int *)arg)++;
	return -EINTR;
}

static void test_eintr_forever(void **state)
{
	(void)state;
	int calls = 0;
	SEVMIG_OPTS(sevmig_fw_kvm_opts, o, .ioctl = always_eintr, .ioctl_arg = &calls);
	struct sevmig_fw *fw;
	assert_int_equal(sevmig_fw_kvm_open(KD_VM_FD, -1, &o, &fw, NULL), 0);
	uint32_t st;
	assert_int_equal(sevmig_fw_send_cancel(fw, &st), -EINTR);
	assert_int_equal(calls, 1000);
	KD_MSG_HAS(fw, "interrupted by signals 1000 times");
	sevmig_fw_free(fw);
}

static void test_finish_cancel(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, KD_SEV_FD, SEVMIG_KVM_SERIES_NONE);
	uint32_t st;
	kd_sev(&kd, KVM_SEV_SEND_FINISH, NULL, 0, 0, 0);
	kd_sev(&kd, KVM_SEV_SEND_CANCEL, NULL, 0, 0, 0);
	kd_sev(&kd, KVM_SEV_RECEIVE_FINISH, NULL, 0, -EIO, SEVMIG_FW_INVALID_GUEST_STATE);
	assert_int_equal(sevmig_fw_send_finish(fw, &st), 0);
	assert_int_equal(st, SEVMIG_FW_SUCCESS);
	assert_int_equal(sevmig_fw_send_cancel(fw, NULL), 0);
	assert_int_equal(sevmig_fw_receive_finish(fw, &st), -EIO);
	assert_int_equal(st, SEVMIG_FW_INVALID_GUEST_STATE);
	KD_MSG_HAS(fw, "RECEIVE_FINISH: the firmware refused the command");
	KD_MSG_HAS(fw, "(firmware status 0x2 INVALID_GUEST_STATE)");
	kd_done(&kd);
	sevmig_fw_free(fw);
}

/* ---- SEND_UPDATE_DATA ------------------------------------------------------------- */

/* SEND_UPDATE_DATA parameters for one whole page of `page`. */
static struct sevmig_fw_send_update page_update(uint8_t *hdr, uint32_t hdr_len, uint8_t *trans,
						uint32_t trans_len)
{
	struct sevmig_fw_send_update p = { .guest = page,
					   .guest_len = 4096,
					   .hdr = hdr,
					   .hdr_len = hdr_len,
					   .trans = trans,
					   .trans_len = trans_len };
	return p;
}

static struct kvm_sev_send_update_data zero_upd, hdr_reply = { .hdr_len = 0x34 };

static void fill_packet(void *data, void *ctx)
{
	struct kvm_sev_send_update_data *d = data;
	(void)ctx;
	memset((void *)(uintptr_t)d->hdr_uaddr, 0x11, d->hdr_len);
	memset((void *)(uintptr_t)d->trans_uaddr, 0x22, d->trans_len);
}

static void test_send_update_data(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, KD_SEV_FD, SEVMIG_KVM_SERIES_NONE);
	uint32_t st;
	uint8_t hdr[64], trans[4096];

	/* refused before anything: the rules the kernel and firmware apply */
	struct sevmig_fw_send_update p = {
		.guest = page + 4096 - 32,
		.guest_len = 64,
		.hdr = hdr,
		.hdr_len = 64,
		.trans = trans,
		.trans_len = 4096,
	};
	assert_int_equal(sevmig_fw_send_update_data(fw, &p, &st), -EINVAL);
	KD_MSG_HAS(fw, "crosses a 4 KiB page");
	p.guest = page;
	p.guest_len = 40;
	assert_int_equal(sevmig_fw_send_update_data(fw, &p, &st), -EINVAL);
	KD_MSG_HAS(fw, "not a multiple of 16");
	p.guest = page + 8;
	p.guest_len = 32;
	assert_int_equal(sevmig_fw_send_update_data(fw, &p, &st), -EINVAL);
	KD_MSG_HAS(fw, "not 16-byte aligned");
	p.guest = page;
	p.guest_len = 0;
	assert_int_equal(sevmig_fw_send_update_data(fw, &p, &st), -EINVAL);
	p.guest_len = 8192;
	assert_int_equal(sevmig_fw_send_update_data(fw, &p, &st), -EINVAL);
	kd_done(&kd);

	/* sizes only: the zero-length query, answered once per handle */
	struct sevmig_fw_send_update q = { .guest_len = 4096 };
	kd_reply(kd_sev(&kd, KVM_SEV_SEND_UPDATE_DATA, &zero_upd, sizeof(zero_upd), -EIO,
			SEVMIG_FW_INVALID_LENGTH),
		 &hdr_reply, sizeof(hdr_reply));
	assert_int_equal(sevmig_fw_send_update_data(fw, &q, &st), 0);
	assert_int_equal(st, SEVMIG_FW_SUCCESS);
	assert_int_equal(q.hdr_len, 0x34);
	assert_int_equal(q.trans_len, 4096);
	kd_done(&kd);

	/* a page: no second query, exactly these fields */
	p = page_update(hdr, sizeof(hdr), trans, sizeof(trans));
	struct kvm_sev_send_update_data want;
	memset(&want, 0, sizeof(want)); /* the padding too */
	want.hdr_uaddr = (uintptr_t)hdr;
	want.hdr_len = 0x34;
	want.guest_uaddr = (uintptr_t)page;
	want.guest_len = 4096;
	want.trans_uaddr = (uintptr_t)trans;
	want.trans_len = 4096;
	kd_sev(&kd, KVM_SEV_SEND_UPDATE_DATA, &want, sizeof(want), 0, 0)->effect = fill_packet;
	memset(hdr, 0, sizeof(hdr));
	assert_int_equal(sevmig_fw_send_update_data(fw, &p, &st), 0);
	assert_int_equal(p.hdr_len, 0x34);
	assert_int_equal(p.trans_len, 4096);
	assert_int_equal(hdr[0x33], 0x11);
	assert_int_equal(hdr[0x34], 0);
	assert_int_equal(trans[4095], 0x22);
	kd_done(&kd);

	/* part of a page */
	p = (struct sevmig_fw_send_update){ .guest = page + 0x100,
					    .guest_len = 0x40,
					    .hdr = hdr,
					    .hdr_len = 0x34,
					    .trans = trans,
					    .trans_len = 0x40 };
	want.guest_uaddr = (uintptr_t)(page + 0x100);
	want.guest_len = want.trans_len = 0x40;
	kd_sev(&kd, KVM_SEV_SEND_UPDATE_DATA, &want, sizeof(want), -EIO, SEVMIG_FW_INACTIVE);
	assert_int_equal(sevmig_fw_send_update_data(fw, &p, &st), -EIO);
	assert_int_equal(st, SEVMIG_FW_INACTIVE);
	kd_done(&kd);

	/* short buffers: nothing issued, the sizes said */
	p = page_update(hdr, 0x20, trans, 4096);
	assert_int_equal(sevmig_fw_send_update_data(fw, &p, &st), -ENOSPC);
	assert_int_equal(p.hdr_len, 0x34);
	p.hdr_len = 0x34;
	p.trans_len = 100;
	assert_int_equal(sevmig_fw_send_update_data(fw, &p, &st), -ENOSPC);
	assert_int_equal(p.trans_len, 4096);
	kd_done(&kd);
	sevmig_fw_free(fw);

	/* a query that fails is reported as the query */
	fw = kd_open(&kd, KD_SEV_FD, SEVMIG_KVM_SERIES_NONE);
	p = page_update(hdr, 0x34, trans, 4096);
	kd_sev(&kd, KVM_SEV_SEND_UPDATE_DATA, &zero_upd, sizeof(zero_upd), -EFAULT, 0);
	assert_int_equal(sevmig_fw_send_update_data(fw, &p, &st), -EFAULT);
	KD_MSG_HAS(fw, "SEND_UPDATE_DATA (length query)");
	kd_done(&kd);
	sevmig_fw_free(fw);
}

static void test_vmsa_not_upstream(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, KD_SEV_FD, SEVMIG_KVM_SERIES_NONE);
	uint32_t st;
	uint8_t hdr[0x34], trans[4096];
	struct sevmig_fw_send_update p = {
		.guest_len = 4096, .hdr = hdr, .hdr_len = 0x34, .trans = trans, .trans_len = 4096
	};
	assert_int_equal(sevmig_fw_send_update_vmsa(fw, 0, &p, &st), -EOPNOTSUPP);
	KD_MSG_HAS(fw, "mainline KVM has no path");
	struct sevmig_fw_receive_update r = { .guest = page,
					      .guest_len = 4096,
					      .hdr = hdr,
					      .hdr_len = 0x34,
					      .trans = trans,
					      .trans_len = 4096 };
	assert_int_equal(sevmig_fw_receive_update_vmsa(fw, 1, &r, &st), -EOPNOTSUPP);
	KD_MSG_HAS(fw, "RECEIVE_UPDATE_VMSA");
	kd_done(&kd);
	sevmig_fw_free(fw);
}

/* ---- the target side -------------------------------------------------------------- */

static void test_receive(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, KD_SEV_FD, SEVMIG_KVM_SERIES_NONE);
	uint32_t st;

	struct sevmig_fw_receive_start rs = { .policy = 0x1,
					      .pdh_cert = pdh,
					      .pdh_cert_len = sizeof(pdh),
					      .session = session,
					      .session_len = 0x80 };
	struct kvm_sev_receive_start want;
	memset(&want, 0, sizeof(want)); /* the padding too */
	want.policy = 0x1;
	want.pdh_uaddr = (uintptr_t)pdh;
	want.pdh_len = sizeof(pdh);
	want.session_uaddr = (uintptr_t)session;
	want.session_len = 0x80;
	static const struct kvm_sev_receive_start handle = { .handle = 7 };
	kd_reply(kd_sev(&kd, KVM_SEV_RECEIVE_START, &want, sizeof(want), 0, 0), &handle,
		 sizeof(handle));
	assert_int_equal(sevmig_fw_receive_start(fw, &rs, &st), 0);
	assert_int_equal(rs.handle, 7);
	kd_done(&kd);

	static uint8_t big[0x4001];
	rs.session = big;
	rs.session_len = sizeof(big);
	assert_int_equal(sevmig_fw_receive_start(fw, &rs, &st), -EINVAL);
	KD_MSG_HAS(fw, "SEV_FW_BLOB_MAX_SIZE");
	kd_done(&kd);

	uint8_t hdr[0x40], trans[4096];
	struct sevmig_fw_receive_update ru = { .guest = page + 4096,
					       .guest_len = 4096,
					       .hdr = hdr,
					       .hdr_len = 0x34,
					       .trans = trans,
					       .trans_len = 4096 };
	struct kvm_sev_receive_update_data wu;
	memset(&wu, 0, sizeof(wu)); /* the padding too */
	wu.hdr_uaddr = (uintptr_t)hdr;
	wu.hdr_len = 0x34;
	wu.guest_uaddr = (uintptr_t)(page + 4096);
	wu.guest_len = 4096;
	wu.trans_uaddr = (uintptr_t)trans;
	wu.trans_len = 4096;
	kd_sev(&kd, KVM_SEV_RECEIVE_UPDATE_DATA, &wu, sizeof(wu), 0, 0);
	kd_sev(&kd, KVM_SEV_RECEIVE_UPDATE_DATA, &wu, sizeof(wu), -EIO, SEVMIG_FW_BAD_MEASUREMENT);
	assert_int_equal(sevmig_fw_receive_update_data(fw, &ru, &st), 0);
	assert_int_equal(sevmig_fw_receive_update_data(fw, &ru, &st), -EIO);
	assert_int_equal(st, SEVMIG_FW_BAD_MEASUREMENT);
	KD_MSG_HAS(fw, "BAD_MEASUREMENT");
	kd_done(&kd);

	/* refused before the ioctl */
	struct sevmig_fw_receive_update bad = ru;
	bad.trans_len = 2048;
	assert_int_equal(sevmig_fw_receive_update_data(fw, &bad, &st), -EINVAL);
	KD_MSG_HAS(fw, "trans_len 2048 differs from guest_len 4096");
	bad = ru;
	bad.hdr_len = 0x30;
	assert_int_equal(sevmig_fw_receive_update_data(fw, &bad, &st), -EINVAL);
	KD_MSG_HAS(fw, "shorter than a packet header");
	bad = ru;
	bad.guest = page + 16;
	assert_int_equal(sevmig_fw_receive_update_data(fw, &bad, &st), -EINVAL);
	KD_MSG_HAS(fw, "crosses a 4 KiB page");
	bad = ru;
	bad.hdr = NULL; /* fw.c */
	assert_int_equal(sevmig_fw_receive_update_data(fw, &bad, &st), -EINVAL);
	kd_done(&kd);
	sevmig_fw_free(fw);
}

/* ---- status, debug, platform ------------------------------------------------------ */

/* RECEIVE_UPDATE_DATA on KVM writes the guest's own pages: a receiver
 * that would redirect them (page_write) is refused before any ioctl. */
static int never_write(void *arg, size_t region, uint64_t offset, const void *data, size_t len)
{
	(void)arg, (void)region, (void)offset, (void)data, (void)len;
	fail_msg("page_write called");
	return -EIO;
}

static ptrdiff_t never_read(void *arg, void *buf, size_t len)
{
	(void)arg, (void)buf, (void)len;
	fail_msg("read called");
	return -EIO;
}

static void test_receiver_page_write_refused(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, KD_SEV_FD, SEVMIG_KVM_SERIES_NONE);
	static const uint8_t key[SEVMIG_KEY_SIZE] = { 1 };
	struct sevmig_mem_region reg = { .gpa = 0, .size = 1 << 20 };
	SEVMIG_OPTS(sevmig_receiver_opts, ro, .key_source = SEVMIG_KEY_PSK, .key = key,
		    .page_write = never_write);
	struct sevmig_receiver *r = NULL;
	struct sevmig_error err;
	size_t at = kd.at;
	assert_int_equal(sevmig_receiver_new(fw, &reg, 1, never_read, NULL, &ro, &r, &err),
			 -EINVAL);
	assert_null(r);
	assert_non_null(strstr(err.message, "kvm backend writes the guest's own pages"));
	assert_int_equal(kd.at, at);
	sevmig_fw_free(fw);
}

static void test_status_and_debug(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, KD_SEV_FD, SEVMIG_KVM_SERIES_NONE);
	uint32_t st;

	static const struct kvm_sev_guest_status zero_gs;
	static const struct kvm_sev_guest_status gs_reply = { .handle = 3,
							      .policy = 0x5,
							      .state = SEVMIG_GUEST_SUPDATE };
	kd_reply(kd_sev(&kd, KVM_SEV_GUEST_STATUS, &zero_gs, sizeof(zero_gs), 0, 0), &gs_reply,
		 sizeof(gs_reply));
	struct sevmig_fw_guest_status gs;
	assert_int_equal(sevmig_fw_guest_status(fw, &gs, &st), 0);
	assert_int_equal(gs.handle, 3);
	assert_int_equal(gs.policy, 5);
	assert_int_equal(gs.state, SEVMIG_GUEST_SUPDATE);
	kd_done(&kd);

	uint8_t buf[100];
	struct kvm_sev_dbg wd;
	memset(&wd, 0, sizeof(wd)); /* the padding too */
	wd.src_uaddr = (uintptr_t)page;
	wd.dst_uaddr = (uintptr_t)buf;
	wd.len = sizeof(buf);
	struct kvm_sev_dbg we;
	memset(&we, 0, sizeof(we)); /* the padding too */
	we.src_uaddr = (uintptr_t)buf;
	we.dst_uaddr = (uintptr_t)(page + 7);
	we.len = 50;
	kd_sev(&kd, KVM_SEV_DBG_DECRYPT, &wd, sizeof(wd), 0, 0);
	kd_sev(&kd, KVM_SEV_DBG_ENCRYPT, &we, sizeof(we), -EIO, SEVMIG_FW_POLICY_FAILURE);
	assert_int_equal(sevmig_fw_dbg_decrypt(fw, page, buf, sizeof(buf), &st), 0);
	assert_int_equal(sevmig_fw_dbg_encrypt(fw, buf, page + 7, 50, &st), -EIO);
	assert_int_equal(st, SEVMIG_FW_POLICY_FAILURE);
	kd_done(&kd);
	sevmig_fw_free(fw);
}

static void test_platform(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, KD_SEV_FD, SEVMIG_KVM_SERIES_NONE);
	uint32_t st;

	/* PLATFORM_STATUS: the packed reply, byte by byte */
	static const struct sev_user_data_status zero_ps;
	static const uint8_t ps_reply[12] = { 0, 24, 2, 0x01, 0x01, 0, 0, 14, 3, 0, 0, 0 };
	kd_reply(kd_plat(&kd, SEV_PLATFORM_STATUS, &zero_ps, sizeof(zero_ps), 0, 0), ps_reply,
		 sizeof(ps_reply));
	struct sevmig_fw_platform_status ps;
	assert_int_equal(sevmig_fw_platform_status(fw, &ps, &st), 0);
	assert_int_equal(ps.api_major, 0);
	assert_int_equal(ps.api_minor, 24);
	assert_int_equal(ps.state, 2);
	assert_int_equal(ps.flags, SEVMIG_PLATFORM_FLAG_OWNER | SEVMIG_PLATFORM_FLAG_ES);
	assert_int_equal(ps.build, 14);
	assert_int_equal(ps.guest_count, 3);
	assert_false(ps.soft);
	kd_done(&kd);

	kd_plat(&kd, SEV_PLATFORM_STATUS, &zero_ps, sizeof(zero_ps), -ENOTTY, 0);
	assert_int_equal(sevmig_fw_platform_status(fw, &ps, &st), -EOPNOTSUPP);
	KD_MSG_HAS(fw, "SEV is not available on this host");
	kd_done(&kd);

	/* PDH_CERT_EXPORT: the query, then the export */
	static const struct sev_user_data_pdh_cert_export zero_pe;
	static const struct sev_user_data_pdh_cert_export lens = { .pdh_cert_len = 0x824,
								   .cert_chain_len = 0x186c };
	uint32_t pl = 0, cl = 0;
	kd_reply(kd_plat(&kd, SEV_PDH_CERT_EXPORT, &zero_pe, sizeof(zero_pe), -EIO,
			 SEVMIG_FW_INVALID_LENGTH),
		 &lens, sizeof(lens));
	assert_int_equal(sevmig_fw_pdh_cert_export(fw, NULL, &pl, NULL, &cl, &st), 0);
	assert_int_equal(pl, 0x824);
	assert_int_equal(cl, 0x186c);
	assert_int_equal(st, SEVMIG_FW_SUCCESS);
	kd_done(&kd);

	static uint8_t p[0x5000], c[0x2000];
	struct sev_user_data_pdh_cert_export want = {
		.pdh_cert_address = (uintptr_t)p,
		.pdh_cert_len = 0x4000, /* capped at the kernel's limit */
		.cert_chain_address = (uintptr_t)c,
		.cert_chain_len = sizeof(c),
	};
	pl = sizeof(p);
	cl = sizeof(c);
	kd_reply(kd_plat(&kd, SEV_PDH_CERT_EXPORT, &want, sizeof(want), 0, 0), &lens, sizeof(lens));
	assert_int_equal(sevmig_fw_pdh_cert_export(fw, p, &pl, c, &cl, &st), 0);
	assert_int_equal(pl, 0x824);
	assert_int_equal(cl, 0x186c);
	kd_done(&kd);

	/* too small: the firmware says INVALID_LENGTH and how much */
	pl = 0x800;
	cl = sizeof(c);
	want.pdh_cert_len = 0x800;
	kd_reply(
	    kd_plat(&kd, SEV_PDH_CERT_EXPORT, &want, sizeof(want), -EIO, SEVMIG_FW_INVALID_LENGTH),
	    &lens, sizeof(lens));
	assert_int_equal(sevmig_fw_pdh_cert_export(fw, p, &pl, c, &cl, &st), -ENOSPC);
	assert_int_equal(pl, 0x824);
	KD_MSG_HAS(fw, "too small");
	kd_done(&kd);

	/* read-only /dev/sev on an uninitialised platform */
	pl = 0x824;
	cl = sizeof(c);
	want.pdh_cert_len = 0x824;
	kd_plat(&kd, SEV_PDH_CERT_EXPORT, &want, sizeof(want), -EPERM, 0);
	assert_int_equal(sevmig_fw_pdh_cert_export(fw, p, &pl, c, &cl, &st), -EPERM);
	KD_MSG_HAS(fw, "opened for writing");
	kd_done(&kd);

	/* GET_ID (GET_ID2 underneath) */
	static const struct sev_user_data_get_id2 zero_id, id_len = { .length = 128 };
	uint32_t il = 0;
	kd_reply(
	    kd_plat(&kd, SEV_GET_ID2, &zero_id, sizeof(zero_id), -EIO, SEVMIG_FW_INVALID_LENGTH),
	    &id_len, sizeof(id_len));
	assert_int_equal(sevmig_fw_get_id(fw, NULL, &il, &st), 0);
	assert_int_equal(il, 128);
	uint8_t id[128];
	struct sev_user_data_get_id2 wid = { .address = (uintptr_t)id, .length = 128 };
	kd_reply(kd_plat(&kd, SEV_GET_ID2, &wid, sizeof(wid), 0, 0), &id_len, sizeof(id_len));
	assert_int_equal(sevmig_fw_get_id(fw, id, &il, &st), 0);
	il = 64;
	wid.length = 64;
	kd_reply(kd_plat(&kd, SEV_GET_ID2, &wid, sizeof(wid), -EIO, SEVMIG_FW_INVALID_LENGTH),
		 &id_len, sizeof(id_len));
	assert_int_equal(sevmig_fw_get_id(fw, id, &il, &st), -ENOSPC);
	assert_int_equal(il, 128);
	kd_done(&kd);
	sevmig_fw_free(fw);
}

/* A platform-only handle has no VM. */
static void test_platform_only_handle(void **state)
{
	(void)state;
	struct kd kd;
	memset(&kd, 0, sizeof(kd));
	SEVMIG_OPTS(sevmig_fw_kvm_opts, o, .ioctl = kd_ioctl, .ioctl_arg = &kd);
	struct sevmig_fw *fw;
	assert_int_equal(sevmig_fw_kvm_open(-1, KD_SEV_FD, &o, &fw, NULL), 0);
	uint32_t st;
	assert_int_equal(sevmig_fw_send_finish(fw, &st), -EINVAL);
	KD_MSG_HAS(fw, "no VM fd");
	assert_int_equal(sevmig_fw_kvm_register_region(fw, page, 4096), -EINVAL);
	kd_done(&kd);
	sevmig_fw_free(fw);
}

/* ---- pinning and moving the encryption context ----------------------------------- */

static void test_regions(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, KD_SEV_FD, SEVMIG_KVM_SERIES_NONE);
	struct kvm_enc_region want = { .addr = (uintptr_t)page, .size = sizeof(page) };
	kd_add(&kd, KD_VM_FD, KVM_MEMORY_ENCRYPT_REG_REGION, 0, &want, sizeof(want), 0);
	kd_add(&kd, KD_VM_FD, KVM_MEMORY_ENCRYPT_REG_REGION, 0, &want, sizeof(want), -ENOMEM);
	kd_add(&kd, KD_VM_FD, KVM_MEMORY_ENCRYPT_UNREG_REGION, 0, &want, sizeof(want), -EINVAL);
	kd_add(&kd, KD_VM_FD, KVM_MEMORY_ENCRYPT_UNREG_REGION, 0, &want, sizeof(want), 0);
	kd_add(&kd, KD_VM_FD, KVM_MEMORY_ENCRYPT_REG_REGION, 0, &want, sizeof(want), -ENOTTY);
	kd_sev(&kd, KD_NO_ID, NULL, 0, -ENOTTY, 0);
	assert_int_equal(sevmig_fw_kvm_register_region(fw, page, sizeof(page)), 0);
	assert_int_equal(sevmig_fw_kvm_register_region(fw, page, sizeof(page)), -ENOMEM);
	KD_MSG_HAS(fw, "RLIMIT_MEMLOCK");
	KD_MSG_HAS(fw, "CAP_IPC_LOCK");
	assert_int_equal(sevmig_fw_kvm_unregister_region(fw, page, sizeof(page)), -EINVAL);
	KD_MSG_HAS(fw, "exactly as registered");
	assert_int_equal(sevmig_fw_kvm_unregister_region(fw, page, sizeof(page)), 0);
	assert_int_equal(sevmig_fw_kvm_register_region(fw, page, sizeof(page)), -EOPNOTSUPP);
	KD_MSG_HAS(fw, "SEV is not available on this host");
	kd_done(&kd);
	/* refused before the ioctl: what the kernel refuses (sev_pin_memory:
	 * an empty range, one that wraps, also to exactly 2^64) */
	assert_int_equal(sevmig_fw_kvm_register_region(fw, page, 0), -EINVAL);
	assert_int_equal(sevmig_fw_kvm_register_region(fw, (void *)(uintptr_t)-4096, 8192),
			 -EINVAL);
	assert_int_equal(sevmig_fw_kvm_register_region(fw, (void *)(uintptr_t)-4096, 4096),
			 -EINVAL);
	kd_done(&kd);
	/* address 0 is an address like any other for the kernel: passed on */
	struct kvm_enc_region zero = { .addr = 0, .size = 4096 };
	kd_add(&kd, KD_VM_FD, KVM_MEMORY_ENCRYPT_REG_REGION, 0, &zero, sizeof(zero), 0);
	kd_add(&kd, KD_VM_FD, KVM_MEMORY_ENCRYPT_UNREG_REGION, 0, &zero, sizeof(zero), 0);
	assert_int_equal(sevmig_fw_kvm_register_region(fw, NULL, 4096), 0);
	assert_int_equal(sevmig_fw_kvm_unregister_region(fw, NULL, 4096), 0);
	kd_done(&kd);
	sevmig_fw_free(fw);
}

static void test_move_enc_context(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, KD_SEV_FD, SEVMIG_KVM_SERIES_NONE);
	struct kvm_enable_cap want = { .cap = KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM, .args = { 77 } };
	static const struct {
		int rc;
		int want;
		const char *says;
	} cases[] = {
		{ 0, 0, "" },
		{ -EBADF, -EBADF, "fd 77 is not a KVM VM fd" },
		{ -EINVAL, -EINVAL, "not an SEV guest" },
		{ -EBUSY, -EBUSY, "already being migrated" },
		{ -ENOMEM, -ENOMEM, "out of memory" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kd_add(&kd, KD_VM_FD, KVM_CHECK_EXTENSION, KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM, NULL,
		       0, 1);
		kd_add(&kd, KD_VM_FD, KVM_ENABLE_CAP, 0, &want, sizeof(want), cases[i].rc);
		assert_int_equal(sevmig_fw_kvm_move_enc_context_from(fw, 77), cases[i].want);
		KD_MSG_HAS(fw, cases[i].says);
		kd_done(&kd);
	}
	kd_add(&kd, KD_VM_FD, KVM_CHECK_EXTENSION, KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM, NULL, 0, 0);
	assert_int_equal(sevmig_fw_kvm_move_enc_context_from(fw, 77), -EOPNOTSUPP);
	KD_MSG_HAS(fw, "cannot move an encryption context");
	kd_done(&kd);
	assert_int_equal(sevmig_fw_kvm_move_enc_context_from(fw, -1), -EBADF);
	kd_done(&kd);
	sevmig_fw_free(fw);
}

/* The host probe on a scripted host that has everything. */
static void test_probe_host(void **state)
{
	(void)state;
	struct kd kd;
	memset(&kd, 0, sizeof(kd));
	char dir[] = "/tmp/sevmig-probe-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/sev", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("Y\n", f);
	fclose(f);

	int vm = open("/dev/null", O_RDONLY | O_CLOEXEC); /* the probe closes it */
	assert_true(vm >= 0);
	kd_add(&kd, KD_ANY_FD, KVM_GET_API_VERSION, 0, NULL, 0, 12);
	kd_add(&kd, KD_ANY_FD, KVM_CREATE_VM, 0, NULL, 0, vm);
	kd_add(&kd, vm, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_HYPERCALL, NULL, 0, 1 << 12);
	kd_add(&kd, vm, KVM_CHECK_EXTENSION, KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM, NULL, 0, 1);
	kd_add(&kd, vm, KVM_CHECK_EXTENSION, KVM_CAP_VM_COPY_ENC_CONTEXT_FROM, NULL, 0, 0);
	kd_add(&kd, vm, KVM_CHECK_EXTENSION, KVM_CAP_X86_USER_SPACE_MSR, NULL, 0, 1);
	kd_add(&kd, vm, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER, NULL, 0, 1);
	kd_add(&kd, vm, KVM_MEMORY_ENCRYPT_OP, KD_NO_ID, NULL, 0, 0);
	static const struct sev_user_data_status zero_ps;
	static const uint8_t ps_reply[12] = { 1, 52, 1, 0, 0, 0, 0, 4, 0, 0, 0, 0 };
	kd_reply(kd_add(&kd, KD_ANY_FD, SEV_ISSUE_CMD, SEV_PLATFORM_STATUS, &zero_ps,
			sizeof(zero_ps), 0),
		 ps_reply, sizeof(ps_reply));
	SEVMIG_OPTS(sevmig_kvm_probe_opts, o, .ioctl = kd_ioctl, .ioctl_arg = &kd,
		    .kvm_path = "/dev/null", .sev_path = "/dev/null", .module_dir = dir);
	struct sevmig_kvm_host_info h;
	assert_int_equal(sevmig_kvm_probe_host(&o, &h), 0);
	kd_done(&kd);
	assert_int_equal(h.kvm, 0);
	assert_int_equal(h.kvm_api_version, 12);
	assert_int_equal(h.kvm_sev, 1);
	assert_int_equal(h.hypercall_exits, 1 << 12);
	assert_true(h.move_enc_context);
	assert_false(h.copy_enc_context);
	assert_true(h.user_space_msr);
	assert_true(h.msr_filter);
	assert_string_equal(h.kvm_amd_sev, "Y");
	assert_string_equal(h.kvm_amd_sev_es, "");
	assert_int_equal(h.sev, 0);
	assert_int_equal(h.platform_rc, 0);
	assert_int_equal(h.platform.api_major, 1);
	assert_int_equal(h.platform.api_minor, 52);
	assert_int_equal(h.platform.state, 1);
	assert_int_equal(h.platform.build, 4);
	assert_true(fcntl(vm, F_GETFD) < 0); /* closed */

	/* KVM_CREATE_VM refused: the capabilities stay unknown; PLATFORM_STATUS fails */
	kd_add(&kd, KD_ANY_FD, KVM_GET_API_VERSION, 0, NULL, 0, 12);
	kd_add(&kd, KD_ANY_FD, KVM_CREATE_VM, 0, NULL, 0, -EPERM);
	kd_add(&kd, KD_ANY_FD, SEV_ISSUE_CMD, SEV_PLATFORM_STATUS, &zero_ps, sizeof(zero_ps), -EIO)
	    ->error = SEVMIG_FW_HWERROR_PLATFORM;
	assert_int_equal(sevmig_kvm_probe_host(&o, &h), 0);
	kd_done(&kd);
	assert_int_equal(h.kvm, -EPERM);
	assert_int_equal(h.hypercall_exits, 0);
	assert_int_equal(h.platform_rc, -EIO);
	assert_int_equal(h.platform_fw_status, SEVMIG_FW_HWERROR_PLATFORM);
	assert_non_null(strstr(h.platform_message, "HWERROR_PLATFORM"));

	assert_int_equal(sevmig_kvm_probe_host(&o, NULL), -EINVAL);
	struct {
		struct sevmig_kvm_probe_opts o;
		uint64_t future;
	} big = { .o = { .sz = sizeof(big) }, .future = 1 };
	assert_int_equal(sevmig_kvm_probe_host(&big.o, &h), -EINVAL);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_send_start),
		cmocka_unit_test(test_send_start_refused_before_ioctl),
		cmocka_unit_test(test_no_sev),
		cmocka_unit_test(test_errno_mapping),
		cmocka_unit_test(test_eintr_forever),
		cmocka_unit_test(test_finish_cancel),
		cmocka_unit_test(test_send_update_data),
		cmocka_unit_test(test_receiver_page_write_refused),
		cmocka_unit_test(test_vmsa_not_upstream),
		cmocka_unit_test(test_receive),
		cmocka_unit_test(test_status_and_debug),
		cmocka_unit_test(test_platform),
		cmocka_unit_test(test_platform_only_handle),
		cmocka_unit_test(test_regions),
		cmocka_unit_test(test_move_enc_context),
		cmocka_unit_test(test_probe_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
