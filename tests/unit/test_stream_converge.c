/* SPDX-License-Identifier: MIT */
/*
 * Steering convergence: the round statistics, the downtime estimate (a
 * least-squares line through the passes measured, checked against the
 * line the synthetic rounds were made from), the stop-or-go-on rule, the
 * output pacing; and the sender's statistics against what it sent.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/stream_internal.h"
#include "test_stream_util.h"

/* A pass of `pages` pages that took fixed + pages x per_page ns. */
static void pass(struct sevmig__conv *c, struct sevmig_stream_counts *k, uint64_t *t,
		 uint64_t pages, uint64_t fixed, uint64_t per_page)
{
	sevmig__conv_begin(c, *t, k);
	k->enc_pages += pages / 2;
	k->plain_pages += pages - pages / 2;
	k->bytes += pages * 2000;
	k->rounds++;
	*t += fixed + pages * per_page;
	sevmig__conv_end(c, *t, k, k->enc_pages / 2);
}

static void test_estimate_and_rule(void **state)
{
	(void)state;
	struct sevmig__conv c;
	memset(&c, 0, sizeof(c));
	struct sevmig_stream_counts k = { .sz = sizeof(k) };
	memset(&k, 0, sizeof(k));
	uint64_t t = 1000;
	struct sevmig_downtime_estimate e = { .sz = sizeof(e) };
	assert_int_equal(sevmig__conv_estimate(&c, 10, &e), -ENODATA);
	struct sevmig_round_stats st = { .sz = sizeof(st) };
	assert_int_equal(sevmig__conv_stats(&c, &st), -ENODATA);

	/* One pass: no fixed part can be told apart yet. */
	pass(&c, &k, &t, 10000, 3000000, 2000);
	assert_int_equal(sevmig__conv_stats(&c, &st), 0);
	assert_int_equal(st.round, 0);
	assert_int_equal(st.pages, 10000);
	assert_int_equal(st.enc_pages, 5000);
	assert_int_equal(st.bytes, 20000000);
	assert_int_equal(st.duration_ns, 23000000);
	assert_int_equal(st.bytes_per_s, (uint64_t)(20000000 * 1e9 / 23000000));
	assert_int_equal(st.acked_pages, 2500);
	assert_int_equal(st.backlog_pages, 7500);
	assert_int_equal(sevmig__conv_estimate(&c, 100, &e), 0);
	assert_int_equal(e.fixed_ns, 0);
	assert_int_equal(e.transfer_ns, 100 * 2300);

	/* More passes on the line 3 ms + 2 us per page: the fit finds it. */
	pass(&c, &k, &t, 4000, 3000000, 2000);
	pass(&c, &k, &t, 1500, 3000000, 2000);
	assert_int_equal(sevmig__conv_estimate(&c, 700, &e), 0);
	assert_true(e.fixed_ns > 2999000 && e.fixed_ns < 3001000);
	assert_true(e.transfer_ns > 1399000 && e.transfer_ns < 1401000);
	assert_int_equal(e.total_ns, e.fixed_ns + e.transfer_ns);
	assert_int_equal(e.pages, 700);

	/* The rule, in order. */
	assert_int_equal(sevmig__conv_decide(&c, 700, 5000000, 0), SEVMIG_CONVERGE_STOP);
	assert_int_equal(sevmig__conv_decide(&c, 700, 4000000, 0), SEVMIG_CONVERGE_GO_ON);
	assert_int_equal(sevmig__conv_decide(&c, 700, 4000000, 2), SEVMIG_CONVERGE_MAX_ROUNDS);
	/* a guest that dirties as fast as the link: three rounds, no fewer pages */
	pass(&c, &k, &t, 1500, 3000000, 2000);
	pass(&c, &k, &t, 1600, 3000000, 2000);
	assert_int_equal(sevmig__conv_decide(&c, 1600, 1000, 0), SEVMIG_CONVERGE_GO_ON);
	pass(&c, &k, &t, 1600, 3000000, 2000);
	assert_int_equal(sevmig__conv_decide(&c, 1600, 1000, 0), SEVMIG_CONVERGE_STUCK);
	pass(&c, &k, &t, 900, 3000000, 2000);
	assert_int_equal(sevmig__conv_decide(&c, 900, 1000, 0), SEVMIG_CONVERGE_GO_ON);

	/* An older caller's smaller struct is filled only up to its size. */
	struct sevmig_round_stats small;
	memset(&small, 0x5a, sizeof(small));
	small.sz = offsetof(struct sevmig_round_stats, enc_pages);
	assert_int_equal(sevmig__conv_stats(&c, &small), 0);
	assert_int_equal(small.pages, 900);
	assert_int_equal(small.enc_pages, 0x5a5a5a5a5a5a5a5aull);
}

static void test_pacing(void **state)
{
	(void)state;
	struct sevmig__pace p;
	sevmig__pace_init(&p, 10000000, 0); /* 10 MB/s: bursts of 100 kB */
	assert_int_equal(sevmig__pace_allow(&p, 0, 60000), 60000);
	assert_int_equal(sevmig__pace_allow(&p, 0, 60000), 40000);
	assert_int_equal(sevmig__pace_allow(&p, 0, 60000), 0);
	uint64_t w = sevmig__pace_wait_ns(&p, 0);
	assert_true(w > 0 && w <= 101);
	/* 1 ms later: 10 kB more */
	assert_int_equal(sevmig__pace_allow(&p, 1000000, 60000), 10000);
	/* a long idle time refills only up to the burst */
	assert_int_equal(sevmig__pace_allow(&p, 5000000000ull, 1000000), 100000);
	/* over a simulated second, the bytes let through are the rate */
	uint64_t total = 0;
	for (uint64_t t = 5000000000ull; t < 6000000000ull; t += 100000)
		total += sevmig__pace_allow(&p, t, 1 << 20);
	assert_true(total >= 9900000 && total <= 10100000);
	sevmig__pace_init(&p, 0, 0); /* no limit */
	assert_int_equal(sevmig__pace_allow(&p, 0, 1 << 30), 1 << 30);
	assert_int_equal(sevmig__pace_wait_ns(&p, 0), 0);
}

/* The sender's own statistics: pages of each round as sent, a duration,
 * and an estimate and a verdict once passes were measured. */
static void test_sender_stats(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("converge_sender") };
	struct ttarget tt;
	tt_init(&tt);
	struct tguest g;
	tg_new(&rng, &g, 2, 200);
	struct sevmig_fw *fw = soft_platform(true, 0, 1);
	SEVMIG_OPTS(sevmig_sender_opts, so, .key_source = SEVMIG_KEY_PSK, .key = ts_psk,
		    .target_pdh = tt.pdh, .target_pdh_len = SEVMIG_CERT_SIZE);
	struct tsink out = { 0 };
	struct sevmig_sender *s;
	struct sevmig_error err;
	assert_int_equal(sevmig_sender_new(fw, g.reg, g.n, tsink_write, &out, &so, &s, &err), 0);
	assert_true(sevmig_sender_converge(s, 1, 1, 0) < 0);
	assert_int_equal(sevmig_sender_send_all(s, g.ps, &err), 0);
	struct sevmig_round_stats st = { .sz = sizeof(st) };
	assert_int_equal(sevmig_sender_round_stats(s, &st), 0);
	assert_int_equal(st.round, 0);
	assert_int_equal(st.pages, (g.reg[0].size + g.reg[1].size) >> 12);
	assert_true(st.duration_ns > 0 && st.bytes == out.len);
	uint64_t **dirty = tg_dirty_alloc(&g);
	for (int r = 1; r <= 3; r++) {
		size_t before = out.len;
		tg_run(&rng, &g, dirty, false);
		uint64_t want = 0;
		for (size_t k = 0; k < g.n; k++)
			for (uint64_t i = 0; i < g.reg[k].size >> 12; i++)
				want += dirty[k][i / 64] >> (i % 64) & 1;
		assert_int_equal(
		    sevmig_sender_send_dirty(s, g.ps, (const uint64_t *const *)dirty, &err), 0);
		assert_int_equal(sevmig_sender_round_stats(s, &st), 0);
		assert_int_equal(st.round, (uint64_t)r);
		assert_int_equal(st.pages, want);
		assert_int_equal(st.bytes, out.len - before);
	}
	struct sevmig_downtime_estimate e = { .sz = sizeof(e) };
	assert_int_equal(sevmig_sender_estimate_downtime(s, 100, &e), 0);
	assert_true(e.total_ns > 0);
	assert_int_equal(sevmig_sender_converge(s, 100, UINT64_MAX, 0), SEVMIG_CONVERGE_STOP);
	assert_int_equal(sevmig_sender_converge(s, 100, 0, 3), SEVMIG_CONVERGE_MAX_ROUNDS);
	tg_dirty_free(&g, dirty);
	assert_int_equal(sevmig_sender_finish(s, &err), 0);
	sevmig_sender_free(s);
	sevmig_fw_free(fw);
	free(out.data);
	tg_free(&g);
}

static uint64_t fake_now;
static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

/* A sans-I/O sender's output at a pace of 1 MB/s on the caller's clock. */
static void test_sender_pacing(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("converge_pacing") };
	struct ttarget tt;
	tt_init(&tt);
	struct tguest g;
	tg_new(&rng, &g, 1, 200);
	while (g.reg[0].size < (150u << 12)) { /* a stream well over the burst */
		tg_free(&g);
		tg_new(&rng, &g, 1, 200);
	}
	struct sevmig_fw *fw = soft_platform(true, 0, 1);
	fake_now = 1000000000;
	SEVMIG_OPTS(sevmig_sender_opts, so, .key_source = SEVMIG_KEY_PSK, .key = ts_psk,
		    .target_pdh = tt.pdh, .target_pdh_len = SEVMIG_CERT_SIZE,
		    .clock_ns = fake_clock, .max_bytes_per_s = 1000000);
	struct sevmig_sender *s;
	struct sevmig_error err;
	assert_int_equal(sevmig_sender_new(fw, g.reg, g.n, NULL, NULL, &so, &s, &err), 0);
	assert_int_equal(sevmig_sender_send_all(s, g.ps, &err), 0);
	static uint8_t b[1 << 20];
	assert_true(sevmig_sender_output_pending(s) > 100000);
	/* the burst (64 KiB at this rate), then nothing until time passes */
	assert_int_equal(sevmig_sender_output(s, b, sizeof(b)), 65536);
	assert_int_equal(sevmig_sender_output(s, b, sizeof(b)), 0);
	uint64_t w = sevmig_sender_output_wait_ns(s);
	assert_true(w > 0 && w <= 1001);
	fake_now += 10000000; /* 10 ms: 10 kB */
	assert_int_equal(sevmig_sender_output(s, b, sizeof(b)), 10000);
	/* the round's duration is measured on the caller's clock: none passed */
	struct sevmig_round_stats st = { .sz = sizeof(st) };
	assert_int_equal(sevmig_sender_round_stats(s, &st), 0);
	assert_int_equal(st.duration_ns, 0);
	sevmig_sender_free(s);
	sevmig_fw_free(fw);
	tg_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_estimate_and_rule),
		cmocka_unit_test(test_pacing),
		cmocka_unit_test(test_sender_stats),
		cmocka_unit_test(test_sender_pacing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
