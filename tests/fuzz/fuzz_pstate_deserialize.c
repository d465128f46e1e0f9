/* SPDX-License-Identifier: MIT */
/*
 * The binary page-state parser (sevmig_pstate_deserialize, and
 * sevmig_pstate_load on the same bytes). Each input is tried as it is and
 * with its checksum made right, so that mutations reach the structure
 * behind the CRC; whatever is accepted must survive every round trip
 * (fuzz_pstate_check.h).
 */
#include <stdint.h>

#include "fuzz_check.h"
#include "fuzz_pstate_check.h"
#include "util/endian.h"

/*
 * A zstd payload may describe far more than the input holds: 580 bytes of
 * RLE blocks are a 16 MiB bitmap of 64 million runs. That map is legitimate
 * (the format bounds memory by the map, not by the file), but building it
 * and checking its round trips takes minutes under the sanitizers, and
 * libFuzzer would report a timeout that is no bug. So an input whose zstd
 * raw_size passes FUZZ_MAX_RAW, and which its coverage would allow, is
 * skipped: the zstd path then reaches no further than a raw payload of
 * libFuzzer's default maximum length does. An impossible raw_size is still
 * fed to the parser, which must refuse it.
 */
#define FUZZ_MAX_RAW 4096

static bool get_varint(const uint8_t *d, size_t n, size_t *pos, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; *pos < n && shift < 64; shift += 7) {
		uint8_t b = d[(*pos)++];
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

static bool too_big(const uint8_t *d, size_t n)
{
	static const uint8_t magic[8] = { 0x89, 'S', 'V', 'P', 'S', '\r', '\n', 0x1a };
	if (n < 16 || memcmp(d, magic, 8) || !(sevmig__le16(d + 10) & 4))
		return false;
	size_t pos = 16;
	uint64_t nslots, gap, npages, covered = 0, raw, end = 0, chunks = 0;
	if (!get_varint(d, n, &pos, &nslots))
		return false;
	/* Each slot takes at least two bytes: this ends with the input. */
	for (uint64_t i = 0; i < nslots; i++) {
		if (!get_varint(d, n, &pos, &gap) || !get_varint(d, n, &pos, &npages))
			return false;
		covered = npages > UINT64_MAX - covered ? UINT64_MAX : covered + npages;
		/* chunks the slot touches, for CONTAINERS (gfns past 2^40 are
		 * refused anyway: keep the sums from wrapping) */
		if (gap < (1ull << 41) && npages && npages < (1ull << 41)) {
			uint64_t g = end + gap;
			chunks += ((g + npages - 1) >> 16) - (g >> 16) + 1;
			end = g + npages;
		}
	}
	if (!get_varint(d, n, &pos, &raw))
		return false;
	/* The largest raw_size an encoding permits (pstate-format.md 1.6). */
	uint64_t half = covered / 2 + (covered & 1);
	uint64_t limit = half > (UINT64_MAX - 10) / 12 ? UINT64_MAX : 10 + 12 * half;
	uint64_t ctrs = chunks > (UINT64_MAX - 10) / 8212 ? UINT64_MAX : 10 + 8212 * chunks;
	limit = ctrs > limit ? ctrs : limit;
	return raw > FUZZ_MAX_RAW && raw <= limit;
}

static void one(const uint8_t *data, size_t size)
{
	struct sevmig_pstate *ps = NULL, *ps2 = NULL;
	struct sevmig_error err, err2;
	sevmig_error_clear(&err);
	sevmig_error_clear(&err2);
	int rc = sevmig_pstate_deserialize(data, size, &ps, &err);
	int rc2 = sevmig_pstate_load(data, size, &ps2, &err2);
	if (rc) {
		FUZZ_CHECK(ps == NULL);
		fuzz_check_rejection(rc, &err, size);
		/* load() may read it as text instead, but never as this binary. */
		if (!rc2)
			sevmig_pstate_free(ps2);
		return;
	}
	FUZZ_CHECK(rc2 == 0 && sevmig_pstate_equal(ps, ps2));
	fuzz_check_repr(ps2);
	sevmig_pstate_free(ps2);
	fuzz_check_map(ps);
	sevmig_pstate_free(ps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!too_big(data, size))
		fuzz_with_crc_fixed(data, size, one);
	return 0;
}
