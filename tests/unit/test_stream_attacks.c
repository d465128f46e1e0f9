/* SPDX-License-Identifier: MIT */
/*
 * A man in the middle who knows the format: he edits a real keyed stream
 * (software firmware, keyed with ts_psk) and then recomputes everything
 * that needs no key (sequence numbers, ROUND and END counters, every CRC:
 * ts_restamp() with key NULL). The keyed receiver must refuse each edit at
 * the first record that differs from what the sender wrote, with a clear
 * error, and the target's memory must be exactly what the authentic
 * records before it wrote (for an edit in the header or record 0: the
 * pre-filled target untouched). Where the edit breaks a rule the key-less
 * reader checks too (completeness, layout, vCPUs), the same stream tagged
 * with the key (an insider) is refused by that rule, naming the gfn.
 * Then the back-channel: forged COMMITs, and the NAK of a refused stream.
 */
#include "test_stream_util.h"

#include "stream/stream_internal.h"

#define MAXR 4096
#define FILL 0xcc

/* ---- a stream as a list of records ---------------------------------------- */

struct recs {
	uint8_t *hdr;
	size_t hlen, n;
	uint8_t *r[MAXR];
	size_t l[MAXR]; /* whole record: 40 + payload */
};

static void recs_load(struct recs *x, const uint8_t *s, size_t len)
{
	memset(x, 0, sizeof(*x));
	x->hlen = sevmig__le32(s + 12);
	x->hdr = malloc(x->hlen);
	memcpy(x->hdr, s, x->hlen);
	for (size_t pos = x->hlen; pos + TS_REC_OVER <= len;) {
		size_t l = TS_REC_OVER + sevmig__le32(s + pos + 4);
		assert_true(pos + l <= len && x->n < MAXR);
		x->r[x->n] = malloc(l);
		memcpy(x->r[x->n], s + pos, l);
		x->l[x->n++] = l;
		pos += l;
	}
}

static void recs_free(struct recs *x)
{
	for (size_t i = 0; i < x->n; i++)
		free(x->r[i]);
	free(x->hdr);
}

static void recs_del(struct recs *x, size_t i)
{
	free(x->r[i]);
	memmove(&x->r[i], &x->r[i + 1], (x->n - i - 1) * sizeof(x->r[0]));
	memmove(&x->l[i], &x->l[i + 1], (x->n - i - 1) * sizeof(x->l[0]));
	x->n--;
}

static void recs_ins(struct recs *x, size_t i, const uint8_t *rec, size_t l)
{
	assert_true(x->n < MAXR);
	memmove(&x->r[i + 1], &x->r[i], (x->n - i) * sizeof(x->r[0]));
	memmove(&x->l[i + 1], &x->l[i], (x->n - i) * sizeof(x->l[0]));
	x->r[i] = malloc(l);
	memcpy(x->r[i], rec, l);
	x->l[i] = l;
	x->n++;
}

static void recs_set(struct recs *x, size_t i, const uint8_t *rec, size_t l)
{
	free(x->r[i]);
	x->r[i] = malloc(l);
	memcpy(x->r[i], rec, l);
	x->l[i] = l;
}

static uint16_t rtype(const struct recs *x, size_t i)
{
	return sevmig__le16(x->r[i]);
}

static uint8_t *rpl(const struct recs *x, size_t i)
{
	return x->r[i] + TS_REC_HDR;
}

/* Pages a record delivers. */
static uint64_t rpages(const uint8_t *r)
{
	const uint8_t *p = r + TS_REC_HDR;
	switch (sevmig__le16(r)) {
	case SEVMIG_REC_ENC:
	case SEVMIG_REC_PLAIN:
		return sevmig__le32(p);
	case SEVMIG_REC_ZERO: {
		uint64_t n = 0;
		for (uint32_t i = 0; i < sevmig__le32(p); i++)
			n += sevmig__le64(p + 8 + 16 * i + 8);
		return n;
	}
	default:
		return 0;
	}
}

/* The nth (0-based) record of `type` in pass `pass` (-1: any), or -1. */
static long rfind(const struct recs *x, uint16_t type, long pass, unsigned nth)
{
	long p = 0;
	for (size_t i = 0; i < x->n; i++) {
		if (rtype(x, i) == type && (pass < 0 || p == pass) && nth-- == 0)
			return (long)i;
		p += rtype(x, i) == SEVMIG_REC_ROUND;
	}
	return -1;
}

/* What an attacker recomputes without a key: sequence numbers, ROUND
 * numbers and counts, END's counters. Then the stream's bytes. */
static uint8_t *recs_join(struct recs *x, size_t *len)
{
	uint64_t round = 0, pe = 0, pp = 0, pz = 0, pst = 0, te = 0, tp = 0, tz = 0, vm = 0;
	for (size_t i = 0; i < x->n; i++) {
		uint8_t *r = x->r[i], *p = r + TS_REC_HDR;
		sevmig__put_le64(r + 8, i);
		switch (sevmig__le16(r)) {
		case SEVMIG_REC_ENC:
			pe += rpages(r);
			break;
		case SEVMIG_REC_PLAIN:
			pp += rpages(r);
			break;
		case SEVMIG_REC_ZERO:
			pz += rpages(r);
			break;
		case SEVMIG_REC_PSTATE:
			pst++;
			break;
		case SEVMIG_REC_VMSA:
			vm++;
			break;
		case SEVMIG_REC_ROUND:
			sevmig__put_le64(p, round++);
			sevmig__put_le64(p + 8, pe);
			sevmig__put_le64(p + 16, pp);
			sevmig__put_le64(p + 24, pz);
			te += pe, tp += pp, tz += pz;
			pe = pp = pz = 0;
			break;
		case SEVMIG_REC_END:
			sevmig__put_le64(p, i);
			sevmig__put_le64(p + 8, round);
			sevmig__put_le64(p + 16, pst);
			sevmig__put_le64(p + 24, te);
			sevmig__put_le64(p + 32, tp);
			sevmig__put_le64(p + 40, tz);
			sevmig__put_le64(p + 48, vm);
			break;
		}
	}
	size_t n = x->hlen;
	for (size_t i = 0; i < x->n; i++)
		n += x->l[i];
	uint8_t *s = malloc(n);
	memcpy(s, x->hdr, x->hlen);
	n = x->hlen;
	for (size_t i = 0; i < x->n; i++) {
		memcpy(s + n, x->r[i], x->l[i]);
		n += x->l[i];
	}
	*len = n;
	return s;
}

/* A record of `type` with payload p (header fields, tag and CRC by
 * recs_join and ts_restamp). */
static uint8_t *mkrec(uint16_t type, const void *p, uint32_t pl, size_t *l)
{
	*l = TS_REC_OVER + pl;
	uint8_t *r = calloc(1, *l);
	sevmig__put_le16(r, type);
	sevmig__put_le32(r + 4, pl);
	memcpy(r + TS_REC_HDR, p, pl);
	return r;
}

/* ---- the world: a guest, its target, a keyed stream -------------------- */

struct world {
	struct tguest g; /* final state; its layout is the target's */
	struct ttarget tt;
	uint8_t *s; /* the sender's stream */
	size_t len;
	uint32_t policy, vcpus;
	uint8_t *b; /* another migration of the same guest, same PSK */
	size_t blen;
};

static void send_stream(struct tu_rng *rng, struct world *w, const uint8_t *key, unsigned rounds,
			bool run, struct tsink *out)
{
	struct sevmig_fw *src = soft_platform(true, w->policy, 1);
	SEVMIG_OPTS(sevmig_sender_opts, so, .key_source = SEVMIG_KEY_PSK, .key = key,
		    .target_pdh = w->tt.pdh, .target_pdh_len = SEVMIG_CERT_SIZE, .batch_pages = 4,
		    .vcpus = w->vcpus);
	struct sevmig_sender *s;
	struct sevmig_error err;
	memset(out, 0, sizeof(*out));
	assert_int_equal(sevmig_sender_new(src, w->g.reg, w->g.n, tsink_write, out, &so, &s, &err),
			 0);
	if (sevmig_sender_send_all(s, w->g.ps, &err))
		fail_msg("send_all: %s", err.message);
	uint64_t **dirty = tg_dirty_alloc(&w->g);
	for (unsigned r = 0; r < rounds; r++) {
		if (run)
			tg_run(rng, &w->g, dirty, true);
		else
			for (size_t k = 0; k < w->g.n; k++)
				memset(dirty[k], 0, 8);
		if (sevmig_sender_send_dirty(s, w->g.ps, (const uint64_t *const *)dirty, &err))
			fail_msg("send_dirty: %s", err.message);
	}
	tg_dirty_free(&w->g, dirty);
	uint8_t vmsa[4096];
	for (uint32_t v = 0; v < w->vcpus; v++) {
		tu_fill(rng, vmsa, sizeof(vmsa));
		assert_int_equal(sevmig_sender_send_vmsa(s, v, vmsa, &err), 0);
	}
	if (sevmig_sender_finish(s, &err))
		fail_msg("finish: %s", err.message);
	sevmig_sender_free(s);
	sevmig_fw_free(src);
}

/* Into a fresh FILL target (left in *t): the keyed receiver's verdict. */
static int recv_into(const struct world *w, const uint8_t *s, size_t len, struct tguest *t,
		     struct sevmig_error *err)
{
	tg_target(&w->g, t, FILL);
	return ts_receive(s, len, &w->tt, t, 0, 1, err, NULL);
}

/* A random small guest whose keyed stream has, in its first pass, an ENC
 * record of two packets or more, PLAIN and ZERO records, and 3 passes. */
static void world_new(struct tu_rng *rng, struct world *w, uint32_t policy, uint32_t vcpus)
{
	memset(w, 0, sizeof(*w));
	w->policy = policy;
	w->vcpus = vcpus;
	tt_init(&w->tt);
	for (int attempt = 0;; attempt++) {
		assert_true(attempt < 100);
		tg_new(rng, &w->g, 1 + tu_below(rng, 3), 12);
		struct tsink b;
		send_stream(rng, w, ts_psk, 2, false, &b); /* before the guest runs */
		struct tsink a;
		send_stream(rng, w, ts_psk, 2, true, &a);
		struct recs x;
		recs_load(&x, a.data, a.len);
		long e = rfind(&x, SEVMIG_REC_ENC, 0, 0);
		bool ok = e >= 0 && rpages(x.r[e]) >= 2 && rfind(&x, SEVMIG_REC_PLAIN, 0, 0) >= 0 &&
			  rfind(&x, SEVMIG_REC_ZERO, 0, 0) >= 0 &&
			  rfind(&x, SEVMIG_REC_ENC, 2, 0) >= 0 &&
			  rfind(&x, SEVMIG_REC_ROUND, -1, 2) >= 0;
		recs_free(&x);
		if (ok) {
			w->s = a.data;
			w->len = a.len;
			w->b = b.data;
			w->blen = b.len;
			return;
		}
		free(a.data);
		free(b.data);
		tg_free(&w->g);
	}
}

static void world_free(struct world *w)
{
	free(w->s);
	free(w->b);
	tg_free(&w->g);
}

/* The first record (index) in which s differs from the sender's stream;
 * 0 for a changed header. */
static size_t first_diff(const struct world *w, const uint8_t *s, size_t len)
{
	uint32_t hl = sevmig__le32(w->s + 12);
	if (len < hl || memcmp(s, w->s, hl))
		return 0;
	size_t i = 0;
	for (size_t pos = hl;; i++) {
		if (pos + TS_REC_OVER > len || pos + TS_REC_OVER > w->len)
			return i;
		size_t l = TS_REC_OVER + sevmig__le32(w->s + pos + 4);
		if (pos + l > len || memcmp(s + pos, w->s + pos, l))
			return i;
		pos += l;
	}
}

/* ---- the attacks ----------------------------------------------------------- */

/* An attack edits the record list (or, with `whole`, the bytes) and says
 * what the keyed receiver must answer; `deeper`, when set, is the rule that
 * refuses the same stream tagged with the key. false: not applicable. */
struct attack_out {
	uint8_t *s; /* the bytes, when the attack made them itself */
	size_t len;
	bool done;	  /* s is final: no recomputation */
	const char *want; /* in the receiver's message */
	int want_rc;
	char deeper[160];
};

typedef bool (*attack_fn)(struct world *w, struct tu_rng *rng, struct recs *x,
			  struct attack_out *o);

static bool a_plain_rewrite(struct world *w, struct tu_rng *rng, struct recs *x,
			    struct attack_out *o)
{
	(void)w;
	long k = rfind(x, SEVMIG_REC_PLAIN, -1, 0);
	if (k < 0)
		return false;
	uint8_t *p = rpl(x, k);
	uint32_t n = sevmig__le32(p), d = sevmig__le32(p + 8);
	if (sevmig__le32(p + 4) == SEVMIG_CODEC_RAW) {
		memset(p + 16 + 8 * n, 0x41, d);
	} else {
		/* zstd: a frame of the attacker's own content */
		uint8_t *raw = malloc(4096 * (size_t)n);
		memset(raw, 0x41, 4096 * (size_t)n);
		size_t cap = ZSTD_compressBound(4096 * (size_t)n);
		uint8_t *pl = malloc(16 + 8 * (size_t)n + cap);
		memcpy(pl, p, 16 + 8 * (size_t)n);
		size_t fl = ZSTD_compress(pl + 16 + 8 * n, cap, raw, 4096 * (size_t)n, 1);
		sevmig__put_le32(pl + 8, (uint32_t)fl);
		size_t l;
		uint8_t *r = mkrec(SEVMIG_REC_PLAIN, pl, (uint32_t)(16 + 8 * n + fl), &l);
		recs_set(x, k, r, l);
		free(r);
		free(pl);
		free(raw);
	}
	(void)rng, (void)o;
	return true;
}

/* A private page made shared with the attacker's content: FULL PSTATE
 * rewritten, the ENC record that carries it turned into PLAIN. */
static bool a_private_to_shared(struct world *w, struct tu_rng *rng, struct recs *x,
				struct attack_out *o)
{
	(void)w, (void)rng, (void)o;
	long f = rfind(x, SEVMIG_REC_PSTATE, 0, 0), e = rfind(x, SEVMIG_REC_ENC, 0, 0);
	if (f < 0 || e < 0 || sevmig__le32(rpl(x, f)) != SEVMIG_PSTATE_FULL)
		return false;
	const uint8_t *fp = rpl(x, f);
	struct sevmig_pstate *m;
	struct sevmig_error err;
	assert_int_equal(sevmig_pstate_deserialize(fp + 24, x->l[f] - TS_REC_OVER - 24, &m, &err),
			 0);
	const uint8_t *ep = rpl(x, e);
	uint32_t n = sevmig__le32(ep);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(sevmig_pstate_set_range(m, sevmig__le64(ep + 16 + 8 * i), 1,
							 SEVMIG_PAGE_SHARED),
				 0);
	void *ser;
	size_t sl, l;
	assert_int_equal(sevmig_pstate_serialize(m, NULL, &ser, &sl), 0);
	uint8_t *pl = malloc(24 + sl);
	memcpy(pl, fp, 24);
	memcpy(pl + 24, ser, sl);
	uint8_t *r = mkrec(SEVMIG_REC_PSTATE, pl, (uint32_t)(24 + sl), &l);
	recs_set(x, f, r, l);
	free(r);
	free(pl);
	free(ser);
	sevmig_pstate_free(m);
	/* The ENC record becomes raw PLAIN. */
	size_t d = 4096 * (size_t)n;
	pl = malloc(16 + 8 * (size_t)n + d);
	sevmig__put_le32(pl, n);
	sevmig__put_le32(pl + 4, SEVMIG_CODEC_RAW);
	sevmig__put_le32(pl + 8, (uint32_t)d);
	sevmig__put_le32(pl + 12, 0);
	memcpy(pl + 16, ep + 16, 8 * (size_t)n);
	memset(pl + 16 + 8 * n, 0x66, d);
	r = mkrec(SEVMIG_REC_PLAIN, pl, (uint32_t)(16 + 8 * n + d), &l);
	recs_set(x, e, r, l);
	free(r);
	free(pl);
	return true;
}

/* The first page a record delivers. */
static uint64_t rfirst(const uint8_t *r)
{
	const uint8_t *p = r + TS_REC_HDR;
	return sevmig__le16(r) == SEVMIG_REC_ZERO ? sevmig__le64(p + 8) : sevmig__le64(p + 16);
}

static bool drop_first(struct recs *x, uint16_t type, struct attack_out *o)
{
	long k = rfind(x, type, 0, 0);
	if (k < 0)
		return false;
	snprintf(o->deeper, sizeof(o->deeper), "first pass ends without gfn 0x%llx",
		 (unsigned long long)rfirst(x->r[k]));
	recs_del(x, (size_t)k);
	return true;
}

static bool a_drop_enc(struct world *w, struct tu_rng *rng, struct recs *x, struct attack_out *o)
{
	(void)w, (void)rng;
	return drop_first(x, SEVMIG_REC_ENC, o);
}

static bool a_drop_plain(struct world *w, struct tu_rng *rng, struct recs *x, struct attack_out *o)
{
	(void)w, (void)rng;
	return drop_first(x, SEVMIG_REC_PLAIN, o);
}

static bool a_drop_zero(struct world *w, struct tu_rng *rng, struct recs *x, struct attack_out *o)
{
	(void)w, (void)rng;
	return drop_first(x, SEVMIG_REC_ZERO, o);
}

/* A record of the first pass delivered again right after itself. */
static bool a_page_twice(struct world *w, struct tu_rng *rng, struct recs *x, struct attack_out *o)
{
	(void)w;
	static const uint16_t types[3] = { SEVMIG_REC_ENC, SEVMIG_REC_PLAIN, SEVMIG_REC_ZERO };
	long k = rfind(x, types[tu_below(rng, 3)], 0, 0);
	if (k < 0)
		return false;
	snprintf(o->deeper, sizeof(o->deeper), "gfn 0x%llx is delivered a second time in pass 0",
		 (unsigned long long)rfirst(x->r[k]));
	recs_ins(x, (size_t)k + 1, x->r[k], x->l[k]);
	return true;
}

/* A ZERO run over a shared page that PLAIN carried, before ROUND 0. */
static bool a_zero_over_plain(struct world *w, struct tu_rng *rng, struct recs *x,
			      struct attack_out *o)
{
	(void)w, (void)rng;
	long k = rfind(x, SEVMIG_REC_PLAIN, 0, 0), r0 = rfind(x, SEVMIG_REC_ROUND, -1, 0);
	if (k < 0 || r0 < 0)
		return false;
	uint64_t g = rfirst(x->r[k]);
	uint8_t p[24] = { 0 };
	sevmig__put_le32(p, 1);
	sevmig__put_le64(p + 8, g);
	sevmig__put_le64(p + 16, 1);
	size_t l;
	uint8_t *r = mkrec(SEVMIG_REC_ZERO, p, sizeof(p), &l);
	recs_ins(x, (size_t)r0, r, l);
	free(r);
	snprintf(o->deeper, sizeof(o->deeper), "gfn 0x%llx is delivered a second time in pass 0",
		 (unsigned long long)g);
	return true;
}

/* Two packets swapped: each page gets the other's ciphertext. */
static bool a_swap_packets(struct world *w, struct tu_rng *rng, struct recs *x,
			   struct attack_out *o)
{
	(void)w, (void)rng, (void)o;
	for (size_t k = 0; k < x->n; k++) {
		if (rtype(x, k) != SEVMIG_REC_ENC || rpages(x->r[k]) < 2)
			continue;
		uint8_t *p = rpl(x, k);
		uint32_t n = sevmig__le32(p);
		uint8_t *a = p + 16 + 8 * n, *b = a + TS_PKT, t[TS_PKT];
		memcpy(t, a, TS_PKT);
		memcpy(a, b, TS_PKT);
		memcpy(b, t, TS_PKT);
		return true;
	}
	return false;
}

/* The first pass's first ENC record replayed in the last pass. */
static bool a_replay_round(struct world *w, struct tu_rng *rng, struct recs *x,
			   struct attack_out *o)
{
	(void)w, (void)rng, (void)o;
	long e = rfind(x, SEVMIG_REC_ENC, 0, 0), r2 = rfind(x, SEVMIG_REC_ROUND, -1, 2);
	if (e < 0 || r2 < 0)
		return false;
	recs_ins(x, (size_t)r2, x->r[e], x->l[e]);
	return true;
}

/* The same record of another migration of this guest under the same PSK. */
static bool a_splice(struct world *w, struct tu_rng *rng, struct recs *x, struct attack_out *o)
{
	(void)o;
	struct recs y;
	recs_load(&y, w->b, w->blen);
	static const uint16_t types[3] = { SEVMIG_REC_ENC, SEVMIG_REC_PLAIN, SEVMIG_REC_ROUND };
	uint16_t t = types[tu_below(rng, 3)];
	long k = rfind(x, t, 0, 0), j = rfind(&y, t, 0, 0);
	bool ok = k >= 0 && j >= 0;
	if (ok)
		recs_set(x, (size_t)k, y.r[j], y.l[j]);
	recs_free(&y);
	return ok;
}

static bool a_full_beyond(struct world *w, struct tu_rng *rng, struct recs *x, struct attack_out *o)
{
	(void)w, (void)rng;
	long f = rfind(x, SEVMIG_REC_PSTATE, 0, 0);
	if (f < 0)
		return false;
	uint8_t *p = rpl(x, f);
	sevmig__put_le64(p + 16, sevmig__le64(p + 16) + 1 + tu_below(rng, 3));
	snprintf(o->deeper, sizeof(o->deeper), "leaves the memory layout");
	return true;
}

static bool a_es_no_vcpus(struct world *w, struct tu_rng *rng, struct recs *x, struct attack_out *o)
{
	(void)rng;
	if (!w->vcpus)
		return false;
	sevmig__put_le32(rpl(x, 0) + 16, 0);
	snprintf(o->deeper, sizeof(o->deeper), "declares 0 vCPUs");
	return true;
}

static bool a_es_drop_vmsa(struct world *w, struct tu_rng *rng, struct recs *x,
			   struct attack_out *o)
{
	long v = rfind(x, SEVMIG_REC_VMSA, -1, (unsigned)tu_below(rng, w->vcpus ? w->vcpus : 1));
	if (!w->vcpus || v < 0)
		return false;
	recs_del(x, (size_t)v);
	snprintf(o->deeper, sizeof(o->deeper),
		 "SESSION declares %u vCPUs, the stream carried the "
		 "state of %u",
		 w->vcpus, w->vcpus - 1);
	return true;
}

static bool a_truncate(struct world *w, struct tu_rng *rng, struct recs *x, struct attack_out *o)
{
	(void)x;
	size_t off[MAXR], n = ts_records(w->s, w->len, off, MAXR);
	size_t k = 1 + (size_t)tu_below(rng, n - 1);
	size_t cut = off[k] + (tu_below(rng, 2) ? (size_t)tu_below(rng, off[k] - off[k - 1]) : 0);
	if (cut >= w->len)
		cut = off[k];
	o->s = malloc(cut);
	memcpy(o->s, w->s, cut);
	o->len = cut;
	o->done = true;
	o->want = "truncated";
	o->want_rc = -ENODATA;
	return true;
}

/* Passes 1 and 2 in the other order. */
static bool a_swap_passes(struct world *w, struct tu_rng *rng, struct recs *x, struct attack_out *o)
{
	(void)w, (void)rng, (void)o;
	long r0 = rfind(x, SEVMIG_REC_ROUND, -1, 0), r1 = rfind(x, SEVMIG_REC_ROUND, -1, 1),
	     r2 = rfind(x, SEVMIG_REC_ROUND, -1, 2);
	if (r2 < 0)
		return false;
	size_t a = (size_t)(r1 - r0), b = (size_t)(r2 - r1);
	uint8_t *tr[MAXR];
	size_t tl[MAXR];
	memcpy(tr, &x->r[r1 + 1], b * sizeof(tr[0]));
	memcpy(tl, &x->l[r1 + 1], b * sizeof(tl[0]));
	memcpy(tr + b, &x->r[r0 + 1], a * sizeof(tr[0]));
	memcpy(tl + b, &x->l[r0 + 1], a * sizeof(tl[0]));
	memcpy(&x->r[r0 + 1], tr, (a + b) * sizeof(tr[0]));
	memcpy(&x->l[r0 + 1], tl, (a + b) * sizeof(tl[0]));
	return true;
}

/* KEYED cleared, key source 0, every tag recomputed under the public zero
 * key: a perfect insecure stream, which a keyed receiver must refuse. */
static bool a_downgrade(struct world *w, struct tu_rng *rng, struct recs *x, struct attack_out *o)
{
	(void)rng, (void)x;
	o->s = malloc(w->len);
	memcpy(o->s, w->s, w->len);
	o->len = w->len;
	sevmig__put_le32(o->s + 16, sevmig__le32(o->s + 16) & ~SEVMIG_STREAM_FLAG_KEYED);
	sevmig__put_le32(o->s + 48, SEVMIG_KEY_NONE);
	ts_restamp(o->s, o->len, NULL, true);
	struct sevmig_error err;
	if (ts_verify(o->s, o->len, NULL, &err, NULL))
		fail_msg("downgraded stream is not a valid insecure one: %s", err.message);
	o->done = true;
	o->want = "no keyed integrity";
	o->want_rc = -EPROTO;
	return true;
}

/* A whole migration from a sender under the attacker's PSK. */
static bool a_other_psk(struct world *w, struct tu_rng *rng, struct recs *x, struct attack_out *o)
{
	(void)x;
	uint8_t key[32];
	tu_fill(rng, key, sizeof(key));
	struct tsink out;
	send_stream(rng, w, key, 1, false, &out);
	o->s = out.data;
	o->len = out.len;
	o->done = true;
	return true;
}

static const struct {
	const char *name;
	attack_fn fn;
} attacks[] = {
	{ "rewrite a shared page", a_plain_rewrite },
	{ "private page made shared", a_private_to_shared },
	{ "ENC record dropped", a_drop_enc },
	{ "PLAIN record dropped", a_drop_plain },
	{ "ZERO record dropped", a_drop_zero },
	{ "pages twice in a pass", a_page_twice },
	{ "ZERO run over PLAIN pages", a_zero_over_plain },
	{ "ENC packets swapped", a_swap_packets },
	{ "ENC replayed in a later round", a_replay_round },
	{ "record from another migration", a_splice },
	{ "FULL beyond the layout", a_full_beyond },
	{ "SEV-ES: vCPUs 0", a_es_no_vcpus },
	{ "SEV-ES: a VMSA dropped", a_es_drop_vmsa },
	{ "truncated", a_truncate },
	{ "passes reordered", a_swap_passes },
	{ "downgrade to insecure", a_downgrade },
	{ "stream under another PSK", a_other_psk },
};
#define NATTACKS (sizeof(attacks) / sizeof(attacks[0]))

/* Run attack i on w: false if it does not apply to this stream. */
static bool run_attack(struct world *w, struct tu_rng *rng, size_t i)
{
	struct recs x;
	recs_load(&x, w->s, w->len);
	struct attack_out o = { .want = "tag does not verify", .want_rc = -EBADMSG };
	bool ok = attacks[i].fn(w, rng, &x, &o);
	if (ok && !o.done) {
		o.s = recs_join(&x, &o.len);
		if (o.deeper[0]) {
			/* An insider with the key: the rule behind the tags
			 * refuses it, key-less and keyed alike. */
			uint8_t *c = malloc(o.len);
			memcpy(c, o.s, o.len);
			ts_restamp(c, o.len, ts_psk, false);
			for (int keyed = 0; keyed < 2; keyed++) {
				struct sevmig_error err;
				int rc = ts_verify_key(c, o.len, keyed ? ts_psk : NULL, NULL, &err,
						       NULL);
				if (rc >= 0 || !strstr(err.message, o.deeper))
					fail_msg("%s, tagged with the key (%s reader): %d %s "
						 "(want \"%s\")",
						 attacks[i].name, keyed ? "keyed" : "key-less", rc,
						 err.message, o.deeper);
			}
			free(c);
		}
		ts_restamp(o.s, o.len, NULL, false); /* what the attacker can do */
	}
	recs_free(&x);
	if (!ok)
		return false;
	size_t k = first_diff(w, o.s, o.len);
	/* What the authentic records before k wrote: the stream cut there. */
	size_t off[MAXR], n = ts_records(w->s, w->len, off, MAXR);
	assert_true(k < n);
	struct tguest ref, t;
	struct sevmig_error err;
	int rc = recv_into(w, w->s, off[k], &ref, &err);
	assert_int_equal(rc, -ENODATA);
	rc = recv_into(w, o.s, o.len, &t, &err);
	if (rc != o.want_rc || !strstr(err.message, o.want) || err.index != k)
		fail_msg("%s: %d at record %llu (want %d at %zu, \"%s\"): %s", attacks[i].name, rc,
			 (unsigned long long)err.index, o.want_rc, k, o.want, err.message);
	uint64_t bad = tg_diff(&ref, &t);
	if (bad != UINT64_MAX)
		fail_msg("%s: gfn 0x%llx written (%s)", attacks[i].name, (unsigned long long)bad,
			 err.message);
	if (k == 0) {
		/* Nothing applied at all: the pre-filled target is as it was. */
		for (size_t r = 0; r < t.n; r++)
			for (size_t b = 0; b < t.reg[r].size; b++)
				if (((uint8_t *)t.reg[r].host)[b] != FILL)
					fail_msg("%s: target byte written", attacks[i].name);
	}
	print_message("  %-32s refused at record %zu: %s\n", attacks[i].name, k, err.message);
	tg_free(&ref);
	tg_free(&t);
	free(o.s);
	return true;
}

static void test_attacks(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("attacks") };
	struct world w;
	world_new(&rng, &w, 0, 0);
	for (size_t i = 0; i < NATTACKS; i++)
		if (attacks[i].fn != a_es_no_vcpus && attacks[i].fn != a_es_drop_vmsa &&
		    !run_attack(&w, &rng, i))
			fail_msg("%s: does not apply to the test stream", attacks[i].name);
	world_free(&w);
	/* SEV-ES: the same, and the vCPU rules. */
	world_new(&rng, &w, SEVMIG_POLICY_ES, 2);
	for (size_t i = 0; i < NATTACKS; i++)
		if (!run_attack(&w, &rng, i))
			fail_msg("%s (SEV-ES): does not apply to the test stream", attacks[i].name);
	world_free(&w);
}

/* Random attacks on random small guests. */
static void test_random_attacks(void **state)
{
	(void)state;
	uint64_t seed = tu_seed("random_attacks");
	struct tu_rng rng = { seed };
	for (int it = 0; it < 16; it++) {
		struct world w;
		bool es = tu_below(&rng, 3) == 0;
		world_new(&rng, &w, es ? SEVMIG_POLICY_ES : 0,
			  es ? 1 + (uint32_t)tu_below(&rng, 3) : 0);
		for (int j = 0; j < 3; j++) {
			size_t i;
			do
				i = (size_t)tu_below(&rng, NATTACKS);
			while (!run_attack(&w, &rng, i));
		}
		world_free(&w);
	}
}

/* ---- the back-channel ---------------------------------------------------- */

/* The target side as an attacker plays it: HELLO, then (once the sender
 * has written END) a COMMIT built from the stream the sender wrote. */
/* ---- nothing allocated for an unauthenticated header -------------------------- */

struct regions_seen {
	const struct tguest *t;
	unsigned calls;
};

static int count_regions(void *arg, const struct sevmig_stream_header *h,
			 const struct sevmig_mem_region **regions, size_t *n)
{
	(void)h;
	struct regions_seen *rs = arg;
	rs->calls++;
	*regions = rs->t->reg;
	*n = rs->t->n;
	return 0;
}

/* A receiver laying out its memory from the header (regions_for), fed s:
 * its verdict, how often it was asked for memory, whether it called the
 * peer authenticated. */
static int recv_lazy(const struct world *w, const uint8_t *s, size_t len, unsigned *calls,
		     bool *authed, struct sevmig_error *err)
{
	struct tguest t;
	tg_target(&w->g, &t, FILL);
	struct regions_seen rs = { &t, 0 };
	struct sevmig_fw *fw = tt_new(&w->tt, 1);
	struct tsrc src = { s, len, 0, { 0 } };
	SEVMIG_OPTS(sevmig_receiver_opts, o, TS_KEY, .vmsa_dest = ts_vmsa_scratch,
		    .regions_for = count_regions, .regions_arg = &rs);
	struct sevmig_receiver *r;
	sevmig_error_clear(err);
	int rc = sevmig_receiver_new(fw, NULL, 0, tsrc_read, &src, &o, &r, err);
	assert_int_equal(rc, 0);
	assert_false(sevmig_receiver_authenticated(r));
	rc = sevmig_receiver_run(r, err);
	*authed = sevmig_receiver_authenticated(r);
	sevmig_receiver_free(r);
	sevmig_fw_free(fw);
	tg_free(&t);
	*calls = rs.calls;
	return rc;
}

/* A peer without the key (a whole stream under another PSK; the genuine
 * header with its layout doubled, every unkeyed check recomputed) makes
 * the target allocate nothing and is not called authenticated; the genuine
 * stream is, after one call for its memory. */
static void test_unauthenticated_allocates_nothing(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("unauthenticated") };
	struct world w;
	world_new(&rng, &w, 0, 0);
	unsigned calls;
	bool authed;
	struct sevmig_error err;
	int rc = recv_lazy(&w, w.s, w.len, &calls, &authed, &err);
	if (rc)
		fail_msg("genuine: %s", err.message);
	assert_int_equal(calls, 1);
	assert_true(authed);

	struct recs x;
	recs_load(&x, w.s, w.len);
	struct attack_out o = { 0 };
	assert_true(a_other_psk(&w, &rng, &x, &o));
	recs_free(&x);
	rc = recv_lazy(&w, o.s, o.len, &calls, &authed, &err);
	assert_int_equal(rc, -EBADMSG);
	assert_non_null(strstr(err.message, "tag does not verify"));
	assert_int_equal(calls, 0);
	assert_false(authed);
	free(o.s);

	uint8_t *f = malloc(w.len);
	memcpy(f, w.s, w.len);
	uint64_t size = sevmig__le64(f + TS_HDR_FIXED + 8);
	sevmig__put_le64(f + TS_HDR_FIXED + 8, size * 2);
	ts_restamp(f, w.len, NULL, false);
	rc = recv_lazy(&w, f, w.len, &calls, &authed, &err);
	assert_true(rc < 0);
	assert_int_equal(calls, 0);
	assert_false(authed);
	free(f);
	world_free(&w);
}

enum commit_kind { C_GOOD, C_WRONG_KEY, C_OTHER_END, C_OTHER_TAG };

struct fake_target {
	const struct tsink *stream; /* what the sender wrote */
	enum commit_kind kind;
	uint8_t buf[2 * (SM_BACK_OVERHEAD + SM_BACK_MAX)];
	size_t len, pos;
	bool committed;
};

static ptrdiff_t fake_read(void *arg, void *buf, size_t len)
{
	struct fake_target *f = arg;
	if (f->pos == f->len && !f->committed) {
		/* END is out: the stream is complete in the sink. */
		const struct tsink *s = f->stream;
		uint8_t key[32];
		memcpy(key, ts_psk, 32);
		if (f->kind == C_WRONG_KEY)
			key[0] ^= 0x80;
		struct sevmig__auth a = { { NULL, NULL } };
		assert_int_equal(sevmig__auth_init(&a, key, s->data, sevmig__le32(s->data + 12)),
				 0);
		size_t off[MAXR], n = ts_records(s->data, s->len, off, MAXR);
		assert_int_equal(sevmig__le16(s->data + off[n - 1]), SEVMIG_REC_END);
		struct sevmig__back_msg m = { .type = SEVMIG_BACK_COMMIT, .seq = 1 };
		m.records = n - 1 + (f->kind == C_OTHER_END);
		memcpy(m.end_tag, s->data + s->len - 20, 16);
		if (f->kind == C_OTHER_TAG)
			m.end_tag[5] ^= 1;
		int k = sevmig__back_encode(&a, &m, f->buf + f->len);
		assert_true(k > 0);
		f->len += (size_t)k;
		f->committed = true;
		sevmig__auth_fini(&a);
	}
	size_t n = f->len - f->pos < len ? f->len - f->pos : len;
	memcpy(buf, f->buf + f->pos, n);
	f->pos += n;
	return (ptrdiff_t)n;
}

static void test_forged_commit(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("forged_commit") };
	struct world w;
	memset(&w, 0, sizeof(w));
	tt_init(&w.tt);
	tg_new(&rng, &w.g, 2, 6);
	static const char *const names[] = { "genuine", "wrong key", "another END",
					     "another END tag" };
	for (int kind = C_GOOD; kind <= C_OTHER_TAG; kind++) {
		struct tsink out = { 0 };
		struct fake_target f = { .stream = &out, .kind = (enum commit_kind)kind };
		struct sevmig__back_msg hello = { .type = SEVMIG_BACK_HELLO, .seq = 0 };
		tu_fill(&rng, hello.nonce, 16);
		int k = sevmig__back_encode(NULL, &hello, f.buf);
		assert_true(k > 0);
		f.len = (size_t)k;
		struct sevmig_fw *src = soft_platform(true, 0, 1);
		SEVMIG_OPTS(sevmig_sender_opts, so, TS_KEY, .target_pdh = w.tt.pdh,
			    .target_pdh_len = SEVMIG_CERT_SIZE, .back_read = fake_read,
			    .back_arg = &f);
		struct sevmig_sender *s;
		struct sevmig_error err;
		assert_int_equal(
		    sevmig_sender_new(src, w.g.reg, w.g.n, tsink_write, &out, &so, &s, &err), 0);
		if (sevmig_sender_send_all(s, w.g.ps, &err))
			fail_msg("send_all: %s", err.message);
		/* The header answers the HELLO. */
		assert_memory_equal(out.data + 80, hello.nonce, 16);
		int rc = sevmig_sender_finish(s, &err);
		print_message("  COMMIT %-16s finish: %d %s\n", names[kind], rc,
			      rc ? err.message : "");
		if (kind == C_GOOD) {
			if (rc)
				fail_msg("genuine COMMIT refused: %s", err.message);
			assert_true(sevmig_sender_acknowledged(s));
		} else {
			assert_true(rc < 0);
			assert_false(sevmig_sender_acknowledged(s));
			const char *want =
			    kind == C_WRONG_KEY ? "tag does not verify" : "of another stream";
			if (!strstr(err.message, want))
				fail_msg("COMMIT %s: %d %s", names[kind], rc, err.message);
		}
		sevmig_sender_free(s);
		sevmig_fw_free(src);
		free(out.data);
	}
	tg_free(&w.g);
}

/* A receiver with a back-channel: the stream it reads answers its HELLO
 * (the test, as the sender, puts the nonce into a recorded stream and tags
 * it with the key), but one record was then changed without the key. The
 * source must hear NAK, tagged under the key, with the reason. */
struct answering_src {
	struct world *w;
	struct tsink *back;
	uint8_t *s;
	size_t len, pos;
	size_t tamper; /* record to change after tagging */
};

static ptrdiff_t answering_read(void *arg, void *buf, size_t len)
{
	struct answering_src *a = arg;
	if (!a->s) {
		/* HELLO is in the back-channel: answer it. */
		struct sevmig__back_msg m;
		struct sevmig_error err;
		size_t used;
		assert_int_equal(
		    sevmig__back_decode(a->back->data, a->back->len, NULL, 0, &m, &used, &err), 1);
		assert_int_equal(m.type, SEVMIG_BACK_HELLO);
		a->s = malloc(a->w->len);
		memcpy(a->s, a->w->s, a->w->len);
		a->len = a->w->len;
		memcpy(a->s + 80, m.nonce, 16);
		ts_restamp(a->s, a->len, ts_psk, false);
		size_t off[MAXR];
		ts_records(a->s, a->len, off, MAXR);
		a->s[off[a->tamper] + 8 + 20] ^= 1; /* a payload byte */
		ts_restamp(a->s, a->len, NULL, false);
	}
	size_t n = a->len - a->pos < len ? a->len - a->pos : len;
	memcpy(buf, a->s + a->pos, n);
	a->pos += n;
	return (ptrdiff_t)n;
}

static void test_nak(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("nak") };
	struct world w;
	world_new(&rng, &w, 0, 0);
	size_t off[MAXR], n = ts_records(w.s, w.len, off, MAXR);
	long r1 = -1;
	for (size_t k = 0; k < n && r1 < 0; k++)
		if (sevmig__le16(w.s + off[k]) == SEVMIG_REC_ROUND)
			r1 = (long)k + 1; /* after ROUND 0: one ACK before the NAK */
	for (int pass = 0; pass < 2; pass++) {
		struct tsink back = { 0 };
		struct answering_src a = { .w = &w,
					   .back = &back,
					   .tamper = pass ? (size_t)r1 : 1 };
		struct tguest t;
		tg_target(&w.g, &t, FILL);
		struct sevmig_fw *fw = tt_new(&w.tt, 1);
		SEVMIG_OPTS(sevmig_receiver_opts, o, TS_KEY, .back_write = tsink_write,
			    .back_arg = &back);
		struct sevmig_receiver *r;
		struct sevmig_error err;
		assert_int_equal(
		    sevmig_receiver_new(fw, t.reg, t.n, answering_read, &a, &o, &r, &err), 0);
		int rc = sevmig_receiver_run(r, &err);
		if (rc != -EBADMSG || !strstr(err.message, "tag does not verify") ||
		    err.index != a.tamper)
			fail_msg("tampered record %zu: %d %s", a.tamper, rc, err.message);
		sevmig_receiver_free(r);
		sevmig_fw_free(fw);
		/* HELLO, the ACKs, NAK: all authentic under the key and this
		 * stream's header. */
		struct sevmig__auth au = { { NULL, NULL } };
		assert_int_equal(sevmig__auth_init(&au, ts_psk, a.s, sevmig__le32(a.s + 12)), 0);
		size_t pos = 0;
		uint64_t seq = 0, acks = 0;
		struct sevmig__back_msg m;
		for (;;) {
			size_t used = 0;
			int drc = sevmig__back_decode(back.data + pos, back.len - pos,
						      seq ? &au : NULL, seq, &m, &used, &err);
			if (drc != 1)
				fail_msg("back-channel message %llu: %d %s",
					 (unsigned long long)seq, drc, err.message);
			pos += used;
			seq++;
			if (m.type == SEVMIG_BACK_ACK)
				acks++;
			if (m.type == SEVMIG_BACK_NAK || pos == back.len)
				break;
		}
		assert_int_equal(pos, back.len);
		assert_int_equal(m.type, SEVMIG_BACK_NAK);
		assert_int_equal(m.code, EBADMSG);
		assert_non_null(strstr(m.msg, "tag does not verify"));
		assert_int_equal(acks, pass ? 1 : 0);
		print_message("  tampered record %zu: %llu ACK(s), then NAK: %s\n", a.tamper,
			      (unsigned long long)acks, m.msg);
		sevmig__auth_fini(&au);
		tg_free(&t);
		free(a.s);
		free(back.data);
	}
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attacks),
		cmocka_unit_test(test_random_attacks),
		cmocka_unit_test(test_forged_commit),
		cmocka_unit_test(test_unauthenticated_allocates_nothing),
		cmocka_unit_test(test_nak),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
