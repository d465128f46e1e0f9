/* SPDX-License-Identifier: MIT */
/*
 * sevmig_fw_read_guest() over a backend whose DBG_DECRYPT "decrypts" by
 * XOR with 0x5a: private bytes come back XORed, shared bytes as they are,
 * pages of one state go to the firmware in one call, and a range outside the
 * regions or the map is refused. A randomized run checks reads at any offset
 * and length against a per-byte model.
 */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw/fw_backend.h"

#define KEY 0x5a

static struct {
	int calls;
	uint32_t last_len;
	bool fail;
} dbg;

static int xor_decrypt(struct sevmig_fw *fw, const void *guest, void *dst, uint32_t len,
		       uint32_t *st)
{
	dbg.calls++;
	dbg.last_len = len;
	if (dbg.fail) {
		*st = SEVMIG_FW_POLICY_FAILURE;
		return sevmig__fw_fail(fw, -EIO, *st, "DBG_DECRYPT: refused");
	}
	const uint8_t *s = guest;
	uint8_t *d = dst;
	for (uint32_t i = 0; i < len; i++)
		d[i] = s[i] ^ KEY;
	*st = SEVMIG_FW_SUCCESS;
	return 0;
}

static const struct sevmig_fw_ops xor_ops = { .name = "xor", .dbg_decrypt = xor_decrypt };

/* Three regions: R0 and R1 touch (0x100-0x118), R2 apart (0x200-0x204),
 * and the map covers R0, R1 and only the first two pages of R2. */
struct guest {
	uint8_t *mem[3];
	struct sevmig_mem_region r[3];
	struct sevmig_pstate *ps;
	struct sevmig_fw *fw;
};

static void guest_init(struct guest *g, struct tu_rng *rng)
{
	static const uint64_t gfn[3] = { 0x100, 0x110, 0x200 }, pages[3] = { 16, 8, 4 };
	for (int i = 0; i < 3; i++) {
		g->mem[i] = malloc(pages[i] * 4096);
		assert_non_null(g->mem[i]);
		tu_fill(rng, g->mem[i], pages[i] * 4096);
		g->r[i] = (struct sevmig_mem_region){ gfn[i] << 12, pages[i] << 12, g->mem[i] };
	}
	assert_int_equal(sevmig_pstate_new(&g->ps, NULL), 0);
	assert_int_equal(sevmig_pstate_add_slot(g->ps, 0x100, 0x18), 0);
	assert_int_equal(sevmig_pstate_add_slot(g->ps, 0x200, 2), 0);
	assert_int_equal(sevmig__fw_new(&xor_ops, NULL, 1, &g->fw), 0);
	memset(&dbg, 0, sizeof(dbg));
}

static void guest_free(struct guest *g)
{
	for (int i = 0; i < 3; i++)
		free(g->mem[i]);
	sevmig_pstate_free(g->ps);
	sevmig_fw_free(g->fw);
}

/* What a read of gpa must return. */
static uint8_t model_byte(const struct guest *g, uint64_t gpa)
{
	for (int i = 0; i < 3; i++)
		if (gpa >= g->r[i].gpa && gpa < g->r[i].gpa + g->r[i].size) {
			uint8_t b = g->mem[i][gpa - g->r[i].gpa];
			return sevmig_pstate_get(g->ps, gpa >> 12) == SEVMIG_PAGE_SHARED ? b
											 : b ^ KEY;
		}
	fail_msg("model asked for gpa 0x%llx outside the regions", (unsigned long long)gpa);
	return 0;
}

static void check_read(struct guest *g, uint64_t gpa, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	assert_non_null(buf);
	uint32_t st;
	int rc = sevmig_fw_read_guest(g->fw, g->ps, g->r, 3, gpa, buf, len, &st);
	if (rc)
		fail_msg("read of gpa 0x%llx + %zu: %d (%s)", (unsigned long long)gpa, len, rc,
			 sevmig_fw_last_error(g->fw));
	for (size_t i = 0; i < len; i++)
		if (buf[i] != model_byte(g, gpa + i))
			fail_msg("read of gpa 0x%llx + %zu: byte %zu differs",
				 (unsigned long long)gpa, len, i);
	free(buf);
}

static void test_private_and_shared(void **state)
{
	(void)state;
	struct tu_rng rng = { 1 };
	struct guest g;
	guest_init(&g, &rng);

	/* all private: one call for a whole region */
	check_read(&g, 0x100000, 16 * 4096);
	assert_int_equal(dbg.calls, 1);
	assert_int_equal(dbg.last_len, 16 * 4096);

	/* a shared page in the middle: copied, and the private parts around it
	 * go to the firmware once each */
	assert_int_equal(sevmig_pstate_set_range(g.ps, 0x105, 1, SEVMIG_PAGE_SHARED), 0);
	dbg.calls = 0;
	check_read(&g, 0x100000 + 100, 10 * 4096);
	assert_int_equal(dbg.calls, 2);

	/* all shared: the firmware is not asked */
	assert_int_equal(sevmig_pstate_set_range(g.ps, 0x100, 0x18, SEVMIG_PAGE_SHARED), 0);
	dbg.calls = 0;
	check_read(&g, 0x100000, 0x18 * 4096);
	assert_int_equal(dbg.calls, 0);

	/* across the two touching regions, private: one call per region */
	assert_int_equal(sevmig_pstate_set_range(g.ps, 0x10f, 2, SEVMIG_PAGE_PRIVATE), 0);
	check_read(&g, 0x10f000 + 4000, 200);
	assert_int_equal(dbg.calls, 2);

	check_read(&g, 0x200000, 2 * 4096);
	check_read(&g, 0x200fff, 0);
	guest_free(&g);
}

static void test_refusals(void **state)
{
	(void)state;
	struct tu_rng rng = { 2 };
	struct guest g;
	guest_init(&g, &rng);
	uint8_t buf[8192];
	uint32_t st = 0;

	/* in a region, not in the map */
	assert_int_equal(sevmig_fw_read_guest(g.fw, g.ps, g.r, 3, 0x201ff0, buf, 0x20, &st),
			 -ERANGE);
	assert_non_null(strstr(sevmig_fw_last_error(g.fw), "gfn 0x202 is not covered"));
	/* in no region */
	assert_int_equal(sevmig_fw_read_guest(g.fw, g.ps, g.r, 3, 0x117f00, buf, 0x200, &st),
			 -ERANGE);
	assert_non_null(strstr(sevmig_fw_last_error(g.fw), "gpa 0x118000 is in no memory region"));
	assert_int_equal(sevmig_fw_read_guest(g.fw, g.ps, g.r, 0, 0x100000, buf, 1, &st), -ERANGE);
	assert_int_equal(sevmig_fw_read_guest(g.fw, g.ps, g.r, 3, UINT64_MAX - 4, buf, 16, &st),
			 -ERANGE);
	assert_int_equal(st, SEVMIG_FW_STATUS_NONE);
	/* arguments */
	assert_int_equal(sevmig_fw_read_guest(g.fw, NULL, g.r, 3, 0x100000, buf, 1, &st), -EINVAL);
	assert_int_equal(sevmig_fw_read_guest(g.fw, g.ps, NULL, 3, 0x100000, buf, 1, &st), -EINVAL);
	assert_int_equal(sevmig_fw_read_guest(g.fw, g.ps, g.r, 3, 0x100000, NULL, 1, &st), -EINVAL);
	assert_int_equal(sevmig_fw_read_guest(NULL, g.ps, g.r, 3, 0x100000, buf, 1, &st), -EINVAL);
	struct sevmig_mem_region bad = { 0x100000, 4096, NULL };
	assert_int_equal(sevmig_fw_read_guest(g.fw, g.ps, &bad, 1, 0x100000, buf, 1, &st), -EINVAL);
	assert_int_equal(dbg.calls, 0);

	/* the firmware refuses (a NODBG guest): its status comes back */
	dbg.fail = true;
	assert_int_equal(sevmig_fw_read_guest(g.fw, g.ps, g.r, 3, 0x100000, buf, 64, &st), -EIO);
	assert_int_equal(st, SEVMIG_FW_POLICY_FAILURE);
	/* shared memory still reads */
	assert_int_equal(sevmig_pstate_set_range(g.ps, 0x100, 1, SEVMIG_PAGE_SHARED), 0);
	assert_int_equal(sevmig_fw_read_guest(g.fw, g.ps, g.r, 3, 0x100000, buf, 64, NULL), 0);
	assert_memory_equal(buf, g.mem[0], 64);
	guest_free(&g);
}

static void test_random_reads(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("test_random_reads") };
	struct guest g;
	guest_init(&g, &rng);
	for (int i = 0; i < 300; i++) {
		uint64_t gfn = 0x100 + tu_below(&rng, 0x18);
		uint64_t n = 1 + tu_below(&rng, 0x18 - (gfn - 0x100));
		if (tu_below(&rng, 2))
			assert_int_equal(sevmig_pstate_set_range(g.ps, gfn, n,
								 tu_below(&rng, 2)
								     ? SEVMIG_PAGE_SHARED
								     : SEVMIG_PAGE_PRIVATE),
					 0);
		uint64_t gpa = 0x100000 + tu_below(&rng, 0x18000);
		size_t len = (size_t)tu_below(&rng, 0x118000 - gpa + 1);
		check_read(&g, gpa, len);
	}
	guest_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private_and_shared),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_random_reads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
