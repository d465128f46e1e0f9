/* SPDX-License-Identifier: MIT */
/*
 * bench_stream: the migration stream end to end over the software firmware,
 * against the raw work measured in the same run.
 *
 *   bench_stream [GiB (1)] [zstd level (1)] [run [times]]
 *
 * The synthetic guest: 50 % zero pages, 30 % compressible shared pages
 * (text-like), 20 % private pages (random bytes), in runs of 1..64 pages.
 * Guest memory (source and target) lives in memfd mappings, so it counts
 * as RssShmem, not RssAnon: the RssAnon peak is the pipeline's own memory.
 *
 * Raw work, per path, on the same pages, one thread:
 *   private: AES-128-CTR + HMAC-SHA-256 per page (bench_raw.h: the soft
 *            firmware's cryptography; the receive side does the same two
 *            operations);
 *   shared:  ZSTD_compress of 256-page batches at the same level
 *            (ZSTD_decompress on the receive side), with the copies that
 *            gather the pages into a batch (and scatter them back);
 *   zero:    the zero test on the sender, the fill on the receiver.
 * Runs: sender alone into a counting sink, and sender -> receiver through
 * an in-memory pipe on two threads, with 0 and 2 workers; then an
 * all-private pass against the raw crypto loop on 1 and 2 threads. The
 * parts of what remains (the tags' GMAC, the CRC32C, the pipe's
 * copies) are timed alone on the stream's bytes, to say where it goes.
 * Wall times are the fastest rep's; CPU times, like the raw work's, the
 * least of the reps.
 * A third argument repeats one thing alone, for a profiler: 1..4 the runs
 * in the order of the table, 5 the raw send work, 6 and 7 the all-private pass
 * with 1 and 2 workers, 8 and 9 the raw crypto loop over every page on 1
 * and 2 threads; 10 the 2-worker goal paired: the raw send work on two
 * threads and the 2-worker sender back to back, nine times, each pair's
 * ratio and their median (a neighbour's load, which drifts over seconds,
 * then hits both halves of a pair alike). For 1..9 a fourth argument
 * says how many times (default 9 up to 1 GiB, else 3): bench_tools.sh runs
 * the engine once per rep, as often as each tool, so that each side's best
 * is of as many tries.
 *
 *   bench_stream GiB --write-guest DIR
 *
 * writes the same guest (the generator is seeded, so it is the same bytes
 * every time) to DIR/guest.mem and its page state to DIR/guest.pst, for the
 * tools' benchmark (tests/bench/bench_tools.sh) to compare the tools with
 * the engine on one guest.
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

#include <openssl/evp.h>
#include <zstd.h>

#include <sevmig/sevmig.h>

#include "bench_raw.h"
#include "util/crc32c.h"

/* Streams are keyed, as real ones are (a fixed pre-shared key). */
static const uint8_t bench_psk[SEVMIG_KEY_SIZE] = { 0x42 };
#define TS_KEY .key_source = SEVMIG_KEY_PSK, .key = bench_psk

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

static pthread_t g_mon; /* the RssAnon sampler below */

/* CPU seconds of every thread of the process but the RssAnon sampler (whose
 * reads of /proc cost a few percent of a run). */
static double cpu_now(void)
{
	struct rusage u;
	struct timespec m = { 0, 0 };
	clockid_t cid;
	getrusage(RUSAGE_SELF, &u);
	if (pthread_getcpuclockid(g_mon, &cid) == 0)
		clock_gettime(cid, &m);
	return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec * 1e-6 +
	       (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec * 1e-6 -
	       ((double)m.tv_sec + (double)m.tv_nsec * 1e-9);
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
	int rc = sevmig_pstate_new(&g->ps, NULL);
	if (rc == 0)
		rc = sevmig_pstate_add_slot(g->ps, 0, g->pages);
	if (rc == 0)
		rc = sevmig_pstate_clone(g->ps, &g->all_private, NULL);
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
	unsigned part, parts; /* this thread's share of the pages */
	bool all;	      /* every page, whatever its kind */
	double secs;
};

/* The raw crypto loop over this thread's share of the (private) pages. */
static void *raw_crypto(void *arg)
{
	struct raw *r = arg;
	struct bench_raw b;
	static uint8_t outs[2][PAGE * 16];
	uint8_t *out = outs[r->part % 2];
	if (bench_raw_init(&b))
		die("OpenSSL setup", -EIO);
	double t0 = now();
	uint64_t k = 0;
	for (uint64_t i = r->part; i < r->g->pages; i += r->parts) {
		if (!r->all && r->g->kind[i] != K_PRIV)
			continue;
		if (bench_raw_page(&b, r->g->src + i * PAGE, out + (k++ % 16) * PAGE, i))
			die("raw crypto", -EIO);
	}
	r->secs = now() - t0;
	bench_raw_free(&b);
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

/*
 * zstd on 256-page batches of text pages; the zero test on zero pages and
 * the receiver's fill of them. ZSTD_compress() takes one buffer and
 * ZSTD_decompress() makes one, so the text pages, scattered through guest
 * memory among zero and private ones, are gathered from their places into a
 * batch buffer before compression, and scattered back to their places (in
 * the target's memory) after decompression: those copies are timed apart.
 */
struct raw_shared {
	const struct guest *g;
	int level;
	bool send_only; /* no decompression, scatter or fill (nothing written) */
	double comp, dec, gather, scatter, ztest, zfill;
	uint64_t wire;
};

static void *raw_shared_run(void *arg)
{
	struct raw_shared *o = arg;
	const struct guest *g = o->g;
	int level = o->level;
	uint8_t *in = malloc((size_t)BATCH * PAGE), *back = malloc((size_t)BATCH * PAGE);
	size_t cap = ZSTD_compressBound((size_t)BATCH * PAGE);
	uint8_t *out = malloc(cap);
	uint64_t *where = malloc(BATCH * sizeof(*where));
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	if (!in || !out || !back || !where || !cc || !dc)
		die("allocation", -ENOMEM);
	o->comp = o->dec = o->gather = o->scatter = o->ztest = o->zfill = 0;
	o->wire = 0;
	unsigned n = 0;
	volatile uint64_t nonzero = 0;
	for (uint64_t i = 0; i <= g->pages; i++) {
		if (i < g->pages && g->kind[i] == K_ZERO) {
			double t0 = now();
			const uint64_t *w = (const uint64_t *)(const void *)(g->src + i * PAGE);
			uint64_t acc = 0;
			for (unsigned j = 0; j < PAGE / 8; j++)
				acc |= w[j];
			nonzero += acc != 0;
			o->ztest += now() - t0;
			continue;
		}
		if (i < g->pages && g->kind[i] == K_TEXT)
			where[n++] = i;
		if (n == BATCH || (i == g->pages && n)) {
			double t0 = now();
			for (unsigned k = 0; k < n; k++)
				memcpy(in + (size_t)k * PAGE, g->src + where[k] * PAGE, PAGE);
			double t1 = now();
			size_t z = ZSTD_compressCCtx(cc, out, cap, in, (size_t)n * PAGE, level);
			double t2 = now();
			if (ZSTD_isError(z) ||
			    (!o->send_only &&
			     ZSTD_isError(ZSTD_decompressDCtx(dc, back, (size_t)n * PAGE, out, z))))
				die("zstd", -EIO);
			double t3 = now();
			for (unsigned k = 0; k < n && !o->send_only; k++)
				memcpy(g->dst + where[k] * PAGE, back + (size_t)k * PAGE, PAGE);
			o->scatter += now() - t3;
			o->dec += t3 - t2;
			o->comp += t2 - t1;
			o->gather += t1 - t0;
			o->wire += z;
			n = 0;
		}
	}
	/* The receiver's zero fill, into the target's pages. */
	double t0 = now();
	for (uint64_t i = 0; i < g->pages && !o->send_only; i++)
		if (g->kind[i] == K_ZERO)
			memset(g->dst + i * PAGE, 0, PAGE);
	o->zfill = now() - t0;
	free(in);
	free(out);
	free(back);
	free(where);
	ZSTD_freeCCtx(cc);
	ZSTD_freeDCtx(dc);
	(void)nonzero; /* kept so that the zero test is not optimised away */
	return NULL;
}

static void raw_shared(const struct guest *g, int level, struct raw_shared *o)
{
	*o = (struct raw_shared){ .g = g, .level = level };
	raw_shared_run(o);
}

/* The send side's zstd work on both cores at once (each core all of it):
 * seconds of compression per core. */
static double raw_zstd_pair(const struct guest *g, int level)
{
	struct raw_shared o[2];
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		o[i] = (struct raw_shared){ .g = g, .level = level, .send_only = true };
		pthread_create(&th[i], NULL, raw_shared_run, &o[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	return (o[0].comp + o[1].comp) / 2;
}

/*
 * The raw send work on two threads at once, as the sender's two workers run
 * it: each thread takes every other block of 4096 pages and does the
 * crypto, the gathering and zstd, and the zero test on it. Both cores busy
 * share caches and memory (and, on a machine whose two CPUs are hyper-
 * threads, one core), so each unit of work costs more CPU than on one
 * thread alone: this is the baseline that shares those conditions. CPU
 * seconds of both threads.
 */
struct raw_send {
	const struct guest *g;
	int level;
	unsigned part;
	double cpu;
};

static double thread_cpu(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *raw_send_run(void *arg)
{
	struct raw_send *o = arg;
	const struct guest *g = o->g;
	const uint64_t block = 4096;
	struct bench_raw b;
	uint8_t *in = malloc((size_t)BATCH * PAGE), *enc = malloc(16 * PAGE);
	size_t cap = ZSTD_compressBound((size_t)BATCH * PAGE);
	uint8_t *out = malloc(cap);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	if (!in || !enc || !out || !cc || bench_raw_init(&b))
		die("raw send setup", -ENOMEM);
	volatile uint64_t nonzero = 0;
	unsigned n = 0;
	uint64_t k = 0;
	double c0 = thread_cpu();
	for (uint64_t first = o->part * block; first < g->pages; first += 2 * block) {
		uint64_t end = first + block < g->pages ? first + block : g->pages;
		for (uint64_t i = first; i < end; i++) {
			const uint8_t *p = g->src + i * PAGE;
			if (g->kind[i] == K_PRIV) {
				if (bench_raw_page(&b, p, enc + (k++ % 16) * PAGE, i))
					die("raw crypto", -EIO);
			} else if (g->kind[i] == K_ZERO) {
				const uint64_t *w = (const uint64_t *)(const void *)p;
				uint64_t acc = 0;
				for (unsigned j = 0; j < PAGE / 8; j++)
					acc |= w[j];
				nonzero += acc != 0;
			} else {
				memcpy(in + (size_t)n++ * PAGE, p, PAGE);
			}
			if (n == BATCH || (n && i + 1 == g->pages)) {
				if (ZSTD_isError(ZSTD_compressCCtx(cc, out, cap, in,
								   (size_t)n * PAGE, o->level)))
					die("zstd", -EIO);
				n = 0;
			}
		}
	}
	if (n && ZSTD_isError(ZSTD_compressCCtx(cc, out, cap, in, (size_t)n * PAGE, o->level)))
		die("zstd", -EIO);
	(void)nonzero; /* kept so that the zero test is not optimised away */
	o->cpu = thread_cpu() - c0;
	bench_raw_free(&b);
	ZSTD_freeCCtx(cc);
	free(in);
	free(enc);
	free(out);
	return NULL;
}

static double raw_send_pair(const struct guest *g, int level)
{
	struct raw_send o[2];
	pthread_t th[2];
	for (unsigned i = 0; i < 2; i++) {
		o[i] = (struct raw_send){ .g = g, .level = level, .part = i };
		pthread_create(&th[i], NULL, raw_send_run, &o[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	return o[0].cpu + o[1].cpu;
}

/* ---- the parts of the overhead, timed alone ---------------------------------- */

enum part { P_GMAC, P_CRC, P_COPY };

/* GMAC (the records' tags: AES-256-GCM over authenticated data only),
 * CRC32C or memcpy of `bytes` bytes, 1 MiB at a time from a buffer in
 * cache, as the pipeline does them on records it has just built or read:
 * seconds. */
static double time_part(enum part what, uint64_t bytes)
{
	const size_t chunk = 1u << 20;
	uint8_t *buf = malloc(2 * chunk), key[32] = { 1 }, iv[12] = { 0 }, tag[16];
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int ol;
	volatile uint32_t crc = 0;
	if (!buf || !c || !EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv))
		die("GMAC", -EIO);
	for (size_t i = 0; i < 2 * chunk; i++)
		buf[i] = (uint8_t)(i * 131 + (i >> 12));
	double t0 = now();
	for (uint64_t off = 0; off < bytes; off += chunk) {
		size_t n = bytes - off < chunk ? (size_t)(bytes - off) : chunk;
		if (what == P_GMAC && !EVP_EncryptUpdate(c, NULL, &ol, buf, (int)n))
			die("GMAC", -EIO);
		if (what == P_CRC)
			crc = sevmig__crc32c(crc, buf, n);
		if (what == P_COPY)
			memcpy(buf + chunk, buf, n);
	}
	if (what == P_GMAC && (!EVP_EncryptFinal_ex(c, tag, &ol) ||
			       !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag)))
		die("GMAC", -EIO);
	double t = now() - t0;
	EVP_CIPHER_CTX_free(c);
	free(buf);
	return t;
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

/*
 * A bounded byte pipe between two threads, as a socket would be: one writer,
 * one reader, copies outside the lock, and a side that sleeps is woken only
 * when there is a useful amount to do (a quarter of the ring free, an
 * eighth of it filled, or what it asked for), not on every transfer.
 */
#define RING (4u << 20)
struct ring {
	pthread_mutex_t lock;
	pthread_cond_t can_read, can_write;
	uint8_t *buf;
	size_t head, len;    /* the bytes in the ring: [head, head + len) mod RING */
	size_t rwant, wwant; /* what a sleeping side waits for; 0: awake */
	bool closed;
};

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

static int ring_write(void *arg, const void *data, size_t n)
{
	struct ring *r = arg;
	const uint8_t *p = data;
	while (n) {
		pthread_mutex_lock(&r->lock);
		r->wwant = min_sz(n, RING / 4);
		while (RING - r->len < r->wwant)
			pthread_cond_wait(&r->can_write, &r->lock);
		r->wwant = 0;
		size_t tail = (r->head + r->len) % RING;
		size_t k = min_sz(min_sz(RING - r->len, RING - tail), n);
		pthread_mutex_unlock(&r->lock);
		memcpy(r->buf + tail, p, k); /* the reader does not touch free space */
		pthread_mutex_lock(&r->lock);
		r->len += k;
		if (r->rwant && r->len >= r->rwant)
			pthread_cond_signal(&r->can_read);
		pthread_mutex_unlock(&r->lock);
		p += k;
		n -= k;
	}
	return 0;
}

static ptrdiff_t ring_read(void *arg, void *data, size_t n)
{
	struct ring *r = arg;
	pthread_mutex_lock(&r->lock);
	r->rwant = min_sz(n, RING / 8);
	while (r->len < r->rwant && !r->closed)
		pthread_cond_wait(&r->can_read, &r->lock);
	r->rwant = 0;
	size_t head = r->head, k = min_sz(min_sz(r->len, n), RING - r->head);
	pthread_mutex_unlock(&r->lock);
	memcpy(data, r->buf + head, k); /* the writer does not touch these */
	pthread_mutex_lock(&r->lock);
	r->head = (r->head + k) % RING;
	r->len -= k;
	if (r->wwant && RING - r->len >= r->wwant)
		pthread_cond_signal(&r->can_write);
	pthread_mutex_unlock(&r->lock);
	return (ptrdiff_t)k;
}

static void ring_close(struct ring *r)
{
	pthread_mutex_lock(&r->lock);
	r->closed = true;
	pthread_cond_signal(&r->can_read);
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
	bool sansio; /* both ends in this thread through the sans-I/O calls */
};

/* The sans-I/O pipeline in one thread: what the sender queues is pushed
 * into the receiver, in 256 KiB pieces (a socket read's worth). */
static void run_sansio(struct run *r, struct sevmig_fw *src, uint32_t pl)
{
	SEVMIG_OPTS(sevmig_sender_opts, o, TS_KEY, .target_pdh = r->pdh, .target_pdh_len = pl,
		    .zstd_level = r->level, .workers = r->sw);
	SEVMIG_OPTS(sevmig_receiver_opts, ro, TS_KEY, .workers = r->rw);
	struct sevmig_sender *s;
	struct sevmig_receiver *rc;
	struct sevmig_error err;
	int e = sevmig_sender_new(src, &r->g->src_reg, 1, NULL, NULL, &o, &s, &err);
	if (e == 0)
		e = sevmig_receiver_new(r->tgt, &r->g->dst_reg, 1, NULL, NULL, &ro, &rc, &err);
	if (e) {
		fprintf(stderr, "%s\n", err.message);
		die("sans-I/O setup", e);
	}
	static uint8_t piece[256 << 10];
	bool ended = false;
	for (int phase = 0; phase < 2 && e >= 0; phase++) {
		e = phase == 0 ? sevmig_sender_send_all(s, r->ps, &err)
			       : sevmig_sender_finish(s, &err);
		for (int more = 1; e >= 0 && more;) {
			size_t n;
			while (e >= 0 && (n = sevmig_sender_output(s, piece, sizeof(piece)))) {
				for (size_t at = 0; at < n && e >= 0 && !ended;) {
					struct sevmig_recv_event ev = { .sz = sizeof(ev) };
					size_t used;
					e = sevmig_receiver_push(rc, piece + at, n - at, &used, &ev,
								 &err);
					at += used;
					if (e == 1 && ev.type == SEVMIG_RECV_END) {
						ended = true;
						e = sevmig_receiver_commit(rc, &err);
					}
				}
			}
			more = e >= 0 ? sevmig_sender_produce(s, &err) : 0;
			e = more < 0 ? more : e;
		}
	}
	if (e < 0 || !ended) {
		fprintf(stderr, "%s\n", err.message);
		die("sans-I/O run", e < 0 ? e : -EPROTO);
	}
	r->c.sz = sizeof(r->c);
	sevmig_sender_counts(s, &r->c);
	sevmig_receiver_free(rc);
	sevmig_sender_free(s);
}

static void *recv_thread(void *arg)
{
	struct run *r = arg;
	SEVMIG_OPTS(sevmig_receiver_opts, o, TS_KEY, .workers = r->rw);
	struct sevmig_receiver *rc;
	r->rrc =
	    sevmig_receiver_new(r->tgt, &r->g->dst_reg, 1, ring_read, r->ring, &o, &rc, &r->rerr);
	if (r->rrc == 0) {
		r->rrc = sevmig_receiver_run(rc, &r->rerr);
		sevmig_receiver_free(rc);
	}
	return NULL;
}

/* Send (and, with e2e, receive) the guest once: wall seconds, and in *cpu
 * the CPU seconds of every thread meanwhile (platform setup excluded). */
static double run_once(struct run *r, bool e2e, double *cpu)
{
	struct sevmig_fw *src;
	SEVMIG_OPTS(sevmig_fw_soft_opts, so, .launch = true, .max_threads = 2);
	SEVMIG_OPTS(sevmig_fw_soft_opts, to, .max_threads = 2);
	int rc = sevmig_fw_soft_new(&so, &src, NULL);
	if (rc == 0)
		rc = sevmig_fw_soft_new(&to, &r->tgt, NULL);
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
		/* So that a page the receiver fails to write shows. */
		memset(r->g->dst, 0xff, r->g->pages * PAGE);
		ring.buf = malloc(RING);
		pthread_mutex_init(&ring.lock, NULL);
		pthread_cond_init(&ring.can_read, NULL);
		pthread_cond_init(&ring.can_write, NULL);
		r->ring = &ring;
	}
	if (r->sansio) {
		memset(r->g->dst, 0xff, r->g->pages * PAGE);
		double c0 = cpu_now(), t0 = now();
		run_sansio(r, src, pl);
		double t = now() - t0;
		*cpu = cpu_now() - c0;
		sevmig_fw_free(src);
		sevmig_fw_free(r->tgt);
		return t;
	}
	SEVMIG_OPTS(sevmig_sender_opts, o, TS_KEY, .target_pdh = r->pdh, .target_pdh_len = pl,
		    .zstd_level = r->level, .workers = r->sw);
	struct sevmig_sender *s;
	struct sevmig_error err;
	double c0 = cpu_now(), t0 = now();
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
	r->c.sz = sizeof(r->c);
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
	*cpu = cpu_now() - c0;
	if (e2e) {
		pthread_cond_destroy(&ring.can_read);
		pthread_cond_destroy(&ring.can_write);
		pthread_mutex_destroy(&ring.lock);
		free(ring.buf);
	}
	sevmig_fw_free(src);
	sevmig_fw_free(r->tgt);
	return t;
}

/* Best wall time of `reps` runs, with the CPU time of that run, and the
 * RssAnon peak over all of them. */
static double best_of(struct run *r, bool e2e, int reps, long *peak, double *cpu)
{
	double best = 1e30;
	peak_reset();
	for (int i = 0; i < reps; i++) {
		double c, t = run_once(r, e2e, &c);
		if (t < best) {
			best = t;
			*cpu = c;
		}
	}
	*peak = atomic_load(&g_peak); /* absolute: everything the process holds */
	return best;
}

static double min2(double a, double b)
{
	return a < b ? a : b;
}

static const struct {
	const char *name;
	unsigned sw, rw;
	bool e2e, sansio;
} runs[] = {
	{ "sender, inline", 0, 0, false, false },
	{ "sender, 2 workers", 2, 0, false, false },
	{ "send+recv, inline", 0, 0, true, false },
	{ "send+recv, 2+2 workers", 2, 2, true, false },
	{ "send+recv, sans-I/O", 0, 0, true, true },
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The 2-worker goal, measured pair by pair (what 10). */
static int paired_goal(struct run *r)
{
	enum { PAIRS = 9 };
	double q[PAIRS], raw_min = 1e30, run_min = 1e30, cpu;
	r->sw = 2;
	r->rw = 0;
	r->sansio = false;
	for (int i = 0; i < PAIRS; i++) {
		double raw = raw_send_pair(r->g, r->level);
		run_once(r, false, &cpu);
		q[i] = cpu / raw;
		raw_min = min2(raw_min, raw);
		run_min = min2(run_min, cpu);
		printf("pair %d: raw send work on 2 threads %.3f CPU s, sender with 2 workers "
		       "%.3f CPU s: x%.3f\n",
		       i + 1, raw, cpu, q[i]);
	}
	qsort(q, PAIRS, sizeof(q[0]), cmp_double);
	printf("sender, 2 workers, against the raw send work on 2 threads: median of %d pairs "
	       "x%.3f (range x%.3f..x%.3f), least against least x%.3f (goal <= 1.05)\n",
	       PAIRS, q[PAIRS / 2], q[0], q[PAIRS - 1], run_min / raw_min);
	return 0;
}

/* The guest in files: its memory and its page state (native form). */
static int write_guest(const struct guest *g, const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/guest.mem", dir);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(g->src, PAGE, g->pages, f) != g->pages || fclose(f))
		die(path, -errno);
	void *buf;
	size_t len;
	int rc = sevmig_pstate_serialize(g->ps, NULL, &buf, &len);
	if (rc < 0)
		die("page state", rc);
	snprintf(path, sizeof(path), "%s/guest.pst", dir);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f))
		die(path, -errno);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	double gib = argc > 1 ? atof(argv[1]) : 1.0;
	if (argc == 4 && !strcmp(argv[2], "--write-guest")) {
		struct guest g;
		guest_new(&g, (uint64_t)(gib * (1u << 30)) / PAGE * PAGE);
		return write_guest(&g, argv[3]);
	}
	int level = argc > 2 ? atoi(argv[2]) : 1;
	int only = argc > 3 ? atoi(argv[3]) : 0;
	int times = argc > 4 ? atoi(argv[4]) : 0;
	uint64_t bytes = (uint64_t)(gib * (1u << 30)) / PAGE * PAGE;
	int reps = gib <= 1.0 ? 3 : 1;
	if (bytes < (64u << 20) || only < 0 || only > 10 || times < 0 || (times && !only)) {
		fprintf(stderr,
			"usage: bench_stream [GiB >= 0.0625] [zstd level] [what 1..10 [times]]\n");
		return 2;
	}
	pthread_create(&g_mon, NULL, monitor, NULL);

	long anon0 = rss_anon_kb();
	struct guest g;
	guest_new(&g, bytes);
	printf("bench_stream: %.2f GiB guest (memfd; %llu zero, %llu text, %llu private pages), "
	       "zstd level %d, %ld CPUs\n",
	       gib, (unsigned long long)g.n[K_ZERO], (unsigned long long)g.n[K_TEXT],
	       (unsigned long long)g.n[K_PRIV], level, sysconf(_SC_NPROCESSORS_ONLN));
	printf("RssAnon before the runs: %ld KiB (includes the bench's own per-page table of "
	       "%llu KiB)\n",
	       rss_anon_kb() - anon0, (unsigned long long)g.pages / 1024);

	struct run r = { .g = &g, .ps = g.ps, .level = level };
	long pk;
	double cpu;
	if (only == 10)
		return paired_goal(&r);
	if (only) {
		/* For a profiler: one thing alone, over and over. */
		for (int i = 0; i < (times ? times : 3 * reps); i++) {
			double t;
			if (only == 5) {
				struct raw_shared rs = { .g = &g,
							 .level = level,
							 .send_only = true };
				t = run_raw_crypto(&g, 1, false);
				raw_shared_run(&rs);
				printf("raw: crypto %.3f s, zstd %.3f s, zero test %.3f s\n", t,
				       rs.comp, rs.ztest);
			} else if (only >= 8) {
				t = run_raw_crypto(&g, only - 7, true);
				printf("raw crypto, all pages, %d threads: %.3f s\n", only - 7, t);
			} else {
				r.sw = only >= 6 ? (unsigned)only - 5 : runs[only - 1].sw;
				r.rw = only >= 6 ? 0 : runs[only - 1].rw;
				r.ps = only >= 6 ? g.all_private : g.ps;
				t = run_once(&r, only < 6 && runs[only - 1].e2e, &cpu);
				printf("run %d: %.3f s wall, %.3f s CPU\n", only, t, cpu);
			}
		}
		return 0;
	}

	/* Raw work and runs, interleaved rep by rep so that a busy neighbour
	 * hurts both alike; the best of each. */
	enum { NRUNS = sizeof(runs) / sizeof(runs[0]) };
	double t_c1 = 1e30, t_c2 = 1e30, t_zpair = 1e30, t_send2 = 1e30, t_run[NRUNS], c_run[NRUNS];
	long pk_run[NRUNS];
	struct sevmig_stream_counts cnt[NRUNS];
	struct raw_shared rs, b = { .comp = 1e30,
				    .dec = 1e30,
				    .gather = 1e30,
				    .scatter = 1e30,
				    .ztest = 1e30,
				    .zfill = 1e30 };
	for (size_t i = 0; i < NRUNS; i++)
		t_run[i] = 1e30, c_run[i] = 1e30, pk_run[i] = 0;
	for (int i = 0; i < reps; i++) {
		t_c1 = min2(t_c1, run_raw_crypto(&g, 1, false));
		t_c2 = min2(t_c2, run_raw_crypto(&g, 2, false));
		raw_shared(&g, level, &rs);
		b.comp = min2(b.comp, rs.comp);
		b.dec = min2(b.dec, rs.dec);
		b.gather = min2(b.gather, rs.gather);
		b.scatter = min2(b.scatter, rs.scatter);
		b.ztest = min2(b.ztest, rs.ztest);
		b.zfill = min2(b.zfill, rs.zfill);
		b.wire = rs.wire;
		t_zpair = min2(t_zpair, raw_zstd_pair(&g, level));
		t_send2 = min2(t_send2, raw_send_pair(&g, level));
		for (size_t k = 0; k < NRUNS; k++) {
			r.sw = runs[k].sw;
			r.rw = runs[k].rw;
			r.sansio = runs[k].sansio;
			double t = best_of(&r, runs[k].e2e, 1, &pk, &cpu);
			if (t < t_run[k]) {
				t_run[k] = t;
				cnt[k] = r.c;
			}
			/* CPU against CPU: the least of the runs, as for the raw
			 * work (noise only ever adds), not the CPU of the run
			 * with the best wall time */
			c_run[k] = min2(c_run[k], cpu);
			pk_run[k] = pk > pk_run[k] ? pk : pk_run[k];
			if (runs[k].e2e && memcmp(g.src, g.dst, bytes))
				die("target memory differs from the source", -EIO);
		}
	}
	double raw_send = t_c1 + b.gather + b.comp + b.ztest;
	double raw_e2e = raw_send + t_c1 + b.dec + b.scatter + b.zfill;
	printf("\nraw work, 1 thread: crypto %.3f s (%.0f MB/s of private pages); zstd %.3f s "
	       "(+ %.3f s gathering the pages), unzstd %.3f s (+ %.3f s scattering them); zero "
	       "test %.3f s, zero fill %.3f s\n",
	       t_c1, (double)g.n[K_PRIV] * PAGE / t_c1 / 1e6, b.comp, b.gather, b.dec, b.scatter,
	       b.ztest, b.zfill);
	printf("  send: crypto + gather + zstd + zero test = %.3f s\n", raw_send);
	printf("  send+receive: 2 crypto + gather + zstd + unzstd + scatter + zero test + fill "
	       "= %.3f s\n",
	       raw_e2e);
	printf("  (without gather and scatter: %.3f s and %.3f s)\n", raw_send - b.gather,
	       raw_e2e - b.gather - b.scatter);
	printf("raw crypto on 2 threads: %.3f s (x%.2f); zstd on both cores at once: %+.1f%% "
	       "time per batch (shared caches and memory)\n\n",
	       t_c2, t_c1 / t_c2, 100 * (t_zpair - b.comp) / b.comp);

	printf("%-24s %7s %8s %8s %8s %8s %6s %7s %8s %8s %6s\n", "run (best of each)", "wall s",
	       "guest", "ENC", "PLAIN", "ZERO", "wire", "CPU s", "CPU over", "w/o g+s", "anon");
	printf("%-24s %7s %8s %8s %8s %8s %6s %7s %8s %8s %6s\n", "", "", "MB/s", "pages/s",
	       "pages/s", "pages/s", "B/B", "", "raw", "", "MiB");
	for (size_t i = 0; i < NRUNS; i++) {
		double t = t_run[i], raw = runs[i].e2e ? raw_e2e : raw_send;
		double copies = b.gather + (runs[i].e2e ? b.scatter : 0);
		printf(
		    "%-24s %7.3f %8.0f %8.0f %8.0f %8.0f %6.3f %7.3f %7.1f%% %7.1f%% %6.1f\n",
		    runs[i].name, t, (double)bytes / 1e6 / t, (double)cnt[i].enc_pages / t,
		    (double)cnt[i].plain_pages / t, (double)cnt[i].zero_pages / t,
		    (double)cnt[i].bytes / (double)bytes, c_run[i], 100.0 * (c_run[i] - raw) / raw,
		    100.0 * (c_run[i] - raw + copies) / (raw - copies), (double)pk_run[i] / 1024);
	}
	printf("(\"w/o g+s\": against the raw work without gathering and scattering the pages)\n");
	printf("raw send work on 2 threads at once: %.3f CPU s (x%.3f the same work on one "
	       "thread); sender, 2 workers: CPU x%.3f of it (goal <= 1.05)\n",
	       t_send2, t_send2 / raw_send, c_run[1] / t_send2);
	printf("sans-I/O, both ends in one thread, against the blocking send+recv inline (a "
	       "thread each, through a pipe): CPU x%.3f (goal <= 1.02)\n",
	       c_run[4] / c_run[2]);

	/* Where the rest goes: each part timed alone on as many bytes. */
	uint64_t sb = cnt[0].bytes, db = sb - (uint64_t)cnt[0].enc_pages * PAGE;
	double t_sha = 1e30, t_crc = 1e30, t_copy = 1e30;
	for (int i = 0; i < reps; i++) {
		t_sha = min2(t_sha, time_part(P_GMAC, db));
		t_crc = min2(t_crc, time_part(P_CRC, sb));
		t_copy = min2(t_copy, time_part(P_COPY, sb));
	}
	printf("(stream %.0f MB; zstd alone would make %.3f wire bytes per guest byte)\n",
	       (double)sb / 1e6, (double)(b.wire + g.n[K_PRIV] * (PAGE + 60)) / (double)bytes);
	printf(
	    "parts, each timed alone on cached data, as %% of raw send / of raw send+receive:\n");
	printf("  record tags, GMAC of %.0f MB: %.3f s = %.1f%% / %.1f%% (both sides)\n",
	       (double)db / 1e6, t_sha, 100 * t_sha / raw_send, 200 * t_sha / raw_e2e);
	printf("  CRC32C of the stream: %.3f s = %.1f%% / %.1f%% (both sides)\n", t_crc,
	       100 * t_crc / raw_send, 200 * t_crc / raw_e2e);
	printf("  memcpy of the stream: %.3f s = %.1f%% / %.1f%% (the pipe copies twice)\n\n",
	       t_copy, 100 * t_copy / raw_send, 200 * t_copy / raw_e2e);

	/* The private path alone: every page through SEND_UPDATE_DATA, runs
	 * interleaved with the raw loop's so that a busy neighbour hurts both. */
	r.ps = g.all_private;
	r.sansio = false;
	double t_a1 = 1e30, t_a2 = 1e30, t_p[3] = { 1e30, 1e30, 1e30 };
	long apk = 0;
	for (int i = 0; i < reps + 2; i++) {
		t_a1 = min2(t_a1, run_raw_crypto(&g, 1, true));
		t_a2 = min2(t_a2, run_raw_crypto(&g, 2, true));
		for (unsigned w = 1; w <= 2; w++) {
			r.sw = w;
			t_p[w] = min2(t_p[w], best_of(&r, false, 1, &pk, &cpu));
			apk = pk > apk ? pk : apk;
		}
	}
	double pages = (double)g.pages;
	printf("all-private pass, %llu pages, sender alone (best of %d, interleaved):\n",
	       (unsigned long long)g.pages, reps + 2);
	printf("  raw crypto: 1 thread %.0f pages/s, 2 threads %.0f pages/s (x%.2f)\n",
	       pages / t_a1, pages / t_a2, t_a1 / t_a2);
	printf("  sender: 1 worker %.0f pages/s (%.1f%% of raw on 1 thread), 2 workers %.0f "
	       "pages/s (%.1f%% of raw on 2 threads; goal >= 90%%); anon peak %.1f MiB\n",
	       pages / t_p[1], 100 * t_a1 / t_p[1], pages / t_p[2], 100 * t_a2 / t_p[2],
	       (double)apk / 1024);

	atomic_store(&g_stop_monitor, 1);
	pthread_join(g_mon, NULL);
	sevmig_pstate_free(g.ps);
	sevmig_pstate_free(g.all_private);
	munmap(g.src, bytes);
	munmap(g.dst, bytes);
	free(g.kind);
	return 0;
}
