/* SPDX-License-Identifier: MIT */
/*
 * A scripted kernel behind the KVM backend's ioctl pointer, for the
 * test_kvm_*.c programs. A script is a list of steps, one per ioctl the
 * library must issue, in order. Each step checks, byte for byte, what the
 * library hands the kernel (the ioctl's fd and number, the command wrapper,
 * and the per-command struct it points to) and plays back an answer: the
 * return value, the firmware status, bytes written over the struct (as the
 * kernel copies it back) and, through a callback, the user buffers the
 * kernel would fill. A call beyond the script, or a script not used up,
 * fails the test: so a refusal "before the ioctl" is checked by an empty
 * script.
 */
#ifndef SEVMIG_TEST_KVM_DOUBLE_H
#define SEVMIG_TEST_KVM_DOUBLE_H

#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include <linux/kvm.h>
#include <linux/psp-sev.h>

#include <sevmig/fw_kvm.h>

#define KD_VM_FD     1000
#define KD_SEV_FD    1001
#define KD_NO_ID     UINT32_MAX /* KVM_MEMORY_ENCRYPT_OP with a NULL argument */
#define KD_ANY_FD    (-100)	/* an fd the library opened itself */
#define KD_MAX_STEPS 64

struct kd_step {
	int fd;
	unsigned long req;
	/* KVM_MEMORY_ENCRYPT_OP: kvm_sev_cmd.id (KD_NO_ID: NULL argument);
	 * SEV_ISSUE_CMD: sev_issue_cmd.cmd; KVM_CHECK_EXTENSION: the cap. */
	uint32_t id;
	/* The bytes the argument (or, for the two command wrappers, the
	 * per-command struct) must hold; NULL with want_len 0: the wrapper's
	 * data pointer must be 0. */
	const void *want;
	size_t want_len;
	int rc;
	uint32_t error;	   /* firmware status written back */
	const void *reply; /* written over the struct */
	size_t reply_len;
	void (*effect)(void *data, void *ctx); /* fills user buffers */
	void *ctx;
};

struct kd {
	struct kd_step steps[KD_MAX_STEPS];
	size_t n, at;
	uint32_t sev_fd; /* what kvm_sev_cmd.sev_fd must hold */
};

static inline struct kd_step *kd_add(struct kd *kd, int fd, unsigned long req, uint32_t id,
				     const void *want, size_t want_len, int rc)
{
	assert_true(kd->n < KD_MAX_STEPS);
	struct kd_step *s = &kd->steps[kd->n++];
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->req = req;
	s->id = id;
	s->want = want;
	s->want_len = want_len;
	s->rc = rc;
	return s;
}

/* A guest command through KVM_MEMORY_ENCRYPT_OP. */
static inline struct kd_step *kd_sev(struct kd *kd, uint32_t id, const void *want, size_t len,
				     int rc, uint32_t error)
{
	struct kd_step *s = kd_add(kd, KD_VM_FD, KVM_MEMORY_ENCRYPT_OP, id, want, len, rc);
	s->error = error;
	return s;
}

/* A platform command through SEV_ISSUE_CMD. */
static inline struct kd_step *kd_plat(struct kd *kd, uint32_t id, const void *want, size_t len,
				      int rc, uint32_t error)
{
	struct kd_step *s = kd_add(kd, KD_SEV_FD, SEV_ISSUE_CMD, id, want, len, rc);
	s->error = error;
	return s;
}

static inline void kd_reply(struct kd_step *s, const void *reply, size_t len)
{
	s->reply = reply;
	s->reply_len = len;
}

static inline void kd_check_bytes(const struct kd_step *s, size_t idx, const void *got)
{
	if (!s->want)
		return;
	assert_non_null(got);
	if (memcmp(got, s->want, s->want_len)) {
		const uint8_t *g = got, *w = s->want;
		for (size_t i = 0; i < s->want_len; i++)
			if (g[i] != w[i]) {
				fprintf(stderr,
					"step %zu (req 0x%lx): byte %zu is 0x%02x, want 0x%02x\n",
					idx, s->req, i, g[i], w[i]);
				break;
			}
		fail_msg("the library handed the kernel other bytes than expected (req 0x%lx)",
			 s->req);
	}
}

static inline int kd_ioctl(void *arg, int fd, unsigned long req, void *data)
{
	struct kd *kd = arg;
	if (kd->at >= kd->n)
		fail_msg("unexpected ioctl 0x%lx on fd %d (script has %zu steps)", req, fd, kd->n);
	const struct kd_step *s = &kd->steps[kd->at++];
	if (s->fd != KD_ANY_FD)
		assert_int_equal(fd, s->fd);
	assert_int_equal(req, s->req);
	void *payload = data;
	if (req == KVM_MEMORY_ENCRYPT_OP) {
		if (s->id == KD_NO_ID) {
			assert_null(data);
			return s->rc;
		}
		struct kvm_sev_cmd *c = data;
		static const uint8_t zero[4];
		assert_int_equal(c->id, s->id);
		assert_memory_equal((const uint8_t *)c + 4, zero, 4); /* padding */
		assert_int_equal(c->error, 0);
		assert_int_equal(c->sev_fd, kd->sev_fd);
		payload = (void *)(uintptr_t)c->data;
		if (!s->want && !s->want_len)
			assert_null(payload);
		c->error = s->error;
	} else if (req == SEV_ISSUE_CMD) {
		struct sev_issue_cmd *c = data;
		assert_int_equal(c->cmd, s->id);
		assert_int_equal(c->error, 0);
		payload = (void *)(uintptr_t)c->data;
		c->error = s->error;
	} else if (req == KVM_CHECK_EXTENSION) {
		assert_int_equal((uintptr_t)data, s->id);
		return s->rc;
	}
	kd_check_bytes(s, kd->at - 1, payload);
	if (s->reply)
		memcpy(payload, s->reply, s->reply_len);
	if (s->effect)
		s->effect(payload, s->ctx);
	return s->rc;
}

/* Every step was used. */
static inline void kd_done(struct kd *kd)
{
	if (kd->at != kd->n)
		fail_msg("the library issued %zu of the %zu scripted ioctls", kd->at, kd->n);
	kd->n = kd->at = 0;
}

/*
 * The series' page-encryption bitmap as the kernel holds it (bit set =
 * encrypted, all set at first), for tests that check where SET's bits
 * land. KVM_SET_PAGE_ENC_BITMAP as posted from v7 on copies whole words:
 * bitmap_copy(page_enc_bmap + BIT_WORD(start_gfn), bitmap, num_pages)
 * writes ALIGN(num_pages, 64) / 64 words from the caller's buffer starting
 * at word start_gfn / 64, so buffer bit 0 is gfn start_gfn & ~63. GET is
 * exact: bit i is gfn start_gfn + i, only num_pages bits written, the
 * caller's bits past them in the last byte kept.
 */
#define KD_ENC_WORDS (UINT64_C(1) << 15) /* 2 Mi pages */
struct kd_encmap {
	uint64_t w[KD_ENC_WORDS];
	unsigned sets, gets;
};

static inline void kd_enc_reset(struct kd_encmap *m)
{
	memset(m->w, 0xff, sizeof(m->w));
	m->sets = m->gets = 0;
}

static inline bool kd_enc_bit(const struct kd_encmap *m, uint64_t gfn)
{
	assert_true(gfn < KD_ENC_WORDS * 64);
	return m->w[gfn / 64] >> (gfn % 64) & 1;
}

/* The argument struct of both bitmap ioctls (struct kvm_page_enc_bitmap). */
struct kd_enc_args {
	uint64_t start_gfn, num_pages;
	void *bitmap;
};

static inline void kd_enc_set(void *data, void *ctx)
{
	const struct kd_enc_args *a = data;
	struct kd_encmap *m = ctx;
	uint64_t words = (a->num_pages + 63) / 64, first = a->start_gfn / 64;
	assert_true(first + words <= KD_ENC_WORDS);
	memcpy(&m->w[first], a->bitmap, words * 8);
	m->sets++;
}

static inline void kd_enc_get(void *data, void *ctx)
{
	const struct kd_enc_args *a = data;
	struct kd_encmap *m = ctx;
	uint8_t *bits = a->bitmap;
	for (uint64_t i = 0; i < a->num_pages; i++) {
		uint8_t bit = (uint8_t)(1u << (i % 8));
		if (kd_enc_bit(m, a->start_gfn + i))
			bits[i / 8] |= bit;
		else
			bits[i / 8] &= (uint8_t)~bit;
	}
	m->gets++;
}

/* A handle on the double: VM fd KD_VM_FD, /dev/sev fd KD_SEV_FD (or -1). */
static inline struct sevmig_fw *kd_open(struct kd *kd, int sev_fd, enum sevmig_kvm_series series)
{
	memset(kd, 0, sizeof(*kd));
	kd->sev_fd = (uint32_t)sev_fd;
	SEVMIG_OPTS(sevmig_fw_kvm_opts, o, .ioctl = kd_ioctl, .ioctl_arg = kd, .series = series);
	struct sevmig_fw *fw = NULL;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	assert_int_equal(sevmig_fw_kvm_open(KD_VM_FD, sev_fd, &o, &fw, &err), 0);
	assert_non_null(fw);
	return fw;
}

/* The handle's message contains `part`. */
#define KD_MSG_HAS(fw, part)                                                        \
	do {                                                                        \
		const char *m_ = sevmig_fw_last_error(fw);                          \
		if (!strstr(m_, (part)))                                            \
			fail_msg("message \"%s\" does not say \"%s\"", m_, (part)); \
	} while (0)

#endif
