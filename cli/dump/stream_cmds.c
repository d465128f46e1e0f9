/* PLACEHOLDER-UNTIL-HELPER: replaced by the owner of this file. */
#include "dump/dump.h"
int dump_stream(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_error("dump_stream: not built yet");
}
int dump_verify(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_error("dump_verify: not built yet");
}
