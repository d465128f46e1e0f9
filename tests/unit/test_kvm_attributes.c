/* SPDX-License-Identifier: MIT */
/*
 * Memory attributes and the memory-fault exit against a scripted kernel:
 * the capability asked once and kept; every range checked before the
 * first KVM_SET_MEMORY_ATTRIBUTES (nothing issued for a bad one, or for
 * bits the VM does not support); the diff of two maps issued range by
 * range, byte for byte; a kernel refusal part-way says how far it got;
 * a memory fault converts map and kernel together, or neither.
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

#include <errno.h>
#include <stdlib.h>

#include "fw/kvm/kvm_uapi.h"

#define PRIV SEVMIG_MEMORY_ATTRIBUTE_PRIVATE
#define SET  SEVMIG__KVM_SET_MEMORY_ATTRIBUTES
#define PG   ((uint64_t)SEVMIG_PAGE_SIZE)

static void probe(struct kd *kd, int answer)
{
	kd_add(kd, KD_VM_FD, KVM_CHECK_EXTENSION, SEVMIG__KVM_CAP_MEMORY_ATTRIBUTES, NULL, 0,
	       answer);
}

/* A step expecting exactly this range. */
static struct kd_step *expect_set(struct kd *kd, struct sevmig__kvm_memory_attributes *want,
				  uint64_t addr, uint64_t size, uint64_t attr, int rc)
{
	*want = (struct sevmig__kvm_memory_attributes){ addr, size, attr, 0 };
	return kd_add(kd, KD_VM_FD, SET, 0, want, sizeof(*want), rc);
}

static void test_probe(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_NONE);
	uint64_t bits = 99;
	probe(&kd, (int)PRIV);
	assert_int_equal(sevmig_fw_kvm_memory_attributes(fw, &bits), 0);
	assert_int_equal(bits, PRIV);
	assert_int_equal(sevmig_fw_kvm_memory_attributes(fw, &bits), 0); /* kept */
	kd_done(&kd);
	sevmig_fw_free(fw);

	/* a kernel error is passed on and not kept */
	fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_NONE);
	probe(&kd, -EBADF);
	assert_int_equal(sevmig_fw_kvm_memory_attributes(fw, &bits), -EBADF);
	KD_MSG_HAS(fw, "KVM_CAP_MEMORY_ATTRIBUTES");
	probe(&kd, 0);
	assert_int_equal(sevmig_fw_kvm_memory_attributes(fw, &bits), 0);
	assert_int_equal(bits, 0);
	kd_done(&kd);
	sevmig_fw_free(fw);

	/* a handle without a VM */
	SEVMIG_OPTS(sevmig_fw_kvm_opts, o, .ioctl = kd_ioctl, .ioctl_arg = &kd);
	assert_int_equal(sevmig_fw_kvm_open(-1, -1, &o, &fw, NULL), 0);
	assert_int_equal(sevmig_fw_kvm_memory_attributes(fw, &bits), -EINVAL);
	KD_MSG_HAS(fw, "no VM fd");
	kd_done(&kd);
	sevmig_fw_free(fw);
}

static void test_set_list(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_NONE);
	struct sevmig_memory_attributes r[3] = {
		{ 0x100000, 0x2000, PRIV, 0 },
		{ 0x102000, 0x1000, 0, 0 },
		{ 0x200000, 0x200000, PRIV, 0 },
	};
	struct sevmig__kvm_memory_attributes w[3];
	size_t done = 77;
	probe(&kd, (int)PRIV);
	for (int i = 0; i < 3; i++)
		expect_set(&kd, &w[i], r[i].address, r[i].size, r[i].attributes, 0);
	assert_int_equal(sevmig_fw_kvm_set_memory_attributes(fw, r, 3, &done), 0);
	assert_int_equal(done, 3);
	kd_done(&kd);

	/* refused up front, nothing issued, the message names the range */
	static const struct {
		struct sevmig_memory_attributes bad;
		int rc;
		const char *says;
	} cases[] = {
		{ { 0x100800, 0x1000, PRIV, 0 }, -EINVAL, "range 1 (0x100800 + 0x1000)" },
		{ { 0x100000, 0x1800, PRIV, 0 }, -EINVAL, "not page-aligned" },
		{ { 0x100000, 0, PRIV, 0 }, -EINVAL, "empty" },
		{ { UINT64_MAX - 0xfff, 0x2000, PRIV, 0 }, -EINVAL, "wraps" },
		{ { 0x100000, 0x1000, PRIV, 1 }, -EINVAL, "flags 0x1" },
		{ { 0x100000, 0x1000, PRIV | 1, 0 }, -EOPNOTSUPP, "supports 0x8" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sevmig_memory_attributes two[2] = { r[0], cases[i].bad };
		assert_int_equal(sevmig_fw_kvm_set_memory_attributes(fw, two, 2, &done),
				 cases[i].rc);
		assert_int_equal(done, 0);
		KD_MSG_HAS(fw, cases[i].says);
		kd_done(&kd);
	}

	/* the kernel refusing the second range: the first took effect */
	expect_set(&kd, &w[0], r[0].address, r[0].size, PRIV, 0);
	expect_set(&kd, &w[1], r[1].address, r[1].size, 0, -ENOMEM);
	assert_int_equal(sevmig_fw_kvm_set_memory_attributes(fw, r, 3, &done), -ENOMEM);
	assert_int_equal(done, 1);
	KD_MSG_HAS(fw, "range 1: 0x102000 + 0x1000");
	expect_set(&kd, &w[0], r[0].address, r[0].size, PRIV, -EINVAL);
	assert_int_equal(sevmig_fw_kvm_set_memory_attributes(fw, r, 1, &done), -EINVAL);
	KD_MSG_HAS(fw, "refused it (EINVAL)");
	kd_done(&kd);
	assert_int_equal(sevmig_fw_kvm_set_memory_attributes(fw, NULL, 0, &done), 0);
	assert_int_equal(sevmig_fw_kvm_set_memory_attributes(fw, NULL, 1, &done), -EINVAL);
	sevmig_fw_free(fw);

	/* a VM type without private memory: nothing is ever issued */
	fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_NONE);
	probe(&kd, 0);
	assert_int_equal(sevmig_fw_kvm_set_memory_attributes(fw, &r[1], 1, &done), -EOPNOTSUPP);
	KD_MSG_HAS(fw, "this VM has no memory attributes");
	kd_done(&kd);
	sevmig_fw_free(fw);
}

static void test_apply_diff(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_NONE);
	struct sevmig_pstate *prev, *next;
	assert_int_equal(sevmig_pstate_new(&prev, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(prev, 0, 0x100), 0);
	assert_int_equal(sevmig_pstate_add_slot(prev, 0x1000, 0x100), 0);

	/* a fresh VM: the whole map */
	struct sevmig__kvm_memory_attributes w[4];
	probe(&kd, (int)PRIV);
	expect_set(&kd, &w[0], 0, 0x100 * PG, PRIV, 0);
	expect_set(&kd, &w[1], 0x1000 * PG, 0x100 * PG, PRIV, 0);
	size_t done;
	assert_int_equal(sevmig_fw_kvm_apply_memory_attributes(fw, NULL, prev, &done), 0);
	assert_int_equal(done, 2);
	kd_done(&kd);

	/* then only what changed: two pages shared, one private again */
	assert_int_equal(sevmig_pstate_clone(prev, &next, NULL), 0);
	assert_int_equal(sevmig_pstate_set_range(next, 0x10, 2, SEVMIG_PAGE_SHARED), 0);
	assert_int_equal(sevmig_pstate_set_range(next, 0x1050, 1, SEVMIG_PAGE_SHARED), 0);
	expect_set(&kd, &w[0], 0x10 * PG, 2 * PG, 0, 0);
	expect_set(&kd, &w[1], 0x1050 * PG, PG, 0, 0);
	assert_int_equal(sevmig_fw_kvm_apply_memory_attributes(fw, prev, next, &done), 0);
	assert_int_equal(done, 2);
	kd_done(&kd);
	/* nothing changed: nothing issued */
	assert_int_equal(sevmig_fw_kvm_apply_memory_attributes(fw, next, next, &done), 0);
	assert_int_equal(done, 0);
	kd_done(&kd);
	/* a kernel error half-way; the same call again finishes */
	expect_set(&kd, &w[0], 0x10 * PG, 2 * PG, 0, 0);
	expect_set(&kd, &w[1], 0x1050 * PG, PG, 0, -EFAULT);
	assert_int_equal(sevmig_fw_kvm_apply_memory_attributes(fw, prev, next, &done), -EFAULT);
	assert_int_equal(done, 1);
	expect_set(&kd, &w[0], 0x10 * PG, 2 * PG, 0, 0);
	expect_set(&kd, &w[1], 0x1050 * PG, PG, 0, 0);
	assert_int_equal(sevmig_fw_kvm_apply_memory_attributes(fw, prev, next, &done), 0);
	kd_done(&kd);
	assert_int_equal(sevmig_fw_kvm_apply_memory_attributes(fw, prev, NULL, &done), -EINVAL);
	sevmig_fw_free(fw);

	/* a VM without attributes refuses before any range is issued */
	fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_NONE);
	probe(&kd, 0);
	assert_int_equal(sevmig_fw_kvm_apply_memory_attributes(fw, NULL, next, &done), -EOPNOTSUPP);
	assert_int_equal(done, 0);
	kd_done(&kd);
	sevmig_fw_free(fw);
	sevmig_pstate_free(next);
	sevmig_pstate_free(prev);
}

/* A vCPU's struct kvm_run with a memory-fault exit (the 6.1 header has no
 * memory_fault member: it sits at the exit union, offset 32). */
static void fault_exit(struct kvm_run *run, uint64_t flags, uint64_t gpa, uint64_t size)
{
	memset(run, 0, sizeof(*run));
	run->exit_reason = SEVMIG__KVM_EXIT_MEMORY_FAULT;
	struct sevmig__kvm_memory_fault mf = { flags, gpa, size };
	memcpy((uint8_t *)run + SEVMIG__KVM_RUN_EXIT_UNION, &mf, sizeof(mf));
}

static void test_memory_fault(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_NONE);
	struct sevmig_pstate *ps, *before;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, 0x100, 0x100), 0);
	static struct kvm_run run;
	struct sevmig_memory_fault out = { .sz = sizeof(out) };
	struct sevmig__kvm_memory_attributes w;

	/* the guest touches private page 0x110 as shared: converted */
	fault_exit(&run, 0, 0x110 * PG, PG);
	probe(&kd, (int)PRIV);
	expect_set(&kd, &w, 0x110 * PG, PG, 0, 0);
	assert_int_equal(sevmig_fw_kvm_memory_fault(fw, &run, ps, &out), 1);
	kd_done(&kd);
	assert_int_equal(out.gfn, 0x110);
	assert_int_equal(out.npages, 1);
	assert_int_equal(out.state, SEVMIG_PAGE_SHARED);
	assert_int_equal(out.changed, 1);
	assert_int_equal(sevmig_pstate_get(ps, 0x110), SEVMIG_PAGE_SHARED);

	/* back to private, over two pages of which one changes */
	fault_exit(&run, SEVMIG_MEMORY_EXIT_FLAG_PRIVATE, 0x10f * PG, 2 * PG);
	expect_set(&kd, &w, 0x10f * PG, 2 * PG, PRIV, 0);
	assert_int_equal(sevmig_fw_kvm_memory_fault(fw, &run, ps, &out), 1);
	kd_done(&kd);
	assert_int_equal(out.changed, 1);
	assert_int_equal(sevmig_pstate_get(ps, 0x110), SEVMIG_PAGE_PRIVATE);

	/* the kernel refuses: the map stays as it was */
	assert_int_equal(sevmig_pstate_clone(ps, &before, NULL), 0);
	fault_exit(&run, 0, 0x120 * PG, 4 * PG);
	expect_set(&kd, &w, 0x120 * PG, 4 * PG, 0, -ENOMEM);
	assert_int_equal(sevmig_fw_kvm_memory_fault(fw, &run, ps, &out), -ENOMEM);
	kd_done(&kd);
	assert_int_equal(out.changed, 0);
	assert_true(sevmig_pstate_equal(ps, before));
	KD_MSG_HAS(fw, "KVM_SET_MEMORY_ATTRIBUTES");

	/* refusals of the map: nothing issued, nothing changed */
	fault_exit(&run, 0, 0x1ff * PG, 2 * PG); /* leaves the coverage */
	assert_int_equal(sevmig_fw_kvm_memory_fault(fw, &run, ps, &out), -ERANGE);
	KD_MSG_HAS(fw, "memory the map does not cover");
	fault_exit(&run, 1, 0x120 * PG, PG); /* a flag KVM does not define */
	assert_int_equal(sevmig_fw_kvm_memory_fault(fw, &run, ps, &out), -EINVAL);
	fault_exit(&run, 0, 0x120 * PG, 0);
	assert_int_equal(sevmig_fw_kvm_memory_fault(fw, &run, ps, NULL), -EINVAL);
	kd_done(&kd);
	assert_true(sevmig_pstate_equal(ps, before));

	/* not a memory fault: not ours */
	memset(&run, 0, sizeof(run));
	run.exit_reason = KVM_EXIT_HLT;
	assert_int_equal(sevmig_fw_kvm_memory_fault(fw, &run, ps, &out), 0);
	assert_int_equal(sevmig_fw_kvm_memory_fault(fw, NULL, ps, &out), -EINVAL);
	fault_exit(&run, 0, 0x120 * PG, PG);
	assert_int_equal(sevmig_fw_kvm_memory_fault(fw, &run, NULL, &out), -EINVAL);
	kd_done(&kd);
	sevmig_fw_free(fw);

	/* a VM without the PRIVATE attribute cannot convert */
	fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_NONE);
	probe(&kd, 0);
	assert_int_equal(sevmig_fw_kvm_memory_fault(fw, &run, ps, &out), -EOPNOTSUPP);
	KD_MSG_HAS(fw, "no PRIVATE attribute");
	kd_done(&kd);
	assert_true(sevmig_pstate_equal(ps, before));
	sevmig_fw_free(fw);
	sevmig_pstate_free(before);
	sevmig_pstate_free(ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_set_list),
		cmocka_unit_test(test_apply_diff),
		cmocka_unit_test(test_memory_fault),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
