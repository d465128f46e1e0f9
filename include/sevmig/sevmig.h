/* SPDX-License-Identifier: MIT */
/* libsevmig: AMD SEV / SEV-ES live migration. One include for everything. */
#ifndef SEVMIG_SEVMIG_H
#define SEVMIG_SEVMIG_H

#include <sevmig/version.h>
#include <sevmig/common.h>
#include <sevmig/pstate.h>
#include <sevmig/owners.h>
#include <sevmig/fw.h>
#include <sevmig/fw_kvm.h>
#include <sevmig/fw_soft.h>
#include <sevmig/stream.h>
#include <sevmig/transport.h>

#endif
