/* SPDX-License-Identifier: MIT */
/*
 * External PSK (RFC 8446 §2.2): OpenSSL carries a TLS 1.3 PSK as a session
 * whose "master key" is the PSK and whose cipher fixes the PSK's hash. The
 * session is made afresh for each call (OpenSSL takes ownership and
 * cleanses the key when it frees it); the PSK itself stays in the caller's
 * memory, which the handshake only reads.
 */
#include "transport/tls_internal.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

/* TLS_AES_128_GCM_SHA256: the PSK's hash is SHA-256. */
static const unsigned char psk_suite[2] = { 0x13, 0x01 };

static SSL_SESSION *psk_session(SSL *ssl, const struct sevmig__tls_cfg *cfg)
{
	const SSL_CIPHER *c = SSL_CIPHER_find(ssl, psk_suite);
	SSL_SESSION *s = c ? SSL_SESSION_new() : NULL;
	if (!s || SSL_SESSION_set1_master_key(s, cfg->psk, cfg->psk_len) != 1 ||
	    SSL_SESSION_set_cipher(s, c) != 1 ||
	    SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION) != 1) {
		SSL_SESSION_free(s);
		return NULL;
	}
	return s;
}

int sevmig__tls_psk_use_cb(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
			   SSL_SESSION **sess)
{
	struct sevmig_tls *t = SSL_get_app_data(ssl);
	*sess = NULL;
	if (!t || !t->cfg || !t->cfg->psk)
		return 0;
	/* After a HelloRetryRequest OpenSSL asks again with the hash of the
	 * suite the server chose; a PSK for another hash cannot be offered. */
	if (md && !EVP_MD_is_a(md, "SHA256")) {
		snprintf(t->refusal, sizeof(t->refusal),
			 "peer chose a cipher suite whose hash is not the PSK's (SHA-256)");
		return 1;
	}
	SSL_SESSION *s = psk_session(ssl, t->cfg);
	if (!s)
		return 0;
	*id = (const unsigned char *)t->cfg->psk_identity;
	*idlen = strlen(t->cfg->psk_identity);
	*sess = s;
	return 1;
}

int sevmig__tls_psk_find_cb(SSL *ssl, const unsigned char *id, size_t idlen, SSL_SESSION **sess)
{
	struct sevmig_tls *t = SSL_get_app_data(ssl);
	*sess = NULL;
	if (!t || !t->cfg || !t->cfg->psk)
		return 0;
	const char *ours = t->cfg->psk_identity;
	if (idlen != strlen(ours) || memcmp(id, ours, idlen) != 0) {
		/* Not ours: go on without a PSK, which then fails for want of
		 * any authentication; remember why. The peer's identity is
		 * not quoted: it is untrusted bytes. */
		snprintf(t->refusal, sizeof(t->refusal),
			 "peer offered a PSK identity other than ours (\"%s\")", ours);
		return 1;
	}
	SSL_SESSION *s = psk_session(ssl, t->cfg);
	if (!s)
		return 0;
	t->refusal[0] = '\0';
	*sess = s;
	return 1;
}
