#!/usr/bin/env bash
# sevmig-send | sevmig-recv end to end: through a pipe, a file, TCP on
# 127.0.0.1 and on ::1 (skipped where the host has no IPv6 loopback), with
# --memory-dir and --memory layouts, 0 and 2 worker threads, with and without
# compression. Every run must reproduce the source's memory byte for byte and
# its page state exactly. Also: key generation, --help, --version.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# A guest of two memslots in one file: 0-6 MiB at offset 0 and 4 GiB + 2 MiB
# at offset 6 MiB. Random, text-like and zero pages, some of each shared.
head -c 2M /dev/urandom >guest.mem
head -c 2M < <(yes 'shared virtio ring descriptor text') >>guest.mem
head -c 2M /dev/zero >>guest.mem
head -c 2M /dev/urandom >>guest.mem
cat >guest.txt <<'EOF'
0x0-0xff private
0x100-0x17f shared
0x180-0x2ff private
0x300-0x4ff shared
0x500-0x5ff private
0x100000-0x1000ff private
0x100100-0x1001ff shared
EOF
"$dump" convert guest.txt --to native -o guest.pst
mem=(-m 0:6M:guest.mem -m 4G:2M:guest.mem:6M)

# Target key pair: the key is private to its owner, and never overwritten.
t "$recv" "${psk[@]}" --gen-pdh --pdh-key target.key --pdh-cert target.cert
[ "$(stat -c %a target.key)" = 600 ] || fail "target.key mode $(stat -c %a target.key)"
[ "$(stat -c %s target.cert)" = 2084 ] || fail "target.cert is not one certificate"
cp target.key key.orig
if t "$recv" "${psk[@]}" --gen-pdh --pdh-key target.key --pdh-cert other.cert 2>err; then
  fail "--gen-pdh replaced an existing key"
fi
grep -q 'exists' err || fail "no message for an existing key: $(cat err)"
cmp target.key key.orig
# The same public key again (bytes 0-0x413 of the certificate; the signature
# after it is randomized); stream 2 below is sent to this copy.
t "$recv" "${psk[@]}" --export-pdh --pdh-key target.key --pdh-cert again.cert
cmp -n 1044 target.cert again.cert

# Check a received copy against the source.
check() { # DIR-or-FILE PAGE-STATE
  local name=$1 pst=$2
  if [ -d "$name" ]; then
    cat "$name/slot0-0x0.mem" "$name/slot1-0x100000000.mem" | cmp - guest.mem ||
      fail "$name: memory differs"
  else
    cmp "$name" guest.mem || fail "$name: memory differs"
  fi
  "$dump" diff guest.pst "$pst" >/dev/null || fail "$name: page state differs"
  if ls "$(dirname "$name")" | grep -q '\.tmp\.'; then fail "temporary files left"; fi
}

# 1. A pipe, into --memory-dir, default threads and compression.
t "$send" "${psk[@]}" "${mem[@]}" -p guest.pst -t target.cert |
  t "$recv" "${psk[@]}" -k target.key -d out1 -s out1.pst
check out1 out1.pst

# 2. A file, then the file into --memory (one file with both memslots, as the
#    source had), no workers, no compression, text page state.
t "$send" "${psk[@]}" "${mem[@]}" -p guest.pst -t again.cert -o stream.bin -T 0 -z 0 --json >send.json
[ "$(stat -c %a stream.bin)" = 600 ] || fail "stream.bin mode"
t "$recv" "${psk[@]}" -k target.key -i stream.bin -m 0:6M:copy.mem -m 4G:2M:copy.mem:6M \
  -s copy.txt --pstate-format text -T 0 --json >recv.json
check copy.mem copy.txt
grep -q '^0x300-0x4ff shared$' copy.txt || fail "text page state: $(cat copy.txt)"
python3 - send.json recv.json <<'EOF'
import json, sys
s, r = (json.load(open(f)) for f in sys.argv[1:3])
assert s["schema"] == r["schema"] == "sevmig.migration/1", (s, r)
assert s["tool"] == "sevmig-send" and r["tool"] == "sevmig-recv", (s, r)
assert s["uuid"] == r["uuid"] and s["counts"] == r["counts"], (s, r)
c = s["counts"]
assert s["done_pages"] == c["encrypted_pages"] + c["plain_pages"] + c["zero_pages"] == s["guest_pages"] == 2048, s
assert (c["encrypted_pages"], c["plain_pages"], c["zero_pages"]) == (1152, 640, 256), c
assert s["page_state"]["shared_pages"] == r["page_state"]["shared_pages"] == 896, s["page_state"]
assert c["plain_wire_bytes"] == c["plain_pages"] * 4096, "-z 0 must send raw pages"
assert s["seconds"] >= 0 and s["guest_bytes_per_second"] > 0
assert s["delivery"] == r["delivery"] == "written" and s["integrity"] == "psk"
EOF

# 3. Receiving into existing files: the bytes outside the memslots stay.
printf 'HEAD' >big.mem; head -c 9M /dev/zero >>big.mem; printf 'TAIL' >>big.mem; chmod 600 big.mem
t "$recv" "${psk[@]}" -k target.key -i stream.bin -m 0:6M:big.mem:4096 -m 4G:2M:big.mem:0x601000 -q
[ "$(head -c 4 big.mem)" = HEAD ] && [ "$(tail -c 4 big.mem)" = TAIL ] ||
  fail "bytes outside the memslots were not kept"
head -c $((4096 + 8 * 1048576)) big.mem | tail -c $((8 * 1048576)) | cmp - guest.mem ||
  fail "big.mem: memory differs"

# 4. TCP on loopback, IPv4 then IPv6; both directions of the flags.
tcp_run() { # LISTEN-ADDR CONNECT-HOST OUT-DIR
  rm -f port
  tb "$recv" "${psk[@]}" -k target.key -i "tcp://$1:0" --port-file port -d "$3" -s "$3.pst" \
    --timeout 30 --json >"$3.json" &
  local rpid=$! i
  for i in $(seq 100); do [ -s port ] && break; sleep 0.1; done
  [ -s port ] || fail "the receiver did not report its port"
  t "$send" "${psk[@]}" "${mem[@]}" -p guest.pst -t target.cert -o "tcp://$2:$(cat port)" -T 2 \
    --timeout 30
  wait "$rpid" || fail "receiver over tcp://$2 failed"
  check "$3" "$3.pst"
  grep -q '"stream":"tcp://' "$3.json" || fail "summary names the stream: $(cat "$3.json")"
}
tcp_run 127.0.0.1 127.0.0.1 tcp4
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
  tcp_run '[::1]' '[::1]' tcp6
else
  echo "skipping IPv6: no ::1 on this host"
fi

# 5. SEV-ES: vCPU state goes with the stream, into --vmsa-dir (default: the
#    --memory-dir); the page state may go to standard output.
head -c 4096 /dev/urandom >vcpu0; head -c 4096 /dev/urandom >vcpu1
t "$send" "${psk[@]}" "${mem[@]}" -p guest.pst -t target.cert --policy 0x5 --vmsa vcpu0 --vmsa vcpu1 |
  t "$recv" "${psk[@]}" -k target.key -d es -s - --pstate-format text >es.txt
check es es.txt
cmp es/vcpu0.vmsa vcpu0 && cmp es/vcpu1.vmsa vcpu1 || fail "vCPU state differs"
t "$send" "${psk[@]}" "${mem[@]}" -t target.cert --policy 0x5 --vmsa vcpu0 -o es.bin
if t "$recv" "${psk[@]}" -k target.key -m 0:6M:es.mem -m 4G:2M:es.mem:6M -i es.bin 2>err; then
  fail "vCPU state without a destination must be refused"
fi
grep -q 'record [0-9]* (VMSA).*give --vmsa-dir DIR' err || fail "no --vmsa-dir hint: $(cat err)"
[ ! -e es.mem ] || fail "a refused receive left es.mem"
mkdir esv
t "$recv" "${psk[@]}" -k target.key -m 0:6M:es.mem -m 4G:2M:es.mem:6M --vmsa-dir esv -i es.bin
cmp esv/vcpu0.vmsa vcpu0 || fail "vCPU state differs (--vmsa-dir)"

# 6. Every copy is the same stream content: the same pages by each path.
t "$dump" verify "${psk[@]}" --pdh-key target.key stream.bin >/dev/null

# 7. Help and version.
for tool in "$send" "$recv"; do
  "$tool" --help | grep '^examples:' >/dev/null || fail "$tool --help has no examples"
  "$tool" --help | grep '^Exit status' >/dev/null || fail "$tool --help has no exit status"
  "$tool" --version | grep -Eq '^sevmig-(send|recv) [0-9]' || fail "$tool --version"
done

# 8. The manual pages: every option --help lists is documented, and groff
#    finds nothing to warn about.
documented() { # PAGE TOOL [SUBCOMMAND]
  local page=$1 opt; shift
  for opt in $("$@" --help | sed -nE 's/^ {2,}(-[A-Za-z], )?(--[a-z][a-z-]*).*/\2/p'); do
    grep -qF -- "${opt//-/\\-}" "$page" || fail "$(basename "$page") does not document $opt"
  done
  if command -v groff >/dev/null; then
    groff -man -ww -z "$page" 2>groff.err; [ ! -s groff.err ] || fail "$page: $(cat groff.err)"
  fi
}
man_dir=${SEVMIG_SOURCE_DIR:-$(dirname "$0")/../..}/docs/man
documented "$man_dir/sevmig-send.1" "$send"
documented "$man_dir/sevmig-recv.1" "$recv"
echo "ok"
