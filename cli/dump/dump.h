/* SPDX-License-Identifier: MIT */
/* sevmig-dump subcommands: each takes the arguments after its name
 * (argv[0] is the subcommand) and returns the exit status; its usage
 * function prints what 'sevmig-dump help NAME' and 'NAME --help' show. */
#ifndef SEVMIG_DUMP_H
#define SEVMIG_DUMP_H

#include "common/cli.h"

/* page-state files (pstate_cmds.c) */
int dump_show(int argc, char **argv);
int dump_diff(int argc, char **argv);
int dump_merge(int argc, char **argv);
int dump_convert(int argc, char **argv);
void dump_show_usage(FILE *f);
void dump_diff_usage(FILE *f);
void dump_merge_usage(FILE *f);
void dump_convert_usage(FILE *f);
/* pKVM page-ownership maps (owners_cmds.c) */
int dump_owners(int argc, char **argv);
void dump_owners_usage(FILE *f);
/* this host's KVM / SEV (host_cmd.c) */
int dump_host(int argc, char **argv);
void dump_host_usage(FILE *f);
/* migration streams (stream_cmds.c) */
int dump_stream(int argc, char **argv);
int dump_verify(int argc, char **argv);
void dump_stream_usage(FILE *f);
void dump_verify_usage(FILE *f);

#endif
