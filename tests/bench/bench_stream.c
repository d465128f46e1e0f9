/* SPDX-License-Identifier: MIT */
/*
 * bench_stream: the migration stream end to end over the software firmware,
 * against the raw work measured in the same run.
 *
 *   bench_stream [GiB (1)] [zstd level (1)]
 *
 * The synthetic guest: 50 % zero pages, 30 % compressible shared pages
 * (text-like), 20 % private pages (random bytes), in runs of 1..64 pages.
 * Guest memory (source and target) lives in memfd mappings, so it counts
 * as RssShmem, not RssAnon: the RssAnon peak is the pipeline's own memory.
 *
 * Raw work, per path, on the same pages:
 *   private: AES-128-CTR + HMAC-SHA-256 per page (the soft firmware's
 *            cryptography; the receive side does the same two operations);
 *   shared:  ZSTD_compress of 256-page batches at the same level
 *            (ZSTD_decompress on the receive side);
 *   zero:    the zero test on the sender, the fill on the receiver.
 * Runs: sender alone into a counting sink, and sender -> receiver through
 * an in-memory pipe on two threads, with 0 and 2 workers; then an
 * all-private pass against the raw crypto loop on 1 and 2 threads.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <zstd.h>

#include <sevmig/sevmig.h>

#define PAGE  4096u
#define BATCH 256u

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_stream: %s: %s\n", what, rc < 0 ? sevmig_strerror(rc) : "failed");
	exit(2);
}

/* CPU seconds of every thread of the process. */
static double cpu_now(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec * 1e-6 +
	       (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec * 1e-6;
}

/* ---- RssAnon, sampled ------------------------------------------------------ */

static long rss_anon_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static atomic_long g_peak;
static atomic_int g_stop_monitor;

static void *monitor(void *arg)
{
	(void)arg;
	while (!atomic_load(&g_stop_monitor)) {
		long kb = rss_anon_kb();
		if (kb > atomic_load(&g_peak))
			atomic_store(&g_peak, kb);
		usleep(2000);
	}
	return NULL;
}

static long peak_reset(void)
{
	/* Hand freed heap back first, so the peak is what a run holds, not
	 * what earlier runs' thread arenas kept. */
	malloc_trim(0);
	long kb = rss_anon_kb();
	atomic_store(&g_peak, kb);
	return kb;
}

/* ---- the guest ------------------------------------------------------------- */

enum kind { K_ZERO, K_TEXT, K_PRIV };

struct guest {
	uint64_t pages;
	uint8_t *src, *dst; /* memfd mappings */
	uint8_t *kind;	    /* per page; part of the bench, not the pipeline */
	struct sevmig_pstate *ps, *all_private;
	struct sevmig_mem_region src_reg, dst_reg;
	uint64_t n[3];
};

static uint8_t *memfd_map(const char *name, uint64_t bytes)
{
	int fd = memfd_create(name, 0);
	if (fd < 0 || ftruncate(fd, (off_t)bytes))
		die("memfd", -errno);
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		die("mmap", -errno);
	return p;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void fill_text(uint8_t *p, uint64_t *s)
{
	static const char *const words[] = {
		"the ",	   "guest ", "memory ", "page ",   "shared ",  "private ", "kernel ",
		"buffer ", "of ",    "and ",	"to ",	   "network ", "packet ",  "data ",
		"file ",   "cache ", "inode ",	"block ",  "device ",  "queue ",   "ring ",
		"a ",	   "is ",    "in ",	"value ",  "state ",   "lock ",	   "list ",
		"node ",   "entry ", "count ",	"offset ", "\n",       "{ ",	   "} ",
		"0x1000 ", "int ",   "return ", "struct ", "NULL "
	};
	size_t nw = sizeof(words) / sizeof(words[0]), i = 0;
	while (i < PAGE) {
		const char *w = words[rng_next(s) % nw];
		while (*w && i < PAGE)
			p[i++] = (uint8_t)*w++;
	}
}

static void guest_new(struct guest *g, uint64_t bytes)
{
	memset(g, 0, sizeof(*g));
	g->pages = bytes / PAGE;
	g->src = memfd_map("bench-src", bytes);
	g->dst = memfd_map("bench-dst", bytes);
	g->kind = malloc(g->pages);
	if (!g->kind)
		die("allocation", -ENOMEM);
	uint64_t s = 1;
	for (uint64_t i = 0; i < g->pages;) {
		uint64_t r = rng_next(&s) % 10, len = 1 + rng_next(&s) % 64;
		enum kind k = r < 5 ? K_ZERO : r < 8 ? K_TEXT : K_PRIV;
		for (uint64_t j = 0; j < len && i < g->pages; j++, i++)
			g->kind[i] = (uint8_t)k;
	}
	int rc = sevmig_pstate_new(&g->ps);
	if (rc == 0)
		rc = sevmig_pstate_add_slot(g->ps, 0, g->pages);
	if (rc == 0)
		rc = sevmig_pstate_clone(g->ps, &g->all_private);
	for (uint64_t i = 0; i < g->pages && rc == 0; i++) {
		uint8_t *p = g->src + i * PAGE;
		g->n[g->kind[i]]++;
		if (g->kind[i] == K_TEXT)
			fill_text(p, &s);
		else if (g->kind[i] == K_PRIV)
			for (unsigned w = 0; w < PAGE; w += 8) {
				uint64_t v = rng_next(&s);
				memcpy(p + w, &v, 8);
			}
		if (g->kind[i] != K_PRIV) {
			uint64_t j = i;
			while (j + 1 < g->pages && g->kind[j + 1] != K_PRIV)
				j++;
			for (uint64_t k = i + 1; k <= j; k++) {
				g->n[g->kind[k]]++;
				if (g->kind[k] == K_TEXT)
					fill_text(g->src + k * PAGE, &s);
			}
			rc = sevmig_pstate_set_range(g->ps, i, j - i + 1, SEVMIG_PAGE_SHARED);
			i = j;
		}
	}
	if (rc)
		die("page state", rc);
	/* Fault every page in now (shmem allocates on first touch, reads
	 * included), so that no run pays for it. */
	for (uint64_t i = 0; i < g->pages; i++)
		if (g->kind[i] == K_ZERO)
			memset(g->src + i * PAGE, 0, PAGE);
	memset(g->dst, 0xff, bytes);
	g->src_reg = (struct sevmig_mem_region){ 0, bytes, g->src };
	g->dst_reg = (struct sevmig_mem_region){ 0, bytes, g->dst };
}

/* ---- raw work ---------------------------------------------------------------- */

struct raw {
	const struct guest *g;
	enum kind kind;
	unsigned part, parts; /* this thread's share of the pages */
	bool all;	      /* every page, whatever its kind */
	int level;
	double secs;
	uint64_t bytes_out;
};

/* AES-128-CTR then HMAC-SHA-256 of each page, as a packet is made (and,
 * with the same two operations, checked and opened). */
static void *raw_crypto(void *arg)
{
	struct raw *r = arg;
	uint8_t key[16] = { 1 }, mkey[16] = { 2 }, iv[16] = { 3 }, mac[32];
	static uint8_t outs[2][PAGE * 16];
	uint8_t *out = outs[r->part % 2];
	char digest[] = "SHA256";
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
				OSSL_PARAM_construct_end() };
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
	EVP_MAC_CTX *m = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!m || !c || !aes || !EVP_CipherInit_ex2(c, aes, key, iv, 1, NULL) ||
	    !EVP_MAC_init(m, mkey, sizeof(mkey), params))
		die("OpenSSL setup", -EIO);
	double t0 = now();
	uint64_t k = 0;
	for (uint64_t i = r->part; i < r->g->pages; i += r->parts) {
		if (!r->all && r->g->kind[i] != K_PRIV)
			continue;
		size_t n = 0;
		int outl = 0;
		iv[0] = (uint8_t)i;
		uint8_t *o = out + (k++ % 16) * PAGE;
		if (!EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, -1) ||
		    !EVP_CipherUpdate(c, o, &outl, r->g->src + i * PAGE, PAGE) ||
		    !EVP_MAC_init(m, NULL, 0, NULL) || !EVP_MAC_update(m, o, PAGE) ||
		    !EVP_MAC_final(m, mac, &n, sizeof(mac)))
			die("raw crypto", -EIO);
	}
	r->secs = now() - t0;
	EVP_MAC_CTX_free(m);
	EVP_CIPHER_CTX_free(c);
	EVP_MAC_free(hmac);
	EVP_CIPHER_free(aes);
	return NULL;
}

static double run_raw_crypto(const struct guest *g, unsigned threads, bool all)
{
	pthread_t th[2];
	struct raw r[2];
	double t0 = now();
	for (unsigned i = 0; i < threads; i++) {
		r[i] = (struct raw){ .g = g, .part = i, .parts = threads, .all = all };
		pthread_create(&th[i], NULL, raw_crypto, &r[i]);
	}
	for (unsigned i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	return now() - t0;
}

/* zstd on 256-page batches of text pages; the zero test on zero pages. */
static void raw_shared(const struct guest *g, int level, double *t_comp, double *t_dec,
		       double *t_zero, uint64_t *wire)
{
	uint8_t *in = malloc((size_t)BATCH * PAGE), *back = malloc((size_t)BATCH * PAGE);
	size_t cap = ZSTD_compressBound((size_t)BATCH * PAGE);
	uint8_t *out = malloc(cap);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	if (!in || !out || !back || !cc || !dc)
		die("allocation", -ENOMEM);
	*t_comp = *t_dec = *t_zero = 0;
	*wire = 0;
	unsigned n = 0;
	volatile uint64_t nonzero = 0;
	for (uint64_t i = 0; i <= g->pages; i++) {
		if (i < g->pages && g->kind[i] == K_ZERO) {
			double t0 = now();
			const uint64_t *w = (const uint64_t *)(g->src + i * PAGE);
			uint64_t acc = 0;
			for (unsigned j = 0; j < PAGE / 8; j++)
				acc |= w[j];
			nonzero += acc != 0;
			*t_zero += now() - t0;
			continue;
		}
		if (i < g->pages && g->kind[i] == K_TEXT)
			memcpy(in + (size_t)n++ * PAGE, g->src + i * PAGE, PAGE);
		if (n == BATCH || (i == g->pages && n)) {
			double t0 = now();
			size_t z = ZSTD_compressCCtx(cc, out, cap, in, (size_t)n * PAGE, level);
			double t1 = now();
			if (ZSTD_isError(z) ||
			    ZSTD_isError(ZSTD_decompressDCtx(dc, back, (size_t)n * PAGE, out, z)))
				die("zstd", -EIO);
			*t_dec += now() - t1;
			*t_comp += t1 - t0;
			*wire += z;
			n = 0;
		}
	}
	/* The receiver's zero fill. */
	double t0 = now();
	for (uint64_t i = 0; i < g->pages; i++)
		if (g->kind[i] == K_ZERO)
			memset(back, 0, PAGE);
	*t_zero += now() - t0;
	free(in);
	free(out);
	free(back);
	ZSTD_freeCCtx(cc);
	ZSTD_freeDCtx(dc);
}

/* SHA-256 over `bytes` bytes (4 MiB at a time): what the stream digest of
 * END costs for a stream of that size, on one thread. */
static double raw_sha(const struct guest *g, uint64_t bytes)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t md[32];
	unsigned ml;
	double t0 = now();
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL))
		die("SHA-256", -EIO);
	uint64_t chunk = 4u << 20, src = g->pages * PAGE;
	for (uint64_t off = 0; off < bytes; off += chunk) {
		uint64_t n = bytes - off < chunk ? bytes - off : chunk;
		if (!EVP_DigestUpdate(c, g->src + (off % (src - chunk)), n))
			die("SHA-256", -EIO);
	}
	EVP_DigestFinal_ex(c, md, &ml);
	EVP_MD_CTX_free(c);
	return now() - t0;
}

/* ---- transports -------------------------------------------------------------- */

struct counter {
	uint64_t bytes;
};

static int count_write(void *arg, const void *buf, size_t len)
{
	(void)buf;
	((struct counter *)arg)->bytes += len;
	return 0;
}

/* A bounded byte pipe between two threads. */
#define RING (4u << 20)
struct ring {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	uint8_t *buf;
	size_t head, len;
	bool closed;
};

static int ring_write(void *arg, const void *data, size_t n)
{
	struct ring *r = arg;
	const uint8_t *p = data;
	pthread_mutex_lock(&r->lock);
	while (n) {
		while (r->len == RING)
			pthread_cond_wait(&r->cv, &r->lock);
		size_t tail = (r->head + r->len) % RING;
		size_t k = RING - r->len;
		if (k > RING - tail)
			k = RING - tail;
		if (k > n)
			k = n;
		memcpy(r->buf + tail, p, k);
		r->len += k;
		p += k;
		n -= k;
		pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static ptrdiff_t ring_read(void *arg, void *data, size_t n)
{
	struct ring *r = arg;
	pthread_mutex_lock(&r->lock);
	while (!r->len && !r->closed)
		pthread_cond_wait(&r->cv, &r->lock);
	size_t k = r->len < n ? r->len : n;
	if (k > RING - r->head)
		k = RING - r->head;
	memcpy(data, r->buf + r->head, k);
	r->head = (r->head + k) % RING;
	r->len -= k;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->lock);
	return (ptrdiff_t)k;
}

static void ring_close(struct ring *r)
{
	pthread_mutex_lock(&r->lock);
	r->closed = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->lock);
}

/* ---- pipeline runs ----------------------------------------------------------- */

struct run {
	const struct guest *g;
	const struct sevmig_pstate *ps;
	unsigned sw, rw;
	int level;
	uint8_t pdh[SEVMIG_CERT_SIZE];
	struct sevmig_fw *tgt;
	struct ring *ring;
	struct sevmig_stream_counts c;
	int rrc;
	struct sevmig_error rerr;
};

static void *recv_thread(void *arg)
{
	struct run *r = arg;
	SEVMIG_OPTS(sevmig_receiver_opts, o, .workers = r->rw);
	struct sevmig_receiver *rc;
	r->rrc =
	    sevmig_receiver_new(r->tgt, &r->g->dst_reg, 1, ring_read, r->ring, &o, &rc, &r->rerr);
	if (r->rrc == 0) {
		r->rrc = sevmig_receiver_run(rc, &r->rerr);
		sevmig_receiver_free(rc);
	}
	return NULL;
}

/* Send (and, with e2e, receive) the guest once: seconds. */
static double run_once(struct run *r, bool e2e)
{
	struct sevmig_fw *src;
	SEVMIG_OPTS(sevmig_fw_soft_opts, so, .launch = true, .max_threads = 2);
	SEVMIG_OPTS(sevmig_fw_soft_opts, to, .max_threads = 2);
	int rc = sevmig_fw_soft_new(&so, &src);
	if (rc == 0)
		rc = sevmig_fw_soft_new(&to, &r->tgt);
	uint32_t pl = SEVMIG_CERT_SIZE, cl = SEVMIG_CERT_CHAIN_SIZE;
	uint8_t chain[SEVMIG_CERT_CHAIN_SIZE];
	if (rc == 0)
		rc = sevmig_fw_pdh_cert_export(r->tgt, r->pdh, &pl, chain, &cl, NULL);
	if (rc)
		die("software firmware", rc);
	struct counter cnt = { 0 };
	struct ring ring = { .buf = NULL };
	pthread_t th;
	if (e2e) {
		ring.buf = malloc(RING);
		pthread_mutex_init(&ring.lock, NULL);
		pthread_cond_init(&ring.cv, NULL);
		r->ring = &ring;
	}
	SEVMIG_OPTS(sevmig_sender_opts, o, .target_pdh = r->pdh, .target_pdh_len = pl,
		    .zstd_level = r->level, .workers = r->sw);
	struct sevmig_sender *s;
	struct sevmig_error err;
	double t0 = now();
	if (e2e)
		pthread_create(&th, NULL, recv_thread, r);
	rc = sevmig_sender_new(src, &r->g->src_reg, 1, e2e ? ring_write : count_write,
			       e2e ? (void *)&ring : (void *)&cnt, &o, &s, &err);
	if (rc == 0)
		rc = sevmig_sender_send_all(s, r->ps, &err);
	if (rc == 0)
		rc = sevmig_sender_finish(s, &err);
	if (rc) {
		fprintf(stderr, "%s\n", err.message);
		die("send", rc);
	}
	sevmig_sender_counts(s, &r->c);
	sevmig_sender_free(s);
	if (e2e) {
		ring_close(&ring);
		pthread_join(th, NULL);
		if (r->rrc) {
			fprintf(stderr, "%s\n", r->rerr.message);
			die("receive", r->rrc);
		}
	}
	double t = now() - t0;
	if (e2e) {
		pthread_cond_destroy(&ring.cv);
		pthread_mutex_destroy(&ring.lock);
		free(ring.buf);
	}
	sevmig_fw_free(src);
	sevmig_fw_free(r->tgt);
	return t;
}

/* Best wall time of `reps` runs, with the CPU time of that run. */
static double best_of(struct run *r, bool e2e, int reps, long *peak, double *cpu)
{
	double best = 1e30;
	peak_reset();
	for (int i = 0; i < reps; i++) {
		double c0 = cpu_now();
		double t = run_once(r, e2e);
		if (t < best) {
			best = t;
			*cpu = cpu_now() - c0;
		}
	}
	*peak = atomic_load(&g_peak); /* absolute: everything the process holds */
	return best;
}

int main(int argc, char **argv)
{
	double gib = argc > 1 ? atof(argv[1]) : 1.0;
	int level = argc > 2 ? atoi(argv[2]) : 1;
	uint64_t bytes = (uint64_t)(gib * (1u << 30)) / PAGE * PAGE;
	int reps = gib <= 1.0 ? 3 : 1;
	pthread_t mon;
	pthread_create(&mon, NULL, monitor, NULL);

	long anon0 = rss_anon_kb();
	struct guest g;
	guest_new(&g, bytes);
	printf("bench_stream: %.2f GiB guest (memfd; %llu zero, %llu text, %llu private pages), "
	       "zstd level %d, %ld CPUs\n",
	       gib, (unsigned long long)g.n[K_ZERO], (unsigned long long)g.n[K_TEXT],
	       (unsigned long long)g.n[K_PRIV], level, sysconf(_SC_NPROCESSORS_ONLN));
	printf("RssAnon before the runs: %ld KiB (includes the bench's own per-page table of "
	       "%llu KiB)\n\n",
	       rss_anon_kb() - anon0, (unsigned long long)g.pages / 1024);

	/* Raw work. */
	double t_c1 = 1e30, t_c2 = 1e30, t_comp = 1e30, t_dec = 1e30, t_zero = 1e30;
	uint64_t zwire = 0;
	for (int i = 0; i < reps; i++) {
		double a = run_raw_crypto(&g, 1, false), b = run_raw_crypto(&g, 2, false);
		double c, d, z;
		raw_shared(&g, level, &c, &d, &z, &zwire);
		t_c1 = a < t_c1 ? a : t_c1;
		t_c2 = b < t_c2 ? b : t_c2;
		t_comp = c < t_comp ? c : t_comp;
		t_dec = d < t_dec ? d : t_dec;
		t_zero = z < t_zero ? z : t_zero;
	}
	double raw_send = t_c1 + t_comp + t_zero; /* zero: test and fill together */
	double raw_e2e = 2 * t_c1 + t_comp + t_dec + t_zero;
	printf("raw work (1 thread): crypto %.3f s (%.0f MB/s of private pages), zstd %.3f s + "
	       "unzstd %.3f s, zero test+fill %.3f s\n",
	       t_c1, (double)g.n[K_PRIV] * PAGE / t_c1 / 1e6, t_comp, t_dec, t_zero);
	printf("raw crypto on 2 threads: %.3f s (x%.2f)\n", t_c2, t_c1 / t_c2);

	struct run r = { .g = &g, .ps = g.ps, .level = level };
	long pk;
	double cpu;
	/* The digest's cost on the stream this guest makes (one send tells
	 * its size). */
	(void)run_once(&r, false);
	double t_sha = raw_sha(&g, r.c.bytes);
	printf("END digest: SHA-256 of the %.0f MB stream takes %.3f s on one thread, once per "
	       "side\n\n",
	       (double)r.c.bytes / 1e6, t_sha);
	printf("%-24s %7s %8s %8s %8s %8s %6s %7s %8s %8s %6s\n", "run", "wall s", "guest", "ENC",
	       "PLAIN", "ZERO", "wire", "CPU s", "CPU over", "w/o dig.", "anon");
	printf("%-24s %7s %8s %8s %8s %8s %6s %7s %8s %8s %6s\n", "", "", "MB/s", "pages/s",
	       "pages/s", "pages/s", "B/B", "", "raw", "est.", "MiB");
	struct {
		const char *name;
		unsigned sw, rw;
		bool e2e;
	} runs[] = {
		{ "sender, inline", 0, 0, false },
		{ "sender, 2 workers", 2, 0, false },
		{ "send+recv, inline", 0, 0, true },
		{ "send+recv, 2+2 workers", 2, 2, true },
	};
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		r.sw = runs[i].sw;
		r.rw = runs[i].rw;
		double t = best_of(&r, runs[i].e2e, reps, &pk, &cpu);
		double raw = runs[i].e2e ? raw_e2e : raw_send;
		double sha = runs[i].e2e ? 2 * t_sha : t_sha;
		printf("%-24s %7.3f %8.0f %8.0f %8.0f %8.0f %6.3f %7.3f %7.1f%% %7.1f%% %6.1f\n",
		       runs[i].name, t, (double)bytes / 1e6 / t, (double)r.c.enc_pages / t,
		       (double)r.c.plain_pages / t, (double)r.c.zero_pages / t,
		       (double)r.c.bytes / (double)bytes, cpu, 100.0 * (cpu - raw) / raw,
		       100.0 * (cpu - sha - raw) / raw, (double)pk / 1024);
		if (runs[i].e2e && memcmp(g.src, g.dst, bytes))
			die("target memory differs from the source", -EIO);
	}
	printf("(raw CPU work of these pages: send %.3f s, send+receive %.3f s; \"w/o dig.\" "
	       "subtracts the digest's measured cost; zstd alone: %.3f wire bytes per guest "
	       "byte)\n\n",
	       raw_send, raw_e2e, (double)(zwire + g.n[K_PRIV] * (PAGE + 60)) / (double)bytes);

	/* The private path alone: every page through SEND_UPDATE_DATA. */
	r.ps = g.all_private;
	double t_a1 = 1e30, t_a2 = 1e30;
	for (int i = 0; i < reps; i++) {
		double a = run_raw_crypto(&g, 1, true), b = run_raw_crypto(&g, 2, true);
		t_a1 = a < t_a1 ? a : t_a1;
		t_a2 = b < t_a2 ? b : t_a2;
	}
	double pages = (double)g.pages, t_p[3] = { 0, 0, 0 };
	for (unsigned w = 1; w <= 2; w++) {
		r.sw = w;
		t_p[w] = best_of(&r, false, reps, &pk, &cpu);
	}
	double t_psha = raw_sha(&g, r.c.bytes);
	printf("all-private pass, %llu pages, sender alone:\n", (unsigned long long)g.pages);
	printf("  raw crypto: 1 thread %.0f pages/s, 2 threads %.0f pages/s (x%.2f)\n",
	       pages / t_a1, pages / t_a2, t_a1 / t_a2);
	printf("  sender: 1 worker %.0f pages/s (%.1f%% of raw on 1 thread), 2 workers %.0f "
	       "pages/s (%.1f%% of raw on 2 threads; goal >= 90%%)\n",
	       pages / t_p[1], 100 * t_a1 / t_p[1], pages / t_p[2], 100 * t_a2 / t_p[2]);
	printf("  END digest of this %.0f MB stream: %.3f s of CPU (%.0f%% of the raw crypto's "
	       "%.3f s); anon peak %.1f MiB\n",
	       (double)r.c.bytes / 1e6, t_psha, 100 * t_psha / t_a1, t_a1, (double)pk / 1024);

	atomic_store(&g_stop_monitor, 1);
	pthread_join(mon, NULL);
	sevmig_pstate_free(g.ps);
	sevmig_pstate_free(g.all_private);
	munmap(g.src, bytes);
	munmap(g.dst, bytes);
	free(g.kind);
	return 0;
}
