/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the stream reader (format 2.0): bytes -> reader, keyed with a fixed
 * test key or key-less (fed in pieces whose sizes come from the input
 * itself) -> every record, then the invariants a caller relies on. abort()
 * on a broken one.
 *
 * The last input byte chooses: bit 0, raw bytes or re-stamped (every tag
 * under the test key, or the zero secret for a stream whose header says
 * insecure, then every CRC, as a writer would have, so that mutations get
 * past the checksums and the authentication to the rules behind them);
 * bit 1, a reader with the test key or a key-less one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/sevmig.h>

#include "fuzz_check.h"

/* ts_restamp(): every tag and CRC made right again. */
#include "../unit/test_stream_stamp.h"

/* The unit tests' key (ts_psk in test_stream_util.h), so that the streams
 * they write make corpus entries. */
static const uint8_t fuzz_key[32] = {
	0x5e, 0x76, 0x6d, 0x69, 0x67, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20,
	0x6b, 0x65, 0x79, 0x20, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36,
	0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x21,
};

struct src {
	const uint8_t *data;
	size_t len, pos;
	uint32_t chunk; /* a small LCG choosing piece sizes */
};

static ptrdiff_t src_read(void *arg, void *buf, size_t len)
{
	struct src *s = arg;
	size_t n = s->len - s->pos;
	if (n > len)
		n = len;
	s->chunk = s->chunk * 1103515245u + 12345u;
	if (n > 1 && (s->chunk >> 16) % 3 == 0)
		n = 1 + (s->chunk >> 8) % n;
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	return (ptrdiff_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = NULL;
	uint8_t mode = size ? data[size - 1] : 0;
	if (mode & 1) {
		copy = malloc(size);
		if (!copy)
			return 0;
		memcpy(copy, data, size);
		ts_restamp_as(copy, size, fuzz_key);
		data = copy;
	}
	bool keyed = mode & 2;
	struct src s = { data, size, 0, mode };
	struct sevmig_stream_reader *r;
	SEVMIG_OPTS(sevmig_reader_opts, o, .key_source = SEVMIG_KEY_PSK, .key = fuzz_key);
	if (sevmig_stream_reader_new(src_read, &s, keyed ? &o : NULL, &r, NULL))
		abort();
	bool all_checked = true;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	struct sevmig_record_info info = { .sz = sizeof(info) };
	uint64_t n = 0, last_end = 0, pages[3] = { 0, 0, 0 }, vmsa = 0, ends = 0;
	int rc;
	while ((rc = sevmig_stream_reader_next(r, &info, &err)) == 1) {
		/* Records come in order, inside what was read, each once. */
		CHECK(info.index == n);
		CHECK(info.offset >= last_end);
		CHECK(info.offset + 40 + (uint64_t)info.length <= size);
		CHECK(memcmp(info.tag, data + info.offset + 20 + info.length, 16) == 0);
		/* A keyed reader returns only records whose tag it verified. */
		CHECK(!keyed || info.tag_checked);
		all_checked = all_checked && info.tag_checked;
		CHECK(info.length <= SEVMIG_STREAM_MAX_PAYLOAD);
		CHECK(info.payload != NULL || info.length == 0);
		CHECK(ends == 0);
		last_end = info.offset + 40 + info.length;
		switch (info.type) {
		case SEVMIG_REC_ENC:
			CHECK(info.pages >= 1 && info.pages <= SEVMIG_STREAM_MAX_BATCH);
			CHECK(info.first_gfn <= info.last_gfn);
			pages[0] += info.pages;
			break;
		case SEVMIG_REC_PLAIN:
			CHECK(info.pages >= 1 && info.pages <= SEVMIG_STREAM_MAX_BATCH);
			CHECK(info.codec <= SEVMIG_CODEC_ZSTD);
			pages[1] += info.pages;
			break;
		case SEVMIG_REC_ZERO:
			CHECK(info.runs >= 1 && info.pages >= info.runs);
			CHECK(info.last_gfn - info.first_gfn + 1 >= info.pages);
			pages[2] += info.pages;
			break;
		case SEVMIG_REC_VMSA:
			vmsa++;
			break;
		case SEVMIG_REC_END:
			ends++;
			break;
		default:
			break;
		}
		n++;
	}
	struct sevmig_stream_counts c = { .sz = sizeof(c) };
	sevmig_stream_reader_counts(r, &c);
	CHECK(c.bytes <= size);
	CHECK(c.enc_pages == pages[0] && c.plain_pages == pages[1] && c.zero_pages == pages[2]);
	CHECK(c.vmsa == vmsa);
	if (rc == 0) {
		/* A complete stream: END was the last record, nothing after. */
		CHECK(ends == 1);
		CHECK(c.bytes == size);
		CHECK(c.records + 1 == n);
		CHECK(info.type == SEVMIG_REC_END);
		CHECK(info.length == 64);
		/* Keyed reader, or an insecure stream (whose zero-key tags every
		 * reader checks): the tags it accepted are the model's
		 * (test_stream_stamp.h), so sealing again changes nothing. */
		struct sevmig_stream_header h;
		CHECK(sevmig_stream_reader_header(r, &h, NULL) == 0);
		bool insecure = !(h.flags & SEVMIG_STREAM_FLAG_KEYED);
		CHECK(!keyed || !insecure);
		CHECK(all_checked == (keyed || insecure));
		if (all_checked) {
			uint8_t *again = malloc(size);
			if (again) {
				memcpy(again, data, size);
				ts_restamp_as(again, size, fuzz_key);
				CHECK(memcmp(again, data, size) == 0);
				free(again);
			}
		}
	} else {
		/* Refused: one message, a known code, and it sticks. */
		CHECK(rc < 0 && err.code == rc && err.message[0]);
		CHECK(rc == -ENODATA || rc == -EBADMSG || rc == -EPROTO || rc == -ECANCELED ||
		      rc == -ENOMEM);
		CHECK(err.index <= n + 1);
		struct sevmig_error again;
		CHECK(sevmig_stream_reader_next(r, &info, &again) == rc);
		CHECK(strcmp(again.message, err.message) == 0);
	}
	/* The page state the stream described covers exactly its memslots. */
	const struct sevmig_pstate *ps = sevmig_stream_reader_pstate(r);
	struct sevmig_stream_header h;
	if (ps && sevmig_stream_reader_header(r, &h, NULL) == 0) {
		uint64_t total = 0;
		for (uint32_t i = 0; i < h.nslots; i++)
			total += h.slots[i].npages;
		struct sevmig_pstate_stats st;
		sevmig_pstate_stats(ps, &st);
		CHECK(st.covered_pages == total);
		CHECK(st.shared_pages + st.private_pages == total);
	}
	sevmig_stream_reader_free(r);
	free(copy);
	return 0;
}
