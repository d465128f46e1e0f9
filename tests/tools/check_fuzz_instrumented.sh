#!/usr/bin/env bash
# In a fuzz build (SEVMIG_FUZZ), the library itself carries libFuzzer's
# coverage instrumentation and AddressSanitizer, not only the fuzz targets:
# every object of libsevmig.a that has code calls into SanitizerCoverage,
# the stream reader's object among them, and a fuzz target links the
# library's instrumented code together with libFuzzer's driver.
# Usage: check_fuzz_instrumented.sh libsevmig.a fuzz-target-binary
set -eu
lib=$1; fuzzer=$2
# __sanitizer_cov_8bit_counters_init (inline counters, clang's default for
# -fsanitize=fuzzer-no-link) or __sanitizer_cov_trace_pc_guard (older clang).
cov='__sanitizer_cov_(8bit_counters_init|trace_pc_guard)'
bad=0

# nm -A prints "archive:member: value type symbol" for each symbol.
syms=$(nm -A "$lib" 2>/dev/null)
members=$(ar t "$lib")
total=0; instrumented=0
for m in $members; do
  mine=$(grep -F "$lib:$m:" <<<"$syms" || true)
  # An object without a function of its own (kvm_other_arch.c on x86-64:
  # only the sanitizers' module constructors) needs no coverage counters.
  grep -E ' [Tt] ' <<<"$mine" | grep -qvE ' (asan|sancov)\.module_(ctor|dtor)' || continue
  total=$((total + 1))
  if grep -qE " U $cov\$" <<<"$mine"; then
    instrumented=$((instrumented + 1))
  else
    echo "not instrumented for coverage: $m"; bad=1
  fi
done
[ "$total" -gt 0 ] || { echo "no objects with code in $lib"; exit 1; }

reader=$(grep -F "$lib:reader.c.o:" <<<"$syms" || true)
if [ -z "$reader" ]; then
  echo "no reader.c.o (lib/stream/reader.c) in $lib"; bad=1
else
  grep -qE " U $cov\$" <<<"$reader" || { echo "reader.c.o lacks SanitizerCoverage calls"; bad=1; }
  grep -qE ' U __asan_' <<<"$reader" || { echo "reader.c.o lacks AddressSanitizer checks"; bad=1; }
fi

# The linked target: libFuzzer's driver, and the library's code in it with
# its counters registered (the 8-bit counters live in __sancov_cntrs).
fsyms=$(nm "$fuzzer")
grep -qE ' T LLVMFuzzerRunDriver$' <<<"$fsyms" || { echo "$fuzzer: no libFuzzer driver"; bad=1; }
grep -qE ' T sevmig_[a-z0-9_]+$' <<<"$fsyms" || { echo "$fuzzer: no library code linked"; bad=1; }
if ! objdump -h "$fuzzer" | grep -qE '__sancov_(cntrs|guards)'; then
  echo "$fuzzer: no SanitizerCoverage counters section"; bad=1
fi

[ $bad = 0 ] && echo "library instrumented: $instrumented of $total objects with code call SanitizerCoverage; reader.c.o has coverage and ASan; $(basename "$fuzzer") links libFuzzer"
exit $bad
