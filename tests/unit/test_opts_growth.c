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

/* The first byte after `last`, if the struct has padding there. */
#define PAD_AT(type, last) (offsetof(type, last) + sizeof(((type *)0)->last))

static void test_padding_is_checked(void **state)
{
	(void)state;
	/* pstate_save_opts ends with an int: padding after it on LP64 */
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_new(&ps), 0);
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

	/* receiver_opts ends with a bool: seven bytes of padding on LP64 */
	at = PAD_AT(struct sevmig_receiver_opts, back_buffered);
	assert_true(at < sizeof(struct sevmig_receiver_opts));
	struct sevmig_fw *fw;
	assert_int_equal(sevmig_fw_soft_new(NULL, &fw), 0);
	static const uint8_t key[SEVMIG_KEY_SIZE] = { 1 };
	SEVMIG_OPTS(sevmig_receiver_opts, ro, .key_source = SEVMIG_KEY_PSK, .key = key,
		    .dry_run = true);
	struct sevmig_receiver *r = NULL;
	struct sevmig_error err;
	assert_int_equal(sevmig_receiver_new(fw, NULL, 0, NULL, NULL, &ro, &r, &err), 0);
	sevmig_receiver_free(r);
	((unsigned char *)&ro)[at] = 1;
	r = NULL;
	assert_int_equal(sevmig_receiver_new(fw, NULL, 0, NULL, NULL, &ro, &r, &err), -EINVAL);
	assert_non_null(strstr(err.message, "non-zero unknown fields"));
	assert_null(r);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_padding_is_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
