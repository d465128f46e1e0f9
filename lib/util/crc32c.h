/* SPDX-License-Identifier: MIT */
/* CRC32C (Castagnoli, reflected, init and final xor 0xffffffff): the
 * carry-less multiply (AVX-512 VPCLMULQDQ) or SSE4.2's crc32 instruction
 * where the processor has them, a slicing-by-8 table otherwise. All agree
 * bit for bit (tests/unit/test_util.c, test_stream_format.c). */
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
/* For tests: the CRC through one implementation, 0 the table, 1 the crc32
 * instruction in three lanes, 2 folding with the carry-less multiply
 * (AVX-512 VPCLMULQDQ). 0 and *out, or -1 when this processor lacks it. */
int sevmig__crc32c_via(int path, uint32_t crc, const void *buf, size_t len, uint32_t *out);
/* True when sevmig__crc32c() uses the processor's instruction. */
int sevmig__crc32c_hw_available(void);

#endif
