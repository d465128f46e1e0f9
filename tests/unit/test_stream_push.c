/* SPDX-License-Identifier: MIT */
/*
 * The sans-I/O receiver (sevmig_receiver_push): the stream pushed in random
 * pieces, down to one byte at a time, gives the events in stream order and
 * the same target as the blocking receiver; with the back-channel queued, a
 * sender and a receiver run in ONE thread with no I/O at all (the sender's
 * write pushes, its back-channel reads the receiver's queue). Damaged
 * streams get the blocking receiver's verdict, word for word. A refusal
 * between rounds reaches the sender as a NAK. Nothing past END is taken.
 */
#include "testutil.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_stream_util.h"

#define QEMU SEVMIG_VMM_VENDOR('Q', 'E', 'M', 'U')

static int vmm_any(void *arg, const struct sevmig_vmm_object *obj)
{
	(void)arg;
	(void)obj;
	return 0;
}

/* The events a push receiver gave, in order. */
struct trace {
	uint32_t type[256];
	uint64_t round[256];
	size_t n;
	size_t vmm_bytes;
};

/* A sans-I/O receiver into t, with a trace of its events. */
struct pusher {
	struct sevmig_fw *fw;
	struct sevmig_receiver *r;
	struct trace tr;
	struct tu_rng rng;
	size_t max_piece; /* pieces of 1..max_piece bytes */
	bool commit_at_end;
	int refuse_after_round; /* refuse at this ROUND event (-1: never) */
	int rc;			/* the first failure */
	unsigned fd_waits;	/* times it waited for the workers' eventfd */
	struct sevmig_error err;
	bool ended;
};

static void pusher_new(struct pusher *p, const struct ttarget *tt, struct tguest *t, bool back,
		       unsigned workers, uint64_t seed)
{
	memset(p, 0, sizeof(*p));
	p->rng.s = seed;
	p->refuse_after_round = -1;
	p->commit_at_end = true;
	p->fw = tt_new(tt, 1);
	SEVMIG_OPTS(sevmig_receiver_opts, o, TS_KEY, .vmsa_dest = ts_vmsa_scratch,
		    .workers = workers, .back_buffered = back);
	assert_int_equal(sevmig_receiver_new(p->fw, t->reg, t->n, NULL, NULL, &o, &p->r, &p->err),
			 0);
}

static void pusher_free(struct pusher *p)
{
	sevmig_receiver_free(p->r);
	sevmig_fw_free(p->fw);
}

static void on_event(struct pusher *p, const struct sevmig_recv_event *ev)
{
	assert_true(p->tr.n < 256);
	p->tr.type[p->tr.n] = ev->type;
	p->tr.round[p->tr.n++] = ev->round;
	if (ev->type == SEVMIG_RECV_VMM)
		p->tr.vmm_bytes += ev->vmm.len;
	if (ev->type == SEVMIG_RECV_ROUND && (int)ev->round == p->refuse_after_round) {
		assert_int_equal(sevmig_receiver_refuse(p->r, -EPERM, "the operator said no"),
				 -EPERM);
		p->rc = -EPERM;
	}
	if (ev->type == SEVMIG_RECV_END) {
		p->ended = true;
		if (p->commit_at_end)
			assert_int_equal(sevmig_receiver_commit(p->r, &p->err), 0);
	}
}

/* Push buf (NULL: the end of input) in random pieces; how much was taken. */
static size_t push_all(struct pusher *p, const uint8_t *buf, size_t len)
{
	size_t pos = 0;
	for (;;) {
		if (p->rc)
			return pos;
		size_t n = len - pos;
		if (buf && n > 1 && p->max_piece)
			n = 1 + tu_below(&p->rng, n < p->max_piece ? n : p->max_piece);
		struct sevmig_recv_event ev = { .sz = sizeof(ev) };
		size_t used = 0;
		int rc = sevmig_receiver_push(p->r, buf ? buf + pos : NULL, buf ? n : 0, &used, &ev,
					      &p->err);
		assert_true(used <= n);
		pos += used;
		if (rc < 0) {
			p->rc = rc;
			return pos;
		}
		if (rc == 1) {
			on_event(p, &ev);
			continue;
		}
		if (p->ended) /* done: what follows END is not taken */
			return pos;
		if (buf && used < n) {
			/* The workers are catching up: wait for them. */
			struct pollfd pf = { .fd = sevmig_receiver_fd(p->r), .events = POLLIN };
			assert_true(pf.fd >= 0);
			assert_int_equal(poll(&pf, 1, 20000), 1);
			p->fd_waits++;
			continue;
		}
		assert_int_equal(used, n); /* 0: it took everything and wants more */
		if (!buf || pos == len)
			return pos;
	}
}

/* A keyed SEV-ES stream of g with 2 rounds and a VMM object after each
 * pass; written one-way unless `back`. */
struct source {
	struct sevmig_fw *fw;
	struct sevmig_sender *s;
};

static void send_guest(struct tu_rng *rng, struct tguest *g, struct sevmig_sender *s)
{
	struct sevmig_error err;
	uint8_t blob[5000];
	tu_fill(rng, blob, sizeof(blob));
	if (sevmig_sender_send_all(s, g->ps, &err))
		fail_msg("send_all: %s", err.message);
	assert_int_equal(sevmig_sender_send_vmm(s, QEMU, 1, blob, 100, &err), 0);
	uint64_t **dirty = tg_dirty_alloc(g);
	for (int round = 0; round < 2; round++) {
		tg_run(rng, g, dirty, true);
		if (sevmig_sender_send_dirty(s, g->ps, (const uint64_t *const *)dirty, &err))
			fail_msg("send_dirty: %s", err.message);
	}
	tg_dirty_free(g, dirty);
	for (uint32_t v = 0; v < 2; v++) {
		uint8_t vmsa[4096];
		tu_fill(rng, vmsa, sizeof(vmsa));
		assert_int_equal(sevmig_sender_send_vmsa(s, v, vmsa, &err), 0);
	}
	assert_int_equal(sevmig_sender_send_vmm(s, QEMU, 2, blob, sizeof(blob), &err), 0);
}

static void stream_of(struct tu_rng *rng, struct tguest *g, const struct ttarget *tt,
		      struct tsink *out)
{
	struct sevmig_fw *fw = soft_platform(true, SEVMIG_POLICY_ES, 1);
	SEVMIG_OPTS(sevmig_sender_opts, so, .key_source = SEVMIG_KEY_PSK, .key = ts_psk,
		    .target_pdh = tt->pdh, .target_pdh_len = SEVMIG_CERT_SIZE, .vcpus = 2);
	struct sevmig_sender *s;
	struct sevmig_error err;
	memset(out, 0, sizeof(*out));
	assert_int_equal(sevmig_sender_new(fw, g->reg, g->n, tsink_write, out, &so, &s, &err), 0);
	send_guest(rng, g, s);
	assert_int_equal(sevmig_sender_finish(s, &err), 0);
	sevmig_sender_free(s);
	sevmig_fw_free(fw);
}

/* The events of a stream with 3 passes and 2 VMM objects. */
static void check_trace(const struct trace *t)
{
	static const uint32_t want[] = { SEVMIG_RECV_SESSION, SEVMIG_RECV_PSTATE, SEVMIG_RECV_ROUND,
					 SEVMIG_RECV_VMM,     SEVMIG_RECV_ROUND,  SEVMIG_RECV_ROUND,
					 SEVMIG_RECV_VMM,     SEVMIG_RECV_END };
	static const uint64_t rounds[] = { 0, 0, 0, 1, 1, 2, 3, 0 };
	assert_int_equal(t->n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < t->n; i++) {
		if (t->type[i] != want[i] || t->round[i] != rounds[i])
			fail_msg("event %zu: type %u round %llu, want %u round %llu", i, t->type[i],
				 (unsigned long long)t->round[i], want[i],
				 (unsigned long long)rounds[i]);
	}
	assert_int_equal(t->vmm_bytes, 5100);
}

/* One-way: pieces of every size, byte by byte included; nothing past END
 * is taken. */
static void test_pieces(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("push_pieces") };
	struct ttarget tt;
	tt_init(&tt);
	static const size_t pieces[] = { 1, 7, 4096, 300000, 0 };
	for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
		struct tguest g;
		tg_new(&rng, &g, 1 + tu_below(&rng, 3), pieces[k] == 1 ? 8 : 60);
		struct tsink out;
		stream_of(&rng, &g, &tt, &out);
		size_t len = out.len;
		/* what follows END on the channel is the caller's */
		assert_int_equal(tsink_write(&out, "TRAILER", 7), 0);
		for (unsigned workers = 0; workers <= 2; workers += 2) {
			struct tguest t;
			tg_target(&g, &t, 0xee);
			struct pusher p;
			pusher_new(&p, &tt, &t, false, workers, tu_next(&rng));
			p.max_piece = pieces[k];
			size_t used = push_all(&p, out.data, out.len);
			if (p.rc)
				fail_msg("pieces of %zu: %s", pieces[k], p.err.message);
			assert_int_equal(used, len);
			check_trace(&p.tr);
			assert_true(tg_diff(&g, &t) == UINT64_MAX);
			assert_int_equal(sevmig_receiver_output_pending(p.r), 0);
			pusher_free(&p);
			tg_free(&t);
		}
		free(out.data);
		tg_free(&g);
	}
}

/* ---- one thread, both ends ------------------------------------------------------ */

struct duo {
	struct pusher p;
};

static int duo_write(void *arg, const void *buf, size_t len)
{
	struct duo *d = arg;
	size_t used = push_all(&d->p, buf, len);
	if (d->p.rc)
		return -EPIPE; /* the target is gone; its NAK is on the back-channel */
	return used == len ? 0 : -EPROTO;
}

static ptrdiff_t duo_back(void *arg, void *buf, size_t len)
{
	struct duo *d = arg;
	return (ptrdiff_t)sevmig_receiver_output(d->p.r, buf, len);
}

static int duo_run(struct tu_rng *rng, const struct ttarget *tt, struct tguest *g, struct tguest *t,
		   int refuse_after, struct sevmig_error *err, struct trace *tr)
{
	struct duo d;
	pusher_new(&d.p, tt, t, true, 2, tu_next(rng));
	d.p.max_piece = 10000;
	d.p.refuse_after_round = refuse_after;
	struct sevmig_fw *fw = soft_platform(true, SEVMIG_POLICY_ES, 1);
	SEVMIG_OPTS(sevmig_sender_opts, so, .key_source = SEVMIG_KEY_PSK, .key = ts_psk,
		    .target_pdh = tt->pdh, .target_pdh_len = SEVMIG_CERT_SIZE, .vcpus = 2,
		    .back_read = duo_back, .back_arg = &d);
	struct sevmig_sender *s;
	assert_int_equal(sevmig_sender_new(fw, g->reg, g->n, duo_write, &d, &so, &s, err), 0);
	int rc = 0;
	if (refuse_after < 0) {
		send_guest(rng, g, s);
		rc = sevmig_sender_finish(s, err);
		assert_int_equal(rc == 0, sevmig_sender_acknowledged(s));
	} else {
		rc = sevmig_sender_send_all(s, g->ps, err);
		if (rc == 0)
			rc = sevmig_sender_finish(s, err);
	}
	*tr = d.p.tr;
	sevmig_sender_free(s);
	sevmig_fw_free(fw);
	pusher_free(&d.p);
	return rc;
}

static void test_one_thread(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("push_one_thread") };
	struct ttarget tt;
	tt_init(&tt);
	for (int it = 0; it < 3; it++) {
		struct tguest g, t;
		tg_new(&rng, &g, 2, 50);
		tg_target(&g, &t, 0xee);
		struct sevmig_error err;
		struct trace tr;
		int rc = duo_run(&rng, &tt, &g, &t, -1, &err, &tr);
		if (rc)
			fail_msg("one thread: %s", err.message);
		check_trace(&tr);
		assert_true(tg_diff(&g, &t) == UINT64_MAX);
		tg_free(&t);
		/* the target refuses after the first pass: the source hears why */
		tg_target(&g, &t, 0xee);
		rc = duo_run(&rng, &tt, &g, &t, 0, &err, &tr);
		if (rc != -EREMOTEIO)
			fail_msg("refused: %d %s", rc, err.message);
		assert_non_null(strstr(err.message, "the operator said no"));
		tg_free(&t);
		tg_free(&g);
	}
}

/* ---- damage: the blocking receiver's verdict -------------------------------------- */

static void test_damage_same_verdict(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("push_damage") };
	struct ttarget tt;
	tt_init(&tt);
	struct tguest g;
	tg_new(&rng, &g, 2, 30);
	struct tsink out;
	stream_of(&rng, &g, &tt, &out);
	for (int i = 0; i < 60; i++) {
		uint8_t *c = malloc(out.len);
		memcpy(c, out.data, out.len);
		size_t len = out.len;
		switch (tu_below(&rng, 3)) {
		case 0:
			c[tu_below(&rng, len)] ^= (uint8_t)(1 + tu_below(&rng, 255));
			break;
		case 1:
			len = tu_below(&rng, len);
			break;
		default: /* a length field, where framing decides */
			c[96 + 16 * g.n + 4 + 4 + tu_below(&rng, 4)] ^= 0x40;
			break;
		}
		struct tguest t1, t2;
		tg_target(&g, &t1, 0xee);
		tg_target(&g, &t2, 0xee);
		struct sevmig_error e1;
		SEVMIG_OPTS(sevmig_receiver_opts, o, TS_KEY, .vmsa_dest = ts_vmsa_scratch,
			    .vmm_object = vmm_any);
		struct sevmig_fw *fw = tt_new(&tt, 1);
		struct tsrc src = { c, len, 0, { 0 } };
		struct sevmig_receiver *r;
		assert_int_equal(
		    sevmig_receiver_new(fw, t1.reg, t1.n, tsrc_read, &src, &o, &r, &e1), 0);
		int want = sevmig_receiver_run(r, &e1);
		sevmig_receiver_free(r);
		sevmig_fw_free(fw);
		struct pusher p;
		pusher_new(&p, &tt, &t2, false, 0, tu_next(&rng));
		p.max_piece = 5000;
		push_all(&p, c, len);
		if (!p.rc && !p.ended)
			push_all(&p, NULL, 0);
		int got = p.rc;
		if (want == 0)
			assert_true(p.ended);
		if (got != want || (want && strcmp(p.err.message, e1.message)))
			fail_msg("damage %d: push %d \"%s\", blocking %d \"%s\"", i, got,
				 p.err.message, want, e1.message);
		assert_true(tg_diff(&t1, &t2) == UINT64_MAX);
		pusher_free(&p);
		tg_free(&t1);
		tg_free(&t2);
		free(c);
	}
	free(out.data);
	tg_free(&g);
}

/* ---- the sans-I/O sender ---------------------------------------------------------- */

/* A sender with no callbacks: its rules (HELLO first, -EBUSY in a pass),
 * its output the stream a target takes, the back-channel pushed a byte at
 * a time, and a NAK as -EREMOTEIO with the target's reason. */
static void test_sansio_sender(void **state)
{
	(void)state;
	struct tu_rng rng = { tu_seed("push_sansio_sender") };
	struct ttarget tt;
	tt_init(&tt);
	for (int refuse = 0; refuse < 2; refuse++) {
		struct tguest g, t;
		tg_new(&rng, &g, 2, 2000);
		while (g.reg[0].size + g.reg[1].size < (6u << 20)) {
			tg_free(&g);
			tg_new(&rng, &g, 2, 2000);
		}
		tg_target(&g, &t, 0xee);
		struct pusher p;
		pusher_new(&p, &tt, &t, true, 2, tu_next(&rng));
		p.max_piece = 70000;
		p.refuse_after_round = refuse ? 0 : -1;
		struct sevmig_fw *fw = soft_platform(true, 0, 1);
		SEVMIG_OPTS(sevmig_sender_opts, so, .key_source = SEVMIG_KEY_PSK, .key = ts_psk,
			    .target_pdh = tt.pdh, .target_pdh_len = SEVMIG_CERT_SIZE,
			    .back_buffered = true, .workers = refuse ? 0 : 2);
		struct sevmig_sender *s;
		struct sevmig_error err;
		assert_int_equal(sevmig_sender_new(fw, g.reg, g.n, NULL, NULL, &so, &s, &err), 0);
		assert_int_equal(sevmig_sender_send_all(s, g.ps, &err), -EAGAIN);
		/* the target's HELLO, a byte at a time */
		uint8_t b[1 << 16];
		size_t n = sevmig_receiver_output(p.r, b, sizeof(b));
		assert_true(n > 1);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(sevmig_sender_push_back(s, b + i, 1, &err), 0);
		assert_int_equal(sevmig_sender_send_all(s, g.ps, &err), 0);
		/* A pass bigger than the high-water mark stops there (or, with
		 * workers, where they have not finished yet): calls that write
		 * records wait for it. */
		int more = sevmig_sender_produce(s, &err), turns = 0;
		bool stopped = more == 1;
		if (stopped)
			assert_int_equal(sevmig_sender_finish(s, &err), -EBUSY);
		/* without workers, only the high-water mark stops it */
		if (refuse)
			assert_true(stopped ==
				    (sevmig_sender_output_pending(s) >= SEVMIG_SENDER_HIGH_WATER));
		for (; more == 1; turns++) {
			while ((n = sevmig_sender_output(s, b, sizeof(b)))) {
				size_t used = push_all(&p, b, n);
				assert_true(used == n || p.rc); /* all taken, unless refused */
			}
			more = sevmig_sender_produce(s, &err);
			assert_true(more >= 0);
			if (more == 1 && !sevmig_sender_output_pending(s)) {
				/* no output: its workers are busy; wait for them */
				struct pollfd pf = { .fd = sevmig_sender_fd(s), .events = POLLIN };
				assert_true(pf.fd >= 0);
				assert_int_equal(poll(&pf, 1, 20000), 1);
			}
		}
		assert_true(!stopped || turns >= 1);
		if (refuse)
			assert_true(stopped); /* the test guest is big enough for that */
		int rc = 0;
		if (!refuse) {
			assert_int_equal(sevmig_sender_finish(s, &err), 0);
			assert_false(sevmig_sender_acknowledged(s));
		}
		while ((n = sevmig_sender_output(s, b, sizeof(b))))
			push_all(&p, b, n);
		n = sevmig_receiver_output(p.r, b, sizeof(b));
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = sevmig_sender_push_back(s, b + i, 1, &err);
		if (refuse) {
			assert_int_equal(rc, -EREMOTEIO);
			assert_non_null(strstr(err.message, "the operator said no"));
		} else {
			assert_int_equal(rc, 1);
			assert_true(sevmig_sender_acknowledged(s));
			assert_true(tg_diff(&g, &t) == UINT64_MAX);
		}
		sevmig_sender_free(s);
		sevmig_fw_free(fw);
		pusher_free(&p);
		tg_free(&t);
		tg_free(&g);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pieces),
		cmocka_unit_test(test_one_thread),
		cmocka_unit_test(test_damage_same_verdict),
		cmocka_unit_test(test_sansio_sender),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
