/* SPDX-License-Identifier: MIT */
/* Every firmware status code and guest state the SEV API defines has its
 * name and a description; everything else reads as UNKNOWN. */
#include "testutil.h"

#include <string.h>

#include <sevmig/fw.h>

#define CODE(x)                   \
	{                         \
		SEVMIG_FW_##x, #x \
	}
static const struct {
	uint32_t code;
	const char *name;
} codes[] = {
	CODE(SUCCESS),
	CODE(INVALID_PLATFORM_STATE),
	CODE(INVALID_GUEST_STATE),
	CODE(INVALID_CONFIG),
	CODE(INVALID_LENGTH),
	CODE(ALREADY_OWNED),
	CODE(INVALID_CERTIFICATE),
	CODE(POLICY_FAILURE),
	CODE(INACTIVE),
	CODE(INVALID_ADDRESS),
	CODE(BAD_SIGNATURE),
	CODE(BAD_MEASUREMENT),
	CODE(ASID_OWNED),
	CODE(INVALID_ASID),
	CODE(WBINVD_REQUIRED),
	CODE(DF_FLUSH_REQUIRED),
	CODE(INVALID_GUEST),
	CODE(INVALID_COMMAND),
	CODE(ACTIVE),
	CODE(HWERROR_PLATFORM),
	CODE(HWERROR_UNSAFE),
	CODE(UNSUPPORTED),
	CODE(INVALID_PARAM),
	CODE(RESOURCE_LIMIT),
	CODE(SECURE_DATA_INVALID),
	CODE(INVALID_PAGE_SIZE),
	CODE(INVALID_PAGE_STATE),
	CODE(INVALID_MDATA_ENTRY),
	CODE(INVALID_PAGE_OWNER),
	CODE(AEAD_OFLOW),
	CODE(RING_BUFFER_EXIT),
	CODE(RMP_INIT_REQUIRED),
	CODE(BAD_SVN),
	CODE(BAD_VERSION),
	CODE(SHUTDOWN_REQUIRED),
	CODE(UPDATE_FAILED),
	CODE(RESTORE_REQUIRED),
	CODE(RMP_INITIALIZATION_FAILED),
	CODE(INVALID_KEY),
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

static bool defined_code(uint32_t c)
{
	for (size_t i = 0; i < NCODES; i++)
		if (codes[i].code == c)
			return true;
	return false;
}

static void test_every_code_named(void **state)
{
	(void)state;
	const char *unknown_desc = sevmig_fw_status_description(0xffff);
	for (size_t i = 0; i < NCODES; i++) {
		assert_string_equal(sevmig_fw_status_name(codes[i].code), codes[i].name);
		const char *d = sevmig_fw_status_description(codes[i].code);
		assert_non_null(d);
		assert_true(strlen(d) > 10);
		assert_string_not_equal(d, unknown_desc);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(d, sevmig_fw_status_description(codes[j].code));
	}
	/* the values the sources give (sev-facts 2.2) */
	assert_int_equal(SEVMIG_FW_INVALID_LENGTH, 0x04);
	assert_int_equal(SEVMIG_FW_BAD_MEASUREMENT, 0x0B);
	assert_int_equal(SEVMIG_FW_SECURE_DATA_INVALID, 0x18);
	assert_int_equal(SEVMIG_FW_RING_BUFFER_EXIT, 0x1F);
	assert_int_equal(SEVMIG_FW_INVALID_KEY, 0x27);
}

static void test_everything_else_unknown(void **state)
{
	(void)state;
	/* the whole 16-bit space, and beyond */
	for (uint32_t c = 0; c <= 0x10000; c++) {
		if (defined_code(c))
			continue;
		assert_string_equal(sevmig_fw_status_name(c), "UNKNOWN");
		assert_non_null(sevmig_fw_status_description(c));
	}
	assert_string_equal(sevmig_fw_status_name(0x1E), "UNKNOWN");
	assert_string_equal(sevmig_fw_status_name(0x28), "UNKNOWN");
	assert_string_equal(sevmig_fw_status_name(0x80000000u), "UNKNOWN");
	assert_string_equal(sevmig_fw_status_name(SEVMIG_FW_STATUS_NONE), "NONE");
	assert_non_null(strstr(sevmig_fw_status_description(SEVMIG_FW_STATUS_NONE), "not called"));
}

static void test_guest_states(void **state)
{
	(void)state;
	static const char *const names[] = { "UNINIT",	"LUPDATE", "LSECRET", "RUNNING",
					     "SUPDATE", "RUPDATE", "SENT" };
	static const uint32_t values[] = { SEVMIG_GUEST_UNINIT,	 SEVMIG_GUEST_LUPDATE,
					   SEVMIG_GUEST_LSECRET, SEVMIG_GUEST_RUNNING,
					   SEVMIG_GUEST_SUPDATE, SEVMIG_GUEST_RUPDATE,
					   SEVMIG_GUEST_SENT };
	for (size_t i = 0; i < 7; i++)
		assert_string_equal(sevmig_guest_state_name(values[i]), names[i]);
	assert_string_equal(sevmig_guest_state_name(7), "UNKNOWN");
	assert_string_equal(sevmig_guest_state_name(UINT32_MAX), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_code_named),
		cmocka_unit_test(test_everything_else_unknown),
		cmocka_unit_test(test_guest_states),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
