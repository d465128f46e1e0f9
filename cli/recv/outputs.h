/* SPDX-License-Identifier: MIT */
/*
 * sevmig-recv's outputs: where each memslot of the stream goes (the files of
 * --memory or --memory-dir, written from the receiver's page_write callback
 * by writer threads (writer.h) with O_DIRECT where the file system has it,
 * so that the target allocates
 * no page cache for the guest: a cost the kernel pays per page, zeroing
 * and accounting each new one, and that made the tools half as fast as
 * the engine in-process), the
 * vCPU states and the page state, and the commit that syncs every one and
 * then renames it into place (all or nothing up to the renames).
 */
#ifndef SEVMIG_CLI_RECV_OUTPUTS_H
#define SEVMIG_CLI_RECV_OUTPUTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sevmig/sevmig.h>

#include "common/outfile.h"
#include "recv/flusher.h"
#include "recv/options.h"
#include "recv/writer.h"

/* Where memslot i of the stream goes. */
struct slot_out {
	uint64_t gpa, size, offset;
	size_t file; /* index into files[] */
};

struct vmsa_buf {
	uint32_t vcpu;
	uint8_t *page;
};

struct outputs {
	struct slot_out *slots;
	size_t nslots;
	struct cli_outfile *files;
	int *wfd;	/* per file: where pages are written (O_DIRECT, or files[i].fd) */
	int *flush_fds; /* per file: what the flusher syncs (wfd[i], else files[i].fd) */
	struct flusher flusher;
	struct writer writer; /* the direct writes, off the receiver's workers */
	char **keys;	      /* cli_path_key() of each file */
	size_t nfiles;
	struct cli_outfile pstate;
	struct vmsa_buf *vmsa;
	size_t nvmsa;
	const char *vmsa_dir;
	bool vmsa_refused;
	char *made_dir;		  /* a --memory-dir we created, removed on failure */
	atomic_bool write_failed; /* the first failed write was reported */
};

/*
 * Lay the stream's memslots (h) out in files as the options say, each file
 * made at its full size with every block allocated (a full disk fails here,
 * never later) and its memslot ranges reading as zeros, then opened for
 * recv_outputs_write(): reg[i] for memslot i (no host memory). CLI_ERR
 * printed on failure.
 */
int recv_outputs_prepare(const struct opts *o, const struct sevmig_stream_header *h,
			 struct outputs *out, struct sevmig_mem_region *reg);
/* The receiver's page_write (arg: out): region is the memslot. The first
 * failure is printed, naming the file and the bytes. */
int recv_outputs_write(void *arg, size_t region, uint64_t offset, const void *data, size_t len);
/* The receiver's vmsa_dest: a page per vCPU, written at commit (arg: out). */
int recv_outputs_vmsa_dest(void *arg, uint32_t vcpu, void **guest);
/* Every output synced, then every rename: 0, or CLI_ERR printed. */
int recv_outputs_commit(const struct opts *o, const struct sevmig_pstate *ps, struct outputs *out);
/* Close the files' write descriptors (before freeing, or before a commit). */
void recv_outputs_close_writers(struct outputs *out);
/* Remove every temporary (and a --memory-dir made for this run). */
void recv_outputs_discard(struct outputs *out);
void recv_outputs_free(struct outputs *out);

#endif
