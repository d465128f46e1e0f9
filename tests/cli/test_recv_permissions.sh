#!/usr/bin/env bash
# Outputs holding guest memory are created 0600, and an existing one that
# group or others can read is refused (never inherited), before any byte
# of the stream is taken; key files others can read are refused too.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
head -c $((2 << 20)) /dev/urandom >guest.mem
t "$recv" --gen-pdh --pdh-key target.key --pdh-cert target.cert
t "$send" "${psk[@]}" -m 0:2M:guest.mem -t target.cert -o stream.bin
[ "$(stat -c %a "$work/psk")" = 600 ] || fail "psk: mode $(stat -c %a "$work/psk")"

umask 022
t "$recv" "${psk[@]}" -k target.key -m 0:2M:out.mem -i stream.bin
[ "$(stat -c %a out.mem)" = 600 ] || fail "new output: mode $(stat -c %a out.mem)"
cmp guest.mem out.mem || fail "new output differs"

chmod 644 out.mem
sum=$(sha256sum out.mem)
[ "$(status t "$recv" "${psk[@]}" -k target.key -m 0:2M:out.mem -i stream.bin)" = 2 ] ||
  fail "a 0644 output was accepted"
grep -q 'out.mem: mode 644 lets others read it' err || fail "wide output: $(cat err)"
[ "$(sha256sum out.mem)" = "$sum" ] || fail "the refused output changed"
! ls | grep -q '\.tmp\.' || fail "temporaries left"

cp -p "$work/psk" wide.psk && chmod 644 wide.psk
[ "$(status t "$recv" --psk wide.psk -k target.key -m 0:2M:x.mem -i stream.bin)" = 2 ] ||
  fail "a 0644 key file was accepted"
grep -q 'wide.psk: mode 644 lets others read or write the key' err || fail "wide key: $(cat err)"
echo "permissions: all passed"
