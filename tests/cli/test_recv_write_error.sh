#!/usr/bin/env bash
# sevmig-recv whose page writes fail part way (the writer threads make
# them, after the workers have moved on): exit 2, one line first naming the
# file, the bytes and the error, no temporary left, the previous output
# untouched. The failure is injected with a preloaded pwrite that returns
# EIO from its 40th call on (the page writes are the receiver's only
# pwrite calls).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build_shim <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <sys/types.h>
static atomic_int calls;
static ssize_t fail_or(ssize_t (*real)(int, const void *, size_t, off_t), int fd,
                       const void *buf, size_t n, off_t at)
{
	if (atomic_fetch_add(&calls, 1) >= 40) {
		errno = EIO;
		return -1;
	}
	return real(fd, buf, n, at);
}
ssize_t pwrite(int fd, const void *buf, size_t n, off_t at)
{
	return fail_or(dlsym(RTLD_NEXT, "pwrite"), fd, buf, n, at);
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t at)
{
	return fail_or(dlsym(RTLD_NEXT, "pwrite64"), fd, buf, n, at);
}
C
# 32 MiB of pages that do not compress: hundreds of page writes
head -c $((32 << 20)) /dev/urandom >guest.mem
t "$recv" --gen-pdh --pdh-key target.key --pdh-cert target.cert
t "$send" "${psk[@]}" -m 0:32M:guest.mem -t target.cert -o stream.bin
mkdir out; echo previous >out/slot0-0x0.mem; chmod 600 out/slot0-0x0.mem
rc=0
LD_PRELOAD=$PWD/shim.so t "$recv" "${psk[@]}" -k target.key -d out -i stream.bin -q \
  2>err || rc=$?
[ "$rc" = 2 ] || fail "exit $rc (want 2): $(cat err)"
head -1 err | grep -q 'slot0-0x0.mem: cannot write bytes [0-9]*-[0-9]*: Input/output error' ||
  fail "the first line does not name the file, the bytes and the error: $(cat err)"
[ "$(grep -c 'cannot write bytes' err)" = 1 ] || fail "more than one write reported: $(cat err)"
grep -q 'failed: Input/output error; no output file was changed' err ||
  fail "the failure is not said as the system's error, or the outputs' fate is not: $(cat err)"
[ "$(ls -A out)" = slot0-0x0.mem ] || fail "left in out/: $(ls -A out)"
[ "$(cat out/slot0-0x0.mem)" = previous ] || fail "the previous output changed"
echo "write error: refused, the file and bytes named, nothing changed"
