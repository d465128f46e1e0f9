/* SPDX-License-Identifier: MIT */
/* Objects shared by several JSON documents (schema.h, docs/json.md). */
#include "common/schema.h"

#include <stddef.h>
#include <string.h>

/* A key of an object and where the uint64_t it shows lies in the struct. */
struct u64_key {
	const char *key;
	size_t off;
};
/* The offset of a uint64_t member (the _Generic refuses any other type at
 * compile time, so that u64_object() reads what is there). */
#define U64_AT(type, member) (offsetof(type, member) + _Generic(((type *)0)->member, uint64_t : 0))

/* An object under `key`: one number per entry of keys, in their order. */
static void u64_object(struct cli_json *j, const char *key, const void *s,
		       const struct u64_key *keys, size_t n)
{
	cli_json_kobject(j, key);
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		memcpy(&v, (const char *)s + keys[i].off, sizeof(v));
		cli_json_ku64(j, keys[i].key, v);
	}
	cli_json_end(j);
}

#define COUNT(member) U64_AT(struct sevmig_stream_counts, member)
static const struct u64_key counts_keys[] = {
	{ "records", COUNT(records) },
	{ "stream_bytes", COUNT(bytes) },
	{ "rounds", COUNT(rounds) },
	{ "pstate_records", COUNT(pstate_records) },
	{ "encrypted_pages", COUNT(enc_pages) },
	{ "plain_pages", COUNT(plain_pages) },
	{ "zero_pages", COUNT(zero_pages) },
	{ "encrypted_records", COUNT(enc_records) },
	{ "plain_records", COUNT(plain_records) },
	{ "zero_records", COUNT(zero_records) },
	{ "plain_wire_bytes", COUNT(plain_wire_bytes) },
	{ "vmsa_records", COUNT(vmsa) },
	{ "vmm_records", COUNT(vmm_records) },
	{ "vmm_objects", COUNT(vmm_objects) },
	{ "skipped_records", COUNT(skipped) },
};

#define STAT(member) U64_AT(struct sevmig_pstate_stats, member)
static const struct u64_key pstate_stats_keys[] = {
	{ "memslots", STAT(slots) },
	{ "covered_pages", STAT(covered_pages) },
	{ "shared_pages", STAT(shared_pages) },
	{ "private_pages", STAT(private_pages) },
	{ "shared_runs", STAT(shared_runs) },
	{ "private_runs", STAT(private_runs) },
	{ "largest_shared_run", STAT(largest_shared_run) },
};

void cli_json_counts(struct cli_json *j, const char *key, const struct sevmig_stream_counts *c)
{
	u64_object(j, key, c, counts_keys, sizeof(counts_keys) / sizeof(counts_keys[0]));
}

void cli_json_pstate_stats(struct cli_json *j, const char *key,
			   const struct sevmig_pstate_stats *st)
{
	u64_object(j, key, st, pstate_stats_keys,
		   sizeof(pstate_stats_keys) / sizeof(pstate_stats_keys[0]));
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
