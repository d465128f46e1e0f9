/* SPDX-License-Identifier: MIT */
/* The KVM backend's state and the helpers its files share. */
#ifndef SEVMIG_FW_KVM_PRIV_H
#define SEVMIG_FW_KVM_PRIV_H

#include <pthread.h>

#include "fw/fw_backend.h"
#include "fw/kvm/kvm_abi.h"

struct sevmig__kvm {
	int vm_fd;  /* -1: platform commands only */
	int sev_fd; /* -1: no /dev/sev */
	bool own_sev_fd;
	/* Why there is no /dev/sev fd, for the message of the commands that
	 * need one ("" when the caller simply gave none). */
	char no_sev_reason[96];
	sevmig_ioctl_fn ioctl;
	void *ioctl_arg;

	/* SEND_UPDATE_DATA's header length, learned by the first length query
	 * (the firmware's answer does not change while the handle lives). */
	uint32_t send_hdr_len;

	/* The series' page-state ioctls: 0 unprobed, 1 present, -1 absent. */
	enum sevmig_kvm_series series;
	unsigned long series_get, series_set;
	int series_present;

	/* Exit handling, under exit_lock (vCPU threads). */
	enum sevmig_kvm_hypercall_abi hc_abi;
	pthread_mutex_t exit_lock;
	struct sevmig_kvm_exit_stats exits;
};

extern const struct sevmig_fw_ops sevmig__kvm_ops;

static inline struct sevmig__kvm *sevmig__kvm_of(struct sevmig_fw *fw)
{
	return fw->priv;
}

/* ioctl(2) as a sevmig_ioctl_fn. */
int sevmig__kvm_sys_ioctl(void *arg, int fd, unsigned long req, void *data);

/*
 * One ioctl through the handle's function, repeated while interrupted:
 * returns what it returns (>= 0 or a negative errno).
 */
int sevmig__kvm_ioctl(struct sevmig__kvm *k, int fd, unsigned long req, void *data);

/*
 * A command through KVM_MEMORY_ENCRYPT_OP. Returns the ioctl's result;
 * *fw_status gets the firmware's status when it answered (success, or
 * -EIO with an error code), SEVMIG_FW_STATUS_NONE otherwise.
 */
int sevmig__kvm_sev_cmd(struct sevmig__kvm *k, uint32_t id, void *data, uint32_t *fw_status);

/*
 * Turn a failed kernel call into the handle's message and the error the
 * caller gets: `what` names the command ("SEND_START"), `rc` the ioctl's
 * result, `status` the firmware's answer or SEVMIG_FW_STATUS_NONE. For
 * guest commands (vm true) ENOTTY means "no SEV here" and becomes
 * -EOPNOTSUPP after a probe that says which of host or VM lacks it.
 */
int sevmig__kvm_fail(struct sevmig_fw *fw, const char *what, bool vm, int rc, uint32_t status);

/* -EINVAL (with a message) unless fw is a KVM handle with a VM fd. */
int sevmig__kvm_need_vm(struct sevmig_fw *fw, const char *what, struct sevmig__kvm **out);

/* KVM_CHECK_EXTENSION on the VM fd: the kernel's answer (0 absent). */
int sevmig__kvm_check_extension(struct sevmig__kvm *k, int fd, long cap);

/* KVM_ENABLE_CAP on the VM fd with args[0] = arg0. */
int sevmig__kvm_enable_cap(struct sevmig__kvm *k, uint32_t cap, uint64_t arg0);

#endif
