/* SPDX-License-Identifier: MIT */
/* What sevmig_pstate_load() needs to tell the two file forms apart
 * (docs/pstate-format.md). */
#ifndef SEVMIG_PSTATE_FORMS_H
#define SEVMIG_PSTATE_FORMS_H

#include <stdbool.h>
#include <stddef.h>

/* True when buf starts like the binary form: the magic, or (for an input
 * shorter than the magic) at least 4 bytes of it. */
bool sevmig__pstate_is_binary(const void *buf, size_t len);

/* True when buf reads as text form: no range line, or a first range line
 * that begins with "0x" ("0X" too, so that the parser can explain it). */
bool sevmig__pstate_is_text(const void *buf, size_t len);

#endif
