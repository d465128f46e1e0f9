#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine: install what is missing, build
# the tools, and show page-state tracking through sevmig-dump: a guest with
# two memslots around an MMIO hole, a DMA bounce buffer and per-vCPU GHCB
# pages shared, then the guest's next snapshot compared with the first.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
"$src/tests/deps.sh"
build=$src/build
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target sevmig-dump >/dev/null
dump=$build/cli/sevmig-dump
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# A 4 GiB guest: 0-3 GiB, MMIO hole, 4-5 GiB. 64 MiB bounce buffer at 1 GiB,
# one GHCB page per vCPU for 4 vCPUs just below 3 GiB.
cat > "$work/before.txt" <<'TXT'
# gfn ranges, inclusive
0x0-0x3ffff private
0x40000-0x43fff shared
0x44000-0xbfffb private
0xbfffc-0xbffff shared
0x100000-0x13ffff private
TXT
"$dump" convert "$work/before.txt" --to native -o "$work/before.pst"
echo "== snapshot 1"
"$dump" show "$work/before.pst"
# The guest shares a virtio ring and makes one GHCB page private again.
sed -e 's/^0xbfffc-0xbffff shared/0xbfffc-0xbfffe shared\n0xbffff-0xbffff private/' \
    -e 's/^0x100000-0x13ffff private/0x100000-0x1000ff private\n0x100100-0x100103 shared\n0x100104-0x13ffff private/' \
    "$work/before.txt" > "$work/after.txt"
"$dump" convert "$work/after.txt" --to native --zstd-level 3 -o "$work/after.pst" 2>/dev/null ||
  "$dump" convert "$work/after.txt" --to native -o "$work/after.pst"
echo "== snapshot 2, canonical ranges"
"$dump" show --ranges "$work/after.pst"
echo "== what changed between the snapshots"
"$dump" diff "$work/before.pst" "$work/after.pst" || [ $? -eq 1 ]
echo "== the same facts as JSON"
"$dump" show --json "$work/after.pst"
