/* SPDX-License-Identifier: MIT */
/* The tools' JSON emitter (json.h). */
#include "common/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "common/cli.h"

int cli_json_parse_mode(const char *opt, const char *val, enum cli_json_mode *mode)
{
	if (!val) {
		*mode = CLI_JSON_LINE;
		return 0;
	}
	if (!strcmp(val, "pretty")) {
		*mode = CLI_JSON_PRETTY;
		return 0;
	}
	return cli_error("%s wants no value (one line) or =pretty (indented), not '%s'", opt, val);
}

void cli_json_init(struct cli_json *j, FILE *f, bool pretty)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->pretty = pretty;
}

static void newline_indent(struct cli_json *j)
{
	fputc('\n', j->f);
	for (unsigned i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/*
 * Before a value or a key: the comma and, indented, the line break that
 * separate it from the previous member. A value right after its key needs
 * neither. A key outside an object, or a value inside an object without
 * its key, is refused (false).
 */
static bool before(struct cli_json *j, bool is_key)
{
	if (j->misuse)
		return false;
	if (j->after_key) {
		if (is_key) {
			j->misuse = true;
			return false;
		}
		j->after_key = false;
		return true;
	}
	if (j->depth == 0) {
		if (is_key) {
			j->misuse = true;
			return false;
		}
		return true;
	}
	if (j->array[j->depth] == is_key) {
		j->misuse = true;
		return false;
	}
	if (j->has_member[j->depth])
		fputc(',', j->f);
	j->has_member[j->depth] = true;
	if (j->pretty)
		newline_indent(j);
	return true;
}

static void open_container(struct cli_json *j, bool array)
{
	if (j->depth == CLI_JSON_MAX_DEPTH) {
		j->misuse = true;
		return;
	}
	if (!before(j, false))
		return;
	fputc(array ? '[' : '{', j->f);
	j->depth++;
	j->array[j->depth] = array;
	j->has_member[j->depth] = false;
}

void cli_json_object(struct cli_json *j)
{
	open_container(j, false);
}

void cli_json_array(struct cli_json *j)
{
	open_container(j, true);
}

void cli_json_end(struct cli_json *j)
{
	if (j->misuse || !j->depth || j->after_key) {
		j->misuse = true;
		return;
	}
	bool any = j->has_member[j->depth], array = j->array[j->depth];
	j->depth--;
	if (any && j->pretty)
		newline_indent(j);
	fputc(array ? ']' : '}', j->f);
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const uint8_t *p, size_t left)
{
	uint8_t c = p[0];
	size_t n;
	uint32_t min, cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, min = 0x80, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, min = 0x800, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void cli_json_escape(FILE *f, const void *s, size_t n)
{
	const uint8_t *p = s;
	fputc('"', f);
	while (n) {
		uint8_t c = *p;
		size_t k = utf8_len(p, n);
		if (!k) {
			/* JSON text is Unicode: a byte that is not part of UTF-8
			 * (a file name in another encoding) becomes U+FFFD. */
			fputs("\\ufffd", f);
			k = 1;
		} else if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
		} else if (c < 0x20) {
			static const char short_forms[] = "btn\0fr";
			if (c >= '\b' && c <= '\r' && short_forms[c - '\b'])
				fprintf(f, "\\%c", short_forms[c - '\b']);
			else
				fprintf(f, "\\u%04x", c);
		} else {
			fwrite(p, 1, k, f);
		}
		p += k;
		n -= k;
	}
	fputc('"', f);
}

void cli_json_key(struct cli_json *j, const char *key)
{
	if (!before(j, true))
		return;
	cli_json_escape(j->f, key, strlen(key));
	fputs(j->pretty ? ": " : ":", j->f);
	j->after_key = true;
}

void cli_json_strn(struct cli_json *j, const void *s, size_t n)
{
	if (before(j, false))
		cli_json_escape(j->f, s, n);
}

void cli_json_str(struct cli_json *j, const char *s)
{
	if (!s)
		cli_json_null(j);
	else
		cli_json_strn(j, s, strlen(s));
}

void cli_json_u64(struct cli_json *j, uint64_t v)
{
	if (before(j, false))
		fprintf(j->f, "%" PRIu64, v);
}

void cli_json_i64(struct cli_json *j, int64_t v)
{
	if (before(j, false))
		fprintf(j->f, "%" PRId64, v);
}

void cli_json_num(struct cli_json *j, double v, int decimals)
{
	if (!isfinite(v)) {
		cli_json_null(j);
		return;
	}
	if (before(j, false))
		fprintf(j->f, "%.*f", decimals, v);
}

void cli_json_bool(struct cli_json *j, bool v)
{
	if (before(j, false))
		fputs(v ? "true" : "false", j->f);
}

void cli_json_null(struct cli_json *j)
{
	if (before(j, false))
		fputs("null", j->f);
}

void cli_json_hex(struct cli_json *j, const uint8_t *p, size_t n)
{
	if (!before(j, false))
		return;
	fputc('"', j->f);
	for (size_t i = 0; i < n; i++)
		fprintf(j->f, "%02x", p[i]);
	fputc('"', j->f);
}

void cli_json_kstr(struct cli_json *j, const char *key, const char *s)
{
	cli_json_key(j, key);
	cli_json_str(j, s);
}

void cli_json_kstrn(struct cli_json *j, const char *key, const void *s, size_t n)
{
	cli_json_key(j, key);
	cli_json_strn(j, s, n);
}

void cli_json_ku64(struct cli_json *j, const char *key, uint64_t v)
{
	cli_json_key(j, key);
	cli_json_u64(j, v);
}

void cli_json_ki64(struct cli_json *j, const char *key, int64_t v)
{
	cli_json_key(j, key);
	cli_json_i64(j, v);
}

void cli_json_knum(struct cli_json *j, const char *key, double v, int decimals)
{
	cli_json_key(j, key);
	cli_json_num(j, v, decimals);
}

void cli_json_kbool(struct cli_json *j, const char *key, bool v)
{
	cli_json_key(j, key);
	cli_json_bool(j, v);
}

void cli_json_knull(struct cli_json *j, const char *key)
{
	cli_json_key(j, key);
	cli_json_null(j);
}

void cli_json_khex(struct cli_json *j, const char *key, const uint8_t *p, size_t n)
{
	cli_json_key(j, key);
	cli_json_hex(j, p, n);
}

void cli_json_kobject(struct cli_json *j, const char *key)
{
	cli_json_key(j, key);
	cli_json_object(j);
}

void cli_json_karray(struct cli_json *j, const char *key)
{
	cli_json_key(j, key);
	cli_json_array(j);
}

void cli_json_doc(struct cli_json *j, const char *schema)
{
	if (j->depth || j->after_key)
		j->misuse = true;
	cli_json_object(j);
	cli_json_kstr(j, "schema", schema);
}

int cli_json_doc_end(struct cli_json *j)
{
	cli_json_end(j);
	if (j->depth)
		j->misuse = true;
	if (j->misuse)
		return cli_error("internal error: a JSON document was built wrong");
	fputc('\n', j->f);
	if (fflush(j->f) || ferror(j->f))
		return cli_error("%s: write failed: %s",
				 j->f == stdout ? "standard output" : "standard error",
				 strerror(errno));
	return 0;
}
