/* SPDX-License-Identifier: MIT */
/*
 * The migration stream (docs/stream-format.md, format 2.0): a header, then
 * typed, numbered, checksummed and authenticated records carrying the
 * SEND_START session, the page state, encrypted pages (SEND_UPDATE_DATA
 * packets), shared pages (zero runs and zstd batches), SEV-ES vCPU state,
 * pre-copy round marks, the VMM's own state (VMM records), and an END
 * record with counters. Every record
 * carries a tag (AES-256-GMAC) under a key the two hosts share (a PSK or
 * the TLS exporter), bound to the header, its position and its pass; on
 * bidirectional transports a back-channel from the target carries HELLO
 * (the target's nonce), ACKs, and COMMIT or NAK.
 *
 * Three objects:
 *  - struct sevmig_sender: guest memory + page state + a firmware handle on
 *    the source -> stream bytes through a write callback, or (sans-I/O, no
 *    callback) queued for sevmig_sender_output().
 *  - struct sevmig_receiver: stream bytes through a read callback, or
 *    (sans-I/O) pushed with sevmig_receiver_push(), which returns events ->
 *    guest memory + page state on the target, through the target's
 *    firmware. docs/live-migration.md shows both ways.
 *  - struct sevmig_stream_reader: the key-less reader both tools and the
 *    receiver build on. It checks everything that can be checked without
 *    the session keys (framing, CRCs, sequence, bounds, every gfn against
 *    the memory layout and the page state the stream itself carries, the
 *    counters at END, and the tags when given the key) and lists the records.
 *
 * I/O: bytes go through callbacks. sevmig_write_fd() and sevmig_read_fd()
 * are ready-made callbacks for file descriptors (pipes, sockets, files:
 * short transfers, EINTR and, for non-blocking descriptors, EAGAIN with
 * poll() handled); pass SEVMIG_FD_ARG(fd) as their argument.
 *
 * Threads: a sender, receiver or reader is used by one thread at a time,
 * except sevmig_sender_cancel() and sevmig_receiver_cancel(), which any
 * thread may call at any time. With `workers` > 0 the handle runs its own
 * threads (workers - 1 of them from 2 on: the caller's thread does a
 * worker's share while it waits, or, sans-I/O, each time it looks), which
 * never call the caller's callbacks: callbacks always run on the thread
 * that called into the library. A sans-I/O handle never waits for its
 * workers: its eventfd (sevmig_sender_fd(), sevmig_receiver_fd()) says
 * when to call again.
 */
#ifndef SEVMIG_STREAM_H
#define SEVMIG_STREAM_H

#include <sevmig/common.h>
#include <sevmig/fw.h>
#include <sevmig/pstate.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- format constants (docs/stream-format.md) -------------------------- */

#define SEVMIG_STREAM_MAGIC	    "\x89SEVSTR\n" /* 8 bytes */
#define SEVMIG_STREAM_VERSION_MAJOR 2
#define SEVMIG_STREAM_VERSION_MINOR 0

/* Header flags. */
#define SEVMIG_STREAM_FLAG_SOFT	 0x1u /* written through libsevmig's software firmware model */
#define SEVMIG_STREAM_FLAG_KEYED 0x2u /* tags under a shared secret (not --insecure) */

/* ---- keys (docs/stream-format.md §3) ----------------------------------- */

/* Shared secrets are 32 bytes. */
#define SEVMIG_KEY_SIZE 32u
/* Where the shared secret comes from (the header names it). */
enum sevmig_key_source {
	SEVMIG_KEY_NONE = 0, /* insecure: tags under a public all-zero key */
	SEVMIG_KEY_PSK = 1,  /* a pre-shared key file (sevmig_psk_generate()) */
	SEVMIG_KEY_TLS = 2,  /* 32 bytes of the TLS 1.3 exporter, label below */
};
/* RFC 8446 §7.5 exporter label (empty context) for SEVMIG_KEY_TLS. */
#define SEVMIG_TLS_EXPORTER_LABEL "EXPORTER-sevmig-stream-2"

/*
 * A new pre-shared key file: 32 random bytes, created 0600 (never over an
 * existing file: -EEXIST), synced. -errno with err naming the file.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_psk_generate(const char *path, struct sevmig_error *err);
/*
 * Load a pre-shared key file: a regular file of exactly 32 bytes that its
 * group and others cannot read or write (-EACCES otherwise: a key others
 * can read authenticates nobody).
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_psk_load(const char *path, uint8_t key[SEVMIG_KEY_SIZE],
						struct sevmig_error *err);
/* The contents of a key file: exactly 32 bytes (-EBADMSG otherwise). */
SEVMIG_API SEVMIG_NODISCARD int sevmig_psk_parse(const void *buf, size_t len,
						 uint8_t key[SEVMIG_KEY_SIZE],
						 struct sevmig_error *err);

/* Limits every reader enforces. */
#define SEVMIG_STREAM_MAX_PAYLOAD ((4u << 20) + (64u << 10)) /* bytes of one record's payload */
#define SEVMIG_STREAM_MAX_BATCH	  1024u			     /* pages in one ENC or PLAIN record */
#define SEVMIG_STREAM_MAX_SLOTS	  32768u		     /* memslots in the header */
#define SEVMIG_STREAM_MAX_HEADER  (1u << 20)		     /* header bytes */

enum sevmig_record_type {
	SEVMIG_REC_SESSION = 1, /* SEND_START output: policy, source PDH cert, session */
	SEVMIG_REC_PSTATE = 2,	/* full or delta page state */
	SEVMIG_REC_ENC = 3,	/* private pages: SEND_UPDATE_DATA packets */
	SEVMIG_REC_PLAIN = 4,	/* shared pages, raw or zstd */
	SEVMIG_REC_ZERO = 5,	/* runs of all-zero shared pages */
	SEVMIG_REC_VMSA = 6,	/* one SEV-ES vCPU's state: SEND_UPDATE_VMSA packet */
	SEVMIG_REC_ROUND = 7,	/* end of a pass over guest memory */
	SEVMIG_REC_ABORT = 8,	/* the source cancelled: discard everything */
	SEVMIG_REC_END = 9,	/* the source is done; counters */
	SEVMIG_REC_VMM = 10,	/* a chunk of the VMM's own state (vCPUs, devices) */
};
/* Record flag: a reader that does not know the type may skip the record
 * (it is still checked for CRC and sequence); without it, it must refuse. */
#define SEVMIG_REC_FLAG_SKIPPABLE 0x1u

/* PSTATE kinds. */
#define SEVMIG_PSTATE_FULL  1u /* the state of every page in [first, end) */
#define SEVMIG_PSTATE_DELTA 2u /* new states of the pages it covers */

/* PLAIN codecs. */
#define SEVMIG_CODEC_RAW  0u
#define SEVMIG_CODEC_ZSTD 1u

/* Back-channel messages, target -> source (docs/stream-format.md §8). */
enum sevmig_back_type {
	SEVMIG_BACK_HELLO = 1,	/* the target's nonce, before the stream */
	SEVMIG_BACK_ACK = 2,	/* records and pages applied, after each ROUND */
	SEVMIG_BACK_COMMIT = 3, /* END verified and the target's outputs durable */
	SEVMIG_BACK_NAK = 4,	/* the target refused: a reason */
};

/* ABORT reasons. */
#define SEVMIG_ABORT_CANCELLED 1u /* the caller cancelled */
#define SEVMIG_ABORT_ERROR     2u /* the source hit an error */

/* "SESSION", "ENC", ...; "UNKNOWN" otherwise. */
SEVMIG_API const char *sevmig_record_type_name(uint16_t type);

/* ---- I/O callbacks ------------------------------------------------------- */

/* Write all `len` bytes: 0, or a negative errno (the stream is then dead). */
typedef int (*sevmig_write_fn)(void *arg, const void *buf, size_t len);
/* Read up to `len` (> 0) bytes: the count read (> 0), 0 at the end of the
 * input, or a negative errno. */
typedef ptrdiff_t (*sevmig_read_fn)(void *arg, void *buf, size_t len);

#define SEVMIG_FD_ARG(fd) ((void *)(intptr_t)(fd))
/* Callbacks for a file descriptor given as SEVMIG_FD_ARG(fd). */
SEVMIG_API int sevmig_write_fd(void *fd_arg, const void *buf, size_t len);
SEVMIG_API ptrdiff_t sevmig_read_fd(void *fd_arg, void *buf, size_t len);

/* ---- counters ------------------------------------------------------------ */

/* What went through a sender, receiver or reader so far. */
struct sevmig_stream_counts {
	size_t sz;		 /* the caller's sizeof(struct sevmig_stream_counts): filled up
				  * to it (the functions that fill it read it) */
	uint64_t records;	 /* records, END excluded (so END's sequence number) */
	uint64_t bytes;		 /* stream bytes, header and END included */
	uint64_t rounds;	 /* ROUND records */
	uint64_t pstate_records; /* PSTATE records */
	uint64_t enc_pages;	 /* pages in ENC records */
	uint64_t plain_pages;	 /* pages in PLAIN records */
	uint64_t zero_pages;	 /* pages in ZERO records */
	uint64_t vmsa;		 /* VMSA records */
	uint64_t enc_records;
	uint64_t plain_records;
	uint64_t zero_records;
	uint64_t plain_wire_bytes; /* PLAIN page data on the wire (compressed or raw) */
	uint64_t skipped;	   /* records of unknown, skippable types (readers) */
	uint64_t vmm_records;	   /* VMM records (chunks) */
	uint64_t vmm_objects;	   /* VMM objects they carried */
};

/*
 * VMM records: the VMM's own state (vCPU registers and MSRs, the LAPIC,
 * device state), carried in the stream under its integrity and ordered
 * with the rounds. An object is named by a vendor, a FourCC the VMM owns
 * (SEVMIG_VMM_VENDOR('Q','E','M','U'); docs/stream-format.md §4.10 lists
 * the registered ones, and vendors with the top bit set are free for
 * private use), and a type the vendor defines. It may be of any size up to
 * SEVMIG_VMM_MAX_SIZE; the sender cuts it into chunks, the receiver hands
 * it over whole. The vendor "SVMG" is this library's own, with the types
 * below (docs/stream-format.md §4.10 gives their layouts).
 */
#define SEVMIG_VMM_VENDOR(a, b, c, d)                                                          \
	((uint32_t)(uint8_t)(a) | (uint32_t)(uint8_t)(b) << 8 | (uint32_t)(uint8_t)(c) << 16 | \
	 (uint32_t)(uint8_t)(d) << 24)
#define SEVMIG_VMM_VENDOR_SEVMIG SEVMIG_VMM_VENDOR('S', 'V', 'M', 'G')
#define SEVMIG_VMM_MAX_SIZE	 (64u << 20) /* bytes in one object */
/* Types of vendor SVMG: a list of MSRs (index and value pairs), a device's
 * opaque state. */
#define SEVMIG_VMM_TYPE_MSRS	     1u
#define SEVMIG_VMM_TYPE_DEVICE_STATE 2u

/*
 * Called after each record (on the caller's thread). A non-zero return
 * cancels, as sevmig_sender_cancel() / sevmig_receiver_cancel() would.
 */
typedef int (*sevmig_stream_progress_fn)(void *arg, const struct sevmig_stream_counts *c);

/* ---- sender ---------------------------------------------------------------- */

struct sevmig_sender;

struct sevmig_sender_opts {
	size_t sz; /* SEVMIG_OPTS */
	/* The target platform's PDH certificate (SEVMIG_CERT_SIZE bytes, from
	 * sevmig_fw_pdh_cert_export() on the target): required. */
	const void *target_pdh;
	uint32_t target_pdh_len;
	/* The target's PEK || OCA || CEK and the AMD ASK || ARK, for guests whose
	 * policy asks SEND_START to check them; may be NULL. */
	const void *target_chain;
	uint32_t target_chain_len;
	const void *amd_certs;
	uint32_t amd_certs_len;
	/* Pages per ENC or PLAIN record, 1..SEVMIG_STREAM_MAX_BATCH; 0: 32 per
	 * ENC record (so that records in flight stay in the workers' caches)
	 * and up to 256 per PLAIN record (zstd compresses larger batches
	 * better). */
	unsigned batch_pages;
	/* zstd level for PLAIN records; 0: no compression. A batch that does
	 * not shrink is sent raw. */
	int zstd_level;
	/* Workers for packetizing and compression; 0: everything on the
	 * caller's thread. From 2 on, the caller's thread is one of them: the
	 * sender starts workers - 1 threads and the caller's thread runs
	 * batches whenever it would otherwise wait for one (so 2 workers on 2
	 * cores leave no thread waiting for a core). With a firmware allowing
	 * several UPDATE_DATA callers (sevmig_fw_max_threads() > 1, the soft
	 * model), up to that many workers run them in parallel; with one
	 * (kvm), the first thread makes every firmware call while the other
	 * workers compress and the caller's thread writes. */
	unsigned workers;
	/* Batches in flight (bounded memory: about (window + workers) x batch
	 * x 4 KiB, with a batch per worker for compression);
	 * 0: 4 x workers + 4, of which at most 2 x workers + 2 ENC batches
	 * (1 without workers). At most 64. */
	unsigned window;
	/* The migration's UUID (16 bytes); NULL: a new random one. */
	const uint8_t *uuid;
	sevmig_stream_progress_fn progress;
	void *progress_arg;
	/* Keyed integrity: the shared secret (SEVMIG_KEY_SIZE bytes) and where
	 * it came from (SEVMIG_KEY_PSK or SEVMIG_KEY_TLS). Required unless
	 * `insecure` is set, which writes a stream anyone can forge. */
	uint32_t key_source;
	const uint8_t *key;
	bool insecure;
	/* The back-channel from the target (bidirectional transports), or
	 * NULL. With it the sender reads the target's HELLO before the
	 * header, and sevmig_sender_finish() succeeds only on the target's
	 * COMMIT (see there). */
	sevmig_read_fn back_read;
	void *back_arg;
	/* SEV-ES: the guest's vCPU count, declared in SESSION; the target
	 * refuses a stream without a VMSA record for each. 0 otherwise. */
	uint32_t vcpus;
	/* Sans-I/O (a sender made without a write callback): the target's
	 * back-channel arrives through sevmig_sender_push_back() instead of
	 * back_read. */
	bool back_buffered;
	/* The clock the round statistics and the pacing use, in nanoseconds;
	 * NULL: CLOCK_MONOTONIC. (A VMM with its own clock, or a test that
	 * wants time to stand still, gives one.) */
	uint64_t (*clock_ns)(void *arg);
	void *clock_arg;
	/* Sans-I/O: at most this many stream bytes per second leave through
	 * sevmig_sender_output() (0: no limit); bursts of up to 10 ms worth. */
	uint64_t max_bytes_per_s;
};

/*
 * A sender for the guest of `fw` (a RUNNING guest on the source), whose
 * memory is `regions` (any order; gpa, size and host address page-aligned,
 * disjoint, at most SEVMIG_STREAM_MAX_SLOTS; the array is copied, the
 * memory is not and must stay mapped while the sender lives). Output goes to write(write_arg, ...).
 * Nothing is written and no firmware command is run yet.
 * -EINVAL with `err` saying which argument is wrong.
 */
SEVMIG_API SEVMIG_NODISCARD int
sevmig_sender_new(struct sevmig_fw *fw, const struct sevmig_mem_region *regions, size_t nregions,
		  sevmig_write_fn write, void *write_arg, const struct sevmig_sender_opts *opts,
		  struct sevmig_sender **out, struct sevmig_error *err);

/*
 * The first pass. With a back-channel, first reads the target's HELLO.
 * Runs SEND_START, writes the header, SESSION and the full
 * page state of `ps` (whose coverage must be exactly the regions), then
 * every page: private pages as ENC, all-zero shared pages as ZERO runs,
 * other shared pages as PLAIN; then ROUND 0. Once per sender.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_sender_send_all(struct sevmig_sender *s,
						       const struct sevmig_pstate *ps,
						       struct sevmig_error *err);

/*
 * One pre-copy round, after sevmig_sender_send_all(). `ps` is the current
 * page state (coverage = the regions). dirty[i] is the dirty log of
 * regions[i] (index as given to sevmig_sender_new()) in the format of
 * KVM_GET_DIRTY_LOG: 64-bit words, bit j of the bitmap (LSB first) for page
 * j of the region; a NULL entry or a NULL `dirty` means no dirty page there.
 * Writes the page-state change since the previous pass (a PSTATE delta,
 * when there is one), then every dirty page and every page whose state
 * changed, each by the path its current state needs, then ROUND.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_sender_send_dirty(struct sevmig_sender *s,
							 const struct sevmig_pstate *ps,
							 const uint64_t *const *dirty,
							 struct sevmig_error *err);

/*
 * Sans-I/O. A sender made with write NULL never blocks on I/O: it queues
 * the stream for sevmig_sender_output(), and with back_buffered takes the
 * target's back-channel from sevmig_sender_push_back(). Its calls then
 * work a piece at a time:
 *  - sevmig_sender_send_all() (after the target's HELLO was pushed:
 *    -EAGAIN before) and sevmig_sender_send_dirty() start a pass and
 *    produce its first output; sevmig_sender_produce() goes on, while it
 *    returns 1. The page state and the dirty bitmaps (not the array of
 *    pointers to them, which is copied) must stay valid and unchanged
 *    until then. Other calls during a pass are -EBUSY.
 *  - sevmig_sender_finish() queues END (one-way: after SEND_FINISH, as
 *    always); with a back-channel the migration is complete when
 *    sevmig_sender_push_back() returns 1 (COMMIT verified, SEND_FINISH
 *    done). A NAK is its -EREMOTEIO, with the target's reason.
 * The caller writes the output whenever its transport can take it; the
 * queue holds about SEVMIG_SENDER_HIGH_WATER bytes before a pass stops to
 * let it drain.
 */
#define SEVMIG_SENDER_HIGH_WATER (1u << 20)
/* Go on with the pass: 1 while there is more, 0 once its ROUND is queued,
 * or a negative errno. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_sender_produce(struct sevmig_sender *s,
						      struct sevmig_error *err);
/* Copy up to cap queued stream bytes to buf and drop them: the count (with
 * max_bytes_per_s, no more than the pace allows now). */
SEVMIG_API size_t sevmig_sender_output(struct sevmig_sender *s, void *buf, size_t cap);
/* With max_bytes_per_s: nanoseconds until output is allowed again (0: now),
 * for the caller's poll timeout. */
SEVMIG_API uint64_t sevmig_sender_output_wait_ns(struct sevmig_sender *s);
SEVMIG_API size_t sevmig_sender_output_pending(const struct sevmig_sender *s);
/*
 * With workers, a sans-I/O sender never waits for them either:
 * sevmig_sender_produce() returns 1 when the next piece needs a worker to
 * finish first (and, as always, when the output queue is full). This
 * eventfd becomes readable when a worker finishes a batch: with no output
 * to write, poll it, then call produce again (reading it clears it, as
 * the sender does when it looks). A negative errno if it cannot be made.
 */
SEVMIG_API int sevmig_sender_fd(struct sevmig_sender *s);
/* The target's back-channel bytes as they arrive (any split): 1 once the
 * target's COMMIT is verified and SEND_FINISH done, 0 otherwise (HELLO,
 * ACKs taken), or a negative errno (-EREMOTEIO for a NAK: err has the
 * target's reason). */
SEVMIG_API SEVMIG_NODISCARD int sevmig_sender_push_back(struct sevmig_sender *s, const void *buf,
							size_t len, struct sevmig_error *err);

/*
 * The size in bytes of a region's dirty bitmap in KVM_GET_DIRTY_LOG's
 * layout (what sevmig_sender_send_dirty() reads): one bit per page, in
 * 64-bit words.
 */
SEVMIG_API size_t sevmig_dirty_bitmap_size(uint64_t region_size);

/*
 * One entry of KVM's dirty ring (KVM_CAP_DIRTY_LOG_RING; struct
 * kvm_dirty_gfn, same layout): `slot` is (address space << 16) | memslot
 * id, `offset` the page within that memslot. `flags` is not looked at: the
 * VMM harvests the ring (and resets it) itself and hands over what it
 * collected.
 */
struct sevmig_dirty_gfn {
	uint32_t flags;
	uint32_t slot;
	uint64_t offset;
};

/* Dirty pages as a list, for sevmig_sender_send_dirty_list(): any order,
 * repeats allowed. */
struct sevmig_dirty_list {
	size_t sz; /* SEVMIG_OPTS */
	/* Absolute gfns... */
	const uint64_t *gfns;
	size_t ngfns;
	/* ...and/or dirty-ring entries, whose `slot` is mapped to the
	 * sender's regions by kvm_slots: kvm_slots[i] is the KVM slot value
	 * of regions[i] (index as given to sevmig_sender_new()). */
	const struct sevmig_dirty_gfn *ring;
	size_t nring;
	const uint32_t *kvm_slots;
};

/*
 * sevmig_sender_send_dirty() with the dirty pages as a list. A gfn outside
 * every region (-ERANGE), a ring entry whose slot is none of kvm_slots
 * (-EINVAL) or whose offset is past its region (-ERANGE) fails the call
 * before anything is written, naming the entry; the sender stays usable.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_sender_send_dirty_list(struct sevmig_sender *s,
							      const struct sevmig_pstate *ps,
							      const struct sevmig_dirty_list *d,
							      struct sevmig_error *err);

/*
 * A VMM object (`vendor`, `type`, `len` bytes at `data`, len <=
 * SEVMIG_VMM_MAX_SIZE, 0 allowed), as one or more VMM records: after the
 * first pass has begun (sevmig_sender_send_all()) and before finish, in
 * order with the rounds (a receiver gets it after everything sent before
 * it). Authenticated like every record. Not while a pass is in flight.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_sender_send_vmm(struct sevmig_sender *s, uint32_t vendor,
						       uint32_t type, const void *data, size_t len,
						       struct sevmig_error *err);

/*
 * SEV-ES: the state of vCPU `vcpu` through SEND_UPDATE_VMSA, as a VMSA
 * record; after the last round, once per vCPU. `vmsa` is what the backend
 * reads (soft: the 4096-byte plaintext VMSA; kvm: NULL).
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_sender_send_vmsa(struct sevmig_sender *s, uint32_t vcpu,
							const void *vmsa, struct sevmig_error *err);

/*
 * The END record, then:
 *  - without a back-channel: SEND_FINISH; 0 means "written", not
 *    acknowledged (sevmig_sender_acknowledged() is false);
 *  - with one: wait for the target's answer (ACKs are taken on the way).
 *    COMMIT: SEND_FINISH, 0, and the guest is SENT: the target runs it.
 *    NAK: SEND_CANCEL, -EREMOTEIO with the target's reason in err.
 *    The channel failing or closing first: SEND_CANCEL and its error
 *    (-ECONNRESET for a close). After a failure the source guest is
 *    RUNNING again (resumable), but after END the target may have
 *    committed before its COMMIT was lost: the VMM must learn the
 *    target's outcome before it runs the guest's vCPUs again.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_sender_finish(struct sevmig_sender *s,
						     struct sevmig_error *err);
/* ---- steering convergence ---------------------------------------------- */

/* One pass as the sender saw it (the first pass is round 0). */
struct sevmig_round_stats {
	size_t sz;	/* the caller's sizeof(struct sevmig_round_stats) */
	uint64_t round; /* its number */
	uint64_t pages; /* pages it sent: every page (round 0), else the pages
			 * dirtied or converted since the previous pass */
	uint64_t enc_pages, plain_pages, zero_pages;
	uint64_t bytes;	      /* stream bytes it wrote, its PSTATE delta included */
	uint64_t duration_ns; /* from the call that began it to its ROUND record */
	uint64_t bytes_per_s; /* bytes over duration */
	/* The target's last acknowledgement when the round ended, and what
	 * was not yet acknowledged: the target's backlog. (A blocking sender
	 * reads ACKs only at finish; a sans-I/O one as they are pushed.) */
	uint64_t acked_pages;
	uint64_t backlog_pages;
};

/* The last pass completed: 0, or -ENODATA before the first. Filled up to
 * st->sz. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_sender_round_stats(const struct sevmig_sender *s,
							  struct sevmig_round_stats *st);

/* What stopping now would cost. */
struct sevmig_downtime_estimate {
	size_t sz;
	uint64_t pages;	      /* the final round's pages (as the caller said) */
	uint64_t transfer_ns; /* pages x the time per page measured */
	uint64_t fixed_ns;    /* the time a round takes besides its pages, fitted */
	uint64_t total_ns;    /* transfer_ns + fixed_ns */
};

/*
 * The downtime of a final round of `dirty_pages` (the dirty log's count
 * now, the page-state changes included), from the rounds measured so far:
 * a least-squares line through (pages, duration) of every pass, whose
 * slope is the time per page and whose intercept the fixed cost of a round
 * (0 until two passes of different sizes were seen; never negative).
 * -ENODATA before the first pass.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_sender_estimate_downtime(const struct sevmig_sender *s,
								uint64_t dirty_pages,
								struct sevmig_downtime_estimate *e);

/* The policy helper's answer. */
enum sevmig_converge {
	SEVMIG_CONVERGE_GO_ON = 0,	/* another pre-copy round */
	SEVMIG_CONVERGE_STOP = 1,	/* the estimate is within the target: stop the guest */
	SEVMIG_CONVERGE_MAX_ROUNDS = 2, /* the round limit is reached: stop anyway */
	SEVMIG_CONVERGE_STUCK = 3,	/* three rounds without fewer dirty pages: the guest
					 * writes faster than the link; stop (or throttle it) */
};

/*
 * Stop or go on: given the dirty pages now, the downtime the VMM accepts
 * and a limit on pre-copy rounds (0: none). The rule, in order: within
 * target_ns, STOP; max_rounds pre-copy rounds done, MAX_ROUNDS; the last
 * three rounds each sent no fewer pages than the one before, STUCK; else
 * GO_ON. A negative errno before the first pass.
 */
SEVMIG_API int sevmig_sender_converge(const struct sevmig_sender *s, uint64_t dirty_pages,
				      uint64_t target_ns, unsigned max_rounds);

/* Whether the target's COMMIT was received (so the target took over). */
SEVMIG_API bool sevmig_sender_acknowledged(const struct sevmig_sender *s);
/* The target's last acknowledgement: records and pages it applied. */
SEVMIG_API void sevmig_sender_acked(const struct sevmig_sender *s, uint64_t *records,
				    uint64_t *pages);

/*
 * Ask the sender to stop: any thread, any time. The running call (or the
 * next one, or sevmig_sender_free()) waits for its workers, runs
 * SEND_CANCEL, writes ABORT while the output still works and returns
 * -ECANCELED. The guest is RUNNING again and may be sent by a new sender.
 * The same happens after any failure once SEND_START has run: then the
 * ABORT says "error" and the call returns the failure. Later calls on a
 * cancelled or failed sender return -EPROTO.
 */
SEVMIG_API void sevmig_sender_cancel(struct sevmig_sender *s);

SEVMIG_API void sevmig_sender_counts(const struct sevmig_sender *s, struct sevmig_stream_counts *c);
SEVMIG_API void sevmig_sender_uuid(const struct sevmig_sender *s, uint8_t uuid[16]);

/* Free the sender; one started and not finished is cancelled first as
 * sevmig_sender_cancel() says. */
SEVMIG_API void sevmig_sender_free(struct sevmig_sender *s);

/* ---- key-less reader --------------------------------------------------- */

struct sevmig_stream_reader;

struct sevmig_reader_opts {
	size_t sz; /* SEVMIG_OPTS */
	/* Refuse a stream whose migration UUID differs (16 bytes); NULL: any. */
	const uint8_t *expect_uuid;
	/* Accept bytes after END (default: END must be followed by the end of
	 * the input). */
	bool allow_trailing;
	/* Verify every record's tag under this shared secret (32 bytes) from
	 * `key_source`, and refuse a stream without keyed integrity. NULL: a
	 * key-less reader, which checks everything else and leaves tags
	 * unverified (struct sevmig_record_info.tag_checked false). */
	uint32_t key_source;
	const uint8_t *key;
};

struct sevmig_stream_header {
	uint16_t version_major;
	uint16_t version_minor;
	uint32_t header_len;
	uint32_t flags; /* SEVMIG_STREAM_FLAG_* */
	uint32_t page_size;
	uint32_t policy;
	uint8_t uuid[16];
	uint32_t nslots;
	const struct sevmig_range *slots; /* in gfn order; owned by the reader */
	uint32_t key_source;		  /* enum sevmig_key_source */
	uint8_t sender_nonce[16];
	uint8_t target_nonce[16]; /* the target's HELLO nonce; zero without a back-channel */
};

/* One checked record, as sevmig_stream_reader_next() returns it. */
struct sevmig_record_info {
	size_t sz;	 /* the caller's sizeof(struct sevmig_record_info): filled up to it */
	uint64_t index;	 /* sequence number = 0-based position */
	uint64_t offset; /* byte offset of the record's header in the stream */
	uint16_t type;	 /* enum sevmig_record_type, or an unknown type */
	uint16_t flags;
	uint32_t length;     /* payload bytes */
	const void *payload; /* valid until the next call */
	bool skipped;	     /* an unknown skippable type */
	uint64_t pages;	     /* pages carried (ENC, PLAIN, ZERO), 1 for VMSA */
	uint64_t first_gfn;  /* lowest and highest gfn carried (pages > 0) */
	uint64_t last_gfn;
	uint32_t runs;		/* ZERO: runs */
	uint32_t codec;		/* PLAIN: SEVMIG_CODEC_* */
	uint32_t pstate_kind;	/* PSTATE: SEVMIG_PSTATE_*; range [first_gfn, last_gfn] */
	uint64_t pstate_shared; /* PSTATE: shared pages / covered pages in the record */
	uint64_t pstate_covered;
	uint64_t round;	       /* ROUND: its number (0 for the first pass) */
	uint32_t vcpu;	       /* VMSA */
	uint32_t policy;       /* SESSION */
	uint32_t abort_reason; /* ABORT: SEVMIG_ABORT_*; message in payload[8..] */
	uint32_t vcpus;	       /* SESSION: vCPUs declared */
	uint8_t tag[16];       /* the record's tag */
	bool tag_checked;      /* verified under the reader's key */
	/* VMM: the object's vendor, type and size, this chunk's place in it
	 * (data at payload + 32, length - 32 bytes), and whether it is the
	 * object's last chunk. */
	uint32_t vmm_vendor, vmm_type;
	uint64_t vmm_size, vmm_offset;
	bool vmm_last;
};

/* A reader over read(read_arg, ...). Nothing is read yet. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_stream_reader_new(sevmig_read_fn read, void *read_arg,
							 const struct sevmig_reader_opts *opts,
							 struct sevmig_stream_reader **out,
							 struct sevmig_error *err);
/* Read and check the header (first call), or return it again. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_stream_reader_header(struct sevmig_stream_reader *r,
							    struct sevmig_stream_header *hdr,
							    struct sevmig_error *err);
/*
 * The next record, checked in full before it is returned: 1 and *rec, or 0
 * once END has been returned and the input ends there. An ABORT record is
 * returned (1); the call after it gives -ECANCELED. Errors: -ENODATA
 * (truncated: err says how many bytes arrived), -EBADMSG (corrupt: CRC,
 * bounds, a page outside the layout or in the wrong state, counters or
 * completeness: a page missing from the first pass or delivered twice in a
 * pass, a missing VMSA; counters at END; a tag that does not verify under
 * the key), -EPROTO (order: sequence, SESSION, rounds, data after END,
 * unsupported version or unknown mandatory type, a stream without keyed
 * integrity given a key). err->index is the record
 * index and err->offset the byte offset of the fault. After an error the
 * reader is dead (every later call returns the same error).
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_stream_reader_next(struct sevmig_stream_reader *r,
							  struct sevmig_record_info *rec,
							  struct sevmig_error *err);
/* The page state the stream has described so far (coverage: the header's
 * memslots); NULL before the header. Owned by the reader. */
SEVMIG_API const struct sevmig_pstate *
sevmig_stream_reader_pstate(const struct sevmig_stream_reader *r);
SEVMIG_API void sevmig_stream_reader_counts(const struct sevmig_stream_reader *r,
					    struct sevmig_stream_counts *c);
SEVMIG_API void sevmig_stream_reader_free(struct sevmig_stream_reader *r);

/* ---- receiver ---------------------------------------------------------- */

struct sevmig_receiver;

/* A VMM object as the receiver hands it over. */
struct sevmig_vmm_object {
	uint32_t vendor, type;
	const void *data;
	size_t len;
	uint64_t round;
};

/* Where RECEIVE_UPDATE_VMSA puts vCPU `vcpu`'s state (soft: a 4096-byte
 * buffer; kvm: NULL), or a negative errno to refuse it. */
typedef int (*sevmig_vmsa_dest_fn)(void *arg, uint32_t vcpu, void **guest);
/*
 * Pages written somewhere other than mapped memory (the receiver's
 * page_write option): len bytes at byte `offset` of the caller's region
 * number `region`; `data` is page-aligned and len a multiple of the page
 * size; data NULL: make those bytes zero. 0, or a negative errno (the
 * record then fails with it).
 */
typedef int (*sevmig_page_write_fn)(void *arg, size_t region, uint64_t offset, const void *data,
				    size_t len);

struct sevmig_receiver_opts {
	size_t sz;		    /* SEVMIG_OPTS */
	const uint8_t *expect_uuid; /* as struct sevmig_reader_opts */
	bool allow_trailing;
	/* Workers applying records (decryption, decompression); 0: the
	 * caller's thread. From 2 on, the caller's thread is one of them, as
	 * for the sender. Checks always run, in stream order, on the caller's
	 * thread before a record is handed on. */
	unsigned workers;
	unsigned window; /* records in flight; 0: 4 x workers + 4; at most 64 */
	/* Check everything, firmware included (every packet's MAC), but write
	 * no guest memory: packets are decrypted into a scratch page. `regions`
	 * may then be NULL (the layout comes from the header). */
	bool dry_run;
	sevmig_vmsa_dest_fn vmsa_dest; /* needed for streams with VMSA records */
	void *vmsa_arg;
	sevmig_stream_progress_fn progress;
	void *progress_arg;
	/* Keyed integrity, as for the sender: the shared secret and its
	 * source; required unless `insecure`, which accepts only a stream
	 * written insecure. Every record is verified before it is applied. */
	uint32_t key_source;
	const uint8_t *key;
	bool insecure;
	/* The back-channel to the source, or NULL (one-way transports). With
	 * it the receiver sends HELLO before reading, an ACK after each
	 * ROUND, and at the end COMMIT or, on any failure, NAK with the
	 * reason. */
	sevmig_write_fn back_write;
	void *back_arg;
	/* Called after END verified and RECEIVE_FINISH succeeded, before
	 * COMMIT is sent: make the outputs durable. A negative return (with a
	 * message in err) fails the run and sends NAK. NULL: nothing to do. */
	int (*commit)(void *arg, struct sevmig_error *err);
	void *commit_arg;
	/* With `regions` NULL (and no dry run): called once the header is
	 * authenticated (the first record after it verified, so a peer
	 * without the key cannot make the target allocate anything), to get
	 * the guest memory for its layout (h->slots). The regions
	 * must match the layout exactly and stay valid while the receiver
	 * lives. A negative return fails the run. */
	int (*regions_for)(void *arg, const struct sevmig_stream_header *h,
			   const struct sevmig_mem_region **regions, size_t *nregions);
	void *regions_arg;
	/* Each VMM object, whole and verified, in stream order (after every
	 * record sent before it was applied); `round` is the number of ROUND
	 * records before it. The data is valid during the call. A negative
	 * return fails the run (NAK to the source). NULL: a stream with VMM
	 * records is refused. */
	int (*vmm_object)(void *arg, const struct sevmig_vmm_object *obj);
	void *vmm_arg;
	/* Sans-I/O (a receiver made without a read callback): queue the
	 * back-channel (HELLO, ACKs, COMMIT or NAK) for
	 * sevmig_receiver_output() instead of calling back_write. */
	bool back_buffered;
	/* The regions read as zeros before the stream (fresh anonymous memory,
	 * a new or hole-punched file): the first pass's ZERO runs are then not
	 * written at all (each page of the first pass arrives exactly once, so
	 * those pages are still zero), and sparse memory stays unallocated.
	 * Later passes write every run. */
	bool zeroed;
	/* Write the guest's pages through this callback, not through the
	 * regions' host pointers (which may then be NULL): for a target whose
	 * memory is a file, written without mapping it (sevmig-recv writes
	 * with O_DIRECT, so that the target allocates no page cache). Only
	 * with a firmware that decrypts into any buffer (the software model):
	 * a hardware backend writes the guest's own pages, and is refused.
	 * Called from the workers, concurrently, never for one page twice at
	 * once. */
	sevmig_page_write_fn page_write;
	void *page_write_arg;
};

/* What a sans-I/O receiver reports (sevmig_receiver_push()). */
enum sevmig_recv_event_type {
	SEVMIG_RECV_NONE = 0,
	SEVMIG_RECV_SESSION = 1, /* SESSION applied (RECEIVE_START): the source authenticated */
	SEVMIG_RECV_PSTATE = 2,	 /* the full page state is complete */
	SEVMIG_RECV_ROUND = 3,	 /* a pass ended, its pages applied (ACK queued) */
	SEVMIG_RECV_VMM = 4,	 /* a VMM object, whole and verified */
	SEVMIG_RECV_END = 5,	 /* END verified, RECEIVE_FINISH done: commit or refuse now */
};

struct sevmig_recv_event {
	size_t sz;	/* the caller's sizeof(struct sevmig_recv_event): filled up to it */
	uint32_t type;	/* enum sevmig_recv_event_type */
	uint64_t round; /* ROUND: its number; VMM: ROUND records before it */
	struct sevmig_stream_counts counts; /* so far */
	struct sevmig_vmm_object vmm;	    /* VMM: valid until the next call on the receiver */
};

/*
 * A receiver into the guest of `fw` (a target platform without the guest;
 * RECEIVE_START creates it) whose memory is `regions` (same rules as the
 * sender's; the header's layout must match them exactly).
 */
SEVMIG_API SEVMIG_NODISCARD int
sevmig_receiver_new(struct sevmig_fw *fw, const struct sevmig_mem_region *regions, size_t nregions,
		    sevmig_read_fn read, void *read_arg, const struct sevmig_receiver_opts *opts,
		    struct sevmig_receiver **out, struct sevmig_error *err);
/*
 * Read the whole stream and apply it: 0 after END was checked,
 * RECEIVE_FINISH succeeded, the commit callback returned 0 and COMMIT was
 * sent (the guest is RUNNING with the source's memory and page state). -ECANCELED for an ABORT (the
 * source cancelled: discard the guest); otherwise the reader's errors, -EIO for a firmware refusal
 * (a bad packet MAC: BAD_MEASUREMENT), -EPROTO for a header that does not
 * match this receiver (layout, UUID, software-model flag). No page of a
 * record that fails its checks is written. With workers, records already
 * checked and handed on before a firmware refusal may have been applied.
 * After any error the target guest must be discarded.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_receiver_run(struct sevmig_receiver *r,
						    struct sevmig_error *err);
/*
 * Sans-I/O: a receiver made with read NULL takes the stream as the caller's
 * bytes arrive and never blocks on I/O (with workers, it may wait for
 * them to finish the records in flight). Each call takes bytes from buf
 * (len of them; buf NULL and len 0: the input has ended) until an event or
 * the end of the bytes: 1 and *ev (ev->sz set by the caller), 0 when it
 * needs more input, or a negative errno (the reader's and the blocking
 * run's errors; NAK queued). *consumed says how many bytes it took: keep
 * the rest for the next call. It never takes a byte past END: what follows
 * END on the channel is the caller's.
 *
 * After SEVMIG_RECV_END the caller makes the target durable and calls
 * sevmig_receiver_commit() (COMMIT queued; the receiver is done), or
 * sevmig_receiver_refuse(). After any event it may refuse, for example
 * between rounds; the source gets a NAK with the reason.
 */
SEVMIG_API SEVMIG_NODISCARD int sevmig_receiver_push(struct sevmig_receiver *r, const void *buf,
						     size_t len, size_t *consumed,
						     struct sevmig_recv_event *ev,
						     struct sevmig_error *err);
/* With back_buffered: copy up to cap queued back-channel bytes to buf and
 * drop them from the queue; the count (0: none). */
SEVMIG_API size_t sevmig_receiver_output(struct sevmig_receiver *r, void *buf, size_t cap);
/*
 * With workers, a sans-I/O receiver never waits for them either: when the
 * next record needs them to catch up (a free job, or all of them done
 * before a ROUND, a VMM object or END), sevmig_receiver_push() returns 0
 * without taking it (*consumed < len). This eventfd becomes readable when a
 * worker finishes a record (it exists from the start, so none is missed):
 * poll it, then push the rest again (reading
 * it, 8 bytes, clears it; the receiver clears it too when it looks). A
 * negative errno if it cannot be made.
 */
SEVMIG_API int sevmig_receiver_fd(struct sevmig_receiver *r);
/* Queued back-channel bytes. */
SEVMIG_API size_t sevmig_receiver_output_pending(const struct sevmig_receiver *r);
/* After SEVMIG_RECV_END: the target took over; COMMIT is queued. 0, or
 * -EPROTO before END. */
SEVMIG_API SEVMIG_NODISCARD int sevmig_receiver_commit(struct sevmig_receiver *r,
						       struct sevmig_error *err);
/* Refuse the migration (code: a negative errno, reason: one line for the
 * source): NAK queued, the receiver dead with that error; code. After
 * sevmig_receiver_commit() it is too late: -EPROTO, nothing sent. */
SEVMIG_API int sevmig_receiver_refuse(struct sevmig_receiver *r, int code, const char *reason);

/* Stop at the next record boundary with -ECANCELED; any thread. */
SEVMIG_API void sevmig_receiver_cancel(struct sevmig_receiver *r);
/* The page state received so far; owned by the receiver. */
SEVMIG_API const struct sevmig_pstate *sevmig_receiver_pstate(const struct sevmig_receiver *r);
SEVMIG_API void sevmig_receiver_counts(const struct sevmig_receiver *r,
				       struct sevmig_stream_counts *c);
/*
 * Whether the peer proved it holds the stream key: true once the header
 * and a first record verified under it (for an `insecure` receiver: once
 * they were well formed). A failure before that came from someone who
 * could not have written this migration (a stray or hostile connection,
 * garbage, an idle peer); a listener may drop the connection and accept
 * another. Call it from the thread running the receiver (its progress
 * callback included) or after sevmig_receiver_run() returned.
 */
SEVMIG_API bool sevmig_receiver_authenticated(const struct sevmig_receiver *r);
/* The stream's header once read (-ENODATA before). */
SEVMIG_API SEVMIG_NODISCARD int sevmig_receiver_header(const struct sevmig_receiver *r,
						       struct sevmig_stream_header *hdr);
SEVMIG_API void sevmig_receiver_free(struct sevmig_receiver *r);

#ifdef __cplusplus
}
#endif
#endif
