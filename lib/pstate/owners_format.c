/* SPDX-License-Identifier: MIT */
/*
 * The binary form of an ownership map, version 1 (docs/owners-format.md is
 * the specification; this file follows it section by section), and reading
 * either form.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pstate/owners_impl.h"
#include "util/buf.h"
#include "util/crc32c.h"
#include "util/endian.h"
#include "util/error.h"
#include "util/varint.h"

static const uint8_t magic[8] = { 0x89, 'S', 'V', 'O', 'W', '\r', '\n', 0x1a };

enum {
	HDR_LEN = 16,
	CRC_LEN = 4,
	MIN_LEN = HDR_LEN + 1 + CRC_LEN, /* the empty map */
	FORMAT_VERSION = 1,
	RUN_MIN_BYTES = 4, /* four varints of one byte at least */
};

bool sevmig__owners_is_binary(const void *buf, size_t len)
{
	if (len >= sizeof(magic))
		return !memcmp(buf, magic, sizeof(magic));
	return len >= 4 && !memcmp(buf, magic, len);
}

/* ---- writer (1.2) ---------------------------------------------------------- */

int sevmig_owners_serialize(const struct sevmig_owners *o, void **buf, size_t *len)
{
	if (!o || !buf || !len)
		return -EINVAL;
	uint64_t runs = 0;
	for (size_t i = 0; i < o->n; i++)
		runs += o->v[i].owner != SEVMIG__GAP;
	struct sevmig__buf b = { 0 };
	/* header, count, at most 4 varints of 10 bytes a run, checksum */
	int rc = sevmig__buf_reserve(&b, HDR_LEN + SEVMIG__VARINT_MAX + CRC_LEN);
	if (!rc && runs > (SIZE_MAX - 64) / (4 * SEVMIG__VARINT_MAX))
		rc = -ENOMEM;
	if (!rc)
		rc = sevmig__buf_reserve(&b, HDR_LEN + SEVMIG__VARINT_MAX + CRC_LEN +
						 (size_t)runs * 4 * SEVMIG__VARINT_MAX);
	if (rc) {
		sevmig__buf_free(&b);
		return rc;
	}
	uint8_t *p = b.data;
	memcpy(p, magic, sizeof(magic));
	sevmig__put_le16(p + 8, FORMAT_VERSION);
	sevmig__put_le16(p + 10, 0);
	sevmig__put_le32(p + 12, SEVMIG_PAGE_SIZE);
	size_t k = HDR_LEN;
	k += sevmig__varint_put(p + k, runs);
	uint64_t prev_end = 0;
	for (size_t i = 0; i < o->n; i++) {
		const struct sevmig__oent *e = &o->v[i];
		if (e->owner == SEVMIG__GAP)
			continue;
		uint64_t end = sevmig__oent_end(o, i);
		k += sevmig__varint_put(p + k, e->first - prev_end);
		k += sevmig__varint_put(p + k, end - e->first - 1);
		k += sevmig__varint_put(p + k, e->owner);
		k += sevmig__varint_put(
		    p + k, e->borrower == SEVMIG_OWNER_NONE ? 0 : (uint64_t)e->borrower + 1);
		prev_end = end;
	}
	sevmig__put_le32(p + k, sevmig__crc32c(0, p, k));
	b.len = k + CRC_LEN;
	*buf = sevmig__buf_take(&b, len);
	return 0;
}

/* ---- reader (1.3) ------------------------------------------------------------ */

struct rd {
	const uint8_t *p;
	size_t pos, end; /* file offsets; end is where the checksum starts */
	struct sevmig_error *err;
};

#define rfail(r, at, ...) sevmig__fail((r)->err, -EBADMSG, (at), 0, __VA_ARGS__)

static int rd_varint(struct rd *r, uint64_t *v, const char *what, uint64_t idx)
{
	size_t at = r->pos;
	int k = sevmig__varint_get(r->p + r->pos, r->end - r->pos, v);
	if (k > 0) {
		r->pos += (size_t)k;
		return 0;
	}
	if (!k)
		return rfail(r, at, "the input ends inside the %s of run %" PRIu64, what, idx);
	return rfail(r, at, "the %s of run %" PRIu64 ": overlong varint or a value past 64 bits",
		     what, idx);
}

static int read_runs(struct rd *r, struct sevmig_owners **out)
{
	uint64_t count;
	size_t at = r->pos;
	int k = sevmig__varint_get(r->p + r->pos, r->end - r->pos, &count);
	if (k <= 0)
		return rfail(r, at,
			     k ? "the run count: overlong varint or a value past 64 bits"
			       : "the input ends inside the run count");
	r->pos += (size_t)k;
	if (count > (r->end - r->pos) / RUN_MIN_BYTES)
		return rfail(r, at, "%" PRIu64 " runs cannot fit in the %zu bytes left", count,
			     r->end - r->pos);
	struct sevmig_owners *o;
	if (sevmig__owners_alloc(&o, 2 * (size_t)count + 1))
		return sevmig__fail(r->err, -ENOMEM, SEVMIG_NO_OFFSET, 0, "out of memory");
	uint64_t prev_end = 0;
	int rc = 0;
	for (uint64_t i = 0; i < count && !rc; i++) {
		uint64_t gap, extra, owner, borrower;
		size_t at_gap = r->pos, at_len, at_state;
		if ((rc = rd_varint(r, &gap, "gap", i)))
			break;
		if (gap >= SEVMIG_GFN_LIMIT - prev_end) {
			rc = rfail(r, at_gap,
				   "run %" PRIu64 " starts beyond the 40-bit frame limit", i);
			break;
		}
		uint64_t first = prev_end + gap;
		at_len = r->pos;
		if ((rc = rd_varint(r, &extra, "length", i)))
			break;
		if (extra >= SEVMIG_GFN_LIMIT - first) {
			rc = rfail(r, at_len,
				   "run %" PRIu64 " at frame 0x%" PRIx64
				   " is longer than the %" PRIu64 " frames left below 2^40",
				   i, first, SEVMIG_GFN_LIMIT - first);
			break;
		}
		at_state = r->pos;
		if ((rc = rd_varint(r, &owner, "owner", i)))
			break;
		if (owner > SEVMIG_OWNER_ID_MAX) {
			rc = rfail(r, at_state,
				   "run %" PRIu64 ": owner id %" PRIu64
				   " is past the 20-bit id range",
				   i, owner);
			break;
		}
		size_t at_bor = r->pos;
		if ((rc = rd_varint(r, &borrower, "borrower", i)))
			break;
		if (borrower > SEVMIG_OWNER_ID_MAX + 1) {
			rc = rfail(r, at_bor,
				   "run %" PRIu64 ": borrower %" PRIu64
				   " (id + 1) is past the 20-bit id range",
				   i, borrower);
			break;
		}
		uint32_t ow = (uint32_t)owner;
		uint32_t bw = borrower ? (uint32_t)borrower - 1 : SEVMIG_OWNER_NONE;
		const char *why = sevmig__owners_state_why(ow, bw);
		if (why) {
			char st[2 * SEVMIG_OWNER_NAME_MAX];
			rc = rfail(r, at_state, "run %" PRIu64 " is %s, which no frame can be: %s",
				   i, sevmig__owners_state_str(ow, bw, st, sizeof(st)), why);
			break;
		}
		const struct sevmig__oent *last = o->n > 1 ? &o->v[o->n - 2] : NULL;
		if (i && !gap && last->owner == ow && last->borrower == bw) {
			rc = rfail(r, at_gap,
				   "run %" PRIu64 " touches run %" PRIu64
				   " in the same state: runs must be maximal",
				   i, i - 1);
			break;
		}
		rc = sevmig__owners_append(o, first, first + extra + 1, ow, bw);
		prev_end = first + extra + 1;
	}
	if (!rc && r->pos != r->end)
		rc = rfail(r, r->pos, "%zu unexpected bytes after the last run", r->end - r->pos);
	if (rc) {
		sevmig_owners_free(o);
		return rc;
	}
	*out = o;
	return 0;
}

int sevmig_owners_deserialize(const void *buf, size_t len, struct sevmig_owners **out,
			      struct sevmig_error *err)
{
	if ((!buf && len) || !out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no input or no result");
	const uint8_t *p = buf;
	if (!sevmig__owners_is_binary(p, len))
		return sevmig__fail(err, -EBADMSG, 0, 0,
				    "not a page-ownership file (no libsevmig ownership magic)");
	if (len < MIN_LEN)
		return sevmig__fail(err, -EBADMSG, len, 0,
				    "truncated: %zu bytes, a page-ownership file has at least %d",
				    len, MIN_LEN);
	unsigned version = sevmig__le16(p + 8), flags = sevmig__le16(p + 10);
	uint32_t frame_size = sevmig__le32(p + 12);
	if (version != FORMAT_VERSION)
		return sevmig__fail(err, -EBADMSG, 8, 0,
				    "format version %u: this library reads version %d", version,
				    FORMAT_VERSION);
	if (flags)
		return sevmig__fail(err, -EBADMSG, 10, 0, "reserved flag bits 0x%04x are set",
				    flags);
	if (frame_size != SEVMIG_PAGE_SIZE)
		return sevmig__fail(err, -EBADMSG, 12, 0,
				    "frame size %" PRIu32 ": only %u-byte frames are supported",
				    frame_size, SEVMIG_PAGE_SIZE);
	struct rd r = { p, HDR_LEN, len - CRC_LEN, err };
	struct sevmig_owners *o = NULL;
	SEVMIG__TRY(read_runs(&r, &o));
	uint32_t stored = sevmig__le32(p + len - CRC_LEN);
	uint32_t calc = sevmig__crc32c(0, p, len - CRC_LEN);
	if (stored != calc) {
		sevmig_owners_free(o);
		return sevmig__fail(err, -EBADMSG, len - CRC_LEN, 0,
				    "checksum mismatch: stored 0x%08" PRIx32
				    ", computed 0x%08" PRIx32 " (the file is corrupt)",
				    stored, calc);
	}
	*out = o;
	return 0;
}

int sevmig_owners_load(const void *buf, size_t len, struct sevmig_owners **out,
		       struct sevmig_error *err)
{
	if ((!buf && len) || !out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no input or no result");
	if (sevmig__owners_is_binary(buf, len))
		return sevmig_owners_deserialize(buf, len, out, err);
	/* another binary file (a page-state one, say) is no text to parse */
	if (len && ((const uint8_t *)buf)[0] == 0x89)
		return sevmig__fail(err, -EBADMSG, 0, 0,
				    "not a page-ownership file (a binary file without the "
				    "ownership magic)");
	return sevmig_owners_parse_text(buf, len, out, err);
}
