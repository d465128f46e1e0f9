/* SPDX-License-Identifier: MIT */
#include "common/cli.h"
#include "common/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *prog = "sevmig";

void cli_set_prog(const char *name)
{
	prog = name;
}

const char *cli_prog(void)
{
	return prog;
}

static char last_error[512];
static bool has_error;

int cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	has_error = true;
	/* Printed whole even when longer than the copy kept. */
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_ERR;
}

const char *cli_last_error(void)
{
	return has_error ? last_error : NULL;
}

int cli_file_error(const char *file, const struct sevmig_error *err, int rc)
{
	const char *msg = err && err->message[0] ? err->message : sevmig_strerror(rc);
	if (err && err->offset != SEVMIG_NO_OFFSET)
		return cli_error("%s: byte %" PRIu64 ": %s", file, err->offset, msg);
	if (err && err->index)
		return cli_error("%s:%" PRIu64 ": %s", file, err->index, msg);
	return cli_error("%s: %s", file, msg);
}

int cli_read_file(const char *path, uint8_t **buf, size_t *len)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (fd < 0)
		return cli_error("%s: %s", path, strerror(errno));
	size_t cap = 1 << 16, n = 0;
	uint8_t *p = malloc(cap + 1);
	if (!p)
		goto nomem;
	for (;;) {
		if (n == cap) {
			if (cap > SIZE_MAX / 4)
				goto nomem;
			uint8_t *np = realloc(p, cap * 2 + 1);
			if (!np)
				goto nomem;
			p = np;
			cap *= 2;
		}
		ssize_t r = read(fd, p + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(p);
			if (fd != STDIN_FILENO)
				close(fd);
			return cli_error("%s: read: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	p[n] = 0;
	*buf = p;
	*len = n;
	return 0;
nomem:
	free(p);
	if (fd != STDIN_FILENO)
		close(fd);
	return cli_error("%s: out of memory reading the file", path);
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int cli_write_file(const char *path, const void *buf, size_t len)
{
	if (!strcmp(path, "-")) {
		int rc = write_all(STDOUT_FILENO, buf, len);
		if (rc)
			return cli_error("standard output: %s", strerror(-rc));
		return 0;
	}
	struct cli_outfile o;
	if (cli_outfile_open(&o, path, 0644, false))
		return CLI_ERR;
	int rc = write_all(o.fd, buf, len);
	if (rc) {
		cli_outfile_discard(&o);
		return cli_error("%s: %s (the file is unchanged)", path, strerror(-rc));
	}
	return cli_outfile_commit(&o) ? CLI_ERR : 0;
}

int cli_parse_u64(const char *s, uint64_t *out)
{
	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	/* Decimal, or hex after 0x; never octal (a leading zero is not a base). */
	int base = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10;
	if (base == 16 && (!s[2] || s[2] == '-' || s[2] == '+' || s[2] == ' '))
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(base == 16 ? s + 2 : s, &end, base);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A sevmig_*_load(), its out-pointer passed as void *. */
typedef int (*load_fn)(const void *buf, size_t len, void *out, struct sevmig_error *err);

/* Read path whole and parse it with load into out: 0 or CLI_ERR (printed,
 * naming the file and the position). */
static int load_file(const char *path, load_fn load, void *out)
{
	uint8_t *buf;
	size_t len;
	if (cli_read_file(path, &buf, &len))
		return CLI_ERR;
	struct sevmig_error err;
	sevmig_error_clear(&err);
	int rc = load(buf, len, out, &err);
	free(buf);
	return rc ? cli_file_error(path, &err, rc) : 0;
}

static int load_pstate(const void *buf, size_t len, void *out, struct sevmig_error *err)
{
	return sevmig_pstate_load(buf, len, out, err);
}

static int load_owners(const void *buf, size_t len, void *out, struct sevmig_error *err)
{
	return sevmig_owners_load(buf, len, out, err);
}

int cli_load_pstate(const char *path, struct sevmig_pstate **out)
{
	return load_file(path, load_pstate, out);
}

int cli_load_owners(const char *path, struct sevmig_owners **out)
{
	return load_file(path, load_owners, out);
}

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
