/* SPDX-License-Identifier: MIT */
/*
 * The back-channel codec (docs/stream-format.md §8): the messages a target
 * sends its source on a bidirectional transport. Every message but HELLO is
 * tagged under the target-to-source key, so an on-path attacker can neither
 * forge a COMMIT nor turn a NAK into one. HELLO cannot be: it carries the
 * target's nonce from which, with the header, the keys are derived; a
 * forged HELLO only makes the real target refuse the stream.
 */
#include "stream/stream_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/endian.h"

static const char *back_name(uint16_t t)
{
	switch (t) {
	case SEVMIG_BACK_HELLO:
		return "HELLO";
	case SEVMIG_BACK_ACK:
		return "ACK";
	case SEVMIG_BACK_COMMIT:
		return "COMMIT";
	case SEVMIG_BACK_NAK:
		return "NAK";
	default:
		return "UNKNOWN";
	}
}

int sevmig__back_encode(struct sevmig__auth *a, const struct sevmig__back_msg *m, uint8_t *out)
{
	uint8_t *p = out + SM_BACK_HDR;
	uint32_t len = 0;
	switch (m->type) {
	case SEVMIG_BACK_HELLO:
		memcpy(p, SM_BACK_MAGIC, 8);
		sevmig__put_le16(p + 8, SEVMIG_STREAM_VERSION_MAJOR);
		sevmig__put_le16(p + 10, SEVMIG_STREAM_VERSION_MINOR);
		sevmig__put_le32(p + 12, 0);
		memcpy(p + 16, m->nonce, 16);
		len = SM_HELLO_LEN;
		break;
	case SEVMIG_BACK_ACK:
		sevmig__put_le64(p, m->records);
		sevmig__put_le64(p + 8, m->pages);
		sevmig__put_le64(p + 16, m->round);
		len = SM_ACK_LEN;
		break;
	case SEVMIG_BACK_COMMIT:
		sevmig__put_le64(p, m->records);
		memcpy(p + 8, m->end_tag, 16);
		len = SM_COMMIT_LEN;
		break;
	case SEVMIG_BACK_NAK: {
		size_t k = strnlen(m->msg, SM_BACK_MAX - SM_NAK_FIXED);
		sevmig__put_le32(p, m->code);
		sevmig__put_le32(p + 4, (uint32_t)k);
		memcpy(p + 8, m->msg, k);
		len = SM_NAK_FIXED + (uint32_t)k;
		break;
	}
	default:
		return -EINVAL;
	}
	sevmig__put_le16(out, m->type);
	sevmig__put_le16(out + 2, 0);
	sevmig__put_le32(out + 4, len);
	sevmig__put_le64(out + 8, m->seq);
	uint8_t *tag = p + len;
	if (m->type == SEVMIG_BACK_HELLO)
		memset(tag, 0, SM_TAG);
	else
		SEVMIG__TRY(sevmig__auth_back(a, out, p, len, tag));
	sevmig__put_le32(tag + SM_TAG, sevmig__crc32c(0, out, SM_BACK_HDR + len + SM_TAG));
	return (int)(SM_BACK_OVERHEAD + len);
}

#define BFAIL(err, code, off, ...) sevmig__fail((err), (code), (off), seq, __VA_ARGS__)

int sevmig__back_decode(const uint8_t *buf, size_t len, struct sevmig__auth *a, uint64_t expect_seq,
			struct sevmig__back_msg *m, size_t *used, struct sevmig_error *err)
{
	uint64_t seq = expect_seq;
	if (len < SM_BACK_HDR)
		return BFAIL(err, -ENODATA, len, "back-channel message %" PRIu64 " cut short", seq);
	uint16_t type = sevmig__le16(buf), flags = sevmig__le16(buf + 2);
	uint32_t pl = sevmig__le32(buf + 4);
	uint64_t got_seq = sevmig__le64(buf + 8);
	if (pl > SM_BACK_MAX)
		return BFAIL(err, -EBADMSG, 4,
			     "back-channel message %" PRIu64 ": length %u exceeds %u", seq, pl,
			     SM_BACK_MAX);
	if (len < SM_BACK_OVERHEAD + (size_t)pl)
		return BFAIL(err, -ENODATA, len, "back-channel message %" PRIu64 " cut short", seq);
	const uint8_t *p = buf + SM_BACK_HDR, *tag = p + pl;
	if (sevmig__le32(tag + SM_TAG) != sevmig__crc32c(0, buf, SM_BACK_HDR + pl + SM_TAG))
		return BFAIL(err, -EBADMSG, SM_BACK_HDR + pl + SM_TAG,
			     "back-channel message %" PRIu64 ": CRC mismatch (damaged)", seq);
	if (flags)
		return BFAIL(err, -EBADMSG, 2,
			     "back-channel message %" PRIu64 ": reserved flags 0x%x set", seq,
			     flags);
	if (got_seq != expect_seq)
		return BFAIL(err, -EBADMSG, 8,
			     "back-channel message has sequence number %" PRIu64
			     ", expected %" PRIu64 " (missing, repeated or reordered)",
			     got_seq, expect_seq);
	if ((type == SEVMIG_BACK_HELLO) != (expect_seq == 0))
		return BFAIL(err, -EBADMSG, 0,
			     "back-channel message %" PRIu64 " is %s (HELLO comes first, and once)",
			     seq, back_name(type));
	static const uint32_t want[5] = { 0, SM_HELLO_LEN, SM_ACK_LEN, SM_COMMIT_LEN, 0 };
	if (type < SEVMIG_BACK_HELLO || type > SEVMIG_BACK_NAK)
		return BFAIL(err, -EBADMSG, 0, "back-channel message %" PRIu64 ": unknown type %u",
			     seq, type);
	if (type == SEVMIG_BACK_NAK
		? (pl < SM_NAK_FIXED || pl != SM_NAK_FIXED + sevmig__le32(p + 4))
		: pl != want[type])
		return BFAIL(err, -EBADMSG, 4,
			     "back-channel message %" PRIu64
			     " (%s): payload of %u bytes is malformed",
			     seq, back_name(type), pl);
	if (type == SEVMIG_BACK_HELLO) {
		for (unsigned i = 0; i < SM_TAG; i++)
			if (tag[i])
				return BFAIL(err, -EBADMSG, SM_BACK_HDR + pl,
					     "HELLO: reserved tag bytes are not zero");
	} else {
		uint8_t t[SM_TAG];
		if (!a)
			return BFAIL(err, -EPROTO, 0, "back-channel message before the keys exist");
		int rc = sevmig__auth_back(a, buf, p, pl, t);
		if (rc < 0)
			return BFAIL(err, rc, 0, "GMAC failed");
		if (CRYPTO_memcmp(t, tag, SM_TAG))
			return BFAIL(err, -EBADMSG, SM_BACK_HDR + pl,
				     "back-channel message %" PRIu64 " (%s): tag does not verify "
				     "(forged, or sent under another key)",
				     seq, back_name(type));
	}
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->seq = got_seq;
	switch (type) {
	case SEVMIG_BACK_HELLO:
		if (memcmp(p, SM_BACK_MAGIC, 8))
			return BFAIL(err, -EBADMSG, SM_BACK_HDR,
				     "HELLO: bad magic (the peer does not speak this protocol)");
		if (sevmig__le16(p + 8) != SEVMIG_STREAM_VERSION_MAJOR)
			return BFAIL(
			    err, -EPROTO, SM_BACK_HDR + 8,
			    "the target speaks stream format %u.x; this sender writes %u.%u",
			    sevmig__le16(p + 8), SEVMIG_STREAM_VERSION_MAJOR,
			    SEVMIG_STREAM_VERSION_MINOR);
		if (sevmig__le32(p + 12))
			return BFAIL(err, -EBADMSG, SM_BACK_HDR + 12, "HELLO: reserved field set");
		memcpy(m->nonce, p + 16, 16);
		break;
	case SEVMIG_BACK_ACK:
		m->records = sevmig__le64(p);
		m->pages = sevmig__le64(p + 8);
		m->round = sevmig__le64(p + 16);
		break;
	case SEVMIG_BACK_COMMIT:
		m->records = sevmig__le64(p);
		memcpy(m->end_tag, p + 8, 16);
		break;
	default: {
		m->code = sevmig__le32(p);
		uint32_t k = pl - SM_NAK_FIXED;
		for (uint32_t i = 0; i < k; i++) {
			uint8_t c = p[SM_NAK_FIXED + i];
			m->msg[i] = (c >= 0x20 && c != 0x7f) ? (char)c : '?';
		}
		m->msg[k] = 0;
		break;
	}
	}
	if (used)
		*used = SM_BACK_OVERHEAD + pl;
	return 1;
}

static ptrdiff_t read_full(sevmig_read_fn read, void *arg, uint8_t *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ptrdiff_t k = read(arg, buf + got, n - got);
		if (k < 0)
			return k;
		if (k == 0)
			break;
		if ((size_t)k > n - got)
			return -EINVAL;
		got += (size_t)k;
	}
	return (ptrdiff_t)got;
}

size_t sevmig__back_size(const uint8_t *p, size_t avail)
{
	if (avail < SM_BACK_HDR)
		return SM_BACK_HDR;
	uint32_t pl = sevmig__le32(p + 4);
	return pl > SM_BACK_MAX ? SM_BACK_HDR : SM_BACK_OVERHEAD + pl;
}

int sevmig__back_read(sevmig_read_fn read, void *arg, struct sevmig__auth *a, uint64_t expect_seq,
		      struct sevmig__back_msg *m, struct sevmig_error *err)
{
	uint64_t seq = expect_seq;
	uint8_t buf[SM_BACK_OVERHEAD + SM_BACK_MAX];
	ptrdiff_t k = read_full(read, arg, buf, SM_BACK_HDR);
	if (k < 0)
		return BFAIL(err, (int)k, SEVMIG_NO_OFFSET,
			     "reading the target's back-channel failed: %s",
			     sevmig_strerror((int)k));
	if (k == 0)
		return 0;
	if (k < SM_BACK_HDR)
		return BFAIL(err, -ENODATA, SEVMIG_NO_OFFSET,
			     "the back-channel ends inside message %" PRIu64, seq);
	uint32_t pl = sevmig__le32(buf + 4);
	if (pl > SM_BACK_MAX)
		return sevmig__back_decode(buf, SM_BACK_HDR, a, expect_seq, m, NULL, err);
	k = read_full(read, arg, buf + SM_BACK_HDR, pl + SM_TAG + 4);
	if (k < 0)
		return BFAIL(err, (int)k, SEVMIG_NO_OFFSET,
			     "reading the target's back-channel failed: %s",
			     sevmig_strerror((int)k));
	if ((size_t)k < pl + SM_TAG + 4)
		return BFAIL(err, -ENODATA, SEVMIG_NO_OFFSET,
			     "the back-channel ends inside message %" PRIu64, seq);
	return sevmig__back_decode(buf, SM_BACK_OVERHEAD + pl, a, expect_seq, m, NULL, err);
}
