/* SPDX-License-Identifier: MIT */
/*
 * Inside the stream layer: the byte layout of docs/stream-format.md as
 * constants, the memory layout (memslots) shared by sender, receiver and
 * reader, the record writer, the ordered worker pool, and the hooks the
 * receiver uses on the reader.
 */
#ifndef SEVMIG_STREAM_INTERNAL_H
#define SEVMIG_STREAM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <openssl/evp.h>
#include <zstd.h>

#include <sevmig/stream.h>

#include "util/buf.h"
#include "util/error.h"

/* ---- format ---------------------------------------------------------------- */

#define SM_HDR_FIXED	  64u	/* header bytes before the memslots */
#define SM_REC_HDR	  20u	/* type, flags, length, sequence, header CRC */
#define SM_REC_OVERHEAD	  24u	/* record header + record CRC */
#define SM_PKT_HDR	  0x34u /* SEND_UPDATE_DATA packet header */
#define SM_PAGE		  4096u
#define SM_ENC_ENTRY	  (8u + SM_PKT_HDR + SM_PAGE) /* gfn + packet */
#define SM_ENC_FIXED	  16u
#define SM_PLAIN_FIXED	  16u
#define SM_ZERO_FIXED	  8u
#define SM_PSTATE_FIXED	  24u
#define SM_SESSION_FIXED  16u
#define SM_VMSA_LEN	  (16u + SM_PKT_HDR + SM_PAGE)
#define SM_ROUND_LEN	  32u
#define SM_END_LEN	  96u
#define SM_END_DIGEST_OFF 64u
#define SM_ABORT_MSG_MAX  1024u
#define SM_CHAIN_SIZE	  0x186Cu
#define SM_MAX_VCPUS	  65536u
#define SM_MAX_WINDOW	  64u
#define SM_DEFAULT_BATCH  256u /* PLAIN: pages per batch */
/* ENC: 32 packets (133 KB) a record, so that the records in flight stay in
 * the workers' caches while the firmware writes them (bench_stream: larger
 * ones cost the firmware's cryptography 10-15 %). */
#define SM_DEFAULT_ENC_BATCH 32u

/* ---- memory layout ------------------------------------------------------- */

struct sevmig__slot {
	uint64_t gfn;
	uint64_t npages;
	uint8_t *host;	 /* NULL for a layout read from a header */
	size_t user_idx; /* position in the caller's region array */
};

struct sevmig__layout {
	struct sevmig__slot *slots; /* sorted by gfn, disjoint */
	size_t n;
	uint64_t total_pages;
};

/* Check and sort the caller's regions (need_host: host pointers required). */
int sevmig__layout_from_regions(const struct sevmig_mem_region *regions, size_t n, bool need_host,
				struct sevmig__layout *out, struct sevmig_error *err);
/* A copy of sorted ranges (already validated). */
int sevmig__layout_from_ranges(const struct sevmig_range *r, size_t n, struct sevmig__layout *out);
void sevmig__layout_free(struct sevmig__layout *l);
/* The slot holding gfn, or -1. `hint` (may be NULL) speeds up sorted lookups. */
long sevmig__layout_find(const struct sevmig__layout *l, uint64_t gfn, size_t *hint);
static inline uint8_t *sevmig__layout_host(const struct sevmig__layout *l, long slot, uint64_t gfn)
{
	return l->slots[slot].host + ((gfn - l->slots[slot].gfn) << SEVMIG_PAGE_SHIFT);
}
/* True when ps covers exactly the layout's pages. */
bool sevmig__layout_covers(const struct sevmig__layout *l, const struct sevmig_pstate *ps);
/* A new page-state map covering the layout, every page private. */
int sevmig__layout_pstate(const struct sevmig__layout *l, struct sevmig_pstate **out);
/* A new map holding src restricted to [first, end) (coverage and states). */
int sevmig__pstate_restrict(const struct sevmig_pstate *src, uint64_t first, uint64_t end,
			    struct sevmig_pstate **out);

/* ---- CRC and SHA-256 ----------------------------------------------------- */

static inline uint32_t sevmig__stream_seed(const uint8_t uuid[16]);

/*
 * Add one whole record to the END digest (docs/stream-format.md 4.9): its
 * 20-byte header, its payload and its CRC, leaving out the ciphertext of
 * ENC and VMSA packets. The record's length must already be checked
 * against its type (ENC: 16 + 4156 n; VMSA: 4164). 0, or -EIO.
 */
int sevmig__digest_record(EVP_MD_CTX *sha, const uint8_t hdr[20], uint16_t type,
			  const uint8_t *payload, uint32_t len, const uint8_t crc[4]);

/* ---- writer ---------------------------------------------------------------- */

struct sevmig__writer {
	sevmig_write_fn write;
	void *arg;
	uint8_t uuid[16];
	uint32_t uuid_crc;
	EVP_MD_CTX *sha;
	uint64_t seq;
	uint64_t bytes;
	int dead; /* the first write error, sticky */
};

int sevmig__writer_init(struct sevmig__writer *w, sevmig_write_fn write, void *arg,
			const uint8_t uuid[16]);
void sevmig__writer_fini(struct sevmig__writer *w);
int sevmig__writer_header(struct sevmig__writer *w, uint32_t flags, uint32_t policy,
			  const struct sevmig__layout *l);
/*
 * Frame and write one record whose bytes are rec[0, SM_REC_OVERHEAD + len):
 * the header and the CRC slot are filled here; the payload is at
 * rec + SM_REC_HDR.
 */
int sevmig__writer_record(struct sevmig__writer *w, uint8_t *rec, uint16_t type, uint32_t len);
/* The same, with the payload's own CRC32C (sevmig__crc32c(0, payload, len))
 * already computed, by a worker while the bytes were in its cache. */
int sevmig__writer_record_pcrc(struct sevmig__writer *w, uint8_t *rec, uint16_t type, uint32_t len,
			       uint32_t payload_crc);
/* The END record; `payload` holds the counters (first 64 bytes). */
int sevmig__writer_end(struct sevmig__writer *w, uint8_t payload[SM_END_LEN]);

/* ---- worker pool: ordered, bounded --------------------------------------- */

struct sevmig__job {
	/* Run on worker `worker` (0..workers-1, or 0 when run inline). */
	int (*run)(struct sevmig__job *job, unsigned worker);
	bool needs_fw; /* only workers below fw_workers may take it */
	int rc;
	int state; /* internal */
};

struct sevmig__pool;

/* workers 0: every job runs inline in submit(); from 2 on, the caller's
 * thread is worker `workers - 1` (it runs jobs while it waits) and the pool
 * starts workers - 1 threads. window: jobs in flight. */
int sevmig__pool_new(unsigned workers, unsigned fw_workers, unsigned window,
		     struct sevmig__pool **out);
void sevmig__pool_free(struct sevmig__pool *p);
unsigned sevmig__pool_inflight(const struct sevmig__pool *p);
bool sevmig__pool_full(const struct sevmig__pool *p);
/* Queue a job (the pool must not be full). */
void sevmig__pool_submit(struct sevmig__pool *p, struct sevmig__job *job);
/* Wait for the oldest job in flight and take it out; NULL when none. */
struct sevmig__job *sevmig__pool_wait_oldest(struct sevmig__pool *p);
/* The i-th job in flight, oldest first (i < inflight). */
struct sevmig__job *sevmig__pool_peek(const struct sevmig__pool *p, unsigned i);

/* Jobs in flight from options (window 0: 4 x workers + 4, 1 inline). */
unsigned sevmig__window(unsigned workers, unsigned window);

/* ---- reader hooks for the receiver ------------------------------------- */

/* Whether the reader decodes zstd itself (true for key-less readers; the
 * receiver's workers decode and check instead). */
void sevmig__reader_set_decode(struct sevmig_stream_reader *r, bool decode);
/* Exchange the reader's payload buffer (holding the last record's payload)
 * with *b, so the record outlives the next read. */
void sevmig__reader_swap_payload(struct sevmig_stream_reader *r, struct sevmig__buf *b);
/* The layout of the stream (after the header). */
const struct sevmig__layout *sevmig__reader_layout(const struct sevmig_stream_reader *r);

/* ---- test hooks ----------------------------------------------------------- */

/* Split page states above `bytes` (tests reach the splitting with small
 * guests this way). */
void sevmig__sender_set_pstate_limit(struct sevmig_sender *s, size_t bytes);

/* ---- shared helpers ------------------------------------------------------- */

/* Check a PLAIN payload's zstd frame and decode it into dst (4096 n
 * bytes): 0, or -EBADMSG with a message in msg. */
int sevmig__plain_decode(ZSTD_DCtx *dctx, const uint8_t *data, size_t dlen, uint8_t *dst,
			 size_t dst_len, char *msg, size_t msgsz);

/* A 4 KiB page is all zero. */
bool sevmig__page_is_zero(const uint8_t *p);

/*
 * Write guest memory on the target: n bytes (a multiple of 64) from src, or
 * zeros when src is NULL, to dst (16-byte aligned). Where the processor
 * allows it the stores bypass the cache: the guest reads these pages next,
 * not the receiver, and a store that need not first read its cache line
 * costs half. sevmig__guest_write_done() orders them before what follows
 * (a worker calls it before it reports the record done).
 */
void sevmig__guest_write(uint8_t *dst, const uint8_t *src, size_t n);
void sevmig__guest_write_done(void);

#include "util/crc32c.h"
static inline uint32_t sevmig__stream_seed(const uint8_t uuid[16])
{
	return sevmig__crc32c(0, uuid, 16);
}

#endif
