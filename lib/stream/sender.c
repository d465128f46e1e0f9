/* SPDX-License-Identifier: MIT */
/*
 * The sender: guest memory and page state in, stream out.
 *
 * The caller's thread walks the pages to send and cuts them into batches
 * (jobs): private pages for SEND_UPDATE_DATA, shared pages for the zero test
 * and compression. Jobs run on the worker pool (or inline), and the caller's
 * thread writes their records in submission order, so the stream does not
 * depend on the number of workers. Memory is bounded by the window: at most
 * window + 2 jobs of a batch of pages each exist at any time.
 */
#include "stream/stream_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <uuid/uuid.h>

#include "util/endian.h"

SEVMIG__OPTS_LAST(struct sevmig_sender_opts, max_bytes_per_s);

/* S_ENDED: sans-I/O, END queued, waiting for the target's COMMIT. */
enum sstate { S_NEW, S_STREAMING, S_VMSA, S_ENDED, S_DONE, S_DEAD };
enum { SJ_ENC, SJ_SHARED };

struct sjob {
	struct sevmig__job j;
	struct sevmig_sender *s;
	int kind;
	uint32_t n;
	uint64_t *gfn;
	uint32_t *slot;
	uint32_t *idx; /* SHARED: positions of the non-zero pages */
	struct sevmig__buf out;
	uint32_t nrec;
	uint32_t rec_off[2];
	uint16_t rec_type[2];
	uint32_t rec_len[2];
	uint32_t rec_crc[2]; /* each payload's CRC32C, for the writer to extend */
	uint64_t enc, plain, zero, plain_wire;
	char msg[200];
};

struct wctx {
	ZSTD_CCtx *cctx;
	uint8_t *gather; /* a shared batch's pages side by side, for zstd */
};

struct sevmig_sender {
	struct sevmig_fw *fw;
	struct sevmig__layout layout;
	struct sevmig__writer w;
	uint8_t uuid[16];
	void *target_pdh, *target_chain, *amd_certs;
	uint32_t target_pdh_len, target_chain_len, amd_certs_len;
	unsigned batch[2]; /* pages per job: ENC, SHARED */
	unsigned workers, window;
	/* ENC jobs in flight, and their limit: the records the firmware writes
	 * should stay in the workers' caches until written, while compression
	 * jobs, longer and with little output, want a deeper queue. */
	unsigned enc_inflight, enc_window;
	int zlevel;
	size_t pstate_max; /* serialized page state per PSTATE record */
	sevmig_stream_progress_fn progress;
	void *progress_arg;

	struct sevmig__pool *pool;
	struct sjob *jobs;
	unsigned njobs;
	struct wctx *wctx;
	unsigned nwctx;
	struct sjob *cur[2]; /* batches being filled: ENC, SHARED */

	atomic_int cancel; /* sevmig_sender_cancel() */
	enum sstate state;
	int dead_rc;
	bool started;  /* SEND_START succeeded: cancel on failure */
	bool hdr_done; /* the stream header is out: ABORT can follow */
	bool end_done; /* END is out: nothing may follow */
	uint32_t key_source;
	uint8_t secret[32];
	uint32_t vcpus;
	sevmig_read_fn back_read;
	void *back_arg;
	uint64_t back_seq; /* the next back-channel message expected */
	bool acked;	   /* COMMIT received */
	uint64_t acked_records, acked_pages;
	uint32_t policy;
	bool soft;
	struct sevmig_pstate *last;	/* page state as of the last pass */
	const struct sevmig_pstate *ps; /* the pass's page state */
	struct sevmig_stream_counts counts;
	uint64_t round_enc, round_plain, round_zero;
	struct sevmig_error fail; /* the first failure of the current call */

	/*
	 * The pass in progress, walked a piece at a time so that a sans-I/O
	 * caller gets control back (sevmig_sender_produce()): the pages to send
	 * are every page (the first pass) or the dirty bits and changed
	 * ranges, scanned word by word; `run` is the run of wanted pages being
	 * sent.
	 */
	struct {
		bool active, all;
		bool scanned;		  /* no run left: only the last batches and ROUND */
		const uint64_t **dirty;	  /* by the caller's region index (a copy of
					   * the caller's array, not of the bitmaps) */
		struct sevmig_range *chg; /* pages whose state changed */
		size_t nchg, ci;
		size_t k;      /* slot */
		uint64_t page; /* next page of slot k to look at */
		uint64_t run_gfn, run_left;
		struct sevmig_pstate *delta;
		uint64_t **own_dirty; /* bitmaps made from a dirty list */
	} pass;

	/* Sans-I/O: output queued for sevmig_sender_output(), back-channel
	 * bytes pushed by sevmig_sender_push_back(). */
	bool queue;
	struct sevmig__queue out;
	bool back_pushed;
	struct sevmig__queue bin;
	bool have_hello;
	uint8_t hello_nonce[16];

	uint64_t (*clock_ns)(void *arg);
	void *clock_arg;
	struct sevmig__conv conv;
	struct sevmig__pace pace;
};

/* Record the first failure of a call (later ones are consequences). */
#define SFAIL(s, rc_, ...) \
	SEVMIG__FIRST_FAIL(&(s)->fail, (rc_), SEVMIG_NO_OFFSET, (s)->w.seq, __VA_ARGS__)

/* ---- jobs ------------------------------------------------------------------ */

static int run_enc(struct sjob *j, unsigned worker)
{
	(void)worker;
	struct sevmig_sender *s = j->s;
	uint8_t *rec = j->out.data;
	uint8_t *pl = rec + SM_REC_HDR;
	uint32_t n = j->n;
	sevmig__enc_put_head(pl, n);
	for (uint32_t i = 0; i < n; i++)
		sevmig__enc_put_gfn(pl, i, j->gfn[i]);
	uint8_t *pkt = sevmig__enc_packet_w(pl, n, 0);
	/* The payload's CRC, extended over each packet while it is hot. */
	uint32_t crc = sevmig__crc32c(0, pl, (size_t)(pkt - pl));
	for (uint32_t i = 0; i < n; i++) {
		if ((i & 15) == 0 && sevmig__pool_stopping(s->pool))
			return -ECANCELED;
		struct sevmig_fw_send_update p = {
			.guest = sevmig__layout_host(&s->layout, j->slot[i], j->gfn[i]),
			.guest_len = SM_PAGE,
			.hdr = pkt,
			.hdr_len = SM_PKT_HDR,
			.trans = pkt + SM_PKT_HDR,
			.trans_len = SM_PAGE,
		};
		uint32_t st = SEVMIG_FW_STATUS_NONE;
		int rc = sevmig_fw_send_update_data(s->fw, &p, &st);
		if (rc < 0) {
			sevmig__msg(j->msg, sizeof(j->msg),
				    "SEND_UPDATE_DATA of gfn 0x%" PRIx64 " failed: %s (firmware "
				    "status %s)",
				    j->gfn[i], sevmig_strerror(rc), sevmig_fw_status_name(st));
			return rc;
		}
		if (p.hdr_len != SM_PKT_HDR || p.trans_len != SM_PAGE) {
			sevmig__msg(j->msg, sizeof(j->msg),
				    "SEND_UPDATE_DATA of gfn 0x%" PRIx64
				    " gave a %u-byte header and "
				    "%u bytes (the stream needs 52 and 4096)",
				    j->gfn[i], p.hdr_len, p.trans_len);
			return -EPROTO;
		}
		crc = sevmig__crc32c(crc, pkt, SM_PKT);
		pkt += SM_PKT;
	}
	j->nrec = 1;
	j->rec_off[0] = 0;
	j->rec_type[0] = SEVMIG_REC_ENC;
	j->rec_len[0] = (uint32_t)sevmig__enc_len(n);
	j->rec_crc[0] = crc;
	j->enc = n;
	return 0;
}

/*
 * The m non-zero pages of a shared job (j->idx) side by side: where they
 * are, when they are one host-contiguous run, else copied into buf a run
 * at a time. zstd compresses one buffer in one call (its streaming
 * interface would copy them into a window of its own first, at 5 % more
 * time than this copy and the one-shot call), and a raw record is one copy
 * of it.
 */
static const uint8_t *gather_pages(struct sevmig_sender *s, const struct sjob *j, uint32_t m,
				   uint8_t *buf)
{
	for (uint32_t a = 0; a < m;) {
		uint32_t b = a + 1, ia = j->idx[a];
		while (b < m && j->slot[j->idx[b]] == j->slot[ia] &&
		       j->gfn[j->idx[b]] == j->gfn[ia] + (b - a))
			b++;
		const uint8_t *run = sevmig__layout_host(&s->layout, j->slot[ia], j->gfn[ia]);
		if (a == 0 && b == m)
			return run;
		memcpy(buf + (size_t)a * SM_PAGE, run, (size_t)(b - a) * SM_PAGE);
		a = b;
	}
	return buf;
}

static int run_shared(struct sjob *j, unsigned worker)
{
	struct sevmig_sender *s = j->s;
	uint32_t n = j->n, m = 0, runs = 0;
	uint8_t *base = j->out.data;
	/* ZERO record first: runs of consecutive zero pages in one slot. */
	uint8_t *zp = base + SM_REC_HDR;
	uint64_t run_gfn = 0, run_n = 0;
	uint32_t run_slot = 0;
	for (uint32_t i = 0; i < n; i++) {
		if ((i & 63) == 0 && sevmig__pool_stopping(s->pool))
			return -ECANCELED;
		const uint8_t *p = sevmig__layout_host(&s->layout, j->slot[i], j->gfn[i]);
		if (!sevmig__page_is_zero(p)) {
			j->idx[m++] = i;
			continue;
		}
		if (run_n && j->slot[i] == run_slot && j->gfn[i] == run_gfn + run_n) {
			run_n++;
			continue;
		}
		if (run_n)
			sevmig__zero_put_run(zp, runs++, run_gfn, run_n);
		run_gfn = j->gfn[i];
		run_n = 1;
		run_slot = j->slot[i];
	}
	if (run_n)
		sevmig__zero_put_run(zp, runs++, run_gfn, run_n);
	size_t off = 0;
	j->nrec = 0;
	if (runs) {
		sevmig__zero_put_head(zp, runs);
		j->rec_off[0] = 0;
		j->rec_type[0] = SEVMIG_REC_ZERO;
		j->rec_len[0] = (uint32_t)sevmig__zero_len(runs);
		j->rec_crc[0] = sevmig__crc32c(0, zp, j->rec_len[0]);
		j->nrec = 1;
		off = SM_REC_OVERHEAD + j->rec_len[0];
	}
	j->zero = n - m;
	if (!m)
		return 0;
	uint8_t *pl = base + off + SM_REC_HDR;
	for (uint32_t i = 0; i < m; i++)
		sevmig__plain_put_gfn(pl, i, j->gfn[j->idx[i]]);
	uint8_t *data = sevmig__plain_data_w(pl, m);
	size_t raw = (size_t)m * SM_PAGE, d = 0;
	/* Compressed from the worker's buffer, else gathered straight into
	 * the record. */
	const uint8_t *pages = gather_pages(s, j, m, s->zlevel ? s->wctx[worker].gather : data);
	if (s->zlevel) {
		d = ZSTD_compress2(s->wctx[worker].cctx, data, raw, pages, raw);
		if (ZSTD_isError(d) || d >= raw)
			d = 0; /* an error here is "does not fit": not smaller */
	}
	uint32_t codec = d ? SEVMIG_CODEC_ZSTD : SEVMIG_CODEC_RAW;
	if (!d) {
		if (pages != data)
			memcpy(data, pages, raw);
		d = raw;
	}
	sevmig__plain_put_head(pl, m, codec, (uint32_t)d);
	j->rec_off[j->nrec] = (uint32_t)off;
	j->rec_type[j->nrec] = SEVMIG_REC_PLAIN;
	j->rec_len[j->nrec] = (uint32_t)sevmig__plain_len(m, d);
	j->rec_crc[j->nrec] = sevmig__crc32c(0, pl, j->rec_len[j->nrec]);
	j->nrec++;
	j->plain = m;
	j->plain_wire = d;
	return 0;
}

static int run_job(struct sevmig__job *job, unsigned worker)
{
	struct sjob *j = (struct sjob *)job;
	return j->kind == SJ_ENC ? run_enc(j, worker) : run_shared(j, worker);
}

/* ---- writing ---------------------------------------------------------------- */

static void report(struct sevmig_sender *s)
{
	s->counts.records = s->w.seq;
	s->counts.bytes = s->w.bytes;
	if (s->progress && s->progress(s->progress_arg, &s->counts))
		sevmig_sender_cancel(s);
}

static int write_record(struct sevmig_sender *s, uint8_t *rec, uint16_t type, uint32_t len)
{
	int rc = sevmig__writer_record(&s->w, rec, type, len);
	if (rc < 0)
		return SFAIL(s, rc, "writing the stream failed: %s", sevmig_strerror(rc));
	report(s);
	return 0;
}

/* A record built by a worker, which also computed its payload's CRC. */
static int write_job_record(struct sevmig_sender *s, struct sjob *j, uint32_t i)
{
	int rc = sevmig__writer_record_pcrc(&s->w, j->out.data + j->rec_off[i], j->rec_type[i],
					    j->rec_len[i], j->rec_crc[i]);
	if (rc < 0)
		return SFAIL(s, rc, "writing the stream failed: %s", sevmig_strerror(rc));
	report(s);
	return 0;
}

/* A small record built on the stack or the heap. */
static int emit(struct sevmig_sender *s, uint16_t type, const void *payload, uint32_t len)
{
	uint8_t *rec = malloc(SM_REC_OVERHEAD + (size_t)len);
	if (!rec)
		return SFAIL(s, -ENOMEM, "out of memory");
	memcpy(rec + SM_REC_HDR, payload, len);
	int rc = write_record(s, rec, type, len);
	free(rec);
	return rc;
}

static void release(struct sevmig_sender *s, struct sjob *j)
{
	sevmig__pool_put(s->pool, &j->j);
}

/* A finished job's records, written in stream order (the pool's retire
 * callback: it gives the job back to the free list afterwards). */
static int write_job(void *arg, struct sevmig__job *job)
{
	struct sevmig_sender *s = arg;
	struct sjob *j = (struct sjob *)job;
	if (j->kind == SJ_ENC)
		s->enc_inflight--;
	int rc = j->j.rc;
	if (rc < 0) {
		if (rc == -ECANCELED)
			return SFAIL(s, rc, "cancelled");
		return SFAIL(s, rc, "%s", j->msg[0] ? j->msg : sevmig_strerror(rc));
	}
	for (uint32_t i = 0; i < j->nrec && rc == 0; i++) {
		rc = write_job_record(s, j, i);
		if (rc == 0 && j->rec_type[i] == SEVMIG_REC_ENC) {
			s->counts.enc_records++;
		} else if (rc == 0 && j->rec_type[i] == SEVMIG_REC_ZERO) {
			s->counts.zero_records++;
		} else if (rc == 0) {
			s->counts.plain_records++;
			s->counts.plain_wire_bytes += j->plain_wire;
		}
	}
	if (rc == 0) {
		s->counts.enc_pages += j->enc;
		s->counts.plain_pages += j->plain;
		s->counts.zero_pages += j->zero;
		s->round_enc += j->enc;
		s->round_plain += j->plain;
		s->round_zero += j->zero;
	}
	return rc;
}

static int check_cancel(struct sevmig_sender *s)
{
	if (atomic_load(&s->cancel))
		return SFAIL(s, -ECANCELED, "cancelled");
	return 0;
}

static int submit(struct sevmig_sender *s, struct sjob *j)
{
	while (sevmig__pool_full(s->pool) ||
	       (j->kind == SJ_ENC && s->enc_inflight == s->enc_window))
		SEVMIG__TRY(sevmig__pool_retire_oldest(s->pool));
	SEVMIG__TRY(check_cancel(s));
	s->enc_inflight += j->kind == SJ_ENC;
	j->j.needs_fw = j->kind == SJ_ENC;
	j->msg[0] = 0;
	j->enc = j->plain = j->zero = j->plain_wire = 0;
	sevmig__pool_submit(s->pool, &j->j);
	return 0;
}

static int add_page(struct sevmig_sender *s, uint64_t gfn, uint32_t slot, int kind)
{
	struct sjob *j = s->cur[kind];
	if (!j) {
		while (!sevmig__pool_free_count(s->pool))
			SEVMIG__TRY(sevmig__pool_retire_oldest(s->pool));
		j = (struct sjob *)sevmig__pool_get(s->pool);
		j->kind = kind;
		j->n = 0;
		s->cur[kind] = j;
	}
	j->gfn[j->n] = gfn;
	j->slot[j->n] = slot;
	if (++j->n == s->batch[kind]) {
		s->cur[kind] = NULL;
		int rc = submit(s, j);
		if (rc < 0) {
			release(s, j);
			return rc;
		}
	}
	return 0;
}

static int flush_batches(struct sevmig_sender *s)
{
	for (int k = 0; k < 2; k++) {
		struct sjob *j = s->cur[k];
		if (!j)
			continue;
		s->cur[k] = NULL;
		int rc = submit(s, j);
		if (rc < 0) {
			release(s, j);
			return rc;
		}
	}
	SEVMIG__TRY(sevmig__pool_retire_all(s->pool));
	/* A cancel that came while the last batches drained ends this call
	 * rather than the next one. */
	return check_cancel(s);
}

/* ---- walking the pages ---------------------------------------------------- */

struct range_ctx {
	struct sevmig_sender *s;
	uint32_t slot;
	uint64_t pos;
};

static int add_pages(struct sevmig_sender *s, uint32_t slot, uint64_t gfn, uint64_t n, int kind)
{
	for (uint64_t i = 0; i < n; i++)
		SEVMIG__TRY(add_page(s, gfn + i, slot, kind));
	return 0;
}

static int on_shared_run(void *arg, uint64_t gfn, uint64_t npages)
{
	struct range_ctx *c = arg;
	SEVMIG__TRY(add_pages(c->s, c->slot, c->pos, gfn - c->pos, SJ_ENC));
	SEVMIG__TRY(add_pages(c->s, c->slot, gfn, npages, SJ_SHARED));
	c->pos = gfn + npages;
	return 0;
}

/* Every page of [gfn, gfn + n) in slot `slot`, by its current state. */
static int send_range(struct sevmig_sender *s, uint32_t slot, uint64_t gfn, uint64_t n)
{
	struct range_ctx c = { s, slot, gfn };
	int rc = sevmig_pstate_walk(s->ps, gfn, n, SEVMIG_PAGE_SHARED, on_shared_run, &c);
	if (rc < 0)
		return SFAIL(s, rc, "walking the page state failed: %s", sevmig_strerror(rc));
	return add_pages(s, slot, c.pos, gfn + n - c.pos, SJ_ENC);
}

/* ---- records of the session ----------------------------------------------- */

static int emit_round(struct sevmig_sender *s)
{
	uint8_t p[SM_ROUND_LEN];
	sevmig__put_le64(p, s->counts.rounds);
	sevmig__put_le64(p + 8, s->round_enc);
	sevmig__put_le64(p + 16, s->round_plain);
	sevmig__put_le64(p + 24, s->round_zero);
	SEVMIG__TRY(emit(s, SEVMIG_REC_ROUND, p, sizeof(p)));
	s->counts.rounds++;
	s->round_enc = s->round_plain = s->round_zero = 0;
	return 0;
}

/* A page-state map as one record, or halves of its range when too big. */
static int emit_pstate(struct sevmig_sender *s, const struct sevmig_pstate *map, uint32_t kind,
		       uint64_t first, uint64_t end)
{
	SEVMIG_OPTS(sevmig_pstate_save_opts, so, .zstd_level = s->zlevel > 0 ? s->zlevel : 0);
	void *buf = NULL;
	size_t len = 0;
	int rc = sevmig_pstate_serialize(map, &so, &buf, &len);
	if (rc < 0)
		return SFAIL(s, rc, "serializing the page state failed: %s", sevmig_strerror(rc));
	if (len > s->pstate_max) {
		free(buf);
		if (end - first < 2)
			return SFAIL(s, -EOVERFLOW, "page state of one page does not fit a record");
		uint64_t mid = first + (end - first) / 2;
		uint64_t r[3] = { first, mid, end };
		for (int h = 0; h < 2; h++) {
			struct sevmig_pstate *part;
			rc = sevmig__pstate_restrict(map, r[h], r[h + 1], &part);
			if (rc < 0)
				return SFAIL(s, rc, "splitting the page state failed: %s",
					     sevmig_strerror(rc));
			struct sevmig_pstate_stats st;
			sevmig_pstate_stats(part, &st);
			/* A DELTA part with nothing in it is left out; FULL
			 * parts must tile the range. */
			if (kind == SEVMIG_PSTATE_FULL || st.covered_pages)
				rc = emit_pstate(s, part, kind, r[h], r[h + 1]);
			sevmig_pstate_free(part);
			SEVMIG__TRY(rc);
		}
		return 0;
	}
	uint8_t *rec = malloc(SM_REC_OVERHEAD + SM_PSTATE_FIXED + len);
	if (!rec) {
		free(buf);
		return SFAIL(s, -ENOMEM, "out of memory");
	}
	uint8_t *p = rec + SM_REC_HDR;
	sevmig__put_le32(p, kind);
	sevmig__put_le32(p + 4, 0);
	sevmig__put_le64(p + 8, first);
	sevmig__put_le64(p + 16, end);
	memcpy(p + SM_PSTATE_FIXED, buf, len);
	free(buf);
	rc = write_record(s, rec, SEVMIG_REC_PSTATE, (uint32_t)(SM_PSTATE_FIXED + len));
	free(rec);
	if (rc == 0)
		s->counts.pstate_records++;
	return rc;
}

static uint64_t layout_first(const struct sevmig__layout *l)
{
	return l->slots[0].gfn;
}

static uint64_t layout_end(const struct sevmig__layout *l)
{
	return l->slots[l->n - 1].gfn + l->slots[l->n - 1].npages;
}

static void emit_abort(struct sevmig_sender *s, uint32_t reason, const char *msg)
{
	if (s->w.dead || s->end_done)
		return;
	size_t m = strlen(msg);
	if (m > SM_ABORT_MSG_MAX)
		m = SM_ABORT_MSG_MAX;
	uint8_t *rec = malloc(SM_REC_OVERHEAD + 8 + m);
	if (!rec)
		return;
	sevmig__put_le32(rec + SM_REC_HDR, reason);
	sevmig__put_le32(rec + SM_REC_HDR + 4, (uint32_t)m);
	memcpy(rec + SM_REC_HDR + 8, msg, m);
	if (sevmig__writer_record(&s->w, rec, SEVMIG_REC_ABORT, (uint32_t)(8 + m)) == 0) {
		s->counts.records = s->w.seq;
		s->counts.bytes = s->w.bytes;
	}
	free(rec);
}

/* ---- the back-channel ------------------------------------------------------ */

/* The target's next message: 1, 0 at its end, or a negative errno with the
 * failure recorded. */
static int back_next(struct sevmig_sender *s, struct sevmig__back_msg *m)
{
	struct sevmig_error e;
	sevmig_error_clear(&e);
	int rc = sevmig__back_read(s->back_read, s->back_arg, s->back_seq ? &s->w.auth : NULL,
				   s->back_seq, m, &e);
	if (rc < 0)
		return SFAIL(s, rc, "back-channel: %s", e.message);
	if (rc > 0) {
		s->back_seq++;
		if (m->type == SEVMIG_BACK_ACK) {
			s->acked_records = m->records;
			s->acked_pages = m->pages;
		}
	}
	return rc;
}

/* The target refused: its NAK as this sender's failure. */
static int nak_fail(struct sevmig_sender *s, const struct sevmig__back_msg *m)
{
	sevmig_error_clear(&s->fail);
	return SFAIL(s, -EREMOTEIO, "the target refused the migration: %s (%s)",
		     m->msg[0] ? m->msg : "no reason given", strerror((int)m->code));
}

/* The output broke: a target that closed its end may have said why. */
static void back_reason(struct sevmig_sender *s)
{
	if (!s->back_read || !s->hdr_done ||
	    (s->fail.code != -EPIPE && s->fail.code != -ECONNRESET))
		return;
	struct sevmig__back_msg m;
	struct sevmig_error keep = s->fail;
	for (int i = 0; i < 1024; i++) {
		sevmig_error_clear(&s->fail);
		if (back_next(s, &m) <= 0)
			break;
		if (m.type == SEVMIG_BACK_NAK) {
			nak_fail(s, &m);
			return;
		}
	}
	s->fail = keep;
}

/*
 * The migration is over: let the workers finish, give the guest back to the
 * source (SEND_CANCEL) and say so in the stream (ABORT) while it still works.
 */
static int sender_fail(struct sevmig_sender *s, int rc, struct sevmig_error *err)
{
	sevmig__pool_stop(s->pool);
	sevmig__pool_discard(s->pool);
	s->enc_inflight = 0;
	for (int k = 0; k < 2; k++) {
		if (s->cur[k])
			release(s, s->cur[k]);
		s->cur[k] = NULL;
	}
	if (!s->fail.code)
		sevmig__fail(&s->fail, rc, SEVMIG_NO_OFFSET, s->w.seq, "%s", sevmig_strerror(rc));
	back_reason(s);
	rc = s->fail.code;
	if (s->started) {
		uint32_t st = SEVMIG_FW_STATUS_NONE;
		int crc = sevmig_fw_send_cancel(s->fw, &st);
		if (crc < 0) {
			size_t l = strlen(s->fail.message);
			snprintf(s->fail.message + l, sizeof(s->fail.message) - l,
				 "; SEND_CANCEL also failed (%s)", sevmig_fw_status_name(st));
		}
		if (s->hdr_done)
			emit_abort(s,
				   rc == -ECANCELED ? SEVMIG_ABORT_CANCELLED : SEVMIG_ABORT_ERROR,
				   s->fail.message);
	}
	s->state = S_DEAD;
	s->dead_rc = rc;
	s->started = false;
	if (err)
		*err = s->fail;
	return rc;
}

/* Common entry of every call: state and pending cancellation. */
static int enter(struct sevmig_sender *s, struct sevmig_error *err)
{
	sevmig_error_clear(&s->fail);
	if (s->state == S_DEAD)
		return sevmig__fail(err, -EPROTO, SEVMIG_NO_OFFSET, 0,
				    "the sender has failed or was cancelled (%s)",
				    sevmig_strerror(s->dead_rc));
	if (atomic_load(&s->cancel))
		return sender_fail(s, SFAIL(s, -ECANCELED, "cancelled"), err);
	return 0;
}

static int leave(struct sevmig_sender *s, int rc, struct sevmig_error *err)
{
	if (rc < 0)
		return sender_fail(s, rc, err);
	return 0;
}

/* ---- public ---------------------------------------------------------------- */

static void *dup_mem(const void *p, size_t n)
{
	if (!p || !n)
		return NULL;
	void *d = malloc(n);
	if (d)
		memcpy(d, p, n);
	return d;
}

static uint64_t mono_ns(void *arg)
{
	(void)arg;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(const struct sevmig_sender *s)
{
	return s->clock_ns(s->clock_arg);
}

/* The writer's output when sans-I/O: the queue. */
static int queue_write(void *arg, const void *buf, size_t len)
{
	struct sevmig_sender *s = arg;
	return sevmig__queue_push(&s->out, buf, len);
}

/* The back-channel when pushed: the bytes gathered (0 once they run out). */
static ptrdiff_t bin_read(void *arg, void *buf, size_t len)
{
	struct sevmig_sender *s = arg;
	return (ptrdiff_t)sevmig__queue_take(&s->bin, buf, len);
}

int sevmig_sender_new(struct sevmig_fw *fw, const struct sevmig_mem_region *regions,
		      size_t nregions, sevmig_write_fn write, void *write_arg,
		      const struct sevmig_sender_opts *opts, struct sevmig_sender **out,
		      struct sevmig_error *err)
{
	if (!fw || !out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "a firmware handle and a result are required");
	if (SEVMIG__OPT(opts, back_buffered, false) &&
	    (write || SEVMIG__OPT(opts, back_read, NULL)))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "back_buffered is for a sans-I/O sender (no write callback), "
				    "without back_read");
	if (!SEVMIG__OPTS_VALID(opts, struct sevmig_sender_opts, max_bytes_per_s))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "sender options: bad size or non-zero unknown fields");
	const void *pdh = SEVMIG__OPT(opts, target_pdh, NULL);
	uint32_t pdh_len = SEVMIG__OPT(opts, target_pdh_len, 0);
	if (!pdh || !pdh_len)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "the target's PDH certificate is required (target_pdh)");
	unsigned batch = SEVMIG__OPT(opts, batch_pages, 0u);
	int zlevel = SEVMIG__OPT(opts, zstd_level, 0);
	unsigned workers = SEVMIG__OPT(opts, workers, 0u);
	unsigned window = SEVMIG__OPT(opts, window, 0u);
	if (batch > SEVMIG_STREAM_MAX_BATCH)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "batch_pages %u exceeds %u",
				    batch, SEVMIG_STREAM_MAX_BATCH);
	if (zlevel && (zlevel < ZSTD_minCLevel() || zlevel > ZSTD_maxCLevel()))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "zstd level %d is outside [%d, %d]", zlevel, ZSTD_minCLevel(),
				    ZSTD_maxCLevel());
	if (workers > SM_MAX_WINDOW || window > SM_MAX_WINDOW)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "workers and window are limited to %u", SM_MAX_WINDOW);

	struct sevmig_sender *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fw = fw;
	s->counts.sz = sizeof(s->counts);
	s->batch[SJ_ENC] = batch ? batch : SM_DEFAULT_ENC_BATCH;
	s->batch[SJ_SHARED] = batch ? batch : SM_DEFAULT_BATCH;
	batch = s->batch[SJ_ENC] > s->batch[SJ_SHARED] ? s->batch[SJ_ENC] : s->batch[SJ_SHARED];
	s->zlevel = zlevel;
	s->workers = workers;
	s->window = sevmig__window(workers, window);
	s->enc_window = window ? s->window : (sevmig__window(workers, 0) + 1) / 2;
	s->pstate_max = SEVMIG_STREAM_MAX_PAYLOAD - SM_PSTATE_FIXED;
	s->progress = SEVMIG__OPT(opts, progress, NULL);
	s->progress_arg = SEVMIG__OPT(opts, progress_arg, NULL);
	const uint8_t *uuid = SEVMIG__OPT(opts, uuid, NULL);
	if (uuid)
		memcpy(s->uuid, uuid, 16);
	else
		uuid_generate(s->uuid);
	s->key_source = SEVMIG__OPT(opts, key_source, 0u);
	s->back_read = SEVMIG__OPT(opts, back_read, NULL);
	s->back_arg = SEVMIG__OPT(opts, back_arg, NULL);
	/* Sans-I/O: the stream queued, the back-channel pushed. */
	s->queue = !write;
	s->back_pushed = SEVMIG__OPT(opts, back_buffered, false);
	if (s->back_pushed) {
		s->back_read = bin_read;
		s->back_arg = s;
	}
	s->vcpus = SEVMIG__OPT(opts, vcpus, 0u);
	s->clock_ns = SEVMIG__OPT(opts, clock_ns, (uint64_t(*)(void *))NULL);
	s->clock_arg = SEVMIG__OPT(opts, clock_arg, NULL);
	if (!s->clock_ns)
		s->clock_ns = mono_ns;
	sevmig__pace_init(&s->pace, SEVMIG__OPT(opts, max_bytes_per_s, (uint64_t)0), now_ns(s));
	int rc = sevmig__key_opts(s->key_source, SEVMIG__OPT(opts, key, NULL),
				  SEVMIG__OPT(opts, insecure, false), false, s->secret, err);
	if (rc == 0 && s->vcpus > SM_MAX_VCPUS)
		rc = sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "vcpus %u exceeds %u",
				  s->vcpus, SM_MAX_VCPUS);
	if (rc < 0) {
		free(s);
		return rc;
	}
	rc = sevmig__layout_from_regions(regions, nregions, true, &s->layout, err);
	if (rc < 0) {
		free(s);
		return rc;
	}
	s->target_pdh_len = pdh_len;
	s->target_pdh = dup_mem(pdh, pdh_len);
	s->target_chain_len = SEVMIG__OPT(opts, target_chain_len, 0u);
	s->target_chain = dup_mem(SEVMIG__OPT(opts, target_chain, NULL), s->target_chain_len);
	s->amd_certs_len = SEVMIG__OPT(opts, amd_certs_len, 0u);
	s->amd_certs = dup_mem(SEVMIG__OPT(opts, amd_certs, NULL), s->amd_certs_len);
	if (!s->target_chain)
		s->target_chain_len = 0;
	if (!s->amd_certs)
		s->amd_certs_len = 0;

	unsigned maxt = sevmig_fw_max_threads(fw);
	unsigned fw_workers = workers < maxt ? workers : maxt;
	s->njobs = s->window + 2;
	s->nwctx = workers ? workers : 1;
	s->jobs = calloc(s->njobs, sizeof(*s->jobs));
	s->wctx = calloc(s->nwctx, sizeof(*s->wctx));
	rc = s->target_pdh && s->jobs && s->wctx ? 0 : -ENOMEM;
	/* A shared job's ZERO and PLAIN records at their largest (every page a
	 * run of its own, or raw), an ENC job's record. */
	size_t cap = 2 * SM_REC_OVERHEAD + sevmig__zero_len(s->batch[SJ_SHARED]) +
		     sevmig__plain_len(s->batch[SJ_SHARED], (size_t)s->batch[SJ_SHARED] * SM_PAGE);
	size_t enc_cap = SM_REC_OVERHEAD + sevmig__enc_len(s->batch[SJ_ENC]);
	if (enc_cap > cap)
		cap = enc_cap;
	if (rc == 0) /* first: it keeps the free jobs */
		rc = sevmig__pool_new(workers, fw_workers, s->window, write_job, s, &s->pool);
	for (unsigned i = 0; i < s->njobs && rc == 0; i++) {
		struct sjob *j = &s->jobs[i];
		j->s = s;
		j->j.run = run_job;
		j->gfn = malloc(batch * sizeof(*j->gfn));
		j->slot = malloc(batch * sizeof(*j->slot));
		j->idx = malloc(batch * sizeof(*j->idx));
		if (!j->gfn || !j->slot || !j->idx || sevmig__buf_reserve(&j->out, cap) < 0)
			rc = -ENOMEM;
		release(s, j);
	}
	for (unsigned i = 0; i < s->nwctx && rc == 0 && zlevel; i++) {
		s->wctx[i].cctx = ZSTD_createCCtx();
		s->wctx[i].gather = malloc((size_t)s->batch[SJ_SHARED] * SM_PAGE);
		if (!s->wctx[i].cctx || !s->wctx[i].gather ||
		    ZSTD_isError(
			ZSTD_CCtx_setParameter(s->wctx[i].cctx, ZSTD_c_compressionLevel, zlevel)))
			rc = -ENOMEM;
	}
	if (rc == 0)
		rc = write ? sevmig__writer_init(&s->w, write, write_arg, s->uuid)
			   : sevmig__writer_init(&s->w, queue_write, s, s->uuid);
	/* Sans-I/O with workers: the eventfd exists before any job can finish,
	 * so that no completion goes unsignalled. */
	if (rc == 0 && s->queue && workers && (rc = sevmig__pool_fd(s->pool)) > 0)
		rc = 0;
	if (rc < 0) {
		sevmig_sender_free(s);
		return sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "setting up the sender: %s",
				    sevmig_strerror(rc));
	}
	*out = s;
	return 0;
}

static int check_ps(struct sevmig_sender *s, const struct sevmig_pstate *ps)
{
	if (!ps || !sevmig__layout_covers(&s->layout, ps))
		return SFAIL(s, -EINVAL,
			     "the page state does not cover exactly the guest memory regions");
	return 0;
}

static int start(struct sevmig_sender *s, const struct sevmig_pstate *ps)
{
	struct sevmig__hdr_info hi = { .key_source = s->key_source };
	if (RAND_bytes(hi.sender_nonce, 16) != 1)
		return SFAIL(s, -EIO, "the random generator failed");
	if (s->back_pushed) {
		memcpy(hi.target_nonce, s->hello_nonce, 16); /* push_back() took it */
	} else if (s->back_read) {
		/* The target's nonce goes into the header, so a stream recorded
		 * earlier cannot be replayed to it. */
		struct sevmig__back_msg m;
		int brc = back_next(s, &m);
		if (brc == 0)
			return SFAIL(s, -ECONNRESET,
				     "the target closed the connection before its HELLO");
		if (brc < 0)
			return brc;
		memcpy(hi.target_nonce, m.nonce, 16);
	}
	struct sevmig_fw_platform_status pst;
	uint32_t st = SEVMIG_FW_STATUS_NONE;
	int rc = sevmig_fw_platform_status(s->fw, &pst, &st);
	if (rc < 0)
		return SFAIL(s, rc, "PLATFORM_STATUS failed: %s", sevmig_fw_last_error(s->fw));
	s->soft = pst.soft;

	uint8_t pdh[SEVMIG_CERT_SIZE], chain[SM_CHAIN_SIZE];
	uint32_t pdh_len = sizeof(pdh), chain_len = sizeof(chain);
	rc = sevmig_fw_pdh_cert_export(s->fw, pdh, &pdh_len, chain, &chain_len, &st);
	if (rc < 0)
		return SFAIL(s, rc, "PDH_CERT_EXPORT on the source failed: %s",
			     sevmig_fw_last_error(s->fw));
	if (pdh_len != SEVMIG_CERT_SIZE || (chain_len && chain_len != SM_CHAIN_SIZE))
		return SFAIL(s, -EPROTO, "PDH_CERT_EXPORT gave %u + %u bytes", pdh_len, chain_len);

	uint8_t session[SEVMIG_SESSION_SIZE];
	struct sevmig_fw_send_start ss = {
		.pdh_cert = s->target_pdh,
		.pdh_cert_len = s->target_pdh_len,
		.plat_certs = s->target_chain,
		.plat_certs_len = s->target_chain_len,
		.amd_certs = s->amd_certs,
		.amd_certs_len = s->amd_certs_len,
		.session = session,
		.session_len = sizeof(session),
	};
	rc = sevmig_fw_send_start(s->fw, &ss, &st);
	if (rc < 0)
		return SFAIL(s, rc, "SEND_START failed: %s", sevmig_fw_last_error(s->fw));
	s->started = true;
	s->policy = ss.policy;
	if (ss.session_len != SEVMIG_SESSION_SIZE)
		return SFAIL(s, -EPROTO, "SEND_START gave a %u-byte session", ss.session_len);
	if (s->policy & SEVMIG_POLICY_ES ? !s->vcpus : s->vcpus != 0)
		return SFAIL(s, -EINVAL,
			     s->vcpus ? "vcpus is set for a guest that is not SEV-ES"
				      : "an SEV-ES guest needs its vCPU count (the vcpus option)");

	hi.flags = (s->soft ? SEVMIG_STREAM_FLAG_SOFT : 0) |
		   (s->key_source ? SEVMIG_STREAM_FLAG_KEYED : 0);
	hi.policy = s->policy;
	rc = sevmig__writer_header(&s->w, &hi, &s->layout, s->secret);
	if (rc < 0)
		return SFAIL(s, rc, "writing the stream failed: %s", sevmig_strerror(rc));
	s->hdr_done = true;
	size_t len = SM_SESSION_FIXED + pdh_len + chain_len + SEVMIG_SESSION_SIZE;
	uint8_t p[SM_SESSION_FIXED + SEVMIG_CERT_SIZE + SM_CHAIN_SIZE + SEVMIG_SESSION_SIZE];
	sevmig__put_le32(p, s->policy);
	sevmig__put_le32(p + 4, pdh_len);
	sevmig__put_le32(p + 8, chain_len);
	sevmig__put_le32(p + 12, SEVMIG_SESSION_SIZE);
	sevmig__put_le32(p + 16, s->vcpus);
	sevmig__put_le32(p + 20, 0);
	memcpy(p + SM_SESSION_FIXED, pdh, pdh_len);
	memcpy(p + SM_SESSION_FIXED + pdh_len, chain, chain_len);
	memcpy(p + SM_SESSION_FIXED + pdh_len + chain_len, session, SEVMIG_SESSION_SIZE);
	rc = emit(s, SEVMIG_REC_SESSION, p, (uint32_t)len);
	OPENSSL_cleanse(session, sizeof(session));
	OPENSSL_cleanse(p, sizeof(p));
	SEVMIG__TRY(rc);
	return emit_pstate(s, ps, SEVMIG_PSTATE_FULL, layout_first(&s->layout),
			   layout_end(&s->layout));
}

/* After a pass: remember the page state it was sent with. */
static int remember(struct sevmig_sender *s, const struct sevmig_pstate *ps)
{
	struct sevmig_pstate *c;
	int rc = sevmig_pstate_clone(ps, &c, NULL);
	if (rc < 0)
		return SFAIL(s, rc, "out of memory");
	sevmig_pstate_free(s->last);
	s->last = c;
	return 0;
}

/* Close a pass that ran so far with result rc: the last batches, the ROUND
 * record, and `ps` kept as the state the next round diffs against. */
static int end_pass(struct sevmig_sender *s, const struct sevmig_pstate *ps, int rc)
{
	if (rc == 0)
		rc = flush_batches(s);
	if (rc == 0)
		rc = emit_round(s);
	if (rc == 0) {
		s->counts.bytes = s->w.bytes;
		sevmig__conv_end(&s->conv, now_ns(s), &s->counts, s->acked_pages);
	}
	if (rc == 0)
		rc = remember(s, ps);
	s->ps = NULL;
	return rc;
}

/* Sans-I/O: a call that writes records waits for the pass to be produced. */
static int not_busy(const struct sevmig_sender *s, struct sevmig_error *err)
{
	if (!s->pass.active)
		return 0;
	return sevmig__fail(err, -EBUSY, SEVMIG_NO_OFFSET, 0,
			    "the pass is still being produced (sevmig_sender_produce())");
}

/* The pass machinery: a word-by-word scan for the next run of pages. */

/* Bits of word w of slot k the pass wants: all, or dirty or changed. */
static uint64_t want_word(struct sevmig_sender *s, const struct sevmig__slot *sl, uint64_t w)
{
	uint64_t np = sl->npages;
	uint64_t mask = s->pass.all ? ~0ull : 0;
	const uint64_t *bm = s->pass.dirty ? s->pass.dirty[sl->user_idx] : NULL;
	if (bm)
		mask |= bm[w];
	uint64_t wlo = sl->gfn + w * 64, whi = wlo + 64;
	/* OR in the changed pages of this word; ranges wholly before it are
	 * done with (words are asked for in order). */
	while (s->pass.ci < s->pass.nchg &&
	       s->pass.chg[s->pass.ci].gfn + s->pass.chg[s->pass.ci].npages <= wlo)
		s->pass.ci++;
	for (size_t c = s->pass.ci; c < s->pass.nchg && s->pass.chg[c].gfn < whi; c++) {
		uint64_t a = s->pass.chg[c].gfn > wlo ? s->pass.chg[c].gfn : wlo;
		uint64_t b = s->pass.chg[c].gfn + s->pass.chg[c].npages;
		uint64_t e = b < whi ? b : whi;
		if (a < e) {
			unsigned lo = (unsigned)(a - wlo), cnt = (unsigned)(e - a);
			mask |= (cnt == 64 ? ~0ull : ((1ull << cnt) - 1)) << lo;
		}
	}
	if (np - w * 64 < 64)
		mask &= (1ull << (np - w * 64)) - 1;
	return mask;
}

/* The next run of wanted pages into pass.run_*: true, or false at the end. */
static bool next_run(struct sevmig_sender *s)
{
	for (; s->pass.k < s->layout.n; s->pass.k++, s->pass.page = 0) {
		const struct sevmig__slot *sl = &s->layout.slots[s->pass.k];
		uint64_t np = sl->npages, p = s->pass.page, m = 0;
		bool sparse = !s->pass.all && !(s->pass.dirty && s->pass.dirty[sl->user_idx]);
		/* The first wanted page at or after p. */
		while (p < np) {
			if (sparse) {
				/* Only changed pages: go straight to the next range. */
				size_t c = s->pass.ci;
				while (c < s->pass.nchg &&
				       s->pass.chg[c].gfn + s->pass.chg[c].npages <= sl->gfn + p)
					c++;
				if (c == s->pass.nchg || s->pass.chg[c].gfn >= sl->gfn + np) {
					p = np;
					break;
				}
				if (s->pass.chg[c].gfn > sl->gfn + p)
					p = s->pass.chg[c].gfn - sl->gfn;
			}
			m = want_word(s, sl, p / 64) & (~0ull << (p % 64));
			if (m)
				break;
			p = (p / 64 + 1) * 64;
		}
		if (p >= np)
			continue;
		uint64_t first = p / 64 * 64 + (uint64_t)__builtin_ctzll(m), q = first;
		/* The first page after it that is not wanted. */
		for (;;) {
			uint64_t w = q / 64;
			uint64_t z = ~want_word(s, sl, w) & (~0ull << (q % 64));
			if (z) {
				q = w * 64 + (uint64_t)__builtin_ctzll(z);
				break;
			}
			q = (w + 1) * 64;
			if (q >= np)
				break;
		}
		if (q > np)
			q = np;
		s->pass.run_gfn = sl->gfn + first;
		s->pass.run_left = q - first;
		s->pass.page = q;
		return true;
	}
	return false;
}

/* Pages sent per piece of a run: a sans-I/O caller regains control after
 * about this much work. */
#define SM_PIECE_PAGES 256u

/* Sans-I/O with worker threads: room for a piece (one ENC and one shared
 * batch at most: pieces are then a batch long) without waiting. */
static bool room_for_piece(struct sevmig_sender *s)
{
	unsigned inflight = sevmig__pool_inflight(s->pool);
	/* (A window below 2 has room only when empty, and may then wait.) */
	return sevmig__pool_free_count(s->pool) >= 2 && (inflight + 2 <= s->window || !inflight) &&
	       (s->enc_inflight < s->enc_window || !s->enc_inflight);
}

/* Sans-I/O with threads, at the end of a pass: submit the partial batches
 * when there is room: 1 while they (or others) are still in flight, 0 once
 * all are written, or a negative errno. */
static int flush_nowait(struct sevmig_sender *s)
{
	for (int k = 0; k < 2; k++) {
		if (!s->cur[k])
			continue;
		if (!room_for_piece(s))
			return 1;
		struct sjob *j = s->cur[k];
		s->cur[k] = NULL;
		int rc = submit(s, j);
		if (rc < 0) {
			release(s, j);
			return rc;
		}
	}
	return sevmig__pool_inflight(s->pool) ? 1 : 0;
}

/*
 * Send the pass onwards, a piece of a run at a time, until it is done (the
 * last batches and ROUND written: returns 0) or, with high_water, until the
 * output queue holds that many bytes (returns 1).
 */
static int produce(struct sevmig_sender *s, size_t high_water)
{
	int rc = 0;
	/* Sans-I/O with threads: never wait for the workers; the caller
	 * polls sevmig_sender_fd() when this returns 1 with no output. */
	bool nowait = s->queue && s->workers;
	while (s->pass.active && rc == 0) {
		if (high_water && sevmig__queue_pending(&s->out) >= high_water)
			return 1;
		if (nowait && (rc = sevmig__pool_retire_done(s->pool)) < 0) {
			rc = end_pass(s, s->ps, rc);
			break;
		}
		if (!s->pass.run_left && !s->pass.scanned && !next_run(s))
			s->pass.scanned = true;
		if (s->pass.scanned) {
			/* Without waiting, the last batches go once there is
			 * room, and the end once they are written. */
			int w = nowait ? flush_nowait(s) : 0;
			if (w > 0)
				return 1;
			rc = end_pass(s, s->ps, w);
			break;
		}
		if (nowait && !room_for_piece(s))
			return 1;
		uint64_t piece = nowait ? s->batch[SJ_ENC] : SM_PIECE_PAGES;
		uint64_t n = s->pass.run_left < piece ? s->pass.run_left : piece;
		long k = sevmig__layout_find(&s->layout, s->pass.run_gfn, NULL);
		rc = send_range(s, (uint32_t)k, s->pass.run_gfn, n);
		s->pass.run_gfn += n;
		s->pass.run_left -= n;
		if (rc < 0)
			rc = end_pass(s, s->ps, rc);
	}
	s->pass.active = false;
	s->pass.scanned = false;
	free(s->pass.chg);
	s->pass.chg = NULL;
	sevmig_pstate_free(s->pass.delta);
	s->pass.delta = NULL;
	sevmig__dirty_free(s->pass.own_dirty, s->layout.n);
	s->pass.own_dirty = NULL;
	free(s->pass.dirty);
	s->pass.dirty = NULL;
	return rc;
}

/* Begin a pass over `ps` (all pages, or the dirty and changed ones). */
static int begin_pass(struct sevmig_sender *s, const struct sevmig_pstate *ps, bool all,
		      const uint64_t *const *dirty)
{
	s->ps = ps;
	s->pass.active = true;
	s->pass.all = all;
	s->pass.dirty = NULL;
	if (dirty) {
		s->pass.dirty = malloc(s->layout.n * sizeof(*s->pass.dirty));
		if (!s->pass.dirty)
			return SFAIL(s, -ENOMEM, "out of memory");
		memcpy(s->pass.dirty, dirty, s->layout.n * sizeof(*s->pass.dirty));
	}
	s->pass.ci = 0;
	s->pass.k = 0;
	s->pass.page = 0;
	s->pass.run_left = 0;
	return 0;
}

/* Run the pass: to its end (blocking), or to the first high-water mark of
 * the output queue (sans-I/O; sevmig_sender_produce() goes on). */
static int run_pass(struct sevmig_sender *s)
{
	int rc = produce(s, s->queue ? SEVMIG_SENDER_HIGH_WATER : 0);
	return rc < 0 ? rc : 0;
}

int sevmig_sender_send_all(struct sevmig_sender *s, const struct sevmig_pstate *ps,
			   struct sevmig_error *err)
{
	SEVMIG__TRY(enter(s, err));
	if (s->state != S_NEW)
		return sevmig__fail(err, -EPROTO, SEVMIG_NO_OFFSET, 0,
				    "the first pass was already sent");
	if (s->back_pushed && !s->have_hello)
		return sevmig__fail(
		    err, -EAGAIN, SEVMIG_NO_OFFSET, 0,
		    "the target's HELLO has not arrived (sevmig_sender_push_back())");
	int rc = check_ps(s, ps);
	if (rc < 0) {
		if (err)
			*err = s->fail;
		return rc;
	}
	s->ps = ps;
	s->counts.bytes = s->w.bytes;
	sevmig__conv_begin(&s->conv, now_ns(s), &s->counts);
	rc = start(s, ps);
	if (rc < 0 && !s->started) {
		/* Nothing was written and the guest never left RUNNING. */
		s->state = S_DEAD;
		s->dead_rc = rc;
		if (err)
			*err = s->fail;
		return rc;
	}
	s->state = S_STREAMING;
	if (rc == 0)
		rc = begin_pass(s, ps, true, NULL);
	if (rc == 0)
		rc = run_pass(s);
	return leave(s, rc, err);
}

int sevmig_sender_send_dirty(struct sevmig_sender *s, const struct sevmig_pstate *ps,
			     const uint64_t *const *dirty, struct sevmig_error *err)
{
	SEVMIG__TRY(enter(s, err));
	if (s->state != S_STREAMING)
		return sevmig__fail(err, -EPROTO, SEVMIG_NO_OFFSET, 0,
				    s->state == S_NEW ? "send_dirty before the first pass"
						      : "send_dirty after vCPU state or finish");
	SEVMIG__TRY(not_busy(s, err));
	int rc = check_ps(s, ps);
	if (rc < 0) {
		if (err)
			*err = s->fail;
		return rc;
	}
	struct sevmig_pstate *delta = NULL;
	struct sevmig_range *chg = NULL;
	size_t nchg = 0;
	s->counts.bytes = s->w.bytes;
	sevmig__conv_begin(&s->conv, now_ns(s), &s->counts);
	rc = sevmig_pstate_delta(s->last, ps, &delta);
	if (rc < 0)
		rc = SFAIL(s, rc, "computing the page-state delta failed: %s", sevmig_strerror(rc));
	if (rc == 0) {
		nchg = sevmig_pstate_slot_count(delta);
		chg = calloc(nchg ? nchg : 1, sizeof(*chg));
		if (!chg)
			rc = SFAIL(s, -ENOMEM, "out of memory");
		for (size_t i = 0; i < nchg && rc == 0; i++)
			rc = sevmig_pstate_slot(delta, i, &chg[i]);
	}
	if (rc == 0 && nchg)
		rc = emit_pstate(s, delta, SEVMIG_PSTATE_DELTA, layout_first(&s->layout),
				 layout_end(&s->layout));
	if (rc < 0) {
		free(chg);
		sevmig_pstate_free(delta);
		return leave(s, rc, err);
	}
	rc = begin_pass(s, ps, false, dirty);
	s->pass.chg = chg;
	s->pass.nchg = nchg;
	s->pass.delta = delta;
	if (rc < 0) {
		s->pass.active = false;
		free(chg);
		sevmig_pstate_free(delta);
		s->pass.chg = NULL;
		s->pass.delta = NULL;
		return leave(s, rc, err);
	}
	return leave(s, run_pass(s), err);
}

int sevmig_sender_send_dirty_list(struct sevmig_sender *s, const struct sevmig_pstate *ps,
				  const struct sevmig_dirty_list *d, struct sevmig_error *err)
{
	if (!s)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no sender");
	uint64_t **bm;
	/* A bad list is the caller's mistake, found before anything is
	 * written: the sender stays usable. */
	SEVMIG__TRY(sevmig__dirty_bitmaps(&s->layout, d, &bm, err));
	int rc = sevmig_sender_send_dirty(s, ps, (const uint64_t *const *)bm, err);
	if (s->pass.active)
		s->pass.own_dirty = bm; /* sans-I/O: the pass goes on reading them */
	else
		sevmig__dirty_free(bm, s->layout.n);
	return rc;
}

int sevmig_sender_send_vmm(struct sevmig_sender *s, uint32_t vendor, uint32_t type,
			   const void *data, size_t len, struct sevmig_error *err)
{
	SEVMIG__TRY(enter(s, err));
	SEVMIG__TRY(not_busy(s, err));
	if (s->state != S_STREAMING && s->state != S_VMSA)
		return sevmig__fail(err, -EPROTO, SEVMIG_NO_OFFSET, 0,
				    "VMM records go after the first pass has begun and before "
				    "finish");
	if ((len && !data) || len > SEVMIG_VMM_MAX_SIZE)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "a VMM object of %zu bytes (at most %u, and data for them)",
				    len, SEVMIG_VMM_MAX_SIZE);
	size_t chunk = len < SM_VMM_CHUNK ? len : SM_VMM_CHUNK;
	uint8_t *rec = malloc(SM_REC_OVERHEAD + SM_VMM_FIXED + chunk);
	int rc = rec ? 0 : SFAIL(s, -ENOMEM, "out of memory");
	size_t off = 0;
	do {
		size_t n = len - off < SM_VMM_CHUNK ? len - off : SM_VMM_CHUNK;
		uint8_t *p = rec + SM_REC_HDR;
		sevmig__put_le32(p, vendor);
		sevmig__put_le32(p + 4, type);
		sevmig__put_le32(p + 8, (off == 0 ? SM_VMM_FIRST : 0) |
					    (off + n == len ? SM_VMM_LAST : 0));
		sevmig__put_le32(p + 12, 0);
		sevmig__put_le64(p + 16, len);
		sevmig__put_le64(p + 24, off);
		if (n)
			memcpy(p + SM_VMM_FIXED, (const uint8_t *)data + off, n);
		rc = write_record(s, rec, SEVMIG_REC_VMM, (uint32_t)(SM_VMM_FIXED + n));
		s->counts.vmm_records += rc == 0;
		off += n;
	} while (rc == 0 && off < len);
	s->counts.vmm_objects += rc == 0;
	free(rec);
	return leave(s, rc, err);
}

int sevmig_sender_send_vmsa(struct sevmig_sender *s, uint32_t vcpu, const void *vmsa,
			    struct sevmig_error *err)
{
	SEVMIG__TRY(enter(s, err));
	SEVMIG__TRY(not_busy(s, err));
	if (s->state != S_STREAMING && s->state != S_VMSA)
		return sevmig__fail(err, -EPROTO, SEVMIG_NO_OFFSET, 0,
				    "vCPU state goes after the first pass and before finish");
	if (!(s->policy & SEVMIG_POLICY_ES) || vcpu >= s->vcpus)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "vCPU state needs an SEV-ES guest and a vCPU index below the "
				    "%u declared",
				    s->vcpus);
	uint8_t rec[SM_REC_OVERHEAD + SM_VMSA_LEN];
	uint8_t *p = rec + SM_REC_HDR;
	sevmig__vmsa_put_head(p, vcpu);
	struct sevmig_fw_send_update u = {
		.guest = vmsa,
		.guest_len = SEVMIG_VMSA_SIZE,
		.hdr = sevmig__vmsa_packet_w(p),
		.hdr_len = SM_PKT_HDR,
		.trans = sevmig__vmsa_packet_w(p) + SM_PKT_HDR,
		.trans_len = SM_PAGE,
	};
	uint32_t st = SEVMIG_FW_STATUS_NONE;
	int rc = sevmig_fw_send_update_vmsa(s->fw, vcpu, &u, &st);
	if (rc < 0)
		rc = SFAIL(s, rc, "SEND_UPDATE_VMSA of vCPU %u failed: %s", vcpu,
			   sevmig_fw_last_error(s->fw));
	else if (u.hdr_len != SM_PKT_HDR || u.trans_len != SM_PAGE)
		rc = SFAIL(s, -EPROTO, "SEND_UPDATE_VMSA gave %u + %u bytes", u.hdr_len,
			   u.trans_len);
	if (rc == 0)
		rc = write_record(s, rec, SEVMIG_REC_VMSA, SM_VMSA_LEN);
	if (rc == 0) {
		s->counts.vmsa++;
		s->state = S_VMSA;
	}
	return leave(s, rc, err);
}

static int send_finish(struct sevmig_sender *s)
{
	uint32_t st = SEVMIG_FW_STATUS_NONE;
	int rc = sevmig_fw_send_finish(s->fw, &st);
	if (rc < 0)
		return SFAIL(s, rc, "SEND_FINISH failed: %s", sevmig_fw_last_error(s->fw));
	/* The guest has left SUPDATE: there is nothing to cancel any more. */
	s->started = false;
	return 0;
}

/* After END: the target's ACKs, then COMMIT (or NAK). */
static int await_commit(struct sevmig_sender *s)
{
	for (;;) {
		struct sevmig__back_msg m;
		int rc = back_next(s, &m);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return SFAIL(
			    s, -ECONNRESET,
			    "the target closed the connection without COMMIT: the migration "
			    "is not acknowledged");
		if (m.type == SEVMIG_BACK_NAK)
			return nak_fail(s, &m);
		if (m.type != SEVMIG_BACK_COMMIT)
			continue;
		if (m.records != s->w.seq - 1 || CRYPTO_memcmp(m.end_tag, s->w.last_tag, SM_TAG))
			return SFAIL(s, -EBADMSG,
				     "back-channel: COMMIT names END %" PRIu64
				     " of another stream, not END %" PRIu64 " of this one",
				     m.records, s->w.seq - 1);
		return 0;
	}
}

int sevmig_sender_finish(struct sevmig_sender *s, struct sevmig_error *err)
{
	SEVMIG__TRY(enter(s, err));
	SEVMIG__TRY(not_busy(s, err));
	if (s->state != S_STREAMING && s->state != S_VMSA)
		return sevmig__fail(err, -EPROTO, SEVMIG_NO_OFFSET, 0,
				    s->state == S_NEW ? "finish before the first pass"
						      : "the sender has already finished");
	if (s->counts.vmsa != s->vcpus)
		return sevmig__fail(err, -EPROTO, SEVMIG_NO_OFFSET, 0,
				    "the state of %" PRIu64 " of the %u vCPUs was sent (each "
				    "needs sevmig_sender_send_vmsa())",
				    s->counts.vmsa, s->vcpus);
	/* One way, nobody can answer: finish, then say so. With a target that
	 * answers, the guest stays resumable until its COMMIT. */
	int rc = s->back_read ? 0 : send_finish(s);
	uint8_t rec[SM_REC_OVERHEAD + SM_END_LEN];
	uint8_t *p = rec + SM_REC_HDR;
	memset(p, 0, SM_END_LEN);
	sevmig__put_le64(p, s->w.seq);
	sevmig__put_le64(p + 8, s->counts.rounds);
	sevmig__put_le64(p + 16, s->counts.pstate_records);
	sevmig__put_le64(p + 24, s->counts.enc_pages);
	sevmig__put_le64(p + 32, s->counts.plain_pages);
	sevmig__put_le64(p + 40, s->counts.zero_pages);
	sevmig__put_le64(p + 48, s->counts.vmsa);
	sevmig__put_le64(p + 56, s->counts.vmm_records);
	if (rc == 0) {
		rc = sevmig__writer_record(&s->w, rec, SEVMIG_REC_END, SM_END_LEN);
		if (rc < 0)
			rc = SFAIL(s, rc, "writing the stream failed: %s", sevmig_strerror(rc));
	}
	if (rc == 0) {
		s->end_done = true;
		s->counts.records = s->w.seq - 1;
		s->counts.bytes = s->w.bytes;
	}
	if (rc == 0 && s->back_pushed) {
		/* COMMIT comes through sevmig_sender_push_back(). */
		s->state = S_ENDED;
		return leave(s, 0, err);
	}
	if (rc == 0 && s->back_read) {
		rc = await_commit(s);
		if (rc == 0)
			rc = send_finish(s);
		s->acked = rc == 0;
	}
	if (rc < 0)
		return leave(s, rc, err);
	s->state = S_DONE;
	if (s->progress)
		s->progress(s->progress_arg, &s->counts);
	return 0;
}

int sevmig_sender_produce(struct sevmig_sender *s, struct sevmig_error *err)
{
	SEVMIG__TRY(enter(s, err));
	if (!s->pass.active)
		return 0;
	int rc = produce(s, s->queue ? SEVMIG_SENDER_HIGH_WATER : 0);
	return rc < 0 ? leave(s, rc, err) : rc;
}

size_t sevmig_sender_output(struct sevmig_sender *s, void *buf, size_t cap)
{
	if (!s || !buf)
		return 0;
	size_t n = sevmig__queue_pending(&s->out) < cap ? sevmig__queue_pending(&s->out) : cap;
	if (!n)
		return 0;
	return sevmig__queue_take(&s->out, buf, sevmig__pace_allow(&s->pace, now_ns(s), n));
}

uint64_t sevmig_sender_output_wait_ns(struct sevmig_sender *s)
{
	return s ? sevmig__pace_wait_ns(&s->pace, now_ns(s)) : 0;
}

int sevmig_sender_round_stats(const struct sevmig_sender *s, struct sevmig_round_stats *st)
{
	return s ? sevmig__conv_stats(&s->conv, st) : -EINVAL;
}

int sevmig_sender_estimate_downtime(const struct sevmig_sender *s, uint64_t dirty_pages,
				    struct sevmig_downtime_estimate *e)
{
	return s ? sevmig__conv_estimate(&s->conv, dirty_pages, e) : -EINVAL;
}

int sevmig_sender_converge(const struct sevmig_sender *s, uint64_t dirty_pages, uint64_t target_ns,
			   unsigned max_rounds)
{
	return s ? sevmig__conv_decide(&s->conv, dirty_pages, target_ns, max_rounds) : -EINVAL;
}

int sevmig_sender_fd(struct sevmig_sender *s)
{
	return s ? sevmig__pool_fd(s->pool) : -EINVAL;
}

size_t sevmig_sender_output_pending(const struct sevmig_sender *s)
{
	return s ? sevmig__queue_pending(&s->out) : 0;
}

/* One whole back-channel message, pushed: 1 for the COMMIT that ends the
 * migration, 0 for others. */
static int take_back(struct sevmig_sender *s)
{
	struct sevmig__back_msg m;
	int rc = back_next(s, &m);
	if (rc <= 0)
		return rc < 0 ? rc : SFAIL(s, -EPROTO, "back-channel: a message was cut short");
	if (m.type == SEVMIG_BACK_HELLO) {
		memcpy(s->hello_nonce, m.nonce, 16);
		s->have_hello = true;
		return 0;
	}
	if (m.type == SEVMIG_BACK_NAK)
		return nak_fail(s, &m);
	if (m.type != SEVMIG_BACK_COMMIT)
		return 0;
	if (s->state != S_ENDED)
		return SFAIL(s, -EPROTO, "back-channel: COMMIT before END was sent");
	if (m.records != s->w.seq - 1 || CRYPTO_memcmp(m.end_tag, s->w.last_tag, SM_TAG))
		return SFAIL(s, -EBADMSG,
			     "back-channel: COMMIT names END %" PRIu64
			     " of another stream, not END %" PRIu64 " of this one",
			     m.records, s->w.seq - 1);
	SEVMIG__TRY(send_finish(s));
	s->acked = true;
	s->state = S_DONE;
	if (s->progress)
		s->progress(s->progress_arg, &s->counts);
	return 1;
}

int sevmig_sender_push_back(struct sevmig_sender *s, const void *buf, size_t len,
			    struct sevmig_error *err)
{
	if (!s || !s->back_pushed || (!buf && len))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "push_back: a sender with back_buffered, and the bytes");
	if (s->state == S_DONE)
		return 1;
	SEVMIG__TRY(enter(s, err));
	if (len && sevmig__queue_push(&s->bin, buf, len) < 0)
		return leave(s, SFAIL(s, -ENOMEM, "out of memory"), err);
	int rc = 0;
	while (rc == 0) {
		size_t have = sevmig__queue_pending(&s->bin);
		if (!have || have < sevmig__back_size(sevmig__queue_front(&s->bin), have))
			break;
		rc = take_back(s);
	}
	if (rc < 0)
		return leave(s, rc, err);
	return rc;
}

bool sevmig_sender_acknowledged(const struct sevmig_sender *s)
{
	return s->acked;
}

void sevmig_sender_acked(const struct sevmig_sender *s, uint64_t *records, uint64_t *pages)
{
	if (records)
		*records = s->acked_records;
	if (pages)
		*pages = s->acked_pages;
}

void sevmig__sender_set_pstate_limit(struct sevmig_sender *s, size_t bytes)
{
	s->pstate_max = bytes;
}

void sevmig_sender_cancel(struct sevmig_sender *s)
{
	if (!s)
		return;
	atomic_store(&s->cancel, 1);
	sevmig__pool_stop(s->pool);
}

void sevmig_sender_counts(const struct sevmig_sender *s, struct sevmig_stream_counts *c)
{
	sevmig__out_fill(c, &s->counts, sizeof(s->counts));
}

void sevmig_sender_uuid(const struct sevmig_sender *s, uint8_t uuid[16])
{
	memcpy(uuid, s->uuid, 16);
}

void sevmig_sender_free(struct sevmig_sender *s)
{
	if (!s)
		return;
	if (s->pool && s->started && s->state != S_DEAD && s->state != S_DONE) {
		sevmig_error_clear(&s->fail);
		sender_fail(s, SFAIL(s, -ECANCELED, "cancelled: the sender was freed"), NULL);
	}
	sevmig__pool_free(s->pool);
	sevmig__writer_fini(&s->w);
	for (unsigned i = 0; s->jobs && i < s->njobs; i++) {
		free(s->jobs[i].gfn);
		free(s->jobs[i].slot);
		free(s->jobs[i].idx);
		sevmig__buf_free(&s->jobs[i].out);
	}
	free(s->jobs);
	for (unsigned i = 0; s->wctx && i < s->nwctx; i++) {
		ZSTD_freeCCtx(s->wctx[i].cctx);
		free(s->wctx[i].gather);
	}
	free(s->wctx);
	free(s->target_pdh);
	free(s->target_chain);
	free(s->amd_certs);
	OPENSSL_cleanse(s->secret, sizeof(s->secret));
	sevmig_pstate_free(s->last);
	free(s->pass.chg);
	sevmig_pstate_free(s->pass.delta);
	sevmig__dirty_free(s->pass.own_dirty, s->layout.n);
	free(s->pass.dirty);
	sevmig__layout_free(&s->layout);
	sevmig__queue_free(&s->out);
	sevmig__queue_free(&s->bin);
	free(s);
}
