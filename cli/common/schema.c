/* SPDX-License-Identifier: MIT */
/* Objects shared by several JSON documents (schema.h, docs/json.md). */
#include "common/schema.h"

void cli_json_counts(struct cli_json *j, const char *key, const struct sevmig_stream_counts *c)
{
	cli_json_kobject(j, key);
	cli_json_ku64(j, "records", c->records);
	cli_json_ku64(j, "stream_bytes", c->bytes);
	cli_json_ku64(j, "rounds", c->rounds);
	cli_json_ku64(j, "pstate_records", c->pstate_records);
	cli_json_ku64(j, "encrypted_pages", c->enc_pages);
	cli_json_ku64(j, "plain_pages", c->plain_pages);
	cli_json_ku64(j, "zero_pages", c->zero_pages);
	cli_json_ku64(j, "encrypted_records", c->enc_records);
	cli_json_ku64(j, "plain_records", c->plain_records);
	cli_json_ku64(j, "zero_records", c->zero_records);
	cli_json_ku64(j, "plain_wire_bytes", c->plain_wire_bytes);
	cli_json_ku64(j, "vmsa_records", c->vmsa);
	cli_json_ku64(j, "vmm_records", c->vmm_records);
	cli_json_ku64(j, "vmm_objects", c->vmm_objects);
	cli_json_ku64(j, "skipped_records", c->skipped);
	cli_json_end(j);
}

void cli_json_pstate_stats(struct cli_json *j, const char *key,
			   const struct sevmig_pstate_stats *st)
{
	cli_json_kobject(j, key);
	cli_json_ku64(j, "memslots", st->slots);
	cli_json_ku64(j, "covered_pages", st->covered_pages);
	cli_json_ku64(j, "shared_pages", st->shared_pages);
	cli_json_ku64(j, "private_pages", st->private_pages);
	cli_json_ku64(j, "shared_runs", st->shared_runs);
	cli_json_ku64(j, "private_runs", st->private_runs);
	cli_json_ku64(j, "largest_shared_run", st->largest_shared_run);
	cli_json_end(j);
}

void cli_json_fault(struct cli_json *j, const char *key, const char *msg,
		    const struct sevmig_error *err)
{
	if (!msg) {
		cli_json_knull(j, key);
		return;
	}
	cli_json_kobject(j, key);
	cli_json_kstr(j, "message", msg);
	cli_json_ku64(j, "index", err->index);
	if (err->offset != SEVMIG_NO_OFFSET)
		cli_json_ku64(j, "offset", err->offset);
	cli_json_end(j);
}
