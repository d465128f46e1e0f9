/* SPDX-License-Identifier: MIT */
/*
 * The out-of-tree page-state ioctls against a scripted kernel: nothing is
 * issued unless the series is named; the probe; KVM_GET/SET_PAGE_ENC_BITMAP
 * per slot in bounded windows, with the bitmap rules of the series (bit set =
 * encrypted, whole words read on SET, trailing bits); KVM_GET/SET_SHARED_
 * PAGES_LIST with its E2BIG growth and a kernel list that is unsorted,
 * overlapping and partly outside the map; all-or-nothing reads.
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

#include "fw/kvm/kvm_abi.h"

#define BIG (1u << 20) /* the backend's window, in pages */

/* The kernel's view: private unless listed. */
static const uint64_t kernel_shared[] = { 0x102,  0x10c,  0x1000,	   0x1001,
					  0x1002, 0x1003, 0x1000 + BIG + 5 };

static bool kernel_is_shared(uint64_t gfn)
{
	for (size_t i = 0; i < sizeof(kernel_shared) / sizeof(kernel_shared[0]); i++)
		if (kernel_shared[i] == gfn)
			return true;
	return false;
}

struct win {
	uint64_t start, n;
	const struct sevmig_pstate *ps; /* SET: the map the bits must say */
};

/* KVM_GET_PAGE_ENC_BITMAP of the v6 series: 1 = encrypted, only the bytes
 * of num_pages bits are written, the caller's bits past them kept. */
static void kernel_get(void *data, void *ctx)
{
	struct sevmig__kvm_page_enc_bitmap *b = data;
	const struct win *w = ctx;
	assert_int_equal(b->start_gfn, w->start);
	assert_int_equal(b->num_pages, w->n);
	assert_non_null(b->enc_bitmap);
	uint8_t *bits = b->enc_bitmap;
	for (uint64_t i = 0; i < b->num_pages; i++) {
		uint8_t m = (uint8_t)(1u << (i % 8));
		if (kernel_is_shared(b->start_gfn + i))
			bits[i / 8] &= (uint8_t)~m;
		else
			bits[i / 8] |= m;
	}
}

/* KVM_SET_PAGE_ENC_BITMAP reads whole unsigned longs. */
static void kernel_set(void *data, void *ctx)
{
	const struct sevmig__kvm_page_enc_bitmap *b = data;
	const struct win *w = ctx;
	assert_int_equal(b->start_gfn, w->start);
	assert_int_equal(b->num_pages, w->n);
	const uint8_t *bits = b->enc_bitmap;
	uint64_t words = (b->num_pages + 63) / 64;
	for (uint64_t i = 0; i < words * 64; i++) {
		bool set = bits[i / 8] >> (i % 8) & 1;
		if (i >= b->num_pages)
			assert_true(set); /* padding says private */
		else
			assert_int_equal(set, sevmig_pstate_get(w->ps, b->start_gfn + i) ==
						  SEVMIG_PAGE_PRIVATE);
	}
}

static void probe_args(void *data, void *ctx)
{
	const struct sevmig__kvm_page_enc_bitmap *b = data;
	(void)ctx;
	assert_int_equal(b->start_gfn, 0);
	assert_int_equal(b->num_pages, 64);
	assert_non_null(b->enc_bitmap);
	memset(b->enc_bitmap, 0xff, 8);
}

static struct sevmig_pstate *two_slots(uint64_t big)
{
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, 0x100, 13), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, 0x1000, big), 0);
	return ps;
}

static void test_not_named(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_NONE);
	struct sevmig_pstate *ps = two_slots(16);
	assert_int_equal(sevmig_fw_kvm_probe_pstate_ioctls(fw), -EOPNOTSUPP);
	KD_MSG_HAS(fw, "out-of-tree SEV live-migration series");
	assert_int_equal(sevmig_fw_kvm_get_pstate(fw, ps), -EOPNOTSUPP);
	assert_int_equal(sevmig_fw_kvm_set_pstate(fw, ps), -EOPNOTSUPP);
	kd_done(&kd); /* nothing issued on a kernel that may not have them */
	sevmig_pstate_free(ps);
	sevmig_fw_free(fw);
}

static void test_probe(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_ENC_BITMAP_V6);
	/* a stock kernel: ENOTTY, said plainly, asked again next time */
	kd_add(&kd, KD_VM_FD, SEVMIG__KVM_GET_PAGE_ENC_BITMAP_V6, 0, NULL, 0, -ENOTTY)->effect =
	    probe_args;
	kd_add(&kd, KD_VM_FD, SEVMIG__KVM_GET_PAGE_ENC_BITMAP_V6, 0, NULL, 0, -ENOTTY);
	assert_int_equal(sevmig_fw_kvm_probe_pstate_ioctls(fw), -EOPNOTSUPP);
	KD_MSG_HAS(fw, "KVM_GET_PAGE_ENC_BITMAP (0x4018aec5) is not available on this kernel");
	assert_int_equal(sevmig_fw_kvm_probe_pstate_ioctls(fw), -EOPNOTSUPP);
	kd_done(&kd);
	/* present: any other answer; remembered */
	kd_add(&kd, KD_VM_FD, SEVMIG__KVM_GET_PAGE_ENC_BITMAP_V6, 0, NULL, 0, -EFAULT);
	assert_int_equal(sevmig_fw_kvm_probe_pstate_ioctls(fw), 0);
	assert_int_equal(sevmig_fw_kvm_probe_pstate_ioctls(fw), 0);
	kd_done(&kd);
	sevmig_fw_free(fw);

	/* the 2019 numbers, and numbers of the caller's own */
	fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_ENC_BITMAP_2019);
	kd_add(&kd, KD_VM_FD, 0x4018aec2, 0, NULL, 0, -ENOTTY);
	assert_int_equal(sevmig_fw_kvm_probe_pstate_ioctls(fw), -EOPNOTSUPP);
	KD_MSG_HAS(fw, "0x4018aec2");
	kd_done(&kd);
	sevmig_fw_free(fw);
	memset(&kd, 0, sizeof(kd));
	SEVMIG_OPTS(sevmig_fw_kvm_opts, o, .ioctl = kd_ioctl, .ioctl_arg = &kd,
		    .series = SEVMIG_KVM_SERIES_ENC_BITMAP_V6, .series_get_request = 0x4018aed5);
	assert_int_equal(sevmig_fw_kvm_open(KD_VM_FD, -1, &o, &fw, NULL), 0);
	kd_add(&kd, KD_VM_FD, 0x4018aed5, 0, NULL, 0, 0);
	assert_int_equal(sevmig_fw_kvm_probe_pstate_ioctls(fw), 0);
	kd_done(&kd);
	sevmig_fw_free(fw);
}

static void test_bitmap_get_set(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_ENC_BITMAP_V6);
	struct sevmig_pstate *ps = two_slots(BIG + 100);
	const unsigned long get = SEVMIG__KVM_GET_PAGE_ENC_BITMAP_V6;
	const unsigned long set = SEVMIG__KVM_SET_PAGE_ENC_BITMAP_V6;

	/* probe, then one window for the small slot, two for the big one */
	struct win w[3] = { { 0x100, 13, ps }, { 0x1000, BIG, ps }, { 0x1000 + BIG, 100, ps } };
	kd_add(&kd, KD_VM_FD, get, 0, NULL, 0, 0);
	for (int i = 0; i < 3; i++) {
		struct kd_step *s = kd_add(&kd, KD_VM_FD, get, 0, NULL, 0, 0);
		s->effect = kernel_get;
		s->ctx = &w[i];
	}
	assert_int_equal(sevmig_fw_kvm_get_pstate(fw, ps), 0);
	kd_done(&kd);
	struct sevmig_pstate_stats st;
	sevmig_pstate_stats(ps, &st);
	assert_int_equal(st.shared_pages, 7);
	for (size_t i = 0; i < sizeof(kernel_shared) / sizeof(kernel_shared[0]); i++)
		assert_int_equal(sevmig_pstate_get(ps, kernel_shared[i]), SEVMIG_PAGE_SHARED);
	assert_int_equal(sevmig_pstate_get(ps, 0x10b), SEVMIG_PAGE_PRIVATE);

	/* and back: the same windows, the bits the map says */
	for (int i = 0; i < 3; i++) {
		struct kd_step *s = kd_add(&kd, KD_VM_FD, set, 0, NULL, 0, 0);
		s->effect = kernel_set;
		s->ctx = &w[i];
	}
	assert_int_equal(sevmig_fw_kvm_set_pstate(fw, ps), 0);
	kd_done(&kd);

	/* a SET failing half-way says where */
	kd_add(&kd, KD_VM_FD, set, 0, NULL, 0, 0);
	kd_add(&kd, KD_VM_FD, set, 0, NULL, 0, -EFAULT);
	assert_int_equal(sevmig_fw_kvm_set_pstate(fw, ps), -EFAULT);
	KD_MSG_HAS(fw, "KVM_SET_PAGE_ENC_BITMAP (gfn 0x1000 + 1048576 pages)");
	kd_done(&kd);
	sevmig_pstate_free(ps);
	sevmig_fw_free(fw);
}

/* A GET failing in the second window leaves the map as it was. */
static void test_bitmap_get_all_or_nothing(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_ENC_BITMAP_V6);
	struct sevmig_pstate *ps = two_slots(64), *before;
	assert_int_equal(sevmig_pstate_set_range(ps, 0x1010, 4, SEVMIG_PAGE_SHARED), 0);
	assert_int_equal(sevmig_pstate_clone(ps, &before, NULL), 0);
	const unsigned long get = SEVMIG__KVM_GET_PAGE_ENC_BITMAP_V6;
	struct win w = { 0x100, 13, ps };
	kd_add(&kd, KD_VM_FD, get, 0, NULL, 0, 0);
	struct kd_step *s = kd_add(&kd, KD_VM_FD, get, 0, NULL, 0, 0);
	s->effect = kernel_get;
	s->ctx = &w;
	kd_add(&kd, KD_VM_FD, get, 0, NULL, 0, -ENOTTY);
	kd_sev(&kd, KD_NO_ID, NULL, 0, 0, 0); /* the "is it SEV at all" probe */
	assert_int_equal(sevmig_fw_kvm_get_pstate(fw, ps), -EOPNOTSUPP);
	KD_MSG_HAS(fw, "not an SEV guest");
	kd_done(&kd);
	assert_true(sevmig_pstate_equal(ps, before));
	sevmig_pstate_free(before);
	sevmig_pstate_free(ps);
	sevmig_fw_free(fw);
}

/*
 * Memslots [0, 160) and [160, 416): the second slot's SET starts at gfn
 * 160, whose word begins at 128, and the posted kernel copies whole words
 * from there. Issued from gfn 160, the buffer's bits would land 32 pages
 * early and gfns 384-415 would never be written; issued from the aligned
 * gfn with the leading and trailing bits from the map, every page the
 * kernel ends up with is the map's.
 */
static struct kd_encmap encmap;

static void test_bitmap_set_word_aligned(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_ENC_BITMAP_V6);
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, 0, 160), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, 160, 256), 0);
	/* a pattern whose pages differ from those 32 further on */
	for (uint64_t g = 0; g < 416; g++)
		if ((g * 7 + g / 13) % 5 < 2)
			assert_int_equal(sevmig_pstate_set_range(ps, g, 1, SEVMIG_PAGE_SHARED), 0);
	const unsigned long get = SEVMIG__KVM_GET_PAGE_ENC_BITMAP_V6;
	const unsigned long set = SEVMIG__KVM_SET_PAGE_ENC_BITMAP_V6;
	kd_enc_reset(&encmap);
	kd_add(&kd, KD_VM_FD, get, 0, NULL, 0, 0); /* the probe */
	for (int i = 0; i < 2; i++) {
		struct kd_step *st = kd_add(&kd, KD_VM_FD, set, 0, NULL, 0, 0);
		st->effect = kd_enc_set;
		st->ctx = &encmap;
	}
	assert_int_equal(sevmig_fw_kvm_set_pstate(fw, ps), 0);
	kd_done(&kd);
	assert_int_equal(encmap.sets, 2);
	unsigned wrong = 0;
	for (uint64_t g = 0; g < 512; g++) {
		bool want = sevmig_pstate_get(ps, g) != SEVMIG_PAGE_SHARED;
		if (kd_enc_bit(&encmap, g) != want) {
			if (!wrong)
				fprintf(stderr, "first wrong page: gfn %llu\n",
					(unsigned long long)g);
			wrong++;
		}
	}
	if (wrong)
		fail_msg("the kernel holds %u pages in another state than the map", wrong);

	/* and back through GET, into a map that knows nothing yet */
	struct sevmig_pstate *back;
	assert_int_equal(sevmig_pstate_new(&back, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(back, 0, 160), 0);
	assert_int_equal(sevmig_pstate_add_slot(back, 160, 256), 0);
	for (int i = 0; i < 2; i++) {
		struct kd_step *st = kd_add(&kd, KD_VM_FD, get, 0, NULL, 0, 0);
		st->effect = kd_enc_get;
		st->ctx = &encmap;
	}
	assert_int_equal(sevmig_fw_kvm_get_pstate(fw, back), 0);
	kd_done(&kd);
	assert_true(sevmig_pstate_equal(ps, back));
	sevmig_pstate_free(back);
	sevmig_pstate_free(ps);
	sevmig_fw_free(fw);
}

/* ---- the v10 shared-pages list ---------------------------------------------------- */

struct list_reply {
	uint32_t want_size;
	int nents;
	const uint64_t *entries; /* pairs */
};

static void kernel_list(void *data, void *ctx)
{
	const struct sevmig__kvm_shared_pages_list *l = data;
	const struct list_reply *r = ctx;
	assert_non_null(l->pnents);
	assert_non_null(l->buffer);
	assert_int_equal(l->size, r->want_size);
	*l->pnents = r->nents;
	if (r->entries && r->nents > 0)
		memcpy(l->buffer, r->entries, (size_t)r->nents * 16);
}

static void test_list_get(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_SHARED_LIST_V10);
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, 0x100, 0x100), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, 0x1000, 0x10), 0);
	assert_int_equal(sevmig_pstate_set_range(ps, 0x1f0, 4, SEVMIG_PAGE_SHARED), 0);
	const unsigned long get = SEVMIG__KVM_GET_SHARED_PAGES_LIST;

	/* the kernel's list, as the guest's calls left it */
	static const uint64_t entries[] = { 0x1008, 0x1020, 0x150, 0x160, 0x155, 0x170,
					    0x50,   0x110,  0x300, 0x400, 0x170, 0x171 };
	struct list_reply probe = { 64, 0, NULL }, small = { 4096, 0, NULL },
			  full = { 8192, 6, entries };
	struct kd_step *s = kd_add(&kd, KD_VM_FD, get, 0, NULL, 0, 0);
	s->effect = kernel_list;
	s->ctx = &probe;
	s = kd_add(&kd, KD_VM_FD, get, 0, NULL, 0, -E2BIG);
	s->effect = kernel_list;
	s->ctx = &small;
	s = kd_add(&kd, KD_VM_FD, get, 0, NULL, 0, 0);
	s->effect = kernel_list;
	s->ctx = &full;
	assert_int_equal(sevmig_fw_kvm_get_pstate(fw, ps), 0);
	kd_done(&kd);
	struct sevmig_range runs[8];
	size_t n;
	assert_int_equal(sevmig_pstate_to_list(ps, runs, 8, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(runs[0].gfn, 0x100);
	assert_int_equal(runs[0].npages, 0x10);
	assert_int_equal(runs[1].gfn, 0x150);
	assert_int_equal(runs[1].npages, 0x21);
	assert_int_equal(runs[2].gfn, 0x1008);
	assert_int_equal(runs[2].npages, 0x8); /* and 0x1f0 is private again */

	/* answers that make no sense are refused, the map untouched */
	struct sevmig_pstate *before;
	assert_int_equal(sevmig_pstate_clone(ps, &before, NULL), 0);
	static const uint64_t reversed[] = { 0x120, 0x120 };
	struct list_reply bad[] = { { 4096, -1, NULL },
				    { 4096, 300, NULL },
				    { 4096, 1, reversed } };
	const char *says[] = { "reports -1 entries", "reports 300 entries", "entry 0" };
	for (int i = 0; i < 3; i++) {
		s = kd_add(&kd, KD_VM_FD, get, 0, NULL, 0, 0);
		s->effect = kernel_list;
		s->ctx = &bad[i];
		assert_int_equal(sevmig_fw_kvm_get_pstate(fw, ps), -EPROTO);
		KD_MSG_HAS(fw, says[i]);
		kd_done(&kd);
		assert_true(sevmig_pstate_equal(ps, before));
	}
	/* a guest that has not enabled migration: the kernel's error */
	kd_add(&kd, KD_VM_FD, get, 0, NULL, 0, -EINVAL);
	assert_int_equal(sevmig_fw_kvm_get_pstate(fw, ps), -EINVAL);
	kd_done(&kd);
	sevmig_pstate_free(before);
	sevmig_pstate_free(ps);
	sevmig_fw_free(fw);
}

/* A full buffer whose entries clip into more pieces than there are entries. */
static void test_list_more_pieces_than_entries(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_SHARED_LIST_V10);
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	for (uint64_t g = 0x100; g <= 0x300; g += 0x100)
		assert_int_equal(sevmig_pstate_add_slot(ps, g, 0x10), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, 0x1000, 0x200), 0);
	/* entry 0 spans three slots; 255 one-page entries fill the rest */
	static uint64_t entries[2 * 256];
	entries[0] = 0x100;
	entries[1] = 0x310;
	for (int i = 1; i < 256; i++) {
		entries[2 * i] = 0x1000 + 2 * (uint64_t)i;
		entries[2 * i + 1] = 0x1000 + 2 * (uint64_t)i + 1;
	}
	struct list_reply probe = { 64, 0, NULL }, full = { 4096, 256, entries };
	const unsigned long get = SEVMIG__KVM_GET_SHARED_PAGES_LIST;
	struct kd_step *s = kd_add(&kd, KD_VM_FD, get, 0, NULL, 0, 0);
	s->effect = kernel_list;
	s->ctx = &probe;
	s = kd_add(&kd, KD_VM_FD, get, 0, NULL, 0, 0);
	s->effect = kernel_list;
	s->ctx = &full;
	assert_int_equal(sevmig_fw_kvm_get_pstate(fw, ps), 0);
	kd_done(&kd);
	struct sevmig_pstate_stats st;
	sevmig_pstate_stats(ps, &st);
	assert_int_equal(st.shared_pages, 3 * 0x10 + 255);
	assert_int_equal(st.shared_runs, 3 + 255);
	sevmig_pstate_free(ps);
	sevmig_fw_free(fw);
}

struct list_want {
	int nents;
	uint32_t size;
	const uint64_t *entries;
};

static void kernel_list_set(void *data, void *ctx)
{
	const struct sevmig__kvm_shared_pages_list *l = data;
	const struct list_want *w = ctx;
	assert_non_null(l->pnents);
	assert_int_equal(*l->pnents, w->nents);
	assert_int_equal(l->size, w->size);
	if (w->nents)
		assert_memory_equal(l->buffer, w->entries, (size_t)w->nents * 16);
}

static void test_list_set(void **state)
{
	(void)state;
	struct kd kd;
	struct sevmig_fw *fw = kd_open(&kd, -1, SEVMIG_KVM_SERIES_SHARED_LIST_V10);
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, 0x100, 0x100), 0);
	const unsigned long set = SEVMIG__KVM_SET_SHARED_PAGES_LIST;
	kd_add(&kd, KD_VM_FD, SEVMIG__KVM_GET_SHARED_PAGES_LIST, 0, NULL, 0, 0);

	/* nothing shared: no entries, one entry's room */
	struct list_want empty = { 0, 16, NULL };
	struct kd_step *s = kd_add(&kd, KD_VM_FD, set, 0, NULL, 0, 0);
	s->effect = kernel_list_set;
	s->ctx = &empty;
	assert_int_equal(sevmig_fw_kvm_set_pstate(fw, ps), 0);

	assert_int_equal(sevmig_pstate_set_range(ps, 0x110, 2, SEVMIG_PAGE_SHARED), 0);
	assert_int_equal(sevmig_pstate_set_range(ps, 0x1f0, 0x10, SEVMIG_PAGE_SHARED), 0);
	static const uint64_t entries[] = { 0x110, 0x112, 0x1f0, 0x200 };
	struct list_want two = { 2, 32, entries };
	s = kd_add(&kd, KD_VM_FD, set, 0, NULL, 0, 0);
	s->effect = kernel_list_set;
	s->ctx = &two;
	assert_int_equal(sevmig_fw_kvm_set_pstate(fw, ps), 0);
	kd_add(&kd, KD_VM_FD, set, 0, NULL, 0, -EINVAL);
	assert_int_equal(sevmig_fw_kvm_set_pstate(fw, ps), -EINVAL);
	KD_MSG_HAS(fw, "KVM_SET_SHARED_PAGES_LIST");
	kd_done(&kd);
	sevmig_pstate_free(ps);
	sevmig_fw_free(fw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_named),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_bitmap_get_set),
		cmocka_unit_test(test_bitmap_get_all_or_nothing),
		cmocka_unit_test(test_bitmap_set_word_aligned),
		cmocka_unit_test(test_list_get),
		cmocka_unit_test(test_list_more_pieces_than_entries),
		cmocka_unit_test(test_list_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
