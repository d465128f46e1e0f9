/* SPDX-License-Identifier: MIT */
/*
 * Allocation-failure injection for one test program: malloc(), calloc(),
 * realloc() and free() replaced for the whole program (glibc's allocator
 * underneath through __libc_*()). Set fail_at to the index of the
 * allocation to fail (counted in nalloc from when it is set; -2: every
 * one; -1: none); `live` counts the blocks held, for leak checks.
 *
 * AddressSanitizer replaces malloc() itself: there FAILING_MALLOC is not
 * defined and the program skips what needs it. Include it once, in the
 * test's only translation unit.
 */
#ifndef SEVMIG_TEST_FAILING_MALLOC_H
#define SEVMIG_TEST_FAILING_MALLOC_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define FAILING_MALLOC_UNAVAILABLE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FAILING_MALLOC_UNAVAILABLE 1
#endif
#endif

#ifndef FAILING_MALLOC_UNAVAILABLE
#define FAILING_MALLOC 1
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t sz);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

static long fail_at = -1; /* allocation to fail (-2: all of them), -1: none */
static long nalloc;	  /* allocations since armed */
static long live;	  /* blocks held */

static bool fail_now(void)
{
	return fail_at == -2 || (fail_at >= 0 && nalloc++ == fail_at);
}

void *malloc(size_t n)
{
	void *p = fail_now() ? NULL : __libc_malloc(n);
	live += p != NULL;
	return p;
}

void *calloc(size_t n, size_t sz)
{
	void *p = fail_now() ? NULL : __libc_calloc(n, sz);
	live += p != NULL;
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p = fail_now() ? NULL : __libc_realloc(old, n);
	live += p != NULL && !old;
	return p;
}

void free(void *p)
{
	live -= p != NULL;
	__libc_free(p);
}
#endif

#endif
