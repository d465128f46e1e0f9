/* SPDX-License-Identifier: MIT */
/*
 * A model of the stream's checksums and tags (format 2.0), written from
 * docs/stream-format.md apart from lib/stream so that tests catch the
 * library getting them wrong:
 *  - ts_stamp_crcs(): the header CRC and every record's two CRCs (header
 *    CRC over UUID || hdr[0,16), record CRC over UUID || hdr[0,16) ||
 *    payload || tag);
 *  - ts_restamp(): every tag recomputed (HKDF-SHA256 key schedule, AES-256
 *    GMAC) under a given secret, then every CRC, as a writer would have, so
 *    that a deeper rule is what rejects an edited stream. With key NULL
 *    (and not insecure) only the CRCs: what an attacker without the key can
 *    do.
 * Needs no test framework: the fuzz targets use it too.
 */
#ifndef TEST_STREAM_STAMP_H
#define TEST_STREAM_STAMP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <sevmig/stream.h>

#include "util/crc32c.h"
#include "util/endian.h"

#define TS_HDR_FIXED 96u	   /* header bytes before the memslots */
#define TS_REC_HDR   20u	   /* type, flags, length, sequence, header CRC */
#define TS_TAG	     16u	   /* GMAC tag after the payload */
#define TS_REC_OVER  40u	   /* header + tag + record CRC */
#define TS_PKT	     (52u + 4096u) /* packet header + ciphertext */

/* A plausible header length (its own field, bounded by len): 0 if none. */
static inline uint32_t ts_hlen(const uint8_t *s, size_t len)
{
	if (len < TS_HDR_FIXED + 4)
		return 0;
	uint32_t hl = sevmig__le32(s + 12);
	return hl >= TS_HDR_FIXED + 4 && hl <= len ? hl : 0;
}

/* The header CRC and every record's two CRCs (with the header's UUID).
 * Walks by the stream's own lengths; stops where they do not fit. */
static inline void ts_stamp_crcs(uint8_t *s, size_t len)
{
	uint32_t hl = ts_hlen(s, len);
	if (!hl)
		return;
	sevmig__put_le32(s + hl - 4, sevmig__crc32c(0, s, hl - 4));
	uint32_t seed = sevmig__crc32c(0, s + 24, 16);
	size_t pos = hl;
	while (len - pos >= TS_REC_OVER) {
		uint8_t *r = s + pos;
		uint32_t l = sevmig__le32(r + 4);
		if (l > len - pos - TS_REC_OVER)
			break;
		uint32_t c = sevmig__crc32c(seed, r, 16);
		sevmig__put_le32(r + 16, c);
		c = sevmig__crc32c(c, r + TS_REC_HDR, (size_t)l + TS_TAG);
		sevmig__put_le32(r + TS_REC_HDR + l + TS_TAG, c);
		pos += TS_REC_OVER + (size_t)l;
	}
}

/* The stream-to-target GMAC key of a header (hdr[0, hl), CRC included)
 * under `secret`: HKDF-SHA256, salt "sevmig stream 2.0", info
 * "sevmig s2t " || SHA-256(header). 0, or -1. */
static inline int ts_derive(const uint8_t secret[32], const uint8_t *hdr, size_t hl,
			    const char *label, uint8_t key[32])
{
	uint8_t info[64];
	size_t ll = strlen(label);
	unsigned ml = 0;
	memcpy(info, label, ll);
	if (EVP_Digest(hdr, hl, info + ll, &ml, EVP_sha256(), NULL) != 1)
		return -1;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *k = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	EVP_KDF_free(kdf);
	if (!k)
		return -1;
	static const char salt[] = "sevmig stream 2.0";
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, 32),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt,
						  sizeof(salt) - 1),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, ll + 32),
		OSSL_PARAM_construct_end(),
	};
	int rc = EVP_KDF_derive(k, key, 32, p) == 1 ? 0 : -1;
	EVP_KDF_CTX_free(k);
	return rc;
}

/* A GMAC tag: IV = le32(dir) || le64(seq), AAD the n pieces given. */
struct ts_piece {
	const uint8_t *p;
	size_t n;
};

static inline int ts_gmac(const uint8_t key[32], uint32_t dir, uint64_t seq,
			  const struct ts_piece *pc, size_t npc, uint8_t tag[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t iv[12], none[16];
	int out = 0, ok = c != NULL;
	sevmig__put_le32(iv, dir);
	sevmig__put_le64(iv + 4, seq);
	ok = ok && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv) == 1;
	for (size_t i = 0; ok && i < npc; i++)
		ok = !pc[i].n || EVP_EncryptUpdate(c, NULL, &out, pc[i].p, (int)pc[i].n) == 1;
	ok = ok && EVP_EncryptFinal_ex(c, none, &out) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

/*
 * The tag of the record at r (payload length l) in pass `round`: AAD =
 * le64(round) || r[0,16) || the payload without the 4096 ciphertext bytes
 * after each packet header (ENC: after the 16 fixed bytes and the gfn list;
 * VMSA: at payload offset 68). -1 for an ENC or VMSA record whose length
 * does not fit its packets (no tag can be computed: readers refuse those by
 * their type's rules).
 */
static inline int ts_record_tag(const uint8_t key[32], uint64_t round, const uint8_t *r, uint32_t l,
				uint8_t tag[16])
{
	const uint8_t *p = r + TS_REC_HDR;
	uint16_t type = sevmig__le16(r);
	uint64_t npkt = 0, head = l;
	if (type == SEVMIG_REC_ENC) {
		npkt = l >= 16 ? sevmig__le32(p) : 0;
		if (!npkt || l != 16 + (8 + (uint64_t)TS_PKT) * npkt)
			return -1;
		head = 16 + 8 * npkt;
	} else if (type == SEVMIG_REC_VMSA) {
		if (l != 16 + TS_PKT)
			return -1;
		npkt = 1;
		head = 16;
	}
	struct ts_piece *pc = malloc((3 + npkt) * sizeof(*pc));
	if (!pc)
		return -1;
	uint8_t rd[8];
	sevmig__put_le64(rd, round);
	size_t n = 0;
	pc[n++] = (struct ts_piece){ rd, 8 };
	pc[n++] = (struct ts_piece){ r, 16 };
	pc[n++] = (struct ts_piece){ p, (size_t)head };
	for (uint64_t i = 0; i < npkt; i++)
		pc[n++] = (struct ts_piece){ p + head + i * TS_PKT, 52 };
	int rc = ts_gmac(key, 0, sevmig__le64(r + 8), pc, n, tag);
	free(pc);
	return rc;
}

/*
 * Make every tag (under `key`, or the all-zero secret when `insecure`) and
 * every CRC right again, as a writer would have: the stream is then well
 * framed and authentic under that secret whatever was changed inside it.
 * key NULL and not insecure: CRCs only (an attacker without the key). The
 * pass number of a record is the count of ROUND records before it, as the
 * stream now stands. Stops where the lengths do not fit.
 */
static inline void ts_restamp(uint8_t *s, size_t len, const uint8_t *key, bool insecure)
{
	ts_stamp_crcs(s, len); /* the header CRC first: the keys hash it */
	uint32_t hl = ts_hlen(s, len);
	if (!hl || (!key && !insecure))
		return;
	static const uint8_t zero[32];
	uint8_t k[32];
	if (ts_derive(insecure ? zero : key, s, hl, "sevmig s2t ", k))
		return;
	uint64_t round = 0;
	size_t pos = hl;
	while (len - pos >= TS_REC_OVER) {
		uint8_t *r = s + pos;
		uint32_t l = sevmig__le32(r + 4);
		if (l > len - pos - TS_REC_OVER)
			break;
		ts_record_tag(k, round, r, l, r + TS_REC_HDR + l);
		round += sevmig__le16(r) == SEVMIG_REC_ROUND;
		pos += TS_REC_OVER + (size_t)l;
	}
	ts_stamp_crcs(s, len);
}

/* ts_restamp() as the stream's header asks: under `key` when its KEYED flag
 * is set (CRCs only if key is NULL), else under the zero secret. */
static inline void ts_restamp_as(uint8_t *s, size_t len, const uint8_t *key)
{
	bool keyed = len >= 20 && (sevmig__le32(s + 16) & SEVMIG_STREAM_FLAG_KEYED);
	ts_restamp(s, len, keyed ? key : NULL, !keyed);
}

#endif
