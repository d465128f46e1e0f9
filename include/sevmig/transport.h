/* SPDX-License-Identifier: MIT */
/*
 * The TLS 1.3 transport (docs/tls.md): mutual authentication and encryption
 * over a socket the caller has already connected, and the TLS exporter
 * secret the stream derives its keys from. It sits beside the stream
 * engine, not under it: sevmig_tls_write() and sevmig_tls_read() are
 * sevmig_write_fn / sevmig_read_fn callbacks taking the handle as their
 * argument, and sevmig_tls_export() hands out keying material.
 *
 * Only TLS 1.3 is spoken, with one of three trust models:
 *  - certificates checked against a CA (file and/or directory), with the
 *    peer's name checked against its DNS or IP subjectAltName;
 *  - a pin: the SHA-256 of the peer's certificate, with or instead of a CA;
 *  - an external pre-shared key (RFC 8446 PSK with (EC)DHE: psk_dhe_ke).
 * With certificates both sides present one and both sides check the other's.
 *
 * The library makes the socket non-blocking for the handle's lifetime (to
 * bound every wait with poll()) and puts its original flags back in
 * sevmig_tls_free(), which does not close it. Writes use MSG_NOSIGNAL: a
 * peer that went away gives -EPIPE, never a SIGPIPE.
 *
 * Errors: -EACCES for every authentication failure, ours or the peer's
 * (a certificate that does not verify, a wrong name, a pin or PSK that does
 * not match, a missing certificate, the peer's alert refusing ours);
 * -EPROTO for a protocol failure (a peer without TLS 1.3, not TLS at all, a
 * malformed message); -ETIMEDOUT for a wait longer than its timeout;
 * -ECONNRESET for a peer that closed or reset the connection without a
 * close_notify; -EPIPE for a write to a peer that went away; -EINVAL for
 * bad options (the message names the option or the file). The message
 * says in one line what failed, e.g. "TLS handshake: peer certificate
 * verify failed: certificate has expired".
 *
 * TLS 1.3 lets a client finish its handshake before the server has checked
 * the client's certificate: a server refusing it is seen by the client on
 * its first sevmig_tls_read() (-EACCES). The server has then handed nothing
 * the client sent to anyone.
 *
 * After any failure of a read, write or shutdown, including a timeout, the
 * connection is unusable: every later read, write or shutdown returns the
 * same error.
 *
 * Threads: the library keeps no global state (each handle has its own
 * OpenSSL context, and every call leaves the calling thread's OpenSSL
 * error queue empty). A handle is used by one thread at a time, reads and
 * writes included: it is not full-duplex across threads.
 */
#ifndef SEVMIG_TRANSPORT_H
#define SEVMIG_TRANSPORT_H

#include <sevmig/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sevmig_tls;

/* The exporter label of the migration stream (it takes 32 bytes). */
#define SEVMIG_TLS_EXPORTER_STREAM "EXPORTER-sevmig-stream-2"

/* Lengths of a pin (SHA-256) and the accepted range of a PSK. */
#define SEVMIG_TLS_PIN_LEN     32u
#define SEVMIG_TLS_PSK_MIN_LEN 32u
#define SEVMIG_TLS_PSK_MAX_LEN 64u

/*
 * How to authenticate. Either certificates (cert_file + key_file, and
 * ca_file / ca_dir and/or pin_sha256 to check the peer) or a PSK (psk,
 * psk_len, psk_identity), never both. Everything is read during the
 * sevmig_tls_client() / sevmig_tls_server() call only.
 */
struct sevmig_tls_opts {
	size_t sz; /* SEVMIG_OPTS */
	/* Our certificate chain (PEM: the leaf first, then intermediates) and
	 * its private key (PEM, not encrypted). */
	const char *cert_file;
	const char *key_file;
	/* Trust anchors for the peer's certificate (PEM): a file of CA
	 * certificates and/or a directory prepared by `openssl rehash`. With
	 * either, the chain and the validity dates are checked. */
	const char *ca_file;
	const char *ca_dir;
	/* The name the peer's certificate must carry: a DNS name (matched
	 * against DNS subjectAltNames, wildcards only as a whole left label)
	 * or an IPv4/IPv6 address (matched against IP subjectAltNames).
	 * NULL: no name check. A client also sends a DNS name as SNI. */
	const char *peer_name;
	/* SHA-256 of the peer's leaf certificate (DER), SEVMIG_TLS_PIN_LEN
	 * bytes: `openssl x509 -noout -fingerprint -sha256` without colons.
	 * With a CA, the chain must verify and the leaf match the pin; without
	 * one, the pinned certificate is the only one accepted and its dates
	 * are not checked (a pin names one certificate; change the pin to
	 * retire it). */
	const uint8_t *pin_sha256;
	/* External PSK (RFC 8446 §2.2, with (EC)DHE for forward secrecy):
	 * SEVMIG_TLS_PSK_MIN_LEN..SEVMIG_TLS_PSK_MAX_LEN random bytes and an
	 * identity of 1..255 bytes both sides agree on. */
	const uint8_t *psk;
	size_t psk_len;
	const char *psk_identity;
	/* The whole handshake: 0: 30000 ms; -1: no limit. */
	int handshake_timeout_ms;
	/* Each read, write or shutdown waiting this long for the peer without
	 * progress fails with -ETIMEDOUT: 0: 60000 ms; -1: no limit. */
	int io_timeout_ms;
	/* A descriptor (the read end of a pipe, an eventfd) that stops the
	 * handle once it becomes readable: a wait in progress or to come, in
	 * the handshake, a read, a write or the shutdown, ends at once with
	 * -ECANCELED. A signal handler or another thread writes to it to stop
	 * a transfer blocked on a stalled peer. Only *cancel_fd is kept (the
	 * handle neither reads it nor closes it). NULL: none. */
	const int *cancel_fd;
};

/*
 * Run a TLS 1.3 handshake as the client (sevmig_tls_client(), the side that
 * connected) or the server (sevmig_tls_server(), the side that accepted)
 * over `fd`, a connected stream socket (TCP or AF_UNIX). On success *out is
 * a handle owned by the caller (free with sevmig_tls_free()). On failure
 * *out is NULL, the fd's flags are restored and the fd should be closed.
 * Errors as at the top of this header.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_tls_client(int fd, const struct sevmig_tls_opts *opts,
						  struct sevmig_tls **out,
						  struct sevmig_error *err);
SEVMIG_API SEVMIG_NODISCARD int sevmig_tls_server(int fd, const struct sevmig_tls_opts *opts,
						  struct sevmig_tls **out,
						  struct sevmig_error *err);

/*
 * A sevmig_write_fn: write all `len` bytes to the handle `tls` (a struct
 * sevmig_tls *): 0, or a negative errno (sevmig_tls_last_error() says why).
 */
SEVMIG_API int sevmig_tls_write(void *tls, const void *buf, size_t len);
/*
 * A sevmig_read_fn: read up to `len` (> 0) bytes: the count (> 0); 0 once
 * the peer sent close_notify; or a negative errno. A connection that ends
 * without close_notify (a possible truncation attack) is -ECONNRESET.
 */
SEVMIG_API ptrdiff_t sevmig_tls_read(void *tls, void *buf, size_t len);

/*
 * RFC 8446 §7.5 exporter: `out_len` bytes of keying material for `label`
 * (e.g. SEVMIG_TLS_EXPORTER_STREAM) with an empty context; both sides of a
 * connection get the same bytes, and no two connections do. -EINVAL for an
 * empty label or length, or a length beyond what HKDF can expand.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_tls_export(struct sevmig_tls *t, const char *label,
						  uint8_t *out, size_t out_len,
						  struct sevmig_error *err);

/* Send close_notify (the peer's read then returns 0). The peer's own
 * close_notify is not waited for. Idempotent. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_tls_shutdown(struct sevmig_tls *t, struct sevmig_error *err);

/* Restore the fd's flags and release the handle; the fd stays open. A
 * handle freed without sevmig_tls_shutdown() ends the connection as
 * truncated for the peer. NULL is allowed. */
SEVMIG_API void sevmig_tls_free(struct sevmig_tls *t);

/* ---- information about the connection ---------------------------------- */

/* SHA-256 of the peer's leaf certificate (what a pin compares):
 * 0, or -ENOENT when the peer authenticated with a PSK. */
SEVMIG_API int sevmig_tls_peer_fingerprint(const struct sevmig_tls *t, uint8_t out[32]);
/* The peer certificate's subject (RFC 2253, e.g. "CN=target"), owned by the
 * handle; NULL with a PSK. */
SEVMIG_API const char *sevmig_tls_peer_subject(const struct sevmig_tls *t);
/* The negotiated cipher suite, e.g. "TLS_AES_256_GCM_SHA384" (static). */
SEVMIG_API const char *sevmig_tls_cipher(const struct sevmig_tls *t);
/* Whether the handshake authenticated with the PSK. */
SEVMIG_API bool sevmig_tls_psk_used(const struct sevmig_tls *t);
/* The message of the handle's last failure ("" if none), owned by the
 * handle: what the read and write callbacks cannot return. */
SEVMIG_API const char *sevmig_tls_last_error(const struct sevmig_tls *t);

#ifdef __cplusplus
}
#endif
#endif
