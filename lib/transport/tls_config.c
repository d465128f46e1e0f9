/* SPDX-License-Identifier: MIT */
/* From struct sevmig_tls_opts to the handle's SSL_CTX: which trust model,
 * our certificate and key, the peer's trust anchors, the PSK. */
#include "transport/tls_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

SEVMIG__OPTS_LAST(struct sevmig_tls_opts, cancel_fd);

/* The SHA-256 TLS 1.3 suites: an external PSK is bound to one hash, so the
 * handshake must pick a suite with it (the PSK sessions say AES-128-GCM). */
#define PSK_SUITES "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"

static int timeout_opt(int v, int dflt, const char *name, struct sevmig_error *err)
{
	if (v == 0)
		return dflt;
	if (v < -1)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "TLS options: %s must be > 0, 0 (default) or -1 (none), not %d",
				    name, v);
	return v;
}

int sevmig__tls_cfg_from_opts(const struct sevmig_tls_opts *o, struct sevmig__tls_cfg *cfg,
			      struct sevmig_error *err)
{
	memset(cfg, 0, sizeof(*cfg));
	if (!o)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "TLS options: none given (need a certificate or a PSK)");
	if (!SEVMIG__OPTS_VALID(o, struct sevmig_tls_opts, cancel_fd))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "TLS options: bad sz, or unknown fields set past it");
	cfg->cert_file = SEVMIG__OPT(o, cert_file, (const char *)NULL);
	cfg->key_file = SEVMIG__OPT(o, key_file, (const char *)NULL);
	cfg->ca_file = SEVMIG__OPT(o, ca_file, (const char *)NULL);
	cfg->ca_dir = SEVMIG__OPT(o, ca_dir, (const char *)NULL);
	cfg->peer_name = SEVMIG__OPT(o, peer_name, (const char *)NULL);
	cfg->pin = SEVMIG__OPT(o, pin_sha256, (const uint8_t *)NULL);
	cfg->psk = SEVMIG__OPT(o, psk, (const uint8_t *)NULL);
	cfg->psk_len = SEVMIG__OPT(o, psk_len, (size_t)0);
	cfg->psk_identity = SEVMIG__OPT(o, psk_identity, (const char *)NULL);
	int hs = SEVMIG__OPT(o, handshake_timeout_ms, 0);
	int io = SEVMIG__OPT(o, io_timeout_ms, 0);
	/* -1 ("no limit") is a value here, not an error: only less is. */
	if (hs < -1 || io < -1)
		return timeout_opt(hs < -1 ? hs : io, 0,
				   hs < -1 ? "handshake_timeout_ms" : "io_timeout_ms", err);
	cfg->hs_timeout_ms =
	    timeout_opt(hs, SEVMIG__TLS_HS_TIMEOUT_MS, "handshake_timeout_ms", err);
	cfg->io_timeout_ms = timeout_opt(io, SEVMIG__TLS_IO_TIMEOUT_MS, "io_timeout_ms", err);
	const int *cancel = SEVMIG__OPT(o, cancel_fd, (const int *)NULL);
	cfg->cancel_fd = cancel ? *cancel : -1;
	if (cancel && *cancel < 0)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "TLS options: cancel_fd %d is not a descriptor", *cancel);

	bool certs = cfg->cert_file || cfg->key_file || cfg->ca_file || cfg->ca_dir || cfg->pin;
	bool psk = cfg->psk || cfg->psk_len || cfg->psk_identity;
	if (certs && psk)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "TLS options: give certificates or a PSK, not both");
	if (!certs && !psk)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "TLS options: neither a certificate (cert_file, key_file) "
				    "nor a PSK (psk, psk_identity) given");
	if (psk) {
		if (!cfg->psk || cfg->psk_len < SEVMIG_TLS_PSK_MIN_LEN ||
		    cfg->psk_len > SEVMIG_TLS_PSK_MAX_LEN)
			return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
					    "TLS options: the PSK must be %u to %u bytes, not %zu",
					    SEVMIG_TLS_PSK_MIN_LEN, SEVMIG_TLS_PSK_MAX_LEN,
					    cfg->psk ? cfg->psk_len : 0);
		size_t idlen = cfg->psk_identity ? strlen(cfg->psk_identity) : 0;
		if (idlen < 1 || idlen > 255)
			return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
					    "TLS options: psk_identity must be 1 to 255 bytes");
		if (cfg->peer_name)
			return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
					    "TLS options: peer_name needs certificates; with a "
					    "PSK the key is the peer's identity");
		return 0;
	}
	if (!cfg->cert_file || !cfg->key_file)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "TLS options: %s given without %s (mutual authentication "
				    "needs our certificate and its key)",
				    cfg->cert_file ? "cert_file" : "key_file",
				    cfg->cert_file ? "key_file" : "cert_file");
	if (!cfg->ca_file && !cfg->ca_dir && !cfg->pin)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "TLS options: nothing to check the peer's certificate with "
				    "(give ca_file, ca_dir or pin_sha256)");
	if (cfg->peer_name && !*cfg->peer_name)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "TLS options: peer_name is empty");
	return 0;
}

/* A file we are about to hand OpenSSL: a readable regular file, so that the
 * message can name it with the system's reason rather than OpenSSL's. */
static int check_file(const char *what, const char *path, struct sevmig_error *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "TLS options: %s %s: %s",
				    what, path, strerror(errno));
	fclose(f);
	return 0;
}

/* Never prompt on a terminal for a key's passphrase: a library has none. */
static int no_password(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return -1;
}

static int load_identity(SSL_CTX *ctx, const struct sevmig__tls_cfg *cfg, struct sevmig_error *err)
{
	SEVMIG__TRY(check_file("cert_file", cfg->cert_file, err));
	SEVMIG__TRY(check_file("key_file", cfg->key_file, err));
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "TLS options: cert_file %s: no usable PEM certificate (%s)",
				    cfg->cert_file, sevmig__tls_ossl_reason());
	SSL_CTX_set_default_passwd_cb(ctx, no_password);
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
		unsigned long e = ERR_peek_error();
		if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
		    ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			return sevmig__fail(
			    err, -EINVAL, SEVMIG_NO_OFFSET, 0,
			    "TLS options: key_file %s is not the key of cert_file %s",
			    cfg->key_file, cfg->cert_file);
		}
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "TLS options: key_file %s: no usable unencrypted PEM private "
				    "key (%s)",
				    cfg->key_file, sevmig__tls_ossl_reason());
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "TLS options: key_file %s is not the key of cert_file %s",
				    cfg->key_file, cfg->cert_file);
	return 0;
}

static int load_trust(SSL_CTX *ctx, const struct sevmig__tls_cfg *cfg, struct sevmig_error *err)
{
	if (cfg->ca_file) {
		SEVMIG__TRY(check_file("ca_file", cfg->ca_file, err));
		if (SSL_CTX_load_verify_file(ctx, cfg->ca_file) != 1)
			return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
					    "TLS options: ca_file %s: no usable PEM certificate "
					    "(%s)",
					    cfg->ca_file, sevmig__tls_ossl_reason());
	}
	if (cfg->ca_dir) {
		/* OpenSSL reads a CA directory lazily, so check it now. */
		struct stat st;
		if (stat(cfg->ca_dir, &st) != 0)
			return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
					    "TLS options: ca_dir %s: %s", cfg->ca_dir,
					    strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
					    "TLS options: ca_dir %s is not a directory",
					    cfg->ca_dir);
		if (SSL_CTX_load_verify_dir(ctx, cfg->ca_dir) != 1)
			return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
					    "TLS options: ca_dir %s: %s", cfg->ca_dir,
					    sevmig__tls_ossl_reason());
	}
	return 0;
}

static int ctx_setup(struct sevmig_tls *t, SSL_CTX *ctx, const struct sevmig__tls_cfg *cfg,
		     struct sevmig_error *err)
{
	/* TLS 1.3 only: its handshake encrypts the certificates, always has
	 * forward secrecy, and defines the exporter the stream keys come from
	 * (RFC 8446 §7.5); there is no old peer to stay compatible with. */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
		return sevmig__fail(err, -EPROTO, SEVMIG_NO_OFFSET, 0,
				    "TLS: this OpenSSL cannot be limited to TLS 1.3 (%s)",
				    sevmig__tls_ossl_reason());
	/* One full handshake per connection: no tickets, no session cache, so
	 * that every connection is authenticated as configured and exports
	 * its own secret. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (t->server)
		SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	/* Plain (EC)DHE-less PSK would lose forward secrecy: psk_dhe_ke only. */
	SSL_CTX_clear_options(ctx, SSL_OP_ALLOW_NO_DHE_KEX);
	/* Writes continue where a short send() stopped, from the same
	 * (advanced) pointer. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Send the chain cert_file holds, nothing more: OpenSSL would
	 * otherwise complete it from the anchors we trust for the peer,
	 * which are not ours to present. */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);

	if (cfg->psk) {
		if (SSL_CTX_set_ciphersuites(ctx, PSK_SUITES) != 1)
			return sevmig__fail(err, -EPROTO, SEVMIG_NO_OFFSET, 0,
					    "TLS: cannot select the PSK cipher suites (%s)",
					    sevmig__tls_ossl_reason());
		if (t->server)
			SSL_CTX_set_psk_find_session_callback(ctx, sevmig__tls_psk_find_cb);
		else
			SSL_CTX_set_psk_use_session_callback(ctx, sevmig__tls_psk_use_cb);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	SEVMIG__TRY(load_identity(ctx, cfg, err));
	SEVMIG__TRY(load_trust(ctx, cfg, err));
	/* Mutual: a server demands the client's certificate as well. */
	int mode = SSL_VERIFY_PEER;
	if (t->server)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, sevmig__tls_verify_cb, t);
	return 0;
}

int sevmig__tls_ctx_new(struct sevmig_tls *t, const struct sevmig__tls_cfg *cfg,
			struct sevmig_error *err)
{
	SSL_CTX *ctx = SSL_CTX_new(t->server ? TLS_server_method() : TLS_client_method());
	if (!ctx)
		return sevmig__fail(err, -ENOMEM, SEVMIG_NO_OFFSET, 0,
				    "TLS: cannot create an OpenSSL context (%s)",
				    sevmig__tls_ossl_reason());
	t->ctx = ctx;
	int rc = ctx_setup(t, ctx, cfg, err);
	ERR_clear_error();
	return rc;
}
