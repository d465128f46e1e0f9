/* SPDX-License-Identifier: MIT */
/* sevmig-dump: inspect and operate on page-state files and migration
 * streams, and report what this host offers. */
#include <stdio.h>
#include <string.h>

#include "dump/dump.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "show", dump_show, "summarise a page-state file (--ranges, --json)" },
	{ "diff", dump_diff, "list the ranges where two page-state files differ" },
	{ "merge", dump_merge, "merge two page-state files (--union, --intersect, --overlay)" },
	{ "convert", dump_convert, "convert between page-state forms" },
	{ "owners", dump_owners,
	  "pKVM page-ownership maps: replay transitions, show, project a guest" },
	{ "host", dump_host, "what this host offers for SEV migration (--json)" },
	{ "stream", dump_stream, "list a migration stream's header and records (--json)" },
	{ "verify", dump_verify, "check a migration stream's framing, checksums and digest" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: sevmig-dump COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'sevmig-dump COMMAND --help' describes each command.\n"
		   "Exit status: 0 success, 1 differences or damage found (diff, stream, verify), "
		   "2 error.\n");
}

int main(int argc, char **argv)
{
	cli_set_prog("sevmig-dump");
	if (argc < 2) {
		usage(stderr);
		return CLI_ERR;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("sevmig-dump %s\n", sevmig_version_string());
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	cli_error("unknown command '%s' (see sevmig-dump --help)", argv[1]);
	return CLI_ERR;
}
