/* SPDX-License-Identifier: MIT */
/*
 * SEV exists on x86-64 only. Elsewhere the library still builds (the soft
 * backend, the page state and the stream are portable) and the KVM
 * backend's functions say plainly that there is no such backend here.
 */
#if !defined(__x86_64__)

#include <errno.h>
#include <string.h>

#include <sevmig/fw_kvm.h>

#include "fw/fw_backend.h"

#define NOT_HERE "the KVM SEV backend exists for x86-64 hosts only"

int sevmig_fw_kvm_open(int vm_fd, int sev_fd, const struct sevmig_fw_kvm_opts *opts,
		       struct sevmig_fw **out, struct sevmig_error *err)
{
	(void)vm_fd, (void)sev_fd, (void)opts;
	if (out)
		*out = NULL;
	return sevmig__fail(err, -EOPNOTSUPP, SEVMIG_NO_OFFSET, 0, NOT_HERE);
}

int sevmig_fw_kvm_open_path(int vm_fd, const char *sev_path, const struct sevmig_fw_kvm_opts *opts,
			    struct sevmig_fw **out, struct sevmig_error *err)
{
	(void)sev_path;
	return sevmig_fw_kvm_open(vm_fd, -1, opts, out, err);
}

bool sevmig_fw_is_kvm(const struct sevmig_fw *fw)
{
	(void)fw;
	return false;
}

/* No handle here is a KVM handle. */
static int not_kvm(struct sevmig_fw *fw)
{
	if (!fw)
		return -EINVAL;
	return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
			       "this is not a KVM backend handle (" NOT_HERE ")");
}

int sevmig_fw_kvm_register_region(struct sevmig_fw *fw, void *addr, uint64_t size)
{
	(void)addr, (void)size;
	return not_kvm(fw);
}

int sevmig_fw_kvm_unregister_region(struct sevmig_fw *fw, void *addr, uint64_t size)
{
	(void)addr, (void)size;
	return not_kvm(fw);
}

int sevmig_fw_kvm_move_enc_context_from(struct sevmig_fw *fw, int src_vm_fd)
{
	(void)src_vm_fd;
	return not_kvm(fw);
}

int sevmig_fw_kvm_enable_exits(struct sevmig_fw *fw, unsigned flags)
{
	(void)flags;
	return not_kvm(fw);
}

int sevmig_fw_kvm_handle_exit(struct sevmig_fw *fw, void *run, struct sevmig_pstate *ps)
{
	(void)run, (void)ps;
	return not_kvm(fw);
}

void sevmig_fw_kvm_pstate_lock(struct sevmig_fw *fw)
{
	(void)fw;
}

void sevmig_fw_kvm_pstate_unlock(struct sevmig_fw *fw)
{
	(void)fw;
}

void sevmig_fw_kvm_exit_stats(struct sevmig_fw *fw, struct sevmig_kvm_exit_stats *out)
{
	(void)fw;
	if (out)
		memset(out, 0, sizeof(*out));
}

bool sevmig_fw_kvm_migration_ready(struct sevmig_fw *fw)
{
	(void)fw;
	return false;
}

int sevmig_fw_kvm_set_migration_control(struct sevmig_fw *fw, uint64_t value)
{
	(void)value;
	return not_kvm(fw);
}

int sevmig_fw_kvm_probe_pstate_ioctls(struct sevmig_fw *fw)
{
	return not_kvm(fw);
}

int sevmig_fw_kvm_get_pstate(struct sevmig_fw *fw, struct sevmig_pstate *ps)
{
	(void)ps;
	return not_kvm(fw);
}

int sevmig_fw_kvm_set_pstate(struct sevmig_fw *fw, const struct sevmig_pstate *ps)
{
	(void)ps;
	return not_kvm(fw);
}

int sevmig_fw_kvm_memory_attributes(struct sevmig_fw *fw, uint64_t *supported)
{
	if (supported)
		*supported = 0;
	return not_kvm(fw);
}

int sevmig_fw_kvm_set_memory_attributes(struct sevmig_fw *fw,
					const struct sevmig_memory_attributes *r, size_t n,
					size_t *done)
{
	(void)r, (void)n;
	if (done)
		*done = 0;
	return not_kvm(fw);
}

int sevmig_fw_kvm_apply_memory_attributes(struct sevmig_fw *fw, const struct sevmig_pstate *prev,
					  const struct sevmig_pstate *next, size_t *done)
{
	(void)prev, (void)next;
	if (done)
		*done = 0;
	return not_kvm(fw);
}

int sevmig_fw_kvm_memory_fault(struct sevmig_fw *fw, void *run, struct sevmig_pstate *ps,
			       struct sevmig_memory_fault *out)
{
	(void)run, (void)ps, (void)out;
	return not_kvm(fw);
}

int sevmig_fw_kvm_add_memslot(struct sevmig_fw *fw, struct sevmig_pstate *ps, uint64_t gpa,
			      uint64_t size, void *hva)
{
	(void)ps, (void)gpa, (void)size, (void)hva;
	return not_kvm(fw);
}

int sevmig_fw_kvm_remove_memslot(struct sevmig_fw *fw, struct sevmig_pstate *ps, uint64_t gpa,
				 uint64_t size)
{
	(void)ps, (void)gpa, (void)size;
	return not_kvm(fw);
}

int sevmig_fw_kvm_discard(struct sevmig_fw *fw, struct sevmig_pstate *ps, uint64_t gpa,
			  uint64_t size)
{
	(void)ps, (void)gpa, (void)size;
	return not_kvm(fw);
}

size_t sevmig_fw_kvm_region_count(struct sevmig_fw *fw)
{
	(void)fw;
	return 0;
}

int sevmig_fw_kvm_region(struct sevmig_fw *fw, size_t i, struct sevmig_kvm_region *out)
{
	(void)i, (void)out;
	return not_kvm(fw);
}

int sevmig_kvm_probe_host(const struct sevmig_kvm_probe_opts *opts,
			  struct sevmig_kvm_host_info *out)
{
	(void)opts;
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->kvm = out->kvm_sev = out->sev = out->platform_rc = -EOPNOTSUPP;
	out->platform_fw_status = SEVMIG_FW_STATUS_NONE;
	strcpy(out->platform_message, NOT_HERE);
	return 0;
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int sevmig__kvm_other_arch_unused;
#endif
