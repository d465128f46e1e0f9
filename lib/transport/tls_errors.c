/* SPDX-License-Identifier: MIT */
/*
 * From OpenSSL's failure (SSL_get_error(), the error queue, the verify
 * result, a received alert) to one errno and one line that says what
 * failed, from the point of view of the person who configured this side:
 * "peer certificate verify failed: certificate has expired" rather than
 * "error:0A000086:SSL routines::certificate verify failed".
 */
#include "transport/tls_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

const char *sevmig__tls_ossl_reason(void)
{
	unsigned long e = ERR_peek_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	ERR_clear_error();
	return r ? r : "no reason given";
}

int sevmig__tls_fail(struct sevmig_tls *t, struct sevmig_error *err, int code, const char *fmt, ...)
{
	char msg[sizeof(err->message)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (t)
		snprintf(t->last_error, sizeof(t->last_error), "%s", msg);
	return sevmig__fail(err, code, SEVMIG_NO_OFFSET, 0, "%s", msg);
}

static const char *version_name(int v)
{
	switch (v) {
	case TLS1_2_VERSION:
		return "TLS 1.2";
	case TLS1_1_VERSION:
		return "TLS 1.1";
	case TLS1_VERSION:
		return "TLS 1.0";
	case SSL3_VERSION:
		return "SSL 3.0";
	default:
		return "versions before TLS 1.3";
	}
}

/* An alert the peer sent: OpenSSL reports it as reason 1000 + its code. */
static int alert_failure(struct sevmig_tls *t, int desc, char *why, size_t size)
{
	const char *name = SSL_alert_desc_string_long(desc);
	const char *ours = t->psk_mode ? "PSK" : "certificate";
	switch (desc) {
	case SSL3_AD_BAD_CERTIFICATE:
	case SSL3_AD_UNSUPPORTED_CERTIFICATE:
	case SSL3_AD_CERTIFICATE_REVOKED:
	case SSL3_AD_CERTIFICATE_EXPIRED:
	case SSL3_AD_CERTIFICATE_UNKNOWN:
	case TLS1_AD_UNKNOWN_CA:
	case TLS1_AD_ACCESS_DENIED:
	case TLS1_AD_DECRYPT_ERROR:
	case TLS1_AD_UNKNOWN_PSK_IDENTITY:
		snprintf(why, size, "peer refused our %s (alert: %s)", ours, name);
		return -EACCES;
	case TLS13_AD_CERTIFICATE_REQUIRED:
		snprintf(why, size, "peer requires a certificate (alert: %s)", name);
		return -EACCES;
	case SSL3_AD_HANDSHAKE_FAILURE:
		/* With a PSK the only thing to disagree on is the PSK: the
		 * suites are fixed. */
		snprintf(why, size, "peer %s (alert: %s)",
			 t->psk_mode ? "did not accept our PSK" : "found no common parameters",
			 name);
		return t->psk_mode ? -EACCES : -EPROTO;
	case SSL_AD_ILLEGAL_PARAMETER:
		/* What OpenSSL answers a PSK binder that does not verify. */
		if (t->psk_mode && !t->established) {
			snprintf(why, size, "peer refused our PSK (alert: %s)", name);
			return -EACCES;
		}
		snprintf(why, size, "peer sent alert: %s", name);
		return -EPROTO;
	case TLS1_AD_PROTOCOL_VERSION:
		snprintf(why, size, "peer does not accept TLS 1.3 (alert: %s)", name);
		return -EPROTO;
	default:
		snprintf(why, size, "peer sent alert: %s", name);
		return -EPROTO;
	}
}

static int ssl_failure(struct sevmig_tls *t, int reason, char *why, size_t size)
{
	/* Our own check said why it refused the peer. */
	if (t->refusal[0]) {
		snprintf(why, size, "%s", t->refusal);
		return -EACCES;
	}
	if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256)
		return alert_failure(t, reason - SSL_AD_REASON_OFFSET, why, size);
	switch (reason) {
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
		snprintf(why, size, "peer certificate verify failed: %s",
			 X509_verify_cert_error_string(SSL_get_verify_result(t->ssl)));
		return -EACCES;
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
		snprintf(why, size, "peer sent no certificate (authentication is mutual)");
		return -EACCES;
	case SSL_R_BINDER_DOES_NOT_VERIFY:
		snprintf(why, size, "peer's PSK is not ours (the PSK binder does not verify)");
		return -EACCES;
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_WRONG_SSL_VERSION:
	case SSL_R_UNSUPPORTED_SSL_VERSION:
		snprintf(
		    why, size, "peer offered only %s (protocol version)",
		    version_name(t->server ? SSL_client_version(t->ssl) : SSL_version(t->ssl)));
		return -EPROTO;
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_RECORD_LENGTH_MISMATCH:
		snprintf(why, size, "peer is not speaking TLS (%s)",
			 ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, reason)));
		return -EPROTO;
	default:
		if (t->psk_mode && t->server && !t->established) {
			/* No PSK offered and no certificate to fall back on. */
			snprintf(why, size, "peer offered no PSK of ours (%s)",
				 ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, reason)));
			return -EACCES;
		}
		const char *r = ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, reason));
		snprintf(why, size, "%s", r ? r : "protocol error");
		return -EPROTO;
	}
}

int sevmig__tls_failure(struct sevmig_tls *t, int ssl_err, const char *what)
{
	char why[200];
	int code;
	unsigned long e = ERR_peek_error();
	int reason = e ? ERR_GET_REASON(e) : 0;
	bool ssl_lib = e && ERR_GET_LIB(e) == ERR_LIB_SSL;
	bool eof_reason = ssl_lib && reason == SSL_R_UNEXPECTED_EOF_WHILE_READING;

	if (ssl_err == SSL_ERROR_ZERO_RETURN) {
		code = -ECONNRESET;
		snprintf(why, sizeof(why), "peer closed the connection (close_notify)");
	} else if (ssl_lib && !eof_reason) {
		code = ssl_failure(t, reason, why, sizeof(why));
	} else if (t->sys_errno) {
		code = -t->sys_errno;
		snprintf(why, sizeof(why), "%s", strerror(t->sys_errno));
	} else if (t->eof || eof_reason || (ssl_err == SSL_ERROR_SYSCALL && !e)) {
		code = -ECONNRESET;
		snprintf(why, sizeof(why), "%s",
			 !t->established
			     ? "peer closed the connection during the handshake"
			     : "peer closed the connection without close_notify (truncated)");
	} else if (e) {
		const char *r = ERR_reason_error_string(e);
		code = -EPROTO;
		snprintf(why, sizeof(why), "%s", r ? r : "OpenSSL failure");
	} else {
		code = -EPROTO;
		snprintf(why, sizeof(why), "OpenSSL failure %d without a reason", ssl_err);
	}
	ERR_clear_error();
	snprintf(t->last_error, sizeof(t->last_error), "%s: %s", what, why);
	return code;
}
