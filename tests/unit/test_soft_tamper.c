/* SPDX-License-Identifier: MIT */
/*
 * Every single-bit change of a packet header, of a packet's ciphertext and
 * of a session blob is refused with the right status, and a refused packet
 * leaves guest memory exactly as it was.
 */
#include "test_soft_util.h"

#include "fw/soft/soft_spec.h"

struct packet {
	uint8_t hdr[SEVMIG_PACKET_HDR_SIZE];
	uint8_t trans[SEVMIG_PAGE_SIZE];
	uint32_t len;
};

static void seal(struct pair *p, bool vmsa, const uint8_t *guest, uint32_t len, struct packet *pk)
{
	struct sevmig_fw_send_update u =
	    send_args(guest, len, pk->hdr, pk->trans, sizeof(pk->trans));
	uint32_t st;
	int rc = send_update(p->src, vmsa, &u, &st);
	assert_int_equal(rc, 0);
	pk->len = len;
}

static int open_packet(struct pair *p, bool vmsa, const struct packet *pk, uint32_t guest_len,
		       uint8_t *dst, uint32_t *st)
{
	struct sevmig_fw_receive_update r = recv_args(dst, guest_len, pk->hdr, pk->trans);
	return receive_update(p->tgt, vmsa, &r, st);
}

/* Flip each bit of the header and of the ciphertext in turn. */
static void flip_all_bits(struct pair *p, bool vmsa, struct packet *pk, uint8_t *dst,
			  const uint8_t *canary, const char *cmd)
{
	uint32_t st;
	size_t n_hdr = sizeof(pk->hdr) * 8, n = n_hdr + (size_t)pk->len * 8;
	for (size_t bit = 0; bit < n; bit++) {
		uint8_t *b = bit < n_hdr ? &pk->hdr[bit / 8] : &pk->trans[(bit - n_hdr) / 8];
		uint8_t mask = (uint8_t)(1u << (bit % 8));
		*b ^= mask;
		/* Bit 0 of FLAGS is COMPRESSED, which the firmware refuses
		 * outright; any other change breaks the MAC. */
		uint32_t want =
		    bit == PKT_OFF_FLAGS * 8 ? SEVMIG_FW_UNSUPPORTED : SEVMIG_FW_BAD_MEASUREMENT;
		int rc = open_packet(p, vmsa, pk, pk->len, dst, &st);
		if (rc != -EIO || st != want)
			fail_msg("bit %zu of the %s: rc %d status %s", bit,
				 bit < n_hdr ? "header" : "ciphertext", rc,
				 sevmig_fw_status_name(st));
		if (memcmp(dst, canary, pk->len))
			fail_msg("bit %zu: guest memory changed by a refused packet", bit);
		*b ^= mask;
	}
	assert_non_null(strstr(sevmig_fw_last_error(p->tgt), cmd));
}

static void packet_bit_flips(void **state)
{
	(void)state;
	struct tu_rng r = { tu_seed("packet_bit_flips") };
	struct pair *p = pair_new(SEVMIG_POLICY_ES, 1);
	pair_start(p);
	uint8_t *src = page_alloc(1), *dst = page_alloc(1), *canary = page_alloc(1);
	struct packet *pk = malloc(sizeof(*pk));
	tu_fill(&r, src, SEVMIG_PAGE_SIZE);
	tu_fill(&r, canary, SEVMIG_PAGE_SIZE);
	memcpy(dst, canary, SEVMIG_PAGE_SIZE);
	for (int vmsa = 0; vmsa < 2; vmsa++) {
		const char *cmd = vmsa ? "RECEIVE_UPDATE_VMSA" : "RECEIVE_UPDATE_DATA";
		seal(p, vmsa, src, SEVMIG_PAGE_SIZE, pk);
		flip_all_bits(p, vmsa, pk, dst, canary, cmd);
		/* The unaltered packet still opens. */
		uint32_t st;
		assert_int_equal(open_packet(p, vmsa, pk, pk->len, dst, &st), 0);
		assert_memory_equal(dst, src, SEVMIG_PAGE_SIZE);
		memcpy(dst, canary, SEVMIG_PAGE_SIZE);
	}
	/* A short packet, and a packet presented as shorter than it is: the
	 * MAC covers the lengths. */
	seal(p, false, src, 256, pk);
	flip_all_bits(p, false, pk, dst, canary, "RECEIVE_UPDATE_DATA");
	seal(p, false, src, SEVMIG_PAGE_SIZE, pk);
	uint32_t st;
	expect_refusal(p->tgt, open_packet(p, false, pk, SEVMIG_PAGE_SIZE - 16, dst, &st), st,
		       SEVMIG_FW_BAD_MEASUREMENT, "RECEIVE_UPDATE_DATA");
	assert_memory_equal(dst, canary, SEVMIG_PAGE_SIZE);
	free(pk);
	free(src);
	free(dst);
	free(canary);
	pair_free(p);
}

static void session_bit_flips(void **state)
{
	(void)state;
	struct pair *p = pair_new(SEVMIG_POLICY_NOKS, 1);
	uint32_t st;
	assert_int_equal(pair_send_start(p, &st), 0);
	uint8_t s[SEVMIG_SESSION_SIZE];
	for (size_t bit = 0; bit < sizeof(s) * 8; bit++) {
		memcpy(s, p->session, sizeof(s));
		s[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int rc = pair_receive_start(p, p->tgt, p->policy, s, &st);
		if (rc != -EIO || st != SEVMIG_FW_BAD_MEASUREMENT)
			fail_msg("session bit %zu: rc %d status %s", bit, rc,
				 sevmig_fw_status_name(st));
		assert_int_equal(guest_state(p->tgt), SEVMIG_GUEST_UNINIT);
	}
	assert_non_null(strstr(sevmig_fw_last_error(p->tgt), "RECEIVE_START"));
	assert_int_equal(pair_receive_start(p, p->tgt, p->policy, p->session, &st), 0);
	assert_int_equal(guest_state(p->tgt), SEVMIG_GUEST_RUPDATE);
	pair_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(packet_bit_flips),
		cmocka_unit_test(session_bit_flips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
