/* SPDX-License-Identifier: MIT */
/*
 * The stream reader: every rule of docs/stream-format.md that can be
 * checked without the firmware's session keys, in stream order, and, given
 * the shared secret, every record's tag. A record is returned only after
 * all of it has been checked (tag first, then CRCs, sequence, bounds, every
 * gfn against the layout and the page state, completeness, order rules), so
 * the receiver, which builds on this reader, never applies part of a bad or
 * forged record.
 */
#include "stream/stream_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/endian.h"

SEVMIG__OPTS_LAST(struct sevmig_reader_opts, key);

enum rstate {
	RS_NEW,	  /* header not read */
	RS_RECS,  /* reading records */
	RS_END,	  /* END returned: next call checks for the end of input */
	RS_ABORT, /* ABORT returned */
	RS_DONE,  /* 0 returned */
	RS_DEAD,  /* an error: repeat it */
};

struct sevmig_stream_reader {
	sevmig_read_fn read;
	void *arg;
	uint8_t expect_uuid[16];
	bool has_expect;
	bool allow_trailing;
	bool decode_plain;
	bool keyed;	    /* a secret was given: tags must verify */
	bool verify;	    /* tags are verified (keyed, or an insecure stream) */
	bool want_insecure; /* refuse a KEYED stream */
	bool has_nonce;	    /* the header must echo expect_nonce */
	uint32_t key_source;
	uint8_t secret[32];
	uint8_t expect_nonce[16];
	struct sevmig__auth auth;
	struct sevmig__coverage cov;

	enum rstate state;
	int dead_rc;
	struct sevmig_error dead_err;

	uint64_t offset; /* bytes consumed */
	struct sevmig_stream_header hdr;
	struct sevmig_range *slots;
	struct sevmig__layout layout;
	uint32_t uuid_crc;
	struct sevmig_pstate *ps;

	struct sevmig__buf payload; /* the current record's payload + CRC */
	/* The memslot of each page (ENC, PLAIN) or run (ZERO) of the current
	 * record, as uint32_t, found while checking it: the receiver writes
	 * through these and never looks a page up again. */
	struct sevmig__buf entry_slots;
	uint8_t *scratch; /* PLAIN decode buffer (decode_plain) */
	ZSTD_DCtx *dctx;

	/* order state */
	bool session_seen;
	bool full_complete;
	uint64_t full_next; /* where the next FULL part must start */
	bool vmsa_seen;
	uint32_t vcpus;	     /* declared by SESSION */
	uint8_t *vcpus_seen; /* SM_MAX_VCPUS bits, on first VMSA */
	uint64_t round_enc, round_plain, round_zero, pstate_since_round;
	bool vmm_open; /* a VMM object's chunks have begun and not ended */
	uint32_t vmm_vendor, vmm_type;
	uint64_t vmm_size, vmm_next;
	uint32_t abort_reason;
	char abort_msg[200];
	uint64_t abort_index;

	struct sevmig_stream_counts counts;
};

int sevmig_stream_reader_new(sevmig_read_fn read, void *read_arg,
			     const struct sevmig_reader_opts *opts,
			     struct sevmig_stream_reader **out, struct sevmig_error *err)
{
	if (!read || !out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "a read callback and a result are required");
	if (!SEVMIG__OPTS_VALID(opts, struct sevmig_reader_opts, key))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "reader options: bad size or non-zero unknown fields");
	struct sevmig_stream_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return sevmig__fail(err, -ENOMEM, SEVMIG_NO_OFFSET, 0, "out of memory");
	r->read = read;
	r->arg = read_arg;
	const uint8_t *u = SEVMIG__OPT(opts, expect_uuid, NULL);
	if (u) {
		memcpy(r->expect_uuid, u, 16);
		r->has_expect = true;
	}
	r->allow_trailing = SEVMIG__OPT(opts, allow_trailing, false);
	r->decode_plain = true;
	r->key_source = SEVMIG__OPT(opts, key_source, 0u);
	int rc = sevmig__key_opts(r->key_source, SEVMIG__OPT(opts, key, NULL), false, true,
				  r->secret, err);
	if (rc < 0) {
		free(r);
		return rc;
	}
	r->keyed = SEVMIG__OPT(opts, key, NULL) != NULL;
	r->counts.sz = sizeof(r->counts);
	*out = r;
	return 0;
}

void sevmig_stream_reader_free(struct sevmig_stream_reader *r)
{
	if (!r)
		return;
	sevmig__auth_fini(&r->auth);
	sevmig__coverage_fini(&r->cov);
	OPENSSL_cleanse(r->secret, sizeof(r->secret));
	sevmig_pstate_free(r->ps);
	sevmig__layout_free(&r->layout);
	free(r->slots);
	if (r->payload.data)
		OPENSSL_cleanse(r->payload.data, r->payload.cap);
	sevmig__buf_free(&r->payload);
	sevmig__buf_free(&r->entry_slots);
	free(r->scratch);
	ZSTD_freeDCtx(r->dctx);
	free(r->vcpus_seen);
	free(r);
}

void sevmig__reader_set_decode(struct sevmig_stream_reader *r, bool decode)
{
	r->decode_plain = decode;
}

void sevmig__reader_swap_payload(struct sevmig_stream_reader *r, struct sevmig__buf *payload,
				 struct sevmig__buf *slots)
{
	struct sevmig__buf t = r->payload;
	r->payload = *payload;
	*payload = t;
	t = r->entry_slots;
	r->entry_slots = *slots;
	*slots = t;
}

/* Room for the slot of each of n entries of the current record. */
static uint32_t *slots_for(struct sevmig_stream_reader *r, uint32_t n)
{
	r->entry_slots.len = 0;
	if (sevmig__buf_reserve(&r->entry_slots, (size_t)n * sizeof(uint32_t)) < 0)
		return NULL;
	r->entry_slots.len = (size_t)n * sizeof(uint32_t);
	return (uint32_t *)(void *)r->entry_slots.data;
}

const struct sevmig__layout *sevmig__reader_layout(const struct sevmig_stream_reader *r)
{
	return &r->layout;
}

void sevmig__reader_expect_nonce(struct sevmig_stream_reader *r, const uint8_t nonce[16])
{
	memcpy(r->expect_nonce, nonce, 16);
	r->has_nonce = true;
}

struct sevmig__auth *sevmig__reader_auth(struct sevmig_stream_reader *r)
{
	return r->verify && r->auth.ctx[0] ? &r->auth : NULL;
}

size_t sevmig__reader_next_size(const struct sevmig_stream_reader *r, const uint8_t *p,
				size_t avail)
{
	if (r->state == RS_NEW) {
		if (avail < SM_HDR_FIXED)
			return SM_HDR_FIXED;
		uint32_t hlen = sevmig__le32(p + 12);
		return hlen >= SM_HDR_FIXED && hlen <= SEVMIG_STREAM_MAX_HEADER ? hlen
										: SM_HDR_FIXED;
	}
	if (r->state != RS_RECS)
		return 0;
	if (avail < SM_REC_HDR)
		return SM_REC_HDR;
	uint32_t len = sevmig__le32(p + 4);
	if (sevmig__crc32c(r->uuid_crc, p, 16) != sevmig__le32(p + 16) ||
	    len > SEVMIG_STREAM_MAX_PAYLOAD)
		return SM_REC_HDR;
	return SM_REC_HDR + (size_t)len + SM_TAG + 4;
}

bool sevmig__reader_pstate_complete(const struct sevmig_stream_reader *r)
{
	return r->full_complete;
}

void sevmig__reader_require_insecure(struct sevmig_stream_reader *r)
{
	r->want_insecure = true;
}

const struct sevmig_pstate *sevmig_stream_reader_pstate(const struct sevmig_stream_reader *r)
{
	return r->ps;
}

void sevmig_stream_reader_counts(const struct sevmig_stream_reader *r,
				 struct sevmig_stream_counts *c)
{
	struct sevmig_stream_counts all = r->counts;
	all.bytes = r->offset;
	sevmig__out_fill(c, &all, sizeof(all));
}

/* Fail and make the reader dead: every later call repeats the error. */
#define RFAIL(r, err, code, off, idx, ...) \
	reader_fail((r), (err), sevmig__fail(&(r)->dead_err, (code), (off), (idx), __VA_ARGS__))

static int reader_fail(struct sevmig_stream_reader *r, struct sevmig_error *err, int rc)
{
	r->state = RS_DEAD;
	r->dead_rc = rc;
	if (err)
		*err = r->dead_err;
	return rc;
}

/* Read exactly n bytes unless the input ends: returns bytes read (< n only
 * at the end of input) or a negative errno. */
static ptrdiff_t read_full(struct sevmig_stream_reader *r, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ptrdiff_t k = r->read(r->arg, (uint8_t *)buf + got, n - got);
		if (k < 0)
			return k;
		if (k == 0)
			break;
		if ((size_t)k > n - got)
			return -EINVAL; /* a callback that overran its buffer */
		got += (size_t)k;
	}
	r->offset += got;
	return (ptrdiff_t)got;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- header ---------------------------------------------------------------- */

static int read_header(struct sevmig_stream_reader *r, struct sevmig_error *err)
{
	uint8_t fixed[SM_HDR_FIXED];
	ptrdiff_t k = read_full(r, fixed, sizeof(fixed));
	if (k < 0)
		return RFAIL(r, err, (int)k, r->offset, 0, "reading the stream header failed: %s",
			     sevmig_strerror((int)k));
	if (memcmp(fixed, SEVMIG_STREAM_MAGIC, k < 8 ? (size_t)k : 8))
		return RFAIL(r, err, -EBADMSG, 0, 0,
			     "not a migration stream (bad magic at byte 0)");
	if (k == 0)
		return RFAIL(r, err, -ENODATA, 0, 0, "truncated stream: the input is empty");
	if (k < (ptrdiff_t)sizeof(fixed))
		return RFAIL(r, err, -ENODATA, 0, 0,
			     "truncated stream: the input ends after %td bytes, inside the "
			     "stream header",
			     k);
	uint16_t major = sevmig__le16(fixed + 8), minor = sevmig__le16(fixed + 10);
	uint32_t hlen = sevmig__le32(fixed + 12), nslots = sevmig__le32(fixed + 44);
	if (major != SEVMIG_STREAM_VERSION_MAJOR)
		return RFAIL(r, err, -EPROTO, 8, 0,
			     "stream format version %u.%u is not supported: this reader reads "
			     "format %u.x%s",
			     major, minor, SEVMIG_STREAM_VERSION_MAJOR,
			     major == 1 ? " (format 1.0 streams carry no keyed integrity; "
					  "send again with this version)"
					: "");
	/* Bound the length before reading by it: version 2.0 headers have no
	 * tail, later minors at most the 1 MiB limit. */
	uint64_t need = SM_HDR_FIXED + (uint64_t)16 * nslots + 4;
	if (!nslots || nslots > SEVMIG_STREAM_MAX_SLOTS)
		return RFAIL(r, err, -EBADMSG, 44, 0, "%u memslots (1..%u allowed)", nslots,
			     SEVMIG_STREAM_MAX_SLOTS);
	if (hlen < need || hlen > SEVMIG_STREAM_MAX_HEADER || (minor == 0 && hlen != need))
		return RFAIL(r, err, -EBADMSG, 12, 0,
			     "header length %u does not fit %u memslots in format %u.%u", hlen,
			     nslots, major, minor);
	uint8_t *h = malloc(hlen);
	if (!h)
		return RFAIL(r, err, -ENOMEM, 0, 0, "out of memory");
	memcpy(h, fixed, sizeof(fixed));
	k = read_full(r, h + sizeof(fixed), hlen - sizeof(fixed));
	if (k < 0 || (size_t)k < hlen - sizeof(fixed)) {
		free(h);
		if (k < 0)
			return RFAIL(r, err, (int)k, r->offset, 0,
				     "reading the stream header failed: %s",
				     sevmig_strerror((int)k));
		return RFAIL(r, err, -ENODATA, 0, 0,
			     "truncated stream: the input ends after %" PRIu64
			     " bytes, inside the %u-byte stream header",
			     r->offset, hlen);
	}
	int rc = 0;
	uint32_t crc = sevmig__le32(h + hlen - 4);
	uint32_t flags = sevmig__le32(h + 16), psz = sevmig__le32(h + 20);
	uint32_t ksrc = sevmig__le32(h + 48);
	const uint32_t known_flags = SEVMIG_STREAM_FLAG_SOFT | SEVMIG_STREAM_FLAG_KEYED;
	if (crc != sevmig__crc32c(0, h, hlen - 4)) {
		rc = RFAIL(r, err, -EBADMSG, hlen - 4, 0,
			   "stream header CRC mismatch (the header is damaged)");
	} else if (flags & ~known_flags) {
		rc = RFAIL(r, err, -EBADMSG, 16, 0, "reserved header flags 0x%x are set",
			   flags & ~known_flags);
	} else if (psz != SM_PAGE) {
		rc = RFAIL(r, err, -EBADMSG, 20, 0, "page size %u; the format requires 4096", psz);
	} else if (ksrc > SEVMIG_KEY_TLS ||
		   (ksrc != SEVMIG_KEY_NONE) != !!(flags & SEVMIG_STREAM_FLAG_KEYED)) {
		rc =
		    RFAIL(r, err, -EBADMSG, 48, 0, "key source %u does not fit the KEYED flag (%s)",
			  ksrc, flags & SEVMIG_STREAM_FLAG_KEYED ? "set" : "clear");
	} else if (!all_zero(h + 52, 12)) {
		rc = RFAIL(r, err, -EBADMSG, 52, 0, "reserved header bytes 52..63 are not zero");
	} else if (!all_zero(h + SM_HDR_FIXED + 16 * nslots,
			     hlen - 4 - SM_HDR_FIXED - 16 * nslots)) {
		rc = RFAIL(r, err, -EBADMSG, SM_HDR_FIXED + 16 * nslots, 0,
			   "reserved header tail is not zero");
	}
	if (rc) {
		free(h);
		return rc;
	}
	r->slots = calloc(nslots, sizeof(*r->slots));
	if (!r->slots) {
		free(h);
		return RFAIL(r, err, -ENOMEM, 0, 0, "out of memory");
	}
	for (uint32_t i = 0; i < nslots; i++) {
		const uint8_t *e = h + SM_HDR_FIXED + 16 * i;
		uint64_t gpa = sevmig__le64(e), size = sevmig__le64(e + 8);
		uint64_t off = SM_HDR_FIXED + 16 * i;
		if ((gpa | size) & (SM_PAGE - 1) || !size || gpa + size < gpa ||
		    (gpa + size) >> SEVMIG_PAGE_SHIFT > SEVMIG_GFN_LIMIT) {
			free(h);
			return RFAIL(r, err, -EBADMSG, off, 0,
				     "memslot %u (gpa 0x%" PRIx64 ", size 0x%" PRIx64
				     ") is not page-aligned, empty or beyond 2^52",
				     i, gpa, size);
		}
		r->slots[i].gfn = gpa >> SEVMIG_PAGE_SHIFT;
		r->slots[i].npages = size >> SEVMIG_PAGE_SHIFT;
		if (i && r->slots[i].gfn < r->slots[i - 1].gfn + r->slots[i - 1].npages) {
			free(h);
			return RFAIL(r, err, -EBADMSG, off, 0,
				     "memslot %u overlaps or precedes memslot %u (memslots must be "
				     "sorted and disjoint)",
				     i, i - 1);
		}
	}
	r->hdr.version_major = major;
	r->hdr.version_minor = minor;
	r->hdr.header_len = hlen;
	r->hdr.flags = flags;
	r->hdr.page_size = psz;
	r->hdr.policy = sevmig__le32(h + 40);
	memcpy(r->hdr.uuid, h + 24, 16);
	r->hdr.nslots = nslots;
	r->hdr.slots = r->slots;
	r->hdr.key_source = ksrc;
	memcpy(r->hdr.sender_nonce, h + 64, 16);
	memcpy(r->hdr.target_nonce, h + 80, 16);
	static const char *const srcs[3] = { "none (insecure)", "a pre-shared key", "TLS" };
	bool keyed_stream = flags & SEVMIG_STREAM_FLAG_KEYED;
	if (r->keyed && !keyed_stream)
		rc = RFAIL(r, err, -EPROTO, 16, 0,
			   "the stream has no keyed integrity (it was written insecure); this "
			   "reader has a key and refuses it");
	else if (r->keyed && ksrc != r->key_source)
		rc = RFAIL(r, err, -EPROTO, 48, 0, "the stream is keyed by %s, this reader by %s",
			   srcs[ksrc], srcs[r->key_source <= 2 ? r->key_source : 0]);
	else if (r->want_insecure && keyed_stream)
		rc = RFAIL(r, err, -EPROTO, 16, 0,
			   "the stream is keyed by %s; give its key (this receiver was set up "
			   "insecure)",
			   srcs[ksrc]);
	else if (r->has_nonce && memcmp(r->expect_nonce, h + 80, 16))
		rc = RFAIL(r, err, -EPROTO, 80, 0,
			   "the stream does not answer this target's HELLO (its target nonce "
			   "differs: a replayed or misdirected stream)");
	/* Insecure streams are tagged under the public all-zero key: every
	 * reader checks those tags, as a strong checksum. */
	r->verify = r->keyed || !keyed_stream;
	if (rc == 0 && r->verify) {
		rc = sevmig__auth_init(&r->auth, r->secret, h, hlen);
		if (rc < 0)
			rc = RFAIL(r, err, rc, 0, 0, "deriving the stream keys failed");
	}
	free(h);
	if (rc)
		return rc;
	if (r->has_expect && memcmp(r->expect_uuid, r->hdr.uuid, 16))
		return RFAIL(r, err, -EPROTO, 24, 0,
			     "the stream belongs to another migration (its UUID is not the one "
			     "expected)");
	rc = sevmig__layout_from_ranges(r->slots, nslots, &r->layout);
	if (rc == 0)
		rc = sevmig__layout_pstate(&r->layout, &r->ps);
	if (rc == 0)
		rc = sevmig__coverage_init(&r->cov, &r->layout);
	if (rc)
		return RFAIL(r, err, rc, 0, 0, "setting up the page state failed: %s",
			     sevmig_strerror(rc));
	r->uuid_crc = sevmig__stream_seed(r->hdr.uuid);
	r->full_next = r->layout.slots[0].gfn;
	r->state = RS_RECS;
	return 0;
}

int sevmig_stream_reader_header(struct sevmig_stream_reader *r, struct sevmig_stream_header *hdr,
				struct sevmig_error *err)
{
	if (r->state == RS_DEAD && !r->hdr.header_len) {
		if (err)
			*err = r->dead_err;
		return r->dead_rc;
	}
	if (r->state == RS_NEW)
		SEVMIG__TRY(read_header(r, err));
	if (hdr)
		*hdr = r->hdr;
	return 0;
}

/* ---- records ------------------------------------------------------------- */

/* The context of the record being checked, for messages. */
struct rec {
	uint64_t index, offset;
	uint16_t type;
	const uint8_t *p; /* payload */
	uint32_t len;
};

#define RECFAIL(r, err, rc_, q, ...)                \
	RFAIL(r, err, rc_, (q)->offset, (q)->index, \
	      "record %" PRIu64 " (%s) at byte %" PRIu64 ": " __VA_ARGS__)
#define RECARGS(q) (q)->index, sevmig_record_type_name((q)->type), (q)->offset

static int need_full(struct sevmig_stream_reader *r, struct sevmig_error *err, const struct rec *q)
{
	if (r->full_complete)
		return 0;
	return RECFAIL(r, err, -EPROTO, q,
		       "comes before the full page state is complete (FULL PSTATE records "
		       "must come first)",
		       RECARGS(q));
}

static int need_before_vmsa(struct sevmig_stream_reader *r, struct sevmig_error *err,
			    const struct rec *q)
{
	if (!r->vmsa_seen)
		return 0;
	return RECFAIL(r, err, -EPROTO, q,
		       "comes after a VMSA record (vCPU state is sent after the last pass)",
		       RECARGS(q));
}

/* gfn inside the layout and in state `want`. */
static int check_page(struct sevmig_stream_reader *r, struct sevmig_error *err, const struct rec *q,
		      uint64_t gfn, size_t *hint, enum sevmig_page_state want, uint32_t *slot)
{
	long k = gfn < SEVMIG_GFN_LIMIT ? sevmig__layout_find(&r->layout, gfn, hint) : -1;
	if (k < 0)
		return RECFAIL(r, err, -EBADMSG, q, "gfn 0x%" PRIx64 " is outside every memslot",
			       RECARGS(q), gfn);
	*slot = (uint32_t)k;
	enum sevmig_page_state st = sevmig_pstate_get(r->ps, gfn);
	if (st != want)
		return RECFAIL(r, err, -EBADMSG, q,
			       "gfn 0x%" PRIx64 " is %s in the stream's page state, but %s "
			       "records carry only %s pages",
			       RECARGS(q), gfn, sevmig_page_state_name(st),
			       sevmig_record_type_name(q->type), sevmig_page_state_name(want));
	return 0;
}

/* Pages [gfn, gfn + n) delivered: never twice in one pass. */
static int deliver(struct sevmig_stream_reader *r, struct sevmig_error *err, const struct rec *q,
		   uint64_t gfn, uint64_t n)
{
	uint64_t dup = 0;
	int rc = sevmig__coverage_add(&r->cov, gfn, n, &dup);
	if (rc == -EEXIST)
		return RECFAIL(r, err, -EBADMSG, q,
			       "gfn 0x%" PRIx64 " is delivered a second time in pass %" PRIu64
			       " (a page goes at most once per pass)",
			       RECARGS(q), dup, r->counts.rounds);
	if (rc < 0)
		return RFAIL(r, err, rc, q->offset, q->index, "tracking delivered pages failed: %s",
			     sevmig_strerror(rc));
	return 0;
}

static int check_gfn_list(struct sevmig_stream_reader *r, struct sevmig_error *err,
			  const struct rec *q, const uint8_t *list, uint32_t n,
			  enum sevmig_page_state want, struct sevmig_record_info *info)
{
	size_t hint = 0;
	uint64_t prev = 0;
	uint32_t *slots = slots_for(r, n);
	if (!slots)
		return RFAIL(r, err, -ENOMEM, q->offset, q->index, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		uint64_t g = sevmig__le64(list + 8 * i);
		if (i && g <= prev)
			return RECFAIL(r, err, -EBADMSG, q,
				       "gfn list not strictly increasing at entry %u (0x%" PRIx64
				       " after 0x%" PRIx64 ")",
				       RECARGS(q), i, g, prev);
		SEVMIG__TRY(check_page(r, err, q, g, &hint, want, &slots[i]));
		prev = g;
	}
	/* Runs of consecutive gfns (all inside the layout: touching memslots
	 * may hold one run together). */
	for (uint32_t i = 0, k; i < n; i = k) {
		uint64_t g = sevmig__le64(list + 8 * i);
		for (k = i + 1; k < n && sevmig__le64(list + 8 * k) == g + (k - i); k++)
			;
		SEVMIG__TRY(deliver(r, err, q, g, k - i));
	}
	info->pages = n;
	info->first_gfn = sevmig__le64(list);
	info->last_gfn = prev;
	return 0;
}

static int on_session(struct sevmig_stream_reader *r, struct sevmig_error *err, const struct rec *q,
		      struct sevmig_record_info *info)
{
	if (r->session_seen)
		return RECFAIL(r, err, -EPROTO, q, "a second SESSION (there must be exactly one)",
			       RECARGS(q));
	if (q->len < SM_SESSION_FIXED)
		return RECFAIL(r, err, -EBADMSG, q, "payload of %u bytes is too short", RECARGS(q),
			       q->len);
	uint32_t policy = sevmig__le32(q->p), p = sevmig__le32(q->p + 4);
	uint32_t c = sevmig__le32(q->p + 8), b = sevmig__le32(q->p + 12);
	uint32_t vcpus = sevmig__le32(q->p + 16);
	if (sevmig__le32(q->p + 20))
		return RECFAIL(r, err, -EBADMSG, q, "reserved field is not zero", RECARGS(q));
	if (p != SEVMIG_CERT_SIZE || (c != 0 && c != SM_CHAIN_SIZE) || b != SEVMIG_SESSION_SIZE)
		return RECFAIL(r, err, -EBADMSG, q,
			       "lengths PDH %u, chain %u, session %u (must be 0x824, 0 or 0x186c, "
			       "0x80)",
			       RECARGS(q), p, c, b);
	if (q->len != SM_SESSION_FIXED + p + c + b)
		return RECFAIL(r, err, -EBADMSG, q, "payload of %u bytes, its fields need %u",
			       RECARGS(q), q->len, SM_SESSION_FIXED + p + c + b);
	if (policy != r->hdr.policy)
		return RECFAIL(r, err, -EBADMSG, q,
			       "policy 0x%x differs from the header's policy 0x%x", RECARGS(q),
			       policy, r->hdr.policy);
	if (policy & SEVMIG_POLICY_ES ? !vcpus || vcpus > SM_MAX_VCPUS : vcpus != 0)
		return RECFAIL(
		    r, err, -EBADMSG, q,
		    "declares %u vCPUs for a guest whose policy 0x%x is %s (SEV-ES: 1 to "
		    "%u; SEV: 0)",
		    RECARGS(q), vcpus, policy, policy & SEVMIG_POLICY_ES ? "SEV-ES" : "not SEV-ES",
		    SM_MAX_VCPUS);
	r->session_seen = true;
	r->vcpus = vcpus;
	info->policy = policy;
	info->vcpus = vcpus;
	return 0;
}

/* [a, b) lies in the layout (a map's slot may span memslots that touch). */
static bool in_layout(const struct sevmig__layout *l, uint64_t a, uint64_t b, size_t *hint)
{
	long k = sevmig__layout_find(l, a, hint);
	if (k < 0)
		return false;
	for (;;) {
		uint64_t e = l->slots[k].gfn + l->slots[k].npages;
		if (b <= e)
			return true;
		if ((size_t)k + 1 == l->n || l->slots[k + 1].gfn != e)
			return false;
		k++;
	}
}

static int on_pstate(struct sevmig_stream_reader *r, struct sevmig_error *err, const struct rec *q,
		     struct sevmig_record_info *info)
{
	if (q->len < SM_PSTATE_FIXED)
		return RECFAIL(r, err, -EBADMSG, q, "payload of %u bytes is too short", RECARGS(q),
			       q->len);
	uint32_t kind = sevmig__le32(q->p);
	uint64_t first = sevmig__le64(q->p + 8), end = sevmig__le64(q->p + 16);
	if (kind != SEVMIG_PSTATE_FULL && kind != SEVMIG_PSTATE_DELTA)
		return RECFAIL(r, err, -EBADMSG, q, "unknown page-state kind %u", RECARGS(q), kind);
	if (sevmig__le32(q->p + 4))
		return RECFAIL(r, err, -EBADMSG, q, "reserved field is not zero", RECARGS(q));
	const struct sevmig__slot *lastslot = &r->layout.slots[r->layout.n - 1];
	uint64_t lfirst = r->layout.slots[0].gfn, lend = lastslot->gfn + lastslot->npages;
	if (first >= end || first < lfirst || end > lend)
		return RECFAIL(r, err, -EBADMSG, q,
			       "range [0x%" PRIx64 ", 0x%" PRIx64
			       ") is empty or leaves the memory layout [0x%" PRIx64 ", 0x%" PRIx64
			       ")",
			       RECARGS(q), first, end, lfirst, lend);
	if (kind == SEVMIG_PSTATE_DELTA && r->counts.rounds == 0)
		return RECFAIL(r, err, -EPROTO, q,
			       "a DELTA in the first pass (the first pass is sent with the FULL "
			       "state)",
			       RECARGS(q));
	if (kind == SEVMIG_PSTATE_FULL) {
		if (r->full_complete)
			return RECFAIL(r, err, -EPROTO, q,
				       "a FULL page state after the full state was complete",
				       RECARGS(q));
		if (first != r->full_next)
			return RECFAIL(r, err, -EPROTO, q,
				       "FULL part starts at gfn 0x%" PRIx64 ", the previous part "
				       "ended at 0x%" PRIx64,
				       RECARGS(q), first, r->full_next);
	} else {
		SEVMIG__TRY(need_full(r, err, q));
		SEVMIG__TRY(need_before_vmsa(r, err, q));
	}
	struct sevmig_error perr;
	sevmig_error_clear(&perr);
	struct sevmig_pstate *m = NULL;
	int rc =
	    sevmig_pstate_deserialize(q->p + SM_PSTATE_FIXED, q->len - SM_PSTATE_FIXED, &m, &perr);
	if (rc < 0) {
		if (rc == -ENOMEM)
			return RFAIL(r, err, rc, q->offset, q->index, "out of memory");
		return RECFAIL(r, err, -EBADMSG, q, "page state at payload byte %" PRIu64 ": %s",
			       RECARGS(q),
			       perr.offset == SEVMIG_NO_OFFSET ? 0 : perr.offset + SM_PSTATE_FIXED,
			       perr.message);
	}
	/* Coverage: inside the layout and [first, end); for FULL, all of it. */
	uint64_t covered = 0;
	size_t n = sevmig_pstate_slot_count(m), hint = 0;
	for (size_t i = 0; i < n; i++) {
		struct sevmig_range s;
		rc = sevmig_pstate_slot(m, i, &s);
		if (rc < 0)
			break;
		if (s.gfn < first || s.gfn + s.npages > end ||
		    !in_layout(&r->layout, s.gfn, s.gfn + s.npages, &hint)) {
			sevmig_pstate_free(m);
			return RECFAIL(r, err, -EBADMSG, q,
				       "page state covers [0x%" PRIx64 ", 0x%" PRIx64
				       "), outside the memslots or the record's range",
				       RECARGS(q), s.gfn, s.gfn + s.npages);
		}
		covered += s.npages;
	}
	if (rc == 0 && kind == SEVMIG_PSTATE_FULL) {
		uint64_t want = 0;
		for (size_t i = 0; i < r->layout.n; i++) {
			uint64_t a = r->layout.slots[i].gfn, b = a + r->layout.slots[i].npages;
			a = a > first ? a : first;
			b = b < end ? b : end;
			if (a < b)
				want += b - a;
		}
		if (covered != want) {
			sevmig_pstate_free(m);
			return RECFAIL(r, err, -EBADMSG, q,
				       "FULL page state covers %" PRIu64
				       " pages; the memslots have %" PRIu64 " in its range",
				       RECARGS(q), covered, want);
		}
	} else if (rc == 0 && covered == 0) {
		sevmig_pstate_free(m);
		return RECFAIL(r, err, -EBADMSG, q, "an empty DELTA", RECARGS(q));
	}
	if (rc == 0)
		rc = sevmig_pstate_apply(r->ps, m);
	struct sevmig_pstate_stats st;
	sevmig_pstate_stats(m, &st);
	sevmig_pstate_free(m);
	if (rc < 0)
		return RFAIL(r, err, rc, q->offset, q->index, "applying the page state failed: %s",
			     sevmig_strerror(rc));
	if (kind == SEVMIG_PSTATE_FULL) {
		r->full_next = end;
		if (end == lend)
			r->full_complete = true;
	} else {
		r->pstate_since_round++;
	}
	r->counts.pstate_records++;
	info->pstate_kind = kind;
	info->first_gfn = first;
	info->last_gfn = end - 1;
	info->pstate_shared = st.shared_pages;
	info->pstate_covered = st.covered_pages;
	return 0;
}

static int on_enc(struct sevmig_stream_reader *r, struct sevmig_error *err, const struct rec *q,
		  struct sevmig_record_info *info)
{
	SEVMIG__TRY(need_full(r, err, q));
	SEVMIG__TRY(need_before_vmsa(r, err, q));
	if (q->len < SM_ENC_FIXED)
		return RECFAIL(r, err, -EBADMSG, q, "payload of %u bytes is too short", RECARGS(q),
			       q->len);
	uint32_t n = sevmig__enc_count(q->p);
	if (!n || n > SEVMIG_STREAM_MAX_BATCH)
		return RECFAIL(r, err, -EBADMSG, q, "%u packets (1..%u allowed)", RECARGS(q), n,
			       SEVMIG_STREAM_MAX_BATCH);
	if (!sevmig__enc_lengths_ok(q->p))
		return RECFAIL(r, err, -EBADMSG, q,
			       "packet header %u and page %u bytes (must be 52 and 4096), "
			       "reserved %u",
			       RECARGS(q), sevmig__le32(q->p + 4), sevmig__le32(q->p + 8),
			       sevmig__le32(q->p + 12));
	if (q->len != sevmig__enc_len(n))
		return RECFAIL(r, err, -EBADMSG, q, "payload of %u bytes; %u packets need %zu",
			       RECARGS(q), q->len, n, sevmig__enc_len(n));
	SEVMIG__TRY(
	    check_gfn_list(r, err, q, sevmig__enc_gfns(q->p), n, SEVMIG_PAGE_PRIVATE, info));
	r->round_enc += n;
	r->counts.enc_pages += n;
	r->counts.enc_records++;
	return 0;
}

static int on_plain(struct sevmig_stream_reader *r, struct sevmig_error *err, const struct rec *q,
		    struct sevmig_record_info *info)
{
	SEVMIG__TRY(need_full(r, err, q));
	SEVMIG__TRY(need_before_vmsa(r, err, q));
	if (q->len < SM_PLAIN_FIXED)
		return RECFAIL(r, err, -EBADMSG, q, "payload of %u bytes is too short", RECARGS(q),
			       q->len);
	uint32_t n = sevmig__plain_count(q->p), codec = sevmig__plain_codec(q->p);
	uint32_t d = sevmig__plain_dlen(q->p);
	if (!n || n > SEVMIG_STREAM_MAX_BATCH)
		return RECFAIL(r, err, -EBADMSG, q, "%u pages (1..%u allowed)", RECARGS(q), n,
			       SEVMIG_STREAM_MAX_BATCH);
	if (codec > SEVMIG_CODEC_ZSTD || sevmig__plain_reserved(q->p))
		return RECFAIL(r, err, -EBADMSG, q, "unknown codec %u or reserved field set",
			       RECARGS(q), codec);
	uint64_t raw = (uint64_t)n * SM_PAGE;
	if (q->len != sevmig__plain_len(n, d))
		return RECFAIL(r, err, -EBADMSG, q, "payload of %u bytes; its fields need %zu",
			       RECARGS(q), q->len, sevmig__plain_len(n, d));
	if ((codec == SEVMIG_CODEC_RAW && d != raw) ||
	    (codec == SEVMIG_CODEC_ZSTD && (!d || d > raw)))
		return RECFAIL(
		    r, err, -EBADMSG, q, "%u data bytes for %u pages (%s: must be %s %" PRIu64 ")",
		    RECARGS(q), d, n, codec ? "zstd" : "raw", codec ? "1 to" : "exactly", raw);
	SEVMIG__TRY(
	    check_gfn_list(r, err, q, sevmig__plain_gfns(q->p), n, SEVMIG_PAGE_SHARED, info));
	if (codec == SEVMIG_CODEC_ZSTD && r->decode_plain) {
		if (!r->scratch) {
			r->scratch = malloc((size_t)SEVMIG_STREAM_MAX_BATCH * SM_PAGE);
			r->dctx = ZSTD_createDCtx();
			if (!r->scratch || !r->dctx)
				return RFAIL(r, err, -ENOMEM, q->offset, q->index, "out of memory");
		}
		char msg[160];
		if (sevmig__plain_decode(r->dctx, sevmig__plain_data(q->p, n), d, r->scratch, raw,
					 msg, sizeof(msg)))
			return RECFAIL(r, err, -EBADMSG, q, "%s", RECARGS(q), msg);
	}
	info->codec = codec;
	r->round_plain += n;
	r->counts.plain_pages += n;
	r->counts.plain_records++;
	r->counts.plain_wire_bytes += d;
	return 0;
}

struct zero_check {
	bool priv;
	uint64_t gfn;
};

static int find_private(void *arg, uint64_t gfn, uint64_t npages)
{
	(void)npages;
	struct zero_check *z = arg;
	z->priv = true;
	z->gfn = gfn;
	return 1;
}

static int on_zero(struct sevmig_stream_reader *r, struct sevmig_error *err, const struct rec *q,
		   struct sevmig_record_info *info)
{
	SEVMIG__TRY(need_full(r, err, q));
	SEVMIG__TRY(need_before_vmsa(r, err, q));
	if (q->len < SM_ZERO_FIXED)
		return RECFAIL(r, err, -EBADMSG, q, "payload of %u bytes is too short", RECARGS(q),
			       q->len);
	uint32_t n = sevmig__zero_runs(q->p);
	if (!n || sevmig__zero_reserved(q->p))
		return RECFAIL(r, err, -EBADMSG, q, "no runs, or reserved field set", RECARGS(q));
	if (q->len != sevmig__zero_len(n))
		return RECFAIL(r, err, -EBADMSG, q, "payload of %u bytes; %u runs need %zu",
			       RECARGS(q), q->len, n, sevmig__zero_len(n));
	uint64_t prev_end = 0, pages = 0;
	size_t hint = 0;
	uint32_t *slots = slots_for(r, n);
	if (!slots)
		return RFAIL(r, err, -ENOMEM, q->offset, q->index, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		uint64_t g, np;
		sevmig__zero_run(q->p, i, &g, &np);
		if (!np || g >= SEVMIG_GFN_LIMIT || np > SEVMIG_GFN_LIMIT - g)
			return RECFAIL(r, err, -EBADMSG, q,
				       "run %u {0x%" PRIx64 ", %" PRIu64
				       "} is empty or beyond 2^40",
				       RECARGS(q), i, g, np);
		if (i && g < prev_end)
			return RECFAIL(r, err, -EBADMSG, q,
				       "run %u at 0x%" PRIx64 " overlaps or precedes the previous "
				       "run",
				       RECARGS(q), i, g);
		long k = sevmig__layout_find(&r->layout, g, &hint);
		if (k < 0 || g + np > r->layout.slots[k].gfn + r->layout.slots[k].npages)
			return RECFAIL(r, err, -EBADMSG, q,
				       "run [0x%" PRIx64 ", 0x%" PRIx64
				       ") is not inside one memslot",
				       RECARGS(q), g, g + np);
		slots[i] = (uint32_t)k;
		struct zero_check z = { false, 0 };
		int rc = sevmig_pstate_walk(r->ps, g, np, SEVMIG_PAGE_PRIVATE, find_private, &z);
		if (rc < 0)
			return RFAIL(r, err, rc, q->offset, q->index, "page-state walk failed");
		if (z.priv)
			return RECFAIL(r, err, -EBADMSG, q,
				       "gfn 0x%" PRIx64
				       " is private in the stream's page state, but "
				       "ZERO records carry only shared pages",
				       RECARGS(q), z.gfn);
		SEVMIG__TRY(deliver(r, err, q, g, np));
		prev_end = g + np;
		pages += np;
	}
	info->pages = pages;
	info->runs = n;
	uint64_t first_np;
	sevmig__zero_run(q->p, 0, &info->first_gfn, &first_np);
	info->last_gfn = prev_end - 1;
	r->round_zero += pages;
	r->counts.zero_pages += pages;
	r->counts.zero_records++;
	return 0;
}

static int on_vmsa(struct sevmig_stream_reader *r, struct sevmig_error *err, const struct rec *q,
		   struct sevmig_record_info *info)
{
	SEVMIG__TRY(need_full(r, err, q));
	if (!(r->hdr.policy & SEVMIG_POLICY_ES))
		return RECFAIL(r, err, -EPROTO, q,
			       "vCPU state for a guest whose policy 0x%x is not SEV-ES", RECARGS(q),
			       r->hdr.policy);
	if (!r->counts.rounds)
		return RECFAIL(r, err, -EPROTO, q, "comes before the first ROUND", RECARGS(q));
	if (q->len != SM_VMSA_LEN)
		return RECFAIL(r, err, -EBADMSG, q, "payload of %u bytes (must be %u)", RECARGS(q),
			       q->len, SM_VMSA_LEN);
	uint32_t vcpu = sevmig__vmsa_vcpu(q->p);
	if (!sevmig__vmsa_lengths_ok(q->p))
		return RECFAIL(r, err, -EBADMSG, q, "bad packet lengths or reserved field",
			       RECARGS(q));
	if (vcpu >= r->vcpus)
		return RECFAIL(r, err, -EBADMSG, q,
			       "vCPU %u, but SESSION declares %u vCPUs (indexes 0..%u)", RECARGS(q),
			       vcpu, r->vcpus, r->vcpus - 1);
	if (!r->vcpus_seen && !(r->vcpus_seen = calloc(SM_MAX_VCPUS / 8, 1)))
		return RFAIL(r, err, -ENOMEM, q->offset, q->index, "out of memory");
	if (r->vcpus_seen[vcpu / 8] & (1u << (vcpu % 8)))
		return RECFAIL(r, err, -EPROTO, q, "a second VMSA for vCPU %u", RECARGS(q), vcpu);
	r->vcpus_seen[vcpu / 8] |= (uint8_t)(1u << (vcpu % 8));
	r->vmsa_seen = true;
	r->counts.vmsa++;
	info->vcpu = vcpu;
	info->pages = 1;
	return 0;
}

static int on_round(struct sevmig_stream_reader *r, struct sevmig_error *err, const struct rec *q,
		    struct sevmig_record_info *info)
{
	SEVMIG__TRY(need_full(r, err, q));
	SEVMIG__TRY(need_before_vmsa(r, err, q));
	if (q->len != SM_ROUND_LEN)
		return RECFAIL(r, err, -EBADMSG, q, "payload of %u bytes (must be 32)", RECARGS(q),
			       q->len);
	uint64_t n = sevmig__le64(q->p), e = sevmig__le64(q->p + 8);
	uint64_t pl = sevmig__le64(q->p + 16), z = sevmig__le64(q->p + 24);
	if (n != r->counts.rounds)
		return RECFAIL(r, err, -EPROTO, q, "round %" PRIu64 ", expected round %" PRIu64,
			       RECARGS(q), n, r->counts.rounds);
	if (e != r->round_enc || pl != r->round_plain || z != r->round_zero)
		return RECFAIL(
		    r, err, -EBADMSG, q,
		    "round %" PRIu64 " counts ENC %" PRIu64 ", PLAIN %" PRIu64 ", ZERO %" PRIu64
		    " pages; the stream carried %" PRIu64 ", %" PRIu64 ", %" PRIu64,
		    RECARGS(q), n, e, pl, z, r->round_enc, r->round_plain, r->round_zero);
	uint64_t missing = 0;
	int rc = sevmig__coverage_end_pass(&r->cov, n == 0, &missing);
	if (rc == -ENODATA)
		return RECFAIL(r, err, -EBADMSG, q,
			       "the first pass ends without gfn 0x%" PRIx64
			       " (it must deliver every page of the memory layout once: ENC for "
			       "private pages, PLAIN or ZERO for shared ones)",
			       RECARGS(q), missing);
	if (rc < 0)
		return RFAIL(r, err, rc, q->offset, q->index, "tracking delivered pages failed: %s",
			     sevmig_strerror(rc));
	r->round_enc = r->round_plain = r->round_zero = r->pstate_since_round = 0;
	r->counts.rounds++;
	info->round = n;
	return 0;
}

static int on_abort(struct sevmig_stream_reader *r, struct sevmig_error *err, const struct rec *q,
		    struct sevmig_record_info *info)
{
	if (q->len < 8)
		return RECFAIL(r, err, -EBADMSG, q, "payload of %u bytes is too short", RECARGS(q),
			       q->len);
	uint32_t reason = sevmig__le32(q->p), m = sevmig__le32(q->p + 4);
	if (reason != SEVMIG_ABORT_CANCELLED && reason != SEVMIG_ABORT_ERROR)
		return RECFAIL(r, err, -EBADMSG, q, "unknown reason %u", RECARGS(q), reason);
	if (m > SM_ABORT_MSG_MAX || q->len != 8 + m)
		return RECFAIL(r, err, -EBADMSG, q, "message of %u bytes in a %u-byte payload",
			       RECARGS(q), m, q->len);
	r->abort_reason = reason;
	r->abort_index = q->index;
	size_t k = m < sizeof(r->abort_msg) - 1 ? m : sizeof(r->abort_msg) - 1;
	for (size_t i = 0; i < k; i++) {
		uint8_t c = q->p[8 + i];
		r->abort_msg[i] = (c >= 0x20 && c != 0x7f) ? (char)c : '?';
	}
	r->abort_msg[k] = 0;
	info->abort_reason = reason;
	return 0;
}

/*
 * A VMM record: one chunk of an object. An object's chunks are consecutive
 * records: the first at offset 0 (FIRST), each where the previous ended,
 * the last (LAST) ending at the declared size, the same vendor, type and
 * size in each; nothing else comes between them.
 */
static int on_vmm(struct sevmig_stream_reader *r, struct sevmig_error *err, const struct rec *q,
		  struct sevmig_record_info *info)
{
	SEVMIG__TRY(need_full(r, err, q));
	if (q->len < SM_VMM_FIXED)
		return RECFAIL(r, err, -EBADMSG, q, "payload of %u bytes is too short", RECARGS(q),
			       q->len);
	uint32_t vendor = sevmig__le32(q->p), type = sevmig__le32(q->p + 4);
	uint32_t flags = sevmig__le32(q->p + 8);
	uint64_t size = sevmig__le64(q->p + 16), off = sevmig__le64(q->p + 24);
	uint64_t n = q->len - SM_VMM_FIXED;
	if ((flags & ~(SM_VMM_FIRST | SM_VMM_LAST)) || sevmig__le32(q->p + 12))
		return RECFAIL(r, err, -EBADMSG, q, "reserved flags 0x%x or field set", RECARGS(q),
			       flags);
	if (size > SEVMIG_VMM_MAX_SIZE)
		return RECFAIL(r, err, -EBADMSG, q,
			       "a VMM object of %" PRIu64 " bytes (the limit is %u)", RECARGS(q),
			       size, SEVMIG_VMM_MAX_SIZE);
	bool first = flags & SM_VMM_FIRST, last = flags & SM_VMM_LAST;
	if (first == r->vmm_open)
		return RECFAIL(r, err, -EBADMSG, q, "%s", RECARGS(q),
			       first ? "a new VMM object begins inside the previous one"
				     : "a VMM chunk without the object's first chunk");
	if (!first && (vendor != r->vmm_vendor || type != r->vmm_type || size != r->vmm_size))
		return RECFAIL(r, err, -EBADMSG, q,
			       "a chunk of another VMM object (vendor 0x%08x type %u, %" PRIu64
			       " bytes) inside vendor 0x%08x type %u",
			       RECARGS(q), vendor, type, size, r->vmm_vendor, r->vmm_type);
	uint64_t at = first ? 0 : r->vmm_next;
	if (off != at || n > size - at || (last != (at + n == size)) || (!n && !(first && last)))
		return RECFAIL(r, err, -EBADMSG, q,
			       "VMM chunk of %" PRIu64 " bytes at offset %" PRIu64 " of %" PRIu64
			       "%s does not continue its object (expected offset "
			       "%" PRIu64 ")",
			       RECARGS(q), n, off, size, last ? ", marked last," : "", at);
	r->vmm_open = !last;
	r->vmm_vendor = vendor;
	r->vmm_type = type;
	r->vmm_size = size;
	r->vmm_next = at + n;
	r->counts.vmm_records++;
	r->counts.vmm_objects += last;
	info->vmm_vendor = vendor;
	info->vmm_type = type;
	info->vmm_size = size;
	info->vmm_offset = off;
	info->vmm_last = last;
	return 0;
}

static int on_end(struct sevmig_stream_reader *r, struct sevmig_error *err, const struct rec *q)
{
	SEVMIG__TRY(need_full(r, err, q));
	if (q->len != SM_END_LEN)
		return RECFAIL(r, err, -EBADMSG, q, "payload of %u bytes (must be 64)", RECARGS(q),
			       q->len);
	if (!r->counts.rounds)
		return RECFAIL(r, err, -EPROTO, q, "END without any ROUND", RECARGS(q));
	if (r->round_enc || r->round_plain || r->round_zero || r->pstate_since_round)
		return RECFAIL(r, err, -EPROTO, q,
			       "pages or page state after the last ROUND were not closed by a "
			       "ROUND",
			       RECARGS(q));
	const uint64_t want[8] = { q->index,
				   r->counts.rounds,
				   r->counts.pstate_records,
				   r->counts.enc_pages,
				   r->counts.plain_pages,
				   r->counts.zero_pages,
				   r->counts.vmsa,
				   r->counts.vmm_records };
	static const char *const what[8] = { "records",	     "rounds",	    "PSTATE records",
					     "ENC pages",    "PLAIN pages", "ZERO pages",
					     "VMSA records", "VMM records" };
	for (int i = 0; i < 8; i++) {
		uint64_t got = sevmig__le64(q->p + 8 * i);
		if (got != want[i])
			return RECFAIL(r, err, -EBADMSG, q,
				       "END counts %" PRIu64 " %s; the stream carried %" PRIu64,
				       RECARGS(q), got, what[i], want[i]);
	}
	if (r->counts.vmsa != r->vcpus)
		return RECFAIL(r, err, -EBADMSG, q,
			       "SESSION declares %u vCPUs, the stream carried the state of %" PRIu64
			       " (an SEV-ES guest needs every vCPU's VMSA)",
			       RECARGS(q), r->vcpus, r->counts.vmsa);
	return 0;
}

/* After END: the input must end there (unless trailing data is allowed). */
static int after_end(struct sevmig_stream_reader *r, struct sevmig_error *err)
{
	if (!r->allow_trailing) {
		uint8_t b;
		uint64_t off = r->offset;
		ptrdiff_t k = read_full(r, &b, 1);
		if (k < 0)
			return RFAIL(r, err, (int)k, off, r->counts.records + 1,
				     "reading after END failed: %s", sevmig_strerror((int)k));
		if (k > 0)
			return RFAIL(r, err, -EPROTO, off, r->counts.records + 1,
				     "data after END at byte %" PRIu64 " (nothing may follow END)",
				     off);
	}
	r->state = RS_DONE;
	return 0;
}

static int next(struct sevmig_stream_reader *r, struct sevmig_record_info *info,
		struct sevmig_error *err);

int sevmig_stream_reader_next(struct sevmig_stream_reader *r, struct sevmig_record_info *info,
			      struct sevmig_error *err)
{
	/* Built whole here, handed over up to the caller's size. */
	struct sevmig_record_info all = { .sz = sizeof(all) };
	int rc = next(r, &all, err);
	if (info && rc == 1) /* otherwise the caller's info stays as it was */
		sevmig__out_fill(info, &all, sizeof(all));
	return rc;
}

static int next(struct sevmig_stream_reader *r, struct sevmig_record_info *info,
		struct sevmig_error *err)
{
	switch (r->state) {
	case RS_NEW:
		SEVMIG__TRY(read_header(r, err));
		break;
	case RS_RECS:
		break;
	case RS_END:
		return after_end(r, err);
	case RS_ABORT:
		return RFAIL(r, err, -ECANCELED, r->offset, r->abort_index,
			     "the source aborted the migration at record %" PRIu64 " (%s)%s%s",
			     r->abort_index,
			     r->abort_reason == SEVMIG_ABORT_CANCELLED ? "cancelled" : "error",
			     r->abort_msg[0] ? ": " : "", r->abort_msg);
	case RS_DONE:
		return 0;
	case RS_DEAD:
		if (err)
			*err = r->dead_err;
		return r->dead_rc;
	}

	memset(info, 0, sizeof(*info));
	struct rec q = { .index = r->counts.records, .offset = r->offset };
	uint8_t h[SM_REC_HDR];
	ptrdiff_t k = read_full(r, h, sizeof(h));
	if (k < 0)
		return RFAIL(r, err, (int)k, q.offset, q.index,
			     "reading record %" PRIu64 " failed: %s", q.index,
			     sevmig_strerror((int)k));
	if (k == 0)
		return RFAIL(r, err, -ENODATA, q.offset, q.index,
			     "truncated stream: the input ends after %" PRIu64
			     " bytes, before record %" PRIu64 " (no END record)",
			     r->offset, q.index);
	if (k < (ptrdiff_t)sizeof(h))
		return RFAIL(r, err, -ENODATA, q.offset, q.index,
			     "truncated stream: the input ends after %" PRIu64
			     " bytes, inside record %" PRIu64 "'s header (%td of 20 bytes)",
			     r->offset, q.index, k);
	uint32_t crc = sevmig__crc32c(r->uuid_crc, h, 16);
	if (crc != sevmig__le32(h + 16))
		return RFAIL(r, err, -EBADMSG, q.offset, q.index,
			     "record %" PRIu64 " at byte %" PRIu64 ": header CRC mismatch (the "
			     "record header is damaged, or the record comes from another stream)",
			     q.index, q.offset);
	q.type = sevmig__le16(h);
	uint16_t flags = sevmig__le16(h + 2);
	q.len = sevmig__le32(h + 4);
	uint64_t seq = sevmig__le64(h + 8);
	if (seq != q.index)
		return RFAIL(r, err, -EPROTO, q.offset, q.index,
			     "record at byte %" PRIu64 " has sequence number %" PRIu64
			     ", expected %" PRIu64
			     " (a record is missing, repeated or out of order)",
			     q.offset, seq, q.index);
	bool known = q.type >= SEVMIG_REC_SESSION && q.type <= SEVMIG_REC_VMM;
	if (q.type == 0)
		return RFAIL(r, err, -EBADMSG, q.offset, q.index,
			     "record %" PRIu64 " at byte %" PRIu64 ": type 0 is never valid",
			     q.index, q.offset);
	if ((known && flags) || (!known && (flags & ~SEVMIG_REC_FLAG_SKIPPABLE)))
		return RECFAIL(r, err, -EBADMSG, &q, "reserved flags 0x%x are set", RECARGS(&q),
			       flags);
	if (!known && !(flags & SEVMIG_REC_FLAG_SKIPPABLE))
		return RFAIL(r, err, -EPROTO, q.offset, q.index,
			     "record %" PRIu64 " at byte %" PRIu64 ": unknown type %u, not marked "
			     "skippable",
			     q.index, q.offset, q.type);
	if (q.len > SEVMIG_STREAM_MAX_PAYLOAD)
		return RECFAIL(r, err, -EBADMSG, &q, "payload length %u exceeds the limit %u",
			       RECARGS(&q), q.len, SEVMIG_STREAM_MAX_PAYLOAD);
	if (q.index == 0 && q.type != SEVMIG_REC_SESSION && q.type != SEVMIG_REC_ABORT)
		return RECFAIL(r, err, -EPROTO, &q, "missing SESSION: record 0 must be SESSION",
			       RECARGS(&q));
	/* Payload and CRC: the buffer grows to the record, bounded above. */
	r->payload.len = 0;
	const size_t tail = SM_TAG + 4;
	if (sevmig__buf_reserve(&r->payload, (size_t)q.len + tail) < 0)
		return RFAIL(r, err, -ENOMEM, q.offset, q.index, "out of memory");
	k = read_full(r, r->payload.data, (size_t)q.len + tail);
	if (k < 0)
		return RFAIL(r, err, (int)k, q.offset, q.index,
			     "reading record %" PRIu64 " failed: %s", q.index,
			     sevmig_strerror((int)k));
	if ((size_t)k < (size_t)q.len + tail)
		return RFAIL(r, err, -ENODATA, q.offset, q.index,
			     "truncated stream: the input ends after %" PRIu64
			     " bytes, inside record %" PRIu64 " (%s at byte %" PRIu64
			     ", %td of %u payload, tag and CRC bytes)",
			     r->offset, q.index, sevmig_record_type_name(q.type), q.offset, k,
			     q.len + (uint32_t)tail);
	r->payload.len = q.len;
	q.p = r->payload.data;
	const uint8_t *tag = q.p + q.len;
	crc = sevmig__crc32c(sevmig__crc32c(crc, q.p, q.len), tag, SM_TAG);
	if (crc != sevmig__le32(tag + SM_TAG))
		return RECFAIL(r, err, -EBADMSG, &q, "record CRC mismatch (the record is damaged)",
			       RECARGS(&q));
	memcpy(info->tag, tag, SM_TAG);
	/* The tag before anything else, so that no forged byte changes the
	 * reader's state. ENC and VMSA records whose length does not fit their
	 * packet count cannot be tagged as the format says: their type's
	 * checks refuse them below. */
	if (r->verify) {
		uint8_t t[SM_TAG];
		int trc = sevmig__auth_record(&r->auth, r->counts.rounds, h, q.type, q.p, q.len, t);
		if (trc == 0 && CRYPTO_memcmp(t, tag, SM_TAG))
			return RECFAIL(r, err, -EBADMSG, &q,
				       "tag does not verify (the record was altered, moved, or "
				       "written under another key or migration)",
				       RECARGS(&q));
		info->tag_checked = trc == 0;
	}

	int rc = 0;
	if (r->vmm_open && q.type != SEVMIG_REC_VMM && q.type != SEVMIG_REC_ABORT)
		return RECFAIL(r, err, -EBADMSG, &q,
			       "comes inside a VMM object (%" PRIu64 " of its %" PRIu64
			       " bytes delivered)",
			       RECARGS(&q), r->vmm_next, r->vmm_size);
	switch (q.type) {
	case SEVMIG_REC_SESSION:
		rc = on_session(r, err, &q, info);
		break;
	case SEVMIG_REC_PSTATE:
		rc = on_pstate(r, err, &q, info);
		break;
	case SEVMIG_REC_ENC:
		rc = on_enc(r, err, &q, info);
		break;
	case SEVMIG_REC_PLAIN:
		rc = on_plain(r, err, &q, info);
		break;
	case SEVMIG_REC_ZERO:
		rc = on_zero(r, err, &q, info);
		break;
	case SEVMIG_REC_VMSA:
		rc = on_vmsa(r, err, &q, info);
		break;
	case SEVMIG_REC_ROUND:
		rc = on_round(r, err, &q, info);
		break;
	case SEVMIG_REC_ABORT:
		rc = on_abort(r, err, &q, info);
		break;
	case SEVMIG_REC_END:
		rc = on_end(r, err, &q);
		break;
	case SEVMIG_REC_VMM:
		rc = on_vmm(r, err, &q, info);
		break;
	default:
		info->skipped = true;
		r->counts.skipped++;
		break;
	}
	if (rc < 0)
		return rc;
	info->index = q.index;
	info->offset = q.offset;
	info->type = q.type;
	info->flags = flags;
	info->length = q.len;
	info->payload = q.p;
	if (q.type == SEVMIG_REC_END) {
		r->state = RS_END;
		return 1;
	}
	if (q.type == SEVMIG_REC_ABORT)
		r->state = RS_ABORT;
	r->counts.records++;
	return 1;
}
