/* SPDX-License-Identifier: MIT */
/*
 * The one JSON emitter of the tools: objects, arrays, strings (escaped, and
 * always valid UTF-8), integers, numbers, booleans and null, written to a
 * stdio stream either on one line (JSON Lines: one document per line) or
 * indented. Every document the tools print starts with its "schema" key
 * (cli_json_doc()); docs/json.md lists them. Not thread-safe: one writer
 * per struct cli_json.
 */
#ifndef SEVMIG_CLI_JSON_H
#define SEVMIG_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Nesting deeper than this is a bug of the caller: refused (nothing written). */
#define CLI_JSON_MAX_DEPTH 16

/* How --json[=pretty] asked for JSON: not at all, one line, indented. */
enum cli_json_mode { CLI_JSON_OFF, CLI_JSON_LINE, CLI_JSON_PRETTY };

struct cli_json {
	FILE *f;
	bool pretty;
	unsigned depth;				 /* open objects and arrays */
	bool array[CLI_JSON_MAX_DEPTH + 1];	 /* the container at a depth is an array */
	bool has_member[CLI_JSON_MAX_DEPTH + 1]; /* ... and has a member already */
	bool after_key;				 /* a key was written, its value is next */
	bool misuse;				 /* an unbalanced or too deep call was refused */
};

/*
 * Parse the value of --json (NULL for a bare --json, "pretty"): 0 and *mode,
 * or CLI_ERR printed naming `opt`.
 */
int cli_json_parse_mode(const char *opt, const char *val, enum cli_json_mode *mode);

void cli_json_init(struct cli_json *j, FILE *f, bool pretty);

/* Containers; cli_json_end() closes the innermost one. */
void cli_json_object(struct cli_json *j);
void cli_json_array(struct cli_json *j);
void cli_json_end(struct cli_json *j);

/* A member's key; its value is the next call. */
void cli_json_key(struct cli_json *j, const char *key);

/* Values. A NULL string is null. Bytes that are not UTF-8 become U+FFFD. */
void cli_json_str(struct cli_json *j, const char *s);
void cli_json_strn(struct cli_json *j, const void *s, size_t n);
void cli_json_u64(struct cli_json *j, uint64_t v);
void cli_json_i64(struct cli_json *j, int64_t v);
/* `decimals` digits after the point; NaN and infinities are null. */
void cli_json_num(struct cli_json *j, double v, int decimals);
void cli_json_bool(struct cli_json *j, bool v);
void cli_json_null(struct cli_json *j);
/* Lowercase hex of n bytes, as a string. */
void cli_json_hex(struct cli_json *j, const uint8_t *p, size_t n);

/* A key and its value in one call. */
void cli_json_kstr(struct cli_json *j, const char *key, const char *s);
void cli_json_kstrn(struct cli_json *j, const char *key, const void *s, size_t n);
void cli_json_ku64(struct cli_json *j, const char *key, uint64_t v);
void cli_json_ki64(struct cli_json *j, const char *key, int64_t v);
void cli_json_knum(struct cli_json *j, const char *key, double v, int decimals);
void cli_json_kbool(struct cli_json *j, const char *key, bool v);
void cli_json_knull(struct cli_json *j, const char *key);
void cli_json_khex(struct cli_json *j, const char *key, const uint8_t *p, size_t n);
void cli_json_kobject(struct cli_json *j, const char *key);
void cli_json_karray(struct cli_json *j, const char *key);

/*
 * A document: an object whose first member is "schema": SCHEMA
 * ("sevmig.<kind>/<version>", docs/json.md). cli_json_doc_end() closes it,
 * ends the line and flushes: 0, or CLI_ERR printed when the stream could
 * not be written or a call was refused.
 */
void cli_json_doc(struct cli_json *j, const char *schema);
int cli_json_doc_end(struct cli_json *j);

/* The escaped form of a string (quotes included) on f, as cli_json_strn(). */
void cli_json_escape(FILE *f, const void *s, size_t n);

#endif
