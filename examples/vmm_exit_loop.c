/* SPDX-License-Identifier: MIT */
/*
 * A minimal VMM exit loop that tracks a guest's page state the mainline
 * way: it enables hypercall and MSR exits, runs a vCPU, and hands every exit
 * to sevmig_fw_kvm_handle_exit(), which applies KVM_HC_MAP_GPA_RANGE to a
 * page-state map and records the guest's MSR_KVM_MIGRATION_CONTROL.
 *
 * What it runs: a real, tiny guest under /dev/kvm (no SEV needed: the exits
 * are the same for any VM). 28 bytes of 32-bit code that do what a Linux SEV
 * guest does at boot, in miniature:
 *     wrmsr(MSR_KVM_MIGRATION_CONTROL, KVM_MIGRATION_READY)
 *     vmcall(KVM_HC_MAP_GPA_RANGE, 0x3000, 2 pages, decrypted)
 *     hlt
 * Some hosts never deliver a nested guest's VMCALL (seen under nested
 * virtualization): a 2-second watchdog then stops the loop and says so.
 * Exit status: 0 done, 1 failure, 77 no usable /dev/kvm.
 *
 * In a real SEV VMM the VM is an SEV guest (KVM_SEV_INIT and the launch
 * commands), the handle is opened with the /dev/sev fd, the map covers
 * every memslot, the CPUID leaf 0x40000001 advertises
 * SEVMIG_KVM_FEATURE_HC_MAP_GPA_RANGE and ..._MIGRATION_CONTROL, and each
 * vCPU thread runs this loop. docs/kvm-interface.md walks through it.
 */
#if !defined(__x86_64__)
#include <stdio.h>
int main(void)
{
	puts("skipped: SEV, and so this program, exists on x86-64 only");
	return 77;
}
#else
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <sevmig/sevmig.h>

#define MEM_SIZE 0x10000 /* 16 pages at gpa 0 */
#define CODE_GPA 0x1000

static const unsigned char guest_code[] = {
	0xb9, 0x08, 0x4d, 0x56, 0x4b, /* mov ecx, MSR_KVM_MIGRATION_CONTROL */
	0xb8, 0x01, 0x00, 0x00, 0x00, /* mov eax, KVM_MIGRATION_READY */
	0x31, 0xd2,		      /* xor edx, edx */
	0x0f, 0x30,		      /* wrmsr */
	0xb8, 0x0c, 0x00, 0x00, 0x00, /* mov eax, KVM_HC_MAP_GPA_RANGE */
	0xbb, 0x00, 0x30, 0x00, 0x00, /* mov ebx, 0x3000 (gpa) */
	0xb9, 0x02, 0x00, 0x00, 0x00, /* mov ecx, 2 (pages) */
	0x31, 0xd2,		      /* xor edx, edx (attrs: decrypted) */
	0x0f, 0x01, 0xc1,	      /* vmcall */
	0xf4,			      /* hlt */
};

static void on_alarm(int sig)
{
	(void)sig; /* only to make KVM_RUN return EINTR */
}

/* 32-bit flat protected mode at CODE_GPA. */
static int setup_vcpu(int vcpu)
{
	struct kvm_sregs s;
	if (ioctl(vcpu, KVM_GET_SREGS, &s) < 0)
		return -1;
	struct kvm_segment seg = { .base = 0,
				   .limit = 0xffffffff,
				   .selector = 8,
				   .type = 11,
				   .present = 1,
				   .db = 1,
				   .s = 1,
				   .g = 1 };
	s.cs = seg;
	seg.type = 3;
	seg.selector = 16;
	s.ds = s.es = s.fs = s.gs = s.ss = seg;
	s.cr0 |= 1;
	if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0)
		return -1;
	struct kvm_regs r;
	memset(&r, 0, sizeof(r));
	r.rip = CODE_GPA;
	r.rflags = 2;
	return ioctl(vcpu, KVM_SET_REGS, &r);
}

/* The loop a vCPU thread runs: the library first, the VMM's own exits after. */
static int run_vcpu(int vcpu, struct kvm_run *run, struct sevmig_fw *fw, struct sevmig_pstate *ps)
{
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR) {
				printf("no exit within 2 s: this host did not deliver the guest's "
				       "VMCALL (seen under nested virtualization)\n");
				return 0;
			}
			perror("KVM_RUN");
			return -1;
		}
		int rc = sevmig_fw_kvm_handle_exit(fw, run, ps);
		if (rc < 0) {
			fprintf(stderr, "exit handling failed: %s\n", sevmig_strerror(rc));
			return -1;
		}
		if (rc == 1)
			continue; /* a page-state hypercall or the migration MSR */
		switch (run->exit_reason) {
		case KVM_EXIT_HLT:
			return 0;
		default:
			fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
			return -1;
		}
	}
}

static int print_run(void *arg, uint64_t gfn, uint64_t npages)
{
	(void)arg;
	printf("  shared: gfn 0x%llx, %llu pages\n", (unsigned long long)gfn,
	       (unsigned long long)npages);
	return 0;
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("skipped: /dev/kvm: %s\n", strerror(errno));
		return 77;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		printf("skipped: KVM_CREATE_VM: %s\n", strerror(errno));
		return 77;
	}
	void *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	memcpy((char *)mem + CODE_GPA, guest_code, sizeof(guest_code));
	struct kvm_userspace_memory_region slot = { .slot = 0,
						    .guest_phys_addr = 0,
						    .memory_size = MEM_SIZE,
						    .userspace_addr = (unsigned long)mem };
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		return 1;

	/* The library's side: a handle on the VM, and a map of its memory. */
	struct sevmig_fw *fw;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	if (sevmig_fw_kvm_open(vm, -1, NULL, &fw, &err)) {
		fprintf(stderr, "%s\n", err.message);
		return 1;
	}
	struct sevmig_pstate *ps;
	if (sevmig_pstate_new(&ps, NULL) ||
	    sevmig_pstate_add_slot(ps, 0, MEM_SIZE / SEVMIG_PAGE_SIZE))
		return 1;
	int rc = sevmig_fw_kvm_enable_exits(fw, SEVMIG_KVM_EXIT_HYPERCALL | SEVMIG_KVM_EXIT_MSR);
	if (rc) {
		printf("skipped: %s\n", sevmig_fw_last_error(fw));
		return 77;
	}

	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || run_size <= 0 || setup_vcpu(vcpu) < 0)
		return 1;
	struct kvm_run *run =
	    mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return 1;

	struct sigaction sa = { .sa_handler = on_alarm };
	sigaction(SIGALRM, &sa, NULL);
	alarm(2);
	rc = run_vcpu(vcpu, run, fw, ps);
	alarm(0);

	/* What the VMM now knows. A migration thread would read the map under
	 * sevmig_fw_kvm_pstate_lock() while vCPUs run. */
	struct sevmig_kvm_exit_stats st;
	sevmig_fw_kvm_exit_stats(fw, &st);
	printf("guest ready for migration: %s\n", sevmig_fw_kvm_migration_ready(fw) ? "yes" : "no");
	printf("page-state hypercalls: %llu applied, %llu refused\n",
	       (unsigned long long)st.applied, (unsigned long long)st.rejected);
	sevmig_fw_kvm_pstate_lock(fw);
	(void)sevmig_pstate_walk(ps, 0, MEM_SIZE / SEVMIG_PAGE_SIZE, SEVMIG_PAGE_SHARED, print_run,
				 NULL);
	sevmig_fw_kvm_pstate_unlock(fw);

	sevmig_pstate_free(ps);
	sevmig_fw_free(fw);
	munmap(run, (size_t)run_size);
	munmap(mem, MEM_SIZE);
	close(vcpu);
	close(vm);
	close(kvm);
	return rc ? 1 : 0;
}
#endif
