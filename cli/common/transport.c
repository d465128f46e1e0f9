/* SPDX-License-Identifier: MIT */
/* Moving a stream's bytes for the tools: endpoints, TCP, and channels
 * (a descriptor or TLS behind the library's I/O callbacks) that a stop
 * signal, a stalled peer or an unauthenticated one cannot hold. */
#include "common/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sevmig/transport.h>

#include "common/cli.h"
#include "common/signals.h"

/* ---- endpoints --------------------------------------------------------------- */

int cli_parse_endpoint(const char *s, bool listen, struct cli_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->arg = s;
	if (!strcmp(s, "-")) {
		ep->kind = CLI_EP_STDIO;
		return 0;
	}
	ep->tls = !strncmp(s, "tls://", 6);
	if (strncmp(s, "tcp://", 6) && !ep->tls) {
		ep->kind = CLI_EP_FILE;
		return 0;
	}
	ep->kind = CLI_EP_TCP;
	const char *h = s + 6, *hend, *port;
	if (*h == '[') {
		hend = strchr(h, ']');
		if (!hend || hend[1] != ':')
			return cli_error("%s: an IPv6 address is written tcp://[ADDRESS]:PORT", s);
		h++;
		port = hend + 2;
	} else {
		hend = strrchr(h, ':');
		if (!hend)
			return cli_error("%s: no port (write tcp://HOST:PORT)", s);
		if (memchr(h, ':', (size_t)(hend - h)))
			return cli_error(
			    "%s: put an IPv6 address in brackets: tcp://[ADDRESS]:PORT", s);
		port = hend + 1;
	}
	size_t hl = (size_t)(hend - h);
	if (hl >= sizeof(ep->host))
		return cli_error("%s: the host name is too long", s);
	memcpy(ep->host, h, hl);
	ep->host[hl] = '\0';
	uint64_t p;
	if (cli_parse_u64(port, &p) || p > 65535 || strspn(port, "0123456789") != strlen(port))
		return cli_error("%s: '%s' is not a port number (0..65535)", s, port);
	if (!p && !listen)
		return cli_error("%s: port 0 is only for listening", s);
	if (!hl && !listen)
		return cli_error("%s: no host to connect to", s);
	snprintf(ep->port, sizeof(ep->port), "%u", (unsigned)p);
	return 0;
}

/*
 * Wait until fd is ready for `events`: 0, or a positive errno: ETIMEDOUT
 * after timeout_ms without readiness (-1: no limit), ETIME at `deadline`
 * (monotonic seconds; 0: none), EINTR once a stop signal came. How a stop
 * signal ends the wait is `stop`: WAIT_STOP at once; WAIT_GRACE after
 * CLI_STOP_GRACE_MS more, so that a write to a peer that still reads can
 * finish its record and the sender can write ABORT, while one to a peer
 * that stalled cannot hold the tool.
 */
enum wait_stop { WAIT_STOP, WAIT_GRACE };
#define CLI_STOP_GRACE_MS (CLI_STOP_GRACE_S * 1000)

static int wait_fd(int fd, short events, int timeout_ms, double deadline, enum wait_stop stop)
{
	double t0 = cli_now(), grace = 0;
	for (;;) {
		double t = cli_now(), until = timeout_ms < 0 ? 0 : t0 + timeout_ms / 1e3;
		int why = ETIMEDOUT;
		if (deadline > 0 && (!until || deadline < until)) {
			until = deadline;
			why = ETIME;
		}
		if (grace > 0 && (!until || grace < until)) {
			until = grace;
			why = EINTR;
		}
		if (cli_interrupted() && stop == WAIT_STOP)
			return EINTR;
		if (cli_interrupted() && grace == 0) {
			grace = t + CLI_STOP_GRACE_MS / 1e3;
			continue;
		}
		int left = -1;
		if (until) {
			if (until <= t)
				return why;
			left = (int)((until - t) * 1e3) + 1;
		}
		struct pollfd p[2] = { { .fd = fd, .events = events },
				       { .fd = cli_stop_fd(), .events = POLLIN } };
		/* In the grace period the pipe is readable for good: not polled. */
		nfds_t np = grace == 0 && p[1].fd >= 0 ? 2 : 1;
		int n = poll(p, np, left);
		if (n > 0 && p[0].revents)
			return 0;
		if (n < 0 && errno != EINTR)
			return errno;
	}
}

static void addr_text(const struct sockaddr *sa, socklen_t len, char *out, size_t outsz)
{
	char h[NI_MAXHOST], p[NI_MAXSERV];
	if (getnameinfo(sa, len, h, sizeof(h), p, sizeof(p), NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(out, outsz, "?");
		return;
	}
	snprintf(out, outsz, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, p);
}

int cli_tcp_connect(const struct cli_endpoint *ep, int timeout_ms, int *fd)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	int g = getaddrinfo(ep->host, ep->port, &hints, &res);
	if (g)
		return cli_error("%s: cannot resolve '%s': %s", ep->arg, ep->host, gai_strerror(g));
	int e = ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			       ai->ai_protocol);
		if (s < 0) {
			e = errno;
			continue;
		}
		if (connect(s, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
			e = errno;
			close(s);
			continue;
		}
		int w = wait_fd(s, POLLOUT, timeout_ms, 0, WAIT_STOP);
		socklen_t el = sizeof(e);
		if (!w && getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el))
			e = errno;
		else if (w)
			e = w;
		if (!e) {
			freeaddrinfo(res);
			*fd = s;
			return 0;
		}
		close(s);
		if (e == EINTR)
			break;
	}
	freeaddrinfo(res);
	if (e == ETIMEDOUT && timeout_ms >= 0)
		return cli_error("%s: cannot connect: no answer within %d s (--timeout)", ep->arg,
				 timeout_ms / 1000);
	if (e == EINTR)
		return cli_error("%s: interrupted while connecting", ep->arg);
	return cli_error("%s: cannot connect: %s", ep->arg, strerror(e));
}

static int listen_on(const struct sockaddr *sa, socklen_t len, bool dual, int *lfd)
{
	int s = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return errno;
	int one = 1, zero = 0;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (dual)
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(s, sa, len) || listen(s, 8)) {
		int e = errno;
		close(s);
		return e;
	}
	*lfd = s;
	return 0;
}

int cli_tcp_listen(const struct cli_endpoint *ep, int *lfd, unsigned *port)
{
	int e;
	if (!ep->host[0]) {
		/* Every address: one IPv6 socket taking IPv4 too, or IPv4 only
		 * on a host without IPv6. */
		struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
		struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = INADDR_ANY };
		a6.sin6_port = a4.sin_port = htons((uint16_t)atoi(ep->port));
		e = listen_on((struct sockaddr *)&a6, sizeof(a6), true, lfd);
		if (e == EAFNOSUPPORT)
			e = listen_on((struct sockaddr *)&a4, sizeof(a4), false, lfd);
	} else {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
					  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
		struct addrinfo *res;
		int g = getaddrinfo(ep->host, ep->port, &hints, &res);
		if (g)
			return cli_error("%s: cannot resolve '%s': %s", ep->arg, ep->host,
					 gai_strerror(g));
		e = EADDRNOTAVAIL;
		for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
			if (!(e = listen_on(ai->ai_addr, ai->ai_addrlen, false, lfd)))
				break;
		freeaddrinfo(res);
	}
	if (e)
		return cli_error("%s: cannot listen: %s", ep->arg, strerror(e));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(*lfd, (struct sockaddr *)&ss, &sl)) {
		e = errno;
		close(*lfd);
		return cli_error("%s: getsockname: %s", ep->arg, strerror(e));
	}
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

int cli_tcp_accept(int lfd, int timeout_ms, int *fd, char *peer, size_t peersz)
{
	int e;
	for (;;) {
		e = wait_fd(lfd, POLLIN, timeout_ms, 0, WAIT_STOP);
		if (e)
			break;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int s = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (s >= 0) {
			addr_text((struct sockaddr *)&ss, sl, peer, peersz);
			*fd = s;
			return 0;
		}
		/* A connection that went away before accept() is not ours to fail. */
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED) {
			e = errno;
			break;
		}
	}
	if (e == ETIMEDOUT)
		return cli_error("no connection within %d s (--timeout)", timeout_ms / 1000);
	if (e == EINTR)
		return cli_error("interrupted while waiting for a connection");
	return cli_error("accept: %s", strerror(e));
}

/* ---- channels ------------------------------------------------------------------ */

/* A pipe's default 64 KiB makes the two ends take turns every 16 pages:
 * ask for the most an unprivileged process may have (pipe-max-size, 1 MiB
 * by default), halving until the system agrees. Either end may set it. */
static void pipe_grow(int fd)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || !S_ISFIFO(st.st_mode))
		return;
	for (int sz = 1 << 20; sz > (1 << 16); sz /= 2)
		if (fcntl(fd, F_SETPIPE_SZ, sz) >= 0)
			return;
}

void cli_chan_init(struct cli_chan *c, int fd, const char *name, int timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->name = name;
	c->timeout_ms = timeout_ms;
	pipe_grow(fd);
}

void cli_chan_auth_deadline(struct cli_chan *c, int auth_timeout_ms)
{
	c->auth_timeout_ms = auth_timeout_ms;
	c->auth_deadline = auth_timeout_ms > 0 ? cli_now() + auth_timeout_ms / 1e3 : 0;
}

void cli_chan_authenticated(struct cli_chan *c)
{
	c->auth_deadline = 0;
}

void cli_chan_fini(struct cli_chan *c)
{
	sevmig_tls_free(c->tls);
	c->tls = NULL;
	free(c->rec);
	c->rec = NULL;
	c->rec_len = c->rec_cap = c->rec_pos = 0;
}

static int chan_fail(struct cli_chan *c, int e, bool writing)
{
	if (e == ECANCELED && cli_interrupted())
		e = EINTR; /* the TLS handle's cancel descriptor: our stop pipe */
	if (!c->err) {
		c->err = e;
		c->writing = writing;
	}
	return -e;
}

/*
 * A stop signal does not cut a write short at once: the progress callback
 * cancels at the next record boundary, and the sender then writes a clean
 * ABORT. A write the peer does not take within CLI_STOP_GRACE_MS of the
 * signal fails (EINTR): a stalled peer cannot hold the tool. Over TLS the
 * handle's cancel descriptor (the same pipe) ends a blocked write at once.
 */
int cli_chan_write(void *arg, const void *buf, size_t len)
{
	struct cli_chan *c = arg;
	if (c->tls) {
		int rc = sevmig_tls_write(c->tls, buf, len);
		if (rc < 0)
			return chan_fail(c, -rc, true);
		c->bytes += len;
		return 0;
	}
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(c->fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			c->bytes += (uint64_t)n;
		} else if (n < 0 && errno == EINTR) {
			if (cli_stop_grace_over())
				return chan_fail(c, EINTR, true);
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int e =
			    wait_fd(c->fd, POLLOUT, c->timeout_ms, c->auth_deadline, WAIT_GRACE);
			if (e)
				return chan_fail(c, e, true);
		} else {
			return chan_fail(c, n < 0 ? errno : EIO, true);
		}
	}
	return 0;
}

static int rec_append(struct cli_chan *c, const void *p, size_t n)
{
	if (c->rec_cap - c->rec_len < n) {
		size_t cap = c->rec_cap ? c->rec_cap : 4096;
		while (cap - c->rec_len < n)
			cap *= 2;
		uint8_t *r = realloc(c->rec, cap);
		if (!r)
			return -ENOMEM;
		c->rec = r;
		c->rec_cap = cap;
	}
	memcpy(c->rec + c->rec_len, p, n);
	c->rec_len += n;
	return 0;
}

ptrdiff_t cli_chan_read(void *arg, void *buf, size_t len)
{
	struct cli_chan *c = arg;
	if (!c->recording && c->rec_pos < c->rec_len) {
		size_t n = c->rec_len - c->rec_pos;
		n = n < len ? n : len;
		memcpy(buf, c->rec + c->rec_pos, n);
		c->rec_pos += n;
		return (ptrdiff_t)n;
	}
	if (c->tls) {
		if (cli_interrupted())
			return chan_fail(c, EINTR, false);
		ptrdiff_t n = sevmig_tls_read(c->tls, buf, len);
		if (n < 0)
			return chan_fail(c, (int)-n, false);
		c->bytes += (uint64_t)n;
		if (n && c->recording && rec_append(c, buf, (size_t)n))
			return chan_fail(c, ENOMEM, false);
		return n;
	}
	for (;;) {
		if (cli_interrupted())
			return chan_fail(c, EINTR, false);
		ssize_t n = read(c->fd, buf, len);
		if (n >= 0) {
			c->bytes += (uint64_t)n;
			if (n && c->recording && rec_append(c, buf, (size_t)n))
				return chan_fail(c, ENOMEM, false);
			return n;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return chan_fail(c, errno, false);
		int e = wait_fd(c->fd, POLLIN, c->timeout_ms, c->auth_deadline, WAIT_STOP);
		if (e)
			return chan_fail(c, e, false);
	}
}

void cli_chan_record(struct cli_chan *c)
{
	c->recording = true;
	c->rec_len = c->rec_pos = 0;
}

void cli_chan_replay(struct cli_chan *c)
{
	c->recording = false;
	c->rec_pos = 0;
}

const char *cli_chan_describe(const struct cli_chan *c, char *buf, size_t size)
{
	const char *what = c->writing ? "write" : "read";
	switch (c->err) {
	case EPIPE:
		snprintf(buf, size, "write failed: the reading side went away (broken pipe)");
		break;
	case ECONNRESET:
		snprintf(buf, size, "%s failed: the connection was reset by the peer", what);
		break;
	case ETIMEDOUT:
		snprintf(buf, size, "%s failed: nothing moved for %d s (--timeout)", what,
			 c->timeout_ms / 1000);
		break;
	case EINTR:
		snprintf(buf, size, "interrupted by a signal");
		break;
	case ETIME:
		snprintf(buf, size,
			 "%s failed: the peer sent no authenticated stream within %d s "
			 "(--auth-timeout)",
			 what, c->auth_timeout_ms / 1000);
		break;
	default:
		snprintf(buf, size, "%s failed: %s", what, strerror(c->err));
		break;
	}
	return buf;
}
