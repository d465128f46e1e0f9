/* SPDX-License-Identifier: MIT */
/* Moving a stream for the tools: endpoints, TCP, interruptible descriptor
 * callbacks, progress line and summary. */
#include "common/xfer.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- signals --------------------------------------------------------------- */

static volatile sig_atomic_t caught;
/* The self-pipe: written once by the first stop signal, never drained, so
 * it stays readable and every wait that polls it ends (a flag tested
 * before poll() would miss a signal landing between the test and the
 * call). */
static int stop_pipe[2] = { -1, -1 };
/* Set CLI_STOP_GRACE_S after the first stop signal: a write still blocked
 * then fails. */
static volatile sig_atomic_t grace_over;
#define CLI_STOP_GRACE_S 2

/*
 * A blocking descriptor (a pipe on standard output) cannot be polled with a
 * deadline: once the stop signal came, SIGALRM interrupts a blocked write
 * or read every second, so that the loop around it sees the flags, even
 * when the signal landed between the loop's test and the call.
 */
static void on_alarm(int sig)
{
	(void)sig;
	grace_over = 1;
	alarm(1);
}

static void on_signal(int sig)
{
	int saved = errno;
	if (!caught) {
		if (stop_pipe[1] >= 0)
			(void)!write(stop_pipe[1], "", 1);
		alarm(CLI_STOP_GRACE_S);
	}
	caught = sig;
	errno = saved;
	/* A second Ctrl-C kills, for a user whose peer has stalled. Repeated
	 * SIGTERMs are common (timeout(1) signals the child and its group) and
	 * must not cut the clean exit short. */
	if (sig == SIGINT)
		signal(sig, SIG_DFL);
}

static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };

void cli_catch_signals(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (stop_pipe[0] < 0 && pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK))
		stop_pipe[0] = stop_pipe[1] = -1; /* waits then end at EINTR only */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	/* No SA_RESTART: a blocked read or write must return EINTR. */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigaction(stop_signals[i], &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
}

int cli_stop_fd(void)
{
	return stop_pipe[0];
}

bool cli_interrupted(void)
{
	return caught != 0;
}

int cli_exit_status(int rc)
{
	/* As a shell reports a death by signal: 130 for SIGINT, 143 for
	 * SIGTERM, after the tool cleaned up (ABORT sent, temporaries gone). */
	return rc != CLI_OK && caught ? 128 + caught : rc;
}

void cli_block_signals(bool block)
{
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigaddset(&set, stop_signals[i]);
	sigaddset(&set, SIGALRM); /* it must interrupt the main thread's I/O */
	pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

/* ---- shared options ------------------------------------------------------------ */

void cli_xfer_opts_init(struct cli_xfer_opts *x)
{
	memset(x, 0, sizeof(*x));
	x->threads = cli_default_threads();
	/* A peer that stalls must not hold a tool (and its temporaries)
	 * forever: 60 s without a byte moving is a failure (--timeout 0: none). */
	x->timeout_ms = 60000;
}

void cli_xfer_opts_free(struct cli_xfer_opts *x)
{
	for (size_t i = 0; i < x->nmem; i++)
		cli_memspec_free(&x->mem[i]);
	free(x->mem);
	x->mem = NULL;
	x->nmem = 0;
}

int cli_xfer_opt(struct cli_xfer_opts *x, int c, char **argv, void (*usage)(FILE *))
{
	uint64_t v;
	switch (c) {
	case 'm': {
		struct cli_memspec *n = realloc(x->mem, (x->nmem + 1) * sizeof(*n));
		if (!n)
			return cli_error("out of memory");
		x->mem = n;
		if (cli_memspec_parse(optarg, &x->mem[x->nmem]))
			return CLI_ERR;
		x->nmem++;
		return 0;
	}
	case 'T':
		if (cli_parse_uint_opt("--threads", optarg, 64, &v))
			return CLI_ERR;
		x->threads = (unsigned)v;
		return 0;
	case CLI_OPT_TIMEOUT:
		if (cli_parse_uint_opt("--timeout", optarg, 86400, &v))
			return CLI_ERR;
		x->timeout_ms = v ? (int)v * 1000 : -1;
		return 0;
	case CLI_OPT_JSON:
		x->json = true;
		return 0;
	case CLI_OPT_PSK:
		x->psk = optarg;
		return 0;
	case CLI_OPT_INSECURE:
		x->insecure = true;
		return 0;
	case CLI_OPT_TLS_CERT:
		x->tls_cert = optarg;
		return 0;
	case CLI_OPT_TLS_KEY:
		x->tls_key = optarg;
		return 0;
	case CLI_OPT_TLS_CA:
		x->tls_ca = optarg;
		return 0;
	case CLI_OPT_TLS_PEER:
		x->tls_peer = optarg;
		return 0;
	case CLI_OPT_TLS_PIN: {
		/* SHA-256 as hex, with or without colons (openssl x509 -fingerprint). */
		size_t k = 0;
		for (const char *q = optarg; *q && k < 64; q++) {
			if (*q == ':')
				continue;
			int d = *q >= '0' && *q <= '9'	 ? *q - '0'
				: *q >= 'a' && *q <= 'f' ? *q - 'a' + 10
				: *q >= 'A' && *q <= 'F' ? *q - 'A' + 10
							 : -1;
			if (d < 0)
				break;
			x->tls_pin[k / 2] = (uint8_t)(k % 2 ? x->tls_pin[k / 2] | d : d << 4);
			k++;
		}
		if (k != 64 || strspn(optarg, "0123456789abcdefABCDEF:") != strlen(optarg))
			return cli_error("--tls-pin '%s': give the certificate's SHA-256 "
					 "fingerprint, 64 hex digits (colons allowed)",
					 optarg);
		x->has_pin = true;
		return 0;
	}
	case 'q':
		x->quiet = true;
		return 0;
	case 'h':
		usage(stdout);
		exit(CLI_OK);
	case 'V':
		printf("%s %s\n", cli_prog(), sevmig_version_string());
		exit(CLI_OK);
	case ':':
		return cli_error("%s needs a value", argv[optind - 1]);
	default:
		return cli_error("unknown option '%s' (see %s --help)", argv[optind - 1],
				 cli_prog());
	}
}

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

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
	double t0 = now(), grace = 0;
	for (;;) {
		double t = now(), until = timeout_ms < 0 ? 0 : t0 + timeout_ms / 1e3;
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

void cli_chan_init(struct cli_chan *c, int fd, const char *name, int timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->name = name;
	c->timeout_ms = timeout_ms;
}

void cli_chan_auth_deadline(struct cli_chan *c, int auth_timeout_ms)
{
	c->auth_timeout_ms = auth_timeout_ms;
	c->auth_deadline = auth_timeout_ms > 0 ? now() + auth_timeout_ms / 1e3 : 0;
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
			if (grace_over)
				return chan_fail(c, EINTR, true);
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int e = wait_fd(c->fd, POLLOUT, c->timeout_ms, c->auth_deadline,
					WAIT_GRACE);
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

/* ---- progress and summary ---------------------------------------------------- */

void cli_progress_init(struct cli_progress *p, bool show)
{
	memset(p, 0, sizeof(*p));
	p->show = show;
	p->start = now();
}

double cli_progress_elapsed(const struct cli_progress *p)
{
	return now() - p->start;
}

static uint64_t pages_done(const struct sevmig_stream_counts *c)
{
	return c->enc_pages + c->plain_pages + c->zero_pages;
}

int cli_progress_update(void *arg, const struct sevmig_stream_counts *c)
{
	struct cli_progress *p = arg;
	if (cli_interrupted())
		return 1;
	if (!p->show || !p->total_pages)
		return 0;
	double t = now();
	if (t - p->last < 0.1)
		return 0;
	p->last = t;
	double el = t - p->start;
	uint64_t done = pages_done(c), total = p->total_pages;
	if (done > total)
		done = total;
	double mbs = el > 0 ? (double)done * SEVMIG_PAGE_SIZE / el / 1e6 : 0;
	fprintf(stderr, "\r%s: %" PRIu64 "/%" PRIu64 " pages (%u%%), %.1f MB/s", cli_prog(), done,
		total, (unsigned)(done * 100 / total), mbs);
	if (done && done < total) {
		double left = el * (double)(total - done) / (double)done;
		fprintf(stderr, ", %u:%02u left", (unsigned)left / 60, (unsigned)left % 60);
	}
	fputs("\033[K", stderr);
	p->drawn = true;
	return 0;
}

void cli_progress_clear(struct cli_progress *p)
{
	if (p->drawn)
		fputs("\r\033[K", stderr);
	p->drawn = false;
}

void cli_uuid_format(const uint8_t u[16], char out[37])
{
	char *o = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		o += sprintf(o, "%02x", u[i]);
	}
}

void cli_summary_print(FILE *f, const struct cli_summary *s, bool json)
{
	const struct sevmig_stream_counts *c = &s->counts;
	char uuid[37] = "";
	if (s->uuid)
		cli_uuid_format(s->uuid, uuid);
	double sec = s->seconds > 1e-9 ? s->seconds : 1e-9;
	double guest_mb = (double)pages_done(c) * SEVMIG_PAGE_SIZE / 1e6;
	double stream_mb = (double)c->bytes / 1e6;
	struct sevmig_pstate_stats st = { 0 };
	if (s->ps)
		sevmig_pstate_stats(s->ps, &st);
	if (json) {
		fprintf(f, "{\"tool\":");
		cli_json_string(f, s->tool);
		fprintf(f, ",\"stream\":");
		cli_json_string(f, s->stream);
		fprintf(f, ",\"uuid\":");
		cli_json_string(f, uuid);
		fprintf(f,
			",\"policy\":%" PRIu32 ",\"guest_pages\":%" PRIu64
			",\"guest_bytes\":%" PRIu64 ",\"pages\":{\"encrypted\":%" PRIu64
			",\"plain\":%" PRIu64 ",\"zero\":%" PRIu64 "},\"vmsa\":%" PRIu64
			",\"records\":%" PRIu64 ",\"rounds\":%" PRIu64 ",\"stream_bytes\":%" PRIu64
			",\"plain_wire_bytes\":%" PRIu64,
			s->policy, s->guest_pages, s->guest_pages * SEVMIG_PAGE_SIZE, c->enc_pages,
			c->plain_pages, c->zero_pages, c->vmsa, c->records, c->rounds, c->bytes,
			c->plain_wire_bytes);
		if (s->ps)
			fprintf(f,
				",\"page_state\":{\"shared_pages\":%" PRIu64
				",\"private_pages\":%" PRIu64 ",\"shared_runs\":%" PRIu64 "}",
				st.shared_pages, st.private_pages, st.shared_runs);
		if (s->integrity)
			fprintf(f, ",\"integrity\":\"%s\"", s->integrity);
		if (s->delivery)
			fprintf(f, ",\"delivery\":\"%s\"", s->delivery);
		fprintf(f, ",\"seconds\":%.3f,\"guest_mb_per_s\":%.1f,\"stream_mb_per_s\":%.1f}\n",
			s->seconds, guest_mb / sec, stream_mb / sec);
		return;
	}
	fprintf(f, "%s: %" PRIu64 " pages (%.1f MB) in %.2f s: %.1f MB/s of guest memory\n",
		s->tool, pages_done(c), guest_mb, s->seconds, guest_mb / sec);
	fprintf(f,
		"  encrypted %" PRIu64 ", plain %" PRIu64
		" (%.1f MB -> %.1f MB on the wire), zero %" PRIu64 "\n",
		c->enc_pages, c->plain_pages, (double)c->plain_pages * SEVMIG_PAGE_SIZE / 1e6,
		(double)c->plain_wire_bytes / 1e6, c->zero_pages);
	fprintf(f, "  stream %s: %.1f MB in %" PRIu64 " records + END, %.1f MB/s\n", s->stream,
		stream_mb, c->records, stream_mb / sec);
	if (s->integrity || s->delivery)
		fprintf(f, "  integrity %s; %s\n", s->integrity ? s->integrity : "-",
			!s->delivery ? "-"
			: !strcmp(s->delivery, "committed")
			    ? "committed: the target verified everything and took over"
			    : "written, not acknowledged (one-way output)");
	if (s->ps)
		fprintf(f,
			"  page state: %" PRIu64 " shared pages in %" PRIu64 " runs, %" PRIu64
			" private\n",
			st.shared_pages, st.shared_runs, st.private_pages);
	if (s->uuid)
		fprintf(f, "  migration %s, policy 0x%" PRIx32 "\n", uuid, s->policy);
}

int cli_parse_uint_opt(const char *opt, const char *val, uint64_t max, uint64_t *out)
{
	if (cli_parse_u64(val, out) || *out > max)
		return cli_error("%s wants a number from 0 to %" PRIu64 ", not '%s'", opt, max,
				 val);
	return 0;
}

unsigned cli_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > 16 ? 16 : (unsigned)n;
}

int cli_soft_fw(const char *key_path, bool launch, uint32_t policy, struct sevmig_fw **fw)
{
	struct sevmig_error err;
	sevmig_error_clear(&err);
	SEVMIG_OPTS(sevmig_fw_soft_opts, fo, .pdh_key_path = key_path, .launch = launch,
		    .policy = policy, .err = &err);
	int rc = sevmig_fw_soft_new(&fo, fw);
	if (!rc)
		return 0;
	*fw = NULL;
	if (err.message[0])
		return cli_error("%s", err.message);
	return cli_error("%s: %s", key_path ? key_path : "the software firmware model",
			 sevmig_strerror(rc));
}

int cli_xfer_key(const struct cli_xfer_opts *x, const struct cli_chan *c,
		 uint8_t key[SEVMIG_KEY_SIZE], uint32_t *source)
{
	if (c && c->tls) {
		if (x->psk || x->insecure)
			return cli_error(
			    "a tls:// migration is keyed by TLS itself: drop --psk and "
			    "--insecure");
		struct sevmig_error e;
		sevmig_error_clear(&e);
		if (sevmig_tls_export(c->tls, SEVMIG_TLS_EXPORTER_LABEL, key, SEVMIG_KEY_SIZE, &e))
			return cli_error("%s: %s", c->name, e.message);
		*source = SEVMIG_KEY_TLS;
		return 0;
	}
	if (x->psk && x->insecure)
		return cli_error("--psk and --insecure exclude each other");
	if (x->insecure) {
		fprintf(stderr,
			"%s: warning: --insecure: the stream has no keyed integrity; anyone "
			"on the path can alter it or impersonate the source\n",
			cli_prog());
		*source = SEVMIG_KEY_NONE;
		return 0;
	}
	if (!x->psk)
		return cli_error("no stream key: give --psk FILE (made once with 'sevmig-recv "
				 "--gen-psk FILE' and copied to both hosts), or --insecure");
	struct sevmig_error err;
	sevmig_error_clear(&err);
	if (sevmig_psk_load(x->psk, key, &err) < 0)
		return cli_error("%s", err.message);
	*source = SEVMIG_KEY_PSK;
	return 0;
}

int cli_chan_tls(struct cli_chan *c, const struct cli_xfer_opts *x, bool server)
{
	if (!x->tls_cert || !x->tls_key || (!x->tls_ca && !x->has_pin))
		return cli_error("%s: TLS needs --tls-cert and --tls-key (this host's certificate "
				 "and key) and --tls-ca or --tls-pin (to authenticate the peer)",
				 c->name);
	SEVMIG_OPTS(sevmig_tls_opts, o, .cert_file = x->tls_cert, .key_file = x->tls_key,
		    .ca_file = x->tls_ca, .peer_name = x->tls_peer,
		    .pin_sha256 = x->has_pin ? x->tls_pin : NULL,
		    .handshake_timeout_ms = c->auth_deadline > 0 ? c->auth_timeout_ms : 0,
		    .io_timeout_ms = c->timeout_ms < 0 ? -1 : c->timeout_ms,
		    .cancel_fd = cli_stop_fd() >= 0 ? &stop_pipe[0] : NULL);
	struct sevmig_error e;
	sevmig_error_clear(&e);
	int rc = server ? sevmig_tls_server(c->fd, &o, &c->tls, &e)
			: sevmig_tls_client(c->fd, &o, &c->tls, &e);
	if (rc)
		return cli_error("%s: %s", c->name, e.message[0] ? e.message : sevmig_strerror(rc));
	return 0;
}
