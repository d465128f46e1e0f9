#!/usr/bin/env bash
# SIGTERM and SIGINT end every phase promptly: exit 143 or 130, within a few
# seconds even when the peer has stalled, with no temporary file left and
# no output changed. Phases: a receiver listening, in a TLS handshake and
# mid-stream; a sender connecting (waiting for HELLO), mid-stream on a
# stalled TCP peer and on a stalled pipe, and waiting for COMMIT.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
head -c $((64 << 20)) /dev/urandom >guest.mem
t "$recv" --gen-pdh --pdh-key target.key --pdh-cert target.cert
mem=(-m 0:64M:guest.mem)

# stop PID SIGNAL RC WHAT: the signal ends PID within 5 s with exit RC.
stop() {
  local pid=$1 sig=$2 want=$3 what=$4 rc=0
  kill -"$sig" "$pid"
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid"
    fail "$what: still running 5 s after SIG$sig"
  fi
  wait "$pid" || rc=$?
  [ "$rc" = "$want" ] || fail "$what: exit $rc after SIG$sig, expected $want"
}
clean() { # WHAT
  if ls | grep -q '\.tmp\.'; then fail "$1: temporaries left: $(ls)"; fi
  [ ! -e out.mem ] || fail "$1: an output appeared"
}
wait_port() { # FILE
  for i in $(seq 100); do [ -s "$1" ] && break; sleep 0.1; done
  [ -s "$1" ] || fail "nothing listens ($1)"
}
# A TCP peer that accepts and then does nothing at all.
cat >silent.py <<'EOF'
import socket, sys, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
open(sys.argv[1], "w").write("%d\n" % l.getsockname()[1])
c, _ = l.accept()
time.sleep(30)
EOF
recv_bg() { # ARGS...
  rm -f port
  tb "$recv" "${psk[@]}" -k target.key -m 0:64M:out.mem --port-file port --timeout 30 "$@" \
    >/dev/null 2>recv.err &
  rpid=$!
}

# 1. A receiver waiting for a connection: SIGTERM 143, SIGINT 130.
for sig in TERM:143 INT:130; do
  recv_bg -i tcp://127.0.0.1:0
  wait_port port
  stop "$rpid" "${sig%:*}" "${sig#*:}" "listening receiver"
  grep -q 'interrupted while waiting for a connection' recv.err || fail "listen: $(cat recv.err)"
  clean "listening receiver"
done

# 2. A receiver in a TLS handshake with a peer that says nothing.
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tgt.key \
    -out tgt.crt -subj /CN=tgt -days 2 2>/dev/null
  rm -f port
  tb "$recv" -k target.key -m 0:64M:out.mem --port-file port --timeout 30 -i tls://127.0.0.1:0 \
    --tls-cert tgt.crt --tls-key tgt.key --tls-ca tgt.crt --auth-timeout 0 >/dev/null 2>recv.err &
  rpid=$!
  wait_port port
  python3 -c 'import socket,sys,time; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); time.sleep(30)' \
    "$(cat port)" & cpid=$!
  sleep 0.5
  stop "$rpid" TERM 143 "receiver in a TLS handshake"
  kill "$cpid"; wait "$cpid" 2>/dev/null || true
  grep -q 'cancelled\|interrupted' recv.err || fail "TLS handshake: $(cat recv.err)"
  clean "receiver in a TLS handshake"
fi

# 3. A sender waiting for its target's HELLO.
rm -f sport
tb python3 silent.py sport & ppid=$!
wait_port sport
tb "$send" "${psk[@]}" "${mem[@]}" -t target.cert -o "tcp://127.0.0.1:$(cat sport)" --timeout 30 \
  2>send.err &
spid=$!
sleep 0.5
stop "$spid" INT 130 "sender waiting for HELLO"
grep -q 'interrupted' send.err || fail "sender at HELLO: $(cat send.err)"
kill "$ppid"; wait "$ppid" 2>/dev/null || true

# 4. Mid-stream with a stalled peer: a proxy passes the target's answers and
#    the source's first megabyte, then reads nothing more, so the sender
#    blocks in a write. It still ends within its grace; the receiver, given
#    the signal too, leaves nothing behind.
recv_bg -i tcp://127.0.0.1:0
wait_port port
proxy "$(cat port)" port2 $((1 << 20)) -1 stall
ppid=$proxy_pid
tb "$send" "${psk[@]}" "${mem[@]}" -t target.cert -o "tcp://127.0.0.1:$(cat port2)" --timeout 30 \
  2>send.err &
spid=$!
wait_port port2.stalled
sleep 0.5 # the socket buffers fill; the sender blocks in write
stop "$spid" TERM 143 "sender on a stalled peer"
grep -q 'interrupted by a signal; the migration was cancelled' send.err ||
  fail "stalled peer: $(cat send.err)"
stop "$rpid" TERM 143 "receiver of a stalled source"
kill "$ppid" 2>/dev/null || true; wait "$ppid" 2>/dev/null || true
clean "mid-stream"

# 5. Mid-stream on a pipe nobody reads.
{ "$send" "${psk[@]}" "${mem[@]}" -t target.cert 2>send.err & echo $! >spid; wait; } | sleep 30 &
pipeline=$!
for i in $(seq 50); do [ -s spid ] && break; sleep 0.1; done
sleep 0.5
spid=$(cat spid)
kill -TERM "$spid"
for i in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$spid" 2>/dev/null || { kill -KILL "$spid"; fail "sender on a full pipe: still running"; }
kill "$pipeline" 2>/dev/null || true
wait "$pipeline" 2>/dev/null || true
grep -q 'interrupted by a signal' send.err || fail "full pipe: $(cat send.err)"

# 6. A sender waiting for COMMIT that never comes: a proxy passes the
#    target's HELLO (68 bytes) back, and nothing after it.
recv_bg -i tcp://127.0.0.1:0
wait_port port
proxy "$(cat port)" port2 -1 68 cut # HELLO is 68 bytes
ppid=$proxy_pid
tb "$send" "${psk[@]}" "${mem[@]}" -t target.cert -o "tcp://127.0.0.1:$(cat port2)" --timeout 30 \
  2>send.err &
spid=$!
wait "$rpid" || fail "the receiver behind the proxy: $(cat recv.err)"
sleep 0.3 # the sender waits for COMMIT now
stop "$spid" TERM 143 "sender waiting for COMMIT"
grep -q 'interrupted' send.err || fail "waiting for COMMIT: $(cat send.err)"
kill "$ppid" 2>/dev/null || true; wait "$ppid" 2>/dev/null || true
echo "signals: all passed"
