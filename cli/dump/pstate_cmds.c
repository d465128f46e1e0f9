/* SPDX-License-Identifier: MIT */
/*
 * sevmig-dump show, diff, merge, convert: page-state files in the binary or
 * text form (docs/pstate-format.md), and the kernel's raw bitmap and region
 * array. Thin: argument parsing and output around the public pstate API.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/schema.h"
#include "dump/dump.h"

/* ---- arguments --------------------------------------------------------------- */

enum {
	OPT_RANGES = 1 << 0,
	OPT_JSON = 1 << 1,
	OPT_QUIET = 1 << 2,
	OPT_OUT = 1 << 3,
	OPT_TO = 1 << 4,
	OPT_MERGE = 1 << 5, /* --union, --intersect, --overlay */
	OPT_RAW = 1 << 6,   /* --base-gfn, --pages */
	OPT_LIST = 1 << 7,
	OPT_ZSTD = 1 << 8,
};

enum out_form { TO_NATIVE, TO_TEXT, TO_BITMAP, TO_LIST };

struct args {
	const char *pos[3];
	int npos;
	const char *out;
	enum out_form to;
	bool has_to, ranges, quiet, list, has_base, has_pages;
	enum cli_json_mode json;
	uint64_t base, pages;
	enum sevmig_merge_op op;
	bool has_op;
	int zstd;
};

/* The largest raw bitmap written: 32 TiB of guest (a wider span is almost
 * always a coverage gap, better cut with --base-gfn/--pages). */
#define BITMAP_OUT_MAX (UINT64_C(1) << 30)

/* Default compression of written binary files: fast, and never larger than
 * the raw encoding (the writer keeps whichever is smaller). */
#define DEFAULT_ZSTD 3

static int arg_u64(const char *cmd, const char *name, const char *val, uint64_t *v)
{
	if (cli_parse_u64(val, v))
		return cli_error("%s: %s wants a number (decimal or 0x hex), not '%s'", cmd, name,
				 val);
	return 0;
}

/*
 * Options may come before, between or after the file names, as "--opt VALUE"
 * or "--opt=VALUE"; "--" ends them. Returns 0, CLI_ERR, or -1 when --help
 * printed `help` (the command then exits with success).
 */
static int parse_args(const char *cmd, const char *help, int argc, char **argv, unsigned allowed,
		      int max_pos, struct args *a)
{
	memset(a, 0, sizeof(*a));
	a->zstd = DEFAULT_ZSTD;
	bool opts_done = false;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (opts_done || s[0] != '-' || !strcmp(s, "-")) {
			if (a->npos == max_pos)
				return cli_error("%s: unexpected argument '%s' (see sevmig-dump %s "
						 "--help)",
						 cmd, s, cmd);
			a->pos[a->npos++] = s;
			continue;
		}
		if (!strcmp(s, "--")) {
			opts_done = true;
			continue;
		}
		if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
			fputs(help, stdout);
			return -1;
		}
		/* Split "--name=value". */
		char name[32];
		const char *val = NULL, *eq = strchr(s, '=');
		size_t nl = eq ? (size_t)(eq - s) : strlen(s);
		if (nl >= sizeof(name))
			nl = sizeof(name) - 1;
		memcpy(name, s, nl);
		name[nl] = '\0';
		if (eq)
			val = eq + 1;
		unsigned bit;
		bool takes_value = false;
		if (!strcmp(name, "--ranges"))
			bit = OPT_RANGES;
		else if (!strcmp(name, "--json"))
			bit = OPT_JSON;
		else if (!strcmp(name, "--quiet") || !strcmp(name, "-q"))
			bit = OPT_QUIET;
		else if (!strcmp(name, "-o") || !strcmp(name, "--output"))
			bit = OPT_OUT, takes_value = true;
		else if (!strcmp(name, "--to"))
			bit = OPT_TO, takes_value = true;
		else if (!strcmp(name, "--union") || !strcmp(name, "--intersect") ||
			 !strcmp(name, "--overlay"))
			bit = OPT_MERGE;
		else if (!strcmp(name, "--base-gfn") || !strcmp(name, "--pages"))
			bit = OPT_RAW, takes_value = true;
		else if (!strcmp(name, "--list"))
			bit = OPT_LIST;
		else if (!strcmp(name, "--zstd"))
			bit = OPT_ZSTD, takes_value = true;
		else
			bit = 0;
		if (!(bit & allowed))
			return cli_error("%s: unknown option '%s' (see sevmig-dump %s --help)", cmd,
					 name, cmd);
		if (takes_value && !val) {
			if (i + 1 == argc)
				return cli_error("%s: %s needs a value", cmd, name);
			val = argv[++i];
		} else if (!takes_value && val && bit != OPT_JSON) {
			return cli_error("%s: %s takes no value", cmd, name);
		}
		switch (bit) {
		case OPT_RANGES:
			a->ranges = true;
			break;
		case OPT_JSON:
			if (cli_json_parse_mode("--json", val, &a->json))
				return CLI_ERR;
			break;
		case OPT_QUIET:
			a->quiet = true;
			break;
		case OPT_OUT:
			a->out = val;
			break;
		case OPT_TO:
			if (!strcmp(val, "native"))
				a->to = TO_NATIVE;
			else if (!strcmp(val, "text"))
				a->to = TO_TEXT;
			else if (!strcmp(val, "bitmap"))
				a->to = TO_BITMAP;
			else if (!strcmp(val, "list"))
				a->to = TO_LIST;
			else
				return cli_error("%s: --to wants native, text, bitmap or list, not "
						 "'%s'",
						 cmd, val);
			a->has_to = true;
			break;
		case OPT_MERGE: {
			enum sevmig_merge_op op = !strcmp(name, "--union") ? SEVMIG_MERGE_UNION
						  : !strcmp(name, "--intersect")
						      ? SEVMIG_MERGE_INTERSECT
						      : SEVMIG_MERGE_OVERLAY;
			if (a->has_op && a->op != op)
				return cli_error("%s: give one of --union, --intersect, --overlay",
						 cmd);
			a->op = op;
			a->has_op = true;
			break;
		}
		case OPT_RAW:
			if (name[2] == 'b') {
				if (arg_u64(cmd, name, val, &a->base))
					return CLI_ERR;
				a->has_base = true;
			} else {
				if (arg_u64(cmd, name, val, &a->pages))
					return CLI_ERR;
				a->has_pages = true;
			}
			break;
		case OPT_LIST:
			a->list = true;
			break;
		case OPT_ZSTD: {
			uint64_t v;
			if (arg_u64(cmd, name, val, &v))
				return CLI_ERR;
			if (v > 19)
				return cli_error("%s: --zstd wants a level from 0 (off) to 19",
						 cmd);
			a->zstd = (int)v;
			break;
		}
		}
	}
	if (a->npos < max_pos)
		return cli_error("%s: expected %d file name%s (see sevmig-dump %s --help)", cmd,
				 max_pos, max_pos > 1 ? "s" : "", cmd);
	if ((allowed & OPT_OUT) && !a->out)
		return cli_error("%s: -o OUT is required ('-o -' writes to standard output)", cmd);
	if (a->has_base != a->has_pages)
		return cli_error("%s: --base-gfn and --pages go together", cmd);
	if (a->has_pages &&
	    (!a->pages || a->pages > SEVMIG_GFN_LIMIT || a->base > SEVMIG_GFN_LIMIT - a->pages))
		return cli_error("%s: --base-gfn 0x%" PRIx64 " --pages %" PRIu64
				 " is not a range of gfns below 2^40",
				 cmd, a->base, a->pages);
	return 0;
}

/* ---- writing a map in any form --------------------------------------------------- */

/*
 * The raw bitmap window: --base-gfn/--pages, else the span from the first
 * slot's first page to the last slot's last page (*derived: the caller says
 * so on stderr, since the file does not carry it).
 */
static int bitmap_window(const struct sevmig_pstate *ps, const struct args *a, uint64_t *base,
			 uint64_t *pages, bool *derived)
{
	*derived = !a->has_pages;
	if (a->has_pages) {
		*base = a->base;
		*pages = a->pages;
		return 0;
	}
	size_t n = sevmig_pstate_slot_count(ps);
	struct sevmig_range first, last;
	if (!n || sevmig_pstate_slot(ps, 0, &first) || sevmig_pstate_slot(ps, n - 1, &last))
		return cli_error("%s: the map covers no pages: give --base-gfn and --pages",
				 a->out);
	*base = first.gfn;
	*pages = last.gfn + last.npages - first.gfn;
	return 0;
}

static int write_map(const struct sevmig_pstate *ps, const struct args *a)
{
	void *buf = NULL;
	size_t len = 0;
	int rc = 0;
	switch (a->to) {
	case TO_NATIVE: {
		SEVMIG_OPTS(sevmig_pstate_save_opts, o, .zstd_level = a->zstd);
		rc = sevmig_pstate_serialize(ps, &o, &buf, &len);
		break;
	}
	case TO_TEXT: {
		char *t;
		rc = sevmig_pstate_format_text(ps, &t, &len);
		buf = t;
		break;
	}
	case TO_BITMAP: {
		uint64_t base = 0, pages = 0;
		bool derived;
		if (bitmap_window(ps, a, &base, &pages, &derived))
			return CLI_ERR;
		if (sevmig_bitmap_bytes(pages) > BITMAP_OUT_MAX)
			return cli_error("%s: a bitmap of %" PRIu64 " pages would take %zu MiB; "
					 "choose a window with --base-gfn and --pages",
					 a->out, pages, sevmig_bitmap_bytes(pages) >> 20);
		if (derived)
			fprintf(stderr,
				"%s: %s: bitmap of gfns 0x%" PRIx64 "-0x%" PRIx64
				" (--base-gfn 0x%" PRIx64 " --pages %" PRIu64 ")\n",
				cli_prog(), a->out, base, base + pages - 1, base, pages);
		len = sevmig_bitmap_bytes(pages);
		buf = calloc(1, len ? len : 1);
		rc = buf ? sevmig_pstate_to_bitmap(ps, base, pages, buf, len) : -ENOMEM;
		break;
	}
	case TO_LIST: {
		size_t n = 0;
		rc = sevmig_pstate_to_region_array(ps, NULL, 0, &n);
		if (rc == -E2BIG || (!rc && n)) {
			len = n * SEVMIG_REGION_ENTRY_SIZE;
			buf = malloc(len);
			rc = buf ? sevmig_pstate_to_region_array(ps, buf, len, &n) : -ENOMEM;
		}
		break;
	}
	}
	if (rc) {
		free(buf);
		return cli_error("%s: cannot produce the output: %s", a->out, sevmig_strerror(rc));
	}
	rc = cli_write_file(a->out, buf, len);
	free(buf);
	return rc;
}

/* ---- show ---------------------------------------------------------------------------- */

static const char show_help[] =
    "usage: sevmig-dump show FILE [--ranges | --json[=pretty]]\n"
    "\n"
    "Summarise a page-state file (binary or text form, told apart by content;\n"
    "'-' reads standard input): memslots, pages covered, shared and private\n"
    "pages, runs, the largest shared run.\n"
    "\n"
    "  --ranges  print the canonical text form instead: one line per maximal run,\n"
    "            '0xFIRST-0xLAST shared|private', inclusive gfns\n"
    "  --json    print the summary as one JSON document, sevmig.pstate/1 of\n"
    "            docs/json.md (--json=pretty: indented)\n"
    "\n"
    "examples:\n"
    "  sevmig-dump show guest.pstate\n"
    "  sevmig-dump show guest.pstate --ranges > guest.txt\n"
    "  sevmig-dump show guest.txt --json\n";

int dump_show(int argc, char **argv)
{
	struct args a;
	int rc = parse_args("show", show_help, argc, argv, OPT_RANGES | OPT_JSON, 1, &a);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (a.ranges && a.json)
		return cli_error("show: give --ranges or --json, not both");
	struct sevmig_pstate *ps;
	if (cli_load_pstate(a.pos[0], &ps))
		return CLI_ERR;
	if (a.ranges) {
		char *text;
		size_t len;
		rc = sevmig_pstate_format_text(ps, &text, &len);
		sevmig_pstate_free(ps);
		if (rc)
			return cli_error("%s: %s", a.pos[0], sevmig_strerror(rc));
		rc = cli_write_file("-", text, len);
		free(text);
		return rc;
	}
	struct sevmig_pstate_stats st;
	sevmig_pstate_stats(ps, &st);
	sevmig_pstate_free(ps);
	if (a.json) {
		struct cli_json j;
		cli_json_init(&j, stdout, a.json == CLI_JSON_PRETTY);
		cli_json_doc(&j, CLI_SCHEMA_PSTATE);
		cli_json_kstr(&j, "file", a.pos[0]);
		cli_json_pstate_stats(&j, "page_state", &st);
		return cli_json_doc_end(&j);
	} else {
		printf("memslots:           %" PRIu64 "\n"
		       "covered pages:      %" PRIu64 "\n"
		       "shared pages:       %" PRIu64 "\n"
		       "private pages:      %" PRIu64 "\n"
		       "shared runs:        %" PRIu64 "\n"
		       "private runs:       %" PRIu64 "\n"
		       "largest shared run: %" PRIu64 "\n",
		       st.slots, st.covered_pages, st.shared_pages, st.private_pages,
		       st.shared_runs, st.private_runs, st.largest_shared_run);
	}
	return fflush(stdout) ? cli_error("standard output: write failed") : CLI_OK;
}

/* ---- diff ----------------------------------------------------------------------------- */

static const char diff_help[] =
    "usage: sevmig-dump diff A B [--quiet | --json]\n"
    "\n"
    "List the ranges where two page-state files differ, one per line, sorted and\n"
    "maximal: '0xFIRST-0xLAST A_STATE -> B_STATE', inclusive gfns, states shared,\n"
    "private or absent (outside that file's memslots).\n"
    "Exit status: 0 the maps are equal, 1 they differ, 2 error.\n"
    "\n"
    "  --quiet, -q  print nothing; only the exit status tells\n"
    "  --json       JSON Lines (docs/json.md): a sevmig.pstate-change/1 line per\n"
    "               range, then one sevmig.pstate-diff/1 line with the totals\n"
    "\n"
    "examples:\n"
    "  sevmig-dump diff before.pstate after.pstate\n"
    "  sevmig-dump diff -q source.pstate target.txt && echo same\n";

struct diff_out {
	bool quiet;
	struct cli_json *json; /* JSON Lines, or NULL */
	uint64_t count, pages;
};

static int print_change(void *arg, const struct sevmig_pstate_change *c)
{
	struct diff_out *d = arg;
	d->count++;
	d->pages += c->npages;
	if (d->quiet)
		return 1; /* one difference settles the answer */
	if (d->json) {
		cli_json_doc(d->json, CLI_SCHEMA_PSTATE_CHANGE);
		cli_json_ku64(d->json, "first_gfn", c->gfn);
		cli_json_ku64(d->json, "last_gfn", c->gfn + c->npages - 1);
		cli_json_ku64(d->json, "pages", c->npages);
		cli_json_kstr(d->json, "a_state", sevmig_page_state_name(c->a));
		cli_json_kstr(d->json, "b_state", sevmig_page_state_name(c->b));
		/* A reader that went away (| head) ends the listing. */
		return cli_json_doc_end(d->json) ? -EPIPE : 0;
	}
	printf("0x%" PRIx64 "-0x%" PRIx64 " %s -> %s\n", c->gfn, c->gfn + c->npages - 1,
	       sevmig_page_state_name(c->a), sevmig_page_state_name(c->b));
	return 0;
}

int dump_diff(int argc, char **argv)
{
	struct args a;
	int rc = parse_args("diff", diff_help, argc, argv, OPT_QUIET | OPT_JSON, 2, &a);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (a.quiet && a.json)
		return cli_error("diff: give --quiet or --json, not both");
	if (a.json == CLI_JSON_PRETTY)
		return cli_error("diff: --json is JSON Lines, one document per line: no =pretty");
	struct sevmig_pstate *pa, *pb;
	if (cli_load_pstate(a.pos[0], &pa))
		return CLI_ERR;
	if (cli_load_pstate(a.pos[1], &pb)) {
		sevmig_pstate_free(pa);
		return CLI_ERR;
	}
	struct cli_json j;
	cli_json_init(&j, stdout, false);
	struct diff_out d = { .quiet = a.quiet, .json = a.json ? &j : NULL };
	rc = sevmig_pstate_diff(pa, pb, print_change, &d);
	sevmig_pstate_free(pa);
	sevmig_pstate_free(pb);
	if (rc == -EPIPE)
		return CLI_ERR; /* printed */
	if (rc < 0)
		return cli_error("diff: %s", sevmig_strerror(rc));
	if (a.json) {
		cli_json_doc(&j, CLI_SCHEMA_PSTATE_DIFF);
		cli_json_kstr(&j, "a_file", a.pos[0]);
		cli_json_kstr(&j, "b_file", a.pos[1]);
		cli_json_kbool(&j, "equal", !d.count);
		cli_json_ku64(&j, "ranges", d.count);
		cli_json_ku64(&j, "pages", d.pages);
		if (cli_json_doc_end(&j))
			return CLI_ERR;
	}
	if (fflush(stdout))
		return cli_error("standard output: write failed");
	return d.count ? CLI_NO : CLI_OK;
}

/* ---- merge ---------------------------------------------------------------------------- */

static const char merge_help[] =
    "usage: sevmig-dump merge A B [--union | --intersect | --overlay] -o OUT\n"
    "                        [--to native|text|bitmap|list] [--zstd LEVEL]\n"
    "\n"
    "Merge two page-state files. The result covers every memslot of both.\n"
    "\n"
    "  --union      shared where either file says shared (the default)\n"
    "  --intersect  shared where both files say shared\n"
    "  --overlay    B's state wherever B covers, A's elsewhere\n"
    "  -o OUT       the result, written atomically; '-' is standard output\n"
    "  --to FORM    native (the binary form, the default), text, bitmap or list\n"
    "               (as in 'sevmig-dump convert')\n"
    "  --zstd N     compression level of the binary form, 0 (off) to 19; default 3,\n"
    "               used only when it makes the file smaller\n"
    "\n"
    "examples:\n"
    "  sevmig-dump merge boot.pstate runtime.pstate -o all.pstate\n"
    "  sevmig-dump merge old.pstate delta.txt --overlay --to text -o -\n";

int dump_merge(int argc, char **argv)
{
	struct args a;
	int rc = parse_args("merge", merge_help, argc, argv,
			    OPT_MERGE | OPT_OUT | OPT_TO | OPT_ZSTD | OPT_RAW, 2, &a);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (a.has_pages && a.to != TO_BITMAP)
		return cli_error(
		    "merge: --base-gfn and --pages only set the window of --to bitmap");
	struct sevmig_pstate *pa, *pb, *m;
	if (cli_load_pstate(a.pos[0], &pa))
		return CLI_ERR;
	if (cli_load_pstate(a.pos[1], &pb)) {
		sevmig_pstate_free(pa);
		return CLI_ERR;
	}
	rc = sevmig_pstate_merge(pa, pb, a.has_op ? a.op : SEVMIG_MERGE_UNION, &m);
	sevmig_pstate_free(pa);
	sevmig_pstate_free(pb);
	if (rc)
		return cli_error("merge: %s", sevmig_strerror(rc));
	rc = write_map(m, &a);
	sevmig_pstate_free(m);
	return rc;
}

/* ---- convert -------------------------------------------------------------------------- */

static const char convert_help[] =
    "usage: sevmig-dump convert IN --to native|text|bitmap|list -o OUT\n"
    "                          [--base-gfn N --pages N] [--list] [--zstd LEVEL]\n"
    "\n"
    "Convert between page-state forms. IN is read as:\n"
    "  - a page-state file (binary or text form), recognised by its content;\n"
    "  - with --list: a region array (KVM_GET_SHARED_PAGES_LIST: 16-byte entries\n"
    "    {u64 gfn_start, u64 gfn_end}, gfn_end exclusive, one per shared run);\n"
    "    --base-gfn and --pages give the coverage, whose other pages are private;\n"
    "  - otherwise, with --base-gfn and --pages: a raw bitmap\n"
    "    (KVM_GET_PAGE_ENC_BITMAP: bit i = gfn base + i, least significant bit\n"
    "    first, 1 = private), ceil(pages / 8) bytes or that rounded up to 8;\n"
    "    the coverage is that range.\n"
    "\n"
    "  --to native  the binary form (docs/pstate-format.md)\n"
    "  --to text    the canonical text form\n"
    "  --to bitmap  a raw bitmap of --base-gfn/--pages, or else of the span from\n"
    "               the first to the last covered page (printed on stderr); pages\n"
    "               outside the memslots read as private, as KVM reports them\n"
    "  --to list    a region array of the shared runs (the coverage is not kept)\n"
    "  -o OUT       written atomically; '-' is standard output\n"
    "  --zstd N     compression level of the binary form, 0 (off) to 19; default 3\n"
    "\n"
    "examples:\n"
    "  sevmig-dump convert guest.txt --to native -o guest.pstate\n"
    "  sevmig-dump convert enc.bitmap --base-gfn 0 --pages 4194304 --to text -o -\n"
    "  sevmig-dump convert shared.list --list --base-gfn 0 --pages 4194304 --to native -o "
    "g.pstate\n"
    "  sevmig-dump convert guest.pstate --to bitmap --base-gfn 0 --pages 262144 -o enc.bitmap\n";

static int read_raw(const char *path, const struct args *a, const uint8_t *buf, size_t len,
		    struct sevmig_pstate **out)
{
	struct sevmig_pstate *ps;
	int rc = sevmig_pstate_new(&ps, NULL);
	if (!rc)
		rc = sevmig_pstate_add_slot(ps, a->base, a->pages);
	if (rc) {
		sevmig_pstate_free(ps);
		return cli_error("%s: --base-gfn 0x%" PRIx64 " --pages %" PRIu64 ": %s", path,
				 a->base, a->pages, sevmig_strerror(rc));
	}
	struct sevmig_error err;
	sevmig_error_clear(&err);
	if (a->list) {
		if (len % SEVMIG_REGION_ENTRY_SIZE) {
			sevmig_pstate_free(ps);
			return cli_error("%s: byte %zu: a region array is whole %d-byte entries; "
					 "%zu bytes are left over",
					 path, len - len % SEVMIG_REGION_ENTRY_SIZE,
					 SEVMIG_REGION_ENTRY_SIZE, len % SEVMIG_REGION_ENTRY_SIZE);
		}
		rc = sevmig_pstate_set_from_region_array(ps, buf, len, &err);
	} else {
		size_t need = sevmig_bitmap_bytes(a->pages), words = (need + 7) / 8 * 8;
		if (len != need && len != words) {
			sevmig_pstate_free(ps);
			return cli_error("%s: a raw bitmap of %" PRIu64 " pages is %zu bytes (%zu "
					 "in whole unsigned longs); this file has %zu",
					 path, a->pages, need, words, len);
		}
		rc = sevmig_pstate_set_from_bitmap(ps, a->base, a->pages, buf, len);
	}
	if (rc) {
		sevmig_pstate_free(ps);
		return cli_file_error(path, &err, rc);
	}
	*out = ps;
	return 0;
}

int dump_convert(int argc, char **argv)
{
	struct args a;
	int rc = parse_args("convert", convert_help, argc, argv,
			    OPT_OUT | OPT_TO | OPT_RAW | OPT_LIST | OPT_ZSTD, 1, &a);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (!a.has_to)
		return cli_error("convert: --to native|text|bitmap|list is required");
	if (a.list && !a.has_pages)
		return cli_error("convert: a region array (--list) needs --base-gfn and --pages "
				 "for its coverage");

	const char *in = a.pos[0];
	uint8_t *buf;
	size_t len;
	if (cli_read_file(in, &buf, &len))
		return CLI_ERR;
	struct sevmig_pstate *ps = NULL;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	if (a.list) {
		rc = read_raw(in, &a, buf, len, &ps);
	} else {
		rc = sevmig_pstate_load(buf, len, &ps, &err);
		/*
		 * -EBADMSG at offset 0 (no line) is "neither form": with
		 * --base-gfn/--pages that is a raw bitmap. A damaged page-state
		 * file keeps its own error.
		 */
		bool neither = rc == -EBADMSG && err.offset == 0 && !err.index;
		if (rc && neither && a.has_pages)
			rc = read_raw(in, &a, buf, len, &ps);
		else if (rc)
			rc = cli_file_error(in, &err, rc);
		else if (a.has_pages && a.to != TO_BITMAP)
			rc = cli_error("convert: %s is a page-state file: --base-gfn and --pages "
				       "only apply to a raw input or to --to bitmap",
				       in);
	}
	free(buf);
	if (!rc)
		rc = write_map(ps, &a);
	sevmig_pstate_free(ps);
	return rc;
}

/* ---- usage ---------------------------------------------------------------------------- */

void dump_show_usage(FILE *f)
{
	fputs(show_help, f);
}

void dump_diff_usage(FILE *f)
{
	fputs(diff_help, f);
}

void dump_merge_usage(FILE *f)
{
	fputs(merge_help, f);
}

void dump_convert_usage(FILE *f)
{
	fputs(convert_help, f);
}
