/* SPDX-License-Identifier: MIT */
/*
 * The example of docs/soft-firmware.md ("Pointing a VMM at the model"),
 * compiled and run. tests/tools/check_soft_doc.py checks that the document
 * quotes the lines between the markers exactly.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* --8<-- docs/soft-firmware.md */
#include <stdio.h>

#include <sevmig/fw.h>
#include <sevmig/fw_soft.h>

/* The VMM's own code: it sees only a struct sevmig_fw, whichever backend
 * is behind it (KVM on an EPYC host, the software model in a test). */
static int send_one_page(struct sevmig_fw *fw, const void *page, uint8_t *hdr, uint8_t *trans)
{
	struct sevmig_fw_send_update u = {
		.guest = page,
		.guest_len = 4096,
		.hdr = hdr,
		.hdr_len = SEVMIG_PACKET_HDR_SIZE,
		.trans = trans,
		.trans_len = 4096,
	};
	uint32_t status;
	int rc = sevmig_fw_send_update_data(fw, &u, &status);
	if (rc)
		fprintf(stderr, "SEND_UPDATE_DATA: %s\n", sevmig_fw_last_error(fw));
	return rc;
}

/* A test of that code without SEV hardware: two platforms of the model,
 * a source with a running guest and a target, in one process. */
static int migrate_one_page_in_software(const void *page, void *dst)
{
	SEVMIG_OPTS(sevmig_fw_soft_opts, src_opts, .launch = true, .policy = SEVMIG_POLICY_NOKS);
	struct sevmig_fw *src = NULL, *tgt = NULL;
	uint8_t pdh[SEVMIG_CERT_SIZE], chain[SEVMIG_CERT_CHAIN_SIZE];
	uint8_t src_pdh[SEVMIG_CERT_SIZE], session[SEVMIG_SESSION_SIZE];
	uint8_t hdr[SEVMIG_PACKET_HDR_SIZE], trans[4096];
	uint32_t pdh_len = sizeof(pdh), chain_len = sizeof(chain), st;
	int rc;

	if ((rc = sevmig_fw_soft_new(&src_opts, &src, NULL)) ||
	    (rc = sevmig_fw_soft_new(NULL, &tgt, NULL)))
		goto out;
	/* The target's PDH certificate goes to the source ... */
	if ((rc = sevmig_fw_pdh_cert_export(tgt, pdh, &pdh_len, chain, &chain_len, &st)))
		goto out;
	struct sevmig_fw_send_start start = {
		.pdh_cert = pdh,
		.pdh_cert_len = pdh_len,
		.plat_certs = chain,
		.plat_certs_len = chain_len,
		.session = session,
		.session_len = sizeof(session),
	};
	if ((rc = sevmig_fw_send_start(src, &start, &st)))
		goto out;
	/* ... and the source's PDH certificate and the session to the target. */
	if ((rc = sevmig_fw_pdh_cert_export(src, src_pdh, &pdh_len, chain, &chain_len, &st)))
		goto out;
	struct sevmig_fw_receive_start recv = {
		.policy = start.policy,
		.pdh_cert = src_pdh,
		.pdh_cert_len = pdh_len,
		.session = session,
		.session_len = start.session_len,
	};
	if ((rc = sevmig_fw_receive_start(tgt, &recv, &st)))
		goto out;

	if ((rc = send_one_page(src, page, hdr, trans)))
		goto out;
	struct sevmig_fw_receive_update in = {
		.guest = dst,
		.guest_len = 4096,
		.hdr = hdr,
		.hdr_len = sizeof(hdr),
		.trans = trans,
		.trans_len = 4096,
	};
	if (!(rc = sevmig_fw_receive_update_data(tgt, &in, &st)) &&
	    !(rc = sevmig_fw_send_finish(src, &st)))
		rc = sevmig_fw_receive_finish(tgt, &st);
out:
	sevmig_fw_free(src);
	sevmig_fw_free(tgt);
	return rc;
}
/* -->8-- */

static void doc_example_runs(void **state)
{
	(void)state;
	uint8_t *page = aligned_alloc(4096, 4096), *dst = aligned_alloc(4096, 4096);
	assert_non_null(page);
	assert_non_null(dst);
	struct tu_rng r = { tu_seed("doc_example_runs") };
	tu_fill(&r, page, 4096);
	memset(dst, 0, 4096);
	assert_int_equal(migrate_one_page_in_software(page, dst), 0);
	assert_memory_equal(page, dst, 4096);
	free(page);
	free(dst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(doc_example_runs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
