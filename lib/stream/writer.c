/* SPDX-License-Identifier: MIT */
/* The record writer: header, framing (sequence numbers, CRCs), the running
 * SHA-256 for END, and sticky write errors. It runs on the caller's thread,
 * in stream order; the CRC of a big payload comes from the worker that
 * built it, so that here only the 16 header bytes are checksummed. */
#include "stream/stream_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/endian.h"

int sevmig__writer_init(struct sevmig__writer *w, sevmig_write_fn write, void *arg,
			const uint8_t uuid[16])
{
	memset(w, 0, sizeof(*w));
	w->write = write;
	w->arg = arg;
	memcpy(w->uuid, uuid, 16);
	w->uuid_crc = sevmig__stream_seed(uuid);
	w->sha = EVP_MD_CTX_new();
	if (!w->sha)
		return -ENOMEM;
	if (EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(w->sha);
		w->sha = NULL;
		return -EIO;
	}
	return 0;
}

void sevmig__writer_fini(struct sevmig__writer *w)
{
	EVP_MD_CTX_free(w->sha);
	w->sha = NULL;
}

/* Write; the first failure sticks so that nothing after a lost byte can go
 * out. */
static int put(struct sevmig__writer *w, const void *p, size_t n)
{
	if (w->dead)
		return w->dead;
	int rc = w->write(w->arg, p, n);
	if (rc < 0)
		return w->dead = rc;
	w->bytes += n;
	return 0;
}

int sevmig__writer_header(struct sevmig__writer *w, uint32_t flags, uint32_t policy,
			  const struct sevmig__layout *l)
{
	size_t len = SM_HDR_FIXED + 16 * l->n + 4;
	uint8_t *h = calloc(1, len);
	if (!h)
		return -ENOMEM;
	memcpy(h, SEVMIG_STREAM_MAGIC, 8);
	sevmig__put_le16(h + 8, SEVMIG_STREAM_VERSION_MAJOR);
	sevmig__put_le16(h + 10, SEVMIG_STREAM_VERSION_MINOR);
	sevmig__put_le32(h + 12, (uint32_t)len);
	sevmig__put_le32(h + 16, flags);
	sevmig__put_le32(h + 20, SM_PAGE);
	memcpy(h + 24, w->uuid, 16);
	sevmig__put_le32(h + 40, policy);
	sevmig__put_le32(h + 44, (uint32_t)l->n);
	for (size_t i = 0; i < l->n; i++) {
		sevmig__put_le64(h + SM_HDR_FIXED + 16 * i, l->slots[i].gfn << SEVMIG_PAGE_SHIFT);
		sevmig__put_le64(h + SM_HDR_FIXED + 16 * i + 8,
				 l->slots[i].npages << SEVMIG_PAGE_SHIFT);
	}
	sevmig__put_le32(h + len - 4, sevmig__crc32c(0, h, len - 4));
	int rc = EVP_DigestUpdate(w->sha, h, len) == 1 ? put(w, h, len) : -EIO;
	free(h);
	return rc;
}

/* Fill the record header and both CRCs; pcrc is the payload's own CRC. */
static void frame(struct sevmig__writer *w, uint8_t *rec, uint16_t type, uint32_t len,
		  uint32_t pcrc)
{
	sevmig__put_le16(rec, type);
	sevmig__put_le16(rec + 2, 0);
	sevmig__put_le32(rec + 4, len);
	sevmig__put_le64(rec + 8, w->seq);
	uint32_t crc = sevmig__crc32c(w->uuid_crc, rec, 16);
	sevmig__put_le32(rec + 16, crc);
	sevmig__put_le32(rec + SM_REC_HDR + len, sevmig__crc32c_combine(crc, pcrc, len));
}

int sevmig__writer_record_pcrc(struct sevmig__writer *w, uint8_t *rec, uint16_t type, uint32_t len,
			       uint32_t payload_crc)
{
	if (w->dead)
		return w->dead;
	frame(w, rec, type, len, payload_crc);
	if (sevmig__digest_record(w->sha, rec, type, rec + SM_REC_HDR, len,
				  rec + SM_REC_HDR + len) < 0)
		return w->dead = -EIO;
	SEVMIG__TRY(put(w, rec, SM_REC_OVERHEAD + (size_t)len));
	w->seq++;
	return 0;
}

int sevmig__writer_record(struct sevmig__writer *w, uint8_t *rec, uint16_t type, uint32_t len)
{
	return sevmig__writer_record_pcrc(w, rec, type, len,
					  sevmig__crc32c(0, rec + SM_REC_HDR, len));
}

int sevmig__writer_end(struct sevmig__writer *w, uint8_t payload[SM_END_LEN])
{
	uint8_t rec[SM_REC_OVERHEAD + SM_END_LEN];
	memcpy(rec + SM_REC_HDR, payload, SM_END_DIGEST_OFF);
	memset(rec + SM_REC_HDR + SM_END_DIGEST_OFF, 0, 32);
	/* The digest covers END's header and its counters, so frame twice:
	 * once for the header bytes it hashes, once with the digest in. */
	frame(w, rec, SEVMIG_REC_END, SM_END_LEN, sevmig__crc32c(0, rec + SM_REC_HDR, SM_END_LEN));
	if (w->dead)
		return w->dead;
	unsigned dlen = 0;
	if (EVP_DigestUpdate(w->sha, rec, SM_REC_HDR + SM_END_DIGEST_OFF) != 1 ||
	    EVP_DigestFinal_ex(w->sha, rec + SM_REC_HDR + SM_END_DIGEST_OFF, &dlen) != 1 ||
	    dlen != 32)
		return w->dead = -EIO;
	memcpy(payload + SM_END_DIGEST_OFF, rec + SM_REC_HDR + SM_END_DIGEST_OFF, 32);
	frame(w, rec, SEVMIG_REC_END, SM_END_LEN, sevmig__crc32c(0, rec + SM_REC_HDR, SM_END_LEN));
	SEVMIG__TRY(put(w, rec, sizeof(rec)));
	w->seq++;
	return 0;
}
