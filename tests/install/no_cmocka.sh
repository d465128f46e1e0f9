#!/usr/bin/env bash
# Configuring where cmocka is not installed succeeds, with the tests off and
# one line saying why; asking for the tests there fails naming the package.
# cmocka is hidden by a pkg-config search path holding every .pc file of
# this system except cmocka.pc.
# usage: no_cmocka.sh SOURCE_DIR
set -eu
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}
mkdir "$tmp/pc"
IFS=: read -r -a dirs <<<"$(pkg-config --variable pc_path pkg-config)"
for d in "${dirs[@]}" ${PKG_CONFIG_PATH:+${PKG_CONFIG_PATH//:/ }}; do
	for f in "$d"/*.pc; do
		[ -e "$f" ] && [ "${f##*/}" != cmocka.pc ] && [ ! -e "$tmp/pc/${f##*/}" ] &&
			ln -s "$f" "$tmp/pc/"
	done
done
export PKG_CONFIG_LIBDIR=$tmp/pc
unset PKG_CONFIG_PATH
! pkg-config --exists cmocka || fail "cmocka is still visible through $tmp/pc"
pkg-config --exists uuid libzstd || fail "hiding cmocka hid uuid or libzstd too"

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$src" -B "$tmp/b" "${gen[@]}" >"$tmp/log" 2>&1 ||
	fail "configure without cmocka failed: $(cat "$tmp/log")"
n=$(grep -c 'cmocka not found' "$tmp/log") || true
[ "$n" = 1 ] || fail "want one line saying cmocka is missing, got $n: $(cat "$tmp/log")"
grep -q '^SEVMIG_BUILD_TESTS:BOOL=OFF$' "$tmp/b/CMakeCache.txt" || fail "SEVMIG_BUILD_TESTS is not OFF"
test ! -e "$tmp/b/tests" || fail "the tests were configured without cmocka"
# The library, the tools and the install rules are all there.
grep -q 'sevmig-dump' "$tmp/b/cli/cmake_install.cmake" || fail "no install rules for the tools"

# Asked for explicitly, the tests need cmocka, and the error says so.
! cmake -S "$src" -B "$tmp/b2" "${gen[@]}" -DSEVMIG_BUILD_TESTS=ON >"$tmp/log2" 2>&1 ||
	fail "configure with SEVMIG_BUILD_TESTS=ON and no cmocka succeeded"
grep -q 'libcmocka-dev' "$tmp/log2" || fail "the error does not name libcmocka-dev: $(cat "$tmp/log2")"
echo "configure without cmocka ok"
