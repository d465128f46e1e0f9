/* SPDX-License-Identifier: MIT */
/*
 * Shared by the test_stream*.c programs: streams in memory (a growable sink
 * and a source that hands out bytes in random-sized pieces), a builder for
 * hand-made streams (format 2.0, keyed or insecure), random guests and soft
 * platforms. ts_restamp() (in test_stream_stamp.h) recomputes every tag and
 * CRC after a test has edited a stream, so that a deeper rule is what
 * rejects it.
 */
#ifndef TEST_STREAM_UTIL_H
#define TEST_STREAM_UTIL_H

#include "testutil.h"
#include "test_soft_util.h"
#include "test_stream_stamp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <sevmig/sevmig.h>

#include "util/crc32c.h"
#include "util/endian.h"

/* ---- keys ---------------------------------------------------------------- */

/* The tests' pre-shared key: every test stream is keyed, as real ones are. */
static const uint8_t ts_psk[SEVMIG_KEY_SIZE] = {
	0x5e, 0x76, 0x6d, 0x69, 0x67, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20,
	0x6b, 0x65, 0x79, 0x20, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36,
	0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x21,
};
/* Options fields that key a sender, receiver or reader with ts_psk. */
#define TS_KEY .key_source = SEVMIG_KEY_PSK, .key = ts_psk

/* ---- memory I/O -------------------------------------------------------- */

struct tsink {
	uint8_t *data;
	size_t len, cap;
	size_t fail_after; /* 0: never; else -EPIPE once len would pass it */
};

static inline int tsink_write(void *arg, const void *buf, size_t len)
{
	struct tsink *s = arg;
	if (s->fail_after && s->len + len > s->fail_after)
		return -EPIPE;
	if (s->len + len > s->cap) {
		size_t cap = s->cap ? s->cap : 65536;
		while (cap < s->len + len)
			cap *= 2;
		uint8_t *d = realloc(s->data, cap);
		if (!d)
			return -ENOMEM;
		s->data = d;
		s->cap = cap;
	}
	memcpy(s->data + s->len, buf, len);
	s->len += len;
	return 0;
}

struct tsrc {
	const uint8_t *data;
	size_t len, pos;
	struct tu_rng rng; /* s == 0: hand out everything asked for */
};

static inline ptrdiff_t tsrc_read(void *arg, void *buf, size_t len)
{
	struct tsrc *s = arg;
	size_t n = s->len - s->pos;
	if (n > len)
		n = len;
	if (s->rng.s && n > 1)
		n = 1 + (size_t)tu_below(&s->rng, n);
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	return (ptrdiff_t)n;
}

/* ---- walking and re-stamping a stream ----------------------------------- */

/* Offsets of the records of a well-framed stream: returns the count. */
static inline size_t ts_records(const uint8_t *s, size_t len, size_t *off, size_t max)
{
	size_t pos = sevmig__le32(s + 12), n = 0;
	while (pos + TS_REC_HDR <= len && n < max) {
		off[n++] = pos;
		pos += TS_REC_OVER + sevmig__le32(s + pos + 4);
	}
	return n;
}

/* ---- a builder for hand-made streams ------------------------------------ */

struct tbuild {
	struct tsink out;
	uint64_t seq, rounds, pstates, enc, plain, zero, vmsa;
	uint64_t r_enc, r_plain, r_zero;
};

/* The header of format 2.0: flags SEVMIG_STREAM_FLAG_KEYED makes a stream
 * keyed by a PSK (key source 1); without it an insecure one. The nonces are
 * fixed patterns (no back-channel: the target nonce is zero). */
static inline void tb_header(struct tbuild *b, const uint8_t uuid[16], uint32_t flags,
			     uint32_t policy, const struct sevmig_range *slots, uint32_t n)
{
	size_t hl = TS_HDR_FIXED + 16 * (size_t)n + 4;
	uint8_t *h = calloc(1, hl);
	memcpy(h, SEVMIG_STREAM_MAGIC, 8);
	sevmig__put_le16(h + 8, SEVMIG_STREAM_VERSION_MAJOR);
	sevmig__put_le16(h + 10, SEVMIG_STREAM_VERSION_MINOR);
	sevmig__put_le32(h + 12, (uint32_t)hl);
	sevmig__put_le32(h + 16, flags);
	sevmig__put_le32(h + 20, 4096);
	memcpy(h + 24, uuid, 16);
	sevmig__put_le32(h + 40, policy);
	sevmig__put_le32(h + 44, n);
	sevmig__put_le32(h + 48, flags & SEVMIG_STREAM_FLAG_KEYED ? SEVMIG_KEY_PSK : 0);
	for (int i = 0; i < 16; i++)
		h[64 + i] = (uint8_t)((0xa0 + i) ^ uuid[i]);
	for (uint32_t i = 0; i < n; i++) {
		sevmig__put_le64(h + TS_HDR_FIXED + 16 * i, slots[i].gfn << 12);
		sevmig__put_le64(h + TS_HDR_FIXED + 16 * i + 8, slots[i].npages << 12);
	}
	tsink_write(&b->out, h, hl);
	free(h);
}

/* A record with the given payload (tag and CRCs left for tb_seal). */
static inline void tb_rec(struct tbuild *b, uint16_t type, uint16_t flags, const void *p,
			  uint32_t len)
{
	uint8_t h[TS_REC_HDR] = { 0 };
	sevmig__put_le16(h, type);
	sevmig__put_le16(h + 2, flags);
	sevmig__put_le32(h + 4, len);
	sevmig__put_le64(h + 8, b->seq++);
	tsink_write(&b->out, h, sizeof(h));
	tsink_write(&b->out, p, len);
	uint8_t tail[TS_TAG + 4] = { 0 };
	tsink_write(&b->out, tail, sizeof(tail));
}

/* Tags (ts_psk for a keyed stream, the zero secret otherwise) and CRCs. */
static inline void tb_seal(struct tbuild *b)
{
	ts_restamp_as(b->out.data, b->out.len, ts_psk);
}

/* SESSION: policy, P, C, B, vCPUs, reserved; then the PDH and session. */
static inline void tb_session(struct tbuild *b, uint32_t policy, uint32_t vcpus)
{
	uint32_t len = 24 + 0x824 + 0x80;
	uint8_t *p = calloc(1, len);
	sevmig__put_le32(p, policy);
	sevmig__put_le32(p + 4, 0x824);
	sevmig__put_le32(p + 8, 0);
	sevmig__put_le32(p + 12, 0x80);
	sevmig__put_le32(p + 16, vcpus);
	memset(p + 24, 0x5a, 0x824 + 0x80);
	tb_rec(b, SEVMIG_REC_SESSION, 0, p, len);
	free(p);
}

static inline void tb_pstate(struct tbuild *b, uint32_t kind, uint64_t first, uint64_t end,
			     const struct sevmig_pstate *m)
{
	void *ser;
	size_t sl;
	assert_int_equal(sevmig_pstate_serialize(m, NULL, &ser, &sl), 0);
	uint8_t *p = malloc(24 + sl);
	sevmig__put_le32(p, kind);
	sevmig__put_le32(p + 4, 0);
	sevmig__put_le64(p + 8, first);
	sevmig__put_le64(p + 16, end);
	memcpy(p + 24, ser, sl);
	tb_rec(b, SEVMIG_REC_PSTATE, 0, p, (uint32_t)(24 + sl));
	free(p);
	free(ser);
	b->pstates++;
}

/* ENC with fake packets (the key-less reader does not open them). */
static inline void tb_enc(struct tbuild *b, const uint64_t *gfn, uint32_t n)
{
	uint32_t len = 16 + n * (8 + 52 + 4096);
	uint8_t *p = calloc(1, len);
	sevmig__put_le32(p, n);
	sevmig__put_le32(p + 4, 52);
	sevmig__put_le32(p + 8, 4096);
	for (uint32_t i = 0; i < n; i++)
		sevmig__put_le64(p + 16 + 8 * i, gfn[i]);
	memset(p + 16 + 8 * n, 0xe5, (size_t)n * (52 + 4096));
	tb_rec(b, SEVMIG_REC_ENC, 0, p, len);
	free(p);
	b->enc += n;
	b->r_enc += n;
}

/* PLAIN with codec and data given. */
static inline void tb_plain(struct tbuild *b, const uint64_t *gfn, uint32_t n, uint32_t codec,
			    const void *data, uint32_t d)
{
	uint32_t len = 16 + 8 * n + d;
	uint8_t *p = calloc(1, len);
	sevmig__put_le32(p, n);
	sevmig__put_le32(p + 4, codec);
	sevmig__put_le32(p + 8, d);
	for (uint32_t i = 0; i < n; i++)
		sevmig__put_le64(p + 16 + 8 * i, gfn[i]);
	memcpy(p + 16 + 8 * n, data, d);
	tb_rec(b, SEVMIG_REC_PLAIN, 0, p, len);
	free(p);
	b->plain += n;
	b->r_plain += n;
}

static inline void tb_zero(struct tbuild *b, const struct sevmig_range *runs, uint32_t n)
{
	uint32_t len = 8 + 16 * n;
	uint8_t *p = calloc(1, len);
	sevmig__put_le32(p, n);
	for (uint32_t i = 0; i < n; i++) {
		sevmig__put_le64(p + 8 + 16 * i, runs[i].gfn);
		sevmig__put_le64(p + 8 + 16 * i + 8, runs[i].npages);
		b->zero += runs[i].npages;
		b->r_zero += runs[i].npages;
	}
	tb_rec(b, SEVMIG_REC_ZERO, 0, p, len);
	free(p);
}

static inline void tb_round(struct tbuild *b)
{
	uint8_t p[32];
	sevmig__put_le64(p, b->rounds++);
	sevmig__put_le64(p + 8, b->r_enc);
	sevmig__put_le64(p + 16, b->r_plain);
	sevmig__put_le64(p + 24, b->r_zero);
	tb_rec(b, SEVMIG_REC_ROUND, 0, p, 32);
	b->r_enc = b->r_plain = b->r_zero = 0;
}

static inline void tb_vmsa(struct tbuild *b, uint32_t vcpu)
{
	uint8_t *p = calloc(1, 16 + 52 + 4096);
	sevmig__put_le32(p, vcpu);
	sevmig__put_le32(p + 4, 52);
	sevmig__put_le32(p + 8, 4096);
	tb_rec(b, SEVMIG_REC_VMSA, 0, p, 16 + 52 + 4096);
	free(p);
	b->vmsa++;
}

/* END: 64 bytes of counters (records, rounds, PSTATE records, ENC, PLAIN,
 * ZERO pages, VMSA records, reserved). */
static inline void tb_end(struct tbuild *b)
{
	uint8_t p[64] = { 0 };
	sevmig__put_le64(p, b->seq);
	sevmig__put_le64(p + 8, b->rounds);
	sevmig__put_le64(p + 16, b->pstates);
	sevmig__put_le64(p + 24, b->enc);
	sevmig__put_le64(p + 32, b->plain);
	sevmig__put_le64(p + 40, b->zero);
	sevmig__put_le64(p + 48, b->vmsa);
	tb_rec(b, SEVMIG_REC_END, 0, p, 64);
}

/* Read a whole stream (key NULL: key-less, which still verifies the tags of
 * insecure streams): the final return code, and err. */
static inline int ts_verify_key(const uint8_t *s, size_t len, const uint8_t *key,
				const uint8_t *expect_uuid, struct sevmig_error *err,
				uint64_t *nrec)
{
	struct tsrc src = { s, len, 0, { 0 } };
	struct sevmig_stream_reader *r;
	SEVMIG_OPTS(sevmig_reader_opts, o, .expect_uuid = expect_uuid,
		    .key_source = key ? SEVMIG_KEY_PSK : 0, .key = key);
	assert_int_equal(sevmig_stream_reader_new(tsrc_read, &src, &o, &r, NULL), 0);
	sevmig_error_clear(err);
	struct sevmig_record_info info = { .sz = sizeof(info) };
	int rc;
	uint64_t n = 0;
	while ((rc = sevmig_stream_reader_next(r, &info, err)) == 1)
		n++;
	if (nrec)
		*nrec = n;
	sevmig_stream_reader_free(r);
	return rc;
}

/* Key-less. */
static inline int ts_verify(const uint8_t *s, size_t len, const uint8_t *expect_uuid,
			    struct sevmig_error *err, uint64_t *nrec)
{
	return ts_verify_key(s, len, NULL, expect_uuid, err, nrec);
}

/* ---- random guests ------------------------------------------------------ */

#include <sevmig/fw_soft.h>

#define TG_MAX_SLOTS 6

struct tguest {
	size_t n;
	struct sevmig_mem_region reg[TG_MAX_SLOTS];
	struct sevmig_pstate *ps;
};

static inline void tg_page(struct tu_rng *r, uint8_t *p)
{
	switch (tu_below(r, 10)) {
	case 0:
	case 1:
	case 2:
		memset(p, 0, 4096); /* zero pages */
		break;
	case 3:
	case 4:
	case 5: { /* compressible: a short pattern with a little noise */
		uint8_t pat[16];
		tu_fill(r, pat, sizeof(pat));
		for (int i = 0; i < 4096; i++)
			p[i] = pat[i % 16];
		p[tu_below(r, 4096)] ^= 1;
		break;
	}
	default:
		tu_fill(r, p, 4096);
	}
}

/* Shared runs at random: about a third of the pages. */
static inline void tg_states(struct tu_rng *r, struct tguest *g)
{
	for (size_t k = 0; k < g->n; k++) {
		uint64_t base = g->reg[k].gpa >> 12, np = g->reg[k].size >> 12;
		for (uint64_t i = 0; i < np;) {
			uint64_t len = 1 + tu_below(r, 12);
			if (len > np - i)
				len = np - i;
			enum sevmig_page_state st =
			    tu_below(r, 3) ? SEVMIG_PAGE_PRIVATE : SEVMIG_PAGE_SHARED;
			assert_int_equal(sevmig_pstate_set_range(g->ps, base + i, len, st), 0);
			i += len;
		}
	}
}

/* Several memslots with holes between them, random states and contents. */
static inline void tg_new(struct tu_rng *r, struct tguest *g, size_t nslots, uint64_t maxpages)
{
	memset(g, 0, sizeof(*g));
	g->n = nslots;
	assert_int_equal(sevmig_pstate_new(&g->ps, NULL), 0);
	uint64_t gfn = tu_below(r, 64);
	for (size_t k = 0; k < nslots; k++) {
		uint64_t np = 1 + tu_below(r, maxpages);
		g->reg[k].gpa = gfn << 12;
		g->reg[k].size = np << 12;
		assert_int_equal(posix_memalign(&g->reg[k].host, 4096, np << 12), 0);
		for (uint64_t i = 0; i < np; i++)
			tg_page(r, (uint8_t *)g->reg[k].host + (i << 12));
		assert_int_equal(sevmig_pstate_add_slot(g->ps, gfn, np), 0);
		/* A hole, or none (touching memslots are allowed). */
		gfn += np + (tu_below(r, 3) ? 1 + tu_below(r, 5000) : 0);
	}
	tg_states(r, g);
}

/* The same layout, memory filled with `fill` (so a page never sent shows). */
static inline void tg_target(const struct tguest *g, struct tguest *t, uint8_t fill)
{
	memset(t, 0, sizeof(*t));
	t->n = g->n;
	for (size_t k = 0; k < g->n; k++) {
		t->reg[k] = g->reg[k];
		assert_int_equal(posix_memalign(&t->reg[k].host, 4096, g->reg[k].size), 0);
		memset(t->reg[k].host, fill, g->reg[k].size);
	}
}

/* The guest runs: rewrite random pages (marking them dirty in KVM's
 * dirty-log layout) and flip the state of random ranges (not marked: the
 * sender must find them itself). dirty[k] has room for the slot's bits. */
static inline void tg_run(struct tu_rng *r, struct tguest *g, uint64_t **dirty, bool flip)
{
	for (size_t k = 0; k < g->n; k++) {
		uint64_t np = g->reg[k].size >> 12;
		memset(dirty[k], 0, ((np + 63) / 64) * 8);
		uint64_t writes = tu_below(r, np / 3 + 2);
		for (uint64_t w = 0; w < writes; w++) {
			uint64_t i = tu_below(r, np);
			tg_page(r, (uint8_t *)g->reg[k].host + (i << 12));
			dirty[k][i / 64] |= 1ull << (i % 64);
		}
		if (!flip)
			continue;
		uint64_t flips = tu_below(r, 4);
		for (uint64_t f = 0; f < flips; f++) {
			uint64_t i = tu_below(r, np), len = 1 + tu_below(r, 8);
			if (len > np - i)
				len = np - i;
			enum sevmig_page_state st =
			    tu_below(r, 2) ? SEVMIG_PAGE_PRIVATE : SEVMIG_PAGE_SHARED;
			assert_int_equal(
			    sevmig_pstate_set_range(g->ps, (g->reg[k].gpa >> 12) + i, len, st), 0);
		}
	}
}

static inline uint64_t **tg_dirty_alloc(const struct tguest *g)
{
	uint64_t **d = calloc(g->n, sizeof(*d));
	for (size_t k = 0; k < g->n; k++)
		d[k] = calloc(((g->reg[k].size >> 12) + 63) / 64 + 1, 8);
	return d;
}

static inline void tg_dirty_free(const struct tguest *g, uint64_t **d)
{
	for (size_t k = 0; k < g->n; k++)
		free(d[k]);
	free(d);
}

static inline void tg_free(struct tguest *g)
{
	for (size_t k = 0; k < g->n; k++)
		free(g->reg[k].host);
	sevmig_pstate_free(g->ps);
	memset(g, 0, sizeof(*g));
}

/* Byte-for-byte: the first differing gfn, or UINT64_MAX. */
static inline uint64_t tg_diff(const struct tguest *a, const struct tguest *b)
{
	for (size_t k = 0; k < a->n; k++)
		for (uint64_t i = 0; i < a->reg[k].size >> 12; i++)
			if (memcmp((uint8_t *)a->reg[k].host + (i << 12),
				   (uint8_t *)b->reg[k].host + (i << 12), 4096))
				return (a->reg[k].gpa >> 12) + i;
	return UINT64_MAX;
}

/* ---- soft platforms ----------------------------------------------------- */

static inline void tfw_pdh(struct sevmig_fw *fw, uint8_t pdh[SEVMIG_CERT_SIZE])
{
	uint8_t chain[SEVMIG_CERT_CHAIN_SIZE];
	uint32_t pl = SEVMIG_CERT_SIZE, cl = sizeof(chain), st;
	assert_int_equal(sevmig_fw_pdh_cert_export(fw, pdh, &pl, chain, &cl, &st), 0);
}

/* A target platform's PDH key, so that several fresh targets (one per
 * receive attempt) can open the same stream. */
struct ttarget {
	char pem[8192];
	size_t pem_len;
	uint8_t pdh[SEVMIG_CERT_SIZE];
};

static inline void tt_init(struct ttarget *tt)
{
	struct sevmig_fw *fw = soft_platform(false, 0, 1);
	tt->pem_len = sizeof(tt->pem);
	assert_int_equal(sevmig_fw_soft_export_pdh_key(fw, tt->pem, &tt->pem_len), 0);
	tfw_pdh(fw, tt->pdh);
	sevmig_fw_free(fw);
}

static inline struct sevmig_fw *tt_new(const struct ttarget *tt, unsigned threads)
{
	struct sevmig_error err;
	sevmig_error_clear(&err);
	SEVMIG_OPTS(sevmig_fw_soft_opts, o, .max_threads = threads, .pdh_key_pem = tt->pem,
		    .pdh_key_pem_len = tt->pem_len);
	struct sevmig_fw *fw = NULL;
	int rc = sevmig_fw_soft_new(&o, &fw, &err);
	if (rc)
		fail_msg("sevmig_fw_soft_new: %d %s", rc, err.message);
	return fw;
}

/* A vmsa_dest for tests that keep no vCPU state: a scratch page per vCPU
 * (modulo 4). */
static inline int ts_vmsa_scratch(void *arg, uint32_t vcpu, void **guest)
{
	static uint8_t page[4][4096];
	(void)arg;
	*guest = page[vcpu % 4];
	return 0;
}

/* Receive a stream in memory into t with a fresh target holding tt's key
 * (SEV-ES vCPU state into ts_vmsa_scratch). */
static inline int ts_receive(const uint8_t *s, size_t len, const struct ttarget *tt,
			     struct tguest *t, unsigned workers, unsigned threads,
			     struct sevmig_error *err, struct sevmig_pstate **ps)
{
	struct sevmig_fw *fw = tt_new(tt, threads);
	struct tsrc src = { s, len, 0, { 0 } };
	SEVMIG_OPTS(sevmig_receiver_opts, o, TS_KEY, .workers = workers,
		    .vmsa_dest = ts_vmsa_scratch);
	struct sevmig_receiver *r;
	sevmig_error_clear(err);
	int rc = sevmig_receiver_new(fw, t->reg, t->n, tsrc_read, &src, &o, &r, err);
	if (rc == 0) {
		rc = sevmig_receiver_run(r, err);
		if (ps)
			assert_int_equal(sevmig_pstate_clone(sevmig_receiver_pstate(r), ps, NULL),
					 0);
		sevmig_receiver_free(r);
	}
	sevmig_fw_free(fw);
	return rc;
}

#endif
