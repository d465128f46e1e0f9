/* SPDX-License-Identifier: MIT */
/*
 * The binary page-state form (docs/pstate-format.md): the worked example byte
 * for byte, round trips of random maps in every encoding, the size rule
 * against an encoder written here from the spec, one malformed literal per
 * rule, truncation at every length, every single-bit flip, and bounded
 * memory for a compressed 4 TiB bitmap.
 */
#include "test_pstate_forms.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <malloc.h>
#include <sys/resource.h>

#include <zstd.h>

#include <sevmig/pstate.h>

#include "util/crc32c.h"
#include "util/endian.h"
#include "util/varint.h"

#define HDR	 16
#define F_BITMAP 1
#define F_CTRS	 2
#define F_ZSTD	 4

/* ---- helpers -------------------------------------------------------------- */

static uint8_t *ser(const struct sevmig_pstate *ps, int level, size_t *len)
{
	SEVMIG_OPTS(sevmig_pstate_save_opts, o, .zstd_level = level);
	void *buf = NULL;
	assert_int_equal(sevmig_pstate_serialize(ps, &o, &buf, len), 0);
	assert_non_null(buf);
	/* The caller keeps the block: at most twice the bytes and a page
	 * (pstate.h), whatever the writer reserved for them (a bound on the
	 * containers' size, the raw room of a form that then compressed),
	 * plus the allocator's rounding of a mapped block to pages. */
	size_t have = malloc_usable_size(buf);
	if (have > 2 * *len + 4096 + 4096)
		fail_msg("a %zu-byte form in a %zu-byte block", *len, have);
	return buf;
}

static struct sevmig_pstate *deser_ok(const void *buf, size_t len)
{
	struct sevmig_pstate *ps = NULL;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	int rc = sevmig_pstate_deserialize(buf, len, &ps, &err);
	if (rc)
		fail_msg("deserialize: %d at byte %llu: %s", rc, (unsigned long long)err.offset,
			 err.message);
	map_check(ps);
	return ps;
}

/* buf reads back as a map equal to ps. */
static void reads_as(const void *buf, size_t len, const struct sevmig_pstate *ps)
{
	struct sevmig_pstate *back = deser_ok(buf, len);
	assert_true(sevmig_pstate_equal(ps, back));
	sevmig_pstate_free(back);
}

/* Rejected with -EBADMSG and a message; *err has what and where. */
static void deser_bad(const void *buf, size_t len, struct sevmig_error *err)
{
	struct sevmig_pstate *ps = (struct sevmig_pstate *)(uintptr_t)1;
	sevmig_error_clear(err);
	int rc = sevmig_pstate_deserialize(buf, len, &ps, err);
	if (rc != -EBADMSG)
		fail_msg("expected -EBADMSG for %zu bytes, got %d (%s)", len, rc, err->message);
	assert_int_equal(err->code, -EBADMSG);
	assert_true(err->message[0]);
	assert_true(err->offset <= len);
	assert_true(ps == (struct sevmig_pstate *)(uintptr_t)1); /* untouched */
}

static void put_crc(uint8_t *buf, size_t len)
{
	sevmig__put_le32(buf + len - 4, sevmig__crc32c(0, buf, len - 4));
}

/* A file from header fields and a body; the checksum is made right. */
static size_t mk(uint8_t *out, uint16_t flags, const uint8_t *body, size_t n)
{
	static const uint8_t magic[8] = { 0x89, 'S', 'V', 'P', 'S', '\r', '\n', 0x1a };
	memcpy(out, magic, 8);
	sevmig__put_le16(out + 8, 1);
	sevmig__put_le16(out + 10, flags);
	sevmig__put_le32(out + 12, 4096);
	memcpy(out + HDR, body, n);
	put_crc(out, HDR + n + 4);
	return HDR + n + 4;
}

/* ---- an encoder written from the spec, for sizes ---------------------------- */

struct ref_sizes {
	uint64_t covered, runs_raw, bitmap_raw, ctrs_raw, coverage;
	size_t nslots, nruns;
};

/* The CONTAINERS payload's size (1.5), from the shared runs in gfn order:
 * each chunk's pages and runs give its kind, the smallest, and wholly
 * shared chunks in a row are one full span. */
static uint64_t ref_ctrs_raw(const struct sevmig_range *runs, size_t n)
{
	struct chunk {
		uint64_t key, card, runs;
	} *ch = NULL;
	size_t nch = 0, cap = 0;
	for (size_t i = 0; i < n; i++) {
		for (uint64_t g = runs[i].gfn, e = g + runs[i].npages; g < e;) {
			uint64_t k = g >> 16, t = (k + 1) << 16 < e ? (k + 1) << 16 : e;
			if (!nch || ch[nch - 1].key != k) {
				if (nch == cap) {
					cap = cap ? 2 * cap : 64;
					ch = realloc(ch, cap * sizeof(*ch));
					assert_non_null(ch);
				}
				ch[nch++] = (struct chunk){ k, 0, 0 };
			}
			ch[nch - 1].card += t - g;
			ch[nch - 1].runs++;
			g = t;
		}
	}
	uint64_t bytes = 0, count = 0, prev_end = 0;
	for (size_t i = 0; i < nch; i++) {
		uint64_t key = ch[i].key, card = ch[i].card, r = ch[i].runs;
		count++;
		bytes += sevmig__varint_len(key - prev_end);
		if (card == 65536) {
			size_t j = i;
			while (j + 1 < nch && ch[j + 1].card == 65536 &&
			       ch[j + 1].key == ch[j].key + 1)
				j++;
			bytes += sevmig__varint_len((uint64_t)(j - i) << 2);
			prev_end = ch[j].key + 1;
			i = j;
			continue;
		}
		prev_end = key + 1;
		if (r <= 128 && (2 * r <= card || card > 4096))
			bytes += sevmig__varint_len((r - 1) << 2) + 4 * r;
		else if (card <= 4096)
			bytes += sevmig__varint_len((card - 1) << 2) + 2 * card;
		else
			bytes += 1 + 8192;
	}
	free(ch);
	return sevmig__varint_len(count) + bytes;
}

static struct ref_sizes ref_sizes(const struct sevmig_pstate *ps)
{
	struct ref_sizes s = { 0 };
	s.nslots = sevmig_pstate_slot_count(ps);
	struct sevmig_range *sl = calloc(s.nslots + 1, sizeof(*sl));
	assert_non_null(sl);
	s.coverage = sevmig__varint_len(s.nslots);
	uint64_t prev = 0;
	for (size_t i = 0; i < s.nslots; i++) {
		assert_int_equal(sevmig_pstate_slot(ps, i, &sl[i]), 0);
		s.coverage +=
		    sevmig__varint_len(sl[i].gfn - prev) + sevmig__varint_len(sl[i].npages);
		prev = sl[i].gfn + sl[i].npages;
		s.covered += sl[i].npages;
	}
	size_t n = 0;
	int rc = sevmig_pstate_to_list(ps, NULL, 0, &n);
	assert_true(rc == 0 || rc == -ENOSPC);
	struct sevmig_range *runs = calloc(n + 1, sizeof(*runs));
	assert_non_null(runs);
	assert_int_equal(sevmig_pstate_to_list(ps, runs, n, &n), 0);
	/* Runs in page-index space, split at slots and merged where they touch. */
	uint64_t count = 0, bytes = 0, end = 0, ps_start = 0, ps_len = 0, base = 0;
	size_t si = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t g = runs[i].gfn, left = runs[i].npages;
		while (left) {
			while (g >= sl[si].gfn + sl[si].npages)
				base += sl[si++].npages;
			assert_true(g >= sl[si].gfn);
			uint64_t k = sl[si].gfn + sl[si].npages - g;
			k = k < left ? k : left;
			uint64_t idx = base + (g - sl[si].gfn);
			if (ps_len && ps_start + ps_len == idx) {
				ps_len += k;
			} else {
				if (ps_len) {
					bytes += sevmig__varint_len((ps_start - end) << 1 |
								    (ps_len == 1));
					bytes += ps_len > 1 ? sevmig__varint_len(ps_len - 2) : 0;
					end = ps_start + ps_len;
					count++;
				}
				ps_start = idx;
				ps_len = k;
			}
			g += k;
			left -= k;
		}
	}
	if (ps_len) {
		bytes += sevmig__varint_len((ps_start - end) << 1 | (ps_len == 1));
		bytes += ps_len > 1 ? sevmig__varint_len(ps_len - 2) : 0;
		count++;
	}
	s.runs_raw = sevmig__varint_len(count) + bytes;
	s.bitmap_raw = (s.covered + 7) / 8;
	s.ctrs_raw = ref_ctrs_raw(runs, n);
	s.nruns = n;
	free(runs);
	free(sl);
	return s;
}

/* Serialize at `level`, check the size rule and the choice of encoding
 * (1.9: RUNS when tried and no larger than the others, else CONTAINERS when
 * at most 1/256 larger than BITMAP), and read it back equal. Returns the flags the
 * writer chose. */
static unsigned round_trip(const struct sevmig_pstate *ps, int level)
{
	size_t len;
	uint8_t *buf = ser(ps, level, &len);
	struct ref_sizes s = ref_sizes(ps);
	bool try_runs = level || s.nruns <= 256;
	uint64_t other = s.ctrs_raw < s.bitmap_raw ? s.ctrs_raw : s.bitmap_raw;
	bool ctrs = s.ctrs_raw <= s.bitmap_raw + s.bitmap_raw / 256;
	unsigned want = try_runs && s.runs_raw <= other ? 0 : ctrs ? F_CTRS : F_BITMAP;
	uint64_t best = want == 0 ? s.runs_raw : want == F_CTRS ? s.ctrs_raw : s.bitmap_raw;
	unsigned flags = sevmig__le16(buf + 10);
	assert_int_equal(sevmig__le16(buf + 8), want == F_CTRS ? 2 : 1);
	assert_true(len <= best + 20 + s.coverage);
	if (s.nslots <= 3)
		assert_true(len <= best + 64);
	assert_int_equal(flags & 3, want);
	if (!(flags & F_ZSTD))
		assert_int_equal(len, 20 + s.coverage + best);
	if (!level)
		assert_int_equal(flags & F_ZSTD, 0);
	struct sevmig_pstate *back = deser_ok(buf, len);
	assert_true(sevmig_pstate_equal(ps, back));
	assert_int_equal(sevmig_pstate_slot_count(back), s.nslots);
	/* The same map gives the same bytes. */
	size_t len2;
	uint8_t *buf2 = ser(back, level, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len);
	free(buf2);
	sevmig_pstate_free(back);
	free(buf);
	return flags;
}

/* ---- the worked example ----------------------------------------------------- */

static const uint8_t example[37] = {
	0x89, 0x53, 0x56, 0x50, 0x53, 0x0d, 0x0a, 0x1a, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x10, 0x00, 0x00, 0x02, 0x80, 0x02, 0x80, 0x08, 0x80, 0x16, 0x80, 0x04, 0x03,
	0x01, 0xfe, 0x01, 0x0e, 0xc0, 0x0d, 0x16, 0xa2, 0x49, 0x55, 0xcc,
};

static struct sevmig_pstate *example_map(void)
{
	struct sevmig_pstate *ps = map_new();
	slot(ps, 0x100, 0x400);
	slot(ps, 0x1000, 0x200);
	share(ps, 0x100, 1);
	share(ps, 0x180, 16);
	share(ps, 0x4f0, 16);
	share(ps, 0x1000, 8);
	return ps;
}

static void worked_example(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = example_map();
	size_t len;
	uint8_t *buf = ser(ps, 0, &len);
	assert_int_equal(len, sizeof(example));
	assert_memory_equal(buf, example, sizeof(example));
	free(buf);
	/* Compression cannot shrink 8 bytes: the same file. */
	buf = ser(ps, 19, &len);
	assert_memory_equal(buf, example, sizeof(example));
	free(buf);
	struct sevmig_pstate *back = deser_ok(example, sizeof(example));
	assert_true(sevmig_pstate_equal(ps, back));
	STATES_ARE(back, { 0x100, SH }, { 0x101, PV }, { 0x4ff, SH }, { 0x500, AB }, { 0x1007, SH },
		   { 0x1008, PV });
	sevmig_pstate_free(back);
	sevmig_pstate_free(ps);
}

/* The empty map is 21 bytes: header, no slots, a zero-byte bitmap. */
static void empty_map(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new();
	size_t len;
	uint8_t *buf = ser(ps, 3, &len);
	uint8_t want[32];
	assert_int_equal(mk(want, F_BITMAP, (const uint8_t[]){ 0 }, 1), 21);
	assert_int_equal(len, 21);
	assert_memory_equal(buf, want, 21);
	struct sevmig_pstate *back = deser_ok(buf, len);
	assert_int_equal(sevmig_pstate_slot_count(back), 0);
	sevmig_pstate_free(back);
	free(buf);
	/* And with a zero-run RUNS payload, which other writers may choose. */
	len = mk(want, 0, (const uint8_t[]){ 0, 0 }, 2);
	reads_as(want, len, ps);
	sevmig_pstate_free(ps);
}

/* ---- round trips ------------------------------------------------------------- */

static struct sevmig_pstate *random_map(struct tu_rng *r)
{
	struct sevmig_pstate *ps = map_new();
	unsigned nslots = (unsigned)tu_below(r, 5);
	uint64_t gfn = tu_below(r, 2) ? 0 : tu_below(r, 1u << 20);
	if (tu_below(r, 8) == 0)
		gfn = SEVMIG_GFN_LIMIT - (1u << 22); /* near the top */
	for (unsigned i = 0; i < nslots; i++) {
		uint64_t n = 1 + tu_below(r, tu_below(r, 2) ? 64 : 1u << 18);
		if (gfn + n > SEVMIG_GFN_LIMIT)
			break;
		slot(ps, gfn, n);
		/* Shared pages: long runs, scattered singles, or dense noise. */
		switch (tu_below(r, 4)) {
		case 0:
			break;
		case 1:
			for (unsigned k = (unsigned)tu_below(r, 8); k; k--) {
				uint64_t a = tu_below(r, n), b = 1 + tu_below(r, n - a);
				share(ps, gfn + a, b);
			}
			break;
		case 2:
			for (unsigned k = (unsigned)tu_below(r, 300); k; k--)
				share(ps, gfn + tu_below(r, n), 1);
			break;
		case 3: {
			uint64_t span = n < 4096 ? n : 4096, at = tu_below(r, n - span + 1);
			for (uint64_t p = 0; p < span; p++)
				if (tu_next(r) & 1)
					share(ps, gfn + at + p, 1);
			break;
		}
		}
		if (tu_below(r, 4) == 0 && n > 1)
			share(ps, gfn + n - 1, 1); /* shared to the slot's last page */
		gfn += n + (tu_below(r, 3) ? tu_below(r, 1u << 20) : 0); /* touching, or not */
	}
	return ps;
}

static void random_round_trips(void **state)
{
	(void)state;
	struct tu_rng r = { tu_seed("random_round_trips") };
	unsigned seen[8] = { 0 };
	for (int i = 0; i < 300; i++) {
		struct sevmig_pstate *ps = random_map(&r);
		seen[round_trip(ps, 0) & 7]++;
		seen[round_trip(ps, 1 + (int)tu_below(&r, 19)) & 7]++;
		sevmig_pstate_free(ps);
	}
	/* Every raw encoding came up. */
	assert_true(seen[0] && seen[F_BITMAP] && seen[F_CTRS]);
}

/* Each encoding, raw and compressed, on maps made to need it. */
static void every_encoding(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new();
	/* Runs: a few long runs over a big slot. */
	slot(ps, 0, 1u << 24);
	share(ps, 0x1000, 0x4000);
	share(ps, 0x800000, 1);
	assert_int_equal(round_trip(ps, 0), 0);
	assert_int_equal(round_trip(ps, 3), 0); /* 9 bytes of runs do not compress */
	sevmig_pstate_free(ps);

	/* Runs, compressible: 20000 runs at a regular stride. */
	ps = map_new();
	slot(ps, 0, 1u << 24);
	for (uint64_t g = 0; g < 20000; g++)
		share(ps, g * 700, 3);
	/* too many runs to list them when not compressing: the containers */
	assert_int_equal(round_trip(ps, 0), F_CTRS);
	assert_int_equal(round_trip(ps, 3), F_ZSTD);
	sevmig_pstate_free(ps);

	/* Bitmap: every other page shared; compressible. */
	ps = map_new();
	slot(ps, 5, 100003);
	for (uint64_t g = 5; g < 5 + 100003; g += 2)
		share(ps, g, 1);
	assert_int_equal(round_trip(ps, 0), F_BITMAP);
	assert_int_equal(round_trip(ps, 1), F_BITMAP | F_ZSTD);
	sevmig_pstate_free(ps);

	/* Bitmap, incompressible: random pages in odd-sized, unaligned slots. */
	struct tu_rng r = { tu_seed("every_encoding") };
	ps = map_new();
	slot(ps, 3, 40001);
	slot(ps, 40004, 9);	/* touching */
	slot(ps, 50001, 70007); /* after a gap */
	for (uint64_t g = 3; g < 120008; g++)
		if (sevmig_pstate_get(ps, g) && (tu_next(&r) & 1))
			share(ps, g, 1);
	assert_int_equal(round_trip(ps, 0), F_BITMAP);
	assert_int_equal(round_trip(ps, 19), F_BITMAP);
	sevmig_pstate_free(ps);
}

/* Runs that end one slot and start the next are one run in index space. */
static void runs_across_slots(void **state)
{
	(void)state;
	struct sevmig_pstate *ps = map_new();
	slot(ps, 0x10, 0x10);
	slot(ps, 0x20, 0x10); /* touching */
	slot(ps, 0x1000, 0x10);
	share(ps, 0x18, 0x10); /* across the touching boundary */
	share(ps, 0x2c, 4);    /* to the end of slot 1 ... */
	share(ps, 0x1000, 2);  /* ... and on after the gap */
	share(ps, 0x100f, 1);  /* the very last page */
	size_t len;
	uint8_t *buf = ser(ps, 0, &len);
	/* 3 slots; 3 runs in index space: 8-23, 28-33 (across the gap), 47. */
	const uint8_t want[] = {
		3, 0x10, 0x10, 0, 0x10, 0xd0, 0x1f, 0x10, 3, 0x10, 14, 8, 4, 0x1b
	};
	assert_int_equal(len, HDR + sizeof(want) + 4);
	assert_memory_equal(buf + HDR, want, sizeof(want));
	round_trip(ps, 0);
	free(buf);
	sevmig_pstate_free(ps);
}

/*
 * 2^30 covered pages (4 TiB) with 1 000 000 scattered shared pages: under
 * 2.1 MB raw, and zstd only makes it smaller. (About a second under ASan.)
 */
static void big_scattered(void **state)
{
	(void)state;
	const uint64_t pages = 1ull << 30, nshared = 1000000;
	struct tu_rng r = { tu_seed("big_scattered") };
	struct sevmig_pstate *ps = map_new();
	slot(ps, 0, pages);
	/* Distinct sorted positions: a random walk with mean step pages/n. */
	uint64_t g = 0, step = pages / nshared, n = 0;
	for (; n < nshared; n++) {
		g += 1 + tu_below(&r, 2 * step - 1);
		if (g >= pages)
			break;
		share(ps, g, 1);
	}
	size_t raw_len, len;
	uint8_t *raw = ser(ps, 0, &raw_len), *buf = ser(ps, 3, &len);
	print_message("%llu pages, %llu shared: %zu bytes raw, %zu with zstd\n",
		      (unsigned long long)pages, (unsigned long long)n, raw_len, len);
	assert_true(n > nshared * 99 / 100);
	assert_true(raw_len < 2100000);
	assert_true(len <= raw_len);
	reads_as(buf, len, ps);
	free(buf);
	free(raw);
	sevmig_pstate_free(ps);
}

/* A map that compresses a thousandfold (every other page shared: dense
 * bitmap containers of one repeated byte): the form, a few kilobytes, is
 * not handed over in the 8 MiB the writer reserved for the containers. */
static void compressed_form_fits(void **state)
{
	(void)state;
	const uint64_t pages = 1ull << 26;
	size_t blen = sevmig_bitmap_bytes(pages);
	uint8_t *bits = malloc(blen);
	assert_non_null(bits);
	memset(bits, 0x55, blen);
	struct sevmig_pstate *ps = map_new();
	slot(ps, 0, pages);
	assert_int_equal(sevmig_pstate_set_from_bitmap(ps, 0, pages, bits, blen), 0);
	free(bits);
	size_t len;
	uint8_t *buf = ser(ps, 3, &len); /* asserts the block's size */
	print_message("%zu-byte form in a %zu-byte block\n", len, malloc_usable_size(buf));
	assert_true(sevmig__le16(buf + 10) & F_ZSTD);
	assert_true(len < 65536);
	reads_as(buf, len, ps);
	free(buf);
	sevmig_pstate_free(ps);
}

/* ---- malformed input, one literal per rule ------------------------------------- */

struct bad_case {
	const char *name;
	uint16_t flags;
	uint8_t body[40];
	size_t n;
	uint64_t offset; /* where the error must point */
	const char *msg; /* a part of the message */
};

#define BODY(...) { __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ })

static const struct bad_case bad_cases[] = {
	{ "slot count larger than the input", 0, BODY(0xff, 0xff, 0xff, 0xff, 0x0f, 0), 16,
	  "cannot fit" },
	{ "slot count overlong", 0, BODY(0x81, 0x00, 0, 0), 16, "overlong" },
	{ "varint past 64 bits", 0,
	  BODY(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0,
	       0, 0, 0),
	  16, "64 bits" },
	{ "slot without pages", 0, BODY(1, 0, 0, 0), 18, "no pages" },
	{ "slot starting at 2^40", 0, BODY(1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 1, 0), 17,
	  "beyond the 40-bit" },
	{ "slot ending past 2^40", 0, BODY(1, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 2, 0), 23,
	  "beyond the 40-bit" },
	{ "second slot overlapping the 2^40 limit", 0,
	  BODY(2, 0, 1, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x1f, 2, 0), 25, "beyond the 40-bit" },
	{ "input ends inside a slot", 0, BODY(1, 0x80, 0x80), 17, "ends inside slot 0" },
	{ "more runs than pages allow", 0, BODY(1, 0, 4, 3, 1, 3, 3), 19, "hold at most 2" },
	{ "second run touching the first", 0, BODY(1, 0, 8, 2, 1, 1), 21, "must be maximal" },
	{ "run starting past the coverage", 0, BODY(1, 0, 8, 1, 0x11), 20, "starts past" },
	{ "run ending past the coverage", 0, BODY(1, 0, 8, 1, 0x00, 7), 20, "ends past" },
	{ "run length varint cut", 0, BODY(1, 0, 8, 1, 0x00), 21,
	  "ends inside the length of run 0" },
	{ "bytes after the last run", 0, BODY(1, 0, 8, 0, 0x55), 20, "1 unexpected bytes" },
	{ "bitmap too long", F_BITMAP, BODY(1, 0, 8, 0xff, 0xff), 19, "bitmap is 2 bytes" },
	{ "bitmap too short", F_BITMAP, BODY(1, 0, 9, 0xff), 19, "bitmap is 1 bytes" },
	{ "bitmap padding set", F_BITMAP, BODY(1, 0, 4, 0x3f), 19, "padding bits" },
	{ "reserved flag", 0x8, BODY(0, 0), 10, "reserved flag bits 0x0008" },
	{ "high reserved flag", 0x8000, BODY(0, 0), 10, "reserved flag" },
	{ "encoding 2", 2, BODY(0, 0), 10, "encoding 2" },
	{ "encoding 3", 3, BODY(0, 0), 10, "encoding 3" },
	{ "zstd bitmap of the wrong size", F_BITMAP | F_ZSTD, BODY(1, 0, 8, 2, 0, 0, 0, 0), 19,
	  "need a 1-byte bitmap" },
	{ "zstd runs of size 0", F_ZSTD, BODY(1, 0, 8, 0, 0, 0, 0, 0), 19, "impossible" },
	{ "zstd runs larger than possible", F_ZSTD, BODY(1, 0, 8, 59, 0, 0, 0, 0), 19,
	  "impossible" },
	{ "no zstd frame", F_ZSTD, BODY(1, 0, 8, 1, 0, 0, 0, 0), 20, "no zstd frame" },
	{ "skippable frame instead", F_ZSTD, BODY(1, 0, 8, 1, 0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0),
	  20, "no zstd frame" },
};

static void malformed_literals(void **state)
{
	(void)state;
	uint8_t buf[128];
	struct sevmig_error err;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		size_t len = mk(buf, c->flags, c->body, c->n);
		deser_bad(buf, len, &err);
		if (err.offset != c->offset || !strstr(err.message, c->msg))
			fail_msg("%s: byte %llu: '%s'; expected byte %llu and '%s'", c->name,
				 (unsigned long long)err.offset, err.message,
				 (unsigned long long)c->offset, c->msg);
	}
}

static void malformed_header(void **state)
{
	(void)state;
	struct sevmig_error err;
	uint8_t buf[64];
	size_t len = mk(buf, 0, (const uint8_t[]){ 0, 0 }, 2);
	assert_int_equal(len, 22);

	deser_bad("hello, world, this is text\n", 27, &err);
	assert_int_equal(err.offset, 0);
	assert_non_null(strstr(err.message, "not a page-state file"));
	deser_bad(buf, 3, &err); /* too little even to tell */
	assert_non_null(strstr(err.message, "not a page-state file"));
	deser_bad(buf, 10, &err);
	assert_int_equal(err.offset, 10);
	assert_non_null(strstr(err.message, "truncated"));
	deser_bad(NULL, 0, &err);

	uint8_t b[64];
	memcpy(b, buf, len);
	b[1] = 's';
	deser_bad(b, len, &err);
	assert_int_equal(err.offset, 0);

	memcpy(b, buf, len);
	sevmig__put_le16(b + 8, 3);
	put_crc(b, len);
	deser_bad(b, len, &err);
	assert_int_equal(err.offset, 8);
	assert_string_equal(err.message, "format version 3: this library reads versions 1 and 2");

	/* version 2 holds CONTAINERS only, version 1 never */
	memcpy(b, buf, len);
	sevmig__put_le16(b + 8, 2);
	put_crc(b, len);
	deser_bad(b, len, &err);
	assert_int_equal(err.offset, 10);
	assert_non_null(strstr(err.message, "version 2 file"));
	memcpy(b, buf, len);
	sevmig__put_le16(b + 10, F_CTRS);
	put_crc(b, len);
	deser_bad(b, len, &err);
	assert_int_equal(err.offset, 10);
	assert_non_null(strstr(err.message, "encoding 2 in a version 1 file"));

	memcpy(b, buf, len);
	sevmig__put_le32(b + 12, 8192);
	put_crc(b, len);
	deser_bad(b, len, &err);
	assert_int_equal(err.offset, 12);
	assert_non_null(strstr(err.message, "page size 8192"));

	memcpy(b, buf, len);
	b[len - 1] ^= 0x40;
	deser_bad(b, len, &err);
	assert_int_equal(err.offset, len - 4);
	assert_non_null(strstr(err.message, "checksum mismatch"));

	/* Trailing garbage after a whole file is not ignored. */
	memcpy(b, buf, len);
	b[len] = 0;
	deser_bad(b, len + 1, &err);

	/* Bad arguments. */
	struct sevmig_pstate *ps;
	assert_int_equal(sevmig_pstate_deserialize(buf, len, NULL, NULL), -EINVAL);
	assert_int_equal(sevmig_pstate_deserialize(NULL, 5, &ps, NULL), -EINVAL);
	ps = map_new();
	void *out;
	size_t olen;
	SEVMIG_OPTS(sevmig_pstate_save_opts, bad, .zstd_level = 20);
	assert_int_equal(sevmig_pstate_serialize(ps, &bad, &out, &olen), -EINVAL);
	bad.zstd_level = -1;
	assert_int_equal(sevmig_pstate_serialize(ps, &bad, &out, &olen), -EINVAL);
	assert_int_equal(sevmig_pstate_serialize(ps, NULL, NULL, &olen), -EINVAL);
	struct {
		struct sevmig_pstate_save_opts o;
		uint64_t future;
	} big = { { sizeof(big), 0 }, 1 };
	assert_int_equal(sevmig_pstate_serialize(ps, &big.o, &out, &olen), -EINVAL);
	big.future = 0;
	assert_int_equal(sevmig_pstate_serialize(ps, &big.o, &out, &olen), 0);
	free(out);
	sevmig_pstate_free(ps);
}

/* A payload compressed here, to build malformed zstd files. */
static size_t zframe(uint8_t *dst, size_t cap, const void *src, size_t n, bool with_size, int wlog)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	assert_non_null(cc);
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, with_size)));
	if (wlog)
		assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, wlog)));
	ZSTD_inBuffer in = { src, with_size ? n : 0, 0 };
	ZSTD_outBuffer out = { dst, cap, 0 };
	size_t r;
	if (with_size) {
		r = ZSTD_compress2(cc, dst, cap, src, n);
		assert_false(ZSTD_isError(r));
		ZSTD_freeCCtx(cc);
		return r;
	}
	/* Streaming, so that the frame does not state its size. */
	in.size = n;
	do {
		r = ZSTD_compressStream2(cc, &out, &in, ZSTD_e_end);
		assert_false(ZSTD_isError(r));
	} while (r);
	ZSTD_freeCCtx(cc);
	return out.pos;
}

static void malformed_zstd(void **state)
{
	(void)state;
	struct sevmig_error err;
	uint8_t body[4096], file[4200], raw[64];
	/* Coverage: one slot of 64 pages. Runs payload: 2 runs. */
	const uint8_t cov[] = { 1, 0, 64 };
	const uint8_t runs[] = { 2, 0x01, 0x04, 3 }; /* index 0; 3..7 */
	memcpy(body, cov, 3);

	/* Good: compressed runs, with and without the content size. */
	for (int ws = 0; ws < 2; ws++) {
		body[3] = sizeof(runs);
		size_t fl = zframe(body + 4, sizeof(body) - 4, runs, sizeof(runs), ws, 0);
		size_t len = mk(file, F_ZSTD, body, 4 + fl);
		struct sevmig_pstate *ps = deser_ok(file, len);
		STATES_ARE(ps, { 0, SH }, { 2, PV }, { 3, SH }, { 7, SH }, { 8, PV });
		sevmig_pstate_free(ps);

		/* Declared one byte short: the frame says otherwise, or holds more. */
		body[3] = sizeof(runs) - 1;
		len = mk(file, F_ZSTD, body, 4 + fl);
		deser_bad(file, len, &err);
		assert_non_null(
		    strstr(err.message, ws ? "declares 4 bytes" : "more than the declared"));
		/* Declared one byte long. */
		body[3] = sizeof(runs) + 1;
		len = mk(file, F_ZSTD, body, 4 + fl);
		deser_bad(file, len, &err);
		assert_non_null(strstr(err.message, ws ? "declares 4 bytes" : "holds 4 bytes"));
		body[3] = sizeof(runs);

		/* Every truncation of the frame. */
		for (size_t cut = 0; cut < fl; cut++) {
			len = mk(file, F_ZSTD, body, 4 + cut);
			deser_bad(file, len, &err);
		}
		/* A byte after the frame. */
		body[4 + fl] = 0;
		len = mk(file, F_ZSTD, body, 4 + fl + 1);
		deser_bad(file, len, &err);
		assert_int_equal(err.offset, HDR + 4 + fl);
		/* Two frames. */
		memcpy(body + 4 + fl, body + 4, fl);
		len = mk(file, F_ZSTD, body, 4 + 2 * fl);
		deser_bad(file, len, &err);
	}

	/* Inside the frame, the run rules hold, with the decompressed offset. */
	const uint8_t bad_runs[] = { 2, 0x01, 0x01 };
	body[3] = sizeof(bad_runs);
	size_t fl = zframe(body + 4, sizeof(body) - 4, bad_runs, sizeof(bad_runs), true, 0);
	size_t len = mk(file, F_ZSTD, body, 4 + fl);
	deser_bad(file, len, &err);
	assert_int_equal(err.offset, HDR + 4);
	assert_non_null(strstr(err.message, "must be maximal (decompressed byte 2"));

	/* Extra bytes inside the frame after the last run. */
	memcpy(raw, runs, sizeof(runs));
	raw[sizeof(runs)] = 7;
	body[3] = sizeof(runs) + 1;
	fl = zframe(body + 4, sizeof(body) - 4, raw, sizeof(runs) + 1, true, 0);
	len = mk(file, F_ZSTD, body, 4 + fl);
	deser_bad(file, len, &err);
	assert_non_null(strstr(err.message, "unexpected bytes after the last run"));

	/* A window over 1 MiB is refused, even for a valid bitmap. */
	size_t pages = 3u << 23, braw = pages / 8; /* 3 MiB of bitmap */
	uint8_t *bm = malloc(braw), *big = malloc(braw);
	assert_non_null(bm);
	assert_non_null(big);
	memset(bm, 0xff, braw);
	bm[braw - 1] = 0x7f;
	size_t n = 0;
	big[n++] = 1;
	n += sevmig__varint_put(big + n, 0);
	n += sevmig__varint_put(big + n, pages);
	n += sevmig__varint_put(big + n, braw);
	size_t cl = zframe(big + n, braw - n - 4 - HDR, bm, braw, false, 23);
	uint8_t *f = malloc(HDR + n + cl + 4);
	assert_non_null(f);
	len = mk(f, F_BITMAP | F_ZSTD, big, n + cl);
	deser_bad(f, len, &err);
	assert_non_null(strstr(err.message, "zstd"));
	/* The same with a 1 MiB window is fine. */
	cl = zframe(big + n, braw - n - 4 - HDR, bm, braw, false, 20);
	len = mk(f, F_BITMAP | F_ZSTD, big, n + cl);
	struct sevmig_pstate *ps = deser_ok(f, len);
	STATES_ARE(ps, { pages - 1, SH }, { pages - 2, PV });
	sevmig_pstate_free(ps);
	free(f);
	free(bm);
	free(big);
}

/* ---- truncations and bit flips ----------------------------------------------- */

#define NSMALL 5
static void small_files(uint8_t *files[NSMALL], size_t lens[NSMALL])
{
	struct sevmig_pstate *ps = example_map();
	files[0] = ser(ps, 0, &lens[0]); /* RUNS */
	sevmig_pstate_free(ps);
	ps = map_new();
	slot(ps, 0x10, 61);
	slot(ps, 0x80, 13);
	for (uint64_t g = 0x10; g < 0x10 + 61; g += 3)
		share(ps, g, 1);
	share(ps, 0x85, 2);
	files[1] = ser(ps, 0, &lens[1]); /* BITMAP, unaligned */
	assert_int_equal(files[1][10], F_BITMAP);
	sevmig_pstate_free(ps);
	ps = map_new();
	slot(ps, 0, (1u << 16) - 800); /* the bitmap is much smaller than a chunk's */
	for (uint64_t g = 0; g < (1u << 16) - 800; g += 2)
		share(ps, g, 1);
	files[2] = ser(ps, 3, &lens[2]); /* BITMAP | ZSTD */
	assert_int_equal(files[2][10], F_BITMAP | F_ZSTD);
	sevmig_pstate_free(ps);
	ps = map_new();
	slot(ps, 0, 1u << 20);
	for (uint64_t g = 0; g < 400; g++)
		share(ps, g * 1000, 2);
	files[3] = ser(ps, 3, &lens[3]); /* RUNS | ZSTD */
	assert_int_equal(files[3][10], F_ZSTD);
	sevmig_pstate_free(ps);
	ps = map_new();
	slot(ps, 0x10, 3u << 16);
	for (uint64_t g = 0; g < 300; g++)
		share(ps, 0x10 + g * 5, 1); /* an ARRAY */
	share(ps, 1u << 16, 1u << 16);	    /* a full span */
	for (uint64_t g = 0; g < 20; g++)
		share(ps, (2u << 16) + g * 100, 7); /* a RUN container */
	files[4] = ser(ps, 0, &lens[4]);	    /* CONTAINERS */
	assert_int_equal(files[4][10], F_CTRS);
	sevmig_pstate_free(ps);
}

static void truncations(void **state)
{
	(void)state;
	uint8_t *files[NSMALL];
	size_t lens[NSMALL];
	struct sevmig_error err;
	small_files(files, lens);
	for (int f = 0; f < NSMALL; f++) {
		for (size_t n = 0; n < lens[f]; n++) {
			/* A copy of exactly n bytes, so that ASan sees any overread. */
			uint8_t *b = malloc(n ? n : 1);
			memcpy(b, files[f], n);
			deser_bad(b, n, &err);
			/* With the checksum made right, the structure still says no. */
			if (n >= 21) {
				put_crc(b, n);
				deser_bad(b, n, &err);
				assert_true(!strstr(err.message, "checksum"));
			}
			free(b);
		}
		free(files[f]);
	}
}

static void bit_flips(void **state)
{
	(void)state;
	uint8_t *files[NSMALL];
	size_t lens[NSMALL];
	struct sevmig_error err;
	small_files(files, lens);
	unsigned accepted = 0, flips = 0;
	for (int f = 0; f < NSMALL; f++) {
		struct sevmig_pstate *orig = deser_ok(files[f], lens[f]);
		size_t len = lens[f];
		uint8_t *b = malloc(len);
		for (size_t bit = 0; bit < len * 8; bit++) {
			memcpy(b, files[f], len);
			b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			/* CRC32C catches every single-bit error. */
			deser_bad(b, len, &err);
			/* With the checksum recomputed the structure is checked on
			 * its own: rejected, or a valid file of a different map
			 * that reads back the same after re-serializing. */
			put_crc(b, len);
			struct sevmig_pstate *ps = NULL;
			sevmig_error_clear(&err);
			int rc = sevmig_pstate_deserialize(b, len, &ps, &err);
			flips++;
			if (rc) {
				assert_int_equal(rc, -EBADMSG);
				assert_true(err.message[0]);
				continue;
			}
			accepted++;
			size_t l2;
			uint8_t *b2 = ser(ps, 0, &l2);
			reads_as(b2, l2, ps);
			sevmig_pstate_free(ps);
			free(b2);
		}
		free(b);
		sevmig_pstate_free(orig);
		free(files[f]);
	}
	print_message("%u flips with a fixed checksum, %u gave another valid file\n", flips,
		      accepted);
}

/* ---- bounded memory -------------------------------------------------------------- */

static long max_rss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/*
 * A 4 TiB all-private bitmap (128 MiB raw) compressed to a few KiB decodes
 * in bounded memory: the test streams the frame out of a 64 KiB buffer, and
 * the reader must not hold the raw bitmap either.
 */
static void compressed_bitmap_bounded(void **state)
{
	(void)state;
	const uint64_t pages = 1ull << 30, raw = pages / 8;
	const uint64_t shared[] = { 0, 12345, pages / 2 + 7, pages - 1 };
	uint8_t *chunk = malloc(65536);
	size_t cap = 1 << 20, n = 0;
	uint8_t *body = malloc(cap);
	assert_non_null(chunk);
	assert_non_null(body);
	body[n++] = 1;
	n += sevmig__varint_put(body + n, 0);
	n += sevmig__varint_put(body + n, pages);
	n += sevmig__varint_put(body + n, raw);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, 20)));
	assert_false(ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cc, raw)));
	for (uint64_t off = 0; off < raw; off += 65536) {
		memset(chunk, 0xff, 65536);
		for (size_t i = 0; i < 4; i++)
			if (shared[i] / 8 >= off && shared[i] / 8 < off + 65536)
				chunk[shared[i] / 8 - off] &= (uint8_t) ~(1u << (shared[i] % 8));
		ZSTD_inBuffer in = { chunk, 65536, 0 };
		ZSTD_EndDirective end = off + 65536 == raw ? ZSTD_e_end : ZSTD_e_continue;
		size_t r;
		do {
			ZSTD_outBuffer out = { body + n, cap - n - 4, 0 };
			r = ZSTD_compressStream2(cc, &out, &in, end);
			assert_false(ZSTD_isError(r));
			n += out.pos;
		} while (end == ZSTD_e_end ? r != 0 : in.pos < in.size);
	}
	ZSTD_freeCCtx(cc);
	free(chunk);
	uint8_t *file = malloc(HDR + n + 4);
	size_t len = mk(file, F_BITMAP | F_ZSTD, body, n);
	free(body);
	print_message("4 TiB bitmap, 4 shared pages: %zu bytes compressed\n", len);
	assert_true(len < 64 * 1024);

	long before = max_rss_kib();
	struct sevmig_pstate *ps = deser_ok(file, len);
	long grew = max_rss_kib() - before;
	print_message("peak RSS grew by %ld KiB decoding it\n", grew);
	assert_true(grew < 32 * 1024);
	struct sevmig_pstate_stats st;
	sevmig_pstate_stats(ps, &st);
	assert_int_equal(st.covered_pages, pages);
	assert_int_equal(st.shared_pages, 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(sevmig_pstate_get(ps, shared[i]), SEVMIG_PAGE_SHARED);
	/* It re-serializes as runs, a few bytes. */
	size_t l2;
	uint8_t *b2 = ser(ps, 3, &l2);
	assert_true(l2 < 64);
	free(b2);
	sevmig_pstate_free(ps);
	free(file);
}

/* ---- the checked-in files (tests/data/pstate, made by make_corpus.py) ---------- */

static unsigned each_file(const char *dir, void (*fn)(const char *path, const char *name))
{
	char d[4096];
	snprintf(d, sizeof(d), "%s", tu_data_path(dir));
	DIR *h = opendir(d);
	assert_non_null(h);
	unsigned n = 0;
	struct dirent *e;
	while ((e = readdir(h))) {
		if (e->d_name[0] == '.' || strstr(e->d_name, ".py") || strstr(e->d_name, ".md"))
			continue;
		char path[4400];
		snprintf(path, sizeof(path), "%s/%s", d, e->d_name);
		fn(path, e->d_name);
		n++;
	}
	closedir(h);
	return n;
}

static struct sevmig_pstate *load_file(const char *path, int *rc, struct sevmig_error *err)
{
	size_t len;
	void *buf = tu_read_file(path, &len);
	assert_non_null(buf);
	struct sevmig_pstate *ps = NULL;
	sevmig_error_clear(err);
	*rc = sevmig_pstate_load(buf, len, &ps, err);
	free(buf);
	return ps;
}

static void good_file(const char *path, const char *name)
{
	int rc;
	struct sevmig_error err;
	struct sevmig_pstate *ps = load_file(path, &rc, &err);
	if (rc)
		fail_msg("%s: %d at byte %llu: %s", name, rc, (unsigned long long)err.offset,
			 err.message);
	/* A .bin and its .txt twin are the same map. */
	char twin[4400];
	snprintf(twin, sizeof(twin), "%s", path);
	char *dot = strrchr(twin, '.');
	if (!strcmp(dot, ".bin")) {
		strcpy(dot, ".txt");
		FILE *f = fopen(twin, "r");
		if (f) {
			fclose(f);
			struct sevmig_pstate *t = load_file(twin, &rc, &err);
			assert_int_equal(rc, 0);
			assert_true(sevmig_pstate_equal(ps, t));
			sevmig_pstate_free(t);
		}
	}
	sevmig_pstate_free(ps);
}

static void bad_file(const char *path, const char *name)
{
	int rc;
	struct sevmig_error err;
	struct sevmig_pstate *ps = load_file(path, &rc, &err);
	if (rc != -EBADMSG || ps)
		fail_msg("%s: accepted (%d)", name, rc);
	assert_true(err.message[0]);
	/* A position: a byte offset or a line. */
	assert_true(err.offset != SEVMIG_NO_OFFSET || err.index > 0);
}

static void data_files(void **state)
{
	(void)state;
	assert_true(each_file("pstate/good", good_file) >= 8);
	assert_true(each_file("pstate/bad", bad_file) >= 40);
}

/* ---- the CONTAINERS encoding (version 2) ------------------------------------ */

/* A version 2 file from flags and a body. */
static size_t mk2(uint8_t *out, uint16_t flags, const uint8_t *body, size_t n)
{
	size_t len = mk(out, flags, body, n);
	sevmig__put_le16(out + 8, 2);
	put_crc(out, len);
	return len;
}

/* The worked example of docs/pstate-format.md 1.10 (version 2). */
static void containers_example(void **state)
{
	(void)state;
	const uint8_t body[] = { 0x01, 0x00, 0x80, 0x80, 0x08, 0x02, 0x00,
				 0x06, 0x10, 0x00, 0x12, 0x00, 0x00, 0x00 };
	uint8_t file[64];
	size_t len = mk2(file, F_CTRS, body, sizeof(body));
	assert_int_equal(len, 34);
	struct sevmig_pstate *ps = deser_ok(file, len);
	STATES_ARE(ps, { 0xf, PV }, { 0x10, SH }, { 0x11, PV }, { 0x12, SH }, { 0x13, PV },
		   { 0xffff, PV }, { 0x10000, SH }, { 0x1ffff, SH }, { 0x20000, AB });
	assert_int_equal(ps->sh.n, 2);
	assert_int_equal(ps->sh.v[0].c->kind, SEVMIG__CTR_ARRAY);
	assert_null(ps->sh.v[1].c);
	/* the same map written with zstd (the runs are few: RUNS) reads the
	 * same; and the CONTAINERS bytes, compressed, read the same too */
	uint8_t body_z[256], framed[512];
	memcpy(body_z, body, 5);
	body_z[5] = 9; /* raw size */
	size_t fl = zframe(body_z + 6, sizeof(body_z) - 6, body + 5, 9, true, 0);
	size_t zl = mk2(framed, F_CTRS | F_ZSTD, body_z, 6 + fl);
	reads_as(framed, zl, ps);
	sevmig_pstate_free(ps);
}

struct ctr_bad {
	const char *name;
	uint16_t flags;
	uint8_t body[48];
	size_t n;
	uint64_t offset;
	const char *msg;
};

/* One slot of two chunks, [0, 0x20000): 5 bytes of coverage, the payload
 * from byte 21. */
#define COV2 0x01, 0x00, 0x80, 0x80, 0x08
static const struct ctr_bad ctr_bad_cases[] = {
	{ "more entries than bytes", 0, BODY(COV2, 0x7f), 21, "cannot fit" },
	{ "array not increasing", 0, BODY(COV2, 1, 0, 0x06, 0x12, 0, 0x10, 0), 22,
	  "not strictly increasing" },
	{ "array repeating a page", 0, BODY(COV2, 1, 0, 0x06, 0x12, 0, 0x12, 0), 22,
	  "not strictly increasing" },
	{ "run container of single pages", 0,
	  BODY(COV2, 1, 0, 0x05, 0x10, 0, 0x10, 0, 0x12, 0, 0x12, 0), 22, "smallest" },
	{ "array of one run", 0, BODY(COV2, 1, 0, 0x0e, 0x10, 0, 0x11, 0, 0x12, 0, 0x13, 0), 22,
	  "smallest" },
	{ "reversed run", 0, BODY(COV2, 1, 0, 0x01, 0x12, 0, 0x10, 0), 22, "before it starts" },
	{ "touching runs", 0, BODY(COV2, 1, 0, 0x05, 0x10, 0, 0x20, 0, 0x21, 0, 0x30, 0), 22,
	  "disjoint and apart" },
	{ "overlapping runs", 0, BODY(COV2, 1, 0, 0x05, 0x10, 0, 0x20, 0, 0x15, 0, 0x30, 0), 22,
	  "disjoint and apart" },
	{ "129 runs", 0, BODY(COV2, 1, 0, 0x81, 0x04), 22, "129 runs (at most 128)" },
	{ "4097 pages", 0, BODY(COV2, 1, 0, 0x82, 0x80, 0x01), 22, "4097 pages (at most 4096)" },
	{ "bitmap with a count", 0, BODY(COV2, 1, 0, 0x07), 22, "count must be 0" },
	{ "a whole chunk as a run", 0, BODY(COV2, 1, 0, 0x01, 0, 0, 0xff, 0xff), 22, "full span" },
	{ "full spans touching", 0, BODY(COV2, 2, 0, 0, 0, 0), 24, "touching" },
	{ "full span past 2^40", 0, BODY(COV2, 1, 0, 0x80, 0x80, 0x80, 0x20), 22, "ends beyond" },
	{ "entry past 2^40", 0, BODY(COV2, 1, 0x80, 0x80, 0x80, 0x08, 0x02, 0, 0), 22,
	  "starts beyond" },
	{ "page outside the coverage", 0, BODY(COV2, 1, 2, 0x02, 0x10, 0), 22,
	  "outside the coverage" },
	{ "full span outside the coverage", 0, BODY(COV2, 1, 1, 0x04), 22, "outside the coverage" },
	{ "content cut", 0, BODY(COV2, 1, 0, 0x06, 0x10, 0), 22, "ends inside entry 0" },
	{ "entry head cut", 0, BODY(COV2, 1, 0, 0x86), 23, "ends inside the kind of entry 0" },
	{ "bytes after the last entry", 0, BODY(COV2, 1, 0, 0x02, 0x10, 0, 0x55), 26,
	  "1 unexpected bytes" },
	{ "zstd containers larger than possible", F_ZSTD,
	  BODY(COV2, 0xb3, 0x80, 0x01, 0x28, 0xb5, 0x2f, 0xfd), 21, "impossible for containers" },
	{ "zstd containers of size 0", F_ZSTD, BODY(COV2, 0, 0x28, 0xb5, 0x2f, 0xfd), 21,
	  "impossible for containers" },
};

static void containers_refused(void **state)
{
	(void)state;
	uint8_t buf[128];
	struct sevmig_error err;
	for (size_t i = 0; i < sizeof(ctr_bad_cases) / sizeof(ctr_bad_cases[0]); i++) {
		const struct ctr_bad *c = &ctr_bad_cases[i];
		size_t len = mk2(buf, (uint16_t)(F_CTRS | c->flags), c->body, c->n);
		deser_bad(buf, len, &err);
		if (err.offset != c->offset || !strstr(err.message, c->msg))
			fail_msg("%s: byte %llu: %s", c->name, (unsigned long long)err.offset,
				 err.message);
	}
	/* BITMAP contents: empty, and too few pages for a bitmap */
	size_t n = 5 + 4 + 8192;
	uint8_t *body = calloc(1, n), *file = malloc(n + 64);
	assert_non_null(body);
	assert_non_null(file);
	memcpy(body, (const uint8_t[]){ COV2, 1, 0, 0x03 }, 8);
	size_t len = mk2(file, F_CTRS, body, n - 1);
	deser_bad(file, len, &err);
	assert_int_equal(err.offset, 22);
	assert_non_null(strstr(err.message, "no page is shared"));
	body[8 + 100] = 0x01;
	len = mk2(file, F_CTRS, body, n - 1);
	deser_bad(file, len, &err);
	assert_non_null(strstr(err.message, "smallest"));
	/* many scattered pages: a BITMAP it must be, and it reads */
	for (size_t i = 8; i < n - 1; i++)
		body[i] = 0x55;
	len = mk2(file, F_CTRS, body, n - 1);
	struct sevmig_pstate *ps = deser_ok(file, len);
	assert_int_equal(ps->sh.v[0].c->kind, SEVMIG__CTR_BITMAP);
	struct sevmig_pstate_stats st;
	sevmig_pstate_stats(ps, &st);
	assert_int_equal(st.shared_pages, 32768);
	sevmig_pstate_free(ps);
	free(body);
	free(file);
}

/*
 * Random maps whose chunks take every kind (and, updated in place, kinds
 * the hysteresis left that the writer must put in the smallest): written
 * as CONTAINERS, read back page for page equal to a byte-per-page model.
 */
static void containers_random(void **state)
{
	(void)state;
	struct tu_rng r = { tu_seed("containers_random") };
	const uint64_t W = 12 * 65536;
	uint8_t *model = malloc(W), *bm = malloc(W / 8);
	assert_non_null(model);
	assert_non_null(bm);
	unsigned seen_ctrs = 0;
	for (int round = 0; round < 40; round++) {
		uint64_t base = tu_below(&r, 2) ? 0 : (1ull << 40) - W;
		struct sevmig_pstate *ps = map_new();
		memset(model, 0, W);
		/* one to three slots, a gap between each (the second starts 100
		 * pages after cut1 and is never empty) */
		uint64_t cut1 = 1 + tu_below(&r, W / 3), cut2 = cut1 + 101 + tu_below(&r, W / 3);
		unsigned ns = 1 + (unsigned)tu_below(&r, 3);
		uint64_t sl[3][2] = { { 0, ns == 1 ? W : cut1 },
				      { cut1 + 100, ns == 2 ? W : cut2 },
				      { cut2 + 1, W } };
		for (unsigned i = 0; i < ns; i++)
			slot(ps, base + sl[i][0], sl[i][1] - sl[i][0]);
		for (unsigned i = 0; i < ns; i++) {
			for (uint64_t k = sl[i][0] >> 16; k <= (sl[i][1] - 1) >> 16; k++) {
				uint64_t lo = k << 16 > sl[i][0] ? k << 16 : sl[i][0];
				uint64_t hi = (k + 1) << 16 < sl[i][1] ? (k + 1) << 16 : sl[i][1];
				unsigned mode = (unsigned)tu_below(&r, 6);
				uint64_t m = mode == 1	 ? 1 + tu_below(&r, 200)
					     : mode == 2 ? 300 + tu_below(&r, 4000)
					     : mode == 3 ? 5000 + tu_below(&r, 30000)
					     : mode == 4 ? 1 + tu_below(&r, 40)
							 : 0;
				if (mode == 5) {
					share(ps, base + lo, hi - lo);
					memset(model + lo, 1, hi - lo);
				}
				for (uint64_t j = 0; j < m; j++) {
					uint64_t g = lo + tu_below(&r, hi - lo);
					uint64_t len = mode == 4 ? 1 + tu_below(&r, 500) : 1;
					len = len < hi - g ? len : hi - g;
					share(ps, base + g, len);
					memset(model + g, 1, len);
				}
				/* some pages back to private: containers change in place */
				for (uint64_t j = 0; j < m / 8; j++) {
					uint64_t g = lo + tu_below(&r, hi - lo);
					assert_int_equal(sevmig_pstate_set_range(
							     ps, base + g, 1, SEVMIG_PAGE_PRIVATE),
							 0);
					model[g] = 0;
				}
			}
		}
		unsigned flags = round_trip(ps, 0);
		seen_ctrs += (flags & 3) == F_CTRS;
		round_trip(ps, 1 + (int)tu_below(&r, 19));
		size_t len;
		uint8_t *buf = ser(ps, 0, &len);
		struct sevmig_pstate *back = deser_ok(buf, len);
		assert_int_equal(sevmig_pstate_to_bitmap(back, base, W, bm, W / 8), 0);
		for (uint64_t i = 0; i < W; i++)
			if (model[i] == ((bm[i / 8] >> (i % 8)) & 1))
				fail_msg("round %d: gfn 0x%llx is %s", round,
					 (unsigned long long)(base + i),
					 model[i] ? "private" : "shared");
		free(buf);
		sevmig_pstate_free(back);
		sevmig_pstate_free(ps);
	}
	assert_true(seen_ctrs > 10);
	free(model);
	free(bm);
}

/* A zstd payload whose frame holds far more than its header declares: the
 * reader stops one byte past the declared size. */
static void zstd_bomb(void **state)
{
	(void)state;
	/* 64 MiB of valid-looking runs (gap 1, single page: 0x03) compress to a
	 * few kB; the header declares 4 bytes: a run count and three runs */
	size_t big = 64u << 20;
	uint8_t *src = malloc(big), *file = malloc(1 << 20);
	assert_non_null(src);
	assert_non_null(file);
	memset(src, 0x03, big);
	src[0] = 3; /* 3 runs, then the runs */
	uint8_t *body = file + 512 * 1024;
	size_t b = 0;
	body[b++] = 1;
	body[b++] = 0;
	b += sevmig__varint_put(body + b, 1u << 20); /* 1 Mi pages */
	body[b++] = 4;				     /* raw size */
	size_t fl = zframe(body + b, 400 * 1024, src, big, false, 20);
	size_t len = mk(file, F_ZSTD, body, b + fl);
	struct sevmig_error err;
	deser_bad(file, len, &err);
	if (!strstr(err.message, "more than the declared 4 bytes"))
		fail_msg("%s", err.message);
	/* CONTAINERS too */
	body[b - 1] = 2;
	len = mk2(file, F_CTRS | F_ZSTD, body, b + fl);
	deser_bad(file, len, &err);
	assert_non_null(strstr(err.message, "declared"));
	free(src);
	free(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* First: it measures the growth of the peak RSS. */
		cmocka_unit_test(compressed_bitmap_bounded),
		cmocka_unit_test(worked_example),
		cmocka_unit_test(empty_map),
		cmocka_unit_test(random_round_trips),
		cmocka_unit_test(every_encoding),
		cmocka_unit_test(runs_across_slots),
		cmocka_unit_test(big_scattered),
		cmocka_unit_test(compressed_form_fits),
		cmocka_unit_test(malformed_literals),
		cmocka_unit_test(malformed_header),
		cmocka_unit_test(malformed_zstd),
		cmocka_unit_test(truncations),
		cmocka_unit_test(bit_flips),
		cmocka_unit_test(data_files),
		cmocka_unit_test(containers_example),
		cmocka_unit_test(containers_refused),
		cmocka_unit_test(containers_random),
		cmocka_unit_test(zstd_bomb),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
