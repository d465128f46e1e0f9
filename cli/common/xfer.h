/* SPDX-License-Identifier: MIT */
/*
 * What sevmig-send, sevmig-recv and the stream commands of sevmig-dump share
 * for moving a stream: where it goes or comes from (standard I/O, a file, a
 * TCP connection), descriptor callbacks that a signal or a stalled peer can
 * interrupt, a progress line, and the end-of-run summary.
 */
#ifndef SEVMIG_CLI_XFER_H
#define SEVMIG_CLI_XFER_H

#include "common/guestmem.h"

/* ---- signals --------------------------------------------------------------- */

/*
 * SIGPIPE ignored (a closed pipe or socket becomes an EPIPE the tool reports);
 * SIGINT, SIGTERM and SIGHUP make cli_interrupted() true: a read or wait in
 * progress fails at once, a write has 2 s more to finish its buffer (then
 * it fails: a stalled peer cannot hold the tool), and the progress callback
 * cancels at the next record, so that the run fails cleanly (a sender writes
 * ABORT when the peer still reads; temporaries are removed). SIGALRM is
 * taken for that grace. A second SIGINT kills the process as usual.
 */
void cli_catch_signals(void);
bool cli_interrupted(void);
/* Readable once a stop signal came (a self-pipe; -1 before
 * cli_catch_signals()): for poll() sets and the TLS handle's cancel_fd. */
int cli_stop_fd(void);
/* A tool's exit status: rc, or 128 + the signal when one interrupted it. */
int cli_exit_status(int rc);
/*
 * Block (true) or unblock (false) those signals in the calling thread. Threads
 * inherit the mask: blocking them around the creation of a sender or receiver
 * keeps the library's workers from taking a signal meant to interrupt the
 * main thread's read or write.
 */
void cli_block_signals(bool block);

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
	CLI_OPT_FIRST_FREE = 0x200
};
/* Entries of a struct option array, and getopt letters (after a leading ':'). */
/* clang-format off */
#define CLI_XFER_LONGOPTS						\
	{ "memory", required_argument, NULL, 'm' },			\
	{ "threads", required_argument, NULL, 'T' },			\
	{ "timeout", required_argument, NULL, CLI_OPT_TIMEOUT },	\
	{ "json", no_argument, NULL, CLI_OPT_JSON },			\
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
	unsigned threads; /* --threads; default cli_default_threads() */
	int timeout_ms;	  /* --timeout; -1: none */
	bool json, quiet;
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

/* ---- endpoints --------------------------------------------------------------- */

enum cli_ep_kind { CLI_EP_STDIO, CLI_EP_FILE, CLI_EP_TCP };

struct cli_endpoint {
	enum cli_ep_kind kind;
	const char *arg; /* as given ("-", a path, "tcp://...") */
	bool tls;	 /* tls://: TCP with TLS 1.3 over it */
	char host[256];	 /* TCP: without brackets; "" for any address (listen) */
	char port[8];
};

/*
 * "-" (standard input or output), "tcp://HOST:PORT", "tcp://[IPv6]:PORT", or a
 * file path. `listen`: HOST may be empty ("tcp://:PORT") and PORT may be 0.
 * Prints an error and returns CLI_ERR for a malformed tcp:// address.
 */
int cli_parse_endpoint(const char *s, bool listen, struct cli_endpoint *ep);

/*
 * Connect to ep (every address HOST resolves to, in order), waiting at most
 * timeout_ms for each (-1: the system's limit). 0 and *fd, or CLI_ERR printed.
 */
int cli_tcp_connect(const struct cli_endpoint *ep, int timeout_ms, int *fd);
/*
 * Listen on ep (an empty HOST: every address, IPv6 and IPv4) and return the
 * listening socket and the port it is bound to (the system's choice for 0).
 */
int cli_tcp_listen(const struct cli_endpoint *ep, int *lfd, unsigned *port);
/* Accept one connection (timeout_ms as above); the listener stays open, for
 * the next one. The peer's address goes to peer[0..peersz). */
int cli_tcp_accept(int lfd, int timeout_ms, int *fd, char *peer, size_t peersz);

/* ---- channels: a descriptor behind the library's I/O callbacks ------------- */

struct sevmig_tls;
struct cli_chan {
	int fd;
	struct sevmig_tls *tls; /* set by cli_chan_tls() */
	const char *name;	/* for messages: "standard input", a path, "tcp://..." */
	int timeout_ms;		/* give up when no byte moves for this long; -1: never */
	/* Until the peer is authenticated (cli_chan_authenticated()), every
	 * wait also ends at this monotonic time (0: none) with ETIME, so that
	 * a peer trickling bytes cannot hold a listener either. */
	double auth_deadline;
	int auth_timeout_ms;
	int err;		/* the errno that ended the transfer (ETIMEDOUT, EINTR too) */
	bool writing;		/* the failed transfer was a write */
	uint64_t bytes;		/* bytes moved through the descriptor */
	/* Bytes kept while recording (cli_chan_record) and handed out again
	 * before the descriptor's next ones (cli_chan_replay). */
	uint8_t *rec;
	size_t rec_len, rec_cap, rec_pos;
	bool recording;
};

void cli_chan_init(struct cli_chan *c, int fd, const char *name, int timeout_ms);
void cli_chan_fini(struct cli_chan *c);
/* Give the peer auth_timeout_ms (0: no limit) from now to authenticate: the
 * TLS handshake and the stream's first verified record. */
void cli_chan_auth_deadline(struct cli_chan *c, int auth_timeout_ms);
/* The peer authenticated: only timeout_ms applies from now on. */
void cli_chan_authenticated(struct cli_chan *c);
/* sevmig_write_fn and sevmig_read_fn over a struct cli_chan. */
int cli_chan_write(void *chan, const void *buf, size_t len);
ptrdiff_t cli_chan_read(void *chan, void *buf, size_t len);
/* Keep every byte read from now on... */
void cli_chan_record(struct cli_chan *c);
/* ...and serve the kept bytes again, from the first, before reading on. */
void cli_chan_replay(struct cli_chan *c);
/* Why the channel failed, in words ("write failed: the reading side went
 * away (broken pipe)"), into buf; returns buf. */
const char *cli_chan_describe(const struct cli_chan *c, char *buf, size_t size);

/* ---- progress and summary ---------------------------------------------------- */

struct cli_progress {
	bool show;	      /* draw the line (stderr is a terminal, not --quiet) */
	bool drawn;	      /* a line is on the screen */
	uint64_t total_pages; /* pages of one full pass, 0 until known */
	double start, last;   /* monotonic seconds */
};

/* Start the clock; draw only when `show`. */
void cli_progress_init(struct cli_progress *p, bool show);
/* sevmig_stream_progress_fn: redraws at most ten times a second, and returns
 * non-zero (cancel) once cli_interrupted(). */
int cli_progress_update(void *progress, const struct sevmig_stream_counts *c);
/* Erase the line. */
void cli_progress_clear(struct cli_progress *p);
/* Seconds since cli_progress_init(). */
double cli_progress_elapsed(const struct cli_progress *p);

struct cli_summary {
	const char *tool;    /* "sevmig-send" */
	const char *stream;  /* where the stream went or came from */
	const uint8_t *uuid; /* 16 bytes, or NULL */
	uint32_t policy;
	uint64_t guest_pages;		/* pages of guest memory */
	const struct sevmig_pstate *ps; /* the page state sent or received, or NULL */
	struct sevmig_stream_counts counts;
	double seconds;
	const char *integrity; /* "psk", "tls" or "insecure" */
	const char *delivery;  /* "committed" (the target's COMMIT), "written" (one way), or NULL */
};

/* The summary as one JSON object and a newline, or as a few lines of text. */
void cli_summary_print(FILE *f, const struct cli_summary *s, bool json);

/* "8-4-4-4-12" lowercase hex, 37 bytes with the NUL. */
void cli_uuid_format(const uint8_t uuid[16], char out[37]);

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
