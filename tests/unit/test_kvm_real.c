/* SPDX-License-Identifier: MIT */
/*
 * Against the real /dev/kvm (skipped, exit 77, where it is absent or
 * unusable): the host probe agrees with KVM_CHECK_EXTENSION, an SEV command
 * on a VM without SEV fails with the clear -EOPNOTSUPP, the series' ioctls
 * are reported absent on a stock kernel, the exits can be enabled, and a
 * tiny real guest's WRMSR / RDMSR of MSR_KVM_MIGRATION_CONTROL and its
 * VMCALL of KVM_HC_MAP_GPA_RANGE go through sevmig_fw_kvm_handle_exit().
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

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/kvm_para.h>

#include <sevmig/fw_kvm.h>

#include "fw/kvm/kvm_uapi.h"

static int kvm = -1, vm = -1;

static int new_vm(void)
{
	int fd;
	do
		fd = ioctl(kvm, KVM_CREATE_VM, 0);
	while (fd < 0 && errno == EINTR);
	return fd;
}

static int check(int fd, long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

static void test_probe_host(void **state)
{
	(void)state;
	struct sevmig_kvm_host_info h;
	assert_int_equal(sevmig_kvm_probe_host(NULL, &h), 0);
	assert_int_equal(h.kvm, 0);
	assert_int_equal(h.kvm_api_version, KVM_API_VERSION);
	assert_int_equal(h.hypercall_exits, (uint32_t)check(vm, KVM_CAP_EXIT_HYPERCALL));
	assert_int_equal(h.move_enc_context, check(vm, KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM) > 0);
	assert_int_equal(h.copy_enc_context, check(vm, KVM_CAP_VM_COPY_ENC_CONTEXT_FROM) > 0);
	assert_int_equal(h.user_space_msr, check(vm, KVM_CAP_X86_USER_SPACE_MSR) > 0);
	assert_int_equal(h.msr_filter, check(vm, KVM_CAP_X86_MSR_FILTER) > 0);
	int sev = ioctl(vm, KVM_MEMORY_ENCRYPT_OP, NULL);
	assert_int_equal(h.kvm_sev, sev == 0 ? 1 : 0);
	if (access("/dev/sev", F_OK)) {
		assert_int_equal(h.sev, -ENOENT);
		assert_int_equal(h.platform_rc, -EOPNOTSUPP);
		assert_non_null(strstr(h.platform_message, "SEV is not available on this host"));
	}
	printf("host: KVM API %d, SEV in KVM %d, hypercall exits 0x%x, move %d, user MSR %d, "
	       "filter %d, /dev/sev %d\n",
	       h.kvm_api_version, h.kvm_sev, h.hypercall_exits, h.move_enc_context,
	       h.user_space_msr, h.msr_filter, h.sev);

	/* a path that is not KVM */
	SEVMIG_OPTS(sevmig_kvm_probe_opts, o, .kvm_path = "/nonexistent/kvm",
		    .sev_path = "/nonexistent/sev", .module_dir = "/nonexistent");
	assert_int_equal(sevmig_kvm_probe_host(&o, &h), 0);
	assert_int_equal(h.kvm, -ENOENT);
	assert_int_equal(h.sev, -ENOENT);
	assert_string_equal(h.kvm_amd_sev, "");
}

/* A VM without SEV: every guest command fails plainly, before or at KVM. */
static void test_sev_command_refused(void **state)
{
	(void)state;
	struct sevmig_fw *fw;
	struct sevmig_error err;
	assert_int_equal(sevmig_fw_kvm_open(vm, -1, NULL, &fw, &err), 0);
	uint32_t st;
	struct sevmig_fw_guest_status gs;
	assert_int_equal(sevmig_fw_guest_status(fw, &gs, &st), -EOPNOTSUPP);
	assert_int_equal(st, SEVMIG_FW_STATUS_NONE);
	printf("GUEST_STATUS: %s\n", sevmig_fw_last_error(fw));
	assert_non_null(strstr(sevmig_fw_last_error(fw), "SEV is not available"));
	struct sevmig_fw_send_start ss = { 0 };
	assert_int_equal(sevmig_fw_send_start(fw, &ss, &st), -EOPNOTSUPP);
	assert_int_equal(sevmig_fw_send_finish(fw, &st), -EOPNOTSUPP);
	static uint8_t mem[4096];
	assert_int_equal(sevmig_fw_kvm_register_region(fw, mem, sizeof(mem)), -EOPNOTSUPP);
	sevmig_fw_free(fw);

	if (access("/dev/sev", F_OK)) {
		sevmig_error_clear(&err);
		assert_int_equal(sevmig_fw_kvm_open_path(vm, NULL, NULL, &fw, &err), -EOPNOTSUPP);
		assert_non_null(strstr(err.message, "SEV is not available on this host"));
	}
}

/* The library asks the running kernel what a VM supports: its answer is
 * KVM_CHECK_EXTENSION's, and a VM without attributes is refused before
 * any KVM_SET_MEMORY_ATTRIBUTES. (test_kvm_real_attributes uses a VM type
 * that has them, where the host offers one.) */
static void test_memory_attributes_probe(void **state)
{
	(void)state;
	struct sevmig_fw *fw;
	assert_int_equal(sevmig_fw_kvm_open(vm, -1, NULL, &fw, NULL), 0);
	uint64_t bits = 99;
	assert_int_equal(sevmig_fw_kvm_memory_attributes(fw, &bits), 0);
	assert_int_equal(bits, (uint64_t)check(vm, SEVMIG__KVM_CAP_MEMORY_ATTRIBUTES));
	printf("default VM: KVM_CAP_MEMORY_ATTRIBUTES 0x%llx, VM types 0x%x, guest_memfd %d\n",
	       (unsigned long long)bits, check(kvm, SEVMIG__KVM_CAP_VM_TYPES),
	       check(vm, SEVMIG__KVM_CAP_GUEST_MEMFD));
	if (!bits) {
		struct sevmig_pstate *ps;
		assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
		assert_int_equal(sevmig_pstate_add_slot(ps, 0, 16), 0);
		size_t done = 9;
		assert_int_equal(sevmig_fw_kvm_apply_memory_attributes(fw, NULL, ps, &done),
				 -EOPNOTSUPP);
		assert_int_equal(done, 0);
		assert_non_null(strstr(sevmig_fw_last_error(fw), "no memory attributes"));
		sevmig_pstate_free(ps);
	}
	sevmig_fw_free(fw);
}

/* A stock kernel: the series' ioctls are absent, and probing them is safe. */
static void test_series_absent(void **state)
{
	(void)state;
	const enum sevmig_kvm_series all[] = { SEVMIG_KVM_SERIES_ENC_BITMAP_2019,
					       SEVMIG_KVM_SERIES_ENC_BITMAP_V6,
					       SEVMIG_KVM_SERIES_SHARED_LIST_V10 };
	for (size_t i = 0; i < 3; i++) {
		SEVMIG_OPTS(sevmig_fw_kvm_opts, o, .series = all[i]);
		struct sevmig_fw *fw;
		assert_int_equal(sevmig_fw_kvm_open(vm, -1, &o, &fw, NULL), 0);
		assert_int_equal(sevmig_fw_kvm_probe_pstate_ioctls(fw), -EOPNOTSUPP);
		assert_non_null(
		    strstr(sevmig_fw_last_error(fw), "is not available on this kernel"));
		sevmig_fw_free(fw);
	}
}

static void test_move_enc_context(void **state)
{
	(void)state;
	int other = new_vm();
	assert_true(other >= 0);
	struct sevmig_fw *fw;
	assert_int_equal(sevmig_fw_kvm_open(vm, -1, NULL, &fw, NULL), 0);
	int rc = sevmig_fw_kvm_move_enc_context_from(fw, other);
	printf("move from a VM without SEV: %d: %s\n", rc, sevmig_fw_last_error(fw));
	assert_true(rc == -EINVAL || rc == -EOPNOTSUPP);
	sevmig_fw_free(fw);
	close(other);
}

/* ---- a tiny real guest ------------------------------------------------------------- */

static void on_alarm(int sig)
{
	(void)sig;
}

/* 32-bit flat protected mode, code at 0x1000:
 *   0x1000 wrmsr; 0x1002 rdmsr; 0x1004 hlt; 0x1005 vmcall; 0x1008 hlt */
static const uint8_t code[] = { 0x0f, 0x30, 0x0f, 0x32, 0xf4, 0x0f, 0x01, 0xc1, 0xf4 };

struct guest {
	int vcpu;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *mem;
};

static void guest_setup(struct guest *g, int vmfd)
{
	g->mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(g->mem != MAP_FAILED);
	memcpy(g->mem + 0x1000, code, sizeof(code));
	struct kvm_userspace_memory_region reg = { .slot = 0,
						   .guest_phys_addr = 0,
						   .memory_size = 0x10000,
						   .userspace_addr = (uintptr_t)g->mem };
	assert_int_equal(ioctl(vmfd, KVM_SET_USER_MEMORY_REGION, &reg), 0);
	g->vcpu = ioctl(vmfd, KVM_CREATE_VCPU, 0);
	assert_true(g->vcpu >= 0);
	int sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	assert_true(sz > 0);
	g->run_size = (size_t)sz;
	g->run = mmap(NULL, g->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, g->vcpu, 0);
	assert_true(g->run != MAP_FAILED);
	struct kvm_sregs s;
	assert_int_equal(ioctl(g->vcpu, KVM_GET_SREGS, &s), 0);
	/* flat 4 GiB segments: code (type 11) for cs, data (type 3) for the rest */
	struct kvm_segment *segs[] = { &s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss };
	for (int i = 0; i < 6; i++)
		*segs[i] = (struct kvm_segment){ .limit = 0xffffffff,
						 .selector = i ? 16 : 8,
						 .type = i ? 3 : 11,
						 .present = 1,
						 .db = 1,
						 .s = 1,
						 .g = 1 };
	s.cr0 |= 1; /* protected mode: real mode is emulated, and the emulator
		     * does not complete hypercalls everywhere */
	assert_int_equal(ioctl(g->vcpu, KVM_SET_SREGS, &s), 0);
}

static void guest_regs(struct guest *g, uint64_t rip, uint64_t rax, uint64_t rbx, uint64_t rcx,
		       uint64_t rdx)
{
	struct kvm_regs r;
	memset(&r, 0, sizeof(r));
	r.rip = rip;
	r.rflags = 2;
	r.rax = rax;
	r.rbx = rbx;
	r.rcx = rcx;
	r.rdx = rdx;
	assert_int_equal(ioctl(g->vcpu, KVM_SET_REGS, &r), 0);
}

/* Run until HLT, feeding exits to the library. -EINTR: the watchdog fired. */
static int guest_run(struct guest *g, struct sevmig_fw *fw, struct sevmig_pstate *ps, int *handled)
{
	for (;;) {
		if (ioctl(g->vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				return -EINTR;
			fail_msg("KVM_RUN: %s", strerror(errno));
		}
		if (g->run->exit_reason == KVM_EXIT_HLT)
			return 0;
		int rc = sevmig_fw_kvm_handle_exit(fw, g->run, ps);
		if (rc != 1)
			fail_msg("exit %u not handled: %d", g->run->exit_reason, rc);
		(*handled)++;
	}
}

static void test_real_guest(void **state)
{
	(void)state;
	int vmfd = new_vm();
	assert_true(vmfd >= 0);
	struct sevmig_fw *fw;
	assert_int_equal(sevmig_fw_kvm_open(vmfd, -1, NULL, &fw, NULL), 0);
	bool hc = check(vmfd, KVM_CAP_EXIT_HYPERCALL) & (1 << KVM_HC_MAP_GPA_RANGE);
	bool msr = check(vmfd, KVM_CAP_X86_USER_SPACE_MSR) && check(vmfd, KVM_CAP_X86_MSR_FILTER);
	unsigned flags = (hc ? SEVMIG_KVM_EXIT_HYPERCALL : 0) | (msr ? SEVMIG_KVM_EXIT_MSR : 0);
	if (!flags) {
		sevmig_fw_free(fw);
		close(vmfd);
		skip();
	}
	assert_int_equal(sevmig_fw_kvm_enable_exits(fw, flags), 0);
	struct guest g;
	guest_setup(&g, vmfd);
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, 0, 16), 0);

	int handled = 0;
	struct kvm_regs r;
	if (msr) {
		/* wrmsr(MSR_KVM_MIGRATION_CONTROL, READY); rdmsr back */
		assert_false(sevmig_fw_kvm_migration_ready(fw));
		guest_regs(&g, 0x1000, KVM_MIGRATION_READY, 0, MSR_KVM_MIGRATION_CONTROL, 0);
		assert_int_equal(guest_run(&g, fw, ps, &handled), 0);
		assert_int_equal(handled, 2);
		assert_true(sevmig_fw_kvm_migration_ready(fw));
		assert_int_equal(ioctl(g.vcpu, KVM_GET_REGS, &r), 0);
		assert_int_equal(r.rax & 0xffffffff, KVM_MIGRATION_READY);
	}
	if (hc) {
		/* KVM_HC_MAP_GPA_RANGE(0x2000, 2 pages, decrypted), with a watchdog:
		 * some nested hosts never deliver an L2 guest's VMCALL */
		struct sigaction sa = { .sa_handler = on_alarm }, old;
		sigaction(SIGALRM, &sa, &old);
		guest_regs(&g, 0x1005, KVM_HC_MAP_GPA_RANGE, 0x2000, 2,
			   KVM_MAP_GPA_RANGE_DECRYPTED);
		handled = 0;
		alarm(2);
		int rc = guest_run(&g, fw, ps, &handled);
		alarm(0);
		sigaction(SIGALRM, &old, NULL);
		if (rc == -EINTR) {
			printf("the host did not deliver the guest's VMCALL within 2 s (seen under "
			       "nested virtualization): the hypercall part is skipped\n");
		} else {
			assert_int_equal(handled, 1);
			assert_int_equal(ioctl(g.vcpu, KVM_GET_REGS, &r), 0);
			assert_int_equal(r.rax, 0);
			assert_int_equal(sevmig_pstate_get(ps, 2), SEVMIG_PAGE_SHARED);
			assert_int_equal(sevmig_pstate_get(ps, 3), SEVMIG_PAGE_SHARED);
			assert_int_equal(sevmig_pstate_get(ps, 4), SEVMIG_PAGE_PRIVATE);
		}
	}
	sevmig_pstate_free(ps);
	sevmig_fw_free(fw);
	munmap(g.run, g.run_size);
	munmap(g.mem, 0x10000);
	close(g.vcpu);
	close(vmfd);
}

int main(void)
{
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("skipped: /dev/kvm: %s\n", strerror(errno));
		return 77;
	}
	vm = new_vm();
	if (vm < 0) {
		printf("skipped: KVM_CREATE_VM: %s\n", strerror(errno));
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_host),
		cmocka_unit_test(test_sev_command_refused),
		cmocka_unit_test(test_series_absent),
		cmocka_unit_test(test_move_enc_context),
		cmocka_unit_test(test_real_guest),
		cmocka_unit_test(test_memory_attributes_probe),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	close(vm);
	close(kvm);
	return rc;
}
#endif
