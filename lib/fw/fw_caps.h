/* SPDX-License-Identifier: MIT */
/* What the other layers may ask of a firmware handle beyond the public API. */
#ifndef SEVMIG_FW_CAPS_H
#define SEVMIG_FW_CAPS_H

#include <stdbool.h>

#include <sevmig/fw.h>

/* RECEIVE_UPDATE_DATA writes the guest's own pages (a hardware backend):
 * its output cannot go to a buffer that is copied elsewhere afterwards. */
bool sevmig__fw_in_place(const struct sevmig_fw *fw);

#endif
