/* SPDX-License-Identifier: MIT */
/* What the fuzz targets share: an invariant check that aborts (libFuzzer
 * reports it as a crash with the input) and the entry point's prototype. */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                           \
	do {                                                                               \
		if (!(c)) {                                                                \
			fprintf(stderr, "invariant broken: %s (line %d)\n", #c, __LINE__); \
			abort();                                                           \
		}                                                                          \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
