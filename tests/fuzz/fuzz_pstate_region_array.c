/* SPDX-License-Identifier: MIT */
/*
 * The kernel-format import paths: the region array of
 * KVM_GET/SET_SHARED_PAGES_LIST (sevmig_pstate_set_from_region_array) and
 * the raw bitmap of KVM_GET/SET_PAGE_ENC_BITMAP
 * (sevmig_pstate_set_from_bitmap).
 *
 * Input: mode (1 byte: bit 0 bitmap instead of region array, bit 1 some
 * pages shared beforehand, bit 2 a second slot touching the first), the
 * slot's base gfn (5 bytes) and page count (3 bytes), then the kernel
 * buffer. Checks: a refused buffer changes nothing; an accepted one gives
 * exactly the states it describes (checked against a decoding done here)
 * and exports back to the same buffer; the map then survives every round
 * trip (fuzz_pstate_check.h).
 */
#include <stdint.h>

#include "fuzz_pstate_check.h"
#include "util/endian.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t le_n(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void check_region_array(struct sevmig_pstate *ps, uint64_t lo, uint64_t hi,
			       const uint8_t *buf, size_t len, int rc)
{
	/* What the kernel's contract accepts: whole entries, each non-empty,
	 * inside the coverage, sorted, disjoint (touching allowed). */
	bool valid = len % SEVMIG_REGION_ENTRY_SIZE == 0;
	uint64_t prev_end = 0, total = 0;
	for (size_t i = 0; valid && i < len / 16; i++) {
		uint64_t s = sevmig__le64(buf + 16 * i), e = sevmig__le64(buf + 16 * i + 8);
		valid = s < e && s >= lo && e <= hi && (i == 0 || s >= prev_end);
		prev_end = e;
		total += e - s;
	}
	if (rc) {
		FUZZ_CHECK(!valid || rc == -ENOMEM);
		return;
	}
	FUZZ_CHECK(valid);
	struct sevmig_pstate_stats st;
	sevmig_pstate_stats(ps, &st);
	FUZZ_CHECK(st.shared_pages == total);
	for (size_t i = 0; i < len / 16; i++) {
		uint64_t s = sevmig__le64(buf + 16 * i), e = sevmig__le64(buf + 16 * i + 8);
		FUZZ_CHECK(sevmig_pstate_get(ps, s) == SEVMIG_PAGE_SHARED);
		FUZZ_CHECK(sevmig_pstate_get(ps, e - 1) == SEVMIG_PAGE_SHARED);
	}
	/* Exported back: the same runs, coalesced where they touched. */
	size_t n = 0;
	int xr = sevmig_pstate_to_region_array(ps, NULL, 0, &n);
	FUZZ_CHECK(xr == 0 || xr == -E2BIG);
	uint8_t *out = malloc(n * 16 + 1);
	FUZZ_CHECK(out);
	FUZZ_CHECK(sevmig_pstate_to_region_array(ps, out, n * 16, &n) == 0);
	size_t j = 0;
	for (size_t i = 0; i < len / 16; j++) {
		uint64_t s = sevmig__le64(buf + 16 * i), e = sevmig__le64(buf + 16 * i + 8);
		for (i++; i < len / 16 && sevmig__le64(buf + 16 * i) == e; i++)
			e = sevmig__le64(buf + 16 * i + 8);
		FUZZ_CHECK(j < n);
		FUZZ_CHECK(sevmig__le64(out + 16 * j) == s && sevmig__le64(out + 16 * j + 8) == e);
	}
	FUZZ_CHECK(j == n);
	free(out);
}

static void check_bitmap(struct sevmig_pstate *ps, uint64_t base, uint64_t npages,
			 const uint8_t *buf, size_t len, int rc)
{
	size_t need = sevmig_bitmap_bytes(npages);
	if (rc) {
		FUZZ_CHECK(len < need || rc == -ENOMEM);
		return;
	}
	FUZZ_CHECK(len >= need);
	/* Exported into a buffer of 0x5a: bits past npages keep that. */
	uint8_t *out = malloc(need);
	FUZZ_CHECK(out);
	memset(out, 0x5a, need);
	FUZZ_CHECK(sevmig_pstate_to_bitmap(ps, base, npages, out, need) == 0);
	uint64_t priv = 0;
	for (uint64_t i = 0; i < npages; i++) {
		bool in = buf[i / 8] >> (i % 8) & 1, got = out[i / 8] >> (i % 8) & 1;
		FUZZ_CHECK(in == got);
		priv += in;
	}
	for (uint64_t i = npages; i < need * 8; i++)
		FUZZ_CHECK((out[i / 8] >> (i % 8) & 1) == (0x5a >> (i % 8) & 1));
	struct sevmig_pstate_stats st;
	sevmig_pstate_stats(ps, &st);
	/* The other slot, if any, stays private. */
	FUZZ_CHECK(st.private_pages == priv + (st.covered_pages - npages));
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 9)
		return 0;
	unsigned mode = data[0];
	uint64_t base = le_n(data + 1, 5) & (SEVMIG_GFN_LIMIT - 1);
	uint64_t npages = 1 + le_n(data + 6, 3);
	if (base > SEVMIG_GFN_LIMIT - npages)
		base = SEVMIG_GFN_LIMIT - npages;
	const uint8_t *buf = data + 9;
	size_t len = size - 9;

	struct sevmig_pstate *ps, *before;
	FUZZ_CHECK(sevmig_pstate_new(&ps, NULL) == 0);
	FUZZ_CHECK(sevmig_pstate_add_slot(ps, base, npages) == 0);
	uint64_t lo = base, hi = base + npages;
	if ((mode & 4) && base >= 64) {
		FUZZ_CHECK(sevmig_pstate_add_slot(ps, base - 64, 64) == 0);
		lo = base - 64;
	}
	if (mode & 2)
		FUZZ_CHECK(sevmig_pstate_set_range(ps, base + npages / 2, (npages + 1) / 2,
						   SEVMIG_PAGE_SHARED) == 0);
	FUZZ_CHECK(sevmig_pstate_clone(ps, &before, NULL) == 0);

	struct sevmig_error err;
	sevmig_error_clear(&err);
	int rc;
	if (mode & 1) {
		rc = sevmig_pstate_set_from_bitmap(ps, base, npages, buf, len);
		check_bitmap(ps, base, npages, buf, len, rc);
	} else {
		rc = sevmig_pstate_set_from_region_array(ps, buf, len, &err);
		check_region_array(ps, lo, hi, buf, len, rc);
		if (rc && rc != -ENOMEM) {
			FUZZ_CHECK(rc == -EINVAL || rc == -ERANGE);
			FUZZ_CHECK(err.code == rc && err.message[0]);
		}
	}
	if (rc) {
		FUZZ_CHECK(sevmig_pstate_equal(ps, before)); /* nothing changed */
		fuzz_check_repr(ps);
	} else {
		fuzz_check_map(ps);
	}
	sevmig_pstate_free(before);
	sevmig_pstate_free(ps);
	return 0;
}
