/* SPDX-License-Identifier: MIT */
/* What sevmig-send and sevmig-recv share besides moving bytes: their
 * common options, the stream key, the software firmware, worker counts. */
#include "common/xfer.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- shared options ------------------------------------------------------------ */

void cli_xfer_opts_init(struct cli_xfer_opts *x)
{
	memset(x, 0, sizeof(*x));
	x->threads = cli_default_threads();
	/* A peer that stalls must not hold a tool (and its temporaries)
	 * forever: 60 s without a byte moving is a failure (--timeout 0: none). */
	x->timeout_ms = 60000;
}

void cli_xfer_opts_free(struct cli_xfer_opts *x)
{
	for (size_t i = 0; i < x->nmem; i++)
		cli_memspec_free(&x->mem[i]);
	free(x->mem);
	x->mem = NULL;
	x->nmem = 0;
}

int cli_xfer_opt(struct cli_xfer_opts *x, int c, char **argv, void (*usage)(FILE *))
{
	uint64_t v;
	switch (c) {
	case 'm': {
		struct cli_memspec *n = realloc(x->mem, (x->nmem + 1) * sizeof(*n));
		if (!n)
			return cli_error("out of memory");
		x->mem = n;
		if (cli_memspec_parse(optarg, &x->mem[x->nmem]))
			return CLI_ERR;
		x->nmem++;
		return 0;
	}
	case 'T':
		if (cli_parse_uint_opt("--threads", optarg, 64, &v))
			return CLI_ERR;
		x->threads = (unsigned)v;
		return 0;
	case CLI_OPT_TIMEOUT:
		if (cli_parse_uint_opt("--timeout", optarg, 86400, &v))
			return CLI_ERR;
		x->timeout_ms = v ? (int)v * 1000 : -1;
		return 0;
	case CLI_OPT_JSON:
		return cli_json_parse_mode("--json", optarg, &x->json);
	case CLI_OPT_PROGRESS:
		if (cli_progress_parse(optarg, &x->progress))
			return CLI_ERR;
		x->progress_set = true;
		return 0;
	case CLI_OPT_PSK:
		x->psk = optarg;
		return 0;
	case CLI_OPT_INSECURE:
		x->insecure = true;
		return 0;
	case CLI_OPT_TLS_CERT:
		x->tls_cert = optarg;
		return 0;
	case CLI_OPT_TLS_KEY:
		x->tls_key = optarg;
		return 0;
	case CLI_OPT_TLS_CA:
		x->tls_ca = optarg;
		return 0;
	case CLI_OPT_TLS_PEER:
		x->tls_peer = optarg;
		return 0;
	case CLI_OPT_TLS_PIN: {
		/* SHA-256 as hex, with or without colons (openssl x509 -fingerprint). */
		size_t k = 0;
		for (const char *q = optarg; *q && k < 64; q++) {
			if (*q == ':')
				continue;
			int d = *q >= '0' && *q <= '9'	 ? *q - '0'
				: *q >= 'a' && *q <= 'f' ? *q - 'a' + 10
				: *q >= 'A' && *q <= 'F' ? *q - 'A' + 10
							 : -1;
			if (d < 0)
				break;
			x->tls_pin[k / 2] = (uint8_t)(k % 2 ? x->tls_pin[k / 2] | d : d << 4);
			k++;
		}
		if (k != 64 || strspn(optarg, "0123456789abcdefABCDEF:") != strlen(optarg))
			return cli_error("--tls-pin '%s': give the certificate's SHA-256 "
					 "fingerprint, 64 hex digits (colons allowed)",
					 optarg);
		x->has_pin = true;
		return 0;
	}
	case 'q':
		x->quiet = true;
		if (!x->progress_set)
			x->progress = CLI_PROGRESS_NONE;
		return 0;
	case 'h':
		usage(stdout);
		exit(CLI_OK);
	case 'V':
		printf("%s %s\n", cli_prog(), sevmig_version_string());
		exit(CLI_OK);
	case ':':
		return cli_error("%s needs a value", argv[optind - 1]);
	default:
		return cli_error("unknown option '%s' (see %s --help)", argv[optind - 1],
				 cli_prog());
	}
}

int cli_parse_uint_opt(const char *opt, const char *val, uint64_t max, uint64_t *out)
{
	if (cli_parse_u64(val, out) || *out > max)
		return cli_error("%s wants a number from 0 to %" PRIu64 ", not '%s'", opt, max,
				 val);
	return 0;
}

unsigned cli_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > 16 ? 16 : (unsigned)n;
}

int cli_soft_fw(const char *key_path, bool launch, uint32_t policy, struct sevmig_fw **fw)
{
	struct sevmig_error err;
	sevmig_error_clear(&err);
	SEVMIG_OPTS(sevmig_fw_soft_opts, fo, .pdh_key_path = key_path, .launch = launch,
		    .policy = policy);
	int rc = sevmig_fw_soft_new(&fo, fw, &err);
	if (!rc)
		return 0;
	*fw = NULL;
	if (err.message[0])
		return cli_error("%s", err.message);
	return cli_error("%s: %s", key_path ? key_path : "the software firmware model",
			 sevmig_strerror(rc));
}

int cli_xfer_key(const struct cli_xfer_opts *x, const struct cli_chan *c,
		 uint8_t key[SEVMIG_KEY_SIZE], uint32_t *source)
{
	if (c && c->tls) {
		if (x->psk || x->insecure)
			return cli_error(
			    "a tls:// migration is keyed by TLS itself: drop --psk and "
			    "--insecure");
		struct sevmig_error e;
		sevmig_error_clear(&e);
		if (sevmig_tls_export(c->tls, SEVMIG_TLS_EXPORTER_LABEL, key, SEVMIG_KEY_SIZE, &e))
			return cli_error("%s: %s", c->name, e.message);
		*source = SEVMIG_KEY_TLS;
		return 0;
	}
	if (x->psk && x->insecure)
		return cli_error("--psk and --insecure exclude each other");
	if (x->insecure) {
		fprintf(stderr,
			"%s: warning: --insecure: the stream has no keyed integrity; anyone "
			"on the path can alter it or impersonate the source\n",
			cli_prog());
		*source = SEVMIG_KEY_NONE;
		return 0;
	}
	if (!x->psk)
		return cli_error("no stream key: give --psk FILE (made once with 'sevmig-recv "
				 "--gen-psk FILE' and copied to both hosts), or --insecure");
	struct sevmig_error err;
	sevmig_error_clear(&err);
	if (sevmig_psk_load(x->psk, key, &err) < 0)
		return cli_error("%s", err.message);
	*source = SEVMIG_KEY_PSK;
	return 0;
}

int cli_chan_tls(struct cli_chan *c, const struct cli_xfer_opts *x, bool server)
{
	if (!x->tls_cert || !x->tls_key || (!x->tls_ca && !x->has_pin))
		return cli_error("%s: TLS needs --tls-cert and --tls-key (this host's certificate "
				 "and key) and --tls-ca or --tls-pin (to authenticate the peer)",
				 c->name);
	int stop_fd = cli_stop_fd(); /* the handle keeps the number, not the pointer */
	SEVMIG_OPTS(sevmig_tls_opts, o, .cert_file = x->tls_cert, .key_file = x->tls_key,
		    .ca_file = x->tls_ca, .peer_name = x->tls_peer,
		    .pin_sha256 = x->has_pin ? x->tls_pin : NULL,
		    .handshake_timeout_ms = c->auth_deadline > 0 ? c->auth_timeout_ms : 0,
		    .io_timeout_ms = c->timeout_ms < 0 ? -1 : c->timeout_ms,
		    .cancel_fd = stop_fd >= 0 ? &stop_fd : NULL);
	struct sevmig_error e;
	sevmig_error_clear(&e);
	int rc = server ? sevmig_tls_server(c->fd, &o, &c->tls, &e)
			: sevmig_tls_client(c->fd, &o, &c->tls, &e);
	if (rc)
		return cli_error("%s: %s", c->name, e.message[0] ? e.message : sevmig_strerror(rc));
	return 0;
}
