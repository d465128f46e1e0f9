/* PLACEHOLDER-UNTIL-HELPER: replaced by the owner of this file. */
#include "dump/dump.h"
int dump_host(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_error("dump_host: not built yet");
}
