/* SPDX-License-Identifier: MIT */
/* sevmig-recv's options, as main.c parses them and the outputs use them. */
#ifndef SEVMIG_CLI_RECV_OPTIONS_H
#define SEVMIG_CLI_RECV_OPTIONS_H

#include <stdbool.h>

#include "common/xfer.h"

struct opts {
	struct cli_xfer_opts x;
	const char *input, *pdh_key, *pdh_cert, *memory_dir, *vmsa_dir, *pstate_out, *port_file;
	const char *gen_psk;
	bool text_pstate, gen_pdh, export_pdh, force;
	unsigned max_attempts; /* connections a listener takes, the good one included */
	int auth_timeout_ms;   /* for each to authenticate; 0: no limit */
};

#endif
