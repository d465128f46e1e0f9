/* SPDX-License-Identifier: MIT */
/*
 * The out-of-tree series' page-state ioctls (sev-facts 3.1, 3.2):
 * KVM_GET/SET_PAGE_ENC_BITMAP (2019, v6) and KVM_GET/SET_SHARED_PAGES_LIST
 * (v10). Their numbers collide with ioctls mainline assigned later, so they
 * are issued only when the caller named the series, and the first use
 * probes with a harmless GET.
 */
#if defined(__x86_64__) /* else kvm_other_arch.c */
#include "fw/kvm/kvm_priv.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Pages per bitmap ioctl: a 128 KiB window, whatever the guest's size. A
 * multiple of 64, so that only a slot's last call has a partial word. */
#define BITMAP_CHUNK (UINT64_C(1) << 20)
/* The largest shared-pages list accepted from the kernel (16 M runs). */
#define LIST_MAX_BYTES (UINT32_C(1) << 28)
#define ENTRY	       SEVMIG_REGION_ENTRY_SIZE

static bool is_list(const struct sevmig__kvm *k)
{
	return k->series == SEVMIG_KVM_SERIES_SHARED_LIST_V10;
}

static const char *get_name(const struct sevmig__kvm *k)
{
	return is_list(k) ? "KVM_GET_SHARED_PAGES_LIST" : "KVM_GET_PAGE_ENC_BITMAP";
}

static const char *set_name(const struct sevmig__kvm *k)
{
	return is_list(k) ? "KVM_SET_SHARED_PAGES_LIST" : "KVM_SET_PAGE_ENC_BITMAP";
}

/* The kernel reads and writes whole unsigned longs of a bitmap. */
static size_t bitmap_buf_bytes(uint64_t npages)
{
	return (size_t)((npages + 63) / 64 * 8);
}

static int bitmap_call(struct sevmig__kvm *k, unsigned long req, uint64_t gfn, uint64_t npages,
		       void *buf)
{
	struct sevmig__kvm_page_enc_bitmap b;
	memset(&b, 0, sizeof(b));
	b.start_gfn = gfn;
	b.num_pages = npages;
	b.enc_bitmap = buf;
	return sevmig__kvm_ioctl(k, k->vm_fd, req, &b);
}

static int list_call(struct sevmig__kvm *k, unsigned long req, int *nents, void *buf, uint32_t size)
{
	struct sevmig__kvm_shared_pages_list l;
	memset(&l, 0, sizeof(l));
	l.pnents = nents;
	l.buffer = buf;
	l.size = size;
	return sevmig__kvm_ioctl(k, k->vm_fd, req, &l);
}

int sevmig_fw_kvm_probe_pstate_ioctls(struct sevmig_fw *fw)
{
	const uint32_t none = SEVMIG_FW_STATUS_NONE;
	struct sevmig__kvm *k = NULL;
	SEVMIG__TRY(sevmig__kvm_need_vm(fw, "page-state ioctls", &k));
	if (k->series == SEVMIG_KVM_SERIES_NONE)
		return sevmig__fw_fail(fw, -EOPNOTSUPP, none,
				       "the page-state ioctls exist only in kernels carrying the "
				       "out-of-tree SEV live-migration series; name it in "
				       "sevmig_fw_kvm_opts.series to use them");
	if (k->series_present)
		return 0;
	/* A 64-page GET at gfn 0 changes nothing and is small enough for
	 * every posting's buffer rules; a kernel without the number says
	 * ENOTTY, as the series itself does for a VM that is not SEV. */
	uint8_t buf[4 * ENTRY];
	int n = 0;
	memset(buf, 0, sizeof(buf));
	int rc = is_list(k) ? list_call(k, k->series_get, &n, buf, sizeof(buf))
			    : bitmap_call(k, k->series_get, 0, 64, buf);
	if (rc == -ENOTTY)
		return sevmig__fw_fail(fw, -EOPNOTSUPP, none,
				       "%s (0x%lx) is not available on this kernel, or this VM is "
				       "not an SEV guest yet",
				       get_name(k), k->series_get);
	k->series_present = 1;
	return 0;
}

/* ---- bitmap series ------------------------------------------------------------ */

struct chunk {
	struct sevmig_fw *fw;
	struct sevmig__kvm *k;
	const struct sevmig_pstate *src; /* whose slots are walked (and SET reads) */
	struct sevmig_pstate *dst;	 /* what GET fills */
	uint8_t *buf;
};

/*
 * Call fn for every window of every slot of c->src. With `aligned` the
 * windows of a slot start at the 64-aligned gfn at or below it: the
 * series' SET copies whole words into its bitmap from word start_gfn / 64
 * (bitmap_copy(page_enc_bmap + BIT_WORD(start_gfn), ...)), so bit 0 of
 * the buffer lands on that aligned gfn, whatever start_gfn says.
 */
static int each_chunk(struct chunk *c, bool aligned,
		      int (*fn)(struct chunk *c, uint64_t gfn, uint64_t n))
{
	c->buf = malloc(bitmap_buf_bytes(BITMAP_CHUNK));
	if (!c->buf)
		return sevmig__fw_fail(c->fw, -ENOMEM, SEVMIG_FW_STATUS_NONE, "out of memory");
	int rc = 0;
	size_t nslots = sevmig_pstate_slot_count(c->src);
	for (size_t i = 0; i < nslots && !rc; i++) {
		struct sevmig_range slot;
		rc = sevmig_pstate_slot(c->src, i, &slot);
		uint64_t w = aligned ? slot.gfn & ~UINT64_C(63) : slot.gfn;
		uint64_t end = slot.gfn + slot.npages;
		for (; !rc && w < end; w += BITMAP_CHUNK)
			rc = fn(c, w, end - w < BITMAP_CHUNK ? end - w : BITMAP_CHUNK);
	}
	free(c->buf);
	return rc;
}

static int bitmap_fail(struct chunk *c, const char *name, uint64_t gfn, uint64_t n, int rc)
{
	char what[96];
	sevmig__msg(what, sizeof(what), "%s (gfn 0x%llx + %llu pages)", name,
		    (unsigned long long)gfn, (unsigned long long)n);
	return sevmig__kvm_fail(c->fw, what, true, rc, SEVMIG_FW_STATUS_NONE);
}

static int get_chunk(struct chunk *c, uint64_t gfn, uint64_t n)
{
	/* The kernel keeps the bits past n of the last byte as it finds
	 * them; they are not read back. */
	memset(c->buf, 0, bitmap_buf_bytes(n));
	int rc = bitmap_call(c->k, c->k->series_get, gfn, n, c->buf);
	if (rc < 0)
		return bitmap_fail(c, get_name(c->k), gfn, n, rc);
	rc = sevmig_pstate_set_from_bitmap(c->dst, gfn, n, c->buf, sevmig_bitmap_bytes(n));
	if (rc < 0)
		return sevmig__fw_fail(c->fw, rc, SEVMIG_FW_STATUS_NONE,
				       "%s: cannot apply the bitmap of gfn 0x%llx + %llu: %s",
				       get_name(c->k), (unsigned long long)gfn,
				       (unsigned long long)n, sevmig_strerror(rc));
	return 0;
}

static int set_chunk(struct chunk *c, uint64_t gfn, uint64_t n)
{
	/* gfn is 64-aligned and the kernel copies whole words: every bit it
	 * takes, those before the slot and past its end included, says what
	 * the map says there (private outside the coverage, the kernel's own
	 * default), so that neighbouring slots' windows agree. */
	uint64_t words = bitmap_buf_bytes(n) / 8;
	int rc = sevmig_pstate_to_bitmap(c->src, gfn, words * 64, c->buf, bitmap_buf_bytes(n));
	if (rc < 0)
		return sevmig__fw_fail(c->fw, rc, SEVMIG_FW_STATUS_NONE, "%s: %s", set_name(c->k),
				       sevmig_strerror(rc));
	rc = bitmap_call(c->k, c->k->series_set, gfn, n, c->buf);
	return rc < 0 ? bitmap_fail(c, set_name(c->k), gfn, n, rc) : 0;
}

/* ---- shared-pages list series ------------------------------------------------ */

static int cmp_range(const void *a, const void *b)
{
	const struct sevmig_range *x = a, *y = b;
	return x->gfn < y->gfn ? -1 : x->gfn > y->gfn;
}

/*
 * The kernel's list in the order the guest made its calls: sort it, merge
 * what overlaps or touches, and keep only what the map covers (the rest
 * names no memory of the map). The pieces go to a new array *out (they may
 * outnumber the entries: a run splits at coverage gaps); returns their
 * number, or SIZE_MAX when memory ran out.
 */
static size_t normalise(const struct sevmig_pstate *ps, struct sevmig_range *r, size_t n,
			struct sevmig_range **res_out)
{
	qsort(r, n, sizeof(*r), cmp_range);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && r[i].gfn <= r[m - 1].gfn + r[m - 1].npages) {
			uint64_t end = r[i].gfn + r[i].npages;
			if (end > r[m - 1].gfn + r[m - 1].npages)
				r[m - 1].npages = end - r[m - 1].gfn;
		} else {
			r[m++] = r[i];
		}
	}
	/* Disjoint sorted runs against disjoint sorted slots: each piece
	 * but the first starts a new run or a new slot. */
	size_t nslots = sevmig_pstate_slot_count(ps), out = 0;
	struct sevmig_range *res = malloc((m + nslots + 1) * sizeof(*res));
	if (!res)
		return SIZE_MAX;
	size_t s = 0;
	for (size_t i = 0; i < m; i++) {
		uint64_t a = r[i].gfn, b = r[i].gfn + r[i].npages;
		struct sevmig_range slot;
		while (s < nslots && !sevmig_pstate_slot(ps, s, &slot) &&
		       slot.gfn + slot.npages <= a)
			s++;
		for (size_t j = s; j < nslots && !sevmig_pstate_slot(ps, j, &slot) && slot.gfn < b;
		     j++) {
			uint64_t lo = a > slot.gfn ? a : slot.gfn;
			uint64_t hi = b < slot.gfn + slot.npages ? b : slot.gfn + slot.npages;
			if (lo < hi)
				res[out++] = (struct sevmig_range){ lo, hi - lo };
		}
	}
	*res_out = res;
	return out;
}

static int get_list(struct sevmig_fw *fw, struct sevmig__kvm *k, struct sevmig_pstate *ps)
{
	const uint32_t none = SEVMIG_FW_STATUS_NONE;
	const char *what = get_name(k);
	uint32_t size = 256 * ENTRY;
	uint8_t *buf = NULL;
	int n, rc;
	for (;;) {
		uint8_t *nb = realloc(buf, size);
		if (!nb) {
			free(buf);
			return sevmig__fw_fail(fw, -ENOMEM, none, "%s: out of memory", what);
		}
		buf = nb;
		n = 0;
		rc = list_call(k, k->series_get, &n, buf, size);
		if (rc != -E2BIG)
			break;
		if (size >= LIST_MAX_BYTES) {
			free(buf);
			return sevmig__fw_fail(fw, -EOVERFLOW, none,
					       "%s: the kernel's list is larger than %u bytes",
					       what, LIST_MAX_BYTES);
		}
		size *= 2;
	}
	if (rc < 0) {
		free(buf);
		return sevmig__kvm_fail(fw, what, true, rc, none);
	}
	if (n < 0 || (uint64_t)n * ENTRY > size) {
		free(buf);
		return sevmig__fw_fail(fw, -EPROTO, none,
				       "%s: the kernel reports %d entries in a %u-byte buffer",
				       what, n, size);
	}
	/* Entries are { unsigned long gfn_start, gfn_end } in host order,
	 * end exclusive; read them into ranges in place (same size). */
	struct sevmig_range *r = (struct sevmig_range *)(void *)buf;
	static_assert(sizeof(*r) == ENTRY, "a range is one entry");
	for (int i = 0; i < n; i++) {
		uint64_t start, end;
		memcpy(&start, buf + (size_t)i * ENTRY, 8);
		memcpy(&end, buf + (size_t)i * ENTRY + 8, 8);
		if (end <= start || end > SEVMIG_GFN_LIMIT) {
			free(buf);
			return sevmig__fw_fail(
			    fw, -EPROTO, none,
			    "%s: entry %d [0x%llx, 0x%llx) is empty, reversed or "
			    "past the 52-bit limit",
			    what, i, (unsigned long long)start, (unsigned long long)end);
		}
		r[i] = (struct sevmig_range){ start, end - start };
	}
	struct sevmig_range *runs = NULL;
	size_t m = normalise(ps, r, (size_t)n, &runs);
	struct sevmig_error err;
	sevmig_error_clear(&err);
	rc = m == SIZE_MAX ? -ENOMEM : sevmig_pstate_set_from_list(ps, runs, m, &err);
	free(runs);
	free(buf);
	if (rc < 0)
		return sevmig__fw_fail(fw, rc, none, "%s: cannot apply the list: %s", what,
				       err.message[0] ? err.message : sevmig_strerror(rc));
	return 0;
}

static int set_list(struct sevmig_fw *fw, struct sevmig__kvm *k, const struct sevmig_pstate *ps)
{
	const uint32_t none = SEVMIG_FW_STATUS_NONE;
	const char *what = set_name(k);
	size_t nents = 0;
	int rc = sevmig_pstate_to_region_array(ps, NULL, 0, &nents);
	if (rc < 0 && rc != -E2BIG)
		return sevmig__fw_fail(fw, rc, none, "%s: %s", what, sevmig_strerror(rc));
	if (nents > INT_MAX || nents > UINT32_MAX / ENTRY)
		return sevmig__fw_fail(fw, -EOVERFLOW, none,
				       "%s: %zu shared runs do not fit the ioctl's counters", what,
				       nents);
	/* An empty list still hands the kernel one (zero) entry's room: the
	 * series refuses a zero size. */
	size_t size = nents ? nents * ENTRY : ENTRY;
	uint8_t *buf = calloc(1, size);
	if (!buf)
		return sevmig__fw_fail(fw, -ENOMEM, none, "%s: out of memory", what);
	rc = sevmig_pstate_to_region_array(ps, buf, size, &nents);
	if (rc < 0) {
		free(buf);
		return sevmig__fw_fail(fw, rc, none, "%s: %s", what, sevmig_strerror(rc));
	}
	int n = (int)nents;
	rc = list_call(k, k->series_set, &n, buf, (uint32_t)size);
	free(buf);
	return rc < 0 ? sevmig__kvm_fail(fw, what, true, rc, none) : 0;
}

/* ---- the API ----------------------------------------------------------------------- */

int sevmig_fw_kvm_get_pstate(struct sevmig_fw *fw, struct sevmig_pstate *ps)
{
	if (!ps)
		return -EINVAL;
	SEVMIG__TRY(sevmig_fw_kvm_probe_pstate_ioctls(fw));
	struct sevmig__kvm *k = sevmig__kvm_of(fw);
	/* Work on a copy so that a failure half-way leaves ps as it was. */
	struct sevmig_pstate *work;
	int rc = sevmig_pstate_clone(ps, &work, NULL);
	if (rc < 0)
		return sevmig__fw_fail(fw, rc, SEVMIG_FW_STATUS_NONE, "out of memory");
	struct chunk c = { .fw = fw, .k = k, .src = ps, .dst = work };
	rc = is_list(k) ? get_list(fw, k, work) : each_chunk(&c, false, get_chunk);
	if (!rc) {
		rc = sevmig_pstate_apply(ps, work);
		if (rc < 0)
			sevmig__fw_fail(fw, rc, SEVMIG_FW_STATUS_NONE, "%s: %s", get_name(k),
					sevmig_strerror(rc));
	}
	sevmig_pstate_free(work);
	return rc;
}

int sevmig_fw_kvm_set_pstate(struct sevmig_fw *fw, const struct sevmig_pstate *ps)
{
	if (!ps)
		return -EINVAL;
	SEVMIG__TRY(sevmig_fw_kvm_probe_pstate_ioctls(fw));
	struct sevmig__kvm *k = sevmig__kvm_of(fw);
	if (is_list(k))
		return set_list(fw, k, ps);
	struct chunk c = { .fw = fw, .k = k, .src = ps };
	return each_chunk(&c, true, set_chunk);
}

#endif
