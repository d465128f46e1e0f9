/* SPDX-License-Identifier: MIT */
/*
 * Mainline page-state tracking: enabling the exits (the exact ioctls), and
 * sevmig_fw_kvm_handle_exit() on struct kvm_run values built here: valid,
 * unaligned, zero-length, overflowing, out-of-coverage and malformed
 * hypercalls in both encodings, the migration-control MSR, a randomized run
 * against a reference model, and vCPU threads at once.
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
#include <pthread.h>
#include <stdlib.h>

#include <linux/kvm_para.h>

#include "fw/fw_backend.h"

#define GPA(gfn) ((uint64_t)(gfn) << 12)
/* Coverage of the map used below: two slots with a gap. */
#define SLOT0	 0x100
#define SLOT0_N	 256
#define SLOT1	 0x1000
#define SLOT1_N	 16

static struct sevmig_pstate *new_map(void)
{
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, SLOT0, SLOT0_N), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, SLOT1, SLOT1_N), 0);
	return ps;
}

static struct kvm_run hypercall(uint64_t nr, uint64_t gpa, uint64_t npages, uint64_t attrs)
{
	struct kvm_run run;
	memset(&run, 0, sizeof(run));
	run.exit_reason = KVM_EXIT_HYPERCALL;
	run.hypercall.nr = nr;
	run.hypercall.args[0] = gpa;
	run.hypercall.args[1] = npages;
	run.hypercall.args[2] = attrs;
	run.hypercall.longmode = 1;
	run.hypercall.ret = 0x5a5a; /* must be overwritten */
	return run;
}

static int64_t hc(struct sevmig_fw *fw, struct sevmig_pstate *ps, uint64_t gpa, uint64_t npages,
		  uint64_t attrs)
{
	struct kvm_run run = hypercall(KVM_HC_MAP_GPA_RANGE, gpa, npages, attrs);
	assert_int_equal(sevmig_fw_kvm_handle_exit(fw, &run, ps), 1);
	assert_true(run.hypercall.ret != 0x5a5a);
	return (int64_t)run.hypercall.ret;
}

static struct sevmig_fw *open_abi(struct kd *kd, enum sevmig_kvm_hypercall_abi abi)
{
	memset(kd, 0, sizeof(*kd));
	SEVMIG_OPTS(sevmig_fw_kvm_opts, o, .ioctl = kd_ioctl, .ioctl_arg = kd,
		    .hypercall_abi = abi);
	struct sevmig_fw *fw;
	assert_int_equal(sevmig_fw_kvm_open(KD_VM_FD, -1, &o, &fw, NULL), 0);
	return fw;
}

/* ---- enabling --------------------------------------------------------------------- */

static void check_filter(void *data, void *ctx)
{
	const struct kvm_msr_filter *f = data;
	(void)ctx;
	assert_int_equal(f->flags, KVM_MSR_FILTER_DEFAULT_ALLOW);
	assert_int_equal(f->ranges[0].flags, KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE);
	assert_int_equal(f->ranges[0].nmsrs, 1);
	assert_int_equal(f->ranges[0].base, MSR_KVM_MIGRATION_CONTROL);
	assert_non_null(f->ranges[0].bitmap);
	assert_int_equal(f->ranges[0].bitmap[0] & 1, 0); /* clear: deny, i.e. exit */
	static const struct kvm_msr_filter_range zero;
	for (int i = 1; i < KVM_MSR_FILTER_MAX_RANGES; i++)
		assert_memory_equal(&f->ranges[i], &zero, sizeof(zero));
}

static void test_enable_exits(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_NONE);

	assert_int_equal(sevmig_fw_kvm_enable_exits(fw, 0), -EINVAL);
	assert_int_equal(sevmig_fw_kvm_enable_exits(fw, 4), -EINVAL);
	kd_done(&kd);

	static const struct kvm_enable_cap hc_cap = { .cap = KVM_CAP_EXIT_HYPERCALL,
						      .args = { 1u << KVM_HC_MAP_GPA_RANGE } };
	static const struct kvm_enable_cap msr_cap = { .cap = KVM_CAP_X86_USER_SPACE_MSR,
						       .args = { KVM_MSR_EXIT_REASON_FILTER } };
	kd_add(&kd, KD_VM_FD, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_HYPERCALL, NULL, 0, 1 << 12);
	kd_add(&kd, KD_VM_FD, KVM_CHECK_EXTENSION, KVM_CAP_X86_USER_SPACE_MSR, NULL, 0, 1);
	kd_add(&kd, KD_VM_FD, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER, NULL, 0, 1);
	kd_add(&kd, KD_VM_FD, KVM_ENABLE_CAP, 0, &hc_cap, sizeof(hc_cap), 0);
	kd_add(&kd, KD_VM_FD, KVM_ENABLE_CAP, 0, &msr_cap, sizeof(msr_cap), 0);
	kd_add(&kd, KD_VM_FD, KVM_X86_SET_MSR_FILTER, 0, NULL, 0, 0)->effect = check_filter;
	assert_int_equal(
	    sevmig_fw_kvm_enable_exits(fw, SEVMIG_KVM_EXIT_HYPERCALL | SEVMIG_KVM_EXIT_MSR), 0);
	kd_done(&kd);

	/* a kernel without the capability: nothing is enabled */
	kd_add(&kd, KD_VM_FD, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_HYPERCALL, NULL, 0, 0);
	assert_int_equal(sevmig_fw_kvm_enable_exits(fw, SEVMIG_KVM_EXIT_HYPERCALL), -EOPNOTSUPP);
	KD_MSG_HAS(fw, "KVM_CAP_EXIT_HYPERCALL is absent");
	kd_done(&kd);
	kd_add(&kd, KD_VM_FD, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_HYPERCALL, NULL, 0, 1 << 12);
	kd_add(&kd, KD_VM_FD, KVM_CHECK_EXTENSION, KVM_CAP_X86_USER_SPACE_MSR, NULL, 0, 0);
	assert_int_equal(
	    sevmig_fw_kvm_enable_exits(fw, SEVMIG_KVM_EXIT_HYPERCALL | SEVMIG_KVM_EXIT_MSR),
	    -EOPNOTSUPP);
	KD_MSG_HAS(fw, "KVM_CAP_X86_USER_SPACE_MSR");
	kd_done(&kd);

	/* the kernel refuses the enable itself */
	kd_add(&kd, KD_VM_FD, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_HYPERCALL, NULL, 0, 1 << 12);
	kd_add(&kd, KD_VM_FD, KVM_ENABLE_CAP, 0, &hc_cap, sizeof(hc_cap), -EINVAL);
	assert_int_equal(sevmig_fw_kvm_enable_exits(fw, SEVMIG_KVM_EXIT_HYPERCALL), -EINVAL);
	KD_MSG_HAS(fw, "KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL)");
	kd_done(&kd);
	sevmig_fw_free(fw);
}

/* ---- hypercalls ----------------------------------------------------------------- */

static void test_map_gpa_range(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = open_abi(&kd, SEVMIG_KVM_HC_ABI_MAP_GPA_RANGE);
	struct sevmig_pstate *ps = new_map();
	const int64_t einval = -KVM_EINVAL, efault = -KVM_EFAULT;

	/* valid: decrypted, then encrypted again */
	assert_int_equal(hc(fw, ps, GPA(0x101), 4, KVM_MAP_GPA_RANGE_DECRYPTED), 0);
	for (uint64_t g = 0x101; g < 0x105; g++)
		assert_int_equal(sevmig_pstate_get(ps, g), SEVMIG_PAGE_SHARED);
	assert_int_equal(sevmig_pstate_get(ps, 0x105), SEVMIG_PAGE_PRIVATE);
	assert_int_equal(hc(fw, ps, GPA(0x102), 1, KVM_MAP_GPA_RANGE_ENCRYPTED), 0);
	assert_int_equal(sevmig_pstate_get(ps, 0x102), SEVMIG_PAGE_PRIVATE);
	/* a range over two touching slots is one covered range */

	struct sevmig_pstate *before;
	assert_int_equal(sevmig_pstate_clone(ps, &before, NULL), 0);
	/* a 2 MiB or 1 GiB page size on a range not made of such pages (the
	 * aligned cases: test_pstate_hypercall) */
	assert_int_equal(hc(fw, ps, GPA(0x180), 0x80, KVM_MAP_GPA_RANGE_PAGE_SZ_2M), einval);
	assert_int_equal(hc(fw, ps, GPA(SLOT1), SLOT1_N,
			    KVM_MAP_GPA_RANGE_PAGE_SZ_1G | KVM_MAP_GPA_RANGE_DECRYPTED),
			 einval);
	/* malformed: unaligned, zero pages, wrapping, past 52 bits, bad attrs */
	assert_int_equal(hc(fw, ps, GPA(0x110) + 0x800, 1, 0), einval);
	assert_int_equal(hc(fw, ps, GPA(0x110) + 1, 1, 0), einval);
	assert_int_equal(hc(fw, ps, GPA(0x110), 0, 0), einval);
	assert_int_equal(hc(fw, ps, 0xfffffffffffff000ull, 2, 0), einval);
	assert_int_equal(hc(fw, ps, GPA(0x110), UINT64_MAX, 0), einval);
	assert_int_equal(hc(fw, ps, 1ull << 52, 1, 0), einval);
	assert_int_equal(hc(fw, ps, GPA(0x110), 1, 0x20), einval);
	assert_int_equal(hc(fw, ps, GPA(0x110), 1, 0x3), einval);
	assert_int_equal(hc(fw, ps, GPA(0x110), 1, 1ull << 63), einval);
	/* outside the coverage, wholly or in part */
	assert_int_equal(hc(fw, ps, GPA(0x200), 1, 0), efault);
	assert_int_equal(hc(fw, ps, GPA(0x1fe), 4, 0), efault);
	assert_int_equal(hc(fw, ps, GPA(0x0), 0x101, 0), efault);
	assert_int_equal(hc(fw, ps, GPA(SLOT1 + SLOT1_N - 1), 2, 0), efault);
	/* nothing changed */
	assert_true(sevmig_pstate_equal(ps, before));

	struct sevmig_kvm_exit_stats st;
	sevmig_fw_kvm_exit_stats(fw, &st);
	assert_int_equal(st.hypercalls, 17);
	assert_int_equal(st.applied, 2);
	assert_int_equal(st.rejected, 15);
	assert_int_equal(st.last_rejected_gpa, GPA(SLOT1 + SLOT1_N - 1));
	assert_int_equal(st.last_rejected_npages, 2);
	assert_int_equal(st.last_rejected_attrs, 0);
	assert_int_equal(st.last_rejected_ret, efault);

	/* not ours: another hypercall, another exit */
	struct kvm_run run = hypercall(KVM_HC_SCHED_YIELD, GPA(0x101), 1, 0);
	assert_int_equal(sevmig_fw_kvm_handle_exit(fw, &run, ps), 0);
	assert_int_equal(run.hypercall.ret, 0x5a5a);
	run.exit_reason = KVM_EXIT_IO;
	assert_int_equal(sevmig_fw_kvm_handle_exit(fw, &run, ps), 0);
	/* misuse */
	assert_int_equal(sevmig_fw_kvm_handle_exit(fw, NULL, ps), -EINVAL);
	run = hypercall(KVM_HC_MAP_GPA_RANGE, GPA(0x101), 1, 0);
	assert_int_equal(sevmig_fw_kvm_handle_exit(fw, &run, NULL), -EINVAL);
	assert_int_equal((int64_t)run.hypercall.ret, efault);
	sevmig_fw_kvm_exit_stats(fw, &st);
	assert_int_equal(st.hypercalls, 17);

	kd_done(&kd); /* exits need no ioctl */
	sevmig_pstate_free(before);
	sevmig_pstate_free(ps);
	sevmig_fw_free(fw);
}

/* The series' encoding: a2 = 1 encrypted, 0 decrypted, nothing else. */
static void test_page_enc_status(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = open_abi(&kd, SEVMIG_KVM_HC_ABI_PAGE_ENC_STATUS);
	struct sevmig_pstate *ps = new_map();
	assert_int_equal(hc(fw, ps, GPA(0x120), 8, 0), 0);
	assert_int_equal(sevmig_pstate_get(ps, 0x127), SEVMIG_PAGE_SHARED);
	/* 1 is "encrypted" here, where MAP_GPA_RANGE would read "2M, decrypted" */
	assert_int_equal(hc(fw, ps, GPA(0x120), 8, 1), 0);
	assert_int_equal(sevmig_pstate_get(ps, 0x127), SEVMIG_PAGE_PRIVATE);
	assert_int_equal(hc(fw, ps, GPA(0x120), 8, 0x10), -KVM_EINVAL);
	assert_int_equal(hc(fw, ps, GPA(0x120), 8, 2), -KVM_EINVAL);
	assert_int_equal(hc(fw, ps, GPA(0x120) + 4, 8, 0), -KVM_EINVAL);
	assert_int_equal(hc(fw, ps, GPA(0x800), 8, 0), -KVM_EFAULT);
	assert_int_equal(sevmig_pstate_get(ps, 0x120), SEVMIG_PAGE_PRIVATE);
	sevmig_pstate_free(ps);
	sevmig_fw_free(fw);
}

/* Random hypercalls against a per-page model of what KVM and the map do. */
static void test_random_against_model(void **state)
{
	(void)state;
	struct tu_rng r = { tu_seed("test_random_against_model") };
	struct kd kd;
	struct sevmig_fw *fw = open_abi(&kd, SEVMIG_KVM_HC_ABI_MAP_GPA_RANGE);
	struct sevmig_pstate *ps = new_map();
	/* model over gfns [0, 0x1100): 0 absent, 1 private, 2 shared */
	enum { WINDOW = 0x1100 };
	static uint8_t model[WINDOW];
	memset(model, 0, sizeof(model));
	memset(model + SLOT0, 1, SLOT0_N);
	memset(model + SLOT1, 1, SLOT1_N);
	uint64_t rejected = 0;
	for (int i = 0; i < 4000; i++) {
		uint64_t gfn = tu_below(&r, 8) ? SLOT0 - 8 + tu_below(&r, SLOT0_N + 16)
					       : SLOT1 - 4 + tu_below(&r, SLOT1_N + 8);
		uint64_t n = tu_below(&r, 10) ? 1 + tu_below(&r, 40) : tu_below(&r, 3);
		uint64_t gpa = GPA(gfn) + (tu_below(&r, 20) ? 0 : 8 * (1 + tu_below(&r, 500)));
		uint64_t attrs = tu_below(&r, 2) ? KVM_MAP_GPA_RANGE_ENCRYPTED : 0;
		if (!tu_below(&r, 25))
			attrs |= 1ull << (5 + tu_below(&r, 59));
		else
			attrs |= tu_below(&r, 3);

		int64_t want = 0;
		uint64_t unit = (attrs & 0xf) == 1 ? 512 : (attrs & 0xf) == 2 ? 512 * 512 : 1;
		if ((gpa & 0xfff) || !n || (attrs & ~0x1full) || (attrs & 0xf) > 2 || gfn % unit ||
		    n % unit) {
			want = -KVM_EINVAL;
		} else {
			for (uint64_t g = gfn; g < gfn + n; g++)
				if (g >= WINDOW || !model[g])
					want = -KVM_EFAULT;
			if (!want)
				memset(model + gfn, attrs & 0x10 ? 1 : 2, n);
		}
		rejected += want != 0;
		int64_t got = hc(fw, ps, gpa, n, attrs);
		if (got != want)
			fail_msg(
			    "hypercall %d (gpa 0x%llx, %llu pages, attrs 0x%llx): guest got %lld, "
			    "want %lld",
			    i, (unsigned long long)gpa, (unsigned long long)n,
			    (unsigned long long)attrs, (long long)got, (long long)want);
	}
	for (uint64_t g = 0; g < WINDOW; g++)
		assert_int_equal(sevmig_pstate_get(ps, g), model[g]);
	struct sevmig_kvm_exit_stats st;
	sevmig_fw_kvm_exit_stats(fw, &st);
	assert_int_equal(st.hypercalls, 4000);
	assert_int_equal(st.rejected, rejected);
	assert_int_equal(st.applied, 4000 - rejected);
	sevmig_pstate_free(ps);
	sevmig_fw_free(fw);
}

/* ---- the migration-control MSR -------------------------------------------------- */

static int msr(struct sevmig_fw *fw, uint32_t reason, uint32_t index, uint64_t *data,
	       uint8_t *error)
{
	struct kvm_run run;
	memset(&run, 0, sizeof(run));
	run.exit_reason = reason;
	run.msr.index = index;
	run.msr.reason = KVM_MSR_EXIT_REASON_FILTER;
	run.msr.data = *data;
	run.msr.error = 0xee;
	int rc = sevmig_fw_kvm_handle_exit(fw, &run, NULL);
	*data = run.msr.data;
	*error = run.msr.error;
	return rc;
}

static void test_migration_control(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_NONE);
	uint64_t d;
	uint8_t e;
	assert_false(sevmig_fw_kvm_migration_ready(fw));
	d = 0;
	assert_int_equal(msr(fw, KVM_EXIT_X86_RDMSR, MSR_KVM_MIGRATION_CONTROL, &d, &e), 1);
	assert_int_equal(d, 0);
	assert_int_equal(e, 0);

	d = KVM_MIGRATION_READY;
	assert_int_equal(msr(fw, KVM_EXIT_X86_WRMSR, MSR_KVM_MIGRATION_CONTROL, &d, &e), 1);
	assert_int_equal(e, 0);
	assert_true(sevmig_fw_kvm_migration_ready(fw));
	d = 0;
	assert_int_equal(msr(fw, KVM_EXIT_X86_RDMSR, MSR_KVM_MIGRATION_CONTROL, &d, &e), 1);
	assert_int_equal(d, KVM_MIGRATION_READY);

	/* reserved bits: #GP, nothing recorded */
	d = 3;
	assert_int_equal(msr(fw, KVM_EXIT_X86_WRMSR, MSR_KVM_MIGRATION_CONTROL, &d, &e), 1);
	assert_int_equal(e, 1);
	assert_true(sevmig_fw_kvm_migration_ready(fw));
	/* another MSR is the VMM's */
	d = 7;
	assert_int_equal(msr(fw, KVM_EXIT_X86_WRMSR, 0x4b564d01, &d, &e), 0);
	assert_int_equal(e, 0xee);

	d = 0;
	assert_int_equal(msr(fw, KVM_EXIT_X86_WRMSR, MSR_KVM_MIGRATION_CONTROL, &d, &e), 1);
	assert_false(sevmig_fw_kvm_migration_ready(fw));

	struct sevmig_kvm_exit_stats st;
	sevmig_fw_kvm_exit_stats(fw, &st);
	assert_int_equal(st.msr_writes, 3);
	assert_int_equal(st.msr_rejected, 1);
	assert_int_equal(st.migration_control, 0);

	/* the VMM restores the value on the target */
	assert_int_equal(sevmig_fw_kvm_set_migration_control(fw, KVM_MIGRATION_READY), 0);
	assert_true(sevmig_fw_kvm_migration_ready(fw));
	assert_int_equal(sevmig_fw_kvm_set_migration_control(fw, 2), -EINVAL);
	assert_true(sevmig_fw_kvm_migration_ready(fw));
	kd_done(&kd);
	sevmig_fw_free(fw);
}

/* ---- threads ------------------------------------------------------------------------ */

struct vcpu {
	struct sevmig_fw *fw;
	struct sevmig_pstate *ps;
	uint64_t first;
};

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	for (uint64_t i = 0; i < 32; i++) {
		struct kvm_run run = hypercall(KVM_HC_MAP_GPA_RANGE, GPA(v->first + i), 1, 0);
		if (sevmig_fw_kvm_handle_exit(v->fw, &run, v->ps) != 1 || run.hypercall.ret)
			return v; /* refused */
	}
	return NULL;
}

static void test_vcpu_threads(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_NONE);
	struct sevmig_pstate *ps = new_map();
	pthread_t t[8];
	struct vcpu v[8];
	for (int i = 0; i < 8; i++) {
		v[i] = (struct vcpu){ fw, ps, SLOT0 + 32 * (uint64_t)i };
		assert_int_equal(pthread_create(&t[i], NULL, vcpu_thread, &v[i]), 0);
	}
	/* a reader takes the exit lock to look at a consistent map */
	for (int k = 0; k < 50; k++) {
		sevmig_fw_kvm_pstate_lock(fw);
		struct sevmig_pstate_stats s;
		sevmig_pstate_stats(ps, &s);
		assert_int_equal(s.covered_pages, SLOT0_N + SLOT1_N);
		sevmig_fw_kvm_pstate_unlock(fw);
	}
	for (int i = 0; i < 8; i++) {
		void *res;
		assert_int_equal(pthread_join(t[i], &res), 0);
		assert_null(res);
	}
	struct sevmig_pstate_stats s;
	sevmig_pstate_stats(ps, &s);
	assert_int_equal(s.shared_pages, SLOT0_N);
	struct sevmig_kvm_exit_stats st;
	sevmig_fw_kvm_exit_stats(fw, &st);
	assert_int_equal(st.applied, 256);
	sevmig_pstate_free(ps);
	sevmig_fw_free(fw);
}

/* ---- another backend -------------------------------------------------------------- */

static const struct sevmig_fw_ops other_ops = { .name = "other" };

static void test_not_a_kvm_handle(void **state)
{
	(void)state;
	struct sevmig_fw *fw;
	assert_int_equal(sevmig__fw_new(&other_ops, NULL, 1, &fw), 0);
	struct kvm_run run = hypercall(KVM_HC_MAP_GPA_RANGE, 0, 1, 0);
	assert_int_equal(sevmig_fw_kvm_handle_exit(fw, &run, NULL), -EINVAL);
	assert_int_equal(sevmig_fw_kvm_enable_exits(fw, SEVMIG_KVM_EXIT_MSR), -EINVAL);
	assert_int_equal(sevmig_fw_kvm_probe_pstate_ioctls(fw), -EINVAL);
	assert_int_equal(sevmig_fw_kvm_move_enc_context_from(fw, 3), -EINVAL);
	assert_non_null(strstr(sevmig_fw_last_error(fw), "not a KVM backend handle"));
	assert_false(sevmig_fw_kvm_migration_ready(fw));
	struct sevmig_kvm_exit_stats st;
	sevmig_fw_kvm_exit_stats(fw, &st);
	assert_int_equal(st.hypercalls, 0);
	sevmig_fw_kvm_pstate_lock(fw); /* no-ops */
	sevmig_fw_kvm_pstate_unlock(fw);
	sevmig_fw_free(fw);
	assert_int_equal(sevmig_fw_kvm_handle_exit(NULL, &run, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enable_exits),
		cmocka_unit_test(test_map_gpa_range),
		cmocka_unit_test(test_page_enc_status),
		cmocka_unit_test(test_random_against_model),
		cmocka_unit_test(test_migration_control),
		cmocka_unit_test(test_vcpu_threads),
		cmocka_unit_test(test_not_a_kvm_handle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
