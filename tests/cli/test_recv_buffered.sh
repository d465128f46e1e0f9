#!/usr/bin/env bash
# sevmig-recv where its outputs cannot be written past the page cache: with
# no /proc/self/fd to reopen a temporary with O_DIRECT, the buffered
# descriptor writes every page and zero run, and the output is the same.
# Needs a private mount namespace (to hide it from the receiver only).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if ! unshare -m true 2>/dev/null; then
  echo "SKIP: cannot make a mount namespace here"; exit 77
fi
# 8 MiB: random pages, then zeros (zero runs), then random again
{ head -c $((3 << 20)) /dev/urandom; head -c $((2 << 20)) /dev/zero
  head -c $((3 << 20)) /dev/urandom; } >guest.mem
t "$recv" --gen-pdh --pdh-key target.key --pdh-cert target.cert
t "$send" "${psk[@]}" -m 0:8M:guest.mem -t target.cert -o stream.bin
cat >inner.sh <<'IN'
set -u
# an empty /proc/PID/fd for this shell, and so for the receiver it becomes
# (the rest of /proc stays: a sanitizer build reads its options there)
mount -t tmpfs -o size=1m tmpfs "/proc/$$/fd" || exit 77
[ ! -e /proc/self/fd/0 ] || exit 77
exec "$1" --psk "$2" -k "$3" --memory-dir "$4" -i "$5" -q
IN
rc=0
t unshare -m bash inner.sh "$recv" "$work/psk" target.key "$PWD/out" stream.bin 2>err || rc=$?
[ "$rc" = 77 ] && { echo "SKIP: cannot hide /proc/self/fd here"; exit 77; }
[ "$rc" = 0 ] || fail "no /proc/self/fd: exit $rc: $(cat err)"
[ ! -s err ] || fail "no /proc/self/fd: said something: $(cat err)"
cmp out/slot0-0x0.mem guest.mem || fail "no /proc/self/fd: the target differs from the source"
echo "no /proc/self/fd: the buffered descriptor wrote the same memory"
