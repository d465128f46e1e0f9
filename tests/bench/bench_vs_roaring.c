/* SPDX-License-Identifier: MIT */
/*
 * libsevmig's page-state map against CRoaring 5.1 (docs/performance.md,
 * "Page state against CRoaring"). Built only when CMake is given
 * -DSEVMIG_CROARING_DIR=<dir holding roaring.c and roaring.h>: CRoaring is
 * a baseline here, never a dependency.
 *
 * The nine maps of bench_pstate (16 GiB / 256 GiB / 4 TiB guests x 1 000 /
 * 100 000 / 1 000 000 scattered shared pages, the same generator and
 * seeds: bench_layouts.h), and a second snapshot flipping 1 % of the
 * shared pages. Both
 * libraries are given the same sorted shared ranges; a CRoaring bitmap
 * holds the shared gfns (every gfn here is below 2^32). Before timing, the
 * two are checked to agree: cardinalities, the diff's page count against
 * the XOR's cardinality, and round trips through both serializations.
 *
 * Each operation is timed on both sides alternately, best of at least 5
 * runs (and 0.2 s each), so that a load on the machine hits both alike:
 *  - build: from the sorted ranges (ours sevmig_pstate_set_from_list() on
 *    a map with the two memslots; theirs roaring_bitmap_add_range() for a
 *    range, roaring_bitmap_add_bulk() for a single page);
 *  - union: sevmig_pstate_merge(UNION) / roaring_bitmap_or(), result freed;
 *  - diff: sevmig_pstate_diff() counting the ranges / roaring_bitmap_xor()
 *    and its cardinality, result freed;
 *  - serialize: sevmig_pstate_serialize() (no zstd) / sizing, allocating
 *    and roaring_bitmap_portable_serialize();
 *  - deserialize with full validation: sevmig_pstate_deserialize() (which
 *    checks everything, the CRC32C too) / roaring_bitmap_portable_
 *    deserialize_safe() then roaring_bitmap_internal_validate();
 *  - serialized bytes, and memory: ours sevmig_pstate_stats().memory_bytes
 *    (the bytes the map asked of malloc), theirs the live bytes CRoaring
 *    asked of its allocator (counted by a roaring_init_memory_hook() hook)
 *    after roaring_bitmap_shrink_to_fit(), both for the map built from the
 *    ranges.
 * The table gives ours / theirs for every operation and layout; the worst
 * ratio comes last.
 *
 *   bench_vs_roaring [--quick] [GUEST...]     GUEST: 16g, 256g or 4t
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sevmig/pstate.h>

#include "bench_layouts.h"
#include "roaring.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_vs_roaring: %s: %s\n", what, rc ? sevmig_strerror(rc) : "failed");
	exit(2);
}

#define CHECK(expr)                      \
	do {                             \
		int rc_ = (expr);        \
		if (rc_ < 0)             \
			die(#expr, rc_); \
	} while (0)
#define EXPECT(cond)                   \
	do {                           \
		if (!(cond))           \
			die(#cond, 0); \
	} while (0)

/* ---- CRoaring's memory, counted through its allocator hook ----------------- */

/* Every block carries its size in front; aligned blocks keep the header
 * one alignment unit wide, so the block's own alignment holds. */
struct blk {
	size_t size, off;
};
static size_t live_bytes;

static void *hk_aligned(size_t align, size_t n)
{
	size_t hdr = align < sizeof(struct blk) ? sizeof(struct blk) : align;
	void *base;
	if (posix_memalign(&base, align < sizeof(void *) ? sizeof(void *) : align, hdr + n))
		return NULL;
	char *p = (char *)base + hdr;
	struct blk b = { n, hdr };
	memcpy(p - sizeof(b), &b, sizeof(b));
	live_bytes += n;
	return p;
}

static void *hk_malloc(size_t n)
{
	return hk_aligned(16, n);
}

static void hk_free(void *p)
{
	if (!p)
		return;
	struct blk b;
	memcpy(&b, (char *)p - sizeof(b), sizeof(b));
	live_bytes -= b.size;
	free((char *)p - b.off);
}

static void *hk_calloc(size_t n, size_t m)
{
	if (m && n > SIZE_MAX / m)
		return NULL;
	void *p = hk_malloc(n * m);
	if (p)
		memset(p, 0, n * m);
	return p;
}

static void *hk_realloc(void *p, size_t n)
{
	if (!p)
		return hk_malloc(n);
	struct blk b;
	memcpy(&b, (char *)p - sizeof(b), sizeof(b));
	void *q = hk_malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, b.size < n ? b.size : n);
	hk_free(p);
	return q;
}

/* ---- the maps -------------------------------------------------------------------- */

struct layout {
	unsigned gib;
	uint64_t scattered;
};

struct ranges {
	struct sevmig_range *v;
	size_t n;
};

static struct ranges list_of(const struct sevmig_pstate *ps)
{
	struct ranges r = { NULL, 0 };
	size_t n = 0;
	int rc = sevmig_pstate_to_list(ps, NULL, 0, &n);
	if (rc && rc != -ENOSPC)
		die("to_list", rc);
	r.v = malloc((n + 1) * sizeof(*r.v));
	EXPECT(r.v);
	CHECK(sevmig_pstate_to_list(ps, r.v, n, &r.n));
	return r;
}

/* Snapshots a and b of the layout (bench_layouts.h) as their shared
 * ranges; *span gets the guest's gfn span. */
static void make_snapshots(const struct layout *l, uint64_t *span, struct ranges *ra,
			   struct ranges *rb)
{
	struct bench_layout g;
	CHECK(bench_layout_init(&g, l->gib, l->scattered));
	struct sevmig_pstate *a, *b;
	CHECK(bench_snapshot_a(&g, &a));
	uint64_t flips = bench_flips(a);
	CHECK(sevmig_pstate_clone(a, &b, NULL));
	for (uint64_t i = 0; i < flips; i++) {
		bool to_private;
		uint64_t gfn = bench_flip(&g, i, flips, &to_private);
		CHECK(sevmig_pstate_apply_hypercall(b, gfn << 12, 1, to_private));
	}
	*span = g.span;
	*ra = list_of(a);
	*rb = list_of(b);
	sevmig_pstate_free(a);
	sevmig_pstate_free(b);
	bench_layout_free(&g);
}

static struct sevmig_pstate *ours_build(uint64_t span, const struct ranges *r)
{
	struct sevmig_pstate *ps;
	CHECK(bench_empty_map(span, &ps));
	CHECK(sevmig_pstate_set_from_list(ps, r->v, r->n, NULL));
	return ps;
}

static roaring_bitmap_t *theirs_build(const struct ranges *r)
{
	roaring_bitmap_t *rb = roaring_bitmap_create();
	EXPECT(rb);
	roaring_bulk_context_t ctx = { 0 };
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].npages == 1)
			roaring_bitmap_add_bulk(rb, &ctx, (uint32_t)r->v[i].gfn);
		else {
			roaring_bitmap_add_range(rb, r->v[i].gfn, r->v[i].gfn + r->v[i].npages);
			/* the context caches a container a range may replace */
			ctx = (roaring_bulk_context_t){ 0 };
		}
	}
	return rb;
}

/* The shared set of ps, as a CRoaring bitmap, equals rb. */
static bool same_set(const struct sevmig_pstate *ps, const roaring_bitmap_t *rb)
{
	struct ranges r = list_of(ps);
	roaring_bitmap_t *x = theirs_build(&r);
	bool eq = roaring_bitmap_equals(x, rb);
	roaring_bitmap_free(x);
	free(r.v);
	return eq;
}

/* ---- timing ------------------------------------------------------------------------ */

enum op { OP_BUILD, OP_UNION, OP_DIFF, OP_SER, OP_DESER, OP_BYTES, OP_MEM, NOPS };
static const char *const op_name[NOPS] = {
	"build from ranges", "union",	    "diff", "serialize", "deserialize+validate",
	"serialized bytes",  "memory used",
};

struct cell {
	double ours, theirs;
};
static struct cell table[NOPS][9];
static bool quick;

struct ctx {
	uint64_t span;
	const struct ranges *ra;
	struct sevmig_pstate *a, *b;
	roaring_bitmap_t *ta, *tb;
	void *ser;
	size_t ser_len;
	char *tser;
	size_t tser_len;
	volatile uint64_t sink;
};

static void run_ours(enum op op, struct ctx *x)
{
	switch (op) {
	case OP_BUILD:
		sevmig_pstate_free(ours_build(x->span, x->ra));
		break;
	case OP_UNION: {
		struct sevmig_pstate *m;
		CHECK(sevmig_pstate_merge(x->a, x->b, SEVMIG_MERGE_UNION, &m));
		sevmig_pstate_free(m);
		break;
	}
	case OP_DIFF: {
		struct bench_diff_count c = { 0, 0 };
		CHECK(sevmig_pstate_diff(x->a, x->b, bench_count_change, &c));
		x->sink += c.pages;
		break;
	}
	case OP_SER: {
		void *p;
		size_t n;
		CHECK(sevmig_pstate_serialize(x->a, NULL, &p, &n));
		x->sink += n;
		free(p);
		break;
	}
	case OP_DESER: {
		struct sevmig_pstate *ps;
		CHECK(sevmig_pstate_deserialize(x->ser, x->ser_len, &ps, NULL));
		sevmig_pstate_free(ps);
		break;
	}
	default:
		break;
	}
}

static void run_theirs(enum op op, struct ctx *x)
{
	switch (op) {
	case OP_BUILD:
		roaring_bitmap_free(theirs_build(x->ra));
		break;
	case OP_UNION:
		roaring_bitmap_free(roaring_bitmap_or(x->ta, x->tb));
		break;
	case OP_DIFF: {
		roaring_bitmap_t *d = roaring_bitmap_xor(x->ta, x->tb);
		x->sink += roaring_bitmap_get_cardinality(d);
		roaring_bitmap_free(d);
		break;
	}
	case OP_SER: {
		size_t n = roaring_bitmap_portable_size_in_bytes(x->ta);
		char *p = malloc(n);
		EXPECT(p);
		x->sink += roaring_bitmap_portable_serialize(x->ta, p);
		free(p);
		break;
	}
	case OP_DESER: {
		const char *why = NULL;
		roaring_bitmap_t *r =
		    roaring_bitmap_portable_deserialize_safe(x->tser, x->tser_len);
		EXPECT(r && roaring_bitmap_internal_validate(r, &why));
		roaring_bitmap_free(r);
		break;
	}
	default:
		break;
	}
}

static void time_op(enum op op, struct ctx *x, struct cell *c)
{
	double best_o = 1e30, best_t = 1e30, spent = 0;
	int min_reps = quick ? 1 : 5;
	for (int rep = 0; rep < min_reps || (!quick && spent < 0.4 && rep < 1000); rep++) {
		/* alternate which goes first, so neither always runs on a warm cache */
		for (int side = 0; side < 2; side++) {
			bool mine = (side == 0) == (rep % 2 == 0);
			double t0 = now();
			if (mine)
				run_ours(op, x);
			else
				run_theirs(op, x);
			double t = now() - t0;
			spent += t;
			if (mine)
				best_o = t < best_o ? t : best_o;
			else
				best_t = t < best_t ? t : best_t;
		}
	}
	c->ours = best_o;
	c->theirs = best_t;
}

static const char *fmt_time(double s, char *buf)
{
	if (s < 1e-3)
		sprintf(buf, "%.2f us", s * 1e6);
	else
		sprintf(buf, "%.3f ms", s * 1e3);
	return buf;
}

static void run_layout(size_t li, const struct layout *l)
{
	uint64_t span;
	struct ranges ra, rb;
	make_snapshots(l, &span, &ra, &rb);
	struct ctx x = { .span = span, .ra = &ra };
	x.a = ours_build(span, &ra);
	x.b = ours_build(span, &rb);
	x.ta = theirs_build(&ra);
	x.tb = theirs_build(&rb);

	/* both hold the same sets */
	struct sevmig_pstate_stats sa, sb;
	sevmig_pstate_stats(x.a, &sa);
	sevmig_pstate_stats(x.b, &sb);
	EXPECT(sa.shared_pages == roaring_bitmap_get_cardinality(x.ta));
	EXPECT(sb.shared_pages == roaring_bitmap_get_cardinality(x.tb));
	EXPECT(same_set(x.a, x.ta) && same_set(x.b, x.tb));
	struct bench_diff_count c = { 0, 0 };
	CHECK(sevmig_pstate_diff(x.a, x.b, bench_count_change, &c));
	EXPECT(c.pages == roaring_bitmap_xor_cardinality(x.ta, x.tb));

	/* round trips, each way */
	CHECK(sevmig_pstate_serialize(x.a, NULL, &x.ser, &x.ser_len));
	x.tser_len = roaring_bitmap_portable_size_in_bytes(x.ta);
	x.tser = malloc(x.tser_len);
	EXPECT(x.tser && roaring_bitmap_portable_serialize(x.ta, x.tser) == x.tser_len);
	struct sevmig_pstate *back;
	CHECK(sevmig_pstate_deserialize(x.ser, x.ser_len, &back, NULL));
	EXPECT(sevmig_pstate_equal(back, x.a) && same_set(back, x.ta));
	sevmig_pstate_free(back);
	roaring_bitmap_t *tback = roaring_bitmap_portable_deserialize_safe(x.tser, x.tser_len);
	EXPECT(tback && roaring_bitmap_equals(tback, x.ta) && same_set(x.a, tback));
	roaring_bitmap_free(tback);

	for (enum op op = OP_BUILD; op <= OP_DESER; op++)
		time_op(op, &x, &table[op][li]);
	table[OP_BYTES][li] = (struct cell){ (double)x.ser_len, (double)x.tser_len };

	/* memory: the maps built from the ranges, CRoaring's trimmed */
	size_t before = live_bytes;
	roaring_bitmap_t *tm = theirs_build(&ra);
	roaring_bitmap_shrink_to_fit(tm);
	size_t theirs_mem = live_bytes - before;
	roaring_bitmap_free(tm);
	table[OP_MEM][li] = (struct cell){ (double)sa.memory_bytes, (double)theirs_mem };

	char t[10][32];
	printf("%5u GiB %8" PRIu64 " scattered: %zu runs, %" PRIu64 " shared, diff %" PRIu64
	       " pages; union %s / %s, diff %s / %s, ser %s / %s, deser %s / %s, build %s / %s\n",
	       l->gib, l->scattered, ra.n, sa.shared_pages, c.pages,
	       fmt_time(table[OP_UNION][li].ours, t[0]), fmt_time(table[OP_UNION][li].theirs, t[1]),
	       fmt_time(table[OP_DIFF][li].ours, t[2]), fmt_time(table[OP_DIFF][li].theirs, t[3]),
	       fmt_time(table[OP_SER][li].ours, t[4]), fmt_time(table[OP_SER][li].theirs, t[5]),
	       fmt_time(table[OP_DESER][li].ours, t[6]), fmt_time(table[OP_DESER][li].theirs, t[7]),
	       fmt_time(table[OP_BUILD][li].ours, t[8]),
	       fmt_time(table[OP_BUILD][li].theirs, t[9]));
	fflush(stdout);

	free(x.ser);
	free(x.tser);
	sevmig_pstate_free(x.a);
	sevmig_pstate_free(x.b);
	roaring_bitmap_free(x.ta);
	roaring_bitmap_free(x.tb);
	free(ra.v);
	free(rb.v);
}

int main(int argc, char **argv)
{
	static const unsigned gibs[] = { 16, 256, 4096 };
	static const uint64_t scat[] = { 1000, 100000, 1000000 };
	bool want[3] = { false, false, false }, any = false;
	for (int i = 1; i < argc; i++) {
		int k = !strcmp(argv[i], "16g")	   ? 0
			: !strcmp(argv[i], "256g") ? 1
			: !strcmp(argv[i], "4t")   ? 2
						   : -1;
		if (!strcmp(argv[i], "--quick")) {
			quick = true;
			continue;
		}
		if (k < 0) {
			fprintf(stderr, "usage: bench_vs_roaring [--quick] [16g] [256g] [4t]\n");
			return 2;
		}
		want[k] = any = true;
	}
	roaring_memory_t hook = { hk_malloc, hk_realloc, hk_calloc, hk_free, hk_aligned, hk_free };
	roaring_init_memory_hook(hook);

	printf("bench_vs_roaring: libsevmig page state against CRoaring %s, %s\n", ROARING_VERSION,
	       quick ? "one run each (--quick)" : "interleaved, best of >= 5 runs and 0.4 s");
	printf("memory: ours sevmig_pstate_stats().memory_bytes; CRoaring's through an "
	       "allocator hook (roaring_init_memory_hook), live bytes after "
	       "roaring_bitmap_shrink_to_fit\n\n");
	struct layout ls[9];
	bool run[9] = { false };
	for (size_t g = 0; g < 3; g++)
		for (size_t s = 0; s < 3; s++) {
			ls[g * 3 + s] = (struct layout){ gibs[g], scat[s] };
			if (!any || want[g]) {
				run[g * 3 + s] = true;
				run_layout(g * 3 + s, &ls[g * 3 + s]);
			}
		}

	printf("\nours / theirs (below 1: libsevmig is ahead)\n%-22s", "operation");
	for (size_t i = 0; i < 9; i++)
		if (run[i]) {
			char h[32];
			snprintf(h, sizeof(h), "%s/%s",
				 ls[i].gib >= 1024  ? "4T"
				 : ls[i].gib == 256 ? "256G"
						    : "16G",
				 ls[i].scattered == 1000     ? "1k"
				 : ls[i].scattered == 100000 ? "100k"
							     : "1M");
			printf(" %9s", h);
		}
	printf("\n");
	double worst = 0;
	size_t wo = 0, wl = 0;
	for (size_t op = 0; op < NOPS; op++) {
		printf("%-22s", op_name[op]);
		for (size_t i = 0; i < 9; i++) {
			if (!run[i])
				continue;
			double r = table[op][i].ours / table[op][i].theirs;
			printf(" %9.3f", r);
			if (r > worst) {
				worst = r;
				wo = op;
				wl = i;
			}
		}
		printf("\n");
	}
	printf("\nworst ratio: %.3f (%s, %u GiB with %" PRIu64 " scattered pages)%s\n", worst,
	       op_name[wo], ls[wl].gib, ls[wl].scattered,
	       worst <= 1.0 ? ": ahead or even everywhere" : "");
	return 0;
}
