/* SPDX-License-Identifier: MIT */
/*
 * The TLS handle: the handshake, reads and writes with bounded waits, the
 * exporter, close_notify, and what the connection negotiated.
 *
 * Every wait is a poll() on the socket, which the handle keeps
 * non-blocking: OpenSSL returns WANT_READ / WANT_WRITE instead of sleeping
 * in recv()/send(), so no wait can outlast its timeout.
 */
#include "transport/tls_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509.h>

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Deadline in CLOCK_MONOTONIC ms for a timeout (-1: none). */
static int64_t deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/*
 * Wait until the socket can do what OpenSSL asked for (ssl_err is
 * SSL_ERROR_WANT_READ or _WRITE): 0; the deadline passed: -ETIMEDOUT; the
 * cancel descriptor is readable: -ECANCELED (checked first, so that a
 * cancel is never lost to a ready socket). A signal does not end the wait
 * early, nor extend it: the cancel descriptor is how a handler stops it,
 * without the race of a flag tested before poll().
 */
static int wait_socket(struct sevmig_tls *t, int ssl_err, int64_t deadline)
{
	struct pollfd p[2] = {
		{ .fd = t->fd, .events = ssl_err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT },
		{ .fd = t->cancel_fd, .events = POLLIN },
	};
	nfds_t np = t->cancel_fd >= 0 ? 2 : 1;
	for (;;) {
		int timeout = -1;
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();
			timeout = left <= 0 ? 0 : left > 1000000000 ? 1000000000 : (int)left;
		}
		int n = poll(p, np, timeout);
		if (n > 0 && np == 2 && p[1].revents)
			return -ECANCELED;
		if (n > 0)
			return 0; /* ready, or POLLERR/POLLHUP: the next call says which */
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static bool want_io(int ssl_err)
{
	return ssl_err == SSL_ERROR_WANT_READ || ssl_err == SSL_ERROR_WANT_WRITE;
}

/* Before each SSL call: a clean queue, so SSL_get_error() sees only ours. */
static void call_start(struct sevmig_tls *t)
{
	ERR_clear_error();
	t->sys_errno = 0;
}

static void restore_fd(struct sevmig_tls *t)
{
	if (t->saved_flags >= 0 && fcntl(t->fd, F_SETFL, t->saved_flags) == 0)
		t->saved_flags = -1;
}

void sevmig_tls_free(struct sevmig_tls *t)
{
	if (!t)
		return;
	SSL_free(t->ssl); /* frees the BIO; sends nothing */
	SSL_CTX_free(t->ctx);
	BIO_meth_free(t->bio_method);
	restore_fd(t);
	free(t->peer_subject);
	ERR_clear_error();
	free(t);
}

/* After the handshake: what the application may ask about the peer. */
static int record_peer(struct sevmig_tls *t, struct sevmig_error *err)
{
	t->psk_used = SSL_session_reused(t->ssl) == 1;
	X509 *peer = SSL_get0_peer_certificate(t->ssl);
	if (!peer)
		return 0;
	unsigned n = 0;
	if (X509_digest(peer, EVP_sha256(), t->fingerprint, &n) != 1 || n != 32)
		return sevmig__tls_fail(t, err, -ENOMEM,
					"TLS handshake: cannot hash the peer certificate");
	t->have_fingerprint = true;
	BIO *mem = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;
	if (!mem || X509_NAME_print_ex(mem, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) < 0 ||
	    (len = BIO_get_mem_data(mem, &data)) < 0 ||
	    !(t->peer_subject = malloc((size_t)len + 1))) {
		BIO_free(mem);
		return sevmig__tls_fail(t, err, -ENOMEM,
					"TLS handshake: cannot record the peer's subject");
	}
	memcpy(t->peer_subject, data, (size_t)len);
	t->peer_subject[len] = '\0';
	BIO_free(mem);
	return 0;
}

static int handshake(struct sevmig_tls *t, const struct sevmig__tls_cfg *cfg,
		     struct sevmig_error *err)
{
	int64_t deadline = deadline_after(cfg->hs_timeout_ms);
	for (;;) {
		call_start(t);
		int r = SSL_do_handshake(t->ssl);
		if (r == 1) {
			t->established = true;
			return record_peer(t, err);
		}
		int e = SSL_get_error(t->ssl, r);
		if (!want_io(e)) {
			int code = sevmig__tls_failure(t, e, "TLS handshake");
			return sevmig__fail(err, code, SEVMIG_NO_OFFSET, 0, "%s", t->last_error);
		}
		int rc = wait_socket(t, e, deadline);
		if (rc == -ETIMEDOUT)
			return sevmig__tls_fail(t, err, rc, "TLS handshake timed out after %d ms",
						cfg->hs_timeout_ms);
		if (rc == -ECANCELED)
			return sevmig__tls_fail(t, err, rc, "TLS handshake cancelled");
		if (rc < 0)
			return sevmig__tls_fail(t, err, rc, "TLS handshake: poll: %s",
						strerror(-rc));
	}
}

static int tls_new(int fd, bool server, const struct sevmig_tls_opts *opts, struct sevmig_tls **out,
		   struct sevmig_error *err)
{
	ERR_clear_error(); /* whatever is queued is not ours to report */
	if (!out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "TLS: no handle to fill");
	*out = NULL;
	struct sevmig__tls_cfg cfg;
	SEVMIG__TRY(sevmig__tls_cfg_from_opts(opts, &cfg, err));

	int type = 0;
	socklen_t tlen = sizeof(type);
	int flags = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
	if (flags < 0)
		return sevmig__fail(err, -EBADF, SEVMIG_NO_OFFSET, 0, "TLS: fd %d is not open", fd);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_STREAM)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "TLS: fd %d is not a stream socket", fd);

	struct sevmig_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return sevmig__fail(err, -ENOMEM, SEVMIG_NO_OFFSET, 0, "TLS: out of memory");
	t->fd = fd;
	t->saved_flags = -1;
	t->server = server;
	t->psk_mode = cfg.psk != NULL;
	t->io_timeout_ms = cfg.io_timeout_ms;
	t->cancel_fd = cfg.cancel_fd;
	t->cfg = &cfg;

	int rc = sevmig__tls_ctx_new(t, &cfg, err);
	BIO *bio = NULL;
	if (rc == 0 && (!(t->ssl = SSL_new(t->ctx)) || !(bio = sevmig__tls_bio_new(t))))
		rc = sevmig__tls_fail(t, err, -ENOMEM, "TLS: cannot create a connection (%s)",
				      sevmig__tls_ossl_reason());
	if (rc == 0) {
		SSL_set_bio(t->ssl, bio, bio); /* the SSL owns the BIO now */
		SSL_set_app_data(t->ssl, t);
		if (server)
			SSL_set_accept_state(t->ssl);
		else
			SSL_set_connect_state(t->ssl);
		if (cfg.peer_name)
			rc = sevmig__tls_set_peer_name(t, cfg.peer_name, err);
	}
	if (rc == 0) {
		if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
			int e = errno;
			rc = sevmig__tls_fail(t, err, -e,
					      "TLS: fd %d: cannot make it non-blocking: %s", fd,
					      strerror(e));
		} else {
			t->saved_flags = flags;
		}
	}
	if (rc == 0)
		rc = handshake(t, &cfg, err);
	t->cfg = NULL; /* the options go out of scope */
	t->refusal[0] = '\0';
	if (rc < 0) {
		sevmig_tls_free(t);
		return rc;
	}
	ERR_clear_error();
	t->last_error[0] = '\0';
	*out = t;
	return 0;
}

int sevmig_tls_client(int fd, const struct sevmig_tls_opts *opts, struct sevmig_tls **out,
		      struct sevmig_error *err)
{
	return tls_new(fd, false, opts, out, err);
}

int sevmig_tls_server(int fd, const struct sevmig_tls_opts *opts, struct sevmig_tls **out,
		      struct sevmig_error *err)
{
	return tls_new(fd, true, opts, out, err);
}

/* A read, write or shutdown failed: the connection is dead from now on. */
static int io_dead(struct sevmig_tls *t, int code)
{
	t->dead = code;
	ERR_clear_error();
	return code;
}

/* One SSL_read_ex/SSL_write_ex/SSL_shutdown wanted I/O: wait for it. */
static int io_wait(struct sevmig_tls *t, int ssl_err, const char *what)
{
	int rc = wait_socket(t, ssl_err, deadline_after(t->io_timeout_ms));
	if (rc == -ETIMEDOUT)
		snprintf(t->last_error, sizeof(t->last_error),
			 "%s timed out: the peer %s for %d ms", what,
			 ssl_err == SSL_ERROR_WANT_READ ? "sent nothing" : "took nothing",
			 t->io_timeout_ms);
	else if (rc == -ECANCELED)
		snprintf(t->last_error, sizeof(t->last_error), "%s cancelled", what);
	else if (rc < 0)
		snprintf(t->last_error, sizeof(t->last_error), "%s: poll: %s", what, strerror(-rc));
	return rc;
}

int sevmig_tls_write(void *tls, const void *buf, size_t len)
{
	struct sevmig_tls *t = tls;
	if (!t || (!buf && len))
		return -EINVAL;
	if (t->dead)
		return t->dead;
	if (t->shut) {
		snprintf(t->last_error, sizeof(t->last_error),
			 "TLS write: the connection was shut down");
		return -EPIPE;
	}
	const char *p = buf;
	while (len) {
		call_start(t);
		size_t n = 0;
		int r = SSL_write_ex(t->ssl, p, len, &n);
		if (r == 1) {
			p += n;
			len -= n;
			continue;
		}
		int e = SSL_get_error(t->ssl, r);
		if (!want_io(e))
			return io_dead(t, sevmig__tls_failure(t, e, "TLS write"));
		int rc = io_wait(t, e, "TLS write");
		if (rc < 0)
			return io_dead(t, rc);
	}
	ERR_clear_error();
	return 0;
}

ptrdiff_t sevmig_tls_read(void *tls, void *buf, size_t len)
{
	struct sevmig_tls *t = tls;
	if (!t || !buf || !len)
		return -EINVAL;
	if (t->dead)
		return t->dead;
	if (t->peer_closed)
		return 0;
	if (len > INT32_MAX) /* OpenSSL returns at most a record anyway */
		len = INT32_MAX;
	for (;;) {
		call_start(t);
		size_t n = 0;
		int r = SSL_read_ex(t->ssl, buf, len, &n);
		if (r == 1) {
			ERR_clear_error();
			return (ptrdiff_t)n;
		}
		int e = SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN) {
			ERR_clear_error();
			t->peer_closed = true;
			return 0;
		}
		if (!want_io(e))
			return io_dead(t, sevmig__tls_failure(t, e, "TLS read"));
		int rc = io_wait(t, e, "TLS read");
		if (rc < 0)
			return io_dead(t, rc);
	}
}

int sevmig_tls_shutdown(struct sevmig_tls *t, struct sevmig_error *err)
{
	if (!t)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "TLS shutdown: no handle");
	if (t->dead)
		return sevmig__fail(err, t->dead, SEVMIG_NO_OFFSET, 0, "%s", t->last_error);
	if (t->shut)
		return 0;
	for (;;) {
		call_start(t);
		int r = SSL_shutdown(t->ssl);
		/* 0: our close_notify is out, the peer's not in yet; we do not
		 * wait for it (TLS 1.3 closes each direction on its own). */
		if (r >= 0)
			break;
		int e = SSL_get_error(t->ssl, r);
		int rc;
		if (want_io(e))
			rc = io_wait(t, e, "TLS shutdown");
		else
			rc = sevmig__tls_failure(t, e, "TLS shutdown");
		if (rc < 0)
			return sevmig__fail(err, io_dead(t, rc), SEVMIG_NO_OFFSET, 0, "%s",
					    t->last_error);
	}
	ERR_clear_error();
	t->shut = true;
	return 0;
}

int sevmig_tls_export(struct sevmig_tls *t, const char *label, uint8_t *out, size_t out_len,
		      struct sevmig_error *err)
{
	if (!t || !label || !*label || !out || !out_len)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "TLS exporter: needs a handle, a label and an output buffer");
	ERR_clear_error();
	/* use_context = 0: in TLS 1.3 no context and an empty one are the
	 * same (RFC 8446 §7.5). */
	int r = SSL_export_keying_material(t->ssl, out, out_len, label, strlen(label), NULL, 0, 0);
	ERR_clear_error();
	if (r != 1)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "TLS exporter: cannot derive %zu bytes for \"%s\"", out_len,
				    label);
	return 0;
}

int sevmig_tls_peer_fingerprint(const struct sevmig_tls *t, uint8_t out[32])
{
	if (!t || !out)
		return -EINVAL;
	if (!t->have_fingerprint)
		return -ENOENT;
	memcpy(out, t->fingerprint, sizeof(t->fingerprint));
	return 0;
}

const char *sevmig_tls_peer_subject(const struct sevmig_tls *t)
{
	return t ? t->peer_subject : NULL;
}

const char *sevmig_tls_cipher(const struct sevmig_tls *t)
{
	const SSL_CIPHER *c = t ? SSL_get_current_cipher(t->ssl) : NULL;
	return c ? SSL_CIPHER_get_name(c) : NULL;
}

bool sevmig_tls_psk_used(const struct sevmig_tls *t)
{
	return t && t->psk_used;
}

const char *sevmig_tls_last_error(const struct sevmig_tls *t)
{
	return t ? t->last_error : "";
}
