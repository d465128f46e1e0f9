/* SPDX-License-Identifier: MIT */
/*
 * The "soft" firmware backend: a software model of the SEV firmware's
 * migration commands, built on OpenSSL, for machines without SEV hardware.
 *
 * It answers every command of <sevmig/fw.h> with the byte layouts and the
 * cryptography of the SEV API: a P-384 platform Diffie-Hellman key (PDH)
 * certified by the model's own endorsement chain (PEK, OCA, CEK; not AMD's),
 * the SEND_START session (TEK/TIK wrapped under KEK/KIK from ECDH and the
 * SP 800-108 KDF), AES-128-CTR + HMAC-SHA-256 packets, the guest policy and
 * the guest state machine, with the firmware's status codes. What differs
 * from hardware: guest memory is plaintext in this process (there is no
 * memory-encryption key), so the `guest` buffers are the plaintext pages and
 * DBG_DECRYPT/DBG_ENCRYPT are copies. docs/soft-firmware.md says exactly
 * what is modelled and how.
 *
 * A handle is one platform with one guest. Secrets (PDH private key, session
 * keys) stay inside the handle, are wiped when a session ends and when the
 * handle is freed, and never appear in any output or message.
 *
 * Threads: as <sevmig/fw.h> says; up to sevmig_fw_max_threads() threads may
 * run the UPDATE_DATA commands at once on one handle.
 */
#ifndef SEVMIG_FW_SOFT_H
#define SEVMIG_FW_SOFT_H

#include <sevmig/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sevmig_fw;

struct sevmig_fw_soft_opts {
	size_t sz; /* SEVMIG_OPTS */
	/* PEM file with the platform's P-384 PDH private key (as written by
	 * sevmig_fw_soft_save_pdh_key() or `openssl genpkey -algorithm EC
	 * -pkeyopt ec_paramgen_curve:P-384`). NULL: pdh_key_pem below, or a
	 * freshly generated key. */
	const char *pdh_key_path;
	/* Start with one guest launched and RUNNING, as after LAUNCH_FINISH (a
	 * migration source). false: no guest yet (a migration target, whose
	 * guest RECEIVE_START creates). */
	bool launch;
	uint32_t policy;      /* the launched guest's policy (SEVMIG_POLICY_*) */
	bool no_es;	      /* a platform without SEV-ES (default: SEV-ES enabled) */
	unsigned max_threads; /* UPDATE_DATA concurrency; 0: the online CPUs */
	/* The PDH key as PEM text in memory, used when pdh_key_path is NULL. */
	const void *pdh_key_pem;
	size_t pdh_key_pem_len;
	/* PEM file with a P-384 key for the platform owner's certificate
	 * authority (OCA). Platforms sharing it are one "domain", to which a
	 * guest with SEVMIG_POLICY_DOMAIN may be sent. NULL: a key unique to
	 * this platform. */
	const char *oca_key_path;
};

/*
 * A new software platform: 0 with *out set, or -EINVAL (bad options),
 * -ENOENT/-EACCES (key file), -EBADMSG (the key is not a P-384 private key
 * in PEM), -ENOMEM, -EIO (OpenSSL failure). opts may be NULL (defaults: a
 * fresh key, no guest).
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_soft_new(const struct sevmig_fw_soft_opts *opts,
						   struct sevmig_fw **out,
						   struct sevmig_error *err);

/* Write the platform's PDH private key as PEM (PKCS#8) to `path`, created
 * with mode 0600 and replaced atomically. -EINVAL if fw is not a soft
 * handle; a negative errno from the file system otherwise. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_soft_save_pdh_key(struct sevmig_fw *fw, const char *path);

/* The same PEM text into a buffer: *len in = capacity, out = length
 * (without a NUL; one is appended when room allows). buf NULL asks for the
 * length; a short buffer gives -ENOSPC with *len set. The caller should
 * wipe the buffer after use. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_soft_export_pdh_key(struct sevmig_fw *fw, void *buf,
							      size_t *len);

#ifdef __cplusplus
}
#endif
#endif
