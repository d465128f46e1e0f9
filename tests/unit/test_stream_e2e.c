/* SPDX-License-Identifier: MIT */
/*
 * End to end over the software firmware: random guests (several memslots
 * with holes, random page states and contents) sent with pre-copy rounds
 * that rewrite pages and flip page states, received, and compared with the
 * source byte for byte; with and without compression, with 1 and N
 * workers. Then cancellation, write failures, header mismatches, dry runs
 * and descriptors.
 */
#include "test_stream_util.h"

#include "stream/stream_internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

struct mopt {
	int zlevel;
	unsigned sw, rw; /* sender and receiver workers */
	unsigned batch;
	unsigned threads; /* firmware UPDATE_DATA concurrency */
	unsigned rounds;
	bool flip;
	uint32_t policy;
	unsigned nvcpu;
	size_t slots;
	uint64_t maxpages;
	bool zeroed;	 /* the target starts zeroed and the receiver is told so */
	bool page_write; /* the target's pages through the page_write callback */
};

struct vmsas {
	uint8_t buf[4][4096];
	unsigned asked;
};

static int vmsa_dest(void *arg, uint32_t vcpu, void **guest)
{
	struct vmsas *v = arg;
	if (vcpu >= 4)
		return -ERANGE;
	v->asked++;
	*guest = v->buf[vcpu];
	return 0;
}

static void send_guest(struct tu_rng *rng, struct tguest *g, const struct mopt *o,
		       struct sevmig_fw *src, const uint8_t *pdh, struct tsink *out,
		       struct sevmig_stream_counts *sc, uint8_t vmsa[4][4096], const uint8_t *uuid)
{
	SEVMIG_OPTS(sevmig_sender_opts, so, TS_KEY, .target_pdh = pdh,
		    .target_pdh_len = SEVMIG_CERT_SIZE, .batch_pages = o->batch,
		    .zstd_level = o->zlevel, .workers = o->sw, .uuid = uuid, .vcpus = o->nvcpu);
	struct sevmig_sender *s;
	struct sevmig_error err;
	int rc = sevmig_sender_new(src, g->reg, g->n, tsink_write, out, &so, &s, &err);
	if (rc)
		fail_msg("sender_new: %d %s", rc, err.message);
	rc = sevmig_sender_send_all(s, g->ps, &err);
	if (rc)
		fail_msg("send_all: %d %s", rc, err.message);
	assert_int_equal(guest_state(src), SEVMIG_GUEST_SUPDATE);
	uint64_t **dirty = tg_dirty_alloc(g);
	for (unsigned r = 0; r < o->rounds; r++) {
		tg_run(rng, g, dirty, o->flip);
		rc = sevmig_sender_send_dirty(s, g->ps, (const uint64_t *const *)dirty, &err);
		if (rc)
			fail_msg("send_dirty %u: %d %s", r, rc, err.message);
	}
	tg_dirty_free(g, dirty);
	for (unsigned v = 0; v < o->nvcpu; v++) {
		tu_fill(rng, vmsa[v], 4096);
		rc = sevmig_sender_send_vmsa(s, v, vmsa[v], &err);
		if (rc)
			fail_msg("send_vmsa: %d %s", rc, err.message);
	}
	rc = sevmig_sender_finish(s, &err);
	if (rc)
		fail_msg("finish: %d %s", rc, err.message);
	assert_int_equal(guest_state(src), SEVMIG_GUEST_SENT);
	sevmig_sender_counts(s, sc);
	assert_int_equal(sc->bytes, out->len);
	assert_int_equal(sc->rounds, o->rounds + 1);
	sevmig_sender_free(s);
}

/* page_write into the test's target memory, as a file would be written:
 * each call checked for what the callback is promised. */
struct pwrite_target {
	const struct tguest *t;
	atomic_uint calls, zero_calls;
	atomic_int fail_at; /* fail this call (1-based) with -ENOSPC; 0: never */
};

static int pw_write(void *arg, size_t region, uint64_t offset, const void *data, size_t len)
{
	struct pwrite_target *pw = arg;
	unsigned call = atomic_fetch_add(&pw->calls, 1) + 1;
	if ((int)call == atomic_load(&pw->fail_at))
		return -ENOSPC;
	if (region >= pw->t->n || offset > pw->t->reg[region].size ||
	    len > pw->t->reg[region].size - offset || !len || len % 4096 || offset % 4096 ||
	    (uintptr_t)data % 4096)
		return -EFAULT; /* the test fails with it */
	uint8_t *dst = (uint8_t *)pw->t->reg[region].host + offset;
	if (data)
		memcpy(dst, data, len);
	else
		memset(dst, 0, len), atomic_fetch_add(&pw->zero_calls, 1);
	return 0;
}

/* t's regions without their host memory (at most 8), for page_write. */
static void nohost_regions(const struct tguest *t, struct sevmig_mem_region out[8])
{
	assert_true(t->n <= 8);
	for (size_t k = 0; k < t->n; k++)
		out[k] = (struct sevmig_mem_region){ .gpa = t->reg[k].gpa, .size = t->reg[k].size };
}

static void migrate_check(struct tu_rng *rng, const struct mopt *o)
{
	struct tguest g, t;
	tg_new(rng, &g, o->slots ? o->slots : 1 + tu_below(rng, 4),
	       o->maxpages ? o->maxpages : 300);
	struct sevmig_fw *src = soft_platform(true, o->policy, o->threads);
	struct sevmig_fw *tgt = soft_platform(false, 0, o->threads);
	uint8_t pdh[SEVMIG_CERT_SIZE];
	tfw_pdh(tgt, pdh);
	struct tsink out = { 0 };
	struct sevmig_stream_counts sc = { .sz = sizeof(sc) };
	uint8_t vmsa[4][4096];
	send_guest(rng, &g, o, src, pdh, &out, &sc, vmsa, NULL);

	tg_target(&g, &t, o->zeroed ? 0 : 0xcc);
	struct vmsas vd = { .asked = 0 };
	struct tsrc srcb = { out.data, out.len, 0, { tu_next(rng) | 1 } };
	struct pwrite_target pw = { .t = &t };
	SEVMIG_OPTS(sevmig_receiver_opts, ro, TS_KEY, .workers = o->rw, .vmsa_dest = vmsa_dest,
		    .vmsa_arg = &vd, .zeroed = o->zeroed,
		    .page_write = o->page_write ? pw_write : NULL, .page_write_arg = &pw);
	/* With page_write the receiver gets regions without host memory. */
	struct sevmig_mem_region nohost[8];
	nohost_regions(&t, nohost);
	struct sevmig_receiver *r;
	struct sevmig_error err;
	assert_int_equal(sevmig_receiver_new(tgt, o->page_write ? nohost : t.reg, t.n, tsrc_read,
					     &srcb, &ro, &r, &err),
			 0);
	int rc = sevmig_receiver_run(r, &err);
	if (rc)
		fail_msg("receive: %d %s", rc, err.message);
	if (o->page_write)
		assert_true(atomic_load(&pw.calls) > 0);
	uint64_t bad = tg_diff(&g, &t);
	if (bad != UINT64_MAX)
		fail_msg("target memory differs at gfn 0x%llx (state %s)", (unsigned long long)bad,
			 sevmig_page_state_name(sevmig_pstate_get(g.ps, bad)));
	assert_true(sevmig_pstate_equal(sevmig_receiver_pstate(r), g.ps));
	struct sevmig_stream_counts rc_ = { .sz = sizeof(rc_) };
	sevmig_receiver_counts(r, &rc_);
	assert_int_equal(rc_.records, sc.records);
	assert_int_equal(rc_.bytes, sc.bytes);
	assert_int_equal(rc_.enc_pages, sc.enc_pages);
	assert_int_equal(rc_.plain_pages, sc.plain_pages);
	assert_int_equal(rc_.zero_pages, sc.zero_pages);
	assert_int_equal(rc_.rounds, sc.rounds);
	assert_int_equal(rc_.vmsa, o->nvcpu);
	assert_int_equal(vd.asked, o->nvcpu);
	for (unsigned v = 0; v < o->nvcpu; v++)
		assert_memory_equal(vd.buf[v], vmsa[v], 4096);
	/* Round 0 carried every page once. */
	uint64_t total = 0;
	for (size_t k = 0; k < g.n; k++)
		total += g.reg[k].size >> 12;
	assert_true(sc.enc_pages + sc.plain_pages + sc.zero_pages >= total);
	if (!o->rounds)
		assert_int_equal(sc.enc_pages + sc.plain_pages + sc.zero_pages, total);
	assert_int_equal(guest_state(tgt), SEVMIG_GUEST_RUNNING);
	sevmig_receiver_free(r);
	sevmig_fw_free(src);
	sevmig_fw_free(tgt);
	free(out.data);
	tg_free(&g);
	tg_free(&t);
}

static void test_matrix(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("e2e_matrix") };
	static const int levels[] = { 0, 3 };
	static const unsigned workers[][2] = { { 0, 0 }, { 1, 1 }, { 3, 2 } };
	static const unsigned batches[] = { 1, 7, 256 };
	for (int li = 0; li < 2; li++)
		for (int wi = 0; wi < 3; wi++)
			for (int bi = 0; bi < 3; bi++)
				for (unsigned threads = 1; threads <= 4; threads += 3) {
					struct mopt o = { .zlevel = levels[li],
							  .sw = workers[wi][0],
							  .rw = workers[wi][1],
							  .batch = batches[bi],
							  .threads = threads,
							  .rounds = 3,
							  .flip = true };
					migrate_check(&rng, &o);
				}
}

static void test_single_pass(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("e2e_single_pass") };
	for (int i = 0; i < 6; i++) {
		struct mopt o = { .zlevel = i % 2 ? 1 : 0,
				  .sw = (unsigned)i % 3,
				  .rw = (unsigned)i % 2,
				  .threads = 2 };
		migrate_check(&rng, &o);
	}
}

static void test_many_rounds_no_flip(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("e2e_rounds") };
	struct mopt o = { .zlevel = 3, .sw = 2, .rw = 2, .threads = 4, .rounds = 8 };
	migrate_check(&rng, &o);
	o.flip = true;
	o.slots = 6;
	migrate_check(&rng, &o);
}

/* Pages through page_write: every form (compressed and raw PLAIN, ENC,
 * ZERO runs in later passes), with and without workers; a write failure
 * fails the record, naming the pages; a hardware backend is refused. */
static void test_page_write(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("e2e_page_write") };
	struct mopt o = { .zlevel = 3, .sw = 2, .rw = 2, .threads = 4, .page_write = true };
	migrate_check(&rng, &o);
	o.rounds = 6;
	o.flip = true;
	o.zeroed = true;
	migrate_check(&rng, &o);
	o.zlevel = 0; /* raw PLAIN: copied to aligned memory first */
	o.rw = 0;
	migrate_check(&rng, &o);
	o.policy = SEVMIG_POLICY_ES;
	o.nvcpu = 2;
	migrate_check(&rng, &o);

	/* A write that fails. */
	struct tguest g, t;
	tg_new(&rng, &g, 2, 300);
	struct sevmig_fw *src = soft_platform(true, 0, 1);
	struct ttarget tt;
	tt_init(&tt);
	struct tsink out = { 0 };
	struct sevmig_stream_counts sc = { .sz = sizeof(sc) };
	uint8_t vmsa[4][4096];
	o = (struct mopt){ .zlevel = 3 };
	send_guest(&rng, &g, &o, src, tt.pdh, &out, &sc, vmsa, NULL);
	tg_target(&g, &t, 0);
	struct sevmig_mem_region nohost[8];
	nohost_regions(&t, nohost);
	for (unsigned workers = 0; workers <= 2; workers += 2) {
		struct pwrite_target pw = { .t = &t, .fail_at = 2 };
		struct sevmig_fw *tgt = tt_new(&tt, 1);
		struct tsrc srcb = { out.data, out.len, 0, { 0 } };
		SEVMIG_OPTS(sevmig_receiver_opts, ro, TS_KEY, .workers = workers,
			    .page_write = pw_write, .page_write_arg = &pw);
		struct sevmig_receiver *r;
		struct sevmig_error err;
		assert_int_equal(
		    sevmig_receiver_new(tgt, nohost, t.n, tsrc_read, &srcb, &ro, &r, &err), 0);
		assert_int_equal(sevmig_receiver_run(r, &err), -ENOSPC);
		assert_non_null(strstr(err.message, "writing gfns 0x"));
		assert_non_null(strstr(err.message, "of region"));
		assert_int_not_equal(guest_state(tgt), SEVMIG_GUEST_RUNNING);
		sevmig_receiver_free(r);
		sevmig_fw_free(tgt);
	}
	/* Regions without host memory need page_write. */
	{
		struct sevmig_fw *tgt = tt_new(&tt, 1);
		struct tsrc srcb = { out.data, out.len, 0, { 0 } };
		SEVMIG_OPTS(sevmig_receiver_opts, ro, TS_KEY);
		struct sevmig_receiver *r = NULL;
		struct sevmig_error err;
		assert_int_equal(
		    sevmig_receiver_new(tgt, nohost, t.n, tsrc_read, &srcb, &ro, &r, &err),
		    -EINVAL);
		assert_null(r);
		sevmig_fw_free(tgt);
	}
	sevmig_fw_free(src);
	free(out.data);
	tg_free(&g);
	tg_free(&t);
}

/* A target known to be zero: the first pass's ZERO runs are skipped, and
 * the pages stay as they were (shown with a target that is NOT zero, which
 * is the caller's lie); later passes' ZERO runs are written (the guest
 * zeroes pages it had filled: the rounds below cover that). */
static void test_zeroed_target(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("e2e_zeroed") };
	struct mopt o = { .zlevel = 3, .sw = 2, .rw = 2, .threads = 4, .zeroed = true };
	migrate_check(&rng, &o);
	o.rounds = 8;
	o.flip = true;
	migrate_check(&rng, &o);
	o.rw = 0;
	migrate_check(&rng, &o);

	struct tguest g, t;
	tg_new(&rng, &g, 2, 400);
	struct sevmig_fw *src = soft_platform(true, 0, 1);
	uint8_t pdh[SEVMIG_CERT_SIZE];
	struct ttarget tt;
	tt_init(&tt);
	memcpy(pdh, tt.pdh, sizeof(pdh));
	struct tsink out = { 0 };
	struct sevmig_stream_counts sc = { .sz = sizeof(sc) };
	uint8_t vmsa[4][4096];
	o = (struct mopt){ .zlevel = 3 };
	send_guest(&rng, &g, &o, src, pdh, &out, &sc, vmsa, NULL);
	assert_true(sc.zero_pages > 0);
	tg_target(&g, &t, 0xcc);
	struct sevmig_fw *tgt = tt_new(&tt, 1);
	struct tsrc srcb = { out.data, out.len, 0, { 0 } };
	SEVMIG_OPTS(sevmig_receiver_opts, ro, TS_KEY, .zeroed = true);
	struct sevmig_receiver *r;
	struct sevmig_error err;
	assert_int_equal(sevmig_receiver_new(tgt, t.reg, t.n, tsrc_read, &srcb, &ro, &r, &err), 0);
	assert_int_equal(sevmig_receiver_run(r, &err), 0);
	uint64_t untouched = 0, zero = 0;
	static const uint8_t zp[4096];
	for (size_t k = 0; k < g.n; k++)
		for (uint64_t i = 0; i < g.reg[k].size >> 12; i++) {
			const uint8_t *a = (uint8_t *)g.reg[k].host + (i << 12);
			const uint8_t *b = (uint8_t *)t.reg[k].host + (i << 12);
			bool z =
			    !memcmp(a, zp, 4096) &&
			    sevmig_pstate_get(g.ps, (g.reg[k].gpa >> 12) + i) == SEVMIG_PAGE_SHARED;
			zero += z;
			if (z)
				untouched += b[0] == 0xcc && b[4095] == 0xcc;
			else
				assert_memory_equal(a, b, 4096);
		}
	assert_int_equal(zero, sc.zero_pages);
	assert_int_equal(untouched, zero);
	sevmig_receiver_free(r);
	sevmig_fw_free(src);
	sevmig_fw_free(tgt);
	free(out.data);
	tg_free(&g);
	tg_free(&t);
}

static void test_sev_es(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("e2e_sev_es") };
	struct mopt o = { .zlevel = 3,
			  .sw = 2,
			  .rw = 1,
			  .threads = 2,
			  .rounds = 2,
			  .flip = true,
			  .policy = SEVMIG_POLICY_ES | SEVMIG_POLICY_NOKS,
			  .nvcpu = 4 };
	migrate_check(&rng, &o);
}

/* A page state fragmented enough (with a lowered record limit) that the
 * FULL state and a DELTA are split over several records. */
static void test_split_pstate(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("e2e_split_pstate") };
	struct tguest g, t;
	tg_new(&rng, &g, 3, 3000);
	/* Every other page shared. */
	for (size_t k = 0; k < g.n; k++)
		for (uint64_t i = 0; i < g.reg[k].size >> 12; i++)
			assert_int_equal(sevmig_pstate_set_range(g.ps, (g.reg[k].gpa >> 12) + i, 1,
								 i % 2 ? SEVMIG_PAGE_SHARED
								       : SEVMIG_PAGE_PRIVATE),
					 0);
	struct sevmig_fw *src = soft_platform(true, 0, 2);
	struct ttarget tt;
	tt_init(&tt);
	const uint8_t *pdh = tt.pdh;
	struct tsink out = { 0 };
	SEVMIG_OPTS(sevmig_sender_opts, so, TS_KEY, .target_pdh = pdh,
		    .target_pdh_len = SEVMIG_CERT_SIZE, .workers = 2, .zstd_level = 0);
	struct sevmig_sender *s;
	struct sevmig_error err;
	assert_int_equal(sevmig_sender_new(src, g.reg, g.n, tsink_write, &out, &so, &s, &err), 0);
	sevmig__sender_set_pstate_limit(s, 96);
	if (sevmig_sender_send_all(s, g.ps, &err))
		fail_msg("send_all: %s", err.message);
	struct sevmig_stream_counts c = { .sz = sizeof(c) };
	sevmig_sender_counts(s, &c);
	uint64_t full = c.pstate_records;
	assert_true(full >= 3); /* split: the halves of the range, recursively */
	/* Flip every third page: a DELTA too large for one record. */
	for (size_t k = 0; k < g.n; k++)
		for (uint64_t i = 0; i < g.reg[k].size >> 12; i += 3)
			assert_int_equal(sevmig_pstate_set_range(
					     g.ps, (g.reg[k].gpa >> 12) + i, 1,
					     sevmig_pstate_get(g.ps, (g.reg[k].gpa >> 12) + i) ==
						     SEVMIG_PAGE_SHARED
						 ? SEVMIG_PAGE_PRIVATE
						 : SEVMIG_PAGE_SHARED),
					 0);
	if (sevmig_sender_send_dirty(s, g.ps, NULL, &err))
		fail_msg("send_dirty: %s", err.message);
	sevmig_sender_counts(s, &c);
	assert_true(c.pstate_records > full + 2);
	assert_int_equal(sevmig_sender_finish(s, &err), 0);
	sevmig_sender_free(s);
	tg_target(&g, &t, 0xcc);
	struct sevmig_pstate *ps;
	int rc = ts_receive(out.data, out.len, &tt, &t, 2, 2, &err, &ps);
	if (rc)
		fail_msg("receive: %d %s", rc, err.message);
	assert_int_equal(tg_diff(&g, &t), UINT64_MAX);
	assert_true(sevmig_pstate_equal(ps, g.ps));
	sevmig_pstate_free(ps);
	sevmig_fw_free(src);
	free(out.data);
	tg_free(&g);
	tg_free(&t);
}

/* The stream does not depend on the number of workers: same records, same
 * lengths, same bytes wherever the firmware's randomness does not enter. */
static void test_deterministic(void **state)
{
	(void)state;
	uint64_t seed = tu_seed("e2e_deterministic");
	static const uint8_t uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	struct tsink outs[3];
	static const unsigned w[3] = { 0, 1, 4 };
	for (int i = 0; i < 3; i++) {
		struct tu_rng rng = { seed };
		struct tguest g;
		tg_new(&rng, &g, 3, 400);
		struct sevmig_fw *src = soft_platform(true, 0, 4);
		struct ttarget tt;
		tt_init(&tt);
		const uint8_t *pdh = tt.pdh;
		memset(&outs[i], 0, sizeof(outs[i]));
		struct sevmig_stream_counts sc = { .sz = sizeof(sc) };
		struct mopt o = { .zlevel = 3, .sw = w[i], .batch = 16, .rounds = 2, .flip = true };
		uint8_t vm[4][4096];
		send_guest(&rng, &g, &o, src, pdh, &outs[i], &sc, vm, uuid);
		sevmig_fw_free(src);
		tg_free(&g);
	}
	size_t offa[4096], offb[4096];
	size_t na = ts_records(outs[0].data, outs[0].len, offa, 4096);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(outs[i].len, outs[0].len);
		size_t nb = ts_records(outs[i].data, outs[i].len, offb, 4096);
		assert_int_equal(na, nb);
		for (size_t k = 0; k < na; k++) {
			const uint8_t *a = outs[0].data + offa[k], *b = outs[i].data + offb[k];
			assert_int_equal(offa[k], offb[k]);
			uint16_t type = sevmig__le16(a);
			assert_int_equal(type, sevmig__le16(b));
			uint32_t len = sevmig__le32(a + 4);
			assert_int_equal(len, sevmig__le32(b + 4));
			if (type == SEVMIG_REC_PLAIN || type == SEVMIG_REC_ZERO ||
			    type == SEVMIG_REC_PSTATE || type == SEVMIG_REC_ROUND)
				assert_memory_equal(a + 20, b + 20, len);
			if (type == SEVMIG_REC_ENC) /* the gfn list */
				assert_memory_equal(a + 20, b + 20, 16 + 8 * sevmig__le32(a + 20));
		}
	}
	for (int i = 0; i < 3; i++)
		free(outs[i].data);
}

/* ---- cancellation ------------------------------------------------------ */

struct cancel_at {
	uint64_t records;
};

static int cancel_progress(void *arg, const struct sevmig_stream_counts *c)
{
	struct cancel_at *a = arg;
	return c->records >= a->records;
}

/* The stream ends with ABORT, the target refuses it, the source guest runs
 * again, and a new sender on the same handle migrates it completely. */
static void after_cancel(struct tu_rng *rng, struct tguest *g, struct sevmig_fw *src,
			 const struct ttarget *tt, const struct tsink *out, bool abort_written)
{
	assert_int_equal(guest_state(src), SEVMIG_GUEST_RUNNING);
	struct sevmig_error err;
	if (abort_written) {
		assert_int_equal(ts_verify(out->data, out->len, NULL, &err, NULL), -ECANCELED);
		struct tguest t;
		tg_target(g, &t, 0);
		assert_int_equal(ts_receive(out->data, out->len, tt, &t, 0, 1, &err, NULL),
				 -ECANCELED);
		assert_non_null(strstr(err.message, "aborted"));
		tg_free(&t);
	}
	struct ttarget tt2;
	tt_init(&tt2);
	const uint8_t *pdh = tt2.pdh;
	struct tsink again = { 0 };
	struct sevmig_stream_counts sc = { .sz = sizeof(sc) };
	struct mopt o = { .zlevel = 1, .sw = 2, .rounds = 1, .flip = true };
	uint8_t vm[4][4096];
	send_guest(rng, g, &o, src, pdh, &again, &sc, vm, NULL);
	struct tguest t;
	tg_target(g, &t, 0xcc);
	int rc = ts_receive(again.data, again.len, &tt2, &t, 1, 2, &err, NULL);
	if (rc)
		fail_msg("receive after cancel: %d %s", rc, err.message);
	assert_int_equal(tg_diff(g, &t), UINT64_MAX);
	tg_free(&t);
	free(again.data);
}

static void test_cancel_progress(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("cancel_progress") };
	for (unsigned workers = 0; workers <= 3; workers += 3) {
		for (uint64_t at = 1; at < 12; at += 5) {
			struct tguest g;
			tg_new(&rng, &g, 2, 400);
			struct sevmig_fw *src = soft_platform(true, 0, 2);
			struct ttarget tt;
			tt_init(&tt);
			const uint8_t *pdh = tt.pdh;
			struct tsink out = { 0 };
			struct cancel_at ca = { at };
			SEVMIG_OPTS(sevmig_sender_opts, so, TS_KEY, .target_pdh = pdh,
				    .target_pdh_len = SEVMIG_CERT_SIZE, .workers = workers,
				    .batch_pages = 8, .progress = cancel_progress,
				    .progress_arg = &ca);
			struct sevmig_sender *s;
			struct sevmig_error err;
			assert_int_equal(
			    sevmig_sender_new(src, g.reg, g.n, tsink_write, &out, &so, &s, &err),
			    0);
			assert_int_equal(sevmig_sender_send_all(s, g.ps, &err), -ECANCELED);
			assert_int_equal(err.code, -ECANCELED);
			/* A cancelled sender stays cancelled. */
			assert_int_equal(sevmig_sender_finish(s, &err), -EPROTO);
			sevmig_sender_free(s);
			after_cancel(&rng, &g, src, &tt, &out, true);
			free(out.data);
			sevmig_fw_free(src);
			tg_free(&g);
		}
	}
}

/* Cancel from another thread while the sender writes. */
struct thread_sink {
	struct tsink out;
	struct sevmig_sender *s;
	size_t at;
	bool fired;
};

static void *canceller(void *arg)
{
	sevmig_sender_cancel(arg);
	return NULL;
}

static int thread_sink_write(void *arg, const void *buf, size_t len)
{
	struct thread_sink *t = arg;
	if (!t->fired && t->out.len > t->at) {
		pthread_t th;
		assert_int_equal(pthread_create(&th, NULL, canceller, t->s), 0);
		pthread_join(th, NULL);
		t->fired = true;
	}
	return tsink_write(&t->out, buf, len);
}

static void test_cancel_thread(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("cancel_thread") };
	for (unsigned workers = 0; workers <= 2; workers++) {
		struct tguest g;
		tg_new(&rng, &g, 3, 300);
		struct sevmig_fw *src = soft_platform(true, 0, 2);
		struct ttarget tt;
		tt_init(&tt);
		const uint8_t *pdh = tt.pdh;
		struct thread_sink ts = { .at = 20000 + tu_below(&rng, 200000) };
		SEVMIG_OPTS(sevmig_sender_opts, so, TS_KEY, .target_pdh = pdh,
			    .target_pdh_len = SEVMIG_CERT_SIZE, .workers = workers,
			    .batch_pages = 4);
		struct sevmig_error err;
		assert_int_equal(
		    sevmig_sender_new(src, g.reg, g.n, thread_sink_write, &ts, &so, &ts.s, &err),
		    0);
		int rc = sevmig_sender_send_all(ts.s, g.ps, &err);
		if (ts.fired) {
			assert_int_equal(rc, -ECANCELED);
		} else {
			/* The guest was smaller than the cancel point: cancel
			 * while idle instead; the next call does it. */
			assert_int_equal(rc, 0);
			sevmig_sender_cancel(ts.s);
			assert_int_equal(sevmig_sender_finish(ts.s, &err), -ECANCELED);
		}
		sevmig_sender_free(ts.s);
		after_cancel(&rng, &g, src, &tt, &ts.out, true);
		free(ts.out.data);
		sevmig_fw_free(src);
		tg_free(&g);
	}
}

/* Freeing an unfinished sender cancels too. */
static void test_cancel_free(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("cancel_free") };
	struct tguest g;
	tg_new(&rng, &g, 2, 100);
	struct sevmig_fw *src = soft_platform(true, 0, 2);
	struct ttarget tt;
	tt_init(&tt);
	const uint8_t *pdh = tt.pdh;
	struct tsink out = { 0 };
	SEVMIG_OPTS(sevmig_sender_opts, so, TS_KEY, .target_pdh = pdh,
		    .target_pdh_len = SEVMIG_CERT_SIZE, .workers = 2);
	struct sevmig_sender *s;
	struct sevmig_error err;
	assert_int_equal(sevmig_sender_new(src, g.reg, g.n, tsink_write, &out, &so, &s, &err), 0);
	assert_int_equal(sevmig_sender_send_all(s, g.ps, &err), 0);
	sevmig_sender_free(s);
	after_cancel(&rng, &g, src, &tt, &out, true);
	free(out.data);
	sevmig_fw_free(src);
	tg_free(&g);
}

/* A write that fails: the error comes back, the guest runs again. */
static void test_write_error(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("write_error") };
	for (unsigned workers = 0; workers <= 2; workers += 2) {
		struct tguest g;
		tg_new(&rng, &g, 2, 200);
		struct sevmig_fw *src = soft_platform(true, 0, 2);
		struct ttarget tt;
		tt_init(&tt);
		const uint8_t *pdh = tt.pdh;
		struct tsink out = { .fail_after = 10000 + tu_below(&rng, 50000) };
		SEVMIG_OPTS(sevmig_sender_opts, so, TS_KEY, .target_pdh = pdh,
			    .target_pdh_len = SEVMIG_CERT_SIZE, .workers = workers,
			    .batch_pages = 8);
		struct sevmig_sender *s;
		struct sevmig_error err;
		assert_int_equal(
		    sevmig_sender_new(src, g.reg, g.n, tsink_write, &out, &so, &s, &err), 0);
		assert_int_equal(sevmig_sender_send_all(s, g.ps, &err), -EPIPE);
		assert_non_null(strstr(err.message, "writing the stream failed"));
		sevmig_sender_free(s);
		/* What did get out is a truncated stream. */
		assert_int_equal(ts_verify(out.data, out.len, NULL, &err, NULL), -ENODATA);
		after_cancel(&rng, &g, src, &tt, &out, false);
		free(out.data);
		sevmig_fw_free(src);
		tg_free(&g);
	}
}

/* ---- the receiver's refusals -------------------------------------------- */

static void make_stream(struct tu_rng *rng, struct tguest *g, struct ttarget *tt, struct tsink *out,
			int zlevel)
{
	tg_new(rng, g, 3, 200);
	struct sevmig_fw *src = soft_platform(true, 0, 2);
	tt_init(tt);
	const uint8_t *pdh = tt->pdh;
	memset(out, 0, sizeof(*out));
	struct sevmig_stream_counts sc = { .sz = sizeof(sc) };
	struct mopt o = { .zlevel = zlevel, .rounds = 1, .flip = true };
	uint8_t vm[4][4096];
	send_guest(rng, g, &o, src, pdh, out, &sc, vm, NULL);
	sevmig_fw_free(src);
}

static void test_header_mismatch(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("header_mismatch") };
	struct tguest g, t;
	struct tsink out;
	struct ttarget tt;
	make_stream(&rng, &g, &tt, &out, 3);
	struct sevmig_error err;

	/* A memslot of another size. */
	tg_target(&g, &t, 0);
	t.reg[t.n - 1].size += 4096; /* the highest one: no overlap */
	assert_int_equal(ts_receive(out.data, out.len, &tt, &t, 0, 1, &err, NULL), -EPROTO);
	assert_non_null(strstr(err.message, "memory layout"));
	t.reg[t.n - 1].size -= 4096;

	/* Another migration's UUID. */
	struct sevmig_fw *fw = tt_new(&tt, 1);
	struct tsrc src = { out.data, out.len, 0, { 0 } };
	uint8_t other[16] = { 9 };
	SEVMIG_OPTS(sevmig_receiver_opts, o, TS_KEY, .expect_uuid = other);
	struct sevmig_receiver *r;
	assert_int_equal(sevmig_receiver_new(fw, t.reg, t.n, tsrc_read, &src, &o, &r, &err), 0);
	assert_int_equal(sevmig_receiver_run(r, &err), -EPROTO);
	assert_non_null(strstr(err.message, "another migration"));
	sevmig_receiver_free(r);
	sevmig_fw_free(fw);

	/* A stream that says it came from AMD firmware, into the model. */
	uint8_t *s = malloc(out.len);
	memcpy(s, out.data, out.len);
	s[16] &= (uint8_t)~SEVMIG_STREAM_FLAG_SOFT;
	ts_restamp(s, out.len, ts_psk, false);
	assert_int_equal(ts_receive(s, out.len, &tt, &t, 0, 1, &err, NULL), -EPROTO);
	assert_non_null(strstr(err.message, "AMD firmware"));
	free(s);

	/* Nothing was written into the target by any of these. */
	for (size_t k = 0; k < t.n; k++)
		for (uint64_t i = 0; i < t.reg[k].size; i++)
			assert_int_equal(((uint8_t *)t.reg[k].host)[i], 0);
	tg_free(&t);
	tg_free(&g);
	free(out.data);
}

/* Dry run: every check, every packet MAC, no guest memory. */
static void test_dry_run(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("dry_run") };
	struct tguest g;
	struct tsink out;
	struct ttarget tt;
	make_stream(&rng, &g, &tt, &out, 1);
	for (int tamper = 0; tamper < 2; tamper++) {
		uint8_t *s = malloc(out.len);
		memcpy(s, out.data, out.len);
		if (tamper) {
			/* One ciphertext byte of the first ENC record, CRCs
			 * made right again: only the packet MAC can tell. */
			size_t off[4096];
			size_t n = ts_records(s, out.len, off, 4096), k = 0;
			while (k < n && sevmig__le16(s + off[k]) != SEVMIG_REC_ENC)
				k++;
			assert_true(k < n);
			uint32_t cnt = sevmig__le32(s + off[k] + 20);
			s[off[k] + 20 + 16 + 8 * cnt + 52 + 7] ^= 0x10;
			ts_restamp(s, out.len, ts_psk, false);
		}
		for (unsigned workers = 0; workers <= 2; workers += 2) {
			struct sevmig_fw *fw = tt_new(&tt, 2);
			struct tsrc src = { s, out.len, 0, { 0 } };
			SEVMIG_OPTS(sevmig_receiver_opts, o, TS_KEY, .dry_run = true,
				    .workers = workers);
			struct sevmig_receiver *r;
			struct sevmig_error err;
			assert_int_equal(
			    sevmig_receiver_new(fw, NULL, 0, tsrc_read, &src, &o, &r, &err), 0);
			int rc = sevmig_receiver_run(r, &err);
			if (!tamper) {
				if (rc)
					fail_msg("dry run: %d %s", rc, err.message);
				assert_true(sevmig_pstate_equal(sevmig_receiver_pstate(r), g.ps));
			} else {
				assert_int_equal(rc, -EIO);
				assert_non_null(strstr(err.message, "BAD_MEASUREMENT"));
			}
			sevmig_receiver_free(r);
			sevmig_fw_free(fw);
		}
		free(s);
	}
	tg_free(&g);
	free(out.data);
}

/* ---- descriptors ----------------------------------------------------------- */

struct pipe_send {
	struct tguest *g;
	struct sevmig_fw *src;
	const uint8_t *pdh;
	int fd;
	int rc;
};

static void *pipe_sender(void *arg)
{
	struct pipe_send *p = arg;
	SEVMIG_OPTS(sevmig_sender_opts, so, TS_KEY, .target_pdh = p->pdh,
		    .target_pdh_len = SEVMIG_CERT_SIZE, .workers = 2, .zstd_level = 1);
	struct sevmig_sender *s;
	struct sevmig_error err;
	p->rc = sevmig_sender_new(p->src, p->g->reg, p->g->n, sevmig_write_fd, SEVMIG_FD_ARG(p->fd),
				  &so, &s, &err);
	if (p->rc == 0)
		p->rc = sevmig_sender_send_all(s, p->g->ps, &err);
	if (p->rc == 0)
		p->rc = sevmig_sender_finish(s, &err);
	sevmig_sender_free(s);
	close(p->fd);
	return NULL;
}

static void test_pipe_nonblocking(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("pipe") };
	struct tguest g, t;
	tg_new(&rng, &g, 3, 400);
	tg_target(&g, &t, 0xcc);
	struct sevmig_fw *src = soft_platform(true, 0, 2);
	struct ttarget tt;
	tt_init(&tt);
	const uint8_t *pdh = tt.pdh;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	/* Non-blocking both ways: EAGAIN is met and waited out. */
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	fcntl(fds[1], F_SETPIPE_SZ, 4096);
	struct pipe_send ps = { &g, src, pdh, fds[1], -1 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, pipe_sender, &ps), 0);
	SEVMIG_OPTS(sevmig_receiver_opts, o, TS_KEY, .workers = 1);
	struct sevmig_receiver *r;
	struct sevmig_error err;
	struct sevmig_fw *tgt = tt_new(&tt, 2);
	assert_int_equal(sevmig_receiver_new(tgt, t.reg, t.n, sevmig_read_fd, SEVMIG_FD_ARG(fds[0]),
					     &o, &r, &err),
			 0);
	int rc = sevmig_receiver_run(r, &err);
	pthread_join(th, NULL);
	assert_int_equal(ps.rc, 0);
	if (rc)
		fail_msg("receive: %d %s", rc, err.message);
	assert_int_equal(tg_diff(&g, &t), UINT64_MAX);
	sevmig_receiver_free(r);
	close(fds[0]);
	sevmig_fw_free(src);
	sevmig_fw_free(tgt);
	tg_free(&g);
	tg_free(&t);
}

/* ---- argument checks ------------------------------------------------------ */

static void test_bad_arguments(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("bad_arguments") };
	struct tguest g;
	tg_new(&rng, &g, 2, 50);
	struct sevmig_fw *src = soft_platform(true, 0, 1);
	uint8_t pdh[SEVMIG_CERT_SIZE];
	tfw_pdh(src, pdh);
	struct tsink out = { 0 };
	struct sevmig_sender *s;
	struct sevmig_error err;
	/* No target certificate. */
	assert_int_equal(sevmig_sender_new(src, g.reg, g.n, tsink_write, &out, NULL, &s, &err),
			 -EINVAL);
	SEVMIG_OPTS(sevmig_sender_opts, so, TS_KEY, .target_pdh = pdh,
		    .target_pdh_len = SEVMIG_CERT_SIZE);
	/* Overlapping regions. */
	struct sevmig_mem_region bad[2] = { g.reg[0], g.reg[0] };
	assert_int_equal(sevmig_sender_new(src, bad, 2, tsink_write, &out, &so, &s, &err), -EINVAL);
	assert_non_null(strstr(err.message, "overlap"));
	/* Unaligned. */
	bad[0].gpa += 1;
	assert_int_equal(sevmig_sender_new(src, bad, 1, tsink_write, &out, &so, &s, &err), -EINVAL);
	so.batch_pages = 5000;
	assert_int_equal(sevmig_sender_new(src, g.reg, g.n, tsink_write, &out, &so, &s, &err),
			 -EINVAL);
	so.batch_pages = 0;
	so.zstd_level = 99;
	assert_int_equal(sevmig_sender_new(src, g.reg, g.n, tsink_write, &out, &so, &s, &err),
			 -EINVAL);
	so.zstd_level = 0;
	/* A page state that does not cover the regions: refused before
	 * SEND_START, nothing written. */
	assert_int_equal(sevmig_sender_new(src, g.reg, 1, tsink_write, &out, &so, &s, &err), 0);
	assert_int_equal(sevmig_sender_send_all(s, g.ps, &err), -EINVAL);
	assert_int_equal(out.len, 0);
	sevmig_sender_free(s);
	assert_int_equal(guest_state(src), SEVMIG_GUEST_RUNNING);
	/* Rounds before the first pass. */
	assert_int_equal(sevmig_sender_new(src, g.reg, g.n, tsink_write, &out, &so, &s, &err), 0);
	assert_int_equal(sevmig_sender_send_dirty(s, g.ps, NULL, &err), -EPROTO);
	assert_int_equal(sevmig_sender_finish(s, &err), -EPROTO);
	sevmig_sender_free(s);
	/* SEND_START refused (a target certificate that is not one). */
	uint8_t junk[SEVMIG_CERT_SIZE] = { 0 };
	so.target_pdh = junk;
	assert_int_equal(sevmig_sender_new(src, g.reg, g.n, tsink_write, &out, &so, &s, &err), 0);
	assert_true(sevmig_sender_send_all(s, g.ps, &err) < 0);
	assert_non_null(strstr(err.message, "SEND_START"));
	assert_int_equal(out.len, 0);
	sevmig_sender_free(s);
	assert_int_equal(guest_state(src), SEVMIG_GUEST_RUNNING);
	sevmig_fw_free(src);
	tg_free(&g);
	free(out.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_single_pass),
		cmocka_unit_test(test_many_rounds_no_flip),
		cmocka_unit_test(test_zeroed_target),
		cmocka_unit_test(test_page_write),
		cmocka_unit_test(test_sev_es),
		cmocka_unit_test(test_split_pstate),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_cancel_progress),
		cmocka_unit_test(test_cancel_thread),
		cmocka_unit_test(test_cancel_free),
		cmocka_unit_test(test_write_error),
		cmocka_unit_test(test_header_mismatch),
		cmocka_unit_test(test_dry_run),
		cmocka_unit_test(test_pipe_nonblocking),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
