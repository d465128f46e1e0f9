/* SPDX-License-Identifier: MIT */
/*
 * Guest memory in files for sevmig-send and sevmig-recv: the
 * --memory GPA:SIZE:FILE[:OFFSET] option, read-only mappings of the source's
 * files, and output files that are written under a temporary name beside
 * their destination and renamed into place only when the whole job worked.
 */
#ifndef SEVMIG_CLI_GUESTMEM_H
#define SEVMIG_CLI_GUESTMEM_H

#include <sys/types.h>

#include "common/cli.h"

/*
 * A size or address: decimal or 0x hex, optionally followed by K, M, G or T
 * (binary multiples: 1K = 1024). 0 or -EINVAL (malformed or overflowing).
 */
int cli_parse_size(const char *s, uint64_t *out);

/* One --memory option: guest-physical [gpa, gpa + size) lives in `file` at
 * byte `offset`. */
struct cli_memspec {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset;
	char *file;	 /* malloc'd */
	const char *arg; /* the option's text, for messages */
};

/*
 * Parse "GPA:SIZE:FILE[:OFFSET]". FILE may contain ':'; text after its last
 * ':' is taken as OFFSET when it is a number (so a file whose name ends in
 * ":NUMBER" needs an explicit ":0"). GPA, SIZE and OFFSET must be multiples
 * of 4096, SIZE non-zero, the range below 2^52. CLI_ERR printed on error.
 */
int cli_memspec_parse(const char *arg, struct cli_memspec *m);
void cli_memspec_free(struct cli_memspec *m);
/*
 * The options together: guest ranges must not overlap, and when `writing`,
 * memslots in the same file must not overlap there either. CLI_ERR printed.
 */
int cli_memspecs_check(const struct cli_memspec *m, size_t n, bool writing);

/*
 * A name for the file `path` will denote once written: its resolved absolute
 * path when it exists (symbolic links followed), else its resolved directory
 * and its base name. Two spellings of one file give the same key. malloc'd,
 * or NULL (errno set).
 */
char *cli_path_key(const char *path);

/* Map m's bytes of its file read-only: 0, or CLI_ERR printed (no such file,
 * shorter than OFFSET + SIZE, ...). */
int cli_map_input(const struct cli_memspec *m, void **addr);
void cli_unmap(void *addr, uint64_t size);

#endif
