/* SPDX-License-Identifier: MIT */
/*
 * Dirty pages as lists (sevmig_sender_send_dirty_list): absolute gfns and
 * KVM dirty-ring entries, in any order and with repeats, send what the
 * KVM_GET_DIRTY_LOG bitmaps send. The reference is a second sender fed the
 * bitmaps of the same rounds, and a per-page model of what a round sends
 * (each page written or converted, once); the target then holds the
 * source's memory.
 * Bad entries are refused by name, before anything is written.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_stream_util.h"

/* KVM slot value of region k: address space 1, memslot 10 + k. */
static uint32_t kvm_slot(size_t k)
{
	return (1u << 16) | (uint32_t)(10 + k);
}

static void shuffle(struct tu_rng *rng, void *base, size_t n, size_t size)
{
	uint8_t tmp[32], *b = base;
	for (size_t i = n; i > 1; i--) {
		size_t j = tu_below(rng, i);
		memcpy(tmp, b + (i - 1) * size, size);
		memcpy(b + (i - 1) * size, b + j * size, size);
		memcpy(b + j * size, tmp, size);
	}
}

/* A keyed sender of g on a fresh source platform (*fw, freed after it). */
static struct sevmig_sender *sender(struct tguest *g, struct ttarget *tt, struct tsink *out,
				    struct sevmig_fw **fw)
{
	struct sevmig_fw *src = soft_platform(true, 0, 1);
	*fw = src;
	SEVMIG_OPTS(sevmig_sender_opts, so, .key_source = SEVMIG_KEY_PSK, .key = ts_psk,
		    .target_pdh = tt->pdh, .target_pdh_len = SEVMIG_CERT_SIZE);
	struct sevmig_sender *s;
	struct sevmig_error err;
	memset(out, 0, sizeof(*out));
	assert_int_equal(sevmig_sender_new(src, g->reg, g->n, tsink_write, out, &so, &s, &err), 0);
	return s;
}

static void test_lists_match_bitmaps(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("dirty_list") };
	struct ttarget tt;
	tt_init(&tt);
	for (int guest = 0; guest < 12; guest++) {
		struct tguest g;
		tg_new(&rng, &g, 1 + tu_below(&rng, 4), 300);
		struct tsink ra, rb;
		struct sevmig_fw *fa, *fb;
		struct sevmig_sender *a = sender(&g, &tt, &ra, &fa), *b = sender(&g, &tt, &rb, &fb);
		struct sevmig_error err;
		assert_int_equal(sevmig_sender_send_all(a, g.ps, &err), 0);
		assert_int_equal(sevmig_sender_send_all(b, g.ps, &err), 0);
		uint64_t **dirty = tg_dirty_alloc(&g);
		uint32_t slots[TG_MAX_SLOTS];
		for (size_t k = 0; k < g.n; k++)
			slots[k] = kvm_slot(k);
		for (int round = 0; round < 3; round++) {
			struct sevmig_pstate *before;
			assert_int_equal(sevmig_pstate_clone(g.ps, &before, NULL), 0);
			struct sevmig_stream_counts c0 = { .sz = sizeof(c0) };
			sevmig_sender_counts(a, &c0);
			tg_run(&rng, &g, dirty, true);
			/* The model: a round sends each page written or converted,
			 * once. */
			uint64_t want = 0;
			for (size_t k = 0; k < g.n; k++)
				for (uint64_t i = 0; i < g.reg[k].size >> 12; i++) {
					uint64_t gfn = (g.reg[k].gpa >> 12) + i;
					want += (dirty[k][i / 64] >> (i % 64) & 1) ||
						sevmig_pstate_get(before, gfn) !=
						    sevmig_pstate_get(g.ps, gfn);
				}
			sevmig_pstate_free(before);
			/* The same dirty pages as gfns (round 0), ring entries
			 * (round 1) or both (round 2), shuffled, some twice. */
			size_t cap = 0;
			for (size_t k = 0; k < g.n; k++)
				cap += 2 * (g.reg[k].size >> 12);
			uint64_t *gfns = calloc(cap + 1, sizeof(*gfns));
			struct sevmig_dirty_gfn *ring = calloc(cap + 1, sizeof(*ring));
			size_t ng = 0, nr = 0;
			for (size_t k = 0; k < g.n; k++)
				for (uint64_t i = 0; i < g.reg[k].size >> 12; i++) {
					if (!(dirty[k][i / 64] >> (i % 64) & 1))
						continue;
					for (int rep = 0; rep < 1 + !tu_below(&rng, 5); rep++) {
						bool as_ring =
						    round == 1 || (round == 2 && tu_below(&rng, 2));
						if (as_ring)
							ring[nr++] = (struct sevmig_dirty_gfn){
								.flags = 1,
								.slot = slots[k],
								.offset = i
							};
						else
							gfns[ng++] = (g.reg[k].gpa >> 12) + i;
					}
				}
			shuffle(&rng, gfns, ng, sizeof(*gfns));
			shuffle(&rng, ring, nr, sizeof(*ring));
			SEVMIG_OPTS(sevmig_dirty_list, dl, .gfns = gfns, .ngfns = ng, .ring = ring,
				    .nring = nr, .kvm_slots = slots);
			assert_int_equal(
			    sevmig_sender_send_dirty(a, g.ps, (const uint64_t *const *)dirty, &err),
			    0);
			if (sevmig_sender_send_dirty_list(b, g.ps, &dl, &err))
				fail_msg("guest %d round %d: %s", guest, round, err.message);
			struct sevmig_stream_counts ca = { .sz = sizeof(ca) },
						    cb = { .sz = sizeof(cb) };
			sevmig_sender_counts(a, &ca);
			sevmig_sender_counts(b, &cb);
			uint64_t sent = ca.enc_pages + ca.plain_pages + ca.zero_pages -
					(c0.enc_pages + c0.plain_pages + c0.zero_pages);
			if (sent != want)
				fail_msg("guest %d round %d: %llu pages sent, the model says %llu",
					 guest, round, (unsigned long long)sent,
					 (unsigned long long)want);
			if (ca.enc_pages != cb.enc_pages || ca.plain_pages != cb.plain_pages ||
			    ca.zero_pages != cb.zero_pages || ca.rounds != cb.rounds)
				fail_msg(
				    "guest %d round %d: the list sent %llu/%llu/%llu pages, the "
				    "bitmaps %llu/%llu/%llu",
				    guest, round, (unsigned long long)cb.enc_pages,
				    (unsigned long long)cb.plain_pages,
				    (unsigned long long)cb.zero_pages,
				    (unsigned long long)ca.enc_pages,
				    (unsigned long long)ca.plain_pages,
				    (unsigned long long)ca.zero_pages);
			free(gfns);
			free(ring);
		}
		assert_int_equal(sevmig_sender_finish(a, &err), 0);
		assert_int_equal(sevmig_sender_finish(b, &err), 0);
		struct tguest t;
		tg_target(&g, &t, 0xee);
		if (ts_receive(rb.data, rb.len, &tt, &t, 0, 1, &err, NULL))
			fail_msg("guest %d: receive: %s", guest, err.message);
		assert_true(tg_diff(&g, &t) == UINT64_MAX);
		tg_free(&t);
		tg_dirty_free(&g, dirty);
		sevmig_sender_free(a);
		sevmig_sender_free(b);
		sevmig_fw_free(fa);
		sevmig_fw_free(fb);
		free(ra.data);
		free(rb.data);
		tg_free(&g);
	}
}

static void test_bad_entries(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("dirty_list_bad") };
	struct ttarget tt;
	tt_init(&tt);
	struct tguest g;
	tg_new(&rng, &g, 2, 64);
	struct tsink out;
	struct sevmig_fw *fw;
	struct sevmig_sender *s = sender(&g, &tt, &out, &fw);
	struct sevmig_error err;
	assert_int_equal(sevmig_sender_send_all(s, g.ps, &err), 0);
	size_t len = out.len;
	uint32_t slots[2] = { kvm_slot(0), kvm_slot(1) };
	uint64_t end = (g.reg[1].gpa + g.reg[1].size) >> 12;
	uint64_t gfns[2] = { g.reg[0].gpa >> 12, end };
	SEVMIG_OPTS(sevmig_dirty_list, d1, .gfns = gfns, .ngfns = 2);
	assert_int_equal(sevmig_sender_send_dirty_list(s, g.ps, &d1, &err), -ERANGE);
	assert_non_null(strstr(err.message, "(entry 1) is in no region"));
	struct sevmig_dirty_gfn ring[2] = { { 1, kvm_slot(1), 0 }, { 1, kvm_slot(7), 0 } };
	SEVMIG_OPTS(sevmig_dirty_list, d2, .ring = ring, .nring = 2, .kvm_slots = slots);
	assert_int_equal(sevmig_sender_send_dirty_list(s, g.ps, &d2, &err), -EINVAL);
	assert_non_null(strstr(err.message, "entry 1: slot 0x10011 (address space 1, memslot 17)"));
	ring[1] = (struct sevmig_dirty_gfn){ 1, kvm_slot(0), g.reg[0].size >> 12 };
	assert_int_equal(sevmig_sender_send_dirty_list(s, g.ps, &d2, &err), -ERANGE);
	assert_non_null(strstr(err.message, "is past the end of its region"));
	SEVMIG_OPTS(sevmig_dirty_list, d3, .nring = 1, .ring = ring);
	assert_int_equal(sevmig_sender_send_dirty_list(s, g.ps, &d3, &err), -EINVAL);
	assert_non_null(strstr(err.message, "need kvm_slots"));
	assert_int_equal(sevmig_sender_send_dirty_list(s, g.ps, NULL, &err), -EINVAL);
	/* nothing was written, and the sender goes on */
	assert_int_equal(out.len, len);
	gfns[1] = gfns[0];
	assert_int_equal(sevmig_sender_send_dirty_list(s, g.ps, &d1, &err), 0);
	assert_int_equal(sevmig_sender_finish(s, &err), 0);
	struct tguest t;
	tg_target(&g, &t, 0xee);
	if (ts_receive(out.data, out.len, &tt, &t, 0, 1, &err, NULL))
		fail_msg("receive: %s", err.message);
	tg_free(&t);
	sevmig_sender_free(s);
	sevmig_fw_free(fw);
	free(out.data);
	tg_free(&g);
}

static void test_bitmap_size(void **state)
{
	(void)state;
	assert_int_equal(sevmig_dirty_bitmap_size(0), 0);
	assert_int_equal(sevmig_dirty_bitmap_size(4096), 8);
	assert_int_equal(sevmig_dirty_bitmap_size(64 * 4096), 8);
	assert_int_equal(sevmig_dirty_bitmap_size(65 * 4096), 16);
	assert_int_equal(sevmig_dirty_bitmap_size(1ull << 40), (1ull << 28) / 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lists_match_bitmaps),
		cmocka_unit_test(test_bad_entries),
		cmocka_unit_test(test_bitmap_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
