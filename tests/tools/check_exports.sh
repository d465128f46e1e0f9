#!/usr/bin/env bash
# The shared library exports exactly the functions the public headers declare
# with SEVMIG_API, each by name in the version script and bound to its
# version node: nothing internal leaks, nothing declared is missing.
set -eu
lib=$1; inc=$2; map=${3:-}
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRW]$/ {print $3}' | sed 's/@.*//' | sort -u)
declared=$(cat "$inc"/sevmig/*.h | tr '\n' ' ' | grep -o 'SEVMIG_API[^;{]*(' |
           sed 's/($//' | grep -o 'sevmig_[a-z0-9_]*$' | sort -u)
bad=0
leaked=$(comm -23 <(echo "$exported") <(echo "$declared"))
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
if [ -n "$leaked" ]; then echo "exported but not declared public:"; echo "$leaked"; bad=1; fi
if [ -n "$missing" ]; then echo "declared SEVMIG_API but not exported:"; echo "$missing"; bad=1; fi
if [ -n "$map" ]; then
  listed=$(sed 's,/\*.*\*/,,' "$map" | grep -o '^[[:space:]]*sevmig_[a-z0-9_]*;' | tr -d ' \t;' | sort -u)
  unlisted=$(comm -13 <(echo "$listed") <(echo "$declared"))
  stale=$(comm -23 <(echo "$listed") <(echo "$declared"))
  if [ -n "$unlisted" ]; then echo "declared but not listed by name in $map:"; echo "$unlisted"; bad=1; fi
  if [ -n "$stale" ]; then echo "listed in $map but not declared:"; echo "$stale"; bad=1; fi
  unversioned=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRW]$/ {print $3}' | grep -v '@@*SEVMIG_' || true)
  if [ -n "$unversioned" ]; then echo "exported without a version node:"; echo "$unversioned"; bad=1; fi
fi
[ $bad = 0 ] && echo "exports match the headers and the version script: $(echo "$exported" | wc -l) symbols"
exit $bad
