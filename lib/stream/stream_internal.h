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

#include "stream/record.h"
#include "util/buf.h"
#include "util/error.h"

/* ---- format ---------------------------------------------------------------- */

#define SM_HDR_FIXED	 96u /* header bytes before the memslots */
#define SM_REC_HDR	 20u /* type, flags, length, sequence, header CRC */
#define SM_TAG		 16u /* a record's GMAC tag, after its payload */
#define SM_REC_OVERHEAD	 40u /* record header + tag + record CRC */
#define SM_PSTATE_FIXED	 24u
#define SM_SESSION_FIXED 24u
#define SM_ROUND_LEN	 32u
#define SM_END_LEN	 64u
#define SM_ABORT_MSG_MAX 1024u
#define SM_VMM_FIXED	 32u	    /* vendor, type, flags, reserved, size, offset */
#define SM_VMM_CHUNK	 (1u << 20) /* data bytes the sender puts in one record */
#define SM_VMM_FIRST	 0x1u
#define SM_VMM_LAST	 0x2u
#define SM_CHAIN_SIZE	 0x186Cu
#define SM_MAX_VCPUS	 65536u
#define SM_MAX_WINDOW	 64u
#define SM_DEFAULT_BATCH 256u /* PLAIN: pages per batch */
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
/* ---- convergence (convergence.c) ------------------------------------------ */

struct sevmig__conv {
	uint64_t t0;			/* the pass's start */
	struct sevmig_stream_counts at; /* the counts then */
	struct sevmig_round_stats last; /* the last pass */
	bool have;
	double n, sx, sy, sxx, sxy; /* (pages, duration) of every pass */
	uint64_t recent[4];	    /* pre-copy rounds' pages, newest last */
	unsigned nrecent;
};
void sevmig__conv_begin(struct sevmig__conv *c, uint64_t now_ns,
			const struct sevmig_stream_counts *at);
void sevmig__conv_end(struct sevmig__conv *c, uint64_t now_ns,
		      const struct sevmig_stream_counts *now, uint64_t acked_pages);
int sevmig__conv_stats(const struct sevmig__conv *c, struct sevmig_round_stats *st);
int sevmig__conv_estimate(const struct sevmig__conv *c, uint64_t pages,
			  struct sevmig_downtime_estimate *e);
int sevmig__conv_decide(const struct sevmig__conv *c, uint64_t pages, uint64_t target_ns,
			unsigned max_rounds);

/* A token bucket for a paced output. */
struct sevmig__pace {
	uint64_t rate, burst; /* bytes per second; 0: no limit */
	double tokens;
	uint64_t t;
};
void sevmig__pace_init(struct sevmig__pace *p, uint64_t bytes_per_s, uint64_t now_ns);
/* How many of `want` bytes may go now (taken from the bucket). */
size_t sevmig__pace_allow(struct sevmig__pace *p, uint64_t now_ns, size_t want);
/* Nanoseconds until a byte may go. */
uint64_t sevmig__pace_wait_ns(struct sevmig__pace *p, uint64_t now_ns);

/* A dirty list as per-region bitmaps in KVM_GET_DIRTY_LOG's layout, indexed
 * by the caller's region (NULL where nothing is dirty); free with
 * sevmig__dirty_free(bm, l->n). */
int sevmig__dirty_bitmaps(const struct sevmig__layout *l, const struct sevmig_dirty_list *d,
			  uint64_t ***out, struct sevmig_error *err);
void sevmig__dirty_free(uint64_t **bm, size_t n);
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

/* ---- keyed integrity (auth.c) ------------------------------------------- */

/*
 * The two GMAC keys of one migration (docs/stream-format.md §3): derived
 * from the shared secret and the SHA-256 of the whole stream header (so
 * every header byte, both nonces included, is authenticated by every tag),
 * one key per direction.
 */
enum { SM_DIR_S2T = 0, SM_DIR_T2S = 1 };

struct sevmig__auth {
	EVP_CIPHER_CTX *ctx[2]; /* AES-256-GCM, key set; NULL before init */
};

/* Derive both keys. secret: 32 bytes (all zero for an insecure stream). */
int sevmig__auth_init(struct sevmig__auth *a, const uint8_t secret[32], const uint8_t *hdr,
		      size_t hlen);
void sevmig__auth_fini(struct sevmig__auth *a);
/*
 * The tag of a stream record (direction S2T): nonce from its sequence
 * number, over the pass number, the first 16 header bytes and the payload
 * without packet ciphertext. The record's length must already be checked
 * against its type (ENC: 16 + 4156 n; VMSA: 4164). 0, or -EIO.
 */
int sevmig__auth_record(struct sevmig__auth *a, uint64_t round, const uint8_t hdr[16],
			uint16_t type, const uint8_t *payload, uint32_t len, uint8_t tag[16]);
/* The tag of a back-channel message (direction T2S). */
int sevmig__auth_back(struct sevmig__auth *a, const uint8_t hdr[16], const uint8_t *payload,
		      uint32_t len, uint8_t tag[16]);

/* ---- completeness (coverage.c) ----------------------------------------- */

/*
 * Which layout pages a pass has delivered, to refuse a page twice in a pass
 * and, for the first pass, a page never delivered. O(runs) for pages that
 * arrive in order, as a conforming sender sends them.
 */
struct sevmig__coverage {
	struct sevmig_pstate *got; /* delivered = "shared" in this map */
	uint64_t pages;		   /* delivered this pass */
	uint64_t total;		   /* pages of the layout */
};

int sevmig__coverage_init(struct sevmig__coverage *c, const struct sevmig__layout *l);
void sevmig__coverage_fini(struct sevmig__coverage *c);
/* Mark [gfn, gfn + n) delivered (inside the layout): 0, or -EEXIST with
 * *dup the first page already delivered this pass (nothing marked). */
int sevmig__coverage_add(struct sevmig__coverage *c, uint64_t gfn, uint64_t n, uint64_t *dup);
/* End a pass: for the first pass, -ENODATA with *missing the first page
 * never delivered; then forget the pass. */
int sevmig__coverage_end_pass(struct sevmig__coverage *c, bool first, uint64_t *missing);

/* ---- back-channel messages (backchannel.c) ----------------------------- */

#define SM_BACK_HDR	 16u   /* type, flags, length, sequence */
#define SM_BACK_OVERHEAD 36u   /* header + tag + CRC */
#define SM_BACK_MAX	 1024u /* payload limit */
#define SM_HELLO_LEN	 32u
#define SM_ACK_LEN	 24u
#define SM_COMMIT_LEN	 24u
#define SM_NAK_FIXED	 8u
#define SM_BACK_MAGIC	 "\x89SEVBCK\n"

/* One decoded back-channel message. */
struct sevmig__back_msg {
	uint16_t type;
	uint64_t seq;
	uint8_t nonce[16];		/* HELLO */
	uint64_t records, pages, round; /* ACK; COMMIT: records = END's sequence */
	uint8_t end_tag[16];		/* COMMIT */
	uint32_t code;			/* NAK: a positive errno */
	char msg[SM_BACK_MAX + 1];	/* NAK: printable, NUL-terminated */
};

/*
 * Encode message m (type, seq and its fields) into out (at least
 * SM_BACK_OVERHEAD + SM_BACK_MAX bytes): its length. HELLO's tag is zero;
 * every other message is tagged under `a`.
 */
int sevmig__back_encode(struct sevmig__auth *a, const struct sevmig__back_msg *m, uint8_t *out);
/*
 * Read one message through read(arg): 1 and *m, 0 at a clean end of input
 * before any byte, or a negative errno with err saying what (-EBADMSG for a
 * malformed or forged message; -ENODATA for one cut short). `a` may be NULL
 * only for HELLO (expect_seq 0). The sequence number must be expect_seq.
 */
/* Bytes of the message starting at p (judged from its first avail bytes;
 * the header's size while that is not enough, or when its length is over
 * the limit, so that the decoder reports it). */
size_t sevmig__back_size(const uint8_t *p, size_t avail);
int sevmig__back_read(sevmig_read_fn read, void *arg, struct sevmig__auth *a, uint64_t expect_seq,
		      struct sevmig__back_msg *m, struct sevmig_error *err);
/* Decode a message held whole in buf[0, len) (the reader above and the
 * fuzz target use it): as sevmig__back_read, -ENODATA when len is short. */
int sevmig__back_decode(const uint8_t *buf, size_t len, struct sevmig__auth *a, uint64_t expect_seq,
			struct sevmig__back_msg *m, size_t *used, struct sevmig_error *err);

/* ---- writer ---------------------------------------------------------------- */

struct sevmig__writer {
	sevmig_write_fn write;
	void *arg;
	uint8_t uuid[16];
	uint32_t uuid_crc;
	struct sevmig__auth auth;
	uint64_t seq;
	uint64_t round; /* ROUND records written: the pass of the next record */
	uint64_t bytes;
	uint8_t last_tag[16];
	int dead; /* the first write error, sticky */
};

/* What the header says besides the layout. */
struct sevmig__hdr_info {
	uint32_t flags, policy, key_source;
	uint8_t sender_nonce[16], target_nonce[16];
};

int sevmig__writer_init(struct sevmig__writer *w, sevmig_write_fn write, void *arg,
			const uint8_t uuid[16]);
void sevmig__writer_fini(struct sevmig__writer *w);
/* Write the header and derive the record keys from it and `secret`. */
int sevmig__writer_header(struct sevmig__writer *w, const struct sevmig__hdr_info *hi,
			  const struct sevmig__layout *l, const uint8_t secret[32]);
/*
 * Frame, tag and write one record whose bytes are rec[0, SM_REC_OVERHEAD +
 * len): the header, the tag and the CRC slot are filled here; the payload
 * is at rec + SM_REC_HDR.
 */
int sevmig__writer_record(struct sevmig__writer *w, uint8_t *rec, uint16_t type, uint32_t len);
/* The same, with the payload's own CRC32C (sevmig__crc32c(0, payload, len))
 * already computed, by a worker while the bytes were in its cache. */
int sevmig__writer_record_pcrc(struct sevmig__writer *w, uint8_t *rec, uint16_t type, uint32_t len,
			       uint32_t payload_crc);

/* ---- worker pool: ordered, bounded --------------------------------------- */

struct sevmig__job {
	/* Run on worker `worker` (0..workers-1, or 0 when run inline). */
	int (*run)(struct sevmig__job *job, unsigned worker);
	bool needs_fw; /* only workers below fw_workers may take it */
	int rc;
	int state;		       /* internal */
	struct sevmig__job *next_free; /* internal: the pool's free list */
};

struct sevmig__pool;

/*
 * Called on the caller's thread for each finished job, in submission
 * order, as it leaves the pool (the engine writes its records or reports
 * its failure): 0 or a negative errno. The job goes back to the free list
 * afterwards either way.
 */
typedef int (*sevmig__retire_fn)(void *arg, struct sevmig__job *job);

/* workers 0: every job runs inline in submit(); from 2 on, the caller's
 * thread is worker `workers - 1` (it runs jobs while it waits) and the pool
 * starts workers - 1 threads. window: jobs in flight. */
int sevmig__pool_new(unsigned workers, unsigned fw_workers, unsigned window,
		     sevmig__retire_fn retire, void *retire_arg, struct sevmig__pool **out);
/* Waits for the jobs in flight (discarding them), then ends the threads. */
void sevmig__pool_free(struct sevmig__pool *p);
unsigned sevmig__pool_inflight(const struct sevmig__pool *p);
bool sevmig__pool_full(const struct sevmig__pool *p);
/* Queue a job (the pool must not be full). */
void sevmig__pool_submit(struct sevmig__pool *p, struct sevmig__job *job);
/* Retire the oldest job in flight, waiting for it (0 when none is in
 * flight); every finished one without waiting for any; all of them; until
 * a job is free and the window has room. Each stops at the first failure
 * the retire callback returns. */
int sevmig__pool_retire_oldest(struct sevmig__pool *p);
int sevmig__pool_retire_done(struct sevmig__pool *p);
int sevmig__pool_retire_all(struct sevmig__pool *p);
int sevmig__pool_make_room(struct sevmig__pool *p);
/* After a failure: wait for every job in flight (nothing may run once the
 * engine returns) and free them without retiring them. p may be NULL. */
void sevmig__pool_discard(struct sevmig__pool *p);
/* Ask running jobs to give up early (cancel, a failure: any thread; p may
 * be NULL); jobs poll sevmig__pool_stopping() every few pages. */
void sevmig__pool_stop(struct sevmig__pool *p);
bool sevmig__pool_stopping(const struct sevmig__pool *p);
/* An eventfd that becomes readable when a worker finishes a job (made on
 * the first call, which must come before the first job is submitted: no
 * completion before it is signalled): for a sans-I/O caller's poll. A
 * negative errno if it cannot be made. */
int sevmig__pool_fd(struct sevmig__pool *p);
/* The engine's jobs not in flight (the caller's thread only): put one
 * back, take one (NULL when none is free), how many are free. */
void sevmig__pool_put(struct sevmig__pool *p, struct sevmig__job *job);
struct sevmig__job *sevmig__pool_get(struct sevmig__pool *p);
unsigned sevmig__pool_free_count(const struct sevmig__pool *p);
/* The i-th job in flight, oldest first (i < inflight). */
struct sevmig__job *sevmig__pool_peek(const struct sevmig__pool *p, unsigned i);

/* Jobs in flight from options (window 0: 4 x workers + 4, 1 inline). */
unsigned sevmig__window(unsigned workers, unsigned window);

/* ---- reader hooks for the receiver ------------------------------------- */

/* Whether the reader decodes zstd itself (true for key-less readers; the
 * receiver's workers decode and check instead). */
void sevmig__reader_set_decode(struct sevmig_stream_reader *r, bool decode);
/* Exchange the reader's buffers holding the last record's payload and its
 * entries' memslots (uint32_t each: a page of ENC or PLAIN, a run of ZERO,
 * as the reader found them while checking) with *payload and *slots, so
 * the record outlives the next read. */
void sevmig__reader_swap_payload(struct sevmig_stream_reader *r, struct sevmig__buf *payload,
				 struct sevmig__buf *slots);
/* The layout of the stream (after the header). */
const struct sevmig__layout *sevmig__reader_layout(const struct sevmig_stream_reader *r);
/* Refuse a header whose target nonce is not `nonce` (the receiver's HELLO). */
void sevmig__reader_expect_nonce(struct sevmig_stream_reader *r, const uint8_t nonce[16]);
/* The record keys (after the header; NULL for a key-less reader). */
struct sevmig__auth *sevmig__reader_auth(struct sevmig_stream_reader *r);
/* Require the KEYED flag clear (insecure receivers). */
void sevmig__reader_require_insecure(struct sevmig_stream_reader *r);
/*
 * For input pushed in pieces: how many bytes the reader's next call reads
 * (the header, or one whole record), judged from the first `avail` bytes of
 * them at p. Less than that is not enough to tell yet: the answer is then
 * the bytes needed to tell (the header's fixed part, a record header). A
 * damaged length (record header CRC) or one over the limits asks for no
 * more than the part that shows it, so that the reader reports damage, not
 * truncation. 0 once END was returned (or the reader is dead).
 */
size_t sevmig__reader_next_size(const struct sevmig_stream_reader *r, const uint8_t *p,
				size_t avail);
/* The full page state is complete (every FULL part arrived). */
bool sevmig__reader_pstate_complete(const struct sevmig_stream_reader *r);

/* Check the key options shared by sender, receiver and reader: 0 with
 * *secret set (zeros when insecure), or -EINVAL with err saying why. */
int sevmig__key_opts(uint32_t source, const uint8_t *key, bool insecure, bool keyless_ok,
		     uint8_t secret[32], struct sevmig_error *err);

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
