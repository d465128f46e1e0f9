#!/usr/bin/env bash
# The whole test suite, as CI runs it: install missing build dependencies,
# build with warnings as errors and run every test; then the same again in
# the AddressSanitizer + UndefinedBehaviorSanitizer build; then, with clang,
# build everything optimised with warnings as errors (clang warns where gcc
# does not), build the libFuzzer targets over an instrumented library and fuzz each for
# SEVMIG_FUZZ_SECONDS (default 30) seconds (tests/fuzz/run_fuzzers.sh,
# docs/fuzzing.md). Ends with the suites' summaries, the fuzz phase's last.
# Build trees: build/, build-asan/, build-clang/ and build-fuzz/ in the source tree.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
"$src/tests/deps.sh"
jobs=$(nproc)

run_suite() {
  local dir=$1; shift
  echo "== configure $dir ($*)"
  cmake -S "$src" -B "$src/$dir" -G Ninja -DSEVMIG_WERROR=ON "$@" >/dev/null
  echo "== build $dir"
  cmake --build "$src/$dir" -j "$jobs"
  echo "== test $dir"
  ctest --test-dir "$src/$dir" --output-on-failure -j "$jobs"
}

status=0
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo || status=1
run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DSEVMIG_SANITIZE=ON || status=1
if command -v clang >/dev/null; then
  echo "== configure build-clang (CC=clang, -DCMAKE_BUILD_TYPE=Release)"
  CC=clang cmake -S "$src" -B "$src/build-clang" -G Ninja -DSEVMIG_WERROR=ON \
    -DCMAKE_BUILD_TYPE=Release >/dev/null || status=1
  echo "== build build-clang"
  cmake --build "$src/build-clang" -j "$jobs" || status=1
fi
bash "$src/tests/fuzz/run_fuzzers.sh" || status=1
exit $status
