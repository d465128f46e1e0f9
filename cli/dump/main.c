/* SPDX-License-Identifier: MIT */
/* sevmig-dump: inspect and operate on page-state files and migration
 * streams, and report what this host offers. */
#include <stdio.h>
#include <string.h>

#include "common/signals.h"
#include "dump/dump.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	void (*usage)(FILE *f);
	const char *summary;
} commands[] = {
	{ "show", dump_show, dump_show_usage, "summarise a page-state file (--ranges, --json)" },
	{ "diff", dump_diff, dump_diff_usage,
	  "list the ranges where two page-state files differ (--json)" },
	{ "merge", dump_merge, dump_merge_usage,
	  "merge two page-state files (--union, --intersect, --overlay)" },
	{ "convert", dump_convert, dump_convert_usage, "convert between page-state forms" },
	{ "owners", dump_owners, dump_owners_usage,
	  "pKVM page-ownership maps: replay transitions, show, project a guest" },
	{ "host", dump_host, dump_host_usage, "what this host offers for SEV migration (--json)" },
	{ "stream", dump_stream, dump_stream_usage,
	  "list a migration stream's header and records (--json)" },
	{ "verify", dump_verify, dump_verify_usage,
	  "check a migration stream's framing, checksums, tags and completeness (--json)" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: sevmig-dump COMMAND [ARGS]\n"
		   "       sevmig-dump help [COMMAND]\n"
		   "\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "  %-8s %s\n", "help", "this list, or one command's usage");
	fprintf(f,
		"\n'sevmig-dump help COMMAND' and 'sevmig-dump COMMAND --help' describe each\n"
		"command. JSON output is described key by key in docs/json.md.\n"
		"Exit status: 0 success, 1 the answer is no (diff: differences; stream, verify:\n"
		"damage), 2 error, 130 or 143 interrupted by SIGINT or SIGTERM.\n");
}

static int find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(name, commands[i].name))
			return (int)i;
	return -1;
}

/* sevmig-dump help [COMMAND]: the usage on standard output. */
static int help(int argc, char **argv)
{
	if (argc == 1 || (argc == 2 && !strcmp(argv[1], "help"))) {
		usage(stdout);
		return CLI_OK;
	}
	if (argc > 2)
		return cli_error("help: give one command (see sevmig-dump help)");
	int i = find(argv[1]);
	if (i < 0)
		return cli_error("help: unknown command '%s' (see sevmig-dump help)", argv[1]);
	commands[i].usage(stdout);
	return fflush(stdout) ? cli_error("standard output: write failed") : CLI_OK;
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
	if (!strcmp(argv[1], "help"))
		return help(argc - 1, argv + 1);
	int i = find(argv[1]);
	if (i < 0)
		return cli_error("unknown command '%s' (see sevmig-dump help)", argv[1]);
	/* A command that caught a stop signal cleaned up and exits 128 + it. */
	return cli_exit_status(commands[i].run(argc - 1, argv + 1));
}
