/* SPDX-License-Identifier: MIT */
/*
 * The record codec: the payload layouts of docs/stream-format.md §4 for the
 * records that carry pages, as encode and decode views. The writer (the
 * sender's jobs), the reader, the receiver and the tag computation all go
 * through these; no other code knows where a gfn or a packet sits.
 * Decoders assume a payload the reader has bounded (its length checked
 * against the counts with the *_len() functions).
 */
#ifndef SEVMIG_STREAM_RECORD_H
#define SEVMIG_STREAM_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "util/endian.h"

#define SM_PKT_HDR     0x34u /* SEND_UPDATE_DATA packet header */
#define SM_PAGE	       4096u
#define SM_PKT	       (SM_PKT_HDR + SM_PAGE) /* one packet: header + ciphertext */
#define SM_ENC_ENTRY   (8u + SM_PKT)	      /* gfn + packet */
#define SM_ENC_FIXED   16u		      /* n, header length, page length, reserved */
#define SM_PLAIN_FIXED 16u		      /* n, codec, data length, reserved */
#define SM_ZERO_FIXED  8u		      /* runs, reserved */
#define SM_VMSA_LEN    (16u + SM_PKT)	      /* vCPU, lengths, reserved, packet */

/* A record's type, from its header (§4). */
static inline uint16_t sevmig__rec_type(const uint8_t *hdr)
{
	return sevmig__le16(hdr);
}
static inline int sevmig__rec_carries_pages(uint16_t type)
{
	return type == 3 || type == 4 || type == 5; /* ENC, PLAIN, ZERO */
}

/* ---- ENC: n, 52, 4096, 0; n gfns; n packets ---------------------------- */

static inline size_t sevmig__enc_len(uint64_t n)
{
	return SM_ENC_FIXED + (size_t)n * SM_ENC_ENTRY;
}
static inline uint32_t sevmig__enc_count(const uint8_t *p)
{
	return sevmig__le32(p);
}
/* The lengths the fixed part declares are the packet's: 52 and 4096. */
static inline int sevmig__enc_lengths_ok(const uint8_t *p)
{
	return sevmig__le32(p + 4) == SM_PKT_HDR && sevmig__le32(p + 8) == SM_PAGE &&
	       !sevmig__le32(p + 12);
}
static inline const uint8_t *sevmig__enc_gfns(const uint8_t *p)
{
	return p + SM_ENC_FIXED;
}
static inline uint64_t sevmig__enc_gfn(const uint8_t *p, uint32_t i)
{
	return sevmig__le64(p + SM_ENC_FIXED + 8 * (size_t)i);
}
/* Packet i of a record of n packets (its header, then its ciphertext). */
static inline const uint8_t *sevmig__enc_packet(const uint8_t *p, uint32_t n, uint32_t i)
{
	return p + SM_ENC_FIXED + 8 * (size_t)n + (size_t)i * SM_PKT;
}
static inline uint8_t *sevmig__enc_packet_w(uint8_t *p, uint32_t n, uint32_t i)
{
	return p + SM_ENC_FIXED + 8 * (size_t)n + (size_t)i * SM_PKT;
}
static inline void sevmig__enc_put_head(uint8_t *p, uint32_t n)
{
	sevmig__put_le32(p, n);
	sevmig__put_le32(p + 4, SM_PKT_HDR);
	sevmig__put_le32(p + 8, SM_PAGE);
	sevmig__put_le32(p + 12, 0);
}
static inline void sevmig__enc_put_gfn(uint8_t *p, uint32_t i, uint64_t gfn)
{
	sevmig__put_le64(p + SM_ENC_FIXED + 8 * (size_t)i, gfn);
}

/* ---- PLAIN: n, codec, d, 0; n gfns; d bytes of page data --------------- */

static inline size_t sevmig__plain_len(uint64_t n, uint64_t d)
{
	return SM_PLAIN_FIXED + 8 * (size_t)n + (size_t)d;
}
static inline uint32_t sevmig__plain_count(const uint8_t *p)
{
	return sevmig__le32(p);
}
static inline uint32_t sevmig__plain_codec(const uint8_t *p)
{
	return sevmig__le32(p + 4);
}
static inline uint32_t sevmig__plain_dlen(const uint8_t *p)
{
	return sevmig__le32(p + 8);
}
static inline uint32_t sevmig__plain_reserved(const uint8_t *p)
{
	return sevmig__le32(p + 12);
}
static inline const uint8_t *sevmig__plain_gfns(const uint8_t *p)
{
	return p + SM_PLAIN_FIXED;
}
static inline uint64_t sevmig__plain_gfn(const uint8_t *p, uint32_t i)
{
	return sevmig__le64(p + SM_PLAIN_FIXED + 8 * (size_t)i);
}
static inline const uint8_t *sevmig__plain_data(const uint8_t *p, uint32_t n)
{
	return p + SM_PLAIN_FIXED + 8 * (size_t)n;
}
static inline uint8_t *sevmig__plain_data_w(uint8_t *p, uint32_t n)
{
	return p + SM_PLAIN_FIXED + 8 * (size_t)n;
}
static inline void sevmig__plain_put_head(uint8_t *p, uint32_t n, uint32_t codec, uint32_t d)
{
	sevmig__put_le32(p, n);
	sevmig__put_le32(p + 4, codec);
	sevmig__put_le32(p + 8, d);
	sevmig__put_le32(p + 12, 0);
}
static inline void sevmig__plain_put_gfn(uint8_t *p, uint32_t i, uint64_t gfn)
{
	sevmig__put_le64(p + SM_PLAIN_FIXED + 8 * (size_t)i, gfn);
}

/* ---- ZERO: runs, 0; runs x (gfn, pages) ---------------------------------- */

static inline size_t sevmig__zero_len(uint64_t runs)
{
	return SM_ZERO_FIXED + 16 * (size_t)runs;
}
static inline uint32_t sevmig__zero_runs(const uint8_t *p)
{
	return sevmig__le32(p);
}
static inline uint32_t sevmig__zero_reserved(const uint8_t *p)
{
	return sevmig__le32(p + 4);
}
static inline void sevmig__zero_run(const uint8_t *p, uint32_t i, uint64_t *gfn, uint64_t *n)
{
	*gfn = sevmig__le64(p + SM_ZERO_FIXED + 16 * (size_t)i);
	*n = sevmig__le64(p + SM_ZERO_FIXED + 16 * (size_t)i + 8);
}
static inline void sevmig__zero_put_head(uint8_t *p, uint32_t runs)
{
	sevmig__put_le32(p, runs);
	sevmig__put_le32(p + 4, 0);
}
static inline void sevmig__zero_put_run(uint8_t *p, uint32_t i, uint64_t gfn, uint64_t n)
{
	sevmig__put_le64(p + SM_ZERO_FIXED + 16 * (size_t)i, gfn);
	sevmig__put_le64(p + SM_ZERO_FIXED + 16 * (size_t)i + 8, n);
}

/* ---- VMSA: vCPU, 52, 4096, 0; one packet ---------------------------------- */

static inline uint32_t sevmig__vmsa_vcpu(const uint8_t *p)
{
	return sevmig__le32(p);
}
static inline int sevmig__vmsa_lengths_ok(const uint8_t *p)
{
	return sevmig__enc_lengths_ok(p);
}
static inline const uint8_t *sevmig__vmsa_packet(const uint8_t *p)
{
	return p + 16;
}
static inline uint8_t *sevmig__vmsa_packet_w(uint8_t *p)
{
	return p + 16;
}
static inline void sevmig__vmsa_put_head(uint8_t *p, uint32_t vcpu)
{
	sevmig__enc_put_head(p, vcpu);
}

#endif
