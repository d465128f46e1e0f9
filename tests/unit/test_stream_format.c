/* SPDX-License-Identifier: MIT */
/*
 * The stream format (2.0) without firmware: CRC32C paths, a hand-made
 * keyed stream read back record by record, by a reader with the key and by
 * a key-less one, and one rejection per rule of docs/stream-format.md (the
 * edited stream is re-stamped, tags under the key included, so that the
 * rule itself, not a CRC or a tag, is what refuses it).
 */
#include "test_stream_util.h"

#include <zstd.h>

static const uint8_t UUID_A[16] = { 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
				    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
static const uint8_t UUID_B[16] = { 0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static const struct sevmig_range SLOTS[2] = { { 0x100, 64 }, { 0x1000, 32 } };

/* ---- CRC32C: the instruction and the table agree ------------------------ */

static void test_crc32c_paths(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("crc32c_paths") };
	/* The check value of CRC-32/ISCSI. */
	assert_int_equal(sevmig__crc32c_sw(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(sevmig__crc32c(0, "123456789", 9), 0xE3069283u);
	/* Lengths up to 3 long lanes and more, so that every lane width, fold
	 * width and tail of each instruction path meets the table. */
	static uint8_t buf[80000];
	tu_fill(&rng, buf, sizeof(buf));
	for (int i = 0; i < 2000; i++) {
		size_t max = i % 4 ? 8192 : sizeof(buf) - 16;
		size_t len = (size_t)tu_below(&rng, max), off = (size_t)tu_below(&rng, 16);
		buf[tu_below(&rng, sizeof(buf))] ^= 1;
		uint32_t seed = (uint32_t)tu_next(&rng);
		uint32_t whole = sevmig__crc32c_sw(seed, buf + off, len), got;
		assert_int_equal(sevmig__crc32c(seed, buf + off, len), whole);
		for (int path = 1; path <= 2; path++)
			if (sevmig__crc32c_via(path, seed, buf + off, len, &got) == 0)
				assert_int_equal(got, whole);
		/* Extending equals one pass, and so does joining two CRCs
		 * computed apart (the sender's workers do). */
		size_t cut = len ? (size_t)tu_below(&rng, len) : 0;
		uint32_t a = sevmig__crc32c(seed, buf + off, cut);
		uint32_t b = sevmig__crc32c(0, buf + off + cut, len - cut);
		assert_int_equal(sevmig__crc32c(a, buf + off + cut, len - cut), whole);
		assert_int_equal(sevmig__crc32c_combine(a, b, len - cut), whole);
	}
	assert_int_equal(sevmig__crc32c_combine(0x12345678u, 0, 0), 0x12345678u);
	uint32_t got;
	print_message("crc32c paths here: table%s%s\n",
		      sevmig__crc32c_via(1, 0, buf, 1, &got) == 0 ? ", three lanes" : "",
		      sevmig__crc32c_via(2, 0, buf, 1, &got) == 0 ? ", folding" : "");
}

/* ---- a valid hand-made stream ------------------------------------------- */

enum variant {
	V_PLAIN = 0,
	V_ES_VMSA,     /* ES policy, VMSA record before END */
	V_VMSA_NOT_ES, /* VMSA record in a non-ES stream */
	V_SKIPPABLE,   /* an unknown skippable record after SESSION */
	V_ABORT,       /* SESSION, ABORT */
	V_FULL_SHORT,  /* FULL covering one page too few */
	V_FULL_SPLIT,  /* FULL in two parts */
	V_ZSTD_SIZE,   /* PLAIN frame with the wrong content size */
	V_ENC_AFTER_VMSA,
	V_END_NO_ROUND,	   /* pages after the last ROUND, then END */
	V_INSECURE,	   /* V_PLAIN without keyed integrity */
	V_FULL_PART,	   /* only the first of two FULL parts */
	V_ES_NO_VCPUS,	   /* ES policy, SESSION declares no vCPU */
	V_ES_VMSA_MISSING, /* ES, 3 vCPUs declared, 2 VMSA records */
};

static struct sevmig_pstate *map_m(void)
{
	struct sevmig_pstate *m;
	assert_int_equal(sevmig_pstate_new(&m, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(m, SLOTS[0].gfn, SLOTS[0].npages), 0);
	assert_int_equal(sevmig_pstate_add_slot(m, SLOTS[1].gfn, SLOTS[1].npages), 0);
	assert_int_equal(sevmig_pstate_set_range(m, 0x110, 16, SEVMIG_PAGE_SHARED), 0);
	assert_int_equal(sevmig_pstate_set_range(m, 0x1000, 8, SEVMIG_PAGE_SHARED), 0);
	return m;
}

/* M2: 0x110 private again, 0x102 shared. */
static struct sevmig_pstate *map_m2(void)
{
	struct sevmig_pstate *m = map_m();
	assert_int_equal(sevmig_pstate_set_range(m, 0x110, 1, SEVMIG_PAGE_PRIVATE), 0);
	assert_int_equal(sevmig_pstate_set_range(m, 0x102, 1, SEVMIG_PAGE_SHARED), 0);
	return m;
}

static uint8_t *build(enum variant v, const uint8_t uuid[16], size_t *len)
{
	struct tbuild b;
	memset(&b, 0, sizeof(b));
	bool es =
	    v == V_ES_VMSA || v == V_ENC_AFTER_VMSA || v == V_ES_NO_VCPUS || v == V_ES_VMSA_MISSING;
	uint32_t policy = es ? SEVMIG_POLICY_ES : 0;
	uint32_t vcpus = !es || v == V_ES_NO_VCPUS ? 0 : v == V_ES_VMSA_MISSING ? 3 : 2;
	tb_header(&b, uuid, v == V_INSECURE ? 0 : SEVMIG_STREAM_FLAG_KEYED, policy, SLOTS, 2);
	tb_session(&b, policy, vcpus);
	if (v == V_ABORT) {
		uint8_t p[8 + 5];
		sevmig__put_le32(p, SEVMIG_ABORT_CANCELLED);
		sevmig__put_le32(p + 4, 5);
		memcpy(p + 8, "stop!", 5);
		tb_rec(&b, SEVMIG_REC_ABORT, 0, p, sizeof(p));
		tb_seal(&b);
		*len = b.out.len;
		return b.out.data;
	}
	if (v == V_SKIPPABLE) {
		uint8_t junk[7] = "future";
		tb_rec(&b, 0x4242, SEVMIG_REC_FLAG_SKIPPABLE, junk, sizeof(junk));
	}
	struct sevmig_pstate *m = map_m(), *m2 = map_m2();
	if (v == V_FULL_SPLIT || v == V_FULL_PART) {
		struct sevmig_pstate *a, *c;
		assert_int_equal(sevmig_pstate_new(&a, NULL), 0);
		assert_int_equal(sevmig_pstate_add_slot(a, 0x100, 64), 0);
		assert_int_equal(sevmig_pstate_set_range(a, 0x110, 16, SEVMIG_PAGE_SHARED), 0);
		assert_int_equal(sevmig_pstate_new(&c, NULL), 0);
		assert_int_equal(sevmig_pstate_add_slot(c, 0x1000, 32), 0);
		assert_int_equal(sevmig_pstate_set_range(c, 0x1000, 8, SEVMIG_PAGE_SHARED), 0);
		tb_pstate(&b, SEVMIG_PSTATE_FULL, 0x100, 0x800, a);
		if (v == V_FULL_SPLIT)
			tb_pstate(&b, SEVMIG_PSTATE_FULL, 0x800, 0x1020, c);
		sevmig_pstate_free(a);
		sevmig_pstate_free(c);
	} else if (v == V_FULL_SHORT) {
		struct sevmig_pstate *a;
		assert_int_equal(sevmig_pstate_new(&a, NULL), 0);
		assert_int_equal(sevmig_pstate_add_slot(a, 0x100, 63), 0);
		assert_int_equal(sevmig_pstate_add_slot(a, 0x1000, 32), 0);
		tb_pstate(&b, SEVMIG_PSTATE_FULL, 0x100, 0x1020, a);
		sevmig_pstate_free(a);
	} else {
		tb_pstate(&b, SEVMIG_PSTATE_FULL, 0x100, 0x1020, m);
	}
	/* The first pass delivers every page once: the 72 private pages in
	 * one ENC record, the shared ones as PLAIN and ZERO. */
	uint64_t e1[72];
	uint32_t ne = 0;
	for (uint64_t g = 0x100; g < 0x140; g++)
		if (g < 0x110 || g >= 0x120)
			e1[ne++] = g;
	for (uint64_t g = 0x1008; g < 0x1020; g++)
		e1[ne++] = g;
	assert_int_equal(ne, 72);
	tb_enc(&b, e1, ne);
	uint8_t page[4096];
	for (int i = 0; i < 4096; i++)
		page[i] = (uint8_t)(i * 7);
	uint64_t p1 = 0x110;
	tb_plain(&b, &p1, 1, SEVMIG_CODEC_RAW, page, 4096);
	uint8_t two[8192], frame[9000];
	for (int i = 0; i < 8192; i++)
		two[i] = (uint8_t)(i / 64);
	size_t fl = ZSTD_compress(frame, sizeof(frame), two, v == V_ZSTD_SIZE ? 4096 : 8192, 3);
	assert_false(ZSTD_isError(fl));
	uint64_t p2[2] = { 0x111, 0x112 };
	tb_plain(&b, p2, 2, SEVMIG_CODEC_ZSTD, frame, (uint32_t)fl);
	struct sevmig_range z[2] = { { 0x113, 13 }, { 0x1000, 8 } };
	tb_zero(&b, z, 2);
	tb_round(&b);
	struct sevmig_pstate *d;
	assert_int_equal(sevmig_pstate_delta(m, m2, &d), 0);
	tb_pstate(&b, SEVMIG_PSTATE_DELTA, 0x100, 0x1020, d);
	sevmig_pstate_free(d);
	uint64_t e2 = 0x110, p3 = 0x102;
	tb_enc(&b, &e2, 1);
	tb_plain(&b, &p3, 1, SEVMIG_CODEC_RAW, page, 4096);
	tb_round(&b);
	if (v == V_ES_VMSA || v == V_VMSA_NOT_ES || v == V_ENC_AFTER_VMSA ||
	    v == V_ES_VMSA_MISSING) {
		tb_vmsa(&b, 0);
		tb_vmsa(&b, 1);
	}
	if (v == V_ENC_AFTER_VMSA)
		tb_enc(&b, &e2, 1);
	if (v == V_END_NO_ROUND)
		tb_enc(&b, &e2, 1);
	tb_end(&b);
	tb_seal(&b);
	sevmig_pstate_free(m);
	sevmig_pstate_free(m2);
	*len = b.out.len;
	return b.out.data;
}

static void test_read_valid(void **state)
{
	(void)state;
	size_t len;
	uint8_t *s = build(V_PLAIN, UUID_A, &len);
	struct tu_rng rng = { tu_seed("read_valid") };
	/* Any way the bytes arrive gives the same records. */
	for (int pass = 0; pass < 4; pass++) {
		struct tsrc src = { s, len, 0, { pass ? tu_next(&rng) | 1 : 0 } };
		struct sevmig_stream_reader *r;
		/* Odd passes: key-less (tags left unchecked). */
		SEVMIG_OPTS(sevmig_reader_opts, ro, TS_KEY);
		assert_int_equal(
		    sevmig_stream_reader_new(tsrc_read, &src, pass % 2 ? NULL : &ro, &r, NULL), 0);
		struct sevmig_error err;
		struct sevmig_stream_header h;
		assert_int_equal(sevmig_stream_reader_header(r, &h, &err), 0);
		assert_int_equal(h.version_major, 2);
		assert_int_equal(h.version_minor, 0);
		assert_int_equal(h.header_len, 96 + 2 * 16 + 4);
		assert_int_equal(h.flags, SEVMIG_STREAM_FLAG_KEYED);
		assert_int_equal(h.key_source, SEVMIG_KEY_PSK);
		assert_int_equal(h.nslots, 2);
		assert_int_equal(h.slots[1].gfn, 0x1000);
		assert_memory_equal(h.uuid, UUID_A, 16);
		static const uint16_t types[] = {
			SEVMIG_REC_SESSION, SEVMIG_REC_PSTATE, SEVMIG_REC_ENC,	 SEVMIG_REC_PLAIN,
			SEVMIG_REC_PLAIN,   SEVMIG_REC_ZERO,   SEVMIG_REC_ROUND, SEVMIG_REC_PSTATE,
			SEVMIG_REC_ENC,	    SEVMIG_REC_PLAIN,  SEVMIG_REC_ROUND, SEVMIG_REC_END
		};
		struct sevmig_record_info info = { .sz = sizeof(info) };
		uint64_t off = h.header_len;
		for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			int rc = sevmig_stream_reader_next(r, &info, &err);
			if (rc != 1)
				fail_msg("record %u: %d %s", i, rc, err.message);
			assert_int_equal(info.type, types[i]);
			assert_int_equal(info.index, i);
			assert_int_equal(info.offset, off);
			assert_int_equal(info.tag_checked, pass % 2 == 0);
			assert_memory_equal(info.tag, s + off + 20 + info.length, 16);
			off += 40 + info.length;
		}
		assert_int_equal(sevmig_stream_reader_next(r, &info, &err), 0);
		assert_int_equal(sevmig_stream_reader_next(r, &info, &err), 0);
		struct sevmig_stream_counts c = { .sz = sizeof(c) };
		sevmig_stream_reader_counts(r, &c);
		assert_int_equal(c.records, 11);
		assert_int_equal(c.bytes, len);
		assert_int_equal(c.enc_pages, 73);
		assert_int_equal(c.plain_pages, 4);
		assert_int_equal(c.zero_pages, 21);
		assert_int_equal(c.rounds, 2);
		assert_int_equal(c.pstate_records, 2);
		struct sevmig_pstate *m2 = map_m2();
		assert_true(sevmig_pstate_equal(sevmig_stream_reader_pstate(r), m2));
		sevmig_pstate_free(m2);
		sevmig_stream_reader_free(r);
	}
	free(s);
}

static void test_record_details(void **state)
{
	(void)state;
	size_t len;
	uint8_t *s = build(V_PLAIN, UUID_A, &len);
	struct tsrc src = { s, len, 0, { 0 } };
	struct sevmig_stream_reader *r;
	SEVMIG_OPTS(sevmig_reader_opts, ro, TS_KEY);
	assert_int_equal(sevmig_stream_reader_new(tsrc_read, &src, &ro, &r, NULL), 0);
	struct sevmig_record_info info = { .sz = sizeof(info) };
	struct sevmig_error err;
	assert_int_equal(sevmig_stream_reader_next(r, &info, &err), 1); /* SESSION */
	assert_int_equal(info.policy, 0);
	assert_int_equal(info.vcpus, 0);
	assert_true(info.tag_checked);
	assert_int_equal(sevmig_stream_reader_next(r, &info, &err), 1); /* FULL */
	assert_int_equal(info.pstate_kind, SEVMIG_PSTATE_FULL);
	assert_int_equal(info.pstate_covered, 96);
	assert_int_equal(info.pstate_shared, 24);
	assert_int_equal(sevmig_stream_reader_next(r, &info, &err), 1); /* ENC */
	assert_int_equal(info.pages, 72);
	assert_int_equal(info.first_gfn, 0x100);
	assert_int_equal(info.last_gfn, 0x101f);
	assert_int_equal(sevmig_stream_reader_next(r, &info, &err), 1); /* PLAIN raw */
	assert_int_equal(info.codec, SEVMIG_CODEC_RAW);
	assert_int_equal(sevmig_stream_reader_next(r, &info, &err), 1); /* PLAIN zstd */
	assert_int_equal(info.codec, SEVMIG_CODEC_ZSTD);
	assert_int_equal(info.pages, 2);
	assert_int_equal(sevmig_stream_reader_next(r, &info, &err), 1); /* ZERO */
	assert_int_equal(info.runs, 2);
	assert_int_equal(info.pages, 21);
	assert_int_equal(info.last_gfn, 0x1007);
	assert_int_equal(sevmig_stream_reader_next(r, &info, &err), 1); /* ROUND */
	assert_int_equal(info.round, 0);
	assert_int_equal(sevmig_stream_reader_next(r, &info, &err), 1); /* DELTA */
	assert_int_equal(info.pstate_kind, SEVMIG_PSTATE_DELTA);
	assert_int_equal(info.pstate_covered, 2);
	while (sevmig_stream_reader_next(r, &info, &err) == 1 && info.type != SEVMIG_REC_END)
		;
	assert_int_equal(info.type, SEVMIG_REC_END);
	assert_int_equal(info.length, 64);
	assert_int_equal(info.offset, len - 40 - 64);
	assert_true(info.tag_checked);
	/* The tags the reader accepted are the model's (test_stream_stamp.h):
	 * sealing again changes no byte. */
	uint8_t *again = malloc(len);
	memcpy(again, s, len);
	ts_restamp(again, len, ts_psk, false);
	assert_memory_equal(again, s, len);
	free(again);
	sevmig_stream_reader_free(r);
	free(s);
}

static void test_variants(void **state)
{
	(void)state;
	struct {
		enum variant v;
		int rc;
		const char *msg;
		uint64_t index;
	} cases[] = {
		{ V_ES_VMSA, 0, NULL, 0 },
		{ V_SKIPPABLE, 0, NULL, 0 },
		{ V_FULL_SPLIT, 0, NULL, 0 },
		{ V_VMSA_NOT_ES, -EPROTO, "not SEV-ES", 11 },
		{ V_ABORT, -ECANCELED, "aborted the migration at record 1 (cancelled): stop!", 1 },
		{ V_FULL_SHORT, -EBADMSG, "covers 95 pages; the memslots have 96", 1 },
		{ V_ZSTD_SIZE, -EBADMSG, "declares 4096 bytes", 4 },
		{ V_ENC_AFTER_VMSA, -EPROTO, "after a VMSA", 13 },
		{ V_END_NO_ROUND, -EPROTO, "not closed by a ROUND", 12 },
		{ V_FULL_PART, -EPROTO, "before the full page state is complete", 2 },
		{ V_ES_NO_VCPUS, -EBADMSG, "declares 0 vCPUs", 0 },
		{ V_ES_VMSA_MISSING, -EBADMSG, "SESSION declares 3 vCPUs", 13 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		uint8_t *s = build(cases[i].v, UUID_A, &len);
		struct sevmig_error err;
		uint64_t n;
		/* With the key and without it: the same verdict. */
		for (int keyed = 0; keyed < 2; keyed++) {
			int rc = ts_verify_key(s, len, keyed ? ts_psk : NULL, NULL, &err, &n);
			if (rc != cases[i].rc ||
			    (cases[i].msg && !strstr(err.message, cases[i].msg)) ||
			    (cases[i].rc && err.index != cases[i].index))
				fail_msg("variant %d (%s): rc %d (want %d), index %llu: %s",
					 cases[i].v, keyed ? "keyed" : "key-less", rc, cases[i].rc,
					 (unsigned long long)err.index, err.message);
		}
		if (cases[i].v == V_SKIPPABLE) {
			struct tsrc src = { s, len, 0, { 0 } };
			struct sevmig_stream_reader *r;
			SEVMIG_OPTS(sevmig_reader_opts, ro, TS_KEY);
			assert_int_equal(sevmig_stream_reader_new(tsrc_read, &src, &ro, &r, NULL),
					 0);
			struct sevmig_record_info info = { .sz = sizeof(info) };
			assert_int_equal(sevmig_stream_reader_next(r, &info, &err), 1);
			assert_int_equal(sevmig_stream_reader_next(r, &info, &err), 1);
			assert_true(info.skipped);
			assert_true(info.tag_checked); /* skipped, but authenticated */
			assert_int_equal(info.type, 0x4242);
			sevmig_stream_reader_free(r);
		}
		free(s);
	}
}

/* ---- keys: keyed and insecure streams, readers with and without a key ---- */

static void test_keys(void **state)
{
	(void)state;
	struct sevmig_error err;
	size_t len;
	uint8_t *s = build(V_INSECURE, UUID_A, &len);
	assert_int_equal(sevmig__le32(s + 16), 0);
	assert_int_equal(sevmig__le32(s + 48), SEVMIG_KEY_NONE);
	/* Insecure: every key-less reader verifies the tags under the zero
	 * secret; a reader with a key refuses the stream. */
	assert_int_equal(ts_verify(s, len, NULL, &err, NULL), 0);
	assert_int_equal(ts_verify_key(s, len, ts_psk, NULL, &err, NULL), -EPROTO);
	assert_non_null(strstr(err.message, "has a key and refuses it"));
	assert_int_equal(err.index, 0);
	/* A changed byte with only the CRCs made right: the zero-key tag
	 * refuses it even without a key. */
	size_t off[32];
	assert_int_equal(ts_records(s, len, off, 32), 12);
	s[off[3] + 20 + 16 + 8 + 7] ^= 1;
	ts_restamp(s, len, NULL, false);
	assert_int_equal(ts_verify(s, len, NULL, &err, NULL), -EBADMSG);
	assert_non_null(strstr(err.message, "tag does not verify"));
	assert_int_equal(err.index, 3);
	/* Re-tagged under the zero secret (anyone can): accepted key-less. */
	ts_restamp(s, len, NULL, true);
	assert_int_equal(ts_verify(s, len, NULL, &err, NULL), 0);
	free(s);

	/* Keyed under ts_psk: another key, or a keyed stream tagged as if it
	 * were insecure, fails at the first record's tag. */
	s = build(V_PLAIN, UUID_A, &len);
	uint8_t other[32];
	memcpy(other, ts_psk, 32);
	other[31] ^= 1;
	assert_int_equal(ts_verify_key(s, len, other, NULL, &err, NULL), -EBADMSG);
	assert_non_null(strstr(err.message, "tag does not verify"));
	assert_int_equal(err.index, 0);
	ts_restamp(s, len, NULL, true);
	assert_int_equal(ts_verify_key(s, len, ts_psk, NULL, &err, NULL), -EBADMSG);
	assert_int_equal(err.index, 0);
	/* The key-less reader leaves keyed tags unchecked. */
	assert_int_equal(ts_verify(s, len, NULL, &err, NULL), 0);
	/* A keyed reader of another key source refuses by the header. */
	ts_restamp(s, len, ts_psk, false);
	struct tsrc src = { s, len, 0, { 0 } };
	struct sevmig_stream_reader *r;
	SEVMIG_OPTS(sevmig_reader_opts, ro, .key_source = SEVMIG_KEY_TLS, .key = ts_psk);
	assert_int_equal(sevmig_stream_reader_new(tsrc_read, &src, &ro, &r, NULL), 0);
	struct sevmig_record_info info = { .sz = sizeof(info) };
	assert_int_equal(sevmig_stream_reader_next(r, &info, &err), -EPROTO);
	assert_non_null(strstr(err.message, "keyed by a pre-shared key, this reader by TLS"));
	sevmig_stream_reader_free(r);
	free(s);
}

/* ---- one rejection per rule --------------------------------------------- */

struct mut {
	const char *name;
	int rc;
	const char *msg;
	long index; /* -1: do not check */
};

/* Payload of record i. */
#define PL(i) (s + off[i] + 20)

static void test_rejections(void **state)
{
	(void)state;
	const struct mut muts[] = {
		/* 0 */ { "bad magic", -EBADMSG, "bad magic", 0 },
		/* 1 */
		{ "major version 1", -EPROTO, "1.0 streams carry no keyed integrity", 0 },
		/* 2 */ { "header damaged", -EBADMSG, "stream header CRC mismatch", 0 },
		/* 3 */ { "reserved header flag", -EBADMSG, "reserved header flags 0x4", 0 },
		/* 4 */ { "page size", -EBADMSG, "page size 8192", 0 },
		/* 5 */ { "overlapping memslots", -EBADMSG, "overlaps", 0 },
		/* 6 */ { "record header damaged", -EBADMSG, "header CRC mismatch", 2 },
		/* 7 */ { "payload damaged", -EBADMSG, "record CRC mismatch", 3 },
		/* 8 */ { "sequence gap", -EPROTO, "sequence number 7, expected 3", 3 },
		/* 9 */ { "unknown mandatory type", -EPROTO, "unknown type 42", 6 },
		/* 10 */
		{ "gfn outside memslots", -EBADMSG, "gfn 0x200 is outside every memslot", 2 },
		/* 11 */ { "ENC page shared", -EBADMSG, "gfn 0x110 is shared", 2 },
		/* 12 */ { "PLAIN page private", -EBADMSG, "gfn 0x105 is private", 3 },
		/* 13 */ { "ZERO run over a private page", -EBADMSG, "gfn 0x10f is private", 5 },
		/* 14 */ { "ZERO run across memslots", -EBADMSG, "not inside one memslot", 5 },
		/* 15 */
		{ "gfns not increasing", -EBADMSG, "not strictly increasing at entry 1", 2 },
		/* 16 */ { "zstd frame broken", -EBADMSG, "not a zstd frame", 4 },
		/* 17 */ { "ROUND counts", -EBADMSG, "round 0 counts ENC 4", 6 },
		/* 18 */ { "END counts", -EBADMSG, "END counts 5 ENC pages", 11 },
		/* 19: END's digest is gone; its counters changed with only the CRCs
		 * made right: its tag refuses it. */
		{ "END changed without the key", -EBADMSG, "tag does not verify", 11 },
		/* 20 */ { "missing SESSION", -EPROTO, "missing SESSION", 0 },
		/* 21 */ { "second SESSION", -EPROTO, "a second SESSION", 1 },
		/* 22 */
		{ "pages before the full state", -EPROTO, "before the full page state", 2 },
		/* 23 */ { "bytes after END", -EPROTO, "data after END", 12 },
		/* 24 */ { "record after END", -EPROTO, "data after END", 12 },
		/* 25 */ { "duplicated record", -EPROTO, "sequence number 3, expected 4", 4 },
		/* 26 */ { "swapped records", -EPROTO, "sequence number 4, expected 3", 3 },
		/* 27 */ { "record from another stream", -EBADMSG, "another stream", 3 },
		/* 28 */ { "FULL after complete", -EPROTO, "after the full state was complete", 7 },
		/* 29 */ { "reserved record flags", -EBADMSG, "reserved flags 0x1", 2 },
		/* 30 */ { "payload length over the limit", -EBADMSG, "exceeds the limit", 2 },
		/* 31 */ { "raw PLAIN with short data", -EBADMSG, "payload of", 3 },
		/* 32 */ { "SESSION policy differs", -EBADMSG, "differs from the header", 0 },
		/* 33 */ { "round number", -EPROTO, "round 1, expected round 0", 6 },
		/* 34 */ { "reserved field in ENC", -EBADMSG, "reserved 1", 2 },
		/* 35 */
		{ "header reserved not zero", -EBADMSG, "reserved header bytes 52..63", 0 },
		/* 36 */ { "empty input", -ENODATA, "the input is empty", 0 },
		/* 37 */ { "type 0, even skippable", -EBADMSG, "type 0 is never valid", 6 },
		/* 38 */
		{ "KEYED flag without key source", -EBADMSG, "does not fit the KEYED flag", 0 },
		/* 39 */ { "PLAIN data without the key", -EBADMSG, "tag does not verify", 3 },
		/* 40 */ { "page missing from pass 0", -EBADMSG, "ends without gfn 0x11f", 6 },
		/* 41 */
		{ "page twice in a pass", -EBADMSG, "gfn 0x112 is delivered a second time", 5 },
		/* 42 */ { "DELTA before ROUND 0", -EPROTO, "a DELTA in the first pass", 1 },
		/* 43 */ { "FULL beyond the layout", -EBADMSG, "leaves the memory layout", 1 },
		/* 44 */ { "vCPUs for a non-ES guest", -EBADMSG, "declares 1 vCPUs", 0 },
		/* 45 */ { "SESSION reserved", -EBADMSG, "reserved field is not zero", 0 },
		/* 46 */ { "header nonce changed", -EBADMSG, "tag does not verify", 0 },
		/* 47 */ { "record moved to another pass", -EBADMSG, "tag does not verify", 9 },
	};
	size_t olen;
	struct sevmig_error err0;
	uint8_t *orig = build(V_PLAIN, UUID_A, &olen);
	size_t blen;
	uint8_t *other = build(V_PLAIN, UUID_B, &blen);
	size_t ooff[32], boff[32];
	size_t nrec = ts_records(orig, olen, ooff, 32);
	assert_int_equal(nrec, 12);
	assert_int_equal(ts_verify_key(orig, olen, ts_psk, NULL, &err0, NULL), 0);
	ts_records(other, blen, boff, 32);
	for (size_t m = 0; m < sizeof(muts) / sizeof(muts[0]); m++) {
		uint8_t *s = malloc(olen + 2 * 70000);
		memcpy(s, orig, olen);
		size_t len = olen, off[32];
		memcpy(off, ooff, sizeof(off));
		bool restamp = true, crcs_only = false;
		switch (m) {
		case 0:
			s[3] ^= 0x20;
			break;
		case 1:
			s[8] = 1;
			break;
		case 2:
			s[41] ^= 4;
			restamp = false;
			break;
		case 3:
			s[16] |= 4;
			break;
		case 4:
			sevmig__put_le32(s + 20, 8192);
			break;
		case 5:
			sevmig__put_le64(s + 96 + 16, 0x13f000);
			break;
		case 6:
			s[off[2] + 5] ^= 1;
			restamp = false;
			break;
		case 7:
			PL(3)[100] ^= 0x80;
			restamp = false;
			break;
		case 8:
			sevmig__put_le64(s + off[3] + 8, 7);
			break;
		case 9:
			sevmig__put_le16(s + off[6], 42);
			break;
		case 10:
			sevmig__put_le64(PL(2) + 16, 0x200);
			break;
		case 11:
			sevmig__put_le64(PL(2) + 16, 0x110);
			break;
		case 12:
			sevmig__put_le64(PL(3) + 16, 0x105);
			break;
		case 13:
			sevmig__put_le64(PL(5) + 8, 0x10f);
			break;
		case 14:
			sevmig__put_le64(PL(5) + 8, 0x13e);
			sevmig__put_le64(PL(5) + 16, 4);
			break;
		case 15:
			sevmig__put_le64(PL(2) + 24, 0x100);
			break;
		case 16:
			PL(4)[16 + 16] ^= 0xff;
			break;
		case 17:
			sevmig__put_le64(PL(6) + 8, 4);
			break;
		case 18:
			sevmig__put_le64(PL(11) + 24, 5);
			break;
		case 19:
			sevmig__put_le64(PL(11) + 24, 74);
			crcs_only = true;
			break;
		case 20:
			sevmig__put_le16(s + off[0], SEVMIG_REC_PSTATE);
			break;
		case 21:
			sevmig__put_le16(s + off[1], SEVMIG_REC_SESSION);
			break;
		case 22:
			sevmig__put_le16(s + off[1], 0x7777);
			sevmig__put_le16(s + off[1] + 2, SEVMIG_REC_FLAG_SKIPPABLE);
			break;
		case 23:
			s[len++] = 'x';
			break;
		case 24:
			memcpy(s + len, s + off[6], off[7] - off[6]);
			len += off[7] - off[6];
			break;
		case 25: {
			size_t rl = off[4] - off[3];
			memmove(s + off[4] + rl, s + off[4], len - off[4]);
			memcpy(s + off[4], s + off[3], rl);
			len += rl;
			break;
		}
		case 26: {
			size_t a = off[4] - off[3], b = off[5] - off[4];
			uint8_t *t = malloc(a + b);
			memcpy(t, s + off[4], b);
			memcpy(t + b, s + off[3], a);
			memcpy(s + off[3], t, a + b);
			free(t);
			restamp = false;
			break;
		}
		case 27:
			/* Same position, same sequence number, same bytes but
			 * for the stream it was made for. */
			assert_int_equal(boff[3] - boff[2], off[3] - off[2]);
			memcpy(s + off[3], other + boff[3], boff[4] - boff[3]);
			restamp = false;
			break;
		case 28:
			sevmig__put_le32(PL(7), SEVMIG_PSTATE_FULL);
			break;
		case 29:
			sevmig__put_le16(s + off[2] + 2, 1);
			break;
		case 30:
			sevmig__put_le32(s + off[2] + 4, SEVMIG_STREAM_MAX_PAYLOAD + 1);
			sevmig__put_le32(
			    s + off[2] + 16,
			    sevmig__crc32c(sevmig__crc32c(0, s + 24, 16), s + off[2], 16));
			restamp = false;
			break;
		case 31:
			sevmig__put_le32(PL(3) + 8, 4000);
			break;
		case 32:
			sevmig__put_le32(PL(0), 1);
			break;
		case 33:
			sevmig__put_le64(PL(6), 1);
			break;
		case 34:
			sevmig__put_le32(PL(2) + 12, 1);
			break;
		case 35:
			s[56] = 1;
			break;
		case 36:
			len = 0;
			restamp = false;
			break;
		case 37:
			sevmig__put_le16(s + off[6], 0);
			sevmig__put_le16(s + off[6] + 2, SEVMIG_REC_FLAG_SKIPPABLE);
			break;
		case 38:
			sevmig__put_le32(s + 16, 0);
			break;
		case 39:
			PL(3)[16 + 8 + 100] ^= 0x40;
			crcs_only = true;
			break;
		case 40: /* the last page of the first run left out, counts fixed */
			sevmig__put_le64(PL(5) + 16, 12);
			sevmig__put_le64(PL(6) + 24, 20);
			sevmig__put_le64(PL(11) + 40, 20);
			break;
		case 41: /* the run starts on the zstd record's last page */
			sevmig__put_le64(PL(5) + 8, 0x112);
			break;
		case 42:
			sevmig__put_le32(PL(1), SEVMIG_PSTATE_DELTA);
			break;
		case 43:
			sevmig__put_le64(PL(1) + 16, 0x1021);
			break;
		case 44:
			sevmig__put_le32(PL(0) + 16, 1);
			break;
		case 45:
			sevmig__put_le32(PL(0) + 20, 1);
			break;
		case 46: /* the header made right, the records' tags not */
			s[70] ^= 1;
			crcs_only = true;
			break;
		case 47: { /* record 9 (pass 1) tagged as if it were in pass 0 */
			ts_restamp(s, len, ts_psk, false);
			uint8_t k[32];
			uint32_t hl = sevmig__le32(s + 12), l = sevmig__le32(s + off[9] + 4);
			assert_int_equal(ts_derive(ts_psk, s, hl, "sevmig s2t ", k), 0);
			assert_int_equal(ts_record_tag(k, 0, s + off[9], l, PL(9) + l), 0);
			crcs_only = true;
			break;
		}
		}
		if (restamp)
			ts_restamp(s, len, crcs_only ? NULL : ts_psk, false);
		/* The keyed reader; and the key-less one, which ignores tags,
		 * gives the same verdict unless a tag is what refuses. */
		for (int keyed = 1; keyed >= 0; keyed--) {
			if (!keyed && (crcs_only || strstr(muts[m].msg, "tag does not verify")))
				break;
			struct sevmig_error err;
			int rc = ts_verify_key(s, len, keyed ? ts_psk : NULL, NULL, &err, NULL);
			if (rc != muts[m].rc || !strstr(err.message, muts[m].msg) ||
			    (muts[m].index >= 0 && err.index != (uint64_t)muts[m].index))
				fail_msg("%s (%s): rc %d (want %d), index %llu (want %ld): %s",
					 muts[m].name, keyed ? "keyed" : "key-less", rc, muts[m].rc,
					 (unsigned long long)err.index, muts[m].index, err.message);
		}
		free(s);
	}
	/* The stream's own UUID is checked when the caller knows it. */
	struct sevmig_error err;
	assert_int_equal(ts_verify(orig, olen, UUID_A, &err, NULL), 0);
	assert_int_equal(ts_verify(orig, olen, UUID_B, &err, NULL), -EPROTO);
	assert_non_null(strstr(err.message, "another migration"));
	free(orig);
	free(other);
}

static void test_truncation(void **state)
{
	(void)state;
	size_t len;
	uint8_t *s = build(V_PLAIN, UUID_A, &len);
	struct tu_rng rng = { tu_seed("truncation") };
	size_t off[32];
	size_t n = ts_records(s, len, off, 32);
	/* At every record boundary, then at random places. */
	for (size_t i = 0; i < n + 200; i++) {
		size_t cut = i < n ? off[i] : (size_t)tu_below(&rng, len);
		struct sevmig_error err;
		int rc = ts_verify(s, cut, NULL, &err, NULL);
		if (rc != -ENODATA || !strstr(err.message, "truncated"))
			fail_msg("cut at %zu: rc %d: %s", cut, rc, err.message);
		char want[64];
		snprintf(want, sizeof(want), "after %zu bytes", cut);
		if (cut && !strstr(err.message, want))
			fail_msg("cut at %zu: message does not say how much arrived: %s", cut,
				 err.message);
	}
	free(s);
}

/* Memslots that touch: a page-state map may cover both with one slot. */
static void test_touching_memslots(void **state)
{
	(void)state;
	const struct sevmig_range slots[2] = { { 0x100, 0x40 }, { 0x140, 0x20 } };
	struct tbuild b;
	memset(&b, 0, sizeof(b));
	tb_header(&b, UUID_A, SEVMIG_STREAM_FLAG_KEYED, 0, slots, 2);
	tb_session(&b, 0, 0);
	struct sevmig_pstate *m, *m2, *d;
	assert_int_equal(sevmig_pstate_new(&m, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(m, 0x100, 0x40), 0);
	assert_int_equal(sevmig_pstate_add_slot(m, 0x140, 0x20), 0);
	tb_pstate(&b, SEVMIG_PSTATE_FULL, 0x100, 0x160, m);
	uint64_t all[0x60];
	for (uint32_t i = 0; i < 0x60; i++)
		all[i] = 0x100 + i;
	tb_enc(&b, all, 0x60); /* the first pass: every page, across both */
	tb_round(&b);
	assert_int_equal(sevmig_pstate_clone(m, &m2, NULL), 0);
	assert_int_equal(sevmig_pstate_set_range(m2, 0x13e, 4, SEVMIG_PAGE_SHARED), 0);
	assert_int_equal(sevmig_pstate_delta(m, m2, &d), 0);
	tb_pstate(&b, SEVMIG_PSTATE_DELTA, 0x100, 0x160, d);
	/* A ZERO run may not cross from one memslot into the next. */
	struct sevmig_range z[2] = { { 0x13e, 2 }, { 0x140, 2 } };
	tb_zero(&b, z, 2);
	tb_round(&b);
	tb_end(&b);
	tb_seal(&b);
	struct sevmig_error err;
	int rc = ts_verify_key(b.out.data, b.out.len, ts_psk, NULL, &err, NULL);
	if (rc)
		fail_msg("touching memslots: %d %s", rc, err.message);
	/* The same run as one: refused. */
	size_t off[16];
	size_t n = ts_records(b.out.data, b.out.len, off, 16);
	uint8_t *zp = b.out.data + off[n - 3] + 20;
	sevmig__put_le32(zp, 1);
	sevmig__put_le64(zp + 16, 4);
	/* Shorten the record by one run: rebuild from a copy. */
	size_t rl = off[n - 2] - off[n - 3];
	uint8_t *t = malloc(b.out.len);
	size_t len = off[n - 3];
	memcpy(t, b.out.data, len);
	memcpy(t + len, b.out.data + off[n - 3], 20 + 8 + 16);
	sevmig__put_le32(t + len + 4, 8 + 16);
	memset(t + len + 20 + 24, 0, 16 + 4);
	len += 20 + 24 + 16 + 4;
	memcpy(t + len, b.out.data + off[n - 3] + rl, b.out.len - off[n - 3] - rl);
	len += b.out.len - off[n - 3] - rl;
	ts_restamp(t, len, ts_psk, false);
	assert_int_equal(ts_verify_key(t, len, ts_psk, NULL, &err, NULL), -EBADMSG);
	assert_non_null(strstr(err.message, "not inside one memslot"));
	free(t);
	sevmig_pstate_free(m);
	sevmig_pstate_free(m2);
	sevmig_pstate_free(d);
	free(b.out.data);
}

/* The reader stays dead after an error and repeats it. */
static void test_sticky_error(void **state)
{
	(void)state;
	size_t len;
	uint8_t *s = build(V_PLAIN, UUID_A, &len);
	s[len / 2] ^= 1;
	struct tsrc src = { s, len, 0, { 0 } };
	struct sevmig_stream_reader *r;
	assert_int_equal(sevmig_stream_reader_new(tsrc_read, &src, NULL, &r, NULL), 0);
	struct sevmig_record_info info = { .sz = sizeof(info) };
	struct sevmig_error e1, e2;
	int rc;
	while ((rc = sevmig_stream_reader_next(r, &info, &e1)) == 1)
		;
	assert_int_equal(rc, -EBADMSG);
	assert_int_equal(sevmig_stream_reader_next(r, &info, &e2), -EBADMSG);
	assert_string_equal(e1.message, e2.message);
	sevmig_stream_reader_free(r);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_paths),   cmocka_unit_test(test_read_valid),
		cmocka_unit_test(test_record_details), cmocka_unit_test(test_variants),
		cmocka_unit_test(test_rejections),     cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_sticky_error),   cmocka_unit_test(test_touching_memslots),
		cmocka_unit_test(test_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
