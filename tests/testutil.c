/* SPDX-License-Identifier: MIT */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t tu_seed(const char *test_name)
{
	const char *env = getenv("SEVMIG_SEED");
	uint64_t seed;
	if (env && *env) {
		seed = strtoull(env, NULL, 0);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec;
	}
	/* stderr is unbuffered, so the seed is out before any failure. */
	fprintf(stderr, "%s: seed: %llu (replay with SEVMIG_SEED=%llu)\n", test_name,
		(unsigned long long)seed, (unsigned long long)seed);
	return seed;
}

void tu_fill(struct tu_rng *r, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len >= 8) {
		uint64_t v = tu_next(r);
		memcpy(p, &v, 8);
		p += 8;
		len -= 8;
	}
	if (len) {
		uint64_t v = tu_next(r);
		memcpy(p, &v, len);
	}
}

void *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || ftell(f) < 0) {
		fclose(f);
		return NULL;
	}
	size_t n = (size_t)ftell(f);
	rewind(f);
	char *buf = malloc(n + 1);
	if (buf && fread(buf, 1, n, f) != n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

const char *tu_data_path(const char *name)
{
	static char path[4096];
	const char *dir = getenv("SEVMIG_TEST_DATA");
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", name);
	return path;
}
