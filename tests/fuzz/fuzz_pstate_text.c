/* SPDX-License-Identifier: MIT */
/*
 * The text page-state parser (sevmig_pstate_parse_text, and
 * sevmig_pstate_load on the same bytes). A rejection names a line that
 * exists; whatever is accepted must survive every round trip
 * (fuzz_pstate_check.h).
 */
#include <stdint.h>

#include "fuzz_pstate_check.h"
#include "pstate/pstate_forms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct sevmig_pstate *ps = NULL, *ps2 = NULL;
	struct sevmig_error err, err2;
	sevmig_error_clear(&err);
	sevmig_error_clear(&err2);
	int rc = sevmig_pstate_parse_text(text, size, &ps, &err);
	int rc2 = sevmig_pstate_load(data, size, &ps2, &err2);
	bool as_text = !sevmig__pstate_is_binary(data, size) && sevmig__pstate_is_text(data, size);
	if (rc) {
		FUZZ_CHECK(ps == NULL);
		fuzz_check_rejection(rc, &err, size);
		if (rc == -EBADMSG) {
			size_t lines = 1;
			for (size_t i = 0; i < size; i++)
				lines += data[i] == '\n';
			FUZZ_CHECK(err.offset == SEVMIG_NO_OFFSET);
			FUZZ_CHECK(err.index >= 1 && err.index <= lines);
		}
		if (as_text)
			FUZZ_CHECK(rc2 == rc && err2.index == err.index);
		if (!rc2)
			sevmig_pstate_free(ps2);
		return 0;
	}
	if (as_text)
		FUZZ_CHECK(rc2 == 0 && sevmig_pstate_equal(ps, ps2));
	sevmig_pstate_free(ps2);
	fuzz_check_map(ps);
	sevmig_pstate_free(ps);
	return 0;
}
