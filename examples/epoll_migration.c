/* SPDX-License-Identifier: MIT */
/*
 * A live migration driven from one epoll loop, both ends in ONE thread: the
 * sans-I/O sender and receiver over a non-blocking socket pair. The loop
 * owns the I/O; the library only turns bytes into bytes and events. The
 * source sends a first pass, three pre-copy rounds while the guest keeps
 * writing (and converts a page), the stopped vCPU's MSRs and a device's
 * state as VMM records, and END; the target applies everything, checks
 * the VMM state, commits, and the source hears the COMMIT. Both engines use
 * two workers: their eventfds are in the same epoll set, so the loop
 * sleeps while the workers work and wakes when they are done.
 *
 * Build: cc epoll_migration.c $(pkg-config --cflags --libs sevmig)
 * Run:   ./epoll_migration      (exit status 0 when the copies match)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sevmig/sevmig.h>

#define PAGES  1024 /* one region of 4 MiB at gpa 0 */
#define ROUNDS 3

static const uint8_t psk[SEVMIG_KEY_SIZE] = "epoll example: a shared 32-byte";

/* The VMM state this example carries: vCPU 0's MSRs (SVMG type MSRS). */
struct msrs {
	uint32_t count, vcpu;
	struct {
		uint32_t index, reserved;
		uint64_t value;
	} e[2];
};
static const struct msrs src_msrs = { 2, 0, { { 0xc0000080, 0, 0xd01 }, { 0x4b564d08, 0, 1 } } };
static const char device[] = "virtio-net0: rx 12 tx 7";

/* One direction of a socket: bytes the engine produced, waiting for write(). */
struct outq {
	uint8_t buf[65536];
	size_t len, pos;
};

/* Refill from the engine when empty, then write what the socket takes. */
static int flush(int fd, struct outq *q, size_t (*take)(void *, void *, size_t), void *h)
{
	for (;;) {
		if (q->pos == q->len) {
			q->pos = 0;
			q->len = take(h, q->buf, sizeof(q->buf));
			if (!q->len)
				return 0;
		}
		ssize_t n = write(fd, q->buf + q->pos, q->len - q->pos);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		q->pos += (size_t)n;
	}
}

static size_t take_sender(void *h, void *buf, size_t cap)
{
	return sevmig_sender_output(h, buf, cap);
}

static size_t take_receiver(void *h, void *buf, size_t cap)
{
	return sevmig_receiver_output(h, buf, cap);
}

struct source {
	struct sevmig_sender *s;
	struct sevmig_pstate *ps;
	struct sevmig_mem_region mem;
	uint64_t dirty[PAGES / 64];
	int step;     /* 0 wait for HELLO, 1..ROUNDS+1 passes, then VMM, END, commit */
	bool in_pass; /* sevmig_sender_produce() has more */
	bool committed;
};

/* Bytes from the source the target could not take yet (its workers were
 * catching up), pushed again when its eventfd says they are done. */
static uint8_t pend[1 << 16];
static size_t pend_len;

/* The guest runs a little: it writes some pages (the dirty log sees them)
 * and converts one page to shared. */
static int guest_runs(struct source *src, int round)
{
	memset(src->dirty, 0, sizeof(src->dirty));
	for (int i = 0; i < 40; i++) {
		unsigned page = (unsigned)(round * 97 + i * 13) % PAGES;
		memset((uint8_t *)src->mem.host + (size_t)page * SEVMIG_PAGE_SIZE + i, round, 64);
		src->dirty[page / 64] |= 1ull << (page % 64);
	}
	return sevmig_pstate_set_range(src->ps, 900 + (uint64_t)round, 1, SEVMIG_PAGE_SHARED);
}

/* The source's next call, when the previous one is done. */
static int source_step(struct source *src, struct sevmig_error *err)
{
	int rc = 0;
	if (src->in_pass) {
		rc = sevmig_sender_produce(src->s, err);
		src->in_pass = rc == 1;
		return rc < 0 ? rc : 0;
	}
	const uint64_t *dirty[1] = { src->dirty };
	if (src->step == 1) {
		rc = sevmig_sender_send_all(src->s, src->ps, err);
	} else if (src->step <= ROUNDS + 1) {
		rc = guest_runs(src, src->step);
		if (rc == 0)
			rc = sevmig_sender_send_dirty(src->s, src->ps, dirty, err);
	} else if (src->step == ROUNDS + 2) {
		/* The vCPU is stopped: its state after the last round's pages. */
		rc = sevmig_sender_send_vmm(src->s, SEVMIG_VMM_VENDOR_SEVMIG, SEVMIG_VMM_TYPE_MSRS,
					    &src_msrs, sizeof(src_msrs), err);
		if (rc == 0)
			rc = sevmig_sender_send_vmm(src->s, SEVMIG_VMM_VENDOR_SEVMIG,
						    SEVMIG_VMM_TYPE_DEVICE_STATE, device,
						    sizeof(device), err);
	} else if (src->step == ROUNDS + 3) {
		rc = sevmig_sender_finish(src->s, err); /* END queued; COMMIT comes back */
	} else {
		return 0;
	}
	if (rc < 0)
		return rc;
	src->in_pass = src->step <= ROUNDS + 1; /* a pass may need more produce() */
	src->step++;
	return 0;
}

struct target {
	struct sevmig_receiver *r;
	int rounds, vmm_ok;
	bool ended;
};

/* Bytes from the source: events until they are all taken, or until the
 * receiver's workers must catch up (the rest waits in pend). */
static int target_input(struct target *t, const uint8_t *buf, size_t len, struct sevmig_error *err)
{
	while (len && !t->ended) {
		struct sevmig_recv_event ev = { .sz = sizeof(ev) };
		size_t used = 0;
		int rc = sevmig_receiver_push(t->r, buf, len, &used, &ev, err);
		if (rc < 0)
			return rc;
		buf += used;
		len -= used;
		if (rc == 0) {
			memmove(pend, buf, len); /* buf may be pend itself */
			pend_len = len;
			return 0;
		}
		if (ev.type == SEVMIG_RECV_ROUND)
			t->rounds++;
		if (ev.type == SEVMIG_RECV_VMM) {
			/* The VMM's own state, verified: check it, or refuse. */
			bool ok = ev.vmm.vendor == SEVMIG_VMM_VENDOR_SEVMIG &&
				  ((ev.vmm.type == SEVMIG_VMM_TYPE_MSRS &&
				    ev.vmm.len == sizeof(src_msrs) &&
				    !memcmp(ev.vmm.data, &src_msrs, sizeof(src_msrs))) ||
				   (ev.vmm.type == SEVMIG_VMM_TYPE_DEVICE_STATE &&
				    ev.vmm.len == sizeof(device) &&
				    !memcmp(ev.vmm.data, device, sizeof(device))));
			if (!ok)
				return sevmig_receiver_refuse(t->r, -EPROTO,
							      "unexpected VMM state");
			t->vmm_ok++;
		}
		if (ev.type == SEVMIG_RECV_END) {
			/* Everything verified: make the guest durable here, then: */
			t->ended = true;
			rc = sevmig_receiver_commit(t->r, err);
			if (rc < 0)
				return rc;
		}
	}
	pend_len = 0;
	return 0;
}

static int fail(const char *what, int rc, const struct sevmig_error *err)
{
	fprintf(stderr, "%s: %s: %s\n", what, sevmig_strerror(rc), err ? err->message : "");
	return 1;
}

int main(void)
{
	struct sevmig_error err;
	sevmig_error_clear(&err);
	struct source src = { .step = 0 };
	struct target tgt = { 0 };
	size_t size = (size_t)PAGES * SEVMIG_PAGE_SIZE;
	src.mem = (struct sevmig_mem_region){ 0, size, aligned_alloc(4096, size) };
	struct sevmig_mem_region tmem = { 0, size, aligned_alloc(4096, size) };
	if (!src.mem.host || !tmem.host)
		return fail("memory", -ENOMEM, NULL);
	for (size_t b = 0; b < size; b += 512)
		((uint8_t *)src.mem.host)[b] = (uint8_t)(b / 4096);
	memset(tmem.host, 0xee, size);
	int rc = sevmig_pstate_new(&src.ps, NULL);
	if (rc == 0)
		rc = sevmig_pstate_add_slot(src.ps, 0, PAGES);
	if (rc == 0)
		rc = sevmig_pstate_set_range(src.ps, 64, 128, SEVMIG_PAGE_SHARED);
	if (rc)
		return fail("page state", rc, NULL);

	struct sevmig_fw *sfw, *tfw;
	SEVMIG_OPTS(sevmig_fw_soft_opts, so, .launch = true, .policy = SEVMIG_POLICY_NOKS);
	if ((rc = sevmig_fw_soft_new(&so, &sfw, NULL)) ||
	    (rc = sevmig_fw_soft_new(NULL, &tfw, NULL)))
		return fail("software firmware", rc, NULL);
	uint8_t pdh[SEVMIG_CERT_SIZE], chain[SEVMIG_CERT_CHAIN_SIZE];
	uint32_t pdh_len = sizeof(pdh), chain_len = sizeof(chain);
	if ((rc = sevmig_fw_pdh_cert_export(tfw, pdh, &pdh_len, chain, &chain_len, NULL)))
		return fail("PDH_CERT_EXPORT", rc, NULL);

	/* No callbacks at all: both engines queue their output and take their
	 * input from this loop. */
	SEVMIG_OPTS(sevmig_sender_opts, sopt, .target_pdh = pdh, .target_pdh_len = pdh_len,
		    .key_source = SEVMIG_KEY_PSK, .key = psk, .back_buffered = true, .workers = 2);
	SEVMIG_OPTS(sevmig_receiver_opts, ropt, .key_source = SEVMIG_KEY_PSK, .key = psk,
		    .back_buffered = true, .workers = 2);
	if ((rc = sevmig_sender_new(sfw, &src.mem, 1, NULL, NULL, &sopt, &src.s, &err)))
		return fail("sender", rc, &err);
	if ((rc = sevmig_receiver_new(tfw, &tmem, 1, NULL, NULL, &ropt, &tgt.r, &err)))
		return fail("receiver", rc, &err);

	int fds[2]; /* [0] the source's end, [1] the target's */
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds))
		return fail("socketpair", -errno, NULL);
	/* The sockets, and the engines' eventfds (their workers finished
	 * something: the engine may go on). */
	int wfd[2] = { sevmig_sender_fd(src.s), sevmig_receiver_fd(tgt.r) };
	if (wfd[0] < 0 || wfd[1] < 0)
		return fail("eventfd", wfd[0] < 0 ? wfd[0] : wfd[1], NULL);
	for (int i = 0; i < 4; i++) {
		int fd = i < 2 ? fds[i] : wfd[i - 2];
		struct epoll_event e = { .events = i < 2 ? EPOLLIN | EPOLLOUT | EPOLLET : EPOLLIN,
					 .data.fd = fd };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e))
			return fail("epoll_ctl", -errno, NULL);
	}
	struct outq sq = { .len = 0 }, tq = { .len = 0 };
	static uint8_t buf[1 << 16];
	int loops = 0;
	while (!src.committed) {
		/* The engines' work for this turn: the source's next call (once
		 * the target's HELLO is in)... */
		if (src.step > 0 && (rc = source_step(&src, &err)))
			return fail("source", rc, &err);
		/* ...and both queues out to the sockets. */
		if ((rc = flush(fds[0], &sq, take_sender, src.s)) ||
		    (rc = flush(fds[1], &tq, take_receiver, tgt.r)))
			return fail("write", rc, NULL);
		/* Work to do now, or only once something arrives: a pass whose
		 * output is all out waits for its workers (their eventfd). */
		bool src_waits = src.in_pass && !sevmig_sender_output_pending(src.s);
		bool busy = (src.in_pass && !src_waits) ||
			    (src.step > ROUNDS + 1 && src.step <= ROUNDS + 3) || sq.pos < sq.len ||
			    tq.pos < tq.len;
		struct epoll_event evs[4];
		int n = epoll_wait(ep, evs, 4, busy ? 0 : 5000);
		if (n < 0 && errno != EINTR)
			return fail("epoll_wait", -errno, NULL);
		if (n == 0 && !busy)
			return fail("stalled", -ETIMEDOUT, NULL);
		for (int i = 0; i < n; i++) {
			if (!(evs[i].events & EPOLLIN))
				continue;
			int fd = evs[i].data.fd;
			uint64_t ticks;
			if (fd == wfd[0] || fd == wfd[1]) /* level-triggered: clear it */
				(void)!read(fd, &ticks, sizeof(ticks));
			if (fd == wfd[0]) { /* the source's workers: go on */
				if (src.in_pass && (rc = source_step(&src, &err)))
					return fail("source", rc, &err);
				continue;
			}
			if (fd == wfd[1] && pend_len &&
			    (rc = target_input(&tgt, pend, pend_len, &err)) < 0)
				return fail("target", rc, &err);
			if (fd == fds[0]) {
				ssize_t k;
				while ((k = read(fd, buf, sizeof(buf))) > 0) {
					rc = sevmig_sender_push_back(src.s, buf, (size_t)k, &err);
					if (rc < 0)
						return fail("source back-channel", rc, &err);
					src.committed = rc == 1;
					if (src.step == 0)
						src.step = 1; /* HELLO arrived: start */
				}
				continue;
			}
			/* The target's socket, or its workers done: read on (the
			 * socket is edge-triggered: until it is empty), but not
			 * while bytes wait for the workers. */
			ssize_t k;
			while (!pend_len && (k = read(fds[1], buf, sizeof(buf))) > 0)
				if ((rc = target_input(&tgt, buf, (size_t)k, &err)) < 0)
					return fail("target", rc, &err);
		}
		loops++;
	}
	struct sevmig_stream_counts c = { .sz = sizeof(c) };
	sevmig_sender_counts(src.s, &c);
	bool same = !memcmp(src.mem.host, tmem.host, size) &&
		    sevmig_pstate_equal(src.ps, sevmig_receiver_pstate(tgt.r)) &&
		    tgt.rounds == ROUNDS + 1 && tgt.vmm_ok == 2 &&
		    sevmig_sender_acknowledged(src.s);
	printf("one thread, %d loop turns: %llu bytes in %llu records, %d rounds, %d VMM objects; "
	       "target %s; %s\n",
	       loops, (unsigned long long)c.bytes, (unsigned long long)c.records, tgt.rounds,
	       tgt.vmm_ok, same ? "equals the source" : "DIFFERS",
	       sevmig_sender_acknowledged(src.s) ? "committed" : "NOT committed");
	sevmig_sender_free(src.s);
	sevmig_receiver_free(tgt.r);
	sevmig_fw_free(sfw);
	sevmig_fw_free(tfw);
	sevmig_pstate_free(src.ps);
	free(src.mem.host);
	free(tmem.host);
	close(fds[0]);
	close(fds[1]);
	close(ep);
	return same ? 0 : 1;
}
