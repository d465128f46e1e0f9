/* SPDX-License-Identifier: MIT */
#ifndef SEVMIG_FW_SOFT_H
#define SEVMIG_FW_SOFT_H

#include <sevmig/common.h>

#endif
