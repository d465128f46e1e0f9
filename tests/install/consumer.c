/* SPDX-License-Identifier: MIT */
/* A program built against an installed libsevmig: it must find the headers
 * and the library, and the library's run-time version must match. */
#include <stdio.h>
#include <sevmig/sevmig.h>

int main(void)
{
	struct sevmig_pstate *ps;
	if (sevmig_pstate_new(&ps, NULL))
		return 1;
	int rc = sevmig_pstate_add_slot(ps, 0, 16);
	rc = rc ? rc : sevmig_pstate_set_range(ps, 4, 2, SEVMIG_PAGE_SHARED);
	enum sevmig_page_state st = sevmig_pstate_get(ps, 5);
	sevmig_pstate_free(ps);
	if (rc || st != SEVMIG_PAGE_SHARED)
		return 1;
	if (sevmig_version_number() != SEVMIG_VERSION_NUMBER)
		return 1;
	printf("consumer ok, libsevmig %s\n", sevmig_version_string());
	return 0;
}
