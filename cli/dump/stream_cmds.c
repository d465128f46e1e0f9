/* SPDX-License-Identifier: MIT */
/*
 * sevmig-dump stream, verify: migration streams (docs/stream-format.md). The
 * key-less reader lists and checks everything but the packets' MACs; with
 * the target's PDH key, a dry-run receive on the software firmware model
 * checks those too without writing any guest memory. Thin: argument parsing
 * and output around <sevmig/stream.h>.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/schema.h"
#include "common/xfer.h"
#include "dump/dump.h"

struct sargs {
	const char *file;
	const char *pdh_key;
	const char *psk;
	enum cli_json_mode json;
	bool quiet;
	unsigned threads;
	uint8_t key[SEVMIG_KEY_SIZE];
};

/* Reader options: keyed with --psk (every tag verified), else key-less. */
static void key_opts(const struct sargs *a, struct sevmig_reader_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	if (a->psk) {
		o->key_source = SEVMIG_KEY_PSK;
		o->key = a->key;
	}
}

void dump_stream_usage(FILE *f)
{
	fprintf(f, "usage: sevmig-dump stream [--psk FILE] [--json] FILE\n"
		   "\n"
		   "List a migration stream: its header (format version, migration UUID, guest\n"
		   "policy, memory layout) and a table of its records (index, byte offset, type,\n"
		   "payload length, gfn range, pages, details), every record checked as it is\n"
		   "read. FILE '-' is standard input.\n"
		   "\n"
		   "  --psk FILE  the stream key: verify every record's tag as it is listed\n"
		   "  --json      the same as JSON Lines (docs/json.md): a sevmig.stream-header/1\n"
		   "              line, a sevmig.stream-record/1 line per record, and last a\n"
		   "              sevmig.stream-result/1 line (counters, complete, error)\n"
		   "\n"
		   "examples:\n"
		   "  sevmig-dump stream guest.stream\n"
		   "  sevmig-send -m 0:64M:guest.mem -t target.cert | sevmig-dump stream --json -\n"
		   "\n"
		   "Exit status: 0 listed to its END (or ABORT) record, 1 damaged or truncated\n"
		   "(the listing stops at the first fault, which is printed with its record index\n"
		   "and byte offset), 2 error (unreadable file), 130 or 143 interrupted by SIGINT\n"
		   "or SIGTERM.\n");
}

void dump_verify_usage(FILE *f)
{
	fprintf(f, "usage: sevmig-dump verify [--pdh-key KEY] [--psk FILE] [--threads N]\n"
		   "                          [--json[=pretty]] [--quiet] FILE\n"
		   "\n"
		   "Check a migration stream without receiving it: framing, record checksums,\n"
		   "sequence and order, every gfn against the memory layout and the page state,\n"
		   "the counters and the SHA-256 digest of the END record. With the target's PDH\n"
		   "private key, also open the session and check every packet's MAC through a\n"
		   "dry-run receive on the software firmware model (no guest memory is written).\n"
		   "FILE '-' is standard input.\n"
		   "\n"
		   "  --pdh-key KEY  the target platform's PDH private key (PEM)\n"
		   "  --psk FILE     the stream key: verify every record's tag (without it, a\n"
		   "                 keyed stream's tags are left unverified)\n"
		   "  --threads N    worker threads for the MAC checks (default: the online CPUs)\n"
		   "  --json         the verdict as one JSON document, sevmig.verify/1 of\n"
		   "                 docs/json.md (--json=pretty: indented)\n"
		   "  -q, --quiet    print nothing; the exit status is the answer\n"
		   "\n"
		   "examples:\n"
		   "  sevmig-dump verify guest.stream\n"
		   "  sevmig-dump verify --pdh-key target.key guest.stream\n"
		   "\n"
		   "Exit status: 0 sound, 1 damaged, truncated, aborted by the source, or (with\n"
		   "--pdh-key) not for this key (the first fault is printed with its record index\n"
		   "and byte offset), 2 error (unreadable file, unusable key), 130 or 143\n"
		   "interrupted by SIGINT or SIGTERM.\n");
}

enum { O_JSON = 256, O_KEY, O_THREADS, O_PSK };

static int parse_sargs(const char *cmd, int argc, char **argv, bool verify, struct sargs *a)
{
	static const struct option longopts[] = {
		{ "json", optional_argument, NULL, O_JSON },
		{ "pdh-key", required_argument, NULL, O_KEY },
		{ "psk", required_argument, NULL, O_PSK },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	memset(a, 0, sizeof(*a));
	a->threads = cli_default_threads();
	optind = 1;
	opterr = 0;
	int c;
	uint64_t v;
	while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
		if (!verify && (c == O_KEY || c == O_THREADS || c == 'q'))
			c = '?';
		switch (c) {
		case O_JSON:
			if (cli_json_parse_mode("--json", optarg, &a->json))
				return CLI_ERR;
			if (!verify && a->json == CLI_JSON_PRETTY)
				return cli_error("%s: --json is JSON Lines, one document per line: "
						 "no =pretty",
						 cmd);
			break;
		case O_KEY:
			a->pdh_key = optarg;
			break;
		case O_PSK: {
			struct sevmig_error e;
			sevmig_error_clear(&e);
			if (sevmig_psk_load(optarg, a->key, &e))
				return cli_error("%s", e.message);
			a->psk = optarg;
			break;
		}
		case O_THREADS:
			if (cli_parse_uint_opt("--threads", optarg, 64, &v))
				return CLI_ERR;
			a->threads = (unsigned)v;
			break;
		case 'q':
			a->quiet = true;
			break;
		case 'h':
			(verify ? dump_verify_usage : dump_stream_usage)(stdout);
			return -1;
		case ':':
			return cli_error("%s: %s needs a value", cmd, argv[optind - 1]);
		default:
			return cli_error("%s: unknown option '%s' (see sevmig-dump %s --help)", cmd,
					 argv[optind - 1], cmd);
		}
	}
	if (argc - optind != 1)
		return cli_error("%s: expected one stream file ('-' for standard input; see "
				 "sevmig-dump %s --help)",
				 cmd, cmd);
	a->file = argv[optind];
	return 0;
}

static int open_stream(const char *file, struct cli_chan *ch)
{
	int fd = STDIN_FILENO;
	const char *name = "standard input";
	if (strcmp(file, "-")) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return cli_error("%s: %s", file, strerror(errno));
		name = file;
	}
	cli_chan_init(ch, fd, name, -1);
	return 0;
}

static void close_stream(struct cli_chan *ch)
{
	if (ch->fd != STDIN_FILENO)
		close(ch->fd);
	cli_chan_fini(ch);
}

/* A stream fault ("no", exit 1) or an error of ours (exit 2)? */
static int classify(const struct cli_chan *ch, int rc)
{
	if (ch->err)
		return CLI_ERR;
	switch (rc) {
	case -ENODATA:
	case -EBADMSG:
	case -EPROTO:
	case -ECANCELED:
	case -EIO: /* the firmware refused a packet or the session */
		return CLI_NO;
	default:
		return CLI_ERR;
	}
}

static void fault_message(const struct cli_chan *ch, const struct sevmig_error *err, int rc,
			  char *buf, size_t size)
{
	if (ch->err)
		cli_chan_describe(ch, buf, size);
	else
		snprintf(buf, size, "%s", err->message[0] ? err->message : sevmig_strerror(rc));
}

static const struct {
	uint32_t bit;
	const char *name;
} policy_bits[] = {
	{ SEVMIG_POLICY_NODBG, "NODBG" },   { SEVMIG_POLICY_NOKS, "NOKS" },
	{ SEVMIG_POLICY_ES, "ES" },	    { SEVMIG_POLICY_NOSEND, "NOSEND" },
	{ SEVMIG_POLICY_DOMAIN, "DOMAIN" }, { SEVMIG_POLICY_SEV, "SEV" },
};
#define NPOLICY_BITS (sizeof(policy_bits) / sizeof(policy_bits[0]))

static void policy_names(char *buf, size_t size, uint32_t p)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < NPOLICY_BITS; i++)
		if (p & policy_bits[i].bit)
			off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? "," : "",
						policy_bits[i].name);
}

/* ---- stream ------------------------------------------------------------------ */

static void header_text(const char *name, const struct sevmig_stream_header *h)
{
	char uuid[37], pol[64];
	cli_uuid_format(h->uuid, uuid);
	policy_names(pol, sizeof(pol), h->policy);
	printf("stream %s\n", name);
	printf("  format %u.%u, header %u bytes, page size %u%s\n", h->version_major,
	       h->version_minor, h->header_len, h->page_size,
	       h->flags & SEVMIG_STREAM_FLAG_SOFT ? ", SOFT (made with the software firmware model)"
						  : "");
	printf("  migration %s, guest policy 0x%" PRIx32 "%s%s%s\n", uuid, h->policy,
	       pol[0] ? " (" : "", pol, pol[0] ? ")" : "");
	printf("  memory layout: %u memslot%s\n", h->nslots, h->nslots == 1 ? "" : "s");
	for (uint32_t i = 0; i < h->nslots; i++) {
		uint64_t gfn = h->slots[i].gfn, np = h->slots[i].npages;
		printf("    %u: gpa 0x%" PRIx64 "-0x%" PRIx64 ", gfns 0x%" PRIx64 "-0x%" PRIx64
		       ", %" PRIu64 " pages\n",
		       i, gfn << SEVMIG_PAGE_SHIFT, ((gfn + np) << SEVMIG_PAGE_SHIFT) - 1, gfn,
		       gfn + np - 1, np);
	}
	printf("\n%7s %12s  %-8s %8s  %-29s %6s  %s\n", "index", "offset", "type", "length", "gfns",
	       "pages", "details");
}

static void header_json(struct cli_json *j, const char *name, const struct sevmig_stream_header *h)
{
	char uuid[37];
	cli_uuid_format(h->uuid, uuid);
	cli_json_doc(j, CLI_SCHEMA_STREAM_HEADER);
	cli_json_kstr(j, "file", name);
	char version[24];
	snprintf(version, sizeof(version), "%u.%u", h->version_major, h->version_minor);
	cli_json_kstr(j, "version", version);
	cli_json_ku64(j, "version_major", h->version_major);
	cli_json_ku64(j, "version_minor", h->version_minor);
	cli_json_ku64(j, "header_bytes", h->header_len);
	cli_json_ku64(j, "flags", h->flags);
	cli_json_kbool(j, "soft", h->flags & SEVMIG_STREAM_FLAG_SOFT);
	cli_json_ku64(j, "page_size", h->page_size);
	cli_json_kstr(j, "uuid", uuid);
	cli_json_ku64(j, "policy", h->policy);
	cli_json_karray(j, "policy_flags");
	for (size_t i = 0; i < NPOLICY_BITS; i++)
		if (h->policy & policy_bits[i].bit)
			cli_json_str(j, policy_bits[i].name);
	cli_json_end(j);
	cli_json_karray(j, "memslots");
	for (uint32_t i = 0; i < h->nslots; i++) {
		cli_json_object(j);
		cli_json_ku64(j, "gpa", h->slots[i].gfn << SEVMIG_PAGE_SHIFT);
		cli_json_ku64(j, "bytes", h->slots[i].npages << SEVMIG_PAGE_SHIFT);
		cli_json_ku64(j, "first_gfn", h->slots[i].gfn);
		cli_json_ku64(j, "pages", h->slots[i].npages);
		cli_json_end(j);
	}
	cli_json_end(j);
}

/* ABORT's message: m bytes at payload + 8, not NUL-terminated, clipped to
 * the payload. */
static const uint8_t *abort_text(const struct sevmig_record_info *r, size_t *len)
{
	const uint8_t *p = r->payload;
	uint32_t m = r->length >= 8 ? (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
					  (uint32_t)p[7] << 24
				    : 0;
	if (m > r->length - 8)
		m = r->length - 8;
	*len = m;
	return p + 8;
}

static void abort_message(const struct sevmig_record_info *r, char *buf, size_t size)
{
	size_t m;
	const uint8_t *t = abort_text(r, &m);
	size_t n = m < size - 1 ? m : size - 1;
	memcpy(buf, t, n);
	buf[n] = '\0';
}

/* A VMM vendor FourCC as text: its four characters, '?' for unprintable ones. */
static void vendor_text(uint32_t v, char out[5])
{
	for (int i = 0; i < 4; i++) {
		unsigned c = (v >> (8 * i)) & 0xff;
		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[4] = '\0';
}

static void record_text(const struct sevmig_record_info *r)
{
	char gfns[40] = "-", pages[24] = "-", det[200] = "";
	bool has_range = (r->pages && r->type != SEVMIG_REC_VMSA) || r->type == SEVMIG_REC_PSTATE;
	if (has_range)
		snprintf(gfns, sizeof(gfns), "0x%" PRIx64 "-0x%" PRIx64, r->first_gfn, r->last_gfn);
	if (r->pages)
		snprintf(pages, sizeof(pages), "%" PRIu64, r->pages);
	switch (r->skipped ? 0 : r->type) {
	case 0:
		snprintf(det, sizeof(det), "unknown type %u, skippable: skipped", r->type);
		break;
	case SEVMIG_REC_SESSION:
		snprintf(det, sizeof(det), "policy 0x%" PRIx32, r->policy);
		break;
	case SEVMIG_REC_PSTATE:
		snprintf(det, sizeof(det), "%s, %" PRIu64 " shared of %" PRIu64 " pages",
			 r->pstate_kind == SEVMIG_PSTATE_FULL ? "full" : "delta", r->pstate_shared,
			 r->pstate_covered);
		break;
	case SEVMIG_REC_PLAIN:
		snprintf(det, sizeof(det), "%s", r->codec == SEVMIG_CODEC_ZSTD ? "zstd" : "raw");
		break;
	case SEVMIG_REC_ZERO:
		snprintf(det, sizeof(det), "%" PRIu32 " run%s", r->runs, r->runs == 1 ? "" : "s");
		break;
	case SEVMIG_REC_VMSA:
		snprintf(det, sizeof(det), "vCPU %" PRIu32, r->vcpu);
		break;
	case SEVMIG_REC_ROUND:
		snprintf(det, sizeof(det), "round %" PRIu64, r->round);
		break;
	case SEVMIG_REC_ABORT: {
		char m[160];
		abort_message(r, m, sizeof(m));
		snprintf(det, sizeof(det), "%s%s%s",
			 r->abort_reason == SEVMIG_ABORT_CANCELLED ? "cancelled" : "error",
			 m[0] ? ": " : "", m);
		break;
	}
	case SEVMIG_REC_VMM: {
		char v[5];
		vendor_text(r->vmm_vendor, v);
		snprintf(det, sizeof(det),
			 "vendor %s type %" PRIu32 ", bytes %" PRIu64 "-%" PRIu64 " of %" PRIu64
			 "%s",
			 v, r->vmm_type, r->vmm_offset, r->vmm_offset + r->length - 32, r->vmm_size,
			 r->vmm_last ? " (last)" : "");
		break;
	}
	case SEVMIG_REC_END:
		snprintf(det, sizeof(det), "tag ");
		for (int i = 0; i < 8; i++)
			snprintf(det + 4 + 2 * i, sizeof(det) - 4 - 2 * i, "%02x", r->tag[i]);
		strcat(det, r->tag_checked ? "... (verified)" : "... (not verified)");
		break;
	}
	printf("%7" PRIu64 " %#12" PRIx64 "  %-8s %8" PRIu32 "  %-29s %6s  %s\n", r->index,
	       r->offset, sevmig_record_type_name(r->type), r->length, gfns, pages, det);
}

static void record_json(struct cli_json *j, const struct sevmig_record_info *r)
{
	cli_json_doc(j, CLI_SCHEMA_STREAM_RECORD);
	cli_json_ku64(j, "index", r->index);
	cli_json_ku64(j, "offset", r->offset);
	cli_json_kstr(j, "type", sevmig_record_type_name(r->type));
	cli_json_ku64(j, "type_code", r->type);
	cli_json_ku64(j, "payload_bytes", r->length);
	if ((r->pages && r->type != SEVMIG_REC_VMSA) || r->type == SEVMIG_REC_PSTATE) {
		cli_json_ku64(j, "first_gfn", r->first_gfn);
		cli_json_ku64(j, "last_gfn", r->last_gfn);
	}
	cli_json_ku64(j, "pages", r->pages);
	switch (r->skipped ? 0 : r->type) {
	case 0:
		cli_json_kbool(j, "skipped", true);
		break;
	case SEVMIG_REC_SESSION:
		cli_json_ku64(j, "policy", r->policy);
		break;
	case SEVMIG_REC_PSTATE:
		cli_json_kstr(j, "kind", r->pstate_kind == SEVMIG_PSTATE_FULL ? "full" : "delta");
		cli_json_ku64(j, "shared_pages", r->pstate_shared);
		cli_json_ku64(j, "covered_pages", r->pstate_covered);
		break;
	case SEVMIG_REC_PLAIN:
		cli_json_kstr(j, "codec", r->codec == SEVMIG_CODEC_ZSTD ? "zstd" : "raw");
		break;
	case SEVMIG_REC_ZERO:
		cli_json_ku64(j, "runs", r->runs);
		break;
	case SEVMIG_REC_VMSA:
		cli_json_ku64(j, "vcpu", r->vcpu);
		break;
	case SEVMIG_REC_ROUND:
		cli_json_ku64(j, "round", r->round);
		break;
	case SEVMIG_REC_ABORT: {
		size_t m;
		const uint8_t *t = abort_text(r, &m);
		cli_json_kstr(j, "reason",
			      r->abort_reason == SEVMIG_ABORT_CANCELLED ? "cancelled" : "error");
		cli_json_kstrn(j, "message", t, m);
		break;
	}
	case SEVMIG_REC_VMM: {
		char v[5];
		vendor_text(r->vmm_vendor, v);
		cli_json_kstr(j, "vendor", v);
		cli_json_ku64(j, "vendor_code", r->vmm_vendor);
		cli_json_ku64(j, "vmm_type", r->vmm_type);
		cli_json_ku64(j, "object_bytes", r->vmm_size);
		cli_json_ku64(j, "chunk_offset", r->vmm_offset);
		cli_json_kbool(j, "last", r->vmm_last);
		break;
	}
	case SEVMIG_REC_END:
		cli_json_khex(j, "tag", r->tag, sizeof(r->tag));
		cli_json_kbool(j, "tag_checked", r->tag_checked);
		break;
	}
}

int dump_stream(int argc, char **argv)
{
	struct sargs a;
	int prc = parse_sargs("stream", argc, argv, false, &a);
	if (prc)
		return prc < 0 ? CLI_OK : CLI_ERR;
	struct cli_chan ch;
	if (open_stream(a.file, &ch))
		return CLI_ERR;
	/* A stream read from a pipe may take long: a stop signal ends the read
	 * (exit 128 + the signal). */
	cli_catch_signals();
	struct sevmig_stream_reader *rd;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	struct sevmig_reader_opts ko;
	key_opts(&a, &ko);
	int rc = sevmig_stream_reader_new(cli_chan_read, &ch, &ko, &rd, NULL);
	if (rc) {
		close_stream(&ch);
		return cli_error("%s", sevmig_strerror(rc));
	}
	/* JSON Lines: a line per record as it is read, so that a listing of
	 * a large stream starts at once and needs no memory. */
	struct cli_json j;
	cli_json_init(&j, stdout, false);
	bool out_failed = false;
	struct sevmig_stream_header h;
	rc = sevmig_stream_reader_header(rd, &h, &err);
	bool header_ok = rc == 0, ended = false;
	if (header_ok && a.json) {
		header_json(&j, a.file, &h);
		out_failed = cli_json_doc_end(&j) != 0;
	} else if (header_ok) {
		header_text(ch.name, &h);
	}
	struct sevmig_record_info rec = { .sz = sizeof(rec) };
	while (rc == 0 && !out_failed) {
		rc = sevmig_stream_reader_next(rd, &rec, &err);
		if (rc == 1) {
			if (a.json) {
				record_json(&j, &rec);
				out_failed = cli_json_doc_end(&j) != 0;
			} else {
				record_text(&rec);
			}
			ended = rec.type == SEVMIG_REC_END || rec.type == SEVMIG_REC_ABORT;
			rc = 0;
		} else if (rc == 0) {
			break;
		}
	}
	if (out_failed) {
		sevmig_stream_reader_free(rd);
		close_stream(&ch);
		return CLI_ERR; /* printed */
	}
	/* After ABORT the reader says "cancelled": that is the stream's end. */
	if (rc == -ECANCELED && ended)
		rc = 0;
	struct sevmig_stream_counts c = { .sz = sizeof(c) };
	sevmig_stream_reader_counts(rd, &c);
	char msg[400] = "";
	if (rc)
		fault_message(&ch, &err, rc, msg, sizeof(msg));
	int status = rc ? classify(&ch, rc) : CLI_OK;
	if (a.json) {
		cli_json_doc(&j, CLI_SCHEMA_STREAM_RESULT);
		cli_json_kstr(&j, "file", a.file);
		cli_json_kbool(&j, "complete", !rc && ended);
		cli_json_counts(&j, "counts", &c);
		cli_json_fault(&j, "error", rc ? msg : NULL, &err);
		if (cli_json_doc_end(&j) && status == CLI_OK)
			status = CLI_ERR;
	} else if (!rc) {
		printf("\n%" PRIu64 " records and END, %" PRIu64 " bytes: %" PRIu64
		       " encrypted, %" PRIu64 " plain (%" PRIu64 " bytes of page data), %" PRIu64
		       " zero pages; %" PRIu64 " round%s\n",
		       c.records, c.bytes, c.enc_pages, c.plain_pages, c.plain_wire_bytes,
		       c.zero_pages, c.rounds, c.rounds == 1 ? "" : "s");
	}
	if (rc)
		cli_error("%s: %s", ch.name, msg);
	sevmig_stream_reader_free(rd);
	close_stream(&ch);
	return status;
}

/* ---- verify ---------------------------------------------------------------------- */

/* Key-less: read every record through the reader. */
static int verify_keyless(const struct sargs *a, struct cli_chan *ch,
			  struct sevmig_stream_counts *c, struct sevmig_error *err)
{
	struct sevmig_stream_reader *rd;
	struct sevmig_reader_opts ko;
	key_opts(a, &ko);
	int rc = sevmig_stream_reader_new(cli_chan_read, ch, &ko, &rd, NULL);
	if (rc)
		return rc;
	struct sevmig_record_info rec = { .sz = sizeof(rec) };
	while ((rc = sevmig_stream_reader_next(rd, &rec, err)) == 1)
		;
	sevmig_stream_reader_counts(rd, c);
	sevmig_stream_reader_free(rd);
	return rc;
}

/* With the key: a dry-run receive. *key_bad when the key itself failed
 * (printed). */
static int verify_keyed(const struct sargs *a, struct cli_chan *ch, struct sevmig_stream_counts *c,
			struct sevmig_error *err, bool *key_bad)
{
	struct sevmig_fw *fw;
	if (cli_soft_fw(a->pdh_key, false, 0, &fw)) {
		*key_bad = true;
		return -EINVAL;
	}
	/* No line drawn: the progress callback only turns a signal into a cancel. */
	struct cli_progress prog;
	cli_progress_init(&prog, "sevmig-dump", CLI_PROGRESS_NONE);
	SEVMIG_OPTS(sevmig_receiver_opts, ro, .dry_run = true, .workers = a->threads,
		    .progress = cli_progress_update, .progress_arg = &prog,
		    .key_source = a->psk ? SEVMIG_KEY_PSK : 0, .key = a->psk ? a->key : NULL,
		    .insecure = !a->psk);
	struct sevmig_receiver *r = NULL;
	cli_block_signals(true);
	int rc = sevmig_receiver_new(fw, NULL, 0, cli_chan_read, ch, &ro, &r, err);
	cli_block_signals(false);
	if (!rc)
		rc = sevmig_receiver_run(r, err);
	if (r)
		sevmig_receiver_counts(r, c);
	sevmig_receiver_free(r);
	sevmig_fw_free(fw);
	return rc;
}

int dump_verify(int argc, char **argv)
{
	struct sargs a;
	int prc = parse_sargs("verify", argc, argv, true, &a);
	if (prc)
		return prc < 0 ? CLI_OK : CLI_ERR;
	struct cli_chan ch;
	if (open_stream(a.file, &ch))
		return CLI_ERR;
	cli_catch_signals();
	struct sevmig_stream_counts c = { .sz = sizeof(c) };
	struct sevmig_error err;
	sevmig_error_clear(&err);
	bool key_bad = false;
	int rc = a.pdh_key ? verify_keyed(&a, &ch, &c, &err, &key_bad)
			   : verify_keyless(&a, &ch, &c, &err);
	char msg[400] = "";
	int status = CLI_OK;
	if (key_bad) {
		close_stream(&ch);
		return CLI_ERR;
	}
	if (rc) {
		fault_message(&ch, &err, rc, msg, sizeof(msg));
		status = classify(&ch, rc);
	}
	/* Cut short by a stop signal: no verdict, whatever was read so far. */
	if (rc && cli_interrupted()) {
		snprintf(msg, sizeof(msg), "interrupted by a signal before the end");
		status = CLI_ERR;
	}
	/* What was checked: the names of docs/json.md's "checks". */
	const char *checks[8];
	size_t nchecks = 0;
	checks[nchecks++] = "framing";
	checks[nchecks++] = "checksums";
	if (a.psk)
		checks[nchecks++] = "tags";
	checks[nchecks++] = "completeness";
	checks[nchecks++] = "order";
	checks[nchecks++] = "counters";
	if (a.pdh_key) {
		checks[nchecks++] = "session";
		checks[nchecks++] = "packet MACs";
	}
	char checked[200] = "";
	for (size_t i = 0, off = 0; i < nchecks; i++)
		off += (size_t)snprintf(checked + off, sizeof(checked) - off, "%s%s",
					i == 0				? ""
					: i + 1 == nchecks && a.pdh_key ? " and "
									: ", ",
					checks[i]);
	const char *verdict = !rc		 ? "sound"
			      : rc == -ECANCELED ? "incomplete"
			      : rc == -EIO	 ? "refused"
						 : "damaged";
	if (a.json && status != CLI_ERR) {
		struct cli_json j;
		cli_json_init(&j, stdout, a.json == CLI_JSON_PRETTY);
		cli_json_doc(&j, CLI_SCHEMA_VERIFY);
		cli_json_kstr(&j, "file", a.file);
		cli_json_kbool(&j, "sound", !rc);
		cli_json_kstr(&j, "verdict", verdict);
		cli_json_karray(&j, "checks");
		for (size_t i = 0; i < nchecks; i++)
			cli_json_str(&j, checks[i]);
		cli_json_end(&j);
		cli_json_counts(&j, "counts", &c);
		cli_json_fault(&j, "error", rc ? msg : NULL, &err);
		if (cli_json_doc_end(&j))
			status = CLI_ERR;
	} else if (!a.quiet && status == CLI_OK) {
		printf("%s: sound (%s): %" PRIu64 " records and END, %" PRIu64 " bytes; %" PRIu64
		       " encrypted, %" PRIu64 " plain, %" PRIu64 " zero pages\n",
		       ch.name, checked, c.records, c.bytes, c.enc_pages, c.plain_pages,
		       c.zero_pages);
	}
	if (status == CLI_NO && !a.quiet && !a.json)
		printf("%s: %s: %s\n", ch.name,
		       rc == -ECANCELED ? "not a complete migration"
		       : rc == -EIO	? "refused by the target's firmware"
					: "damaged",
		       msg);
	if (status == CLI_ERR && msg[0])
		cli_error("%s: %s", ch.name, msg);
	close_stream(&ch);
	return status;
}
