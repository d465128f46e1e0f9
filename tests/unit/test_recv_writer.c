/* SPDX-License-Identifier: MIT */
/*
 * sevmig-recv's writer threads (cli/recv/writer.c), against a reference
 * model (the same writes made one after the other): every write lands,
 * the last write to a byte wins whatever order the threads finish in, and
 * the first failure stops the writing and is reported from then on.
 */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sevmig/sevmig.h>

#include "recv/writer.h"

#define PG     ((size_t)SEVMIG_PAGE_SIZE)
#define REGION ((size_t)SEVMIG_STREAM_MAX_BATCH * PG) /* writer.c's unit */
#define FILES  2
#define FSIZE  (3 * REGION)

struct fake {
	uint8_t *file[FILES];
	atomic_uint calls;
	unsigned fail_at;	      /* the call that fails (1-based); 0: none */
	atomic_uint calls_at_failure; /* calls begun when it failed */
	atomic_bool bad_args;
	pthread_mutex_t lock;
	struct tu_rng delay;
};

/* A disk whose writes take longer now and then, so that a write queued
 * later on another thread finishes first. */
static int fake_write(void *arg, size_t file, uint64_t at, const uint8_t *data, size_t len)
{
	struct fake *f = arg;
	unsigned k = atomic_fetch_add(&f->calls, 1) + 1;
	if (f->fail_at && k == f->fail_at) {
		atomic_store(&f->calls_at_failure, atomic_load(&f->calls));
		return -EIO;
	}
	pthread_mutex_lock(&f->lock);
	bool slow = tu_below(&f->delay, 4) == 0;
	pthread_mutex_unlock(&f->lock);
	if (slow)
		usleep(1000);
	if (file >= FILES || at % PG || len % PG || at > FSIZE || len > FSIZE - at) {
		atomic_store(&f->bad_args, true);
		return -ERANGE;
	}
	if (data)
		memcpy(f->file[file] + at, data, len);
	else
		memset(f->file[file] + at, 0, len);
	return 0;
}

static void fake_init(struct fake *f, uint64_t seed)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < FILES; i++) {
		f->file[i] = malloc(FSIZE);
		assert_non_null(f->file[i]);
		memset(f->file[i], 0xee, FSIZE);
	}
	pthread_mutex_init(&f->lock, NULL);
	f->delay.s = seed ^ 0x5eed;
}

static void fake_fini(struct fake *f)
{
	for (int i = 0; i < FILES; i++)
		free(f->file[i]);
	pthread_mutex_destroy(&f->lock);
}

/* A random write: mostly short, many across a region boundary, now and
 * then longer than a region (so that it is cut), a few of zeros; each page
 * stamped with the write's number, so that an older write landing last
 * shows. */
struct wr {
	size_t file;
	uint64_t at;
	size_t len;
	bool zeros;
};

static struct wr random_write(struct tu_rng *r, uint8_t *src, unsigned index)
{
	struct wr w = { .file = tu_below(r, FILES) };
	size_t pages;
	switch (tu_below(r, 10)) {
	case 0: /* longer than a region */
		pages = 1 + tu_below(r, REGION / PG * 3 / 2);
		w.at = tu_below(r, FSIZE / PG - pages + 1) * PG;
		break;
	case 1:
	case 2:
	case 3: /* across a region boundary, where two threads' regions meet */
		pages = 2 + tu_below(r, 63);
		w.at = (1 + tu_below(r, 2)) * REGION - (1 + tu_below(r, pages - 1)) * PG;
		break;
	default:
		pages = 1 + tu_below(r, 64);
		w.at = tu_below(r, FSIZE / PG - pages + 1) * PG;
	}
	w.len = pages * PG;
	w.zeros = tu_below(r, 8) == 0;
	for (size_t i = 0; !w.zeros && i < w.len; i += 8) {
		uint64_t stamp = (uint64_t)index << 32 | (i / PG);
		memcpy(src + i, &stamp, 8);
	}
	return w;
}

static void apply(uint8_t *const ref[FILES], const struct wr *w, const uint8_t *src)
{
	if (w->zeros)
		memset(ref[w->file] + w->at, 0, w->len);
	else
		memcpy(ref[w->file] + w->at, src, w->len);
}

static void last_write_wins(void **state)
{
	(void)state;
	uint64_t seed = tu_seed("last_write_wins");
	struct tu_rng r = { seed };
	struct fake f;
	fake_init(&f, seed);
	uint8_t *ref[FILES], *src = malloc(2 * REGION);
	assert_non_null(src);
	for (int i = 0; i < FILES; i++) {
		ref[i] = malloc(FSIZE);
		assert_non_null(ref[i]);
		memset(ref[i], 0xee, FSIZE);
	}
	struct writer w;
	assert_int_equal(writer_start(&w, 4, fake_write, &f), 0);
	for (unsigned i = 0; i < 4000; i++) {
		struct wr x = random_write(&r, src, i);
		assert_int_equal(writer_write(&w, x.file, x.at, x.zeros ? NULL : src, x.len), 0);
		apply(ref, &x, src); /* the caller's bytes are free again: reuse src */
	}
	assert_int_equal(writer_stop(&w), 0);
	assert_int_equal(writer_stop(&w), 0); /* again: the same answer */
	assert_false(atomic_load(&f.bad_args));
	for (int i = 0; i < FILES; i++)
		assert_memory_equal(f.file[i], ref[i], FSIZE);
	for (int i = 0; i < FILES; i++)
		free(ref[i]);
	free(src);
	fake_fini(&f);
}

static void failure_stops_writing(void **state)
{
	(void)state;
	uint64_t seed = tu_seed("failure_stops_writing");
	struct tu_rng r = { seed };
	struct fake f;
	fake_init(&f, seed);
	uint8_t *src = malloc(2 * REGION);
	assert_non_null(src);
	enum { THREADS = 4, WRITES = 400 };
	f.fail_at = 1 + (unsigned)tu_below(&r, 50);
	struct writer w;
	assert_int_equal(writer_start(&w, THREADS, fake_write, &f), 0);
	int first = 0;
	for (unsigned i = 0; i < WRITES; i++) {
		struct wr x = random_write(&r, src, i);
		int rc = writer_write(&w, x.file, x.at, x.zeros ? NULL : src, x.len);
		assert_true(rc == 0 || rc == -EIO);
		if (rc && !first)
			first = rc;
		if (first)
			assert_int_equal(rc, -EIO); /* once failed, always */
	}
	assert_int_equal(writer_stop(&w), -EIO);
	assert_int_equal(writer_stop(&w), -EIO);
	assert_int_equal(writer_write(&w, 0, 0, src, PG), -EIO); /* and after the stop */
	/* Nothing queued was written once the failure was known: besides the
	 * writes begun before it, at most one per other thread (begun between
	 * the failed write's return and the writer's noting it). */
	assert_true(atomic_load(&f.calls) <= atomic_load(&f.calls_at_failure) + THREADS - 1);
	assert_true(atomic_load(&f.calls) < WRITES);
	free(src);
	fake_fini(&f);
}

static void without_threads(void **state)
{
	(void)state;
	struct fake f;
	fake_init(&f, 1);
	uint8_t page[PG];
	memset(page, 0x42, sizeof(page));
	/* No thread could start (none asked for): the caller writes. */
	struct writer w;
	assert_int_equal(writer_start(&w, 0, fake_write, &f), ENOMEM);
	assert_int_equal(writer_write(&w, 1, 2 * PG, page, PG), 0);
	assert_int_equal(atomic_load(&f.calls), 1);
	assert_memory_equal(f.file[1] + 2 * PG, page, PG);
	assert_int_equal(writer_write(&w, 1, 2 * PG, NULL, PG), 0);
	assert_int_equal(f.file[1][2 * PG], 0);
	assert_int_equal(writer_stop(&w), 0);
	fake_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(last_write_wins),
		cmocka_unit_test(failure_stops_writing),
		cmocka_unit_test(without_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
