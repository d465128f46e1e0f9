/* SPDX-License-Identifier: MIT */
/*
 * Options structs grow without breaking old callers or fooling old
 * libraries: a byte set past the end of the last field this library knows
 * (in what is trailing padding in its struct: where a newer header could
 * have put a field) is refused with -EINVAL, not ignored; the same struct
 * with that byte zero is accepted; SEVMIG_OPTS zeroes the padding.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/sevmig.h>

#include "test_stream_util.h"

/* The first byte after `last`, if the struct has padding there. */
#define PAD_AT(type, last) (offsetof(type, last) + sizeof(((type *)0)->last))

static void test_padding_is_checked(void **state)
{
	(void)state;
	/* pstate_save_opts ends with an int: padding after it on LP64 */
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(ps, 0, 16), 0);
	size_t at = PAD_AT(struct sevmig_pstate_save_opts, zstd_level);
	if (at < sizeof(struct sevmig_pstate_save_opts)) {
		SEVMIG_OPTS(sevmig_pstate_save_opts, o, .zstd_level = 1);
		for (size_t i = at; i < sizeof(o); i++)
			assert_int_equal(((unsigned char *)&o)[i], 0); /* the macro zeroed it */
		void *buf = NULL;
		size_t len = 0;
		assert_int_equal(sevmig_pstate_serialize(ps, &o, &buf, &len), 0);
		free(buf);
		((unsigned char *)&o)[at] = 1; /* a newer caller's field, set */
		assert_int_equal(sevmig_pstate_serialize(ps, &o, &buf, &len), -EINVAL);
	}
	sevmig_pstate_free(ps);

	struct sevmig_fw *fw;
	assert_int_equal(sevmig_fw_soft_new(NULL, &fw, NULL), 0);
	static const uint8_t key[SEVMIG_KEY_SIZE] = { 1 };
	SEVMIG_OPTS(sevmig_receiver_opts, ro, .key_source = SEVMIG_KEY_PSK, .key = key,
		    .dry_run = true);
	struct sevmig_receiver *r = NULL;
	struct sevmig_error err;
	assert_int_equal(sevmig_receiver_new(fw, NULL, 0, NULL, NULL, &ro, &r, &err), 0);
	sevmig_receiver_free(r);
	/* receiver_opts ends with a pointer (no trailing padding on LP64): an
	 * older caller's struct, which ended after `zeroed`, still works and
	 * gets no page_write */
	ro.sz = PAD_AT(struct sevmig_receiver_opts, zeroed);
	r = NULL;
	assert_int_equal(sevmig_receiver_new(fw, NULL, 0, NULL, NULL, &ro, &r, &err), 0);
	sevmig_receiver_free(r);
	ro.sz = sizeof(ro);
	at = PAD_AT(struct sevmig_receiver_opts, page_write_arg);
	if (at < sizeof(ro)) {
		((unsigned char *)&ro)[at] = 1;
		r = NULL;
		assert_int_equal(sevmig_receiver_new(fw, NULL, 0, NULL, NULL, &ro, &r, &err),
				 -EINVAL);
		assert_non_null(strstr(err.message, "non-zero unknown fields"));
		assert_null(r);
		((unsigned char *)&ro)[at] = 0;
	}
	/* and a larger struct from a newer caller: its zero tail is fine, a
	 * set byte in it is not */
	struct {
		struct sevmig_receiver_opts o;
		uint64_t newer;
	} big;
	memset(&big, 0, sizeof(big));
	big.o.sz = sizeof(big);
	big.o.key_source = SEVMIG_KEY_PSK;
	big.o.key = key;
	big.o.dry_run = true;
	assert_int_equal(sevmig_receiver_new(fw, NULL, 0, NULL, NULL, &big.o, &r, &err), 0);
	sevmig_receiver_free(r);
	big.newer = 1;
	assert_int_equal(sevmig_receiver_new(fw, NULL, 0, NULL, NULL, &big.o, &r, &err), -EINVAL);
	sevmig_fw_free(fw);
}

/* Output structs: an older caller's smaller struct is filled up to its sz
 * and not a byte past it; its sz stays. */
static void test_output_structs_sized(void **state)
{
	(void)state;
	/* counts from a sender that has written nothing yet */
	struct sevmig_fw *fw;
	SEVMIG_OPTS(sevmig_fw_soft_opts, so, .launch = true, .policy = 1);
	assert_int_equal(sevmig_fw_soft_new(&so, &fw, NULL), 0);
	struct sevmig_fw *tfw;
	assert_int_equal(sevmig_fw_soft_new(NULL, &tfw, NULL), 0);
	uint8_t pdh[SEVMIG_CERT_SIZE], chain[SEVMIG_CERT_CHAIN_SIZE];
	uint32_t pl = sizeof(pdh), cl = sizeof(chain);
	assert_int_equal(sevmig_fw_pdh_cert_export(tfw, pdh, &pl, chain, &cl, NULL), 0);
	sevmig_fw_free(tfw);
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps, NULL), 0);
	static uint8_t mem[4096] __attribute__((aligned(4096)));
	struct sevmig_mem_region reg = { 0, 4096, mem };
	SEVMIG_OPTS(sevmig_sender_opts, o, .target_pdh = pdh, .target_pdh_len = sizeof(pdh),
		    .insecure = true);
	struct sevmig_sender *s;
	struct sevmig_error err;
	assert_int_equal(sevmig_sender_new(fw, &reg, 1, NULL, NULL, &o, &s, &err), 0);
	/* a record's info, of the first record of a real (insecure) stream */
	assert_int_equal(sevmig_pstate_add_slot(ps, 0, 1), 0);
	assert_int_equal(sevmig_sender_send_all(s, ps, &err), 0);
	static uint8_t out[1 << 16];
	struct tsrc in = { out, sevmig_sender_output(s, out, sizeof(out)), 0, { 0 } };
	struct sevmig_stream_reader *rd;
	assert_int_equal(sevmig_stream_reader_new(tsrc_read, &in, NULL, &rd, NULL), 0);
	struct sevmig_record_info info;
	memset(&info, 0x5a, sizeof(info));
	info.sz = offsetof(struct sevmig_record_info, type);
	assert_int_equal(sevmig_stream_reader_next(rd, &info, &err), 1);
	assert_int_equal(info.sz, offsetof(struct sevmig_record_info, type));
	assert_int_equal(info.index, 0);
	assert_true(info.offset > 0);
	assert_int_equal(info.type, 0x5a5a);
	sevmig_stream_reader_free(rd);

	struct sevmig_stream_counts c;
	memset(&c, 0x5a, sizeof(c));
	c.sz = offsetof(struct sevmig_stream_counts, bytes);
	sevmig_sender_counts(s, &c);
	assert_int_equal(c.sz, offsetof(struct sevmig_stream_counts, bytes));
	assert_true(c.records > 0);
	assert_int_equal(c.bytes, 0x5a5a5a5a5a5a5a5aull);
	memset(&c, 0x5a, sizeof(c));
	c.sz = sizeof(c);
	sevmig_sender_counts(s, &c);
	assert_int_equal(c.bytes, in.len);
	assert_int_equal(c.vmm_objects, 0);
	sevmig_sender_free(s);
	sevmig_pstate_free(ps);
	sevmig_fw_free(fw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_padding_is_checked),
		cmocka_unit_test(test_output_structs_sized),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
