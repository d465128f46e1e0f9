/* SPDX-License-Identifier: MIT */
/*
 * The software firmware's reading of the SEV API, in one place: layouts,
 * constants, and every choice made where AMD's specification is not public
 * (each marked CHOICE, explained in docs/soft-firmware.md). Sources are in
 * ../shared/reference/sev-facts.md section 4.
 */
#ifndef SEVMIG_FW_SOFT_SPEC_H
#define SEVMIG_FW_SOFT_SPEC_H

#include <sevmig/fw.h>

/* ---- what PLATFORM_STATUS reports ---------------------------------------- */

/* CHOICE: the API version of the firmware the model follows (AMD's published
 * Genoa SEV firmware, API 1.55); build 0 marks it as no AMD build. */
#define SOFT_API_MAJOR	      1
#define SOFT_API_MINOR	      55
#define SOFT_BUILD	      0
#define SOFT_PLATFORM_INIT    1
#define SOFT_PLATFORM_WORKING 2
/* The model has one guest; its handle. */
#define SOFT_GUEST_HANDLE 1u
/* GET_ID: 64 bytes = this 16-byte tag, then SHA-384 of the PDH public key. */
#define SOFT_ID_SIZE 64u
#define SOFT_ID_TAG  "SEVMIG SOFT FW"

/* ---- SEV certificate (0x824 bytes) ----------------------------------------- */

#define CERT_OFF_VERSION   0x000
#define CERT_OFF_API_MAJOR 0x004
#define CERT_OFF_API_MINOR 0x005
#define CERT_OFF_RESERVED  0x006
#define CERT_OFF_PUB_USAGE 0x008
#define CERT_OFF_PUB_ALGO  0x00C
#define CERT_OFF_PUBKEY	   0x010
#define CERT_PUBKEY_SIZE   0x404
#define CERT_BODY_SIZE	   0x414 /* the signed region, 0x000-0x413 */
#define CERT_OFF_SIG1	   0x414
#define CERT_OFF_SIG2	   0x61C
#define CERT_SIG_SLOT_SIZE 0x208 /* usage u32, algo u32, signature 0x200 */
#define CERT_SIG_SIZE	   0x200
/* Inside the public key area (EC form) and inside a signature (ECDSA). */
#define CERT_EC_CURVE	  0x000
#define CERT_EC_QX	  0x004
#define CERT_EC_QY	  0x04C
#define CERT_EC_COMPONENT 0x48 /* little-endian, zero-padded to 72 bytes */
#define CERT_EC_END	  (CERT_EC_QY + CERT_EC_COMPONENT)
#define CERT_SIG_R	  0x000
#define CERT_SIG_S	  0x048
#define CERT_SIG_END	  0x090

#define CERT_VERSION	1u
#define CERT_CURVE_P384 2u
#define P384_BYTES	48u

enum cert_usage {
	USAGE_ARK = 0x0000,
	USAGE_ASK = 0x0013,
	USAGE_INVALID = 0x1000,
	USAGE_OCA = 0x1001,
	USAGE_PEK = 0x1002,
	USAGE_PDH = 0x1003,
	USAGE_CEK = 0x1004,
};
enum cert_algo {
	ALGO_INVALID = 0x000,
	ALGO_RSA_SHA256 = 0x001,
	ALGO_ECDSA_SHA256 = 0x002,
	ALGO_ECDH_SHA256 = 0x003,
	ALGO_RSA_SHA384 = 0x101,
	ALGO_ECDSA_SHA384 = 0x102,
	ALGO_ECDH_SHA384 = 0x103,
};
/* The PDH key's algorithm: the only one AMD's firmware accepts for a PDH
 * (sev_cert_sanity_check), so the model writes and requires it. */
#define SOFT_PDH_ALGO ALGO_ECDH_SHA256
/* The algorithm of the model's PEK, OCA and CEK keys and so of the
 * signatures they make: ECDSA_SHA256 (0x002), as AMD's firmware creates
 * them (AMD-ASPFW generates the PEK so): ECDSA on P-384 over a SHA-256
 * digest of the body,
 * the 32-byte digest taken as the integer e (FIPS 186-4: no truncation is
 * needed, it is shorter than the curve's order). Either ECDSA algorithm
 * verifies. */
#define SOFT_SIG_ALGO ALGO_ECDSA_SHA256

/* ---- session blob (SEND_START output, 0x80 bytes) ------------------------- */

#define SESS_OFF_NONCE	    0x00
#define SESS_OFF_WRAP_TK    0x10
#define SESS_OFF_WRAP_IV    0x30
#define SESS_OFF_WRAP_MAC   0x40
#define SESS_OFF_POLICY_MAC 0x60
#define KEY_SIZE	    16u /* TEK, TIK, KEK, KIK, master secret */
#define NONCE_SIZE	    16u
#define IV_SIZE		    16u
#define MAC_SIZE	    32u

#define KDF_LABEL_MASTER "sev-master-secret"
#define KDF_LABEL_KEK	 "sev-kek"
#define KDF_LABEL_KIK	 "sev-kik"

/* CHOICE: what RECEIVE_START answers when WRAP_MAC or POLICY_MAC does not
 * verify. AMD's status for it is not published; BAD_MEASUREMENT is what the
 * same firmware's HMAC check answers for a packet MAC. */
#define SOFT_SESSION_MAC_STATUS SEVMIG_FW_BAD_MEASUREMENT

/* ---- packets (SEND_UPDATE_* output, RECEIVE_UPDATE_* input) --------------- */

#define PKT_OFF_FLAGS	    0x00
#define PKT_OFF_IV	    0x04
#define PKT_OFF_MAC	    0x14
#define PKT_FLAG_COMPRESSED 0x1u
#define PKT_AAD_SIZE	    29u /* ctx(1) flags(4) iv(16) guest_len(4) trans_len(4) */
/* CHOICE: channel context of both DATA and VMSA packets, as AMD's Genoa
 * firmware uses (older firmware may have used 0x03 for VMSA). */
#define CHANNEL_CTX_DATA 0x02
#define CHANNEL_CTX_VMSA CHANNEL_CTX_DATA
#define PKT_ALIGN	 16u /* guest_len granularity and guest address alignment */

/* CHOICE: the model's own failures (OpenSSL out of memory, ...), reported
 * as a platform hardware error. */
#define SOFT_INTERNAL_STATUS SEVMIG_FW_HWERROR_PLATFORM

#endif
