/* SPDX-License-Identifier: MIT */
/* P-384 keys and SEV certificates for the software firmware (soft_cert.h). */
#include "fw/soft/soft_cert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "util/endian.h"
#include "util/error.h"

#define P384_GROUP "secp384r1"

/* ---- keys ------------------------------------------------------------------- */

int sevmig__soft_key_generate(EVP_PKEY **out)
{
	*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	return *out ? 0 : -EIO;
}

/* Never ask a terminal for a passphrase: an encrypted key is refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static bool is_p384(EVP_PKEY *key)
{
	char group[32];
	size_t n = 0;
	return EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_group_name(key, group, sizeof(group), &n) &&
	       strcmp(group, P384_GROUP) == 0;
}

int sevmig__soft_key_from_pem(const void *pem, size_t len, EVP_PKEY **out, char *msg,
			      size_t msg_size)
{
	*out = NULL;
	if (len > INT32_MAX) {
		sevmig__msg(msg, msg_size, "the PEM text is too long");
		return -EBADMSG;
	}
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return -ENOMEM;
	EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!key) {
		sevmig__msg(
		    msg, msg_size,
		    "no unencrypted private key in PEM form (\"-----BEGIN PRIVATE KEY-----\")");
		return -EBADMSG;
	}
	BIGNUM *priv = NULL;
	int rc = 0;
	if (!is_p384(key)) {
		sevmig__msg(msg, msg_size, "the key is not an elliptic-curve key on P-384");
		rc = -EBADMSG;
	} else if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &priv)) {
		sevmig__msg(msg, msg_size, "the key has no private part");
		rc = -EBADMSG;
	} else {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
		if (!c) {
			rc = -ENOMEM;
		} else if (EVP_PKEY_check(c) != 1) {
			sevmig__msg(msg, msg_size, "the key fails OpenSSL's consistency check");
			rc = -EBADMSG;
		}
		EVP_PKEY_CTX_free(c);
	}
	BN_clear_free(priv);
	if (rc) {
		EVP_PKEY_free(key);
		return rc;
	}
	*out = key;
	return 0;
}

int sevmig__soft_key_load(const char *path, EVP_PKEY **out, char *msg, size_t msg_size)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		sevmig__msg(msg, msg_size, "%s: %s", path, strerror(e));
		return -e;
	}
	/* A key file is small; a larger one is not a key. */
	char buf[16384];
	size_t n = fread(buf, 1, sizeof(buf), f);
	int err = ferror(f) ? (errno ? errno : EIO) : 0;
	bool big = !feof(f);
	fclose(f);
	int rc;
	if (err) {
		sevmig__msg(msg, msg_size, "%s: %s", path, strerror(err));
		rc = -err;
	} else if (big) {
		sevmig__msg(msg, msg_size, "%s: larger than any PEM private key", path);
		rc = -EBADMSG;
	} else {
		char why[160];
		rc = sevmig__soft_key_from_pem(buf, n, out, why, sizeof(why));
		if (rc)
			sevmig__msg(msg, msg_size, "%s: %s", path, why);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

void sevmig__soft_secret_free(void *p, size_t len)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

int sevmig__soft_key_to_pem(EVP_PKEY *key, char **pem, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio)
		return -ENOMEM;
	int rc = -EIO;
	char *data = NULL;
	long n = 0;
	if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) &&
	    (n = BIO_get_mem_data(bio, &data)) > 0) {
		*pem = malloc((size_t)n + 1);
		if (*pem) {
			memcpy(*pem, data, (size_t)n);
			(*pem)[n] = '\0';
			*len = (size_t)n;
			rc = 0;
		} else {
			rc = -ENOMEM;
		}
	}
	if (data && n > 0)
		OPENSSL_cleanse(data, (size_t)n);
	BIO_free(bio);
	return rc;
}

int sevmig__soft_ecdh(EVP_PKEY *own, EVP_PKEY *peer, uint8_t z[P384_BYTES])
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL);
	if (!c)
		return -ENOMEM;
	size_t n = P384_BYTES;
	int rc = EVP_PKEY_derive_init(c) > 0 && EVP_PKEY_derive_set_peer(c, peer) > 0 &&
			 EVP_PKEY_derive(c, z, &n) > 0 && n == P384_BYTES
		     ? 0
		     : -EIO;
	EVP_PKEY_CTX_free(c);
	return rc;
}

int sevmig__soft_key_point_le(EVP_PKEY *key, uint8_t qx[CERT_EC_COMPONENT],
			      uint8_t qy[CERT_EC_COMPONENT])
{
	BIGNUM *x = NULL, *y = NULL;
	int rc = -EIO;
	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) &&
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) &&
	    BN_bn2lebinpad(x, qx, CERT_EC_COMPONENT) == CERT_EC_COMPONENT &&
	    BN_bn2lebinpad(y, qy, CERT_EC_COMPONENT) == CERT_EC_COMPONENT)
		rc = 0;
	BN_free(x);
	BN_free(y);
	return rc;
}

/* A public P-384 key from little-endian coordinates (48 significant bytes
 * each): NULL if the point is not a valid point of the curve. */
static EVP_PKEY *key_from_point_le(const uint8_t *qx, const uint8_t *qy)
{
	uint8_t pt[1 + 2 * P384_BYTES];
	pt[0] = 0x04; /* uncompressed */
	for (unsigned i = 0; i < P384_BYTES; i++) {
		pt[1 + i] = qx[P384_BYTES - 1 - i];
		pt[1 + P384_BYTES + i] = qy[P384_BYTES - 1 - i];
	}
	EVP_PKEY *key = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!bld || !c ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, P384_GROUP, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt)) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)) || EVP_PKEY_fromdata_init(c) <= 0 ||
	    EVP_PKEY_fromdata(c, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		key = NULL;
	EVP_PKEY_CTX_free(c);
	c = key ? EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL) : NULL;
	if (key && (!c || EVP_PKEY_public_check(c) != 1)) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	EVP_PKEY_CTX_free(c);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return key;
}

/* ---- certificates ----------------------------------------------------------- */

static const char *usage_name(uint32_t usage)
{
	switch (usage) {
	case USAGE_ARK:
		return "ARK";
	case USAGE_ASK:
		return "ASK";
	case USAGE_INVALID:
		return "INVALID";
	case USAGE_OCA:
		return "OCA";
	case USAGE_PEK:
		return "PEK";
	case USAGE_PDH:
		return "PDH";
	case USAGE_CEK:
		return "CEK";
	}
	return NULL;
}

static bool algo_known(uint32_t algo)
{
	switch (algo) {
	case ALGO_INVALID:
	case ALGO_RSA_SHA256:
	case ALGO_ECDSA_SHA256:
	case ALGO_ECDH_SHA256:
	case ALGO_RSA_SHA384:
	case ALGO_ECDSA_SHA384:
	case ALGO_ECDH_SHA384:
		return true;
	}
	return false;
}

static const EVP_MD *ecdsa_digest(uint32_t algo)
{
	if (algo == ALGO_ECDSA_SHA256)
		return EVP_sha256();
	if (algo == ALGO_ECDSA_SHA384)
		return EVP_sha384();
	return NULL;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* Sign the body of cert into the signature slot at `slot`. */
static int cert_sign(uint8_t *cert, size_t slot, const struct sevmig__soft_signer *s)
{
	const EVP_MD *md = ecdsa_digest(SOFT_SIG_ALGO);
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	uint8_t der[160];
	size_t der_len = sizeof(der);
	ECDSA_SIG *sig = NULL;
	int rc = -EIO;
	if (!mc)
		return -ENOMEM;
	if (EVP_DigestSignInit(mc, NULL, md, NULL, s->key) > 0 &&
	    EVP_DigestSign(mc, der, &der_len, cert, CERT_BODY_SIZE) > 0) {
		const uint8_t *p = der;
		sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	}
	if (sig) {
		uint8_t *out = cert + slot + 8;
		sevmig__put_le32(cert + slot, s->usage);
		sevmig__put_le32(cert + slot + 4, SOFT_SIG_ALGO);
		if (BN_bn2lebinpad(ECDSA_SIG_get0_r(sig), out + CERT_SIG_R, CERT_EC_COMPONENT) ==
			CERT_EC_COMPONENT &&
		    BN_bn2lebinpad(ECDSA_SIG_get0_s(sig), out + CERT_SIG_S, CERT_EC_COMPONENT) ==
			CERT_EC_COMPONENT)
			rc = 0;
	}
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(mc);
	return rc;
}

int sevmig__soft_cert_make(uint8_t cert[SEVMIG_CERT_SIZE], EVP_PKEY *subject, uint32_t usage,
			   uint32_t algo, const struct sevmig__soft_signer *sig1,
			   const struct sevmig__soft_signer *sig2)
{
	memset(cert, 0, SEVMIG_CERT_SIZE);
	sevmig__put_le32(cert + CERT_OFF_VERSION, CERT_VERSION);
	cert[CERT_OFF_API_MAJOR] = SOFT_API_MAJOR;
	cert[CERT_OFF_API_MINOR] = SOFT_API_MINOR;
	sevmig__put_le32(cert + CERT_OFF_PUB_USAGE, usage);
	sevmig__put_le32(cert + CERT_OFF_PUB_ALGO, algo);
	uint8_t *pub = cert + CERT_OFF_PUBKEY;
	sevmig__put_le32(pub + CERT_EC_CURVE, CERT_CURVE_P384);
	SEVMIG__TRY(sevmig__soft_key_point_le(subject, pub + CERT_EC_QX, pub + CERT_EC_QY));
	/* An unused slot: usage INVALID, algorithm INVALID, no signature. */
	sevmig__put_le32(cert + CERT_OFF_SIG1, USAGE_INVALID);
	sevmig__put_le32(cert + CERT_OFF_SIG2, USAGE_INVALID);
	SEVMIG__TRY(cert_sign(cert, CERT_OFF_SIG1, sig1));
	if (sig2)
		SEVMIG__TRY(cert_sign(cert, CERT_OFF_SIG2, sig2));
	return 0;
}

#define CERT_FAIL(status, ...)                                     \
	do {                                                       \
		char what_[160];                                   \
		sevmig__msg(what_, sizeof(what_), __VA_ARGS__);    \
		sevmig__msg(msg, msg_size, "%s: %s", name, what_); \
		return (status);                                   \
	} while (0)

int sevmig__soft_cert_check(const uint8_t *cert, const char *name, uint32_t usage, EVP_PKEY **pub,
			    char *msg, size_t msg_size)
{
	const uint32_t bad = SEVMIG_FW_INVALID_CERTIFICATE;
	uint32_t v = sevmig__le32(cert + CERT_OFF_VERSION);
	if (v != CERT_VERSION)
		CERT_FAIL(bad, "VERSION (offset 0x0) is %u, expected %u", v, CERT_VERSION);
	if (!all_zero(cert + CERT_OFF_RESERVED, 2))
		CERT_FAIL(bad, "reserved bytes at offset 0x%x are not zero", CERT_OFF_RESERVED);
	v = sevmig__le32(cert + CERT_OFF_PUB_USAGE);
	if (v != usage) {
		const char *n = usage_name(v);
		CERT_FAIL(bad, "PUBKEY_USAGE (offset 0x%x) is 0x%x (%s), expected 0x%x (%s)",
			  CERT_OFF_PUB_USAGE, v, n ? n : "unknown", usage, usage_name(usage));
	}
	uint32_t algo = sevmig__le32(cert + CERT_OFF_PUB_ALGO);
	bool algo_ok = usage == USAGE_PDH ? algo == SOFT_PDH_ALGO : ecdsa_digest(algo) != NULL;
	if (!algo_ok)
		CERT_FAIL(bad, "PUBKEY_ALGO (offset 0x%x) is 0x%x, not %s", CERT_OFF_PUB_ALGO, algo,
			  usage == USAGE_PDH ? "ECDH_SHA256 (0x3)" : "an ECDSA algorithm");
	const uint8_t *pk = cert + CERT_OFF_PUBKEY;
	v = sevmig__le32(pk + CERT_EC_CURVE);
	if (v != CERT_CURVE_P384)
		CERT_FAIL(bad, "curve (offset 0x%x) is %u, expected %u (P-384)", CERT_OFF_PUBKEY, v,
			  CERT_CURVE_P384);
	if (!all_zero(pk + CERT_EC_QX + P384_BYTES, CERT_EC_COMPONENT - P384_BYTES) ||
	    !all_zero(pk + CERT_EC_QY + P384_BYTES, CERT_EC_COMPONENT - P384_BYTES))
		CERT_FAIL(bad,
			  "a P-384 coordinate has non-zero bytes past its 48 (offsets 0x%x-0x%x)",
			  CERT_OFF_PUBKEY + CERT_EC_QX, CERT_OFF_PUBKEY + CERT_EC_END - 1);
	if (!all_zero(pk + CERT_EC_END, CERT_PUBKEY_SIZE - CERT_EC_END))
		CERT_FAIL(bad, "the public key area has non-zero bytes past the key (offset 0x%x)",
			  CERT_OFF_PUBKEY + CERT_EC_END);
	for (int i = 0; i < 2; i++) {
		size_t slot = i ? CERT_OFF_SIG2 : CERT_OFF_SIG1;
		uint32_t su = sevmig__le32(cert + slot), sa = sevmig__le32(cert + slot + 4);
		if (!usage_name(su))
			CERT_FAIL(bad, "SIG%d_USAGE (offset 0x%zx) is 0x%x, not a known usage",
				  i + 1, slot, su);
		if (!algo_known(sa))
			CERT_FAIL(bad, "SIG%d_ALGO (offset 0x%zx) is 0x%x, not a known algorithm",
				  i + 1, slot + 4, sa);
		if (su == USAGE_INVALID && sa != ALGO_INVALID)
			CERT_FAIL(SEVMIG_FW_BAD_SIGNATURE,
				  "SIG%d has algorithm 0x%x but usage INVALID (offset 0x%zx)",
				  i + 1, sa, slot);
	}
	EVP_PKEY *key = key_from_point_le(pk + CERT_EC_QX, pk + CERT_EC_QY);
	if (!key)
		CERT_FAIL(bad, "the public key (offset 0x%x) is not a point on P-384",
			  CERT_OFF_PUBKEY + CERT_EC_QX);
	if (pub)
		*pub = key;
	else
		EVP_PKEY_free(key);
	return 0;
}

int sevmig__soft_cert_verify(const uint8_t *cert, const char *name, EVP_PKEY *signer,
			     const uint8_t *signer_cert, uint32_t signer_usage, char *msg,
			     size_t msg_size)
{
	size_t slot = 0;
	for (int i = 0; i < 2 && !slot; i++) {
		size_t s = i ? CERT_OFF_SIG2 : CERT_OFF_SIG1;
		if (sevmig__le32(cert + s) == signer_usage)
			slot = s;
	}
	if (!slot)
		CERT_FAIL(SEVMIG_FW_BAD_SIGNATURE, "no signature by the %s",
			  usage_name(signer_usage));
	uint32_t algo = sevmig__le32(cert + slot + 4);
	const EVP_MD *md = ecdsa_digest(algo);
	if (!md)
		CERT_FAIL(SEVMIG_FW_BAD_SIGNATURE,
			  "the %s signature (offset 0x%zx) has algorithm 0x%x, not ECDSA",
			  usage_name(signer_usage), slot, algo);
	/* The firmware takes a signature only in its signer's own algorithm
	 * (the signer certificate's PUBKEY_ALGO): no choosing another hash. */
	uint32_t key_algo = sevmig__le32(signer_cert + CERT_OFF_PUB_ALGO);
	if (algo != key_algo)
		CERT_FAIL(SEVMIG_FW_BAD_SIGNATURE,
			  "the %s signature (offset 0x%zx) has algorithm 0x%x, but the %s key's "
			  "algorithm is 0x%x",
			  usage_name(signer_usage), slot, algo, usage_name(signer_usage), key_algo);
	const uint8_t *sg = cert + slot + 8;
	BIGNUM *r = BN_lebin2bn(sg + CERT_SIG_R, CERT_EC_COMPONENT, NULL);
	BIGNUM *s = BN_lebin2bn(sg + CERT_SIG_S, CERT_EC_COMPONENT, NULL);
	ECDSA_SIG *sig = ECDSA_SIG_new();
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	unsigned char *der = NULL;
	int der_len = -1, ok = -1;
	if (r && s && sig && mc && ECDSA_SIG_set0(sig, r, s)) {
		r = s = NULL; /* owned by sig now */
		der_len = i2d_ECDSA_SIG(sig, &der);
	}
	if (der_len > 0 && EVP_DigestVerifyInit(mc, NULL, md, NULL, signer) > 0)
		ok = EVP_DigestVerify(mc, der, (size_t)der_len, cert, CERT_BODY_SIZE);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(mc);
	OPENSSL_free(der);
	if (der_len <= 0)
		return -ENOMEM;
	if (ok != 1)
		CERT_FAIL(SEVMIG_FW_BAD_SIGNATURE,
			  "the %s signature (offset 0x%zx) does not verify",
			  usage_name(signer_usage), slot);
	return 0;
}
