/* SPDX-License-Identifier: MIT */
/* The common layer: CRC32C (both paths, known answers), varints, the
 * growable buffer, options-struct checks, error records. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/crc32c.h"
#include "util/endian.h"
#include "util/error.h"
#include "util/varint.h"

#include <sevmig/pstate.h>
#include <sevmig/version.h>

static void crc32c_known_answers(void **state)
{
	(void)state;
	/* RFC 3720 B.4 and the usual check value. */
	uint8_t zeros[32] = { 0 }, ones[32], inc[32];
	memset(ones, 0xff, sizeof(ones));
	for (int i = 0; i < 32; i++)
		inc[i] = (uint8_t)i;
	assert_int_equal(sevmig__crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(sevmig__crc32c(0, zeros, 32), 0x8A9136AAu);
	assert_int_equal(sevmig__crc32c(0, ones, 32), 0x62A8AB43u);
	assert_int_equal(sevmig__crc32c(0, inc, 32), 0x46DD794Eu);
	assert_int_equal(sevmig__crc32c_sw(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(sevmig__crc32c(0, NULL, 0), 0);
}

static void crc32c_paths_agree(void **state)
{
	(void)state;
	struct tu_rng r = { tu_seed("crc32c_paths_agree") };
	uint8_t buf[4096 + 7];
	for (int i = 0; i < 2000; i++) {
		size_t len = tu_below(&r, sizeof(buf) - 7);
		size_t off = tu_below(&r, 8);
		tu_fill(&r, buf, sizeof(buf));
		uint32_t seed = (uint32_t)tu_next(&r);
		assert_int_equal(sevmig__crc32c(seed, buf + off, len),
				 sevmig__crc32c_sw(seed, buf + off, len));
		/* Incremental equals one-shot. */
		size_t cut = len ? tu_below(&r, len) : 0;
		uint32_t a = sevmig__crc32c(0, buf + off, cut);
		a = sevmig__crc32c(a, buf + off + cut, len - cut);
		assert_int_equal(a, sevmig__crc32c(0, buf + off, len));
	}
	print_message("crc32c hardware path: %s\n",
		      sevmig__crc32c_hw_available() ? "in use" : "absent");
}

static void varint_round_trip_and_rejects(void **state)
{
	(void)state;
	const uint64_t vals[] = { 0,	     1, 127, 128, 16383, 16384, UINT32_MAX, UINT64_MAX / 2,
				  UINT64_MAX };
	uint8_t b[SEVMIG__VARINT_MAX];
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		size_t n = sevmig__varint_put(b, vals[i]);
		assert_int_equal(n, sevmig__varint_len(vals[i]));
		uint64_t v;
		assert_int_equal(sevmig__varint_get(b, n, &v), (int)n);
		assert_true(v == vals[i]);
		/* Truncated: needs more input. */
		assert_int_equal(sevmig__varint_get(b, n - 1, &v), 0);
	}
	uint64_t v;
	const uint8_t overlong[] = { 0x80, 0x00 };
	assert_int_equal(sevmig__varint_get(overlong, 2, &v), -1);
	const uint8_t too_big[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 };
	assert_int_equal(sevmig__varint_get(too_big, 10, &v), -1);
	const uint8_t eleven[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0 };
	assert_int_equal(sevmig__varint_get(eleven, 11, &v), -1);
}

static void endian_helpers(void **state)
{
	(void)state;
	uint8_t b[8];
	sevmig__put_le32(b, 0x11223344u);
	assert_int_equal(b[0], 0x44);
	assert_int_equal(b[3], 0x11);
	assert_int_equal(sevmig__le32(b), 0x11223344u);
	sevmig__put_le64(b, 0x0102030405060708ull);
	assert_int_equal(b[0], 8);
	assert_true(sevmig__le64(b) == 0x0102030405060708ull);
	sevmig__put_le16(b, 0xabcd);
	assert_int_equal(b[0], 0xcd);
	assert_int_equal(sevmig__le16(b), 0xabcd);
}

static void buf_grows_and_hands_over(void **state)
{
	(void)state;
	struct sevmig__buf b = { 0 };
	for (int i = 0; i < 10000; i++) {
		uint8_t c = (uint8_t)i;
		assert_int_equal(sevmig__buf_append(&b, &c, 1), 0);
	}
	assert_int_equal(b.len, 10000);
	assert_int_equal(sevmig__buf_reserve(&b, SIZE_MAX), -EOVERFLOW);
	assert_int_equal(b.len, 10000);
	size_t len;
	uint8_t *p = sevmig__buf_take(&b, &len);
	assert_int_equal(len, 10000);
	assert_int_equal(p[9999], (uint8_t)9999);
	assert_null(b.data);
	free(p);
	sevmig__buf_free(&b);
}

struct demo_opts {
	size_t sz;
	int a;
	int b;
};

static void options_struct_rules(void **state)
{
	(void)state;
	assert_true(sevmig__opts_valid(NULL, sizeof(struct demo_opts), sizeof(size_t)));
	SEVMIG_OPTS(demo_opts, o, .a = 1);
	const struct demo_opts *op = &o;
	assert_true(sevmig__opts_valid(op, sizeof(o), sizeof(size_t)));
	assert_int_equal(SEVMIG__OPT(op, b, 7), 0);
	/* An older caller's smaller struct: fields it lacks take defaults. */
	o.sz = offsetof(struct demo_opts, b);
	assert_int_equal(SEVMIG__OPT(op, a, 9), 1);
	assert_int_equal(SEVMIG__OPT(op, b, 7), 7);
	/* A newer caller's larger struct must have a zero tail. */
	struct {
		struct demo_opts o;
		int extra;
	} big;
	/* Zero padding too, as a caller built against a newer header would
	 * (the tail check reads the bytes, padding included). */
	memset(&big, 0, sizeof(big));
	big.o.sz = sizeof(big);
	big.o.a = 1;
	assert_true(sevmig__opts_valid(&big, sizeof(struct demo_opts), sizeof(size_t)));
	big.extra = 1;
	assert_false(sevmig__opts_valid(&big, sizeof(struct demo_opts), sizeof(size_t)));
	o.sz = 0;
	assert_false(sevmig__opts_valid(&o, sizeof(o), sizeof(size_t)));
}

static void error_records(void **state)
{
	(void)state;
	struct sevmig_error e;
	sevmig_error_clear(&e);
	assert_int_equal(e.code, 0);
	assert_true(e.offset == SEVMIG_NO_OFFSET);
	assert_int_equal(sevmig__fail(&e, -EBADMSG, 12, 3, "bad %s", "magic"), -EBADMSG);
	assert_int_equal(e.code, -EBADMSG);
	assert_true(e.offset == 12 && e.index == 3);
	assert_string_equal(e.message, "bad magic");
	assert_int_equal(sevmig__fail(NULL, -EINVAL, 0, 0, "ignored"), -EINVAL);
	assert_string_equal(sevmig_strerror(-EBADMSG), "malformed or corrupt input");
	assert_non_null(sevmig_strerror(-EHOSTDOWN));
	assert_non_null(sevmig_strerror(-100000));
	assert_int_equal(sevmig_version_number(), SEVMIG_VERSION_NUMBER);
}

/* The pattern docs/errors.md shows, on a text file whose second line
 * overlaps its first: the message names the line. */
static void error_record_as_documented(void **state)
{
	(void)state;
	const char buf[] = "0x10-0x1f shared\n0x18-0x20 private\n";
	size_t len = sizeof(buf) - 1;
	const char *path = "guest.txt";
	struct sevmig_pstate *ps = NULL;
	char *text = NULL;
	size_t size = 0;
	FILE *log = open_memstream(&text, &size);
	assert_non_null(log);

	struct sevmig_error err;
	sevmig_error_clear(&err);
	int rc = sevmig_pstate_load(buf, len, &ps, &err);
	if (rc < 0 && err.offset != SEVMIG_NO_OFFSET)
		fprintf(log, "%s: byte %llu: %s\n", path, (unsigned long long)err.offset,
			err.message);
	else if (rc < 0)
		fprintf(log, "%s:%llu: %s\n", path, (unsigned long long)err.index, err.message);

	fclose(log);
	assert_int_equal(rc, -EBADMSG);
	assert_null(ps);
	assert_true(strncmp(text, "guest.txt:2: ", 13) == 0);
	free(text);
}

/* The byte queue against a model (a flat array and two indexes), random
 * pushes and takes, and its compaction when it runs empty. */
static void queue_against_model(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("queue") };
	static uint8_t model[1 << 20], in[4096], out[4096];
	size_t head = 0, tail = 0;
	struct sevmig__queue q = { { NULL, 0, 0 }, 0 };
	assert_int_equal(sevmig__queue_take(&q, out, sizeof(out)), 0);
	for (int i = 0; i < 20000; i++) {
		if (tu_below(&rng, 2) && tail + sizeof(in) <= sizeof(model)) {
			size_t n = tu_below(&rng, sizeof(in));
			tu_fill(&rng, in, n);
			assert_int_equal(sevmig__queue_push(&q, in, n), 0);
			memcpy(model + tail, in, n);
			tail += n;
		} else {
			size_t cap = tu_below(&rng, sizeof(out));
			size_t n = sevmig__queue_take(&q, out, cap);
			size_t want = tail - head < cap ? tail - head : cap;
			assert_int_equal(n, want);
			assert_memory_equal(out, model + head, n);
			head += n;
		}
		assert_int_equal(sevmig__queue_pending(&q), tail - head);
		if (head == tail) {
			/* empty: the next push starts at the front again */
			head = tail = 0;
			assert_true(q.b.len == q.pos);
		}
	}
	sevmig__queue_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc32c_known_answers),
		cmocka_unit_test(crc32c_paths_agree),
		cmocka_unit_test(varint_round_trip_and_rejects),
		cmocka_unit_test(endian_helpers),
		cmocka_unit_test(buf_grows_and_hands_over),
		cmocka_unit_test(queue_against_model),
		cmocka_unit_test(options_struct_rules),
		cmocka_unit_test(error_records),
		cmocka_unit_test(error_record_as_documented),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
