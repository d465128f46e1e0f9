/* SPDX-License-Identifier: MIT */
/*
 * The BIO between OpenSSL and the socket. OpenSSL's own socket BIO uses
 * write(), which raises SIGPIPE when the peer has gone and would kill a
 * caller that did not ignore it; a library must not change a process's
 * signal dispositions, so this one sends with MSG_NOSIGNAL instead. It also
 * keeps the errno of a failed call and the end of the stream on the handle,
 * for the error messages.
 */
#include "transport/tls_internal.h"

#include <errno.h>
#include <sys/socket.h>

/* Only BIO_find_type() looks at it; no other BIO in the chain. */
#define SEVMIG_BIO_TYPE (BIO_TYPE_SOURCE_SINK | 0xd5)

static int bio_write(BIO *b, const char *data, size_t len, size_t *written)
{
	struct sevmig_tls *t = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	*written = 0;
	for (;;) {
		ssize_t n = send(t->fd, data, len, MSG_NOSIGNAL);
		if (n >= 0) {
			*written = (size_t)n;
			return 1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			BIO_set_retry_write(b);
		else
			t->sys_errno = errno;
		return 0;
	}
}

static int bio_read(BIO *b, char *data, size_t len, size_t *readbytes)
{
	struct sevmig_tls *t = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	*readbytes = 0;
	for (;;) {
		ssize_t n = recv(t->fd, data, len, 0);
		if (n > 0) {
			*readbytes = (size_t)n;
			return 1;
		}
		if (n == 0) {
			t->eof = len > 0;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			BIO_set_retry_read(b);
		else
			t->sys_errno = errno;
		return 0;
	}
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)num;
	(void)ptr;
	struct sevmig_tls *t = BIO_get_data(b);
	switch (cmd) {
	case BIO_CTRL_FLUSH: /* send() does not buffer */
		return 1;
	case BIO_CTRL_EOF: /* how OpenSSL tells a TCP EOF from a failed read */
		return t && t->eof;
	default:
		return 0;
	}
}

BIO *sevmig__tls_bio_new(struct sevmig_tls *t)
{
	/* A method per handle: BIO_METHODs are allocated, and a shared one
	 * would be global state. */
	if (!t->bio_method) {
		BIO_METHOD *m = BIO_meth_new(SEVMIG_BIO_TYPE, "sevmig socket");
		if (!m || BIO_meth_set_write_ex(m, bio_write) != 1 ||
		    BIO_meth_set_read_ex(m, bio_read) != 1 || BIO_meth_set_ctrl(m, bio_ctrl) != 1) {
			BIO_meth_free(m);
			return NULL;
		}
		t->bio_method = m;
	}
	BIO *b = BIO_new(t->bio_method);
	if (!b)
		return NULL;
	BIO_set_data(b, t);
	BIO_set_init(b, 1);
	return b;
}
