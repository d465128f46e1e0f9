/* SPDX-License-Identifier: MIT */
/* Guest memory files and all-or-nothing output files for the tools. */
#include "common/guestmem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xfer.h"

int cli_parse_size(const char *s, uint64_t *out)
{
	if (!s || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, hex ? 16 : 10);
	if (errno || end == s + (hex ? 2 : 0))
		return -EINVAL;
	unsigned shift = 0;
	switch (*end) {
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	case 'T':
	case 't':
		shift = 40;
		break;
	}
	if (shift)
		end++;
	if (*end || v > UINT64_MAX >> shift)
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

/* Parse the n bytes at s as a size. */
static int parse_part(const char *s, size_t n, uint64_t *out)
{
	char buf[64];
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return cli_parse_size(buf, out);
}

int cli_memspec_parse(const char *arg, struct cli_memspec *m)
{
	memset(m, 0, sizeof(*m));
	m->arg = arg;
	const char *c1 = strchr(arg, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c2)
		return cli_error("--memory %s: expected GPA:SIZE:FILE[:OFFSET]", arg);
	if (parse_part(arg, (size_t)(c1 - arg), &m->gpa))
		return cli_error("--memory %s: GPA '%.*s' is not a number (decimal or 0x hex, "
				 "K/M/G/T suffixes allowed)",
				 arg, (int)(c1 - arg), arg);
	if (parse_part(c1 + 1, (size_t)(c2 - c1 - 1), &m->size))
		return cli_error("--memory %s: SIZE '%.*s' is not a number (decimal or 0x hex, "
				 "K/M/G/T suffixes allowed)",
				 arg, (int)(c2 - c1 - 1), c1 + 1);
	const char *file = c2 + 1, *last = strrchr(file, ':');
	size_t flen = strlen(file);
	if (last && !cli_parse_size(last + 1, &m->offset)) {
		flen = (size_t)(last - file);
	} else if (last && access(file, F_OK) != 0) {
		/* FILE may hold a colon; but where only the part before the last
		 * one exists, what follows was meant as the OFFSET. */
		char *head = strndup(file, (size_t)(last - file));
		bool head_exists = head && access(head, F_OK) == 0;
		free(head);
		if (head_exists)
			return cli_error("--memory %s: OFFSET '%s' is not a number (decimal or 0x "
					 "hex, K/M/G/T suffixes allowed)",
					 arg, last + 1);
	}
	if (!flen)
		return cli_error("--memory %s: no FILE", arg);
	const uint64_t pg = SEVMIG_PAGE_SIZE - 1;
	if ((m->gpa | m->size | m->offset) & pg)
		return cli_error("--memory %s: %s %#" PRIx64 " is not a multiple of 4096", arg,
				 m->gpa & pg	? "GPA"
				 : m->size & pg ? "SIZE"
						: "OFFSET",
				 m->gpa & pg	? m->gpa
				 : m->size & pg ? m->size
						: m->offset);
	if (!m->size)
		return cli_error("--memory %s: SIZE is zero", arg);
	if (m->gpa + m->size < m->gpa || (m->gpa + m->size) >> SEVMIG_PAGE_SHIFT > SEVMIG_GFN_LIMIT)
		return cli_error("--memory %s: the range ends beyond 2^52, the limit of guest "
				 "physical addresses",
				 arg);
	if (m->offset + m->size < m->offset || m->offset + m->size > (uint64_t)INT64_MAX)
		return cli_error("--memory %s: OFFSET + SIZE is too large", arg);
	m->file = strndup(file, flen);
	if (!m->file)
		return cli_error("out of memory");
	return 0;
}

void cli_memspec_free(struct cli_memspec *m)
{
	free(m->file);
	m->file = NULL;
}

struct spec_ref {
	const struct cli_memspec *m;
	char *key;
};

static int by_gpa(const void *a, const void *b)
{
	const struct spec_ref *x = a, *y = b;
	return x->m->gpa < y->m->gpa ? -1 : x->m->gpa > y->m->gpa;
}

static int by_file_offset(const void *a, const void *b)
{
	const struct spec_ref *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->m->offset < y->m->offset ? -1 : x->m->offset > y->m->offset;
}

int cli_memspecs_check(const struct cli_memspec *m, size_t n, bool writing)
{
	struct spec_ref *r = calloc(n ? n : 1, sizeof(*r));
	if (!r)
		return cli_error("out of memory");
	int rc = 0;
	for (size_t i = 0; i < n; i++)
		r[i].m = &m[i];
	qsort(r, n, sizeof(*r), by_gpa);
	for (size_t i = 1; i < n && !rc; i++)
		if (r[i].m->gpa < r[i - 1].m->gpa + r[i - 1].m->size)
			rc = cli_error("--memory %s and --memory %s overlap in guest memory",
				       r[i - 1].m->arg, r[i].m->arg);
	for (size_t i = 0; i < n && !rc && writing; i++) {
		r[i].key = cli_path_key(r[i].m->file);
		if (!r[i].key)
			rc = cli_error("%s: %s", r[i].m->file, strerror(errno));
	}
	if (!rc && writing) {
		qsort(r, n, sizeof(*r), by_file_offset);
		for (size_t i = 1; i < n && !rc; i++)
			if (!strcmp(r[i].key, r[i - 1].key) &&
			    r[i].m->offset < r[i - 1].m->offset + r[i - 1].m->size)
				rc = cli_error("--memory %s and --memory %s overlap in %s",
					       r[i - 1].m->arg, r[i].m->arg, r[i].m->file);
	}
	for (size_t i = 0; i < n; i++)
		free(r[i].key);
	free(r);
	return rc;
}

char *cli_path_key(const char *path)
{
	char *r = realpath(path, NULL);
	if (r || errno != ENOENT)
		return r;
	char *d = strdup(path), *b = strdup(path), *key = NULL;
	if (d && b) {
		char *rd = realpath(dirname(d), NULL);
		if (rd && asprintf(&key, "%s/%s", rd, basename(b)) < 0)
			key = NULL;
		free(rd);
	}
	free(d);
	free(b);
	return key;
}

int cli_map_input(const struct cli_memspec *m, void **addr)
{
	int fd = open(m->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_error("%s: %s", m->file, strerror(errno));
	struct stat st;
	off_t fsize = -1;
	if (fstat(fd, &st) == 0)
		fsize = S_ISREG(st.st_mode)   ? st.st_size
			: S_ISBLK(st.st_mode) ? lseek(fd, 0, SEEK_END)
					      : -1;
	if (fsize < 0) {
		close(fd);
		return cli_error("%s: not a regular file or block device of known size", m->file);
	}
	if ((uint64_t)fsize < m->offset + m->size) {
		close(fd);
		return cli_error("%s: the file has %jd bytes; --memory %s needs %" PRIu64
				 " (OFFSET + SIZE)",
				 m->file, (intmax_t)fsize, m->arg, m->offset + m->size);
	}
	void *p = mmap(NULL, m->size, PROT_READ, MAP_SHARED, fd, (off_t)m->offset);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return cli_error("%s: cannot map %" PRIu64 " bytes at offset %" PRIu64 ": %s",
				 m->file, m->size, m->offset, strerror(e));
	madvise(p, m->size, MADV_SEQUENTIAL);
	*addr = p;
	return 0;
}

struct unmap_part {
	uint8_t *addr;
	size_t len;
};

static void *unmap_part(void *arg)
{
	struct unmap_part *u = arg;
	madvise(u->addr, u->len, MADV_DONTNEED);
	return NULL;
}

/*
 * Tearing down a mapping of the guest's file takes 25 ms per GiB on one
 * thread, at the very end of a migration, while the other CPUs are idle:
 * the page tables are emptied in parts, one per CPU (MADV_DONTNEED holds
 * the mapping lock shared, so the parts go in parallel; munmap takes it
 * exclusively), and the empty mapping is then removed.
 */
void cli_unmap(void *addr, uint64_t size)
{
	enum { MAX_PARTS = 16, MIN_PART = 256u << 20 };
	if (!addr)
		return;
	unsigned parts = cli_default_threads();
	if (parts > MAX_PARTS)
		parts = MAX_PARTS;
	if (parts > size / MIN_PART)
		parts = (unsigned)(size / MIN_PART);
	pthread_t th[MAX_PARTS];
	struct unmap_part u[MAX_PARTS];
	bool started[MAX_PARTS] = { false };
	size_t part = parts > 1 ? (size / parts + 4095) & ~(size_t)4095 : 0;
	for (unsigned i = 1; i < parts; i++) {
		size_t at = (size_t)i * part;
		u[i] = (struct unmap_part){ (uint8_t *)addr + at,
					    i + 1 < parts ? part : (size_t)size - at };
		started[i] = !pthread_create(&th[i], NULL, unmap_part, &u[i]);
	}
	if (parts > 1) {
		u[0] = (struct unmap_part){ addr, part };
		unmap_part(&u[0]);
	}
	for (unsigned i = 1; i < parts; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	munmap(addr, size); /* what a part that could not start left too */
}
