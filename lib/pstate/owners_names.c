/* SPDX-License-Identifier: MIT */
/* The names of the ownership map: entities, states, views and transitions,
 * as the text form and the tools write them. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pstate/owners_impl.h"
#include "util/error.h"

static const char *const op_names[] = {
	[SEVMIG_OWNERS_HOST_DONATE_HYP] = "host_donate_hyp",
	[SEVMIG_OWNERS_HYP_DONATE_HOST] = "hyp_donate_host",
	[SEVMIG_OWNERS_HOST_SHARE_HYP] = "host_share_hyp",
	[SEVMIG_OWNERS_HOST_UNSHARE_HYP] = "host_unshare_hyp",
	[SEVMIG_OWNERS_HOST_DONATE_GUEST] = "host_donate_guest",
	[SEVMIG_OWNERS_GUEST_DONATE_HOST] = "guest_donate_host",
	[SEVMIG_OWNERS_HOST_SHARE_GUEST] = "host_share_guest",
	[SEVMIG_OWNERS_HOST_UNSHARE_GUEST] = "host_unshare_guest",
	[SEVMIG_OWNERS_GUEST_SHARE_HOST] = "guest_share_host",
	[SEVMIG_OWNERS_GUEST_UNSHARE_HOST] = "guest_unshare_host",
};
#define NOPS (sizeof(op_names) / sizeof(op_names[0]))

const char *sevmig_owners_op_name(enum sevmig_owners_op op)
{
	return (unsigned)op < NOPS ? op_names[op] : NULL;
}

int sevmig_owners_op_parse(const char *name, size_t len, enum sevmig_owners_op *op)
{
	if (!name || !op)
		return -EINVAL;
	for (unsigned i = 1; i < NOPS; i++)
		if (strlen(op_names[i]) == len && !memcmp(op_names[i], name, len)) {
			*op = (enum sevmig_owners_op)i;
			return 0;
		}
	return -EINVAL;
}

bool sevmig_owners_op_takes_guest(enum sevmig_owners_op op)
{
	return op >= SEVMIG_OWNERS_HOST_DONATE_GUEST && op <= SEVMIG_OWNERS_GUEST_UNSHARE_HOST;
}

const char *sevmig_page_view_name(enum sevmig_page_view v)
{
	switch (v) {
	case SEVMIG_VIEW_NOPAGE:
		return "nopage";
	case SEVMIG_VIEW_OWNED:
		return "owned";
	case SEVMIG_VIEW_SHARED_OWNED:
		return "shared_owned";
	case SEVMIG_VIEW_SHARED_BORROWED:
		return "shared_borrowed";
	}
	return "invalid";
}

const char *sevmig_owner_name(uint32_t id, char *buf, size_t len)
{
	if (!buf || !len)
		return "";
	if (id == SEVMIG_OWNER_HYP)
		snprintf(buf, len, "hyp");
	else if (id == SEVMIG_OWNER_HOST)
		snprintf(buf, len, "host");
	else if (id <= SEVMIG_OWNER_ID_MAX)
		snprintf(buf, len, "guest:%" PRIu32, id);
	else
		snprintf(buf, len, id == SEVMIG_OWNER_NONE ? "none" : "invalid");
	return buf;
}

int sevmig__owner_parse(const char *s, size_t len, uint32_t *id, char *why, size_t wlen)
{
	if (len == 3 && !memcmp(s, "hyp", 3)) {
		*id = SEVMIG_OWNER_HYP;
		return 0;
	}
	if (len == 4 && !memcmp(s, "host", 4)) {
		*id = SEVMIG_OWNER_HOST;
		return 0;
	}
	if (len < 6 || memcmp(s, "guest:", 6)) {
		int shown = len > 24 ? 24 : (int)len;
		for (int i = 0; i < shown; i++)
			if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
				shown = i;
		sevmig__msg(why, wlen, "unknown entity '%.*s%s' (hyp, host or guest:N)", shown, s,
			    (size_t)shown < len ? "..." : "");
		return -EINVAL;
	}
	const char *d = s + 6, *e = s + len;
	if (d == e) {
		sevmig__msg(why, wlen, "guest: needs its id (guest:N, N decimal from 2)");
		return -EINVAL;
	}
	uint64_t v = 0;
	for (const char *p = d; p < e; p++) {
		if (*p < '0' || *p > '9') {
			sevmig__msg(why, wlen, "guest id '%.*s' is not a decimal number",
				    e - d > 24 ? 24 : (int)(e - d), d);
			return -EINVAL;
		}
		/* stop growing once past the range; the digits still get checked */
		if (v <= SEVMIG_OWNER_ID_MAX)
			v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < SEVMIG_OWNER_GUEST_MIN) {
		sevmig__msg(why, wlen,
			    "guest id %" PRIu64 " is below 2 (0 is the hypervisor, 1 the host)", v);
		return -EINVAL;
	}
	if (v > SEVMIG_OWNER_ID_MAX) {
		sevmig__msg(why, wlen,
			    "guest id '%.*s' is past %u, the largest the 20-bit owner id holds",
			    e - d > 24 ? 24 : (int)(e - d), d, SEVMIG_OWNER_ID_MAX);
		return -EINVAL;
	}
	*id = (uint32_t)v;
	return 0;
}

int sevmig_owner_parse(const char *s, size_t len, uint32_t *id, struct sevmig_error *err)
{
	if ((!s && len) || !id)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no name or no result");
	char why[128];
	if (sevmig__owner_parse(s, len, id, why, sizeof(why)))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "%s", why);
	return 0;
}

bool sevmig__owners_state_valid(uint32_t owner, uint32_t borrower)
{
	return !sevmig__owners_state_why(owner, borrower);
}

const char *sevmig__owners_state_why(uint32_t owner, uint32_t borrower)
{
	if (owner > SEVMIG_OWNER_ID_MAX)
		return "the owner id is past the 20-bit range";
	if (borrower == SEVMIG_OWNER_NONE)
		return NULL;
	if (borrower > SEVMIG_OWNER_ID_MAX)
		return "the borrower id is past the 20-bit range";
	if (borrower == owner)
		return "an entity cannot borrow its own frame";
	if (owner == SEVMIG_OWNER_HYP)
		return "the hypervisor's frames are never lent";
	if (owner == SEVMIG_OWNER_HOST)
		return NULL; /* to the hypervisor or a guest */
	if (borrower != SEVMIG_OWNER_HOST)
		return "a guest's frame can be lent to the host only";
	return NULL;
}

const char *sevmig__owners_state_str(uint32_t owner, uint32_t borrower, char *buf, size_t len)
{
	if (owner == SEVMIG__GAP) {
		snprintf(buf, len, "not covered");
		return buf;
	}
	char a[SEVMIG_OWNER_NAME_MAX], b[SEVMIG_OWNER_NAME_MAX];
	sevmig_owner_name(owner, a, sizeof(a));
	if (borrower == SEVMIG_OWNER_NONE)
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s>%s", a, sevmig_owner_name(borrower, b, sizeof(b)));
	return buf;
}
