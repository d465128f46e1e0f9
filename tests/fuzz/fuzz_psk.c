/* SPDX-License-Identifier: MIT */
/*
 * Pre-shared key files: sevmig_psk_parse() on any bytes, and
 * sevmig_psk_load() on the same bytes in a 0600 file, which must agree. A
 * key is exactly 32 bytes, returned as they are; anything else is refused
 * with -EBADMSG and a message. A file others may read is refused
 * (-EACCES) whatever it holds.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sevmig/sevmig.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t key[SEVMIG_KEY_SIZE], key2[SEVMIG_KEY_SIZE];
	struct sevmig_error err;
	sevmig_error_clear(&err);
	memset(key, 0xa5, sizeof(key));
	int rc = sevmig_psk_parse(size ? data : (const uint8_t *)"", size, key, &err);
	if (size == SEVMIG_KEY_SIZE) {
		CHECK(rc == 0 && memcmp(key, data, size) == 0);
	} else {
		CHECK(rc == -EBADMSG && err.code == rc && err.message[0]);
		for (size_t i = 0; i < sizeof(key); i++)
			CHECK(key[i] == 0xa5); /* nothing written */
	}
	/* The same bytes as a key file. */
	char path[] = "/tmp/fuzz_psk.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 0;
	bool wrote = fchmod(fd, 0600) == 0 && (!size || write(fd, data, size) == (ssize_t)size);
	close(fd);
	if (wrote) {
		struct sevmig_error e2;
		sevmig_error_clear(&e2);
		int rc2 = sevmig_psk_load(path, key2, &e2);
		CHECK(rc2 == rc && (rc || memcmp(key2, key, sizeof(key)) == 0));
		CHECK(rc2 == 0 || strstr(e2.message, path) != NULL);
		if (chmod(path, 0640) == 0) {
			CHECK(sevmig_psk_load(path, key2, &e2) == -EACCES);
			CHECK(strstr(e2.message, "chmod 600") != NULL);
		}
	}
	unlink(path);
	return 0;
}
