/* SPDX-License-Identifier: MIT */
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sevmig/version.h>

void sevmig_error_clear(struct sevmig_error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->offset = SEVMIG_NO_OFFSET;
	err->index = 0;
	err->message[0] = '\0';
}

int sevmig__fail(struct sevmig_error *err, int code, uint64_t offset, uint64_t index,
		 const char *fmt, ...)
{
	if (!err)
		return code;
	err->code = code;
	err->offset = offset;
	err->index = index;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

void sevmig__msg(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, size, fmt, ap);
	va_end(ap);
}

bool sevmig__opts_valid(const void *opts, size_t our_sz, size_t min_sz)
{
	if (!opts)
		return true;
	size_t sz;
	memcpy(&sz, opts, sizeof(sz));
	if (sz < min_sz)
		return false;
	const unsigned char *p = opts;
	for (size_t i = our_sz; i < sz; i++)
		if (p[i])
			return false;
	return true;
}

void sevmig__out_fill(void *dst, const void *src, size_t size)
{
	size_t sz;
	memcpy(&sz, dst, sizeof(sz));
	memcpy(dst, src, sz < size ? sz : size);
	memcpy(dst, &sz, sizeof(sz));
}

const char *sevmig_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -EINVAL:
		return "invalid argument";
	case -ENOMEM:
		return "out of memory";
	case -EBADMSG:
		return "malformed or corrupt input";
	case -EPROTO:
		return "protocol violation: out-of-order stream or firmware state";
	case -EIO:
		return "the firmware refused the command";
	case -ENODATA:
		return "input ends too early (truncated)";
	case -EOVERFLOW:
		return "size or count out of range";
	case -EOPNOTSUPP:
		return "not supported on this host";
	case -ERANGE:
		return "outside the guest's memory or the map's coverage";
	case -EEXIST:
		return "overlaps something that exists";
	case -ENOENT:
		return "no such object";
	case -ENOSPC:
		return "buffer too small";
	case -E2BIG:
		return "buffer too small for the list";
	case -ECANCELED:
		return "cancelled";
	case -EPIPE:
		return "the other end closed the connection";
	case -ETIMEDOUT:
		return "timed out (the firmware or the peer)";
	case -ECONNRESET:
		return "the connection was reset or closed early";
	case -EREMOTEIO:
		return "the target refused the migration (NAK)";
	case -EBADF:
		return "bad file descriptor";
	case -EPERM:
		return "not permitted";
	case -EACCES:
		return "not authenticated, or permission denied";
	case -EBUSY:
		return "busy";
	default: {
		const char *s = err < 0 ? strerrordesc_np(-err) : NULL;
		return s ? s : "unknown error";
	}
	}
}

unsigned sevmig_version_number(void)
{
	return SEVMIG_VERSION_NUMBER;
}

const char *sevmig_version_string(void)
{
	return SEVMIG_VERSION_STRING;
}
