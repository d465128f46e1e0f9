#!/usr/bin/env bash
# sevmig-recv flushes its memory outputs in the background while pages
# arrive; a write-back error seen there (only there: fdatasync reports it
# once) still fails the commit, naming the file, with the temporaries
# removed, the previous output untouched and, over TCP, a NAK that fails
# the sender too. The error is injected with a preloaded fdatasync that
# returns EIO (the commit's own fsync is left alone, so the error is seen
# by the flusher or by nobody).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build_shim <<'C'
#include <errno.h>
int fdatasync(int fd) { (void)fd; errno = EIO; return -1; }
C
# more than one flush's worth (64 MiB) of pages that do not compress
head -c $((72 << 20)) /dev/urandom >guest.mem
t "$recv" --gen-pdh --pdh-key target.key --pdh-cert target.cert
t "$send" "${psk[@]}" -m 0:72M:guest.mem -t target.cert -o stream.bin
mkdir out; echo previous >out/slot0-0x0.mem; chmod 600 out/slot0-0x0.mem

check() { # check WHAT RC: exit 2, the file and the error named, nothing changed
  [ "$2" = 2 ] || fail "$1: exit $2 (want 2): $(cat err)"
  head -1 err | grep -q 'slot0-0x0.mem: writing it failed: Input/output error' ||
    fail "$1: $(cat err)"
  grep -q 'no output file was changed' err || fail "$1: $(cat err)"
  [ "$(ls -A out)" = slot0-0x0.mem ] || fail "$1: left in out/: $(ls -A out)"
  [ "$(cat out/slot0-0x0.mem)" = previous ] || fail "$1: the previous output changed"
}

rc=0
LD_PRELOAD=$PWD/shim.so t "$recv" "${psk[@]}" -k target.key -d out -i stream.bin -q \
  2>err || rc=$?
check "file" "$rc"

rm -f port
LD_PRELOAD=$PWD/shim.so tb "$recv" "${psk[@]}" -k target.key -d out -q \
  -i tcp://127.0.0.1:0 --port-file port --timeout 20 --max-attempts 1 2>err &
rpid=$!
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
src=0
t "$send" "${psk[@]}" -m 0:72M:guest.mem -t target.cert -q \
  -o "tcp://127.0.0.1:$(cat port)" 2>send.err || src=$?
rc=0; wait "$rpid" || rc=$?
check "tcp" "$rc"
[ "$src" = 2 ] || fail "tcp: the sender exited $src (want 2): $(cat send.err)"
grep -q 'the target refused the migration: .*(Input/output error)' send.err ||
  fail "tcp: the sender did not report the NAK and its reason: $(cat send.err)"
echo "flush error: the commit refused, the sender told"
