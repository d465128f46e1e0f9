#!/usr/bin/env bash
# The shared library exports exactly the functions the public headers declare
# with SEVMIG_API: nothing internal leaks, nothing declared is missing.
set -eu
lib=$1; inc=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRW]$/ {print $3}' | sed 's/@.*//' | sort -u)
declared=$(cat "$inc"/sevmig/*.h | tr '\n' ' ' | grep -o 'SEVMIG_API[^;{]*(' |
           sed 's/($//' | grep -o 'sevmig_[a-z0-9_]*$' | sort -u)
bad=0
leaked=$(comm -23 <(echo "$exported") <(echo "$declared"))
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
if [ -n "$leaked" ]; then echo "exported but not declared public:"; echo "$leaked"; bad=1; fi
if [ -n "$missing" ]; then echo "declared SEVMIG_API but not exported:"; echo "$missing"; bad=1; fi
[ $bad = 0 ] && echo "exports match the headers: $(echo "$exported" | wc -l) symbols"
exit $bad
