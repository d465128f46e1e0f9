/* SPDX-License-Identifier: MIT */
/*
 * The page-state layouts bench_pstate and bench_vs_roaring both measure
 * (docs/performance.md), from one generator so that the two see the same
 * maps: a guest of `gib` GiB has a memslot below 3 GiB and one from 4 GiB
 * up (the MMIO hole is a coverage gap), mostly private, with a 64 MiB
 * bounce buffer shared and VCPUS + `scattered` single shared pages, made
 * shared through hypercalls in random order (snapshot a). The second
 * snapshot flips 1 % of a's shared pages: half of them become private, as
 * many random pages become shared. The seed is the layout's own, so a run
 * of one layout does not depend on the others.
 */
#ifndef BENCH_LAYOUTS_H
#define BENCH_LAYOUTS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <sevmig/pstate.h>

#define GIB_PAGES(g) ((uint64_t)(g) << 18)
#define LOW_END	     GIB_PAGES(3) /* the slot below the MMIO hole */
#define HIGH_START   GIB_PAGES(4)
#define BOUNCE_GFN   0x40000ull /* 1 GiB */
#define BOUNCE_PAGES 16384ull	/* 64 MiB */
#define VCPUS	     64

/* splitmix64: the benchmark's whole randomness, seeded per layout. */
static uint64_t bench_rng_state;
static inline uint64_t bench_rnd(void)
{
	uint64_t z = (bench_rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

struct bench_layout {
	unsigned gib;
	uint64_t scattered;
	uint64_t span;	 /* pages from 0 to the end of the high slot */
	uint64_t *calls; /* gfns of the single-page hypercalls, in order */
	size_t ncalls;
};

/* A page of either memslot, uniformly. */
static inline uint64_t bench_random_gfn(uint64_t span)
{
	uint64_t covered = LOW_END + (span - HIGH_START);
	uint64_t x = bench_rnd() % covered;
	return x < LOW_END ? x : HIGH_START + (x - LOW_END);
}

/* Seed the generator for the layout and draw its hypercalls: 0 or -ENOMEM. */
static inline int bench_layout_init(struct bench_layout *l, unsigned gib, uint64_t scattered)
{
	*l = (struct bench_layout){ gib, scattered, HIGH_START + GIB_PAGES(gib) - LOW_END, NULL,
				    VCPUS + scattered };
	bench_rng_state = gib * 1000003ull + scattered;
	l->calls = malloc(l->ncalls * sizeof(*l->calls));
	if (!l->calls)
		return -ENOMEM;
	for (size_t i = 0; i < l->ncalls; i++)
		l->calls[i] = bench_random_gfn(l->span);
	return 0;
}

static inline void bench_layout_free(struct bench_layout *l)
{
	free(l->calls);
	l->calls = NULL;
}

/* A map with the two memslots of a guest spanning `span` pages, all
 * private. *out is NULL on failure (so also for the compiler). */
static inline int bench_empty_map(uint64_t span, struct sevmig_pstate **out)
{
	*out = NULL;
	struct sevmig_pstate *ps;
	int rc = sevmig_pstate_new(&ps, NULL);
	if (rc)
		return rc;
	rc = sevmig_pstate_add_slot(ps, 0, LOW_END);
	if (!rc)
		rc = sevmig_pstate_add_slot(ps, HIGH_START, span - HIGH_START);
	if (rc) {
		sevmig_pstate_free(ps);
		return rc;
	}
	*out = ps;
	return 0;
}

/* Snapshot a: the bounce buffer, then the layout's hypercalls. */
static inline int bench_snapshot_a(const struct bench_layout *l, struct sevmig_pstate **out)
{
	*out = NULL;
	struct sevmig_pstate *ps;
	int rc = bench_empty_map(l->span, &ps);
	if (rc)
		return rc;
	rc = sevmig_pstate_apply_hypercall(ps, BOUNCE_GFN << 12, BOUNCE_PAGES, false);
	for (size_t i = 0; i < l->ncalls && !rc; i++)
		rc = sevmig_pstate_apply_hypercall(ps, l->calls[i] << 12, 1, false);
	if (rc) {
		sevmig_pstate_free(ps);
		return rc;
	}
	*out = ps;
	return 0;
}

/* How many pages the second snapshot flips: 1 % of a's shared pages. */
static inline uint64_t bench_flips(const struct sevmig_pstate *a)
{
	struct sevmig_pstate_stats st;
	sevmig_pstate_stats(a, &st);
	return st.shared_pages / 100;
}

/*
 * Flip i of `flips`, drawn in this order after snapshot a: the gfn of a
 * single-page hypercall, *to_private its direction (the first half turn
 * scattered pages private again).
 */
static inline uint64_t bench_flip(const struct bench_layout *l, uint64_t i, uint64_t flips,
				  bool *to_private)
{
	*to_private = i < flips / 2;
	return *to_private ? l->calls[VCPUS + bench_rnd() % l->scattered]
			   : bench_random_gfn(l->span);
}

/* A sevmig_pstate_diff() callback counting the ranges and their pages. */
struct bench_diff_count {
	uint64_t changes, pages;
};

static inline int bench_count_change(void *arg, const struct sevmig_pstate_change *c)
{
	struct bench_diff_count *x = arg;
	x->changes++;
	x->pages += c->npages;
	return 0;
}

#endif
