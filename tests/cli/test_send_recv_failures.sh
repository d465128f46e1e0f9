#!/usr/bin/env bash
# sevmig-send and sevmig-recv when things go wrong: a damaged stream, a
# truncated stream, the wrong key, a layout that does not match, a refused
# connection, a connection reset mid-stream (both directions), a closed pipe,
# a signal. Each must exit 2 with one message saying what and where, and leave
# every output file exactly as it was, with no temporary file behind.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The guest (two memslots in one file; random, text and zero pages).
head -c 2M /dev/urandom >guest.mem
head -c 2M < <(yes 'shared virtio ring descriptor text') >>guest.mem
head -c 2M /dev/zero >>guest.mem
head -c 2M /dev/urandom >>guest.mem
printf '0x0-0x17f private\n0x180-0x4ff shared\n0x500-0x5ff private\n0x100000-0x1001ff private\n' \
  >guest.txt
"$dump" convert guest.txt --to native -o guest.pst
mem=(-m 0:6M:guest.mem -m 4G:2M:guest.mem:6M)
t "$recv" "${psk[@]}" --gen-pdh --pdh-key target.key --pdh-cert target.cert
t "$recv" "${psk[@]}" --gen-pdh --pdh-key other.key --pdh-cert other.cert
t "$send" "${psk[@]}" "${mem[@]}" -p guest.pst -t target.cert -o good.bin

# Outputs that exist before each receive, with known content.
mkdir dir
prime() {
  printf 'previous memory' >out.mem
  printf 'previous page state' >out.pst
  printf 'previous slot' >dir/slot0-0x0.mem
  chmod 600 out.mem dir/slot0-0x0.mem  # guest memory: owner only, or recv refuses it
  sha256sum out.mem out.pst dir/slot0-0x0.mem >before.sum
}
unchanged() { # WHAT
  sha256sum -c --quiet before.sum || fail "$1: an output file changed"
  [ ! -e dir/slot1-0x100000000.mem ] || fail "$1: a new output file appeared"
  if ls . dir | grep -q '\.tmp\.'; then fail "$1: temporary files left: $(ls . dir)"; fi
}
recv_mem=(-m 0:6M:out.mem -m 4G:2M:out.mem:6M -s out.pst)

# expect_fail WHAT PATTERN CMD...: exit 2 and exactly one message matching PATTERN.
expect_fail() {
  local what=$1 pat=$2 rc=0; shift 2
  "$@" 2>err || rc=$?
  [ "$rc" = 2 ] || fail "$what: exit $rc, expected 2 ($(cat err))"
  grep -Eq -- "$pat" err || fail "$what: message '$(cat err)' does not match '$pat'"
  [ "$(grep -c '' err)" = 1 ] || fail "$what: more than one message: $(cat err)"
}
# recv_fail WHAT PATTERN STREAM-FILE [RECV-OPTS...]: both output layouts.
recv_fail() {
  local what=$1 pat=$2 stream=$3; shift 3
  prime
  expect_fail "$what" "$pat" t "$recv" "${psk[@]}" -k target.key "${recv_mem[@]}" "$@" <"$stream"
  unchanged "$what"
  prime
  expect_fail "$what (memory-dir)" "$pat" t "$recv" "${psk[@]}" -k target.key -d dir -i "$stream" "$@"
  unchanged "$what (memory-dir)"
}

# 1. One flipped byte in a record's payload, in its header, in the header.
size=$(stat -c %s good.bin)
flip() { # OFFSET OUT
  cp good.bin "$2"
  local b; b=$(od -An -tu1 -j "$1" -N1 good.bin | tr -d ' ')
  printf "$(printf '\\%03o' $(((b ^ 0x20) & 255)))" |
    dd of="$2" bs=1 seek="$1" conv=notrunc status=none
}
flip $((size / 2)) damaged.bin
recv_fail "damaged payload" 'record [0-9]+ .*at byte [0-9]+.*(CRC|damaged)' damaged.bin
flip 40 damaged_hdr.bin
recv_fail "damaged header" 'header' damaged_hdr.bin

# 2. Truncated: in a record, right after the header, and empty.
head -c $((size - 50)) good.bin >trunc.bin
recv_fail "truncated" 'truncated.*record [0-9]+' trunc.bin
: >empty.bin
recv_fail "empty" 'truncated.*empty' empty.bin

# 3. The wrong key: the session does not open.
prime
expect_fail "wrong key" 'record 0 \(SESSION\).*(another PDH key|BAD_MEASUREMENT)' \
  t "$recv" "${psk[@]}" -k other.key "${recv_mem[@]}" -i good.bin
unchanged "wrong key"

# 4. A layout that does not match the stream's, and overlapping options.
prime
expect_fail "layout" 'do not match the stream.s memory layout' \
  t "$recv" "${psk[@]}" -k target.key -m 0:6M:out.mem -m 4G:4M:out.mem:6M -i good.bin
unchanged "layout"
expect_fail "overlap" 'overlap in' \
  t "$recv" "${psk[@]}" -k target.key -m 0:6M:out.mem -m 4G:2M:out.mem:4M -i good.bin
unchanged "overlap"

# 5. The sender's page state must cover its memory; a FILE output then stays.
printf 'previous stream' >stream.out; sha256sum stream.out >stream.sum
printf '0x0-0x5ff private\n' >short.txt
expect_fail "coverage" 'covers gfns 0x0-0x5ff, but the --memory options give' \
  t "$send" "${psk[@]}" "${mem[@]}" -p short.txt -t target.cert -o stream.out
expect_fail "short file" 'has 8388608 bytes.*needs 10485760' \
  t "$send" "${psk[@]}" -m 0:6M:guest.mem -m 4G:4M:guest.mem:6M -t target.cert -o stream.out
expect_fail "not a certificate" 'not a PDH certificate' \
  t "$send" "${psk[@]}" "${mem[@]}" -t guest.txt -o stream.out
sha256sum -c --quiet stream.sum || fail "a failed send changed its output file"

# 6. Nothing listening: connection refused.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
expect_fail "refused" 'cannot connect: Connection refused' \
  t "$send" "${psk[@]}" "${mem[@]}" -t target.cert -o "tcp://127.0.0.1:$port" --timeout 10

# 7. A receiver that goes away at once: the sender, waiting for its HELLO,
#    says so (and writes nothing).
cat >reset.py <<'EOF'
import socket, sys
l = socket.socket()
l.bind(("127.0.0.1", 0)); l.listen(1)
open(sys.argv[1], "w").write("%d\n" % l.getsockname()[1])
l.settimeout(30)
c, _ = l.accept()
c.close()
EOF
rm -f port
tb python3 reset.py port &
for i in $(seq 100); do [ -s port ] && break; sleep 0.1; done
expect_fail "reset (sender)" 'closed the connection before its HELLO' \
  t "$send" "${psk[@]}" "${mem[@]}" -t target.cert -o "tcp://127.0.0.1:$(cat port)" --timeout 20
wait

# 8. A sender that goes away mid-stream: the receiver reports a truncated
#    stream, or a reset.
prime
rm -f port
tb "$recv" "${psk[@]}" -k target.key "${recv_mem[@]}" -i tcp://127.0.0.1:0 --port-file port --timeout 20 --max-attempts 1 \
  2>err &
rpid=$!
for i in $(seq 100); do [ -s port ] && break; sleep 0.1; done
python3 - "$(cat port)" <<'EOF'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
try:
    s.sendall(open("good.bin", "rb").read()[:3000000])
except ConnectionError:
    pass  # the receiver refused it early (a file stream answers no HELLO)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()  # linger 0: a reset, not an orderly end
EOF
rc=0; wait "$rpid" || rc=$?
[ "$rc" = 2 ] || fail "reset (receiver): exit $rc"
grep -Eq "reset by the peer|truncated|does not answer this target's HELLO" err ||
  fail "reset (receiver): $(cat err)"
unchanged "reset (receiver)"

# 9. A closed pipe: the sender reports it, cancels, and exits 2.
set +e +o pipefail
t "$send" "${psk[@]}" "${mem[@]}" -t target.cert 2>err | head -c 1000 >/dev/null
rc=${PIPESTATUS[0]}
set -e -o pipefail
[ "$rc" = 2 ] || fail "closed pipe: exit $rc"
grep -q 'standard output: after [0-9]* bytes, write failed: the reading side went away (broken pipe); the migration was cancelled' err ||
  fail "closed pipe: $(cat err)"

# 10. SIGTERM while the receiver waits for more: temporaries go, outputs stay.
prime
mkfifo slow
{ head -c 3000000 good.bin; exec sleep 30; } >slow & wpid=$!
tb "$recv" "${psk[@]}" -k target.key "${recv_mem[@]}" <slow 2>err & rpid=$!
for i in $(seq 100); do ls | grep -q 'out.mem.tmp' && break; sleep 0.1; done
ls | grep -q 'out.mem.tmp' || fail "signal: the receiver made no temporary file"
kill -TERM "$rpid"
rc=0; wait "$rpid" || rc=$?
kill "$wpid" 2>/dev/null || true
wait "$wpid" 2>/dev/null || true
[ "$rc" = 143 ] || fail "signal: exit $rc"
grep -q 'interrupted' err || fail "signal: $(cat err)"
unchanged "signal"

# 11. SIGTERM to a sender: it cancels at the next record and writes ABORT;
#     a receiver of that stream refuses it, and verify says it is incomplete.
rm -f slow; mkfifo slow
{ sleep 1; exec cat; } <slow >aborted.bin & cpid=$!
tb "$send" "${psk[@]}" "${mem[@]}" -t target.cert >slow 2>err & spid=$!
sleep 0.5
kill -TERM "$spid"
rc=0; wait "$spid" || rc=$?
wait "$cpid"
[ "$rc" = 143 ] || fail "sender signal: exit $rc ($(cat err))"
grep -q 'interrupted by a signal; the migration was cancelled' err || fail "sender signal: $(cat err)"
recv_fail "aborted" 'the source aborted the migration at record [0-9]+ \(cancelled\)' aborted.bin
rc=0; "$dump" verify "${psk[@]}" aborted.bin >out || rc=$?
[ "$rc" = 1 ] && grep -q 'not a complete migration' out || fail "verify aborted: $rc $(cat out)"
"$dump" stream "${psk[@]}" aborted.bin | grep -Eq '  ABORT .* cancelled' || fail "stream lists no ABORT"

# 12. Usage errors are exit 2 with a pointer to --help.
expect_fail "no memory" '--memory' t "$send" "${psk[@]}" -t target.cert
expect_fail "no key" '--pdh-key' t "$recv" "${psk[@]}" -d dir
expect_fail "bad memory option" 'SIZE 0x1388 is not a multiple of 4096' t "$send" "${psk[@]}" -m 0:5000:guest.mem -t target.cert
expect_fail "bad offset" "OFFSET 'xyz' is not a number" t "$send" "${psk[@]}" -m 0:4M:guest.mem:xyz -t target.cert
expect_fail "unaligned offset" 'OFFSET 0x64 is not a multiple of 4096' t "$send" "${psk[@]}" -m 0:4M:guest.mem:100 -t target.cert
expect_fail "bad option" 'unknown option' t "$recv" "${psk[@]}" -k target.key -d dir --bogus
expect_fail "gpa overlap" 'overlap in guest memory' \
  t "$send" "${psk[@]}" -m 0:6M:guest.mem -m 4M:2M:guest.mem:6M -t target.cert
expect_fail "bad size" "SIZE '6Q' is not a number" t "$send" "${psk[@]}" -m 0:6Q:guest.mem -t target.cert
expect_fail "bare IPv6" 'in brackets' t "$send" "${psk[@]}" "${mem[@]}" -t target.cert -o tcp://::1:4000
expect_fail "no port" 'not a port number' t "$recv" "${psk[@]}" -k target.key -d dir -i tcp://127.0.0.1:x
expect_fail "stdout twice" 'both want standard output' \
  t "$recv" "${psk[@]}" -k target.key -d dir -s - --json
echo "ok"
