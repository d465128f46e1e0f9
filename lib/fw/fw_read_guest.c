/* SPDX-License-Identifier: MIT */
/*
 * Reading guest memory for debuggers, whatever the backend: private pages
 * through DBG_DECRYPT, shared pages straight from the host mapping, as the
 * page-state map says. The page-encryption-bitmap series taught the kernel
 * the same shortcut (DBG_DECRYPT of a shared page returns garbage: the
 * firmware decrypts it with the guest key it was never encrypted with).
 */
#include "fw/fw_backend.h"

#include <errno.h>
#include <string.h>

/* Bytes per DBG_DECRYPT call: bounds the time one call holds the kernel's
 * VM lock. */
#define READ_CHUNK (1u << 20)

static const struct sevmig_mem_region *find_region(const struct sevmig_mem_region *r, size_t n,
						   uint64_t gpa)
{
	for (size_t i = 0; i < n; i++)
		if (gpa >= r[i].gpa && gpa - r[i].gpa < r[i].size)
			return &r[i];
	return NULL;
}

int sevmig_fw_read_guest(struct sevmig_fw *fw, const struct sevmig_pstate *ps,
			 const struct sevmig_mem_region *regions, size_t nregions, uint64_t gpa,
			 void *buf, size_t len, uint32_t *fw_status)
{
	const uint32_t none = SEVMIG_FW_STATUS_NONE;
	uint32_t st_local;
	if (!fw_status)
		fw_status = &st_local;
	*fw_status = none;
	if (!fw)
		return -EINVAL;
	if (!ps || (!regions && nregions) || (!buf && len))
		return sevmig__fw_fail(fw, -EINVAL, none,
				       "read guest: the page-state map, the regions and the buffer "
				       "are required");
	if (gpa + len < gpa)
		return sevmig__fw_fail(fw, -ERANGE, none,
				       "read guest: gpa 0x%llx + %zu wraps the address space",
				       (unsigned long long)gpa, len);
	for (size_t i = 0; i < nregions; i++)
		if (!regions[i].host || regions[i].gpa + regions[i].size < regions[i].gpa)
			return sevmig__fw_fail(
			    fw, -EINVAL, none,
			    "read guest: region %zu has no host address or wraps", i);

	/* Check the whole range first, so that a refused read has not asked
	 * the firmware anything. */
	for (uint64_t at = gpa; at < gpa + len;) {
		const struct sevmig_mem_region *r = find_region(regions, nregions, at);
		if (!r)
			return sevmig__fw_fail(fw, -ERANGE, none,
					       "read guest: gpa 0x%llx is in no memory region",
					       (unsigned long long)at);
		if (sevmig_pstate_get(ps, at >> SEVMIG_PAGE_SHIFT) == SEVMIG_PAGE_ABSENT)
			return sevmig__fw_fail(fw, -ERANGE, none,
					       "read guest: gfn 0x%llx is not covered by the "
					       "page-state map",
					       (unsigned long long)(at >> SEVMIG_PAGE_SHIFT));
		at = ((at >> SEVMIG_PAGE_SHIFT) + 1) << SEVMIG_PAGE_SHIFT;
	}

	uint8_t *out = buf;
	uint64_t at = gpa, end = gpa + len;
	while (at < end) {
		const struct sevmig_mem_region *r = find_region(regions, nregions, at);
		enum sevmig_page_state st = sevmig_pstate_get(ps, at >> SEVMIG_PAGE_SHIFT);
		/* Extend over following pages of the same state in this region. */
		uint64_t limit = end < r->gpa + r->size ? end : r->gpa + r->size;
		if (limit - at > READ_CHUNK)
			limit = at + READ_CHUNK;
		uint64_t stop = ((at >> SEVMIG_PAGE_SHIFT) + 1) << SEVMIG_PAGE_SHIFT;
		while (stop < limit && sevmig_pstate_get(ps, stop >> SEVMIG_PAGE_SHIFT) == st)
			stop += SEVMIG_PAGE_SIZE;
		if (stop > limit)
			stop = limit;

		size_t n = (size_t)(stop - at);
		const uint8_t *host = (const uint8_t *)r->host + (at - r->gpa);
		if (st == SEVMIG_PAGE_SHARED) {
			memcpy(out, host, n);
		} else {
			int rc = sevmig_fw_dbg_decrypt(fw, host, out, (uint32_t)n, fw_status);
			if (rc < 0)
				return rc;
		}
		out += n;
		at = stop;
	}
	return 0;
}
