/* SPDX-License-Identifier: MIT */
/* The KVM backend's state and the helpers its files share. */
#ifndef SEVMIG_FW_KVM_PRIV_H
#define SEVMIG_FW_KVM_PRIV_H

#include <pthread.h>

#include "fw/fw_backend.h"
#include "fw/kvm/kvm_abi.h"
#include "fw/kvm/kvm_uapi.h"

/* A memslot added through sevmig_fw_kvm_add_memslot() (kvm_memslots.c). */
struct sevmig__kvm_memslot {
	uint64_t gfn, npages;
	uintptr_t hva; /* of page gfn */
};

/* A range registered with KVM_MEMORY_ENCRYPT_REG_REGION for a memslot:
 * pages [gfn, gfn + npages) at the slot's matching host address. */
struct sevmig__kvm_region {
	uint64_t gfn, npages;
	uintptr_t hva;
};

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
	/* KVM_CAP_MEMORY_ATTRIBUTES, under exit_lock: asked (1) or not. */
	int attr_probed;
	uint64_t attr_supported;

	/* The memslot lifecycle (kvm_memslots.c): both sorted by gfn. */
	struct sevmig__kvm_memslot *slots;
	size_t nslots, slots_cap;
	struct sevmig__kvm_region *regions;
	size_t nregions, regions_cap;
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

/* -EINVAL (with a message) unless fw is a KVM handle (any fds). */
int sevmig__kvm_need_kvm(struct sevmig_fw *fw, const char *what, struct sevmig__kvm **out);

/* The supported attribute bits, asked once (call under exit_lock). */
int sevmig__kvm_attr_supported(struct sevmig_fw *fw, struct sevmig__kvm *k, uint64_t *bits);

/* KVM_MEMORY_ENCRYPT_REG_REGION or UNREG_REGION (`req`) of [addr, addr +
 * size), with the handle's message on failure (kvm_vm.c). */
int sevmig__kvm_region_call(struct sevmig_fw *fw, const char *what, unsigned long req, void *addr,
			    uint64_t size);

/* Unregister every region left and free the lifecycle's records (the
 * handle goes: errors can only be ignored). */
void sevmig__kvm_memslots_release(struct sevmig__kvm *k);

#endif
