/* SPDX-License-Identifier: MIT */
/*
 * A migration stream with pre-copy rounds, as a VMM's sevmig-recv gets one
 * (sevmig-send sends a single pass): for the tools' tests of what a target
 * does with pages that arrive more than once.
 *
 *   rounds_stream SEED PAGES ROUNDS TARGET_CERT PSK STREAM FINAL
 *
 * One memslot of PAGES pages at gpa 0: a seeded mix of zero, text and
 * random pages, some of them, in runs, shared. The first pass, then ROUNDS
 * rounds in which the guest rewrites a tenth of its pages (some to zeros,
 * some zero pages to data), flips some pages between private and shared,
 * and sends the dirty ones again; then END. STREAM gets the stream (keyed
 * with the 32-byte PSK file, for the target whose PDH certificate is
 * TARGET_CERT), FINAL the guest memory as the target must end up with it.
 * Exit 0, or 2 with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sevmig/sevmig.h>

#define PAGE SEVMIG_PAGE_SIZE

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int die(const char *what, int rc)
{
	fprintf(stderr, "rounds_stream: %s: %s\n", what, sevmig_strerror(rc));
	exit(2);
}

static void *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	static uint8_t buf[1 << 16];
	if (!f)
		die(path, -errno);
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return buf;
}

/* Page p: zero, text-like (compressible) or random. */
static void fill(uint8_t *p)
{
	uint64_t k = next() % 3;
	if (k == 0) {
		memset(p, 0, PAGE);
		return;
	}
	for (size_t i = 0; i < PAGE; i++)
		p[i] = k == 1 ? (uint8_t)("abcdefgh "[next() % 9]) : (uint8_t)next();
}

static int write_all(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = sevmig_write_fd(SEVMIG_FD_ARG(fd), buf, len);
	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: rounds_stream SEED PAGES ROUNDS TARGET_CERT PSK STREAM "
				"FINAL\n");
		return 2;
	}
	rng = strtoull(argv[1], NULL, 0) | 1;
	uint64_t pages = strtoull(argv[2], NULL, 0);
	int rounds = atoi(argv[3]);
	size_t pdh_len, psk_len;
	uint8_t pdh[SEVMIG_CERT_SIZE], psk[SEVMIG_KEY_SIZE];
	memcpy(pdh, read_file(argv[4], &pdh_len), sizeof(pdh));
	memcpy(psk, read_file(argv[5], &psk_len), sizeof(psk));
	if (pdh_len != SEVMIG_CERT_SIZE || psk_len != SEVMIG_KEY_SIZE || pages < 64)
		die("arguments", -EINVAL);

	struct sevmig_mem_region mem = { .gpa = 0, .size = pages * PAGE };
	uint8_t *guest = aligned_alloc(PAGE, pages * PAGE);
	size_t words = (pages + 63) / 64;
	uint64_t *dirty = calloc(words, sizeof(*dirty));
	if (!guest || !dirty)
		die("memory", -ENOMEM);
	mem.host = guest;
	for (uint64_t p = 0; p < pages; p++)
		fill(guest + p * PAGE);
	struct sevmig_pstate *ps;
	int rc = sevmig_pstate_new(&ps, NULL);
	if (!rc)
		rc = sevmig_pstate_add_slot(ps, 0, pages);
	for (uint64_t p = 0; !rc && p + 16 <= pages; p += 16) /* runs of shared pages */
		if (next() % 2)
			rc = sevmig_pstate_set_range(ps, p, 1 + next() % 8, SEVMIG_PAGE_SHARED);
	if (rc)
		die("page state", rc);

	struct sevmig_fw *fw;
	SEVMIG_OPTS(sevmig_fw_soft_opts, fo, .launch = true, .policy = SEVMIG_POLICY_NODBG);
	if ((rc = sevmig_fw_soft_new(&fo, &fw, NULL)))
		die("software firmware", rc);
	int out = open(argv[6], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		die(argv[6], -errno);
	SEVMIG_OPTS(sevmig_sender_opts, so, .target_pdh = pdh, .target_pdh_len = SEVMIG_CERT_SIZE,
		    .zstd_level = 1, .workers = 2, .key_source = SEVMIG_KEY_PSK, .key = psk);
	struct sevmig_sender *s;
	struct sevmig_error err;
	if ((rc = sevmig_sender_new(fw, &mem, 1, sevmig_write_fd, SEVMIG_FD_ARG(out), &so, &s,
				    &err)))
		goto fail;
	if ((rc = sevmig_sender_send_all(s, ps, &err)))
		goto fail;
	for (int r = 0; r < rounds; r++) {
		memset(dirty, 0, words * sizeof(*dirty));
		for (uint64_t i = 0; i < pages / 10; i++) {
			uint64_t p = next() % pages;
			fill(guest + p * PAGE);
			dirty[p / 64] |= 1ull << (p % 64);
		}
		for (int i = 0; i < 4; i++) {
			uint64_t p = next() % pages;
			enum sevmig_page_state st =
			    next() % 2 ? SEVMIG_PAGE_SHARED : SEVMIG_PAGE_PRIVATE;
			if ((rc = sevmig_pstate_set_range(ps, p, 1, st)))
				die("page state", rc);
		}
		const uint64_t *d[1] = { dirty };
		if ((rc = sevmig_sender_send_dirty(s, ps, d, &err)))
			goto fail;
	}
	if ((rc = sevmig_sender_finish(s, &err)))
		goto fail;
	sevmig_sender_free(s);
	if (close(out))
		die(argv[6], -errno);
	if ((rc = write_all(argv[7], guest, pages * PAGE)))
		die(argv[7], rc);
	sevmig_fw_free(fw);
	sevmig_pstate_free(ps);
	free(guest);
	free(dirty);
	return 0;
fail:
	fprintf(stderr, "rounds_stream: %s\n", err.message);
	return 2;
}
