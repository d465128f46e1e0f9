#!/usr/bin/env bash
# A listener outlives the connections that fail before they authenticate:
# garbage, an idle peer, one trickling a byte at a time, a whole stream
# under another key. Each is dropped with a line naming its address, within
# --auth-timeout, into fresh temporaries; then the real source migrates.
# --max-attempts bounds the connections; a signal ends the wait at once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
head -c $((4 << 20)) /dev/urandom >guest.mem
t "$recv" --gen-pdh --pdh-key target.key --pdh-cert target.cert
"$recv" --gen-psk other.psk

# peer.py MODE PORT: connect and misbehave until the receiver hangs up;
# print how many seconds that took.
cat >peer.py <<'EOF'
import os, socket, sys, time
mode, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=30)
t0 = time.monotonic()
try:
    if mode == "garbage":
        s.sendall(os.urandom(65536))
    while True:
        if mode == "trickle":
            s.sendall(b"\x89")
            time.sleep(0.25)
        elif not s.recv(65536):
            break
except (ConnectionError, socket.timeout):
    pass
print("%.1f" % (time.monotonic() - t0))
EOF

start_recv() { # ARGS...: a listener in the background, its port in ./port
  rm -f port
  tb "$recv" "${psk[@]}" -k target.key -m 0:4M:out.mem -i tcp://127.0.0.1:0 --port-file port \
    --timeout 30 "$@" >recv.json 2>recv.err &
  rpid=$!
  for i in $(seq 100); do [ -s port ] && break; sleep 0.1; done
  [ -s port ] || fail "the receiver did not listen: $(cat recv.err)"
}
no_temporaries() { # WHAT
  if ls | grep -q '\.tmp\.'; then fail "$1: temporaries left: $(ls)"; fi
}
dropped() { # N: so many "dropped" lines so far (the receiver logs a drop
            # after it closed the connection: give it a moment to say so)
  local n
  for i in $(seq 50); do
    n=$(grep -c '^sevmig-recv: dropped the connection from 127\.0\.0\.1:[0-9]* ' recv.err || true)
    [ "$n" -ge "$1" ] && break
    sleep 0.1
  done
  [ "$n" = "$1" ] || fail "expected $1 dropped connections: $(cat recv.err)"
}

# 1. Garbage, silence, a trickle and a stream under another PSK, one after
#    the other; then the source.
start_recv --auth-timeout 2 --max-attempts 6
sec=$(t python3 peer.py garbage "$(cat port)")
dropped 1
no_temporaries "garbage"
sec=$(t python3 peer.py idle "$(cat port)")
awk -v s="$sec" 'BEGIN { exit !(s >= 1.5 && s < 10) }' || fail "idle peer held $sec s"
dropped 2
sec=$(t python3 peer.py trickle "$(cat port)")
awk -v s="$sec" 'BEGIN { exit !(s >= 1.5 && s < 10) }' || fail "trickling peer held $sec s"
dropped 3
grep -q 'no authenticated stream within 2 s (--auth-timeout)' recv.err || fail "idle: $(cat recv.err)"
rc=0
t "$send" --psk other.psk -m 0:4M:guest.mem -t target.cert -o "tcp://127.0.0.1:$(cat port)" \
  --timeout 20 2>send.err || rc=$?
[ "$rc" = 2 ] || fail "a sender under another PSK: exit $rc"
dropped 4
grep -q 'tag does not verify' recv.err || fail "other psk: $(cat recv.err)"
[ ! -e out.mem ] || fail "a dropped connection left an output"
t "$send" "${psk[@]}" -m 0:4M:guest.mem -t target.cert -o "tcp://127.0.0.1:$(cat port)" \
  --timeout 20 --json >send.json 2>send.err || fail "the source after them: $(cat send.err)"
wait "$rpid" || fail "the receiver: $(cat recv.err)"
cmp guest.mem out.mem || fail "memory differs"
grep -q '"delivery":"committed"' send.json || fail "not committed: $(cat send.json)"
no_temporaries "after the source"
dropped 4

# 2. --max-attempts: the last dropped connection ends the run, exit 2.
rm -f out.mem
start_recv --auth-timeout 2 --max-attempts 2
t python3 peer.py garbage "$(cat port)" >/dev/null
t python3 peer.py garbage "$(cat port)" >/dev/null
rc=0; wait "$rpid" || rc=$?
[ "$rc" = 2 ] || fail "max attempts: exit $rc ($(cat recv.err))"
dropped 1
grep -q 'gave up after 2 connections that did not authenticate (--max-attempts)' recv.err ||
  fail "max attempts: $(cat recv.err)"
[ ! -e out.mem ] || fail "max attempts: an output appeared"
no_temporaries "max attempts"

# 3. An authenticated source that fails is the migration failing: no retry.
#    A proxy passes the source's first 300000 bytes, then cuts both ends.
start_recv --auth-timeout 2 --max-attempts 6
proxy "$(cat port)" port2 300000 -1 cut
ppid=$proxy_pid
rc=0
t "$send" "${psk[@]}" -m 0:4M:guest.mem -t target.cert -o "tcp://127.0.0.1:$(cat port2)" \
  --timeout 20 2>send.err || rc=$?
[ "$rc" = 2 ] || fail "cut source: exit $rc"
rc=0; wait "$rpid" || rc=$?
wait "$ppid" || true
[ "$rc" = 2 ] || fail "authenticated failure: exit $rc ($(cat recv.err))"
dropped 0
[ ! -e out.mem ] || fail "authenticated failure: an output appeared"
no_temporaries "authenticated failure"
echo "listener: all passed"
