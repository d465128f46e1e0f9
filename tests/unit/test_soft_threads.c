/* SPDX-License-Identifier: MIT */
/*
 * The UPDATE_DATA commands from several threads at once on one handle, as
 * the stream engine's workers call them: every page arrives intact, with
 * as many threads as the handle allows and with more (which then wait for
 * a free packet context).
 */
#include "test_soft_util.h"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES 512u

struct job {
	struct pair *p;
	uint8_t *src, *dst;
	uint8_t (*hdr)[SEVMIG_PACKET_HDR_SIZE];
	uint8_t *trans;
	unsigned first, step;
	int failures;
};

static void *send_pages(void *arg)
{
	struct job *j = arg;
	for (unsigned i = j->first; i < PAGES; i += j->step) {
		struct sevmig_fw_send_update u =
		    send_args(j->src + (size_t)i * SEVMIG_PAGE_SIZE, SEVMIG_PAGE_SIZE, j->hdr[i],
			      j->trans + (size_t)i * SEVMIG_PAGE_SIZE, SEVMIG_PAGE_SIZE);
		uint32_t st;
		j->failures += sevmig_fw_send_update_data(j->p->src, &u, &st) != 0;
	}
	return NULL;
}

static void *receive_pages(void *arg)
{
	struct job *j = arg;
	for (unsigned i = j->first; i < PAGES; i += j->step) {
		struct sevmig_fw_receive_update r =
		    recv_args(j->dst + (size_t)i * SEVMIG_PAGE_SIZE, SEVMIG_PAGE_SIZE, j->hdr[i],
			      j->trans + (size_t)i * SEVMIG_PAGE_SIZE);
		uint32_t st;
		j->failures += sevmig_fw_receive_update_data(j->p->tgt, &r, &st) != 0;
	}
	return NULL;
}

static void run(unsigned slots, unsigned nthreads, struct tu_rng *r)
{
	struct pair *p = pair_new(0, slots);
	assert_int_equal(sevmig_fw_max_threads(p->src), slots);
	pair_start(p);
	uint8_t *src = page_alloc(PAGES), *dst = page_alloc(PAGES), *trans = page_alloc(PAGES);
	uint8_t(*hdr)[SEVMIG_PACKET_HDR_SIZE] = calloc(PAGES, SEVMIG_PACKET_HDR_SIZE);
	assert_non_null(hdr);
	tu_fill(r, src, (size_t)PAGES * SEVMIG_PAGE_SIZE);
	memset(dst, 0, (size_t)PAGES * SEVMIG_PAGE_SIZE);
	struct job jobs[16];
	pthread_t t[16];
	assert_true(nthreads <= 16);
	for (int phase = 0; phase < 2; phase++) {
		for (unsigned i = 0; i < nthreads; i++) {
			jobs[i] = (struct job){ .p = p,
						.src = src,
						.dst = dst,
						.hdr = hdr,
						.trans = trans,
						.first = i,
						.step = nthreads };
			assert_int_equal(pthread_create(&t[i], NULL,
							phase ? receive_pages : send_pages,
							&jobs[i]),
					 0);
		}
		for (unsigned i = 0; i < nthreads; i++) {
			assert_int_equal(pthread_join(t[i], NULL), 0);
			assert_int_equal(jobs[i].failures, 0);
		}
	}
	assert_memory_equal(src, dst, (size_t)PAGES * SEVMIG_PAGE_SIZE);
	/* Every packet had its own IV. */
	for (unsigned i = 1; i < PAGES; i++)
		assert_memory_not_equal(hdr[i] + 4, hdr[i - 1] + 4, 16);
	uint32_t st;
	assert_int_equal(sevmig_fw_send_finish(p->src, &st), 0);
	assert_int_equal(sevmig_fw_receive_finish(p->tgt, &st), 0);
	free(src);
	free(dst);
	free(trans);
	free(hdr);
	pair_free(p);
}

static void concurrent_update_data(void **state)
{
	(void)state;
	struct tu_rng r = { tu_seed("concurrent_update_data") };
	run(4, 4, &r);
	run(2, 8, &r); /* more threads than packet contexts */
	run(1, 3, &r);
}

/* IVs are drawn ahead per packet context; a forked child holding a copy
 * of the handle must not reuse the parent's (same TEK, same IV: the same
 * keystream). */
static void fork_child_draws_its_own_ivs(void **state)
{
	(void)state;
	struct pair *p = pair_new(0, 1);
	pair_start(p);
	uint8_t *page = page_alloc(1), trans[SEVMIG_PAGE_SIZE], hdr[SEVMIG_PACKET_HDR_SIZE],
		child_hdr[SEVMIG_PACKET_HDR_SIZE];
	memset(page, 0x11, SEVMIG_PAGE_SIZE);
	struct sevmig_fw_send_update u =
	    send_args(page, SEVMIG_PAGE_SIZE, hdr, trans, sizeof(trans));
	uint32_t st;
	assert_int_equal(sevmig_fw_send_update_data(p->src, &u, &st), 0); /* fills the cache */
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		int ok = sevmig_fw_send_update_data(p->src, &u, &st) == 0 &&
			 write(fds[1], hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr);
		_exit(ok ? 0 : 1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], child_hdr, sizeof(child_hdr)), (ssize_t)sizeof(child_hdr));
	close(fds[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(sevmig_fw_send_update_data(p->src, &u, &st), 0);
	assert_memory_not_equal(hdr + 4, child_hdr + 4, 16);
	free(page);
	pair_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(concurrent_update_data),
		cmocka_unit_test(fork_child_draws_its_own_ivs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
