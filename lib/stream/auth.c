/* SPDX-License-Identifier: MIT */
/*
 * Keyed integrity (docs/stream-format.md §3): the key schedule and the
 * GMAC tags of records and back-channel messages. AES-256-GCM with an empty
 * plaintext is GMAC; with AES-NI and carry-less multiply it authenticates
 * several bytes per cycle, so a tag over every shared page costs a small
 * fraction of the firmware's own cryptography. Nonces are never reused
 * under a key: each key belongs to one header (fresh sender nonce), one
 * direction, and the nonce is that direction's sequence number.
 */
#include "stream/stream_internal.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>

#include "util/endian.h"

#define SALT "sevmig stream 2.0"

static int hkdf(const uint8_t secret[32], const char *label, const uint8_t hash[32],
		uint8_t out[32])
{
	uint8_t info[64];
	size_t ll = strlen(label);
	memcpy(info, label, ll);
	memcpy(info + ll, hash, 32);
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *k = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	EVP_KDF_free(kdf);
	if (!k)
		return -ENOMEM;
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, 32),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)SALT,
						  sizeof(SALT) - 1),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, ll + 32),
		OSSL_PARAM_construct_end(),
	};
	int rc = EVP_KDF_derive(k, out, 32, p) == 1 ? 0 : -EIO;
	EVP_KDF_CTX_free(k);
	return rc;
}

int sevmig__auth_init(struct sevmig__auth *a, const uint8_t secret[32], const uint8_t *hdr,
		      size_t hlen)
{
	sevmig__auth_fini(a);
	uint8_t hash[32], key[32];
	unsigned hl = 0;
	if (EVP_Digest(hdr, hlen, hash, &hl, EVP_sha256(), NULL) != 1)
		return -EIO;
	static const char *const labels[2] = { "sevmig s2t ", "sevmig t2s " };
	int rc = 0;
	for (int d = 0; d < 2 && rc == 0; d++) {
		rc = hkdf(secret, labels[d], hash, key);
		if (rc == 0) {
			a->ctx[d] = EVP_CIPHER_CTX_new();
			if (!a->ctx[d] ||
			    EVP_EncryptInit_ex(a->ctx[d], EVP_aes_256_gcm(), NULL, key, NULL) != 1)
				rc = -ENOMEM;
		}
	}
	OPENSSL_cleanse(key, sizeof(key));
	if (rc < 0)
		sevmig__auth_fini(a);
	return rc;
}

void sevmig__auth_fini(struct sevmig__auth *a)
{
	for (int d = 0; d < 2; d++) {
		EVP_CIPHER_CTX_free(a->ctx[d]);
		a->ctx[d] = NULL;
	}
}

/* Start a tag: nonce = le32 direction || le64 sequence. */
static int begin(EVP_CIPHER_CTX *c, int dir, uint64_t seq)
{
	uint8_t iv[12];
	sevmig__put_le32(iv, (uint32_t)dir);
	sevmig__put_le64(iv + 4, seq);
	return EVP_EncryptInit_ex(c, NULL, NULL, NULL, iv) == 1 ? 0 : -EIO;
}

static int aad(EVP_CIPHER_CTX *c, const uint8_t *p, size_t n)
{
	int out = 0;
	return n == 0 || EVP_EncryptUpdate(c, NULL, &out, p, (int)n) == 1 ? 0 : -EIO;
}

static int finish(EVP_CIPHER_CTX *c, uint8_t tag[16])
{
	uint8_t none[16];
	int out = 0;
	if (EVP_EncryptFinal_ex(c, none, &out) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
		return -EIO;
	return 0;
}

int sevmig__auth_record(struct sevmig__auth *a, uint64_t round, const uint8_t hdr[16],
			uint16_t type, const uint8_t *payload, uint32_t len, uint8_t tag[16])
{
	EVP_CIPHER_CTX *c = a->ctx[SM_DIR_S2T];
	if (!c)
		return -EIO;
	/* Everything up to the first packet header, then each packet's header
	 * without its ciphertext: the header's MAC, under the firmware's TIK,
	 * already commits to it, and the target's firmware checks it before it
	 * writes the page. */
	size_t head = len, npkt = 0;
	const uint8_t *first = NULL; /* the first packet */
	if (type == SEVMIG_REC_ENC) {
		npkt = len >= SM_ENC_FIXED ? sevmig__enc_count(payload) : 0;
		if (!npkt || npkt > SEVMIG_STREAM_MAX_BATCH || len != sevmig__enc_len(npkt))
			return -EIO;
		first = sevmig__enc_packet(payload, (uint32_t)npkt, 0);
	} else if (type == SEVMIG_REC_VMSA) {
		if (len != SM_VMSA_LEN)
			return -EIO;
		npkt = 1;
		first = sevmig__vmsa_packet(payload);
	}
	if (first)
		head = (size_t)(first - payload);
	uint8_t ctx[24];
	sevmig__put_le64(ctx, round);
	memcpy(ctx + 8, hdr, 16);
	SEVMIG__TRY(begin(c, SM_DIR_S2T, sevmig__le64(hdr + 8)));
	SEVMIG__TRY(aad(c, ctx, sizeof(ctx)));
	SEVMIG__TRY(aad(c, payload, head));
	/* Packet headers gathered, so GHASH sees whole blocks, not 52-byte
	 * calls. */
	uint8_t buf[64 * SM_PKT_HDR];
	size_t k = 0;
	for (const uint8_t *p = first; npkt--; p += SM_PKT) {
		memcpy(buf + k, p, SM_PKT_HDR);
		k += SM_PKT_HDR;
		if (k == sizeof(buf) || !npkt) {
			SEVMIG__TRY(aad(c, buf, k));
			k = 0;
		}
	}
	return finish(c, tag);
}

int sevmig__auth_back(struct sevmig__auth *a, const uint8_t hdr[16], const uint8_t *payload,
		      uint32_t len, uint8_t tag[16])
{
	EVP_CIPHER_CTX *c = a->ctx[SM_DIR_T2S];
	if (!c)
		return -EIO;
	SEVMIG__TRY(begin(c, SM_DIR_T2S, sevmig__le64(hdr + 8)));
	SEVMIG__TRY(aad(c, hdr, 16));
	SEVMIG__TRY(aad(c, payload, len));
	return finish(c, tag);
}

int sevmig__key_opts(uint32_t source, const uint8_t *key, bool insecure, bool keyless_ok,
		     uint8_t secret[32], struct sevmig_error *err)
{
	memset(secret, 0, 32);
	if (insecure) {
		if (key || source)
			return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
					    "insecure and a key are exclusive");
		return 0;
	}
	if (!key) {
		if (keyless_ok && !source)
			return 0;
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "a shared key is required for keyed integrity (a PSK or the "
				    "TLS exporter), or the explicit insecure option");
	}
	if (source != SEVMIG_KEY_PSK && source != SEVMIG_KEY_TLS)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "key_source %u: must be SEVMIG_KEY_PSK or SEVMIG_KEY_TLS",
				    source);
	memcpy(secret, key, 32);
	return 0;
}
