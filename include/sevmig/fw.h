/* SPDX-License-Identifier: MIT */
/*
 * The SEV firmware's migration commands, behind one handle whatever the
 * backend: "kvm" (the real firmware through KVM_MEMORY_ENCRYPT_OP and
 * /dev/sev, <sevmig/fw_kvm.h>) or "soft" (a software model built on OpenSSL,
 * <sevmig/fw_soft.h>). A handle drives one guest on one platform.
 *
 * Every command returns 0 or a negative errno, and fills *fw_status (when
 * not NULL) with the firmware's status code, or SEVMIG_FW_STATUS_NONE when
 * the firmware was not reached. A firmware refusal is -EIO with the status
 * set; sevmig_fw_last_error() then says in words what was refused and why.
 * Buffers are plain pointers and lengths in this process; the backend takes
 * care of the kernel's conventions (length queries, user addresses).
 *
 * Size queries: where a command says "NULL asks for the size", a NULL buffer
 * returns 0 with the lengths filled and *fw_status SUCCESS (the firmware
 * answers such a query with INVALID_LENGTH; every backend reports the
 * answered query as a success). A buffer that is too short gives -ENOSPC
 * with the needed length written back.
 *
 * Threads: sevmig_fw_send_update_data() and sevmig_fw_receive_update_data()
 * may be called by up to sevmig_fw_max_threads() threads at once on one
 * handle; every other call needs exclusive use of the handle.
 */
#ifndef SEVMIG_FW_H
#define SEVMIG_FW_H

#include <sevmig/common.h>
#include <sevmig/pstate.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sevmig_fw;

/* ---- firmware status codes (SEV API; 16 bits wide) -------------------- */

#define SEVMIG_FW_STATUS_NONE UINT32_MAX /* the firmware was not called */

enum sevmig_fw_status {
	SEVMIG_FW_SUCCESS = 0x00,
	SEVMIG_FW_INVALID_PLATFORM_STATE = 0x01,
	SEVMIG_FW_INVALID_GUEST_STATE = 0x02,
	SEVMIG_FW_INVALID_CONFIG = 0x03,
	SEVMIG_FW_INVALID_LENGTH = 0x04,
	SEVMIG_FW_ALREADY_OWNED = 0x05,
	SEVMIG_FW_INVALID_CERTIFICATE = 0x06,
	SEVMIG_FW_POLICY_FAILURE = 0x07,
	SEVMIG_FW_INACTIVE = 0x08,
	SEVMIG_FW_INVALID_ADDRESS = 0x09,
	SEVMIG_FW_BAD_SIGNATURE = 0x0A,
	SEVMIG_FW_BAD_MEASUREMENT = 0x0B,
	SEVMIG_FW_ASID_OWNED = 0x0C,
	SEVMIG_FW_INVALID_ASID = 0x0D,
	SEVMIG_FW_WBINVD_REQUIRED = 0x0E,
	SEVMIG_FW_DF_FLUSH_REQUIRED = 0x0F,
	SEVMIG_FW_INVALID_GUEST = 0x10,
	SEVMIG_FW_INVALID_COMMAND = 0x11,
	SEVMIG_FW_ACTIVE = 0x12,
	SEVMIG_FW_HWERROR_PLATFORM = 0x13,
	SEVMIG_FW_HWERROR_UNSAFE = 0x14,
	SEVMIG_FW_UNSUPPORTED = 0x15,
	SEVMIG_FW_INVALID_PARAM = 0x16,
	SEVMIG_FW_RESOURCE_LIMIT = 0x17,
	SEVMIG_FW_SECURE_DATA_INVALID = 0x18,
	SEVMIG_FW_INVALID_PAGE_SIZE = 0x19,
	SEVMIG_FW_INVALID_PAGE_STATE = 0x1A,
	SEVMIG_FW_INVALID_MDATA_ENTRY = 0x1B,
	SEVMIG_FW_INVALID_PAGE_OWNER = 0x1C,
	SEVMIG_FW_AEAD_OFLOW = 0x1D,
	SEVMIG_FW_RING_BUFFER_EXIT = 0x1F,
	SEVMIG_FW_RMP_INIT_REQUIRED = 0x20,
	SEVMIG_FW_BAD_SVN = 0x21,
	SEVMIG_FW_BAD_VERSION = 0x22,
	SEVMIG_FW_SHUTDOWN_REQUIRED = 0x23,
	SEVMIG_FW_UPDATE_FAILED = 0x24,
	SEVMIG_FW_RESTORE_REQUIRED = 0x25,
	SEVMIG_FW_RMP_INITIALIZATION_FAILED = 0x26,
	SEVMIG_FW_INVALID_KEY = 0x27,
};
/* The specification's name ("INVALID_GUEST_STATE"), "NONE" for
 * SEVMIG_FW_STATUS_NONE, "UNKNOWN" for codes it does not define. */
SEVMIG_API const char *sevmig_fw_status_name(uint32_t status);
/* One sentence saying what the status means. Never NULL. */
SEVMIG_API const char *sevmig_fw_status_description(uint32_t status);

/* ---- formats and limits of the SEV API -------------------------------- */

#define SEVMIG_CERT_SIZE       0x824u		       /* one SEV certificate */
#define SEVMIG_CERT_CHAIN_SIZE (3u * SEVMIG_CERT_SIZE) /* PEK || OCA || CEK */
#define SEVMIG_SESSION_SIZE    0x80u		       /* SEND_START session blob */
#define SEVMIG_PACKET_HDR_SIZE 0x34u		       /* SEND_UPDATE_* packet header */
#define SEVMIG_PACKET_MAX      0x5000u		       /* firmware limit on guest_len */
#define SEVMIG_VMSA_SIZE       4096u

/* Guest policy bits. */
#define SEVMIG_POLICY_NODBG	    (1u << 0) /* debug commands refused */
#define SEVMIG_POLICY_NOKS	    (1u << 1) /* no key sharing */
#define SEVMIG_POLICY_ES	    (1u << 2) /* SEV-ES required */
#define SEVMIG_POLICY_NOSEND	    (1u << 3) /* SEND_START refused */
#define SEVMIG_POLICY_DOMAIN	    (1u << 4) /* send only to a platform with the same OCA */
#define SEVMIG_POLICY_SEV	    (1u << 5) /* send only to a platform with a valid AMD chain */
#define SEVMIG_POLICY_RESERVED_MASK 0xFFC0u
#define SEVMIG_POLICY_API_MAJOR(p)  (((p) >> 16) & 0xFFu)
#define SEVMIG_POLICY_API_MINOR(p)  (((p) >> 24) & 0xFFu)

/* Guest states (GUEST_STATUS). */
enum sevmig_guest_state {
	SEVMIG_GUEST_UNINIT = 0,
	SEVMIG_GUEST_LUPDATE = 1,
	SEVMIG_GUEST_LSECRET = 2,
	SEVMIG_GUEST_RUNNING = 3,
	SEVMIG_GUEST_SUPDATE = 4,
	SEVMIG_GUEST_RUPDATE = 5,
	SEVMIG_GUEST_SENT = 6,
};
/* "RUNNING", ... ; "UNKNOWN" otherwise. */
SEVMIG_API const char *sevmig_guest_state_name(uint32_t state);

/* ---- the handle ----------------------------------------------------------- */

SEVMIG_API void sevmig_fw_free(struct sevmig_fw *fw);
/* "kvm" or "soft". */
SEVMIG_API const char *sevmig_fw_backend_name(const struct sevmig_fw *fw);
/* How many threads may run the UPDATE_DATA commands at once (>= 1). */
SEVMIG_API unsigned sevmig_fw_max_threads(const struct sevmig_fw *fw);
/* The message of the last failed call on this handle ("" if none). The
 * string belongs to the handle and changes with the next call. */
SEVMIG_API const char *sevmig_fw_last_error(const struct sevmig_fw *fw);

/* ---- source side -------------------------------------------------------- */

struct sevmig_fw_send_start {
	const void *pdh_cert; /* the target's PDH certificate */
	uint32_t pdh_cert_len;
	const void *plat_certs; /* the target's PEK || OCA || CEK; may be NULL */
	uint32_t plat_certs_len;
	const void *amd_certs; /* ASK || ARK; may be NULL */
	uint32_t amd_certs_len;
	void *session;	      /* out: the session blob; NULL asks for its size */
	uint32_t session_len; /* in: capacity of session; out: its length */
	uint32_t policy;      /* out: the guest's policy */
};
/* SEND_START. With session NULL, only session_len is filled. A session
 * buffer shorter than needed gives -ENOSPC with session_len set. */
SEVMIG_API SEVMIG_NODISCARD int
sevmig_fw_send_start(struct sevmig_fw *fw, struct sevmig_fw_send_start *p, uint32_t *fw_status);

struct sevmig_fw_send_update {
	const void *guest; /* the guest bytes, inside one 4 KiB page of guest memory */
	uint32_t guest_len;
	void *hdr;	    /* out: packet header; NULL asks for the sizes */
	uint32_t hdr_len;   /* in: capacity; out: length */
	void *trans;	    /* out: ciphertext */
	uint32_t trans_len; /* in: capacity; out: length */
};
/* SEND_UPDATE_DATA: encrypt guest bytes for transport. With hdr or trans
 * NULL, only the lengths are filled. Short buffers give -ENOSPC. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_send_update_data(struct sevmig_fw *fw,
							   struct sevmig_fw_send_update *p,
							   uint32_t *fw_status);
/* SEND_UPDATE_VMSA for vCPU `vcpu` (SEV-ES); p->guest is the VMSA as the
 * backend reaches it (soft: the plaintext VMSA; kvm: NULL, the kernel knows
 * it). -EOPNOTSUPP where the kernel has no such command. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_send_update_vmsa(struct sevmig_fw *fw, uint32_t vcpu,
							   struct sevmig_fw_send_update *p,
							   uint32_t *fw_status);
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_send_finish(struct sevmig_fw *fw, uint32_t *fw_status);
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_send_cancel(struct sevmig_fw *fw, uint32_t *fw_status);

/* ---- target side -------------------------------------------------------- */

struct sevmig_fw_receive_start {
	uint32_t policy;      /* the guest's policy, as the source sent it */
	const void *pdh_cert; /* the source's PDH certificate */
	uint32_t pdh_cert_len;
	const void *session;
	uint32_t session_len;
	uint32_t handle; /* out: the new guest's handle */
};
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_receive_start(struct sevmig_fw *fw,
							struct sevmig_fw_receive_start *p,
							uint32_t *fw_status);

struct sevmig_fw_receive_update {
	void *guest; /* destination inside one 4 KiB page of guest memory */
	uint32_t guest_len;
	const void *hdr;
	uint32_t hdr_len;
	const void *trans;
	uint32_t trans_len;
};
/* RECEIVE_UPDATE_DATA: the packet's MAC is checked before any byte reaches
 * guest memory (BAD_MEASUREMENT otherwise). */
SEVMIG_API SEVMIG_NODISCARD int
sevmig_fw_receive_update_data(struct sevmig_fw *fw, const struct sevmig_fw_receive_update *p,
			      uint32_t *fw_status);
/* RECEIVE_UPDATE_VMSA for vCPU `vcpu`; p->guest as for the send side. */
SEVMIG_API SEVMIG_NODISCARD int
sevmig_fw_receive_update_vmsa(struct sevmig_fw *fw, uint32_t vcpu,
			      const struct sevmig_fw_receive_update *p, uint32_t *fw_status);
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_receive_finish(struct sevmig_fw *fw, uint32_t *fw_status);

/* ---- status, debug and platform commands -------------------------------- */

struct sevmig_fw_guest_status {
	uint32_t handle;
	uint32_t policy;
	uint32_t state; /* enum sevmig_guest_state */
};
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_guest_status(struct sevmig_fw *fw,
						       struct sevmig_fw_guest_status *out,
						       uint32_t *fw_status);

/* DBG_DECRYPT / DBG_ENCRYPT of len bytes between guest memory (a host
 * address inside it) and a plain buffer. Refused by a NODBG policy. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_dbg_decrypt(struct sevmig_fw *fw, const void *guest,
						      void *dst, uint32_t len, uint32_t *fw_status);
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_dbg_encrypt(struct sevmig_fw *fw, const void *src,
						      void *guest, uint32_t len,
						      uint32_t *fw_status);

#define SEVMIG_PLATFORM_FLAG_OWNER 0x0001u /* platform owned externally */
#define SEVMIG_PLATFORM_FLAG_ES	   0x0100u /* SEV-ES initialised */
struct sevmig_fw_platform_status {
	uint8_t api_major;
	uint8_t api_minor;
	uint8_t state; /* 0 UNINIT, 1 INIT, 2 WORKING */
	uint8_t build;
	uint32_t flags; /* SEVMIG_PLATFORM_FLAG_* */
	uint32_t guest_count;
	bool soft; /* true: this is libsevmig's software model, not AMD firmware */
};
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_platform_status(struct sevmig_fw *fw,
							  struct sevmig_fw_platform_status *out,
							  uint32_t *fw_status);
/* PDH_CERT_EXPORT: the platform's PDH certificate (SEVMIG_CERT_SIZE) and its
 * chain PEK || OCA || CEK (SEVMIG_CERT_CHAIN_SIZE). Lengths in/out; NULL
 * buffers ask for the sizes; short buffers give -ENOSPC. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_pdh_cert_export(struct sevmig_fw *fw, void *pdh,
							  uint32_t *pdh_len, void *chain,
							  uint32_t *chain_len, uint32_t *fw_status);
/* GET_ID: the platform's unique ID (64 bytes per socket). Length in/out as
 * above. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_get_id(struct sevmig_fw *fw, void *id, uint32_t *id_len,
						 uint32_t *fw_status);

/*
 * Read len bytes of guest memory at gpa, for debuggers: private pages go
 * through DBG_DECRYPT, shared pages are copied directly, as `ps` says
 * (after the page-encryption-bitmap series, which spared the firmware for
 * unencrypted memory). The range must lie in the regions and be covered by
 * ps (-ERANGE).
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_fw_read_guest(struct sevmig_fw *fw,
						     const struct sevmig_pstate *ps,
						     const struct sevmig_mem_region *regions,
						     size_t nregions, uint64_t gpa, void *buf,
						     size_t len, uint32_t *fw_status);

#ifdef __cplusplus
}
#endif
#endif
