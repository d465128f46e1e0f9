/* SPDX-License-Identifier: MIT */
/*
 * P-384 keys and SEV certificates for the software firmware: the platform's
 * keys (generate, PEM in and out, ECDH) and the 0x824-byte certificate
 * layout (build and sign, check every field, verify a signature).
 *
 * The certificate functions return 0, a positive SEV firmware status with a
 * message in msg (which never holds key material), or a negative errno.
 */
#ifndef SEVMIG_FW_SOFT_CERT_H
#define SEVMIG_FW_SOFT_CERT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "fw/soft/soft_spec.h"

int sevmig__soft_key_generate(EVP_PKEY **out);
/* A P-384 private key from PEM text: 0, -EBADMSG (msg says why), -ENOMEM. */
int sevmig__soft_key_from_pem(const void *pem, size_t len, EVP_PKEY **out, char *msg,
			      size_t msg_size);
/* The same from a file: also -errno of opening or reading it. */
int sevmig__soft_key_load(const char *path, EVP_PKEY **out, char *msg, size_t msg_size);
/* The private key as PKCS#8 PEM in a malloc'd buffer (*len bytes, then a
 * NUL); release it with sevmig__soft_secret_free(). */
int sevmig__soft_key_to_pem(EVP_PKEY *key, char **pem, size_t *len);
/* Wipe, then free. */
void sevmig__soft_secret_free(void *p, size_t len);
/* Z: the 48-byte big-endian X coordinate of own * peer. */
int sevmig__soft_ecdh(EVP_PKEY *own, EVP_PKEY *peer, uint8_t z[P384_BYTES]);
/* The public point, each coordinate little-endian zero-padded to 72
 * bytes, as a certificate holds it. */
int sevmig__soft_key_point_le(EVP_PKEY *key, uint8_t qx[CERT_EC_COMPONENT],
			      uint8_t qy[CERT_EC_COMPONENT]);

struct sevmig__soft_signer {
	EVP_PKEY *key;	/* private */
	uint32_t usage; /* the signer's usage (USAGE_OCA, ...) */
};
/* A certificate for subject's public key (P-384), signed by sig1 and, if
 * not NULL, sig2 (the other slot says INVALID). */
int sevmig__soft_cert_make(uint8_t cert[SEVMIG_CERT_SIZE], EVP_PKEY *subject, uint32_t usage,
			   uint32_t algo, const struct sevmig__soft_signer *sig1,
			   const struct sevmig__soft_signer *sig2);

/*
 * Check every field of `cert` (called `name` in messages) as a P-384
 * certificate with key usage `usage`: version, reserved bytes, usage,
 * algorithm (for a PDH exactly SOFT_PDH_ALGO), curve, the padding of the
 * coordinates and of the key area, the point (on the curve), the signature
 * slots' usage/algorithm pairs. INVALID_CERTIFICATE (or BAD_SIGNATURE for a
 * malformed signature slot). On success *pub (if not NULL) is the key.
 */
int sevmig__soft_cert_check(const uint8_t *cert, const char *name, uint32_t usage, EVP_PKEY **pub,
			    char *msg, size_t msg_size);
/* Verify that the slot of `cert` whose usage is signer_usage holds a valid
 * ECDSA signature of the body by `signer` (whose own certificate is
 * signer_cert), in the signer's algorithm: 0 or BAD_SIGNATURE. */
int sevmig__soft_cert_verify(const uint8_t *cert, const char *name, EVP_PKEY *signer,
			     const uint8_t *signer_cert, uint32_t signer_usage, char *msg,
			     size_t msg_size);

#endif
