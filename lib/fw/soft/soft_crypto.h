/* SPDX-License-Identifier: MIT */
/*
 * The software firmware's symmetric cryptography: the key-derivation
 * function, the session blob (key wrapping, WRAP_MAC, POLICY_MAC) and the
 * packets of the UPDATE commands. Exposed to the unit tests, which check
 * them against the known answers of sev-facts.md 4.4 and 4.5.
 *
 * Functions return 0 or a negative errno (-ENOMEM, or -EIO when OpenSSL
 * fails); a MAC that does not verify is a positive result, see below.
 */
#ifndef SEVMIG_FW_SOFT_CRYPTO_H
#define SEVMIG_FW_SOFT_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "fw/soft/soft_spec.h"

/*
 * NIST SP 800-108 KDF in counter mode with HMAC-SHA256, as the SEV firmware
 * uses it: K(i) = HMAC(key, LE32(i) || label || 0x00 || context || LE32(bits))
 * for i = 1, 2, ...; out_len bytes of K(1) || K(2) || ... . ctx may be NULL
 * when ctx_len is 0.
 */
int sevmig__soft_kdf(const uint8_t *key, size_t key_len, const char *label, const uint8_t *ctx,
		     size_t ctx_len, uint8_t *out, size_t out_len);

/* master = KDF(Z, "sev-master-secret", NONCE); KEK = KDF(master, "sev-kek");
 * KIK = KDF(master, "sev-kik"). */
int sevmig__soft_kek_kik(const uint8_t *z, size_t z_len, const uint8_t nonce[NONCE_SIZE],
			 uint8_t kek[KEY_SIZE], uint8_t kik[KEY_SIZE]);

/* One-shot HMAC-SHA256 and AES-128-CTR (the IV is the whole big-endian
 * counter block), for the session; packets use struct sevmig__soft_pkt. */
int sevmig__soft_hmac(const uint8_t *key, size_t key_len, const void *msg, size_t len,
		      uint8_t mac[MAC_SIZE]);
int sevmig__soft_aes_ctr(const uint8_t key[KEY_SIZE], const uint8_t iv[IV_SIZE], const void *in,
			 void *out, size_t len);

/* POLICY_MAC = HMAC-SHA256(TIK, LE32(policy)). */
int sevmig__soft_policy_mac(const uint8_t tik[KEY_SIZE], uint32_t policy, uint8_t mac[MAC_SIZE]);

/* What SEND_START draws from the random generator. */
struct sevmig__soft_secrets {
	uint8_t tek[KEY_SIZE];
	uint8_t tik[KEY_SIZE];
	uint8_t nonce[NONCE_SIZE];
	uint8_t wrap_iv[IV_SIZE];
};

/* The 0x80-byte session blob for the ECDH secret z (sev-facts 4.3). */
int sevmig__soft_session_seal(const uint8_t *z, size_t z_len, const struct sevmig__soft_secrets *s,
			      uint32_t policy, uint8_t blob[SEVMIG_SESSION_SIZE]);

enum sevmig__soft_session_result {
	SOFT_SESSION_OK = 0,
	SOFT_SESSION_BAD_WRAP_MAC = 1,	 /* wrong keys, or NONCE/WRAP_TK/WRAP_MAC altered */
	SOFT_SESSION_BAD_POLICY_MAC = 2, /* other policy, or WRAP_IV/POLICY_MAC altered */
};
/* Open a session blob: SOFT_SESSION_OK with TEK and TIK, a positive
 * sevmig__soft_session_result (TEK and TIK wiped), or a negative errno. */
int sevmig__soft_session_open(const uint8_t *z, size_t z_len, const uint8_t *blob, uint32_t policy,
			      uint8_t tek[KEY_SIZE], uint8_t tik[KEY_SIZE]);

/*
 * Packet contexts: one AES-128-CTR context keyed with the TEK and one
 * HMAC-SHA256 context keyed with the TIK, re-initialised per packet (new
 * IV; same key) so that a packet allocates nothing and repeats no key
 * schedule. A context is used by one thread at a time.
 */
struct sevmig__soft_pkt {
	EVP_CIPHER_CTX *cipher;
	EVP_MAC_CTX *mac;
};
/* hmac and aes_ctr are fetched by the caller (EVP_MAC_fetch "HMAC",
 * EVP_CIPHER_fetch "AES-128-CTR"), once. */
int sevmig__soft_pkt_init(struct sevmig__soft_pkt *p, EVP_MAC *hmac, const EVP_CIPHER *aes_ctr,
			  const uint8_t tek[KEY_SIZE], const uint8_t tik[KEY_SIZE]);
/* Frees both contexts; OpenSSL wipes the key schedules. */
void sevmig__soft_pkt_free(struct sevmig__soft_pkt *p);

/* The 29 bytes the packet MAC covers before the ciphertext (sev-facts 4.5). */
void sevmig__soft_pkt_aad(uint8_t aad[PKT_AAD_SIZE], uint8_t channel_ctx, uint32_t flags,
			  const uint8_t iv[IV_SIZE], uint32_t guest_len, uint32_t trans_len);

/* Encrypt len bytes of guest into trans under iv and write the 0x34-byte
 * header (flags, iv, MAC over aad || trans). */
int sevmig__soft_pkt_seal(struct sevmig__soft_pkt *p, uint8_t channel_ctx, uint32_t flags,
			  const uint8_t iv[IV_SIZE], const void *guest, uint32_t len, void *trans,
			  uint8_t hdr[SEVMIG_PACKET_HDR_SIZE]);
/* Check the header's MAC over aad || trans in constant time: 0 when it
 * verifies, 1 when not, or a negative errno. */
int sevmig__soft_pkt_verify(struct sevmig__soft_pkt *p, uint8_t channel_ctx,
			    const uint8_t hdr[SEVMIG_PACKET_HDR_SIZE], const void *trans,
			    uint32_t len);
/* Decrypt len bytes of trans into guest with the header's IV. */
int sevmig__soft_pkt_decrypt(struct sevmig__soft_pkt *p, const uint8_t hdr[SEVMIG_PACKET_HDR_SIZE],
			     const void *trans, void *guest, uint32_t len);

#endif
