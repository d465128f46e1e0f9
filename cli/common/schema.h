/* SPDX-License-Identifier: MIT */
/*
 * The JSON documents of the tools (docs/json.md, the normative list): their
 * schema names, and the objects several documents share, written once so
 * that a quantity has one name everywhere. A document's version changes
 * only when a key changes meaning or goes away; keys are only added within
 * a version.
 */
#ifndef SEVMIG_CLI_SCHEMA_H
#define SEVMIG_CLI_SCHEMA_H

#include <sevmig/sevmig.h>

#include "common/json.h"

#define CLI_SCHEMA_PSTATE	 "sevmig.pstate/1"	  /* dump show */
#define CLI_SCHEMA_PSTATE_CHANGE "sevmig.pstate-change/1" /* dump diff, a line per range */
#define CLI_SCHEMA_PSTATE_DIFF	 "sevmig.pstate-diff/1"	  /* dump diff, the last line */
#define CLI_SCHEMA_STREAM_HEADER "sevmig.stream-header/1" /* dump stream, the first line */
#define CLI_SCHEMA_STREAM_RECORD "sevmig.stream-record/1" /* dump stream, a line per record */
#define CLI_SCHEMA_STREAM_RESULT "sevmig.stream-result/1" /* dump stream, the last line */
#define CLI_SCHEMA_VERIFY	 "sevmig.verify/1"	  /* dump verify */
#define CLI_SCHEMA_HOST		 "sevmig.host/1"	  /* dump host */
#define CLI_SCHEMA_OWNERS	 "sevmig.owners/1"	  /* dump owners show */
#define CLI_SCHEMA_MIGRATION	 "sevmig.migration/1"	  /* send and recv --json */
#define CLI_SCHEMA_PROGRESS	 "sevmig.progress/1"	  /* send and recv --progress=json */

/* Object `counts`: a stream's counters, under `key`. */
void cli_json_counts(struct cli_json *j, const char *key, const struct sevmig_stream_counts *c);
/* Object `pstate_stats`: a page state's summary, under `key`. */
void cli_json_pstate_stats(struct cli_json *j, const char *key,
			   const struct sevmig_pstate_stats *st);
/* Object `error`: what went wrong and where (the record index, and the
 * byte offset when known), under `key`; null when msg is NULL. */
void cli_json_fault(struct cli_json *j, const char *key, const char *msg,
		    const struct sevmig_error *err);

#endif
