/* SPDX-License-Identifier: MIT */
/*
 * The software firmware: one platform (PDH key and its endorsement chain)
 * and one guest, with the SEV API's state machine and checks, answering the
 * ops of fw_backend.h. Formats and cryptography live in soft_crypto.c and
 * soft_cert.c; every reading of the specification that had to be chosen is
 * in soft_spec.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <sevmig/fw_soft.h>

#include "fw/fw_backend.h"
#include "fw/soft/soft_cert.h"
#include "fw/soft/soft_crypto.h"
#include "util/endian.h"
#include "util/error.h"

SEVMIG__OPTS_LAST(struct sevmig_fw_soft_opts, oca_key_path);

/* Bound on the UPDATE_DATA concurrency a caller may ask for. */
#define SOFT_MAX_THREADS 1024u

/*
 * Packet IVs drawn ahead from OpenSSL's generator, one page per slot: one
 * RAND_bytes() call per IV would cost a fifth of a packet. The
 * pages are MADV_WIPEONFORK, so a forked child finds `left` zero and draws
 * its own (OpenSSL reseeds after fork) rather than reusing the parent's.
 */
#define IV_CACHE_N ((SEVMIG_PAGE_SIZE - IV_SIZE) / IV_SIZE)
struct iv_cache {
	uint32_t left;
	uint8_t pad[IV_SIZE - sizeof(uint32_t)];
	uint8_t iv[IV_CACHE_N][IV_SIZE];
};
_Static_assert(sizeof(struct iv_cache) == SEVMIG_PAGE_SIZE, "one page per IV cache");

/* One thread's packet contexts, keyed on first use in a session. A cache
 * line each, so that threads working in their own slots share nothing. */
#define SLOT_ALIGN 64
struct soft_slot {
	atomic_bool busy;
	bool keyed;
	struct sevmig__soft_pkt pkt;
	struct iv_cache *ivs; /* NULL where the kernel cannot wipe on fork */
} __attribute__((aligned(SLOT_ALIGN)));

struct soft {
	/* The platform: PDH key, the model's endorsement keys, certificates. */
	EVP_PKEY *pdh, *pek, *oca, *cek;
	bool oca_external;
	bool es;
	uint8_t pdh_cert[SEVMIG_CERT_SIZE];
	uint8_t chain[SEVMIG_CERT_CHAIN_SIZE]; /* PEK || OCA || CEK */

	/* The guest. Written only by commands that have the handle to
	 * themselves; read by the UPDATE commands, which may run at once. */
	uint32_t state;
	uint32_t policy;

	/* The transport keys of the open session (SUPDATE or RUPDATE). */
	uint8_t tek[KEY_SIZE];
	uint8_t tik[KEY_SIZE];

	/* Per-thread packet contexts. A thread takes an idle slot with an
	 * atomic exchange; when all are busy it sleeps on pool_cond. */
	EVP_MAC *hmac;
	EVP_CIPHER *aes_ctr;
	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cond;
	atomic_uint waiters;
	unsigned nslots;
	struct soft_slot *slots;
	void *iv_pages; /* nslots pages, or NULL */
};

static const struct sevmig_fw_ops soft_ops;

static struct soft *soft_of(struct sevmig_fw *fw)
{
	return fw->priv;
}

/* A refusal by the model's firmware: set the status, record the message. */
static int refuse(struct sevmig_fw *fw, uint32_t *st, int code, uint32_t status, const char *fmt,
		  ...) SEVMIG__PRINTF(5, 6);
static int refuse(struct sevmig_fw *fw, uint32_t *st, int code, uint32_t status, const char *fmt,
		  ...)
{
	char msg[180];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	*st = status;
	return sevmig__fw_fail(fw, code, status, "%s", msg);
}

/* The model itself failed (OpenSSL, memory). */
static int internal(struct sevmig_fw *fw, uint32_t *st, const char *cmd, int err)
{
	return refuse(fw, st, err == -ENOMEM ? -ENOMEM : -EIO, SOFT_INTERNAL_STATUS,
		      "%s: the software firmware failed internally (%s)", cmd,
		      err == -ENOMEM ? "out of memory" : "OpenSSL error");
}

/* ---- the packet-context pool -------------------------------------------------- */

/* The slot this thread used last, tried first: a worker thread keeps its
 * contexts (and their cache lines) to itself. A hint only. */
static _Thread_local unsigned slot_hint;

static bool slot_try(struct soft *s, unsigned *idx)
{
	unsigned n = s->nslots;
	for (unsigned k = 0; k < n; k++) {
		unsigned i = (slot_hint + k) % n;
		if (!atomic_load_explicit(&s->slots[i].busy, memory_order_relaxed) &&
		    !atomic_exchange(&s->slots[i].busy, true)) {
			slot_hint = i;
			*idx = i;
			return true;
		}
	}
	return false;
}

static int slot_acquire(struct soft *s, unsigned *idx)
{
	if (!slot_try(s, idx)) {
		/* Counted as waiting before the last look, so that a release
		 * either is seen here or sees the waiter (both sequentially
		 * consistent) and signals. */
		pthread_mutex_lock(&s->pool_lock);
		atomic_fetch_add(&s->waiters, 1);
		while (!slot_try(s, idx))
			pthread_cond_wait(&s->pool_cond, &s->pool_lock);
		atomic_fetch_sub(&s->waiters, 1);
		pthread_mutex_unlock(&s->pool_lock);
	}
	struct soft_slot *sl = &s->slots[*idx];
	if (sl->keyed)
		return 0;
	int rc = sevmig__soft_pkt_init(&sl->pkt, s->hmac, s->aes_ctr, s->tek, s->tik);
	if (!rc)
		sl->keyed = true;
	return rc;
}

/* A fresh random IV for the next packet. */
static int slot_iv(struct soft_slot *sl, uint8_t iv[IV_SIZE])
{
	struct iv_cache *c = sl->ivs;
	if (!c)
		return RAND_bytes(iv, IV_SIZE) == 1 ? 0 : -EIO;
	if (!c->left) {
		if (RAND_bytes(c->iv[0], sizeof(c->iv)) != 1)
			return -EIO;
		c->left = IV_CACHE_N;
	}
	/* Each IV is handed out once: taken, then erased from the cache. */
	c->left--;
	memcpy(iv, c->iv[c->left], IV_SIZE);
	memset(c->iv[c->left], 0, IV_SIZE);
	return 0;
}

static void slot_release(struct soft *s, unsigned idx)
{
	atomic_store(&s->slots[idx].busy, false);
	if (atomic_load(&s->waiters)) {
		pthread_mutex_lock(&s->pool_lock);
		pthread_cond_signal(&s->pool_cond);
		pthread_mutex_unlock(&s->pool_lock);
	}
}

/* The session is over (finish, cancel, free): forget every transport key. */
static void session_end(struct soft *s)
{
	for (unsigned i = 0; i < s->nslots; i++) {
		if (s->slots[i].keyed)
			sevmig__soft_pkt_free(&s->slots[i].pkt);
		s->slots[i].keyed = false;
	}
	OPENSSL_cleanse(s->tek, sizeof(s->tek));
	OPENSSL_cleanse(s->tik, sizeof(s->tik));
}

/* ---- state checks ------------------------------------------------------------- */

/* Every guest command first needs a guest, i.e. a platform in WORKING;
 * then the guest in state `want` (SEVMIG_GUEST_UNINIT: any state). */
static int need_state(struct sevmig_fw *fw, uint32_t *st, const char *cmd, uint32_t want)
{
	struct soft *s = soft_of(fw);
	if (s->state == SEVMIG_GUEST_UNINIT)
		return refuse(fw, st, -EIO, SEVMIG_FW_INVALID_PLATFORM_STATE,
			      "%s: there is no guest on this platform (platform state INIT)", cmd);
	if (want != SEVMIG_GUEST_UNINIT && s->state != want)
		return refuse(fw, st, -EIO, SEVMIG_FW_INVALID_GUEST_STATE,
			      "%s needs the guest in state %s; it is in %s", cmd,
			      sevmig_guest_state_name(want), sevmig_guest_state_name(s->state));
	return 0;
}

/* The kernel's rule for UPDATE_DATA: the guest range lies in one page. */
static int check_one_page(struct sevmig_fw *fw, const char *cmd, const void *guest, uint32_t len)
{
	uintptr_t off = (uintptr_t)guest & (SEVMIG_PAGE_SIZE - 1);
	if (off + len > SEVMIG_PAGE_SIZE)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "%s: %u bytes at page offset %zu cross a 4 KiB page", cmd,
				       len, (size_t)off);
	return 0;
}

/* The firmware's length and address rules of the UPDATE commands. */
static int check_packet_lengths(struct sevmig_fw *fw, uint32_t *st, const char *cmd, bool vmsa,
				const void *guest, uint32_t guest_len)
{
	if (!guest_len || guest_len > SEVMIG_PACKET_MAX || guest_len % PKT_ALIGN)
		return refuse(fw, st, -EIO, SEVMIG_FW_INVALID_LENGTH,
			      "%s: guest_len %u is not a non-zero multiple of %u up to 0x%x", cmd,
			      guest_len, PKT_ALIGN, SEVMIG_PACKET_MAX);
	if (vmsa && guest_len != SEVMIG_VMSA_SIZE)
		return refuse(fw, st, -EIO, SEVMIG_FW_INVALID_LENGTH,
			      "%s: guest_len %u is not the VMSA size %u", cmd, guest_len,
			      SEVMIG_VMSA_SIZE);
	if ((uintptr_t)guest % PKT_ALIGN)
		return refuse(fw, st, -EIO, SEVMIG_FW_INVALID_ADDRESS,
			      "%s: the guest address is not %u-byte aligned", cmd, PKT_ALIGN);
	return 0;
}

/* The VMSA commands need an SEV-ES guest. */
static int check_es(struct sevmig_fw *fw, uint32_t *st, const char *cmd, bool vmsa)
{
	if (vmsa && !(soft_of(fw)->policy & SEVMIG_POLICY_ES))
		return refuse(fw, st, -EIO, SEVMIG_FW_UNSUPPORTED,
			      "%s: the guest is not an SEV-ES guest (policy 0x%x)", cmd,
			      soft_of(fw)->policy);
	return 0;
}

/* ---- source side ---------------------------------------------------------------- */

/* The other platform's PDH certificate, every field checked: its key. */
static int import_pdh(struct sevmig_fw *fw, uint32_t *st, const char *cmd, const char *whose,
		      const void *cert, uint32_t len, EVP_PKEY **peer)
{
	if (len != SEVMIG_CERT_SIZE)
		return refuse(fw, st, -EIO, SEVMIG_FW_INVALID_LENGTH,
			      "%s: the %s PDH certificate has %u bytes, not 0x%x", cmd, whose, len,
			      SEVMIG_CERT_SIZE);
	char name[32], msg[160];
	snprintf(name, sizeof(name), "%s PDH certificate", whose);
	int rc = sevmig__soft_cert_check(cert, name, USAGE_PDH, peer, msg, sizeof(msg));
	if (rc < 0)
		return internal(fw, st, cmd, rc);
	if (rc > 0)
		return refuse(fw, st, -EIO, (uint32_t)rc, "%s: %s", cmd, msg);
	return 0;
}

/* DOMAIN policy: the target's chain must verify, and its OCA be ours. */
static int check_domain(struct sevmig_fw *fw, uint32_t *st, const struct sevmig_fw_send_start *p)
{
	static const char cmd[] = "SEND_START";
	struct soft *s = soft_of(fw);
	if (!p->plat_certs || p->plat_certs_len != SEVMIG_CERT_CHAIN_SIZE)
		return refuse(fw, st, -EIO, SEVMIG_FW_INVALID_LENGTH,
			      "%s: policy DOMAIN needs the target's chain PEK || OCA || CEK "
			      "(0x%x bytes), got %u",
			      cmd, SEVMIG_CERT_CHAIN_SIZE, p->plat_certs ? p->plat_certs_len : 0);
	const uint8_t *pek_cert = p->plat_certs, *oca_cert = pek_cert + SEVMIG_CERT_SIZE;
	char msg[160];
	EVP_PKEY *pek = NULL, *oca = NULL;
	int rc = sevmig__soft_cert_check(pek_cert, "target PEK certificate", USAGE_PEK, &pek, msg,
					 sizeof(msg));
	if (!rc)
		rc = sevmig__soft_cert_check(oca_cert, "target OCA certificate", USAGE_OCA, &oca,
					     msg, sizeof(msg));
	if (!rc)
		rc = sevmig__soft_cert_verify(oca_cert, "target OCA certificate", oca, oca_cert,
					      USAGE_OCA, msg, sizeof(msg));
	if (!rc)
		rc = sevmig__soft_cert_verify(pek_cert, "target PEK certificate", oca, oca_cert,
					      USAGE_OCA, msg, sizeof(msg));
	if (!rc)
		rc = sevmig__soft_cert_verify(p->pdh_cert, "target PDH certificate", pek, pek_cert,
					      USAGE_PEK, msg, sizeof(msg));
	EVP_PKEY_free(pek);
	EVP_PKEY_free(oca);
	if (rc < 0)
		return internal(fw, st, cmd, rc);
	if (rc > 0)
		return refuse(fw, st, -EIO, (uint32_t)rc, "%s: %s", cmd, msg);
	/* Signatures are randomised, so "the same OCA" is the same signed
	 * body: version, usage, algorithm and key. */
	if (memcmp(oca_cert, s->chain + SEVMIG_CERT_SIZE, CERT_BODY_SIZE))
		return refuse(fw, st, -EIO, SEVMIG_FW_POLICY_FAILURE,
			      "%s: policy DOMAIN: the target's OCA is not this platform's", cmd);
	return 0;
}

static int soft_send_start(struct sevmig_fw *fw, struct sevmig_fw_send_start *p, uint32_t *st)
{
	static const char cmd[] = "SEND_START";
	struct soft *s = soft_of(fw);
	/* The length query comes first, as in the firmware. */
	if (!p->session) {
		p->session_len = SEVMIG_SESSION_SIZE;
		*st = SEVMIG_FW_SUCCESS; /* a size query that got its answer (fw.h) */
		return 0;
	}
	if (p->session_len < SEVMIG_SESSION_SIZE) {
		uint32_t got = p->session_len;
		p->session_len = SEVMIG_SESSION_SIZE;
		return refuse(fw, st, -ENOSPC, SEVMIG_FW_INVALID_LENGTH,
			      "%s: the session buffer has %u bytes, 0x%x are needed", cmd, got,
			      SEVMIG_SESSION_SIZE);
	}
	SEVMIG__TRY(need_state(fw, st, cmd, SEVMIG_GUEST_RUNNING));
	if (s->policy & SEVMIG_POLICY_NOSEND)
		return refuse(fw, st, -EIO, SEVMIG_FW_POLICY_FAILURE,
			      "%s: the guest's policy 0x%x forbids sending (NOSEND)", cmd,
			      s->policy);
	EVP_PKEY *peer = NULL;
	int rc;
	SEVMIG__TRY(import_pdh(fw, st, cmd, "target", p->pdh_cert, p->pdh_cert_len, &peer));
	if (s->policy & SEVMIG_POLICY_SEV) {
		rc = refuse(fw, st, -EIO, SEVMIG_FW_POLICY_FAILURE,
			    "%s: policy SEV needs a chain rooted in AMD's keys (ASK, ARK); the "
			    "software model has none",
			    cmd);
		goto out;
	}
	if (s->policy & SEVMIG_POLICY_DOMAIN) {
		rc = check_domain(fw, st, p);
		if (rc)
			goto out;
	}
	struct sevmig__soft_secrets sec;
	uint8_t z[P384_BYTES];
	if (RAND_bytes((unsigned char *)&sec, sizeof(sec)) != 1) {
		rc = internal(fw, st, cmd, -EIO);
	} else if ((rc = sevmig__soft_ecdh(s->pdh, peer, z)) ||
		   (rc = sevmig__soft_session_seal(z, sizeof(z), &sec, s->policy, p->session))) {
		rc = internal(fw, st, cmd, rc);
	} else {
		memcpy(s->tek, sec.tek, KEY_SIZE);
		memcpy(s->tik, sec.tik, KEY_SIZE);
		p->session_len = SEVMIG_SESSION_SIZE;
		p->policy = s->policy;
		s->state = SEVMIG_GUEST_SUPDATE;
		*st = SEVMIG_FW_SUCCESS;
	}
	OPENSSL_cleanse(&sec, sizeof(sec));
	OPENSSL_cleanse(z, sizeof(z));
out:
	EVP_PKEY_free(peer);
	return rc;
}

static int send_update(struct sevmig_fw *fw, struct sevmig_fw_send_update *p, uint32_t *st,
		       bool vmsa)
{
	const char *cmd = vmsa ? "SEND_UPDATE_VMSA" : "SEND_UPDATE_DATA";
	struct soft *s = soft_of(fw);
	if (!p->hdr || !p->trans) {
		p->hdr_len = SEVMIG_PACKET_HDR_SIZE;
		p->trans_len = p->guest_len;
		*st = SEVMIG_FW_SUCCESS;
		return 0;
	}
	if (p->hdr_len < SEVMIG_PACKET_HDR_SIZE) {
		uint32_t got = p->hdr_len;
		p->hdr_len = SEVMIG_PACKET_HDR_SIZE;
		return refuse(fw, st, -ENOSPC, SEVMIG_FW_INVALID_LENGTH,
			      "%s: the header buffer has %u bytes, 0x%x are needed", cmd, got,
			      SEVMIG_PACKET_HDR_SIZE);
	}
	if (vmsa && !p->guest)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "%s: the soft backend needs the plaintext VMSA in guest",
				       cmd);
	if (!vmsa)
		SEVMIG__TRY(check_one_page(fw, cmd, p->guest, p->guest_len));
	SEVMIG__TRY(need_state(fw, st, cmd, SEVMIG_GUEST_SUPDATE));
	SEVMIG__TRY(check_es(fw, st, cmd, vmsa));
	SEVMIG__TRY(check_packet_lengths(fw, st, cmd, vmsa, p->guest, p->guest_len));
	if (p->trans_len < p->guest_len) {
		uint32_t got = p->trans_len;
		p->trans_len = p->guest_len;
		return refuse(fw, st, -ENOSPC, SEVMIG_FW_INVALID_LENGTH,
			      "%s: the transport buffer has %u bytes, %u are needed", cmd, got,
			      p->guest_len);
	}
	uint8_t iv[IV_SIZE];
	unsigned idx;
	int rc = slot_acquire(s, &idx);
	if (!rc)
		rc = slot_iv(&s->slots[idx], iv);
	if (!rc)
		rc = sevmig__soft_pkt_seal(&s->slots[idx].pkt,
					   vmsa ? CHANNEL_CTX_VMSA : CHANNEL_CTX_DATA, 0, iv,
					   p->guest, p->guest_len, p->trans, p->hdr);
	slot_release(s, idx);
	if (rc)
		return internal(fw, st, cmd, rc);
	p->hdr_len = SEVMIG_PACKET_HDR_SIZE;
	p->trans_len = p->guest_len;
	*st = SEVMIG_FW_SUCCESS;
	return 0;
}

static int soft_send_update_data(struct sevmig_fw *fw, struct sevmig_fw_send_update *p,
				 uint32_t *st)
{
	return send_update(fw, p, st, false);
}

static int soft_send_update_vmsa(struct sevmig_fw *fw, uint32_t vcpu,
				 struct sevmig_fw_send_update *p, uint32_t *st)
{
	(void)vcpu; /* the VMSA comes in p->guest; the index names it only */
	return send_update(fw, p, st, true);
}

/* SEND_FINISH, SEND_CANCEL, RECEIVE_FINISH: the session ends, its keys
 * with it, and the guest moves on. */
static int close_session(struct sevmig_fw *fw, uint32_t *st, const char *cmd, uint32_t from,
			 uint32_t to)
{
	struct soft *s = soft_of(fw);
	SEVMIG__TRY(need_state(fw, st, cmd, from));
	session_end(s);
	s->state = to;
	*st = SEVMIG_FW_SUCCESS;
	return 0;
}

static int soft_send_finish(struct sevmig_fw *fw, uint32_t *st)
{
	return close_session(fw, st, "SEND_FINISH", SEVMIG_GUEST_SUPDATE, SEVMIG_GUEST_SENT);
}

static int soft_send_cancel(struct sevmig_fw *fw, uint32_t *st)
{
	return close_session(fw, st, "SEND_CANCEL", SEVMIG_GUEST_SUPDATE, SEVMIG_GUEST_RUNNING);
}

/* ---- target side ---------------------------------------------------------------- */

static int soft_receive_start(struct sevmig_fw *fw, struct sevmig_fw_receive_start *p, uint32_t *st)
{
	static const char cmd[] = "RECEIVE_START";
	struct soft *s = soft_of(fw);
	if (s->state != SEVMIG_GUEST_UNINIT)
		return refuse(fw, st, -EIO, SEVMIG_FW_INVALID_GUEST_STATE,
			      "%s: the model holds one guest and it already exists (state %s)", cmd,
			      sevmig_guest_state_name(s->state));
	if (p->session_len != SEVMIG_SESSION_SIZE)
		return refuse(fw, st, -EIO, SEVMIG_FW_INVALID_LENGTH,
			      "%s: the session blob has %u bytes, not 0x%x", cmd, p->session_len,
			      SEVMIG_SESSION_SIZE);
	EVP_PKEY *peer = NULL;
	int rc;
	SEVMIG__TRY(import_pdh(fw, st, cmd, "source", p->pdh_cert, p->pdh_cert_len, &peer));
	uint32_t major = SEVMIG_POLICY_API_MAJOR(p->policy),
		 minor = SEVMIG_POLICY_API_MINOR(p->policy);
	uint8_t z[P384_BYTES], tek[KEY_SIZE], tik[KEY_SIZE];
	if (major > SOFT_API_MAJOR || (major == SOFT_API_MAJOR && minor > SOFT_API_MINOR)) {
		rc = refuse(fw, st, -EIO, SEVMIG_FW_POLICY_FAILURE,
			    "%s: the policy needs firmware API %u.%u; this is %u.%u", cmd, major,
			    minor, SOFT_API_MAJOR, SOFT_API_MINOR);
	} else if ((p->policy & SEVMIG_POLICY_ES) && !s->es) {
		rc = refuse(fw, st, -EIO, SEVMIG_FW_UNSUPPORTED,
			    "%s: the policy needs SEV-ES, which this platform does not have", cmd);
	} else if ((rc = sevmig__soft_ecdh(s->pdh, peer, z)) < 0 ||
		   (rc = sevmig__soft_session_open(z, sizeof(z), p->session, p->policy, tek, tik)) <
		       0) {
		rc = internal(fw, st, cmd, rc);
	} else if (rc == SOFT_SESSION_BAD_WRAP_MAC) {
		rc = refuse(fw, st, -EIO, SOFT_SESSION_MAC_STATUS,
			    "%s: WRAP_MAC does not verify: the session was made for another PDH "
			    "key or altered",
			    cmd);
	} else if (rc == SOFT_SESSION_BAD_POLICY_MAC) {
		rc = refuse(fw, st, -EIO, SOFT_SESSION_MAC_STATUS,
			    "%s: POLICY_MAC does not verify: the source sealed another policy "
			    "than 0x%x, or the session was altered",
			    cmd, p->policy);
	} else {
		memcpy(s->tek, tek, KEY_SIZE);
		memcpy(s->tik, tik, KEY_SIZE);
		s->policy = p->policy;
		s->state = SEVMIG_GUEST_RUPDATE;
		p->handle = SOFT_GUEST_HANDLE;
		*st = SEVMIG_FW_SUCCESS;
	}
	OPENSSL_cleanse(z, sizeof(z));
	OPENSSL_cleanse(tek, sizeof(tek));
	OPENSSL_cleanse(tik, sizeof(tik));
	EVP_PKEY_free(peer);
	return rc;
}

static int receive_update(struct sevmig_fw *fw, const struct sevmig_fw_receive_update *p,
			  uint32_t *st, bool vmsa)
{
	const char *cmd = vmsa ? "RECEIVE_UPDATE_VMSA" : "RECEIVE_UPDATE_DATA";
	struct soft *s = soft_of(fw);
	if (vmsa && !p->guest)
		return sevmig__fw_fail(fw, -EINVAL, SEVMIG_FW_STATUS_NONE,
				       "%s: the soft backend needs the VMSA's buffer in guest",
				       cmd);
	if (!vmsa)
		SEVMIG__TRY(check_one_page(fw, cmd, p->guest, p->guest_len));
	SEVMIG__TRY(need_state(fw, st, cmd, SEVMIG_GUEST_RUPDATE));
	SEVMIG__TRY(check_es(fw, st, cmd, vmsa));
	if (p->trans_len != p->guest_len)
		return refuse(fw, st, -EIO, SEVMIG_FW_INVALID_LENGTH,
			      "%s: trans_len %u differs from guest_len %u", cmd, p->trans_len,
			      p->guest_len);
	if (p->hdr_len < SEVMIG_PACKET_HDR_SIZE)
		return refuse(fw, st, -EIO, SEVMIG_FW_INVALID_LENGTH,
			      "%s: the header has %u bytes, not 0x%x", cmd, p->hdr_len,
			      SEVMIG_PACKET_HDR_SIZE);
	SEVMIG__TRY(check_packet_lengths(fw, st, cmd, vmsa, p->guest, p->guest_len));
	uint32_t flags = sevmig__le32((const uint8_t *)p->hdr + PKT_OFF_FLAGS);
	if (flags & PKT_FLAG_COMPRESSED)
		return refuse(fw, st, -EIO, SEVMIG_FW_UNSUPPORTED,
			      "%s: the packet is marked COMPRESSED, which the firmware does not "
			      "support",
			      cmd);
	unsigned idx;
	int rc = slot_acquire(s, &idx);
	if (!rc)
		rc = sevmig__soft_pkt_verify(&s->slots[idx].pkt,
					     vmsa ? CHANNEL_CTX_VMSA : CHANNEL_CTX_DATA, p->hdr,
					     p->trans, p->trans_len);
	/* Only a packet whose MAC verified reaches guest memory. */
	if (!rc)
		rc = sevmig__soft_pkt_decrypt(&s->slots[idx].pkt, p->hdr, p->trans, p->guest,
					      p->guest_len);
	slot_release(s, idx);
	if (rc == 1)
		return refuse(fw, st, -EIO, SEVMIG_FW_BAD_MEASUREMENT,
			      "%s: the packet MAC does not verify; guest memory is unchanged", cmd);
	if (rc)
		return internal(fw, st, cmd, rc);
	*st = SEVMIG_FW_SUCCESS;
	return 0;
}

static int soft_receive_update_data(struct sevmig_fw *fw, const struct sevmig_fw_receive_update *p,
				    uint32_t *st)
{
	return receive_update(fw, p, st, false);
}

static int soft_receive_update_vmsa(struct sevmig_fw *fw, uint32_t vcpu,
				    const struct sevmig_fw_receive_update *p, uint32_t *st)
{
	(void)vcpu;
	return receive_update(fw, p, st, true);
}

static int soft_receive_finish(struct sevmig_fw *fw, uint32_t *st)
{
	return close_session(fw, st, "RECEIVE_FINISH", SEVMIG_GUEST_RUPDATE, SEVMIG_GUEST_RUNNING);
}

/* ---- status, debug, platform ---------------------------------------------------- */

static int soft_guest_status(struct sevmig_fw *fw, struct sevmig_fw_guest_status *out, uint32_t *st)
{
	struct soft *s = soft_of(fw);
	out->handle = s->state == SEVMIG_GUEST_UNINIT ? 0 : SOFT_GUEST_HANDLE;
	out->policy = s->policy;
	out->state = s->state;
	*st = SEVMIG_FW_SUCCESS;
	return 0;
}

static int dbg(struct sevmig_fw *fw, const char *cmd, const void *src, void *dst, uint32_t len,
	       uint32_t *st)
{
	struct soft *s = soft_of(fw);
	SEVMIG__TRY(need_state(fw, st, cmd, SEVMIG_GUEST_UNINIT));
	if (s->policy & SEVMIG_POLICY_NODBG)
		return refuse(fw, st, -EIO, SEVMIG_FW_POLICY_FAILURE,
			      "%s: the guest's policy 0x%x forbids debugging (NODBG)", cmd,
			      s->policy);
	/* Guest memory is plaintext in this model: no key to apply. */
	memmove(dst, src, len);
	*st = SEVMIG_FW_SUCCESS;
	return 0;
}

static int soft_dbg_decrypt(struct sevmig_fw *fw, const void *guest, void *dst, uint32_t len,
			    uint32_t *st)
{
	return dbg(fw, "DBG_DECRYPT", guest, dst, len, st);
}

static int soft_dbg_encrypt(struct sevmig_fw *fw, const void *src, void *guest, uint32_t len,
			    uint32_t *st)
{
	return dbg(fw, "DBG_ENCRYPT", src, guest, len, st);
}

static int soft_platform_status(struct sevmig_fw *fw, struct sevmig_fw_platform_status *out,
				uint32_t *st)
{
	struct soft *s = soft_of(fw);
	bool guest = s->state != SEVMIG_GUEST_UNINIT;
	out->api_major = SOFT_API_MAJOR;
	out->api_minor = SOFT_API_MINOR;
	out->build = SOFT_BUILD;
	out->state = guest ? SOFT_PLATFORM_WORKING : SOFT_PLATFORM_INIT;
	out->flags = (s->es ? SEVMIG_PLATFORM_FLAG_ES : 0) |
		     (s->oca_external ? SEVMIG_PLATFORM_FLAG_OWNER : 0);
	out->guest_count = guest ? 1 : 0;
	out->soft = true;
	*st = SEVMIG_FW_SUCCESS;
	return 0;
}

/* The length-query convention of PDH_CERT_EXPORT and GET_ID: NULL buffers
 * ask, short ones are refused; either way the lengths come back. */
static int give_lengths(struct sevmig_fw *fw, uint32_t *st, const char *cmd, bool query,
			uint32_t *len1, uint32_t need1, uint32_t *len2, uint32_t need2)
{
	bool shortage = *len1 < need1 || (len2 && *len2 < need2);
	*len1 = need1;
	if (len2)
		*len2 = need2;
	if (query) {
		*st = SEVMIG_FW_SUCCESS;
		return 1;
	}
	if (shortage && len2)
		return refuse(fw, st, -ENOSPC, SEVMIG_FW_INVALID_LENGTH,
			      "%s: a buffer is too small (0x%x and 0x%x bytes are needed)", cmd,
			      need1, need2);
	if (shortage)
		return refuse(fw, st, -ENOSPC, SEVMIG_FW_INVALID_LENGTH,
			      "%s: the buffer is too small (0x%x bytes are needed)", cmd, need1);
	return 0;
}

static int soft_pdh_cert_export(struct sevmig_fw *fw, void *pdh, uint32_t *pdh_len, void *chain,
				uint32_t *chain_len, uint32_t *st)
{
	struct soft *s = soft_of(fw);
	int rc = give_lengths(fw, st, "PDH_CERT_EXPORT", !pdh || !chain, pdh_len, SEVMIG_CERT_SIZE,
			      chain_len, SEVMIG_CERT_CHAIN_SIZE);
	if (rc)
		return rc < 0 ? rc : 0;
	memcpy(pdh, s->pdh_cert, SEVMIG_CERT_SIZE);
	memcpy(chain, s->chain, SEVMIG_CERT_CHAIN_SIZE);
	*st = SEVMIG_FW_SUCCESS;
	return 0;
}

static int soft_get_id(struct sevmig_fw *fw, void *id, uint32_t *id_len, uint32_t *st)
{
	struct soft *s = soft_of(fw);
	int rc = give_lengths(fw, st, "GET_ID", !id, id_len, SOFT_ID_SIZE, NULL, 0);
	if (rc)
		return rc < 0 ? rc : 0;
	/* A tag saying what this is, then a digest of the platform's identity
	 * (its PDH public key), stable for a given key. */
	uint8_t *out = id;
	unsigned int n = 0;
	memset(out, 0, 16);
	memcpy(out, SOFT_ID_TAG, sizeof(SOFT_ID_TAG) - 1);
	if (!EVP_Digest(s->pdh_cert + CERT_OFF_PUBKEY, CERT_PUBKEY_SIZE, out + 16, &n, EVP_sha384(),
			NULL) ||
	    n != SOFT_ID_SIZE - 16)
		return internal(fw, st, "GET_ID", -EIO);
	*st = SEVMIG_FW_SUCCESS;
	return 0;
}

static void soft_free(struct soft *s)
{
	if (!s)
		return;
	if (s->nslots) { /* the pool was set up */
		session_end(s);
		pthread_mutex_destroy(&s->pool_lock);
		pthread_cond_destroy(&s->pool_cond);
	}
	if (s->iv_pages)
		munmap(s->iv_pages, (size_t)s->nslots * SEVMIG_PAGE_SIZE);
	free(s->slots);
	EVP_PKEY_free(s->pdh);
	EVP_PKEY_free(s->pek);
	EVP_PKEY_free(s->oca);
	EVP_PKEY_free(s->cek);
	EVP_MAC_free(s->hmac);
	EVP_CIPHER_free(s->aes_ctr);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

static void soft_destroy(struct sevmig_fw *fw)
{
	soft_free(soft_of(fw));
	fw->priv = NULL;
}

static const struct sevmig_fw_ops soft_ops = {
	.name = "soft",
	.send_start = soft_send_start,
	.send_update_data = soft_send_update_data,
	.send_update_vmsa = soft_send_update_vmsa,
	.send_finish = soft_send_finish,
	.send_cancel = soft_send_cancel,
	.receive_start = soft_receive_start,
	.receive_update_data = soft_receive_update_data,
	.receive_update_vmsa = soft_receive_update_vmsa,
	.receive_finish = soft_receive_finish,
	.guest_status = soft_guest_status,
	.dbg_decrypt = soft_dbg_decrypt,
	.dbg_encrypt = soft_dbg_encrypt,
	.platform_status = soft_platform_status,
	.pdh_cert_export = soft_pdh_cert_export,
	.get_id = soft_get_id,
	.destroy = soft_destroy,
};

/* ---- construction --------------------------------------------------------------- */

/* The platform's keys and certificates. The chain is the model's own: CEK
 * and OCA sign themselves (on hardware AMD's ASK signs the CEK), the PEK is
 * signed by both, the PDH by the PEK. */
static int make_identity(struct soft *s, const struct sevmig_fw_soft_opts *o,
			 struct sevmig_error *err)
{
	char msg[200];
	const char *path = SEVMIG__OPT(o, pdh_key_path, NULL);
	const void *pem = SEVMIG__OPT(o, pdh_key_pem, NULL);
	const char *oca_path = SEVMIG__OPT(o, oca_key_path, NULL);
	int rc;
	if (path)
		rc = sevmig__soft_key_load(path, &s->pdh, msg, sizeof(msg));
	else if (pem)
		rc = sevmig__soft_key_from_pem(pem, SEVMIG__OPT(o, pdh_key_pem_len, 0), &s->pdh,
					       msg, sizeof(msg));
	else
		rc = sevmig__soft_key_generate(&s->pdh);
	if (rc)
		return sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "PDH key: %s",
				    path || pem ? msg : "key generation failed");
	if (oca_path) {
		rc = sevmig__soft_key_load(oca_path, &s->oca, msg, sizeof(msg));
		if (rc)
			return sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "OCA key: %s", msg);
		s->oca_external = true;
	} else if ((rc = sevmig__soft_key_generate(&s->oca))) {
		return sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "OCA key generation failed");
	}
	if ((rc = sevmig__soft_key_generate(&s->pek)) || (rc = sevmig__soft_key_generate(&s->cek)))
		return sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "key generation failed");
	const struct sevmig__soft_signer oca = { s->oca, USAGE_OCA }, cek = { s->cek, USAGE_CEK },
					 pek = { s->pek, USAGE_PEK };
	uint8_t *pek_cert = s->chain, *oca_cert = pek_cert + SEVMIG_CERT_SIZE,
		*cek_cert = oca_cert + SEVMIG_CERT_SIZE;
	if ((rc = sevmig__soft_cert_make(cek_cert, s->cek, USAGE_CEK, SOFT_SIG_ALGO, &cek, NULL)) ||
	    (rc = sevmig__soft_cert_make(oca_cert, s->oca, USAGE_OCA, SOFT_SIG_ALGO, &oca, NULL)) ||
	    (rc = sevmig__soft_cert_make(pek_cert, s->pek, USAGE_PEK, SOFT_SIG_ALGO, &oca, &cek)) ||
	    (rc =
		 sevmig__soft_cert_make(s->pdh_cert, s->pdh, USAGE_PDH, SOFT_PDH_ALGO, &pek, NULL)))
		return sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0,
				    "signing the certificates failed");
	return 0;
}

static int make_pool(struct soft *s, unsigned n)
{
	s->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	s->aes_ctr = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
	if (!s->hmac || !s->aes_ctr)
		return -EIO;
	s->slots = aligned_alloc(SLOT_ALIGN, n * sizeof(*s->slots));
	if (!s->slots)
		return -ENOMEM;
	memset(s->slots, 0, n * sizeof(*s->slots));
	for (unsigned i = 0; i < n; i++)
		atomic_init(&s->slots[i].busy, false);
	atomic_init(&s->waiters, 0);
	if (pthread_mutex_init(&s->pool_lock, NULL))
		return -ENOMEM;
	if (pthread_cond_init(&s->pool_cond, NULL)) {
		pthread_mutex_destroy(&s->pool_lock);
		return -ENOMEM;
	}
	s->nslots = n;
	/* Without MADV_WIPEONFORK (Linux < 4.14) every IV comes straight from
	 * RAND_bytes(), slower but as safe. */
	size_t len = (size_t)n * SEVMIG_PAGE_SIZE;
	void *pages = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages != MAP_FAILED && madvise(pages, len, MADV_WIPEONFORK)) {
		munmap(pages, len);
		pages = MAP_FAILED;
	}
	if (pages != MAP_FAILED) {
		s->iv_pages = pages;
		/* One page per slot: page-aligned, so every cache is aligned. */
		struct iv_cache *first = pages;
		for (unsigned i = 0; i < n; i++)
			s->slots[i].ivs = (struct iv_cache *)(void *)((unsigned char *)first +
								      (size_t)i * SEVMIG_PAGE_SIZE);
	}
	return 0;
}

int sevmig_fw_soft_new(const struct sevmig_fw_soft_opts *o, struct sevmig_fw **out,
		       struct sevmig_error *err)
{
	if (!out)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no handle to fill");
	*out = NULL;
	if (!SEVMIG__OPTS_VALID(o, struct sevmig_fw_soft_opts, oca_key_path))
		return sevmig__fail(
		    err, -EINVAL, SEVMIG_NO_OFFSET, 0,
		    "software firmware options: bad size or non-zero unknown fields");
	bool launch = SEVMIG__OPT(o, launch, false);
	uint32_t policy = SEVMIG__OPT(o, policy, 0);
	bool es = !SEVMIG__OPT(o, no_es, false);
	unsigned threads = SEVMIG__OPT(o, max_threads, 0);
	if (!launch && policy)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "a policy was given but no guest is launched");
	if ((policy & SEVMIG_POLICY_ES) && !es)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "policy 0x%x needs SEV-ES and the platform has none", policy);
	if (SEVMIG_POLICY_API_MAJOR(policy) > SOFT_API_MAJOR ||
	    (SEVMIG_POLICY_API_MAJOR(policy) == SOFT_API_MAJOR &&
	     SEVMIG_POLICY_API_MINOR(policy) > SOFT_API_MINOR))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "policy 0x%x needs firmware API %u.%u; the model is %u.%u",
				    policy, SEVMIG_POLICY_API_MAJOR(policy),
				    SEVMIG_POLICY_API_MINOR(policy), SOFT_API_MAJOR,
				    SOFT_API_MINOR);
	if (SEVMIG__OPT(o, pdh_key_path, NULL) && SEVMIG__OPT(o, pdh_key_pem, NULL))
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "give the PDH key as a path or as PEM text, not both");
	if (threads > SOFT_MAX_THREADS)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0,
				    "max_threads %u is above the limit %u", threads,
				    SOFT_MAX_THREADS);
	if (!threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n < 1 ? 1 : n > (long)SOFT_MAX_THREADS ? SOFT_MAX_THREADS : (unsigned)n;
	}
	struct soft *s = calloc(1, sizeof(*s));
	if (!s)
		return sevmig__fail(err, -ENOMEM, SEVMIG_NO_OFFSET, 0, "out of memory");
	s->es = es;
	if (launch) {
		s->state = SEVMIG_GUEST_RUNNING;
		s->policy = policy;
	}
	int rc = make_identity(s, o, err);
	if (!rc && (rc = make_pool(s, threads)))
		sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "setting up the packet contexts failed");
	if (!rc && (rc = sevmig__fw_new(&soft_ops, s, threads, out)))
		sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "out of memory");
	if (rc)
		soft_free(s);
	return rc;
}

/* ---- the PDH key out of the handle ---------------------------------------------- */

static int pdh_pem(struct sevmig_fw *fw, char **pem, size_t *len)
{
	if (!fw || fw->ops != &soft_ops)
		return -EINVAL;
	int rc = sevmig__soft_key_to_pem(soft_of(fw)->pdh, pem, len);
	if (rc)
		return sevmig__fw_fail(fw, rc, SEVMIG_FW_STATUS_NONE,
				       "the PDH key could not be written as PEM");
	return 0;
}

int sevmig_fw_soft_export_pdh_key(struct sevmig_fw *fw, void *buf, size_t *len)
{
	if (!len)
		return -EINVAL;
	char *pem;
	size_t n;
	SEVMIG__TRY(pdh_pem(fw, &pem, &n));
	int rc = 0;
	if (buf && *len < n) {
		rc = sevmig__fw_fail(fw, -ENOSPC, SEVMIG_FW_STATUS_NONE,
				     "the PDH key needs %zu bytes of PEM, the buffer has %zu", n,
				     *len);
	} else if (buf) {
		memcpy(buf, pem, n);
		if (*len > n)
			((char *)buf)[n] = '\0';
	}
	*len = n;
	sevmig__soft_secret_free(pem, n);
	return rc;
}

int sevmig_fw_soft_save_pdh_key(struct sevmig_fw *fw, const char *path)
{
	if (!path)
		return -EINVAL;
	char *pem;
	size_t n;
	SEVMIG__TRY(pdh_pem(fw, &pem, &n));
	/* Written to a private temporary file, then renamed: the key is never
	 * readable by others, and a crash leaves no half-written key. */
	size_t plen = strlen(path);
	char *tmp = malloc(plen + sizeof(".XXXXXX"));
	int rc = 0, fd = -1;
	if (!tmp) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".XXXXXX", sizeof(".XXXXXX"));
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (fchmod(fd, S_IRUSR | S_IWUSR)) {
		rc = -errno;
		goto out;
	}
	for (size_t done = 0; done < n;) {
		ssize_t w = write(fd, pem + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			goto out;
		}
		done += (size_t)w;
	}
	if (fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	fd = -1;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	sevmig__soft_secret_free(pem, n);
	if (rc)
		return sevmig__fw_fail(fw, rc, SEVMIG_FW_STATUS_NONE,
				       "saving the PDH key to %s: %s", path, strerror(-rc));
	return 0;
}
