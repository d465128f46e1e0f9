/* SPDX-License-Identifier: MIT */
/*
 * The software firmware's cryptography against known answers (sev-facts.md
 * 4.4 and 4.5), and against one-shot OpenSSL calls for random inputs.
 *
 * `test_soft_kat --print` instead runs a real source and target of the
 * model and prints everything an independent implementation needs to check
 * them (the target's PDH private key, both PDH certificates and chains, the
 * session blob, packets with their plaintext) plus the C results for the
 * known-answer inputs. tests/tools/check_soft_kat.py recomputes all of it
 * with Python's standard library only.
 */
#include "test_soft_util.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>

#include "fw/soft/soft_cert.h"
#include "fw/soft/soft_crypto.h"
#include "util/endian.h"

static void unhex(const char *hex, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(hex), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

#define assert_hex(buf, hex)                                      \
	do {                                                      \
		uint8_t want_[sizeof(hex) / 2];                   \
		unhex(hex, want_, sizeof(want_));                 \
		assert_memory_equal((buf), want_, sizeof(want_)); \
	} while (0)

/* sev-facts.md 4.4 */
#define KAT_MASTER     "ab4d269fcc62bedb4511d56c386ce706"
#define KAT_KEK	       "b6abfbfb75ea1ea74ed8750b8afdb973"
#define KAT_KIK	       "53b524bf5669a363f365c864acba8572"
#define KAT_WRAP_TK    "2137bc7f9bb8bd7c3e55a576a15d3454b3856b8ba27afadf46dcfee9f02c02c4"
#define KAT_WRAP_MAC   "3176c0752738bd9d5e86689534020f528c088f16238826b000b327dee6aeed7d"
#define KAT_POLICY_MAC "aa7855e13839dd767cd5da7c1ff5036540c9264b7a803029315e55375287b4af"
/* sev-facts.md 4.5 */
#define KAT_PKT_TRANS32 "5be87e2e5b447c944b21c9af7756c0d84ba41c22228e38a802633ef8709fc8f7"
#define KAT_PKT_MAC	"3888ca695c0ec7f970bf9a53fbbc323f36a0804381fe7b9bab81d41feecd7c81"

/* The known-answer computations, shared by the tests and --print. */
struct kat_out {
	uint8_t master[KEY_SIZE], kek[KEY_SIZE], kik[KEY_SIZE];
	uint8_t session[SEVMIG_SESSION_SIZE];
	uint8_t trans[SEVMIG_PAGE_SIZE], hdr[SEVMIG_PACKET_HDR_SIZE];
};

static struct pkt_algs {
	EVP_MAC *hmac;
	EVP_CIPHER *aes;
} algs;

static void algs_get(void)
{
	if (!algs.hmac)
		algs.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!algs.aes)
		algs.aes = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
	assert_non_null(algs.hmac);
	assert_non_null(algs.aes);
}

static void kat_compute(struct kat_out *k)
{
	static const uint8_t zero16[16];
	assert_int_equal(sevmig__soft_kdf(zero16, 16, KDF_LABEL_MASTER, zero16, 16, k->master, 16),
			 0);
	/* The virtee vector feeds a 16-byte Z; the model's Z has 48. */
	assert_int_equal(sevmig__soft_kek_kik(zero16, 16, zero16, k->kek, k->kik), 0);
	struct sevmig__soft_secrets s;
	memset(&s, 0, sizeof(s));
	assert_int_equal(sevmig__soft_session_seal(zero16, 16, &s, 0, k->session), 0);

	uint8_t tek[16], tik[16], iv[16], plain[SEVMIG_PAGE_SIZE] = { 0 };
	for (int i = 0; i < 16; i++) {
		tek[i] = (uint8_t)i;
		tik[i] = (uint8_t)(0x10 + i);
		iv[i] = (uint8_t)(0x20 + i);
	}
	algs_get();
	struct sevmig__soft_pkt p;
	assert_int_equal(sevmig__soft_pkt_init(&p, algs.hmac, algs.aes, tek, tik), 0);
	assert_int_equal(sevmig__soft_pkt_seal(&p, CHANNEL_CTX_DATA, 0, iv, plain, sizeof(plain),
					       k->trans, k->hdr),
			 0);
	sevmig__soft_pkt_free(&p);
}

static void kdf_and_key_schedule(void **state)
{
	(void)state;
	struct kat_out k;
	kat_compute(&k);
	assert_hex(k.master, KAT_MASTER);
	assert_hex(k.kek, KAT_KEK);
	assert_hex(k.kik, KAT_KIK);
	/* KEK and KIK are the KDF of the master secret with their labels. */
	uint8_t x[16];
	assert_int_equal(sevmig__soft_kdf(k.master, 16, KDF_LABEL_KEK, NULL, 0, x, 16), 0);
	assert_memory_equal(x, k.kek, 16);
	assert_int_equal(sevmig__soft_kdf(k.master, 16, KDF_LABEL_KIK, NULL, 0, x, 16), 0);
	assert_memory_equal(x, k.kik, 16);
	/* Longer outputs are K(1) || K(2): the first bytes agree, L differs. */
	uint8_t long_out[40], short_out[32];
	static const uint8_t key[3] = { 1, 2, 3 };
	assert_int_equal(sevmig__soft_kdf(key, 3, "x", NULL, 0, long_out, 40), 0);
	assert_int_equal(sevmig__soft_kdf(key, 3, "x", NULL, 0, short_out, 32), 0);
	assert_memory_not_equal(long_out, short_out, 32); /* L is in every block */
	assert_int_equal(sevmig__soft_kdf(key, 3, "x", NULL, 0, long_out, 0), -EINVAL);
}

static void session_wrapping(void **state)
{
	(void)state;
	struct kat_out k;
	kat_compute(&k);
	static const uint8_t zero16[16];
	assert_memory_equal(k.session + SESS_OFF_NONCE, zero16, 16);
	assert_hex(k.session + SESS_OFF_WRAP_TK, KAT_WRAP_TK);
	assert_memory_equal(k.session + SESS_OFF_WRAP_IV, zero16, 16);
	assert_hex(k.session + SESS_OFF_WRAP_MAC, KAT_WRAP_MAC);
	assert_hex(k.session + SESS_OFF_POLICY_MAC, KAT_POLICY_MAC);
	uint8_t mac[32];
	assert_int_equal(sevmig__soft_policy_mac(zero16, 0, mac), 0);
	assert_hex(mac, KAT_POLICY_MAC);

	uint8_t tek[16], tik[16];
	assert_int_equal(sevmig__soft_session_open(zero16, 16, k.session, 0, tek, tik),
			 SOFT_SESSION_OK);
	assert_memory_equal(tek, zero16, 16);
	assert_memory_equal(tik, zero16, 16);
	assert_int_equal(sevmig__soft_session_open(zero16, 16, k.session, 1, tek, tik),
			 SOFT_SESSION_BAD_POLICY_MAC);
	uint8_t other_z[16] = { 1 };
	assert_int_equal(sevmig__soft_session_open(other_z, 16, k.session, 0, tek, tik),
			 SOFT_SESSION_BAD_WRAP_MAC);
}

static void packet_known_answer(void **state)
{
	(void)state;
	struct kat_out k;
	kat_compute(&k);
	assert_hex(k.trans, KAT_PKT_TRANS32);
	assert_hex(k.hdr + PKT_OFF_MAC, KAT_PKT_MAC);
	assert_int_equal(sevmig__le32(k.hdr + PKT_OFF_FLAGS), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(k.hdr[PKT_OFF_IV + i], 0x20 + i);
}

/* Packet contexts, re-initialised per packet, against one-shot AES-CTR and
 * HMAC over the same bytes, for random keys, IVs and lengths. */
static void packet_contexts_match_one_shot(void **state)
{
	(void)state;
	struct tu_rng r = { tu_seed("packet_contexts_match_one_shot") };
	algs_get();
	uint8_t tek[16], tik[16], iv[16], plain[SEVMIG_PACKET_MAX], trans[SEVMIG_PACKET_MAX],
	    back[SEVMIG_PACKET_MAX], hdr[SEVMIG_PACKET_HDR_SIZE], ref[SEVMIG_PACKET_MAX], mac[32];
	static uint8_t msg[PKT_AAD_SIZE + SEVMIG_PACKET_MAX];
	for (int key = 0; key < 8; key++) {
		tu_fill(&r, tek, 16);
		tu_fill(&r, tik, 16);
		struct sevmig__soft_pkt p;
		assert_int_equal(sevmig__soft_pkt_init(&p, algs.hmac, algs.aes, tek, tik), 0);
		for (int i = 0; i < 40; i++) {
			uint32_t len = (uint32_t)(1 + tu_below(&r, SEVMIG_PACKET_MAX / 16)) * 16;
			uint32_t flags = (uint32_t)tu_next(&r);
			uint8_t ctx = (uint8_t)tu_next(&r);
			tu_fill(&r, iv, 16);
			tu_fill(&r, plain, len);
			assert_int_equal(
			    sevmig__soft_pkt_seal(&p, ctx, flags, iv, plain, len, trans, hdr), 0);
			assert_int_equal(sevmig__soft_aes_ctr(tek, iv, plain, ref, len), 0);
			assert_memory_equal(trans, ref, len);
			sevmig__soft_pkt_aad(msg, ctx, flags, iv, len, len);
			memcpy(msg + PKT_AAD_SIZE, trans, len);
			assert_int_equal(sevmig__soft_hmac(tik, 16, msg, PKT_AAD_SIZE + len, mac),
					 0);
			assert_memory_equal(hdr + PKT_OFF_MAC, mac, 32);
			assert_int_equal(sevmig__le32(hdr + PKT_OFF_FLAGS), flags);
			assert_int_equal(sevmig__soft_pkt_verify(&p, ctx, hdr, trans, len), 0);
			assert_int_equal(
			    sevmig__soft_pkt_verify(&p, (uint8_t)(ctx ^ 1), hdr, trans, len), 1);
			assert_int_equal(sevmig__soft_pkt_decrypt(&p, hdr, trans, back, len), 0);
			assert_memory_equal(back, plain, len);
		}
		sevmig__soft_pkt_free(&p);
	}
}

/* ---- --print -------------------------------------------------------------------- */

static void put_hex(const char *name, const void *p, size_t n)
{
	const uint8_t *b = p;
	printf("%s ", name);
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

static int print_fail(const char *what, int rc)
{
	fprintf(stderr, "test_soft_kat --print: %s failed (%d)\n", what, rc);
	return 2;
}

/* The target's PDH private scalar, big-endian, through its exported PEM. */
static int target_scalar(struct sevmig_fw *tgt, uint8_t d[48])
{
	char pem[4096], msg[160];
	size_t len = sizeof(pem);
	EVP_PKEY *key = NULL;
	BIGNUM *bn = NULL;
	int rc = sevmig_fw_soft_export_pdh_key(tgt, pem, &len);
	if (!rc)
		rc = sevmig__soft_key_from_pem(pem, len, &key, msg, sizeof(msg));
	if (!rc && (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &bn) ||
		    BN_bn2binpad(bn, d, 48) != 48))
		rc = -EIO;
	BN_clear_free(bn);
	EVP_PKEY_free(key);
	return rc;
}

static int print_mode(void)
{
	struct kat_out *k = calloc(1, sizeof(*k));
	if (!k)
		return 2;
	kat_compute(k);
	put_hex("kat_master", k->master, 16);
	put_hex("kat_kek", k->kek, 16);
	put_hex("kat_kik", k->kik, 16);
	put_hex("kat_session", k->session, SEVMIG_SESSION_SIZE);
	put_hex("kat_trans", k->trans, SEVMIG_PAGE_SIZE);
	put_hex("kat_hdr", k->hdr, SEVMIG_PACKET_HDR_SIZE);
	free(k);

	/* A real migration session between two platforms of the model. */
	struct tu_rng r = { tu_seed("test_soft_kat --print") };
	uint32_t policy = SEVMIG_POLICY_ES | SEVMIG_POLICY_NOKS | (uint32_t)(tu_next(&r) & 0x1u);
	struct pair *p = pair_new(policy, 1);
	uint8_t d[48];
	int rc = target_scalar(p->tgt, d);
	if (rc)
		return print_fail("reading the target's key", rc);
	uint32_t st;
	if ((rc = pair_send_start(p, &st)))
		return print_fail("SEND_START", rc);
	printf("policy %08x\n", policy);
	put_hex("tgt_priv", d, 48);
	put_hex("tgt_pdh", p->tgt_pdh, SEVMIG_CERT_SIZE);
	put_hex("tgt_chain", p->tgt_chain, SEVMIG_CERT_CHAIN_SIZE);
	put_hex("src_pdh", p->src_pdh, SEVMIG_CERT_SIZE);
	put_hex("src_chain", p->src_chain, SEVMIG_CERT_CHAIN_SIZE);
	put_hex("session", p->session, SEVMIG_SESSION_SIZE);
	uint8_t *page = page_alloc(1), hdr[SEVMIG_PACKET_HDR_SIZE], trans[SEVMIG_PAGE_SIZE];
	for (int i = 0; i < 6; i++) {
		bool vmsa = i == 5;
		uint32_t len = vmsa ? SEVMIG_VMSA_SIZE : (uint32_t)(1 + tu_below(&r, 256)) * 16;
		tu_fill(&r, page, len);
		struct sevmig_fw_send_update u = send_args(page, len, hdr, trans, sizeof(trans));
		rc = send_update(p->src, vmsa, &u, &st);
		if (rc)
			return print_fail("SEND_UPDATE", rc);
		put_hex(vmsa ? "vmsa_plain" : "data_plain", page, len);
		put_hex("hdr", hdr, sizeof(hdr));
		put_hex("trans", trans, u.trans_len);
	}
	free(page);
	pair_free(p);
	return fflush(stdout) ? 2 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--print") == 0)
		return print_mode();
	if (argc != 1) {
		fprintf(stderr, "usage: %s [--print]\n", argv[0]);
		return 2;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kdf_and_key_schedule),
		cmocka_unit_test(session_wrapping),
		cmocka_unit_test(packet_known_answer),
		cmocka_unit_test(packet_contexts_match_one_shot),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	EVP_MAC_free(algs.hmac);
	EVP_CIPHER_free(algs.aes);
	return rc;
}
