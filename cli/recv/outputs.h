/* SPDX-License-Identifier: MIT */
/*
 * sevmig-recv's outputs: where each memslot of the stream goes (the files of
 * --memory or --memory-dir, mapped for the receiver to write through), the
 * vCPU states and the page state, and the commit that syncs every one and
 * then renames it into place (all or nothing up to the renames).
 */
#ifndef SEVMIG_CLI_RECV_OUTPUTS_H
#define SEVMIG_CLI_RECV_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sevmig/sevmig.h>

#include "common/outfile.h"
#include "recv/options.h"

/* Where memslot i of the stream goes. */
struct slot_out {
	uint64_t gpa, size, offset;
	size_t file; /* index into files[] */
	void *map;
};

struct vmsa_buf {
	uint32_t vcpu;
	uint8_t *page;
};

struct outputs {
	struct slot_out *slots;
	size_t nslots;
	struct cli_outfile *files;
	char **keys; /* cli_path_key() of each file */
	size_t nfiles;
	struct cli_outfile pstate;
	struct vmsa_buf *vmsa;
	size_t nvmsa;
	const char *vmsa_dir;
	bool vmsa_refused;
	char *made_dir; /* a --memory-dir we created, removed on failure */
};

/*
 * Lay the stream's memslots (h) out in files as the options say, each file
 * made at its full size with every block allocated (a full disk fails here,
 * never as SIGBUS later) and its memslot ranges reading as zeros, then
 * mapped: reg[i] for memslot i. CLI_ERR printed on failure.
 */
int recv_outputs_prepare(const struct opts *o, const struct sevmig_stream_header *h,
			 struct outputs *out, struct sevmig_mem_region *reg);
/* The receiver's vmsa_dest: a page per vCPU, written at commit (arg: out). */
int recv_outputs_vmsa_dest(void *arg, uint32_t vcpu, void **guest);
/* Every output synced, then every rename: 0, or CLI_ERR printed. */
int recv_outputs_commit(const struct opts *o, const struct sevmig_pstate *ps, struct outputs *out);
/* Unmap the memory (before freeing, or before a commit). */
void recv_outputs_unmap(struct outputs *out);
/* Remove every temporary (and a --memory-dir made for this run). */
void recv_outputs_discard(struct outputs *out);
void recv_outputs_free(struct outputs *out);

#endif
