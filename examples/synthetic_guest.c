/* SPDX-License-Identifier: MIT */
/*
 * A synthetic SEV guest on disk, for the demo (examples/demo.sh) and the
 * command-line tests: one memory-backend file holding two memslots around an
 * MMIO hole, and the page state a running guest would have reported through
 * its page-encryption hypercalls:
 *
 *   memslot 0: gpa 0 .. 3/4 of the memory (low RAM), file offset 0
 *   MMIO hole: up to 4 GiB (PCI BARs, LAPIC, firmware flash)
 *   memslot 1: gpa 4 GiB .. + 1/4 of the memory (high RAM), file offset after
 *              memslot 0
 *
 * Shared (plaintext) regions, as an SEV Linux guest makes them: the SWIOTLB
 * DMA bounce buffer, virtio rings of a few queues, one GHCB page per vCPU, the
 * kvmclock page, and a virtio-gpu framebuffer in high memory. Every other page
 * is private. Page contents are a seeded mix of zero pages, compressible
 * (text-like) pages and random pages, so that the stream shows all its paths.
 *
 * usage: example_synthetic_guest [--size MIB] [--vcpus N] [--seed N] DIR
 * Writes DIR/guest.mem and DIR/guest.pst (binary page state) and prints the
 * two memslots as sevmig-send --memory values, one per line.
 *
 * Public API only: <sevmig/sevmig.h>.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sevmig/sevmig.h>

#define MIB  (UINT64_C(1) << 20)
#define PAGE SEVMIG_PAGE_SIZE

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: fast, seeded, good enough for page contents. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

enum content { ZERO, TEXT, RANDOM, STRUCTURED };

static void fill_page(uint8_t *p, enum content c)
{
	static const char *const words[] = {
		"the ",	  "guest ", "page ",   "shared ", "private ", "kernel ", "buffer ",
		"virtio", " ring ", "DMA ",    "0x1f00 ", "sev ",     "\n",	 "struct ",
		"{ int ", "len; }", "return ", "memory ", "device ",  "queue ",
	};
	switch (c) {
	case ZERO:
		break; /* the file is sparse: untouched pages read as zero */
	case TEXT:
		for (size_t off = 0; off < PAGE;) {
			const char *w = words[rng() % (sizeof(words) / sizeof(words[0]))];
			size_t n = strlen(w);
			if (n > PAGE - off)
				n = PAGE - off;
			memcpy(p + off, w, n);
			off += n;
		}
		break;
	case RANDOM:
		for (size_t off = 0; off < PAGE; off += 8) {
			uint64_t v = rng();
			memcpy(p + off, &v, 8);
		}
		break;
	case STRUCTURED:
		/* Descriptor-like records: mostly small integers. */
		for (size_t off = 0; off < PAGE; off += 16) {
			uint64_t addr = 0x100000000ull + (rng() % 4096) * PAGE;
			uint32_t len = (uint32_t)(rng() % 1500), flags = (uint32_t)(rng() % 4);
			memcpy(p + off, &addr, 8);
			memcpy(p + off + 8, &len, 4);
			memcpy(p + off + 12, &flags, 4);
		}
		break;
	}
}

/* Fill [gpa, gpa + size) in 64 KiB chunks of one kind, drawn with the given
 * percentages of zero, text and random (structured gets the rest). */
static void fill(uint8_t *mem, uint64_t off, uint64_t size, unsigned zero, unsigned text,
		 unsigned random)
{
	const uint64_t chunk = 64 * 1024;
	for (uint64_t c = 0; c < size; c += chunk) {
		unsigned r = (unsigned)(rng() % 100);
		enum content k = r < zero		    ? ZERO
				 : r < zero + text	    ? TEXT
				 : r < zero + text + random ? RANDOM
							    : STRUCTURED;
		uint64_t end = c + chunk < size ? c + chunk : size;
		for (uint64_t p = c; p < end; p += PAGE)
			fill_page(mem + off + p, k);
	}
}

struct region {
	const char *what;
	uint64_t gpa, size;
	unsigned zero, text, random; /* content mix, percent */
};

static int die(const char *what, int err)
{
	fprintf(stderr, "example_synthetic_guest: %s: %s\n", what,
		err < 0 ? sevmig_strerror(err) : strerror(err));
	return 2;
}

int main(int argc, char **argv)
{
	uint64_t size_mib = 256, vcpus = 4, seed = 1;
	const char *dir = NULL;
	bool bad = false;
	for (int i = 1; i < argc && !bad; i++) {
		if (i + 1 < argc && !strcmp(argv[i], "--size"))
			size_mib = strtoull(argv[++i], NULL, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "--vcpus"))
			vcpus = strtoull(argv[++i], NULL, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "--seed"))
			seed = strtoull(argv[++i], NULL, 0);
		else if (argv[i][0] != '-' && !dir)
			dir = argv[i];
		else
			bad = true;
	}
	if (bad || !dir || size_mib < 128 || size_mib % 4 || size_mib > 3072 || !vcpus ||
	    vcpus > 64) {
		fprintf(stderr,
			"usage: example_synthetic_guest [--size MIB (128..3072, a multiple "
			"of 4; default 256)] [--vcpus N (1..64, default 4)] [--seed N] DIR\n");
		return 2;
	}
	rng_state = seed * 0x9E3779B97F4A7C15ull + 1;

	const uint64_t total = size_mib * MIB, low = total / 4 * 3, high = total - low;
	const uint64_t high_gpa = UINT64_C(4) << 30;

	/* The guest memory file: sparse, filled through a mapping. */
	char path[4096];
	snprintf(path, sizeof(path), "%s/guest.mem", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return die(path, errno);
	if (ftruncate(fd, (off_t)total))
		return die(path, errno);
	uint8_t *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return die(path, errno);

	/* Private memory: kernel text and data, page cache, free pages. */
	fill(mem, 0, low, 45, 35, 20);
	fill(mem, low, high, 60, 25, 15);

	/* Shared regions, in gpa order, each filled with its own kind of data. */
	struct region shared[8 + 64];
	size_t n = 0;
	shared[n++] =
	    (struct region){ "SWIOTLB bounce buffer", low - 48 * MIB, 16 * MIB, 40, 45, 15 };
	shared[n++] = (struct region){ "kvmclock", low - 30 * MIB, PAGE, 0, 0, 0 };
	for (uint64_t v = 0; v < vcpus; v++)
		shared[n++] =
		    (struct region){ "GHCB", low - 29 * MIB + v * 2 * PAGE, PAGE, 80, 0, 0 };
	static const char *const rings[] = { "virtio-net rx ring", "virtio-net tx ring",
					     "virtio-blk ring", "virtio-console ring" };
	for (size_t q = 0; q < 4; q++)
		shared[n++] = (struct region){
			rings[q], 24 * MIB + q * 3 * MIB + (rng() % 256) * PAGE, 3 * PAGE, 0, 0, 0
		};
	shared[n++] =
	    (struct region){ "virtio-gpu framebuffer", high_gpa + high / 2, 4 * MIB, 20, 70, 10 };

	struct sevmig_pstate *ps;
	int rc = sevmig_pstate_new(&ps, NULL);
	if (!rc)
		rc = sevmig_pstate_add_slot(ps, 0, low / PAGE);
	if (!rc)
		rc = sevmig_pstate_add_slot(ps, high_gpa / PAGE, high / PAGE);
	for (size_t i = 0; i < n && !rc; i++) {
		const struct region *r = &shared[i];
		uint64_t off = r->gpa < high_gpa ? r->gpa : low + (r->gpa - high_gpa);
		/* Shared pages are what the host reads: fill them anew. */
		memset(mem + off, 0, r->size);
		if (r->zero + r->text + r->random)
			fill(mem, off, r->size, r->zero, r->text, r->random);
		else
			for (uint64_t p = 0; p < r->size; p += PAGE)
				fill_page(mem + off + p, STRUCTURED);
		/* As the guest tells KVM: KVM_HC_MAP_GPA_RANGE, not encrypted. */
		rc = sevmig_pstate_apply_hypercall(ps, r->gpa, r->size / PAGE, false);
		fprintf(stderr, "  shared %-24s gpa 0x%09" PRIx64 " %6" PRIu64 " KiB\n", r->what,
			r->gpa, r->size / 1024);
	}
	if (rc)
		return die("building the page state", rc);
	if (munmap(mem, total) || fsync(fd) || close(fd))
		return die(path, errno);

	void *buf;
	size_t len;
	SEVMIG_OPTS(sevmig_pstate_save_opts, so, .zstd_level = 3);
	rc = sevmig_pstate_serialize(ps, &so, &buf, &len);
	if (rc)
		return die("serializing the page state", rc);
	snprintf(path, sizeof(path), "%s/guest.pst", dir);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f))
		return die(path, errno);
	free(buf);
	sevmig_pstate_free(ps);

	/* The memslots, as sevmig-send --memory values. */
	printf("0x0:0x%" PRIx64 ":%s/guest.mem:0x0\n", low, dir);
	printf("0x%" PRIx64 ":0x%" PRIx64 ":%s/guest.mem:0x%" PRIx64 "\n", high_gpa, high, dir,
	       low);
	return 0;
}
