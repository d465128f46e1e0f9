/* SPDX-License-Identifier: MIT */
/*
 * Damaged streams into a real receiver (software firmware): random
 * single-bit flips spread over every record type, truncation at every
 * record boundary and at random offsets, a duplicated record, two swapped
 * records, a record from another migration of the same guest, bytes changed
 * by someone without the key (every CRC made right, the tags not). Every
 * one must be refused with an error naming the record, and the target memory
 * must then hold exactly what the records before the bad one wrote (a
 * snapshot taken per record boundary): no page of a refused record lands.
 */
#include "test_stream_util.h"

#define MAX_RECS 4096

struct fixture {
	struct tguest g;   /* the source guest, final state */
	struct ttarget tt; /* the target platform's key */
	struct tsink a, b; /* two migrations of the same guest */
	size_t offa[MAX_RECS], offb[MAX_RECS];
	size_t na, nb;
	struct tguest *snap; /* snap[k]: target memory after records 0..k-1 */
};

static struct fixture fx;

static void send_one(struct tu_rng *rng, struct tguest *g, struct tsink *out, bool last)
{
	struct sevmig_fw *src = soft_platform(true, SEVMIG_POLICY_ES, 2);
	SEVMIG_OPTS(sevmig_sender_opts, so, TS_KEY, .target_pdh = fx.tt.pdh,
		    .target_pdh_len = SEVMIG_CERT_SIZE, .zstd_level = 3, .batch_pages = 8,
		    .workers = 1, .vcpus = 2);
	struct sevmig_sender *s;
	struct sevmig_error err;
	memset(out, 0, sizeof(*out));
	assert_int_equal(sevmig_sender_new(src, g->reg, g->n, tsink_write, out, &so, &s, &err), 0);
	assert_int_equal(sevmig_sender_send_all(s, g->ps, &err), 0);
	uint64_t **dirty = tg_dirty_alloc(g);
	for (int r = 0; r < 2; r++) {
		/* Only the last migration lets the guest change: the first
		 * one is a replay source for splices. */
		if (last)
			tg_run(rng, g, dirty, true);
		else
			for (size_t k = 0; k < g->n; k++)
				memset(dirty[k], 0, 8);
		assert_int_equal(
		    sevmig_sender_send_dirty(s, g->ps, (const uint64_t *const *)dirty, &err), 0);
	}
	tg_dirty_free(g, dirty);
	uint8_t vmsa[4096];
	for (uint32_t v = 0; v < 2; v++) {
		tu_fill(rng, vmsa, sizeof(vmsa));
		assert_int_equal(sevmig_sender_send_vmsa(s, v, vmsa, &err), 0);
	}
	assert_int_equal(sevmig_sender_finish(s, &err), 0);
	sevmig_sender_free(s);
	sevmig_fw_free(src);
}

/* Receive into a fresh 0xcc-filled target; the target is left in *t. */
static int recv_into(const uint8_t *s, size_t len, struct tguest *t, unsigned workers,
		     struct sevmig_error *err)
{
	tg_target(&fx.g, t, 0xcc);
	return ts_receive(s, len, &fx.tt, t, workers, 2, err, NULL);
}

/* Which record holds byte `off` (-1: the header). */
static long record_at(size_t off)
{
	if (off < fx.offa[0])
		return -1;
	long k = 0;
	while ((size_t)k + 1 < fx.na && fx.offa[k + 1] <= off)
		k++;
	return k;
}

/* Refused, with a message, and the target as the records before k left it. */
static void expect_refused(const char *what, int rc, const struct sevmig_error *err,
			   struct tguest *t, size_t k, bool check_index)
{
	if (rc >= 0)
		fail_msg("%s: accepted", what);
	if (!err->message[0])
		fail_msg("%s: refused (%d) without a message", what, rc);
	if (check_index && err->index != k)
		fail_msg("%s: error names record %llu, the damage is in record %zu: %s", what,
			 (unsigned long long)err->index, k, err->message);
	uint64_t bad = tg_diff(&fx.snap[k], t);
	if (bad != UINT64_MAX)
		fail_msg("%s: gfn 0x%llx differs from what the %zu records before wrote (%s)", what,
			 (unsigned long long)bad, k, err->message);
	tg_free(t);
}

static int setup(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("damage_setup") };
	memset(&fx, 0, sizeof(fx));
	tt_init(&fx.tt);
	tg_new(&rng, &fx.g, 3, 48);
	send_one(&rng, &fx.g, &fx.b, false);
	send_one(&rng, &fx.g, &fx.a, true);
	fx.na = ts_records(fx.a.data, fx.a.len, fx.offa, MAX_RECS);
	fx.nb = ts_records(fx.b.data, fx.b.len, fx.offb, MAX_RECS);
	/* Every record type is there. */
	bool seen[10] = { false };
	for (size_t k = 0; k < fx.na; k++)
		seen[sevmig__le16(fx.a.data + fx.offa[k]) % 10] = true;
	for (int t = SEVMIG_REC_SESSION; t <= SEVMIG_REC_END; t++)
		if (t != SEVMIG_REC_ABORT && !seen[t])
			fail_msg("the test stream lacks a %s record", sevmig_record_type_name(t));
	/* Snapshots: the stream cut at each record boundary is refused as
	 * truncated after the records before the cut were applied. */
	fx.snap = calloc(fx.na + 1, sizeof(*fx.snap));
	for (size_t k = 0; k < fx.na; k++) {
		struct sevmig_error err;
		int rc = recv_into(fx.a.data, fx.offa[k], &fx.snap[k], 0, &err);
		if (rc != -ENODATA || !strstr(err.message, "truncated"))
			fail_msg("cut before record %zu: %d %s", k, rc, err.message);
	}
	/* And the whole stream works. */
	struct sevmig_error err;
	int rc = recv_into(fx.a.data, fx.a.len, &fx.snap[fx.na], 0, &err);
	if (rc)
		fail_msg("undamaged stream: %d %s", rc, err.message);
	assert_int_equal(tg_diff(&fx.g, &fx.snap[fx.na]), UINT64_MAX);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t k = 0; k <= fx.na; k++)
		tg_free(&fx.snap[k]);
	free(fx.snap);
	free(fx.a.data);
	free(fx.b.data);
	tg_free(&fx.g);
	return 0;
}

static void test_bit_flips(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("bit_flips") };
	uint8_t *s = malloc(fx.a.len);
	unsigned per_type[16] = { 0 };
	for (int i = 0; i < 1000; i++) {
		/* A record chosen uniformly, so that short types get their
		 * share; now and then the stream header. */
		long k = tu_below(&rng, 20) ? (long)tu_below(&rng, fx.na) : -1;
		size_t lo = k < 0 ? 0 : fx.offa[k];
		size_t hi = k < 0 ? fx.offa[0] : (size_t)k + 1 < fx.na ? fx.offa[k + 1] : fx.a.len;
		size_t at = lo + (size_t)tu_below(&rng, hi - lo);
		memcpy(s, fx.a.data, fx.a.len);
		s[at] ^= (uint8_t)(1u << tu_below(&rng, 8));
		struct tguest t;
		struct sevmig_error err;
		unsigned workers = i % 8 == 7 ? 2 : 0;
		int rc = recv_into(s, fx.a.len, &t, workers, &err);
		char what[96];
		snprintf(what, sizeof(what), "bit flip at byte %zu (record %ld)", at, k);
		size_t rec = k < 0 ? 0 : (size_t)k;
		expect_refused(what, rc, &err, &t, rec, k >= 0);
		if (k >= 0)
			per_type[sevmig__le16(fx.a.data + fx.offa[k]) % 16]++;
		else if (rc != -EBADMSG && rc != -EPROTO)
			fail_msg("%s: %d %s", what, rc, err.message);
	}
	for (int t = SEVMIG_REC_SESSION; t <= SEVMIG_REC_END; t++)
		if (t != SEVMIG_REC_ABORT && !per_type[t])
			fail_msg("no flip landed in a %s record", sevmig_record_type_name(t));
	free(s);
}

static void test_truncation(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("truncation") };
	for (int i = 0; i < 100; i++) {
		size_t cut = (size_t)tu_below(&rng, fx.a.len);
		struct tguest t;
		struct sevmig_error err;
		int rc = recv_into(fx.a.data, cut, &t, i % 2 ? 2 : 0, &err);
		if (rc != -ENODATA || !strstr(err.message, "truncated"))
			fail_msg("cut at %zu: %d %s", cut, rc, err.message);
		char want[48];
		snprintf(want, sizeof(want), "after %zu bytes", cut);
		if (cut && !strstr(err.message, want))
			fail_msg("cut at %zu: does not say how much arrived: %s", cut, err.message);
		long k = record_at(cut);
		expect_refused("truncation", rc, &err, &t, k < 0 ? 0 : (size_t)k, false);
	}
}

/* Build a stream from pieces of a (and of b). */
static size_t splice(uint8_t *dst, const size_t *order, size_t n, bool from_b_at, size_t b_k)
{
	size_t len = fx.offa[0];
	memcpy(dst, fx.a.data, len);
	for (size_t i = 0; i < n; i++) {
		size_t k = order[i];
		const uint8_t *src = fx.a.data + fx.offa[k];
		size_t rl = (k + 1 < fx.na ? fx.offa[k + 1] : fx.a.len) - fx.offa[k];
		if (from_b_at && k == b_k) {
			src = fx.b.data + fx.offb[k];
			rl = (k + 1 < fx.nb ? fx.offb[k + 1] : fx.b.len) - fx.offb[k];
		}
		memcpy(dst + len, src, rl);
		len += rl;
	}
	return len;
}

static void test_reordered(void **state)
{
	(void)state;
	uint8_t *s = malloc(2 * fx.a.len + fx.b.len);
	size_t *order = malloc((fx.na + 1) * sizeof(*order));
	for (size_t k = 0; k < fx.na; k++) {
		struct tguest t;
		struct sevmig_error err;
		char what[64];
		/* Record k twice. */
		size_t n = 0;
		for (size_t i = 0; i < fx.na; i++) {
			order[n++] = i;
			if (i == k)
				order[n++] = i;
		}
		size_t len = splice(s, order, n, false, 0);
		int rc = recv_into(s, len, &t, k % 2 ? 2 : 0, &err);
		snprintf(what, sizeof(what), "record %zu repeated", k);
		if (k + 1 == fx.na) {
			/* A second END: a record after END. */
			if (rc != -EPROTO || !strstr(err.message, "after END"))
				fail_msg("%s: %d %s", what, rc, err.message);
			tg_free(&t);
		} else {
			if (!strstr(err.message, "sequence number"))
				fail_msg("%s: %d %s", what, rc, err.message);
			expect_refused(what, rc, &err, &t, k + 1, true);
		}
		/* Records k and k + 1 swapped. */
		if (k + 1 < fx.na) {
			for (size_t i = 0; i < fx.na; i++)
				order[i] = i;
			order[k] = k + 1;
			order[k + 1] = k;
			len = splice(s, order, fx.na, false, 0);
			rc = recv_into(s, len, &t, 0, &err);
			snprintf(what, sizeof(what), "records %zu and %zu swapped", k, k + 1);
			expect_refused(what, rc, &err, &t, k, true);
		}
		/* Record k taken from another migration of the same guest. */
		if (k < fx.nb) {
			for (size_t i = 0; i < fx.na; i++)
				order[i] = i;
			len = splice(s, order, fx.na, true, k);
			rc = recv_into(s, len, &t, 0, &err);
			snprintf(what, sizeof(what), "record %zu from another stream", k);
			if (!strstr(err.message, "another stream"))
				fail_msg("%s: %d %s", what, rc, err.message);
			expect_refused(what, rc, &err, &t, k, true);
		}
		/* Record k dropped. */
		n = 0;
		for (size_t i = 0; i < fx.na; i++)
			if (i != k)
				order[n++] = i;
		len = splice(s, order, n, false, 0);
		rc = recv_into(s, len, &t, 0, &err);
		snprintf(what, sizeof(what), "record %zu dropped", k);
		expect_refused(what, rc, &err, &t, k, k + 1 < fx.na);
	}
	free(order);
	free(s);
}

/* A record whose CRCs are right but whose packet is not: the firmware's
 * MAC check refuses it (BAD_MEASUREMENT); nothing of that packet lands. */
static void test_forged_packet(void **state)
{
	(void)state;
	uint8_t *s = malloc(fx.a.len);
	for (size_t k = 0; k < fx.na; k++) {
		if (sevmig__le16(fx.a.data + fx.offa[k]) != SEVMIG_REC_ENC)
			continue;
		memcpy(s, fx.a.data, fx.a.len);
		uint8_t *p = s + fx.offa[k] + 20;
		/* The first packet: its pages before it are none. */
		uint32_t n = sevmig__le32(p);
		p[16 + 8 * n + 52 + 100] ^= 1;
		ts_restamp(s, fx.a.len, ts_psk, false);
		struct tguest t;
		struct sevmig_error err;
		int rc = recv_into(s, fx.a.len, &t, 0, &err);
		if (rc != -EIO || !strstr(err.message, "BAD_MEASUREMENT"))
			fail_msg("forged packet in record %zu: %d %s", k, rc, err.message);
		expect_refused("forged packet", rc, &err, &t, k, true);
	}
	free(s);
}

/*
 * What the tags leave out (format §3): the ciphertext of ENC and VMSA
 * packets, which the firmware's packet MAC covers. A changed ciphertext
 * byte with every CRC made right (no key needed) passes every reader, the
 * keyed one included: the firmware refuses the packet before any of it
 * lands. A changed packet header byte (flags, IV, MAC) with only the CRCs
 * made right fails the record's tag under the key, and only there.
 */
static void test_tag_scope(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("tag_scope") };
	uint8_t *s = malloc(fx.a.len);
	unsigned enc = 0, vmsa = 0;
	for (size_t k = 0; k < fx.na; k++) {
		uint16_t type = sevmig__le16(fx.a.data + fx.offa[k]);
		if (type != SEVMIG_REC_ENC && type != SEVMIG_REC_VMSA)
			continue;
		const uint8_t *p = fx.a.data + fx.offa[k] + 20;
		uint32_t n = type == SEVMIG_REC_ENC ? sevmig__le32(p) : 1;
		uint32_t i = (uint32_t)tu_below(&rng, n);
		size_t pkt =
		    (type == SEVMIG_REC_ENC ? 16 + 8 * (size_t)n : 16) + (52 + 4096) * (size_t)i;
		size_t at = fx.offa[k] + 20 + pkt + 52 + (size_t)tu_below(&rng, 4096);
		uint8_t bit = (uint8_t)(1u << tu_below(&rng, 8));
		struct sevmig_error err;
		struct tguest t;

		memcpy(s, fx.a.data, fx.a.len);
		s[at] ^= bit;
		ts_restamp(s, fx.a.len, NULL, false);
		for (int keyed = 0; keyed < 2; keyed++) {
			int rc =
			    ts_verify_key(s, fx.a.len, keyed ? ts_psk : NULL, NULL, &err, NULL);
			if (rc != 0)
				fail_msg(
				    "ciphertext byte %zu of record %zu changed: %s reader says "
				    "%d %s",
				    at, k, keyed ? "keyed" : "key-less", rc, err.message);
		}
		/* Inline: with workers, records handed on before the refusal
		 * may land (sevmig_receiver_run() says so). */
		int rc = recv_into(s, fx.a.len, &t, 0, &err);
		if (rc != -EIO || !strstr(err.message, "refused") || err.index != k)
			fail_msg("ciphertext byte %zu of record %zu changed: %d %s", at, k, rc,
				 err.message);
		if (i == 0) {
			expect_refused("changed ciphertext", rc, &err, &t, k, true);
		} else {
			/* The packets before it were applied; its page was not. */
			uint64_t gfn = sevmig__le64(p + 16 + 8 * (size_t)i);
			for (size_t r = 0; r < t.n; r++) {
				uint64_t g0 = t.reg[r].gpa >> 12, np = t.reg[r].size >> 12;
				if (gfn >= g0 && gfn < g0 + np &&
				    memcmp((uint8_t *)t.reg[r].host + ((gfn - g0) << 12),
					   (uint8_t *)fx.snap[k].reg[r].host + ((gfn - g0) << 12),
					   4096))
					fail_msg("the refused packet's gfn 0x%llx was written",
						 (unsigned long long)gfn);
			}
			tg_free(&t);
		}

		at = fx.offa[k] + 20 + pkt + (size_t)tu_below(&rng, 52);
		memcpy(s, fx.a.data, fx.a.len);
		s[at] ^= bit;
		ts_restamp(s, fx.a.len, NULL, false);
		rc = ts_verify_key(s, fx.a.len, ts_psk, NULL, &err, NULL);
		if (rc != -EBADMSG || err.index != k || !strstr(err.message, "tag does not verify"))
			fail_msg("packet header byte %zu of record %zu changed: %d %s", at, k, rc,
				 err.message);
		rc = recv_into(s, fx.a.len, &t, 0, &err);
		if (rc != -EBADMSG || !strstr(err.message, "tag does not verify"))
			fail_msg("packet header byte %zu of record %zu changed, receiver: %d %s",
				 at, k, rc, err.message);
		expect_refused("changed packet header", rc, &err, &t, k, true);
		*(type == SEVMIG_REC_ENC ? &enc : &vmsa) += 1;
	}
	assert_true(enc > 0 && vmsa > 0);
	free(s);
}

/*
 * Any tagged byte of any record (or of the header) changed by someone who
 * recomputes every CRC but has not the key: the receiver refuses it at that
 * record's tag (a header change: at record 0, whose key no longer fits, or
 * by a header rule) and nothing of it lands.
 */
static void test_forged_without_key(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("forged_without_key") };
	uint8_t *s = malloc(fx.a.len);
	for (long k = -1; k < (long)fx.na; k++) {
		size_t lo = k < 0 ? 0 : fx.offa[k];
		size_t at;
		if (k < 0) {
			/* UUID, policy, nonces: bytes a header rule does not
			 * otherwise refuse. */
			static const size_t hb[] = { 24, 31, 40, 64, 79, 80, 95 };
			at = hb[tu_below(&rng, sizeof(hb) / sizeof(hb[0]))];
		} else {
			uint32_t l = sevmig__le32(fx.a.data + lo + 4);
			uint16_t type = sevmig__le16(fx.a.data + lo);
			/* A payload byte outside packet ciphertext (the fixed
			 * fields and the gfn list, or any byte elsewhere). */
			/* ENC and VMSA: past the lengths (a packet count that
			 * does not fit the length is refused by the type's own
			 * rule, before any tag can be computed). */
			size_t from = 0, span = l;
			if (type == SEVMIG_REC_ENC) {
				from = 16;
				span = 8 * (size_t)sevmig__le32(fx.a.data + lo + 20);
			} else if (type == SEVMIG_REC_VMSA) {
				from = 16;
				span = 52;
			}
			at = lo + 20 + from + (size_t)tu_below(&rng, span);
		}
		memcpy(s, fx.a.data, fx.a.len);
		s[at] ^= (uint8_t)(1u << tu_below(&rng, 8));
		ts_restamp(s, fx.a.len, NULL, false);
		struct tguest t;
		struct sevmig_error err;
		int rc = recv_into(s, fx.a.len, &t, k % 3 == 2 ? 2 : 0, &err);
		char what[96];
		snprintf(what, sizeof(what), "byte %zu (record %ld) changed without the key", at,
			 k);
		if (rc != -EBADMSG && rc != -EPROTO)
			fail_msg("%s: %d %s", what, rc, err.message);
		if (k >= 0 && !strstr(err.message, "tag does not verify"))
			fail_msg("%s: not refused by its tag: %s", what, err.message);
		expect_refused(what, rc, &err, &t, k < 0 ? 0 : (size_t)k, true);
	}
	free(s);
}

/* An ABORT record damaged is refused as damage, not taken as an ABORT. */
static void test_abort_damaged(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("abort_damaged") };
	struct sevmig_fw *src = soft_platform(true, 0, 1);
	SEVMIG_OPTS(sevmig_sender_opts, so, TS_KEY, .target_pdh = fx.tt.pdh,
		    .target_pdh_len = SEVMIG_CERT_SIZE);
	struct sevmig_sender *s;
	struct sevmig_error err;
	struct tsink out = { 0 };
	assert_int_equal(sevmig_sender_new(src, fx.g.reg, fx.g.n, tsink_write, &out, &so, &s, &err),
			 0);
	assert_int_equal(sevmig_sender_send_all(s, fx.g.ps, &err), 0);
	sevmig_sender_cancel(s);
	assert_int_equal(sevmig_sender_finish(s, &err), -ECANCELED);
	sevmig_sender_free(s);
	sevmig_fw_free(src);
	size_t off[MAX_RECS];
	size_t n = ts_records(out.data, out.len, off, MAX_RECS);
	assert_int_equal(sevmig__le16(out.data + off[n - 1]), SEVMIG_REC_ABORT);
	assert_int_equal(ts_verify(out.data, out.len, NULL, &err, NULL), -ECANCELED);
	for (int i = 0; i < 50; i++) {
		size_t at = off[n - 1] + (size_t)tu_below(&rng, out.len - off[n - 1]);
		out.data[at] ^= 0x40;
		int rc = ts_verify(out.data, out.len, NULL, &err, NULL);
		if (rc != -EBADMSG || err.index != n - 1)
			fail_msg("ABORT flipped at %zu: %d %s", at, rc, err.message);
		out.data[at] ^= 0x40;
	}
	free(out.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bit_flips),	   cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_reordered),	   cmocka_unit_test(test_forged_packet),
		cmocka_unit_test(test_tag_scope),	   cmocka_unit_test(test_abort_damaged),
		cmocka_unit_test(test_forged_without_key),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
