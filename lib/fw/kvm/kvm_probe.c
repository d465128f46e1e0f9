/* SPDX-License-Identifier: MIT */
/* What this host offers for SEV migration, for `sevmig-dump host` and for
 * VMMs deciding what to enable. Looks, changes nothing. */
#if defined(__x86_64__) /* else kvm_other_arch.c */
#include "fw/kvm/kvm_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

SEVMIG__OPTS_LAST(struct sevmig_kvm_probe_opts, module_dir);

/* A module parameter's value ("Y", "1", ...), "" when the file is absent. */
static void read_param(const char *dir, const char *name, char *out, size_t size)
{
	char path[512];
	out[0] = '\0';
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, out, size - 1);
	close(fd);
	if (n < 0)
		n = 0;
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

static void probe_kvm(struct sevmig__kvm *k, const char *path, struct sevmig_kvm_host_info *out)
{
	int kfd = open(path, O_RDWR | O_CLOEXEC);
	if (kfd < 0) {
		out->kvm = -errno;
		return;
	}
	int rc = sevmig__kvm_ioctl(k, kfd, KVM_GET_API_VERSION, NULL);
	out->kvm_api_version = rc > 0 ? rc : 0;
	/* Some capabilities are per VM: ask a fresh one (type 0, default). */
	int vm = rc < 0 ? rc : sevmig__kvm_ioctl(k, kfd, KVM_CREATE_VM, NULL);
	if (vm < 0) {
		out->kvm = vm;
		close(kfd);
		return;
	}
	int mask = sevmig__kvm_check_extension(k, vm, KVM_CAP_EXIT_HYPERCALL);
	out->hypercall_exits = mask > 0 ? (uint32_t)mask : 0;
	out->move_enc_context =
	    sevmig__kvm_check_extension(k, vm, KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM) > 0;
	out->copy_enc_context =
	    sevmig__kvm_check_extension(k, vm, KVM_CAP_VM_COPY_ENC_CONTEXT_FROM) > 0;
	out->user_space_msr = sevmig__kvm_check_extension(k, vm, KVM_CAP_X86_USER_SPACE_MSR) > 0;
	out->msr_filter = sevmig__kvm_check_extension(k, vm, KVM_CAP_X86_MSR_FILTER) > 0;
	/* With SEV in KVM a NULL command is a no-op answered with 0. */
	rc = sevmig__kvm_ioctl(k, vm, KVM_MEMORY_ENCRYPT_OP, NULL);
	out->kvm_sev = rc >= 0 ? 1 : rc == -ENOTTY ? 0 : rc;
	close(vm);
	close(kfd);
}

static void probe_sev(const struct sevmig_kvm_probe_opts *opts, const char *path,
		      struct sevmig_kvm_host_info *out)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		out->sev = -e;
		out->platform_rc = e == ENOENT || e == ENODEV || e == ENXIO ? -EOPNOTSUPP : -e;
		out->platform_fw_status = SEVMIG_FW_STATUS_NONE;
		snprintf(out->platform_message, sizeof(out->platform_message),
			 e == ENOENT ? "SEV is not available on this host: %s does not exist"
				     : "cannot open %s: %s",
			 path, strerror(e));
		return;
	}
	SEVMIG_OPTS(sevmig_fw_kvm_opts, fo,
		    .ioctl = SEVMIG__OPT(opts, ioctl, (sevmig_ioctl_fn)NULL),
		    .ioctl_arg = SEVMIG__OPT(opts, ioctl_arg, (void *)NULL));
	struct sevmig_fw *fw;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	int rc = sevmig_fw_kvm_open(-1, fd, &fo, &fw, &err);
	if (rc) {
		out->platform_rc = rc;
		snprintf(out->platform_message, sizeof(out->platform_message), "%s", err.message);
	} else {
		rc = sevmig_fw_platform_status(fw, &out->platform, &out->platform_fw_status);
		out->platform_rc = rc;
		if (rc)
			snprintf(out->platform_message, sizeof(out->platform_message), "%s",
				 sevmig_fw_last_error(fw));
		sevmig_fw_free(fw);
	}
	close(fd);
}

int sevmig_kvm_probe_host(const struct sevmig_kvm_probe_opts *opts,
			  struct sevmig_kvm_host_info *out)
{
	if (!out || !SEVMIG__OPTS_VALID(opts, struct sevmig_kvm_probe_opts, module_dir))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	struct sevmig__kvm k = {
		.vm_fd = -1,
		.sev_fd = -1,
		.ioctl = SEVMIG__OPT(opts, ioctl, (sevmig_ioctl_fn)NULL),
		.ioctl_arg = SEVMIG__OPT(opts, ioctl_arg, (void *)NULL),
	};
	if (!k.ioctl)
		k.ioctl = sevmig__kvm_sys_ioctl;
	const char *kvm_path = SEVMIG__OPT(opts, kvm_path, (const char *)NULL);
	const char *sev_path = SEVMIG__OPT(opts, sev_path, (const char *)NULL);
	const char *dir = SEVMIG__OPT(opts, module_dir, (const char *)NULL);

	probe_kvm(&k, kvm_path ? kvm_path : "/dev/kvm", out);
	dir = dir ? dir : "/sys/module/kvm_amd/parameters";
	read_param(dir, "sev", out->kvm_amd_sev, sizeof(out->kvm_amd_sev));
	read_param(dir, "sev_es", out->kvm_amd_sev_es, sizeof(out->kvm_amd_sev_es));
	probe_sev(opts, sev_path ? sev_path : "/dev/sev", out);
	return 0;
}

#endif
