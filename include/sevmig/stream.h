/* SPDX-License-Identifier: MIT */
#ifndef SEVMIG_STREAM_H
#define SEVMIG_STREAM_H

#include <sevmig/common.h>

#endif
