/* SPDX-License-Identifier: MIT */
/* File-descriptor callbacks, record names, and the small helpers sender,
 * receiver and reader share. */
#include "stream/stream_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "util/endian.h"

const char *sevmig_record_type_name(uint16_t type)
{
	static const char *const names[] = {
		[SEVMIG_REC_SESSION] = "SESSION", [SEVMIG_REC_PSTATE] = "PSTATE",
		[SEVMIG_REC_ENC] = "ENC",	  [SEVMIG_REC_PLAIN] = "PLAIN",
		[SEVMIG_REC_ZERO] = "ZERO",	  [SEVMIG_REC_VMSA] = "VMSA",
		[SEVMIG_REC_ROUND] = "ROUND",	  [SEVMIG_REC_ABORT] = "ABORT",
		[SEVMIG_REC_END] = "END",	  [SEVMIG_REC_VMM] = "VMM",
	};
	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "UNKNOWN";
}

/* A non-blocking descriptor that is not ready: wait until it is. */
static int wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int n = poll(&p, 1, -1);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int sevmig_write_fd(void *fd_arg, const void *buf, size_t len)
{
	int fd = (int)(intptr_t)fd_arg;
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			SEVMIG__TRY(wait_fd(fd, POLLOUT));
		} else {
			return n < 0 ? -errno : -EIO;
		}
	}
	return 0;
}

ptrdiff_t sevmig_read_fd(void *fd_arg, void *buf, size_t len)
{
	int fd = (int)(intptr_t)fd_arg;
	for (;;) {
		ssize_t n = read(fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int rc = wait_fd(fd, POLLIN);
			if (rc < 0)
				return rc;
			continue;
		}
		return -errno;
	}
}

unsigned sevmig__window(unsigned workers, unsigned window)
{
	/* Enough for each worker to find work queued while the caller's
	 * thread, which sleeps until half of them are done or runs one itself,
	 * is busy; few enough to stay in the caches. */
	if (!window)
		window = workers ? 4 * workers + 4 : 1;
	return window > SM_MAX_WINDOW ? SM_MAX_WINDOW : window;
}

/* 16 bytes, whatever the alignment: compilers make it one vector load. */
typedef uint64_t sm_v2 __attribute__((vector_size(16)));
static inline sm_v2 load16(const uint8_t *p)
{
	sm_v2 v;
	memcpy(&v, p, sizeof(v));
	return v;
}

bool sevmig__page_is_zero(const uint8_t *p)
{
	/* Four independent accumulators, 256 bytes between exits: a zero page
	 * is read at full speed, and most other pages differ early. */
	for (const uint8_t *end = p + SM_PAGE; p < end; p += 256) {
		sm_v2 a = load16(p), b = load16(p + 16), c = load16(p + 32), d = load16(p + 48);
		for (size_t i = 64; i < 256; i += 64) {
			a |= load16(p + i);
			b |= load16(p + i + 16);
			c |= load16(p + i + 32);
			d |= load16(p + i + 48);
		}
		a |= b | c | d;
		if (a[0] | a[1])
			return false;
	}
	return true;
}

#if defined(__SSE2__)
#include <emmintrin.h>

void sevmig__guest_write(uint8_t *dst, const uint8_t *src, size_t n)
{
	__m128i z = _mm_setzero_si128();
	for (size_t i = 0; i < n; i += 64) {
		__m128i a = z, b = z, c = z, d = z;
		if (src) {
			a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
			b = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 16));
			c = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 32));
			d = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 48));
		}
		_mm_stream_si128((__m128i *)(void *)(dst + i), a);
		_mm_stream_si128((__m128i *)(void *)(dst + i + 16), b);
		_mm_stream_si128((__m128i *)(void *)(dst + i + 32), c);
		_mm_stream_si128((__m128i *)(void *)(dst + i + 48), d);
	}
}

void sevmig__guest_write_done(void)
{
	_mm_sfence();
}
#else
void sevmig__guest_write(uint8_t *dst, const uint8_t *src, size_t n)
{
	if (src)
		memcpy(dst, src, n);
	else
		memset(dst, 0, n);
}

void sevmig__guest_write_done(void)
{
}
#endif

int sevmig__plain_decode(ZSTD_DCtx *dctx, const uint8_t *data, size_t dlen, uint8_t *dst,
			 size_t dst_len, char *msg, size_t msgsz)
{
	/* One frame, exactly the record's length: ZSTD_decompressDCtx would
	 * otherwise decode concatenated frames too. */
	size_t fsz = ZSTD_findFrameCompressedSize(data, dlen);
	if (ZSTD_isError(fsz)) {
		sevmig__msg(msg, msgsz, "PLAIN data is not a zstd frame: %s",
			    ZSTD_getErrorName(fsz));
		return -EBADMSG;
	}
	if (fsz != dlen) {
		sevmig__msg(msg, msgsz, "PLAIN zstd frame is %zu bytes but the record holds %zu",
			    fsz, dlen);
		return -EBADMSG;
	}
	unsigned long long csz = ZSTD_getFrameContentSize(data, dlen);
	if (csz == ZSTD_CONTENTSIZE_ERROR ||
	    (csz != ZSTD_CONTENTSIZE_UNKNOWN && csz != (unsigned long long)dst_len)) {
		sevmig__msg(msg, msgsz,
			    "PLAIN zstd frame declares %llu bytes; the record's pages need %zu",
			    csz, dst_len);
		return -EBADMSG;
	}
	size_t got = ZSTD_decompressDCtx(dctx, dst, dst_len, data, dlen);
	if (ZSTD_isError(got)) {
		sevmig__msg(msg, msgsz, "PLAIN zstd frame does not decode to %zu bytes: %s",
			    dst_len, ZSTD_getErrorName(got));
		return -EBADMSG;
	}
	if (got != dst_len) {
		sevmig__msg(msg, msgsz,
			    "PLAIN zstd frame decodes to %zu bytes; the record's pages need %zu",
			    got, dst_len);
		return -EBADMSG;
	}
	return 0;
}
