/* SPDX-License-Identifier: MIT */
#ifndef SEVMIG_FW_KVM_H
#define SEVMIG_FW_KVM_H

#include <sevmig/common.h>

#endif
