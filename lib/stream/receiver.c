/* SPDX-License-Identifier: MIT */
/*
 * The receiver: the key-less reader checks each record in stream order on
 * the caller's thread; only then is the record handed to a worker (or
 * applied inline) through the target's firmware or by writing memory.
 * Records that touch the same pages never run at the same time: a record
 * waits for any earlier one in flight that shares a page with it.
 */
#include "stream/stream_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "fw/fw_caps.h"
#include "util/endian.h"

SEVMIG__OPTS_LAST(struct sevmig_receiver_opts, page_write_arg);

/* NEW: HELLO to send; HEADER, RECORDS: reading; END: END verified, waiting
 * for the commit; DONE: committed; DEAD: failed. */
enum rcv_state { RCV_NEW, RCV_HEADER, RCV_RECORDS, RCV_END, RCV_DONE, RCV_DEAD };

struct rjob {
	struct sevmig__job j;
	struct sevmig_receiver *r;
	uint16_t type;
	uint64_t index, offset;
	uint64_t first, last;	  /* gfn bounds */
	struct sevmig__buf buf;	  /* the record's payload */
	struct sevmig__buf slots; /* its entries' memslots (the reader's) */
	uint32_t len;
	char msg[256];
};

struct rwctx {
	ZSTD_DCtx *dctx;
	uint8_t *scratch; /* decoded PLAIN pages, page-aligned */
	uint8_t *page;	  /* dry run: where packets are decrypted */
	uint8_t *stage;	  /* page_write: an ENC record's pages, decrypted */
	uint32_t staged;  /* the most pages ever decrypted into stage */
};

struct sevmig_receiver {
	struct sevmig_fw *fw;
	struct sevmig_stream_reader *rd;
	struct sevmig__layout layout; /* the caller's regions (or the header's in a dry run) */
	bool have_regions;
	bool authenticated; /* a first record verified: the header is the source's */
	bool dry_run;
	bool zeroed; /* opts.zeroed */
	sevmig_page_write_fn page_write;
	void *page_write_arg;
	bool past_first; /* a ROUND arrived: later passes rewrite pages */
	unsigned workers, window;
	sevmig_vmsa_dest_fn vmsa_dest;
	void *vmsa_arg;
	sevmig_stream_progress_fn progress;
	void *progress_arg;
	sevmig_write_fn back_write;
	void *back_arg;
	uint64_t back_seq;
	int (*commit)(void *arg, struct sevmig_error *err);
	void *commit_arg;
	int (*regions_for)(void *arg, const struct sevmig_stream_header *h,
			   const struct sevmig_mem_region **regions, size_t *nregions);
	void *regions_arg;
	int (*vmm_object)(void *arg, const struct sevmig_vmm_object *obj);
	void *vmm_arg;
	struct sevmig__buf vmm; /* the VMM object being assembled */

	struct sevmig__pool *pool;
	struct rjob *jobs;
	struct rwctx *wctx;
	unsigned nwctx;

	atomic_int cancel;
	enum rcv_state state;
	int dead_rc;
	struct sevmig_error fail;

	struct sevmig_stream_header h;
	uint8_t end_tag[SM_TAG];
	uint64_t end_index;
	bool vmm_ready; /* the object in `vmm` is whole */

	/* Sans-I/O: a unit (header or record) in pieces, and the caller's
	 * bytes during a push; the back-channel queue. */
	bool push;
	struct sevmig__queue in;
	const uint8_t *chunk;
	size_t chunk_len, chunk_pos;
	bool queue_back;
	struct sevmig__queue out;
};

#define RCVFAIL(r, rc_, idx, off, ...) \
	SEVMIG__FIRST_FAIL(&(r)->fail, (rc_), (off), (idx), __VA_ARGS__)

/* ---- applying records ----------------------------------------------------- */

/* Page-aligned memory (the page_write callback's data, for O_DIRECT). */
static void *page_alloc(size_t n)
{
	void *p;
	return posix_memalign(&p, SM_PAGE, n) ? NULL : p;
}

/* Pages [gfn, gfn + n) of layout slot `slot` through the page_write
 * callback (data NULL: zeros). */
static int write_out(struct rjob *j, uint32_t slot, uint64_t gfn, uint64_t n, const uint8_t *data)
{
	struct sevmig_receiver *r = j->r;
	const struct sevmig__slot *s = &r->layout.slots[slot];
	uint64_t off = (gfn - s->gfn) << SEVMIG_PAGE_SHIFT;
	int rc = r->page_write(r->page_write_arg, s->user_idx, off, data,
			       (size_t)(n << SEVMIG_PAGE_SHIFT));
	if (rc < 0) {
		/* The caller's errno, from its I/O: its own text, not the
		 * library's reading of the code (-EIO: a firmware refusal). */
		char why[96];
		sevmig__msg(
		    j->msg, sizeof(j->msg),
		    "record %" PRIu64 " at byte %" PRIu64 ": writing gfns 0x%" PRIx64 "-0x%" PRIx64
		    " (bytes %" PRIu64 "-%" PRIu64 " of region %zu) failed: %s",
		    j->index, j->offset, gfn, gfn + n - 1, off, off + (n << SEVMIG_PAGE_SHIFT),
		    s->user_idx, strerror_r(-rc, why, sizeof(why)));
	}
	return rc < 0 ? rc : 0;
}

/* Runs of consecutive gfns in one slot among n pages, page i of which is
 * at data + i pages: one write each. */
static int write_runs(struct rjob *j, uint32_t n, const uint32_t *slot, const uint8_t *data,
		      uint64_t (*gfn_of)(const uint8_t *, uint32_t))
{
	const uint8_t *p = j->buf.data;
	for (uint32_t i = 0, k; i < n; i = k) {
		uint64_t gfn = gfn_of(p, i);
		for (k = i + 1; k < n && slot[k] == slot[i] && gfn_of(p, k) == gfn + (k - i); k++)
			;
		SEVMIG__TRY(write_out(j, slot[i], gfn, k - i, data + (size_t)i * SM_PAGE));
	}
	return 0;
}

static int apply_enc(struct rjob *j, struct rwctx *w)
{
	struct sevmig_receiver *r = j->r;
	const uint8_t *p = j->buf.data;
	const uint32_t *slot = (const uint32_t *)(const void *)j->slots.data;
	uint32_t n = sevmig__enc_count(p);
	if (n > w->staged)
		w->staged = n; /* what the free wipes: the pages touched, not all */
	for (uint32_t i = 0; i < n; i++) {
		if ((i & 15) == 0 && sevmig__pool_stopping(r->pool))
			return -ECANCELED;
		const uint8_t *pkt = sevmig__enc_packet(p, n, i);
		uint64_t gfn = sevmig__enc_gfn(p, i);
		void *dst = w->page;
		if (r->page_write && !r->dry_run)
			dst = w->stage + (size_t)i * SM_PAGE;
		else if (!r->dry_run)
			dst = sevmig__layout_host(&r->layout, slot[i], gfn);
		struct sevmig_fw_receive_update u = {
			.guest = dst,
			.guest_len = SM_PAGE,
			.hdr = pkt,
			.hdr_len = SM_PKT_HDR,
			.trans = pkt + SM_PKT_HDR,
			.trans_len = SM_PAGE,
		};
		uint32_t st = SEVMIG_FW_STATUS_NONE;
		int rc = sevmig_fw_receive_update_data(r->fw, &u, &st);
		if (rc < 0) {
			sevmig__msg(
			    j->msg, sizeof(j->msg),
			    "record %" PRIu64 " (ENC) at byte %" PRIu64 ": packet %u for gfn "
			    "0x%" PRIx64 " refused by RECEIVE_UPDATE_DATA: %s (firmware status "
			    "%s)",
			    j->index, j->offset, i, gfn, sevmig_strerror(rc),
			    sevmig_fw_status_name(st));
			return rc;
		}
	}
	if (r->page_write && !r->dry_run)
		return write_runs(j, n, slot, w->stage, sevmig__enc_gfn);
	return 0;
}

static int apply_plain(struct rjob *j, struct rwctx *w)
{
	struct sevmig_receiver *r = j->r;
	const uint8_t *p = j->buf.data;
	uint32_t n = sevmig__plain_count(p), codec = sevmig__plain_codec(p);
	uint32_t d = sevmig__plain_dlen(p);
	const uint8_t *data = sevmig__plain_data(p, n);
	size_t raw = (size_t)n * SM_PAGE;
	if (codec == SEVMIG_CODEC_ZSTD) {
		if (!w->dctx)
			w->dctx = ZSTD_createDCtx();
		if (!w->scratch)
			w->scratch = page_alloc((size_t)SEVMIG_STREAM_MAX_BATCH * SM_PAGE);
		if (!w->dctx || !w->scratch)
			return -ENOMEM;
		char msg[160];
		/* Decode all of it before any page is written. */
		if (sevmig__plain_decode(w->dctx, data, d, w->scratch, raw, msg, sizeof(msg))) {
			sevmig__msg(j->msg, sizeof(j->msg),
				    "record %" PRIu64 " (PLAIN) at byte %" PRIu64 ": %s", j->index,
				    j->offset, msg);
			return -EBADMSG;
		}
		data = w->scratch;
	}
	if (r->dry_run)
		return 0;
	/* Runs of consecutive gfns in one memslot are one copy each. */
	const uint32_t *slot = (const uint32_t *)(const void *)j->slots.data;
	if (r->page_write) {
		if (codec != SEVMIG_CODEC_ZSTD) { /* the record's bytes are not page-aligned */
			if (!w->scratch)
				w->scratch = page_alloc((size_t)SEVMIG_STREAM_MAX_BATCH * SM_PAGE);
			if (!w->scratch)
				return -ENOMEM;
			memcpy(w->scratch, data, raw);
			data = w->scratch;
		}
		return write_runs(j, n, slot, data, sevmig__plain_gfn);
	}
	for (uint32_t i = 0, k; i < n; i = k) {
		uint64_t gfn = sevmig__plain_gfn(p, i);
		for (k = i + 1;
		     k < n && slot[k] == slot[i] && sevmig__plain_gfn(p, k) == gfn + (k - i); k++)
			;
		sevmig__guest_write(sevmig__layout_host(&r->layout, slot[i], gfn),
				    data + (size_t)i * SM_PAGE, (size_t)(k - i) * SM_PAGE);
	}
	sevmig__guest_write_done();
	return 0;
}

static int apply_zero(struct rjob *j)
{
	struct sevmig_receiver *r = j->r;
	if (r->dry_run)
		return 0;
	const uint8_t *p = j->buf.data;
	const uint32_t *slot = (const uint32_t *)(const void *)j->slots.data;
	uint32_t n = sevmig__zero_runs(p);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t gfn, np;
		sevmig__zero_run(p, i, &gfn, &np);
		if (r->page_write) {
			SEVMIG__TRY(write_out(j, slot[i], gfn, np, NULL));
			continue;
		}
		sevmig__guest_write(sevmig__layout_host(&r->layout, slot[i], gfn), NULL,
				    np << SEVMIG_PAGE_SHIFT);
	}
	sevmig__guest_write_done();
	return 0;
}

static int run_job(struct sevmig__job *job, unsigned worker)
{
	struct rjob *j = (struct rjob *)job;
	struct rwctx *w = &j->r->wctx[worker];
	switch (j->type) {
	case SEVMIG_REC_ENC:
		return apply_enc(j, w);
	case SEVMIG_REC_PLAIN:
		return apply_plain(j, w);
	default:
		return apply_zero(j);
	}
}

/* ---- page ranges of in-flight records --------------------------------- */

struct rit {
	uint16_t type;
	const uint8_t *p;
	uint32_t n, i;
};

static void rit_init(struct rit *it, uint16_t type, const uint8_t *payload)
{
	it->type = type;
	it->p = payload;
	it->n = type == SEVMIG_REC_ZERO	 ? sevmig__zero_runs(payload)
		: type == SEVMIG_REC_ENC ? sevmig__enc_count(payload)
					 : sevmig__plain_count(payload);
	it->i = 0;
}

static bool rit_get(const struct rit *it, uint64_t *a, uint64_t *b)
{
	if (it->i >= it->n)
		return false;
	if (it->type == SEVMIG_REC_ZERO) {
		uint64_t n;
		sevmig__zero_run(it->p, it->i, a, &n);
		*b = *a + n;
	} else {
		*a = it->type == SEVMIG_REC_ENC ? sevmig__enc_gfn(it->p, it->i)
						: sevmig__plain_gfn(it->p, it->i);
		*b = *a + 1;
	}
	return true;
}

/* Whether two checked records (sorted page lists) share a page. */
static bool share_page(uint16_t ta, const uint8_t *pa, uint16_t tb, const uint8_t *pb)
{
	struct rit x, y;
	rit_init(&x, ta, pa);
	rit_init(&y, tb, pb);
	uint64_t xa, xb, ya, yb;
	while (rit_get(&x, &xa, &xb) && rit_get(&y, &ya, &yb)) {
		if (xa < yb && ya < xb)
			return true;
		if (xb <= yb)
			x.i++;
		else
			y.i++;
	}
	return false;
}

/* ---- the loop ---------------------------------------------------------------- */

/* A finished record (the pool's retire callback): its failure, if any,
 * named with the record. */
static int retire_job(void *arg, struct sevmig__job *job)
{
	struct sevmig_receiver *r = arg;
	struct rjob *j = (struct rjob *)job;
	int rc = j->j.rc;
	if (rc < 0)
		RCVFAIL(r, rc, j->index, j->offset, "%s", j->msg[0] ? j->msg : sevmig_strerror(rc));
	return rc;
}

static int dispatch(struct sevmig_receiver *r, const struct sevmig_record_info *info)
{
	while (!sevmig__pool_free_count(r->pool))
		SEVMIG__TRY(sevmig__pool_retire_oldest(r->pool));
	/* Wait until no record in flight shares a page with this one. */
	for (unsigned i = 0; i < sevmig__pool_inflight(r->pool);) {
		struct rjob *o = (struct rjob *)sevmig__pool_peek(r->pool, i);
		if (o->first <= info->last_gfn && info->first_gfn <= o->last &&
		    share_page(o->type, o->buf.data, info->type, info->payload)) {
			SEVMIG__TRY(sevmig__pool_retire_oldest(r->pool));
			i = 0;
			continue;
		}
		i++;
	}
	struct rjob *j = (struct rjob *)sevmig__pool_get(r->pool);
	j->type = info->type;
	j->index = info->index;
	j->offset = info->offset;
	j->first = info->first_gfn;
	j->last = info->last_gfn;
	j->len = info->length;
	j->msg[0] = 0;
	j->j.needs_fw = info->type == SEVMIG_REC_ENC;
	sevmig__reader_swap_payload(r->rd, &j->buf, &j->slots);
	sevmig__pool_submit(r->pool, &j->j);
	return 0;
}

static int on_session(struct sevmig_receiver *r, const struct sevmig_record_info *info)
{
	const uint8_t *p = info->payload;
	uint32_t pl = sevmig__le32(p + 4), cl = sevmig__le32(p + 8), sl = sevmig__le32(p + 12);
	struct sevmig_fw_receive_start rs = {
		.policy = info->policy,
		.pdh_cert = p + SM_SESSION_FIXED,
		.pdh_cert_len = pl,
		.session = p + SM_SESSION_FIXED + pl + cl,
		.session_len = sl,
	};
	uint32_t st = SEVMIG_FW_STATUS_NONE;
	int rc = sevmig_fw_receive_start(r->fw, &rs, &st);
	if (rc < 0)
		return RCVFAIL(r, rc, info->index, info->offset,
			       "record %" PRIu64 " (SESSION) at byte %" PRIu64
			       ": RECEIVE_START refused the session: %s",
			       info->index, info->offset, sevmig_fw_last_error(r->fw));
	return 0;
}

static int on_vmsa(struct sevmig_receiver *r, const struct sevmig_record_info *info)
{
	SEVMIG__TRY(sevmig__pool_retire_all(r->pool));
	const uint8_t *p = info->payload;
	void *dst = r->wctx[0].page;
	if (!r->dry_run) {
		if (!r->vmsa_dest)
			return RCVFAIL(r, -EPROTO, info->index, info->offset,
				       "record %" PRIu64 " (VMSA) at byte %" PRIu64
				       ": the stream carries vCPU state but the receiver has no "
				       "vmsa_dest",
				       info->index, info->offset);
		dst = NULL;
		int rc = r->vmsa_dest(r->vmsa_arg, info->vcpu, &dst);
		if (rc < 0)
			return RCVFAIL(r, rc, info->index, info->offset,
				       "record %" PRIu64 " (VMSA): no destination for vCPU %u",
				       info->index, info->vcpu);
	}
	struct sevmig_fw_receive_update u = {
		.guest = dst,
		.guest_len = SEVMIG_VMSA_SIZE,
		.hdr = sevmig__vmsa_packet(p),
		.hdr_len = SM_PKT_HDR,
		.trans = sevmig__vmsa_packet(p) + SM_PKT_HDR,
		.trans_len = SM_PAGE,
	};
	uint32_t st = SEVMIG_FW_STATUS_NONE;
	int rc = sevmig_fw_receive_update_vmsa(r->fw, info->vcpu, &u, &st);
	if (rc < 0)
		return RCVFAIL(r, rc, info->index, info->offset,
			       "record %" PRIu64 " (VMSA) at byte %" PRIu64
			       ": RECEIVE_UPDATE_VMSA of vCPU %u refused: %s",
			       info->index, info->offset, info->vcpu, sevmig_fw_last_error(r->fw));
	return 0;
}

/* A VMM chunk; on the object's last, the object is whole (an event), once
 * every record before it has been applied. */
static int on_vmm(struct sevmig_receiver *r, const struct sevmig_record_info *info)
{
	size_t n = info->length - SM_VMM_FIXED;
	if (info->vmm_offset == 0)
		r->vmm.len = 0;
	/* The reader checked that the chunks add up to at most
	 * SEVMIG_VMM_MAX_SIZE; the buffer grows with what arrived. */
	if (sevmig__buf_append(&r->vmm, (const uint8_t *)info->payload + SM_VMM_FIXED, n) < 0)
		return RCVFAIL(r, -ENOMEM, info->index, info->offset, "out of memory");
	if (!info->vmm_last)
		return 0;
	SEVMIG__TRY(sevmig__pool_retire_all(r->pool));
	r->vmm_ready = true;
	return 0;
}

/* The header against this receiver: layout and firmware kind. */
static int check_header(struct sevmig_receiver *r, const struct sevmig_stream_header *h)
{
	if (!r->have_regions && r->regions_for) {
		const struct sevmig_mem_region *reg = NULL;
		size_t n = 0;
		int rc = r->regions_for(r->regions_arg, h, &reg, &n);
		if (rc < 0)
			return RCVFAIL(r, rc, 0, SEVMIG_NO_OFFSET,
				       "no guest memory for the stream's layout: %s",
				       sevmig_strerror(rc));
		rc = sevmig__layout_from_regions(reg, n, !r->page_write, &r->layout, &r->fail);
		if (rc < 0)
			return rc;
		r->have_regions = true;
	}
	if (!r->have_regions) {
		int rc = sevmig__layout_from_ranges(h->slots, h->nslots, &r->layout);
		if (rc < 0)
			return RCVFAIL(r, rc, 0, 0, "out of memory");
	} else {
		size_t n = r->layout.n < h->nslots ? r->layout.n : h->nslots;
		for (size_t i = 0; i <= n; i++) {
			if (i == n && r->layout.n == h->nslots)
				break;
			if (i < n && r->layout.slots[i].gfn == h->slots[i].gfn &&
			    r->layout.slots[i].npages == h->slots[i].npages)
				continue;
			return RCVFAIL(
			    r, -EPROTO, 0, SM_HDR_FIXED + 16 * i,
			    "the stream's memory layout (%u memslots) does not match the "
			    "receiver's regions (%zu): they first differ at memslot %zu",
			    h->nslots, r->layout.n, i);
		}
	}
	struct sevmig_fw_platform_status ps;
	uint32_t st;
	int rc = sevmig_fw_platform_status(r->fw, &ps, &st);
	if (rc < 0)
		return RCVFAIL(r, rc, 0, 0, "PLATFORM_STATUS failed: %s",
			       sevmig_fw_last_error(r->fw));
	bool soft = h->flags & SEVMIG_STREAM_FLAG_SOFT;
	if (soft != ps.soft)
		return RCVFAIL(r, -EPROTO, 0, 16,
			       soft ? "the stream was produced by the software firmware model; "
				      "this receiver's firmware is AMD firmware and refuses it"
				    : "the stream comes from AMD firmware; this receiver uses the "
				      "software model and cannot take it");
	return 0;
}

/* ---- the back-channel ------------------------------------------------------ */

static int back_send(struct sevmig_receiver *r, struct sevmig__back_msg *m)
{
	uint8_t buf[SM_BACK_OVERHEAD + SM_BACK_MAX];
	m->seq = r->back_seq;
	int n = sevmig__back_encode(sevmig__reader_auth(r->rd), m, buf);
	if (n < 0)
		return RCVFAIL(r, n, 0, SEVMIG_NO_OFFSET, "encoding a back-channel message failed");
	int rc = r->back_write(r->back_arg, buf, (size_t)n);
	if (rc < 0)
		return RCVFAIL(r, rc, 0, SEVMIG_NO_OFFSET,
			       "writing to the source's back-channel failed: %s",
			       sevmig_strerror(rc));
	r->back_seq++;
	return 0;
}

static int send_ack(struct sevmig_receiver *r)
{
	if (!r->back_write)
		return 0;
	struct sevmig_stream_counts c = { .sz = sizeof(c) };
	sevmig_stream_reader_counts(r->rd, &c);
	struct sevmig__back_msg m = { .type = SEVMIG_BACK_ACK };
	m.records = c.records;
	m.pages = c.enc_pages + c.plain_pages + c.zero_pages;
	m.round = c.rounds;
	return back_send(r, &m);
}

/* Tell the source why (best effort: the run has failed already). Before
 * the keys exist (a header refused) nothing can be said that the source
 * could trust, and nothing is sent. */
static void send_nak(struct sevmig_receiver *r)
{
	if (!r->back_write || !r->back_seq || !sevmig__reader_auth(r->rd))
		return;
	struct sevmig__back_msg m = { .type = SEVMIG_BACK_NAK };
	m.code = (uint32_t)(r->fail.code < 0 ? -r->fail.code : EPROTO);
	snprintf(m.msg, sizeof(m.msg), "%s", r->fail.message);
	struct sevmig_error keep = r->fail;
	(void)back_send(r, &m);
	r->fail = keep;
}

static int send_hello(struct sevmig_receiver *r)
{
	if (!r->back_write)
		return 0;
	/* A fresh nonce the header must echo: a recorded stream cannot be
	 * replayed to this receiver. */
	struct sevmig__back_msg m = { .type = SEVMIG_BACK_HELLO };
	if (RAND_bytes(m.nonce, 16) != 1)
		return RCVFAIL(r, -EIO, 0, SEVMIG_NO_OFFSET, "the random generator failed");
	sevmig__reader_expect_nonce(r->rd, m.nonce);
	return back_send(r, &m);
}

static void event(struct sevmig_receiver *r, struct sevmig_recv_event *ev, uint32_t type,
		  uint64_t round)
{
	ev->type = type;
	ev->round = round;
	ev->counts.sz = sizeof(ev->counts);
	sevmig_stream_reader_counts(r->rd, &ev->counts);
}

/*
 * The engine: one step (HELLO, the header, or one record), and the event it
 * makes (ev->type stays NONE when there is none). The reader pulls the
 * step's bytes from the read callback, or, sans-I/O, from what
 * sevmig_receiver_push() has gathered (a whole unit).
 */
static int step(struct sevmig_receiver *r, struct sevmig_recv_event *ev)
{
	switch (r->state) {
	case RCV_NEW:
		SEVMIG__TRY(send_hello(r));
		r->state = RCV_HEADER;
		return 0;
	case RCV_HEADER:
		SEVMIG__TRY(sevmig_stream_reader_header(r->rd, &r->h, &r->fail));
		r->state = RCV_RECORDS;
		return 0;
	case RCV_RECORDS:
		break;
	default:
		return 0;
	}
	if (atomic_load(&r->cancel))
		return RCVFAIL(r, -ECANCELED, 0, SEVMIG_NO_OFFSET, "cancelled");
	struct sevmig_record_info info = { .sz = sizeof(info) };
	bool had_pstate = sevmig__reader_pstate_complete(r->rd);
	int rc = sevmig_stream_reader_next(r->rd, &info, &r->fail);
	if (rc < 0)
		return rc;
	if (rc == 0) /* not reached: END stops the loop */
		return RCVFAIL(r, -EPROTO, 0, SEVMIG_NO_OFFSET, "the stream ended without END");
	/* The keys are derived from the whole header, so the first record's
	 * tag is what authenticates it: nothing the header says (the layout
	 * the caller allocates for) is acted on before that. */
	if (!r->authenticated) {
		SEVMIG__TRY(check_header(r, &r->h));
		r->authenticated = true;
	}
	switch (info.type) {
	case SEVMIG_REC_SESSION:
		rc = on_session(r, &info);
		if (rc == 0)
			event(r, ev, SEVMIG_RECV_SESSION, 0);
		break;
	case SEVMIG_REC_PSTATE:
		if (!had_pstate && sevmig__reader_pstate_complete(r->rd))
			event(r, ev, SEVMIG_RECV_PSTATE, 0);
		break;
	case SEVMIG_REC_ENC:
	case SEVMIG_REC_PLAIN:
	case SEVMIG_REC_ZERO:
		/* Zeros over memory known to be zero: nothing to write, and
		 * nothing in flight can touch these pages (each page comes once
		 * in the first pass). */
		if (info.type == SEVMIG_REC_ZERO && r->zeroed && !r->past_first)
			break;
		rc = dispatch(r, &info);
		break;
	case SEVMIG_REC_VMSA:
		rc = on_vmsa(r, &info);
		break;
	case SEVMIG_REC_VMM:
		rc = on_vmm(r, &info);
		if (rc == 0 && r->vmm_ready) {
			r->vmm_ready = false;
			event(r, ev, SEVMIG_RECV_VMM, 0);
			ev->round = ev->counts.rounds;
			ev->vmm =
			    (struct sevmig_vmm_object){ .vendor = info.vmm_vendor,
							.type = info.vmm_type,
							/* never NULL, even empty */
							.data = r->vmm.data ? r->vmm.data
									    : (const void *)"",
							.len = r->vmm.len,
							.round = ev->counts.rounds };
		}
		break;
	case SEVMIG_REC_ROUND:
		r->past_first = true;
		rc = sevmig__pool_retire_all(r->pool);
		if (rc == 0)
			rc = send_ack(r);
		if (rc == 0)
			event(r, ev, SEVMIG_RECV_ROUND, info.round);
		break;
	case SEVMIG_REC_END: {
		rc = sevmig__pool_retire_all(r->pool);
		memcpy(r->end_tag, info.tag, sizeof(r->end_tag));
		r->end_index = info.index;
		uint32_t st;
		if (rc == 0 && (rc = sevmig_fw_receive_finish(r->fw, &st)) < 0)
			return RCVFAIL(r, rc, 0, SEVMIG_NO_OFFSET, "RECEIVE_FINISH failed: %s",
				       sevmig_fw_last_error(r->fw));
		if (rc == 0) {
			r->state = RCV_END;
			event(r, ev, SEVMIG_RECV_END, 0);
		}
		break;
	}
	default:
		break;
	}
	if (rc < 0)
		return rc;
	if (r->progress) {
		struct sevmig_stream_counts c = { .sz = sizeof(c) };
		sevmig_stream_reader_counts(r->rd, &c);
		if (r->progress(r->progress_arg, &c))
			sevmig_receiver_cancel(r);
	}
	return 0;
}

/* The receiver failed with rc: the workers finish the records checked
 * before the failure (nothing may write after we return; a cancel has told
 * them to stop early), and the source gets a NAK. */
static int die(struct sevmig_receiver *r, int rc, struct sevmig_error *err)
{
	if (r->state != RCV_DEAD) {
		sevmig__pool_discard(r->pool);
		if (!r->fail.code)
			sevmig__fail(&r->fail, rc, SEVMIG_NO_OFFSET, 0, "%s", sevmig_strerror(rc));
		send_nak(r);
		r->state = RCV_DEAD;
		r->dead_rc = rc;
	}
	if (err)
		*err = r->fail;
	return r->dead_rc;
}

static int commit(struct sevmig_receiver *r)
{
	if (r->back_write) {
		struct sevmig__back_msg m = { .type = SEVMIG_BACK_COMMIT };
		m.records = r->end_index;
		memcpy(m.end_tag, r->end_tag, SM_TAG);
		SEVMIG__TRY(back_send(r, &m));
	}
	r->state = RCV_DONE;
	return 0;
}

/* The blocking run: the engine's steps, its events given to the callbacks. */
static int run(struct sevmig_receiver *r)
{
	for (;;) {
		struct sevmig_recv_event ev = { .type = SEVMIG_RECV_NONE };
		SEVMIG__TRY(step(r, &ev));
		if (ev.type == SEVMIG_RECV_VMM) {
			if (!r->vmm_object)
				return RCVFAIL(r, -EPROTO, ev.counts.records - 1, SEVMIG_NO_OFFSET,
					       "record %" PRIu64 " (VMM): the stream carries VMM "
					       "state (vendor 0x%08x type %u) but the receiver has "
					       "no vmm_object callback",
					       ev.counts.records - 1, ev.vmm.vendor, ev.vmm.type);
			int rc = r->vmm_object(r->vmm_arg, &ev.vmm);
			if (rc < 0)
				return RCVFAIL(r, rc, ev.counts.records - 1, SEVMIG_NO_OFFSET,
					       "record %" PRIu64 " (VMM): the caller refused VMM "
					       "object vendor 0x%08x type %u: %s",
					       ev.counts.records - 1, ev.vmm.vendor, ev.vmm.type,
					       sevmig_strerror(rc));
		}
		if (ev.type != SEVMIG_RECV_END)
			continue;
		/* A one-way stream must end at END (unless trailing data is
		 * allowed): the reader's next call checks. */
		struct sevmig_record_info info = { .sz = sizeof(info) };
		int rc = sevmig_stream_reader_next(r->rd, &info, &r->fail);
		if (rc < 0)
			return rc;
		if (r->commit) {
			struct sevmig_error ce;
			sevmig_error_clear(&ce);
			rc = r->commit(r->commit_arg, &ce);
			if (rc < 0)
				return RCVFAIL(r, rc, 0, SEVMIG_NO_OFFSET,
					       "committing the outputs failed: %s",
					       ce.message[0] ? ce.message : sevmig_strerror(rc));
		}
		return commit(r);
	}
}

int sevmig_receiver_run(struct sevmig_receiver *r, struct sevmig_error *err)
{
	if (r->state == RCV_DONE)
		return 0;
	if (r->state == RCV_DEAD) {
		if (err)
			*err = r->fail;
		return r->dead_rc;
	}
	if (r->push)
		return sevmig__fail(err, -EPROTO, SEVMIG_NO_OFFSET, 0,
				    "a sans-I/O receiver takes its input through "
				    "sevmig_receiver_push()");
	sevmig_error_clear(&r->fail);
	int rc = run(r);
	return rc < 0 ? die(r, rc, err) : 0;
}

/* ---- sans-I/O ---------------------------------------------------------------- */

/* The reader's input when pushed: the unit gathered in `in`, then the
 * caller's bytes. */
static ptrdiff_t push_read(void *arg, void *buf, size_t len)
{
	struct sevmig_receiver *r = arg;
	size_t n = 0;
	if (sevmig__queue_pending(&r->in)) {
		n = sevmig__queue_take(&r->in, buf, len);
	} else if (r->chunk_pos < r->chunk_len) {
		n = r->chunk_len - r->chunk_pos < len ? r->chunk_len - r->chunk_pos : len;
		memcpy(buf, r->chunk + r->chunk_pos, n);
		r->chunk_pos += n;
	}
	return (ptrdiff_t)n;
}

/* Sans-I/O with worker threads: whether the next record (whose header is
 * at hdr) would have to wait for them: a page record for a free job, any
 * other for all of them (its effects follow every record before it). */
static int workers_busy(struct sevmig_receiver *r, const uint8_t *hdr, bool *busy)
{
	*busy = false;
	if (!r->workers || r->state != RCV_RECORDS)
		return 0;
	SEVMIG__TRY(sevmig__pool_retire_done(r->pool));
	*busy = sevmig__rec_carries_pages(sevmig__rec_type(hdr))
		    ? !sevmig__pool_free_count(r->pool)
		    : sevmig__pool_inflight(r->pool) > 0;
	return 0;
}

/* Whether the next unit is all here (in `in`, or in the caller's bytes,
 * read from there without a copy); what is not enough is moved to `in`. */
static int unit_ready(struct sevmig_receiver *r, bool *ready)
{
	size_t avail = r->chunk_len - r->chunk_pos;
	if (!sevmig__queue_pending(&r->in)) {
		size_t need = sevmig__reader_next_size(r->rd, r->chunk + r->chunk_pos, avail);
		*ready = avail >= need;
		if (*ready || !avail)
			return 0;
	}
	for (;;) {
		size_t have = sevmig__queue_pending(&r->in);
		size_t need = sevmig__reader_next_size(r->rd, sevmig__queue_front(&r->in), have);
		if (have >= need) {
			*ready = true;
			return 0;
		}
		size_t n = need - have < avail ? need - have : avail;
		if (!n) {
			*ready = false;
			return 0;
		}
		if (sevmig__queue_push(&r->in, r->chunk + r->chunk_pos, n) < 0)
			return RCVFAIL(r, -ENOMEM, 0, SEVMIG_NO_OFFSET, "out of memory");
		r->chunk_pos += n;
		avail -= n;
	}
}

int sevmig_receiver_push(struct sevmig_receiver *r, const void *buf, size_t len, size_t *consumed,
			 struct sevmig_recv_event *ev, struct sevmig_error *err)
{
	if (consumed)
		*consumed = 0;
	if (!r || !r->push || !ev || ev->sz < offsetof(struct sevmig_recv_event, round) ||
	    (!buf && len))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "push: a sans-I/O receiver, an event to fill and the bytes");
	struct sevmig_recv_event e = { .type = SEVMIG_RECV_NONE };
	if (r->state == RCV_DEAD)
		return die(r, r->dead_rc, err);
	sevmig_error_clear(&r->fail);
	bool eof = !buf;
	r->chunk = buf;
	r->chunk_len = len;
	r->chunk_pos = 0;
	int rc = 0;
	while (rc == 0 && e.type == SEVMIG_RECV_NONE && r->state < RCV_END) {
		if (r->state != RCV_NEW) {
			bool ready, busy;
			size_t at = r->chunk_pos;
			rc = unit_ready(r, &ready);
			if (rc < 0 || (!ready && !eof))
				break;
			const uint8_t *hdr = sevmig__queue_pending(&r->in)
						 ? sevmig__queue_front(&r->in)
						 : r->chunk + r->chunk_pos;
			if (ready && (rc = workers_busy(r, hdr, &busy)) == 0 && busy) {
				/* Not a byte more until the workers caught up: what
				 * this call added to the gathered unit goes back to
				 * the caller (*consumed < len says so), who polls
				 * sevmig_receiver_fd() and pushes it again. */
				sevmig__queue_unpush(&r->in, r->chunk_pos - at);
				r->chunk_pos = at;
				break;
			}
			if (rc < 0)
				break;
		}
		rc = step(r, &e);
	}
	if (consumed)
		*consumed = r->chunk_pos;
	r->chunk = NULL;
	r->chunk_len = r->chunk_pos = 0;
	if (rc < 0)
		return die(r, rc, err);
	sevmig__out_fill(ev, &e, sizeof(e));
	return e.type != SEVMIG_RECV_NONE;
}

int sevmig_receiver_commit(struct sevmig_receiver *r, struct sevmig_error *err)
{
	if (!r || r->state != RCV_END)
		return sevmig__fail(err, -EPROTO, SEVMIG_NO_OFFSET, 0,
				    "commit: only after SEVMIG_RECV_END");
	int rc = commit(r);
	return rc < 0 ? die(r, rc, err) : 0;
}

int sevmig_receiver_refuse(struct sevmig_receiver *r, int code, const char *reason)
{
	if (!r)
		return -EINVAL;
	if (r->state == RCV_DEAD)
		return r->dead_rc;
	if (r->state == RCV_DONE)
		return -EPROTO; /* COMMIT is out: too late to take it back */
	if (code >= 0)
		code = -EPROTO;
	RCVFAIL(r, code, 0, SEVMIG_NO_OFFSET, "the target refused the migration: %s",
		reason ? reason : sevmig_strerror(code));
	return die(r, code, NULL);
}

/* back_write when buffered: the queue. */
static int queue_write(void *arg, const void *buf, size_t len)
{
	struct sevmig_receiver *r = arg;
	return sevmig__queue_push(&r->out, buf, len);
}

size_t sevmig_receiver_output(struct sevmig_receiver *r, void *buf, size_t cap)
{
	return r && buf ? sevmig__queue_take(&r->out, buf, cap) : 0;
}

int sevmig_receiver_fd(struct sevmig_receiver *r)
{
	return r ? sevmig__pool_fd(r->pool) : -EINVAL;
}

size_t sevmig_receiver_output_pending(const struct sevmig_receiver *r)
{
	return r ? sevmig__queue_pending(&r->out) : 0;
}

void sevmig_receiver_cancel(struct sevmig_receiver *r)
{
	if (!r)
		return;
	atomic_store(&r->cancel, 1);
	sevmig__pool_stop(r->pool);
}

const struct sevmig_pstate *sevmig_receiver_pstate(const struct sevmig_receiver *r)
{
	return sevmig_stream_reader_pstate(r->rd);
}

void sevmig_receiver_counts(const struct sevmig_receiver *r, struct sevmig_stream_counts *c)
{
	sevmig_stream_reader_counts(r->rd, c);
}

bool sevmig_receiver_authenticated(const struct sevmig_receiver *r)
{
	return r && r->authenticated;
}

int sevmig_receiver_header(const struct sevmig_receiver *r, struct sevmig_stream_header *hdr)
{
	if (!sevmig_stream_reader_pstate(r->rd))
		return -ENODATA;
	/* The header was read: asking again does not read. */
	return sevmig_stream_reader_header(r->rd, hdr, NULL);
}

int sevmig_receiver_new(struct sevmig_fw *fw, const struct sevmig_mem_region *regions,
			size_t nregions, sevmig_read_fn read, void *read_arg,
			const struct sevmig_receiver_opts *opts, struct sevmig_receiver **out,
			struct sevmig_error *err)
{
	if (!fw || !out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "a firmware handle and a result are required");
	if (!SEVMIG__OPTS_VALID(opts, struct sevmig_receiver_opts, page_write_arg))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "receiver options: bad size or non-zero unknown fields");
	bool dry = SEVMIG__OPT(opts, dry_run, false);
	unsigned workers = SEVMIG__OPT(opts, workers, 0u);
	unsigned window = SEVMIG__OPT(opts, window, 0u);
	if (workers > SM_MAX_WINDOW || window > SM_MAX_WINDOW)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "workers and window are limited to %u", SM_MAX_WINDOW);
	if (!regions && !dry && !SEVMIG__OPT(opts, regions_for, NULL))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "guest memory regions (or regions_for) are required, except in "
				    "a dry run");
	sevmig_page_write_fn page_write = SEVMIG__OPT(opts, page_write, NULL);
	if (page_write && sevmig__fw_in_place(fw))
		return sevmig__fail(
		    err, -EINVAL, SEVMIG_NO_OFFSET, 0,
		    "page_write needs a firmware that decrypts into any buffer (the "
		    "software model); the %s backend writes the guest's own pages",
		    sevmig_fw_backend_name(fw));
	struct sevmig_receiver *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fw = fw;
	r->dry_run = dry;
	r->page_write = page_write;
	r->page_write_arg = SEVMIG__OPT(opts, page_write_arg, NULL);
	r->zeroed = SEVMIG__OPT(opts, zeroed, false);
	r->workers = workers;
	r->window = sevmig__window(workers, window);
	r->vmsa_dest = SEVMIG__OPT(opts, vmsa_dest, NULL);
	r->vmsa_arg = SEVMIG__OPT(opts, vmsa_arg, NULL);
	r->progress = SEVMIG__OPT(opts, progress, NULL);
	r->progress_arg = SEVMIG__OPT(opts, progress_arg, NULL);
	r->back_write = SEVMIG__OPT(opts, back_write, NULL);
	r->back_arg = SEVMIG__OPT(opts, back_arg, NULL);
	/* No read callback: sans-I/O, the input pushed by the caller. */
	r->push = !read;
	r->queue_back = SEVMIG__OPT(opts, back_buffered, false);
	if (r->queue_back && (!r->push || r->back_write)) {
		free(r);
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "back_buffered is for a sans-I/O receiver (no read callback), "
				    "without back_write");
	}
	if (r->queue_back) {
		r->back_write = queue_write;
		r->back_arg = r;
	}
	r->commit = SEVMIG__OPT(opts, commit, NULL);
	r->commit_arg = SEVMIG__OPT(opts, commit_arg, NULL);
	r->regions_for = SEVMIG__OPT(opts, regions_for, NULL);
	r->vmm_object = SEVMIG__OPT(opts, vmm_object, NULL);
	r->vmm_arg = SEVMIG__OPT(opts, vmm_arg, NULL);
	r->regions_arg = SEVMIG__OPT(opts, regions_arg, NULL);
	uint8_t secret[32];
	uint32_t ksrc = SEVMIG__OPT(opts, key_source, 0u);
	const uint8_t *key = SEVMIG__OPT(opts, key, NULL);
	bool insecure = SEVMIG__OPT(opts, insecure, false);
	int rc = sevmig__key_opts(ksrc, key, insecure, false, secret, err);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc < 0) {
		free(r);
		return rc;
	}
	if (regions) {
		rc =
		    sevmig__layout_from_regions(regions, nregions, !r->page_write, &r->layout, err);
		if (rc < 0) {
			free(r);
			return rc;
		}
		r->have_regions = true;
	}
	SEVMIG_OPTS(sevmig_reader_opts, ro, .expect_uuid = SEVMIG__OPT(opts, expect_uuid, NULL),
		    /* On a bidirectional channel the source waits for COMMIT:
		     * stop at END rather than wait for the channel to close. */
		    .allow_trailing =
			SEVMIG__OPT(opts, allow_trailing, false) || r->back_write || r->push,
		    .key_source = ksrc, .key = key);
	rc = r->push ? sevmig_stream_reader_new(push_read, r, &ro, &r->rd, err)
		     : sevmig_stream_reader_new(read, read_arg, &ro, &r->rd, err);
	if (rc == 0) {
		sevmig__reader_set_decode(r->rd, false);
		if (insecure)
			sevmig__reader_require_insecure(r->rd);
		unsigned maxt = sevmig_fw_max_threads(fw);
		rc = sevmig__pool_new(workers, workers < maxt ? workers : maxt, r->window,
				      retire_job, r, &r->pool);
	}
	r->nwctx = workers ? workers : 1;
	r->jobs = calloc(r->window, sizeof(*r->jobs));
	r->wctx = calloc(r->nwctx, sizeof(*r->wctx));
	if (!r->jobs || !r->wctx)
		rc = -ENOMEM;
	for (unsigned i = 0; rc == 0 && i < r->window; i++) {
		r->jobs[i].r = r;
		r->jobs[i].j.run = run_job;
		sevmig__pool_put(r->pool, &r->jobs[i].j);
	}
	for (unsigned i = 0; rc == 0 && i < r->nwctx; i++) {
		r->wctx[i].page = page_alloc(SM_PAGE);
		if (r->page_write)
			r->wctx[i].stage = page_alloc((size_t)SEVMIG_STREAM_MAX_BATCH * SM_PAGE);
		if (!r->wctx[i].page || (r->page_write && !r->wctx[i].stage))
			rc = -ENOMEM;
	}
	/* Sans-I/O with workers: the eventfd exists before any job can finish,
	 * so that no completion goes unsignalled. */
	if (rc == 0 && r->push && r->workers && (rc = sevmig__pool_fd(r->pool)) > 0)
		rc = 0;
	if (rc < 0) {
		sevmig_receiver_free(r);
		return sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "setting up the receiver: %s",
				    sevmig_strerror(rc));
	}
	/* Sans-I/O: HELLO is queued at once, for the caller to send. */
	if (r->push && (rc = step(r, &(struct sevmig_recv_event){ .type = 0 })) < 0) {
		if (err)
			*err = r->fail;
		sevmig_receiver_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void sevmig_receiver_free(struct sevmig_receiver *r)
{
	if (!r)
		return;
	sevmig_receiver_cancel(r);
	sevmig__pool_free(r->pool);
	for (unsigned i = 0; r->jobs && i < r->window; i++) {
		sevmig__buf_free(&r->jobs[i].buf);
		sevmig__buf_free(&r->jobs[i].slots);
	}
	free(r->jobs);
	for (unsigned i = 0; r->wctx && i < r->nwctx; i++) {
		ZSTD_freeDCtx(r->wctx[i].dctx);
		free(r->wctx[i].scratch);
		if (r->wctx[i].page)
			OPENSSL_cleanse(r->wctx[i].page, SM_PAGE);
		free(r->wctx[i].page);
		if (r->wctx[i].stage) /* guest plaintext */
			OPENSSL_cleanse(r->wctx[i].stage, (size_t)r->wctx[i].staged * SM_PAGE);
		free(r->wctx[i].stage);
	}
	free(r->wctx);
	sevmig_stream_reader_free(r->rd);
	sevmig__layout_free(&r->layout);
	/* vCPU registers and device state are the guest's secrets too. */
	if (r->vmm.data)
		OPENSSL_cleanse(r->vmm.data, r->vmm.cap);
	sevmig__buf_free(&r->vmm);
	sevmig__queue_free(&r->in);
	sevmig__queue_free(&r->out);
	free(r);
}
