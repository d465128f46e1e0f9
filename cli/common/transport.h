/* SPDX-License-Identifier: MIT */
/*
 * Where a stream goes or comes from (standard I/O, a file, a TCP or TLS
 * connection), and channels: descriptor callbacks for the library that a
 * stop signal, a stalled peer or an unauthenticated one cannot hold.
 */
#ifndef SEVMIG_CLI_TRANSPORT_H
#define SEVMIG_CLI_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
	int err;	/* the errno that ended the transfer (ETIMEDOUT, EINTR too) */
	bool writing;	/* the failed transfer was a write */
	uint64_t bytes; /* bytes moved through the descriptor */
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

#endif
