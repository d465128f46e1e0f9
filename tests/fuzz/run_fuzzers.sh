#!/usr/bin/env bash
# Build every libFuzzer target (tests/fuzz/fuzz_*.c) with clang, the library
# instrumented beneath them and everything under ASan + UBSan, prove the
# instrumentation (ctest fuzz_instrumented), then fuzz each target for
# SEVMIG_FUZZ_SECONDS (default 30) seconds, seeded with a copy of its corpus
# tests/fuzz/corpus/<name>/. Any crash, leak, timeout or out-of-memory fails
# the run and prints the input that caused it. Prints each target's final
# coverage (cov: edges, ft: features) and ends with "fuzz: N passed, N failed".
# Skips, saying so, when clang or its sanitizer runtimes are missing.
#
# Build tree: build-fuzz/ in the source tree (SEVMIG_FUZZ_BUILD to change).
# Scratch corpora, logs and crashing inputs: <build>/fuzz-run/<name>/.
# Run alone: bash tests/fuzz/run_fuzzers.sh   (tests/run.sh calls it last)
set -uo pipefail
# In braces: bash reads all of it before running, so editing the file
# during a run cannot change what runs.
{
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${SEVMIG_FUZZ_BUILD:-$src/build-fuzz}
seconds=${SEVMIG_FUZZ_SECONDS:-30}
cc=${SEVMIG_FUZZ_CC:-clang}
jobs=$(nproc)

skip() {
  echo "fuzz: skipped: $* (Debian: apt-get install clang libclang-rt-dev)"
  exit 0
}
case $seconds in
  0) echo "fuzz: skipped: SEVMIG_FUZZ_SECONDS=0"; exit 0 ;;
  *[!0-9]* | '') echo "fuzz: SEVMIG_FUZZ_SECONDS must be a number of seconds, not '$seconds'"; exit 1 ;;
esac
command -v "$cc" >/dev/null || skip "$cc not found"
# The compiler alone is not enough: libFuzzer and the sanitizer runtimes are
# a package of their own (libclang-rt-dev).
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
  'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
  'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
  >"$probe/p.c"
"$cc" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err" ||
  skip "$cc cannot link -fsanitize=fuzzer,address,undefined: $(head -n 1 "$probe/err")"

targets=()
for f in "$src"/tests/fuzz/fuzz_*.c; do
  [ -e "$f" ] && targets+=("$(basename "$f" .c)")
done
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets in tests/fuzz/"; exit 1; }

echo "== configure ${build#"$src"/} (CC=$cc, SEVMIG_FUZZ)"
CC=$cc cmake -S "$src" -B "$build" -G Ninja -DSEVMIG_FUZZ=ON -DSEVMIG_WERROR=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || { echo "fuzz: 0 passed, ${#targets[@]} failed"; exit 1; }
echo "== build ${build#"$src"/} (fuzzers: ${targets[*]})"
cmake --build "$build" -j "$jobs" --target fuzzers || { echo "fuzz: 0 passed, ${#targets[@]} failed"; exit 1; }
echo "== check the library is instrumented"
ctest --test-dir "$build" -R '^fuzz_instrumented$' --output-on-failure ||
  { echo "fuzz: 0 passed, ${#targets[@]} failed"; exit 1; }

# Leaks are findings too; UBSan reports with a stack. libFuzzer turns
# sanitizer reports, timeouts (-timeout) and RSS over -rss_limit_mb into
# a non-zero exit and writes the input to its -artifact_prefix.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
run=$build/fuzz-run
rm -rf "$run"
passed=0; failed=0
echo "== fuzz ${#targets[@]} targets, ${seconds} s each"
for name in "${targets[@]}"; do
  bin=$build/tests/$name
  dir=$run/$name
  mkdir -p "$dir/corpus" "$dir/artifacts"
  # A copy: what the fuzzer adds to its corpus never lands in the tree.
  if [ -d "$src/tests/fuzz/corpus/$name" ]; then
    cp -R "$src/tests/fuzz/corpus/$name/." "$dir/corpus/"
  else
    echo "$name: no corpus tests/fuzz/corpus/$name/, starting empty"
  fi
  seeds=$(find "$dir/corpus" -type f | wc -l)
  start=$SECONDS
  "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "$dir/corpus" \
    >"$dir/log" 2>&1
  rc=$?
  took=$((SECONDS - start))
  # libFuzzer's last status line: "#N DONE cov: E ft: F corp: ...".
  last=$(grep -E '^#[0-9]+.* cov: [0-9]+ ft: [0-9]+' "$dir/log" | tail -n 1)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  execs=$(sed -nE 's/^stat::number_of_executed_units: ([0-9]+)/\1/p' "$dir/log")
  corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$last")
  seed=$(sed -nE 's/^INFO: Seed: ([0-9]+)$/\1/p' "$dir/log" | head -n 1)
  found=$(find "$dir/artifacts" -type f | sort)
  if [ $rc -eq 0 ] && [ -z "$found" ] && [ -n "$cov" ]; then
    passed=$((passed + 1))
    printf '%s: ok, cov: %s ft: %s, %s runs in %s s, corpus %s -> %s, seed %s\n' \
      "$name" "$cov" "$ft" "${execs:-?}" "$took" "$seeds" "${corp:-?}" "${seed:-?}"
  else
    failed=$((failed + 1))
    printf '%s: FAILED (exit %s) after %s s, cov: %s ft: %s, seed %s\n' \
      "$name" "$rc" "$took" "${cov:-?}" "${ft:-?}" "${seed:-?}"
    # The sanitizer's or libFuzzer's report, then the input to reproduce it.
    # (its first lines: the error, the invariant or UBSan message, the stack)
    sed -nE '/invariant|runtime error|ERROR: /,/SUMMARY: /p' "$dir/log" |
      grep -vE '^[[:space:]]*$' | head -n 30 | sed 's/^/  | /'
    echo "  log: $dir/log"
    if [ -n "$found" ]; then
      while read -r a; do
        echo "  crashing input: $a"
        echo "  reproduce: $bin $a"
        # CI's tree goes away: small inputs go into the log too.
        [ "$(stat -c %s "$a")" -le 4096 ] && echo "  input (base64): $(base64 -w 0 "$a")"
      done <<<"$found"
    else
      echo "  no input was written (the log says why)"
    fi
  fi
done
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, corpora and logs in ${run#"$src"/}/"
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
exit
}
