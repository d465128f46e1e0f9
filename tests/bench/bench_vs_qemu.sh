#!/usr/bin/env bash
# bench_vs_qemu: sevmig-send | sevmig-recv against QEMU's own migration of
# the same memory, side by side in one run.
#
#   bash tests/bench/bench_vs_qemu.sh [BUILD_DIR (build)] [GiB (1)]
#
# The memory: bench_stream's synthetic guest (50 % zero, 30 % text, 20 %
# random pages), written to a file. QEMU (Debian's qemu-system-x86) runs a
# paused guest whose RAM is that file (memory-backend-file, share=on) and
# migrates it to a second QEMU started with -incoming, whose RAM is a new
# file in the same folder, over loopback TCP, with max-bandwidth lifted (its
# default is 32 MiB/s); timed from `migrate` until the source reports
# "completed". sevmig-send sends the same file to sevmig-recv over
# loopback TCP into a new file, timed from start to both tools' exit.
# Both migrations:
#   shared      every page shared (sevmig: zstd level 1) against QEMU over TCP
#   private/tls every page private, over TLS 1.3, against QEMU over TLS
#               (tls-creds-x509) with the same certificates
# Best of 3 each, interleaved; prints MB/s of guest memory and the ratio
# (sevmig over QEMU: above 1 is faster). Exits 77 when QEMU is absent.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
gib=${2:-1}
qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || { echo "bench_vs_qemu: skipped: qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"; exit 77; }
send=$build/cli/sevmig-send recv=$build/cli/sevmig-recv dump=$build/cli/sevmig-dump
bench=$build/tests/bench_stream
work=$(mktemp -d "${TMPDIR:-/tmp}/bench_vs_qemu.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
mib=$((gib * 1024))
bytes=$((mib << 20))
"$bench" "$gib" --write-guest "$work" >/dev/null
printf '0x0-0x%x shared\n' $((bytes / 4096 - 1)) >shared.txt
"$dump" convert shared.txt --to native -o shared.pst
"$recv" --gen-psk psk
"$recv" --psk psk --gen-pdh --pdh-key t.key --pdh-cert t.cert

# One CA, a certificate each for source and target (QEMU's file names).
mkdir pki
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout pki/ca-key.pem \
  -out pki/ca-cert.pem -subj /CN=ca -days 2 2>/dev/null
for h in server client; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "pki/$h-key.pem" \
    -out "pki/$h.csr" -subj "/CN=$h" 2>/dev/null
  printf 'subjectAltName=DNS:%s,IP:127.0.0.1\n' "$h" >"pki/$h.ext"
  openssl x509 -req -in "pki/$h.csr" -CA pki/ca-cert.pem -CAkey pki/ca-key.pem -CAcreateserial \
    -out "pki/$h-cert.pem" -days 2 -extfile "pki/$h.ext" 2>/dev/null
done

now() { date +%s.%N; }
best() { sort -g | head -1; }

# A QMP client: send each command, print the replies' "return" values.
qmp() { # SOCKET COMMAND-JSON...
  python3 - "$@" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
json.loads(f.readline())  # greeting
for cmd in ["{\"execute\": \"qmp_capabilities\"}"] + sys.argv[2:]:
    f.write(cmd + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "event" in r:
            continue
        if "error" in r:
            sys.exit("qmp: %s: %s" % (cmd, r["error"]))
        break
print(json.dumps(r.get("return")))
EOF
}

qemu_vm() { # NAME MEMFILE [EXTRA...]: start a paused guest, QMP at NAME.qmp
  local name=$1 mem=$2; shift 2
  "$qemu" -nodefaults -display none -machine pc -accel tcg -cpu qemu64 -m "${mib}M" -S \
    -object "memory-backend-file,id=ram,size=${mib}M,mem-path=$mem,share=on" \
    -machine memory-backend=ram -qmp "unix:$name.qmp,server=on,wait=off" "$@" \
    >"$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do [ -S "$name.qmp" ] && return 0; sleep 0.05; done
  echo "bench_vs_qemu: QEMU did not start:" >&2; cat "$name.log" >&2; exit 2
}

run_qemu() { # tls|tcp: seconds for the migration
  rm -f src.qmp dst.qmp dst.mem
  local port=$((20000 + RANDOM % 20000)) tls=() stls=() dtls=()
  if [ "$1" = tls ]; then
    stls=(-object "tls-creds-x509,id=tls0,dir=$work/pki,endpoint=client,verify-peer=on")
    dtls=(-object "tls-creds-x509,id=tls0,dir=$work/pki,endpoint=server,verify-peer=on")
    tls=('{"execute": "migrate-set-parameters", "arguments": {"tls-creds": "tls0", "tls-hostname": "server"}}')
  fi
  truncate -s "${mib}M" dst.mem
  qemu_vm src guest.mem "${stls[@]}"
  qemu_vm dst dst.mem "${dtls[@]}" -incoming defer
  local dtlsarg=()
  [ "$1" = tls ] && dtlsarg=('{"execute": "migrate-set-parameters", "arguments": {"tls-creds": "tls0"}}')
  qmp dst.qmp "${dtlsarg[@]}" \
    "{\"execute\": \"migrate-incoming\", \"arguments\": {\"uri\": \"tcp:127.0.0.1:$port\"}}" >/dev/null
  local t0; t0=$(now)
  qmp src.qmp '{"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 1099511627776}}' \
    "${tls[@]}" "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"tcp:127.0.0.1:$port\"}}" >/dev/null
  local st
  while :; do
    st=$(qmp src.qmp '{"execute": "query-migrate"}')
    case $st in
      *'"completed"'*) break ;;
      *'"failed"'* | *'"cancelled"'*) echo "bench_vs_qemu: QEMU migration: $st" >&2; exit 2 ;;
    esac
    sleep 0.01
  done
  local t1; t1=$(now)
  # The source pauses when it completes: the target got every page.
  [ -n "${BENCH_QEMU_DEBUG:-}" ] && echo "$st" >&2
  qmp src.qmp '{"execute": "quit"}' >/dev/null 2>&1 || true
  qmp dst.qmp '{"execute": "quit"}' >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  pids=()
  cmp -s dst.mem guest.mem || { echo "bench_vs_qemu: QEMU's target memory differs" >&2; exit 2; }
  echo "$t1 - $t0" | bc -l
}

run_sevmig() { # tls|tcp: seconds, end to end
  rm -rf out.mem out.pst port
  local key=(--psk psk) pst=(-p shared.pst) scheme=tcp rt=() st=()
  if [ "$1" = tls ]; then
    key=() pst=() scheme=tls
    rt=(--tls-cert pki/server-cert.pem --tls-key pki/server-key.pem --tls-ca pki/ca-cert.pem --tls-peer-name client)
    st=(--tls-cert pki/client-cert.pem --tls-key pki/client-key.pem --tls-ca pki/ca-cert.pem --tls-peer-name server)
  fi
  local t0; t0=$(now)
  "$recv" "${key[@]}" "${rt[@]}" -k t.key -m "0:${mib}M:out.mem" -s out.pst -q \
    -i "$scheme://127.0.0.1:0" --port-file port &
  local rpid=$!
  while [ ! -s port ]; do sleep 0.005; done
  "$send" "${key[@]}" "${st[@]}" -m "0:${mib}M:guest.mem" "${pst[@]}" -t t.cert -z 1 -q \
    -o "$scheme://127.0.0.1:$(cat port)"
  wait "$rpid"
  local t1; t1=$(now)
  cmp -s out.mem guest.mem || { echo "bench_vs_qemu: sevmig's target memory differs" >&2; exit 2; }
  echo "$t1 - $t0" | bc -l
}

declare -A t
for _ in $(seq "${BENCH_REPS:-3}"); do
  t[qtcp]+="$(run_qemu tcp) " t[stcp]+="$(run_sevmig tcp) "
  t[qtls]+="$(run_qemu tls) " t[stls]+="$(run_sevmig tls) "
done
mbs() { echo "$mib * 1.048576 / $1" | bc -l; }
printf '%-34s %10s %10s %10s %10s %8s\n' "$gib GiB guest, loopback" "QEMU s" "QEMU MB/s" \
  "sevmig s" "sevmig MB/s" "ratio"
for k in tcp tls; do
  q=$(tr ' ' '\n' <<<"${t[q$k]}" | grep . | best)
  s=$(tr ' ' '\n' <<<"${t[s$k]}" | grep . | best)
  name="all shared, TCP (QEMU plain TCP)"
  [ $k = tls ] && name="all private, TLS (QEMU tls-creds)"
  printf '%-34s %10.3f %10.0f %10.3f %10.0f %8.2f\n' "$name" "$q" "$(mbs "$q")" "$s" \
    "$(mbs "$s")" "$(echo "$q / $s" | bc -l)"
done
echo "(best of ${BENCH_REPS:-3}, interleaved; ratio = sevmig throughput over QEMU's; goal >= 1)"
