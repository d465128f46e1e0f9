/* SPDX-License-Identifier: MIT */
/*
 * What sevmig-send and sevmig-recv share: their common options, the stream
 * key, TLS from those options, the software firmware. It brings in the
 * signals, the transport and the progress line, which the tools use with it.
 */
#ifndef SEVMIG_CLI_XFER_H
#define SEVMIG_CLI_XFER_H

#include "common/guestmem.h"
#include "common/progress.h"
#include "common/signals.h"
#include "common/transport.h"

/* ---- options sevmig-send and sevmig-recv share ---------------------------- */

enum {
	CLI_OPT_TIMEOUT = 0x100,
	CLI_OPT_JSON,
	CLI_OPT_PSK,
	CLI_OPT_INSECURE,
	CLI_OPT_TLS_CERT,
	CLI_OPT_TLS_KEY,
	CLI_OPT_TLS_CA,
	CLI_OPT_TLS_PEER,
	CLI_OPT_TLS_PIN,
	CLI_OPT_PROGRESS,
	CLI_OPT_FIRST_FREE = 0x200
};
/* Entries of a struct option array, and getopt letters (after a leading ':'). */
/* clang-format off */
#define CLI_XFER_LONGOPTS						\
	{ "memory", required_argument, NULL, 'm' },			\
	{ "threads", required_argument, NULL, 'T' },			\
	{ "timeout", required_argument, NULL, CLI_OPT_TIMEOUT },	\
	{ "json", optional_argument, NULL, CLI_OPT_JSON },		\
	{ "progress", required_argument, NULL, CLI_OPT_PROGRESS },	\
	{ "psk", required_argument, NULL, CLI_OPT_PSK },		\
	{ "insecure", no_argument, NULL, CLI_OPT_INSECURE },		\
	{ "tls-cert", required_argument, NULL, CLI_OPT_TLS_CERT },	\
	{ "tls-key", required_argument, NULL, CLI_OPT_TLS_KEY },	\
	{ "tls-ca", required_argument, NULL, CLI_OPT_TLS_CA },		\
	{ "tls-peer-name", required_argument, NULL, CLI_OPT_TLS_PEER },	\
	{ "tls-pin", required_argument, NULL, CLI_OPT_TLS_PIN },	\
	{ "quiet", no_argument, NULL, 'q' },				\
	{ "help", no_argument, NULL, 'h' },				\
	{ "version", no_argument, NULL, 'V' }
/* clang-format on */
#define CLI_XFER_SHORTOPTS "m:T:qhV"

struct cli_xfer_opts {
	struct cli_memspec *mem; /* --memory, in the order given */
	size_t nmem;
	unsigned threads;		 /* --threads; default cli_default_threads() */
	int timeout_ms;			 /* --timeout; -1: none */
	enum cli_json_mode json;	 /* --json[=pretty]: the summary */
	enum cli_progress_mode progress; /* --progress; --quiet alone means none */
	bool progress_set;		 /* --progress was given */
	bool quiet;
	const char *psk; /* --psk FILE */
	bool insecure;	 /* --insecure */
	/* tls:// endpoints: --tls-cert, --tls-key, --tls-ca, --tls-peer-name, --tls-pin */
	const char *tls_cert, *tls_key, *tls_ca, *tls_peer;
	uint8_t tls_pin[32];
	bool has_pin;
};

struct cli_chan;
/*
 * The stream key of --psk FILE (loaded into key, *source SEVMIG_KEY_PSK), or
 * --insecure (*source SEVMIG_KEY_NONE, with a warning on stderr every time);
 * CLI_ERR with a message when neither or both were given.
 */
int cli_xfer_key(const struct cli_xfer_opts *x, const struct cli_chan *c,
		 uint8_t key[SEVMIG_KEY_SIZE], uint32_t *source);
/*
 * TLS 1.3 over the channel's connected socket (tls:// endpoints; server on
 * the receiving side): the handshake with the --tls-* options, after which
 * the channel moves its bytes through TLS and cli_xfer_key() takes the
 * stream key from the TLS exporter. CLI_ERR printed on failure.
 */
int cli_chan_tls(struct cli_chan *c, const struct cli_xfer_opts *x, bool server);

void cli_xfer_opts_init(struct cli_xfer_opts *x);
void cli_xfer_opts_free(struct cli_xfer_opts *x);
/*
 * Take getopt_long()'s answer c when it is a shared option or a getopt error
 * (':' a missing value, '?' an unknown option; getopt must run with opterr 0
 * and a ':' leading its letters): 0 taken, CLI_ERR printed. --help prints
 * usage(stdout) and --version the version, then exit 0.
 */
int cli_xfer_opt(struct cli_xfer_opts *x, int c, char **argv, void (*usage)(FILE *));

/* Parse --threads (0..64), --timeout (seconds, 0: none) and the like: 0 or
 * CLI_ERR printed, naming the option. */
int cli_parse_uint_opt(const char *opt, const char *val, uint64_t max, uint64_t *out);

/*
 * A platform of the software firmware model (<sevmig/fw_soft.h>) with the PDH
 * key in key_path (NULL: a new key), and, with `launch`, a RUNNING guest of
 * `policy` (a migration source). 0, or CLI_ERR printed.
 */
int cli_soft_fw(const char *key_path, bool launch, uint32_t policy, struct sevmig_fw **fw);

/* The default worker count: the online CPUs, at most 16. */
unsigned cli_default_threads(void);

#endif
