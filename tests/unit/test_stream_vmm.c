/* SPDX-License-Identifier: MIT */
/*
 * VMM records: the VMM's own state in the stream. Objects of every size
 * class (empty, one chunk, exactly a chunk, several) sent between rounds
 * and after the vCPU state arrive whole, in order, with the round they
 * followed, checked against the list the test sent. An insider who holds
 * the key and breaks the chunking rules (a gap, an object left open, a
 * size over the limit, a foreign chunk inside an object, a false END
 * count) is refused by the reader; so is a stream with VMM records sent to
 * a receiver that takes none.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_stream_stamp.h"
#include "test_stream_util.h"

#define QEMU SEVMIG_VMM_VENDOR('Q', 'E', 'M', 'U')

struct obj {
	uint32_t vendor, type;
	uint8_t *data;
	size_t len;
	uint64_t round;
};

struct objs {
	struct obj o[32];
	size_t n;
	int refuse_at; /* the callback fails on this object (-1: never) */
};

static int take(void *arg, const struct sevmig_vmm_object *v)
{
	struct objs *x = arg;
	if ((int)x->n == x->refuse_at)
		return -EBADMSG;
	assert_true(x->n < 32);
	struct obj *o = &x->o[x->n++];
	o->vendor = v->vendor;
	o->type = v->type;
	o->len = v->len;
	o->round = v->round;
	o->data = malloc(v->len + 1);
	assert_non_null(v->data); /* never NULL, even for an empty object */
	memcpy(o->data, v->data, v->len);
	return 0;
}

static void objs_free(struct objs *x)
{
	for (size_t i = 0; i < x->n; i++)
		free(x->o[i].data);
	x->n = 0;
}

/* A stream of g (SEV-ES with 2 vCPUs) with `sent` objects: sizes drawn
 * from the classes, placed after the first pass, between the 2 rounds and
 * after the VMSAs. */
static void make_stream(struct tu_rng *rng, struct tguest *g, struct ttarget *tt, struct objs *sent,
			struct tsink *out)
{
	static const size_t sizes[] = { 0, 1, 4096, 1u << 20, (1u << 20) + 1, 3 * (1u << 20) + 7 };
	struct sevmig_fw *src = soft_platform(true, SEVMIG_POLICY_ES, 1);
	SEVMIG_OPTS(sevmig_sender_opts, so, .key_source = SEVMIG_KEY_PSK, .key = ts_psk,
		    .target_pdh = tt->pdh, .target_pdh_len = SEVMIG_CERT_SIZE, .vcpus = 2);
	struct sevmig_sender *s;
	struct sevmig_error err;
	memset(out, 0, sizeof(*out));
	assert_int_equal(sevmig_sender_new(src, g->reg, g->n, tsink_write, out, &so, &s, &err), 0);
	assert_int_equal(sevmig_sender_send_vmm(s, QEMU, 1, "x", 1, &err), -EPROTO);
	assert_int_equal(sevmig_sender_send_all(s, g->ps, &err), 0);
	uint64_t **dirty = tg_dirty_alloc(g);
	sent->n = 0;
	for (int phase = 0; phase < 4; phase++) {
		if (phase == 1 || phase == 2) {
			tg_run(rng, g, dirty, false);
			assert_int_equal(sevmig_sender_send_dirty(
					     s, g->ps, (const uint64_t *const *)dirty, &err),
					 0);
		}
		if (phase == 3)
			for (uint32_t v = 0; v < 2; v++) {
				uint8_t vmsa[4096];
				tu_fill(rng, vmsa, sizeof(vmsa));
				assert_int_equal(sevmig_sender_send_vmsa(s, v, vmsa, &err), 0);
			}
		for (uint64_t k = 1 + tu_below(rng, 2); k; k--) {
			struct obj *o = &sent->o[sent->n++];
			o->vendor = tu_below(rng, 2) ? QEMU : SEVMIG_VMM_VENDOR_SEVMIG;
			o->type = (uint32_t)tu_below(rng, 5);
			o->len = sizes[tu_below(rng, sizeof(sizes) / sizeof(sizes[0]))];
			o->data = malloc(o->len + 1);
			tu_fill(rng, o->data, o->len);
			o->round = phase == 0 ? 1 : phase == 3 ? 3 : (uint64_t)phase + 1;
			if (sevmig_sender_send_vmm(s, o->vendor, o->type, o->data, o->len, &err))
				fail_msg("send_vmm: %s", err.message);
		}
	}
	assert_int_equal(sevmig_sender_send_vmm(s, QEMU, 1, NULL, 1, &err), -EINVAL);
	assert_int_equal(sevmig_sender_send_vmm(s, QEMU, 1, "", SEVMIG_VMM_MAX_SIZE + 1u, &err),
			 -EINVAL);
	assert_int_equal(sevmig_sender_finish(s, &err), 0);
	tg_dirty_free(g, dirty);
	sevmig_sender_free(s);
	sevmig_fw_free(src);
}

/* Receive s into a fresh target; the objects land in *got. */
static int receive(const uint8_t *s, size_t len, const struct tguest *g, const struct ttarget *tt,
		   bool with_cb, struct objs *got, struct sevmig_error *err)
{
	struct tguest t;
	tg_target(g, &t, 0);
	struct sevmig_fw *fw = tt_new(tt, 1);
	struct tsrc src = { s, len, 0, { 0 } };
	SEVMIG_OPTS(sevmig_receiver_opts, o, TS_KEY, .vmsa_dest = ts_vmsa_scratch,
		    .vmm_object = with_cb ? take : NULL, .vmm_arg = got);
	struct sevmig_receiver *r;
	sevmig_error_clear(err);
	int rc = sevmig_receiver_new(fw, t.reg, t.n, tsrc_read, &src, &o, &r, err);
	if (rc == 0) {
		rc = sevmig_receiver_run(r, err);
		struct sevmig_stream_counts c = { .sz = sizeof(c) };
		sevmig_receiver_counts(r, &c);
		if (rc == 0)
			assert_int_equal(c.vmm_objects, got->n);
		sevmig_receiver_free(r);
	}
	if (rc == 0)
		assert_true(tg_diff(g, &t) == UINT64_MAX);
	sevmig_fw_free(fw);
	tg_free(&t);
	return rc;
}

static void test_round_trip(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("vmm_round_trip") };
	struct ttarget tt;
	tt_init(&tt);
	for (int it = 0; it < 4; it++) {
		struct tguest g;
		tg_new(&rng, &g, 2, 40);
		struct objs sent, got = { .refuse_at = -1 };
		struct tsink out;
		make_stream(&rng, &g, &tt, &sent, &out);
		struct sevmig_error err;
		if (receive(out.data, out.len, &g, &tt, true, &got, &err))
			fail_msg("receive: %s", err.message);
		assert_int_equal(got.n, sent.n);
		for (size_t i = 0; i < sent.n; i++) {
			const struct obj *a = &sent.o[i], *b = &got.o[i];
			if (a->vendor != b->vendor || a->type != b->type || a->len != b->len ||
			    memcmp(a->data, b->data, a->len) || a->round != b->round)
				fail_msg("object %zu: sent %08x/%u %zu bytes after round %llu, got "
					 "%08x/%u %zu bytes after round %llu",
					 i, a->vendor, a->type, a->len,
					 (unsigned long long)a->round, b->vendor, b->type, b->len,
					 (unsigned long long)b->round);
		}
		/* key-less and keyed readers agree it is sound */
		assert_int_equal(ts_verify_key(out.data, out.len, NULL, NULL, &err, NULL), 0);
		assert_int_equal(ts_verify_key(out.data, out.len, ts_psk, NULL, &err, NULL), 0);
		/* no callback: refused, naming the record */
		objs_free(&got);
		assert_int_equal(receive(out.data, out.len, &g, &tt, false, &got, &err), -EPROTO);
		assert_non_null(strstr(err.message, "has no vmm_object callback"));
		/* the callback refuses the second object: the run fails */
		got.refuse_at = 1;
		assert_int_equal(receive(out.data, out.len, &g, &tt, true, &got, &err), -EBADMSG);
		assert_non_null(strstr(err.message, "the caller refused VMM object"));
		objs_free(&got);
		objs_free(&sent);
		free(out.data);
		tg_free(&g);
	}
}

/* The offsets of the stream's VMM records, in order. */
static size_t vmm_records(const uint8_t *s, size_t len, size_t *off, size_t max)
{
	size_t all[4096], n = ts_records(s, len, all, 4096), k = 0;
	for (size_t i = 0; i < n && k < max; i++)
		if (sevmig__le16(s + all[i]) == SEVMIG_REC_VMM)
			off[k++] = all[i];
	return k;
}

/* An insider's edit of the VMM record at offset `at`, tagged with the key:
 * the keyed reader refuses it with `want` in the message. */
static void insider(const uint8_t *s, size_t len, size_t at, size_t field, uint64_t value,
		    int width, const char *want)
{
	uint8_t *c = malloc(len);
	memcpy(c, s, len);
	uint8_t *p = c + at + TS_REC_HDR + field;
	if (width == 4)
		sevmig__put_le32(p, (uint32_t)value);
	else
		sevmig__put_le64(p, value);
	ts_restamp(c, len, ts_psk, false);
	struct sevmig_error err;
	int rc = ts_verify_key(c, len, ts_psk, NULL, &err, NULL);
	if (rc != -EBADMSG || !strstr(err.message, want))
		fail_msg("edit at %zu+%zu: %d %s (want \"%s\")", at, field, rc, err.message, want);
	free(c);
}

static void test_insider_breaks_chunking(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("vmm_insider") };
	struct ttarget tt;
	tt_init(&tt);
	struct tguest g;
	struct objs sent;
	struct tsink out;
	/* a stream with a multi-chunk object */
	size_t off[64], n;
	for (;;) {
		tg_new(&rng, &g, 1, 20);
		make_stream(&rng, &g, &tt, &sent, &out);
		n = vmm_records(out.data, out.len, off, 64);
		bool multi = false;
		for (size_t i = 0; i + 1 < n; i++)
			multi |= !(sevmig__le32(out.data + off[i] + TS_REC_HDR + 8) & 2);
		if (multi)
			break;
		objs_free(&sent);
		free(out.data);
		tg_free(&g);
	}
	size_t first = 0; /* the first record of a multi-chunk object */
	while (sevmig__le32(out.data + off[first] + TS_REC_HDR + 8) != 1)
		first++;
	size_t at = off[first], next = off[first + 1];
	insider(out.data, out.len, at, 16, SEVMIG_VMM_MAX_SIZE + 1ull, 8, "the limit is");
	insider(out.data, out.len, next, 24, sevmig__le64(out.data + next + TS_REC_HDR + 24) + 1, 8,
		"does not continue its object");
	insider(out.data, out.len, next, 4, 99, 4, "a chunk of another VMM object");
	insider(out.data, out.len, next, 8, 1, 4, "begins inside the previous one");
	insider(out.data, out.len, at, 8, 0, 4, "without the object's first chunk");
	insider(out.data, out.len, at, 8, 3, 4, "does not continue its object");
	/* the object's last chunk not marked last: the next record is inside it */
	size_t last = first + 1;
	while (!(sevmig__le32(out.data + off[last] + TS_REC_HDR + 8) & 2))
		last++;
	insider(out.data, out.len, off[last], 8, 0, 4, "does not continue its object");
	/* END's count of VMM records */
	size_t all[4096], na = ts_records(out.data, out.len, all, 4096);
	insider(out.data, out.len, all[na - 1], 56, 0, 8, "VMM records");
	objs_free(&sent);
	free(out.data);
	tg_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_insider_breaks_chunking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
