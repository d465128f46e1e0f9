/* SPDX-License-Identifier: MIT */
/*
 * The backend-neutral layer (lib/fw/fw.c) over a recording backend: what it
 * refuses before a backend runs, the status it reports when the firmware
 * was not reached, commands a backend lacks, and the handle's message.
 */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "fw/fw_backend.h"

static int calls;

static int rec_send_start(struct sevmig_fw *fw, struct sevmig_fw_send_start *p, uint32_t *st)
{
	(void)fw;
	(void)p;
	calls++;
	*st = SEVMIG_FW_SUCCESS;
	return 0;
}

static int rec_send_update(struct sevmig_fw *fw, struct sevmig_fw_send_update *p, uint32_t *st)
{
	(void)fw;
	(void)p;
	(void)st;
	calls++;
	return 0;
}

static int rec_finish(struct sevmig_fw *fw, uint32_t *st)
{
	calls++;
	*st = SEVMIG_FW_INVALID_GUEST_STATE;
	return sevmig__fw_fail(fw, -EIO, *st, "SEND_FINISH: refused");
}

static int rec_status(struct sevmig_fw *fw, struct sevmig_fw_platform_status *out, uint32_t *st)
{
	(void)fw;
	calls++;
	*st = SEVMIG_FW_SUCCESS;
	out->api_major = 1;
	return 0;
}

/* Commands whose arguments fw.c checks: reaching one is a test failure. */
static int must_not_run(void)
{
	fail_msg("fw.c let a bad argument through to the backend");
	return -1;
}
static int no_status(struct sevmig_fw *fw, struct sevmig_fw_guest_status *o, uint32_t *st)
{
	(void)fw, (void)o, (void)st;
	return must_not_run();
}
static int no_dbg(struct sevmig_fw *fw, const void *g, void *d, uint32_t len, uint32_t *st)
{
	(void)fw, (void)g, (void)d, (void)len, (void)st;
	return must_not_run();
}
static int no_id(struct sevmig_fw *fw, void *id, uint32_t *len, uint32_t *st)
{
	(void)fw, (void)id, (void)len, (void)st;
	return must_not_run();
}
static int no_pdh(struct sevmig_fw *fw, void *p, uint32_t *pl, void *c, uint32_t *cl, uint32_t *st)
{
	(void)fw, (void)p, (void)pl, (void)c, (void)cl, (void)st;
	return must_not_run();
}
static int no_rstart(struct sevmig_fw *fw, struct sevmig_fw_receive_start *p, uint32_t *st)
{
	(void)fw, (void)p, (void)st;
	return must_not_run();
}
static int no_rupdate(struct sevmig_fw *fw, const struct sevmig_fw_receive_update *p, uint32_t *st)
{
	(void)fw, (void)p, (void)st;
	return must_not_run();
}

static bool destroyed;
static void rec_destroy(struct sevmig_fw *fw)
{
	(void)fw;
	destroyed = true;
}

static const struct sevmig_fw_ops rec_ops = {
	.name = "rec",
	.send_start = rec_send_start,
	.send_update_data = rec_send_update,
	.send_finish = rec_finish,
	.platform_status = rec_status,
	.guest_status = no_status,
	.dbg_decrypt = no_dbg,
	.get_id = no_id,
	.pdh_cert_export = no_pdh,
	.receive_start = no_rstart,
	.receive_update_data = no_rupdate,
	.destroy = rec_destroy,
};

static struct sevmig_fw *rec_new(void)
{
	struct sevmig_fw *fw;
	calls = 0;
	assert_int_equal(sevmig__fw_new(&rec_ops, NULL, 3, &fw), 0);
	return fw;
}

static void test_handle(void **state)
{
	(void)state;
	struct sevmig_fw *fw = rec_new();
	assert_string_equal(sevmig_fw_backend_name(fw), "rec");
	assert_int_equal(sevmig_fw_max_threads(fw), 3);
	assert_string_equal(sevmig_fw_last_error(fw), "");
	destroyed = false;
	sevmig_fw_free(fw);
	assert_true(destroyed);
	assert_int_equal(sevmig__fw_new(&rec_ops, NULL, 0, &fw), 0);
	assert_int_equal(sevmig_fw_max_threads(fw), 1); /* never 0 */
	sevmig_fw_free(fw);
}

static void test_neutral_refusals(void **state)
{
	(void)state;
	struct sevmig_fw *fw = rec_new();
	uint32_t st = 0;
	uint8_t cert[16], buf[16];

	assert_int_equal(sevmig_fw_send_start(NULL, NULL, &st), -EINVAL);
	assert_int_equal(st, SEVMIG_FW_STATUS_NONE);
	assert_int_equal(sevmig_fw_send_start(fw, NULL, &st), -EINVAL);
	struct sevmig_fw_send_start p = { .session = buf, .session_len = sizeof(buf) };
	assert_int_equal(sevmig_fw_send_start(fw, &p, &st), -EINVAL);
	assert_non_null(strstr(sevmig_fw_last_error(fw), "PDH certificate is missing"));
	p.pdh_cert = cert;
	p.pdh_cert_len = sizeof(cert);
	assert_int_equal(sevmig_fw_send_start(fw, &p, NULL), 0); /* NULL status is fine */
	assert_int_equal(calls, 1);

	struct sevmig_fw_send_update u = { .hdr = buf, .trans = buf };
	assert_int_equal(sevmig_fw_send_update_data(fw, &u, &st), -EINVAL);
	assert_non_null(strstr(sevmig_fw_last_error(fw), "no guest buffer"));
	u.hdr = NULL; /* a size query needs no guest */
	assert_int_equal(sevmig_fw_send_update_data(fw, &u, &st), 0);
	assert_int_equal(calls, 2);

	assert_int_equal(sevmig_fw_guest_status(fw, NULL, &st), -EINVAL);
	assert_int_equal(sevmig_fw_dbg_decrypt(fw, buf, NULL, 4, &st), -EINVAL);
	assert_int_equal(sevmig_fw_get_id(fw, NULL, NULL, &st), -EINVAL);
	assert_int_equal(sevmig_fw_pdh_cert_export(fw, NULL, NULL, NULL, NULL, &st), -EINVAL);
	struct sevmig_fw_receive_start rs = { .pdh_cert = cert, .pdh_cert_len = 16 };
	assert_int_equal(sevmig_fw_receive_start(fw, &rs, &st), -EINVAL);
	assert_non_null(strstr(sevmig_fw_last_error(fw), "session blob"));
	struct sevmig_fw_receive_update ru = { .guest = buf, .guest_len = 16, .hdr = buf };
	assert_int_equal(sevmig_fw_receive_update_data(fw, &ru, &st), -EINVAL);
	assert_int_equal(calls, 2);
	assert_int_equal(st, SEVMIG_FW_STATUS_NONE);
	sevmig_fw_free(fw);
}

static void test_missing_op(void **state)
{
	(void)state;
	struct sevmig_fw *fw = rec_new();
	uint32_t st = 0;
	assert_int_equal(sevmig_fw_send_cancel(fw, &st), -EOPNOTSUPP);
	assert_int_equal(st, SEVMIG_FW_STATUS_NONE);
	assert_string_equal(sevmig_fw_last_error(fw),
			    "SEND_CANCEL is not available with the rec backend");
	assert_int_equal(sevmig_fw_receive_finish(fw, &st), -EOPNOTSUPP);
	assert_non_null(strstr(sevmig_fw_last_error(fw), "RECEIVE_FINISH"));
	sevmig_fw_free(fw);
}

static void test_messages(void **state)
{
	(void)state;
	struct sevmig_fw *fw = rec_new();
	uint32_t st;
	assert_int_equal(sevmig_fw_send_finish(fw, &st), -EIO);
	assert_int_equal(st, SEVMIG_FW_INVALID_GUEST_STATE);
	assert_string_equal(sevmig_fw_last_error(fw),
			    "SEND_FINISH: refused (firmware status 0x2 INVALID_GUEST_STATE)");

	/* a long message gives way to the firmware's answer, never overflows */
	char long_part[400];
	memset(long_part, 'x', sizeof(long_part) - 1);
	long_part[sizeof(long_part) - 1] = '\0';
	assert_int_equal(sevmig__fw_fail(fw, -EIO, SEVMIG_FW_BAD_MEASUREMENT, "%s", long_part),
			 -EIO);
	const char *m = sevmig_fw_last_error(fw);
	assert_true(strlen(m) < sizeof(fw->last_error));
	assert_non_null(strstr(m, "(firmware status 0xb BAD_MEASUREMENT)"));
	assert_int_equal(sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE, "%s", long_part),
			 -EINVAL);
	assert_int_equal(strlen(sevmig_fw_last_error(fw)), sizeof(fw->last_error) - 1);

	/* platform status: the struct starts zeroed for the backend */
	struct sevmig_fw_platform_status ps;
	memset(&ps, 0xff, sizeof(ps));
	assert_int_equal(sevmig_fw_platform_status(fw, &ps, &st), 0);
	assert_int_equal(ps.api_major, 1);
	assert_int_equal(ps.guest_count, 0);
	assert_false(ps.soft);
	sevmig_fw_free(fw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handle),
		cmocka_unit_test(test_neutral_refusals),
		cmocka_unit_test(test_missing_op),
		cmocka_unit_test(test_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
