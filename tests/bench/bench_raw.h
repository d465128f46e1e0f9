/* SPDX-License-Identifier: MIT */
/*
 * The baseline the benchmarks hold the firmware and the stream against: the
 * raw cryptography of one packet, AES-128-CTR of a 4 KiB page and then
 * HMAC-SHA-256 of the ciphertext, through OpenSSL, with one context of each
 * made once and re-initialised per page (new IV, same keys). That is all
 * the cryptography the software firmware's SEND_UPDATE_DATA does for a
 * page, and RECEIVE_UPDATE_DATA does the same two operations. One struct
 * per thread.
 */
#ifndef BENCH_RAW_H
#define BENCH_RAW_H

#include <stdint.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

struct bench_raw {
	EVP_MAC *hmac;
	EVP_CIPHER *aes;
	EVP_MAC_CTX *m;
	EVP_CIPHER_CTX *c;
	uint8_t iv[16];
};

static inline void bench_raw_free(struct bench_raw *r)
{
	EVP_MAC_CTX_free(r->m);
	EVP_CIPHER_CTX_free(r->c);
	EVP_MAC_free(r->hmac);
	EVP_CIPHER_free(r->aes);
}

/* Fixed keys: 0, or -1 when OpenSSL cannot set up. */
static inline int bench_raw_init(struct bench_raw *r)
{
	static const uint8_t key[16] = { 1 }, mkey[16] = { 2 };
	char digest[] = "SHA256";
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
				OSSL_PARAM_construct_end() };
	*r = (struct bench_raw){ .iv = { 3 } };
	r->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	r->aes = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
	r->m = r->hmac ? EVP_MAC_CTX_new(r->hmac) : NULL;
	r->c = EVP_CIPHER_CTX_new();
	if (!r->m || !r->c || !r->aes || !EVP_CipherInit_ex2(r->c, r->aes, key, r->iv, 1, NULL) ||
	    !EVP_MAC_init(r->m, mkey, sizeof(mkey), params)) {
		bench_raw_free(r);
		return -1;
	}
	return 0;
}

/* Encrypt page `in` into `out` under an IV made from `seq`, then MAC `out`:
 * 0, or -1. */
static inline int bench_raw_page(struct bench_raw *r, const uint8_t *in, uint8_t *out, uint64_t seq)
{
	uint8_t mac[32];
	size_t n = 0;
	int outl = 0;
	r->iv[0] = (uint8_t)seq;
	r->iv[1] = (uint8_t)(seq >> 8);
	if (!EVP_CipherInit_ex(r->c, NULL, NULL, NULL, r->iv, -1) ||
	    !EVP_CipherUpdate(r->c, out, &outl, in, 4096) || !EVP_MAC_init(r->m, NULL, 0, NULL) ||
	    !EVP_MAC_update(r->m, out, 4096) || !EVP_MAC_final(r->m, mac, &n, sizeof(mac)))
		return -1;
	return 0;
}

#endif
