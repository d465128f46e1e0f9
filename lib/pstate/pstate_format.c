/* SPDX-License-Identifier: MIT */
/*
 * The binary form of a page-state map, versions 1 and 2
 * (docs/pstate-format.md is the specification; this file follows it section
 * by section).
 *
 * Both directions work on the representation: the writer takes the shared
 * runs straight from the chunks, exports the bitmap word by word, or copies
 * the containers (CONTAINERS, version 2); the reader hands what it decodes,
 * runs or bitmap bits, to a builder (sevmig__builder), which assembles the
 * map's chunks in one pass, or checks copied containers and keeps them.
 * Both stream: neither holds more than a 64 KiB window of bitmap or of
 * decompressed payload beyond the map itself.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "pstate/pstate_forms.h"
#include "pstate/pstate_impl.h"
#include "util/buf.h"
#include "util/crc32c.h"
#include "util/endian.h"
#include "util/error.h"
#include "util/varint.h"

SEVMIG__OPTS_LAST(struct sevmig_pstate_save_opts, zstd_level);

static const uint8_t magic[8] = { 0x89, 'S', 'V', 'P', 'S', '\r', '\n', 0x1a };

enum {
	HDR_LEN = 16,
	CRC_LEN = 4,
	MIN_LEN = HDR_LEN + 1 + CRC_LEN, /* the empty map */
	FORMAT_VERSION = 1,
	FORMAT_VERSION_CTRS = 2, /* files of the CONTAINERS encoding */
	ENC_RUNS = 0,
	ENC_BITMAP = 1,
	ENC_CTRS = 2,
	/* CONTAINERS entry kinds (1.5) */
	K_FULL = 0,
	K_RUN = 1,
	K_ARRAY = 2,
	K_BITMAP = 3,
	/* the writer lists the runs (RUNS) only up to this many, or when it
	 * compresses: the containers are copied, the runs coded one by one */
	RUNS_TRY_MAX = 256,
	F_ENC = 0x3,
	F_ZSTD = 0x4,
	F_KNOWN = 0x7,
	ZSTD_WLOG = 20, /* 1 MiB window: bounds a reader's memory */
	ZSTD_MAX_LEVEL = 19,
	ZSTD_MIN_RAW = 64, /* smaller payloads do not gain enough to try */
	WIN_BYTES = 65536, /* bitmap and decompression window */
};

bool sevmig__pstate_is_binary(const void *buf, size_t len)
{
	if (len >= sizeof(magic))
		return !memcmp(buf, magic, sizeof(magic));
	return len >= 4 && !memcmp(buf, magic, len);
}

/* ---- coverage ------------------------------------------------------------ */

/* The slots of a map, whose pages the payload numbers in order (1.2). */
struct cov {
	const struct sevmig__slot *slot;
	size_t n;
	uint64_t pages; /* C: covered pages */
};

static struct cov cov_of(const struct sevmig_pstate *ps)
{
	struct cov c = { ps->slots, ps->nslots, 0 };
	for (size_t i = 0; i < c.n; i++)
		c.pages += c.slot[i].end - c.slot[i].gfn;
	return c;
}

/* ---- writer: RUNS ---------------------------------------------------------- */

/*
 * Shared runs in page-index space (section 1.3), appended to a buffer in one
 * pass over the chunks. A run that ends a slot and one that starts the next
 * are contiguous in index space, even across a coverage gap, so runs are
 * held back one step to be merged. Past `limit` the bitmap is smaller and
 * the pass stops.
 */
struct runenc {
	const struct sevmig__slot *slot; /* the slot of the last run's start */
	uint64_t base;			 /* page index of its first page */
	uint64_t prev_end;		 /* page index after the last emitted run */
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
	/* locals: a byte store may alias any field, which would be reloaded */
	uint64_t start = e->pend_start, len = e->pend_len;
	uint8_t *p = o->data + o->len;
	size_t n = sevmig__varint_put(p, (start - e->prev_end) << 1 | (len == 1));
	if (len > 1)
		n += sevmig__varint_put(p + n, len - 2);
	o->len += n;
	e->count++;
	e->prev_end = start + len;
	return o->len > e->limit;
}

static int run_visit(void *arg, uint64_t first, uint64_t end)
{
	struct runenc *e = arg;
	/* Shared pages are covered, and a run never leaves its stretch of
	 * touching slots, which is contiguous in index space too. */
	while (first >= e->slot->end) {
		e->base += e->slot->end - e->slot->gfn;
		e->slot++;
	}
	uint64_t start = e->base + (first - e->slot->gfn);
	if (e->pend_len && e->pend_start + e->pend_len == start) {
		e->pend_len += end - first;
		return 0;
	}
	int rc = e->pend_len ? run_emit(e) : 0;
	e->pend_start = start;
	e->pend_len = end - first;
	return rc;
}

/* 0 when every run is written, 1 when they passed the limit, or < 0. */
static int runs_walk(const struct sevmig_pstate *ps, struct runenc *e)
{
	e->slot = ps->slots;
	e->base = 0;
	int rc = sevmig__shared_runs(&ps->sh, 0, SEVMIG_GFN_LIMIT, run_visit, e);
	if (rc)
		return rc;
	return e->pend_len ? run_emit(e) : 0;
}

/* ---- writer: BITMAP ---------------------------------------------------------- */

/*
 * Bits in covered-page order (section 1.4), written into win[0, cap) and
 * handed to `flush` when it is full and at the end. Each piece of a slot is
 * exported by sevmig_pstate_to_bitmap() straight to its place, word by
 * word: a piece that starts inside a byte is exported from as many pages
 * earlier, so that it lands on a whole byte, and the bits of that byte that
 * came before are put back.
 */
static int bitmap_walk(const struct sevmig_pstate *ps, uint8_t *win, size_t cap,
		       int (*flush)(void *arg, const uint8_t *p, size_t n), void *arg)
{
	uint64_t held = 0, room = (uint64_t)cap * 8; /* bits in win, and its size */
	for (size_t i = 0; i < ps->nslots; i++) {
		uint64_t gfn = ps->slots[i].gfn, left = ps->slots[i].end - gfn;
		while (left) {
			if (held == room) {
				SEVMIG__TRY(flush(arg, win, cap));
				held = 0;
			}
			/* gfn >= its page index >= sh: slots are sorted and disjoint */
			unsigned sh = (unsigned)(held % 8);
			uint8_t *at = win + held / 8, low = (uint8_t)((1u << sh) - 1);
			uint8_t before = sh ? *at & low : 0;
			uint64_t k = left < room - held ? left : room - held;
			SEVMIG__TRY(sevmig_pstate_to_bitmap(ps, gfn - sh, k + sh, at,
							    cap - (size_t)(held / 8)));
			*at = (uint8_t)(before | (*at & ~low));
			held += k;
			gfn += k;
			left -= k;
			/* the bits past the piece are the next one's, or padding */
			if (held % 8)
				win[held / 8] &= (uint8_t)((1u << (held % 8)) - 1);
		}
	}
	return held ? flush(arg, win, (size_t)((held + 7) / 8)) : 0;
}

/* The raw payload is exported in place: the bytes are already there. */
static int flush_in_place(void *arg, const uint8_t *p, size_t n)
{
	(void)p;
	((struct sevmig__buf *)arg)->len += n;
	return 0;
}

/* ---- writer: CONTAINERS --------------------------------------------------------- */

/* Exact size of the CONTAINERS payload; *runs gets the chunks' runs added
 * up, at least the set's maximal runs and at most e->n more. */
static uint64_t ctrs_size(const struct sevmig__ents *e, uint64_t *runs)
{
	uint64_t n = sevmig__varint_len(e->n), prev = 0, r = 0;
	for (size_t i = 0; i < e->n; i++) {
		const struct sevmig__ent *x = &e->v[i];
		if (i + 16 < e->n) /* the containers are scattered over the heap */
			__builtin_prefetch(e->v[i + 16].c);
		n += sevmig__varint_len(x->key - prev);
		prev = (uint64_t)x->key + x->span;
		if (!x->c) {
			n += sevmig__varint_len((uint64_t)(x->span - 1) << 2);
			r++;
			continue;
		}
		r += x->c->nruns;
		unsigned k = sevmig__canon_kind(x->c->card, x->c->nruns);
		uint64_t cnt = k == SEVMIG__CTR_RUN	? x->c->nruns - 1u
			       : k == SEVMIG__CTR_ARRAY ? x->c->card - 1u
							: 0;
		n += sevmig__varint_len(cnt << 2) + sevmig__kind_bytes(k, x->c->card, x->c->nruns);
	}
	*runs = r;
	return n;
}

/*
 * A bound on the CONTAINERS payload that skips the varints: the contents
 * added up, and the most any entry's two varints take (a key step below
 * 2^32, and a count of at most 2^16 or a span below 2^32, shifted by 2: five
 * bytes each). *runs as for ctrs_size(). Where the bound decides which
 * encoding is written (it is far below the bitmap's size, the usual case),
 * the exact size need not be known before the payload is.
 */
static uint64_t ctrs_bound(const struct sevmig__ents *e, uint64_t *runs)
{
	uint64_t n = SEVMIG__VARINT_MAX + (uint64_t)e->n * 10, r = 0;
	for (size_t i = 0; i < e->n; i++) {
		const struct sevmig__ctr *c = e->v[i].c;
		if (i + 16 < e->n) /* the containers are scattered over the heap */
			__builtin_prefetch(e->v[i + 16].c);
		if (!c) {
			r++;
			continue;
		}
		r += c->nruns;
		n += sevmig__kind_bytes(sevmig__canon_kind(c->card, c->nruns), c->card, c->nruns);
	}
	*runs = r;
	return n;
}

static void put_le16s(uint8_t *p, const uint16_t *v, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, v, 2 * n);
#else
	for (size_t i = 0; i < n; i++)
		sevmig__put_le16(p + 2 * i, v[i]);
#endif
}

static void put_le64s(uint8_t *p, const uint64_t *v, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, v, 8 * n);
#else
	for (size_t i = 0; i < n; i++)
		sevmig__put_le64(p + 8 * i, v[i]);
#endif
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define COPY_CRC 1 /* containers are copied as they are, CRC on the way */
#else
#define COPY_CRC 0
#endif
/* Containers of at least this many bytes are copied with their CRC. */
enum { COPY_CRC_MIN = 256 };

/*
 * n bytes, 2 <= n < COPY_CRC_MIN and even (a small ARRAY or RUN): up to 64
 * with no call, in overlapping fixed-size moves within [0, n), whose
 * places depend on n but whose count depends only on its size class: a map
 * of scattered pages has chunks of every few sizes, and branches on the
 * exact size mispredicted there (a third of the writer's time with one to
 * three pages a chunk). 2 to 6 bytes: three 2-byte moves at 0, n / 2 - 1
 * and n - 2; 16 to 64: four 16-byte moves at most 16 apart.
 */
static inline void copy_small(uint8_t *d, const uint8_t *s, size_t n)
{
	if (n > 64) {
		memcpy(d, s, n); /* the library's wide moves win here */
	} else if (n < 8) {
		uint16_t a, b, c;
		memcpy(&a, s, 2);
		memcpy(&b, s + n / 2 - 1, 2);
		memcpy(&c, s + n - 2, 2);
		memcpy(d, &a, 2);
		memcpy(d + n / 2 - 1, &b, 2);
		memcpy(d + n - 2, &c, 2);
	} else if (n < 16) {
		uint64_t a, b;
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else {
		size_t last = n - 16, q = (last + 2) / 3;
		uint8_t t[4][16];
		memcpy(t[0], s, 16);
		memcpy(t[1], s + q, 16);
		memcpy(t[2], s + last - q, 16);
		memcpy(t[3], s + last, 16);
		memcpy(d, t[0], 16);
		memcpy(d + q, t[1], 16);
		memcpy(d + last - q, t[2], 16);
		memcpy(d + last, t[3], 16);
	}
}

/*
 * The payload at out->len, which has room for ctrs_size() bytes. *crc gets
 * the CRC32C of every byte of out up to the payload's end: big containers
 * are checksummed as they are copied, the rest in passes between them. A
 * container an update left in another kind than the smallest (a BITMAP of a
 * few hundred pages, say) is written as the smallest, converted into a
 * scratch chunk first.
 */
static int put_ctrs(const struct sevmig_pstate *ps, struct sevmig__buf *out, uint32_t *crc)
{
	const struct sevmig__ents *e = &ps->sh;
	uint8_t *p = out->data + out->len, *done = out->data;
	uint64_t *scratch = NULL;
	uint32_t cr = 0;
	uint64_t prev = 0;
	p += sevmig__varint_put(p, e->n);
	for (size_t i = 0; i < e->n; i++) {
		const struct sevmig__ent *x = &e->v[i];
		/* the containers are scattered over the heap: far enough ahead
		 * that the miss is over when the entry comes */
		if (i + 16 < e->n)
			__builtin_prefetch(e->v[i + 16].c);
		p += sevmig__varint_put(p, x->key - prev);
		prev = (uint64_t)x->key + x->span;
		const struct sevmig__ctr *c = x->c;
		if (!c) {
			p += sevmig__varint_put(p, (uint64_t)(x->span - 1) << 2 | K_FULL);
			continue;
		}
		unsigned kind = sevmig__canon_kind(c->card, c->nruns);
		const void *data = c->data;
		if (kind != c->kind) {
			if (!scratch && !(scratch = malloc(SEVMIG__CHUNK_WORDS * sizeof(uint64_t))))
				return -ENOMEM;
			struct sevmig__cview v;
			sevmig__view(x, &v);
			sevmig__view_content(kind, &v, scratch);
			data = scratch;
		}
		size_t nb = sevmig__kind_bytes(kind, c->card, c->nruns);
		uint64_t desc = kind == SEVMIG__CTR_BITMAP ? K_BITMAP
				: kind == SEVMIG__CTR_ARRAY
				    ? (uint64_t)(c->card - 1u) << 2 | K_ARRAY
				    : (uint64_t)(c->nruns - 1u) << 2 | K_RUN;
		p += sevmig__varint_put(p, desc);
		if (COPY_CRC && nb < COPY_CRC_MIN) {
			/* a small ARRAY or RUN (a BITMAP is 8 KiB): summed with
			 * its neighbours below */
			copy_small(p, data, nb);
		} else if (COPY_CRC) {
			/* the bytes up to a cache line summed with those before
			 * them, so that the copy's stores line up with lines */
			size_t head = (64 - ((uintptr_t)p & 63)) & 63;
			memcpy(p, data, head);
			cr = sevmig__crc32c(cr, done, (size_t)(p + head - done));
			cr = sevmig__copy_crc32c(cr, p + head, (const uint8_t *)data + head,
						 nb - head);
			done = p + nb;
		} else if (kind == SEVMIG__CTR_BITMAP) {
			put_le64s(p, data, SEVMIG__CHUNK_WORDS);
		} else {
			put_le16s(p, data, nb / 2);
		}
		p += nb;
		if (p - done >= 16384) { /* checksummed while still in the cache */
			cr = sevmig__crc32c(cr, done, (size_t)(p - done));
			done = p;
		}
	}
	free(scratch);
	out->len = (size_t)(p - out->data);
	*crc = sevmig__crc32c(cr, done, (size_t)(p - done));
	return 0;
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
static int put_runs(const struct sevmig_pstate *ps, struct sevmig__buf *out, uint64_t bitmap_raw)
{
	/* Each run takes a byte at least, and runs in index space are the
	 * chunks' runs less those a slot boundary may join: when that many
	 * bytes already pass the bitmap, the runs need not be written. */
	uint64_t least = sevmig__ents_nruns(&ps->sh);
	least = least > ps->nslots ? least - ps->nslots + 1 : 0;
	if (least + sevmig__varint_len(least) > bitmap_raw)
		return 1;
	size_t at = out->len;
	if (bitmap_raw > SIZE_MAX - at - SEVMIG__VARINT_MAX)
		bitmap_raw = SIZE_MAX - at - SEVMIG__VARINT_MAX;
	SEVMIG__TRY(sevmig__buf_reserve(out, SEVMIG__VARINT_MAX));
	out->len += SEVMIG__VARINT_MAX;
	size_t start = out->len;
	struct runenc e = { .out = out, .limit = start + (size_t)bitmap_raw };
	int rc = runs_walk(ps, &e);
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

static int put_bitmap(const struct sevmig_pstate *ps, struct sevmig__buf *out, ZSTD_CCtx *cc,
		      uint64_t raw)
{
	if (raw > SIZE_MAX)
		return -ENOMEM;
	if (!cc) {
		SEVMIG__TRY(sevmig__buf_reserve(out, (size_t)raw));
		return bitmap_walk(ps, out->data + out->len, (size_t)raw, flush_in_place, out);
	}
	size_t at = out->len, vlen = sevmig__varint_len(raw);
	struct zsink z = { cc, out, at + (size_t)raw };
	uint8_t *win = malloc(WIN_BYTES);
	int rc = win ? sevmig__buf_reserve(out, vlen) : -ENOMEM;
	if (rc)
		goto out;
	out->len += sevmig__varint_put(out->data + out->len, raw);
	rc = ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cc, raw)) ? -ENOMEM : 0;
	if (!rc)
		rc = bitmap_walk(ps, win, WIN_BYTES, flush_zstd, &z);
	if (!rc)
		rc = zsink_feed(&z, NULL, 0, ZSTD_e_end);
	if (!rc && out->len - at >= raw)
		rc = -ENOSPC;
	if (rc == -ENOSPC) {
		/* Compression does not pay: write the raw bitmap instead. */
		out->len = at;
		rc = 1;
	}
out:
	free(win);
	return rc;
}

int sevmig_pstate_serialize(const struct sevmig_pstate *ps,
			    const struct sevmig_pstate_save_opts *opts, void **buf, size_t *len)
{
	if (!ps || !buf || !len ||
	    !SEVMIG__OPTS_VALID(opts, struct sevmig_pstate_save_opts, zstd_level))
		return -EINVAL;
	int level = SEVMIG__OPT(opts, zstd_level, 0);
	if (level < 0 || level > ZSTD_MAX_LEVEL)
		return -EINVAL;

	struct cov c = cov_of(ps);
	struct sevmig__buf out = { 0 };
	ZSTD_CCtx *cc = NULL;

	/* The containers, copied, unless the bitmap is no larger, or (listing
	 * them only when they are few or the caller compresses) the runs are
	 * no larger (1.9). */
	uint64_t chunk_runs, bitmap_raw = (c.pages + 7) / 8;
	/* CONTAINERS even when up to 1/256 larger than BITMAP: a copy, where
	 * the bitmap is made bit by bit in page-index order (1.9) */
	uint64_t ctrs_limit = bitmap_raw + bitmap_raw / 256;
	uint64_t ctrs_raw = ctrs_bound(&ps->sh, &chunk_runs);
	/* the set's runs are the chunks' less at most one per entry; and a run
	 * spans at most three entries (a container ending shared, a full span,
	 * a container starting so): count them only when that cannot tell */
	bool try_runs = level || chunk_runs <= RUNS_TRY_MAX ||
			(chunk_runs <= RUNS_TRY_MAX + ps->sh.n && ps->sh.n <= 3 * RUNS_TRY_MAX &&
			 sevmig__ents_nruns(&ps->sh) <= RUNS_TRY_MAX);
	/* the exact size where the bound cannot decide, or RUNS is compared
	 * with it; otherwise it is known once the payload is written */
	if (try_runs || ctrs_raw > ctrs_limit)
		ctrs_raw = ctrs_size(&ps->sh, &chunk_runs);
	bool ctrs = ctrs_raw <= ctrs_limit;
	size_t cov_max = HDR_LEN + SEVMIG__VARINT_MAX * (1 + 2 * c.n);
	int rc;
	if (ctrs && ctrs_raw <= SIZE_MAX - cov_max - CRC_LEN) {
		rc = sevmig__buf_reserve(&out, cov_max + (size_t)ctrs_raw + CRC_LEN);
		if (rc)
			goto fail;
	} else {
		rc = sevmig__buf_reserve(&out, cov_max);
		if (rc)
			goto fail;
	}
	memcpy(out.data, magic, sizeof(magic));
	sevmig__put_le16(out.data + 8, FORMAT_VERSION);
	sevmig__put_le16(out.data + 10, 0); /* flags: below */
	sevmig__put_le32(out.data + 12, SEVMIG_PAGE_SIZE);
	out.len = HDR_LEN;
	out.len += sevmig__varint_put(out.data + out.len, c.n);
	uint64_t prev_end = 0;
	for (size_t i = 0; i < c.n; i++) {
		out.len += sevmig__varint_put(out.data + out.len, c.slot[i].gfn - prev_end);
		out.len += sevmig__varint_put(out.data + out.len, c.slot[i].end - c.slot[i].gfn);
		prev_end = c.slot[i].end;
	}

	/* Payload (1.3 to 1.6): the smallest encoding the writer tries, RUNS
	 * on a tie, then BITMAP; compressed only when that is smaller still. */
	size_t at = out.len;
	uint64_t best = ctrs_raw < bitmap_raw ? ctrs_raw : bitmap_raw;
	if (ctrs_raw > SIZE_MAX - cov_max - CRC_LEN)
		ctrs = false;
	rc = try_runs ? put_runs(ps, &out, best) : 1;
	if (rc < 0)
		goto fail;
	unsigned flags = rc ? ENC_BITMAP : ENC_RUNS;
	uint64_t raw = rc ? bitmap_raw : out.len - at;
	uint32_t ctrs_crc = 0;
	if (rc && ctrs) {
		flags = ENC_CTRS;
		raw = ctrs_raw;
		sevmig__put_le16(out.data + 8, FORMAT_VERSION_CTRS);
		sevmig__put_le16(out.data + 10, ENC_CTRS);
		rc = sevmig__buf_reserve(&out, (size_t)ctrs_raw + CRC_LEN);
		if (!rc)
			rc = put_ctrs(ps, &out, &ctrs_crc);
		if (rc)
			goto fail;
		raw = out.len - at; /* ctrs_raw may have been a bound */
	}
	if (level && raw >= ZSTD_MIN_RAW) {
		cc = cctx_new(level);
		if (!cc) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	if (flags == ENC_RUNS || flags == ENC_CTRS) {
		rc = cc ? compress_in_place(cc, &out, at, (size_t)raw) : 0;
		flags |= rc == 1 ? F_ZSTD : 0;
		rc = rc < 0 ? rc : 0;
	} else {
		rc = put_bitmap(ps, &out, cc, raw);
		if (!rc && cc)
			flags |= F_ZSTD;
		if (rc == 1)
			rc = put_bitmap(ps, &out, NULL, raw);
	}
	if (rc)
		goto fail;
	sevmig__put_le16(out.data + 10, (uint16_t)flags);

	/* Checksum (1.7). */
	rc = sevmig__buf_reserve(&out, CRC_LEN);
	if (rc)
		goto fail;
	/* raw CONTAINERS come with their checksum (put_ctrs) */
	sevmig__put_le32(out.data + out.len,
			 flags == ENC_CTRS ? ctrs_crc : sevmig__crc32c(0, out.data, out.len));
	out.len += CRC_LEN;
	ZSTD_freeCCtx(cc);
	*buf = sevmig__buf_take(&out, len);
	return 0;
fail:
	ZSTD_freeCCtx(cc);
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
	/* raw input: the CRC32C of the file up to crc_at, which content
	 * copied with its checksum moves on (the rest is summed at the end) */
	uint32_t crc;
	const uint8_t *crc_at;
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
	/* Never more than the header declares: the window stops one byte past
	 * raw_size, which is refused below. */
	uint64_t left = r->raw_size - (r->done < r->raw_size ? r->done : r->raw_size);
	ZSTD_outBuffer o = { r->win, left < WIN_BYTES ? (size_t)left + 1 : WIN_BYTES, 0 };
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

/* The bytes of the payload up to the end of the current window, taken at
 * once: 0, -ENODATA at the end of the payload (no message), or -EBADMSG. */
static int rd_window(struct rd *r, const uint8_t **p, size_t *n)
{
	if (r->pos == r->n) {
		int rc = rd_refill(r);
		if (rc <= 0)
			return rc ? rc : -ENODATA;
	}
	*p = r->p + r->pos;
	*n = r->n - r->pos;
	r->pos = r->n;
	return 0;
}

/* A varint named `what` (with `idx` when it is not UINT64_MAX). */
static int rd_varint_slow(struct rd *r, uint64_t *v, const char *what, uint64_t idx)
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

/* Most varints of a payload are one byte: those without a call. */
static inline int rd_varint(struct rd *r, uint64_t *v, const char *what, uint64_t idx)
{
	if (r->pos < r->n && !(r->p[r->pos] & 0x80)) {
		*v = r->p[r->pos++];
		return 0;
	}
	return rd_varint_slow(r, v, what, idx);
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

/* n bytes of the payload into dst, across windows: 0, -ENODATA when the
 * payload ends first (no message), or -EBADMSG. */
static int rd_bytes(struct rd *r, void *dst, size_t n)
{
	uint8_t *d = dst;
	while (n) {
		if (r->pos == r->n) {
			int rc = rd_refill(r);
			if (rc <= 0)
				return rc ? rc : -ENODATA;
		}
		size_t k = r->n - r->pos < n ? r->n - r->pos : n;
		memcpy(d, r->p + r->pos, k);
		r->pos += k;
		d += k;
		n -= k;
	}
	return 0;
}

/* ---- reader: CONTAINERS ------------------------------------------------------- */

struct cov_check {
	const struct sevmig_pstate *ps;
	uint64_t first;
};

static int cov_run(void *arg, uint64_t first, uint64_t end)
{
	struct cov_check *x = arg;
	x->first = first;
	return !sevmig__covered(x->ps, first, end);
}

/* 0 when every shared page of entry e is covered, else 1 with *gfn the
 * first run that is not. */
static int ent_uncovered(const struct sevmig_pstate *ps, const struct sevmig__ent *e, uint64_t *gfn)
{
	uint64_t s = (uint64_t)e->key << SEVMIG__CHUNK_SHIFT;
	uint64_t t = ((uint64_t)e->key + e->span) << SEVMIG__CHUNK_SHIFT;
	if (sevmig__covered(ps, s, t))
		return 0; /* the usual case: the whole extent is */
	struct sevmig__ents one = { (struct sevmig__ent *)e, 1, 1 };
	struct cov_check x = { ps, 0 };
	int rc = sevmig__shared_runs(&one, s, t, cov_run, &x);
	*gfn = x.first;
	return rc;
}

static const char *const kind_name[4] = { "full span", "RUN", "ARRAY", "BITMAP" };

static void get_le16s(uint16_t *v, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	for (size_t i = 0; i < n; i++)
		v[i] = sevmig__le16(&v[i]);
#else
	(void)v;
	(void)n;
#endif
}

/* One container's content, checked: 0 or -EBADMSG/-ENOMEM. */
static int read_ctr(struct rd *r, uint64_t i, unsigned k, uint64_t cnt, uint64_t at,
		    struct sevmig__ctr **out)
{
	static const unsigned mem_kind[4] = { 0, SEVMIG__CTR_RUN, SEVMIG__CTR_ARRAY,
					      SEVMIG__CTR_BITMAP };
	if (k == K_BITMAP && cnt)
		return rd_fail(r, at, "entry %" PRIu64 ": a BITMAP's count must be 0, not %" PRIu64,
			       i, cnt);
	uint64_t most = k == K_RUN ? SEVMIG__RUN_MAX : SEVMIG__ARRAY_MAX;
	if (k != K_BITMAP && cnt >= most)
		return rd_fail(r, at,
			       "entry %" PRIu64 ": a %s container of %" PRIu64
			       " %s (at most %" PRIu64 ")",
			       i, kind_name[k], cnt + 1, k == K_RUN ? "runs" : "pages", most);
	uint32_t n = (uint32_t)cnt + 1;
	unsigned mk = mem_kind[k];
	uint32_t cap = mk == SEVMIG__CTR_RUN ? n : mk == SEVMIG__CTR_ARRAY ? n : 0;
	size_t bytes = sevmig__kind_bytes(mk, n, n);
	struct sevmig__ctr *c = malloc(sizeof(*c) + bytes);
	if (!c)
		return -ENOMEM;
	c->kind = mk & 3;
	c->cap = cap & 0x3fff;
	int rc = 0;
	bool counted = false;
	uint32_t card = 0, nruns = 0;
	if (!r->z && r->crc_at && bytes >= COPY_CRC_MIN && r->n - r->pos >= bytes) {
		const uint8_t *at_now = r->p + r->pos;
		r->crc = sevmig__crc32c(r->crc, r->crc_at, (size_t)(at_now - r->crc_at));
		if (mk == SEVMIG__CTR_BITMAP) {
			r->crc = sevmig__copy_crc32c_words(r->crc, c->data, at_now, &card, &nruns);
			counted = true;
		} else {
			r->crc = sevmig__copy_crc32c(r->crc, c->data, at_now, bytes);
		}
		r->pos += bytes;
		r->crc_at = r->p + r->pos;
	} else {
		rc = rd_bytes(r, c->data, bytes);
	}
	if (rc) {
		free(c);
		return rc == -ENODATA ? rd_fail(r, at, "the input ends inside entry %" PRIu64, i)
				      : rc;
	}
	uint16_t *h = (uint16_t *)c->data;
	const char *bad = NULL;
	if (mk == SEVMIG__CTR_RUN) {
		get_le16s(h, 2 * (size_t)n);
		nruns = n;
		for (uint32_t j = 0; j < n && !bad; j++) {
			if (h[2 * j] > h[2 * j + 1])
				bad = "a run ends before it starts";
			else if (j && h[2 * j] <= h[2 * j - 1] + 1u)
				bad = "runs are not sorted, disjoint and apart";
			card += h[2 * j + 1] - h[2 * j] + 1u;
		}
	} else if (mk == SEVMIG__CTR_ARRAY) {
		get_le16s(h, n);
		card = n;
		nruns = sevmig__vals_nruns(h, n);
		if (!nruns)
			bad = "offsets are not strictly increasing";
	} else if (!counted) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		for (uint32_t j = 0; j < SEVMIG__CHUNK_WORDS; j++)
			c->data[j] = sevmig__le64(&c->data[j]);
#endif
		sevmig__words_count(c->data, SEVMIG__CHUNK_WORDS, 0, &card, &nruns);
	}
	if (mk == SEVMIG__CTR_BITMAP && !card)
		bad = "no page is shared";
	if (!bad && card == SEVMIG__CHUNK_PAGES)
		bad = "every page is shared: a full span, not a container";
	if (!bad && sevmig__canon_kind(card, nruns) != mk)
		bad = "not the kind its pages and runs make it (the smallest)";
	if (bad) {
		free(c);
		return rd_fail(r, at,
			       "entry %" PRIu64 " (%s container, %" PRIu32 " pages in %" PRIu32
			       " runs): %s",
			       i, kind_name[k], card, nruns, bad);
	}
	c->card = card;
	c->nruns = (uint16_t)nruns;
	*out = c;
	return 0;
}

static int read_ctrs(struct rd *r, struct sevmig_pstate *ps, struct sevmig__ents *out)
{
	uint64_t count, at = rd_pos(r), prev_end = 0;
	SEVMIG__TRY(rd_varint(r, &count, "the entry count", UINT64_MAX));
	/* every entry takes two bytes at least; raw input bounds it, and
	 * compressed input by its declared size */
	uint64_t left = r->z ? r->raw_size - rd_pos(r) : (uint64_t)(r->n - r->pos);
	if (count > left / 2 || count > SEVMIG__KEY_LIMIT)
		return rd_fail(r, at,
			       "%" PRIu64 " entries cannot fit in the %" PRIu64 " bytes left",
			       count, left);
	struct sevmig__ents e = { 0 };
	int rc = count ? sevmig__ents_reserve(&e, (size_t)count) : 0;
	bool prev_full = false;
	for (uint64_t i = 0; i < count && !rc; i++) {
		uint64_t gap, desc;
		at = rd_pos(r);
		rc = rd_varint(r, &gap, "the key of entry", i);
		if (!rc)
			rc = rd_varint(r, &desc, "the kind of entry", i);
		if (rc)
			break;
		unsigned k = (unsigned)(desc & 3);
		uint64_t cnt = desc >> 2;
		if (gap >= SEVMIG__KEY_LIMIT - prev_end) {
			rc = rd_fail(r, at, "entry %" PRIu64 " starts beyond the 40-bit gfn limit",
				     i);
			break;
		}
		uint64_t key = prev_end + gap;
		if (k == K_FULL) {
			if (cnt >= SEVMIG__KEY_LIMIT - key) {
				rc = rd_fail(r, at,
					     "entry %" PRIu64 " (a full span of %" PRIu64
					     " chunks) ends beyond the 40-bit gfn limit",
					     i, cnt + 1);
				break;
			}
			if (prev_full && !gap) {
				rc =
				    rd_fail(r, at,
					    "entry %" PRIu64
					    " is a full span touching the one before: they are one",
					    i);
				break;
			}
		}
		struct sevmig__ctr *c = NULL;
		if (k != K_FULL && (rc = read_ctr(r, i, k, cnt, at, &c)))
			break;
		uint32_t span = k == K_FULL ? (uint32_t)cnt + 1 : 1;
		e.v[e.n++] = (struct sevmig__ent){ (uint32_t)key, span, c };
		uint64_t gfn;
		if (ent_uncovered(ps, &e.v[e.n - 1], &gfn)) {
			rc = rd_fail(r, at,
				     "entry %" PRIu64 ": shared page 0x%" PRIx64
				     " is outside the coverage",
				     i, gfn);
			break;
		}
		prev_end = key + span;
		prev_full = k == K_FULL;
	}
	if (!rc)
		rc = rd_end(r, "the last entry");
	if (rc) {
		sevmig__ents_free(&e);
		return rc;
	}
	*out = e;
	return 0;
}

/* ---- reader: the payload into a builder ------------------------------------- */

/* Page index -> gfn, for indexes that only grow. */
struct cursor {
	const struct sevmig__slot *slot;
	uint64_t base; /* page index of the slot's first page */
};

/* Pages [idx, idx + n) shared, cut where slots end (inside the coverage). */
static void add_shared(struct sevmig__builder *b, struct cursor *k, uint64_t idx, uint64_t n)
{
	while (n) {
		while (idx >= k->base + (k->slot->end - k->slot->gfn)) {
			k->base += k->slot->end - k->slot->gfn;
			k->slot++;
		}
		uint64_t off = idx - k->base, room = k->slot->end - k->slot->gfn - off;
		uint64_t m = room < n ? room : n;
		sevmig__builder_add(b, k->slot->gfn + off, k->slot->gfn + off + m);
		idx += m;
		n -= m;
	}
}

static int read_runs(struct rd *r, struct sevmig__builder *b, const struct cov *c)
{
	uint64_t count, at = rd_pos(r), total = c->pages;
	SEVMIG__TRY(rd_varint(r, &count, "the run count", UINT64_MAX));
	if (count > total / 2 + total % 2)
		return rd_fail(r, at,
			       "%" PRIu64 " runs: %" PRIu64 " covered pages hold at most %" PRIu64,
			       count, total, total / 2 + total % 2);
	struct cursor k = { c->slot, 0 };
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
		add_shared(b, &k, start, len);
		if (b->err)
			return b->err;
		end = start + len;
	}
	return rd_end(r, "the last run");
}

/* The bitmap goes to the builder as it comes, window by window, each slot's
 * bits from wherever they start in a byte. */
static int read_bitmap(struct rd *r, struct sevmig__builder *b, const struct cov *c)
{
	const uint8_t *w = NULL;
	size_t wn = 0;
	uint64_t bit = 0; /* of w: the next page's */
	for (size_t i = 0; i < c->n; i++) {
		uint64_t gfn = c->slot[i].gfn, left = c->slot[i].end - gfn;
		while (left) {
			if (bit == (uint64_t)wn * 8) {
				int rc = rd_window(r, &w, &wn);
				if (rc == -ENODATA)
					return rd_fail(r, rd_pos(r),
						       "the bitmap ends early: %" PRIu64
						       " covered pages need %" PRIu64 " bytes",
						       c->pages, (c->pages + 7) / 8);
				if (rc)
					return rc;
				bit = 0;
			}
			uint64_t k = (uint64_t)wn * 8 - bit;
			k = k < left ? k : left;
			sevmig__builder_add_bits(b, gfn, w, bit, k);
			if (b->err)
				return b->err;
			bit += k;
			gfn += k;
			left -= k;
		}
	}
	if (bit % 8 && w[bit / 8] >> (bit % 8))
		return rd_fail(r, rd_pos(r) - 1,
			       "padding bits past the last covered page are not zero (0x%02x)",
			       w[bit / 8] >> (bit % 8));
	return rd_end(r, "the bitmap");
}

/* ---- reader --------------------------------------------------------------------- */

/* The encoding at r: runs or bitmap into b, containers into *ctrs. */
static int read_enc(struct rd *r, unsigned enc, struct sevmig__builder *b, const struct cov *c,
		    struct sevmig_pstate *ps, struct sevmig__ents *ctrs)
{
	return enc == ENC_RUNS	   ? read_runs(r, b, c)
	       : enc == ENC_BITMAP ? read_bitmap(r, b, c)
				   : read_ctrs(r, ps, ctrs);
}

/* Chunks the coverage touches: what bounds a CONTAINERS payload. */
static uint64_t cov_chunks(const struct cov *c)
{
	uint64_t n = 0;
	for (size_t i = 0; i < c->n; i++)
		n += ((c->slot[i].end - 1) >> SEVMIG__CHUNK_SHIFT) -
		     (c->slot[i].gfn >> SEVMIG__CHUNK_SHIFT) + 1;
	return n;
}

static int read_payload(struct rd *r, const uint8_t *p, size_t end, unsigned flags,
			struct sevmig__builder *b, const struct cov *c, struct sevmig_pstate *ps,
			struct sevmig__ents *ctrs)
{
	unsigned enc = flags & F_ENC;
	uint64_t bitmap_raw = (c->pages + 7) / 8;
	if (!(flags & F_ZSTD)) {
		if (enc == ENC_BITMAP && r->n - r->pos != bitmap_raw)
			return rd_fail(r, r->pos,
				       "the bitmap is %zu bytes: %" PRIu64
				       " covered pages need %" PRIu64,
				       r->n - r->pos, c->pages, bitmap_raw);
		return read_enc(r, enc, b, c, ps, ctrs);
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
	/* a count, then per touched chunk at most two varints and a bitmap */
	uint64_t most_ctrs = 10 + cov_chunks(c) * (2 * SEVMIG__VARINT_MAX + 8192);
	if (enc == ENC_CTRS && (raw < 1 || raw > most_ctrs))
		return rd_fail(r, at,
			       "decompressed size %" PRIu64
			       " is impossible for containers over %" PRIu64
			       " covered chunks (1 to %" PRIu64 ")",
			       raw, cov_chunks(c), most_ctrs);

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
		rc = read_enc(&z, enc, b, c, ps, ctrs);
	ZSTD_freeDCtx(z.z);
	free(z.win);
	return rc;
}

static int read_coverage(struct rd *r, struct sevmig_pstate *ps)
{
	uint64_t n, at = r->pos;
	SEVMIG__TRY(rd_varint(r, &n, "the slot count", UINT64_MAX));
	if (n > (r->n - r->pos) / 2)
		return rd_fail(r, at, "%" PRIu64 " slots cannot fit in the %zu bytes left", n,
			       r->n - r->pos);
	uint64_t prev_end = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t gap, npages;
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
	if (version != FORMAT_VERSION && version != FORMAT_VERSION_CTRS)
		return sevmig__fail(err, -EBADMSG, 8, 0,
				    "format version %u: this library reads versions %d and %d",
				    version, FORMAT_VERSION, FORMAT_VERSION_CTRS);
	if (flags & ~F_KNOWN)
		return sevmig__fail(err, -EBADMSG, 10, 0, "reserved flag bits 0x%04x are set",
				    flags & ~F_KNOWN);
	if (version == FORMAT_VERSION && (flags & F_ENC) > ENC_BITMAP)
		return sevmig__fail(err, -EBADMSG, 10, 0,
				    "unknown payload encoding %u in a version 1 file",
				    flags & F_ENC);
	if (version == FORMAT_VERSION_CTRS && (flags & F_ENC) != ENC_CTRS)
		return sevmig__fail(err, -EBADMSG, 10, 0,
				    "payload encoding %u in a version 2 file, which holds "
				    "CONTAINERS (2)",
				    flags & F_ENC);
	if (page_size != SEVMIG_PAGE_SIZE)
		return sevmig__fail(err, -EBADMSG, 12, 0,
				    "page size %" PRIu32 ": only %u-byte pages are supported",
				    page_size, SEVMIG_PAGE_SIZE);

	/* Raw bytes from the coverage up to the checksum. */
	struct rd r = { .p = p + HDR_LEN,
			.n = len - CRC_LEN - HDR_LEN,
			.base = HDR_LEN,
			.err = err,
			.crc_at = p };
	struct sevmig_pstate *ps;
	int rc = sevmig_pstate_new(&ps, NULL);
	if (rc)
		return rc;
	rc = read_coverage(&r, ps);
	if (!rc) {
		/* every page starts private; the payload says which are shared */
		struct cov c = cov_of(ps);
		struct sevmig__builder b;
		struct sevmig__ents ctrs = { 0 };
		sevmig__builder_init(&b);
		rc = read_payload(&r, p, len - CRC_LEN, flags, &b, &c, ps, &ctrs);
		if (!rc && (flags & F_ENC) == ENC_CTRS) {
			sevmig__builder_free(&b);
			ps->sh = ctrs; /* the map was empty */
		} else if (!rc) {
			rc = sevmig__builder_commit(&b, ps);
		} else {
			sevmig__builder_free(&b);
		}
	}
	if (!rc) {
		uint32_t stored = sevmig__le32(p + len - CRC_LEN);
		uint32_t calc =
		    sevmig__crc32c(r.crc, r.crc_at, (size_t)(p + len - CRC_LEN - r.crc_at));
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
