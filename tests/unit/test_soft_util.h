/* SPDX-License-Identifier: MIT */
/* Shared by the test_soft_*.c programs: a source and a target platform of
 * the software firmware, and checks of a refused command. */
#ifndef TEST_SOFT_UTIL_H
#define TEST_SOFT_UTIL_H

#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/fw.h>
#include <sevmig/fw_soft.h>

struct pair {
	struct sevmig_fw *src, *tgt;
	uint32_t policy;
	uint8_t tgt_pdh[SEVMIG_CERT_SIZE];
	uint8_t tgt_chain[SEVMIG_CERT_CHAIN_SIZE];
	uint8_t src_pdh[SEVMIG_CERT_SIZE];
	uint8_t src_chain[SEVMIG_CERT_CHAIN_SIZE];
	uint8_t session[SEVMIG_SESSION_SIZE];
};

static inline struct sevmig_fw *soft_platform(bool launch, uint32_t policy, unsigned threads)
{
	struct sevmig_error err;
	sevmig_error_clear(&err);
	SEVMIG_OPTS(sevmig_fw_soft_opts, o, .launch = launch, .policy = policy,
		    .max_threads = threads);
	struct sevmig_fw *fw = NULL;
	int rc = sevmig_fw_soft_new(&o, &fw, &err);
	if (rc)
		fail_msg("sevmig_fw_soft_new: %d %s", rc, err.message);
	return fw;
}

static inline void export_certs(struct sevmig_fw *fw, uint8_t *pdh, uint8_t *chain)
{
	uint32_t pl = SEVMIG_CERT_SIZE, cl = SEVMIG_CERT_CHAIN_SIZE, st;
	assert_int_equal(sevmig_fw_pdh_cert_export(fw, pdh, &pl, chain, &cl, &st), 0);
	assert_int_equal(st, SEVMIG_FW_SUCCESS);
	assert_int_equal(pl, SEVMIG_CERT_SIZE);
	assert_int_equal(cl, SEVMIG_CERT_CHAIN_SIZE);
}

/* A launched source with `policy` and a fresh target, certificates
 * exchanged; no command issued yet. */
static inline struct pair *pair_new(uint32_t policy, unsigned threads)
{
	struct pair *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->policy = policy;
	p->src = soft_platform(true, policy, threads);
	p->tgt = soft_platform(false, 0, threads);
	export_certs(p->tgt, p->tgt_pdh, p->tgt_chain);
	export_certs(p->src, p->src_pdh, p->src_chain);
	return p;
}

static inline int pair_send_start(struct pair *p, uint32_t *st)
{
	struct sevmig_fw_send_start s = { .pdh_cert = p->tgt_pdh,
					  .pdh_cert_len = SEVMIG_CERT_SIZE,
					  .plat_certs = p->tgt_chain,
					  .plat_certs_len = SEVMIG_CERT_CHAIN_SIZE,
					  .session = p->session,
					  .session_len = SEVMIG_SESSION_SIZE };
	int rc = sevmig_fw_send_start(p->src, &s, st);
	if (!rc) {
		assert_int_equal(s.session_len, SEVMIG_SESSION_SIZE);
		assert_int_equal(s.policy, p->policy);
	}
	return rc;
}

static inline int pair_receive_start(struct pair *p, struct sevmig_fw *tgt, uint32_t policy,
				     const uint8_t *session, uint32_t *st)
{
	struct sevmig_fw_receive_start r = { .policy = policy,
					     .pdh_cert = p->src_pdh,
					     .pdh_cert_len = SEVMIG_CERT_SIZE,
					     .session = session,
					     .session_len = SEVMIG_SESSION_SIZE };
	int rc = sevmig_fw_receive_start(tgt, &r, st);
	if (!rc)
		assert_int_equal(r.handle, 1);
	return rc;
}

/* SEND_START then RECEIVE_START, both succeeding. */
static inline void pair_start(struct pair *p)
{
	uint32_t st;
	assert_int_equal(pair_send_start(p, &st), 0);
	assert_int_equal(st, SEVMIG_FW_SUCCESS);
	assert_int_equal(pair_receive_start(p, p->tgt, p->policy, p->session, &st), 0);
	assert_int_equal(st, SEVMIG_FW_SUCCESS);
}

static inline void pair_free(struct pair *p)
{
	sevmig_fw_free(p->src);
	sevmig_fw_free(p->tgt);
	free(p);
}

static inline uint32_t guest_state(struct sevmig_fw *fw)
{
	struct sevmig_fw_guest_status gs;
	uint32_t st;
	assert_int_equal(sevmig_fw_guest_status(fw, &gs, &st), 0);
	return gs.state;
}

/* SEND_UPDATE_* of len bytes at guest; the header and the ciphertext go to
 * hdr and trans (room for trans_cap bytes). */
static inline struct sevmig_fw_send_update send_args(const void *guest, uint32_t len, uint8_t *hdr,
						     uint8_t *trans, uint32_t trans_cap)
{
	return (struct sevmig_fw_send_update){ .guest = guest,
					       .guest_len = len,
					       .hdr = hdr,
					       .hdr_len = SEVMIG_PACKET_HDR_SIZE,
					       .trans = trans,
					       .trans_len = trans_cap };
}

/* RECEIVE_UPDATE_* of a packet of len bytes into guest. */
static inline struct sevmig_fw_receive_update recv_args(void *guest, uint32_t len,
							const uint8_t *hdr, const uint8_t *trans)
{
	return (struct sevmig_fw_receive_update){ .guest = guest,
						  .guest_len = len,
						  .hdr = hdr,
						  .hdr_len = SEVMIG_PACKET_HDR_SIZE,
						  .trans = trans,
						  .trans_len = len };
}

/* The DATA or the VMSA command. */
static inline int send_update(struct sevmig_fw *fw, bool vmsa, struct sevmig_fw_send_update *u,
			      uint32_t *st)
{
	return vmsa ? sevmig_fw_send_update_vmsa(fw, 0, u, st)
		    : sevmig_fw_send_update_data(fw, u, st);
}

static inline int receive_update(struct sevmig_fw *fw, bool vmsa,
				 const struct sevmig_fw_receive_update *r, uint32_t *st)
{
	return vmsa ? sevmig_fw_receive_update_vmsa(fw, 0, r, st)
		    : sevmig_fw_receive_update_data(fw, r, st);
}

/* A firmware refusal: -EIO (or `code`), the status, and a message that
 * names the command. */
#define expect_refusal_code(fw, rc, st, code, status, cmd)                                      \
	do {                                                                                    \
		int rc_ = (rc);                                                                 \
		if (rc_ != (code) || (st) != (uint32_t)(status))                                \
			fail_msg("%s: got rc %d status 0x%x (%s), wanted rc %d status %s", cmd, \
				 rc_, (st), sevmig_fw_status_name(st), (code), #status);        \
		if (!strstr(sevmig_fw_last_error(fw), cmd))                                     \
			fail_msg("message without %s: %s", cmd, sevmig_fw_last_error(fw));      \
	} while (0)
#define expect_refusal(fw, rc, st, status, cmd) expect_refusal_code(fw, rc, st, -EIO, status, cmd)

/* 4 KiB-aligned memory, as guest pages are. */
static inline uint8_t *page_alloc(size_t pages)
{
	void *p = aligned_alloc(SEVMIG_PAGE_SIZE, pages * SEVMIG_PAGE_SIZE);
	assert_non_null(p);
	return p;
}

#endif
