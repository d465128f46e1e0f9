#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine: install what is missing, build
# the tools, make a synthetic 256 MiB SEV guest (two memslots around an MMIO
# hole; a DMA bounce buffer, virtio rings, per-vCPU GHCB pages and a
# framebuffer shared; zero, compressible and random pages) and a target
# platform key, migrate the guest with `sevmig-send | sevmig-recv`, and check
# that its memory and page state arrived identical; then, where /dev/kvm is
# usable, migrate a real running guest live (examples/live_kvm.c).
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

echo "== the target: a PDH key pair (the certificate goes to the source)"
"$bin/sevmig-recv" --gen-pdh --pdh-key "$work/target/pdh.key" --pdh-cert "$work/target/pdh.cert"
echo "== the stream key both hosts share (0600; copied to the source)"
"$bin/sevmig-recv" --gen-psk "$work/target/stream.psk"
cp -p "$work/target/stream.psk" "$work/source/stream.psk"

echo "== sevmig-send | sevmig-recv"
if ! "$bin/sevmig-send" "${send_mem[@]}" --pstate "$work/source/guest.pst" \
       --target-pdh "$work/target/pdh.cert" --psk "$work/source/stream.psk" \
       --json 2>"$work/send.json" |
     tee "$work/guest.stream" |
     "$bin/sevmig-recv" --pdh-key "$work/target/pdh.key" --psk "$work/target/stream.psk" \
       "${recv_mem[@]}" \
       --pstate-out "$work/target/guest.pst" --json >"$work/recv.json"; then
  cat "$work/send.json" >&2
  exit 1
fi
echo "-- sender";   pretty <"$work/send.json"
echo "-- receiver"; pretty <"$work/recv.json"

echo "== memory and page state arrived identical"
cmp "$work/source/guest.mem" "$work/target/guest.mem"
echo "memory: identical ($(stat -c %s "$work/target/guest.mem") bytes)"
"$bin/sevmig-dump" diff "$work/source/guest.pst" "$work/target/guest.pst"
echo "== the received page state"
"$bin/sevmig-dump" show --ranges "$work/target/guest.pst"

echo "== the stream on the wire, checked again with the target's key"
"$bin/sevmig-dump" stream --psk "$work/target/stream.psk" "$work/guest.stream" | sed -n '1,14p'
echo "   ..."
"$bin/sevmig-dump" stream --psk "$work/target/stream.psk" "$work/guest.stream" | tail -n 3
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
