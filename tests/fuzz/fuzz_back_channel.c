/* SPDX-License-Identifier: MIT */
/*
 * The back-channel codec (sevmig__back_decode, and sevmig__back_read over
 * the same bytes), under fixed target-to-source keys derived from a fixed
 * stream header with sevmig__auth_init, expecting message 0 (HELLO) and 1.
 * A refusal is one of the documented codes with a message; whatever is
 * accepted re-encodes to the same bytes (NAK: once its text is printable)
 * and decodes again to the same message. abort() on a broken invariant.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/stream_internal.h"
#include "util/endian.h"

#include "fuzz_check.h"

/* One memslot, keyed by a PSK; the secret is the unit tests' ts_psk. */
static struct sevmig__auth *fbc_auth(void)
{
	static struct sevmig__auth a;
	static bool ready;
	if (!ready) {
		static const uint8_t secret[32] = {
			0x5e, 0x76, 0x6d, 0x69, 0x67, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20,
			0x6b, 0x65, 0x79, 0x20, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36,
			0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x21,
		};
		uint8_t h[SM_HDR_FIXED + 16 + 4] = { 0 };
		memcpy(h, SEVMIG_STREAM_MAGIC, 8);
		sevmig__put_le16(h + 8, SEVMIG_STREAM_VERSION_MAJOR);
		sevmig__put_le32(h + 12, sizeof(h));
		sevmig__put_le32(h + 16, SEVMIG_STREAM_FLAG_KEYED);
		sevmig__put_le32(h + 20, SM_PAGE);
		memset(h + 24, 0x11, 16);
		sevmig__put_le32(h + 44, 1);
		sevmig__put_le32(h + 48, SEVMIG_KEY_PSK);
		memset(h + 64, 0x22, 16);
		memset(h + 80, 0x33, 16);
		sevmig__put_le64(h + SM_HDR_FIXED + 8, 1u << 20);
		sevmig__put_le32(h + sizeof(h) - 4, sevmig__crc32c(0, h, sizeof(h) - 4));
		if (sevmig__auth_init(&a, secret, h, sizeof(h)))
			abort();
		ready = true;
	}
	return &a;
}

struct src {
	const uint8_t *data;
	size_t len, pos;
};

static ptrdiff_t src_read(void *arg, void *buf, size_t len)
{
	struct src *s = arg;
	size_t n = s->len - s->pos < len ? s->len - s->pos : len;
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	return (ptrdiff_t)n;
}

static void one(const uint8_t *data, size_t size, struct sevmig__auth *a, uint64_t seq)
{
	static struct sevmig__back_msg m, m2, m3;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	size_t used = 0;
	int rc = sevmig__back_decode(data, size, a, seq, &m, &used, &err);
	struct src s = { data, size, 0 };
	struct sevmig_error err2;
	sevmig_error_clear(&err2);
	int rc2 = sevmig__back_read(src_read, &s, a, seq, &m2, &err2);
	if (rc != 1) {
		CHECK(rc == -ENODATA || rc == -EBADMSG || rc == -EPROTO);
		CHECK(err.code == rc && err.message[0]);
		/* The stream reader agrees, but for an empty input (a clean
		 * close) and a short one. */
		if (size == 0)
			CHECK(rc2 == 0);
		else if (rc != -ENODATA)
			CHECK(rc2 == rc || rc2 == -ENODATA);
		else
			CHECK(rc2 == -ENODATA);
		return;
	}
	CHECK(used == SM_BACK_OVERHEAD + (size_t)sevmig__le32(data + 4) && used <= size);
	CHECK(m.seq == seq && m.type >= SEVMIG_BACK_HELLO && m.type <= SEVMIG_BACK_NAK);
	CHECK((m.type == SEVMIG_BACK_HELLO) == (seq == 0));
	CHECK(m.type == SEVMIG_BACK_HELLO || a != NULL);
	CHECK(rc2 == 1 && m2.type == m.type && s.pos == used);
	/* Encode it again: the same bytes (a NAK whose text was printable). */
	uint8_t out[SM_BACK_OVERHEAD + SM_BACK_MAX];
	int n = sevmig__back_encode(a, &m, out);
	CHECK(n > 0 && (size_t)n <= sizeof(out));
	bool printable = true;
	if (m.type == SEVMIG_BACK_NAK)
		for (size_t i = SM_BACK_HDR + SM_NAK_FIXED; i < used - SM_TAG - 4; i++)
			printable = printable && data[i] >= 0x20 && data[i] != 0x7f;
	if (printable)
		CHECK((size_t)n == used && memcmp(out, data, used) == 0);
	size_t used3 = 0;
	CHECK(sevmig__back_decode(out, (size_t)n, a, seq, &m3, &used3, NULL) == 1);
	CHECK(used3 == (size_t)n && m3.type == m.type && m3.records == m.records &&
	      m3.pages == m.pages && m3.round == m.round && m3.code == m.code &&
	      !memcmp(m3.nonce, m.nonce, 16) && !memcmp(m3.end_tag, m.end_tag, 16) &&
	      !strcmp(m3.msg, m.msg));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sevmig__auth *a = fbc_auth();
	one(data, size, a, 0);
	one(data, size, NULL, 0); /* HELLO needs no key */
	one(data, size, a, 1);
	return 0;
}
