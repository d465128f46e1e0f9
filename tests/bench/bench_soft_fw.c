/* SPDX-License-Identifier: MIT */
/*
 * Speed of the software firmware's UPDATE_DATA commands against the cost of
 * their cryptography: pages per second for SEND_UPDATE_DATA and
 * RECEIVE_UPDATE_DATA over 4 KiB pages, and the ratio of their time per
 * page to a raw OpenSSL loop (AES-128-CTR then HMAC-SHA-256 of each page,
 * one context of each re-initialised per page) measured in the same run.
 * Goal: within 1.15x. Then the same with 2 threads on one handle against 2
 * threads of the raw loop.
 *
 *   bench_soft_fw [pages per run (default 20000)] [runs (default 5)]
 *
 * Each figure is the best of the runs, interleaved so that a noisy
 * neighbour hurts the loop and the commands alike.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <sevmig/fw.h>
#include <sevmig/fw_soft.h>

#include "bench_raw.h"

#define WINDOW 256u /* distinct pages cycled through: 1 MiB, as a stream batch */
#define PAGE   SEVMIG_PAGE_SIZE
#define HDR    SEVMIG_PACKET_HDR_SIZE

static unsigned g_pages = 20000;

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_soft_fw: %s failed (%d)\n", what, rc);
	exit(2);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *xalloc(size_t n)
{
	void *p = aligned_alloc(PAGE, (n + PAGE - 1) / PAGE * PAGE);
	if (!p)
		die("allocation", -ENOMEM);
	memset(p, 0, n);
	return p;
}

/* ---- the baseline: raw AES-128-CTR + HMAC-SHA-256 per page (bench_raw.h) ---- */

struct raw {
	uint8_t *in, *out;
	double secs;
};

static void *raw_loop(void *arg)
{
	struct raw *r = arg;
	struct bench_raw b;
	if (bench_raw_init(&b))
		die("OpenSSL setup", -EIO);
	double t0 = now();
	for (unsigned i = 0; i < g_pages; i++) {
		size_t w = i % WINDOW;
		if (bench_raw_page(&b, r->in + w * PAGE, r->out + w * PAGE, i))
			die("raw loop", -EIO);
	}
	r->secs = now() - t0;
	bench_raw_free(&b);
	return NULL;
}

/* ---- the commands ------------------------------------------------------------- */

struct cmd {
	struct sevmig_fw *src, *tgt;
	uint8_t *guest, *dst, *trans, *hdr;
	unsigned first, step; /* this thread's pages: first, first + step, ... */
	bool receive;
	double secs;
};

/* SEND_UPDATE_DATA (guest -> hdr, trans) or RECEIVE_UPDATE_DATA (hdr, trans
 * -> dst) over this thread's share of the pages. */
static void *update_loop(void *arg)
{
	struct cmd *c = arg;
	double t0 = now();
	for (unsigned i = c->first; i < g_pages; i += c->step) {
		size_t w = i % WINDOW;
		uint8_t *hdr = c->hdr + w * HDR, *trans = c->trans + w * PAGE;
		uint32_t st;
		int rc;
		if (c->receive) {
			struct sevmig_fw_receive_update r = { .guest = c->dst + w * PAGE,
							      .guest_len = PAGE,
							      .hdr = hdr,
							      .hdr_len = HDR,
							      .trans = trans,
							      .trans_len = PAGE };
			rc = sevmig_fw_receive_update_data(c->tgt, &r, &st);
		} else {
			struct sevmig_fw_send_update u = { .guest = c->guest + w * PAGE,
							   .guest_len = PAGE,
							   .hdr = hdr,
							   .hdr_len = HDR,
							   .trans = trans,
							   .trans_len = PAGE };
			rc = sevmig_fw_send_update_data(c->src, &u, &st);
		}
		if (rc)
			die(c->receive ? "RECEIVE_UPDATE_DATA" : "SEND_UPDATE_DATA", rc);
	}
	c->secs = now() - t0;
	return NULL;
}

/* Run fn on `n` threads over the g_pages pages; wall time of the slowest. */
static double run_threads(void *(*fn)(void *), void *args, size_t arg_size, unsigned n)
{
	pthread_t t[2];
	double t0 = now();
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, fn, (char *)args + i * arg_size))
			die("pthread_create", -EAGAIN);
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return now() - t0;
}

static void setup(struct cmd *c, unsigned threads)
{
	SEVMIG_OPTS(sevmig_fw_soft_opts, so, .launch = true, .max_threads = threads);
	SEVMIG_OPTS(sevmig_fw_soft_opts, to, .max_threads = threads);
	int rc;
	if ((rc = sevmig_fw_soft_new(&so, &c->src, NULL)) ||
	    (rc = sevmig_fw_soft_new(&to, &c->tgt, NULL)))
		die("sevmig_fw_soft_new", rc);
	uint8_t tpdh[SEVMIG_CERT_SIZE], spdh[SEVMIG_CERT_SIZE], chain[SEVMIG_CERT_CHAIN_SIZE],
	    session[SEVMIG_SESSION_SIZE];
	uint32_t pl = sizeof(tpdh), cl = sizeof(chain), st;
	if ((rc = sevmig_fw_pdh_cert_export(c->tgt, tpdh, &pl, chain, &cl, &st)) ||
	    (rc = sevmig_fw_pdh_cert_export(c->src, spdh, &pl, chain, &cl, &st)))
		die("PDH_CERT_EXPORT", rc);
	struct sevmig_fw_send_start s = { .pdh_cert = tpdh,
					  .pdh_cert_len = sizeof(tpdh),
					  .session = session,
					  .session_len = sizeof(session) };
	if ((rc = sevmig_fw_send_start(c->src, &s, &st)))
		die("SEND_START", rc);
	struct sevmig_fw_receive_start r = { .policy = s.policy,
					     .pdh_cert = spdh,
					     .pdh_cert_len = sizeof(spdh),
					     .session = session,
					     .session_len = sizeof(session) };
	if ((rc = sevmig_fw_receive_start(c->tgt, &r, &st)))
		die("RECEIVE_START", rc);
	c->guest = xalloc((size_t)WINDOW * PAGE);
	c->dst = xalloc((size_t)WINDOW * PAGE);
	c->trans = xalloc((size_t)WINDOW * PAGE);
	c->hdr = xalloc((size_t)WINDOW * HDR);
	if (RAND_bytes(c->guest, WINDOW * PAGE) != 1)
		die("RAND_bytes", -EIO);
}

static void teardown(struct cmd *c)
{
	sevmig_fw_free(c->src);
	sevmig_fw_free(c->tgt);
	free(c->guest);
	free(c->dst);
	free(c->trans);
	free(c->hdr);
}

static double best(double a, double b)
{
	return a < b ? a : b;
}

static void report(const char *name, unsigned threads, double secs, double base)
{
	double pps = g_pages / secs, us = secs * 1e6 / g_pages * threads;
	if (base > 0)
		printf("  %-22s %10.0f %9.2f %8.3fx\n", name, pps, us, secs / base);
	else
		printf("  %-22s %10.0f %9.2f %9s\n", name, pps, us, "1.000x");
}

static void measure(unsigned threads, unsigned runs)
{
	struct cmd c[2];
	struct raw raw[2];
	memset(c, 0, sizeof(c));
	setup(&c[0], threads);
	for (unsigned i = 0; i < threads; i++) {
		c[i] = c[0];
		c[i].first = i;
		c[i].step = threads;
		raw[i].in = xalloc((size_t)WINDOW * PAGE);
		raw[i].out = xalloc((size_t)WINDOW * PAGE);
		if (threads > 1)
			raw[i].in[0] = 1; /* distinct buffers per thread */
	}
	double t_raw = 1e9, t_send = 1e9, t_recv = 1e9;
	/* Each raw thread does all g_pages pages; scale to the same total. */
	for (unsigned k = 0; k < runs; k++) {
		double tr = run_threads(raw_loop, raw, sizeof(raw[0]), threads) / threads;
		t_raw = best(t_raw, tr);
		for (unsigned i = 0; i < threads; i++)
			c[i].receive = false;
		t_send = best(t_send, run_threads(update_loop, c, sizeof(c[0]), threads));
		for (unsigned i = 0; i < threads; i++)
			c[i].receive = true;
		t_recv = best(t_recv, run_threads(update_loop, c, sizeof(c[0]), threads));
	}
	if (memcmp(c[0].guest, c[0].dst, (size_t)WINDOW * PAGE))
		die("the received pages differ", -EBADMSG);
	printf("%u thread%s, %u pages per run, best of %u runs:\n", threads,
	       threads > 1 ? "s on one handle" : "", g_pages, runs);
	printf("  %-22s %10s %9s %9s\n", "", "pages/s", "us/page", "ratio");
	report("raw CTR+HMAC loop", threads, t_raw, 0);
	report("SEND_UPDATE_DATA", threads, t_send, t_raw);
	report("RECEIVE_UPDATE_DATA", threads, t_recv, t_raw);
	for (unsigned i = 0; i < threads; i++) {
		free(raw[i].in);
		free(raw[i].out);
	}
	teardown(&c[0]);
}

int main(int argc, char **argv)
{
	unsigned runs = 5;
	if (argc > 1)
		g_pages = (unsigned)strtoul(argv[1], NULL, 0);
	if (argc > 2)
		runs = (unsigned)strtoul(argv[2], NULL, 0);
	if (g_pages < WINDOW || !runs || argc > 3) {
		fprintf(stderr, "usage: bench_soft_fw [pages per run >= %u] [runs >= 1]\n", WINDOW);
		return 2;
	}
	printf("bench_soft_fw: software firmware UPDATE_DATA vs raw OpenSSL (%s), 4 KiB pages; "
	       "goal: ratio <= 1.15\n",
	       OpenSSL_version(OPENSSL_VERSION));
	measure(1, runs);
	measure(2, runs);
	return 0;
}
