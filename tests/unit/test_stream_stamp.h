/* SPDX-License-Identifier: MIT */
/*
 * A model of the stream's checksums, written from docs/stream-format.md
 * apart from lib/stream so that tests catch the library getting them wrong:
 * what END's digest covers, and `ts_restamp`, which recomputes every CRC
 * and END's digest after a test (or the fuzz target) has edited a stream, so
 * that a deeper rule is what rejects it. Needs no test framework: the fuzz
 * target uses it too.
 */
#ifndef TEST_STREAM_STAMP_H
#define TEST_STREAM_STAMP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <sevmig/stream.h>

#include "util/crc32c.h"
#include "util/endian.h"

/*
 * Copy into `out` (room for len bytes) the bytes END's digest covers: the
 * stream from byte 0 up to END's digest field, less the 4096 ciphertext
 * bytes after each packet header of well-formed ENC and VMSA records.
 * Returns the count; *digest_at is the offset of END's digest field, or 0
 * when no END record fits. Walks by the stream's own lengths, so any bytes
 * will do.
 */
static inline size_t ts_digest_input(const uint8_t *s, size_t len, uint8_t *out, size_t *digest_at)
{
	*digest_at = 0;
	if (len < 68 || sevmig__le32(s + 12) < 68 || sevmig__le32(s + 12) > len)
		return 0;
	size_t pos = sevmig__le32(s + 12), n = pos;
	memcpy(out, s, pos);
	while (len - pos >= 24) {
		const uint8_t *r = s + pos, *p = r + 20;
		uint32_t l = sevmig__le32(r + 4), type = sevmig__le16(r);
		if (l > len - pos - 24)
			break;
		if (type == SEVMIG_REC_END && l == 96) {
			memcpy(out + n, r, 20 + 64);
			*digest_at = pos + 20 + 64;
			return n + 20 + 64;
		}
		/* Packets: where the first starts and how many. */
		uint64_t first = 0, npkt = 0;
		if (type == SEVMIG_REC_ENC && l >= 16 &&
		    l == 16 + (8 + 52 + 4096) * (uint64_t)sevmig__le32(p)) {
			npkt = sevmig__le32(p);
			first = 16 + 8 * npkt;
		} else if (type == SEVMIG_REC_VMSA && l == 16 + 52 + 4096) {
			npkt = 1;
			first = 16;
		}
		size_t keep = npkt ? 20 + first : 24 + (size_t)l;
		memcpy(out + n, r, keep);
		n += keep;
		for (uint64_t i = 0; i < npkt; i++, n += 52)
			memcpy(out + n, p + first + i * (52 + 4096), 52);
		if (npkt) {
			memcpy(out + n, p + l, 4);
			n += 4;
		}
		pos += 24 + (size_t)l;
	}
	return n;
}

/* The digest END should carry, and where it goes: 0, or -1 without END. */
static inline int ts_digest(const uint8_t *s, size_t len, uint8_t md[32], size_t *at)
{
	uint8_t *in = malloc(len ? len : 1);
	size_t n = in ? ts_digest_input(s, len, in, at) : (*at = 0);
	unsigned ml;
	int rc = *at && EVP_Digest(in, n, md, &ml, EVP_sha256(), NULL) == 1 ? 0 : -1;
	free(in);
	return rc;
}

/* The header CRC and every record's two CRCs (with the header's UUID). */
static inline void ts_stamp_crcs(uint8_t *s, size_t len)
{
	if (len < 68)
		return;
	uint32_t hl = sevmig__le32(s + 12);
	if (hl < 68 || hl > len)
		return;
	sevmig__put_le32(s + hl - 4, sevmig__crc32c(0, s, hl - 4));
	uint32_t seed = sevmig__crc32c(0, s + 24, 16);
	size_t pos = hl;
	while (len - pos >= 24) {
		uint8_t *r = s + pos;
		uint32_t l = sevmig__le32(r + 4);
		if (l > len - pos - 24)
			break;
		uint32_t c = sevmig__crc32c(seed, r, 16);
		sevmig__put_le32(r + 16, c);
		sevmig__put_le32(r + 20 + l, sevmig__crc32c(c, r + 20, l));
		pos += 24 + (size_t)l;
	}
}

/*
 * Make every CRC and, unless keep_digest, END's SHA-256 right again, as a
 * writer would have: the stream is then well framed whatever was changed
 * inside it. Stops where the lengths do not fit.
 */
static inline void ts_restamp(uint8_t *s, size_t len, bool keep_digest)
{
	ts_stamp_crcs(s, len);
	uint8_t md[32];
	size_t at;
	if (!keep_digest && ts_digest(s, len, md, &at) == 0) {
		/* The digest covers the CRCs before it; END's CRC covers it. */
		memcpy(s + at, md, 32);
		ts_stamp_crcs(s, len);
	}
}

#endif
