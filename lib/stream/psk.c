/* SPDX-License-Identifier: MIT */
/* Pre-shared key files: 32 random bytes, readable by their owner only. */
#include "stream/stream_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

int sevmig_psk_parse(const void *buf, size_t len, uint8_t key[SEVMIG_KEY_SIZE],
		     struct sevmig_error *err)
{
	if (!buf || !key || len != SEVMIG_KEY_SIZE)
		return sevmig__fail(err, -EBADMSG, SEVMIG_NO_OFFSET, 0,
				    "a key file holds exactly %u bytes; this one has %zu",
				    SEVMIG_KEY_SIZE, len);
	memcpy(key, buf, SEVMIG_KEY_SIZE);
	return 0;
}

int sevmig_psk_generate(const char *path, struct sevmig_error *err)
{
	if (!path)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no key file path");
	uint8_t k[SEVMIG_KEY_SIZE];
	if (RAND_priv_bytes(k, sizeof(k)) != 1)
		return sevmig__fail(err, -EIO, SEVMIG_NO_OFFSET, 0,
				    "%s: the random generator failed", path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		OPENSSL_cleanse(k, sizeof(k));
		return sevmig__fail(err, -e, SEVMIG_NO_OFFSET, 0, "%s: cannot create: %s", path,
				    strerror(e));
	}
	int rc = 0;
	/* The umask may have been looser than 0600 only by widening nothing,
	 * but an inherited ACL could: set the mode explicitly. */
	if (fchmod(fd, 0600) < 0 || write(fd, k, sizeof(k)) != (ssize_t)sizeof(k) || fsync(fd) < 0)
		rc = -(errno ? errno : EIO);
	OPENSSL_cleanse(k, sizeof(k));
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		unlink(path);
		return sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "%s: cannot write: %s", path,
				    strerror(-rc));
	}
	return 0;
}

int sevmig_psk_load(const char *path, uint8_t key[SEVMIG_KEY_SIZE], struct sevmig_error *err)
{
	if (!path || !key)
		return sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "no key file path");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		return sevmig__fail(err, -e, SEVMIG_NO_OFFSET, 0, "%s: cannot open: %s", path,
				    strerror(e));
	}
	struct stat st;
	int rc = 0;
	uint8_t buf[SEVMIG_KEY_SIZE + 1];
	ssize_t n = 0;
	if (fstat(fd, &st) < 0) {
		rc =
		    sevmig__fail(err, -errno, SEVMIG_NO_OFFSET, 0, "%s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		rc =
		    sevmig__fail(err, -EINVAL, SEVMIG_NO_OFFSET, 0, "%s: not a regular file", path);
	} else if (st.st_mode & 077) {
		rc = sevmig__fail(err, -EACCES, SEVMIG_NO_OFFSET, 0,
				  "%s: mode %03o lets others read or write the key; it must be "
				  "0600 or stricter (chmod 600 %s)",
				  path, (unsigned)(st.st_mode & 0777), path);
	} else {
		size_t got = 0;
		while (got < sizeof(buf) && (n = read(fd, buf + got, sizeof(buf) - got)) > 0)
			got += (size_t)n;
		if (n < 0)
			rc = sevmig__fail(err, -errno, SEVMIG_NO_OFFSET, 0, "%s: cannot read: %s",
					  path, strerror(errno));
		else if ((rc = sevmig_psk_parse(buf, got, key, err)) < 0 && err) {
			char m[sizeof(err->message)];
			memcpy(m, err->message, sizeof(m));
			sevmig__fail(err, rc, SEVMIG_NO_OFFSET, 0, "%s: %s", path, m);
		}
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}
