/* SPDX-License-Identifier: MIT */
/* Reading a page-state file of either form, told apart by content
 * (docs/pstate-format.md): the binary magic, else text whose first range line
 * begins with "0x", else not a page-state file at all. */
#include <errno.h>

#include <sevmig/pstate.h>

#include "pstate/pstate_forms.h"
#include "util/error.h"

int sevmig_pstate_load(const void *buf, size_t len, struct sevmig_pstate **out,
		       struct sevmig_error *err)
{
	if ((!buf && len) || !out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no input or no result");
	if (sevmig__pstate_is_binary(buf, len))
		return sevmig_pstate_deserialize(buf, len, out, err);
	if (sevmig__pstate_is_text(buf, len))
		return sevmig_pstate_parse_text(buf, len, out, err);
	return sevmig__fail(err, -EBADMSG, 0, 0,
			    "not a page-state file (neither the libsevmig binary form nor the "
			    "text form)");
}
