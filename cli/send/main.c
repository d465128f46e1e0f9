/* SPDX-License-Identifier: MIT */
/*
 * sevmig-send: guest memory in files + page state + the target's PDH
 * certificate -> a migration stream on standard output, in a file, or over
 * TCP. Thin: argument parsing and I/O around sevmig_sender (<sevmig/stream.h>)
 * on the software firmware model (<sevmig/fw_soft.h>).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/guestmem.h"
#include "common/outfile.h"
#include "common/xfer.h"

#define DEFAULT_POLICY SEVMIG_POLICY_NODBG
#define DEFAULT_ZSTD   3

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sevmig-send --memory GPA:SIZE:FILE[:OFFSET]... --target-pdh CERT\n"
		"                   [--pstate FILE] [--policy N] [--vmsa FILE]... [--pdh-key KEY]\n"
		"                   [-o DEST] [--threads N] [--zstd-level N]\n"
		"                   [--timeout SECONDS] [--json[=pretty]]\n"
		"                   [--progress auto|bar|json|none] [--quiet]\n"
		"\n"
		"Send an SEV guest's memory and page state as a migration stream, encrypting\n"
		"its private pages for the target platform whose PDH certificate is CERT\n"
		"(made by 'sevmig-recv --gen-pdh'). The firmware is libsevmig's software\n"
		"model; the guest runs on it launched with --policy.\n"
		"\n"
		"  -m, --memory GPA:SIZE:FILE[:OFFSET]\n"
		"                       one memslot: guest-physical [GPA, GPA+SIZE) is in FILE\n"
		"                       at byte OFFSET (default 0); repeat per memslot. Numbers\n"
		"                       are decimal or 0x hex with an optional K/M/G/T suffix,\n"
		"                       multiples of 4096\n"
		"  -p, --pstate FILE    the page state (any form sevmig-dump reads); it must\n"
		"                       cover exactly the memslots. Default: every page private\n"
		"  -t, --target-pdh CERT  the target platform's PDH certificate (%u bytes)\n"
		"      --policy N       the guest policy (default 0x%x, NODBG)\n"
		"      --vmsa FILE      SEV-ES: the next vCPU's state (%u bytes; the first\n"
		"                       --vmsa is vCPU 0), sent after memory; needs the ES\n"
		"                       policy bit (0x4)\n"
		"      --pdh-key KEY    this platform's PDH private key (PEM); default: a new one\n"
		"  -o, --output DEST    '-' standard output (default), a FILE (written under a\n"
		"                       temporary name, renamed when complete; a device or\n"
		"                       FIFO is written directly), or tcp://HOST:PORT\n"
		"                       (IPv6: tcp://[ADDRESS]:PORT)\n"
		"  -T, --threads N      worker threads (default: the online CPUs, here %u)\n"
		"  -z, --zstd-level N   compression of shared pages, 0 (off) to 19 (default %d)\n"
		"      --timeout SECONDS  give up when a TCP peer does not answer or the\n"
		"                       connection stalls this long (default 60; 0: never)\n"
		"      --json[=pretty]  print a JSON summary at the end, one line (or indented):\n"
		"                       sevmig.migration/1 of docs/json.md, on standard output\n"
		"                       (on standard error when the stream goes there)\n"
		"      --progress MODE  auto (default: a bar when standard error is a terminal,\n"
		"                       else nothing), bar (percentage, rate, time left, round),\n"
		"                       json (sevmig.progress/1 events on standard error, one\n"
		"                       line each, about once a second; the last has the\n"
		"                       summary or the error) or none\n"
		"  --tls-cert FILE, --tls-key FILE\n"
		"                       with -o tls://HOST:PORT: this host's certificate (PEM)\n"
		"                       and key; the stream key then comes from TLS\n"
		"  --tls-ca FILE        the CA that signed the peer's certificate\n"
		"  --tls-peer-name NAME the name (DNS or IP subjectAltName) the peer must have\n"
		"  --tls-pin SHA256     accept only the peer certificate with this fingerprint\n"
		"  --psk FILE           the stream key both hosts share (from 'sevmig-recv\n"
		"                       --gen-psk'); required, or --insecure\n"
		"  --insecure           write a stream without keyed integrity (anyone can alter\n"
		"                       it); said on stderr every time\n"
		"  -q, --quiet          no progress and no text summary (--progress none, unless\n"
		"                       --progress is given too)\n"
		"  -h, --help           this help;  -V, --version  the version\n"
		"\n"
		"examples:\n"
		"  sevmig-recv --gen-pdh --pdh-key target.key --pdh-cert target.cert\n"
		"  sevmig-send -m 0:2G:guest.mem -m 4G:1G:guest.mem:2G -p guest.pst \\\n"
		"              -t target.cert | sevmig-recv --pdh-key target.key --memory-dir out\n"
		"  sevmig-send -m 0:256M:guest.mem -t target.cert -o tcp://[::1]:4444 --json\n"
		"\n"
		"Exit status: 0 the whole stream was written (over TCP: and the target\n"
		"committed), 2 error (nothing complete was left behind: a file output keeps its\n"
		"previous content, and a receiver gets an ABORT record when the output still\n"
		"works), 130 or 143 interrupted by SIGINT or SIGTERM after that same clean-up.\n",
		SEVMIG_CERT_SIZE, DEFAULT_POLICY, SEVMIG_VMSA_SIZE, cli_default_threads(),
		DEFAULT_ZSTD);
}

struct opts {
	struct cli_xfer_opts x;
	const char *pstate, *target_pdh, *pdh_key, *output;
	char **vmsa; /* --vmsa files, vCPU 0 first */
	uint32_t nvmsa;
	uint32_t policy;
	int zstd;
};

enum { OPT_POLICY = CLI_OPT_FIRST_FREE, OPT_PDH_KEY, OPT_VMSA };

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		CLI_XFER_LONGOPTS,
		{ "pstate", required_argument, NULL, 'p' },
		{ "target-pdh", required_argument, NULL, 't' },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "pdh-key", required_argument, NULL, OPT_PDH_KEY },
		{ "vmsa", required_argument, NULL, OPT_VMSA },
		{ "output", required_argument, NULL, 'o' },
		{ "zstd-level", required_argument, NULL, 'z' },
		{ 0 },
	};
	cli_xfer_opts_init(&o->x);
	o->policy = DEFAULT_POLICY;
	o->zstd = DEFAULT_ZSTD;
	o->output = "-";
	uint64_t v;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:t:o:z:" CLI_XFER_SHORTOPTS, longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'p':
			o->pstate = optarg;
			break;
		case 't':
			o->target_pdh = optarg;
			break;
		case OPT_POLICY:
			if (cli_parse_uint_opt("--policy", optarg, UINT32_MAX, &v))
				return CLI_ERR;
			o->policy = (uint32_t)v;
			break;
		case OPT_PDH_KEY:
			o->pdh_key = optarg;
			break;
		case OPT_VMSA: {
			char **n = realloc(o->vmsa, (o->nvmsa + 1) * sizeof(*n));
			if (!n)
				return cli_error("out of memory");
			o->vmsa = n;
			o->vmsa[o->nvmsa++] = optarg;
			break;
		}
		case 'o':
			o->output = optarg;
			break;
		case 'z':
			if (cli_parse_uint_opt("--zstd-level", optarg, 19, &v))
				return CLI_ERR;
			o->zstd = (int)v;
			break;
		default:
			if (cli_xfer_opt(&o->x, c, argv, usage))
				return CLI_ERR;
			break;
		}
	}
	if (optind < argc)
		return cli_error("unexpected argument '%s' (see sevmig-send --help)", argv[optind]);
	if (!o->x.nmem)
		return cli_error("no guest memory: give --memory GPA:SIZE:FILE[:OFFSET] per "
				 "memslot (see sevmig-send --help)");
	if (o->nvmsa && !(o->policy & SEVMIG_POLICY_ES))
		return cli_error("--vmsa is for SEV-ES guests: give a --policy with the ES bit "
				 "(0x4), for instance --policy 0x5");
	if (!o->target_pdh)
		return cli_error("--target-pdh CERT is required: the target's PDH certificate, "
				 "from 'sevmig-recv --gen-pdh'");
	return 0;
}

/* ---- page state ------------------------------------------------------------- */

/* Sorted ranges with touching ones joined, for comparing coverages. */
static size_t coalesce(struct sevmig_range *r, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && r[k - 1].gfn + r[k - 1].npages == r[i].gfn)
			r[k - 1].npages += r[i].npages;
		else
			r[k++] = r[i];
	}
	return k;
}

static int by_gfn(const void *a, const void *b)
{
	const struct sevmig_range *x = a, *y = b;
	return x->gfn < y->gfn ? -1 : x->gfn > y->gfn;
}

static void print_ranges(char *buf, size_t size, const struct sevmig_range *r, size_t n)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && off < size; i++) {
		if (i == 4) {
			snprintf(buf + off, size - off, ", ... (%zu ranges)", n);
			return;
		}
		off += (size_t)snprintf(buf + off, size - off, "%s0x%" PRIx64 "-0x%" PRIx64,
					i ? ", " : "", r[i].gfn, r[i].gfn + r[i].npages - 1);
	}
}

/* The page state must cover exactly the memslots: say how it does not. */
static int check_coverage(const char *path, const struct sevmig_pstate *ps,
			  const struct sevmig_mem_region *reg, size_t n)
{
	size_t np = sevmig_pstate_slot_count(ps);
	struct sevmig_range *a = calloc(n, sizeof(*a)), *b = calloc(np ? np : 1, sizeof(*b));
	int rc = a && b ? 0 : cli_error("out of memory");
	for (size_t i = 0; i < n && !rc; i++)
		a[i] = (struct sevmig_range){ reg[i].gpa >> SEVMIG_PAGE_SHIFT,
					      reg[i].size >> SEVMIG_PAGE_SHIFT };
	for (size_t i = 0; i < np && !rc; i++)
		if (sevmig_pstate_slot(ps, i, &b[i]))
			rc = cli_error("%s: reading its memslots failed", path);
	if (!rc) {
		qsort(a, n, sizeof(*a), by_gfn);
		qsort(b, np, sizeof(*b), by_gfn);
		size_t na = coalesce(a, n), nb = coalesce(b, np);
		if (na != nb || memcmp(a, b, na * sizeof(*a))) {
			char sa[200], sb[200];
			print_ranges(sa, sizeof(sa), a, na);
			print_ranges(sb, sizeof(sb), b, nb);
			rc =
			    cli_error("%s: the page state covers gfns %s, but the --memory options "
				      "give %s (they must be the same pages)",
				      path, sb[0] ? sb : "none", sa);
		}
	}
	free(a);
	free(b);
	return rc;
}

static int load_pstate(const struct opts *o, const struct sevmig_mem_region *reg,
		       struct sevmig_pstate **out)
{
	if (o->pstate) {
		if (cli_load_pstate(o->pstate, out))
			return CLI_ERR;
		if (check_coverage(o->pstate, *out, reg, o->x.nmem)) {
			sevmig_pstate_free(*out);
			*out = NULL;
			return CLI_ERR;
		}
		return 0;
	}
	/* Without a page state every page is private: the safe default. */
	int rc = sevmig_pstate_new(out, NULL);
	for (size_t i = 0; i < o->x.nmem && !rc; i++)
		rc = sevmig_pstate_add_slot(*out, reg[i].gpa >> SEVMIG_PAGE_SHIFT,
					    reg[i].size >> SEVMIG_PAGE_SHIFT);
	if (rc)
		return cli_error("building the page state: %s", sevmig_strerror(rc));
	return 0;
}

/* ---- output ------------------------------------------------------------------- */

struct output {
	struct cli_endpoint ep;
	struct cli_outfile file;
	struct cli_chan chan;
	int fd;
	bool own_fd;
};

static int open_output(const struct opts *o, struct output *out)
{
	out->fd = -1;
	out->file.fd = -1;
	if (cli_parse_endpoint(o->output, false, &out->ep))
		return CLI_ERR;
	const char *name = o->output;
	switch (out->ep.kind) {
	case CLI_EP_STDIO:
		if (isatty(STDOUT_FILENO))
			return cli_error("standard output is a terminal: redirect it, or give -o "
					 "FILE or -o tcp://HOST:PORT");
		out->fd = STDOUT_FILENO;
		name = "standard output";
		break;
	case CLI_EP_FILE: {
		/* A device or a FIFO (/dev/null, a named pipe) is written as it
		 * is; only a regular file can be replaced atomically. */
		struct stat st;
		if (stat(o->output, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
			out->fd = open(o->output, O_WRONLY | O_CLOEXEC);
			if (out->fd < 0)
				return cli_error("%s: %s", o->output, strerror(errno));
			out->own_fd = true;
			break;
		}
		if (cli_outfile_open(&out->file, o->output, 0600, false))
			return CLI_ERR;
		out->fd = out->file.fd;
		break;
	}
	case CLI_EP_TCP:
		if (cli_tcp_connect(&out->ep, o->x.timeout_ms, &out->fd))
			return CLI_ERR;
		out->own_fd = true;
		break;
	}
	cli_chan_init(&out->chan, out->fd, name, o->x.timeout_ms);
	if (out->ep.tls)
		return cli_chan_tls(&out->chan, &o->x, false);
	return 0;
}

/*
 * The whole stream is on a pipe or socket that is our standard output: its
 * reader sees the end now, not once we have unmapped the guest and exited
 * (milliseconds per GiB of mapping), so `sevmig-send | sevmig-recv`
 * finishes sooner. Descriptor 1 stays open, on /dev/null. A regular file is
 * left alone: nobody waits for its end, and its close is the shell's.
 */
static void release_stdout(void)
{
	struct stat st;
	if (fstat(STDOUT_FILENO, &st) || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return;
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null < 0)
		return; /* the end comes at exit instead */
	dup2(null, STDOUT_FILENO);
	close(null);
}

/*
 * After END: a file is renamed into place; a TCP connection is closed for
 * writing, then we wait for the receiver to close its side. A receiver that
 * stopped before the end resets the connection instead, and that is an error
 * here too. One that keeps the connection open longer than --timeout (10 s by
 * default) has had every byte handed to it: that is success.
 */
static int finish_output(const struct opts *o, struct output *out)
{
	if (out->file.tmp)
		return cli_outfile_commit(&out->file);
	if (out->ep.kind == CLI_EP_STDIO) {
		release_stdout();
		return 0;
	}
	if (out->ep.kind != CLI_EP_TCP)
		return 0;
	/* The target's COMMIT already said everything arrived and was kept:
	 * close politely, and whatever the peer does with it is its business. */
	if (out->chan.tls) {
		int ignored = sevmig_tls_shutdown(out->chan.tls, NULL); /* the target may be gone */
		(void)ignored;
		return 0;
	}
	if (shutdown(out->fd, SHUT_WR))
		return cli_error("%s: %s", out->chan.name, strerror(errno));
	struct cli_chan drain = out->chan;
	drain.err = 0;
	drain.timeout_ms = o->x.timeout_ms >= 0 ? o->x.timeout_ms : 10000;
	uint8_t buf[256];
	ptrdiff_t n;
	while ((n = cli_chan_read(&drain, buf, sizeof(buf))) > 0)
		;
	if (n < 0 && drain.err != ETIMEDOUT) {
		char why[160];
		return cli_error("%s: after the whole stream was sent: %s", out->chan.name,
				 cli_chan_describe(&drain, why, sizeof(why)));
	}
	return 0;
}

static void close_output(struct output *out)
{
	cli_outfile_discard(&out->file);
	if (out->own_fd && out->fd >= 0)
		close(out->fd);
	out->fd = -1;
	cli_chan_fini(&out->chan);
}

/* ---- the run ---------------------------------------------------------------------- */

static int send_stream(const struct opts *o, struct sevmig_mem_region *reg, uint64_t pages,
		       const struct sevmig_pstate *ps, struct sevmig_fw *fw, const uint8_t *cert,
		       uint8_t *const *vmsa)
{
	struct output out = { 0 };
	struct cli_progress prog;
	cli_progress_init(&prog, "sevmig-send", o->x.progress);
	prog.total_pages = pages;
	cli_progress_phase(&prog, CLI_PHASE_CONNECTING);
	uint8_t key[SEVMIG_KEY_SIZE];
	uint32_t ksrc = 0;
	if (open_output(o, &out) || cli_xfer_key(&o->x, &out.chan, key, &ksrc)) {
		cli_progress_end(&prog, NULL, cli_last_error());
		close_output(&out);
		return CLI_ERR;
	}
	/* A TCP connection carries the target's answers back: the run succeeds
	 * only on its COMMIT. */
	bool two_way = out.ep.kind == CLI_EP_TCP;
	SEVMIG_OPTS(sevmig_sender_opts, so, .target_pdh = cert, .target_pdh_len = SEVMIG_CERT_SIZE,
		    .zstd_level = o->zstd, .workers = o->x.threads, .progress = cli_progress_update,
		    .progress_arg = &prog, .key_source = ksrc, .key = ksrc ? key : NULL,
		    .insecure = !ksrc, .back_read = two_way ? cli_chan_read : NULL,
		    .back_arg = two_way ? &out.chan : NULL, .vcpus = o->nvmsa);
	struct sevmig_error err;
	sevmig_error_clear(&err);
	struct sevmig_sender *s = NULL;
	/* Our workers must not take the signals meant to interrupt our writes. */
	cli_block_signals(true);
	int rc = sevmig_sender_new(fw, reg, o->x.nmem, cli_chan_write, &out.chan, &so, &s, &err);
	cli_block_signals(false);
	if (!rc) {
		cli_progress_phase(&prog, CLI_PHASE_MEMORY);
		rc = sevmig_sender_send_all(s, ps, &err);
	}
	if (!rc && o->nvmsa)
		cli_progress_phase(&prog, CLI_PHASE_VCPUS);
	for (uint32_t i = 0; i < o->nvmsa && !rc; i++)
		rc = sevmig_sender_send_vmsa(s, i, vmsa[i], &err);
	if (!rc) {
		/* END, then (over TCP) the wait for the target's COMMIT. */
		cli_progress_phase(&prog, CLI_PHASE_COMMITTING);
		rc = sevmig_sender_finish(s, &err);
	}
	explicit_bzero(key, sizeof(key));
	cli_progress_clear(&prog);
	struct cli_summary sum = { .tool = "sevmig-send", .stream = out.chan.name, .ps = ps };
	sum.integrity = ksrc == SEVMIG_KEY_TLS ? "tls" : ksrc ? "psk" : "insecure";
	sum.delivery = s && sevmig_sender_acknowledged(s) ? "committed" : "written";
	uint8_t uuid[16];
	if (s) {
		sum.counts.sz = sizeof(sum.counts);
		sevmig_sender_counts(s, &sum.counts);
		sevmig_sender_uuid(s, uuid);
		sum.uuid = uuid;
	}
	/* A failed sender has cancelled (SEND_CANCEL, ABORT if the output
	 * still works); freeing it is the end of it. */
	sevmig_sender_free(s);
	if (rc) {
		char why[160];
		if (rc == -EREMOTEIO)
			cli_error("%s", err.message);
		else if (out.chan.err)
			cli_error("%s: after %" PRIu64 " bytes, %s; the migration was cancelled "
				  "and the source guest keeps running",
				  out.chan.name, out.chan.bytes,
				  cli_chan_describe(&out.chan, why, sizeof(why)));
		else if (rc == -ECANCELED && cli_interrupted())
			cli_error("interrupted by a signal; the migration was cancelled and the "
				  "source guest keeps running");
		else
			cli_error("%s", err.message[0] ? err.message : sevmig_strerror(rc));
		cli_progress_end(&prog, NULL, cli_last_error());
		close_output(&out);
		return CLI_ERR;
	}
	rc = finish_output(o, &out);
	close_output(&out);
	if (rc) {
		cli_progress_end(&prog, NULL, cli_last_error());
		return rc;
	}
	sum.policy = o->policy;
	sum.guest_pages = pages;
	sum.seconds = cli_progress_elapsed(&prog);
	cli_progress_end(&prog, &sum, NULL);
	bool stream_on_stdout = out.ep.kind == CLI_EP_STDIO;
	if (o->x.json)
		return cli_summary_json(stream_on_stdout ? stderr : stdout, &sum, o->x.json);
	if (cli_progress_is_bar(&prog))
		cli_summary_text(stderr, &sum);
	return CLI_OK;
}

static int run(const struct opts *o)
{
	if (cli_memspecs_check(o->x.mem, o->x.nmem, false))
		return CLI_ERR;
	int rc = CLI_ERR;
	uint64_t pages = 0;
	struct sevmig_pstate *ps = NULL;
	struct sevmig_fw *fw = NULL;
	uint8_t *cert = NULL;
	size_t cert_len = 0;
	uint8_t **vmsa = calloc(o->nvmsa + 1, sizeof(*vmsa));
	struct sevmig_mem_region *reg = calloc(o->x.nmem, sizeof(*reg));
	if (!reg || !vmsa) {
		free(vmsa);
		free(reg);
		return cli_error("out of memory");
	}
	for (size_t i = 0; i < o->x.nmem; i++) {
		reg[i].gpa = o->x.mem[i].gpa;
		reg[i].size = o->x.mem[i].size;
		if (cli_map_input(&o->x.mem[i], &reg[i].host))
			goto out;
		pages += o->x.mem[i].size >> SEVMIG_PAGE_SHIFT;
	}
	if (load_pstate(o, reg, &ps))
		goto out;
	if (cli_read_file(o->target_pdh, &cert, &cert_len))
		goto out;
	if (cert_len != SEVMIG_CERT_SIZE) {
		cli_error("%s: %zu bytes is not a PDH certificate (%u bytes, from 'sevmig-recv "
			  "--gen-pdh')",
			  o->target_pdh, cert_len, SEVMIG_CERT_SIZE);
		goto out;
	}
	for (uint32_t i = 0; i < o->nvmsa; i++) {
		size_t len;
		if (cli_read_file(o->vmsa[i], &vmsa[i], &len))
			goto out;
		if (len != SEVMIG_VMSA_SIZE) {
			cli_error("%s: %zu bytes is not a VMSA (%u bytes)", o->vmsa[i], len,
				  SEVMIG_VMSA_SIZE);
			goto out;
		}
	}
	if (cli_soft_fw(o->pdh_key, true, o->policy, &fw))
		goto out;
	rc = send_stream(o, reg, pages, ps, fw, cert, vmsa);
out:
	for (uint32_t i = 0; i < o->nvmsa; i++)
		free(vmsa[i]);
	free(vmsa);
	sevmig_fw_free(fw);
	free(cert);
	sevmig_pstate_free(ps);
	for (size_t i = 0; i < o->x.nmem; i++)
		cli_unmap(reg[i].host, reg[i].size);
	free(reg);
	return rc;
}

int main(int argc, char **argv)
{
	cli_set_prog("sevmig-send");
	struct opts o = { 0 };
	int rc = parse(argc, argv, &o);
	if (!rc) {
		cli_catch_signals();
		rc = run(&o);
	}
	cli_xfer_opts_free(&o.x);
	free(o.vmsa);
	return cli_exit_status(rc);
}
