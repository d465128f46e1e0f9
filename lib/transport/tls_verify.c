/* SPDX-License-Identifier: MIT */
/*
 * Checking the peer's certificate: the CA chain with its dates and the
 * peer's name (OpenSSL's X509_verify_cert() with the SSL's parameters), the
 * pin, or both. It replaces OpenSSL's whole verification step
 * (SSL_CTX_set_cert_verify_callback) rather than overriding per-depth
 * results, so that "pin only" cannot accidentally accept a certificate
 * that failed for another reason than its missing issuer.
 */
#include "transport/tls_internal.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

bool sevmig__tls_name_is_ip(const char *name)
{
	unsigned char a[16];
	return inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
}

/* DNS or IP subjectAltName only: a name in the subject's CN is not enough. */
#define HOST_FLAGS (X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT)

int sevmig__tls_set_peer_name(struct sevmig_tls *t, const char *name, struct sevmig_error *err)
{
	X509_VERIFY_PARAM *param = SSL_get0_param(t->ssl);
	X509_VERIFY_PARAM_set_hostflags(param, HOST_FLAGS);
	int ok;
	if (sevmig__tls_name_is_ip(name)) {
		ok = X509_VERIFY_PARAM_set1_ip_asc(param, name);
	} else {
		ok = X509_VERIFY_PARAM_set1_host(param, name, 0);
		/* SNI carries DNS names only (RFC 6066 §3). */
		if (ok == 1 && !t->server)
			ok = SSL_set_tlsext_host_name(t->ssl, name);
	}
	if (ok != 1)
		return sevmig__tls_fail(t, err, -EINVAL,
					"TLS options: peer_name \"%s\" is unusable (%s)", name,
					sevmig__tls_ossl_reason());
	return 0;
}

static int refuse(struct sevmig_tls *t, X509_STORE_CTX *sctx, int verr, const char *fmt, ...)
    SEVMIG__PRINTF(4, 5);
static int refuse(struct sevmig_tls *t, X509_STORE_CTX *sctx, int verr, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->refusal, sizeof(t->refusal), fmt, ap);
	va_end(ap);
	/* The error decides the alert the peer gets. */
	X509_STORE_CTX_set_error(sctx, verr);
	return 0;
}

static bool name_mismatch(int verr)
{
	return verr == X509_V_ERR_HOSTNAME_MISMATCH || verr == X509_V_ERR_IP_ADDRESS_MISMATCH;
}

int sevmig__tls_verify_cb(X509_STORE_CTX *sctx, void *arg)
{
	struct sevmig_tls *t = arg;
	const struct sevmig__tls_cfg *cfg = t->cfg;
	X509 *leaf = X509_STORE_CTX_get0_cert(sctx);
	if (!cfg) /* post-handshake authentication: never asked for */
		return refuse(t, sctx, X509_V_ERR_APPLICATION_VERIFICATION,
			      "unexpected certificate after the handshake");
	if (!leaf)
		return refuse(t, sctx, X509_V_ERR_UNSPECIFIED, "peer sent no certificate");

	if (cfg->ca_file || cfg->ca_dir) {
		if (X509_verify_cert(sctx) != 1) {
			int verr = X509_STORE_CTX_get_error(sctx);
			if (name_mismatch(verr))
				return refuse(t, sctx, verr, "peer name mismatch (wanted %s)",
					      cfg->peer_name);
			return refuse(t, sctx, verr, "peer certificate verify failed: %s",
				      X509_verify_cert_error_string(verr));
		}
	}
	if (cfg->pin) {
		uint8_t md[32];
		unsigned n = 0;
		if (X509_digest(leaf, EVP_sha256(), md, &n) != 1 || n != sizeof(md))
			return refuse(t, sctx, X509_V_ERR_UNSPECIFIED,
				      "cannot hash the peer certificate");
		if (CRYPTO_memcmp(md, cfg->pin, sizeof(md)) != 0) {
			char hex[2 * sizeof(md) + 1];
			for (size_t i = 0; i < sizeof(md); i++)
				snprintf(hex + 2 * i, 3, "%02X", md[i]);
			return refuse(t, sctx, X509_V_ERR_CERT_REJECTED,
				      "peer certificate does not match the pin (its SHA-256 is %s)",
				      hex);
		}
		/* Without a CA, X509_verify_cert() did not run: check the
		 * name here. */
		if (!cfg->ca_file && !cfg->ca_dir && cfg->peer_name) {
			bool ip = sevmig__tls_name_is_ip(cfg->peer_name);
			int ok = ip ? X509_check_ip_asc(leaf, cfg->peer_name, 0)
				    : X509_check_host(leaf, cfg->peer_name, 0, HOST_FLAGS, NULL);
			if (ok != 1)
				return refuse(t, sctx,
					      ip ? X509_V_ERR_IP_ADDRESS_MISMATCH
						 : X509_V_ERR_HOSTNAME_MISMATCH,
					      "peer name mismatch (wanted %s)", cfg->peer_name);
		}
		X509_STORE_CTX_set_error(sctx, X509_V_OK);
	}
	return 1;
}
