# Sourced by the tool tests (not a test itself): the tools' paths, a scratch
# directory removed on exit, and bounded waits (every command gets at most a
# minute, so a hung peer fails the test instead of hanging CI).
bin=${SEVMIG_BIN:?SEVMIG_BIN is the directory of the tools}
send=$bin/sevmig-send recv=$bin/sevmig-recv dump=$bin/sevmig-dump
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
t() { timeout --preserve-status -k 5 60 "$@"; }
tb() { exec timeout --preserve-status -k 5 60 "$@"; } # for `tb CMD &`: $! is CMD's
fail() { echo "FAIL: $*" >&2; exit 1; }
# status CMD...: run it with stdout in ./out and stderr in ./err; print its exit status.
status() { local rc=0; "$@" >out 2>err || rc=$?; echo "$rc"; }
# Every migration is keyed: one pre-shared key for the test's source and target.
"$recv" --gen-psk "$work/psk" || fail "sevmig-recv --gen-psk"
psk=(--psk "$work/psk")

# proxy UPPORT PORTFILE UP DOWN THEN: a TCP proxy in the background (its pid
# in $proxy_pid, its port in PORTFILE) between a source that connects to it
# and the target at UPPORT. It passes UP bytes source -> target and DOWN
# bytes target -> source (-1: all), drops the rest of the target's answers,
# then, with THEN "cut", closes both ends, or with "stall" writes
# PORTFILE.stalled and reads nothing more.
proxy() {
  cat >proxy.py <<'EOF'
import socket, sys, threading, time
up, portfile, upn, downn, then = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
open(portfile, "w").write("%d\n" % l.getsockname()[1])
l.settimeout(30)
a, _ = l.accept()
b = socket.create_connection(("127.0.0.1", up), timeout=30)
def back():
    left = downn
    try:
        while (d := b.recv(65536)):
            if left < 0 or left > 0:
                k = len(d) if left < 0 else min(left, len(d))
                a.sendall(d[:k])
                left -= k if left > 0 else 0
    except OSError:
        pass
threading.Thread(target=back, daemon=True).start()
left = upn
try:
    while left != 0 and (d := a.recv(65536 if left < 0 else min(left, 65536))):
        b.sendall(d)
        left -= len(d) if left > 0 else 0
except OSError:
    pass
if then == "stall":
    open(portfile + ".stalled", "w").write("1\n")
    time.sleep(30)
b.close(); a.close()
EOF
  rm -f "$2" "$2.stalled"
  timeout --preserve-status -k 5 60 python3 proxy.py "$@" &
  proxy_pid=$!
  for i in $(seq 100); do [ -s "$2" ] && break; sleep 0.1; done
  [ -s "$2" ] || fail "the proxy did not listen"
}

# build_shim: compile ./shim.c (read from stdin) into ./shim.so for
# LD_PRELOAD, or skip the test where no compiler can. A sanitizer runtime
# wants to be first; the shim does not interpose on it.
build_shim() {
  cat >shim.c
  ${CC:-cc} -shared -fPIC -o shim.so shim.c -ldl 2>cc.err || {
    echo "SKIP: cannot build the preload shim: $(head -1 cc.err)"; exit 77; }
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
}
