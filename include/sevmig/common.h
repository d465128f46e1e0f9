/* SPDX-License-Identifier: MIT */
/*
 * Conventions shared by every libsevmig header.
 *
 * Errors: every function returning int returns 0 (or a non-negative count) on
 * success and a negative errno on failure; no function sets errno for the
 * caller to read. Functions that parse input or talk to firmware can also
 * fill a struct sevmig_error with a one-line message saying what and where.
 *
 * Ownership: a handle returned through an out-parameter belongs to the caller
 * and is released by the matching _free()/_close(), which accepts NULL.
 *
 * Threads: the library has no global state. A handle may be used by one
 * thread at a time; distinct handles may be used concurrently. Each header
 * says where a handle allows more.
 */
#ifndef SEVMIG_COMMON_H
#define SEVMIG_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define SEVMIG_API	 __attribute__((visibility("default")))
#define SEVMIG_NODISCARD __attribute__((warn_unused_result))
#else
#define SEVMIG_API
#define SEVMIG_NODISCARD
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Guest pages are 4 KiB; guest frame numbers (gfn) are gpa >> 12. */
#define SEVMIG_PAGE_SHIFT 12
#define SEVMIG_PAGE_SIZE  (1u << SEVMIG_PAGE_SHIFT)
/* x86-64 physical addresses have at most 52 bits, so gfns have 40. */
#define SEVMIG_GFN_LIMIT (UINT64_C(1) << 40)

/* Value given in struct sevmig_error.offset when no byte offset applies. */
#define SEVMIG_NO_OFFSET UINT64_MAX

/*
 * What went wrong, for people: filled by functions that take a
 * `struct sevmig_error *err` argument (NULL is always allowed). On success
 * it is left untouched.
 */
struct sevmig_error {
	int code;	   /* the negative errno the call returned */
	uint64_t offset;   /* byte offset of the fault in the input, or SEVMIG_NO_OFFSET */
	uint64_t index;	   /* 1-based line (text input) or 0-based record index; 0 if none */
	char message[256]; /* NUL-terminated, no trailing newline */
};

/* Initialise an error record to "no error". */
SEVMIG_API void sevmig_error_clear(struct sevmig_error *err);

/* Library version at run time (compare with SEVMIG_VERSION_NUMBER). */
SEVMIG_API unsigned sevmig_version_number(void);
SEVMIG_API const char *sevmig_version_string(void);

/*
 * A short description of a negative errno as this library uses it
 * (for instance -EBADMSG: "malformed or corrupt input"). Never NULL.
 */
SEVMIG_API const char *sevmig_strerror(int err);

/*
 * Options structs start with `size_t sz`, the size the caller compiled
 * against, so that fields can be added without breaking the ABI (libbpf's
 * scheme): the library reads only the fields `sz` covers, and a caller's
 * larger struct must have an all-zero tail. NULL options mean defaults.
 *   SEVMIG_OPTS(sevmig_pstate_save_opts, o, .zstd_level = 3);
 * The library checks every byte past the end of the last field it knows,
 * padding included, so that a field a newer header put in what was
 * padding is refused, not ignored: the macro zeroes the whole struct
 * first, and a struct filled field by field must be memset() to zero too.
 */
#define SEVMIG_OPTS(type, name, ...)                   \
	struct type name;                              \
	memset(&name, 0, sizeof(name));                \
	name = (struct type)                           \
	{                                              \
		.sz = sizeof(struct type), __VA_ARGS__ \
	}

/* A guest memory region, as a KVM memslot: gpa and size page-aligned. */
struct sevmig_mem_region {
	uint64_t gpa;
	uint64_t size;
	void *host; /* where the region's bytes live in this process */
};

#ifdef __cplusplus
}
#endif
#endif
