/* SPDX-License-Identifier: MIT */
/*
 * The binary ownership-map parser (sevmig_owners_deserialize, and
 * sevmig_owners_load on the same bytes). Each input is tried as it is and
 * with its checksum made right, so that mutations reach the structure
 * behind the CRC; whatever is accepted must keep every invariant and round
 * trip (fuzz_owners_check.h).
 */
#include <stdint.h>

#include "fuzz_owners_check.h"

static void one(const uint8_t *data, size_t size)
{
	struct sevmig_owners *o = NULL, *l = NULL;
	struct sevmig_error err, err2;
	sevmig_error_clear(&err);
	sevmig_error_clear(&err2);
	int rc = sevmig_owners_deserialize(data, size, &o, &err);
	int rc2 = sevmig_owners_load(data, size, &l, &err2);
	if (rc) {
		fuzz_owners_rejection(rc, o, &err, size);
		/* load() may read it as text instead, but never as this binary */
		sevmig_owners_free(l);
		return;
	}
	CHECK(rc2 == 0 && sevmig_owners_equal(o, l));
	sevmig_owners_free(l);
	fuzz_owners_map(o);
	sevmig_owners_free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_with_crc_fixed(data, size, one);
	return 0;
}
