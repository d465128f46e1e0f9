#!/usr/bin/env bash
# Every public header compiles on its own, as strict ISO C11 and as C++.
set -eu
inc=$1; geninc=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
for h in "$inc"/sevmig/*.h; do
  name=sevmig/$(basename "$h")
  printf '#include <%s>\n#include <%s>\nint main(void) { return 0; }\n' "$name" "$name" > "$tmp/t.c"
  if ! cc -std=c11 -pedantic -Wall -Wextra -Werror -I"$inc" -I"$geninc" -c "$tmp/t.c" -o "$tmp/t.o" 2>"$tmp/err"; then
    echo "FAIL (C11): $name"; cat "$tmp/err"; fail=1
  fi
  cp "$tmp/t.c" "$tmp/t.cpp"
  if command -v c++ >/dev/null; then
    if ! c++ -std=c++11 -pedantic -Wall -Wextra -Werror -I"$inc" -I"$geninc" -c "$tmp/t.cpp" -o "$tmp/t.o" 2>"$tmp/err"; then
      echo "FAIL (C++): $name"; cat "$tmp/err"; fail=1
    fi
  fi
done
[ $fail = 0 ] && echo "all public headers compile standalone"
exit $fail
