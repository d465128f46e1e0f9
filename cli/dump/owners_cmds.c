/* SPDX-License-Identifier: MIT */
/*
 * sevmig-dump owners replay, show, project: pKVM page-ownership maps
 * (docs/owners-format.md). Thin: argument parsing, the transitions file,
 * and output around the public owners API.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/schema.h"
#include "dump/dump.h"

static const char owners_help[] =
    "usage: sevmig-dump owners replay MAP OPS [-o OUT]\n"
    "       sevmig-dump owners show MAP [--json]\n"
    "       sevmig-dump owners project MAP guest:N -o PSTATE [--to native|text]\n"
    "\n"
    "pKVM page-ownership maps over host frame numbers: each frame's owner (hyp,\n"
    "host or guest:N) and at most one borrower. MAP is the text form, one range a\n"
    "line, '0xFIRST-0xLAST OWNER' or '0xFIRST-0xLAST OWNER>BORROWER' (inclusive\n"
    "lowercase hex frames, '#' comments; the listed ranges are the coverage), or\n"
    "the binary form; '-' reads standard input.\n"
    "\n"
    "replay   apply the transitions of OPS, one a line:\n"
    "           TRANSITION 0xFIRST NPAGES [guest:N]\n"
    "         (NPAGES decimal; guest:N exactly for the transitions that name a\n"
    "         guest), printing 'N ok' or 'N refused 0xFRAME' (the first frame that\n"
    "         blocked it) for each, numbered from 1; with -o, then write the final\n"
    "         map in canonical text to OUT ('-' standard output). Transitions:\n"
    "           host_donate_hyp hyp_donate_host host_share_hyp host_unshare_hyp\n"
    "           host_donate_guest guest_donate_host host_share_guest\n"
    "           host_unshare_guest guest_share_host guest_unshare_host\n"
    "show     the coverage and, for hyp, host and every guest named, the frames\n"
    "         it sees owned, shared_owned and shared_borrowed; --json: one JSON\n"
    "         object (schema sevmig.owners/1)\n"
    "project  guest N's page-state map, for migration: private where it owns a\n"
    "         frame nobody borrows, shared where it owns one the host borrows or\n"
    "         borrows one the host owns; written atomically to -o PSTATE in the\n"
    "         binary form (--to text: the text form)\n"
    "\n"
    "Exit status: 0 done (a refused transition is a result), 2 error (a malformed\n"
    "MAP or OPS is named with its line).\n"
    "\n"
    "examples:\n"
    "  sevmig-dump owners replay host.owners boot.ops -o -\n"
    "  sevmig-dump owners show host.owners --json\n"
    "  sevmig-dump owners project host.owners guest:2 -o guest2.pstate\n";

void dump_owners_usage(FILE *f)
{
	fputs(owners_help, f);
}

/* ---- arguments ------------------------------------------------------------------ */

struct oargs {
	const char *pos[3];
	int npos;
	const char *out;
	bool json, text;
};

/* Options anywhere, "--opt VALUE" or "--opt=VALUE", "--" ends them. 0,
 * CLI_ERR, or -1 when --help printed the usage. */
static int parse(const char *cmd, int argc, char **argv, int npos, bool out, bool json, bool to,
		 struct oargs *a)
{
	memset(a, 0, sizeof(*a));
	bool done = false;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (done || s[0] != '-' || !strcmp(s, "-")) {
			if (a->npos == npos)
				return cli_error("owners %s: unexpected argument '%s' (see "
						 "sevmig-dump owners --help)",
						 cmd, s);
			a->pos[a->npos++] = s;
			continue;
		}
		if (!strcmp(s, "--")) {
			done = true;
			continue;
		}
		if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
			dump_owners_usage(stdout);
			return -1;
		}
		const char *eq = strchr(s, '=');
		size_t nl = eq ? (size_t)(eq - s) : strlen(s);
		const char *val = eq ? eq + 1 : NULL;
		bool is_out =
		    (nl == 2 && !memcmp(s, "-o", 2)) || (nl == 8 && !memcmp(s, "--output", 8));
		bool is_to = nl == 4 && !memcmp(s, "--to", 4);
		if (json && nl == 6 && !memcmp(s, "--json", 6)) {
			if (val)
				return cli_error("owners %s: --json takes no value", cmd);
			a->json = true;
			continue;
		}
		if (!(is_out && out) && !(is_to && to))
			return cli_error("owners %s: unknown option '%.*s' (see sevmig-dump owners "
					 "--help)",
					 cmd, (int)nl, s);
		if (!val) {
			if (i + 1 == argc)
				return cli_error("owners %s: %.*s needs a value", cmd, (int)nl, s);
			val = argv[++i];
		}
		if (is_out) {
			a->out = val;
		} else if (!strcmp(val, "text")) {
			a->text = true;
		} else if (!strcmp(val, "native")) {
			a->text = false;
		} else {
			return cli_error("owners %s: --to wants native or text, not '%s'", cmd,
					 val);
		}
	}
	if (a->npos < npos)
		return cli_error(
		    "owners %s: expected %d argument%s (see sevmig-dump owners --help)", cmd, npos,
		    npos > 1 ? "s" : "");
	return 0;
}

/* ---- replay ---------------------------------------------------------------------- */

struct op {
	enum sevmig_owners_op op;
	uint64_t first, npages;
	uint32_t guest;
};

/* The next token of [*p, e): bytes up to a space, tab or '#'. */
static bool token(const char **p, const char *e, const char **s, size_t *n)
{
	while (*p < e && (**p == ' ' || **p == '\t'))
		(*p)++;
	if (*p == e || **p == '#')
		return false;
	*s = *p;
	while (*p < e && **p != ' ' && **p != '\t' && **p != '#')
		(*p)++;
	*n = (size_t)(*p - *s);
	return true;
}

/* Tokens are quoted in messages up to this many bytes. */
static int tok_show(size_t n)
{
	return n > 32 ? 32 : (int)n;
}

static int parse_op_line(const char *file, uint64_t line, const char *p, const char *e,
			 struct op *op, bool *got)
{
	const char *s;
	size_t n;
	*got = false;
	if (!token(&p, e, &s, &n))
		return 0;
	if (memchr(s, '\0', n))
		return cli_error("%s:%" PRIu64 ": NUL byte: this is not a text file", file, line);
	if (sevmig_owners_op_parse(s, n, &op->op))
		return cli_error("%s:%" PRIu64 ": unknown transition '%.*s' (see sevmig-dump "
				 "owners --help)",
				 file, line, tok_show(n), s);
	const char *name = sevmig_owners_op_name(op->op);

	if (!token(&p, e, &s, &n))
		return cli_error("%s:%" PRIu64 ": %s: missing the first frame (0x and hex digits)",
				 file, line, name);
	if (n < 3 || s[0] != '0' || s[1] != 'x')
		return cli_error("%s:%" PRIu64 ": %s: bad first frame '%.*s': write 0x and "
				 "lowercase hex digits",
				 file, line, name, tok_show(n), s);
	uint64_t v = 0;
	size_t sig = 0;
	for (size_t i = 2; i < n; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return cli_error("%s:%" PRIu64 ": %s: bad first frame '%.*s': write 0x and "
					 "lowercase hex digits",
					 file, line, name, tok_show(n), s);
		if (sig || d)
			sig++;
		if (sig > 10)
			return cli_error("%s:%" PRIu64 ": %s: first frame '%.*s' is beyond the "
					 "40-bit frame limit",
					 file, line, name, tok_show(n), s);
		v = v << 4 | (uint64_t)d;
	}
	op->first = v;

	if (!token(&p, e, &s, &n))
		return cli_error("%s:%" PRIu64 ": %s: missing the page count (decimal)", file, line,
				 name);
	v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return cli_error("%s:%" PRIu64 ": %s: bad page count '%.*s': write a "
					 "decimal number",
					 file, line, name, tok_show(n), s);
		if (v > SEVMIG_GFN_LIMIT)
			continue; /* too large already: said below */
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (!v)
		return cli_error("%s:%" PRIu64 ": %s: the page count is 0: a transition needs at "
				 "least one frame",
				 file, line, name);
	if (v > SEVMIG_GFN_LIMIT - op->first)
		return cli_error("%s:%" PRIu64 ": %s: 0x%" PRIx64 " + %.*s frames overflows the "
				 "40-bit frame space (frames end at 0x%" PRIx64 ")",
				 file, line, name, op->first, tok_show(n), s, SEVMIG_GFN_LIMIT - 1);
	op->npages = v;

	op->guest = 0;
	bool has = token(&p, e, &s, &n);
	if (sevmig_owners_op_takes_guest(op->op)) {
		if (!has)
			return cli_error("%s:%" PRIu64 ": %s needs the guest: guest:N", file, line,
					 name);
		struct sevmig_error err;
		sevmig_error_clear(&err);
		uint32_t id;
		if (sevmig_owner_parse(s, n, &id, &err))
			return cli_error("%s:%" PRIu64 ": %s: %s", file, line, name, err.message);
		if (id < SEVMIG_OWNER_GUEST_MIN)
			return cli_error("%s:%" PRIu64 ": %s: '%.*s' is not a guest (guest:N, N "
					 "from 2)",
					 file, line, name, tok_show(n), s);
		op->guest = id;
		has = token(&p, e, &s, &n);
	}
	if (has)
		return cli_error(
		    "%s:%" PRIu64 ": %s: unexpected '%.*s'%s", file, line, name, tok_show(n), s,
		    sevmig_owners_op_takes_guest(op->op) ? "" : " (it names no guest)");
	*got = true;
	return 0;
}

/* Every line of OPS, before any runs: a malformed file changes nothing. */
static int parse_ops(const char *file, const uint8_t *buf, size_t len, struct op **ops,
		     size_t *nops)
{
	const char *p = (const char *)buf, *end = p + len;
	size_t n = 0, cap = 0;
	struct op *v = NULL;
	for (uint64_t line = 1; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		if (e > p && e[-1] == '\r')
			e--;
		struct op op;
		bool got;
		if (parse_op_line(file, line, p, e, &op, &got)) {
			free(v);
			return CLI_ERR;
		}
		p = nl ? nl + 1 : end;
		if (!got)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct op *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return cli_error("%s: out of memory", file);
			}
			v = nv;
		}
		v[n++] = op;
	}
	*ops = v;
	*nops = n;
	return 0;
}

static int owners_replay(int argc, char **argv)
{
	struct oargs a;
	int rc = parse("replay", argc, argv, 2, true, false, false, &a);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	struct sevmig_owners *o;
	if (cli_load_owners(a.pos[0], &o))
		return CLI_ERR;
	uint8_t *buf;
	size_t len, nops = 0;
	struct op *ops = NULL;
	if (cli_read_file(a.pos[1], &buf, &len)) {
		sevmig_owners_free(o);
		return CLI_ERR;
	}
	rc = parse_ops(a.pos[1], buf, len, &ops, &nops);
	free(buf);
	for (size_t i = 0; i < nops && !rc; i++) {
		struct sevmig_owners_refusal rf = { .sz = sizeof(rf) };
		struct sevmig_error err;
		sevmig_error_clear(&err);
		int t = sevmig_owners_transition(o, ops[i].op, ops[i].first, ops[i].npages,
						 ops[i].guest, &rf, &err);
		if (!t)
			printf("%zu ok\n", i + 1);
		else if (t == -EPERM || t == -ERANGE)
			printf("%zu refused 0x%" PRIx64 "\n", i + 1, rf.frame);
		else
			rc = cli_error("%s: transition %zu: %s", a.pos[1], i + 1,
				       err.message[0] ? err.message : sevmig_strerror(t));
	}
	free(ops);
	/* the map goes to a descriptor: what printf holds goes first */
	if (fflush(stdout) && !rc)
		rc = cli_error("standard output: write failed");
	if (!rc && a.out) {
		char *text;
		size_t tlen;
		int t = sevmig_owners_format_text(o, &text, &tlen);
		if (t)
			rc = cli_error("%s: %s", a.out, sevmig_strerror(t));
		else
			rc = cli_write_file(a.out, text, tlen);
		if (!t)
			free(text);
	}
	sevmig_owners_free(o);
	return rc ? CLI_ERR : CLI_OK;
}

/* ---- show ----------------------------------------------------------------------------- */

struct ents {
	struct sevmig_owners_entity *v;
	size_t n, cap;
};

static int collect(void *arg, const struct sevmig_owners_entity *e)
{
	struct ents *s = arg;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct sevmig_owners_entity *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *e;
	return 0;
}

/* The JSON document of show (sevmig.owners/1, docs/json.md), through the
 * tools' one emitter: 0 or CLI_ERR printed. */
static int print_json(const char *file, const struct sevmig_owners_stats *st, const struct ents *s)
{
	struct cli_json j;
	cli_json_init(&j, stdout, false);
	cli_json_doc(&j, CLI_SCHEMA_OWNERS);
	cli_json_kstr(&j, "file", file);
	cli_json_ku64(&j, "coverage_ranges", st->ranges);
	cli_json_ku64(&j, "covered_frames", st->covered_frames);
	cli_json_ku64(&j, "runs", st->runs);
	cli_json_ku64(&j, "borrowed_frames", st->borrowed_frames);
	cli_json_karray(&j, "entities");
	for (size_t i = 0; i < s->n; i++) {
		char name[SEVMIG_OWNER_NAME_MAX];
		const struct sevmig_owners_entity *e = &s->v[i];
		cli_json_object(&j);
		cli_json_kstr(&j, "entity", sevmig_owner_name(e->id, name, sizeof(name)));
		cli_json_ku64(&j, "id", e->id);
		cli_json_ku64(&j, "owned", e->owned);
		cli_json_ku64(&j, "shared_owned", e->shared_owned);
		cli_json_ku64(&j, "shared_borrowed", e->shared_borrowed);
		cli_json_end(&j);
	}
	cli_json_end(&j);
	return cli_json_doc_end(&j);
}

static int owners_show(int argc, char **argv)
{
	struct oargs a;
	int rc = parse("show", argc, argv, 1, false, true, false, &a);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	struct sevmig_owners *o;
	if (cli_load_owners(a.pos[0], &o))
		return CLI_ERR;
	struct sevmig_owners_stats st = { .sz = sizeof(st) };
	sevmig_owners_stats(o, &st);
	struct ents s = { 0 };
	rc = sevmig_owners_entities(o, collect, &s);
	sevmig_owners_free(o);
	if (rc) {
		free(s.v);
		return cli_error("%s: %s", a.pos[0], sevmig_strerror(rc));
	}
	if (a.json) {
		rc = print_json(a.pos[0], &st, &s);
		free(s.v);
		return rc;
	} else {
		printf("coverage ranges:  %" PRIu64 "\n"
		       "covered frames:   %" PRIu64 "\n"
		       "runs:             %" PRIu64 "\n"
		       "borrowed frames:  %" PRIu64 "\n"
		       "%-13s %12s %12s %15s\n",
		       st.ranges, st.covered_frames, st.runs, st.borrowed_frames, "entity", "owned",
		       "shared_owned", "shared_borrowed");
		for (size_t i = 0; i < s.n; i++) {
			char name[SEVMIG_OWNER_NAME_MAX];
			printf("%-13s %12" PRIu64 " %12" PRIu64 " %15" PRIu64 "\n",
			       sevmig_owner_name(s.v[i].id, name, sizeof(name)), s.v[i].owned,
			       s.v[i].shared_owned, s.v[i].shared_borrowed);
		}
	}
	free(s.v);
	return fflush(stdout) ? cli_error("standard output: write failed") : CLI_OK;
}

/* ---- project -------------------------------------------------------------------------- */

/* Binary output is compressed when that makes it smaller, as merge does. */
#define PROJECT_ZSTD 3

static int owners_project(int argc, char **argv)
{
	struct oargs a;
	int rc = parse("project", argc, argv, 2, true, false, true, &a);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (!a.out)
		return cli_error("owners project: -o PSTATE is required ('-o -' writes to standard "
				 "output)");
	struct sevmig_error err;
	sevmig_error_clear(&err);
	uint32_t g;
	if (sevmig_owner_parse(a.pos[1], strlen(a.pos[1]), &g, &err))
		return cli_error("owners project: %s", err.message);
	if (g < SEVMIG_OWNER_GUEST_MIN)
		return cli_error("owners project: '%s' is not a guest (guest:N, N from 2)",
				 a.pos[1]);
	struct sevmig_owners *o;
	if (cli_load_owners(a.pos[0], &o))
		return CLI_ERR;
	struct sevmig_pstate *ps;
	rc = sevmig_owners_project(o, g, &ps, &err);
	sevmig_owners_free(o);
	if (rc)
		return cli_error("owners project: %s", err.message);
	void *buf = NULL;
	size_t len = 0;
	if (a.text) {
		char *t;
		rc = sevmig_pstate_format_text(ps, &t, &len);
		buf = t;
	} else {
		SEVMIG_OPTS(sevmig_pstate_save_opts, so, .zstd_level = PROJECT_ZSTD);
		rc = sevmig_pstate_serialize(ps, &so, &buf, &len);
	}
	sevmig_pstate_free(ps);
	if (rc)
		return cli_error("%s: cannot produce the output: %s", a.out, sevmig_strerror(rc));
	rc = cli_write_file(a.out, buf, len);
	free(buf);
	return rc ? CLI_ERR : CLI_OK;
}

/* ---- dispatch ------------------------------------------------------------------------- */

int dump_owners(int argc, char **argv)
{
	if (argc < 2)
		return cli_error("owners: give replay, show or project (see sevmig-dump owners "
				 "--help)");
	const char *c = argv[1];
	if (!strcmp(c, "--help") || !strcmp(c, "-h")) {
		dump_owners_usage(stdout);
		return fflush(stdout) ? cli_error("standard output: write failed") : CLI_OK;
	}
	if (!strcmp(c, "replay"))
		return owners_replay(argc - 1, argv + 1);
	if (!strcmp(c, "show"))
		return owners_show(argc - 1, argv + 1);
	if (!strcmp(c, "project"))
		return owners_project(argc - 1, argv + 1);
	return cli_error("owners: unknown command '%s' (replay, show or project)", c);
}
