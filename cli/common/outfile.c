/* SPDX-License-Identifier: MIT */
#include "common/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cli.h"

/* Copy the whole of src into dst (both at offset 0): 0 or a positive errno. */
static int copy_fd(int src, int dst)
{
	for (;;) {
		ssize_t n = copy_file_range(src, NULL, dst, NULL, 1u << 30, 0);
		if (n > 0)
			continue;
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
			return errno;
		break; /* not supported here: copy by hand from where it stopped */
	}
	uint8_t buf[1 << 16];
	for (;;) {
		ssize_t n = read(src, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : 0;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(dst, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return errno;
			off += w;
		}
	}
}

int cli_outfile_open(struct cli_outfile *o, const char *path, mode_t mode, bool keep)
{
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	struct stat st;
	if (stat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return cli_error("%s: not a regular file (only regular files are replaced "
					 "atomically)",
					 path);
		/* An output meant for its owner alone (guest memory, the page
		 * state) never inherits a wider mode from the file it replaces. */
		if (!(mode & 077) && (st.st_mode & 077))
			return cli_error("%s: mode %03o lets others read it; this output holds "
					 "guest data and is kept 0600: chmod 600 it, or remove it",
					 path, (unsigned)(st.st_mode & 0777));
		o->path = realpath(path, NULL);
		mode = st.st_mode & 07777;
	} else if (errno == ENOENT) {
		o->path = strdup(path);
		keep = false;
		mode_t um = umask(0);
		umask(um);
		mode &= ~um;
	} else {
		return cli_error("%s: %s", path, strerror(errno));
	}
	if (!o->path || asprintf(&o->tmp, "%s.tmp.XXXXXX", o->path) < 0) {
		o->tmp = NULL;
		free(o->path);
		o->path = NULL;
		return cli_error("%s: out of memory", path);
	}
	o->fd = mkostemp(o->tmp, O_CLOEXEC);
	int e = o->fd < 0 ? errno : 0;
	if (o->fd < 0) {
		free(o->tmp);
		o->tmp = NULL;
		free(o->path);
		o->path = NULL;
		return cli_error("%s: cannot create a temporary file beside it: %s", path,
				 strerror(e));
	}
	if (fchmod(o->fd, mode))
		e = errno;
	if (!e && keep) {
		int src = open(o->path, O_RDONLY | O_CLOEXEC);
		e = src < 0 ? errno : copy_fd(src, o->fd);
		if (src >= 0)
			close(src);
	}
	if (e) {
		cli_outfile_discard(o);
		return cli_error("%s: preparing its replacement failed: %s", path, strerror(e));
	}
	return 0;
}

int cli_outfile_sync(struct cli_outfile *o)
{
	if (o->synced)
		return 0;
	int e = fsync(o->fd) ? errno : 0;
	if (close(o->fd) && !e)
		e = errno;
	o->fd = -1;
	o->synced = true;
	if (e) {
		cli_error("%s: writing it failed: %s (the file is unchanged)", o->path,
			  strerror(e));
		cli_outfile_discard(o);
		return CLI_ERR;
	}
	return 0;
}

int cli_outfile_commit(struct cli_outfile *o)
{
	if (cli_outfile_sync(o))
		return CLI_ERR;
	if (rename(o->tmp, o->path)) {
		int e = errno;
		cli_error("%s: cannot replace it: %s (the file is unchanged)", o->path,
			  strerror(e));
		cli_outfile_discard(o);
		return CLI_ERR;
	}
	/* Make the rename itself durable. */
	char *d = strdup(o->path);
	if (d) {
		int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		free(d);
	}
	free(o->tmp);
	o->tmp = NULL;
	free(o->path);
	o->path = NULL;
	return 0;
}

void cli_outfile_discard(struct cli_outfile *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp)
		unlink(o->tmp);
	free(o->tmp);
	o->tmp = NULL;
	free(o->path);
	o->path = NULL;
}
