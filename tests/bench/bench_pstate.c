/* SPDX-License-Identifier: MIT */
/*
 * Page-state benchmark (docs/performance.md, "Page state").
 *
 * Realistic maps for guests of 16 GiB, 256 GiB and 4 TiB: a memslot below
 * 3 GiB and one from 4 GiB up (the MMIO hole is a coverage gap), mostly
 * private, with a 64 MiB bounce buffer shared, one shared page per vCPU for
 * 64 vCPUs, and 1 000 / 100 000 / 1 000 000 scattered shared pages, built
 * through hypercalls in random order. A second snapshot flips 1 % of the
 * shared pages (half of them become private, as many private pages become
 * shared). The generator is bench_layouts.h, shared with bench_vs_roaring.
 *
 * Every operation is timed on libsevmig, on a plain dense bitmap written
 * here (one bit per page of the gfn span, the obvious implementation), and
 * against memcpy() of the dense bitmap's bytes, all in the same run; the
 * ratios are what to look at. Each time is the best of several runs.
 * "set from list" (sevmig_pstate_set_from_list() alone) is the yardstick of
 * deserialization: the binary form's RUNS encoding is the same list, coded.
 *
 *   bench_pstate [--quick] [GUEST...]     GUEST: 16g, 256g or 4t
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sevmig/pstate.h>

#include "bench_layouts.h"
#include "util/crc32c.h"
#include "util/endian.h"

#define QUERIES 1000000

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_pstate: %s: %s\n", what, sevmig_strerror(rc));
	exit(2);
}

#define CHECK(expr)                      \
	do {                             \
		int rc_ = (expr);        \
		if (rc_ < 0)             \
			die(#expr, rc_); \
	} while (0)

static bool quick;

/* Best time of repeated runs: at least 3 runs (1 with --quick) and 0.2 s. */
#define BEST(out, ...)                                                                            \
	do {                                                                                      \
		double best_ = 1e30, spent_ = 0;                                                  \
		for (int rep_ = 0;                                                                \
		     rep_ < (quick ? 1 : 3) || (!quick && spent_ < 0.2 && rep_ < 1000); rep_++) { \
			double t0_ = now();                                                       \
			__VA_ARGS__;                                                              \
			double t_ = now() - t0_;                                                  \
			spent_ += t_;                                                             \
			best_ = t_ < best_ ? t_ : best_;                                          \
		}                                                                                 \
		(out) = best_;                                                                    \
	} while (0)

/* ---- the dense baseline: one bit per page of [0, span), set = shared --------- */

struct dense {
	uint64_t span; /* pages */
	uint64_t nwords;
	uint64_t *w;
};

static void dense_init(struct dense *d, uint64_t span)
{
	d->span = span;
	d->nwords = (span + 63) / 64;
	d->w = calloc(d->nwords, 8);
	if (!d->w)
		die("dense bitmap", -ENOMEM);
}

static void dense_fill(struct dense *d, uint64_t gfn, uint64_t n, bool shared)
{
	for (uint64_t g = gfn; g < gfn + n;) {
		uint64_t i = g / 64, b = g % 64, cnt = 64 - b < gfn + n - g ? 64 - b : gfn + n - g;
		uint64_t m = (cnt == 64 ? ~0ull : ((1ull << cnt) - 1)) << b;
		d->w[i] = shared ? d->w[i] | m : d->w[i] & ~m;
		g += cnt;
	}
}

/* The hypercall, with the checks the library makes. */
static int dense_hypercall(struct dense *d, uint64_t gpa, uint64_t npages, bool enc)
{
	if ((gpa & 4095) || !npages)
		return -EINVAL;
	uint64_t gfn = gpa >> 12;
	if (gfn >= d->span || npages > d->span - gfn)
		return -ERANGE;
	if (gfn < HIGH_START && gfn + npages > LOW_END)
		return -ERANGE; /* the hole */
	dense_fill(d, gfn, npages, !enc);
	return 0;
}

static void dense_free(struct dense *d)
{
	free(d->w);
	d->w = NULL;
}

/* Maximal differing ranges with each side's state, as sevmig_pstate_diff()
 * reports them (both maps cover the same pages here). */
static void dense_diff(const struct dense *a, const struct dense *b, sevmig_change_fn fn, void *arg)
{
	struct sevmig_pstate_change cur = { 0, 0, 0, 0 };
	bool have = false;
	for (uint64_t i = 0; i < a->nwords; i++) {
		/* skip four equal words at a time, as a careful plain loop would */
		if (!(i & 3) && i + 4 <= a->nwords &&
		    !((a->w[i] ^ b->w[i]) | (a->w[i + 1] ^ b->w[i + 1]) |
		      (a->w[i + 2] ^ b->w[i + 2]) | (a->w[i + 3] ^ b->w[i + 3]))) {
			i += 3;
			continue;
		}
		uint64_t dd = a->w[i] ^ b->w[i];
		if (!dd)
			continue;
		uint64_t am = a->w[i] & dd, bm = b->w[i] & dd;
		while (am | bm) {
			unsigned p = (unsigned)__builtin_ctzll(am | bm);
			bool is_a = (am >> p) & 1;
			uint64_t m = (is_a ? am : bm) >> p;
			unsigned len = ~m ? (unsigned)__builtin_ctzll(~m) : 64 - p;
			uint64_t clr = len >= 64 ? ~0ull : ((1ull << len) - 1) << p;
			if (is_a)
				am &= ~clr;
			else
				bm &= ~clr;
			uint64_t s = i * 64 + p;
			enum sevmig_page_state sa = is_a ? SEVMIG_PAGE_SHARED : SEVMIG_PAGE_PRIVATE;
			enum sevmig_page_state sb = is_a ? SEVMIG_PAGE_PRIVATE : SEVMIG_PAGE_SHARED;
			if (have && cur.gfn + cur.npages == s && cur.a == sa) {
				cur.npages += len;
				continue;
			}
			if (have)
				fn(arg, &cur);
			cur = (struct sevmig_pstate_change){ s, len, sa, sb };
			have = true;
		}
	}
	if (have)
		fn(arg, &cur);
}

static void dense_union(const struct dense *a, const struct dense *b, struct dense *out)
{
	out->span = a->span;
	out->nwords = a->nwords;
	out->w = malloc(a->nwords * 8);
	if (!out->w)
		die("dense union", -ENOMEM);
	for (uint64_t i = 0; i < a->nwords; i++)
		out->w[i] = a->w[i] | b->w[i];
}

/* A plain portable form: 16-byte header, the encryption bitmap, CRC32C. */
static uint8_t *dense_serialize(const struct dense *d, size_t *len)
{
	size_t n = 16 + d->nwords * 8 + 4;
	uint8_t *p = malloc(n);
	if (!p)
		die("dense serialize", -ENOMEM);
	sevmig__put_le64(p, 0x31544d42544d4753ull);
	sevmig__put_le64(p + 8, d->span);
	for (uint64_t i = 0; i < d->nwords; i++)
		sevmig__put_le64(p + 16 + 8 * i, ~d->w[i]);
	sevmig__put_le32(p + n - 4, sevmig__crc32c(0, p, n - 4));
	*len = n;
	return p;
}

static int dense_deserialize(const uint8_t *p, size_t len, struct dense *d)
{
	if (len < 20 || sevmig__le64(p) != 0x31544d42544d4753ull)
		return -EBADMSG;
	uint64_t span = sevmig__le64(p + 8), nwords = (span + 63) / 64;
	if (nwords > (len - 20) / 8 || 16 + nwords * 8 + 4 != len)
		return -EBADMSG;
	if (sevmig__crc32c(0, p, len - 4) != sevmig__le32(p + len - 4))
		return -EBADMSG;
	d->span = span;
	d->nwords = nwords;
	d->w = malloc(nwords * 8);
	if (!d->w)
		return -ENOMEM;
	for (uint64_t i = 0; i < nwords; i++)
		d->w[i] = ~sevmig__le64(p + 16 + 8 * i);
	return 0;
}

/* Encryption bitmap (set = private) to shared runs. */
static size_t dense_bitmap_to_list(const uint8_t *bm, uint64_t npages, struct sevmig_range *out)
{
	size_t n = 0;
	uint64_t nw = npages / 64;
	bool open = false;
	uint64_t start = 0;
	for (uint64_t i = 0; i < nw; i++) {
		uint64_t w = ~sevmig__le64(bm + 8 * i); /* shared bits */
		if (!open && !w)
			continue;
		if (open && w == ~0ull)
			continue;
		for (unsigned b = 0; b < 64;) {
			if (!open) {
				uint64_t x = w >> b;
				if (!x)
					break;
				b += (unsigned)__builtin_ctzll(x);
				start = i * 64 + b;
				open = true;
			} else {
				uint64_t x = ~w >> b;
				if (!x)
					break;
				b += (unsigned)__builtin_ctzll(x);
				out[n++] = (struct sevmig_range){ start, i * 64 + b - start };
				open = false;
			}
		}
	}
	if (open)
		out[n++] = (struct sevmig_range){ start, nw * 64 - start };
	return n;
}

static void dense_list_to_bitmap(const struct sevmig_range *r, size_t n, uint8_t *bm,
				 uint64_t npages)
{
	memset(bm, 0xff, npages / 8);
	for (size_t k = 0; k < n; k++) {
		uint64_t g = r[k].gfn, e = g + r[k].npages;
		while (g < e && (g & 7))
			bm[g / 8] &= (uint8_t) ~(1u << (g & 7)), g++;
		if (e - g >= 8) {
			memset(bm + g / 8, 0, (e - g) / 8);
			g += (e - g) / 8 * 8;
		}
		while (g < e)
			bm[g / 8] &= (uint8_t) ~(1u << (g & 7)), g++;
	}
}

/* ---- a guest: snapshot a of bench_layouts.h, dense ------------------------------ */

static void build_dense(const struct bench_layout *g, struct dense *d)
{
	dense_init(d, g->span);
	CHECK(dense_hypercall(d, BOUNCE_GFN << 12, BOUNCE_PAGES, false));
	for (size_t i = 0; i < g->ncalls; i++)
		CHECK(dense_hypercall(d, g->calls[i] << 12, 1, false));
}

/* ---- printing --------------------------------------------------------------------- */

static const char *fmt_time(double s, char *buf)
{
	if (s < 1e-6)
		sprintf(buf, "%.1f ns", s * 1e9);
	else if (s < 1e-3)
		sprintf(buf, "%.2f us", s * 1e6);
	else if (s < 1)
		sprintf(buf, "%.2f ms", s * 1e3);
	else
		sprintf(buf, "%.2f s", s);
	return buf;
}

static const char *fmt_bytes(double b, char *buf)
{
	if (b < 1e4)
		sprintf(buf, "%.0f B", b);
	else if (b < 1e7)
		sprintf(buf, "%.1f kB", b / 1e3);
	else
		sprintf(buf, "%.1f MB", b / 1e6);
	return buf;
}

static void row(const char *what, double ours, double dense, double mc)
{
	char a[32], b[32], c[32];
	printf("  %-22s %12s %12s %12s %9.3fx %9.3fx\n", what, fmt_time(ours, a),
	       fmt_time(dense, b), mc > 0 ? fmt_time(mc, c) : "-", ours / dense,
	       mc > 0 ? ours / mc : 0.0);
}

static void row_bytes(const char *what, double ours, double dense)
{
	char a[32], b[32];
	printf("  %-22s %12s %12s %12s %9.3fx\n", what, fmt_bytes(ours, a), fmt_bytes(dense, b), "",
	       ours / dense);
}

/* Figures kept for the goals at the end. */
struct result {
	unsigned gib;
	uint64_t scattered;
	double diff, dense_diff, merge;
	double deser, from_list;
	size_t ser_bytes;
};
static struct result results[16];
static size_t nresults;

static void run_case(unsigned gib, uint64_t scattered)
{
	struct bench_layout g;
	CHECK(bench_layout_init(&g, gib, scattered));
	uint64_t bm_bytes = g.span / 8;
	char b1[32];
	printf("\n== %u GiB guest, %" PRIu64 " scattered shared pages (gfn span %" PRIu64
	       " pages; dense bitmap %s)\n",
	       gib, scattered, g.span, fmt_bytes((double)bm_bytes, b1));
	printf("  %-22s %12s %12s %12s %10s %10s\n", "operation", "libsevmig", "dense", "memcpy",
	       "vs dense", "vs memcpy");

	/* memcpy of the dense bitmap's bytes */
	uint8_t *src = malloc(bm_bytes), *dst = malloc(bm_bytes);
	if (!src || !dst)
		die("memcpy buffers", -ENOMEM);
	memset(src, 0x5a, bm_bytes);
	memset(dst, 0, bm_bytes);
	double t_mc;
	BEST(t_mc, memcpy(dst, src, bm_bytes));
	free(src);

	/* build */
	struct sevmig_pstate *a, *b;
	struct dense da, db;
	double t0 = now();
	CHECK(bench_snapshot_a(&g, &a));
	double t_build = now() - t0;
	t0 = now();
	build_dense(&g, &da);
	double t_build_d = now() - t0;
	row("build from hypercalls", t_build, t_build_d, t_mc);

	/* the second snapshot: 1 % of the shared pages flip */
	uint64_t flips = bench_flips(a);
	CHECK(sevmig_pstate_clone(a, &b, NULL));
	dense_init(&db, g.span);
	memcpy(db.w, da.w, da.nwords * 8);
	for (uint64_t i = 0; i < flips; i++) {
		bool to_private;
		uint64_t gfn = bench_flip(&g, i, flips, &to_private);
		CHECK(sevmig_pstate_apply_hypercall(b, gfn << 12, 1, to_private));
		CHECK(dense_hypercall(&db, gfn << 12, 1, to_private));
	}

	/* single-page queries */
	uint64_t *q = malloc(QUERIES * sizeof(*q));
	if (!q)
		die("queries", -ENOMEM);
	for (size_t i = 0; i < QUERIES; i++)
		q[i] = i % 2 ? bench_random_gfn(g.span) : g.calls[bench_rnd() % g.ncalls];
	volatile uint64_t sink = 0;
	double t_q, t_q_d;
	BEST(t_q, for (size_t i = 0; i < QUERIES; i++) sink += sevmig_pstate_get(a, q[i]));
	BEST(t_q_d,
	     for (size_t i = 0; i < QUERIES; i++) sink += (da.w[q[i] / 64] >> (q[i] % 64)) & 1);
	(void)sink; /* the loops' results, kept so they are not optimised away */
	row("single-page query", t_q / QUERIES, t_q_d / QUERIES, 0);
	free(q);

	/* merge (union) */
	double t_m, t_m_d;
	BEST(t_m, {
		struct sevmig_pstate *m;
		CHECK(sevmig_pstate_merge(a, b, SEVMIG_MERGE_UNION, &m));
		sevmig_pstate_free(m);
	});
	BEST(t_m_d, {
		struct dense m;
		dense_union(&da, &db, &m);
		dense_free(&m);
	});
	row("merge (union)", t_m, t_m_d, t_mc);

	/* diff */
	struct bench_diff_count c1 = { 0, 0 }, c2 = { 0, 0 };
	double t_d, t_d_d;
	BEST(t_d, {
		c1 = (struct bench_diff_count){ 0, 0 };
		CHECK(sevmig_pstate_diff(a, b, bench_count_change, &c1));
	});
	BEST(t_d_d, {
		c2 = (struct bench_diff_count){ 0, 0 };
		dense_diff(&da, &db, bench_count_change, &c2);
	});
	if (c1.changes != c2.changes || c1.pages != c2.pages) {
		fprintf(stderr,
			"diff mismatch: %" PRIu64 "/%" PRIu64 " vs %" PRIu64 "/%" PRIu64 "\n",
			c1.changes, c1.pages, c2.changes, c2.pages);
		exit(2);
	}
	row("diff", t_d, t_d_d, t_mc);

	/* serialize, deserialize */
	void *ser = NULL;
	size_t ser_len = 0, dser_len = 0;
	double t_s, t_s_d, t_ds, t_ds_d;
	BEST(t_s, {
		free(ser);
		CHECK(sevmig_pstate_serialize(a, NULL, &ser, &ser_len));
	});
	uint8_t *dser = NULL;
	BEST(t_s_d, {
		free(dser);
		dser = dense_serialize(&da, &dser_len);
	});
	row("serialize", t_s, t_s_d, t_mc);
	BEST(t_ds, {
		struct sevmig_pstate *x;
		CHECK(sevmig_pstate_deserialize(ser, ser_len, &x, NULL));
		sevmig_pstate_free(x);
	});
	BEST(t_ds_d, {
		struct dense x;
		CHECK(dense_deserialize(dser, dser_len, &x));
		dense_free(&x);
	});
	row("deserialize", t_ds, t_ds_d, t_mc);

	/* bitmap-to-list and list-to-bitmap, over the whole gfn span */
	uint8_t *bm = dense_serialize(&da, &dser_len) + 16; /* the encryption bitmap */
	size_t nruns = 0;
	int rc = sevmig_pstate_to_list(a, NULL, 0, &nruns);
	if (rc && rc != -ENOSPC)
		die("to_list", rc);
	struct sevmig_range *runs = malloc((nruns + 1) * sizeof(*runs));
	struct sevmig_range *druns = malloc((nruns + 1) * sizeof(*druns));
	if (!runs || !druns)
		die("runs", -ENOMEM);
	struct sevmig_pstate *e;
	CHECK(bench_empty_map(g.span, &e));
	double t_bl, t_bl_d, t_lb, t_lb_d;
	size_t got = 0, dgot = 0;
	BEST(t_bl, {
		CHECK(sevmig_pstate_set_from_bitmap(e, 0, LOW_END, bm, LOW_END / 8));
		CHECK(sevmig_pstate_set_from_bitmap(e, HIGH_START, g.span - HIGH_START,
						    bm + HIGH_START / 8,
						    bm_bytes - HIGH_START / 8));
		CHECK(sevmig_pstate_to_list(e, runs, nruns, &got));
	});
	BEST(t_bl_d, dgot = dense_bitmap_to_list(bm, g.span, druns));
	if (got != nruns || dgot != nruns || memcmp(runs, druns, nruns * sizeof(*runs))) {
		fprintf(stderr, "bitmap-to-list mismatch\n");
		exit(2);
	}
	row("bitmap-to-list", t_bl, t_bl_d, t_mc);
	/* the run list alone: what deserializing RUNS does besides decoding
	 * (the dense way to take a list is list-to-bitmap) */
	double t_sl;
	BEST(t_sl, CHECK(sevmig_pstate_set_from_list(e, runs, nruns, NULL)));
	if (!sevmig_pstate_equal(e, a)) {
		fprintf(stderr, "set-from-list mismatch\n");
		exit(2);
	}
	uint8_t *out = dst; /* already faulted in */
	uint8_t *dout = malloc(bm_bytes);
	if (!dout)
		die("bitmap", -ENOMEM);
	memset(dout, 0, bm_bytes);
	BEST(t_lb, {
		CHECK(sevmig_pstate_set_from_list(e, runs, nruns, NULL));
		CHECK(sevmig_pstate_to_bitmap(e, 0, g.span, out, bm_bytes));
	});
	BEST(t_lb_d, dense_list_to_bitmap(druns, nruns, dout, g.span));
	if (memcmp(out, dout, bm_bytes) || memcmp(out, bm, bm_bytes)) {
		fprintf(stderr, "list-to-bitmap mismatch\n");
		exit(2);
	}
	row("list-to-bitmap", t_lb, t_lb_d, t_mc);
	row("set from list", t_sl, t_lb_d, t_mc);

	/* the encryption bitmap alone, KVM_GET/SET_PAGE_ENC_BITMAP's form: the
	 * dense baseline turns its words around into the same layout */
	double t_ex, t_ex_d, t_im, t_im_d;
	BEST(t_ex, CHECK(sevmig_pstate_to_bitmap(a, 0, g.span, out, bm_bytes)));
	BEST(t_ex_d,
	     for (uint64_t i = 0; i < da.nwords; i++) sevmig__put_le64(dout + 8 * i, ~da.w[i]));
	if (memcmp(out, bm, bm_bytes) || memcmp(dout, bm, bm_bytes)) {
		fprintf(stderr, "bitmap export mismatch\n");
		exit(2);
	}
	row("bitmap export", t_ex, t_ex_d, t_mc);
	BEST(t_im, {
		CHECK(sevmig_pstate_set_from_bitmap(e, 0, LOW_END, bm, LOW_END / 8));
		CHECK(sevmig_pstate_set_from_bitmap(e, HIGH_START, g.span - HIGH_START,
						    bm + HIGH_START / 8,
						    bm_bytes - HIGH_START / 8));
	});
	BEST(t_im_d, for (uint64_t i = 0; i < db.nwords; i++) db.w[i] = ~sevmig__le64(bm + 8 * i));
	if (!sevmig_pstate_equal(e, a)) {
		fprintf(stderr, "bitmap import mismatch\n");
		exit(2);
	}
	row("bitmap import", t_im, t_im_d, t_mc);

	row_bytes("serialized bytes", (double)ser_len, (double)dser_len);
	struct sevmig_pstate_stats st;
	sevmig_pstate_stats(a, &st);
	row_bytes("memory used", (double)st.memory_bytes, (double)(da.nwords * 8));
	printf("  (%" PRIu64 " shared pages in %" PRIu64 " runs; the snapshots differ in %" PRIu64
	       " ranges)\n",
	       st.shared_pages, st.shared_runs, c1.changes);

	results[nresults++] =
	    (struct result){ gib, scattered, t_d, t_d_d, t_m, t_ds, t_sl, ser_len };
	free(bm - 16);
	free(dout);
	free(dst);
	free(runs);
	free(druns);
	free(ser);
	free(dser);
	sevmig_pstate_free(e);
	sevmig_pstate_free(a);
	sevmig_pstate_free(b);
	dense_free(&da);
	dense_free(&db);
	bench_layout_free(&g);
}

static const struct result *find(unsigned gib, uint64_t scattered)
{
	for (size_t i = 0; i < nresults; i++)
		if (results[i].gib == gib && results[i].scattered == scattered)
			return &results[i];
	return NULL;
}

__attribute__((format(printf, 2, 3))) static void goal(bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("  [%s] ", ok ? "met " : "MISS");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

int main(int argc, char **argv)
{
	static const unsigned all[] = { 16, 256, 4096 };
	static const uint64_t scattered[] = { 1000, 100000, 1000000 };
	bool want[3] = { false, false, false }, any = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = true;
			continue;
		}
		int k = !strcmp(argv[i], "16g")	   ? 0
			: !strcmp(argv[i], "256g") ? 1
			: !strcmp(argv[i], "4t")   ? 2
						   : -1;
		if (k < 0) {
			fprintf(stderr, "usage: bench_pstate [--quick] [16g] [256g] [4t]\n");
			return 2;
		}
		want[k] = any = true;
	}
	printf("bench_pstate: libsevmig page state against a dense bitmap and memcpy%s\n",
	       quick ? " (--quick: one run each)" : " (best of >= 3 runs)");
	for (int k = 0; k < 3; k++)
		if (!any || want[k])
			for (int s = 0; s < 3; s++)
				run_case(all[k], scattered[s]);

	printf("\ngoals:\n");
	char b1[32], b2[32], b3[32], b4[32];
	const struct result *r;
	if ((r = find(4096, 1000)))
		goal(r->diff < 10e-6, "4 TiB + 1 000 scattered: diff %s, well under 20 us",
		     fmt_time(r->diff, b1));
	if ((r = find(4096, 1000000))) {
		goal(r->diff < 2e-3, "4 TiB + 1 000 000 scattered: diff %s, under 2 ms",
		     fmt_time(r->diff, b1));
		goal(r->ser_bytes < 2100000,
		     "4 TiB + 1 000 000 scattered: serialized %s, under 2.1 MB",
		     fmt_bytes((double)r->ser_bytes, b1));
		goal(r->deser < 2 * r->from_list,
		     "4 TiB + 1 000 000 scattered: deserialize %s, %.2fx set_from_list of the same "
		     "runs, at most 2x",
		     fmt_time(r->deser, b1), r->deser / r->from_list);
	}
	if ((r = find(16, 100000)))
		goal(r->diff <= r->dense_diff,
		     "16 GiB + 100 000 scattered: diff %.2fx the dense bitmap's, at most 1x",
		     r->diff / r->dense_diff);
	const struct result *s16 = find(16, 1000), *s4t = find(4096, 1000);
	if (s16 && s4t)
		goal(s4t->diff < 1e-3 && s4t->merge < 1e-3 && s4t->diff < 4 * s16->diff + 5e-6,
		     "run-heavy maps, independent of guest size: diff %s (16 GiB) / %s (4 TiB), "
		     "merge %s / %s",
		     fmt_time(s16->diff, b1), fmt_time(s4t->diff, b2), fmt_time(s16->merge, b3),
		     fmt_time(s4t->merge, b4));
	return 0;
}
