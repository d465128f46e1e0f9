/* SPDX-License-Identifier: MIT */
/* The record writer: header, framing (sequence numbers, CRCs, tags) and
 * sticky write errors. It runs on the caller's thread,
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
	return 0;
}

void sevmig__writer_fini(struct sevmig__writer *w)
{
	sevmig__auth_fini(&w->auth);
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

int sevmig__writer_header(struct sevmig__writer *w, const struct sevmig__hdr_info *hi,
			  const struct sevmig__layout *l, const uint8_t secret[32])
{
	size_t len = SM_HDR_FIXED + 16 * l->n + 4;
	uint8_t *h = calloc(1, len);
	if (!h)
		return -ENOMEM;
	memcpy(h, SEVMIG_STREAM_MAGIC, 8);
	sevmig__put_le16(h + 8, SEVMIG_STREAM_VERSION_MAJOR);
	sevmig__put_le16(h + 10, SEVMIG_STREAM_VERSION_MINOR);
	sevmig__put_le32(h + 12, (uint32_t)len);
	sevmig__put_le32(h + 16, hi->flags);
	sevmig__put_le32(h + 20, SM_PAGE);
	memcpy(h + 24, w->uuid, 16);
	sevmig__put_le32(h + 40, hi->policy);
	sevmig__put_le32(h + 44, (uint32_t)l->n);
	sevmig__put_le32(h + 48, hi->key_source);
	memcpy(h + 64, hi->sender_nonce, 16);
	memcpy(h + 80, hi->target_nonce, 16);
	for (size_t i = 0; i < l->n; i++) {
		sevmig__put_le64(h + SM_HDR_FIXED + 16 * i, l->slots[i].gfn << SEVMIG_PAGE_SHIFT);
		sevmig__put_le64(h + SM_HDR_FIXED + 16 * i + 8,
				 l->slots[i].npages << SEVMIG_PAGE_SHIFT);
	}
	sevmig__put_le32(h + len - 4, sevmig__crc32c(0, h, len - 4));
	int rc = sevmig__auth_init(&w->auth, secret, h, len);
	if (rc == 0)
		rc = put(w, h, len);
	free(h);
	return rc;
}

int sevmig__writer_record_pcrc(struct sevmig__writer *w, uint8_t *rec, uint16_t type, uint32_t len,
			       uint32_t payload_crc)
{
	if (w->dead)
		return w->dead;
	sevmig__put_le16(rec, type);
	sevmig__put_le16(rec + 2, 0);
	sevmig__put_le32(rec + 4, len);
	sevmig__put_le64(rec + 8, w->seq);
	uint32_t crc = sevmig__crc32c(w->uuid_crc, rec, 16);
	sevmig__put_le32(rec + 16, crc);
	uint8_t *tag = rec + SM_REC_HDR + len;
	if (sevmig__auth_record(&w->auth, w->round, rec, type, rec + SM_REC_HDR, len, tag) < 0)
		return w->dead = -EIO;
	crc = sevmig__crc32c(sevmig__crc32c_combine(crc, payload_crc, len), tag, SM_TAG);
	sevmig__put_le32(tag + SM_TAG, crc);
	SEVMIG__TRY(put(w, rec, SM_REC_OVERHEAD + (size_t)len));
	memcpy(w->last_tag, tag, SM_TAG);
	w->seq++;
	w->round += type == SEVMIG_REC_ROUND;
	return 0;
}

int sevmig__writer_record(struct sevmig__writer *w, uint8_t *rec, uint16_t type, uint32_t len)
{
	return sevmig__writer_record_pcrc(w, rec, type, len,
					  sevmig__crc32c(0, rec + SM_REC_HDR, len));
}
