/* SPDX-License-Identifier: MIT */
/*
 * The memslot lifecycle against a scripted kernel: adding a slot pins its
 * memory and adds it to the map; discarding part of it re-registers what
 * stays, unregisters exactly what was registered and forgets the pages'
 * state; removing it unregisters every region and forgets the slot;
 * destroying the handle unregisters what is left. Each failure point is
 * scripted (the kernel refusing the n-th call) and must leave the kernel's
 * regions, the map and the handle's records as they were.
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

#define PG    ((uint64_t)SEVMIG_PAGE_SIZE)
#define REG   KVM_MEMORY_ENCRYPT_REG_REGION
#define UNR   KVM_MEMORY_ENCRYPT_UNREG_REGION

/* Guest memory at gpa 0x100000 (256 pages); the host buffer behind it. */
#define GPA   UINT64_C(0x100000)
#define PAGES 256
static uint8_t *host;

/* The kernel's registered regions, as the double keeps them. */
#define MAXR  16
struct kernel {
	struct kvm_enc_region r[MAXR];
	size_t n;
};
static struct kernel kern;

static void kernel_reg(void *data, void *ctx)
{
	(void)ctx;
	const struct kvm_enc_region *e = data;
	assert_true(kern.n < MAXR);
	kern.r[kern.n++] = *e;
}

static void kernel_unreg(void *data, void *ctx)
{
	(void)ctx;
	const struct kvm_enc_region *e = data;
	for (size_t i = 0; i < kern.n; i++)
		if (kern.r[i].addr == e->addr && kern.r[i].size == e->size) {
			kern.r[i] = kern.r[--kern.n];
			return;
		}
	fail_msg("UNREG_REGION of %llx + %llx: not exactly a registered region",
		 (unsigned long long)e->addr, (unsigned long long)e->size);
}

/* The wanted argument bytes of each scripted call live here. */
static struct kvm_enc_region wants[64];
static size_t nwants;

/* A REG or UNREG of host pages [first, first + n): applied to the model
 * kernel when rc is 0. */
static void call(struct kd *kd, unsigned long req, uint64_t first, uint64_t n, int rc)
{
	assert_true(nwants < 64);
	struct kvm_enc_region *w = &wants[nwants++];
	w->addr = (uintptr_t)(host + first * PG);
	w->size = n * PG;
	struct kd_step *s = kd_add(kd, KD_VM_FD, req, 0, w, sizeof(*w), rc);
	if (!rc)
		s->effect = req == REG ? kernel_reg : kernel_unreg;
}

/* The handle's regions are exactly the model kernel's, in gpa order. */
static void regions_are(struct sevmig_fw *fw, size_t n, const uint64_t (*pages)[2])
{
	assert_int_equal(sevmig_fw_kvm_region_count(fw), n);
	assert_int_equal(kern.n, n);
	for (size_t i = 0; i < n; i++) {
		struct sevmig_kvm_region r = { .sz = sizeof(r) };
		assert_int_equal(sevmig_fw_kvm_region(fw, i, &r), 0);
		assert_int_equal(r.gpa, GPA + pages[i][0] * PG);
		assert_int_equal(r.size, pages[i][1] * PG);
		assert_ptr_equal(r.hva, host + pages[i][0] * PG);
		bool found = false;
		for (size_t j = 0; j < kern.n; j++)
			found |= kern.r[j].addr == (uintptr_t)r.hva && kern.r[j].size == r.size;
		assert_true(found);
	}
	struct sevmig_kvm_region r = { .sz = sizeof(r) };
	assert_int_equal(sevmig_fw_kvm_region(fw, n, &r), -ERANGE);
}

static struct sevmig_fw *setup(struct kd *kd, struct sevmig_pstate **ps)
{
	kern.n = 0;
	nwants = 0;
	struct sevmig_fw *fw = kd_open(kd, -1, SEVMIG_KVM_SERIES_NONE);
	assert_int_equal(sevmig_pstate_new(ps, NULL), 0);
	call(kd, REG, 0, PAGES, 0);
	assert_int_equal(sevmig_fw_kvm_add_memslot(fw, *ps, GPA, PAGES * PG, host), 0);
	kd_done(kd);
	nwants = 0;
	return fw;
}

static void test_add(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_pstate *ps;
	struct sevmig_fw *fw = setup(&kd, &ps);
	static const uint64_t whole[][2] = { { 0, PAGES } };
	regions_are(fw, 1, whole);
	struct sevmig_range s;
	assert_int_equal(sevmig_pstate_slot_count(ps), 1);
	assert_int_equal(sevmig_pstate_slot(ps, 0, &s), 0);
	assert_int_equal(s.gfn, GPA / PG);
	assert_int_equal(s.npages, PAGES);
	assert_int_equal(sevmig_pstate_get(ps, GPA / PG), SEVMIG_PAGE_PRIVATE);

	/* refused before any call */
	assert_int_equal(sevmig_fw_kvm_add_memslot(fw, ps, GPA + 16 * PG, PG, host), -EEXIST);
	KD_MSG_HAS(fw, "overlaps the memslot");
	assert_int_equal(sevmig_fw_kvm_add_memslot(fw, ps, GPA + PAGES * PG, 100, host), -EINVAL);
	assert_int_equal(sevmig_fw_kvm_add_memslot(fw, ps, GPA + PAGES * PG, 0, host), -EINVAL);
	assert_int_equal(sevmig_fw_kvm_add_memslot(fw, NULL, GPA + PAGES * PG, PG, host), -EINVAL);
	assert_int_equal(sevmig_fw_kvm_add_memslot(fw, ps, UINT64_C(1) << 52, PG, host), -EINVAL);
	assert_int_equal(
	    sevmig_fw_kvm_add_memslot(fw, ps, GPA + PAGES * PG, 2 * PG, (void *)(uintptr_t)-PG),
	    -EINVAL);
	/* a slot the map has but the handle does not */
	assert_int_equal(sevmig_pstate_add_slot(ps, 0x1000, 16), 0);
	assert_int_equal(sevmig_fw_kvm_add_memslot(fw, ps, 0x1000 * PG, 16 * PG, host), -EEXIST);
	KD_MSG_HAS(fw, "overlaps the map's slot");
	assert_int_equal(sevmig_pstate_remove_slot(ps, 0x1000, 16), 0);
	kd_done(&kd);

	/* the kernel refusing to pin: nothing recorded, the map unchanged */
	struct sevmig_pstate *before;
	assert_int_equal(sevmig_pstate_clone(ps, &before, NULL), 0);
	struct kvm_enc_region w = { (uintptr_t)host, 16 * PG };
	kd_add(&kd, KD_VM_FD, REG, 0, &w, sizeof(w), -ENOMEM);
	assert_int_equal(sevmig_fw_kvm_add_memslot(fw, ps, 0x1000 * PG, 16 * PG, host), -ENOMEM);
	KD_MSG_HAS(fw, "RLIMIT_MEMLOCK");
	kd_done(&kd);
	assert_true(sevmig_pstate_equal(ps, before));
	assert_int_equal(sevmig_pstate_slot_count(ps), 1);
	regions_are(fw, 1, whole);

	/* at address 0, as the kernel allows */
	struct kvm_enc_region z = { 0, 16 * PG };
	kd_add(&kd, KD_VM_FD, REG, 0, &z, sizeof(z), 0);
	assert_int_equal(sevmig_fw_kvm_add_memslot(fw, ps, 0, 16 * PG, NULL), 0);
	kd_done(&kd);
	assert_int_equal(sevmig_fw_kvm_region_count(fw), 2);
	struct sevmig_kvm_region r = { .sz = sizeof(r) };
	assert_int_equal(sevmig_fw_kvm_region(fw, 0, &r), 0);
	assert_int_equal(r.gpa, 0);
	assert_null(r.hva);
	/* an older caller's smaller struct gets what it knows */
	struct {
		size_t sz;
		uint64_t gpa;
		uint64_t canary;
	} old = { offsetof(struct sevmig_kvm_region, size), 7, 0x5a5a };
	assert_int_equal(sevmig_fw_kvm_region(fw, 1, (struct sevmig_kvm_region *)(void *)&old), 0);
	assert_int_equal(old.gpa, GPA);
	assert_int_equal(old.canary, 0x5a5a);
	kd_add(&kd, KD_VM_FD, UNR, 0, &z, sizeof(z), 0);
	assert_int_equal(sevmig_fw_kvm_remove_memslot(fw, ps, 0, 16 * PG), 0);
	kd_done(&kd);

	/* destroying the handle unregisters what is left */
	call(&kd, UNR, 0, PAGES, 0);
	sevmig_fw_free(fw);
	kd_done(&kd);
	assert_int_equal(kern.n, 0);
	sevmig_pstate_free(before);
	sevmig_pstate_free(ps);
}

/* Discarding pages [40, 50) of the slot, with every call failing in turn. */
static void test_discard(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_pstate *ps, *before;
	struct sevmig_fw *fw = setup(&kd, &ps);
	assert_int_equal(sevmig_pstate_set_range(ps, GPA / PG + 30, 30, SEVMIG_PAGE_SHARED), 0);
	assert_int_equal(sevmig_pstate_clone(ps, &before, NULL), 0);
	static const uint64_t whole[][2] = { { 0, PAGES } };

	/* the calls, in order: pin [0, 40), pin [50, 256), unpin [0, 256) */
	for (int fail = 0; fail < 3; fail++) {
		nwants = 0;
		call(&kd, REG, 0, 40, fail == 0 ? -ENOMEM : 0);
		if (fail >= 1) {
			call(&kd, REG, 50, PAGES - 50, fail == 1 ? -ENOMEM : 0);
			if (fail == 1)
				call(&kd, UNR, 0, 40, 0); /* undo */
		}
		if (fail == 2) {
			call(&kd, UNR, 0, PAGES, -EINVAL);
			call(&kd, UNR, 50, PAGES - 50, 0); /* undo, last first */
			call(&kd, UNR, 0, 40, 0);
		}
		int rc = sevmig_fw_kvm_discard(fw, ps, GPA + 40 * PG, 10 * PG);
		assert_int_equal(rc, fail == 2 ? -EINVAL : -ENOMEM);
		kd_done(&kd);
		assert_true(sevmig_pstate_equal(ps, before));
		regions_are(fw, 1, whole);
	}

	nwants = 0;
	call(&kd, REG, 0, 40, 0);
	call(&kd, REG, 50, PAGES - 50, 0);
	call(&kd, UNR, 0, PAGES, 0);
	assert_int_equal(sevmig_fw_kvm_discard(fw, ps, GPA + 40 * PG, 10 * PG), 0);
	kd_done(&kd);
	static const uint64_t cut[][2] = { { 0, 40 }, { 50, PAGES - 50 } };
	regions_are(fw, 2, cut);
	for (uint64_t p = 30; p < 60; p++)
		assert_int_equal(sevmig_pstate_get(ps, GPA / PG + p),
				 p >= 40 && p < 50 ? SEVMIG_PAGE_PRIVATE : SEVMIG_PAGE_SHARED);
	assert_int_equal(sevmig_pstate_slot_count(ps), 1); /* the memslot is still there */

	/* a range across the hole: both neighbours are cut at their ends */
	nwants = 0;
	call(&kd, REG, 0, 35, 0);
	call(&kd, REG, 55, PAGES - 55, 0);
	call(&kd, UNR, 0, 40, 0);
	call(&kd, UNR, 50, PAGES - 50, 0);
	assert_int_equal(sevmig_fw_kvm_discard(fw, ps, GPA + 35 * PG, 20 * PG), 0);
	kd_done(&kd);
	static const uint64_t cut2[][2] = { { 0, 35 }, { 55, PAGES - 55 } };
	regions_are(fw, 2, cut2);
	/* inside the hole: nothing registered there, nothing to unregister */
	assert_int_equal(sevmig_fw_kvm_discard(fw, ps, GPA + 40 * PG, 5 * PG), 0);
	kd_done(&kd);
	/* a whole region: no part stays */
	nwants = 0;
	call(&kd, UNR, 0, 35, 0);
	assert_int_equal(sevmig_fw_kvm_discard(fw, ps, GPA, 35 * PG), 0);
	kd_done(&kd);
	static const uint64_t cut3[][2] = { { 55, PAGES - 55 } };
	regions_are(fw, 1, cut3);

	/* refusals */
	assert_int_equal(sevmig_fw_kvm_discard(fw, ps, GPA + 250 * PG, 10 * PG), -ENOENT);
	assert_int_equal(sevmig_fw_kvm_discard(fw, ps, GPA + 1, PG), -EINVAL);
	assert_int_equal(sevmig_fw_kvm_discard(fw, ps, GPA, 0), -EINVAL);
	struct sevmig_pstate *other;
	assert_int_equal(sevmig_pstate_new(&other, NULL), 0);
	assert_int_equal(sevmig_fw_kvm_discard(fw, other, GPA + 60 * PG, PG), -ERANGE);
	KD_MSG_HAS(fw, "discard: the map does not cover the range");
	sevmig_pstate_free(other);
	kd_done(&kd);

	nwants = 0;
	call(&kd, UNR, 55, PAGES - 55, 0);
	sevmig_fw_free(fw);
	kd_done(&kd);
	assert_int_equal(kern.n, 0);
	sevmig_pstate_free(before);
	sevmig_pstate_free(ps);
}

/* Removing a slot held by two regions, the second unpin failing. */
static void test_remove(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_pstate *ps, *before;
	struct sevmig_fw *fw = setup(&kd, &ps);
	call(&kd, REG, 0, 100, 0);
	call(&kd, REG, 101, PAGES - 101, 0);
	call(&kd, UNR, 0, PAGES, 0);
	assert_int_equal(sevmig_fw_kvm_discard(fw, ps, GPA + 100 * PG, PG), 0);
	kd_done(&kd);
	assert_int_equal(sevmig_pstate_set_range(ps, GPA / PG + 7, 3, SEVMIG_PAGE_SHARED), 0);
	assert_int_equal(sevmig_pstate_clone(ps, &before, NULL), 0);
	static const uint64_t two[][2] = { { 0, 100 }, { 101, PAGES - 101 } };

	nwants = 0;
	call(&kd, UNR, 0, 100, 0);
	call(&kd, UNR, 101, PAGES - 101, -EINVAL);
	call(&kd, REG, 0, 100, 0); /* undo */
	assert_int_equal(sevmig_fw_kvm_remove_memslot(fw, ps, GPA, PAGES * PG), -EINVAL);
	KD_MSG_HAS(fw, "exactly as registered");
	kd_done(&kd);
	assert_true(sevmig_pstate_equal(ps, before));
	assert_int_equal(sevmig_pstate_slot_count(ps), 1);
	regions_are(fw, 2, two);

	/* the undo failing too is said */
	nwants = 0;
	call(&kd, UNR, 0, 100, 0);
	call(&kd, UNR, 101, PAGES - 101, -EINVAL);
	call(&kd, REG, 0, 100, -ENOMEM);
	assert_int_equal(sevmig_fw_kvm_remove_memslot(fw, ps, GPA, PAGES * PG), -EINVAL);
	KD_MSG_HAS(fw, "no longer match");
	kd_done(&kd);
	assert_true(sevmig_pstate_equal(ps, before));
	/* the kernel now holds only the second region: re-pin the first by
	 * hand so that the script below sees the handle's records again */
	struct kvm_enc_region first = { (uintptr_t)host, 100 * PG };
	kd_add(&kd, KD_VM_FD, REG, 0, &first, sizeof(first), 0)->effect = kernel_reg;
	assert_int_equal(sevmig_fw_kvm_register_region(fw, host, 100 * PG), 0);
	kd_done(&kd);

	/* refusals before any call */
	assert_int_equal(sevmig_fw_kvm_remove_memslot(fw, ps, GPA, 100 * PG), -ENOENT);
	KD_MSG_HAS(fw, "no memslot was added as exactly");
	struct sevmig_pstate *other;
	assert_int_equal(sevmig_pstate_new(&other, NULL), 0);
	assert_int_equal(sevmig_fw_kvm_remove_memslot(fw, other, GPA, PAGES * PG), -ENOENT);
	KD_MSG_HAS(fw, "the map has no slot");
	sevmig_pstate_free(other);
	kd_done(&kd);

	nwants = 0;
	call(&kd, UNR, 0, 100, 0);
	call(&kd, UNR, 101, PAGES - 101, 0);
	assert_int_equal(sevmig_fw_kvm_remove_memslot(fw, ps, GPA, PAGES * PG), 0);
	kd_done(&kd);
	assert_int_equal(sevmig_pstate_slot_count(ps), 0);
	assert_int_equal(sevmig_pstate_get(ps, GPA / PG + 7), SEVMIG_PAGE_ABSENT);
	regions_are(fw, 0, two);
	/* added again, its pages start private: the state was forgotten */
	call(&kd, REG, 0, PAGES, 0);
	assert_int_equal(sevmig_fw_kvm_add_memslot(fw, ps, GPA, PAGES * PG, host), 0);
	kd_done(&kd);
	assert_int_equal(sevmig_pstate_get(ps, GPA / PG + 7), SEVMIG_PAGE_PRIVATE);
	nwants = 0;
	call(&kd, UNR, 0, PAGES, 0);
	sevmig_fw_free(fw);
	kd_done(&kd);
	sevmig_pstate_free(before);
	sevmig_pstate_free(ps);
}

/* Not a KVM handle, no VM fd. */
static void test_not_kvm(void **state)
{
	(void)state;
	struct kd kd;
	memset(&kd, 0, sizeof(kd));
	SEVMIG_OPTS(sevmig_fw_kvm_opts, o, .ioctl = kd_ioctl, .ioctl_arg = &kd);
	struct sevmig_fw *fw;
	assert_int_equal(sevmig_fw_kvm_open(-1, -1, &o, &fw, NULL), 0);
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	assert_int_equal(sevmig_fw_kvm_add_memslot(fw, ps, GPA, PG, host), -EINVAL);
	KD_MSG_HAS(fw, "no VM fd");
	assert_int_equal(sevmig_fw_kvm_region_count(NULL), 0);
	struct sevmig_kvm_region r = { .sz = sizeof(r) };
	assert_int_equal(sevmig_fw_kvm_region(NULL, 0, &r), -EINVAL);
	kd_done(&kd);
	sevmig_fw_free(fw);
	sevmig_pstate_free(ps);
}

int main(void)
{
	host = aligned_alloc(SEVMIG_PAGE_SIZE, PAGES * PG);
	if (!host)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_not_kvm),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(host);
	return rc;
}
#endif
