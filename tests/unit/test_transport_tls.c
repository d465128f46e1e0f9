/* SPDX-License-Identifier: MIT */
/*
 * The TLS 1.3 transport (<sevmig/transport.h>): real handshakes between two
 * threads over socketpair(AF_UNIX) and loopback TCP, with a PKI the
 * `openssl` tool makes at test time: mutual authentication and exporters,
 * every refusal with its message (wrong CA, expired, wrong name, no client
 * certificate, TLS 1.2 peers, pins, PSKs), timeouts, truncation, SIGPIPE,
 * 8 MiB each way, options; and interoperability with `openssl s_server`
 * and `openssl s_client`. Exits 77 without the openssl tool.
 */
#include "testutil.h"

#include <sevmig/transport.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* Generous, so that a bug fails a test instead of hanging it. */
#define HS_MS 10000
#define IO_MS 20000

/* ---- the test PKI, made with the openssl tool ---------------------------- */

static struct {
	char dir[64];
	char openssl[512]; /* the tool's path */
	char conf[128];	   /* OPENSSL_CONF for every run: nothing from the host */
	char path_env[4096];
	uint8_t srv_fp[32], cli_fp[32], exp_fp[32];
} pki;

static const char *pf(const char *name)
{
	/* Several paths live at once in one opts struct: a ring of buffers
	 * (main thread only: peers get their paths before they start). */
	static char ring[64][128];
	static unsigned next;
	char *b = ring[next++ % 64];
	snprintf(b, sizeof(ring[0]), "%s/%s", pki.dir, name);
	return b;
}

static bool find_openssl(void)
{
	const char *path = getenv("PATH");
	snprintf(pki.path_env, sizeof(pki.path_env), "PATH=%s", path ? path : "/usr/bin:/bin");
	char copy[4096];
	snprintf(copy, sizeof(copy), "%s", path ? path : "/usr/bin:/bin");
	for (char *save = NULL, *d = strtok_r(copy, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		snprintf(pki.openssl, sizeof(pki.openssl), "%s/openssl", d);
		if (access(pki.openssl, X_OK) == 0)
			return true;
	}
	return false;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048], full[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd '%s' && export OPENSSL_CONF='%s' && (%s) >>pki.log 2>&1",
		 pki.dir, pki.conf, cmd);
	int rc = system(full);
	if (rc != 0)
		fprintf(stderr, "failed (%d): %s (see %s/pki.log)\n", rc, cmd, pki.dir);
	return rc;
}

static int write_text(const char *name, const char *text)
{
	FILE *f = fopen(pf(name), "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int read_fingerprint(const char *cert, uint8_t out[32])
{
	if (sh("'%s' x509 -noout -fingerprint -sha256 -in %s.crt > %s.fp", pki.openssl, cert, cert))
		return -1;
	char name[64];
	snprintf(name, sizeof(name), "%s.fp", cert);
	size_t len;
	char *s = tu_read_file(pf(name), &len);
	char *p = s ? strchr(s, '=') : NULL;
	int rc = p ? 0 : -1;
	for (size_t i = 0; p && i < 32; i++) {
		unsigned v;
		if (sscanf(p + 1 + 3 * i, "%2x", &v) != 1) {
			rc = -1;
			break;
		}
		out[i] = (uint8_t)v;
	}
	free(s);
	return rc;
}

static const char PKI_CONF[] = "[req]\n"
			       "distinguished_name = dn\n"
			       "prompt = no\n"
			       "[dn]\n"
			       "CN = unused\n"
			       "[v3_ca]\n"
			       "basicConstraints = critical,CA:TRUE\n"
			       "keyUsage = critical,keyCertSign,cRLSign\n"
			       "subjectKeyIdentifier = hash\n"
			       "[ca]\n"
			       "default_ca = tca\n"
			       "[tca]\n"
			       "database = index.txt\n"
			       "new_certs_dir = .\n"
			       "serial = serial\n"
			       "default_md = sha256\n"
			       "policy = anything\n"
			       "unique_subject = no\n"
			       "[anything]\n"
			       "commonName = supplied\n";

static const char LEAF_EXT[] = "basicConstraints = critical,CA:FALSE\n"
			       "keyUsage = critical,digitalSignature\n"
			       "extendedKeyUsage = serverAuth,clientAuth\n"
			       "subjectKeyIdentifier = hash\n"
			       "authorityKeyIdentifier = keyid\n";

static int make_leaf(const char *name, const char *cn, const char *san, const char *ca)
{
	char ext[512], file[64];
	snprintf(ext, sizeof(ext), "%ssubjectAltName = %s\n", LEAF_EXT, san);
	snprintf(file, sizeof(file), "%s.ext", name);
	if (write_text(file, ext))
		return -1;
	if (sh("'%s' req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s.key "
	       "-out %s.csr -subj /CN=%s",
	       pki.openssl, name, name, cn))
		return -1;
	return sh("'%s' x509 -req -in %s.csr -CA %s.crt -CAkey %s.key -CAcreateserial -days 30 "
		  "-extfile %s -out %s.crt",
		  pki.openssl, name, ca, ca, file, name);
}

static int make_pki(void)
{
	snprintf(pki.dir, sizeof(pki.dir), "/tmp/sevmig-tls-XXXXXX");
	if (!mkdtemp(pki.dir))
		return -1;
	snprintf(pki.conf, sizeof(pki.conf), "%s/openssl.cnf", pki.dir);
	if (write_text("openssl.cnf", PKI_CONF) || write_text("index.txt", "") ||
	    write_text("serial", "1000\n"))
		return -1;
	for (int i = 1; i <= 2; i++)
		if (sh("'%s' req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
		       "ca%d.key -out ca%d.crt -days 30 -subj '/CN=sevmig test CA %d' "
		       "-extensions v3_ca",
		       pki.openssl, i, i, i))
			return -1;
	if (make_leaf("srv", "target", "DNS:target.example,IP:127.0.0.1", "ca1") ||
	    make_leaf("cli", "source", "DNS:source.example", "ca1") ||
	    make_leaf("other", "target", "DNS:target.example", "ca2"))
		return -1;
	/* Valid in January 2020 only: `openssl x509 -req` has no start date. */
	if (sh("'%s' ca -batch -config openssl.cnf -cert ca1.crt -keyfile ca1.key -in srv.csr "
	       "-out exp.crt -startdate 20200101000000Z -enddate 20200201000000Z -extfile srv.ext "
	       "-notext",
	       pki.openssl))
		return -1;
	/* A passphrase-protected key, which must fail without a prompt. */
	if (sh("'%s' pkey -in cli.key -aes256 -passout pass:secret -out enc.key", pki.openssl))
		return -1;
	if (read_fingerprint("srv", pki.srv_fp) || read_fingerprint("cli", pki.cli_fp) ||
	    read_fingerprint("exp", pki.exp_fp))
		return -1;
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	if (make_pki() != 0) {
		fprintf(stderr, "cannot make the test PKI with %s\n", pki.openssl);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- options ---------------------------------------------------------- */

static struct sevmig_tls_opts cert_opts(const char *me, const char *ca, const char *peer_name)
{
	char c[32], k[32], a[32];
	snprintf(c, sizeof(c), "%s.crt", me);
	snprintf(k, sizeof(k), "%s.key", me);
	snprintf(a, sizeof(a), "%s.crt", ca ? ca : "");
	SEVMIG_OPTS(sevmig_tls_opts, o, .cert_file = pf(c), .key_file = pf(k),
		    .ca_file = ca ? pf(a) : NULL, .peer_name = peer_name,
		    .handshake_timeout_ms = HS_MS, .io_timeout_ms = IO_MS);
	return o;
}

static const uint8_t PSK[32] = "0123456789abcdef0123456789abcde";

static struct sevmig_tls_opts psk_opts(const uint8_t *psk, const char *identity)
{
	SEVMIG_OPTS(sevmig_tls_opts, o, .psk = psk, .psk_len = 32, .psk_identity = identity,
		    .handshake_timeout_ms = HS_MS, .io_timeout_ms = IO_MS);
	return o;
}

/* ---- two peers, one thread each ---------------------------------------------- */

struct peer {
	bool server;
	int fd;
	struct sevmig_tls_opts o;
	int (*body)(struct peer *p); /* after a successful handshake */
	sem_t *wait_sem, *post_sem;  /* body synchronization, if set */
	const uint8_t *data;	     /* large transfer */
	size_t data_len;
	int fd_cancel_w; /* the write end of o.cancel_fd's pipe, for a body */

	int rc, body_rc;
	struct sevmig_error err;
	struct sevmig_tls *t;
	uint8_t key[32];
	char why[256];		  /* what the body saw go wrong */
	unsigned long queue_left; /* the thread's OpenSSL error queue afterwards */
	int64_t elapsed_ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	sevmig_error_clear(&p->err);
	int64_t t0 = now_ms();
	p->rc = p->server ? sevmig_tls_server(p->fd, &p->o, &p->t, &p->err)
			  : sevmig_tls_client(p->fd, &p->o, &p->t, &p->err);
	p->elapsed_ms = now_ms() - t0;
	if (p->rc == 0 && p->body)
		p->body_rc = p->body(p);
	p->queue_left = ERR_peek_error();
	return NULL;
}

static void tcp_pair(int fds[2])
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(l >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fds[0], (struct sockaddr *)&a, sizeof(a)), 0);
	fds[1] = accept(l, NULL, NULL);
	assert_true(fds[1] >= 0);
	close(l);
}

static void run_pair(struct peer *c, struct peer *s, bool tcp)
{
	int fds[2];
	if (tcp)
		tcp_pair(fds);
	else
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	c->fd = fds[0];
	s->fd = fds[1];
	c->server = false;
	s->server = true;
	pthread_t tc, ts;
	assert_int_equal(pthread_create(&tc, NULL, peer_main, c), 0);
	assert_int_equal(pthread_create(&ts, NULL, peer_main, s), 0);
	pthread_join(tc, NULL);
	pthread_join(ts, NULL);
	/* Every call leaves the calling thread's error queue empty. */
	assert_int_equal(c->queue_left, 0);
	assert_int_equal(s->queue_left, 0);
}

static void pair_done(struct peer *c, struct peer *s)
{
	sevmig_tls_free(c->t);
	sevmig_tls_free(s->t);
	close(c->fd);
	close(s->fd);
}

static void expect_fail(const struct peer *p, int code, const char *text)
{
	if (getenv("SEVMIG_TEST_VERBOSE")) /* to read every message */
		fprintf(stderr, "  %s: %d %s\n", p->server ? "server" : "client", p->rc,
			p->err.message);
	if (p->rc != code || !strstr(p->err.message, text))
		fprintf(stderr, "%s: rc %d (%s), wanted %d with \"%s\"\n",
			p->server ? "server" : "client", p->rc, p->err.message, code, text);
	assert_int_equal(p->rc, code);
	assert_int_equal(p->err.code, code);
	assert_non_null(strstr(p->err.message, text));
	assert_null(p->t);
	assert_null(strchr(p->err.message, '\n'));
}

static void expect_ok(const struct peer *p)
{
	if (p->rc != 0 || p->body_rc != 0)
		fprintf(stderr, "%s: rc %d (%s), body %d (%s)\n", p->server ? "server" : "client",
			p->rc, p->err.message, p->body_rc, p->why);
	assert_int_equal(p->rc, 0);
	assert_int_equal(p->body_rc, 0);
	assert_non_null(p->t);
}

/* ---- bodies ---------------------------------------------------------------- */

static int bad(struct peer *p, int rc, const char *what)
{
	snprintf(p->why, sizeof(p->why), "%s: %d %s", what, rc, sevmig_tls_last_error(p->t));
	return rc < 0 ? rc : -EBADMSG;
}

static int read_full(struct sevmig_tls *t, void *buf, size_t len)
{
	uint8_t *b = buf;
	while (len) {
		ptrdiff_t n = sevmig_tls_read(t, b, len);
		if (n <= 0)
			return n == 0 ? -ENODATA : (int)n;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static const char PING[] = "ping from the source\n";
static const char PONG[] = "pong from the target\n";

/* A line each way, the exporter, then close_notify both ways. */
static int body_exchange(struct peer *p)
{
	char buf[64];
	int rc;
	const char *mine = p->server ? PONG : PING, *theirs = p->server ? PING : PONG;
	if (!p->server && (rc = sevmig_tls_write(p->t, mine, strlen(mine))) != 0)
		return bad(p, rc, "write");
	if ((rc = read_full(p->t, buf, strlen(theirs))) != 0)
		return bad(p, rc, "read");
	if (memcmp(buf, theirs, strlen(theirs)) != 0)
		return bad(p, 0, "wrong data");
	if (p->server && (rc = sevmig_tls_write(p->t, mine, strlen(mine))) != 0)
		return bad(p, rc, "write");
	if ((rc = sevmig_tls_export(p->t, SEVMIG_TLS_EXPORTER_STREAM, p->key, 32, NULL)) != 0)
		return bad(p, rc, "export");
	if (p->server) {
		ptrdiff_t n = sevmig_tls_read(p->t, buf, sizeof(buf));
		if (n != 0)
			return bad(p, (int)n, "close_notify expected");
		if ((rc = sevmig_tls_shutdown(p->t, NULL)) != 0)
			return bad(p, rc, "shutdown");
	} else {
		if ((rc = sevmig_tls_shutdown(p->t, NULL)) != 0)
			return bad(p, rc, "shutdown");
		ptrdiff_t n = sevmig_tls_read(p->t, buf, sizeof(buf));
		if (n != 0)
			return bad(p, (int)n, "close_notify expected");
		/* And again: the end stays the end. */
		if (sevmig_tls_read(p->t, buf, sizeof(buf)) != 0)
			return bad(p, -1, "second read after close_notify");
	}
	return 0;
}

/* One read; its result is the body's result (for refusals seen late). */
static int body_read_once(struct peer *p)
{
	char buf[16];
	ptrdiff_t n = sevmig_tls_read(p->t, buf, sizeof(buf));
	snprintf(p->why, sizeof(p->why), "%s", sevmig_tls_last_error(p->t));
	return (int)n;
}

static int body_wait(struct peer *p)
{
	sem_wait(p->wait_sem);
	return 0;
}

/* Read with nothing coming: the io timeout, and the handle stays dead. */
static int body_idle_read(struct peer *p)
{
	char buf[16];
	int64_t t0 = now_ms();
	ptrdiff_t n = sevmig_tls_read(p->t, buf, sizeof(buf));
	p->elapsed_ms = now_ms() - t0;
	snprintf(p->why, sizeof(p->why), "%s", sevmig_tls_last_error(p->t));
	ptrdiff_t again = sevmig_tls_read(p->t, buf, sizeof(buf));
	int wrc = sevmig_tls_write(p->t, "x", 1);
	sem_post(p->post_sem);
	if (again != n || wrc != (int)n)
		return -EALREADY;
	return (int)n;
}

/* Leave without close_notify: free the handle, then a TCP FIN. */
static int body_drop(struct peer *p)
{
	sevmig_tls_free(p->t);
	p->t = NULL;
	shutdown(p->fd, SHUT_WR);
	return 0;
}

/* Leave entirely (read and write sides), then let the writer go. */
static int body_vanish(struct peer *p)
{
	sevmig_tls_free(p->t);
	p->t = NULL;
	shutdown(p->fd, SHUT_RDWR);
	sem_post(p->post_sem);
	return 0;
}

static int body_write_to_gone(struct peer *p)
{
	sem_wait(p->wait_sem);
	static uint8_t chunk[1 << 16];
	for (int i = 0; i < 64; i++) { /* bounded: 4 MiB at most */
		int rc = sevmig_tls_write(p->t, chunk, sizeof(chunk));
		if (rc < 0) {
			snprintf(p->why, sizeof(p->why), "%s", sevmig_tls_last_error(p->t));
			return rc;
		}
	}
	return 0;
}

/* Cancel, then write more than the socket holds to a peer that reads
 * nothing: the blocked write ends with -ECANCELED, not at the io timeout. */
static int body_cancel_write(struct peer *p)
{
	static uint8_t chunk[1 << 16];
	int cancel_write = p->fd_cancel_w;
	int rc = write(cancel_write, "x", 1) == 1 ? 0 : -errno;
	int64_t t0 = now_ms();
	for (int i = 0; i < 1024 && rc == 0; i++) /* bounded: 64 MiB at most */
		rc = sevmig_tls_write(p->t, chunk, sizeof(chunk));
	p->elapsed_ms = now_ms() - t0;
	snprintf(p->why, sizeof(p->why), "%s", sevmig_tls_last_error(p->t));
	sem_post(p->post_sem);
	return rc;
}

/* data_len bytes source -> target, then back. */
static int body_bulk(struct peer *p)
{
	uint8_t *in = malloc(p->data_len);
	int rc = in ? 0 : -ENOMEM;
	for (int dir = 0; dir < 2 && rc == 0; dir++) {
		bool sending = (dir == 0) != p->server;
		if (sending) {
			rc = sevmig_tls_write(p->t, p->data, p->data_len);
		} else {
			memset(in, 0, p->data_len);
			rc = read_full(p->t, in, p->data_len);
			if (rc == 0 && memcmp(in, p->data, p->data_len) != 0)
				rc = -EBADMSG;
		}
		if (rc)
			bad(p, rc, sending ? "bulk write" : "bulk read");
	}
	free(in);
	if (rc == 0 && (rc = sevmig_tls_shutdown(p->t, NULL)) == 0) {
		char b[4];
		rc = (int)sevmig_tls_read(p->t, b, sizeof(b));
	}
	return rc;
}

/* ---- mutual authentication ------------------------------------------------- */

static void mutual_once(bool tcp, uint8_t ckey[32])
{
	struct peer c = { .o = cert_opts("cli", "ca1", "target.example"), .body = body_exchange };
	struct peer s = { .o = cert_opts("srv", "ca1", "source.example"), .body = body_exchange };
	run_pair(&c, &s, tcp);
	expect_ok(&c);
	expect_ok(&s);
	assert_memory_equal(c.key, s.key, 32);
	memcpy(ckey, c.key, 32);

	uint8_t fp[32];
	assert_int_equal(sevmig_tls_peer_fingerprint(c.t, fp), 0);
	assert_memory_equal(fp, pki.srv_fp, 32); /* the pin is openssl's fingerprint */
	assert_int_equal(sevmig_tls_peer_fingerprint(s.t, fp), 0);
	assert_memory_equal(fp, pki.cli_fp, 32);
	assert_string_equal(sevmig_tls_peer_subject(c.t), "CN=target");
	assert_string_equal(sevmig_tls_peer_subject(s.t), "CN=source");
	assert_non_null(sevmig_tls_cipher(c.t));
	assert_string_equal(sevmig_tls_cipher(c.t), sevmig_tls_cipher(s.t));
	assert_int_equal(strncmp(sevmig_tls_cipher(c.t), "TLS_", 4), 0);
	assert_false(sevmig_tls_psk_used(c.t));
	assert_false(sevmig_tls_psk_used(s.t));
	assert_string_equal(sevmig_tls_last_error(c.t), "");

	/* Exporter: deterministic per label, label-separated, any length. */
	uint8_t a[64], b[64];
	assert_int_equal(sevmig_tls_export(c.t, SEVMIG_TLS_EXPORTER_STREAM, a, 32, NULL), 0);
	assert_memory_equal(a, c.key, 32);
	assert_int_equal(sevmig_tls_export(c.t, "EXPORTER-other", b, 32, NULL), 0);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(sevmig_tls_export(c.t, "EXPORTER-other", a, 64, NULL), 0);
	assert_int_equal(sevmig_tls_export(s.t, "EXPORTER-other", b, 64, NULL), 0);
	assert_memory_equal(a, b, 64);
	struct sevmig_error err;
	assert_int_equal(sevmig_tls_export(c.t, "", a, 32, &err), -EINVAL);
	assert_int_equal(sevmig_tls_export(c.t, "x", a, 0, &err), -EINVAL);
	assert_int_equal(sevmig_tls_export(c.t, NULL, a, 32, &err), -EINVAL);
	assert_int_equal(ERR_peek_error(), 0);

	/* After close_notify both ways: writing is refused, shutdown idempotent. */
	assert_int_equal(sevmig_tls_write(c.t, "x", 1), -EPIPE);
	assert_int_equal(sevmig_tls_shutdown(c.t, NULL), 0);
	pair_done(&c, &s);
}

static void mutual_auth_socketpair(void **state)
{
	(void)state;
	uint8_t k1[32], k2[32];
	mutual_once(false, k1);
	mutual_once(false, k2);
	/* Each connection has its own secret. */
	assert_memory_not_equal(k1, k2, 32);
}

static void mutual_auth_tcp(void **state)
{
	(void)state;
	uint8_t k1[32], k2[32];
	mutual_once(true, k1);
	mutual_once(true, k2);
	assert_memory_not_equal(k1, k2, 32);
}

static void ca_directory_and_ip_name(void **state)
{
	(void)state;
	/* A hashed CA directory instead of a file, and an IP subjectAltName. */
	assert_int_equal(mkdir(pf("cadir"), 0700), 0);
	assert_int_equal(sh("cp ca1.crt cadir/ && '%s' rehash cadir", pki.openssl), 0);
	struct peer c = { .o = cert_opts("cli", NULL, "127.0.0.1"), .body = body_exchange };
	c.o.ca_dir = pf("cadir");
	struct peer s = { .o = cert_opts("srv", "ca1", NULL), .body = body_exchange };
	run_pair(&c, &s, true);
	expect_ok(&c);
	expect_ok(&s);
	pair_done(&c, &s);

	struct peer c2 = { .o = cert_opts("cli", "ca1", "127.0.0.2") };
	struct peer s2 = { .o = cert_opts("srv", "ca1", NULL) };
	run_pair(&c2, &s2, true);
	expect_fail(&c2, -EACCES, "TLS handshake: peer name mismatch (wanted 127.0.0.2)");
	expect_fail(&s2, -EACCES, "peer refused our certificate");
	pair_done(&c2, &s2);
}

/* ---- refusals ------------------------------------------------------------------- */

static void wrong_ca(void **state)
{
	(void)state;
	/* The client does not trust the server's CA. */
	struct peer c = { .o = cert_opts("cli", "ca2", "target.example"), .body = body_exchange };
	struct peer s = { .o = cert_opts("srv", "ca1", NULL), .body = body_exchange };
	run_pair(&c, &s, false);
	expect_fail(&c, -EACCES,
		    "TLS handshake: peer certificate verify failed: unable to get local issuer "
		    "certificate");
	expect_fail(&s, -EACCES, "TLS handshake: peer refused our certificate (alert: unknown CA)");
	pair_done(&c, &s);

	/* A server certificate from another CA. */
	struct peer c2 = { .o = cert_opts("cli", "ca1", "target.example") };
	struct peer s2 = { .o = cert_opts("other", "ca1", NULL) };
	run_pair(&c2, &s2, false);
	expect_fail(&c2, -EACCES, "peer certificate verify failed");
	pair_done(&c2, &s2);

	/* The server does not trust the client's CA. TLS 1.3: the client's
	 * handshake is over before the server checks; its first read says. */
	struct peer c3 = { .o = cert_opts("cli", "ca1", "target.example"), .body = body_read_once };
	struct peer s3 = { .o = cert_opts("srv", "ca2", NULL), .body = body_exchange };
	run_pair(&c3, &s3, false);
	expect_fail(&s3, -EACCES, "TLS handshake: peer certificate verify failed");
	assert_int_equal(c3.rc, 0);
	assert_int_equal(c3.body_rc, -EACCES);
	assert_string_equal(c3.why, "TLS read: peer refused our certificate (alert: unknown CA)");
	pair_done(&c3, &s3);
}

static void expired_certificate(void **state)
{
	(void)state;
	struct peer c = { .o = cert_opts("cli", "ca1", "target.example"), .body = body_exchange };
	struct peer s = { .o = cert_opts("srv", "ca1", NULL), .body = body_exchange };
	s.o.cert_file = pf("exp.crt");
	run_pair(&c, &s, false);
	expect_fail(&c, -EACCES,
		    "TLS handshake: peer certificate verify failed: certificate has expired");
	expect_fail(&s, -EACCES, "peer refused our certificate (alert: certificate expired)");
	pair_done(&c, &s);
}

static void wrong_peer_name(void **state)
{
	(void)state;
	struct peer c = { .o = cert_opts("cli", "ca1", "other.example"), .body = body_exchange };
	struct peer s = { .o = cert_opts("srv", "ca1", NULL), .body = body_exchange };
	run_pair(&c, &s, false);
	expect_fail(&c, -EACCES, "TLS handshake: peer name mismatch (wanted other.example)");
	expect_fail(&s, -EACCES, "peer refused our certificate");
	pair_done(&c, &s);

	/* The server checks the client's name too. */
	struct peer c2 = { .o = cert_opts("cli", "ca1", "target.example"), .body = body_read_once };
	struct peer s2 = { .o = cert_opts("srv", "ca1", "target.example"), .body = body_exchange };
	run_pair(&c2, &s2, false);
	expect_fail(&s2, -EACCES, "TLS handshake: peer name mismatch (wanted target.example)");
	assert_int_equal(c2.body_rc, -EACCES);
	pair_done(&c2, &s2);

	/* The name must be in a subjectAltName: the subject's CN is not enough. */
	struct peer c3 = { .o = cert_opts("cli", "ca1", "target") };
	struct peer s3 = { .o = cert_opts("srv", "ca1", NULL) };
	run_pair(&c3, &s3, false);
	expect_fail(&c3, -EACCES, "peer name mismatch (wanted target)");
	pair_done(&c3, &s3);
}

/* A peer made with OpenSSL directly: TLS 1.2 only, or without a certificate. */
struct raw {
	int fd;
	bool server;
	int max_version;
	bool with_cert;
	const char *cert, *key, *ca; /* filled by run_against_raw() */
	int rc;			     /* 1: handshake done */
	int read_rc;		     /* client: the first SSL_read after it */
	char msg[256];
};

static void *raw_main(void *arg)
{
	struct raw *r = arg;
	SSL_CTX *ctx = SSL_CTX_new(r->server ? TLS_server_method() : TLS_client_method());
	SSL_CTX_set_max_proto_version(ctx, r->max_version);
	if (r->with_cert) {
		SSL_CTX_use_certificate_chain_file(ctx, r->cert);
		SSL_CTX_use_PrivateKey_file(ctx, r->key, SSL_FILETYPE_PEM);
	}
	SSL_CTX_load_verify_file(ctx, r->ca);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL *s = SSL_new(ctx);
	SSL_set_fd(s, r->fd);
	r->rc = r->server ? SSL_accept(s) : SSL_connect(s);
	if (r->rc == 1 && !r->server) {
		char b[8];
		r->read_rc = SSL_read(s, b, sizeof(b));
	}
	ERR_error_string_n(ERR_get_error(), r->msg, sizeof(r->msg));
	ERR_clear_error();
	SSL_free(s);
	SSL_CTX_free(ctx);
	return NULL;
}

/* Our side runs in a thread, the raw one in another. */
static void run_against_raw(struct peer *ours, struct raw *raw)
{
	int fds[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	ours->fd = fds[0];
	raw->fd = fds[1];
	raw->server = !ours->server;
	raw->cert = pf(raw->server ? "srv.crt" : "cli.crt");
	raw->key = pf(raw->server ? "srv.key" : "cli.key");
	raw->ca = pf("ca1.crt");
	pthread_t a, b;
	assert_int_equal(pthread_create(&a, NULL, peer_main, ours), 0);
	assert_int_equal(pthread_create(&b, NULL, raw_main, raw), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert_int_equal(ours->queue_left, 0);
	sevmig_tls_free(ours->t);
	close(fds[0]);
	close(fds[1]);
}

static void client_without_certificate(void **state)
{
	(void)state;
	struct peer s = { .server = true,
			  .o = cert_opts("srv", "ca1", NULL),
			  .body = body_exchange };
	struct raw r = { .max_version = TLS1_3_VERSION, .with_cert = false };
	run_against_raw(&s, &r);
	expect_fail(&s, -EACCES, "TLS handshake: peer sent no certificate");
	assert_int_equal(r.rc, 1);   /* TLS 1.3: the client finished... */
	assert_true(r.read_rc <= 0); /* ...and learns on its first read */
	assert_non_null(strstr(r.msg, "certificate required"));
}

static void tls12_peers(void **state)
{
	(void)state;
	struct peer s = { .server = true,
			  .o = cert_opts("srv", "ca1", NULL),
			  .body = body_exchange };
	struct raw r = { .max_version = TLS1_2_VERSION, .with_cert = true };
	run_against_raw(&s, &r);
	expect_fail(&s, -EPROTO, "TLS handshake: peer offered only TLS 1.2 (protocol version)");
	assert_int_not_equal(r.rc, 1);

	struct peer c = { .server = false,
			  .o = cert_opts("cli", "ca1", "target.example"),
			  .body = body_exchange };
	struct raw r2 = { .max_version = TLS1_2_VERSION, .with_cert = true };
	run_against_raw(&c, &r2);
	expect_fail(&c, -EPROTO, "TLS handshake: peer ");
	assert_non_null(strstr(c.err.message, "protocol version"));
	assert_int_not_equal(r2.rc, 1);
}

static void not_tls_peer(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	const char req[] = "GET / HTTP/1.0\r\n\r\n";
	assert_int_equal(write(fds[1], req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	struct sevmig_tls_opts o = cert_opts("srv", "ca1", NULL);
	struct sevmig_tls *t = (struct sevmig_tls *)(uintptr_t)1; /* must be reset to NULL */
	struct sevmig_error err;
	assert_int_equal(sevmig_tls_server(fds[0], &o, &t, &err), -EPROTO);
	assert_null(t);
	assert_non_null(strstr(err.message, "TLS handshake: peer is not speaking TLS"));
	assert_int_equal(ERR_peek_error(), 0);
	close(fds[0]);
	close(fds[1]);

	/* A peer that closes at once. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	close(fds[1]);
	o = cert_opts("cli", "ca1", NULL);
	int rc = sevmig_tls_client(fds[0], &o, &t, &err);
	assert_true(rc == -EPIPE || rc == -ECONNRESET);
	close(fds[0]);
}

/* ---- pins ---------------------------------------------------------------- */

static void pins(void **state)
{
	(void)state;
	/* Pin only on the client, CA on the server. */
	struct peer c = { .o = cert_opts("cli", NULL, "target.example"), .body = body_exchange };
	c.o.pin_sha256 = pki.srv_fp;
	struct peer s = { .o = cert_opts("srv", "ca1", NULL), .body = body_exchange };
	run_pair(&c, &s, false);
	expect_ok(&c);
	expect_ok(&s);
	assert_memory_equal(c.key, s.key, 32);
	pair_done(&c, &s);

	/* Pin only on both sides, no CA anywhere; pin and CA together. */
	struct peer c2 = { .o = cert_opts("cli", NULL, NULL), .body = body_exchange };
	c2.o.pin_sha256 = pki.srv_fp;
	struct peer s2 = { .o = cert_opts("srv", "ca1", NULL), .body = body_exchange };
	s2.o.ca_file = NULL;
	s2.o.pin_sha256 = pki.cli_fp;
	run_pair(&c2, &s2, true);
	expect_ok(&c2);
	expect_ok(&s2);
	pair_done(&c2, &s2);

	struct peer c3 = { .o = cert_opts("cli", "ca1", "target.example"), .body = body_exchange };
	c3.o.pin_sha256 = pki.srv_fp;
	struct peer s3 = { .o = cert_opts("srv", "ca1", NULL), .body = body_exchange };
	run_pair(&c3, &s3, false);
	expect_ok(&c3);
	expect_ok(&s3);
	pair_done(&c3, &s3);

	/* A pinned certificate is accepted whatever its dates (docs/tls.md). */
	struct peer c4 = { .o = cert_opts("cli", NULL, NULL), .body = body_exchange };
	c4.o.pin_sha256 = pki.exp_fp;
	struct peer s4 = { .o = cert_opts("srv", "ca1", NULL), .body = body_exchange };
	s4.o.cert_file = pf("exp.crt");
	run_pair(&c4, &s4, false);
	expect_ok(&c4);
	expect_ok(&s4);
	pair_done(&c4, &s4);
}

static void pin_mismatch(void **state)
{
	(void)state;
	struct peer c = { .o = cert_opts("cli", NULL, NULL), .body = body_exchange };
	c.o.pin_sha256 = pki.cli_fp; /* not the server's */
	struct peer s = { .o = cert_opts("srv", "ca1", NULL), .body = body_exchange };
	run_pair(&c, &s, false);
	expect_fail(&c, -EACCES, "TLS handshake: peer certificate does not match the pin");
	expect_fail(&s, -EACCES, "peer refused our certificate (alert: bad certificate)");
	pair_done(&c, &s);

	/* With a CA the chain verifies, but the pin still decides. */
	struct peer c2 = { .o = cert_opts("cli", "ca1", NULL) };
	c2.o.pin_sha256 = pki.cli_fp;
	struct peer s2 = { .o = cert_opts("srv", "ca1", NULL) };
	run_pair(&c2, &s2, false);
	expect_fail(&c2, -EACCES, "does not match the pin");
	pair_done(&c2, &s2);

	/* Pin only: the name is still checked. */
	struct peer c3 = { .o = cert_opts("cli", NULL, "other.example") };
	c3.o.pin_sha256 = pki.srv_fp;
	struct peer s3 = { .o = cert_opts("srv", "ca1", NULL) };
	run_pair(&c3, &s3, false);
	expect_fail(&c3, -EACCES, "peer name mismatch (wanted other.example)");
	pair_done(&c3, &s3);
}

/* ---- PSK ------------------------------------------------------------------ */

static void psk_success(void **state)
{
	(void)state;
	for (int tcp = 0; tcp < 2; tcp++) {
		struct peer c = { .o = psk_opts(PSK, "sevmig-test"), .body = body_exchange };
		struct peer s = { .o = psk_opts(PSK, "sevmig-test"), .body = body_exchange };
		run_pair(&c, &s, tcp);
		expect_ok(&c);
		expect_ok(&s);
		assert_memory_equal(c.key, s.key, 32);
		assert_true(sevmig_tls_psk_used(c.t));
		assert_true(sevmig_tls_psk_used(s.t));
		assert_string_equal(sevmig_tls_cipher(c.t), "TLS_AES_128_GCM_SHA256");
		uint8_t fp[32];
		assert_int_equal(sevmig_tls_peer_fingerprint(c.t, fp), -ENOENT);
		assert_null(sevmig_tls_peer_subject(s.t));
		pair_done(&c, &s);
	}
	/* The longest PSK. */
	uint8_t big[64];
	memset(big, 0x5a, sizeof(big));
	struct peer c = { .o = psk_opts(big, "id") };
	struct peer s = { .o = psk_opts(big, "id") };
	c.o.psk_len = s.o.psk_len = sizeof(big);
	run_pair(&c, &s, false);
	expect_ok(&c);
	expect_ok(&s);
	pair_done(&c, &s);
}

static void psk_mismatch(void **state)
{
	(void)state;
	uint8_t other[32];
	memcpy(other, PSK, 32);
	other[31] ^= 1;
	struct peer c = { .o = psk_opts(other, "sevmig-test"), .body = body_exchange };
	struct peer s = { .o = psk_opts(PSK, "sevmig-test"), .body = body_exchange };
	run_pair(&c, &s, false);
	expect_fail(&s, -EACCES, "TLS handshake: peer's PSK is not ours");
	expect_fail(&c, -EACCES, "TLS handshake: peer refused our PSK");
	pair_done(&c, &s);

	/* Another identity. */
	struct peer c2 = { .o = psk_opts(PSK, "someone-else"), .body = body_exchange };
	struct peer s2 = { .o = psk_opts(PSK, "sevmig-test"), .body = body_exchange };
	run_pair(&c2, &s2, false);
	expect_fail(&s2, -EACCES,
		    "TLS handshake: peer offered a PSK identity other than ours (\"sevmig-test\")");
	expect_fail(&c2, -EACCES, "TLS handshake: peer ");
	pair_done(&c2, &s2);

	/* A certificate client against a PSK server, and the reverse. */
	struct peer c3 = { .o = cert_opts("cli", "ca1", NULL), .body = body_exchange };
	struct peer s3 = { .o = psk_opts(PSK, "sevmig-test"), .body = body_exchange };
	run_pair(&c3, &s3, false);
	expect_fail(&s3, -EACCES, "TLS handshake: peer offered no PSK of ours");
	assert_true(c3.rc < 0);
	pair_done(&c3, &s3);

	struct peer c4 = { .o = psk_opts(PSK, "sevmig-test"), .body = body_exchange };
	struct peer s4 = { .o = cert_opts("srv", "ca1", NULL), .body = body_exchange };
	run_pair(&c4, &s4, false);
	assert_true(c4.rc < 0 || c4.body_rc < 0);
	assert_true(s4.rc < 0);
	pair_done(&c4, &s4);
}

/* ---- timeouts, truncation, SIGPIPE --------------------------------------------- */

static void handshake_timeout(void **state)
{
	(void)state;
	for (int server = 0; server < 2; server++) {
		int fds[2];
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
		struct peer p = { .server = server,
				  .fd = fds[0],
				  .o = server ? cert_opts("srv", "ca1", NULL)
					      : cert_opts("cli", "ca1", NULL) };
		p.o.handshake_timeout_ms = 300;
		peer_main(&p); /* the other end never answers */
		expect_fail(&p, -ETIMEDOUT, "TLS handshake timed out after 300 ms");
		assert_true(p.elapsed_ms >= 290 && p.elapsed_ms < 5000);
		assert_int_equal(p.queue_left, 0);
		close(fds[0]);
		close(fds[1]);
	}
}

static void io_timeout(void **state)
{
	(void)state;
	sem_t done;
	sem_init(&done, 0, 0);
	struct peer c = { .o = cert_opts("cli", "ca1", "target.example"),
			  .body = body_idle_read,
			  .post_sem = &done };
	c.o.io_timeout_ms = 300;
	struct peer s = { .o = cert_opts("srv", "ca1", NULL),
			  .body = body_wait,
			  .wait_sem = &done };
	run_pair(&c, &s, true);
	expect_ok(&s);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.body_rc, -ETIMEDOUT);
	assert_true(c.elapsed_ms >= 290 && c.elapsed_ms < 5000);
	assert_string_equal(c.why, "TLS read timed out: the peer sent nothing for 300 ms");
	struct sevmig_error err;
	assert_int_equal(sevmig_tls_shutdown(c.t, &err), -ETIMEDOUT);
	pair_done(&c, &s);
	sem_destroy(&done);
}

/* The cancel descriptor ends a handshake and a write blocked on a stalled
 * peer at once, with a message saying so, and the handle stays dead. */
static void cancel_fd_stops_waits(void **state)
{
	(void)state;
	int cp[2];
	assert_int_equal(pipe(cp), 0);
	assert_int_equal(write(cp[1], "x", 1), 1);
	int fds[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	struct peer h = { .fd = fds[0], .o = cert_opts("cli", "ca1", NULL) };
	h.o.cancel_fd = &cp[0];
	peer_main(&h); /* the other end never answers */
	expect_fail(&h, -ECANCELED, "TLS handshake cancelled");
	assert_true(h.elapsed_ms < 5000);
	close(fds[0]);
	close(fds[1]);
	close(cp[0]);
	close(cp[1]);

	assert_int_equal(pipe(cp), 0);
	sem_t done;
	sem_init(&done, 0, 0);
	struct peer c = { .o = cert_opts("cli", "ca1", "target.example"),
			  .body = body_cancel_write,
			  .post_sem = &done,
			  .fd_cancel_w = cp[1] };
	c.o.cancel_fd = &cp[0];
	c.o.io_timeout_ms = 20000; /* a cancel that did not work shows as a timeout */
	struct peer s = { .o = cert_opts("srv", "ca1", NULL),
			  .body = body_wait,
			  .wait_sem = &done };
	run_pair(&c, &s, true);
	expect_ok(&s);
	assert_int_equal(c.rc, 0);
	if (c.body_rc != -ECANCELED)
		fprintf(stderr, "write: %d %s\n", c.body_rc, c.why);
	assert_int_equal(c.body_rc, -ECANCELED);
	assert_string_equal(c.why, "TLS write cancelled");
	assert_true(c.elapsed_ms < 10000);
	assert_int_equal(sevmig_tls_write(c.t, "x", 1), -ECANCELED);
	pair_done(&c, &s);
	sem_destroy(&done);
	close(cp[0]);
	close(cp[1]);

	int bad_fd = -1;
	struct sevmig_tls_opts o = cert_opts("cli", "ca1", NULL);
	o.cancel_fd = &bad_fd;
	struct sevmig_tls *t = NULL;
	struct sevmig_error err;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	assert_int_equal(sevmig_tls_client(fds[0], &o, &t, &err), -EINVAL);
	assert_non_null(strstr(err.message, "cancel_fd -1 is not a descriptor"));
	assert_null(t);
	close(fds[0]);
	close(fds[1]);
}

static void close_without_close_notify(void **state)
{
	(void)state;
	for (int tcp = 0; tcp < 2; tcp++) {
		struct peer c = { .o = cert_opts("cli", "ca1", "target.example"),
				  .body = body_read_once };
		struct peer s = { .o = cert_opts("srv", "ca1", NULL), .body = body_drop };
		run_pair(&c, &s, tcp);
		assert_int_equal(c.rc, 0);
		assert_int_equal(s.rc, 0);
		assert_int_equal(c.body_rc, -ECONNRESET);
		assert_string_equal(c.why, "TLS read: peer closed the connection without "
					   "close_notify (truncated)");
		pair_done(&c, &s);
	}
}

static void write_to_vanished_peer(void **state)
{
	(void)state;
	/* The default disposition kills the process on SIGPIPE: the library
	 * must not raise it. */
	signal(SIGPIPE, SIG_DFL);
	for (int tcp = 0; tcp < 2; tcp++) {
		sem_t gone;
		sem_init(&gone, 0, 0);
		struct peer c = { .o = cert_opts("cli", "ca1", "target.example"),
				  .body = body_write_to_gone,
				  .wait_sem = &gone };
		struct peer s = { .o = cert_opts("srv", "ca1", NULL),
				  .body = body_vanish,
				  .post_sem = &gone };
		run_pair(&c, &s, tcp);
		assert_int_equal(c.rc, 0);
		if (c.body_rc != -EPIPE && c.body_rc != -ECONNRESET)
			fprintf(stderr, "write: %d %s\n", c.body_rc, c.why);
		assert_true(c.body_rc == -EPIPE || c.body_rc == -ECONNRESET);
		assert_non_null(strstr(c.why, "TLS write: "));
		pair_done(&c, &s);
		sem_destroy(&gone);
	}
}

/* ---- large transfer -------------------------------------------------------------- */

static void large_transfer(void **state)
{
	(void)state;
	size_t len = 8u << 20;
	uint8_t *data = malloc(len);
	assert_non_null(data);
	struct tu_rng r = { tu_seed("large_transfer") };
	tu_fill(&r, data, len);
	for (int tcp = 0; tcp < 2; tcp++) {
		struct peer c = { .o = cert_opts("cli", "ca1", "target.example"),
				  .body = body_bulk,
				  .data = data,
				  .data_len = len };
		struct peer s = { .o = cert_opts("srv", "ca1", NULL),
				  .body = body_bulk,
				  .data = data,
				  .data_len = len };
		run_pair(&c, &s, tcp);
		expect_ok(&c);
		expect_ok(&s);
		pair_done(&c, &s);
	}
	free(data);
}

/* ---- options -------------------------------------------------------------- */

static void expect_opts_error(const struct sevmig_tls_opts *o, int fd, int code, const char *text)
{
	struct sevmig_error err;
	sevmig_error_clear(&err);
	struct sevmig_tls *t = NULL;
	int rc = sevmig_tls_client(fd, o, &t, &err);
	if (rc != code || !strstr(err.message, text))
		fprintf(stderr, "rc %d (%s), wanted %d with \"%s\"\n", rc, err.message, code, text);
	assert_int_equal(rc, code);
	assert_non_null(strstr(err.message, text));
	assert_null(t);
	assert_int_equal(ERR_peek_error(), 0);
}

static void options(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	expect_opts_error(NULL, fds[0], -EINVAL, "TLS options: none given");
	SEVMIG_OPTS(sevmig_tls_opts, none, .io_timeout_ms = 5);
	expect_opts_error(&none, fds[0], -EINVAL, "neither a certificate");

	struct sevmig_tls_opts o = cert_opts("cli", "ca1", NULL);
	o.key_file = NULL;
	expect_opts_error(&o, fds[0], -EINVAL, "cert_file given without key_file");
	o = cert_opts("cli", "ca1", NULL);
	o.ca_file = NULL;
	expect_opts_error(&o, fds[0], -EINVAL, "nothing to check the peer's certificate with");
	o = cert_opts("cli", "ca1", NULL);
	o.psk = PSK;
	o.psk_len = 32;
	o.psk_identity = "x";
	expect_opts_error(&o, fds[0], -EINVAL, "not both");
	o = psk_opts(PSK, "id");
	o.psk_len = 16;
	expect_opts_error(&o, fds[0], -EINVAL, "the PSK must be 32 to 64 bytes, not 16");
	o = psk_opts(PSK, "");
	expect_opts_error(&o, fds[0], -EINVAL, "psk_identity must be 1 to 255 bytes");
	o = cert_opts("cli", "ca1", NULL);
	o.handshake_timeout_ms = -5;
	expect_opts_error(&o, fds[0], -EINVAL, "handshake_timeout_ms must be");

	/* Files are named, with the reason. */
	o = cert_opts("cli", "ca1", NULL);
	o.key_file = "/nonexistent/source.key";
	expect_opts_error(&o, fds[0], -EINVAL,
			  "TLS options: key_file /nonexistent/source.key: No such file or "
			  "directory");
	o = cert_opts("cli", "ca1", NULL);
	o.key_file = pf("enc.key"); /* encrypted: refused, never prompted for */
	expect_opts_error(&o, fds[0], -EINVAL, "enc.key: no usable unencrypted PEM private key");
	o = cert_opts("cli", "ca1", NULL);
	o.key_file = pf("srv.key");
	expect_opts_error(&o, fds[0], -EINVAL, "srv.key is not the key of cert_file");
	o = cert_opts("cli", "ca1", NULL);
	o.cert_file = pf("openssl.cnf");
	expect_opts_error(&o, fds[0], -EINVAL, "openssl.cnf: no usable PEM certificate");
	o = cert_opts("cli", "ca1", NULL);
	o.ca_file = pf("missing.crt");
	expect_opts_error(&o, fds[0], -EINVAL, "ca_file ");
	o = cert_opts("cli", NULL, NULL);
	o.ca_dir = pf("ca1.crt");
	expect_opts_error(&o, fds[0], -EINVAL, "is not a directory");

	/* A caller's larger struct with a non-zero unknown tail. */
	struct {
		struct sevmig_tls_opts o;
		uint64_t extra;
	} big;
	memset(&big, 0, sizeof(big));
	big.o = cert_opts("cli", "ca1", NULL);
	big.o.sz = sizeof(big);
	big.extra = 1;
	expect_opts_error(&big.o, fds[0], -EINVAL, "unknown fields");

	/* Descriptors. */
	o = cert_opts("cli", "ca1", NULL);
	expect_opts_error(&o, -1, -EBADF, "not open");
	int p[2];
	assert_int_equal(pipe(p), 0);
	expect_opts_error(&o, p[0], -EINVAL, "is not a stream socket");
	close(p[0]);
	close(p[1]);

	/* The fd's flags after a failure are its flags before. */
	assert_int_equal(fcntl(fds[0], F_GETFL) & O_NONBLOCK, 0);
	close(fds[0]);
	close(fds[1]);

	/* NULL handles. */
	sevmig_tls_free(NULL);
	assert_int_equal(sevmig_tls_write(NULL, "x", 1), -EINVAL);
	assert_int_equal(sevmig_tls_read(NULL, p, 1), -EINVAL);
	assert_null(sevmig_tls_cipher(NULL));
	assert_string_equal(sevmig_tls_last_error(NULL), "");
	assert_int_equal(sevmig_tls_client(0, &o, NULL, NULL), -EINVAL);
}

static void fd_flags_restored(void **state)
{
	(void)state;
	struct peer c = { .o = cert_opts("cli", "ca1", "target.example") };
	struct peer s = { .o = cert_opts("srv", "ca1", NULL) };
	run_pair(&c, &s, false);
	expect_ok(&c);
	expect_ok(&s);
	assert_int_not_equal(fcntl(c.fd, F_GETFL) & O_NONBLOCK, 0); /* while in use */
	sevmig_tls_free(c.t);
	sevmig_tls_free(s.t);
	c.t = s.t = NULL;
	assert_int_equal(fcntl(c.fd, F_GETFL) & O_NONBLOCK, 0);
	assert_int_equal(fcntl(s.fd, F_GETFL) & O_NONBLOCK, 0);
	pair_done(&c, &s);
}

/* ---- interoperability with the openssl tool -------------------------------------- */

struct child {
	pid_t pid;
	int in, out; /* its stdin (we write), its stdout (we read) */
	char acc[65536];
	size_t len;
};

static void spawn(struct child *ch, const char *const argv[], const char *errlog)
{
	int in[2], out[2];
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	char conf[256];
	snprintf(conf, sizeof(conf), "OPENSSL_CONF=%s", pki.conf);
	char *envp[] = { conf, pki.path_env, NULL };
	ch->pid = fork();
	assert_true(ch->pid >= 0);
	if (ch->pid == 0) {
		int err = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (err >= 0)
			dup2(err, 2);
		close(in[1]);
		close(out[0]);
		execve(pki.openssl, (char *const *)argv, envp);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	ch->in = in[1];
	ch->out = out[0];
	ch->len = 0;
	ch->acc[0] = '\0';
}

/* Read the child's stdout until `needle` shows up: false at EOF or after
 * timeout_ms. */
static bool child_wait_for(struct child *ch, const char *needle, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	while (!strstr(ch->acc, needle)) {
		int64_t left = end - now_ms();
		if (left <= 0 || ch->len + 1 >= sizeof(ch->acc))
			return false;
		struct pollfd p = { .fd = ch->out, .events = POLLIN };
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		ssize_t n = read(ch->out, ch->acc + ch->len, sizeof(ch->acc) - 1 - ch->len);
		if (n <= 0)
			return false;
		ch->len += (size_t)n;
		ch->acc[ch->len] = '\0';
	}
	return true;
}

/* Wait (bounded) for the child to end; kill it if it does not. */
static int child_end(struct child *ch, int timeout_ms)
{
	close(ch->in);
	int status = -1;
	for (int i = 0; i < timeout_ms / 20; i++) {
		if (waitpid(ch->pid, &status, WNOHANG) == ch->pid)
			goto done;
		usleep(20000);
	}
	kill(ch->pid, SIGKILL);
	waitpid(ch->pid, &status, 0);
	status = -1;
done:
	close(ch->out);
	return status;
}

static int free_port(void)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	close(l);
	return ntohs(a.sin_port);
}

static int read_line(struct sevmig_tls *t, char *buf, size_t size)
{
	size_t n = 0;
	while (n + 1 < size) {
		ptrdiff_t r = sevmig_tls_read(t, buf + n, 1);
		if (r <= 0)
			return r == 0 ? -ENODATA : (int)r;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return 0;
}

/* The source's side as docs/tls.md shows it. */
static int source_connect(int fd, const char *cert, const char *key, const char *ca,
			  struct sevmig_tls **out, uint8_t stream_key[32])
{
	SEVMIG_OPTS(sevmig_tls_opts, o, .cert_file = cert, .key_file = key, .ca_file = ca,
		    .peer_name = "target.example");
	struct sevmig_tls *tls;
	struct sevmig_error err;
	int rc = sevmig_tls_client(fd, &o, &tls, &err);
	if (rc < 0) {
		fprintf(stderr, "%s\n", err.message);
		return rc;
	}
	/* The stream's keys come from 32 bytes of the exporter. */
	rc = sevmig_tls_export(tls, SEVMIG_TLS_EXPORTER_STREAM, stream_key, 32, &err);
	if (rc < 0) {
		fprintf(stderr, "%s\n", err.message);
		sevmig_tls_free(tls);
		return rc;
	}
	*out = tls; /* sevmig_tls_write / sevmig_tls_read with tls as their argument */
	return 0;
}

static void our_client_with_s_server(void **state)
{
	(void)state;
	struct child ch;
	int port = 0;
	/* The port was free a moment ago; another process may take it
	 * before s_server does, so try a few. */
	for (int attempt = 0; attempt < 5 && !port; attempt++) {
		int p = free_port();
		char accept[32];
		snprintf(accept, sizeof(accept), "127.0.0.1:%d", p);
		const char *argv[] = { "openssl",     "s_server",
				       "-tls1_3",     "-accept",
				       accept,	      "-cert",
				       pf("srv.crt"), "-key",
				       pf("srv.key"), "-CAfile",
				       pf("ca1.crt"), "-Verify",
				       "1",	      "-verify_return_error",
				       "-naccept",    "1",
				       NULL };
		spawn(&ch, argv, pf("s_server.err"));
		if (child_wait_for(&ch, "ACCEPT", 10000))
			port = p;
		else
			child_end(&ch, 1000);
	}
	assert_int_not_equal(port, 0);

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct sevmig_tls *t = NULL;
	uint8_t stream_key[32];
	assert_int_equal(
	    source_connect(fd, pf("cli.crt"), pf("cli.key"), pf("ca1.crt"), &t, stream_key), 0);
	assert_int_equal(sevmig_tls_write(t, "hello from sevmig\n", 18), 0);
	assert_int_equal(write(ch.in, "hello from s_server\n", 20), 20);
	char line[64];
	assert_int_equal(read_line(t, line, sizeof(line)), 0);
	assert_string_equal(line, "hello from s_server\n");
	assert_true(child_wait_for(&ch, "hello from sevmig\n", 10000));
	assert_int_equal(sevmig_tls_shutdown(t, NULL), 0);
	assert_true(child_wait_for(&ch, "CONNECTION CLOSED", 10000));
	sevmig_tls_free(t);
	close(fd);
	int status = child_end(&ch, 5000);
	assert_true(WIFEXITED(status));
}

static void our_server_with_s_client(void **state)
{
	(void)state;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	char connect_to[32];
	snprintf(connect_to, sizeof(connect_to), "127.0.0.1:%d", ntohs(a.sin_port));

	struct child ch;
	const char *argv[] = {
		"openssl",	    "s_client",	      "-tls1_3",     "-connect",
		connect_to,	    "-cert",	      pf("cli.crt"), "-key",
		pf("cli.key"),	    "-CAfile",	      pf("ca1.crt"), "-verify_return_error",
		"-verify_hostname", "target.example", "-quiet",	     NULL
	};
	spawn(&ch, argv, pf("s_client.err"));
	assert_int_equal(write(ch.in, "hello from s_client\n", 20), 20);

	struct pollfd p = { .fd = l, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 10000), 1);
	int fd = accept(l, NULL, NULL);
	assert_true(fd >= 0);
	close(l);
	struct sevmig_tls_opts o = cert_opts("srv", "ca1", "source.example");
	struct sevmig_tls *t;
	struct sevmig_error err;
	int rc = sevmig_tls_server(fd, &o, &t, &err);
	if (rc)
		fprintf(stderr, "%s\n", err.message);
	assert_int_equal(rc, 0);
	char line[64];
	assert_int_equal(read_line(t, line, sizeof(line)), 0);
	assert_string_equal(line, "hello from s_client\n");
	assert_int_equal(sevmig_tls_write(t, "hello from sevmig\n", 18), 0);
	assert_true(child_wait_for(&ch, "hello from sevmig\n", 10000));
	assert_int_equal(sevmig_tls_shutdown(t, NULL), 0);
	sevmig_tls_free(t);
	close(fd);
	child_end(&ch, 5000);
}

int main(void)
{
	if (!find_openssl()) {
		fprintf(stderr, "skipped: the openssl command-line tool is not in PATH\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mutual_auth_socketpair),
		cmocka_unit_test(mutual_auth_tcp),
		cmocka_unit_test(ca_directory_and_ip_name),
		cmocka_unit_test(wrong_ca),
		cmocka_unit_test(expired_certificate),
		cmocka_unit_test(wrong_peer_name),
		cmocka_unit_test(client_without_certificate),
		cmocka_unit_test(tls12_peers),
		cmocka_unit_test(not_tls_peer),
		cmocka_unit_test(pins),
		cmocka_unit_test(pin_mismatch),
		cmocka_unit_test(psk_success),
		cmocka_unit_test(cancel_fd_stops_waits),
		cmocka_unit_test(psk_mismatch),
		cmocka_unit_test(handshake_timeout),
		cmocka_unit_test(io_timeout),
		cmocka_unit_test(close_without_close_notify),
		cmocka_unit_test(write_to_vanished_peer),
		cmocka_unit_test(large_transfer),
		cmocka_unit_test(options),
		cmocka_unit_test(fd_flags_restored),
		cmocka_unit_test(our_client_with_s_server),
		cmocka_unit_test(our_server_with_s_client),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
