/* SPDX-License-Identifier: MIT */
/* Shared by the unit tests: cmocka, a seeded random generator whose seed is
 * printed so that a failing randomized run can be replayed
 * (SEVMIG_SEED=<n> ./test_x), and small file helpers. */
#ifndef SEVMIG_TESTUTIL_H
#define SEVMIG_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* splitmix64: small, fast, and good enough to drive test inputs. */
struct tu_rng {
	uint64_t s;
};
/* The seed from $SEVMIG_SEED, or one from the clock; printed either way as
 * "seed: N (replay with SEVMIG_SEED=N)". */
uint64_t tu_seed(const char *test_name);
static inline uint64_t tu_next(struct tu_rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}
/* Uniform in [0, n), n > 0. */
static inline uint64_t tu_below(struct tu_rng *r, uint64_t n)
{
	return tu_next(r) % n;
}
void tu_fill(struct tu_rng *r, void *buf, size_t len);

/* Read a whole file (malloc'd, NUL-terminated past len); NULL on error. */
void *tu_read_file(const char *path, size_t *len);
/* Path under $SEVMIG_TEST_DATA (tests/data); static buffer. */
const char *tu_data_path(const char *name);

#endif
