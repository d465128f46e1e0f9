/* SPDX-License-Identifier: MIT */
/* Output files replaced atomically: written to a temporary file beside the
 * destination, synced, then renamed over it, so that a failure at any point
 * leaves the previous file as it was. */
#ifndef SEVMIG_CLI_OUTFILE_H
#define SEVMIG_CLI_OUTFILE_H

#include <stdbool.h>
#include <sys/types.h>

struct cli_outfile {
	char *path;  /* the destination (symbolic links resolved) */
	char *tmp;   /* the temporary file; NULL once committed or discarded */
	int fd;	     /* open on tmp until synced */
	bool synced; /* flushed to disk and closed */
};

/*
 * Start writing `path`: a temporary file in its directory, with the mode of
 * the file it replaces or `mode` for a new one. With `keep`, the temporary
 * starts as a copy of the existing file (for a file only part of which is
 * rewritten). The destination must be a regular file or not exist. CLI_ERR
 * printed on error.
 */
int cli_outfile_open(struct cli_outfile *o, const char *path, mode_t mode, bool keep);
/*
 * Flush the temporary to disk and close it: 0 or CLI_ERR printed. Syncing
 * every output before renaming any keeps a late failure from leaving some
 * destinations replaced and others not.
 */
int cli_outfile_sync(struct cli_outfile *o);
/* Sync (if not yet) and rename over the destination: 0 or CLI_ERR printed
 * (the temporary is then removed). */
int cli_outfile_commit(struct cli_outfile *o);
/* Close and remove the temporary (if any); the destination is untouched. */
void cli_outfile_discard(struct cli_outfile *o);

#endif
