/* SPDX-License-Identifier: MIT */
/* CRC32C (Castagnoli, reflected, init and final xor 0xffffffff): SSE4.2's
 * crc32 instruction where the processor has it, a slicing-by-8 table
 * otherwise. The two agree bit for bit (tests/unit/test_util.c). */
#ifndef SEVMIG_UTIL_CRC32C_H
#define SEVMIG_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 for a fresh start) over len bytes. */
uint32_t sevmig__crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable path, for tests and processors without the instruction. */
uint32_t sevmig__crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* The CRC of A || B from crc1 = CRC(A), crc2 = CRC(B) and len2 = |B|: lets
 * threads checksum parts of a buffer apart. */
uint32_t sevmig__crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);
/* True when sevmig__crc32c() uses the processor's instruction. */
int sevmig__crc32c_hw_available(void);

#endif
