/* SPDX-License-Identifier: MIT */
/*
 * The binary page-state parser (sevmig_pstate_deserialize, and
 * sevmig_pstate_load on the same bytes). Each input is tried as it is and
 * with its checksum made right, so that mutations reach the structure
 * behind the CRC; whatever is accepted must survive every round trip
 * (fuzz_pstate_check.h).
 */
#include <stdint.h>

#include "fuzz_pstate_check.h"
#include "util/crc32c.h"
#include "util/endian.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	one(data, size);
	if (size >= 21 && size <= (1u << 20)) {
		uint8_t *fixed = malloc(size);
		if (!fixed)
			return 0;
		memcpy(fixed, data, size);
		sevmig__put_le32(fixed + size - 4, sevmig__crc32c(0, fixed, size - 4));
		one(fixed, size);
		free(fixed);
	}
	return 0;
}
