/* SPDX-License-Identifier: MIT */
/* Filling struct sevmig_error, and the early-return helpers every layer
 * uses. */
#ifndef SEVMIG_UTIL_ERROR_H
#define SEVMIG_UTIL_ERROR_H

#include <sevmig/common.h>

#if defined(__GNUC__) || defined(__clang__)
#define SEVMIG__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SEVMIG__PRINTF(a, b)
#endif

/*
 * Record an error (err may be NULL) and return `code`, so that a failure
 * reads `return sevmig__fail(err, -EBADMSG, off, idx, "bad magic");`.
 */
int sevmig__fail(struct sevmig_error *err, int code, uint64_t offset, uint64_t index,
		 const char *fmt, ...) SEVMIG__PRINTF(5, 6);

/* Format into a fixed message buffer (always NUL-terminated). */
void sevmig__msg(char *dst, size_t size, const char *fmt, ...) SEVMIG__PRINTF(3, 4);

/* Forward a negative result. */
#define SEVMIG__TRY(expr)                   \
	do {                                \
		int sevmig__rc_ = (expr);   \
		if (sevmig__rc_ < 0)        \
			return sevmig__rc_; \
	} while (0)

/*
 * Options structs (see SEVMIG_OPTS): true when `opts` is NULL or its size is
 * usable: at least `min_sz`, and any tail past `our_sz` all zero.
 */
bool sevmig__opts_valid(const void *opts, size_t our_sz, size_t min_sz);
/*
 * Where our knowledge of an options struct ends: the end of its last field,
 * not its size. A field a newer caller's header added in what is trailing
 * padding here (a bool after a bool) lies below sizeof, and a check from
 * sizeof would ignore it; from the last field's end it is refused (libbpf's
 * __last_field). SEVMIG__OPTS_LAST() at file scope proves `last` is the last
 * field, so that adding one without moving the check fails to compile.
 */
#define SEVMIG__OPTS_END(type, last) (offsetof(type, last) + sizeof(((type *)0)->last))
#define SEVMIG__OPTS_LAST(type, last)                                                \
	_Static_assert(sizeof(type) - SEVMIG__OPTS_END(type, last) < _Alignof(type), \
		       #last " is the last field of " #type)
/*
 * Output structs that start with `size_t sz` (the caller's sizeof): copy
 * the library's full struct `src` of `size` bytes into `dst` up to the
 * caller's sz, which stays as it was. A caller built against an older,
 * smaller struct gets the fields it knows and nothing written past them.
 */
void sevmig__out_fill(void *dst, const void *src, size_t size);
/*
 * The engines keep the first failure of a call (later ones are its
 * consequences): fill `rec` only if it holds none yet; rc either way.
 */
#define SEVMIG__FIRST_FAIL(rec, rc_, off, idx, ...) \
	((rec)->code ? (rc_) : sevmig__fail((rec), (rc_), (off), (idx), __VA_ARGS__))
#define SEVMIG__OPTS_VALID(opts, type, last) \
	sevmig__opts_valid(opts, SEVMIG__OPTS_END(type, last), sizeof(size_t))
/* Read a field of an options struct only if the caller's sz covers it. */
#define SEVMIG__OPT(opts, field, dflt)                                                        \
	((opts) && (opts)->sz >= offsetof(__typeof__(*(opts)), field) + sizeof((opts)->field) \
	     ? (opts)->field                                                                  \
	     : (dflt))

#endif
