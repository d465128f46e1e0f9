/* SPDX-License-Identifier: MIT */
/*
 * Memory attributes on the real /dev/kvm: a VM of the first type the
 * running kernel offers whose KVM_CAP_MEMORY_ATTRIBUTES includes PRIVATE
 * (KVM_X86_SW_PROTECTED_VM, SNP, TDX, ...), with a guest_memfd memslot when
 * the kernel has guest_memfd, bound in the map; the whole map applied,
 * then a diff; a synthetic memory-fault exit converted through the real
 * ioctl. Skipped (77), saying what the host offers, when no VM type has
 * the attribute (a stock x86 host whose kernel lacks
 * CONFIG_KVM_SW_PROTECTED_VM and has no SEV-SNP or TDX, as the development
 * host of this project: there test_kvm_real checks the probe instead).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <sevmig/fw_kvm.h>

#include "fw/kvm/kvm_uapi.h"

#define PG    ((uint64_t)SEVMIG_PAGE_SIZE)
#define PAGES 512 /* 2 MiB */

static int kvm = -1, vm = -1, gmem = -1, vm_type = -1;
static void *mem;

static int check(int fd, long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

static void test_apply_and_fault(void **state)
{
	(void)state;
	struct sevmig_fw *fw;
	assert_int_equal(sevmig_fw_kvm_open(vm, -1, NULL, &fw, NULL), 0);
	uint64_t bits = 0;
	assert_int_equal(sevmig_fw_kvm_memory_attributes(fw, &bits), 0);
	assert_true(bits & SEVMIG_MEMORY_ATTRIBUTE_PRIVATE);

	struct sevmig_pstate *prev, *next;
	assert_int_equal(sevmig_pstate_new(&prev, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(prev, 0, PAGES), 0);
	if (gmem >= 0) {
		assert_int_equal(sevmig_pstate_bind_gmem(prev, 0, PAGES, gmem, 0), 0);
		uint64_t gfn;
		assert_int_equal(sevmig_pstate_gmem_to_gfn(prev, gmem, 5 * PG, &gfn), 0);
		assert_int_equal(gfn, 5);
	}
	size_t done = 0;
	assert_int_equal(sevmig_fw_kvm_apply_memory_attributes(fw, NULL, prev, &done), 0);
	assert_int_equal(done, 1);

	/* a few pages shared, one range private again: only the diff */
	assert_int_equal(sevmig_pstate_clone(prev, &next, NULL), 0);
	assert_int_equal(sevmig_pstate_set_range(next, 16, 4, SEVMIG_PAGE_SHARED), 0);
	assert_int_equal(sevmig_pstate_set_range(next, 100, 1, SEVMIG_PAGE_SHARED), 0);
	assert_int_equal(sevmig_fw_kvm_apply_memory_attributes(fw, prev, next, &done), 0);
	assert_int_equal(done, 2);

	/* what the VM does not support is refused before the kernel */
	struct sevmig_memory_attributes bad = { 0, PG, SEVMIG_MEMORY_ATTRIBUTE_PRIVATE | 1, 0 };
	if (!(bits & 1))
		assert_int_equal(sevmig_fw_kvm_set_memory_attributes(fw, &bad, 1, &done),
				 -EOPNOTSUPP);

	/* a memory-fault exit as KVM writes it: page 16 accessed as private */
	static uint8_t run[4096];
	memset(run, 0, sizeof(run));
	uint32_t reason = SEVMIG__KVM_EXIT_MEMORY_FAULT;
	memcpy(run + offsetof(struct kvm_run, exit_reason), &reason, sizeof(reason));
	struct sevmig__kvm_memory_fault mf = { SEVMIG__KVM_MEMORY_EXIT_FLAG_PRIVATE, 16 * PG, PG };
	memcpy(run + SEVMIG__KVM_RUN_EXIT_UNION, &mf, sizeof(mf));
	struct sevmig_memory_fault out = { .sz = sizeof(out) };
	int rc = sevmig_fw_kvm_memory_fault(fw, run, next, &out);
	if (rc < 0)
		printf("memory fault: %s\n", sevmig_fw_last_error(fw));
	assert_int_equal(rc, 1);
	assert_int_equal(out.changed, 1);
	assert_int_equal(sevmig_pstate_get(next, 16), SEVMIG_PAGE_PRIVATE);
	printf("VM type %d: attributes 0x%llx applied, diff of %zu ranges, a fault converted%s\n",
	       vm_type, (unsigned long long)bits, done, gmem >= 0 ? ", guest_memfd slot" : "");
	sevmig_pstate_free(next);
	sevmig_pstate_free(prev);
	sevmig_fw_free(fw);
}

/* The first VM type (of KVM_CAP_VM_TYPES) with the PRIVATE attribute. */
static int find_type(char *seen, size_t len)
{
	int types = check(kvm, SEVMIG__KVM_CAP_VM_TYPES);
	if (types <= 0)
		types = 1; /* a kernel without the capability has the default type only */
	size_t at = 0;
	for (int t = 0; t < 31; t++) {
		if (!(types & (1 << t)))
			continue;
		int fd = ioctl(kvm, KVM_CREATE_VM, t);
		int attrs = fd < 0 ? -errno : check(fd, SEVMIG__KVM_CAP_MEMORY_ATTRIBUTES);
		at += (size_t)snprintf(seen + at, at < len ? len - at : 0, "%stype %d: %s%d",
				       at ? ", " : "", t, fd < 0 ? "KVM_CREATE_VM " : "attributes ",
				       attrs);
		if (fd >= 0 && (attrs & (int)SEVMIG__KVM_MEMORY_ATTRIBUTE_PRIVATE)) {
			vm = fd;
			return t;
		}
		if (fd >= 0)
			close(fd);
	}
	return -1;
}

int main(void)
{
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("skipped: /dev/kvm: %s\n", strerror(errno));
		return 77;
	}
	char seen[512] = "";
	vm_type = find_type(seen, sizeof(seen));
	if (vm_type < 0) {
		printf("skipped: no VM type of this kernel has KVM_CAP_MEMORY_ATTRIBUTES with "
		       "PRIVATE (VM types mask 0x%x; %s)\n",
		       check(kvm, SEVMIG__KVM_CAP_VM_TYPES), seen);
		return 77;
	}
	mem = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	struct sevmig__kvm_userspace_memory_region2 r = { .slot = 0,
							  .guest_phys_addr = 0,
							  .memory_size = PAGES * PG,
							  .userspace_addr = (uintptr_t)mem };
	if (check(vm, SEVMIG__KVM_CAP_GUEST_MEMFD) > 0) {
		struct sevmig__kvm_create_guest_memfd g = { .size = PAGES * PG };
		gmem = ioctl(vm, SEVMIG__KVM_CREATE_GUEST_MEMFD, &g);
		if (gmem < 0) {
			printf("KVM_CREATE_GUEST_MEMFD: %s\n", strerror(errno));
			return 1;
		}
		r.flags = SEVMIG__KVM_MEM_GUEST_MEMFD;
		r.guest_memfd = (uint32_t)gmem;
	}
	if (ioctl(vm, SEVMIG__KVM_SET_USER_MEMORY_REGION2, &r) < 0) {
		printf("KVM_SET_USER_MEMORY_REGION2: %s\n", strerror(errno));
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_and_fault),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (gmem >= 0)
		close(gmem);
	close(vm);
	close(kvm);
	munmap(mem, PAGES * PG);
	return rc;
}
#endif
