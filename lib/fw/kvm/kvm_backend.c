/* SPDX-License-Identifier: MIT */
/*
 * The KVM backend's firmware commands: guest commands through
 * KVM_MEMORY_ENCRYPT_OP on the VM fd, platform commands through
 * SEV_ISSUE_CMD on /dev/sev. Each command first refuses what the kernel or
 * the firmware would refuse (so that the message says which rule), then
 * speaks the kernel's conventions: zero-length queries, 16 KiB blobs, one
 * guest page per UPDATE_DATA call, -EIO carrying the firmware's status.
 */
#if defined(__x86_64__) /* else kvm_other_arch.c */
#include "fw/kvm/kvm_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

SEVMIG__OPTS_LAST(struct sevmig_fw_kvm_opts, hypercall_abi);

/* Kernel-internal ENOTSUPP, which some PSP paths let reach user space. */
#define KERNEL_ENOTSUPP 524
/* A kernel that keeps interrupting a call is not waited for forever. */
#define EINTR_RETRIES 1000

int sevmig__kvm_sys_ioctl(void *arg, int fd, unsigned long req, void *data)
{
	(void)arg;
	int r = ioctl(fd, req, data);
	return r < 0 ? -errno : r;
}

int sevmig__kvm_ioctl(struct sevmig__kvm *k, int fd, unsigned long req, void *data)
{
	int rc = -EINTR;
	for (unsigned i = 0; i < EINTR_RETRIES && rc == -EINTR; i++)
		rc = k->ioctl(k->ioctl_arg, fd, req, data);
	return rc;
}

/* The firmware answered when the call succeeded or failed with -EIO and a
 * status: the kernel fills `error` only after the firmware ran. */
static uint32_t answered(int rc, uint32_t error)
{
	if (rc >= 0 || (rc == -EIO && error))
		return error;
	return SEVMIG_FW_STATUS_NONE;
}

int sevmig__kvm_sev_cmd(struct sevmig__kvm *k, uint32_t id, void *data, uint32_t *fw_status)
{
	struct kvm_sev_cmd cmd;
	memset(&cmd, 0, sizeof(cmd));
	cmd.id = id;
	cmd.data = (uintptr_t)data;
	cmd.sev_fd = (uint32_t)k->sev_fd;
	int rc = sevmig__kvm_ioctl(k, k->vm_fd, KVM_MEMORY_ENCRYPT_OP, &cmd);
	*fw_status = answered(rc, cmd.error);
	return rc;
}

static int platform_cmd(struct sevmig__kvm *k, uint32_t id, void *data, uint32_t *fw_status)
{
	struct sev_issue_cmd cmd;
	memset(&cmd, 0, sizeof(cmd));
	cmd.cmd = id;
	cmd.data = (uintptr_t)data;
	int rc = sevmig__kvm_ioctl(k, k->sev_fd, SEV_ISSUE_CMD, &cmd);
	*fw_status = answered(rc, cmd.error);
	return rc;
}

/* A length query succeeded: the kernel returned 0, or the firmware said
 * INVALID_LENGTH and wrote the lengths it needs (QEMU's reading too). */
static bool query_ok(int rc, uint32_t *st)
{
	if (rc >= 0 || (rc == -EIO && *st == SEVMIG_FW_INVALID_LENGTH)) {
		*st = SEVMIG_FW_SUCCESS;
		return true;
	}
	return false;
}

static int no_sev(struct sevmig_fw *fw, const char *what)
{
	struct sevmig__kvm *k = sevmig__kvm_of(fw);
	return sevmig__fw_fail(fw, -EOPNOTSUPP, SEVMIG_FW_STATUS_NONE,
			       "%s: SEV is not available on this host: %s", what,
			       k->no_sev_reason[0] ? k->no_sev_reason
						   : "the handle was opened without a /dev/sev fd");
}

int sevmig__kvm_fail(struct sevmig_fw *fw, const char *what, bool vm, int rc, uint32_t status)
{
	struct sevmig__kvm *k = sevmig__kvm_of(fw);
	const uint32_t none = SEVMIG_FW_STATUS_NONE;

	if (status != none && status != SEVMIG_FW_SUCCESS)
		return sevmig__fw_fail(fw, -EIO, status, "%s: the firmware refused the command: %s",
				       what, sevmig_fw_status_description(status));
	switch (rc) {
	case -ENOTTY:
		if (!vm)
			return sevmig__fw_fail(
			    fw, -EOPNOTSUPP, none,
			    "%s: SEV is not available on this host: the /dev/sev "
			    "fd does not accept SEV_ISSUE_CMD (ENOTTY)",
			    what);
		/* KVM answers a NULL command with 0 when it has SEV at all. */
		if (sevmig__kvm_ioctl(k, k->vm_fd, KVM_MEMORY_ENCRYPT_OP, NULL) == -ENOTTY)
			return sevmig__fw_fail(fw, -EOPNOTSUPP, none,
					       "%s: SEV is not available on this host: KVM has no "
					       "SEV support (KVM_MEMORY_ENCRYPT_OP answers ENOTTY; "
					       "kvm_amd loaded with sev=1 is needed)",
					       what);
		return sevmig__fw_fail(
		    fw, -EOPNOTSUPP, none,
		    "%s: SEV is not available on this VM: it is not an SEV guest "
		    "(KVM_SEV_INIT was not run on it)",
		    what);
	case -ETIMEDOUT:
		return sevmig__fw_fail(fw, -ETIMEDOUT, none,
				       "%s: the firmware did not answer in time; the kernel treats "
				       "the PSP as dead until it is reset",
				       what);
	case -EBADF:
		return sevmig__fw_fail(
		    fw, -EBADF, none,
		    vm ? "%s: bad file descriptor: the VM fd or the /dev/sev fd of "
			 "the handle is not open"
		       : "%s: bad file descriptor: the /dev/sev fd of the handle is "
			 "not open",
		    what);
	case -EINVAL:
		return sevmig__fw_fail(
		    fw, -EINVAL, none,
		    vm ? "%s: KVM refused the command (EINVAL): a mirror VM, a VM "
			 "that is not an SEV guest, or an argument this kernel "
			 "checks differently"
		       : "%s: the SEV driver refused the command (EINVAL)",
		    what);
	case -EFAULT:
		return sevmig__fw_fail(fw, -EFAULT, none,
				       "%s: the kernel could not read or write one of the buffers "
				       "(EFAULT)",
				       what);
	case -EPERM:
		return sevmig__fw_fail(
		    fw, -EPERM, none,
		    vm ? "%s: not permitted (EPERM): an SEV-SNP guest accepts only "
			 "SNP commands"
		       : "%s: not permitted (EPERM): the platform must be "
			 "initialised, which the kernel does only for a /dev/sev "
			 "opened for writing",
		    what);
	case -ENOMEM:
		return sevmig__fw_fail(fw, -ENOMEM, none, "%s: the kernel is out of memory", what);
	case -ENODEV:
	case -KERNEL_ENOTSUPP:
		return sevmig__fw_fail(fw, -EOPNOTSUPP, none,
				       "%s: SEV is not available on this host: the PSP driver has "
				       "no SEV firmware (%s)",
				       what, rc == -ENODEV ? "ENODEV" : "ENOTSUPP");
	case -EINTR:
		return sevmig__fw_fail(fw, -EINTR, none,
				       "%s: interrupted by signals %d times in a row", what,
				       EINTR_RETRIES);
	case -EIO:
		return sevmig__fw_fail(fw, -EIO, none, "%s: I/O error without a firmware status",
				       what);
	default:
		return sevmig__fw_fail(fw, rc < 0 ? rc : -EIO, none,
				       "%s: the kernel refused the command: %s", what,
				       rc < 0 ? strerror(-rc) : "unexpected result");
	}
}

int sevmig__kvm_need_kvm(struct sevmig_fw *fw, const char *what, struct sevmig__kvm **out)
{
	if (!fw)
		return -EINVAL;
	if (fw->ops != &sevmig__kvm_ops)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "%s: this is not a KVM backend handle", what);
	*out = sevmig__kvm_of(fw);
	return 0;
}

int sevmig__kvm_need_vm(struct sevmig_fw *fw, const char *what, struct sevmig__kvm **out)
{
	if (!fw)
		return -EINVAL;
	if (fw->ops != &sevmig__kvm_ops)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "%s: this is not a KVM backend handle", what);
	struct sevmig__kvm *k = sevmig__kvm_of(fw);
	if (k->vm_fd < 0)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "%s: the handle has no VM fd (it was opened for platform "
				       "commands only)",
				       what);
	*out = k;
	return 0;
}

int sevmig__kvm_check_extension(struct sevmig__kvm *k, int fd, long cap)
{
	return sevmig__kvm_ioctl(k, fd, KVM_CHECK_EXTENSION, (void *)cap);
}

int sevmig__kvm_enable_cap(struct sevmig__kvm *k, uint32_t cap, uint64_t arg0)
{
	struct kvm_enable_cap c;
	memset(&c, 0, sizeof(c));
	c.cap = cap;
	c.args[0] = arg0;
	return sevmig__kvm_ioctl(k, k->vm_fd, KVM_ENABLE_CAP, &c);
}

/* ---- argument rules ------------------------------------------------------- */

static int refuse(struct sevmig_fw *fw, const char *what, const char *fmt, ...)
    SEVMIG__PRINTF(3, 4);
static int refuse(struct sevmig_fw *fw, const char *what, const char *fmt, ...)
{
	char rule[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rule, sizeof(rule), fmt, ap);
	va_end(ap);
	return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE, "%s: %s", what, rule);
}

/* KVM pins one guest page per UPDATE_DATA call, and the firmware works in
 * 16-byte blocks at 16-byte aligned addresses. */
static int check_guest_range(struct sevmig_fw *fw, const char *what, const void *guest,
			     uint32_t len)
{
	uint64_t off = (uintptr_t)guest & (SEVMIG_PAGE_SIZE - 1);
	if (!len)
		return refuse(fw, what, "guest_len is 0");
	if (len % 16)
		return refuse(fw, what,
			      "guest_len %u is not a multiple of 16, as the firmware requires",
			      len);
	if (off % 16)
		return refuse(fw, what,
			      "the guest address is not 16-byte aligned (page offset 0x%x), as the "
			      "firmware requires",
			      (unsigned)off);
	if (off + len > SEVMIG_PAGE_SIZE)
		return refuse(
		    fw, what,
		    "the guest range (page offset 0x%x, %u bytes) crosses a 4 KiB page; KVM "
		    "takes one page per call",
		    (unsigned)off, len);
	return 0;
}

static int check_blob(struct sevmig_fw *fw, const char *what, const char *name, const void *p,
		      uint32_t len)
{
	if (!p || !len)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "%s: %s is missing; KVM requires it", what, name);
	if (len > SEVMIG__KVM_BLOB_MAX)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "%s: %s is %u bytes; KVM copies at most %u "
				       "(SEV_FW_BLOB_MAX_SIZE)",
				       what, name, len, SEVMIG__KVM_BLOB_MAX);
	return 0;
}

/* ---- source side ------------------------------------------------------------ */

static int kvm_send_start(struct sevmig_fw *fw, struct sevmig_fw_send_start *p, uint32_t *st)
{
	static const char what[] = "SEND_START";
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(sevmig__kvm_need_vm(fw, what, &k));
	if (p->session) {
		SEVMIG__TRY(check_blob(fw, what, "the target's PDH certificate", p->pdh_cert,
				       p->pdh_cert_len));
		SEVMIG__TRY(check_blob(fw, what, "the target's platform certificate chain",
				       p->plat_certs, p->plat_certs_len));
		SEVMIG__TRY(check_blob(fw, what, "the AMD certificate chain (ASK || ARK)",
				       p->amd_certs, p->amd_certs_len));
	}

	/* session_len 0 asks the firmware for the blob's size. */
	struct kvm_sev_send_start d;
	memset(&d, 0, sizeof(d));
	int rc = sevmig__kvm_sev_cmd(k, KVM_SEV_SEND_START, &d, st);
	if (!query_ok(rc, st))
		return sevmig__kvm_fail(fw, "SEND_START (length query)", true, rc, *st);
	uint32_t need = d.session_len;
	if (!need || need > SEVMIG__KVM_BLOB_MAX)
		return sevmig__fw_fail(fw, -EPROTO, SEVMIG_FW_STATUS_NONE,
				       "SEND_START: the firmware asks for a session blob of %u "
				       "bytes; KVM passes 1 to %u",
				       need, SEVMIG__KVM_BLOB_MAX);
	if (!p->session) {
		p->session_len = need;
		return 0;
	}
	if (p->session_len < need) {
		uint32_t cap = p->session_len;
		p->session_len = need;
		return sevmig__fw_fail(
		    fw, -ENOSPC, SEVMIG_FW_STATUS_NONE,
		    "SEND_START: the session buffer holds %u bytes, the firmware "
		    "writes %u",
		    cap, need);
	}

	memset(&d, 0, sizeof(d));
	d.pdh_cert_uaddr = (uintptr_t)p->pdh_cert;
	d.pdh_cert_len = p->pdh_cert_len;
	d.plat_certs_uaddr = (uintptr_t)p->plat_certs;
	d.plat_certs_len = p->plat_certs_len;
	d.amd_certs_uaddr = (uintptr_t)p->amd_certs;
	d.amd_certs_len = p->amd_certs_len;
	d.session_uaddr = (uintptr_t)p->session;
	d.session_len = need;
	rc = sevmig__kvm_sev_cmd(k, KVM_SEV_SEND_START, &d, st);
	if (rc < 0)
		return sevmig__kvm_fail(fw, "SEND_START", true, rc, *st);
	if (d.session_len > need)
		return sevmig__fw_fail(fw, -EPROTO, SEVMIG_FW_STATUS_NONE,
				       "SEND_START: the kernel reports a %u-byte session blob in a "
				       "%u-byte buffer",
				       d.session_len, need);
	p->session_len = d.session_len ? d.session_len : need;
	p->policy = d.policy;
	return 0;
}

/* The packet header's length, asked once per handle with zero lengths. */
static int send_hdr_len(struct sevmig_fw *fw, struct sevmig__kvm *k, uint32_t *st)
{
	if (k->send_hdr_len)
		return 0;
	struct kvm_sev_send_update_data q;
	memset(&q, 0, sizeof(q));
	int rc = sevmig__kvm_sev_cmd(k, KVM_SEV_SEND_UPDATE_DATA, &q, st);
	if (!query_ok(rc, st))
		return sevmig__kvm_fail(fw, "SEND_UPDATE_DATA (length query)", true, rc, *st);
	if (!q.hdr_len || q.hdr_len > SEVMIG__KVM_BLOB_MAX)
		return sevmig__fw_fail(fw, -EPROTO, SEVMIG_FW_STATUS_NONE,
				       "SEND_UPDATE_DATA: the firmware gives a packet header of %u "
				       "bytes",
				       q.hdr_len);
	k->send_hdr_len = q.hdr_len;
	return 0;
}

static int kvm_send_update_data(struct sevmig_fw *fw, struct sevmig_fw_send_update *p, uint32_t *st)
{
	static const char what[] = "SEND_UPDATE_DATA";
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(sevmig__kvm_need_vm(fw, what, &k));
	bool query = !p->hdr || !p->trans;
	if (!query)
		SEVMIG__TRY(check_guest_range(fw, what, p->guest, p->guest_len));
	SEVMIG__TRY(send_hdr_len(fw, k, st));
	uint32_t hdr_cap = p->hdr_len, trans_cap = p->trans_len;
	/* The firmware writes guest_len bytes of ciphertext and never reports
	 * a transport length of its own. */
	p->hdr_len = k->send_hdr_len;
	p->trans_len = p->guest_len;
	if (query)
		return 0;
	if (hdr_cap < p->hdr_len || trans_cap < p->trans_len)
		return sevmig__fw_fail(fw, -ENOSPC, SEVMIG_FW_STATUS_NONE,
				       "SEND_UPDATE_DATA: the buffers hold %u header and %u "
				       "ciphertext bytes, the firmware writes %u and %u",
				       hdr_cap, trans_cap, p->hdr_len, p->trans_len);

	struct kvm_sev_send_update_data d;
	memset(&d, 0, sizeof(d));
	d.hdr_uaddr = (uintptr_t)p->hdr;
	d.hdr_len = p->hdr_len;
	d.guest_uaddr = (uintptr_t)p->guest;
	d.guest_len = p->guest_len;
	d.trans_uaddr = (uintptr_t)p->trans;
	d.trans_len = p->trans_len;
	int rc = sevmig__kvm_sev_cmd(k, KVM_SEV_SEND_UPDATE_DATA, &d, st);
	if (rc < 0)
		return sevmig__kvm_fail(fw, what, true, rc, *st);
	return 0;
}

/* Mainline KVM has the command ids but no code behind them. */
static int no_vmsa(struct sevmig_fw *fw, const char *what)
{
	return sevmig__fw_fail(fw, -EOPNOTSUPP, SEVMIG_FW_STATUS_NONE,
			       "%s: mainline KVM has no path for this command (the kernel answers "
			       "EINVAL); SEV-ES vCPU state moves only with "
			       "sevmig_fw_kvm_move_enc_context_from() on one host",
			       what);
}

static int kvm_send_update_vmsa(struct sevmig_fw *fw, uint32_t vcpu,
				struct sevmig_fw_send_update *p, uint32_t *st)
{
	(void)vcpu;
	(void)p;
	(void)st;
	return no_vmsa(fw, "SEND_UPDATE_VMSA");
}

static int simple_cmd(struct sevmig_fw *fw, const char *what, uint32_t id, uint32_t *st)
{
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(sevmig__kvm_need_vm(fw, what, &k));
	int rc = sevmig__kvm_sev_cmd(k, id, NULL, st);
	return rc < 0 ? sevmig__kvm_fail(fw, what, true, rc, *st) : 0;
}

static int kvm_send_finish(struct sevmig_fw *fw, uint32_t *st)
{
	return simple_cmd(fw, "SEND_FINISH", KVM_SEV_SEND_FINISH, st);
}

static int kvm_send_cancel(struct sevmig_fw *fw, uint32_t *st)
{
	return simple_cmd(fw, "SEND_CANCEL", KVM_SEV_SEND_CANCEL, st);
}

/* ---- target side ------------------------------------------------------------ */

static int kvm_receive_start(struct sevmig_fw *fw, struct sevmig_fw_receive_start *p, uint32_t *st)
{
	static const char what[] = "RECEIVE_START";
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(sevmig__kvm_need_vm(fw, what, &k));
	/* KVM runs this one command through the caller's /dev/sev fd. */
	if (k->sev_fd < 0)
		return no_sev(fw, what);
	SEVMIG__TRY(
	    check_blob(fw, what, "the source's PDH certificate", p->pdh_cert, p->pdh_cert_len));
	SEVMIG__TRY(check_blob(fw, what, "the session blob", p->session, p->session_len));

	struct kvm_sev_receive_start d;
	memset(&d, 0, sizeof(d));
	d.policy = p->policy;
	d.pdh_uaddr = (uintptr_t)p->pdh_cert;
	d.pdh_len = p->pdh_cert_len;
	d.session_uaddr = (uintptr_t)p->session;
	d.session_len = p->session_len;
	int rc = sevmig__kvm_sev_cmd(k, KVM_SEV_RECEIVE_START, &d, st);
	if (rc < 0)
		return sevmig__kvm_fail(fw, what, true, rc, *st);
	p->handle = d.handle;
	return 0;
}

static int kvm_receive_update_data(struct sevmig_fw *fw, const struct sevmig_fw_receive_update *p,
				   uint32_t *st)
{
	static const char what[] = "RECEIVE_UPDATE_DATA";
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(sevmig__kvm_need_vm(fw, what, &k));
	SEVMIG__TRY(check_guest_range(fw, what, p->guest, p->guest_len));
	if (p->trans_len != p->guest_len)
		return refuse(
		    fw, what,
		    "trans_len %u differs from guest_len %u; the firmware decrypts exactly "
		    "guest_len bytes",
		    p->trans_len, p->guest_len);
	if (p->hdr_len < SEVMIG_PACKET_HDR_SIZE)
		return refuse(fw, what, "hdr_len %u is shorter than a packet header (%u bytes)",
			      p->hdr_len, SEVMIG_PACKET_HDR_SIZE);
	SEVMIG__TRY(check_blob(fw, what, "the packet header", p->hdr, p->hdr_len));

	struct kvm_sev_receive_update_data d;
	memset(&d, 0, sizeof(d));
	d.hdr_uaddr = (uintptr_t)p->hdr;
	d.hdr_len = p->hdr_len;
	d.guest_uaddr = (uintptr_t)p->guest;
	d.guest_len = p->guest_len;
	d.trans_uaddr = (uintptr_t)p->trans;
	d.trans_len = p->trans_len;
	int rc = sevmig__kvm_sev_cmd(k, KVM_SEV_RECEIVE_UPDATE_DATA, &d, st);
	return rc < 0 ? sevmig__kvm_fail(fw, what, true, rc, *st) : 0;
}

static int kvm_receive_update_vmsa(struct sevmig_fw *fw, uint32_t vcpu,
				   const struct sevmig_fw_receive_update *p, uint32_t *st)
{
	(void)vcpu;
	(void)p;
	(void)st;
	return no_vmsa(fw, "RECEIVE_UPDATE_VMSA");
}

static int kvm_receive_finish(struct sevmig_fw *fw, uint32_t *st)
{
	return simple_cmd(fw, "RECEIVE_FINISH", KVM_SEV_RECEIVE_FINISH, st);
}

/* ---- status and debug ---------------------------------------------------------- */

static int kvm_guest_status(struct sevmig_fw *fw, struct sevmig_fw_guest_status *out, uint32_t *st)
{
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(sevmig__kvm_need_vm(fw, "GUEST_STATUS", &k));
	struct kvm_sev_guest_status d;
	memset(&d, 0, sizeof(d));
	int rc = sevmig__kvm_sev_cmd(k, KVM_SEV_GUEST_STATUS, &d, st);
	if (rc < 0)
		return sevmig__kvm_fail(fw, "GUEST_STATUS", true, rc, *st);
	out->handle = d.handle;
	out->policy = d.policy;
	out->state = d.state;
	return 0;
}

static int dbg_cmd(struct sevmig_fw *fw, const char *what, uint32_t id, const void *src, void *dst,
		   uint32_t len, uint32_t *st)
{
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(sevmig__kvm_need_vm(fw, what, &k));
	if ((uintptr_t)src + len < (uintptr_t)src || (uintptr_t)dst + len < (uintptr_t)dst)
		return refuse(fw, what, "the %u-byte range wraps the address space", len);
	struct kvm_sev_dbg d;
	memset(&d, 0, sizeof(d));
	d.src_uaddr = (uintptr_t)src;
	d.dst_uaddr = (uintptr_t)dst;
	d.len = len;
	int rc = sevmig__kvm_sev_cmd(k, id, &d, st);
	return rc < 0 ? sevmig__kvm_fail(fw, what, true, rc, *st) : 0;
}

static int kvm_dbg_decrypt(struct sevmig_fw *fw, const void *guest, void *dst, uint32_t len,
			   uint32_t *st)
{
	return dbg_cmd(fw, "DBG_DECRYPT", KVM_SEV_DBG_DECRYPT, guest, dst, len, st);
}

static int kvm_dbg_encrypt(struct sevmig_fw *fw, const void *src, void *guest, uint32_t len,
			   uint32_t *st)
{
	return dbg_cmd(fw, "DBG_ENCRYPT", KVM_SEV_DBG_ENCRYPT, src, guest, len, st);
}

/* ---- platform commands (/dev/sev) --------------------------------------------- */

static int need_sev(struct sevmig_fw *fw, const char *what, struct sevmig__kvm **out)
{
	if (!fw)
		return -EINVAL;
	struct sevmig__kvm *k = sevmig__kvm_of(fw);
	if (k->sev_fd < 0)
		return no_sev(fw, what);
	*out = k;
	return 0;
}

static int kvm_platform_status(struct sevmig_fw *fw, struct sevmig_fw_platform_status *out,
			       uint32_t *st)
{
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(need_sev(fw, "PLATFORM_STATUS", &k));
	struct sev_user_data_status d;
	memset(&d, 0, sizeof(d));
	int rc = platform_cmd(k, SEV_PLATFORM_STATUS, &d, st);
	if (rc < 0)
		return sevmig__kvm_fail(fw, "PLATFORM_STATUS", false, rc, *st);
	out->api_major = d.api_major;
	out->api_minor = d.api_minor;
	out->state = d.state;
	out->build = d.build;
	out->flags = d.flags;
	out->guest_count = d.guest_count;
	out->soft = false;
	return 0;
}

/* Lengths the kernel passes through: it refuses more than 16 KiB. */
static uint32_t blob_cap(const void *buf, uint32_t cap)
{
	return !buf ? 0 : cap < SEVMIG__KVM_BLOB_MAX ? cap : SEVMIG__KVM_BLOB_MAX;
}

static int kvm_pdh_cert_export(struct sevmig_fw *fw, void *pdh, uint32_t *pdh_len, void *chain,
			       uint32_t *chain_len, uint32_t *st)
{
	static const char what[] = "PDH_CERT_EXPORT";
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(need_sev(fw, what, &k));
	/* A NULL buffer (address 0) makes the kernel run it as a length query. */
	bool query = !pdh || !chain;
	struct sev_user_data_pdh_cert_export d;
	memset(&d, 0, sizeof(d));
	if (!query) {
		d.pdh_cert_address = (uintptr_t)pdh;
		d.pdh_cert_len = blob_cap(pdh, *pdh_len);
		d.cert_chain_address = (uintptr_t)chain;
		d.cert_chain_len = blob_cap(chain, *chain_len);
	}
	int rc = platform_cmd(k, SEV_PDH_CERT_EXPORT, &d, st);
	if (rc == -EIO && *st == SEVMIG_FW_INVALID_LENGTH && !query) {
		*pdh_len = d.pdh_cert_len;
		*chain_len = d.cert_chain_len;
		return sevmig__fw_fail(
		    fw, -ENOSPC, SEVMIG_FW_STATUS_NONE,
		    "%s: the buffers are too small: the firmware writes %u and %u "
		    "bytes",
		    what, d.pdh_cert_len, d.cert_chain_len);
	}
	if (query ? !query_ok(rc, st) : rc < 0)
		return sevmig__kvm_fail(fw, what, false, rc, *st);
	*pdh_len = d.pdh_cert_len;
	*chain_len = d.cert_chain_len;
	return 0;
}

static int kvm_get_id(struct sevmig_fw *fw, void *id, uint32_t *id_len, uint32_t *st)
{
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(need_sev(fw, "GET_ID", &k));
	struct sev_user_data_get_id2 d;
	memset(&d, 0, sizeof(d));
	if (id) {
		d.address = (uintptr_t)id;
		d.length = *id_len;
	}
	int rc = platform_cmd(k, SEV_GET_ID2, &d, st);
	if (rc == -EIO && *st == SEVMIG_FW_INVALID_LENGTH && id) {
		uint32_t cap = *id_len;
		*id_len = d.length;
		return sevmig__fw_fail(fw, -ENOSPC, SEVMIG_FW_STATUS_NONE,
				       "GET_ID: the buffer holds %u bytes, the firmware writes %u",
				       cap, d.length);
	}
	if (id ? rc < 0 : !query_ok(rc, st))
		return sevmig__kvm_fail(fw, "GET_ID", false, rc, *st);
	*id_len = d.length;
	return 0;
}

/* ---- the handle ------------------------------------------------------------------ */

static void kvm_free(struct sevmig__kvm *k)
{
	if (!k)
		return;
	if (k->own_sev_fd && k->sev_fd >= 0)
		close(k->sev_fd);
	pthread_mutex_destroy(&k->exit_lock);
	free(k);
}

static void kvm_destroy(struct sevmig_fw *fw)
{
	struct sevmig__kvm *k = sevmig__kvm_of(fw);
	/* the guest's memory stays pinned only as long as the handle that
	 * pinned it through the memslot calls */
	sevmig__kvm_memslots_release(k);
	kvm_free(k);
}

const struct sevmig_fw_ops sevmig__kvm_ops = {
	.name = "kvm",
	.in_place = true,
	.send_start = kvm_send_start,
	.send_update_data = kvm_send_update_data,
	.send_update_vmsa = kvm_send_update_vmsa,
	.send_finish = kvm_send_finish,
	.send_cancel = kvm_send_cancel,
	.receive_start = kvm_receive_start,
	.receive_update_data = kvm_receive_update_data,
	.receive_update_vmsa = kvm_receive_update_vmsa,
	.receive_finish = kvm_receive_finish,
	.guest_status = kvm_guest_status,
	.dbg_decrypt = kvm_dbg_decrypt,
	.dbg_encrypt = kvm_dbg_encrypt,
	.platform_status = kvm_platform_status,
	.pdh_cert_export = kvm_pdh_cert_export,
	.get_id = kvm_get_id,
	.destroy = kvm_destroy,
};

bool sevmig_fw_is_kvm(const struct sevmig_fw *fw)
{
	return fw && fw->ops == &sevmig__kvm_ops;
}

/* The numbers of the series' ioctls; 0 when the series has none. */
static void series_requests(enum sevmig_kvm_series s, unsigned long *get, unsigned long *set)
{
	switch (s) {
	case SEVMIG_KVM_SERIES_ENC_BITMAP_2019:
		*get = SEVMIG__KVM_GET_PAGE_ENC_BITMAP_2019;
		*set = SEVMIG__KVM_SET_PAGE_ENC_BITMAP_2019;
		break;
	case SEVMIG_KVM_SERIES_ENC_BITMAP_V6:
		*get = SEVMIG__KVM_GET_PAGE_ENC_BITMAP_V6;
		*set = SEVMIG__KVM_SET_PAGE_ENC_BITMAP_V6;
		break;
	case SEVMIG_KVM_SERIES_SHARED_LIST_V10:
		*get = SEVMIG__KVM_GET_SHARED_PAGES_LIST;
		*set = SEVMIG__KVM_SET_SHARED_PAGES_LIST;
		break;
	default:
		*get = *set = 0;
	}
}

int sevmig_fw_kvm_open(int vm_fd, int sev_fd, const struct sevmig_fw_kvm_opts *opts,
		       struct sevmig_fw **out, struct sevmig_error *err)
{
	if (!out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no place for the handle");
	*out = NULL;
	if (!SEVMIG__OPTS_VALID(opts, struct sevmig_fw_kvm_opts, hypercall_abi))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "sevmig_fw_kvm_opts: fields this library does not know are set "
				    "(sz %zu, known %zu)",
				    opts->sz, sizeof(*opts));
	if (vm_fd < -1 || sev_fd < -1)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "bad file descriptor %d (use -1 for none)",
				    vm_fd < -1 ? vm_fd : sev_fd);
	enum sevmig_kvm_series series = SEVMIG__OPT(opts, series, SEVMIG_KVM_SERIES_NONE);
	enum sevmig_kvm_hypercall_abi abi =
	    SEVMIG__OPT(opts, hypercall_abi, SEVMIG_KVM_HC_ABI_MAP_GPA_RANGE);
	unsigned long get = SEVMIG__OPT(opts, series_get_request, 0UL);
	unsigned long set = SEVMIG__OPT(opts, series_set_request, 0UL);
	if ((unsigned)series > SEVMIG_KVM_SERIES_SHARED_LIST_V10)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "unknown series %u",
				    (unsigned)series);
	if ((unsigned)abi > SEVMIG_KVM_HC_ABI_PAGE_ENC_STATUS)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "unknown hypercall ABI %u",
				    (unsigned)abi);
	if (series == SEVMIG_KVM_SERIES_NONE && (get || set))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "series ioctl numbers given without naming the series");

	struct sevmig__kvm *k = calloc(1, sizeof(*k));
	if (!k)
		return sevmig__fail(err, -ENOMEM, SEVMIG_NO_OFFSET, 0, "out of memory");
	if (pthread_mutex_init(&k->exit_lock, NULL)) {
		free(k);
		return sevmig__fail(err, -ENOMEM, SEVMIG_NO_OFFSET, 0, "out of memory");
	}
	k->vm_fd = vm_fd;
	k->sev_fd = sev_fd;
	k->ioctl = SEVMIG__OPT(opts, ioctl, (sevmig_ioctl_fn)NULL);
	k->ioctl_arg = SEVMIG__OPT(opts, ioctl_arg, (void *)NULL);
	if (!k->ioctl)
		k->ioctl = sevmig__kvm_sys_ioctl;
	k->series = series;
	series_requests(series, &k->series_get, &k->series_set);
	if (get)
		k->series_get = get;
	if (set)
		k->series_set = set;
	k->hc_abi = abi;
	int rc = sevmig__fw_new(&sevmig__kvm_ops, k, 1, out);
	if (rc) {
		kvm_free(k);
		return sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "out of memory");
	}
	return 0;
}

int sevmig_fw_kvm_open_path(int vm_fd, const char *sev_path, const struct sevmig_fw_kvm_opts *opts,
			    struct sevmig_fw **out, struct sevmig_error *err)
{
	if (!out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no place for the handle");
	*out = NULL;
	const char *path = sev_path ? sev_path : "/dev/sev";
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT || e == ENODEV || e == ENXIO)
			return sevmig__fail(err, -EOPNOTSUPP, SEVMIG_NO_OFFSET, 0,
					    "SEV is not available on this host: %s does not exist "
					    "(ccp driver without SEV firmware, or not an AMD host)",
					    path);
		return sevmig__fail(err, -e, SEVMIG_NO_OFFSET, 0, "cannot open %s: %s", path,
				    strerror(e));
	}
	int rc = sevmig_fw_kvm_open(vm_fd, fd, opts, out, err);
	if (rc) {
		close(fd);
		return rc;
	}
	sevmig__kvm_of(*out)->own_sev_fd = true;
	return 0;
}

#endif
