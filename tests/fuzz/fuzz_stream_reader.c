/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the key-less stream reader: bytes -> reader (fed in pieces whose
 * sizes come from the input itself) -> every record, then the invariants
 * a caller relies on. abort() on a broken one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/sevmig.h>

/* ts_restamp(): every CRC (and END's digest) made right again, as a writer
 * would have, so that mutations reach the rules behind the checksums
 * instead of dying on them. */
#include "../unit/test_stream_stamp.h"

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

#define CHECK(c)                                                                           \
	do {                                                                               \
		if (!(c)) {                                                                \
			fprintf(stderr, "invariant broken: %s (line %d)\n", #c, __LINE__); \
			abort();                                                           \
		}                                                                          \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = NULL;
	/* The last byte's low bit chooses: raw bytes, or re-stamped. */
	if (size && (data[size - 1] & 1)) {
		copy = malloc(size);
		if (!copy)
			return 0;
		memcpy(copy, data, size);
		ts_restamp(copy, size, false);
		data = copy;
	}
	struct src s = { data, size, 0, size ? data[size - 1] : 0 };
	struct sevmig_stream_reader *r;
	if (sevmig_stream_reader_new(src_read, &s, NULL, &r))
		abort();
	struct sevmig_error err;
	sevmig_error_clear(&err);
	struct sevmig_record_info info;
	uint64_t n = 0, last_end = 0, pages[3] = { 0, 0, 0 }, vmsa = 0, ends = 0;
	int rc;
	while ((rc = sevmig_stream_reader_next(r, &info, &err)) == 1) {
		/* Records come in order, inside what was read, each once. */
		CHECK(info.index == n);
		CHECK(info.offset >= last_end);
		CHECK(info.offset + 24 + (uint64_t)info.length <= size);
		CHECK(info.length <= SEVMIG_STREAM_MAX_PAYLOAD);
		CHECK(info.payload != NULL || info.length == 0);
		CHECK(ends == 0);
		last_end = info.offset + 24 + info.length;
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
	struct sevmig_stream_counts c;
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
		/* The digest it accepted is the format's (test_stream_stamp.h). */
		uint8_t md[32];
		size_t at;
		CHECK(ts_digest(data, size, md, &at) == 0);
		CHECK(at == info.offset + 20 + 64 && memcmp(md, info.digest, 32) == 0);
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
