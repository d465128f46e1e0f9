#!/usr/bin/env bash
# sevmig-recv on a full file system: one line naming the file and the
# error, exit 2 (never a signal), no temporary left, a previous output
# untouched. Needs a private mount namespace with a small tmpfs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if ! unshare -m true 2>/dev/null; then
  echo "SKIP: cannot make a mount namespace here"; exit 77
fi
head -c $((8 << 20)) /dev/urandom >guest.mem
t "$recv" --gen-pdh --pdh-key target.key --pdh-cert target.cert
t "$send" "${psk[@]}" -m 0:8M:guest.mem -t target.cert -o stream.bin
cat >inner.sh <<'IN'
set -u
mount -t tmpfs -o size=4m tmpfs "$1" || exit 77
echo previous >"$1/keep.txt"
rc=0
"$2" --psk "$3" -k "$4" --memory-dir "$1/out" -i "$5" 2>"$6" || rc=$?
ls -A "$1" "$1/out" 2>/dev/null >"$7"
cat "$1/keep.txt" >>"$7"
exit "$rc"
IN
mkdir fs
rc=0
unshare -m bash inner.sh "$PWD/fs" "$recv" "$work/psk" target.key stream.bin "$PWD/err" \
  "$PWD/left" || rc=$?
[ "$rc" = 77 ] && { echo "SKIP: cannot mount a tmpfs here"; exit 77; }
[ "$rc" = 2 ] || fail "disk full: exit $rc (want 2, not a signal): $(cat err)"
[ "$(wc -l <err)" = 1 ] || fail "disk full: not one line: $(cat err)"
grep -q 'cannot allocate .*No space left on device' err || fail "disk full: $(cat err)"
! grep -q '\.tmp\.' left || fail "disk full: temporaries left: $(cat left)"
grep -q '^previous$' left || fail "disk full: the previous output changed"
echo "disk full: refused cleanly"
