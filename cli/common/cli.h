/* SPDX-License-Identifier: MIT */
/*
 * What the three tools share: messages in one format, whole-file reads,
 * atomic writes. Exit statuses are the same in every tool: 0 success, 1
 * "the answer is no" (diff found differences, verify found damage), 2
 * error, and 128 + the signal (130 SIGINT, 143 SIGTERM) when a stop signal
 * ended the run after it cleaned up (signals.h). JSON output is json.h.
 */
#ifndef SEVMIG_CLI_H
#define SEVMIG_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sevmig/sevmig.h>

enum { CLI_OK = 0, CLI_NO = 1, CLI_ERR = 2 };

/* The program name used in messages ("sevmig-dump"). */
void cli_set_prog(const char *name);
const char *cli_prog(void);

/* "prog: message\n" on stderr; returns CLI_ERR so that callers can write
 * `return cli_error("...")`. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The message of the last cli_error() (without the program name), or NULL:
 * for a JSON event that reports the failure. */
const char *cli_last_error(void);
/*
 * An error about a file, in one line naming the file, the position and what
 * is wrong: "prog: FILE: byte 0x1c: message" or "prog: FILE:3: message"
 * (text line), from a struct sevmig_error. Returns CLI_ERR.
 */
int cli_file_error(const char *file, const struct sevmig_error *err, int rc);

/*
 * Read a whole file ("-" is standard input). Returns 0 and a malloc'd
 * buffer (NUL-terminated past *len), or prints an error and returns
 * CLI_ERR.
 */
int cli_read_file(const char *path, uint8_t **buf, size_t *len);

/*
 * Write `len` bytes to `path` atomically: a temporary file in the same
 * directory, fsync, rename. "-" writes to standard output. On failure the
 * previous file is untouched, an error is printed and CLI_ERR returned.
 */
int cli_write_file(const char *path, const void *buf, size_t len);

/* Parse an unsigned integer, decimal or 0x hex (a leading 0 is not octal),
 * with nothing trailing: 0 or -EINVAL. */
int cli_parse_u64(const char *s, uint64_t *out);

/* Monotonic seconds. */
double cli_now(void);

/* Load a page-state file (binary or text form): 0 or CLI_ERR (printed). */
int cli_load_pstate(const char *path, struct sevmig_pstate **out);
/* Load an ownership-map file (binary or text form): 0 or CLI_ERR (printed). */
int cli_load_owners(const char *path, struct sevmig_owners **out);

#endif
