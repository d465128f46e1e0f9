/* SPDX-License-Identifier: MIT */
/*
 * The software firmware through the public interface: round trips of pages
 * and VMSAs between two platforms, the state machine, the length rules and
 * queries, policies, certificates, keys, platform commands.
 */
#include "test_soft_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fw/soft/soft_cert.h"
#include "util/endian.h"

/* Send `len` bytes at `src` and receive them at `dst`: both succeed. */
static void transfer(struct pair *p, bool vmsa, const uint8_t *src, uint8_t *dst, uint32_t len)
{
	uint8_t hdr[SEVMIG_PACKET_HDR_SIZE], trans[SEVMIG_PACKET_MAX];
	struct sevmig_fw_send_update u = send_args(src, len, hdr, trans, sizeof(trans));
	uint32_t st;
	int rc = send_update(p->src, vmsa, &u, &st);
	if (rc)
		fail_msg("send: %d %s", rc, sevmig_fw_last_error(p->src));
	assert_int_equal(st, SEVMIG_FW_SUCCESS);
	assert_int_equal(u.hdr_len, SEVMIG_PACKET_HDR_SIZE);
	assert_int_equal(u.trans_len, len);
	/* Encrypted: the transport bytes are not the guest bytes. */
	if (len >= 32)
		assert_memory_not_equal(trans, src, len);
	struct sevmig_fw_receive_update r = recv_args(dst, len, hdr, trans);
	rc = receive_update(p->tgt, vmsa, &r, &st);
	if (rc)
		fail_msg("receive: %d %s", rc, sevmig_fw_last_error(p->tgt));
	assert_int_equal(st, SEVMIG_FW_SUCCESS);
}

static void round_trip_pages_and_vmsas(void **state)
{
	(void)state;
	struct tu_rng r = { tu_seed("round_trip_pages_and_vmsas") };
	const uint32_t policies[] = { 0, SEVMIG_POLICY_NODBG | SEVMIG_POLICY_NOKS, SEVMIG_POLICY_ES,
				      0x37010001u /* NODBG, API 1.55 at least */ };
	uint8_t *src = page_alloc(1), *dst = page_alloc(1);
	uint8_t *model = page_alloc(1);
	for (size_t k = 0; k < sizeof(policies) / sizeof(policies[0]); k++) {
		struct pair *p = pair_new(policies[k], 2);
		assert_int_equal(guest_state(p->src), SEVMIG_GUEST_RUNNING);
		assert_int_equal(guest_state(p->tgt), SEVMIG_GUEST_UNINIT);
		pair_start(p);
		assert_int_equal(guest_state(p->src), SEVMIG_GUEST_SUPDATE);
		assert_int_equal(guest_state(p->tgt), SEVMIG_GUEST_RUPDATE);
		for (int i = 0; i < 200; i++) {
			/* Whole pages mostly, else a 16-byte-aligned piece of one. */
			uint32_t off = 0, len = SEVMIG_PAGE_SIZE;
			if (tu_below(&r, 3) == 0) {
				off = (uint32_t)tu_below(&r, SEVMIG_PAGE_SIZE / 16) * 16;
				len = (uint32_t)(1 + tu_below(&r, (SEVMIG_PAGE_SIZE - off) / 16)) *
				      16;
			}
			tu_fill(&r, src, SEVMIG_PAGE_SIZE);
			tu_fill(&r, dst, SEVMIG_PAGE_SIZE);
			/* The reference: dst with [off, off+len) replaced by src's. */
			memcpy(model, dst, SEVMIG_PAGE_SIZE);
			memcpy(model + off, src + off, len);
			transfer(p, false, src + off, dst + off, len);
			assert_memory_equal(dst, model, SEVMIG_PAGE_SIZE);
		}
		if (policies[k] & SEVMIG_POLICY_ES) {
			for (int v = 0; v < 4; v++) {
				tu_fill(&r, src, SEVMIG_VMSA_SIZE);
				transfer(p, true, src, dst, SEVMIG_VMSA_SIZE);
				assert_memory_equal(dst, src, SEVMIG_VMSA_SIZE);
			}
		}
		uint32_t st;
		assert_int_equal(sevmig_fw_send_finish(p->src, &st), 0);
		assert_int_equal(sevmig_fw_receive_finish(p->tgt, &st), 0);
		assert_int_equal(guest_state(p->src), SEVMIG_GUEST_SENT);
		assert_int_equal(guest_state(p->tgt), SEVMIG_GUEST_RUNNING);
		struct sevmig_fw_guest_status gs;
		assert_int_equal(sevmig_fw_guest_status(p->tgt, &gs, &st), 0);
		assert_int_equal(gs.policy, policies[k]);
		assert_int_equal(gs.handle, 1);
		pair_free(p);
	}
	free(src);
	free(dst);
	free(model);
}

/* The target can send the guest on: a received guest is an ordinary one. */
static void received_guest_migrates_again(void **state)
{
	(void)state;
	struct pair *p = pair_new(0, 1);
	pair_start(p);
	uint32_t st;
	assert_int_equal(sevmig_fw_receive_finish(p->tgt, &st), 0);
	struct sevmig_fw *third = soft_platform(false, 0, 1);
	struct pair q = { .src = p->tgt, .tgt = third, .policy = 0 };
	export_certs(third, q.tgt_pdh, q.tgt_chain);
	export_certs(p->tgt, q.src_pdh, q.src_chain);
	pair_start(&q);
	uint8_t *a = page_alloc(1), *b = page_alloc(1);
	memset(a, 0x5a, SEVMIG_PAGE_SIZE);
	transfer(&q, false, a, b, SEVMIG_PAGE_SIZE);
	assert_memory_equal(a, b, SEVMIG_PAGE_SIZE);
	free(a);
	free(b);
	sevmig_fw_free(third);
	pair_free(p);
}

static void length_queries_and_rules(void **state)
{
	(void)state;
	struct pair *p = pair_new(0, 1);
	uint32_t st;
	/* SEND_START: NULL session asks; a short one is refused. */
	struct sevmig_fw_send_start s = { .pdh_cert = p->tgt_pdh,
					  .pdh_cert_len = SEVMIG_CERT_SIZE };
	assert_int_equal(sevmig_fw_send_start(p->src, &s, &st), 0);
	assert_int_equal(st, SEVMIG_FW_SUCCESS);
	assert_int_equal(s.session_len, SEVMIG_SESSION_SIZE);
	uint8_t session[SEVMIG_SESSION_SIZE];
	s.session = session;
	s.session_len = SEVMIG_SESSION_SIZE - 1;
	expect_refusal_code(p->src, sevmig_fw_send_start(p->src, &s, &st), st, -ENOSPC,
			    SEVMIG_FW_INVALID_LENGTH, "SEND_START");
	assert_int_equal(s.session_len, SEVMIG_SESSION_SIZE);
	assert_int_equal(guest_state(p->src), SEVMIG_GUEST_RUNNING);
	/* A PDH certificate of the wrong size. */
	s.pdh_cert_len = SEVMIG_CERT_SIZE - 1;
	expect_refusal(p->src, sevmig_fw_send_start(p->src, &s, &st), st, SEVMIG_FW_INVALID_LENGTH,
		       "SEND_START");
	pair_start(p);

	uint8_t *page = page_alloc(1), hdr[SEVMIG_PACKET_HDR_SIZE + 8], trans[SEVMIG_PAGE_SIZE];
	memset(page, 1, SEVMIG_PAGE_SIZE);
	struct sevmig_fw_send_update u = { .guest = page, .guest_len = SEVMIG_PAGE_SIZE };
	assert_int_equal(sevmig_fw_send_update_data(p->src, &u, &st), 0);
	assert_int_equal(st, SEVMIG_FW_SUCCESS);
	assert_int_equal(u.hdr_len, SEVMIG_PACKET_HDR_SIZE);
	assert_int_equal(u.trans_len, SEVMIG_PAGE_SIZE);
	u.hdr = hdr;
	u.trans = trans;
	u.hdr_len = SEVMIG_PACKET_HDR_SIZE - 1;
	u.trans_len = sizeof(trans);
	expect_refusal_code(p->src, sevmig_fw_send_update_data(p->src, &u, &st), st, -ENOSPC,
			    SEVMIG_FW_INVALID_LENGTH, "SEND_UPDATE_DATA");
	assert_int_equal(u.hdr_len, SEVMIG_PACKET_HDR_SIZE);
	u.trans_len = SEVMIG_PAGE_SIZE - 16;
	expect_refusal_code(p->src, sevmig_fw_send_update_data(p->src, &u, &st), st, -ENOSPC,
			    SEVMIG_FW_INVALID_LENGTH, "SEND_UPDATE_DATA");
	assert_int_equal(u.trans_len, SEVMIG_PAGE_SIZE);
	/* Firmware rules: 16-byte multiples, 16-byte aligned addresses. */
	const uint32_t bad_lens[] = { 0, 8, 4095, 17 };
	for (size_t i = 0; i < 4; i++) {
		u.guest_len = bad_lens[i];
		u.trans_len = sizeof(trans);
		expect_refusal(p->src, sevmig_fw_send_update_data(p->src, &u, &st), st,
			       SEVMIG_FW_INVALID_LENGTH, "SEND_UPDATE_DATA");
	}
	u.guest = page + 8;
	u.guest_len = 32;
	expect_refusal(p->src, sevmig_fw_send_update_data(p->src, &u, &st), st,
		       SEVMIG_FW_INVALID_ADDRESS, "SEND_UPDATE_DATA");
	/* The kernel's rule: one page. Not a firmware answer. */
	u.guest = page + 16;
	u.guest_len = SEVMIG_PAGE_SIZE;
	expect_refusal_code(p->src, sevmig_fw_send_update_data(p->src, &u, &st), st, -EINVAL,
			    SEVMIG_FW_STATUS_NONE, "SEND_UPDATE_DATA");
	/* A good packet, then receive-side length rules. */
	u.guest = page;
	u.hdr_len = sizeof(hdr);
	assert_int_equal(sevmig_fw_send_update_data(p->src, &u, &st), 0);
	assert_int_equal(u.hdr_len, SEVMIG_PACKET_HDR_SIZE);
	uint8_t *dst = page_alloc(1);
	struct sevmig_fw_receive_update r = recv_args(dst, SEVMIG_PAGE_SIZE, hdr, trans);
	r.trans_len = SEVMIG_PAGE_SIZE - 16;
	expect_refusal(p->tgt, sevmig_fw_receive_update_data(p->tgt, &r, &st), st,
		       SEVMIG_FW_INVALID_LENGTH, "RECEIVE_UPDATE_DATA");
	r.trans_len = SEVMIG_PAGE_SIZE;
	r.hdr_len = SEVMIG_PACKET_HDR_SIZE - 1;
	expect_refusal(p->tgt, sevmig_fw_receive_update_data(p->tgt, &r, &st), st,
		       SEVMIG_FW_INVALID_LENGTH, "RECEIVE_UPDATE_DATA");
	r.hdr_len = sizeof(hdr); /* a longer header buffer is fine */
	r.guest = dst + 16;
	expect_refusal_code(p->tgt, sevmig_fw_receive_update_data(p->tgt, &r, &st), st, -EINVAL,
			    SEVMIG_FW_STATUS_NONE, "RECEIVE_UPDATE_DATA");
	r.guest = dst;
	assert_int_equal(sevmig_fw_receive_update_data(p->tgt, &r, &st), 0);
	assert_memory_equal(dst, page, SEVMIG_PAGE_SIZE);
	free(page);
	free(dst);
	pair_free(p);
}

static void out_of_order_commands(void **state)
{
	(void)state;
	struct pair *p = pair_new(SEVMIG_POLICY_ES, 1);
	uint32_t st;
	uint8_t *page = page_alloc(1), hdr[SEVMIG_PACKET_HDR_SIZE] = { 0 },
		trans[SEVMIG_PAGE_SIZE] = { 0 };
	struct sevmig_fw_send_update u =
	    send_args(page, SEVMIG_PAGE_SIZE, hdr, trans, sizeof(trans));
	struct sevmig_fw_receive_update r = recv_args(page, SEVMIG_PAGE_SIZE, hdr, trans);
	/* Target without a guest: the platform is not WORKING. */
	expect_refusal(p->tgt, sevmig_fw_receive_update_data(p->tgt, &r, &st), st,
		       SEVMIG_FW_INVALID_PLATFORM_STATE, "RECEIVE_UPDATE_DATA");
	expect_refusal(p->tgt, sevmig_fw_receive_finish(p->tgt, &st), st,
		       SEVMIG_FW_INVALID_PLATFORM_STATE, "RECEIVE_FINISH");
	struct sevmig_fw_send_start s = { .pdh_cert = p->src_pdh,
					  .pdh_cert_len = SEVMIG_CERT_SIZE,
					  .session = p->session,
					  .session_len = SEVMIG_SESSION_SIZE };
	expect_refusal(p->tgt, sevmig_fw_send_start(p->tgt, &s, &st), st,
		       SEVMIG_FW_INVALID_PLATFORM_STATE, "SEND_START");
	/* Source RUNNING: no UPDATE, FINISH or CANCEL before SEND_START. */
	expect_refusal(p->src, sevmig_fw_send_update_data(p->src, &u, &st), st,
		       SEVMIG_FW_INVALID_GUEST_STATE, "SEND_UPDATE_DATA");
	expect_refusal(p->src, sevmig_fw_send_update_vmsa(p->src, 0, &u, &st), st,
		       SEVMIG_FW_INVALID_GUEST_STATE, "SEND_UPDATE_VMSA");
	expect_refusal(p->src, sevmig_fw_send_finish(p->src, &st), st,
		       SEVMIG_FW_INVALID_GUEST_STATE, "SEND_FINISH");
	expect_refusal(p->src, sevmig_fw_send_cancel(p->src, &st), st,
		       SEVMIG_FW_INVALID_GUEST_STATE, "SEND_CANCEL");
	expect_refusal(p->src, sevmig_fw_receive_finish(p->src, &st), st,
		       SEVMIG_FW_INVALID_GUEST_STATE, "RECEIVE_FINISH");
	expect_refusal(p->src, pair_receive_start(p, p->src, 0, p->session, &st), st,
		       SEVMIG_FW_INVALID_GUEST_STATE, "RECEIVE_START");
	pair_start(p);
	/* SUPDATE / RUPDATE: the other side's commands and a second start. */
	expect_refusal(p->src, pair_send_start(p, &st), st, SEVMIG_FW_INVALID_GUEST_STATE,
		       "SEND_START");
	expect_refusal(p->src, sevmig_fw_receive_update_data(p->src, &r, &st), st,
		       SEVMIG_FW_INVALID_GUEST_STATE, "RECEIVE_UPDATE_DATA");
	expect_refusal(p->tgt, sevmig_fw_send_update_data(p->tgt, &u, &st), st,
		       SEVMIG_FW_INVALID_GUEST_STATE, "SEND_UPDATE_DATA");
	expect_refusal(p->tgt, sevmig_fw_send_finish(p->tgt, &st), st,
		       SEVMIG_FW_INVALID_GUEST_STATE, "SEND_FINISH");
	expect_refusal(p->tgt, pair_receive_start(p, p->tgt, 0, p->session, &st), st,
		       SEVMIG_FW_INVALID_GUEST_STATE, "RECEIVE_START");
	/* SENT: nothing more to send. */
	assert_int_equal(sevmig_fw_send_finish(p->src, &st), 0);
	expect_refusal(p->src, sevmig_fw_send_update_data(p->src, &u, &st), st,
		       SEVMIG_FW_INVALID_GUEST_STATE, "SEND_UPDATE_DATA");
	expect_refusal(p->src, sevmig_fw_send_finish(p->src, &st), st,
		       SEVMIG_FW_INVALID_GUEST_STATE, "SEND_FINISH");
	expect_refusal(p->src, sevmig_fw_send_cancel(p->src, &st), st,
		       SEVMIG_FW_INVALID_GUEST_STATE, "SEND_CANCEL");
	expect_refusal(p->src, pair_send_start(p, &st), st, SEVMIG_FW_INVALID_GUEST_STATE,
		       "SEND_START");
	/* RUNNING target after RECEIVE_FINISH: no more packets. */
	assert_int_equal(sevmig_fw_receive_finish(p->tgt, &st), 0);
	expect_refusal(p->tgt, sevmig_fw_receive_update_data(p->tgt, &r, &st), st,
		       SEVMIG_FW_INVALID_GUEST_STATE, "RECEIVE_UPDATE_DATA");
	expect_refusal(p->tgt, sevmig_fw_receive_finish(p->tgt, &st), st,
		       SEVMIG_FW_INVALID_GUEST_STATE, "RECEIVE_FINISH");
	free(page);
	pair_free(p);
}

/* SEND_CANCEL goes back to RUNNING with the keys gone; a new SEND_START
 * makes new keys, and packets of the old session no longer verify. */
static void cancel_and_restart(void **state)
{
	(void)state;
	struct pair *p = pair_new(0, 1);
	uint32_t st;
	assert_int_equal(pair_send_start(p, &st), 0);
	uint8_t old_session[SEVMIG_SESSION_SIZE];
	memcpy(old_session, p->session, sizeof(old_session));
	uint8_t *page = page_alloc(1), *dst = page_alloc(1), hdr[SEVMIG_PACKET_HDR_SIZE],
		trans[SEVMIG_PAGE_SIZE];
	memset(page, 0x33, SEVMIG_PAGE_SIZE);
	struct sevmig_fw_send_update u =
	    send_args(page, SEVMIG_PAGE_SIZE, hdr, trans, sizeof(trans));
	assert_int_equal(sevmig_fw_send_update_data(p->src, &u, &st), 0);
	assert_int_equal(sevmig_fw_send_cancel(p->src, &st), 0);
	assert_int_equal(st, SEVMIG_FW_SUCCESS);
	assert_int_equal(guest_state(p->src), SEVMIG_GUEST_RUNNING);
	expect_refusal(p->src, sevmig_fw_send_update_data(p->src, &u, &st), st,
		       SEVMIG_FW_INVALID_GUEST_STATE, "SEND_UPDATE_DATA");
	assert_int_equal(pair_send_start(p, &st), 0);
	assert_memory_not_equal(old_session, p->session, sizeof(old_session));
	assert_int_equal(pair_receive_start(p, p->tgt, 0, p->session, &st), 0);
	struct sevmig_fw_receive_update r = recv_args(dst, SEVMIG_PAGE_SIZE, hdr, trans);
	memset(dst, 0xee, SEVMIG_PAGE_SIZE);
	expect_refusal(p->tgt, sevmig_fw_receive_update_data(p->tgt, &r, &st), st,
		       SEVMIG_FW_BAD_MEASUREMENT, "RECEIVE_UPDATE_DATA");
	for (unsigned i = 0; i < SEVMIG_PAGE_SIZE; i++)
		assert_int_equal(dst[i], 0xee);
	transfer(p, false, page, dst, SEVMIG_PAGE_SIZE);
	assert_memory_equal(dst, page, SEVMIG_PAGE_SIZE);
	free(page);
	free(dst);
	pair_free(p);
}

static void wrong_target_and_wrong_policy(void **state)
{
	(void)state;
	struct pair *p = pair_new(SEVMIG_POLICY_NOKS, 1);
	uint32_t st;
	assert_int_equal(pair_send_start(p, &st), 0);
	/* Another platform than the one the session was made for. */
	struct sevmig_fw *other = soft_platform(false, 0, 1);
	expect_refusal(other, pair_receive_start(p, other, p->policy, p->session, &st), st,
		       SEVMIG_FW_BAD_MEASUREMENT, "RECEIVE_START");
	assert_non_null(strstr(sevmig_fw_last_error(other), "WRAP_MAC"));
	assert_int_equal(guest_state(other), SEVMIG_GUEST_UNINIT);
	sevmig_fw_free(other);
	/* The right platform, told another policy. */
	expect_refusal(p->tgt, pair_receive_start(p, p->tgt, 0, p->session, &st), st,
		       SEVMIG_FW_BAD_MEASUREMENT, "RECEIVE_START");
	assert_non_null(strstr(sevmig_fw_last_error(p->tgt), "POLICY_MAC"));
	/* The source's certificate replaced by another platform's. */
	struct sevmig_fw *third = soft_platform(false, 0, 1);
	uint8_t chain[SEVMIG_CERT_CHAIN_SIZE];
	export_certs(third, p->src_pdh, chain);
	expect_refusal(p->tgt, pair_receive_start(p, p->tgt, p->policy, p->session, &st), st,
		       SEVMIG_FW_BAD_MEASUREMENT, "RECEIVE_START");
	sevmig_fw_free(third);
	/* Session of the wrong length. */
	struct sevmig_fw_receive_start rs = { .policy = p->policy,
					      .pdh_cert = p->tgt_pdh,
					      .pdh_cert_len = SEVMIG_CERT_SIZE,
					      .session = p->session,
					      .session_len = SEVMIG_SESSION_SIZE - 16 };
	expect_refusal(p->tgt, sevmig_fw_receive_start(p->tgt, &rs, &st), st,
		       SEVMIG_FW_INVALID_LENGTH, "RECEIVE_START");
	assert_int_equal(guest_state(p->tgt), SEVMIG_GUEST_UNINIT);
	pair_free(p);
}

static void policies(void **state)
{
	(void)state;
	uint32_t st;
	/* NOSEND */
	struct pair *p = pair_new(SEVMIG_POLICY_NOSEND, 1);
	expect_refusal(p->src, pair_send_start(p, &st), st, SEVMIG_FW_POLICY_FAILURE, "SEND_START");
	assert_non_null(strstr(sevmig_fw_last_error(p->src), "NOSEND"));
	assert_int_equal(guest_state(p->src), SEVMIG_GUEST_RUNNING);
	pair_free(p);
	/* SEV: no AMD chain in the model. */
	p = pair_new(SEVMIG_POLICY_SEV, 1);
	expect_refusal(p->src, pair_send_start(p, &st), st, SEVMIG_FW_POLICY_FAILURE, "SEND_START");
	pair_free(p);
	/* NODBG refuses the debug commands; without it they copy. */
	uint8_t a[64], b[64];
	memset(a, 7, sizeof(a));
	p = pair_new(SEVMIG_POLICY_NODBG, 1);
	expect_refusal(p->src, sevmig_fw_dbg_decrypt(p->src, a, b, sizeof(a), &st), st,
		       SEVMIG_FW_POLICY_FAILURE, "DBG_DECRYPT");
	expect_refusal(p->src, sevmig_fw_dbg_encrypt(p->src, a, b, sizeof(a), &st), st,
		       SEVMIG_FW_POLICY_FAILURE, "DBG_ENCRYPT");
	expect_refusal(p->tgt, sevmig_fw_dbg_decrypt(p->tgt, a, b, sizeof(a), &st), st,
		       SEVMIG_FW_INVALID_PLATFORM_STATE, "DBG_DECRYPT");
	pair_free(p);
	p = pair_new(0, 1);
	memset(b, 0, sizeof(b));
	assert_int_equal(sevmig_fw_dbg_decrypt(p->src, a, b, sizeof(a), &st), 0);
	assert_memory_equal(a, b, sizeof(a));
	memset(a, 9, sizeof(a));
	assert_int_equal(sevmig_fw_dbg_encrypt(p->src, a, b, sizeof(a), &st), 0);
	assert_memory_equal(a, b, sizeof(a));
	/* VMSA commands need an SEV-ES guest. */
	pair_start(p);
	uint8_t *vmsa = page_alloc(1), hdr[SEVMIG_PACKET_HDR_SIZE], trans[SEVMIG_VMSA_SIZE];
	struct sevmig_fw_send_update u =
	    send_args(vmsa, SEVMIG_VMSA_SIZE, hdr, trans, sizeof(trans));
	expect_refusal(p->src, sevmig_fw_send_update_vmsa(p->src, 0, &u, &st), st,
		       SEVMIG_FW_UNSUPPORTED, "SEND_UPDATE_VMSA");
	struct sevmig_fw_receive_update r = recv_args(vmsa, SEVMIG_VMSA_SIZE, hdr, trans);
	expect_refusal(p->tgt, sevmig_fw_receive_update_vmsa(p->tgt, 0, &r, &st), st,
		       SEVMIG_FW_UNSUPPORTED, "RECEIVE_UPDATE_VMSA");
	pair_free(p);
	/* A VMSA is one page; an SEV-ES policy needs an SEV-ES platform. */
	p = pair_new(SEVMIG_POLICY_ES, 1);
	pair_start(p);
	u.guest_len = 2048;
	expect_refusal(p->src, sevmig_fw_send_update_vmsa(p->src, 0, &u, &st), st,
		       SEVMIG_FW_INVALID_LENGTH, "SEND_UPDATE_VMSA");
	pair_free(p);
	p = pair_new(SEVMIG_POLICY_ES, 1);
	sevmig_fw_free(p->tgt);
	SEVMIG_OPTS(sevmig_fw_soft_opts, no_es, .no_es = true);
	assert_int_equal(sevmig_fw_soft_new(&no_es, &p->tgt, NULL), 0);
	export_certs(p->tgt, p->tgt_pdh, p->tgt_chain);
	assert_int_equal(pair_send_start(p, &st), 0);
	expect_refusal(p->tgt, pair_receive_start(p, p->tgt, p->policy, p->session, &st), st,
		       SEVMIG_FW_UNSUPPORTED, "RECEIVE_START");
	pair_free(p);
	/* A policy asking for a newer firmware API than the model's. */
	p = pair_new(0, 1);
	assert_int_equal(pair_send_start(p, &st), 0);
	expect_refusal(p->tgt, pair_receive_start(p, p->tgt, 0x00020000u, p->session, &st), st,
		       SEVMIG_FW_POLICY_FAILURE, "RECEIVE_START");
	pair_free(p);
	free(vmsa);
}

/* PEM file with a fresh P-384 key, for the OCA. */
static void write_key_file(const char *path, const char *curve)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	assert_non_null(k);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_true(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
	assert_int_equal(fclose(f), 0);
	EVP_PKEY_free(k);
}

static void domain_policy(void **state)
{
	(void)state;
	char dir[] = "/tmp/sevmig-soft-XXXXXX", oca[64];
	assert_non_null(mkdtemp(dir));
	snprintf(oca, sizeof(oca), "%s/oca.pem", dir);
	write_key_file(oca, "P-384");
	uint32_t policy = SEVMIG_POLICY_DOMAIN, st;
	SEVMIG_OPTS(sevmig_fw_soft_opts, so, .launch = true, .policy = policy, .oca_key_path = oca);
	SEVMIG_OPTS(sevmig_fw_soft_opts, to, .oca_key_path = oca);
	struct pair *p = pair_new(policy, 1);
	/* Different owners: refused. */
	expect_refusal(p->src, pair_send_start(p, &st), st, SEVMIG_FW_POLICY_FAILURE, "SEND_START");
	assert_non_null(strstr(sevmig_fw_last_error(p->src), "OCA"));
	/* Same owner (one OCA key): accepted, the chain verified. */
	sevmig_fw_free(p->src);
	sevmig_fw_free(p->tgt);
	assert_int_equal(sevmig_fw_soft_new(&so, &p->src, NULL), 0);
	assert_int_equal(sevmig_fw_soft_new(&to, &p->tgt, NULL), 0);
	export_certs(p->tgt, p->tgt_pdh, p->tgt_chain);
	export_certs(p->src, p->src_pdh, p->src_chain);
	struct sevmig_fw_platform_status ps;
	assert_int_equal(sevmig_fw_platform_status(p->tgt, &ps, &st), 0);
	assert_true(ps.flags & SEVMIG_PLATFORM_FLAG_OWNER);
	/* A chain whose PEK signature is broken, then no chain at all. */
	p->tgt_chain[CERT_OFF_SIG1 + 8 + 5] ^= 1;
	expect_refusal(p->src, pair_send_start(p, &st), st, SEVMIG_FW_BAD_SIGNATURE, "SEND_START");
	p->tgt_chain[CERT_OFF_SIG1 + 8 + 5] ^= 1;
	struct sevmig_fw_send_start s = { .pdh_cert = p->tgt_pdh,
					  .pdh_cert_len = SEVMIG_CERT_SIZE,
					  .session = p->session,
					  .session_len = SEVMIG_SESSION_SIZE };
	expect_refusal(p->src, sevmig_fw_send_start(p->src, &s, &st), st, SEVMIG_FW_INVALID_LENGTH,
		       "SEND_START");
	pair_start(p);
	pair_free(p);
	unlink(oca);
	rmdir(dir);
}

/* Each field of a certificate, garbled, is refused with where it is. */
static void certificate_checks(void **state)
{
	(void)state;
	struct tu_rng r = { tu_seed("certificate_checks") };
	struct pair *p = pair_new(0, 1);
	uint8_t good[SEVMIG_CERT_SIZE];
	memcpy(good, p->tgt_pdh, sizeof(good));
	struct {
		size_t off;
		uint8_t xor ;
		uint32_t status;
		const char *says;
	} cases[] = {
		{ CERT_OFF_VERSION, 0x02, SEVMIG_FW_INVALID_CERTIFICATE, "VERSION" },
		{ CERT_OFF_RESERVED + 1, 0x10, SEVMIG_FW_INVALID_CERTIFICATE, "reserved" },
		{ CERT_OFF_PUB_USAGE, 0x01, SEVMIG_FW_INVALID_CERTIFICATE, "PUBKEY_USAGE" },
		{ CERT_OFF_PUB_ALGO + 1, 0x01, SEVMIG_FW_INVALID_CERTIFICATE, "PUBKEY_ALGO" },
		{ CERT_OFF_PUBKEY, 0x03, SEVMIG_FW_INVALID_CERTIFICATE, "curve" },
		{ CERT_OFF_PUBKEY + CERT_EC_QX + 50, 0x01, SEVMIG_FW_INVALID_CERTIFICATE, "48" },
		{ CERT_OFF_PUBKEY + CERT_EC_QY + 71, 0x80, SEVMIG_FW_INVALID_CERTIFICATE, "48" },
		{ CERT_OFF_PUBKEY + 0x200, 0x01, SEVMIG_FW_INVALID_CERTIFICATE, "key area" },
		{ CERT_OFF_SIG1, 0x55, SEVMIG_FW_INVALID_CERTIFICATE, "SIG1_USAGE" },
		{ CERT_OFF_SIG2 + 4, 0x77, SEVMIG_FW_INVALID_CERTIFICATE, "SIG2_ALGO" },
		{ CERT_OFF_SIG2 + 4, 0x02, SEVMIG_FW_BAD_SIGNATURE, "usage INVALID" },
	};
	uint32_t st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(p->tgt_pdh, good, sizeof(good));
		p->tgt_pdh[cases[i].off] ^= cases[i].xor ;
		expect_refusal(p->src, pair_send_start(p, &st), st, cases[i].status, "SEND_START");
		if (!strstr(sevmig_fw_last_error(p->src), cases[i].says))
			fail_msg("case %zu: %s", i, sevmig_fw_last_error(p->src));
	}
	/* A point off the curve: flip a random bit of X (kept below 2^384). */
	int off_curve = 0;
	for (int i = 0; i < 20; i++) {
		memcpy(p->tgt_pdh, good, sizeof(good));
		size_t bit = tu_below(&r, 48 * 8);
		p->tgt_pdh[CERT_OFF_PUBKEY + CERT_EC_QX + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		expect_refusal(p->src, pair_send_start(p, &st), st, SEVMIG_FW_INVALID_CERTIFICATE,
			       "SEND_START");
		off_curve += strstr(sevmig_fw_last_error(p->src), "not a point") != NULL;
	}
	assert_int_equal(off_curve, 20);
	/* The model's own certificates pass every check, and the chain holds. */
	EVP_PKEY *pdh = NULL, *pek = NULL, *oca = NULL, *cek = NULL;
	char msg[160];
	assert_int_equal(sevmig__soft_cert_check(good, "pdh", USAGE_PDH, &pdh, msg, sizeof(msg)),
			 0);
	const uint8_t *pek_c = p->tgt_chain, *oca_c = pek_c + SEVMIG_CERT_SIZE,
		      *cek_c = oca_c + SEVMIG_CERT_SIZE;
	assert_int_equal(sevmig__soft_cert_check(pek_c, "pek", USAGE_PEK, &pek, msg, sizeof(msg)),
			 0);
	assert_int_equal(sevmig__soft_cert_check(oca_c, "oca", USAGE_OCA, &oca, msg, sizeof(msg)),
			 0);
	assert_int_equal(sevmig__soft_cert_check(cek_c, "cek", USAGE_CEK, &cek, msg, sizeof(msg)),
			 0);
	assert_int_equal(
	    sevmig__soft_cert_verify(good, "pdh", pek, pek_c, USAGE_PEK, msg, sizeof(msg)), 0);
	assert_int_equal(
	    sevmig__soft_cert_verify(pek_c, "pek", oca, oca_c, USAGE_OCA, msg, sizeof(msg)), 0);
	assert_int_equal(
	    sevmig__soft_cert_verify(pek_c, "pek", cek, cek_c, USAGE_CEK, msg, sizeof(msg)), 0);
	assert_int_equal(
	    sevmig__soft_cert_verify(oca_c, "oca", oca, oca_c, USAGE_OCA, msg, sizeof(msg)), 0);
	assert_int_equal(
	    sevmig__soft_cert_verify(cek_c, "cek", cek, cek_c, USAGE_CEK, msg, sizeof(msg)), 0);
	assert_int_equal(
	    sevmig__soft_cert_verify(good, "pdh", oca, oca_c, USAGE_PEK, msg, sizeof(msg)),
	    SEVMIG_FW_BAD_SIGNATURE);
	assert_int_equal(
	    sevmig__soft_cert_verify(good, "pdh", pek, pek_c, USAGE_OCA, msg, sizeof(msg)),
	    SEVMIG_FW_BAD_SIGNATURE);
	assert_int_equal(sevmig__le32(good + CERT_OFF_PUB_ALGO), SOFT_PDH_ALGO);
	/* The PEK's signature on the PDH relabelled with the other ECDSA
	 * algorithm (a known one, so only the signer's algorithm refuses it). */
	{
		uint8_t relabel[SEVMIG_CERT_SIZE];
		memcpy(relabel, good, sizeof(relabel));
		size_t slot = sevmig__le32(relabel + CERT_OFF_SIG1) == USAGE_PEK ? CERT_OFF_SIG1
										 : CERT_OFF_SIG2;
		uint32_t a = sevmig__le32(relabel + slot + 4);
		sevmig__put_le32(relabel + slot + 4, a == 0x002 ? 0x102 : 0x002);
		assert_int_equal(sevmig__soft_cert_verify(relabel, "pdh", pek, pek_c, USAGE_PEK,
							  msg, sizeof(msg)),
				 SEVMIG_FW_BAD_SIGNATURE);
		assert_non_null(strstr(msg, "key's algorithm"));
	}
	EVP_PKEY_free(pdh);
	EVP_PKEY_free(pek);
	EVP_PKEY_free(oca);
	EVP_PKEY_free(cek);
	/* A truncated certificate on the target side. */
	memcpy(p->tgt_pdh, good, sizeof(good));
	pair_start(p);
	pair_free(p);
	p = pair_new(0, 1);
	assert_int_equal(pair_send_start(p, &st), 0);
	struct sevmig_fw_receive_start rs = { .policy = 0,
					      .pdh_cert = p->src_pdh,
					      .pdh_cert_len = SEVMIG_CERT_SIZE - 4,
					      .session = p->session,
					      .session_len = SEVMIG_SESSION_SIZE };
	expect_refusal(p->tgt, sevmig_fw_receive_start(p->tgt, &rs, &st), st,
		       SEVMIG_FW_INVALID_LENGTH, "RECEIVE_START");
	p->src_pdh[CERT_OFF_PUB_USAGE] = 0x02; /* a PEK's usage */
	expect_refusal(p->tgt, pair_receive_start(p, p->tgt, 0, p->session, &st), st,
		       SEVMIG_FW_INVALID_CERTIFICATE, "RECEIVE_START");
	assert_non_null(strstr(sevmig_fw_last_error(p->tgt), "source PDH certificate"));
	pair_free(p);
}

static void platform_commands(void **state)
{
	(void)state;
	struct pair *p = pair_new(SEVMIG_POLICY_NOKS, 3);
	assert_string_equal(sevmig_fw_backend_name(p->src), "soft");
	assert_int_equal(sevmig_fw_max_threads(p->src), 3);
	struct sevmig_fw_platform_status ps;
	uint32_t st;
	assert_int_equal(sevmig_fw_platform_status(p->tgt, &ps, &st), 0);
	assert_true(ps.soft);
	assert_int_equal(ps.api_major, 1);
	assert_int_equal(ps.api_minor, 55);
	assert_int_equal(ps.state, 1);
	assert_int_equal(ps.guest_count, 0);
	assert_true(ps.flags & SEVMIG_PLATFORM_FLAG_ES);
	assert_false(ps.flags & SEVMIG_PLATFORM_FLAG_OWNER);
	assert_int_equal(sevmig_fw_platform_status(p->src, &ps, &st), 0);
	assert_int_equal(ps.state, 2);
	assert_int_equal(ps.guest_count, 1);
	/* PDH_CERT_EXPORT: query, short buffers. */
	uint32_t pl = 0, cl = 0;
	assert_int_equal(sevmig_fw_pdh_cert_export(p->src, NULL, &pl, NULL, &cl, &st), 0);
	assert_int_equal(st, SEVMIG_FW_SUCCESS);
	assert_int_equal(pl, SEVMIG_CERT_SIZE);
	assert_int_equal(cl, SEVMIG_CERT_CHAIN_SIZE);
	uint8_t pdh[SEVMIG_CERT_SIZE], chain[SEVMIG_CERT_CHAIN_SIZE];
	pl = SEVMIG_CERT_SIZE;
	cl = SEVMIG_CERT_CHAIN_SIZE - 1;
	expect_refusal_code(p->src, sevmig_fw_pdh_cert_export(p->src, pdh, &pl, chain, &cl, &st),
			    st, -ENOSPC, SEVMIG_FW_INVALID_LENGTH, "PDH_CERT_EXPORT");
	assert_int_equal(cl, SEVMIG_CERT_CHAIN_SIZE);
	/* GET_ID: a tag saying what this is, then a digest of the PDH key. */
	uint8_t id[80], id2[64];
	uint32_t il = 0;
	assert_int_equal(sevmig_fw_get_id(p->src, NULL, &il, &st), 0);
	assert_int_equal(il, 64);
	il = 10;
	expect_refusal_code(p->src, sevmig_fw_get_id(p->src, id, &il, &st), st, -ENOSPC,
			    SEVMIG_FW_INVALID_LENGTH, "GET_ID");
	il = sizeof(id);
	assert_int_equal(sevmig_fw_get_id(p->src, id, &il, &st), 0);
	assert_int_equal(il, 64);
	assert_memory_equal(id, "SEVMIG SOFT FW", 14);
	il = sizeof(id2);
	assert_int_equal(sevmig_fw_get_id(p->tgt, id2, &il, &st), 0);
	assert_memory_not_equal(id, id2, 64);
	/* GUEST_STATUS of a platform without a guest. */
	struct sevmig_fw_guest_status gs;
	assert_int_equal(sevmig_fw_guest_status(p->tgt, &gs, &st), 0);
	assert_int_equal(gs.handle, 0);
	assert_int_equal(gs.state, SEVMIG_GUEST_UNINIT);
	assert_int_equal(sevmig_fw_guest_status(p->src, &gs, &st), 0);
	assert_int_equal(gs.policy, SEVMIG_POLICY_NOKS);
	pair_free(p);
}

static void keys_saved_and_loaded(void **state)
{
	(void)state;
	char dir[] = "/tmp/sevmig-soft-XXXXXX", path[64], bad[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pdh.pem", dir);
	snprintf(bad, sizeof(bad), "%s/bad.pem", dir);
	struct sevmig_fw *a = soft_platform(false, 0, 1), *b = NULL;
	assert_int_equal(sevmig_fw_soft_save_pdh_key(a, path), 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* Saved twice: replaced, still 0600. */
	assert_int_equal(sevmig_fw_soft_save_pdh_key(a, path), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	uint8_t ca[SEVMIG_CERT_SIZE], cb[SEVMIG_CERT_SIZE], chain[SEVMIG_CERT_CHAIN_SIZE];
	export_certs(a, ca, chain);
	SEVMIG_OPTS(sevmig_fw_soft_opts, o, .pdh_key_path = path);
	assert_int_equal(sevmig_fw_soft_new(&o, &b, NULL), 0);
	export_certs(b, cb, chain);
	/* The same key: the same signed public key (signatures differ). */
	assert_memory_equal(ca + CERT_OFF_PUBKEY, cb + CERT_OFF_PUBKEY, CERT_PUBKEY_SIZE);
	sevmig_fw_free(b);
	/* In memory, with the length query. */
	size_t len = 0;
	assert_int_equal(sevmig_fw_soft_export_pdh_key(a, NULL, &len), 0);
	assert_true(len > 100);
	char *pem = malloc(len + 1);
	size_t small = len - 1;
	assert_int_equal(sevmig_fw_soft_export_pdh_key(a, pem, &small), -ENOSPC);
	assert_int_equal(small, len);
	size_t cap = len + 1;
	assert_int_equal(sevmig_fw_soft_export_pdh_key(a, pem, &cap), 0);
	assert_int_equal(cap, len);
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
	SEVMIG_OPTS(sevmig_fw_soft_opts, m, .pdh_key_pem = pem, .pdh_key_pem_len = len);
	assert_int_equal(sevmig_fw_soft_new(&m, &b, NULL), 0);
	export_certs(b, cb, chain);
	assert_memory_equal(ca + CERT_OFF_PUBKEY, cb + CERT_OFF_PUBKEY, CERT_PUBKEY_SIZE);
	sevmig_fw_free(b);
	free(pem);
	/* Bad keys: missing file, not PEM, the wrong curve. */
	struct sevmig_error err;
	SEVMIG_OPTS(sevmig_fw_soft_opts, x, .pdh_key_path = bad);
	assert_int_equal(sevmig_fw_soft_new(&x, &b, &err), -ENOENT);
	assert_null(b);
	assert_non_null(strstr(err.message, bad));
	FILE *f = fopen(bad, "w");
	fputs("hello\n", f);
	fclose(f);
	assert_int_equal(sevmig_fw_soft_new(&x, &b, &err), -EBADMSG);
	assert_non_null(strstr(err.message, "PEM"));
	write_key_file(bad, "P-256");
	assert_int_equal(sevmig_fw_soft_new(&x, &b, &err), -EBADMSG);
	assert_non_null(strstr(err.message, "P-384"));
	/* Not a soft handle; a path that cannot be written. */
	assert_int_equal(sevmig_fw_soft_save_pdh_key(NULL, path), -EINVAL);
	snprintf(bad, sizeof(bad), "%s/no/such/dir", dir);
	assert_int_equal(sevmig_fw_soft_save_pdh_key(a, bad), -ENOENT);
	assert_non_null(strstr(sevmig_fw_last_error(a), "PDH key"));
	sevmig_fw_free(a);
	snprintf(bad, sizeof(bad), "%s/bad.pem", dir);
	unlink(bad);
	unlink(path);
	assert_int_equal(rmdir(dir), 0); /* no temporary file left behind */
}

static void options_checked(void **state)
{
	(void)state;
	struct sevmig_fw *fw = NULL;
	struct sevmig_error err;
	SEVMIG_OPTS(sevmig_fw_soft_opts, a, .policy = 1);
	assert_int_equal(sevmig_fw_soft_new(&a, &fw, &err), -EINVAL);
	SEVMIG_OPTS(sevmig_fw_soft_opts, b, .launch = true, .policy = SEVMIG_POLICY_ES,
		    .no_es = true);
	assert_int_equal(sevmig_fw_soft_new(&b, &fw, &err), -EINVAL);
	assert_non_null(strstr(err.message, "SEV-ES"));
	SEVMIG_OPTS(sevmig_fw_soft_opts, c, .max_threads = 100000);
	assert_int_equal(sevmig_fw_soft_new(&c, &fw, &err), -EINVAL);
	SEVMIG_OPTS(sevmig_fw_soft_opts, d, .pdh_key_path = "x", .pdh_key_pem = "y");
	assert_int_equal(sevmig_fw_soft_new(&d, &fw, &err), -EINVAL);
	SEVMIG_OPTS(sevmig_fw_soft_opts, e, .launch = true, .policy = 0x00020000u);
	assert_int_equal(sevmig_fw_soft_new(&e, &fw, &err), -EINVAL);
	/* A caller's larger struct must have a zero tail. */
	struct {
		struct sevmig_fw_soft_opts o;
		uint64_t more;
	} big = { .o = { .sz = sizeof(big) }, .more = 1 };
	assert_int_equal(sevmig_fw_soft_new(&big.o, &fw, NULL), -EINVAL);
	big.more = 0;
	assert_int_equal(sevmig_fw_soft_new(&big.o, &fw, NULL), 0);
	assert_true(sevmig_fw_max_threads(fw) >= 1);
	sevmig_fw_free(fw);
	assert_int_equal(sevmig_fw_soft_new(NULL, &fw, NULL), 0);
	sevmig_fw_free(fw);
	assert_int_equal(sevmig_fw_soft_new(NULL, NULL, NULL), -EINVAL);
	sevmig_fw_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip_pages_and_vmsas),
		cmocka_unit_test(received_guest_migrates_again),
		cmocka_unit_test(length_queries_and_rules),
		cmocka_unit_test(out_of_order_commands),
		cmocka_unit_test(cancel_and_restart),
		cmocka_unit_test(wrong_target_and_wrong_policy),
		cmocka_unit_test(policies),
		cmocka_unit_test(domain_policy),
		cmocka_unit_test(certificate_checks),
		cmocka_unit_test(platform_commands),
		cmocka_unit_test(keys_saved_and_loaded),
		cmocka_unit_test(options_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
