/* SPDX-License-Identifier: MIT */
/*
 * The binary form of a page-state map, version 1 (docs/pstate-format.md is
 * the specification; this file follows it section by section).
 *
 * Built on the public pstate API only: the writer walks the shared runs slot
 * by slot and exports the bitmap in windows, the reader adds the slots and
 * sets the shared pages, so the core's representation stays its own. Both
 * directions stream: neither holds more than a 64 KiB window of bitmap, and
 * a compressed payload is decompressed window by window into the map.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h>

#include <sevmig/pstate.h>

#include "pstate/pstate_forms.h"
#include "util/buf.h"
#include "util/crc32c.h"
#include "util/endian.h"
#include "util/error.h"
#include "util/varint.h"

static const uint8_t magic[8] = { 0x89, 'S', 'V', 'P', 'S', '\r', '\n', 0x1a };

enum {
	HDR_LEN = 16,
	CRC_LEN = 4,
	MIN_LEN = HDR_LEN + 1 + CRC_LEN, /* the empty map */
	FORMAT_VERSION = 1,
	ENC_RUNS = 0,
	ENC_BITMAP = 1,
	F_ENC = 0x3,
	F_ZSTD = 0x4,
	F_KNOWN = 0x7,
	ZSTD_WLOG = 20, /* 1 MiB window: bounds a reader's memory */
	ZSTD_MAX_LEVEL = 19,
	ZSTD_MIN_RAW = 64, /* smaller payloads do not gain enough to try */
	WIN_BYTES = 65536, /* bitmap window, both directions */
	STAGE_BYTES = 2 * WIN_BYTES,
};
#define WIN_PAGES ((uint64_t)WIN_BYTES * 8)

bool sevmig__pstate_is_binary(const void *buf, size_t len)
{
	if (len >= sizeof(magic))
		return !memcmp(buf, magic, sizeof(magic));
	return len >= 4 && !memcmp(buf, magic, len);
}

/* ---- coverage ------------------------------------------------------------ */

struct cov {
	struct sevmig_range *slot;
	size_t n;
	uint64_t pages; /* C: covered pages */
};

static int cov_collect(const struct sevmig_pstate *ps, struct cov *c)
{
	c->n = sevmig_pstate_slot_count(ps);
	c->pages = 0;
	c->slot = malloc((c->n ? c->n : 1) * sizeof(*c->slot));
	if (!c->slot)
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++) {
		int rc = sevmig_pstate_slot(ps, i, &c->slot[i]);
		if (rc) {
			free(c->slot);
			return rc;
		}
		c->pages += c->slot[i].npages;
	}
	return 0;
}

/* ---- writer: RUNS ---------------------------------------------------------- */

/*
 * Shared runs in page-index space (section 1.3), appended to a buffer in one
 * walk. The walk reports runs per slot; a run that ends a slot and one that
 * starts the next are contiguous in index space, so runs are held back one
 * step to be merged. Past `limit` the bitmap is smaller and the walk stops.
 */
struct runenc {
	uint64_t base;	   /* page index of the current slot's first page */
	uint64_t slot_gfn; /* gfn of the current slot's first page */
	uint64_t prev_end; /* page index after the last emitted run */
	uint64_t pend_start, pend_len;
	uint64_t count; /* runs emitted */
	struct sevmig__buf *out;
	size_t limit;
};

/* 0, 1 when the output has passed the limit, or -ENOMEM. */
static int run_emit(struct runenc *e)
{
	struct sevmig__buf *o = e->out;
	if (o->cap - o->len < 2 * SEVMIG__VARINT_MAX)
		SEVMIG__TRY(sevmig__buf_reserve(o, 2 * SEVMIG__VARINT_MAX));
	uint64_t gap = e->pend_start - e->prev_end;
	o->len += sevmig__varint_put(o->data + o->len, gap << 1 | (e->pend_len == 1));
	if (e->pend_len > 1)
		o->len += sevmig__varint_put(o->data + o->len, e->pend_len - 2);
	e->count++;
	e->prev_end = e->pend_start + e->pend_len;
	return o->len > e->limit;
}

static int run_visit(void *arg, uint64_t gfn, uint64_t npages)
{
	struct runenc *e = arg;
	uint64_t start = e->base + (gfn - e->slot_gfn);
	if (e->pend_len && e->pend_start + e->pend_len == start) {
		e->pend_len += npages;
		return 0;
	}
	int rc = e->pend_len ? run_emit(e) : 0;
	e->pend_start = start;
	e->pend_len = npages;
	return rc;
}

/* 0 when every run is written, 1 when they passed the limit, or < 0. */
static int runs_walk(const struct sevmig_pstate *ps, const struct cov *c, struct runenc *e)
{
	e->base = 0;
	for (size_t i = 0; i < c->n; i++) {
		e->slot_gfn = c->slot[i].gfn;
		int rc = sevmig_pstate_walk(ps, c->slot[i].gfn, c->slot[i].npages,
					    SEVMIG_PAGE_SHARED, run_visit, e);
		if (rc)
			return rc;
		e->base += c->slot[i].npages;
	}
	return e->pend_len ? run_emit(e) : 0;
}

/* ---- writer: BITMAP ---------------------------------------------------------- */

/*
 * Bits in covered-page order, packed LSB first. Slots need not start on a
 * byte boundary of the output, so each exported window is shifted into a
 * staging buffer whose whole bytes go to `flush`.
 */
struct bitsink {
	uint8_t *stage; /* STAGE_BYTES, zero-initialised */
	uint64_t nbits; /* bits held in stage */
	int (*flush)(void *arg, const uint8_t *p, size_t n);
	void *arg;
};

static int sink_flush(struct bitsink *s, bool final)
{
	size_t whole = (size_t)(final ? (s->nbits + 7) / 8 : s->nbits / 8);
	int rc = s->flush(s->arg, s->stage, whole);
	if (rc)
		return rc;
	/* The bits of a partial byte stay; the rest of the stage is stale but
	 * is always written before it is read (see sink_bits). */
	s->stage[0] = final || !(s->nbits % 8) ? 0 : s->stage[whole];
	s->nbits = final ? 0 : s->nbits % 8;
	return 0;
}

/* Append n <= WIN_PAGES bits taken from src, which starts at bit 0. */
static int sink_bits(struct bitsink *s, const uint8_t *src, uint64_t n)
{
	if (s->nbits + n > (uint64_t)STAGE_BYTES * 8) {
		int rc = sink_flush(s, false);
		if (rc)
			return rc;
	}
	size_t bi = (size_t)(s->nbits / 8), nb = (size_t)((n + 7) / 8);
	unsigned sh = s->nbits % 8, tail = n % 8;
	uint8_t *d = s->stage + bi;
	if (!sh) {
		memcpy(d, src, nb);
		if (tail)
			d[nb - 1] &= (uint8_t)((1u << tail) - 1);
	} else {
		/* d[0] holds sh bits and zeros above them; every later byte is
		 * assigned before it is or-ed into. */
		for (size_t j = 0; j < nb; j++) {
			unsigned b = src[j];
			if (j == nb - 1 && tail)
				b &= (1u << tail) - 1;
			d[j] |= (uint8_t)(b << sh);
			if (bi + j + 1 < STAGE_BYTES)
				d[j + 1] = (uint8_t)(b >> (8 - sh));
		}
	}
	s->nbits += n;
	return 0;
}

static int bitmap_walk(const struct sevmig_pstate *ps, const struct cov *c, struct bitsink *s,
		       uint8_t *win)
{
	for (size_t i = 0; i < c->n; i++) {
		uint64_t gfn = c->slot[i].gfn, left = c->slot[i].npages;
		while (left) {
			uint64_t k = left < WIN_PAGES ? left : WIN_PAGES;
			SEVMIG__TRY(sevmig_pstate_to_bitmap(ps, gfn, k, win, WIN_BYTES));
			SEVMIG__TRY(sink_bits(s, win, k));
			gfn += k;
			left -= k;
		}
	}
	return sink_flush(s, true);
}

static int flush_append(void *arg, const uint8_t *p, size_t n)
{
	return sevmig__buf_append(arg, p, n);
}

/* ---- writer: zstd ------------------------------------------------------------ */

/* Compressed bytes go to `out` but may not reach `limit`: past it the raw
 * encoding is smaller, and compressing further would be wasted. */
struct zsink {
	ZSTD_CCtx *cc;
	struct sevmig__buf *out;
	size_t limit;
};

static int zsink_feed(struct zsink *z, const uint8_t *p, size_t n, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = { p, n, 0 };
	for (;;) {
		struct sevmig__buf *o = z->out;
		if (o->len >= z->limit)
			return -ENOSPC;
		size_t room = z->limit - o->len, chunk = ZSTD_CStreamOutSize();
		if (room > chunk)
			room = chunk;
		SEVMIG__TRY(sevmig__buf_reserve(o, room));
		ZSTD_outBuffer ob = { o->data + o->len, room, 0 };
		size_t r = ZSTD_compressStream2(z->cc, &ob, &in, mode);
		o->len += ob.pos;
		if (ZSTD_isError(r))
			return -ENOMEM; /* workspace allocation is all that can fail */
		if (mode == ZSTD_e_end ? r == 0 : in.pos == in.size)
			return 0;
	}
}

static int flush_zstd(void *arg, const uint8_t *p, size_t n)
{
	return zsink_feed(arg, p, n, ZSTD_e_continue);
}

static ZSTD_CCtx *cctx_new(int level)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	if (!cc)
		return NULL;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, ZSTD_WLOG))) {
		ZSTD_freeCCtx(cc);
		return NULL;
	}
	return cc;
}

/*
 * Replace the raw payload out[at, at + raw) by its compressed form when that
 * is smaller. Returns 1 when it did, 0 when raw stays, or a negative errno.
 */
static int compress_in_place(ZSTD_CCtx *cc, struct sevmig__buf *out, size_t at, size_t raw)
{
	size_t vlen = sevmig__varint_len(raw);
	if (raw <= vlen + 1)
		return 0;
	size_t cap = raw - vlen - 1;
	uint8_t *tmp = malloc(cap);
	if (!tmp)
		return -ENOMEM;
	size_t n = ZSTD_compress2(cc, tmp, cap, out->data + at, raw);
	if (ZSTD_isError(n)) {
		free(tmp);
		/* dstSize_tooSmall: no gain; anything else is workspace memory. */
		return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ? 0 : -ENOMEM;
	}
	out->len = at + sevmig__varint_put(out->data + at, raw);
	memcpy(out->data + out->len, tmp, n);
	out->len += n;
	free(tmp);
	return 1;
}

/* ---- writer ------------------------------------------------------------------ */

/*
 * The RUNS payload at out->len when it is no larger than `bitmap_raw`:
 * returns 0 with it written, 1 (and nothing written) when BITMAP is smaller,
 * or a negative errno. The count goes first but is known last, so the runs
 * are written after room for it and moved down.
 */
static int put_runs(const struct sevmig_pstate *ps, const struct cov *c, struct sevmig__buf *out,
		    uint64_t bitmap_raw)
{
	size_t at = out->len;
	if (bitmap_raw > SIZE_MAX - at - SEVMIG__VARINT_MAX)
		bitmap_raw = SIZE_MAX - at - SEVMIG__VARINT_MAX;
	SEVMIG__TRY(sevmig__buf_reserve(out, SEVMIG__VARINT_MAX));
	out->len += SEVMIG__VARINT_MAX;
	size_t start = out->len;
	struct runenc e = { .out = out, .limit = start + (size_t)bitmap_raw };
	int rc = runs_walk(ps, c, &e);
	size_t bytes = out->len - start, vlen = sevmig__varint_len(e.count);
	if (rc || vlen + bytes > bitmap_raw) {
		out->len = at;
		return rc < 0 ? rc : 1;
	}
	sevmig__varint_put(out->data + at, e.count);
	memmove(out->data + at + vlen, out->data + start, bytes);
	out->len = at + vlen + bytes;
	return 0;
}

static int put_bitmap(const struct sevmig_pstate *ps, const struct cov *c, struct sevmig__buf *out,
		      ZSTD_CCtx *cc, uint64_t raw)
{
	if (raw > SIZE_MAX)
		return -ENOMEM;
	uint8_t *mem = calloc(1, WIN_BYTES + STAGE_BYTES);
	if (!mem)
		return -ENOMEM;
	struct bitsink s = { .stage = mem + WIN_BYTES };
	int rc;
	if (cc) {
		size_t at = out->len, vlen = sevmig__varint_len(raw);
		struct zsink z = { cc, out, at + (size_t)raw };
		rc = sevmig__buf_reserve(out, vlen);
		if (rc)
			goto out;
		out->len += sevmig__varint_put(out->data + out->len, raw);
		s.flush = flush_zstd;
		s.arg = &z;
		rc = ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cc, raw)) ? -ENOMEM : 0;
		if (!rc)
			rc = bitmap_walk(ps, c, &s, mem);
		if (!rc)
			rc = zsink_feed(&z, NULL, 0, ZSTD_e_end);
		if (!rc && out->len - at >= raw)
			rc = -ENOSPC;
		if (rc != -ENOSPC)
			goto out;
		/* Compression does not pay: write the raw bitmap instead. */
		out->len = at;
		rc = 1;
		goto out;
	}
	rc = sevmig__buf_reserve(out, (size_t)raw);
	if (!rc) {
		s.flush = flush_append;
		s.arg = out;
		rc = bitmap_walk(ps, c, &s, mem);
	}
out:
	free(mem);
	return rc;
}

int sevmig_pstate_serialize(const struct sevmig_pstate *ps,
			    const struct sevmig_pstate_save_opts *opts, void **buf, size_t *len)
{
	if (!ps || !buf || !len || !sevmig__opts_valid(opts, sizeof(*opts), sizeof(size_t)))
		return -EINVAL;
	int level = SEVMIG__OPT(opts, zstd_level, 0);
	if (level < 0 || level > ZSTD_MAX_LEVEL)
		return -EINVAL;

	struct cov c;
	SEVMIG__TRY(cov_collect(ps, &c));
	struct sevmig__buf out = { 0 };
	ZSTD_CCtx *cc = NULL;

	/* Header and coverage (sections 1.1, 1.2). */
	int rc = sevmig__buf_reserve(&out, HDR_LEN + SEVMIG__VARINT_MAX * (1 + 2 * c.n));
	if (rc)
		goto fail;
	memcpy(out.data, magic, sizeof(magic));
	sevmig__put_le16(out.data + 8, FORMAT_VERSION);
	sevmig__put_le16(out.data + 10, 0); /* flags: below */
	sevmig__put_le32(out.data + 12, SEVMIG_PAGE_SIZE);
	out.len = HDR_LEN;
	out.len += sevmig__varint_put(out.data + out.len, c.n);
	uint64_t prev_end = 0;
	for (size_t i = 0; i < c.n; i++) {
		out.len += sevmig__varint_put(out.data + out.len, c.slot[i].gfn - prev_end);
		out.len += sevmig__varint_put(out.data + out.len, c.slot[i].npages);
		prev_end = c.slot[i].gfn + c.slot[i].npages;
	}

	/* Payload (1.3 to 1.5): RUNS when no larger than BITMAP; compressed
	 * only when that is smaller still. */
	size_t at = out.len;
	uint64_t bitmap_raw = (c.pages + 7) / 8;
	rc = put_runs(ps, &c, &out, bitmap_raw);
	if (rc < 0)
		goto fail;
	unsigned flags = rc ? ENC_BITMAP : ENC_RUNS;
	uint64_t raw = rc ? bitmap_raw : out.len - at;
	if (level && raw >= ZSTD_MIN_RAW) {
		cc = cctx_new(level);
		if (!cc) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	if (flags == ENC_RUNS) {
		rc = cc ? compress_in_place(cc, &out, at, (size_t)raw) : 0;
		flags |= rc == 1 ? F_ZSTD : 0;
		rc = rc < 0 ? rc : 0;
	} else {
		rc = put_bitmap(ps, &c, &out, cc, raw);
		if (!rc && cc)
			flags |= F_ZSTD;
		if (rc == 1)
			rc = put_bitmap(ps, &c, &out, NULL, raw);
	}
	if (rc)
		goto fail;
	sevmig__put_le16(out.data + 10, (uint16_t)flags);

	/* Checksum (1.6). */
	rc = sevmig__buf_reserve(&out, CRC_LEN);
	if (rc)
		goto fail;
	sevmig__put_le32(out.data + out.len, sevmig__crc32c(0, out.data, out.len));
	out.len += CRC_LEN;
	ZSTD_freeCCtx(cc);
	free(c.slot);
	*buf = sevmig__buf_take(&out, len);
	return 0;
fail:
	ZSTD_freeCCtx(cc);
	free(c.slot);
	sevmig__buf_free(&out);
	return rc;
}

/* ---- reader: a byte source over raw bytes or a zstd frame ------------------- */

struct rd {
	const uint8_t *p; /* current window */
	size_t n, pos;
	uint64_t done; /* payload bytes of the windows before this one */
	uint64_t base; /* file offset of the raw bytes, or of the zstd frame */
	ZSTD_DCtx *z;  /* NULL: raw bytes */
	ZSTD_inBuffer in;
	uint64_t raw_size; /* zstd: the declared decompressed size */
	uint8_t *win;
	bool zend;
	struct sevmig_error *err;
};

static uint64_t rd_pos(const struct rd *r)
{
	return r->done + r->pos;
}

/* -EBADMSG about the payload byte `at`: its file offset for raw bytes; for a
 * compressed payload, the frame's offset and the decompressed position. */
SEVMIG__PRINTF(3, 4)
static int rd_fail(const struct rd *r, uint64_t at, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!r->z)
		return sevmig__fail(r->err, -EBADMSG, r->base + at, 0, "%s", msg);
	return sevmig__fail(r->err, -EBADMSG, r->base, 0,
			    "%s (decompressed byte %" PRIu64 " of the zstd payload)", msg, at);
}

/* 1 when more bytes came, 0 at the end of the payload, or -EBADMSG. */
static int rd_refill(struct rd *r)
{
	if (!r->z || r->zend)
		return 0;
	r->done += r->n;
	r->p = r->win;
	r->n = r->pos = 0;
	ZSTD_outBuffer o = { r->win, WIN_BYTES, 0 };
	while (!o.pos) {
		size_t ret = ZSTD_decompressStream(r->z, &o, &r->in);
		if (ZSTD_isError(ret))
			return rd_fail(r, r->done, "bad zstd frame: %s", ZSTD_getErrorName(ret));
		if (!ret) {
			r->zend = true;
			if (r->in.pos != r->in.size)
				return sevmig__fail(r->err, -EBADMSG, r->base + r->in.pos, 0,
						    "%zu unexpected bytes after the zstd frame",
						    r->in.size - r->in.pos);
			break;
		}
		if (r->in.pos == r->in.size && o.pos < o.size)
			return rd_fail(r, r->done + o.pos, "the zstd frame is truncated");
	}
	r->n = o.pos;
	if (r->done + r->n > r->raw_size)
		return rd_fail(r, r->raw_size,
			       "the zstd frame holds more than the declared %" PRIu64 " bytes",
			       r->raw_size);
	return r->n ? 1 : 0;
}

/* 0, -ENODATA at the end of the payload (no message), or -EBADMSG. */
static inline int rd_byte(struct rd *r, uint8_t *b)
{
	if (r->pos == r->n) {
		int rc = rd_refill(r);
		if (rc <= 0)
			return rc ? rc : -ENODATA;
	}
	*b = r->p[r->pos++];
	return 0;
}

static int rd_bytes(struct rd *r, uint8_t *dst, size_t n)
{
	while (n) {
		if (r->pos == r->n) {
			int rc = rd_refill(r);
			if (rc <= 0)
				return rc ? rc : -ENODATA;
		}
		size_t k = r->n - r->pos < n ? r->n - r->pos : n;
		memcpy(dst, r->p + r->pos, k);
		r->pos += k;
		dst += k;
		n -= k;
	}
	return 0;
}

/* A varint named `what` (with `idx` when it is not UINT64_MAX). */
static int rd_varint(struct rd *r, uint64_t *v, const char *what, uint64_t idx)
{
	uint64_t at = rd_pos(r);
	int k;
	if (r->n - r->pos >= SEVMIG__VARINT_MAX) {
		k = sevmig__varint_get(r->p + r->pos, r->n - r->pos, v);
		if (k > 0) {
			r->pos += (size_t)k;
			return 0;
		}
	} else {
		uint8_t t[SEVMIG__VARINT_MAX];
		size_t i = 0;
		do {
			int rc = rd_byte(r, &t[i]);
			if (rc == -ENODATA) {
				if (idx == UINT64_MAX)
					return rd_fail(r, at, "the input ends inside %s", what);
				return rd_fail(r, at, "the input ends inside %s %" PRIu64, what,
					       idx);
			}
			if (rc)
				return rc;
		} while ((t[i++] & 0x80) && i < SEVMIG__VARINT_MAX);
		k = sevmig__varint_get(t, i, v);
		if (k > 0)
			return 0;
	}
	if (idx == UINT64_MAX)
		return rd_fail(r, at, "%s: overlong varint or a value past 64 bits", what);
	return rd_fail(r, at, "%s %" PRIu64 ": overlong varint or a value past 64 bits", what, idx);
}

/* The payload must end here: nothing left, and for zstd the frame ended
 * having produced exactly raw_size bytes. */
static int rd_end(struct rd *r, const char *after)
{
	uint64_t at = rd_pos(r);
	if (r->pos == r->n) {
		int rc = rd_refill(r);
		if (rc < 0)
			return rc;
		if (!rc) {
			if (r->z && at != r->raw_size)
				return rd_fail(r, at,
					       "the zstd frame holds %" PRIu64
					       " bytes, not the declared %" PRIu64,
					       at, r->raw_size);
			return 0;
		}
	}
	if (!r->z)
		return rd_fail(r, at, "%zu unexpected bytes after %s", r->n - r->pos, after);
	return rd_fail(r, at, "unexpected bytes after %s", after);
}

/* ---- reader: applying the payload to the map ------------------------------- */

/* Page index -> gfn, for indexes that only grow. */
struct cursor {
	const struct cov *c;
	size_t i;
	uint64_t base; /* page index of slot i's first page */
};

static int set_shared(struct sevmig_pstate *ps, struct cursor *k, uint64_t idx, uint64_t n)
{
	while (n) {
		while (idx >= k->base + k->c->slot[k->i].npages)
			k->base += k->c->slot[k->i++].npages;
		const struct sevmig_range *s = &k->c->slot[k->i];
		uint64_t off = idx - k->base, m = s->npages - off < n ? s->npages - off : n;
		SEVMIG__TRY(sevmig_pstate_set_range(ps, s->gfn + off, m, SEVMIG_PAGE_SHARED));
		idx += m;
		n -= m;
	}
	return 0;
}

static int read_runs(struct rd *r, struct sevmig_pstate *ps, const struct cov *c)
{
	uint64_t count, at = rd_pos(r), total = c->pages;
	SEVMIG__TRY(rd_varint(r, &count, "the run count", UINT64_MAX));
	if (count > total / 2 + total % 2)
		return rd_fail(r, at,
			       "%" PRIu64 " runs: %" PRIu64 " covered pages hold at most %" PRIu64,
			       count, total, total / 2 + total % 2);
	struct cursor k = { c, 0, 0 };
	uint64_t end = 0;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t head, extra, len = 1;
		at = rd_pos(r);
		SEVMIG__TRY(rd_varint(r, &head, "run", i));
		uint64_t gap = head >> 1;
		if (i && !gap)
			return rd_fail(r, at,
				       "run %" PRIu64 " touches run %" PRIu64
				       " (gap 0): runs must be maximal",
				       i, i - 1);
		if (gap >= total - end)
			return rd_fail(r, at,
				       "run %" PRIu64 " starts past the %" PRIu64 " covered pages",
				       i, total);
		uint64_t start = end + gap;
		if (!(head & 1)) {
			SEVMIG__TRY(rd_varint(r, &extra, "the length of run", i));
			if (total - start < 2 || extra > total - start - 2)
				return rd_fail(r, at,
					       "run %" PRIu64 " ends past the %" PRIu64
					       " covered pages",
					       i, total);
			len = extra + 2;
		}
		int rc = set_shared(ps, &k, start, len);
		if (rc)
			return rc;
		end = start + len;
	}
	return rd_end(r, "the last run");
}

/* Bits of the payload in order, LSB first, into buffers that start at bit 0. */
struct bitrd {
	struct rd *r;
	uint8_t cur;   /* the unread bits of the last byte read, low bits first */
	unsigned have; /* how many */
};

static int bits_get(struct bitrd *b, uint8_t *dst, uint64_t k)
{
	size_t whole = (size_t)(k / 8);
	unsigned rem = k % 8, h = b->have;
	uint8_t c;
	if (!h) {
		SEVMIG__TRY(rd_bytes(b->r, dst, whole));
		if (rem) {
			SEVMIG__TRY(rd_byte(b->r, &c));
			dst[whole] = c & (uint8_t)((1u << rem) - 1);
			b->cur = (uint8_t)(c >> rem);
			b->have = 8 - rem;
		}
		return 0;
	}
	for (size_t i = 0; i < whole; i++) {
		SEVMIG__TRY(rd_byte(b->r, &c));
		dst[i] = (uint8_t)(b->cur | c << h);
		b->cur = (uint8_t)(c >> (8 - h));
	}
	if (rem && rem <= h) {
		dst[whole] = b->cur & (uint8_t)((1u << rem) - 1);
		b->cur = (uint8_t)(b->cur >> rem);
		b->have = h - rem;
	} else if (rem) {
		SEVMIG__TRY(rd_byte(b->r, &c));
		unsigned v = b->cur | (unsigned)c << h;
		dst[whole] = (uint8_t)(v & ((1u << rem) - 1));
		b->cur = (uint8_t)(v >> rem);
		b->have = h + 8 - rem;
	}
	return 0;
}

static bool all_private(const uint8_t *p, uint64_t k)
{
	size_t whole = (size_t)(k / 8);
	for (size_t i = 0; i < whole; i++)
		if (p[i] != 0xff)
			return false;
	return !(k % 8) || p[whole] == (uint8_t)((1u << (k % 8)) - 1);
}

static int read_bitmap(struct rd *r, struct sevmig_pstate *ps, const struct cov *c)
{
	uint8_t *win = malloc(WIN_BYTES);
	if (!win)
		return -ENOMEM;
	struct bitrd b = { r, 0, 0 };
	int rc = 0;
	for (size_t i = 0; i < c->n && !rc; i++) {
		uint64_t gfn = c->slot[i].gfn, left = c->slot[i].npages;
		while (left && !rc) {
			uint64_t k = left < WIN_PAGES ? left : WIN_PAGES;
			rc = bits_get(&b, win, k);
			if (rc == -ENODATA)
				rc = rd_fail(r, rd_pos(r),
					     "the bitmap ends early: %" PRIu64
					     " covered pages need %" PRIu64 " bytes",
					     c->pages, (c->pages + 7) / 8);
			/* Slots start private: only windows with shared pages
			 * need the map's attention. */
			if (!rc && !all_private(win, k))
				rc = sevmig_pstate_set_from_bitmap(ps, gfn, k, win, WIN_BYTES);
			gfn += k;
			left -= k;
		}
	}
	free(win);
	if (rc)
		return rc;
	if (b.cur)
		return rd_fail(r, rd_pos(r) - 1,
			       "padding bits past the last covered page are not zero (0x%02x)",
			       b.cur);
	return rd_end(r, "the bitmap");
}

/* ---- reader --------------------------------------------------------------------- */

static int read_payload(struct rd *r, const uint8_t *p, size_t end, unsigned flags,
			struct sevmig_pstate *ps, const struct cov *c)
{
	unsigned enc = flags & F_ENC;
	uint64_t bitmap_raw = (c->pages + 7) / 8;
	if (!(flags & F_ZSTD)) {
		if (enc == ENC_BITMAP && r->n - r->pos != bitmap_raw)
			return rd_fail(r, r->pos,
				       "the bitmap is %zu bytes: %" PRIu64
				       " covered pages need %" PRIu64,
				       r->n - r->pos, c->pages, bitmap_raw);
		return enc == ENC_RUNS ? read_runs(r, ps, c) : read_bitmap(r, ps, c);
	}

	uint64_t raw, at = r->pos;
	SEVMIG__TRY(rd_varint(r, &raw, "the decompressed size", UINT64_MAX));
	uint64_t most = 10 + 12 * (c->pages / 2 + c->pages % 2);
	if (enc == ENC_BITMAP && raw != bitmap_raw)
		return rd_fail(r, at,
			       "decompressed size %" PRIu64 ": %" PRIu64
			       " covered pages need a %" PRIu64 "-byte bitmap",
			       raw, c->pages, bitmap_raw);
	if (enc == ENC_RUNS && (raw < 1 || raw > most))
		return rd_fail(r, at,
			       "decompressed size %" PRIu64 " is impossible for runs over %" PRIu64
			       " covered pages (1 to %" PRIu64 ")",
			       raw, c->pages, most);

	/* One zstd frame (not a skippable one): its magic, then its header. */
	size_t fstart = (size_t)r->base + r->pos;
	if (end - fstart < 4 || sevmig__le32(p + fstart) != ZSTD_MAGICNUMBER)
		return sevmig__fail(r->err, -EBADMSG, fstart, 0, "no zstd frame where one is due");
	unsigned long long fcs = ZSTD_getFrameContentSize(p + fstart, end - fstart);
	if (fcs == ZSTD_CONTENTSIZE_ERROR)
		return sevmig__fail(r->err, -EBADMSG, fstart, 0, "no valid zstd frame header");
	if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != raw)
		return sevmig__fail(r->err, -EBADMSG, fstart, 0,
				    "the zstd frame declares %llu bytes, the header %" PRIu64, fcs,
				    raw);

	struct rd z = {
		.base = fstart,
		.in = { p + fstart, end - fstart, 0 },
		.raw_size = raw,
		.err = r->err,
	};
	z.z = ZSTD_createDCtx();
	z.win = malloc(WIN_BYTES);
	int rc = -ENOMEM;
	if (z.z && z.win &&
	    !ZSTD_isError(ZSTD_DCtx_setParameter(z.z, ZSTD_d_windowLogMax, ZSTD_WLOG)))
		rc = enc == ENC_RUNS ? read_runs(&z, ps, c) : read_bitmap(&z, ps, c);
	ZSTD_freeDCtx(z.z);
	free(z.win);
	return rc;
}

static int read_coverage(struct rd *r, struct sevmig_pstate *ps, struct cov *c)
{
	uint64_t n, at = r->pos;
	SEVMIG__TRY(rd_varint(r, &n, "the slot count", UINT64_MAX));
	if (n > (r->n - r->pos) / 2)
		return rd_fail(r, at, "%" PRIu64 " slots cannot fit in the %zu bytes left", n,
			       r->n - r->pos);
	c->slot = malloc((n ? n : 1) * sizeof(*c->slot));
	if (!c->slot)
		return -ENOMEM;
	uint64_t prev_end = 0;
	for (c->n = 0; c->n < n; c->n++) {
		uint64_t i = c->n, gap, npages;
		at = r->pos;
		SEVMIG__TRY(rd_varint(r, &gap, "slot", i));
		if (gap >= SEVMIG_GFN_LIMIT - prev_end)
			return rd_fail(r, at, "slot %" PRIu64 " starts beyond the 40-bit gfn limit",
				       i);
		uint64_t gfn = prev_end + gap;
		at = r->pos;
		SEVMIG__TRY(rd_varint(r, &npages, "the size of slot", i));
		if (!npages)
			return rd_fail(r, at, "slot %" PRIu64 " has no pages", i);
		if (npages > SEVMIG_GFN_LIMIT - gfn)
			return rd_fail(r, at,
				       "slot %" PRIu64 " (gfn 0x%" PRIx64 ", %" PRIu64
				       " pages) ends beyond the 40-bit gfn limit",
				       i, gfn, npages);
		int rc = sevmig_pstate_add_slot(ps, gfn, npages);
		if (rc == -ENOMEM)
			return rc;
		if (rc)
			return rd_fail(r, at,
				       "slot %" PRIu64 " (gfn 0x%" PRIx64 ", %" PRIu64
				       " pages) refused by the map: %s",
				       i, gfn, npages, sevmig_strerror(rc));
		c->slot[i] = (struct sevmig_range){ gfn, npages };
		c->pages += npages;
		prev_end = gfn + npages;
	}
	return 0;
}

int sevmig_pstate_deserialize(const void *buf, size_t len, struct sevmig_pstate **out,
			      struct sevmig_error *err)
{
	if ((!buf && len) || !out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no input or no result");
	const uint8_t *p = buf;
	if (!sevmig__pstate_is_binary(p, len))
		return sevmig__fail(err, -EBADMSG, 0, 0,
				    "not a page-state file (no libsevmig page-state magic)");
	if (len < MIN_LEN)
		return sevmig__fail(err, -EBADMSG, len, 0,
				    "truncated: %zu bytes, a page-state file has at least %d", len,
				    MIN_LEN);
	unsigned version = sevmig__le16(p + 8), flags = sevmig__le16(p + 10);
	uint32_t page_size = sevmig__le32(p + 12);
	if (version != FORMAT_VERSION)
		return sevmig__fail(err, -EBADMSG, 8, 0,
				    "format version %u: this library reads version %d", version,
				    FORMAT_VERSION);
	if (flags & ~F_KNOWN)
		return sevmig__fail(err, -EBADMSG, 10, 0, "reserved flag bits 0x%04x are set",
				    flags & ~F_KNOWN);
	if ((flags & F_ENC) > ENC_BITMAP)
		return sevmig__fail(err, -EBADMSG, 10, 0, "unknown payload encoding %u",
				    flags & F_ENC);
	if (page_size != SEVMIG_PAGE_SIZE)
		return sevmig__fail(err, -EBADMSG, 12, 0,
				    "page size %" PRIu32 ": only %u-byte pages are supported",
				    page_size, SEVMIG_PAGE_SIZE);

	/* Raw bytes from the coverage up to the checksum. */
	struct rd r = {
		.p = p + HDR_LEN, .n = len - CRC_LEN - HDR_LEN, .base = HDR_LEN, .err = err
	};
	struct cov c = { 0 };
	struct sevmig_pstate *ps;
	int rc = sevmig_pstate_new(&ps);
	if (rc)
		return rc;
	rc = read_coverage(&r, ps, &c);
	if (!rc)
		rc = read_payload(&r, p, len - CRC_LEN, flags, ps, &c);
	free(c.slot);
	if (!rc) {
		uint32_t stored = sevmig__le32(p + len - CRC_LEN);
		uint32_t calc = sevmig__crc32c(0, p, len - CRC_LEN);
		if (stored != calc)
			rc = sevmig__fail(err, -EBADMSG, len - CRC_LEN, 0,
					  "checksum mismatch: stored 0x%08" PRIx32
					  ", computed 0x%08" PRIx32 " (the file is corrupt)",
					  stored, calc);
	}
	if (rc) {
		sevmig_pstate_free(ps);
		return rc;
	}
	*out = ps;
	return 0;
}
