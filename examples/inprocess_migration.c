/* SPDX-License-Identifier: MIT */
/*
 * A whole SEV migration in one process, with the public API only: a source
 * and a target platform of the software firmware model, a guest of two
 * memslots, a first pass, one pre-copy round after the guest wrote pages and
 * shared a new buffer, then END; the stream goes through a memory buffer.
 * The target's memory and page state are then compared with the source's.
 *
 * This is the skeleton a VMM follows, with the kvm backend and its own memory
 * and dirty log in place of the soft model and malloc'd regions.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sevmig/sevmig.h>

#define PAGE SEVMIG_PAGE_SIZE

/* The "wire": a growing buffer written by the sender, read by the receiver. */
struct wire {
	uint8_t *data;
	size_t len, cap, pos;
};

static int wire_write(void *arg, const void *buf, size_t len)
{
	struct wire *w = arg;
	if (w->cap - w->len < len) {
		size_t cap = w->cap ? w->cap : 1 << 20;
		while (cap - w->len < len)
			cap *= 2;
		uint8_t *d = realloc(w->data, cap);
		if (!d)
			return -ENOMEM;
		w->data = d;
		w->cap = cap;
	}
	memcpy(w->data + w->len, buf, len);
	w->len += len;
	return 0;
}

static ptrdiff_t wire_read(void *arg, void *buf, size_t len)
{
	struct wire *w = arg;
	size_t n = w->len - w->pos < len ? w->len - w->pos : len;
	memcpy(buf, w->data + w->pos, n);
	w->pos += n;
	return (ptrdiff_t)n;
}

static int check(int rc, const char *what, const struct sevmig_error *err)
{
	if (rc < 0) {
		fprintf(stderr, "inprocess_migration: %s: %s\n", what,
			err && err->message[0] ? err->message : sevmig_strerror(rc));
		exit(1);
	}
	return rc;
}

int main(void)
{
	struct sevmig_error err;
	sevmig_error_clear(&err);

	/* The guest: 4 MiB at gpa 0 and 2 MiB at 4 GiB, an MMIO hole between. */
	struct sevmig_mem_region src[2] = {
		{ .gpa = 0, .size = 4u << 20 },
		{ .gpa = UINT64_C(4) << 30, .size = 2u << 20 },
	};
	struct sevmig_mem_region dst[2] = { src[0], src[1] };
	for (int i = 0; i < 2; i++) {
		/* Guest memory is page-aligned in the host too, as a VMM's is. */
		src[i].host = aligned_alloc(PAGE, src[i].size);
		dst[i].host = aligned_alloc(PAGE, dst[i].size);
		if (!src[i].host || !dst[i].host)
			return 1;
		memset(dst[i].host, 0, dst[i].size);
		/* Some zero pages, the rest patterned. */
		uint8_t *p = src[i].host;
		for (uint64_t off = 0; off < src[i].size; off++)
			p[off] = (off / PAGE) % 4 == 0 ? 0 : (uint8_t)(off * 7 + (off >> 12) + i);
	}

	/* Page state: a 256 KiB bounce buffer shared, the rest private. */
	struct sevmig_pstate *ps;
	check(sevmig_pstate_new(&ps), "pstate", NULL);
	for (int i = 0; i < 2; i++)
		check(sevmig_pstate_add_slot(ps, src[i].gpa / PAGE, src[i].size / PAGE), "slot",
		      NULL);
	check(sevmig_pstate_apply_hypercall(ps, 0x100000, 64, false), "hypercall", NULL);

	/* Two platforms: the source runs the guest; the target has only a key,
	 * whose PDH certificate the source needs. */
	struct sevmig_fw *sfw, *tfw;
	SEVMIG_OPTS(sevmig_fw_soft_opts, so, .launch = true, .policy = SEVMIG_POLICY_NODBG);
	check(sevmig_fw_soft_new(&so, &sfw), "source platform", NULL);
	check(sevmig_fw_soft_new(NULL, &tfw), "target platform", NULL);
	uint8_t cert[SEVMIG_CERT_SIZE], chain[SEVMIG_CERT_CHAIN_SIZE];
	uint32_t cert_len = sizeof(cert), chain_len = sizeof(chain), st;
	check(sevmig_fw_pdh_cert_export(tfw, cert, &cert_len, chain, &chain_len, &st),
	      "PDH_CERT_EXPORT", NULL);

	/* Send: the first pass, one pre-copy round, END. */
	struct wire w = { 0 };
	SEVMIG_OPTS(sevmig_sender_opts, sopt, .target_pdh = cert, .target_pdh_len = cert_len,
		    .zstd_level = 3, .workers = 2);
	struct sevmig_sender *s;
	check(sevmig_sender_new(sfw, src, 2, wire_write, &w, &sopt, &s, &err), "sender", &err);
	check(sevmig_sender_send_all(s, ps, &err), "first pass", &err);

	/* Meanwhile the guest writes two pages and shares one more page. */
	memset((uint8_t *)src[0].host + 5 * PAGE, 0xab, PAGE);
	memset((uint8_t *)src[1].host + 3 * PAGE, 0xcd, PAGE);
	check(sevmig_pstate_apply_hypercall(ps, 0x200000, 1, false), "hypercall", NULL);
	/* The dirty log, as KVM_GET_DIRTY_LOG gives it: one bit per page. */
	uint64_t dirty0[(4u << 20) / PAGE / 64] = { 0 }, dirty1[(2u << 20) / PAGE / 64] = { 0 };
	dirty0[0] |= UINT64_C(1) << 5;
	dirty1[0] |= UINT64_C(1) << 3;
	const uint64_t *dirty[2] = { dirty0, dirty1 };
	check(sevmig_sender_send_dirty(s, ps, dirty, &err), "pre-copy round", &err);
	check(sevmig_sender_finish(s, &err), "finish", &err);
	struct sevmig_stream_counts sc;
	sevmig_sender_counts(s, &sc);
	sevmig_sender_free(s);

	/* Receive into the target's memory. */
	SEVMIG_OPTS(sevmig_receiver_opts, ropt, .workers = 2);
	struct sevmig_receiver *r;
	check(sevmig_receiver_new(tfw, dst, 2, wire_read, &w, &ropt, &r, &err), "receiver", &err);
	check(sevmig_receiver_run(r, &err), "receive", &err);

	bool same = sevmig_pstate_equal(ps, sevmig_receiver_pstate(r));
	for (int i = 0; i < 2; i++)
		same = same && !memcmp(src[i].host, dst[i].host, src[i].size);
	printf("%zu stream bytes: %" PRIu64 " encrypted, %" PRIu64 " plain, %" PRIu64
	       " zero pages in %" PRIu64 " rounds; target %s the source\n",
	       w.len, sc.enc_pages, sc.plain_pages, sc.zero_pages, sc.rounds,
	       same ? "equals" : "DIFFERS FROM");

	sevmig_receiver_free(r);
	sevmig_fw_free(sfw);
	sevmig_fw_free(tfw);
	sevmig_pstate_free(ps);
	for (int i = 0; i < 2; i++) {
		free(src[i].host);
		free(dst[i].host);
	}
	free(w.data);
	return same ? 0 : 1;
}
