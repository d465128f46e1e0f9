/* PLACEHOLDER-UNTIL-HELPER: replaced by the owner of this file. */
#include "dump/dump.h"
int dump_show(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_error("dump_show: not built yet");
}
int dump_diff(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_error("dump_diff: not built yet");
}
int dump_merge(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_error("dump_merge: not built yet");
}
int dump_convert(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_error("dump_convert: not built yet");
}
