/* SPDX-License-Identifier: MIT */
/* What the fuzz targets share: an invariant check that aborts (libFuzzer
 * reports it as a crash with the input), the entry point's prototype, and
 * the driver of the targets whose format ends in a CRC32C. */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/crc32c.h"
#include "util/endian.h"

#define CHECK(c)                                                                           \
	do {                                                                               \
		if (!(c)) {                                                                \
			fprintf(stderr, "invariant broken: %s (line %d)\n", #c, __LINE__); \
			abort();                                                           \
		}                                                                          \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * For a form whose last 4 bytes are the little-endian CRC32C of the rest:
 * one() sees the input as it is and, from 21 bytes (no form is shorter)
 * to 1 MiB, again with its checksum made right, so that mutations reach
 * the structure behind the CRC.
 */
static inline void fuzz_with_crc_fixed(const uint8_t *data, size_t size,
				       void (*one)(const uint8_t *data, size_t size))
{
	one(data, size);
	if (size < 21 || size > (1u << 20))
		return;
	uint8_t *fixed = malloc(size);
	if (!fixed)
		return;
	memcpy(fixed, data, size);
	sevmig__put_le32(fixed + size - 4, sevmig__crc32c(0, fixed, size - 4));
	one(fixed, size);
	free(fixed);
}

#endif
