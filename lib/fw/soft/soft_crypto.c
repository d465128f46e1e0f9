/* SPDX-License-Identifier: MIT */
/* The software firmware's symmetric cryptography (see soft_crypto.h). */
#include "fw/soft/soft_crypto.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "util/endian.h"
#include "util/error.h"

#define KDF_MAX_LABEL 64u
#define KDF_MAX_CTX   64u

int sevmig__soft_hmac(const uint8_t *key, size_t key_len, const void *msg, size_t len,
		      uint8_t mac[MAC_SIZE])
{
	size_t out_len = 0;
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len, msg, len, mac, MAC_SIZE,
		       &out_len) ||
	    out_len != MAC_SIZE)
		return -EIO;
	return 0;
}

int sevmig__soft_aes_ctr(const uint8_t key[KEY_SIZE], const uint8_t iv[IV_SIZE], const void *in,
			 void *out, size_t len)
{
	if (len > INT_MAX)
		return -EINVAL;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!c)
		return -ENOMEM;
	int n = 0, rc = -EIO;
	if (EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv) &&
	    EVP_EncryptUpdate(c, out, &n, in, (int)len) && (size_t)n == len)
		rc = 0;
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int sevmig__soft_kdf(const uint8_t *key, size_t key_len, const char *label, const uint8_t *ctx,
		     size_t ctx_len, uint8_t *out, size_t out_len)
{
	size_t label_len = strlen(label);
	if (label_len > KDF_MAX_LABEL || ctx_len > KDF_MAX_CTX || !out_len ||
	    out_len > UINT32_MAX / 8)
		return -EINVAL;
	uint8_t msg[4 + KDF_MAX_LABEL + 1 + KDF_MAX_CTX + 4], k[MAC_SIZE];
	size_t n = 4;
	memcpy(msg + n, label, label_len);
	n += label_len;
	msg[n++] = 0x00;
	if (ctx_len)
		memcpy(msg + n, ctx, ctx_len);
	n += ctx_len;
	sevmig__put_le32(msg + n, (uint32_t)(out_len * 8));
	n += 4;
	int rc = 0;
	for (uint32_t i = 1; out_len; i++) {
		sevmig__put_le32(msg, i);
		rc = sevmig__soft_hmac(key, key_len, msg, n, k);
		if (rc)
			break;
		size_t take = out_len < MAC_SIZE ? out_len : MAC_SIZE;
		memcpy(out, k, take);
		out += take;
		out_len -= take;
	}
	OPENSSL_cleanse(k, sizeof(k));
	return rc;
}

int sevmig__soft_kek_kik(const uint8_t *z, size_t z_len, const uint8_t nonce[NONCE_SIZE],
			 uint8_t kek[KEY_SIZE], uint8_t kik[KEY_SIZE])
{
	uint8_t master[KEY_SIZE];
	int rc =
	    sevmig__soft_kdf(z, z_len, KDF_LABEL_MASTER, nonce, NONCE_SIZE, master, sizeof(master));
	if (!rc)
		rc =
		    sevmig__soft_kdf(master, sizeof(master), KDF_LABEL_KEK, NULL, 0, kek, KEY_SIZE);
	if (!rc)
		rc =
		    sevmig__soft_kdf(master, sizeof(master), KDF_LABEL_KIK, NULL, 0, kik, KEY_SIZE);
	OPENSSL_cleanse(master, sizeof(master));
	return rc;
}

int sevmig__soft_policy_mac(const uint8_t tik[KEY_SIZE], uint32_t policy, uint8_t mac[MAC_SIZE])
{
	uint8_t le[4];
	sevmig__put_le32(le, policy);
	return sevmig__soft_hmac(tik, KEY_SIZE, le, sizeof(le), mac);
}

int sevmig__soft_session_seal(const uint8_t *z, size_t z_len, const struct sevmig__soft_secrets *s,
			      uint32_t policy, uint8_t blob[SEVMIG_SESSION_SIZE])
{
	uint8_t kek[KEY_SIZE], kik[KEY_SIZE], tk[2 * KEY_SIZE];
	memcpy(tk, s->tek, KEY_SIZE);
	memcpy(tk + KEY_SIZE, s->tik, KEY_SIZE);
	memcpy(blob + SESS_OFF_NONCE, s->nonce, NONCE_SIZE);
	memcpy(blob + SESS_OFF_WRAP_IV, s->wrap_iv, IV_SIZE);
	int rc = sevmig__soft_kek_kik(z, z_len, s->nonce, kek, kik);
	if (!rc)
		rc = sevmig__soft_aes_ctr(kek, s->wrap_iv, tk, blob + SESS_OFF_WRAP_TK, sizeof(tk));
	if (!rc)
		rc = sevmig__soft_hmac(kik, KEY_SIZE, blob + SESS_OFF_WRAP_TK, sizeof(tk),
				       blob + SESS_OFF_WRAP_MAC);
	if (!rc)
		rc = sevmig__soft_policy_mac(s->tik, policy, blob + SESS_OFF_POLICY_MAC);
	OPENSSL_cleanse(kek, sizeof(kek));
	OPENSSL_cleanse(kik, sizeof(kik));
	OPENSSL_cleanse(tk, sizeof(tk));
	return rc;
}

int sevmig__soft_session_open(const uint8_t *z, size_t z_len, const uint8_t *blob, uint32_t policy,
			      uint8_t tek[KEY_SIZE], uint8_t tik[KEY_SIZE])
{
	uint8_t kek[KEY_SIZE], kik[KEY_SIZE], tk[2 * KEY_SIZE], mac[MAC_SIZE];
	int rc = sevmig__soft_kek_kik(z, z_len, blob + SESS_OFF_NONCE, kek, kik);
	if (rc)
		goto out;
	/* The wrapped keys are authenticated before they are used. */
	rc = sevmig__soft_hmac(kik, KEY_SIZE, blob + SESS_OFF_WRAP_TK, sizeof(tk), mac);
	if (rc)
		goto out;
	if (CRYPTO_memcmp(mac, blob + SESS_OFF_WRAP_MAC, MAC_SIZE)) {
		rc = SOFT_SESSION_BAD_WRAP_MAC;
		goto out;
	}
	rc = sevmig__soft_aes_ctr(kek, blob + SESS_OFF_WRAP_IV, blob + SESS_OFF_WRAP_TK, tk,
				  sizeof(tk));
	if (rc)
		goto out;
	rc = sevmig__soft_policy_mac(tk + KEY_SIZE, policy, mac);
	if (rc)
		goto out;
	if (CRYPTO_memcmp(mac, blob + SESS_OFF_POLICY_MAC, MAC_SIZE)) {
		rc = SOFT_SESSION_BAD_POLICY_MAC;
		goto out;
	}
	memcpy(tek, tk, KEY_SIZE);
	memcpy(tik, tk + KEY_SIZE, KEY_SIZE);
out:
	if (rc) {
		OPENSSL_cleanse(tek, KEY_SIZE);
		OPENSSL_cleanse(tik, KEY_SIZE);
	}
	OPENSSL_cleanse(kek, sizeof(kek));
	OPENSSL_cleanse(kik, sizeof(kik));
	OPENSSL_cleanse(tk, sizeof(tk));
	return rc;
}

/* ---- packets ---------------------------------------------------------------- */

int sevmig__soft_pkt_init(struct sevmig__soft_pkt *p, EVP_MAC *hmac, const EVP_CIPHER *aes_ctr,
			  const uint8_t tek[KEY_SIZE], const uint8_t tik[KEY_SIZE])
{
	static const uint8_t zero_iv[IV_SIZE];
	char digest[] = "SHA256";
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
				OSSL_PARAM_construct_end() };
	p->cipher = EVP_CIPHER_CTX_new();
	p->mac = EVP_MAC_CTX_new(hmac);
	if (!p->cipher || !p->mac) {
		sevmig__soft_pkt_free(p);
		return -ENOMEM;
	}
	if (!EVP_CipherInit_ex2(p->cipher, aes_ctr, tek, zero_iv, 1, NULL) ||
	    !EVP_MAC_init(p->mac, tik, KEY_SIZE, params)) {
		sevmig__soft_pkt_free(p);
		return -EIO;
	}
	return 0;
}

void sevmig__soft_pkt_free(struct sevmig__soft_pkt *p)
{
	EVP_CIPHER_CTX_free(p->cipher);
	EVP_MAC_CTX_free(p->mac);
	p->cipher = NULL;
	p->mac = NULL;
}

void sevmig__soft_pkt_aad(uint8_t aad[PKT_AAD_SIZE], uint8_t channel_ctx, uint32_t flags,
			  const uint8_t iv[IV_SIZE], uint32_t guest_len, uint32_t trans_len)
{
	aad[0] = channel_ctx;
	sevmig__put_le32(aad + 1, flags);
	memcpy(aad + 5, iv, IV_SIZE);
	sevmig__put_le32(aad + 21, guest_len);
	sevmig__put_le32(aad + 25, trans_len);
}

/* MAC of aad || trans with the context's key. */
static int pkt_mac(struct sevmig__soft_pkt *p, const uint8_t aad[PKT_AAD_SIZE], const void *trans,
		   uint32_t len, uint8_t mac[MAC_SIZE])
{
	size_t n = 0;
	if (!EVP_MAC_init(p->mac, NULL, 0, NULL) || !EVP_MAC_update(p->mac, aad, PKT_AAD_SIZE) ||
	    !EVP_MAC_update(p->mac, trans, len) || !EVP_MAC_final(p->mac, mac, &n, MAC_SIZE) ||
	    n != MAC_SIZE)
		return -EIO;
	return 0;
}

static int pkt_crypt(struct sevmig__soft_pkt *p, const uint8_t iv[IV_SIZE], const void *in,
		     void *out, uint32_t len)
{
	int n = 0;
	if (len > INT_MAX)
		return -EINVAL;
	/* No cipher and no key: the same key schedule, counter reset to iv. */
	if (!EVP_CipherInit_ex(p->cipher, NULL, NULL, NULL, iv, -1) ||
	    !EVP_CipherUpdate(p->cipher, out, &n, in, (int)len) || (uint32_t)n != len)
		return -EIO;
	return 0;
}

int sevmig__soft_pkt_seal(struct sevmig__soft_pkt *p, uint8_t channel_ctx, uint32_t flags,
			  const uint8_t iv[IV_SIZE], const void *guest, uint32_t len, void *trans,
			  uint8_t hdr[SEVMIG_PACKET_HDR_SIZE])
{
	uint8_t aad[PKT_AAD_SIZE];
	SEVMIG__TRY(pkt_crypt(p, iv, guest, trans, len));
	sevmig__soft_pkt_aad(aad, channel_ctx, flags, iv, len, len);
	sevmig__put_le32(hdr + PKT_OFF_FLAGS, flags);
	memcpy(hdr + PKT_OFF_IV, iv, IV_SIZE);
	return pkt_mac(p, aad, trans, len, hdr + PKT_OFF_MAC);
}

int sevmig__soft_pkt_verify(struct sevmig__soft_pkt *p, uint8_t channel_ctx,
			    const uint8_t hdr[SEVMIG_PACKET_HDR_SIZE], const void *trans,
			    uint32_t len)
{
	uint8_t aad[PKT_AAD_SIZE], mac[MAC_SIZE];
	sevmig__soft_pkt_aad(aad, channel_ctx, sevmig__le32(hdr + PKT_OFF_FLAGS), hdr + PKT_OFF_IV,
			     len, len);
	SEVMIG__TRY(pkt_mac(p, aad, trans, len, mac));
	return CRYPTO_memcmp(mac, hdr + PKT_OFF_MAC, MAC_SIZE) ? 1 : 0;
}

int sevmig__soft_pkt_decrypt(struct sevmig__soft_pkt *p, const uint8_t hdr[SEVMIG_PACKET_HDR_SIZE],
			     const void *trans, void *guest, uint32_t len)
{
	return pkt_crypt(p, hdr + PKT_OFF_IV, trans, guest, len);
}
