/* SPDX-License-Identifier: MIT */
/* The TLS transport's handle and the helpers its files share. */
#ifndef SEVMIG_TRANSPORT_TLS_INTERNAL_H
#define SEVMIG_TRANSPORT_TLS_INTERNAL_H

#include <sevmig/transport.h>

#include <openssl/ssl.h>

#include "util/error.h"

#define SEVMIG__TLS_HS_TIMEOUT_MS 30000
#define SEVMIG__TLS_IO_TIMEOUT_MS 60000

/*
 * What the handshake needs from the options, checked. The pointers are the
 * caller's and valid only during sevmig_tls_client() / sevmig_tls_server():
 * secrets are never copied.
 */
struct sevmig__tls_cfg {
	const char *cert_file, *key_file, *ca_file, *ca_dir, *peer_name;
	const uint8_t *pin;
	const uint8_t *psk;
	size_t psk_len;
	const char *psk_identity;
	int hs_timeout_ms, io_timeout_ms; /* -1: none */
	int cancel_fd;			  /* -1: none */
};

struct sevmig_tls {
	int fd;
	int saved_flags; /* the fd's flags before we set O_NONBLOCK; -1: untouched */
	bool server;
	SSL_CTX *ctx; /* one per handle: nothing is shared between handles */
	SSL *ssl;
	BIO_METHOD *bio_method;
	int io_timeout_ms;
	int cancel_fd; /* -1: none */

	/* Valid during the handshake only (NULL after it). */
	const struct sevmig__tls_cfg *cfg;

	/* Set by the socket BIO for the error mapping: the errno of the last
	 * failed send()/recv() and whether recv() saw the end of the stream. */
	int sys_errno;
	bool eof;

	/* Why our own check refused the peer (verify callback, PSK lookup):
	 * OpenSSL's reason alone ("certificate verify failed") says too little. */
	char refusal[160];

	bool psk_mode;
	bool psk_used;
	bool have_fingerprint;
	uint8_t fingerprint[32];
	char *peer_subject;

	bool established; /* the handshake completed */
	bool peer_closed; /* close_notify received */
	bool shut;	  /* close_notify sent */
	int dead;	  /* first fatal error (< 0) of read/write/shutdown, or 0 */
	char last_error[256];
};

/* tls_config.c: check the options and build the handle's SSL_CTX. */
int sevmig__tls_cfg_from_opts(const struct sevmig_tls_opts *o, struct sevmig__tls_cfg *cfg,
			      struct sevmig_error *err);
int sevmig__tls_ctx_new(struct sevmig_tls *t, const struct sevmig__tls_cfg *cfg,
			struct sevmig_error *err);

/* tls_verify.c: peer certificate checks (installed by sevmig__tls_ctx_new). */
int sevmig__tls_verify_cb(X509_STORE_CTX *sctx, void *arg);
/* Name check on the SSL's own parameters (CA mode); -EINVAL if unusable. */
int sevmig__tls_set_peer_name(struct sevmig_tls *t, const char *name, struct sevmig_error *err);
bool sevmig__tls_name_is_ip(const char *name);

/* tls_psk.c: PSK callbacks. */
int sevmig__tls_psk_use_cb(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
			   SSL_SESSION **sess);
int sevmig__tls_psk_find_cb(SSL *ssl, const unsigned char *id, size_t idlen, SSL_SESSION **sess);

/* tls_bio.c: a BIO over the handle's socket (send() with MSG_NOSIGNAL). */
BIO *sevmig__tls_bio_new(struct sevmig_tls *t);

/* tls_errors.c: after an SSL call failed with SSL_get_error() == ssl_err:
 * the negative errno, and the message "<what>: <why>" in t->last_error.
 * Consumes the thread's OpenSSL error queue. */
int sevmig__tls_failure(struct sevmig_tls *t, int ssl_err, const char *what);
/* The first OpenSSL error's reason (for option errors), queue consumed. */
const char *sevmig__tls_ossl_reason(void);
/* Record a message on the handle and in err; returns code. */
int sevmig__tls_fail(struct sevmig_tls *t, struct sevmig_error *err, int code, const char *fmt, ...)
    SEVMIG__PRINTF(4, 5);

#endif
