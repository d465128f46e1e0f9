#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine, as an operator does it: install
# what is missing, build the tools, make a synthetic 256 MiB SEV guest (two
# memslots around an MMIO hole; a DMA bounce buffer, virtio rings, per-vCPU
# GHCB pages and a framebuffer shared; zero, compressible and random pages),
# make the target's platform key and a CA with a certificate per host,
# migrate the guest over TLS 1.3 on loopback with a progress bar and JSON
# summaries, check that its memory and page state arrived identical, send it
# once more into a file under a pre-shared key and verify that offline; then,
# where /dev/kvm is usable, migrate a real running guest live
# (examples/live_kvm.c).
# SEVMIG_BUILD_DIR overrides the build directory (default: build/).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
"$src/tests/deps.sh"
build=${SEVMIG_BUILD_DIR:-$src/build}
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target sevmig-dump sevmig-send sevmig-recv example_synthetic_guest \
  example_live_kvm >/dev/null
bin=$build/cli
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir "$work/source" "$work/target"
pretty() { if command -v python3 >/dev/null; then python3 -m json.tool; else cat; fi; }

echo "== the source: a synthetic 256 MiB guest"
# One memory-backend file; the generator prints its memslots as GPA:SIZE:FILE:OFFSET.
mapfile -t slots < <("$build/examples/example_synthetic_guest" --size 256 --vcpus 4 \
                       "$work/source")
send_mem=() recv_mem=()
for s in "${slots[@]}"; do
  echo "  memslot $s"
  send_mem+=(--memory "$s")
  recv_mem+=(--memory "${s/\/source\/guest.mem:/\/target\/guest.mem:}")
done
"$bin/sevmig-dump" show "$work/source/guest.pst"

echo "== keys: the target's PDH key pair (its certificate goes to the source)"
"$bin/sevmig-recv" --gen-pdh --pdh-key "$work/target/pdh.key" --pdh-cert "$work/target/pdh.cert"
echo "== certificates: a CA and one certificate per host, for TLS 1.3 between them"
pki=$work/pki
mkdir "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/ca.key" \
  -out "$pki/ca.crt" -subj /CN=demo-ca -days 1 2>/dev/null
for h in source target; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/$h.key" \
    -out "$pki/$h.csr" -subj "/CN=$h" 2>/dev/null
  printf 'subjectAltName=DNS:%s,IP:127.0.0.1\n' "$h" >"$pki/$h.ext"
  openssl x509 -req -in "$pki/$h.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
    -CAcreateserial -out "$pki/$h.crt" -days 1 -extfile "$pki/$h.ext" 2>/dev/null
  echo "  $h: $(openssl x509 -in "$pki/$h.crt" -noout -subject -ext subjectAltName | tr '\n' ' ')"
done

echo "== migrate over TLS on loopback (the stream key comes from the TLS session)"
# The target listens on a port of the system's choosing and says which.
"$bin/sevmig-recv" --pdh-key "$work/target/pdh.key" "${recv_mem[@]}" \
  --pstate-out "$work/target/guest.pst" -i tls://127.0.0.1:0 --port-file "$work/port" \
  --tls-cert "$pki/target.crt" --tls-key "$pki/target.key" --tls-ca "$pki/ca.crt" \
  --tls-peer-name source --progress none --json=pretty >"$work/recv.json" &
recv_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || { echo "sevmig-recv did not start listening" >&2; exit 1; }
# --progress bar draws a line (percentage, rate, ETA, round) even when
# standard error is not a terminal, as here in a log.
if ! "$bin/sevmig-send" "${send_mem[@]}" --pstate "$work/source/guest.pst" \
       --target-pdh "$work/target/pdh.cert" -o "tls://127.0.0.1:$(cat "$work/port")" \
       --tls-cert "$pki/source.crt" --tls-key "$pki/source.key" --tls-ca "$pki/ca.crt" \
       --tls-peer-name target --progress bar --json=pretty >"$work/send.json"; then
  wait "$recv_pid" || true
  exit 1
fi
echo
wait "$recv_pid"
echo "-- the source's summary (sevmig.migration/1, docs/json.md)"; cat "$work/send.json"
echo "-- the target's summary"; cat "$work/recv.json"
echo "-- what a script reads from it"
python3 - "$work/send.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print("  delivery:", s.get("delivery"), "| schema:", s.get("schema"))
PY

echo "== verification: memory and page state arrived identical"
cmp "$work/source/guest.mem" "$work/target/guest.mem"
echo "memory: identical ($(stat -c %s "$work/target/guest.mem") bytes)"
"$bin/sevmig-dump" diff "$work/source/guest.pst" "$work/target/guest.pst"
"$bin/sevmig-dump" show --ranges "$work/target/guest.pst" | sed -n '1,12p'

echo "== offline: the same guest into a file under a pre-shared key, verified with the target's key"
"$bin/sevmig-recv" --gen-psk "$work/target/stream.psk"
cp -p "$work/target/stream.psk" "$work/source/stream.psk"
"$bin/sevmig-send" "${send_mem[@]}" --pstate "$work/source/guest.pst" \
  --target-pdh "$work/target/pdh.cert" --psk "$work/source/stream.psk" -q \
  -o "$work/guest.stream"
"$bin/sevmig-dump" stream --psk "$work/target/stream.psk" "$work/guest.stream" | sed -n '1,8p'
echo "   ..."
"$bin/sevmig-dump" verify --psk "$work/target/stream.psk" --pdh-key "$work/target/pdh.key" \
  "$work/guest.stream"

echo "== a real guest, live, on /dev/kvm (where it is usable)"
rc=0
"$build/examples/example_live_kvm" || rc=$?
if [ "$rc" = 77 ]; then
  echo "(skipped: no usable /dev/kvm on this machine)"
elif [ "$rc" != 0 ]; then
  exit "$rc"
fi
