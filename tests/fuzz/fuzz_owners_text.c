/* SPDX-License-Identifier: MIT */
/*
 * The text form of ownership maps (sevmig_owners_parse_text, and
 * sevmig_owners_load on the same bytes): a rejection names a line, an
 * accepted map keeps every invariant and round trips (fuzz_owners_check.h).
 */
#include <stdint.h>

#include "fuzz_owners_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sevmig_owners *o = NULL, *l = NULL;
	struct sevmig_error err, err2;
	sevmig_error_clear(&err);
	sevmig_error_clear(&err2);
	int rc = sevmig_owners_parse_text((const char *)data, size, &o, &err);
	int rc2 = sevmig_owners_load(data, size, &l, &err2);
	if (rc) {
		fuzz_owners_rejection(rc, o, &err, size);
		CHECK(rc == -ENOMEM || err.index >= 1);
		sevmig_owners_free(l);
		return 0;
	}
	/* what parses as text never starts like the binary form */
	CHECK(rc2 == -ENOMEM || (rc2 == 0 && sevmig_owners_equal(o, l)));
	sevmig_owners_free(l);
	fuzz_owners_map(o);
	sevmig_owners_free(o);
	return 0;
}
