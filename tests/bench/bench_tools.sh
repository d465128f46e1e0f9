#!/usr/bin/env bash
# bench_tools: the tools end to end against the engine in-process, on one
# guest, in one run.
#
#   bash tests/bench/bench_tools.sh [BUILD_DIR (build)] [GiB... (1 4)]
#
# For each size: bench_stream writes its synthetic guest (50 % zero, 30 %
# text, 20 % private pages; seeded, so the same bytes as its own runs) to a
# scratch folder; then, interleaved rep by rep, each once per rep, best of 3:
#   engine    bench_stream's "send+recv, 2+2 workers" (run 4): both ends in
#             one process, target memory in a memfd
#   pipe      sevmig-send | sevmig-recv --memory-dir, 2 threads each
#   tcp       the same over loopback TCP (HELLO, ACKs, COMMIT)
# all at zstd level 1 over the software firmware with a pre-shared key. The
# tools' times include everything an operator waits for: start-up, the
# target's files made durable (fsync) and renamed. Prints each time, the
# ratio to the engine (goal: at most 1.25), the median of each rep's own
# ratio, and seconds per GiB (goal: flat from 1 to 4 GiB). Scratch space:
# $TMPDIR (twice the largest guest).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
shift || true
sizes=("${@:-1 4}")
read -r -a sizes <<<"${sizes[*]}"
reps=3
send=$build/cli/sevmig-send recv=$build/cli/sevmig-recv bench=$build/tests/bench_stream
for b in "$send" "$recv" "$bench"; do
  [ -x "$b" ] || { echo "bench_tools: $b is missing (build first)" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/bench_tools.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
"$recv" --gen-psk psk
"$recv" --psk psk --gen-pdh --pdh-key t.key --pdh-cert t.cert

now() { date +%s.%N; }
best() { # best of the numbers on stdin
  sort -g | head -1
}
median() { # of the numbers on stdin
  sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratios() { # $1[i] / $2[i], one per line
  local -n num=$1 den=$2
  for i in "${!num[@]}"; do echo "${num[$i]} / ${den[$i]}" | bc -l; done
}

run_pipe() {
  rm -rf out out.pst
  local t0; t0=$(now)
  "$send" --psk psk -m 0:"$1"G:guest.mem -p guest.pst -t t.cert -z 1 -q |
    "$recv" --psk psk -k t.key -d out -s out.pst -q
  echo "$(now) - $t0" | bc -l
}

run_tcp() {
  rm -rf out out.pst port
  local t0; t0=$(now)
  "$recv" --psk psk -k t.key -d out -s out.pst -q -i tcp://127.0.0.1:0 --port-file port &
  local rpid=$!
  while [ ! -s port ]; do sleep 0.005; done
  local p; p=$(cat port)
  "$send" --psk psk -m 0:"$1"G:guest.mem -p guest.pst -t t.cert -z 1 -q \
    -o "tcp://127.0.0.1:$p"
  wait "$rpid"
  echo "$(now) - $t0" | bc -l
}

run_engine() { # once, like each tool: each side's best is of $reps tries
  "$bench" "$1" 1 4 1 | awk '/^run 4:/ { print $3 }'
}

printf '%-6s %10s %10s %10s %8s %8s %10s %10s %9s %9s\n' GiB "engine s" "pipe s" "tcp s" \
  "pipe/eng" "tcp/eng" "pipe s/GiB" "tcp s/GiB" "pipe med" "tcp med"
for g in "${sizes[@]}"; do
  "$bench" "$g" --write-guest "$work"
  e=() p=() t=()
  for _ in $(seq $reps); do
    e+=("$(run_engine "$g")")
    p+=("$(run_pipe "$g")")
    cmp -s out/slot0-0x0.mem guest.mem || { echo "bench_tools: pipe: target differs" >&2; exit 1; }
    t+=("$(run_tcp "$g")")
    cmp -s out/slot0-0x0.mem guest.mem || { echo "bench_tools: tcp: target differs" >&2; exit 1; }
  done
  be=$(printf '%s\n' "${e[@]}" | best)
  bp=$(printf '%s\n' "${p[@]}" | best)
  bt=$(printf '%s\n' "${t[@]}" | best)
  printf '%-6s %10.3f %10.3f %10.3f %8.3f %8.3f %10.3f %10.3f %9.3f %9.3f\n' "$g" "$be" "$bp" \
    "$bt" "$(echo "$bp / $be" | bc -l)" "$(echo "$bt / $be" | bc -l)" \
    "$(echo "$bp / $g" | bc -l)" "$(echo "$bt / $g" | bc -l)" \
    "$(ratios p e | median)" "$(ratios t e | median)"
  rm -rf guest.mem out
done
echo "(best of $reps, interleaved; \"med\": the median of each rep's own ratio, the engine and"
echo " the tools back to back, so that a neighbour's load hits both alike;"
echo " goal: pipe and tcp at most 1.25 x engine, s/GiB flat)"
