/* SPDX-License-Identifier: MIT */
/*
 * sevmig-recv: a migration stream from standard input, a file or a TCP
 * listener -> guest memory files + page state, through the target's PDH key
 * on the software firmware model. Every output is written under a temporary
 * name and renamed into place only once the whole stream has checked out.
 * Thin: argument parsing and files around sevmig_receiver (<sevmig/stream.h>).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/guestmem.h"
#include "common/outfile.h"
#include "common/xfer.h"
#include "recv/outputs.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sevmig-recv --pdh-key KEY (--memory-dir DIR | --memory "
		"GPA:SIZE:FILE[:OFFSET]...)\n"
		"                   [-i SRC] [--pstate-out FILE [--pstate-format binary|text]]\n"
		"                   [--vmsa-dir DIR] [--port-file FILE] [--threads N]\n"
		"                   [--max-attempts N] [--auth-timeout SECONDS]\n"
		"                   [--timeout SECONDS] [--json[=pretty]]\n"
		"                   [--progress auto|bar|json|none] [--quiet]\n"
		"       sevmig-recv --gen-pdh --pdh-key KEY --pdh-cert CERT [--force]\n"
		"       sevmig-recv --gen-psk FILE\n"
		"       sevmig-recv --export-pdh --pdh-key KEY --pdh-cert CERT\n"
		"\n"
		"Receive a migration stream made by sevmig-send for this target (whose PDH\n"
		"private key is KEY) and write the guest's memory and page state. Nothing is\n"
		"replaced until the whole stream has checked out: on any failure the previous\n"
		"files are untouched and the temporary ones removed.\n"
		"\n"
		"  -i, --input SRC      '-' standard input (default), a FILE, or\n"
		"                       tcp://[HOST]:PORT or tls://[HOST]:PORT to listen for\n"
		"                       the source (no HOST: every address; PORT 0: any free\n"
		"                       port)\n"
		"  -k, --pdh-key KEY    this target platform's PDH private key (PEM)\n"
		"  -d, --memory-dir DIR one file per memslot of the stream's layout:\n"
		"                       DIR/slotN-0xGPA.mem (N from 0 in gpa order, GPA in\n"
		"                       lowercase hex), made if missing\n"
		"  -m, --memory GPA:SIZE:FILE[:OFFSET]\n"
		"                       where each memslot goes, as for sevmig-send; together\n"
		"                       they must be the stream's layout. Bytes of FILE outside\n"
		"                       the memslots keep their content\n"
		"  -s, --pstate-out FILE  the received page state, in the binary form (default);\n"
		"                       '-' writes it to standard output once all is in place\n"
		"      --pstate-format binary|text\n"
		"      --vmsa-dir DIR   SEV-ES vCPU state: DIR/vcpuN.vmsa (default: the\n"
		"                       --memory-dir, if any)\n"
		"      --port-file FILE write the TCP port listened on (useful with PORT 0)\n"
		"      --max-attempts N a listener drops a connection that fails before it\n"
		"                       authenticates (TLS handshake, a stream not under the\n"
		"                       key, garbage, silence) and takes the next, N in all\n"
		"                       (default 8)\n"
		"      --auth-timeout SECONDS  how long each connection has to authenticate\n"
		"                       (default 10; 0: no limit but --timeout)\n"
		"  -T, --threads N      worker threads (default: the online CPUs, here %u)\n"
		"      --timeout SECONDS  give up when no sender connects, or the connection\n"
		"                       stalls, this long (default 60; 0: never)\n"
		"      --json[=pretty]  print a JSON summary on standard output at the end, one\n"
		"                       line (or indented): sevmig.migration/1 of docs/json.md\n"
		"      --progress MODE  auto (default: a bar when standard error is a terminal,\n"
		"                       else nothing), bar (percentage, rate, time left, round),\n"
		"                       json (sevmig.progress/1 events on standard error, one\n"
		"                       line each, about once a second; the last has the\n"
		"                       summary or the error) or none\n"
		"  -q, --quiet          no progress, no text summary and no port message\n"
		"                       (--progress none, unless --progress is given too)\n"
		"\n"
		"  --tls-cert FILE, --tls-key FILE\n"
		"                       with -i tls://[HOST]:PORT: this host's certificate (PEM)\n"
		"                       and key; the stream key then comes from TLS\n"
		"  --tls-ca FILE        the CA that signed the peer's certificate\n"
		"  --tls-peer-name NAME the name (DNS or IP subjectAltName) the peer must have\n"
		"  --tls-pin SHA256     accept only the peer certificate with this fingerprint\n"
		"  --psk FILE           the stream key both hosts share (required, or --insecure)\n"
		"  --insecure           accept only a stream written without keyed integrity\n"
		"  --gen-psk FILE       make a new 32-byte stream key (mode 0600), then copy it\n"
		"                       to the source\n"
		"  --gen-pdh            make a new PDH key pair: KEY (mode 0600; an existing KEY\n"
		"                       is kept unless --force) and CERT, the certificate\n"
		"                       sevmig-send needs (--target-pdh)\n"
		"  --export-pdh         write CERT again from an existing KEY\n"
		"  -h, --help           this help;  -V, --version  the version\n"
		"\n"
		"examples:\n"
		"  sevmig-recv --gen-pdh --pdh-key target.key --pdh-cert target.cert\n"
		"  sevmig-send -m 0:256M:guest.mem -p guest.pst -t target.cert |\n"
		"    sevmig-recv -k target.key -m 0:256M:copy.mem -s copy.pst\n"
		"  sevmig-recv -k target.key -i tcp://[::]:4444 -d /var/lib/guest --json\n"
		"\n"
		"Exit status: 0 the stream was complete and sound and every file is in place,\n"
		"2 error (one message says what failed and where; no output file changed),\n"
		"130 or 143 interrupted by SIGINT or SIGTERM (no output file changed).\n",
		cli_default_threads());
}

enum {
	OPT_FORMAT = CLI_OPT_FIRST_FREE,
	OPT_VMSA_DIR,
	OPT_PORT_FILE,
	OPT_GEN,
	OPT_EXPORT,
	OPT_FORCE,
	OPT_GEN_PSK,
	OPT_MAX_ATTEMPTS,
	OPT_AUTH_TIMEOUT,
};

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		CLI_XFER_LONGOPTS,
		{ "input", required_argument, NULL, 'i' },
		{ "pdh-key", required_argument, NULL, 'k' },
		{ "pdh-cert", required_argument, NULL, 'c' },
		{ "memory-dir", required_argument, NULL, 'd' },
		{ "pstate-out", required_argument, NULL, 's' },
		{ "pstate-format", required_argument, NULL, OPT_FORMAT },
		{ "vmsa-dir", required_argument, NULL, OPT_VMSA_DIR },
		{ "port-file", required_argument, NULL, OPT_PORT_FILE },
		{ "gen-pdh", no_argument, NULL, OPT_GEN },
		{ "gen-psk", required_argument, NULL, OPT_GEN_PSK },
		{ "export-pdh", no_argument, NULL, OPT_EXPORT },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS },
		{ "auth-timeout", required_argument, NULL, OPT_AUTH_TIMEOUT },
		{ 0 },
	};
	cli_xfer_opts_init(&o->x);
	o->input = "-";
	o->max_attempts = 8;
	o->auth_timeout_ms = 10000;
	uint64_t v;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:k:c:d:s:" CLI_XFER_SHORTOPTS, longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'i':
			o->input = optarg;
			break;
		case 'k':
			o->pdh_key = optarg;
			break;
		case 'c':
			o->pdh_cert = optarg;
			break;
		case 'd':
			o->memory_dir = optarg;
			break;
		case 's':
			o->pstate_out = optarg;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "binary") && strcmp(optarg, "text"))
				return cli_error("--pstate-format wants binary or text, not '%s'",
						 optarg);
			o->text_pstate = !strcmp(optarg, "text");
			break;
		case OPT_VMSA_DIR:
			o->vmsa_dir = optarg;
			break;
		case OPT_PORT_FILE:
			o->port_file = optarg;
			break;
		case OPT_GEN:
			o->gen_pdh = true;
			break;
		case OPT_EXPORT:
			o->export_pdh = true;
			break;
		case OPT_FORCE:
			o->force = true;
			break;
		case OPT_GEN_PSK:
			o->gen_psk = optarg;
			break;
		case OPT_MAX_ATTEMPTS:
			if (cli_parse_uint_opt("--max-attempts", optarg, 1000, &v))
				return CLI_ERR;
			if (!v)
				return cli_error("--max-attempts wants at least 1 (the source's "
						 "connection)");
			o->max_attempts = (unsigned)v;
			break;
		case OPT_AUTH_TIMEOUT:
			if (cli_parse_uint_opt("--auth-timeout", optarg, 86400, &v))
				return CLI_ERR;
			o->auth_timeout_ms = (int)v * 1000;
			break;
		default:
			if (cli_xfer_opt(&o->x, c, argv, usage))
				return CLI_ERR;
			break;
		}
	}
	if (optind < argc)
		return cli_error("unexpected argument '%s' (see sevmig-recv --help)", argv[optind]);
	if (o->gen_psk)
		return o->pdh_key || o->x.nmem || o->memory_dir
			   ? cli_error("--gen-psk FILE makes a key file only: it takes no other "
				       "options")
			   : 0;
	if (!o->pdh_key)
		return cli_error("--pdh-key KEY is required: this target's PDH private key (make "
				 "one with --gen-pdh)");
	if (o->gen_pdh || o->export_pdh) {
		if (o->gen_pdh && o->export_pdh)
			return cli_error("give --gen-pdh or --export-pdh, not both");
		if (!o->pdh_cert)
			return cli_error("%s needs --pdh-cert CERT",
					 o->gen_pdh ? "--gen-pdh" : "--export-pdh");
		if (o->memory_dir || o->x.nmem || o->pstate_out || strcmp(o->input, "-"))
			return cli_error("%s makes key files only: it takes no input or memory "
					 "options",
					 o->gen_pdh ? "--gen-pdh" : "--export-pdh");
		return 0;
	}
	if (o->pdh_cert || o->force)
		return cli_error("%s goes with --gen-pdh or --export-pdh",
				 o->pdh_cert ? "--pdh-cert" : "--force");
	if (!o->memory_dir == !o->x.nmem)
		return cli_error("give where the guest memory goes: --memory-dir DIR, or "
				 "--memory GPA:SIZE:FILE[:OFFSET] per memslot");
	if (o->pstate_out && !strcmp(o->pstate_out, "-") && o->x.json)
		return cli_error("--pstate-out - and --json both want standard output");
	if (!o->vmsa_dir)
		o->vmsa_dir = o->memory_dir;
	return 0;
}

/* ---- key files -------------------------------------------------------------- */

static int write_cert(struct sevmig_fw *fw, struct cli_outfile *cert, const char *path)
{
	uint8_t pdh[SEVMIG_CERT_SIZE], chain[SEVMIG_CERT_CHAIN_SIZE];
	uint32_t pdh_len = sizeof(pdh), chain_len = sizeof(chain), st;
	int rc = sevmig_fw_pdh_cert_export(fw, pdh, &pdh_len, chain, &chain_len, &st);
	if (rc)
		return cli_error("PDH_CERT_EXPORT failed: %s", sevmig_fw_last_error(fw));
	if (cli_outfile_open(cert, path, 0644, false))
		return CLI_ERR;
	struct cli_chan ch;
	cli_chan_init(&ch, cert->fd, path, -1);
	if (cli_chan_write(&ch, pdh, pdh_len) || cli_outfile_sync(cert)) {
		char why[160];
		if (ch.err)
			cli_error("%s: %s", path, cli_chan_describe(&ch, why, sizeof(why)));
		cli_outfile_discard(cert);
		return CLI_ERR;
	}
	return 0;
}

static int key_files(const struct opts *o)
{
	if (o->gen_pdh && !o->force && access(o->pdh_key, F_OK) == 0)
		return cli_error("%s exists; it may be the only copy of a target's key: remove it "
				 "or give --force to replace it",
				 o->pdh_key);
	struct sevmig_fw *fw;
	if (cli_soft_fw(o->gen_pdh ? NULL : o->pdh_key, false, 0, &fw))
		return CLI_ERR;
	/* The certificate is ready on disk before the key is written, so that
	 * a failure leaves the old pair or the new one, never a mix. */
	struct cli_outfile cert;
	int rc = write_cert(fw, &cert, o->pdh_cert);
	if (!rc && o->gen_pdh) {
		int k = sevmig_fw_soft_save_pdh_key(fw, o->pdh_key);
		if (k) {
			rc = cli_error("%s: writing the key failed: %s", o->pdh_key,
				       k == -EINVAL ? sevmig_strerror(k) : strerror(-k));
			cli_outfile_discard(&cert);
		}
	}
	if (!rc)
		rc = cli_outfile_commit(&cert);
	sevmig_fw_free(fw);
	return rc;
}

/* ---- input -------------------------------------------------------------------- */

struct input {
	struct cli_endpoint ep;
	struct cli_chan chan;
	int fd;
	int lfd; /* TCP: the listener, open across attempts */
	unsigned port;
	char peer[80]; /* TCP: the address of the connection in hand */
	char name[512];
};

static int open_input(const struct opts *o, struct input *in)
{
	in->fd = in->lfd = -1;
	if (cli_parse_endpoint(o->input, true, &in->ep))
		return CLI_ERR;
	switch (in->ep.kind) {
	case CLI_EP_STDIO:
		if (isatty(STDIN_FILENO))
			return cli_error("standard input is a terminal: pipe a stream in, or give "
					 "-i FILE or -i tcp://[HOST]:PORT");
		snprintf(in->name, sizeof(in->name), "standard input");
		in->fd = dup(STDIN_FILENO);
		if (in->fd < 0)
			return cli_error("standard input: %s", strerror(errno));
		break;
	case CLI_EP_FILE:
		snprintf(in->name, sizeof(in->name), "%s", o->input);
		in->fd = open(o->input, O_RDONLY | O_CLOEXEC);
		if (in->fd < 0)
			return cli_error("%s: %s", o->input, strerror(errno));
		break;
	case CLI_EP_TCP: {
		if (cli_tcp_listen(&in->ep, &in->lfd, &in->port))
			return CLI_ERR;
		char text[16];
		int n = snprintf(text, sizeof(text), "%u\n", in->port);
		if (o->port_file && cli_write_file(o->port_file, text, (size_t)n))
			return CLI_ERR;
		if (!o->port_file && !strcmp(in->ep.port, "0") && !o->x.quiet)
			fprintf(stderr, "%s: listening on port %u\n", cli_prog(), in->port);
		return 0; /* each attempt accepts its connection */
	}
	}
	cli_chan_init(&in->chan, in->fd, in->name, o->x.timeout_ms);
	return 0;
}

/* TCP: the next connection, with auth_timeout to authenticate itself (the
 * TLS handshake, then the stream's first record). */
static int accept_input(const struct opts *o, struct input *in)
{
	if (cli_tcp_accept(in->lfd, o->x.timeout_ms, &in->fd, in->peer, sizeof(in->peer)))
		return CLI_ERR;
	snprintf(in->name, sizeof(in->name), "%s://%s%s%s:%u (from %s)", in->ep.tls ? "tls" : "tcp",
		 strchr(in->ep.host, ':') ? "[" : "", in->ep.host,
		 strchr(in->ep.host, ':') ? "]" : "", in->port, in->peer);
	cli_chan_init(&in->chan, in->fd, in->name, o->x.timeout_ms);
	cli_chan_auth_deadline(&in->chan, o->auth_timeout_ms);
	return in->ep.tls ? cli_chan_tls(&in->chan, &o->x, true) : 0;
}

/* The connection or file of one attempt (a listener stays open). */
static void close_input(struct input *in)
{
	if (in->fd >= 0)
		close(in->fd);
	in->fd = -1;
	cli_chan_fini(&in->chan);
}

/* One message for a failed read of the stream: what and where. */
static int stream_error(const struct input *in, const struct sevmig_error *err, int rc)
{
	char why[160];
	if (in->chan.err)
		return cli_error("%s: %s (record %" PRIu64 ", byte %" PRIu64
				 " of the stream); no output file was changed",
				 in->name, cli_chan_describe(&in->chan, why, sizeof(why)),
				 err->index, err->offset == SEVMIG_NO_OFFSET ? 0 : err->offset);
	if (rc == -ECANCELED && cli_interrupted())
		return cli_error("interrupted by a signal; no output file was changed");
	return cli_error("%s: %s; no output file was changed", in->name,
			 err->message[0] ? err->message : sevmig_strerror(rc));
}

/* ---- the run ---------------------------------------------------------------------- */

/* What the receiver's callbacks need: outputs are laid out once the header
 * names the layout, and committed (synced, renamed) before COMMIT goes
 * back to the source. */
struct recv_ctx {
	const struct opts *o;
	struct input *in;
	struct outputs *out;
	struct sevmig_mem_region *reg;
	struct sevmig_stream_header h;
	struct sevmig_range *slots;
	struct cli_progress *prog;
	struct sevmig_receiver *r;
	bool prepared, committed;
};

static int on_regions(void *arg, const struct sevmig_stream_header *h,
		      const struct sevmig_mem_region **regions, size_t *n)
{
	struct recv_ctx *c = arg;
	c->h = *h;
	c->slots = calloc(h->nslots, sizeof(*c->slots));
	c->reg = calloc(h->nslots, sizeof(*c->reg));
	if (!c->slots || !c->reg) {
		cli_error("out of memory");
		return -ENOMEM;
	}
	memcpy(c->slots, h->slots, h->nslots * sizeof(*c->slots));
	c->h.slots = c->slots;
	if (recv_outputs_prepare(c->o, &c->h, c->out, c->reg))
		return -ECANCELED;
	c->prepared = true;
	for (uint32_t i = 0; i < h->nslots; i++)
		c->prog->total_pages += c->slots[i].npages;
	cli_progress_phase(c->prog, CLI_PHASE_MEMORY);
	*regions = c->reg;
	*n = h->nslots;
	return 0;
}

static int on_commit(void *arg, struct sevmig_error *err)
{
	struct recv_ctx *c = arg;
	cli_progress_phase(c->prog, CLI_PHASE_COMMITTING);
	if (recv_outputs_commit(c->o, sevmig_receiver_pstate(c->r), c->out)) {
		snprintf(err->message, sizeof(err->message),
			 "the target could not write its outputs durably");
		return -EIO;
	}
	c->committed = true;
	return 0;
}

/* The progress callback: the first verified record ends the time the peer
 * had to authenticate. */
static int on_progress(void *arg, const struct sevmig_stream_counts *c)
{
	struct recv_ctx *ctx = arg;
	if (ctx->in->chan.auth_deadline > 0 && sevmig_receiver_authenticated(ctx->r))
		cli_chan_authenticated(&ctx->in->chan);
	return cli_progress_update(ctx->prog, c);
}

/*
 * One connection (or the file, or standard input) received into fresh
 * temporaries. *dropped: it failed before the peer authenticated (TLS
 * handshake, a stream not under our key, garbage, silence past
 * --auth-timeout), so a listener may take the next one; the error is
 * printed either way.
 */
static int receive_once(const struct opts *o, struct input *in, struct cli_progress *prog,
			bool *dropped)
{
	*dropped = false;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	struct sevmig_fw *fw = NULL;
	if (cli_soft_fw(o->pdh_key, false, 0, &fw))
		return CLI_ERR;
	int rc = 0;
	struct outputs out = { .vmsa_dir = o->vmsa_dir, .pstate = { .fd = -1 } };
	struct recv_ctx ctx = { .o = o, .in = in, .out = &out, .prog = prog };
	uint8_t key[SEVMIG_KEY_SIZE];
	uint32_t ksrc = 0;
	bool two_way = in->ep.kind == CLI_EP_TCP;
	if (two_way && (rc = accept_input(o, in))) {
		/* A connection that did not finish its TLS handshake. */
		*dropped = in->fd >= 0 && !cli_interrupted();
		goto fail;
	}
	if ((rc = cli_xfer_key(&o->x, &in->chan, key, &ksrc)))
		goto fail;

	/* A TCP connection carries HELLO, ACKs and COMMIT or NAK back. */
	/* As many workers as CPUs: the outputs' writer threads wait for the
	 * disk, not they. */
	SEVMIG_OPTS(sevmig_receiver_opts, ro, .workers = o->x.threads,
		    .vmsa_dest = recv_outputs_vmsa_dest, .vmsa_arg = &out, .progress = on_progress,
		    .progress_arg = &ctx, .key_source = ksrc, .key = ksrc ? key : NULL,
		    .insecure = !ksrc, .back_write = two_way ? cli_chan_write : NULL,
		    .back_arg = two_way ? &in->chan : NULL, .commit = on_commit, .commit_arg = &ctx,
		    .regions_for = on_regions, .regions_arg = &ctx, .zeroed = true,
		    .page_write = recv_outputs_write, .page_write_arg = &out);
	cli_block_signals(true);
	rc = sevmig_receiver_new(fw, NULL, 0, cli_chan_read, &in->chan, &ro, &ctx.r, &err);
	cli_block_signals(false);
	if (!rc)
		rc = sevmig_receiver_run(ctx.r, &err);
	explicit_bzero(key, sizeof(key));
	cli_progress_clear(prog);
	/* close_notify: the source can tell our orderly end from a cut. */
	if (in->chan.tls && sevmig_tls_shutdown(in->chan.tls, NULL) && !rc)
		cli_error("%s: closing TLS failed (the outputs are complete)", in->name);
	close(in->fd);
	in->fd = -1;
	if (rc) {
		bool said =
		    !ctx.prepared && rc == -ECANCELED; /* recv_outputs_prepare() printed why */
		if (!said && out.vmsa_refused)
			cli_error("%s: %s; give --vmsa-dir DIR for SEV-ES vCPU state; no output "
				  "file was changed",
				  in->name, err.message);
		else if (!said)
			stream_error(in, &err, rc);
		*dropped =
		    two_way && ctx.r && !sevmig_receiver_authenticated(ctx.r) && !cli_interrupted();
		rc = CLI_ERR;
		goto fail;
	}
	{
		struct cli_summary sum = { .tool = "sevmig-recv",
					   .stream = in->name,
					   .uuid = ctx.h.uuid,
					   .policy = ctx.h.policy,
					   .guest_pages = prog->total_pages,
					   .ps = sevmig_receiver_pstate(ctx.r),
					   .seconds = cli_progress_elapsed(prog),
					   .integrity = ksrc == SEVMIG_KEY_TLS ? "tls"
							: ksrc		       ? "psk"
									       : "insecure",
					   .delivery = two_way ? "committed" : "written" };
		sum.counts.sz = sizeof(sum.counts);
		sevmig_receiver_counts(ctx.r, &sum.counts);
		cli_progress_end(prog, &sum, NULL);
		if (o->x.json)
			rc = cli_summary_json(stdout, &sum, o->x.json);
		else if (cli_progress_is_bar(prog))
			cli_summary_text(stderr, &sum);
	}
	goto done;
fail:
	if (!ctx.committed)
		recv_outputs_discard(&out);
done:
	sevmig_receiver_free(ctx.r);
	close_input(in);
	recv_outputs_close_writers(&out);
	recv_outputs_free(&out);
	free(ctx.reg);
	free(ctx.slots);
	sevmig_fw_free(fw);
	return rc ? CLI_ERR : CLI_OK;
}

/*
 * A listener takes connections until one authenticated source has been
 * received, or --max-attempts connections have been dropped: a stray or
 * hostile peer costs at most --auth-timeout, never the migration.
 */
static int receive(const struct opts *o)
{
	struct input in = { .fd = -1, .lfd = -1 };
	struct cli_progress prog;
	cli_progress_init(&prog, "sevmig-recv", o->x.progress);
	cli_progress_phase(&prog, CLI_PHASE_CONNECTING);
	int rc = o->x.nmem ? cli_memspecs_check(o->x.mem, o->x.nmem, true) : 0;
	if (!rc)
		rc = open_input(o, &in);
	for (unsigned attempt = 1; !rc; attempt++) {
		bool dropped;
		if (attempt > 1)
			cli_progress_restart(&prog);
		rc = receive_once(o, &in, &prog, &dropped);
		if (!rc || !dropped)
			break;
		if (attempt == o->max_attempts) {
			rc = cli_error("gave up after %u connections that did not authenticate "
				       "(--max-attempts)",
				       attempt);
			break;
		}
		fprintf(stderr,
			"%s: dropped the connection from %s (%u of at most %u); waiting for "
			"the source\n",
			cli_prog(), in.peer, attempt, o->max_attempts);
		rc = 0;
	}
	if (rc)
		cli_progress_end(&prog, NULL, cli_last_error());
	close_input(&in);
	if (in.lfd >= 0)
		close(in.lfd);
	return rc ? CLI_ERR : CLI_OK;
}

int main(int argc, char **argv)
{
	cli_set_prog("sevmig-recv");
	struct opts o = { 0 };
	int rc = parse(argc, argv, &o);
	if (!rc) {
		cli_catch_signals();
		if (o.gen_psk) {
			struct sevmig_error err;
			sevmig_error_clear(&err);
			rc = sevmig_psk_generate(o.gen_psk, &err) ? cli_error("%s", err.message)
								  : CLI_OK;
		} else {
			rc = o.gen_pdh || o.export_pdh ? key_files(&o) : receive(&o);
		}
	}
	cli_xfer_opts_free(&o.x);
	return cli_exit_status(rc);
}
