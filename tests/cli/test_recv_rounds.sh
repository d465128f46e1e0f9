#!/usr/bin/env bash
# sevmig-recv on a stream with pre-copy rounds, as a VMM sends one: pages
# rewritten, zeroed, refilled and flipped between private and shared in
# later rounds must end up as the source last had them, whatever the order
# the receiver's workers and writes finish in (1 to 8 workers, a file or a
# pipe, --memory-dir or -m).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
rounds=${SEVMIG_ROUNDS_STREAM:?SEVMIG_ROUNDS_STREAM is the rounds_stream helper}
seed=${SEVMIG_TEST_SEED:-$(( (RANDOM << 15 | RANDOM) ))}
echo "seed $seed (SEVMIG_TEST_SEED=$seed to repeat)"
t "$recv" --gen-pdh --pdh-key target.key --pdh-cert target.cert
# 8192 pages (32 MiB), five rounds
t "$rounds" "$seed" 8192 5 target.cert "$work/psk" stream.bin final.mem ||
  fail "rounds_stream could not make the stream"
for threads in 1 2 8; do
  rm -rf out
  t "$recv" "${psk[@]}" -k target.key --memory-dir out -s out.pst -i stream.bin -q -T "$threads" ||
    fail "-T $threads: sevmig-recv failed"
  cmp out/slot0-0x0.mem final.mem || fail "-T $threads: the target is not the source's last memory"
done
rm -rf out
t "$recv" "${psk[@]}" -k target.key -m 0:32M:copy.mem -q <stream.bin ||
  fail "from a pipe into -m: sevmig-recv failed"
cmp copy.mem final.mem || fail "from a pipe into -m: the target is not the source's last memory"
echo "rounds: the target is the source's last memory with 1, 2 and 8 workers, from a file and a pipe"
